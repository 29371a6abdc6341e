/* actions/planner_cli.c: `kresponder plan evacuate|drain`: reads a cluster from a
 * snapshot file or a live ZooKeeper-mode cluster (sync ZooKeeper calls: a CLI may block),
 * plans, prints the reassignment JSON on stdout and a summary on stderr. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

#include "kr/cli.h"
#include "kr/err.h"
#include "kr/planner.h"
#include "kr/zkjson.h"

#define PLAN_MAX_STACKS 64
#define PLAN_ZK_TIMEOUT_MS 10000

static const char plan_usage[] =
    "usage: kresponder plan evacuate --brokers ID[,ID...] [--to TARGETS] SOURCE [--stacks S]\n"
    "       kresponder plan drain --from STACK [--to TARGETS] SOURCE [--stacks S]\n"
    "  SOURCE     --snapshot FILE (JSON: {\"brokers\":[..],\"partitions\":[..],\"stacks\":{..}})\n"
    "             or --zookeeper CONNECT (host:port[,host:port][/chroot], ZooKeeper-mode cluster)\n"
    "  TARGETS    same-stack (evacuate's default), any, stack:NAME, or an id range A-B;\n"
    "             for drain a bare NAME means stack:NAME\n"
    "  --stacks   blue=1-1000,green=1001-2000 (stack id ranges; override the snapshot's)\n"
    "  --max-moves-per-broker N   also report how many batches the executor would write\n"
    "Prints the reassignment JSON (as kafka-reassign-partitions.sh --execute accepts it)\n"
    "on stdout and a summary on stderr. Exit 0 planned, 1 planning failed, 2 usage.\n";

/* ------------------------------------------------------------------ ZooKeeper */

static void zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)type;
    (void)state;
    (void)path;
    (void)ctx;
}

/* zoo_get into a buffer that grows until the whole znode fits. *buf is malloc'd. */
static int zk_get_all(zhandle_t *zh, const char *path, char **buf, int *cap, int *len)
{
    for (;;) {
        struct Stat st;
        int n = *cap;
        int rc = zoo_get(zh, path, 0, *buf, &n, &st);
        if (rc != ZOK)
            return rc;
        if (st.dataLength <= *cap) {
            *len = n < 0 ? 0 : n;
            return ZOK;
        }
        char *nb = realloc(*buf, (size_t)st.dataLength + 1);
        if (!nb)
            return ZSYSTEMERROR;
        *buf = nb;
        *cap = st.dataLength;
    }
}

static int zk_connect(const char *connect, zhandle_t **out, char *err, size_t errlen)
{
    if (!getenv("KR_ZK_DEBUG"))
        zoo_set_debug_level(0); /* the library's own logs only with KR_ZK_DEBUG */
    zhandle_t *zh = zookeeper_init(connect, zk_watcher, PLAN_ZK_TIMEOUT_MS, NULL, NULL, 0);
    if (!zh)
        return kr_seterr(err, errlen, KR_EINVAL, "bad ZooKeeper connect string \"%s\": %s",
                         connect, strerror(errno));
    for (int waited = 0; zoo_state(zh) != ZOO_CONNECTED_STATE; waited += 10) {
        if (waited >= PLAN_ZK_TIMEOUT_MS || zoo_state(zh) == ZOO_EXPIRED_SESSION_STATE ||
            zoo_state(zh) == ZOO_AUTH_FAILED_STATE) {
            zookeeper_close(zh);
            return kr_seterr(err, errlen, KR_ETIMEDOUT,
                             "cannot connect to ZooKeeper at %s within %d s", connect,
                             PLAN_ZK_TIMEOUT_MS / 1000);
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    *out = zh;
    return KR_OK;
}

static int zk_load_brokers(zhandle_t *zh, kr_plan_cluster_t *c, char **buf, int *cap,
                           char *err, size_t errlen)
{
    struct String_vector ids = { 0, NULL };
    int rc = zoo_get_children(zh, "/brokers/ids", 0, &ids);
    if (rc == ZNONODE)
        return KR_OK; /* no broker registered: every replica is on a dead broker */
    if (rc != ZOK)
        return kr_seterr(err, errlen, KR_EIO, "reading /brokers/ids: %s", zerror(rc));
    int out = KR_OK;
    for (int i = 0; i < ids.count && out == KR_OK; i++) {
        char path[300];
        int id;
        if (kr_zk_parse_int(ids.data[i], &id) < 0 || id < 0)
            continue; /* not a broker id: Kafka ignores it too */
        snprintf(path, sizeof path, "/brokers/ids/%s", ids.data[i]);
        int len = 0;
        rc = zk_get_all(zh, path, buf, cap, &len);
        if (rc == ZNONODE)
            continue; /* the broker left while we read */
        if (rc != ZOK) {
            out = kr_seterr(err, errlen, KR_EIO, "reading %s: %s", path, zerror(rc));
            break;
        }
        kr_zk_broker_t zb;
        char why[256];
        if (kr_zk_broker_decode((int)id, *buf, (size_t)len, &zb, why, sizeof why) < 0) {
            out = kr_seterr(err, errlen, KR_EINVAL, "%s: %s", path, why);
            break;
        }
        kr_plan_broker_t b = { .id = (int32_t)id, .alive = 1,
                               .rack = zb.rack && *zb.rack ? zb.rack : NULL };
        out = kr_plan_cluster_add_broker(c, &b, err, errlen);
        kr_zk_broker_deinit(&zb);
    }
    deallocate_String_vector(&ids);
    return out;
}

static int zk_load_topic(kr_plan_cluster_t *c, const char *topic, const char *path,
                         const char *data, int len, char *err, size_t errlen)
{
    kr_zk_topic_t t;
    char why[256];
    int rc = kr_zk_topic_decode(data, (size_t)len, &t, why, sizeof why);
    if (rc < 0)
        return kr_seterr(err, errlen, rc, "%s: %s", path, why);
    for (size_t i = 0; i < t.n_partitions && rc == KR_OK; i++) {
        const kr_zk_assignment_t *a = &t.partitions[i];
        int32_t ids[256];
        /* While a reassignment runs, the replica list holds target plus original
         * replicas: planning on that would be wrong, so wait for it to end. */
        if (a->adding.n || a->removing.n) {
            rc = kr_seterr(err, errlen, KR_ESTATE,
                           "%s-%d is being reassigned (%s not empty): wait until the "
                           "reassignment ends", topic, a->partition,
                           a->adding.n ? "adding_replicas" : "removing_replicas");
            break;
        }
        if (a->replicas.n == 0 || a->replicas.n > 255 || a->partition < 0) {
            rc = kr_seterr(err, errlen, KR_EINVAL, "%s: partition %d has %zu replicas", path,
                           a->partition, a->replicas.n);
            break;
        }
        for (size_t r = 0; r < a->replicas.n; r++)
            ids[r] = a->replicas.ids[r];
        rc = kr_plan_cluster_add_partition(c, topic, a->partition, ids, a->replicas.n, err,
                                           errlen);
    }
    kr_zk_topic_deinit(&t);
    return rc;
}

static int zk_load_topics(zhandle_t *zh, kr_plan_cluster_t *c, char **buf, int *cap,
                          char *err, size_t errlen)
{
    struct String_vector topics = { 0, NULL };
    int rc = zoo_get_children(zh, "/brokers/topics", 0, &topics);
    if (rc == ZNONODE)
        return KR_OK;
    if (rc != ZOK)
        return kr_seterr(err, errlen, KR_EIO, "reading /brokers/topics: %s", zerror(rc));
    int out = KR_OK;
    for (int i = 0; i < topics.count && out == KR_OK; i++) {
        char path[400];
        int len = 0;
        snprintf(path, sizeof path, "/brokers/topics/%s", topics.data[i]);
        rc = zk_get_all(zh, path, buf, cap, &len);
        if (rc == ZNONODE)
            continue; /* deleted while we read */
        if (rc != ZOK)
            out = kr_seterr(err, errlen, KR_EIO, "reading %s: %s", path, zerror(rc));
        else
            out = zk_load_topic(c, topics.data[i], path, *buf, len, err, errlen);
    }
    deallocate_String_vector(&topics);
    return out;
}

static int cluster_from_zookeeper(const char *connect, const kr_plan_stack_t *stacks,
                                  size_t nstacks, kr_plan_cluster_t **out, char *err,
                                  size_t errlen)
{
    int rc;
    zhandle_t *zh = NULL;
    int cap = 1 << 20;
    char *buf = malloc((size_t)cap);
    kr_plan_cluster_t *c = kr_plan_cluster_new();

    *out = NULL;
    if (!buf || !c) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory reading ZooKeeper");
        goto done;
    }
    for (size_t i = 0; i < nstacks; i++)
        if ((rc = kr_plan_cluster_add_stack(c, stacks[i].name, stacks[i].lo, stacks[i].hi, err,
                                            errlen)) < 0)
            goto done;
    if ((rc = zk_connect(connect, &zh, err, errlen)) < 0 ||
        (rc = zk_load_brokers(zh, c, &buf, &cap, err, errlen)) < 0 ||
        (rc = zk_load_topics(zh, c, &buf, &cap, err, errlen)) < 0 ||
        (rc = kr_plan_cluster_seal(c, err, errlen)) < 0)
        goto done;
    *out = c;
    c = NULL;
done:
    if (zh)
        zookeeper_close(zh);
    kr_plan_cluster_free(c);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------ command */

static int parse_ids(const char *s, int32_t **ids, size_t *n, char *err, size_t errlen)
{
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    while (*s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            free(*ids);
            *ids = NULL;
            return kr_seterr(err, errlen, KR_EINVAL,
                             "bad --brokers \"%s\": expected broker ids like 3,4", s);
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            int32_t *nids = realloc(*ids, cap * sizeof *nids);
            if (!nids) {
                free(*ids);
                *ids = NULL;
                return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
            }
            *ids = nids;
        }
        (*ids)[(*n)++] = (int32_t)v;
        s = *end ? end + 1 : end;
    }
    if (!*n)
        return kr_seterr(err, errlen, KR_EINVAL, "--brokers needs at least one broker id");
    return KR_OK;
}

static void print_summary(const kr_plan_t *p, const json_t *sum, const char *what, long batches,
                          int max_moves)
{
    const char *key;
    json_t *v;
    fprintf(stderr, "plan: %s to %s: %lld partitions, %lld replicas moved\n", what,
            json_string_value(json_object_get(sum, "targets")),
            (long long)json_integer_value(json_object_get(sum, "partitions_moved")),
            (long long)json_integer_value(json_object_get(sum, "replicas_moved")));
    json_object_foreach(json_object_get(sum, "sources"), key, v)
        fprintf(stderr, "  from broker %s: %lld replicas\n", key, (long long)json_integer_value(v));
    json_t *tr = json_object_get(sum, "target_replicas");
    json_object_foreach(json_object_get(sum, "destinations"), key, v) {
        json_t *t = json_object_get(tr, key);
        fprintf(stderr, "  to broker %s: %lld replicas (%lld -> %lld)\n", key,
                (long long)json_integer_value(v),
                (long long)json_integer_value(json_object_get(t, "before")),
                (long long)json_integer_value(json_object_get(t, "after")));
    }
    if (batches >= 0)
        fprintf(stderr, "  batches: %ld (at most %d moves per broker each)\n", batches, max_moves);
    fprintf(stderr, "  rack warnings: %zu\n", kr_plan_rack_warnings(p));
    for (size_t i = 0; i < kr_plan_rack_warnings(p); i++)
        fprintf(stderr, "  warning: %s\n", kr_plan_rack_warning(p, i));
}

static int read_snapshot(const char *path, const kr_plan_stack_t *stacks, size_t nstacks,
                         kr_plan_cluster_t **out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *doc = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &jerr)
                                         : json_load_file(path, 0, &jerr);
    if (!doc)
        return kr_seterr(err, errlen, KR_EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                         jerr.text);
    char inner[512] = "";
    int rc = kr_plan_cluster_from_json(doc, stacks, nstacks, out, inner, sizeof inner);
    json_decref(doc);
    if (rc < 0)
        return kr_seterr(err, errlen, rc, "%s: %s", path, inner);
    return KR_OK;
}

int kr_cmd_plan(int argc, char **argv)
{
    enum { OPT_BROKERS = 1, OPT_FROM, OPT_TO, OPT_SNAPSHOT, OPT_ZOOKEEPER, OPT_STACKS, OPT_MAX };
    static const struct option opts[] = {
        { "brokers", required_argument, NULL, OPT_BROKERS },
        { "from", required_argument, NULL, OPT_FROM },
        { "to", required_argument, NULL, OPT_TO },
        { "snapshot", required_argument, NULL, OPT_SNAPSHOT },
        { "zookeeper", required_argument, NULL, OPT_ZOOKEEPER },
        { "stacks", required_argument, NULL, OPT_STACKS },
        { "max-moves-per-broker", required_argument, NULL, OPT_MAX },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *brokers = NULL, *from = NULL, *to = NULL, *snapshot = NULL, *zk = NULL,
               *stacks_spec = NULL;
    int max_moves = 0, drain, code = 1, rc;
    char err[1024] = "", what[256];
    kr_plan_stack_t stacks[PLAN_MAX_STACKS];
    int nstacks = 0;
    int32_t *ids = NULL;
    size_t nids = 0;
    kr_plan_cluster_t *c = NULL;
    kr_plan_t *p = NULL;
    kr_plan_batches_t *b = NULL;
    json_t *out = NULL, *sum = NULL;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(plan_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "evacuate") == 0)
        drain = 0;
    else if (strcmp(argv[1], "drain") == 0)
        drain = 1;
    else {
        fprintf(stderr, "plan: unknown mode \"%s\": expected evacuate or drain\n%s", argv[1],
                plan_usage);
        return 2;
    }
    optind = 1;
    opterr = 0;
    for (int o; (o = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1;) {
        switch (o) {
        case OPT_BROKERS: brokers = optarg; break;
        case OPT_FROM: from = optarg; break;
        case OPT_TO: to = optarg; break;
        case OPT_SNAPSHOT: snapshot = optarg; break;
        case OPT_ZOOKEEPER: zk = optarg; break;
        case OPT_STACKS: stacks_spec = optarg; break;
        case OPT_MAX: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 65535) {
                fprintf(stderr, "plan: --max-moves-per-broker must be 1..65535\n");
                return 2;
            }
            max_moves = (int)v;
            break;
        }
        case 'h': fputs(plan_usage, stdout); return 0;
        default:
            fprintf(stderr, "plan: unknown or incomplete option \"%s\"\n%s",
                    argv[optind < argc ? optind : argc - 1], plan_usage);
            return 2;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "plan: unexpected argument \"%s\"\n%s", argv[optind + 1], plan_usage);
        return 2;
    }
    if (!snapshot == !zk) {
        fprintf(stderr, "plan: give exactly one of --snapshot FILE and --zookeeper CONNECT\n%s",
                plan_usage);
        return 2;
    }
    if (drain ? (!from || brokers) : (!brokers || from)) {
        fprintf(stderr, "plan: %s\n%s",
                drain ? "drain needs --from STACK (and no --brokers)"
                      : "evacuate needs --brokers ID[,ID...] (and no --from)", plan_usage);
        return 2;
    }

    kr_plan_request_t req = { 0 };
    if (drain && to && !strchr(to, ':') && strcmp(to, "any") != 0 && strcmp(to, "same-stack") != 0 &&
        !(to[0] >= '0' && to[0] <= '9')) {
        snprintf(req.to.stack, sizeof req.to.stack, "%s", to);
        req.to.kind = KR_PLAN_TO_STACK;
        if (strlen(to) >= sizeof req.to.stack) {
            fprintf(stderr, "plan: stack name \"%s\" is too long\n", to);
            return 2;
        }
    } else if (drain && !to) {
        fprintf(stderr, "plan: drain needs --to (a stack name, stack:NAME, A-B or any)\n");
        return 2;
    } else if (kr_plan_targets_parse(to ? to : "same-stack", &req.to, err, sizeof err) < 0) {
        fprintf(stderr, "plan: %s\n", err);
        return 2;
    }
    if (stacks_spec &&
        (nstacks = kr_plan_stacks_parse(stacks_spec, stacks, PLAN_MAX_STACKS, err, sizeof err)) < 0) {
        fprintf(stderr, "plan: --stacks: %s\n", err);
        return 2;
    }
    if (brokers && parse_ids(brokers, &ids, &nids, err, sizeof err) < 0) {
        fprintf(stderr, "plan: %s\n", err);
        return 2;
    }
    req.evacuate = ids;
    req.n_evacuate = nids;
    req.drain_stack = drain ? from : NULL;
    if (drain)
        snprintf(what, sizeof what, "drain stack %s", from);
    else
        snprintf(what, sizeof what, "evacuate %.200s", brokers);

    rc = snapshot ? read_snapshot(snapshot, stacks, (size_t)nstacks, &c, err, sizeof err)
                  : cluster_from_zookeeper(zk, stacks, (size_t)nstacks, &c, err, sizeof err);
    if (rc < 0 || (rc = kr_plan_new(c, &req, &p, err, sizeof err)) < 0) {
        fprintf(stderr, "plan: %s\n", err);
        goto done;
    }
    long nbatches = -1;
    if (max_moves) {
        if (kr_plan_batch(p, max_moves, &b, err, sizeof err) < 0) {
            fprintf(stderr, "plan: %s\n", err);
            goto done;
        }
        nbatches = (long)kr_plan_batches_count(b);
    }
    out = kr_plan_reassignment_json(p);
    sum = kr_plan_summary_json(p);
    if (!out || !sum) {
        fprintf(stderr, "plan: out of memory\n");
        goto done;
    }
    if (json_dumpf(out, stdout, JSON_COMPACT) < 0 || fputc('\n', stdout) == EOF ||
        fflush(stdout) == EOF) {
        fprintf(stderr, "plan: writing the plan: %s\n", strerror(errno));
        goto done;
    }
    print_summary(p, sum, what, nbatches, max_moves);
    code = 0;
done:
    json_decref(out);
    json_decref(sum);
    kr_plan_batches_free(b);
    kr_plan_free(p);
    kr_plan_cluster_free(c);
    free(ids);
    return code;
}
