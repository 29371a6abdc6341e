/* kr/incident.h: incidents: a matched rule plus its group_by values (the incident key),
 * as a deterministic state machine with no I/O and no clock of its own.
 *
 * DESIGN. The daemon (loop thread) feeds events and timer ticks with the current time;
 * the engine reports every effect through a callback table: journal (every transition and
 * action dispatch as a JSON record, written before the effect), dispatch (start action i
 * of the incident's rule with its rendered parameters), schedule (the next time
 * kr_incidents_on_timer must run). On restart the daemon replays the journal's records
 * with kr_incidents_replay, then calls kr_incidents_resume, which dispatches only actions
 * whose record is missing (no action runs twice) and schedules the next timer.
 *
 * Lifecycle: every incident opens `pending` (waiting out `for`, 0 included) on a
 * state=firing event; then `firing` (actions dispatched) or `suppressed` (the same key
 * acted within the rule's cooldown: recorded, not acted on). A resolving event (see
 * kr_rule_resolves) cancels a pending incident and resolves a firing or suppressed one
 * (a firing one also gets an incident.followup record listing its actions, for resolve
 * pages). An operator may cancel any open incident; cancelling a firing one is where the
 * daemon cancels its running actions. Repeated firing events for an open incident are
 * counted, not re-acted. Incidents refer to rules by name: after a reload they use the new
 * set; a pending incident whose rule is gone or disabled is cancelled when its timer runs;
 * an open one whose rule is gone resolves by the default rule (same source, state
 * resolved, same group values).
 *
 * Journal records (all carry "record", "incident", "at" ms and "time" RFC 3339):
 *   incident.open     {key, rule, group, for_ms, deadline, event}
 *   incident.state    {from, to, reason}
 *   incident.event    {event_id, count}
 *   incident.action   {index, kind, params, dry_run}
 *   incident.followup {actions: [{index, kind}]}
 * Loop thread only. */
#ifndef KR_INCIDENT_H
#define KR_INCIDENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kr/rules.h"

typedef enum {
    KR_INCIDENT_PENDING = 0,
    KR_INCIDENT_FIRING,
    KR_INCIDENT_SUPPRESSED,
    KR_INCIDENT_RESOLVED,
    KR_INCIDENT_CANCELLED,
    KR_INCIDENT_NSTATES
} kr_incident_state_t;

typedef struct kr_incident kr_incident_t;
typedef struct kr_incidents kr_incidents_t;

/* One action to start. All pointers are borrowed for the duration of the call. */
typedef struct kr_dispatch {
    const kr_incident_t *incident;
    size_t index;          /* position in the rule's actions */
    const char *kind;      /* "page", "evacuate", ... */
    const json_t *params;  /* templates rendered against the first event + incident */
    int dry_run;           /* the rule says dry_run */
} kr_dispatch_t;

typedef struct kr_incident_effects {
    int (*journal)(const json_t *record, void *arg);      /* record borrowed */
    int (*dispatch)(const kr_dispatch_t *d, void *arg);
    void (*schedule)(int64_t at_ms, void *arg);           /* -1: no timer needed */
    void *arg;
} kr_incident_effects_t;

/* A new, empty set. `fx` is copied; any callback may be NULL. Closed incidents beyond
 * keep_closed (oldest first) are forgotten (0 means 1000). */
kr_incidents_t *kr_incidents_new(const kr_incident_effects_t *fx, size_t keep_closed);
void kr_incidents_free(kr_incidents_t *set);

/* Makes `rs` the current rule set (incref; the previous one is decref'd). */
void kr_incidents_set_ruleset(kr_incidents_t *set, kr_ruleset_t *rs);
/* Feeds one event (borrowed). Uses (and from then on keeps) `rs`. Returns 0, or the first
 * error a journal/dispatch callback returned (processing still completes). */
int kr_incidents_on_event(kr_incidents_t *set, kr_ruleset_t *rs, const json_t *event,
                          int64_t now_ms);
/* Runs due timers (pending incidents whose `for` has elapsed). Returns like on_event. */
int kr_incidents_on_timer(kr_incidents_t *set, int64_t now_ms);
/* Operator cancel. 0, KR_ENOTFOUND (no such id) or KR_ESTATE (already closed). */
int kr_incidents_cancel(kr_incidents_t *set, const char *id, int64_t now_ms);

/* Restores state from one journal record (as given to the journal callback); no effects.
 * Unknown records are ignored (0); malformed ones give KR_EINVAL. */
int kr_incidents_replay(kr_incidents_t *set, const json_t *record);
/* Writes the whole live state (each kept incident as an incident.snapshot record, then
 * incident.cooldowns with the id sequence) through emit, for journal compaction; replaying
 * those records alone restores the same state. Stops at emit's first error. */
int kr_incidents_snapshot(const kr_incidents_t *set, int (*emit)(json_t *record, void *arg), void *arg);
/* After replay (and kr_incidents_set_ruleset): dispatches the actions of firing incidents
 * that have no incident.action record, runs overdue timers, schedules the next one. */
int kr_incidents_resume(kr_incidents_t *set, int64_t now_ms);
/* The earliest pending deadline, or -1. */
int64_t kr_incidents_next_timer(const kr_incidents_t *set);

size_t kr_incidents_count(const kr_incidents_t *set);       /* open and kept closed ones */
const kr_incident_t *kr_incidents_at(const kr_incidents_t *set, size_t i); /* oldest first */
const kr_incident_t *kr_incidents_find(const kr_incidents_t *set, const char *id);
/* GET /v1/incidents: a new array, newest first; open_only leaves out closed ones. */
json_t *kr_incidents_to_json(const kr_incidents_t *set, int open_only);

/* GET /v1/incidents/{id}: a new object with id, key, rule, state, group, times, event
 * counts, first_event, actions and history. */
json_t *kr_incident_to_json(const kr_incident_t *inc);
const char *kr_incident_id(const kr_incident_t *inc);
const char *kr_incident_key(const kr_incident_t *inc);
const char *kr_incident_rule(const kr_incident_t *inc);
kr_incident_state_t kr_incident_state(const kr_incident_t *inc);
int64_t kr_incident_events(const kr_incident_t *inc);       /* firing events counted */
const json_t *kr_incident_first_event(const kr_incident_t *inc);
const char *kr_incident_state_name(kr_incident_state_t s);  /* "pending", ...; never NULL */

#endif
