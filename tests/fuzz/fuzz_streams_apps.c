/* tests/fuzz/fuzz_streams_apps.c: arbitrary bytes as a config file whose clusters carry
 * streams_apps: the check never crashes and a refusal says where (name:line:col); a
 * config the check accepts normalizes every cluster's apps, and for those the affected-app
 * rule and Kafka's command line hold their guarantees: an app is affected by each of its
 * own input topics, the command names the app and every input topic, and a topic claimed
 * by no app affects nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/config.h"
#include "kr/streams_marks.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check_apps(const json_t *apps)
{
    size_t i;
    json_t *app;
    kr_streams_reset_spec_t spec = { KR_STREAMS_TO_DATETIME, 1795513750000LL, 0 };
    const char *none = "\x01 no such topic";
    json_t *nobody = kr_streams_affected(apps, &none, 1);
    if (!nobody || json_array_size(nobody) != 0)
        abort();
    json_decref(nobody);
    json_array_foreach(apps, i, app) {
        const char *id = json_string_value(json_object_get(app, "application_id"));
        const char *in = json_string_value(json_array_get(json_object_get(app, "input_topics"), 0));
        if (!id || !in)
            abort();
        json_t *hit = kr_streams_affected(apps, &in, 1);
        int found = 0;
        for (size_t k = 0; hit && k < json_array_size(hit); k++)
            found |= strcmp(json_string_value(json_array_get(hit, k)), id) == 0;
        if (!found) {
            fprintf(stderr, "app %s not affected by its own input topic %s\n", id, in);
            abort();
        }
        json_decref(hit);
        char *cmd = kr_streams_reset_command(app, "b:9092", &spec, 1);
        if (!cmd || !strstr(cmd, id) || !strstr(cmd, in) || !strstr(cmd, " --dry-run"))
            abort();
        free(cmd);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char err[1024] = "";
    kr_config_t *c = kr_config_parse("/fuzz/k.yaml", (const char *)data, size, err, sizeof err);
    size_t i;
    json_t *cl;
    if (!c)
        return 0;
    if (kr_streams_apps_check(c, err, sizeof err) != 0) {
        if (strncmp(err, "/fuzz/k.yaml:", 13) != 0) {
            fprintf(stderr, "error without a location: %s\n", err);
            abort();
        }
        kr_config_free(c);
        return 0;
    }
    json_array_foreach(c->clusters, i, cl) {
        const char *name = json_string_value(json_object_get(cl, "name"));
        if (!name)
            continue;
        json_t *apps = kr_streams_apps(c, name, NULL, NULL, err, sizeof err);
        if (!apps) {
            /* a duplicate cluster name finds the first one, which may be another */
            continue;
        }
        check_apps(apps);
        json_decref(apps);
    }
    kr_config_free(c);
    return 0;
}
