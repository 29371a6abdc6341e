/* kr/rules.h: rule sets: load a rules_dir (or one file) of YAML/JSON rules, compile them
 * (patterns, durations, group_by paths, actions checked through the action registry,
 * templates), and evaluate events against the compiled set.
 *
 * Parse -> compile -> evaluate: kr_ruleset_load collects every error of every file, one
 * "file:line:col: message" per line, and returns NULL if there was any. The compiled set
 * is immutable and reference counted, so a reload can swap it in while incidents still
 * hold the old one. Matching does no I/O and no allocation; rules are indexed by the
 * literal values their pattern requires for `type` (else `source`), so an event is only
 * tested against the rules that could match it plus the unindexed ones.
 * A compiled set may be read from any thread; incref/decref are not atomic (loop thread). */
#ifndef KR_RULES_H
#define KR_RULES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kr_ruleset kr_ruleset_t;
typedef struct kr_rule kr_rule_t;

/* Loads every *.yaml, *.yml and *.json file in the directory `path` (sorted by name,
 * hidden files skipped), or the single file `path`. Each file holds one rule (a map) or a
 * list of rules. Returns a new set (refcount 1), or NULL with every error in err, one per
 * line (truncated with a final "... N more errors" line if err is too small). */
kr_ruleset_t *kr_ruleset_load(const char *path, char *err, size_t errlen);
/* Compiles the rules in one buffer (named `name` in errors); for tests and fuzzing. */
kr_ruleset_t *kr_ruleset_parse(const char *name, const char *buf, size_t len, char *err,
                               size_t errlen);
void kr_ruleset_incref(kr_ruleset_t *rs);
void kr_ruleset_decref(kr_ruleset_t *rs); /* frees at zero; NULL is fine */

size_t kr_ruleset_count(const kr_ruleset_t *rs);  /* rules, disabled ones included */
size_t kr_ruleset_nfiles(const kr_ruleset_t *rs); /* files read */
const kr_rule_t *kr_ruleset_rule(const kr_ruleset_t *rs, size_t i); /* borrowed; load order */
const kr_rule_t *kr_ruleset_find(const kr_ruleset_t *rs, const char *name); /* or NULL */

/* Calls cb for every enabled rule whose match pattern matches `event` (borrowed), in
 * load order. cb returns 0 to go on, anything else to stop. Returns the number of rules
 * cb was called for. No I/O, no allocation. */
int kr_ruleset_match(const kr_ruleset_t *rs, const json_t *event,
                     int (*cb)(const kr_rule_t *rule, void *arg), void *arg);

/* What `kresponder match` prints for one event: a new reference to
 * {"event": event, "matches": [{"rule", "incident_key", "for", "actions": [{kind: params
 * with templates resolved}], "dry_run" (only when true)}]}. */
json_t *kr_ruleset_explain(const kr_ruleset_t *rs, const json_t *event);

/* Accessors (borrowed values, valid while the set lives). */
const char *kr_rule_name(const kr_rule_t *r);
const char *kr_rule_description(const kr_rule_t *r);     /* "" when none */
int64_t kr_rule_for_ms(const kr_rule_t *r);
int64_t kr_rule_cooldown_ms(const kr_rule_t *r);
const json_t *kr_rule_group_by(const kr_rule_t *r);      /* array of path strings */
int kr_rule_dry_run(const kr_rule_t *r);
int kr_rule_enabled(const kr_rule_t *r);
const json_t *kr_rule_actions(const kr_rule_t *r);       /* [{"kind": K, "params": P}] */
size_t kr_rule_nactions(const kr_rule_t *r);
const char *kr_rule_action_kind(const kr_rule_t *r, size_t i);
const json_t *kr_rule_action_params(const kr_rule_t *r, size_t i); /* may be JSON null */
const char *kr_rule_file(const kr_rule_t *r);
int kr_rule_line(const kr_rule_t *r);

/* The incident key of `event` for this rule: "<rule>|cluster=orders-prod|broker.id=3".
 * With the default group_by ([cluster, broker.id]) an event without broker.id is grouped
 * by instance.id instead. Returns 0, or KR_EINVAL if buf was too small (truncated). */
int kr_rule_incident_key(const kr_rule_t *r, const json_t *event, char *buf, size_t len);
/* The group values as a new object {"cluster": "orders-prod", "broker.id": 3} (missing
 * values are null). */
json_t *kr_rule_group_values(const kr_rule_t *r, const json_t *event);
/* 1 if `event` resolves the incident opened by `first_event`: it has the same group
 * values and either matches the rule's `resolve` pattern or, without one, has the same
 * source as first_event and state "resolved". */
int kr_rule_resolves(const kr_rule_t *r, const json_t *first_event, const json_t *event);

/* The template context for this rule's actions: a new object with the event's members
 * and "incident": {id, key, rule, started} (id/started left out when NULL/<0). */
json_t *kr_rule_context(const kr_rule_t *r, const json_t *event, const char *incident_id,
                        int64_t started_ms);

#endif
