/* actions/streams_marks.c: Kafka Streams reset marks (kr/streams_marks.h): the
 * `streams_apps:` config, the mark state machine and its journal records, the owners'
 * page, and the reset run as asynchronous Kafka requests once the group is empty.
 *
 * DESIGN (loop thread throughout). A mark_streams_reset run creates one mark per app and
 * journals it. A mark allowed to reset (auto_reset when-stopped) polls its group with
 * DESCRIBE_GROUP on a libevent timer whose interval doubles up to poll_max while the group
 * has members or cannot be described; a group is never touched unless a describe answered
 * "0 members". Then one step at a time, each started from the previous one's callback:
 * list topics → committed offsets → watermarks → offsets for times → plan (pure,
 * kr_streams_plan) → describe again (the app may have come back meanwhile) → commit the
 * offsets → delete the internal topics the plan names. Every step is a streams.step record
 * and a run progress message (the pager turns those into follow-ups). A failed request
 * sends the mark back to waiting (the whole reset is re-planned, which is idempotent)
 * until MAX_ATTEMPTS failures, then it fails. A Kafka client per cluster is created on
 * first use; kr_kafka_free at shutdown ends pending requests, whose callbacks then see
 * `closing` and change nothing: the journal says where each mark was, and resume
 * continues from there. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "kr/err.h"
#include "kr/log.h"
#include "kr/streams_marks.h"
#include "kr/units.h"

#define MAX_STEPS 50            /* steps kept per mark in memory (the journal has them all) */
#define MAX_ATTEMPTS 3          /* failed reset attempts before a mark fails */
#define DEFAULT_POLL_MS 5000
#define DEFAULT_POLL_MAX_MS 60000
#define REQUEST_TIMEOUT_MS 10000

/* ------------------------------------------------------------------ small helpers */

static int valid_topic(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 249 || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

static int in_strings(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    return 0;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* "a, b, c" of a string array into buf. */
static const char *joined(const json_t *arr, const char *sep, char *buf, size_t len)
{
    size_t i, off = 0;
    json_t *v;
    buf[0] = 0;
    json_array_foreach(arr, i, v) {
        int w = snprintf(buf + off, len - off, "%s%s", i ? sep : "", json_string_value(v));
        if (w < 0 || (size_t)w >= len - off)
            break;
        off += (size_t)w;
    }
    return buf;
}

/* A malloc'd printf. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, f);
    if (vasprintf(&s, f, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* ------------------------------------------------------------------ config */

static const json_t *cluster_node(const kr_config_t *cfg, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(cfg->clusters, i, c)
        if (str(c, "name") && strcmp(str(c, "name"), name) == 0)
            return c;
    return NULL;
}

static int receiver_known(const kr_config_t *cfg, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(cfg->receivers, i, r)
        if (str(r, "name") && strcmp(str(r, "name"), name) == 0)
            return 1;
    return 0;
}

/* A list of topic names (or receiver names with cfg set) into a new array. */
static int parse_names(const kr_doc_t *doc, const json_t *app, const char *key, int topics,
                       const kr_config_t *cfg, json_t **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(app, key), *item;
    size_t i;
    *out = json_array();
    if (!*out)
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    if (!v)
        return KR_OK;
    if (!json_is_array(v))
        return kr_doc_member_errf(doc, app, key, err, errlen, "streams_apps: %s must be a list of %s",
                                  key, topics ? "topic names" : "receiver names");
    json_array_foreach(v, i, item) {
        const char *s = json_string_value(item);
        if (!s)
            return kr_doc_item_errf(doc, v, i, err, errlen, "streams_apps: %s must hold strings", key);
        if (topics && !valid_topic(s))
            return kr_doc_item_errf(doc, v, i, err, errlen,
                                    "streams_apps: \"%s\" is not a valid Kafka topic name "
                                    "(1-249 characters of [A-Za-z0-9._-])", s);
        if (!topics && !receiver_known(cfg, s))
            return kr_doc_item_errf(doc, v, i, err, errlen,
                                    "streams_apps: owners: no receiver is named \"%s\" in receivers:", s);
        if (in_strings(*out, s))
            return kr_doc_item_errf(doc, v, i, err, errlen, "streams_apps: %s names \"%s\" twice", key, s);
        json_array_append_new(*out, json_string(s));
    }
    return KR_OK;
}

static int parse_duration_key(const kr_doc_t *doc, const json_t *app, const char *key, int64_t def,
                              int64_t min, int64_t max, int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(app, key);
    char e[128];
    *out = def;
    if (!v)
        return KR_OK;
    if (!json_is_string(v) || kr_duration_parse(json_string_value(v), out, e, sizeof e) != 0 ||
        *out < min || *out > max) {
        char a[32], b[32];
        return kr_doc_member_errf(doc, app, key, err, errlen,
                                  "streams_apps: %s must be a duration from %s to %s (e.g. 5s)", key,
                                  kr_duration_format(min, a, sizeof a), kr_duration_format(max, b, sizeof b));
    }
    return KR_OK;
}

/* Validates one app node and returns its normalized form. */
static int app_parse(const kr_config_t *cfg, const json_t *app, json_t **out, char *err, size_t errlen)
{
    static const char *const allowed[] = { "application_id", "input_topics", "intermediate_topics",
                                           "internal_topics", "topology", "owners", "auto_reset",
                                           "poll_interval", "poll_max", NULL };
    const kr_doc_t *doc = cfg->doc;
    json_t *in = NULL, *mid = NULL, *internal = NULL, *owners = NULL;
    const char *id, *key, *auto_reset = "never", *internal_key = "internal_topics";
    json_t *v;
    int64_t poll = 0, poll_max = 0;
    int rc = KR_OK;

    *out = NULL;
    if (!json_is_object(app))
        return kr_doc_errf(doc, app, err, errlen,
                           "streams_apps: each app must be a map with application_id and input_topics");
    json_object_foreach((json_t *)app, key, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            ok |= strcmp(key, allowed[i]) == 0;
        if (!ok)
            return kr_doc_key_errf(doc, app, key, err, errlen,
                                   "streams_apps: unknown key \"%s\" (expected application_id, "
                                   "input_topics, intermediate_topics, internal_topics, owners, "
                                   "auto_reset, poll_interval, poll_max)", key);
    }
    id = str(app, "application_id");
    if (!id)
        return kr_doc_errf(doc, app, err, errlen, "streams_apps: application_id (a string) is required");
    if (!valid_topic(id))
        return kr_doc_member_errf(doc, app, "application_id", err, errlen,
                                  "streams_apps: application_id \"%s\" must be made of [A-Za-z0-9._-] "
                                  "(it prefixes the app's internal topic names)", id);
    if (json_object_get(app, "internal_topics") && json_object_get(app, "topology"))
        return kr_doc_key_errf(doc, app, "topology", err, errlen,
                               "streams_apps: give internal_topics or its alias topology, not both");
    if (json_object_get(app, "topology"))
        internal_key = "topology";
    if ((rc = parse_names(doc, app, "input_topics", 1, cfg, &in, err, errlen)) ||
        (rc = parse_names(doc, app, "intermediate_topics", 1, cfg, &mid, err, errlen)) ||
        (rc = parse_names(doc, app, internal_key, 1, cfg, &internal, err, errlen)) ||
        (rc = parse_names(doc, app, "owners", 0, cfg, &owners, err, errlen)))
        goto done;
    if (!json_array_size(in)) {
        rc = json_object_get(app, "input_topics")
                 ? kr_doc_member_errf(doc, app, "input_topics", err, errlen,
                                      "streams_apps: input_topics must not be empty")
                 : kr_doc_errf(doc, app, err, errlen, "streams_apps: %s: input_topics is required", id);
        goto done;
    }
    /* a topic in two lists would be both reset and deleted, or reset twice */
    for (size_t i = 0; i < json_array_size(mid); i++)
        if (in_strings(in, json_string_value(json_array_get(mid, i)))) {
            rc = kr_doc_item_errf(doc, json_object_get(app, "intermediate_topics"), i, err, errlen,
                                  "streams_apps: \"%s\" is both an input and an intermediate topic",
                                  json_string_value(json_array_get(mid, i)));
            goto done;
        }
    for (size_t i = 0; i < json_array_size(internal); i++) {
        const char *t = json_string_value(json_array_get(internal, i));
        if (in_strings(in, t) || in_strings(mid, t) || !kr_streams_is_internal_name(id, t)) {
            rc = kr_doc_item_errf(doc, json_object_get(app, internal_key), i, err, errlen,
                                  "streams_apps: %s: \"%s\" is not an internal topic of %s (it must "
                                  "start with \"%s-\", end with -changelog, -repartition or a "
                                  "foreign-key join suffix, and not be an input or intermediate topic)",
                                  internal_key, t, id, id);
            goto done;
        }
    }
    v = json_object_get(app, "auto_reset");
    if (v) {
        auto_reset = json_string_value(v);
        if (!auto_reset || (strcmp(auto_reset, "when-stopped") && strcmp(auto_reset, "never"))) {
            rc = kr_doc_member_errf(doc, app, "auto_reset", err, errlen,
                                    "streams_apps: auto_reset must be when-stopped or never");
            goto done;
        }
    }
    if ((rc = parse_duration_key(doc, app, "poll_interval", DEFAULT_POLL_MS, 1000, 3600000, &poll, err, errlen)) ||
        (rc = parse_duration_key(doc, app, "poll_max", poll > DEFAULT_POLL_MAX_MS ? poll : DEFAULT_POLL_MAX_MS,
                                 1000, 86400000, &poll_max, err, errlen)))
        goto done;
    if (poll_max < poll) {
        rc = kr_doc_member_errf(doc, app, "poll_max", err, errlen,
                                "streams_apps: poll_max must not be shorter than poll_interval");
        goto done;
    }
    *out = json_pack("{s:s,s:O,s:O,s:O,s:O,s:s,s:I,s:I}", "application_id", id, "input_topics", in,
                     "intermediate_topics", mid, "internal_topics", internal, "owners", owners,
                     "auto_reset", auto_reset, "poll_interval_ms", (json_int_t)poll, "poll_max_ms",
                     (json_int_t)poll_max);
    if (!*out)
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
done:
    json_decref(in);
    json_decref(mid);
    json_decref(internal);
    json_decref(owners);
    return rc;
}

/* Validates and normalizes one cluster's apps. */
static json_t *cluster_apps(const kr_config_t *cfg, const json_t *cl, char *err, size_t errlen)
{
    json_t *list = json_object_get(cl, "streams_apps"), *out = json_array(), *app;
    size_t i;
    if (!out) {
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        return NULL;
    }
    if (!list || json_is_null(list))
        return out;
    if (!json_is_array(list)) {
        kr_doc_member_errf(cfg->doc, cl, "streams_apps", err, errlen,
                           "streams_apps must be a list of apps");
        goto err;
    }
    if (json_array_size(list) && !json_is_string(json_object_get(cl, "bootstrap_servers"))) {
        kr_doc_key_errf(cfg->doc, cl, "streams_apps", err, errlen,
                        "streams_apps needs the cluster's bootstrap_servers (kresponder resets "
                        "apps through the Kafka protocol)");
        goto err;
    }
    json_array_foreach(list, i, app) {
        json_t *norm = NULL;
        if (app_parse(cfg, app, &norm, err, errlen) != KR_OK)
            goto err;
        for (size_t j = 0; j < json_array_size(out); j++)
            if (strcmp(str(json_array_get(out, j), "application_id"), str(norm, "application_id")) == 0) {
                kr_doc_member_errf(cfg->doc, app, "application_id", err, errlen,
                                   "streams_apps: application_id \"%s\" is listed twice in this cluster",
                                   str(norm, "application_id"));
                json_decref(norm);
                goto err;
            }
        json_array_append_new(out, norm);
    }
    return out;
err:
    json_decref(out);
    return NULL;
}

int kr_streams_apps_check(const kr_config_t *cfg, char *err, size_t errlen)
{
    size_t i;
    json_t *cl;
    json_array_foreach(cfg->clusters, i, cl) {
        json_t *apps = json_is_object(cl) ? cluster_apps(cfg, cl, err, errlen) : json_array();
        if (!apps)
            return KR_EINVAL;
        json_decref(apps);
    }
    return KR_OK;
}

json_t *kr_streams_apps(const kr_config_t *cfg, const char *cluster, const char **bootstrap,
                        int *dry_run, char *err, size_t errlen)
{
    const json_t *cl = cluster ? cluster_node(cfg, cluster) : NULL;
    if (!cl) {
        kr_seterr(err, errlen, KR_ENOTFOUND, "no cluster named \"%s\" in the config",
                  cluster ? cluster : "(none)");
        return NULL;
    }
    if (bootstrap)
        *bootstrap = str(cl, "bootstrap_servers");
    if (dry_run)
        *dry_run = json_is_true(json_object_get(cl, "dry_run"));
    return cluster_apps(cfg, cl, err, errlen);
}

/* ------------------------------------------------------------------ pure helpers */

/* Does app own topic t by name (it is named like one of its internal topics and no
 * configured app with a longer id that is also a prefix claims it)? */
static int owns_by_name(const json_t *apps, const json_t *app, const char *t)
{
    const char *id = str(app, "application_id");
    size_t i;
    json_t *other;
    if (!kr_streams_is_internal_name(id, t))
        return 0;
    json_array_foreach(apps, i, other) {
        const char *oid = str(other, "application_id");
        if (other == app)
            continue;
        if (in_strings(json_object_get(other, "input_topics"), t) ||
            in_strings(json_object_get(other, "intermediate_topics"), t) ||
            in_strings(json_object_get(other, "internal_topics"), t))
            return 0;
        if (strlen(oid) > strlen(id) && kr_streams_is_internal_name(oid, t))
            return 0;
    }
    return 1;
}

json_t *kr_streams_affected(const json_t *apps, const char *const *touched, size_t n)
{
    json_t *out = json_array(), *app;
    size_t i;
    if (!out)
        return NULL;
    json_array_foreach(apps, i, app) {
        for (size_t k = 0; k < n; k++) {
            const char *t = touched[k];
            if (in_strings(json_object_get(app, "input_topics"), t) ||
                in_strings(json_object_get(app, "intermediate_topics"), t) ||
                in_strings(json_object_get(app, "internal_topics"), t) || owns_by_name(apps, app, t)) {
                json_array_append_new(out, json_string(str(app, "application_id")));
                break;
            }
        }
    }
    return out;
}

int kr_streams_resolve_to(const char *to, int64_t incident_ms, kr_streams_reset_spec_t *spec,
                          char *err, size_t errlen)
{
    int64_t x;
    memset(spec, 0, sizeof *spec);
    if (!to || !strcmp(to, "incident")) {
        spec->kind = KR_STREAMS_TO_DATETIME;
        spec->time_ms = incident_ms;
        return KR_OK;
    }
    if (!strcmp(to, "earliest")) {
        spec->kind = KR_STREAMS_TO_EARLIEST;
        return KR_OK;
    }
    if (!strcmp(to, "latest")) {
        spec->kind = KR_STREAMS_TO_LATEST;
        return KR_OK;
    }
    if (!strncmp(to, "incident-", 9) && kr_duration_parse(to + 9, &x, NULL, 0) == 0) {
        spec->kind = KR_STREAMS_TO_DATETIME;
        spec->time_ms = incident_ms - x;
        return KR_OK;
    }
    if (kr_time_parse(to, &x) == 0) {
        spec->kind = KR_STREAMS_TO_DATETIME;
        spec->time_ms = x;
        return KR_OK;
    }
    return kr_seterr(err, errlen, KR_EINVAL,
                     "to must be incident, incident-<duration> (e.g. incident-10m), an RFC 3339 "
                     "time, earliest or latest, not \"%s\"", to);
}

/* Kafka's --to-datetime form: "YYYY-MM-DDTHH:mm:SS.sss", read as UTC without a suffix. */
static const char *kafka_datetime(int64_t ms, char *buf, size_t len)
{
    kr_time_format(ms, buf, len);
    size_t n = strlen(buf);
    if (n && buf[n - 1] == 'Z')
        buf[n - 1] = 0;
    return buf;
}

static const char *spec_words(const kr_streams_reset_spec_t *spec, char *buf, size_t len)
{
    char t[40];
    switch (spec->kind) {
    case KR_STREAMS_TO_EARLIEST: snprintf(buf, len, "the earliest offsets"); break;
    case KR_STREAMS_TO_LATEST: snprintf(buf, len, "the latest offsets (skip to the end)"); break;
    default: snprintf(buf, len, "%s", kr_time_format(spec->time_ms, t, sizeof t)); break;
    }
    return buf;
}

char *kr_streams_reset_command(const json_t *app, const char *bootstrap,
                               const kr_streams_reset_spec_t *spec, int dry_run)
{
    char in[4096], mid[4096], internal[4096], to[64], t[40];
    const json_t *m = json_object_get(app, "intermediate_topics");
    const json_t *x = json_object_get(app, "internal_topics");
    if (spec->kind == KR_STREAMS_TO_EARLIEST)
        snprintf(to, sizeof to, "--to-earliest");
    else if (spec->kind == KR_STREAMS_TO_LATEST)
        snprintf(to, sizeof to, "--to-latest");
    else
        snprintf(to, sizeof to, "--to-datetime %s", kafka_datetime(spec->time_ms, t, sizeof t));
    joined(json_object_get(app, "input_topics"), ",", in, sizeof in);
    joined(m, ",", mid, sizeof mid);
    joined(x, ",", internal, sizeof internal);
    return fmt("kafka-streams-application-reset.sh --bootstrap-servers %s --application-id %s "
               "--input-topics %s%s%s%s%s %s%s",
               bootstrap ? bootstrap : "localhost:9092", str(app, "application_id"), in,
               json_array_size(m) ? " --intermediate-topics " : "", json_array_size(m) ? mid : "",
               json_array_size(x) ? " --internal-topics " : "", json_array_size(x) ? internal : "",
               to, dry_run ? " --dry-run" : "");
}

/* ------------------------------------------------------------------ marks */

static const char *const state_names[KR_MARK_NSTATES] = {
    "marked", "waiting-for-stop", "resetting", "done", "failed", "cancelled",
};

const char *kr_mark_state_name(kr_mark_state_t s)
{
    return s < KR_MARK_NSTATES ? state_names[s] : "unknown";
}

static int state_from_name(const char *s)
{
    for (int i = 0; s && i < KR_MARK_NSTATES; i++)
        if (strcmp(s, state_names[i]) == 0)
            return i;
    return -1;
}

static int is_final(kr_mark_state_t s) { return s >= KR_MARK_DONE; }

/* marked → waiting-for-stop | resetting | cancelled; waiting-for-stop → resetting |
 * cancelled | failed; resetting → waiting-for-stop (members came back, or a step failed
 * and will be retried) | done | failed | cancelled. */
static int transition_ok(kr_mark_state_t from, kr_mark_state_t to)
{
    switch (from) {
    case KR_MARK_MARKED: return to == KR_MARK_WAITING || to == KR_MARK_RESETTING || to == KR_MARK_CANCELLED ||
                                to == KR_MARK_FAILED;
    case KR_MARK_WAITING: return to == KR_MARK_RESETTING || to == KR_MARK_CANCELLED || to == KR_MARK_FAILED;
    case KR_MARK_RESETTING: return to == KR_MARK_WAITING || is_final(to);
    default: return 0;
    }
}

typedef enum {
    J_TOPICS = 0, J_COMMITTED, J_WATERMARKS, J_TIMES, J_PLAN, J_CONFIRM, J_COMMIT, J_DELETE, J_END
} phase_t;

static const char *const phase_names[] = {
    "topics", "committed", "watermarks", "offsets_for_times", "plan", "confirm", "commit", "delete", "end",
};

/* What one reset attempt learned so far. */
typedef struct {
    phase_t phase;
    kr_kafka_result_t *topics, *committed, *marks, *times;
    kr_streams_plan_t *plan;
    int committed_done;       /* the offsets commit succeeded in this attempt */
} job_t;

typedef struct mark mark_t;
struct mark {
    kr_streams_marks_t *set;
    char *id, *run_id, *incident, *cluster, *app_id, *bootstrap, *to;
    json_t *app;             /* normalized app config, as it was at marking */
    json_t *reason;          /* {incident, event_id, event_type, broker, time} */
    kr_streams_reset_spec_t spec;
    int dry_run;
    kr_mark_state_t state;
    char *message;
    int64_t created_ms, waiting_since_ms, wait_end_ms, ended_ms;
    json_t *steps;           /* [{time, step, message}] */
    json_t *plan;            /* the last plan (kr_streams_plan_json) */
    json_t *page;            /* the owners' page params, with "paged" */
    char *group_state;
    int members;             /* -1 unknown */
    int polls, attempts, reports;
    int64_t poll_ms;
    /* live only */
    kr_run_t *run;           /* NULL until started or resumed */
    struct event *timer;
    int busy;                /* a Kafka request is in flight */
    int cancel;
    job_t *job;
};

typedef struct {
    char *cluster;
    kr_kafka_t *k;
} client_t;

struct kr_streams_marks {
    struct event_base *base;
    const kr_config_t *cfg;
    kr_journal_t *journal;
    kr_metrics_t *metrics;
    kr_streams_hooks_t hooks;
    mark_t **v;
    size_t n, cap;
    client_t *clients;
    size_t nclients;
    int closing;
};

static void job_free(job_t *j)
{
    if (!j)
        return;
    kr_kafka_result_free(j->topics);
    kr_kafka_result_free(j->committed);
    kr_kafka_result_free(j->marks);
    kr_kafka_result_free(j->times);
    kr_streams_plan_free(j->plan);
    free(j);
}

static void mark_free(mark_t *mk)
{
    if (mk->timer)
        event_free(mk->timer);
    job_free(mk->job);
    free(mk->id);
    free(mk->run_id);
    free(mk->incident);
    free(mk->cluster);
    free(mk->app_id);
    free(mk->bootstrap);
    free(mk->to);
    free(mk->message);
    free(mk->group_state);
    json_decref(mk->app);
    json_decref(mk->reason);
    json_decref(mk->steps);
    json_decref(mk->plan);
    json_decref(mk->page);
    free(mk);
}

kr_streams_marks_t *kr_streams_marks_new(struct event_base *base, const kr_config_t *cfg,
                                         kr_journal_t *journal, kr_metrics_t *metrics)
{
    kr_streams_marks_t *m = calloc(1, sizeof *m);
    if (m) {
        m->base = base;
        m->cfg = cfg;
        m->journal = journal;
        m->metrics = metrics;
    }
    return m;
}

void kr_streams_marks_free(kr_streams_marks_t *m)
{
    if (!m)
        return;
    m->closing = 1;
    for (size_t i = 0; i < m->nclients; i++) {
        kr_kafka_free(m->clients[i].k);
        free(m->clients[i].cluster);
    }
    free(m->clients);
    for (size_t i = 0; i < m->n; i++)
        mark_free(m->v[i]);
    free(m->v);
    free(m);
}

void kr_streams_marks_set_hooks(kr_streams_marks_t *m, const kr_streams_hooks_t *hooks)
{
    m->hooks = *hooks;
}

static mark_t *find_mark(const kr_streams_marks_t *m, const char *id)
{
    for (size_t i = 0; id && i < m->n; i++)
        if (strcmp(m->v[i]->id, id) == 0)
            return m->v[i];
    return NULL;
}

size_t kr_streams_marks_count(const kr_streams_marks_t *m, kr_mark_state_t state)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += m->v[i]->state == state;
    return n;
}

static void update_gauges(kr_streams_marks_t *m)
{
    char labels[64];
    if (!m->metrics)
        return;
    for (int s = 0; s < KR_MARK_NSTATES; s++) {
        snprintf(labels, sizeof labels, "state=\"%s\"", state_names[s]);
        kr_metrics_set(m->metrics, KR_M_streams_marks, labels, (double)kr_streams_marks_count(m, s));
    }
}

static void journal(kr_streams_marks_t *m, json_t *rec)
{
    if (rec && m->journal)
        kr_journal_append(m->journal, rec, NULL, NULL, NULL);
    json_decref(rec);
}

static void set_message(mark_t *mk, const char *msg)
{
    free(mk->message);
    mk->message = strdup(msg ? msg : "");
}

/* A step: kept in the mark, journaled, and reported on the run (the pager's follow-ups).
 * detail (stolen, may be NULL) goes to the journal with it. */
static void step(mark_t *mk, const char *name, json_t *detail, const char *f, ...)
    __attribute__((format(printf, 4, 5)));
static void step(mark_t *mk, const char *name, json_t *detail, const char *f, ...)
{
    char msg[1024], now[40];
    va_list ap;
    va_start(ap, f);
    vsnprintf(msg, sizeof msg, f, ap);
    va_end(ap);
    kr_time_format(kr_now_ms(), now, sizeof now);
    json_array_append_new(mk->steps, json_pack("{s:s,s:s,s:s}", "time", now, "step", name, "message", msg));
    if (json_array_size(mk->steps) > MAX_STEPS)
        json_array_remove(mk->steps, 0);
    set_message(mk, msg);
    KR_INFO("streams", "msg=\"%s\" mark=%s step=%s", msg, mk->id, name);
    journal(mk->set, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o?}", "kind", "streams.step", "mark", mk->id, "step", name,
                               "time", now, "message", msg, "detail", detail));
    if (mk->run && kr_run_state(mk->run) == KR_RUN_RUNNING)
        kr_run_progress(mk->run, NULL, "%s: %s", mk->app_id, msg);
}

static void settle_run(kr_streams_marks_t *m, const char *run_id);

static int settled(const mark_t *mk)
{
    return is_final(mk->state) ||
           (mk->state == KR_MARK_MARKED && !mk->dry_run &&
            strcmp(str(mk->app, "auto_reset"), "when-stopped") != 0);
}

static void set_state(mark_t *mk, kr_mark_state_t to, const char *f, ...)
    __attribute__((format(printf, 3, 4)));
static void set_state(mark_t *mk, kr_mark_state_t to, const char *f, ...)
{
    kr_mark_state_t from = mk->state;
    char msg[1024];
    va_list ap;
    va_start(ap, f);
    vsnprintf(msg, sizeof msg, f, ap);
    va_end(ap);
    if (!transition_ok(from, to)) {
        KR_ERROR("streams", "msg=\"illegal transition ignored\" mark=%s from=%s to=%s", mk->id,
                 state_names[from], state_names[to]);
        return;
    }
    int64_t now = kr_now_ms();
    mk->state = to;
    set_message(mk, msg);
    if (to == KR_MARK_WAITING && !mk->waiting_since_ms)
        mk->waiting_since_ms = now;
    if (from == KR_MARK_WAITING)
        mk->wait_end_ms = now;
    if (is_final(to))
        mk->ended_ms = now;
    KR_INFO("streams", "msg=\"%s -> %s\" mark=%s app=%s message=\"%s\"", state_names[from],
            state_names[to], mk->id, mk->app_id, msg);
    journal(mk->set, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "kind", "streams.state", "mark", mk->id, "from",
                               state_names[from], "to", state_names[to], "message", msg, "at", (json_int_t)now));
    if (mk->run && kr_run_state(mk->run) == KR_RUN_RUNNING)
        kr_run_progress(mk->run, NULL, "%s: %s -> %s: %s", mk->app_id, state_names[from],
                        state_names[to], msg);
    if (is_final(to) && mk->set->metrics) {
        char labels[64];
        snprintf(labels, sizeof labels, "result=\"%s\"", mk->dry_run && to == KR_MARK_DONE ? "dry_run"
                                                                                         : state_names[to]);
        kr_metrics_add(mk->set->metrics, KR_M_streams_resets_total, labels, 1);
    }
    if (is_final(to) && mk->timer)
        evtimer_del(mk->timer);
    if (is_final(to)) {
        job_free(mk->job);
        mk->job = NULL;
    }
    update_gauges(mk->set);
    if (settled(mk))
        settle_run(mk->set, mk->run_id);
}

/* The run ends once all its marks are settled: failed if one failed, cancelled if one
 * was cancelled, else done. */
static void settle_run(kr_streams_marks_t *m, const char *run_id)
{
    kr_run_t *run = NULL;
    size_t total = 0, failed = 0, cancelled = 0;
    char msg[900] = "";
    size_t off = 0;
    for (size_t i = 0; i < m->n; i++) {
        mark_t *mk = m->v[i];
        if (strcmp(mk->run_id, run_id) != 0)
            continue;
        if (mk->run)
            run = mk->run;
        total++;
        if (!settled(mk))
            return;
        failed += mk->state == KR_MARK_FAILED;
        cancelled += mk->state == KR_MARK_CANCELLED;
        int w = snprintf(msg + off, sizeof msg - off, "%s%s: %s", off ? "; " : "", mk->app_id,
                         mk->state == KR_MARK_MARKED ? "marked (manual reset)" : state_names[mk->state]);
        if (w > 0 && (size_t)w < sizeof msg - off)
            off += (size_t)w;
    }
    if (!run || !total || kr_run_state(run) != KR_RUN_RUNNING)
        return;
    kr_run_finish(run, failed ? KR_EIO : cancelled ? KR_ESTATE : KR_OK, "%s", msg);
}

/* ------------------------------------------------------------------ Kafka */

static kr_kafka_t *client_for(kr_streams_marks_t *m, const mark_t *mk, char *err, size_t errlen)
{
    kr_kafka_t *k;
    client_t *nc;
    for (size_t i = 0; i < m->nclients; i++)
        if (strcmp(m->clients[i].cluster, mk->cluster) == 0)
            return m->clients[i].k;
    if (!mk->bootstrap || !*mk->bootstrap) {
        kr_seterr(err, errlen, KR_EINVAL, "cluster %s has no bootstrap_servers", mk->cluster);
        return NULL;
    }
    k = m->hooks.kafka ? m->hooks.kafka(mk->cluster, mk->bootstrap, m->hooks.arg, err, errlen)
                       : kr_kafka_new(m->base, mk->bootstrap, NULL, err, errlen);
    if (!k)
        return NULL;
    if (!(nc = realloc(m->clients, (m->nclients + 1) * sizeof *nc))) {
        kr_kafka_free(k);
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        return NULL;
    }
    m->clients = nc;
    nc[m->nclients].cluster = strdup(mk->cluster);
    nc[m->nclients].k = k;
    m->nclients++;
    return k;
}

static void poll_group(mark_t *mk);
static void job_next(mark_t *mk);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    mark_t *mk = arg;
    (void)fd;
    (void)what;
    if (mk->state == KR_MARK_WAITING)
        poll_group(mk);
}

/* Schedules the next poll after the current interval, then doubles it (up to poll_max). */
static void schedule_poll(mark_t *mk)
{
    int64_t max = json_integer_value(json_object_get(mk->app, "poll_max_ms"));
    struct timeval tv;
    if (!mk->timer && !(mk->timer = evtimer_new(mk->set->base, timer_cb, mk))) {
        KR_ERROR("streams", "msg=\"cannot create a timer\" mark=%s", mk->id);
        return;
    }
    tv.tv_sec = (time_t)(mk->poll_ms / 1000);
    tv.tv_usec = (suseconds_t)((mk->poll_ms % 1000) * 1000);
    evtimer_add(mk->timer, &tv);
    mk->poll_ms = mk->poll_ms * 2 > max ? max : mk->poll_ms * 2;
}

static int start_request(mark_t *mk, kr_kafka_op_t op, const kr_kafka_request_t *req,
                         kr_kafka_done_cb cb, char *err, size_t errlen)
{
    kr_kafka_t *k = client_for(mk->set, mk, err, errlen);
    int rc;
    if (!k)
        return KR_EINVAL;
    if ((rc = kr_kafka_start(k, op, req, cb, mk)) != KR_OK)
        return kr_seterr(err, errlen, rc, "cannot start %s: %s", kr_kafka_op_name(op), kr_strerror(rc));
    mk->busy = 1;
    return KR_OK;
}

/* Offsets committed / topics deleted so far, for messages about a stop midway. */
static const char *done_so_far(const mark_t *mk)
{
    if (!mk->job || !mk->job->committed_done)
        return "nothing was changed";
    if (mk->job->phase > J_DELETE)
        return "offsets were committed and internal topics deleted";
    return "the offsets were committed; the internal topics were not deleted";
}

/* One attempt failed: back to waiting (re-planned from Kafka's state once the group is
 * confirmed empty again) or, after MAX_ATTEMPTS, failed. Dry runs fail at once. */
static void attempt_failed(mark_t *mk, const char *what, const char *why)
{
    mk->attempts++;
    if (mk->dry_run || mk->attempts >= MAX_ATTEMPTS) {
        set_state(mk, KR_MARK_FAILED, "%s failed: %s (%s; attempt %d)", what, why, done_so_far(mk),
                  mk->attempts);
        return;
    }
    char d[32];
    set_state(mk, KR_MARK_WAITING, "%s failed: %s (%s); trying again in %s once the group is "
              "confirmed empty (attempt %d of %d)", what, why, done_so_far(mk),
              kr_duration_format(mk->poll_ms, d, sizeof d), mk->attempts, MAX_ATTEMPTS);
    job_free(mk->job);
    mk->job = NULL;
    schedule_poll(mk);
}

static void cancel_now(mark_t *mk)
{
    set_state(mk, KR_MARK_CANCELLED, "cancelled by operator%s%s",
              mk->state == KR_MARK_RESETTING ? ": " : "",
              mk->state == KR_MARK_RESETTING ? done_so_far(mk) : "");
}

/* Milestones at which a long wait is reported on the run (then every 24h). */
static int64_t report_at(int i)
{
    static const int64_t at[] = { 60000, 600000, 3600000, 6 * 3600000LL, 12 * 3600000LL };
    return i < 5 ? at[i] : (int64_t)(i - 3) * 24 * 3600000LL;
}

static void describe_cb(const kr_kafka_result_t *res, void *arg)
{
    mark_t *mk = arg;
    char d[32], w[32];
    if (mk->set->closing)
        return;
    mk->busy = 0;
    mk->polls++;
    const char *gs = res->result ? "unknown" : res->group_state ? res->group_state : "unknown";
    int members = res->result ? -1 : res->members;
    if (!mk->group_state || strcmp(mk->group_state, gs) != 0 || mk->members != members) {
        /* journaled when what the group looks like changes (not every poll), so a restart
         * and a journal dump show e.g. Stable 3 -> Stable 1 -> Empty 0 with the times */
        journal(mk->set, json_pack("{s:s,s:s,s:s,s:o,s:i,s:s?}", "kind", "streams.group", "mark", mk->id,
                                   "state", gs, "members", members >= 0 ? json_integer(members) : json_null(),
                                   "polls", mk->polls, "error",
                                   res->result ? (res->error ? res->error : kr_strerror(res->result)) : NULL));
    }
    free(mk->group_state);
    mk->group_state = strdup(gs);
    mk->members = members;
    if (mk->cancel) {
        cancel_now(mk);
        return;
    }
    if (mk->state == KR_MARK_RESETTING && mk->job && mk->job->phase == J_CONFIRM) {
        if (!res->result && res->members == 0) {
            step(mk, "confirm", NULL, "group %s has no members (%s): committing", mk->app_id, mk->group_state);
            mk->job->phase = J_COMMIT;
            job_next(mk);
            return;
        }
        set_state(mk, KR_MARK_WAITING, "group %s %s before the commit: waiting again (nothing was changed)",
                  mk->app_id, res->result ? "could not be described" : "has members again");
        job_free(mk->job);
        mk->job = NULL;
        schedule_poll(mk);
        return;
    }
    if (mk->state == KR_MARK_RESETTING) { /* a dry run's look at the group: reported, not a gate */
        step(mk, "group", json_pack("{s:s,s:i}", "state", mk->group_state, "members", mk->members),
             "group %s: %s, %s", mk->app_id, mk->group_state,
             res->result ? (res->error ? res->error : kr_strerror(res->result))
                         : res->members == 1 ? "1 member" : res->members ? "members present" : "no members");
        job_next(mk);
        return;
    }
    if (mk->state != KR_MARK_WAITING)
        return;
    int64_t waited = kr_now_ms() - mk->waiting_since_ms;
    if (!res->result && res->members == 0) {
        set_state(mk, KR_MARK_RESETTING, "group %s has no members (%s) after waiting %s: resetting",
                  mk->app_id, mk->group_state, kr_duration_format(waited, w, sizeof w));
        if (!(mk->job = calloc(1, sizeof *mk->job))) {
            set_state(mk, KR_MARK_FAILED, "out of memory");
            return;
        }
        job_next(mk);
        return;
    }
    if (waited >= report_at(mk->reports)) {
        mk->reports++;
        step(mk, "waiting", json_pack("{s:s,s:i,s:i}", "state", mk->group_state, "members", mk->members,
                                      "polls", mk->polls),
             "still waiting for every instance of %s to stop after %s: %s", mk->app_id,
             kr_duration_format(waited, w, sizeof w),
             res->result ? (res->error ? res->error : kr_strerror(res->result)) : "group has members");
    }
    KR_DEBUG("streams", "msg=\"group not empty\" mark=%s state=%s members=%d next_ms=%lld", mk->id,
             mk->group_state, mk->members, (long long)mk->poll_ms);
    {
        char msg[700];
        if (res->result)
            snprintf(msg, sizeof msg, "waiting %s: cannot confirm that group %s has no members (%s); "
                     "asking again in %s", kr_duration_format(waited, w, sizeof w), mk->app_id,
                     res->error ? res->error : kr_strerror(res->result), kr_duration_format(mk->poll_ms, d, sizeof d));
        else
            snprintf(msg, sizeof msg, "waiting %s: group %s is %s with %d member%s; asking again in %s",
                     kr_duration_format(waited, w, sizeof w), mk->app_id, mk->group_state, mk->members,
                     mk->members == 1 ? "" : "s", kr_duration_format(mk->poll_ms, d, sizeof d));
        set_message(mk, msg);
    }
    schedule_poll(mk);
}

static void poll_group(mark_t *mk)
{
    kr_kafka_request_t req;
    char err[512];
    memset(&req, 0, sizeof req);
    req.group = mk->app_id;
    req.timeout_ms = REQUEST_TIMEOUT_MS;
    if (mk->busy)
        return;
    if (start_request(mk, KR_KAFKA_DESCRIBE_GROUP, &req, describe_cb, err, sizeof err) != KR_OK) {
        if (mk->state == KR_MARK_WAITING) {
            set_message(mk, err);
            schedule_poll(mk);
        } else {
            set_state(mk, KR_MARK_FAILED, "%s", err);
        }
    }
}

/* ---- the reset steps ---- */

typedef struct {
    kr_kafka_tp_t *v;
    size_t n;
} tps_t;

static int tps_add(tps_t *l, const char *topic, int32_t p, int64_t offset)
{
    kr_kafka_tp_t *a = realloc(l->v, (l->n + 1) * sizeof *a);
    if (!a)
        return KR_ENOMEM;
    l->v = a;
    a[l->n].topic = topic;
    a[l->n].partition = p;
    a[l->n].offset = offset;
    l->n++;
    return KR_OK;
}

/* Every partition of topic (when it exists) into l. */
static int add_topic(tps_t *l, const kr_kafka_result_t *topics, const char *topic, int64_t offset)
{
    for (size_t i = 0; i < topics->n_topics; i++)
        if (!topics->topics[i].err && strcmp(topics->topics[i].name, topic) == 0) {
            for (int p = 0; p < topics->topics[i].partitions; p++)
                if (tps_add(l, topics->topics[i].name, p, offset))
                    return KR_ENOMEM;
            break;
        }
    return KR_OK;
}

/* Inputs and intermediates (inputs only with only_inputs). */
static int add_app_topics(tps_t *l, const mark_t *mk, const kr_kafka_result_t *topics, int only_inputs,
                          int64_t offset)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(mk->app, "input_topics"), i, t)
        if (add_topic(l, topics, json_string_value(t), offset))
            return KR_ENOMEM;
    if (!only_inputs)
        json_array_foreach(json_object_get(mk->app, "intermediate_topics"), i, t)
            if (add_topic(l, topics, json_string_value(t), offset))
                return KR_ENOMEM;
    return KR_OK;
}

static void job_cb(const kr_kafka_result_t *res, void *arg);

static int64_t reset_time(const mark_t *mk)
{
    return mk->spec.kind == KR_STREAMS_TO_DATETIME ? mk->spec.time_ms : -1;
}

/* The planner's view of what the job learned. */
static int make_plan(mark_t *mk, char *err, size_t errlen)
{
    job_t *j = mk->job;
    kr_streams_input_t in;
    kr_streams_topic_t *st = NULL;
    kr_streams_committed_t *sc = NULL;
    kr_streams_resolved_t *sr = NULL;
    const char **lists[3] = { NULL, NULL, NULL };
    const char *keys[3] = { "input_topics", "intermediate_topics", "internal_topics" };
    size_t counts[3];
    int rc = KR_ENOMEM;

    memset(&in, 0, sizeof in);
    for (int k = 0; k < 3; k++) {
        json_t *a = json_object_get(mk->app, keys[k]);
        counts[k] = json_array_size(a);
        if (!(lists[k] = calloc(counts[k] + 1, sizeof *lists[k])))
            goto done;
        for (size_t i = 0; i < counts[k]; i++)
            lists[k][i] = json_string_value(json_array_get(a, i));
    }
    if (!(st = calloc(j->topics->n_topics + 1, sizeof *st)))
        goto done;
    for (size_t i = 0; i < j->topics->n_topics; i++)
        if (!j->topics->topics[i].err) {
            st[in.n_topics].name = j->topics->topics[i].name;
            st[in.n_topics++].partitions = j->topics->topics[i].partitions;
        }
    if (j->committed) {
        if (!(sc = calloc(j->committed->n_partitions + 1, sizeof *sc)))
            goto done;
        for (size_t i = 0; i < j->committed->n_partitions; i++) {
            const kr_kafka_partition_t *p = &j->committed->partitions[i];
            sc[i].topic = p->topic;
            sc[i].partition = p->partition;
            sc[i].offset = p->err ? -1 : p->offset;
        }
        in.n_committed = j->committed->n_partitions;
    }
    if (j->marks) {
        if (!(sr = calloc(j->marks->n_partitions + 1, sizeof *sr)))
            goto done;
        for (size_t i = 0; i < j->marks->n_partitions; i++) {
            const kr_kafka_partition_t *p = &j->marks->partitions[i];
            sr[i].topic = p->topic;
            sr[i].partition = p->partition;
            sr[i].low = p->low;
            sr[i].high = p->high;
            sr[i].time_offset = -1;
            if (!j->times)
                continue;
            /* both requests listed the input partitions first and in the same order, so
             * the answer at the same index is the one (else search: any order is correct) */
            if (i >= j->times->n_partitions)
                continue; /* an intermediate partition: its target is its end */
            const kr_kafka_partition_t *tp = &j->times->partitions[i];
            if (tp->partition != p->partition || strcmp(tp->topic, p->topic) != 0) {
                tp = NULL;
                for (size_t t = 0; t < j->times->n_partitions && !tp; t++)
                    if (j->times->partitions[t].partition == p->partition &&
                        strcmp(j->times->partitions[t].topic, p->topic) == 0)
                        tp = &j->times->partitions[t];
            }
            if (tp && !tp->err)
                sr[i].time_offset = tp->offset;
        }
        in.n_resolved = j->marks->n_partitions;
    }
    in.application_id = mk->app_id;
    in.input_topics = lists[0];
    in.n_input = counts[0];
    in.intermediate_topics = lists[1];
    in.n_intermediate = counts[1];
    in.topology_topics = lists[2];
    in.n_topology = counts[2];
    in.topics = st;
    in.committed = sc;
    in.spec = mk->spec;
    in.resolved = sr;
    kr_streams_plan_free(j->plan);
    j->plan = NULL;
    rc = kr_streams_plan(&in, &j->plan, err, errlen);
done:
    if (rc == KR_ENOMEM && !err[0])
        kr_seterr(err, errlen, rc, "out of memory");
    for (int k = 0; k < 3; k++)
        free(lists[k]);
    free(st);
    free(sc);
    free(sr);
    return rc;
}

/* Reports the plan; returns 0 to go on, or a state change was made. */
static void report_plan(mark_t *mk)
{
    const kr_streams_plan_t *p = mk->job->plan;
    char t[40];
    json_decref(mk->plan);
    mk->plan = kr_streams_plan_json(p);
    size_t fell = 0;
    for (size_t i = 0; i < p->n_offsets; i++)
        fell += p->offsets[i].fell_back_to_end != 0;
    step(mk, "plan", json_incref(mk->plan),
         "plan: %zu partition offset%s to reset (to %s%s), %zu internal topic%s to delete%s%s",
         p->n_offsets, p->n_offsets == 1 ? "" : "s",
         mk->spec.kind == KR_STREAMS_TO_DATETIME ? kr_time_format(mk->spec.time_ms, t, sizeof t)
                                                 : mk->spec.kind == KR_STREAMS_TO_LATEST ? "latest" : "earliest",
         fell ? "; partitions without a record since then go to their end" : "", p->n_delete,
         p->n_delete == 1 ? "" : "s",
         p->n_unconfirmed ? "; topics named like its internal topics without evidence are left alone" : "",
         p->n_missing ? "; some listed topics do not exist" : "");
}

static void job_next(mark_t *mk)
{
    job_t *j = mk->job;
    kr_kafka_request_t req;
    tps_t l = { NULL, 0 };
    const char **del = NULL;
    char err[512] = "";
    kr_kafka_op_t op = KR_KAFKA_OP_COUNT;

    if (mk->cancel) {
        cancel_now(mk);
        return;
    }
    memset(&req, 0, sizeof req);
    req.timeout_ms = REQUEST_TIMEOUT_MS;
    for (;;) {
        switch (j->phase) {
        case J_TOPICS:
            op = KR_KAFKA_LIST_TOPICS;
            break;
        case J_COMMITTED:
            /* inputs, intermediates, and topics named like internal topics of the app (their
             * commits are the evidence that they are this app's) */
            if (add_app_topics(&l, mk, j->topics, 0, -1))
                goto nomem;
            for (size_t i = 0; i < j->topics->n_topics; i++) {
                const char *t = j->topics->topics[i].name;
                if (!j->topics->topics[i].err && kr_streams_is_internal_name(mk->app_id, t) &&
                    !in_strings(json_object_get(mk->app, "input_topics"), t) &&
                    !in_strings(json_object_get(mk->app, "intermediate_topics"), t) && add_topic(&l, j->topics, t, -1))
                    goto nomem;
            }
            if (!l.n) {
                j->phase++;
                continue;
            }
            req.group = mk->app_id;
            op = KR_KAFKA_COMMITTED;
            break;
        case J_WATERMARKS:
            if (add_app_topics(&l, mk, j->topics, 0, -1))
                goto nomem;
            if (!l.n) {
                j->phase++;
                continue;
            }
            op = KR_KAFKA_WATERMARKS;
            break;
        case J_TIMES:
            if (reset_time(mk) < 0) {
                j->phase++;
                continue;
            }
            if (add_app_topics(&l, mk, j->topics, 1, reset_time(mk)))
                goto nomem;
            if (!l.n) {
                j->phase++;
                continue;
            }
            op = KR_KAFKA_OFFSETS_FOR_TIMES;
            break;
        case J_PLAN:
            if (make_plan(mk, err, sizeof err) != KR_OK) {
                set_state(mk, KR_MARK_FAILED, "the reset cannot be planned: %s", err);
                goto done;
            }
            report_plan(mk);
            if (mk->dry_run) {
                set_state(mk, KR_MARK_DONE, "dry run: planned %zu offset%s and %zu topic deletion%s; nothing changed",
                          j->plan->n_offsets, j->plan->n_offsets == 1 ? "" : "s", j->plan->n_delete,
                          j->plan->n_delete == 1 ? "" : "s");
                goto done;
            }
            if (j->plan->n_missing) {
                set_state(mk, KR_MARK_FAILED, "topic %s%s does not exist: nothing was changed (fix "
                          "streams_apps or the cluster, then reset by hand)", j->plan->missing_topics[0],
                          j->plan->n_missing > 1 ? " (and others)" : "");
                goto done;
            }
            j->phase = J_CONFIRM;
            continue;
        case J_CONFIRM:
            /* the app may have started again while we read: ask once more right before the
             * first write */
            poll_group(mk);
            goto done;
        case J_COMMIT:
            for (size_t i = 0; i < j->plan->n_offsets; i++)
                if (tps_add(&l, j->plan->offsets[i].topic, j->plan->offsets[i].partition, j->plan->offsets[i].target))
                    goto nomem;
            if (!l.n) {
                j->phase++;
                continue;
            }
            req.group = mk->app_id;
            op = KR_KAFKA_COMMIT;
            break;
        case J_DELETE:
            if (!j->plan->n_delete) {
                j->phase++;
                continue;
            }
            if (!(del = calloc(j->plan->n_delete, sizeof *del)))
                goto nomem;
            for (size_t i = 0; i < j->plan->n_delete; i++)
                del[i] = j->plan->delete_topics[i];
            req.topics = del;
            req.n_topics = j->plan->n_delete;
            op = KR_KAFKA_DELETE_TOPICS;
            break;
        case J_END:
        default: {
            char t[40];
            set_state(mk, KR_MARK_DONE, "reset to %s: %zu offset%s committed, %zu internal topic%s deleted; "
                      "start the application with its local state cleaned (KafkaStreams#cleanUp())",
                      mk->spec.kind == KR_STREAMS_TO_DATETIME ? kr_time_format(mk->spec.time_ms, t, sizeof t)
                      : mk->spec.kind == KR_STREAMS_TO_LATEST ? "latest" : "earliest",
                      j->plan->n_offsets, j->plan->n_offsets == 1 ? "" : "s", j->plan->n_delete,
                      j->plan->n_delete == 1 ? "" : "s");
            goto done;
        }
        }
        break;
    }
    req.partitions = l.v;
    req.n_partitions = l.n;
    if (start_request(mk, op, &req, job_cb, err, sizeof err) != KR_OK)
        attempt_failed(mk, phase_names[j->phase], err);
    goto done;
nomem:
    set_state(mk, KR_MARK_FAILED, "out of memory");
done:
    free(l.v);
    free(del);
}

static void job_cb(const kr_kafka_result_t *res, void *arg)
{
    mark_t *mk = arg;
    job_t *j = mk->job;
    char why[600];
    if (mk->set->closing)
        return;
    mk->busy = 0;
    if (!j || mk->state != KR_MARK_RESETTING)
        return;
    if (res->result) {
        if (mk->cancel)
            cancel_now(mk);
        else
            attempt_failed(mk, phase_names[j->phase], res->error ? res->error : kr_strerror(res->result));
        return;
    }
    switch (j->phase) {
    case J_TOPICS:
        j->topics = kr_kafka_result_copy(res);
        step(mk, "topics", NULL, "read the topic list (%zu topics)", res->n_topics);
        break;
    case J_COMMITTED:
        j->committed = kr_kafka_result_copy(res);
        step(mk, "committed", NULL, "read the group's committed offsets (%zu partitions)", res->n_partitions);
        break;
    case J_WATERMARKS:
        j->marks = kr_kafka_result_copy(res);
        step(mk, "watermarks", NULL, "read the watermarks (%zu partitions)", res->n_partitions);
        break;
    case J_TIMES:
        j->times = kr_kafka_result_copy(res);
        step(mk, "offsets_for_times", NULL, "looked up the offsets for the reset time (%zu partitions)",
             res->n_partitions);
        break;
    case J_COMMIT:
        for (size_t i = 0; i < res->n_partitions; i++)
            if (res->partitions[i].err) {
                snprintf(why, sizeof why, "partition %d of %s: %s", (int)res->partitions[i].partition,
                         res->partitions[i].topic,
                         res->partitions[i].errstr ? res->partitions[i].errstr : kr_strerror(res->partitions[i].err));
                attempt_failed(mk, "commit", why);
                return;
            }
        j->committed_done = 1;
        step(mk, "commit", NULL, "committed %zu offsets for group %s", res->n_partitions, mk->app_id);
        break;
    case J_DELETE: {
        size_t gone = 0;
        for (size_t i = 0; i < res->n_topics; i++) {
            if (res->topics[i].err == KR_ENOTFOUND) {
                gone++;
                continue;
            }
            if (res->topics[i].err) {
                snprintf(why, sizeof why, "topic %s: %s", res->topics[i].name,
                         res->topics[i].errstr ? res->topics[i].errstr : kr_strerror(res->topics[i].err));
                attempt_failed(mk, "delete", why);
                return;
            }
        }
        char list[2048];
        json_t *names = json_array();
        for (size_t i = 0; i < res->n_topics; i++)
            json_array_append_new(names, json_string(res->topics[i].name));
        step(mk, "delete", names, "deleted the internal topics %s%s", joined(names, ", ", list, sizeof list),
             gone ? " (some were already gone)" : "");
        break;
    }
    default:
        break;
    }
    j->phase++;
    job_next(mk);
}

/* ------------------------------------------------------------------ page */

static json_t *page_params(const mark_t *mk)
{
    char when[64], apps[4096];
    const char *id = mk->app_id;
    int autoreset = strcmp(str(mk->app, "auto_reset"), "when-stopped") == 0;
    const char *reason_text = str(mk->reason, "text");
    char *cmd_dry = kr_streams_reset_command(mk->app, mk->bootstrap, &mk->spec, 1);
    char *cmd = kr_streams_reset_command(mk->app, mk->bootstrap, &mk->spec, 0);
    char *details = NULL, *summary = NULL;
    json_t *out = NULL;

    spec_words(&mk->spec, when, sizeof when);
    joined(json_object_get(mk->app, "input_topics"), ", ", apps, sizeof apps);
    if (!cmd || !cmd_dry)
        goto done;
    summary = fmt("Kafka Streams app %s (%s) must be reset to %s: stop every instance", id, mk->cluster, when);
    if (autoreset)
        details = fmt("Kafka Streams application %s on cluster %s must be reset to %s.\n"
                      "Reason: %s.\n"
                      "Steps:\n"
                      "1. Stop every instance of %s (its consumer group %s must have no members).\n"
                      "2. kresponder will then reset it: offsets of the input topics (%s) to %s, "
                      "intermediate topics to their end, and the internal topics that are confirmed "
                      "to be %s's deleted. Progress is reported here.\n"
                      "3. Start the application with its local state cleaned: call "
                      "KafkaStreams#cleanUp() before KafkaStreams#start() (or delete "
                      "<state.dir>/%s on every instance).\n"
                      "kresponder never resets a group that has members. To do it by hand instead "
                      "(Kafka 3.x), once every instance is stopped:\n%s\n",
                      id, mk->cluster, when, reason_text ? reason_text : "-", id, id, apps, when, id, id, cmd);
    else
        details = fmt("Kafka Streams application %s on cluster %s must be reset to %s.\n"
                      "Reason: %s.\n"
                      "Steps (kresponder does not reset this app: auto_reset is never):\n"
                      "1. Stop every instance of %s (its consumer group %s must have no members).\n"
                      "2. Check what Kafka's tool would do (Kafka 3.x):\n%s\n"
                      "%s"
                      "3. Reset it:\n%s\n"
                      "4. Start the application with its local state cleaned: call "
                      "KafkaStreams#cleanUp() before KafkaStreams#start() (or delete "
                      "<state.dir>/%s on every instance).\n",
                      id, mk->cluster, when, reason_text ? reason_text : "-", id, id, cmd_dry,
                      json_array_size(json_object_get(mk->app, "internal_topics"))
                          ? ""
                          : "   Kafka's tool picks the internal topics by name prefix: check that the "
                            "dry run lists no topic of another application (one whose id starts with "
                            "the same prefix), else name them with --internal-topics.\n",
                      cmd, id);
    if (!summary || !details)
        goto done;
    out = json_pack("{s:O,s:s,s:s,s:s}", "to", json_object_get(mk->app, "owners"), "summary", summary,
                    "details", details, "severity", "warning");
done:
    free(cmd);
    free(cmd_dry);
    free(summary);
    free(details);
    return out;
}

static void page_owners(mark_t *mk, const json_t *event)
{
    kr_streams_marks_t *m = mk->set;
    char err[512] = "", page_id[300];
    json_t *params = page_params(mk);
    if (!params) {
        step(mk, "page", NULL, "the owners' page could not be built (out of memory)");
        return;
    }
    json_decref(mk->page);
    mk->page = json_deep_copy(params);
    if (!json_array_size(json_object_get(params, "to"))) {
        json_object_set_new(mk->page, "paged", json_false());
        step(mk, "page", json_incref(mk->page), "no owners configured for %s: nobody paged", mk->app_id);
    } else if (mk->dry_run) {
        json_object_set_new(mk->page, "paged", json_false());
        step(mk, "page", json_incref(mk->page), "dry run: owners not paged (the page is in the mark)");
    } else if (!m->hooks.page) {
        json_object_set_new(mk->page, "paged", json_false());
        step(mk, "page", json_incref(mk->page), "no pager in this process: owners not paged");
    } else {
        snprintf(page_id, sizeof page_id, "%s/page", mk->id);
        int rc = m->hooks.page(page_id, mk->incident, params, event, m->hooks.arg, err, sizeof err);
        json_object_set_new(mk->page, "paged", json_boolean(rc == KR_OK));
        if (rc == KR_OK)
            step(mk, "page", json_incref(mk->page), "paged the owners (%s)",
                 json_string_value(json_array_get(json_object_get(params, "to"), 0)));
        else
            step(mk, "page", json_incref(mk->page), "paging the owners failed: %s", err);
    }
    json_decref(params);
}

/* ------------------------------------------------------------------ start / cancel / resume */

static int add_mark(kr_streams_marks_t *m, mark_t *mk)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        mark_t **nv = realloc(m->v, cap * sizeof *nv);
        if (!nv)
            return KR_ENOMEM;
        m->v = nv;
        m->cap = cap;
    }
    m->v[m->n++] = mk;
    return KR_OK;
}

static mark_t *mark_new(kr_streams_marks_t *m)
{
    mark_t *mk = calloc(1, sizeof *mk);
    if (mk) {
        mk->set = m;
        mk->members = -1;
        mk->steps = json_array();
        mk->message = strdup("");
        if (!mk->steps || !mk->message) {
            mark_free(mk);
            return NULL;
        }
    }
    return mk;
}

/* Begins what a fresh (or resumed) mark does next. */
static void mark_go(mark_t *mk)
{
    int autoreset = strcmp(str(mk->app, "auto_reset"), "when-stopped") == 0;
    mk->poll_ms = json_integer_value(json_object_get(mk->app, "poll_interval_ms"));
    if (mk->poll_ms <= 0)
        mk->poll_ms = DEFAULT_POLL_MS;
    if (mk->dry_run) {
        if (mk->state == KR_MARK_MARKED)
            set_state(mk, KR_MARK_RESETTING, "dry run: planning only, nothing will change");
        else if (mk->state != KR_MARK_RESETTING)
            return;
        job_free(mk->job);
        if (!(mk->job = calloc(1, sizeof *mk->job))) {
            set_state(mk, KR_MARK_FAILED, "out of memory");
            return;
        }
        /* a dry run looks at the group (reported), then plans */
        kr_kafka_request_t req;
        char err[512];
        memset(&req, 0, sizeof req);
        req.group = mk->app_id;
        req.timeout_ms = REQUEST_TIMEOUT_MS;
        if (start_request(mk, KR_KAFKA_DESCRIBE_GROUP, &req, describe_cb, err, sizeof err) != KR_OK)
            set_state(mk, KR_MARK_FAILED, "%s", err);
        return;
    }
    if (!autoreset)
        return; /* marked: the owners reset it by hand */
    if (mk->state == KR_MARK_MARKED)
        set_state(mk, KR_MARK_WAITING, "waiting for every instance of %s to stop (group %s must have no members)",
                  mk->app_id, mk->app_id);
    else if (mk->state == KR_MARK_RESETTING)
        set_state(mk, KR_MARK_WAITING, "interrupted by a restart while resetting: confirming again that the "
                  "group has no members, then re-planning from Kafka's current state");
    if (mk->state == KR_MARK_WAITING)
        poll_group(mk);
}

static json_t *touched_topics(kr_streams_marks_t *m, const char *cluster, int broker, const json_t *event)
{
    json_t *out = m->hooks.touched_topics ? m->hooks.touched_topics(cluster, broker, m->hooks.arg) : NULL;
    const char *lists[] = { "led", "held" };
    if (!out)
        out = json_array();
    for (int k = 0; out && k < 2; k++) {
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(json_object_get(event, "partitions"), lists[k]), i, p) {
            const char *t = str(p, "topic");
            if (t && !in_strings(out, t))
                json_array_append_new(out, json_string(t));
        }
    }
    return out;
}

static json_t *reason_json(const kr_run_t *run, const json_t *ev)
{
    const json_t *b = json_object_get(ev, "broker");
    const char *type = str(ev, "type"), *time = str(ev, "time");
    char text[600], bs[200] = "";
    json_t *bid = json_object_get(b, "id");
    if (json_is_integer(bid))
        snprintf(bs, sizeof bs, "broker %lld%s%s%s%s%s", (long long)json_integer_value(bid),
                 str(b, "host") ? " (" : "", str(b, "host") ? str(b, "host") : "",
                 str(b, "rack") ? ", rack " : "", str(b, "rack") ? str(b, "rack") : "", str(b, "host") ? ")" : "");
    snprintf(text, sizeof text, "incident %s: %s%s%s at %s", kr_run_incident_id(run), type ? type : "event",
             bs[0] ? " of " : "", bs, time ? time : "an unknown time");
    return json_pack("{s:s,s:s?,s:s?,s:O?,s:s?,s:s}", "incident", kr_run_incident_id(run), "event_id",
                     str(ev, "id"), "event_type", type, "broker", bid, "time", time, "text", text);
}

int kr_streams_marks_start(kr_streams_marks_t *m, kr_run_t *run, char *err, size_t errlen)
{
    const json_t *params = kr_run_params(run), *ev = kr_run_event(run);
    const json_t *which = json_object_get(params, "apps");
    const char *cluster = str(ev, "cluster"), *bootstrap = NULL, *to = str(params, "to");
    json_t *apps = NULL, *chosen = NULL, *touched = NULL;
    kr_streams_reset_spec_t spec;
    int64_t incident_ms = 0;
    int cluster_dry = 0, rc = KR_OK;
    size_t i;
    json_t *v;

    if (!cluster)
        return kr_seterr(err, errlen, KR_EINVAL, "mark_streams_reset needs the event's cluster, and this "
                         "event names none");
    if (!(apps = kr_streams_apps(m->cfg, cluster, &bootstrap, &cluster_dry, err, errlen)))
        return KR_EINVAL;
    if (!str(ev, "time") || kr_time_parse(str(ev, "time"), &incident_ms) != 0)
        incident_ms = kr_run_created_ms(run) ? kr_run_created_ms(run) : kr_now_ms();
    if ((rc = kr_streams_resolve_to(to, incident_ms, &spec, err, errlen)) != KR_OK)
        goto done;
    if (json_is_string(which) && strcmp(json_string_value(which), "affected") == 0) {
        json_t *bid = json_object_get(json_object_get(ev, "broker"), "id");
        if (!json_is_integer(bid)) {
            rc = kr_seterr(err, errlen, KR_EINVAL, "apps: affected needs the event's broker.id (the lost broker)");
            goto done;
        }
        touched = touched_topics(m, cluster, (int)json_integer_value(bid), ev);
        const char **tv = calloc(json_array_size(touched) + 1, sizeof *tv);
        if (!tv) {
            rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
            goto done;
        }
        json_array_foreach(touched, i, v)
            tv[i] = json_string_value(v);
        chosen = kr_streams_affected(apps, tv, json_array_size(touched));
        free(tv);
        if (!chosen) {
            rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
            goto done;
        }
        if (!json_array_size(chosen)) {
            kr_run_finish(run, KR_OK, "no Streams app of cluster %s uses a partition broker %lld led or held "
                          "(%zu topics checked): nothing to mark", cluster, (long long)json_integer_value(bid),
                          json_array_size(touched));
            goto done;
        }
    } else {
        chosen = json_array();
        if (json_is_string(which))
            json_array_append(chosen, (json_t *)which);
        else
            json_array_extend(chosen, (json_t *)which);
        json_array_foreach(chosen, i, v) {
            int found = 0;
            for (size_t k = 0; k < json_array_size(apps); k++)
                found |= json_is_string(v) && !strcmp(str(json_array_get(apps, k), "application_id"), json_string_value(v));
            if (!found) {
                char known[2048] = "", *p = known;
                for (size_t k = 0; k < json_array_size(apps); k++)
                    p += snprintf(p, (size_t)(known + sizeof known - p), "%s%s", k ? ", " : "",
                                  str(json_array_get(apps, k), "application_id"));
                rc = kr_seterr(err, errlen, KR_ENOTFOUND, "cluster %s has no Streams app \"%s\" in streams_apps "
                               "(known: %s)", cluster, json_is_string(v) ? json_string_value(v) : "?",
                               known[0] ? known : "none");
                goto done;
            }
        }
    }

    /* one mark per app, journaled before anything is done for it */
    size_t first = m->n;
    json_array_foreach(chosen, i, v) {
        json_t *app = NULL;
        for (size_t k = 0; k < json_array_size(apps); k++)
            if (!strcmp(str(json_array_get(apps, k), "application_id"), json_string_value(v)))
                app = json_array_get(apps, k);
        mark_t *mk = mark_new(m);
        char id[400], rt[40];
        if (!mk || add_mark(m, mk) != KR_OK) {
            if (mk)
                mark_free(mk);
            rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
            goto done;
        }
        snprintf(id, sizeof id, "%s/%s", kr_run_id(run), json_string_value(v));
        mk->id = strdup(id);
        mk->run_id = strdup(kr_run_id(run));
        mk->incident = strdup(kr_run_incident_id(run));
        mk->cluster = strdup(cluster);
        mk->app_id = strdup(json_string_value(v));
        mk->bootstrap = bootstrap ? strdup(bootstrap) : NULL;
        mk->to = strdup(to ? to : "incident");
        mk->app = json_incref(app);
        mk->reason = reason_json(run, ev);
        mk->spec = spec;
        mk->dry_run = kr_run_dry_run(run) || cluster_dry;
        mk->created_ms = kr_now_ms();
        mk->run = run;
        journal(m, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:s?,s:O,s:s,s:{s:s,s:s?},s:b,s:I}", "kind",
                             "streams.mark", "mark", mk->id, "run", mk->run_id, "incident", mk->incident,
                             "cluster", mk->cluster, "app_id", mk->app_id, "app", mk->app, "bootstrap",
                             mk->bootstrap, "reason", mk->reason, "to", mk->to, "reset", "to",
                             spec.kind == KR_STREAMS_TO_DATETIME ? "datetime"
                             : spec.kind == KR_STREAMS_TO_LATEST ? "latest" : "earliest",
                             "time", spec.kind == KR_STREAMS_TO_DATETIME ? kr_time_format(spec.time_ms, rt, sizeof rt) : NULL,
                             "dry_run", mk->dry_run, "created", (json_int_t)mk->created_ms));
        KR_INFO("streams", "msg=\"marked for reset\" mark=%s cluster=%s app=%s to=%s dry_run=%d", mk->id,
                cluster, mk->app_id, mk->to, mk->dry_run);
    }
    update_gauges(m);
    {
        char list[2048], t[64];
        kr_run_progress(run, json_pack("{s:O}", "apps", chosen), "marked %s for reset to %s%s",
                        joined(chosen, ", ", list, sizeof list), spec_words(&spec, t, sizeof t),
                        kr_run_dry_run(run) || cluster_dry ? " (dry run)" : "");
    }
    for (size_t k = first; k < m->n; k++)
        page_owners(m->v[k], ev);
    for (size_t k = first; k < m->n; k++)
        mark_go(m->v[k]);
    settle_run(m, kr_run_id(run));
done:
    json_decref(apps);
    json_decref(chosen);
    json_decref(touched);
    return rc;
}

/* Stops one mark now, or after the Kafka request in flight. */
static void cancel_mark(mark_t *mk)
{
    if (mk->busy) {
        mk->cancel = 1; /* the request in flight finishes first; its callback stops */
        step(mk, "cancel", NULL, "cancel requested: stopping after the Kafka request in flight");
    } else {
        if (mk->timer)
            evtimer_del(mk->timer);
        cancel_now(mk);
    }
}

int kr_streams_mark_cancel(kr_streams_marks_t *m, const char *id, char *err, size_t errlen)
{
    mark_t *mk = find_mark(m, id);
    if (!mk)
        return kr_seterr(err, errlen, KR_ENOTFOUND, "no Streams reset mark %s", id);
    if (is_final(mk->state))
        return kr_seterr(err, errlen, KR_ESTATE, "mark %s is already %s", id, state_names[mk->state]);
    if (mk->cancel)
        return KR_OK;
    cancel_mark(mk);
    return KR_OK;
}

void kr_streams_marks_cancel(kr_streams_marks_t *m, kr_run_t *run)
{
    int any = 0;
    for (size_t i = 0; i < m->n; i++) {
        mark_t *mk = m->v[i];
        if (strcmp(mk->run_id, kr_run_id(run)) != 0 || is_final(mk->state))
            continue;
        any = 1;
        mk->run = run;
        if (!mk->cancel)
            cancel_mark(mk);
    }
    if (!any && kr_run_state(run) == KR_RUN_RUNNING)
        kr_run_finish(run, KR_ESTATE, "cancelled by operator");
}

int kr_streams_marks_resume(kr_streams_marks_t *m, kr_run_t *run, char *err, size_t errlen)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        mark_t *mk = m->v[i];
        if (strcmp(mk->run_id, kr_run_id(run)) != 0)
            continue;
        n++;
        mk->run = run;
    }
    if (!n) /* journaled as running, but no mark was written: marking is its first run */
        return kr_streams_marks_start(m, run, err, errlen);
    for (size_t i = 0; i < m->n; i++) {
        mark_t *mk = m->v[i];
        if (strcmp(mk->run_id, kr_run_id(run)) != 0 || is_final(mk->state))
            continue;
        step(mk, "resume", NULL, "resuming after a restart (%s)", state_names[mk->state]);
        if (!mk->page)
            page_owners(mk, kr_run_event(run));
        mark_go(mk);
    }
    settle_run(m, kr_run_id(run));
    return KR_OK;
}

/* ------------------------------------------------------------------ journal */

static int spec_from_json(const json_t *reset, kr_streams_reset_spec_t *spec)
{
    const char *to = str(reset, "to");
    memset(spec, 0, sizeof *spec);
    if (!to)
        return KR_EINVAL;
    if (!strcmp(to, "earliest"))
        spec->kind = KR_STREAMS_TO_EARLIEST;
    else if (!strcmp(to, "latest"))
        spec->kind = KR_STREAMS_TO_LATEST;
    else if (!strcmp(to, "datetime") && str(reset, "time") && kr_time_parse(str(reset, "time"), &spec->time_ms) == 0)
        spec->kind = KR_STREAMS_TO_DATETIME;
    else
        return KR_EINVAL;
    return KR_OK;
}

static json_t *reset_json(const kr_streams_reset_spec_t *spec)
{
    char t[40];
    return json_pack("{s:s,s:s?}", "to",
                     spec->kind == KR_STREAMS_TO_DATETIME ? "datetime"
                     : spec->kind == KR_STREAMS_TO_LATEST ? "latest" : "earliest",
                     "time", spec->kind == KR_STREAMS_TO_DATETIME ? kr_time_format(spec->time_ms, t, sizeof t) : NULL);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* streams.mark and streams.snapshot share these fields. */
static mark_t *mark_from_record(kr_streams_marks_t *m, const json_t *rec)
{
    mark_t *mk = mark_new(m);
    if (!mk)
        return NULL;
    mk->id = dup_or_null(str(rec, "mark"));
    mk->run_id = dup_or_null(str(rec, "run"));
    mk->incident = dup_or_null(str(rec, "incident"));
    mk->cluster = dup_or_null(str(rec, "cluster"));
    mk->app_id = dup_or_null(str(rec, "app_id"));
    mk->bootstrap = dup_or_null(str(rec, "bootstrap"));
    mk->to = dup_or_null(str(rec, "to"));
    mk->app = json_deep_copy(json_object_get(rec, "app"));
    mk->reason = json_deep_copy(json_object_get(rec, "reason"));
    mk->dry_run = json_is_true(json_object_get(rec, "dry_run"));
    mk->created_ms = json_integer_value(json_object_get(rec, "created"));
    if (!mk->id || !mk->run_id || !mk->incident || !mk->cluster || !mk->app_id || !mk->to ||
        !json_is_object(mk->app) || !json_is_object(mk->reason) ||
        spec_from_json(json_object_get(rec, "reset"), &mk->spec) != KR_OK) {
        mark_free(mk);
        return NULL;
    }
    return mk;
}

int kr_streams_marks_replay(kr_streams_marks_t *m, const json_t *rec)
{
    const char *kind = str(rec, "kind");
    mark_t *mk;
    if (!kind || strncmp(kind, "streams.", 8) != 0)
        return KR_OK;
    if (!strcmp(kind, "streams.mark") || !strcmp(kind, "streams.snapshot")) {
        if (find_mark(m, str(rec, "mark")))
            return KR_OK;
        if (!(mk = mark_from_record(m, rec)))
            return KR_EINVAL;
        if (!strcmp(kind, "streams.snapshot")) {
            int st = state_from_name(str(rec, "state"));
            json_t *steps = json_object_get(rec, "steps"), *g = json_object_get(rec, "group");
            if (st < 0) {
                mark_free(mk);
                return KR_EINVAL;
            }
            mk->state = (kr_mark_state_t)st;
            set_message(mk, str(rec, "message"));
            mk->waiting_since_ms = json_integer_value(json_object_get(rec, "waiting_since_ms"));
            mk->wait_end_ms = json_integer_value(json_object_get(rec, "wait_end_ms"));
            mk->ended_ms = json_integer_value(json_object_get(rec, "ended_ms"));
            mk->polls = (int)json_integer_value(json_object_get(rec, "polls"));
            mk->attempts = (int)json_integer_value(json_object_get(rec, "attempts"));
            mk->reports = (int)json_integer_value(json_object_get(rec, "reports"));
            if (json_is_array(steps)) {
                json_decref(mk->steps);
                mk->steps = json_deep_copy(steps);
            }
            if (json_is_object(json_object_get(rec, "plan")))
                mk->plan = json_deep_copy(json_object_get(rec, "plan"));
            if (json_is_object(json_object_get(rec, "page")))
                mk->page = json_deep_copy(json_object_get(rec, "page"));
            if (json_is_object(g)) {
                mk->group_state = dup_or_null(str(g, "state"));
                mk->members = json_is_integer(json_object_get(g, "members"))
                                  ? (int)json_integer_value(json_object_get(g, "members")) : -1;
            }
        }
        if (add_mark(m, mk) != KR_OK) {
            mark_free(mk);
            return KR_ENOMEM;
        }
        update_gauges(m);
        return KR_OK;
    }
    if (!(mk = find_mark(m, str(rec, "mark"))))
        return KR_OK; /* its mark record was compacted away with a finished mark */
    int64_t t = json_integer_value(json_object_get(rec, json_object_get(rec, "at") ? "at" : "t"));
    if (!strcmp(kind, "streams.state")) {
        int to = state_from_name(str(rec, "to"));
        if (to < 0)
            return KR_EINVAL;
        if (mk->state == KR_MARK_WAITING && to != KR_MARK_WAITING)
            mk->wait_end_ms = t;
        if (to == KR_MARK_WAITING && !mk->waiting_since_ms)
            mk->waiting_since_ms = t;
        if (to == KR_MARK_WAITING && mk->state == KR_MARK_RESETTING &&
            strstr(str(rec, "message") ? str(rec, "message") : "", " failed: "))
            mk->attempts++;
        mk->state = (kr_mark_state_t)to;
        if (is_final((kr_mark_state_t)to))
            mk->ended_ms = t;
        set_message(mk, str(rec, "message"));
        update_gauges(m);
    } else if (!strcmp(kind, "streams.group")) {
        json_t *mem = json_object_get(rec, "members");
        free(mk->group_state);
        mk->group_state = dup_or_null(str(rec, "state"));
        mk->members = json_is_integer(mem) ? (int)json_integer_value(mem) : -1;
        mk->polls = (int)json_integer_value(json_object_get(rec, "polls"));
    } else if (!strcmp(kind, "streams.step")) {
        const char *name = str(rec, "step");
        json_t *detail = json_object_get(rec, "detail");
        char now[40];
        json_array_append_new(mk->steps, json_pack("{s:s,s:s,s:s}", "time",
                                                   str(rec, "time") ? str(rec, "time") : kr_time_format(t, now, sizeof now),
                                                   "step", name ? name : "", "message",
                                                   str(rec, "message") ? str(rec, "message") : ""));
        if (json_array_size(mk->steps) > MAX_STEPS)
            json_array_remove(mk->steps, 0);
        set_message(mk, str(rec, "message"));
        if (name && !strcmp(name, "plan") && json_is_object(detail)) {
            json_decref(mk->plan);
            mk->plan = json_deep_copy(detail);
        } else if (name && !strcmp(name, "page") && json_is_object(detail)) {
            json_decref(mk->page);
            mk->page = json_deep_copy(detail);
        } else if (name && (!strcmp(name, "waiting") || !strcmp(name, "group")) && json_is_object(detail)) {
            free(mk->group_state);
            mk->group_state = dup_or_null(str(detail, "state"));
            mk->members = (int)json_integer_value(json_object_get(detail, "members"));
            if (!strcmp(name, "waiting")) {
                mk->reports++;
                mk->polls = (int)json_integer_value(json_object_get(detail, "polls"));
            }
        }
    }
    return KR_OK;
}

static json_t *group_json(const mark_t *mk)
{
    return json_pack("{s:s?,s:o}", "state", mk->group_state, "members",
                     mk->members >= 0 ? json_integer(mk->members) : json_null());
}

int kr_streams_marks_snapshot(const kr_streams_marks_t *m, int (*emit)(json_t *record, void *arg), void *arg)
{
    for (size_t i = 0; i < m->n; i++) {
        const mark_t *mk = m->v[i];
        json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:s?,s:O,s:s,s:o,s:b,s:I,s:s,s:s,s:I,s:I,s:I,"
                                "s:i,s:i,s:i,s:O,s:O?,s:O?,s:o}",
                                "kind", "streams.snapshot", "mark", mk->id, "run", mk->run_id, "incident",
                                mk->incident, "cluster", mk->cluster, "app_id", mk->app_id, "app", mk->app,
                                "bootstrap", mk->bootstrap, "reason", mk->reason, "to", mk->to, "reset",
                                reset_json(&mk->spec), "dry_run", mk->dry_run, "created",
                                (json_int_t)mk->created_ms, "state", state_names[mk->state], "message",
                                mk->message ? mk->message : "", "waiting_since_ms",
                                (json_int_t)mk->waiting_since_ms, "wait_end_ms", (json_int_t)mk->wait_end_ms,
                                "ended_ms", (json_int_t)mk->ended_ms, "polls", mk->polls, "attempts",
                                mk->attempts, "reports", mk->reports, "steps", mk->steps, "plan", mk->plan,
                                "page", mk->page, "group", group_json(mk));
        if (!rec)
            return KR_ENOMEM;
        int rc = emit(rec, arg);
        json_decref(rec);
        if (rc != KR_OK)
            return rc;
    }
    return KR_OK;
}

/* ------------------------------------------------------------------ API */

static json_t *mark_json(const mark_t *mk)
{
    char a[40], b[40], c[40], w[32];
    int64_t waited = 0;
    if (mk->waiting_since_ms)
        waited = (mk->state == KR_MARK_WAITING ? kr_now_ms() : mk->wait_end_ms ? mk->wait_end_ms : mk->waiting_since_ms) -
                 mk->waiting_since_ms;
    if (waited < 0)
        waited = 0;
    char *cmd = kr_streams_reset_command(mk->app, mk->bootstrap, &mk->spec, 0);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:o,s:b,s:O?,s:O?,s:s,s:s?,s:I,s:s,s:i,s:o,s:O,"
                          "s:O?,s:O?,s:s?,s:O}",
                          "id", mk->id, "run", mk->run_id, "incident", mk->incident, "cluster", mk->cluster,
                          "application_id", mk->app_id, "state", state_names[mk->state], "message",
                          mk->message ? mk->message : "", "reason", mk->reason, "to", mk->to, "reset",
                          reset_json(&mk->spec), "dry_run", mk->dry_run, "auto_reset",
                          json_object_get(mk->app, "auto_reset"), "owners", json_object_get(mk->app, "owners"),
                          "created", kr_time_format(mk->created_ms, a, sizeof a), "waiting_since",
                          mk->waiting_since_ms ? kr_time_format(mk->waiting_since_ms, b, sizeof b) : NULL,
                          "waited_ms", (json_int_t)waited, "waited", kr_duration_format(waited, w, sizeof w),
                          "polls", mk->polls, "group", group_json(mk), "steps", mk->steps, "plan", mk->plan,
                          "page", mk->page, "command", cmd, "app", mk->app);
    if (o && mk->ended_ms)
        json_object_set_new(o, "ended", json_string(kr_time_format(mk->ended_ms, c, sizeof c)));
    free(cmd);
    return o;
}

json_t *kr_streams_marks_json(const kr_streams_marks_t *m, const char *cluster, const char *app,
                              const char *state)
{
    json_t *out = json_array();
    for (size_t i = 0; out && i < m->n; i++) {
        const mark_t *mk = m->v[i];
        if ((cluster && strcmp(cluster, mk->cluster)) || (app && strcmp(app, mk->app_id)) ||
            (state && strcmp(state, state_names[mk->state])))
            continue;
        json_array_append_new(out, mark_json(mk));
    }
    return out;
}

json_t *kr_streams_mark_json(const kr_streams_marks_t *m, const char *id)
{
    const mark_t *mk = find_mark(m, id);
    return mk ? mark_json(mk) : NULL;
}
