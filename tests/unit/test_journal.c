/* tests/unit/test_journal.c: group commit, replay, torn tails, corruption, checksums. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "kr/err.h"
#include "kr/journal.h"
#include "kr_test.h"

static char *tmpdir(void)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "/tmp/kr-journal-XXXXXX");
    return mkdtemp(buf);
}

typedef struct {
    int done, rc_sum;
    uint64_t last_seq;
    struct event_base *base;
    int want;
} waitctx_t;

static void done_cb(int rc, uint64_t seq, void *arg)
{
    waitctx_t *w = arg;
    w->done++;
    w->rc_sum += rc;
    CHECKF(seq > w->last_seq, "callbacks run in sequence order (%llu after %llu)",
           (unsigned long long)seq, (unsigned long long)w->last_seq);
    w->last_seq = seq;
    if (w->done == w->want)
        event_base_loopexit(w->base, NULL);
}

static int count_cb(json_t *rec, void *arg)
{
    json_t *seen = arg;
    json_array_append(seen, json_object_get(rec, "n"));
    return 0;
}

KR_TEST(crc32c_known_vector)
{
    /* RFC 3720 B.4: CRC-32C of "123456789" is 0xE3069283 */
    CHECK_INT(kr_crc32c("123456789", 9), 0xE3069283u);
    CHECK_INT(kr_crc32c("", 0), 0);
}

KR_TEST(group_commit_and_replay)
{
    char err[256] = "";
    char *dir = tmpdir();
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    kr_journal_t *j = kr_journal_open(base, dir, err, sizeof err);
    CHECKF(j != NULL, "%s", err);
    if (!j)
        return;
    waitctx_t w = { .base = base, .want = 500 };
    for (int i = 0; i < 500; i++) {
        json_t *rec = json_pack("{s:s,s:i}", "kind", "test", "n", i);
        uint64_t seq = 0;
        CHECK_INT(kr_journal_append(j, rec, done_cb, &w, &seq), 0);
        CHECK_INT(seq, i + 1);
        json_decref(rec);
    }
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    CHECK_INT(w.done, 500);
    CHECK_INT(w.rc_sum, 0);
    /* group commit: far fewer fsyncs than records */
    CHECKF(kr_journal_fsyncs(j) < 500, "fsyncs=%llu", (unsigned long long)kr_journal_fsyncs(j));
    kr_journal_close(j);
    event_base_free(base);

    json_t *seen = json_array();
    uint64_t last = 0;
    int torn = -1;
    CHECK_INT(kr_journal_replay(dir, count_cb, seen, &last, &torn, err, sizeof err), 0);
    CHECK_INT(json_array_size(seen), 500);
    CHECK_INT(json_integer_value(json_array_get(seen, 499)), 499);
    CHECK_INT(last, 500);
    CHECK_INT(torn, 0);
    json_decref(seen);
}

KR_TEST(torn_tail_is_cut_and_sequence_continues)
{
    char err[256] = "", path[300];
    char *dir = tmpdir();
    struct event_base *base = event_base_new();
    kr_journal_t *j = kr_journal_open(base, dir, err, sizeof err);
    for (int i = 0; i < 3; i++) {
        json_t *rec = json_pack("{s:i}", "n", i);
        kr_journal_append(j, rec, NULL, NULL, NULL);
        json_decref(rec);
    }
    kr_journal_close(j);
    /* simulate a crash in the middle of a write */
    snprintf(path, sizeof path, "%s/journal-00000001.log", dir);
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(write(fd, "deadbeef {\"n\":", 14) == 14);
    close(fd);

    json_t *seen = json_array();
    uint64_t last = 0;
    int torn = 0;
    CHECK_INT(kr_journal_replay(dir, count_cb, seen, &last, &torn, err, sizeof err), 0);
    CHECK_INT(json_array_size(seen), 3);
    CHECK_INT(torn, 1);
    json_decref(seen);

    j = kr_journal_open(base, dir, err, sizeof err);
    CHECKF(j != NULL, "%s", err);
    uint64_t seq = 0;
    json_t *rec = json_pack("{s:i}", "n", 3);
    kr_journal_append(j, rec, NULL, NULL, &seq);
    json_decref(rec);
    CHECK_INT(seq, 4);
    kr_journal_close(j);
    seen = json_array();
    CHECK_INT(kr_journal_replay(dir, count_cb, seen, &last, &torn, err, sizeof err), 0);
    CHECK_INT(json_array_size(seen), 4);
    CHECK_INT(torn, 0);
    json_decref(seen);
    event_base_free(base);
}

KR_TEST(corruption_before_the_end_is_an_error)
{
    char err[256] = "", path[300];
    char *dir = tmpdir();
    snprintf(path, sizeof path, "%s/journal-00000001.log", dir);
    FILE *f = fopen(path, "w");
    fputs("00000000 {\"seq\":1}\n", f); /* wrong checksum */
    fputs("00000000 {\"seq\":2}\n", f);
    fclose(f);
    CHECK_INT(kr_journal_replay(dir, NULL, NULL, NULL, NULL, err, sizeof err), KR_EINVAL);
    char want[400];
    snprintf(want, sizeof want, "journal: %s:1: corrupt record (checksum or JSON)", path);
    CHECK_STR(err, want);
}

KR_TEST(unwritable_directory_fails_clearly)
{
    char err[256] = "";
    struct event_base *base = event_base_new();
    kr_journal_t *j = kr_journal_open(base, "/proc/kr-no-such/journal", err, sizeof err);
    CHECK(j == NULL);
    CHECKF(strstr(err, "journal: cannot create directory /proc/kr-no-such/journal") == err, "%s", err);
    event_base_free(base);
}

KR_TEST(segments_rotate_and_replay_in_order)
{
    char err[256] = "";
    char *dir = tmpdir();
    struct event_base *base = event_base_new();
    kr_journal_t *j = kr_journal_open(base, dir, err, sizeof err);
    CHECKF(j != NULL, "%s", err);
    if (!j)
        return;
    kr_journal_set_segment_size(j, 4096);
    waitctx_t w = { .base = base, .want = 300 };
    for (int i = 0; i < 300; i++) {
        json_t *rec = json_pack("{s:s,s:i,s:s}", "kind", "test", "n", i, "pad",
                                "................................................................");
        CHECK_INT(kr_journal_append(j, rec, done_cb, &w, NULL), 0);
        json_decref(rec);
    }
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    CHECK_INT(w.done, 300);
    CHECK_INT(w.rc_sum, 0);
    /* ~30 KB in 4 KB segments; a rotation waits while the previous one is still being synced */
    CHECKF(kr_journal_segment(j) >= 3, "segments=%u", kr_journal_segment(j));
    kr_journal_close(j);
    json_t *seen = json_array();
    uint64_t last = 0;
    int torn = 0;
    CHECK_INT(kr_journal_replay(dir, count_cb, seen, &last, &torn, err, sizeof err), 0);
    CHECK_INT(json_array_size(seen), 300);
    int in_order = 1;
    for (size_t i = 0; i < json_array_size(seen); i++)
        in_order &= json_integer_value(json_array_get(seen, i)) == (json_int_t)i;
    CHECK(in_order);
    CHECK_INT(last, 300);
    json_decref(seen);
    /* reopening continues in the last segment with the next sequence number */
    j = kr_journal_open(base, dir, err, sizeof err);
    uint64_t seq = 0;
    json_t *rec = json_pack("{s:i}", "n", 300);
    kr_journal_append(j, rec, NULL, NULL, &seq);
    json_decref(rec);
    CHECK_INT(seq, 301);
    kr_journal_close(j);
    event_base_free(base);
}

/* A pass's records are written together at the end of the pass. When that write fails
 * (here: the file size limit, EFBIG) every waiter of the batch is settled with KR_EIO,
 * nothing of the batch stays in the segment, the journal reports unhealthy, and the
 * next batch that can be written clears it. */
static int fail_rc;
static int fail_count;
static void fail_cb(int rc, uint64_t seq, void *arg)
{
    (void)seq;
    fail_rc |= rc;
    fail_count++;
    if (fail_count == 3)
        event_base_loopexit(arg, NULL);
}

/* A journal holding one durable record whose segment may grow by `room` bytes only
 * (RLIMIT_FSIZE: a write beyond fails with EFBIG); *old gets the limit to restore, *size
 * the segment's size, path its name. NULL with a failed check when it cannot be set up. */
static kr_journal_t *open_size_limited(struct event_base *base, const char *dir, off_t room, struct rlimit *old,
                                       off_t *size, char *path, size_t pathlen)
{
    char err[256] = "";
    struct stat st;
    struct rlimit lim;
    kr_journal_t *j = kr_journal_open(base, dir, err, sizeof err);
    CHECKF(j != NULL, "%s", err);
    if (!j)
        return NULL;
    json_t *rec = json_pack("{s:s,s:i}", "kind", "test", "n", 0);
    CHECK_INT(kr_journal_append(j, rec, NULL, NULL, NULL), 0);
    json_decref(rec);
    CHECK_INT(kr_journal_flush(j), 0);
    snprintf(path, pathlen, "%s/journal-00000001.log", dir);
    CHECK_INT(stat(path, &st), 0);
    *size = st.st_size;
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, old);
    lim = *old;
    lim.rlim_cur = (rlim_t)(st.st_size + room);
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    return j;
}

KR_TEST(failed_batch_write_settles_its_waiters_with_eio)
{
    char err[256] = "", path[128];
    char *dir = tmpdir();
    struct rlimit old;
    struct stat st;
    off_t size_before;
    json_t *rec;
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    /* room for part of the batch only */
    kr_journal_t *j = open_size_limited(base, dir, 100, &old, &size_before, path, sizeof path);
    if (!j)
        return;
    for (int i = 1; i <= 3; i++) {
        rec = json_pack("{s:s,s:i,s:s}", "kind", "test", "n", i, "pad",
                        "............................................................");
        CHECK_INT(kr_journal_append(j, rec, fail_cb, base, NULL), 0);
        json_decref(rec);
    }
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_INT(fail_count, 3);
    CHECK_INT(fail_rc, KR_EIO);
    CHECK_INT(kr_journal_healthy(j), 0);
    CHECKF(strstr(kr_journal_error(j), "write") != NULL, "error: %s", kr_journal_error(j));
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_size, size_before); /* the partial batch was cut off */

    /* the disk takes writes again: the next batch is written and clears the state */
    rec = json_pack("{s:s,s:i}", "kind", "test", "n", 4);
    CHECK_INT(kr_journal_append(j, rec, NULL, NULL, NULL), 0);
    json_decref(rec);
    CHECK_INT(kr_journal_flush(j), 0);
    CHECK_INT(kr_journal_healthy(j), 1);
    kr_journal_close(j);
    event_base_free(base);

    json_t *seen = json_array();
    uint64_t last = 0;
    int torn = 0;
    CHECK_INT(kr_journal_replay(dir, count_cb, seen, &last, &torn, err, sizeof err), 0);
    CHECK_INT(torn, 0);
    CHECK_INT(json_array_size(seen), 2);
    CHECK_INT(json_integer_value(json_array_get(seen, 0)), 0);
    CHECK_INT(json_integer_value(json_array_get(seen, 1)), 4);
    json_decref(seen);
}

/* Compaction no longer waits for an idle journal: with records written but still waiting
 * for their fsync (and more not even written), the snapshot goes in, the waiters settle
 * OK (the snapshot covers them), the older segments are gone and replay reads the
 * snapshot then the records appended after it. */
static int snap_fill(kr_journal_snapshot_t *snap, void *arg)
{
    int *n = arg;
    json_t *rec = json_pack("{s:s,s:i}", "kind", "test", "n", *n);
    int rc = kr_journal_snapshot_add(snap, rec);
    json_decref(rec);
    return rc;
}

static int kind_cb(json_t *rec, void *arg)
{
    json_t *seen = arg;
    const char *kind = json_string_value(json_object_get(rec, "kind"));
    char buf[64];
    snprintf(buf, sizeof buf, "%s:%lld", kind ? kind : "-", (long long)json_integer_value(json_object_get(rec, "n")));
    json_array_append_new(seen, json_string(buf));
    return 0;
}

KR_TEST(compaction_does_not_wait_for_pending_fsyncs)
{
    char err[256] = "";
    char *dir = tmpdir();
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    kr_journal_t *j = kr_journal_open(base, dir, err, sizeof err);
    CHECKF(j != NULL, "%s", err);
    if (!j)
        return;
    kr_journal_set_segment_size(j, 4096);
    waitctx_t w = { .base = base, .want = 131 };
    /* 100 records over several segments, written (flushed) but never fsync'd: the fsync
     * thread is only woken at the end of a loop pass, and the loop has not run */
    for (int i = 0; i < 100; i++) {
        json_t *rec = json_pack("{s:s,s:i,s:s}", "kind", "test", "n", i, "pad",
                                "................................................................");
        CHECK_INT(kr_journal_append(j, rec, done_cb, &w, NULL), 0);
        json_decref(rec);
    }
    CHECK_INT(kr_journal_flush(j), 0);
    /* 30 more still in the pass buffer */
    for (int i = 100; i < 130; i++) {
        json_t *rec = json_pack("{s:s,s:i}", "kind", "test", "n", i);
        CHECK_INT(kr_journal_append(j, rec, done_cb, &w, NULL), 0);
        json_decref(rec);
    }
    unsigned segs_before = kr_journal_segment_count(j);
    CHECKF(segs_before >= 3, "segments before compaction: %u", segs_before);
    CHECK_INT(w.done, 0);
    int state = 1000;
    CHECK_INT(kr_journal_compact(j, snap_fill, &state, err, sizeof err), 0);
    CHECK_INT(kr_journal_segment_count(j), 1);
    /* a record after the snapshot, with a waiter too */
    uint64_t seq = 0;
    json_t *rec = json_pack("{s:s,s:i}", "kind", "test", "n", 2000);
    CHECK_INT(kr_journal_append(j, rec, done_cb, &w, &seq), 0);
    json_decref(rec);
    CHECK_INT(seq, 134); /* 130 records, snapshot.begin, the state, snapshot.end */
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    CHECK_INT(w.done, 131);
    CHECK_INT(w.rc_sum, 0);
    CHECK_INT(kr_journal_healthy(j), 1);
    kr_journal_close(j);
    event_base_free(base);

    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/journal-00000001.log", dir);
    CHECKF(stat(path, &st) != 0, "the first segment was removed");
    json_t *seen = json_array();
    uint64_t last = 0;
    int torn = 0;
    CHECK_INT(kr_journal_replay(dir, kind_cb, seen, &last, &torn, err, sizeof err), 0);
    json_t *want = json_pack("[s,s,s,s]", "snapshot.begin:0", "test:1000", "snapshot.end:0", "test:2000");
    CHECK_JSON(seen, want);
    CHECK_INT(last, 134);
    CHECK_INT(torn, 0);
    json_decref(want);
    json_decref(seen);
}

/* A record whose write failed is reported to its waiter as failed: a compaction must not
 * run before that (its snapshot would make the state durable behind the waiter's back). */
KR_TEST(compaction_waits_while_a_failed_write_is_reported)
{
    char err[256] = "", path[128];
    char *dir = tmpdir();
    struct rlimit old;
    off_t size;
    json_t *rec;
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    kr_journal_t *j = open_size_limited(base, dir, 10, &old, &size, path, sizeof path);
    if (!j)
        return;
    fail_rc = 0;
    fail_count = 0;
    for (int i = 1; i <= 3; i++) {
        rec = json_pack("{s:s,s:i}", "kind", "test", "n", i);
        CHECK_INT(kr_journal_append(j, rec, fail_cb, base, NULL), 0);
        json_decref(rec);
    }
    int state = 7;
    CHECK_INT(kr_journal_compact(j, snap_fill, &state, err, sizeof err), KR_EIO);
    setrlimit(RLIMIT_FSIZE, &old);
    /* the failure is not reported yet: still no compaction */
    CHECK_INT(kr_journal_compact(j, snap_fill, &state, err, sizeof err), KR_EAGAIN);
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    CHECK_INT(fail_count, 3);
    CHECK_INT(fail_rc, KR_EIO);
    /* reported: now it compacts */
    CHECK_INT(kr_journal_compact(j, snap_fill, &state, err, sizeof err), 0);
    kr_journal_close(j);
    event_base_free(base);
    json_t *seen = json_array();
    CHECK_INT(kr_journal_replay(dir, kind_cb, seen, NULL, NULL, err, sizeof err), 0);
    json_t *want = json_pack("[s,s,s]", "snapshot.begin:0", "test:7", "snapshot.end:0");
    CHECK_JSON(seen, want);
    json_decref(want);
    json_decref(seen);
}
