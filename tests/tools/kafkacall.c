/* tests/tools/kafkacall.c: drives kr/kafka.h's librdkafka client from the command line, for
 * integration tests against the mock cluster: runs each operation in turn on ONE client
 * (so a test can show that a failed describe does not stall the requests after it) and
 * prints one JSON line per operation.
 *
 *   kafkacall [--timeout MS] BOOTSTRAP OP ARGS [-- OP ARGS]...
 *     describe GROUP | committed GROUP T:P,... | commit GROUP T:P=OFFSET,... |
 *     watermarks T:P,... | times T:P@TIMESTAMP_MS,... | topics | delete TOPIC,...
 *   {"op":..., "result":"ok"|kr_strerror, "error":..., "ms":elapsed, "group_state":...,
 *    "members":..., "partitions":[{"topic","partition","offset","low","high","err"}],
 *    "topics":[{"name","partitions","err"}]}
 * Exit codes: 0 every operation ran (whatever Kafka answered), 2 bad arguments. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "kr/err.h"
#include "kr/kafka.h"
#include "kr/units.h"

#define MAX_TPS 256

static const char usage_text[] =
    "usage: kafkacall [--timeout MS] BOOTSTRAP OP ARGS [-- OP ARGS]...\n"
    "  describe GROUP | committed GROUP T:P,... | commit GROUP T:P=OFFSET,... |\n"
    "  watermarks T:P,... | times T:P@TS,... | topics | delete TOPIC,...\n";

/* Parses "t:p", "t:p=off" or "t:p@ts" items, in place. Returns the count or -1. */
static int parse_tps(char *s, kr_kafka_tp_t *tps, char sep)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, ",", &save); tok && n < MAX_TPS;
         tok = strtok_r(NULL, ",", &save)) {
        char *extra = sep ? strrchr(tok, sep) : NULL, *colon;
        if (sep && !extra)
            return -1;
        if (extra)
            *extra++ = '\0';
        if (!(colon = strrchr(tok, ':')) || colon == tok)
            return -1;
        *colon = '\0';
        tps[n].topic = tok;
        tps[n].partition = atoi(colon + 1);
        tps[n].offset = extra ? strtoll(extra, NULL, 10) : 0;
        n++;
    }
    return n;
}

static void print_result(const kr_kafka_result_t *r, int64_t ms)
{
    json_t *o = json_pack("{s:s, s:s, s:I}", "op", kr_kafka_op_name(r->op), "result",
                          r->result ? kr_strerror(r->result) : "ok", "ms", (json_int_t)ms);
    json_t *parts = json_array(), *topics = json_array();
    char *s;
    if (r->error)
        json_object_set_new(o, "error", json_string(r->error));
    if (r->op == KR_KAFKA_DESCRIBE_GROUP) {
        json_object_set_new(o, "group_state", json_string(r->group_state ? r->group_state : ""));
        json_object_set_new(o, "members", json_integer(r->members));
    }
    for (size_t i = 0; i < r->n_partitions; i++) {
        const kr_kafka_partition_t *p = &r->partitions[i];
        json_array_append_new(parts, json_pack("{s:s,s:i,s:I,s:I,s:I,s:s}", "topic", p->topic,
                                               "partition", (int)p->partition, "offset",
                                               (json_int_t)p->offset, "low", (json_int_t)p->low,
                                               "high", (json_int_t)p->high, "err",
                                               p->err ? kr_strerror(p->err) : "ok"));
    }
    for (size_t i = 0; i < r->n_topics; i++)
        json_array_append_new(topics, json_pack("{s:s,s:i,s:s}", "name", r->topics[i].name,
                                                "partitions", r->topics[i].partitions, "err",
                                                r->topics[i].err ? kr_strerror(r->topics[i].err)
                                                                 : "ok"));
    json_object_set_new(o, "partitions", parts);
    json_object_set_new(o, "topics", topics);
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

int main(int argc, char **argv)
{
    struct event_base *base;
    kr_kafka_t *k;
    char err[512];
    int timeout = 5000, i = 1, code = 0;
    kr_kafka_tp_t tps[MAX_TPS];

    if (argc > 2 && strcmp(argv[1], "--timeout") == 0) {
        timeout = atoi(argv[2]);
        i = 3;
    }
    if (i + 1 >= argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    base = event_base_new();
    if (!(k = kr_kafka_new(base, argv[i], NULL, err, sizeof err))) {
        fprintf(stderr, "kafkacall: %s\n", err);
        event_base_free(base);
        return 2;
    }
    for (i++; i < argc; i++) {
        kr_kafka_request_t req;
        kr_kafka_result_t *r = NULL;
        kr_kafka_op_t op;
        const char *name = argv[i];
        const char *topics[MAX_TPS];
        int n = 0;
        int64_t t0;
        memset(&req, 0, sizeof req);
        req.timeout_ms = timeout;
        if (!strcmp(name, "--"))
            continue;
        if (!strcmp(name, "describe") && i + 1 < argc) {
            op = KR_KAFKA_DESCRIBE_GROUP;
            req.group = argv[++i];
        } else if ((!strcmp(name, "committed") || !strcmp(name, "commit")) && i + 2 < argc) {
            op = name[6] ? KR_KAFKA_COMMITTED : KR_KAFKA_COMMIT;
            req.group = argv[++i];
            n = parse_tps(argv[++i], tps, op == KR_KAFKA_COMMIT ? '=' : 0);
        } else if (!strcmp(name, "watermarks") && i + 1 < argc) {
            op = KR_KAFKA_WATERMARKS;
            n = parse_tps(argv[++i], tps, 0);
        } else if (!strcmp(name, "times") && i + 1 < argc) {
            op = KR_KAFKA_OFFSETS_FOR_TIMES;
            n = parse_tps(argv[++i], tps, '@');
        } else if (!strcmp(name, "topics")) {
            op = KR_KAFKA_LIST_TOPICS;
        } else if (!strcmp(name, "delete") && i + 1 < argc) {
            char *save = NULL;
            op = KR_KAFKA_DELETE_TOPICS;
            for (char *t = strtok_r(argv[++i], ",", &save); t && req.n_topics < MAX_TPS;
                 t = strtok_r(NULL, ",", &save))
                topics[req.n_topics++] = t;
            req.topics = topics;
        } else {
            fprintf(stderr, "kafkacall: bad operation %s\n", name);
            fputs(usage_text, stderr);
            code = 2;
            break;
        }
        if (n < 0) {
            fprintf(stderr, "kafkacall: bad partition list for %s\n", name);
            code = 2;
            break;
        }
        req.partitions = tps;
        req.n_partitions = (size_t)n;
        t0 = kr_mono_ms();
        kr_kafka_call(k, op, &req, &r);
        if (r)
            print_result(r, kr_mono_ms() - t0);
        kr_kafka_result_free(r);
    }
    kr_kafka_free(k);
    event_base_free(base);
    return code;
}
