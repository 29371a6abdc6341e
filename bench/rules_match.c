/* bench/rules_match.c: events/s through kr_ruleset_match with 10, 1,000 and 10,000
 * generated rules. Realistic shape: 90% of rules constrain `type` to literal values (and
 * cluster, alarm metric, broker id), 5% constrain only `source`, 5% neither (cluster and a
 * prefix), the way SRE rule files look. Each set is also timed with the index bypassed
 * (the event's `type` wrapped in a one-element array matches the same rules but forces a
 * scan of every rule), to show what the index buys. Prints one line per set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kr/rules.h"

#define NTYPES 40
#define NCLUSTERS 30
#define NEVENTS 1000

static const char *const sources[] = { "aws.sns", "aws.events", "alertmanager", "zookeeper" };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned rnd(unsigned *s, unsigned m)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) % m;
}

static char *gen_rules(int n, size_t *len)
{
    size_t cap = (size_t)n * 400 + 1024, used = 0;
    char *buf = malloc(cap);
    unsigned seed = 7;
    for (int i = 0; i < n; i++) {
        unsigned kind = rnd(&seed, 100);
        const char *match;
        char m[300];
        if (kind < 90) {
            snprintf(m, sizeof m,
                     "{type: [t%u.event], cluster: [c%u, c%u], alarm.metric: [{prefix: StatusCheck}, CPUUtilization],"
                     " broker.id: [{numeric: [\">=\", %u]}]}",
                     rnd(&seed, NTYPES), rnd(&seed, NCLUSTERS), rnd(&seed, NCLUSTERS), rnd(&seed, 2000));
        } else if (kind < 95) {
            snprintf(m, sizeof m, "{source: [%s], labels.alertname: [A%u]}", sources[rnd(&seed, 4)], rnd(&seed, 50));
        } else {
            snprintf(m, sizeof m, "{cluster: [c%u], instance.id: [{prefix: i-0%x}]}", rnd(&seed, NCLUSTERS),
                     rnd(&seed, 16));
        }
        match = m;
        used += (size_t)snprintf(buf + used, cap - used,
                                 "- name: r%d\n  match: %s\n  for: 3m\n  actions:\n    - log: {message: \"b{{broker.id}}\"}\n",
                                 i, match);
    }
    *len = used;
    return buf;
}

static int count_cb(const kr_rule_t *r, void *arg)
{
    (void)r;
    (*(long *)arg)++;
    return 0;
}

int main(int argc, char **argv)
{
    static const int sizes[] = { 10, 1000, 10000 };
    json_t *events[NEVENTS], *scan[NEVENTS];
    unsigned seed = 99;
    double min_s = argc > 1 ? atof(argv[1]) : 0.5;

    for (int i = 0; i < NEVENTS; i++) {
        char type[32], cluster[16], iid[32];
        snprintf(type, sizeof type, "t%u.event", rnd(&seed, NTYPES));
        snprintf(cluster, sizeof cluster, "c%u", rnd(&seed, NCLUSTERS));
        snprintf(iid, sizeof iid, "i-0%x%07x", rnd(&seed, 16), rnd(&seed, 1u << 24));
        events[i] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:i, s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s}}",
                              "id", "eb:x", "source", sources[rnd(&seed, 4)], "type", type, "state", "firing",
                              "cluster", cluster, "broker", "id", (int)rnd(&seed, 2000), "host", "10.0.0.1",
                              "instance", "id", iid, "alarm", "metric",
                              rnd(&seed, 2) ? "StatusCheckFailed_System" : "CPUUtilization", "name", "a",
                              "labels", "alertname", "A1");
        scan[i] = json_deep_copy(events[i]);
        json_object_set_new(scan[i], "type", json_pack("[s]", type));
    }
    printf("%-8s %14s %14s %12s\n", "rules", "events/s", "no-index ev/s", "matches/ev");
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t len;
        char *y = gen_rules(sizes[k], &len), err[4096];
        kr_ruleset_t *rs = kr_ruleset_parse("bench.yaml", y, len, err, sizeof err);
        if (!rs) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        double rate[2];
        long matches = 0, evs = 0;
        for (int mode = 0; mode < 2; mode++) {
            json_t **ev = mode ? scan : events;
            long n = 0, hits = 0;
            double t0 = now_s(), t;
            do {
                for (int i = 0; i < NEVENTS; i++)
                    kr_ruleset_match(rs, ev[i], count_cb, &hits);
                n += NEVENTS;
            } while ((t = now_s() - t0) < min_s);
            rate[mode] = (double)n / t;
            if (!mode) {
                matches = hits;
                evs = n;
            } else if (hits * evs != matches * n) {
                fprintf(stderr, "bench: the index changed the answer (%ld vs %ld)\n", hits, matches);
                return 1;
            }
        }
        printf("%-8d %14.0f %14.0f %12.2f\n", sizes[k], rate[0], rate[1], (double)matches / (double)evs);
        kr_ruleset_decref(rs);
        free(y);
    }
    for (int i = 0; i < NEVENTS; i++) {
        json_decref(events[i]);
        json_decref(scan[i]);
    }
    return 0;
}
