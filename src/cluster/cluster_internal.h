/* cluster/cluster_internal.h: what the cluster module's files share and nobody else
 * sees: one cluster's parsed config, the ZooKeeper session layer (message queue, ops,
 * the session state machine) and the cluster struct. */
#ifndef KR_CLUSTER_INTERNAL_H
#define KR_CLUSTER_INTERNAL_H

#include <pthread.h>
#include <regex.h>
#include <stdint.h>
#include <zookeeper.h>

#include <event2/event.h>

#include "kr/cluster.h"
#include "kr/cluster_model.h"
#include "kr/doc.h"

/* ---- config (cluster_config.c) ---- */

typedef struct {
    char *name;
    int lo, hi;
} kr_stack_range_t;

typedef struct {
    char *instance_id;
    int broker_id;
} kr_inv_instance_t;

typedef struct {
    char *name;
    char *zookeeper;             /* connect string with optional chroot */
    char *bootstrap_servers;     /* "h:p,h:p" or NULL */
    int64_t session_timeout_ms;
    kr_stack_range_t *stacks;
    size_t n_stacks;
    kr_inv_instance_t *instances;
    size_t n_instances;
    char *alarm_regex;           /* as written; NULL when absent */
    regex_t alarm_re;            /* compiled from the POSIX translation */
    int alarm_re_ok;
    size_t alarm_group;          /* index of the broker group in alarm_re */
    int max_concurrent_evacuations;
    int pause_when_brokers_down;
    int dry_run;
    json_t *streams_apps;        /* new reference; an empty array when absent */
} kr_cluster_cfg_t;

/* Parses one item of `clusters:`. Returns 0 or KR_EINVAL with "file:line:col: ...". */
int kr_cluster_cfg_parse(const kr_doc_t *doc, const json_t *node, kr_cluster_cfg_t *out,
                         char *err, size_t errlen);
void kr_cluster_cfg_deinit(kr_cluster_cfg_t *c);
/* Parses and cross-checks the whole list (unique names and instance ids). *out is a new
 * array of n configs (free each with kr_cluster_cfg_deinit, then the array). */
int kr_cluster_cfgs_parse(const kr_config_t *cfg, kr_cluster_cfg_t **out, size_t *n, char *err,
                          size_t errlen);
/* Turns an alarm-name expression with a named group (?P<broker>...) or (?<broker>...)
 * into POSIX ERE (named and (?:...) groups become plain groups; \d \w \s and their
 * negations become bracket expressions outside brackets) and says which group is the
 * broker's. Returns a new string, or NULL with why set. */
char *kr_cluster_regex_translate(const char *in, size_t *group, char *why, size_t whylen);

/* ---- the session layer (zk_session.c) ---- */

typedef struct kr_zk_op kr_zk_op_t;
typedef struct kr_zk_msg kr_zk_msg_t;

/* What a queued message carries: a copy of everything a callback got. */
struct kr_zk_msg {
    size_t cluster;          /* index in kr_clusters_t */
    uint64_t gen;            /* the handle generation it came from */
    int kind;                /* MSG_SESSION, MSG_WATCH, MSG_RESULT (zk_session.c) */
    kr_zk_op_t *op;          /* NULL for session events */
    int type, state;         /* watcher event type and state */
    int zrc;
    char *path;              /* watch path, or created path */
    char *data;              /* get: the value (NULL for null) */
    int len;
    int has_stat;
    struct Stat stat;
    char **strings;          /* children */
    int n_strings;
    kr_zk_msg_t *next;
};

/* The loop-thread side of a request: what to do with its answer and its watch. */
typedef void (*kr_zk_op_result_fn)(kr_cluster_t *c, kr_zk_op_t *op, const kr_zk_msg_t *m);
typedef void (*kr_zk_op_watch_fn)(kr_cluster_t *c, kr_zk_op_t *op, int type, const char *path);

struct kr_zk_op {
    kr_zk_op_result_fn on_result;
    kr_zk_op_watch_fn on_watch;  /* NULL: no watch; also called with type LOST */
    void *arg;                   /* internal handlers' context */
    kr_zk_result_cb user_cb;     /* public API requests */
    void *user_arg;
    kr_zk_watch_cb user_watch;
    void *user_watch_arg;
    int result_done, watch_done;
    int watch_on_nonode;         /* exists: ZNONODE also sets the watch */
    kr_clusters_t *owner;        /* set before the request is sent; read by ZooKeeper's */
    size_t cluster;              /* completion thread to queue the answer */
    uint64_t gen;
    int tag;                     /* internal: what the request was for */
    int in_load;                 /* part of the full read of a new session */
    int id;                      /* internal: broker id / partition */
    char *name;                  /* internal: topic name */
    struct kr_zk_op *prev, *next;
};

/* Internal request kinds (op->tag). */
enum {
    OP_USER = 0, OP_IDS, OP_BROKER, OP_TOPICS, OP_TOPIC, OP_STATE, OP_STATE_STALE, OP_CONTROLLER,
    OP_CONTROLLER_EXISTS,
};

struct kr_cluster {
    kr_clusters_t *owner;
    size_t index;
    kr_cluster_cfg_t cfg;
    kr_model_t *model;

    /* session */
    zhandle_t *zh;
    uint64_t gen;                /* bumped for every new handle and at close */
    kr_zk_state_t state;
    int64_t session_id;          /* of the current handle once connected; 0 before */
    kr_zk_op_t ops;              /* list head of requests pending on this handle */
    size_t n_ops;
    struct event *reopen_timer;

    /* model loading */
    int loading;                 /* a full read is running on this session */
    size_t load_pending;         /* reads of the full load still unanswered */
    int64_t load_started_ms;     /* monotonic */
    int64_t load_ms;             /* duration of the last full load; -1 none yet */
    int synced;
    int ever_synced;             /* brokers found during the first load are not "joined" */
    struct refresh *refreshes;   /* kr_cluster_refresh_states waiters */
    struct event *stale_timer;   /* delayed re-read of the states a broker change touched */
    int stale_due;               /* the delay is over: keep the window full */
    size_t stale_inflight;       /* stale re-reads in flight */
    int refresh_rc;              /* first failure of a re-read since the last refresh answer */

    /* events */
    json_t *pending_events;      /* events the sink refused, offered again */
    json_t *known;               /* brokers known before a restart (journal), seeded at start */
    struct event *brokers_timer; /* writes the broker set to the journal after a change */
    uint64_t expiries;
    uint64_t broker_events;
    int64_t state_since_ms;
};

struct kr_clusters {
    struct event_base *base;
    const kr_config_t *cfg;
    kr_metrics_t *metrics;
    kr_cluster_emit_fn emit;
    void *emit_arg;
    kr_cluster_record_fn record; /* journals a cluster.brokers record (may be NULL) */
    void *record_arg;
    kr_cluster_t **clusters;
    size_t n;

    pthread_mutex_t lock;        /* guards head/tail: ZooKeeper's threads push */
    kr_zk_msg_t *head, *tail;
    struct event *wake;          /* user event made active by the pushers */
    struct event *retry_timer;   /* re-offers refused events */
};

/* zk_session.c: opens a new handle for c (state CONNECTING). Returns 0 or KR_E*. */
int kr_zk_session_open(kr_cluster_t *c);
/* Closes c's handle (if any): pending ops get LOST/KR_ESTATE; state -> `to`. */
void kr_zk_session_close(kr_cluster_t *c, kr_zk_state_t to);
void kr_zk_set_state(kr_cluster_t *c, kr_zk_state_t to);
/* Drains the queue (the wake event's callback). */
void kr_zk_queue_drain_cb(evutil_socket_t fd, short what, void *arg);
void kr_zk_msg_free(kr_zk_msg_t *m);

/* Internal async reads on c's current handle; 0 or KR_E*. */
kr_zk_op_t *kr_zk_op_new(kr_zk_op_result_fn on_result, kr_zk_op_watch_fn on_watch, int tag);
void kr_zk_op_free(kr_zk_op_t *op);
int kr_zk_get_children(kr_cluster_t *c, const char *path, kr_zk_op_t *op);
int kr_zk_get(kr_cluster_t *c, const char *path, kr_zk_op_t *op);
int kr_zk_exists(kr_cluster_t *c, const char *path, kr_zk_op_t *op);
/* KR_* code for a ZooKeeper return code. */
int kr_zk_rc(int zrc);

/* cluster.c: the session layer's calls into the cluster logic (loop thread). */
void kr_cluster_on_connected(kr_cluster_t *c, int new_session);
void kr_cluster_on_expired(kr_cluster_t *c);
void kr_cluster_on_state(kr_cluster_t *c);

#endif
