/* actions/kafka_fake.c: the fake implementation of kr/kafka.h for tests: an in-memory
 * cluster (topics, partitions with timestamped records, groups with state, members and
 * committed offsets) that answers from the loop, records every call, and can be told to
 * fail or to hang. Loop thread only, like the interface. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "kr/err.h"
#include "kr/kafka.h"

typedef struct {
    int64_t low, high, first_ts, step;
} fpart_t;

typedef struct {
    char *name;
    int n;
    fpart_t *parts;
} ftopic_t;

typedef struct {
    char *group, *topic;
    int32_t partition;
    int64_t offset;
} fcommit_t;

typedef struct {
    char *name, *state;
    int members;
} fgroup_t;

typedef struct fpend {
    struct fpend *next;
    uint64_t id;
    kr_kafka_result_t *res;
} fpend_t;

struct kr_kafka_fake {
    kr_kafka_t *k;
    struct event *flush_ev;
    ftopic_t *topics;
    size_t n_topics;
    fcommit_t *commits;
    size_t n_commits;
    fgroup_t *groups;
    size_t n_groups;
    int fail_code[KR_KAFKA_OP_COUNT];
    char *fail_msg[KR_KAFKA_OP_COUNT];
    fpend_t *pend, *pend_tail;
    char **calls; /* NULL-terminated */
    size_t n_calls;
};

static ftopic_t *find_topic(const kr_kafka_fake_t *f, const char *name)
{
    for (size_t i = 0; i < f->n_topics; i++)
        if (strcmp(f->topics[i].name, name) == 0)
            return &f->topics[i];
    return NULL;
}

static fpart_t *find_part(const kr_kafka_fake_t *f, const char *topic, int32_t p)
{
    ftopic_t *t = find_topic(f, topic);
    return t && p >= 0 && p < t->n ? &t->parts[p] : NULL;
}

static fgroup_t *find_group(const kr_kafka_fake_t *f, const char *name)
{
    for (size_t i = 0; i < f->n_groups; i++)
        if (strcmp(f->groups[i].name, name) == 0)
            return &f->groups[i];
    return NULL;
}

static fcommit_t *find_commit(const kr_kafka_fake_t *f, const char *g, const char *t, int32_t p)
{
    for (size_t i = 0; i < f->n_commits; i++)
        if (f->commits[i].partition == p && strcmp(f->commits[i].group, g) == 0 &&
            strcmp(f->commits[i].topic, t) == 0)
            return &f->commits[i];
    return NULL;
}

int kr_kafka_fake_add_topic(kr_kafka_fake_t *f, const char *topic, int partitions)
{
    ftopic_t *t = find_topic(f, topic);
    fpart_t *parts = calloc(partitions > 0 ? (size_t)partitions : 1, sizeof *parts);
    if (!parts || partitions < 1) {
        free(parts);
        return partitions < 1 ? KR_EINVAL : KR_ENOMEM;
    }
    if (!t) {
        ftopic_t *a = realloc(f->topics, (f->n_topics + 1) * sizeof *a);
        if (!a) {
            free(parts);
            return KR_ENOMEM;
        }
        f->topics = a;
        t = &a[f->n_topics];
        if (!(t->name = strdup(topic))) {
            free(parts);
            return KR_ENOMEM;
        }
        f->n_topics++;
    } else {
        free(t->parts);
    }
    t->parts = parts;
    t->n = partitions;
    return KR_OK;
}

int kr_kafka_fake_set_partition(kr_kafka_fake_t *f, const char *topic, int32_t partition,
                                int64_t low, int64_t high, int64_t first_ts, int64_t step_ms)
{
    fpart_t *p = find_part(f, topic, partition);
    if (!p || low < 0 || high < low || step_ms < 0)
        return KR_EINVAL;
    p->low = low;
    p->high = high;
    p->first_ts = first_ts;
    p->step = step_ms;
    return KR_OK;
}

int kr_kafka_fake_set_group(kr_kafka_fake_t *f, const char *group, const char *state,
                            int members)
{
    fgroup_t *g = find_group(f, group);
    char *s = strdup(state);
    if (!s)
        return KR_ENOMEM;
    if (!g) {
        fgroup_t *a = realloc(f->groups, (f->n_groups + 1) * sizeof *a);
        if (!a || !(a[f->n_groups].name = strdup(group))) {
            if (a)
                f->groups = a;
            free(s);
            return KR_ENOMEM;
        }
        f->groups = a;
        g = &a[f->n_groups++];
        g->state = NULL;
    }
    free(g->state);
    g->state = s;
    g->members = members;
    return KR_OK;
}

static void drop_commit(kr_kafka_fake_t *f, size_t i)
{
    free(f->commits[i].group);
    free(f->commits[i].topic);
    f->commits[i] = f->commits[--f->n_commits];
}

int kr_kafka_fake_set_committed(kr_kafka_fake_t *f, const char *group, const char *topic,
                                int32_t partition, int64_t offset)
{
    fcommit_t *c = find_commit(f, group, topic, partition);
    if (offset < 0) {
        if (c)
            drop_commit(f, (size_t)(c - f->commits));
        return KR_OK;
    }
    if (!c) {
        fcommit_t *a = realloc(f->commits, (f->n_commits + 1) * sizeof *a);
        if (!a)
            return KR_ENOMEM;
        f->commits = a;
        c = &a[f->n_commits];
        c->group = strdup(group);
        c->topic = strdup(topic);
        if (!c->group || !c->topic) {
            free(c->group);
            free(c->topic);
            return KR_ENOMEM;
        }
        c->partition = partition;
        f->n_commits++;
    }
    c->offset = offset;
    return KR_OK;
}

int64_t kr_kafka_fake_committed(const kr_kafka_fake_t *f, const char *group, const char *topic,
                                int32_t partition)
{
    const fcommit_t *c = find_commit(f, group, topic, partition);
    return c ? c->offset : -1;
}

int kr_kafka_fake_has_topic(const kr_kafka_fake_t *f, const char *topic)
{
    return find_topic(f, topic) != NULL;
}

void kr_kafka_fake_fail(kr_kafka_fake_t *f, kr_kafka_op_t op, int code, const char *message)
{
    if ((unsigned)op >= KR_KAFKA_OP_COUNT)
        return;
    free(f->fail_msg[op]);
    f->fail_msg[op] = code && message ? strdup(message) : NULL;
    f->fail_code[op] = code;
}

const char *const *kr_kafka_fake_calls(const kr_kafka_fake_t *f, size_t *n)
{
    if (n)
        *n = f->n_calls;
    return (const char *const *)f->calls;
}

/* ---- answering ---- */

/* Appends printf output to a growing string. */
static void cat(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cat(char **s, const char *fmt, ...)
{
    char *add = NULL, *joined = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&add, fmt, ap) < 0)
        add = NULL;
    va_end(ap);
    if (add && asprintf(&joined, "%s%s", *s ? *s : "", add) < 0)
        joined = NULL;
    free(add);
    free(*s);
    *s = joined;
}

static int record_call(kr_kafka_fake_t *f, kr_kafka_op_t op, const kr_kafka_request_t *req)
{
    char *line = NULL, **a;
    cat(&line, "%s", kr_kafka_op_name(op));
    if (req->group && op != KR_KAFKA_OFFSETS_FOR_TIMES && op != KR_KAFKA_WATERMARKS &&
        op != KR_KAFKA_LIST_TOPICS && op != KR_KAFKA_DELETE_TOPICS)
        cat(&line, " %s", req->group);
    for (size_t i = 0; op != KR_KAFKA_LIST_TOPICS && op != KR_KAFKA_DESCRIBE_GROUP &&
                       i < req->n_partitions; i++) {
        const kr_kafka_tp_t *p = &req->partitions[i];
        cat(&line, "%s%s:%d", i ? "," : " ", p->topic, (int)p->partition);
        if (op == KR_KAFKA_COMMIT)
            cat(&line, "=%lld", (long long)p->offset);
        else if (op == KR_KAFKA_OFFSETS_FOR_TIMES)
            cat(&line, "@%lld", (long long)p->offset);
    }
    for (size_t i = 0; op == KR_KAFKA_DELETE_TOPICS && i < req->n_topics; i++)
        cat(&line, "%s%s", i ? "," : " ", req->topics[i]);
    if (!line || !(a = realloc(f->calls, (f->n_calls + 2) * sizeof *a))) {
        free(line);
        return KR_ENOMEM;
    }
    f->calls = a;
    a[f->n_calls++] = line;
    a[f->n_calls] = NULL;
    return KR_OK;
}

static int64_t offset_for_time(const fpart_t *p, int64_t ts)
{
    int64_t idx;
    if (p->high <= p->low)
        return -1;
    if (ts <= p->first_ts)
        return p->low;
    if (p->step <= 0)
        return -1;
    idx = (ts - p->first_ts + p->step - 1) / p->step;
    return idx < p->high - p->low ? p->low + idx : -1;
}

static kr_kafka_result_t *answer(kr_kafka_fake_t *f, kr_kafka_op_t op,
                                 const kr_kafka_request_t *req)
{
    kr_kafka_result_t *r = kr_kafka_result_new(op);
    if (!r)
        return NULL;
    if (f->fail_code[op]) {
        if (op == KR_KAFKA_DESCRIBE_GROUP)
            kr_kafka_result_set_group(r, "unknown", -1);
        kr_kafka_result_fail(r, f->fail_code[op], "%s",
                             f->fail_msg[op] ? f->fail_msg[op] : kr_strerror(f->fail_code[op]));
        return r;
    }
    switch (op) {
    case KR_KAFKA_DESCRIBE_GROUP: {
        const fgroup_t *g = find_group(f, req->group);
        kr_kafka_result_set_group(r, g ? g->state : "Dead", g ? g->members : 0);
        break;
    }
    case KR_KAFKA_COMMITTED:
        for (size_t i = 0; i < req->n_partitions; i++) {
            const kr_kafka_tp_t *p = &req->partitions[i];
            kr_kafka_result_add_partition(r, p->topic, p->partition,
                                          kr_kafka_fake_committed(f, req->group, p->topic,
                                                                  p->partition),
                                          -1, -1, 0, NULL);
        }
        break;
    case KR_KAFKA_OFFSETS_FOR_TIMES:
    case KR_KAFKA_WATERMARKS:
        for (size_t i = 0; i < req->n_partitions; i++) {
            const kr_kafka_tp_t *p = &req->partitions[i];
            const fpart_t *fp = find_part(f, p->topic, p->partition);
            if (!fp) {
                kr_kafka_result_add_partition(r, p->topic, p->partition, -1, -1, -1,
                                              KR_ENOTFOUND, "Broker: Unknown topic or partition");
                if (!r->result)
                    kr_kafka_result_fail(r, KR_ENOTFOUND, "%s partition %d does not exist",
                                         p->topic, (int)p->partition);
            } else if (op == KR_KAFKA_WATERMARKS) {
                kr_kafka_result_add_partition(r, p->topic, p->partition, -1, fp->low, fp->high,
                                              0, NULL);
            } else {
                kr_kafka_result_add_partition(r, p->topic, p->partition,
                                              offset_for_time(fp, p->offset), -1, -1, 0, NULL);
            }
        }
        break;
    case KR_KAFKA_LIST_TOPICS:
        for (size_t i = 0; i < f->n_topics; i++)
            kr_kafka_result_add_topic(r, f->topics[i].name, f->topics[i].n, 0, NULL);
        break;
    case KR_KAFKA_COMMIT: {
        const fgroup_t *g = find_group(f, req->group);
        for (size_t i = 0; i < req->n_partitions; i++) {
            const kr_kafka_tp_t *p = &req->partitions[i];
            int e = 0;
            const char *es = NULL;
            if (g && g->members > 0) {
                e = KR_ESTATE;
                es = "Broker: Specified group generation id is not valid"; /* active group */
            } else if (!find_part(f, p->topic, p->partition)) {
                e = KR_ENOTFOUND;
                es = "Broker: Unknown topic or partition";
            } else {
                kr_kafka_fake_set_committed(f, req->group, p->topic, p->partition, p->offset);
            }
            kr_kafka_result_add_partition(r, p->topic, p->partition, p->offset, -1, -1, e, es);
            if (e && !r->result)
                kr_kafka_result_fail(r, e, "AlterConsumerGroupOffsets: %s partition %d: %s",
                                     p->topic, (int)p->partition, es);
        }
        break;
    }
    case KR_KAFKA_DELETE_TOPICS:
        for (size_t i = 0; i < req->n_topics; i++) {
            ftopic_t *t = find_topic(f, req->topics[i]);
            if (!t) {
                kr_kafka_result_add_topic(r, req->topics[i], 0, KR_ENOTFOUND,
                                          "Broker: Unknown topic or partition");
                if (!r->result)
                    kr_kafka_result_fail(r, KR_ENOTFOUND, "deleting topic %s failed: it does "
                                         "not exist", req->topics[i]);
                continue;
            }
            /* Deleting a topic drops its committed offsets too. */
            for (size_t c = f->n_commits; c-- > 0;)
                if (strcmp(f->commits[c].topic, t->name) == 0)
                    drop_commit(f, c);
            free(t->name);
            free(t->parts);
            *t = f->topics[--f->n_topics];
            kr_kafka_result_add_topic(r, req->topics[i], 0, 0, NULL);
        }
        break;
    default:
        kr_kafka_result_fail(r, KR_EINVAL, "unknown operation");
    }
    return r;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_kafka_fake_t *f = arg;
    fpend_t *p = f->pend;
    (void)fd;
    (void)what;
    f->pend = f->pend_tail = NULL;
    while (p) {
        fpend_t *next = p->next;
        kr_kafka_deliver(f->k, p->id, p->res);
        free(p);
        p = next;
    }
}

static int fake_start(void *impl, kr_kafka_t *k, uint64_t id, kr_kafka_op_t op,
                      const kr_kafka_request_t *req, char *err, size_t errlen)
{
    kr_kafka_fake_t *f = impl;
    fpend_t *p;
    f->k = k;
    if (record_call(f, op, req) != KR_OK)
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    if (f->fail_code[op] == KR_ETIMEDOUT)
        return KR_OK; /* never answered */
    if (!(p = calloc(1, sizeof *p)) || !(p->res = answer(f, op, req))) {
        free(p);
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    }
    p->id = id;
    if (f->pend_tail)
        f->pend_tail->next = p;
    else
        f->pend = p;
    f->pend_tail = p;
    event_active(f->flush_ev, EV_TIMEOUT, 1);
    return KR_OK;
}

static void fake_free(void *impl)
{
    kr_kafka_fake_t *f = impl;
    if (!f)
        return;
    while (f->pend) {
        fpend_t *p = f->pend;
        f->pend = p->next;
        kr_kafka_result_free(p->res);
        free(p);
    }
    if (f->flush_ev)
        event_free(f->flush_ev);
    for (size_t i = 0; i < f->n_topics; i++) {
        free(f->topics[i].name);
        free(f->topics[i].parts);
    }
    free(f->topics);
    while (f->n_commits)
        drop_commit(f, f->n_commits - 1);
    free(f->commits);
    for (size_t i = 0; i < f->n_groups; i++) {
        free(f->groups[i].name);
        free(f->groups[i].state);
    }
    free(f->groups);
    for (size_t i = 0; i < KR_KAFKA_OP_COUNT; i++)
        free(f->fail_msg[i]);
    for (size_t i = 0; i < f->n_calls; i++)
        free(f->calls[i]);
    free(f->calls);
    free(f);
}

static const kr_kafka_ops_t fake_ops = { "fake", fake_start, NULL, fake_free };

kr_kafka_t *kr_kafka_fake_new(struct event_base *base, kr_kafka_fake_t **fake)
{
    kr_kafka_fake_t *f = calloc(1, sizeof *f);
    kr_kafka_t *k;
    *fake = NULL;
    if (!f)
        return NULL;
    if (!(f->flush_ev = event_new(base, -1, 0, flush_cb, f))) {
        free(f);
        return NULL;
    }
    if (!(k = kr_kafka_new_with_ops(base, &fake_ops, f)))
        return NULL;
    f->k = k;
    *fake = f;
    return k;
}
