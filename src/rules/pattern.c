/* rules/pattern.c: EventBridge event patterns: compile a pattern map into a tree of
 * fields (paths split on dots and merged), each a sub-tree or a list of alternatives, and
 * match it against an event without allocating. Semantics are listed in kr/pattern.h. */
#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kr/err.h"
#include "kr/pattern.h"

/* One row per operator: the name users write and how its operand is compiled. */
typedef enum {
    OP_EXACT = 0,
    OP_PREFIX,
    OP_SUFFIX,
    OP_EQUALS_IGNORE_CASE,
    OP_WILDCARD,
    OP_ANYTHING_BUT,
    OP_NUMERIC,
    OP_EXISTS,
    OP_CIDR,
} op_t;

static const char *const op_names[] = {
    [OP_EXACT] = "(exact)",       [OP_PREFIX] = "prefix",
    [OP_SUFFIX] = "suffix",       [OP_EQUALS_IGNORE_CASE] = "equals-ignore-case",
    [OP_WILDCARD] = "wildcard",   [OP_ANYTHING_BUT] = "anything-but",
    [OP_NUMERIC] = "numeric",     [OP_EXISTS] = "exists",
    [OP_CIDR] = "cidr",
};
#define OP_LIST "prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr"

typedef struct alt {
    op_t op;
    int ci;                  /* prefix/suffix: ignore case */
    /* exact (and the members of an anything-but set) */
    int jtype;               /* JSON_STRING, JSON_INTEGER (any number), JSON_TRUE, ... */
    char *s;
    size_t slen;
    unsigned char *star;     /* wildcard: star[i] != 0 where s[i] is a wildcard */
    double num;
    json_int_t inum;
    int is_int;
    /* anything-but: the alternatives it excludes; strings_only for its operator forms */
    struct alt *set;
    size_t nset;
    int strings_only;
    /* numeric */
    int has_lo, lo_incl, has_hi, hi_incl;
    double lo, hi;
    /* exists */
    int exists;
    /* cidr */
    int family;
    unsigned char addr[16];
    int bits;
} alt_t;

typedef struct pnode pnode_t;

typedef struct field {
    char *key;
    pnode_t *sub;            /* a nested map, or */
    alt_t *alts;             /* a list of alternatives */
    size_t nalts;
    const char **literals;   /* all alternatives exact strings: their values (for indexing) */
} field_t;

typedef struct orgroup {
    pnode_t **alts;
    size_t nalts;
} orgroup_t;

struct pnode {
    field_t *fields;
    size_t nfields;
    orgroup_t *ors;
    size_t nors;
};

struct kr_pattern {
    pnode_t *root;
};

typedef struct {
    const kr_doc_t *doc;
    char *err;
    size_t errlen;
} cctx_t;

/* ---------- freeing ---------- */

static void node_free(pnode_t *n);

static void alt_deinit(alt_t *a)
{
    free(a->s);
    free(a->star);
    for (size_t i = 0; i < a->nset; i++)
        alt_deinit(&a->set[i]);
    free(a->set);
}

static void node_free(pnode_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nfields; i++) {
        field_t *f = &n->fields[i];
        free(f->key);
        node_free(f->sub);
        for (size_t j = 0; j < f->nalts; j++)
            alt_deinit(&f->alts[j]);
        free(f->alts);
        free(f->literals);
    }
    free(n->fields);
    for (size_t i = 0; i < n->nors; i++) {
        for (size_t j = 0; j < n->ors[i].nalts; j++)
            node_free(n->ors[i].alts[j]);
        free(n->ors[i].alts);
    }
    free(n->ors);
    free(n);
}

void kr_pattern_free(kr_pattern_t *p)
{
    if (!p)
        return;
    node_free(p->root);
    free(p);
}

/* ---------- compiling ---------- */

static int nomem(cctx_t *c)
{
    return kr_seterr(c->err, c->errlen, KR_ENOMEM, "out of memory compiling a pattern");
}

/* Where an error about a value is reported: an object member, an array item, or a node. */
typedef struct {
    const json_t *container;
    const char *key;
    size_t index;
    int is_item;
    const json_t *node;
} where_t;

static int where_errf(cctx_t *c, const where_t *w, const char *msg)
{
    if (w->container && w->key)
        return kr_doc_member_errf(c->doc, w->container, w->key, c->err, c->errlen, "%s", msg);
    if (w->container && w->is_item)
        return kr_doc_item_errf(c->doc, w->container, w->index, c->err, c->errlen, "%s", msg);
    return kr_doc_errf(c->doc, w->node, c->err, c->errlen, "%s", msg);
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int set_string(cctx_t *c, alt_t *a, const json_t *v)
{
    a->slen = json_string_length(v);
    if (!(a->s = dupn(json_string_value(v), a->slen)))
        return nomem(c);
    return KR_OK;
}

static int set_scalar(cctx_t *c, alt_t *a, const json_t *v)
{
    a->op = OP_EXACT;
    switch (json_typeof(v)) {
    case JSON_STRING:
        a->jtype = JSON_STRING;
        return set_string(c, a, v);
    case JSON_INTEGER:
        a->jtype = JSON_INTEGER;
        a->is_int = 1;
        a->inum = json_integer_value(v);
        a->num = (double)a->inum;
        return KR_OK;
    case JSON_REAL:
        a->jtype = JSON_INTEGER;
        a->num = json_real_value(v);
        return KR_OK;
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        a->jtype = json_typeof(v);
        return KR_OK;
    default:
        return KR_EINVAL;
    }
}

/* A wildcard operand: `*` is a wildcard, `\*` a star, `\\` a backslash; no `**`. */
static int compile_wildcard(cctx_t *c, alt_t *a, const json_t *v, const where_t *w)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), o = 0;
    char msg[512];
    int prev_star = 0;

    a->s = malloc(n + 1);
    a->star = calloc(n + 1, 1);
    if (!a->s || !a->star)
        return nomem(c);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            if (i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '\\')) {
                a->s[o++] = s[++i];
                prev_star = 0;
                continue;
            }
            snprintf(msg, sizeof msg,
                     "wildcard \"%.200s\": a backslash may only escape \"*\" or \"\\\" (write \\* for a literal star)",
                     s);
            return where_errf(c, w, msg);
        }
        if (s[i] == '*') {
            if (prev_star) {
                snprintf(msg, sizeof msg,
                         "wildcard \"%.200s\" has consecutive \"*\"; one \"*\" already matches any run of characters",
                         s);
                return where_errf(c, w, msg);
            }
            a->star[o] = 1;
            a->s[o++] = '*';
            prev_star = 1;
            continue;
        }
        a->s[o++] = s[i];
        prev_star = 0;
    }
    a->s[o] = 0;
    a->slen = o;
    return KR_OK;
}

/* prefix/suffix operand: a string, or {equals-ignore-case: string}. */
static int compile_affix(cctx_t *c, alt_t *a, const json_t *v, const where_t *w)
{
    const char *name = op_names[a->op];
    char msg[256];
    if (json_is_string(v))
        return set_string(c, a, v);
    if (json_is_object(v) && json_object_size(v) == 1 &&
        json_is_string(json_object_get(v, "equals-ignore-case"))) {
        a->ci = 1;
        return set_string(c, a, json_object_get(v, "equals-ignore-case"));
    }
    snprintf(msg, sizeof msg, "%s expects a string or {equals-ignore-case: STRING}", name);
    return where_errf(c, w, msg);
}

static int parse_cidr(const char *s, alt_t *a)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    char *end;
    if (!slash || (size_t)(slash - s) >= sizeof buf)
        return KR_EINVAL;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = 0;
    if (!slash[1] || slash[1] == '-' || slash[1] == '+')
        return KR_EINVAL;
    long bits = strtol(slash + 1, &end, 10);
    if (*end)
        return KR_EINVAL;
    if (inet_pton(AF_INET, buf, a->addr) == 1) {
        a->family = AF_INET;
        if (bits < 0 || bits > 32)
            return KR_EINVAL;
    } else if (inet_pton(AF_INET6, buf, a->addr) == 1) {
        a->family = AF_INET6;
        if (bits < 0 || bits > 128)
            return KR_EINVAL;
    } else {
        return KR_EINVAL;
    }
    a->bits = (int)bits;
    return KR_OK;
}

static int numeric_op(const char *s, int *lo, int *incl)
{
    static const struct { const char *s; int lo, incl; } ops[] = {
        { ">", 1, 0 }, { ">=", 1, 1 }, { "<", 0, 0 }, { "<=", 0, 1 },
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(s, ops[i].s) == 0) {
            *lo = ops[i].lo;
            *incl = ops[i].incl;
            return 1;
        }
    return 0;
}

static int compile_numeric(cctx_t *c, alt_t *a, const json_t *v, const where_t *w)
{
    static const char *usage =
        "numeric expects a list of one or two comparisons like [\">\", 0, \"<=\", 5] or [\"=\", 3]"
        " (operators <, <=, =, >=, >; operands numbers)";
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n != 2 && n != 4)
        return where_errf(c, w, usage);
    for (size_t i = 0; i < n; i += 2) {
        const json_t *op = json_array_get(v, i), *num = json_array_get(v, i + 1);
        int lo, incl;
        where_t wi = { v, NULL, i, 1, NULL }, wn = { v, NULL, i + 1, 1, NULL };
        char msg[256];
        if (!json_is_string(op)) {
            return where_errf(c, &wi, "numeric: expected an operator (<, <=, =, >=, >) here");
        }
        if (!json_is_number(num)) {
            snprintf(msg, sizeof msg, "numeric: the operand of \"%.10s\" must be a number",
                     json_string_value(op));
            return where_errf(c, &wn, msg);
        }
        double d = json_number_value(num);
        if (strcmp(json_string_value(op), "=") == 0) {
            if (n != 2)
                return where_errf(c, &wi, "numeric: \"=\" cannot be combined with another bound");
            a->has_lo = a->has_hi = a->lo_incl = a->hi_incl = 1;
            a->lo = a->hi = d;
            continue;
        }
        if (!numeric_op(json_string_value(op), &lo, &incl)) {
            snprintf(msg, sizeof msg, "numeric: unknown comparison \"%.20s\"; expected one of <, <=, =, >=, >",
                     json_string_value(op));
            return where_errf(c, &wi, msg);
        }
        if (lo ? a->has_lo : a->has_hi)
            return where_errf(c, &wi, lo ? "numeric: two lower bounds; give one of > or >= and one of < or <="
                                         : "numeric: two upper bounds; give one of > or >= and one of < or <=");
        if (lo) {
            a->has_lo = 1;
            a->lo_incl = incl;
            a->lo = d;
        } else {
            a->has_hi = 1;
            a->hi_incl = incl;
            a->hi = d;
        }
    }
    if (a->has_lo && a->has_hi && (a->lo > a->hi || (a->lo == a->hi && !(a->lo_incl && a->hi_incl))))
        return where_errf(c, w, "numeric: the range is empty (lower bound above upper bound)");
    return KR_OK;
}

static int compile_alt(cctx_t *c, alt_t *a, const json_t *v, const where_t *w);

/* anything-but: a scalar, a list of strings or of numbers, or a map with one of
 * prefix/suffix/equals-ignore-case/wildcard whose operand is a string or list of strings. */
static int compile_anything_but(cctx_t *c, alt_t *a, const json_t *v, const where_t *w)
{
    static const char *usage =
        "anything-but expects a value, a list of strings or of numbers, or a map with one of "
        "prefix, suffix, equals-ignore-case, wildcard";
    if (json_is_object(v)) {
        const char *key = json_object_size(v) == 1 ? json_object_iter_key(json_object_iter((json_t *)v)) : NULL;
        op_t op = OP_EXACT;
        if (key) {
            for (op_t o = OP_PREFIX; o <= OP_WILDCARD; o++)
                if (strcmp(key, op_names[o]) == 0)
                    op = o;
        }
        if (op == OP_EXACT)
            return where_errf(c, w, usage);
        const json_t *operand = json_object_get(v, key);
        size_t n = json_is_array(operand) ? json_array_size(operand) : 1;
        where_t wo = { v, key, 0, 0, NULL };
        if (json_is_array(operand) && n == 0)
            return where_errf(c, &wo, "anything-but: empty list; expected at least one string");
        if (!(a->set = calloc(n, sizeof *a->set)))
            return nomem(c);
        a->strings_only = 1;
        for (size_t i = 0; i < n; i++) {
            const json_t *s = json_is_array(operand) ? json_array_get(operand, i) : operand;
            where_t ws = json_is_array(operand) ? (where_t){ operand, NULL, i, 1, NULL } : wo;
            alt_t *m = &a->set[a->nset++];
            char msg[160];
            m->op = op;
            if (!json_is_string(s)) {
                snprintf(msg, sizeof msg, "anything-but: %s expects a string or a list of strings", key);
                return where_errf(c, &ws, msg);
            }
            int rc = op == OP_WILDCARD ? compile_wildcard(c, m, s, &ws) : set_string(c, m, s);
            if (rc)
                return rc;
        }
        return KR_OK;
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        int kind = 0;
        if (n == 0)
            return where_errf(c, w, "anything-but: empty list; expected at least one value");
        if (!(a->set = calloc(n, sizeof *a->set)))
            return nomem(c);
        for (size_t i = 0; i < n; i++) {
            const json_t *s = json_array_get(v, i);
            where_t ws = { v, NULL, i, 1, NULL };
            int k = json_is_string(s) ? 1 : json_is_number(s) ? 2 : 0;
            if (!k || (kind && k != kind))
                return where_errf(c, &ws, "anything-but: a list must hold only strings or only numbers");
            kind = k;
            int rc = set_scalar(c, &a->set[a->nset++], s);
            if (rc)
                return rc;
        }
        return KR_OK;
    }
    if (json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v)) {
        if (!(a->set = calloc(1, sizeof *a->set)))
            return nomem(c);
        a->nset = 1;
        return set_scalar(c, &a->set[0], v);
    }
    return where_errf(c, w, usage);
}

/* One alternative: a scalar (exact) or an operator map {op: operand}. */
static int compile_alt(cctx_t *c, alt_t *a, const json_t *v, const where_t *w)
{
    char msg[512];
    if (json_is_array(v))
        return where_errf(c, w, "a list of alternatives cannot contain a list; write the values side by side");
    if (!json_is_object(v)) {
        int rc = set_scalar(c, a, v);
        return rc == KR_EINVAL ? where_errf(c, w, "expected a value or an operator map") : rc;
    }
    if (json_object_size(v) != 1) {
        snprintf(msg, sizeof msg,
                 "an operator is a map with exactly one key, like {prefix: \"i-\"}; this one has %zu",
                 json_object_size(v));
        return where_errf(c, w, msg);
    }
    const char *key = json_object_iter_key(json_object_iter((json_t *)v));
    const json_t *operand = json_object_get(v, key);
    where_t wo = { v, key, 0, 0, NULL };
    op_t op = OP_EXACT;
    for (op_t o = OP_PREFIX; o <= OP_CIDR; o++)
        if (strcmp(key, op_names[o]) == 0)
            op = o;
    if (op == OP_EXACT) {
        snprintf(msg, sizeof msg, "unknown operator \"%.100s\"; expected one of: " OP_LIST, key);
        return kr_doc_key_errf(c->doc, v, key, c->err, c->errlen, "%s", msg);
    }
    a->op = op;
    switch (op) {
    case OP_PREFIX:
    case OP_SUFFIX:
        return compile_affix(c, a, operand, &wo);
    case OP_EQUALS_IGNORE_CASE:
        if (!json_is_string(operand))
            return where_errf(c, &wo, "equals-ignore-case expects a string");
        a->ci = 1;
        return set_string(c, a, operand);
    case OP_WILDCARD:
        if (!json_is_string(operand))
            return where_errf(c, &wo, "wildcard expects a string like \"i-*\"");
        return compile_wildcard(c, a, operand, &wo);
    case OP_ANYTHING_BUT:
        return compile_anything_but(c, a, operand, &wo);
    case OP_NUMERIC:
        return compile_numeric(c, a, operand, &wo);
    case OP_EXISTS:
        if (!json_is_boolean(operand))
            return where_errf(c, &wo, "exists expects true or false");
        a->exists = json_is_true(operand);
        return KR_OK;
    case OP_CIDR:
        if (!json_is_string(operand) || parse_cidr(json_string_value(operand), a) != KR_OK) {
            snprintf(msg, sizeof msg,
                     "cidr expects an IPv4 or IPv6 block like \"10.0.0.0/24\" or \"2001:db8::/32\"%s%.100s%s",
                     json_is_string(operand) ? "; got \"" : "",
                     json_is_string(operand) ? json_string_value(operand) : "",
                     json_is_string(operand) ? "\"" : "");
            return where_errf(c, &wo, msg);
        }
        return KR_OK;
    default:
        return KR_EINVAL;
    }
}

static int is_operator_name(const char *k)
{
    for (op_t o = OP_PREFIX; o <= OP_CIDR; o++)
        if (strcmp(k, op_names[o]) == 0)
            return 1;
    return 0;
}

static field_t *node_add_field(pnode_t *n, const char *key, size_t klen)
{
    field_t *nf = realloc(n->fields, (n->nfields + 1) * sizeof *nf);
    if (!nf)
        return NULL;
    n->fields = nf;
    field_t *f = &nf[n->nfields];
    memset(f, 0, sizeof *f);
    if (!(f->key = dupn(key, klen)))
        return NULL;
    n->nfields++;
    return f;
}

static int compile_map(cctx_t *c, pnode_t *n, const json_t *obj, int depth);

/* The leaf list at obj[key] (a list, or a scalar as shorthand) into field f. */
static int compile_leaf(cctx_t *c, field_t *f, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    char msg[512];
    int all_strings = 1;
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        if (n == 0) {
            snprintf(msg, sizeof msg,
                     "empty list for \"%.200s\"; expected at least one value or operator (an empty list matches nothing)",
                     key);
            return kr_doc_member_errf(c->doc, obj, key, c->err, c->errlen, "%s", msg);
        }
        if (!(f->alts = calloc(n, sizeof *f->alts)))
            return nomem(c);
        for (size_t i = 0; i < n; i++) {
            where_t w = { v, NULL, i, 1, NULL };
            int rc = compile_alt(c, &f->alts[f->nalts++], json_array_get(v, i), &w);
            if (rc)
                return rc;
        }
    } else {
        where_t w = { obj, key, 0, 0, NULL };
        if (!(f->alts = calloc(1, sizeof *f->alts)))
            return nomem(c);
        f->nalts = 1;
        int rc = compile_alt(c, &f->alts[0], v, &w);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < f->nalts; i++)
        if (f->alts[i].op != OP_EXACT || f->alts[i].jtype != JSON_STRING)
            all_strings = 0;
    if (all_strings) {
        if (!(f->literals = calloc(f->nalts, sizeof *f->literals)))
            return nomem(c);
        for (size_t i = 0; i < f->nalts; i++)
            f->literals[i] = f->alts[i].s;
    }
    return KR_OK;
}

static int compile_or(cctx_t *c, pnode_t *n, const json_t *obj, int depth)
{
    const json_t *v = json_object_get(obj, "$or");
    if (!json_is_array(v) || json_array_size(v) < 2)
        return kr_doc_member_errf(c->doc, obj, "$or", c->err, c->errlen,
                                  "$or expects a list of at least two patterns (maps), like [{type: [a]}, {alarm.name: [b]}]");
    orgroup_t *no = realloc(n->ors, (n->nors + 1) * sizeof *no);
    if (!no)
        return nomem(c);
    n->ors = no;
    orgroup_t *g = &no[n->nors++];
    memset(g, 0, sizeof *g);
    if (!(g->alts = calloc(json_array_size(v), sizeof *g->alts)))
        return nomem(c);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *p = json_array_get(v, i);
        if (!json_is_object(p) || json_object_size(p) == 0)
            return kr_doc_item_errf(c->doc, v, i, c->err, c->errlen,
                                    "$or: each alternative must be a non-empty pattern map");
        if (!(g->alts[g->nalts] = calloc(1, sizeof(pnode_t))))
            return nomem(c);
        g->nalts++;
        int rc = compile_map(c, g->alts[g->nalts - 1], p, depth + 1);
        if (rc)
            return rc;
    }
    return KR_OK;
}

/* Adds every key of obj to node n: dotted keys become nested fields, nested maps merge
 * into the same sub-node so an array element must satisfy all of them at once. */
static int compile_map(cctx_t *c, pnode_t *n, const json_t *obj, int depth)
{
    const char *key;
    json_t *v;
    char msg[512];

    if (depth > 32)
        return kr_doc_errf(c->doc, obj, c->err, c->errlen, "pattern nested too deeply");
    json_object_foreach((json_t *)obj, key, v) {
        if (strcmp(key, "$or") == 0) {
            int rc = compile_or(c, n, obj, depth);
            if (rc)
                return rc;
            continue;
        }
        if (key[0] == '$') {
            snprintf(msg, sizeof msg, "unknown key \"%.100s\"; the only $-key is $or", key);
            return kr_doc_key_errf(c->doc, obj, key, c->err, c->errlen, "%s", msg);
        }
        /* Walk the dotted segments, creating or reusing nested nodes. */
        pnode_t *at = n;
        const char *seg = key;
        for (;;) {
            const char *dot = strchr(seg, '.');
            size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
            if (len == 0) {
                snprintf(msg, sizeof msg, "bad path \"%.200s\": empty segment between dots", key);
                return kr_doc_key_errf(c->doc, obj, key, c->err, c->errlen, "%s", msg);
            }
            int last = dot == NULL;
            if (last && !json_is_object(v)) {
                field_t *f = node_add_field(at, seg, len);
                if (!f)
                    return nomem(c);
                int rc = compile_leaf(c, f, obj, key);
                if (rc)
                    return rc;
                break;
            }
            if (last && json_object_size(v) == 1 &&
                is_operator_name(json_object_iter_key(json_object_iter(v)))) {
                const char *op = json_object_iter_key(json_object_iter(v));
                snprintf(msg, sizeof msg,
                         "an operator must be inside a list: write %s: [{%s: ...}] (a map here would be a nested path)",
                         key, op);
                return kr_doc_member_errf(c->doc, obj, key, c->err, c->errlen, "%s", msg);
            }
            if (last && json_object_size(v) == 0) {
                snprintf(msg, sizeof msg, "empty map for \"%.200s\"; expected a list of values or a nested pattern", key);
                return kr_doc_member_errf(c->doc, obj, key, c->err, c->errlen, "%s", msg);
            }
            field_t *f = NULL;
            for (size_t i = 0; i < at->nfields; i++)
                if (at->fields[i].sub && strlen(at->fields[i].key) == len &&
                    memcmp(at->fields[i].key, seg, len) == 0)
                    f = &at->fields[i];
            if (!f) {
                if (!(f = node_add_field(at, seg, len)))
                    return nomem(c);
                if (!(f->sub = calloc(1, sizeof *f->sub)))
                    return nomem(c);
            }
            at = f->sub;
            if (last) {
                int rc = compile_map(c, at, v, depth + 1);
                if (rc)
                    return rc;
                break;
            }
            seg = dot + 1;
        }
    }
    return KR_OK;
}

kr_pattern_t *kr_pattern_compile(const json_t *pat, const kr_doc_t *doc, char *err, size_t errlen)
{
    cctx_t c = { doc, err, errlen };
    kr_pattern_t *p = NULL;

    if (!json_is_object(pat) || json_object_size(pat) == 0) {
        kr_doc_errf(doc, pat, err, errlen,
                    "a pattern must be a non-empty map of field paths to values, like {type: [instance.impaired]}");
        return NULL;
    }
    if (!(p = calloc(1, sizeof *p)) || !(p->root = calloc(1, sizeof *p->root))) {
        nomem(&c);
        goto err;
    }
    if (compile_map(&c, p->root, pat, 0) != KR_OK)
        goto err;
    return p;
err:
    kr_pattern_free(p);
    return NULL;
}

const char *const *kr_pattern_literal_strings(const kr_pattern_t *p, const char *key, size_t *n)
{
    if (!p)
        return NULL;
    for (size_t i = 0; i < p->root->nfields; i++) {
        const field_t *f = &p->root->fields[i];
        if (!f->sub && f->literals && strcmp(f->key, key) == 0) {
            *n = f->nalts;
            return f->literals;
        }
    }
    return NULL;
}

/* ---------- matching (no allocation) ---------- */

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static int bytes_eq(const char *a, const char *b, size_t n, int ci)
{
    if (!ci)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* Glob with one backtrack point (the last star): O(len(s) * len(pattern)) worst case. */
static int wildcard_match(const alt_t *a, const char *s, size_t n)
{
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    while (si < n) {
        if (pi < a->slen && a->star[pi]) {
            star_p = pi++;
            star_s = si;
        } else if (pi < a->slen && a->s[pi] == s[si]) {
            pi++;
            si++;
        } else if (star_p != (size_t)-1) {
            pi = star_p + 1;
            si = ++star_s;
        } else {
            return 0;
        }
    }
    while (pi < a->slen && a->star[pi])
        pi++;
    return pi == a->slen;
}

static int numbers_equal(const alt_t *a, const json_t *v)
{
    if (a->is_int && json_is_integer(v))
        return a->inum == json_integer_value(v);
    return a->num == json_number_value(v);
}

static int cidr_match(const alt_t *a, const char *s, size_t n)
{
    char buf[64];
    unsigned char addr[16];
    if (n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (inet_pton(a->family, buf, addr) != 1)
        return 0;
    int full = a->bits / 8, rest = a->bits % 8;
    if (memcmp(addr, a->addr, (size_t)full) != 0)
        return 0;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        if ((addr[full] & mask) != (a->addr[full] & mask))
            return 0;
    }
    return 1;
}

/* Does one leaf value (not an array, not an object) satisfy alternative a? */
static int alt_match(const alt_t *a, const json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = s ? json_string_length(v) : 0;

    switch (a->op) {
    case OP_EXACT:
        switch (a->jtype) {
        case JSON_STRING:
            return s && n == a->slen && memcmp(s, a->s, n) == 0;
        case JSON_INTEGER:
            return json_is_number(v) && numbers_equal(a, v);
        default:
            return (int)json_typeof(v) == a->jtype;
        }
    case OP_PREFIX:
        return s && n >= a->slen && bytes_eq(s, a->s, a->slen, a->ci);
    case OP_SUFFIX:
        return s && n >= a->slen && bytes_eq(s + n - a->slen, a->s, a->slen, a->ci);
    case OP_EQUALS_IGNORE_CASE:
        return s && n == a->slen && bytes_eq(s, a->s, n, 1);
    case OP_WILDCARD:
        return s && wildcard_match(a, s, n);
    case OP_ANYTHING_BUT:
        if (a->strings_only && !s)
            return 0;
        for (size_t i = 0; i < a->nset; i++)
            if (alt_match(&a->set[i], v))
                return 0;
        return 1;
    case OP_NUMERIC: {
        if (!json_is_number(v))
            return 0;
        double d = json_number_value(v);
        if (a->has_lo && (a->lo_incl ? d < a->lo : d <= a->lo))
            return 0;
        if (a->has_hi && (a->hi_incl ? d > a->hi : d >= a->hi))
            return 0;
        return 1;
    }
    case OP_EXISTS:
        return a->exists;
    case OP_CIDR:
        return s && cidr_match(a, s, n);
    }
    return 0;
}

/* Any leaf under v (arrays flattened, objects skipped) matching any alternative?
 * *leaves counts the leaves seen. */
static int leaf_any(const field_t *f, const json_t *v, int *leaves, int depth)
{
    if (json_is_array(v)) {
        if (depth > 64)
            return 0;
        for (size_t i = 0; i < json_array_size(v); i++)
            if (leaf_any(f, json_array_get(v, i), leaves, depth + 1))
                return 1;
        return 0;
    }
    if (!v || json_is_object(v))
        return 0;
    (*leaves)++;
    for (size_t i = 0; i < f->nalts; i++)
        if (alt_match(&f->alts[i], v))
            return 1;
    return 0;
}

static int node_match(const pnode_t *n, const json_t *obj, int depth);

static int sub_match(const pnode_t *sub, const json_t *v, int depth)
{
    if (depth > 64)
        return 0;
    if (json_is_array(v) && json_array_size(v) > 0) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (sub_match(sub, json_array_get(v, i), depth + 1))
                return 1;
        return 0;
    }
    return node_match(sub, json_is_object(v) ? v : NULL, depth + 1);
}

static int node_match(const pnode_t *n, const json_t *obj, int depth)
{
    for (size_t i = 0; i < n->nfields; i++) {
        const field_t *f = &n->fields[i];
        const json_t *v = obj ? json_object_get(obj, f->key) : NULL;
        if (f->sub) {
            if (!sub_match(f->sub, v, depth))
                return 0;
            continue;
        }
        int leaves = 0;
        if (leaf_any(f, v, &leaves, 0))
            continue;
        if (leaves)
            return 0;
        /* No leaf value here: only exists:false matches. */
        int ok = 0;
        for (size_t j = 0; j < f->nalts && !ok; j++)
            ok = f->alts[j].op == OP_EXISTS && !f->alts[j].exists;
        if (!ok)
            return 0;
    }
    for (size_t i = 0; i < n->nors; i++) {
        int ok = 0;
        for (size_t j = 0; j < n->ors[i].nalts && !ok; j++)
            ok = node_match(n->ors[i].alts[j], obj, depth + 1);
        if (!ok)
            return 0;
    }
    return 1;
}

int kr_pattern_match(const kr_pattern_t *p, const json_t *event)
{
    if (!p || !json_is_object(event))
        return 0;
    return node_match(p->root, event, 0);
}
