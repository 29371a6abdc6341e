/* actions/streams_reset.c: the `mark_streams_reset` action: record that Kafka Streams
 * applications must be reset to a point in time, page their owners, and reset them once
 * their consumer group has no members. */
#include <stdio.h>
#include <string.h>

#include "kr/action.h"
#include "kr/err.h"
#include "kr/params.h"
#include "kr/units.h"

/* incident | incident-<duration> | RFC 3339 | earliest | latest */
static int check_reset_point(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, "to");
    int64_t x;
    if (!v)
        return KR_OK;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcmp(s, "incident") || !strcmp(s, "earliest") || !strcmp(s, "latest") ||
            kr_time_parse(s, &x) == 0)
            return KR_OK;
        if (strncmp(s, "incident-", 9) == 0 && kr_duration_parse(s + 9, &x, NULL, 0) == 0)
            return KR_OK;
    }
    return kr_doc_member_errf(doc, params, "to", err, errlen,
                              "mark_streams_reset: to must be incident, incident-<duration> (e.g. incident-10m), an RFC 3339 time, earliest or latest");
}

static int mark_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "apps", "to", "dry_run", NULL };
    static const char *const required[] = { "apps", NULL };
    if (kr_params_keys("mark_streams_reset", params, doc, allowed, required, err, errlen) ||
        kr_params_strings("mark_streams_reset", params, "apps", doc, err, errlen) ||
        check_reset_point(params, doc, err, errlen) ||
        kr_params_bool("mark_streams_reset", params, "dry_run", doc, err, errlen))
        return KR_EINVAL;
    return KR_OK;
}

const kr_action_kind_t kr_action_mark_streams_reset = {
    .name = "mark_streams_reset",
    .validate = mark_validate,
    .kafka_changing = 1,
    .help = "mark Streams apps for reset to a point in time; reset them once stopped",
};
