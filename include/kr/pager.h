/* kr/pager.h: paging operators: the `receivers:` config (Slack incoming webhooks,
 * PagerDuty Events API v2, generic webhooks), the message builders, and the pager that
 * turns page actions, action-run changes and incident transitions into messages delivered
 * through the durable outbox (kr/outbox.h).
 *
 * DESIGN (everything on the loop thread). A page run calls kr_pager_page: the pager
 * journals pager.page {run, incident, to, summary, details, severity, event} and builds
 * the trigger messages on the next loop pass, so they list every action the incident
 * dispatched in the same pass with its state. Each message is built per receiver (Slack
 * Block Kit, PagerDuty event, webhook document), journaled (outbox.add) and, once
 * durable, posted through kr/httpc.h; the run finishes when all its messages are
 * delivered ("paged kafka-oncall (slack)") or one failed for good. Later changes of the
 * incident's action runs (kr_pager_run_changed) become follow-ups to the same receivers:
 * state changes at once (coalesced within one loop pass), progress at most every
 * outbox.followup_interval. kr_pager_incident_changed sends the resolve pages (Slack
 * message, PagerDuty `resolve` with the same dedup_key) and forgets the incident.
 *
 * PagerDuty gets the trigger, a re-trigger with the same dedup_key when an action fails
 * (it lands in the alert's log and keeps it open) and the resolve; it is never
 * acknowledged automatically, since an acknowledgement stops the escalation while nobody
 * human is on it yet. An operator cancel leaves the PagerDuty alert open for the human
 * who took over. Secrets (Slack and webhook URLs, routing keys, HMAC secrets, header
 * values) are never journaled: they are added when a message is sent. */
#ifndef KR_PAGER_H
#define KR_PAGER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kr/config.h"
#include "kr/journal.h"
#include "kr/metrics.h"

struct event_base;

typedef struct kr_pager kr_pager_t;

/* ---- receivers ---- */

/* Validates cfg->receivers (names unique, exactly one kind each, known keys, URLs,
 * secrets resolvable, severity_map values) with file:line:col errors, as `kresponder
 * check -c` and the daemon's start do. Returns 0 or KR_EINVAL with err. */
int kr_pager_check(const kr_config_t *cfg, char *err, size_t errlen);

/* ---- message builders (pure; any thread) ----
 * Input: a page (see tests/golden/pages/): {page: "trigger"|"followup"|"resolve",
 * incident: {id, rule, state, started?, closed?}, summary, details?, severity, event
 * (normalized, "raw" not needed), actions: [{index, kind, state, message?}], updates:
 * ["evacuate: batch 2 of 5 written", ...] (follow-ups), time (RFC 3339 of the message),
 * links: [{href, text}]}. Each returns a new JSON body, or NULL when the receiver kind has
 * nothing to send for that page (PagerDuty follow-ups without a failure, cancels). */

/* Slack incoming webhook message: Block Kit blocks plus a plain `text` fallback. `channel`
 * (may be NULL) overrides the webhook's channel; `mention` (e.g. "<!here>", may be NULL)
 * is prepended on triggers. Limits kept: header ≤150 chars, section text ≤3000, field
 * text ≤2000, ≤10 fields; &, <, > escaped in mrkdwn. */
json_t *kr_page_slack(const json_t *page, const char *channel, const char *mention);
/* PagerDuty Events API v2 event: trigger {routing_key, event_action, dedup_key =
 * incident id, payload {summary ≤1024, source, severity, timestamp, component, group,
 * class, custom_details {details, event, actions, updates}}, links, client}; resolve
 * {routing_key, event_action, dedup_key}. routing_key NULL leaves it out (the journaled
 * form); severity_map (object kresponder severity → PagerDuty severity, may be NULL). */
json_t *kr_page_pagerduty(const json_t *page, const char *routing_key, const json_t *severity_map);
/* Generic webhook document: {kind, incident, summary, details, severity, event, actions,
 * updates, time, links}. */
json_t *kr_page_webhook(const json_t *page);
/* "sha256=<64 hex>" HMAC-SHA256 of body under secret into out (at least 72 bytes).
 * Returns 0 or KR_EINVAL. */
int kr_page_sign(const char *secret, const char *body, size_t len, char *out, size_t outlen);
/* Copies s into out truncated to at most max characters (UTF-8 code points), ending in
 * "…" when cut. Returns a new string. */
char *kr_page_truncate(const char *s, size_t max);

/* ---- the pager (loop thread) ---- */

/* How the pager reaches the rest of the daemon (all optional). */
typedef struct kr_pager_hooks {
    /* The incident's action runs as kr_runs_incident_json gives them (new array). */
    json_t *(*actions)(const char *incident_id, void *arg);
    /* The incident as kr_incident_to_json gives it (new object), or NULL. */
    json_t *(*incident)(const char *incident_id, void *arg);
    /* A page run is over: rc 0 (every message delivered) or < 0 with a message. */
    void (*page_done)(const char *run_id, int rc, const char *message, void *arg);
    void *arg;
} kr_pager_hooks_t;

/* A new pager for cfg's receivers (cfg and metrics borrowed, must outlive the pager).
 * Returns NULL with err (the receivers' config error, or out of memory). */
kr_pager_t *kr_pager_new(struct event_base *base, const kr_config_t *cfg, kr_metrics_t *metrics,
                         char *err, size_t errlen);
/* Cancels deliveries in flight (they are sent again after a restart) and frees. */
void kr_pager_free(kr_pager_t *p);
void kr_pager_set_hooks(kr_pager_t *p, const kr_pager_hooks_t *hooks);
/* Uses this CA file for deliveries (tests with TLS receivers). */
int kr_pager_set_ca_file(kr_pager_t *p, const char *path, char *err, size_t errlen);

/* Restores from one journal record (pager.* and outbox.*; others ignored). */
int kr_pager_replay(kr_pager_t *p, const json_t *record);
/* After replay, with the open journal: builds triggers that were journaled but not queued,
 * reports page runs whose messages were all settled, and starts delivery. */
int kr_pager_resume(kr_pager_t *p, kr_journal_t *journal);

/* Writes the pager's live state as journal records (pager.page for paged incidents and
 * page runs not yet over, outbox.add for every undelivered message) through add, for a
 * journal snapshot (compaction); kr_pager_replay restores from them alone. */
int kr_pager_snapshot(const kr_pager_t *p, int (*add)(json_t *record, void *arg), void *arg);

/* A page action run (run ids are unique; calling it again for a run the pager already
 * knows, e.g. from kr_pager_resume via a run's resume hook, does not page twice).
 * params: {to, summary, details, severity} rendered; event: the incident's first event.
 * Returns 0, or KR_EINVAL (no such receiver, bad params) / KR_EIO with err. */
int kr_pager_page(kr_pager_t *p, const char *run_id, const char *incident_id, const json_t *params,
                  const json_t *event, char *err, size_t errlen);
/* A run of a paged incident changed state (state_changed 1) or reported progress:
 * kind ("evacuate"), index, state name ("running"), message. Unpaged incidents and page
 * runs themselves are ignored. */
void kr_pager_run_changed(kr_pager_t *p, const char *incident_id, const char *kind, size_t index,
                          const char *state, const char *message, int state_changed);
/* An incident changed state (incident: kr_incident_to_json, borrowed; from/to state names
 * as kr_incident_state_name gives them, from may be NULL). Entering "resolved" sends the
 * resolve pages; "cancelled" a closing message (PagerDuty untouched). */
void kr_pager_incident_changed(kr_pager_t *p, const json_t *incident, const char *from, const char *to);

struct kr_daemon;
/* Connects d->pager to the daemon's response pipeline (d->respond: action runs and
 * incidents become follow-ups and resolve pages; page runs finish when delivered), then
 * kr_pager_resume with d->journal. Call after replay, before kr_respond_resume (so page
 * runs resuming find the pager ready). Implemented with the page action (page.c).
 * Returns 0 or an error with err. */
int kr_pager_start(struct kr_daemon *d, char *err, size_t errlen);

/* Unfinished messages (all receivers) and paged incidents still followed. */
size_t kr_pager_depth(const kr_pager_t *p);
size_t kr_pager_incidents(const kr_pager_t *p);

#endif
