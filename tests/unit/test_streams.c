/* tests/unit/test_streams.c: the Streams reset planner (internal topics by name and by
 * evidence, app vs app-v2, --internal-topics, offsets per reset spec), its parsers, the
 * Kafka interface's deadline and cancel handling, and whole resets run through the fake
 * Kafka (the paths librdkafka's mock cluster cannot answer: group description, members,
 * topic deletion, offsets for times). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "kr/err.h"
#include "kr/kafka.h"
#include "kr/streams.h"
#include "kr/streams_run.h"
#include "kr/units.h"
#include "kr_test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Internal topic names as Kafka Streams generates them (KStream aggregate, repartition,
 * foreign-key join, and a named FK join). */
#define APP_AGG_CL "app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog"
#define APP_AGG_RP "app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-repartition"
#define APP_FK_REG "app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic"
#define APP_FK_RSP "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic"
#define V2_AGG_CL "app-v2-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog"
#define V2_AGG_RP "app-v2-KSTREAM-AGGREGATE-STATE-STORE-0000000001-repartition"

KR_TEST(internal_name_rule)
{
    static const struct { const char *topic; int want; } cases[] = {
        { APP_AGG_CL, 1 },
        { APP_AGG_RP, 1 },
        { APP_FK_REG, 1 },
        { APP_FK_RSP, 1 },
        { "app-orders-join-subscription-registration-topic", 1 },
        { "app-orders-join-subscription-response-topic", 1 },
        { V2_AGG_CL, 1 },                 /* by name alone, app-v2's topics look like app's */
        { "app-changelog", 1 },           /* Kafka's rule: the dash is shared by prefix and
                                           * suffix; Streams never makes it, but an exact port
                                           * keeps Kafka's answer (ownership still decides) */
        { "app--changelog", 1 },
        { "app", 0 },
        { "app-", 0 },
        { "apple-store-changelog", 0 },   /* prefix without the dash */
        { "other-app-store-changelog", 0 },
        { "app-store-changelog-v1", 0 },
        { "app-store-Changelog", 0 },     /* suffixes are case-sensitive, as in Java */
        { "app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION--topic", 0 },   /* \d+ needs digits */
        { "app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-12x-topic", 0 },
        { "app-KTABLE-FK-JOIN-SUBSCRIPTION-OTHER-0000000006-topic", 0 },
        { "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topicx", 0 },
        { "app-x-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-7-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-8-topic", 1 },
        { "orders", 0 },
    };
    for (size_t i = 0; i < N(cases); i++)
        CHECKF(kr_streams_is_internal_name("app", cases[i].topic) == cases[i].want, "%s -> %d",
               cases[i].topic, cases[i].want);
    CHECK(!kr_streams_is_internal_name("", "-x-changelog"));
    CHECK(!kr_streams_is_internal_name(NULL, APP_AGG_CL));
    CHECK(kr_streams_is_internal_name("app-v2", V2_AGG_CL));
    CHECK(!kr_streams_is_internal_name("app-v2", APP_AGG_CL));
}

/* ---- a planner fixture: two apps in one cluster ---- */

static const kr_streams_topic_t cluster_topics[] = {
    { "orders", 2 },
    { "payments", 1 },
    { "app-rekeyed", 1 },       /* intermediate (user-managed through() topic) */
    { APP_AGG_CL, 2 },
    { APP_AGG_RP, 2 },
    { APP_FK_REG, 1 },
    { V2_AGG_CL, 2 },
    { V2_AGG_RP, 2 },
    { "app-audit-changelog", 1 }, /* an input topic that looks like a changelog */
    { "app-store-changelog", 1 }, /* app's changelog, never committed by the group */
    { "app-plain", 1 },           /* app's prefix, no internal suffix */
};

/* Group "app" commits on its inputs and on the topics it consumes: repartition and FK
 * registration topics; "-1" rows are what ListConsumerGroupOffsets answers for partitions
 * asked but never committed. */
static const kr_streams_committed_t app_committed[] = {
    { "orders", 0, 120 },
    { "orders", 1, 80 },
    { APP_AGG_RP, 0, 7 },
    { APP_AGG_RP, 1, 9 },
    { APP_FK_REG, 0, 3 },
    { APP_AGG_CL, 0, -1 },
    { APP_AGG_CL, 1, -1 },
    { V2_AGG_CL, 0, -1001 },
    { V2_AGG_RP, 0, -1 },
    { "app-store-changelog", 0, -1 },
};

static const kr_streams_resolved_t resolved[] = {
    /* topic, partition, low, high, offsets-for-times */
    { "orders", 0, 100, 500, 250 },
    { "orders", 1, 40, 300, -1 },        /* nothing at or after the time: to the end */
    { "payments", 0, 0, 50, 10 },
    { "app-rekeyed", 0, 5, 900, 6 },
    { "app-audit-changelog", 0, 0, 30, 2 },
};

static kr_streams_input_t base_input(void)
{
    static const char *const inputs[] = { "orders", "payments", "app-audit-changelog" };
    static const char *const inter[] = { "app-rekeyed" };
    kr_streams_input_t in;
    memset(&in, 0, sizeof in);
    in.application_id = "app";
    in.input_topics = inputs;
    in.n_input = N(inputs);
    in.intermediate_topics = inter;
    in.n_intermediate = N(inter);
    in.topics = cluster_topics;
    in.n_topics = N(cluster_topics);
    in.committed = app_committed;
    in.n_committed = N(app_committed);
    in.resolved = resolved;
    in.n_resolved = N(resolved);
    in.spec.kind = KR_STREAMS_TO_EARLIEST;
    return in;
}

static json_t *plan_json(const kr_streams_input_t *in, char *err, size_t errlen, int *rc)
{
    kr_streams_plan_t *p = NULL;
    json_t *j = NULL;
    *rc = kr_streams_plan(in, &p, err, errlen);
    if (*rc == KR_OK) {
        j = kr_streams_plan_json(p);
        kr_streams_plan_free(p);
    }
    return j;
}

KR_TEST(plan_app_vs_app_v2_by_committed_offsets)
{
    char err[512] = "";
    int rc;
    kr_streams_input_t in = base_input();
    json_t *j = plan_json(&in, err, sizeof err, &rc);
    CHECK_INT(rc, KR_OK);
    /* Deleted: only the name-matching topics group "app" has committed offsets on. app-v2's
     * topics start with "app-" too but group "app" never committed on them (its "-1001"
     * answer is "nothing committed"); app's own changelogs are never committed by a Streams
     * group, so without a topology they are reported, not deleted. The input topic named
     * like a changelog is never an internal topic. */
    json_t *want = json_pack("[s,s]", APP_AGG_RP, APP_FK_REG); /* sorted */
    CHECK_JSON(json_object_get(j, "delete_topics"), want);
    json_decref(want);
    want = json_pack("[s,s,s,s]", APP_AGG_CL, "app-store-changelog", V2_AGG_CL, V2_AGG_RP);
    CHECK_JSON(json_object_get(j, "unconfirmed_internal_topics"), want);
    json_decref(want);
    json_decref(j);

    /* The same cluster seen from app-v2: its group committed on its repartition topic. */
    static const kr_streams_committed_t v2_committed[] = { { V2_AGG_RP, 0, 11 } };
    kr_streams_input_t v2;
    memset(&v2, 0, sizeof v2);
    v2.application_id = "app-v2";
    v2.topics = cluster_topics;
    v2.n_topics = N(cluster_topics);
    v2.committed = v2_committed;
    v2.n_committed = 1;
    j = plan_json(&v2, err, sizeof err, &rc);
    CHECK_INT(rc, KR_OK);
    want = json_pack("[s]", V2_AGG_RP);
    CHECK_JSON(json_object_get(j, "delete_topics"), want);
    json_decref(want);
    want = json_pack("[s]", V2_AGG_CL);
    CHECK_JSON(json_object_get(j, "unconfirmed_internal_topics"), want);
    json_decref(want);
    json_decref(j);
}

KR_TEST(plan_topology_confirms_changelogs)
{
    char err[512] = "";
    int rc;
    static const char *const topo[] = { APP_AGG_CL, "app-store-changelog", "app-not-there-changelog" };
    kr_streams_input_t in = base_input();
    in.topology_topics = topo;
    in.n_topology = N(topo);
    json_t *j = plan_json(&in, err, sizeof err, &rc);
    CHECK_INT(rc, KR_OK);
    /* a topology topic that does not exist is not deleted (nothing to delete) */
    json_t *want = json_pack("[s,s,s,s]", APP_AGG_CL, APP_AGG_RP, APP_FK_REG, "app-store-changelog");
    CHECK_JSON(json_object_get(j, "delete_topics"), want);
    json_decref(want);
    want = json_pack("[s,s]", V2_AGG_CL, V2_AGG_RP);
    CHECK_JSON(json_object_get(j, "unconfirmed_internal_topics"), want);
    json_decref(want);
    json_decref(j);
}

KR_TEST(plan_explicit_internal_topics)
{
    char err[512] = "";
    int rc;
    static const char *const ok[] = { APP_AGG_CL, APP_AGG_RP };
    kr_streams_input_t in = base_input();
    in.internal_topics = ok;
    in.n_internal = N(ok);
    json_t *j = plan_json(&in, err, sizeof err, &rc);
    CHECK_INT(rc, KR_OK);
    json_t *want = json_pack("[s,s]", APP_AGG_CL, APP_AGG_RP);
    CHECK_JSON(json_object_get(j, "delete_topics"), want);
    json_decref(want);
    CHECK_INT(json_array_size(json_object_get(j, "unconfirmed_internal_topics")), 0);
    json_decref(j);

    /* Not a subset of the inferred set: a topic that does not exist, one without the
     * app's prefix, one without an internal suffix. */
    static const char *const bad[][1] = { { "app-missing-changelog" }, { "payments-changelog" },
                                          { "app-plain" } };
    for (size_t i = 0; i < N(bad); i++) {
        in.internal_topics = bad[i];
        in.n_internal = 1;
        err[0] = '\0';
        j = plan_json(&in, err, sizeof err, &rc);
        CHECK_INT(rc, KR_EINVAL);
        CHECK(j == NULL);
        CHECKF(strstr(err, bad[i][0]) && strstr(err, "not one of application app's internal"),
               "err: %s", err);
    }
    /* listed as input and internal at once: the input topic named like a changelog, and
     * a plain input topic */
    static const char *const dup[][1] = { { "app-audit-changelog" }, { "orders" } };
    for (size_t i = 0; i < N(dup); i++) {
        in.internal_topics = dup[i];
        in.n_internal = 1;
        plan_json(&in, err, sizeof err, &rc);
        CHECK_INT(rc, KR_EINVAL);
        CHECKF(strstr(err, "listed both as input and as internal"), "err: %s", err);
    }
}

static json_t *offset_row(const char *topic, int part, long long current, long long target)
{
    return json_pack("{s:s,s:i,s:o,s:I}", "topic", topic, "partition", part, "current",
                     current < 0 ? json_null() : json_integer(current), "target",
                     (json_int_t)target);
}

static void check_offsets(kr_streams_reset_kind_t kind, const long long targets[5])
{
    char err[256] = "";
    int rc;
    kr_streams_input_t in = base_input();
    in.spec.kind = kind;
    in.spec.time_ms = 1700000000000LL;
    json_t *j = plan_json(&in, err, sizeof err, &rc);
    CHECK_INT(rc, KR_OK);
    json_t *want = json_array();
    json_array_append_new(want, offset_row("orders", 0, 120, targets[0]));
    json_array_append_new(want, offset_row("orders", 1, 80, targets[1]));
    json_array_append_new(want, offset_row("payments", 0, -1, targets[2]));
    json_array_append_new(want, offset_row("app-audit-changelog", 0, -1, targets[3]));
    json_array_append_new(want, offset_row("app-rekeyed", 0, -1, targets[4]));
    CHECK_JSON(json_object_get(j, "offsets"), want);
    json_decref(want);
    json_decref(j);
}

KR_TEST(plan_offsets_per_spec)
{
    /* intermediate (app-rekeyed) always goes to its end: 900 */
    check_offsets(KR_STREAMS_TO_EARLIEST, (const long long[]){ 100, 40, 0, 0, 900 });
    check_offsets(KR_STREAMS_TO_LATEST, (const long long[]){ 500, 300, 50, 30, 900 });
    /* offsets for times; orders-1 answered -1: falls back to the end (300) */
    check_offsets(KR_STREAMS_TO_DATETIME, (const long long[]){ 250, 300, 10, 2, 900 });
    check_offsets(KR_STREAMS_BY_DURATION, (const long long[]){ 250, 300, 10, 2, 900 });

    kr_streams_plan_t *p = NULL;
    char err[256];
    kr_streams_input_t in = base_input();
    in.spec.kind = KR_STREAMS_TO_DATETIME;
    CHECK_INT(kr_streams_plan(&in, &p, err, sizeof err), KR_OK);
    CHECK_INT(p->n_offsets, 5);
    CHECK_INT(p->offsets[0].fell_back_to_end, 0);
    CHECK_INT(p->offsets[1].fell_back_to_end, 1);
    kr_streams_plan_free(p);
}

KR_TEST(plan_missing_and_bad_input)
{
    char err[256] = "";
    int rc;
    kr_streams_plan_t *p = NULL;
    static const char *const inputs[] = { "orders", "nope" };
    static const char *const inter[] = { "gone" };
    kr_streams_input_t in = base_input();
    in.input_topics = inputs;
    in.n_input = 2;
    in.intermediate_topics = inter;
    in.n_intermediate = 1;
    CHECK_INT(kr_streams_plan(&in, &p, err, sizeof err), KR_OK);
    CHECK_INT(p->n_missing, 2);
    CHECK_STR(p->missing_topics[0], "nope");
    CHECK_STR(p->missing_topics[1], "gone");
    CHECK_INT(p->n_offsets, 2);
    kr_streams_plan_free(p);

    /* a partition without watermarks cannot be planned */
    in = base_input();
    in.n_resolved = 1;
    CHECK_INT(kr_streams_plan(&in, &p, err, sizeof err), KR_EINVAL);
    CHECKF(strstr(err, "partition 1 of topic orders"), "err: %s", err);
    CHECK(p == NULL);

    in = base_input();
    in.application_id = "";
    CHECK_INT(kr_streams_plan(&in, &p, err, sizeof err), KR_EINVAL);
    in = base_input();
    in.spec.kind = KR_STREAMS_BY_DURATION;
    in.spec.duration_ms = -5;
    CHECK_INT(kr_streams_plan(&in, &p, err, sizeof err), KR_EINVAL);

    static const char *const twice[] = { "orders", "orders" };
    in = base_input();
    in.input_topics = twice;
    in.n_input = 2;
    plan_json(&in, err, sizeof err, &rc);
    CHECK_INT(rc, KR_EINVAL);
    CHECKF(strstr(err, "topic orders is listed twice as input"), "err: %s", err);
}

KR_TEST(reset_time)
{
    kr_streams_reset_spec_t s = { KR_STREAMS_BY_DURATION, 0, 3600000 };
    CHECK_INT(kr_streams_reset_time(&s, 1700000000000LL), 1700000000000LL - 3600000);
    s.kind = KR_STREAMS_TO_DATETIME;
    s.time_ms = 42;
    CHECK_INT(kr_streams_reset_time(&s, 1700000000000LL), 42);
    s.kind = KR_STREAMS_TO_EARLIEST;
    CHECK_INT(kr_streams_reset_time(&s, 1700000000000LL), -1);
}

KR_TEST(parse_datetime)
{
    static const struct { const char *s; long long ms; } ok[] = {
        { "2026-11-24T10:00:00.000", 1795514400000LL },      /* UTC without an offset */
        { "2026-11-24T10:00:00.000Z", 1795514400000LL },
        { "2026-11-24T10:00:00", 1795514400000LL },
        { "2026-11-24T19:00:00.250+09:00", 1795514400250LL },
        { "2026-11-24T05:00:00.000-0500", 1795514400000LL },
    };
    char err[256];
    int64_t ms;
    for (size_t i = 0; i < N(ok); i++) {
        ms = 0;
        CHECKF(kr_streams_parse_datetime(ok[i].s, &ms, err, sizeof err) == KR_OK, "%s", ok[i].s);
        CHECKF(ms == ok[i].ms, "%s -> %lld, want %lld", ok[i].s, (long long)ms, ok[i].ms);
    }
    static const char *const bad[] = { "2026-11-24", "2026-11-24 10:00:00", "2026-11-24T10:00",
                                       "24/11/2026T10:00:00", "", "2026-13-01T00:00:00" };
    for (size_t i = 0; i < N(bad); i++)
        CHECKF(kr_streams_parse_datetime(bad[i], &ms, err, sizeof err) == KR_EINVAL, "%s",
               bad[i]);
    CHECK(strstr(err, "YYYY-MM-DDTHH:mm:SS.sss") != NULL);
}

KR_TEST(parse_iso_duration)
{
    static const struct { const char *s; long long ms; } ok[] = {
        { "PT1H", 3600000 }, { "PT30M", 1800000 }, { "PT45S", 45000 }, { "P1D", 86400000 },
        { "P1DT12H", 129600000 }, { "PT1H30M15S", 5415000 }, { "pt2h", 7200000 },
        { "PT0.5S", 500 }, { "PT1.123456789S", 1123 }, { "PT0S", 0 }, { "+PT1M", 60000 },
        { "P2DT3H4M5.06S", 183845060 }, { "PT36H", 129600000 },
    };
    char err[256];
    int64_t ms;
    for (size_t i = 0; i < N(ok); i++) {
        ms = -1;
        CHECKF(kr_streams_parse_iso_duration(ok[i].s, &ms, err, sizeof err) == KR_OK, "%s: %s",
               ok[i].s, err);
        CHECKF(ms == ok[i].ms, "%s -> %lld, want %lld", ok[i].s, (long long)ms, ok[i].ms);
    }
    static const char *const bad[] = { "P", "PT", "1H", "PT1", "P1H", "PT1D", "PT1M1H",
                                       "PT1H1H", "P1DT", "PT1.S", "PT1.5M", "PT1.1234567890S",
                                       "P1W", "", "PT1H ", "PT99999999999999999999H",
                                       "P9999999999999999D" };
    for (size_t i = 0; i < N(bad); i++)
        CHECKF(kr_streams_parse_iso_duration(bad[i], &ms, err, sizeof err) == KR_EINVAL, "%s",
               bad[i]);
    CHECK_INT(kr_streams_parse_iso_duration("-PT1H", &ms, err, sizeof err), KR_EINVAL);
    CHECKF(strstr(err, "negative"), "err: %s", err);
    CHECK_INT(kr_streams_parse_iso_duration("PT-1H", &ms, err, sizeof err), KR_EINVAL);
}

/* ---- the Kafka interface's generic layer, through the fake ---- */

typedef struct {
    int calls;
    int result;
    int members;
    char state[64];
    int64_t at_ms;
} seen_t;

static void seen_cb(const kr_kafka_result_t *res, void *arg)
{
    seen_t *s = arg;
    s->calls++;
    s->result = res->result;
    s->members = res->members;
    snprintf(s->state, sizeof s->state, "%s", res->group_state ? res->group_state : "(null)");
    s->at_ms = kr_mono_ms();
}

KR_TEST(kafka_callback_runs_from_the_loop)
{
    struct event_base *base = event_base_new();
    kr_kafka_fake_t *f;
    kr_kafka_t *k = kr_kafka_fake_new(base, &f);
    kr_kafka_request_t req = { .group = "app" };
    seen_t s = { 0 };
    kr_kafka_fake_set_group(f, "app", "Stable", 3);
    CHECK_INT(kr_kafka_start(k, KR_KAFKA_DESCRIBE_GROUP, &req, seen_cb, &s), KR_OK);
    CHECK_INT(s.calls, 0); /* never from inside start */
    CHECK_INT(kr_kafka_pending(k), 1);
    event_base_loop(base, EVLOOP_ONCE);
    CHECK_INT(s.calls, 1);
    CHECK_INT(s.result, KR_OK);
    CHECK_STR(s.state, "Stable");
    CHECK_INT(s.members, 3);
    CHECK_INT(kr_kafka_pending(k), 0);

    /* an unknown group is Dead with no members, as Kafka describes it */
    req.group = "nobody";
    kr_kafka_result_t *r = NULL;
    CHECK_INT(kr_kafka_call(k, KR_KAFKA_DESCRIBE_GROUP, &req, &r), KR_OK);
    CHECK_STR(r->group_state, "Dead");
    CHECK_INT(r->members, 0);
    kr_kafka_result_free(r);

    /* requests missing what their op needs are refused and never call back */
    kr_kafka_request_t bad = { 0 };
    s.calls = 0;
    CHECK_INT(kr_kafka_start(k, KR_KAFKA_DESCRIBE_GROUP, &bad, seen_cb, &s), KR_EINVAL);
    CHECK_INT(kr_kafka_start(k, KR_KAFKA_COMMITTED, &req, seen_cb, &s), KR_EINVAL);
    CHECK_INT(kr_kafka_start(k, KR_KAFKA_DELETE_TOPICS, &bad, seen_cb, &s), KR_EINVAL);
    kr_kafka_tp_t neg = { "orders", -1, 0 };
    kr_kafka_request_t negreq = { .partitions = &neg, .n_partitions = 1 };
    CHECK_INT(kr_kafka_start(k, KR_KAFKA_WATERMARKS, &negreq, seen_cb, &s), KR_EINVAL);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_INT(s.calls, 0);
    kr_kafka_free(k);
    event_base_free(base);
}

KR_TEST(kafka_deadline_ends_a_request_that_never_answers)
{
    struct event_base *base = event_base_new();
    kr_kafka_fake_t *f;
    kr_kafka_t *k = kr_kafka_fake_new(base, &f);
    int timeout = (int)(80 * kr_test_tmout_mult());
    kr_kafka_request_t req = { .group = "app", .timeout_ms = timeout };
    kr_kafka_result_t *r = NULL;
    kr_kafka_fake_fail(f, KR_KAFKA_DESCRIBE_GROUP, KR_ETIMEDOUT, NULL); /* hang */
    int64_t t0 = kr_mono_ms();
    CHECK_INT(kr_kafka_call(k, KR_KAFKA_DESCRIBE_GROUP, &req, &r), KR_ETIMEDOUT);
    int64_t took = kr_mono_ms() - t0;
    CHECKF(took >= timeout - 5 && took < timeout + 1000, "took %lld ms", (long long)took);
    CHECK_STR(r->group_state, "unknown");
    CHECK_INT(r->members, -1);
    CHECKF(r->error && strstr(r->error, "no answer from Kafka to describe_group within"),
           "%s", r->error);
    kr_kafka_result_free(r);
    /* the other operations are not affected */
    kr_kafka_fake_add_topic(f, "orders", 1);
    CHECK_INT(kr_kafka_call(k, KR_KAFKA_LIST_TOPICS, &req, &r), KR_OK);
    CHECK_INT(r->n_topics, 1);
    kr_kafka_result_free(r);
    kr_kafka_free(k);
    event_base_free(base);
}

static void free_in_cb(const kr_kafka_result_t *res, void *arg)
{
    kr_kafka_t **k = arg;
    (void)res;
    kr_kafka_free(*k);
}

KR_TEST(kafka_free_cancels_pending_requests)
{
    struct event_base *base = event_base_new();
    kr_kafka_fake_t *f;
    kr_kafka_t *k = kr_kafka_fake_new(base, &f);
    kr_kafka_request_t req = { .group = "app" };
    seen_t a = { 0 }, b = { 0 };
    kr_kafka_fake_fail(f, KR_KAFKA_DESCRIBE_GROUP, KR_ETIMEDOUT, NULL);
    CHECK_INT(kr_kafka_start(k, KR_KAFKA_DESCRIBE_GROUP, &req, seen_cb, &a), KR_OK);
    CHECK_INT(kr_kafka_start(k, KR_KAFKA_LIST_TOPICS, &req, seen_cb, &b), KR_OK);
    kr_kafka_free(k);
    CHECK_INT(a.calls, 1);
    CHECK_INT(a.result, KR_ESTATE);
    CHECK_INT(b.calls, 1);
    CHECK_INT(b.result, KR_ESTATE);

    /* freed from inside a callback: the other request is cancelled once, the answer that
     * was queued for it is dropped, and the client goes when the loop runs again */
    k = kr_kafka_fake_new(base, &f);
    seen_t c = { 0 };
    CHECK_INT(kr_kafka_start(k, KR_KAFKA_LIST_TOPICS, &req, free_in_cb, &k), KR_OK);
    CHECK_INT(kr_kafka_start(k, KR_KAFKA_LIST_TOPICS, &req, seen_cb, &c), KR_OK);
    event_base_loop(base, EVLOOP_ONCE);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_INT(c.calls, 1);
    CHECK_INT(c.result, KR_ESTATE);
    event_base_free(base);
}

KR_TEST(fake_answers_like_kafka)
{
    struct event_base *base = event_base_new();
    kr_kafka_fake_t *f;
    kr_kafka_t *k = kr_kafka_fake_new(base, &f);
    kr_kafka_result_t *r = NULL;
    kr_kafka_fake_add_topic(f, "orders", 2);
    kr_kafka_fake_set_partition(f, "orders", 0, 10, 20, 1000, 100); /* ts 1000..1900 */
    kr_kafka_tp_t tps[] = { { "orders", 0, 999 }, { "orders", 0, 1000 }, { "orders", 0, 1001 },
                            { "orders", 0, 1900 }, { "orders", 0, 1901 }, { "orders", 1, 5 } };
    kr_kafka_request_t req = { .partitions = tps, .n_partitions = N(tps) };
    CHECK_INT(kr_kafka_call(k, KR_KAFKA_OFFSETS_FOR_TIMES, &req, &r), KR_OK);
    CHECK_INT(r->n_partitions, 6);
    CHECK_INT(r->partitions[0].offset, 10);
    CHECK_INT(r->partitions[1].offset, 10);
    CHECK_INT(r->partitions[2].offset, 11);
    CHECK_INT(r->partitions[3].offset, 19);
    CHECK_INT(r->partitions[4].offset, -1);  /* nothing at or after */
    CHECK_INT(r->partitions[5].offset, -1);  /* empty partition */
    kr_kafka_result_free(r);

    CHECK_INT(kr_kafka_call(k, KR_KAFKA_WATERMARKS, &req, &r), KR_OK);
    CHECK_INT(r->partitions[0].low, 10);
    CHECK_INT(r->partitions[0].high, 20);
    kr_kafka_result_free(r);
    kr_kafka_tp_t gone = { "nope", 0, 0 };
    kr_kafka_request_t greq = { .partitions = &gone, .n_partitions = 1 };
    CHECK_INT(kr_kafka_call(k, KR_KAFKA_WATERMARKS, &greq, &r), KR_ENOTFOUND);
    CHECK_INT(r->partitions[0].err, KR_ENOTFOUND);
    kr_kafka_result_free(r);

    /* commits to a group with members fail (the broker refuses them) */
    kr_kafka_fake_set_group(f, "app", "Stable", 1);
    kr_kafka_tp_t c = { "orders", 0, 15 };
    kr_kafka_request_t creq = { .group = "app", .partitions = &c, .n_partitions = 1 };
    CHECK_INT(kr_kafka_call(k, KR_KAFKA_COMMIT, &creq, &r), KR_ESTATE);
    kr_kafka_result_free(r);
    CHECK_INT(kr_kafka_fake_committed(f, "app", "orders", 0), -1);
    kr_kafka_fake_set_group(f, "app", "Empty", 0);
    CHECK_INT(kr_kafka_call(k, KR_KAFKA_COMMIT, &creq, &r), KR_OK);
    kr_kafka_result_free(r);
    CHECK_INT(kr_kafka_fake_committed(f, "app", "orders", 0), 15);
    CHECK_INT(kr_kafka_call(k, KR_KAFKA_COMMITTED, &creq, &r), KR_OK);
    CHECK_INT(r->partitions[0].offset, 15);
    kr_kafka_result_free(r);

    /* deleting a topic drops its committed offsets */
    const char *del[] = { "orders", "nope" };
    kr_kafka_request_t dreq = { .topics = del, .n_topics = 2 };
    CHECK_INT(kr_kafka_call(k, KR_KAFKA_DELETE_TOPICS, &dreq, &r), KR_ENOTFOUND);
    CHECK_INT(r->n_topics, 2);
    CHECK_INT(r->topics[0].err, 0);
    CHECK_INT(r->topics[1].err, KR_ENOTFOUND);
    kr_kafka_result_free(r);
    CHECK(!kr_kafka_fake_has_topic(f, "orders"));
    CHECK_INT(kr_kafka_fake_committed(f, "app", "orders", 0), -1);

    size_t n;
    const char *const *calls = kr_kafka_fake_calls(f, &n);
    CHECK_INT(n, 7);
    CHECK_STR(calls[0], "offsets_for_times orders:0@999,orders:0@1000,orders:0@1001,"
                        "orders:0@1900,orders:0@1901,orders:1@5");
    CHECK_STR(calls[4], "commit app orders:0=15");
    CHECK_STR(calls[3], "commit app orders:0=15"); /* refused: members */
    CHECK_STR(calls[6], "delete_topics orders,nope");
    CHECK(calls[7] == NULL);
    kr_kafka_free(k);
    event_base_free(base);
}

/* ---- whole resets through the fake (paths the mock cluster cannot answer) ---- */

#define T0 1795514400000LL /* 2026-11-24T10:00:00Z */

typedef struct {
    struct event_base *base;
    kr_kafka_t *k;
    kr_kafka_fake_t *f;
} rig_t;

static void rig_init(rig_t *r)
{
    r->base = event_base_new();
    r->k = kr_kafka_fake_new(r->base, &r->f);
    kr_kafka_fake_t *f = r->f;
    kr_kafka_fake_add_topic(f, "orders", 2);
    kr_kafka_fake_set_partition(f, "orders", 0, 0, 100, T0, 1000);
    kr_kafka_fake_set_partition(f, "orders", 1, 10, 60, T0 - 100000, 1000);
    kr_kafka_fake_add_topic(f, "app-rekeyed", 1);
    kr_kafka_fake_set_partition(f, "app-rekeyed", 0, 0, 40, T0, 10);
    kr_kafka_fake_add_topic(f, APP_AGG_RP, 2);
    kr_kafka_fake_add_topic(f, APP_AGG_CL, 2);
    kr_kafka_fake_add_topic(f, V2_AGG_RP, 1);
    kr_kafka_fake_add_topic(f, V2_AGG_CL, 1);
    kr_kafka_fake_add_topic(f, "app-out", 1);
    kr_kafka_fake_set_committed(f, "app", "orders", 0, 90);
    kr_kafka_fake_set_committed(f, "app", "orders", 1, 55);
    kr_kafka_fake_set_committed(f, "app", "app-rekeyed", 0, 33);
    kr_kafka_fake_set_committed(f, "app", APP_AGG_RP, 0, 5);
    kr_kafka_fake_set_committed(f, "app", APP_AGG_RP, 1, 6);
    kr_kafka_fake_set_committed(f, "app-v2", V2_AGG_RP, 0, 3);
    kr_kafka_fake_set_group(f, "app", "Empty", 0);
    kr_kafka_fake_set_group(f, "app-v2", "Stable", 2);
}

static void rig_free(rig_t *r)
{
    kr_kafka_free(r->k);
    event_base_free(r->base);
}

static kr_streams_run_opts_t run_opts(int execute)
{
    static const char *const inputs[] = { "orders" };
    static const char *const inter[] = { "app-rekeyed" };
    kr_streams_run_opts_t o;
    memset(&o, 0, sizeof o);
    o.application_id = "app";
    o.input_topics = inputs;
    o.n_input = 1;
    o.intermediate_topics = inter;
    o.n_intermediate = 1;
    o.spec.kind = KR_STREAMS_TO_DATETIME;
    o.spec.time_ms = T0 + 30500;
    o.now_ms = T0 + 3600000;
    o.execute = execute;
    o.timeout_ms = (int)(2000 * kr_test_tmout_mult());
    return o;
}

/* Calls the fake saw, from index from on, joined by '\n'. */
static char *calls_from(const kr_kafka_fake_t *f, size_t from)
{
    size_t n, len = 1;
    const char *const *c = kr_kafka_fake_calls(f, &n);
    for (size_t i = from; i < n; i++)
        len += strlen(c[i]) + 1;
    char *s = calloc(1, len);
    for (size_t i = from; i < n; i++) {
        strcat(s, c[i]);
        strcat(s, "\n");
    }
    return s;
}

static int has_call(const kr_kafka_fake_t *f, const char *prefix)
{
    size_t n;
    const char *const *c = kr_kafka_fake_calls(f, &n);
    for (size_t i = 0; i < n; i++)
        if (strncmp(c[i], prefix, strlen(prefix)) == 0)
            return 1;
    return 0;
}

KR_TEST(run_execute_commits_and_deletes_exactly_the_internal_topics)
{
    rig_t r;
    rig_init(&r);
    kr_streams_run_opts_t o = run_opts(1);
    json_t *rep = NULL;
    char err[512] = "";
    CHECK_INT(kr_streams_run(r.k, &o, &rep, err, sizeof err), KR_OK);
    CHECKF(err[0] == '\0', "err: %s", err);
    char *calls = calls_from(r.f, 0);
    CHECK_STR(calls,
              "describe_group app\n"
              "list_topics\n"
              /* inputs, intermediates, then every topic named like app's internal topics */
              "committed app orders:0,orders:1,app-rekeyed:0," APP_AGG_RP ":0," APP_AGG_RP
              ":1," APP_AGG_CL ":0," APP_AGG_CL ":1," V2_AGG_RP ":0," V2_AGG_CL ":0\n"
              "watermarks orders:0,orders:1,app-rekeyed:0\n"
              "offsets_for_times orders:0@1795514430500,orders:1@1795514430500\n"
              /* orders-0: first record at or after T0+30.5s is offset 31; orders-1 has none
               * (last record at T0-51s): its end, 60; the intermediate topic: its end, 40 */
              "commit app orders:0=31,orders:1=60,app-rekeyed:0=40\n"
              /* only the repartition topic group "app" committed on: not app-v2's, and not
               * app's changelog (no evidence without a topology) */
              "delete_topics " APP_AGG_RP "\n");
    free(calls);
    CHECK_INT(kr_kafka_fake_committed(r.f, "app", "orders", 0), 31);
    CHECK_INT(kr_kafka_fake_committed(r.f, "app", "orders", 1), 60);
    CHECK_INT(kr_kafka_fake_committed(r.f, "app", "app-rekeyed", 0), 40);
    CHECK(!kr_kafka_fake_has_topic(r.f, APP_AGG_RP));
    CHECK(kr_kafka_fake_has_topic(r.f, APP_AGG_CL));
    CHECK(kr_kafka_fake_has_topic(r.f, V2_AGG_RP));
    CHECK(kr_kafka_fake_has_topic(r.f, V2_AGG_CL));
    CHECK(kr_kafka_fake_has_topic(r.f, "app-out"));
    CHECK_INT(kr_kafka_fake_committed(r.f, "app-v2", V2_AGG_RP, 0), 3);

    json_t *want = json_pack(
        "{s:s,s:s,s:i,s:{s:s,s:s},s:[{s:s,s:i,s:i,s:i},{s:s,s:i,s:i,s:i},{s:s,s:i,s:i,s:i}],"
        "s:[s],s:[s,s,s],s:[],s:b}",
        "application_id", "app", "group_state", "Empty", "members", 0, "reset", "to",
        "datetime", "time", "2026-11-24T10:00:30.500Z", "offsets", "topic", "orders",
        "partition", 0, "current", 90, "target", 31, "topic", "orders", "partition", 1,
        "current", 55, "target", 60, "topic", "app-rekeyed", "partition", 0, "current", 33,
        "target", 40, "delete_topics", APP_AGG_RP, "unconfirmed_internal_topics", APP_AGG_CL,
        V2_AGG_CL, V2_AGG_RP, "missing_topics", "executed", 1);
    json_t *got = json_deep_copy(rep);
    json_object_del(got, "notes");
    CHECK_JSON(got, want);
    json_decref(got);
    json_decref(want);
    json_t *notes = json_object_get(rep, "notes");
    CHECK_INT(json_array_size(notes), 4);
    CHECKF(strstr(json_string_value(json_array_get(notes, 0)),
                  "partition 1 of topic orders has no record at or after 2026-11-24T10:00:30.500Z"),
           "%s", json_string_value(json_array_get(notes, 0)));
    json_decref(rep);
    rig_free(&r);
}

KR_TEST(run_topology_and_explicit_internal_topics)
{
    rig_t r;
    rig_init(&r);
    static const char *const topo[] = { APP_AGG_CL };
    kr_streams_run_opts_t o = run_opts(1);
    o.topology_topics = topo;
    o.n_topology = 1;
    json_t *rep = NULL;
    char err[512] = "";
    CHECK_INT(kr_streams_run(r.k, &o, &rep, err, sizeof err), KR_OK);
    char *calls = calls_from(r.f, 6);
    CHECK_STR(calls, "delete_topics " APP_AGG_CL "," APP_AGG_RP "\n");
    free(calls);
    json_decref(rep);
    rig_free(&r);

    /* --internal-topics outside the inferred set: refused before anything changes */
    rig_init(&r);
    static const char *const bad[] = { "app-out" };
    o = run_opts(1);
    o.internal_topics = bad;
    o.n_internal = 1;
    CHECK_INT(kr_streams_run(r.k, &o, &rep, err, sizeof err), KR_EINVAL);
    CHECKF(strstr(err, "internal topic app-out is not one of application app's"), "%s", err);
    CHECK(!has_call(r.f, "commit "));
    CHECK(!has_call(r.f, "delete_topics"));
    json_decref(rep);
    rig_free(&r);
}

KR_TEST(run_dry_run_changes_nothing)
{
    rig_t r;
    rig_init(&r);
    kr_streams_run_opts_t o = run_opts(0);
    json_t *rep = NULL;
    char err[512] = "";
    kr_kafka_fake_set_group(r.f, "app", "Stable", 2); /* a dry run may look at a live app */
    CHECK_INT(kr_streams_run(r.k, &o, &rep, err, sizeof err), KR_OK);
    CHECK(!has_call(r.f, "commit "));
    CHECK(!has_call(r.f, "delete_topics"));
    CHECK_INT(kr_kafka_fake_committed(r.f, "app", "orders", 0), 90);
    CHECK(kr_kafka_fake_has_topic(r.f, APP_AGG_RP));
    CHECK(json_is_false(json_object_get(rep, "executed")));
    CHECK_INT(json_integer_value(json_object_get(rep, "members")), 2);
    /* the plan is there all the same */
    CHECK_INT(json_integer_value(json_object_get(
                  json_array_get(json_object_get(rep, "offsets"), 0), "target")), 31);
    json_decref(rep);
    rig_free(&r);
}

KR_TEST(run_refuses_while_members_exist)
{
    rig_t r;
    rig_init(&r);
    kr_streams_run_opts_t o = run_opts(1);
    json_t *rep = NULL;
    char err[512] = "";
    kr_kafka_fake_set_group(r.f, "app", "Stable", 2);
    CHECK_INT(kr_streams_run(r.k, &o, &rep, err, sizeof err), KR_ESTATE);
    CHECKF(strstr(err, "group app is Stable with 2 members: stop every instance"), "%s", err);
    CHECK(!has_call(r.f, "commit "));
    CHECK(!has_call(r.f, "delete_topics"));
    CHECK_INT(kr_kafka_fake_committed(r.f, "app", "orders", 0), 90);
    CHECK(json_is_false(json_object_get(rep, "executed")));
    CHECK_INT(json_array_size(json_object_get(rep, "offsets")), 3); /* dry-run JSON */
    json_decref(rep);

    /* once the app is stopped, the same run executes */
    kr_kafka_fake_set_group(r.f, "app", "Empty", 0);
    CHECK_INT(kr_streams_run(r.k, &o, &rep, err, sizeof err), KR_OK);
    CHECK(json_is_true(json_object_get(rep, "executed")));
    json_decref(rep);
    rig_free(&r);
}

KR_TEST(run_refuses_when_the_group_cannot_be_described)
{
    rig_t r;
    rig_init(&r);
    kr_streams_run_opts_t o = run_opts(1);
    json_t *rep = NULL;
    char err[512] = "";
    /* what librdkafka's mock cluster answers to DescribeConsumerGroups */
    kr_kafka_fake_fail(r.f, KR_KAFKA_DESCRIBE_GROUP, KR_EUNSUPPORTED,
                       "the broker could not describe group app: Local: Required feature not "
                       "supported by broker");
    CHECK_INT(kr_streams_run(r.k, &o, &rep, err, sizeof err), KR_ESTATE);
    CHECKF(strstr(err, "could not confirm that group app has no members") &&
               strstr(err, "Required feature not supported"), "%s", err);
    CHECK_STR(json_string_value(json_object_get(rep, "group_state")), "unknown");
    CHECK(json_is_null(json_object_get(rep, "members")));
    CHECK(json_object_get(rep, "group_error") != NULL);
    CHECK(!has_call(r.f, "commit "));
    CHECK(!has_call(r.f, "delete_topics"));
    json_decref(rep);

    /* a describe that never answers: refused within the deadline */
    kr_kafka_fake_fail(r.f, KR_KAFKA_DESCRIBE_GROUP, KR_ETIMEDOUT, NULL);
    o.timeout_ms = (int)(100 * kr_test_tmout_mult());
    int64_t t0 = kr_mono_ms();
    CHECK_INT(kr_streams_run(r.k, &o, &rep, err, sizeof err), KR_ESTATE);
    CHECKF(kr_mono_ms() - t0 < 100 * kr_test_tmout_mult() + 1000, "took %lld ms",
           (long long)(kr_mono_ms() - t0));
    CHECKF(strstr(err, "no answer from Kafka to describe_group"), "%s", err);
    CHECK(!has_call(r.f, "commit "));
    json_decref(rep);
    rig_free(&r);
}

KR_TEST(run_refuses_missing_topics_and_reports_kafka_errors)
{
    rig_t r;
    rig_init(&r);
    static const char *const inputs[] = { "orders", "refunds" };
    kr_streams_run_opts_t o = run_opts(1);
    o.input_topics = inputs;
    o.n_input = 2;
    json_t *rep = NULL;
    char err[512] = "";
    CHECK_INT(kr_streams_run(r.k, &o, &rep, err, sizeof err), KR_ESTATE);
    CHECKF(strstr(err, "topic refunds does not exist"), "%s", err);
    json_t *want = json_pack("[s]", "refunds");
    CHECK_JSON(json_object_get(rep, "missing_topics"), want);
    json_decref(want);
    CHECK(!has_call(r.f, "commit "));
    json_decref(rep);

    /* a failed commit stops before any topic is deleted */
    o = run_opts(1);
    kr_kafka_fake_fail(r.f, KR_KAFKA_COMMIT, KR_EIO, "Broker: Coordinator not available");
    CHECK_INT(kr_streams_run(r.k, &o, &rep, err, sizeof err), KR_EIO);
    CHECKF(strstr(err, "committing the new offsets failed: Broker: Coordinator not available"),
           "%s", err);
    CHECK(!has_call(r.f, "delete_topics"));
    CHECK(kr_kafka_fake_has_topic(r.f, APP_AGG_RP));
    json_decref(rep);

    /* listing topics failed: nothing to plan, an error */
    kr_kafka_fake_fail(r.f, KR_KAFKA_LIST_TOPICS, KR_EIO, "Local: Broker transport failure");
    CHECK_INT(kr_streams_run(r.k, &o, &rep, err, sizeof err), KR_EIO);
    CHECKF(strstr(err, "Broker transport failure"), "%s", err);
    CHECK(json_object_get(rep, "offsets") == NULL);
    json_decref(rep);
    rig_free(&r);
}
