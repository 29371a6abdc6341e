/* tests/unit/test_config.c: the config loader: the shipped example, defaults, and the
 * exact file:line:col errors operators see. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kr/config.h"
#include "kr_test.h"

static char dir[256];

static const char *write_cfg(const char *name, const char *text)
{
    static char path[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/kr-cfg-XXXXXX");
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

KR_TEST(example_config_loads)
{
    char err[512] = "";
    setenv("KRESPONDER_EVENTBRIDGE_SECRET", "eb-secret", 1);
    setenv("KRESPONDER_ADMIN_TOKEN", "admin-token", 1);
    kr_config_t *c = kr_config_load(kr_test_path("kresponder.example.yaml"), err, sizeof err);
    CHECKF(c != NULL, "%s", err);
    if (!c)
        return;
    CHECK_STR(c->listen, "127.0.0.1:8080");
    CHECK_STR(c->eventbridge_secret, "eb-secret");
    CHECK_STR(c->admin_token, "admin-token");
    CHECK_INT(c->http_body_limit, 256 * 1024);
    CHECK_INT(c->sns_max_age_ms, 3600 * 1000);
    CHECK_INT(c->sns_verify, 1);
    CHECK_INT(json_array_size(c->sns_topic_arns), 1);
    CHECK_INT(json_array_size(c->clusters), 1);
    /* relative paths are relative to the config's directory */
    CHECK(strstr(c->journal_dir, "/var/journal") != NULL);
    kr_config_free(c);
}

KR_TEST(defaults_apply)
{
    char err[512] = "";
    const char *p = write_cfg("min.yaml", "listen: 127.0.0.1:0\n");
    kr_config_t *c = kr_config_load(p, err, sizeof err);
    CHECKF(c != NULL, "%s", err);
    if (!c)
        return;
    CHECK_INT(c->http_timeout_ms, 10000);
    CHECK_INT(c->sns_verify, 1);
    CHECK(c->eventbridge_secret == NULL);
    CHECK(c->admin_token == NULL);
    CHECK(c->rules_dir == NULL);
    CHECK_STR(c->eventbridge_header, "X-Kresponder-Secret");
    kr_config_free(c);
}

KR_TEST(errors_name_file_line_col)
{
    static const struct { const char *text, *want; } cases[] = {
        { "listen: 127.0.0.1:0\nlisen: x\n", "2:1: unknown key \"lisen\"; did you mean \"listen\"?" },
        { "colour: blue\n", "1:1: unknown key \"colour\" (see kresponder.example.yaml for every key)" },
        { "sns:\n  verfy: true\n", "2:3: unknown key \"sns.verfy\"; did you mean \"sns.verify\"?" },
        { "sns:\n  verify: yes\n", "2:11: sns.verify must be true or false" },
        { "sns:\n  max_age: 5 minutes\n", "2:12: sns.max_age: bad duration \"5 minutes\"; expected a number with a unit (ms, s, m, h, d, w), e.g. 30s, 5m, 1h30m, 1d" },
        { "http:\n  body_limit: 10\n", "2:15: http.body_limit must be between 1024 and 67108864" },
        { "http: 3\n", "1:7: http must be a map" },
        { "log_level: loud\n", "1:12: log_level must be one of debug, info, warn, error" },
        { "sns:\n  topic_arns: [a, 3]\n", "2:19: sns.topic_arns: item 2 must be a string" },
        { "admin:\n  token: {env: KR_TEST_SURELY_UNSET}\n", "2:10: admin.token: environment variable KR_TEST_SURELY_UNSET is not set" },
        { "listen: \"8080\"\n", "1:9: listen must be HOST:PORT, e.g. 127.0.0.1:8080" },
        { "- a\n", "1:1: the config must be a map of keys (see kresponder.example.yaml)" },
        { "clusters: {a: 1}\n", "1:11: clusters must be a list" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "", want[600];
        const char *p = write_cfg("bad.yaml", cases[i].text);
        kr_config_t *c = kr_config_load(p, err, sizeof err);
        CHECK(c == NULL);
        snprintf(want, sizeof want, "%s:%s", p, cases[i].want);
        CHECK_STR(err, want);
        kr_config_free(c);
    }
}

KR_TEST(secret_from_file)
{
    char err[512] = "";
    write_cfg("secret.txt", "s3cr3t\n");
    const char *p = write_cfg("f.yaml", "eventbridge:\n  secret: {file: secret.txt}\n");
    kr_config_t *c = kr_config_load(p, err, sizeof err);
    CHECKF(c != NULL, "%s", err);
    if (c)
        CHECK_STR(c->eventbridge_secret, "s3cr3t");
    kr_config_free(c);
}
