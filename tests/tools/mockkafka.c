/* tests/tools/mockkafka.c: librdkafka's mock cluster as a standalone server for tests (it
 * creates topics, produces messages and commits group offsets as told, prints the bootstrap
 * string and serves until SIGTERM), plus a client mode that reads a group's committed
 * offsets through the classic consumer API (OffsetFetch), independent of kr/kafka.h.
 *
 *   mockkafka [--brokers N] [--topic NAME:PARTITIONS[:MESSAGES]]... [--commit GROUP:TOPIC:PARTITION:OFFSET]...
 *       prints "<bootstrap servers>" on one line once everything is set up, then serves
 *   mockkafka --connect BOOTSTRAP --committed GROUP TOPIC:PARTITION[,TOPIC:PARTITION...]
 *       prints {"TOPIC:PARTITION": offset|null, ...} (null: nothing committed)
 * Exit codes: 0 ok, 2 bad arguments or a Kafka error (message on stderr). */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_ITEMS 64
#define OP_TIMEOUT_MS 10000

static const char usage_text[] =
    "usage: mockkafka [--brokers N] [--topic NAME:PARTITIONS[:MESSAGES]]... "
    "[--commit GROUP:TOPIC:PARTITION:OFFSET]...\n"
    "       mockkafka --connect BOOTSTRAP --committed GROUP TOPIC:PARTITION[,...]\n";

typedef struct {
    char name[256];
    int partitions;
    int messages; /* per partition */
} topic_spec_t;

typedef struct {
    char group[256];
    char topic[256];
    int partition;
    long long offset;
} commit_spec_t;

static rd_kafka_t *new_handle(rd_kafka_type_t type, const char *bootstrap, const char *group)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    if ((bootstrap && rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                                        sizeof errstr) != RD_KAFKA_CONF_OK) ||
        (group && (rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) !=
                       RD_KAFKA_CONF_OK ||
                   rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                                     sizeof errstr) != RD_KAFKA_CONF_OK)) ||
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "mockkafka: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "mockkafka: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static int produce(const char *bootstrap, const topic_spec_t *t)
{
    rd_kafka_t *p = new_handle(RD_KAFKA_PRODUCER, bootstrap, NULL);
    int rc = 0;
    if (!p)
        return -1;
    for (int part = 0; part < t->partitions && rc == 0; part++)
        for (int i = 0; i < t->messages; i++) {
            char payload[64];
            int n = snprintf(payload, sizeof payload, "%s/%d/%d", t->name, part, i);
            rd_kafka_resp_err_t e = rd_kafka_producev(
                p, RD_KAFKA_V_TOPIC(t->name), RD_KAFKA_V_PARTITION(part),
                RD_KAFKA_V_VALUE(payload, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (e) {
                fprintf(stderr, "mockkafka: produce %s/%d: %s\n", t->name, part,
                        rd_kafka_err2str(e));
                rc = -1;
                break;
            }
        }
    if (rc == 0 && rd_kafka_flush(p, OP_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "mockkafka: flush of %s timed out\n", t->name);
        rc = -1;
    }
    rd_kafka_destroy(p);
    return rc;
}

static int commit(const char *bootstrap, const commit_spec_t *c)
{
    rd_kafka_t *rk = new_handle(RD_KAFKA_CONSUMER, bootstrap, c->group);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t e;
    int rc = 0;
    if (!rk) {
        rd_kafka_topic_partition_list_destroy(l);
        return -1;
    }
    rd_kafka_topic_partition_list_add(l, c->topic, c->partition)->offset = c->offset;
    e = rd_kafka_commit(rk, l, 0);
    if (!e && l->elems[0].err)
        e = l->elems[0].err;
    if (e) {
        fprintf(stderr, "mockkafka: commit %s %s/%d: %s\n", c->group, c->topic, c->partition,
                rd_kafka_err2str(e));
        rc = -1;
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

static int serve(int brokers, const topic_spec_t *topics, int ntopics,
                 const commit_spec_t *commits, int ncommits)
{
    rd_kafka_t *rk = new_handle(RD_KAFKA_PRODUCER, NULL, NULL);
    rd_kafka_mock_cluster_t *mc = NULL;
    const char *bootstrap;
    sigset_t set;
    int sig, rc = 2;

    /* Block the stop signals before librdkafka starts threads, so they inherit the mask
     * and sigwait below is the only receiver. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (!rk)
        return 2;
    mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "mockkafka: rd_kafka_mock_cluster_new failed\n");
        goto done;
    }
    bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    for (int i = 0; i < ntopics; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(
            mc, topics[i].name, topics[i].partitions, brokers < 3 ? brokers : 3);
        if (e) {
            fprintf(stderr, "mockkafka: create %s: %s\n", topics[i].name, rd_kafka_err2str(e));
            goto done;
        }
    }
    for (int i = 0; i < ntopics; i++)
        if (topics[i].messages > 0 && produce(bootstrap, &topics[i]) != 0)
            goto done;
    for (int i = 0; i < ncommits; i++)
        if (commit(bootstrap, &commits[i]) != 0)
            goto done;
    printf("%s\n", bootstrap);
    fflush(stdout);
    sigwait(&set, &sig);
    rc = 0;
done:
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}

static int query_committed(const char *bootstrap, const char *group, char *list)
{
    rd_kafka_t *rk = new_handle(RD_KAFKA_CONSUMER, bootstrap, group);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    json_t *out = json_object();
    rd_kafka_resp_err_t e;
    char *save = NULL;
    int rc = 2;
    if (!rk)
        goto done;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(tok, ':');
        if (!colon || colon == tok) {
            fprintf(stderr, "mockkafka: %s is not TOPIC:PARTITION\n", tok);
            goto done;
        }
        *colon = '\0';
        rd_kafka_topic_partition_list_add(l, tok, atoi(colon + 1));
    }
    e = rd_kafka_committed(rk, l, OP_TIMEOUT_MS);
    if (e) {
        fprintf(stderr, "mockkafka: committed: %s\n", rd_kafka_err2str(e));
        goto done;
    }
    for (int i = 0; i < l->cnt; i++) {
        char key[300];
        const rd_kafka_topic_partition_t *p = &l->elems[i];
        snprintf(key, sizeof key, "%s:%d", p->topic, (int)p->partition);
        json_object_set_new(out, key, p->err || p->offset < 0 ? json_null()
                                                              : json_integer(p->offset));
    }
    {
        char *s = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
        printf("%s\n", s);
        free(s);
    }
    rc = 0;
done:
    json_decref(out);
    rd_kafka_topic_partition_list_destroy(l);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    return rc;
}

int main(int argc, char **argv)
{
    topic_spec_t topics[MAX_ITEMS];
    commit_spec_t commits[MAX_ITEMS];
    int ntopics = 0, ncommits = 0, brokers = 3;
    const char *connect = NULL, *group = NULL;
    char *committed = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            goto usage;
        i++;
        if (!strcmp(a, "--brokers")) {
            brokers = atoi(v);
            if (brokers < 1 || brokers > 16)
                goto usage;
        } else if (!strcmp(a, "--topic") && ntopics < MAX_ITEMS) {
            topic_spec_t *t = &topics[ntopics++];
            t->messages = 0;
            if (sscanf(v, "%255[^:]:%d:%d", t->name, &t->partitions, &t->messages) < 2 ||
                t->partitions < 1 || t->messages < 0)
                goto usage;
        } else if (!strcmp(a, "--commit") && ncommits < MAX_ITEMS) {
            commit_spec_t *c = &commits[ncommits++];
            if (sscanf(v, "%255[^:]:%255[^:]:%d:%lld", c->group, c->topic, &c->partition,
                       &c->offset) != 4)
                goto usage;
        } else if (!strcmp(a, "--connect")) {
            connect = v;
        } else if (!strcmp(a, "--committed") && i + 1 < argc) {
            group = v;
            committed = argv[++i];
        } else {
            goto usage;
        }
    }
    if (connect || committed) {
        if (!connect || !committed)
            goto usage;
        return query_committed(connect, group, committed);
    }
    return serve(brokers, topics, ntopics, commits, ncommits);
usage:
    fputs(usage_text, stderr);
    return 2;
}
