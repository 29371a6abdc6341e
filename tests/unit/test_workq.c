/* tests/unit/test_workq.c: the worker pool: work on a worker thread, done on the loop
 * thread, every job exactly once, inline mode, and jobs still queued at free. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "kr/workq.h"
#include "kr_test.h"

typedef struct {
    pthread_t loop;
    int worked_on_loop, done_off_loop, done, want;
    int worked[256], finished[256];
    struct event_base *base;
} ctx_t;

typedef struct {
    ctx_t *c;
    int i;
    int slow;
} item_t;

static void work(void *arg)
{
    item_t *it = arg;
    if (it->slow)
        usleep(2000);
    /* one writer per slot: the job's own worker */
    it->c->worked[it->i]++;
    if (pthread_equal(pthread_self(), it->c->loop))
        __atomic_add_fetch(&it->c->worked_on_loop, 1, __ATOMIC_RELAXED);
}

static void done(void *arg)
{
    item_t *it = arg;
    ctx_t *c = it->c;
    if (!pthread_equal(pthread_self(), c->loop))
        c->done_off_loop++;
    CHECKF(c->worked[it->i] == 1, "job %d worked before its done", it->i);
    c->finished[it->i]++;
    if (++c->done == c->want && c->base)
        event_base_loopexit(c->base, NULL);
    free(it);
}

static item_t *item(ctx_t *c, int i, int slow)
{
    item_t *it = calloc(1, sizeof *it);
    it->c = c;
    it->i = i;
    it->slow = slow;
    return it;
}

KR_TEST(work_on_workers_done_on_the_loop_each_once)
{
    char err[256] = "";
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    ctx_t c = { .loop = pthread_self(), .want = 200, .base = base };
    kr_workq_t *q = kr_workq_new(base, 3, "test", err, sizeof err);
    CHECKF(q != NULL, "%s", err);
    if (!q)
        return;
    CHECK_INT(kr_workq_threads(q), 3);
    for (int i = 0; i < 200; i++)
        CHECK_INT(kr_workq_submit(q, work, done, item(&c, i, i % 20 == 0)), 0);
    /* nothing is done before the loop runs: done callbacks only run on the loop */
    CHECK_INT(c.done, 0);
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    CHECK_INT(c.done, 200);
    CHECK_INT(c.worked_on_loop, 0);
    CHECK_INT(c.done_off_loop, 0);
    int once = 1;
    for (int i = 0; i < 200; i++)
        once &= c.worked[i] == 1 && c.finished[i] == 1;
    CHECK(once);
    CHECK_INT(kr_workq_pending(q), 0);
    kr_workq_free(q);
    event_base_free(base);
}

KR_TEST(zero_threads_runs_work_and_done_inline)
{
    char err[256] = "";
    struct event_base *base = event_base_new();
    ctx_t c = { .loop = pthread_self(), .want = 5 };
    kr_workq_t *q = kr_workq_new(base, 0, "test", err, sizeof err);
    CHECKF(q != NULL, "%s", err);
    if (!q)
        return;
    for (int i = 0; i < 5; i++) {
        CHECK_INT(kr_workq_submit(q, work, done, item(&c, i, 0)), 0);
        CHECK_INT(c.done, i + 1); /* at once, without the loop */
    }
    CHECK_INT(c.worked_on_loop, 5);
    kr_workq_free(q);
    event_base_free(base);
}

KR_TEST(free_finishes_every_queued_job)
{
    char err[256] = "";
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    ctx_t c = { .loop = pthread_self(), .want = 50 };
    kr_workq_t *q = kr_workq_new(base, 1, "test", err, sizeof err);
    CHECKF(q != NULL, "%s", err);
    if (!q)
        return;
    for (int i = 0; i < 50; i++)
        CHECK_INT(kr_workq_submit(q, work, done, item(&c, i, 1)), 0);
    /* the loop never ran: the one worker has at most a few done; free does the rest */
    kr_workq_free(q);
    CHECK_INT(c.done, 50);
    int once = 1;
    for (int i = 0; i < 50; i++)
        once &= c.worked[i] == 1 && c.finished[i] == 1;
    CHECK(once);
    CHECK_INT(c.done_off_loop, 0);
    event_base_free(base);
}
