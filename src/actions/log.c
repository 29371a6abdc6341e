/* actions/log.c: the `log` action: writes the action and its rendered message to the
 * journal and the log. */
#include "kr/action.h"
#include "kr/err.h"
#include "kr/log.h"
#include "kr/params.h"
#include "kr/runs.h"

static int log_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "message", NULL };
    if (!params || json_is_null(params))
        return KR_OK;
    if (kr_params_keys("log", params, doc, allowed, NULL, err, errlen))
        return KR_EINVAL;
    return kr_params_string("log", params, "message", doc, err, errlen);
}

/* The message is already rendered; the run's journal record carries it. */
static int log_start(kr_run_t *run, void *ctx, char *err, size_t errlen)
{
    const char *msg = json_string_value(json_object_get(kr_run_params(run), "message"));
    const char *event_id = json_string_value(json_object_get(kr_run_event(run), "id"));
    (void)ctx;
    (void)err;
    (void)errlen;
    if (!msg)
        msg = "";
    KR_INFO("action", "msg=\"log action\" run=%s event=\"%s\" message=\"%s\"", kr_run_id(run),
            event_id ? event_id : "", msg);
    kr_run_finish(run, KR_OK, "%s", msg[0] ? msg : "logged");
    return KR_OK;
}

const kr_action_kind_t kr_action_log = {
    .name = "log",
    .validate = log_validate,
    .kafka_changing = 0,
    .help = "write the action and its message to the journal and the log",
    .start = log_start,
};
