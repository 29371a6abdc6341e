/* kr/runs.h: action runs: each action an incident dispatches becomes a run, an explicit
 * state machine (queued → running → done | failed | cancelled, or skipped when a guard or
 * dry run stops it before it starts) whose every transition and progress message is
 * journaled, shown in GET /v1/incidents/{id}, and announced to listeners (the pager sends
 * follow-ups). Loop thread only.
 *
 * Journal records: run.start {run, incident, index, kind, params, dry_run, event},
 * run.state {run, from, to, message}, run.progress {run, message, detail}. */
#ifndef KR_RUNS_H
#define KR_RUNS_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "kr/action.h"
#include "kr/journal.h"

typedef enum {
    KR_RUN_QUEUED = 0,
    KR_RUN_RUNNING,
    KR_RUN_DONE,
    KR_RUN_FAILED,
    KR_RUN_CANCELLED,
    KR_RUN_SKIPPED,
    KR_RUN_NSTATES
} kr_run_state_t;

typedef struct kr_runs kr_runs_t;

/* Called after every state change or progress message of any run (loop thread). */
typedef void (*kr_run_listener_fn)(kr_run_t *run, int state_changed, void *arg);

/* A new set. `journal` may be NULL (tests). `ctx` is handed to the kinds' hooks. */
kr_runs_t *kr_runs_new(kr_journal_t *journal, void *ctx);
void kr_runs_free(kr_runs_t *runs);
/* Adds a listener (at most 8). */
int kr_runs_listen(kr_runs_t *runs, kr_run_listener_fn fn, void *arg);

/* Creates and starts a run for action `index` of incident `incident_id`. params and event
 * are borrowed (copied). `skip_reason` non-NULL: the run is recorded as skipped with that
 * reason ("dry run: would have evacuated broker 3", "paused") and not started. Returns the
 * run (owned by the set) or NULL on allocation failure. */
kr_run_t *kr_runs_start(kr_runs_t *runs, const char *incident_id, size_t index, const char *kind,
                        const json_t *params, const json_t *event, int dry_run,
                        const char *skip_reason);
/* Operator cancel of every unfinished run of an incident. Returns how many were asked. */
int kr_runs_cancel_incident(kr_runs_t *runs, const char *incident_id);
/* Restores from a journal record (run.start/run.state/run.progress); no effects. */
int kr_runs_replay(kr_runs_t *runs, const json_t *record);
/* Writes every run as one run.snapshot record through emit (journal compaction);
 * kr_runs_replay restores it. */
int kr_runs_snapshot(const kr_runs_t *runs, int (*emit)(json_t *record, void *arg), void *arg);
/* After replay: runs left queued/running are resumed through their kind's resume hook, or
 * failed as interrupted. Never starts a run twice. */
void kr_runs_resume(kr_runs_t *runs);

/* The runs of one incident as a new JSON array [{id, index, kind, state, params, dry_run,
 * started, ended, message, progress: [...], detail}], in action order. */
json_t *kr_runs_incident_json(const kr_runs_t *runs, const char *incident_id);
/* Calls fn for every run, oldest first (stops at a non-zero result, returned). */
int kr_runs_foreach(const kr_runs_t *runs, int (*fn)(const kr_run_t *run, void *arg), void *arg);
/* When the run was dispatched (ms). */
int64_t kr_run_created_ms(const kr_run_t *run);
/* Counts by state, for /metrics. */
size_t kr_runs_count(const kr_runs_t *runs, kr_run_state_t state);
kr_run_t *kr_runs_find(const kr_runs_t *runs, const char *run_id);

/* ---- used by action kinds ---- */
const char *kr_run_id(const kr_run_t *run);              /* "<incident>/<index>" */
const char *kr_run_incident_id(const kr_run_t *run);
size_t kr_run_index(const kr_run_t *run);
const char *kr_run_kind(const kr_run_t *run);
const json_t *kr_run_params(const kr_run_t *run);       /* rendered parameters (borrowed) */
const json_t *kr_run_event(const kr_run_t *run);        /* the incident's first event */
int kr_run_dry_run(const kr_run_t *run);
kr_run_state_t kr_run_state(const kr_run_t *run);
const char *kr_run_state_name(kr_run_state_t s);
const char *kr_run_message(const kr_run_t *run);        /* last message, "" if none */
/* Kind-private state (e.g. an evacuation's executor), freed with `free_fn` when the run
 * is freed. */
void kr_run_set_data(kr_run_t *run, void *data, void (*free_fn)(void *));
void *kr_run_data(const kr_run_t *run);
/* A progress message ("batch 2 of 5 written: 10 partitions") and optional detail object
 * (stolen; replaces the run's detail, e.g. {"batches_done":2,"batches":5}). Journaled;
 * listeners are told. */
void kr_run_progress(kr_run_t *run, json_t *detail, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ends a run: done (rc 0), failed (rc < 0) or cancelled (rc == KR_ESTATE) with a message. */
void kr_run_finish(kr_run_t *run, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
