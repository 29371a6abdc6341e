/* tests/unit/test_cluster.c: the `clusters:` config (defaults and the exact file:line:col
 * errors), alarm-name expressions with a named group, and the inventory (static map,
 * alarm names, events that already name their broker), all without ZooKeeper. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "kr/cluster.h"
#include "kr/config.h"
#include "kr/err.h"
#include "kr_test.h"

static char dir[256];

static const char *write_cfg(const char *text)
{
    static char path[512];
    FILE *f;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/kr-cluster-XXXXXX");
        if (!mkdtemp(dir))
            return NULL;
    }
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    if (!(f = fopen(path, "w")))
        return NULL;
    fprintf(f, "listen: 127.0.0.1:0\nclusters:\n%s", text);
    fclose(f);
    return path;
}

/* The error an operator sees for a clusters section (loader or cluster check), with the
 * directory part of the path removed; "" when it is valid. */
static const char *cfg_error(const char *clusters_yaml)
{
    static char err[1024];
    char *slash;
    kr_config_t *cfg;
    err[0] = 0;
    cfg = kr_config_load(write_cfg(clusters_yaml), err, sizeof err);
    if (cfg) {
        if (kr_clusters_check(cfg, err, sizeof err) == KR_OK)
            err[0] = 0;
        kr_config_free(cfg);
    }
    if ((slash = strstr(err, "c.yaml:")))
        memmove(err, slash, strlen(slash) + 1);
    return err;
}

static const char *const BASE = "  - name: orders\n"
                                "    zookeeper: zk1:2181,zk2:2181/kafka\n";

static const char *with(const char *more)
{
    static char buf[2048];
    snprintf(buf, sizeof buf, "%s%s", BASE, more);
    return buf;
}

KR_TEST(example_config_clusters_are_valid)
{
    char err[1024] = "";
    kr_config_t *cfg;
    setenv("KRESPONDER_EVENTBRIDGE_SECRET", "x", 1);
    setenv("KRESPONDER_ADMIN_TOKEN", "x", 1);
    setenv("KRESPONDER_SLACK_WEBHOOK", "https://hooks.slack.com/services/T/B/x", 1);
    setenv("KRESPONDER_PAGERDUTY_KEY", "x", 1);
    cfg = kr_config_load(kr_test_path("kresponder.example.yaml"), err, sizeof err);
    CHECKF(cfg != NULL, "%s", err);
    if (!cfg)
        return;
    CHECKF(kr_clusters_check(cfg, err, sizeof err) == KR_OK, "%s", err);
    kr_config_free(cfg);
}

KR_TEST(config_errors_name_the_place)
{
    static const struct { const char *yaml, *want; } cases[] = {
        { "  - zookeeper: zk:2181\n", "c.yaml:3:5: a cluster needs a name" },
        { "  - name: \"a b\"\n    zookeeper: zk:2181\n",
          "c.yaml:3:11: cluster name must be 1-64 letters, digits, '.', '_' or '-'" },
        { "  - name: x\n", "c.yaml:3:5: cluster x needs a zookeeper connect string "
                           "(host:port[,host:port...][/chroot])" },
        { "  - name: x\n    zookeeper: zk1\n",
          "c.yaml:4:16: cluster x: zookeeper server \"zk1\" must be host:port" },
        { "  - name: x\n    zookeeper: zk1:99999\n",
          "c.yaml:4:16: cluster x: zookeeper server \"zk1:99999\" has no valid port (1-65535)" },
        { "  - name: x\n    zookeeper: zk1:2181,\n", "c.yaml:4:16: cluster x: zookeeper ends with a comma" },
        { "  - name: x\n    zookeeper: zk1:2181/kafka/\n",
          "c.yaml:4:16: cluster x: zookeeper chroot \"/kafka/\" must be a path like /kafka (no "
          "trailing slash, no empty segment)" },
        { "  - name: x\n    zookeeper: /kafka\n",
          "c.yaml:4:16: cluster x: zookeeper names no server (expected host:port[,host:port...][/chroot])" },
        { "  - name: x\n    zookeeper: zk:1\n    zookeper: zk:2\n",
          "c.yaml:5:5: unknown key \"zookeper\" in a cluster (known: name, zookeeper, "
          "bootstrap_servers, session_timeout, stacks, inventory, guards, dry_run, streams_apps)" },
        { "  - name: x\n    zookeeper: zk:1\n  - name: x\n    zookeeper: zk:2\n",
          "c.yaml:5:11: cluster name x is used twice" },
        { "  - name: x\n    zookeeper: zk:1\n    session_timeout: 500ms\n",
          "c.yaml:5:22: cluster x: session_timeout must be a duration from 1s to 1h (Kafka's "
          "default is 18s)" },
        { "  - name: x\n    zookeeper: zk:1\n    bootstrap_servers: [\"b1\"]\n",
          "c.yaml:5:24: cluster x: bootstrap_servers must be \"host:port,...\" or a list of host:port" },
        { "  - 3\n", "c.yaml:3:5: clusters: item 1 must be a map" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR(cfg_error(cases[i].yaml), cases[i].want);
}

KR_TEST(config_stacks_inventory_guards_errors)
{
    static const struct { const char *more, *want; } cases[] = {
        { "    stacks: {blue: 1-1000, green: 900-2000}\n",
          "c.yaml:5:35: stack green (900-2000) overlaps stack blue (1-1000)" },
        { "    stacks: {blue: 10-1}\n", "c.yaml:5:20: stack blue: range 10-1 starts after it ends" },
        { "    stacks: {blue: one-two}\n",
          "c.yaml:5:20: stack blue: expected a broker id range such as 1-1000" },
        { "    stacks: [1-1000]\n",
          "c.yaml:5:13: stacks must be a map of stack name to broker id range, e.g. {blue: "
          "1-1000, green: 1001-2000}" },
        { "    inventory: {instances: {i-0abc: three}}\n",
          "c.yaml:5:37: instance i-0abc: broker id must be a non-negative integer" },
        { "    inventory: {alarm_name_regex: \"kafka-b([0-9]+)\"}\n",
          "c.yaml:5:35: alarm_name_regex: needs a named group for the broker id, e.g. "
          "kafka-orders-b(?P<broker>[0-9]+)-.*" },
        { "    inventory: {alarm_name_regex: \"kafka-b(?=x)(?P<broker>[0-9]+)\"}\n",
          "c.yaml:5:35: alarm_name_regex: \"(?=\" is not supported (POSIX regex: use plain "
          "groups and one named group (?P<broker>...))" },
        { "    inventory: {alarm_name_regex: \"kafka-b(?P<broker>[0-9]+\"}\n",
          "c.yaml:5:35: alarm_name_regex: Unmatched ( or \\(" },
        /* glibc compiles stacked and nested counted repeats in exponential memory */
        { "    inventory: {alarm_name_regex: \"kafka-b(?P<broker>[0-9]+)-++++++++++++++++++++++++++++++x\"}\n",
          "c.yaml:5:35: alarm_name_regex: its repetitions multiply beyond 10000 copies (stacked "
          "quantifiers such as \"++\", or large nested counts): write it without them" },
        { "    inventory: {alarm_name_regex: \"or)(?P<broker>[0-9]+)-+++++++++++++++++++++++++++++x\"}\n",
          "c.yaml:5:35: alarm_name_regex: its repetitions multiply beyond 10000 copies (stacked "
          "quantifiers such as \"++\", or large nested counts): write it without them" },
        { "    inventory: {alarm_name_regex: \"((((b(?P<broker>[0-9]){10}){10}){10}){11})\"}\n",
          "c.yaml:5:35: alarm_name_regex: its repetitions multiply beyond 10000 copies (stacked "
          "quantifiers such as \"++\", or large nested counts): write it without them" },
        { "    inventory: {regex: x}\n",
          "c.yaml:5:17: unknown key \"regex\" in inventory (known: instances, alarm_name_regex)" },
        { "    guards: {max_concurrent_evacuations: 0}\n",
          "c.yaml:5:42: max_concurrent_evacuations must be an integer from 1 to 1000" },
        { "    guards: {pause_when: 3}\n",
          "c.yaml:5:14: unknown key \"pause_when\" in guards (known: max_concurrent_evacuations, "
          "pause_when_brokers_down)" },
        { "    dry_run: yes\n", "c.yaml:5:14: dry_run must be true or false" },
        { "    streams_apps: {a: 1}\n", "c.yaml:5:19: streams_apps must be a list" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR(cfg_error(with(cases[i].more)), cases[i].want);
    CHECK_STR(cfg_error("  - name: a\n    zookeeper: zk:1\n    inventory: {instances: {i-1: 1}}\n"
                        "  - name: b\n    zookeeper: zk:2\n    inventory: {instances: {i-1: 2}}\n"),
              "c.yaml:8:29: instance i-1 is already mapped in cluster a");
    CHECK_STR(cfg_error(with("    stacks: {blue: 1-1000, green: \"1001 - 2000\", solo: 3000}\n"
                             "    bootstrap_servers: [\"b1:9092\", \"b2:9092\"]\n"
                             "    session_timeout: 6s\n    dry_run: true\n"
                             "    streams_apps: [{application_id: x}]\n")),
              "");
}

/* A clusters context built from YAML, without starting any session. */
static kr_clusters_t *clusters_of(const char *yaml, kr_config_t **cfg_out, struct event_base **b)
{
    char err[1024] = "";
    kr_config_t *cfg = kr_config_load(write_cfg(yaml), err, sizeof err);
    kr_clusters_t *cl;
    CHECKF(cfg != NULL, "%s", err);
    if (!cfg)
        return NULL;
    *b = event_base_new();
    cl = kr_clusters_new(*b, cfg, NULL, NULL, NULL, err, sizeof err);
    CHECKF(cl != NULL, "%s", err);
    *cfg_out = cfg;
    return cl;
}

KR_TEST(config_values_and_defaults)
{
    kr_config_t *cfg = NULL;
    struct event_base *b = NULL;
    kr_clusters_t *cl = clusters_of(
        "  - name: orders\n    zookeeper: zk1:2181/kafka\n"
        "    bootstrap_servers: [\"b1:9092\", \"b2:9092\"]\n"
        "    stacks: {blue: 1-1000, green: 1001-2000, single: 5000}\n"
        "  - name: payments\n    zookeeper: zk9:2181\n    session_timeout: 6s\n"
        "    guards: {max_concurrent_evacuations: 2, pause_when_brokers_down: 5}\n",
        &cfg, &b);
    json_t *o, *want;
    if (!cl)
        goto done;
    CHECK_INT(kr_clusters_count(cl), 2);
    CHECK(kr_clusters_find(cl, "payments") == kr_clusters_at(cl, 1));
    CHECK(kr_clusters_find(cl, "nope") == NULL);
    CHECK_STR(kr_cluster_stack_of(kr_clusters_at(cl, 0), 1000), "blue");
    CHECK_STR(kr_cluster_stack_of(kr_clusters_at(cl, 0), 1001), "green");
    CHECK_STR(kr_cluster_stack_of(kr_clusters_at(cl, 0), 5000), "single");
    CHECK(kr_cluster_stack_of(kr_clusters_at(cl, 0), 0) == NULL);
    CHECK(kr_cluster_stack_of(kr_clusters_at(cl, 0), 2500) == NULL);
    CHECK_INT(kr_cluster_state(kr_clusters_at(cl, 0)), KR_ZK_CLOSED);
    o = kr_cluster_json(kr_clusters_at(cl, 0), 1);
    json_object_del(o, "state_since");
    want = json_pack("{s:s,s:s,s:n,s:b,s:n,s:i,s:i,s:i,s:i,s:i,s:i,s:n,s:i,s:i,s:s,s:s,s:i,"
                     "s:{s:s,s:s,s:s},s:{s:i,s:i},s:b,s:[]}",
                     "name", "orders", "state", "closed", "session_id", "synced", 0,
                     "controller", "brokers_alive", 0, "brokers_total", 0, "topics", 0,
                     "partitions", 0, "under_replicated_partitions", 0, "offline_partitions", 0,
                     "load_ms", "session_expiries", 0, "broker_events", 0,
                     "zookeeper", "zk1:2181/kafka", "bootstrap_servers", "b1:9092,b2:9092",
                     "session_timeout_ms", 18000,
                     "stacks", "blue", "1-1000", "green", "1001-2000", "single", "5000-5000",
                     "guards", "max_concurrent_evacuations", 1, "pause_when_brokers_down", 2,
                     "dry_run", 0, "brokers");
    json_object_del(want, "session_id");
    CHECK_JSON(o, want);
    json_decref(o);
    json_decref(want);
    o = kr_cluster_json(kr_clusters_at(cl, 1), 1);
    CHECK_INT(json_integer_value(json_object_get(o, "session_timeout_ms")), 6000);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(o, "guards"),
                                                 "max_concurrent_evacuations")), 2);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(o, "guards"),
                                                 "pause_when_brokers_down")), 5);
    json_decref(o);
    {
        int up = 1;
        json_t *r = kr_clusters_readiness(cl, &up);
        json_t *w = json_pack("{s:s,s:s}", "orders", "closed", "payments", "closed");
        CHECK_INT(up, 0);
        CHECK_JSON(r, w);
        json_decref(r);
        json_decref(w);
    }
done:
    kr_clusters_free(cl);
    kr_config_free(cfg);
    if (b)
        event_base_free(b);
}

static json_t *enriched(kr_clusters_t *cl, const char *event_json, int *rc)
{
    json_error_t je;
    json_t *ev = json_loads(event_json, 0, &je);
    CHECKF(ev != NULL, "%s", je.text);
    *rc = kr_clusters_enrich(cl, ev);
    return ev;
}

KR_TEST(inventory_enrich)
{
    kr_config_t *cfg = NULL;
    struct event_base *b = NULL;
    kr_clusters_t *cl = clusters_of(
        "  - name: orders\n    zookeeper: zk1:2181\n"
        "    stacks: {blue: 1-1000, green: 1001-2000}\n"
        "    inventory:\n      instances: {i-0abc123: 3, i-0def456: 1002}\n"
        "      alarm_name_regex: \"kafka-orders-b(?P<broker>\\\\d+)-(cpu|disk)\"\n"
        "  - name: payments\n    zookeeper: zk9:2181\n"
        "    inventory:\n      alarm_name_regex: \"^(?:pay|pmt)-(?<broker>[0-9]+)$\"\n",
        &cfg, &b);
    static const struct { const char *in, *want; int rc; } cases[] = {
        /* static map */
        { "{\"type\":\"instance.impaired\",\"instance\":{\"id\":\"i-0abc123\"}}",
          "{\"type\":\"instance.impaired\",\"instance\":{\"id\":\"i-0abc123\"},\"cluster\":\"orders\","
          "\"broker\":{\"id\":3,\"stack\":\"blue\"}}", 1 },
        { "{\"instance\":{\"id\":\"i-0def456\"}}",
          "{\"instance\":{\"id\":\"i-0def456\"},\"cluster\":\"orders\",\"broker\":{\"id\":1002,"
          "\"stack\":\"green\"}}", 1 },
        /* alarm name, \d translated, groups before the named one counted */
        { "{\"alarm\":{\"name\":\"kafka-orders-b17-disk\"}}",
          "{\"alarm\":{\"name\":\"kafka-orders-b17-disk\"},\"cluster\":\"orders\",\"broker\":"
          "{\"id\":17,\"stack\":\"blue\"}}", 1 },
        { "{\"alarm\":{\"name\":\"kafka-orders-b17-net\"}}",
          "{\"alarm\":{\"name\":\"kafka-orders-b17-net\"}}", 0 },
        { "{\"alarm\":{\"name\":\"pmt-4\"}}",
          "{\"alarm\":{\"name\":\"pmt-4\"},\"cluster\":\"payments\",\"broker\":{\"id\":4}}", 1 },
        /* the event names its cluster: only that cluster's inventory is used */
        { "{\"cluster\":\"payments\",\"instance\":{\"id\":\"i-0abc123\"}}",
          "{\"cluster\":\"payments\",\"instance\":{\"id\":\"i-0abc123\"}}", 0 },
        /* cluster and broker given (Alertmanager labels): the stack is added, id kept */
        { "{\"cluster\":\"orders\",\"broker\":{\"id\":1500}}",
          "{\"cluster\":\"orders\",\"broker\":{\"id\":1500,\"stack\":\"green\"}}", 1 },
        /* what the event already says is kept */
        { "{\"instance\":{\"id\":\"i-0abc123\"},\"broker\":{\"stack\":\"mine\"}}",
          "{\"instance\":{\"id\":\"i-0abc123\"},\"cluster\":\"orders\",\"broker\":{\"id\":3,"
          "\"stack\":\"mine\"}}", 1 },
        /* a host no live registration has (no session here): nothing */
        { "{\"host\":\"10.0.0.5\"}", "{\"host\":\"10.0.0.5\"}", 0 },
        { "{\"instance\":{\"id\":\"i-unknown\"}}", "{\"instance\":{\"id\":\"i-unknown\"}}", 0 },
    };
    if (!cl)
        goto done;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = -99;
        json_t *got = enriched(cl, cases[i].in, &rc), *want = json_loads(cases[i].want, 0, NULL);
        CHECKF(rc == cases[i].rc, "case %zu: rc %d", i, rc);
        CHECK_JSON(got, want);
        json_decref(got);
        json_decref(want);
    }
done:
    kr_clusters_free(cl);
    kr_config_free(cfg);
    if (b)
        event_base_free(b);
}

KR_TEST(calls_without_session_are_refused)
{
    kr_config_t *cfg = NULL;
    struct event_base *b = NULL;
    kr_clusters_t *cl = clusters_of("  - name: x\n    zookeeper: 127.0.0.1:1\n", &cfg, &b);
    kr_cluster_t *c = cl ? kr_clusters_at(cl, 0) : NULL;
    if (!c)
        goto done;
    CHECK_INT(kr_cluster_zk_create(c, "/a", "x", 1, 0, NULL, NULL), KR_ESTATE);
    CHECK_INT(kr_cluster_zk_get(c, "/a", NULL, NULL, NULL, NULL), KR_ESTATE);
    CHECK_INT(kr_cluster_zk_get(c, "relative", NULL, NULL, NULL, NULL), KR_EINVAL);
    CHECK_INT(kr_cluster_refresh_states(c, NULL, NULL, NULL), KR_EINVAL);
    CHECK_STR(kr_zk_state_name(KR_ZK_DISCONNECTED), "disconnected");
    CHECK_STR(kr_zk_state_name((kr_zk_state_t)99), "unknown");
done:
    kr_clusters_free(cl);
    kr_config_free(cfg);
    if (b)
        event_base_free(b);
}
