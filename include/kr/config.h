/* kr/config.h: the daemon's config file. Keys come from one table (name, type, default,
 * min, max, help) from which the loader validates and the docs are generated. Sections
 * that belong to other modules (clusters, receivers) are kept as JSON trees with their
 * positions (the doc) for those modules to validate. Loop thread (or main before it). */
#ifndef KR_CONFIG_H
#define KR_CONFIG_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "kr/doc.h"

typedef struct kr_config {
    char *path;
    kr_doc_t *doc;               /* owns every json_t below that is marked borrowed */

    char *listen;                /* "127.0.0.1:8080" */
    char *journal_dir;
    int64_t journal_segment_size;
    int64_t journal_compact_after;   /* segments */
    char *rules_dir;             /* may be NULL: no rules */
    char *log_level;
    int dry_run;                 /* global dry run: no Kafka-changing action writes */
    int64_t events_keep;         /* events kept in memory for GET /v1/events */
    int64_t dedupe_keep;         /* event ids remembered for duplicate detection */

    int64_t guard_max_actions;   /* Kafka-changing actions per target per window */
    int64_t guard_window_ms;
    int64_t http_body_limit;     /* bytes; larger bodies get 413 */
    int64_t http_timeout_ms;     /* read/write timeout per request */
    int64_t http_max_connections;
    int64_t http_workers;

    int sns_verify;
    char *sns_cert_dir;
    json_t *sns_topic_arns;      /* borrowed array of strings; empty = refuse all */
    int64_t sns_max_age_ms;      /* 0 disables */
    int sns_confirm_subscriptions;

    char *eventbridge_header;
    char *eventbridge_secret;    /* NULL: the endpoint refuses everything */
    char *alertmanager_token;    /* NULL: no authentication required */
    char *admin_token;           /* NULL: admin endpoints refuse everything */
    char *pause_file;

    json_t *clusters;            /* borrowed array (validated by the cluster module) */
    json_t *receivers;           /* borrowed array (validated by the paging module) */

    int64_t outbox_max_age_ms;   /* a page not delivered within this is given up */
    int64_t outbox_retry_min_ms; /* first retry delay (doubles per attempt, with jitter) */
    int64_t outbox_retry_max_ms; /* cap of the retry delay */
    int64_t outbox_timeout_ms;   /* one delivery attempt */
    int64_t outbox_followup_interval_ms; /* progress follow-ups of one incident at most this often */
    char *public_url;            /* base URL of this kresponder for links in pages; may be NULL */
} kr_config_t;

/* Loads and validates a config file. Relative paths in it are taken relative to the
 * config file's directory. Returns a new config, or NULL with err = "file:line:col: msg". */
kr_config_t *kr_config_load(const char *path, char *err, size_t errlen);
/* The same from a buffer; `name` stands for the file in errors and relative paths. */
kr_config_t *kr_config_parse(const char *name, const char *buf, size_t len, char *err, size_t errlen);
void kr_config_free(kr_config_t *cfg);

/* Resolves the secret at obj[key] of cfg's document (a section another module validates,
 * e.g. a receiver): a string, {env: NAME}, or {file: PATH} (relative to the config file's
 * directory; its first line, trimmed). `what` names the key in messages ("receivers[1]
 * slack.url"). Returns 0 with a new malloc'd string in *out, or KR_EINVAL / KR_EIO /
 * KR_ENOMEM with err = "file:line:col: what: ...". Any thread (reads the environment). */
int kr_config_secret(const kr_config_t *cfg, const json_t *obj, const char *key, const char *what,
                     char **out, char *err, size_t errlen);

/* Writes the reference of every key (name, type, default, range, help) as Markdown. */
void kr_config_write_reference(FILE *out);

#endif
