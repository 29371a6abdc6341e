/* actions/outbox.c: the page outbox state machine (kr/outbox.h): per-receiver FIFOs of
 * messages, head-of-line delivery, retry with backoff and jitter, Retry-After, max age,
 * journal records and their replay. No I/O: effects go through kr_outbox_effects_t. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/log.h"
#include "kr/outbox.h"
#include "kr/units.h"

typedef struct msg msg_t;
struct msg {
    char id[24];
    uint64_t num;               /* order of creation */
    char *receiver, *incident, *run, *page;
    json_t *body;
    int64_t created_ms;
    int64_t next_ms;            /* WAITING: when to try again */
    int attempts;
    long last_status;
    char last_error[320];
    kr_outbox_state_t state;
    msg_t *next;                /* in its receiver's queue */
};

typedef struct {
    char *name;
    msg_t *head, *tail;         /* oldest first */
} queue_t;

struct kr_outbox {
    kr_outbox_effects_t fx;
    kr_outbox_limits_t lim;
    uint64_t rng;
    uint64_t next_num;
    queue_t **q;                /* stable pointers: callbacks may add receivers */
    size_t nq, capq;
    int64_t scheduled_ms;       /* what we last asked for (-1 none) */
};

static const char *const state_names[KR_OUTBOX_NSTATES] = {
    "unsaved", "queued", "sending", "waiting", "sent", "failed",
};

const char *kr_outbox_state_name(kr_outbox_state_t s)
{
    return (unsigned)s < KR_OUTBOX_NSTATES ? state_names[s] : "unknown";
}

static void pump(kr_outbox_t *ob, queue_t *q, int64_t now_ms);
static void reschedule(kr_outbox_t *ob);

/* ---- small helpers ---- */

static double draw(kr_outbox_t *ob)
{
    /* xorshift64*: deterministic for a seed, good enough for jitter */
    uint64_t x = ob->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ob->rng = x;
    return (double)((x * 2685821657736338717ULL) >> 11) / (double)(1ULL << 53);
}

int64_t kr_outbox_backoff_ms(const kr_outbox_limits_t *lim, int failures, double r)
{
    int64_t d = lim->retry_min_ms > 0 ? lim->retry_min_ms : 1;
    for (int i = 1; i < failures && d < lim->retry_max_ms; i++)
        d *= 2;
    if (lim->retry_max_ms > 0 && d > lim->retry_max_ms)
        d = lim->retry_max_ms;
    if (r < 0)
        r = 0;
    if (r > 1)
        r = 1;
    return d / 2 + (int64_t)(r * (double)(d - d / 2));
}

static queue_t *queue_get(kr_outbox_t *ob, const char *receiver, int create)
{
    for (size_t i = 0; i < ob->nq; i++)
        if (strcmp(ob->q[i]->name, receiver) == 0)
            return ob->q[i];
    if (!create)
        return NULL;
    if (ob->nq == ob->capq) {
        size_t cap = ob->capq ? ob->capq * 2 : 4;
        queue_t **nq = realloc(ob->q, cap * sizeof *nq);
        if (!nq)
            return NULL;
        ob->q = nq;
        ob->capq = cap;
    }
    queue_t *q = calloc(1, sizeof *q);
    if (!q || !(q->name = strdup(receiver))) {
        free(q);
        return NULL;
    }
    ob->q[ob->nq++] = q;
    return q;
}

static msg_t *find(const kr_outbox_t *ob, const char *id, queue_t **qout)
{
    for (size_t i = 0; i < ob->nq; i++)
        for (msg_t *m = ob->q[i]->head; m; m = m->next)
            if (strcmp(m->id, id) == 0) {
                if (qout)
                    *qout = ob->q[i];
                return m;
            }
    return NULL;
}

static void msg_free(msg_t *m)
{
    if (!m)
        return;
    free(m->receiver);
    free(m->incident);
    free(m->run);
    free(m->page);
    json_decref(m->body);
    free(m);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static msg_t *msg_new(const char *receiver, const char *incident, const char *run, const char *page,
                      const json_t *body, int64_t created_ms)
{
    msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->receiver = strdup(receiver);
    m->incident = dup_or_null(incident);
    m->run = dup_or_null(run);
    m->page = strdup(page ? page : "trigger");
    m->body = json_deep_copy(body);
    m->created_ms = created_ms;
    if (!m->receiver || (incident && !m->incident) || (run && !m->run) || !m->page || !m->body) {
        msg_free(m);
        return NULL;
    }
    return m;
}

static void set_state(msg_t *m, kr_outbox_state_t to)
{
    static const unsigned char allowed[KR_OUTBOX_NSTATES] = {
        /* from UNSAVED */ 1u << KR_OUTBOX_QUEUED | 1u << KR_OUTBOX_FAILED,
        /* from QUEUED  */ 1u << KR_OUTBOX_SENDING | 1u << KR_OUTBOX_FAILED,
        /* from SENDING */ 1u << KR_OUTBOX_SENT | 1u << KR_OUTBOX_FAILED | 1u << KR_OUTBOX_WAITING,
        /* from WAITING */ 1u << KR_OUTBOX_SENDING | 1u << KR_OUTBOX_FAILED,
        /* SENT, FAILED are final */ 0, 0,
    };
    if (!(allowed[m->state] & (1u << to))) {
        KR_WARN("outbox", "msg=\"refused transition\" id=%s from=%s to=%s", m->id,
                state_names[m->state], state_names[to]);
        return;
    }
    KR_DEBUG("outbox", "msg=\"state\" id=%s receiver=%s from=%s to=%s", m->id, m->receiver,
             state_names[m->state], state_names[to]);
    m->state = to;
}

static void unlink_msg(queue_t *q, msg_t *m)
{
    msg_t **pp = &q->head, *prev = NULL;
    while (*pp && *pp != m) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = m->next;
    if (q->tail == m)
        q->tail = prev;
    m->next = NULL;
}

static void report(kr_outbox_t *ob, const msg_t *m, int64_t retry_in_ms)
{
    if (!ob->fx.report)
        return;
    kr_outbox_report_t r = {
        .msg = m->id, .receiver = m->receiver, .incident = m->incident, .run = m->run,
        .page = m->page, .state = m->state, .status = m->last_status,
        .error = m->last_error[0] ? m->last_error : NULL, .attempts = m->attempts,
        .retry_in_ms = retry_in_ms,
    };
    ob->fx.report(&r, ob->fx.arg);
}

static void journal_final(kr_outbox_t *ob, const msg_t *m)
{
    json_t *rec;
    if (m->state == KR_OUTBOX_SENT)
        rec = json_pack("{s:s, s:s, s:s, s:I, s:i}", "kind", "outbox.sent", "msg", m->id, "receiver",
                        m->receiver, "status", (json_int_t)m->last_status, "attempts", m->attempts);
    else
        rec = json_pack("{s:s, s:s, s:s, s:I, s:s, s:i}", "kind", "outbox.failed", "msg", m->id,
                        "receiver", m->receiver, "status", (json_int_t)m->last_status, "reason",
                        m->last_error, "attempts", m->attempts);
    if (rec && ob->fx.journal)
        ob->fx.journal(rec, 0, m->id, ob->fx.arg);
    json_decref(rec);
}

/* A message reached SENT or FAILED: journal, report, forget, and let the next one go. */
static void finish(kr_outbox_t *ob, queue_t *q, msg_t *m, kr_outbox_state_t to, int journal,
                   int64_t now_ms)
{
    set_state(m, to);
    if (journal)
        journal_final(ob, m);
    if (to == KR_OUTBOX_FAILED)
        KR_WARN("outbox", "msg=\"page given up\" id=%s receiver=%s incident=%s page=%s status=%ld "
                "attempts=%d error=\"%s\"", m->id, m->receiver, m->incident ? m->incident : "-",
                m->page, m->last_status, m->attempts, m->last_error);
    else
        KR_INFO("outbox", "msg=\"page delivered\" id=%s receiver=%s incident=%s page=%s status=%ld "
                "attempts=%d", m->id, m->receiver, m->incident ? m->incident : "-", m->page,
                m->last_status, m->attempts);
    unlink_msg(q, m);
    report(ob, m, 0);
    msg_free(m);
    pump(ob, q, now_ms);
}

static int64_t deadline(const kr_outbox_t *ob, const msg_t *m)
{
    return m->created_ms + ob->lim.max_age_ms;
}

static void attempt_expired(kr_outbox_t *ob, queue_t *q, msg_t *m, int64_t now_ms)
{
    char age[32], last[320];
    kr_duration_format(ob->lim.max_age_ms, age, sizeof age);
    snprintf(last, sizeof last, "%s", m->last_error);
    if (m->attempts == 0)
        snprintf(m->last_error, sizeof m->last_error,
                 "not sent within outbox.max_age (%s): older messages of the receiver were still being retried", age);
    else
        snprintf(m->last_error, sizeof m->last_error,
                 "not delivered within outbox.max_age (%s) after %d attempts; last: %.120s", age, m->attempts, last);
    finish(ob, q, m, KR_OUTBOX_FAILED, 1, now_ms);
}

static void attempt(kr_outbox_t *ob, queue_t *q, msg_t *m, int64_t now_ms)
{
    if (now_ms >= deadline(ob, m)) {
        attempt_expired(ob, q, m, now_ms);
        return;
    }
    set_state(m, KR_OUTBOX_SENDING);
    m->attempts++;
    int rc = ob->fx.send ? ob->fx.send(m->id, m->receiver, m->body, m->attempts, ob->fx.arg) : KR_EIO;
    if (rc == KR_OK)
        return;
    if (rc == KR_ENOTFOUND || rc == KR_EINVAL) {
        snprintf(m->last_error, sizeof m->last_error, "%s",
                 rc == KR_ENOTFOUND ? "receiver is not configured (any more)" : "the message cannot be sent (invalid request)");
        m->last_status = 0;
        finish(ob, q, m, KR_OUTBOX_FAILED, 1, now_ms);
        return;
    }
    kr_outbox_result(ob, m->id, 0, -1, "the request could not be started", now_ms);
}

/* Starts the head of a queue if it may go now. */
static void pump(kr_outbox_t *ob, queue_t *q, int64_t now_ms)
{
    msg_t *m = q->head;
    if (!m)
        return;
    if (m->state == KR_OUTBOX_QUEUED || (m->state == KR_OUTBOX_WAITING && m->next_ms <= now_ms))
        attempt(ob, q, m, now_ms);
}

static void reschedule(kr_outbox_t *ob)
{
    int64_t at = -1;
    for (size_t i = 0; i < ob->nq; i++) {
        msg_t *m = ob->q[i]->head;
        if (m && m->state == KR_OUTBOX_WAITING && (at < 0 || m->next_ms < at))
            at = m->next_ms;
    }
    ob->scheduled_ms = at;
    if (ob->fx.schedule)
        ob->fx.schedule(at, ob->fx.arg);
}

/* ---- public ---- */

kr_outbox_t *kr_outbox_new(const kr_outbox_effects_t *fx, const kr_outbox_limits_t *limits)
{
    kr_outbox_t *ob = calloc(1, sizeof *ob);
    if (!ob)
        return NULL;
    if (fx)
        ob->fx = *fx;
    ob->lim = *limits;
    if (ob->lim.max_age_ms <= 0)
        ob->lim.max_age_ms = 86400000;
    if (ob->lim.retry_min_ms <= 0)
        ob->lim.retry_min_ms = 1000;
    if (ob->lim.retry_max_ms < ob->lim.retry_min_ms)
        ob->lim.retry_max_ms = ob->lim.retry_min_ms;
    ob->rng = limits->seed ? limits->seed : 0x9e3779b97f4a7c15ULL;
    ob->next_num = 1;
    ob->scheduled_ms = -1;
    return ob;
}

void kr_outbox_free(kr_outbox_t *ob)
{
    if (!ob)
        return;
    for (size_t i = 0; i < ob->nq; i++) {
        msg_t *m = ob->q[i]->head;
        while (m) {
            msg_t *n = m->next;
            msg_free(m);
            m = n;
        }
        free(ob->q[i]->name);
        free(ob->q[i]);
    }
    free(ob->q);
    free(ob);
}

int kr_outbox_add(kr_outbox_t *ob, const char *receiver, const char *incident, const char *run,
                  const char *page, const json_t *body, int64_t now_ms, char *id, size_t idlen)
{
    queue_t *q;
    msg_t *m;
    json_t *rec = NULL;
    int rc;

    if (!receiver || !*receiver || !json_is_object(body) || !page)
        return KR_EINVAL;
    if (!(q = queue_get(ob, receiver, 1)) ||
        !(m = msg_new(receiver, incident, run, page, body, now_ms)))
        return KR_ENOMEM;
    m->num = ob->next_num++;
    snprintf(m->id, sizeof m->id, "ob-%" PRIu64, m->num);
    rec = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:I, s:O}", "kind", "outbox.add", "msg", m->id,
                    "receiver", receiver, "incident", incident, "run", run, "page", page, "created",
                    (json_int_t)now_ms, "body", m->body);
    if (!rec) {
        msg_free(m);
        return KR_ENOMEM;
    }
    /* In the queue before journaling: the durable callback may run inside journal(). */
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    if (id && idlen)
        snprintf(id, idlen, "%s", m->id);
    rc = ob->fx.journal ? ob->fx.journal(rec, 1, m->id, ob->fx.arg) : KR_OK;
    json_decref(rec);
    if (rc != KR_OK) {
        unlink_msg(q, m);
        msg_free(m);
        return rc;
    }
    if (!ob->fx.journal)
        kr_outbox_durable(ob, m->id, KR_OK, now_ms);
    return KR_OK;
}

void kr_outbox_durable(kr_outbox_t *ob, const char *id, int rc, int64_t now_ms)
{
    queue_t *q = NULL;
    msg_t *m = find(ob, id, &q);
    if (!m || m->state != KR_OUTBOX_UNSAVED)
        return;
    if (rc != KR_OK) {
        snprintf(m->last_error, sizeof m->last_error, "the journal could not persist the message: %s",
                 kr_strerror(rc));
        finish(ob, q, m, KR_OUTBOX_FAILED, 0, now_ms);
    } else {
        set_state(m, KR_OUTBOX_QUEUED);
        pump(ob, q, now_ms);
    }
    reschedule(ob);
}

void kr_outbox_result(kr_outbox_t *ob, const char *id, long status, long retry_after_s,
                      const char *error, int64_t now_ms)
{
    queue_t *q = NULL;
    msg_t *m = find(ob, id, &q);
    int64_t wait, dl;

    if (!m || m->state != KR_OUTBOX_SENDING)
        return;
    m->last_status = status;
    if (status >= 200 && status < 300) {
        m->last_error[0] = 0;
        finish(ob, q, m, KR_OUTBOX_SENT, 1, now_ms);
        reschedule(ob);
        return;
    }
    if (status > 0)
        snprintf(m->last_error, sizeof m->last_error, "HTTP %ld%s%.160s", status, error && *error ? ": " : "",
                 error ? error : "");
    else
        snprintf(m->last_error, sizeof m->last_error, "%.190s", error && *error ? error : "connection failed");
    if (status > 0 && status != 429 && status < 500) {
        /* The receiver refused this message (bad URL, revoked key, invalid payload):
         * retrying cannot help, and the next message must not wait behind it. */
        finish(ob, q, m, KR_OUTBOX_FAILED, 1, now_ms);
        reschedule(ob);
        return;
    }
    dl = deadline(ob, m);
    if (now_ms >= dl) { /* that was the last attempt */
        attempt_expired(ob, q, m, now_ms);
        reschedule(ob);
        return;
    }
    if (retry_after_s >= 0) {
        wait = (int64_t)retry_after_s * 1000;
        if (wait < ob->lim.retry_min_ms)
            wait = ob->lim.retry_min_ms;
        if (now_ms + wait > dl) {
            char age[32], last[320];
            kr_duration_format(ob->lim.max_age_ms, age, sizeof age);
            snprintf(last, sizeof last, "%s", m->last_error);
            snprintf(m->last_error, sizeof m->last_error,
                     "Retry-After %lds reaches beyond outbox.max_age (%s) after %d attempts; last: %.100s",
                     retry_after_s, age, m->attempts, last);
            finish(ob, q, m, KR_OUTBOX_FAILED, 1, now_ms);
            reschedule(ob);
            return;
        }
    } else {
        wait = kr_outbox_backoff_ms(&ob->lim, m->attempts, draw(ob));
        if (now_ms + wait > dl)
            wait = dl > now_ms ? dl - now_ms : 0; /* one last attempt at the deadline */
    }
    set_state(m, KR_OUTBOX_WAITING);
    m->next_ms = now_ms + wait;
    KR_INFO("outbox", "msg=\"page attempt failed; retrying\" id=%s receiver=%s status=%ld attempts=%d "
            "retry_in_ms=%lld error=\"%s\"", m->id, m->receiver, status, m->attempts, (long long)wait,
            m->last_error);
    report(ob, m, wait);
    if (wait == 0)
        pump(ob, q, now_ms);
    reschedule(ob);
}

void kr_outbox_on_timer(kr_outbox_t *ob, int64_t now_ms)
{
    for (size_t i = 0; i < ob->nq; i++)
        pump(ob, ob->q[i], now_ms);
    reschedule(ob);
}

int kr_outbox_replay(kr_outbox_t *ob, const json_t *rec)
{
    const char *kind = json_string_value(json_object_get(rec, "kind"));
    const char *id = json_string_value(json_object_get(rec, "msg"));
    queue_t *q = NULL;
    msg_t *m;

    if (!kind || strncmp(kind, "outbox.", 7) != 0)
        return KR_OK;
    if (!id || strncmp(id, "ob-", 3) != 0)
        return KR_EINVAL;
    if (strcmp(kind, "outbox.add") == 0) {
        const char *receiver = json_string_value(json_object_get(rec, "receiver"));
        const json_t *body = json_object_get(rec, "body");
        json_t *created = json_object_get(rec, "created");
        uint64_t num = strtoull(id + 3, NULL, 10);
        if (!receiver || !json_is_object(body) || !json_is_integer(created) || num == 0)
            return KR_EINVAL;
        if (find(ob, id, NULL))
            return KR_OK; /* a duplicate record changes nothing */
        if (!(q = queue_get(ob, receiver, 1)) ||
            !(m = msg_new(receiver, json_string_value(json_object_get(rec, "incident")),
                          json_string_value(json_object_get(rec, "run")),
                          json_string_value(json_object_get(rec, "page")), body,
                          json_integer_value(created))))
            return KR_ENOMEM;
        m->num = num;
        snprintf(m->id, sizeof m->id, "%s", id);
        m->state = KR_OUTBOX_QUEUED; /* it is in the journal, so it is durable */
        if (num >= ob->next_num)
            ob->next_num = num + 1;
        /* keep creation order within the receiver */
        msg_t **pp = &q->head;
        while (*pp && (*pp)->num < num)
            pp = &(*pp)->next;
        m->next = *pp;
        *pp = m;
        if (!m->next)
            q->tail = m;
        return KR_OK;
    }
    if (strcmp(kind, "outbox.sent") == 0 || strcmp(kind, "outbox.failed") == 0) {
        uint64_t num = strtoull(id + 3, NULL, 10);
        if (num >= ob->next_num)
            ob->next_num = num + 1;
        if ((m = find(ob, id, &q))) {
            unlink_msg(q, m);
            msg_free(m);
        }
        return KR_OK;
    }
    return KR_OK; /* a later version's record: ignored */
}

void kr_outbox_resume(kr_outbox_t *ob, int64_t now_ms)
{
    for (size_t i = 0; i < ob->nq; i++) {
        msg_t *m = ob->q[i]->head;
        if (m && m->state == KR_OUTBOX_QUEUED)
            KR_INFO("outbox", "msg=\"resuming delivery\" receiver=%s pending=%zu", ob->q[i]->name,
                    kr_outbox_depth(ob, ob->q[i]->name));
        pump(ob, ob->q[i], now_ms);
    }
    reschedule(ob);
}

int kr_outbox_snapshot(const kr_outbox_t *ob, int (*add)(json_t *record, void *arg), void *arg)
{
    int rc = KR_OK;
    for (size_t i = 0; i < ob->nq && rc == KR_OK; i++)
        for (const msg_t *m = ob->q[i]->head; m && rc == KR_OK; m = m->next) {
            json_t *rec = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:I, s:O}", "kind", "outbox.add", "msg", m->id,
                                    "receiver", m->receiver, "incident", m->incident, "run", m->run, "page",
                                    m->page, "created", (json_int_t)m->created_ms, "body", m->body);
            rc = rec ? add(rec, arg) : KR_ENOMEM;
            json_decref(rec);
        }
    return rc;
}

size_t kr_outbox_depth(const kr_outbox_t *ob, const char *receiver)
{
    size_t n = 0;
    for (size_t i = 0; i < ob->nq; i++)
        if (!receiver || strcmp(receiver, ob->q[i]->name) == 0)
            for (const msg_t *m = ob->q[i]->head; m; m = m->next)
                n++;
    return n;
}

int64_t kr_outbox_oldest(const kr_outbox_t *ob, const char *receiver)
{
    int64_t oldest = -1;
    for (size_t i = 0; i < ob->nq; i++)
        if (!receiver || strcmp(receiver, ob->q[i]->name) == 0)
            for (const msg_t *m = ob->q[i]->head; m; m = m->next)
                if (oldest < 0 || m->created_ms < oldest)
                    oldest = m->created_ms;
    return oldest;
}

size_t kr_outbox_run_pending(const kr_outbox_t *ob, const char *run)
{
    size_t n = 0;
    for (size_t i = 0; i < ob->nq; i++)
        for (const msg_t *m = ob->q[i]->head; m; m = m->next)
            if (m->run && strcmp(m->run, run) == 0)
                n++;
    return n;
}

int kr_outbox_state(const kr_outbox_t *ob, const char *id)
{
    const msg_t *m = find(ob, id, NULL);
    return m ? (int)m->state : -1;
}

const char *kr_outbox_msg_run(const kr_outbox_t *ob, const char *id)
{
    const msg_t *m = find(ob, id, NULL);
    return m ? m->run : NULL;
}

size_t kr_outbox_receivers(const kr_outbox_t *ob, const char **names, size_t max)
{
    size_t i;
    for (i = 0; i < ob->nq && i < max; i++)
        names[i] = ob->q[i]->name;
    return i;
}
