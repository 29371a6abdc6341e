/* kr/outbox.h: the page outbox: a durable, per-receiver FIFO of messages, each an explicit
 * state machine with retry, backoff and a maximum age. No I/O and no clock of its own: the
 * pager feeds it the time and performs its effects (journal, send, timer), so every
 * decision (backoff schedule, Retry-After, ordering, expiry) is testable with a fake clock.
 *
 * DESIGN (loop thread): kr_outbox_add journals an outbox.add record and waits for it to
 * be durable (kr_outbox_durable) before the message may be sent: nothing goes out that a
 * restart would not know about. Each receiver sends one message at a time, oldest first
 * (head of line): the next waits until the previous one is sent or has failed for good.
 * A 2xx marks it sent (outbox.sent); 429, 5xx and transport errors are retried after
 * max(Retry-After, retry_min) or an exponential backoff with equal jitter
 * (d = min(retry_max, retry_min * 2^(n-1)), wait in [d/2, d]) until max_age after it was
 * created; any other status fails it at once (outbox.failed). A message past its max age
 * when its turn comes fails without being sent. After a restart kr_outbox_replay rebuilds
 * the unsent messages from the journal and kr_outbox_resume sends them, in order; a message
 * whose outbox.sent record is in the journal is never sent again.
 *
 * States: unsaved (journal write not yet durable) → queued → sending → waiting (retry
 * timer) → sending ... → sent | failed. Journal records (member "kind"):
 *   outbox.add    {msg, receiver, incident, run, page, created, body}
 *   outbox.sent   {msg, receiver, status, attempts}
 *   outbox.failed {msg, receiver, status, reason, attempts}
 * Loop thread only. */
#ifndef KR_OUTBOX_H
#define KR_OUTBOX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    KR_OUTBOX_UNSAVED = 0,
    KR_OUTBOX_QUEUED,
    KR_OUTBOX_SENDING,
    KR_OUTBOX_WAITING,
    KR_OUTBOX_SENT,
    KR_OUTBOX_FAILED,
    KR_OUTBOX_NSTATES
} kr_outbox_state_t;

typedef struct kr_outbox kr_outbox_t;

/* What happened to a message, for the pager's metrics, logs and run messages. All
 * pointers are borrowed for the duration of the report callback. */
typedef struct kr_outbox_report {
    const char *msg;          /* "ob-17" */
    const char *receiver;
    const char *incident;     /* may be NULL */
    const char *run;          /* the page run that created it, or NULL (follow-ups) */
    const char *page;         /* "trigger", "followup", "resolve" */
    kr_outbox_state_t state;  /* SENT, FAILED, or WAITING (an attempt failed; retrying) */
    long status;              /* HTTP status of the last attempt, 0 for none/transport */
    const char *error;        /* why the attempt failed or the message was given up */
    int attempts;
    int64_t retry_in_ms;      /* WAITING: delay until the next attempt */
} kr_outbox_report_t;

typedef struct kr_outbox_effects {
    /* Appends a record (borrowed). When `durable` is 1 the caller must later call
     * kr_outbox_durable(ob, msg, rc) (possibly from inside this call). Returns 0 or an
     * error (the message is then not accepted). */
    int (*journal)(const json_t *record, int durable, const char *msg, void *arg);
    /* Starts one delivery attempt; its outcome comes back through kr_outbox_result. Returns
     * 0; KR_ENOTFOUND or KR_EINVAL fail the message for good (receiver gone, bad body); any
     * other error counts as a failed attempt and is retried. */
    int (*send)(const char *msg, const char *receiver, const json_t *body, int attempt, void *arg);
    /* When kr_outbox_on_timer must run next (-1: no timer needed). */
    void (*schedule)(int64_t at_ms, void *arg);
    void (*report)(const kr_outbox_report_t *r, void *arg);
    void *arg;
} kr_outbox_effects_t;

typedef struct kr_outbox_limits {
    int64_t max_age_ms;       /* give up on a message this long after it was created */
    int64_t retry_min_ms;     /* first backoff step, and the least wait after Retry-After */
    int64_t retry_max_ms;     /* backoff cap */
    uint64_t seed;            /* jitter PRNG seed (tests fix it) */
} kr_outbox_limits_t;

/* A new, empty outbox. fx and limits are copied. NULL on allocation failure. */
kr_outbox_t *kr_outbox_new(const kr_outbox_effects_t *fx, const kr_outbox_limits_t *limits);
/* Frees every message; nothing is journaled or reported. Attempts in flight must not be
 * reported afterwards. */
void kr_outbox_free(kr_outbox_t *ob);

/* Queues a message for `receiver` (body borrowed, copied). incident, run may be NULL;
 * page is "trigger", "followup" or "resolve". Journals outbox.add; the message is sent once
 * that record is durable and every older message of the receiver is done. Writes its id
 * into id (at least 24 bytes) when id is non-NULL. Returns 0, KR_EINVAL, KR_ENOMEM, or the
 * journal's error. */
int kr_outbox_add(kr_outbox_t *ob, const char *receiver, const char *incident, const char *run,
                  const char *page, const json_t *body, int64_t now_ms, char *id, size_t idlen);
/* The outbox.add record of `msg` is durable (rc 0) or could not be made so (rc < 0: the
 * message is dropped and reported failed, since a restart would not know it). */
void kr_outbox_durable(kr_outbox_t *ob, const char *msg, int rc, int64_t now_ms);
/* Outcome of the attempt started by send: status (0 for transport errors, timeouts),
 * retry_after_s (-1 when absent), error text (may be NULL). Unknown msg ids are ignored. */
void kr_outbox_result(kr_outbox_t *ob, const char *msg, long status, long retry_after_s,
                      const char *error, int64_t now_ms);
/* Runs due retries. */
void kr_outbox_on_timer(kr_outbox_t *ob, int64_t now_ms);

/* Restores from one journal record (outbox.*; others are ignored and return 0). No
 * effects. Returns 0 or KR_EINVAL for a malformed outbox record. */
int kr_outbox_replay(kr_outbox_t *ob, const json_t *record);
/* After replay: starts the head message of every receiver (in order). */
void kr_outbox_resume(kr_outbox_t *ob, int64_t now_ms);

/* Calls add(record) with an outbox.add record (the original id, created time and body) for
 * every unfinished message, oldest first per receiver: a journal snapshot's part of the
 * outbox. Stops at add's first non-zero result and returns it. */
int kr_outbox_snapshot(const kr_outbox_t *ob, int (*add)(json_t *record, void *arg), void *arg);

/* The backoff wait before attempt number `failures`+1, given `failures` >= 1 failed
 * attempts and a jitter draw r in [0, 1]: d = min(max, min * 2^(failures-1)), wait =
 * d/2 + r*d/2. Pure. */
int64_t kr_outbox_backoff_ms(const kr_outbox_limits_t *limits, int failures, double r);

/* Messages not yet sent or failed: all receivers (receiver NULL) or one. */
size_t kr_outbox_depth(const kr_outbox_t *ob, const char *receiver);
/* created time (ms) of the oldest unfinished message, or -1 when none. */
int64_t kr_outbox_oldest(const kr_outbox_t *ob, const char *receiver);
/* Unfinished messages of a page run (to know when the run is done). */
size_t kr_outbox_run_pending(const kr_outbox_t *ob, const char *run);
/* State, receiver, run of a message; -1 / NULL when unknown (finished messages are
 * forgotten). */
int kr_outbox_state(const kr_outbox_t *ob, const char *msg);
const char *kr_outbox_msg_run(const kr_outbox_t *ob, const char *msg);
const char *kr_outbox_state_name(kr_outbox_state_t s);
/* Receiver names that have (or had) messages, in first-use order; for gauges. */
size_t kr_outbox_receivers(const kr_outbox_t *ob, const char **names, size_t max);

#endif
