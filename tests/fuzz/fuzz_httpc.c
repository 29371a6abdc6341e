/* tests/fuzz/fuzz_httpc.c: the pure parts of the HTTP client on arbitrary bytes: the
 * Retry-After parser (values come from any receiver) and the request checker. Properties:
 * results stay in range, delays shrink as the clock moves, accepted requests are safe. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kr/httpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;

    /* Retry-After: -1 or a delay in [0, 2^31-1]; a date's delay shrinks by the time that
     * passed (floored at 0), a delay-seconds value does not depend on the clock. */
    const time_t now = 1700000000;
    long a = kr_http_parse_retry_after(s, now), b = kr_http_parse_retry_after(s, now + 10);
    if (a < -1 || a > 2147483647L || b < -1 || b > 2147483647L)
        abort();
    if ((a == -1) != (b == -1))
        abort();
    if (a >= 0 && b != a && b != (a >= 10 ? a - 10 : 0))
        abort();

    /* The request checker: split the input into method, URL and up to 3 headers on NUL
     * bytes. What it accepts is http(s), a token method, and headers without CR/LF. */
    const char *parts[5] = { "GET", "http://h/", NULL, NULL, NULL };
    size_t np = 0;
    for (size_t off = 0; off <= size && np < 5;) {
        parts[np++] = s + off;
        off += strlen(s + off) + 1;
    }
    const char *headers[4] = { parts[2], parts[3], parts[4], NULL };
    kr_http_request_t req = { .method = parts[0], .url = parts[1],
                              .headers = np > 2 ? headers : NULL };
    char err[256];
    if (kr_httpc_request_check(&req, err, sizeof err) == 0) {
        if (strncasecmp(req.url, "http://", 7) != 0 && strncasecmp(req.url, "https://", 8) != 0)
            abort();
        for (size_t i = 0; req.headers && req.headers[i]; i++)
            if (strpbrk(req.headers[i], "\r\n") || !strchr(req.headers[i], ':'))
                abort();
    } else if (!memchr(err, 0, sizeof err) || !err[0]) {
        abort(); /* a refusal always says why */
    }
    free(s);
    return 0;
}
