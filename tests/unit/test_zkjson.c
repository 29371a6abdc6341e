/* tests/unit/test_zkjson.c: the ZooKeeper JSON decoders against the znodes Kafka writes
 * (tests/golden/zk: literals from Kafka's BrokerEndPointTest, ReassignPartitionsZNodeTest,
 * ZkData and znodes as dumped from running clusters) and the encoders kresponder uses. */
#include <stdlib.h>

#include "kr/err.h"
#include "kr/zkjson.h"
#include "kr_test.h"

static char *golden(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/golden/zk/%s", name);
    char *s = kr_test_read(kr_test_path(rel), len);
    CHECKF(s != NULL, "cannot read %s", rel);
    return s;
}

static int ids_eq(const kr_zk_ids_t *ids, const int *want, size_t n)
{
    if (ids->n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ids->ids[i] != want[i])
            return 0;
    return 1;
}

#define IDS(...) ((const int[]){ __VA_ARGS__ }), (sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int))
#define CHECK_IDS(ids, ...) CHECKF(ids_eq((ids), IDS(__VA_ARGS__)), "%s differs", #ids)

static int streq_null(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

#define CHECK_STR_OR_NULL(a, b)                                                             \
    CHECKF(streq_null((a), (b)), "\"%s\" != \"%s\"", (a) ? (a) : "(null)", (b) ? (b) : "(null)")

/* ------------------------------------------------------------------------ brokers */

typedef struct {
    const char *listener, *proto, *host;
    int port;
} ep_want_t;

static const struct {
    const char *file;
    int version;
    const char *host;
    int port, jmx_port;
    const char *rack;
    long long ts;
    size_t n_eps;
    ep_want_t eps[2];
} broker_cases[] = {
    /* BrokerEndPointTest.testFromJsonV1 */
    { "broker-v1.json", 1, "172.16.8.243", 9091, -1, NULL, 1420485325400LL, 1,
      { { "PLAINTEXT", "PLAINTEXT", "172.16.8.243", 9091 } } },
    /* testFromJsonV2 */
    { "broker-v2.json", 2, "localhost", 9092, 9999, NULL, 1416974968782LL, 1,
      { { "PLAINTEXT", "PLAINTEXT", "localhost", 9092 } } },
    /* testFromJsonV3: no protocol map, so listener names are protocol names */
    { "broker-v3.json", 3, "localhost", 9092, 9999, "dc1", 2233345666LL, 2,
      { { "PLAINTEXT", "PLAINTEXT", "host1", 9092 }, { "SSL", "SSL", "host1", 9093 } } },
    /* testFromJsonV4WithNullRack / WithNoRack */
    { "broker-v4-null-rack.json", 4, "localhost", 9092, 9999, NULL, 2233345666LL, 2,
      { { "CLIENT", "SSL", "host1", 9092 }, { "REPLICATION", "PLAINTEXT", "host1", 9093 } } },
    { "broker-v4-no-rack.json", 4, "localhost", 9092, 9999, NULL, 2233345666LL, 2,
      { { "CLIENT", "SSL", "host1", 9092 }, { "REPLICATION", "PLAINTEXT", "host1", 9093 } } },
    /* what a 2.6 broker wrote, key order as Jackson wrote it */
    { "broker-v4-as-written.json", 4, "localhost", 9092, -1, NULL, 1603608218902LL, 1,
      { { "PLAINTEXT", "PLAINTEXT", "localhost", 9092 } } },
    /* testFromJsonV5: features are accepted (and not needed) */
    { "broker-v5.json", 5, "localhost", 9092, 9999, "dc1", 2233345666LL, 2,
      { { "CLIENT", "SSL", "host1", 9092 }, { "REPLICATION", "PLAINTEXT", "host1", 9093 } } },
    /* no PLAINTEXT listener: host null, port -1; the address comes from the endpoints */
    { "broker-v5-no-plaintext.json", 5, "b-3.internal.example", 9094, -1, "apne2-az3",
      1700000000123LL, 2,
      { { "INTERNAL", "SASL_SSL", "b-3.internal.example", 9094 },
        { "EXTERNAL", "SSL", "fe80::b1da:69ca:57f7:63d8%3", 9194 } } },
    /* testFromJsonFutureVersion: unknown keys and versions are accepted */
    { "broker-future.json", 100, "localhost", 9092, 9999, NULL, 1416974968782LL, 1,
      { { "SSL", "SSL", "localhost", 9093 } } },
};

KR_TEST(broker_registrations_v1_to_v5)
{
    for (size_t i = 0; i < sizeof broker_cases / sizeof broker_cases[0]; i++) {
        size_t len;
        char *s = golden(broker_cases[i].file, &len), err[256] = "";
        kr_zk_broker_t b;
        if (!s)
            continue;
        int rc = kr_zk_broker_decode(1003, s, len, &b, err, sizeof err);
        CHECKF(rc == 0, "%s: %s", broker_cases[i].file, err);
        if (rc == 0) {
            CHECK_INT(b.id, 1003);
            CHECK_INT(b.version, broker_cases[i].version);
            CHECK_STR_OR_NULL(b.host, broker_cases[i].host);
            CHECK_INT(b.port, broker_cases[i].port);
            CHECK_INT(b.jmx_port, broker_cases[i].jmx_port);
            CHECK_STR_OR_NULL(b.rack, broker_cases[i].rack);
            CHECK_INT(b.timestamp_ms, broker_cases[i].ts);
            CHECKF(b.n_endpoints == broker_cases[i].n_eps, "%s: %zu endpoints",
                   broker_cases[i].file, b.n_endpoints);
            for (size_t e = 0; e < b.n_endpoints && e < broker_cases[i].n_eps; e++) {
                const ep_want_t *w = &broker_cases[i].eps[e];
                CHECK_STR_OR_NULL(b.endpoints[e].listener, w->listener);
                CHECK_STR_OR_NULL(b.endpoints[e].security_protocol, w->proto);
                CHECK_STR_OR_NULL(b.endpoints[e].host, w->host);
                CHECK_INT(b.endpoints[e].port, w->port);
            }
        }
        kr_zk_broker_deinit(&b);
        kr_zk_broker_deinit(&b); /* idempotent on a zeroed struct */
        free(s);
    }
}

KR_TEST(broker_registration_tolerances)
{
    char err[256] = "";
    kr_zk_broker_t b;
    /* no jmx_port, numeric timestamp, listener missing from the map, empty host */
    const char *s = "{\"version\":4,\"host\":null,\"port\":-1,\"timestamp\":1700000000000,"
                    "\"endpoints\":[\"PLAINTEXT://:9092\",\"REPL://r1:9093\"],"
                    "\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"}}";
    CHECKF(kr_zk_broker_decode(5, s, strlen(s), &b, err, sizeof err) == 0, "%s", err);
    CHECK_INT(b.jmx_port, -1);
    CHECK_INT(b.timestamp_ms, 1700000000000LL);
    CHECK_INT(b.n_endpoints, 2);
    if (b.n_endpoints == 2) {
        CHECK(b.endpoints[0].host == NULL);
        CHECK(b.endpoints[1].security_protocol == NULL);
    }
    /* the PLAINTEXT endpoint has no host: the first endpoint with one is the address */
    CHECK_STR_OR_NULL(b.host, "r1");
    CHECK_INT(b.port, 9093);
    kr_zk_broker_deinit(&b);

    /* a timestamp that is not a number does not hide the broker */
    s = "{\"version\":1,\"host\":\"h\",\"port\":1,\"timestamp\":\"soon\"}";
    CHECKF(kr_zk_broker_decode(5, s, strlen(s), &b, err, sizeof err) == 0, "%s", err);
    CHECK_INT(b.timestamp_ms, -1);
    kr_zk_broker_deinit(&b);
}

KR_TEST(broker_registration_errors)
{
    static const struct { const char *in, *err; } cases[] = {
        { "", "broker 7 registration: the znode has no data" },
        { "not json", "broker 7 registration: invalid JSON at line 1 column 3: invalid token near 'not'" },
        { "[1]", "broker 7 registration: expected a JSON object, got an array" },
        { "{\"host\":\"h\",\"port\":1}", "broker 7 registration: \"version\" is missing" },
        { "{\"version\":0,\"host\":\"h\",\"port\":1}", "broker 7 registration: unsupported version 0" },
        { "{\"version\":\"4\"}", "broker 7 registration: \"version\" must be an integer, got a string" },
        { "{\"version\":4,\"port\":\"9092\",\"endpoints\":[]}", "broker 7 registration: \"port\" must be an integer, got a string" },
        { "{\"version\":4,\"port\":99999999999,\"endpoints\":[]}", "broker 7 registration: \"port\" is out of range (99999999999)" },
        { "{\"version\":4,\"endpoints\":[\"PLAINTEXT:/h:1\"]}", "broker 7 registration: endpoint \"PLAINTEXT:/h:1\" is not LISTENER://host:port" },
        { "{\"version\":4,\"endpoints\":[\"PLAINTEXT://h:x\"]}", "broker 7 registration: endpoint \"PLAINTEXT://h:x\": port is not a number" },
        { "{\"version\":4,\"endpoints\":[\"PLAINTEXT://h\"]}", "broker 7 registration: endpoint \"PLAINTEXT://h\" has no port" },
        { "{\"version\":4,\"endpoints\":[\"P://h h:1\"]}", "broker 7 registration: endpoint \"P://h h:1\": bad character in host" },
        { "{\"version\":4,\"endpoints\":[\"P://[::1:1\"]}", "broker 7 registration: endpoint \"P://[::1:1\": unterminated [IPv6] host or no port" },
        { "{\"version\":4,\"endpoints\":[1]}", "broker 7 registration: endpoint 0 must be a string, got an integer" },
        { "{\"version\":4,\"endpoints\":{}}", "broker 7 registration: \"endpoints\" must be an array of strings, got an object" },
        { "{\"version\":4,\"rack\":5,\"endpoints\":[]}", "broker 7 registration: \"rack\" must be a string, got an integer" },
        { "{\"version\":4,\"host\":[],\"endpoints\":[]}", "broker 7 registration: \"host\" must be a string or null, got an array" },
        { "{\"version\":4,\"listener_security_protocol_map\":[],\"endpoints\":[]}", "broker 7 registration: \"listener_security_protocol_map\" must be an object, got an array" },
        { "{\"version\":2}", "broker 7 registration: no \"endpoints\" and no \"host\"" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        kr_zk_broker_t b;
        memset(&b, 0x5a, sizeof b);
        CHECK_INT(kr_zk_broker_decode(7, cases[i].in, strlen(cases[i].in), &b, err, sizeof err),
                  KR_EINVAL);
        CHECK_STR(err, cases[i].err);
        CHECK(b.host == NULL && b.endpoints == NULL && b.rack == NULL); /* zeroed on error */
    }
    char err[64] = "";
    kr_zk_broker_t b;
    CHECK_INT(kr_zk_broker_decode(7, NULL, 0, &b, err, sizeof err), KR_EINVAL);
}

KR_TEST(endpoint_strings_like_kafka)
{
    /* EndPoint.createEndPoint cases from BrokerEndPointTest.testEndpointFromUri */
    static const struct { const char *in, *listener, *host; int port; } cases[] = {
        { "PLAINTEXT://localhost:9092", "PLAINTEXT", "localhost", 9092 },
        { "PLAINTEXT://local_host:9092", "PLAINTEXT", "local_host", 9092 },
        { "PLAINTEXT://:9092", "PLAINTEXT", NULL, 9092 },
        { "PLAINTEXT://[::1]:9092", "PLAINTEXT", "::1", 9092 },
        { "PLAINTEXT://[fe80::b1da:69ca:57f7:63d8%3]:9092", "PLAINTEXT", "fe80::b1da:69ca:57f7:63d8%3", 9092 },
        { "PLAINTEXT://MyHostname:9092", "PLAINTEXT", "MyHostname", 9092 },
        { "SASL_SSL://b-1.kafka.example:-1", "SASL_SSL", "b-1.kafka.example", -1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[128] = "";
        kr_zk_endpoint_t e;
        CHECKF(kr_zk_endpoint_parse(cases[i].in, &e, err, sizeof err) == 0, "%s: %s",
               cases[i].in, err);
        CHECK_STR_OR_NULL(e.listener, cases[i].listener);
        CHECK_STR_OR_NULL(e.host, cases[i].host);
        CHECK_INT(e.port, cases[i].port);
        CHECK(e.security_protocol == NULL);
        kr_zk_endpoint_deinit(&e);
    }
}

KR_TEST(parse_int_is_strict)
{
    static const struct { const char *in; int ok, v; } cases[] = {
        { "0", 1, 0 }, { "7", 1, 7 }, { "1001", 1, 1001 }, { "-1", 1, -1 },
        { "2147483647", 1, 2147483647 }, { "2147483648", 0, 0 }, { "", 0, 0 },
        { "01", 0, 0 }, { "+1", 0, 0 }, { " 1", 0, 0 }, { "1 ", 0, 0 }, { "1a", 0, 0 },
        { "-", 0, 0 }, { "0x10", 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int v = -42;
        int rc = kr_zk_parse_int(cases[i].in, &v);
        CHECKF((rc == 0) == cases[i].ok, "\"%s\" -> %d", cases[i].in, rc);
        if (cases[i].ok)
            CHECK_INT(v, cases[i].v);
    }
    int v;
    CHECK_INT(kr_zk_parse_int(NULL, &v), KR_EINVAL);
}

/* ------------------------------------------------------------------------- topics */

KR_TEST(topic_znodes_v1_to_v3)
{
    size_t len;
    char err[256] = "", *s;
    kr_zk_topic_t t;

    if ((s = golden("topic-v1.json", &len))) {
        CHECKF(kr_zk_topic_decode(s, len, &t, err, sizeof err) == 0, "%s", err);
        CHECK_INT(t.version, 1);
        CHECK_STR(t.topic_id, "");
        CHECK_INT(t.n_partitions, 2);
        if (t.n_partitions == 2) { /* sorted although written "1" first */
            CHECK_INT(t.partitions[0].partition, 0);
            CHECK_IDS(&t.partitions[0].replicas, 1, 2);
            CHECK_INT(t.partitions[1].partition, 1);
            CHECK_IDS(&t.partitions[1].replicas, 2, 3);
            CHECK(t.partitions[0].adding.n == 0 && t.partitions[0].removing.n == 0);
        }
        kr_zk_topic_deinit(&t);
        free(s);
    }
    if ((s = golden("topic-v2.json", &len))) {
        CHECKF(kr_zk_topic_decode(s, len, &t, err, sizeof err) == 0, "%s", err);
        CHECK_INT(t.version, 2);
        CHECK_INT(t.n_partitions, 3);
        for (size_t i = 0; i < t.n_partitions; i++) {
            CHECK_INT(t.partitions[i].partition, (int)i);
            CHECK_IDS(&t.partitions[i].replicas, 3);
        }
        kr_zk_topic_deinit(&t);
        free(s);
    }
    if ((s = golden("topic-v3.json", &len))) {
        CHECKF(kr_zk_topic_decode(s, len, &t, err, sizeof err) == 0, "%s", err);
        CHECK_INT(t.version, 3);
        CHECK_STR(t.topic_id, "cMr3GpVESX2L3byPGf93lQ");
        CHECK_INT(t.n_partitions, 3);
        const kr_zk_assignment_t *a = kr_zk_topic_partition(&t, 1);
        CHECK(a != NULL);
        if (a)
            CHECK_IDS(&a->replicas, 3, 1, 2);
        CHECK(kr_zk_topic_partition(&t, 3) == NULL);
        CHECK(kr_zk_topic_partition(&t, -1) == NULL);
        kr_zk_topic_deinit(&t);
        free(s);
    }
    /* KIP-455 during a move: partitions = target + original, the two maps set */
    if ((s = golden("topic-v3-reassigning.json", &len))) {
        CHECKF(kr_zk_topic_decode(s, len, &t, err, sizeof err) == 0, "%s", err);
        const kr_zk_assignment_t *a0 = kr_zk_topic_partition(&t, 0), *a1 = kr_zk_topic_partition(&t, 1);
        CHECK(a0 && a1);
        if (a0 && a1) {
            CHECK_IDS(&a0->replicas, 4, 5, 6, 1, 2, 3);
            CHECK_IDS(&a0->adding, 4, 5, 6);
            CHECK_IDS(&a0->removing, 1, 2, 3);
            CHECK(kr_zk_ids_contains(&a0->adding, 5) && !kr_zk_ids_contains(&a0->adding, 1));
            CHECK_IDS(&a1->replicas, 2, 3, 1);
            CHECK(a1->adding.n == 0 && a1->removing.n == 0);
        }
        kr_zk_topic_deinit(&t);
        free(s);
    }
    /* Kafka's decoder takes a topic znode without partitions as an empty assignment */
    CHECKF(kr_zk_topic_decode("{}", 2, &t, err, sizeof err) == 0, "%s", err);
    CHECK_INT(t.version, 1);
    CHECK_INT(t.n_partitions, 0);
    CHECK(kr_zk_topic_partition(&t, 0) == NULL);
    kr_zk_topic_deinit(&t);
}

KR_TEST(topic_znode_errors)
{
    static const struct { const char *in, *err; } cases[] = {
        { "{\"partitions\":{\"x\":[1]}}", "topic znode: partition key \"x\" is not a partition number" },
        { "{\"partitions\":{\"-1\":[1]}}", "topic znode: partition key \"-1\" is not a partition number" },
        { "{\"partitions\":{\"0\":1}}", "topic znode partition 0: \"replicas\" must be an array of broker ids, got an integer" },
        { "{\"partitions\":{\"0\":[1,\"2\"]}}", "topic znode partition 0: \"replicas\" item 1 must be a broker id (an integer), got a string" },
        { "{\"partitions\":[]}", "topic znode: \"partitions\" must be an object, got an array" },
        { "{\"partitions\":{},\"adding_replicas\":[]}", "topic znode: \"adding_replicas\" must be an object, got an array" },
        { "{\"partitions\":{\"0\":[1]},\"removing_replicas\":{\"0\":{}}}", "topic znode partition 0: \"removing_replicas\" must be an array of broker ids, got an object" },
        { "{\"topic_id\":\"short\",\"partitions\":{}}", "topic znode: \"topic_id\" must be a 22-character base64url Uuid" },
        { "{\"topic_id\":\"cMr3GpVESX2L3byPGf93l=\",\"partitions\":{}}", "topic znode: \"topic_id\" must be a 22-character base64url Uuid" },
        { "{\"version\":2.5}", "topic znode: \"version\" must be an integer, got a real number" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        kr_zk_topic_t t;
        CHECK_INT(kr_zk_topic_decode(cases[i].in, strlen(cases[i].in), &t, err, sizeof err),
                  KR_EINVAL);
        CHECK_STR(err, cases[i].err);
        CHECK(t.partitions == NULL && t.n_partitions == 0);
    }
}

/* ---------------------------------------------------------------- partition state */

KR_TEST(partition_states)
{
    static const struct { const char *file; int ce, leader, le, rs; int isr[3]; size_t n; } cases[] = {
        { "state.json", 1, 2, 0, 0, { 2, 3, 1 }, 3 },
        { "state-offline.json", 6, -1, 4, 0, { 0 }, 0 },
        { "state-recovering.json", 3, 1, 7, 1, { 1 }, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char err[256] = "", *s = golden(cases[i].file, &len);
        kr_zk_partition_state_t st;
        if (!s)
            continue;
        CHECKF(kr_zk_partition_state_decode(s, len, &st, err, sizeof err) == 0, "%s: %s",
               cases[i].file, err);
        CHECK_INT(st.version, 1);
        CHECK_INT(st.controller_epoch, cases[i].ce);
        CHECK_INT(st.leader, cases[i].leader);
        CHECK_INT(st.leader_epoch, cases[i].le);
        CHECK_INT(st.leader_recovery_state, cases[i].rs);
        CHECK(ids_eq(&st.isr, cases[i].isr, cases[i].n));
        kr_zk_partition_state_deinit(&st);
        free(s);
    }
    static const struct { const char *in, *err; } bad[] = {
        { "{\"controller_epoch\":1,\"leader_epoch\":0,\"isr\":[1]}", "partition state: \"leader\" is missing" },
        { "{\"controller_epoch\":1,\"leader\":1,\"leader_epoch\":0}", "partition state: \"isr\" must be an array of broker ids, got nothing" },
        { "{\"controller_epoch\":1,\"leader\":\"1\",\"leader_epoch\":0,\"isr\":[1]}", "partition state: \"leader\" must be an integer, got a string" },
        { "{\"leader\":1,\"leader_epoch\":0,\"isr\":[1]}", "partition state: \"controller_epoch\" is missing" },
        { "{\"controller_epoch\":1,\"leader\":1,\"isr\":[1]}", "partition state: \"leader_epoch\" is missing" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        kr_zk_partition_state_t st;
        CHECK_INT(kr_zk_partition_state_decode(bad[i].in, strlen(bad[i].in), &st, err, sizeof err),
                  KR_EINVAL);
        CHECK_STR(err, bad[i].err);
        CHECK(st.isr.ids == NULL);
    }
}

/* --------------------------------------------------------------------- controller */

KR_TEST(controller_znodes)
{
    size_t len;
    char err[256] = "", *s;
    kr_zk_controller_t c;
    if ((s = golden("controller-v1.json", &len))) {
        CHECKF(kr_zk_controller_decode(s, len, &c, err, sizeof err) == 0, "%s", err);
        CHECK_INT(c.version, 1);
        CHECK_INT(c.broker_id, 1);
        CHECK_INT(c.timestamp_ms, 1416974968782LL);
        CHECK_INT(c.kraft_controller_epoch, -1);
        free(s);
    }
    if ((s = golden("controller-v2.json", &len))) {
        CHECKF(kr_zk_controller_decode(s, len, &c, err, sizeof err) == 0, "%s", err);
        CHECK_INT(c.version, 2);
        CHECK_INT(c.broker_id, 0);
        CHECK_INT(c.timestamp_ms, 1700000000000LL);
        CHECK_INT(c.kraft_controller_epoch, -1);
        free(s);
    }
    const char *k = "{\"version\":2,\"brokerid\":3000,\"timestamp\":\"1\",\"kraftControllerEpoch\":5}";
    CHECKF(kr_zk_controller_decode(k, strlen(k), &c, err, sizeof err) == 0, "%s", err);
    CHECK_INT(c.broker_id, 3000);
    CHECK_INT(c.kraft_controller_epoch, 5);
    CHECK_INT(kr_zk_controller_decode("{\"version\":1}", 13, &c, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "controller znode: \"brokerid\" is missing");

    int epoch = -5;
    if ((s = golden("controller-epoch.txt", &len))) {
        CHECKF(kr_zk_controller_epoch_decode(s, len, &epoch, err, sizeof err) == 0, "%s", err);
        CHECK_INT(epoch, 7);
        free(s);
    }
    CHECK_INT(kr_zk_controller_epoch_decode("x1", 2, &epoch, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "controller epoch: expected a decimal number, got \"x1\"");
    CHECK_INT(kr_zk_controller_epoch_decode("-1", 2, &epoch, err, sizeof err), KR_EINVAL);
    CHECK_INT(kr_zk_controller_epoch_decode("", 0, &epoch, err, sizeof err), KR_EINVAL);
    CHECK_INT(kr_zk_controller_epoch_decode("123456789012345678", 18, &epoch, err, sizeof err), KR_EINVAL);
}

/* --------------------------------------------------------------- admin znodes */

KR_TEST(reassignment_decode)
{
    size_t len;
    char err[256] = "", *s;
    kr_zk_reassignment_t r;
    if ((s = golden("reassign.json", &len))) { /* ReassignPartitionsZNodeTest */
        CHECKF(kr_zk_reassignment_decode(s, len, &r, err, sizeof err) == 0, "%s", err);
        CHECK_INT(r.version, 1);
        CHECK_INT(r.n_moves, 1);
        if (r.n_moves == 1) {
            CHECK_STR(r.moves[0].topic, "foo");
            CHECK_INT(r.moves[0].partition, 0);
            CHECK_IDS(&r.moves[0].replicas, 1, 2);
        }
        kr_zk_reassignment_deinit(&r);
        free(s);
    }
    /* the --execute file format, with log_dirs, is accepted too */
    if ((s = golden("reassign-tool.json", &len))) {
        CHECKF(kr_zk_reassignment_decode(s, len, &r, err, sizeof err) == 0, "%s", err);
        CHECK_INT(r.n_moves, 2);
        if (r.n_moves == 2) {
            CHECK_STR(r.moves[1].topic, "orders");
            CHECK_INT(r.moves[0].partition, 3);
            CHECK_IDS(&r.moves[0].replicas, 1004, 1002, 1006);
            CHECK_IDS(&r.moves[1].replicas, 1001, 1005, 1003);
        }
        kr_zk_reassignment_deinit(&r);
        free(s);
    }
    static const struct { const char *in, *err; } bad[] = {
        { "invalid json", "reassignment znode: invalid JSON at line 1 column 7: invalid token near 'invalid'" },
        { "{\"version\":1}", "reassignment znode: \"partitions\" must be an array, got nothing" },
        { "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[\"1\"]}]}",
          "reassignment znode: partitions item 0: \"replicas\" item 0 must be a broker id (an integer), got a string" },
        { "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":-2,\"replicas\":[1]}]}",
          "reassignment znode: partitions item 0: \"partition\" must not be negative" },
        { "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":1,\"replicas\":[1]},{\"topic\":\"\",\"partition\":0,\"replicas\":[1]}]}",
          "reassignment znode: partitions item 1: \"topic\" must be a non-empty string" },
        { "{\"version\":1,\"partitions\":[7]}", "reassignment znode: partitions item 0 must be an object, got an integer" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(kr_zk_reassignment_decode(bad[i].in, strlen(bad[i].in), &r, err, sizeof err),
                  KR_EINVAL);
        CHECK_STR(err, bad[i].err);
        CHECK(r.moves == NULL && r.n_moves == 0);
    }
}

KR_TEST(reassignment_encode)
{
    char err[256] = "";
    int r12[] = { 1, 2 }, r3[] = { 1004, 1002, 1006 }, dup[] = { 1, 2, 1 };
    kr_zk_move_t one[] = { { "foo", 0, { r12, 2 } } };
    char *s = kr_zk_reassignment_encode(one, 1, err, sizeof err);
    /* byte for byte what ReassignPartitionsZNode.encode writes (ReassignPartitionsZNodeTest) */
    CHECK_STR(s, "{\"version\":1,\"partitions\":[{\"topic\":\"foo\",\"partition\":0,\"replicas\":[1,2]}]}");
    free(s);

    kr_zk_move_t two[] = { { "orders", 3, { r3, 3 } }, { "orders", 0, { r12, 2 } } };
    s = kr_zk_reassignment_encode(two, 2, err, sizeof err);
    CHECKF(s != NULL, "%s", err);
    kr_zk_reassignment_t back;
    CHECKF(s && kr_zk_reassignment_decode(s, strlen(s), &back, err, sizeof err) == 0, "%s", err);
    CHECK_INT(back.n_moves, 2);
    if (back.n_moves == 2) { /* round trip keeps order and lists */
        CHECK_STR(back.moves[0].topic, "orders");
        CHECK_INT(back.moves[0].partition, 3);
        CHECK_IDS(&back.moves[0].replicas, 1004, 1002, 1006);
        CHECK_INT(back.moves[1].partition, 0);
    }
    kr_zk_reassignment_deinit(&back);
    free(s);

    const struct { kr_zk_move_t m[2]; size_t n; const char *err; } bad[] = {
        { { { "t", 0, { r12, 2 } }, { "t", 0, { r3, 3 } } }, 2, "reassignment: t-0 is listed twice" },
        { { { "t", 0, { dup, 3 } } }, 1, "reassignment: t-0 lists broker 1 twice" },
        { { { "t", 4, { NULL, 0 } } }, 1, "reassignment: t-4 has an empty replica list" },
        { { { "", 0, { r12, 2 } } }, 1, "reassignment: move 0 has no topic or a negative partition" },
        { { { "t", -1, { r12, 2 } } }, 1, "reassignment: move 0 has no topic or a negative partition" },
        { { { "t", 0, { r12, 2 } } }, 0, "reassignment: no partitions to move" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = kr_zk_reassignment_encode(bad[i].m, bad[i].n, err, sizeof err);
        CHECK(s == NULL);
        CHECK_STR(err, bad[i].err);
        free(s);
    }
}

KR_TEST(preferred_election)
{
    size_t len, n = 99;
    char err[256] = "", *s;
    kr_zk_topic_partition_t *tps = NULL;
    if ((s = golden("preferred.json", &len))) {
        CHECKF(kr_zk_preferred_election_decode(s, len, &tps, &n, err, sizeof err) == 0, "%s", err);
        CHECK_INT(n, 2);
        if (n == 2) {
            CHECK_STR(tps[0].topic, "orders");
            CHECK_INT(tps[0].partition, 0);
            CHECK_STR(tps[1].topic, "payments");
            CHECK_INT(tps[1].partition, 5);
        }
        char *enc = kr_zk_preferred_election_encode(tps, n, err, sizeof err);
        CHECK_STR(enc, s); /* the fixture is in the encoder's own key order */
        free(enc);
        kr_zk_topic_partitions_free(tps, n);
        free(s);
    }
    const char *bad = "{\"version\":1,\"partitions\":[{\"topic\":\"a\",\"partition\":0},{\"topic\":\"b\"}]}";
    CHECK_INT(kr_zk_preferred_election_decode(bad, strlen(bad), &tps, &n, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "preferred replica election znode: partitions item 1: \"partition\" is missing");
    CHECK(tps == NULL && n == 0);
    CHECK(kr_zk_preferred_election_encode(NULL, 0, err, sizeof err) == NULL);
    CHECK_STR(err, "preferred replica election: no partitions");
}

/* ---------------------------------------------------------------------- config */

KR_TEST(config_znodes)
{
    size_t len;
    char err[256] = "", *s;
    json_t *cfg = NULL, *want;
    if ((s = golden("config-broker.json", &len))) {
        CHECKF(kr_zk_config_decode(s, len, &cfg, err, sizeof err) == 0, "%s", err);
        want = json_pack("{s:s,s:s}", "leader.replication.throttled.rate", "52428800",
                         "follower.replication.throttled.rate", "52428800");
        CHECK_JSON(cfg, want);
        json_decref(want);
        json_decref(cfg);
        free(s);
    }
    if ((s = golden("config-topic.json", &len))) {
        CHECKF(kr_zk_config_decode(s, len, &cfg, err, sizeof err) == 0, "%s", err);
        CHECK_STR(json_string_value(json_object_get(cfg, "follower.replication.throttled.replicas")),
                  "0:4,1:5");
        CHECK_INT(json_object_size(cfg), 3);
        json_decref(cfg);
        free(s);
    }
    /* empty data and a missing "config" are an empty config, as in ConfigEntityZNode.decode */
    CHECK_INT(kr_zk_config_decode(NULL, 0, &cfg, err, sizeof err), 0);
    CHECK(json_is_object(cfg) && json_object_size(cfg) == 0);
    json_decref(cfg);
    CHECK_INT(kr_zk_config_decode("{\"version\":1}", 13, &cfg, err, sizeof err), 0);
    CHECK(json_is_object(cfg) && json_object_size(cfg) == 0);
    json_decref(cfg);
    /* values other tools wrote as numbers or booleans become strings; null means unset */
    const char *loose = "{\"version\":1,\"config\":{\"a\":52428800,\"b\":true,\"c\":null,\"d\":0.5}}";
    CHECKF(kr_zk_config_decode(loose, strlen(loose), &cfg, err, sizeof err) == 0, "%s", err);
    want = json_pack("{s:s,s:s,s:s}", "a", "52428800", "b", "true", "d", "0.5");
    CHECK_JSON(cfg, want);
    json_decref(want);
    json_decref(cfg);
    CHECK_INT(kr_zk_config_decode("{\"config\":{\"a\":[1]}}", 20, &cfg, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "config znode: \"a\" must be a string, got an array");
    CHECK(cfg == NULL);
    CHECK_INT(kr_zk_config_decode("{\"config\":[]}", 13, &cfg, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "config znode: \"config\" must be an object, got an array");

    want = json_pack("{s:s}", "leader.replication.throttled.rate", "10485760");
    s = kr_zk_config_encode(want, err, sizeof err);
    CHECK_STR(s, "{\"version\":1,\"config\":{\"leader.replication.throttled.rate\":\"10485760\"}}");
    free(s);
    json_object_set_new(want, "x", json_integer(1));
    CHECK(kr_zk_config_encode(want, err, sizeof err) == NULL);
    CHECK_STR(err, "config: \"x\" must be a string (Kafka configs are strings), got an integer");
    json_decref(want);
}

KR_TEST(config_change_notifications)
{
    size_t len;
    char err[256] = "", *s, *type = NULL, *name = NULL;
    s = kr_zk_config_change_encode("brokers", "1", err, sizeof err);
    char *fixture = golden("config-change-v2.json", &len);
    CHECK_STR(s, fixture); /* AdminZkClient's notification, byte for byte */
    free(s);
    if (fixture) {
        CHECKF(kr_zk_config_change_decode(fixture, len, &type, &name, err, sizeof err) == 0, "%s", err);
        CHECK_STR(type, "brokers");
        CHECK_STR(name, "1");
        free(type);
        free(name);
        free(fixture);
    }
    if ((s = golden("config-change-v1.json", &len))) {
        CHECKF(kr_zk_config_change_decode(s, len, &type, &name, err, sizeof err) == 0, "%s", err);
        CHECK_STR(type, "topics");
        CHECK_STR(name, "orders");
        free(type);
        free(name);
        free(s);
    }
    const char *nested = "{\"version\":2,\"entity_path\":\"users/alice/clients/app-1\"}";
    CHECK_INT(kr_zk_config_change_decode(nested, strlen(nested), &type, &name, err, sizeof err), 0);
    CHECK_STR(type, "users");
    CHECK_STR(name, "alice/clients/app-1");
    free(type);
    free(name);
    static const struct { const char *in, *err; } bad[] = {
        { "{\"version\":3,\"entity_path\":\"brokers/1\"}", "config change notification: unsupported version 3" },
        { "{\"version\":2,\"entity_path\":\"brokers\"}", "config change notification: \"entity_path\" must be \"<type>/<name>\"" },
        { "{\"version\":2,\"entity_path\":\"/1\"}", "config change notification: \"entity_path\" must be \"<type>/<name>\"" },
        { "{\"version\":2}", "config change notification: \"entity_path\" must be \"<type>/<name>\"" },
        { "{\"version\":1,\"entity_type\":\"topics\"}", "config change notification: version 1 needs \"entity_type\" and \"entity_name\" strings" },
        { "{\"entity_path\":\"brokers/1\"}", "config change notification: \"version\" is missing" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(kr_zk_config_change_decode(bad[i].in, strlen(bad[i].in), &type, &name, err,
                                             sizeof err), KR_EINVAL);
        CHECK_STR(err, bad[i].err);
        CHECK(type == NULL && name == NULL);
    }
    CHECK(kr_zk_config_change_encode("brokers", "", err, sizeof err) == NULL);
    CHECK(kr_zk_config_change_encode("a/b", "1", err, sizeof err) == NULL);
    CHECK_STR(err, "config change notification: needs an entity type (topics, brokers, ...) and name");
}
