/* tests/unit/test_template.c: {{path}} templates: rendering rules, static path checks,
 * and rendering whole action parameter trees. */
#include <stdlib.h>

#include "kr/doc.h"
#include "kr/template.h"
#include "kr_test.h"

static const char *ctx_json =
    "{\"id\":\"eb:1\",\"source\":\"aws.events\",\"type\":\"instance.impaired\",\"cluster\":\"orders-prod\","
    "\"broker\":{\"id\":1003,\"host\":\"b3.internal\",\"rack\":\"apne2-az1\",\"load\":0.5,\"up\":true,"
    "\"tags\":[\"a\",\"b\"]},"
    "\"instance\":{\"id\":\"i-0abc\"},\"alarm\":{\"name\":\"sc-1003\",\"state\":null},"
    "\"raw\":{\"Records\":[{\"Sns\":{\"MessageId\":\"m-1\"}}]},"
    "\"incident\":{\"id\":\"inc-0000abcd\",\"key\":\"r|cluster=orders-prod|broker.id=1003\",\"rule\":\"r\"}}";

KR_TEST(render_values)
{
    static const struct { const char *src, *want; } cases[] = {
        { "Broker {{broker.id}} ({{instance.id}}) failed", "Broker 1003 (i-0abc) failed" },
        { "{{ broker.id }}", "1003" },
        { "no paths at all", "no paths at all" },
        { "", "" },
        { "{{alarm.name}}/{{cluster}}", "sc-1003/orders-prod" },
        { "load={{broker.load}} up={{broker.up}}", "load=0.5 up=true" },
        { "tags={{broker.tags}}", "tags=[\"a\",\"b\"]" },
        { "[{{alarm.state}}]", "[]" },                 /* null renders "" */
        { "[{{broker.nope}}]", "[]" },                 /* unknown sub-path renders "" */
        { "[{{health.event_type_code}}]", "[]" },      /* known root, absent in this event */
        { "{{raw.Records.0.Sns.MessageId}}", "m-1" },  /* numeric segment indexes arrays */
        { "{{incident.id}} {{incident.key}}", "inc-0000abcd r|cluster=orders-prod|broker.id=1003" },
        { "a }} b", "a }} b" },
    };
    json_t *ctx = json_loads(ctx_json, 0, NULL);
    CHECK(ctx != NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        kr_template_t *t = kr_template_compile(cases[i].src, err, sizeof err);
        CHECKF(t != NULL, "%s: %s", cases[i].src, err);
        if (!t)
            continue;
        char *got = kr_template_render(t, ctx);
        CHECK_STR(got, cases[i].want);
        free(got);
        kr_template_free(t);
    }
    json_decref(ctx);
}

KR_TEST(compile_errors)
{
    static const struct { const char *src, *err; } cases[] = {
        { "Broker {{brokr.id}}",
          "unknown field \"brokr\" in {{brokr.id}}; expected one of: id, source, type, state, time, cluster, broker, instance, alarm, health, labels, annotations, alert, host, message, raw, incident" },
        { "{{incident.owner}}",
          "unknown field \"incident.owner\" in {{incident.owner}}; expected one of: incident.id, incident.key, incident.rule, incident.started" },
        { "Broker {{broker.id", "unclosed \"{{\" in template; expected {{path}}" },
        { "{{ }}", "empty {{}} in template; expected a path like {{broker.id}}" },
        { "{{broker..id}}", "bad path {{broker..id}} in template: empty segment; expected a path like {{broker.id}}" },
        { "{{broker id}}", "bad path {{broker id}} in template: ' ' is not allowed; paths are dotted names like {{broker.id}}" },
        { "{{a {{broker.id}}", "unclosed \"{{\" in template; expected {{path}}" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        kr_template_t *t = kr_template_compile(cases[i].src, err, sizeof err);
        CHECKF(t == NULL, "%s compiled", cases[i].src);
        CHECK_STR(err, cases[i].err);
        kr_template_free(t);
    }
}

KR_TEST(render_params_keeps_numbers_of_single_paths)
{
    json_t *ctx = json_loads(ctx_json, 0, NULL);
    json_t *params = json_loads(
        "{\"to\":\"kafka-oncall\",\"summary\":\"Broker {{broker.id}} down\",\"brokers\":[\"{{broker.id}}\", 7],"
        "\"rack\":\"{{broker.rack}}\",\"up\":\"{{broker.up}}\",\"missing\":\"{{broker.nope}}\",\"n\":null,"
        "\"nested\":{\"x\":[\"{{ cluster }}\"]}}", 0, NULL);
    json_t *want = json_loads(
        "{\"to\":\"kafka-oncall\",\"summary\":\"Broker 1003 down\",\"brokers\":[1003, 7],"
        "\"rack\":\"apne2-az1\",\"up\":true,\"missing\":\"\",\"n\":null,\"nested\":{\"x\":[\"orders-prod\"]}}",
        0, NULL);
    json_t *got = kr_template_render_params(params, ctx);
    CHECK_JSON(got, want);
    CHECK(kr_template_render_params(NULL, ctx) == NULL);
    json_decref(got);
    json_decref(want);
    json_decref(params);
    json_decref(ctx);
}

KR_TEST(check_params_names_the_string)
{
    const char *y = "to: oncall\nsummary: \"Broker {{brokr.id}}\"\n";
    char err[512] = "";
    kr_doc_t *doc = kr_doc_parse("r.yaml", y, strlen(y), err, sizeof err);
    CHECK(doc != NULL);
    CHECK_INT(kr_template_check_params(kr_doc_root(doc), doc, err, sizeof err), -1);
    CHECK_STR(err, "r.yaml:2:10: bad template \"Broker {{brokr.id}}\": unknown field \"brokr\" in {{brokr.id}}; expected one of: id, source, type, state, time, cluster, broker, instance, alarm, health, labels, annotations, alert, host, message, raw, incident");
    kr_doc_free(doc);
}

KR_TEST(lookup_and_format)
{
    json_t *ctx = json_loads(ctx_json, 0, NULL);
    char buf[8];
    CHECK_INT(json_integer_value(kr_template_lookup(ctx, "broker.id")), 1003);
    CHECK(kr_template_lookup(ctx, "broker.id.x") == NULL);
    CHECK(kr_template_lookup(ctx, "raw.Records.1") == NULL);
    CHECK(kr_template_lookup(ctx, "broker.tags.x") == NULL);
    /* truncation reports the full length like snprintf */
    CHECK_INT(kr_template_format(kr_template_lookup(ctx, "broker.host"), buf, sizeof buf), 11);
    CHECK_STR(buf, "b3.inte");
    CHECK_INT(kr_template_format(kr_template_lookup(ctx, "broker.tags"), buf, sizeof buf), 9);
    CHECK_STR(buf, "[\"a\",\"b");
    json_decref(ctx);
}
