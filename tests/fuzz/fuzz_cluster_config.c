/* tests/fuzz/fuzz_cluster_config.c: arbitrary bytes as a config file's `clusters:` section
 * (and whatever else): the cluster check never crashes and a refusal always says where
 * (name:line:col); a config it accepts builds a clusters context whose inventory answers
 * events (alarm-name expressions, static map) without crashing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "kr/cluster.h"
#include "kr/config.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char *const events[] = {
    "{\"instance\":{\"id\":\"i-0abc\"}}",
    "{\"alarm\":{\"name\":\"kafka-orders-b12-cpu\"}}",
    "{\"alarm\":{\"name\":\"\"}}",
    "{\"cluster\":\"orders\",\"broker\":{\"id\":7}}",
    "{\"host\":\"10.0.0.1\",\"alarm\":{\"name\":\"b99999999999999999999\"}}",
};

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char err[1024] = "";
    kr_config_t *c = kr_config_parse("/fuzz/k.yaml", (const char *)data, size, err, sizeof err);
    struct event_base *base;
    kr_clusters_t *cl;
    if (!c)
        return 0;
    if (kr_clusters_check(c, err, sizeof err) != 0) {
        if (strncmp(err, "/fuzz/k.yaml:", 13) != 0) {
            fprintf(stderr, "cluster error without a location: %s\n", err);
            abort();
        }
        kr_config_free(c);
        return 0;
    }
    base = event_base_new();
    cl = kr_clusters_new(base, c, NULL, NULL, NULL, err, sizeof err);
    if (!cl) {
        fprintf(stderr, "check accepted what new refused: %s\n", err);
        abort();
    }
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        json_t *ev = json_loads(events[i], 0, NULL);
        kr_clusters_enrich(cl, ev);
        json_decref(ev);
    }
    for (size_t i = 0; i < kr_clusters_count(cl); i++)
        json_decref(kr_cluster_json(kr_clusters_at(cl, i), 1));
    kr_clusters_free(cl);
    event_base_free(base);
    kr_config_free(c);
    return 0;
}
