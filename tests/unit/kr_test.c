/* tests/unit/kr_test.c: the harness behind kr_test.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr_test.h"

#define MAX_TESTS 1024

static struct { const char *name; kr_test_fn fn; } tests[MAX_TESTS];
static int ntests;
static int case_failed;

void kr_test_register(const char *name, kr_test_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

int kr_test_check(int ok, const char *expr, const char *file, int line, const char *fmt, ...)
{
    if (ok)
        return 1;
    case_failed = 1;
    fprintf(stdout, "    check failed: %s:%d: %s", file, line, expr);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(" (", stdout);
        vfprintf(stdout, fmt, ap);
        fputs(")", stdout);
        va_end(ap);
    }
    fputc('\n', stdout);
    fflush(stdout);
    return 0;
}

int kr_test_check_json(const json_t *got, const json_t *want, const char *expr,
                       const char *file, int line)
{
    if (got && want && json_equal((json_t *)got, (json_t *)want))
        return 1;
    char *g = got ? json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_INDENT(2)) : NULL;
    char *w = want ? json_dumps(want, JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_INDENT(2)) : NULL;
    kr_test_check(0, expr, file, line, "JSON differs\n--- got\n%s\n--- want\n%s",
                  g ? g : "(null)", w ? w : "(null)");
    free(g);
    free(w);
    return 0;
}

const char *kr_test_path(const char *rel)
{
    static char buf[4096];
    const char *dir = getenv("KR_SRCDIR");
    snprintf(buf, sizeof buf, "%s/%s", dir && *dir ? dir : ".", rel);
    return buf;
}

char *kr_test_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)(n < 0 ? 0 : n) + 1);
    if (buf && n >= 0 && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
        if (len)
            *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

double kr_test_tmout_mult(void)
{
    const char *s = getenv("KR_TEST_TIMEOUT_MULT");
    double m = s ? atof(s) : 1.0;
    return m > 0 ? m : 1.0;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < ntests; i++) {
        if (argc > 1) {
            int want = 0;
            for (int a = 1; a < argc; a++)
                if (strcmp(argv[a], tests[i].name) == 0)
                    want = 1;
            if (!want)
                continue;
        }
        case_failed = 0;
        tests[i].fn();
        if (case_failed) {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        } else {
            passed++;
            printf("ok   %s\n", tests[i].name);
        }
    }
    printf("RESULT %s passed=%d failed=%d\n", self, passed, failed);
    return failed ? 1 : 0;
}
