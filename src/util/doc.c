/* util/doc.c: libyaml document → jansson tree, plus a side table of source positions
 * keyed by node pointer, (object, key) and (array, index). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "kr/doc.h"
#include "kr/err.h"

#define DOC_MAX_DEPTH 64
#define DOC_MAX_NODES 1000000 /* aliases can multiply nodes; refuse "billion laughs" */

typedef struct pos_entry {
    const void *ptr;       /* node, or container for key/item entries */
    char *key;             /* object key (NULL for node and item entries) */
    long index;            /* array index, -1 otherwise */
    int kind;              /* 0 node, 1 key, 2 member value, 3 item */
    int line, col;
    struct pos_entry *next;
} pos_entry_t;

struct kr_doc {
    char *name;
    json_t *root;
    pos_entry_t **buckets;
    size_t nbuckets;
    size_t nnodes;
};

static size_t pos_hash(const void *ptr, const char *key, long index, int kind)
{
    uint64_t h = (uint64_t)(uintptr_t)ptr * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)(index + 1) * 0xBF58476D1CE4E5B9ull + (uint64_t)kind;
    if (key)
        for (const unsigned char *p = (const unsigned char *)key; *p; p++)
            h = (h ^ *p) * 0x100000001B3ull;
    return (size_t)(h ^ (h >> 29));
}

static int pos_put(kr_doc_t *doc, const void *ptr, const char *key, long index, int kind,
                   const yaml_mark_t *mark)
{
    pos_entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return KR_ENOMEM;
    if (key && !(e->key = strdup(key))) {
        free(e);
        return KR_ENOMEM;
    }
    e->ptr = ptr;
    e->index = index;
    e->kind = kind;
    e->line = (int)mark->line + 1;
    e->col = (int)mark->column + 1;
    size_t b = pos_hash(ptr, key, index, kind) % doc->nbuckets;
    e->next = doc->buckets[b];
    doc->buckets[b] = e;
    return KR_OK;
}

static const pos_entry_t *pos_get(const kr_doc_t *doc, const void *ptr, const char *key,
                                  long index, int kind)
{
    if (!doc || !doc->buckets)
        return NULL;
    size_t b = pos_hash(ptr, key, index, kind) % doc->nbuckets;
    for (const pos_entry_t *e = doc->buckets[b]; e; e = e->next)
        if (e->ptr == ptr && e->kind == kind && e->index == index &&
            ((!key && !e->key) || (key && e->key && strcmp(key, e->key) == 0)))
            return e;
    return NULL;
}

static int is_singleton(const json_t *v)
{
    return json_is_true(v) || json_is_false(v) || json_is_null(v);
}

static int all_digits(const char *s, int (*ok)(int))
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!ok((unsigned char)*s))
            return 0;
    return 1;
}

static int is_dec(int c) { return c >= '0' && c <= '9'; }
static int is_hex(int c) { return is_dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int is_oct(int c) { return c >= '0' && c <= '7'; }

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_float(const char *s)
{
    int digits = 0;
    if (*s == '-' || *s == '+')
        s++;
    while (is_dec(*s))
        s++, digits++;
    if (*s == '.') {
        s++;
        while (is_dec(*s))
            s++, digits++;
    }
    if (!digits)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!is_dec(*s))
            return 0;
        while (is_dec(*s))
            s++;
    }
    return *s == 0;
}

/* YAML 1.2 core schema for plain scalars. */
static json_t *plain_scalar(const char *s, size_t len)
{
    if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return json_false();
    if (len < 24) {
        const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
        errno = 0;
        if (all_digits(d, is_dec)) {
            long long v = strtoll(s, NULL, 10);
            if (errno == 0)
                return json_integer(v);
        } else if (strncmp(s, "0x", 2) == 0 && all_digits(s + 2, is_hex)) {
            long long v = strtoll(s + 2, NULL, 16);
            if (errno == 0)
                return json_integer(v);
        } else if (strncmp(s, "0o", 2) == 0 && all_digits(s + 2, is_oct)) {
            long long v = strtoll(s + 2, NULL, 8);
            if (errno == 0)
                return json_integer(v);
        }
    }
    if (len < 64 && is_float(s)) {
        double d = strtod(s, NULL);
        if (isfinite(d))
            return json_real(d);
    }
    return json_stringn(s, len);
}

typedef struct {
    kr_doc_t *doc;
    yaml_document_t *ydoc;
    char *err;
    size_t errlen;
} conv_t;

static int conv_fail(conv_t *c, const yaml_mark_t *m, const char *msg)
{
    return kr_seterr(c->err, c->errlen, KR_EINVAL, "%s:%d:%d: %s", c->doc->name,
                     (int)m->line + 1, (int)m->column + 1, msg);
}

static int convert(conv_t *c, yaml_node_t *node, int depth, json_t **out)
{
    json_t *v = NULL;
    int rc;

    if (depth > DOC_MAX_DEPTH)
        return conv_fail(c, &node->start_mark, "document nested too deeply");
    if (++c->doc->nnodes > DOC_MAX_NODES)
        return conv_fail(c, &node->start_mark, "document too large (too many nodes; alias expansion?)");

    switch (node->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)node->data.scalar.value;
        size_t len = node->data.scalar.length;
        if (strlen(s) != len)
            return conv_fail(c, &node->start_mark, "NUL byte inside a scalar");
        if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            v = plain_scalar(s, len);
        else
            v = json_stringn(s, len);
        if (!v)
            return conv_fail(c, &node->start_mark, "invalid UTF-8 in scalar");
        break;
    }
    case YAML_SEQUENCE_NODE: {
        v = json_array();
        if (!v)
            return KR_ENOMEM;
        long i = 0;
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++, i++) {
            yaml_node_t *child = yaml_document_get_node(c->ydoc, *it);
            json_t *cv = NULL;
            if (!child) {
                json_decref(v);
                return conv_fail(c, &node->start_mark, "broken sequence");
            }
            if ((rc = convert(c, child, depth + 1, &cv)) != 0) {
                json_decref(v);
                return rc;
            }
            json_array_append_new(v, cv);
            if ((rc = pos_put(c->doc, v, NULL, i, 3, &child->start_mark)) != 0) {
                json_decref(v);
                return rc;
            }
        }
        break;
    }
    case YAML_MAPPING_NODE: {
        v = json_object();
        if (!v)
            return KR_ENOMEM;
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
             p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = yaml_document_get_node(c->ydoc, p->key);
            yaml_node_t *vn = yaml_document_get_node(c->ydoc, p->value);
            json_t *cv = NULL;
            if (!kn || !vn) {
                json_decref(v);
                return conv_fail(c, &node->start_mark, "broken mapping");
            }
            if (kn->type != YAML_SCALAR_NODE) {
                json_decref(v);
                return conv_fail(c, &kn->start_mark, "mapping keys must be plain strings");
            }
            const char *key = (const char *)kn->data.scalar.value;
            if (strlen(key) != kn->data.scalar.length) {
                json_decref(v);
                return conv_fail(c, &kn->start_mark, "NUL byte inside a key");
            }
            if (json_object_get(v, key)) {
                char msg[300];
                snprintf(msg, sizeof msg, "duplicate key \"%.200s\"", key);
                json_decref(v);
                return conv_fail(c, &kn->start_mark, msg);
            }
            if ((rc = convert(c, vn, depth + 1, &cv)) != 0) {
                json_decref(v);
                return rc;
            }
            if (json_object_set_new(v, key, cv) != 0) {
                json_decref(v);
                return conv_fail(c, &kn->start_mark, "invalid UTF-8 in key");
            }
            if ((rc = pos_put(c->doc, v, key, -1, 1, &kn->start_mark)) != 0 ||
                (rc = pos_put(c->doc, v, key, -1, 2, &vn->start_mark)) != 0) {
                json_decref(v);
                return rc;
            }
        }
        break;
    }
    default:
        return conv_fail(c, &node->start_mark, "empty node");
    }
    if (!is_singleton(v) && (rc = pos_put(c->doc, v, NULL, -1, 0, &node->start_mark)) != 0) {
        json_decref(v);
        return rc;
    }
    *out = v;
    return KR_OK;
}

kr_doc_t *kr_doc_parse(const char *name, const char *buf, size_t len, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t ydoc, extra;
    int have_parser = 0, have_doc = 0;
    kr_doc_t *doc = calloc(1, sizeof *doc);

    if (!doc || !(doc->name = strdup(name ? name : "<input>")))
        goto nomem;
    doc->nbuckets = 1024;
    if (!(doc->buckets = calloc(doc->nbuckets, sizeof *doc->buckets)))
        goto nomem;
    if (!yaml_parser_initialize(&parser))
        goto nomem;
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &ydoc)) {
        const yaml_mark_t *m = parser.problem ? &parser.problem_mark : &parser.context_mark;
        kr_seterr(err, errlen, KR_EINVAL, "%s:%d:%d: %s%s%s", doc->name, (int)m->line + 1,
                  (int)m->column + 1, parser.problem ? parser.problem : "syntax error",
                  parser.context ? " " : "", parser.context ? parser.context : "");
        goto fail;
    }
    have_doc = 1;
    yaml_node_t *top = yaml_document_get_root_node(&ydoc);
    if (!top) {
        doc->root = json_null();
    } else {
        conv_t c = { doc, &ydoc, err, errlen };
        if (convert(&c, top, 0, &doc->root) != 0)
            goto fail;
        /* A second document in one file is almost always a mistake ("---" twice). */
        if (yaml_parser_load(&parser, &extra)) {
            yaml_node_t *x = yaml_document_get_root_node(&extra);
            if (x) {
                kr_seterr(err, errlen, KR_EINVAL,
                          "%s:%d:%d: more than one YAML document in one file; put each in its own file or make a list",
                          doc->name, (int)x->start_mark.line + 1, (int)x->start_mark.column + 1);
                yaml_document_delete(&extra);
                goto fail;
            }
            yaml_document_delete(&extra);
        } else {
            const yaml_mark_t *m = &parser.problem_mark;
            kr_seterr(err, errlen, KR_EINVAL, "%s:%d:%d: %s", doc->name, (int)m->line + 1,
                      (int)m->column + 1, parser.problem ? parser.problem : "syntax error");
            goto fail;
        }
    }
    yaml_document_delete(&ydoc);
    yaml_parser_delete(&parser);
    return doc;

nomem:
    kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", name ? name : "<input>");
fail:
    if (have_doc)
        yaml_document_delete(&ydoc);
    if (have_parser)
        yaml_parser_delete(&parser);
    kr_doc_free(doc);
    return NULL;
}

kr_doc_t *kr_doc_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    kr_doc_t *doc = NULL;

    if (!f) {
        kr_seterr(err, errlen, KR_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (len + 65536 > cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, ncap);
            if (!nb)
                goto done;
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        kr_seterr(err, errlen, KR_EIO, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    doc = kr_doc_parse(path, buf ? buf : "", len, err, errlen);
done:
    free(buf);
    fclose(f);
    return doc;
}

void kr_doc_free(kr_doc_t *doc)
{
    if (!doc)
        return;
    if (doc->buckets) {
        for (size_t i = 0; i < doc->nbuckets; i++) {
            pos_entry_t *e = doc->buckets[i];
            while (e) {
                pos_entry_t *n = e->next;
                free(e->key);
                free(e);
                e = n;
            }
        }
        free(doc->buckets);
    }
    json_decref(doc->root);
    free(doc->name);
    free(doc);
}

json_t *kr_doc_root(const kr_doc_t *doc) { return doc ? doc->root : NULL; }
const char *kr_doc_name(const kr_doc_t *doc) { return doc ? doc->name : "<input>"; }

static int pos_out(const pos_entry_t *e, int *line, int *col)
{
    if (line)
        *line = e ? e->line : 0;
    if (col)
        *col = e ? e->col : 0;
    return e ? KR_OK : KR_ENOTFOUND;
}

int kr_doc_pos(const kr_doc_t *doc, const json_t *node, int *line, int *col)
{
    return pos_out(node && !is_singleton(node) ? pos_get(doc, node, NULL, -1, 0) : NULL, line, col);
}

int kr_doc_key_pos(const kr_doc_t *doc, const json_t *obj, const char *key, int *line, int *col)
{
    return pos_out(pos_get(doc, obj, key, -1, 1), line, col);
}

int kr_doc_member_pos(const kr_doc_t *doc, const json_t *obj, const char *key, int *line, int *col)
{
    return pos_out(pos_get(doc, obj, key, -1, 2), line, col);
}

int kr_doc_item_pos(const kr_doc_t *doc, const json_t *arr, size_t index, int *line, int *col)
{
    return pos_out(pos_get(doc, arr, NULL, (long)index, 3), line, col);
}

static int vdocerr(const kr_doc_t *doc, const pos_entry_t *e, const json_t *fallback,
                   char *err, size_t errlen, const char *fmt, va_list ap)
{
    char msg[1024];
    int line = 1, col = 1;
    if (!e && fallback && !is_singleton(fallback))
        e = pos_get(doc, fallback, NULL, -1, 0);
    if (e) {
        line = e->line;
        col = e->col;
    }
    vsnprintf(msg, sizeof msg, fmt, ap);
    return kr_seterr(err, errlen, KR_EINVAL, "%s:%d:%d: %s", kr_doc_name(doc), line, col, msg);
}

int kr_doc_errf(const kr_doc_t *doc, const json_t *node, char *err, size_t errlen,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vdocerr(doc, NULL, node, err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int kr_doc_key_errf(const kr_doc_t *doc, const json_t *obj, const char *key, char *err,
                    size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vdocerr(doc, pos_get(doc, obj, key, -1, 1), obj, err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int kr_doc_member_errf(const kr_doc_t *doc, const json_t *obj, const char *key, char *err,
                       size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vdocerr(doc, pos_get(doc, obj, key, -1, 2), obj, err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int kr_doc_item_errf(const kr_doc_t *doc, const json_t *arr, size_t index, char *err,
                     size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vdocerr(doc, pos_get(doc, arr, NULL, (long)index, 3), arr, err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}
