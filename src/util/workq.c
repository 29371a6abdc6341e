/* util/workq.c: worker threads for pure work, results handed back to the loop thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/log.h"
#include "kr/workq.h"

typedef struct job {
    void (*work)(void *);
    void (*done)(void *);
    void *arg;
    struct job *next;
} job_t;

struct kr_workq {
    struct event *done_ev;       /* activated by workers; runs on the loop thread */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    job_t *in_head, *in_tail;    /* (mu) waiting for a worker */
    job_t *out_head, *out_tail;  /* (mu) worked, waiting for done on the loop */
    int done_pending;            /* (mu) done_ev activated and not yet run */
    int stop;                    /* (mu) */
    uint64_t queued;             /* (mu) submitted and not yet done */
    pthread_t *threads;
    int nthreads;
};

static void push(job_t **head, job_t **tail, job_t *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void *worker_main(void *arg)
{
    kr_workq_t *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->stop && !q->in_head)
            pthread_cond_wait(&q->cond, &q->mu);
        if (q->stop)
            break;
        job_t *j = q->in_head;
        q->in_head = j->next;
        if (!q->in_head)
            q->in_tail = NULL;
        pthread_mutex_unlock(&q->mu);
        j->work(j->arg);
        pthread_mutex_lock(&q->mu);
        push(&q->out_head, &q->out_tail, j);
        if (!q->done_pending) {
            q->done_pending = 1;
            /* outside mu: event_active takes the base's lock, and the loop wants mu */
            pthread_mutex_unlock(&q->mu);
            event_active(q->done_ev, EV_READ, 0);
            pthread_mutex_lock(&q->mu);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Loop thread: the done callbacks of every job finished so far. */
static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_workq_t *q = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&q->mu);
    job_t *j = q->out_head;
    q->out_head = q->out_tail = NULL;
    q->done_pending = 0;
    pthread_mutex_unlock(&q->mu);
    while (j) {
        job_t *next = j->next;
        j->done(j->arg);
        pthread_mutex_lock(&q->mu);
        q->queued--;
        pthread_mutex_unlock(&q->mu);
        free(j);
        j = next;
    }
}

kr_workq_t *kr_workq_new(struct event_base *base, int threads, const char *name, char *err, size_t errlen)
{
    kr_workq_t *q = calloc(1, sizeof *q);
    if (!q || (threads > 0 && !(q->threads = calloc((size_t)threads, sizeof *q->threads))) ||
        !(q->done_ev = event_new(base, -1, 0, done_cb, q))) {
        if (q)
            free(q->threads);
        free(q);
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cond, NULL);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&q->threads[i], NULL, worker_main, q) != 0) {
            kr_seterr(err, errlen, KR_ENOMEM, "cannot start %s worker thread %d of %d", name, i + 1, threads);
            kr_workq_free(q);
            return NULL;
        }
        q->nthreads++;
    }
    return q;
}

void kr_workq_free(kr_workq_t *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    /* every worker is gone: what was never picked up runs here, then every done */
    for (job_t *j = q->in_head, *next; j; j = next) {
        next = j->next;
        j->work(j->arg);
        push(&q->out_head, &q->out_tail, j);
    }
    q->in_head = q->in_tail = NULL;
    done_cb(-1, 0, q);
    event_free(q->done_ev);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cond);
    free(q->threads);
    free(q);
}

int kr_workq_submit(kr_workq_t *q, void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
    if (!q->nthreads) {
        work(arg);
        done(arg);
        return KR_OK;
    }
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return KR_ENOMEM;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&q->mu);
    push(&q->in_head, &q->in_tail, j);
    q->queued++;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->mu);
    return KR_OK;
}

int kr_workq_threads(const kr_workq_t *q) { return q ? q->nthreads : 0; }

uint64_t kr_workq_pending(kr_workq_t *q)
{
    pthread_mutex_lock(&q->mu);
    uint64_t n = q->queued;
    pthread_mutex_unlock(&q->mu);
    return n;
}
