/* tests/unit/test_pager.c: the `receivers:` config as kresponder check -c validates it:
 * exact file:line:col errors, secrets from the environment and files, defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kr/config.h"
#include "kr/pager.h"
#include "kr_test.h"

static char dir[64];

static const char *write_config(const char *name, const char *text)
{
    static char path[128];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/kr-pager-XXXXXX");
        if (!mkdtemp(dir))
            return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

/* Returns the error text (or "ok") of check -c on text; static buffer. */
static const char *check(const char *text)
{
    static char err[1024];
    const char *path = write_config("k.yaml", text);
    kr_config_t *c = kr_config_load(path, err, sizeof err);
    if (c) {
        int rc = kr_pager_check(c, err, sizeof err);
        kr_config_free(c);
        if (rc == 0)
            snprintf(err, sizeof err, "ok");
    }
    /* drop the directory part of the file name */
    size_t l = strlen(dir);
    return strncmp(err, dir, l) == 0 && err[l] == '/' ? err + l + 1 : err;
}

KR_TEST(receiver_errors_name_the_place)
{
    static const struct { const char *config, *error; } cases[] = {
        { "receivers:\n  - name: a\n", "k.yaml:2:5: receivers[1] (a) must have exactly one of slack, pagerduty, webhook (it has 0)" },
        { "receivers:\n  - slack: {url: \"https://h/x\"}\n", "k.yaml:2:5: receivers[1] needs a name (the `to` of page actions)" },
        { "receivers:\n  - name: \"a b\"\n    slack: {url: \"https://h/x\"}\n",
          "k.yaml:2:11: receivers[1].name \"a b\" must be 1-64 letters, digits, '_', '.' or '-'" },
        { "receivers:\n  - name: a\n    slack: {url: \"https://h/x\"}\n  - name: a\n    slack: {url: \"https://h/y\"}\n",
          "k.yaml:4:11: receiver name \"a\" is used twice (receivers[1] too)" },
        { "receivers:\n  - name: a\n    slack: {url: \"ftp://h/x\"}\n",
          "k.yaml:3:18: receivers[1] (a) slack.url must be an http:// or https:// URL" },
        { "receivers:\n  - name: a\n    slack: {url: \"https://h/x\", colour: red}\n",
          "k.yaml:3:33: receivers[1] (a) slack: unknown key \"colour\" (expected url, channel, mention)" },
        { "receivers:\n  - name: pd\n    pagerduty: {}\n", "k.yaml:3:16: receivers[1] (pd) pagerduty.routing_key is required" },
        { "receivers:\n  - name: pd\n    pagerduty: {routing_key: k, severity_map: {critical: sev1}}\n",
          "k.yaml:3:58: receivers[1] (pd) pagerduty.severity_map.critical must be a PagerDuty severity: critical, error, warning or info" },
        { "receivers:\n  - name: pd\n    pagerduty: {routing_key: k, severity_map: {page: info}}\n",
          "k.yaml:3:48: receivers[1] (pd) pagerduty.severity_map: \"page\" is not a page severity (critical, error, warning, info)" },
        { "receivers:\n  - name: a\n    slack: {url: {env: KR_TEST_NOT_SET_ANYWHERE}}\n",
          "k.yaml:3:18: receivers[1] (a) slack.url: environment variable KR_TEST_NOT_SET_ANYWHERE is not set" },
        { "receivers:\n  - name: h\n    webhook: {url: \"https://h/x\", headers: {\"Bad Header\": v}}\n",
          "k.yaml:3:45: receivers[1] (h) webhook.headers: \"Bad Header\" is not a header name" },
        { "receivers:\n  - name: h\n    webhook: {url: \"https://h/x\", headers: {X-Kresponder-Signature: v}}\n",
          "k.yaml:3:45: receivers[1] (h) webhook.headers: X-Kresponder-Signature is set by kresponder and cannot be configured" },
        { "receivers:\n  - name: a\n    slack: {url: \"https://h/x\"}\n    webhook: {url: \"https://h/x\"}\n",
          "k.yaml:2:5: receivers[1] (a) must have exactly one of slack, pagerduty, webhook (it has 2)" },
        { "outbox: {max_age: 0}\n", "k.yaml:1:19: outbox.max_age must be between 1s and 30d" },
        { "receivers:\n  - name: a\n    slack: {url: \"https://hooks.slack.com/services/T/B/X\", channel: \"#k\", mention: \"<!here>\"}\n"
          "  - name: pd\n    pagerduty: {routing_key: {env: KR_TEST_PD}, severity_map: {warning: error}}\n"
          "  - name: h\n    webhook: {url: \"http://127.0.0.1:1/h\", hmac_secret: {file: hmac.txt}, headers: {Authorization: {env: KR_TEST_PD}}}\n",
          "ok" },
    };
    setenv("KR_TEST_PD", "pd-key", 1);
    write_config("hmac.txt", "s3cret\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR(check(cases[i].config), cases[i].error);
}

KR_TEST(secret_helper_is_shared)
{
    char err[512] = "", *v = NULL;
    write_config("url.txt", "https://hooks.slack.com/services/T/B/FROMFILE\nignored second line\n");
    const char *path = write_config("s.yaml", "receivers:\n  - name: a\n    slack: {url: {file: url.txt}}\n");
    kr_config_t *c = kr_config_load(path, err, sizeof err);
    CHECKF(c != NULL, "%s", err);
    if (!c)
        return;
    json_t *slack = json_object_get(json_array_get(c->receivers, 0), "slack");
    CHECK_INT(kr_config_secret(c, slack, "url", "slack.url", &v, err, sizeof err), 0);
    CHECK_STR(v, "https://hooks.slack.com/services/T/B/FROMFILE"); /* relative to the config's dir */
    free(v);
    CHECK_INT(c->outbox_max_age_ms, 24LL * 3600 * 1000); /* defaults */
    CHECK_INT(c->outbox_retry_min_ms, 1000);
    CHECK_INT(c->outbox_retry_max_ms, 300000);
    CHECK_INT(c->outbox_followup_interval_ms, 60000);
    kr_config_free(c);
}
