/* bench/cluster_load.c: the cluster model at fleet scale against a real ZooKeeper:
 * (1) how long a new session takes to read 160 brokers, 5,000 topics and 24,000 partition
 * states into the model (target <= 2 s), and (2) the time from a broker registration's
 * deletion to its broker.left event being durable in the journal (target p99 <= 50 ms).
 *
 * ZooKeeper: KR_BENCH_ZK=host:port (an empty server), or one started here with
 * tests/zk/zk.sh. The cluster is written with pipelined async creates exactly as Kafka
 * lays it out (v5 registrations, v3 topics, partition states). The events go through a
 * real journal with group commit, like kr_daemon_accept does. Env: KR_BENCH_KILLS (200),
 * KR_BENCH_LOADS (3). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "kr/cluster.h"
#include "kr/config.h"
#include "kr/journal.h"
#include "kr/log.h"

#define BROKERS 160
#define TOPICS 5000
#define TOPICS_5P 4000 /* 4,000 x 5 + 1,000 x 4 = 24,000 partitions */
#define RF 3
#define WINDOW 4000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- writing the cluster (a plain client session, pipelined creates) ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int outstanding, failures;

static void create_done(int rc, const char *value, const void *data)
{
    (void)value;
    (void)data;
    pthread_mutex_lock(&mu);
    outstanding--;
    if (rc != ZOK && rc != ZNODEEXISTS)
        failures++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void create(zhandle_t *zh, const char *path, const char *data, int mode)
{
    pthread_mutex_lock(&mu);
    while (outstanding >= WINDOW)
        pthread_cond_wait(&cv, &mu);
    outstanding++;
    pthread_mutex_unlock(&mu);
    if (zoo_acreate(zh, path, data, data ? (int)strlen(data) : -1, &ZOO_OPEN_ACL_UNSAFE, mode,
                    create_done, NULL) != ZOK) {
        pthread_mutex_lock(&mu);
        outstanding--;
        failures++;
        pthread_mutex_unlock(&mu);
    }
}

static void drain(void)
{
    pthread_mutex_lock(&mu);
    while (outstanding > 0)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void writer_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh; (void)type; (void)state; (void)path; (void)ctx;
}

static zhandle_t *connect_writer(const char *connect)
{
    zhandle_t *zh = zookeeper_init(connect, writer_watcher, 30000, NULL, NULL, 0);
    for (int i = 0; zh && i < 200 && zoo_state(zh) != ZOO_CONNECTED_STATE; i++)
        usleep(50000);
    if (zh && zoo_state(zh) != ZOO_CONNECTED_STATE) {
        zookeeper_close(zh);
        zh = NULL;
    }
    return zh;
}

static void broker_json(int id, char *buf, size_t len)
{
    snprintf(buf, len,
             "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
             "\"endpoints\":[\"PLAINTEXT://b%d.kafka.example:9092\"],\"jmx_port\":-1,"
             "\"port\":9092,\"host\":\"b%d.kafka.example\",\"version\":5,"
             "\"timestamp\":\"1795460544000\",\"rack\":\"az%d\"}", id, id, id % 3 + 1);
}

static int populate(zhandle_t *zh, long *partitions)
{
    char path[256], data[1024];
    double t0 = now_ms();
    long parts = 0;
    create(zh, "/brokers", NULL, 0);
    create(zh, "/brokers/ids", NULL, 0);
    create(zh, "/brokers/topics", NULL, 0);
    create(zh, "/controller", "{\"version\":1,\"brokerid\":1,\"timestamp\":\"1795460544000\"}", 1);
    for (int id = 1; id <= BROKERS; id++) {
        snprintf(path, sizeof path, "/brokers/ids/%d", id);
        broker_json(id, data, sizeof data);
        create(zh, path, data, ZOO_EPHEMERAL);
    }
    for (int t = 0; t < TOPICS; t++) {
        int np = t < TOPICS_5P ? 5 : 4;
        size_t used = (size_t)snprintf(data, sizeof data, "{\"version\":3,\"topic_id\":"
                                       "\"AAAAAAAAAAAAAAAAAAAA%02d\",\"partitions\":{", t % 100);
        int reps[5][RF];
        for (int p = 0; p < np; p++) {
            for (int r = 0; r < RF; r++)
                reps[p][r] = (t * 7 + p + r * 53) % BROKERS + 1;
            used += (size_t)snprintf(data + used, sizeof data - used, "%s\"%d\":[%d,%d,%d]",
                                     p ? "," : "", p, reps[p][0], reps[p][1], reps[p][2]);
        }
        snprintf(data + used, sizeof data - used, "},\"adding_replicas\":{},\"removing_replicas\":{}}");
        snprintf(path, sizeof path, "/brokers/topics/bench-%05d", t);
        create(zh, path, data, 0);
        snprintf(path, sizeof path, "/brokers/topics/bench-%05d/partitions", t);
        create(zh, path, NULL, 0);
        for (int p = 0; p < np; p++) {
            snprintf(path, sizeof path, "/brokers/topics/bench-%05d/partitions/%d", t, p);
            create(zh, path, NULL, 0);
            snprintf(path, sizeof path, "/brokers/topics/bench-%05d/partitions/%d/state", t, p);
            snprintf(data, sizeof data, "{\"controller_epoch\":1,\"leader\":%d,\"version\":1,"
                     "\"leader_epoch\":0,\"isr\":[%d,%d,%d]}", reps[p][0], reps[p][0], reps[p][1],
                     reps[p][2]);
            create(zh, path, data, 0);
            parts++;
        }
    }
    drain();
    *partitions = parts;
    fprintf(stderr, "cluster_load: wrote %d brokers, %d topics, %ld partitions in %.0f ms "
            "(failures %d)\n", BROKERS, TOPICS, parts, now_ms() - t0, failures);
    return failures ? -1 : 0;
}

/* The floor: the same reads (topics and states) with a bare client and no processing. */
static void raw_done(int rc, const char *value, int len, const struct Stat *stat, const void *data)
{
    (void)value; (void)len; (void)stat; (void)data;
    create_done(rc, NULL, NULL);
}

static double raw_read_ms(zhandle_t *zh)
{
    char path[256];
    double t0 = now_ms();
    for (int t = 0; t < TOPICS; t++) {
        int np = t < TOPICS_5P ? 5 : 4;
        for (int p = -1; p < np; p++) {
            if (p < 0)
                snprintf(path, sizeof path, "/brokers/topics/bench-%05d", t);
            else
                snprintf(path, sizeof path, "/brokers/topics/bench-%05d/partitions/%d/state", t, p);
            pthread_mutex_lock(&mu);
            while (outstanding >= WINDOW * 8)
                pthread_cond_wait(&cv, &mu);
            outstanding++;
            pthread_mutex_unlock(&mu);
            if (zoo_aget(zh, path, 0, raw_done, NULL) != ZOK)
                create_done(ZSYSTEMERROR, NULL, NULL);
        }
    }
    drain();
    return now_ms() - t0;
}

/* ---- the measured side: the cluster module on a loop, events into a journal ---- */

typedef struct {
    struct event_base *base;
    kr_journal_t *journal;
    int victim;          /* broker whose events we wait for */
    int want_left, want_joined;
    double t_left, t_joined;
    long events;
} bench_t;

typedef struct {
    bench_t *b;
    int kind; /* 1 the victim's broker.left, 2 its broker.joined, 0 other */
} pending_t;

static void durable_cb(int rc, uint64_t seq, void *arg)
{
    pending_t *p = arg;
    (void)seq;
    if (rc == 0 && p->kind == 1)
        p->b->t_left = now_ms();
    if (rc == 0 && p->kind == 2)
        p->b->t_joined = now_ms();
    free(p);
}

static int emit(const json_t *events, void *arg)
{
    bench_t *b = arg;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        int id = (int)json_integer_value(json_object_get(json_object_get(ev, "broker"), "id"));
        pending_t *p = calloc(1, sizeof *p);
        json_t *rec = json_pack("{s:s,s:O}", "kind", "event", "event", ev);
        if (!p || !rec) {
            free(p);
            json_decref(rec);
            return -1;
        }
        p->b = b;
        if (type && id == b->victim && strcmp(type, "broker.left") == 0)
            p->kind = 1;
        if (type && id == b->victim && strcmp(type, "broker.joined") == 0)
            p->kind = 2;
        if (kr_journal_append(b->journal, rec, durable_cb, p, NULL) != 0)
            free(p);
        json_decref(rec);
        b->events++;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void delete_done(int rc, const void *data)
{
    (void)rc;
    (void)data;
}

static int wait_flag(bench_t *b, double *t, double timeout_ms)
{
    double end = now_ms() + timeout_ms;
    while (*t == 0 && now_ms() < end)
        event_base_loop(b->base, EVLOOP_ONCE);
    return *t != 0 ? 0 : -1;
}

int main(void)
{
    const char *zk = getenv("KR_BENCH_ZK");
    char zkdir[] = "/tmp/kr-bench-zk-XXXXXX", tmp[] = "/tmp/kr-bench-XXXXXX";
    char connect[256] = "", cmd[1024], path[512], err[1024] = "", data[1024];
    int kills = getenv("KR_BENCH_KILLS") ? atoi(getenv("KR_BENCH_KILLS")) : 200;
    int loads = getenv("KR_BENCH_LOADS") ? atoi(getenv("KR_BENCH_LOADS")) : 3;
    int started_zk = 0, rc = 1;
    zhandle_t *writer = NULL;
    kr_config_t *cfg = NULL;
    bench_t b = { 0 };
    double *lat = NULL, load_wall[16], load_model[16];
    long partitions = 0;
    double raw_ms = 0;
    FILE *f;

    if (kills < 1 || loads < 1 || loads > 16)
        return 2;
    if (evthread_use_pthreads() != 0 || !mkdtemp(tmp))
        return 1;
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    kr_log_set_level_name(getenv("KR_BENCH_LOG") ? getenv("KR_BENCH_LOG") : "warn");
    if (zk) {
        snprintf(connect, sizeof connect, "%s", zk);
    } else {
        if (!mkdtemp(zkdir))
            return 1;
        snprintf(cmd, sizeof cmd, "tests/zk/zk.sh start %s", zkdir);
        if (!(f = popen(cmd, "r")))
            return 1;
        while (fgets(data, sizeof data, f))
            if (strncmp(data, "127.0.0.1:", 10) == 0)
                snprintf(connect, sizeof connect, "%.*s", (int)strcspn(data, "\n"), data);
        if (pclose(f) != 0 || !connect[0]) {
            fprintf(stderr, "cluster_load: cannot start ZooKeeper (tests/zk/zk.sh); skipped\n");
            return 0;
        }
        started_zk = 1;
    }
    if (!(writer = connect_writer(connect))) {
        fprintf(stderr, "cluster_load: cannot connect to %s\n", connect);
        goto done;
    }
    if (populate(writer, &partitions) != 0)
        goto done;
    raw_ms = raw_read_ms(writer);

    snprintf(path, sizeof path, "%s/c.yaml", tmp);
    if (!(f = fopen(path, "w")))
        goto done;
    fprintf(f, "listen: 127.0.0.1:0\njournal_dir: journal\nclusters:\n"
               "  - name: bench\n    zookeeper: \"%s\"\n    session_timeout: 18s\n"
               "    stacks: {blue: 1-1000, green: 1001-2000}\n", connect);
    fclose(f);
    if (!(cfg = kr_config_load(path, err, sizeof err))) {
        fprintf(stderr, "cluster_load: %s\n", err);
        goto done;
    }
    b.base = event_base_new();
    snprintf(path, sizeof path, "%s/journal", tmp);
    if (!b.base || !(b.journal = kr_journal_open(b.base, path, err, sizeof err))) {
        fprintf(stderr, "cluster_load: %s\n", err);
        goto done;
    }

    /* (1) load: a fresh context (a new session) reads everything */
    for (int run = 0; run < loads; run++) {
        kr_clusters_t *cl = kr_clusters_new(b.base, cfg, NULL, emit, &b, err, sizeof err);
        kr_cluster_t *c;
        double t0 = now_ms();
        json_t *j;
        if (!cl || kr_clusters_start(cl, err, sizeof err) != 0) {
            fprintf(stderr, "cluster_load: %s\n", err);
            kr_clusters_free(cl);
            goto done;
        }
        c = kr_clusters_at(cl, 0);
        while (!kr_cluster_synced(c) && now_ms() - t0 < 60000)
            event_base_loop(b.base, EVLOOP_ONCE);
        load_wall[run] = now_ms() - t0;
        j = kr_cluster_json(c, 0);
        load_model[run] = (double)json_integer_value(json_object_get(j, "load_ms"));
        if (!kr_cluster_synced(c) ||
            json_integer_value(json_object_get(j, "partitions")) != partitions ||
            json_integer_value(json_object_get(j, "brokers_alive")) != BROKERS ||
            json_integer_value(json_object_get(j, "topics")) != TOPICS ||
            json_integer_value(json_object_get(j, "under_replicated_partitions")) != 0) {
            char *s = json_dumps(j, 0);
            fprintf(stderr, "cluster_load: the model is incomplete: %s\n", s);
            free(s);
            json_decref(j);
            kr_clusters_free(cl);
            goto done;
        }
        json_decref(j);
        if (run + 1 < loads)
            kr_clusters_free(cl);
        else {
            /* (2) reaction: delete a broker's registration, wait until broker.left is
             * durable; put it back, wait for broker.joined; next broker */
            if (!(lat = calloc((size_t)kills, sizeof *lat)))
                goto done;
            for (int k = 0; k < kills; k++) {
                double t0k;
                b.victim = k % BROKERS + 1;
                snprintf(path, sizeof path, "/brokers/ids/%d", b.victim);
                b.t_left = b.t_joined = 0;
                t0k = now_ms();
                if (zoo_adelete(writer, path, -1, delete_done, NULL) != ZOK ||
                    wait_flag(&b, &b.t_left, 10000) != 0) {
                    fprintf(stderr, "cluster_load: no broker.left for broker %d\n", b.victim);
                    kr_clusters_free(cl);
                    goto done;
                }
                lat[k] = b.t_left - t0k;
                broker_json(b.victim, data, sizeof data);
                create(writer, path, data, ZOO_EPHEMERAL);
                if (wait_flag(&b, &b.t_joined, 10000) != 0) {
                    fprintf(stderr, "cluster_load: no broker.joined for broker %d\n", b.victim);
                    kr_clusters_free(cl);
                    goto done;
                }
            }
            kr_clusters_free(cl);
        }
    }
    qsort(load_wall, (size_t)loads, sizeof *load_wall, cmp_double);
    qsort(load_model, (size_t)loads, sizeof *load_model, cmp_double);
    qsort(lat, (size_t)kills, sizeof *lat, cmp_double);
    printf("cluster_load: brokers=%d topics=%d partitions=%ld runs=%d load_ms "
           "(connect->synced) median=%.0f max=%.0f; start->synced median=%.0f max=%.0f "
           "(target <= 2000): %s; bare client reading the same %ld znodes: %.0f ms\n",
           BROKERS, TOPICS, partitions, loads,
           load_model[loads / 2], load_model[loads - 1], load_wall[loads / 2],
           load_wall[loads - 1], load_wall[loads / 2] <= 2000 ? "met" : "MISSED",
           partitions + TOPICS, raw_ms);
    printf("cluster_load: broker.left znode delete->journaled kills=%d p50=%.2fms p90=%.2fms "
           "p99=%.2fms max=%.2fms (target p99 <= 50): %s\n", kills, lat[kills / 2],
           lat[kills * 9 / 10], lat[(kills * 99) / 100 < kills ? (kills * 99) / 100 : kills - 1],
           lat[kills - 1], lat[(kills * 99) / 100 < kills ? (kills * 99) / 100 : kills - 1] <= 50
                               ? "met" : "MISSED");
    rc = 0;
done:
    free(lat);
    if (writer)
        zookeeper_close(writer);
    if (b.journal)
        kr_journal_close(b.journal);
    if (b.base)
        event_base_free(b.base);
    kr_config_free(cfg);
    if (started_zk) {
        snprintf(cmd, sizeof cmd, "tests/zk/zk.sh stop %s >/dev/null 2>&1; rm -rf %s", zkdir, zkdir);
        if (system(cmd) != 0)
            fprintf(stderr, "cluster_load: could not stop ZooKeeper in %s\n", zkdir);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "cluster_load: could not remove %s\n", tmp);
    return rc;
}
