/* kr/httpc.h: an asynchronous HTTP client on the daemon's libevent loop (libcurl
 * multi-socket API). Used to fetch SNS signing certificates, confirm SNS subscriptions
 * and deliver pages to Slack, PagerDuty and webhooks without ever blocking the loop.
 *
 * Threads: every function here is called on the thread that runs the event_base given
 * to kr_httpc_new (the loop thread), and every callback runs on that thread, from the
 * loop, never from inside kr_httpc_request. The one exception is kr_httpc_global_init,
 * which any thread may call.
 *
 * Security defaults: only http and https (redirects too), no redirect followed unless the
 * request asks, TLS peer and host verification always on (the SNS certificate fetch
 * relies on it; kr_httpc_set_ca_file adds a trust anchor file for tests and private CAs),
 * no signals (CURLOPT_NOSIGNAL), proxies from the usual environment variables
 * (http_proxy, https_proxy, no_proxy) as curl reads them.
 *
 *     static void page_done_cb(const kr_http_response_t *r, void *arg) {
 *         if (r->status >= 200 && r->status < 300) ...delivered...
 *         else if (r->status == 429 || r->status >= 500 || r->status == 0)
 *             ...retry after r->retry_after_s >= 0 ? r->retry_after_s : backoff...
 *         else ...permanent failure: r->status, r->body...
 *     }
 *     const char *hdrs[] = { "Content-Type: application/json", NULL };
 *     kr_http_request_t req = { .method = "POST", .url = webhook_url, .headers = hdrs,
 *                               .body = json, .body_len = strlen(json), .timeout_ms = 5000 };
 *     if (kr_httpc_request(d->httpc, &req, page_done_cb, msg) != 0) ...not started...
 */
#ifndef KR_HTTPC_H
#define KR_HTTPC_H

#include <stddef.h>
#include <time.h>

struct event_base;

typedef struct kr_httpc kr_httpc_t;

typedef struct {
    const char *method;          /* "GET", "POST", "PUT", "DELETE", "HEAD", ... (a token) */
    const char *url;             /* http:// or https:// only */
    const char *const *headers;  /* NULL-terminated "Name: value" list, may be NULL */
    const char *body;            /* sent as is (may hold NULs); may be NULL when body_len 0 */
    size_t body_len;
    long timeout_ms;             /* whole request, queueing included; 0 = 10 s */
    long connect_timeout_ms;     /* TCP + TLS handshake; 0 = the whole timeout */
    size_t max_response;         /* cap on the body kept; 0 = 1 MiB (see truncated) */
    long max_redirects;          /* redirects to follow (http/https only); 0 = none */
} kr_http_request_t;

typedef struct {
    long status;                 /* HTTP status; 0 when no complete HTTP response came
                                  * (connection error, TLS failure, timeout, cancelled) */
    const char *body;            /* borrowed for the callback's duration; never NULL and
                                  * NUL-terminated after body_len bytes; when status is 0
                                  * it holds whatever arrived before the failure */
    size_t body_len;
    const char *error;           /* NULL when status > 0; else curl's error text or
                                  * "cancelled" */
    long retry_after_s;          /* parsed Retry-After (delay-seconds or HTTP-date,
                                  * relative to now, never negative); -1 when absent or
                                  * unparsable */
    const char *content_type;    /* borrowed; NULL when the response had none */
    double total_s;              /* seconds from start to completion (0 when cancelled) */
    int result;                  /* 0 when status > 0; KR_ETIMEDOUT (timeout),
                                  * KR_EAUTH (TLS peer certificate or host not verified),
                                  * KR_ESTATE (cancelled by kr_httpc_free), KR_EIO (any
                                  * other transport failure: refused, reset, DNS, ...) */
    int truncated;               /* 1 when the body exceeded max_response: the first
                                  * max_response bytes are kept, the transfer is stopped
                                  * there (the connection closed) and status is kept */
} kr_http_response_t;

/* Runs exactly once per accepted request, on the loop thread. resp and everything it
 * points to are borrowed for the duration of the call. The callback may start new
 * requests, and may call kr_httpc_free (the client is then freed once the callback
 * returns; the remaining requests are cancelled first). */
typedef void (*kr_http_done_cb)(const kr_http_response_t *resp, void *arg);

/* Calls curl_global_init(CURL_GLOBAL_DEFAULT) once per process (pthread_once); any
 * thread, any number of times. kr_httpc_new calls it, so main only needs to call it if it
 * wants the work done before starting other threads. Never undone (curl_global_cleanup
 * is left to process exit). Returns 0 or KR_EIO with err set. */
int kr_httpc_global_init(char *err, size_t errlen);

/* Creates a client whose transfers run on base (borrowed; must outlive the client).
 * All requests of a client share one curl multi handle, so connections to a host are
 * kept alive and reused; at most 16 connections per host are open at once (more requests
 * wait in a queue; see kr_httpc_set_max_host_connections). Returns a new client or NULL
 * with err set. */
kr_httpc_t *kr_httpc_new(struct event_base *base, char *err, size_t errlen);

/* Frees the client. Pending requests are cancelled first: each callback runs once, before
 * kr_httpc_free returns, with status 0, result KR_ESTATE and error "cancelled"; requests
 * started from those callbacks are refused. Called from inside a done callback, the
 * client itself is released when that callback returns. NULL is a no-op. */
void kr_httpc_free(kr_httpc_t *c);

/* Uses the PEM file at path (copied) as the trust anchors of later requests instead of
 * the system store; NULL restores the system store. Verification stays on. Returns 0,
 * KR_ENOMEM, or KR_EINVAL (unreadable file) with err set. */
int kr_httpc_set_ca_file(kr_httpc_t *c, const char *path, char *err, size_t errlen);

/* Caps the connections open at once to one host (default 16; 0 = no cap). Requests
 * beyond the cap wait for a connection; their timeout includes the wait. Returns 0 or
 * KR_EINVAL. */
int kr_httpc_set_max_host_connections(kr_httpc_t *c, long n);

/* Checks a request without starting it: a method token, an http(s) URL, headers of the
 * form "Name: value" without CR or LF, a body pointer when body_len > 0, non-negative
 * timeouts. Pure, any thread. Returns 0 or KR_EINVAL with err set. */
int kr_httpc_request_check(const kr_http_request_t *req, char *err, size_t errlen);

/* Starts a request; cb(resp, arg) runs later on the loop thread, exactly once, and never
 * before kr_httpc_request returns. Copies everything it needs from req (req may be freed
 * on return). Returns 0; KR_EINVAL for a request kr_httpc_request_check refuses (the
 * reason is logged at warn level), KR_ENOMEM, or KR_ESTATE while the client is being
 * freed. On a non-zero return cb never runs. */
int kr_httpc_request(kr_httpc_t *c, const kr_http_request_t *req, kr_http_done_cb cb,
                     void *arg);

/* Requests started whose callback has not run yet. */
size_t kr_httpc_pending(const kr_httpc_t *c);

/* Parses a Retry-After value (RFC 9110 10.2.3): delay-seconds, or an HTTP-date (IMF-fixdate,
 * RFC 850 or asctime form) turned into seconds after now (0 when already past). Leading
 * and trailing blanks are ignored; huge delays are capped at 2^31-1. Pure, any thread.
 * Returns the delay in seconds, or -1 when value is NULL or not one of those forms. */
long kr_http_parse_retry_after(const char *value, time_t now);

#endif
