/* kr/cluster.h: the Kafka clusters kresponder watches: their config (`clusters:`), one
 * ZooKeeper session per cluster, the cluster model (brokers, topics, partition states,
 * controller) kept fresh by watches, the broker events it emits (broker.left,
 * broker.joined, zk.session_expired), the inventory that maps alerts to brokers, read
 * access for the planner and executor, and async ZooKeeper calls on a cluster's session.
 *
 * Threads: everything here is called on the libevent loop thread, and every callback
 * runs there. ZooKeeper's own threads only queue messages (see src/cluster/zk_session.c). */
#ifndef KR_CLUSTER_H
#define KR_CLUSTER_H

#include <event2/event.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kr/config.h"
#include "kr/metrics.h"

typedef struct kr_clusters kr_clusters_t;
typedef struct kr_cluster kr_cluster_t;
struct kr_daemon;

/* ---- config ---------------------------------------------------------------------- */

/* Validates cfg->clusters (may be NULL: no clusters) with file:line:col errors: names
 * unique ([A-Za-z0-9._-]), `zookeeper` connect string host:port[,host:port...][/chroot],
 * bootstrap_servers, session_timeout (default 18s, 2s..10m), stacks {name: "lo-hi"}
 * (non-overlapping), inventory {instances: {i-...: broker id}, alarm_name_regex: POSIX
 * ERE with one named group (?P<broker>...) or (?<broker>...)}, guards
 * {max_concurrent_evacuations (1), pause_when_brokers_down (2)}, dry_run, streams_apps
 * (a list, kept as JSON). Returns 0 or KR_EINVAL with err = "file:line:col: message". */
int kr_clusters_check(const kr_config_t *cfg, char *err, size_t errlen);

/* ---- lifecycle ------------------------------------------------------------------- */

/* Receives the events a cluster emits (a borrowed array of normalized events). Returns 0
 * when they were taken (journaled or queued for it), or a negative KR_E* when the sink
 * cannot take them now: the cluster keeps them and offers them again a second later. */
typedef int (*kr_cluster_emit_fn)(const json_t *events, void *arg);

/* Builds the clusters of cfg (validated as kr_clusters_check does); no I/O yet. metrics
 * may be NULL. Returns a new context, or NULL with err set. cfg and metrics are borrowed
 * and must outlive the context. */
kr_clusters_t *kr_clusters_new(struct event_base *base, const kr_config_t *cfg,
                               kr_metrics_t *metrics, kr_cluster_emit_fn emit, void *emit_arg,
                               char *err, size_t errlen);
/* Opens one ZooKeeper session per cluster. Never blocks on an unreachable ensemble: a
 * cluster keeps trying in the background while the others work. Returns 0 or KR_E*. */
int kr_clusters_start(kr_clusters_t *cl, char *err, size_t errlen);
/* Closes every session (pending calls get their callback with KR_ESTATE) and frees. */
void kr_clusters_free(kr_clusters_t *cl);

/* Registers GET /v1/clusters and GET /v1/clusters/{name} (src/cluster/cluster_api.c);
 * the handlers read d->clusters. Before kr_http_start. Returns 0 or KR_EINVAL. */
int kr_clusters_routes(struct kr_daemon *d, char *err, size_t errlen);

/* The broker set across restarts: `record` journals a cluster.brokers record (borrowed)
 * after the first load and after every broker change; kr_clusters_replay restores the
 * last one (before kr_clusters_start), which seeds the model so that a broker that left
 * while kresponder was down still yields broker.left. Loop thread. */
typedef void (*kr_cluster_record_fn)(json_t *record, void *arg);
void kr_clusters_set_record(kr_clusters_t *cl, kr_cluster_record_fn fn, void *arg);
int kr_clusters_replay(kr_clusters_t *cl, const json_t *record);
/* The current cluster.brokers record of a cluster (new reference), for snapshots. */
json_t *kr_cluster_brokers_record(const kr_cluster_t *c);

size_t kr_clusters_count(const kr_clusters_t *cl);
kr_cluster_t *kr_clusters_at(kr_clusters_t *cl, size_t i);          /* borrowed */
kr_cluster_t *kr_clusters_find(kr_clusters_t *cl, const char *name); /* borrowed, or NULL */

/* ---- session state --------------------------------------------------------------- */

typedef enum {
    KR_ZK_CLOSED = 0,     /* not started, or stopped */
    KR_ZK_CONNECTING,     /* new session being established */
    KR_ZK_CONNECTED,      /* session up; the model is loading or in sync */
    KR_ZK_DISCONNECTED,   /* connection lost, session still alive: the client reconnects */
    KR_ZK_EXPIRED,        /* the session expired; a new one is opened at once */
    KR_ZK_AUTH_FAILED,
    KR_ZK__NSTATES
} kr_zk_state_t;

const char *kr_zk_state_name(kr_zk_state_t s);
kr_zk_state_t kr_cluster_state(const kr_cluster_t *c);
const char *kr_cluster_name(const kr_cluster_t *c);
/* 1 once the model was fully read on the current session (and not expired since). */
int kr_cluster_synced(const kr_cluster_t *c);

/* Summary of one cluster as shown by GET /v1/clusters: name, state, session_id (hex),
 * synced, controller, brokers_alive, brokers_total, topics, partitions,
 * under_replicated_partitions, offline_partitions, load_ms, expiries. With details, also
 * "brokers": [{id, host, port, rack, stack, alive, since, epoch}] and the config. New. */
json_t *kr_cluster_json(const kr_cluster_t *c, int details);
/* {name: state name} of every cluster; *all_connected is 1 when every session is up. New. */
json_t *kr_clusters_readiness(const kr_clusters_t *cl, int *all_connected);

/* ---- inventory ------------------------------------------------------------------- */

/* Fills `cluster` and `broker` {id, host, rack, stack} of an AWS/Alertmanager event
 * (modified in place) from, in order: the event's own cluster + broker.id; the static
 * instance map (instance.id); each cluster's alarm-name expression (alarm.name); a live
 * registration whose host equals the event's `host`. Fields the event already has are
 * kept. Returns 1 when a broker was found, 0 when not, KR_ENOMEM. */
int kr_clusters_enrich(kr_clusters_t *cl, json_t *event);

/* Which stack a broker id belongs to in this cluster's config, or NULL. */
const char *kr_cluster_stack_of(const kr_cluster_t *c, int broker_id);

/* ---- read access for the planner and executor ------------------------------------ */

typedef struct {
    int id;
    const char *host;     /* NULL when never registered (only seen in assignments) */
    int port;
    const char *rack;     /* NULL when the broker has none */
    const char *stack;    /* from the config's stacks, or NULL */
    int alive;            /* registered in /brokers/ids now */
    int64_t since_ms;     /* wall time of the last change of `alive` (0: unknown) */
    int64_t epoch;        /* czxid of the registration (broker epoch); -1 when unknown */
} kr_broker_info_t;

typedef struct {
    const char *topic;
    int partition;
    const int *replicas;  /* assignment order; during a reassignment target + original */
    size_t n_replicas;
    const int *adding, *removing;
    size_t n_adding, n_removing;
    int leader;           /* -1: none; also -1 until the state was read */
    const int *isr;
    size_t n_isr;
    int state_known;      /* 0 until the partition's state znode was read */
} kr_partition_info_t;

/* Calls fn for every known broker, in id order, then returns 0; stops early and returns
 * what fn returned when it is non-zero. Pointers in the info are borrowed for the call. */
int kr_cluster_foreach_broker(const kr_cluster_t *c,
                              int (*fn)(const kr_broker_info_t *b, void *arg), void *arg);
/* Same for every partition (topics in name order, partitions in number order). */
int kr_cluster_foreach_partition(const kr_cluster_t *c,
                                 int (*fn)(const kr_partition_info_t *p, void *arg), void *arg);
/* Fills *out for one broker; returns 0 or KR_ENOTFOUND. */
int kr_cluster_broker(const kr_cluster_t *c, int id, kr_broker_info_t *out);

/* Re-reads every partition state (or only those of `topic` when not NULL), through the
 * same bounded window as the re-reads after a broker change (so broker events are not
 * delayed behind them), and calls done once (on the loop, never from inside this call)
 * when every partition marked stale has been read again: rc 0, KR_ESTATE when the session
 * went away first, or the KR_E* of a failed read. Returns 0, KR_ENOTFOUND (unknown
 * topic), KR_ESTATE (no session), KR_EINVAL (done NULL). */
int kr_cluster_refresh_states(kr_cluster_t *c, const char *topic,
                              void (*done)(kr_cluster_t *c, int rc, void *arg), void *arg);

/* ---- async ZooKeeper calls on a cluster's session -------------------------------- */

typedef struct {
    int64_t czxid, mzxid, pzxid, ephemeral_owner;
    int version, cversion, data_length, num_children;
} kr_zk_stat_t;

typedef struct {
    int rc;               /* KR_OK; KR_ENOTFOUND (no node), KR_EEXIST (node exists),
                           * KR_ESTATE (bad version, or the session closed/expired),
                           * KR_EIO (connection loss and others: see zrc) */
    int zrc;              /* ZooKeeper's return code (ZOK, ZNONODE, ...) */
    const char *path;     /* create: the created path (sequential suffix included) */
    const char *data;     /* get: the data (NULL for a null value); borrowed for the call */
    size_t len;
    kr_zk_stat_t stat;    /* get, exists, set: the node's stat (zero otherwise) */
} kr_zk_result_t;

typedef void (*kr_zk_result_cb)(kr_cluster_t *c, const kr_zk_result_t *res, void *arg);

/* Watch events. KR_ZK_WATCH_LOST: the session closed or expired before the watch fired;
 * set it again once the cluster is connected. */
typedef enum {
    KR_ZK_WATCH_CREATED = 1,
    KR_ZK_WATCH_DELETED = 2,
    KR_ZK_WATCH_CHANGED = 3,
    KR_ZK_WATCH_CHILD = 4,
    KR_ZK_WATCH_LOST = 100,
} kr_zk_watch_event_t;

typedef void (*kr_zk_watch_cb)(kr_cluster_t *c, kr_zk_watch_event_t ev, const char *path,
                               void *arg);

/* Each call queues one request on the cluster's session and returns 0; cb is then called
 * exactly once on the loop thread (cb may be NULL). Returns KR_ESTATE at once (cb not
 * called) when the cluster has no usable session, KR_EINVAL for a bad path/argument.
 * mode: 0 persistent, 1 ephemeral, 2 persistent sequential, 3 ephemeral sequential
 * (ZooKeeper's ZOO_* values). version -1 matches any version. A watch (watch != NULL)
 * calls watch exactly once: when it fires, or with KR_ZK_WATCH_LOST; never when the
 * request itself failed (then only cb says so). */
int kr_cluster_zk_create(kr_cluster_t *c, const char *path, const char *data, size_t len,
                         int mode, kr_zk_result_cb cb, void *arg);
int kr_cluster_zk_set(kr_cluster_t *c, const char *path, const char *data, size_t len,
                      int version, kr_zk_result_cb cb, void *arg);
int kr_cluster_zk_delete(kr_cluster_t *c, const char *path, int version, kr_zk_result_cb cb,
                         void *arg);
int kr_cluster_zk_get(kr_cluster_t *c, const char *path, kr_zk_watch_cb watch, void *watch_arg,
                      kr_zk_result_cb cb, void *arg);
/* exists: rc KR_OK with the stat, or KR_ENOTFOUND; a watch is set in both cases. */
int kr_cluster_zk_exists(kr_cluster_t *c, const char *path, kr_zk_watch_cb watch,
                         void *watch_arg, kr_zk_result_cb cb, void *arg);

#endif
