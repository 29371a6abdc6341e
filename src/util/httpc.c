/* util/httpc.c: the asynchronous HTTP client of kr/httpc.h, libcurl's multi-socket API
 * driven by libevent (after curl's docs/examples/hiperfifo.c), plus Retry-After parsing.
 *
 * DESIGN. Everything runs on the loop thread. kr_httpc_request builds an easy handle
 * and adds it to the client's one multi handle; curl answers through two callbacks:
 * sock_cb says which descriptor to watch for what (we keep one persistent libevent event
 * per socket, attached with curl_multi_assign) and timer_cb asks for one timeout (one
 * evtimer). When an event or the timer fires, the loop calls curl_multi_socket_action,
 * then drains curl_multi_info_read: each finished transfer is removed from the multi
 * handle, its callback runs, and it is freed. DNS runs on curl's resolver thread
 * (AsynchDNS), which curl owns and joins itself; no curl call here blocks. Callbacks run
 * from event callbacks only, never from curl's own callbacks, so user code may start
 * requests or free the client from them (the free is deferred until dispatch unwinds). */
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "kr/err.h"
#include "kr/httpc.h"
#include "kr/log.h"
#include "kr/version.h"

#define DEFAULT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_RESPONSE ((size_t)1 << 20)
#define DEFAULT_MAX_HOST_CONNS 16L

typedef struct kr_http_xfer kr_http_xfer_t;

/* One descriptor curl asked us to watch. */
typedef struct kr_http_sock {
    struct event *ev;
    int what;                        /* CURL_POLL_* currently armed */
    struct kr_http_sock *prev, *next;
} kr_http_sock_t;

/* One request, from kr_httpc_request to its callback. */
struct kr_http_xfer {
    kr_httpc_t *client;
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    char *body;                      /* request body copy */
    char *resp;                      /* response body kept, NUL-terminated */
    size_t resp_len, resp_cap, max_response;
    int truncated;
    long retry_after_s;
    kr_http_done_cb cb;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
    kr_http_xfer_t *prev, *next;
};

struct kr_httpc {
    struct event_base *base;         /* borrowed */
    CURLM *multi;
    struct event *timer;
    kr_http_xfer_t *xfers;           /* pending requests */
    size_t pending;
    kr_http_sock_t *socks;           /* watched descriptors */
    char *ca_file;
    int dispatching;                 /* depth of callback dispatch */
    int closing;                     /* kr_httpc_free was called */
};

/* ---- process-wide curl initialisation ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int kr_httpc_global_init(char *err, size_t errlen)
{
    pthread_once(&global_once, global_init_once);
    if (global_rc != CURLE_OK)
        return kr_seterr(err, errlen, KR_EIO, "cannot initialise libcurl: %s",
                         curl_easy_strerror(global_rc));
    return KR_OK;
}

/* ---- Retry-After ---- */

static const char *const wkday_names[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const weekday_names[] = { "Sunday", "Monday", "Tuesday", "Wednesday",
                                             "Thursday", "Friday", "Saturday" };
static const char *const month_names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Matches one name of table at *p (exact case, as RFC 9110 writes them); advances. */
static int match_name(const char **p, const char *const *table, int n)
{
    for (int i = 0; i < n; i++) {
        size_t len = strlen(table[i]);
        if (strncmp(*p, table[i], len) == 0) {
            *p += len;
            return i;
        }
    }
    return -1;
}

/* Reads exactly `digits` digits (or 1..digits when digits is negative). */
static int match_num(const char **p, int digits, int *out)
{
    int want = digits < 0 ? -digits : digits, n = 0, v = 0;
    while (n < want && isdigit((unsigned char)(*p)[n])) {
        v = v * 10 + ((*p)[n] - '0');
        n++;
    }
    if (n == 0 || (digits > 0 && n != digits))
        return -1;
    *p += n;
    *out = v;
    return 0;
}

static int match_lit(const char **p, const char *lit)
{
    size_t len = strlen(lit);
    if (strncmp(*p, lit, len) != 0)
        return -1;
    *p += len;
    return 0;
}

static int match_time(const char **p, struct tm *tm)
{
    if (match_num(p, 2, &tm->tm_hour) || match_lit(p, ":") || match_num(p, 2, &tm->tm_min) ||
        match_lit(p, ":") || match_num(p, 2, &tm->tm_sec))
        return -1;
    return 0;
}

static int month_of(const char **p)
{
    return match_name(p, month_names, 12);
}

/* Parses the three HTTP-date forms of RFC 9110 5.6.7 into UTC seconds; -1 if none. */
static int64_t parse_http_date(const char *s, time_t now)
{
    struct tm tm;
    const char *p = s;
    int year = 0;

    memset(&tm, 0, sizeof tm);
    if (match_name(&p, weekday_names, 7) >= 0) {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        int yy;
        struct tm nowtm;
        if (match_lit(&p, ", ") || match_num(&p, 2, &tm.tm_mday) || match_lit(&p, "-") ||
            (tm.tm_mon = month_of(&p)) < 0 || match_lit(&p, "-") || match_num(&p, 2, &yy) ||
            match_lit(&p, " ") || match_time(&p, &tm) || match_lit(&p, " GMT"))
            return -1;
        /* A two-digit year more than 50 years ahead is the most recent past one. */
        gmtime_r(&now, &nowtm);
        year = (nowtm.tm_year + 1900) / 100 * 100 + yy;
        if (year > nowtm.tm_year + 1900 + 50)
            year -= 100;
    } else if (match_name(&p, wkday_names, 7) >= 0) {
        if (*p == ',') {
            /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
            if (match_lit(&p, ", ") || match_num(&p, 2, &tm.tm_mday) || match_lit(&p, " ") ||
                (tm.tm_mon = month_of(&p)) < 0 || match_lit(&p, " ") ||
                match_num(&p, 4, &year) || match_lit(&p, " ") || match_time(&p, &tm) ||
                match_lit(&p, " GMT"))
                return -1;
        } else {
            /* asctime: Sun Nov  6 08:49:37 1994 */
            if (match_lit(&p, " ") || (tm.tm_mon = month_of(&p)) < 0 || match_lit(&p, " "))
                return -1;
            if (*p == ' ')
                p++;
            if (match_num(&p, -2, &tm.tm_mday) || match_lit(&p, " ") || match_time(&p, &tm) ||
                match_lit(&p, " ") || match_num(&p, 4, &year))
                return -1;
        }
    } else {
        return -1;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return -1;
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (tm.tm_mday < 1 || tm.tm_mday > mdays[tm.tm_mon] || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year = year - 1900;
    return (int64_t)timegm(&tm);
}

long kr_http_parse_retry_after(const char *value, time_t now)
{
    const char *p = value, *end;
    char buf[64];
    size_t n;

    if (!p)
        return -1;
    while (*p == ' ' || *p == '\t')
        p++;
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        end--;
    n = (size_t)(end - p);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, p, n);
    buf[n] = 0;
    if (isdigit((unsigned char)buf[0])) {
        long v = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)buf[i]))
                return -1;
            if (v < INT32_MAX)
                v = v * 10 + (buf[i] - '0');
        }
        return v > INT32_MAX ? INT32_MAX : v;
    }
    int64_t t = parse_http_date(buf, now);
    if (t < 0)
        return -1;
    int64_t d = t - (int64_t)now;
    return d < 0 ? 0 : d > INT32_MAX ? INT32_MAX : (long)d;
}

/* Copies s into buf for a logfmt quoted value: quotes become ', controls become spaces. */
static const char *log_value(const char *s, char *buf, size_t len)
{
    size_t i = 0;
    for (; s && *s && i + 1 < len; s++)
        buf[i++] = *s == '"' ? '\'' : (unsigned char)*s < ' ' || *s == '\\' ? ' ' : *s;
    buf[i] = 0;
    return buf;
}

/* ---- request validation ---- */

static int is_tchar(int ch)
{
    return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int kr_httpc_request_check(const kr_http_request_t *req, char *err, size_t errlen)
{
    if (!req)
        return kr_seterr(err, errlen, KR_EINVAL, "no request given");
    if (!req->method || !*req->method)
        return kr_seterr(err, errlen, KR_EINVAL, "the request has no method");
    for (const char *m = req->method; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return kr_seterr(err, errlen, KR_EINVAL,
                             "method \"%.32s\" is not an HTTP token", req->method);
    if (!req->url || !*req->url)
        return kr_seterr(err, errlen, KR_EINVAL, "the request has no URL");
    /* Messages never echo a whole URL or header: webhook URLs and headers carry secrets. */
    if (strncasecmp(req->url, "http://", 7) != 0 && strncasecmp(req->url, "https://", 8) != 0) {
        int n = (int)strcspn(req->url, ":/");
        return kr_seterr(err, errlen, KR_EINVAL,
                         "URL scheme \"%.*s\" is not http or https; other schemes are refused",
                         n > 16 ? 16 : n, req->url);
    }
    for (const char *u = req->url; *u; u++)
        if ((unsigned char)*u <= ' ' || *u == 0x7f)
            return kr_seterr(err, errlen, KR_EINVAL,
                             "URL has a space or control character at offset %zu; "
                             "percent-encode it", (size_t)(u - req->url));
    for (size_t i = 0; req->headers && req->headers[i]; i++) {
        const char *h = req->headers[i], *colon = strchr(h, ':');
        if (!colon || colon == h)
            return kr_seterr(err, errlen, KR_EINVAL,
                             "header %zu is not of the form \"Name: value\"", i + 1);
        for (const char *q = h; q < colon; q++)
            if (!is_tchar((unsigned char)*q))
                return kr_seterr(err, errlen, KR_EINVAL,
                                 "header %zu has a name that is not an HTTP token", i + 1);
        if (strpbrk(h, "\r\n"))
            return kr_seterr(err, errlen, KR_EINVAL, "header %.*s contains CR or LF",
                             (int)(colon - h > 64 ? 64 : colon - h), h);
    }
    if (req->body_len > 0 && !req->body)
        return kr_seterr(err, errlen, KR_EINVAL, "body_len is %zu but body is NULL",
                         req->body_len);
    if (req->timeout_ms < 0 || req->connect_timeout_ms < 0 || req->max_redirects < 0)
        return kr_seterr(err, errlen, KR_EINVAL,
                         "timeouts and max_redirects must not be negative");
    return KR_OK;
}

/* ---- curl callbacks (never call back into user code from here) ---- */

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    kr_http_xfer_t *x = userdata;
    size_t n = size * nmemb, keep = n;

    if (x->resp_len + n > x->max_response) {
        keep = x->max_response - x->resp_len;
        x->truncated = 1;
    }
    if (x->resp_len + keep + 1 > x->resp_cap) {
        size_t cap = x->resp_cap ? x->resp_cap : 4096;
        while (cap < x->resp_len + keep + 1)
            cap *= 2;
        if (cap > x->max_response + 1)
            cap = x->max_response + 1;
        char *p = realloc(x->resp, cap);
        if (!p)
            return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        x->resp = p;
        x->resp_cap = cap;
    }
    memcpy(x->resp + x->resp_len, ptr, keep);
    x->resp_len += keep;
    x->resp[x->resp_len] = 0;
    /* Returning less than n stops the transfer: a body past the cap is not worth reading. */
    return x->truncated ? keep : n;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    kr_http_xfer_t *x = userdata;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";

    /* A new status line starts a new header block (1xx, redirects): forget the old one. */
    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0)
        x->retry_after_s = -1;
    else if (n > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0) {
        char val[96];
        size_t vlen = n - (sizeof name - 1);
        if (vlen >= sizeof val)
            vlen = sizeof val - 1;
        memcpy(val, buf + sizeof name - 1, vlen);
        val[vlen] = 0;
        x->retry_after_s = kr_http_parse_retry_after(val, time(NULL));
    }
    return n;
}

static void sock_event_cb(evutil_socket_t fd, short what, void *arg);

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    kr_httpc_t *c = userp;
    kr_http_sock_t *sk = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (sk) {
            event_free(sk->ev);
            if (sk->prev)
                sk->prev->next = sk->next;
            else
                c->socks = sk->next;
            if (sk->next)
                sk->next->prev = sk->prev;
            free(sk);
        }
        return 0;
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    if (!sk) {
        sk = calloc(1, sizeof *sk);
        if (!sk)
            return -1; /* curl fails the transfer */
        sk->ev = event_new(c->base, s, kind, sock_event_cb, c);
        if (!sk->ev) {
            free(sk);
            return -1;
        }
        sk->next = c->socks;
        if (c->socks)
            c->socks->prev = sk;
        c->socks = sk;
        curl_multi_assign(c->multi, s, sk);
    } else if (sk->what != what) {
        event_del(sk->ev);
        event_assign(sk->ev, c->base, s, kind, sock_event_cb, c);
    } else {
        return 0;
    }
    sk->what = what;
    if (event_add(sk->ev, NULL) != 0)
        return -1;
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    kr_httpc_t *c = userp;

    if (timeout_ms < 0) {
        evtimer_del(c->timer);
        return 0;
    }
    /* Even a 0 timeout goes through the loop: curl_multi_socket_action must not be
     * called from inside this callback. */
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    return evtimer_add(c->timer, &tv) == 0 ? 0 : -1;
}

/* ---- transfers ---- */

static void xfer_unlink(kr_http_xfer_t *x)
{
    kr_httpc_t *c = x->client;
    if (x->prev)
        x->prev->next = x->next;
    else
        c->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    c->pending--;
}

static void xfer_free(kr_http_xfer_t *x)
{
    if (!x)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->url);
    free(x->body);
    free(x->resp);
    free(x);
}

static int result_of(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK: return KR_OK;
    case CURLE_OPERATION_TIMEDOUT: return KR_ETIMEDOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return KR_EAUTH;
    default: return KR_EIO;
    }
}

/* Unlinks x, runs its callback once and frees it. cancelled: kr_httpc_free. */
static void xfer_finish(kr_http_xfer_t *x, CURLcode rc, int cancelled)
{
    kr_httpc_t *c = x->client;
    kr_http_response_t resp;
    char *ct = NULL;
    double total = 0;

    memset(&resp, 0, sizeof resp);
    curl_multi_remove_handle(c->multi, x->easy);
    xfer_unlink(x);
    resp.body = x->resp ? x->resp : "";
    resp.body_len = x->resp_len;
    resp.retry_after_s = -1;
    resp.truncated = x->truncated;
    if (cancelled) {
        resp.result = KR_ESTATE;
        resp.error = "cancelled";
    } else {
        curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &total);
        resp.total_s = total;
        /* A write error of our own making (the cap) still delivered an HTTP response. */
        if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && x->truncated)) {
            curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &resp.status);
            curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
            resp.content_type = ct;
            resp.retry_after_s = x->retry_after_s;
        }
        if (resp.status <= 0) {
            resp.status = 0;
            resp.result = rc == CURLE_OK ? KR_EIO : result_of(rc);
            resp.error = x->errbuf[0] ? x->errbuf
                                      : rc == CURLE_OK ? "no HTTP response" : curl_easy_strerror(rc);
        }
    }
    if (kr_log_level <= KR_LOG_DEBUG) {
        /* scheme://host[:port] only: the path of a webhook URL is its secret */
        char v[256], origin[200];
        const char *host = strstr(x->url, "://");
        size_t n = host ? (size_t)(host + 3 - x->url) + strcspn(host + 3, "/?#") : 0;
        snprintf(origin, sizeof origin, "%.*s", (int)n, x->url);
        KR_DEBUG("httpc", "msg=\"request done\" origin=\"%s\" status=%ld result=%d total_s=%.3f",
                 log_value(origin, v, sizeof v), resp.status, resp.result, resp.total_s);
    }
    c->dispatching++;
    x->cb(&resp, x->arg);
    c->dispatching--;
    xfer_free(x);
}

static void client_destroy(kr_httpc_t *c)
{
    if (c->multi)
        curl_multi_cleanup(c->multi); /* closes cached connections through sock_cb */
    while (c->socks) {
        kr_http_sock_t *sk = c->socks;
        c->socks = sk->next;
        event_free(sk->ev);
        free(sk);
    }
    if (c->timer)
        event_free(c->timer);
    free(c->ca_file);
    free(c);
}

/* Delivers finished transfers. Returns 1 when the client was destroyed meanwhile (the
 * event callback must not touch it any more). */
static int check_multi_info(kr_httpc_t *c)
{
    CURLMsg *msg;
    int left;

    while (!c->closing && (msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        if (priv)
            xfer_finish((kr_http_xfer_t *)priv, rc, 0);
    }
    if (c->closing && c->dispatching == 0) {
        client_destroy(c);
        return 1;
    }
    return 0;
}

static void sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_httpc_t *c = arg;
    int running = 0;
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                 ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);

    /* No evtimer_del when nothing runs: a callback may just have started a request,
     * and curl clears its timer itself (timer_cb with -1). */
    curl_multi_socket_action(c->multi, fd, action, &running);
    check_multi_info(c);
}

static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_httpc_t *c = arg;
    int running = 0;

    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(c);
}

/* ---- public API ---- */

kr_httpc_t *kr_httpc_new(struct event_base *base, char *err, size_t errlen)
{
    kr_httpc_t *c = NULL;

    if (!base) {
        kr_seterr(err, errlen, KR_EINVAL, "no event base given");
        return NULL;
    }
    if (kr_httpc_global_init(err, errlen) != KR_OK)
        return NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        goto nomem;
    c->base = base;
    c->timer = evtimer_new(base, timer_event_cb, c);
    c->multi = curl_multi_init();
    if (!c->timer || !c->multi)
        goto nomem;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, DEFAULT_MAX_HOST_CONNS);
    if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS))
        KR_WARN("httpc", "msg=\"libcurl resolves names synchronously; DNS look-ups will "
                         "block the event loop\"");
    return c;
nomem:
    kr_seterr(err, errlen, KR_ENOMEM, "out of memory creating the HTTP client");
    if (c)
        client_destroy(c);
    return NULL;
}

void kr_httpc_free(kr_httpc_t *c)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    while (c->xfers)
        xfer_finish(c->xfers, CURLE_OK, 1);
    if (c->dispatching == 0)
        client_destroy(c);
    /* else the dispatch loop that called the callback destroys it when it unwinds */
}

int kr_httpc_set_ca_file(kr_httpc_t *c, const char *path, char *err, size_t errlen)
{
    char *copy = NULL;
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f)
            return kr_seterr(err, errlen, KR_EINVAL, "cannot read CA file %s", path);
        fclose(f);
        if (!(copy = strdup(path)))
            return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    }
    free(c->ca_file);
    c->ca_file = copy;
    return KR_OK;
}

int kr_httpc_set_max_host_connections(kr_httpc_t *c, long n)
{
    if (!c || n < 0)
        return KR_EINVAL;
    return curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n) == CURLM_OK
               ? KR_OK : KR_EINVAL;
}

size_t kr_httpc_pending(const kr_httpc_t *c)
{
    return c ? c->pending : 0;
}

int kr_httpc_request(kr_httpc_t *c, const kr_http_request_t *req, kr_http_done_cb cb,
                     void *arg)
{
    char err[256];
    kr_http_xfer_t *x = NULL;
    int rc = KR_ENOMEM;
    int has_expect = 0, has_ua = 0;

    if (!c || !cb) {
        KR_WARN("httpc", "msg=\"request refused\" reason=\"no client or no callback\"");
        return KR_EINVAL;
    }
    if (c->closing)
        return KR_ESTATE;
    if ((rc = kr_httpc_request_check(req, err, sizeof err)) != KR_OK) {
        char v[256];
        KR_WARN("httpc", "msg=\"request refused\" reason=\"%s\"", log_value(err, v, sizeof v));
        return rc;
    }
    rc = KR_ENOMEM;
    if (!(x = calloc(1, sizeof *x)))
        goto err;
    x->client = c;
    x->cb = cb;
    x->arg = arg;
    x->retry_after_s = -1;
    x->max_response = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
    if (x->max_response > SIZE_MAX / 4)
        x->max_response = SIZE_MAX / 4;
    if (!(x->url = strdup(req->url)) || !(x->easy = curl_easy_init()))
        goto err;
    for (size_t i = 0; req->headers && req->headers[i]; i++) {
        struct curl_slist *l = curl_slist_append(x->headers, req->headers[i]);
        if (!l)
            goto err;
        x->headers = l;
        if (strncasecmp(req->headers[i], "expect:", 7) == 0)
            has_expect = 1;
        if (strncasecmp(req->headers[i], "user-agent:", 11) == 0)
            has_ua = 1;
    }
    if (!has_expect) {
        /* curl would wait up to 1 s for "100 Continue" on large bodies; receivers are
         * webhooks that answer directly. */
        struct curl_slist *l = curl_slist_append(x->headers, "Expect:");
        if (!l)
            goto err;
        x->headers = l;
    }

    CURL *e = x->easy;
    long timeout = req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, req->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, req->max_redirects);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms ? req->connect_timeout_ms : timeout);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* any encoding curl can decode */
    if (!has_ua)
        curl_easy_setopt(e, CURLOPT_USERAGENT, "kresponder/" KR_VERSION);

    if (strcmp(req->method, "GET") == 0 && req->body_len == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        if (!(x->body = malloc(req->body_len + 1)))
            goto err;
        if (req->body_len)
            memcpy(x->body, req->body, req->body_len);
        x->body[req->body_len] = 0;
        /* POSTFIELDS with an explicit size sends the body (even an empty one) with a
         * Content-Length; CUSTOMREQUEST then names the method. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    }

    x->next = c->xfers;
    if (c->xfers)
        c->xfers->prev = x;
    c->xfers = x;
    c->pending++;
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        xfer_unlink(x);
        goto err;
    }
    return KR_OK;
err:
    KR_WARN("httpc", "msg=\"request refused\" reason=\"out of memory\"");
    xfer_free(x);
    return rc;
}
