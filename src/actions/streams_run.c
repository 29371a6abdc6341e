/* actions/streams_run.c: one Streams reset run against a kr_kafka_t, blocking on the
 * client's private loop (kr/streams_run.h), and the `kresponder streams-reset` command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "kr/cli.h"
#include "kr/err.h"
#include "kr/kafka.h"
#include "kr/log.h"
#include "kr/streams.h"
#include "kr/streams_run.h"
#include "kr/units.h"

/* A growing list of topic-partitions (topics borrowed). */
typedef struct {
    kr_kafka_tp_t *v;
    size_t n;
} tps_t;

static int tps_add(tps_t *l, const char *topic, int32_t part, int64_t offset)
{
    kr_kafka_tp_t *a = realloc(l->v, (l->n + 1) * sizeof *a);
    if (!a)
        return KR_ENOMEM;
    l->v = a;
    a[l->n].topic = topic;
    a[l->n].partition = part;
    a[l->n].offset = offset;
    l->n++;
    return KR_OK;
}

static int listed(const char *const *l, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i], s) == 0)
            return 1;
    return 0;
}

static const char *spec_name(kr_streams_reset_kind_t k)
{
    switch (k) {
    case KR_STREAMS_TO_LATEST: return "latest";
    case KR_STREAMS_TO_DATETIME: return "datetime";
    case KR_STREAMS_BY_DURATION: return "duration";
    default: return "earliest";
    }
}

/* Adds every partition of topic (if it exists in the listing) to l. */
static int add_partitions(tps_t *l, const kr_kafka_result_t *topics, const char *topic,
                          int64_t offset)
{
    for (size_t i = 0; i < topics->n_topics; i++)
        if (!topics->topics[i].err && strcmp(topics->topics[i].name, topic) == 0) {
            for (int p = 0; p < topics->topics[i].partitions; p++)
                if (tps_add(l, topics->topics[i].name, p, offset))
                    return KR_ENOMEM;
            return KR_OK;
        }
    return KR_OK;
}

static json_t *set(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v);
    return o;
}

int kr_streams_run(kr_kafka_t *k, const kr_streams_run_opts_t *o, json_t **report, char *err,
                   size_t errlen)
{
    kr_kafka_result_t *desc = NULL, *topics = NULL, *committed = NULL, *marks = NULL,
                      *times = NULL, *res = NULL;
    kr_kafka_request_t req;
    kr_streams_topic_t *st = NULL;
    kr_streams_committed_t *sc = NULL;
    kr_streams_resolved_t *sr = NULL;
    kr_streams_input_t in;
    kr_streams_plan_t *plan = NULL;
    tps_t all = { NULL, 0 }, resolve = { NULL, 0 }, commit = { NULL, 0 };
    const char **del = NULL;
    json_t *rep = NULL, *notes = NULL, *reset;
    int64_t reset_time = kr_streams_reset_time(&o->spec, o->now_ms);
    char buf[64];
    int rc = KR_OK;

    *report = NULL;
    if (!o->application_id || !*o->application_id)
        return kr_seterr(err, errlen, KR_EINVAL, "--application-id is required");
    if (!(rep = json_object()) || !(notes = json_array()))
        goto nomem;
    set(rep, "application_id", json_string(o->application_id));
    set(rep, "group_state", json_string("unknown"));
    set(rep, "members", json_null());
    reset = json_pack("{s:s}", "to", spec_name(o->spec.kind));
    if (reset_time >= 0)
        set(reset, "time", json_string(kr_time_format(reset_time, buf, sizeof buf)));
    set(rep, "reset", reset);
    set(rep, "executed", json_false());
    *report = rep;

    /* 1. Who is in the group. */
    memset(&req, 0, sizeof req);
    req.timeout_ms = o->timeout_ms;
    req.group = o->application_id;
    kr_kafka_call(k, KR_KAFKA_DESCRIBE_GROUP, &req, &desc);
    if (!desc)
        goto nomem;
    set(rep, "group_state", json_string(desc->group_state ? desc->group_state : "unknown"));
    set(rep, "members", desc->result || desc->members < 0 ? json_null()
                                                          : json_integer(desc->members));
    if (desc->result)
        set(rep, "group_error", json_string(desc->error ? desc->error : kr_strerror(desc->result)));

    /* 2. Topics. */
    if ((rc = kr_kafka_call(k, KR_KAFKA_LIST_TOPICS, &req, &topics)) != KR_OK) {
        kr_seterr(err, errlen, rc, "%s", topics && topics->error ? topics->error : kr_strerror(rc));
        goto done;
    }
    if (!(st = calloc(topics->n_topics + 1, sizeof *st)))
        goto nomem;
    in.n_topics = 0;
    for (size_t i = 0; i < topics->n_topics; i++)
        if (!topics->topics[i].err) {
            st[in.n_topics].name = topics->topics[i].name;
            st[in.n_topics++].partitions = topics->topics[i].partitions;
        }

    /* 3. Committed offsets of every partition that matters: inputs, intermediates and
     * topics named like internal topics (their commits are the evidence of ownership).
     * The partitions are named: ListConsumerGroupOffsets without partitions answers
     * nothing on librdkafka's mock cluster. */
    for (size_t i = 0; i < o->n_input; i++)
        if ((rc = add_partitions(&resolve, topics, o->input_topics[i], reset_time)))
            goto nomem;
    for (size_t i = 0; i < o->n_intermediate; i++)
        if ((rc = add_partitions(&resolve, topics, o->intermediate_topics[i], reset_time)))
            goto nomem;
    for (size_t i = 0; i < resolve.n; i++)
        if (tps_add(&all, resolve.v[i].topic, resolve.v[i].partition, -1))
            goto nomem;
    for (size_t i = 0; i < in.n_topics; i++)
        if (kr_streams_is_internal_name(o->application_id, st[i].name) &&
            !listed(o->input_topics, o->n_input, st[i].name) &&
            !listed(o->intermediate_topics, o->n_intermediate, st[i].name) &&
            add_partitions(&all, topics, st[i].name, -1))
            goto nomem;
    if (all.n) {
        req.partitions = all.v;
        req.n_partitions = all.n;
        if ((rc = kr_kafka_call(k, KR_KAFKA_COMMITTED, &req, &committed)) != KR_OK) {
            kr_seterr(err, errlen, rc, "%s", committed && committed->error ? committed->error
                                                                           : kr_strerror(rc));
            goto done;
        }
        if (!(sc = calloc(committed->n_partitions + 1, sizeof *sc)))
            goto nomem;
        for (size_t i = 0; i < committed->n_partitions; i++) {
            sc[i].topic = committed->partitions[i].topic;
            sc[i].partition = committed->partitions[i].partition;
            sc[i].offset = committed->partitions[i].err ? -1 : committed->partitions[i].offset;
        }
    }

    /* 4. Watermarks, and offsets for times, of the inputs and intermediates. */
    if (resolve.n) {
        req.partitions = resolve.v;
        req.n_partitions = resolve.n;
        if ((rc = kr_kafka_call(k, KR_KAFKA_WATERMARKS, &req, &marks)) != KR_OK) {
            kr_seterr(err, errlen, rc, "%s", marks && marks->error ? marks->error : kr_strerror(rc));
            goto done;
        }
        if (reset_time >= 0) {
            /* only the input topics are resolved by time */
            tps_t only_in = { NULL, 0 };
            for (size_t i = 0; i < o->n_input; i++)
                if (add_partitions(&only_in, topics, o->input_topics[i], reset_time)) {
                    free(only_in.v);
                    goto nomem;
                }
            if (only_in.n) {
                req.partitions = only_in.v;
                req.n_partitions = only_in.n;
                rc = kr_kafka_call(k, KR_KAFKA_OFFSETS_FOR_TIMES, &req, &times);
            }
            free(only_in.v);
            if (rc != KR_OK) {
                kr_seterr(err, errlen, rc, "%s", times && times->error ? times->error
                                                                       : kr_strerror(rc));
                goto done;
            }
        }
        if (!(sr = calloc(marks->n_partitions + 1, sizeof *sr)))
            goto nomem;
        for (size_t i = 0; i < marks->n_partitions; i++) {
            const kr_kafka_partition_t *m = &marks->partitions[i];
            sr[i].topic = m->topic;
            sr[i].partition = m->partition;
            sr[i].low = m->low;
            sr[i].high = m->high;
            sr[i].time_offset = -1;
            for (size_t j = 0; times && j < times->n_partitions; j++)
                if (times->partitions[j].partition == m->partition &&
                    strcmp(times->partitions[j].topic, m->topic) == 0)
                    sr[i].time_offset = times->partitions[j].offset;
        }
    }

    /* 5. Plan. */
    in.application_id = o->application_id;
    in.input_topics = o->input_topics;
    in.n_input = o->n_input;
    in.intermediate_topics = o->intermediate_topics;
    in.n_intermediate = o->n_intermediate;
    in.internal_topics = o->internal_topics;
    in.n_internal = o->n_internal;
    in.topology_topics = o->topology_topics;
    in.n_topology = o->n_topology;
    in.topics = st;
    in.committed = sc;
    in.n_committed = committed ? committed->n_partitions : 0;
    in.spec = o->spec;
    in.resolved = sr;
    in.n_resolved = marks ? marks->n_partitions : 0;
    if ((rc = kr_streams_plan(&in, &plan, err, errlen)) != KR_OK)
        goto done;
    {
        json_t *pj = kr_streams_plan_json(plan);
        if (!pj || json_object_update(rep, pj) != 0) {
            json_decref(pj);
            goto nomem;
        }
        json_decref(pj);
    }
    for (size_t i = 0; i < plan->n_offsets; i++)
        if (plan->offsets[i].fell_back_to_end) {
            char *s = NULL;
            if (asprintf(&s, "partition %d of topic %s has no record at or after %s: it goes "
                         "to its end (%lld), as Kafka's tool does", (int)plan->offsets[i].partition,
                         plan->offsets[i].topic, kr_time_format(reset_time, buf, sizeof buf),
                         (long long)plan->offsets[i].target) >= 0) {
                json_array_append_new(notes, json_string(s));
                free(s);
            }
        }
    for (size_t i = 0; i < plan->n_unconfirmed; i++) {
        char *s = NULL;
        if (asprintf(&s, "topic %s is named like an internal topic of %s, but group %s has no "
                     "committed offset on it and the topology does not name it: left alone "
                     "(name it in --internal-topics to delete it)", plan->unconfirmed_topics[i],
                     o->application_id, o->application_id) >= 0) {
            json_array_append_new(notes, json_string(s));
            free(s);
        }
    }

    if (!o->execute)
        goto done;

    /* 6. Execute, only on a group known to have no members. */
    if (desc->result) {
        rc = kr_seterr(err, errlen, KR_ESTATE,
                       "refusing to reset: could not confirm that group %s has no members "
                       "(%s)", o->application_id, desc->error ? desc->error : kr_strerror(desc->result));
        goto done;
    }
    if (desc->members != 0) {
        rc = kr_seterr(err, errlen, KR_ESTATE,
                       "refusing to reset: group %s is %s with %d member%s: stop every "
                       "instance of the application first", o->application_id,
                       desc->group_state ? desc->group_state : "unknown", desc->members,
                       desc->members == 1 ? "" : "s");
        goto done;
    }
    if (plan->n_missing) {
        rc = kr_seterr(err, errlen, KR_ESTATE,
                       "refusing to reset: topic %s%s does not exist", plan->missing_topics[0],
                       plan->n_missing > 1 ? " (and others in missing_topics)" : "");
        goto done;
    }
    for (size_t i = 0; i < plan->n_offsets; i++)
        if (tps_add(&commit, plan->offsets[i].topic, plan->offsets[i].partition,
                    plan->offsets[i].target))
            goto nomem;
    if (commit.n) {
        memset(&req, 0, sizeof req);
        req.timeout_ms = o->timeout_ms;
        req.group = o->application_id;
        req.partitions = commit.v;
        req.n_partitions = commit.n;
        if ((rc = kr_kafka_call(k, KR_KAFKA_COMMIT, &req, &res)) != KR_OK) {
            kr_seterr(err, errlen, rc, "committing the new offsets failed: %s",
                      res && res->error ? res->error : kr_strerror(rc));
            goto done;
        }
        kr_kafka_result_free(res);
        res = NULL;
        KR_INFO("streams", "msg=\"offsets committed\" group=%s partitions=%zu",
                o->application_id, commit.n);
    }
    if (plan->n_delete) {
        if (!(del = calloc(plan->n_delete, sizeof *del)))
            goto nomem;
        for (size_t i = 0; i < plan->n_delete; i++)
            del[i] = plan->delete_topics[i];
        memset(&req, 0, sizeof req);
        req.timeout_ms = o->timeout_ms;
        req.topics = del;
        req.n_topics = plan->n_delete;
        if ((rc = kr_kafka_call(k, KR_KAFKA_DELETE_TOPICS, &req, &res)) != KR_OK) {
            set(rep, "offsets_committed", json_true());
            kr_seterr(err, errlen, rc, "offsets were committed, but deleting the internal "
                      "topics failed: %s", res && res->error ? res->error : kr_strerror(rc));
            goto done;
        }
        KR_INFO("streams", "msg=\"internal topics deleted\" group=%s topics=%zu",
                o->application_id, plan->n_delete);
    }
    set(rep, "executed", json_true());
    goto done;

nomem:
    rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
done:
    if (rep && notes) {
        /* the outcome last, after the plan and its notes */
        json_t *executed = json_incref(json_object_get(rep, "executed"));
        json_object_set(rep, "notes", notes);
        json_object_del(rep, "executed");
        json_object_set_new(rep, "executed", executed);
    }
    json_decref(notes);
    if (rc == KR_ENOMEM && *report) {
        json_decref(*report);
        *report = NULL;
    } else if (!*report) {
        json_decref(rep);
    }
    free(del);
    free(commit.v);
    free(all.v);
    free(resolve.v);
    free(st);
    free(sc);
    free(sr);
    kr_streams_plan_free(plan);
    kr_kafka_result_free(desc);
    kr_kafka_result_free(topics);
    kr_kafka_result_free(committed);
    kr_kafka_result_free(marks);
    kr_kafka_result_free(times);
    kr_kafka_result_free(res);
    return rc;
}

/* ------------------------------------------------------------------ the subcommand */

static const char usage_text[] =
    "usage: kresponder streams-reset --bootstrap-servers HOSTS --application-id ID\n"
    "         [--input-topics a,b] [--intermediate-topics c] [--internal-topics x,y]\n"
    "         [--to-datetime 2026-11-24T10:00:00.000 | --by-duration PT1H | --to-earliest |\n"
    "          --to-latest] [--execute | --dry-run] [--timeout 10s] [-X kafka.prop=value]...\n"
    "Dry run by default: prints the plan as one JSON object and changes nothing.\n"
    "--execute commits the new offsets and deletes the internal topics, only when the\n"
    "group is confirmed to have no members. Exit: 0 ok, 1 refused or Kafka failed, 2 usage.\n";

/* A comma-separated option value split in place ("a,b,c"; empty items dropped). */
typedef struct {
    char *copy;
    const char **v;
    size_t n;
} list_t;

static int split_list(const char *s, list_t *l)
{
    size_t cap = 1;
    char *save = NULL;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    l->n = 0;
    l->copy = strdup(s);
    l->v = calloc(cap, sizeof *l->v);
    if (!l->copy || !l->v)
        return KR_ENOMEM;
    for (char *t = strtok_r(l->copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t)
            l->v[l->n++] = t;
    }
    return KR_OK;
}

static void free_list(list_t *l)
{
    free(l->copy);
    free(l->v);
}

int kr_cmd_streams_reset(int argc, char **argv)
{
    static const char *const spec_opts[] = { "--to-datetime", "--by-duration", "--to-earliest",
                                             "--to-latest", NULL };
    const char *bootstrap = NULL, *app = NULL, *spec_opt = NULL;
    const char *inputs_s = NULL, *inter_s = NULL, *internal_s = NULL;
    list_t inputs = { 0 }, inter = { 0 }, internal = { 0 };
    const char *props[64];
    size_t nprops = 0;
    kr_streams_run_opts_t o;
    struct event_base *base = NULL;
    kr_kafka_t *k = NULL;
    json_t *report = NULL;
    char err[1024] = "";
    int64_t timeout = 10000;
    int code = 2, rc;

    memset(&o, 0, sizeof o);
    o.spec.kind = KR_STREAMS_TO_EARLIEST; /* Kafka's default */
    for (int i = 1; i < argc; i++) {
        char *a = argv[i], *v = NULL, *eq;
        char name[64];
        const char *spec = NULL;
        if (strncmp(a, "--", 2) == 0 && (eq = strchr(a, '=')) && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            a = name;
            v = eq + 1;
        }
#define VALUE()                                                                        \
    do {                                                                               \
        if (!v) {                                                                      \
            if (i + 1 >= argc) {                                                       \
                fprintf(stderr, "kresponder streams-reset: %s needs a value\n", a);    \
                goto usage;                                                            \
            }                                                                          \
            v = argv[++i];                                                             \
        }                                                                              \
    } while (0)
        for (size_t s = 0; spec_opts[s]; s++)
            if (!strcmp(a, spec_opts[s]))
                spec = spec_opts[s];
        if (!strcmp(a, "--bootstrap-servers") || !strcmp(a, "--bootstrap-server")) {
            VALUE();
            bootstrap = v;
        } else if (!strcmp(a, "--application-id")) {
            VALUE();
            app = v;
        } else if (!strcmp(a, "--input-topics")) {
            VALUE();
            inputs_s = v;
        } else if (!strcmp(a, "--intermediate-topics")) {
            VALUE();
            inter_s = v;
        } else if (!strcmp(a, "--internal-topics")) {
            VALUE();
            internal_s = v;
        } else if (spec) {
            if (spec_opt) {
                fprintf(stderr, "kresponder streams-reset: %s and %s are mutually exclusive\n",
                        spec_opt, spec);
                goto usage;
            }
            spec_opt = spec;
            if (!strcmp(spec, "--to-earliest")) {
                o.spec.kind = KR_STREAMS_TO_EARLIEST;
            } else if (!strcmp(spec, "--to-latest")) {
                o.spec.kind = KR_STREAMS_TO_LATEST;
            } else if (!strcmp(spec, "--to-datetime")) {
                VALUE();
                o.spec.kind = KR_STREAMS_TO_DATETIME;
                if (kr_streams_parse_datetime(v, &o.spec.time_ms, err, sizeof err))
                    goto bad_usage;
            } else {
                VALUE();
                o.spec.kind = KR_STREAMS_BY_DURATION;
                if (kr_streams_parse_iso_duration(v, &o.spec.duration_ms, err, sizeof err))
                    goto bad_usage;
            }
        } else if (!strcmp(a, "--execute")) {
            o.execute = 1;
        } else if (!strcmp(a, "--dry-run")) {
            o.execute = 0;
        } else if (!strcmp(a, "--timeout")) {
            VALUE();
            if (kr_duration_parse(v, &timeout, err, sizeof err) || timeout < 1 ||
                timeout > 600000) {
                fprintf(stderr, "kresponder streams-reset: --timeout %s: a duration from 1ms "
                        "to 10m (e.g. 10s)\n", v);
                goto usage;
            }
        } else if (!strcmp(a, "-X")) {
            VALUE();
            eq = strchr(v, '=');
            if (!eq || eq == v || nprops + 3 > sizeof props / sizeof props[0]) {
                fprintf(stderr, "kresponder streams-reset: -X takes property=value\n");
                goto usage;
            }
            *eq = '\0';
            props[nprops++] = v;
            props[nprops++] = eq + 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            code = 0;
            goto out;
        } else {
            fprintf(stderr, "kresponder streams-reset: unknown option %s\n", argv[i]);
            goto usage;
        }
#undef VALUE
    }
    props[nprops] = NULL;
    if (!bootstrap || !app) {
        fprintf(stderr, "kresponder streams-reset: --bootstrap-servers and --application-id "
                "are required\n");
        goto usage;
    }
    if ((inputs_s && split_list(inputs_s, &inputs)) || (inter_s && split_list(inter_s, &inter)) ||
        (internal_s && split_list(internal_s, &internal))) {
        fprintf(stderr, "kresponder streams-reset: out of memory\n");
        code = 1;
        goto out;
    }
    o.application_id = app;
    o.input_topics = inputs.v;
    o.n_input = inputs.n;
    o.intermediate_topics = inter.v;
    o.n_intermediate = inter.n;
    o.internal_topics = internal_s ? internal.v : NULL;
    o.n_internal = internal.n;
    o.now_ms = kr_now_ms();
    o.timeout_ms = (int)timeout;

    if (!(base = event_base_new())) {
        fprintf(stderr, "kresponder streams-reset: cannot create an event loop\n");
        code = 1;
        goto out;
    }
    if (!(k = kr_kafka_new(base, bootstrap, props, err, sizeof err)))
        goto bad_usage; /* a refused property or bootstrap string */
    rc = kr_streams_run(k, &o, &report, err, sizeof err);
    if (report) {
        char *s = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            printf("%s\n", s);
        free(s);
        fflush(stdout);
    }
    code = 0;
    if (rc != KR_OK) {
        fprintf(stderr, "kresponder streams-reset: %s\n", err);
        code = 1;
    }
    goto out;
bad_usage:
    fprintf(stderr, "kresponder streams-reset: %s\n", err);
    code = 2;
    goto out;
usage:
    fputs(usage_text, stderr);
    code = 2;
out:
    json_decref(report);
    kr_kafka_free(k);
    if (base)
        event_base_free(base);
    free_list(&inputs);
    free_list(&inter);
    free_list(&internal);
    return code;
}
