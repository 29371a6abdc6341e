/* tests/unit/test_util.c: durations, sizes, times, the id set, metrics rendering. */
#include <stdlib.h>

#include "kr/idset.h"
#include "kr/metrics.h"
#include "kr/units.h"
#include "kr_test.h"

KR_TEST(durations)
{
    static const struct { const char *in; int64_t ms; } ok[] = {
        { "30s", 30000 }, { "5m", 300000 }, { "6h", 21600000 }, { "1d", 86400000 },
        { "1h30m", 5400000 }, { "250ms", 250 }, { "0", 0 }, { "1.5s", 1500 }, { "2w", 1209600000 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        CHECK_INT(kr_duration_parse(ok[i].in, &ms, NULL, 0), 0);
        CHECK_INT(ms, ok[i].ms);
    }
    static const char *bad[] = { "", "5", "m", "5x", "-5s", "5 m", "s5" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        char err[200];
        CHECKF(kr_duration_parse(bad[i], &ms, err, sizeof err) != 0, "%s", bad[i]);
    }
    char buf[32];
    CHECK_STR(kr_duration_format(5400000, buf, sizeof buf), "1h30m");
    CHECK_STR(kr_duration_format(0, buf, sizeof buf), "0s");
    CHECK_STR(kr_duration_format(180000, buf, sizeof buf), "3m");
}

KR_TEST(sizes)
{
    int64_t b;
    CHECK_INT(kr_size_parse("256KiB", &b, NULL, 0), 0);
    CHECK_INT(b, 262144);
    CHECK_INT(kr_size_parse("50MB/s", &b, NULL, 0), 0);
    CHECK_INT(b, 50000000);
    CHECK_INT(kr_size_parse("1024", &b, NULL, 0), 0);
    CHECK_INT(b, 1024);
    CHECK(kr_size_parse("lots", &b, NULL, 0) != 0);
    CHECK(kr_size_parse("5XB", &b, NULL, 0) != 0);
}

KR_TEST(times)
{
    int64_t ms;
    char buf[32];
    CHECK_INT(kr_time_parse("2026-11-24T19:02:24Z", &ms), 0);
    CHECK_STR(kr_time_format(ms, buf, sizeof buf), "2026-11-24T19:02:24.000Z");
    CHECK_INT(kr_time_parse("2026-11-24T19:02:24.123+0000", &ms), 0); /* CloudWatch's form */
    CHECK_STR(kr_time_format(ms, buf, sizeof buf), "2026-11-24T19:02:24.123Z");
    CHECK_INT(kr_time_parse("2026-11-25T04:02:24.5+09:00", &ms), 0);
    CHECK_STR(kr_time_format(ms, buf, sizeof buf), "2026-11-24T19:02:24.500Z");
    CHECK_INT(kr_time_parse("2026-11-24T19:02:24.123456789Z", &ms), 0);
    CHECK_STR(kr_time_format(ms, buf, sizeof buf), "2026-11-24T19:02:24.123Z");
    CHECK(kr_time_parse("2026-13-24T19:02:24Z", &ms) != 0);
    CHECK(kr_time_parse("yesterday", &ms) != 0);
    CHECK(kr_time_parse("2026-11-24T19:02:24Zjunk", &ms) != 0);
}

KR_TEST(idset_dedupes_and_evicts_oldest)
{
    kr_idset_t *s = kr_idset_new(3);
    CHECK_INT(kr_idset_add(s, "a"), 1);
    CHECK_INT(kr_idset_add(s, "a"), 0);
    CHECK_INT(kr_idset_add(s, "b"), 1);
    CHECK_INT(kr_idset_add(s, "c"), 1);
    CHECK_INT(kr_idset_add(s, "d"), 1); /* evicts a */
    CHECK(!kr_idset_contains(s, "a"));
    CHECK(kr_idset_contains(s, "d"));
    CHECK_INT(kr_idset_size(s), 3);
    kr_idset_remove(s, "c");
    CHECK(!kr_idset_contains(s, "c"));
    CHECK_INT(kr_idset_size(s), 2);
    CHECK_INT(kr_idset_add(s, "e"), 1);
    CHECK_INT(kr_idset_add(s, "f"), 1);
    CHECK_INT(kr_idset_size(s), 3);
    kr_idset_free(s);
}

KR_TEST(metrics_render_prometheus_text)
{
    kr_metrics_t *m = kr_metrics_new();
    kr_metrics_add(m, KR_M_http_requests_total, "endpoint=\"/hooks/sns\",code=\"202\"", 1);
    kr_metrics_add(m, KR_M_http_requests_total, "endpoint=\"/hooks/sns\",code=\"202\"", 2);
    kr_metrics_set(m, KR_M_journal_healthy, NULL, 1);
    char *t = kr_metrics_render(m);
    CHECK(strstr(t, "# TYPE kresponder_http_requests_total counter\n") != NULL);
    CHECK(strstr(t, "kresponder_http_requests_total{endpoint=\"/hooks/sns\",code=\"202\"} 3\n") != NULL);
    CHECK(strstr(t, "kresponder_journal_healthy 1\n") != NULL);
    free(t);
    char esc[32];
    CHECK_STR(kr_metrics_escape("a\"b\\c\nd", esc, sizeof esc), "a\\\"b\\\\c\\nd");
    kr_metrics_free(m);
}
