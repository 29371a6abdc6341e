/* actions/kafka.c: the Kafka interface of kr/kafka.h: the generic layer (request ids,
 * loop-enforced deadlines, callbacks, cancel, the blocking convenience, results) and the
 * librdkafka 2.0.2 implementation.
 *
 * DESIGN. All client state belongs to the loop thread. kr_kafka_start gives a request an
 * id and a libevent timer (its deadline), then hands it to the implementation. The
 * librdkafka implementation has one rd_kafka_t and runs:
 *  - the Admin API calls (ListConsumerGroupOffsets, AlterConsumerGroupOffsets,
 *    DeleteTopics) from the loop thread, with the request id as the AdminOptions opaque;
 *    results land on one admin result queue whose io-event fd
 *    (rd_kafka_queue_io_event_enable) is a pipe the loop watches; the loop polls the queue
 *    and matches each result to its request by opaque;
 *  - the calls that are blocking in 2.0.2 (rd_kafka_metadata,
 *    rd_kafka_query_watermark_offsets, rd_kafka_offsets_for_times) and the group
 *    description on N_WORKERS worker threads sharing one job list: a worker owns a copy of
 *    the request, calls librdkafka with the time left before the deadline, posts the
 *    result on a mutex-protected list and writes the same pipe; the loop delivers it. With
 *    two workers, one slow call never holds up every other.
 * A deadline that passes first ends the request with KR_ETIMEDOUT; a result arriving for an
 * id no longer pending is dropped. Freeing the client joins the workers (each bounded by
 * the deadline it was given) and destroys the handle on the calling thread.
 *
 * Why the group is described with rd_kafka_list_groups and not the Admin API's
 * DescribeConsumerGroups: in librdkafka 2.0.2 a DescribeConsumerGroups that fails
 * (_UNSUPPORTED_FEATURE on the mock cluster; time-outs on real clusters, librdkafka issue
 * #4605, still open) leaves the handle unusable (no later admin request is answered,
 * rd_kafka_destroy deadlocks in rdk:main) and then, in rdk:main, ABORTS THE PROCESS on the
 * assertion "eonce->refcnt > 0" (seen here under ASan on every run, and now and then
 * without it), which no separate handle can contain. rd_kafka_list_groups with a group name
 * sends the same DescribeGroups request through the classic path, answers the same state
 * and member count, fails cleanly ("Required feature not supported by broker" on the mock,
 * in milliseconds) and leaves the handle healthy (tested: metadata and destroy right after).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#include "kr/err.h"
#include "kr/kafka.h"
#include "kr/log.h"
#include "kr/units.h"

#define DEFAULT_TIMEOUT_MS 10000
#define N_WORKERS 2

static const char *const op_names[KR_KAFKA_OP_COUNT] = {
    "describe_group", "committed", "offsets_for_times", "watermarks",
    "list_topics", "commit", "delete_topics",
};

const char *kr_kafka_op_name(kr_kafka_op_t op)
{
    return (unsigned)op < KR_KAFKA_OP_COUNT ? op_names[op] : "unknown";
}

/* ------------------------------------------------------------------ results */

kr_kafka_result_t *kr_kafka_result_new(kr_kafka_op_t op)
{
    kr_kafka_result_t *r = calloc(1, sizeof *r);
    if (r) {
        r->op = op;
        r->members = -1;
    }
    return r;
}

void kr_kafka_result_free(kr_kafka_result_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_partitions; i++) {
        free(r->partitions[i].topic);
        free(r->partitions[i].errstr);
    }
    for (size_t i = 0; i < r->n_topics; i++) {
        free(r->topics[i].name);
        free(r->topics[i].errstr);
    }
    free(r->partitions);
    free(r->topics);
    free(r->error);
    free(r->group_state);
    free(r);
}

int kr_kafka_result_fail(kr_kafka_result_t *r, int code, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    free(r->error);
    r->error = s;
    r->result = code;
    return code;
}

int kr_kafka_result_add_partition(kr_kafka_result_t *r, const char *topic, int32_t partition,
                                  int64_t offset, int64_t low, int64_t high, int err,
                                  const char *errstr)
{
    kr_kafka_partition_t *a = realloc(r->partitions, (r->n_partitions + 1) * sizeof *a), *p;
    if (!a)
        return KR_ENOMEM;
    r->partitions = a;
    p = &a[r->n_partitions];
    memset(p, 0, sizeof *p);
    p->topic = strdup(topic ? topic : "");
    p->errstr = errstr ? strdup(errstr) : NULL;
    if (!p->topic || (errstr && !p->errstr)) {
        free(p->topic);
        free(p->errstr);
        return KR_ENOMEM;
    }
    p->partition = partition;
    p->offset = offset;
    p->low = low;
    p->high = high;
    p->err = err;
    r->n_partitions++;
    return KR_OK;
}

int kr_kafka_result_add_topic(kr_kafka_result_t *r, const char *name, int partitions, int err,
                              const char *errstr)
{
    kr_kafka_topic_t *a = realloc(r->topics, (r->n_topics + 1) * sizeof *a), *t;
    if (!a)
        return KR_ENOMEM;
    r->topics = a;
    t = &a[r->n_topics];
    memset(t, 0, sizeof *t);
    t->name = strdup(name ? name : "");
    t->errstr = errstr ? strdup(errstr) : NULL;
    if (!t->name || (errstr && !t->errstr)) {
        free(t->name);
        free(t->errstr);
        return KR_ENOMEM;
    }
    t->partitions = partitions;
    t->err = err;
    r->n_topics++;
    return KR_OK;
}

int kr_kafka_result_set_group(kr_kafka_result_t *r, const char *state, int members)
{
    char *s = strdup(state ? state : "unknown");
    if (!s)
        return KR_ENOMEM;
    free(r->group_state);
    r->group_state = s;
    r->members = members;
    return KR_OK;
}

kr_kafka_result_t *kr_kafka_result_copy(const kr_kafka_result_t *src)
{
    kr_kafka_result_t *r = kr_kafka_result_new(src->op);
    if (!r)
        return NULL;
    r->result = src->result;
    if ((src->error && !(r->error = strdup(src->error))) ||
        (src->group_state && kr_kafka_result_set_group(r, src->group_state, src->members)))
        goto err;
    r->members = src->members;
    for (size_t i = 0; i < src->n_partitions; i++) {
        const kr_kafka_partition_t *p = &src->partitions[i];
        if (kr_kafka_result_add_partition(r, p->topic, p->partition, p->offset, p->low, p->high,
                                          p->err, p->errstr))
            goto err;
    }
    for (size_t i = 0; i < src->n_topics; i++) {
        const kr_kafka_topic_t *t = &src->topics[i];
        if (kr_kafka_result_add_topic(r, t->name, t->partitions, t->err, t->errstr))
            goto err;
    }
    return r;
err:
    kr_kafka_result_free(r);
    return NULL;
}

/* ------------------------------------------------------------------ generic layer */

typedef struct kr_kafka_call {
    struct kr_kafka_call *prev, *next;
    kr_kafka_t *k;
    uint64_t id;
    kr_kafka_op_t op;
    int timeout_ms;
    kr_kafka_done_cb cb;
    void *arg;
    struct event *timer;
    kr_kafka_result_t *early; /* a start failure, delivered from the loop */
} kr_kafka_call_t;

struct kr_kafka {
    struct event_base *base;
    const kr_kafka_ops_t *ops;
    void *impl;
    kr_kafka_call_t *calls;
    size_t n_pending;
    uint64_t next_id;
    int closing;              /* kr_kafka_free started: new requests are refused */
    struct event *free_ev;    /* the deferred free of a client freed from a callback */
    int in_cb;
};

static void really_free(kr_kafka_t *k);

static void finish(kr_kafka_call_t *c, kr_kafka_result_t *res)
{
    kr_kafka_t *k = c->k;
    if (c->prev)
        c->prev->next = c->next;
    else
        k->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    k->n_pending--;
    event_free(c->timer);
    res->op = c->op;
    k->in_cb++;
    c->cb(res, c->arg);
    k->in_cb--;
    kr_kafka_result_free(res);
    kr_kafka_result_free(c->early);
    free(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_kafka_call_t *c = arg;
    kr_kafka_t *k = c->k;
    kr_kafka_result_t *res = c->early;
    (void)fd;
    (void)what;
    c->early = NULL;
    if (!res) {
        if (!(res = kr_kafka_result_new(c->op)))
            return; /* out of memory: the call stays pending until kr_kafka_free */
        kr_kafka_result_fail(res, KR_ETIMEDOUT, "no answer from Kafka to %s within %d ms",
                             kr_kafka_op_name(c->op), c->timeout_ms);
        if (c->op == KR_KAFKA_DESCRIBE_GROUP)
            kr_kafka_result_set_group(res, "unknown", -1);
        KR_WARN("kafka", "msg=\"request timed out\" op=%s id=%llu timeout_ms=%d",
                kr_kafka_op_name(c->op), (unsigned long long)c->id, c->timeout_ms);
        if (k->ops->expired)
            k->ops->expired(k->impl, c->id, c->op);
    }
    finish(c, res);
}

static void free_ev_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    really_free(arg);
}

kr_kafka_t *kr_kafka_new_with_ops(struct event_base *base, const kr_kafka_ops_t *ops,
                                  void *impl)
{
    kr_kafka_t *k = calloc(1, sizeof *k);
    if (!k || !(k->free_ev = event_new(base, -1, 0, free_ev_cb, k))) {
        free(k);
        ops->free(impl);
        return NULL;
    }
    k->base = base;
    k->ops = ops;
    k->impl = impl;
    k->next_id = 1;
    return k;
}

struct event_base *kr_kafka_base(const kr_kafka_t *k)
{
    return k->base;
}

size_t kr_kafka_pending(const kr_kafka_t *k)
{
    return k->n_pending;
}

static int check_request(kr_kafka_op_t op, const kr_kafka_request_t *req)
{
    switch (op) {
    case KR_KAFKA_DESCRIBE_GROUP: return req->group && *req->group;
    case KR_KAFKA_COMMITTED:
    case KR_KAFKA_COMMIT:
        if (!req->group || !*req->group)
            return 0;
        /* fall through */
    case KR_KAFKA_OFFSETS_FOR_TIMES:
    case KR_KAFKA_WATERMARKS:
        if (!req->n_partitions || !req->partitions)
            return 0;
        for (size_t i = 0; i < req->n_partitions; i++)
            if (!req->partitions[i].topic || req->partitions[i].partition < 0)
                return 0;
        return 1;
    case KR_KAFKA_LIST_TOPICS: return 1;
    case KR_KAFKA_DELETE_TOPICS:
        if (!req->n_topics || !req->topics)
            return 0;
        for (size_t i = 0; i < req->n_topics; i++)
            if (!req->topics[i] || !*req->topics[i])
                return 0;
        return 1;
    default: return 0;
    }
}

int kr_kafka_start(kr_kafka_t *k, kr_kafka_op_t op, const kr_kafka_request_t *req,
                   kr_kafka_done_cb cb, void *arg)
{
    kr_kafka_call_t *c;
    kr_kafka_request_t r = *req;
    struct timeval tv;
    char err[512] = "";
    int rc;

    if (k->closing)
        return KR_ESTATE;
    if (!cb || !check_request(op, req)) {
        KR_WARN("kafka", "msg=\"request refused: it misses what the operation needs\" op=%s",
                kr_kafka_op_name(op));
        return KR_EINVAL;
    }
    if (r.timeout_ms <= 0)
        r.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!(c = calloc(1, sizeof *c)))
        return KR_ENOMEM;
    c->k = k;
    c->id = k->next_id++;
    c->op = op;
    c->cb = cb;
    c->arg = arg;
    c->timeout_ms = r.timeout_ms;
    if (!(c->timer = evtimer_new(k->base, timer_cb, c))) {
        free(c);
        return KR_ENOMEM;
    }
    rc = k->ops->start(k->impl, k, c->id, op, &r, err, sizeof err);
    if (rc != KR_OK) {
        /* Fail through the callback, from the loop, as any other failure. */
        if (!(c->early = kr_kafka_result_new(op))) {
            event_free(c->timer);
            free(c);
            return KR_ENOMEM;
        }
        kr_kafka_result_fail(c->early, rc, "%s", *err ? err : kr_strerror(rc));
        if (op == KR_KAFKA_DESCRIBE_GROUP)
            kr_kafka_result_set_group(c->early, "unknown", -1);
        event_active(c->timer, EV_TIMEOUT, 1);
    } else {
        tv.tv_sec = r.timeout_ms / 1000;
        tv.tv_usec = (r.timeout_ms % 1000) * 1000;
        evtimer_add(c->timer, &tv);
    }
    c->next = k->calls;
    if (k->calls)
        k->calls->prev = c;
    k->calls = c;
    k->n_pending++;
    return KR_OK;
}

void kr_kafka_deliver(kr_kafka_t *k, uint64_t id, kr_kafka_result_t *res)
{
    kr_kafka_call_t *c;
    for (c = k->calls; c && c->id != id; c = c->next)
        ;
    if (!c || c->early) {
        KR_DEBUG("kafka", "msg=\"late answer dropped\" id=%llu", (unsigned long long)id);
        kr_kafka_result_free(res);
        return;
    }
    finish(c, res);
}

static void cancel_all(kr_kafka_t *k)
{
    while (k->calls) {
        kr_kafka_call_t *c = k->calls;
        kr_kafka_result_t *res = kr_kafka_result_new(c->op);
        if (!res) { /* out of memory: drop the callback rather than loop forever */
            k->calls = c->next;
            if (k->calls)
                k->calls->prev = NULL;
            k->n_pending--;
            event_free(c->timer);
            kr_kafka_result_free(c->early);
            free(c);
            continue;
        }
        kr_kafka_result_fail(res, KR_ESTATE, "cancelled: the Kafka client is shutting down");
        if (c->op == KR_KAFKA_DESCRIBE_GROUP)
            kr_kafka_result_set_group(res, "unknown", -1);
        finish(c, res);
    }
}

static void really_free(kr_kafka_t *k)
{
    cancel_all(k);
    k->ops->free(k->impl);
    event_free(k->free_ev);
    free(k);
}

void kr_kafka_free(kr_kafka_t *k)
{
    if (!k || k->closing)
        return;
    k->closing = 1;
    if (k->in_cb) {
        /* From a callback: cancel the others now, free once the loop is back. */
        cancel_all(k);
        event_active(k->free_ev, EV_TIMEOUT, 1);
        return;
    }
    really_free(k);
}

typedef struct {
    int done;
    kr_kafka_result_t *res;
} sync_call_t;

static void sync_cb(const kr_kafka_result_t *res, void *arg)
{
    sync_call_t *s = arg;
    s->done = 1;
    s->res = kr_kafka_result_copy(res);
}

int kr_kafka_call(kr_kafka_t *k, kr_kafka_op_t op, const kr_kafka_request_t *req,
                  kr_kafka_result_t **out)
{
    sync_call_t s = { 0, NULL };
    int rc = kr_kafka_start(k, op, req, sync_cb, &s);
    *out = NULL;
    if (rc != KR_OK) {
        if (!(*out = kr_kafka_result_new(op)))
            return KR_ENOMEM;
        if (op == KR_KAFKA_DESCRIBE_GROUP)
            kr_kafka_result_set_group(*out, "unknown", -1);
        return kr_kafka_result_fail(*out, rc, "could not start %s: %s", kr_kafka_op_name(op),
                                    rc == KR_EINVAL ? "the request misses what it needs"
                                                    : kr_strerror(rc));
    }
    while (!s.done)
        if (event_base_loop(k->base, EVLOOP_ONCE) < 0)
            break;
    if (!s.done || !s.res) {
        kr_kafka_result_free(s.res);
        return KR_ENOMEM;
    }
    *out = s.res;
    return s.res->result;
}

/* ------------------------------------------------------------------ librdkafka */

typedef struct job {
    struct job *next;
    uint64_t id;
    kr_kafka_op_t op;
    int64_t deadline_ms;          /* monotonic */
    char *group;                  /* DESCRIBE_GROUP */
    kr_kafka_tp_t *tps;           /* topics owned */
    size_t n;
    kr_kafka_result_t *res;       /* filled by the worker */
} job_t;

typedef struct {
    kr_kafka_t *k;
    struct event_base *base;
    rd_kafka_conf_t *conf_template; /* duplicated for each handle */
    rd_kafka_t *rk;                 /* admin ops and the blocking calls */
    rd_kafka_queue_t *q;
    int wake[2];
    struct event *wake_ev;
    pthread_t workers[N_WORKERS];
    int n_workers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *queue, *queue_tail;        /* to the worker (under mu) */
    job_t *done, *done_tail;        /* from the worker (under mu) */
    int stop;
} rk_impl_t;

static int map_err(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_NO_ERROR: return KR_OK;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT: return KR_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION: return KR_EUNSUPPORTED;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND: return KR_ENOTFOUND;
    case RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION: return KR_ESTATE;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION: return KR_EAUTH;
    default: return KR_EIO;
    }
}

static void wake_loop(rk_impl_t *im)
{
    char c = 'w';
    ssize_t n = write(im->wake[1], &c, 1); /* full pipe: a wake-up is pending anyway */
    (void)n;
}

static int64_t left_ms(int64_t deadline)
{
    int64_t l = deadline - kr_mono_ms();
    return l < 1 ? 1 : l;
}

static void job_free(job_t *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++)
        free((char *)j->tps[i].topic);
    free(j->tps);
    free(j->group);
    kr_kafka_result_free(j->res);
    free(j);
}

/* Worker thread: DescribeGroups through the classic API (see DESIGN). With a group name it
 * asks every broker; the coordinator answers the group, the others may answer it with an
 * error, so the first entry without an error wins. */
static void describe_group(rk_impl_t *im, const job_t *j, kr_kafka_result_t *r)
{
    const struct rd_kafka_group_list *gl = NULL;
    const struct rd_kafka_group_info *found = NULL, *failed = NULL;
    rd_kafka_resp_err_t e;

    kr_kafka_result_set_group(r, "unknown", -1);
    e = rd_kafka_list_groups(im->rk, j->group, &gl, (int)left_ms(j->deadline_ms));
    for (int i = 0; gl && i < gl->group_cnt; i++) {
        const struct rd_kafka_group_info *g = &gl->groups[i];
        if (strcmp(g->group, j->group) != 0)
            continue;
        if (!g->err && !found)
            found = g;
        else if (g->err && !failed)
            failed = g;
    }
    if (found) {
        kr_kafka_result_set_group(r, found->state && *found->state ? found->state : "unknown",
                                  found->member_cnt);
        if (!found->state || !*found->state)
            kr_kafka_result_fail(r, KR_EIO, "the broker described group %s without a state",
                                 j->group);
    } else if (failed) {
        kr_kafka_result_fail(r, map_err(failed->err), "the broker could not describe group %s: %s",
                             j->group, rd_kafka_err2str(failed->err));
    } else if (e) {
        kr_kafka_result_fail(r, map_err(e), "the broker could not describe group %s: %s",
                             j->group, rd_kafka_err2str(e));
    } else {
        kr_kafka_result_fail(r, KR_ENOTFOUND, "no broker described group %s", j->group);
    }
    if (gl)
        rd_kafka_group_list_destroy(gl);
}

/* Worker thread: the calls that block in librdkafka 2.0.2. */
static void run_job(rk_impl_t *im, job_t *j)
{
    kr_kafka_result_t *r = kr_kafka_result_new(j->op);
    if (!r)
        return;
    j->res = r;
    if (j->op == KR_KAFKA_DESCRIBE_GROUP) {
        describe_group(im, j, r);
    } else if (j->op == KR_KAFKA_LIST_TOPICS) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(im->rk, 1, NULL, &md, (int)left_ms(j->deadline_ms));
        if (e) {
            kr_kafka_result_fail(r, map_err(e), "listing topics (metadata) failed: %s",
                                 rd_kafka_err2str(e));
            return;
        }
        for (int i = 0; i < md->topic_cnt; i++) {
            const rd_kafka_metadata_topic_t *t = &md->topics[i];
            if (kr_kafka_result_add_topic(r, t->topic, t->partition_cnt, map_err(t->err),
                                          t->err ? rd_kafka_err2str(t->err) : NULL)) {
                kr_kafka_result_fail(r, KR_ENOMEM, "out of memory listing topics");
                break;
            }
        }
        rd_kafka_metadata_destroy(md);
    } else if (j->op == KR_KAFKA_WATERMARKS) {
        int failed = 0;
        for (size_t i = 0; i < j->n; i++) {
            int64_t lo = -1, hi = -1;
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
                im->rk, j->tps[i].topic, j->tps[i].partition, &lo, &hi,
                (int)left_ms(j->deadline_ms));
            if (e)
                failed++;
            kr_kafka_result_add_partition(r, j->tps[i].topic, j->tps[i].partition, -1,
                                          e ? -1 : lo, e ? -1 : hi, map_err(e),
                                          e ? rd_kafka_err2str(e) : NULL);
            if (e && !r->result)
                kr_kafka_result_fail(r, map_err(e), "watermarks of %s partition %d: %s",
                                     j->tps[i].topic, (int)j->tps[i].partition,
                                     rd_kafka_err2str(e));
        }
        (void)failed;
    } else { /* OFFSETS_FOR_TIMES */
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)j->n);
        rd_kafka_resp_err_t e;
        for (size_t i = 0; i < j->n; i++)
            rd_kafka_topic_partition_list_add(l, j->tps[i].topic, j->tps[i].partition)->offset =
                j->tps[i].offset;
        e = rd_kafka_offsets_for_times(im->rk, l, (int)left_ms(j->deadline_ms));
        if (e)
            kr_kafka_result_fail(r, map_err(e), "offsets for times failed: %s",
                                 rd_kafka_err2str(e));
        for (int i = 0; i < l->cnt; i++) {
            const rd_kafka_topic_partition_t *p = &l->elems[i];
            int pe = e ? e : p->err;
            kr_kafka_result_add_partition(r, p->topic, p->partition,
                                          pe || p->offset < 0 ? -1 : p->offset, -1, -1,
                                          map_err(pe), pe ? rd_kafka_err2str(pe) : NULL);
            if (pe && !r->result)
                kr_kafka_result_fail(r, map_err(pe), "offset for time of %s partition %d: %s",
                                     p->topic, (int)p->partition, rd_kafka_err2str(pe));
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
}

static void *worker_main(void *arg)
{
    rk_impl_t *im = arg;
    pthread_mutex_lock(&im->mu);
    for (;;) {
        job_t *j;
        while (!im->stop && !im->queue)
            pthread_cond_wait(&im->cv, &im->mu);
        if (im->stop)
            break;
        j = im->queue;
        im->queue = j->next;
        if (!im->queue)
            im->queue_tail = NULL;
        pthread_mutex_unlock(&im->mu);
        run_job(im, j);
        pthread_mutex_lock(&im->mu);
        j->next = NULL;
        if (im->done_tail)
            im->done_tail->next = j;
        else
            im->done = j;
        im->done_tail = j;
        wake_loop(im);
    }
    pthread_mutex_unlock(&im->mu);
    return NULL;
}

static rd_kafka_t *new_handle(rk_impl_t *im, rd_kafka_queue_t **q, char *err, size_t errlen)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(im->conf_template);
    rd_kafka_t *rk;
    if (!conf) {
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory creating a Kafka client");
        return NULL;
    }
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(conf);
        kr_seterr(err, errlen, KR_EIO, "could not create a Kafka client: %s", errstr);
        return NULL;
    }
    *q = rd_kafka_queue_new(rk);
    rd_kafka_queue_io_event_enable(*q, im->wake[1], "q", 1);
    return rk;
}

/* ListConsumerGroupOffsets and AlterConsumerGroupOffsets answer the same shape. */
static kr_kafka_result_t *group_offsets_result(rd_kafka_event_t *ev, kr_kafka_op_t op)
{
    kr_kafka_result_t *r = kr_kafka_result_new(op);
    const rd_kafka_group_result_t **groups = NULL;
    const rd_kafka_topic_partition_list_t *l;
    const char *what = op == KR_KAFKA_COMMIT ? "AlterConsumerGroupOffsets"
                                             : "ListConsumerGroupOffsets";
    size_t n = 0;
    if (!r)
        return NULL;
    if (rd_kafka_event_error(ev)) {
        kr_kafka_result_fail(r, map_err(rd_kafka_event_error(ev)), "%s failed: %s", what,
                             rd_kafka_event_error_string(ev));
        return r;
    }
    if (op == KR_KAFKA_COMMIT) {
        const rd_kafka_AlterConsumerGroupOffsets_result_t *res =
            rd_kafka_event_AlterConsumerGroupOffsets_result(ev);
        groups = res ? rd_kafka_AlterConsumerGroupOffsets_result_groups(res, &n) : NULL;
    } else {
        const rd_kafka_ListConsumerGroupOffsets_result_t *res =
            rd_kafka_event_ListConsumerGroupOffsets_result(ev);
        groups = res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n) : NULL;
    }
    if (n < 1) {
        kr_kafka_result_fail(r, KR_EIO, "%s answered no group", what);
        return r;
    }
    if (rd_kafka_group_result_error(groups[0])) {
        const rd_kafka_error_t *ge = rd_kafka_group_result_error(groups[0]);
        kr_kafka_result_fail(r, map_err(rd_kafka_error_code(ge)), "%s for group %s: %s", what,
                             rd_kafka_group_result_name(groups[0]), rd_kafka_error_string(ge));
        return r;
    }
    l = rd_kafka_group_result_partitions(groups[0]);
    for (int i = 0; l && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &l->elems[i];
        kr_kafka_result_add_partition(r, p->topic, p->partition, p->offset < 0 ? -1 : p->offset,
                                      -1, -1, map_err(p->err),
                                      p->err ? rd_kafka_err2str(p->err) : NULL);
        if (p->err && !r->result)
            kr_kafka_result_fail(r, map_err(p->err), "%s: %s partition %d: %s", what, p->topic,
                                 (int)p->partition, rd_kafka_err2str(p->err));
    }
    return r;
}

static kr_kafka_result_t *delete_result(rd_kafka_event_t *ev)
{
    kr_kafka_result_t *r = kr_kafka_result_new(KR_KAFKA_DELETE_TOPICS);
    const rd_kafka_DeleteTopics_result_t *res;
    const rd_kafka_topic_result_t **topics;
    size_t n = 0;
    if (!r)
        return NULL;
    if (rd_kafka_event_error(ev)) {
        kr_kafka_result_fail(r, map_err(rd_kafka_event_error(ev)), "DeleteTopics failed: %s",
                             rd_kafka_event_error_string(ev));
        return r;
    }
    res = rd_kafka_event_DeleteTopics_result(ev);
    topics = res ? rd_kafka_DeleteTopics_result_topics(res, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
        kr_kafka_result_add_topic(r, rd_kafka_topic_result_name(topics[i]), 0, map_err(e),
                                  e ? rd_kafka_topic_result_error_string(topics[i]) : NULL);
        if (e && !r->result)
            kr_kafka_result_fail(r, map_err(e), "deleting topic %s failed: %s",
                                 rd_kafka_topic_result_name(topics[i]),
                                 rd_kafka_topic_result_error_string(topics[i]));
    }
    return r;
}

static void handle_event(rk_impl_t *im, rd_kafka_event_t *ev)
{
    uint64_t id = (uint64_t)(uintptr_t)rd_kafka_event_opaque(ev);
    kr_kafka_result_t *r = NULL;
    switch (rd_kafka_event_type(ev)) {
    case RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT:
        r = group_offsets_result(ev, KR_KAFKA_COMMITTED);
        break;
    case RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT:
        r = group_offsets_result(ev, KR_KAFKA_COMMIT);
        break;
    case RD_KAFKA_EVENT_DELETETOPICS_RESULT:
        r = delete_result(ev);
        break;
    default:
        KR_DEBUG("kafka", "msg=\"unexpected event\" type=%s", rd_kafka_event_name(ev));
        break;
    }
    rd_kafka_event_destroy(ev);
    if (r)
        kr_kafka_deliver(im->k, id, r);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    rk_impl_t *im = arg;
    char buf[256];
    job_t *done;
    (void)what;
    while (read(fd, buf, sizeof buf) > 0)
        ;
    for (;;) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(im->q, 0);
        if (!ev)
            break;
        handle_event(im, ev);
    }
    pthread_mutex_lock(&im->mu);
    done = im->done;
    im->done = im->done_tail = NULL;
    pthread_mutex_unlock(&im->mu);
    while (done) {
        job_t *j = done;
        done = j->next;
        if (j->res) {
            kr_kafka_deliver(im->k, j->id, j->res);
            j->res = NULL;
        }
        job_free(j);
    }
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t api,
                                              uint64_t id, int timeout_ms)
{
    char errstr[256];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, api);
    if (!o)
        return NULL;
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, errstr, sizeof errstr);
    rd_kafka_AdminOptions_set_opaque(o, (void *)(uintptr_t)id);
    return o;
}

static rd_kafka_topic_partition_list_t *tp_list(const kr_kafka_request_t *req)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)req->n_partitions);
    for (size_t i = 0; i < req->n_partitions; i++)
        rd_kafka_topic_partition_list_add(l, req->partitions[i].topic,
                                          req->partitions[i].partition)->offset =
            req->partitions[i].offset;
    return l;
}

static int rk_start(void *impl, kr_kafka_t *k, uint64_t id, kr_kafka_op_t op,
                    const kr_kafka_request_t *req, char *err, size_t errlen)
{
    rk_impl_t *im = impl;
    rd_kafka_AdminOptions_t *o = NULL;
    im->k = k;
    switch (op) {
    case KR_KAFKA_COMMITTED:
    case KR_KAFKA_COMMIT: {
        rd_kafka_topic_partition_list_t *l = tp_list(req);
        if (op == KR_KAFKA_COMMITTED) {
            rd_kafka_ListConsumerGroupOffsets_t *x = rd_kafka_ListConsumerGroupOffsets_new(req->group, l);
            o = admin_options(im->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, id,
                              req->timeout_ms);
            rd_kafka_ListConsumerGroupOffsets(im->rk, &x, 1, o, im->q);
            rd_kafka_ListConsumerGroupOffsets_destroy(x);
        } else {
            rd_kafka_AlterConsumerGroupOffsets_t *x = rd_kafka_AlterConsumerGroupOffsets_new(req->group, l);
            o = admin_options(im->rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, id,
                              req->timeout_ms);
            rd_kafka_AlterConsumerGroupOffsets(im->rk, &x, 1, o, im->q);
            rd_kafka_AlterConsumerGroupOffsets_destroy(x);
        }
        rd_kafka_topic_partition_list_destroy(l);
        break;
    }
    case KR_KAFKA_DELETE_TOPICS: {
        rd_kafka_DeleteTopic_t **d = calloc(req->n_topics, sizeof *d);
        char errstr[256];
        if (!d)
            return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        for (size_t i = 0; i < req->n_topics; i++)
            d[i] = rd_kafka_DeleteTopic_new(req->topics[i]);
        o = admin_options(im->rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, id, req->timeout_ms);
        /* the broker waits this long for the deletion to finish before it answers */
        rd_kafka_AdminOptions_set_operation_timeout(o, req->timeout_ms / 2, errstr,
                                                    sizeof errstr);
        rd_kafka_DeleteTopics(im->rk, d, req->n_topics, o, im->q);
        rd_kafka_DeleteTopic_destroy_array(d, req->n_topics);
        free(d);
        break;
    }
    default: { /* DESCRIBE_GROUP, LIST_TOPICS, WATERMARKS, OFFSETS_FOR_TIMES: a worker */
        job_t *j = calloc(1, sizeof *j);
        if (!j)
            return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        j->id = id;
        j->op = op;
        j->deadline_ms = kr_mono_ms() + req->timeout_ms;
        if (op == KR_KAFKA_DESCRIBE_GROUP && !(j->group = strdup(req->group))) {
            free(j);
            return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        }
        if (req->n_partitions && !(j->tps = calloc(req->n_partitions, sizeof *j->tps))) {
            job_free(j);
            return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        }
        for (size_t i = 0; (op == KR_KAFKA_WATERMARKS || op == KR_KAFKA_OFFSETS_FOR_TIMES) &&
                           i < req->n_partitions; i++) {
            j->tps[i] = req->partitions[i];
            if (!(j->tps[i].topic = strdup(req->partitions[i].topic))) {
                job_free(j);
                return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
            }
            j->n++;
        }
        pthread_mutex_lock(&im->mu);
        if (im->queue_tail)
            im->queue_tail->next = j;
        else
            im->queue = j;
        im->queue_tail = j;
        pthread_cond_signal(&im->cv);
        pthread_mutex_unlock(&im->mu);
        return KR_OK;
    }
    }
    rd_kafka_AdminOptions_destroy(o);
    return KR_OK;
}

static void rk_free(void *impl)
{
    rk_impl_t *im = impl;
    if (!im)
        return;
    if (im->n_workers) {
        pthread_mutex_lock(&im->mu);
        im->stop = 1;
        pthread_cond_broadcast(&im->cv);
        pthread_mutex_unlock(&im->mu);
        for (int i = 0; i < im->n_workers; i++)
            pthread_join(im->workers[i], NULL);
    }
    while (im->queue) {
        job_t *j = im->queue;
        im->queue = j->next;
        job_free(j);
    }
    while (im->done) {
        job_t *j = im->done;
        im->done = j->next;
        job_free(j);
    }
    if (im->rk) {
        rd_kafka_queue_io_event_enable(im->q, -1, NULL, 0);
        rd_kafka_queue_destroy(im->q);
        rd_kafka_destroy(im->rk);
    }
    if (im->wake_ev)
        event_free(im->wake_ev);
    if (im->wake[0] >= 0)
        close(im->wake[0]);
    if (im->wake[1] >= 0)
        close(im->wake[1]);
    if (im->conf_template)
        rd_kafka_conf_destroy(im->conf_template);
    pthread_mutex_destroy(&im->mu);
    pthread_cond_destroy(&im->cv);
    free(im);
}

static const kr_kafka_ops_t rk_ops = { "librdkafka", rk_start, NULL, rk_free };

kr_kafka_t *kr_kafka_new(struct event_base *base, const char *bootstrap,
                         const char *const *props, char *err, size_t errlen)
{
    rk_impl_t *im = calloc(1, sizeof *im);
    char errstr[512];
    kr_kafka_t *k;

    if (!im) {
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        return NULL;
    }
    im->wake[0] = im->wake[1] = -1;
    pthread_mutex_init(&im->mu, NULL);
    pthread_cond_init(&im->cv, NULL);
    im->base = base;
    if (!bootstrap || !*bootstrap) {
        kr_seterr(err, errlen, KR_EINVAL, "no bootstrap servers given (host:port,...)");
        goto fail;
    }
    im->conf_template = rd_kafka_conf_new();
    if (rd_kafka_conf_set(im->conf_template, "bootstrap.servers", bootstrap, errstr,
                          sizeof errstr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(im->conf_template, "client.id", "kresponder", errstr,
                          sizeof errstr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(im->conf_template, "log_level", "3", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
        kr_seterr(err, errlen, KR_EINVAL, "Kafka configuration: %s", errstr);
        goto fail;
    }
    for (size_t i = 0; props && props[i]; i += 2) {
        if (!props[i + 1]) {
            kr_seterr(err, errlen, KR_EINVAL, "Kafka property %s has no value", props[i]);
            goto fail;
        }
        if (rd_kafka_conf_set(im->conf_template, props[i], props[i + 1], errstr,
                              sizeof errstr) != RD_KAFKA_CONF_OK) {
            kr_seterr(err, errlen, KR_EINVAL, "Kafka property %s: %s", props[i], errstr);
            goto fail;
        }
    }
    if (pipe2(im->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        kr_seterr(err, errlen, KR_EIO, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (!(im->wake_ev = event_new(base, im->wake[0], EV_READ | EV_PERSIST, wake_cb, im)) ||
        event_add(im->wake_ev, NULL) != 0)
        goto nomem;
    if (!(im->rk = new_handle(im, &im->q, err, errlen)))
        goto fail;
    for (int i = 0; i < N_WORKERS; i++) {
        if (pthread_create(&im->workers[i], NULL, worker_main, im) != 0) {
            kr_seterr(err, errlen, KR_EIO, "could not start the Kafka worker threads");
            goto fail;
        }
        im->n_workers++;
    }
    if (!(k = kr_kafka_new_with_ops(base, &rk_ops, im))) {
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        return NULL;
    }
    im->k = k;
    return k;
nomem:
    kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
fail:
    rk_free(im);
    return NULL;
}
