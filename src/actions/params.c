/* actions/params.c: compile-time checks of action parameters. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "kr/err.h"
#include "kr/params.h"
#include "kr/units.h"

static int in_list(const char *key, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(key, *list) == 0)
            return 1;
    return 0;
}

static void join(const char *const *list, char *buf, size_t len)
{
    buf[0] = 0;
    for (; list && *list; list++) {
        if (buf[0])
            strncat(buf, ", ", len - strlen(buf) - 1);
        strncat(buf, *list, len - strlen(buf) - 1);
    }
}

int kr_params_keys(const char *kind, const json_t *params, const kr_doc_t *doc,
                   const char *const *allowed, const char *const *required, char *err,
                   size_t errlen)
{
    const char *key;
    json_t *v;
    char names[256];

    if (!json_is_object(params)) {
        join(allowed, names, sizeof names);
        return kr_doc_errf(doc, params, err, errlen, "%s: parameters must be a map with keys: %s",
                           kind, names);
    }
    json_object_foreach((json_t *)params, key, v) {
        if (!in_list(key, allowed)) {
            join(allowed, names, sizeof names);
            return kr_doc_key_errf(doc, params, key, err, errlen,
                                   "%s: unknown parameter \"%s\"; expected one of: %s", kind, key, names);
        }
    }
    for (; required && *required; required++)
        if (!json_object_get(params, *required))
            return kr_doc_errf(doc, params, err, errlen, "%s: missing required parameter \"%s\"",
                               kind, *required);
    return KR_OK;
}

int kr_params_string(const char *kind, const json_t *params, const char *key,
                     const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key);
    if (v && !json_is_string(v))
        return kr_doc_member_errf(doc, params, key, err, errlen, "%s: %s must be a string", kind, key);
    return KR_OK;
}

int kr_params_bool(const char *kind, const json_t *params, const char *key,
                   const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key);
    if (v && !json_is_boolean(v))
        return kr_doc_member_errf(doc, params, key, err, errlen, "%s: %s must be true or false",
                                  kind, key);
    return KR_OK;
}

int kr_params_int(const char *kind, const json_t *params, const char *key, long long min,
                  long long max, const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key);
    if (v && (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max))
        return kr_doc_member_errf(doc, params, key, err, errlen,
                                  "%s: %s must be an integer from %lld to %lld", kind, key, min, max);
    return KR_OK;
}

int kr_params_strings(const char *kind, const json_t *params, const char *key,
                      const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key), *item;
    size_t i;
    if (!v || json_is_string(v))
        return KR_OK;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return kr_doc_member_errf(doc, params, key, err, errlen,
                                  "%s: %s must be a string or a non-empty list of strings", kind, key);
    json_array_foreach(v, i, item)
        if (!json_is_string(item))
            return kr_doc_item_errf(doc, v, i, err, errlen, "%s: %s: item %zu must be a string", kind,
                                    key, i + 1);
    return KR_OK;
}

static int is_template(const char *s) { return strstr(s, "{{") != NULL; }

static int is_decimal(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

int kr_params_broker_list(const char *kind, const json_t *params, const char *key,
                          const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key), *item;
    size_t i;
    if (!v)
        return KR_OK;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return kr_doc_member_errf(doc, params, key, err, errlen,
                                  "%s: %s must be a non-empty list of broker ids, e.g. [\"{{broker.id}}\"] or [3, 4]",
                                  kind, key);
    json_array_foreach(v, i, item) {
        if (json_is_integer(item) && json_integer_value(item) >= 0)
            continue;
        if (json_is_string(item) && (is_template(json_string_value(item)) || is_decimal(json_string_value(item))))
            continue;
        return kr_doc_item_errf(doc, v, i, err, errlen,
                                "%s: %s: item %zu must be a broker id (a number or a template such as \"{{broker.id}}\")",
                                kind, key, i + 1);
    }
    return KR_OK;
}

int kr_params_duration(const char *kind, const json_t *params, const char *key,
                       const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key);
    int64_t ms;
    char why[256];
    if (!v)
        return KR_OK;
    if (!json_is_string(v) || kr_duration_parse(json_string_value(v), &ms, why, sizeof why) != 0)
        return kr_doc_member_errf(doc, params, key, err, errlen, "%s: %s: %s", kind, key,
                                  json_is_string(v) ? why : "expected a duration such as 30s or 5m");
    return KR_OK;
}

int kr_params_size(const char *kind, const json_t *params, const char *key,
                   const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key);
    int64_t b;
    char why[256];
    if (!v)
        return KR_OK;
    if (!json_is_string(v) || kr_size_parse(json_string_value(v), &b, why, sizeof why) != 0)
        return kr_doc_member_errf(doc, params, key, err, errlen, "%s: %s: %s", kind, key,
                                  json_is_string(v) ? why : "expected a rate such as 50MB/s");
    return KR_OK;
}

int kr_params_enum(const char *kind, const json_t *params, const char *key,
                   const char *const *words, const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key);
    char names[256];
    if (!v)
        return KR_OK;
    if (json_is_string(v) && (in_list(json_string_value(v), words) || is_template(json_string_value(v))))
        return KR_OK;
    join(words, names, sizeof names);
    return kr_doc_member_errf(doc, params, key, err, errlen, "%s: %s must be one of: %s", kind, key,
                              names);
}
