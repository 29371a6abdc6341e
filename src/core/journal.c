/* core/journal.c: append-only journal with group commit on an fsync thread.
 *
 * DESIGN: the loop thread serializes a record into the pass buffer and queues a waiter
 * (seq, callback). At the end of the loop pass (the `kick` event, activated by the pass's
 * first append) it writes the pass's records with one write(2) to the current segment
 * (O_APPEND) and signals the fsync thread, which
 * takes the highest written seq, runs fdatasync, publishes it as durable and wakes the
 * loop with event_active. The loop pops every waiter up to that seq. A write error
 * marks the journal unhealthy (readiness fails, intake answers 503) until a later
 * write succeeds; an fsync error fails every waiter it covered. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "kr/cli.h"
#include "kr/err.h"
#include "kr/journal.h"
#include "kr/log.h"
#include "kr/units.h"

typedef struct waiter {
    uint64_t seq;
    kr_journal_done_cb cb;
    void *arg;
    int failed;                  /* its write failed: settled with KR_EIO */
    struct waiter *next;
} waiter_t;

struct kr_journal {
    struct event_base *base;
    struct event *wake;          /* activated by the fsync thread */
    struct event *kick;          /* loop thread: wakes the fsync thread once per loop pass */
    int kick_pending;
    char *dir;
    int fd;                      /* current segment (mu: the fsync thread reads it) */
    int old_fds[16];             /* previous segments, still to fsync and close (mu) */
    int n_old;
    int dead_fds[24];            /* segments a snapshot superseded: the fsync thread closes
                                    them without an fsync, their records are covered (mu) */
    int n_dead;
    unsigned segno;
    unsigned first_segno;        /* oldest segment on disk */
    int64_t seg_bytes, seg_limit;
    uint64_t next_seq;
    uint64_t records;
    int healthy;
    char error[256];

    waiter_t *head, *tail;       /* loop thread only */
    char *line;                  /* the record being appended, reused (loop thread) */
    size_t line_cap;
    char *pend;                  /* records of this loop pass not yet written (loop thread) */
    size_t pend_len, pend_cap;
    uint64_t pend_first;         /* seq of the first of them, 0 when none */
    void (*flush_hook)(void *);  /* called before each write of the pass buffer (loop thread) */
    int in_hook;                 /* its appends go to the buffer being written: no flush */
    void *flush_arg;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    uint64_t written;            /* highest seq written (mu) */
    uint64_t durable;            /* highest seq fsync'd (mu) */
    uint64_t failed_upto;        /* highest seq whose fsync failed (mu) */
    uint64_t fsyncs;             /* (mu) */
    int stop;                    /* (mu) */

    pthread_t reaper;            /* removes the segments a snapshot superseded */
    int reaper_started;          /* loop thread: not joined yet */
    int reaping;                 /* (mu) the reaper is still at work */
    unsigned reap_upto;          /* the segments it removes: numbers up to this */
};

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t kr_crc32c(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t c = 0xFFFFFFFFu;
    pthread_once(&crc_once, crc_init);
    while (len >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
            crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
            crc_table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return c ^ 0xFFFFFFFFu;
}

static void *fsync_main(void *arg)
{
    kr_journal_t *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->stop && j->written == j->durable && j->written == j->failed_upto && !j->n_dead)
            pthread_cond_wait(&j->cond, &j->mu);
        if (j->n_dead) { /* closed here: this thread may have been in fdatasync on them */
            int dead[24], n_dead = j->n_dead;
            memcpy(dead, j->dead_fds, sizeof dead);
            j->n_dead = 0;
            pthread_mutex_unlock(&j->mu);
            for (int i = 0; i < n_dead; i++)
                close(dead[i]);
            pthread_mutex_lock(&j->mu);
        }
        if (j->written == j->durable && j->written == j->failed_upto) {
            if (j->stop)
                break;
            continue;
        }
        uint64_t target = j->written;
        int fd = j->fd, old[16], n_old = j->n_old;
        memcpy(old, j->old_fds, sizeof old);
        j->n_old = 0;
        pthread_mutex_unlock(&j->mu);
        /* rotated segments' last records are made durable before the new segment's */
        int rc = 0, e = 0;
        for (int i = 0; i < n_old; i++) {
            if (rc == 0 && fdatasync(old[i]) != 0) {
                rc = -1;
                e = errno;
            }
            close(old[i]);
        }
        if (rc == 0) {
            rc = fdatasync(fd);
            e = errno;
        }
        pthread_mutex_lock(&j->mu);
        j->fsyncs++;
        /* a compaction meanwhile may have covered target with a snapshot (durable moved
         * past it): then a failure here concerns deleted segments only and is no failure */
        if (rc == 0 || target <= j->durable) {
            if (j->durable < target)
                j->durable = target;
            if (j->failed_upto < target)
                j->failed_upto = target; /* nothing failed below target */
        } else {
            j->failed_upto = target;
            snprintf(j->error, sizeof j->error, "fdatasync: %s", strerror(e));
        }
        /* outside mu: event_active takes the base's lock and writes its notify fd, and the
         * loop thread wants mu for every append */
        pthread_mutex_unlock(&j->mu);
        event_active(j->wake, EV_READ, 0);
        pthread_mutex_lock(&j->mu);
        if (j->stop && j->written == target)
            break;
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Loop thread, after the callbacks of the pass that appended: one wake-up of the fsync
 * thread for all of them. Signalling at each append woke the thread for the first record
 * of a pass, so it fdatasync'd that one alone and preempted the loop in mid-pass. */
/* Loop thread: writes the records appended since the last flush with one write(2) and
 * publishes them to the fsync thread. When the write fails nothing of the batch stays in
 * the segment (a partial write is cut off), the journal turns unhealthy and every waiter
 * of the batch is settled with KR_EIO. */
static int flush_pending(kr_journal_t *j)
{
    size_t off = 0;
    /* before every write, not only the pass's last one (a rotation or a large batch
     * writes earlier): what the hook appends (the daemon's "processed" record) always
     * travels with the records it is about */
    if (j->flush_hook && !j->in_hook) {
        j->in_hook = 1;
        j->flush_hook(j->flush_arg);
        j->in_hook = 0;
    }
    if (!j->pend_len)
        return KR_OK;
    while (off < j->pend_len) {
        ssize_t w = write(j->fd, j->pend + off, j->pend_len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(j->error, sizeof j->error, "write: %s", w < 0 ? strerror(errno) : "short write");
            KR_ERROR("journal", "msg=\"cannot append\" error=\"%s\" records_failed=%llu", j->error,
                     (unsigned long long)(j->next_seq - j->pend_first));
            j->healthy = 0;
            /* a partial record would make the rest of the segment unreadable */
            if (off > 0 && ftruncate(j->fd, (off_t)j->seg_bytes) != 0)
                KR_ERROR("journal", "msg=\"cannot truncate partial records\" error=\"%s\"", strerror(errno));
            for (waiter_t *x = j->head; x; x = x->next)
                if (x->seq >= j->pend_first)
                    x->failed = 1;
            j->pend_len = 0;
            j->pend_first = 0;
            event_active(j->wake, EV_READ, 0);
            return KR_EIO;
        }
        off += (size_t)w;
    }
    j->seg_bytes += (int64_t)j->pend_len;
    j->pend_len = 0;
    j->pend_first = 0;
    j->healthy = 1;
    pthread_mutex_lock(&j->mu);
    j->written = j->next_seq - 1; /* published now: a busy fsync thread takes it on its next round */
    pthread_mutex_unlock(&j->mu);
    return KR_OK;
}

int kr_journal_flush(kr_journal_t *j) { return flush_pending(j); }

void kr_journal_set_flush_hook(kr_journal_t *j, void (*fn)(void *arg), void *arg)
{
    j->flush_hook = fn;
    j->flush_arg = arg;
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_journal_t *j = arg;
    (void)fd;
    (void)what;
    flush_pending(j); /* the hook's appends join this write: kick_pending is still set */
    j->kick_pending = 0;
    pthread_mutex_lock(&j->mu);
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->mu);
}

/* Loop thread: run callbacks of waiters the fsync thread has settled. */
static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_journal_t *j = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&j->mu);
    uint64_t durable = j->durable, settled = j->failed_upto;
    pthread_mutex_unlock(&j->mu);
    while (j->head && (j->head->seq <= settled || j->head->failed)) {
        waiter_t *w = j->head;
        j->head = w->next;
        if (!j->head)
            j->tail = NULL;
        int rc = w->seq <= durable && !w->failed ? KR_OK : KR_EIO;
        if (rc != KR_OK) {
            j->healthy = 0;
            KR_ERROR("journal", "msg=\"record not durable\" seq=%llu error=\"%s\"",
                     (unsigned long long)w->seq, j->error);
        }
        w->cb(rc, w->seq, w->arg);
        free(w);
    }
}

static int segment_path(const char *dir, unsigned n, char *buf, size_t len)
{
    return snprintf(buf, len, "%s/journal-%08u.log", dir, n) < (int)len ? 0 : KR_EINVAL;
}

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

/* Sorted segment numbers of a directory. Returns count (>= 0) or -1. *out is malloc'd. */
static int list_segments(const char *dir, unsigned **out)
{
    DIR *d = opendir(dir);
    unsigned *v = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    if (!d)
        return errno == ENOENT ? 0 : -1;
    while ((de = readdir(d))) {
        unsigned num;
        char tail[8];
        if (sscanf(de->d_name, "journal-%8u.%4s", &num, tail) == 2 && strcmp(tail, "log") == 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                unsigned *nv = realloc(v, (size_t)cap * sizeof *v);
                if (!nv) {
                    free(v);
                    closedir(d);
                    return -1;
                }
                v = nv;
            }
            v[n++] = num;
        }
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* few segments: insertion sort */
        for (int k = i; k > 0 && v[k - 1] > v[k]; k--) {
            unsigned t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    *out = v;
    return n;
}

static int replay_dir(const char *dir, int (*cb)(json_t *record, void *arg), void *arg,
                      uint64_t *last_seq, int *torn, off_t *torn_at, char *err, size_t errlen);

kr_journal_t *kr_journal_open(struct event_base *base, const char *dir, char *err, size_t errlen)
{
    kr_journal_t *j = calloc(1, sizeof *j);
    unsigned *segs = NULL;
    char path[4096];
    uint64_t last = 0;
    int torn = 0, n;
    off_t torn_at = -1;

    if (!j || !(j->dir = strdup(dir))) {
        kr_seterr(err, errlen, KR_ENOMEM, "journal: out of memory");
        goto fail;
    }
    j->fd = -1;
    if (mkdir_p(dir) != 0) {
        kr_seterr(err, errlen, KR_EIO, "journal: cannot create directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (replay_dir(dir, NULL, NULL, &last, &torn, &torn_at, err, errlen) != 0)
        goto fail;
    if ((n = list_segments(dir, &segs)) < 0) {
        kr_seterr(err, errlen, KR_EIO, "journal: cannot list %s: %s", dir, strerror(errno));
        goto fail;
    }
    unsigned segno = n ? segs[n - 1] : 1;
    segment_path(dir, segno, path, sizeof path);
    /* A torn last record (crash mid-write) was never acknowledged: cut it off so that
     * new records follow the last good one. */
    if (torn && torn_at >= 0 && truncate(path, torn_at) != 0) {
        kr_seterr(err, errlen, KR_EIO, "journal: cannot truncate torn tail of %s: %s", path, strerror(errno));
        goto fail;
    }
    j->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    j->n_old = 0;
    j->segno = segno;
    j->first_segno = n ? segs[0] : segno;
    j->seg_limit = 64 << 20;
    struct stat st;
    if (j->fd >= 0 && fstat(j->fd, &st) == 0)
        j->seg_bytes = st.st_size;
    if (j->fd < 0) {
        kr_seterr(err, errlen, KR_EIO, "journal: cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    j->next_seq = last + 1;
    j->written = j->durable = j->failed_upto = last;
    j->healthy = 1;
    j->base = base;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cond, NULL);
    if (!(j->wake = event_new(base, -1, 0, wake_cb, j)) || !(j->kick = event_new(base, -1, 0, kick_cb, j)) ||
        pthread_create(&j->thread, NULL, fsync_main, j) != 0) {
        kr_seterr(err, errlen, KR_ENOMEM, "journal: cannot start the fsync thread");
        if (j->wake)
            event_free(j->wake);
        if (j->kick)
            event_free(j->kick);
        j->wake = j->kick = NULL;
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cond);
        goto fail;
    }
    free(segs);
    KR_INFO("journal", "msg=\"journal open\" dir=%s segment=%s next_seq=%llu torn_tail=%d", dir, path,
            (unsigned long long)j->next_seq, torn);
    return j;
fail:
    free(segs);
    if (j) {
        if (j->fd >= 0)
            close(j->fd);
        free(j->dir);
        free(j);
    }
    return NULL;
}

void kr_journal_close(kr_journal_t *j)
{
    if (!j)
        return;
    flush_pending(j); /* with the flush hook's records */
    pthread_mutex_lock(&j->mu);
    j->stop = 1;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    if (j->reaper_started)
        pthread_join(j->reaper, NULL);
    wake_cb(-1, 0, j);
    while (j->head) { /* cannot happen after the final fsync, but never leak a waiter */
        waiter_t *w = j->head;
        j->head = w->next;
        w->cb(KR_EIO, w->seq, w->arg);
        free(w);
    }
    event_free(j->wake);
    event_free(j->kick);
    for (int i = 0; i < j->n_old; i++)
        close(j->old_fds[i]);
    for (int i = 0; i < j->n_dead; i++)
        close(j->dead_fds[i]);
    close(j->fd);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cond);
    free(j->line);
    free(j->pend);
    free(j->dir);
    free(j);
}

void kr_journal_set_segment_size(kr_journal_t *j, int64_t bytes)
{
    j->seg_limit = bytes > 4096 ? bytes : 4096;
}

unsigned kr_journal_segment(const kr_journal_t *j) { return j->segno; }

/* Starts the next segment (loop thread). The previous one is handed to the fsync thread,
 * which makes its last records durable and closes it: the loop never waits for a disk. */
static int rotate(kr_journal_t *j)
{
    char path[4096];
    segment_path(j->dir, j->segno + 1, path, sizeof path);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(j->error, sizeof j->error, "cannot open segment %.180s: %s", path, strerror(errno));
        KR_ERROR("journal", "msg=\"cannot rotate\" error=\"%s\"", j->error);
        return KR_EIO;
    }
    pthread_mutex_lock(&j->mu);
    if (j->n_old == (int)(sizeof j->old_fds / sizeof j->old_fds[0])) { /* the thread is far behind */
        pthread_mutex_unlock(&j->mu);
        close(fd);
        unlink(path);
        return KR_OK;
    }
    j->old_fds[j->n_old++] = j->fd;
    j->fd = fd;
    /* now, not at the end of the pass: the next rotation waits until the thread has
     * taken this old segment */
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->mu);
    j->segno++;
    j->seg_bytes = 0;
    KR_INFO("journal", "msg=\"new segment\" segment=%s", path);
    return KR_OK;
}

/* ---- record encoding ----------------------------------------------------------------
 * A record line is "<crc32c as 8 hex> <body>\n", body = json_dumps(record, JSON_COMPACT |
 * JSON_ENSURE_ASCII). The encoder below writes exactly jansson's bytes (insertion order,
 * the same escapes, "%.17g" reals with ".0" added), straight into a buffer the journal
 * reuses: json_dumps cost ~20% of an SNS request (a strbuffer grown by doubling, a
 * "%p" snprintf and hash insert per container for its loop check, a strdup, then our
 * copy). Anything it does not handle (invalid UTF-8, very deep nesting) goes through
 * json_dumps, so the result and the failures stay jansson's. */

typedef struct {
    char *p;
    size_t len, cap;
} jbuf_t;

static int jb_reserve(jbuf_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int jb_put(jbuf_t *b, const char *s, size_t n)
{
    if (jb_reserve(b, n))
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* Bytes a JSON string cannot carry as they are: controls, '"', '\\', and (ENSURE_ASCII)
 * every byte of a multi-byte UTF-8 sequence. */
static const unsigned char must_escape[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

/* Decodes one UTF-8 sequence as jansson's utf8_iterate accepts it (no overlongs, no
 * surrogates, nothing above U+10FFFF). Returns its length, or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10FFFF ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static int enc_string(jbuf_t *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str, *end = s + n;
    if (jb_reserve(b, n + 2))
        return -1;
    b->p[b->len++] = '"';
    while (s < end) {
        const unsigned char *run = s;
        while (s < end && !must_escape[*s])
            s++;
        if (s > run && jb_put(b, (const char *)run, (size_t)(s - run)))
            return -1;
        if (s == end)
            break;
        char esc[12];
        size_t elen = 2;
        uint32_t cp;
        size_t used = utf8_decode(s, (size_t)(end - s), &cp);
        if (!used)
            return -1;
        s += used;
        esc[0] = '\\';
        switch (cp) {
        case '\\': esc[1] = '\\'; break;
        case '"': esc[1] = '"'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default: {
            uint32_t units[2];
            size_t nu = 1;
            if (cp < 0x10000) {
                units[0] = cp;
            } else {
                cp -= 0x10000;
                units[0] = 0xD800 | ((cp & 0xFFC00) >> 10);
                units[1] = 0xDC00 | (cp & 0x3FF);
                nu = 2;
            }
            elen = 0;
            for (size_t u = 0; u < nu; u++) {
                esc[elen++] = '\\';
                esc[elen++] = 'u';
                for (int sh = 12; sh >= 0; sh -= 4)
                    esc[elen++] = hex[(units[u] >> sh) & 0xF];
            }
        }
        }
        if (jb_put(b, esc, elen))
            return -1;
    }
    return jb_put(b, "\"", 1);
}

/* jansson's jsonp_dtostr with its default precision (17), in the C locale. */
static int enc_real(jbuf_t *b, double v)
{
    char buf[40];
    int n = snprintf(buf, sizeof buf, "%.17g", v);
    if (n < 0 || (size_t)n >= sizeof buf - 3)
        return -1;
    if (strspn(buf, "-0123456789.e+") != (size_t)n) /* a locale's comma: let jansson do it */
        return -1;
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        buf[n++] = '.';
        buf[n++] = '0';
        buf[n] = 0;
    }
    char *e = strchr(buf, 'e');
    if (e) { /* "1e+20" -> "1e20", "1e-05" -> "1e-5" */
        char *start = e + 1, *digits = e + 2;
        if (*start == '-')
            start++;
        while (*digits == '0')
            digits++;
        if (digits != start) {
            memmove(start, digits, (size_t)(buf + n - digits) + 1);
            n -= (int)(digits - start);
        }
    }
    return jb_put(b, buf, (size_t)n);
}

static int enc_value(jbuf_t *b, const json_t *v, int depth)
{
    char num[32];
    int n;
    if (depth > 512)
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        int first = 1;
        if (jb_put(b, "{", 1))
            return -1;
        for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it)) {
            if ((!first && jb_put(b, ",", 1)) ||
                enc_string(b, json_object_iter_key(it), json_object_iter_key_len(it)) ||
                jb_put(b, ":", 1) || enc_value(b, json_object_iter_value(it), depth + 1))
                return -1;
            first = 0;
        }
        return jb_put(b, "}", 1);
    }
    case JSON_ARRAY: {
        size_t count = json_array_size(v);
        if (jb_put(b, "[", 1))
            return -1;
        for (size_t i = 0; i < count; i++)
            if ((i && jb_put(b, ",", 1)) || enc_value(b, json_array_get(v, i), depth + 1))
                return -1;
        return jb_put(b, "]", 1);
    }
    case JSON_STRING:
        return enc_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return jb_put(b, num, (size_t)n);
    case JSON_REAL:
        return enc_real(b, json_real_value(v));
    case JSON_TRUE:
        return jb_put(b, "true", 4);
    case JSON_FALSE:
        return jb_put(b, "false", 5);
    case JSON_NULL:
        return jb_put(b, "null", 4);
    }
    return -1;
}

/* Encodes the record line into j->line. Returns its length, or 0 (out of memory, or a
 * record jansson cannot encode either). */
static size_t encode_line(kr_journal_t *j, const json_t *record)
{
    jbuf_t b = { j->line, 9, j->line_cap };
    char prefix[10];
    if (jb_reserve(&b, 0) || enc_value(&b, record, 0)) {
        char *body = json_dumps(record, JSON_COMPACT | JSON_ENSURE_ASCII);
        b.len = 9;
        if (!body || jb_put(&b, body, strlen(body))) {
            free(body);
            j->line = b.p;
            j->line_cap = b.cap;
            return 0;
        }
        free(body);
    }
    if (jb_put(&b, "\n", 1)) {
        j->line = b.p;
        j->line_cap = b.cap;
        return 0;
    }
    j->line = b.p;
    j->line_cap = b.cap;
    snprintf(prefix, sizeof prefix, "%08x", kr_crc32c(b.p + 9, b.len - 10));
    memcpy(b.p, prefix, 8);
    b.p[8] = ' ';
    return b.len;
}

int kr_journal_append(kr_journal_t *j, json_t *record, kr_journal_done_cb done, void *arg,
                      uint64_t *seq_out)
{
    uint64_t seq;
    size_t len;

    for (int rotated = 0;; rotated = 1) {
        seq = j->next_seq;
        json_object_set_new(record, "seq", json_integer((json_int_t)seq));
        json_object_set_new(record, "t", json_integer(kr_now_ms()));
        if (!(len = encode_line(j, record)))
            return KR_ENOMEM;
        int64_t at = j->seg_bytes + (int64_t)j->pend_len;
        /* the flush hook's own appends stay in the buffer being written */
        if (rotated || j->in_hook || at == 0 || at + (int64_t)len <= j->seg_limit)
            break;
        flush_pending(j); /* its failure settles its own waiters */
        if (rotate(j) != KR_OK) {
            j->healthy = 0;
            return KR_EIO;
        }
        /* again: the flush hook may have appended (a seq taken, the line buffer reused) */
    }
    if (j->pend_len + len > j->pend_cap) {
        size_t cap = j->pend_cap ? j->pend_cap : 65536;
        while (cap < j->pend_len + len)
            cap *= 2;
        char *p = realloc(j->pend, cap);
        if (!p)
            return KR_ENOMEM;
        j->pend = p;
        j->pend_cap = cap;
    }
    waiter_t *w = NULL;
    if (done && !(w = calloc(1, sizeof *w)))
        return KR_ENOMEM;
    memcpy(j->pend + j->pend_len, j->line, len);
    j->pend_len += len;
    if (!j->pend_first)
        j->pend_first = seq;
    j->next_seq++;
    j->records++;
    if (w) {
        w->seq = seq;
        w->cb = done;
        w->arg = arg;
        if (j->tail)
            j->tail->next = w;
        else
            j->head = w;
        j->tail = w;
    }
    /* written at the end of the loop pass (kick) with the pass's other records, or now
     * when a storm makes the batch large */
    if (j->pend_len >= (1u << 20) && !j->in_hook)
        flush_pending(j);
    if (!j->kick_pending) {
        j->kick_pending = 1;
        event_active(j->kick, EV_READ, 0);
    }
    if (seq_out)
        *seq_out = seq;
    return KR_OK;
}

int kr_journal_healthy(const kr_journal_t *j) { return j && j->healthy; }
const char *kr_journal_error(const kr_journal_t *j) { return j ? j->error : "no journal"; }

uint64_t kr_journal_fsyncs(const kr_journal_t *j)
{
    pthread_mutex_lock((pthread_mutex_t *)&j->mu);
    uint64_t n = j->fsyncs;
    pthread_mutex_unlock((pthread_mutex_t *)&j->mu);
    return n;
}

uint64_t kr_journal_records(const kr_journal_t *j) { return j->records; }

static int replay_file(const char *path, int is_last, int (*cb)(json_t *, void *), void *arg,
                       uint64_t *last_seq, int *torn, off_t *torn_at, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = KR_OK;

    if (!f)
        return kr_seterr(err, errlen, KR_EIO, "journal: cannot open %s: %s", path, strerror(errno));
    off_t line_start = 0;
    while ((line_start = ftello(f)) >= 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        int complete = n > 0 && line[n - 1] == '\n';
        if (complete)
            line[--n] = 0;
        json_t *rec = NULL;
        unsigned crc;
        int ok = complete && n > 9 && line[8] == ' ' && sscanf(line, "%8x", &crc) == 1 &&
                 kr_crc32c(line + 9, (size_t)n - 9) == crc &&
                 (rec = json_loadb(line + 9, (size_t)n - 9, JSON_ALLOW_NUL, NULL)) && json_is_object(rec);
        if (!ok) {
            json_decref(rec);
            /* Only the very last line of the last segment may be torn (crash mid-write). */
            int c = fgetc(f);
            if (c == EOF && is_last) {
                if (torn)
                    *torn = 1;
                if (torn_at)
                    *torn_at = line_start;
                KR_WARN("journal", "msg=\"ignoring torn last record\" file=%s line=%ld", path, lineno);
                break;
            }
            rc = kr_seterr(err, errlen, KR_EINVAL, "journal: %s:%ld: corrupt record (checksum or JSON)",
                           path, lineno);
            break;
        }
        json_int_t seq = json_integer_value(json_object_get(rec, "seq"));
        if (last_seq && (uint64_t)seq > *last_seq)
            *last_seq = (uint64_t)seq;
        if (cb && (rc = cb(rec, arg)) != 0) {
            json_decref(rec);
            break;
        }
        json_decref(rec);
    }
    free(line);
    fclose(f);
    return rc;
}

/* 1 if the segment's first record is a snapshot.begin (written whole, then renamed in). */
static int segment_is_snapshot(const char *path)
{
    char buf[160];
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(buf, sizeof buf, f) != NULL && strstr(buf, "\"kind\":\"snapshot.begin\"") != NULL;
    fclose(f);
    return ok;
}

static int replay_dir(const char *dir, int (*cb)(json_t *record, void *arg), void *arg,
                      uint64_t *last_seq, int *torn, off_t *torn_at, char *err, size_t errlen)
{
    unsigned *segs = NULL;
    char path[4096];
    int n = list_segments(dir, &segs), rc = KR_OK;

    if (last_seq)
        *last_seq = 0;
    if (torn)
        *torn = 0;
    if (n < 0)
        return kr_seterr(err, errlen, KR_EIO, "journal: cannot list %s: %s", dir, strerror(errno));
    /* A segment that starts with a snapshot holds the whole state: start there. */
    int first = 0;
    for (int i = n - 1; i > 0; i--) {
        segment_path(dir, segs[i], path, sizeof path);
        if (segment_is_snapshot(path)) {
            first = i;
            break;
        }
    }
    for (int i = first; i < n && rc == KR_OK; i++) {
        segment_path(dir, segs[i], path, sizeof path);
        rc = replay_file(path, i == n - 1, cb, arg, last_seq, torn, torn_at, err, errlen);
    }
    free(segs);
    return rc;
}

int kr_journal_replay(const char *dir, int (*cb)(json_t *record, void *arg), void *arg,
                      uint64_t *last_seq, int *torn, char *err, size_t errlen)
{
    return replay_dir(dir, cb, arg, last_seq, torn, NULL, err, errlen);
}

/* ---- compaction ---- */

struct kr_journal_snapshot {
    kr_journal_t *j;
    FILE *f;
    int64_t bytes;
    int failed;
};

int kr_journal_snapshot_add(kr_journal_snapshot_t *snap, json_t *record)
{
    kr_journal_t *j = snap->j;
    if (snap->failed)
        return KR_EIO;
    json_object_set_new(record, "seq", json_integer((json_int_t)j->next_seq));
    json_object_set_new(record, "t", json_integer(kr_now_ms()));
    /* the appends' encoder (jansson's bytes, several times faster than json_dumps): a
     * snapshot holds every remembered id and recent event, and is written on the loop */
    size_t len = encode_line(j, record);
    if (!len)
        return KR_ENOMEM;
    if (fwrite(j->line, 1, len, snap->f) != len) {
        snap->failed = 1;
        return KR_EIO;
    }
    snap->bytes += (int64_t)len;
    j->next_seq++;
    j->records++;
    return KR_OK;
}

int kr_journal_snapshot_add_strings(kr_journal_snapshot_t *snap, const char *kind, const char *key,
                                    const char *const *strs, size_t n)
{
    kr_journal_t *j = snap->j;
    char num[64];
    if (snap->failed)
        return KR_EIO;
    /* exactly what encode_line makes of json_pack("{s:s,s:[...]}") with seq and t added */
    jbuf_t b = { j->line, 9, j->line_cap };
    int bad = jb_reserve(&b, 0) || jb_put(&b, "{\"kind\":", 8) || enc_string(&b, kind, strlen(kind)) ||
              jb_put(&b, ",", 1) || enc_string(&b, key, strlen(key)) || jb_put(&b, ":[", 2);
    for (size_t i = 0; i < n && !bad; i++)
        bad = (i && jb_put(&b, ",", 1)) || enc_string(&b, strs[i], strlen(strs[i]));
    int m = snprintf(num, sizeof num, "],\"seq\":%llu,\"t\":%lld}\n", (unsigned long long)j->next_seq,
                     (long long)kr_now_ms());
    bad = bad || jb_put(&b, num, (size_t)m);
    j->line = b.p;
    j->line_cap = b.cap;
    if (bad)
        return KR_ENOMEM; /* or a string that is not UTF-8: ids are checked when accepted */
    char prefix[10];
    snprintf(prefix, sizeof prefix, "%08x", kr_crc32c(b.p + 9, b.len - 10));
    memcpy(b.p, prefix, 8);
    b.p[8] = ' ';
    if (fwrite(b.p, 1, b.len, snap->f) != b.len) {
        snap->failed = 1;
        return KR_EIO;
    }
    snap->bytes += (int64_t)b.len;
    j->next_seq++;
    j->records++;
    return KR_OK;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Removes the segments numbered up to `upto` (a snapshot superseded them). */
static void remove_segments(const char *dir, unsigned upto)
{
    char path[4096];
    unsigned *segs = NULL;
    int n = list_segments(dir, &segs);
    if (n > 0) {
        for (int i = 0; i < n; i++)
            if (segs[i] <= upto) {
                segment_path(dir, segs[i], path, sizeof path);
                unlink(path);
            }
        fsync_dir(dir);
    }
    free(segs);
}

/* Reaper thread: unlinking a few 64 MiB files takes ext4 tens of ms (75 ms for 4), too
 * long for the loop. A crash before it is done leaves segments that replay skips (it
 * starts at the snapshot) and the next compaction removes. */
static void *reaper_main(void *arg)
{
    kr_journal_t *j = arg;
    remove_segments(j->dir, j->reap_upto);
    pthread_mutex_lock(&j->mu);
    j->reaping = 0;
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* The snapshot covers every record with a lower seq (the caller's fill writes the state
 * they carry, including what is still waiting for its fsync), so those records need no
 * fsync of their own any more: they count as durable once the snapshot is, and their
 * segments can go. The journal need not be idle. */
int kr_journal_compact(kr_journal_t *j, int (*fill)(kr_journal_snapshot_t *snap, void *arg), void *arg,
                       char *err, size_t errlen)
{
    char tmp[4096], path[4096];
    kr_journal_snapshot_t snap = { j, NULL, 0, 0 };
    int rc;

    /* The pass's records go to the current segment first: sequence numbers stay in file
     * order, and every record below the snapshot's first seq is then written. */
    if (flush_pending(j) != KR_OK)
        return kr_seterr(err, errlen, KR_EIO, "journal: cannot write pending records: %s", j->error);
    /* A record whose write failed is not in the journal and its waiter is told so: the
     * snapshot must not make its state durable behind its back. Its waiter is settled on
     * the next wake-up (already activated). */
    for (waiter_t *x = j->head; x; x = x->next)
        if (x->failed)
            return kr_seterr(err, errlen, KR_EAGAIN, "journal: a failed write is being reported; compaction postponed");
    pthread_mutex_lock(&j->mu);
    /* the segments the snapshot supersedes go to the fsync thread, which closes them:
     * it may be in fdatasync on one right now */
    int room = j->n_dead + j->n_old + 1 <= (int)(sizeof j->dead_fds / sizeof j->dead_fds[0]);
    int reaping = j->reaping;
    pthread_mutex_unlock(&j->mu);
    if (!room)
        return kr_seterr(err, errlen, KR_EAGAIN, "journal: the fsync thread is behind; compaction postponed");
    if (reaping)
        return kr_seterr(err, errlen, KR_EAGAIN, "journal: older segments are still being removed; compaction postponed");
    if (j->reaper_started) { /* done: joining is immediate */
        pthread_join(j->reaper, NULL);
        j->reaper_started = 0;
    }
    uint64_t first_seq = j->next_seq;
    snprintf(tmp, sizeof tmp, "%s/snapshot.tmp", j->dir);
    segment_path(j->dir, j->segno + 1, path, sizeof path);
    unlink(tmp); /* a crash's leftover */
    if (!(snap.f = fopen(tmp, "ae")))
        return kr_seterr(err, errlen, KR_EIO, "journal: cannot create %.200s: %s", tmp, strerror(errno));
    int64_t t_start = mono_us();
    json_t *begin = json_pack("{s:s}", "kind", "snapshot.begin");
    rc = begin ? kr_journal_snapshot_add(&snap, begin) : KR_ENOMEM;
    json_decref(begin);
    if (rc == KR_OK)
        rc = fill(&snap, arg);
    json_t *end = json_pack("{s:s}", "kind", "snapshot.end");
    if (rc == KR_OK)
        rc = end ? kr_journal_snapshot_add(&snap, end) : KR_ENOMEM;
    json_decref(end);
    /* the segment's fd for the appends that follow, opened before the rename so that
     * nothing can fail once the snapshot is in place (O_APPEND, from "a") */
    int fd = -1;
    int64_t t_filled = mono_us();
    if (rc == KR_OK && (fflush(snap.f) != 0 || fdatasync(fileno(snap.f)) != 0 ||
                        (fd = fcntl(fileno(snap.f), F_DUPFD_CLOEXEC, 0)) < 0))
        rc = KR_EIO;
    int e = errno;
    fclose(snap.f);
    if (rc == KR_OK && rename(tmp, path) != 0) {
        rc = KR_EIO;
        e = errno;
    }
    if (rc != KR_OK) {
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        j->records -= j->next_seq - first_seq;
        j->next_seq = first_seq; /* nothing of the snapshot is in the journal */
        return kr_seterr(err, errlen, rc, "journal: snapshot failed: %s", strerror(e));
    }
    fsync_dir(j->dir);
    /* Renamed in, replay starts there: from here on the snapshot is the journal's head. */
    uint64_t end_seq = j->next_seq - 1;
    pthread_mutex_lock(&j->mu);
    j->dead_fds[j->n_dead++] = j->fd;
    for (int i = 0; i < j->n_old; i++)
        j->dead_fds[j->n_dead++] = j->old_fds[i];
    j->n_old = 0;
    j->fd = fd;
    /* everything below first_seq is covered by the snapshot, the snapshot is fsync'd:
     * waiters up to end_seq settle OK on the wake-up below */
    j->written = end_seq;
    if (j->durable < end_seq)
        j->durable = end_seq;
    if (j->failed_upto < end_seq)
        j->failed_upto = end_seq;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->mu);
    if (j->head)
        event_active(j->wake, EV_READ, 0);
    unsigned prev = j->segno;
    j->segno++;
    j->first_segno = j->segno;
    j->seg_bytes = snap.bytes;
    /* the snapshot segment is durable and replay starts there: drop the older ones, on
     * the reaper thread (here when it cannot start) */
    j->reap_upto = prev;
    j->reaping = 1; /* no reaper runs: no lock needed */
    if (pthread_create(&j->reaper, NULL, reaper_main, j) == 0) {
        j->reaper_started = 1;
    } else {
        j->reaping = 0;
        remove_segments(j->dir, prev);
    }
    int64_t t_done = mono_us();
    KR_INFO("journal", "msg=\"compacted\" segment=%s records=%llu bytes=%lld fill_ms=%.1f sync_ms=%.1f", path,
            (unsigned long long)(end_seq - first_seq + 1), (long long)snap.bytes,
            (double)(t_filled - t_start) / 1000.0, (double)(t_done - t_filled) / 1000.0);
    return KR_OK;
}

unsigned kr_journal_segment_count(const kr_journal_t *j) { return j->segno - j->first_segno + 1; }

/* ---- kresponder journal dump DIR ---- */

static int dump_cb(json_t *rec, void *arg)
{
    (void)arg;
    char *s = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        free(s);
    }
    return 0;
}

int kr_cmd_journal(int argc, char **argv)
{
    char err[1024];
    uint64_t last = 0;
    int torn = 0;
    if (argc != 3 || strcmp(argv[1], "dump") != 0) {
        fprintf(stderr, "usage: kresponder journal dump DIR\n");
        return 2;
    }
    unsigned *segs = NULL;
    int n = list_segments(argv[2], &segs);
    free(segs);
    if (n <= 0) {
        fprintf(stderr, "journal: no journal segments (journal-NNNNNNNN.log) in %s\n", argv[2]);
        return 1;
    }
    int rc = kr_journal_replay(argv[2], dump_cb, NULL, &last, &torn, err, sizeof err);
    if (rc != KR_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (torn)
        fprintf(stderr, "journal: the last record is torn (a crash in the middle of a write); it was never acknowledged\n");
    return 0;
}
