/* actions/streams.c: the pure Kafka Streams reset planner of kr/streams.h: internal-topic
 * identification (Kafka's name rule plus evidence of ownership), target offsets per
 * partition, and the parsers of --to-datetime and --by-duration. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/streams.h"
#include "kr/units.h"

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Kafka: topicName.matches(".+-KTABLE-FK-JOIN-SUBSCRIPTION-(REGISTRATION|RESPONSE)-\\d+-topic"),
 * a whole-name match. Any occurrence of the marker after at least one character may be the
 * one the regex anchors on, so every occurrence is tried. */
static int matches_fk_join(const char *topic)
{
    static const char marker[] = "-KTABLE-FK-JOIN-SUBSCRIPTION-";
    static const char *const kinds[] = { "REGISTRATION-", "RESPONSE-" };
    for (const char *m = strstr(topic + 1, marker); m; m = strstr(m + 1, marker)) {
        const char *p = m + sizeof marker - 1;
        for (size_t k = 0; k < 2; k++) {
            size_t kl = strlen(kinds[k]);
            const char *d;
            if (strncmp(p, kinds[k], kl) != 0)
                continue;
            d = p + kl;
            if (!isdigit((unsigned char)*d))
                continue;
            while (isdigit((unsigned char)*d))
                d++;
            if (strcmp(d, "-topic") == 0)
                return 1;
        }
    }
    return 0;
}

int kr_streams_is_internal_name(const char *application_id, const char *topic)
{
    size_t al, n;
    if (!application_id || !topic || !*application_id)
        return 0;
    al = strlen(application_id);
    n = strlen(topic);
    if (n <= al + 1 || strncmp(topic, application_id, al) != 0 || topic[al] != '-')
        return 0;
    return ends_with(topic, n, "-changelog") || ends_with(topic, n, "-repartition") ||
           ends_with(topic, n, "-subscription-registration-topic") ||
           ends_with(topic, n, "-subscription-response-topic") || matches_fk_join(topic);
}

int64_t kr_streams_reset_time(const kr_streams_reset_spec_t *spec, int64_t now_ms)
{
    switch (spec->kind) {
    case KR_STREAMS_TO_DATETIME: return spec->time_ms;
    case KR_STREAMS_BY_DURATION: return now_ms - spec->duration_ms;
    default: return -1;
    }
}

/* ---- plan ---- */

static int in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/* The planner's lookups go through sorted indexes (pointers into the caller's arrays),
 * so a plan is O(n log n) in partitions, not O(n^2): a big input topic has thousands. */
typedef struct {
    const kr_streams_input_t *in;
    const kr_streams_topic_t **topics;       /* by name */
    const kr_streams_committed_t **committed; /* by topic, partition */
    const kr_streams_resolved_t **resolved;   /* by topic, partition */
    size_t n_topics, n_committed, n_resolved;
} index_t;

static int cmp_topic(const void *a, const void *b)
{
    return strcmp((*(const kr_streams_topic_t *const *)a)->name,
                  (*(const kr_streams_topic_t *const *)b)->name);
}

static int cmp_tp(const char *ta, int32_t pa, const char *tb, int32_t pb)
{
    int c = strcmp(ta, tb);
    return c ? c : (pa > pb) - (pa < pb);
}

static int cmp_committed(const void *a, const void *b)
{
    const kr_streams_committed_t *x = *(const kr_streams_committed_t *const *)a;
    const kr_streams_committed_t *y = *(const kr_streams_committed_t *const *)b;
    return cmp_tp(x->topic, x->partition, y->topic, y->partition);
}

static int cmp_resolved(const void *a, const void *b)
{
    const kr_streams_resolved_t *x = *(const kr_streams_resolved_t *const *)a;
    const kr_streams_resolved_t *y = *(const kr_streams_resolved_t *const *)b;
    return cmp_tp(x->topic, x->partition, y->topic, y->partition);
}

/* Builds the indexes; entries with a NULL topic or name are left out. */
static int index_build(index_t *ix, const kr_streams_input_t *in)
{
    size_t n;
    memset(ix, 0, sizeof *ix);
    ix->in = in;
    ix->topics = calloc(in->n_topics + 1, sizeof *ix->topics);
    ix->committed = calloc(in->n_committed + 1, sizeof *ix->committed);
    ix->resolved = calloc(in->n_resolved + 1, sizeof *ix->resolved);
    if (!ix->topics || !ix->committed || !ix->resolved)
        return KR_ENOMEM;
    for (size_t i = n = 0; i < in->n_topics; i++)
        if (in->topics[i].name)
            ix->topics[n++] = &in->topics[i];
    qsort(ix->topics, n, sizeof *ix->topics, cmp_topic);
    ix->n_topics = n;
    for (size_t i = n = 0; i < in->n_committed; i++)
        if (in->committed[i].topic)
            ix->committed[n++] = &in->committed[i];
    qsort(ix->committed, n, sizeof *ix->committed, cmp_committed);
    ix->n_committed = n;
    for (size_t i = n = 0; i < in->n_resolved; i++)
        if (in->resolved[i].topic)
            ix->resolved[n++] = &in->resolved[i];
    qsort(ix->resolved, n, sizeof *ix->resolved, cmp_resolved);
    ix->n_resolved = n;
    return KR_OK;
}

static void index_free(index_t *ix)
{
    free(ix->topics);
    free(ix->committed);
    free(ix->resolved);
}

static const kr_streams_topic_t *find_topic(const index_t *ix, const char *name)
{
    kr_streams_topic_t key = { name, 0 };
    const kr_streams_topic_t *kp = &key, **hit;
    hit = bsearch(&kp, ix->topics, ix->n_topics, sizeof *ix->topics,
                  cmp_topic);
    return hit ? *hit : NULL;
}

/* First committed entry of topic (any partition), or the end index. */
static size_t committed_lower(const index_t *ix, const char *topic, int32_t part, size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_tp(ix->committed[mid]->topic, ix->committed[mid]->partition, topic, part) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t committed_of(const index_t *ix, const char *topic, int32_t part)
{
    size_t n = ix->n_committed;
    size_t i = committed_lower(ix, topic, part, n);
    if (i < n && ix->committed[i]->partition == part && !strcmp(ix->committed[i]->topic, topic))
        return ix->committed[i]->offset < 0 ? -1 : ix->committed[i]->offset;
    return -1;
}

static int group_committed_on(const index_t *ix, const char *topic)
{
    size_t n = ix->n_committed;
    for (size_t i = committed_lower(ix, topic, INT32_MIN, n);
         i < n && strcmp(ix->committed[i]->topic, topic) == 0; i++)
        if (ix->committed[i]->offset >= 0)
            return 1;
    return 0;
}

static const kr_streams_resolved_t *find_resolved(const index_t *ix, const char *topic,
                                                  int32_t part)
{
    kr_streams_resolved_t key;
    const kr_streams_resolved_t *kp = &key, **hit;
    memset(&key, 0, sizeof key);
    key.topic = topic;
    key.partition = part;
    hit = bsearch(&kp, ix->resolved, ix->n_resolved,
                  sizeof *ix->resolved, cmp_resolved);
    return hit ? *hit : NULL;
}

/* Appends a copy of s to a growing string array. */
static int push_str(char ***arr, size_t *n, const char *s)
{
    char **a = realloc(*arr, (*n + 1) * sizeof *a);
    if (!a)
        return KR_ENOMEM;
    *arr = a;
    if (!(a[*n] = strdup(s)))
        return KR_ENOMEM;
    (*n)++;
    return KR_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int name_inferred(const kr_streams_input_t *in, const char *topic)
{
    return kr_streams_is_internal_name(in->application_id, topic) &&
           !in_list(in->input_topics, in->n_input, topic) &&
           !in_list(in->intermediate_topics, in->n_intermediate, topic);
}

static int check_lists(const kr_streams_input_t *in, char *err, size_t errlen)
{
    struct { const char *const *l; size_t n; const char *what; } lists[] = {
        { in->input_topics, in->n_input, "input" },
        { in->intermediate_topics, in->n_intermediate, "intermediate" },
        { in->internal_topics, in->n_internal, "internal" },
    };
    for (size_t a = 0; a < 3; a++)
        for (size_t i = 0; i < lists[a].n; i++) {
            const char *t = lists[a].l[i];
            if (!t || !*t)
                return kr_seterr(err, errlen, KR_EINVAL, "an empty topic name in the %s topics",
                                 lists[a].what);
            for (size_t b = a; b < 3; b++)
                for (size_t j = b == a ? i + 1 : 0; j < lists[b].n; j++)
                    if (lists[b].l[j] && strcmp(t, lists[b].l[j]) == 0)
                        return kr_seterr(err, errlen, KR_EINVAL,
                                         "topic %s is listed %s as %s and as %s topic", t,
                                         a == b ? "twice" : "both", lists[a].what,
                                         lists[b].what);
        }
    return KR_OK;
}

/* Plans the partitions of one input or intermediate topic. */
static int plan_topic(const index_t *ix, kr_streams_plan_t *p, const char *topic,
                      int intermediate, char *err, size_t errlen)
{
    const kr_streams_input_t *in = ix->in;
    const kr_streams_topic_t *t = find_topic(ix, topic);
    if (!t)
        return push_str(&p->missing_topics, &p->n_missing, topic);
    for (int32_t part = 0; part < t->partitions; part++) {
        const kr_streams_resolved_t *r = find_resolved(ix, topic, part);
        kr_streams_offset_t *o, *grown;
        if (!r)
            return kr_seterr(err, errlen, KR_EINVAL,
                             "no watermarks for partition %d of topic %s: the plan needs the "
                             "low and high offsets of every partition", (int)part, topic);
        grown = realloc(p->offsets, (p->n_offsets + 1) * sizeof *grown);
        if (!grown)
            return KR_ENOMEM;
        p->offsets = grown;
        o = &p->offsets[p->n_offsets];
        memset(o, 0, sizeof *o);
        if (!(o->topic = strdup(topic)))
            return KR_ENOMEM;
        p->n_offsets++;
        o->partition = part;
        o->current = committed_of(ix, topic, part);
        if (intermediate) {
            o->target = r->high;
            continue;
        }
        switch (in->spec.kind) {
        case KR_STREAMS_TO_EARLIEST: o->target = r->low; break;
        case KR_STREAMS_TO_LATEST: o->target = r->high; break;
        default:
            if (r->time_offset >= 0) {
                o->target = r->time_offset;
            } else {
                o->target = r->high;
                o->fell_back_to_end = 1;
            }
        }
    }
    return KR_OK;
}

int kr_streams_plan(const kr_streams_input_t *in, kr_streams_plan_t **out,
                    char *err, size_t errlen)
{
    kr_streams_plan_t *p = NULL;
    index_t ix;
    int rc;

    *out = NULL;
    memset(&ix, 0, sizeof ix);
    if (!in->application_id || !*in->application_id)
        return kr_seterr(err, errlen, KR_EINVAL, "an application id is required");
    if (in->spec.kind == KR_STREAMS_BY_DURATION && in->spec.duration_ms < 0)
        return kr_seterr(err, errlen, KR_EINVAL,
                         "the reset duration is negative: it would reset to a future time");
    if ((rc = check_lists(in, err, errlen)) != KR_OK)
        return rc;
    if (!(p = calloc(1, sizeof *p)) || (rc = index_build(&ix, in)) != KR_OK) {
        rc = KR_ENOMEM;
        goto err;
    }

    for (size_t i = 0; i < in->n_input; i++)
        if ((rc = plan_topic(&ix, p, in->input_topics[i], 0, err, errlen)) != KR_OK)
            goto err;
    for (size_t i = 0; i < in->n_intermediate; i++)
        if ((rc = plan_topic(&ix, p, in->intermediate_topics[i], 1, err, errlen)) != KR_OK)
            goto err;

    if (in->internal_topics) {
        for (size_t i = 0; i < in->n_internal; i++) {
            const char *t = in->internal_topics[i];
            if (!find_topic(&ix, t) || !name_inferred(in, t)) {
                rc = kr_seterr(err, errlen, KR_EINVAL,
                               "internal topic %s is not one of application %s's internal "
                               "topics: it must exist, start with \"%s-\", end with "
                               "-changelog, -repartition or a foreign-key join suffix, and "
                               "not be an input or intermediate topic",
                               t, in->application_id, in->application_id);
                goto err;
            }
            if ((rc = push_str(&p->delete_topics, &p->n_delete, t)) != KR_OK)
                goto err;
        }
    } else {
        for (size_t i = 0; i < in->n_topics; i++) {
            const char *t = in->topics[i].name;
            if (!t || !name_inferred(in, t))
                continue;
            if (group_committed_on(&ix, t) || in_list(in->topology_topics, in->n_topology, t))
                rc = push_str(&p->delete_topics, &p->n_delete, t);
            else
                rc = push_str(&p->unconfirmed_topics, &p->n_unconfirmed, t);
            if (rc != KR_OK)
                goto err;
        }
    }
    if (p->n_delete)
        qsort(p->delete_topics, p->n_delete, sizeof *p->delete_topics, cmp_str);
    if (p->n_unconfirmed)
        qsort(p->unconfirmed_topics, p->n_unconfirmed, sizeof *p->unconfirmed_topics, cmp_str);
    index_free(&ix);
    *out = p;
    return KR_OK;
err:
    if (rc == KR_ENOMEM)
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory while planning the reset");
    index_free(&ix);
    kr_streams_plan_free(p);
    return rc;
}

static void free_strs(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

void kr_streams_plan_free(kr_streams_plan_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_offsets; i++)
        free(p->offsets[i].topic);
    free(p->offsets);
    free_strs(p->delete_topics, p->n_delete);
    free_strs(p->unconfirmed_topics, p->n_unconfirmed);
    free_strs(p->missing_topics, p->n_missing);
    free(p);
}

static json_t *str_array(char *const *a, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_string(a[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

json_t *kr_streams_plan_json(const kr_streams_plan_t *p)
{
    json_t *offsets = json_array(), *o;
    for (size_t i = 0; offsets && i < p->n_offsets; i++) {
        const kr_streams_offset_t *x = &p->offsets[i];
        json_t *e = json_pack("{s:s, s:i, s:o, s:I}", "topic", x->topic, "partition",
                              (int)x->partition, "current",
                              x->current < 0 ? json_null() : json_integer(x->current),
                              "target", (json_int_t)x->target);
        if (!e || json_array_append_new(offsets, e) != 0) {
            json_decref(offsets);
            return NULL;
        }
    }
    o = json_pack("{s:o*, s:o*, s:o*, s:o*}", "offsets", offsets, "delete_topics",
                  str_array(p->delete_topics, p->n_delete), "unconfirmed_internal_topics",
                  str_array(p->unconfirmed_topics, p->n_unconfirmed), "missing_topics",
                  str_array(p->missing_topics, p->n_missing));
    return o;
}

/* ---- parsers ---- */

int kr_streams_parse_datetime(const char *s, int64_t *ms, char *err, size_t errlen)
{
    const char *t = s ? strchr(s, 'T') : NULL;
    if (!t || t - s != 10 || kr_time_parse(s, ms) != KR_OK)
        return kr_seterr(err, errlen, KR_EINVAL,
                         "--to-datetime %s is not of the form YYYY-MM-DDTHH:mm:SS.sss "
                         "(UTC unless followed by Z or an offset such as +09:00)",
                         s ? s : "(null)");
    return KR_OK;
}

/* Reads digits (at most 18) into *v; returns the number read. */
static int read_num(const char **p, int64_t *v)
{
    int n = 0;
    *v = 0;
    while (isdigit((unsigned char)**p) && n < 18) {
        *v = *v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return isdigit((unsigned char)**p) ? -1 : n;
}

int kr_streams_parse_iso_duration(const char *s, int64_t *ms, char *err, size_t errlen)
{
    const char *p = s;
    int64_t total = 0, v;
    int parts = 0, in_time = 0;
    /* unit order: D, then after T: H, M, S; each at most once, in order */
    int last = -1;

    if (!p)
        goto bad;
    if (*p == '-')
        return kr_seterr(err, errlen, KR_EINVAL,
                         "--by-duration %s is negative: it would reset to a future time", s);
    if (*p == '+')
        p++;
    if (*p != 'P' && *p != 'p')
        goto bad;
    p++;
    while (*p) {
        static const int64_t unit_ms[] = { 86400000, 3600000, 60000, 1000 };
        int unit, n;
        int64_t frac = 0;
        if (*p == 'T' || *p == 't') {
            if (in_time)
                goto bad;
            in_time = 1;
            p++;
            if (!*p)
                goto bad;
            continue;
        }
        if (*p == '-')
            return kr_seterr(err, errlen, KR_EINVAL,
                             "--by-duration %s is negative: it would reset to a future time",
                             s);
        if (*p == '+')
            p++;
        if ((n = read_num(&p, &v)) <= 0)
            goto bad;
        if (*p == '.' || *p == ',') {
            int k = 0;
            p++;
            if (!isdigit((unsigned char)*p))
                goto bad;
            while (isdigit((unsigned char)*p)) {
                if (k < 3)
                    frac = frac * 10 + (*p - '0');
                k++;
                p++;
            }
            if (k > 9)
                goto bad;
            for (; k < 3; k++)
                frac *= 10;
            if (*p != 'S' && *p != 's')
                goto bad;
        }
        switch (toupper((unsigned char)*p)) {
        case 'D': unit = 0; break;
        case 'H': unit = 1; break;
        case 'M': unit = 2; break;
        case 'S': unit = 3; break;
        default: goto bad;
        }
        if ((unit == 0) == in_time || unit <= last)
            goto bad;
        last = unit;
        if (v > (INT64_MAX / 4) / unit_ms[unit] || total > INT64_MAX / 4)
            goto bad;
        total += v * unit_ms[unit] + frac;
        parts++;
        p++;
    }
    if (!parts)
        goto bad;
    *ms = total;
    return KR_OK;
bad:
    return kr_seterr(err, errlen, KR_EINVAL,
                     "--by-duration %s is not an ISO-8601 duration PnDTnHnMnS (e.g. PT1H, "
                     "P1DT12H, PT30M, PT0.5S)", s ? s : "(null)");
}
