/* actions/page.c: the `page` action: a message to one or more receivers (Slack,
 * PagerDuty, webhook) through the durable outbox (actions/pager.c), and the glue that
 * connects the pager to the daemon's incidents and action runs (kr_pager_start). */
#include <string.h>

#include "kr/action.h"
#include "kr/daemon.h"
#include "kr/err.h"
#include "kr/pager.h"
#include "kr/params.h"
#include "kr/respond.h"
#include "kr/runs.h"

static int page_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "to", "summary", "details", "severity", NULL };
    static const char *const required[] = { "to", NULL };
    static const char *const severities[] = { "critical", "error", "warning", "info", NULL };
    if (kr_params_keys("page", params, doc, allowed, required, err, errlen) ||
        kr_params_strings("page", params, "to", doc, err, errlen) ||
        kr_params_string("page", params, "summary", doc, err, errlen) ||
        kr_params_string("page", params, "details", doc, err, errlen) ||
        kr_params_enum("page", params, "severity", severities, doc, err, errlen))
        return KR_EINVAL;
    return KR_OK;
}

/* Start and resume are one: the pager knows a run it has journaled and never pages twice;
 * the run ends when its messages are delivered (page_done_cb). */
static int page_start(kr_run_t *run, void *ctx, char *err, size_t errlen)
{
    kr_daemon_t *d = ctx;
    if (!d || !d->pager)
        return kr_seterr(err, errlen, KR_ESTATE, "page: the pager is not running");
    return kr_pager_page(d->pager, kr_run_id(run), kr_run_incident_id(run), kr_run_params(run),
                         kr_run_event(run), err, errlen);
}

const kr_action_kind_t kr_action_page = {
    .name = "page",
    .validate = page_validate,
    .kafka_changing = 0,
    .help = "page receivers (Slack, PagerDuty, webhook) with what happened and what is done",
    .start = page_start,
    .resume = page_start,
};

/* ---- glue: the pager's view of the daemon ---- */

static json_t *actions_cb(const char *incident_id, void *arg)
{
    kr_daemon_t *d = arg;
    kr_runs_t *runs = d->respond ? kr_respond_runs(d->respond) : NULL;
    return runs ? kr_runs_incident_json(runs, incident_id) : NULL;
}

static json_t *incident_cb(const char *incident_id, void *arg)
{
    kr_daemon_t *d = arg;
    return d->respond ? kr_respond_incident_json(d->respond, incident_id) : NULL;
}

static void page_done_cb(const char *run_id, int rc, const char *message, void *arg)
{
    kr_daemon_t *d = arg;
    kr_runs_t *runs = d->respond ? kr_respond_runs(d->respond) : NULL;
    kr_run_t *run = runs ? kr_runs_find(runs, run_id) : NULL;
    if (run && kr_run_state(run) == KR_RUN_RUNNING)
        kr_run_finish(run, rc, "%s", message);
}

static void run_cb(kr_run_t *run, int state_changed, void *arg)
{
    kr_daemon_t *d = arg;
    kr_pager_run_changed(d->pager, kr_run_incident_id(run), kr_run_kind(run), kr_run_index(run),
                         kr_run_state_name(kr_run_state(run)), kr_run_message(run), state_changed);
}

static void incident_listener_cb(const json_t *incident, const char *from, const char *to, void *arg)
{
    kr_daemon_t *d = arg;
    kr_pager_incident_changed(d->pager, incident, from, to);
}

static int snapshot_add_cb(json_t *record, void *arg)
{
    return kr_journal_snapshot_add(arg, record);
}

static int snapshot_cb(kr_journal_snapshot_t *snap, void *arg)
{
    return kr_pager_snapshot(arg, snapshot_add_cb, snap);
}

int kr_pager_start(kr_daemon_t *d, char *err, size_t errlen)
{
    kr_pager_hooks_t hooks = { .actions = actions_cb, .incident = incident_cb, .page_done = page_done_cb,
                               .arg = d };
    if (!d->pager)
        return kr_seterr(err, errlen, KR_ESTATE, "the pager was not created");
    kr_pager_set_hooks(d->pager, &hooks);
    if (kr_daemon_add_snapshot(d, snapshot_cb, d->pager) != KR_OK)
        return kr_seterr(err, errlen, KR_ENOMEM, "too many snapshot writers");
    if (d->respond) {
        kr_runs_t *runs = kr_respond_runs(d->respond);
        if ((runs && kr_runs_listen(runs, run_cb, d) != 0) ||
            kr_respond_listen(d->respond, incident_listener_cb, d) != 0)
            return kr_seterr(err, errlen, KR_ENOMEM, "cannot listen to incidents and runs");
    }
    return kr_pager_resume(d->pager, d->journal);
}
