/* tests/tools/zkcli.c: a tiny ZooKeeper command-line client (sync API of libzookeeper-mt)
 * for tests and the demo, since Debian's zookeeper package ships no C CLI.
 * Exit codes: 0 ok, 1 no such node, 2 any other error (message on stderr). */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

#define ZKCLI_EXIT_NONODE 1
#define ZKCLI_EXIT_ERR 2
#define ZKCLI_MAXDATA (16 * 1024 * 1024)

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;      /* last session state seen by the global watcher */
    int path_event; /* last event seen by a path watch */
} zkcli_t;

static const char usage_text[] =
    "usage: zkcli CONNECT COMMAND ARGS\n"
    "  get PATH                       print the node's data\n"
    "  ls PATH                        children, one per line (sorted)\n"
    "  create PATH DATA [ephemeral|persistent|sequential|ephemeral_sequential]\n"
    "                                 prints the created path; DATA '-' reads stdin\n"
    "  mkdirp PATH                    create PATH and missing parents (empty data)\n"
    "  set PATH DATA [VERSION]        DATA '-' reads stdin\n"
    "  delete PATH [VERSION]\n"
    "  rmr PATH                       delete PATH and everything under it\n"
    "  stat PATH                      JSON: czxid, mzxid, version, ephemeralOwner, ...\n"
    "  exists PATH                    exit 0 when it exists, 1 when not\n"
    "  wait-gone PATH TIMEOUT_MS      wait until PATH does not exist; prints waited ms\n"
    "  wait-exists PATH TIMEOUT_MS    wait until PATH exists; prints waited ms\n"
    "  dump PATH                      recursive JSON {path: data} (data null when none)\n"
    "exit: 0 ok, 1 no node, 2 other error. Env ZKCLI_TIMEOUT_MS (connect, default 10000),\n"
    "ZKCLI_DEBUG=1 (client library logs).\n";

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_ts(struct timespec *ts, long long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Runs on the client's completion thread. */
static void session_watcher_cb(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zkcli_t *c = ctx;
    pthread_mutex_lock(&c->mu);
    if (type == ZOO_SESSION_EVENT)
        c->state = state;
    else
        c->path_event = type;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static int rc_exit(int rc, const char *what, const char *path)
{
    if (rc == ZOK)
        return 0;
    fprintf(stderr, "zkcli: %s %s: %s\n", what, path, zerror(rc));
    return rc == ZNONODE ? ZKCLI_EXIT_NONODE : ZKCLI_EXIT_ERR;
}

/* Reads all of stdin into a malloc'd buffer (new; caller frees). */
static char *read_stdin(int *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *nb = cap * 2 > ZKCLI_MAXDATA ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, stdin);
        if (r == 0)
            break;
        n += r;
    }
    if (buf)
        *len = (int)n;
    return buf;
}

/* Data argument: '-' reads stdin. *owned is set when the result must be freed. */
static const char *data_arg(const char *arg, int *len, char **owned)
{
    *owned = NULL;
    if (strcmp(arg, "-") == 0) {
        *owned = read_stdin(len);
        return *owned;
    }
    *len = (int)strlen(arg);
    return arg;
}

/* Gets a node's data into a malloc'd buffer sized from its stat (new; caller frees).
 * *len is -1 for a node with null data. */
static int get_data(zhandle_t *zh, const char *path, char **out, int *len, struct Stat *st)
{
    int cap = 1024 * 1024;
    for (;;) {
        char *buf = malloc((size_t)cap);
        if (!buf)
            return ZSYSTEMERROR;
        int n = cap;
        int rc = zoo_get(zh, path, 0, buf, &n, st);
        if (rc != ZOK) {
            free(buf);
            return rc;
        }
        if (st->dataLength > cap && cap < ZKCLI_MAXDATA) {
            free(buf);
            cap = st->dataLength;
            continue;
        }
        *out = buf;
        *len = n;
        return ZOK;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void child_path(char *dst, size_t cap, const char *parent, const char *name)
{
    snprintf(dst, cap, "%s/%s", strcmp(parent, "/") == 0 ? "" : parent, name);
}

static int do_rmr(zhandle_t *zh, const char *path)
{
    struct String_vector kids = { 0, NULL };
    int rc = zoo_get_children(zh, path, 0, &kids);
    if (rc != ZOK)
        return rc;
    for (int i = 0; i < kids.count && rc == ZOK; i++) {
        char sub[4096];
        child_path(sub, sizeof sub, path, kids.data[i]);
        rc = do_rmr(zh, sub);
        if (rc == ZNONODE)
            rc = ZOK; /* someone else removed it: fine */
    }
    deallocate_String_vector(&kids);
    if (rc == ZOK && strcmp(path, "/") != 0 && strcmp(path, "/zookeeper") != 0)
        rc = zoo_delete(zh, path, -1);
    return rc;
}

static int do_dump(zhandle_t *zh, const char *path, json_t *out)
{
    struct Stat st;
    char *data = NULL;
    int len = -1;
    int rc = get_data(zh, path, &data, &len, &st);
    if (rc != ZOK)
        return rc;
    json_object_set_new(out, path, len < 0 ? json_null() : json_stringn(data, (size_t)len));
    free(data);
    if (st.numChildren == 0)
        return ZOK;
    struct String_vector kids = { 0, NULL };
    rc = zoo_get_children(zh, path, 0, &kids);
    if (rc != ZOK)
        return rc;
    for (int i = 0; i < kids.count && rc == ZOK; i++) {
        char sub[4096];
        child_path(sub, sizeof sub, path, kids.data[i]);
        if (strcmp(sub, "/zookeeper") == 0)
            continue;
        rc = do_dump(zh, sub, out);
        if (rc == ZNONODE)
            rc = ZOK; /* deleted while we walked */
    }
    deallocate_String_vector(&kids);
    return rc;
}

static int do_mkdirp(zhandle_t *zh, const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            int rc = zoo_create(zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
            if (rc != ZOK && rc != ZNODEEXISTS)
                return rc;
            *p = saved;
            if (saved == '\0')
                return ZOK;
        }
    }
}

/* Waits until PATH exists (want_exists) or is gone; an exists-watch re-armed each turn. */
static int do_wait(zhandle_t *zh, zkcli_t *c, const char *path, int want_exists, long long tmout)
{
    long long start = now_ms(), deadline = start + tmout;
    for (;;) {
        struct Stat st;
        pthread_mutex_lock(&c->mu);
        c->path_event = 0;
        pthread_mutex_unlock(&c->mu);
        int rc = zoo_exists(zh, path, 1, &st);
        if (rc != ZOK && rc != ZNONODE)
            return rc_exit(rc, "exists", path);
        if ((rc == ZOK) == want_exists) {
            printf("%lld\n", now_ms() - start);
            return 0;
        }
        struct timespec ts;
        deadline_ts(&ts, deadline - now_ms());
        pthread_mutex_lock(&c->mu);
        int timed_out = 0;
        while (c->path_event == 0 && !timed_out)
            timed_out = pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT;
        pthread_mutex_unlock(&c->mu);
        if (timed_out) {
            fprintf(stderr, "zkcli: %s still %s after %lld ms\n", path,
                    want_exists ? "missing" : "present", tmout);
            return ZKCLI_EXIT_ERR;
        }
    }
}

static int parse_mode(const char *s, int *mode)
{
    /* zookeeper.h's ZOO_* modes are extern variables, not constants: these are their
     * values (PERSISTENT 0, EPHEMERAL 1, PERSISTENT_SEQUENTIAL 2, EPHEMERAL_SEQUENTIAL 3). */
    static const struct { const char *name; int mode; } modes[] = {
        { "persistent", 0 },
        { "ephemeral", 1 },
        { "sequential", 2 },
        { "persistent_sequential", 2 },
        { "ephemeral_sequential", 3 },
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(s, modes[i].name) == 0) {
            *mode = modes[i].mode;
            return 0;
        }
    return -1;
}

static int parse_int(const char *s, long long *v)
{
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return (errno || end == s || *end) ? -1 : 0;
}

static int run(zhandle_t *zh, zkcli_t *c, int argc, char **argv)
{
    const char *cmd = argv[0], *path = argc > 1 ? argv[1] : NULL;
    int rc;
    if (!path || path[0] != '/') {
        fprintf(stderr, "zkcli: %s needs an absolute PATH\n%s", cmd, usage_text);
        return ZKCLI_EXIT_ERR;
    }
    if (strcmp(cmd, "get") == 0 && argc == 2) {
        struct Stat st;
        char *data = NULL;
        int len = -1;
        rc = get_data(zh, path, &data, &len, &st);
        if (rc == ZOK) {
            if (len > 0)
                fwrite(data, 1, (size_t)len, stdout);
            fputc('\n', stdout);
        }
        free(data);
        return rc_exit(rc, "get", path);
    }
    if (strcmp(cmd, "ls") == 0 && argc == 2) {
        struct String_vector kids = { 0, NULL };
        rc = zoo_get_children(zh, path, 0, &kids);
        if (rc == ZOK) {
            qsort(kids.data, (size_t)kids.count, sizeof kids.data[0], cmp_str);
            for (int i = 0; i < kids.count; i++)
                printf("%s\n", kids.data[i]);
            deallocate_String_vector(&kids);
        }
        return rc_exit(rc, "ls", path);
    }
    if (strcmp(cmd, "create") == 0 && (argc == 3 || argc == 4)) {
        int mode = 0, len;
        char *owned, created[4096] = "";
        if (argc == 4 && parse_mode(argv[3], &mode) < 0) {
            fprintf(stderr, "zkcli: unknown create mode \"%s\"\n", argv[3]);
            return ZKCLI_EXIT_ERR;
        }
        const char *data = data_arg(argv[2], &len, &owned);
        if (!data)
            return rc_exit(ZSYSTEMERROR, "read stdin for", path);
        rc = zoo_create(zh, path, data, len, &ZOO_OPEN_ACL_UNSAFE, mode, created, sizeof created);
        free(owned);
        if (rc == ZOK)
            printf("%s\n", created);
        return rc_exit(rc, "create", path);
    }
    if (strcmp(cmd, "mkdirp") == 0 && argc == 2)
        return rc_exit(do_mkdirp(zh, path), "mkdirp", path);
    if (strcmp(cmd, "set") == 0 && (argc == 3 || argc == 4)) {
        long long version = -1;
        int len;
        char *owned;
        if (argc == 4 && parse_int(argv[3], &version) < 0) {
            fprintf(stderr, "zkcli: VERSION must be an integer, not \"%s\"\n", argv[3]);
            return ZKCLI_EXIT_ERR;
        }
        const char *data = data_arg(argv[2], &len, &owned);
        if (!data)
            return rc_exit(ZSYSTEMERROR, "read stdin for", path);
        rc = zoo_set(zh, path, data, len, (int)version);
        free(owned);
        return rc_exit(rc, "set", path);
    }
    if (strcmp(cmd, "delete") == 0 && (argc == 2 || argc == 3)) {
        long long version = -1;
        if (argc == 3 && parse_int(argv[2], &version) < 0) {
            fprintf(stderr, "zkcli: VERSION must be an integer, not \"%s\"\n", argv[2]);
            return ZKCLI_EXIT_ERR;
        }
        return rc_exit(zoo_delete(zh, path, (int)version), "delete", path);
    }
    if (strcmp(cmd, "rmr") == 0 && argc == 2)
        return rc_exit(do_rmr(zh, path), "rmr", path);
    if ((strcmp(cmd, "stat") == 0 || strcmp(cmd, "exists") == 0) && argc == 2) {
        struct Stat st;
        rc = zoo_exists(zh, path, 0, &st);
        if (rc == ZOK && cmd[0] == 's') {
            json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:i,s:i,s:i,s:I,s:i,s:i,s:I}",
                                  "czxid", (json_int_t)st.czxid, "mzxid", (json_int_t)st.mzxid,
                                  "ctime", (json_int_t)st.ctime, "mtime", (json_int_t)st.mtime,
                                  "version", st.version, "cversion", st.cversion,
                                  "aversion", st.aversion,
                                  "ephemeralOwner", (json_int_t)st.ephemeralOwner,
                                  "dataLength", st.dataLength, "numChildren", st.numChildren,
                                  "pzxid", (json_int_t)st.pzxid);
            char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
            if (s)
                printf("%s\n", s);
            free(s);
            json_decref(j);
        }
        if (rc == ZNONODE && cmd[0] == 'e')
            return ZKCLI_EXIT_NONODE; /* quiet: a plain answer */
        return rc_exit(rc, cmd, path);
    }
    if ((strcmp(cmd, "wait-gone") == 0 || strcmp(cmd, "wait-exists") == 0) && argc == 3) {
        long long ms;
        if (parse_int(argv[2], &ms) < 0 || ms < 0) {
            fprintf(stderr, "zkcli: TIMEOUT_MS must be a number of milliseconds, not \"%s\"\n",
                    argv[2]);
            return ZKCLI_EXIT_ERR;
        }
        return do_wait(zh, c, path, cmd[5] == 'e', ms);
    }
    if (strcmp(cmd, "dump") == 0 && argc == 2) {
        json_t *out = json_object();
        rc = do_dump(zh, path, out);
        if (rc == ZOK) {
            char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
            if (s)
                printf("%s\n", s);
            free(s);
        }
        json_decref(out);
        return rc_exit(rc, "dump", path);
    }
    fprintf(stderr, "zkcli: unknown command or wrong arguments: %s\n%s", cmd, usage_text);
    return ZKCLI_EXIT_ERR;
}

int main(int argc, char **argv)
{
    zkcli_t c = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    zhandle_t *zh = NULL;
    int ret = ZKCLI_EXIT_ERR;
    long long tmout = 10000;
    const char *env = getenv("ZKCLI_TIMEOUT_MS");

    if (argc < 3 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage_text, argc < 3 ? stderr : stdout);
        return argc < 3 ? ZKCLI_EXIT_ERR : 0;
    }
    if (env && (parse_int(env, &tmout) < 0 || tmout <= 0))
        tmout = 10000;
    /* level 0 turns the library's own logging off; we print our own errors */
    zoo_set_debug_level(getenv("ZKCLI_DEBUG") ? ZOO_LOG_LEVEL_DEBUG : (ZooLogLevel)0);
    zh = zookeeper_init(argv[1], session_watcher_cb, 30000, NULL, &c, 0);
    if (!zh) {
        fprintf(stderr, "zkcli: cannot use connect string \"%s\": %s\n", argv[1], strerror(errno));
        goto done;
    }
    struct timespec ts;
    deadline_ts(&ts, tmout);
    pthread_mutex_lock(&c.mu);
    while (c.state != ZOO_CONNECTED_STATE && c.state != ZOO_EXPIRED_SESSION_STATE &&
           c.state != ZOO_AUTH_FAILED_STATE)
        if (pthread_cond_timedwait(&c.cv, &c.mu, &ts) == ETIMEDOUT)
            break;
    int state = c.state;
    pthread_mutex_unlock(&c.mu);
    if (state != ZOO_CONNECTED_STATE) {
        fprintf(stderr, "zkcli: could not connect to %s within %lld ms (is ZooKeeper running?)\n",
                argv[1], tmout);
        goto done;
    }
    ret = run(zh, &c, argc - 2, argv + 2);
    fflush(stdout);
done:
    if (zh)
        zookeeper_close(zh);
    return ret;
}
