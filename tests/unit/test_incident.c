/* tests/unit/test_incident.c: the incident state machine alone, with a fake clock and a
 * recording effects table: for, resolve-before-for, repeats, cooldown, follow-ups,
 * operator cancel, reload, journal replay and resume. */
#include <stdlib.h>

#include "kr/err.h"
#include "kr/incident.h"
#include "kr/log.h"
#include "kr/rules.h"
#include "kr_test.h"

#define T0 1795000000000LL
#define MIN 60000LL

typedef struct {
    json_t *records;    /* journal records, deep copies */
    json_t *dispatches; /* {incident, index, kind, params, dry_run} */
    json_t *schedules;  /* at_ms values */
} rec_t;

static int journal_cb(const json_t *record, void *arg)
{
    json_array_append_new(((rec_t *)arg)->records, json_deep_copy(record));
    return 0;
}

static int dispatch_cb(const kr_dispatch_t *d, void *arg)
{
    json_array_append_new(((rec_t *)arg)->dispatches,
                          json_pack("{s:s, s:I, s:s, s:O, s:b}", "incident", kr_incident_id(d->incident), "index",
                                    (json_int_t)d->index, "kind", d->kind, "params", d->params, "dry_run", d->dry_run));
    return 0;
}

static void schedule_cb(int64_t at_ms, void *arg)
{
    json_array_append_new(((rec_t *)arg)->schedules, json_integer(at_ms));
}

static kr_incidents_t *new_set(rec_t *r)
{
    r->records = json_array();
    r->dispatches = json_array();
    r->schedules = json_array();
    kr_incident_effects_t fx = { journal_cb, dispatch_cb, schedule_cb, r };
    kr_log_level = KR_LOG_WARN;
    return kr_incidents_new(&fx, 0);
}

static void rec_free(rec_t *r)
{
    json_decref(r->records);
    json_decref(r->dispatches);
    json_decref(r->schedules);
}

static kr_ruleset_t *rules(const char *yaml)
{
    char err[4096];
    kr_ruleset_t *rs = kr_ruleset_parse("r.yaml", yaml, strlen(yaml), err, sizeof err);
    CHECKF(rs != NULL, "%s", err);
    return rs;
}

static json_t *event(const char *id, const char *type, const char *state, int broker)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:i}, s:{s:s}}", "id", id, "source", "aws.sns", "type", type,
                     "state", state, "cluster", "orders-prod", "broker", "id", broker, "instance", "id", "i-0abc");
}

static void feed(kr_incidents_t *set, kr_ruleset_t *rs, json_t *ev, int64_t now)
{
    CHECK_INT(kr_incidents_on_event(set, rs, ev, now), 0);
    json_decref(ev);
}

static const char *record_type(const rec_t *r, size_t i)
{
    return json_string_value(json_object_get(json_array_get(r->records, i), "record"));
}

/* "open", "pending->firing", "action", ... : the journal in short. */
static char *journal_summary(const rec_t *r)
{
    static char buf[2048];
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < json_array_size(r->records); i++) {
        json_t *rec = json_array_get(r->records, i);
        const char *t = record_type(r, i) + 9;
        if (strcmp(t, "state") == 0)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s->%s", n ? " " : "",
                                  json_string_value(json_object_get(rec, "from")),
                                  json_string_value(json_object_get(rec, "to")));
        else
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", n ? " " : "", t);
    }
    return buf;
}

static const char *RULE_FOR =
    "- name: evacuate\n"
    "  match: {type: [instance.impaired]}\n"
    "  for: 3m\n"
    "  actions:\n"
    "    - log: {message: \"page {{broker.id}} for {{incident.id}}\"}\n"
    "    - log: {message: \"evacuate {{broker.id}}\"}\n";

KR_TEST(for_waits_then_fires_with_rendered_params)
{
    rec_t r;
    kr_incidents_t *set = new_set(&r);
    kr_ruleset_t *rs = rules(RULE_FOR);
    feed(set, rs, event("e1", "instance.impaired", "firing", 3), T0);
    CHECK_INT(kr_incidents_count(set), 1);
    const kr_incident_t *inc = kr_incidents_at(set, 0);
    CHECK_INT(kr_incident_state(inc), KR_INCIDENT_PENDING);
    CHECK_STR(kr_incident_key(inc), "evacuate|cluster=orders-prod|broker.id=3");
    CHECK_INT(json_array_size(r.dispatches), 0);
    CHECK_INT(json_integer_value(json_array_get(r.schedules, 0)), T0 + 3 * MIN);
    CHECK_INT(kr_incidents_next_timer(set), T0 + 3 * MIN);

    CHECK_INT(kr_incidents_on_timer(set, T0 + 3 * MIN - 1), 0);
    CHECK_INT(kr_incident_state(inc), KR_INCIDENT_PENDING);
    CHECK_INT(kr_incidents_on_timer(set, T0 + 3 * MIN), 0);
    CHECK_INT(kr_incident_state(inc), KR_INCIDENT_FIRING);
    CHECK_INT(json_array_size(r.dispatches), 2);
    char want[64];
    snprintf(want, sizeof want, "page 3 for %s", kr_incident_id(inc));
    CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(r.dispatches, 0), "params"), "message")), want);
    CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(r.dispatches, 1), "params"), "message")),
              "evacuate 3");
    CHECK_INT(json_integer_value(json_array_get(r.schedules, json_array_size(r.schedules) - 1)), -1);
    CHECK_STR(journal_summary(&r), "open pending->firing action action");
    /* every record carries the incident id and the time it happened */
    json_t *last = json_array_get(r.records, 3);
    CHECK_STR(json_string_value(json_object_get(last, "incident")), kr_incident_id(inc));
    CHECK_INT(json_integer_value(json_object_get(last, "at")), T0 + 3 * MIN);
    CHECK_STR(json_string_value(json_object_get(last, "time")), "2026-11-18T11:09:40.000Z");
    kr_incidents_free(set);
    kr_ruleset_decref(rs);
    rec_free(&r);
}

KR_TEST(resolve_before_for_cancels)
{
    rec_t r;
    kr_incidents_t *set = new_set(&r);
    kr_ruleset_t *rs = rules(RULE_FOR);
    feed(set, rs, event("e1", "instance.impaired", "firing", 3), T0);
    /* another broker's resolve does not touch it */
    feed(set, rs, event("e2", "instance.impaired", "resolved", 4), T0 + MIN);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 0)), KR_INCIDENT_PENDING);
    feed(set, rs, event("e3", "instance.impaired", "resolved", 3), T0 + 2 * MIN);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 0)), KR_INCIDENT_CANCELLED);
    CHECK_INT(kr_incidents_next_timer(set), -1);
    CHECK_INT(kr_incidents_on_timer(set, T0 + 10 * MIN), 0);
    CHECK_INT(json_array_size(r.dispatches), 0);
    CHECK_STR(journal_summary(&r), "open pending->cancelled");
    json_t *st = json_array_get(r.records, 1);
    CHECK_STR(json_string_value(json_object_get(st, "reason")), "resolved by event e3");
    kr_incidents_free(set);
    kr_ruleset_decref(rs);
    rec_free(&r);
}

KR_TEST(repeats_are_counted_not_reacted)
{
    rec_t r;
    kr_incidents_t *set = new_set(&r);
    kr_ruleset_t *rs = rules("{name: page, match: {type: [instance.impaired]}, actions: [log]}");
    feed(set, rs, event("e1", "instance.impaired", "firing", 3), T0);
    feed(set, rs, event("e2", "instance.impaired", "firing", 3), T0 + 1000);
    feed(set, rs, event("e3", "instance.impaired", "firing", 3), T0 + 2000);
    CHECK_INT(kr_incidents_count(set), 1);
    const kr_incident_t *inc = kr_incidents_at(set, 0);
    CHECK_INT(kr_incident_state(inc), KR_INCIDENT_FIRING);
    CHECK_INT(kr_incident_events(inc), 3);
    CHECK_INT(json_array_size(r.dispatches), 1);
    CHECK_STR(journal_summary(&r), "open pending->firing action event event");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(r.records, 4), "count")), 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(r.records, 4), "event_id")), "e3");
    /* another broker is another incident; a resolved or unmatched event opens nothing */
    feed(set, rs, event("e4", "instance.impaired", "firing", 4), T0 + 3000);
    feed(set, rs, event("e5", "instance.impaired", "resolved", 5), T0 + 4000);
    feed(set, rs, event("e6", "instance.stopping", "firing", 5), T0 + 5000);
    CHECK_INT(kr_incidents_count(set), 2);
    CHECK(strcmp(kr_incident_id(kr_incidents_at(set, 0)), kr_incident_id(kr_incidents_at(set, 1))) != 0);
    CHECK_INT(json_array_size(r.dispatches), 2);
    kr_incidents_free(set);
    kr_ruleset_decref(rs);
    rec_free(&r);
}

KR_TEST(cooldown_suppresses_a_new_incident_of_the_same_key)
{
    rec_t r;
    kr_incidents_t *set = new_set(&r);
    kr_ruleset_t *rs = rules("{name: evac, match: {type: [instance.impaired]}, cooldown: 1h,"
                             " actions: [{log: {message: \"x\"}}, log]}");
    feed(set, rs, event("e1", "instance.impaired", "firing", 3), T0);
    feed(set, rs, event("e2", "instance.impaired", "resolved", 3), T0 + 10 * MIN);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 0)), KR_INCIDENT_RESOLVED);
    feed(set, rs, event("e3", "instance.impaired", "firing", 3), T0 + 20 * MIN);
    const kr_incident_t *second = kr_incidents_at(set, 1);
    CHECK_INT(kr_incident_state(second), KR_INCIDENT_SUPPRESSED);
    CHECK_INT(json_array_size(r.dispatches), 2); /* only the first incident's two actions */
    /* a suppressed incident still counts repeats and resolves */
    feed(set, rs, event("e4", "instance.impaired", "firing", 3), T0 + 21 * MIN);
    CHECK_INT(kr_incident_events(second), 2);
    feed(set, rs, event("e5", "instance.impaired", "resolved", 3), T0 + 30 * MIN);
    CHECK_INT(kr_incident_state(second), KR_INCIDENT_RESOLVED);
    /* another key is not held back */
    feed(set, rs, event("e6", "instance.impaired", "firing", 4), T0 + 31 * MIN);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 2)), KR_INCIDENT_FIRING);
    /* the window is measured from when the key acted: at T0 + 1h it may act again */
    feed(set, rs, event("e7", "instance.impaired", "firing", 3), T0 + 60 * MIN);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 3)), KR_INCIDENT_FIRING);
    CHECK_INT(json_array_size(r.dispatches), 6);
    CHECK_STR(journal_summary(&r),
              "open pending->firing action action firing->resolved followup "
              "open pending->suppressed event suppressed->resolved "
              "open pending->firing action action open pending->firing action action");
    json_t *sup = json_array_get(r.records, 7);
    CHECK_STR(json_string_value(json_object_get(sup, "reason")),
              "cooldown 1h: this key acted at 2026-11-18T11:06:40.000Z");
    /* the follow-up lists what was done, for resolve pages */
    json_t *want = json_loads("[{\"index\":0,\"kind\":\"log\"},{\"index\":1,\"kind\":\"log\"}]", 0, NULL);
    CHECK_JSON(json_object_get(json_array_get(r.records, 5), "actions"), want);
    json_decref(want);
    kr_incidents_free(set);
    kr_ruleset_decref(rs);
    rec_free(&r);
}

KR_TEST(cooldown_also_applies_when_for_elapses)
{
    rec_t r;
    kr_incidents_t *set = new_set(&r);
    kr_ruleset_t *rs = rules("{name: evac, match: {type: [instance.impaired]}, for: 5m, cooldown: 1h, actions: [log]}");
    feed(set, rs, event("e1", "instance.impaired", "firing", 3), T0);
    kr_incidents_on_timer(set, T0 + 5 * MIN);
    feed(set, rs, event("e2", "instance.impaired", "resolved", 3), T0 + 6 * MIN);
    feed(set, rs, event("e3", "instance.impaired", "firing", 3), T0 + 7 * MIN);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 1)), KR_INCIDENT_PENDING);
    kr_incidents_on_timer(set, T0 + 12 * MIN);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 1)), KR_INCIDENT_SUPPRESSED);
    CHECK_INT(json_array_size(r.dispatches), 1);
    kr_incidents_free(set);
    kr_ruleset_decref(rs);
    rec_free(&r);
}

KR_TEST(operator_cancel)
{
    rec_t r;
    kr_incidents_t *set = new_set(&r);
    kr_ruleset_t *rs = rules(RULE_FOR);
    feed(set, rs, event("e1", "instance.impaired", "firing", 3), T0);
    char id[32];
    snprintf(id, sizeof id, "%s", kr_incident_id(kr_incidents_at(set, 0)));
    CHECK_INT(kr_incidents_cancel(set, "inc-nope", T0 + 1), KR_ENOTFOUND);
    CHECK_INT(kr_incidents_cancel(set, id, T0 + 1), 0);
    CHECK_INT(kr_incident_state(kr_incidents_find(set, id)), KR_INCIDENT_CANCELLED);
    CHECK_INT(kr_incidents_cancel(set, id, T0 + 2), KR_ESTATE);
    kr_incidents_on_timer(set, T0 + 3 * MIN);
    CHECK_INT(json_array_size(r.dispatches), 0);
    json_t *st = json_array_get(r.records, 1);
    CHECK_STR(json_string_value(json_object_get(st, "reason")), "cancelled by an operator");
    /* the key is free again: a new event opens a new incident */
    feed(set, rs, event("e2", "instance.impaired", "firing", 3), T0 + 4 * MIN);
    CHECK_INT(kr_incidents_count(set), 2);
    kr_incidents_free(set);
    kr_ruleset_decref(rs);
    rec_free(&r);
}

KR_TEST(reload_keeps_incidents_and_uses_the_new_rules)
{
    rec_t r;
    kr_incidents_t *set = new_set(&r);
    kr_ruleset_t *old = rules("- {name: a, match: {type: [instance.impaired]}, for: 3m, actions: [{log: {message: old}}]}\n"
                              "- {name: b, match: {type: [instance.impaired]}, for: 3m, actions: [log]}\n"
                              "- {name: c, match: {type: [instance.impaired]}, actions: [log]}\n");
    feed(set, old, event("e1", "instance.impaired", "firing", 3), T0);
    CHECK_INT(kr_incidents_count(set), 3);
    /* the reload: a's action changed, b is gone, c is gone (and was firing) */
    kr_ruleset_t *neu = rules("- {name: a, match: {type: [instance.impaired]}, for: 3m, actions: [{log: {message: new}}]}\n");
    kr_incidents_set_ruleset(set, neu);
    kr_ruleset_decref(old); /* the set holds what it needs; the old set goes away */
    kr_incidents_on_timer(set, T0 + 3 * MIN);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 0)), KR_INCIDENT_FIRING);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 1)), KR_INCIDENT_CANCELLED);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 2)), KR_INCIDENT_FIRING);
    json_t *last = json_array_get(r.dispatches, json_array_size(r.dispatches) - 1);
    CHECK_STR(json_string_value(json_object_get(json_object_get(last, "params"), "message")), "new");
    int found = 0;
    for (size_t i = 0; i < json_array_size(r.records); i++) {
        const char *why = json_string_value(json_object_get(json_array_get(r.records, i), "reason"));
        found |= why && strcmp(why, "rule removed by a reload") == 0;
    }
    CHECK(found);
    /* c's rule is gone: it still resolves by the default rule (same source, key) */
    feed(set, neu, event("e2", "instance.impaired", "resolved", 3), T0 + 4 * MIN);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 2)), KR_INCIDENT_RESOLVED);
    CHECK_INT(kr_incident_state(kr_incidents_at(set, 0)), KR_INCIDENT_RESOLVED);
    kr_incidents_free(set);
    kr_ruleset_decref(neu);
    rec_free(&r);
}

KR_TEST(ids_are_short_and_unique)
{
    rec_t r;
    kr_incidents_t *set = new_set(&r);
    kr_ruleset_t *rs = rules("{name: p, match: {type: [instance.impaired]}, group_by: [broker.id]}");
    for (int i = 0; i < 500; i++)
        feed(set, rs, event("e", "instance.impaired", "firing", i), T0);
    CHECK_INT(kr_incidents_count(set), 500);
    for (size_t i = 0; i < kr_incidents_count(set); i++) {
        const char *id = kr_incident_id(kr_incidents_at(set, i));
        CHECKF(strlen(id) == 12 && strncmp(id, "inc-", 4) == 0 && strspn(id + 4, "0123456789abcdef") == 8, "%s", id);
        CHECK(kr_incidents_find(set, id) == kr_incidents_at(set, i));
    }
    kr_incidents_free(set);
    kr_ruleset_decref(rs);
    rec_free(&r);
}

KR_TEST(closed_incidents_beyond_keep_are_forgotten)
{
    rec_t r;
    r.records = json_array();
    r.dispatches = json_array();
    r.schedules = json_array();
    kr_incident_effects_t fx = { journal_cb, dispatch_cb, schedule_cb, &r };
    kr_incidents_t *set = kr_incidents_new(&fx, 2);
    kr_ruleset_t *rs = rules("{name: p, match: {type: [instance.impaired]}}");
    for (int i = 0; i < 5; i++) {
        feed(set, rs, event("f", "instance.impaired", "firing", i), T0 + i);
        feed(set, rs, event("r", "instance.impaired", "resolved", i), T0 + i);
    }
    feed(set, rs, event("f", "instance.impaired", "firing", 9), T0 + 9);
    CHECK_INT(kr_incidents_count(set), 3); /* 2 closed kept + 1 open */
    json_t *open = kr_incidents_to_json(set, 1), *all = kr_incidents_to_json(set, 0);
    CHECK_INT(json_array_size(open), 1);
    CHECK_INT(json_array_size(all), 3);
    /* newest first */
    CHECK_STR(json_string_value(json_object_get(json_array_get(all, 0), "state")), "firing");
    json_decref(open);
    json_decref(all);
    kr_incidents_free(set);
    kr_ruleset_decref(rs);
    rec_free(&r);
}

KR_TEST(to_json_shows_state_times_actions_history)
{
    rec_t r;
    kr_incidents_t *set = new_set(&r);
    kr_ruleset_t *rs = rules("{name: p, dry_run: true, match: {type: [instance.impaired]}, for: 1m,"
                             " actions: [{log: {message: \"b{{broker.id}}\"}}]}");
    feed(set, rs, event("e1", "instance.impaired", "firing", 3), T0);
    kr_incidents_on_timer(set, T0 + MIN);
    const kr_incident_t *inc = kr_incidents_at(set, 0);
    json_t *j = kr_incident_to_json(inc);
    char want[2048];
    snprintf(want, sizeof want,
             "{\"id\":\"%s\",\"key\":\"p|cluster=orders-prod|broker.id=3\",\"rule\":\"p\",\"state\":\"firing\","
             "\"group\":{\"cluster\":\"orders-prod\",\"broker.id\":3},\"started\":\"2026-11-18T11:06:40.000Z\","
             "\"updated\":\"2026-11-18T11:07:40.000Z\",\"deadline\":null,\"fired\":\"2026-11-18T11:07:40.000Z\","
             "\"closed\":null,\"events\":1,\"first_event\":\"e1\",\"last_event\":\"e1\","
             "\"actions\":[{\"index\":0,\"kind\":\"log\",\"params\":{\"message\":\"b3\"},\"dry_run\":true,"
             "\"state\":\"dispatched\",\"at\":%lld}],"
             "\"history\":[{\"from\":null,\"to\":\"pending\",\"at\":%lld,\"reason\":\"opened\"},"
             "{\"from\":\"pending\",\"to\":\"firing\",\"at\":%lld,\"reason\":\"for elapsed\"}]}",
             kr_incident_id(inc), T0 + MIN, T0, T0 + MIN);
    json_t *w = json_loads(want, 0, NULL);
    CHECK_JSON(j, w);
    CHECK(json_is_true(json_object_get(json_array_get(r.dispatches, 0), "dry_run")));
    json_decref(w);
    json_decref(j);
    kr_incidents_free(set);
    kr_ruleset_decref(rs);
    rec_free(&r);
}

/* A restart: replay the journal into a new set; no action runs twice; missing ones run. */
KR_TEST(replay_and_resume_continue_where_it_stopped)
{
    rec_t r1, r2;
    kr_incidents_t *a = new_set(&r1);
    kr_ruleset_t *rs = rules("- {name: evac, match: {type: [instance.impaired]}, cooldown: 1h,"
                             "   actions: [{log: {message: \"one {{incident.id}}\"}}, {log: {message: two}}]}\n"
                             "- {name: slow, match: {type: [instance.impaired]}, for: 10m, group_by: [cluster], actions: [log]}\n");
    feed(a, rs, event("e1", "instance.impaired", "firing", 3), T0);
    feed(a, rs, event("e2", "instance.impaired", "firing", 3), T0 + 1000);
    CHECK_STR(journal_summary(&r1), "open pending->firing action action open event event");
    /* the process died after journaling evac's first action: drop the second one */
    json_array_remove(r1.records, 3);

    kr_incidents_t *b = new_set(&r2);
    for (size_t i = 0; i < json_array_size(r1.records); i++)
        CHECK_INT(kr_incidents_replay(b, json_array_get(r1.records, i)), 0);
    kr_incidents_set_ruleset(b, rs);
    CHECK_INT(kr_incidents_count(b), 2);
    const kr_incident_t *evac = kr_incidents_at(b, 0), *slow = kr_incidents_at(b, 1);
    CHECK_STR(kr_incident_id(evac), kr_incident_id(kr_incidents_at(a, 0)));
    CHECK_INT(kr_incident_state(evac), KR_INCIDENT_FIRING);
    CHECK_INT(kr_incident_events(evac), 2);
    CHECK_INT(kr_incident_state(slow), KR_INCIDENT_PENDING);
    CHECK_INT(kr_incidents_next_timer(b), T0 + 10 * MIN);
    CHECK_INT(json_array_size(r2.records), 0); /* replay has no effects */

    CHECK_INT(kr_incidents_resume(b, T0 + 2 * MIN), 0);
    CHECK_INT(json_array_size(r2.dispatches), 1); /* only the missing action */
    CHECK_INT(json_integer_value(json_object_get(json_array_get(r2.dispatches, 0), "index")), 1);
    CHECK_INT(json_integer_value(json_array_get(r2.schedules, 0)), T0 + 10 * MIN);
    /* the pending one fires on time after the restart */
    kr_incidents_on_timer(b, T0 + 10 * MIN);
    CHECK_INT(kr_incident_state(slow), KR_INCIDENT_FIRING);
    /* the replayed incident's state and timestamps survive */
    json_t *ja = kr_incident_to_json(kr_incidents_at(a, 0)), *jb = kr_incident_to_json(evac);
    CHECK_JSON(json_object_get(jb, "history"), json_object_get(ja, "history"));
    CHECK_JSON(json_object_get(jb, "group"), json_object_get(ja, "group"));
    CHECK_STR(json_string_value(json_object_get(jb, "fired")), json_string_value(json_object_get(ja, "fired")));
    json_decref(ja);
    json_decref(jb);
    /* the cooldown survives too: resolve, and a new firing event is suppressed */
    feed(b, rs, event("e3", "instance.impaired", "resolved", 3), T0 + 11 * MIN);
    feed(b, rs, event("e4", "instance.impaired", "firing", 3), T0 + 12 * MIN);
    const kr_incident_t *again = NULL;
    for (size_t i = 0; i < kr_incidents_count(b); i++)
        if (strcmp(kr_incident_rule(kr_incidents_at(b, i)), "evac") == 0)
            again = kr_incidents_at(b, i);
    CHECK(again != NULL && again != evac);
    if (again)
        CHECK_INT(kr_incident_state(again), KR_INCIDENT_SUPPRESSED);
    /* malformed and foreign records */
    json_t *bad = json_pack("{s:s, s:s, s:I}", "record", "incident.state", "incident", "inc-unknown", "at", (json_int_t)T0);
    CHECK_INT(kr_incidents_replay(b, bad), KR_EINVAL);
    json_t *other = json_pack("{s:s}", "record", "event.accepted");
    CHECK_INT(kr_incidents_replay(b, other), 0);
    json_decref(bad);
    json_decref(other);
    kr_incidents_free(a);
    kr_incidents_free(b);
    kr_ruleset_decref(rs);
    rec_free(&r1);
    rec_free(&r2);
}

KR_TEST(state_names_table)
{
    CHECK_STR(kr_incident_state_name(KR_INCIDENT_PENDING), "pending");
    CHECK_STR(kr_incident_state_name(KR_INCIDENT_FIRING), "firing");
    CHECK_STR(kr_incident_state_name(KR_INCIDENT_SUPPRESSED), "suppressed");
    CHECK_STR(kr_incident_state_name(KR_INCIDENT_RESOLVED), "resolved");
    CHECK_STR(kr_incident_state_name(KR_INCIDENT_CANCELLED), "cancelled");
    CHECK_STR(kr_incident_state_name(KR_INCIDENT_NSTATES), "unknown");
}
