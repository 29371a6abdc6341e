/* tests/unit/test_decode.c: payload decoders and the normalized event: golden files
 * (tests/golden/decode/NAME.json -> NAME.expected.jsonl), exact errors for malformed
 * payloads, detection, ids, and the label/host/broker rules of Alertmanager alerts. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/decode.h"
#include "kr/err.h"
#include "kr/event.h"
#include "kr_test.h"

/* ---- helpers ------------------------------------------------------------------------ */

/* Decodes a C string; returns the count (or error) and the events in *out (new). */
static int decode_str(kr_format_t fmt, const char *s, json_t **out, char *err, size_t errlen)
{
    *out = json_array();
    return kr_decode_buf(fmt, s, strlen(s), *out, err, errlen);
}

/* Prints where two JSON values differ, one line per path, e.g.
 *   alarm.region: got "Asia Pacific (Seoul)", want "ap-northeast-2"
 *   instance: missing (want {"id": ...}) */
static void json_diff(const char *path, const json_t *got, const json_t *want)
{
    char sub[512];
    const char *key;
    json_t *v;

    if (got && want && json_equal((json_t *)got, (json_t *)want))
        return;
    if (json_is_object(got) && json_is_object(want)) {
        json_object_foreach((json_t *)want, key, v) {
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
            json_diff(sub, json_object_get(got, key), v);
        }
        json_object_foreach((json_t *)got, key, v)
            if (!json_object_get(want, key)) {
                snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
                json_diff(sub, v, NULL);
            }
        return;
    }
    if (json_is_array(got) && json_is_array(want) && json_array_size(got) == json_array_size(want)) {
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            json_diff(sub, json_array_get(got, i), json_array_get(want, i));
        }
        return;
    }
    char *g = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *w = want ? json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    printf("      %s: got %.300s, want %.300s\n", *path ? path : "(event)", g ? g : "(missing)",
           w ? w : "(missing)");
    free(g);
    free(w);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Expected events of a golden file: one JSON object a line. */
static json_t *load_expected(const char *path)
{
    size_t len = 0;
    char *text = kr_test_read(path, &len), *line, *save = NULL;
    json_t *want = json_array();

    if (!text) {
        json_decref(want);
        return NULL;
    }
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *ev = json_loads(line, 0, &jerr);
        if (!ev) {
            printf("    %s: line %d: %s\n", path, jerr.line, jerr.text);
            json_decref(want);
            free(text);
            return NULL;
        }
        json_array_append_new(want, ev);
    }
    free(text);
    return want;
}

/* ---- golden files ------------------------------------------------------------------- */

KR_TEST(golden_payloads_decode_to_expected_events)
{
    char dir[4096];
    DIR *d;
    struct dirent *de;
    int files = 0;

    snprintf(dir, sizeof dir, "%s", kr_test_path("tests/golden/decode"));
    d = opendir(dir);
    CHECKF(d != NULL, "cannot open %s", dir);
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[4600], want_path[4700], err[512] = "";
        size_t len = 0;
        char *buf;
        json_t *got, *want, *again;
        int n;

        if (!ends_with(de->d_name, ".json"))
            continue;
        files++;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        snprintf(want_path, sizeof want_path, "%.*s.expected.jsonl",
                 (int)(strlen(path) - strlen(".json")), path);
        buf = kr_test_read(path, &len);
        want = load_expected(want_path);
        CHECKF(buf && want, "%s: cannot read the payload or its .expected.jsonl", de->d_name);
        if (!buf || !want) {
            free(buf);
            json_decref(want);
            continue;
        }
        got = json_array();
        n = kr_decode_buf(KR_FMT_AUTO, buf, len, got, err, sizeof err);
        CHECKF(n >= 0, "%s: %s", de->d_name, err);
        CHECKF(n == (int)json_array_size(got), "%s: returned %d, appended %zu", de->d_name, n,
               json_array_size(got));
        CHECKF(json_array_size(got) == json_array_size(want), "%s: %zu events, want %zu",
               de->d_name, json_array_size(got), json_array_size(want));
        for (size_t i = 0; i < json_array_size(want) && i < json_array_size(got); i++) {
            json_t *g = json_array_get(got, i), *w = json_array_get(want, i);
            if (!CHECKF(json_equal(g, w), "%s: event %zu differs:", de->d_name, i))
                json_diff("", g, w);
        }
        /* Redeliveries must decode to the same ids (and events): nothing depends on the
         * clock or on the order of decoding. */
        again = json_array();
        kr_decode_buf(KR_FMT_AUTO, buf, len, again, err, sizeof err);
        CHECKF(json_equal(got, again), "%s: decoding twice differs", de->d_name);
        json_decref(again);
        json_decref(got);
        json_decref(want);
        free(buf);
    }
    closedir(d);
    CHECKF(files >= 35, "only %d golden payloads found in %s", files, dir);
}

/* Every event of every golden file has the five required string fields, and no nulls. */
static int has_null(const json_t *v)
{
    const char *k;
    json_t *c;
    size_t i;

    if (json_is_null(v))
        return 1;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c)
            if (strcmp(k, "raw") != 0 && has_null(c))
                return 1;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c)
            if (has_null(c))
                return 1;
    }
    return 0;
}

KR_TEST(golden_events_have_required_fields_and_no_nulls)
{
    static const char *const files[] = {
        "sns_alarm_status_check_system", "sns_alarm_cpu_no_instance", "eb_health_maintenance_multi",
        "eb_health_issue_no_instance", "am_label_forms", "sns_plain_text", "eb_unknown_detail_type",
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char rel[256], err[256];
        size_t len;
        snprintf(rel, sizeof rel, "tests/golden/decode/%s.json", files[f]);
        char *buf = kr_test_read(kr_test_path(rel), &len);
        json_t *out = json_array(), *ev;
        size_t i;
        CHECKF(buf != NULL, "%s", rel);
        CHECKF(buf && kr_decode_buf(KR_FMT_AUTO, buf, len, out, err, sizeof err) > 0, "%s", rel);
        json_array_foreach(out, i, ev) {
            static const char *const req[] = { "id", "source", "type", "state", "time" };
            for (size_t r = 0; r < 5; r++)
                CHECKF(kr_event_str(ev, req[r]) && *kr_event_str(ev, req[r]), "%s: %s", rel, req[r]);
            CHECKF(!has_null(ev), "%s: event %zu has a null", rel, i);
            CHECKF(json_is_object(kr_event_get(ev, "raw")), "%s: raw", rel);
        }
        json_decref(out);
        free(buf);
    }
}

/* ---- malformed payloads: exact errors ---------------------------------------------- */

#define SNS_HEAD "{\"Type\":\"Notification\",\"MessageId\":\"m1\",\"TopicArn\":\"arn:aws:sns:us-east-1:1:t\","
#define TS "\"2026-11-24T19:02:24Z\""
#define EB_HEAD(dt) "{\"version\":\"0\",\"id\":\"e1\",\"detail-type\":\"" dt "\",\"source\":\"aws.ec2\",\"time\":" TS ","
#define ALERT(body) "{\"version\":\"4\",\"alerts\":[" body "]}"

KR_TEST(malformed_payloads_are_refused_with_exact_reasons)
{
    static const struct { kr_format_t fmt; const char *in, *err; } cases[] = {
        { KR_FMT_AUTO, "not json", "invalid JSON at line 1 column 3: invalid token near 'not'" },
        { KR_FMT_AUTO, "{\"Type\": \"Notification\",\n \"MessageId\": }",
          "invalid JSON at line 2 column 15: unexpected token near '}'" },
        { KR_FMT_AUTO, "", "invalid JSON at line 1 column 0: unexpected token near end of file" },
        { KR_FMT_AUTO, "[1,2]", "payload is not a JSON object (it is array)" },
        { KR_FMT_SNS, "\"text\"", "payload is not a JSON object (it is string)" },
        { KR_FMT_AUTO, "{\"a\":1,\"a\":2}", "invalid JSON at line 1 column 10: duplicate object key near '\"a\"'" },
        { KR_FMT_AUTO, "{\"hello\":\"world\"}",
          "unrecognized payload: not an SNS message, an EventBridge event, an Alertmanager webhook or a normalized event" },
        /* SNS */
        { KR_FMT_AUTO, SNS_HEAD "\"Timestamp\":" TS "}", "SNS message: \"Message\" is missing" },
        { KR_FMT_AUTO, SNS_HEAD "\"Message\":{\"a\":1},\"Timestamp\":" TS "}",
          "SNS message: \"Message\" must be a string, not object" },
        { KR_FMT_AUTO, SNS_HEAD "\"Message\":\"x\",\"Timestamp\":\"yesterday\"}",
          "SNS message: \"Timestamp\" is not an RFC 3339 time: \"yesterday\"" },
        { KR_FMT_AUTO, SNS_HEAD "\"Message\":\"x\",\"Timestamp\":" TS ",\"Subject\":3}",
          "SNS message: \"Subject\" must be a string, not integer" },
        { KR_FMT_AUTO, SNS_HEAD "\"Message\":\"x\",\"Timestamp\":" TS ",\"SigningCertUrl\":false}",
          "SNS message: \"SigningCertUrl\" must be a string, not boolean" },
        { KR_FMT_AUTO, "{\"Type\":\"Notification\",\"TopicArn\":\"t\",\"Message\":\"x\",\"Timestamp\":" TS "}",
          "SNS message: \"MessageId\" is missing" },
        { KR_FMT_AUTO, "{\"Type\":\"Notification\",\"MessageId\":\"m\",\"Message\":\"x\",\"Timestamp\":" TS "}",
          "SNS message: \"TopicArn\" is missing" },
        { KR_FMT_AUTO, "{\"Type\":\"Broadcast\",\"MessageId\":\"m1\"}",
          "SNS message: unknown Type \"Broadcast\" (expected Notification, SubscriptionConfirmation or UnsubscribeConfirmation)" },
        { KR_FMT_AUTO, "{\"Type\":7,\"MessageId\":\"m1\"}", "SNS message: \"Type\" must be a string, not integer" },
        /* an AWS Lambda SNS event: the envelope of each record */
        { KR_FMT_AUTO, "{\"Records\":[{\"EventSource\":\"aws:sns\",\"Sns\":{\"Type\":\"Notification\"}}]}",
          "SNS message: \"MessageId\" is missing" },
        { KR_FMT_SNS, "{\"Records\":[{\"EventSource\":\"aws:sns\"}]}", "SNS Lambda event: Records[0]: \"Sns\" is missing" },
        { KR_FMT_SNS, "{\"Records\":[3]}", "SNS Lambda event: Records[0] must be an object" },
        { KR_FMT_AUTO, "{\"Records\":[{\"Sns\":[]}]}",
          "unrecognized payload: not an SNS message, an EventBridge event, an Alertmanager webhook or a normalized event" },
        /* Alertmanager */
        { KR_FMT_AUTO, "{\"version\":\"3\",\"status\":\"firing\",\"alerts\":[]}",
          "Alertmanager webhook: version \"3\" is not supported (only version \"4\")" },
        { KR_FMT_AUTO, "{\"version\":4,\"alerts\":[]}", "Alertmanager webhook: \"version\" must be a string, not integer" },
        { KR_FMT_AUTO, "{\"status\":\"firing\",\"alerts\":[]}", "Alertmanager webhook: \"version\" is missing" },
        { KR_FMT_AUTO, "{\"version\":\"4\",\"alerts\":{}}", "Alertmanager webhook: \"alerts\" must be an array, not object" },
        { KR_FMT_AUTO, "{\"version\":\"4\",\"groupKey\":\"{}\"}", "Alertmanager webhook: \"alerts\" is missing" },
        { KR_FMT_AUTO, ALERT(""), "Alertmanager webhook: \"alerts\" is empty" },
        { KR_FMT_AUTO, ALERT("{\"status\":\"firing\",\"startsAt\":" TS "}"),
          "Alertmanager webhook: alerts[0]: \"labels\" is missing" },
        { KR_FMT_AUTO, ALERT("{\"status\":\"firing\",\"labels\":{\"a\":\"b\"},\"startsAt\":" TS "},\"x\""),
          "Alertmanager webhook: alerts[1] must be an object" },
        { KR_FMT_AUTO, ALERT("{\"status\":\"pending\",\"labels\":{},\"startsAt\":" TS "}"),
          "Alertmanager webhook: alerts[0]: \"status\" must be \"firing\" or \"resolved\", not \"pending\"" },
        { KR_FMT_AUTO, ALERT("{\"status\":\"firing\",\"labels\":{\"a\":1},\"startsAt\":" TS "}"),
          "Alertmanager webhook: alerts[0]: label \"a\" must be a string" },
        { KR_FMT_AUTO, ALERT("{\"status\":\"firing\",\"labels\":{}}"), "Alertmanager webhook: alerts[0]: \"startsAt\" is missing" },
        { KR_FMT_AUTO, ALERT("{\"status\":\"firing\",\"labels\":{},\"startsAt\":\"soon\"}"),
          "Alertmanager webhook: alerts[0]: \"startsAt\" is not an RFC 3339 time: \"soon\"" },
        { KR_FMT_AUTO, ALERT("{\"status\":\"firing\",\"labels\":{},\"annotations\":[],\"startsAt\":" TS "}"),
          "Alertmanager webhook: alerts[0]: \"annotations\" must be an object, not array" },
        /* EventBridge */
        { KR_FMT_AUTO, EB_HEAD("EC2 Instance State-change Notification") "\"detail\":\"stopped\"}",
          "EventBridge event: \"detail\" must be an object, not string" },
        { KR_FMT_AUTO, EB_HEAD("EC2 Instance State-change Notification") "\"region\":\"us-east-1\"}",
          "EventBridge event: \"detail\" is missing" },
        { KR_FMT_AUTO, EB_HEAD("EC2 Instance State-change Notification") "\"detail\":{\"state\":\"stopped\"}}",
          "EventBridge event: detail: \"instance-id\" is missing" },
        { KR_FMT_AUTO, EB_HEAD("EC2 Instance State-change Notification") "\"detail\":{\"instance-id\":\"i-1\",\"state\":5}}",
          "EventBridge event: detail: \"state\" must be a string, not integer" },
        { KR_FMT_AUTO, EB_HEAD("EC2 Spot Instance Interruption Warning") "\"detail\":{}}",
          "EventBridge event: detail: \"instance-id\" is missing" },
        { KR_FMT_AUTO, EB_HEAD("EC2 Instance Rebalance Recommendation") "\"detail\":{\"instance-id\":[]}}",
          "EventBridge event: detail: \"instance-id\" must be a string, not array" },
        { KR_FMT_AUTO, "{\"detail-type\":\"X\",\"source\":\"aws.ec2\",\"time\":" TS ",\"detail\":{}}",
          "EventBridge event: \"id\" is missing" },
        { KR_FMT_AUTO, "{\"id\":\"e1\",\"detail-type\":\"X\",\"source\":\"aws.ec2\",\"time\":\"yyyy-mm-ddThh:mm:ssZ\",\"detail\":{}}",
          "EventBridge event: \"time\" is not an RFC 3339 time: \"yyyy-mm-ddThh:mm:ssZ\"" },
        { KR_FMT_AUTO, EB_HEAD("CloudWatch Alarm State Change") "\"detail\":{\"alarmName\":\"a\",\"state\":{\"value\":\"MAYBE\"}}}",
          "EventBridge event: detail.state: unknown alarm state \"MAYBE\"" },
        { KR_FMT_AUTO, EB_HEAD("CloudWatch Alarm State Change") "\"detail\":{\"alarmName\":\"a\"}}",
          "EventBridge event: detail: \"state\" is missing" },
        { KR_FMT_AUTO, EB_HEAD("AWS Health Event") "\"detail\":{\"service\":\"EC2\"}}",
          "EventBridge event: detail: \"eventTypeCode\" is missing" },
        { KR_FMT_AUTO, EB_HEAD("AWS Health Event") "\"detail\":{\"eventTypeCode\":\"X\",\"affectedEntities\":{}}}",
          "EventBridge event: detail: \"affectedEntities\" must be an array, not object" },
        { KR_FMT_AUTO, EB_HEAD("X") "\"resources\":\"r\",\"detail\":{}}",
          "EventBridge event: \"resources\" must be an array, not string" },
        /* already-normalized events */
        { KR_FMT_AUTO, "{\"id\":\"e\",\"source\":\"kresponder\",\"type\":\"test\",\"time\":" TS "}", "event: \"state\" is missing" },
        { KR_FMT_AUTO, "{\"id\":\"e\",\"source\":\"k\",\"type\":\"t\",\"state\":\"burning\",\"time\":" TS "}",
          "event: \"state\" must be \"firing\", \"resolved\" or \"insufficient_data\", not \"burning\"" },
        { KR_FMT_AUTO, "{\"id\":\"e\",\"source\":\"k\",\"type\":\"t\",\"state\":\"firing\",\"time\":\"now\"}",
          "event: \"time\" is not an RFC 3339 time: \"now\"" },
        { KR_FMT_AUTO, "{\"id\":\"\",\"source\":\"k\",\"type\":\"t\",\"state\":\"firing\",\"time\":" TS "}",
          "event: \"id\" must not be empty" },
        { KR_FMT_AUTO, "{\"id\":\"e\",\"source\":\"k\",\"type\":\"t\",\"state\":\"firing\",\"time\":" TS ",\"broker\":{\"id\":\"3\"}}",
          "event: \"broker.id\" must be an integer" },
        { KR_FMT_AUTO, "{\"id\":\"e\",\"source\":\"k\",\"type\":\"t\",\"state\":\"firing\",\"time\":" TS ",\"labels\":[]}",
          "event: \"labels\" must be an object, not array" },
        /* a forced format reads the payload as that format */
        { KR_FMT_SNS, ALERT(""), "SNS message: \"Type\" is missing" },
        { KR_FMT_EVENTBRIDGE, "{\"Type\":\"Notification\"}", "EventBridge event: \"id\" is missing" },
        { KR_FMT_ALERTMANAGER, "{\"id\":\"e\",\"source\":\"s\",\"type\":\"t\"}", "Alertmanager webhook: \"version\" is missing" },
        { KR_FMT_EVENT, ALERT(""), "event: \"id\" is missing" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        json_t *out;
        int rc = decode_str(cases[i].fmt, cases[i].in, &out, err, sizeof err);
        CHECKF(rc == KR_EINVAL, "case %zu (%s): rc %d", i, cases[i].in, rc);
        CHECKF(strcmp(err, cases[i].err) == 0, "case %zu: error\n      got  %s\n      want %s", i,
               err, cases[i].err);
        CHECKF(json_array_size(out) == 0, "case %zu: %zu events appended", i, json_array_size(out));
        json_decref(out);
    }
}

KR_TEST(failing_payload_leaves_output_untouched)
{
    char err[256];
    json_t *out = json_array();
    /* the first alert is fine, the second is not: nothing of the payload may be appended */
    const char *bad = ALERT("{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\"},\"startsAt\":" TS "},"
                            "{\"status\":\"firing\",\"startsAt\":" TS "}");
    json_array_append_new(out, json_string("earlier event"));
    CHECK_INT(kr_decode_buf(KR_FMT_AUTO, bad, strlen(bad), out, err, sizeof err), KR_EINVAL);
    CHECK_INT(json_array_size(out), 1);
    CHECK_STR(json_string_value(json_array_get(out, 0)), "earlier event");
    /* and a good payload appends after what is there */
    const char *good = ALERT("{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\"},\"startsAt\":" TS "}");
    CHECK_INT(kr_decode_buf(KR_FMT_AUTO, good, strlen(good), out, err, sizeof err), 1);
    CHECK_INT(json_array_size(out), 2);
    CHECK_STR(kr_event_str(json_array_get(out, 1), "type"), "alert");
    /* not an array to append to */
    json_t *obj = json_object();
    CHECK_INT(kr_decode_buf(KR_FMT_AUTO, good, strlen(good), obj, err, sizeof err), KR_EINVAL);
    CHECK_INT(json_object_size(obj), 0);
    json_decref(obj);
    json_decref(out);
}

/* ---- detection and names ----------------------------------------------------------- */

KR_TEST(detect_by_shape)
{
    static const struct { const char *in; kr_format_t want; } cases[] = {
        { "{\"Type\":\"Notification\",\"MessageId\":\"m\"}", KR_FMT_SNS },
        { "{\"Type\":\"SubscriptionConfirmation\",\"TopicArn\":\"t\"}", KR_FMT_SNS },
        { "{\"Type\":\"x\"}", KR_FMT_AUTO },
        { "{\"Records\":[{\"EventSource\":\"aws:sns\",\"Sns\":{}}]}", KR_FMT_SNS },
        { "{\"Records\":[]}", KR_FMT_AUTO },
        { "{\"detail-type\":\"X\",\"id\":\"1\",\"source\":\"aws.ec2\"}", KR_FMT_EVENTBRIDGE },
        { "{\"alerts\":[]}", KR_FMT_ALERTMANAGER },
        { "{\"version\":\"4\",\"groupKey\":\"{}\"}", KR_FMT_ALERTMANAGER },
        { "{\"id\":\"a\",\"source\":\"b\",\"type\":\"c\"}", KR_FMT_EVENT },
        { "{\"id\":\"a\",\"source\":\"b\",\"type\":3}", KR_FMT_AUTO },
        { "{}", KR_FMT_AUTO },
        { "[]", KR_FMT_AUTO },
        { "3", KR_FMT_AUTO },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = json_loads(cases[i].in, JSON_DECODE_ANY, NULL);
        CHECKF(kr_decode_detect(v) == cases[i].want, "%s: %s", cases[i].in,
               kr_format_name(kr_decode_detect(v)));
        json_decref(v);
    }
    CHECK(kr_decode_detect(NULL) == KR_FMT_AUTO);
    CHECK_STR(kr_format_name(KR_FMT_AUTO), "auto");
    CHECK_STR(kr_format_name(KR_FMT_SNS), "sns");
    CHECK_STR(kr_format_name(KR_FMT_EVENTBRIDGE), "eventbridge");
    CHECK_STR(kr_format_name(KR_FMT_ALERTMANAGER), "alertmanager");
    CHECK_STR(kr_format_name(KR_FMT_EVENT), "event");
    CHECK(kr_format_name((kr_format_t)42) != NULL);
}

/* ---- the normalized event ---------------------------------------------------------- */

KR_TEST(event_new_and_paths)
{
    json_t *ev = kr_event_new("sns:1", "aws.sns", "instance.impaired", "firing", 1795546944123LL);
    CHECK(ev != NULL);
    if (!ev)
        return;
    CHECK_STR(kr_event_str(ev, "time"), "2026-11-24T19:02:24.123Z");
    CHECK_INT(json_object_size(ev), 5);
    json_object_set_new(ev, "broker", json_pack("{s:i, s:s}", "id", 1003, "rack", "apne2-az1"));
    json_object_set_new(ev, "raw", json_pack("{s:[s,s], s:{s:s}}", "resources", "r0", "r1",
                                             "detail", "instance-id", "i-1"));
    CHECK_INT(json_integer_value(kr_event_get(ev, "broker.id")), 1003);
    CHECK(kr_event_str(ev, "broker.id") == NULL); /* an integer is not a string */
    CHECK_STR(kr_event_str(ev, "broker.rack"), "apne2-az1");
    CHECK_STR(kr_event_str(ev, "raw.detail.instance-id"), "i-1");
    CHECK_STR(kr_event_str(ev, "raw.resources.1"), "r1");
    CHECK(kr_event_get(ev, "raw.resources.2") == NULL);
    CHECK(kr_event_get(ev, "raw.resources.x") == NULL);
    CHECK(kr_event_get(ev, "broker.id.deeper") == NULL);
    CHECK(kr_event_get(ev, "nope") == NULL);
    CHECK(kr_event_get(ev, "") == NULL);
    CHECK(kr_event_get(ev, "broker.") == NULL);
    CHECK(kr_event_get(NULL, "id") == NULL);
    CHECK(kr_event_get(ev, "broker") == json_object_get(ev, "broker")); /* borrowed */
    json_decref(ev);

    CHECK(kr_event_new(NULL, "s", "t", "firing", 0) == NULL);
    CHECK(kr_event_new("id", "s", "t", "\xff\xfe", 0) == NULL); /* not UTF-8 */
    ev = kr_event_new("x", "s", "t", "resolved", -1);
    CHECK_STR(kr_event_str(ev, "time"), "1969-12-31T23:59:59.999Z");
    json_decref(ev);
}

/* ---- Alertmanager ------------------------------------------------------------------ */

/* One alert with the given labels (a JSON object text); returns the decoded event. */
static json_t *am_event(const char *labels, const char *status, char *err, size_t errlen)
{
    char buf[2048];
    json_t *out, *ev;
    snprintf(buf, sizeof buf,
             "{\"version\":\"4\",\"status\":\"%s\",\"receiver\":\"r\",\"alerts\":[{\"status\":\"%s\","
             "\"labels\":%s,\"annotations\":{},\"startsAt\":\"2026-11-24T19:02:24.5Z\","
             "\"endsAt\":\"%s\",\"fingerprint\":\"f00d\"}]}",
             status, status, labels,
             strcmp(status, "resolved") == 0 ? "2026-11-24T19:10:00Z" : "0001-01-01T00:00:00Z");
    if (decode_str(KR_FMT_ALERTMANAGER, buf, &out, err, errlen) != 1) {
        json_decref(out);
        return NULL;
    }
    ev = json_incref(json_array_get(out, 0));
    json_decref(out);
    return ev;
}

KR_TEST(alertmanager_labels_lift_host_instance_cluster_broker)
{
    static const struct {
        const char *labels, *host, *instance, *cluster;
        long long broker; /* -1: no broker */
    } cases[] = {
        { "{\"instance\":\"10.0.1.5:9100\"}", "10.0.1.5", NULL, NULL, -1 },
        { "{\"instance\":\"10.0.1.5\"}", "10.0.1.5", NULL, NULL, -1 },
        { "{\"instance\":\"[2001:db8::1]:9100\"}", "2001:db8::1", NULL, NULL, -1 },
        { "{\"instance\":\"[2001:db8::1]\"}", "2001:db8::1", NULL, NULL, -1 },
        { "{\"instance\":\"2001:db8::1\"}", "2001:db8::1", NULL, NULL, -1 },
        { "{\"instance\":\"kafka-1.example.com:7071\"}", "kafka-1.example.com", NULL, NULL, -1 },
        { "{\"instance\":\"https://user:pw@kafka-2.example.com:8443/metrics?x=1\"}", "kafka-2.example.com", NULL, NULL, -1 },
        { "{\"instance\":\"http://[fe80::1]:80/\"}", "fe80::1", NULL, NULL, -1 },
        { "{\"instance\":\":9100\"}", NULL, NULL, NULL, -1 },
        { "{\"instance\":\"\"}", NULL, NULL, NULL, -1 },
        { "{\"instance_id\":\"i-0abc\",\"cluster\":\"orders-prod\",\"broker_id\":\"3\"}", NULL, "i-0abc", "orders-prod", 3 },
        { "{\"ec2_instance_id\":\"i-0def\",\"kafka_cluster\":\"logs\",\"broker\":\"1003\"}", NULL, "i-0def", "logs", 1003 },
        { "{\"instance_id\":\"i-1\",\"ec2_instance_id\":\"i-2\",\"cluster\":\"a\",\"kafka_cluster\":\"b\"}", NULL, "i-1", "a", -1 },
        { "{\"broker_id\":\"kafka-3\"}", NULL, NULL, NULL, -1 },
        { "{\"broker_id\":\"kafka-3\",\"broker\":\"4\"}", NULL, NULL, NULL, 4 },
        { "{\"broker\":\"-1\"}", NULL, NULL, NULL, -1 },
        { "{\"broker\":\"2147483647\"}", NULL, NULL, NULL, 2147483647LL },
        { "{\"broker\":\"2147483648\"}", NULL, NULL, NULL, -1 },
        { "{\"broker\":\"12345678901\"}", NULL, NULL, NULL, -1 },
        { "{\"broker\":\"\"}", NULL, NULL, NULL, -1 },
        { "{\"broker\":\"0\"}", NULL, NULL, NULL, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        json_t *ev = am_event(cases[i].labels, "firing", err, sizeof err);
        CHECKF(ev != NULL, "%s: %s", cases[i].labels, err);
        if (!ev)
            continue;
#define SAME(got, want) CHECKF((got) == NULL ? (want) == NULL : (want) && strcmp((got), (want)) == 0, \
                               "%s: %s is %s", cases[i].labels, #got, (got) ? (got) : "(none)")
        SAME(kr_event_str(ev, "host"), cases[i].host);
        SAME(kr_event_str(ev, "instance.id"), cases[i].instance);
        SAME(kr_event_str(ev, "cluster"), cases[i].cluster);
#undef SAME
        json_t *b = kr_event_get(ev, "broker.id");
        if (cases[i].broker < 0)
            CHECKF(kr_event_get(ev, "broker") == NULL, "%s: has a broker", cases[i].labels);
        else
            CHECKF(json_is_integer(b) && json_integer_value(b) == cases[i].broker, "%s: broker.id",
                   cases[i].labels);
        /* labels are always carried whole, numeric or not */
        json_t *want = json_loads(cases[i].labels, 0, NULL);
        CHECK_JSON(kr_event_get(ev, "labels"), want);
        json_decref(want);
        CHECK(kr_event_get(ev, "annotations") == NULL); /* empty: omitted */
        json_decref(ev);
    }
}

KR_TEST(alertmanager_resolve_has_its_own_id_and_end_time)
{
    char err[256] = "";
    json_t *firing = am_event("{\"alertname\":\"KafkaBrokerDown\"}", "firing", err, sizeof err);
    json_t *resolved = am_event("{\"alertname\":\"KafkaBrokerDown\"}", "resolved", err, sizeof err);
    CHECK(firing && resolved);
    if (firing && resolved) {
        CHECK_STR(kr_event_str(firing, "id"), "am:f00d:2026-11-24T19:02:24.5Z");
        CHECK_STR(kr_event_str(resolved, "id"), "am:f00d:2026-11-24T19:02:24.5Z:resolved");
        CHECK_STR(kr_event_str(firing, "state"), "firing");
        CHECK_STR(kr_event_str(resolved, "state"), "resolved");
        CHECK_STR(kr_event_str(firing, "time"), "2026-11-24T19:02:24.500Z");
        CHECK_STR(kr_event_str(resolved, "time"), "2026-11-24T19:10:00.000Z");
        CHECK(kr_event_get(firing, "alert.ends_at") == NULL); /* Go's zero time: not ended */
        CHECK_STR(kr_event_str(resolved, "alert.ends_at"), "2026-11-24T19:10:00.000Z");
        CHECK_STR(kr_event_str(firing, "alert.name"), "KafkaBrokerDown");
        CHECK_STR(kr_event_str(firing, "alert.receiver"), "r");
        CHECK_STR(kr_event_str(firing, "raw.status"), "firing"); /* raw is the alert */
        CHECK(kr_event_get(firing, "raw.alerts") == NULL);
    }
    json_decref(firing);
    json_decref(resolved);
}

/* The fingerprints Alertmanager 0.25 sent for these label sets in the real capture
 * (tests/golden/decode/am_real_capture_firing_and_resolved.json): without a fingerprint,
 * the same value is computed. */
KR_TEST(alertmanager_fingerprint_computed_like_alertmanager)
{
    size_t len;
    char err[256];
    char *buf = kr_test_read(kr_test_path("tests/golden/decode/am_real_capture_firing_and_resolved.json"), &len);
    json_t *payload = buf ? json_loadb(buf, len, 0, NULL) : NULL, *alert, *out = json_array();
    size_t i;
    CHECK(payload != NULL);
    json_array_foreach(json_object_get(payload, "alerts"), i, alert)
        json_object_del(alert, "fingerprint");
    CHECK_INT(kr_decode(KR_FMT_AUTO, payload, out, err, sizeof err), 2);
    CHECK_STR(kr_event_str(json_array_get(out, 0), "alert.fingerprint"), "0bb0fba0ae573bc0");
    CHECK_STR(kr_event_str(json_array_get(out, 1), "alert.fingerprint"), "b356cb29789ab5b5");
    CHECK_STR(kr_event_str(json_array_get(out, 1), "id"), "am:b356cb29789ab5b5:2026-11-24T19:14:09Z:resolved");
    json_decref(out);
    /* an empty label set hashes to the FNV-1a offset basis */
    out = json_array();
    const char *empty = ALERT("{\"status\":\"firing\",\"labels\":{},\"startsAt\":" TS "}");
    CHECK_INT(kr_decode_buf(KR_FMT_AUTO, empty, strlen(empty), out, err, sizeof err), 1);
    CHECK_STR(kr_event_str(json_array_get(out, 0), "alert.fingerprint"), "cbf29ce484222325");
    json_decref(out);
    json_decref(payload);
    free(buf);
}

/* ---- AWS --------------------------------------------------------------------------- */

static json_t *health_events(const char *code, const char *status, const char *entities,
                             int *n)
{
    char buf[2048], err[256];
    json_t *out;
    snprintf(buf, sizeof buf,
             EB_HEAD("AWS Health Event") "\"region\":\"us-east-1\",\"resources\":[\"i-0aaa\"],"
             "\"detail\":{\"eventTypeCode\":\"%s\",\"statusCode\":\"%s\",\"service\":\"EC2\","
             "\"affectedEntities\":%s}}",
             code, status, entities);
    *n = decode_str(KR_FMT_AUTO, buf, &out, err, sizeof err);
    return out;
}

KR_TEST(health_event_types_states_and_instances)
{
    static const struct { const char *code, *status, *entities, *type, *state; int n; const char *id0; } cases[] = {
        { "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "open", "[{\"entityValue\":\"i-01\"}]", "instance.retiring", "firing", 1, "eb:e1" },
        { "AWS_EC2_INSTANCE_STOP_SCHEDULED", "upcoming", "[{\"entityValue\":\"i-01\"}]", "instance.retiring", "firing", 1, "eb:e1" },
        { "AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED", "closed", "[{\"entityValue\":\"i-01\"}]", "instance.retiring", "resolved", 1, "eb:e1" },
        { "AWS_EC2_INSTANCE_NETWORK_MAINTENANCE_SCHEDULED", "open", "[{\"entityValue\":\"i-01\"},{\"entityValue\":\"i-02\"}]", "instance.maintenance", "firing", 2, "eb:e1/i-01" },
        { "AWS_EC2_DEDICATED_HOST_POWER_MAINTENANCE_SCHEDULED", "open", "[]", "instance.maintenance", "firing", 1, "eb:e1" },
        { "AWS_EC2_INSTANCE_REBOOT_FLEXIBLE_MAINTENANCE_SCHEDULED", "open", "[{\"entityValue\":\"i-01\"}]", "instance.maintenance", "firing", 1, "eb:e1" },
        { "AWS_EC2_SYSTEM_REBOOT_MAINTENANCE_SCHEDULED", "open", "[{\"entityValue\":\"i-01\"}]", "instance.maintenance", "firing", 1, "eb:e1" },
        { "AWS_RDS_MAINTENANCE_SCHEDULED", "open", "[{\"entityValue\":\"db-1\"}]", "health", "firing", 1, "eb:e1" },
        { "AWS_EC2_OPERATIONAL_ISSUE", "open", "[{\"entityValue\":\"i-01\"},{\"entityValue\":\"i-01\"}]", "health", "firing", 1, "eb:e1" },
        { "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "open",
          "[{\"entityValue\":\"arn:aws:ec2:us-east-1:1:instance/i-0b\"},{\"entityValue\":\"vol-1\"},{\"entityValue\":\"i-0c\"},{}]",
          "instance.retiring", "firing", 2, "eb:e1/i-0b" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n;
        json_t *out = health_events(cases[i].code, cases[i].status, cases[i].entities, &n);
        json_t *ev = json_array_get(out, 0);
        CHECKF(n == cases[i].n, "%s %s: %d events", cases[i].code, cases[i].entities, n);
        CHECKF(ev && strcmp(kr_event_str(ev, "type"), cases[i].type) == 0, "%s: type %s", cases[i].code,
               ev ? kr_event_str(ev, "type") : "-");
        CHECKF(ev && strcmp(kr_event_str(ev, "state"), cases[i].state) == 0, "%s: state", cases[i].code);
        CHECKF(ev && strcmp(kr_event_str(ev, "id"), cases[i].id0) == 0, "%s: id %s", cases[i].code,
               ev ? kr_event_str(ev, "id") : "-");
        CHECKF(ev && strcmp(kr_event_str(ev, "health.event_type_code"), cases[i].code) == 0, "%s", cases[i].code);
        json_decref(out);
    }
}

KR_TEST(alarm_metric_and_state_mapping)
{
    static const struct { const char *metric, *value, *type, *state; } cases[] = {
        { "StatusCheckFailed", "ALARM", "instance.impaired", "firing" },
        { "StatusCheckFailed_System", "OK", "instance.impaired", "resolved" },
        { "StatusCheckFailed_Instance", "INSUFFICIENT_DATA", "instance.impaired", "insufficient_data" },
        { "StatusCheckFailed_AttachedEBS", "ALARM", "instance.impaired", "firing" },
        { "statuscheckfailed", "ALARM", "alarm", "firing" },
        { "CPUUtilization", "ALARM", "alarm", "firing" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[1024], err[256] = "";
        json_t *out;
        /* the EventBridge form ... */
        snprintf(buf, sizeof buf,
                 EB_HEAD("CloudWatch Alarm State Change") "\"region\":\"eu-west-1\",\"detail\":{\"alarmName\":\"a\","
                 "\"state\":{\"value\":\"%s\"},\"configuration\":{\"metrics\":[{\"metricStat\":{\"metric\":"
                 "{\"name\":\"%s\",\"namespace\":\"AWS/EC2\",\"dimensions\":{\"InstanceId\":\"i-9\"}}}}]}}}",
                 cases[i].value, cases[i].metric);
        CHECKF(decode_str(KR_FMT_AUTO, buf, &out, err, sizeof err) == 1, "%s", err);
        CHECK_STR(kr_event_str(json_array_get(out, 0), "type"), cases[i].type);
        CHECK_STR(kr_event_str(json_array_get(out, 0), "state"), cases[i].state);
        CHECK_STR(kr_event_str(json_array_get(out, 0), "instance.id"), "i-9");
        CHECK_STR(kr_event_str(json_array_get(out, 0), "instance.region"), "eu-west-1");
        json_decref(out);
        /* ... and the classic SNS form, with the region from the ARN, not the display name */
        json_t *msg = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:[{s:s, s:s}]}}", "AlarmName", "a",
                                "NewStateValue", cases[i].value, "Region", "Europe (Ireland)",
                                "AlarmArn", "arn:aws:cloudwatch:eu-west-1:1:alarm:a", "Trigger",
                                "MetricName", cases[i].metric, "Dimensions", "name", "InstanceId",
                                "value", "i-9");
        char *msg_text = json_dumps(msg, JSON_COMPACT);
        json_t *env = json_pack("{s:s, s:s, s:s, s:s, s:s}", "Type", "Notification", "MessageId",
                                "m-1", "TopicArn", "t", "Timestamp", "2026-11-24T19:02:24Z",
                                "Message", msg_text);
        out = json_array();
        CHECKF(kr_decode(KR_FMT_AUTO, env, out, err, sizeof err) == 1, "%s", err);
        CHECK_STR(kr_event_str(json_array_get(out, 0), "type"), cases[i].type);
        CHECK_STR(kr_event_str(json_array_get(out, 0), "state"), cases[i].state);
        CHECK_STR(kr_event_str(json_array_get(out, 0), "alarm.region"), "eu-west-1");
        CHECK_STR(kr_event_str(json_array_get(out, 0), "id"), "sns:m-1");
        /* without the ARN the display name is looked up ("Europe (...)" and "EU (...)") */
        json_object_del(msg, "AlarmArn");
        free(msg_text);
        msg_text = json_dumps(msg, JSON_COMPACT);
        json_object_set_new(env, "Message", json_string(msg_text));
        json_array_clear(out);
        CHECKF(kr_decode(KR_FMT_AUTO, env, out, err, sizeof err) == 1, "%s", err);
        CHECK_STR(kr_event_str(json_array_get(out, 0), "alarm.region"), "eu-west-1");
        CHECK_STR(kr_event_str(json_array_get(out, 0), "instance.region"), "eu-west-1");
        free(msg_text);
        json_decref(msg);
        json_decref(env);
        json_decref(out);
    }
}

KR_TEST(sns_messages_that_are_not_alarms_are_kept)
{
    static const struct { const char *message, *type, *decode_error; } cases[] = {
        { "Hello world!", "unknown", NULL },
        { "", "unknown", NULL },
        { "[1,2,3]", "unknown", NULL },
        { "{\"AlarmName\":\"a\"}", "unknown", NULL }, /* no NewStateValue: not an alarm */
        { "{\"AlarmName\":\"a\",\"NewStateValue\":7}", "unknown",
          "CloudWatch alarm message: \"NewStateValue\" must be a string, not integer" },
        { "{\"AlarmName\":\"a\",\"NewStateValue\":\"OK\",\"Trigger\":\"x\"}", "unknown",
          "CloudWatch alarm message: \"Trigger\" must be an object, not string" },
        { "{\"detail-type\":\"EC2 Instance State-change Notification\",\"id\":\"e\",\"source\":\"aws.ec2\","
          "\"time\":\"2026-11-24T19:02:24Z\",\"detail\":{}}", "unknown",
          "EventBridge event: detail: \"instance-id\" is missing" },
        { "{\"AlarmName\":\"a\",\"NewStateValue\":\"OK\"}", "alarm", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        json_t *env = json_pack("{s:s, s:s, s:s, s:s, s:s, s:n}", "Type", "Notification",
                                "MessageId", "m-2", "TopicArn", "t", "Timestamp",
                                "2026-11-24T19:02:24.250Z", "Message", cases[i].message,
                                "Subject");
        json_t *out = json_array(), *ev;
        CHECKF(kr_decode(KR_FMT_SNS, env, out, err, sizeof err) == 1, "%s: %s", cases[i].message, err);
        ev = json_array_get(out, 0);
        CHECK_STR(kr_event_str(ev, "type"), cases[i].type);
        CHECK_STR(kr_event_str(ev, "id"), "sns:m-2");
        CHECK_STR(kr_event_str(ev, "source"), "aws.sns");
        CHECK_STR(kr_event_str(ev, "time"), "2026-11-24T19:02:24.250Z");
        if (strcmp(cases[i].type, "unknown") == 0) {
            CHECK_STR(kr_event_str(ev, "state"), "firing");
            CHECK_STR(kr_event_str(ev, "message"), cases[i].message);
        }
        if (cases[i].decode_error)
            CHECK_STR(kr_event_str(ev, "decode_error"), cases[i].decode_error);
        else
            CHECK(kr_event_get(ev, "decode_error") == NULL);
        json_decref(out);
        json_decref(env);
    }
}

KR_TEST(confirmations_yield_no_events)
{
    static const char *const types[] = { "SubscriptionConfirmation", "UnsubscribeConfirmation" };
    for (size_t i = 0; i < 2; i++) {
        char err[128] = "";
        json_t *env = json_pack("{s:s, s:s, s:s}", "Type", types[i], "MessageId", "m",
                                "TopicArn", "t");
        json_t *out = json_array();
        CHECK_INT(kr_decode(KR_FMT_AUTO, env, out, err, sizeof err), 0);
        CHECK_INT(json_array_size(out), 0);
        json_decref(out);
        json_decref(env);
    }
}

KR_TEST(eventbridge_other_events_are_kept_with_their_instance)
{
    char err[256] = "";
    json_t *out;
    const char *in = EB_HEAD("EC2 Instance State-change Notification")
        "\"region\":\"us-west-2\",\"detail\":{\"instance-id\":\"i-7\",\"state\":\"rebooting\"}}";
    CHECK_INT(decode_str(KR_FMT_AUTO, in, &out, err, sizeof err), 1);
    CHECK_STR(kr_event_str(json_array_get(out, 0), "type"), "unknown");
    CHECK_STR(kr_event_str(json_array_get(out, 0), "instance.id"), "i-7");
    json_decref(out);
    in = EB_HEAD("EC2 Fleet Instance Change") "\"detail\":{\"instance-id\":\"i-8\"}}";
    CHECK_INT(decode_str(KR_FMT_AUTO, in, &out, err, sizeof err), 1);
    CHECK_STR(kr_event_str(json_array_get(out, 0), "type"), "unknown");
    CHECK_STR(kr_event_str(json_array_get(out, 0), "id"), "eb:e1");
    CHECK_STR(kr_event_str(json_array_get(out, 0), "instance.id"), "i-8");
    CHECK(kr_event_get(out, "0.instance.region") == NULL); /* the event named no region */
    json_decref(out);
}

/* Reasons go into logs and JSON error bodies: one line, valid UTF-8, whatever the payload. */
KR_TEST(reasons_are_one_line_of_valid_utf8)
{
    char err[512], in[512];
    json_t *out, *s;

    CHECK_INT(decode_str(KR_FMT_AUTO, "{\"Type\":\"Broad\\ncast\\u0007\",\"MessageId\":\"m\"}", &out, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "SNS message: unknown Type \"Broad cast \" (expected Notification, SubscriptionConfirmation or UnsubscribeConfirmation)");
    json_decref(out);
    /* "x" then 2-byte characters: the 64-byte cut falls inside one */
    strcpy(in, "{\"Type\":\"x");
    for (int i = 0; i < 40; i++)
        strcat(in, "\xc3\xa9");
    strcat(in, "\",\"MessageId\":\"m\"}");
    CHECK_INT(decode_str(KR_FMT_AUTO, in, &out, err, sizeof err), KR_EINVAL);
    s = json_string(err);
    CHECKF(s != NULL, "not UTF-8: %s", err);
    CHECK(strstr(err, "\xc3\xa9?\"") != NULL);
    json_decref(s);
    json_decref(out);
    /* jansson quotes the raw input */
    CHECK_INT(decode_str(KR_FMT_AUTO, "{\"a\": \xff\xfe}", &out, err, sizeof err), KR_EINVAL);
    s = json_string(err);
    CHECKF(s != NULL && !strchr(err, '\n'), "%s", err);
    json_decref(s);
    json_decref(out);
    /* a tiny buffer truncates but stays a string */
    char small[8];
    CHECK_INT(decode_str(KR_FMT_AUTO, "[]", &out, small, sizeof small), KR_EINVAL);
    CHECK_STR(small, "payload");
    json_decref(out);
}

/* Ids are dedupe keys journaled with every event: over-long ones are refused, not cut
 * (two different cut ids could collide). */
KR_TEST(overlong_id_parts_are_refused)
{
    char in[1024], err[256], big[160];
    json_t *out;

    memset(big, 'a', 101);
    big[101] = '\0';
    snprintf(in, sizeof in, "{\"Type\":\"Notification\",\"MessageId\":\"%s\",\"TopicArn\":\"t\","
             "\"Message\":\"x\",\"Timestamp\":" TS "}", big);
    CHECK_INT(decode_str(KR_FMT_AUTO, in, &out, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "SNS message: \"MessageId\" is longer than 100 bytes");
    json_decref(out);
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"detail-type\":\"X\",\"source\":\"s\",\"time\":" TS ",\"detail\":{}}", big);
    CHECK_INT(decode_str(KR_FMT_AUTO, in, &out, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "EventBridge event: \"id\" is longer than 100 bytes");
    json_decref(out);
    snprintf(in, sizeof in, ALERT("{\"status\":\"firing\",\"labels\":{},\"startsAt\":" TS ",\"fingerprint\":\"%s\"}"), big);
    CHECK_INT(decode_str(KR_FMT_AUTO, in, &out, err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "Alertmanager webhook: alerts[0]: \"fingerprint\" or \"startsAt\" is too long");
    json_decref(out);
    big[100] = '\0'; /* exactly 100 is fine */
    snprintf(in, sizeof in, "{\"id\":\"%s\",\"detail-type\":\"X\",\"source\":\"s\",\"time\":" TS ",\"detail\":{}}", big);
    CHECK_INT(decode_str(KR_FMT_AUTO, in, &out, err, sizeof err), 1);
    CHECK(strlen(kr_event_str(json_array_get(out, 0), "id")) == 103);
    json_decref(out);
}
