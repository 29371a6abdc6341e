/* util/units.c: durations, sizes and RFC 3339 times. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kr/err.h"
#include "kr/units.h"

int kr_duration_parse(const char *s, int64_t *ms, char *err, size_t errlen)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
        { "w", 604800000 },
    };
    const char *p = s;
    int64_t total = 0;
    int parts = 0;

    if (!s || !*s)
        return kr_seterr(err, errlen, KR_EINVAL, "empty duration; expected e.g. 30s, 5m, 6h, 1d");
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return KR_OK;
    }
    while (*p) {
        if (!isdigit((unsigned char)*p))
            goto bad;
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            goto bad;
        p = end;
        size_t ulen = 0;
        while (isalpha((unsigned char)p[ulen]))
            ulen++;
        int found = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].unit) == ulen && strncmp(p, units[i].unit, ulen) == 0) {
                double add = v * (double)units[i].ms;
                if (add > 9.2e15)
                    goto bad;
                total += (int64_t)add;
                found = 1;
                break;
            }
        if (!found)
            goto bad;
        p += ulen;
        parts++;
    }
    if (!parts)
        goto bad;
    *ms = total;
    return KR_OK;
bad:
    return kr_seterr(err, errlen, KR_EINVAL,
                     "bad duration \"%s\"; expected a number with a unit (ms, s, m, h, d, w), e.g. 30s, 5m, 1h30m, 1d",
                     s ? s : "");
}

char *kr_duration_format(int64_t ms, char *buf, size_t len)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
    };
    size_t n = 0;
    if (len == 0)
        return buf;
    buf[0] = 0;
    if (ms == 0) {
        snprintf(buf, len, "0s");
        return buf;
    }
    if (ms < 0) {
        n += (size_t)snprintf(buf, len, "-");
        ms = -ms;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0] && ms > 0 && n < len; i++) {
        int64_t q = ms / units[i].ms;
        if (q) {
            n += (size_t)snprintf(buf + n, len - n, "%lld%s", (long long)q, units[i].unit);
            ms -= q * units[i].ms;
        }
    }
    return buf;
}

int kr_size_parse(const char *s, int64_t *bytes, char *err, size_t errlen)
{
    static const struct { const char *unit; double mult; } units[] = {
        { "", 1 }, { "B", 1 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
        { "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
        { "TiB", 1099511627776.0 }, { "k", 1e3 }, { "K", 1024.0 },
    };
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        goto bad;
    double v = strtod(s, &end);
    char unit[8];
    size_t ulen = strlen(end);
    if (ulen >= 2 && strcmp(end + ulen - 2, "/s") == 0)
        ulen -= 2;
    if (ulen >= sizeof unit)
        goto bad;
    memcpy(unit, end, ulen);
    unit[ulen] = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].unit) == 0) {
            double b = v * units[i].mult;
            if (b > 9.2e18)
                goto bad;
            *bytes = (int64_t)b;
            return KR_OK;
        }
bad:
    return kr_seterr(err, errlen, KR_EINVAL,
                     "bad size \"%s\"; expected a number with an optional unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. 50MB",
                     s ? s : "");
}

int64_t kr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kr_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

int kr_time_parse(const char *s, int64_t *ms)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, frac_ms = 0;
    const char *p;

    if (!s || strlen(s) < 19)
        return KR_EINVAL;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return KR_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return KR_EINVAL;
    p = s + 19;
    if (*p == '.' || *p == ',') {
        int n = 0, scale = 100;
        p++;
        if (!isdigit((unsigned char)*p))
            return KR_EINVAL;
        while (isdigit((unsigned char)*p)) {
            if (n < 3)
                frac_ms += (*p - '0') * scale;
            scale /= 10;
            n++;
            p++;
        }
    }
    int off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, sign = *p == '-' ? -1 : 1;
        p++;
        if (digits(p, 2, &oh))
            return KR_EINVAL;
        p += 2;
        if (*p == ':')
            p++;
        if (digits(p, 2, &om))
            return KR_EINVAL;
        p += 2;
        off_min = sign * (oh * 60 + om);
    }
    if (*p)
        return KR_EINVAL;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - (int64_t)off_min * 60) * 1000 + frac_ms;
    return KR_OK;
}

char *kr_time_format(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)t * 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", frac);
    return buf;
}
