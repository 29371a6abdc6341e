/* intake/intake.c: the webhook endpoints. Each request is validated, authenticated,
 * decoded, handed to kr_daemon_accept and answered 202 once its events are durable.
 *
 * DESIGN: loop thread: header checks (bearer token, EventBridge secret), then the body is
 * copied into a job → for SNS an intake worker (http.workers; kr/workq.h) parses it,
 * checks Type and the TopicArn allow-list, verifies the signature and decodes it: pure
 * work on the job alone and the immutable config (the certificate store is thread-safe);
 * Alertmanager and EventBridge bodies under 16 KiB run the same code inline, larger ones
 * go to a worker too → loop thread: metrics,
 * logs, and the outcome: an error reply, a wait for a signing certificate, the handling
 * of a subscription message, or kr_daemon_accept.
 * When the signing certificate is not cached, the request waits (no thread blocks) on one
 * libcurl fetch per certificate URL shared by every request that needs it, and is
 * verified again (on the loop) when the certificate arrives. A verified
 * SubscriptionConfirmation is confirmed by an async GET of its SubscribeURL. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "kr/cluster.h"
#include "kr/decode.h"
#include "kr/err.h"
#include "kr/http.h"
#include "kr/httpc.h"
#include "kr/intake.h"
#include "kr/log.h"
#include "kr/sns.h"
#include "kr/units.h"
#include "kr/workq.h"

typedef struct sns_wait {
    struct evhttp_request *req;
    json_t *msg;
    struct sns_wait *next;
} sns_wait_t;

typedef struct cert_fetch {
    char *url;
    sns_wait_t *waiting;
    kr_intake_t *in;
    struct cert_fetch *next;
} cert_fetch_t;

struct kr_intake {
    kr_daemon_t *d;
    kr_sns_certs_t *certs;
    kr_httpc_t *httpc;
    cert_fetch_t *fetches;
    kr_workq_t *workers;
    int closing;      /* kr_intake_free: requests still with a worker are refused */
};

/* One request's work for an intake worker: input, then the outcome for the loop. */
enum job_outcome {
    JOB_ACCEPT,       /* events decoded: accept them */
    JOB_ERROR,        /* answer `status` with `err` */
    JOB_NEED_CERT,    /* SNS: fetch need_url, then verify msg again */
    JOB_SNS_OTHER,    /* SNS: a verified subscription message */
};

enum job_failure { FAIL_NONE, FAIL_DECODE, FAIL_AUTH };

typedef struct {
    kr_intake_t *in;
    struct evhttp_request *req;
    const char *endpoint;
    kr_format_t fmt;
    const char *body;
    char *body_copy;  /* owned copy of body for a worker; NULL when run inline */
    size_t len;
    /* outcome */
    enum job_outcome outcome;
    enum job_failure failure;
    int status;
    int log_refused;  /* SNS signature refused: logged at warn */
    int log_topic;    /* topic not allowed: logged at warn */
    char err[512];
    json_t *msg;      /* SNS envelope (JOB_NEED_CERT, JOB_SNS_OTHER), new */
    char *need_url;
    json_t *events;   /* JOB_ACCEPT, new */
} job_t;

#define EP_SNS "/hooks/sns"
#define EP_EB "/hooks/eventbridge"
#define EP_AM "/hooks/alertmanager"
#define INLINE_BODY_MAX (16 * 1024) /* larger Alertmanager/EventBridge bodies go to a worker */

static void count_label(kr_daemon_t *d, kr_metric_t m, const char *endpoint)
{
    char labels[128];
    snprintf(labels, sizeof labels, "endpoint=\"%s\"", endpoint);
    kr_metrics_add(d->metrics, m, labels, 1);
}

/* ---- accepting decoded events ---- */

typedef struct {
    struct evhttp_request *req;
    const char *endpoint;
} reply_t;

static void accepted_cb(kr_daemon_t *d, int rc, const json_t *ids, size_t duplicates, void *arg)
{
    reply_t *r = arg;
    if (rc != KR_OK) {
        kr_http_reply_error(d, r->req, r->endpoint, 503, "journal cannot persist events: %s",
                            kr_journal_error(d->journal));
    } else {
        json_t *body = json_pack("{s:O,s:i}", "ids", ids, "duplicates", (int)duplicates);
        if (json_array_size(ids))
            json_object_set(body, "id", json_array_get(ids, 0));
        kr_http_reply_json(d, r->req, r->endpoint, 202, body);
    }
    free(r);
}

/* Stamps, journals and answers; `events` is borrowed. */
static void accept_events(kr_daemon_t *d, struct evhttp_request *req, const char *endpoint,
                          json_t *events)
{
    char now[32];
    size_t i;
    json_t *ev;
    reply_t *r = calloc(1, sizeof *r);

    if (!r) {
        kr_http_reply_error(d, req, endpoint, 500, "out of memory");
        return;
    }
    kr_time_format(kr_now_ms(), now, sizeof now);
    json_array_foreach(events, i, ev) {
        json_object_set_new(ev, "received", json_string(now));
        /* cluster and broker from the inventory: static map, alarm-name expression, or a
         * live registration with the event's host */
        if (d->clusters)
            kr_clusters_enrich(d->clusters, ev);
    }
    r->req = req;
    r->endpoint = endpoint;
    int rc = kr_daemon_accept(d, events, accepted_cb, r);
    if (rc != KR_OK) {
        free(r);
        kr_http_reply_error(d, req, endpoint, 503, "journal cannot persist events: %s",
                            kr_journal_error(d->journal));
    }
}

static void job_error(job_t *j, enum job_failure failure, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void job_error(job_t *j, enum job_failure failure, int status, const char *fmt, ...)
{
    va_list ap;
    j->outcome = JOB_ERROR;
    j->failure = failure;
    j->status = status;
    va_start(ap, fmt);
    vsnprintf(j->err, sizeof j->err, fmt, ap);
    va_end(ap);
}

/* Worker: parses the body as a JSON object. Returns a new reference or NULL (job_error). */
static json_t *job_parse(job_t *j)
{
    json_error_t jerr;
    json_t *v = json_loadb(j->body, j->len, 0, &jerr);
    if (!v) {
        job_error(j, FAIL_DECODE, 400, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                  jerr.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        job_error(j, FAIL_DECODE, 400, "expected a JSON object");
        json_decref(v);
        return NULL;
    }
    return v;
}

/* Worker: decodes a payload into j->events (JOB_ACCEPT) or a 400. */
static void job_decode(job_t *j, kr_format_t fmt, const json_t *payload)
{
    char err[512];
    json_t *events = json_array();
    if (!events) {
        job_error(j, FAIL_NONE, 500, "out of memory");
        return;
    }
    if (kr_decode(fmt, payload, events, err, sizeof err) < 0) {
        job_error(j, FAIL_DECODE, 400, "%s", err);
        json_decref(events);
        return;
    }
    j->outcome = JOB_ACCEPT;
    j->events = events;
}

/* Loop thread (an SNS message verified after its certificate arrived): decodes and
 * accepts, or answers 400. */
static void decode_and_accept(kr_daemon_t *d, struct evhttp_request *req, const char *endpoint,
                              kr_format_t fmt, const json_t *payload)
{
    job_t j;
    memset(&j, 0, sizeof j);
    job_decode(&j, fmt, payload);
    if (j.outcome == JOB_ACCEPT) {
        accept_events(d, req, endpoint, j.events);
        json_decref(j.events);
        return;
    }
    if (j.failure == FAIL_DECODE)
        count_label(d, KR_M_decode_failures_total, endpoint);
    kr_http_reply_error(d, req, endpoint, j.status, "%s", j.err);
}

/* ---- SNS ---- */

static int topic_allowed(const kr_config_t *cfg, const char *arn)
{
    size_t i;
    json_t *v;
    if (!arn)
        return 0;
    json_array_foreach(cfg->sns_topic_arns, i, v)
        if (strcmp(json_string_value(v), arn) == 0)
            return 1;
    return 0;
}

/* A SubscribeURL must point at SNS itself: https://sns.<region>.amazonaws.com[.cn]/... */
static int subscribe_url_ok(const char *url)
{
    const char *host, *end;
    char h[256];
    if (!url || strncmp(url, "https://", 8) != 0)
        return 0;
    host = url + 8;
    end = host + strcspn(host, "/?#");
    if ((size_t)(end - host) >= sizeof h || memchr(host, '@', (size_t)(end - host)) ||
        memchr(host, ':', (size_t)(end - host)))
        return 0;
    memcpy(h, host, (size_t)(end - host));
    h[end - host] = 0;
    size_t n = strlen(h);
    const char *suffix = n > 18 && strcmp(h + n - 18, ".amazonaws.com.cn") == 0 ? ".amazonaws.com.cn"
                                                                                   : ".amazonaws.com";
    size_t sl = strlen(suffix);
    if (n <= 4 + sl || strncmp(h, "sns.", 4) != 0 || strcmp(h + n - sl, suffix) != 0)
        return 0;
    for (size_t i = 4; i < n - sl; i++) /* region: letters, digits, dashes */
        if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= '0' && h[i] <= '9') || h[i] == '-'))
            return 0;
    return 1;
}

typedef struct {
    kr_daemon_t *d;
    char *topic;
} confirm_t;

static void confirm_done_cb(const kr_http_response_t *resp, void *arg)
{
    confirm_t *c = arg;
    int ok = resp->status >= 200 && resp->status < 300;
    char labels[64];
    snprintf(labels, sizeof labels, "result=\"%s\"", ok ? "ok" : "failed");
    kr_metrics_add(c->d->metrics, KR_M_sns_subscriptions_confirmed_total, labels, 1);
    if (ok)
        KR_INFO("sns", "msg=\"subscription confirmed\" topic=%s", c->topic);
    else
        KR_ERROR("sns", "msg=\"subscription confirmation failed\" topic=%s status=%ld error=\"%s\"",
                 c->topic, resp->status, resp->error ? resp->error : "");
    free(c->topic);
    free(c);
}

static void sns_handle_verified(kr_intake_t *in, struct evhttp_request *req, json_t *msg)
{
    kr_daemon_t *d = in->d;
    const char *type = json_string_value(json_object_get(msg, "Type"));
    const char *topic = json_string_value(json_object_get(msg, "TopicArn"));

    if (strcmp(type, "Notification") == 0) {
        decode_and_accept(d, req, EP_SNS, KR_FMT_SNS, msg);
        return;
    }
    json_t *rec = json_pack("{s:s,s:s,s:s?,s:s?}", "kind", "sns_subscription", "type", type,
                            "topic", topic, "message_id",
                            json_string_value(json_object_get(msg, "MessageId")));
    if (rec)
        kr_journal_append(d->journal, rec, NULL, NULL, NULL);
    json_decref(rec);
    if (strcmp(type, "SubscriptionConfirmation") != 0) {
        KR_INFO("sns", "msg=\"unsubscribe confirmation received; nothing to do\" topic=%s", topic);
        kr_http_reply_json(d, req, EP_SNS, 200, json_pack("{s:s}", "status", "ignored"));
        return;
    }
    const char *url = kr_sns_subscribe_url(msg);
    if (!d->cfg->sns_confirm_subscriptions) {
        KR_WARN("sns", "msg=\"subscription not confirmed (sns.confirm_subscriptions is false)\" topic=%s", topic);
        kr_http_reply_json(d, req, EP_SNS, 200, json_pack("{s:s}", "status", "not confirmed"));
        return;
    }
    if (!url || (d->cfg->sns_verify && !subscribe_url_ok(url))) {
        kr_http_reply_error(d, req, EP_SNS, 400, "SubscribeURL must be https://sns.<region>.amazonaws.com/...");
        return;
    }
    confirm_t *c = calloc(1, sizeof *c);
    kr_http_request_t hr = { .method = "GET", .url = url, .timeout_ms = 15000 };
    if (!c || !(c->topic = strdup(topic ? topic : "")) ||
        kr_httpc_request(in->httpc, &hr, confirm_done_cb, c) != 0) {
        if (c)
            free(c->topic);
        free(c);
        kr_http_reply_error(d, req, EP_SNS, 500, "cannot start the subscription confirmation");
        return;
    }
    c->d = d;
    KR_INFO("sns", "msg=\"confirming subscription\" topic=%s", topic);
    kr_http_reply_json(d, req, EP_SNS, 200, json_pack("{s:s,s:s}", "status", "confirming", "topic", topic));
}

static void sns_verify_and_handle(kr_intake_t *in, struct evhttp_request *req, json_t *msg);

static void cert_fetch_done_cb(const kr_http_response_t *resp, void *arg)
{
    cert_fetch_t *f = arg;
    kr_intake_t *in = f->in;
    kr_daemon_t *d = in->d;
    char err[256] = "", labels[64];
    int transient = 0, ok = 0;

    if (resp->status == 200) {
        int rc = kr_sns_certs_add_pem(in->certs, f->url, resp->body, resp->body_len, err, sizeof err);
        /* KR_EIO: not written to the cert dir, but cached in memory and usable */
        ok = rc == KR_OK || rc == KR_EIO;
        if (rc == KR_EIO)
            KR_WARN("sns", "msg=\"certificate cached in memory only\" error=\"%s\"", err);
    } else if (resp->status == 0 || resp->status == 429 || resp->status >= 500) {
        transient = 1;
        snprintf(err, sizeof err, "%s", resp->error ? resp->error : "server error");
    } else {
        snprintf(err, sizeof err, "HTTP %ld", resp->status);
    }
    snprintf(labels, sizeof labels, "result=\"%s\"", ok ? "ok" : transient ? "retry" : "failed");
    kr_metrics_add(d->metrics, KR_M_sns_certificate_fetches_total, labels, 1);
    if (!ok)
        KR_WARN("sns", "msg=\"cannot fetch signing certificate\" url=\"%s\" error=\"%s\"", f->url, err);
    /* unlink the fetch, then settle every request that waited on it */
    for (cert_fetch_t **pp = &in->fetches; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    sns_wait_t *w = f->waiting;
    while (w) {
        sns_wait_t *next = w->next;
        if (ok)
            sns_verify_and_handle(in, w->req, w->msg);
        else if (transient) /* SNS retries 5xx later */
            kr_http_reply_error(d, w->req, EP_SNS, 503, "signing certificate unavailable: %s", err);
        else {
            count_label(d, KR_M_auth_failures_total, EP_SNS);
            kr_http_reply_error(d, w->req, EP_SNS, 403, "signing certificate unavailable: %s", err);
        }
        json_decref(w->msg);
        free(w);
        w = next;
    }
    free(f->url);
    free(f);
}

static int cert_wait(kr_intake_t *in, const char *url, struct evhttp_request *req, json_t *msg)
{
    cert_fetch_t *f;
    sns_wait_t *w = calloc(1, sizeof *w);
    if (!w)
        return KR_ENOMEM;
    for (f = in->fetches; f; f = f->next)
        if (strcmp(f->url, url) == 0)
            break;
    if (!f) {
        kr_http_request_t hr = { .method = "GET", .url = url, .timeout_ms = 10000, .max_response = 65536 };
        if (!(f = calloc(1, sizeof *f)) || !(f->url = strdup(url))) {
            free(f);
            free(w);
            return KR_ENOMEM;
        }
        f->in = in;
        if (kr_httpc_request(in->httpc, &hr, cert_fetch_done_cb, f) != 0) {
            free(f->url);
            free(f);
            free(w);
            return KR_EIO;
        }
        KR_INFO("sns", "msg=\"fetching signing certificate\" url=\"%s\"", url);
        f->next = in->fetches;
        in->fetches = f;
    }
    w->req = req;
    w->msg = json_incref(msg);
    w->next = f->waiting;
    f->waiting = w;
    return KR_OK;
}

static void sns_verify_and_handle(kr_intake_t *in, struct evhttp_request *req, json_t *msg)
{
    kr_daemon_t *d = in->d;
    char err[512] = "";
    const char *need = NULL;

    if (d->cfg->sns_verify) {
        int rc = kr_sns_verify(msg, in->certs, kr_now_ms() / 1000, d->cfg->sns_max_age_ms / 1000,
                               &need, err, sizeof err);
        if (rc == KR_EAGAIN && need) {
            if (cert_wait(in, need, req, msg) != KR_OK)
                kr_http_reply_error(d, req, EP_SNS, 503, "cannot fetch the signing certificate");
            return;
        }
        if (rc == KR_EINVAL) {
            count_label(d, KR_M_decode_failures_total, EP_SNS);
            kr_http_reply_error(d, req, EP_SNS, 400, "%s", err);
            return;
        }
        if (rc != KR_OK) {
            count_label(d, KR_M_auth_failures_total, EP_SNS);
            KR_WARN("sns", "msg=\"refused\" reason=\"%s\"", err);
            kr_http_reply_error(d, req, EP_SNS, 403, "%s", err);
            return;
        }
    }
    sns_handle_verified(in, req, msg);
}

/* Worker: an SNS body up to a verified message, decoded when it is a Notification. */
static void sns_work(job_t *j)
{
    const kr_config_t *cfg = j->in->d->cfg; /* immutable while the daemon runs */
    json_t *msg = job_parse(j);
    if (!msg)
        return;
    const char *type = json_string_value(json_object_get(msg, "Type"));
    const char *topic = json_string_value(json_object_get(msg, "TopicArn"));
    if (!type || !topic) {
        job_error(j, FAIL_DECODE, 400, "not an SNS message: Type and TopicArn are required");
    } else if (strcmp(type, "Notification") && strcmp(type, "SubscriptionConfirmation") &&
               strcmp(type, "UnsubscribeConfirmation")) {
        job_error(j, FAIL_DECODE, 400, "unknown SNS message Type \"%.64s\"", type);
    } else if (!topic_allowed(cfg, topic)) {
        /* checked before the signature so unknown topics cannot make us fetch anything */
        job_error(j, FAIL_AUTH, 403, "topic %.256s is not in sns.topic_arns", topic);
        j->log_topic = 1;
    } else {
        const char *need = NULL;
        int rc = KR_OK;
        if (cfg->sns_verify)
            rc = kr_sns_verify(msg, j->in->certs, kr_now_ms() / 1000, cfg->sns_max_age_ms / 1000, &need,
                               j->err, sizeof j->err);
        if (rc == KR_EAGAIN && need) {
            j->outcome = JOB_NEED_CERT;
            if (!(j->need_url = strdup(need)))
                job_error(j, FAIL_NONE, 503, "cannot fetch the signing certificate");
            else
                j->msg = json_incref(msg);
        } else if (rc == KR_EINVAL) {
            job_error(j, FAIL_DECODE, 400, "%s", j->err);
        } else if (rc != KR_OK) {
            char reason[sizeof j->err];
            memcpy(reason, j->err, sizeof reason);
            job_error(j, FAIL_AUTH, 403, "%s", reason);
            j->log_refused = 1;
        } else if (strcmp(type, "Notification") == 0) {
            job_decode(j, KR_FMT_SNS, msg);
        } else {
            j->outcome = JOB_SNS_OTHER;
            j->msg = json_incref(msg);
        }
    }
    json_decref(msg);
}

/* ---- EventBridge and Alertmanager ---- */

static void hook_work(job_t *j)
{
    json_t *payload = job_parse(j);
    if (payload)
        job_decode(j, j->fmt, payload);
    json_decref(payload);
}

/* ---- jobs ---- */

static void job_work(void *arg)
{
    job_t *j = arg;
    if (j->fmt == KR_FMT_SNS)
        sns_work(j);
    else
        hook_work(j);
    free(j->body_copy); /* the reply never needs it */
    j->body_copy = NULL;
    j->body = NULL;
}

/* Loop thread: the outcome of a worked job. */
static void job_done(void *arg)
{
    job_t *j = arg;
    kr_intake_t *in = j->in;
    kr_daemon_t *d = in->d;

    if (in->closing) { /* the daemon is being torn down: the sender retries */
        kr_http_reply_error(d, j->req, j->endpoint, 503, "shutting down");
        goto done;
    }
    if (j->failure == FAIL_DECODE)
        count_label(d, KR_M_decode_failures_total, j->endpoint);
    else if (j->failure == FAIL_AUTH)
        count_label(d, KR_M_auth_failures_total, j->endpoint);
    switch (j->outcome) {
    case JOB_ACCEPT:
        accept_events(d, j->req, j->endpoint, j->events);
        break;
    case JOB_ERROR:
        if (j->log_topic)
            KR_WARN("sns", "msg=\"topic not allowed\" reason=\"%s\"", j->err);
        if (j->log_refused)
            KR_WARN("sns", "msg=\"refused\" reason=\"%s\"", j->err);
        kr_http_reply_error(d, j->req, j->endpoint, j->status, "%s", j->err);
        break;
    case JOB_NEED_CERT:
        if (cert_wait(in, j->need_url, j->req, j->msg) != KR_OK)
            kr_http_reply_error(d, j->req, EP_SNS, 503, "cannot fetch the signing certificate");
        break;
    case JOB_SNS_OTHER:
        sns_handle_verified(in, j->req, j->msg);
        break;
    }
done:
    json_decref(j->events);
    json_decref(j->msg);
    free(j->need_url);
    free(j->body_copy);
    free(j);
}

/* Loop thread: hands the request's body to an intake worker, or works it here. */
static void submit(kr_daemon_t *d, struct evhttp_request *req, const char *endpoint, kr_format_t fmt)
{
    size_t len;
    const char *body = kr_http_body(req, &len);
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        kr_http_reply_error(d, req, endpoint, 500, "out of memory");
        return;
    }
    j->body = body;
    j->len = len;
    j->in = d->intake;
    j->req = req;
    j->endpoint = endpoint;
    j->fmt = fmt;
    /* SNS bodies go to a worker: verification (RSA) and the two parses are worth the
     * hand-off. A small Alertmanager or EventBridge body costs less to decode here than
     * the hand-off and the wake-ups (measured: 55-60 vs 63-66 us CPU per request); a
     * large one (an Alertmanager group of many alerts) would hold the loop up. */
    if ((fmt != KR_FMT_SNS && len < INLINE_BODY_MAX) || !kr_workq_threads(d->intake->workers)) {
        job_work(j);
        job_done(j);
        return;
    }
    /* the worker gets its own copy: the request's buffer belongs to the loop */
    if ((j->body_copy = malloc(len ? len : 1)) != NULL) {
        memcpy(j->body_copy, body, len);
        j->body = j->body_copy;
        if (kr_workq_submit(d->intake->workers, job_work, job_done, j) == KR_OK)
            return;
    }
    free(j->body_copy);
    free(j);
    kr_http_reply_error(d, req, endpoint, 500, "out of memory");
}

static void sns_cb(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    (void)rest;
    submit(d, req, EP_SNS, KR_FMT_SNS);
}


static void eventbridge_cb(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    const char *given = evhttp_find_header(evhttp_request_get_input_headers(req),
                                           d->cfg->eventbridge_header);
    (void)rest;
    if (!d->cfg->eventbridge_secret || !kr_http_secret_equal(given, d->cfg->eventbridge_secret)) {
        count_label(d, KR_M_auth_failures_total, EP_EB);
        kr_http_reply_error(d, req, EP_EB, 401, d->cfg->eventbridge_secret
                                                    ? "missing or wrong %s header"
                                                    : "eventbridge.secret is not configured; refusing %s",
                            d->cfg->eventbridge_header);
        return;
    }
    submit(d, req, EP_EB, KR_FMT_EVENTBRIDGE);
}

static void alertmanager_cb(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    (void)rest;
    if (d->cfg->alertmanager_token && !kr_http_bearer_ok(req, d->cfg->alertmanager_token)) {
        count_label(d, KR_M_auth_failures_total, EP_AM);
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
        kr_http_reply_error(d, req, EP_AM, 401, "missing or wrong bearer token");
        return;
    }
    submit(d, req, EP_AM, KR_FMT_ALERTMANAGER);
}

kr_intake_t *kr_intake_new(kr_daemon_t *d, char *err, size_t errlen)
{
    kr_intake_t *in = calloc(1, sizeof *in);
    if (!in) {
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        return NULL;
    }
    in->d = d;
    if (d->cfg->sns_cert_dir && mkdir(d->cfg->sns_cert_dir, 0750) != 0 && errno != EEXIST)
        KR_WARN("sns", "msg=\"cannot create the certificate directory; certificates stay in memory\" dir=%s error=\"%s\"",
                d->cfg->sns_cert_dir, strerror(errno));
    if (!(in->certs = kr_sns_certs_new(d->cfg->sns_cert_dir)) ||
        !(in->httpc = kr_httpc_new(d->base, err, errlen)) ||
        !(in->workers = kr_workq_new(d->base, (int)d->cfg->http_workers, "intake", err, errlen))) {
        if (!in->certs)
            kr_seterr(err, errlen, KR_ENOMEM, "cannot create the SNS certificate store");
        kr_intake_free(in);
        return NULL;
    }
    if (kr_http_route(d, EVHTTP_REQ_POST, EP_SNS, EP_SNS, sns_cb) ||
        kr_http_route(d, EVHTTP_REQ_POST, EP_EB, EP_EB, eventbridge_cb) ||
        kr_http_route(d, EVHTTP_REQ_POST, EP_AM, EP_AM, alertmanager_cb)) {
        kr_seterr(err, errlen, KR_EINVAL, "cannot register the webhook routes");
        kr_intake_free(in);
        return NULL;
    }
    if (!d->cfg->sns_verify)
        KR_WARN("sns", "msg=\"SNS signature verification is OFF (sns.verify: false)\"");
    if (!json_array_size(d->cfg->sns_topic_arns))
        KR_WARN("sns", "msg=\"sns.topic_arns is empty: every SNS message will be refused\"");
    return in;
}

unsigned long kr_intake_worker_jobs(kr_intake_t *in)
{
    return in && in->workers ? (unsigned long)kr_workq_pending(in->workers) : 0;
}

void kr_intake_free(kr_intake_t *in)
{
    if (!in)
        return;
    /* requests still with a worker are finished (accepted or answered) first; freeing the
     * client then settles each pending fetch (status 0, "cancelled") */
    in->closing = 1;
    kr_workq_free(in->workers);
    kr_httpc_free(in->httpc);
    kr_sns_certs_free(in->certs);
    free(in);
}
