/* actions/exec.c: the `exec` action: run a program with templated argv (no shell), the
 * event JSON on stdin, a timeout, output captured in the journal. */
#include <string.h>

#include "kr/action.h"
#include "kr/err.h"
#include "kr/params.h"

static int exec_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "argv", "timeout", NULL };
    static const char *const required[] = { "argv", NULL };
    json_t *argv;
    if (kr_params_keys("exec", params, doc, allowed, required, err, errlen) ||
        kr_params_duration("exec", params, "timeout", doc, err, errlen))
        return KR_EINVAL;
    argv = json_object_get(params, "argv");
    if (!json_is_array(argv) || json_array_size(argv) == 0)
        return kr_doc_member_errf(doc, params, "argv", err, errlen,
                                  "exec: argv must be a non-empty list (program first; no shell is used)");
    if (kr_params_strings("exec", params, "argv", doc, err, errlen))
        return KR_EINVAL;
    if (json_string_value(json_array_get(argv, 0))[0] != '/')
        return kr_doc_item_errf(doc, argv, 0, err, errlen,
                                "exec: the program must be an absolute path (no PATH lookup)");
    return KR_OK;
}

const kr_action_kind_t kr_action_exec = {
    .name = "exec",
    .validate = exec_validate,
    .kafka_changing = 0,
    .help = "run a program (no shell) with the event JSON on stdin",
};
