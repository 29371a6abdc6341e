/* tests/unit/test_doc.c: YAML → JSON with positions. */
#include <stdlib.h>

#include "kr/doc.h"
#include "kr_test.h"

static kr_doc_t *parse(const char *s, char *err, size_t errlen)
{
    return kr_doc_parse("t.yaml", s, strlen(s), err, errlen);
}

KR_TEST(scalars_follow_core_schema)
{
    char err[256] = "";
    kr_doc_t *d = parse("a: 1\nb: -2\nc: 1.5\nd: true\ne: ~\nf: \"1\"\ng: yes\nh: 0x1f\ni: 1e3\nj: 1.2.3\n",
                        err, sizeof err);
    CHECKF(d != NULL, "%s", err);
    if (!d)
        return;
    json_t *want = json_loads("{\"a\":1,\"b\":-2,\"c\":1.5,\"d\":true,\"e\":null,\"f\":\"1\","
                              "\"g\":\"yes\",\"h\":31,\"i\":1000.0,\"j\":\"1.2.3\"}", 0, NULL);
    CHECK_JSON(kr_doc_root(d), want);
    json_decref(want);
    kr_doc_free(d);
}

KR_TEST(positions_of_keys_values_items)
{
    char err[256] = "";
    kr_doc_t *d = parse("rules:\n  - name: x\n    enabled: false\n  - name: y\n", err, sizeof err);
    CHECK(d != NULL);
    if (!d)
        return;
    json_t *root = kr_doc_root(d), *rules = json_object_get(root, "rules");
    json_t *r0 = json_array_get(rules, 0);
    int line, col;
    CHECK_INT(kr_doc_key_pos(d, root, "rules", &line, &col), 0);
    CHECK_INT(line, 1);
    CHECK_INT(col, 1);
    CHECK_INT(kr_doc_item_pos(d, rules, 1, &line, &col), 0);
    CHECK_INT(line, 4);
    CHECK_INT(col, 5);
    CHECK_INT(kr_doc_member_pos(d, r0, "enabled", &line, &col), 0);
    CHECK_INT(line, 3);
    CHECK_INT(col, 14);
    CHECK_INT(kr_doc_pos(d, json_object_get(r0, "name"), &line, &col), 0);
    CHECK_INT(line, 2);
    CHECK_INT(col, 11);
    kr_doc_member_errf(d, r0, "enabled", err, sizeof err, "expected %s", "a string");
    CHECK_STR(err, "t.yaml:3:14: expected a string");
    kr_doc_free(d);
}

KR_TEST(errors_name_file_line_col)
{
    static const struct { const char *in, *err; } cases[] = {
        { "a: 1\na: 2\n", "t.yaml:2:1: duplicate key \"a\"" },
        { "a: [1, 2\n", "t.yaml:2:1: did not find expected ',' or ']' while parsing a flow sequence" },
        { "a: 1\n---\nb: 2\n", "t.yaml:3:1: more than one YAML document in one file; put each in its own file or make a list" },
        { "? [a]\n: 1\n", "t.yaml:1:3: mapping keys must be plain strings" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        kr_doc_t *d = parse(cases[i].in, err, sizeof err);
        CHECK(d == NULL);
        CHECK_STR(err, cases[i].err);
        kr_doc_free(d);
    }
}

KR_TEST(json_input_and_aliases)
{
    char err[256] = "";
    kr_doc_t *d = parse("{\"x\": [1, {\"y\": \"z\"}], \"n\": null}", err, sizeof err);
    CHECKF(d != NULL, "%s", err);
    json_t *want = json_loads("{\"x\":[1,{\"y\":\"z\"}],\"n\":null}", 0, NULL);
    if (d)
        CHECK_JSON(kr_doc_root(d), want);
    json_decref(want);
    kr_doc_free(d);
    d = parse("base: &b {k: 1}\nother: *b\n", err, sizeof err);
    CHECKF(d != NULL, "%s", err);
    if (d)
        CHECK_INT(json_integer_value(json_object_get(json_object_get(kr_doc_root(d), "other"), "k")), 1);
    kr_doc_free(d);
}

KR_TEST(empty_document_is_null)
{
    char err[256];
    kr_doc_t *d = parse("# only a comment\n", err, sizeof err);
    CHECK(d != NULL);
    CHECK(d && json_is_null(kr_doc_root(d)));
    kr_doc_free(d);
}
