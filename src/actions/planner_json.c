/* actions/planner_json.c: the planner's textual inputs: a cluster snapshot in JSON, the
 * target spec ("same-stack", "any", "stack:NAME", "A-B") and stack lists
 * ("blue=1-1000,green=1001-2000"). Built on the public builder of kr/planner.h only. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/planner.h"

/* Parses a non-negative int32 that spans exactly [s, end). */
static int parse_id(const char *s, const char *end, int32_t *out)
{
    if (s == end || !isdigit((unsigned char)*s))
        return KR_EINVAL;
    long long v = 0;
    for (; s < end; s++) {
        if (!isdigit((unsigned char)*s))
            return KR_EINVAL;
        v = v * 10 + (*s - '0');
        if (v > INT32_MAX)
            return KR_EINVAL;
    }
    *out = (int32_t)v;
    return KR_OK;
}

/* "LOW-HIGH" (spaces around the dash allowed) into lo/hi. */
static int parse_range(const char *s, size_t len, int32_t *lo, int32_t *hi)
{
    const char *end = s + len;
    while (s < end && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    const char *dash = memchr(s, '-', (size_t)(end - s));
    if (!dash)
        return KR_EINVAL;
    const char *a_end = dash, *b = dash + 1;
    while (a_end > s && isspace((unsigned char)a_end[-1]))
        a_end--;
    while (b < end && isspace((unsigned char)*b))
        b++;
    if (parse_id(s, a_end, lo) < 0 || parse_id(b, end, hi) < 0 || *lo > *hi)
        return KR_EINVAL;
    return KR_OK;
}

int kr_plan_targets_parse(const char *spec, kr_plan_targets_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!spec)
        spec = "";
    while (isspace((unsigned char)*spec))
        spec++;
    size_t len = strlen(spec);
    while (len && isspace((unsigned char)spec[len - 1]))
        len--;
    if (len == 10 && strncmp(spec, "same-stack", 10) == 0) {
        out->kind = KR_PLAN_TO_SAME_STACK;
        return KR_OK;
    }
    if (len == 3 && strncmp(spec, "any", 3) == 0) {
        out->kind = KR_PLAN_TO_ANY;
        return KR_OK;
    }
    if (len > 6 && strncmp(spec, "stack:", 6) == 0) {
        const char *name = spec + 6;
        size_t nlen = len - 6;
        while (nlen && isspace((unsigned char)*name))
            name++, nlen--;
        if (!nlen || nlen >= sizeof out->stack)
            goto bad;
        for (size_t i = 0; i < nlen; i++)
            if (isspace((unsigned char)name[i]) || name[i] == ',')
                goto bad;
        out->kind = KR_PLAN_TO_STACK;
        memcpy(out->stack, name, nlen);
        out->stack[nlen] = '\0';
        return KR_OK;
    }
    if (len && isdigit((unsigned char)spec[0]) && parse_range(spec, len, &out->lo, &out->hi) == 0) {
        out->kind = KR_PLAN_TO_RANGE;
        return KR_OK;
    }
bad:
    return kr_seterr(err, errlen, KR_EINVAL,
                     "bad target \"%.*s\": expected same-stack, any, stack:NAME or an id "
                     "range like 1001-2000", (int)(len > 80 ? 80 : len), spec);
}

int kr_plan_stacks_parse(const char *spec, kr_plan_stack_t *out, size_t max, char *err,
                         size_t errlen)
{
    size_t n = 0;
    const char *s = spec ? spec : "";
    while (*s) {
        const char *end = strchr(s, ',');
        if (!end)
            end = s + strlen(s);
        const char *eq = memchr(s, '=', (size_t)(end - s));
        const char *name = s, *name_end = eq ? eq : end;
        while (name < name_end && isspace((unsigned char)*name))
            name++;
        while (name_end > name && isspace((unsigned char)name_end[-1]))
            name_end--;
        size_t nlen = (size_t)(name_end - name);
        int32_t lo, hi;
        if (!eq || !nlen || nlen >= sizeof out[0].name ||
            parse_range(eq + 1, (size_t)(end - eq - 1), &lo, &hi) < 0)
            return kr_seterr(err, errlen, KR_EINVAL,
                             "bad stack \"%.*s\": expected NAME=LOW-HIGH, e.g. "
                             "blue=1-1000,green=1001-2000", (int)(end - s > 80 ? 80 : end - s), s);
        if (n == max)
            return kr_seterr(err, errlen, KR_EINVAL, "too many stacks (at most %zu)", max);
        memset(&out[n], 0, sizeof out[n]);
        memcpy(out[n].name, name, nlen);
        out[n].lo = lo;
        out[n].hi = hi;
        n++;
        s = *end ? end + 1 : end;
    }
    return (int)n;
}

/* A JSON integer that fits a non-negative int32. */
static int json_id(const json_t *v, int32_t *out)
{
    if (!json_is_integer(v))
        return KR_EINVAL;
    json_int_t i = json_integer_value(v);
    if (i < 0 || i > INT32_MAX)
        return KR_EINVAL;
    *out = (int32_t)i;
    return KR_OK;
}

static int load_stacks(kr_plan_cluster_t *c, const json_t *stacks, char *err, size_t errlen)
{
    const char *name;
    json_t *v;
    if (!stacks)
        return KR_OK;
    if (!json_is_object(stacks))
        return kr_seterr(err, errlen, KR_EINVAL,
                         "stacks: expected an object like {\"blue\":\"1-1000\"}");
    json_object_foreach((json_t *)stacks, name, v) {
        int32_t lo, hi;
        if (!json_is_string(v) ||
            parse_range(json_string_value(v), json_string_length(v), &lo, &hi) < 0)
            return kr_seterr(err, errlen, KR_EINVAL,
                             "stacks.%s: expected an id range string like \"1-1000\"", name);
        int rc = kr_plan_cluster_add_stack(c, name, lo, hi, err, errlen);
        if (rc < 0)
            return rc;
    }
    return KR_OK;
}

static int load_brokers(kr_plan_cluster_t *c, const json_t *brokers, char *err, size_t errlen)
{
    size_t i;
    json_t *b;
    if (!brokers)
        return KR_OK; /* every broker is then known only from the replica lists: dead */
    if (!json_is_array(brokers))
        return kr_seterr(err, errlen, KR_EINVAL, "brokers: expected an array");
    json_array_foreach(brokers, i, b) {
        kr_plan_broker_t pb = { .alive = 1 };
        json_t *rack = json_object_get(b, "rack"), *alive = json_object_get(b, "alive"),
               *stack = json_object_get(b, "stack");
        if (!json_is_object(b))
            return kr_seterr(err, errlen, KR_EINVAL, "brokers[%zu]: expected an object", i);
        if (json_id(json_object_get(b, "id"), &pb.id) < 0)
            return kr_seterr(err, errlen, KR_EINVAL,
                             "brokers[%zu].id: expected a non-negative integer", i);
        if (rack && !json_is_null(rack)) {
            if (!json_is_string(rack) || !json_string_length(rack))
                return kr_seterr(err, errlen, KR_EINVAL,
                                 "brokers[%zu].rack: expected a non-empty string or null", i);
            pb.rack = json_string_value(rack);
        }
        if (alive) {
            if (!json_is_boolean(alive))
                return kr_seterr(err, errlen, KR_EINVAL, "brokers[%zu].alive: expected true or false", i);
            pb.alive = json_is_true(alive);
        }
        if (stack && !json_is_null(stack)) {
            if (!json_is_string(stack))
                return kr_seterr(err, errlen, KR_EINVAL, "brokers[%zu].stack: expected a string", i);
            pb.stack = json_string_value(stack);
        }
        int rc = kr_plan_cluster_add_broker(c, &pb, err, errlen);
        if (rc < 0) {
            char inner[256];
            snprintf(inner, sizeof inner, "%s", err ? err : "");
            return kr_seterr(err, errlen, rc, "brokers[%zu]: %s", i, inner);
        }
    }
    return KR_OK;
}

static int load_partitions(kr_plan_cluster_t *c, const json_t *parts, char *err, size_t errlen)
{
    size_t i;
    json_t *p;
    int32_t ids[256];
    if (!json_is_array(parts))
        return kr_seterr(err, errlen, KR_EINVAL,
                         "partitions: expected an array of {\"topic\":..,\"partition\":..,\"replicas\":[..]}");
    json_array_foreach(parts, i, p) {
        json_t *topic = json_object_get(p, "topic"), *replicas = json_object_get(p, "replicas");
        int32_t num;
        if (!json_is_object(p))
            return kr_seterr(err, errlen, KR_EINVAL, "partitions[%zu]: expected an object", i);
        if (!json_is_string(topic) || !json_string_length(topic))
            return kr_seterr(err, errlen, KR_EINVAL, "partitions[%zu].topic: expected a non-empty string", i);
        if (json_id(json_object_get(p, "partition"), &num) < 0)
            return kr_seterr(err, errlen, KR_EINVAL,
                             "partitions[%zu].partition: expected a non-negative integer", i);
        if (!json_is_array(replicas) || !json_array_size(replicas) ||
            json_array_size(replicas) > sizeof ids / sizeof ids[0] - 1)
            return kr_seterr(err, errlen, KR_EINVAL,
                             "partitions[%zu].replicas: expected an array of 1 to 255 broker ids", i);
        for (size_t r = 0; r < json_array_size(replicas); r++)
            if (json_id(json_array_get(replicas, r), &ids[r]) < 0)
                return kr_seterr(err, errlen, KR_EINVAL,
                                 "partitions[%zu].replicas[%zu]: expected a non-negative integer", i, r);
        int rc = kr_plan_cluster_add_partition(c, json_string_value(topic), num, ids,
                                               json_array_size(replicas), err, errlen);
        if (rc < 0) {
            char inner[256];
            snprintf(inner, sizeof inner, "%s", err ? err : "");
            return kr_seterr(err, errlen, rc, "partitions[%zu]: %s", i, inner);
        }
    }
    return KR_OK;
}

int kr_plan_cluster_from_json(const json_t *snapshot, const kr_plan_stack_t *stacks,
                              size_t nstacks, kr_plan_cluster_t **out, char *err, size_t errlen)
{
    int rc;
    kr_plan_cluster_t *c = NULL;

    *out = NULL;
    if (!json_is_object(snapshot))
        return kr_seterr(err, errlen, KR_EINVAL,
                         "a cluster snapshot must be an object with \"brokers\" and \"partitions\"");
    if (!(c = kr_plan_cluster_new()))
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory reading the snapshot");
    if ((rc = load_stacks(c, json_object_get(snapshot, "stacks"), err, errlen)) < 0)
        goto done;
    for (size_t i = 0; i < nstacks; i++)
        if ((rc = kr_plan_cluster_add_stack(c, stacks[i].name, stacks[i].lo, stacks[i].hi, err,
                                            errlen)) < 0)
            goto done;
    if ((rc = load_brokers(c, json_object_get(snapshot, "brokers"), err, errlen)) < 0 ||
        (rc = load_partitions(c, json_object_get(snapshot, "partitions"), err, errlen)) < 0 ||
        (rc = kr_plan_cluster_seal(c, err, errlen)) < 0)
        goto done;
    *out = c;
    c = NULL;
done:
    kr_plan_cluster_free(c);
    return rc;
}
