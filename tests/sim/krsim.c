/* tests/sim/krsim.c: a ZooKeeper-mode Kafka cluster simulator for tests, benchmarks and
 * the demo. It writes the znodes (and JSON) Kafka writes and plays the controller.
 *
 * DESIGN. Three kinds of thread and one kind of child process:
 *  - main thread: reads one command a line on stdin, runs it under sim->mu, answers one
 *    line `ok ...` / `err ...` on stdout (flushed).
 *  - ZooKeeper completion threads (of the sim's own session): watchers only set a bit in
 *    sim->pending under sim->qmu and signal; bulk-create completions count down.
 *  - controller thread: waits for pending bits or the next reassignment deadline, then
 *    under sim->mu reacts as Kafka's controller does (broker change, reassignment,
 *    preferred election, config change notifications, controller failover).
 *  - one "session holder" child process per broker (this binary, re-executed with
 *    --holder): it owns that broker's ZooKeeper session and registration, so `broker kill
 *    ID expire` is a SIGKILL: the connection drops and the server expires the session
 *    after its timeout, exactly as when a broker host dies.
 * Lock order: mu before qmu; watchers take only qmu. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "kr/zkjson.h"

#define MAXR 24 /* replicas a partition can list (target + original during a move) */
#define SIM_ZK_MODE_PERSISTENT 0
#define SIM_ZK_MODE_EPHEMERAL 1

enum {
    EV_BROKERS = 1 << 0,
    EV_REASSIGN = 1 << 1,
    EV_PREFERRED = 1 << 2,
    EV_CONFIG = 1 << 3,
    EV_CONTROLLER = 1 << 4,
};

typedef struct {
    int n;
    int id[MAXR];
} rlist_t;

typedef struct {
    rlist_t replicas, adding, removing, isr;
    int leader, leader_epoch;
} part_t;

typedef struct {
    char *name;
    char topic_id[KR_ZK_TOPIC_ID_LEN + 1];
    int n;
    part_t *p;
} topic_t;

typedef struct {
    int id;
    char host[256];
    int port;
    char rack[128];
    pid_t pid;      /* session holder; 0 when not running */
    FILE *to, *from;
    int alive;      /* registration seen in /brokers/ids by the controller logic */
    int64_t czxid;  /* broker epoch of the registration the controller logic last saw */
    int64_t reg_czxid; /* broker epoch its session holder registered last */
} broker_t;

typedef struct {
    char *topic;
    int partition;
    rlist_t target;
    int64_t due_ms;
} move_t;

typedef struct {
    /* options */
    char *connect;
    int controller_delay_ms, session_timeout_ms, broker_json_version;
    char self[4096];

    pthread_mutex_t mu; /* everything below except the qmu part */
    zhandle_t *zh;      /* the simulator's own session (controller writes, watches) */
    broker_t *brokers;
    size_t n_brokers, cap_brokers;
    topic_t *topics;
    size_t n_topics, cap_topics;
    size_t *tindex; /* open-addressing hash of topic names -> index + 1 */
    size_t tindex_cap;
    move_t *moves;  /* reassignments in progress (from /admin/reassign_partitions) */
    size_t n_moves, cap_moves;
    int64_t reassign_czxid; /* creation we already handled; setData on it is ignored */
    int controller_epoch;
    int controller_id;
    char last_change[64];   /* last config_change_NNNNNNNNNN handled */
    json_t *throttles;      /* {"brokers/1": {...}, "topics/t": {...}} */
    json_t *throttle_log;   /* [{seq, entity, config}] */
    json_t *reassign_log;   /* [{czxid, partitions}]: every reassignment znode handled */
    int reassign_done, reassign_failed, elections;

    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    int pending;
    int busy;
    int quit;
    int zk_state;
    int64_t next_due_ms;
} sim_t;

/* ------------------------------------------------------------------------- utils */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "krsim: %s\n", buf);
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

static int rl_has(const rlist_t *l, int id)
{
    for (int i = 0; i < l->n; i++)
        if (l->id[i] == id)
            return 1;
    return 0;
}

static void rl_add(rlist_t *l, int id)
{
    if (!rl_has(l, id) && l->n < MAXR)
        l->id[l->n++] = id;
}

static void rl_remove(rlist_t *l, int id)
{
    int j = 0;
    for (int i = 0; i < l->n; i++)
        if (l->id[i] != id)
            l->id[j++] = l->id[i];
    l->n = j;
}

static json_t *rl_json(const rlist_t *l)
{
    json_t *a = json_array();
    for (int i = 0; i < l->n; i++)
        json_array_append_new(a, json_integer(l->id[i]));
    return a;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* ------------------------------------------------------------------ sim state */

static broker_t *broker_find(sim_t *s, int id)
{
    for (size_t i = 0; i < s->n_brokers; i++)
        if (s->brokers[i].id == id)
            return &s->brokers[i];
    return NULL;
}

static int broker_alive(sim_t *s, int id)
{
    broker_t *b = broker_find(s, id);
    return b && b->alive;
}

static void tindex_rebuild(sim_t *s, size_t cap)
{
    free(s->tindex);
    s->tindex_cap = cap;
    s->tindex = calloc(cap, sizeof *s->tindex);
    for (size_t i = 0; i < s->n_topics; i++) {
        size_t h = hash_str(s->topics[i].name) & (cap - 1);
        while (s->tindex[h])
            h = (h + 1) & (cap - 1);
        s->tindex[h] = i + 1;
    }
}

static topic_t *topic_find(sim_t *s, const char *name)
{
    if (!s->tindex_cap)
        return NULL;
    size_t h = hash_str(name) & (s->tindex_cap - 1);
    while (s->tindex[h]) {
        topic_t *t = &s->topics[s->tindex[h] - 1];
        if (strcmp(t->name, name) == 0)
            return t;
        h = (h + 1) & (s->tindex_cap - 1);
    }
    return NULL;
}

static topic_t *topic_add(sim_t *s, const char *name, int n)
{
    if (s->n_topics == s->cap_topics) {
        s->cap_topics = s->cap_topics ? s->cap_topics * 2 : 64;
        s->topics = realloc(s->topics, s->cap_topics * sizeof *s->topics);
    }
    topic_t *t = &s->topics[s->n_topics++];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->n = n;
    t->p = calloc((size_t)n, sizeof *t->p);
    if ((s->n_topics + 1) * 2 > s->tindex_cap)
        tindex_rebuild(s, s->tindex_cap ? s->tindex_cap * 2 : 256);
    else {
        size_t h = hash_str(name) & (s->tindex_cap - 1);
        while (s->tindex[h])
            h = (h + 1) & (s->tindex_cap - 1);
        s->tindex[h] = s->n_topics;
    }
    return t;
}

/* A Kafka Uuid: 16 random bytes as unpadded base64url, never starting with '-'. */
static void new_topic_id(char out[KR_ZK_TOPIC_ID_LEN + 1])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[16];
    do {
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            for (size_t i = 0; i < sizeof r; i++)
                r[i] = (unsigned char)rand();
        int o = 0;
        for (int i = 0; i < 16; i += 3) {
            uint32_t v = (uint32_t)r[i] << 16 | (i + 1 < 16 ? (uint32_t)r[i + 1] << 8 : 0) |
                         (i + 2 < 16 ? r[i + 2] : 0);
            out[o++] = b64[(v >> 18) & 63];
            out[o++] = b64[(v >> 12) & 63];
            if (i + 1 < 16)
                out[o++] = b64[(v >> 6) & 63];
            if (i + 2 < 16)
                out[o++] = b64[v & 63];
        }
        out[o] = '\0';
    } while (out[0] == '-');
}

/* -------------------------------------------------------------- JSON Kafka writes */

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* BrokerIdZNode.encode: one PLAINTEXT listener; rack only when set; v5 adds features. */
static char *broker_json(const sim_t *s, const broker_t *b)
{
    char ep[512], ts[32];
    snprintf(ep, sizeof ep, "PLAINTEXT://%s:%d", b->host, b->port);
    snprintf(ts, sizeof ts, "%lld", (long long)wall_ms());
    json_t *j = json_object();
    if (s->broker_json_version >= 5)
        json_object_set_new(j, "features", json_object());
    if (s->broker_json_version >= 4)
        json_object_set_new(j, "listener_security_protocol_map",
                            json_pack("{s:s}", "PLAINTEXT", "PLAINTEXT"));
    if (s->broker_json_version >= 2)
        json_object_set_new(j, "endpoints", json_pack("[s]", ep));
    json_object_set_new(j, "jmx_port", json_integer(-1));
    json_object_set_new(j, "port", json_integer(b->port));
    json_object_set_new(j, "host", json_string(b->host));
    json_object_set_new(j, "version", json_integer(s->broker_json_version));
    json_object_set_new(j, "timestamp", json_string(ts));
    if (b->rack[0] && s->broker_json_version >= 3)
        json_object_set_new(j, "rack", json_string(b->rack));
    return dump(j);
}

/* TopicZNode.encode (v3 with topic_id, as 2.8+ writes). */
static char *topic_json(const topic_t *t)
{
    json_t *parts = json_object(), *add = json_object(), *rem = json_object();
    for (int i = 0; i < t->n; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", i);
        json_object_set_new(parts, k, rl_json(&t->p[i].replicas));
        if (t->p[i].adding.n)
            json_object_set_new(add, k, rl_json(&t->p[i].adding));
        if (t->p[i].removing.n)
            json_object_set_new(rem, k, rl_json(&t->p[i].removing));
    }
    return dump(json_pack("{s:i,s:o,s:o,s:o,s:s}", "version", 3, "partitions", parts,
                          "adding_replicas", add, "removing_replicas", rem, "topic_id",
                          t->topic_id));
}

/* TopicPartitionStateZNode.encode, in the key order Jackson writes it. */
static char *state_json(const sim_t *s, const part_t *p)
{
    return dump(json_pack("{s:i,s:i,s:i,s:i,s:o}", "controller_epoch",
                          s->controller_epoch > 0 ? s->controller_epoch : 1, "leader", p->leader,
                          "version", 1, "leader_epoch", p->leader_epoch, "isr", rl_json(&p->isr)));
}

/* ------------------------------------------------------------- ZooKeeper writes */

static int zk_set(sim_t *s, const char *path, const char *data)
{
    int rc = zoo_set(s->zh, path, data, data ? (int)strlen(data) : -1, -1);
    if (rc != ZOK)
        logf_("set %s failed: %s", path, zerror(rc));
    return rc;
}

static void mkdirp(zhandle_t *zh, const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            zoo_create(zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, SIM_ZK_MODE_PERSISTENT, NULL, 0);
            *p = c;
            if (!c)
                return;
        }
    }
}

/* Async writes, waited for as a group: a broker failure may rewrite hundreds of states. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int outstanding, failed;
} batch_t;

static void batch_stat_cb(int rc, const struct Stat *stat, const void *data)
{
    batch_t *b = (batch_t *)data;
    pthread_mutex_lock(&b->mu);
    if (rc != ZOK)
        b->failed++;
    b->outstanding--;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void batch_wait(batch_t *b, int max_outstanding)
{
    pthread_mutex_lock(&b->mu);
    while (b->outstanding > max_outstanding)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

static void write_state_async(sim_t *s, batch_t *b, const topic_t *t, int p)
{
    char path[1024];
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", t->name, p);
    char *js = state_json(s, &t->p[p]);
    batch_wait(b, 2000);
    pthread_mutex_lock(&b->mu);
    b->outstanding++;
    pthread_mutex_unlock(&b->mu);
    int rc = zoo_aset(s->zh, path, js, (int)strlen(js), -1, batch_stat_cb, b);
    if (rc != ZOK) {
        pthread_mutex_lock(&b->mu);
        b->outstanding--;
        b->failed++;
        pthread_mutex_unlock(&b->mu);
    }
    free(js);
}

static void write_topic(sim_t *s, const topic_t *t)
{
    char path[1024];
    snprintf(path, sizeof path, "/brokers/topics/%s", t->name);
    char *js = topic_json(t);
    zk_set(s, path, js);
    free(js);
}

/* ------------------------------------------------------- session holder (child) */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;
} holder_t;

static void holder_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    holder_t *h = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&h->mu);
    h->state = state;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static zhandle_t *connect_wait(const char *connect, int timeout_ms, watcher_fn fn, void *ctx,
                               holder_t *h, int wait_ms)
{
    zhandle_t *zh = zookeeper_init(connect, fn, timeout_ms, NULL, ctx, 0);
    if (!zh)
        return NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_ms / 1000;
    pthread_mutex_lock(&h->mu);
    while (h->state != ZOO_CONNECTED_STATE)
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) == ETIMEDOUT)
            break;
    int ok = h->state == ZOO_CONNECTED_STATE;
    pthread_mutex_unlock(&h->mu);
    if (!ok) {
        zookeeper_close(zh);
        return NULL;
    }
    return zh;
}

/* The session holder's state: zmu guards zh (commands and re-registration); h (with its
 * own mutex) carries session events from the client's thread. */
typedef struct {
    holder_t h;
    pthread_mutex_t zmu;
    zhandle_t *zh;
    const char *connect, *json;
    char path[64];
    int id, timeout, expired, quit;
} holder_ctx_t;

static void holder_ctx_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    holder_ctx_t *c = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&c->h.mu);
    c->h.state = state;
    if (state == ZOO_EXPIRED_SESSION_STATE)
        c->expired = 1;
    pthread_cond_broadcast(&c->h.cv);
    pthread_mutex_unlock(&c->h.mu);
}

/* KafkaZkClient.registerBroker: multi(create EPHEMERAL null data, setData version 0), so
 * the data version is 1. A broker whose previous session has not expired yet finds its old
 * registration: Kafka fails and is restarted; we retry until the old one is gone. */
static int holder_register(holder_ctx_t *c, int64_t *czxid)
{
    int64_t deadline = now_ms() + c->timeout + 20000;
    int rc;
    for (;;) {
        zoo_op_t ops[2];
        zoo_op_result_t res[2];
        char created[128];
        zoo_create_op_init(&ops[0], c->path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                           SIM_ZK_MODE_EPHEMERAL, created, sizeof created);
        zoo_set_op_init(&ops[1], c->path, c->json, (int)strlen(c->json), 0, NULL);
        rc = zoo_multi(c->zh, 2, ops, res);
        if (rc != ZNODEEXISTS || now_ms() > deadline)
            break;
        usleep(100 * 1000);
    }
    struct Stat st;
    if (rc == ZOK && zoo_exists(c->zh, c->path, 0, &st) == ZOK)
        *czxid = st.czxid;
    return rc;
}

/* Like a broker after a long GC pause: when its session expired, it opens a new one and
 * registers again (a new czxid, i.e. a new broker epoch). */
static void *holder_renew_thread(void *arg)
{
    holder_ctx_t *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->h.mu);
        while (!c->expired && !c->quit)
            pthread_cond_wait(&c->h.cv, &c->h.mu);
        int quit = c->quit;
        c->expired = 0;
        c->h.state = 0;
        pthread_mutex_unlock(&c->h.mu);
        if (quit)
            return NULL;
        pthread_mutex_lock(&c->zmu);
        if (c->zh)
            zookeeper_close(c->zh);
        int64_t czxid = 0;
        c->zh = connect_wait(c->connect, c->timeout, holder_ctx_watcher, c, &c->h, 15000);
        int rc = c->zh ? holder_register(c, &czxid) : ZCONNECTIONLOSS;
        fprintf(stderr, "krsim: event=broker_session_expired broker=%d reregistered=%s czxid=%lld\n",
                c->id, rc == ZOK ? "yes" : zerror(rc), (long long)czxid);
        pthread_mutex_unlock(&c->zmu);
    }
}

/* krsim --holder CONNECT SESSION_TIMEOUT_MS ID JSON: registers /brokers/ids/ID, answers
 * "ok CZXID SESSIONID", then serves "controller EPOCH EPOCH_ZKVERSION JSON" and "close"
 * until stdin ends. */
static int holder_main(int argc, char **argv)
{
    static holder_ctx_t c; /* shared with the renew thread for the process's life */
    pthread_t renew;
    int rc;
    if (argc != 6) {
        printf("err usage: krsim --holder CONNECT SESSION_TIMEOUT_MS ID JSON\n");
        return 2;
    }
    pthread_mutex_init(&c.h.mu, NULL);
    pthread_cond_init(&c.h.cv, NULL);
    pthread_mutex_init(&c.zmu, NULL);
    c.connect = argv[2];
    c.json = argv[5];
    c.timeout = atoi(argv[3]);
    c.id = atoi(argv[4]);
    snprintf(c.path, sizeof c.path, "/brokers/ids/%d", c.id);
    zoo_set_debug_level(getenv("KRSIM_ZK_DEBUG") ? ZOO_LOG_LEVEL_DEBUG : (ZooLogLevel)0);
    c.zh = connect_wait(c.connect, c.timeout, holder_ctx_watcher, &c, &c.h, 15000);
    if (!c.zh) {
        printf("err broker %d could not connect to ZooKeeper at %s\n", c.id, c.connect);
        fflush(stdout);
        return 2;
    }
    int64_t czxid = 0;
    if ((rc = holder_register(&c, &czxid)) != ZOK) {
        printf("err broker %d registration failed: %s\n", c.id, zerror(rc));
        fflush(stdout);
        zookeeper_close(c.zh);
        return 2;
    }
    printf("ok %lld %llx\n", (long long)czxid, (unsigned long long)zoo_client_id(c.zh)->client_id);
    fflush(stdout);
    pthread_create(&renew, NULL, holder_renew_thread, &c);

    char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, "close") == 0)
            break;
        int epoch, version, off = 0;
        if (sscanf(line, "controller %d %d %n", &epoch, &version, &off) == 2 && off > 0) {
            /* KafkaZkClient.registerControllerAndIncrementControllerEpoch: one multi */
            char eb[16], created[64];
            snprintf(eb, sizeof eb, "%d", epoch);
            zoo_op_t ops[2];
            zoo_op_result_t res[2];
            const char *cj = line + off;
            zoo_create_op_init(&ops[0], "/controller", cj, (int)strlen(cj), &ZOO_OPEN_ACL_UNSAFE,
                               SIM_ZK_MODE_EPHEMERAL, created, sizeof created);
            zoo_set_op_init(&ops[1], "/controller_epoch", eb, (int)strlen(eb), version, NULL);
            pthread_mutex_lock(&c.zmu);
            rc = c.zh ? zoo_multi(c.zh, 2, ops, res) : ZCONNECTIONLOSS;
            pthread_mutex_unlock(&c.zmu);
            if (rc == ZOK)
                printf("ok\n");
            else
                printf("err %s\n", zerror(rc));
            fflush(stdout);
            continue;
        }
        printf("err unknown holder command\n");
        fflush(stdout);
    }
    pthread_mutex_lock(&c.h.mu);
    c.quit = 1;
    pthread_cond_broadcast(&c.h.cv);
    pthread_mutex_unlock(&c.h.mu);
    pthread_join(renew, NULL);
    pthread_mutex_lock(&c.zmu);
    if (c.zh)
        zookeeper_close(c.zh);
    c.zh = NULL;
    pthread_mutex_unlock(&c.zmu);
    printf("ok closed\n");
    fflush(stdout);
    return 0;
}

/* Starts a holder for b; reads its first answer. Returns 0 or -1 with msg. */
static int holder_start(sim_t *s, broker_t *b, char *msg, size_t msglen)
{
    char *js = broker_json(s, b), tmo[16], id[16];
    int in[2] = { -1, -1 }, out[2] = { -1, -1 };
    snprintf(tmo, sizeof tmo, "%d", s->session_timeout_ms);
    snprintf(id, sizeof id, "%d", b->id);
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        snprintf(msg, msglen, "pipe: %s", strerror(errno));
        goto fail;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg, msglen, "fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        /* only async-signal-safe calls until exec */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        char *args[] = { s->self, "--holder", s->connect, tmo, id, js, NULL };
        execv(s->self, args);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    b->pid = pid;
    b->to = fdopen(in[1], "w");
    b->from = fdopen(out[0], "r");
    free(js);
    char line[512];
    if (!fgets(line, sizeof line, b->from) || strncmp(line, "ok ", 3) != 0) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(msg, msglen, "%s", line[0] ? line + (strncmp(line, "err ", 4) == 0 ? 4 : 0)
                                            : "session holder died");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fclose(b->to);
        fclose(b->from);
        b->pid = 0;
        b->to = b->from = NULL;
        return -1;
    }
    long long czxid = 0;
    sscanf(line + 3, "%lld", &czxid);
    b->reg_czxid = czxid;
    line[strcspn(line, "\n")] = '\0';
    snprintf(msg, msglen, "%s", line + 3);
    return 0;
fail:
    free(js);
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    return -1;
}

static int holder_cmd(broker_t *b, const char *cmd, char *ans, size_t anslen)
{
    if (!b->pid)
        return -1;
    fprintf(b->to, "%s\n", cmd);
    fflush(b->to);
    if (!fgets(ans, (int)anslen, b->from))
        return -1;
    ans[strcspn(ans, "\n")] = '\0';
    return strncmp(ans, "ok", 2) == 0 ? 0 : -1;
}

static void holder_reap(broker_t *b, int sig)
{
    if (!b->pid)
        return;
    if (sig)
        kill(b->pid, sig);
    waitpid(b->pid, NULL, 0);
    fclose(b->to);
    fclose(b->from);
    b->pid = 0;
    b->to = b->from = NULL;
}

/* ------------------------------------------------------------ controller logic */

/* Elects broker id controller: /controller (ephemeral, on its session) + epoch, in one
 * multi as Kafka does. Caller holds mu. */
static int elect_controller(sim_t *s, int id, char *msg, size_t msglen)
{
    broker_t *b = broker_find(s, id);
    if (!b || !b->pid) {
        snprintf(msg, msglen, "broker %d is not running", id);
        return -1;
    }
    char buf[32];
    int len = sizeof buf - 1;
    struct Stat st;
    int rc = zoo_get(s->zh, "/controller_epoch", 0, buf, &len, &st);
    if (rc == ZNONODE) {
        /* created as 0 (KafkaZkClient.createControllerEpochRaw) */
        zoo_create(s->zh, "/controller_epoch", "0", 1, &ZOO_OPEN_ACL_UNSAFE,
                   SIM_ZK_MODE_PERSISTENT, NULL, 0);
        rc = zoo_get(s->zh, "/controller_epoch", 0, buf, &len, &st);
    }
    if (rc != ZOK) {
        snprintf(msg, msglen, "read /controller_epoch: %s", zerror(rc));
        return -1;
    }
    buf[len > 0 ? len : 0] = '\0';
    int epoch = atoi(buf) + 1;
    zoo_delete(s->zh, "/controller", -1); /* a forced move: the old controller resigns */
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)wall_ms());
    /* ControllerZNode.encode (v1, what 2.x-3.3 write) */
    char *cj = dump(json_pack("{s:i,s:i,s:s}", "version", 1, "brokerid", id, "timestamp", ts));
    char cmd[512], ans[160] = "";
    snprintf(cmd, sizeof cmd, "controller %d %d %s", epoch, st.version, cj);
    free(cj);
    if (holder_cmd(b, cmd, ans, sizeof ans) < 0) {
        snprintf(msg, msglen, "broker %d could not become controller: %s", id, ans);
        return -1;
    }
    s->controller_epoch = epoch;
    s->controller_id = id;
    zoo_exists(s->zh, "/controller", 1, &st); /* re-arm for failover */
    logf_("event=controller_elected broker=%d epoch=%d", id, epoch);
    snprintf(msg, msglen, "controller %d epoch %d", id, epoch);
    return 0;
}

static void handle_controller(sim_t *s);

/* First replica (in assignment order) that is alive and, when need_isr, in the ISR. */
static int pick_leader(sim_t *s, const part_t *p, const rlist_t *order, int need_isr, int skip)
{
    for (int i = 0; i < order->n; i++) {
        int id = order->id[i];
        if (id != skip && broker_alive(s, id) && (!need_isr || rl_has(&p->isr, id)))
            return id;
    }
    return -1;
}

/* onReplicasBecomeOffline: a dead broker's partitions get a new leader from the ISR (or
 * -1, keeping the last ISR member as Kafka does), and it leaves every ISR. */
static void on_broker_dead(sim_t *s, int id, batch_t *batch)
{
    int changed = 0;
    for (size_t t = 0; t < s->n_topics; t++) {
        topic_t *tp = &s->topics[t];
        for (int i = 0; i < tp->n; i++) {
            part_t *p = &tp->p[i];
            if (p->leader != id && !rl_has(&p->isr, id))
                continue;
            if (p->leader == id) {
                p->leader = pick_leader(s, p, &p->replicas, 1, id);
                if (p->leader >= 0 || p->isr.n > 1)
                    rl_remove(&p->isr, id);
            } else if (p->isr.n > 1) {
                rl_remove(&p->isr, id);
            }
            p->leader_epoch++;
            write_state_async(s, batch, tp, i);
            changed++;
        }
    }
    logf_("event=broker_failed broker=%d partitions_changed=%d", id, changed);
}

/* A broker that registered again rejoins the ISRs of its partitions and leads offline
 * partitions whose last ISR member it is. */
static void on_broker_back(sim_t *s, int id, batch_t *batch)
{
    int changed = 0;
    for (size_t t = 0; t < s->n_topics; t++) {
        topic_t *tp = &s->topics[t];
        for (int i = 0; i < tp->n; i++) {
            part_t *p = &tp->p[i];
            if (!rl_has(&p->replicas, id))
                continue;
            if (p->leader < 0) {
                if (!rl_has(&p->isr, id))
                    continue;
                p->leader = id;
                p->leader_epoch++;
            } else if (!rl_has(&p->isr, id)) {
                rl_add(&p->isr, id);
            } else {
                continue;
            }
            write_state_async(s, batch, tp, i);
            changed++;
        }
    }
    logf_("event=broker_up broker=%d partitions_changed=%d", id, changed);
}

static void handle_brokers(sim_t *s)
{
    struct String_vector kids = { 0, NULL };
    int rc = zoo_get_children(s->zh, "/brokers/ids", 1, &kids);
    if (rc != ZOK) {
        logf_("get_children /brokers/ids failed: %s", zerror(rc));
        return;
    }
    batch_t batch = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    int *dead = calloc(s->n_brokers + 1, sizeof *dead), *back = calloc(s->n_brokers + 1, sizeof *back);
    size_t n_dead = 0, n_back = 0;
    for (size_t i = 0; i < s->n_brokers; i++) {
        broker_t *b = &s->brokers[i];
        int present = 0;
        int64_t czxid = 0;
        for (int k = 0; k < kids.count && !present; k++) {
            int id;
            if (kr_zk_parse_int(kids.data[k], &id) == 0 && id == b->id) {
                char path[64];
                struct Stat st;
                snprintf(path, sizeof path, "/brokers/ids/%d", id);
                if (zoo_exists(s->zh, path, 0, &st) == ZOK) {
                    present = 1;
                    czxid = st.czxid;
                }
            }
        }
        if (b->alive && (!present || czxid != b->czxid)) {
            b->alive = 0; /* gone, or bounced: a new registration (epoch) */
            dead[n_dead++] = b->id;
        }
        if (present && !b->alive) {
            b->czxid = czxid;
            back[n_back++] = (int)i;
        }
    }
    deallocate_String_vector(&kids);
    /* every departure is known before leaders are chosen, so two brokers that expire
     * together never hand leadership to each other */
    for (size_t i = 0; i < n_dead; i++)
        on_broker_dead(s, dead[i], &batch);
    for (size_t i = 0; i < n_back; i++)
        s->brokers[back[i]].alive = 1;
    for (size_t i = 0; i < n_back; i++)
        on_broker_back(s, s->brokers[back[i]].id, &batch);
    free(dead);
    free(back);
    batch_wait(&batch, 0);
    if (batch.failed)
        logf_("%d partition state writes failed", batch.failed);
    if (s->controller_id < 0 && n_back)
        handle_controller(s); /* the first broker up becomes controller */
}

static void reassign_rewrite(sim_t *s)
{
    if (s->n_moves == 0) {
        int rc = zoo_delete(s->zh, "/admin/reassign_partitions", -1);
        if (rc != ZOK && rc != ZNONODE)
            logf_("delete /admin/reassign_partitions: %s", zerror(rc));
        else
            logf_("event=reassignment_complete");
        return;
    }
    kr_zk_move_t *mv = calloc(s->n_moves, sizeof *mv);
    for (size_t i = 0; i < s->n_moves; i++) {
        mv[i].topic = s->moves[i].topic;
        mv[i].partition = s->moves[i].partition;
        mv[i].replicas.ids = s->moves[i].target.id;
        mv[i].replicas.n = (size_t)s->moves[i].target.n;
    }
    char err[256];
    char *js = kr_zk_reassignment_encode(mv, s->n_moves, err, sizeof err);
    free(mv);
    if (js)
        zk_set(s, "/admin/reassign_partitions", js);
    else
        logf_("cannot encode the remaining reassignment: %s", err);
    free(js);
}

static void schedule(sim_t *s)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < s->n_moves; i++)
        if (s->moves[i].due_ms < next)
            next = s->moves[i].due_ms;
    pthread_mutex_lock(&s->qmu);
    s->next_due_ms = next;
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
}

/* PartitionReassignmentHandler.handleCreation: only a new znode starts a reassignment. */
static void handle_reassign(sim_t *s)
{
    struct Stat st;
    int rc = zoo_exists(s->zh, "/admin/reassign_partitions", 1, &st);
    if (rc != ZOK || st.czxid == s->reassign_czxid)
        return; /* gone, or a setData on the one we handle: ignored as by Kafka */
    s->reassign_czxid = st.czxid;
    char *buf = malloc((size_t)st.dataLength + 1);
    int len = st.dataLength;
    rc = zoo_get(s->zh, "/admin/reassign_partitions", 0, buf, &len, &st);
    if (rc != ZOK) {
        free(buf);
        return;
    }
    kr_zk_reassignment_t r;
    char err[256];
    if (kr_zk_reassignment_decode(buf, len > 0 ? (size_t)len : 0, &r, err, sizeof err) < 0) {
        logf_("event=reassignment_invalid msg=\"Ignoring partition reassignment due to invalid json: %s\"",
              err);
        free(buf);
        return; /* the znode stays, as with Kafka */
    }
    {
        json_t *doc = json_loadb(buf, (size_t)len, 0, NULL);
        json_array_append_new(s->reassign_log,
                              json_pack("{s:I,s:O?}", "czxid", (json_int_t)st.czxid, "partitions",
                                        json_object_get(doc, "partitions")));
        json_decref(doc);
    }
    free(buf);
    int64_t due = now_ms() + s->controller_delay_ms;
    int failed = 0;
    topic_t **touched = calloc(r.n_moves + 1, sizeof *touched);
    size_t n_touched = 0;
    for (size_t i = 0; i < r.n_moves; i++) {
        kr_zk_move_t *m = &r.moves[i];
        topic_t *t = topic_find(s, m->topic);
        if (!t || m->partition >= t->n || m->replicas.n == 0 || m->replicas.n > MAXR / 2) {
            logf_("event=reassignment_failed topic=%s partition=%d reason=%s", m->topic,
                  m->partition, t ? "no such partition or bad replica list" : "no such topic");
            failed++;
            s->reassign_failed++;
            continue;
        }
        part_t *p = &t->p[m->partition];
        rlist_t target = { 0, { 0 } }, full = { 0, { 0 } };
        for (size_t k = 0; k < m->replicas.n; k++)
            rl_add(&target, m->replicas.ids[k]);
        /* KIP-455: full set = target + original; adding = target - original; removing =
         * original - target */
        full = target;
        p->adding.n = p->removing.n = 0;
        for (int k = 0; k < p->replicas.n; k++) {
            rl_add(&full, p->replicas.id[k]);
            if (!rl_has(&target, p->replicas.id[k]))
                rl_add(&p->removing, p->replicas.id[k]);
        }
        for (int k = 0; k < target.n; k++)
            if (!rl_has(&p->replicas, target.id[k]))
                rl_add(&p->adding, target.id[k]);
        p->replicas = full;
        move_t *mv = NULL;
        for (size_t k = 0; k < s->n_moves; k++)
            if (s->moves[k].partition == m->partition && strcmp(s->moves[k].topic, m->topic) == 0)
                mv = &s->moves[k]; /* listed twice: the last one wins */
        if (!mv) {
            if (s->n_moves == s->cap_moves) {
                s->cap_moves = s->cap_moves ? s->cap_moves * 2 : 64;
                s->moves = realloc(s->moves, s->cap_moves * sizeof *s->moves);
            }
            mv = &s->moves[s->n_moves++];
            mv->topic = strdup(m->topic);
            mv->partition = m->partition;
        }
        mv->target = target;
        mv->due_ms = due;
        size_t k;
        for (k = 0; k < n_touched && touched[k] != t; k++)
            ;
        if (k == n_touched)
            touched[n_touched++] = t;
    }
    for (size_t k = 0; k < n_touched; k++)
        write_topic(s, touched[k]);
    free(touched);
    logf_("event=reassignment_started partitions=%zu failed=%d delay_ms=%d", r.n_moves - (size_t)failed,
          failed, s->controller_delay_ms);
    kr_zk_reassignment_deinit(&r);
    if (failed)
        reassign_rewrite(s);
    schedule(s);
}

static void complete_due_moves(sim_t *s)
{
    int64_t now = now_ms();
    size_t j = 0, done = 0;
    topic_t **touched = calloc(s->n_moves + 1, sizeof *touched);
    size_t n_touched = 0;
    batch_t batch = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    for (size_t i = 0; i < s->n_moves; i++) {
        move_t *m = &s->moves[i];
        if (m->due_ms > now) {
            s->moves[j++] = *m;
            continue;
        }
        topic_t *t = topic_find(s, m->topic);
        if (t && m->partition < t->n) {
            part_t *p = &t->p[m->partition];
            p->replicas = m->target;
            p->adding.n = p->removing.n = 0;
            p->isr.n = 0;
            for (int k = 0; k < m->target.n; k++)
                if (broker_alive(s, m->target.id[k]))
                    rl_add(&p->isr, m->target.id[k]);
            p->leader = pick_leader(s, p, &m->target, 0, -1);
            p->leader_epoch++;
            write_state_async(s, &batch, t, m->partition);
            size_t k;
            for (k = 0; k < n_touched && touched[k] != t; k++)
                ;
            if (k == n_touched)
                touched[n_touched++] = t;
            logf_("event=partition_reassigned topic=%s partition=%d leader=%d", m->topic,
                  m->partition, p->leader);
        }
        free(m->topic);
        done++;
        s->reassign_done++;
    }
    s->n_moves = j;
    if (!done) {
        free(touched);
        return;
    }
    for (size_t k = 0; k < n_touched; k++)
        write_topic(s, touched[k]);
    free(touched);
    batch_wait(&batch, 0);
    reassign_rewrite(s);
    schedule(s);
}

/* PreferredReplicaElection: the first replica leads where it is alive and in the ISR;
 * then the znode is deleted. */
static void handle_preferred(sim_t *s)
{
    struct Stat st;
    if (zoo_exists(s->zh, "/admin/preferred_replica_election", 1, &st) != ZOK)
        return;
    char *buf = malloc((size_t)st.dataLength + 1);
    int len = st.dataLength;
    int rc = zoo_get(s->zh, "/admin/preferred_replica_election", 0, buf, &len, &st);
    kr_zk_topic_partition_t *tps = NULL;
    size_t n = 0;
    char err[256];
    if (rc == ZOK && kr_zk_preferred_election_decode(buf, len > 0 ? (size_t)len : 0, &tps, &n, err,
                                                     sizeof err) < 0)
        logf_("event=preferred_election_invalid reason=\"%s\"", err);
    free(buf);
    batch_t batch = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    int elected = 0;
    for (size_t i = 0; i < n; i++) {
        topic_t *t = topic_find(s, tps[i].topic);
        if (!t || tps[i].partition >= t->n)
            continue;
        part_t *p = &t->p[tps[i].partition];
        int pref = p->replicas.n ? p->replicas.id[0] : -1;
        if (pref < 0 || p->leader == pref || !broker_alive(s, pref) || !rl_has(&p->isr, pref))
            continue;
        p->leader = pref;
        p->leader_epoch++;
        write_state_async(s, &batch, t, tps[i].partition);
        elected++;
    }
    batch_wait(&batch, 0);
    kr_zk_topic_partitions_free(tps, n);
    zoo_delete(s->zh, "/admin/preferred_replica_election", -1);
    s->elections += elected;
    logf_("event=preferred_election partitions=%zu elected=%d", n, elected);
}

static int is_throttle_key(const char *k)
{
    return strstr(k, ".replication.throttled.") != NULL;
}

/* qsort comparator of a char * array (the elements are pointers to the names). */
static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ZkNodeChangeNotificationListener: each new config_change_N names an entity whose whole
 * config is re-read. */
static void handle_config(sim_t *s)
{
    struct String_vector kids = { 0, NULL };
    if (zoo_get_children(s->zh, "/config/changes", 1, &kids) != ZOK)
        return;
    qsort(kids.data, (size_t)kids.count, sizeof kids.data[0], name_cmp);
    for (int i = 0; i < kids.count; i++) {
        const char *name = kids.data[i];
        if (strncmp(name, "config_change_", 14) != 0 || strcmp(name, s->last_change) <= 0)
            continue;
        snprintf(s->last_change, sizeof s->last_change, "%s", name);
        char path[512], buf[65536], err[256], *type = NULL, *ename = NULL;
        int len = sizeof buf;
        snprintf(path, sizeof path, "/config/changes/%s", name);
        if (zoo_get(s->zh, path, 0, buf, &len, NULL) != ZOK)
            continue;
        if (kr_zk_config_change_decode(buf, len > 0 ? (size_t)len : 0, &type, &ename, err,
                                       sizeof err) < 0) {
            logf_("event=config_change_invalid node=%s reason=\"%s\"", name, err);
            continue;
        }
        snprintf(path, sizeof path, "/config/%s/%s", type, ename);
        len = sizeof buf;
        json_t *cfg = NULL;
        int rc = zoo_get(s->zh, path, 0, buf, &len, NULL);
        if (rc == ZNONODE || (rc == ZOK && len <= 0))
            cfg = json_object();
        else if (rc == ZOK && kr_zk_config_decode(buf, (size_t)len, &cfg, err, sizeof err) < 0)
            logf_("event=config_invalid path=%s reason=\"%s\"", path, err);
        if (cfg) {
            char entity[512];
            snprintf(entity, sizeof entity, "%s/%s", type, ename);
            json_t *thr = json_object();
            const char *k;
            json_t *v;
            json_object_foreach(cfg, k, v)
                if (is_throttle_key(k))
                    json_object_set(thr, k, v);
            char *cs = json_dumps(thr, JSON_COMPACT | JSON_SORT_KEYS);
            logf_("event=config_change node=%s entity=%s throttles=%s", name, entity, cs);
            free(cs);
            json_array_append_new(s->throttle_log,
                                  json_pack("{s:s,s:s,s:O}", "node", name, "entity", entity,
                                            "config", cfg));
            if (json_object_size(thr))
                json_object_set_new(s->throttles, entity, thr);
            else {
                json_object_del(s->throttles, entity);
                json_decref(thr);
            }
            json_decref(cfg);
        }
        free(type);
        free(ename);
    }
    deallocate_String_vector(&kids);
}

/* ControllerChangeHandler.handleDeletion: the lowest running broker takes over. */
static void handle_controller(sim_t *s)
{
    struct Stat st;
    if (zoo_exists(s->zh, "/controller", 1, &st) == ZOK)
        return;
    int best = -1;
    for (size_t i = 0; i < s->n_brokers; i++)
        if (s->brokers[i].pid && s->brokers[i].alive && (best < 0 || s->brokers[i].id < best))
            best = s->brokers[i].id;
    s->controller_id = -1;
    if (best >= 0) {
        char msg[256];
        if (elect_controller(s, best, msg, sizeof msg) < 0)
            logf_("controller failover failed: %s", msg);
    }
}

static void sim_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    sim_t *s = ctx;
    int ev = 0;
    if (type != ZOO_SESSION_EVENT && path) {
        if (strcmp(path, "/brokers/ids") == 0)
            ev = EV_BROKERS;
        else if (strcmp(path, "/admin/reassign_partitions") == 0)
            ev = EV_REASSIGN;
        else if (strcmp(path, "/admin/preferred_replica_election") == 0)
            ev = EV_PREFERRED;
        else if (strcmp(path, "/config/changes") == 0)
            ev = EV_CONFIG;
        else if (strcmp(path, "/controller") == 0)
            ev = EV_CONTROLLER;
    }
    pthread_mutex_lock(&s->qmu);
    if (type == ZOO_SESSION_EVENT) {
        s->zk_state = state;
        if (state == ZOO_EXPIRED_SESSION_STATE)
            fprintf(stderr, "krsim: the simulator's own ZooKeeper session expired\n");
    }
    s->pending |= ev;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
}

static void *controller_thread(void *arg)
{
    sim_t *s = arg;
    pthread_mutex_lock(&s->qmu);
    while (!s->quit) {
        while (!s->quit && !s->pending && now_ms() < s->next_due_ms) {
            if (s->next_due_ms == INT64_MAX) {
                pthread_cond_wait(&s->qcv, &s->qmu);
            } else {
                int64_t wait = s->next_due_ms - now_ms();
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += wait / 1000;
                ts.tv_nsec += (wait % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&s->qcv, &s->qmu, &ts);
            }
        }
        if (s->quit)
            break;
        int ev = s->pending;
        s->pending = 0;
        s->busy = 1;
        pthread_mutex_unlock(&s->qmu);

        pthread_mutex_lock(&s->mu);
        if (ev & EV_BROKERS)
            handle_brokers(s);
        if (ev & EV_CONTROLLER)
            handle_controller(s);
        if (ev & EV_REASSIGN)
            handle_reassign(s);
        if (ev & EV_PREFERRED)
            handle_preferred(s);
        if (ev & EV_CONFIG)
            handle_config(s);
        complete_due_moves(s);
        pthread_mutex_unlock(&s->mu);

        pthread_mutex_lock(&s->qmu);
        s->busy = 0;
        pthread_cond_broadcast(&s->qcv);
    }
    pthread_mutex_unlock(&s->qmu);
    return NULL;
}

/* --------------------------------------------------------------- assignment */

/* AdminUtils.assignReplicasToBrokers: rack-aware when every broker has a rack, with a
 * start index and shift derived from the topic name (Kafka draws them at random). */
static int assign(sim_t *s, const char *topic, int nparts, int rf, topic_t *t, char *msg,
                  size_t msglen)
{
    int ids[4096], n = 0, all_racks = 1;
    for (size_t i = 0; i < s->n_brokers && n < 4096; i++)
        if (s->brokers[i].alive)
            ids[n++] = s->brokers[i].id;
    if (rf < 1 || rf > n || rf > MAXR / 2) {
        snprintf(msg, msglen, "replication factor %d larger than the %d available brokers", rf, n);
        return -1;
    }
    for (int i = 1; i < n; i++) /* sort ids */
        for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            int x = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = x;
        }
    for (int i = 0; i < n; i++)
        if (!broker_find(s, ids[i])->rack[0])
            all_racks = 0;
    int arranged[4096], nracks = 0;
    const char *racks[4096];
    if (all_racks) {
        /* getRackAlternatedBrokerList: racks sorted, brokers of each rack sorted, one
         * broker of each rack in turn */
        for (int i = 0; i < n; i++) {
            const char *r = broker_find(s, ids[i])->rack;
            int k;
            for (k = 0; k < nracks && strcmp(racks[k], r) != 0; k++)
                ;
            if (k == nracks)
                racks[nracks++] = r;
        }
        for (int i = 1; i < nracks; i++)
            for (int j = i; j > 0 && strcmp(racks[j - 1], racks[j]) > 0; j--) {
                const char *x = racks[j];
                racks[j] = racks[j - 1];
                racks[j - 1] = x;
            }
        int pos[4096] = { 0 }, m = 0, ri = 0;
        while (m < n) {
            int k = pos[ri];
            int found = 0;
            for (; k < n; k++)
                if (strcmp(broker_find(s, ids[k])->rack, racks[ri]) == 0) {
                    arranged[m++] = ids[k];
                    pos[ri] = k + 1;
                    found = 1;
                    break;
                }
            if (!found)
                pos[ri] = n;
            ri = (ri + 1) % nracks;
        }
    } else {
        memcpy(arranged, ids, (size_t)n * sizeof *ids);
    }
    uint64_t h = hash_str(topic);
    int start = (int)(h % (uint64_t)n), shift = (int)((h >> 32) % (uint64_t)n);
    for (int p = 0; p < nparts; p++) {
        if (p > 0 && p % n == 0)
            shift++;
        int first = (p + start) % n;
        rlist_t *r = &t->p[p].replicas;
        r->n = 0;
        rl_add(r, arranged[first]);
        if (!all_racks) {
            for (int j = 0; j < rf - 1; j++)
                rl_add(r, arranged[(first + 1 + (shift + j) % (n - 1)) % n]);
        } else {
            const char *used_racks[MAXR];
            int nused = 0, k = 0;
            used_racks[nused++] = broker_find(s, arranged[first])->rack;
            for (int j = 0; j < rf - 1; j++) {
                for (;;) {
                    int b = arranged[(first + 1 + (shift * nracks + k) % (n - 1)) % n];
                    const char *rk = broker_find(s, b)->rack;
                    int rack_used = 0;
                    for (int q = 0; q < nused; q++)
                        if (strcmp(used_racks[q], rk) == 0)
                            rack_used = 1;
                    k++;
                    if ((!rack_used || nused == nracks) && (!rl_has(r, b) || r->n == n)) {
                        rl_add(r, b);
                        if (!rack_used)
                            used_racks[nused++] = rk;
                        break;
                    }
                }
            }
        }
    }
    return 0;
}

/* "0=1,2,3;1=2,3,1" */
static int parse_assignment(const char *spec, int nparts, topic_t *t, char *msg, size_t msglen)
{
    char *copy = strdup(spec), *save = NULL;
    int seen = 0, rc = -1;
    for (char *item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '=');
        int p;
        if (!eq) {
            snprintf(msg, msglen, "assignment item \"%s\" is not P=B1,B2,...", item);
            goto done;
        }
        *eq = '\0';
        if (kr_zk_parse_int(item, &p) < 0 || p < 0 || p >= nparts) {
            snprintf(msg, msglen, "assignment: bad partition \"%s\"", item);
            goto done;
        }
        char *save2 = NULL;
        rlist_t *r = &t->p[p].replicas;
        r->n = 0;
        for (char *b = strtok_r(eq + 1, ",", &save2); b; b = strtok_r(NULL, ",", &save2)) {
            int id;
            if (kr_zk_parse_int(b, &id) < 0 || id < 0 || r->n >= MAXR / 2) {
                snprintf(msg, msglen, "assignment: bad broker id \"%s\"", b);
                goto done;
            }
            rl_add(r, id);
        }
        if (r->n == 0) {
            snprintf(msg, msglen, "assignment: partition %d has no replicas", p);
            goto done;
        }
        seen++;
    }
    if (seen != nparts) {
        snprintf(msg, msglen, "assignment lists %d partitions, the topic has %d", seen, nparts);
        goto done;
    }
    rc = 0;
done:
    free(copy);
    return rc;
}

static void init_states(sim_t *s, topic_t *t)
{
    for (int i = 0; i < t->n; i++) {
        part_t *p = &t->p[i];
        p->isr.n = 0;
        for (int k = 0; k < p->replicas.n; k++)
            if (broker_alive(s, p->replicas.id[k]))
                rl_add(&p->isr, p->replicas.id[k]);
        p->leader = p->isr.n ? p->isr.id[0] : -1;
        p->leader_epoch = 0;
    }
}

/* Everything one topic needs, kept alive until its async multi completes. */
typedef struct {
    int nops;
    zoo_op_t *ops;
    zoo_op_result_t *res;
    char **strs;
    int nstrs;
    char (*created)[16];
    batch_t *batch;
} topic_multi_t;

static void topic_multi_free(topic_multi_t *m)
{
    for (int i = 0; i < m->nstrs; i++)
        free(m->strs[i]);
    free(m->strs);
    free(m->ops);
    free(m->res);
    free(m->created);
    free(m);
}

static void topic_multi_cb(int rc, const void *data)
{
    topic_multi_t *m = (topic_multi_t *)data;
    batch_t *b = m->batch;
    if (rc != ZOK)
        fprintf(stderr, "krsim: topic create multi failed: %s\n", zerror(rc));
    topic_multi_free(m);
    pthread_mutex_lock(&b->mu);
    if (rc != ZOK)
        b->failed++;
    b->outstanding--;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static char *keep(topic_multi_t *m, char *str)
{
    m->strs[m->nstrs++] = str;
    return str;
}

/* One multi per topic: the topic znode, partitions/, each partition and its state, so the
 * topic appears whole. */
static int topic_write_async(sim_t *s, topic_t *t, batch_t *b)
{
    topic_multi_t *m = calloc(1, sizeof *m);
    int n = 2 + 2 * t->n;
    m->ops = calloc((size_t)n, sizeof *m->ops);
    m->res = calloc((size_t)n, sizeof *m->res);
    m->strs = calloc((size_t)(2 * n), sizeof *m->strs);
    m->created = calloc((size_t)n, sizeof *m->created);
    m->batch = b;
    char *path;
    char *js = keep(m, topic_json(t));
    if (asprintf(&path, "/brokers/topics/%s", t->name) < 0)
        return -1;
    zoo_create_op_init(&m->ops[m->nops], keep(m, path), js, (int)strlen(js), &ZOO_OPEN_ACL_UNSAFE,
                       SIM_ZK_MODE_PERSISTENT, m->created[m->nops], sizeof m->created[0]);
    m->nops++;
    if (asprintf(&path, "/brokers/topics/%s/partitions", t->name) < 0)
        return -1;
    zoo_create_op_init(&m->ops[m->nops], keep(m, path), NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                       SIM_ZK_MODE_PERSISTENT, m->created[m->nops], sizeof m->created[0]);
    m->nops++;
    for (int i = 0; i < t->n; i++) {
        if (asprintf(&path, "/brokers/topics/%s/partitions/%d", t->name, i) < 0)
            return -1;
        zoo_create_op_init(&m->ops[m->nops], keep(m, path), NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                           SIM_ZK_MODE_PERSISTENT, m->created[m->nops], sizeof m->created[0]);
        m->nops++;
        char *sj = keep(m, state_json(s, &t->p[i]));
        if (asprintf(&path, "/brokers/topics/%s/partitions/%d/state", t->name, i) < 0)
            return -1;
        zoo_create_op_init(&m->ops[m->nops], keep(m, path), sj, (int)strlen(sj),
                           &ZOO_OPEN_ACL_UNSAFE, SIM_ZK_MODE_PERSISTENT, m->created[m->nops],
                           sizeof m->created[0]);
        m->nops++;
    }
    batch_wait(b, 256);
    pthread_mutex_lock(&b->mu);
    b->outstanding++;
    pthread_mutex_unlock(&b->mu);
    int rc = zoo_amulti(s->zh, m->nops, m->ops, m->res, topic_multi_cb, m);
    if (rc != ZOK) {
        topic_multi_free(m);
        pthread_mutex_lock(&b->mu);
        b->outstanding--;
        b->failed++;
        pthread_mutex_unlock(&b->mu);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------- commands */

static void cmd_broker(sim_t *s, int argc, char **argv)
{
    char msg[512];
    int id;
    if (argc < 3 || kr_zk_parse_int(argv[2], &id) < 0 || id < 0) {
        reply("err usage: broker add ID HOST PORT [RACK] | broker kill ID close|expire | "
              "broker restart ID");
        return;
    }
    broker_t *b = broker_find(s, id);
    if (strcmp(argv[1], "add") == 0) {
        int port;
        if (argc < 5 || argc > 6 || kr_zk_parse_int(argv[4], &port) < 0 || port <= 0 ||
            port > 65535) {
            reply("err usage: broker add ID HOST PORT [RACK]");
            return;
        }
        if (b && b->pid) {
            reply("err broker %d is already running", id);
            return;
        }
        if (!b) {
            if (s->n_brokers == s->cap_brokers) {
                s->cap_brokers = s->cap_brokers ? s->cap_brokers * 2 : 16;
                s->brokers = realloc(s->brokers, s->cap_brokers * sizeof *s->brokers);
            }
            b = &s->brokers[s->n_brokers++];
            memset(b, 0, sizeof *b);
            b->id = id;
        }
        snprintf(b->host, sizeof b->host, "%s", argv[3]);
        b->port = port;
        snprintf(b->rack, sizeof b->rack, "%s", argc == 6 ? argv[5] : "");
        if (holder_start(s, b, msg, sizeof msg) < 0) {
            reply("err %s", msg);
            return;
        }
        reply("ok broker %d registered czxid %lld", id, (long long)b->reg_czxid);
        return;
    }
    if (!b) {
        reply("err no broker %d", id);
        return;
    }
    if (strcmp(argv[1], "kill") == 0 && argc == 4) {
        if (!b->pid) {
            reply("err broker %d is not running", id);
            return;
        }
        if (strcmp(argv[3], "close") == 0) {
            char ans[128];
            holder_cmd(b, "close", ans, sizeof ans);
            holder_reap(b, 0);
            reply("ok broker %d closed its session", id);
        } else if (strcmp(argv[3], "expire") == 0) {
            /* the host dies: no close, no heartbeats; ZooKeeper expires the session */
            holder_reap(b, SIGKILL);
            reply("ok broker %d killed; its session expires in about %d ms", id,
                  s->session_timeout_ms);
        } else {
            reply("err kill mode must be close or expire");
        }
        return;
    }
    if (strcmp(argv[1], "restart") == 0 && argc == 3) {
        if (b->pid) {
            char ans[128];
            holder_cmd(b, "close", ans, sizeof ans);
            holder_reap(b, 0);
        }
        if (holder_start(s, b, msg, sizeof msg) < 0) {
            reply("err %s", msg);
            return;
        }
        reply("ok broker %d registered czxid %lld", id, (long long)b->reg_czxid);
        return;
    }
    reply("err usage: broker add ID HOST PORT [RACK] | broker kill ID close|expire | "
          "broker restart ID");
}

/* Commands that depend on which brokers are alive look at /brokers/ids first, as the
 * watch event may not have been handled yet (a topic created right after `broker add`). */
static void refresh_alive(sim_t *s)
{
    handle_brokers(s);
}

static void cmd_topic(sim_t *s, int argc, char **argv)
{
    char msg[512] = "";
    int nparts, rf;
    if (argc < 5 || argc > 6 || strcmp(argv[1], "create") != 0 ||
        kr_zk_parse_int(argv[3], &nparts) < 0 || nparts < 1 || nparts > 100000 ||
        kr_zk_parse_int(argv[4], &rf) < 0 || rf < 1) {
        reply("err usage: topic create NAME PARTITIONS RF [ASSIGNMENT]");
        return;
    }
    if (topic_find(s, argv[2])) {
        reply("err topic %s already exists", argv[2]);
        return;
    }
    refresh_alive(s);
    topic_t tmp = { 0 };
    tmp.n = nparts;
    tmp.p = calloc((size_t)nparts, sizeof *tmp.p);
    int rc = argc == 6 ? parse_assignment(argv[5], nparts, &tmp, msg, sizeof msg)
                       : assign(s, argv[2], nparts, rf, &tmp, msg, sizeof msg);
    if (rc == 0 && argc == 6)
        for (int i = 0; i < nparts; i++)
            if (tmp.p[i].replicas.n != rf) {
                snprintf(msg, sizeof msg, "assignment of partition %d has %d replicas, RF is %d",
                         i, tmp.p[i].replicas.n, rf);
                rc = -1;
            }
    if (rc < 0) {
        free(tmp.p);
        reply("err %s", msg);
        return;
    }
    topic_t *t = topic_add(s, argv[2], nparts);
    memcpy(t->p, tmp.p, (size_t)nparts * sizeof *tmp.p);
    free(tmp.p);
    new_topic_id(t->topic_id);
    init_states(s, t);
    batch_t batch = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    topic_write_async(s, t, &batch);
    batch_wait(&batch, 0);
    if (batch.failed) {
        reply("err creating the znodes of topic %s failed (see stderr)", t->name);
        return;
    }
    json_t *a = json_object();
    for (int i = 0; i < nparts; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", i);
        json_object_set_new(a, k, rl_json(&t->p[i].replicas));
    }
    char *as = dump(json_pack("{s:s,s:s,s:o}", "topic", t->name, "topic_id", t->topic_id,
                              "partitions", a));
    reply("ok %s", as);
    free(as);
}

static void cmd_bulk(sim_t *s, int argc, char **argv)
{
    int n, per = 0, total = 0, rf;
    if (argc != 6 || strcmp(argv[1], "topics") != 0 || kr_zk_parse_int(argv[2], &n) < 0 || n < 1 ||
        kr_zk_parse_int(argv[4], &rf) < 0 || rf < 1 ||
        (strncmp(argv[3], "total:", 6) == 0 ? kr_zk_parse_int(argv[3] + 6, &total) < 0 || total < n
                                            : kr_zk_parse_int(argv[3], &per) < 0 || per < 1)) {
        reply("err usage: bulk topics N PARTITIONS|total:TOTAL RF PREFIX");
        return;
    }
    refresh_alive(s);
    int64_t t0 = now_ms();
    batch_t batch = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    long parts = 0;
    for (int i = 0; i < n; i++) {
        char name[512], msg[256];
        snprintf(name, sizeof name, "%s%d", argv[5], i);
        int np = per ? per : total / n + (i < total % n ? 1 : 0);
        if (topic_find(s, name)) {
            reply("err topic %s already exists", name);
            batch_wait(&batch, 0);
            return;
        }
        topic_t *t = topic_add(s, name, np);
        if (assign(s, name, np, rf, t, msg, sizeof msg) < 0) {
            s->n_topics--; /* drop it again */
            free(t->name);
            free(t->p);
            tindex_rebuild(s, s->tindex_cap);
            batch_wait(&batch, 0);
            reply("err %s", msg);
            return;
        }
        new_topic_id(t->topic_id);
        init_states(s, t);
        topic_write_async(s, t, &batch);
        parts += np;
    }
    batch_wait(&batch, 0);
    if (batch.failed) {
        reply("err %d topic creations failed (see stderr)", batch.failed);
        return;
    }
    reply("ok {\"topics\":%d,\"partitions\":%ld,\"ms\":%lld}", n, parts,
          (long long)(now_ms() - t0));
}

static void cmd_status(sim_t *s)
{
    json_t *alive = json_array(), *brokers = json_object();
    long parts = 0, offline = 0, under = 0;
    for (size_t i = 0; i < s->n_brokers; i++) {
        broker_t *b = &s->brokers[i];
        char k[16];
        snprintf(k, sizeof k, "%d", b->id);
        if (b->alive)
            json_array_append_new(alive, json_integer(b->id));
        json_object_set_new(brokers, k, json_pack("{s:b,s:b,s:i,s:I,s:s,s:i,s:s?}", "alive", b->alive,
                                                  "running", b->pid != 0, "pid", (int)b->pid, "czxid",
                                                  (json_int_t)b->czxid, "host", b->host, "port",
                                                  b->port, "rack", b->rack[0] ? b->rack : NULL));
    }
    for (size_t t = 0; t < s->n_topics; t++)
        for (int i = 0; i < s->topics[t].n; i++) {
            part_t *p = &s->topics[t].p[i];
            parts++;
            if (p->leader < 0)
                offline++;
            if (p->isr.n < p->replicas.n - p->adding.n)
                under++;
        }
    char *js = dump(json_pack("{s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:i,s:i,s:i,s:i,s:i}", "brokers_alive", alive,
                              "brokers", brokers, "topics", (json_int_t)s->n_topics, "partitions",
                              (json_int_t)parts, "offline_partitions", (json_int_t)offline,
                              "under_replicated_partitions", (json_int_t)under,
                              "reassignments_in_progress", (json_int_t)s->n_moves,
                              "reassignments_done", s->reassign_done, "reassignments_failed",
                              s->reassign_failed, "preferred_elected", s->elections, "controller",
                              s->controller_id, "controller_epoch", s->controller_epoch));
    reply("ok %s", js);
    free(js);
}

static void cmd_partition(sim_t *s, int argc, char **argv)
{
    int p;
    topic_t *t = argc == 3 ? topic_find(s, argv[1]) : NULL;
    if (!t || kr_zk_parse_int(argv[2], &p) < 0 || p < 0 || p >= t->n) {
        reply("err usage: partition TOPIC P (of an existing topic)");
        return;
    }
    part_t *pp = &t->p[p];
    char *js = dump(json_pack("{s:o,s:o,s:o,s:i,s:i,s:o}", "replicas", rl_json(&pp->replicas),
                              "adding", rl_json(&pp->adding), "removing", rl_json(&pp->removing),
                              "leader", pp->leader, "leader_epoch", pp->leader_epoch, "isr",
                              rl_json(&pp->isr)));
    reply("ok %s", js);
    free(js);
}

/* Waits until the controller thread has handled every event that arrived so far. */
static void cmd_sync(sim_t *s)
{
    pthread_mutex_lock(&s->qmu);
    while (s->pending || s->busy)
        pthread_cond_wait(&s->qcv, &s->qmu);
    pthread_mutex_unlock(&s->qmu);
    reply("ok");
}

static int run_command(sim_t *s, char *line)
{
    char *argv[16];
    int argc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " \t\r\n", &save); tok && argc < 16;
         tok = strtok_r(NULL, " \t\r\n", &save))
        argv[argc++] = tok;
    if (argc == 0) {
        reply("err empty command");
        return 0;
    }
    if (strcmp(argv[0], "quit") == 0)
        return 1;
    if (strcmp(argv[0], "sync") == 0) {
        cmd_sync(s);
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    if (strcmp(argv[0], "broker") == 0)
        cmd_broker(s, argc, argv);
    else if (strcmp(argv[0], "topic") == 0)
        cmd_topic(s, argc, argv);
    else if (strcmp(argv[0], "bulk") == 0)
        cmd_bulk(s, argc, argv);
    else if (strcmp(argv[0], "controller") == 0 && argc == 2) {
        int id;
        char msg[256];
        refresh_alive(s);
        if (kr_zk_parse_int(argv[1], &id) < 0)
            reply("err usage: controller ID");
        else if (elect_controller(s, id, msg, sizeof msg) < 0)
            reply("err %s", msg);
        else
            reply("ok %s", msg);
    } else if (strcmp(argv[0], "status") == 0)
        cmd_status(s);
    else if (strcmp(argv[0], "partition") == 0)
        cmd_partition(s, argc, argv);
    else if (strcmp(argv[0], "throttles") == 0) {
        char *js = json_dumps(s->throttles, JSON_COMPACT | JSON_SORT_KEYS);
        reply("ok %s", js);
        free(js);
    } else if (strcmp(argv[0], "reassignments") == 0) {
        char *js = json_dumps(s->reassign_log, JSON_COMPACT);
        reply("ok %s", js ? js : "[]");
        free(js);
    } else if (strcmp(argv[0], "throttle-log") == 0) {
        char *js = json_dumps(s->throttle_log, JSON_COMPACT);
        reply("ok %s", js);
        free(js);
    } else
        reply("err unknown command \"%s\" (broker, topic, bulk, controller, status, partition, "
              "throttles, throttle-log, reassignments, sync, quit)", argv[0]);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* --------------------------------------------------------------------- main */

static const char usage_text[] =
    "usage: krsim --zookeeper CONNECT[/chroot] [--controller-delay-ms N]\n"
    "             [--session-timeout-ms N] [--broker-json-version 2..5]\n"
    "then one command a line on stdin, one answer line (ok ... | err ...) on stdout:\n"
    "  broker add ID HOST PORT [RACK] | broker kill ID close|expire | broker restart ID\n"
    "  topic create NAME PARTITIONS RF [P=B1,B2;P=...]\n"
    "  bulk topics N PARTITIONS|total:TOTAL RF PREFIX\n"
    "  controller ID | status | partition TOPIC P | throttles | throttle-log | reassignments | sync | quit\n";

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--holder") == 0)
        return holder_main(argc, argv);

    sim_t sim, *s = &sim;
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    s->controller_delay_ms = 1000;
    s->session_timeout_ms = 18000; /* Kafka's default since 2.5 */
    s->broker_json_version = 5;
    s->controller_id = -1;
    s->next_due_ms = INT64_MAX;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "krsim: %s needs a value\n%s", a, usage_text);
            return 2;
        }
        i++;
        if (strcmp(a, "--zookeeper") == 0)
            s->connect = (char *)v;
        else if (kr_zk_parse_int(v, &n) < 0 || n < 0) {
            fprintf(stderr, "krsim: %s needs a non-negative number, not \"%s\"\n", a, v);
            return 2;
        } else if (strcmp(a, "--controller-delay-ms") == 0)
            s->controller_delay_ms = n;
        else if (strcmp(a, "--session-timeout-ms") == 0)
            s->session_timeout_ms = n;
        else if (strcmp(a, "--broker-json-version") == 0 && n >= 2 && n <= 5)
            s->broker_json_version = n;
        else {
            fprintf(stderr, "krsim: unknown option %s\n%s", a, usage_text);
            return 2;
        }
    }
    if (!s->connect) {
        fputs(usage_text, stderr);
        return 2;
    }
    ssize_t sl = readlink("/proc/self/exe", s->self, sizeof s->self - 1);
    if (sl <= 0) {
        fprintf(stderr, "krsim: cannot find my own binary: %s\n", strerror(errno));
        return 2;
    }
    s->self[sl] = '\0';
    signal(SIGPIPE, SIG_IGN);
    zoo_set_debug_level(getenv("KRSIM_ZK_DEBUG") ? ZOO_LOG_LEVEL_DEBUG : (ZooLogLevel)0);

    /* A chroot must exist before a client can use it (Kafka creates it the same way). */
    const char *chroot = strchr(s->connect, '/');
    holder_t h = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    if (chroot && strcmp(chroot, "/") != 0) {
        char *base = strndup(s->connect, (size_t)(chroot - s->connect));
        zhandle_t *zh0 = connect_wait(base, 30000, holder_watcher, &h, &h, 15000);
        free(base);
        if (!zh0) {
            fprintf(stderr, "krsim: cannot connect to ZooKeeper at %s\n", s->connect);
            return 2;
        }
        mkdirp(zh0, chroot);
        zookeeper_close(zh0);
    }
    /* the simulator's session: the global watcher gets session and watch events */
    s->zh = zookeeper_init(s->connect, sim_watcher, 30000, NULL, s, 0);
    for (int i = 0; s->zh && i < 150; i++) {
        pthread_mutex_lock(&s->qmu);
        int st = s->zk_state;
        pthread_mutex_unlock(&s->qmu);
        if (st == ZOO_CONNECTED_STATE)
            break;
        usleep(100 * 1000);
    }
    if (!s->zh || s->zk_state != ZOO_CONNECTED_STATE) {
        fprintf(stderr, "krsim: cannot connect to ZooKeeper at %s\n", s->connect);
        return 2;
    }
    /* KafkaZkClient.createTopLevelPaths */
    static const char *paths[] = { "/consumers", "/brokers/ids", "/brokers/topics",
                                   "/brokers/seqid", "/config/changes", "/config/clients",
                                   "/config/brokers", "/config/topics", "/config/users",
                                   "/admin/delete_topics", "/isr_change_notification",
                                   "/latest_producer_id_block", "/log_dir_event_notification" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        mkdirp(s->zh, paths[i]);
    s->throttles = json_object();
    s->throttle_log = json_array();
    s->reassign_log = json_array();
    /* arm every watch; existing config notifications are read as a broker does at start */
    s->pending = EV_BROKERS | EV_CONFIG | EV_CONTROLLER | EV_PREFERRED;
    struct Stat st;
    if (zoo_exists(s->zh, "/admin/reassign_partitions", 1, &st) == ZOK)
        s->pending |= EV_REASSIGN; /* a controller failover reads an existing one */
    pthread_t ctl;
    pthread_create(&ctl, NULL, controller_thread, s);
    logf_("event=started zookeeper=%s session_timeout_ms=%d controller_delay_ms=%d "
          "broker_json_version=%d",
          s->connect, s->session_timeout_ms, s->controller_delay_ms, s->broker_json_version);

    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) > 0)
        if (run_command(s, line))
            break;
    free(line);

    pthread_mutex_lock(&s->qmu);
    s->quit = 1;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    pthread_join(ctl, NULL);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_brokers; i++) {
        char ans[64];
        if (s->brokers[i].pid) {
            holder_cmd(&s->brokers[i], "close", ans, sizeof ans);
            holder_reap(&s->brokers[i], 0);
        }
    }
    zookeeper_close(s->zh);
    reply("ok bye");
    for (size_t i = 0; i < s->n_topics; i++) {
        free(s->topics[i].name);
        free(s->topics[i].p);
    }
    for (size_t i = 0; i < s->n_moves; i++)
        free(s->moves[i].topic);
    free(s->moves);
    free(s->topics);
    free(s->tindex);
    free(s->brokers);
    json_decref(s->throttles);
    json_decref(s->throttle_log);
    json_decref(s->reassign_log);
    pthread_mutex_unlock(&s->mu);
    return 0;
}
