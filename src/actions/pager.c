/* actions/pager.c: the pager (kr/pager.h): receivers from the config, page runs,
 * follow-ups and resolve pages of paged incidents, delivery of outbox messages through
 * kr/httpc.h, and the paging metrics. The outbox state machine is in outbox.c, the
 * message builders in pages.c.
 *
 * DESIGN (loop thread only): kr_pager_page journals pager.page and arms a zero-delay
 * flush; the flush builds the trigger bodies (after the incident dispatched its other
 * actions in the same pass) and hands them to the outbox, which journals outbox.add and,
 * once durable, calls send_cb: an async POST on the loop (httpc); its completion feeds
 * kr_outbox_result. Journal durability arrives on the loop through the journal's waiter
 * callbacks. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "kr/err.h"
#include "kr/event.h"
#include "kr/httpc.h"
#include "kr/log.h"
#include "kr/outbox.h"
#include "kr/pager.h"
#include "kr/units.h"

#define PD_DEFAULT_URL "https://events.pagerduty.com/v2/enqueue"

typedef enum { RCV_SLACK = 0, RCV_PAGERDUTY, RCV_WEBHOOK } rcv_kind_t;
static const char *const rcv_kind_names[] = { "slack", "pagerduty", "webhook" };

typedef struct {
    char *name;
    rcv_kind_t kind;
    char *url;
    char *channel, *mention;      /* slack */
    char *routing_key;            /* pagerduty */
    json_t *severity_map;         /* pagerduty (owned copy) */
    char **headers;               /* webhook: "Name: value", NULL-terminated */
    char *hmac_secret;            /* webhook */
} receiver_t;

/* A page run: its trigger messages and how they went. */
typedef struct run_track {
    char *run, *incident;
    json_t *to;                   /* receiver names */
    int built;                    /* trigger messages handed to the outbox */
    char *failure;                /* first permanent failure, or NULL */
    json_t *content;              /* this page's own {summary, details, severity}: a second
                                   * page of an incident (e.g. a Streams app's owners) says
                                   * its own words in its trigger; follow-ups stay shared */
    struct run_track *next;
} run_track_t;

/* An incident that was paged: who to follow up, with what. */
typedef struct paged {
    char *incident;
    json_t *to;                   /* union of the receivers of its page runs */
    char *summary, *details, *severity;
    json_t *event;                /* first event, without raw */
    json_t *actions;              /* own view of action states when there is no actions hook */
    json_t *updates, *failed;     /* lines since the last follow-up */
    int64_t last_followup_ms;
    int64_t due_ms;               /* follow-up due (-1: none) */
    struct paged *next;
} paged_t;

/* A journal append we wait on; orphaned (p = NULL) when the pager is freed first. */
typedef struct waiter {
    kr_pager_t *p;
    char msg[24];
    struct waiter *prev, *next;
} waiter_t;

/* A delivery attempt in flight. */
typedef struct attempt {
    kr_pager_t *p;
    char msg[24];
} attempt_t;

struct kr_pager {
    struct event_base *base;
    const kr_config_t *cfg;
    kr_metrics_t *metrics;
    kr_journal_t *journal;
    kr_httpc_t *httpc;
    kr_outbox_t *outbox;
    receiver_t *rcv;
    size_t nrcv;
    kr_pager_hooks_t hooks;
    run_track_t *runs;
    paged_t *paged;
    waiter_t *waiters;
    struct event *outbox_timer, *flush_timer, *gauge_timer;
    int closing;
    int resumed;
};

/* ---- receivers: parse and validate ---- */

static void receiver_clear(receiver_t *r)
{
    free(r->name);
    free(r->url);
    free(r->channel);
    free(r->mention);
    free(r->routing_key);
    json_decref(r->severity_map);
    for (size_t i = 0; r->headers && r->headers[i]; i++)
        free(r->headers[i]);
    free(r->headers);
    free(r->hmac_secret);
    memset(r, 0, sizeof *r);
}

static void receivers_free(receiver_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        receiver_clear(&v[i]);
    free(v);
}

static int keys_allowed(const kr_doc_t *doc, const json_t *obj, const char *const *allowed,
                        const char *what, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], key) == 0)
                ok = 1;
        if (!ok) {
            char list[200] = "";
            for (size_t i = 0; allowed[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", allowed[i]);
            return kr_doc_key_errf(doc, obj, key, err, errlen, "%s: unknown key \"%s\" (expected %s)", what,
                                   key, list);
        }
    }
    return KR_OK;
}

static int optional_string(const kr_doc_t *doc, const json_t *obj, const char *key, const char *what,
                           char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return KR_OK;
    if (!json_is_string(v))
        return kr_doc_member_errf(doc, obj, key, err, errlen, "%s.%s must be a string", what, key);
    if (!(*out = strdup(json_string_value(v))))
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    return KR_OK;
}

static int secret(const kr_config_t *cfg, const json_t *obj, const char *key, const char *what,
                  int required, char **out, char *err, size_t errlen)
{
    char full[160];
    snprintf(full, sizeof full, "%s.%s", what, key);
    if (!json_object_get(obj, key) || json_is_null(json_object_get(obj, key))) {
        if (required)
            return kr_doc_errf(cfg->doc, obj, err, errlen, "%s is required", full);
        return KR_OK;
    }
    return kr_config_secret(cfg, obj, key, full, out, err, errlen);
}

static int check_url(const kr_config_t *cfg, const json_t *obj, const char *key, const char *what,
                     const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return kr_doc_member_errf(cfg->doc, obj, key, err, errlen,
                                  "%s.%s must be an http:// or https:// URL", what, key);
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ')
            return kr_doc_member_errf(cfg->doc, obj, key, err, errlen,
                                      "%s.%s must not contain spaces or control characters", what, key);
    return KR_OK;
}

static int is_severity(const char *s)
{
    return s && (!strcmp(s, "critical") || !strcmp(s, "error") || !strcmp(s, "warning") || !strcmp(s, "info"));
}

static int parse_slack(const kr_config_t *cfg, const json_t *o, const char *what, receiver_t *r,
                       char *err, size_t errlen)
{
    static const char *const allowed[] = { "url", "channel", "mention", NULL };
    int rc;
    if ((rc = keys_allowed(cfg->doc, o, allowed, what, err, errlen)) ||
        (rc = secret(cfg, o, "url", what, 1, &r->url, err, errlen)) ||
        (rc = check_url(cfg, o, "url", what, r->url, err, errlen)) ||
        (rc = optional_string(cfg->doc, o, "channel", what, &r->channel, err, errlen)) ||
        (rc = optional_string(cfg->doc, o, "mention", what, &r->mention, err, errlen)))
        return rc;
    return KR_OK;
}

static int parse_pagerduty(const kr_config_t *cfg, const json_t *o, const char *what, receiver_t *r,
                           char *err, size_t errlen)
{
    static const char *const allowed[] = { "url", "routing_key", "severity_map", NULL };
    const json_t *map = json_object_get(o, "severity_map");
    const char *key;
    json_t *v;
    int rc;
    if ((rc = keys_allowed(cfg->doc, o, allowed, what, err, errlen)) ||
        (rc = secret(cfg, o, "url", what, 0, &r->url, err, errlen)) ||
        (rc = secret(cfg, o, "routing_key", what, 1, &r->routing_key, err, errlen)))
        return rc;
    if (!r->url && !(r->url = strdup(PD_DEFAULT_URL)))
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    if (json_object_get(o, "url") && (rc = check_url(cfg, o, "url", what, r->url, err, errlen)))
        return rc;
    if (map && !json_is_null(map)) {
        if (!json_is_object(map))
            return kr_doc_member_errf(cfg->doc, o, "severity_map", err, errlen,
                                      "%s.severity_map must be a map such as {critical: critical, warning: error}", what);
        json_object_foreach((json_t *)map, key, v) {
            if (!is_severity(key))
                return kr_doc_key_errf(cfg->doc, map, key, err, errlen,
                                       "%s.severity_map: \"%s\" is not a page severity (critical, error, warning, info)",
                                       what, key);
            if (!is_severity(json_string_value(v)))
                return kr_doc_member_errf(cfg->doc, map, key, err, errlen,
                                          "%s.severity_map.%s must be a PagerDuty severity: critical, error, warning or info",
                                          what, key);
        }
        r->severity_map = json_deep_copy(map);
    }
    return KR_OK;
}

static int parse_webhook(const kr_config_t *cfg, const json_t *o, const char *what, receiver_t *r,
                         char *err, size_t errlen)
{
    static const char *const allowed[] = { "url", "headers", "hmac_secret", NULL };
    const json_t *hdrs = json_object_get(o, "headers");
    const char *key;
    json_t *v;
    size_t n = 0;
    int rc;
    if ((rc = keys_allowed(cfg->doc, o, allowed, what, err, errlen)) ||
        (rc = secret(cfg, o, "url", what, 1, &r->url, err, errlen)) ||
        (rc = check_url(cfg, o, "url", what, r->url, err, errlen)) ||
        (rc = secret(cfg, o, "hmac_secret", what, 0, &r->hmac_secret, err, errlen)))
        return rc;
    if (hdrs && !json_is_null(hdrs) && !json_is_object(hdrs))
        return kr_doc_member_errf(cfg->doc, o, "headers", err, errlen,
                                  "%s.headers must be a map of header name to value", what);
    if (!(r->headers = calloc(json_object_size(hdrs) + 1, sizeof *r->headers)))
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    json_object_foreach((json_t *)hdrs, key, v) {
        char hwhat[200], *val = NULL;
        int token = *key != 0;
        for (const char *c = key; *c; c++)
            if (!isalnum((unsigned char)*c) && !strchr("!#$%&'*+-.^_`|~", *c))
                token = 0;
        if (!token)
            return kr_doc_key_errf(cfg->doc, hdrs, key, err, errlen, "%s.headers: \"%s\" is not a header name",
                                   what, key);
        if (!strcasecmp(key, "content-type") || !strcasecmp(key, "content-length") ||
            !strcasecmp(key, "host") || !strncasecmp(key, "x-kresponder-", 13))
            return kr_doc_key_errf(cfg->doc, hdrs, key, err, errlen,
                                   "%s.headers: %s is set by kresponder and cannot be configured", what, key);
        snprintf(hwhat, sizeof hwhat, "%s.headers", what);
        if ((rc = kr_config_secret(cfg, hdrs, key, hwhat, &val, err, errlen)))
            return rc;
        if (strpbrk(val, "\r\n")) {
            free(val);
            return kr_doc_member_errf(cfg->doc, hdrs, key, err, errlen,
                                      "%s.headers.%s must not contain a line break", what, key);
        }
        if (asprintf(&r->headers[n], "%s: %s", key, val) < 0) {
            free(val);
            return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        }
        free(val);
        n++;
    }
    return KR_OK;
}

/* Parses cfg->receivers into a new array. */
static int receivers_parse(const kr_config_t *cfg, receiver_t **out, size_t *nout, char *err, size_t errlen)
{
    static const char *const allowed[] = { "name", "slack", "pagerduty", "webhook", NULL };
    const json_t *list = cfg->receivers, *item;
    size_t n = json_array_size(list), i;
    receiver_t *v = calloc(n + 1, sizeof *v);
    int rc = KR_OK;

    *out = NULL;
    *nout = 0;
    if (!v)
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    json_array_foreach(list, i, item) {
        char what[128];
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *kind = NULL;
        int kinds = 0;
        receiver_t *r = &v[i];
        snprintf(what, sizeof what, "receivers[%zu]", i + 1);
        if (!json_is_object(item)) {
            rc = kr_doc_item_errf(cfg->doc, list, i, err, errlen, "%s must be a map", what);
            goto fail;
        }
        if ((rc = keys_allowed(cfg->doc, item, allowed, what, err, errlen)))
            goto fail;
        if (!name) {
            rc = json_object_get(item, "name")
                     ? kr_doc_member_errf(cfg->doc, item, "name", err, errlen, "%s.name must be a string", what)
                     : kr_doc_item_errf(cfg->doc, list, i, err, errlen,
                                        "%s needs a name (the `to` of page actions)", what);
            goto fail;
        }
        int good = *name && strlen(name) <= 64;
        for (const char *c = name; *c; c++)
            if (!isalnum((unsigned char)*c) && !strchr("_.-", *c))
                good = 0;
        if (!good) {
            rc = kr_doc_member_errf(cfg->doc, item, "name", err, errlen,
                                    "%s.name \"%s\" must be 1-64 letters, digits, '_', '.' or '-'", what, name);
            goto fail;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(v[k].name, name) == 0) {
                rc = kr_doc_member_errf(cfg->doc, item, "name", err, errlen,
                                        "receiver name \"%s\" is used twice (receivers[%zu] too)", name, k + 1);
                goto fail;
            }
        if (!(r->name = strdup(name))) {
            rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
            goto fail;
        }
        snprintf(what, sizeof what, "receivers[%zu] (%s)", i + 1, name);
        for (int k = 0; k < 3; k++)
            if (json_object_get(item, rcv_kind_names[k])) {
                kinds++;
                kind = rcv_kind_names[k];
                r->kind = (rcv_kind_t)k;
            }
        if (kinds != 1) {
            rc = kr_doc_errf(cfg->doc, item, err, errlen,
                             "%s must have exactly one of slack, pagerduty, webhook (it has %d)", what, kinds);
            goto fail;
        }
        const json_t *o = json_object_get(item, kind);
        if (!json_is_object(o)) {
            rc = kr_doc_member_errf(cfg->doc, item, kind, err, errlen, "%s.%s must be a map", what, kind);
            goto fail;
        }
        snprintf(what + strlen(what), sizeof what - strlen(what), " %s", kind);
        rc = r->kind == RCV_SLACK       ? parse_slack(cfg, o, what, r, err, errlen)
             : r->kind == RCV_PAGERDUTY ? parse_pagerduty(cfg, o, what, r, err, errlen)
                                        : parse_webhook(cfg, o, what, r, err, errlen);
        if (rc)
            goto fail;
        *nout = i + 1;
    }
    *out = v;
    *nout = n;
    return KR_OK;
fail:
    receivers_free(v, n);
    return rc ? rc : KR_EINVAL;
}

int kr_pager_check(const kr_config_t *cfg, char *err, size_t errlen)
{
    receiver_t *v;
    size_t n;
    int rc = receivers_parse(cfg, &v, &n, err, errlen);
    if (rc == KR_OK)
        receivers_free(v, n);
    return rc;
}

static receiver_t *receiver_find(kr_pager_t *p, const char *name)
{
    for (size_t i = 0; i < p->nrcv; i++)
        if (strcmp(p->rcv[i].name, name) == 0)
            return &p->rcv[i];
    return NULL;
}

/* ---- metrics ---- */

static void gauges(kr_pager_t *p)
{
    const char *names[64];
    size_t n = kr_outbox_receivers(p->outbox, names, 64);
    int64_t now = kr_now_ms();
    for (size_t i = 0; i < n; i++) {
        char labels[160], esc[100];
        int64_t oldest = kr_outbox_oldest(p->outbox, names[i]);
        snprintf(labels, sizeof labels, "receiver=\"%s\"", kr_metrics_escape(names[i], esc, sizeof esc));
        kr_metrics_set(p->metrics, KR_M_outbox_depth, labels, (double)kr_outbox_depth(p->outbox, names[i]));
        kr_metrics_set(p->metrics, KR_M_outbox_oldest_age_seconds, labels,
                       oldest < 0 ? 0.0 : (double)(now - oldest) / 1000.0);
    }
    if (p->gauge_timer) {
        if (kr_outbox_depth(p->outbox, NULL) > 0 && !evtimer_pending(p->gauge_timer, NULL)) {
            struct timeval tv = { 1, 0 };
            evtimer_add(p->gauge_timer, &tv);
        }
    }
}

static void gauge_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    gauges(arg);
}

static void count(kr_pager_t *p, kr_metric_t m, const char *receiver, const char *reason)
{
    char labels[200], esc[100];
    int n = snprintf(labels, sizeof labels, "receiver=\"%s\"", kr_metrics_escape(receiver, esc, sizeof esc));
    if (reason && n > 0 && (size_t)n < sizeof labels)
        snprintf(labels + n, sizeof labels - (size_t)n, ",reason=\"%s\"", reason);
    kr_metrics_add(p->metrics, m, labels, 1);
}

/* ---- page runs and paged incidents ---- */

static run_track_t *run_find(kr_pager_t *p, const char *run)
{
    for (run_track_t *t = p->runs; t; t = t->next)
        if (strcmp(t->run, run) == 0)
            return t;
    return NULL;
}

static void run_remove(kr_pager_t *p, run_track_t *t)
{
    for (run_track_t **pp = &p->runs; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    free(t->run);
    free(t->incident);
    json_decref(t->to);
    json_decref(t->content);
    free(t->failure);
    free(t);
}

static paged_t *paged_find(kr_pager_t *p, const char *incident)
{
    for (paged_t *e = p->paged; e; e = e->next)
        if (strcmp(e->incident, incident) == 0)
            return e;
    return NULL;
}

static void paged_remove(kr_pager_t *p, paged_t *e)
{
    for (paged_t **pp = &p->paged; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    free(e->incident);
    json_decref(e->to);
    free(e->summary);
    free(e->details);
    free(e->severity);
    json_decref(e->event);
    json_decref(e->actions);
    json_decref(e->updates);
    json_decref(e->failed);
    free(e);
}

static void add_names(json_t *set, const json_t *names)
{
    size_t i, k;
    json_t *n, *m;
    json_array_foreach(names, i, n) {
        int have = 0;
        json_array_foreach(set, k, m)
            if (json_equal(m, n))
                have = 1;
        if (!have)
            json_array_append(set, n);
    }
}

/* Registers a page (from kr_pager_page or its pager.page record). */
static int page_register(kr_pager_t *p, const json_t *rec)
{
    const char *run = json_string_value(json_object_get(rec, "run"));
    const char *incident = json_string_value(json_object_get(rec, "incident"));
    const json_t *to = json_object_get(rec, "to");
    paged_t *e;
    run_track_t *t;

    if (!incident || !json_is_array(to))
        return KR_EINVAL;
    if (!(e = paged_find(p, incident))) {
        const json_t *ev = json_object_get(rec, "event");
        if (!(e = calloc(1, sizeof *e)))
            return KR_ENOMEM;
        e->incident = strdup(incident);
        e->to = json_array();
        e->summary = strdup(json_string_value(json_object_get(rec, "summary")) ?: "");
        e->details = json_string_value(json_object_get(rec, "details"))
                         ? strdup(json_string_value(json_object_get(rec, "details")))
                         : NULL;
        e->severity = strdup(json_string_value(json_object_get(rec, "severity")) ?: "critical");
        e->event = json_is_object(ev) ? json_deep_copy(ev) : json_object();
        e->actions = json_array();
        e->updates = json_array();
        e->failed = json_array();
        e->due_ms = -1;
        e->next = p->paged;
        p->paged = e;
        if (!e->incident || !e->to || !e->summary || !e->severity || !e->event || !e->actions ||
            !e->updates || !e->failed) {
            paged_remove(p, e);
            return KR_ENOMEM;
        }
    }
    add_names(e->to, to);
    if (!run || run_find(p, run)) /* a snapshot's paged incident has no run of its own */
        return KR_OK;
    if (!(t = calloc(1, sizeof *t)) || !(t->run = strdup(run)) || !(t->incident = strdup(incident)) ||
        !(t->to = json_deep_copy(to))) {
        if (t) {
            free(t->run);
            free(t->incident);
            free(t);
        }
        return KR_ENOMEM;
    }
    t->built = json_is_true(json_object_get(rec, "built"));
    if (json_string_length(json_object_get(rec, "summary")) > 0)
        t->content = json_pack("{s:O, s:O?, s:O?}", "summary", json_object_get(rec, "summary"), "details",
                               json_object_get(rec, "details"), "severity", json_object_get(rec, "severity"));
    if (json_string_value(json_object_get(rec, "failure")))
        t->failure = strdup(json_string_value(json_object_get(rec, "failure")));
    t->next = p->runs;
    p->runs = t;
    return KR_OK;
}

static void action_note(json_t *actions, size_t index, const char *kind, const char *state, const char *message)
{
    size_t i;
    json_t *a, *na;
    json_array_foreach(actions, i, a)
        if ((size_t)json_integer_value(json_object_get(a, "index")) == index) {
            json_object_set_new(a, "state", json_string(state));
            if (message && *message)
                json_object_set_new(a, "message", json_string(message));
            return;
        }
    na = json_pack("{s:I, s:s, s:s}", "index", (json_int_t)index, "kind", kind, "state", state);
    if (na && message && *message)
        json_object_set_new(na, "message", json_string(message));
    /* keep action order */
    for (i = 0; i < json_array_size(actions); i++)
        if ((size_t)json_integer_value(json_object_get(json_array_get(actions, i), "index")) > index)
            break;
    json_array_insert_new(actions, i, na);
}

/* The actions of an incident as pages show them: [{index, kind, state, message?}]. */
static json_t *actions_of(kr_pager_t *p, paged_t *e)
{
    json_t *runs, *out, *r;
    size_t i;
    if (!p->hooks.actions || !(runs = p->hooks.actions(e->incident, p->hooks.arg)))
        return json_deep_copy(e->actions);
    out = json_array();
    json_array_foreach(runs, i, r) {
        json_t *a = json_pack("{s:O, s:O, s:O}", "index", json_object_get(r, "index") ?: json_integer((json_int_t)i),
                              "kind", json_object_get(r, "kind") ?: json_string("?"), "state",
                              json_object_get(r, "state") ?: json_string("?"));
        const char *msg = json_string_value(json_object_get(r, "message"));
        if (a && msg && *msg)
            json_object_set_new(a, "message", json_string(msg));
        json_array_append_new(out, a);
    }
    json_decref(runs);
    return out;
}

static void url_escape(char *out, size_t len, const char *s)
{
    size_t o = 0;
    for (; *s && o + 4 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-_.~", c))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, len - o, "%%%02X", c);
    }
    out[o] = 0;
}

/* Links an operator wants: this incident in kresponder, the instance and the alarm in the
 * AWS console. */
static json_t *links_of(kr_pager_t *p, paged_t *e)
{
    json_t *links = json_array();
    const char *inst = kr_event_str(e->event, "instance.id");
    const char *region = kr_event_str(e->event, "instance.region");
    const char *alarm = kr_event_str(e->event, "alarm.name");
    const char *aregion = kr_event_str(e->event, "alarm.region");
    char href[1024], esc[600], text[200];
    if (p->cfg && p->cfg->public_url && *p->cfg->public_url) {
        size_t l = strlen(p->cfg->public_url);
        url_escape(esc, sizeof esc, e->incident);
        snprintf(href, sizeof href, "%.*s/v1/incidents/%s", (int)(l && p->cfg->public_url[l - 1] == '/' ? l - 1 : l),
                 p->cfg->public_url, esc);
        json_array_append_new(links, json_pack("{s:s, s:s}", "href", href, "text", "Incident in kresponder"));
    }
    if (inst && region) {
        url_escape(esc, sizeof esc, inst);
        snprintf(href, sizeof href, "https://%s.console.aws.amazon.com/ec2/home?region=%s#InstanceDetails:instanceId=%s",
                 region, region, esc);
        snprintf(text, sizeof text, "EC2 instance %.100s", inst);
        json_array_append_new(links, json_pack("{s:s, s:s}", "href", href, "text", text));
    }
    if (alarm && (aregion || region)) {
        const char *r = aregion ? aregion : region;
        url_escape(esc, sizeof esc, alarm);
        snprintf(href, sizeof href, "https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#alarmsV2:alarm/%s", r,
                 r, esc);
        snprintf(text, sizeof text, "CloudWatch alarm %.100s", alarm);
        json_array_append_new(links, json_pack("{s:s, s:s}", "href", href, "text", text));
    }
    return links;
}

static json_t *incident_of(kr_pager_t *p, paged_t *e, const json_t *given)
{
    json_t *inc = given ? json_incref((json_t *)given)
                        : (p->hooks.incident ? p->hooks.incident(e->incident, p->hooks.arg) : NULL);
    json_t *out = json_pack("{s:s}", "id", e->incident);
    static const char *const keep[] = { "rule", "state", "started", "closed", NULL };
    for (size_t i = 0; inc && out && keep[i]; i++) {
        json_t *v = json_object_get(inc, keep[i]);
        if (json_is_string(v))
            json_object_set(out, keep[i], v);
    }
    json_decref(inc);
    return out;
}

/* The builders' input for one message about incident e. */
static json_t *page_doc(kr_pager_t *p, paged_t *e, const char *kind, const json_t *incident)
{
    char ts[40];
    json_t *doc = json_pack("{s:s, s:o, s:s, s:s?, s:s, s:O, s:o, s:O, s:O, s:s, s:o}", "page", kind, "incident",
                            incident_of(p, e, incident), "summary", e->summary, "details", e->details, "severity",
                            e->severity, "event", e->event, "actions", actions_of(p, e), "updates", e->updates,
                            "failed", e->failed, "time", kr_time_format(kr_now_ms(), ts, sizeof ts), "links",
                            links_of(p, e));
    return doc;
}

/* Builds and queues one message of `doc` for receiver `name`. */
static int enqueue(kr_pager_t *p, const char *name, const json_t *doc, const char *run, const char *incident)
{
    receiver_t *r = receiver_find(p, name);
    json_t *body = NULL;
    const char *kind = json_string_value(json_object_get(doc, "page"));
    int rc;
    if (!r) {
        KR_WARN("pager", "msg=\"receiver not configured; page dropped\" receiver=%s incident=%s", name, incident);
        count(p, KR_M_pages_failed_total, name, "receiver");
        return KR_ENOTFOUND;
    }
    switch (r->kind) {
    case RCV_SLACK: body = kr_page_slack(doc, r->channel, r->mention); break;
    case RCV_PAGERDUTY: body = kr_page_pagerduty(doc, NULL, r->severity_map); break;
    case RCV_WEBHOOK: body = kr_page_webhook(doc); break;
    }
    if (!body)
        return KR_OK; /* nothing to send to this kind for this page */
    rc = kr_outbox_add(p->outbox, name, incident, run, kind, body, kr_now_ms(), NULL, 0);
    json_decref(body);
    if (rc != KR_OK)
        KR_ERROR("pager", "msg=\"cannot queue page\" receiver=%s incident=%s error=%s", name, incident,
                 kr_strerror(rc));
    gauges(p);
    return rc;
}

static void report_run_if_done(kr_pager_t *p, run_track_t *t)
{
    char msg[512] = "";
    size_t i;
    json_t *n;
    if (!t->built || kr_outbox_run_pending(p->outbox, t->run) > 0)
        return;
    if (!t->failure) {
        snprintf(msg, sizeof msg, "paged ");
        json_array_foreach(t->to, i, n) {
            receiver_t *r = receiver_find(p, json_string_value(n));
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s%s (%s)", i ? ", " : "", json_string_value(n),
                     r ? rcv_kind_names[r->kind] : "?");
        }
    }
    if (p->hooks.page_done)
        p->hooks.page_done(t->run, t->failure ? KR_EIO : KR_OK, t->failure ? t->failure : msg, p->hooks.arg);
    run_remove(p, t);
}

static void build_triggers(kr_pager_t *p)
{
    run_track_t *t, *next;
    for (t = p->runs; t; t = next) {
        next = t->next;
        if (t->built)
            continue;
        paged_t *e = paged_find(p, t->incident);
        json_t *doc = e ? page_doc(p, e, "trigger", NULL) : NULL;
        if (doc && t->content) {
            const char *key;
            json_t *v;
            json_object_foreach(t->content, key, v)
                if (!json_is_null(v))
                    json_object_set(doc, key, v);
        }
        size_t i;
        json_t *n;
        t->built = 1;
        json_array_foreach(t->to, i, n)
            if (doc && enqueue(p, json_string_value(n), doc, t->run, t->incident) != KR_OK && !t->failure)
                if (asprintf(&t->failure, "page to %s could not be queued", json_string_value(n)) < 0)
                    t->failure = NULL;
        json_decref(doc);
        /* updates gathered before the trigger are in it already */
        if (e) {
            json_array_clear(e->updates);
            json_array_clear(e->failed);
            e->due_ms = -1;
            e->last_followup_ms = kr_now_ms();
        }
        report_run_if_done(p, t); /* nothing to send (e.g. no receiver kind had a body) */
    }
}

static int has_unbuilt(kr_pager_t *p, const char *incident)
{
    for (run_track_t *t = p->runs; t; t = t->next)
        if (!t->built && strcmp(t->incident, incident) == 0)
            return 1;
    return 0;
}

static void send_followup(kr_pager_t *p, paged_t *e, const json_t *incident)
{
    json_t *doc;
    size_t i;
    json_t *n;
    if (json_array_size(e->updates) == 0)
        return;
    if ((doc = page_doc(p, e, "followup", incident))) {
        json_array_foreach(e->to, i, n)
            enqueue(p, json_string_value(n), doc, NULL, e->incident);
        json_decref(doc);
    }
    json_array_clear(e->updates);
    json_array_clear(e->failed);
    e->due_ms = -1;
    e->last_followup_ms = kr_now_ms();
}

static void arm_flush(kr_pager_t *p)
{
    int64_t at = -1, now = kr_now_ms();
    for (run_track_t *t = p->runs; t; t = t->next)
        if (!t->built)
            at = now;
    for (paged_t *e = p->paged; e; e = e->next)
        if (e->due_ms >= 0 && (at < 0 || e->due_ms < at))
            at = e->due_ms;
    if (!p->flush_timer || at < 0 || !p->resumed)
        return;
    int64_t d = at > now ? at - now : 0;
    struct timeval tv = { (time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000 };
    evtimer_del(p->flush_timer);
    evtimer_add(p->flush_timer, &tv);
}

static void flush(kr_pager_t *p)
{
    int64_t now = kr_now_ms();
    build_triggers(p);
    for (paged_t *e = p->paged; e; e = e->next)
        if (e->due_ms >= 0 && e->due_ms <= now)
            send_followup(p, e, NULL);
    arm_flush(p);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    flush(arg);
}

/* ---- journal, delivery, outbox effects ---- */

static void waiter_done_cb(int rc, uint64_t seq, void *arg)
{
    waiter_t *w = arg;
    kr_pager_t *p = w->p;
    (void)seq;
    if (p) {
        if (w->prev)
            w->prev->next = w->next;
        else
            p->waiters = w->next;
        if (w->next)
            w->next->prev = w->prev;
        kr_outbox_durable(p->outbox, w->msg, rc, kr_now_ms());
        gauges(p);
    }
    free(w);
}

static int journal_record(kr_pager_t *p, const json_t *rec, int durable, const char *msg)
{
    json_t *copy;
    waiter_t *w = NULL;
    int rc;
    if (!p->journal) {
        if (durable)
            kr_outbox_durable(p->outbox, msg, KR_OK, kr_now_ms());
        return KR_OK;
    }
    if (!(copy = json_deep_copy(rec)))
        return KR_ENOMEM;
    if (durable) {
        if (!(w = calloc(1, sizeof *w))) {
            json_decref(copy);
            return KR_ENOMEM;
        }
        w->p = p;
        snprintf(w->msg, sizeof w->msg, "%s", msg);
    }
    rc = kr_journal_append(p->journal, copy, w ? waiter_done_cb : NULL, w, NULL);
    json_decref(copy);
    if (rc != KR_OK) {
        free(w);
        return rc;
    }
    if (w) {
        w->next = p->waiters;
        if (p->waiters)
            p->waiters->prev = w;
        p->waiters = w;
    }
    kr_metrics_add(p->metrics, KR_M_journal_records_total, NULL, 1);
    return KR_OK;
}

static int fx_journal(const json_t *rec, int durable, const char *msg, void *arg)
{
    return journal_record(arg, rec, durable, msg);
}

static void delivery_done_cb(const kr_http_response_t *resp, void *arg)
{
    attempt_t *a = arg;
    kr_pager_t *p = a->p;
    if (!p->closing) {
        char why[256] = "";
        if (resp->status == 0)
            snprintf(why, sizeof why, "%s", resp->error ? resp->error : "transport error");
        else if (resp->status >= 300) /* what the receiver said, e.g. Slack's "invalid_token" */
            snprintf(why, sizeof why, "%.200s", resp->body_len ? resp->body : "");
        for (char *c = why; *c; c++)
            if (*c == '\n' || *c == '\r' || *c == '"')
                *c = ' ';
        kr_outbox_result(p->outbox, a->msg, resp->status, resp->retry_after_s, why, kr_now_ms());
        gauges(p);
    }
    free(a);
}

static int fx_send(const char *msg, const char *receiver, const json_t *body, int attempt_no, void *arg)
{
    kr_pager_t *p = arg;
    receiver_t *r = receiver_find(p, receiver);
    json_t *wire = NULL;
    char *text = NULL, sig[128], idh[64];
    const char *hdrs[40];
    size_t nh = 0;
    attempt_t *a = NULL;
    int rc = KR_OK;

    if (!r)
        return KR_ENOTFOUND;
    if (p->closing)
        return KR_ESTATE;
    if (r->kind == RCV_PAGERDUTY) {
        /* the routing key is a secret: it is never journaled, only put on the wire */
        if (!(wire = json_deep_copy(body)))
            return KR_ENOMEM;
        json_object_set_new(wire, "routing_key", json_string(r->routing_key));
        text = json_dumps(wire, JSON_COMPACT);
    } else {
        text = json_dumps(body, JSON_COMPACT);
    }
    if (!text) {
        rc = KR_ENOMEM;
        goto done;
    }
    hdrs[nh++] = "Content-Type: application/json";
    if (r->kind == RCV_WEBHOOK) {
        snprintf(idh, sizeof idh, "X-Kresponder-Message-Id: %s", msg);
        hdrs[nh++] = idh;
        if (r->hmac_secret) {
            char s[80];
            if (kr_page_sign(r->hmac_secret, text, strlen(text), s, sizeof s) == KR_OK) {
                snprintf(sig, sizeof sig, "X-Kresponder-Signature: %s", s);
                hdrs[nh++] = sig;
            }
        }
        for (size_t i = 0; r->headers && r->headers[i] && nh < 38; i++)
            hdrs[nh++] = r->headers[i];
    }
    hdrs[nh] = NULL;
    kr_http_request_t req = {
        .method = "POST", .url = r->url, .headers = hdrs, .body = text, .body_len = strlen(text),
        .timeout_ms = p->cfg ? (long)p->cfg->outbox_timeout_ms : 10000, .max_response = 16384,
    };
    if (!(a = calloc(1, sizeof *a))) {
        rc = KR_ENOMEM;
        goto done;
    }
    a->p = p;
    snprintf(a->msg, sizeof a->msg, "%s", msg);
    KR_DEBUG("pager", "msg=\"delivering\" id=%s receiver=%s attempt=%d", msg, receiver, attempt_no);
    rc = kr_httpc_request(p->httpc, &req, delivery_done_cb, a);
    if (rc != KR_OK) {
        free(a);
        if (rc == KR_EINVAL)
            rc = KR_EINVAL; /* a request httpc refuses will never go: fail it */
    }
done:
    free(text);
    json_decref(wire);
    return rc;
}

static void fx_schedule(int64_t at_ms, void *arg)
{
    kr_pager_t *p = arg;
    if (!p->outbox_timer)
        return;
    evtimer_del(p->outbox_timer);
    if (at_ms < 0)
        return;
    int64_t d = at_ms - kr_now_ms();
    if (d < 0)
        d = 0;
    struct timeval tv = { (time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000 };
    evtimer_add(p->outbox_timer, &tv);
}

static void outbox_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_pager_t *p = arg;
    (void)fd;
    (void)what;
    kr_outbox_on_timer(p->outbox, kr_now_ms());
    gauges(p);
}

static void fx_report(const kr_outbox_report_t *r, void *arg)
{
    kr_pager_t *p = arg;
    run_track_t *t = r->run ? run_find(p, r->run) : NULL;
    if (r->state == KR_OUTBOX_SENT) {
        count(p, KR_M_pages_sent_total, r->receiver, NULL);
    } else if (r->state == KR_OUTBOX_WAITING) {
        count(p, KR_M_pages_retried_total, r->receiver, NULL);
    } else {
        const char *reason = r->status >= 400 && r->status < 500 && r->status != 429 ? "rejected"
                             : r->error && strstr(r->error, "max_age")           ? "expired"
                             : r->error && strstr(r->error, "not configured")     ? "receiver"
                                                                                  : "error";
        count(p, KR_M_pages_failed_total, r->receiver, reason);
        if (t && !t->failure) {
            receiver_t *rc = receiver_find(p, r->receiver);
            if (asprintf(&t->failure, "page to %s (%s) failed: %s", r->receiver, rc ? rcv_kind_names[rc->kind] : "?",
                         r->error ? r->error : "unknown error") < 0)
                t->failure = NULL;
        }
    }
    if (t && r->state != KR_OUTBOX_WAITING)
        report_run_if_done(p, t);
}

/* ---- public ---- */

kr_pager_t *kr_pager_new(struct event_base *base, const kr_config_t *cfg, kr_metrics_t *metrics, char *err,
                         size_t errlen)
{
    kr_pager_t *p = calloc(1, sizeof *p);
    if (!p) {
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        return NULL;
    }
    p->base = base;
    p->cfg = cfg;
    p->metrics = metrics;
    if (receivers_parse(cfg, &p->rcv, &p->nrcv, err, errlen) != KR_OK)
        goto fail;
    kr_outbox_effects_t fx = { .journal = fx_journal, .send = fx_send, .schedule = fx_schedule,
                               .report = fx_report, .arg = p };
    kr_outbox_limits_t lim = {
        .max_age_ms = cfg->outbox_max_age_ms, .retry_min_ms = cfg->outbox_retry_min_ms,
        .retry_max_ms = cfg->outbox_retry_max_ms,
        .seed = (uint64_t)kr_now_ms() ^ ((uint64_t)getpid() << 32),
    };
    if (!(p->outbox = kr_outbox_new(&fx, &lim)) || !(p->httpc = kr_httpc_new(base, err, errlen)) ||
        !(p->outbox_timer = evtimer_new(base, outbox_timer_cb, p)) ||
        !(p->flush_timer = evtimer_new(base, flush_cb, p)) || !(p->gauge_timer = evtimer_new(base, gauge_cb, p))) {
        if (err && !*err)
            kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        goto fail;
    }
    /* one connection per receiver is enough (messages go one at a time) */
    kr_httpc_set_max_host_connections(p->httpc, 4);
    for (size_t i = 0; i < p->nrcv; i++) {
        char labels[160], esc[100];
        snprintf(labels, sizeof labels, "receiver=\"%s\"", kr_metrics_escape(p->rcv[i].name, esc, sizeof esc));
        kr_metrics_set(metrics, KR_M_outbox_depth, labels, 0);
        kr_metrics_set(metrics, KR_M_outbox_oldest_age_seconds, labels, 0);
        kr_metrics_add(metrics, KR_M_pages_sent_total, labels, 0);
    }
    return p;
fail:
    kr_pager_free(p);
    return NULL;
}

void kr_pager_free(kr_pager_t *p)
{
    if (!p)
        return;
    p->closing = 1;
    kr_httpc_free(p->httpc); /* cancels attempts in flight; they are re-sent after a restart */
    for (waiter_t *w = p->waiters; w; w = w->next)
        w->p = NULL;         /* the journal frees them when it runs their callbacks */
    while (p->runs)
        run_remove(p, p->runs);
    while (p->paged)
        paged_remove(p, p->paged);
    kr_outbox_free(p->outbox);
    if (p->outbox_timer)
        event_free(p->outbox_timer);
    if (p->flush_timer)
        event_free(p->flush_timer);
    if (p->gauge_timer)
        event_free(p->gauge_timer);
    receivers_free(p->rcv, p->nrcv);
    free(p);
}

void kr_pager_set_hooks(kr_pager_t *p, const kr_pager_hooks_t *hooks)
{
    if (hooks)
        p->hooks = *hooks;
    else
        memset(&p->hooks, 0, sizeof p->hooks);
}

int kr_pager_set_ca_file(kr_pager_t *p, const char *path, char *err, size_t errlen)
{
    return kr_httpc_set_ca_file(p->httpc, path, err, errlen);
}

int kr_pager_replay(kr_pager_t *p, const json_t *rec)
{
    const char *kind = json_string_value(json_object_get(rec, "kind"));
    if (!kind)
        return KR_OK;
    if (strcmp(kind, "pager.page") == 0)
        return page_register(p, rec);
    if (strcmp(kind, "pager.close") == 0) {
        const char *incident = json_string_value(json_object_get(rec, "incident"));
        paged_t *e = incident ? paged_find(p, incident) : NULL;
        if (e)
            paged_remove(p, e);
        return KR_OK;
    }
    if (strcmp(kind, "outbox.add") == 0) {
        const char *run = json_string_value(json_object_get(rec, "run"));
        run_track_t *t = run ? run_find(p, run) : NULL;
        if (t)
            t->built = 1;
    } else if (strcmp(kind, "outbox.failed") == 0) {
        const char *msg = json_string_value(json_object_get(rec, "msg"));
        const char *run = msg ? kr_outbox_msg_run(p->outbox, msg) : NULL;
        run_track_t *t = run ? run_find(p, run) : NULL;
        if (t && !t->failure &&
            asprintf(&t->failure, "page to %s failed: %s",
                     json_string_value(json_object_get(rec, "receiver")) ?: "?",
                     json_string_value(json_object_get(rec, "reason")) ?: "?") < 0)
            t->failure = NULL;
    }
    return kr_outbox_replay(p->outbox, rec);
}

int kr_pager_resume(kr_pager_t *p, kr_journal_t *journal)
{
    run_track_t *t, *next;
    p->journal = journal;
    p->resumed = 1;
    KR_INFO("pager", "msg=\"resuming\" receivers=%zu unsent=%zu paged_incidents=%zu", p->nrcv,
            kr_outbox_depth(p->outbox, NULL), kr_pager_incidents(p));
    kr_outbox_resume(p->outbox, kr_now_ms());
    for (t = p->runs; t; t = next) {
        next = t->next;
        report_run_if_done(p, t);
    }
    arm_flush(p); /* triggers journaled but never queued */
    gauges(p);
    return KR_OK;
}

int kr_pager_page(kr_pager_t *p, const char *run_id, const char *incident_id, const json_t *params,
                  const json_t *event, char *err, size_t errlen)
{
    const json_t *to = json_object_get(params, "to");
    json_t *names = json_array(), *rec = NULL, *ev = NULL;
    const char *summary = json_string_value(json_object_get(params, "summary"));
    const char *severity = json_string_value(json_object_get(params, "severity"));
    char fallback[300];
    size_t i;
    json_t *n;
    int rc = KR_OK;

    if (!names)
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    if (!run_id || !incident_id) {
        rc = kr_seterr(err, errlen, KR_EINVAL, "page: a run and an incident are needed");
        goto done;
    }
    if (run_find(p, run_id)) /* known from the journal: it continues, never twice */
        goto done;
    if (json_is_string(to))
        json_array_append(names, (json_t *)to);
    else
        json_array_foreach(to, i, n)
            if (json_is_string(n))
                json_array_append(names, n);
    if (json_array_size(names) == 0) {
        rc = kr_seterr(err, errlen, KR_EINVAL, "page: `to` names no receiver");
        goto done;
    }
    json_array_foreach(names, i, n)
        if (!receiver_find(p, json_string_value(n))) {
            rc = kr_seterr(err, errlen, KR_EINVAL, "page: no receiver named \"%s\" in the config (receivers: %zu configured)",
                           json_string_value(n), p->nrcv);
            goto done;
        }
    if (!summary || !*summary) {
        snprintf(fallback, sizeof fallback, "%s%s%s", json_string_value(json_object_get(event, "type")) ?: "event",
                 kr_event_str(event, "cluster") ? " in " : "", kr_event_str(event, "cluster") ?: "");
        summary = fallback;
    }
    if (!(ev = json_is_object(event) ? json_deep_copy(event) : json_object())) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        goto done;
    }
    json_object_del(ev, "raw"); /* the original payload: large, and not for pages */
    rec = json_pack("{s:s, s:s, s:s, s:O, s:s, s:s?, s:s, s:O}", "kind", "pager.page", "run", run_id, "incident",
                    incident_id, "to", names, "summary", summary, "details",
                    json_string_value(json_object_get(params, "details")), "severity", severity ? severity : "critical",
                    "event", ev);
    if (!rec) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        goto done;
    }
    if (p->journal && (rc = journal_record(p, rec, 0, NULL)) != KR_OK) {
        kr_seterr(err, errlen, rc, "page: the journal cannot record the page: %s", kr_strerror(rc));
        goto done;
    }
    if ((rc = page_register(p, rec)) != KR_OK) {
        kr_seterr(err, errlen, rc, "page: out of memory");
        goto done;
    }
    KR_INFO("pager", "msg=\"paging\" run=%s incident=%s receivers=%zu", run_id, incident_id, json_array_size(names));
    arm_flush(p);
done:
    json_decref(names);
    json_decref(rec);
    json_decref(ev);
    return rc;
}

void kr_pager_run_changed(kr_pager_t *p, const char *incident_id, const char *kind, size_t index,
                          const char *state, const char *message, int state_changed)
{
    paged_t *e;
    char line[600];
    int64_t now = kr_now_ms();
    if (!incident_id || !kind || !state || strcmp(kind, "page") == 0 || !(e = paged_find(p, incident_id)))
        return;
    action_note(e->actions, index, kind, state, message);
    if (has_unbuilt(p, incident_id))
        return; /* the trigger, built at the end of this pass, shows it */
    if (state_changed) {
        static const struct { const char *state, *word; } words[] = {
            { "running", "started" }, { "done", "done" }, { "failed", "failed" },
            { "cancelled", "cancelled" }, { "skipped", "skipped" },
        };
        const char *word = NULL;
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (strcmp(words[i].state, state) == 0)
                word = words[i].word;
        if (!word)
            return; /* queued: nothing to tell yet */
        /* a run often reports its outcome as progress, then finishes with the same words:
         * say it once */
        size_t n = json_array_size(e->updates);
        if (n && message && *message) {
            snprintf(line, sizeof line, "%s: %.500s", kind, message);
            if (strcmp(json_string_value(json_array_get(e->updates, n - 1)), line) == 0)
                json_array_remove(e->updates, n - 1);
        }
        snprintf(line, sizeof line, "%s %s%s%.500s", kind, word, message && *message ? ": " : "",
                 message ? message : "");
        json_array_append_new(e->updates, json_string(line));
        if (strcmp(state, "failed") == 0)
            json_array_append_new(e->failed, json_string(line));
        e->due_ms = now; /* at once, coalescing what else changes in this loop pass */
    } else {
        if (!message || !*message)
            return;
        snprintf(line, sizeof line, "%s: %.500s", kind, message);
        json_array_append_new(e->updates, json_string(line));
        int64_t interval = p->cfg ? p->cfg->outbox_followup_interval_ms : 60000;
        int64_t at = e->last_followup_ms + interval;
        if (at < now)
            at = now;
        if (e->due_ms < 0 || at < e->due_ms)
            e->due_ms = at;
    }
    arm_flush(p);
}

void kr_pager_incident_changed(kr_pager_t *p, const json_t *incident, const char *from, const char *to)
{
    const char *id = json_string_value(json_object_get(incident, "id"));
    paged_t *e;
    json_t *doc, *rec, *n;
    size_t i;
    (void)from;
    if (!id || !to || !(e = paged_find(p, id)) || (strcmp(to, "resolved") != 0 && strcmp(to, "cancelled") != 0))
        return;
    /* whatever is pending goes first, so each receiver sees trigger, updates, resolve */
    build_triggers(p);
    send_followup(p, e, incident);
    if ((doc = page_doc(p, e, "resolve", incident))) {
        json_array_foreach(e->to, i, n)
            enqueue(p, json_string_value(n), doc, NULL, e->incident);
        json_decref(doc);
    }
    if ((rec = json_pack("{s:s, s:s, s:s}", "kind", "pager.close", "incident", id, "state", to))) {
        if (p->journal)
            journal_record(p, rec, 0, NULL);
        json_decref(rec);
    }
    KR_INFO("pager", "msg=\"incident closed; resolve pages queued\" incident=%s state=%s", id,
            to);
    paged_remove(p, e);
    arm_flush(p);
}

int kr_pager_snapshot(const kr_pager_t *p, int (*add)(json_t *record, void *arg), void *arg)
{
    int rc = KR_OK;
    for (const paged_t *e = p->paged; e && rc == KR_OK; e = e->next) {
        json_t *rec = json_pack("{s:s, s:s, s:O, s:s, s:s?, s:s, s:O}", "kind", "pager.page", "incident", e->incident,
                                "to", e->to, "summary", e->summary, "details", e->details, "severity", e->severity,
                                "event", e->event);
        rc = rec ? add(rec, arg) : KR_ENOMEM;
        json_decref(rec);
    }
    for (const run_track_t *t = p->runs; t && rc == KR_OK; t = t->next) {
        json_t *rec = json_pack("{s:s, s:s, s:s, s:O, s:s, s:b, s:s?}", "kind", "pager.page", "run", t->run,
                                "incident", t->incident, "to", t->to, "summary", "", "built", t->built, "failure",
                                t->failure);
        if (rec && t->content) {
            const char *key;
            json_t *v;
            json_object_foreach(t->content, key, v)
                json_object_set(rec, key, v);
        }
        rc = rec ? add(rec, arg) : KR_ENOMEM;
        json_decref(rec);
    }
    return rc == KR_OK ? kr_outbox_snapshot(p->outbox, add, arg) : rc;
}

size_t kr_pager_depth(const kr_pager_t *p)
{
    return kr_outbox_depth(p->outbox, NULL);
}

size_t kr_pager_incidents(const kr_pager_t *p)
{
    size_t n = 0;
    for (const paged_t *e = p->paged; e; e = e->next)
        n++;
    return n;
}
