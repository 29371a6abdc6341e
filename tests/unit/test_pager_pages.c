/* tests/unit/test_pager_pages.c: the page builders against golden bodies
 * (tests/golden/pages/NAME.page.json → NAME.{slack,pagerduty,webhook}.json, `null` when
 * nothing is sent), and the documented limits: Slack header ≤150 characters, section
 * text ≤3000, ≤10 fields, escaping of &, <, >; PagerDuty summary ≤1024; HMAC signature.
 * KR_GOLDEN_UPDATE=1 rewrites the expected files (review the diff before committing). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/pager.h"
#include "kr_test.h"

#define ROUTING_KEY "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey12" /* 32 characters, like a real one */

static json_t *load(const char *rel)
{
    json_error_t e;
    return json_load_file(kr_test_path(rel), JSON_DECODE_ANY, &e);
}

static void golden_one(const char *name, const char *kind, json_t *got)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/golden/pages/%s.%s.json", name, kind);
    if (getenv("KR_GOLDEN_UPDATE")) {
        json_dump_file(got ? got : json_null(), kr_test_path(rel), JSON_INDENT(2) | JSON_ENCODE_ANY);
        FILE *f = fopen(kr_test_path(rel), "a");
        if (f) {
            fputc('\n', f);
            fclose(f);
        }
    }
    json_t *want = load(rel);
    CHECKF(want != NULL, "missing golden file %s", rel);
    if (want)
        CHECK_JSON(got ? got : json_null(), want);
    json_decref(want);
}

KR_TEST(golden_pages)
{
    DIR *d = opendir(kr_test_path("tests/golden/pages"));
    struct dirent *de;
    int n = 0;
    CHECK(d != NULL);
    while (d && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 11 || strcmp(de->d_name + l - 10, ".page.json") != 0)
            continue;
        char name[300], rel[300];
        snprintf(name, sizeof name, "%.*s", (int)(l - 10), de->d_name);
        snprintf(rel, sizeof rel, "tests/golden/pages/%s", de->d_name);
        json_t *page = load(rel);
        CHECKF(page != NULL, "cannot parse %s", rel);
        if (!page)
            continue;
        json_t *slack = kr_page_slack(page, "#kafka-oncall", "<!here>");
        json_t *pd = kr_page_pagerduty(page, ROUTING_KEY, NULL);
        json_t *hook = kr_page_webhook(page);
        golden_one(name, "slack", slack);
        golden_one(name, "pagerduty", pd);
        golden_one(name, "webhook", hook);
        json_decref(slack);
        json_decref(pd);
        json_decref(hook);
        json_decref(page);
        n++;
    }
    if (d)
        closedir(d);
    CHECKF(n >= 6, "only %d golden pages found", n);
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static json_t *long_page(const char *kind, size_t summary_len, size_t details_len)
{
    json_t *page = load("tests/golden/pages/status_check_trigger.page.json");
    char *s = malloc(summary_len + 1), *dt = malloc(details_len * 2 + 1);
    /* multi-byte characters so a byte-based cut would be caught */
    for (size_t i = 0; i < summary_len; i++)
        s[i] = (char)('a' + i % 26);
    s[summary_len] = 0;
    for (size_t i = 0; i < details_len; i++)
        memcpy(dt + 2 * i, "\xC3\xA9", 2); /* é */
    dt[details_len * 2] = 0;
    json_object_set_new(page, "summary", json_string(s));
    json_object_set_new(page, "details", json_string(dt));
    json_object_set_new(page, "page", json_string(kind));
    free(s);
    free(dt);
    return page;
}

KR_TEST(slack_limits)
{
    json_t *page = long_page("trigger", 5000, 4000);
    json_t *m = kr_page_slack(page, NULL, NULL);
    CHECK(m != NULL);
    json_t *blocks = json_object_get(m, "blocks"), *b;
    size_t i;
    int headers = 0;
    json_array_foreach(blocks, i, b) {
        const char *type = json_string_value(json_object_get(b, "type"));
        const char *text = json_string_value(json_object_get(json_object_get(b, "text"), "text"));
        if (strcmp(type, "header") == 0) {
            headers++;
            CHECK_INT(utf8_chars(text), 150);
            CHECK(strstr(text, "\xE2\x80\xA6") != NULL); /* cut visibly */
            CHECK_STR(json_string_value(json_object_get(json_object_get(b, "text"), "type")), "plain_text");
        } else if (text) {
            CHECKF(utf8_chars(text) <= 3000, "section text of %zu characters", utf8_chars(text));
        }
        json_t *fields = json_object_get(b, "fields"), *f;
        size_t k;
        CHECK(json_array_size(fields) <= 10);
        json_array_foreach(fields, k, f)
            CHECK(utf8_chars(json_string_value(json_object_get(f, "text"))) <= 2000);
    }
    CHECK_INT(headers, 1);
    CHECK(utf8_chars(json_string_value(json_object_get(m, "text"))) <= 3000);
    CHECK(json_object_get(m, "channel") == NULL);
    json_decref(m);
    json_decref(page);
}

KR_TEST(slack_escapes_and_mention)
{
    json_t *page = load("tests/golden/pages/am_urp_trigger.page.json");
    json_t *m = kr_page_slack(page, NULL, "<!subteam^S0123ABC>");
    char *dump = json_dumps(m, 0);
    /* the summary's markup is shown, not interpreted; the mention is kept as Slack syntax */
    CHECK(strstr(dump, "&lt;b&gt;&amp;co&lt;/b&gt;") != NULL);
    /* plain_text is not parsed by Slack: the header keeps the characters as they are */
    CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(json_object_get(m, "blocks"), 0), "text"), "text")),
              ":warning: WARNING: UnderReplicatedPartitions in payments-prod (<b>&co</b>)");
    CHECK(strncmp(json_string_value(json_object_get(m, "text")), "<!subteam^S0123ABC> WARNING:", 28) == 0);
    free(dump);
    json_decref(m);
    /* follow-ups and resolves never mention (nobody is woken twice) */
    json_object_set_new(page, "page", json_string("followup"));
    json_object_set_new(page, "updates", json_pack("[s]", "evacuate started"));
    m = kr_page_slack(page, NULL, "<!here>");
    dump = json_dumps(m, 0);
    CHECK(strstr(dump, "<!here>") == NULL);
    free(dump);
    json_decref(m);
    json_decref(page);
}

KR_TEST(pagerduty_rules)
{
    json_t *page = long_page("trigger", 3000, 10);
    json_t *ev = kr_page_pagerduty(page, ROUTING_KEY, NULL);
    const json_t *payload = json_object_get(ev, "payload");
    CHECK_INT(utf8_chars(json_string_value(json_object_get(payload, "summary"))), 1024);
    CHECK_STR(json_string_value(json_object_get(ev, "dedup_key")), "inc-5d2c9a10");
    CHECK_STR(json_string_value(json_object_get(ev, "routing_key")), ROUTING_KEY);
    json_decref(ev);
    /* the journaled form has no routing key */
    ev = kr_page_pagerduty(page, NULL, NULL);
    CHECK(json_object_get(ev, "routing_key") == NULL);
    json_decref(ev);
    /* severity_map: critical pages become PagerDuty errors */
    json_t *map = json_pack("{s:s}", "critical", "error");
    ev = kr_page_pagerduty(page, ROUTING_KEY, map);
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "payload"), "severity")), "error");
    json_decref(ev);
    json_decref(map);
    /* progress follow-ups are not PagerDuty events; failures re-trigger the same alert */
    json_object_set_new(page, "page", json_string("followup"));
    CHECK(kr_page_pagerduty(page, ROUTING_KEY, NULL) == NULL);
    json_object_set_new(page, "failed", json_pack("[s]", "evacuate failed: stalled"));
    ev = kr_page_pagerduty(page, ROUTING_KEY, NULL);
    CHECK_STR(json_string_value(json_object_get(ev, "event_action")), "trigger");
    CHECK(strstr(json_string_value(json_object_get(json_object_get(ev, "payload"), "summary")), "stalled") != NULL);
    json_decref(ev);
    /* no incident id: no dedup key, nothing to send */
    json_object_set_new(page, "incident", json_object());
    CHECK(kr_page_pagerduty(page, ROUTING_KEY, NULL) == NULL);
    json_decref(page);
}

KR_TEST(sign_and_truncate)
{
    char sig[80];
    /* RFC 4231 test case 2 */
    const char *data = "what do ya want for nothing?";
    CHECK_INT(kr_page_sign("Jefe", data, strlen(data), sig, sizeof sig), 0);
    CHECK_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(kr_page_sign("", data, strlen(data), sig, sizeof sig) != 0);
    CHECK(kr_page_sign("k", data, strlen(data), sig, 10) != 0);
    char *t = kr_page_truncate("h\xC3\xA9llo", 5);
    CHECK_STR(t, "h\xC3\xA9llo");
    free(t);
    t = kr_page_truncate("h\xC3\xA9llo", 3);
    CHECK_STR(t, "h\xC3\xA9\xE2\x80\xA6");
    free(t);
    CHECK(kr_page_slack(NULL, NULL, NULL) == NULL);
    CHECK(kr_page_webhook(NULL) == NULL);
    json_t *empty = json_object();
    json_t *m = kr_page_slack(empty, NULL, NULL); /* bare input still gives a valid message */
    CHECK(m && json_is_string(json_object_get(m, "text")));
    json_decref(m);
    json_decref(empty);
}
