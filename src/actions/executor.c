/* actions/executor.c: the pure bookkeeping of an evacuation run: its journaled state
 * (plan, batches, progress), per-batch reassignment JSON and throttles, config merges, and
 * the checks the runtime (evacuate.c) makes against ZooKeeper's answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/executor.h"
#include "kr/zkjson.h"

#define K_LEADER_RATE "leader.replication.throttled.rate"
#define K_FOLLOWER_RATE "follower.replication.throttled.rate"
#define K_LEADER_REPLICAS "leader.replication.throttled.replicas"
#define K_FOLLOWER_REPLICAS "follower.replication.throttled.replicas"

static const char *const batch_states[] = { KR_EXEC_PENDING, KR_EXEC_WRITING, KR_EXEC_WRITTEN,
                                            KR_EXEC_DONE, NULL };

static int is_batch_state(const char *s)
{
    for (int i = 0; s && batch_states[i]; i++)
        if (strcmp(s, batch_states[i]) == 0)
            return 1;
    return 0;
}

static json_t *ids_json(const int32_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer(ids[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *kr_exec_state_new(const char *cluster, const char *kind, const json_t *request,
                          const kr_plan_t *plan, const kr_plan_batches_t *batches)
{
    json_t *st = NULL, *orig = NULL, *bl = NULL, *reassign = NULL;
    size_t nmoves = kr_plan_moves(plan), nb = kr_plan_batches_count(batches);

    if (!(reassign = kr_plan_reassignment_json(plan)) || !(orig = json_array()) ||
        !(bl = json_array()))
        goto fail;
    for (size_t i = 0; i < nmoves; i++) {
        kr_plan_move_t m;
        kr_plan_move(plan, i, &m);
        if (json_array_append_new(orig, ids_json(m.from, m.rf)))
            goto fail;
    }
    for (size_t b = 0; b < nb; b++) {
        json_t *idx = json_array();
        for (size_t i = 0; idx && i < kr_plan_batch_size(batches, b); i++)
            json_array_append_new(idx, json_integer((json_int_t)kr_plan_batch_move(batches, b, i)));
        if (!idx || json_array_append_new(bl, json_pack("{s:o,s:s,s:[]}", "partitions", idx, "state",
                                                        KR_EXEC_PENDING, "mismatched")))
            goto fail;
    }
    st = json_pack("{s:i,s:s,s:s,s:O,s:o,s:o,s:o,s:o,s:I,s:i,s:I,s:i,s:n,s:n,s:b}", "version", 1,
                   "cluster", cluster, "kind", kind, "request", request ? request : json_null(),
                   "summary", kr_plan_summary_json(plan), "reassignment", reassign, "original",
                   orig, "batches", bl, "batches_total", (json_int_t)nb, "batches_done", 0,
                   "partitions_total", (json_int_t)nmoves, "partitions_moved", 0, "current",
                   "throttles", "cancel_requested", 0);
    return st; /* json_pack stole reassign, orig and bl (also on failure) */
fail:
    json_decref(reassign);
    json_decref(orig);
    json_decref(bl);
    return NULL;
}

static int int_list_ok(const json_t *a, size_t *n)
{
    size_t i;
    json_t *v;
    if (!json_is_array(a))
        return 0;
    json_array_foreach(a, i, v) if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    if (n)
        *n = json_array_size(a);
    return 1;
}

int kr_exec_state_check(const json_t *st, char *err, size_t errlen)
{
    const json_t *parts, *orig, *batches, *b;
    size_t i, np;
    if (!json_is_object(st) || json_integer_value(json_object_get(st, "version")) != 1)
        return kr_seterr(err, errlen, KR_EINVAL, "the evacuation state is not a version 1 object");
    if (!json_is_string(json_object_get(st, "cluster")))
        return kr_seterr(err, errlen, KR_EINVAL, "the evacuation state has no cluster");
    parts = json_object_get(json_object_get(st, "reassignment"), "partitions");
    orig = json_object_get(st, "original");
    batches = json_object_get(st, "batches");
    if (!json_is_array(parts) || !json_is_array(orig) || !json_is_array(batches) ||
        json_array_size(parts) != json_array_size(orig))
        return kr_seterr(err, errlen, KR_EINVAL,
                         "the evacuation state's reassignment, original and batches do not agree");
    np = json_array_size(parts);
    for (i = 0; i < np; i++) {
        const json_t *p = json_array_get(parts, i);
        size_t nt = 0, no = 0;
        if (!json_is_string(json_object_get(p, "topic")) ||
            !json_is_integer(json_object_get(p, "partition")) ||
            !int_list_ok(json_object_get(p, "replicas"), &nt) ||
            !int_list_ok(json_array_get(orig, i), &no) || nt == 0 || nt != no)
            return kr_seterr(err, errlen, KR_EINVAL, "the evacuation state's partition %zu is malformed", i);
    }
    json_array_foreach(batches, i, b) {
        const json_t *idx = json_object_get(b, "partitions"), *v;
        size_t k;
        if (!json_is_array(idx) || !is_batch_state(json_string_value(json_object_get(b, "state"))) ||
            !json_is_array(json_object_get(b, "mismatched")))
            return kr_seterr(err, errlen, KR_EINVAL, "the evacuation state's batch %zu is malformed", i);
        json_array_foreach(idx, k, v) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || (size_t)json_integer_value(v) >= np)
                return kr_seterr(err, errlen, KR_EINVAL,
                                 "the evacuation state's batch %zu names partition %zu that the plan does not have",
                                 i, k);
        }
    }
    return KR_OK;
}

size_t kr_exec_batches(const json_t *st) { return json_array_size(json_object_get(st, "batches")); }

const char *kr_exec_batch_state(const json_t *st, size_t batch)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(st, "batches"), batch), "state"));
}

size_t kr_exec_next_batch(const json_t *st)
{
    size_t n = kr_exec_batches(st), i;
    for (i = 0; i < n; i++)
        if (strcmp(kr_exec_batch_state(st, i), KR_EXEC_DONE) != 0)
            break;
    return i;
}

int kr_exec_batch_set_state(json_t *st, size_t batch, const char *bs)
{
    json_t *b = json_array_get(json_object_get(st, "batches"), batch);
    size_t done = 0, moved = 0, n = kr_exec_batches(st);
    if (!b || !is_batch_state(bs))
        return KR_EINVAL;
    json_object_set_new(b, "state", json_string(bs));
    for (size_t i = 0; i < n; i++) {
        json_t *bi = json_array_get(json_object_get(st, "batches"), i);
        if (strcmp(json_string_value(json_object_get(bi, "state")), KR_EXEC_DONE) != 0)
            continue;
        done++;
        moved += json_array_size(json_object_get(bi, "partitions")) -
                 json_array_size(json_object_get(bi, "mismatched"));
    }
    json_object_set_new(st, "batches_done", json_integer((json_int_t)done));
    json_object_set_new(st, "partitions_moved", json_integer((json_int_t)moved));
    {
        size_t next = kr_exec_next_batch(st);
        json_object_set_new(st, "current", next < n ? json_integer((json_int_t)next) : json_null());
    }
    return KR_OK;
}

json_t *kr_exec_batch_reassignment(const json_t *st, size_t batch)
{
    const json_t *parts = json_object_get(json_object_get(st, "reassignment"), "partitions");
    const json_t *idx = json_object_get(json_array_get(json_object_get(st, "batches"), batch), "partitions");
    json_t *out, *list, *v;
    size_t i;
    if (!json_is_array(idx) || !(list = json_array()))
        return NULL;
    json_array_foreach(idx, i, v) {
        json_t *p = json_array_get(parts, (size_t)json_integer_value(v));
        if (!p || json_array_append_new(list, json_deep_copy(p))) {
            json_decref(list);
            return NULL;
        }
    }
    out = json_pack("{s:i,s:o}", "version", 1, "partitions", list);
    return out;
}

/* ---- throttles ---- */

typedef struct {
    int partition, broker;
} entry_t;

typedef struct {
    entry_t *v;
    size_t n, cap;
} entries_t;

static int entries_add(entries_t *e, int p, int b)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->v[i].partition == p && e->v[i].broker == b)
            return KR_OK;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        entry_t *nv = realloc(e->v, cap * sizeof *nv);
        if (!nv)
            return KR_ENOMEM;
        e->v = nv;
        e->cap = cap;
    }
    e->v[e->n].partition = p;
    e->v[e->n].broker = b;
    e->n++;
    return KR_OK;
}

static int entry_cmp(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->broker < y->broker ? -1 : x->broker > y->broker;
}

/* "P:B,P:B" (sorted when asked: lists we compute; merged lists keep the order they had,
 * so removing what we added gives back the exact text); a new string reference. */
static json_t *entries_string(entries_t *e, int sorted)
{
    size_t len = 1, off = 0;
    char *s;
    json_t *out;
    if (sorted)
        qsort(e->v, e->n, sizeof *e->v, entry_cmp);
    len += e->n * 24;
    if (!(s = malloc(len)))
        return NULL;
    s[0] = 0;
    for (size_t i = 0; i < e->n; i++)
        off += (size_t)snprintf(s + off, len - off, "%s%d:%d", i ? "," : "", e->v[i].partition,
                                e->v[i].broker);
    out = json_string(s);
    free(s);
    return out;
}

/* Parses "P:B,..." into e; a malformed entry is kept out (Kafka would refuse the config;
 * we never write one). Returns 0, or 1 when the list is "*". */
static int entries_parse(const char *s, entries_t *e)
{
    const char *p = s;
    if (!s)
        return 0;
    while (*p == ' ')
        p++;
    if (strcmp(p, "*") == 0)
        return 1;
    while (*p) {
        char *end;
        long part = strtol(p, &end, 10);
        if (end != p && *end == ':') {
            const char *q = end + 1;
            long b = strtol(q, &end, 10);
            if (end != q && part >= 0 && b >= 0)
                entries_add(e, (int)part, (int)b);
        }
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
        while (*p == ' ')
            p++;
    }
    return 0;
}

static int entries_has(const entries_t *e, int p, int b)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->v[i].partition == p && e->v[i].broker == b)
            return 1;
    return 0;
}

typedef struct {
    char *topic;
    entries_t leader, follower;
} topic_thr_t;

json_t *kr_exec_batch_throttles(const json_t *st, size_t batch, int64_t rate)
{
    const json_t *parts = json_object_get(json_object_get(st, "reassignment"), "partitions");
    const json_t *orig = json_object_get(st, "original");
    const json_t *idx = json_object_get(json_array_get(json_object_get(st, "batches"), batch), "partitions");
    topic_thr_t *topics = NULL;
    size_t nt = 0, i;
    int *brokers = NULL;
    size_t nbr = 0, capbr = 0;
    json_t *out = NULL, *v;
    char rs[32], key[64];

    if (!json_is_array(idx) || rate <= 0 || !(topics = calloc(json_array_size(idx) + 1, sizeof *topics)))
        return NULL;
    json_array_foreach(idx, i, v) {
        size_t pi = (size_t)json_integer_value(v), k, t;
        const json_t *p = json_array_get(parts, pi), *to = json_object_get(p, "replicas");
        const json_t *from = json_array_get(orig, pi), *x;
        const char *topic = json_string_value(json_object_get(p, "topic"));
        int part = (int)json_integer_value(json_object_get(p, "partition"));
        if (!topic)
            goto done;
        for (t = 0; t < nt && strcmp(topics[t].topic, topic) != 0; t++)
            ;
        if (t == nt && !(topics[nt++].topic = strdup(topic)))
            goto done;
        /* brokers involved: every replica before or after */
        for (int pass = 0; pass < 2; pass++) {
            json_array_foreach(pass ? to : from, k, x) {
                int b = (int)json_integer_value(x);
                size_t j;
                for (j = 0; j < nbr && brokers[j] != b; j++)
                    ;
                if (j < nbr)
                    continue;
                if (nbr == capbr) {
                    int *nb = realloc(brokers, (capbr = capbr ? capbr * 2 : 16) * sizeof *nb);
                    if (!nb)
                        goto done;
                    brokers = nb;
                }
                brokers[nbr++] = b;
            }
        }
        json_array_foreach(from, k, x)
            if (entries_add(&topics[t].leader, part, (int)json_integer_value(x)))
                goto done;
        json_array_foreach(to, k, x) {
            int b = (int)json_integer_value(x), was = 0;
            size_t j;
            json_t *y;
            json_array_foreach(from, j, y) was |= (int)json_integer_value(y) == b;
            if (!was && entries_add(&topics[t].follower, part, b))
                goto done;
        }
    }
    if (!(out = json_object()))
        goto done;
    snprintf(rs, sizeof rs, "%lld", (long long)rate);
    for (i = 0; i < nbr; i++) {
        snprintf(key, sizeof key, "brokers/%d", brokers[i]);
        json_object_set_new(out, key, json_pack("{s:s,s:s}", K_LEADER_RATE, rs, K_FOLLOWER_RATE, rs));
    }
    for (i = 0; i < nt; i++) {
        json_t *o = json_object();
        char *k2 = malloc(strlen(topics[i].topic) + 8);
        if (!o || !k2) {
            json_decref(o);
            free(k2);
            json_decref(out);
            out = NULL;
            goto done;
        }
        if (topics[i].leader.n)
            json_object_set_new(o, K_LEADER_REPLICAS, entries_string(&topics[i].leader, 1));
        if (topics[i].follower.n)
            json_object_set_new(o, K_FOLLOWER_REPLICAS, entries_string(&topics[i].follower, 1));
        sprintf(k2, "topics/%s", topics[i].topic);
        json_object_set_new(out, k2, o);
        free(k2);
    }
done:
    for (i = 0; i < nt; i++) {
        free(topics[i].topic);
        free(topics[i].leader.v);
        free(topics[i].follower.v);
    }
    free(topics);
    free(brokers);
    return out;
}

static int is_list_key(const char *k) { return strstr(k, ".throttled.replicas") != NULL; }

int kr_exec_config_apply(json_t *config, const json_t *want, json_t **added)
{
    const char *k;
    json_t *v;
    int changed = 0;
    *added = NULL;
    if (!json_is_object(config) || !json_is_object(want))
        return KR_EINVAL;
    if (!(*added = json_object()))
        return KR_ENOMEM;
    json_object_foreach((json_t *)want, k, v) {
        const char *cur = json_string_value(json_object_get(config, k));
        if (!json_is_string(v))
            continue;
        if (!is_list_key(k)) {
            if (cur)
                continue; /* an operator's (or another tool's) rate stays */
            json_object_set(config, k, v);
            json_object_set(*added, k, v);
            changed = 1;
            continue;
        }
        entries_t have = { 0 }, mine = { 0 }, add = { 0 };
        if (entries_parse(cur, &have) == 1) {
            free(have.v);
            continue; /* "*": every replica is throttled already */
        }
        entries_parse(json_string_value(v), &mine);
        for (size_t i = 0; i < mine.n; i++)
            if (!entries_has(&have, mine.v[i].partition, mine.v[i].broker)) {
                entries_add(&add, mine.v[i].partition, mine.v[i].broker);
                entries_add(&have, mine.v[i].partition, mine.v[i].broker);
            }
        if (add.n) {
            json_object_set_new(config, k, entries_string(&have, 0));
            json_object_set_new(*added, k, entries_string(&add, 1));
            changed = 1;
        }
        free(have.v);
        free(mine.v);
        free(add.v);
    }
    return changed;
}

int kr_exec_config_remove(json_t *config, const json_t *added)
{
    const char *k;
    json_t *v;
    int changed = 0;
    if (!json_is_object(config) || !json_is_object(added))
        return KR_EINVAL;
    json_object_foreach((json_t *)added, k, v) {
        const char *cur = json_string_value(json_object_get(config, k));
        if (!cur || !json_is_string(v))
            continue;
        if (!is_list_key(k)) {
            if (strcmp(cur, json_string_value(v)) == 0) {
                json_object_del(config, k);
                changed = 1;
            }
            continue;
        }
        entries_t have = { 0 }, mine = { 0 }, keep = { 0 };
        if (entries_parse(cur, &have) == 1) {
            free(have.v);
            continue; /* someone set "*" since: not ours to touch */
        }
        entries_parse(json_string_value(v), &mine);
        for (size_t i = 0; i < have.n; i++)
            if (!entries_has(&mine, have.v[i].partition, have.v[i].broker))
                entries_add(&keep, have.v[i].partition, have.v[i].broker);
        if (keep.n != have.n) {
            changed = 1;
            if (keep.n)
                json_object_set_new(config, k, entries_string(&keep, 0));
            else
                json_object_del(config, k);
        }
        free(have.v);
        free(mine.v);
        free(keep.v);
    }
    return changed;
}

/* ---- checks ---- */

int kr_exec_reassignment_same(const char *data, size_t len, const json_t *reassignment)
{
    kr_zk_reassignment_t r;
    char err[128];
    const json_t *parts = json_object_get(reassignment, "partitions"), *p;
    size_t i;
    int same = 1;
    if (!data || kr_zk_reassignment_decode(data, len, &r, err, sizeof err) != KR_OK)
        return 0;
    if (r.n_moves != json_array_size(parts))
        same = 0;
    json_array_foreach(parts, i, p) {
        const char *topic = json_string_value(json_object_get(p, "topic"));
        int part = (int)json_integer_value(json_object_get(p, "partition"));
        const json_t *reps = json_object_get(p, "replicas");
        size_t k;
        int found = 0;
        if (!same)
            break;
        for (k = 0; k < r.n_moves; k++) {
            if (r.moves[k].partition != part || !topic || strcmp(r.moves[k].topic, topic) != 0)
                continue;
            found = r.moves[k].replicas.n == json_array_size(reps);
            for (size_t j = 0; found && j < r.moves[k].replicas.n; j++)
                found = r.moves[k].replicas.ids[j] == json_integer_value(json_array_get(reps, j));
            break;
        }
        same = found;
    }
    kr_zk_reassignment_deinit(&r);
    return same;
}

int kr_exec_partition_done(const int *replicas, size_t n, const int *isr, size_t n_isr,
                           const json_t *target)
{
    size_t nt = json_array_size(target);
    if (!json_is_array(target) || n != nt || n_isr != nt)
        return 0;
    for (size_t i = 0; i < nt; i++) {
        int t = (int)json_integer_value(json_array_get(target, i)), in_isr = 0;
        if (replicas[i] != t)
            return 0;
        for (size_t j = 0; j < n_isr; j++)
            in_isr |= isr[j] == t;
        if (!in_isr)
            return 0;
    }
    return 1;
}
