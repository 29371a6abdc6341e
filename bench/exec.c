/* bench/exec.c: the `exec` action's costs on the loop thread: how long start blocks the
 * loop (posix_spawn) and start-to-finish for /bin/true, N programs started at once, output
 * capture throughput (256 MiB of stdout, 64 KiB kept) and a 16 MiB event on stdin.
 * Usage: build/bench/exec [SEQUENTIAL=500] [CONCURRENT=100]. One line per measurement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "kr/daemon.h"
#include "kr/log.h"
#include "kr/runs.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs the loop until every run is final. */
static void pump(kr_daemon_t *d, kr_run_t **rs, int n)
{
    for (;;) {
        int done = 0;
        for (int i = 0; i < n; i++)
            done += kr_run_state(rs[i]) >= KR_RUN_DONE;
        if (done == n)
            return;
        event_base_loop(d->base, EVLOOP_ONCE);
    }
}

static kr_run_t *start(kr_runs_t *runs, const char *incident, const char *params_json, const json_t *ev)
{
    json_t *params = json_loads(params_json, 0, NULL);
    kr_run_t *r = kr_runs_start(runs, incident, 0, "exec", params, ev, 0, NULL);
    json_decref(params);
    return r;
}

int main(int argc, char **argv)
{
    int nseq = argc > 1 ? atoi(argv[1]) : 500, nconc = argc > 2 ? atoi(argv[2]) : 100;
    kr_daemon_t d;
    char inc[32];
    int rc = 1;
    if (nseq < 1 || nconc < 1) {
        fprintf(stderr, "usage: exec [SEQUENTIAL] [CONCURRENT]\n");
        return 2;
    }
    kr_log_set_level_name("error");
    memset(&d, 0, sizeof d);
    d.base = event_base_new();
    kr_runs_t *runs = kr_runs_new(NULL, &d);
    json_t *ev = json_pack("{s:s,s:s,s:{s:i}}", "id", "bench", "type", "alert", "broker", "id", 3);
    double *blocked = calloc((size_t)nseq, sizeof *blocked), *total = calloc((size_t)nseq, sizeof *total);
    kr_run_t **rs = calloc((size_t)nconc, sizeof *rs);
    if (!d.base || !runs || !ev || !blocked || !total || !rs)
        goto done;

    for (int i = 0; i < nseq; i++) {
        snprintf(inc, sizeof inc, "seq-%d", i);
        double t0 = now_us();
        kr_run_t *r = start(runs, inc, "{\"argv\": [\"/bin/true\"]}", ev);
        blocked[i] = now_us() - t0;
        pump(&d, &r, 1);
        total[i] = now_us() - t0;
        if (kr_run_state(r) != KR_RUN_DONE) {
            fprintf(stderr, "exec: /bin/true: %s\n", kr_run_message(r));
            goto done;
        }
    }
    qsort(blocked, (size_t)nseq, sizeof *blocked, cmp_double);
    qsort(total, (size_t)nseq, sizeof *total, cmp_double);
    printf("exec /bin/true x%d one at a time: start blocks the loop p50 %.0f us p99 %.0f us; "
           "start to finish p50 %.0f us p99 %.0f us\n", nseq, blocked[nseq / 2],
           blocked[nseq * 99 / 100], total[nseq / 2], total[nseq * 99 / 100]);

    double t0 = now_us();
    for (int i = 0; i < nconc; i++) {
        snprintf(inc, sizeof inc, "conc-%d", i);
        rs[i] = start(runs, inc, "{\"argv\": [\"/bin/cat\"]}", ev);
    }
    double t1 = now_us();
    pump(&d, rs, nconc);
    printf("exec /bin/cat x%d at once: all started in %.1f ms, all finished in %.1f ms\n", nconc,
           (t1 - t0) / 1e3, (now_us() - t0) / 1e3);

    t0 = now_us();
    kr_run_t *r = start(runs, "out", "{\"argv\": [\"/usr/bin/head\", \"-c\", \"268435456\", \"/dev/zero\"], "
                                     "\"timeout\": \"60s\"}", ev);
    pump(&d, &r, 1);
    t1 = now_us();
    printf("exec 256 MiB of stdout (64 KiB kept): %.0f ms, %.0f MiB/s (%s)\n", (t1 - t0) / 1e3,
           256.0 / ((t1 - t0) / 1e6), kr_run_message(r));

    size_t big = 16u << 20;
    char *blob = malloc(big + 1);
    if (!blob)
        goto done;
    memset(blob, 'x', big);
    blob[big] = 0;
    json_t *ev2 = json_pack("{s:s,s:s}", "id", "big", "blob", blob);
    free(blob);
    t0 = now_us();
    r = start(runs, "in", "{\"argv\": [\"/usr/bin/wc\", \"-c\"], \"timeout\": \"60s\"}", ev2);
    pump(&d, &r, 1);
    printf("exec 16 MiB event on stdin to wc -c: %.0f ms (%s)\n", (now_us() - t0) / 1e3, kr_run_message(r));
    json_decref(ev2);
    rc = 0;
done:
    free(blocked);
    free(total);
    free(rs);
    json_decref(ev);
    kr_runs_free(runs);
    if (d.base)
        event_base_free(d.base);
    return rc;
}
