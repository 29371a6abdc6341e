/* kr/daemon.h: the daemon context: one struct reached from every callback's arg, owned
 * by the libevent loop thread. Subsystems hang their own context off it. */
#ifndef KR_DAEMON_H
#define KR_DAEMON_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdint.h>

#include "kr/cluster.h"
#include "kr/config.h"
#include "kr/idset.h"
#include "kr/journal.h"
#include "kr/metrics.h"

typedef struct kr_intake kr_intake_t;
typedef struct kr_respond kr_respond_t;
typedef struct kr_pager kr_pager_t;
typedef struct kr_streams_marks kr_streams_marks_t;

/* A module's part of a journal snapshot (compaction): adds records its replay restores. */
typedef int (*kr_snapshot_fn)(kr_journal_snapshot_t *snap, void *arg);

typedef struct kr_daemon {
    kr_config_t *cfg;
    struct event_base *base;
    struct evhttp *http;
    void *routes;                /* the HTTP route table (http.c) */
    kr_journal_t *journal;
    kr_metrics_t *metrics;
    kr_idset_t *seen;            /* event ids already accepted (dedupe) */
    uint64_t processed_due;      /* events up to this seq went through the rules; journaled
                                    as one "processed" record at the end of the loop pass */
    kr_intake_t *intake;         /* webhook intake context (intake.c) */
    kr_respond_t *respond;       /* rules, incidents, action runs (respond.c) */
    kr_pager_t *pager;           /* receivers, page outbox, follow-ups (actions/pager.c) */
    kr_streams_marks_t *streams; /* Kafka Streams reset marks (actions/streams_marks.c) */
    kr_clusters_t *clusters;     /* ZooKeeper sessions and cluster models (cluster.c) */
    struct kr_executor *executor; /* evacuations in progress, for the guards (evacuate.c);
                                   * created by the first one, freed with the last */

    json_t *unprocessed;         /* during replay: the "event" records not yet covered by a
                                    "processed" record */
    struct kr_accept *accepting; /* accepted events waiting for their fsync, oldest first:
                                    a compaction snapshot carries them (daemon.c) */
    struct kr_accept *accepting_tail;
    json_t **recent;             /* ring of the last cfg->events_keep events (owned refs) */
    size_t recent_cap, recent_head, recent_count;

    struct event *sig_term, *sig_int, *sig_hup, *stop_timer, *compact_timer;
    struct { kr_snapshot_fn fn; void *arg; } snapshots[8];
    int nsnapshots;
    int stopping;
    int64_t started_ms;
    char bound[64];              /* "127.0.0.1:PORT" actually bound */
} kr_daemon_t;

/* Callback of kr_daemon_accept: rc 0 when every event is durable (or was a duplicate),
 * KR_EIO when the journal could not persist. `ids` lists the events' ids (borrowed). */
typedef void (*kr_accept_done_cb)(kr_daemon_t *d, int rc, const json_t *ids, size_t duplicates,
                                  void *arg);

/* Journals each event of `events` (a borrowed array of normalized events) unless its id
 * was already seen, then calls done once every record is durable (group commit). After
 * durability each new event enters the pipeline (recent list, metrics, rules). Returns 0,
 * or KR_EIO at once (done not called) when the journal cannot accept records.
 * Loop thread. */
int kr_daemon_accept(kr_daemon_t *d, const json_t *events, kr_accept_done_cb done, void *arg);

/* Registers a module's snapshot writer for journal compaction (at most 8). */
int kr_daemon_add_snapshot(kr_daemon_t *d, kr_snapshot_fn fn, void *arg);
/* Compacts the journal now: a snapshot of the live state, including the accepted events
 * still waiting for their fsync (they are fed to the rules after a restart unless a later
 * "processed" record covers them). Does not wait for an idle journal. Returns 0,
 * KR_EAGAIN (a failed write is still being reported: try later) or an error. */
int kr_daemon_compact(kr_daemon_t *d, char *err, size_t errlen);

#endif
