/* tests/unit/test_cluster_zk.c: the cluster module's async ZooKeeper calls and read API
 * against a real ZooKeeper server (started here with tests/zk/zk.sh): create in every
 * mode, set and delete with versions, get/exists with watches (fired, and LOST when the
 * session closes), error codes, the model read from a small cluster written here, and
 * kr_cluster_refresh_states. Callbacks must all come on the loop thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "kr/cluster.h"
#include "kr/config.h"
#include "kr/err.h"
#include "kr_test.h"

static char zkdir[] = "/tmp/kr-tzk-XXXXXX";
static char connect_str[128];
static struct event_base *base;
static pthread_t loop_thread;

static void stop_zk(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "tests/zk/zk.sh stop %s >/dev/null 2>&1; rm -rf %s", zkdir, zkdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not stop ZooKeeper in %s\n", zkdir);
}

static int start_zk(void)
{
    char cmd[512], line[256];
    FILE *f;
    if (connect_str[0])
        return 0;
    if (!mkdtemp(zkdir))
        return -1;
    snprintf(cmd, sizeof cmd, "ZK_TICK_MS=500 tests/zk/zk.sh start %s", zkdir);
    if (!(f = popen(cmd, "r")))
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "127.0.0.1:", 10) == 0)
            snprintf(connect_str, sizeof connect_str, "%.*s", (int)strcspn(line, "\n"), line);
    if (pclose(f) != 0 || !connect_str[0])
        return -1;
    atexit(stop_zk);
    return 0;
}

typedef struct {
    int done;
    kr_zk_result_t r;
    char path[256], data[256];
    int on_loop;
} res_t;

static void result_cb(kr_cluster_t *c, const kr_zk_result_t *r, void *arg)
{
    res_t *x = arg;
    (void)c;
    x->r = *r;
    x->r.path = x->r.data = NULL;
    snprintf(x->path, sizeof x->path, "%s", r->path ? r->path : "");
    snprintf(x->data, sizeof x->data, "%.*s", (int)r->len, r->data ? r->data : "");
    x->on_loop = pthread_equal(pthread_self(), loop_thread);
    x->done = 1;
}

typedef struct {
    int n;
    kr_zk_watch_event_t ev;
    char path[256];
} watch_t;

static void watch_cb(kr_cluster_t *c, kr_zk_watch_event_t ev, const char *path, void *arg)
{
    watch_t *w = arg;
    (void)c;
    w->n++;
    w->ev = ev;
    snprintf(w->path, sizeof w->path, "%s", path ? path : "");
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
}

/* Runs the loop until *flag or ~10 s (scaled). */
static int run_until(const int *flag)
{
    int64_t rounds = (int64_t)(200 * kr_test_tmout_mult());
    for (int64_t i = 0; i < rounds && !*flag; i++)
        event_base_loop(base, EVLOOP_ONCE);
    return *flag;
}

static kr_clusters_t *open_cluster(kr_config_t **cfg_out, const char *chroot)
{
    char path[] = "/tmp/kr-tzkc-XXXXXX", file[300], err[512] = "";
    kr_clusters_t *cl;
    kr_config_t *cfg;
    FILE *f;
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    close(fd);
    snprintf(file, sizeof file, "%s", path);
    f = fopen(file, "w");
    fprintf(f, "clusters:\n  - name: t\n    zookeeper: \"%s%s\"\n    session_timeout: 4s\n"
               "    stacks: {blue: 1-1000, green: 1001-2000}\n", connect_str, chroot);
    fclose(f);
    cfg = kr_config_load(file, err, sizeof err);
    unlink(file);
    CHECKF(cfg != NULL, "%s", err);
    if (!cfg)
        return NULL;
    cl = kr_clusters_new(base, cfg, NULL, NULL, NULL, err, sizeof err);
    CHECKF(cl && kr_clusters_start(cl, err, sizeof err) == 0, "%s", err);
    *cfg_out = cfg;
    return cl;
}

static int synced_flag(kr_cluster_t *c)
{
    static int f;
    for (int i = 0; i < (int)(200 * kr_test_tmout_mult()) && !kr_cluster_synced(c); i++)
        event_base_loop(base, EVLOOP_ONCE);
    f = kr_cluster_synced(c);
    return f;
}

static void setup(void)
{
    static struct event *tick;
    struct timeval tv = { 0, 50000 };
    if (base)
        return;
    evthread_use_pthreads();
    base = event_base_new();
    loop_thread = pthread_self();
    tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
    event_add(tick, &tv);
}

KR_TEST(zk_calls)
{
    kr_config_t *cfg = NULL;
    kr_clusters_t *cl;
    kr_cluster_t *c;
    res_t r;
    watch_t w1 = { 0 }, w2 = { 0 }, w3 = { 0 };

    setup();
    if (!CHECK(start_zk() == 0))
        return;
    if (!(cl = open_cluster(&cfg, "")))
        return;
    c = kr_clusters_at(cl, 0);
    CHECK(synced_flag(c));
    CHECK_INT(kr_cluster_state(c), KR_ZK_CONNECTED);

#define CALL(expr)                                                                              \
    do {                                                                                        \
        memset(&r, 0, sizeof r);                                                                \
        CHECK_INT((expr), KR_OK);                                                               \
        CHECK(run_until(&r.done));                                                              \
    } while (0)

    CALL(kr_cluster_zk_create(c, "/kr", "root", 4, 0, result_cb, &r));
    CHECK_INT(r.r.rc, KR_OK);
    CHECK_STR(r.path, "/kr");
    CHECK(r.on_loop);
    CALL(kr_cluster_zk_create(c, "/kr", "again", 5, 0, result_cb, &r));
    CHECK_INT(r.r.rc, KR_EEXIST);
    CALL(kr_cluster_zk_create(c, "/kr/seq-", "s", 1, 2, result_cb, &r));
    CHECK_STR(r.path, "/kr/seq-0000000000");
    CALL(kr_cluster_zk_create(c, "/kr/eph", NULL, 0, 1, result_cb, &r));
    CHECK_INT(r.r.rc, KR_OK);
    CALL(kr_cluster_zk_create(c, "/nope/child", "x", 1, 0, result_cb, &r));
    CHECK_INT(r.r.rc, KR_ENOTFOUND);

    /* get with a data watch; exists on a missing node with a watch */
    CALL(kr_cluster_zk_get(c, "/kr", watch_cb, &w1, result_cb, &r));
    CHECK_STR(r.data, "root");
    CHECK_INT(r.r.stat.version, 0);
    CHECK(r.r.stat.czxid > 0);
    CALL(kr_cluster_zk_exists(c, "/kr/later", watch_cb, &w2, result_cb, &r));
    CHECK_INT(r.r.rc, KR_ENOTFOUND);
    CALL(kr_cluster_zk_exists(c, "/kr/eph", NULL, NULL, result_cb, &r));
    CHECK_INT(r.r.rc, KR_OK);
    CHECK(r.r.stat.ephemeral_owner != 0);
    CALL(kr_cluster_zk_get(c, "/kr/eph", NULL, NULL, result_cb, &r));
    CHECK_INT((int)r.r.len, 0); /* null data */

    /* set with a wrong version, then the right one: the data watch fires once */
    CALL(kr_cluster_zk_set(c, "/kr", "v1", 2, 7, result_cb, &r));
    CHECK_INT(r.r.rc, KR_ESTATE);
    CHECK_INT(r.r.zrc, -103); /* ZBADVERSION */
    CALL(kr_cluster_zk_set(c, "/kr", "v1", 2, 0, result_cb, &r));
    CHECK_INT(r.r.rc, KR_OK);
    CHECK_INT(r.r.stat.version, 1);
    CHECK(run_until(&w1.n));
    CHECK_INT(w1.ev, KR_ZK_WATCH_CHANGED);
    CHECK_STR(w1.path, "/kr");
    CALL(kr_cluster_zk_create(c, "/kr/later", "", 0, 0, result_cb, &r));
    CHECK(run_until(&w2.n));
    CHECK_INT(w2.ev, KR_ZK_WATCH_CREATED);
    CALL(kr_cluster_zk_set(c, "/kr", "v2", 2, -1, result_cb, &r));
    CHECK_INT(w1.n, 1); /* one-time */

    /* delete: not empty, wrong version, right version */
    CALL(kr_cluster_zk_delete(c, "/kr", -1, result_cb, &r));
    CHECK_INT(r.r.rc, KR_ESTATE);
    CALL(kr_cluster_zk_delete(c, "/kr/later", 5, result_cb, &r));
    CHECK_INT(r.r.rc, KR_ESTATE);
    CALL(kr_cluster_zk_delete(c, "/kr/later", 0, result_cb, &r));
    CHECK_INT(r.r.rc, KR_OK);
    CALL(kr_cluster_zk_get(c, "/kr/later", NULL, NULL, result_cb, &r));
    CHECK_INT(r.r.rc, KR_ENOTFOUND);

    /* a watch that never fires is told when the session goes */
    CALL(kr_cluster_zk_get(c, "/kr/seq-0000000000", watch_cb, &w3, result_cb, &r));
    CHECK_INT(kr_cluster_zk_create(c, "relative", "x", 1, 0, NULL, NULL), KR_EINVAL);
    CHECK_INT(kr_cluster_zk_create(c, "/kr/m", "x", 1, 9, NULL, NULL), KR_EINVAL);
    kr_clusters_free(cl);
    CHECK_INT(w3.n, 1);
    CHECK_INT(w3.ev, KR_ZK_WATCH_LOST);
    kr_config_free(cfg);
#undef CALL
}

static int count_brokers(const kr_broker_info_t *b, void *arg)
{
    char *out = arg;
    snprintf(out + strlen(out), 512 - strlen(out), "%s%d:%s:%s:%s:%d", out[0] ? " " : "", b->id,
             b->host ? b->host : "-", b->rack ? b->rack : "-", b->stack ? b->stack : "-", b->alive);
    return 0;
}

static int list_partitions(const kr_partition_info_t *p, void *arg)
{
    char *out = arg;
    snprintf(out + strlen(out), 512 - strlen(out), "%s%s-%d:L%d:isr%zu:r%zu", out[0] ? " " : "",
             p->topic, p->partition, p->leader, p->n_isr, p->n_replicas);
    return 0;
}

static void refreshed(kr_cluster_t *c, int rc, void *arg)
{
    int *x = arg;
    (void)c;
    *x = rc == KR_OK ? 1 : rc - 100;
}

KR_TEST(model_from_a_chroot)
{
    kr_config_t *cfg = NULL, *cfg2 = NULL;
    kr_clusters_t *writer, *cl;
    kr_cluster_t *w, *c;
    res_t r;
    char out[512] = "";
    int done = 0;
    static const char *const nodes[][2] = {
        { "/k", NULL },
        { "/k/brokers", NULL },
        { "/k/brokers/ids", NULL },
        { "/k/brokers/topics", NULL },
        { "/k/brokers/ids/1", "{\"version\":5,\"host\":\"b1\",\"port\":9092,\"jmx_port\":-1,"
                              "\"timestamp\":\"1\",\"endpoints\":[\"PLAINTEXT://b1:9092\"],\"rack\":\"az1\"}" },
        { "/k/brokers/ids/1001", "{\"version\":4,\"host\":null,\"port\":-1,\"jmx_port\":-1,"
                                 "\"timestamp\":\"1\",\"endpoints\":[\"SSL://g1:9093\"],"
                                 "\"listener_security_protocol_map\":{\"SSL\":\"SSL\"}}" },
        { "/k/brokers/topics/t", "{\"version\":1,\"partitions\":{\"0\":[1,1001],\"1\":[1001,1]}}" },
        { "/k/brokers/topics/t/partitions", NULL },
        { "/k/brokers/topics/t/partitions/0", NULL },
        { "/k/brokers/topics/t/partitions/0/state",
          "{\"controller_epoch\":1,\"leader\":1,\"version\":1,\"leader_epoch\":0,\"isr\":[1,1001]}" },
        { "/k/brokers/topics/t/partitions/1", NULL },
        { "/k/brokers/topics/t/partitions/1/state",
          "{\"controller_epoch\":1,\"leader\":1001,\"version\":1,\"leader_epoch\":0,\"isr\":[1001]}" },
        { "/k/controller", "{\"version\":2,\"brokerid\":1001,\"timestamp\":\"1\",\"kraftControllerEpoch\":-1}" },
    };

    setup();
    if (!CHECK(start_zk() == 0))
        return;
    if (!(writer = open_cluster(&cfg, "")))
        return;
    w = kr_clusters_at(writer, 0);
    CHECK(synced_flag(w));
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        memset(&r, 0, sizeof r);
        CHECK_INT(kr_cluster_zk_create(w, nodes[i][0], nodes[i][1],
                                       nodes[i][1] ? strlen(nodes[i][1]) : 0, 0, result_cb, &r), 0);
        CHECK(run_until(&r.done));
        CHECKF(r.r.rc == KR_OK, "create %s: %d", nodes[i][0], r.r.rc);
    }
    if (!(cl = open_cluster(&cfg2, "/k")))
        goto done;
    c = kr_clusters_at(cl, 0);
    CHECK(synced_flag(c));
    kr_cluster_foreach_broker(c, count_brokers, out);
    CHECK_STR(out, "1:b1:az1:blue:1 1001:g1:-:green:1");
    out[0] = 0;
    kr_cluster_foreach_partition(c, list_partitions, out);
    CHECK_STR(out, "t-0:L1:isr2:r2 t-1:L1001:isr1:r2");
    {
        json_t *j = kr_cluster_json(c, 0);
        CHECK_INT(json_integer_value(json_object_get(j, "controller")), 1001);
        CHECK_INT(json_integer_value(json_object_get(j, "under_replicated_partitions")), 1);
        CHECK_INT(json_integer_value(json_object_get(j, "offline_partitions")), 0);
        json_decref(j);
    }
    /* change a state behind the model's back, then refresh on demand */
    memset(&r, 0, sizeof r);
    {
        const char *st = "{\"controller_epoch\":1,\"leader\":1,\"version\":1,\"leader_epoch\":1,"
                         "\"isr\":[1,1001]}";
        CHECK_INT(kr_cluster_zk_set(w, "/k/brokers/topics/t/partitions/1/state", st, strlen(st), -1,
                                    result_cb, &r), 0);
    }
    CHECK(run_until(&r.done));
    CHECK_INT(kr_cluster_refresh_states(c, "nope", refreshed, &done), KR_ENOTFOUND);
    CHECK_INT(kr_cluster_refresh_states(c, NULL, refreshed, &done), KR_OK);
    CHECK(run_until(&done));
    CHECK_INT(done, 1);
    out[0] = 0;
    kr_cluster_foreach_partition(c, list_partitions, out);
    CHECK_STR(out, "t-0:L1:isr2:r2 t-1:L1:isr2:r2");
    /* a topic's assignment changes: its data watch re-reads it */
    memset(&r, 0, sizeof r);
    {
        const char *tj = "{\"version\":1,\"partitions\":{\"0\":[1,1001]}}";
        CHECK_INT(kr_cluster_zk_set(w, "/k/brokers/topics/t", tj, strlen(tj), -1, result_cb, &r), 0);
    }
    CHECK(run_until(&r.done));
    for (int i = 0; i < 100; i++) {
        out[0] = 0;
        kr_cluster_foreach_partition(c, list_partitions, out);
        if (strcmp(out, "t-0:L1:isr2:r2") == 0)
            break;
        event_base_loop(base, EVLOOP_ONCE);
    }
    CHECK_STR(out, "t-0:L1:isr2:r2");
    kr_clusters_free(cl);
    kr_config_free(cfg2);
done:
    kr_clusters_free(writer);
    kr_config_free(cfg);
}
