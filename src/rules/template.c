/* rules/template.c: `{{path}}` templates: a compiled template is a list of parts, each
 * literal text or a dotted path checked against the normalized event's keys. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/template.h"

/* The keys of the normalized event (DESIGN.md), then `incident`. */
static const char *const event_roots[] = {
    "id", "source", "type", "state", "time", "cluster", "broker", "instance", "alarm", "health",
    "labels", "annotations", "alert", "host", "message", "raw",
};
static const char *const incident_keys[] = { "id", "key", "rule", "started" };

typedef struct part {
    char *text;      /* literal text, or the path */
    int is_path;
} part_t;

struct kr_template {
    part_t *parts;
    size_t nparts;
};

const char *kr_template_roots(void)
{
    return "id, source, type, state, time, cluster, broker, instance, alarm, health, labels, "
           "annotations, alert, host, message, raw, incident";
}

int kr_template_is_event_root(const char *root, size_t len)
{
    for (size_t i = 0; i < sizeof event_roots / sizeof event_roots[0]; i++)
        if (strlen(event_roots[i]) == len && memcmp(event_roots[i], root, len) == 0)
            return 1;
    return 0;
}

void kr_template_free(kr_template_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nparts; i++)
        free(t->parts[i].text);
    free(t->parts);
    free(t);
}

static int add_part(kr_template_t *t, const char *s, size_t n, int is_path)
{
    part_t *np = realloc(t->parts, (t->nparts + 1) * sizeof *np);
    if (!np)
        return KR_ENOMEM;
    t->parts = np;
    if (!(np[t->nparts].text = malloc(n + 1)))
        return KR_ENOMEM;
    memcpy(np[t->nparts].text, s, n);
    np[t->nparts].text[n] = 0;
    np[t->nparts].is_path = is_path;
    t->nparts++;
    return KR_OK;
}

static int path_char(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

/* Checks "a.b.c" between the braces; root against the known keys. */
static int check_path(const char *p, size_t n, char *err, size_t errlen)
{
    size_t seg = 0, root_len = 0;
    if (n == 0)
        return kr_seterr(err, errlen, KR_EINVAL, "empty {{}} in template; expected a path like {{broker.id}}");
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '.') {
            if (i == seg)
                return kr_seterr(err, errlen, KR_EINVAL,
                                 "bad path {{%.*s}} in template: empty segment; expected a path like {{broker.id}}",
                                 (int)n, p);
            if (seg == 0)
                root_len = i;
            seg = i + 1;
        } else if (!path_char((unsigned char)p[i])) {
            return kr_seterr(err, errlen, KR_EINVAL,
                             "bad path {{%.*s}} in template: '%c' is not allowed; paths are dotted names like {{broker.id}}",
                             (int)n, p, p[i]);
        }
    }
    if (root_len == 8 && memcmp(p, "incident", 8) == 0) {
        if (root_len == n)
            return KR_OK;
        const char *sub = p + 9;
        size_t sublen = n - 9;
        const char *dot = memchr(sub, '.', sublen);
        size_t first = dot ? (size_t)(dot - sub) : sublen;
        for (size_t i = 0; i < sizeof incident_keys / sizeof incident_keys[0]; i++)
            if (strlen(incident_keys[i]) == first && memcmp(incident_keys[i], sub, first) == 0)
                return KR_OK;
        return kr_seterr(err, errlen, KR_EINVAL,
                         "unknown field \"incident.%.*s\" in {{%.*s}}; expected one of: incident.id, incident.key, incident.rule, incident.started",
                         (int)first, sub, (int)n, p);
    }
    if (!kr_template_is_event_root(p, root_len))
        return kr_seterr(err, errlen, KR_EINVAL, "unknown field \"%.*s\" in {{%.*s}}; expected one of: %s",
                         (int)root_len, p, (int)n, p, kr_template_roots());
    return KR_OK;
}

kr_template_t *kr_template_compile(const char *src, char *err, size_t errlen)
{
    kr_template_t *t = calloc(1, sizeof *t);
    const char *p = src, *lit = src;
    int rc;

    if (!t)
        goto nomem;
    while ((p = strstr(p, "{{")) != NULL) {
        const char *close = strstr(p + 2, "}}");
        if (!close) {
            kr_seterr(err, errlen, KR_EINVAL, "unclosed \"{{\" in template; expected {{path}}");
            goto fail;
        }
        const char *a = p + 2, *b = close;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (memchr(a, '{', (size_t)(b - a))) {
            kr_seterr(err, errlen, KR_EINVAL, "unclosed \"{{\" in template; expected {{path}}");
            goto fail;
        }
        if (check_path(a, (size_t)(b - a), err, errlen) != KR_OK)
            goto fail;
        if (p > lit && (rc = add_part(t, lit, (size_t)(p - lit), 0)) != KR_OK)
            goto nomem;
        if ((rc = add_part(t, a, (size_t)(b - a), 1)) != KR_OK)
            goto nomem;
        p = lit = close + 2;
    }
    if (*lit && add_part(t, lit, strlen(lit), 0) != KR_OK)
        goto nomem;
    return t;
nomem:
    kr_seterr(err, errlen, KR_ENOMEM, "out of memory compiling a template");
fail:
    kr_template_free(t);
    return NULL;
}

int kr_template_has_paths(const kr_template_t *t)
{
    for (size_t i = 0; t && i < t->nparts; i++)
        if (t->parts[i].is_path)
            return 1;
    return 0;
}

const json_t *kr_template_lookup(const json_t *ctx, const char *path)
{
    const json_t *v = ctx;
    const char *seg = path;
    char key[256];

    while (v && seg) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, seg, n);
        key[n] = 0;
        if (json_is_object(v)) {
            v = json_object_get(v, key);
        } else if (json_is_array(v) && n > 0 && strspn(key, "0123456789") == n) {
            v = json_array_get(v, (size_t)strtoul(key, NULL, 10));
        } else {
            return NULL;
        }
        seg = dot ? dot + 1 : NULL;
    }
    return v;
}

size_t kr_template_format(const json_t *v, char *buf, size_t len)
{
    if (len)
        buf[0] = 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (len) {
            size_t n = json_string_length(v) < len - 1 ? json_string_length(v) : len - 1;
            memcpy(buf, json_string_value(v), n);
            buf[n] = 0;
        }
        return json_string_length(v);
    case JSON_INTEGER:
        return (size_t)snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_OBJECT:
    case JSON_ARRAY: {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        size_t n = s ? strlen(s) : 0;
        if (len && s) {
            size_t c = n < len - 1 ? n : len - 1;
            memcpy(buf, s, c);
            buf[c] = 0;
        }
        free(s);
        return n;
    }
    default:
        return 0;
    }
}

char *kr_template_render(const kr_template_t *t, const json_t *ctx)
{
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = 0;
    for (size_t i = 0; i < t->nparts; i++) {
        const part_t *p = &t->parts[i];
        const json_t *v = p->is_path ? kr_template_lookup(ctx, p->text) : NULL;
        size_t need = p->is_path ? (v ? kr_template_format(v, NULL, 0) : 0) : strlen(p->text);
        if (len + need + 1 > cap) {
            while (len + need + 1 > cap)
                cap *= 2;
            char *n = realloc(out, cap);
            if (!n) {
                free(out);
                return NULL;
            }
            out = n;
        }
        if (p->is_path) {
            if (v)
                kr_template_format(v, out + len, need + 1);
        } else {
            memcpy(out + len, p->text, need + 1);
        }
        len += need;
        out[len] = 0;
    }
    return out;
}

int kr_template_check_params(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    char msg[512];

    if (json_is_string(params)) {
        kr_template_t *t = kr_template_compile(json_string_value(params), msg, sizeof msg);
        if (!t)
            return kr_doc_errf(doc, params, err, errlen, "bad template \"%.200s\": %s",
                               json_string_value(params), msg);
        kr_template_free(t);
        return KR_OK;
    }
    if (json_is_object(params)) {
        json_object_foreach((json_t *)params, key, v) {
            int rc = kr_template_check_params(v, doc, err, errlen);
            if (rc)
                return rc;
        }
    } else if (json_is_array(params)) {
        for (size_t i = 0; i < json_array_size(params); i++) {
            int rc = kr_template_check_params(json_array_get(params, i), doc, err, errlen);
            if (rc)
                return rc;
        }
    }
    return KR_OK;
}

json_t *kr_template_render_params(const json_t *params, const json_t *ctx)
{
    const char *key;
    json_t *v, *out = NULL;

    if (!params)
        return NULL;
    if (json_is_string(params)) {
        kr_template_t *t = kr_template_compile(json_string_value(params), NULL, 0);
        if (!t)
            return json_incref((json_t *)params); /* checked at load; keep as written */
        if (t->nparts == 1 && t->parts[0].is_path) {
            const json_t *val = kr_template_lookup(ctx, t->parts[0].text);
            if (json_is_number(val) || json_is_boolean(val)) {
                kr_template_free(t);
                return json_deep_copy(val);
            }
        }
        char *s = kr_template_render(t, ctx);
        kr_template_free(t);
        out = s ? json_string(s) : NULL;
        if (s && !out) /* invalid UTF-8 from the context: keep the bytes we can */
            out = json_stringn_nocheck(s, strlen(s));
        free(s);
        return out;
    }
    if (json_is_object(params)) {
        if (!(out = json_object()))
            return NULL;
        json_object_foreach((json_t *)params, key, v) {
            json_t *r = kr_template_render_params(v, ctx);
            if (!r || json_object_set_new(out, key, r) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    if (json_is_array(params)) {
        if (!(out = json_array()))
            return NULL;
        for (size_t i = 0; i < json_array_size(params); i++) {
            json_t *r = kr_template_render_params(json_array_get(params, i), ctx);
            if (!r || json_array_append_new(out, r) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    return json_deep_copy(params);
}
