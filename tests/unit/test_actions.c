/* tests/unit/test_actions.c: compile-time validation of every action kind's parameters,
 * with the exact errors a rule author sees. */
#include <stdio.h>

#include "kr/action.h"
#include "kr/doc.h"
#include "kr_test.h"

/* Parses `yaml` as {kind: params} and validates it through the registry. */
static int validate(const char *yaml, char *err, size_t errlen)
{
    kr_doc_t *d = kr_doc_parse("r.yaml", yaml, strlen(yaml), err, errlen);
    if (!d)
        return -100;
    json_t *root = kr_doc_root(d);
    const char *kind = NULL;
    json_t *params;
    void *iter = json_object_iter(root);
    kind = json_object_iter_key(iter);
    params = json_object_iter_value(iter);
    const kr_action_kind_t *k = kr_action_kind_find(kind);
    int rc = k ? k->validate(params, d, err, errlen) : -200;
    kr_doc_free(d);
    return rc;
}

KR_TEST(valid_parameters_pass)
{
    static const char *ok[] = {
        "log: {message: \"hi {{broker.id}}\"}",
        "log:",
        "page: {to: kafka-oncall, summary: \"Broker {{broker.id}} failed\", severity: critical}",
        "page: {to: [kafka-oncall, pd]}",
        "evacuate: {brokers: [\"{{broker.id}}\"], to: same-stack, throttle: 50MB/s}",
        "evacuate: {brokers: [3, 4], to: stack:green, max_moves_per_broker: 5, dry_run: true}",
        "evacuate: {brokers: [\"7\"], to: 1001-2000}",
        "drain_stack: {from: blue, to: green, throttle: 100MB/s}",
        "elect_leaders: {brokers: [\"{{broker.id}}\"]}",
        "mark_streams_reset: {apps: affected, to: incident-10m}",
        "mark_streams_reset: {apps: [orders-enricher], to: \"2026-11-24T10:00:00Z\"}",
        "mark_streams_reset: {apps: affected, to: earliest}",
        "exec: {argv: [/usr/local/bin/notify, \"{{broker.id}}\"], timeout: 30s}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char err[512] = "";
        CHECKF(validate(ok[i], err, sizeof err) == 0, "%s: %s", ok[i], err);
    }
}

KR_TEST(invalid_parameters_name_the_place)
{
    static const struct { const char *yaml, *err; } bad[] = {
        { "log: {mesage: hi}", "r.yaml:1:7: log: unknown parameter \"mesage\"; expected one of: message" },
        { "page: {summary: x}", "r.yaml:1:7: page: missing required parameter \"to\"" },
        { "page: {to: oncall, severity: sev1}", "r.yaml:1:30: page: severity must be one of: critical, error, warning, info" },
        { "page: {to: []}", "r.yaml:1:12: page: to must be a string or a non-empty list of strings" },
        { "evacuate: {brokers: 3}", "r.yaml:1:21: evacuate: brokers must be a non-empty list of broker ids, e.g. [\"{{broker.id}}\"] or [3, 4]" },
        { "evacuate: {brokers: [b3]}", "r.yaml:1:22: evacuate: brokers: item 1 must be a broker id (a number or a template such as \"{{broker.id}}\")" },
        { "evacuate: {brokers: [3], to: elsewhere}", "r.yaml:1:30: evacuate: to must be same-stack, any, stack:NAME or an id range such as 1001-2000" },
        { "evacuate: {brokers: [3], throttle: fast}", "r.yaml:1:36: evacuate: throttle: bad size \"fast\"; expected a number with an optional unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. 50MB" },
        { "evacuate: {brokers: [3], max_moves_per_broker: 0}", "r.yaml:1:48: evacuate: max_moves_per_broker must be an integer from 1 to 1000" },
        { "drain_stack: {from: blue}", "r.yaml:1:14: drain_stack: missing required parameter \"to\"" },
        { "mark_streams_reset: {apps: affected, to: yesterday}", "r.yaml:1:42: mark_streams_reset: to must be incident, incident-<duration> (e.g. incident-10m), an RFC 3339 time, earliest or latest" },
        { "exec: {argv: [notify]}", "r.yaml:1:15: exec: the program must be an absolute path (no PATH lookup)" },
        { "exec: {argv: /bin/true}", "r.yaml:1:14: exec: argv must be a non-empty list (program first; no shell is used)" },
        { "exec: {argv: [/bin/true], timeout: 5 minutes}", "r.yaml:1:36: exec: timeout: bad duration \"5 minutes\"; expected a number with a unit (ms, s, m, h, d, w), e.g. 30s, 5m, 1h30m, 1d" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        CHECK(validate(bad[i].yaml, err, sizeof err) != 0);
        CHECK_STR(err, bad[i].err);
    }
}

KR_TEST(registry_lists_every_kind)
{
    CHECK_STR(kr_action_kind_names(), "log, page, evacuate, drain_stack, elect_leaders, mark_streams_reset, exec");
    CHECK(kr_action_kind_find("evacuate")->kafka_changing);
    CHECK(!kr_action_kind_find("page")->kafka_changing);
    CHECK(kr_action_kind_find("reboot") == NULL);
}
