/* actions/registry.c: the table of action kinds. One row per kind. */
#include <string.h>

#include "kr/action.h"
#include "kr/err.h"

/* log: writes the action (and its rendered message) to the journal and the log. */
static int log_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    const char *key;
    json_t *v;

    if (!params || json_is_null(params))
        return KR_OK;
    if (!json_is_object(params))
        return kr_doc_errf(doc, params, err, errlen,
                           "log: parameters must be a map like {message: \"...\"}");
    json_object_foreach((json_t *)params, key, v) {
        if (strcmp(key, "message") != 0)
            return kr_doc_key_errf(doc, params, key, err, errlen,
                                   "log: unknown parameter \"%s\"; expected: message", key);
        if (!json_is_string(v))
            return kr_doc_member_errf(doc, params, key, err, errlen,
                                      "log: message must be a string");
    }
    return KR_OK;
}

static const kr_action_kind_t kinds[] = {
    { "log", log_validate, 0, "write the action and its message to the journal and the log" },
};

const kr_action_kind_t *kr_action_kind_find(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}

const char *kr_action_kind_names(void)
{
    static char buf[256];
    if (!buf[0]) {
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
            if (i)
                strncat(buf, ", ", sizeof buf - strlen(buf) - 1);
            strncat(buf, kinds[i].name, sizeof buf - strlen(buf) - 1);
        }
    }
    return buf;
}
