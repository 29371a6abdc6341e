/* kr/workq.h: a small pool of worker threads for pure, CPU-bound work (parsing, signature
 * verification, decoding) whose result goes back to the loop thread.
 *
 * DESIGN: loop thread: kr_workq_submit queues a job → a worker runs work(arg) (it must not
 * touch loop-owned state) → the worker queues the job on the done list and wakes the loop
 * with event_active (needs evthread_use_pthreads) → loop thread: done(arg), in completion
 * order, a batch per wake-up. With 0 threads work and done run inline in kr_workq_submit. */
#ifndef KR_WORKQ_H
#define KR_WORKQ_H

#include <event2/event.h>
#include <stdint.h>

typedef struct kr_workq kr_workq_t;

/* Starts `threads` workers (0: inline). Returns NULL with err on failure. */
kr_workq_t *kr_workq_new(struct event_base *base, int threads, const char *name, char *err, size_t errlen);
/* Stops the workers after their current job; jobs still queued run inline, then every
 * done callback runs (loop thread). */
void kr_workq_free(kr_workq_t *q);

/* Queues work(arg) for a worker, then done(arg) on the loop thread. Never fails except
 * KR_ENOMEM (neither is called then). */
int kr_workq_submit(kr_workq_t *q, void (*work)(void *arg), void (*done)(void *arg), void *arg);

/* Worker threads started; jobs queued or running now (for metrics). */
int kr_workq_threads(const kr_workq_t *q);
uint64_t kr_workq_pending(kr_workq_t *q);

#endif
