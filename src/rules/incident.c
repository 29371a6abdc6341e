/* rules/incident.c: the incident state machine (pending -> firing | suppressed ->
 * resolved, or cancelled), cooldown memory per key, journal records and their replay.
 * No I/O and no clock: time comes in, effects go out through kr_incident_effects_t. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/incident.h"
#include "kr/log.h"
#include "kr/template.h"
#include "kr/units.h"

static const char *const state_names[KR_INCIDENT_NSTATES] = {
    [KR_INCIDENT_PENDING] = "pending",     [KR_INCIDENT_FIRING] = "firing",
    [KR_INCIDENT_SUPPRESSED] = "suppressed", [KR_INCIDENT_RESOLVED] = "resolved",
    [KR_INCIDENT_CANCELLED] = "cancelled",
};

/* allowed[from] is a bit set of the states `from` may go to. */
#define BIT(s) (1u << (s))
static const unsigned allowed[KR_INCIDENT_NSTATES] = {
    [KR_INCIDENT_PENDING] = BIT(KR_INCIDENT_FIRING) | BIT(KR_INCIDENT_SUPPRESSED) | BIT(KR_INCIDENT_CANCELLED),
    [KR_INCIDENT_FIRING] = BIT(KR_INCIDENT_RESOLVED) | BIT(KR_INCIDENT_CANCELLED),
    [KR_INCIDENT_SUPPRESSED] = BIT(KR_INCIDENT_RESOLVED) | BIT(KR_INCIDENT_CANCELLED),
    [KR_INCIDENT_RESOLVED] = 0,
    [KR_INCIDENT_CANCELLED] = 0,
};

struct kr_incident {
    char id[16];
    char *key;
    char *rule;
    kr_incident_state_t state;
    json_t *group;           /* {"cluster": ..., "broker.id": ...} */
    json_t *first_event;
    char *last_event_id;
    int64_t events;          /* firing events counted, the first included */
    int64_t started_ms, updated_ms, deadline_ms, fired_ms, closed_ms;
    int64_t for_ms;
    json_t *actions;         /* [{index, kind, params, dry_run, state, at}] in dispatch order */
    json_t *history;         /* [{from, to, at, reason}] */
};

typedef struct cooldown {
    char *key;
    int64_t acted_ms;
} cooldown_t;

struct kr_incidents {
    kr_incident_effects_t fx;
    kr_ruleset_t *rs;
    kr_incident_t **v;       /* creation order */
    size_t n, cap;
    size_t keep_closed;
    cooldown_t *cool;
    size_t ncool;
    uint64_t seq;
    int64_t scheduled;       /* last value given to schedule(), to call it only on change */
    int rc;                  /* first callback error of the current call */
};

const char *kr_incident_state_name(kr_incident_state_t s)
{
    return s < KR_INCIDENT_NSTATES ? state_names[s] : "unknown";
}

static int state_from_name(const char *s)
{
    for (int i = 0; s && i < KR_INCIDENT_NSTATES; i++)
        if (strcmp(s, state_names[i]) == 0)
            return i;
    return -1;
}

static int is_open(const kr_incident_t *inc)
{
    return inc->state == KR_INCIDENT_PENDING || inc->state == KR_INCIDENT_FIRING ||
           inc->state == KR_INCIDENT_SUPPRESSED;
}

static void incident_free(kr_incident_t *inc)
{
    if (!inc)
        return;
    free(inc->key);
    free(inc->rule);
    free(inc->last_event_id);
    json_decref(inc->group);
    json_decref(inc->first_event);
    json_decref(inc->actions);
    json_decref(inc->history);
    free(inc);
}

kr_incidents_t *kr_incidents_new(const kr_incident_effects_t *fx, size_t keep_closed)
{
    kr_incidents_t *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    if (fx)
        set->fx = *fx;
    set->keep_closed = keep_closed ? keep_closed : 1000;
    set->scheduled = -1;
    return set;
}

void kr_incidents_free(kr_incidents_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        incident_free(set->v[i]);
    free(set->v);
    for (size_t i = 0; i < set->ncool; i++)
        free(set->cool[i].key);
    free(set->cool);
    kr_ruleset_decref(set->rs);
    free(set);
}

void kr_incidents_set_ruleset(kr_incidents_t *set, kr_ruleset_t *rs)
{
    if (rs == set->rs)
        return;
    kr_ruleset_incref(rs);
    kr_ruleset_decref(set->rs);
    set->rs = rs;
}

/* ---------- effects ---------- */

static void note_rc(kr_incidents_t *set, int rc)
{
    if (rc && !set->rc)
        set->rc = rc;
}

/* Journals a record: adds incident id, at and time, then steals it. */
static void journal(kr_incidents_t *set, const kr_incident_t *inc, const char *type, json_t *rec,
                    int64_t now_ms)
{
    char ts[40];
    if (!rec)
        return;
    json_object_set_new(rec, "record", json_string(type));
    json_object_set_new(rec, "incident", json_string(inc->id));
    json_object_set_new(rec, "at", json_integer(now_ms));
    json_object_set_new(rec, "time", json_string(kr_time_format(now_ms, ts, sizeof ts)));
    if (set->fx.journal)
        note_rc(set, set->fx.journal(rec, set->fx.arg));
    json_decref(rec);
}

static void reschedule(kr_incidents_t *set)
{
    int64_t next = kr_incidents_next_timer(set);
    if (next != set->scheduled) {
        set->scheduled = next;
        if (set->fx.schedule)
            set->fx.schedule(next, set->fx.arg);
    }
}

/* ---------- the state machine ---------- */

/* Moves inc to `to` if the transition is allowed; records history; journals unless
 * replaying. Returns 0 or KR_ESTATE. */
static int apply_state(kr_incidents_t *set, kr_incident_t *inc, kr_incident_state_t to,
                       const char *reason, int64_t now_ms, int replaying)
{
    kr_incident_state_t from = inc->state;
    if (!(allowed[from] & BIT(to))) {
        KR_WARN("incident", "msg=\"refused transition\" id=%s from=%s to=%s", inc->id,
                state_names[from], state_names[to]);
        return KR_ESTATE;
    }
    inc->state = to;
    inc->updated_ms = now_ms;
    if (to == KR_INCIDENT_FIRING)
        inc->fired_ms = now_ms;
    if (!is_open(inc))
        inc->closed_ms = now_ms;
    json_array_append_new(inc->history, json_pack("{s:s, s:s, s:I, s:s}", "from", state_names[from], "to",
                                                  state_names[to], "at", (json_int_t)now_ms, "reason", reason));
    KR_INFO("incident", "msg=\"%s -> %s\" id=%s key=\"%s\" reason=\"%s\"", state_names[from],
            state_names[to], inc->id, inc->key, reason);
    if (!replaying)
        journal(set, inc, "incident.state",
                json_pack("{s:s, s:s, s:s}", "from", state_names[from], "to", state_names[to], "reason", reason),
                now_ms);
    return KR_OK;
}

static cooldown_t *cooldown_find(kr_incidents_t *set, const char *key)
{
    for (size_t i = 0; i < set->ncool; i++)
        if (strcmp(set->cool[i].key, key) == 0)
            return &set->cool[i];
    return NULL;
}

static void cooldown_note(kr_incidents_t *set, const char *key, int64_t at_ms)
{
    cooldown_t *c = cooldown_find(set, key);
    if (c) {
        if (at_ms > c->acted_ms)
            c->acted_ms = at_ms;
        return;
    }
    cooldown_t *nc = realloc(set->cool, (set->ncool + 1) * sizeof *nc);
    if (!nc)
        return;
    set->cool = nc;
    if ((nc[set->ncool].key = strdup(key)) != NULL) {
        nc[set->ncool].acted_ms = at_ms;
        set->ncool++;
    }
}

static int action_recorded(const kr_incident_t *inc, size_t index)
{
    for (size_t i = 0; i < json_array_size(inc->actions); i++)
        if ((size_t)json_integer_value(json_object_get(json_array_get(inc->actions, i), "index")) == index)
            return 1;
    return 0;
}

/* Journals then dispatches every action of the rule not yet recorded for inc. */
static void dispatch_actions(kr_incidents_t *set, kr_incident_t *inc, const kr_rule_t *rule, int64_t now_ms)
{
    char ts[40];
    json_t *ctx = kr_rule_context(rule, inc->first_event, inc->id, inc->started_ms);
    (void)ts;
    for (size_t i = 0; ctx && i < kr_rule_nactions(rule); i++) {
        if (action_recorded(inc, i))
            continue;
        const char *kind = kr_rule_action_kind(rule, i);
        json_t *params = kr_template_render_params(kr_rule_action_params(rule, i), ctx);
        if (!params)
            params = json_null();
        int dry = kr_rule_dry_run(rule);
        json_array_append_new(inc->actions, json_pack("{s:I, s:s, s:O, s:b, s:s, s:I}", "index", (json_int_t)i,
                                                      "kind", kind, "params", params, "dry_run", dry, "state",
                                                      "dispatched", "at", (json_int_t)now_ms));
        journal(set, inc, "incident.action",
                json_pack("{s:I, s:s, s:O, s:b}", "index", (json_int_t)i, "kind", kind, "params", params,
                          "dry_run", dry),
                now_ms);
        if (set->fx.dispatch) {
            kr_dispatch_t d = { inc, i, kind, params, dry };
            note_rc(set, set->fx.dispatch(&d, set->fx.arg));
        }
        json_decref(params);
    }
    json_decref(ctx);
}

/* The `for` has elapsed (or was 0): fire, or record that the cooldown holds it back. */
static void fire(kr_incidents_t *set, kr_incident_t *inc, const kr_rule_t *rule, int64_t now_ms)
{
    cooldown_t *c = cooldown_find(set, inc->key);
    int64_t cool = kr_rule_cooldown_ms(rule);
    if (c && cool > 0 && now_ms < c->acted_ms + cool) {
        char reason[160], ts[40], dur[40];
        snprintf(reason, sizeof reason, "cooldown %s: this key acted at %s",
                 kr_duration_format(cool, dur, sizeof dur), kr_time_format(c->acted_ms, ts, sizeof ts));
        apply_state(set, inc, KR_INCIDENT_SUPPRESSED, reason, now_ms, 0);
        return;
    }
    if (apply_state(set, inc, KR_INCIDENT_FIRING, inc->for_ms ? "for elapsed" : "matched", now_ms, 0) != KR_OK)
        return;
    cooldown_note(set, inc->key, now_ms);
    dispatch_actions(set, inc, rule, now_ms);
}

/* Forgets the oldest closed incidents beyond keep_closed. */
static void prune(kr_incidents_t *set)
{
    size_t closed = 0;
    for (size_t i = 0; i < set->n; i++)
        closed += !is_open(set->v[i]);
    for (size_t i = 0; i < set->n && closed > set->keep_closed;) {
        if (is_open(set->v[i])) {
            i++;
            continue;
        }
        incident_free(set->v[i]);
        memmove(&set->v[i], &set->v[i + 1], (set->n - i - 1) * sizeof *set->v);
        set->n--;
        closed--;
    }
}

static uint32_t fnv1a(const char *s, uint32_t h)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static kr_incident_t *find_id(const kr_incidents_t *set, const char *id)
{
    for (size_t i = 0; id && i < set->n; i++)
        if (strcmp(set->v[i]->id, id) == 0)
            return set->v[i];
    return NULL;
}

static kr_incident_t *find_open_key(const kr_incidents_t *set, const char *key)
{
    for (size_t i = set->n; i-- > 0;)
        if (is_open(set->v[i]) && strcmp(set->v[i]->key, key) == 0)
            return set->v[i];
    return NULL;
}

static kr_incident_t *incident_add(kr_incidents_t *set, const char *id, const char *key, const char *rule)
{
    kr_incident_t *inc = calloc(1, sizeof *inc);
    if (!inc)
        return NULL;
    snprintf(inc->id, sizeof inc->id, "%s", id);
    inc->key = strdup(key);
    inc->rule = strdup(rule);
    inc->actions = json_array();
    inc->history = json_array();
    inc->deadline_ms = inc->fired_ms = inc->closed_ms = -1;
    if (!inc->key || !inc->rule || !inc->actions || !inc->history)
        goto fail;
    if (set->n == set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 16;
        kr_incident_t **nv = realloc(set->v, ncap * sizeof *nv);
        if (!nv)
            goto fail;
        set->v = nv;
        set->cap = ncap;
    }
    set->v[set->n++] = inc;
    return inc;
fail:
    incident_free(inc);
    return NULL;
}

static void set_last_event(kr_incident_t *inc, const json_t *event)
{
    const char *id = json_string_value(json_object_get(event, "id"));
    free(inc->last_event_id);
    inc->last_event_id = id ? strdup(id) : NULL;
}

/* A new incident for rule r and this event: opens pending, fires now if `for` is 0. */
static void open_incident(kr_incidents_t *set, const kr_rule_t *r, const char *key, const json_t *event,
                          int64_t now_ms)
{
    char id[16];
    for (uint64_t tries = 0;; tries++) {
        char salt[64];
        snprintf(salt, sizeof salt, "|%lld|%llu", (long long)now_ms, (unsigned long long)(set->seq + tries));
        snprintf(id, sizeof id, "inc-%08x", fnv1a(salt, fnv1a(key, 2166136261u)));
        if (!find_id(set, id)) {
            set->seq += tries + 1;
            break;
        }
    }
    kr_incident_t *inc = incident_add(set, id, key, kr_rule_name(r));
    if (!inc) {
        note_rc(set, KR_ENOMEM);
        return;
    }
    inc->group = kr_rule_group_values(r, event);
    inc->first_event = json_deep_copy(event);
    inc->events = 1;
    inc->started_ms = inc->updated_ms = now_ms;
    inc->for_ms = kr_rule_for_ms(r);
    inc->deadline_ms = now_ms + inc->for_ms;
    inc->state = KR_INCIDENT_PENDING;
    set_last_event(inc, event);
    json_array_append_new(inc->history, json_pack("{s:n, s:s, s:I, s:s}", "from", "to", "pending", "at",
                                                  (json_int_t)now_ms, "reason", "opened"));
    KR_INFO("incident", "msg=\"opened\" id=%s key=\"%s\" for_ms=%lld", inc->id, inc->key, (long long)inc->for_ms);
    journal(set, inc, "incident.open",
            json_pack("{s:s, s:s, s:O, s:I, s:I, s:O}", "key", inc->key, "rule", inc->rule, "group", inc->group,
                      "for_ms", (json_int_t)inc->for_ms, "deadline", (json_int_t)inc->deadline_ms, "event",
                      inc->first_event),
            now_ms);
    if (inc->for_ms == 0)
        fire(set, inc, r, now_ms);
}

typedef struct {
    kr_incidents_t *set;
    const json_t *event;
    int64_t now_ms;
} match_arg_t;

static int on_match_cb(const kr_rule_t *r, void *arg)
{
    match_arg_t *m = arg;
    char key[1024];
    kr_rule_incident_key(r, m->event, key, sizeof key);
    kr_incident_t *inc = find_open_key(m->set, key);
    if (inc) {
        inc->events++;
        inc->updated_ms = m->now_ms;
        set_last_event(inc, m->event);
        json_t *eid = json_object_get(m->event, "id");
        journal(m->set, inc, "incident.event",
                json_pack("{s:O, s:I}", "event_id", eid ? eid : json_null(), "count", (json_int_t)inc->events),
                m->now_ms);
        return 0;
    }
    open_incident(m->set, r, key, m->event, m->now_ms);
    return 0;
}

/* Resolution for an incident whose rule left the set: the default rule, by its group. */
static int orphan_resolves(const kr_incident_t *inc, const json_t *event)
{
    const json_t *st = json_object_get(event, "state");
    if (!json_is_string(st) || strcmp(json_string_value(st), "resolved") != 0)
        return 0;
    const json_t *s1 = json_object_get(inc->first_event, "source"), *s2 = json_object_get(event, "source");
    if (!s1 || !s2 || !json_equal((json_t *)s1, (json_t *)s2))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach(inc->group, k, v) {
        const json_t *ev = kr_template_lookup(event, k);
        if (!json_equal(v, ev ? (json_t *)ev : json_null()))
            return 0;
    }
    return 1;
}

static void resolve_open(kr_incidents_t *set, const json_t *event, int64_t now_ms)
{
    char reason[200];
    const char *eid = json_string_value(json_object_get(event, "id"));
    snprintf(reason, sizeof reason, "resolved by event %.150s", eid ? eid : "(no id)");
    for (size_t i = 0; i < set->n; i++) {
        kr_incident_t *inc = set->v[i];
        if (!is_open(inc))
            continue;
        const kr_rule_t *r = kr_ruleset_find(set->rs, inc->rule);
        if (!(r ? kr_rule_resolves(r, inc->first_event, event) : orphan_resolves(inc, event)))
            continue;
        if (inc->state == KR_INCIDENT_PENDING) {
            apply_state(set, inc, KR_INCIDENT_CANCELLED, reason, now_ms, 0);
            continue;
        }
        int was_firing = inc->state == KR_INCIDENT_FIRING;
        apply_state(set, inc, KR_INCIDENT_RESOLVED, reason, now_ms, 0);
        if (was_firing) {
            json_t *acts = json_array();
            for (size_t j = 0; acts && j < json_array_size(inc->actions); j++) {
                json_t *a = json_array_get(inc->actions, j);
                json_array_append_new(acts, json_pack("{s:O, s:O}", "index", json_object_get(a, "index"), "kind",
                                                      json_object_get(a, "kind")));
            }
            journal(set, inc, "incident.followup", json_pack("{s:o}", "actions", acts ? acts : json_array()),
                    now_ms);
        }
    }
}

int kr_incidents_on_event(kr_incidents_t *set, kr_ruleset_t *rs, const json_t *event, int64_t now_ms)
{
    set->rc = 0;
    if (!json_is_object(event))
        return KR_EINVAL;
    kr_incidents_set_ruleset(set, rs);
    resolve_open(set, event, now_ms);
    const json_t *st = json_object_get(event, "state");
    if (json_is_string(st) && strcmp(json_string_value(st), "firing") == 0) {
        match_arg_t m = { set, event, now_ms };
        kr_ruleset_match(set->rs, event, on_match_cb, &m);
    }
    prune(set);
    reschedule(set);
    return set->rc;
}

static void run_timers(kr_incidents_t *set, int64_t now_ms)
{
    for (size_t i = 0; i < set->n; i++) {
        kr_incident_t *inc = set->v[i];
        if (inc->state != KR_INCIDENT_PENDING || inc->deadline_ms > now_ms)
            continue;
        const kr_rule_t *r = kr_ruleset_find(set->rs, inc->rule);
        if (!r)
            apply_state(set, inc, KR_INCIDENT_CANCELLED, "rule removed by a reload", now_ms, 0);
        else if (!kr_rule_enabled(r))
            apply_state(set, inc, KR_INCIDENT_CANCELLED, "rule disabled by a reload", now_ms, 0);
        else
            fire(set, inc, r, now_ms);
    }
}

int kr_incidents_on_timer(kr_incidents_t *set, int64_t now_ms)
{
    set->rc = 0;
    run_timers(set, now_ms);
    prune(set);
    reschedule(set);
    return set->rc;
}

int kr_incidents_cancel(kr_incidents_t *set, const char *id, int64_t now_ms)
{
    kr_incident_t *inc = find_id(set, id);
    set->rc = 0;
    if (!inc)
        return KR_ENOTFOUND;
    if (!is_open(inc))
        return KR_ESTATE;
    apply_state(set, inc, KR_INCIDENT_CANCELLED, "cancelled by an operator", now_ms, 0);
    prune(set);
    reschedule(set);
    return set->rc;
}

int64_t kr_incidents_next_timer(const kr_incidents_t *set)
{
    int64_t next = -1;
    for (size_t i = 0; i < set->n; i++)
        if (set->v[i]->state == KR_INCIDENT_PENDING && (next < 0 || set->v[i]->deadline_ms < next))
            next = set->v[i]->deadline_ms;
    return next;
}

/* ---------- replay ---------- */

static int replay_snapshot(kr_incidents_t *set, const char *type, const json_t *rec);

int kr_incidents_replay(kr_incidents_t *set, const json_t *rec)
{
    const char *type = json_string_value(json_object_get(rec, "record"));
    const char *id = json_string_value(json_object_get(rec, "incident"));
    const json_t *at = json_object_get(rec, "at");
    if (!type || strncmp(type, "incident.", 9) != 0)
        return KR_OK;
    if (strcmp(type, "incident.snapshot") == 0 || strcmp(type, "incident.cooldowns") == 0)
        return replay_snapshot(set, type, rec);
    if (!id || !json_is_integer(at))
        return KR_EINVAL;
    int64_t at_ms = json_integer_value(at);
    kr_incident_t *inc = find_id(set, id);

    if (strcmp(type, "incident.open") == 0) {
        const char *key = json_string_value(json_object_get(rec, "key"));
        const char *rule = json_string_value(json_object_get(rec, "rule"));
        const json_t *ev = json_object_get(rec, "event");
        if (inc || !key || !rule || !json_is_object(ev))
            return KR_EINVAL;
        if (!(inc = incident_add(set, id, key, rule)))
            return KR_ENOMEM;
        inc->group = json_deep_copy(json_object_get(rec, "group"));
        if (!inc->group)
            inc->group = json_object();
        inc->first_event = json_deep_copy(ev);
        inc->events = 1;
        inc->started_ms = inc->updated_ms = at_ms;
        inc->for_ms = json_integer_value(json_object_get(rec, "for_ms"));
        inc->deadline_ms = json_is_integer(json_object_get(rec, "deadline"))
                               ? json_integer_value(json_object_get(rec, "deadline"))
                               : at_ms + inc->for_ms;
        inc->state = KR_INCIDENT_PENDING;
        set_last_event(inc, ev);
        json_array_append_new(inc->history, json_pack("{s:n, s:s, s:I, s:s}", "from", "to", "pending", "at",
                                                      (json_int_t)at_ms, "reason", "opened"));
        set->seq++;
        return KR_OK;
    }
    if (!inc)
        return KR_EINVAL;
    if (strcmp(type, "incident.state") == 0) {
        int to = state_from_name(json_string_value(json_object_get(rec, "to")));
        const char *reason = json_string_value(json_object_get(rec, "reason"));
        if (to < 0)
            return KR_EINVAL;
        int rc = apply_state(set, inc, (kr_incident_state_t)to, reason ? reason : "", at_ms, 1);
        if (rc == KR_OK && to == KR_INCIDENT_FIRING)
            cooldown_note(set, inc->key, at_ms);
        return rc;
    }
    if (strcmp(type, "incident.event") == 0) {
        const json_t *count = json_object_get(rec, "count");
        if (json_is_integer(count))
            inc->events = json_integer_value(count);
        inc->updated_ms = at_ms;
        const char *eid = json_string_value(json_object_get(rec, "event_id"));
        free(inc->last_event_id);
        inc->last_event_id = eid ? strdup(eid) : NULL;
        return KR_OK;
    }
    if (strcmp(type, "incident.action") == 0) {
        const json_t *index = json_object_get(rec, "index");
        const char *kind = json_string_value(json_object_get(rec, "kind"));
        if (!json_is_integer(index) || !kind)
            return KR_EINVAL;
        if (!action_recorded(inc, (size_t)json_integer_value(index))) {
            json_t *p = json_object_get(rec, "params");
            json_array_append_new(inc->actions,
                                  json_pack("{s:O, s:s, s:O, s:b, s:s, s:I}", "index", index, "kind", kind, "params",
                                            p ? p : json_null(), "dry_run",
                                            json_is_true(json_object_get(rec, "dry_run")), "state", "dispatched",
                                            "at", (json_int_t)at_ms));
        }
        return KR_OK;
    }
    return KR_OK; /* incident.followup and future records carry nothing to restore */
}

int kr_incidents_resume(kr_incidents_t *set, int64_t now_ms)
{
    set->rc = 0;
    for (size_t i = 0; i < set->n; i++) {
        kr_incident_t *inc = set->v[i];
        const kr_rule_t *r = kr_ruleset_find(set->rs, inc->rule);
        if (inc->state == KR_INCIDENT_FIRING && r)
            dispatch_actions(set, inc, r, now_ms);
    }
    run_timers(set, now_ms);
    prune(set);
    set->scheduled = -2; /* always tell the daemon after a restart */
    reschedule(set);
    return set->rc;
}

/* ---------- snapshot (journal compaction) ---------- */

static json_t *ms_or_null(int64_t ms) { return ms >= 0 ? json_integer(ms) : json_null(); }

int kr_incidents_snapshot(const kr_incidents_t *set, int (*emit)(json_t *record, void *arg), void *arg)
{
    int rc = KR_OK;
    for (size_t i = 0; i < set->n && rc == KR_OK; i++) {
        const kr_incident_t *inc = set->v[i];
        json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:s?, s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:O, s:O}",
                                "record", "incident.snapshot", "incident", inc->id, "key", inc->key, "rule",
                                inc->rule, "state", state_names[inc->state], "group", inc->group,
                                "first_event", inc->first_event ? inc->first_event : json_null(),
                                "last_event", inc->last_event_id, "events", (json_int_t)inc->events,
                                "started", (json_int_t)inc->started_ms, "updated", (json_int_t)inc->updated_ms,
                                "deadline", ms_or_null(inc->deadline_ms), "fired", ms_or_null(inc->fired_ms),
                                "closed", ms_or_null(inc->closed_ms), "for_ms", (json_int_t)inc->for_ms,
                                "actions", inc->actions, "history", inc->history);
        if (!rec)
            return KR_ENOMEM;
        json_object_set_new(rec, "at", json_integer(inc->updated_ms));
        rc = emit(rec, arg);
        json_decref(rec);
    }
    if (rc != KR_OK)
        return rc;
    json_t *cool = json_object();
    for (size_t i = 0; cool && i < set->ncool; i++)
        json_object_set_new(cool, set->cool[i].key, json_integer(set->cool[i].acted_ms));
    json_t *rec = json_pack("{s:s, s:s, s:I, s:o, s:I}", "record", "incident.cooldowns", "incident", "-", "at",
                            (json_int_t)0, "cooldowns", cool ? cool : json_object(), "seq", (json_int_t)set->seq);
    if (!rec)
        return KR_ENOMEM;
    rc = emit(rec, arg);
    json_decref(rec);
    return rc;
}

static int64_t ms_of(const json_t *v) { return json_is_integer(v) ? json_integer_value(v) : -1; }

/* Restores one incident (or the cooldown table) written by kr_incidents_snapshot. */
static int replay_snapshot(kr_incidents_t *set, const char *type, const json_t *rec)
{
    if (strcmp(type, "incident.cooldowns") == 0) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)json_object_get(rec, "cooldowns"), key, v)
            cooldown_note(set, key, json_integer_value(v));
        uint64_t seq = (uint64_t)json_integer_value(json_object_get(rec, "seq"));
        if (seq > set->seq)
            set->seq = seq;
        return KR_OK;
    }
    const char *id = json_string_value(json_object_get(rec, "incident"));
    const char *key = json_string_value(json_object_get(rec, "key"));
    const char *rule = json_string_value(json_object_get(rec, "rule"));
    int state = state_from_name(json_string_value(json_object_get(rec, "state")));
    if (!id || !key || !rule || state < 0 || find_id(set, id))
        return KR_EINVAL;
    kr_incident_t *inc = incident_add(set, id, key, rule);
    if (!inc)
        return KR_ENOMEM;
    inc->state = (kr_incident_state_t)state;
    inc->group = json_deep_copy(json_object_get(rec, "group"));
    if (!inc->group)
        inc->group = json_object();
    json_t *fe = json_object_get(rec, "first_event");
    inc->first_event = json_is_object(fe) ? json_deep_copy(fe) : NULL;
    const char *le = json_string_value(json_object_get(rec, "last_event"));
    inc->last_event_id = le ? strdup(le) : NULL;
    inc->events = json_integer_value(json_object_get(rec, "events"));
    inc->started_ms = ms_of(json_object_get(rec, "started"));
    inc->updated_ms = ms_of(json_object_get(rec, "updated"));
    inc->deadline_ms = ms_of(json_object_get(rec, "deadline"));
    inc->fired_ms = ms_of(json_object_get(rec, "fired"));
    inc->closed_ms = ms_of(json_object_get(rec, "closed"));
    inc->for_ms = json_integer_value(json_object_get(rec, "for_ms"));
    json_t *a = json_object_get(rec, "actions"), *h = json_object_get(rec, "history");
    if (json_is_array(a)) {
        json_decref(inc->actions);
        inc->actions = json_deep_copy(a);
    }
    if (json_is_array(h)) {
        json_decref(inc->history);
        inc->history = json_deep_copy(h);
    }
    return KR_OK;
}

/* ---------- queries ---------- */

size_t kr_incidents_count(const kr_incidents_t *set) { return set->n; }
const kr_incident_t *kr_incidents_at(const kr_incidents_t *set, size_t i) { return i < set->n ? set->v[i] : NULL; }
const kr_incident_t *kr_incidents_find(const kr_incidents_t *set, const char *id) { return find_id(set, id); }
const char *kr_incident_id(const kr_incident_t *inc) { return inc->id; }
const char *kr_incident_key(const kr_incident_t *inc) { return inc->key; }
const char *kr_incident_rule(const kr_incident_t *inc) { return inc->rule; }
kr_incident_state_t kr_incident_state(const kr_incident_t *inc) { return inc->state; }
int64_t kr_incident_events(const kr_incident_t *inc) { return inc->events; }
const json_t *kr_incident_first_event(const kr_incident_t *inc) { return inc->first_event; }

static json_t *time_or_null(int64_t ms)
{
    char ts[40];
    return ms < 0 ? json_null() : json_string(kr_time_format(ms, ts, sizeof ts));
}

json_t *kr_incident_to_json(const kr_incident_t *inc)
{
    json_t *first = json_object_get(inc->first_event, "id");
    return json_pack("{s:s, s:s, s:s, s:s, s:O, s:o, s:o, s:o, s:o, s:o, s:I, s:O, s:s?, s:O, s:O}",
                     "id", inc->id, "key", inc->key, "rule", inc->rule, "state", state_names[inc->state],
                     "group", inc->group ? inc->group : json_null(),
                     "started", time_or_null(inc->started_ms), "updated", time_or_null(inc->updated_ms),
                     "deadline", time_or_null(inc->state == KR_INCIDENT_PENDING ? inc->deadline_ms : -1),
                     "fired", time_or_null(inc->fired_ms), "closed", time_or_null(inc->closed_ms),
                     "events", (json_int_t)inc->events, "first_event", first ? first : json_null(),
                     "last_event", inc->last_event_id, "actions", inc->actions, "history", inc->history);
}

json_t *kr_incidents_to_json(const kr_incidents_t *set, int open_only)
{
    json_t *out = json_array();
    for (size_t i = set->n; out && i-- > 0;)
        if (!open_only || is_open(set->v[i]))
            json_array_append_new(out, kr_incident_to_json(set->v[i]));
    return out;
}
