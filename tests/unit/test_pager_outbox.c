/* tests/unit/test_pager_outbox.c: the outbox state machine with a fake clock and fake
 * effects: durable-before-send, backoff schedule with jitter bounds, Retry-After,
 * per-receiver ordering (head of line, receivers independent), 4xx, max age, replay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/outbox.h"
#include "kr_test.h"

typedef struct {
    json_t *records;        /* journaled records, in order */
    int defer_durable;      /* 1: the test calls kr_outbox_durable itself */
    json_t *sends;          /* [{msg, receiver, attempt}] */
    int send_rc;
    int64_t scheduled;      /* last schedule() value */
    json_t *reports;        /* [{msg, state, status, attempts, retry_in_ms}] */
    kr_outbox_t *ob;
} fake_t;

static int fake_journal(const json_t *rec, int durable, const char *msg, void *arg)
{
    fake_t *f = arg;
    json_array_append_new(f->records, json_deep_copy(rec));
    if (durable && !f->defer_durable)
        kr_outbox_durable(f->ob, msg, KR_OK, 0);
    return KR_OK;
}

static int fake_send(const char *msg, const char *receiver, const json_t *body, int attempt, void *arg)
{
    fake_t *f = arg;
    (void)body;
    json_array_append_new(f->sends, json_pack("{s:s, s:s, s:i}", "msg", msg, "receiver", receiver, "attempt", attempt));
    return f->send_rc;
}

static void fake_schedule(int64_t at, void *arg)
{
    ((fake_t *)arg)->scheduled = at;
}

static void fake_report(const kr_outbox_report_t *r, void *arg)
{
    fake_t *f = arg;
    json_array_append_new(f->reports, json_pack("{s:s, s:s, s:I, s:i, s:I, s:s?}", "msg", r->msg, "state",
                                                kr_outbox_state_name(r->state), "status", (json_int_t)r->status,
                                                "attempts", r->attempts, "retry_in_ms", (json_int_t)r->retry_in_ms,
                                                "error", r->error));
}

static kr_outbox_t *setup(fake_t *f, int64_t max_age, int64_t rmin, int64_t rmax)
{
    memset(f, 0, sizeof *f);
    f->records = json_array();
    f->sends = json_array();
    f->reports = json_array();
    f->scheduled = -1;
    kr_outbox_effects_t fx = { fake_journal, fake_send, fake_schedule, fake_report, f };
    kr_outbox_limits_t lim = { .max_age_ms = max_age, .retry_min_ms = rmin, .retry_max_ms = rmax, .seed = 42 };
    f->ob = kr_outbox_new(&fx, &lim);
    return f->ob;
}

static void teardown(fake_t *f)
{
    kr_outbox_free(f->ob);
    json_decref(f->records);
    json_decref(f->sends);
    json_decref(f->reports);
}

static json_t *body(int n)
{
    return json_pack("{s:i}", "n", n);
}

static const char *sent_msg(fake_t *f, size_t i)
{
    return json_string_value(json_object_get(json_array_get(f->sends, i), "msg"));
}

static const char *last_kind(fake_t *f)
{
    return json_string_value(json_object_get(json_array_get(f->records, json_array_size(f->records) - 1), "kind"));
}

static int add(fake_t *f, const char *rcv, int n, int64_t now, char *id)
{
    json_t *b = body(n);
    int rc = kr_outbox_add(f->ob, rcv, "inc-1", n == 1 ? "inc-1/0" : NULL, "trigger", b, now, id, 24);
    json_decref(b);
    return rc;
}

KR_TEST(backoff_schedule)
{
    kr_outbox_limits_t lim = { .max_age_ms = 86400000, .retry_min_ms = 1000, .retry_max_ms = 60000 };
    /* d = min(max, min * 2^(n-1)); the wait is in [d/2, d] */
    CHECK_INT(kr_outbox_backoff_ms(&lim, 1, 0.0), 500);
    CHECK_INT(kr_outbox_backoff_ms(&lim, 1, 1.0), 1000);
    CHECK_INT(kr_outbox_backoff_ms(&lim, 2, 0.0), 1000);
    CHECK_INT(kr_outbox_backoff_ms(&lim, 2, 1.0), 2000);
    CHECK_INT(kr_outbox_backoff_ms(&lim, 5, 1.0), 16000);
    CHECK_INT(kr_outbox_backoff_ms(&lim, 7, 0.0), 30000);  /* 64 s capped at 60 s */
    CHECK_INT(kr_outbox_backoff_ms(&lim, 7, 1.0), 60000);
    CHECK_INT(kr_outbox_backoff_ms(&lim, 60, 1.0), 60000); /* no overflow */
    CHECK_INT(kr_outbox_backoff_ms(&lim, 3, 0.5), 3000);
}

KR_TEST(retry_500_then_200_with_jittered_backoff)
{
    fake_t f;
    char id[24];
    setup(&f, 86400000, 1000, 60000);
    CHECK_INT(add(&f, "slack", 1, 0, id), 0);
    CHECK_STR(id, "ob-1");
    CHECK_STR(json_string_value(json_object_get(json_array_get(f.records, 0), "kind")), "outbox.add");
    CHECK_INT(json_array_size(f.sends), 1); /* durable at once in this fake → sent */
    int64_t now = 100;
    int64_t prev_wait = 0;
    for (int attempt = 1; attempt <= 4; attempt++) {
        kr_outbox_result(f.ob, "ob-1", 500, -1, "oops", now);
        CHECK_INT(kr_outbox_state(f.ob, "ob-1"), KR_OUTBOX_WAITING);
        int64_t wait = f.scheduled - now, d = 1000LL << (attempt - 1);
        CHECKF(wait >= d / 2 && wait <= d, "attempt %d waits %lld, outside [%lld, %lld]", attempt, (long long)wait,
               (long long)d / 2, (long long)d);
        CHECK(wait != prev_wait); /* jitter draws differ */
        prev_wait = wait;
        kr_outbox_on_timer(f.ob, f.scheduled - 1);
        CHECK_INT(json_array_size(f.sends), (size_t)attempt); /* not before its time */
        now = f.scheduled;
        kr_outbox_on_timer(f.ob, now);
        CHECK_INT(json_array_size(f.sends), (size_t)attempt + 1);
    }
    kr_outbox_result(f.ob, "ob-1", 200, -1, NULL, now + 5);
    CHECK_STR(last_kind(&f), "outbox.sent");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(f.records, 1), "attempts")), 5);
    CHECK_INT(kr_outbox_depth(f.ob, NULL), 0);
    CHECK_INT(kr_outbox_state(f.ob, "ob-1"), -1);
    /* reports: 4 retries then sent */
    CHECK_INT(json_array_size(f.reports), 5);
    CHECK_STR(json_string_value(json_object_get(json_array_get(f.reports, 4), "state")), "sent");
    CHECK_STR(json_string_value(json_object_get(json_array_get(f.reports, 0), "error")), "HTTP 500: oops");
    /* a late duplicate result changes nothing */
    kr_outbox_result(f.ob, "ob-1", 500, -1, NULL, now + 6);
    CHECK_INT(json_array_size(f.reports), 5);
    teardown(&f);
}

KR_TEST(retry_after_is_honoured)
{
    fake_t f;
    char id[24];
    setup(&f, 86400000, 1000, 4000);
    add(&f, "pd", 1, 0, id);
    kr_outbox_result(f.ob, id, 429, 7, "rate limited", 1000);
    CHECK_INT(f.scheduled, 8000); /* exactly Retry-After, not the 4 s backoff cap */
    kr_outbox_on_timer(f.ob, 7999);
    CHECK_INT(json_array_size(f.sends), 1);
    kr_outbox_on_timer(f.ob, 8000);
    CHECK_INT(json_array_size(f.sends), 2);
    /* Retry-After: 0 still waits retry_min (no hot loop) */
    kr_outbox_result(f.ob, id, 503, 0, NULL, 9000);
    CHECK_INT(f.scheduled, 10000);
    /* a Retry-After beyond the max age gives up at once, saying why */
    kr_outbox_on_timer(f.ob, 10000);
    kr_outbox_result(f.ob, id, 429, 200000, NULL, 11000);
    CHECK_STR(last_kind(&f), "outbox.failed");
    CHECK(strstr(json_string_value(json_object_get(json_array_get(f.records, json_array_size(f.records) - 1), "reason")),
                 "Retry-After") != NULL);
    teardown(&f);
}

KR_TEST(receivers_are_independent_and_ordered)
{
    fake_t f;
    char a1[24], a2[24], b1[24];
    setup(&f, 86400000, 1000, 60000);
    add(&f, "slack", 1, 0, a1);
    add(&f, "slack", 2, 0, a2);
    add(&f, "pd", 3, 0, b1);
    /* a1 and b1 go; a2 waits behind a1 */
    CHECK_INT(json_array_size(f.sends), 2);
    CHECK_STR(sent_msg(&f, 0), a1);
    CHECK_STR(sent_msg(&f, 1), b1);
    kr_outbox_result(f.ob, a1, 0, -1, "connection refused", 10);
    kr_outbox_result(f.ob, b1, 202, -1, NULL, 10); /* pd is not held up by slack */
    CHECK_INT(kr_outbox_depth(f.ob, "pd"), 0);
    CHECK_INT(kr_outbox_depth(f.ob, "slack"), 2);
    CHECK_INT(json_array_size(f.sends), 2);
    kr_outbox_on_timer(f.ob, f.scheduled);
    CHECK_STR(sent_msg(&f, 2), a1); /* the retry of a1, still before a2 */
    kr_outbox_result(f.ob, a1, 200, -1, NULL, f.scheduled + 1);
    CHECK_STR(sent_msg(&f, 3), a2); /* at once */
    CHECK_INT(kr_outbox_oldest(f.ob, "slack"), 0);
    teardown(&f);
}

KR_TEST(client_errors_fail_at_once)
{
    fake_t f;
    char a1[24], a2[24];
    setup(&f, 86400000, 1000, 60000);
    add(&f, "slack", 1, 0, a1);
    add(&f, "slack", 2, 0, a2);
    kr_outbox_result(f.ob, a1, 404, -1, "no_team", 5);
    json_t *failed = NULL, *r;
    size_t i;
    json_array_foreach(f.records, i, r)
        if (strcmp(json_string_value(json_object_get(r, "kind")), "outbox.failed") == 0)
            failed = r;
    CHECK(failed != NULL);
    CHECK_STR(json_string_value(json_object_get(failed, "reason")), "HTTP 404: no_team");
    CHECK_INT(json_integer_value(json_object_get(failed, "attempts")), 1);
    CHECK_INT(json_array_size(f.sends), 2); /* a2 went right after */
    CHECK_STR(sent_msg(&f, 1), a2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(f.reports, 0), "state")), "failed");
    teardown(&f);
}

KR_TEST(max_age)
{
    fake_t f;
    char a1[24], a2[24];
    setup(&f, 10000, 1000, 4000);
    add(&f, "hook", 1, 0, a1);
    add(&f, "hook", 2, 500, a2);
    int64_t now = 0;
    int guard = 0;
    while (kr_outbox_state(f.ob, a1) >= 0 && guard++ < 50) {
        kr_outbox_result(f.ob, a1, 503, -1, NULL, now);
        if (kr_outbox_state(f.ob, a1) < 0)
            break;
        CHECK(f.scheduled <= 10000); /* never waits past the deadline */
        now = f.scheduled;
        kr_outbox_on_timer(f.ob, now);
    }
    /* the last attempt is made at the deadline, then the message is given up */
    CHECK_INT(now, 10000);
    json_t *r0 = json_array_get(f.reports, json_array_size(f.reports) - 1);
    CHECK_STR(json_string_value(json_object_get(r0, "state")), "failed");
    CHECK(strstr(json_string_value(json_object_get(r0, "error")), "max_age") != NULL);
    /* a2 (created at 500, deadline 10500) is still within its age: it is sent */
    CHECK_STR(sent_msg(&f, json_array_size(f.sends) - 1), a2);
    kr_outbox_result(f.ob, a2, 202, -1, NULL, now);
    CHECK_INT(kr_outbox_depth(f.ob, NULL), 0);
    teardown(&f);

    /* a message whose turn comes after its deadline fails without an attempt */
    setup(&f, 10000, 1000, 60000);
    add(&f, "hook", 1, 0, a1);
    add(&f, "hook", 2, 0, a2);
    kr_outbox_result(f.ob, a1, 500, 20, NULL, 100);
    CHECK_STR(last_kind(&f), "outbox.failed"); /* Retry-After 20 s > max age */
    CHECK_INT(json_array_size(f.sends), 2); /* a2 was still young: sent */
    teardown(&f);
    setup(&f, 10000, 1000, 60000);
    add(&f, "hook", 1, 0, a1);
    add(&f, "hook", 2, 0, a2);
    kr_outbox_result(f.ob, a1, 500, -1, NULL, 9000);
    kr_outbox_on_timer(f.ob, 10000);
    kr_outbox_result(f.ob, a1, 500, -1, NULL, 10001);
    json_t *last = json_array_get(f.reports, json_array_size(f.reports) - 1);
    CHECK_STR(json_string_value(json_object_get(last, "msg")), a2);
    CHECK_INT(json_integer_value(json_object_get(last, "attempts")), 0);
    CHECK(strstr(json_string_value(json_object_get(last, "error")), "not sent within") != NULL);
    teardown(&f);
}

KR_TEST(durable_before_send)
{
    fake_t f;
    char a1[24], a2[24];
    setup(&f, 86400000, 1000, 60000);
    f.defer_durable = 1;
    add(&f, "slack", 1, 0, a1);
    add(&f, "slack", 2, 0, a2);
    CHECK_INT(json_array_size(f.sends), 0);
    CHECK_INT(kr_outbox_state(f.ob, a1), KR_OUTBOX_UNSAVED);
    kr_outbox_durable(f.ob, a2, KR_OK, 1); /* a2 durable first: still waits for a1 */
    CHECK_INT(json_array_size(f.sends), 0);
    kr_outbox_durable(f.ob, a1, KR_EIO, 2); /* a1 could not be persisted: dropped, reported */
    CHECK_INT(kr_outbox_state(f.ob, a1), -1);
    CHECK_INT(json_array_size(f.sends), 1);
    CHECK_STR(sent_msg(&f, 0), a2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(f.reports, 0), "state")), "failed");
    teardown(&f);
}

KR_TEST(send_refusals)
{
    fake_t f;
    char a1[24];
    setup(&f, 86400000, 1000, 60000);
    f.send_rc = KR_ENOTFOUND; /* receiver removed from the config */
    add(&f, "gone", 1, 0, a1);
    CHECK_STR(last_kind(&f), "outbox.failed");
    CHECK_INT(kr_outbox_depth(f.ob, NULL), 0);
    f.send_rc = KR_ENOMEM; /* transient: retried */
    add(&f, "slack", 2, 0, a1);
    CHECK_INT(kr_outbox_state(f.ob, a1), KR_OUTBOX_WAITING);
    teardown(&f);
    /* bad input */
    setup(&f, 0, 0, 0);
    json_t *notobj = json_string("x");
    CHECK_INT(kr_outbox_add(f.ob, "slack", NULL, NULL, "trigger", notobj, 0, NULL, 0), KR_EINVAL);
    CHECK_INT(kr_outbox_add(f.ob, "", NULL, NULL, "trigger", notobj, 0, NULL, 0), KR_EINVAL);
    json_decref(notobj);
    teardown(&f);
}

static int snap_add(json_t *rec, void *arg)
{
    return json_array_append(arg, rec);
}

KR_TEST(snapshot_restores_unfinished_messages)
{
    fake_t f, g;
    char a1[24], a2[24], b1[24];
    setup(&f, 86400000, 1000, 60000);
    add(&f, "slack", 1, 10, a1);
    add(&f, "slack", 2, 20, a2);
    add(&f, "pd", 3, 30, b1);
    kr_outbox_result(f.ob, a1, 200, -1, NULL, 40); /* delivered: not in the snapshot */
    json_t *snap = json_array();
    CHECK_INT(kr_outbox_snapshot(f.ob, snap_add, snap), 0);
    CHECK_INT(json_array_size(snap), 2);
    setup(&g, 86400000, 1000, 60000);
    size_t i;
    json_t *r;
    json_array_foreach(snap, i, r)
        CHECK_INT(kr_outbox_replay(g.ob, r), 0);
    CHECK_INT(kr_outbox_depth(g.ob, NULL), 2);
    CHECK_INT(kr_outbox_oldest(g.ob, "slack"), 20); /* created times survive */
    kr_outbox_resume(g.ob, 50);
    CHECK_STR(sent_msg(&g, 0), a2);
    CHECK_STR(sent_msg(&g, 1), b1);
    json_decref(snap);
    teardown(&f);
    teardown(&g);
}

KR_TEST(replay_and_resume)
{
    fake_t f, g;
    char a1[24], a2[24], a3[24], b1[24];
    setup(&f, 86400000, 1000, 60000);
    add(&f, "slack", 1, 0, a1);
    add(&f, "slack", 2, 0, a2);
    add(&f, "slack", 3, 0, a3);
    add(&f, "pd", 4, 0, b1);
    kr_outbox_result(f.ob, a1, 200, -1, NULL, 1);
    kr_outbox_result(f.ob, b1, 400, -1, "Invalid routing key", 1);
    /* "crash" here: a2 in flight, a3 queued */
    setup(&g, 86400000, 1000, 60000);
    size_t i;
    json_t *r;
    json_array_foreach(f.records, i, r)
        CHECK_INT(kr_outbox_replay(g.ob, r), 0);
    CHECK_INT(kr_outbox_depth(g.ob, NULL), 2);
    CHECK_INT(kr_outbox_run_pending(g.ob, "inc-1/0"), 0); /* a1 (the run's message) was sent */
    CHECK_INT(json_array_size(g.sends), 0);                /* replay has no effects */
    kr_outbox_resume(g.ob, 100);
    CHECK_INT(json_array_size(g.sends), 1);
    CHECK_STR(sent_msg(&g, 0), a2); /* nothing sent twice, order kept */
    kr_outbox_result(g.ob, a2, 200, -1, NULL, 101);
    CHECK_STR(sent_msg(&g, 1), a3);
    char n1[24];
    add(&g, "slack", 5, 200, n1);
    CHECK_STR(n1, "ob-5"); /* ids continue after the replayed ones */
    /* malformed and foreign records */
    json_t *bad = json_pack("{s:s, s:s}", "kind", "outbox.add", "msg", "ob-9");
    CHECK_INT(kr_outbox_replay(g.ob, bad), KR_EINVAL);
    json_decref(bad);
    bad = json_pack("{s:s}", "kind", "event");
    CHECK_INT(kr_outbox_replay(g.ob, bad), 0);
    json_decref(bad);
    teardown(&f);
    teardown(&g);
}
