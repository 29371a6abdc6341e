/* tests/unit/test_streams_action.c: the mark_streams_reset action and its marks: the
 * streams_apps config (errors with positions), which apps a lost broker affected (app vs
 * app-v2), the reset point, Kafka's command line, and whole marks driven through the
 * action kind on a real libevent loop against the fake Kafka (kr_kafka_fake_new): group
 * description, members, offsets for times and topic deletion are paths librdkafka's mock
 * cluster cannot answer, so the fake stands in for Kafka here; test_streams_action.py runs
 * the daemon against ZooKeeper, krsim and the mock cluster for the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "kr/action.h"
#include "kr/config.h"
#include "kr/daemon.h"
#include "kr/err.h"
#include "kr/journal.h"
#include "kr/kafka.h"
#include "kr/metrics.h"
#include "kr/runs.h"
#include "kr/streams_marks.h"
#include "kr/units.h"
#include "kr_test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
/* Compares with JSON text (parsed, compared, freed). */
#define CHECK_JSONS(got, text)                                  \
    do {                                                        \
        json_t *kr_w_ = json_loads((text), 0, NULL);            \
        CHECK_JSON((got), kr_w_);                               \
        json_decref(kr_w_);                                     \
    } while (0)

#define APP_CL "app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog"
#define APP_RP "app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-repartition"
#define V2_CL "app-v2-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog"

static const char base_config[] =
    "listen: 127.0.0.1:0\n"
    "clusters:\n"
    "  - name: orders-prod\n"
    "    zookeeper: \"127.0.0.1:2181/kafka\"\n"
    "    bootstrap_servers: \"b1.orders:9092,b2.orders:9092\"\n"
    "    streams_apps:\n"
    "      - application_id: app\n"
    "        input_topics: [orders, payments]\n"
    "        intermediate_topics: [app-through]\n"
    "        owners: [orders-team]\n"
    "        auto_reset: when-stopped\n"
    "        poll_interval: 1s\n"
    "        poll_max: 2s\n"
    "      - application_id: app-v2\n"
    "        input_topics: [orders]\n"
    "        internal_topics: [" V2_CL "]\n"
    "        owners: [orders-team, kafka-oncall]\n"
    "        auto_reset: never\n"
    "      - application_id: billing\n"
    "        input_topics: [invoices]\n"
    "receivers:\n"
    "  - name: orders-team\n"
    "    slack: {url: \"https://hooks.slack.com/services/T0/B0/x\"}\n"
    "  - name: kafka-oncall\n"
    "    slack: {url: \"https://hooks.slack.com/services/T0/B1/y\"}\n";

static kr_config_t *config(const char *text)
{
    char err[512] = "";
    kr_config_t *cfg = kr_config_parse("kr.yaml", text, strlen(text), err, sizeof err);
    CHECKF(cfg != NULL, "%s", err);
    return cfg;
}

/* ------------------------------------------------------------------ config */

KR_TEST(apps_config_normalized)
{
    kr_config_t *cfg = config(base_config);
    char err[512] = "";
    const char *bootstrap = NULL;
    int dry = -1;
    CHECK_INT(kr_streams_apps_check(cfg, err, sizeof err), 0);
    json_t *apps = kr_streams_apps(cfg, "orders-prod", &bootstrap, &dry, err, sizeof err);
    json_t *want = json_loads(
        "[{\"application_id\":\"app\",\"input_topics\":[\"orders\",\"payments\"],"
        "\"intermediate_topics\":[\"app-through\"],\"internal_topics\":[],\"owners\":[\"orders-team\"],"
        "\"auto_reset\":\"when-stopped\",\"poll_interval_ms\":1000,\"poll_max_ms\":2000},"
        "{\"application_id\":\"app-v2\",\"input_topics\":[\"orders\"],\"intermediate_topics\":[],"
        "\"internal_topics\":[\"" V2_CL "\"],\"owners\":[\"orders-team\",\"kafka-oncall\"],"
        "\"auto_reset\":\"never\",\"poll_interval_ms\":5000,\"poll_max_ms\":60000},"
        "{\"application_id\":\"billing\",\"input_topics\":[\"invoices\"],\"intermediate_topics\":[],"
        "\"internal_topics\":[],\"owners\":[],\"auto_reset\":\"never\",\"poll_interval_ms\":5000,"
        "\"poll_max_ms\":60000}]", 0, NULL);
    CHECK_JSON(apps, want);
    CHECK_STR(bootstrap, "b1.orders:9092,b2.orders:9092");
    CHECK_INT(dry, 0);
    CHECK(kr_streams_apps(cfg, "nope", NULL, NULL, err, sizeof err) == NULL);
    CHECK_STR(err, "no cluster named \"nope\" in the config");
    json_decref(apps);
    json_decref(want);
    kr_config_free(cfg);
}

KR_TEST(apps_config_errors)
{
    static const struct { const char *apps; const char *want; } cases[] = {
        { "      - {application_id: a, input_topics: [x], colour: red}\n",
          "kr.yaml:6:48: streams_apps: unknown key \"colour\" (expected application_id, input_topics, intermediate_topics, internal_topics, owners, auto_reset, poll_interval, poll_max)" },
        { "      - {input_topics: [x]}\n", "kr.yaml:6:9: streams_apps: application_id (a string) is required" },
        { "      - {application_id: \"a b\", input_topics: [x]}\n",
          "kr.yaml:6:26: streams_apps: application_id \"a b\" must be made of [A-Za-z0-9._-] (it prefixes the app's internal topic names)" },
        { "      - {application_id: a}\n", "kr.yaml:6:9: streams_apps: a: input_topics is required" },
        { "      - {application_id: a, input_topics: []}\n", "kr.yaml:6:43: streams_apps: input_topics must not be empty" },
        { "      - {application_id: a, input_topics: [ok, \"bad topic\"]}\n",
          "kr.yaml:6:48: streams_apps: \"bad topic\" is not a valid Kafka topic name (1-249 characters of [A-Za-z0-9._-])" },
        { "      - {application_id: a, input_topics: x}\n", "kr.yaml:6:43: streams_apps: input_topics must be a list of topic names" },
        { "      - {application_id: a, input_topics: [x], intermediate_topics: [x]}\n",
          "kr.yaml:6:70: streams_apps: \"x\" is both an input and an intermediate topic" },
        { "      - {application_id: a, input_topics: [x], internal_topics: [b-store-changelog]}\n",
          "kr.yaml:6:66: streams_apps: internal_topics: \"b-store-changelog\" is not an internal topic of a (it must start with \"a-\", end with -changelog, -repartition or a foreign-key join suffix, and not be an input or intermediate topic)" },
        { "      - {application_id: a, input_topics: [x], internal_topics: [a-s-changelog], topology: [a-s-changelog]}\n",
          "kr.yaml:6:82: streams_apps: give internal_topics or its alias topology, not both" },
        { "      - {application_id: a, input_topics: [x], owners: [nobody]}\n",
          "kr.yaml:6:57: streams_apps: owners: no receiver is named \"nobody\" in receivers:" },
        { "      - {application_id: a, input_topics: [x], auto_reset: always}\n",
          "kr.yaml:6:60: streams_apps: auto_reset must be when-stopped or never" },
        { "      - {application_id: a, input_topics: [x], poll_interval: 10ms}\n",
          "kr.yaml:6:63: streams_apps: poll_interval must be a duration from 1s to 1h (e.g. 5s)" },
        { "      - {application_id: a, input_topics: [x], poll_interval: 30s, poll_max: 10s}\n",
          "kr.yaml:6:78: streams_apps: poll_max must not be shorter than poll_interval" },
        { "      - {application_id: a, input_topics: [x]}\n      - {application_id: a, input_topics: [y]}\n",
          "kr.yaml:7:26: streams_apps: application_id \"a\" is listed twice in this cluster" },
        { "      - oops\n", "kr.yaml:6:9: streams_apps: each app must be a map with application_id and input_topics" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char text[2048], err[512] = "";
        snprintf(text, sizeof text,
                 "clusters:\n  - name: c\n    zookeeper: \"z:2181\"\n    bootstrap_servers: \"b:9092\"\n"
                 "    streams_apps:\n%s"
                 "receivers:\n  - name: team\n    slack: {url: \"https://hooks.slack.com/services/x\"}\n",
                 cases[i].apps);
        kr_config_t *cfg = config(text);
        if (!cfg)
            continue;
        CHECK_INT(kr_streams_apps_check(cfg, err, sizeof err), KR_EINVAL);
        CHECK_STR(err, cases[i].want);
        kr_config_free(cfg);
    }
    /* apps need bootstrap_servers */
    char err[512] = "";
    kr_config_t *cfg = config("clusters:\n  - name: c\n    zookeeper: \"z:2181\"\n"
                              "    streams_apps: [{application_id: a, input_topics: [x]}]\n");
    CHECK_INT(kr_streams_apps_check(cfg, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "kr.yaml:4:5: streams_apps needs the cluster's bootstrap_servers (kresponder resets apps through the Kafka protocol)");
    kr_config_free(cfg);
    /* no apps at all is fine */
    cfg = config("clusters:\n  - name: c\n    zookeeper: \"z:2181\"\n");
    CHECK_INT(kr_streams_apps_check(cfg, err, sizeof err), 0);
    kr_config_free(cfg);
}

/* ------------------------------------------------------------------ pure helpers */

KR_TEST(affected_apps_by_topic)
{
    kr_config_t *cfg = config(base_config);
    char err[256];
    json_t *apps = kr_streams_apps(cfg, "orders-prod", NULL, NULL, err, sizeof err);
    static const struct { const char *touched[3]; size_t n; const char *want; } cases[] = {
        { { "orders" }, 1, "[\"app\",\"app-v2\"]" },            /* both read it */
        { { "payments" }, 1, "[\"app\"]" },
        { { "app-through" }, 1, "[\"app\"]" },                  /* intermediate */
        { { APP_CL }, 1, "[\"app\"]" },                          /* named like app's internal */
        { { V2_CL }, 1, "[\"app-v2\"]" },                        /* app-v2's, not app's */
        { { "app-v2-other-store-changelog" }, 1, "[\"app-v2\"]" }, /* the longer id claims it */
        { { "invoices", "unrelated" }, 2, "[\"billing\"]" },
        { { "unrelated", "app-through-changelog-x" }, 2, "[]" },
        { { NULL }, 0, "[]" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        json_t *got = kr_streams_affected(apps, cases[i].touched, cases[i].n);
        json_t *want = json_loads(cases[i].want, 0, NULL);
        CHECK_JSON(got, want);
        json_decref(got);
        json_decref(want);
    }
    json_decref(apps);
    kr_config_free(cfg);
}

KR_TEST(reset_point_resolved_once)
{
    kr_streams_reset_spec_t s;
    char err[256];
    int64_t inc = 1795000000000LL, t;
    CHECK_INT(kr_streams_resolve_to("incident-10m", inc, &s, err, sizeof err), 0);
    CHECK_INT(s.kind, KR_STREAMS_TO_DATETIME);
    CHECK_INT(s.time_ms, inc - 600000);
    CHECK_INT(kr_streams_resolve_to("incident", inc, &s, err, sizeof err), 0);
    CHECK_INT(s.time_ms, inc);
    CHECK_INT(kr_streams_resolve_to(NULL, inc, &s, err, sizeof err), 0);
    CHECK_INT(s.kind, KR_STREAMS_TO_DATETIME);
    CHECK_INT(kr_streams_resolve_to("2026-11-24T10:00:00+09:00", inc, &s, err, sizeof err), 0);
    kr_time_parse("2026-11-24T01:00:00Z", &t);
    CHECK_INT(s.time_ms, t);
    CHECK_INT(kr_streams_resolve_to("earliest", inc, &s, err, sizeof err), 0);
    CHECK_INT(s.kind, KR_STREAMS_TO_EARLIEST);
    CHECK_INT(kr_streams_resolve_to("latest", inc, &s, err, sizeof err), 0);
    CHECK_INT(s.kind, KR_STREAMS_TO_LATEST);
    CHECK_INT(kr_streams_resolve_to("incident-soon", inc, &s, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "to must be incident, incident-<duration> (e.g. incident-10m), an RFC 3339 time, earliest or latest, not \"incident-soon\"");
}

KR_TEST(kafka_reset_command_line)
{
    kr_config_t *cfg = config(base_config);
    char err[256];
    json_t *apps = kr_streams_apps(cfg, "orders-prod", NULL, NULL, err, sizeof err);
    kr_streams_reset_spec_t s = { KR_STREAMS_TO_DATETIME, 0, 0 };
    kr_time_parse("2026-11-24T09:50:00.250Z", &s.time_ms);
    char *c = kr_streams_reset_command(json_array_get(apps, 0), "b1:9092,b2:9092", &s, 0);
    CHECK_STR(c, "kafka-streams-application-reset.sh --bootstrap-servers b1:9092,b2:9092 --application-id app "
                 "--input-topics orders,payments --intermediate-topics app-through --to-datetime 2026-11-24T09:50:00.250");
    free(c);
    c = kr_streams_reset_command(json_array_get(apps, 1), "b1:9092", &s, 1);
    CHECK_STR(c, "kafka-streams-application-reset.sh --bootstrap-servers b1:9092 --application-id app-v2 "
                 "--input-topics orders --internal-topics " V2_CL " --to-datetime 2026-11-24T09:50:00.250 --dry-run");
    free(c);
    s.kind = KR_STREAMS_TO_EARLIEST;
    c = kr_streams_reset_command(json_array_get(apps, 2), "b1:9092", &s, 0);
    CHECK_STR(c, "kafka-streams-application-reset.sh --bootstrap-servers b1:9092 --application-id billing "
                 "--input-topics invoices --to-earliest");
    free(c);
    s.kind = KR_STREAMS_TO_LATEST;
    c = kr_streams_reset_command(json_array_get(apps, 2), "b1:9092", &s, 0);
    CHECK(c && strstr(c, " --to-latest") && !strstr(c, "--dry-run"));
    free(c);
    json_decref(apps);
    kr_config_free(cfg);
}

/* ------------------------------------------------------------------ marks on a loop */

#define INCIDENT_TIME "2026-11-24T10:00:00Z"
#define FIRST_TS 1795513750000LL     /* 09:49:10Z: record o of orders at FIRST_TS + 1000 * o, so
                                      * 09:50:00 (the incident minus 10m) is offset 50 */

typedef struct {
    struct event_base *base;
    kr_config_t *cfg;
    kr_metrics_t *metrics;
    kr_journal_t *journal;
    kr_daemon_t d;
    kr_runs_t *runs;
    kr_kafka_t *k;          /* handed to the marks on first use */
    kr_kafka_fake_t *fake;
    int kafka_asked;
    json_t *pages;          /* [{id, incident, params}] */
} ctx_t;

static kr_kafka_t *kafka_hook(const char *cluster, const char *bootstrap, void *arg, char *err, size_t errlen)
{
    ctx_t *c = arg;
    kr_kafka_t *k = c->k;
    CHECK_STR(cluster, "orders-prod");
    CHECK_STR(bootstrap, "b1.orders:9092,b2.orders:9092");
    c->kafka_asked++;
    c->k = NULL;
    if (!k)
        kr_seterr(err, errlen, KR_EINVAL, "no more fake clients");
    return k;
}

static int page_hook(const char *page_id, const char *incident, const json_t *params, const json_t *event,
                     void *arg, char *err, size_t errlen)
{
    ctx_t *c = arg;
    (void)event;
    (void)err;
    (void)errlen;
    json_array_append_new(c->pages, json_pack("{s:s,s:s,s:O}", "id", page_id, "incident", incident, "params", params));
    return KR_OK;
}

static json_t *touched_hook(const char *cluster, int broker, void *arg)
{
    (void)arg;
    CHECK_STR(cluster, "orders-prod");
    /* broker 3 held payments' partitions in the model */
    return broker == 3 ? json_pack("[s]", "payments") : json_array();
}

static void fake_cluster(kr_kafka_fake_t *f)
{
    kr_kafka_fake_add_topic(f, "orders", 2);
    kr_kafka_fake_add_topic(f, "payments", 1);
    kr_kafka_fake_add_topic(f, "app-through", 1);
    kr_kafka_fake_add_topic(f, APP_CL, 1);
    kr_kafka_fake_add_topic(f, APP_RP, 1);
    kr_kafka_fake_add_topic(f, V2_CL, 1);
    kr_kafka_fake_add_topic(f, "invoices", 1);
    /* orders-0: offsets 0..99 at FIRST_TS + 1000*o; orders-1: 10..59; payments-0: every record
     * older than the reset time; app-through: 0..7 */
    kr_kafka_fake_set_partition(f, "orders", 0, 0, 100, FIRST_TS, 1000);
    kr_kafka_fake_set_partition(f, "orders", 1, 10, 60, FIRST_TS + 10000, 1000);
    kr_kafka_fake_set_partition(f, "payments", 0, 0, 40, FIRST_TS - 3600000, 1000);
    kr_kafka_fake_set_partition(f, "app-through", 0, 0, 8, FIRST_TS, 1000);
    kr_kafka_fake_set_committed(f, "app", "orders", 0, 90);
    kr_kafka_fake_set_committed(f, "app", "orders", 1, 55);
    kr_kafka_fake_set_committed(f, "app", "payments", 0, 39);
    kr_kafka_fake_set_committed(f, "app", "app-through", 0, 3);
    kr_kafka_fake_set_committed(f, "app", APP_RP, 0, 5);   /* the group consumes its repartition topic */
    kr_kafka_fake_set_committed(f, "app-v2", V2_CL, 0, 1); /* another app's */
}

static void ctx_init(ctx_t *c, const char *journal_dir)
{
    char err[256];
    memset(c, 0, sizeof *c);
    c->base = event_base_new();
    c->cfg = config(base_config);
    c->metrics = kr_metrics_new();
    if (journal_dir)
        c->journal = kr_journal_open(c->base, journal_dir, err, sizeof err);
    c->d.cfg = c->cfg;
    c->d.base = c->base;
    c->d.metrics = c->metrics;
    c->d.journal = c->journal;
    c->d.streams = kr_streams_marks_new(c->base, c->cfg, c->journal, c->metrics);
    c->runs = kr_runs_new(c->journal, &c->d);
    c->k = kr_kafka_fake_new(c->base, &c->fake);
    c->pages = json_array();
    fake_cluster(c->fake);
    kr_streams_hooks_t h = { kafka_hook, touched_hook, page_hook, c };
    kr_streams_marks_set_hooks(c->d.streams, &h);
}

static void ctx_free(ctx_t *c)
{
    kr_streams_marks_free(c->d.streams);
    kr_kafka_free(c->k); /* when the marks never asked for it */
    kr_runs_free(c->runs);
    kr_journal_close(c->journal);
    kr_metrics_free(c->metrics);
    kr_config_free(c->cfg);
    json_decref(c->pages);
    event_base_free(c->base);
}

static json_t *event_json(int broker)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:i,s:s,s:s}}", "id", "zk:orders-prod:77-left", "source",
                     "zookeeper", "type", "broker.left", "state", "firing", "time", INCIDENT_TIME, "cluster",
                     "orders-prod", "broker", "id", broker, "host", "b3.orders", "rack", "az1");
}

static kr_run_t *start(ctx_t *c, const char *params_json, int dry)
{
    json_t *params = json_loads(params_json, 0, NULL), *ev = event_json(3);
    kr_run_t *run = kr_runs_start(c->runs, "inc-1", 1, "mark_streams_reset", params, ev, dry, NULL);
    json_decref(params);
    json_decref(ev);
    return run;
}

static json_t *mark(ctx_t *c, const char *id)
{
    return kr_streams_mark_json(c->d.streams, id);
}

static const char *mark_state(ctx_t *c, const char *id)
{
    static char buf[64];
    json_t *m = mark(c, id);
    snprintf(buf, sizeof buf, "%s", m ? json_string_value(json_object_get(m, "state")) : "(none)");
    json_decref(m);
    return buf;
}

/* Runs the loop until mark `id` is in `state` or the time is up. */
static int run_until(ctx_t *c, const char *id, const char *state, double seconds)
{
    int64_t end = kr_mono_ms() + (int64_t)(seconds * 1000 * kr_test_tmout_mult());
    while (strcmp(mark_state(c, id), state) != 0) {
        if (kr_mono_ms() > end)
            return 0;
        struct timeval tv = { 0, 20000 };
        event_base_loopexit(c->base, &tv);
        event_base_dispatch(c->base);
    }
    return 1;
}

static void run_for(ctx_t *c, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_base_loopexit(c->base, &tv);
    event_base_dispatch(c->base);
}

static int calls_with(const kr_kafka_fake_t *f, const char *prefix)
{
    size_t n;
    const char *const *calls = kr_kafka_fake_calls(f, &n);
    int hits = 0;
    for (size_t i = 0; i < n; i++)
        hits += strncmp(calls[i], prefix, strlen(prefix)) == 0;
    return hits;
}

#define MARK_APP "inc-1/1/app"

KR_TEST(waits_while_members_then_resets_to_the_time)
{
    ctx_t c;
    ctx_init(&c, NULL);
    kr_kafka_fake_t *f = c.fake;
    kr_kafka_fake_set_group(f, "app", "Stable", 2);
    kr_run_t *run = start(&c, "{\"apps\":[\"app\"],\"to\":\"incident-10m\"}", 0);
    CHECK_STR(kr_run_state_name(kr_run_state(run)), "running");
    CHECK_STR(mark_state(&c, MARK_APP), "waiting-for-stop");
    run_for(&c, 2500);
    /* polled (at 0 s, 1 s, then 2 s backoff) and never touched the group */
    CHECK(calls_with(f, "describe_group app") >= 2);
    CHECK_INT(calls_with(f, "commit app"), 0);
    CHECK_INT(calls_with(f, "delete_topics"), 0);
    CHECK_INT(calls_with(f, "list_topics"), 0);
    json_t *m = mark(&c, MARK_APP);
    CHECK_STR(json_string_value(json_object_get(json_object_get(m, "group"), "state")), "Stable");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(m, "group"), "members")), 2);
    CHECK(json_integer_value(json_object_get(m, "waited_ms")) >= 2000);
    CHECK(strstr(json_string_value(json_object_get(m, "message")), "group app is Stable with 2 members") != NULL);
    json_decref(m);
    CHECK_INT(kr_streams_marks_count(c.d.streams, KR_MARK_WAITING), 1);
    CHECK(kr_metrics_get(c.metrics, KR_M_streams_marks, "state=\"waiting-for-stop\"") == 1);

    /* every instance stopped */
    kr_kafka_fake_set_group(f, "app", "Empty", 0);
    CHECK(run_until(&c, MARK_APP, "done", 6));
    CHECK_STR(kr_run_state_name(kr_run_state(run)), "done");
    /* incident 10:00 minus 10m = 09:50:00 = FIRST_TS + 50 s: offset 50 on both orders
     * partitions (orders-1's records start at offset 10, FIRST_TS + 10 s) */
    CHECK_INT(kr_kafka_fake_committed(f, "app", "orders", 0), 50);
    CHECK_INT(kr_kafka_fake_committed(f, "app", "orders", 1), 50);
    CHECK_INT(kr_kafka_fake_committed(f, "app", "payments", 0), 40);   /* nothing since: its end */
    CHECK_INT(kr_kafka_fake_committed(f, "app", "app-through", 0), 8); /* intermediate: its end */
    /* internal topics: app's repartition topic (committed by app's group) deleted; app's
     * changelog too? no: no commit and not in the topology -> left alone; app-v2's left alone */
    CHECK(!kr_kafka_fake_has_topic(f, APP_RP));
    CHECK(kr_kafka_fake_has_topic(f, APP_CL));
    CHECK(kr_kafka_fake_has_topic(f, V2_CL));
    CHECK_INT(kr_kafka_fake_committed(f, "app-v2", V2_CL, 0), 1);
    CHECK_INT(calls_with(f, "delete_topics " APP_RP), 1);
    CHECK_INT(calls_with(f, "delete_topics"), 1);
    m = mark(&c, MARK_APP);
    json_t *plan = json_object_get(m, "plan");
    CHECK_JSONS(json_object_get(plan, "delete_topics"), "[\"" APP_RP "\"]");
    CHECK_JSONS(json_object_get(plan, "unconfirmed_internal_topics"), "[\"" APP_CL "\",\"" V2_CL "\"]");
    CHECK(strstr(json_string_value(json_object_get(m, "message")), "4 offsets committed, 1 internal topic deleted"));
    CHECK_STR(json_string_value(json_object_get(json_object_get(m, "reset"), "time")), "2026-11-24T09:50:00.000Z");
    /* every step is in the mark */
    const char *want_steps[] = { "page", "topics", "committed", "watermarks", "offsets_for_times", "plan",
                                 "confirm", "commit", "delete" };
    json_t *steps = json_object_get(m, "steps");
    size_t si = 0;
    for (size_t i = 0; i < json_array_size(steps) && si < N(want_steps); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(steps, i), "step")), want_steps[si]))
            si++;
    CHECKF(si == N(want_steps), "steps in order: got through %zu", si);
    json_decref(m);
    /* the run reported the steps (the pager's follow-ups) */
    json_t *runs = kr_runs_incident_json(c.runs, "inc-1");
    json_t *progress = json_object_get(json_array_get(runs, 0), "progress");
    int saw_commit = 0;
    for (size_t i = 0; i < json_array_size(progress); i++)
        saw_commit |= strstr(json_string_value(json_object_get(json_array_get(progress, i), "message")),
                             "app: committed 4 offsets for group app") != NULL;
    CHECK(saw_commit);
    json_decref(runs);
    CHECK(kr_metrics_get(c.metrics, KR_M_streams_resets_total, "result=\"done\"") == 1);
    ctx_free(&c);
}

KR_TEST(owners_paged_with_the_exact_steps)
{
    ctx_t c;
    ctx_init(&c, NULL);
    kr_kafka_fake_set_group(c.fake, "app", "Stable", 1);
    kr_run_t *run = start(&c, "{\"apps\":[\"app\",\"app-v2\",\"billing\"],\"to\":\"incident-10m\"}", 0);
    CHECK_INT(json_array_size(c.pages), 2); /* billing has no owners */
    json_t *p0 = json_array_get(c.pages, 0), *p1 = json_array_get(c.pages, 1);
    CHECK_STR(json_string_value(json_object_get(p0, "id")), "inc-1/1/app/page");
    CHECK_STR(json_string_value(json_object_get(p0, "incident")), "inc-1");
    json_t *pp = json_object_get(p0, "params");
    CHECK_JSONS(json_object_get(pp, "to"), "[\"orders-team\"]");
    CHECK_STR(json_string_value(json_object_get(pp, "summary")),
              "Kafka Streams app app (orders-prod) must be reset to 2026-11-24T09:50:00.000Z: stop every instance");
    const char *d0 = json_string_value(json_object_get(pp, "details"));
    CHECK(d0 && strstr(d0, "Reason: incident inc-1: broker.left of broker 3 (b3.orders, rack az1) at 2026-11-24T10:00:00Z."));
    CHECK(d0 && strstr(d0, "1. Stop every instance of app (its consumer group app must have no members)."));
    CHECK(d0 && strstr(d0, "2. kresponder will then reset it: offsets of the input topics (orders, payments) to 2026-11-24T09:50:00.000Z"));
    CHECK(d0 && strstr(d0, "3. Start the application with its local state cleaned: call KafkaStreams#cleanUp() before KafkaStreams#start()"));
    /* auto_reset never: Kafka's command, dry run first */
    const char *d1 = json_string_value(json_object_get(json_object_get(p1, "params"), "details"));
    CHECK_JSONS(json_object_get(json_object_get(p1, "params"), "to"), "[\"orders-team\",\"kafka-oncall\"]");
    CHECK(d1 && strstr(d1, "Steps (kresponder does not reset this app: auto_reset is never):"));
    CHECK(d1 && strstr(d1, "2. Check what Kafka's tool would do (Kafka 3.x):\nkafka-streams-application-reset.sh "
                           "--bootstrap-servers b1.orders:9092,b2.orders:9092 --application-id app-v2 --input-topics orders "
                           "--internal-topics " V2_CL " --to-datetime 2026-11-24T09:50:00.000 --dry-run\n"));
    CHECK(d1 && strstr(d1, "3. Reset it:\nkafka-streams-application-reset.sh --bootstrap-servers b1.orders:9092,b2.orders:9092 "
                           "--application-id app-v2 --input-topics orders --internal-topics " V2_CL
                           " --to-datetime 2026-11-24T09:50:00.000\n"));
    CHECK(d1 && strstr(d1, "KafkaStreams#cleanUp()"));
    /* the manual apps stay marked; billing's mark says nobody was paged */
    CHECK_STR(mark_state(&c, "inc-1/1/app-v2"), "marked");
    CHECK_STR(mark_state(&c, "inc-1/1/billing"), "marked");
    json_t *b = mark(&c, "inc-1/1/billing");
    CHECK(json_is_false(json_object_get(json_object_get(b, "page"), "paged")));
    json_decref(b);
    /* the run waits for app only */
    CHECK_STR(kr_run_state_name(kr_run_state(run)), "running");
    kr_kafka_fake_set_group(c.fake, "app", "Empty", 0);
    CHECK(run_until(&c, MARK_APP, "done", 6));
    CHECK_STR(kr_run_state_name(kr_run_state(run)), "done");
    CHECK(strstr(kr_run_message(run), "app: done; app-v2: marked (manual reset); billing: marked (manual reset)"));
    ctx_free(&c);
}

KR_TEST(affected_from_the_lost_broker)
{
    ctx_t c;
    ctx_init(&c, NULL);
    kr_kafka_fake_set_group(c.fake, "app", "Stable", 1);
    /* the model says broker 3 held payments (app only); the event adds orders' partition */
    json_t *params = json_pack("{s:s,s:s}", "apps", "affected", "to", "latest");
    json_t *ev = event_json(3);
    kr_run_t *run = kr_runs_start(c.runs, "inc-2", 0, "mark_streams_reset", params, ev, 0, NULL);
    CHECK_STR(mark_state(&c, "inc-2/0/app"), "waiting-for-stop");
    CHECK_STR(mark_state(&c, "inc-2/0/app-v2"), "(none)");
    CHECK_STR(mark_state(&c, "inc-2/0/billing"), "(none)");
    json_decref(ev);
    ev = event_json(3);
    json_object_set_new(ev, "partitions", json_pack("{s:[{s:s,s:i}],s:[]}", "led", "topic", "orders", "partition", 1, "held"));
    kr_run_t *run2 = kr_runs_start(c.runs, "inc-3", 0, "mark_streams_reset", params, ev, 0, NULL);
    CHECK_STR(mark_state(&c, "inc-3/0/app"), "waiting-for-stop");
    CHECK_STR(mark_state(&c, "inc-3/0/app-v2"), "marked");
    json_t *m = mark(&c, "inc-3/0/app");
    CHECK_STR(json_string_value(json_object_get(json_object_get(m, "reset"), "to")), "latest");
    CHECK_STR(json_string_value(json_object_get(json_object_get(m, "reason"), "event_type")), "broker.left");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(m, "reason"), "broker")), 3);
    json_decref(m);
    /* a broker that held nothing of any app: nothing marked, the run is done */
    json_decref(ev);
    ev = event_json(9);
    kr_run_t *run3 = kr_runs_start(c.runs, "inc-4", 0, "mark_streams_reset", params, ev, 0, NULL);
    CHECK_STR(kr_run_state_name(kr_run_state(run3)), "done");
    CHECK(strstr(kr_run_message(run3), "no Streams app of cluster orders-prod uses a partition broker 9 led or held"));
    /* an unknown app fails the run and names the known ones */
    json_t *p2 = json_pack("{s:[s]}", "apps", "nosuch");
    kr_run_t *run4 = kr_runs_start(c.runs, "inc-5", 0, "mark_streams_reset", p2, ev, 0, NULL);
    CHECK_STR(kr_run_state_name(kr_run_state(run4)), "failed");
    CHECK_STR(kr_run_message(run4), "cluster orders-prod has no Streams app \"nosuch\" in streams_apps (known: app, app-v2, billing)");
    (void)run;
    (void)run2;
    json_decref(p2);
    json_decref(params);
    json_decref(ev);
    ctx_free(&c);
}

KR_TEST(dry_run_plans_and_changes_nothing)
{
    ctx_t c;
    ctx_init(&c, NULL);
    kr_kafka_fake_t *f = c.fake;
    kr_kafka_fake_set_group(f, "app", "Stable", 3); /* a dry run does not wait: it only looks */
    kr_run_t *run = start(&c, "{\"apps\":[\"app\"],\"to\":\"earliest\"}", 1);
    CHECK(run_until(&c, MARK_APP, "done", 3));
    CHECK_STR(kr_run_state_name(kr_run_state(run)), "done");
    CHECK_INT(calls_with(f, "commit app"), 0);
    CHECK_INT(calls_with(f, "delete_topics"), 0);
    CHECK_INT(kr_kafka_fake_committed(f, "app", "orders", 0), 90);
    CHECK_INT(kr_kafka_fake_committed(f, "app", "payments", 0), 39);
    CHECK(kr_kafka_fake_has_topic(f, APP_RP));
    CHECK_INT(json_array_size(c.pages), 0); /* owners are not paged by a dry run */
    json_t *m = mark(&c, MARK_APP);
    CHECK(json_is_true(json_object_get(m, "dry_run")));
    CHECK(strstr(json_string_value(json_object_get(m, "message")), "dry run: planned 4 offsets and 1 topic deletion; nothing changed"));
    json_t *plan = json_object_get(m, "plan");
    json_t *want = json_loads("[{\"topic\":\"orders\",\"partition\":0,\"current\":90,\"target\":0},"
                              "{\"topic\":\"orders\",\"partition\":1,\"current\":55,\"target\":10},"
                              "{\"topic\":\"payments\",\"partition\":0,\"current\":39,\"target\":0},"
                              "{\"topic\":\"app-through\",\"partition\":0,\"current\":3,\"target\":8}]", 0, NULL);
    CHECK_JSON(json_object_get(plan, "offsets"), want);
    CHECK(json_is_object(json_object_get(m, "page")));
    CHECK(strstr(json_string_value(json_object_get(json_object_get(m, "page"), "details")), "KafkaStreams#cleanUp()"));
    CHECK_INT(json_integer_value(json_object_get(json_object_get(m, "group"), "members")), 3);
    json_decref(want);
    json_decref(m);
    CHECK(kr_metrics_get(c.metrics, KR_M_streams_resets_total, "result=\"dry_run\"") == 1);
    ctx_free(&c);
}

KR_TEST(cancel_stops_polling)
{
    ctx_t c;
    ctx_init(&c, NULL);
    kr_kafka_fake_set_group(c.fake, "app", "Stable", 2);
    kr_run_t *run = start(&c, "{\"apps\":[\"app\"]}", 0);
    run_for(&c, 300);
    CHECK_STR(mark_state(&c, MARK_APP), "waiting-for-stop");
    CHECK_INT(kr_runs_cancel_incident(c.runs, "inc-1"), 1);
    CHECK_STR(mark_state(&c, MARK_APP), "cancelled");
    CHECK_STR(kr_run_state_name(kr_run_state(run)), "cancelled");
    int before = calls_with(c.fake, "describe_group");
    kr_kafka_fake_set_group(c.fake, "app", "Empty", 0);
    run_for(&c, 2500);
    CHECK_INT(calls_with(c.fake, "describe_group"), before);
    CHECK_INT(calls_with(c.fake, "commit app"), 0);
    ctx_free(&c);
}

KR_TEST(cancel_one_mark)
{
    ctx_t c;
    char err[256];
    ctx_init(&c, NULL);
    kr_kafka_fake_set_group(c.fake, "app", "Stable", 2);
    kr_run_t *run = start(&c, "{\"apps\":[\"app\",\"app-v2\"]}", 0);
    CHECK_STR(mark_state(&c, MARK_APP), "waiting-for-stop");
    CHECK_INT(kr_streams_mark_cancel(c.d.streams, "inc-1/1/nope", err, sizeof err), KR_ENOTFOUND);
    CHECK_STR(err, "no Streams reset mark inc-1/1/nope");
    /* the first describe is still in flight: the mark stops when it answers */
    CHECK_INT(kr_streams_mark_cancel(c.d.streams, MARK_APP, err, sizeof err), 0);
    CHECK_STR(mark_state(&c, MARK_APP), "waiting-for-stop");
    CHECK(run_until(&c, MARK_APP, "cancelled", 2));
    CHECK_STR(mark_state(&c, "inc-1/1/app-v2"), "marked");
    CHECK_STR(kr_run_state_name(kr_run_state(run)), "cancelled");
    CHECK_STR(kr_run_message(run), "app: cancelled; app-v2: marked (manual reset)");
    CHECK_INT(kr_streams_mark_cancel(c.d.streams, MARK_APP, err, sizeof err), KR_ESTATE);
    CHECK_STR(err, "mark inc-1/1/app is already cancelled");
    /* a manual mark can be closed too */
    CHECK_INT(kr_streams_mark_cancel(c.d.streams, "inc-1/1/app-v2", err, sizeof err), 0);
    CHECK_STR(mark_state(&c, "inc-1/1/app-v2"), "cancelled");
    int before = calls_with(c.fake, "describe_group");
    run_for(&c, 1500);
    CHECK_INT(calls_with(c.fake, "describe_group"), before);
    ctx_free(&c);
}

KR_TEST(describe_failures_never_reset)
{
    ctx_t c;
    ctx_init(&c, NULL);
    kr_kafka_fake_set_group(c.fake, "app", "Empty", 0);
    kr_kafka_fake_fail(c.fake, KR_KAFKA_DESCRIBE_GROUP, KR_EUNSUPPORTED, "DescribeGroups not supported by broker");
    start(&c, "{\"apps\":[\"app\"]}", 0);
    run_for(&c, 1500);
    CHECK_STR(mark_state(&c, MARK_APP), "waiting-for-stop");
    json_t *m = mark(&c, MARK_APP);
    CHECK(strstr(json_string_value(json_object_get(m, "message")),
                 "cannot confirm that group app has no members (DescribeGroups not supported by broker)"));
    CHECK(json_is_null(json_object_get(json_object_get(m, "group"), "members")));
    json_decref(m);
    CHECK_INT(calls_with(c.fake, "commit app"), 0);
    CHECK_INT(calls_with(c.fake, "list_topics"), 0);
    /* a request that never answers ends at its deadline and the wait goes on */
    ctx_free(&c);
}

KR_TEST(commit_failure_retries_then_fails)
{
    ctx_t c;
    ctx_init(&c, NULL);
    kr_kafka_fake_set_group(c.fake, "app", "Empty", 0);
    kr_kafka_fake_fail(c.fake, KR_KAFKA_COMMIT, KR_EIO, "Broker: coordinator not available");
    kr_run_t *run = start(&c, "{\"apps\":[\"app\"]}", 0);
    CHECK(run_until(&c, MARK_APP, "failed", 10));
    CHECK_INT(calls_with(c.fake, "commit app"), 3);
    CHECK_INT(calls_with(c.fake, "delete_topics"), 0);
    CHECK(kr_kafka_fake_has_topic(c.fake, APP_RP));
    CHECK_STR(kr_run_state_name(kr_run_state(run)), "failed");
    json_t *m = mark(&c, MARK_APP);
    CHECK(strstr(json_string_value(json_object_get(m, "message")),
                 "commit failed: Broker: coordinator not available (nothing was changed; attempt 3)"));
    json_decref(m);
    ctx_free(&c);
}

/* ------------------------------------------------------------------ restarts */

static int replay_cb(json_t *rec, void *arg)
{
    ctx_t *c = arg;
    kr_runs_replay(c->runs, rec);
    CHECK_INT(kr_streams_marks_replay(c->d.streams, rec), 0);
    return 0;
}

static int collect(json_t *rec, void *arg)
{
    return json_array_append(arg, rec) ? KR_ENOMEM : KR_OK;
}

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/kr-streams-action-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

KR_TEST(restart_resumes_waiting_from_the_journal)
{
    char *dir = tmpdir(), err[256];
    uint64_t last = 0;
    int torn = 0;
    ctx_t c;
    ctx_init(&c, dir);
    kr_kafka_fake_set_group(c.fake, "app", "Stable", 2);
    start(&c, "{\"apps\":[\"app\"],\"to\":\"incident-10m\"}", 0);
    run_for(&c, 1200);
    CHECK_STR(mark_state(&c, MARK_APP), "waiting-for-stop");
    json_t *before = mark(&c, MARK_APP);
    ctx_free(&c); /* the process stops */

    ctx_t r;
    ctx_init(&r, dir);
    CHECK_INT(kr_journal_replay(dir, replay_cb, &r, &last, &torn, err, sizeof err), 0);
    json_t *after = mark(&r, MARK_APP);
    CHECK_STR(json_string_value(json_object_get(after, "state")), "waiting-for-stop");
    /* the whole mark as it was, but for what a clock or a poll changes (each poll rewrites
     * the message with the time waited; the resumed mark polls at once) */
    {
        json_t *a = json_deep_copy(after), *b = json_deep_copy(before);
        const char *volatile_keys[] = { "waited", "waited_ms", "polls", "message" };
        for (size_t i = 0; i < N(volatile_keys); i++) {
            json_object_del(a, volatile_keys[i]);
            json_object_del(b, volatile_keys[i]);
        }
        CHECK_JSON(a, b);
        json_decref(a);
        json_decref(b);
    }
    CHECK_JSON(json_object_get(after, "reset"), json_object_get(before, "reset"));
    CHECK_JSON(json_object_get(after, "page"), json_object_get(before, "page"));
    CHECK_STR(json_string_value(json_object_get(after, "waiting_since")),
              json_string_value(json_object_get(before, "waiting_since")));
    /* what the group looked like last (journaled when it changed) */
    CHECK_JSON(json_object_get(after, "group"), json_object_get(before, "group"));
    CHECK_INT(json_integer_value(json_object_get(json_object_get(after, "group"), "members")), 2);
    json_decref(after);
    kr_kafka_fake_set_group(r.fake, "app", "Stable", 1);
    kr_runs_resume(r.runs);
    run_for(&r, 300);
    CHECK_STR(mark_state(&r, MARK_APP), "waiting-for-stop");
    CHECK_INT(json_array_size(r.pages), 0); /* paged before the restart: not again */
    CHECK_INT(calls_with(r.fake, "commit app"), 0);
    kr_kafka_fake_set_group(r.fake, "app", "Empty", 0);
    CHECK(run_until(&r, MARK_APP, "done", 6));
    after = mark(&r, MARK_APP);
    CHECK(json_integer_value(json_object_get(after, "waited_ms")) >= 1200);
    json_decref(after);
    json_decref(before);
    kr_run_t *run = kr_runs_find(r.runs, "inc-1/1");
    CHECK(run && kr_run_state(run) == KR_RUN_DONE);

    /* compaction: the snapshot records alone restore the mark */
    json_t *recs = json_array();
    CHECK_INT(kr_streams_marks_snapshot(r.d.streams, collect, recs), 0);
    json_t *want = mark(&r, MARK_APP);
    ctx_free(&r);
    ctx_t s;
    ctx_init(&s, NULL);
    for (size_t i = 0; i < json_array_size(recs); i++)
        CHECK_INT(kr_streams_marks_replay(s.d.streams, json_array_get(recs, i)), 0);
    json_t *got = mark(&s, MARK_APP);
    json_object_del(want, "waited");
    json_object_del(got, "waited");
    CHECK_JSON(got, want);
    json_decref(got);
    json_decref(want);
    json_decref(recs);
    ctx_free(&s);
    free(dir);
}

KR_TEST(interrupted_reset_is_replanned_and_never_deletes_unplanned_topics)
{
    char *dir = tmpdir(), err[256];
    uint64_t last = 0;
    int torn = 0;
    ctx_t c;
    ctx_init(&c, dir);
    kr_kafka_fake_set_group(c.fake, "app", "Empty", 0);
    /* the delete hangs: the process stops while the mark is resetting, offsets committed */
    kr_kafka_fake_fail(c.fake, KR_KAFKA_DELETE_TOPICS, KR_ETIMEDOUT, NULL);
    start(&c, "{\"apps\":[\"app\"],\"to\":\"incident-10m\"}", 0);
    int64_t end = kr_mono_ms() + 3000;
    while (calls_with(c.fake, "delete_topics") == 0 && kr_mono_ms() < end)
        run_for(&c, 20);
    CHECK_STR(mark_state(&c, MARK_APP), "resetting");
    int64_t committed0 = kr_kafka_fake_committed(c.fake, "app", "orders", 0);
    ctx_free(&c);

    ctx_t r;
    ctx_init(&r, dir);
    CHECK_INT(kr_journal_replay(dir, replay_cb, &r, &last, &torn, err, sizeof err), 0);
    CHECK_STR(mark_state(&r, MARK_APP), "resetting");
    /* Kafka's state now: the commit had happened; the repartition topic is still there, and an
     * operator meanwhile deleted the changelog-looking topic of app-v2 and created a new one */
    kr_kafka_fake_set_committed(r.fake, "app", "orders", 0, committed0);
    kr_kafka_fake_add_topic(r.fake, "app-KTABLE-SOURCE-STATE-STORE-0000000009-changelog", 1);
    kr_kafka_fake_set_group(r.fake, "app", "Empty", 0);
    kr_runs_resume(r.runs);
    CHECK(run_until(&r, MARK_APP, "done", 6));
    CHECK_INT(kr_kafka_fake_committed(r.fake, "app", "orders", 0), committed0);
    CHECK(!kr_kafka_fake_has_topic(r.fake, APP_RP));
    CHECK(kr_kafka_fake_has_topic(r.fake, V2_CL));
    CHECK(kr_kafka_fake_has_topic(r.fake, "app-KTABLE-SOURCE-STATE-STORE-0000000009-changelog"));
    CHECK_INT(calls_with(r.fake, "describe_group app"), 2); /* waited again, then confirmed */
    json_t *m = mark(&r, MARK_APP);
    int saw_resume = 0;
    json_t *steps = json_object_get(m, "steps");
    for (size_t i = 0; i < json_array_size(steps); i++)
        saw_resume |= !strcmp(json_string_value(json_object_get(json_array_get(steps, i), "step")), "resume");
    CHECK(saw_resume);
    json_decref(m);
    ctx_free(&r);
    free(dir);
}
