/* core/api.c: /healthz, /readyz, /metrics, /v1/events. */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "kr/api.h"
#include "kr/err.h"
#include "kr/http.h"
#include "kr/intake.h"
#include "kr/log.h"
#include "kr/respond.h"
#include "kr/units.h"

static void healthz(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    (void)rest;
    kr_http_reply_json(d, req, "/healthz", 200, json_pack("{s:s}", "status", "ok"));
}

static void readyz(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    json_t *checks = json_object();
    int ready = 1;
    (void)rest;
    if (!kr_journal_healthy(d->journal)) {
        /* the last write failed: probe with a tiny record, which clears the state once
         * the disk takes writes again */
        json_t *probe = json_pack("{s:s}", "kind", "probe");
        if (probe && kr_journal_append(d->journal, probe, NULL, NULL, NULL) == KR_OK)
            kr_journal_flush(d->journal);
        json_decref(probe);
    }
    if (kr_journal_healthy(d->journal)) {
        json_object_set_new(checks, "journal", json_string("ok"));
    } else {
        ready = 0;
        json_object_set_new(checks, "journal", json_string(kr_journal_error(d->journal)));
    }
    if (kr_clusters_count(d->clusters)) {
        int up;
        json_object_set_new(checks, "zookeeper", kr_clusters_readiness(d->clusters, &up));
        ready &= up;
    }
    kr_http_reply_json(d, req, "/readyz", ready ? 200 : 503,
                       json_pack("{s:b,s:o}", "ready", ready, "checks", checks));
}

static void metrics(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    (void)rest;
    kr_metrics_set(d->metrics, KR_M_journal_healthy, NULL, kr_journal_healthy(d->journal));
    kr_metrics_set(d->metrics, KR_M_journal_fsyncs_total, NULL, (double)kr_journal_fsyncs(d->journal));
    kr_metrics_set(d->metrics, KR_M_intake_worker_jobs, NULL, (double)kr_intake_worker_jobs(d->intake));
    kr_respond_update_metrics(d->respond);
    kr_metrics_set(d->metrics, KR_M_uptime_seconds, NULL, (double)(kr_now_ms() - d->started_ms) / 1000.0);
    char *text = kr_metrics_render(d->metrics);
    if (!text) {
        kr_http_reply_error(d, req, "/metrics", 500, "out of memory");
        return;
    }
    kr_http_reply_text(d, req, "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", text,
                       strlen(text));
    free(text);
}

/* GET /v1/events?limit=N: most recent events, newest first. */
static void events(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    struct evkeyvalq q;
    long limit = 100;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    (void)rest;
    if (query && evhttp_parse_query_str(query, &q) == 0) {
        const char *l = evhttp_find_header(&q, "limit");
        if (l) {
            char *end;
            limit = strtol(l, &end, 10);
            if (*end || limit < 1) {
                evhttp_clear_headers(&q);
                kr_http_reply_error(d, req, "/v1/events", 400, "limit must be a positive integer");
                return;
            }
        }
        evhttp_clear_headers(&q);
    }
    json_t *out = json_array();
    for (size_t i = 0; i < d->recent_count && (long)i < limit; i++) {
        size_t idx = (d->recent_head + d->recent_cap - 1 - i) % d->recent_cap;
        json_array_append(out, d->recent[idx]);
    }
    kr_http_reply_json(d, req, "/v1/events", 200, out);
}

int kr_api_register(kr_daemon_t *d, char *err, size_t errlen)
{
    int rc = 0;
    rc |= kr_http_route(d, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "/healthz", "/healthz", healthz);
    rc |= kr_http_route(d, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "/readyz", "/readyz", readyz);
    rc |= kr_http_route(d, EVHTTP_REQ_GET, "/metrics", "/metrics", metrics);
    rc |= kr_http_route(d, EVHTTP_REQ_GET, "/v1/events", "/v1/events", events);
    return rc ? kr_seterr(err, errlen, KR_EINVAL, "cannot register API routes") : KR_OK;
}

int kr_api_reload(kr_daemon_t *d)
{
    char err[8192];
    return kr_respond_reload(d->respond, err, sizeof err);
}
