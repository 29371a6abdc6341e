/* actions/log.c: the `log` action: writes the action and its rendered message to the
 * journal and the log. */
#include "kr/action.h"
#include "kr/err.h"
#include "kr/params.h"

static int log_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "message", NULL };
    if (!params || json_is_null(params))
        return KR_OK;
    if (kr_params_keys("log", params, doc, allowed, NULL, err, errlen))
        return KR_EINVAL;
    return kr_params_string("log", params, "message", doc, err, errlen);
}

const kr_action_kind_t kr_action_log = {
    .name = "log",
    .validate = log_validate,
    .kafka_changing = 0,
    .help = "write the action and its message to the journal and the log",
};
