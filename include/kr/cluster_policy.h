/* kr/cluster_policy.h: what a cluster's config says about automation on it, for the
 * executor: its guards (max_concurrent_evacuations, pause_when_brokers_down), its dry_run
 * flag and its blue/green stacks as id ranges. Read-only; loop thread (like kr/cluster.h). */
#ifndef KR_CLUSTER_POLICY_H
#define KR_CLUSTER_POLICY_H

#include <stddef.h>

#include "kr/cluster.h"

typedef struct {
    int max_concurrent_evacuations; /* default 1 */
    int pause_when_brokers_down;    /* default 2: more brokers than this down pauses */
    int dry_run;                    /* the cluster's `dry_run: true` */
} kr_cluster_guards_t;

/* Fills *out from the cluster's config. */
void kr_cluster_guards(const kr_cluster_t *c, kr_cluster_guards_t *out);

/* Stacks of the cluster's config: how many, and the i-th (name borrowed from the config;
 * lo..hi inclusive). Returns 0 or KR_ENOTFOUND when i is out of range. */
size_t kr_cluster_stack_count(const kr_cluster_t *c);
int kr_cluster_stack_at(const kr_cluster_t *c, size_t i, const char **name, int *lo, int *hi);

#endif
