/* tests/unit/test_cluster_model.c: the pure cluster model: the broker diff (departures,
 * arrivals, bounces caught by cversion and czxid), topics and partition states, the
 * under-replicated/offline counts and the exact broker events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/cluster_model.h"
#include "kr/err.h"
#include "kr_test.h"

typedef struct {
    char log[1024];
} changes_t;

static void record(kr_model_change_t kind, const kr_broker_info_t *b, void *arg)
{
    changes_t *c = arg;
    snprintf(c->log + strlen(c->log), sizeof c->log - strlen(c->log), "%s%s %d@%lld %s %s",
             c->log[0] ? "; " : "", kind == KR_MODEL_LEFT ? "left" : "joined", b->id,
             (long long)b->epoch, b->host ? b->host : "-", b->alive ? "alive" : "dead");
}

static const char *ids_str(const int *v, size_t n)
{
    static char buf[256];
    buf[0] = 0;
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%d", i ? "," : "", v[i]);
    return buf;
}

static void reg(kr_model_t *m, int id, int64_t epoch, const char *host, const char *rack,
                changes_t *ch)
{
    kr_zk_broker_t b;
    char js[512], err[256];
    snprintf(js, sizeof js,
             "{\"version\":5,\"host\":\"%s\",\"port\":9092,\"jmx_port\":-1,\"timestamp\":\"1\","
             "\"endpoints\":[\"PLAINTEXT://%s:9092\"]%s%s%s}",
             host, host, rack ? ",\"rack\":\"" : "", rack ? rack : "", rack ? "\"" : "");
    CHECKF(kr_zk_broker_decode(id, js, strlen(js), &b, err, sizeof err) == KR_OK, "%s", err);
    CHECK_INT(kr_model_broker_registered(m, id, epoch, &b, 1000, record, ch), KR_OK);
    kr_zk_broker_deinit(&b);
}

/* Lists ids with a cversion; returns the ids to fetch as "a,b,c". */
static const char *listed(kr_model_t *m, const char *ids, int32_t cversion, changes_t *ch)
{
    int v[32], *fetch = NULL;
    size_t n = 0, nf = 0;
    const char *out;
    for (const char *p = ids; *p;) {
        v[n++] = atoi(p);
        p += strcspn(p, ",");
        if (*p)
            p++;
    }
    CHECK_INT(kr_model_brokers_listed(m, v, n, cversion, 2000, record, ch, &fetch, &nf), KR_OK);
    out = ids_str(fetch, nf);
    free(fetch);
    return out;
}

KR_TEST(broker_diff)
{
    kr_model_t *m = kr_model_new();
    changes_t ch = { "" };
    kr_broker_info_t b;

    /* first list: nothing known, every registration is read */
    CHECK_STR(listed(m, "3,1,2", 3, &ch), "1,2,3");
    CHECK_STR(ch.log, "");
    reg(m, 1, 100, "b1", "az1", &ch);
    reg(m, 2, 101, "b2", "az2", &ch);
    reg(m, 3, 102, "b3", NULL, &ch);
    CHECK_STR(ch.log, "joined 1@100 b1 alive; joined 2@101 b2 alive; joined 3@102 b3 alive");
    ch.log[0] = 0;

    /* 3 leaves: one delete, cversion +1: no fetch; the event carries what we knew */
    CHECK_STR(listed(m, "1,2", 4, &ch), "");
    CHECK_STR(ch.log, "left 3@102 b3 alive");
    CHECK_INT(kr_model_broker(m, 3, &b), KR_OK);
    CHECK_INT(b.alive, 0);
    CHECK_INT(b.since_ms, 2000);
    CHECK_STR(b.host, "b3");
    ch.log[0] = 0;

    /* 4 appears: only 4 is read */
    CHECK_STR(listed(m, "1,2,4", 5, &ch), "4");
    CHECK_STR(ch.log, "");
    reg(m, 4, 110, "b4", "az1", &ch);
    CHECK_STR(ch.log, "joined 4@110 b4 alive");
    ch.log[0] = 0;

    /* same list, cversion +2: someone left and came back between two watch events */
    CHECK_STR(listed(m, "1,2,4", 7, &ch), "1,2,4");
    reg(m, 1, 100, "b1", "az1", &ch);      /* same epoch: silent */
    reg(m, 2, 120, "b2-new", "az2", &ch);  /* new epoch: bounced */
    reg(m, 4, 110, "b4", "az1", &ch);
    CHECK_STR(ch.log, "left 2@101 b2 alive; joined 2@120 b2-new alive");
    ch.log[0] = 0;

    /* a registration that is gone when read */
    kr_model_broker_missing(m, 4, 3000, record, &ch);
    kr_model_broker_missing(m, 4, 3001, record, &ch);
    kr_model_broker_missing(m, 99, 3001, record, &ch);
    CHECK_STR(ch.log, "left 4@110 b4 alive");
    ch.log[0] = 0;

    /* 3 comes back (it was dead): joined with its new epoch. The cversion also counts
     * 4's delete, which the list does not explain: everything is read (conservative) */
    CHECK_STR(listed(m, "1,2,3,3", 9, &ch), "1,2,3");
    reg(m, 3, 130, "b3", NULL, &ch);
    CHECK_STR(ch.log, "joined 3@130 b3 alive");
    ch.log[0] = 0;

    /* a new session: everything is read again; what left meanwhile leaves */
    kr_model_session_reset(m);
    CHECK_STR(listed(m, "1,3,5", 2, &ch), "1,3,5");
    CHECK_STR(ch.log, "left 2@120 b2-new alive");
    CHECK_INT(kr_model_broker_by_host(m, "B1"), 1);
    CHECK_INT(kr_model_broker_by_host(m, "b2-new"), -1); /* dead */
    CHECK_INT(kr_model_broker_by_host(m, "nope"), -1);
    kr_model_free(m);
}

static void topic(kr_model_t *m, const char *name, const char *json)
{
    kr_zk_topic_t t;
    char err[256];
    CHECKF(kr_zk_topic_decode(json, strlen(json), &t, err, sizeof err) == KR_OK, "%s", err);
    CHECK_INT(kr_model_topic_set(m, name, &t), KR_OK);
    kr_zk_topic_deinit(&t);
}

static void state(kr_model_t *m, const char *t, int p, int leader, const char *isr)
{
    char js[256], err[256];
    kr_zk_partition_state_t st;
    snprintf(js, sizeof js, "{\"controller_epoch\":1,\"leader\":%d,\"version\":1,"
             "\"leader_epoch\":0,\"isr\":[%s]}", leader, isr);
    CHECKF(kr_zk_partition_state_decode(js, strlen(js), &st, err, sizeof err) == KR_OK, "%s", err);
    CHECK_INT(kr_model_state_set(m, t, p, &st), KR_OK);
    kr_zk_partition_state_deinit(&st);
}

static int collect(const kr_partition_info_t *p, void *arg)
{
    char *out = arg;
    snprintf(out + strlen(out), 1024 - strlen(out), "%s%s-%d:%s/%d", out[0] ? " " : "", p->topic,
             p->partition, ids_str(p->replicas, p->n_replicas), p->leader);
    return 0;
}

KR_TEST(topics_states_counts_and_events)
{
    kr_model_t *m = kr_model_new();
    changes_t ch = { "" };
    kr_model_counts_t n;
    char parts[1024] = "";
    kr_broker_info_t b;
    json_t *ev, *want;

    listed(m, "1,2,3", 3, &ch);
    reg(m, 1, 100, "b1", "az1", &ch);
    reg(m, 2, 101, "b2", "az2", &ch);
    reg(m, 3, 102, "b3", "az3", &ch);
    topic(m, "orders", "{\"version\":3,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1],\"2\":[3,1,2]},"
                       "\"adding_replicas\":{},\"removing_replicas\":{}}");
    topic(m, "audit", "{\"version\":1,\"partitions\":{\"0\":[2,9]}}");
    state(m, "orders", 0, 1, "1,2,3");
    state(m, "orders", 1, 2, "2,3");       /* 1 out of the ISR: under-replicated */
    state(m, "orders", 2, 3, "3,1,2");
    CHECK_INT(kr_model_state_set(m, "orders", 7, NULL), KR_ENOTFOUND);
    CHECK_INT(kr_model_foreach_partition(m, collect, parts), 0);
    CHECK_STR(parts, "audit-0:2,9/-1 orders-0:1,2,3/1 orders-1:2,3,1/2 orders-2:3,1,2/3");

    kr_model_counts(m, &n);
    CHECK_INT(n.topics, 2);
    CHECK_INT(n.partitions, 4);
    CHECK_INT(n.under_replicated, 1); /* audit-0's state is unknown: not counted */
    CHECK_INT(n.offline, 0);
    CHECK_INT(n.brokers_alive, 3);
    CHECK_INT(n.brokers_total, 4);    /* broker 9 is only named by an assignment */
    CHECK_INT(kr_model_broker(m, 9, &b), KR_OK);
    CHECK_INT(b.alive, 0);
    CHECK(b.host == NULL);
    CHECK_INT(kr_model_broker(m, 8, &b), KR_ENOTFOUND);

    /* the event for broker 3 leaving, lists bounded to 2 */
    CHECK_INT(kr_model_broker(m, 3, &b), KR_OK);
    b.stack = "blue";
    ev = kr_model_broker_event(m, "orders-prod", KR_MODEL_LEFT, &b, 1795460544000, 2);
    want = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:i,s:s,s:s,s:s,s:i,s:i},s:i,s:i,"
                     "s:{s:[{s:s,s:i}],s:[{s:s,s:i},{s:s,s:i}],s:b}}",
                     "id", "zk:orders-prod:102-left", "source", "zookeeper", "type",
                     "broker.left", "state", "firing", "time", "2026-11-23T19:02:24.000Z",
                     "cluster", "orders-prod",
                     "broker", "id", 3, "host", "b3", "rack", "az3", "stack", "blue", "epoch", 102,
                     "port", 9092,
                     "partitions_led", 1, "partitions_held", 3,
                     "partitions", "led", "topic", "orders", "partition", 2,
                     "held", "topic", "orders", "partition", 0, "topic", "orders", "partition", 1,
                     "truncated", 1);
    CHECK_JSON(ev, want);
    json_decref(ev);
    json_decref(want);

    /* broker 3 dies: its partitions count as under-replicated and the one it led offline
     * until the controller's new state is read */
    listed(m, "1,2", 4, &ch);
    kr_model_counts(m, &n);
    CHECK_INT(n.under_replicated, 3);
    CHECK_INT(n.offline, 1);
    state(m, "orders", 2, 1, "1,2");
    kr_model_counts(m, &n);
    CHECK_INT(n.offline, 0);

    /* a reassignment rewrites a topic: states of remaining partitions are kept */
    topic(m, "orders", "{\"version\":2,\"partitions\":{\"0\":[1,2,4],\"1\":[2,4,1]},"
                       "\"adding_replicas\":{\"0\":[4]},\"removing_replicas\":{\"0\":[3]}}");
    parts[0] = 0;
    kr_model_foreach_partition(m, collect, parts);
    CHECK_STR(parts, "audit-0:2,9/-1 orders-0:1,2,4/1 orders-1:2,4,1/2");
    {
        size_t np = 0;
        const kr_zk_assignment_t *a = kr_model_topic_partitions(m, "orders", &np);
        CHECK_INT(np, 2);
        CHECK_INT(a[0].adding.n, 1);
        CHECK_INT(a[0].removing.ids[0], 3);
    }
    /* topics deleted from /brokers/topics go */
    {
        char *keep[] = { "orders" };
        kr_model_topics_retain(m, keep, 1);
    }
    CHECK_INT(kr_model_topic_exists(m, "audit"), 0);
    CHECK_INT(kr_model_topic_exists(m, "orders"), 1);
    kr_model_topic_remove(m, "orders");
    kr_model_counts(m, &n);
    CHECK_INT(n.topics, 0);
    CHECK_INT(n.partitions, 0);
    kr_model_set_controller(m, 2);
    CHECK_INT(kr_model_controller(m), 2);
    kr_model_free(m);
}

KR_TEST(many_topics)
{
    kr_model_t *m = kr_model_new();
    kr_model_counts_t n;
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "t%05d", i);
        topic(m, name, "{\"version\":3,\"partitions\":{\"0\":[1,2],\"1\":[2,1]}}");
    }
    kr_model_counts(m, &n);
    CHECK_INT(n.topics, 5000);
    CHECK_INT(n.partitions, 10000);
    CHECK_INT(kr_model_topic_exists(m, "t04999"), 1);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(name, sizeof name, "t%05d", i);
        kr_model_topic_remove(m, name);
    }
    kr_model_counts(m, &n);
    CHECK_INT(n.topics, 2500);
    CHECK_INT(kr_model_topic_exists(m, "t00002"), 0);
    CHECK_INT(kr_model_topic_exists(m, "t00003"), 1);
    kr_model_free(m);
}

KR_TEST(stale_marks)
{
    kr_model_t *m = kr_model_new();
    kr_model_tp_t tp[8];
    size_t n;
    topic(m, "a", "{\"version\":1,\"partitions\":{\"0\":[1,2],\"1\":[2,3],\"2\":[3,1]}}");
    topic(m, "b", "{\"version\":1,\"partitions\":{\"0\":[1,3]}}");
    CHECK_INT(kr_model_mark_broker_stale(m, 1), 3);   /* a-0, a-2, b-0 */
    CHECK_INT(kr_model_mark_broker_stale(m, 3), 1);   /* only a-1 is new */
    CHECK_INT(kr_model_stale_count(m), 4);
    CHECK_INT(kr_model_mark_stale(m, "a", 9), KR_ENOTFOUND);
    /* b goes away with its mark; a is rewritten without partition 2 */
    kr_model_topic_remove(m, "b");
    CHECK_INT(kr_model_stale_count(m), 3);
    topic(m, "a", "{\"version\":1,\"partitions\":{\"0\":[1,2],\"1\":[2,3]}}");
    CHECK_INT(kr_model_stale_count(m), 2);
    n = kr_model_take_stale(m, tp, 1);
    CHECK_INT(n, 1);
    CHECK_INT(kr_model_stale_count(m), 1);
    n += kr_model_take_stale(m, tp + 1, 8);
    CHECK_INT(n, 2);
    CHECK_STR(tp[0].topic, "a");
    CHECK_INT(tp[0].partition + tp[1].partition, 1); /* 0 and 1, in any order */
    CHECK_INT(kr_model_take_stale(m, tp, 8), 0);
    CHECK_INT(kr_model_mark_topic_stale(m, NULL), 2);
    CHECK_INT(kr_model_mark_topic_stale(m, "a"), 0);
    {
        char *keep[] = { "zzz" };
        kr_model_topics_retain(m, keep, 1);
    }
    CHECK_INT(kr_model_stale_count(m), 0);
    kr_model_free(m);
}
