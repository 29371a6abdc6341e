/* tests/fuzz/fuzz_rules.c: libFuzzer target for the rule parser and compiler: any bytes go
 * through kr_ruleset_parse (kr_doc_parse, then compile). Properties: a failure always
 * comes with a non-empty error whose first line names "rules.yaml:LINE:COL: "; a compiled
 * set matches fixed events and explains them without crashing, and the type/source index
 * never changes the answer (same rules called as a full scan). Seeds are the golden rule
 * files (tests/fuzz/seeds/fuzz_rules/). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_cb(const kr_rule_t *r, void *arg)
{
    (void)r;
    (*(int *)arg)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const events[] = {
        "{\"id\":\"e\",\"source\":\"aws.events\",\"type\":\"instance.impaired\",\"state\":\"firing\","
        "\"cluster\":\"orders-prod\",\"broker\":{\"id\":3,\"host\":\"10.0.0.5\"},\"alarm\":{\"metric\":\"StatusCheckFailed\"},"
        "\"labels\":{\"alertname\":\"x\"},\"tags\":[1,\"a\",null,{\"k\":true}]}",
        /* "type" not a string: forces the full scan */
        "{\"source\":\"zookeeper\",\"type\":[\"broker.left\"],\"state\":\"resolved\",\"broker\":{\"id\":4.5}}",
        "{}",
    };
    static char err[65536];
    kr_ruleset_t *rs = kr_ruleset_parse("rules.yaml", (const char *)data, size, err, sizeof err);
    if (!rs) {
        if (!err[0])
            abort();
        if (strncmp(err, "rules.yaml:", 11) != 0 && strncmp(err, "out of memory", 13) != 0)
            abort();
        return 0;
    }
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        json_t *ev = json_loads(events[i], 0, NULL);
        int n = 0;
        kr_ruleset_match(rs, ev, count_cb, &n);
        /* A one-element array matches exactly like its element, but a non-string "type"
         * makes kr_ruleset_match scan every rule: the index must not change the count. */
        json_t *wrapped = json_deep_copy(ev);
        const char *keys[] = { "type", "source" };
        for (size_t k = 0; k < 2; k++) {
            json_t *v = json_object_get(wrapped, keys[k]);
            if (json_is_string(v))
                json_object_set_new(wrapped, keys[k], json_pack("[O]", v));
        }
        int m = 0;
        kr_ruleset_match(rs, wrapped, count_cb, &m);
        if (m != n)
            abort();
        json_decref(wrapped);
        json_t *out = kr_ruleset_explain(rs, ev);
        if (!out || (int)json_array_size(json_object_get(out, "matches")) != n)
            abort();
        for (size_t j = 0; j < kr_ruleset_count(rs); j++) {
            char key[256];
            const kr_rule_t *r = kr_ruleset_rule(rs, j);
            kr_rule_incident_key(r, ev, key, sizeof key);
            (void)kr_rule_resolves(r, ev, ev);
        }
        json_decref(out);
        json_decref(ev);
    }
    kr_ruleset_decref(rs);
    return 0;
}
