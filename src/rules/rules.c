/* rules/rules.c: rule files -> compiled, immutable, reference-counted rule sets with a
 * type/source index, and the per-rule helpers the incident engine needs (incident key,
 * resolution, template context). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kr/action.h"
#include "kr/doc.h"
#include "kr/err.h"
#include "kr/pattern.h"
#include "kr/rules.h"
#include "kr/template.h"
#include "kr/units.h"

#define RULE_KEYS "name, description, match, for, group_by, cooldown, resolve, dry_run, actions, enabled"

struct kr_rule {
    char *name;
    char *description;
    char *file;
    int line, col;
    kr_pattern_t *match;
    kr_pattern_t *resolve;
    int64_t for_ms, cooldown_ms;
    json_t *group_by;           /* array of strings */
    int group_default;          /* [cluster, broker.id], broker.id falling back to instance.id */
    int dry_run, enabled;
    json_t *actions;            /* [{"kind": K, "params": P}] */
};

/* A string -> list of rule indices map (open hashing), built once at compile time. */
typedef struct bucket {
    char *key;
    size_t *idx;
    size_t n, cap;
    struct bucket *next;
} bucket_t;

typedef struct {
    bucket_t **b;
    size_t nb;
} strmap_t;

struct kr_ruleset {
    int refcount;
    kr_rule_t *rules;
    size_t nrules;
    size_t nfiles;
    strmap_t by_type, by_source, by_name;
    size_t *unindexed;          /* enabled rules the index cannot narrow */
    size_t nunindexed;
};

/* ---------- string map ---------- */

static size_t str_hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static bucket_t *strmap_get(const strmap_t *m, const char *key)
{
    if (!m->nb || !key)
        return NULL;
    for (bucket_t *b = m->b[str_hash(key) & (m->nb - 1)]; b; b = b->next)
        if (strcmp(b->key, key) == 0)
            return b;
    return NULL;
}

static int strmap_add(strmap_t *m, const char *key, size_t idx)
{
    if (!m->nb) {
        m->nb = 1024;
        if (!(m->b = calloc(m->nb, sizeof *m->b)))
            return KR_ENOMEM;
    }
    bucket_t *b = strmap_get(m, key);
    if (!b) {
        if (!(b = calloc(1, sizeof *b)) || !(b->key = strdup(key))) {
            free(b);
            return KR_ENOMEM;
        }
        size_t h = str_hash(key) & (m->nb - 1);
        b->next = m->b[h];
        m->b[h] = b;
    }
    if (b->n && b->idx[b->n - 1] == idx)
        return KR_OK; /* `type: [a, a]` */
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 4;
        size_t *ni = realloc(b->idx, ncap * sizeof *ni);
        if (!ni)
            return KR_ENOMEM;
        b->idx = ni;
        b->cap = ncap;
    }
    b->idx[b->n++] = idx;
    return KR_OK;
}

static void strmap_free(strmap_t *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        bucket_t *b = m->b[i];
        while (b) {
            bucket_t *n = b->next;
            free(b->key);
            free(b->idx);
            free(b);
            b = n;
        }
    }
    free(m->b);
}

/* ---------- error collection ---------- */

typedef struct {
    char *buf;
    size_t len, cap;
    int n;
} errs_t;

static void errs_add(errs_t *e, const char *line)
{
    size_t n = strlen(line);
    if (e->len + n + 2 > e->cap) {
        size_t ncap = e->cap ? e->cap * 2 : 1024;
        while (e->len + n + 2 > ncap)
            ncap *= 2;
        char *nb = realloc(e->buf, ncap);
        if (!nb)
            return;
        e->buf = nb;
        e->cap = ncap;
    }
    memcpy(e->buf + e->len, line, n);
    e->len += n;
    e->buf[e->len++] = '\n';
    e->buf[e->len] = 0;
    e->n++;
}

/* Copies the collected errors to err (without the final newline); if they do not fit,
 * keeps whole lines and ends with "... N more errors". */
static void errs_out(const errs_t *e, char *err, size_t errlen)
{
    if (!err || !errlen)
        return;
    err[0] = 0;
    if (!e->buf)
        return;
    if (e->len - 1 < errlen) {
        memcpy(err, e->buf, e->len - 1);
        err[e->len - 1] = 0;
        return;
    }
    size_t used = 0;
    int kept = 0;
    const char *p = e->buf;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p) + 1;
        if (used + n + 40 > errlen)
            break;
        memcpy(err + used, p, n);
        used += n;
        kept++;
        p = nl + 1;
    }
    snprintf(err + used, errlen - used, "... %d more errors", e->n - kept);
}

/* ---------- freeing ---------- */

static void rule_deinit(kr_rule_t *r)
{
    free(r->name);
    free(r->description);
    free(r->file);
    kr_pattern_free(r->match);
    kr_pattern_free(r->resolve);
    json_decref(r->group_by);
    json_decref(r->actions);
}

static void ruleset_free(kr_ruleset_t *rs)
{
    for (size_t i = 0; i < rs->nrules; i++)
        rule_deinit(&rs->rules[i]);
    free(rs->rules);
    strmap_free(&rs->by_type);
    strmap_free(&rs->by_source);
    strmap_free(&rs->by_name);
    free(rs->unindexed);
    free(rs);
}

void kr_ruleset_incref(kr_ruleset_t *rs)
{
    if (rs)
        rs->refcount++;
}

void kr_ruleset_decref(kr_ruleset_t *rs)
{
    if (rs && --rs->refcount == 0)
        ruleset_free(rs);
}

/* ---------- compiling one rule ---------- */

typedef struct {
    kr_ruleset_t *rs;
    errs_t errs;
} loader_t;

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-'))
            return 0;
    return 1;
}

static int compile_duration(loader_t *L, const kr_doc_t *doc, const json_t *obj, const char *key,
                            int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    char msg[1024], derr[256];
    if (!v)
        return KR_OK;
    if (json_is_integer(v) && json_integer_value(v) == 0) {
        *out = 0;
        return KR_OK;
    }
    if (!json_is_string(v)) {
        kr_doc_member_errf(doc, obj, key, msg, sizeof msg,
                           "%s must be a duration like 30s, 5m, 6h or 1d", key);
        errs_add(&L->errs, msg);
        return KR_EINVAL;
    }
    if (kr_duration_parse(json_string_value(v), out, derr, sizeof derr) != KR_OK) {
        kr_doc_member_errf(doc, obj, key, msg, sizeof msg, "%s: %s", key, derr);
        errs_add(&L->errs, msg);
        return KR_EINVAL;
    }
    return KR_OK;
}

static int compile_bool(loader_t *L, const kr_doc_t *doc, const json_t *obj, const char *key, int *out)
{
    const json_t *v = json_object_get(obj, key);
    char msg[1024];
    if (!v)
        return KR_OK;
    if (!json_is_boolean(v)) {
        kr_doc_member_errf(doc, obj, key, msg, sizeof msg, "%s must be true or false", key);
        errs_add(&L->errs, msg);
        return KR_EINVAL;
    }
    *out = json_is_true(v);
    return KR_OK;
}

static int check_group_path(const char *p)
{
    size_t root = strcspn(p, ".");
    if (!*p || p[strlen(p) - 1] == '.' || strstr(p, ".."))
        return 0;
    return kr_template_is_event_root(p, root);
}

static int compile_group_by(loader_t *L, const kr_doc_t *doc, const json_t *obj, kr_rule_t *r)
{
    const json_t *v = json_object_get(obj, "group_by");
    char msg[1024];
    int rc = KR_OK;
    if (!v) {
        r->group_default = 1;
        r->group_by = json_pack("[ss]", "cluster", "broker.id");
        return r->group_by ? KR_OK : KR_ENOMEM;
    }
    if (!json_is_array(v)) {
        kr_doc_member_errf(doc, obj, "group_by", msg, sizeof msg,
                           "group_by must be a list of event paths, like [cluster, broker.id]");
        errs_add(&L->errs, msg);
        return KR_EINVAL;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *p = json_array_get(v, i);
        if (!json_is_string(p) || !check_group_path(json_string_value(p))) {
            kr_doc_item_errf(doc, v, i, msg, sizeof msg,
                             "group_by: expected an event path whose first part is one of: %s",
                             "id, source, type, state, time, cluster, broker, instance, alarm, health, "
                             "labels, annotations, alert, host, message, raw");
            errs_add(&L->errs, msg);
            rc = KR_EINVAL;
        }
    }
    r->group_by = json_deep_copy(v);
    return rc;
}

static int compile_actions(loader_t *L, const kr_doc_t *doc, const json_t *obj, kr_rule_t *r)
{
    const json_t *v = json_object_get(obj, "actions");
    char msg[1024];
    int rc = KR_OK;

    if (!(r->actions = json_array()))
        return KR_ENOMEM;
    if (!v || json_is_null(v))
        return KR_OK;
    if (!json_is_array(v)) {
        kr_doc_member_errf(doc, obj, "actions", msg, sizeof msg,
                           "actions must be a list like [{page: {to: kafka-oncall}}, {evacuate: {...}}]");
        errs_add(&L->errs, msg);
        return KR_EINVAL;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *a = json_array_get(v, i);
        if (json_is_string(a)) {
            /* `- log` is the same as `- log:` with no parameters. */
        } else if (!json_is_object(a) || json_object_size(a) != 1) {
            kr_doc_item_errf(doc, v, i, msg, sizeof msg,
                             "an action is a map with one key, the kind, like {page: {to: kafka-oncall}}; expected one of: %s",
                             kr_action_kind_names());
            errs_add(&L->errs, msg);
            rc = KR_EINVAL;
            continue;
        }
        const char *kind = json_is_string(a) ? json_string_value(a)
                                             : json_object_iter_key(json_object_iter((json_t *)a));
        const json_t *params = json_is_object(a) ? json_object_get(a, kind) : NULL;
        const kr_action_kind_t *k = kr_action_kind_find(kind);
        if (!k) {
            if (json_is_string(a))
                kr_doc_item_errf(doc, v, i, msg, sizeof msg,
                                 "unknown action kind \"%.100s\"; expected one of: %s", kind,
                                 kr_action_kind_names());
            else
                kr_doc_key_errf(doc, a, kind, msg, sizeof msg,
                                "unknown action kind \"%.100s\"; expected one of: %s", kind,
                                kr_action_kind_names());
            errs_add(&L->errs, msg);
            rc = KR_EINVAL;
            continue;
        }
        if (k->validate && k->validate(params, doc, msg, sizeof msg) != KR_OK) {
            errs_add(&L->errs, msg);
            rc = KR_EINVAL;
            continue;
        }
        if (params && kr_template_check_params(params, doc, msg, sizeof msg) != KR_OK) {
            errs_add(&L->errs, msg);
            rc = KR_EINVAL;
            continue;
        }
        json_t *row = json_pack("{s:s, s:O}", "kind", kind, "params", params ? (json_t *)params : json_null());
        if (!row || json_array_append_new(r->actions, row) != 0)
            return KR_ENOMEM;
    }
    return rc;
}

/* Compiles one rule map; adds every error found to L->errs. Returns 0 if the rule is
 * good (and appended to the set). */
static int compile_rule(loader_t *L, const kr_doc_t *doc, const json_t *obj, const json_t *container,
                        size_t index)
{
    kr_rule_t r;
    const char *key;
    json_t *v;
    char msg[2048];
    int bad = 0;
    static const char *const keys[] = {
        "name", "description", "match", "for", "group_by", "cooldown", "resolve", "dry_run",
        "actions", "enabled",
    };

    memset(&r, 0, sizeof r);
    r.enabled = 1;
    if (!json_is_object(obj)) {
        if (container)
            kr_doc_item_errf(doc, container, index, msg, sizeof msg,
                             "a rule must be a map with at least name and match");
        else
            kr_doc_errf(doc, obj, msg, sizeof msg,
                        "expected a rule (a map with name and match) or a list of rules");
        errs_add(&L->errs, msg);
        return KR_EINVAL;
    }
    if (container)
        kr_doc_item_pos(doc, container, index, &r.line, &r.col);
    else
        kr_doc_pos(doc, obj, &r.line, &r.col);
    if (!r.line)
        r.line = r.col = 1;

    json_object_foreach((json_t *)obj, key, v) {
        int known = 0;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            known |= strcmp(key, keys[i]) == 0;
        if (!known) {
            kr_doc_key_errf(doc, obj, key, msg, sizeof msg,
                            "unknown key \"%.100s\" in rule; expected one of: " RULE_KEYS, key);
            errs_add(&L->errs, msg);
            bad = 1;
        }
    }

    /* name */
    v = json_object_get(obj, "name");
    if (!v) {
        if (container)
            kr_doc_item_errf(doc, container, index, msg, sizeof msg,
                             "rule has no name; add name: SOME-NAME (letters, digits, _ . -)");
        else
            kr_doc_errf(doc, obj, msg, sizeof msg,
                        "rule has no name; add name: SOME-NAME (letters, digits, _ . -)");
        errs_add(&L->errs, msg);
        bad = 1;
    } else if (!json_is_string(v) || !valid_name(json_string_value(v))) {
        kr_doc_member_errf(doc, obj, "name", msg, sizeof msg,
                           "rule name must be a non-empty string of letters, digits, _ . - (like evacuate-on-status-check)");
        errs_add(&L->errs, msg);
        bad = 1;
    } else {
        const bucket_t *dup = strmap_get(&L->rs->by_name, json_string_value(v));
        if (dup) {
            const kr_rule_t *first = &L->rs->rules[dup->idx[0]];
            kr_doc_member_errf(doc, obj, "name", msg, sizeof msg,
                               "duplicate rule name \"%s\"; first defined at %s:%d:%d",
                               json_string_value(v), first->file, first->line, first->col);
            errs_add(&L->errs, msg);
            bad = 1;
        }
        r.name = strdup(json_string_value(v));
    }

    /* description */
    v = json_object_get(obj, "description");
    if (v && !json_is_string(v)) {
        kr_doc_member_errf(doc, obj, "description", msg, sizeof msg, "description must be a string");
        errs_add(&L->errs, msg);
        bad = 1;
    }
    r.description = strdup(json_is_string(v) ? json_string_value(v) : "");

    /* match */
    v = json_object_get(obj, "match");
    if (!v) {
        char what[160];
        snprintf(what, sizeof what, "rule%s%.100s%s has no match", r.name ? " \"" : "",
                 r.name ? r.name : "", r.name ? "\"" : "");
        if (container)
            kr_doc_item_errf(doc, container, index, msg, sizeof msg,
                             "%s; add match: {type: [...]} (an EventBridge event pattern)", what);
        else
            kr_doc_errf(doc, obj, msg, sizeof msg,
                        "%s; add match: {type: [...]} (an EventBridge event pattern)", what);
        errs_add(&L->errs, msg);
        bad = 1;
    } else if (!(r.match = kr_pattern_compile(v, doc, msg, sizeof msg))) {
        errs_add(&L->errs, msg);
        bad = 1;
    }
    v = json_object_get(obj, "resolve");
    if (v && !(r.resolve = kr_pattern_compile(v, doc, msg, sizeof msg))) {
        errs_add(&L->errs, msg);
        bad = 1;
    }

    bad |= compile_duration(L, doc, obj, "for", &r.for_ms) != KR_OK;
    bad |= compile_duration(L, doc, obj, "cooldown", &r.cooldown_ms) != KR_OK;
    bad |= compile_group_by(L, doc, obj, &r) != KR_OK;
    bad |= compile_bool(L, doc, obj, "dry_run", &r.dry_run) != KR_OK;
    bad |= compile_bool(L, doc, obj, "enabled", &r.enabled) != KR_OK;
    bad |= compile_actions(L, doc, obj, &r) != KR_OK;

    if (r.name && !bad) {
        if (!(r.file = strdup(kr_doc_name(doc))))
            goto nomem;
        kr_rule_t *nr = realloc(L->rs->rules, (L->rs->nrules + 1) * sizeof *nr);
        if (!nr)
            goto nomem;
        L->rs->rules = nr;
        nr[L->rs->nrules] = r;
        if (strmap_add(&L->rs->by_name, r.name, L->rs->nrules) != KR_OK) {
            L->rs->nrules++;
            errs_add(&L->errs, "out of memory");
            return KR_ENOMEM;
        }
        L->rs->nrules++;
        return KR_OK;
    }
    rule_deinit(&r);
    return KR_EINVAL;
nomem:
    rule_deinit(&r);
    errs_add(&L->errs, "out of memory");
    return KR_ENOMEM;
}

static void compile_doc(loader_t *L, const kr_doc_t *doc)
{
    const json_t *root = kr_doc_root(doc);
    L->rs->nfiles++;
    if (json_is_null(root))
        return; /* an empty file holds no rules */
    if (json_is_array(root)) {
        for (size_t i = 0; i < json_array_size(root); i++)
            compile_rule(L, doc, json_array_get(root, i), root, i);
        return;
    }
    compile_rule(L, doc, root, NULL, 0);
}

/* ---------- the index ---------- */

static int build_index(kr_ruleset_t *rs)
{
    if (!(rs->unindexed = calloc(rs->nrules ? rs->nrules : 1, sizeof *rs->unindexed)))
        return KR_ENOMEM;
    for (size_t i = 0; i < rs->nrules; i++) {
        const kr_rule_t *r = &rs->rules[i];
        size_t n = 0;
        const char *const *lits;
        strmap_t *m = &rs->by_type;
        if (!r->enabled)
            continue;
        if (!(lits = kr_pattern_literal_strings(r->match, "type", &n))) {
            lits = kr_pattern_literal_strings(r->match, "source", &n);
            m = &rs->by_source;
        }
        if (!lits) {
            rs->unindexed[rs->nunindexed++] = i;
            continue;
        }
        for (size_t j = 0; j < n; j++)
            if (strmap_add(m, lits[j], i) != KR_OK)
                return KR_ENOMEM;
    }
    return KR_OK;
}

static kr_ruleset_t *finish(loader_t *L, char *err, size_t errlen)
{
    if (!L->errs.n && build_index(L->rs) != KR_OK)
        errs_add(&L->errs, "out of memory building the rule index");
    if (L->errs.n) {
        errs_out(&L->errs, err, errlen);
        free(L->errs.buf);
        ruleset_free(L->rs);
        return NULL;
    }
    free(L->errs.buf);
    return L->rs;
}

static int has_rule_suffix(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) || (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_file(loader_t *L, const char *path)
{
    char msg[2048];
    kr_doc_t *doc = kr_doc_load(path, msg, sizeof msg);
    if (!doc) {
        L->rs->nfiles++;
        errs_add(&L->errs, msg);
        return;
    }
    compile_doc(L, doc);
    kr_doc_free(doc);
}

kr_ruleset_t *kr_ruleset_load(const char *path, char *err, size_t errlen)
{
    loader_t L;
    struct stat st;
    char msg[2048];

    memset(&L, 0, sizeof L);
    if (!(L.rs = calloc(1, sizeof *L.rs))) {
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        return NULL;
    }
    L.rs->refcount = 1;
    if (stat(path, &st) != 0) {
        snprintf(msg, sizeof msg, "%s: cannot read rules: %s", path, strerror(errno));
        errs_add(&L.errs, msg);
    } else if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        if (!d) {
            snprintf(msg, sizeof msg, "%s: cannot open rules directory: %s", path, strerror(errno));
            errs_add(&L.errs, msg);
        }
        while (d && (de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.' || !has_rule_suffix(de->d_name))
                continue;
            char **nn = realloc(names, (n + 1) * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            size_t plen = strlen(path);
            int slash = plen && path[plen - 1] == '/';
            if (asprintf(&names[n], "%s%s%s", path, slash ? "" : "/", de->d_name) < 0)
                break;
            n++;
        }
        if (d)
            closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n; i++) {
            load_file(&L, names[i]);
            free(names[i]);
        }
        free(names);
    } else {
        load_file(&L, path);
    }
    return finish(&L, err, errlen);
}

kr_ruleset_t *kr_ruleset_parse(const char *name, const char *buf, size_t len, char *err, size_t errlen)
{
    loader_t L;
    char msg[2048];

    memset(&L, 0, sizeof L);
    if (!(L.rs = calloc(1, sizeof *L.rs))) {
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        return NULL;
    }
    L.rs->refcount = 1;
    kr_doc_t *doc = kr_doc_parse(name, buf, len, msg, sizeof msg);
    if (!doc) {
        L.rs->nfiles++;
        errs_add(&L.errs, msg);
    } else {
        compile_doc(&L, doc);
        kr_doc_free(doc);
    }
    return finish(&L, err, errlen);
}

/* ---------- queries ---------- */

size_t kr_ruleset_count(const kr_ruleset_t *rs) { return rs ? rs->nrules : 0; }
size_t kr_ruleset_nfiles(const kr_ruleset_t *rs) { return rs ? rs->nfiles : 0; }

const kr_rule_t *kr_ruleset_rule(const kr_ruleset_t *rs, size_t i)
{
    return rs && i < rs->nrules ? &rs->rules[i] : NULL;
}

const kr_rule_t *kr_ruleset_find(const kr_ruleset_t *rs, const char *name)
{
    const bucket_t *b = rs ? strmap_get(&rs->by_name, name) : NULL;
    return b ? &rs->rules[b->idx[0]] : NULL;
}

/* The bucket for a top-level string field; *all is set when the field is present but not
 * a string (then the index cannot narrow and every enabled rule is a candidate). */
static const bucket_t *index_bucket(const strmap_t *m, const json_t *event, const char *key, int *all)
{
    const json_t *v = json_object_get(event, key);
    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        *all = 1;
        return NULL;
    }
    return strmap_get(m, json_string_value(v));
}

int kr_ruleset_match(const kr_ruleset_t *rs, const json_t *event,
                     int (*cb)(const kr_rule_t *rule, void *arg), void *arg)
{
    int all = 0, called = 0;
    if (!rs || !json_is_object(event))
        return 0;
    const bucket_t *bt = index_bucket(&rs->by_type, event, "type", &all);
    const bucket_t *bs = index_bucket(&rs->by_source, event, "source", &all);

    if (all) {
        for (size_t i = 0; i < rs->nrules; i++) {
            const kr_rule_t *r = &rs->rules[i];
            if (r->enabled && kr_pattern_match(r->match, event)) {
                called++;
                if (cb(r, arg))
                    break;
            }
        }
        return called;
    }
    /* Merge three sorted candidate lists so callbacks come in load order. */
    size_t it = 0, is = 0, iu = 0;
    size_t nt = bt ? bt->n : 0, ns = bs ? bs->n : 0, nu = rs->nunindexed;
    for (;;) {
        size_t best = (size_t)-1;
        if (it < nt && bt->idx[it] < best)
            best = bt->idx[it];
        if (is < ns && bs->idx[is] < best)
            best = bs->idx[is];
        if (iu < nu && rs->unindexed[iu] < best)
            best = rs->unindexed[iu];
        if (best == (size_t)-1)
            break;
        if (it < nt && bt->idx[it] == best)
            it++;
        if (is < ns && bs->idx[is] == best)
            is++;
        if (iu < nu && rs->unindexed[iu] == best)
            iu++;
        const kr_rule_t *r = &rs->rules[best];
        if (kr_pattern_match(r->match, event)) {
            called++;
            if (cb(r, arg))
                break;
        }
    }
    return called;
}

/* ---------- rule accessors ---------- */

const char *kr_rule_name(const kr_rule_t *r) { return r->name; }
const char *kr_rule_description(const kr_rule_t *r) { return r->description ? r->description : ""; }
int64_t kr_rule_for_ms(const kr_rule_t *r) { return r->for_ms; }
int64_t kr_rule_cooldown_ms(const kr_rule_t *r) { return r->cooldown_ms; }
const json_t *kr_rule_group_by(const kr_rule_t *r) { return r->group_by; }
int kr_rule_dry_run(const kr_rule_t *r) { return r->dry_run; }
int kr_rule_enabled(const kr_rule_t *r) { return r->enabled; }
const json_t *kr_rule_actions(const kr_rule_t *r) { return r->actions; }
size_t kr_rule_nactions(const kr_rule_t *r) { return json_array_size(r->actions); }
const char *kr_rule_file(const kr_rule_t *r) { return r->file; }
int kr_rule_line(const kr_rule_t *r) { return r->line; }

const char *kr_rule_action_kind(const kr_rule_t *r, size_t i)
{
    return json_string_value(json_object_get(json_array_get(r->actions, i), "kind"));
}

const json_t *kr_rule_action_params(const kr_rule_t *r, size_t i)
{
    return json_object_get(json_array_get(r->actions, i), "params");
}

/* The path of group_by entry i for this event (the default's broker.id falls back). */
static const char *group_path(const kr_rule_t *r, size_t i, const json_t *event)
{
    const char *p = json_string_value(json_array_get(r->group_by, i));
    if (r->group_default && strcmp(p, "broker.id") == 0 && !kr_template_lookup(event, "broker.id"))
        return "instance.id";
    return p;
}

int kr_rule_incident_key(const kr_rule_t *r, const json_t *event, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "%s", r->name);
    for (size_t i = 0; i < json_array_size(r->group_by); i++) {
        const char *p = group_path(r, i, event);
        used += (size_t)snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, "|%s=", p);
        const json_t *v = kr_template_lookup(event, p);
        if (v)
            used += kr_template_format(v, used < len ? buf + used : NULL, used < len ? len - used : 0);
    }
    return used < len ? KR_OK : KR_EINVAL;
}

json_t *kr_rule_group_values(const kr_rule_t *r, const json_t *event)
{
    json_t *out = json_object();
    for (size_t i = 0; out && i < json_array_size(r->group_by); i++) {
        const char *p = group_path(r, i, event);
        const json_t *v = kr_template_lookup(event, p);
        json_object_set_new(out, p, v ? json_deep_copy(v) : json_null());
    }
    return out;
}

static int same_string(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return !a && !b;
    return json_equal((json_t *)a, (json_t *)b);
}

int kr_rule_resolves(const kr_rule_t *r, const json_t *first_event, const json_t *event)
{
    char k1[1024], k2[1024];
    if (!json_is_object(event) || !json_is_object(first_event))
        return 0;
    if (r->resolve) {
        if (!kr_pattern_match(r->resolve, event))
            return 0;
    } else {
        const json_t *st = json_object_get(event, "state");
        if (!json_is_string(st) || strcmp(json_string_value(st), "resolved") != 0)
            return 0;
        if (!same_string(json_object_get(first_event, "source"), json_object_get(event, "source")))
            return 0;
    }
    kr_rule_incident_key(r, first_event, k1, sizeof k1);
    kr_rule_incident_key(r, event, k2, sizeof k2);
    return strcmp(k1, k2) == 0;
}

json_t *kr_rule_context(const kr_rule_t *r, const json_t *event, const char *incident_id,
                        int64_t started_ms)
{
    char key[1024], ts[40];
    json_t *ctx = json_is_object(event) ? json_copy((json_t *)event) : json_object();
    json_t *inc = json_object();
    if (!ctx || !inc) {
        json_decref(ctx);
        json_decref(inc);
        return NULL;
    }
    kr_rule_incident_key(r, event, key, sizeof key);
    if (incident_id)
        json_object_set_new(inc, "id", json_string(incident_id));
    json_object_set_new(inc, "key", json_string(key));
    json_object_set_new(inc, "rule", json_string(r->name));
    if (started_ms >= 0)
        json_object_set_new(inc, "started", json_string(kr_time_format(started_ms, ts, sizeof ts)));
    json_object_set_new(ctx, "incident", inc);
    return ctx;
}

/* ---------- explain (kresponder match) ---------- */

typedef struct {
    json_t *matches;
    const json_t *event;
} explain_t;

static int explain_cb(const kr_rule_t *r, void *arg)
{
    explain_t *x = arg;
    char key[1024], dur[64];
    json_t *ctx = kr_rule_context(r, x->event, NULL, -1);
    json_t *actions = json_array();
    kr_rule_incident_key(r, x->event, key, sizeof key);
    for (size_t i = 0; ctx && actions && i < kr_rule_nactions(r); i++) {
        json_t *p = kr_template_render_params(kr_rule_action_params(r, i), ctx);
        json_t *row = json_object();
        json_object_set_new(row, kr_rule_action_kind(r, i), p ? p : json_null());
        json_array_append_new(actions, row);
    }
    json_t *m = json_pack("{s:s, s:s, s:s, s:o}", "rule", r->name, "incident_key", key, "for",
                          kr_duration_format(r->for_ms, dur, sizeof dur), "actions",
                          actions ? actions : json_array());
    if (m && r->dry_run)
        json_object_set_new(m, "dry_run", json_true());
    if (m)
        json_array_append_new(x->matches, m);
    json_decref(ctx);
    return 0;
}

json_t *kr_ruleset_explain(const kr_ruleset_t *rs, const json_t *event)
{
    explain_t x = { json_array(), event };
    if (!x.matches)
        return NULL;
    kr_ruleset_match(rs, event, explain_cb, &x);
    return json_pack("{s:O, s:o}", "event", (json_t *)event, "matches", x.matches);
}
