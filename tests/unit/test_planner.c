/* tests/unit/test_planner.c: the evacuation planner. Hand-written cases pin each rule of
 * target choice (rack, replicas, preferred leaderships, id), the errors and the outputs;
 * property tests generate hundreds of clusters (3-300 brokers, no racks or 1-6 racks,
 * RF 1-5, uniform and skewed loads, dead and unregistered brokers, stacks) and check every
 * guarantee of kr/planner.h against an independent model of the cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/planner.h"
#include "kr_test.h"

/* ------------------------------------------------------------------ helpers */

static json_t *jparse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fprintf(stderr, "bad test JSON: %s: %s\n", e.text, s);
    return j;
}

static kr_plan_cluster_t *cluster_json(const char *s, const char *stacks)
{
    char err[512] = "";
    kr_plan_stack_t st[8];
    int ns = stacks ? kr_plan_stacks_parse(stacks, st, 8, err, sizeof err) : 0;
    json_t *j = jparse(s);
    kr_plan_cluster_t *c = NULL;
    int rc = ns < 0 || !j ? KR_EINVAL : kr_plan_cluster_from_json(j, st, (size_t)ns, &c, err, sizeof err);
    CHECKF(rc == 0, "cluster: %s", err);
    json_decref(j);
    return c;
}

/* Plans "evacuate ids to spec"; returns the plan or NULL with err filled. */
static kr_plan_t *plan_ids(const kr_plan_cluster_t *c, const char *ids_csv, const char *spec,
                           char *err, size_t errlen, int *rcp)
{
    int32_t ids[16];
    size_t n = 0;
    for (const char *s = ids_csv; s && *s && n < 16;) {
        char *end;
        ids[n++] = (int32_t)strtol(s, &end, 10);
        s = *end ? end + 1 : end;
    }
    kr_plan_request_t req = { .evacuate = ids, .n_evacuate = n };
    int rc = kr_plan_targets_parse(spec, &req.to, err, errlen);
    kr_plan_t *p = NULL;
    if (rc == 0)
        rc = kr_plan_new(c, &req, &p, err, errlen);
    if (rcp)
        *rcp = rc;
    if (rc != 0)
        CHECKF(p == NULL, "a failed plan must return nothing");
    return p;
}

static void check_plan_json(const kr_plan_t *p, const char *want)
{
    json_t *got = kr_plan_reassignment_json(p), *w = jparse(want);
    CHECK_JSON(got, w);
    json_decref(got);
    json_decref(w);
}

/* ------------------------------------------------------------------ parsers */

KR_TEST(targets_parse_accepts_the_four_forms)
{
    struct { const char *in; int rc; kr_plan_to_kind_t kind; const char *stack; int lo, hi; } cases[] = {
        { "same-stack", 0, KR_PLAN_TO_SAME_STACK, "", 0, 0 },
        { "any", 0, KR_PLAN_TO_ANY, "", 0, 0 },
        { "stack:green", 0, KR_PLAN_TO_STACK, "green", 0, 0 },
        { "stack: green", 0, KR_PLAN_TO_STACK, "green", 0, 0 },
        { " 1001-2000 ", 0, KR_PLAN_TO_RANGE, "", 1001, 2000 },
        { "5 - 5", 0, KR_PLAN_TO_RANGE, "", 5, 5 },
        { "", KR_EINVAL, 0, "", 0, 0 },
        { "stack:", KR_EINVAL, 0, "", 0, 0 },
        { "stack:a b", KR_EINVAL, 0, "", 0, 0 },
        { "2000-1001", KR_EINVAL, 0, "", 0, 0 },
        { "1-", KR_EINVAL, 0, "", 0, 0 },
        { "-5", KR_EINVAL, 0, "", 0, 0 },
        { "1-99999999999", KR_EINVAL, 0, "", 0, 0 },
        { "green", KR_EINVAL, 0, "", 0, 0 },
        { "Any", KR_EINVAL, 0, "", 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kr_plan_targets_t t;
        char err[256] = "", back[96];
        int rc = kr_plan_targets_parse(cases[i].in, &t, err, sizeof err);
        CHECKF(rc == cases[i].rc, "\"%s\": rc %d want %d (%s)", cases[i].in, rc, cases[i].rc, err);
        if (rc == 0) {
            CHECK_INT(t.kind, cases[i].kind);
            CHECK_STR(t.stack, cases[i].stack);
            CHECK_INT(t.lo, cases[i].lo);
            CHECK_INT(t.hi, cases[i].hi);
            kr_plan_targets_t again;
            CHECK_INT(kr_plan_targets_parse(kr_plan_targets_format(&t, back, sizeof back), &again, err, sizeof err), 0);
            CHECK(memcmp(&again, &t, sizeof t) == 0);
        } else {
            CHECKF(strstr(err, "expected same-stack, any, stack:NAME or an id range") != NULL, "%s", err);
        }
    }
}

KR_TEST(stacks_parse)
{
    kr_plan_stack_t st[4];
    char err[256] = "";
    CHECK_INT(kr_plan_stacks_parse("blue=1-1000,green = 1001-2000", st, 4, err, sizeof err), 2);
    CHECK_STR(st[0].name, "blue");
    CHECK_INT(st[0].lo, 1);
    CHECK_INT(st[0].hi, 1000);
    CHECK_STR(st[1].name, "green");
    CHECK_INT(st[1].lo, 1001);
    CHECK_INT(st[1].hi, 2000);
    CHECK_INT(kr_plan_stacks_parse("", st, 4, err, sizeof err), 0);
    CHECK_INT(kr_plan_stacks_parse("blue", st, 4, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "bad stack \"blue\": expected NAME=LOW-HIGH, e.g. blue=1-1000,green=1001-2000");
    CHECK_INT(kr_plan_stacks_parse("=1-2", st, 4, err, sizeof err), KR_EINVAL);
    CHECK_INT(kr_plan_stacks_parse("a=2-1", st, 4, err, sizeof err), KR_EINVAL);
    CHECK_INT(kr_plan_stacks_parse("a=1-2,b=3-4,c=5-6", st, 2, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "too many stacks (at most 2)");
}

KR_TEST(snapshot_errors_name_the_member)
{
    struct { const char *json; const char *err; } cases[] = {
        { "[]", "a cluster snapshot must be an object with \"brokers\" and \"partitions\"" },
        { "{\"brokers\":[]}", "partitions: expected an array of {\"topic\":..,\"partition\":..,\"replicas\":[..]}" },
        { "{\"brokers\":{},\"partitions\":[]}", "brokers: expected an array" },
        { "{\"brokers\":[{\"id\":-1}],\"partitions\":[]}", "brokers[0].id: expected a non-negative integer" },
        { "{\"brokers\":[{\"id\":1},{\"id\":\"2\"}],\"partitions\":[]}", "brokers[1].id: expected a non-negative integer" },
        { "{\"brokers\":[{\"id\":1,\"rack\":7}],\"partitions\":[]}", "brokers[0].rack: expected a non-empty string or null" },
        { "{\"brokers\":[{\"id\":1,\"alive\":1}],\"partitions\":[]}", "brokers[0].alive: expected true or false" },
        { "{\"brokers\":[{\"id\":1},{\"id\":1}],\"partitions\":[]}", "broker 1 is listed twice" },
        { "{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[]}]}", "partitions[0].replicas: expected an array of 1 to 255 broker ids" },
        { "{\"partitions\":[{\"topic\":\"\",\"partition\":0,\"replicas\":[1]}]}", "partitions[0].topic: expected a non-empty string" },
        { "{\"partitions\":[{\"topic\":\"t\",\"partition\":-3,\"replicas\":[1]}]}", "partitions[0].partition: expected a non-negative integer" },
        { "{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,\"x\"]}]}", "partitions[0].replicas[1]: expected a non-negative integer" },
        { "{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,2,1]}]}", "partitions[0]: t-0: broker 1 is a replica twice" },
        { "{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1]},{\"topic\":\"t\",\"partition\":0,\"replicas\":[2]}]}", "partition t-0 is listed twice" },
        { "{\"partitions\":[],\"stacks\":{\"blue\":\"1-1000\",\"green\":\"1000-2000\"}}", "stacks blue (1-1000) and green (1000-2000) overlap" },
        { "{\"partitions\":[],\"stacks\":{\"blue\":5}}", "stacks.blue: expected an id range string like \"1-1000\"" },
        { "{\"partitions\":[],\"stacks\":[]}", "stacks: expected an object like {\"blue\":\"1-1000\"}" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        json_t *j = jparse(cases[i].json);
        kr_plan_cluster_t *c = (kr_plan_cluster_t *)1;
        int rc = kr_plan_cluster_from_json(j, NULL, 0, &c, err, sizeof err);
        CHECKF(rc < 0 && c == NULL, "case %zu must fail", i);
        CHECK_STR(err, cases[i].err);
        json_decref(j);
    }
}

/* ------------------------------------------------------------------ choice rules */

static const char *six_brokers =
    "{\"brokers\":[{\"id\":1,\"rack\":\"a\"},{\"id\":2,\"rack\":\"b\"},{\"id\":3,\"rack\":\"c\"},"
    "{\"id\":4,\"rack\":\"a\"},{\"id\":5,\"rack\":\"b\"},{\"id\":6,\"rack\":\"c\"}],"
    "\"partitions\":[{\"topic\":\"orders\",\"partition\":0,\"replicas\":[1,2,3]},"
    "{\"topic\":\"orders\",\"partition\":1,\"replicas\":[2,3,4]},"
    "{\"topic\":\"orders\",\"partition\":2,\"replicas\":[3,4,5]},"
    "{\"topic\":\"alpha\",\"partition\":0,\"replicas\":[3,1]},"
    "{\"topic\":\"orders\",\"partition\":10,\"replicas\":[6,5]}]}";

KR_TEST(rack_beats_replica_count_and_balance_repair_keeps_racks)
{
    /* orders-0/1/2 keep replicas in racks a and b, so broker 3 (rack c) can only go to 6,
     * the other rack-c broker, although 6 ends with more replicas than the rest. alpha-0
     * (leader 3, other replica 1 in rack a) first takes 6 (fewest replicas), and the
     * repair pass then moves it to 2 (rack b, fewest, lowest id), since 6 ended 2 above. */
    kr_plan_cluster_t *c = cluster_json(six_brokers, "blue=1-1000");
    char err[512] = "";
    kr_plan_t *p = plan_ids(c, "3", "any", err, sizeof err, NULL);
    CHECKF(p != NULL, "%s", err);
    if (p) {
        check_plan_json(p, "{\"version\":1,\"partitions\":["
                           "{\"topic\":\"alpha\",\"partition\":0,\"replicas\":[2,1]},"
                           "{\"topic\":\"orders\",\"partition\":0,\"replicas\":[1,2,6]},"
                           "{\"topic\":\"orders\",\"partition\":1,\"replicas\":[2,6,4]},"
                           "{\"topic\":\"orders\",\"partition\":2,\"replicas\":[6,4,5]}]}");
        CHECK_INT(kr_plan_rack_warnings(p), 0);
        json_t *sum = kr_plan_summary_json(p);
        json_t *want = jparse("{\"partitions_moved\":4,\"replicas_moved\":4,\"evacuated\":[3],"
                              "\"targets\":\"any\",\"sources\":{\"3\":4},"
                              "\"destinations\":{\"1\":0,\"2\":1,\"4\":0,\"5\":0,\"6\":3},"
                              "\"rack_warnings\":[],"
                              "\"target_replicas\":{\"1\":{\"before\":2,\"after\":2},"
                              "\"2\":{\"before\":2,\"after\":3},\"4\":{\"before\":2,\"after\":2},"
                              "\"5\":{\"before\":2,\"after\":2},\"6\":{\"before\":1,\"after\":4}}}");
        CHECK_JSON(sum, want);
        json_decref(sum);
        json_decref(want);
    }
    kr_plan_free(p);
    kr_plan_cluster_free(c);
}

KR_TEST(fewest_replicas_then_lowest_id)
{
    /* No racks. Targets 10 (3 replicas), 11 (1), 12 (1): t-0 goes to 11 (fewest; ties by
     * id over 12), t-1 then to 12 (fewest), t-2 to 11 (11 and 12 tie at 2: lowest id). */
    kr_plan_cluster_t *c = cluster_json(
        "{\"brokers\":[{\"id\":1},{\"id\":10},{\"id\":11},{\"id\":12}],\"partitions\":["
        "{\"topic\":\"t\",\"partition\":0,\"replicas\":[10,1]},"
        "{\"topic\":\"t\",\"partition\":1,\"replicas\":[10,1]},"
        "{\"topic\":\"t\",\"partition\":2,\"replicas\":[10,1]},"
        "{\"topic\":\"u\",\"partition\":0,\"replicas\":[11]},"
        "{\"topic\":\"u\",\"partition\":1,\"replicas\":[12]}]}", NULL);
    char err[512] = "";
    kr_plan_t *p = plan_ids(c, "1", "any", err, sizeof err, NULL);
    CHECKF(p != NULL, "%s", err);
    if (p)
        check_plan_json(p, "{\"version\":1,\"partitions\":["
                           "{\"topic\":\"t\",\"partition\":0,\"replicas\":[10,11]},"
                           "{\"topic\":\"t\",\"partition\":1,\"replicas\":[10,12]},"
                           "{\"topic\":\"t\",\"partition\":2,\"replicas\":[10,11]}]}");
    kr_plan_free(p);
    kr_plan_cluster_free(c);
}

KR_TEST(position_zero_prefers_fewest_preferred_leaderships)
{
    /* Targets 10 and 11 both hold 2 replicas; 10 leads both of its partitions, 11 none.
     * Broker 1 leads t-0: its replacement goes to 11 (fewer leaderships) although 10 has
     * the lower id. t-1 (also led by 1) then goes to 10, which now has fewer replicas. */
    kr_plan_cluster_t *c = cluster_json(
        "{\"brokers\":[{\"id\":1},{\"id\":10},{\"id\":11}],\"partitions\":["
        "{\"topic\":\"a\",\"partition\":0,\"replicas\":[10,11]},"
        "{\"topic\":\"a\",\"partition\":1,\"replicas\":[10,11]},"
        "{\"topic\":\"t\",\"partition\":0,\"replicas\":[1]},"
        "{\"topic\":\"t\",\"partition\":1,\"replicas\":[1]}]}", NULL);
    char err[512] = "";
    kr_plan_t *p = plan_ids(c, "1", "10-11", err, sizeof err, NULL);
    CHECKF(p != NULL, "%s", err);
    if (p)
        check_plan_json(p, "{\"version\":1,\"partitions\":["
                           "{\"topic\":\"t\",\"partition\":0,\"replicas\":[11]},"
                           "{\"topic\":\"t\",\"partition\":1,\"replicas\":[10]}]}");
    kr_plan_free(p);
    /* for a follower leaderships do not count: 10 and 11 tie on replicas, 10 has the
     * lower id and gets it although it leads more */
    kr_plan_cluster_free(c);
    c = cluster_json(
        "{\"brokers\":[{\"id\":1},{\"id\":5},{\"id\":10},{\"id\":11}],\"partitions\":["
        "{\"topic\":\"a\",\"partition\":0,\"replicas\":[10,11]},"
        "{\"topic\":\"a\",\"partition\":1,\"replicas\":[10,11]},"
        "{\"topic\":\"t\",\"partition\":0,\"replicas\":[5,1]}]}", NULL);
    p = plan_ids(c, "1", "10-11", err, sizeof err, NULL);
    CHECKF(p != NULL, "%s", err);
    if (p)
        check_plan_json(p, "{\"version\":1,\"partitions\":["
                           "{\"topic\":\"t\",\"partition\":0,\"replicas\":[5,10]}]}");
    kr_plan_free(p);
    kr_plan_cluster_free(c);
}

KR_TEST(rack_warning_when_racks_do_not_allow)
{
    /* Only rack a has targets, and the surviving replica 2 is in rack a. */
    kr_plan_cluster_t *c = cluster_json(
        "{\"brokers\":[{\"id\":1,\"rack\":\"b\"},{\"id\":2,\"rack\":\"a\"},{\"id\":3,\"rack\":\"a\"}],"
        "\"partitions\":[{\"topic\":\"orders\",\"partition\":7,\"replicas\":[2,1]}]}", NULL);
    char err[512] = "";
    kr_plan_t *p = plan_ids(c, "1", "any", err, sizeof err, NULL);
    CHECKF(p != NULL, "%s", err);
    if (p) {
        check_plan_json(p, "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":7,\"replicas\":[2,3]}]}");
        CHECK_INT(kr_plan_rack_warnings(p), 1);
        if (kr_plan_rack_warnings(p))
            CHECK_STR(kr_plan_rack_warning(p, 0),
                      "orders-7: new replica 3 shares rack a with broker 2: no eligible target "
                      "in a rack the partition does not use");
        kr_plan_move_t m;
        kr_plan_move(p, 0, &m);
        CHECK_INT(m.rack_warning, 1);
    }
    kr_plan_free(p);
    kr_plan_cluster_free(c);
}

KR_TEST(no_eligible_target_fails_whole_plan_naming_partition)
{
    const char *snap =
        "{\"brokers\":[{\"id\":1},{\"id\":2},{\"id\":3},{\"id\":1001},{\"id\":1002},"
        "{\"id\":1003,\"alive\":false}],"
        "\"partitions\":[{\"topic\":\"orders\",\"partition\":6,\"replicas\":[1,2]},"
        "{\"topic\":\"orders\",\"partition\":7,\"replicas\":[1001,1002,3]}]}";
    kr_plan_cluster_t *c = cluster_json(snap, "blue=1-1000,green=1001-2000");
    char err[512] = "";
    int rc;
    kr_plan_t *p = plan_ids(c, "3", "stack:green", err, sizeof err, &rc);
    CHECK(p == NULL);
    CHECK_INT(rc, KR_EINVAL);
    CHECK_STR(err, "orders-7: no eligible target: every alive broker in stack green is already a replica");
    p = plan_ids(c, "1", "2-2", err, sizeof err, &rc);
    CHECK(p == NULL);
    CHECK_STR(err, "orders-6: no eligible target: every alive broker with an id in 2-2 is already a replica");
    p = plan_ids(c, "1,2,3", "same-stack", err, sizeof err, &rc);
    CHECK(p == NULL);
    CHECK_STR(err, "orders-6: no eligible target: there is no alive broker in stack blue that is not being evacuated");
    p = plan_ids(c, "99", "any", err, sizeof err, &rc);
    CHECK(p == NULL);
    CHECK_INT(rc, KR_ENOTFOUND);
    CHECK_STR(err, "broker 99 is not in the cluster: it is neither registered nor a replica of any partition");
    p = plan_ids(c, "1", "stack:purple", err, sizeof err, &rc);
    CHECK_INT(rc, KR_ENOTFOUND);
    CHECK(strstr(err, "target stack purple is unknown") != NULL);
    kr_plan_cluster_free(c);

    c = cluster_json(snap, NULL);
    p = plan_ids(c, "3", "same-stack", err, sizeof err, &rc);
    CHECK(p == NULL);
    CHECK(strstr(err, "broker 3 has no stack") == err);
    kr_plan_cluster_free(c);
}

KR_TEST(dead_and_unregistered_brokers)
{
    /* 9 is in no broker list (its znode is gone): it is dead and can be evacuated; 4 is
     * registered but not alive: never a target; dead replicas that stay (9 in t-1 when
     * evacuating 1) keep their place. Evacuating 9: t-0's leader goes to 3 (2 and 3
     * hold one replica each, 3 leads none), t-1's follower to 2 (fewer replicas now). */
    kr_plan_cluster_t *c = cluster_json(
        "{\"brokers\":[{\"id\":1},{\"id\":2},{\"id\":3},{\"id\":4,\"alive\":false}],"
        "\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[9,1]},"
        "{\"topic\":\"t\",\"partition\":1,\"replicas\":[1,9]},"
        "{\"topic\":\"t\",\"partition\":2,\"replicas\":[2,3]}]}", NULL);
    CHECK_INT(kr_plan_cluster_brokers(c), 5);
    CHECK_INT(kr_plan_cluster_replica_count(c, 9), 2);
    char err[512] = "";
    kr_plan_t *p = plan_ids(c, "9", "any", err, sizeof err, NULL);
    CHECKF(p != NULL, "%s", err);
    if (p)
        check_plan_json(p, "{\"version\":1,\"partitions\":["
                           "{\"topic\":\"t\",\"partition\":0,\"replicas\":[3,1]},"
                           "{\"topic\":\"t\",\"partition\":1,\"replicas\":[1,2]}]}");
    kr_plan_free(p);
    p = plan_ids(c, "1", "any", err, sizeof err, NULL);
    CHECKF(p != NULL, "%s", err);
    if (p)
        check_plan_json(p, "{\"version\":1,\"partitions\":["
                           "{\"topic\":\"t\",\"partition\":0,\"replicas\":[9,2]},"
                           "{\"topic\":\"t\",\"partition\":1,\"replicas\":[3,9]}]}");
    kr_plan_free(p);
    /* a broker with no replicas: an empty plan */
    p = plan_ids(c, "4", "any", err, sizeof err, NULL);
    CHECKF(p != NULL, "%s", err);
    if (p) {
        CHECK_INT(kr_plan_moves(p), 0);
        check_plan_json(p, "{\"version\":1,\"partitions\":[]}");
    }
    kr_plan_free(p);
    kr_plan_cluster_free(c);
}

KR_TEST(drain_stack_and_explicit_stacks)
{
    /* Broker 7 says it is green although its id is in blue's range: it stays. */
    kr_plan_cluster_t *c = cluster_json(
        "{\"brokers\":[{\"id\":1},{\"id\":2},{\"id\":7,\"stack\":\"green\"},{\"id\":1001},{\"id\":1002}],"
        "\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,2]},"
        "{\"topic\":\"t\",\"partition\":1,\"replicas\":[2,7]}],"
        "\"stacks\":{\"blue\":\"1-1000\",\"green\":\"1001-2000\"}}", NULL);
    kr_plan_request_t req = { .drain_stack = "blue" };
    char err[512] = "";
    CHECK_INT(kr_plan_targets_parse("stack:green", &req.to, err, sizeof err), 0);
    kr_plan_t *p = NULL;
    int rc = kr_plan_new(c, &req, &p, err, sizeof err);
    CHECKF(rc == 0, "%s", err);
    /* 7 has 1 replica, 1001 and 1002 none: t-0 leader 1 -> 1001 (0 replicas, lowest id),
     * t-0 follower 2 -> 1002 (0), t-1 leader 2: 7 is already a replica, 1001 and 1002 both
     * hold 1 replica, 1002 leads none -> 1002. */
    if (p)
        check_plan_json(p, "{\"version\":1,\"partitions\":["
                           "{\"topic\":\"t\",\"partition\":0,\"replicas\":[1001,1002]},"
                           "{\"topic\":\"t\",\"partition\":1,\"replicas\":[1002,7]}]}");
    kr_plan_free(p);
    req.drain_stack = "purple";
    p = NULL;
    CHECK_INT(kr_plan_new(c, &req, &p, err, sizeof err), KR_ENOTFOUND);
    CHECK(strstr(err, "stack purple is unknown") == err);
    kr_plan_cluster_free(c);
}

/* ------------------------------------------------------------------ batches */

KR_TEST(batches_bound_moves_per_broker)
{
    /* every move involves source 1; 2..5 are targets */
    kr_plan_cluster_t *c = cluster_json(
        "{\"brokers\":[{\"id\":1},{\"id\":2},{\"id\":3},{\"id\":4},{\"id\":5}],\"partitions\":["
        "{\"topic\":\"t\",\"partition\":0,\"replicas\":[1]},{\"topic\":\"t\",\"partition\":1,\"replicas\":[1]},"
        "{\"topic\":\"t\",\"partition\":2,\"replicas\":[1]},{\"topic\":\"t\",\"partition\":3,\"replicas\":[1]},"
        "{\"topic\":\"t\",\"partition\":4,\"replicas\":[1]}]}", NULL);
    char err[512] = "";
    kr_plan_t *p = plan_ids(c, "1", "any", err, sizeof err, NULL);
    kr_plan_batches_t *b = NULL;
    CHECK_INT(kr_plan_batch(p, 0, &b, err, sizeof err), KR_EINVAL);
    CHECK_INT(kr_plan_batch(p, 2, &b, err, sizeof err), 0);
    CHECK_INT(kr_plan_batches_count(b), 3);
    CHECK_INT(kr_plan_batch_size(b, 0), 2);
    CHECK_INT(kr_plan_batch_size(b, 1), 2);
    CHECK_INT(kr_plan_batch_size(b, 2), 1);
    CHECK_INT(kr_plan_batch_move(b, 1, 0), 2);
    json_t *j = kr_plan_batch_json(p, b, 2), *w = jparse(
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":4,\"replicas\":[2]}]}");
    CHECK_JSON(j, w);
    json_decref(j);
    json_decref(w);
    kr_plan_batches_free(b);
    kr_plan_free(p);
    kr_plan_cluster_free(c);
}

/* ------------------------------------------------------------------ generated clusters */

#define G_MAXB 320
#define G_MAXRF 5

typedef struct {
    uint64_t s;
} rng_t;

static uint32_t rnd(rng_t *r, uint32_t n)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return n ? (uint32_t)(r->s % n) : 0;
}

typedef struct {
    int nb;
    int32_t id[G_MAXB];
    int rack[G_MAXB];       /* -1 none */
    int alive[G_MAXB];
    int registered[G_MAXB];
    int stack[G_MAXB];      /* 0 blue, 1 green, -1 none (then no stacks are defined) */
    int weight[G_MAXB];
    int stacks;             /* stacks defined */
    int racks;              /* 0: no broker has a rack */
    int np;
    char (*topic)[24];
    int32_t *pnum;
    int *rf;
    int32_t (*rep)[G_MAXRF];
    /* request */
    int evac[G_MAXB];
    int drain;
    kr_plan_targets_t to;
    char desc[256];
} model_t;

static int m_index(const model_t *m, int32_t id)
{
    for (int i = 0; i < m->nb; i++)
        if (m->id[i] == id)
            return i;
    return -1;
}

static const char *stack_name(int s) { return s == 0 ? "blue" : "green"; }

/* The group a source broker's replacements come from, as an id for comparison: -1 when
 * the spec gives one group. */
static int m_group_of_source(const model_t *m, int e)
{
    return m->to.kind == KR_PLAN_TO_SAME_STACK ? m->stack[e] : -1;
}

static int m_is_target(const model_t *m, int b, int group)
{
    if (!m->registered[b] || !m->alive[b] || m->evac[b])
        return 0;
    switch (m->to.kind) {
    case KR_PLAN_TO_ANY: return 1;
    case KR_PLAN_TO_RANGE: return m->id[b] >= m->to.lo && m->id[b] <= m->to.hi;
    case KR_PLAN_TO_STACK: return m->stack[b] >= 0 && strcmp(stack_name(m->stack[b]), m->to.stack) == 0;
    case KR_PLAN_TO_SAME_STACK: return m->stack[b] == group;
    }
    return 0;
}

static void model_free(model_t *m)
{
    free(m->topic);
    free(m->pnum);
    free(m->rf);
    free(m->rep);
}

/* Generates a cluster and a request. shape selects special scenarios:
 * 0 random; 1 drain blue into an empty green stack without racks. */
static void model_gen(model_t *m, rng_t *r, int shape)
{
    memset(m, 0, sizeof *m);
    m->nb = 3 + (int)rnd(r, shape == 1 ? 120 : (rnd(r, 4) == 0 ? 298 : 40));
    m->stacks = shape == 1 || rnd(r, 2);
    m->racks = shape == 1 ? 0 : (int)rnd(r, 7);
    int skew = rnd(r, 2);
    int nblue = m->stacks ? 1 + (int)rnd(r, (uint32_t)m->nb - 1) : m->nb;
    int stride = 1 + (int)rnd(r, 3), green_id = 1000;
    for (int i = 0; i < m->nb; i++) {
        int green = i >= nblue;
        if (green)
            green_id += 1 + (int)rnd(r, 2); /* gaps in the ids */
        m->id[i] = green ? green_id : 1 + i * stride;
        m->stack[i] = m->stacks ? green : -1;
        m->rack[i] = m->racks ? (int)rnd(r, (uint32_t)m->racks) : -1;
        m->registered[i] = shape == 1 || rnd(r, 25) != 0;
        m->alive[i] = shape == 1 || rnd(r, 15) != 0;
        if (!m->registered[i]) {
            m->alive[i] = 0;
            m->rack[i] = -1; /* nothing is known of a broker that is not registered */
        }
        m->weight[i] = skew ? (rnd(r, 5) == 0 ? 12 : 1 + (int)rnd(r, 3)) : 1;
        if (shape == 1 && green)
            m->weight[i] = 0; /* the new stack starts empty */
    }
    /* ids must be unique: green ids grow, blue ids grow; check anyway */
    int maxrf = m->nb < G_MAXRF ? m->nb : G_MAXRF;
    int rf_fixed = 1 + (int)rnd(r, (uint32_t)maxrf);
    int holders = shape == 1 ? nblue : m->nb;
    if (rf_fixed > holders)
        rf_fixed = holders;
    m->np = 20 + (int)rnd(r, 900);
    m->topic = calloc((size_t)m->np, sizeof *m->topic);
    m->pnum = calloc((size_t)m->np, sizeof *m->pnum);
    m->rf = calloc((size_t)m->np, sizeof *m->rf);
    m->rep = calloc((size_t)m->np, sizeof *m->rep);
    int ntopics = 1 + m->np / (1 + (int)rnd(r, 30));
    int *next_part = calloc((size_t)ntopics, sizeof *next_part);
    int totalw = 0;
    for (int i = 0; i < m->nb; i++)
        totalw += m->weight[i];
    for (int p = 0; p < m->np; p++) {
        int t = (int)rnd(r, (uint32_t)ntopics);
        snprintf(m->topic[p], sizeof m->topic[p], "%s-%d", t % 3 ? "orders" : "Events.v2", t);
        m->pnum[p] = next_part[t]++;
        m->rf[p] = rnd(r, 6) == 0 ? 1 + (int)rnd(r, (uint32_t)rf_fixed) : rf_fixed;
        for (int q = 0; q < m->rf[p];) {
            int x = (int)rnd(r, (uint32_t)totalw), b = 0;
            while (x >= m->weight[b])
                x -= m->weight[b++];
            int dup = 0;
            for (int o = 0; o < q; o++)
                dup |= m->rep[p][o] == m->id[b];
            if (!dup)
                m->rep[p][q++] = m->id[b];
        }
    }
    free(next_part);

    /* request: brokers known to the cluster are registered ones or replica holders */
    int known[G_MAXB] = { 0 };
    for (int i = 0; i < m->nb; i++)
        known[i] = m->registered[i];
    for (int p = 0; p < m->np; p++)
        for (int q = 0; q < m->rf[p]; q++)
            known[m_index(m, m->rep[p][q])] = 1;
    if (shape == 1 || (m->stacks && rnd(r, 4) == 0)) {
        m->drain = 1;
        for (int i = 0; i < m->nb; i++)
            m->evac[i] = known[i] && m->stack[i] == 0;
        m->to.kind = KR_PLAN_TO_STACK;
        snprintf(m->to.stack, sizeof m->to.stack, "green");
    } else {
        int k = 1 + (int)rnd(r, (uint32_t)(m->nb / 3 > 1 ? m->nb / 3 : 1));
        for (int j = 0; j < k; j++) {
            int b = (int)rnd(r, (uint32_t)m->nb);
            if (known[b])
                m->evac[b] = 1;
        }
        int any = 0;
        for (int i = 0; i < m->nb; i++)
            any |= m->evac[i];
        if (!any) {
            for (int i = 0; i < m->nb && !any; i++)
                if (known[i])
                    m->evac[i] = any = 1;
        }
        uint32_t kind = rnd(r, m->stacks ? 4 : 2);
        if (kind == 0)
            m->to.kind = KR_PLAN_TO_ANY;
        else if (kind == 1) {
            m->to.kind = KR_PLAN_TO_RANGE;
            int a = (int)rnd(r, (uint32_t)m->nb), b = (int)rnd(r, (uint32_t)m->nb);
            m->to.lo = m->id[a < b ? a : b];
            m->to.hi = m->id[a < b ? b : a];
        } else if (kind == 2)
            m->to.kind = KR_PLAN_TO_SAME_STACK;
        else {
            m->to.kind = KR_PLAN_TO_STACK;
            snprintf(m->to.stack, sizeof m->to.stack, "%s", rnd(r, 2) ? "green" : "blue");
        }
    }
    char spec[96];
    snprintf(m->desc, sizeof m->desc, "nb=%d racks=%d np=%d rf<=%d stacks=%d skew=%d drain=%d to=%s",
             m->nb, m->racks, m->np, rf_fixed, m->stacks, skew, m->drain,
             kr_plan_targets_format(&m->to, spec, sizeof spec));
}

/* Builds the planner's cluster; `shuffle` adds brokers and partitions in another order. */
static kr_plan_cluster_t *model_cluster(const model_t *m, rng_t *r, int shuffle)
{
    char err[512] = "";
    kr_plan_cluster_t *c = kr_plan_cluster_new();
    static const char *racks[] = { "az1", "az2", "az3", "az4", "az5", "az6" };
    if (m->stacks) {
        kr_plan_cluster_add_stack(c, "blue", 1, 1000, err, sizeof err);
        kr_plan_cluster_add_stack(c, "green", 1001, 2000, err, sizeof err);
    }
    int *order = malloc(sizeof(int) * (size_t)(m->np > m->nb ? m->np : m->nb));
    for (int i = 0; i < m->nb; i++)
        order[i] = i;
    for (int i = m->nb - 1; shuffle && i > 0; i--) {
        int j = (int)rnd(r, (uint32_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < m->nb; k++) {
        int i = order[k];
        if (!m->registered[i])
            continue;
        kr_plan_broker_t b = { .id = m->id[i], .alive = m->alive[i],
                               .rack = m->rack[i] >= 0 ? racks[m->rack[i]] : NULL };
        CHECKF(kr_plan_cluster_add_broker(c, &b, err, sizeof err) == 0, "%s", err);
    }
    for (int i = 0; i < m->np; i++)
        order[i] = i;
    for (int i = m->np - 1; shuffle && i > 0; i--) {
        int j = (int)rnd(r, (uint32_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < m->np; k++) {
        int p = order[k];
        CHECKF(kr_plan_cluster_add_partition(c, m->topic[p], m->pnum[p], m->rep[p], (size_t)m->rf[p],
                                             err, sizeof err) == 0, "%s", err);
    }
    free(order);
    CHECKF(kr_plan_cluster_seal(c, err, sizeof err) == 0, "seal: %s", err);
    return c;
}

static int m_cmp_part(const model_t *m, int a, int b)
{
    int s = strcmp(m->topic[a], m->topic[b]);
    return s ? s : (m->pnum[a] > m->pnum[b]) - (m->pnum[a] < m->pnum[b]);
}

typedef struct {
    int violations;
    char first[1024];
} viol_t;

#define VIOL(v, ...)                                                       \
    do {                                                                   \
        if (!(v)->violations++)                                            \
            snprintf((v)->first, sizeof (v)->first, __VA_ARGS__);          \
    } while (0)

/* The planner must fail exactly when, for some partition, a group has fewer free targets
 * than replacements to make, and name the first such partition in plan order. */
static int m_first_impossible(const model_t *m)
{
    int first = -1;
    for (int p = 0; p < m->np; p++) {
        int need[3] = { 0 }, groups[3], ng = 0;
        for (int q = 0; q < m->rf[p]; q++) {
            int e = m_index(m, m->rep[p][q]);
            if (!m->evac[e])
                continue;
            int g = m_group_of_source(m, e), gi = 0;
            while (gi < ng && groups[gi] != g)
                gi++;
            if (gi == ng)
                groups[ng++] = g;
            need[gi]++;
        }
        for (int gi = 0; gi < ng; gi++) {
            int free_targets = 0;
            for (int b = 0; b < m->nb; b++) {
                if (!m_is_target(m, b, groups[gi]))
                    continue;
                int in = 0;
                for (int q = 0; q < m->rf[p]; q++)
                    in |= m->rep[p][q] == m->id[b];
                free_targets += !in;
            }
            if (free_targets < need[gi] && (first < 0 || m_cmp_part(m, p, first) < 0))
                first = p;
        }
    }
    return first;
}

static int m_rack_of_id(const model_t *m, int32_t id) { return m->rack[m_index(m, id)]; }

/* Checks every guarantee of a successful plan against the model. */
static void check_plan(const model_t *m, const kr_plan_t *p, viol_t *v)
{
    int before[G_MAXB] = { 0 }, after[G_MAXB] = { 0 }, received[G_MAXB] = { 0 };
    int *moved_of = malloc(sizeof(int) * (size_t)m->np);
    for (int i = 0; i < m->np; i++) {
        moved_of[i] = -1;
        for (int q = 0; q < m->rf[i]; q++)
            before[m_index(m, m->rep[i][q])]++;
    }
    memcpy(after, before, sizeof after);

    /* moves: exactly the affected partitions, sorted, same RF, only evacuated slots */
    size_t n = kr_plan_moves(p);
    kr_plan_move_t prev = { 0 };
    for (size_t i = 0; i < n; i++) {
        kr_plan_move_t mv;
        kr_plan_move(p, i, &mv);
        int pi = -1;
        for (int k = 0; k < m->np && pi < 0; k++)
            if (m->pnum[k] == mv.partition && strcmp(m->topic[k], mv.topic) == 0)
                pi = k;
        if (pi < 0) {
            VIOL(v, "move %s-%d is not a partition", mv.topic, mv.partition);
            continue;
        }
        moved_of[pi] = (int)i;
        if (i && (strcmp(prev.topic, mv.topic) > 0 ||
                  (strcmp(prev.topic, mv.topic) == 0 && prev.partition >= mv.partition)))
            VIOL(v, "moves not sorted at %s-%d", mv.topic, mv.partition);
        prev = mv;
        if ((int)mv.rf != m->rf[pi]) {
            VIOL(v, "%s-%d: RF changed", mv.topic, mv.partition);
            continue;
        }
        for (int q = 0; q < m->rf[pi]; q++) {
            if (mv.from[q] != m->rep[pi][q])
                VIOL(v, "%s-%d: from[%d] is not the current replica", mv.topic, mv.partition, q);
            int e = m_index(m, m->rep[pi][q]), t = m_index(m, mv.to[q]);
            if (t < 0) {
                VIOL(v, "%s-%d: unknown broker %d", mv.topic, mv.partition, mv.to[q]);
                continue;
            }
            for (int o = 0; o < q; o++)
                if (mv.to[o] == mv.to[q])
                    VIOL(v, "%s-%d: broker %d twice", mv.topic, mv.partition, mv.to[q]);
            if (!m->evac[e]) {
                if (mv.to[q] != m->rep[pi][q])
                    VIOL(v, "%s-%d: kept replica %d moved", mv.topic, mv.partition, m->rep[pi][q]);
                continue;
            }
            if (m->evac[t])
                VIOL(v, "%s-%d: evacuated broker %d remains", mv.topic, mv.partition, mv.to[q]);
            if (!m_is_target(m, t, m_group_of_source(m, e)))
                VIOL(v, "%s-%d: %d is not an eligible target for %d", mv.topic, mv.partition,
                     mv.to[q], m->id[e]);
            after[e]--;
            after[t]++;
            received[t]++;
        }
    }
    for (int i = 0; i < m->np; i++) {
        int affected = 0;
        for (int q = 0; q < m->rf[i]; q++)
            affected |= m->evac[m_index(m, m->rep[i][q])];
        if (affected != (moved_of[i] >= 0))
            VIOL(v, "%s-%d: affected=%d but moved=%d", m->topic[i], m->pnum[i], affected,
                 moved_of[i] >= 0);
    }

    /* racks: kept whenever the group's racks allow; a warning exactly when not kept */
    size_t nwarn = kr_plan_rack_warnings(p);
    for (int i = 0; i < m->np; i++) {
        if (moved_of[i] < 0)
            continue;
        kr_plan_move_t mv;
        kr_plan_move(p, (size_t)moved_of[i], &mv);
        int k = 0, group = -2, one_group = 1, conflict = 0;
        for (int q = 0; q < m->rf[i]; q++) {
            int e = m_index(m, m->rep[i][q]);
            if (!m->evac[e])
                continue;
            k++;
            int g = m_group_of_source(m, e);
            if (group != -2 && g != group)
                one_group = 0;
            group = g;
            int rk = m_rack_of_id(m, mv.to[q]);
            for (int o = 0; o < m->rf[i] && rk >= 0; o++)
                if (o != q && m_rack_of_id(m, mv.to[o]) == rk)
                    conflict = 1;
        }
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s-%d: ", m->topic[i], m->pnum[i]);
        int warned = 0;
        for (size_t w = 0; w < nwarn; w++)
            warned |= strncmp(kr_plan_rack_warning(p, w), prefix, strlen(prefix)) == 0;
        if (warned != conflict || mv.rack_warning != conflict)
            VIOL(v, "%s: conflict=%d but warned=%d flag=%d", prefix, conflict, warned, mv.rack_warning);
        if (!m->racks || !one_group || !conflict)
            continue;
        /* racks allow it when the group has targets in at least k racks that no kept
         * replica uses */
        int fresh = 0;
        for (int rk = 0; rk < m->racks; rk++) {
            int used = 0, has = 0;
            for (int q = 0; q < m->rf[i]; q++) {
                int e = m_index(m, m->rep[i][q]);
                if (!m->evac[e] && m->rack[e] == rk)
                    used = 1;
            }
            for (int b = 0; b < m->nb && !has; b++)
                has = m_is_target(m, b, group) && m->rack[b] == rk;
            fresh += has && !used;
        }
        if (fresh >= k)
            VIOL(v, "%srack conflict although %d unused racks have targets for %d replacements",
                 prefix, fresh, k);
    }

    /* balance: a target that received replicas ends at most one above the least-loaded
     * target of its group, unless none of its new replicas could legally move to a target
     * two or more below it (that is what "the starting counts allow" means) */
    int groups[2] = { -1, -1 }, ng = 1;
    if (m->to.kind == KR_PLAN_TO_SAME_STACK) {
        groups[0] = 0;
        groups[1] = 1;
        ng = 2;
    }
    for (int gi = 0; gi < ng; gi++) {
        int g = groups[gi], mn = -1;
        for (int b = 0; b < m->nb; b++)
            if (m_is_target(m, b, g) && (mn < 0 || after[b] < mn))
                mn = after[b];
        for (int t = 0; t < m->nb; t++) {
            if (!m_is_target(m, t, g) || !received[t] || after[t] < mn + 2)
                continue;
            for (size_t i = 0; i < n; i++) {
                kr_plan_move_t mv;
                kr_plan_move(p, i, &mv);
                for (size_t q = 0; q < mv.rf; q++) {
                    if (mv.to[q] != m->id[t] || mv.from[q] == mv.to[q])
                        continue;
                    int slot_conflict = 0, rk = m->rack[t];
                    for (size_t o = 0; o < mv.rf && rk >= 0; o++)
                        if (o != q && m_rack_of_id(m, mv.to[o]) == rk)
                            slot_conflict = 1;
                    for (int u = 0; u < m->nb; u++) {
                        if (!m_is_target(m, u, g) || after[u] > after[t] - 2)
                            continue;
                        int legal = 1;
                        for (size_t o = 0; o < mv.rf; o++)
                            if (mv.to[o] == m->id[u] ||
                                (!slot_conflict && o != q && m->rack[u] >= 0 &&
                                 m_rack_of_id(m, mv.to[o]) == m->rack[u]))
                                legal = 0;
                        if (legal)
                            VIOL(v, "balance: target %d ends at %d (min %d); its replica of "
                                 "%s-%d could go to %d (%d)", m->id[t], after[t], mn, mv.topic,
                                 mv.partition, m->id[u], after[u]);
                    }
                }
            }
        }
    }

    /* summary agrees with the moves */
    json_t *sum = kr_plan_summary_json(p);
    int moved = 0;
    for (int b = 0; b < m->nb; b++)
        moved += received[b];
    if (json_integer_value(json_object_get(sum, "replicas_moved")) != moved ||
        json_integer_value(json_object_get(sum, "partitions_moved")) != (json_int_t)n)
        VIOL(v, "summary counts disagree");
    json_t *tr = json_object_get(sum, "target_replicas");
    for (int b = 0; b < m->nb; b++) {
        char key[16];
        snprintf(key, sizeof key, "%d", m->id[b]);
        json_t *t = json_object_get(tr, key);
        int is_t = m_is_target(m, b, -1);
        if (m->to.kind == KR_PLAN_TO_SAME_STACK) {
            int stack_evacuated = 0;
            for (int e = 0; e < m->nb; e++)
                stack_evacuated |= m->evac[e] && m->stack[e] == m->stack[b];
            is_t = stack_evacuated && m_is_target(m, b, m->stack[b]);
        }
        if ((t != NULL) != is_t)
            VIOL(v, "summary: broker %d listed=%d target=%d", m->id[b], t != NULL, is_t);
        if (t && (json_integer_value(json_object_get(t, "before")) != before[b] ||
                  json_integer_value(json_object_get(t, "after")) != after[b]))
            VIOL(v, "summary: broker %d before/after wrong", m->id[b]);
    }
    json_decref(sum);

    /* batches: every move once, at most max moves per broker per batch */
    int maxes[] = { 1, 3, 5 };
    for (size_t mi = 0; mi < 3; mi++) {
        kr_plan_batches_t *b = NULL;
        char err[256];
        if (kr_plan_batch(p, maxes[mi], &b, err, sizeof err) != 0) {
            VIOL(v, "batch: %s", err);
            continue;
        }
        int *seen = calloc(n + 1, sizeof *seen);
        int busiest = 0, load[G_MAXB] = { 0 };
        for (size_t i = 0; i < n; i++) {
            kr_plan_move_t mv;
            kr_plan_move(p, i, &mv);
            for (size_t q = 0; q < mv.rf; q++)
                if (mv.from[q] != mv.to[q]) {
                    load[m_index(m, mv.from[q])]++;
                    load[m_index(m, mv.to[q])]++;
                }
        }
        for (int x = 0; x < m->nb; x++)
            busiest = load[x] > busiest ? load[x] : busiest;
        if ((int)kr_plan_batches_count(b) < (busiest + maxes[mi] - 1) / maxes[mi])
            VIOL(v, "batch: fewer batches than the busiest broker needs");
        for (size_t j = 0; j < kr_plan_batches_count(b); j++) {
            int per[G_MAXB] = { 0 };
            if (!kr_plan_batch_size(b, j))
                VIOL(v, "batch %zu is empty", j);
            for (size_t i = 0; i < kr_plan_batch_size(b, j); i++) {
                size_t mvi = kr_plan_batch_move(b, j, i);
                if (i && mvi <= kr_plan_batch_move(b, j, i - 1))
                    VIOL(v, "batch %zu not ascending", j);
                seen[mvi]++;
                kr_plan_move_t mv;
                kr_plan_move(p, mvi, &mv);
                int inv[2 * G_MAXRF], ni = 0;
                for (size_t q = 0; q < mv.rf; q++)
                    if (mv.from[q] != mv.to[q]) {
                        int xs[2] = { m_index(m, mv.from[q]), m_index(m, mv.to[q]) };
                        for (int z = 0; z < 2; z++) {
                            int dup = 0;
                            for (int y = 0; y < ni; y++)
                                dup |= inv[y] == xs[z];
                            if (!dup)
                                inv[ni++] = xs[z];
                        }
                    }
                for (int y = 0; y < ni; y++)
                    if (++per[inv[y]] > maxes[mi])
                        VIOL(v, "batch %zu: broker %d in %d moves (max %d)", j, m->id[inv[y]],
                             per[inv[y]], maxes[mi]);
            }
        }
        for (size_t i = 0; i < n; i++)
            if (seen[i] != 1)
                VIOL(v, "batch: move %zu in %d batches", i, seen[i]);
        free(seen);
        kr_plan_batches_free(b);
    }
    free(moved_of);
}

static int run_generated(int shape, int cases, uint64_t seed, int *planned, int *failed_ok)
{
    rng_t r = { seed };
    int bad = 0;
    for (int i = 0; i < cases; i++) {
        model_t m;
        model_gen(&m, &r, shape);
        kr_plan_cluster_t *c = model_cluster(&m, &r, 0);
        kr_plan_request_t req = { .to = m.to, .drain_stack = m.drain ? "blue" : NULL };
        int32_t ids[G_MAXB];
        for (int b = 0; b < m.nb && !m.drain; b++)
            if (m.evac[b])
                ids[req.n_evacuate++] = m.id[b];
        req.evacuate = ids;
        char err[512] = "";
        kr_plan_t *p = NULL;
        int rc = kr_plan_new(c, &req, &p, err, sizeof err);
        int impossible = m_first_impossible(&m);
        viol_t v = { 0 };
        if (impossible >= 0) {
            char want[128];
            snprintf(want, sizeof want, "%s-%d: no eligible target: ", m.topic[impossible],
                     m.pnum[impossible]);
            if (rc != KR_EINVAL || p || strncmp(err, want, strlen(want)) != 0)
                VIOL(&v, "expected failure \"%s...\", got rc=%d: %s", want, rc, err);
            else
                ++*failed_ok;
        } else if (rc != 0 || !p) {
            VIOL(&v, "unexpected failure rc=%d: %s", rc, err);
        } else {
            ++*planned;
            check_plan(&m, p, &v);
            /* the same input, added in another order, gives the same plan */
            kr_plan_cluster_t *c2 = model_cluster(&m, &r, 1);
            kr_plan_t *p2 = NULL;
            if (kr_plan_new(c2, &req, &p2, err, sizeof err) != 0)
                VIOL(&v, "second plan failed: %s", err);
            else {
                json_t *a = kr_plan_reassignment_json(p), *b = kr_plan_reassignment_json(p2);
                if (!json_equal(a, b))
                    VIOL(&v, "plan differs when the input order differs");
                json_decref(a);
                json_decref(b);
            }
            kr_plan_free(p2);
            kr_plan_cluster_free(c2);
            if (shape == 1) {
                /* into an empty stack without racks: replica counts within one */
                int mn = -1, mx = -1;
                json_t *sum = kr_plan_summary_json(p);
                const char *key;
                json_t *t;
                json_object_foreach(json_object_get(sum, "target_replicas"), key, t) {
                    int a = (int)json_integer_value(json_object_get(t, "after"));
                    mn = mn < 0 || a < mn ? a : mn;
                    mx = a > mx ? a : mx;
                }
                if (mx - mn > 1)
                    VIOL(&v, "empty green: target counts from %d to %d", mn, mx);
                json_decref(sum);
            }
        }
        if (v.violations) {
            bad++;
            CHECKF(0, "case %d (seed %llu) %s: %d violations, first: %s", i,
                   (unsigned long long)seed, m.desc, v.violations, v.first);
        }
        kr_plan_free(p);
        kr_plan_cluster_free(c);
        model_free(&m);
    }
    return bad;
}

KR_TEST(property_generated_clusters)
{
    int planned = 0, failed_ok = 0;
    int bad = run_generated(0, 400, 0x9e3779b97f4a7c15ull, &planned, &failed_ok);
    printf("    generated: %d planned and checked, %d correctly refused, %d bad\n", planned,
           failed_ok, bad);
    CHECKF(planned >= 200, "too few plannable clusters (%d): the generator is off", planned);
    CHECKF(failed_ok >= 5, "too few refusals (%d): the failure path is not exercised", failed_ok);
}

KR_TEST(property_drain_into_empty_stack_is_within_one)
{
    int planned = 0, failed_ok = 0;
    run_generated(1, 60, 0x1234567ull, &planned, &failed_ok);
    CHECKF(planned >= 40, "too few plannable drains (%d)", planned);
}
