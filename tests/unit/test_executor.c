/* tests/unit/test_executor.c: the evacuation bookkeeping (kr/executor.h): state built from
 * a real plan, batch states and counters, per-batch reassignment JSON, throttle lists as
 * kafka-reassign-partitions.sh computes them, config merge/removal, and the checks made
 * against ZooKeeper's answers. */
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/executor.h"
#include "kr/planner.h"
#include "kr_test.h"

/* 6 brokers in 3 racks; broker 3 is evacuated onto the others. */
static const char *SNAP =
    "{\"brokers\":[{\"id\":1,\"rack\":\"a\"},{\"id\":2,\"rack\":\"b\"},{\"id\":3,\"rack\":\"c\"},"
    "{\"id\":4,\"rack\":\"a\"},{\"id\":5,\"rack\":\"b\"},{\"id\":6,\"rack\":\"c\"}],"
    "\"partitions\":["
    "{\"topic\":\"orders\",\"partition\":0,\"replicas\":[3,1,2]},"
    "{\"topic\":\"orders\",\"partition\":1,\"replicas\":[1,3,2]},"
    "{\"topic\":\"orders\",\"partition\":2,\"replicas\":[1,2,4]},"
    "{\"topic\":\"pay\",\"partition\":0,\"replicas\":[2,3]},"
    "{\"topic\":\"pay\",\"partition\":1,\"replicas\":[3,4]},"
    "{\"topic\":\"pay\",\"partition\":2,\"replicas\":[5,3]}]}";

typedef struct {
    kr_plan_cluster_t *c;
    kr_plan_t *p;
    kr_plan_batches_t *b;
    json_t *st;
} fixture_t;

static int setup(fixture_t *f, int max_moves)
{
    char err[256];
    json_t *snap = json_loads(SNAP, 0, NULL);
    int32_t ev[] = { 3 };
    kr_plan_request_t req = { ev, 1, NULL, { KR_PLAN_TO_ANY, "", 0, 0 } };
    memset(f, 0, sizeof *f);
    int rc = kr_plan_cluster_from_json(snap, NULL, 0, &f->c, err, sizeof err);
    json_decref(snap);
    if (rc || kr_plan_new(f->c, &req, &f->p, err, sizeof err) ||
        kr_plan_batch(f->p, max_moves, &f->b, err, sizeof err))
        return -1;
    json_t *request = json_pack("{s:[i],s:s}", "brokers", 3, "to", "any");
    f->st = kr_exec_state_new("orders-prod", "evacuate", request, f->p, f->b);
    json_decref(request);
    return f->st ? 0 : -1;
}

static void teardown(fixture_t *f)
{
    json_decref(f->st);
    kr_plan_batches_free(f->b);
    kr_plan_free(f->p);
    kr_plan_cluster_free(f->c);
}

KR_TEST(state_from_plan)
{
    fixture_t f;
    char err[256];
    CHECK_INT(setup(&f, 2), 0);
    CHECK_INT(kr_exec_state_check(f.st, err, sizeof err), KR_OK);
    /* the plan moves the 5 partitions that have a replica on 3, no other */
    CHECK_INT(json_integer_value(json_object_get(f.st, "partitions_total")), 5);
    CHECK_INT(json_array_size(json_object_get(json_object_get(f.st, "reassignment"), "partitions")), 5);
    CHECK_STR(json_string_value(json_object_get(f.st, "cluster")), "orders-prod");
    /* broker 3 is in every move: 2 moves per batch -> 3 batches */
    CHECK_INT(kr_exec_batches(f.st), 3);
    CHECK_INT(json_integer_value(json_object_get(f.st, "batches_total")), 3);
    /* original replicas are kept next to the targets, same positions */
    json_t *orig = json_object_get(f.st, "original");
    json_t *p0 = json_array_get(json_object_get(json_object_get(f.st, "reassignment"), "partitions"), 0);
    CHECK_STR(json_string_value(json_object_get(p0, "topic")), "orders");
    CHECK_INT(json_integer_value(json_array_get(json_array_get(orig, 0), 0)), 3);
    CHECK(json_integer_value(json_array_get(json_object_get(p0, "replicas"), 0)) != 3);
    CHECK_INT(json_integer_value(json_array_get(json_object_get(p0, "replicas"), 1)), 1);
    for (size_t b = 0; b < kr_exec_batches(f.st); b++)
        CHECK_STR(kr_exec_batch_state(f.st, b), KR_EXEC_PENDING);
    CHECK(kr_exec_batch_state(f.st, 3) == NULL);
    teardown(&f);
}

KR_TEST(batch_states_and_counters)
{
    fixture_t f;
    CHECK_INT(setup(&f, 2), 0);
    CHECK_INT(kr_exec_next_batch(f.st), 0);
    CHECK_INT(kr_exec_batch_set_state(f.st, 0, KR_EXEC_WRITING), KR_OK);
    CHECK_INT(kr_exec_batch_set_state(f.st, 0, "flying"), KR_EINVAL);
    CHECK_INT(kr_exec_batch_set_state(f.st, 7, KR_EXEC_DONE), KR_EINVAL);
    CHECK_INT(json_integer_value(json_object_get(f.st, "batches_done")), 0);
    CHECK_INT(kr_exec_batch_set_state(f.st, 0, KR_EXEC_DONE), KR_OK);
    CHECK_INT(json_integer_value(json_object_get(f.st, "batches_done")), 1);
    CHECK_INT(json_integer_value(json_object_get(f.st, "partitions_moved")), 2);
    CHECK_INT(json_integer_value(json_object_get(f.st, "current")), 1);
    CHECK_INT(kr_exec_next_batch(f.st), 1);
    /* a mismatched partition is not counted as moved */
    json_t *b1 = json_array_get(json_object_get(f.st, "batches"), 1);
    json_array_append_new(json_object_get(b1, "mismatched"), json_string("pay-0"));
    kr_exec_batch_set_state(f.st, 1, KR_EXEC_DONE);
    kr_exec_batch_set_state(f.st, 2, KR_EXEC_DONE);
    CHECK_INT(json_integer_value(json_object_get(f.st, "partitions_moved")), 4);
    CHECK_INT(json_integer_value(json_object_get(f.st, "batches_done")), 3);
    CHECK(json_is_null(json_object_get(f.st, "current")));
    CHECK_INT(kr_exec_next_batch(f.st), 3);
    teardown(&f);
}

KR_TEST(batch_reassignment_keeps_max_moves_per_broker)
{
    fixture_t f;
    CHECK_INT(setup(&f, 2), 0);
    size_t total = 0;
    for (size_t b = 0; b < kr_exec_batches(f.st); b++) {
        json_t *r = kr_exec_batch_reassignment(f.st, b);
        json_t *parts = json_object_get(r, "partitions"), *p;
        size_t i;
        int count[8] = { 0 };
        CHECK_INT(json_integer_value(json_object_get(r, "version")), 1);
        total += json_array_size(parts);
        json_array_foreach(parts, i, p) {
            /* a broker takes part in a move when it loses or gains a replica: here 3 always
             * loses one; count per broker over (original ∪ target) minus unchanged */
            json_t *t = json_object_get(p, "replicas");
            for (size_t k = 0; k < json_array_size(t); k++)
                if (json_integer_value(json_array_get(t, k)) == 3)
                    CHECKF(0, "broker 3 still a target in batch %zu", b);
            count[3]++;
        }
        CHECKF(count[3] <= 2, "batch %zu moves %d partitions off broker 3", b, count[3]);
        json_decref(r);
    }
    CHECK_INT(total, 5);
    CHECK(kr_exec_batch_reassignment(f.st, 9) == NULL);
    teardown(&f);
}

/* Throttles on a hand-made state whose moves are known exactly. */
static json_t *hand_state(void)
{
    return json_loads(
        "{\"version\":1,\"cluster\":\"c\",\"kind\":\"evacuate\","
        "\"reassignment\":{\"version\":1,\"partitions\":["
        "{\"topic\":\"t\",\"partition\":0,\"replicas\":[4,1,2]},"
        "{\"topic\":\"t\",\"partition\":5,\"replicas\":[1,5,2]},"
        "{\"topic\":\"u\",\"partition\":1,\"replicas\":[6,2]}]},"
        "\"original\":[[3,1,2],[1,3,2],[3,2]],"
        "\"batches\":[{\"partitions\":[0,1,2],\"state\":\"pending\",\"mismatched\":[]},"
        "{\"partitions\":[1],\"state\":\"pending\",\"mismatched\":[]}]}",
        0, NULL);
}

KR_TEST(throttle_lists_like_the_kafka_tool)
{
    json_t *st = hand_state();
    char err[256];
    CHECK_INT(kr_exec_state_check(st, err, sizeof err), KR_OK);
    json_t *thr = kr_exec_batch_throttles(st, 0, 52428800);
    json_t *want = json_loads(
        "{\"brokers/1\":{\"leader.replication.throttled.rate\":\"52428800\","
        "\"follower.replication.throttled.rate\":\"52428800\"},"
        "\"brokers/2\":{\"leader.replication.throttled.rate\":\"52428800\","
        "\"follower.replication.throttled.rate\":\"52428800\"},"
        "\"brokers/3\":{\"leader.replication.throttled.rate\":\"52428800\","
        "\"follower.replication.throttled.rate\":\"52428800\"},"
        "\"brokers/4\":{\"leader.replication.throttled.rate\":\"52428800\","
        "\"follower.replication.throttled.rate\":\"52428800\"},"
        "\"brokers/5\":{\"leader.replication.throttled.rate\":\"52428800\","
        "\"follower.replication.throttled.rate\":\"52428800\"},"
        "\"brokers/6\":{\"leader.replication.throttled.rate\":\"52428800\","
        "\"follower.replication.throttled.rate\":\"52428800\"},"
        "\"topics/t\":{\"leader.replication.throttled.replicas\":\"0:1,0:2,0:3,5:1,5:2,5:3\","
        "\"follower.replication.throttled.replicas\":\"0:4,5:5\"},"
        "\"topics/u\":{\"leader.replication.throttled.replicas\":\"1:2,1:3\","
        "\"follower.replication.throttled.replicas\":\"1:6\"}}",
        0, NULL);
    CHECK_JSON(thr, want);
    json_decref(thr);
    json_decref(want);
    /* batch 1 alone: only t-5 */
    thr = kr_exec_batch_throttles(st, 1, 1000);
    CHECK_INT(json_object_size(thr), 5); /* brokers 1, 2, 3, 5 + topics/t */
    CHECK(json_object_get(thr, "brokers/4") == NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(thr, "topics/t"),
                                                "follower.replication.throttled.replicas")), "5:5");
    json_decref(thr);
    CHECK(kr_exec_batch_throttles(st, 0, 0) == NULL);
    CHECK(kr_exec_batch_throttles(st, 2, 10) == NULL);
    json_decref(st);
}

KR_TEST(config_apply_and_remove_round_trip)
{
    json_t *cfg = json_loads("{\"retention.ms\":\"3600000\","
                             "\"leader.replication.throttled.replicas\":\"0:9,0:1\","
                             "\"follower.replication.throttled.rate\":\"777\"}", 0, NULL);
    json_t *orig = json_deep_copy(cfg);
    json_t *want = json_loads("{\"leader.replication.throttled.replicas\":\"0:1,0:2\","
                              "\"follower.replication.throttled.replicas\":\"0:4\","
                              "\"leader.replication.throttled.rate\":\"100\","
                              "\"follower.replication.throttled.rate\":\"100\"}", 0, NULL);
    json_t *added = NULL;
    CHECK_INT(kr_exec_config_apply(cfg, want, &added), 1);
    /* other keys kept, the operator's rate kept, lists merged */
    CHECK_STR(json_string_value(json_object_get(cfg, "retention.ms")), "3600000");
    CHECK_STR(json_string_value(json_object_get(cfg, "follower.replication.throttled.rate")), "777");
    CHECK_STR(json_string_value(json_object_get(cfg, "leader.replication.throttled.rate")), "100");
    CHECK_STR(json_string_value(json_object_get(cfg, "leader.replication.throttled.replicas")),
              "0:9,0:1,0:2");
    CHECK_STR(json_string_value(json_object_get(cfg, "follower.replication.throttled.replicas")), "0:4");
    json_t *want_added = json_loads("{\"leader.replication.throttled.replicas\":\"0:2\","
                                    "\"follower.replication.throttled.replicas\":\"0:4\","
                                    "\"leader.replication.throttled.rate\":\"100\"}", 0, NULL);
    CHECK_JSON(added, want_added);
    /* applying again adds nothing */
    json_t *again = NULL;
    CHECK_INT(kr_exec_config_apply(cfg, want, &again), 0);
    CHECK_INT(json_object_size(again), 0);
    json_decref(again);
    /* removal restores exactly the original */
    CHECK_INT(kr_exec_config_remove(cfg, added), 1);
    CHECK_JSON(cfg, orig);
    CHECK_INT(kr_exec_config_remove(cfg, added), 0);
    json_decref(added);
    json_decref(want_added);
    json_decref(want);
    json_decref(orig);
    json_decref(cfg);
}

KR_TEST(config_star_and_changed_rate)
{
    json_t *cfg = json_loads("{\"leader.replication.throttled.replicas\":\"*\"}", 0, NULL);
    json_t *want = json_loads("{\"leader.replication.throttled.replicas\":\"0:1\"}", 0, NULL);
    json_t *added = NULL;
    CHECK_INT(kr_exec_config_apply(cfg, want, &added), 0);
    CHECK_INT(json_object_size(added), 0);
    CHECK_STR(json_string_value(json_object_get(cfg, "leader.replication.throttled.replicas")), "*");
    json_decref(added);
    json_decref(want);
    json_decref(cfg);
    /* a rate an operator changed after we set it is not ours to remove */
    cfg = json_loads("{\"leader.replication.throttled.rate\":\"5\"}", 0, NULL);
    added = json_loads("{\"leader.replication.throttled.rate\":\"100\"}", 0, NULL);
    CHECK_INT(kr_exec_config_remove(cfg, added), 0);
    CHECK_STR(json_string_value(json_object_get(cfg, "leader.replication.throttled.rate")), "5");
    CHECK_INT(kr_exec_config_apply(NULL, added, &want), KR_EINVAL);
    json_decref(added);
    json_decref(cfg);
}

KR_TEST(reassignment_same_ignores_order_only)
{
    json_t *r = json_loads("{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[4,1,2]},"
                           "{\"topic\":\"u\",\"partition\":1,\"replicas\":[6,2]}]}", 0, NULL);
    const char *same = "{\"partitions\":[{\"topic\":\"u\",\"partition\":1,\"replicas\":[6,2]},"
                       "{\"partition\":0,\"topic\":\"t\",\"replicas\":[4,1,2]}],\"version\":1}";
    const char *order = "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,4,2]},"
                        "{\"topic\":\"u\",\"partition\":1,\"replicas\":[6,2]}]}";
    const char *fewer = "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[4,1,2]}]}";
    const char *other = "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[4,1,2]},"
                        "{\"topic\":\"u\",\"partition\":2,\"replicas\":[6,2]}]}";
    CHECK_INT(kr_exec_reassignment_same(same, strlen(same), r), 1);
    CHECK_INT(kr_exec_reassignment_same(order, strlen(order), r), 0);
    CHECK_INT(kr_exec_reassignment_same(fewer, strlen(fewer), r), 0);
    CHECK_INT(kr_exec_reassignment_same(other, strlen(other), r), 0);
    CHECK_INT(kr_exec_reassignment_same("{not json", 9, r), 0);
    CHECK_INT(kr_exec_reassignment_same(NULL, 0, r), 0);
    json_decref(r);
}

KR_TEST(partition_done_needs_replicas_and_isr)
{
    json_t *target = json_loads("[4,1,2]", 0, NULL);
    int reps[] = { 4, 1, 2 }, isr[] = { 1, 2, 4 }, isr_short[] = { 1, 2 };
    int during[] = { 4, 1, 2, 3 }, order[] = { 1, 4, 2 };
    CHECK_INT(kr_exec_partition_done(reps, 3, isr, 3, target), 1);
    CHECK_INT(kr_exec_partition_done(reps, 3, isr_short, 2, target), 0);
    CHECK_INT(kr_exec_partition_done(during, 4, isr, 3, target), 0);
    CHECK_INT(kr_exec_partition_done(order, 3, isr, 3, target), 0);
    json_decref(target);
}

KR_TEST(state_check_refuses_inconsistent_states)
{
    char err[256];
    json_t *st = hand_state();
    json_t *bad = json_deep_copy(st);
    json_array_append_new(json_object_get(json_array_get(json_object_get(bad, "batches"), 0), "partitions"),
                          json_integer(7));
    CHECK_INT(kr_exec_state_check(bad, err, sizeof err), KR_EINVAL);
    CHECKF(strstr(err, "batch 0") != NULL, "%s", err);
    json_decref(bad);
    bad = json_deep_copy(st);
    json_array_remove(json_object_get(bad, "original"), 0);
    CHECK_INT(kr_exec_state_check(bad, err, sizeof err), KR_EINVAL);
    json_decref(bad);
    bad = json_deep_copy(st);
    json_object_set_new(json_array_get(json_object_get(bad, "batches"), 1), "state", json_string("gone"));
    CHECK_INT(kr_exec_state_check(bad, err, sizeof err), KR_EINVAL);
    json_decref(bad);
    CHECK_INT(kr_exec_state_check(json_null(), err, sizeof err), KR_EINVAL);
    json_decref(st);
}
