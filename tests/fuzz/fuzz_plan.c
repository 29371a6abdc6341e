/* tests/fuzz/fuzz_plan.c: libFuzzer target for the planner's inputs and the planner
 * itself: any bytes go through the target-spec and stack-list parsers, then as a JSON
 * snapshot through kr_plan_cluster_from_json; a cluster that loads is planned (evacuate
 * the first replica's broker, target spec picked by the first byte) and the plan's
 * guarantees are checked: same RF, kept replicas in place, no evacuated broker left, no
 * duplicates, every move in exactly one batch. Seeds: tests/fuzz/seeds/fuzz_plan/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kr/planner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_plan(const kr_plan_t *p, int32_t evacuated)
{
    size_t n = kr_plan_moves(p), total = 0;
    for (size_t i = 0; i < n; i++) {
        kr_plan_move_t m;
        kr_plan_move(p, i, &m);
        int affected = 0;
        for (size_t q = 0; q < m.rf; q++) {
            affected |= m.from[q] == evacuated;
            if (m.to[q] == evacuated || (m.from[q] != evacuated && m.to[q] != m.from[q]))
                abort();
            for (size_t o = 0; o < q; o++)
                if (m.to[o] == m.to[q])
                    abort();
        }
        if (!affected)
            abort();
    }
    for (int max = 1; max <= 3; max++) {
        kr_plan_batches_t *b = NULL;
        char err[256];
        if (kr_plan_batch(p, max, &b, err, sizeof err) != 0)
            abort();
        total = 0;
        for (size_t j = 0; j < kr_plan_batches_count(b); j++)
            total += kr_plan_batch_size(b, j);
        if (total != n)
            abort();
        kr_plan_batches_free(b);
    }
    json_t *j = kr_plan_reassignment_json(p), *s = kr_plan_summary_json(p);
    if (!j || !s || json_array_size(json_object_get(j, "partitions")) != n)
        abort();
    json_decref(j);
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const specs[] = { "any", "same-stack", "stack:green", "1-1000",
                                         "0-2147483647", "stack:blue" };
    char err[512];
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    kr_plan_targets_t t;
    if (kr_plan_targets_parse(text, &t, err, sizeof err) == 0) {
        char back[96];
        kr_plan_targets_t again;
        if (kr_plan_targets_parse(kr_plan_targets_format(&t, back, sizeof back), &again, err,
                                  sizeof err) != 0 || memcmp(&t, &again, sizeof t) != 0)
            abort();
    }
    kr_plan_stack_t stacks[8];
    kr_plan_stacks_parse(text, stacks, 8, err, sizeof err);

    json_error_t jerr;
    json_t *snap = json_loadb((const char *)data, size, 0, &jerr);
    kr_plan_cluster_t *c = NULL;
    if (snap && kr_plan_cluster_from_json(snap, NULL, 0, &c, err, sizeof err) == 0) {
        json_t *first = json_array_get(json_object_get(json_array_get(
            json_object_get(snap, "partitions"), 0), "replicas"), 0);
        int32_t id = (int32_t)json_integer_value(first);
        kr_plan_request_t req = { .evacuate = &id, .n_evacuate = 1 };
        kr_plan_targets_parse(specs[size % 6], &req.to, err, sizeof err);
        kr_plan_t *p = NULL;
        if (first && kr_plan_new(c, &req, &p, err, sizeof err) == 0)
            check_plan(p, id);
        kr_plan_free(p);
    } else if (c) {
        abort(); /* a failed load returns no cluster */
    }
    kr_plan_cluster_free(c);
    json_decref(snap);
    free(text);
    return 0;
}
