/* tests/unit/test_rules.c: rule sets: the golden cases under tests/golden/rules (match
 * output and exact error lines), the type/source index against brute force, incident
 * keys, resolution, accessors, and the shipped rules/ directory. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kr/doc.h"
#include "kr/pattern.h"
#include "kr/rules.h"
#include "kr_test.h"

#define ERRLEN 65536

static kr_ruleset_t *parse(const char *yaml, char *err)
{
    return kr_ruleset_parse("r.yaml", yaml, strlen(yaml), err, ERRLEN);
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    CHECKF(j != NULL, "%s: %s", path, e.text);
    return j;
}

KR_TEST(golden_match_cases)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", kr_test_path("tests/golden/rules/match"));
    DIR *d = opendir(dir);
    struct dirent *de;
    int cases = 0;
    CHECKF(d != NULL, "%s", dir);
    while (d && (de = readdir(d)) != NULL) {
        char rules[4500], event[4500], expected[4500];
        if (de->d_name[0] == '.')
            continue;
        char *err = calloc(1, ERRLEN);
        snprintf(rules, sizeof rules, "%s/%s/rules.yaml", dir, de->d_name);
        snprintf(event, sizeof event, "%s/%s/event.json", dir, de->d_name);
        snprintf(expected, sizeof expected, "%s/%s/expected.json", dir, de->d_name);
        kr_ruleset_t *rs = kr_ruleset_load(rules, err, ERRLEN);
        CHECKF(rs != NULL, "%s: %s", de->d_name, err);
        json_t *ev = load_json(event), *want = load_json(expected), *got = json_array();
        if (rs && ev && want) {
            if (json_is_object(ev)) {
                json_array_append_new(got, kr_ruleset_explain(rs, ev));
            } else {
                for (size_t i = 0; i < json_array_size(ev); i++)
                    json_array_append_new(got, kr_ruleset_explain(rs, json_array_get(ev, i)));
            }
            CHECK_JSON(got, want);
            cases++;
        }
        json_decref(got);
        json_decref(want);
        json_decref(ev);
        kr_ruleset_decref(rs);
        free(err);
    }
    if (d)
        closedir(d);
    CHECKF(cases >= 3, "only %d golden match cases ran", cases);
}

KR_TEST(golden_error_cases)
{
    char dir[4096], cwd[4096];
    snprintf(dir, sizeof dir, "%s", kr_test_path("tests/golden/rules/errors"));
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_INT(chdir(dir), 0); /* error lines name files relative to errors/ */
    DIR *d = opendir(".");
    struct dirent *de;
    int cases = 0;
    while (d && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".err") != 0)
            continue;
        char base[256], input[300];
        struct stat st;
        snprintf(base, sizeof base, "%.*s", (int)(n - 4), de->d_name);
        snprintf(input, sizeof input, "%s.yaml", base);
        if (stat(input, &st) != 0)
            snprintf(input, sizeof input, "%s", base); /* a directory case */
        char *want = kr_test_read(de->d_name, NULL), *err = calloc(1, ERRLEN);
        kr_ruleset_t *rs = kr_ruleset_load(input, err, ERRLEN);
        CHECKF(rs == NULL, "%s loaded", input);
        if (want) {
            size_t wl = strlen(want);
            if (wl && want[wl - 1] == '\n')
                want[wl - 1] = 0;
            CHECK_STR(err, want);
        }
        cases++;
        kr_ruleset_decref(rs);
        free(want);
        free(err);
    }
    if (d)
        closedir(d);
    CHECK_INT(chdir(cwd), 0);
    CHECKF(cases >= 7, "only %d golden error cases ran", cases);
}

KR_TEST(errors_are_all_collected_and_truncated_by_whole_lines)
{
    char *big = calloc(1, 1 << 16), *err = calloc(1, ERRLEN);
    size_t n = 0;
    for (int i = 0; i < 50; i++)
        n += (size_t)sprintf(big + n, "- name: r%d\n  match: {type: [{prefx: a}]}\n", i);
    kr_ruleset_t *rs = parse(big, err);
    CHECK(rs == NULL);
    int lines = 0;
    for (char *p = err; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    CHECK_INT(lines, 49); /* 50 errors, 49 newlines between them */
    CHECK(strstr(err, "r.yaml:100:19: unknown operator \"prefx\"") != NULL);
    /* a small buffer keeps whole lines and says how many were left out */
    char small[400];
    rs = kr_ruleset_parse("r.yaml", big, n, small, sizeof small);
    CHECK(rs == NULL);
    CHECKF(strstr(small, "more errors") != NULL, "%s", small);
    CHECK(strncmp(small, "r.yaml:2:19: unknown operator", 29) == 0);
    free(big);
    free(err);
}

KR_TEST(accessors_and_defaults)
{
    char *err = calloc(1, ERRLEN);
    kr_ruleset_t *rs = parse("- name: a\n  description: d\n  match: {type: [x]}\n  for: 3m\n  cooldown: 6h\n"
                             "  dry_run: true\n  actions:\n    - log: {message: \"m {{broker.id}}\"}\n    - log\n"
                             "- name: b\n  enabled: false\n  match: {type: [x]}\n  group_by: [labels.alertname]\n",
                             err);
    CHECKF(rs != NULL, "%s", err);
    if (!rs) {
        free(err);
        return;
    }
    CHECK_INT(kr_ruleset_count(rs), 2);
    CHECK_INT(kr_ruleset_nfiles(rs), 1);
    const kr_rule_t *a = kr_ruleset_find(rs, "a"), *b = kr_ruleset_rule(rs, 1);
    CHECK(a == kr_ruleset_rule(rs, 0));
    CHECK(kr_ruleset_find(rs, "zz") == NULL);
    CHECK_STR(kr_rule_name(a), "a");
    CHECK_STR(kr_rule_description(a), "d");
    CHECK_STR(kr_rule_description(b), "");
    CHECK_INT(kr_rule_for_ms(a), 180000);
    CHECK_INT(kr_rule_cooldown_ms(a), 6 * 3600000LL);
    CHECK_INT(kr_rule_for_ms(b), 0);
    CHECK_INT(kr_rule_dry_run(a), 1);
    CHECK_INT(kr_rule_enabled(a), 1);
    CHECK_INT(kr_rule_enabled(b), 0);
    CHECK_INT(kr_rule_nactions(a), 2);
    CHECK_STR(kr_rule_action_kind(a, 1), "log");
    CHECK(json_is_null(kr_rule_action_params(a, 1)));
    CHECK_STR(json_string_value(json_object_get(kr_rule_action_params(a, 0), "message")), "m {{broker.id}}");
    CHECK_STR(kr_rule_file(a), "r.yaml");
    CHECK_INT(kr_rule_line(a), 1);
    CHECK_INT(kr_rule_line(b), 10);
    json_t *want = json_pack("[ss]", "cluster", "broker.id");
    CHECK_JSON(kr_rule_group_by(a), want);
    json_decref(want);
    /* refcounting: the set outlives the first reference */
    kr_ruleset_incref(rs);
    kr_ruleset_decref(rs);
    CHECK_STR(kr_rule_name(kr_ruleset_rule(rs, 0)), "a");
    kr_ruleset_decref(rs);
    free(err);
}

static int collect_cb(const kr_rule_t *r, void *arg)
{
    json_array_append_new((json_t *)arg, json_string(kr_rule_name(r)));
    return 0;
}

static int stop_cb(const kr_rule_t *r, void *arg)
{
    (*(int *)arg)++;
    return 1;
}

KR_TEST(disabled_rules_never_match_and_cb_can_stop)
{
    char *err = calloc(1, ERRLEN);
    kr_ruleset_t *rs = parse("- {name: a, match: {type: [x]}}\n- {name: b, enabled: false, match: {type: [x]}}\n"
                             "- {name: c, match: {state: [firing]}}\n- {name: d, match: {source: [s]}}\n", err);
    CHECKF(rs != NULL, "%s", err);
    json_t *ev = json_loads("{\"type\":\"x\",\"source\":\"s\",\"state\":\"firing\"}", 0, NULL);
    json_t *got = json_array(), *want = json_pack("[sss]", "a", "c", "d");
    CHECK_INT(kr_ruleset_match(rs, ev, collect_cb, got), 3);
    CHECK_JSON(got, want);
    int calls = 0;
    CHECK_INT(kr_ruleset_match(rs, ev, stop_cb, &calls), 1);
    CHECK_INT(calls, 1);
    json_decref(got);
    json_decref(want);
    json_decref(ev);
    kr_ruleset_decref(rs);
    free(err);
}

static unsigned rnd(unsigned *seed, unsigned m)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) % m;
}

/* The index must never change the answer: compare with matching every rule's pattern. */
KR_TEST(index_matches_brute_force)
{
    static const char *types[] = { "a", "b", "c", "d" }, *sources[] = { "s1", "s2", "s3" };
    char *yaml = calloc(1, 1 << 20), *err = calloc(1, ERRLEN);
    char pats[300][200];
    size_t n = 0;
    unsigned seed = 12345;
#define RND(m) rnd(&seed, m)
    for (int i = 0; i < 300; i++) {
        switch (RND(6)) {
        case 0: snprintf(pats[i], sizeof pats[i], "{type: [%s, %s]}", types[RND(4)], types[RND(4)]); break;
        case 1: snprintf(pats[i], sizeof pats[i], "{type: %s, cluster: [c%u]}", types[RND(4)], RND(2)); break;
        case 2: snprintf(pats[i], sizeof pats[i], "{source: [%s]}", sources[RND(3)]); break;
        case 3: snprintf(pats[i], sizeof pats[i], "{source: [%s], type: [{prefix: %s}]}", sources[RND(3)], types[RND(4)]); break;
        case 4: snprintf(pats[i], sizeof pats[i], "{cluster: [c%u]}", RND(2)); break;
        default: snprintf(pats[i], sizeof pats[i], "{$or: [{type: [%s]}, {source: [%s]}]}", types[RND(4)], sources[RND(3)]); break;
        }
        n += (size_t)sprintf(yaml + n, "- name: r%d\n  enabled: %s\n  match: %s\n", i, RND(10) ? "true" : "false", pats[i]);
    }
    kr_ruleset_t *rs = kr_ruleset_parse("gen.yaml", yaml, n, err, ERRLEN);
    CHECKF(rs != NULL, "%s", err);
    kr_pattern_t *compiled[300];
    for (int i = 0; i < 300; i++) {
        kr_doc_t *doc = kr_doc_parse("p", pats[i], strlen(pats[i]), err, ERRLEN);
        compiled[i] = kr_pattern_compile(kr_doc_root(doc), doc, err, ERRLEN);
        kr_doc_free(doc);
    }
    int mismatches = 0, total = 0;
    for (int e = 0; e < 200 && rs; e++) {
        json_t *ev = json_object();
        if (RND(5))
            json_object_set_new(ev, "type", json_string(types[RND(4)]));
        else if (RND(2))
            json_object_set_new(ev, "type", json_pack("[s]", types[RND(4)])); /* not a string: full scan */
        if (RND(4))
            json_object_set_new(ev, "source", json_string(sources[RND(3)]));
        json_object_set_new(ev, "cluster", json_sprintf("c%u", RND(2)));
        json_t *got = json_array(), *want = json_array();
        kr_ruleset_match(rs, ev, collect_cb, got);
        for (int i = 0; i < 300; i++)
            if (kr_rule_enabled(kr_ruleset_rule(rs, (size_t)i)) && kr_pattern_match(compiled[i], ev))
                json_array_append_new(want, json_sprintf("r%d", i));
        if (!json_equal(got, want))
            mismatches++;
        total += (int)json_array_size(want);
        json_decref(got);
        json_decref(want);
        json_decref(ev);
    }
    CHECK_INT(mismatches, 0);
    CHECKF(total > 200, "the generated events should match many rules (%d)", total);
    for (int i = 0; i < 300; i++)
        kr_pattern_free(compiled[i]);
    kr_ruleset_decref(rs);
    free(yaml);
    free(err);
}

KR_TEST(incident_keys)
{
    char *err = calloc(1, ERRLEN), buf[256], tiny[16];
    kr_ruleset_t *rs = parse("- {name: r, match: {type: [x]}}\n"
                             "- {name: g, match: {type: [x]}, group_by: [labels.alertname, broker.id]}\n"
                             "- {name: one, match: {type: [x]}, group_by: []}\n", err);
    CHECKF(rs != NULL, "%s", err);
    const kr_rule_t *r = kr_ruleset_find(rs, "r"), *g = kr_ruleset_find(rs, "g"), *one = kr_ruleset_find(rs, "one");
    json_t *e1 = json_loads("{\"cluster\":\"orders-prod\",\"broker\":{\"id\":3},\"instance\":{\"id\":\"i-1\"}}", 0, NULL);
    json_t *e2 = json_loads("{\"cluster\":\"orders-prod\",\"instance\":{\"id\":\"i-1\"}}", 0, NULL);
    json_t *e3 = json_loads("{\"labels\":{\"alertname\":\"UnderReplicatedPartitions\"}}", 0, NULL);
    CHECK_INT(kr_rule_incident_key(r, e1, buf, sizeof buf), 0);
    CHECK_STR(buf, "r|cluster=orders-prod|broker.id=3");
    CHECK_INT(kr_rule_incident_key(r, e2, buf, sizeof buf), 0);
    CHECK_STR(buf, "r|cluster=orders-prod|instance.id=i-1");
    CHECK_INT(kr_rule_incident_key(g, e3, buf, sizeof buf), 0);
    CHECK_STR(buf, "g|labels.alertname=UnderReplicatedPartitions|broker.id="); /* no fallback */
    CHECK_INT(kr_rule_incident_key(one, e1, buf, sizeof buf), 0);
    CHECK_STR(buf, "one");
    CHECK_INT(kr_rule_incident_key(r, e1, tiny, sizeof tiny), -1);
    CHECK_STR(tiny, "r|cluster=order");
    json_t *gv = kr_rule_group_values(r, e2), *want = json_loads("{\"cluster\":\"orders-prod\",\"instance.id\":\"i-1\"}", 0, NULL);
    CHECK_JSON(gv, want);
    json_decref(gv);
    json_decref(want);
    json_decref(e1);
    json_decref(e2);
    json_decref(e3);
    kr_ruleset_decref(rs);
    free(err);
}

KR_TEST(resolution_default_and_custom)
{
    char *err = calloc(1, ERRLEN);
    kr_ruleset_t *rs = parse("- {name: d, match: {type: [instance.impaired]}}\n"
                             "- {name: c, match: {type: [broker.left]}, resolve: {type: [broker.joined]}}\n", err);
    CHECKF(rs != NULL, "%s", err);
    const kr_rule_t *d = kr_ruleset_find(rs, "d"), *c = kr_ruleset_find(rs, "c");
    json_t *first = json_loads("{\"source\":\"aws.sns\",\"type\":\"instance.impaired\",\"state\":\"firing\",\"cluster\":\"k\",\"broker\":{\"id\":3}}", 0, NULL);
    static const struct { const char *ev; int d, c; } cases[] = {
        { "{\"source\":\"aws.sns\",\"type\":\"instance.impaired\",\"state\":\"resolved\",\"cluster\":\"k\",\"broker\":{\"id\":3}}", 1, 0 },
        /* the same source and key resolve by default, whatever the type */
        { "{\"source\":\"aws.sns\",\"type\":\"alarm\",\"state\":\"resolved\",\"cluster\":\"k\",\"broker\":{\"id\":3}}", 1, 0 },
        { "{\"source\":\"aws.sns\",\"type\":\"instance.impaired\",\"state\":\"firing\",\"cluster\":\"k\",\"broker\":{\"id\":3}}", 0, 0 },
        { "{\"source\":\"alertmanager\",\"type\":\"instance.impaired\",\"state\":\"resolved\",\"cluster\":\"k\",\"broker\":{\"id\":3}}", 0, 0 },
        { "{\"source\":\"aws.sns\",\"type\":\"instance.impaired\",\"state\":\"resolved\",\"cluster\":\"k\",\"broker\":{\"id\":4}}", 0, 0 },
        { "{\"source\":\"aws.sns\",\"type\":\"instance.impaired\",\"state\":\"resolved\",\"cluster\":\"j\",\"broker\":{\"id\":3}}", 0, 0 },
        /* a custom resolve pattern, still for the same key */
        { "{\"source\":\"zookeeper\",\"type\":\"broker.joined\",\"state\":\"firing\",\"cluster\":\"k\",\"broker\":{\"id\":3}}", 0, 1 },
        { "{\"source\":\"zookeeper\",\"type\":\"broker.joined\",\"state\":\"firing\",\"cluster\":\"k\",\"broker\":{\"id\":5}}", 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *ev = json_loads(cases[i].ev, 0, NULL);
        CHECKF(kr_rule_resolves(d, first, ev) == cases[i].d, "case %zu default", i);
        CHECKF(kr_rule_resolves(c, first, ev) == cases[i].c, "case %zu custom", i);
        json_decref(ev);
    }
    json_decref(first);
    kr_ruleset_decref(rs);
    free(err);
}

KR_TEST(context_has_the_incident)
{
    char *err = calloc(1, ERRLEN);
    kr_ruleset_t *rs = parse("{name: r, match: {type: [x]}}", err);
    CHECKF(rs != NULL, "%s", err);
    json_t *ev = json_loads("{\"type\":\"x\",\"cluster\":\"k\",\"broker\":{\"id\":1}}", 0, NULL);
    json_t *ctx = kr_rule_context(kr_ruleset_rule(rs, 0), ev, "inc-00000001", 1795000000000LL);
    json_t *want = json_loads("{\"type\":\"x\",\"cluster\":\"k\",\"broker\":{\"id\":1},\"incident\":{\"id\":\"inc-00000001\","
                              "\"key\":\"r|cluster=k|broker.id=1\",\"rule\":\"r\",\"started\":\"2026-11-18T11:06:40.000Z\"}}", 0, NULL);
    CHECK_JSON(ctx, want);
    CHECK(json_object_get(ev, "incident") == NULL); /* the event is not modified */
    json_decref(ctx);
    json_decref(want);
    json_decref(ev);
    kr_ruleset_decref(rs);
    free(err);
}

KR_TEST(directory_loading_sorted_and_empty)
{
    char tmpl[] = "/tmp/kr-rules-XXXXXX";
    char *dir = mkdtemp(tmpl), path[300], *err = calloc(1, ERRLEN);
    CHECK(dir != NULL);
    static const struct { const char *name, *body; } files[] = {
        { "b.yml", "- {name: from-b, match: {type: [x]}}\n" },
        { "a.json", "{\"name\": \"from-a\", \"match\": {\"type\": [\"x\"]}}" },
        { "c.yaml", "" },
        { ".hidden.yaml", "nonsense: [" },
        { "README.md", "not rules" },
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        FILE *f = fopen(path, "w");
        fputs(files[i].body, f);
        fclose(f);
    }
    kr_ruleset_t *rs = kr_ruleset_load(dir, err, ERRLEN);
    CHECKF(rs != NULL, "%s", err);
    CHECK_INT(kr_ruleset_count(rs), 2);
    CHECK_INT(kr_ruleset_nfiles(rs), 3);
    CHECK_STR(kr_rule_name(kr_ruleset_rule(rs, 0)), "from-a");
    CHECK_STR(kr_rule_name(kr_ruleset_rule(rs, 1)), "from-b");
    kr_ruleset_decref(rs);
    CHECK(kr_ruleset_load("/nonexistent/rules", err, ERRLEN) == NULL);
    CHECK_STR(err, "/nonexistent/rules: cannot read rules: No such file or directory");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        unlink(path);
    }
    rmdir(dir);
    free(err);
}

/* The shipped examples must always compile against the real action registry. */
KR_TEST(shipped_rules_compile)
{
    char *err = calloc(1, ERRLEN);
    kr_ruleset_t *rs = kr_ruleset_load(kr_test_path("rules"), err, ERRLEN);
    CHECKF(rs != NULL, "%s", err);
    CHECK_INT(kr_ruleset_count(rs), 7);
    CHECK_INT(kr_ruleset_nfiles(rs), 3);
    /* spot-check that they match what they are for */
    json_t *ev = json_loads("{\"source\":\"zookeeper\",\"type\":\"broker.left\",\"state\":\"firing\","
                            "\"cluster\":\"orders-prod\",\"broker\":{\"id\":1004}}", 0, NULL);
    json_t *got = json_array(), *want = json_pack("[ss]", "page-on-broker-left", "evacuate-on-broker-left");
    kr_ruleset_match(rs, ev, collect_cb, got);
    CHECK_JSON(got, want);
    const kr_rule_t *r = kr_ruleset_find(rs, "evacuate-on-ec2-status-check");
    CHECK(r != NULL && kr_rule_for_ms(r) == 180000);
    json_decref(got);
    json_decref(want);
    json_decref(ev);
    kr_ruleset_decref(rs);
    free(err);
}
