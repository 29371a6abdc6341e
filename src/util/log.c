/* util/log.c: logfmt lines on stderr, one write(2) each so threads never interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "kr/err.h"
#include "kr/log.h"

int kr_log_level = KR_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

int kr_log_set_level_name(const char *name)
{
    for (int i = 0; i <= KR_LOG_OFF; i++)
        if (strcasecmp(name, level_names[i]) == 0) {
            kr_log_level = i;
            return KR_OK;
        }
    return KR_EINVAL;
}

void kr_log_write(int level, const char *sub, const char *fmt, ...)
{
    char line[4096];
    struct timeval tv;
    struct tm tm;
    size_t n;
    va_list ap;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ level=%s sub=%s ",
                          (long)(tv.tv_usec / 1000),
                          level_names[level < 0 ? 0 : level > KR_LOG_ERROR ? KR_LOG_ERROR : level],
                          sub);
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
