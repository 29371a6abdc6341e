/* cluster/cluster_config.c: the `clusters:` section: one cluster's keys validated with
 * file:line:col errors, cross-checks between clusters, and the translation of alarm-name
 * expressions with a named broker group into POSIX regular expressions. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_internal.h"
#include "kr/err.h"
#include "kr/units.h"

#define DEFAULT_SESSION_TIMEOUT_MS 18000 /* Kafka >= 2.5 (KIP-537) */

static const char *const cluster_keys[] = {
    "name", "zookeeper", "bootstrap_servers", "session_timeout", "stacks", "inventory",
    "guards", "dry_run", "streams_apps", NULL,
};
static const char *const inventory_keys[] = { "instances", "alarm_name_regex", NULL };
static const char *const guard_keys[] = { "max_concurrent_evacuations",
                                          "pause_when_brokers_down", NULL };

static int known_key(const char *const *keys, const char *k)
{
    for (size_t i = 0; keys[i]; i++)
        if (strcmp(keys[i], k) == 0)
            return 1;
    return 0;
}

static int check_keys(const kr_doc_t *doc, const json_t *obj, const char *const *keys,
                      const char *where, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (!known_key(keys, k)) {
            char list[256] = "";
            for (size_t i = 0; keys[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         keys[i]);
            return kr_doc_key_errf(doc, obj, k, err, errlen, "unknown key \"%s\" in %s (known: %s)",
                                   k, where, list);
        }
    }
    return KR_OK;
}

/* A decimal number that fits in an int, nothing else. */
static int parse_uint(const char *s, size_t len, int *out)
{
    long v = 0;
    if (!len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > INT_MAX)
            return -1;
    }
    *out = (int)v;
    return 0;
}

/* host:port[,host:port...][/chroot] as zookeeper_init takes it. */
static int check_connect(const char *s, char *why, size_t whylen)
{
    const char *chroot = strchr(s, '/');
    size_t hosts_len = chroot ? (size_t)(chroot - s) : strlen(s);
    const char *p = s, *end = s + hosts_len;

    if (!hosts_len)
        return snprintf(why, whylen, "names no server (expected host:port[,host:port...][/chroot])"), -1;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end, *colon;
        int port;
        colon = NULL;
        for (const char *q = p; q < e; q++)
            if (*q == ':')
                colon = q;
        if (!colon || colon == p)
            return snprintf(why, whylen, "server \"%.*s\" must be host:port", (int)(e - p), p), -1;
        if (parse_uint(colon + 1, (size_t)(e - colon - 1), &port) || port < 1 || port > 65535)
            return snprintf(why, whylen, "server \"%.*s\" has no valid port (1-65535)",
                            (int)(e - p), p), -1;
        for (const char *q = p; q < colon; q++)
            if (isspace((unsigned char)*q))
                return snprintf(why, whylen, "server \"%.*s\" contains a space", (int)(e - p), p), -1;
        p = comma ? comma + 1 : end;
        if (comma && p == end)
            return snprintf(why, whylen, "ends with a comma"), -1;
    }
    if (chroot) {
        size_t n = strlen(chroot);
        if (n == 1 || chroot[n - 1] == '/' || strstr(chroot, "//") || strchr(chroot, ' '))
            return snprintf(why, whylen, "chroot \"%s\" must be a path like /kafka (no trailing "
                            "slash, no empty segment)", chroot), -1;
    }
    return 0;
}

/* "lo-hi" or a single id (string or integer). */
static int parse_range(const json_t *v, int *lo, int *hi)
{
    const char *s, *dash;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX)
            return -1;
        *lo = *hi = (int)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    while (*s == ' ')
        s++;
    dash = strchr(s, '-');
    if (!dash)
        return parse_uint(s, strlen(s), lo) ? -1 : (*hi = *lo, 0);
    {
        const char *a_end = dash, *b = dash + 1;
        while (a_end > s && a_end[-1] == ' ')
            a_end--;
        while (*b == ' ')
            b++;
        if (parse_uint(s, (size_t)(a_end - s), lo) || parse_uint(b, strlen(b), hi))
            return -1;
    }
    return *lo <= *hi ? 0 : -2;
}

static int parse_stacks(const kr_doc_t *doc, const json_t *obj, const json_t *stacks,
                        kr_cluster_cfg_t *c, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    if (!json_is_object(stacks))
        return kr_doc_member_errf(doc, obj, "stacks", err, errlen,
                                  "stacks must be a map of stack name to broker id range, "
                                  "e.g. {blue: 1-1000, green: 1001-2000}");
    if (json_object_size(stacks) && !(c->stacks = calloc(json_object_size(stacks), sizeof *c->stacks)))
        return KR_ENOMEM;
    json_object_foreach((json_t *)stacks, k, v) {
        int lo, hi, rc = parse_range(v, &lo, &hi);
        if (rc == -2)
            return kr_doc_member_errf(doc, stacks, k, err, errlen,
                                      "stack %s: range %s starts after it ends", k,
                                      json_string_value(v));
        if (rc)
            return kr_doc_member_errf(doc, stacks, k, err, errlen,
                                      "stack %s: expected a broker id range such as 1-1000", k);
        for (size_t i = 0; i < c->n_stacks; i++)
            if (lo <= c->stacks[i].hi && c->stacks[i].lo <= hi)
                return kr_doc_member_errf(doc, stacks, k, err, errlen,
                                          "stack %s (%d-%d) overlaps stack %s (%d-%d)", k, lo, hi,
                                          c->stacks[i].name, c->stacks[i].lo, c->stacks[i].hi);
        if (!(c->stacks[c->n_stacks].name = strdup(k)))
            return KR_ENOMEM;
        c->stacks[c->n_stacks].lo = lo;
        c->stacks[c->n_stacks].hi = hi;
        c->n_stacks++;
    }
    return KR_OK;
}

#define ERE_COST_MAX 10000.0

/* An upper bound of the copies glibc's regcomp makes of a POSIX ERE's atoms: it duplicates
 * a repeated atom once per count ({m,n}: n copies, {m,}: m + 1; * + ?: 2), so stacked
 * quantifiers ("x++++") and nested counted repeats multiply, and a 100-character pattern
 * can take gigabytes (found by fuzz_cluster_config). Pure; *pp moves past what it read. */
static double ere_cost(const char **pp, int depth)
{
    const char *p = *pp;
    double total = 0, seq = 0;
    if (depth > 64)
        return ERE_COST_MAX * 2;
    while (*p && *p != ')') {
        double c = 1;
        if (*p == '|') {
            total += seq;
            seq = 0;
            p++;
            continue;
        }
        if (*p == '(') {
            p++;
            c = ere_cost(&p, depth + 1);
            if (*p == ')')
                p++;
        } else if (*p == '[') { /* a bracket expression, with [:class:] [.x.] [=x=] inside */
            p++;
            if (*p == '^')
                p++;
            if (*p == ']')
                p++;
            while (*p && *p != ']') {
                if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
                    char close = p[1];
                    p += 2;
                    while (*p && !(*p == close && p[1] == ']'))
                        p++;
                    if (*p)
                        p += 2;
                } else {
                    p++;
                }
            }
            if (*p == ']')
                p++;
        } else if (*p == '\\' && p[1]) {
            p += 2;
        } else {
            p++;
        }
        while (*p == '*' || *p == '+' || *p == '?' || *p == '{') {
            double f = 2;
            if (*p == '{') {
                char *end;
                long m = strtol(p + 1, &end, 10), n = m;
                if (end == p + 1 || m < 0)
                    break; /* not a bound: regcomp says what is wrong */
                if (*end == ',') {
                    n = end[1] == '}' ? m + 1 : strtol(end + 1, &end, 10);
                    if (end[0] == ',' && end[1] == '}')
                        end++;
                }
                if (*end != '}')
                    break;
                f = n > m ? (double)n : (double)m;
                if (f < 1)
                    f = 1;
                p = end + 1;
            } else {
                p++;
            }
            c *= f;
            if (c > ERE_COST_MAX)
                c = ERE_COST_MAX * 2; /* no overflow, whatever follows */
        }
        seq += c;
    }
    *pp = p;
    return total + seq;
}

static int parse_inventory(const kr_doc_t *doc, const json_t *obj, const json_t *inv,
                           kr_cluster_cfg_t *c, char *err, size_t errlen)
{
    json_t *inst, *re, *v;
    const char *k;
    int rc;

    if (!json_is_object(inv))
        return kr_doc_member_errf(doc, obj, "inventory", err, errlen,
                                  "inventory must be a map with instances and/or alarm_name_regex");
    if ((rc = check_keys(doc, inv, inventory_keys, "inventory", err, errlen)))
        return rc;
    inst = json_object_get(inv, "instances");
    if (inst) {
        if (!json_is_object(inst))
            return kr_doc_member_errf(doc, inv, "instances", err, errlen,
                                      "inventory.instances must be a map of EC2 instance id to "
                                      "broker id, e.g. {i-0abc123: 3}");
        if (json_object_size(inst) &&
            !(c->instances = calloc(json_object_size(inst), sizeof *c->instances)))
            return KR_ENOMEM;
        json_object_foreach(inst, k, v) {
            if (!*k)
                return kr_doc_key_errf(doc, inst, k, err, errlen, "instance id must not be empty");
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX)
                return kr_doc_member_errf(doc, inst, k, err, errlen,
                                          "instance %s: broker id must be a non-negative integer", k);
            if (!(c->instances[c->n_instances].instance_id = strdup(k)))
                return KR_ENOMEM;
            c->instances[c->n_instances++].broker_id = (int)json_integer_value(v);
        }
    }
    re = json_object_get(inv, "alarm_name_regex");
    if (re) {
        char why[256], *posix;
        int r;
        if (!json_is_string(re))
            return kr_doc_member_errf(doc, inv, "alarm_name_regex", err, errlen,
                                      "alarm_name_regex must be a string");
        if (!(posix = kr_cluster_regex_translate(json_string_value(re), &c->alarm_group, why,
                                                 sizeof why)))
            return kr_doc_member_errf(doc, inv, "alarm_name_regex", err, errlen,
                                      "alarm_name_regex: %s", why);
        const char *scan = posix;
        double cost = 0;
        while (*scan && cost <= ERE_COST_MAX) { /* an unmatched ")" is a literal for glibc */
            cost += ere_cost(&scan, 0);
            if (*scan == ')')
                scan++;
        }
        if (cost > ERE_COST_MAX) {
            free(posix);
            return kr_doc_member_errf(doc, inv, "alarm_name_regex", err, errlen,
                                      "alarm_name_regex: its repetitions multiply beyond %.0f copies "
                                      "(stacked quantifiers such as \"++\", or large nested counts): "
                                      "write it without them", ERE_COST_MAX);
        }
        r = regcomp(&c->alarm_re, posix, REG_EXTENDED);
        free(posix);
        if (r) {
            regerror(r, &c->alarm_re, why, sizeof why);
            return kr_doc_member_errf(doc, inv, "alarm_name_regex", err, errlen,
                                      "alarm_name_regex: %s", why);
        }
        c->alarm_re_ok = 1;
        if (!(c->alarm_regex = strdup(json_string_value(re))))
            return KR_ENOMEM;
    }
    return KR_OK;
}

static int parse_int_key(const kr_doc_t *doc, const json_t *obj, const char *key, int min,
                         int max, int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return KR_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return kr_doc_member_errf(doc, obj, key, err, errlen, "%s must be an integer from %d to %d",
                                  key, min, max);
    *out = (int)json_integer_value(v);
    return KR_OK;
}

static int valid_name(const char *s)
{
    if (!*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return 0;
    return 1;
}

static int servers_string(const json_t *v, char **out)
{
    size_t i, len = 0;
    json_t *item;
    if (json_is_string(v)) {
        *out = strdup(json_string_value(v));
        return *out ? 0 : KR_ENOMEM;
    }
    if (!json_is_array(v) || !json_array_size(v))
        return KR_EINVAL;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item) || !*json_string_value(item))
            return KR_EINVAL;
        len += strlen(json_string_value(item)) + 1;
    }
    if (!(*out = calloc(1, len)))
        return KR_ENOMEM;
    json_array_foreach(v, i, item) {
        if (i)
            strcat(*out, ",");
        strcat(*out, json_string_value(item));
    }
    return 0;
}

int kr_cluster_cfg_parse(const kr_doc_t *doc, const json_t *node, kr_cluster_cfg_t *c,
                         char *err, size_t errlen)
{
    json_t *v;
    char why[256];
    int rc;

    memset(c, 0, sizeof *c);
    c->session_timeout_ms = DEFAULT_SESSION_TIMEOUT_MS;
    c->max_concurrent_evacuations = 1;
    c->pause_when_brokers_down = 2;
    if (!json_is_object(node))
        return kr_doc_errf(doc, node, err, errlen,
                           "a cluster must be a map with name, zookeeper, stacks, inventory...");
    if ((rc = check_keys(doc, node, cluster_keys, "a cluster", err, errlen)))
        goto fail;
    v = json_object_get(node, "name");
    if (!v) {
        rc = kr_doc_errf(doc, node, err, errlen, "a cluster needs a name");
        goto fail;
    }
    if (!json_is_string(v) || !valid_name(json_string_value(v))) {
        rc = kr_doc_member_errf(doc, node, "name", err, errlen,
                                "cluster name must be 1-64 letters, digits, '.', '_' or '-'");
        goto fail;
    }
    if (!(c->name = strdup(json_string_value(v))))
        goto nomem;
    v = json_object_get(node, "zookeeper");
    if (!v) {
        rc = kr_doc_errf(doc, node, err, errlen, "cluster %s needs a zookeeper connect string "
                         "(host:port[,host:port...][/chroot])", c->name);
        goto fail;
    }
    if (!json_is_string(v) || check_connect(json_string_value(v), why, sizeof why)) {
        rc = kr_doc_member_errf(doc, node, "zookeeper", err, errlen, "cluster %s: zookeeper %s",
                                c->name, json_is_string(v) ? why : "must be a string");
        goto fail;
    }
    if (!(c->zookeeper = strdup(json_string_value(v))))
        goto nomem;
    if ((v = json_object_get(node, "bootstrap_servers"))) {
        rc = servers_string(v, &c->bootstrap_servers);
        if (rc == KR_ENOMEM)
            goto nomem;
        if (rc || check_connect(c->bootstrap_servers, why, sizeof why) ||
            strchr(c->bootstrap_servers, '/')) {
            rc = kr_doc_member_errf(doc, node, "bootstrap_servers", err, errlen,
                                    "cluster %s: bootstrap_servers must be \"host:port,...\" or a "
                                    "list of host:port", c->name);
            goto fail;
        }
    }
    if ((v = json_object_get(node, "session_timeout"))) {
        int64_t ms;
        if (!json_is_string(v) || kr_duration_parse(json_string_value(v), &ms, why, sizeof why) ||
            ms < 1000 || ms > 3600000) {
            rc = kr_doc_member_errf(doc, node, "session_timeout", err, errlen,
                                    "cluster %s: session_timeout must be a duration from 1s to 1h "
                                    "(Kafka's default is 18s)", c->name);
            goto fail;
        }
        c->session_timeout_ms = ms;
    }
    if ((v = json_object_get(node, "stacks")) &&
        (rc = parse_stacks(doc, node, v, c, err, errlen)))
        goto fail;
    if ((v = json_object_get(node, "inventory")) &&
        (rc = parse_inventory(doc, node, v, c, err, errlen)))
        goto fail;
    if ((v = json_object_get(node, "guards"))) {
        if (!json_is_object(v)) {
            rc = kr_doc_member_errf(doc, node, "guards", err, errlen,
                                    "guards must be a map (max_concurrent_evacuations, "
                                    "pause_when_brokers_down)");
            goto fail;
        }
        if ((rc = check_keys(doc, v, guard_keys, "guards", err, errlen)) ||
            (rc = parse_int_key(doc, v, "max_concurrent_evacuations", 1, 1000,
                                &c->max_concurrent_evacuations, err, errlen)) ||
            (rc = parse_int_key(doc, v, "pause_when_brokers_down", 1, 100000,
                                &c->pause_when_brokers_down, err, errlen)))
            goto fail;
    }
    if ((v = json_object_get(node, "dry_run"))) {
        if (!json_is_boolean(v)) {
            rc = kr_doc_member_errf(doc, node, "dry_run", err, errlen,
                                    "dry_run must be true or false");
            goto fail;
        }
        c->dry_run = json_is_true(v);
    }
    v = json_object_get(node, "streams_apps");
    if (v && !json_is_array(v)) {
        rc = kr_doc_member_errf(doc, node, "streams_apps", err, errlen,
                                "streams_apps must be a list");
        goto fail;
    }
    if (!(c->streams_apps = v ? json_deep_copy(v) : json_array()))
        goto nomem;
    return KR_OK;
nomem:
    rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
fail:
    kr_cluster_cfg_deinit(c);
    return rc;
}

void kr_cluster_cfg_deinit(kr_cluster_cfg_t *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->zookeeper);
    free(c->bootstrap_servers);
    for (size_t i = 0; i < c->n_stacks; i++)
        free(c->stacks[i].name);
    free(c->stacks);
    for (size_t i = 0; i < c->n_instances; i++)
        free(c->instances[i].instance_id);
    free(c->instances);
    free(c->alarm_regex);
    if (c->alarm_re_ok)
        regfree(&c->alarm_re);
    json_decref(c->streams_apps);
    memset(c, 0, sizeof *c);
}

int kr_cluster_cfgs_parse(const kr_config_t *cfg, kr_cluster_cfg_t **out, size_t *n, char *err,
                          size_t errlen)
{
    const json_t *list = cfg->clusters;
    kr_cluster_cfg_t *v = NULL;
    size_t count = 0, i;
    json_t *item;
    int rc = KR_OK;

    *out = NULL;
    *n = 0;
    if (!list || json_is_null(list))
        return KR_OK;
    if (!json_is_array(list))
        return kr_doc_errf(cfg->doc, list, err, errlen, "clusters must be a list");
    if (json_array_size(list) && !(v = calloc(json_array_size(list), sizeof *v)))
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    json_array_foreach(list, i, item) {
        if ((rc = kr_cluster_cfg_parse(cfg->doc, item, &v[count], err, errlen)))
            goto fail;
        count++;
        for (size_t j = 0; j + 1 < count; j++) {
            if (strcmp(v[j].name, v[count - 1].name) == 0) {
                rc = kr_doc_member_errf(cfg->doc, item, "name", err, errlen,
                                        "cluster name %s is used twice", v[j].name);
                goto fail;
            }
            for (size_t a = 0; a < v[count - 1].n_instances; a++)
                for (size_t b = 0; b < v[j].n_instances; b++)
                    if (strcmp(v[count - 1].instances[a].instance_id, v[j].instances[b].instance_id) == 0) {
                        json_t *inst = json_object_get(json_object_get(item, "inventory"), "instances");
                        rc = kr_doc_key_errf(cfg->doc, inst, v[j].instances[b].instance_id, err,
                                             errlen, "instance %s is already mapped in cluster %s",
                                             v[j].instances[b].instance_id, v[j].name);
                        goto fail;
                    }
        }
    }
    *out = v;
    *n = count;
    return KR_OK;
fail:
    for (size_t k = 0; k < count; k++)
        kr_cluster_cfg_deinit(&v[k]);
    free(v);
    return rc;
}

int kr_clusters_check(const kr_config_t *cfg, char *err, size_t errlen)
{
    kr_cluster_cfg_t *v;
    size_t n;
    int rc = kr_cluster_cfgs_parse(cfg, &v, &n, err, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        kr_cluster_cfg_deinit(&v[i]);
    free(v);
    return KR_OK;
}

/* ---- named groups for POSIX regex ---- */

typedef struct {
    char *s;
    size_t len, cap;
} sbuf_t;

static int sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (!ns)
            return -1;
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
    return 0;
}

char *kr_cluster_regex_translate(const char *in, size_t *group, char *why, size_t whylen)
{
    sbuf_t b = { 0 };
    size_t groups = 0, found = 0;
    int in_bracket = 0;

    *group = 0;
    if (sb_add(&b, "", 0))
        goto nomem;
    for (const char *p = in; *p; p++) {
        if (in_bracket) {
            /* copy until the closing ']' (POSIX: a ']' first in the list is literal, and
             * [:class:] / [=x=] / [.x.] are whole units) */
            const char *start = p;
            if (*p == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
                char close = p[1];
                const char *e = p + 2;
                while (*e && !(e[0] == close && e[1] == ']'))
                    e++;
                if (!*e) {
                    snprintf(why, whylen, "unterminated [%c in a bracket expression", close);
                    goto fail;
                }
                p = e + 1;
                if (sb_add(&b, start, (size_t)(p - start + 1)))
                    goto nomem;
                continue;
            }
            if (*p == ']')
                in_bracket = 0;
            if (sb_add(&b, p, 1))
                goto nomem;
            continue;
        }
        if (*p == '\\') {
            const char *rep = NULL;
            switch (p[1]) {
            case 'd': rep = "[0-9]"; break;
            case 'D': rep = "[^0-9]"; break;
            case 'w': rep = "[[:alnum:]_]"; break;
            case 'W': rep = "[^[:alnum:]_]"; break;
            case 's': rep = "[[:space:]]"; break;
            case 'S': rep = "[^[:space:]]"; break;
            case 0:
                snprintf(why, whylen, "ends with a lone backslash");
                goto fail;
            }
            if (rep ? sb_add(&b, rep, strlen(rep)) : sb_add(&b, p, 2))
                goto nomem;
            p++;
            continue;
        }
        if (*p == '[') {
            in_bracket = 1;
            if (sb_add(&b, p, 1))
                goto nomem;
            if (p[1] == '^') {
                if (sb_add(&b, ++p, 1))
                    goto nomem;
            }
            if (p[1] == ']') {
                if (sb_add(&b, ++p, 1))
                    goto nomem;
            }
            continue;
        }
        if (*p == '(') {
            groups++;
            if (p[1] == '?') {
                const char *name = NULL;
                if (p[2] == 'P' && p[3] == '<')
                    name = p + 4;
                else if (p[2] == '<' && p[3] != '=' && p[3] != '!')
                    name = p + 3;
                else if (p[2] == ':')
                    p += 2; /* (?:...) becomes a plain group, counted like one */
                else {
                    snprintf(why, whylen, "\"(?%c\" is not supported (POSIX regex: use plain "
                             "groups and one named group (?P<broker>...))", p[2] ? p[2] : ' ');
                    goto fail;
                }
                if (name) {
                    const char *gt = strchr(name, '>');
                    if (!gt) {
                        snprintf(why, whylen, "unterminated group name");
                        goto fail;
                    }
                    if ((size_t)(gt - name) == 6 && strncmp(name, "broker", 6) == 0) {
                        if (found) {
                            snprintf(why, whylen, "the group broker is named twice");
                            goto fail;
                        }
                        found = groups;
                    }
                    p = gt;
                }
            }
            if (sb_add(&b, "(", 1))
                goto nomem;
            continue;
        }
        if (sb_add(&b, p, 1))
            goto nomem;
    }
    if (in_bracket) {
        snprintf(why, whylen, "unterminated bracket expression [");
        goto fail;
    }
    if (!found) {
        snprintf(why, whylen, "needs a named group for the broker id, e.g. "
                 "kafka-orders-b(?P<broker>[0-9]+)-.*");
        goto fail;
    }
    *group = found;
    return b.s;
nomem:
    snprintf(why, whylen, "out of memory");
fail:
    free(b.s);
    return NULL;
}
