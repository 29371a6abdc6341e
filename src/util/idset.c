/* util/idset.c: chained hash of strings plus a FIFO ring that evicts the oldest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/idset.h"

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    char id[];
} entry_t;

struct kr_idset {
    entry_t **buckets;
    size_t nbuckets;
    entry_t **ring;       /* insertion order; NULL slots were removed */
    size_t cap, head, count;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

kr_idset_t *kr_idset_new(size_t capacity)
{
    kr_idset_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cap = capacity ? capacity : 1;
    s->nbuckets = 16;
    while (s->nbuckets < s->cap)
        s->nbuckets <<= 1;
    s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
    s->ring = calloc(s->cap, sizeof *s->ring);
    if (!s->buckets || !s->ring) {
        kr_idset_free(s);
        return NULL;
    }
    return s;
}

static void unlink_entry(kr_idset_t *s, entry_t *e)
{
    entry_t **pp = &s->buckets[e->hash & (s->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
}

void kr_idset_free(kr_idset_t *s)
{
    if (!s)
        return;
    if (s->ring)
        for (size_t i = 0; i < s->cap; i++)
            free(s->ring[i]);
    free(s->ring);
    free(s->buckets);
    free(s);
}

static entry_t *find(const kr_idset_t *s, const char *id, uint64_t h)
{
    for (entry_t *e = s->buckets[h & (s->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

int kr_idset_contains(const kr_idset_t *s, const char *id)
{
    return find(s, id, hash_str(id)) != NULL;
}

int kr_idset_add(kr_idset_t *s, const char *id)
{
    uint64_t h = hash_str(id);
    if (find(s, id, h))
        return 0;
    size_t len = strlen(id);
    entry_t *e = malloc(sizeof *e + len + 1);
    if (!e)
        return KR_ENOMEM;
    memcpy(e->id, id, len + 1);
    e->hash = h;
    /* the slot at head is the oldest once the ring has wrapped */
    entry_t *old = s->ring[s->head];
    if (old) {
        unlink_entry(s, old);
        free(old);
        s->count--;
    }
    s->ring[s->head] = e;
    s->head = (s->head + 1) % s->cap;
    e->next = s->buckets[h & (s->nbuckets - 1)];
    s->buckets[h & (s->nbuckets - 1)] = e;
    s->count++;
    return 1;
}

void kr_idset_remove(kr_idset_t *s, const char *id)
{
    entry_t *e = find(s, id, hash_str(id));
    if (!e)
        return;
    unlink_entry(s, e);
    for (size_t i = 0; i < s->cap; i++)
        if (s->ring[i] == e) {
            s->ring[i] = NULL;
            break;
        }
    free(e);
    s->count--;
}

size_t kr_idset_size(const kr_idset_t *s) { return s->count; }

int kr_idset_foreach(const kr_idset_t *s, int (*fn)(const char *id, void *arg), void *arg)
{
    /* the ring's oldest slot is `head` once it has wrapped; empty slots are skipped */
    for (size_t k = 0; k < s->cap; k++) {
        const entry_t *e = s->ring[(s->head + k) % s->cap];
        int rc;
        if (e && (rc = fn(e->id, arg)) != 0)
            return rc;
    }
    return 0;
}
