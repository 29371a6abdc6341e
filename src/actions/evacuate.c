/* actions/evacuate.c: the `evacuate`, `drain_stack` and `elect_leaders` actions: move
 * every replica off brokers (or a whole blue/green stack) through
 * /admin/reassign_partitions, and preferred-leader elections. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "kr/action.h"
#include "kr/err.h"
#include "kr/params.h"

/* same-stack | any | stack:NAME | A-B (ids) */
static int check_target(const char *kind, const json_t *params, const char *key,
                        const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key);
    const char *s;
    unsigned a, b;
    char tail;
    if (!v)
        return KR_OK;
    if (json_is_string(v)) {
        s = json_string_value(v);
        if (strcmp(s, "same-stack") == 0 || strcmp(s, "any") == 0 || strstr(s, "{{"))
            return KR_OK;
        if (strncmp(s, "stack:", 6) == 0 && s[6])
            return KR_OK;
        if (sscanf(s, "%u-%u%c", &a, &b, &tail) == 2 && a <= b && isdigit((unsigned char)s[0]))
            return KR_OK;
    }
    return kr_doc_member_errf(doc, params, key, err, errlen,
                              "%s: %s must be same-stack, any, stack:NAME or an id range such as 1001-2000",
                              kind, key);
}

static int evacuate_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "brokers", "to", "throttle", "max_moves_per_broker", "dry_run", NULL };
    static const char *const required[] = { "brokers", NULL };
    if (kr_params_keys("evacuate", params, doc, allowed, required, err, errlen) ||
        kr_params_broker_list("evacuate", params, "brokers", doc, err, errlen) ||
        check_target("evacuate", params, "to", doc, err, errlen) ||
        kr_params_size("evacuate", params, "throttle", doc, err, errlen) ||
        kr_params_int("evacuate", params, "max_moves_per_broker", 1, 1000, doc, err, errlen) ||
        kr_params_bool("evacuate", params, "dry_run", doc, err, errlen))
        return KR_EINVAL;
    return KR_OK;
}

static int drain_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "from", "to", "throttle", "max_moves_per_broker", "dry_run", NULL };
    static const char *const required[] = { "from", "to", NULL };
    if (kr_params_keys("drain_stack", params, doc, allowed, required, err, errlen) ||
        kr_params_string("drain_stack", params, "from", doc, err, errlen) ||
        kr_params_string("drain_stack", params, "to", doc, err, errlen) ||
        kr_params_size("drain_stack", params, "throttle", doc, err, errlen) ||
        kr_params_int("drain_stack", params, "max_moves_per_broker", 1, 1000, doc, err, errlen) ||
        kr_params_bool("drain_stack", params, "dry_run", doc, err, errlen))
        return KR_EINVAL;
    return KR_OK;
}

static int elect_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "brokers", "dry_run", NULL };
    static const char *const required[] = { "brokers", NULL };
    if (kr_params_keys("elect_leaders", params, doc, allowed, required, err, errlen) ||
        kr_params_broker_list("elect_leaders", params, "brokers", doc, err, errlen) ||
        kr_params_bool("elect_leaders", params, "dry_run", doc, err, errlen))
        return KR_EINVAL;
    return KR_OK;
}

const kr_action_kind_t kr_action_evacuate = {
    .name = "evacuate",
    .validate = evacuate_validate,
    .kafka_changing = 1,
    .help = "move every replica off the given brokers onto targets",
};
const kr_action_kind_t kr_action_drain_stack = {
    .name = "drain_stack",
    .validate = drain_validate,
    .kafka_changing = 1,
    .help = "evacuate every broker of one blue/green stack onto another",
};
const kr_action_kind_t kr_action_elect_leaders = {
    .name = "elect_leaders",
    .validate = elect_validate,
    .kafka_changing = 1,
    .help = "preferred-leader election for the partitions of brokers",
};
