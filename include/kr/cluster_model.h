/* kr/cluster_model.h: the model of one Kafka cluster as read from ZooKeeper (brokers,
 * topics with their replica assignments, partition states, controller) and the pure
 * logic on it: the broker diff that turns child lists and registrations into
 * departures and arrivals (czxid epochs catch bounces), partition counts, and the
 * broker.left / broker.joined events. No I/O; one thread at a time (the loop thread). */
#ifndef KR_CLUSTER_MODEL_H
#define KR_CLUSTER_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kr/cluster.h"
#include "kr/zkjson.h"

typedef struct kr_model kr_model_t;

kr_model_t *kr_model_new(void);
void kr_model_free(kr_model_t *m);

/* ---- brokers: the diff ------------------------------------------------------------ */

typedef enum { KR_MODEL_LEFT = 1, KR_MODEL_JOINED = 2 } kr_model_change_t;

/* Called for each departure (with the broker as it was, still marked alive) and each
 * arrival (as it is now). Info pointers are borrowed for the call; stack is NULL. */
typedef void (*kr_model_change_fn)(kr_model_change_t kind, const kr_broker_info_t *b,
                                   void *arg);

/* A new child list of /brokers/ids (ids parsed from the names) with the parent's
 * cversion (-1 unknown). Alive brokers missing from it leave (on_change LEFT, then marked
 * dead). Fills *fetch (new malloc'd array; caller frees) with the ids whose registration
 * must be read: new ids, or every listed id when the cversion shows more changes than
 * the list explains (a broker bounced between two watch events) or is unknown. */
int kr_model_brokers_listed(kr_model_t *m, const int *ids, size_t n, int32_t cversion,
                            int64_t now_ms, kr_model_change_fn on_change, void *arg,
                            int **fetch, size_t *n_fetch);
/* A registration read for broker `id` with its znode's czxid (the broker epoch). A new or
 * dead broker joins; an alive one with another epoch bounced: LEFT (old) then JOINED
 * (new); same epoch: its details are refreshed silently. */
int kr_model_broker_registered(kr_model_t *m, int id, int64_t epoch, const kr_zk_broker_t *reg,
                               int64_t now_ms, kr_model_change_fn on_change, void *arg);
/* The registration of `id` was not there when read: an alive broker leaves. */
void kr_model_broker_missing(kr_model_t *m, int id, int64_t now_ms, kr_model_change_fn on_change,
                             void *arg);
/* Forgets the /brokers/ids cversion (a new session: everything is read again). */
void kr_model_session_reset(kr_model_t *m);

/* ---- topics and partition states -------------------------------------------------- */

/* Sets a topic's assignment; steals t's contents (t is left zeroed). Partitions that
 * remain keep their known state. Returns 0 or KR_ENOMEM. */
int kr_model_topic_set(kr_model_t *m, const char *name, kr_zk_topic_t *t);
void kr_model_topic_remove(kr_model_t *m, const char *name);
int kr_model_topic_exists(const kr_model_t *m, const char *name);
/* Removes every topic not named in names (a new child list of /brokers/topics). */
void kr_model_topics_retain(kr_model_t *m, char *const *names, size_t n);
/* Partition numbers of a topic (borrowed: valid until the topic changes), or NULL. */
const kr_zk_assignment_t *kr_model_topic_partitions(const kr_model_t *m, const char *name,
                                                    size_t *n);
/* Copies a partition state in; KR_ENOTFOUND when the topic/partition is not known. */
int kr_model_state_set(kr_model_t *m, const char *topic, int partition,
                       const kr_zk_partition_state_t *st);
void kr_model_set_controller(kr_model_t *m, int broker_id); /* -1: none */
int kr_model_controller(const kr_model_t *m);

/* ---- partitions to read again --------------------------------------------------- */

typedef struct {
    const char *topic;    /* borrowed: valid until the topic changes */
    int partition;
} kr_model_tp_t;

/* Marks one partition's state as to be read again (KR_ENOTFOUND if unknown). */
int kr_model_mark_stale(kr_model_t *m, const char *topic, int partition);
/* Marks every partition with a replica on the broker; returns how many were new. */
size_t kr_model_mark_broker_stale(kr_model_t *m, int broker_id);
/* Marks every partition of a topic (of every topic when NULL); returns how many were new. */
size_t kr_model_mark_topic_stale(kr_model_t *m, const char *topic);
size_t kr_model_stale_count(const kr_model_t *m);
/* Takes up to max stale partitions (their marks are cleared) into out; returns how many. */
size_t kr_model_take_stale(kr_model_t *m, kr_model_tp_t *out, size_t max);

/* ---- queries ---------------------------------------------------------------------- */

typedef struct {
    size_t topics, partitions;
    size_t under_replicated; /* state known and ISR smaller than the replica set, or a
                              * replica on a broker that is not alive */
    size_t offline;          /* state known and no leader, or the leader not alive */
    size_t brokers_alive, brokers_total; /* total: registered ever, or named in assignments */
} kr_model_counts_t;

void kr_model_counts(const kr_model_t *m, kr_model_counts_t *out);
size_t kr_model_brokers_alive(const kr_model_t *m); /* cheap: no partition scan */

int kr_model_foreach_broker(const kr_model_t *m, int (*fn)(const kr_broker_info_t *b, void *arg),
                            void *arg);
int kr_model_foreach_partition(const kr_model_t *m,
                               int (*fn)(const kr_partition_info_t *p, void *arg), void *arg);
int kr_model_broker(const kr_model_t *m, int id, kr_broker_info_t *out);
/* Looks up a live broker by host (exact, case-insensitive); returns its id or -1. */
int kr_model_broker_by_host(const kr_model_t *m, const char *host);

/* The event for a broker change (DESIGN.md "Normalized event"):
 * {id: "zk:<cluster>:<epoch>-left|-joined", source: "zookeeper", type: "broker.left" |
 *  "broker.joined", state: "firing" | "resolved", time, cluster,
 *  broker: {id, host, port, rack, stack, epoch}, partitions_led, partitions_held,
 *  partitions: {led: [{topic, partition}...], held: [...], truncated}}
 * b->stack is used as given. At most list_max partitions per list. Returns new or NULL. */
json_t *kr_model_broker_event(const kr_model_t *m, const char *cluster, kr_model_change_t kind,
                              const kr_broker_info_t *b, int64_t now_ms, size_t list_max);

#endif
