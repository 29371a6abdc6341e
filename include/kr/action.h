/* kr/action.h: the registry of action kinds (one row per kind: name, parameter
 * validation, whether it changes Kafka, and its runtime hooks). Rule compilation calls
 * validate so a typo in an action fails at load time; the incident engine calls start and
 * cancel on the loop thread. Adding a kind is one file and one row in actions/registry.c. */
#ifndef KR_ACTION_H
#define KR_ACTION_H

#include <jansson.h>
#include <stddef.h>

#include "kr/doc.h"

typedef struct kr_run kr_run_t; /* one dispatched action of one incident (kr/runs.h) */

typedef struct kr_action_kind {
    const char *name;
    /* Checks a rule's parameters for this kind at compile time. `params` is borrowed from
     * `doc` (may be null for a kind written as `- log:` with no parameters), so errors
     * can name file:line:col through kr_doc_*errf. Template strings ({{path}}) are
     * checked by the caller. Returns 0 or KR_EINVAL with err filled. */
    int (*validate)(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen);
    /* Kafka-changing kinds are subject to guards: pause, dry_run, blast radius. */
    int kafka_changing;
    const char *help;
    /* Starts a run (loop thread). The run's parameters are rendered; guards (pause,
     * dry_run, blast radius) were applied before. The kind reports through kr_run_progress
     * and ends the run with kr_run_finish, now or later (async work); it must not block.
     * `ctx` is the daemon (kr_daemon_t *). Returns 0, or an error: the run then fails
     * with err. NULL: the kind has no executor in this build and the run fails saying so. */
    int (*start)(kr_run_t *run, void *ctx, char *err, size_t errlen);
    /* Asks a running run to stop (an evacuation stops after the batch in flight and then
     * finishes as cancelled). NULL: the run is finished as cancelled at once. */
    void (*cancel)(kr_run_t *run, void *ctx);
    /* After a restart, a run journaled as running is handed back here to reconcile and
     * continue (e.g. from ZooKeeper's state); it must never repeat completed work. NULL:
     * the run is finished as failed ("interrupted by a restart"), never started again. */
    int (*resume)(kr_run_t *run, void *ctx, char *err, size_t errlen);
} kr_action_kind_t;

/* The kinds, one file each under src/actions/. */
extern const kr_action_kind_t kr_action_log, kr_action_page, kr_action_evacuate,
    kr_action_drain_stack, kr_action_elect_leaders, kr_action_mark_streams_reset, kr_action_exec;

/* Looks up a kind by name; NULL if unknown. Any thread (the table is constant). */
const kr_action_kind_t *kr_action_kind_find(const char *name);
/* The known kind names joined by ", " (for "expected one of ..." errors). Static string. */
const char *kr_action_kind_names(void);

#endif
