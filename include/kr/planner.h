/* kr/planner.h: the replica evacuation planner. Pure and deterministic: no I/O, no
 * globals, no clock; the same cluster and request always give the same plan. Every
 * function may be called from any thread on objects that thread owns (a sealed cluster
 * is read-only and may be shared by planners on several threads).
 *
 * Flow: build a cluster (kr_plan_cluster_new + add_* + seal, or
 * kr_plan_cluster_from_json), describe the request (brokers to evacuate or a stack to
 * drain, and the eligible targets), call kr_plan_new, then read the moves, the
 * reassignment JSON, the summary, or split it into batches for the executor. */
#ifndef KR_PLANNER_H
#define KR_PLANNER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ cluster input */

typedef struct kr_plan_cluster kr_plan_cluster_t;

/* One broker as the caller knows it. Strings are copied by add_broker. */
typedef struct {
    int32_t id;          /* >= 0 */
    const char *rack;    /* NULL when the broker has no broker.rack */
    int alive;           /* registered in /brokers/ids */
    const char *stack;   /* NULL: derived from the id and the cluster's stacks */
} kr_plan_broker_t;

/* A stack (blue/green generation of brokers) is an inclusive id range. */
typedef struct {
    char name[64];
    int32_t lo, hi;
} kr_plan_stack_t;

/* Returns a new, empty cluster (NULL only when out of memory). Free with
 * kr_plan_cluster_free. */
kr_plan_cluster_t *kr_plan_cluster_new(void);
void kr_plan_cluster_free(kr_plan_cluster_t *c);

/* Adds a stack; a later stack with the same name replaces the earlier one (so a CLI's
 * --stacks overrides a snapshot's). Ranges of different stacks must not overlap (checked
 * by seal). Returns 0, KR_EINVAL (empty name, lo > hi, negative) or KR_ENOMEM. */
int kr_plan_cluster_add_stack(kr_plan_cluster_t *c, const char *name, int32_t lo, int32_t hi,
                              char *err, size_t errlen);
/* Adds a broker (copied). A broker id given twice is an error at seal. */
int kr_plan_cluster_add_broker(kr_plan_cluster_t *c, const kr_plan_broker_t *b, char *err,
                               size_t errlen);
/* Adds a partition with its ordered replica list (copied; replicas[0] is the preferred
 * leader). rf >= 1, ids >= 0, no id twice. A replica whose broker was never added is an
 * unregistered broker: seal adds it as not alive, without rack. */
int kr_plan_cluster_add_partition(kr_plan_cluster_t *c, const char *topic, int32_t partition,
                                  const int32_t *replicas, size_t rf, char *err, size_t errlen);
/* Checks and indexes the cluster (duplicates, overlapping stacks, derived stacks, replica
 * and leader counts). After seal the cluster is read-only; adds fail with KR_ESTATE. */
int kr_plan_cluster_seal(kr_plan_cluster_t *c, char *err, size_t errlen);

/* Builds and seals a cluster from a snapshot (borrowed):
 *   {"brokers":[{"id":1,"rack":"a","alive":true,"stack":"blue"},...],
 *    "partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]},...],
 *    "stacks":{"blue":"1-1000","green":"1001-2000"}}
 * "rack", "alive" (default true), "stack" and "stacks" are optional; unknown keys are
 * ignored. `stacks` (may be NULL) are added after the snapshot's and override them by
 * name. On success *out is a new cluster; on failure *out is NULL and err names the
 * offending member ("partitions[3].replicas: ..."). */
int kr_plan_cluster_from_json(const json_t *snapshot, const kr_plan_stack_t *stacks,
                              size_t nstacks, kr_plan_cluster_t **out, char *err, size_t errlen);

size_t kr_plan_cluster_brokers(const kr_plan_cluster_t *c);
size_t kr_plan_cluster_partitions(const kr_plan_cluster_t *c);
/* Current replica count of a broker (0 when unknown). Sealed clusters only. */
int kr_plan_cluster_replica_count(const kr_plan_cluster_t *c, int32_t broker);

/* Parses "blue=1-1000,green=1001-2000" into at most max stacks. Returns the number of
 * stacks (>= 0) or KR_EINVAL with err set. */
int kr_plan_stacks_parse(const char *spec, kr_plan_stack_t *out, size_t max, char *err,
                         size_t errlen);

/* ------------------------------------------------------------------ request */

typedef enum {
    KR_PLAN_TO_SAME_STACK = 0, /* alive brokers of each evacuated broker's own stack */
    KR_PLAN_TO_ANY,            /* every alive broker not being evacuated */
    KR_PLAN_TO_STACK,          /* alive brokers of stack `stack` */
    KR_PLAN_TO_RANGE,          /* alive brokers with lo <= id <= hi */
} kr_plan_to_kind_t;

typedef struct {
    kr_plan_to_kind_t kind;
    char stack[64]; /* KR_PLAN_TO_STACK */
    int32_t lo, hi; /* KR_PLAN_TO_RANGE */
} kr_plan_targets_t;

/* Parses "same-stack", "any", "stack:NAME" (also "stack: NAME") or "A-B". Returns 0 or
 * KR_EINVAL with err set. Evacuated brokers are never targets, whatever the spec. */
int kr_plan_targets_parse(const char *spec, kr_plan_targets_t *out, char *err, size_t errlen);
/* Writes the spec back in the form parse accepts ("stack:green"). Returns buf. */
char *kr_plan_targets_format(const kr_plan_targets_t *t, char *buf, size_t len);

typedef struct {
    const int32_t *evacuate;  /* borrowed; may be NULL when n_evacuate is 0 */
    size_t n_evacuate;
    const char *drain_stack;  /* borrowed; NULL, or every broker of this stack is evacuated */
    kr_plan_targets_t to;
} kr_plan_request_t;

/* ------------------------------------------------------------------ plan */

typedef struct kr_plan kr_plan_t;

/* Plans the evacuation. `c` must be sealed and is borrowed for the plan's whole life
 * (free the plan first). On success *out is a new plan (possibly with no moves); on
 * failure *out is NULL, err names the cause (for a partition without an eligible target:
 * "orders-7: no eligible target: every alive broker in stack green is already a
 * replica") and nothing is returned half-done. Returns 0, KR_EINVAL, KR_ENOTFOUND (an
 * evacuated broker or stack that the cluster does not know), KR_ESTATE (cluster not
 * sealed) or KR_ENOMEM. Cost: one pass over the replicas plus, per moved replica,
 * O(racks * rf + log brokers); see docs/PERFORMANCE.md "Planner". */
int kr_plan_new(const kr_plan_cluster_t *c, const kr_plan_request_t *req, kr_plan_t **out,
                char *err, size_t errlen);
void kr_plan_free(kr_plan_t *p);

/* One partition move. Pointers are borrowed from the plan (and its cluster). */
typedef struct {
    const char *topic;
    int32_t partition;
    size_t rf;
    const int32_t *from;  /* the current replica list */
    const int32_t *to;    /* the planned replica list: same length, same positions */
    int rack_warning;     /* a new replica shares a rack with another replica */
} kr_plan_move_t;

/* Moves are sorted by topic (bytewise) then partition number. */
size_t kr_plan_moves(const kr_plan_t *p);
/* Fills *m with move i (< kr_plan_moves). */
void kr_plan_move(const kr_plan_t *p, size_t i, kr_plan_move_t *m);

/* Returns a new reference: {"version":1,"partitions":[{"topic":..,"partition":..,
 * "replicas":[..]},...]} sorted by topic then partition, the document
 * kafka-reassign-partitions.sh --execute and /admin/reassign_partitions accept.
 * NULL only when out of memory. */
json_t *kr_plan_reassignment_json(const kr_plan_t *p);

/* Returns a new reference:
 *   {"partitions_moved":N,"replicas_moved":N,"evacuated":[ids],"targets":"stack:green",
 *    "sources":{"3":N,...},"destinations":{"1001":N,...},
 *    "rack_warnings":["orders-7: new replica 1003 shares rack az1 with broker 1001 ..."],
 *    "target_replicas":{"1001":{"before":N,"after":N},...}}
 * (destinations and target_replicas cover every eligible target, moved to or not). */
json_t *kr_plan_summary_json(const kr_plan_t *p);
/* Rack warnings, one sentence per partition whose new replicas could not all be put in a
 * rack that no other replica of the partition uses. Borrowed strings. */
size_t kr_plan_rack_warnings(const kr_plan_t *p);
const char *kr_plan_rack_warning(const kr_plan_t *p, size_t i);

/* ------------------------------------------------------------------ batches */

typedef struct kr_plan_batches kr_plan_batches_t;

/* Splits the plan into batches, in move order (first fit), so that no broker (a source
 * that loses a replica or a target that gains one) takes part in more than
 * max_moves_per_broker partition moves of one batch. Every move is in exactly one batch.
 * Returns 0 with *out new, or KR_EINVAL (max < 1) / KR_ENOMEM. */
int kr_plan_batch(const kr_plan_t *p, int max_moves_per_broker, kr_plan_batches_t **out,
                  char *err, size_t errlen);
void kr_plan_batches_free(kr_plan_batches_t *b);
size_t kr_plan_batches_count(const kr_plan_batches_t *b);
size_t kr_plan_batch_size(const kr_plan_batches_t *b, size_t batch);
/* The index (for kr_plan_move) of the i-th move of a batch; ascending within a batch. */
size_t kr_plan_batch_move(const kr_plan_batches_t *b, size_t batch, size_t i);
/* Returns a new reference: the reassignment JSON of one batch (same shape as
 * kr_plan_reassignment_json). */
json_t *kr_plan_batch_json(const kr_plan_t *p, const kr_plan_batches_t *b, size_t batch);

#endif
