/* tests/unit/kr_test.h: a tiny table-driven test harness. Each test_*.c file is one
 * binary; KR_TEST registers a case; the binary runs them all (or those named on the
 * command line) and ends with "RESULT <name> passed=N failed=M", which tests/run.sh sums. */
#ifndef KR_TEST_H
#define KR_TEST_H

#include <jansson.h>
#include <stddef.h>
#include <string.h>

typedef void (*kr_test_fn)(void);
void kr_test_register(const char *name, kr_test_fn fn);
int kr_test_check(int ok, const char *expr, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define KR_TEST(name)                                                           \
    static void name(void);                                                     \
    __attribute__((constructor)) static void name##_register(void)              \
    {                                                                           \
        kr_test_register(#name, name);                                          \
    }                                                                           \
    static void name(void)

/* Each CHECK records a failure and continues; the case fails if any check failed. */
#define CHECK(cond) kr_test_check(!!(cond), #cond, __FILE__, __LINE__, NULL)
#define CHECKF(cond, ...) kr_test_check(!!(cond), #cond, __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_INT(a, b)                                                                     \
    do {                                                                                    \
        long long kr_a_ = (long long)(a), kr_b_ = (long long)(b);                           \
        kr_test_check(kr_a_ == kr_b_, #a " == " #b, __FILE__, __LINE__, "%lld != %lld",     \
                      kr_a_, kr_b_);                                                        \
    } while (0)
#define CHECK_STR(a, b)                                                                     \
    do {                                                                                    \
        const char *kr_a_ = (a), *kr_b_ = (b);                                              \
        kr_test_check(kr_a_ && kr_b_ && strcmp(kr_a_, kr_b_) == 0, #a " == " #b, __FILE__,  \
                      __LINE__, "\"%s\" != \"%s\"", kr_a_ ? kr_a_ : "(null)",               \
                      kr_b_ ? kr_b_ : "(null)");                                            \
    } while (0)
/* Compares two JSON values structurally; prints both on mismatch. */
#define CHECK_JSON(a, b) kr_test_check_json((a), (b), #a, __FILE__, __LINE__)
int kr_test_check_json(const json_t *got, const json_t *want, const char *expr,
                       const char *file, int line);

/* Path of a file under the source tree (tests run from the repo root; KR_SRCDIR overrides).
 * Returns a static buffer. */
const char *kr_test_path(const char *rel);
/* Reads a whole file; returns malloc'd NUL-terminated buffer or NULL. */
char *kr_test_read(const char *path, size_t *len);
/* Multiplier for every timeout in tests (env KR_TEST_TIMEOUT_MULT, default 1). */
double kr_test_tmout_mult(void);

#endif
