/* cluster/cluster_policy.c: read access to a cluster's guards, dry_run flag and stacks
 * (kr/cluster_policy.h), for the executor. */
#include "cluster_internal.h"
#include "kr/cluster_policy.h"
#include "kr/err.h"

void kr_cluster_guards(const kr_cluster_t *c, kr_cluster_guards_t *out)
{
    out->max_concurrent_evacuations = c->cfg.max_concurrent_evacuations;
    out->pause_when_brokers_down = c->cfg.pause_when_brokers_down;
    out->dry_run = c->cfg.dry_run;
}

size_t kr_cluster_stack_count(const kr_cluster_t *c) { return c->cfg.n_stacks; }

int kr_cluster_stack_at(const kr_cluster_t *c, size_t i, const char **name, int *lo, int *hi)
{
    if (i >= c->cfg.n_stacks)
        return KR_ENOTFOUND;
    *name = c->cfg.stacks[i].name;
    *lo = c->cfg.stacks[i].lo;
    *hi = c->cfg.stacks[i].hi;
    return KR_OK;
}
