/* actions/page.c: the `page` action: a message to one or more receivers (Slack,
 * PagerDuty, webhook) through the durable outbox. */
#include "kr/action.h"
#include "kr/err.h"
#include "kr/params.h"

static int page_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "to", "summary", "details", "severity", NULL };
    static const char *const required[] = { "to", NULL };
    static const char *const severities[] = { "critical", "error", "warning", "info", NULL };
    if (kr_params_keys("page", params, doc, allowed, required, err, errlen) ||
        kr_params_strings("page", params, "to", doc, err, errlen) ||
        kr_params_string("page", params, "summary", doc, err, errlen) ||
        kr_params_string("page", params, "details", doc, err, errlen) ||
        kr_params_enum("page", params, "severity", severities, doc, err, errlen))
        return KR_EINVAL;
    return KR_OK;
}

const kr_action_kind_t kr_action_page = {
    .name = "page",
    .validate = page_validate,
    .kafka_changing = 0,
    .help = "page receivers (Slack, PagerDuty, webhook) with what happened and what is done",
};
