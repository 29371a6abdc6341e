/* core/config.c: the config file: one table of keys, a loader that validates against it
 * with file:line:col errors, `kresponder check -c FILE`, and the generated reference. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kr/cli.h"
#include "kr/config.h"
#include "kr/cluster.h"
#include "kr/err.h"
#include "kr/pager.h"
#include "kr/streams_marks.h"
#include "kr/respond.h"
#include "kr/rules.h"
#include "kr/units.h"

typedef enum {
    CFG_STR,      /* string */
    CFG_PATH,     /* string; relative to the config file's directory */
    CFG_SECRET,   /* string, or {env: NAME}, or {file: PATH} (first line, trimmed) */
    CFG_BOOL,
    CFG_INT,
    CFG_DURATION, /* "30s", "5m"...; stored in ms */
    CFG_SIZE,     /* "256KiB"...; stored in bytes */
    CFG_LEVEL,    /* log level name */
    CFG_STRLIST,  /* list of strings (borrowed json array) */
    CFG_LIST,     /* list of maps (borrowed json array), validated by another module */
} cfg_type_t;

typedef struct {
    const char *name;    /* dotted: section.key */
    cfg_type_t type;
    size_t offset;
    const char *def;     /* default as the user would write it; NULL = unset */
    int64_t min, max;    /* for INT/DURATION/SIZE (0,0 = unbounded) */
    const char *help;
} cfg_key_t;

#define OFF(f) offsetof(kr_config_t, f)

static const cfg_key_t keys[] = {
    { "listen", CFG_STR, OFF(listen), "127.0.0.1:8080", 0, 0,
      "Address and port of the HTTP server (webhooks, API, metrics)." },
    { "journal_dir", CFG_PATH, OFF(journal_dir), "journal", 0, 0,
      "Directory of the journal: every accepted event and every state change, fsync'd before the 202 reply." },
    { "journal.segment_size", CFG_SIZE, OFF(journal_segment_size), "64MiB", 65536, (int64_t)1 << 40,
      "A journal segment is closed and a new one started past this size." },
    { "journal.compact_after", CFG_INT, OFF(journal_compact_after), "4", 2, 10000,
      "When the journal has more segments than this, its live state is written as a snapshot and older segments are removed." },
    { "rules_dir", CFG_PATH, OFF(rules_dir), NULL, 0, 0,
      "Directory (or file) of rule files (*.yaml, *.yml, *.json). Unset: events are journaled but match nothing." },
    { "log_level", CFG_LEVEL, OFF(log_level), "info", 0, 0, "debug, info, warn or error." },
    { "dry_run", CFG_BOOL, OFF(dry_run), "false", 0, 0,
      "Global dry run: Kafka-changing actions plan and report, and never write." },
    { "events_keep", CFG_INT, OFF(events_keep), "1000", 1, 1000000,
      "How many recent events GET /v1/events can show." },
    { "dedupe_keep", CFG_INT, OFF(dedupe_keep), "200000", 1000, 100000000,
      "How many event ids are remembered to drop redeliveries (SNS retries with the same MessageId)." },
    { "guards.max_actions_per_target", CFG_INT, OFF(guard_max_actions), "3", 1, 1000,
      "At most this many Kafka-changing actions (evacuate, drain, elect, streams reset) per target (broker, or cluster) within guards.window; more are skipped and reported." },
    { "guards.window", CFG_DURATION, OFF(guard_window_ms), "1h", 60000, 604800000,
      "The window of guards.max_actions_per_target." },
    { "http.body_limit", CFG_SIZE, OFF(http_body_limit), "256KiB", 1024, 64 << 20,
      "Largest request body accepted; larger ones get 413." },
    { "http.timeout", CFG_DURATION, OFF(http_timeout_ms), "10s", 100, 3600000,
      "Read/write timeout of a request; a slow client is cut off without stalling others." },
    { "http.max_connections", CFG_INT, OFF(http_max_connections), "1024", 1, 1000000,
      "Connection cap of the HTTP server." },
    { "http.workers", CFG_INT, OFF(http_workers), "2", 0, 64,
      "Threads that parse, verify and decode SNS messages off the loop thread (signature verification is the costliest step of a request); about one per CPU. 0 does it on the loop thread. Alertmanager and EventBridge bodies under 16 KiB are decoded on the loop thread (cheaper than the hand-off), larger ones on the workers too." },
    { "sns.verify", CFG_BOOL, OFF(sns_verify), "true", 0, 0,
      "Verify SNS signatures (SignatureVersion 1 and 2). Turn off only in a lab." },
    { "sns.cert_dir", CFG_PATH, OFF(sns_cert_dir), "certs", 0, 0,
      "Where SNS signing certificates are cached, named by the file name of their URL." },
    { "sns.topic_arns", CFG_STRLIST, OFF(sns_topic_arns), NULL, 0, 0,
      "SNS topics accepted (exact ARNs). Empty: every SNS message is refused with 403." },
    { "sns.max_age", CFG_DURATION, OFF(sns_max_age_ms), "1h", 0, 0,
      "Refuse SNS messages whose Timestamp is older than this (replays). 0 disables." },
    { "sns.confirm_subscriptions", CFG_BOOL, OFF(sns_confirm_subscriptions), "true", 0, 0,
      "Confirm verified SubscriptionConfirmation messages of allowed topics by GET of their SubscribeURL." },
    { "eventbridge.header", CFG_STR, OFF(eventbridge_header), "X-Kresponder-Secret", 0, 0,
      "Header that carries the shared secret of the EventBridge API destination's connection." },
    { "eventbridge.secret", CFG_SECRET, OFF(eventbridge_secret), NULL, 0, 0,
      "The shared secret (string, {env: NAME} or {file: PATH}). Unset: the endpoint refuses everything." },
    { "alertmanager.token", CFG_SECRET, OFF(alertmanager_token), NULL, 0, 0,
      "Bearer token Alertmanager must send (http_config.authorization). Unset: no authentication." },
    { "admin.token", CFG_SECRET, OFF(admin_token), NULL, 0, 0,
      "Bearer token of the operator endpoints (pause, resume, reload, cancel). Unset: they refuse everything." },
    { "admin.pause_file", CFG_PATH, OFF(pause_file), NULL, 0, 0,
      "While this file exists, Kafka-changing actions are paused (events are still received, journaled and paged)." },
    { "clusters", CFG_LIST, OFF(clusters), NULL, 0, 0,
      "Kafka clusters: name, zookeeper, bootstrap_servers, stacks, inventory, guards (see the clusters section)." },
    { "receivers", CFG_LIST, OFF(receivers), NULL, 0, 0,
      "Page receivers: name plus one of slack, pagerduty, webhook (see the receivers section)." },
    { "outbox.max_age", CFG_DURATION, OFF(outbox_max_age_ms), "24h", 1000, 30LL * 86400000,
      "A page not delivered within this (receiver down, 429/5xx answers) is given up and reported." },
    { "outbox.retry_min", CFG_DURATION, OFF(outbox_retry_min_ms), "1s", 10, 3600000,
      "First retry delay of a page; it doubles per failed attempt (with jitter) up to outbox.retry_max. A Retry-After answer overrides it." },
    { "outbox.retry_max", CFG_DURATION, OFF(outbox_retry_max_ms), "5m", 10, 86400000,
      "Longest delay between two delivery attempts of a page." },
    { "outbox.timeout", CFG_DURATION, OFF(outbox_timeout_ms), "10s", 100, 600000,
      "Time limit of one delivery attempt (a receiver that never answers is retried after this)." },
    { "outbox.followup_interval", CFG_DURATION, OFF(outbox_followup_interval_ms), "1m", 0, 86400000,
      "Progress follow-ups of one incident (batch n of m) are sent at most this often; state changes (started, done, failed) go at once." },
    { "public_url", CFG_STR, OFF(public_url), NULL, 0, 0,
      "Base URL where operators reach this kresponder (e.g. https://kresponder.example.com); pages link to /v1/incidents/{id}. Unset: no such link." },
};

static const char *const type_names[] = {
    "string", "path", "secret", "boolean", "integer", "duration", "size", "log level",
    "list of strings", "list of maps",
};

#define NKEYS (sizeof keys / sizeof keys[0])

static char **str_field(kr_config_t *c, const cfg_key_t *k) { return (char **)((char *)c + k->offset); }
static int *bool_field(kr_config_t *c, const cfg_key_t *k) { return (int *)((char *)c + k->offset); }
static int64_t *int_field(kr_config_t *c, const cfg_key_t *k) { return (int64_t *)((char *)c + k->offset); }
static json_t **json_field(kr_config_t *c, const cfg_key_t *k) { return (json_t **)((char *)c + k->offset); }

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static char *resolve_path(const char *base_dir, const char *p)
{
    char *out = NULL;
    if (p[0] == '/' || !base_dir)
        return strdup(p);
    if (asprintf(&out, "%s/%s", base_dir, p) < 0)
        return NULL;
    return out;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];
    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof cur);
    }
    return prev[lb];
}

/* "unknown key" with the closest known name, so a typo is obvious. */
static int unknown_key(const kr_doc_t *doc, const json_t *obj, const char *key,
                       const char *full, char *err, size_t errlen)
{
    const char *best = NULL;
    size_t bestd = 4;
    for (size_t i = 0; i < NKEYS; i++) {
        size_t d = edit_distance(full, keys[i].name);
        if (d < bestd) {
            bestd = d;
            best = keys[i].name;
        }
    }
    if (best)
        return kr_doc_key_errf(doc, obj, key, err, errlen, "unknown key \"%s\"; did you mean \"%s\"?",
                               full, best);
    return kr_doc_key_errf(doc, obj, key, err, errlen,
                           "unknown key \"%s\" (see kresponder.example.yaml for every key)", full);
}

static int read_secret_file(const char *path, char **out, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    char buf[4096];
    if (!f) {
        snprintf(why, whylen, "cannot read secret file %s: %s", path, strerror(errno));
        return KR_EIO;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    buf[strcspn(buf, "\r\n")] = 0;
    if (!buf[0]) {
        snprintf(why, whylen, "secret file %s is empty", path);
        return KR_EINVAL;
    }
    *out = strdup(buf);
    return *out ? KR_OK : KR_ENOMEM;
}

/* A secret written as a string, {env: NAME} or {file: PATH} (relative to base_dir; the
 * first line, trimmed). `what` names the key in messages. */
static int secret_resolve(const kr_doc_t *doc, const json_t *obj, const char *key, const char *what,
                          const char *base_dir, char **out, char *err, size_t errlen)
{
    char why[512];
    json_t *v = json_object_get(obj, key);
    char *val = NULL;

    *out = NULL;
    if (json_is_string(v)) {
        val = strdup(json_string_value(v));
    } else if (json_is_object(v) && json_object_size(v) == 1 &&
               json_is_string(json_object_get(v, "env"))) {
        const char *name = json_string_value(json_object_get(v, "env"));
        const char *e = getenv(name);
        if (!e || !*e)
            return kr_doc_member_errf(doc, obj, key, err, errlen,
                                      "%s: environment variable %s is not set", what, name);
        val = strdup(e);
    } else if (json_is_object(v) && json_object_size(v) == 1 &&
               json_is_string(json_object_get(v, "file"))) {
        char *p = resolve_path(base_dir, json_string_value(json_object_get(v, "file")));
        int rc = p ? read_secret_file(p, &val, why, sizeof why) : KR_ENOMEM;
        free(p);
        if (rc)
            return kr_doc_member_errf(doc, obj, key, err, errlen, "%s: %s", what, why);
    } else {
        return kr_doc_member_errf(doc, obj, key, err, errlen,
                                  "%s must be a string, {env: NAME} or {file: PATH}", what);
    }
    if (!val)
        return kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
    *out = val;
    return KR_OK;
}

int kr_config_secret(const kr_config_t *cfg, const json_t *obj, const char *key, const char *what,
                     char **out, char *err, size_t errlen)
{
    char *base_dir = dir_of(cfg->path ? cfg->path : ".");
    int rc;
    if (!base_dir)
        return kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
    rc = secret_resolve(cfg->doc, obj, key, what, base_dir, out, err, errlen);
    free(base_dir);
    return rc;
}

static int set_value(kr_config_t *c, const cfg_key_t *k, const kr_doc_t *doc, const json_t *obj,
                     const char *key, json_t *v, const char *base_dir, char *err, size_t errlen)
{
    char why[512];
    int64_t n;

    switch (k->type) {
    case CFG_STR:
    case CFG_PATH:
    case CFG_LEVEL:
        if (!json_is_string(v))
            return kr_doc_member_errf(doc, obj, key, err, errlen, "%s must be a %s", k->name,
                                      type_names[k->type]);
        if (k->type == CFG_LEVEL) {
            const char *s = json_string_value(v);
            if (strcmp(s, "debug") && strcmp(s, "info") && strcmp(s, "warn") && strcmp(s, "error"))
                return kr_doc_member_errf(doc, obj, key, err, errlen,
                                          "%s must be one of debug, info, warn, error", k->name);
        }
        free(*str_field(c, k));
        *str_field(c, k) = k->type == CFG_PATH ? resolve_path(base_dir, json_string_value(v))
                                               : strdup(json_string_value(v));
        return *str_field(c, k) ? KR_OK : KR_ENOMEM;
    case CFG_SECRET: {
        char *val = NULL;
        int rc = secret_resolve(doc, obj, key, k->name, base_dir, &val, err, errlen);
        if (rc)
            return rc;
        free(*str_field(c, k));
        *str_field(c, k) = val;
        return KR_OK;
    }
    case CFG_BOOL:
        if (!json_is_boolean(v))
            return kr_doc_member_errf(doc, obj, key, err, errlen, "%s must be true or false", k->name);
        *bool_field(c, k) = json_is_true(v);
        return KR_OK;
    case CFG_INT:
        if (!json_is_integer(v))
            return kr_doc_member_errf(doc, obj, key, err, errlen, "%s must be an integer", k->name);
        n = json_integer_value(v);
        break;
    case CFG_DURATION:
        if (json_is_integer(v) && json_integer_value(v) == 0) {
            n = 0;
        } else if (!json_is_string(v) ||
                   kr_duration_parse(json_string_value(v), &n, why, sizeof why) != 0) {
            return kr_doc_member_errf(doc, obj, key, err, errlen, "%s: %s", k->name,
                                      json_is_string(v) ? why : "expected a duration such as 30s, 5m, 1h");
        }
        break;
    case CFG_SIZE:
        if (json_is_integer(v)) {
            n = json_integer_value(v);
        } else if (!json_is_string(v) ||
                   kr_size_parse(json_string_value(v), &n, why, sizeof why) != 0) {
            return kr_doc_member_errf(doc, obj, key, err, errlen, "%s: %s", k->name,
                                      json_is_string(v) ? why : "expected a size such as 256KiB");
        }
        break;
    case CFG_STRLIST: {
        size_t i;
        json_t *item;
        if (!json_is_array(v))
            return kr_doc_member_errf(doc, obj, key, err, errlen, "%s must be a list of strings", k->name);
        json_array_foreach(v, i, item)
            if (!json_is_string(item))
                return kr_doc_item_errf(doc, v, i, err, errlen, "%s: item %zu must be a string",
                                        k->name, i + 1);
        *json_field(c, k) = v;
        return KR_OK;
    }
    case CFG_LIST: {
        size_t i;
        json_t *item;
        if (!json_is_array(v))
            return kr_doc_member_errf(doc, obj, key, err, errlen, "%s must be a list", k->name);
        json_array_foreach(v, i, item)
            if (!json_is_object(item))
                return kr_doc_item_errf(doc, v, i, err, errlen, "%s: item %zu must be a map", k->name,
                                        i + 1);
        *json_field(c, k) = v;
        return KR_OK;
    }
    }
    if ((k->min || k->max) && (n < k->min || n > k->max)) {
        char lo[32], hi[32];
        if (k->type == CFG_DURATION) {
            kr_duration_format(k->min, lo, sizeof lo);
            kr_duration_format(k->max, hi, sizeof hi);
        } else {
            snprintf(lo, sizeof lo, "%lld", (long long)k->min);
            snprintf(hi, sizeof hi, "%lld", (long long)k->max);
        }
        return kr_doc_member_errf(doc, obj, key, err, errlen, "%s must be between %s and %s",
                                  k->name, lo, hi);
    }
    *int_field(c, k) = n;
    return KR_OK;
}

/* Walks one map level; `prefix` is "" or "section.". */
static int load_map(kr_config_t *c, const kr_doc_t *doc, json_t *obj, const char *prefix,
                    const char *base_dir, char *err, size_t errlen)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        char full[256];
        int found = 0, is_section = 0;
        snprintf(full, sizeof full, "%s%s", prefix, key);
        for (size_t i = 0; i < NKEYS; i++) {
            if (strcmp(keys[i].name, full) == 0) {
                if (json_is_null(v)) { /* "key:" with no value keeps the default */
                    found = 1;
                    break;
                }
                int rc = set_value(c, &keys[i], doc, obj, key, v, base_dir, err, errlen);
                if (rc)
                    return rc;
                found = 1;
                break;
            }
            size_t fl = strlen(full);
            if (strncmp(keys[i].name, full, fl) == 0 && keys[i].name[fl] == '.')
                is_section = 1;
        }
        if (found)
            continue;
        if (is_section) {
            if (json_is_null(v))
                continue;
            if (!json_is_object(v))
                return kr_doc_member_errf(doc, obj, key, err, errlen, "%s must be a map", full);
            char sub[260];
            snprintf(sub, sizeof sub, "%s.", full);
            int rc = load_map(c, doc, v, sub, base_dir, err, errlen);
            if (rc)
                return rc;
            continue;
        }
        return unknown_key(doc, obj, key, full, err, errlen);
    }
    return KR_OK;
}

static int set_defaults(kr_config_t *c, const char *base_dir, char *err, size_t errlen)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const cfg_key_t *k = &keys[i];
        if (!k->def)
            continue;
        switch (k->type) {
        case CFG_STR:
        case CFG_LEVEL:
        case CFG_SECRET:
            if (!(*str_field(c, k) = strdup(k->def)))
                return KR_ENOMEM;
            break;
        case CFG_PATH:
            if (!(*str_field(c, k) = resolve_path(base_dir, k->def)))
                return KR_ENOMEM;
            break;
        case CFG_BOOL:
            *bool_field(c, k) = strcmp(k->def, "true") == 0;
            break;
        case CFG_INT:
            *int_field(c, k) = strtoll(k->def, NULL, 10);
            break;
        case CFG_DURATION:
            if (kr_duration_parse(k->def, int_field(c, k), err, errlen))
                return KR_EINVAL;
            break;
        case CFG_SIZE:
            if (kr_size_parse(k->def, int_field(c, k), err, errlen))
                return KR_EINVAL;
            break;
        case CFG_STRLIST:
        case CFG_LIST:
            break;
        }
    }
    return KR_OK;
}

/* Validates a parsed doc (owned by the config from here on). */
static kr_config_t *config_from_doc(const char *path, kr_doc_t *doc, char *err, size_t errlen)
{
    kr_config_t *c = calloc(1, sizeof *c);
    char *base_dir = NULL;
    json_t *root;

    if (!c || !(c->path = strdup(path)) || !(base_dir = dir_of(path))) {
        kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", path);
        kr_doc_free(doc);
        goto fail;
    }
    c->doc = doc;
    root = kr_doc_root(c->doc);
    if (!json_is_object(root)) {
        kr_doc_errf(c->doc, root, err, errlen, "the config must be a map of keys (see kresponder.example.yaml)");
        goto fail;
    }
    if (set_defaults(c, base_dir, err, errlen) != 0)
        goto fail;
    if (load_map(c, c->doc, root, "", base_dir, err, errlen) != 0)
        goto fail;
    if (!strchr(c->listen, ':')) {
        kr_doc_member_errf(c->doc, root, "listen", err, errlen,
                           "listen must be HOST:PORT, e.g. 127.0.0.1:8080");
        goto fail;
    }
    free(base_dir);
    return c;
fail:
    free(base_dir);
    kr_config_free(c);
    return NULL;
}

kr_config_t *kr_config_load(const char *path, char *err, size_t errlen)
{
    kr_doc_t *doc = kr_doc_load(path, err, errlen);
    return doc ? config_from_doc(path, doc, err, errlen) : NULL;
}

kr_config_t *kr_config_parse(const char *name, const char *buf, size_t len, char *err, size_t errlen)
{
    kr_doc_t *doc = kr_doc_parse(name, buf, len, err, errlen);
    return doc ? config_from_doc(name, doc, err, errlen) : NULL;
}

void kr_config_free(kr_config_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        cfg_type_t t = keys[i].type;
        if (t == CFG_STR || t == CFG_PATH || t == CFG_SECRET || t == CFG_LEVEL)
            free(*str_field(c, &keys[i]));
    }
    kr_doc_free(c->doc);
    free(c->path);
    free(c);
}

void kr_config_write_reference(FILE *out)
{
    fprintf(out, "| key | type | default | range | meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const cfg_key_t *k = &keys[i];
        char range[80] = "";
        if (k->min || k->max) {
            if (k->type == CFG_DURATION) {
                char lo[32], hi[32];
                snprintf(range, sizeof range, "%s – %s", kr_duration_format(k->min, lo, sizeof lo),
                         kr_duration_format(k->max, hi, sizeof hi));
            } else {
                snprintf(range, sizeof range, "%lld – %lld", (long long)k->min, (long long)k->max);
            }
        }
        fprintf(out, "| `%s` | %s | %s | %s | %s |\n", k->name, type_names[k->type],
                k->def ? k->def : "", range, k->help);
    }
}

int kr_cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    char err[1024];

    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--reference") == 0) {
            kr_config_write_reference(stdout);
            return 0;
        } else {
            fprintf(stderr, "usage: kresponder check -c FILE | check --reference\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: kresponder check -c FILE | check --reference\n");
        return 2;
    }
    kr_config_t *c = kr_config_load(path, err, sizeof err);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int code = 0;
    if (c->rules_dir) {
        static char rerr[65536];
        kr_ruleset_t *rs = kr_ruleset_load(c->rules_dir, rerr, sizeof rerr);
        if (!rs) {
            fprintf(stderr, "%s\n", rerr);
            code = 1;
        } else if (kr_respond_check_receivers(c, rs, rerr, sizeof rerr) != KR_OK) {
            fprintf(stderr, "%s\n", rerr);
            code = 1;
            kr_ruleset_decref(rs);
        } else {
            printf("%s: %zu rules in %zu files\n", c->rules_dir, kr_ruleset_count(rs), kr_ruleset_nfiles(rs));
            kr_ruleset_decref(rs);
        }
    }
    if (code == 0 && kr_clusters_check(c, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        code = 1;
    }
    if (code == 0 && kr_pager_check(c, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        code = 1;
    }
    if (code == 0 && kr_streams_apps_check(c, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        code = 1;
    }
    if (code == 0)
        printf("%s: ok\n", path);
    kr_config_free(c);
    return code;
}
