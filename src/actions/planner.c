/* actions/planner.c: the replica evacuation planner: the sealed cluster model (brokers,
 * racks, stacks, partitions in topic/partition order), the greedy rack-aware balanced
 * choice of targets with a balancing repair pass, the plan's outputs and its batches.
 *
 * DESIGN: pure and deterministic. Brokers are indexed in id order, so "ties broken by
 * broker id" is "lowest index". Target choice keeps, per target group and per rack, two
 * indexed binary heaps of the group's brokers: one ordered by (replicas, id), one by
 * (replicas, preferred leaderships, id) for position 0. A replacement looks at the best
 * broker of each rack that no other replica uses (skipping the few brokers already in
 * the partition with a best-first walk of the heap), so one choice costs
 * O(racks * rf + log brokers), not O(brokers). A final pass moves replacements from a
 * target that ended two or more above the least-loaded one when a legal move exists. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/planner.h"

#define NONE UINT32_MAX

/* ------------------------------------------------------------------ string table */

typedef struct {
    char **names;
    uint32_t n, cap;
    uint32_t *slots; /* open addressing: index + 1, 0 when empty */
    uint32_t nslots;
} strtab_t;

static uint32_t str_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void strtab_deinit(strtab_t *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        free(t->names[i]);
    free(t->names);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static int64_t strtab_find(const strtab_t *t, const char *s)
{
    if (!t->nslots)
        return -1;
    for (uint32_t i = str_hash(s) & (t->nslots - 1);; i = (i + 1) & (t->nslots - 1)) {
        uint32_t v = t->slots[i];
        if (!v)
            return -1;
        if (strcmp(t->names[v - 1], s) == 0)
            return v - 1;
    }
}

static int strtab_grow(strtab_t *t)
{
    uint32_t ns = t->nslots ? t->nslots * 2 : 64;
    uint32_t *slots = calloc(ns, sizeof *slots);
    if (!slots)
        return KR_ENOMEM;
    for (uint32_t k = 0; k < t->n; k++) {
        uint32_t i = str_hash(t->names[k]) & (ns - 1);
        while (slots[i])
            i = (i + 1) & (ns - 1);
        slots[i] = k + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = ns;
    return KR_OK;
}

/* Returns the index of s (added when new) or a negative KR_E*. */
static int64_t strtab_intern(strtab_t *t, const char *s)
{
    int64_t found = strtab_find(t, s);
    if (found >= 0)
        return found;
    if ((uint64_t)(t->n + 1) * 2 > t->nslots && strtab_grow(t) < 0)
        return KR_ENOMEM;
    if (t->n == t->cap) {
        uint32_t nc = t->cap ? t->cap * 2 : 16;
        char **names = realloc(t->names, nc * sizeof *names);
        if (!names)
            return KR_ENOMEM;
        t->names = names;
        t->cap = nc;
    }
    char *copy = strdup(s);
    if (!copy)
        return KR_ENOMEM;
    t->names[t->n] = copy;
    uint32_t i = str_hash(s) & (t->nslots - 1);
    while (t->slots[i])
        i = (i + 1) & (t->nslots - 1);
    t->slots[i] = t->n + 1;
    return t->n++;
}

/* Grows *arr (elements of size sz) so it holds at least need elements. */
static int grow(void **arr, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return KR_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, nc * sz);
    if (!p)
        return KR_ENOMEM;
    *arr = p;
    *cap = nc;
    return KR_OK;
}

/* ------------------------------------------------------------------ cluster */

typedef struct {
    int32_t id;
    int32_t rack;  /* index in racks, -1 none */
    int32_t stack; /* before seal: index in stack_names (explicit) or -1; after: stacks index */
    uint8_t alive;
    uint8_t registered;
} pbroker_t;

struct kr_plan_cluster {
    int sealed;
    strtab_t topics, racks, stack_names;
    kr_plan_stack_t *stacks;
    uint8_t *stack_ranged; /* 0: a stack known only by brokers that name it */
    size_t nstacks, cap_stacks, cap_ranged;
    pbroker_t *brokers;
    size_t nb, cap_b;
    uint32_t *p_topic;
    int32_t *p_num;
    uint32_t *p_off; /* np + 1 offsets into rep_id */
    size_t np, cap_p, cap_pn, cap_off;
    int32_t *rep_id;
    size_t nrep, cap_rep;
    /* after seal */
    uint32_t *rep_idx;
    uint32_t *rcount, *lcount;
    uint32_t rf_max;
};

kr_plan_cluster_t *kr_plan_cluster_new(void)
{
    kr_plan_cluster_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->p_off = calloc(16, sizeof *c->p_off);
    if (!c->p_off) {
        free(c);
        return NULL;
    }
    c->cap_off = 16;
    return c;
}

void kr_plan_cluster_free(kr_plan_cluster_t *c)
{
    if (!c)
        return;
    strtab_deinit(&c->topics);
    strtab_deinit(&c->racks);
    strtab_deinit(&c->stack_names);
    free(c->stacks);
    free(c->stack_ranged);
    free(c->brokers);
    free(c->p_topic);
    free(c->p_num);
    free(c->p_off);
    free(c->rep_id);
    free(c->rep_idx);
    free(c->rcount);
    free(c->lcount);
    free(c);
}

size_t kr_plan_cluster_brokers(const kr_plan_cluster_t *c) { return c->nb; }
size_t kr_plan_cluster_partitions(const kr_plan_cluster_t *c) { return c->np; }

static int64_t stack_find(const kr_plan_cluster_t *c, const char *name)
{
    for (size_t i = 0; i < c->nstacks; i++)
        if (strcmp(c->stacks[i].name, name) == 0)
            return (int64_t)i;
    return -1;
}

static int stack_append(kr_plan_cluster_t *c, const char *name, int32_t lo, int32_t hi,
                        int ranged)
{
    if (grow((void **)&c->stacks, &c->cap_stacks, c->nstacks + 1, sizeof *c->stacks) < 0 ||
        grow((void **)&c->stack_ranged, &c->cap_ranged, c->nstacks + 1, 1) < 0)
        return KR_ENOMEM;
    kr_plan_stack_t *s = &c->stacks[c->nstacks];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->lo = lo;
    s->hi = hi;
    c->stack_ranged[c->nstacks++] = (uint8_t)ranged;
    return KR_OK;
}

int kr_plan_cluster_add_stack(kr_plan_cluster_t *c, const char *name, int32_t lo, int32_t hi,
                              char *err, size_t errlen)
{
    if (c->sealed)
        return kr_seterr(err, errlen, KR_ESTATE, "the cluster is sealed: add stacks before seal");
    if (!name || !*name || strlen(name) >= sizeof c->stacks[0].name)
        return kr_seterr(err, errlen, KR_EINVAL, "a stack needs a name of 1 to %zu characters",
                         sizeof c->stacks[0].name - 1);
    if (lo < 0 || lo > hi)
        return kr_seterr(err, errlen, KR_EINVAL,
                         "stack %s: the range %d-%d is empty or negative; write LOW-HIGH", name,
                         (int)lo, (int)hi);
    int64_t i = stack_find(c, name);
    if (i >= 0) {
        c->stacks[i].lo = lo;
        c->stacks[i].hi = hi;
        c->stack_ranged[i] = 1;
        return KR_OK;
    }
    if (stack_append(c, name, lo, hi, 1) < 0)
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory adding stack %s", name);
    return KR_OK;
}

int kr_plan_cluster_add_broker(kr_plan_cluster_t *c, const kr_plan_broker_t *b, char *err,
                               size_t errlen)
{
    if (c->sealed)
        return kr_seterr(err, errlen, KR_ESTATE, "the cluster is sealed: add brokers before seal");
    if (b->id < 0)
        return kr_seterr(err, errlen, KR_EINVAL, "broker id %d is negative", (int)b->id);
    if (b->stack && (!*b->stack || strlen(b->stack) >= sizeof c->stacks[0].name))
        return kr_seterr(err, errlen, KR_EINVAL, "broker %d: stack name must have 1 to %zu characters",
                         (int)b->id, sizeof c->stacks[0].name - 1);
    if (grow((void **)&c->brokers, &c->cap_b, c->nb + 1, sizeof *c->brokers) < 0)
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory adding broker %d", (int)b->id);
    pbroker_t pb = { .id = b->id, .rack = -1, .stack = -1, .alive = b->alive ? 1 : 0,
                     .registered = 1 };
    if (b->rack) {
        int64_t r = strtab_intern(&c->racks, b->rack);
        if (r < 0)
            return kr_seterr(err, errlen, KR_ENOMEM, "out of memory adding broker %d", (int)b->id);
        pb.rack = (int32_t)r;
    }
    if (b->stack) {
        int64_t s = strtab_intern(&c->stack_names, b->stack);
        if (s < 0)
            return kr_seterr(err, errlen, KR_ENOMEM, "out of memory adding broker %d", (int)b->id);
        pb.stack = (int32_t)s;
    }
    c->brokers[c->nb++] = pb;
    return KR_OK;
}

int kr_plan_cluster_add_partition(kr_plan_cluster_t *c, const char *topic, int32_t partition,
                                  const int32_t *replicas, size_t rf, char *err, size_t errlen)
{
    if (c->sealed)
        return kr_seterr(err, errlen, KR_ESTATE, "the cluster is sealed: add partitions before seal");
    if (!topic || !*topic)
        return kr_seterr(err, errlen, KR_EINVAL, "a partition needs a topic name");
    if (partition < 0)
        return kr_seterr(err, errlen, KR_EINVAL, "%s-%d: partition number is negative", topic,
                         (int)partition);
    if (rf < 1 || rf > 255)
        return kr_seterr(err, errlen, KR_EINVAL, "%s-%d: a partition needs 1 to 255 replicas, not %zu",
                         topic, (int)partition, rf);
    for (size_t i = 0; i < rf; i++) {
        if (replicas[i] < 0)
            return kr_seterr(err, errlen, KR_EINVAL, "%s-%d: replica id %d is negative", topic,
                             (int)partition, (int)replicas[i]);
        for (size_t j = 0; j < i; j++)
            if (replicas[j] == replicas[i])
                return kr_seterr(err, errlen, KR_EINVAL, "%s-%d: broker %d is a replica twice",
                                 topic, (int)partition, (int)replicas[i]);
    }
    if (c->nrep + rf > UINT32_MAX - 1)
        return kr_seterr(err, errlen, KR_EINVAL, "too many replicas for one plan");
    int64_t t = strtab_intern(&c->topics, topic);
    if (t < 0 ||
        grow((void **)&c->p_topic, &c->cap_p, c->np + 1, sizeof *c->p_topic) < 0 ||
        grow((void **)&c->p_num, &c->cap_pn, c->np + 1, sizeof *c->p_num) < 0 ||
        grow((void **)&c->p_off, &c->cap_off, c->np + 2, sizeof *c->p_off) < 0 ||
        grow((void **)&c->rep_id, &c->cap_rep, c->nrep + rf, sizeof *c->rep_id) < 0)
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory adding %s-%d", topic, (int)partition);
    c->p_topic[c->np] = (uint32_t)t;
    c->p_num[c->np] = partition;
    memcpy(c->rep_id + c->nrep, replicas, rf * sizeof *replicas);
    c->nrep += rf;
    c->np++;
    c->p_off[c->np] = (uint32_t)c->nrep;
    return KR_OK;
}

static int cmp_broker_id(const void *a, const void *b)
{
    int32_t x = ((const pbroker_t *)a)->id, y = ((const pbroker_t *)b)->id;
    return (x > y) - (x < y);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_topic_name(const void *a, const void *b, void *arg)
{
    const strtab_t *t = arg;
    return strcmp(t->names[*(const uint32_t *)a], t->names[*(const uint32_t *)b]);
}

typedef struct {
    const uint32_t *rank;
    const uint32_t *topic;
    const int32_t *num;
} psort_t;

static int cmp_partition(const void *a, const void *b, void *arg)
{
    const psort_t *s = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    uint32_t rx = s->rank[s->topic[x]], ry = s->rank[s->topic[y]];
    if (rx != ry)
        return rx < ry ? -1 : 1;
    return (s->num[x] > s->num[y]) - (s->num[x] < s->num[y]);
}

static int64_t broker_index(const kr_plan_cluster_t *c, int32_t id)
{
    size_t lo = 0, hi = c->nb;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->brokers[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->nb && c->brokers[lo].id == id ? (int64_t)lo : -1;
}

int kr_plan_cluster_replica_count(const kr_plan_cluster_t *c, int32_t broker)
{
    if (!c->sealed)
        return 0;
    int64_t i = broker_index(c, broker);
    return i < 0 ? 0 : (int)c->rcount[i];
}

static int seal_stacks(kr_plan_cluster_t *c, char *err, size_t errlen)
{
    /* Ranged stacks must not overlap: a broker id belongs to one stack. */
    for (size_t i = 0; i < c->nstacks; i++)
        for (size_t j = i + 1; j < c->nstacks; j++) {
            const kr_plan_stack_t *a = &c->stacks[i], *b = &c->stacks[j];
            if (c->stack_ranged[i] && c->stack_ranged[j] && a->lo <= b->hi && b->lo <= a->hi)
                return kr_seterr(err, errlen, KR_EINVAL, "stacks %s (%d-%d) and %s (%d-%d) overlap",
                                 a->name, (int)a->lo, (int)a->hi, b->name, (int)b->lo, (int)b->hi);
        }
    /* Brokers that name their stack keep it; the others take the stack of their id. */
    for (size_t k = 0; k < c->nb; k++) {
        pbroker_t *b = &c->brokers[k];
        if (b->stack >= 0) {
            const char *name = c->stack_names.names[b->stack];
            int64_t s = stack_find(c, name);
            if (s < 0) {
                if (stack_append(c, name, 0, -1, 0) < 0)
                    return kr_seterr(err, errlen, KR_ENOMEM, "out of memory sealing the cluster");
                s = (int64_t)c->nstacks - 1;
            }
            b->stack = (int32_t)s;
            continue;
        }
        for (size_t s = 0; s < c->nstacks; s++)
            if (c->stack_ranged[s] && b->id >= c->stacks[s].lo && b->id <= c->stacks[s].hi) {
                b->stack = (int32_t)s;
                break;
            }
    }
    return KR_OK;
}

int kr_plan_cluster_seal(kr_plan_cluster_t *c, char *err, size_t errlen)
{
    int rc = KR_OK;
    int32_t *unknown = NULL;
    uint32_t *order = NULL, *rank = NULL, *perm = NULL;
    uint32_t *n_topic = NULL, *n_off = NULL;
    int32_t *n_num = NULL, *n_rep = NULL;
    size_t nunknown = 0, cap_unknown = 0;

    if (c->sealed)
        return kr_seterr(err, errlen, KR_ESTATE, "the cluster is already sealed");

    /* Brokers in id order; an id twice is an error. */
    if (c->nb)
        qsort(c->brokers, c->nb, sizeof *c->brokers, cmp_broker_id);
    for (size_t i = 1; i < c->nb; i++)
        if (c->brokers[i].id == c->brokers[i - 1].id) {
            rc = kr_seterr(err, errlen, KR_EINVAL, "broker %d is listed twice", (int)c->brokers[i].id);
            goto done;
        }
    /* Replicas on brokers that are not registered: such a broker is dead (its znode is
     * gone) but its replicas are still assigned, and evacuating it is the main use. */
    for (size_t r = 0; r < c->nrep; r++) {
        if (broker_index(c, c->rep_id[r]) >= 0)
            continue;
        if (grow((void **)&unknown, &cap_unknown, nunknown + 1, sizeof *unknown) < 0)
            goto nomem;
        unknown[nunknown++] = c->rep_id[r];
        if (nunknown > 4096) { /* compact now and then: few distinct ids */
            qsort(unknown, nunknown, sizeof *unknown, cmp_i32);
            size_t w = 0;
            for (size_t i = 0; i < nunknown; i++)
                if (!w || unknown[w - 1] != unknown[i])
                    unknown[w++] = unknown[i];
            nunknown = w;
        }
    }
    if (nunknown) {
        qsort(unknown, nunknown, sizeof *unknown, cmp_i32);
        for (size_t i = 0; i < nunknown; i++) {
            if (i && unknown[i] == unknown[i - 1])
                continue;
            if (grow((void **)&c->brokers, &c->cap_b, c->nb + 1, sizeof *c->brokers) < 0)
                goto nomem;
            c->brokers[c->nb++] = (pbroker_t){ .id = unknown[i], .rack = -1, .stack = -1 };
        }
        qsort(c->brokers, c->nb, sizeof *c->brokers, cmp_broker_id);
    }
    if ((rc = seal_stacks(c, err, errlen)) < 0)
        goto done;

    /* Topics ranked by name; partitions sorted by (topic, number). */
    order = malloc((c->topics.n + 1) * sizeof *order);
    rank = malloc((c->topics.n + 1) * sizeof *rank);
    perm = malloc((c->np + 1) * sizeof *perm);
    if (!order || !rank || !perm)
        goto nomem;
    for (uint32_t i = 0; i < c->topics.n; i++)
        order[i] = i;
    qsort_r(order, c->topics.n, sizeof *order, cmp_topic_name, &c->topics);
    for (uint32_t i = 0; i < c->topics.n; i++)
        rank[order[i]] = i;
    for (uint32_t i = 0; i < c->np; i++)
        perm[i] = i;
    psort_t ps = { rank, c->p_topic, c->p_num };
    qsort_r(perm, c->np, sizeof *perm, cmp_partition, &ps);
    for (size_t i = 1; i < c->np; i++)
        if (cmp_partition(&perm[i - 1], &perm[i], &ps) == 0) {
            rc = kr_seterr(err, errlen, KR_EINVAL, "partition %s-%d is listed twice",
                           c->topics.names[c->p_topic[perm[i]]], (int)c->p_num[perm[i]]);
            goto done;
        }
    n_topic = malloc((c->np + 1) * sizeof *n_topic);
    n_num = malloc((c->np + 1) * sizeof *n_num);
    n_off = malloc((c->np + 1) * sizeof *n_off);
    n_rep = malloc((c->nrep + 1) * sizeof *n_rep);
    c->rep_idx = malloc((c->nrep + 1) * sizeof *c->rep_idx);
    c->rcount = calloc(c->nb + 1, sizeof *c->rcount);
    c->lcount = calloc(c->nb + 1, sizeof *c->lcount);
    if (!n_topic || !n_num || !n_off || !n_rep || !c->rep_idx || !c->rcount || !c->lcount)
        goto nomem;
    size_t w = 0;
    n_off[0] = 0;
    for (size_t i = 0; i < c->np; i++) {
        uint32_t p = perm[i];
        uint32_t rf = c->p_off[p + 1] - c->p_off[p];
        n_topic[i] = c->p_topic[p];
        n_num[i] = c->p_num[p];
        memcpy(n_rep + w, c->rep_id + c->p_off[p], rf * sizeof *n_rep);
        w += rf;
        n_off[i + 1] = (uint32_t)w;
        if (rf > c->rf_max)
            c->rf_max = rf;
    }
    free(c->p_topic);
    free(c->p_num);
    free(c->p_off);
    free(c->rep_id);
    c->p_topic = n_topic;
    c->p_num = n_num;
    c->p_off = n_off;
    c->rep_id = n_rep;
    n_topic = n_off = NULL;
    n_num = n_rep = NULL;
    c->cap_p = c->cap_pn = c->np + 1;
    c->cap_off = c->np + 1;
    c->cap_rep = c->nrep + 1;

    /* Replica ids to broker indices (a direct table when ids are small, the usual case). */
    int32_t max_id = c->nb ? c->brokers[c->nb - 1].id : 0;
    uint32_t *direct = max_id < (1 << 22) ? malloc(((size_t)max_id + 1) * sizeof *direct) : NULL;
    if (direct)
        for (size_t k = 0; k < c->nb; k++)
            direct[c->brokers[k].id] = (uint32_t)k;
    for (size_t p = 0; p < c->np; p++)
        for (uint32_t r = c->p_off[p]; r < c->p_off[p + 1]; r++) {
            uint32_t k = direct ? direct[c->rep_id[r]] : (uint32_t)broker_index(c, c->rep_id[r]);
            c->rep_idx[r] = k;
            c->rcount[k]++;
            if (r == c->p_off[p])
                c->lcount[k]++;
        }
    free(direct);
    c->sealed = 1;
    goto done;

nomem:
    rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory sealing the cluster");
done:
    free(n_rep);
    free(n_off);
    free(n_num);
    free(n_topic);
    free(perm);
    free(rank);
    free(order);
    free(unknown);
    return rc;
}

/* ------------------------------------------------------------------ target heaps */

enum { KEY_REPLICAS = 0, KEY_LEADER = 1 };

typedef struct {
    uint32_t *a;
    uint32_t n;
} heap_t;

typedef struct {
    int32_t rack; /* -1: brokers without a rack (never conflict) */
    heap_t h[2];
} rslot_t;

typedef struct {
    rslot_t *slots;
    uint32_t nslots;
    uint32_t *targets; /* broker indices, ascending (= id order) */
    uint32_t ntargets;
    char desc[96];     /* "in stack green", "with an id in 1001-2000", ... */
} group_t;

typedef struct {
    const kr_plan_cluster_t *c;
    uint32_t *cnt, *ld;   /* replica and preferred-leader counts, as planned so far */
    uint32_t *hpos[2];    /* position of each broker in its heap of each key */
    uint32_t *hslot;      /* rack slot of each target in its group */
    int32_t *tgroup;      /* group a broker is a target of, -1 */
    int32_t *sgroup;      /* for an evacuated broker: its targets' group; else -1 */
    group_t *groups;
    uint32_t ngroups;
    uint32_t *cand;       /* scratch for the best-first heap walk */
} pstate_t;

static int key_less(const pstate_t *st, int key, uint32_t x, uint32_t y)
{
    if (st->cnt[x] != st->cnt[y])
        return st->cnt[x] < st->cnt[y];
    if (key == KEY_LEADER && st->ld[x] != st->ld[y])
        return st->ld[x] < st->ld[y];
    return x < y;
}

static void heap_set(pstate_t *st, int key, heap_t *h, uint32_t i, uint32_t b)
{
    h->a[i] = b;
    st->hpos[key][b] = i;
}

static void heap_fix(pstate_t *st, int key, heap_t *h, uint32_t b)
{
    uint32_t i = st->hpos[key][b];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!key_less(st, key, b, h->a[parent]))
            break;
        heap_set(st, key, h, i, h->a[parent]);
        i = parent;
    }
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        uint32_t best = b;
        if (l < h->n && key_less(st, key, h->a[l], best))
            m = l, best = h->a[l];
        if (r < h->n && key_less(st, key, h->a[r], best))
            m = r, best = h->a[r];
        if (m == i)
            break;
        heap_set(st, key, h, i, h->a[m]);
        i = m;
    }
    heap_set(st, key, h, i, b);
}

static int in_list(const uint32_t *list, size_t n, uint32_t b)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == b)
            return 1;
    return 0;
}

/* The best broker of heap h that is not in excl (the partition's replicas): a best-first
 * walk that visits at most |excl| + 1 brokers. NONE when every broker is excluded. */
static uint32_t heap_best(pstate_t *st, int key, const heap_t *h, const uint32_t *excl,
                          size_t nexcl)
{
    uint32_t *cand = st->cand;
    size_t nc = 0;
    if (h->n)
        cand[nc++] = 0;
    while (nc) {
        size_t bi = 0;
        for (size_t i = 1; i < nc; i++)
            if (key_less(st, key, h->a[cand[i]], h->a[cand[bi]]))
                bi = i;
        uint32_t pos = cand[bi];
        cand[bi] = cand[--nc];
        uint32_t b = h->a[pos];
        if (!in_list(excl, nexcl, b))
            return b;
        if (2 * pos + 1 < h->n)
            cand[nc++] = 2 * pos + 1;
        if (2 * pos + 2 < h->n)
            cand[nc++] = 2 * pos + 2;
    }
    return NONE;
}

static int rack_used(const int32_t *used, size_t nused, int32_t rack)
{
    if (rack < 0)
        return 0;
    for (size_t i = 0; i < nused; i++)
        if (used[i] == rack)
            return 1;
    return 0;
}

/* Chooses the replacement: a rack no other replica uses first, then fewest replicas,
 * then (position 0) fewest preferred leaderships, then lowest id. */
static uint32_t choose_target(pstate_t *st, const group_t *g, const int32_t *used, size_t nused,
                              const uint32_t *excl, size_t nexcl, int leader)
{
    int key = leader ? KEY_LEADER : KEY_REPLICAS;
    uint32_t best = NONE, best_fresh = NONE;
    for (uint32_t s = 0; s < g->nslots; s++) {
        uint32_t b = heap_best(st, key, &g->slots[s].h[key], excl, nexcl);
        if (b == NONE)
            continue;
        if (best == NONE || key_less(st, key, b, best))
            best = b;
        if (!rack_used(used, nused, g->slots[s].rack) &&
            (best_fresh == NONE || key_less(st, key, b, best_fresh)))
            best_fresh = b;
    }
    return best_fresh != NONE ? best_fresh : best;
}

static void target_changed(pstate_t *st, uint32_t b)
{
    const group_t *g = &st->groups[st->tgroup[b]];
    rslot_t *s = &g->slots[st->hslot[b]];
    heap_fix(st, KEY_REPLICAS, &s->h[KEY_REPLICAS], b);
    heap_fix(st, KEY_LEADER, &s->h[KEY_LEADER], b);
}

static void pstate_deinit(pstate_t *st)
{
    for (uint32_t g = 0; g < st->ngroups; g++) {
        for (uint32_t s = 0; s < st->groups[g].nslots; s++) {
            free(st->groups[g].slots[s].h[0].a);
            free(st->groups[g].slots[s].h[1].a);
        }
        free(st->groups[g].slots);
        free(st->groups[g].targets);
    }
    free(st->groups);
    free(st->cnt);
    free(st->ld);
    free(st->hpos[0]);
    free(st->hpos[1]);
    free(st->hslot);
    free(st->tgroup);
    free(st->sgroup);
    free(st->cand);
}

/* Fills group g with the alive, non-evacuated brokers that `match` accepts. */
static int group_build(pstate_t *st, group_t *g, uint32_t gi, const uint8_t *evac,
                       const kr_plan_targets_t *to, int32_t stack)
{
    const kr_plan_cluster_t *c = st->c;
    g->targets = malloc((c->nb + 1) * sizeof *g->targets);
    g->slots = calloc(c->racks.n + 1, sizeof *g->slots);
    if (!g->targets || !g->slots)
        return KR_ENOMEM;
    int32_t *slot_of_rack = malloc((c->racks.n + 1) * sizeof *slot_of_rack);
    if (!slot_of_rack)
        return KR_ENOMEM;
    for (uint32_t r = 0; r <= c->racks.n; r++)
        slot_of_rack[r] = -1;
    for (uint32_t b = 0; b < c->nb; b++) {
        const pbroker_t *pb = &c->brokers[b];
        if (!pb->alive || evac[b])
            continue;
        int ok = 0;
        switch (to->kind) {
        case KR_PLAN_TO_SAME_STACK:
        case KR_PLAN_TO_STACK: ok = pb->stack == stack; break;
        case KR_PLAN_TO_ANY: ok = 1; break;
        case KR_PLAN_TO_RANGE: ok = pb->id >= to->lo && pb->id <= to->hi; break;
        }
        if (!ok)
            continue;
        g->targets[g->ntargets++] = b;
        st->tgroup[b] = (int32_t)gi;
        uint32_t rk = pb->rack < 0 ? c->racks.n : (uint32_t)pb->rack;
        if (slot_of_rack[rk] < 0) {
            slot_of_rack[rk] = (int32_t)g->nslots;
            g->slots[g->nslots].rack = pb->rack;
            g->nslots++;
        }
        st->hslot[b] = (uint32_t)slot_of_rack[rk];
    }
    free(slot_of_rack);
    for (uint32_t s = 0; s < g->nslots; s++)
        for (int k = 0; k < 2; k++)
            if (!(g->slots[s].h[k].a = malloc((g->ntargets + 1) * sizeof(uint32_t))))
                return KR_ENOMEM;
    for (uint32_t i = 0; i < g->ntargets; i++) {
        uint32_t b = g->targets[i];
        rslot_t *s = &g->slots[st->hslot[b]];
        for (int k = 0; k < 2; k++) {
            heap_set(st, k, &s->h[k], s->h[k].n, b);
            s->h[k].n++;
            heap_fix(st, k, &s->h[k], b);
        }
    }
    return KR_OK;
}

/* ------------------------------------------------------------------ plan */

struct kr_plan {
    const kr_plan_cluster_t *c;
    kr_plan_targets_t to;
    size_t nmoves;
    uint32_t *mv_part;  /* cluster partition index of each move */
    uint32_t *mv_off;   /* nmoves + 1 offsets into to_id / to_idx */
    int32_t *to_id;
    uint32_t *to_idx;
    uint8_t *warn;
    char **warnings;
    size_t nwarnings;
    int32_t *evacuated; /* ids, ascending */
    size_t nevacuated;
    uint32_t *targets;  /* every eligible target (broker indices, ascending) */
    size_t ntargets;
    uint32_t *after;    /* replica count of each broker after the plan */
};

void kr_plan_free(kr_plan_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nwarnings; i++)
        free(p->warnings[i]);
    free(p->warnings);
    free(p->mv_part);
    free(p->mv_off);
    free(p->to_id);
    free(p->to_idx);
    free(p->warn);
    free(p->evacuated);
    free(p->targets);
    free(p->after);
    free(p);
}

size_t kr_plan_moves(const kr_plan_t *p) { return p->nmoves; }

void kr_plan_move(const kr_plan_t *p, size_t i, kr_plan_move_t *m)
{
    const kr_plan_cluster_t *c = p->c;
    uint32_t part = p->mv_part[i];
    m->topic = c->topics.names[c->p_topic[part]];
    m->partition = c->p_num[part];
    m->rf = c->p_off[part + 1] - c->p_off[part];
    m->from = c->rep_id + c->p_off[part];
    m->to = p->to_id + p->mv_off[i];
    m->rack_warning = p->warn[i];
}

size_t kr_plan_rack_warnings(const kr_plan_t *p) { return p->nwarnings; }
const char *kr_plan_rack_warning(const kr_plan_t *p, size_t i) { return p->warnings[i]; }

/* The rack of the replica at pos is shared by another replica of the final list? Returns
 * the index of that other replica's broker, or NONE. */
static uint32_t rack_conflict(const kr_plan_cluster_t *c, const uint32_t *list, size_t rf,
                              size_t pos)
{
    int32_t r = c->brokers[list[pos]].rack;
    if (r < 0)
        return NONE;
    for (size_t q = 0; q < rf; q++)
        if (q != pos && c->brokers[list[q]].rack == r)
            return list[q];
    return NONE;
}

/* Could the replacement at (list, pos) move to broker u without a duplicate and without
 * breaking the rack rule the replacement now keeps? */
static int move_legal(const kr_plan_cluster_t *c, const uint32_t *list, size_t rf, size_t pos,
                      uint32_t u)
{
    if (in_list(list, rf, u))
        return 0;
    if (rack_conflict(c, list, rf, pos) != NONE)
        return 1; /* the slot already shares a rack: any target is no worse */
    int32_t r = c->brokers[u].rack;
    if (r < 0)
        return 1;
    for (size_t q = 0; q < rf; q++)
        if (q != pos && c->brokers[list[q]].rack == r)
            return 0;
    return 1;
}

typedef struct {
    uint32_t *mv, *next; /* per replacement slot: move index, next slot of the same target */
    uint8_t *pos;
    uint32_t *head;      /* per broker: first slot it received */
} slots_t;

static int cmp_by_count(const void *a, const void *b, void *arg)
{
    const uint32_t *cnt = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (cnt[x] != cnt[y])
        return cnt[x] < cnt[y] ? -1 : 1;
    return (x > y) - (x < y);
}

/* Moves replacements off targets that ended two or more above the least-loaded target of
 * their group, to the least-loaded target that can legally take one. Each move lowers the
 * sum of squared counts, so this ends; it does nothing in the common case. */
static int repair_group(pstate_t *st, kr_plan_t *p, const group_t *g, slots_t *sl)
{
    const kr_plan_cluster_t *c = st->c;
    uint32_t *order = malloc((g->ntargets + 1) * sizeof *order);
    uint8_t *stuck = calloc(c->nb + 1, 1);
    if (!order || !stuck) {
        free(order);
        free(stuck);
        return KR_ENOMEM;
    }
    int progress = 1;
    while (progress) {
        progress = 0;
        memset(stuck, 0, c->nb + 1);
        for (;;) {
            memcpy(order, g->targets, g->ntargets * sizeof *order);
            qsort_r(order, g->ntargets, sizeof *order, cmp_by_count, st->cnt);
            uint32_t mn = st->cnt[order[0]];
            /* the most loaded target that received something and is not known stuck */
            uint32_t t = NONE;
            for (uint32_t i = g->ntargets; i-- > 0;) {
                uint32_t b = order[i];
                if (st->cnt[b] < mn + 2)
                    break;
                if (sl->head[b] != NONE && !stuck[b]) {
                    t = b;
                    break;
                }
            }
            if (t == NONE)
                break;
            int done = 0;
            for (uint32_t i = 0; i < g->ntargets && !done; i++) {
                uint32_t u = order[i];
                if (st->cnt[u] + 2 > st->cnt[t])
                    break;
                for (uint32_t s = sl->head[t], prev = NONE; s != NONE; prev = s, s = sl->next[s]) {
                    uint32_t m = sl->mv[s], pos = sl->pos[s];
                    uint32_t *list = p->to_idx + p->mv_off[m];
                    size_t rf = p->mv_off[m + 1] - p->mv_off[m];
                    if (!move_legal(c, list, rf, pos, u))
                        continue;
                    list[pos] = u;
                    if (prev == NONE)
                        sl->head[t] = sl->next[s];
                    else
                        sl->next[prev] = sl->next[s];
                    sl->next[s] = sl->head[u];
                    sl->head[u] = s;
                    st->cnt[t]--;
                    st->cnt[u]++;
                    if (pos == 0) {
                        st->ld[t]--;
                        st->ld[u]++;
                    }
                    done = progress = 1;
                    break;
                }
            }
            if (!done)
                stuck[t] = 1;
        }
    }
    free(order);
    free(stuck);
    return KR_OK;
}

static void describe_group(const kr_plan_cluster_t *c, const kr_plan_targets_t *to,
                           int32_t stack, char *buf, size_t len)
{
    switch (to->kind) {
    case KR_PLAN_TO_SAME_STACK:
    case KR_PLAN_TO_STACK:
        snprintf(buf, len, "in stack %s", c->stacks[stack].name);
        break;
    case KR_PLAN_TO_RANGE:
        snprintf(buf, len, "with an id in %d-%d", (int)to->lo, (int)to->hi);
        break;
    case KR_PLAN_TO_ANY:
        snprintf(buf, len, "outside the evacuated brokers");
        break;
    }
}

/* Which brokers are evacuated: the listed ids and the brokers of the drained stack. */
static int resolve_evacuated(const kr_plan_cluster_t *c, const kr_plan_request_t *req,
                             uint8_t *evac, char *err, size_t errlen)
{
    if (!req->n_evacuate && !req->drain_stack)
        return kr_seterr(err, errlen, KR_EINVAL, "nothing to evacuate: give brokers or a stack to drain");
    for (size_t i = 0; i < req->n_evacuate; i++) {
        int64_t k = broker_index(c, req->evacuate[i]);
        if (k < 0)
            return kr_seterr(err, errlen, KR_ENOTFOUND,
                             "broker %d is not in the cluster: it is neither registered nor a "
                             "replica of any partition", (int)req->evacuate[i]);
        evac[k] = 1;
    }
    if (req->drain_stack) {
        int64_t s = stack_find(c, req->drain_stack);
        if (s < 0)
            return kr_seterr(err, errlen, KR_ENOTFOUND,
                             "stack %s is unknown: define it (e.g. --stacks %s=1-1000) or name "
                             "it in the brokers' \"stack\"", req->drain_stack, req->drain_stack);
        for (size_t k = 0; k < c->nb; k++)
            if (c->brokers[k].stack == s)
                evac[k] = 1;
    }
    return KR_OK;
}

/* Sets up the target groups: one for any/stack/range, one per stack for same-stack. */
static int build_groups(pstate_t *st, const kr_plan_request_t *req, const uint8_t *evac,
                        char *err, size_t errlen)
{
    const kr_plan_cluster_t *c = st->c;
    const kr_plan_targets_t *to = &req->to;
    st->groups = calloc(c->nstacks + 1, sizeof *st->groups);
    if (!st->groups)
        return KR_ENOMEM;
    if (to->kind != KR_PLAN_TO_SAME_STACK) {
        int32_t stack = -1;
        if (to->kind == KR_PLAN_TO_STACK) {
            int64_t s = stack_find(c, to->stack);
            if (s < 0)
                return kr_seterr(err, errlen, KR_ENOTFOUND,
                                 "target stack %s is unknown: define it (e.g. --stacks "
                                 "%s=1001-2000) or name it in the brokers' \"stack\"",
                                 to->stack, to->stack);
            stack = (int32_t)s;
        }
        if (group_build(st, &st->groups[0], 0, evac, to, stack) < 0)
            return KR_ENOMEM;
        describe_group(c, to, stack, st->groups[0].desc, sizeof st->groups[0].desc);
        st->ngroups = 1;
        for (size_t k = 0; k < c->nb; k++)
            if (evac[k])
                st->sgroup[k] = 0;
        return KR_OK;
    }
    int32_t *group_of_stack = malloc((c->nstacks + 1) * sizeof *group_of_stack);
    if (!group_of_stack)
        return KR_ENOMEM;
    for (size_t s = 0; s < c->nstacks; s++)
        group_of_stack[s] = -1;
    int rc = KR_OK;
    for (size_t k = 0; k < c->nb && rc == KR_OK; k++) {
        if (!evac[k])
            continue;
        int32_t s = c->brokers[k].stack;
        if (s < 0) {
            rc = kr_seterr(err, errlen, KR_EINVAL,
                           "broker %d has no stack, so same-stack has no targets for it: define "
                           "stacks (e.g. --stacks blue=1-1000,green=1001-2000) or choose --to",
                           (int)c->brokers[k].id);
            break;
        }
        if (group_of_stack[s] < 0) {
            uint32_t gi = st->ngroups++;
            if (group_build(st, &st->groups[gi], gi, evac, to, s) < 0) {
                rc = KR_ENOMEM;
                break;
            }
            describe_group(c, to, s, st->groups[gi].desc, sizeof st->groups[gi].desc);
            group_of_stack[s] = (int32_t)gi;
        }
        st->sgroup[k] = group_of_stack[s];
    }
    free(group_of_stack);
    return rc;
}

static int add_warning(kr_plan_t *p, size_t *cap, char *msg)
{
    if (!msg)
        return KR_ENOMEM;
    if (grow((void **)&p->warnings, cap, p->nwarnings + 1, sizeof *p->warnings) < 0) {
        free(msg);
        return KR_ENOMEM;
    }
    p->warnings[p->nwarnings++] = msg;
    return KR_OK;
}

/* Final replica ids, rack warnings and counts, once every choice is made. */
static int plan_finish(kr_plan_t *p, const pstate_t *st, const uint8_t *evac)
{
    const kr_plan_cluster_t *c = p->c;
    size_t cap = 0;
    for (size_t m = 0; m < p->nmoves; m++) {
        uint32_t part = p->mv_part[m];
        const uint32_t *from = c->rep_idx + c->p_off[part];
        uint32_t *list = p->to_idx + p->mv_off[m];
        size_t rf = p->mv_off[m + 1] - p->mv_off[m];
        for (size_t q = 0; q < rf; q++)
            p->to_id[p->mv_off[m] + q] = c->brokers[list[q]].id;
        for (size_t q = 0; q < rf; q++) {
            if (!evac[from[q]])
                continue;
            uint32_t other = rack_conflict(c, list, rf, q);
            if (other == NONE)
                continue;
            p->warn[m] = 1;
            char *msg = NULL;
            if (asprintf(&msg, "%s-%d: new replica %d shares rack %s with broker %d: no "
                         "eligible target in a rack the partition does not use",
                         c->topics.names[c->p_topic[part]], (int)c->p_num[part],
                         (int)c->brokers[list[q]].id, c->racks.names[c->brokers[list[q]].rack],
                         (int)c->brokers[other].id) < 0)
                msg = NULL;
            if (add_warning(p, &cap, msg) < 0)
                return KR_ENOMEM;
            break;
        }
    }
    size_t ne = 0, nt = 0;
    for (size_t k = 0; k < c->nb; k++) {
        ne += evac[k] != 0;
        nt += st->tgroup[k] >= 0;
    }
    p->evacuated = malloc((ne + 1) * sizeof *p->evacuated);
    p->targets = malloc((nt + 1) * sizeof *p->targets);
    p->after = malloc((c->nb + 1) * sizeof *p->after);
    if (!p->evacuated || !p->targets || !p->after)
        return KR_ENOMEM;
    for (size_t k = 0; k < c->nb; k++) {
        if (evac[k])
            p->evacuated[p->nevacuated++] = c->brokers[k].id;
        if (st->tgroup[k] >= 0)
            p->targets[p->ntargets++] = (uint32_t)k;
    }
    memcpy(p->after, st->cnt, c->nb * sizeof *p->after);
    return KR_OK;
}

int kr_plan_new(const kr_plan_cluster_t *c, const kr_plan_request_t *req, kr_plan_t **out,
                char *err, size_t errlen)
{
    int rc = KR_OK;
    kr_plan_t *p = NULL;
    uint8_t *evac = NULL;
    pstate_t st = { .c = c };
    slots_t sl = { 0 };
    uint32_t *excl = NULL;
    int32_t *used = NULL;

    *out = NULL;
    if (!c->sealed)
        return kr_seterr(err, errlen, KR_ESTATE, "the cluster must be sealed before planning");
    size_t nb = c->nb + 1;
    evac = calloc(nb, 1);
    st.cnt = malloc(nb * sizeof *st.cnt);
    st.ld = malloc(nb * sizeof *st.ld);
    st.hpos[0] = malloc(nb * sizeof *st.hpos[0]);
    st.hpos[1] = malloc(nb * sizeof *st.hpos[1]);
    st.hslot = malloc(nb * sizeof *st.hslot);
    st.tgroup = malloc(nb * sizeof *st.tgroup);
    st.sgroup = malloc(nb * sizeof *st.sgroup);
    st.cand = malloc((2 * (size_t)c->rf_max + 4) * sizeof *st.cand);
    excl = malloc((c->rf_max + 1) * sizeof *excl);
    used = malloc((c->rf_max + 1) * sizeof *used);
    p = calloc(1, sizeof *p);
    if (!evac || !st.cnt || !st.ld || !st.hpos[0] || !st.hpos[1] || !st.hslot || !st.tgroup ||
        !st.sgroup || !st.cand || !excl || !used || !p)
        goto nomem;
    p->c = c;
    p->to = req->to;
    memcpy(st.cnt, c->rcount, c->nb * sizeof *st.cnt);
    memcpy(st.ld, c->lcount, c->nb * sizeof *st.ld);
    for (size_t k = 0; k < c->nb; k++)
        st.tgroup[k] = st.sgroup[k] = -1;
    if ((rc = resolve_evacuated(c, req, evac, err, errlen)) < 0)
        goto done;
    if ((rc = build_groups(&st, req, evac, err, errlen)) < 0) {
        if (rc == KR_ENOMEM)
            goto nomem;
        goto done;
    }

    /* Pass 1: which partitions move, and how many replica slots. */
    size_t nmoves = 0, nrep = 0, nslots = 0;
    for (size_t part = 0; part < c->np; part++) {
        size_t e = 0;
        for (uint32_t r = c->p_off[part]; r < c->p_off[part + 1]; r++)
            e += evac[c->rep_idx[r]];
        if (e) {
            nmoves++;
            nrep += c->p_off[part + 1] - c->p_off[part];
            nslots += e;
        }
    }
    p->nmoves = nmoves;
    p->mv_part = malloc((nmoves + 1) * sizeof *p->mv_part);
    p->mv_off = malloc((nmoves + 1) * sizeof *p->mv_off);
    p->to_id = malloc((nrep + 1) * sizeof *p->to_id);
    p->to_idx = malloc((nrep + 1) * sizeof *p->to_idx);
    p->warn = calloc(nmoves + 1, 1);
    sl.mv = malloc((nslots + 1) * sizeof *sl.mv);
    sl.next = malloc((nslots + 1) * sizeof *sl.next);
    sl.pos = malloc(nslots + 1);
    sl.head = malloc(nb * sizeof *sl.head);
    if (!p->mv_part || !p->mv_off || !p->to_id || !p->to_idx || !p->warn || !sl.mv ||
        !sl.next || !sl.pos || !sl.head)
        goto nomem;
    for (size_t k = 0; k < nb; k++)
        sl.head[k] = NONE;

    /* Pass 2: replace each evacuated replica in place, in topic/partition order. */
    size_t m = 0, w = 0, s = 0;
    p->mv_off[0] = 0;
    for (size_t part = 0; part < c->np; part++) {
        const uint32_t *from = c->rep_idx + c->p_off[part];
        size_t rf = c->p_off[part + 1] - c->p_off[part];
        size_t e = 0;
        for (size_t q = 0; q < rf; q++)
            e += evac[from[q]];
        if (!e)
            continue;
        uint32_t *list = p->to_idx + w;
        memcpy(list, from, rf * sizeof *list);
        for (size_t q = 0; q < rf; q++) {
            uint32_t src = from[q];
            if (!evac[src])
                continue;
            /* racks of the final list: kept replicas and replacements made so far */
            size_t nused = 0;
            for (size_t o = 0; o < rf; o++)
                if (o != q && !evac[list[o]] && c->brokers[list[o]].rack >= 0)
                    used[nused++] = c->brokers[list[o]].rack;
            const group_t *g = &st.groups[st.sgroup[src]];
            uint32_t t = choose_target(&st, g, used, nused, list, rf, q == 0);
            if (t == NONE) {
                rc = kr_seterr(err, errlen, KR_EINVAL, "%s-%d: no eligible target: %s %s%s",
                               c->topics.names[c->p_topic[part]], (int)c->p_num[part],
                               g->ntargets ? "every alive broker" : "there is no alive broker",
                               g->desc,
                               g->ntargets ? " is already a replica" : " that is not being evacuated");
                goto done;
            }
            list[q] = t;
            st.cnt[t]++;
            st.cnt[src]--;
            if (q == 0) {
                st.ld[t]++;
                st.ld[src]--;
            }
            target_changed(&st, t);
            sl.mv[s] = (uint32_t)m;
            sl.pos[s] = (uint8_t)q;
            sl.next[s] = sl.head[t];
            sl.head[t] = (uint32_t)s;
            s++;
        }
        p->mv_part[m] = (uint32_t)part;
        w += rf;
        p->mv_off[++m] = (uint32_t)w;
    }
    for (uint32_t g = 0; g < st.ngroups; g++)
        if (st.groups[g].ntargets && repair_group(&st, p, &st.groups[g], &sl) < 0)
            goto nomem;
    if (plan_finish(p, &st, evac) < 0)
        goto nomem;
    *out = p;
    p = NULL;
    goto done;

nomem:
    rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory while planning");
done:
    kr_plan_free(p);
    pstate_deinit(&st);
    free(sl.mv);
    free(sl.next);
    free(sl.pos);
    free(sl.head);
    free(excl);
    free(used);
    free(evac);
    return rc;
}

/* ------------------------------------------------------------------ outputs */

static json_t *move_json(const kr_plan_t *p, size_t i)
{
    kr_plan_move_t m;
    kr_plan_move(p, i, &m);
    json_t *replicas = json_array();
    for (size_t q = 0; replicas && q < m.rf; q++)
        if (json_array_append_new(replicas, json_integer(m.to[q])) < 0) {
            json_decref(replicas);
            return NULL;
        }
    return json_pack("{s:s, s:i, s:o}", "topic", m.topic, "partition", (int)m.partition,
                     "replicas", replicas);
}

static json_t *reassignment_json(const kr_plan_t *p, const size_t *idx, size_t n)
{
    json_t *parts = json_array();
    for (size_t i = 0; parts && i < n; i++)
        if (json_array_append_new(parts, move_json(p, idx ? idx[i] : i)) < 0) {
            json_decref(parts);
            return NULL;
        }
    return parts ? json_pack("{s:i, s:o}", "version", 1, "partitions", parts) : NULL;
}

json_t *kr_plan_reassignment_json(const kr_plan_t *p)
{
    return reassignment_json(p, NULL, p->nmoves);
}

char *kr_plan_targets_format(const kr_plan_targets_t *t, char *buf, size_t len)
{
    switch (t->kind) {
    case KR_PLAN_TO_SAME_STACK: snprintf(buf, len, "same-stack"); break;
    case KR_PLAN_TO_ANY: snprintf(buf, len, "any"); break;
    case KR_PLAN_TO_STACK: snprintf(buf, len, "stack:%s", t->stack); break;
    case KR_PLAN_TO_RANGE: snprintf(buf, len, "%d-%d", (int)t->lo, (int)t->hi); break;
    }
    return buf;
}

static int obj_add_count(json_t *obj, int32_t id, json_t *v)
{
    char key[16];
    snprintf(key, sizeof key, "%d", (int)id);
    return json_object_set_new(obj, key, v);
}

json_t *kr_plan_summary_json(const kr_plan_t *p)
{
    const kr_plan_cluster_t *c = p->c;
    char spec[96];
    size_t replicas = 0;
    uint32_t *moved_from = calloc(c->nb + 1, sizeof *moved_from);
    uint32_t *moved_to = calloc(c->nb + 1, sizeof *moved_to);
    json_t *sum = json_object(), *evac = json_array(), *src = json_object(),
           *dst = json_object(), *warn = json_array(), *tr = json_object();
    if (!moved_from || !moved_to || !sum || !evac || !src || !dst || !warn || !tr)
        goto fail;
    for (size_t m = 0; m < p->nmoves; m++) {
        uint32_t part = p->mv_part[m];
        const uint32_t *from = c->rep_idx + c->p_off[part];
        const uint32_t *to = p->to_idx + p->mv_off[m];
        for (size_t q = 0; q < p->mv_off[m + 1] - p->mv_off[m]; q++)
            if (from[q] != to[q]) {
                moved_from[from[q]]++;
                moved_to[to[q]]++;
                replicas++;
            }
    }
    for (size_t i = 0; i < p->nevacuated; i++) {
        int64_t k = broker_index(c, p->evacuated[i]);
        if (json_array_append_new(evac, json_integer(p->evacuated[i])) < 0 ||
            obj_add_count(src, p->evacuated[i], json_integer(moved_from[k])) < 0)
            goto fail;
    }
    for (size_t i = 0; i < p->ntargets; i++) {
        uint32_t k = p->targets[i];
        if (obj_add_count(dst, c->brokers[k].id, json_integer(moved_to[k])) < 0 ||
            obj_add_count(tr, c->brokers[k].id,
                          json_pack("{s:i, s:i}", "before", (int)c->rcount[k], "after",
                                    (int)p->after[k])) < 0)
            goto fail;
    }
    for (size_t i = 0; i < p->nwarnings; i++)
        if (json_array_append_new(warn, json_string(p->warnings[i])) < 0)
            goto fail;
    free(moved_from);
    free(moved_to);
    if (json_object_set_new(sum, "partitions_moved", json_integer((json_int_t)p->nmoves)) < 0 ||
        json_object_set_new(sum, "replicas_moved", json_integer((json_int_t)replicas)) < 0 ||
        json_object_set_new(sum, "evacuated", evac) < 0 ||
        json_object_set_new(sum, "targets",
                            json_string(kr_plan_targets_format(&p->to, spec, sizeof spec))) < 0 ||
        json_object_set_new(sum, "sources", src) < 0 ||
        json_object_set_new(sum, "destinations", dst) < 0 ||
        json_object_set_new(sum, "rack_warnings", warn) < 0 ||
        json_object_set_new(sum, "target_replicas", tr) < 0) {
        json_decref(sum);
        return NULL;
    }
    return sum;
fail:
    free(moved_from);
    free(moved_to);
    json_decref(sum);
    json_decref(evac);
    json_decref(src);
    json_decref(dst);
    json_decref(warn);
    json_decref(tr);
    return NULL;
}

/* ------------------------------------------------------------------ batches */

struct kr_plan_batches {
    size_t nbatches;
    size_t *off;   /* nbatches + 1 offsets into moves */
    size_t *moves; /* move indices grouped by batch, ascending within a batch */
};

typedef struct {
    uint16_t *n;   /* moves of this broker in each batch */
    size_t len;    /* batches covered by n */
    size_t first;  /* every batch before this one is full for this broker */
} bload_t;

static int bload_at(bload_t *l, size_t j, uint16_t *v)
{
    if (j >= l->len) {
        size_t nl = l->len ? l->len : 8;
        while (nl <= j)
            nl *= 2;
        uint16_t *n = realloc(l->n, nl * sizeof *n);
        if (!n)
            return KR_ENOMEM;
        memset(n + l->len, 0, (nl - l->len) * sizeof *n);
        l->n = n;
        l->len = nl;
    }
    *v = l->n[j];
    return KR_OK;
}

void kr_plan_batches_free(kr_plan_batches_t *b)
{
    if (!b)
        return;
    free(b->off);
    free(b->moves);
    free(b);
}

int kr_plan_batch(const kr_plan_t *p, int max_moves_per_broker, kr_plan_batches_t **out,
                  char *err, size_t errlen)
{
    const kr_plan_cluster_t *c = p->c;
    int rc = KR_OK;
    kr_plan_batches_t *b = NULL;
    bload_t *load = NULL;
    size_t *batch_of = NULL;
    uint32_t *inv = NULL;

    *out = NULL;
    if (max_moves_per_broker < 1 || max_moves_per_broker > 65535)
        return kr_seterr(err, errlen, KR_EINVAL,
                         "max_moves_per_broker must be between 1 and 65535, not %d",
                         max_moves_per_broker);
    uint16_t max = (uint16_t)max_moves_per_broker;
    b = calloc(1, sizeof *b);
    load = calloc(c->nb + 1, sizeof *load);
    batch_of = malloc((p->nmoves + 1) * sizeof *batch_of);
    inv = malloc((2 * (size_t)c->rf_max + 1) * sizeof *inv);
    if (!b || !load || !batch_of || !inv)
        goto nomem;
    for (size_t m = 0; m < p->nmoves; m++) {
        uint32_t part = p->mv_part[m];
        const uint32_t *from = c->rep_idx + c->p_off[part];
        const uint32_t *to = p->to_idx + p->mv_off[m];
        size_t rf = p->mv_off[m + 1] - p->mv_off[m], ni = 0;
        for (size_t q = 0; q < rf; q++)
            if (from[q] != to[q]) {
                if (!in_list(inv, ni, from[q]))
                    inv[ni++] = from[q];
                if (!in_list(inv, ni, to[q]))
                    inv[ni++] = to[q];
            }
        size_t j = 0;
        for (size_t i = 0; i < ni; i++)
            if (load[inv[i]].first > j)
                j = load[inv[i]].first;
        for (;; j++) {
            int fits = 1;
            for (size_t i = 0; i < ni && fits; i++) {
                uint16_t v;
                if (bload_at(&load[inv[i]], j, &v) < 0)
                    goto nomem;
                fits = v < max;
            }
            if (fits)
                break;
        }
        batch_of[m] = j;
        if (j + 1 > b->nbatches)
            b->nbatches = j + 1;
        for (size_t i = 0; i < ni; i++) {
            bload_t *l = &load[inv[i]];
            l->n[j]++;
            while (l->first < l->len && l->n[l->first] >= max)
                l->first++;
        }
    }
    b->off = calloc(b->nbatches + 2, sizeof *b->off);
    b->moves = malloc((p->nmoves + 1) * sizeof *b->moves);
    if (!b->off || !b->moves)
        goto nomem;
    for (size_t m = 0; m < p->nmoves; m++)
        b->off[batch_of[m] + 1]++;
    for (size_t j = 0; j < b->nbatches; j++)
        b->off[j + 1] += b->off[j];
    for (size_t m = 0; m < p->nmoves; m++) /* counting sort keeps move order per batch */
        b->moves[b->off[batch_of[m]]++] = m;
    for (size_t j = b->nbatches; j > 0; j--)
        b->off[j] = b->off[j - 1];
    b->off[0] = 0;
    *out = b;
    b = NULL;
    goto done;

nomem:
    rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory batching the plan");
done:
    if (load)
        for (size_t k = 0; k < c->nb; k++)
            free(load[k].n);
    free(load);
    free(batch_of);
    free(inv);
    kr_plan_batches_free(b);
    return rc;
}

size_t kr_plan_batches_count(const kr_plan_batches_t *b) { return b->nbatches; }

size_t kr_plan_batch_size(const kr_plan_batches_t *b, size_t batch)
{
    return b->off[batch + 1] - b->off[batch];
}

size_t kr_plan_batch_move(const kr_plan_batches_t *b, size_t batch, size_t i)
{
    return b->moves[b->off[batch] + i];
}

json_t *kr_plan_batch_json(const kr_plan_t *p, const kr_plan_batches_t *b, size_t batch)
{
    return reassignment_json(p, b->moves + b->off[batch], kr_plan_batch_size(b, batch));
}
