/* kr/respond.h: the response pipeline of the daemon: the active rule set (loaded at start,
 * reloaded on SIGHUP or POST /v1/reload, swapped only if it compiles), incidents fed with
 * every durable event and their timers on the loop, action runs started through guards
 * (pause, dry run), and the operator API (/v1/incidents, cancel, reload, pause, resume).
 * Loop thread only. */
#ifndef KR_RESPOND_H
#define KR_RESPOND_H

#include <jansson.h>
#include <stddef.h>

#include "kr/daemon.h"
#include "kr/config.h"
#include "kr/incident.h"
#include "kr/rules.h"
#include "kr/runs.h"

typedef struct kr_respond kr_respond_t;

/* Called after every incident transition (from may be NULL for a new incident).
 * `incident` is the incident's API JSON (borrowed). */
typedef void (*kr_incident_listener_fn)(const json_t *incident, const char *from, const char *to,
                                        void *arg);

/* Checks that every receiver a rule pages (names without templates) is configured.
 * Returns 0 or KR_EINVAL with "file:line: rule NAME: ..." in err. Any thread. */
int kr_respond_check_receivers(const kr_config_t *cfg, const kr_ruleset_t *rs, char *err, size_t errlen);

/* Loads the rules (cfg->rules_dir, if set), creates the incident and run sets, registers
 * the API routes. Returns a new context or NULL with err (every rule error, one a line). */
kr_respond_t *kr_respond_new(kr_daemon_t *d, char *err, size_t errlen);
void kr_respond_free(kr_respond_t *r);
/* Restores state from one journal record (incidents, runs, pause); no effects. */
int kr_respond_replay(kr_respond_t *r, const json_t *record);
/* After replay: resumes incidents (dispatching what was never dispatched, running overdue
 * timers) and runs (each kind's resume hook). */
void kr_respond_resume(kr_respond_t *r);
/* A durable event enters the incident engine. */
void kr_respond_event(kr_respond_t *r, const json_t *event);
/* Reloads the rules; the old set stays on error. Returns 0 or KR_EINVAL with err. */
int kr_respond_reload(kr_respond_t *r, char *err, size_t errlen);
/* Refreshes incident/run/rule gauges before /metrics renders. */
void kr_respond_update_metrics(kr_respond_t *r);
/* 1 while Kafka-changing actions are paused (API or pause file). */
int kr_respond_paused(kr_respond_t *r);
kr_runs_t *kr_respond_runs(kr_respond_t *r);
int kr_respond_listen(kr_respond_t *r, kr_incident_listener_fn fn, void *arg);
/* The incident's API JSON (with its runs), a new reference, or NULL. */
json_t *kr_respond_incident_json(kr_respond_t *r, const char *id);

#endif
