/* kr/err.h: the error codes every kr_ function returns, and the helper that fills a
 * caller's err buffer with a sentence a user can act on. */
#ifndef KR_ERR_H
#define KR_ERR_H

#include <stddef.h>

enum {
    KR_OK = 0,
    KR_EINVAL = -1,       /* bad input: malformed payload, bad rule, bad argument */
    KR_ENOMEM = -2,
    KR_EIO = -3,          /* file or socket error; journal cannot persist */
    KR_EAUTH = -4,        /* authentication or signature failure */
    KR_ENOTFOUND = -5,
    KR_EEXIST = -6,       /* already exists (duplicate event id, znode exists) */
    KR_ETIMEDOUT = -7,
    KR_EAGAIN = -8,       /* not yet possible: retry later (e.g. certificate not cached) */
    KR_EUNSUPPORTED = -9,
    KR_ESTATE = -10,      /* operation not allowed in the current state */
};

/* Formats a message into err (if err and errlen are non-zero). Returns code, so a
 * failure path can be `return kr_seterr(err, errlen, KR_EINVAL, "...")`. */
int kr_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A short name for an error code ("invalid", "io", ...). Never NULL. */
const char *kr_strerror(int code);

#endif
