/* core/respond.c: rules → incidents → action runs, on the loop thread; plus the operator
 * endpoints. The incident engine has no I/O of its own: this file is its effects table
 * (journal, dispatch through guards, one libevent timer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "kr/cluster.h"
#include "kr/cluster_policy.h"
#include "kr/err.h"
#include "kr/event.h"
#include "kr/http.h"
#include "kr/incident.h"
#include "kr/log.h"
#include "kr/respond.h"
#include "kr/rules.h"
#include "kr/units.h"

#define MAX_LISTENERS 8

struct kr_respond {
    kr_daemon_t *d;
    kr_ruleset_t *rules;         /* active set (one reference held here) */
    kr_incidents_t *incidents;
    kr_runs_t *runs;
    struct event *timer;
    int paused;                  /* by the API (journaled); the pause file is checked live */
    int replaying;
    struct { kr_incident_listener_fn fn; void *arg; } listeners[MAX_LISTENERS];
    int nlisteners;
};

/* ---- effects of the incident engine ---- */

static void tell_listeners(kr_respond_t *r, const json_t *rec)
{
    const char *id = json_string_value(json_object_get(rec, "incident"));
    const kr_incident_t *inc = id ? kr_incidents_find(r->incidents, id) : NULL;
    if (!inc || !r->nlisteners)
        return;
    json_t *j = kr_respond_incident_json(r, id);
    const char *from = json_string_value(json_object_get(rec, "from"));
    const char *to = json_string_value(json_object_get(rec, "to"));
    for (int i = 0; j && i < r->nlisteners; i++)
        r->listeners[i].fn(j, from, to, r->listeners[i].arg);
    json_decref(j);
}

static int fx_journal(const json_t *record, void *arg)
{
    kr_respond_t *r = arg;
    json_t *rec = json_deep_copy(record);
    int rc = rec ? kr_journal_append(r->d->journal, rec, NULL, NULL, NULL) : KR_ENOMEM;
    const char *kind = json_string_value(json_object_get(record, "record"));
    if (kind && strcmp(kind, "incident.state") == 0) {
        char labels[64];
        snprintf(labels, sizeof labels, "state=\"%s\"", json_string_value(json_object_get(record, "to")));
        kr_metrics_add(r->d->metrics, KR_M_incident_transitions_total, labels, 1);
        tell_listeners(r, record);
    } else if (kind && strcmp(kind, "incident.open") == 0) {
        kr_metrics_add(r->d->metrics, KR_M_incident_transitions_total, "state=\"pending\"", 1);
    }
    json_decref(rec);
    return rc;
}

static int pause_file_present(const kr_respond_t *r)
{
    return r->d->cfg->pause_file && access(r->d->cfg->pause_file, F_OK) == 0;
}

int kr_respond_paused(kr_respond_t *r) { return r->paused || pause_file_present(r); }

/* ---- guards: Kafka-changing actions per target within a window ---- */

/* The targets of an action: each broker it names (params.brokers), else the event's
 * broker, else the cluster (or "fleet"). Written as "cluster/broker" strings. */
static json_t *action_targets(const json_t *params, const json_t *event)
{
    json_t *out = json_array();
    const char *cluster = json_string_value(json_object_get(event, "cluster"));
    json_t *brokers = json_object_get(params, "brokers"), *b;
    size_t i;
    char buf[160];
    json_array_foreach(brokers, i, b) {
        if (json_is_integer(b))
            snprintf(buf, sizeof buf, "%s/broker %lld", cluster ? cluster : "-", (long long)json_integer_value(b));
        else if (json_is_string(b))
            snprintf(buf, sizeof buf, "%s/broker %s", cluster ? cluster : "-", json_string_value(b));
        else
            continue;
        json_array_append_new(out, json_string(buf));
    }
    if (!json_array_size(out)) {
        json_t *eb = json_object_get(json_object_get(event, "broker"), "id");
        if (json_is_integer(eb))
            snprintf(buf, sizeof buf, "%s/broker %lld", cluster ? cluster : "-", (long long)json_integer_value(eb));
        else
            snprintf(buf, sizeof buf, "cluster %s", cluster ? cluster : "(none)");
        json_array_append_new(out, json_string(buf));
    }
    return out;
}

typedef struct {
    const json_t *targets;
    int64_t since;
    int count;
    const char *hit;
} rate_t;

static int rate_cb(const kr_run_t *run, void *arg)
{
    rate_t *r = arg;
    const kr_action_kind_t *k = kr_action_kind_find(kr_run_kind(run));
    kr_run_state_t st = kr_run_state(run);
    if (!k || !k->kafka_changing || st == KR_RUN_SKIPPED || kr_run_dry_run(run) ||
        kr_run_created_ms(run) < r->since)
        return 0;
    json_t *theirs = action_targets(kr_run_params(run), kr_run_event(run));
    size_t i, j;
    json_t *a, *b;
    json_array_foreach(r->targets, i, a)
        json_array_foreach(theirs, j, b)
            if (json_equal(a, b)) {
                r->count++;
                r->hit = json_string_value(a);
                json_decref(theirs);
                return 0;
            }
    json_decref(theirs);
    return 0;
}

/* Returns 1 and fills reason if the action would pass guards.max_actions_per_target. */
static int rate_limited(kr_respond_t *r, const json_t *params, const json_t *event, char *reason, size_t len)
{
    json_t *targets = action_targets(params, event);
    rate_t rt = { targets, kr_now_ms() - r->d->cfg->guard_window_ms, 0, NULL };
    kr_runs_foreach(r->runs, rate_cb, &rt);
    int limited = rt.count >= r->d->cfg->guard_max_actions;
    if (limited) {
        char win[32];
        snprintf(reason, len, "rate limit: %s already had %d Kafka-changing actions within %s (guards.max_actions_per_target)",
                 rt.hit, rt.count, kr_duration_format(r->d->cfg->guard_window_ms, win, sizeof win));
    }
    json_decref(targets);
    return limited;
}

/* ---- guard: too many brokers of the cluster down ---- */

static int count_down(const kr_broker_info_t *b, void *arg)
{
    if (!b->alive)
        json_array_append_new(arg, json_integer(b->id));
    return 0;
}

/* The blast-radius guard for every Kafka-changing action (evacuate and drain_stack also
 * check it before each batch): when more brokers of the event's cluster are down than
 * pause_when_brokers_down allows, this is an AZ outage or a partition of kresponder, not a
 * broker fault: skip, say why, and emit a guard.paused event (journaled, matchable). */
static int brokers_down_guard(kr_respond_t *r, const char *kind, const json_t *event, const char *incident_id,
                              char *reason, size_t len)
{
    const char *name = json_string_value(json_object_get(event, "cluster"));
    kr_cluster_t *c = name && r->d->clusters ? kr_clusters_find(r->d->clusters, name) : NULL;
    kr_cluster_guards_t g;
    json_t *down;
    int tripped = 0;
    if (!c || !(down = json_array()))
        return 0;
    kr_cluster_guards(c, &g);
    kr_cluster_foreach_broker(c, count_down, down);
    if ((int)json_array_size(down) > g.pause_when_brokers_down) {
        char *ids = json_dumps(down, JSON_COMPACT), id[300];
        snprintf(reason, len,
                 "guard pause_when_brokers_down: %zu brokers of cluster %s are down (%s), more than the %d allowed; "
                 "would have run %s", json_array_size(down), name, ids ? ids : "?", g.pause_when_brokers_down, kind);
        free(ids);
        snprintf(id, sizeof id, "kresponder:guard:%s:%s:%s:%lld", name, incident_id, kind, (long long)kr_now_ms());
        json_t *ev = kr_event_new(id, "kresponder", "guard.paused", "firing", kr_now_ms());
        if (ev) {
            json_object_set_new(ev, "cluster", json_string(name));
            json_object_set_new(ev, "guard", json_pack("{s:s,s:O,s:s,s:s,s:s}", "name", "pause_when_brokers_down",
                                                       "down", down, "message", reason, "incident", incident_id,
                                                       "action", kind));
            json_t *list = json_pack("[o]", ev);
            if (list)
                kr_daemon_accept(r->d, list, NULL, NULL);
            json_decref(list);
        }
        tripped = 1;
    }
    json_decref(down);
    return tripped;
}

static int fx_dispatch(const kr_dispatch_t *dp, void *arg)
{
    kr_respond_t *r = arg;
    const kr_action_kind_t *k = kr_action_kind_find(dp->kind);
    const char *incident_id = kr_incident_id(dp->incident);
    const json_t *params = dp->params;
    int dry = dp->dry_run || r->d->cfg->dry_run ||
              (json_is_object(params) && json_is_true(json_object_get(params, "dry_run")));
    char reason[600], labels[160];
    const char *skip = NULL;

    if (k && k->kafka_changing && kr_respond_paused(r)) {
        char *p = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(reason, sizeof reason, "paused (%s): would have run %s %s",
                 r->paused ? "POST /v1/pause" : "pause file", dp->kind, p ? p : "");
        free(p);
        skip = reason;
    } else if (k && k->kafka_changing && !dry && strcmp(dp->kind, "evacuate") != 0 &&
               strcmp(dp->kind, "drain_stack") != 0 && /* they check it before planning and each batch */
               /* a Streams mark must still be made and its owners paged in a large outage;
                * its reset waits for the owners to stop the app first */
               strcmp(dp->kind, "mark_streams_reset") != 0 &&
               brokers_down_guard(r, dp->kind, kr_incident_first_event(dp->incident), incident_id, reason,
                                  sizeof reason)) {
        KR_WARN("guard", "msg=\"action skipped\" incident=%s kind=%s reason=\"%s\"", incident_id, dp->kind, reason);
        skip = reason;
    } else if (k && k->kafka_changing && !dry &&
               rate_limited(r, params, kr_incident_first_event(dp->incident), reason, sizeof reason)) {
        KR_WARN("guard", "msg=\"action skipped\" incident=%s kind=%s reason=\"%s\"", incident_id, dp->kind, reason);
        skip = reason;
    }
    kr_run_t *run = kr_runs_start(r->runs, incident_id, dp->index, dp->kind, params,
                                  kr_incident_first_event(dp->incident), dry, skip);
    snprintf(labels, sizeof labels, "kind=\"%s\",result=\"%s\"", dp->kind,
             run ? kr_run_state_name(kr_run_state(run)) : "error");
    kr_metrics_add(r->d->metrics, KR_M_actions_total, labels, 1);
    return run ? KR_OK : KR_ENOMEM;
}

static void fx_schedule(int64_t at_ms, void *arg);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_respond_t *r = arg;
    (void)fd;
    (void)what;
    kr_incidents_on_timer(r->incidents, kr_now_ms());
    /* The loop's clock and the wall clock differ by a little: a timer may wake just before
     * the deadline, find nothing due, and the engine (which only reports changes) would
     * not ask again. Always re-arm from the engine's own view. */
    fx_schedule(kr_incidents_next_timer(r->incidents), r);
}

static void fx_schedule(int64_t at_ms, void *arg)
{
    kr_respond_t *r = arg;
    evtimer_del(r->timer);
    if (at_ms < 0 || r->replaying)
        return;
    int64_t delay = at_ms - kr_now_ms() + 1;
    if (delay < 0)
        delay = 0;
    struct timeval tv = { (time_t)(delay / 1000), (suseconds_t)((delay % 1000) * 1000) };
    evtimer_add(r->timer, &tv);
}

/* ---- rules ---- */

static int receiver_known(const kr_config_t *cfg, const char *name)
{
    size_t i;
    json_t *rc;
    json_array_foreach(cfg->receivers, i, rc)
        if (json_is_string(json_object_get(rc, "name")) &&
            strcmp(json_string_value(json_object_get(rc, "name")), name) == 0)
            return 1;
    return 0;
}

int kr_respond_check_receivers(const kr_config_t *cfg, const kr_ruleset_t *rs, char *err, size_t errlen)
{
    for (size_t i = 0; rs && i < kr_ruleset_count(rs); i++) {
        const kr_rule_t *rule = kr_ruleset_rule(rs, i);
        for (size_t a = 0; a < kr_rule_nactions(rule); a++) {
            if (strcmp(kr_rule_action_kind(rule, a), "page") != 0)
                continue;
            json_t *to = json_object_get(kr_rule_action_params(rule, a), "to"), *one;
            json_t *list = json_is_string(to) ? json_pack("[O]", to) : json_incref(to);
            size_t k;
            json_array_foreach(list, k, one) {
                const char *name = json_string_value(one);
                if (name && !strstr(name, "{{") && !receiver_known(cfg, name)) {
                    kr_seterr(err, errlen, KR_EINVAL,
                              "%s:%d: rule %s: page to \"%s\": no such receiver in the config's receivers",
                              kr_rule_file(rule), kr_rule_line(rule), kr_rule_name(rule), name);
                    json_decref(list);
                    return KR_EINVAL;
                }
            }
            json_decref(list);
        }
    }
    return KR_OK;
}

static int load_rules(kr_respond_t *r, kr_ruleset_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!r->d->cfg->rules_dir)
        return KR_OK;
    kr_ruleset_t *rs = kr_ruleset_load(r->d->cfg->rules_dir, err, errlen);
    if (!rs)
        return KR_EINVAL;
    if (kr_respond_check_receivers(r->d->cfg, rs, err, errlen) != KR_OK) {
        kr_ruleset_decref(rs);
        return KR_EINVAL;
    }
    *out = rs;
    return KR_OK;
}

int kr_respond_reload(kr_respond_t *r, char *err, size_t errlen)
{
    kr_ruleset_t *rs = NULL;
    int rc = load_rules(r, &rs, err, errlen);
    if (rc != KR_OK) {
        kr_metrics_add(r->d->metrics, KR_M_rule_reloads_total, "result=\"failed\"", 1);
        KR_ERROR("rules", "msg=\"reload failed; the previous rules stay\" errors=\"%s\"", err);
        return rc;
    }
    kr_ruleset_decref(r->rules);
    r->rules = rs;
    kr_incidents_set_ruleset(r->incidents, rs);
    kr_metrics_add(r->d->metrics, KR_M_rule_reloads_total, "result=\"ok\"", 1);
    KR_INFO("rules", "msg=\"rules reloaded\" rules=%zu files=%zu", rs ? kr_ruleset_count(rs) : 0,
            rs ? kr_ruleset_nfiles(rs) : 0);
    return KR_OK;
}

/* ---- API ---- */

static int admin_ok(kr_daemon_t *d, struct evhttp_request *req, const char *endpoint)
{
    if (!d->cfg->admin_token) {
        kr_http_reply_error(d, req, endpoint, 403, "admin.token is not configured; operator endpoints are disabled");
        return 0;
    }
    if (!kr_http_bearer_ok(req, d->cfg->admin_token)) {
        kr_metrics_add(d->metrics, KR_M_auth_failures_total, "endpoint=\"admin\"", 1);
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
        kr_http_reply_error(d, req, endpoint, 401, "missing or wrong bearer token");
        return 0;
    }
    return 1;
}

json_t *kr_respond_incident_json(kr_respond_t *r, const char *id)
{
    const kr_incident_t *inc = kr_incidents_find(r->incidents, id);
    if (!inc)
        return NULL;
    json_t *j = kr_incident_to_json(inc);
    json_t *runs = kr_runs_incident_json(r->runs, id);
    if (j && runs && json_array_size(runs))
        json_object_set(j, "actions", runs);
    json_decref(runs);
    return j;
}

static void incidents_list(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    kr_respond_t *r = d->respond;
    struct evkeyvalq q;
    int open_only = 0;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    (void)rest;
    if (query && evhttp_parse_query_str(query, &q) == 0) {
        const char *o = evhttp_find_header(&q, "open");
        open_only = o && (strcmp(o, "1") == 0 || strcmp(o, "true") == 0);
        evhttp_clear_headers(&q);
    }
    json_t *list = kr_incidents_to_json(r->incidents, open_only);
    size_t i;
    json_t *inc;
    json_array_foreach(list, i, inc) {
        json_t *runs = kr_runs_incident_json(r->runs, json_string_value(json_object_get(inc, "id")));
        if (runs && json_array_size(runs))
            json_object_set(inc, "actions", runs);
        json_decref(runs);
    }
    kr_http_reply_json(d, req, "/v1/incidents", 200, list);
}

/* /v1/incidents/{id} (GET) and /v1/incidents/{id}/cancel (POST) */
static void incident_one(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    kr_respond_t *r = d->respond;
    char id[64];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    enum evhttp_cmd_type m = evhttp_request_get_command(req);

    if (n == 0 || n >= sizeof id) {
        kr_http_reply_error(d, req, "/v1/incidents/{id}", 404, "no such incident");
        return;
    }
    memcpy(id, rest, n);
    id[n] = 0;
    if (slash && strcmp(slash, "/cancel") == 0) {
        if (m != EVHTTP_REQ_POST) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
            kr_http_reply_error(d, req, "/v1/incidents/{id}/cancel", 405, "use POST to cancel");
            return;
        }
        if (!admin_ok(d, req, "/v1/incidents/{id}/cancel"))
            return;
        int rc = kr_incidents_cancel(r->incidents, id, kr_now_ms());
        if (rc == KR_ENOTFOUND) {
            kr_http_reply_error(d, req, "/v1/incidents/{id}/cancel", 404, "no such incident: %s", id);
            return;
        }
        int runs = kr_runs_cancel_incident(r->runs, id);
        if (rc == KR_ESTATE && runs == 0) {
            kr_http_reply_error(d, req, "/v1/incidents/{id}/cancel", 409,
                                "incident %s is already closed and has no running action", id);
            return;
        }
        KR_INFO("api", "msg=\"incident cancelled by operator\" id=%s runs_cancelled=%d", id, runs);
        kr_http_reply_json(d, req, "/v1/incidents/{id}/cancel", 200, kr_respond_incident_json(r, id));
        return;
    }
    if (slash || m != EVHTTP_REQ_GET) {
        if (!slash) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
            kr_http_reply_error(d, req, "/v1/incidents/{id}", 405, "use GET");
        } else {
            kr_http_reply_error(d, req, "/v1/incidents/{id}", 404, "no such endpoint: /v1/incidents/%s", rest);
        }
        return;
    }
    json_t *j = kr_respond_incident_json(r, id);
    if (!j) {
        kr_http_reply_error(d, req, "/v1/incidents/{id}", 404, "no such incident: %s", id);
        return;
    }
    kr_http_reply_json(d, req, "/v1/incidents/{id}", 200, j);
}

static void reload_cb(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    char err[8192] = "";
    (void)rest;
    if (!admin_ok(d, req, "/v1/reload"))
        return;
    if (kr_respond_reload(d->respond, err, sizeof err) != KR_OK) {
        kr_http_reply_json(d, req, "/v1/reload", 422,
                           json_pack("{s:s,s:s}", "error", "the new rules do not compile; the previous rules stay", "errors", err));
        return;
    }
    kr_ruleset_t *rs = d->respond->rules;
    kr_http_reply_json(d, req, "/v1/reload", 200,
                       json_pack("{s:I,s:I}", "rules", (json_int_t)(rs ? kr_ruleset_count(rs) : 0),
                                 "files", (json_int_t)(rs ? kr_ruleset_nfiles(rs) : 0)));
}

static void set_paused(kr_respond_t *r, int paused, const char *by)
{
    json_t *rec = json_pack("{s:s,s:b,s:s}", "kind", "pause", "paused", paused, "by", by);
    if (rec)
        kr_journal_append(r->d->journal, rec, NULL, NULL, NULL);
    json_decref(rec);
    r->paused = paused;
    KR_WARN("api", "msg=\"automation %s\" by=%s", paused ? "paused" : "resumed", by);
}

static void pause_cb(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    (void)rest;
    if (!admin_ok(d, req, "/v1/pause"))
        return;
    set_paused(d->respond, 1, "api");
    kr_http_reply_json(d, req, "/v1/pause", 200, json_pack("{s:b}", "paused", 1));
}

static void resume_cb(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    (void)rest;
    if (!admin_ok(d, req, "/v1/resume"))
        return;
    set_paused(d->respond, 0, "api");
    int file = pause_file_present(d->respond);
    json_t *body = json_pack("{s:b}", "paused", file);
    if (file)
        json_object_set_new(body, "reason", json_string("the pause file still exists"));
    kr_http_reply_json(d, req, "/v1/resume", 200, body);
}

/* ---- journal compaction ---- */

static int snapshot_emit(json_t *record, void *arg)
{
    return kr_journal_snapshot_add(arg, record);
}

static int respond_snapshot(kr_journal_snapshot_t *snap, void *arg)
{
    kr_respond_t *r = arg;
    json_t *pause = json_pack("{s:s,s:b,s:s}", "kind", "pause", "paused", r->paused, "by", "snapshot");
    int rc = pause ? kr_journal_snapshot_add(snap, pause) : KR_ENOMEM;
    json_decref(pause);
    if (rc == KR_OK)
        rc = kr_incidents_snapshot(r->incidents, snapshot_emit, snap);
    if (rc == KR_OK)
        rc = kr_runs_snapshot(r->runs, snapshot_emit, snap);
    return rc;
}

/* ---- lifecycle ---- */

kr_respond_t *kr_respond_new(kr_daemon_t *d, char *err, size_t errlen)
{
    kr_respond_t *r = calloc(1, sizeof *r);
    kr_incident_effects_t fx = { fx_journal, fx_dispatch, fx_schedule, NULL };
    if (!r) {
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        return NULL;
    }
    r->d = d;
    fx.arg = r;
    if (load_rules(r, &r->rules, err, errlen) != KR_OK)
        goto fail;
    if (!(r->incidents = kr_incidents_new(&fx, 1000)) || !(r->runs = kr_runs_new(d->journal, d)) ||
        !(r->timer = evtimer_new(d->base, timer_cb, r))) {
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        goto fail;
    }
    if (r->rules)
        kr_incidents_set_ruleset(r->incidents, r->rules);
    if (kr_http_route(d, EVHTTP_REQ_GET, "/v1/incidents", "/v1/incidents", incidents_list) ||
        kr_http_route(d, EVHTTP_REQ_GET | EVHTTP_REQ_POST, "/v1/incidents/", "/v1/incidents/{id}", incident_one) ||
        kr_http_route(d, EVHTTP_REQ_POST, "/v1/reload", "/v1/reload", reload_cb) ||
        kr_http_route(d, EVHTTP_REQ_POST, "/v1/pause", "/v1/pause", pause_cb) ||
        kr_http_route(d, EVHTTP_REQ_POST, "/v1/resume", "/v1/resume", resume_cb)) {
        kr_seterr(err, errlen, KR_EINVAL, "cannot register the incident routes");
        goto fail;
    }
    KR_INFO("rules", "msg=\"rules loaded\" dir=%s rules=%zu files=%zu",
            d->cfg->rules_dir ? d->cfg->rules_dir : "(none)", r->rules ? kr_ruleset_count(r->rules) : 0,
            r->rules ? kr_ruleset_nfiles(r->rules) : 0);
    if (kr_daemon_add_snapshot(d, respond_snapshot, r) != KR_OK) {
        kr_seterr(err, errlen, KR_ENOMEM, "cannot register the snapshot writer");
        goto fail;
    }
    r->replaying = 1;
    return r;
fail:
    kr_respond_free(r);
    return NULL;
}

void kr_respond_free(kr_respond_t *r)
{
    if (!r)
        return;
    if (r->timer)
        event_free(r->timer);
    kr_runs_free(r->runs);
    kr_incidents_free(r->incidents);
    kr_ruleset_decref(r->rules);
    free(r);
}

int kr_respond_replay(kr_respond_t *r, const json_t *rec)
{
    const char *kind = json_string_value(json_object_get(rec, "kind"));
    if (kind && strcmp(kind, "pause") == 0) {
        r->paused = json_is_true(json_object_get(rec, "paused"));
        return KR_OK;
    }
    if (kind && strncmp(kind, "run.", 4) == 0)
        return kr_runs_replay(r->runs, rec);
    if (json_object_get(rec, "record"))
        return kr_incidents_replay(r->incidents, rec);
    return KR_OK;
}

void kr_respond_resume(kr_respond_t *r)
{
    r->replaying = 0;
    kr_runs_resume(r->runs);
    kr_incidents_resume(r->incidents, kr_now_ms());
    /* resume only schedules on change: make sure the timer is armed */
    fx_schedule(kr_incidents_next_timer(r->incidents), r);
    if (r->paused || pause_file_present(r))
        KR_WARN("rules", "msg=\"automation is paused\" by=%s", r->paused ? "api" : "pause file");
}

void kr_respond_event(kr_respond_t *r, const json_t *event)
{
    if (!r->rules)
        return;
    kr_incidents_on_event(r->incidents, r->rules, event, kr_now_ms());
}

void kr_respond_update_metrics(kr_respond_t *r)
{
    size_t counts[KR_INCIDENT_NSTATES] = { 0 };
    for (size_t i = 0; i < kr_incidents_count(r->incidents); i++)
        counts[kr_incident_state(kr_incidents_at(r->incidents, i))]++;
    for (int s = 0; s < KR_INCIDENT_NSTATES; s++) {
        char labels[64];
        snprintf(labels, sizeof labels, "state=\"%s\"", kr_incident_state_name((kr_incident_state_t)s));
        kr_metrics_set(r->d->metrics, KR_M_incidents, labels, (double)counts[s]);
    }
    kr_metrics_set(r->d->metrics, KR_M_rules_loaded, NULL, r->rules ? (double)kr_ruleset_count(r->rules) : 0);
}

kr_runs_t *kr_respond_runs(kr_respond_t *r) { return r->runs; }

int kr_respond_listen(kr_respond_t *r, kr_incident_listener_fn fn, void *arg)
{
    if (r->nlisteners == MAX_LISTENERS)
        return KR_ENOMEM;
    r->listeners[r->nlisteners].fn = fn;
    r->listeners[r->nlisteners].arg = arg;
    r->nlisteners++;
    return KR_OK;
}
