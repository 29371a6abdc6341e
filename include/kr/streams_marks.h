/* kr/streams_marks.h: Kafka Streams reset marks, the daemon side of `mark_streams_reset`:
 * the per-cluster `streams_apps:` config, one journaled state machine per (run, app)
 * (marked → waiting-for-stop → resetting → done | failed | cancelled), the owners' page
 * (the exact steps, or Kafka's own command line when auto_reset is never), and the reset
 * itself once the application's consumer group is confirmed to have no members, run as
 * asynchronous requests on the loop (kr/kafka.h) and planned by kr/streams.h.
 *
 * Threads: everything here runs on the libevent loop thread, callbacks included. The pure
 * helpers (config check, affected apps, reset point, command line, page) run anywhere.
 *
 * Journal records: streams.mark {mark, run, incident, cluster, app, bootstrap, reason, to,
 * reset, dry_run}, streams.state {mark, from, to, message, at}, streams.step {mark, step,
 * time, message, detail?}, streams.group {mark, state, members, polls, error?} (when what the
 * group looks like changes), streams.snapshot {every field of a mark} (compaction). Replay of the
 * snapshot records alone restores every mark. */
#ifndef KR_STREAMS_MARKS_H
#define KR_STREAMS_MARKS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kr/config.h"
#include "kr/journal.h"
#include "kr/kafka.h"
#include "kr/metrics.h"
#include "kr/runs.h"
#include "kr/streams.h"

struct event_base;

/* ---- config (pure) ------------------------------------------------------------------ */

/* Validates every cluster's `streams_apps:` list in cfg->clusters with file:line:col
 * errors: application_id (required; Kafka topic characters [A-Za-z0-9._-], unique within
 * the cluster), input_topics (required, non-empty), intermediate_topics (optional),
 * internal_topics or its alias topology (optional; each must be named like an internal
 * topic of the app, kr_streams_is_internal_name), no topic in two of those lists, owners
 * (receiver names from cfg->receivers), auto_reset (when-stopped | never, default never),
 * poll_interval (default 5s, 1s..1h) and poll_max (default 1m, >= poll_interval), and the
 * cluster's bootstrap_servers when it has apps. Clusters without streams_apps pass.
 * Returns 0 or KR_EINVAL with err. For `kresponder check -c`. */
int kr_streams_apps_check(const kr_config_t *cfg, char *err, size_t errlen);

/* The apps of one cluster, normalized: a new array of {application_id, input_topics,
 * intermediate_topics, internal_topics, owners, auto_reset ("when-stopped"|"never"),
 * poll_interval_ms, poll_max_ms}, in config order; *bootstrap (may be NULL) is set to the
 * cluster's bootstrap_servers (borrowed from cfg) and *dry_run to its dry_run flag.
 * Returns NULL when the cluster is unknown (err says so) or its apps are invalid. */
json_t *kr_streams_apps(const kr_config_t *cfg, const char *cluster, const char **bootstrap,
                        int *dry_run, char *err, size_t errlen);

/* Which apps a lost broker affected: `touched` lists the topics with a partition the broker
 * led or held. An app is affected when one of them is its input, intermediate or
 * configured internal topic, or is named like one of its internal topics
 * (kr_streams_is_internal_name) and is not claimed by another configured app: a topic of
 * another app's lists, or one named like an internal topic of an app whose id is longer
 * ("app-v2-...-changelog" belongs to app-v2, not app, when both are configured). `apps`
 * as kr_streams_apps gives them (borrowed). Returns a new array of application ids in
 * config order (NULL on ENOMEM). */
json_t *kr_streams_affected(const json_t *apps, const char *const *touched, size_t n_touched);

/* Resolves a rule's `to` once, at marking: "incident" (incident_ms), "incident-<duration>"
 * (incident_ms minus it), an RFC 3339 time, "earliest", "latest". Returns 0 or KR_EINVAL
 * with err. */
int kr_streams_resolve_to(const char *to, int64_t incident_ms, kr_streams_reset_spec_t *spec,
                          char *err, size_t errlen);

/* Kafka's own reset for an app (Kafka 3.x kafka-streams-application-reset.sh): one command
 * line with --bootstrap-servers (accepted by every 3.x; 3.4+ also takes
 * --bootstrap-server), --application-id, --input-topics, --intermediate-topics (when
 * any), --internal-topics (the configured ones, when any: Kafka's tool otherwise infers
 * them by name), and --to-datetime 'YYYY-MM-DDTHH:mm:SS.sss' (UTC) | --to-earliest |
 * --to-latest; with dry_run, --dry-run at the end. Without options Kafka's tool executes
 * (3.x has no --execute). app as kr_streams_apps gives it. Returns a new string. */
char *kr_streams_reset_command(const json_t *app, const char *bootstrap,
                               const kr_streams_reset_spec_t *spec, int dry_run);

/* ---- marks (loop thread) --------------------------------------------------------------- */

typedef enum {
    KR_MARK_MARKED = 0,     /* recorded; owners paged; nothing automatic (auto_reset never) */
    KR_MARK_WAITING,        /* waiting-for-stop: polling the group until it has no members */
    KR_MARK_RESETTING,      /* reading, planning, committing offsets, deleting topics */
    KR_MARK_DONE,
    KR_MARK_FAILED,
    KR_MARK_CANCELLED,
    KR_MARK_NSTATES
} kr_mark_state_t;

/* "marked", "waiting-for-stop", "resetting", "done", "failed", "cancelled". */
const char *kr_mark_state_name(kr_mark_state_t s);

typedef struct kr_streams_marks kr_streams_marks_t;

/* How the marks reach the rest of the daemon; every hook is optional. */
typedef struct {
    /* A Kafka client for a cluster (kept by the marks, freed with them). NULL: the
     * librdkafka client on bootstrap. Tests plug the fake in here (kr_kafka_fake_new). */
    kr_kafka_t *(*kafka)(const char *cluster, const char *bootstrap, void *arg, char *err,
                         size_t errlen);
    /* The topics with a partition `broker` led or held in `cluster` (new array of
     * strings), from the cluster model; NULL: only the event's own partition lists
     * (partitions.led / partitions.held) are used. */
    json_t *(*touched_topics)(const char *cluster, int broker, void *arg);
    /* Pages the owners: params {to, summary, details, severity}; page_id is unique per
     * mark and a repeated call with the same id must not page twice. NULL: not paged. */
    int (*page)(const char *page_id, const char *incident_id, const json_t *params,
                const json_t *event, void *arg, char *err, size_t errlen);
    void *arg;
} kr_streams_hooks_t;

/* A new, empty set. journal and metrics may be NULL (tests); cfg, journal, metrics and
 * base are borrowed and must outlive the set. */
kr_streams_marks_t *kr_streams_marks_new(struct event_base *base, const kr_config_t *cfg,
                                         kr_journal_t *journal, kr_metrics_t *metrics);
/* Stops timers, frees the Kafka clients (their pending requests end, nothing changes
 * state) and every mark. NULL is a no-op. */
void kr_streams_marks_free(kr_streams_marks_t *m);
void kr_streams_marks_set_hooks(kr_streams_marks_t *m, const kr_streams_hooks_t *hooks);

/* The mark_streams_reset kind's hooks. start: resolves the apps (names or `affected` from
 * the run's event), the reset point, and creates one mark per app (journaled), pages the
 * owners, and starts waiting (auto_reset when-stopped) or resetting (dry run: plan only).
 * The run finishes once every mark is settled (done, failed, cancelled, or marked with
 * auto_reset never). Returns 0 or KR_E* with err (the run then fails). */
int kr_streams_marks_start(kr_streams_marks_t *m, kr_run_t *run, char *err, size_t errlen);
/* Operator cancel: marks waiting stop polling at once; a mark resetting stops before its
 * next step and says which were done. */
void kr_streams_marks_cancel(kr_streams_marks_t *m, kr_run_t *run);
/* Operator cancel of one mark (POST /v1/streams-resets/{id}/cancel): as above, for that
 * app only; its run ends once its other marks are settled. Returns 0, KR_ENOTFOUND, or
 * KR_ESTATE when the mark is already done, failed or cancelled (err says which). */
int kr_streams_mark_cancel(kr_streams_marks_t *m, const char *id, char *err, size_t errlen);
/* After a restart: a mark waiting resumes waiting (its waited time keeps counting from
 * the first wait); a mark interrupted while resetting waits for the group again and is
 * re-planned from Kafka's state (the same targets commit idempotently; only topics the
 * new plan names are deleted). A run with no marks yet is started. Returns 0 or KR_E*. */
int kr_streams_marks_resume(kr_streams_marks_t *m, kr_run_t *run, char *err, size_t errlen);

/* Restores from one journal record (streams.*; others are ignored). No effects. */
int kr_streams_marks_replay(kr_streams_marks_t *m, const json_t *record);
/* One streams.snapshot record per mark through emit (journal compaction). */
int kr_streams_marks_snapshot(const kr_streams_marks_t *m,
                              int (*emit)(json_t *record, void *arg), void *arg);

/* Every mark as GET /v1/streams-resets shows it, oldest first, optionally only those of a
 * cluster / application id / state name (NULL: any): a new array of {id, run, incident,
 * cluster, application_id, state, message, reason, to, reset: {to, time}, dry_run,
 * auto_reset, owners, created, waiting_since, waited_ms, polls, group: {state, members},
 * steps: [{time, step, message}], plan, page, command}. */
json_t *kr_streams_marks_json(const kr_streams_marks_t *m, const char *cluster,
                              const char *app, const char *state);
/* One mark's JSON (new), or NULL when unknown. */
json_t *kr_streams_mark_json(const kr_streams_marks_t *m, const char *id);
size_t kr_streams_marks_count(const kr_streams_marks_t *m, kr_mark_state_t state);

/* ---- daemon wiring (actions/streams_reset.c) ---- */
struct kr_daemon;
/* Checks the streams_apps config, creates d->streams (hooks into the cluster model and
 * the pager where the daemon has them), registers GET /v1/streams-resets and
 * /v1/streams-resets/{id} and the journal snapshot writer. Call after the journal is open
 * and before replay and kr_http_start. Returns 0 or KR_E* with err. */
int kr_streams_daemon_init(struct kr_daemon *d, char *err, size_t errlen);

#endif
