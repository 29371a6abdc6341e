/* core/daemon.c: `kresponder run`: builds the daemon context, owns the libevent loop
 * (signals, graceful stop, reload), and the accept pipeline: dedupe → journal (group
 * commit) → after durability: recent events, metrics, rules.
 *
 * DESIGN: everything here runs on the loop thread. The journal's fsync thread wakes the
 * loop through event_active (evthread_use_pthreads makes that safe); HTTP handlers call
 * kr_daemon_accept and reply from its callback, so a request never waits on a lock. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "kr/api.h"
#include "kr/cli.h"
#include "kr/daemon.h"
#include "kr/err.h"
#include "kr/http.h"
#include "kr/intake.h"
#include "kr/log.h"
#include "kr/respond.h"
#include "kr/pager.h"
#include "kr/streams_marks.h"
#include "kr/units.h"

/* ---- the accept pipeline ---- */

typedef struct kr_accept {
    kr_daemon_t *d;
    struct kr_accept *prev, *next; /* d->accepting, while records are pending */
    json_t *events;      /* new events, in order (owned) */
    uint64_t last_seq;   /* journal seq of the last event record written; after a
                            compaction, of its copy in the snapshot */
    uint64_t snap_seq;   /* seq of that copy in the snapshot being written */
    json_t *ids;         /* every id of the request (owned) */
    size_t duplicates;
    size_t pending;      /* journal callbacks still to come */
    int rc_write;        /* an append failed: the request is refused */
    int rc_sync;         /* an fsync failed: written records are not durable */
    kr_accept_done_cb done;
    void *arg;
} accept_t;

static void remember(kr_daemon_t *d, json_t *ev)
{
    if (d->recent_count == d->recent_cap)
        json_decref(d->recent[d->recent_head]);
    else
        d->recent_count++;
    d->recent[d->recent_head] = json_incref(ev);
    d->recent_head = (d->recent_head + 1) % d->recent_cap;
}

/* An event is durable: it now enters the rest of the pipeline. */
static void event_durable(kr_daemon_t *d, json_t *ev)
{
    char labels[256], src[64], type[96];
    remember(d, ev);
    snprintf(labels, sizeof labels, "source=\"%s\",type=\"%s\"",
             kr_metrics_escape(json_string_value(json_object_get(ev, "source")), src, sizeof src),
             kr_metrics_escape(json_string_value(json_object_get(ev, "type")), type, sizeof type));
    kr_metrics_add(d->metrics, KR_M_events_total, labels, 1);
    KR_INFO("event", "msg=\"event accepted\" id=\"%s\" source=%s type=%s state=%s",
            json_string_value(json_object_get(ev, "id")), src, type,
            json_string_value(json_object_get(ev, "state")) ? json_string_value(json_object_get(ev, "state")) : "-");
    if (d->respond) /* NULL while the daemon is torn down: fed again after the restart */
        kr_respond_event(d->respond, ev);
}

/* Records that every event up to `seq` went through the rules. An event acknowledged but
 * not yet processed when the process died is fed to the rules again after replay. */
static void mark_processed(kr_daemon_t *d, uint64_t seq)
{
    json_t *rec = json_pack("{s:s,s:I}", "kind", "processed", "upto", (json_int_t)seq);
    if (rec)
        kr_journal_append(d->journal, rec, NULL, NULL, NULL);
    json_decref(rec);
}

/* Journal flush hook: the pass's "processed" record, written with the pass's records. */
static void processed_flush(void *arg)
{
    kr_daemon_t *d = arg;
    if (d->processed_due) {
        mark_processed(d, d->processed_due);
        d->processed_due = 0;
    }
}

static void accept_finish(accept_t *a)
{
    kr_daemon_t *d = a->d;
    size_t i;
    json_t *ev;
    if (a->prev)
        a->prev->next = a->next;
    else
        d->accepting = a->next;
    if (a->next)
        a->next->prev = a->prev;
    else
        d->accepting_tail = a->prev;
    /* a->events holds the records that were written; they are durable unless an fsync
     * failed, in which case their ids are forgotten so the sender's retry is accepted. */
    json_array_foreach(a->events, i, ev) {
        if (a->rc_sync == KR_OK)
            event_durable(d, ev);
        else
            kr_idset_remove(d->seen, json_string_value(json_object_get(ev, "id")));
    }
    if (a->rc_sync == KR_OK && json_array_size(a->events) && d->respond && a->last_seq > d->processed_due)
        d->processed_due = a->last_seq; /* one "processed" record per loop pass */
    if (a->done)
        a->done(d, a->rc_write ? a->rc_write : a->rc_sync, a->ids, a->duplicates, a->arg);
    json_decref(a->events);
    json_decref(a->ids);
    free(a);
}

static void journal_done_cb(int rc, uint64_t seq, void *arg)
{
    accept_t *a = arg;
    (void)seq;
    if (rc != KR_OK)
        a->rc_sync = rc;
    if (--a->pending == 0)
        accept_finish(a);
}

int kr_daemon_accept(kr_daemon_t *d, const json_t *events, kr_accept_done_cb done, void *arg)
{
    accept_t *a;
    size_t i;
    json_t *ev, *fresh = NULL;

    if (!(a = calloc(1, sizeof *a)) || !(a->events = json_array()) || !(a->ids = json_array()) ||
        !(fresh = json_array())) {
        if (a) {
            json_decref(a->events);
            json_decref(a->ids);
            free(a);
        }
        return KR_ENOMEM;
    }
    a->d = d;
    a->done = done;
    a->arg = arg;
    /* in the in-flight list until accept_finish: a snapshot written meanwhile carries it */
    a->prev = d->accepting_tail;
    if (a->prev)
        a->prev->next = a;
    else
        d->accepting = a;
    d->accepting_tail = a;
    json_array_foreach(events, i, ev) {
        const char *id = json_string_value(json_object_get(ev, "id"));
        if (!id)
            continue;
        json_array_append_new(a->ids, json_string(id));
        if (kr_idset_add(d->seen, id) == 0) {
            a->duplicates++;
            kr_metrics_add(d->metrics, KR_M_events_duplicate_total, NULL, 1);
            KR_INFO("event", "msg=\"duplicate dropped\" id=\"%s\"", id);
            continue;
        }
        json_array_append(fresh, ev);
    }
    a->pending = 1; /* held until every append below is queued */
    json_array_foreach(fresh, i, ev) {
        json_t *rec = json_pack("{s:s,s:O}", "kind", "event", "event", ev);
        int rc = rec ? kr_journal_append(d->journal, rec, journal_done_cb, a, &a->last_seq) : KR_ENOMEM;
        json_decref(rec);
        if (rc != KR_OK) {
            /* The sender gets an error and retries; what was written stays and is
             * recognised as a duplicate then; what was not is forgotten here. */
            a->rc_write = rc;
            for (size_t k = i; k < json_array_size(fresh); k++)
                kr_idset_remove(d->seen, json_string_value(json_object_get(json_array_get(fresh, k), "id")));
            break;
        }
        a->pending++;
        json_array_append(a->events, ev);
        kr_metrics_add(d->metrics, KR_M_journal_records_total, NULL, 1);
    }
    json_decref(fresh);
    if (--a->pending == 0)
        accept_finish(a);
    return KR_OK;
}

/* Broker and session events of the cluster module enter the same pipeline as webhooks. */
static int cluster_emit(const json_t *events, void *arg)
{
    return kr_daemon_accept(arg, events, NULL, NULL);
}

/* The broker set of a cluster, journaled after each change (see kr_clusters_set_record). */
static void cluster_record(json_t *record, void *arg)
{
    kr_daemon_t *d = arg;
    json_t *rec = json_deep_copy(record);
    if (rec)
        kr_journal_append(d->journal, rec, NULL, NULL, NULL);
    json_decref(rec);
}

static int clusters_snapshot(kr_journal_snapshot_t *snap, void *arg)
{
    kr_daemon_t *d = arg;
    int rc = KR_OK;
    for (size_t i = 0; d->clusters && i < kr_clusters_count(d->clusters) && rc == KR_OK; i++) {
        json_t *rec = kr_cluster_brokers_record(kr_clusters_at(d->clusters, i));
        rc = rec ? kr_journal_snapshot_add(snap, rec) : KR_ENOMEM;
        json_decref(rec);
    }
    return rc;
}

/* ---- replay ---- */

static int replay_cb(json_t *rec, void *arg)
{
    kr_daemon_t *d = arg;
    const char *kind = json_string_value(json_object_get(rec, "kind"));
    if (kind && strcmp(kind, "event") == 0) {
        json_t *ev = json_object_get(rec, "event");
        const char *id = json_string_value(json_object_get(ev, "id"));
        if (id && kr_idset_add(d->seen, id) == 1) {
            remember(d, ev);
            json_array_append(d->unprocessed, rec);
        }
        return 0;
    }
    if (kind && strcmp(kind, "seen") == 0) {
        size_t i;
        json_t *id;
        json_array_foreach(json_object_get(rec, "ids"), i, id)
            if (json_is_string(id))
                kr_idset_add(d->seen, json_string_value(id));
        return 0;
    }
    if (kind && strncmp(kind, "snapshot.", 9) == 0)
        return 0;
    if (kind && strcmp(kind, "cluster.brokers") == 0)
        return d->clusters ? kr_clusters_replay(d->clusters, rec) : 0;
    if (kind && strncmp(kind, "streams.", 8) == 0) {
        if (kr_streams_marks_replay(d->streams, rec) != KR_OK)
            KR_WARN("daemon", "msg=\"ignoring a malformed streams record\" seq=%lld",
                    (long long)json_integer_value(json_object_get(rec, "seq")));
        return 0;
    }
    if (kind && strcmp(kind, "processed") == 0) {
        /* events are processed in journal order: those up to "upto" went through the
         * rules (all so far without one: a snapshot's). An event written in the same
         * pass before this record, or carried by a later snapshot, may not have. */
        json_t *upto = json_object_get(rec, "upto");
        size_t n = 0;
        if (!json_is_integer(upto))
            n = json_array_size(d->unprocessed);
        else
            while (n < json_array_size(d->unprocessed) &&
                   json_integer_value(json_object_get(json_array_get(d->unprocessed, n), "seq")) <=
                       json_integer_value(upto))
                n++;
        if (n == json_array_size(d->unprocessed)) {
            json_array_clear(d->unprocessed);
        } else if (n > 0) { /* keep the tail (one pass: a snapshot's ring can be long) */
            json_t *rest = json_array();
            for (size_t i = n; rest && i < json_array_size(d->unprocessed); i++)
                json_array_append(rest, json_array_get(d->unprocessed, i));
            if (!rest)
                return KR_ENOMEM;
            json_decref(d->unprocessed);
            d->unprocessed = rest;
        }
        return 0;
    }
    if (kr_respond_replay(d->respond, rec) != KR_OK)
        KR_WARN("daemon", "msg=\"ignoring a malformed journal record\" seq=%lld",
                (long long)json_integer_value(json_object_get(rec, "seq")));
    if (kr_pager_replay(d->pager, rec) != 0)
        KR_WARN("daemon", "msg=\"malformed page record ignored\" kind=%s", json_string_value(json_object_get(rec, "kind")) ?: "-");
    return 0;
}

/* ---- compaction ---- */

int kr_daemon_add_snapshot(kr_daemon_t *d, kr_snapshot_fn fn, void *arg)
{
    if (d->nsnapshots == (int)(sizeof d->snapshots / sizeof d->snapshots[0]))
        return KR_ENOMEM;
    d->snapshots[d->nsnapshots].fn = fn;
    d->snapshots[d->nsnapshots].arg = arg;
    d->nsnapshots++;
    return KR_OK;
}

typedef struct {
    kr_journal_snapshot_t *snap;
    const char *ids[1000]; /* one "seen" record per 1,000 ids */
    size_t n;
} seen_chunk_t;

static int flush_seen(seen_chunk_t *c)
{
    int rc = c->n ? kr_journal_snapshot_add_strings(c->snap, "seen", "ids", c->ids, c->n) : KR_OK;
    c->n = 0;
    return rc;
}

static int seen_cb(const char *id, void *arg)
{
    seen_chunk_t *c = arg;
    c->ids[c->n++] = id; /* owned by the set, which does not change during the walk */
    return c->n == sizeof c->ids / sizeof c->ids[0] ? flush_seen(c) : KR_OK;
}

/* The daemon's own state: recent events (then "processed": they went through the rules),
 * the accepted events still waiting for their fsync (not yet through the rules: after a
 * restart they are fed to them, unless the "processed" record the live process writes
 * once they are durable follows), every id remembered for dedupe (after the events:
 * replay takes an event whose id it knows for a duplicate); then each module's. */
static int snapshot_fill(kr_journal_snapshot_t *snap, void *arg)
{
    kr_daemon_t *d = arg;
    int rc = KR_OK;
    for (size_t i = d->recent_count; i-- > 0 && rc == KR_OK;) {
        json_t *ev = d->recent[(d->recent_head + d->recent_cap - 1 - i) % d->recent_cap];
        json_t *rec = json_pack("{s:s,s:O}", "kind", "event", "event", ev);
        rc = rec ? kr_journal_snapshot_add(snap, rec) : KR_ENOMEM;
        json_decref(rec);
    }
    json_t *done = json_pack("{s:s}", "kind", "processed");
    if (rc == KR_OK)
        rc = done ? kr_journal_snapshot_add(snap, done) : KR_ENOMEM;
    json_decref(done);
    for (accept_t *a = d->accepting; a && rc == KR_OK; a = a->next) {
        size_t i;
        json_t *ev;
        json_array_foreach(a->events, i, ev) {
            json_t *rec = json_pack("{s:s,s:O}", "kind", "event", "event", ev);
            rc = rec ? kr_journal_snapshot_add(snap, rec) : KR_ENOMEM;
            if (rc == KR_OK)
                a->snap_seq = (uint64_t)json_integer_value(json_object_get(rec, "seq"));
            json_decref(rec);
            if (rc != KR_OK)
                break;
        }
    }
    seen_chunk_t *c = rc == KR_OK ? calloc(1, sizeof *c) : NULL;
    if (rc == KR_OK && !c)
        rc = KR_ENOMEM;
    if (rc == KR_OK) {
        c->snap = snap;
        rc = kr_idset_foreach(d->seen, seen_cb, c);
    }
    if (rc == KR_OK)
        rc = flush_seen(c);
    free(c);
    for (int i = 0; i < d->nsnapshots && rc == KR_OK; i++)
        rc = d->snapshots[i].fn(snap, d->snapshots[i].arg);
    return rc;
}

int kr_daemon_compact(kr_daemon_t *d, char *err, size_t errlen)
{
    for (accept_t *a = d->accepting; a; a = a->next)
        a->snap_seq = 0;
    int rc = kr_journal_compact(d->journal, snapshot_fill, d, err, errlen);
    /* the snapshot's copies are what replay reads now: their "processed" mark must
     * cover them (only when the snapshot made it: else the seqs were given back) */
    for (accept_t *a = d->accepting; a; a = a->next)
        if (rc == KR_OK && a->snap_seq)
            a->last_seq = a->snap_seq;
    if (rc != KR_OK && rc != KR_EAGAIN)
        KR_ERROR("journal", "msg=\"compaction failed\" error=\"%s\"", err);
    return rc;
}

static void compact_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_daemon_t *d = arg;
    char err[512];
    (void)fd;
    (void)what;
    if (kr_journal_segment_count(d->journal) > (unsigned)d->cfg->journal_compact_after)
        kr_daemon_compact(d, err, sizeof err);
}

/* ---- lifecycle ---- */

static void stop_now_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_daemon_t *d = arg;
    (void)fd;
    (void)what;
    event_base_loopexit(d->base, NULL);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    kr_daemon_t *d = arg;
    (void)what;
    if (sig == SIGHUP) {
        KR_INFO("daemon", "msg=\"SIGHUP: reload\"");
        kr_api_reload(d);
        return;
    }
    if (d->stopping) {
        KR_WARN("daemon", "msg=\"second signal: stopping at once\"");
        event_base_loopbreak(d->base);
        return;
    }
    KR_INFO("daemon", "msg=\"stopping\" signal=%d", (int)sig);
    d->stopping = 1;
    /* Let replies waiting on the journal's fsync go out, then leave the loop. */
    struct timeval tv = { 0, 200000 };
    d->stop_timer = evtimer_new(d->base, stop_now_cb, d);
    if (d->stop_timer)
        evtimer_add(d->stop_timer, &tv);
    else
        event_base_loopexit(d->base, NULL);
}

static void daemon_free(kr_daemon_t *d)
{
    if (!d)
        return;
    kr_intake_free(d->intake);
    kr_respond_free(d->respond);
    d->respond = NULL;
    kr_streams_marks_free(d->streams);
    kr_http_stop(d);
    kr_pager_free(d->pager);
    kr_clusters_free(d->clusters);
    kr_journal_close(d->journal);
    if (d->recent) {
        for (size_t i = 0; i < d->recent_cap; i++)
            json_decref(d->recent[i]);
        free(d->recent);
    }
    json_decref(d->unprocessed);
    kr_idset_free(d->seen);
    kr_metrics_free(d->metrics);
    if (d->sig_term) event_free(d->sig_term);
    if (d->sig_int) event_free(d->sig_int);
    if (d->sig_hup) event_free(d->sig_hup);
    if (d->stop_timer) event_free(d->stop_timer);
    if (d->compact_timer) event_free(d->compact_timer);
    if (d->base) event_base_free(d->base);
    kr_config_free(d->cfg);
    free(d);
}

static int daemon_start(kr_daemon_t *d, char *err, size_t errlen)
{
    int rc;
    uint64_t last = 0;
    int torn = 0;

    kr_log_set_level_name(d->cfg->log_level);
    d->started_ms = kr_now_ms();
    d->base = event_base_new();
    if (!d->base || !(d->metrics = kr_metrics_new()) ||
        !(d->seen = kr_idset_new((size_t)d->cfg->dedupe_keep)) ||
        !(d->recent = calloc((size_t)d->cfg->events_keep, sizeof *d->recent)))
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    d->recent_cap = (size_t)d->cfg->events_keep;
    if (!(d->unprocessed = json_array()))
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    if (!(d->pager = kr_pager_new(d->base, d->cfg, d->metrics, err, errlen)))
        return KR_EINVAL;
    /* Open first (it cuts a torn tail), then replay into the modules, then resume: nothing
     * is appended until replay is over. */
    if (!(d->journal = kr_journal_open(d->base, d->cfg->journal_dir, err, errlen)))
        return KR_EIO;
    kr_journal_set_segment_size(d->journal, d->cfg->journal_segment_size);
    kr_journal_set_flush_hook(d->journal, processed_flush, d);
    if (!(d->clusters = kr_clusters_new(d->base, d->cfg, d->metrics, cluster_emit, d, err, errlen)))
        return KR_EINVAL;
    kr_clusters_set_record(d->clusters, cluster_record, d);
    if (kr_daemon_add_snapshot(d, clusters_snapshot, d) != KR_OK)
        return kr_seterr(err, errlen, KR_ENOMEM, "cannot register the cluster snapshot writer");
    if ((rc = kr_api_register(d, err, errlen)) != 0 || (rc = kr_clusters_routes(d, err, errlen)) != 0)
        return rc;
    if (!(d->respond = kr_respond_new(d, err, errlen)))
        return KR_EINVAL;
    if ((rc = kr_streams_daemon_init(d, err, errlen)) != 0)
        return rc;
    if ((rc = kr_journal_replay(d->cfg->journal_dir, replay_cb, d, &last, &torn, err, errlen)) != 0)
        return rc;
    KR_INFO("daemon", "msg=\"journal replayed\" last_seq=%llu events_known=%zu", (unsigned long long)last,
            kr_idset_size(d->seen));
    if ((rc = kr_pager_start(d, err, errlen)) != 0)
        return rc;
    kr_respond_resume(d->respond);
    if (json_array_size(d->unprocessed)) {
        /* acknowledged, journaled, but the process died before the rules saw them */
        size_t i;
        json_t *ev;
        KR_WARN("daemon", "msg=\"feeding events the rules had not seen before the restart\" count=%zu",
                json_array_size(d->unprocessed));
        json_array_foreach(d->unprocessed, i, ev)
            kr_respond_event(d->respond, json_object_get(ev, "event"));
        mark_processed(d, last);
    }
    json_decref(d->unprocessed);
    d->unprocessed = NULL;
    if (!(d->intake = kr_intake_new(d, err, errlen)))
        return KR_EINVAL;
    if ((rc = kr_http_start(d, err, errlen)) != 0)
        return rc;
    /* compaction is checked every second (and once now): a counter compare when there is
     * nothing to do; it runs under load too (the snapshot carries events in flight) */
    struct timeval every = { 1, 0 };
    if (!(d->compact_timer = event_new(d->base, -1, EV_PERSIST, compact_timer_cb, d)) ||
        event_add(d->compact_timer, &every) != 0)
        return kr_seterr(err, errlen, KR_ENOMEM, "cannot start the compaction timer");
    compact_timer_cb(-1, 0, d);
    if ((rc = kr_clusters_start(d->clusters, err, errlen)) != 0)
        return rc;
    d->sig_term = evsignal_new(d->base, SIGTERM, signal_cb, d);
    d->sig_int = evsignal_new(d->base, SIGINT, signal_cb, d);
    d->sig_hup = evsignal_new(d->base, SIGHUP, signal_cb, d);
    if (!d->sig_term || !d->sig_int || !d->sig_hup || evsignal_add(d->sig_term, NULL) ||
        evsignal_add(d->sig_int, NULL) || evsignal_add(d->sig_hup, NULL))
        return kr_seterr(err, errlen, KR_EIO, "cannot install signal handlers");
    return KR_OK;
}

int kr_cmd_run(int argc, char **argv)
{
    const char *path = NULL;
    char err[1024] = "";
    kr_daemon_t *d = NULL;
    int code = 1;

    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else {
            fprintf(stderr, "usage: kresponder run -c FILE\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: kresponder run -c FILE\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "kresponder: cannot enable libevent threading\n");
        return 1;
    }
    if (!(d = calloc(1, sizeof *d)))
        return 1;
    if (!(d->cfg = kr_config_load(path, err, sizeof err))) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    if (daemon_start(d, err, sizeof err) != 0) {
        KR_ERROR("daemon", "msg=\"cannot start\" error=\"%s\"", err);
        fprintf(stderr, "kresponder: %s\n", err);
        goto done;
    }
    /* One line tests and scripts can wait for: the real address (port 0 picks one). */
    printf("listening on %s\n", d->bound);
    fflush(stdout);
    KR_INFO("daemon", "msg=\"started\" config=%s version=%s", path, "0.1.0");
    event_base_dispatch(d->base);
    KR_INFO("daemon", "msg=\"stopped\"");
    code = 0;
done:
    daemon_free(d);
    return code;
}
