/* tests/unit/test_pattern.c: EventBridge event-pattern semantics, one table row per case
 * (pattern in YAML as SREs write it, event in JSON, expected match), and the exact
 * compile errors for bad patterns. Cases follow AWS's "Amazon EventBridge event patterns"
 * and "Content filtering" pages and Event Ruler's README. */
#include <stdlib.h>

#include "kr/doc.h"
#include "kr/pattern.h"
#include "kr_test.h"

typedef struct {
    const char *pattern; /* YAML */
    const char *event;   /* JSON */
    int want;
} match_case_t;

static void run_cases(const match_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char err[512] = "";
        kr_doc_t *doc = kr_doc_parse("p.yaml", cases[i].pattern, strlen(cases[i].pattern), err, sizeof err);
        CHECKF(doc != NULL, "case %zu: %s", i, err);
        if (!doc)
            continue;
        kr_pattern_t *p = kr_pattern_compile(kr_doc_root(doc), doc, err, sizeof err);
        CHECKF(p != NULL, "case %zu (%s): %s", i, cases[i].pattern, err);
        json_error_t jerr;
        json_t *ev = json_loads(cases[i].event, 0, &jerr);
        CHECKF(ev != NULL, "case %zu: bad event JSON: %s", i, jerr.text);
        if (p && ev) {
            int got = kr_pattern_match(p, ev);
            CHECKF(got == cases[i].want, "case %zu: pattern %s event %s: got %d want %d", i,
                   cases[i].pattern, cases[i].event, got, cases[i].want);
        }
        json_decref(ev);
        kr_pattern_free(p);
        kr_doc_free(doc);
    }
}

#define RUN(cases) run_cases(cases, sizeof cases / sizeof cases[0])

KR_TEST(exact_values_are_type_exact)
{
    static const match_case_t cases[] = {
        { "type: [instance.impaired]", "{\"type\":\"instance.impaired\"}", 1 },
        { "type: [instance.impaired]", "{\"type\":\"instance.stopping\"}", 0 },
        { "type: [instance.impaired]", "{\"type\":\"Instance.Impaired\"}", 0 },
        { "type: [instance.impaired]", "{}", 0 },
        /* a list means any of */
        { "type: [a, b, c]", "{\"type\":\"b\"}", 1 },
        { "type: [a, b, c]", "{\"type\":\"d\"}", 0 },
        /* a scalar is shorthand for a one-element list (kresponder extension) */
        { "type: instance.impaired", "{\"type\":\"instance.impaired\"}", 1 },
        { "broker.id: 3", "{\"broker\":{\"id\":3}}", 1 },
        /* string "3" is not number 3; numbers compare numerically */
        { "broker.id: [\"3\"]", "{\"broker\":{\"id\":3}}", 0 },
        { "broker.id: [3]", "{\"broker\":{\"id\":\"3\"}}", 0 },
        { "broker.id: [3]", "{\"broker\":{\"id\":3.0}}", 1 },
        { "broker.id: [3.0]", "{\"broker\":{\"id\":3}}", 1 },
        { "x: [301.8]", "{\"x\":3.018e2}", 1 },
        { "x: [1]", "{\"x\":true}", 0 },
        /* booleans, null and the empty string */
        { "x: [true]", "{\"x\":true}", 1 },
        { "x: [true]", "{\"x\":\"true\"}", 0 },
        { "x: [false]", "{\"x\":false}", 1 },
        { "x: [null]", "{\"x\":null}", 1 },
        { "x: [null]", "{}", 0 },
        { "x: [null]", "{\"x\":\"\"}", 0 },
        { "x: [\"\"]", "{\"x\":\"\"}", 1 },
        { "x: [\"\"]", "{\"x\":null}", 0 },
        /* several keys: all must match */
        { "{type: [a], state: [firing]}", "{\"type\":\"a\",\"state\":\"firing\"}", 1 },
        { "{type: [a], state: [firing]}", "{\"type\":\"a\",\"state\":\"resolved\"}", 0 },
    };
    RUN(cases);
}

KR_TEST(paths_nested_maps_and_dotted_keys)
{
    static const match_case_t cases[] = {
        { "broker: {id: [3]}", "{\"broker\":{\"id\":3}}", 1 },
        { "broker.id: [3]", "{\"broker\":{\"id\":3}}", 1 },
        { "broker.id: [3]", "{\"broker\":{\"id\":4}}", 0 },
        { "broker.id: [3]", "{\"broker\":3}", 0 },
        { "broker.id: [3]", "{\"broker.id\":3}", 0 },
        { "alarm.trigger.metric: [CPU]", "{\"alarm\":{\"trigger\":{\"metric\":\"CPU\"}}}", 1 },
        /* dotted and nested forms merge into one path tree */
        { "{broker.id: [3], broker: {rack: [r1]}}", "{\"broker\":{\"id\":3,\"rack\":\"r1\"}}", 1 },
        { "{broker.id: [3], broker: {rack: [r1]}}", "{\"broker\":{\"id\":3,\"rack\":\"r2\"}}", 0 },
        /* a leaf pattern against an object value does not match */
        { "broker: [3]", "{\"broker\":{\"id\":3}}", 0 },
    };
    RUN(cases);
}

KR_TEST(arrays_in_the_event)
{
    static const match_case_t cases[] = {
        /* any element matches */
        { "resources: [arn:b]", "{\"resources\":[\"arn:a\",\"arn:b\"]}", 1 },
        { "resources: [arn:c]", "{\"resources\":[\"arn:a\",\"arn:b\"]}", 0 },
        { "resources: [arn:c, arn:a]", "{\"resources\":[\"arn:a\",\"arn:b\"]}", 1 },
        { "resources: [arn:a]", "{\"resources\":[]}", 0 },
        { "n: [2]", "{\"n\":[[1],[2,3]]}", 1 },
        /* arrays of objects: the array is crushed out of the path ... */
        { "employees: {firstName: [Anna]}",
          "{\"employees\":[{\"firstName\":\"John\",\"lastName\":\"Doe\"},{\"firstName\":\"Anna\",\"lastName\":\"Smith\"}]}", 1 },
        /* ... but one element must satisfy the whole sub-pattern (rulesForJSONEvent) */
        { "employees: {firstName: [Anna], lastName: [Jones]}",
          "{\"employees\":[{\"firstName\":\"Anna\",\"lastName\":\"Smith\"},{\"firstName\":\"Peter\",\"lastName\":\"Jones\"}]}", 0 },
        { "employees: {firstName: [Anna], lastName: [Smith]}",
          "{\"employees\":[{\"firstName\":\"Anna\",\"lastName\":\"Smith\"},{\"firstName\":\"Peter\",\"lastName\":\"Jones\"}]}", 1 },
        { "employees.firstName: [Peter]",
          "{\"employees\":[[{\"firstName\":\"John\"}],[{\"firstName\":\"Peter\"}]]}", 1 },
    };
    RUN(cases);
}

KR_TEST(prefix_suffix_equals_ignore_case)
{
    static const match_case_t cases[] = {
        { "time: [{prefix: \"2017-10-02\"}]", "{\"time\":\"2017-10-02T18:43:48Z\"}", 1 },
        { "time: [{prefix: \"2017-10-02\"}]", "{\"time\":\"2017-10-03T18:43:48Z\"}", 0 },
        { "time: [{prefix: \"2017\"}]", "{\"time\":2017}", 0 },
        { "x: [{prefix: abc}]", "{\"x\":\"ab\"}", 0 },
        { "x: [{prefix: abc}]", "{\"x\":\"ABCd\"}", 0 },
        { "service: [{prefix: {equals-ignore-case: EventB}}]", "{\"service\":\"eventbridge\"}", 1 },
        { "service: [{prefix: {equals-ignore-case: EventB}}]", "{\"service\":\"EVENTBRIDGE\"}", 1 },
        { "service: [{prefix: {equals-ignore-case: EventB}}]", "{\"service\":\"event\"}", 0 },
        { "FileName: [{suffix: .png}]", "{\"FileName\":\"a.png\"}", 1 },
        { "FileName: [{suffix: .png}]", "{\"FileName\":\"a.PNG\"}", 0 },
        { "FileName: [{suffix: .png}]", "{\"FileName\":\"png\"}", 0 },
        { "FileName: [{suffix: {equals-ignore-case: .png}}]", "{\"FileName\":\"a.PNG\"}", 1 },
        { "FileName: [{suffix: {equals-ignore-case: .png}}]", "{\"FileName\":\"a.gif\"}", 0 },
        { "name: [{equals-ignore-case: alice}]", "{\"name\":\"ALICE\"}", 1 },
        { "name: [{equals-ignore-case: alice}]", "{\"name\":\"Alice\"}", 1 },
        { "name: [{equals-ignore-case: alice}]", "{\"name\":\"Alicia\"}", 0 },
        { "name: [{equals-ignore-case: alice}]", "{\"name\":1}", 0 },
        /* operators mix with values in one list */
        { "instance.id: [i-123, {prefix: i-0ab}]", "{\"instance\":{\"id\":\"i-0abc\"}}", 1 },
        { "instance.id: [i-123, {prefix: i-0ab}]", "{\"instance\":{\"id\":\"i-123\"}}", 1 },
        { "instance.id: [i-123, {prefix: i-0ab}]", "{\"instance\":{\"id\":\"i-999\"}}", 0 },
    };
    RUN(cases);
}

KR_TEST(wildcard)
{
    static const match_case_t cases[] = {
        { "source: [{wildcard: \"Simple*Service\"}]", "{\"source\":\"SimpleQueueService\"}", 1 },
        { "source: [{wildcard: \"Simple*Service\"}]", "{\"source\":\"SimpleService\"}", 1 },
        { "source: [{wildcard: \"Simple*Service\"}]", "{\"source\":\"SimpleQueueServices\"}", 0 },
        { "f: [{wildcard: \"*/lib/*\"}]", "{\"f\":\"/usr/lib/x.so\"}", 1 },
        { "f: [{wildcard: \"*/lib/*\"}]", "{\"f\":\"/usr/bin/x\"}", 0 },
        { "f: [{wildcard: \"a*b*c\"}]", "{\"f\":\"aXbYbZc\"}", 1 },
        { "f: [{wildcard: \"a*b*c\"}]", "{\"f\":\"aXcYb\"}", 0 },
        { "f: [{wildcard: \"*\"}]", "{\"f\":\"\"}", 1 },
        { "f: [{wildcard: \"*\"}]", "{\"f\":5}", 0 },
        { "f: [{wildcard: \"abc\"}]", "{\"f\":\"abc\"}", 1 },
        { "f: [{wildcard: \"abc\"}]", "{\"f\":\"abcd\"}", 0 },
        /* \* is a literal star, \\ a backslash */
        { "f: [{wildcard: \"a\\\\*b\"}]", "{\"f\":\"a*b\"}", 1 },
        { "f: [{wildcard: \"a\\\\*b\"}]", "{\"f\":\"axb\"}", 0 },
        { "f: [{wildcard: \"a\\\\\\\\b*\"}]", "{\"f\":\"a\\\\bcd\"}", 1 },
        /* case-sensitive */
        { "f: [{wildcard: \"i-*\"}]", "{\"f\":\"I-1\"}", 0 },
    };
    RUN(cases);
}

KR_TEST(anything_but)
{
    static const match_case_t cases[] = {
        { "state: [{anything-but: initializing}]", "{\"state\":\"running\"}", 1 },
        { "state: [{anything-but: initializing}]", "{\"state\":\"initializing\"}", 0 },
        /* a missing field does not match anything-but */
        { "state: [{anything-but: initializing}]", "{}", 0 },
        { "x-limit: [{anything-but: 123}]", "{\"x-limit\":124}", 1 },
        { "x-limit: [{anything-but: 123}]", "{\"x-limit\":123.0}", 0 },
        { "state: [{anything-but: [stopped, overloaded]}]", "{\"state\":\"overloaded\"}", 0 },
        { "state: [{anything-but: [stopped, overloaded]}]", "{\"state\":\"running\"}", 1 },
        { "x: [{anything-but: [100, 200, 300]}]", "{\"x\":200}", 0 },
        { "x: [{anything-but: [100, 200, 300]}]", "{\"x\":250}", 1 },
        /* type-exact: the number 3 is not the string "3" */
        { "x: [{anything-but: \"3\"}]", "{\"x\":3}", 1 },
        { "state: [{anything-but: {prefix: init}}]", "{\"state\":\"initializing\"}", 0 },
        { "state: [{anything-but: {prefix: init}}]", "{\"state\":\"running\"}", 1 },
        /* the string forms match only strings */
        { "state: [{anything-but: {prefix: init}}]", "{\"state\":5}", 0 },
        { "f: [{anything-but: {suffix: .png}}]", "{\"f\":\"a.png\"}", 0 },
        { "f: [{anything-but: {suffix: .png}}]", "{\"f\":\"a.jpg\"}", 1 },
        { "state: [{anything-but: {equals-ignore-case: initializing}}]", "{\"state\":\"INITIALIZING\"}", 0 },
        { "state: [{anything-but: {equals-ignore-case: [a, b]}}]", "{\"state\":\"B\"}", 0 },
        { "state: [{anything-but: {equals-ignore-case: [a, b]}}]", "{\"state\":\"c\"}", 1 },
        { "f: [{anything-but: {wildcard: \"*/lib/*\"}}]", "{\"f\":\"/usr/lib/x\"}", 0 },
        { "f: [{anything-but: {wildcard: \"*/lib/*\"}}]", "{\"f\":\"/usr/bin/x\"}", 1 },
        /* in an array, any element that is not excluded matches */
        { "s: [{anything-but: a}]", "{\"s\":[\"a\",\"b\"]}", 1 },
        { "s: [{anything-but: a}]", "{\"s\":[\"a\"]}", 0 },
    };
    RUN(cases);
}

KR_TEST(numeric)
{
    static const match_case_t cases[] = {
        { "c: [{numeric: [\">\", 0, \"<=\", 5]}]", "{\"c\":5}", 1 },
        { "c: [{numeric: [\">\", 0, \"<=\", 5]}]", "{\"c\":0}", 0 },
        { "c: [{numeric: [\">\", 0, \"<=\", 5]}]", "{\"c\":5.000001}", 0 },
        { "c: [{numeric: [\">\", 0, \"<=\", 5]}]", "{\"c\":0.5}", 1 },
        { "c: [{numeric: [\"<=\", 5, \">\", 0]}]", "{\"c\":3}", 1 },
        { "d: [{numeric: [\"<\", 10]}]", "{\"d\":9.99}", 1 },
        { "d: [{numeric: [\"<\", 10]}]", "{\"d\":10}", 0 },
        { "d: [{numeric: [\">=\", 10]}]", "{\"d\":10}", 1 },
        { "d: [{numeric: [\">=\", 10]}]", "{\"d\":-10}", 0 },
        { "x: [{numeric: [\"=\", 3.018e2]}]", "{\"x\":301.8}", 1 },
        { "x: [{numeric: [\"=\", 300]}]", "{\"x\":300.0}", 1 },
        { "x: [{numeric: [\"=\", 300]}]", "{\"x\":301}", 0 },
        /* only numbers match */
        { "d: [{numeric: [\"<\", 10]}]", "{\"d\":\"5\"}", 0 },
        { "d: [{numeric: [\"<\", 10]}]", "{\"d\":null}", 0 },
        { "d: [{numeric: [\"<\", 10]}]", "{}", 0 },
        { "d: [{numeric: [\"<\", 10]}]", "{\"d\":[20, 5]}", 1 },
    };
    RUN(cases);
}

KR_TEST(exists)
{
    static const match_case_t cases[] = {
        { "broker.id: [{exists: true}]", "{\"broker\":{\"id\":3}}", 1 },
        { "broker.id: [{exists: true}]", "{\"broker\":{\"id\":null}}", 1 },
        { "broker.id: [{exists: true}]", "{\"broker\":{}}", 0 },
        { "broker.id: [{exists: true}]", "{}", 0 },
        { "broker.id: [{exists: false}]", "{}", 1 },
        { "broker.id: [{exists: false}]", "{\"broker\":{\"host\":\"h\"}}", 1 },
        { "broker.id: [{exists: false}]", "{\"broker\":{\"id\":3}}", 0 },
        /* exists applies to leaf values: an object is not a leaf */
        { "detail.c-count: [{exists: false}]", "{\"detail\":{\"c-count\":{\"c1\":100}}}", 1 },
        { "detail.c-count: [{exists: true}]", "{\"detail\":{\"c-count\":{\"c1\":100}}}", 0 },
        { "detail.c-count: [{exists: false}]", "{\"detail\":5}", 1 },
        { "tags: [{exists: true}]", "{\"tags\":[]}", 0 },
        { "tags: [{exists: false}]", "{\"tags\":[]}", 1 },
        { "tags: [{exists: true}]", "{\"tags\":[\"a\"]}", 1 },
        /* exists: false next to a value: missing or that value */
        { "x: [{exists: false}, 7]", "{}", 1 },
        { "x: [{exists: false}, 7]", "{\"x\":7}", 1 },
        { "x: [{exists: false}, 7]", "{\"x\":8}", 0 },
    };
    RUN(cases);
}

KR_TEST(cidr)
{
    static const match_case_t cases[] = {
        { "ip: [{cidr: 10.0.0.0/24}]", "{\"ip\":\"10.0.0.33\"}", 1 },
        { "ip: [{cidr: 10.0.0.0/24}]", "{\"ip\":\"10.0.1.33\"}", 0 },
        { "ip: [{cidr: 10.0.0.0/8}]", "{\"ip\":\"10.200.3.4\"}", 1 },
        { "ip: [{cidr: 10.0.0.0/9}]", "{\"ip\":\"10.200.3.4\"}", 0 },
        { "ip: [{cidr: 10.0.0.5/32}]", "{\"ip\":\"10.0.0.5\"}", 1 },
        { "ip: [{cidr: 0.0.0.0/0}]", "{\"ip\":\"192.168.1.1\"}", 1 },
        { "ip: [{cidr: 10.0.0.0/24}]", "{\"ip\":\"not-an-ip\"}", 0 },
        { "ip: [{cidr: 10.0.0.0/24}]", "{\"ip\":167772161}", 0 },
        { "ip: [{cidr: 10.0.0.0/24}]", "{\"ip\":\"2001:db8::1\"}", 0 },
        { "ip: [{cidr: \"2001:db8::/32\"}]", "{\"ip\":\"2001:db8:ffff::1\"}", 1 },
        { "ip: [{cidr: \"2001:db8::/32\"}]", "{\"ip\":\"2001:db9::1\"}", 0 },
        { "ip: [{cidr: \"2001:db8::/33\"}]", "{\"ip\":\"2001:db8:8000::1\"}", 0 },
        { "ip: [{cidr: \"2001:db8::/33\"}]", "{\"ip\":\"2001:db8:7fff::1\"}", 1 },
    };
    RUN(cases);
}

KR_TEST(or_at_any_level)
{
    static const match_case_t cases[] = {
        { "{source: [aws.cloudwatch], $or: [{metricName: [CPU]}, {namespace: [AWS/EC2]}]}",
          "{\"source\":\"aws.cloudwatch\",\"namespace\":\"AWS/EC2\"}", 1 },
        { "{source: [aws.cloudwatch], $or: [{metricName: [CPU]}, {namespace: [AWS/EC2]}]}",
          "{\"source\":\"aws.cloudwatch\",\"namespace\":\"AWS/ES\"}", 0 },
        { "{source: [aws.cloudwatch], $or: [{metricName: [CPU]}, {namespace: [AWS/EC2]}]}",
          "{\"source\":\"aws.events\",\"metricName\":\"CPU\"}", 0 },
        /* $or inside a nested map: paths are relative to it */
        { "broker: {$or: [{id: [1]}, {host: [h2]}]}", "{\"broker\":{\"id\":2,\"host\":\"h2\"}}", 1 },
        { "broker: {$or: [{id: [1]}, {host: [h2]}]}", "{\"broker\":{\"id\":2,\"host\":\"h3\"}}", 0 },
        /* an alternative with an AND inside, and a nested $or */
        { "$or: [{a: [1]}, {b: [2], c: [3], $or: [{d: [4]}, {e: [5]}]}]", "{\"b\":2,\"c\":3,\"e\":5}", 1 },
        { "$or: [{a: [1]}, {b: [2], c: [3], $or: [{d: [4]}, {e: [5]}]}]", "{\"b\":2,\"c\":3,\"e\":6}", 0 },
        { "$or: [{a: [1]}, {b: [2], c: [3], $or: [{d: [4]}, {e: [5]}]}]", "{\"a\":1}", 1 },
        /* two parallel $or groups both must hold */
        { "{$or: [{a: [1]}, {b: [1]}], x: {$or: [{c: [1]}, {d: [1]}]}}", "{\"a\":1,\"x\":{\"d\":1}}", 1 },
        { "{$or: [{a: [1]}, {b: [1]}], x: {$or: [{c: [1]}, {d: [1]}]}}", "{\"a\":1,\"x\":{\"e\":1}}", 0 },
    };
    RUN(cases);
}

KR_TEST(not_an_object_never_matches)
{
    char err[256];
    kr_doc_t *doc = kr_doc_parse("p.yaml", "x: [{exists: false}]", 20, err, sizeof err);
    kr_pattern_t *p = kr_pattern_compile(kr_doc_root(doc), doc, err, sizeof err);
    CHECK(p != NULL);
    json_t *arr = json_array();
    CHECK_INT(kr_pattern_match(p, arr), 0);
    CHECK_INT(kr_pattern_match(p, NULL), 0);
    json_t *obj = json_object();
    CHECK_INT(kr_pattern_match(p, obj), 1);
    json_decref(obj);
    json_decref(arr);
    kr_pattern_free(p);
    kr_doc_free(doc);
}

KR_TEST(literal_strings_for_indexing)
{
    char err[256];
    const char *y = "{type: [instance.impaired, instance.stopping], source: [{prefix: aws.}], cluster: orders}";
    kr_doc_t *doc = kr_doc_parse("p.yaml", y, strlen(y), err, sizeof err);
    kr_pattern_t *p = kr_pattern_compile(kr_doc_root(doc), doc, err, sizeof err);
    CHECKF(p != NULL, "%s", err);
    size_t n = 0;
    const char *const *t = kr_pattern_literal_strings(p, "type", &n);
    CHECK(t != NULL);
    CHECK_INT(n, 2);
    if (t && n == 2) {
        CHECK_STR(t[0], "instance.impaired");
        CHECK_STR(t[1], "instance.stopping");
    }
    CHECK(kr_pattern_literal_strings(p, "source", &n) == NULL);
    CHECK(kr_pattern_literal_strings(p, "state", &n) == NULL);
    t = kr_pattern_literal_strings(p, "cluster", &n);
    CHECK(t != NULL && n == 1);
    kr_pattern_free(p);
    kr_doc_free(doc);
}

KR_TEST(compile_errors_name_line_col_and_what_was_expected)
{
    static const struct { const char *pattern, *err; } cases[] = {
        { "type: [{prefx: a}]",
          "p.yaml:1:9: unknown operator \"prefx\"; expected one of: prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr" },
        { "type: []",
          "p.yaml:1:7: empty list for \"type\"; expected at least one value or operator (an empty list matches nothing)" },
        { "type: [{prefix: a, suffix: b}]",
          "p.yaml:1:8: an operator is a map with exactly one key, like {prefix: \"i-\"}; this one has 2" },
        { "type: [{prefix: 3}]", "p.yaml:1:17: prefix expects a string or {equals-ignore-case: STRING}" },
        { "type: [{suffix: {equals-ignore-case: 3}}]",
          "p.yaml:1:17: suffix expects a string or {equals-ignore-case: STRING}" },
        { "type: [{equals-ignore-case: [a]}]", "p.yaml:1:29: equals-ignore-case expects a string" },
        { "x: [{exists: \"yes\"}]", "p.yaml:1:14: exists expects true or false" },
        { "x: [{numeric: [\">\", \"5\"]}]", "p.yaml:1:21: numeric: the operand of \">\" must be a number" },
        { "x: [{numeric: [\"~\", 5]}]",
          "p.yaml:1:16: numeric: unknown comparison \"~\"; expected one of <, <=, =, >=, >" },
        { "x: [{numeric: [\">\", 5, \">\", 6]}]",
          "p.yaml:1:24: numeric: two lower bounds; give one of > or >= and one of < or <=" },
        { "x: [{numeric: [\">\", 5, \"<\", 1]}]",
          "p.yaml:1:15: numeric: the range is empty (lower bound above upper bound)" },
        { "x: [{numeric: 5}]",
          "p.yaml:1:15: numeric expects a list of one or two comparisons like [\">\", 0, \"<=\", 5] or [\"=\", 3] (operators <, <=, =, >=, >; operands numbers)" },
        { "x: [{numeric: [\"=\", 5, \"<\", 6]}]",
          "p.yaml:1:16: numeric: \"=\" cannot be combined with another bound" },
        { "x: [{cidr: 10.0.0.0/33}]",
          "p.yaml:1:12: cidr expects an IPv4 or IPv6 block like \"10.0.0.0/24\" or \"2001:db8::/32\"; got \"10.0.0.0/33\"" },
        { "x: [{cidr: 10.0.0.1}]",
          "p.yaml:1:12: cidr expects an IPv4 or IPv6 block like \"10.0.0.0/24\" or \"2001:db8::/32\"; got \"10.0.0.1\"" },
        { "x: [{wildcard: \"a**b\"}]",
          "p.yaml:1:16: wildcard \"a**b\" has consecutive \"*\"; one \"*\" already matches any run of characters" },
        { "x: [{wildcard: \"a\\\\qb\"}]",
          "p.yaml:1:16: wildcard \"a\\qb\": a backslash may only escape \"*\" or \"\\\" (write \\* for a literal star)" },
        { "x: [{anything-but: [a, 1]}]", "p.yaml:1:24: anything-but: a list must hold only strings or only numbers" },
        { "x: [{anything-but: []}]", "p.yaml:1:20: anything-but: empty list; expected at least one value" },
        { "x: [{anything-but: {numeric: [\">\", 1]}}]",
          "p.yaml:1:20: anything-but expects a value, a list of strings or of numbers, or a map with one of prefix, suffix, equals-ignore-case, wildcard" },
        { "x: [{anything-but: {prefix: 1}}]", "p.yaml:1:29: anything-but: prefix expects a string or a list of strings" },
        { "x: [[a]]", "p.yaml:1:5: a list of alternatives cannot contain a list; write the values side by side" },
        { "x: {exists: true}",
          "p.yaml:1:4: an operator must be inside a list: write x: [{exists: ...}] (a map here would be a nested path)" },
        { "x: {}", "p.yaml:1:4: empty map for \"x\"; expected a list of values or a nested pattern" },
        { "$or: [{a: [1]}]",
          "p.yaml:1:6: $or expects a list of at least two patterns (maps), like [{type: [a]}, {alarm.name: [b]}]" },
        { "$or: [{a: [1]}, 3]", "p.yaml:1:17: $or: each alternative must be a non-empty pattern map" },
        { "$and: [{a: [1]}, {b: [1]}]", "p.yaml:1:1: unknown key \"$and\"; the only $-key is $or" },
        { "broker..id: [1]", "p.yaml:1:1: bad path \"broker..id\": empty segment between dots" },
        { "[a]",
          "p.yaml:1:1: a pattern must be a non-empty map of field paths to values, like {type: [instance.impaired]}" },
        { "x:\n  y:\n    - prefix: a\n      suffix: b\n",
          "p.yaml:3:7: an operator is a map with exactly one key, like {prefix: \"i-\"}; this one has 2" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        kr_doc_t *doc = kr_doc_parse("p.yaml", cases[i].pattern, strlen(cases[i].pattern), err, sizeof err);
        CHECKF(doc != NULL, "case %zu: %s", i, err);
        if (!doc)
            continue;
        kr_pattern_t *p = kr_pattern_compile(kr_doc_root(doc), doc, err, sizeof err);
        CHECKF(p == NULL, "case %zu compiled: %s", i, cases[i].pattern);
        CHECK_STR(err, cases[i].err);
        kr_pattern_free(p);
        kr_doc_free(doc);
    }
}
