/* util/err.c: error codes to names, and the err-buffer helper. */
#include <stdarg.h>
#include <stdio.h>

#include "kr/err.h"

int kr_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *kr_strerror(int code)
{
    switch (code) {
    case KR_OK: return "ok";
    case KR_EINVAL: return "invalid";
    case KR_ENOMEM: return "out of memory";
    case KR_EIO: return "i/o error";
    case KR_EAUTH: return "authentication failed";
    case KR_ENOTFOUND: return "not found";
    case KR_EEXIST: return "already exists";
    case KR_ETIMEDOUT: return "timed out";
    case KR_EAGAIN: return "try again";
    case KR_EUNSUPPORTED: return "unsupported";
    case KR_ESTATE: return "wrong state";
    default: return "unknown error";
    }
}
