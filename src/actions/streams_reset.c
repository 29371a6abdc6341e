/* actions/streams_reset.c: the `mark_streams_reset` action: record that Kafka Streams
 * applications must be reset to a point in time, page their owners, and reset them once
 * their consumer group has no members (the marks live in actions/streams_marks.c); plus
 * the daemon's wiring of the marks: GET /v1/streams-resets and the journal snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "kr/action.h"
#include "kr/cluster.h"
#include "kr/daemon.h"
#include "kr/err.h"
#include "kr/http.h"
#include "kr/pager.h"
#include "kr/params.h"
#include "kr/runs.h"
#include "kr/streams_marks.h"
#include "kr/units.h"

/* incident | incident-<duration> | RFC 3339 | earliest | latest */
static int check_reset_point(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, "to");
    int64_t x;
    if (!v)
        return KR_OK;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcmp(s, "incident") || !strcmp(s, "earliest") || !strcmp(s, "latest") ||
            kr_time_parse(s, &x) == 0)
            return KR_OK;
        if (strncmp(s, "incident-", 9) == 0 && kr_duration_parse(s + 9, &x, NULL, 0) == 0)
            return KR_OK;
    }
    return kr_doc_member_errf(doc, params, "to", err, errlen,
                              "mark_streams_reset: to must be incident, incident-<duration> (e.g. incident-10m), an RFC 3339 time, earliest or latest");
}

static int mark_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "apps", "to", "dry_run", NULL };
    static const char *const required[] = { "apps", NULL };
    if (kr_params_keys("mark_streams_reset", params, doc, allowed, required, err, errlen) ||
        kr_params_strings("mark_streams_reset", params, "apps", doc, err, errlen) ||
        check_reset_point(params, doc, err, errlen) ||
        kr_params_bool("mark_streams_reset", params, "dry_run", doc, err, errlen))
        return KR_EINVAL;
    return KR_OK;
}

static int mark_start(kr_run_t *run, void *ctx, char *err, size_t errlen)
{
    kr_daemon_t *d = ctx;
    if (!d || !d->streams)
        return kr_seterr(err, errlen, KR_ESTATE, "Streams reset marks are not set up in this process");
    return kr_streams_marks_start(d->streams, run, err, errlen);
}

static void mark_cancel(kr_run_t *run, void *ctx)
{
    kr_daemon_t *d = ctx;
    if (d && d->streams)
        kr_streams_marks_cancel(d->streams, run);
    else
        kr_run_finish(run, KR_ESTATE, "cancelled by operator");
}

static int mark_resume(kr_run_t *run, void *ctx, char *err, size_t errlen)
{
    kr_daemon_t *d = ctx;
    if (!d || !d->streams)
        return kr_seterr(err, errlen, KR_ESTATE, "Streams reset marks are not set up in this process");
    return kr_streams_marks_resume(d->streams, run, err, errlen);
}

const kr_action_kind_t kr_action_mark_streams_reset = {
    .name = "mark_streams_reset",
    .validate = mark_validate,
    .kafka_changing = 1,
    .help = "mark Streams apps for reset to a point in time; reset them once stopped",
    .start = mark_start,
    .cancel = mark_cancel,
    .resume = mark_resume,
};

/* ---- daemon wiring ---- */

/* POST /v1/streams-resets/{id}/cancel: one app's mark, without cancelling the incident
 * (whose other actions, e.g. an evacuation, go on). */
static void cancel_api(kr_daemon_t *d, struct evhttp_request *req, const char *id)
{
    static const char endpoint[] = "/v1/streams-resets/{id}/cancel";
    char err[300];
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        kr_http_reply_error(d, req, endpoint, 405, "use POST to cancel");
        return;
    }
    if (!d->cfg->admin_token) {
        kr_http_reply_error(d, req, endpoint, 403, "admin.token is not configured; operator endpoints are disabled");
        return;
    }
    if (!kr_http_bearer_ok(req, d->cfg->admin_token)) {
        kr_metrics_add(d->metrics, KR_M_auth_failures_total, "endpoint=\"admin\"", 1);
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
        kr_http_reply_error(d, req, endpoint, 401, "missing or wrong bearer token");
        return;
    }
    int rc = kr_streams_mark_cancel(d->streams, id, err, sizeof err);
    if (rc != KR_OK) {
        kr_http_reply_error(d, req, endpoint, rc == KR_ENOTFOUND ? 404 : 409, "%s", err);
        return;
    }
    kr_http_reply_json(d, req, endpoint, 200, kr_streams_mark_json(d->streams, id));
}

/* GET /v1/streams-resets[?cluster=&app=&state=] and GET /v1/streams-resets/{id} */
static void resets_api(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    size_t rl = rest ? strlen(rest) : 0;
    if (rl > 7 && strcmp(rest + rl - 7, "/cancel") == 0) {
        char id[512];
        snprintf(id, sizeof id, "%.*s", (int)(rl - 7), rest);
        cancel_api(d, req, id);
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        kr_http_reply_error(d, req, "/v1/streams-resets/{id}", 405, "use GET");
        return;
    }
    if (rest && *rest) {
        json_t *one = kr_streams_mark_json(d->streams, rest);
        if (!one)
            kr_http_reply_error(d, req, "/v1/streams-resets/{id}", 404, "no Streams reset mark %s", rest);
        else
            kr_http_reply_json(d, req, "/v1/streams-resets/{id}", 200, one);
        return;
    }
    struct evkeyvalq q;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    const char *cluster = NULL, *app = NULL, *state = NULL;
    int parsed = query && evhttp_parse_query_str(query, &q) == 0;
    if (parsed) {
        cluster = evhttp_find_header(&q, "cluster");
        app = evhttp_find_header(&q, "app");
        state = evhttp_find_header(&q, "state");
    }
    json_t *list = kr_streams_marks_json(d->streams, cluster, app, state);
    if (parsed)
        evhttp_clear_headers(&q);
    if (!list) {
        kr_http_reply_error(d, req, "/v1/streams-resets", 500, "out of memory");
        return;
    }
    kr_http_reply_json(d, req, "/v1/streams-resets", 200, json_pack("{s:o}", "resets", list));
}

static int snapshot_emit(json_t *rec, void *arg)
{
    return kr_journal_snapshot_add(arg, rec);
}

static int snapshot_cb(kr_journal_snapshot_t *snap, void *arg)
{
    kr_daemon_t *d = arg;
    return kr_streams_marks_snapshot(d->streams, snapshot_emit, snap);
}

/* The owners' page goes through the daemon's pager (durable outbox, follow-ups). */
static int page_hook(const char *page_id, const char *incident_id, const json_t *params,
                     const json_t *event, void *arg, char *err, size_t errlen)
{
    kr_daemon_t *d = arg;
    if (!d->pager)
        return kr_seterr(err, errlen, KR_ESTATE, "no pager in this process");
    return kr_pager_page(d->pager, page_id, incident_id, params, event, err, errlen);
}

typedef struct {
    int broker;
    json_t *topics;
} touched_t;

/* Partitions come topic by topic (name order): a topic is added once. */
static int touched_cb(const kr_partition_info_t *p, void *arg)
{
    touched_t *t = arg;
    size_t n = json_array_size(t->topics);
    int hit = p->leader == t->broker;
    for (size_t i = 0; !hit && i < p->n_replicas; i++)
        hit = p->replicas[i] == t->broker;
    if (!hit || (n && strcmp(json_string_value(json_array_get(t->topics, n - 1)), p->topic) == 0))
        return 0;
    return json_array_append_new(t->topics, json_string(p->topic)) ? KR_ENOMEM : 0;
}

/* The topics the lost broker led or held, from the cluster model: its replicas stay in the
 * assignments after it left (only leaders and ISRs move), so "held" is complete even
 * after the controller reacted; a leader not among the replicas cannot exist. */
static json_t *touched_hook(const char *cluster, int broker, void *arg)
{
    kr_daemon_t *d = arg;
    kr_cluster_t *c = d->clusters ? kr_clusters_find(d->clusters, cluster) : NULL;
    touched_t t = { broker, NULL };
    if (!c || !(t.topics = json_array()))
        return NULL;
    if (kr_cluster_foreach_partition(c, touched_cb, &t) != 0) {
        json_decref(t.topics);
        return NULL;
    }
    return t.topics;
}

int kr_streams_daemon_init(struct kr_daemon *d, char *err, size_t errlen)
{
    kr_streams_hooks_t hooks = { .touched_topics = touched_hook, .page = page_hook, .arg = d };
    int rc;
    if ((rc = kr_streams_apps_check(d->cfg, err, errlen)) != KR_OK)
        return rc;
    if (!(d->streams = kr_streams_marks_new(d->base, d->cfg, d->journal, d->metrics)))
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    kr_streams_marks_set_hooks(d->streams, &hooks);
    if (kr_http_route(d, EVHTTP_REQ_GET, "/v1/streams-resets", "/v1/streams-resets", resets_api) ||
        kr_http_route(d, EVHTTP_REQ_GET | EVHTTP_REQ_POST, "/v1/streams-resets/", "/v1/streams-resets/{id}",
                      resets_api))
        return kr_seterr(err, errlen, KR_EINVAL, "cannot register /v1/streams-resets");
    if (kr_daemon_add_snapshot(d, snapshot_cb, d) != KR_OK)
        return kr_seterr(err, errlen, KR_ENOMEM, "too many snapshot writers");
    return KR_OK;
}
