/* bench/streams_plan.c: time of the pure Streams reset planner (kr_streams_plan) on one
 * application at growing sizes: input topics of many partitions, every partition committed
 * and resolved, in a cluster of 2,000 other topics of which 10% are named like the
 * application's internal topics (half of them another app's). Prints the median of the
 * runs per size; always exits 0.
 *
 *   build/bench/streams_plan [runs]      (default 7) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kr/streams.h"

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

static void run(int n_inputs, int partitions, int runs)
{
    enum { OTHER = 2000 };
    size_t n_topics = (size_t)n_inputs + OTHER, total = (size_t)n_inputs * partitions;
    char **names = calloc(n_topics, sizeof *names);
    kr_streams_topic_t *topics = calloc(n_topics, sizeof *topics);
    kr_streams_committed_t *committed = calloc(total + OTHER, sizeof *committed);
    kr_streams_resolved_t *resolved = calloc(total, sizeof *resolved);
    const char **inputs = calloc((size_t)n_inputs, sizeof *inputs);
    double *ms = calloc((size_t)runs, sizeof *ms);
    size_t nc = 0, nr = 0, deleted = 0;
    char err[256];

    for (size_t i = 0; i < n_topics; i++) {
        char buf[128];
        if ((int)i < n_inputs)
            snprintf(buf, sizeof buf, "orders-%03zu", i);
        else if (i % 20 == 0)
            snprintf(buf, sizeof buf, "app-KSTREAM-AGGREGATE-STATE-STORE-%010zu-repartition", i);
        else if (i % 20 == 1)
            snprintf(buf, sizeof buf, "app-v2-KSTREAM-AGGREGATE-STATE-STORE-%010zu-changelog", i);
        else
            snprintf(buf, sizeof buf, "other-topic-%05zu", i);
        names[i] = strdup(buf);
        topics[i].name = names[i];
        topics[i].partitions = (int)i < n_inputs ? partitions : 6;
        if (i % 20 == 0 && (int)i >= n_inputs)
            committed[nc++] = (kr_streams_committed_t){ names[i], 0, 42 };
    }
    for (int t = 0; t < n_inputs; t++) {
        inputs[t] = names[t];
        for (int p = 0; p < partitions; p++) {
            committed[nc++] = (kr_streams_committed_t){ names[t], p, 1000 + p };
            resolved[nr++] = (kr_streams_resolved_t){ names[t], p, 0, 5000, p % 7 ? 2500 : -1 };
        }
    }
    /* the caller's arrays come in no particular order */
    for (size_t i = nc; i > 1; i--) {
        size_t j = (size_t)rand() % i;
        kr_streams_committed_t tmp = committed[i - 1];
        committed[i - 1] = committed[j];
        committed[j] = tmp;
    }
    kr_streams_input_t in;
    memset(&in, 0, sizeof in);
    in.application_id = "app";
    in.input_topics = inputs;
    in.n_input = (size_t)n_inputs;
    in.topics = topics;
    in.n_topics = n_topics;
    in.committed = committed;
    in.n_committed = nc;
    in.resolved = resolved;
    in.n_resolved = nr;
    in.spec.kind = KR_STREAMS_TO_DATETIME;
    in.spec.time_ms = 1795514400000LL;
    for (int r = 0; r < runs; r++) {
        kr_streams_plan_t *plan = NULL;
        double t0 = now_ms();
        if (kr_streams_plan(&in, &plan, err, sizeof err) != 0) {
            fprintf(stderr, "bench: %s\n", err);
            break;
        }
        ms[r] = now_ms() - t0;
        deleted = plan->n_delete;
        kr_streams_plan_free(plan);
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    printf("streams_plan: %3d inputs x %5d partitions = %7zu partitions, %zu topics, "
           "%zu to delete: median %.2f ms (min %.2f, max %.2f)\n", n_inputs, partitions, total,
           n_topics, deleted, ms[runs / 2], ms[0], ms[runs - 1]);
    for (size_t i = 0; i < n_topics; i++)
        free(names[i]);
    free(names);
    free(topics);
    free(committed);
    free(resolved);
    free(inputs);
    free(ms);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (runs < 1)
        runs = 1;
    srand(7);
    run(1, 12, runs);
    run(4, 64, runs);
    run(10, 1000, runs);
    run(24, 1000, runs); /* 24,000 partitions: the whole fleet's size */
    return 0;
}
