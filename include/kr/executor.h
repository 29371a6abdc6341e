/* kr/executor.h: the pure bookkeeping of an evacuation (evacuate, drain_stack): the
 * journaled state of a run (plan, batches and how far each got), the reassignment JSON
 * of one batch, the replication throttles a batch needs and how they are merged into and
 * removed from a Kafka config znode, and the checks that decide whether a reassignment
 * znode is ours and whether a partition reached its target. No I/O, no globals, no clock:
 * the runtime in actions/evacuate.c does the ZooKeeper calls. Any thread, on values the
 * caller owns.
 *
 * The state object (the run's progress detail, journaled with every progress message):
 *   {"version":1, "cluster":"orders", "kind":"evacuate", "request":{...},
 *    "summary":{planner summary}, "reassignment":{"version":1,"partitions":[...]},
 *    "original":[[pre-move replicas], ...]  (parallel to reassignment.partitions),
 *    "batches":[{"partitions":[indexes into reassignment.partitions],
 *                "state":"pending|writing|written|done", "mismatched":["t-3",...]}],
 *    "batches_total":N, "batches_done":N, "partitions_total":N, "partitions_moved":N,
 *    "current":index|null, "throttles":{...}|null, "cancel_requested":bool} */
#ifndef KR_EXECUTOR_H
#define KR_EXECUTOR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kr/planner.h"

/* Batch states, in the order a batch goes through them. */
#define KR_EXEC_PENDING "pending"  /* not started */
#define KR_EXEC_WRITING "writing"  /* about to create /admin/reassign_partitions (journaled
                                    * first: after a crash the znode may or may not exist) */
#define KR_EXEC_WRITTEN "written"  /* created by us: never written again */
#define KR_EXEC_DONE "done"        /* the controller finished and we checked the partitions */

/* Builds a new state from a plan and its batches. `request` (borrowed, copied) is what the
 * run was asked ({"brokers":[..],"to":"same-stack","throttle":N,...}); cluster and kind
 * are copied. Returns a new reference, or NULL when out of memory. */
json_t *kr_exec_state_new(const char *cluster, const char *kind, const json_t *request,
                          const kr_plan_t *plan, const kr_plan_batches_t *batches);

/* Checks that a journaled state (borrowed) has the shape kr_exec_state_new writes and that
 * every index and list is consistent, so the runtime can trust it after a restart.
 * Returns 0 or KR_EINVAL with err naming the member. */
int kr_exec_state_check(const json_t *state, char *err, size_t errlen);

size_t kr_exec_batches(const json_t *state);
/* The state name of a batch (borrowed), or NULL when out of range. */
const char *kr_exec_batch_state(const json_t *state, size_t batch);
/* Sets a batch's state and keeps batches_done / partitions_moved / current in step
 * (a batch entering "done" adds its partitions, minus the mismatched ones, to
 * partitions_moved). Returns 0 or KR_EINVAL (unknown state, bad index). */
int kr_exec_batch_set_state(json_t *state, size_t batch, const char *batch_state);
/* The first batch that is not done, or kr_exec_batches() when all are. */
size_t kr_exec_next_batch(const json_t *state);

/* The reassignment JSON of one batch ({"version":1,"partitions":[..]}, the subset of the
 * plan's document), a new reference; NULL when out of range. */
json_t *kr_exec_batch_reassignment(const json_t *state, size_t batch);

/* The throttles one batch needs, as kafka-reassign-partitions.sh computes them for the
 * moves it executes: a new object {"brokers/<id>": {"leader.replication.throttled.rate":
 * "<rate>", "follower.replication.throttled.rate": "<rate>"}, "topics/<t>":
 * {"leader.replication.throttled.replicas": "P:B,...", "follower.replication.throttled.
 * replicas": "P:B,..."}}: every broker that is a replica before or after a move gets the
 * rates; the leader list holds every pre-move replica of each moving partition, the
 * follower list the move destinations only. Entries are sorted (partition, then broker).
 * rate_bytes must be > 0. NULL when out of range or out of memory. */
json_t *kr_exec_batch_throttles(const json_t *state, size_t batch, int64_t rate_bytes);

/* Merges `want` (one entity's object of the shape above, borrowed) into `config` (the
 * entity's config object of string values, modified) without touching other keys: a rate
 * is set only when the key is absent (an operator's rate is kept); a replica list gets the
 * entries it lacks (a "*" list already throttles everything). *added is a new object of
 * exactly what was added (same shape: rates, and for lists only the new entries), empty
 * when nothing was. Returns 1 when config changed, 0 when not, KR_EINVAL / KR_ENOMEM. */
int kr_exec_config_apply(json_t *config, const json_t *want, json_t **added);
/* Removes what kr_exec_config_apply added (`added`, borrowed): a rate only if it still has
 * the value we wrote, list entries we added (the key goes when the list ends empty).
 * Returns 1 when config changed, 0 when not, KR_EINVAL. */
int kr_exec_config_remove(json_t *config, const json_t *added);

/* 1 when the data of /admin/reassign_partitions describes exactly `reassignment` (the
 * same partitions with the same replica lists, in any order), 0 when not or when it does
 * not decode. */
int kr_exec_reassignment_same(const char *data, size_t len, const json_t *reassignment);

/* 1 when a partition reached its target: its replica list is exactly `target` (order
 * included; the controller writes the target when the move completes) and its ISR holds
 * the same brokers (any order). */
int kr_exec_partition_done(const int *replicas, size_t n_replicas, const int *isr, size_t n_isr,
                           const json_t *target);

#endif
