/* cluster/model.c: the model of one Kafka cluster (brokers by id, topics by name with
 * their assignments and partition states, the controller) and the pure logic on it:
 * the broker diff, partition counts and the broker events. No I/O, no globals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kr/cluster_model.h"
#include "kr/err.h"
#include "kr/event.h"

typedef struct {
    int id;
    int alive;
    int64_t epoch;          /* czxid of the last registration seen; -1 never */
    char *host;
    int port;
    char *rack;
    int64_t since_ms;
} broker_t;

typedef struct {
    int leader;
    kr_zk_ids_t isr;
    int known;
    int stale;              /* to be read again (kr_model_take_stale) */
} pstate_t;

typedef struct topic {
    char *name;
    kr_zk_topic_t t;        /* partitions sorted by number */
    pstate_t *states;       /* one per t.partitions[i] */
    struct topic *next;     /* hash chain */
} topic_t;

struct kr_model {
    broker_t *brokers;      /* sorted by id */
    size_t n_brokers, cap_brokers;
    int32_t ids_cversion;   /* -1 unknown */

    topic_t **buckets;
    size_t n_buckets, n_topics;
    size_t n_stale;         /* partitions marked stale */
    int controller;
};

/* ---- helpers ---- */

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static void pstate_deinit(pstate_t *s) { kr_zk_ids_deinit(&s->isr); }

static size_t topic_stale(const topic_t *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->t.n_partitions; i++)
        n += t->states[i].stale != 0;
    return n;
}

static void topic_free(topic_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->t.n_partitions; i++)
        pstate_deinit(&t->states[i]);
    free(t->states);
    kr_zk_topic_deinit(&t->t);
    free(t->name);
    free(t);
}

kr_model_t *kr_model_new(void)
{
    kr_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->ids_cversion = -1;
    m->controller = -1;
    m->n_buckets = 1024;
    if (!(m->buckets = calloc(m->n_buckets, sizeof *m->buckets))) {
        free(m);
        return NULL;
    }
    return m;
}

void kr_model_free(kr_model_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_brokers; i++) {
        free(m->brokers[i].host);
        free(m->brokers[i].rack);
    }
    free(m->brokers);
    for (size_t b = 0; b < m->n_buckets; b++) {
        topic_t *t = m->buckets[b];
        while (t) {
            topic_t *n = t->next;
            topic_free(t);
            t = n;
        }
    }
    free(m->buckets);
    free(m);
}

/* ---- brokers ---- */

static broker_t *broker_find(const kr_model_t *m, int id)
{
    size_t lo = 0, hi = m->n_brokers;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->brokers[mid].id == id)
            return &m->brokers[mid];
        if (m->brokers[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static broker_t *broker_add(kr_model_t *m, int id)
{
    size_t pos = 0;
    broker_t *b = broker_find(m, id);
    if (b)
        return b;
    if (m->n_brokers == m->cap_brokers) {
        size_t cap = m->cap_brokers ? m->cap_brokers * 2 : 16;
        broker_t *nb = realloc(m->brokers, cap * sizeof *nb);
        if (!nb)
            return NULL;
        m->brokers = nb;
        m->cap_brokers = cap;
    }
    while (pos < m->n_brokers && m->brokers[pos].id < id)
        pos++;
    memmove(&m->brokers[pos + 1], &m->brokers[pos], (m->n_brokers - pos) * sizeof *m->brokers);
    m->n_brokers++;
    b = &m->brokers[pos];
    memset(b, 0, sizeof *b);
    b->id = id;
    b->epoch = -1;
    b->port = -1;
    return b;
}

static void broker_info(const broker_t *b, kr_broker_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->id = b->id;
    out->host = b->host;
    out->port = b->port;
    out->rack = b->rack;
    out->alive = b->alive;
    out->since_ms = b->since_ms;
    out->epoch = b->epoch;
}

static void broker_leave(broker_t *b, int64_t now_ms, kr_model_change_fn fn, void *arg)
{
    kr_broker_info_t info;
    if (!b->alive)
        return;
    broker_info(b, &info);
    if (fn)
        fn(KR_MODEL_LEFT, &info, arg);
    b->alive = 0;
    b->since_ms = now_ms;
}

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int kr_model_brokers_listed(kr_model_t *m, const int *ids, size_t n, int32_t cversion,
                            int64_t now_ms, kr_model_change_fn on_change, void *arg,
                            int **fetch, size_t *n_fetch)
{
    int *sorted = NULL, *out = NULL;
    size_t removed = 0, added = 0, nout = 0;
    int all;

    *fetch = NULL;
    *n_fetch = 0;
    if (n && (!(sorted = malloc(n * sizeof *sorted)) || !(out = malloc(n * sizeof *out)))) {
        free(sorted);
        return KR_ENOMEM;
    }
    if (n) {
        memcpy(sorted, ids, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, int_cmp);
    }
    for (size_t i = 0; i < m->n_brokers; i++) {
        broker_t *b = &m->brokers[i];
        if (b->alive && (!n || !bsearch(&b->id, sorted, n, sizeof *sorted, int_cmp))) {
            broker_leave(b, now_ms, on_change, arg);
            removed++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        broker_t *b = broker_find(m, sorted[i]);
        if (i && sorted[i] == sorted[i - 1])
            continue;
        if (!b || !b->alive)
            added++;
    }
    /* Each create and delete under /brokers/ids bumps its cversion once; more bumps than
     * the list explains mean a broker left and came back between two watch events. */
    all = m->ids_cversion < 0 || cversion < 0 ||
          (int64_t)cversion - m->ids_cversion != (int64_t)(removed + added);
    for (size_t i = 0; i < n; i++) {
        broker_t *b;
        if (i && sorted[i] == sorted[i - 1])
            continue;
        b = broker_find(m, sorted[i]);
        if (all || !b || !b->alive)
            out[nout++] = sorted[i];
    }
    m->ids_cversion = cversion;
    free(sorted);
    if (!nout) {
        free(out);
        out = NULL;
    }
    *fetch = out;
    *n_fetch = nout;
    return KR_OK;
}

static int set_str(char **dst, const char *src)
{
    char *s = NULL;
    if (src && !(s = strdup(src)))
        return KR_ENOMEM;
    free(*dst);
    *dst = s;
    return KR_OK;
}

int kr_model_broker_registered(kr_model_t *m, int id, int64_t epoch, const kr_zk_broker_t *reg,
                               int64_t now_ms, kr_model_change_fn on_change, void *arg)
{
    kr_broker_info_t info;
    broker_t *b = broker_add(m, id);
    int joined;
    if (!b)
        return KR_ENOMEM;
    if (b->alive && b->epoch != epoch)
        broker_leave(b, now_ms, on_change, arg); /* bounced: the old registration left */
    joined = !b->alive;
    if (set_str(&b->host, reg ? reg->host : NULL) || set_str(&b->rack, reg ? reg->rack : NULL))
        return KR_ENOMEM;
    b->port = reg ? reg->port : -1;
    b->epoch = epoch;
    if (joined) {
        b->alive = 1;
        b->since_ms = now_ms;
        broker_info(b, &info);
        if (on_change)
            on_change(KR_MODEL_JOINED, &info, arg);
    }
    return KR_OK;
}

void kr_model_broker_missing(kr_model_t *m, int id, int64_t now_ms, kr_model_change_fn on_change,
                             void *arg)
{
    broker_t *b = broker_find(m, id);
    if (b)
        broker_leave(b, now_ms, on_change, arg);
}

void kr_model_session_reset(kr_model_t *m) { m->ids_cversion = -1; }

/* ---- topics ---- */

static topic_t **topic_slot(const kr_model_t *m, const char *name)
{
    topic_t **p = &m->buckets[name_hash(name) & (m->n_buckets - 1)];
    while (*p && strcmp((*p)->name, name) != 0)
        p = &(*p)->next;
    return p;
}

static void topics_grow(kr_model_t *m)
{
    size_t nb = m->n_buckets * 2;
    topic_t **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < m->n_buckets; i++) {
        topic_t *t = m->buckets[i];
        while (t) {
            topic_t *n = t->next;
            size_t k = name_hash(t->name) & (nb - 1);
            t->next = b[k];
            b[k] = t;
            t = n;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
}

static pstate_t *state_of(topic_t *t, int partition)
{
    size_t lo = 0, hi = t->t.n_partitions;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->t.partitions[mid].partition == partition)
            return &t->states[mid];
        if (t->t.partitions[mid].partition < partition)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int kr_model_topic_set(kr_model_t *m, const char *name, kr_zk_topic_t *zt)
{
    topic_t **slot = topic_slot(m, name), *old = *slot, *t;
    pstate_t *states = NULL;

    if (zt->n_partitions && !(states = calloc(zt->n_partitions, sizeof *states)))
        return KR_ENOMEM;
    for (size_t i = 0; i < zt->n_partitions; i++) {
        pstate_t *prev = old ? state_of(old, zt->partitions[i].partition) : NULL;
        states[i].leader = -1;
        if (prev) { /* keep what we knew; the caller re-reads when it matters */
            states[i] = *prev;
            memset(prev, 0, sizeof *prev);
            prev->leader = -1;
        }
    }
    if (old) {
        m->n_stale -= topic_stale(old); /* flags of the partitions that are gone */
        for (size_t i = 0; i < old->t.n_partitions; i++)
            pstate_deinit(&old->states[i]);
        free(old->states);
        kr_zk_topic_deinit(&old->t);
        old->t = *zt;
        old->states = states;
        memset(zt, 0, sizeof *zt);
        return KR_OK;
    }
    if (!(t = calloc(1, sizeof *t)) || !(t->name = strdup(name))) {
        free(t);
        free(states);
        return KR_ENOMEM;
    }
    t->t = *zt;
    t->states = states;
    memset(zt, 0, sizeof *zt);
    *slot = t;
    if (++m->n_topics > m->n_buckets)
        topics_grow(m);
    return KR_OK;
}

void kr_model_topic_remove(kr_model_t *m, const char *name)
{
    topic_t **slot = topic_slot(m, name), *t = *slot;
    if (!t)
        return;
    *slot = t->next;
    m->n_stale -= topic_stale(t);
    topic_free(t);
    m->n_topics--;
}

int kr_model_topic_exists(const kr_model_t *m, const char *name)
{
    return *topic_slot(m, name) != NULL;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void kr_model_topics_retain(kr_model_t *m, char *const *names, size_t n)
{
    char **sorted = n ? malloc(n * sizeof *sorted) : NULL;
    if (n && !sorted)
        return;
    if (n) {
        memcpy(sorted, names, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, str_cmp);
    }
    for (size_t b = 0; b < m->n_buckets; b++) {
        topic_t **p = &m->buckets[b];
        while (*p) {
            topic_t *t = *p;
            if (!n || !bsearch(&t->name, sorted, n, sizeof *sorted, str_cmp)) {
                *p = t->next;
                m->n_stale -= topic_stale(t);
                topic_free(t);
                m->n_topics--;
            } else {
                p = &t->next;
            }
        }
    }
    free(sorted);
}

const kr_zk_assignment_t *kr_model_topic_partitions(const kr_model_t *m, const char *name,
                                                    size_t *n)
{
    topic_t *t = *topic_slot(m, name);
    *n = t ? t->t.n_partitions : 0;
    return t ? t->t.partitions : NULL;
}

int kr_model_state_set(kr_model_t *m, const char *topic, int partition,
                       const kr_zk_partition_state_t *st)
{
    topic_t *t = *topic_slot(m, topic);
    pstate_t *s = t ? state_of(t, partition) : NULL;
    int *isr = NULL;
    if (!s)
        return KR_ENOTFOUND;
    if (st->isr.n && !(isr = malloc(st->isr.n * sizeof *isr)))
        return KR_ENOMEM;
    if (st->isr.n)
        memcpy(isr, st->isr.ids, st->isr.n * sizeof *isr);
    pstate_deinit(s);
    s->isr.ids = isr;
    s->isr.n = st->isr.n;
    s->leader = st->leader;
    s->known = 1;
    return KR_OK;
}

void kr_model_set_controller(kr_model_t *m, int broker_id) { m->controller = broker_id; }
int kr_model_controller(const kr_model_t *m) { return m->controller; }

/* ---- partitions to read again ---- */

int kr_model_mark_stale(kr_model_t *m, const char *topic, int partition)
{
    topic_t *t = *topic_slot(m, topic);
    pstate_t *s = t ? state_of(t, partition) : NULL;
    if (!s)
        return KR_ENOTFOUND;
    if (!s->stale) {
        s->stale = 1;
        m->n_stale++;
    }
    return KR_OK;
}

size_t kr_model_mark_broker_stale(kr_model_t *m, int broker_id)
{
    size_t n = 0;
    for (size_t b = 0; b < m->n_buckets; b++)
        for (topic_t *t = m->buckets[b]; t; t = t->next)
            for (size_t p = 0; p < t->t.n_partitions; p++)
                if (!t->states[p].stale && kr_zk_ids_contains(&t->t.partitions[p].replicas, broker_id)) {
                    t->states[p].stale = 1;
                    m->n_stale++;
                    n++;
                }
    return n;
}

size_t kr_model_mark_topic_stale(kr_model_t *m, const char *topic)
{
    size_t n = 0;
    for (size_t b = 0; b < m->n_buckets; b++)
        for (topic_t *t = m->buckets[b]; t; t = t->next) {
            if (topic && strcmp(topic, t->name) != 0)
                continue;
            for (size_t p = 0; p < t->t.n_partitions; p++)
                if (!t->states[p].stale) {
                    t->states[p].stale = 1;
                    m->n_stale++;
                    n++;
                }
        }
    return n;
}

size_t kr_model_stale_count(const kr_model_t *m) { return m->n_stale; }

size_t kr_model_take_stale(kr_model_t *m, kr_model_tp_t *out, size_t max)
{
    size_t k = 0;
    for (size_t b = 0; b < m->n_buckets && k < max && m->n_stale; b++)
        for (topic_t *t = m->buckets[b]; t && k < max; t = t->next)
            for (size_t p = 0; p < t->t.n_partitions && k < max; p++)
                if (t->states[p].stale) {
                    t->states[p].stale = 0;
                    m->n_stale--;
                    out[k].topic = t->name;
                    out[k].partition = t->t.partitions[p].partition;
                    k++;
                }
    return k;
}

/* ---- queries ---- */

size_t kr_model_brokers_alive(const kr_model_t *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_brokers; i++)
        n += m->brokers[i].alive;
    return n;
}

static int alive(const kr_model_t *m, int id)
{
    broker_t *b = broker_find(m, id);
    return b && b->alive;
}

static int topic_cmp(const void *a, const void *b)
{
    return strcmp((*(topic_t *const *)a)->name, (*(topic_t *const *)b)->name);
}

/* Topics sorted by name (borrowed pointers), for stable iteration. */
static topic_t **topics_sorted(const kr_model_t *m)
{
    topic_t **v = malloc((m->n_topics + 1) * sizeof *v);
    size_t k = 0;
    if (!v)
        return NULL;
    for (size_t b = 0; b < m->n_buckets; b++)
        for (topic_t *t = m->buckets[b]; t; t = t->next)
            v[k++] = t;
    qsort(v, k, sizeof *v, topic_cmp);
    v[k] = NULL;
    return v;
}

/* Ids that are registered or named in an assignment, sorted, without duplicates. */
static int *known_ids(const kr_model_t *m, size_t *n)
{
    size_t cap = m->n_brokers + 64, k = 0;
    int *v = malloc(cap * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < m->n_brokers; i++)
        v[k++] = m->brokers[i].id;
    for (size_t b = 0; b < m->n_buckets; b++)
        for (topic_t *t = m->buckets[b]; t; t = t->next)
            for (size_t p = 0; p < t->t.n_partitions; p++)
                for (size_t r = 0; r < t->t.partitions[p].replicas.n; r++) {
                    int id = t->t.partitions[p].replicas.ids[r];
                    if (broker_find(m, id))
                        continue;
                    int found = 0;
                    for (size_t j = m->n_brokers; j < k && !found; j++)
                        found = v[j] == id;
                    if (found)
                        continue;
                    if (k == cap) {
                        int *nv = realloc(v, (cap *= 2) * sizeof *nv);
                        if (!nv) {
                            free(v);
                            return NULL;
                        }
                        v = nv;
                    }
                    v[k++] = id;
                }
    qsort(v, k, sizeof *v, int_cmp);
    *n = k;
    return v;
}

void kr_model_counts(const kr_model_t *m, kr_model_counts_t *out)
{
    size_t nk = 0;
    int *known;
    memset(out, 0, sizeof *out);
    out->topics = m->n_topics;
    for (size_t b = 0; b < m->n_buckets; b++)
        for (topic_t *t = m->buckets[b]; t; t = t->next)
            for (size_t p = 0; p < t->t.n_partitions; p++) {
                const kr_zk_assignment_t *a = &t->t.partitions[p];
                const pstate_t *s = &t->states[p];
                int urp = 0;
                out->partitions++;
                if (!s->known)
                    continue;
                if (s->leader < 0 || !alive(m, s->leader))
                    out->offline++;
                if (s->isr.n < a->replicas.n)
                    urp = 1;
                for (size_t r = 0; r < a->replicas.n && !urp; r++)
                    urp = !alive(m, a->replicas.ids[r]) ||
                          !kr_zk_ids_contains(&s->isr, a->replicas.ids[r]);
                out->under_replicated += urp;
            }
    for (size_t i = 0; i < m->n_brokers; i++)
        out->brokers_alive += m->brokers[i].alive;
    known = known_ids(m, &nk);
    out->brokers_total = known ? nk : m->n_brokers;
    free(known);
}

int kr_model_broker(const kr_model_t *m, int id, kr_broker_info_t *out)
{
    broker_t *b = broker_find(m, id);
    if (!b) {
        size_t nk = 0;
        int *known = known_ids(m, &nk), found;
        found = known && bsearch(&id, known, nk, sizeof *known, int_cmp);
        free(known);
        if (!found)
            return KR_ENOTFOUND;
        memset(out, 0, sizeof *out);
        out->id = id;
        out->port = -1;
        out->epoch = -1;
        return KR_OK;
    }
    broker_info(b, out);
    return KR_OK;
}

int kr_model_foreach_broker(const kr_model_t *m, int (*fn)(const kr_broker_info_t *b, void *arg),
                            void *arg)
{
    size_t nk = 0;
    int *known = known_ids(m, &nk), rc = 0;
    if (!known)
        return KR_ENOMEM;
    for (size_t i = 0; i < nk && !rc; i++) {
        kr_broker_info_t info;
        if (kr_model_broker(m, known[i], &info) == KR_OK)
            rc = fn(&info, arg);
    }
    free(known);
    return rc;
}

int kr_model_foreach_partition(const kr_model_t *m,
                               int (*fn)(const kr_partition_info_t *p, void *arg), void *arg)
{
    topic_t **v = topics_sorted(m);
    int rc = 0;
    if (!v)
        return KR_ENOMEM;
    for (size_t i = 0; v[i] && !rc; i++)
        for (size_t p = 0; p < v[i]->t.n_partitions && !rc; p++) {
            const kr_zk_assignment_t *a = &v[i]->t.partitions[p];
            const pstate_t *s = &v[i]->states[p];
            kr_partition_info_t info = {
                .topic = v[i]->name, .partition = a->partition,
                .replicas = a->replicas.ids, .n_replicas = a->replicas.n,
                .adding = a->adding.ids, .n_adding = a->adding.n,
                .removing = a->removing.ids, .n_removing = a->removing.n,
                .leader = s->known ? s->leader : -1,
                .isr = s->isr.ids, .n_isr = s->isr.n, .state_known = s->known,
            };
            rc = fn(&info, arg);
        }
    free(v);
    return rc;
}

int kr_model_broker_by_host(const kr_model_t *m, const char *host)
{
    if (!host || !*host)
        return -1;
    for (size_t i = 0; i < m->n_brokers; i++)
        if (m->brokers[i].alive && m->brokers[i].host &&
            strcasecmp(m->brokers[i].host, host) == 0)
            return m->brokers[i].id;
    return -1;
}

/* ---- events ---- */

typedef struct {
    kr_model_tp_t *v;
    size_t n, cap;
} tps_t;

static int tps_add(tps_t *l, const char *topic, int partition)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        kr_model_tp_t *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n].topic = topic;
    l->v[l->n++].partition = partition;
    return 0;
}

static int tp_cmp(const void *a, const void *b)
{
    const kr_model_tp_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* The first `max` of a list in (topic, partition) order, as JSON. */
static json_t *tps_json(tps_t *l, size_t max)
{
    json_t *a = json_array();
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, tp_cmp);
    for (size_t i = 0; a && i < l->n && i < max; i++)
        if (json_array_append_new(a, json_pack("{s:s,s:i}", "topic", l->v[i].topic, "partition",
                                               l->v[i].partition))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *kr_model_broker_event(const kr_model_t *m, const char *cluster, kr_model_change_t kind,
                              const kr_broker_info_t *b, int64_t now_ms, size_t list_max)
{
    char id[256];
    int left = kind == KR_MODEL_LEFT;
    tps_t led = { 0 }, held = { 0 };
    json_t *ev = NULL, *broker, *led_list = NULL, *held_list = NULL;

    /* one pass over every partition; only the matches are sorted */
    for (size_t k = 0; k < m->n_buckets; k++)
        for (topic_t *t = m->buckets[k]; t; t = t->next)
            for (size_t p = 0; p < t->t.n_partitions; p++) {
                const kr_zk_assignment_t *a = &t->t.partitions[p];
                if (t->states[p].known && t->states[p].leader == b->id &&
                    tps_add(&led, t->name, a->partition))
                    goto err;
                if (kr_zk_ids_contains(&a->replicas, b->id) && tps_add(&held, t->name, a->partition))
                    goto err;
            }
    if (!(led_list = tps_json(&led, list_max)) || !(held_list = tps_json(&held, list_max)))
        goto err;
    snprintf(id, sizeof id, "zk:%s:%lld-%s", cluster, (long long)b->epoch,
             left ? "left" : "joined");
    ev = kr_event_new(id, "zookeeper", left ? "broker.left" : "broker.joined",
                      left ? KR_EVENT_FIRING : KR_EVENT_RESOLVED, now_ms);
    if (!ev)
        goto err;
    broker = json_pack("{s:i,s:s*,s:s*,s:s*,s:I}", "id", b->id, "host", b->host, "rack", b->rack,
                       "stack", b->stack, "epoch", (json_int_t)b->epoch);
    if (!broker || (b->host && json_object_set_new(broker, "port", json_integer(b->port))) ||
        json_object_set_new(ev, "cluster", json_string(cluster)) ||
        json_object_set_new(ev, "broker", broker) ||
        json_object_set_new(ev, "partitions_led", json_integer((json_int_t)led.n)) ||
        json_object_set_new(ev, "partitions_held", json_integer((json_int_t)held.n)) ||
        json_object_set_new(ev, "partitions",
                            json_pack("{s:O,s:O,s:b}", "led", led_list, "held", held_list,
                                      "truncated", led.n > list_max || held.n > list_max)))
        goto err;
    json_decref(led_list);
    json_decref(held_list);
    free(led.v);
    free(held.v);
    return ev;
err:
    json_decref(ev);
    json_decref(led_list);
    json_decref(held_list);
    free(led.v);
    free(held.v);
    return NULL;
}
