/* bench/streams_mark.c: one mark_streams_reset run end to end on the loop, through the
 * action kind and the marks' state machine, against the fake Kafka (which answers from the
 * loop with no network): from the run's start (group already empty) to the mark's `done`,
 * i.e. describe, list topics, committed offsets, watermarks, offsets for times, plan,
 * describe again, commit, delete. It measures kresponder's own cost of a reset (request
 * building, result copies, the plan, journal-free bookkeeping) at growing input sizes;
 * with a real cluster the Kafka round trips add to it. Prints the median per size.
 * At 24,000 partitions the fake itself dominates (perf --call-graph dwarf: 87% in
 * fake_start, its call log built with asprintf per partition, and its linear commit
 * lookups); the marks' own share there (plan, plan JSON, result copies, steps) is
 * about 1.5%, some 30 ms.
 *
 *   build/bench/streams_mark [runs]      (default 5) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "kr/config.h"
#include "kr/daemon.h"
#include "kr/err.h"
#include "kr/kafka.h"
#include "kr/log.h"
#include "kr/runs.h"
#include "kr/streams_marks.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    kr_kafka_t *k;
} hook_t;

static kr_kafka_t *kafka_hook(const char *cluster, const char *bootstrap, void *arg, char *err, size_t errlen)
{
    hook_t *h = arg;
    kr_kafka_t *k = h->k;
    (void)cluster;
    (void)bootstrap;
    h->k = NULL;
    if (!k)
        kr_seterr(err, errlen, KR_EINVAL, "no client");
    return k;
}

/* One run; returns ms from start to done, or -1. */
static double one(int n_inputs, int partitions, size_t *offsets)
{
    size_t cap = 256 + (size_t)n_inputs * 16;
    char *yaml = malloc(cap), err[512];
    size_t off = (size_t)snprintf(yaml, cap, "clusters:\n  - name: c\n    zookeeper: \"z:2181\"\n"
                                  "    bootstrap_servers: \"b:9092\"\n    streams_apps:\n"
                                  "      - application_id: app\n        auto_reset: when-stopped\n"
                                  "        input_topics: [");
    for (int i = 0; i < n_inputs; i++)
        off += (size_t)snprintf(yaml + off, cap - off, "%sin-%05d", i ? "," : "", i);
    snprintf(yaml + off, cap - off, "]\n");
    kr_config_t *cfg = kr_config_parse("bench.yaml", yaml, strlen(yaml), err, sizeof err);
    free(yaml);
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    struct event_base *base = event_base_new();
    kr_daemon_t d;
    memset(&d, 0, sizeof d);
    d.cfg = cfg;
    d.base = base;
    d.streams = kr_streams_marks_new(base, cfg, NULL, NULL);
    kr_runs_t *runs = kr_runs_new(NULL, &d);
    kr_kafka_fake_t *f;
    hook_t h = { kr_kafka_fake_new(base, &f) };
    char name[32];
    for (int i = 0; i < n_inputs; i++) {
        snprintf(name, sizeof name, "in-%05d", i);
        kr_kafka_fake_add_topic(f, name, partitions);
        for (int p = 0; p < partitions; p++) {
            kr_kafka_fake_set_partition(f, name, p, 0, 1000, 1795513700000LL, 1000);
            kr_kafka_fake_set_committed(f, "app", name, p, 900);
        }
    }
    kr_kafka_fake_add_topic(f, "app-store-changelog", partitions);
    kr_kafka_fake_add_topic(f, "app-store-repartition", partitions);
    kr_kafka_fake_set_committed(f, "app", "app-store-repartition", 0, 5);
    kr_kafka_fake_set_group(f, "app", "Empty", 0);
    kr_streams_hooks_t hooks = { .kafka = kafka_hook, .arg = &h };
    kr_streams_marks_set_hooks(d.streams, &hooks);

    json_t *params = json_pack("{s:[s],s:s}", "apps", "app", "to", "incident-10m");
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s}", "id", "x", "type", "broker.left", "time",
                           "2026-11-24T10:00:00Z", "cluster", "c");
    double t0 = now_ms(), took = -1;
    kr_run_t *run = kr_runs_start(runs, "inc", 0, "mark_streams_reset", params, ev, 0, NULL);
    while (run && kr_run_state(run) == KR_RUN_RUNNING)
        event_base_loop(base, EVLOOP_ONCE);
    if (run && kr_run_state(run) == KR_RUN_DONE)
        took = now_ms() - t0;
    else
        fprintf(stderr, "run ended %s: %s\n", run ? kr_run_state_name(kr_run_state(run)) : "?",
                run ? kr_run_message(run) : "");
    json_t *m = kr_streams_mark_json(d.streams, "inc/0/app");
    *offsets = json_array_size(json_object_get(json_object_get(m, "plan"), "offsets"));
    json_decref(m);
    json_decref(params);
    json_decref(ev);
    kr_streams_marks_free(d.streams);
    kr_kafka_free(h.k);
    kr_runs_free(runs);
    event_base_free(base);
    kr_config_free(cfg);
    return took;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    static const int sizes[][2] = { { 10, 24 }, { 100, 24 }, { 1000, 24 } };
    if (runs < 1)
        runs = 5;
    kr_log_set_level_name("warn");
    printf("streams_mark: one reset through the marks on the fake Kafka, start -> done (median of %d)\n", runs);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        double *ms = calloc((size_t)runs, sizeof *ms);
        size_t offsets = 0;
        for (int r = 0; r < runs; r++)
            ms[r] = one(sizes[s][0], sizes[s][1], &offsets);
        qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
        printf("  %5d input topics x %d partitions = %6zu offsets reset: %8.2f ms\n", sizes[s][0],
               sizes[s][1], offsets, ms[runs / 2]);
        free(ms);
    }
    return 0;
}
