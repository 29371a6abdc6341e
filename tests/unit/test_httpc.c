/* tests/unit/test_httpc.c: the async HTTP client against an evhttp server in the same
 * process and loop (plus a never-answering listener, a closed port, and a TLS server on a
 * thread), and Retry-After parsing. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "kr/err.h"
#include "kr/httpc.h"
#include "kr/units.h"
#include "kr/version.h"
#include "kr_test.h"

/* ---- the in-process server ---- */

#define MAX_PORTS 1024

typedef struct {
    struct event_base *base;
    struct evhttp *http;
    int port;
    int nreq;
    char method[16];
    char uri[256];
    char ctype[128];
    char xtest[128];
    char ua[128];
    char clen[32];
    char *body;
    size_t body_len;
    unsigned short peer_ports[MAX_PORTS];
    int npeers; /* distinct client ports: one per TCP connection */
} server_t;

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    default: return "OTHER";
    }
}

static void copy_hdr(char *dst, size_t len, struct evkeyvalq *h, const char *name)
{
    const char *v = evhttp_find_header(h, name);
    snprintf(dst, len, "%s", v ? v : "");
}

static void server_cb(struct evhttp_request *req, void *arg)
{
    server_t *s = arg;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    struct evbuffer *reply = evbuffer_new();
    const char *uri = evhttp_request_get_uri(req);
    char *peer = NULL;
    ev_uint16_t pport = 0;

    s->nreq++;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &pport);
    int seen = 0;
    for (int i = 0; i < s->npeers; i++)
        seen |= s->peer_ports[i] == pport;
    if (!seen && s->npeers < MAX_PORTS)
        s->peer_ports[s->npeers++] = pport;
    snprintf(s->method, sizeof s->method, "%s", method_name(evhttp_request_get_command(req)));
    snprintf(s->uri, sizeof s->uri, "%s", uri);
    copy_hdr(s->ctype, sizeof s->ctype, in, "Content-Type");
    copy_hdr(s->xtest, sizeof s->xtest, in, "X-Test");
    copy_hdr(s->ua, sizeof s->ua, in, "User-Agent");
    copy_hdr(s->clen, sizeof s->clen, in, "Content-Length");
    free(s->body);
    s->body_len = evbuffer_get_length(body);
    s->body = malloc(s->body_len + 1);
    evbuffer_copyout(body, s->body, s->body_len);
    s->body[s->body_len] = 0;

    if (strncmp(uri, "/echo", 5) == 0) {
        evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
        evbuffer_add_printf(reply, "%s %s ", s->method, uri);
        evbuffer_add(reply, s->body, s->body_len);
        evhttp_send_reply(req, 200, "OK", reply);
    } else if (strncmp(uri, "/status/", 8) == 0) {
        int code = atoi(uri + 8);
        evbuffer_add_printf(reply, "status %d", code);
        evhttp_send_reply(req, code, "Status", reply);
    } else if (strcmp(uri, "/retry-seconds") == 0) {
        evhttp_add_header(out, "Retry-After", "7");
        evhttp_send_reply(req, 429, "Too Many Requests", reply);
    } else if (strcmp(uri, "/retry-date") == 0) {
        char date[64];
        time_t t = time(NULL) + 120;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        evhttp_add_header(out, "Retry-After", date);
        evhttp_send_reply(req, 503, "Service Unavailable", reply);
    } else if (strncmp(uri, "/big?n=", 7) == 0) {
        long n = atol(uri + 7);
        char *buf = malloc((size_t)n);
        memset(buf, 'x', (size_t)n);
        evbuffer_add(reply, buf, (size_t)n);
        free(buf);
        evhttp_send_reply(req, 200, "OK", reply);
    } else if (strcmp(uri, "/redirect") == 0) {
        evhttp_add_header(out, "Location", "/echo?from=redirect");
        evhttp_send_reply(req, 302, "Found", reply);
    } else {
        evhttp_send_reply(req, 404, "Not Found", reply);
    }
    evbuffer_free(reply);
}

static int server_start(server_t *s, struct event_base *base)
{
    memset(s, 0, sizeof *s);
    s->base = base;
    s->http = evhttp_new(base);
    if (!s->http)
        return -1;
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(s->http, server_cb, s);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
    if (!bs)
        return -1;
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl);
    s->port = ntohs(sin.sin_port);
    return 0;
}

static void server_stop(server_t *s)
{
    if (s->http)
        evhttp_free(s->http);
    free(s->body);
    s->http = NULL;
    s->body = NULL;
}

/* A listener that never accepts: connections complete in the kernel backlog, requests
 * are sent, and no answer ever comes. */
static int hang_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sin;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) || listen(fd, 64) ||
        getsockname(fd, (struct sockaddr *)&sin, &sl)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

/* A port nothing listens on: bound (so the kernel picked a free one), then closed. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sin;
    bind(fd, (struct sockaddr *)&sin, sizeof sin);
    getsockname(fd, (struct sockaddr *)&sin, &sl);
    close(fd);
    return ntohs(sin.sin_port);
}

/* ---- driving the loop ---- */

typedef struct {
    int calls;
    long status;
    int result;
    int truncated;
    long retry_after_s;
    char *body;
    size_t body_len;
    char error[512];
    char ctype[128];
    int64_t done_ms;
} got_t;

static void got_reset(got_t *g)
{
    free(g->body);
    memset(g, 0, sizeof *g);
}

static void done_cb(const kr_http_response_t *r, void *arg)
{
    got_t *g = arg;
    g->calls++;
    g->status = r->status;
    g->result = r->result;
    g->truncated = r->truncated;
    g->retry_after_s = r->retry_after_s;
    free(g->body);
    g->body = malloc(r->body_len + 1);
    memcpy(g->body, r->body, r->body_len + 1); /* the NUL after body_len is promised */
    g->body_len = r->body_len;
    snprintf(g->error, sizeof g->error, "%s", r->error ? r->error : "");
    snprintf(g->ctype, sizeof g->ctype, "%s", r->content_type ? r->content_type : "");
    g->done_ms = kr_mono_ms();
}

/* Runs the loop until *calls reaches want or ms (scaled) pass. Returns 1 if reached. */
static int run_until(struct event_base *base, const int *calls, int want, long ms)
{
    int64_t deadline = kr_mono_ms() + (int64_t)(ms * kr_test_tmout_mult());
    struct timeval tick = { 0, 10000 };
    while (*calls < want && kr_mono_ms() < deadline) {
        event_base_loopexit(base, &tick);
        event_base_dispatch(base);
    }
    return *calls >= want;
}

static void run_for(struct event_base *base, long ms)
{
    int never = 0;
    run_until(base, &never, 1, ms);
}

static char url_buf[256];
static const char *url(int port, const char *path)
{
    snprintf(url_buf, sizeof url_buf, "http://127.0.0.1:%d%s", port, path);
    return url_buf;
}

typedef struct {
    struct event_base *base;
    server_t srv;
    kr_httpc_t *c;
} fixture_t;

static int fixture_setup(fixture_t *f)
{
    char err[256] = "";
    /* the servers are local: a proxy from the environment must not get in the way */
    static const char *const proxies[] = { "http_proxy", "https_proxy", "HTTP_PROXY",
                                           "HTTPS_PROXY", "ALL_PROXY", "all_proxy" };
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    f->base = event_base_new();
    if (!f->base || server_start(&f->srv, f->base) != 0)
        return -1;
    f->c = kr_httpc_new(f->base, err, sizeof err);
    CHECKF(f->c != NULL, "%s", err);
    return f->c ? 0 : -1;
}

static void fixture_teardown(fixture_t *f)
{
    kr_httpc_free(f->c);
    server_stop(&f->srv);
    if (f->base)
        event_base_free(f->base);
}

/* ---- round trips ---- */

KR_TEST(get_round_trip_headers_and_body)
{
    fixture_t f;
    got_t g = { 0 };
    if (fixture_setup(&f) != 0)
        goto done;
    const char *hdrs[] = { "X-Test: hello world", NULL };
    kr_http_request_t req = { .method = "GET", .url = url(f.srv.port, "/echo?a=1&b=two"),
                              .headers = hdrs };
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK_INT(g.calls, 0); /* never synchronous */
    CHECK_INT(kr_httpc_pending(f.c), 1);
    CHECK(run_until(f.base, &g.calls, 1, 5000));
    CHECK_INT(g.calls, 1);
    CHECK_INT(kr_httpc_pending(f.c), 0);
    CHECK_INT(g.status, 200);
    CHECK_INT(g.result, 0);
    CHECK_STR(g.error, "");
    CHECK_STR(g.body, "GET /echo?a=1&b=two ");
    CHECK_INT(g.body_len, strlen("GET /echo?a=1&b=two "));
    CHECK_STR(g.ctype, "text/plain; charset=utf-8");
    CHECK_INT(g.retry_after_s, -1);
    CHECK_INT(g.truncated, 0);
    /* what the server saw */
    CHECK_INT(f.srv.nreq, 1);
    CHECK_STR(f.srv.method, "GET");
    CHECK_STR(f.srv.uri, "/echo?a=1&b=two");
    CHECK_STR(f.srv.xtest, "hello world");
    CHECK_STR(f.srv.ua, "kresponder/" KR_VERSION);
    CHECK_INT(f.srv.body_len, 0);
    run_for(f.base, 20);
    CHECK_INT(g.calls, 1);
done:
    got_reset(&g);
    fixture_teardown(&f);
}

KR_TEST(post_round_trip_binary_body)
{
    fixture_t f;
    got_t g = { 0 };
    if (fixture_setup(&f) != 0)
        goto done;
    static const char body[] = "{\"text\":\"broker 1003 down\"}\0tail";
    size_t blen = sizeof body - 1; /* includes the embedded NUL */
    char *heap_body = malloc(blen);
    memcpy(heap_body, body, blen);
    const char *hdrs[] = { "Content-Type: application/json", "X-Test: v", NULL };
    char *heap_url = strdup(url(f.srv.port, "/echo"));
    kr_http_request_t req = { .method = "POST", .url = heap_url, .headers = hdrs,
                              .body = heap_body, .body_len = blen };
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    /* the request is copied: the caller's buffers may go away at once */
    memset(heap_body, '#', blen);
    free(heap_body);
    memset(heap_url, 0, strlen(heap_url));
    free(heap_url);
    CHECK(run_until(f.base, &g.calls, 1, 5000));
    CHECK_INT(g.status, 200);
    CHECK_STR(f.srv.method, "POST");
    CHECK_STR(f.srv.uri, "/echo");
    CHECK_STR(f.srv.ctype, "application/json");
    CHECK_STR(f.srv.xtest, "v");
    char clen[32];
    snprintf(clen, sizeof clen, "%zu", blen);
    CHECK_STR(f.srv.clen, clen);
    CHECK_INT(f.srv.body_len, blen);
    CHECK(f.srv.body && memcmp(f.srv.body, body, blen) == 0);
    CHECK_INT(g.body_len, strlen("POST /echo ") + blen);
    CHECK(g.body && memcmp(g.body, "POST /echo ", 11) == 0 &&
          memcmp(g.body + 11, body, blen) == 0);
done:
    got_reset(&g);
    fixture_teardown(&f);
}

KR_TEST(put_and_delete_methods)
{
    fixture_t f;
    got_t g = { 0 };
    if (fixture_setup(&f) != 0)
        goto done;
    kr_http_request_t put = { .method = "PUT", .url = url(f.srv.port, "/echo"),
                              .body = "abc", .body_len = 3 };
    CHECK_INT(kr_httpc_request(f.c, &put, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 1, 5000));
    CHECK_STR(f.srv.method, "PUT");
    CHECK_STR(f.srv.body, "abc");
    kr_http_request_t del = { .method = "DELETE", .url = url(f.srv.port, "/echo") };
    CHECK_INT(kr_httpc_request(f.c, &del, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 2, 5000));
    CHECK_STR(f.srv.method, "DELETE");
    CHECK_INT(f.srv.body_len, 0);
    CHECK_INT(g.status, 200);
    kr_http_request_t head = { .method = "HEAD", .url = url(f.srv.port, "/echo") };
    CHECK_INT(kr_httpc_request(f.c, &head, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 3, 5000));
    CHECK_STR(f.srv.method, "HEAD");
    CHECK_INT(g.status, 200);
    CHECK_INT(g.body_len, 0);
done:
    got_reset(&g);
    fixture_teardown(&f);
}

KR_TEST(error_statuses_and_retry_after)
{
    fixture_t f;
    got_t g = { 0 };
    if (fixture_setup(&f) != 0)
        goto done;
    kr_http_request_t req = { .method = "POST", .url = url(f.srv.port, "/status/500"),
                              .body = "x", .body_len = 1 };
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 1, 5000));
    CHECK_INT(g.status, 500);
    CHECK_INT(g.result, 0);
    CHECK_STR(g.error, "");
    CHECK_STR(g.body, "status 500");
    CHECK_INT(g.retry_after_s, -1);

    req.url = url(f.srv.port, "/retry-seconds");
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 2, 5000));
    CHECK_INT(g.status, 429);
    CHECK_INT(g.retry_after_s, 7);

    req.url = url(f.srv.port, "/retry-date");
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 3, 5000));
    CHECK_INT(g.status, 503);
    CHECKF(g.retry_after_s >= 115 && g.retry_after_s <= 120, "retry_after_s=%ld",
           g.retry_after_s);
done:
    got_reset(&g);
    fixture_teardown(&f);
}

KR_TEST(redirects_only_when_asked)
{
    fixture_t f;
    got_t g = { 0 };
    if (fixture_setup(&f) != 0)
        goto done;
    kr_http_request_t req = { .method = "GET", .url = url(f.srv.port, "/redirect") };
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 1, 5000));
    CHECK_INT(g.status, 302);
    CHECK_INT(f.srv.nreq, 1);
    req.max_redirects = 2;
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 2, 5000));
    CHECK_INT(g.status, 200);
    CHECK_STR(g.body, "GET /echo?from=redirect ");
    CHECK_INT(f.srv.nreq, 3);
done:
    got_reset(&g);
    fixture_teardown(&f);
}

KR_TEST(max_response_truncates)
{
    fixture_t f;
    got_t g = { 0 };
    if (fixture_setup(&f) != 0)
        goto done;
    kr_http_request_t req = { .method = "GET", .url = url(f.srv.port, "/big?n=300000"),
                              .max_response = 1000 };
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 1, 5000));
    CHECK_INT(g.status, 200);
    CHECK_INT(g.result, 0);
    CHECK_INT(g.truncated, 1);
    CHECK_INT(g.body_len, 1000);
    CHECK_INT(strspn(g.body, "x"), 1000);

    /* exactly at the cap: complete, not truncated */
    req.url = url(f.srv.port, "/big?n=1000");
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 2, 5000));
    CHECK_INT(g.status, 200);
    CHECK_INT(g.truncated, 0);
    CHECK_INT(g.body_len, 1000);

    /* default cap (1 MiB) keeps a 300 kB body whole */
    req.url = url(f.srv.port, "/big?n=300000");
    req.max_response = 0;
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 3, 5000));
    CHECK_INT(g.truncated, 0);
    CHECK_INT(g.body_len, 300000);
done:
    got_reset(&g);
    fixture_teardown(&f);
}

/* A name for 127.0.0.1 that curl must really resolve: this host's own name when it maps
 * there (through curl's resolver thread), else "localhost" (which curl answers itself). */
static const char *loopback_name(char *buf, size_t len)
{
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int ok = 0;
    if (gethostname(buf, len) == 0 && getaddrinfo(buf, NULL, &hints, &ai) == 0 && ai) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ai->ai_addr;
        ok = ntohl(sin->sin_addr.s_addr) == INADDR_LOOPBACK;
    }
    if (ai)
        freeaddrinfo(ai);
    if (!ok)
        snprintf(buf, len, "localhost");
    return buf;
}

KR_TEST(host_names_are_resolved)
{
    fixture_t f;
    got_t g = { 0 };
    char name[256], u[320];
    if (fixture_setup(&f) != 0)
        goto done;
    snprintf(u, sizeof u, "http://%s:%d/echo?name=1", loopback_name(name, sizeof name),
             f.srv.port);
    kr_http_request_t req = { .method = "GET", .url = u };
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 1, 5000));
    CHECKF(g.status == 200, "%s: status %ld error %s", u, g.status, g.error);
    CHECK_STR(g.body, "GET /echo?name=1 ");
done:
    got_reset(&g);
    fixture_teardown(&f);
}

/* ---- failures ---- */

KR_TEST(server_that_never_answers_times_out)
{
    fixture_t f;
    got_t g = { 0 };
    int port = 0, fd = -1;
    if (fixture_setup(&f) != 0 || (fd = hang_listener(&port)) < 0)
        goto done;
    long tmo = (long)(300 * kr_test_tmout_mult());
    kr_http_request_t req = { .method = "POST", .url = url(port, "/hooks"), .body = "{}",
                              .body_len = 2, .timeout_ms = tmo };
    int64_t t0 = kr_mono_ms();
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 1, 5000));
    int64_t took = g.done_ms - t0;
    CHECK_INT(g.calls, 1);
    CHECK_INT(g.status, 0);
    CHECK_INT(g.result, KR_ETIMEDOUT);
    CHECKF(strstr(g.error, "imed out") != NULL, "error=%s", g.error);
    CHECKF(took >= tmo - 5 && took < tmo + (long)(500 * kr_test_tmout_mult()),
           "took %lld ms for a %ld ms timeout", (long long)took, tmo);
done:
    if (fd >= 0)
        close(fd);
    got_reset(&g);
    fixture_teardown(&f);
}

KR_TEST(connect_timeout_applies_alone)
{
    /* A listener with a full accept queue: Linux drops further SYNs, so the client's
     * connect hangs until its connect timeout (not the much longer whole timeout). */
    fixture_t f;
    got_t g = { 0 };
    int lfd = -1, port = 0, fillers[4] = { -1, -1, -1, -1 };
    if (fixture_setup(&f) != 0)
        goto done;
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sin;
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) || listen(lfd, 0) ||
        getsockname(lfd, (struct sockaddr *)&sin, &sl))
        goto done;
    port = ntohs(sin.sin_port);
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *)&sin, sizeof sin);
    }
    usleep(50000);
    long ctmo = (long)(300 * kr_test_tmout_mult());
    kr_http_request_t req = { .method = "GET", .url = url(port, "/"),
                              .timeout_ms = 20000, .connect_timeout_ms = ctmo };
    int64_t t0 = kr_mono_ms();
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 1, 5000));
    int64_t took = g.done_ms - t0;
    CHECK_INT(g.status, 0);
    CHECK_INT(g.result, KR_ETIMEDOUT);
    CHECKF(took >= ctmo - 5 && took < ctmo + (long)(1000 * kr_test_tmout_mult()),
           "took %lld ms for a %ld ms connect timeout (%s)", (long long)took, ctmo, g.error);
done:
    for (int i = 0; i < 4; i++)
        if (fillers[i] >= 0)
            close(fillers[i]);
    if (lfd >= 0)
        close(lfd);
    got_reset(&g);
    fixture_teardown(&f);
}

KR_TEST(connection_refused_reports_error)
{
    fixture_t f;
    got_t g = { 0 };
    if (fixture_setup(&f) != 0)
        goto done;
    kr_http_request_t req = { .method = "GET", .url = url(closed_port(), "/") };
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 1, 5000));
    CHECK_INT(g.calls, 1);
    CHECK_INT(g.status, 0);
    CHECK_INT(g.result, KR_EIO);
    CHECKF(strstr(g.error, "onnect") != NULL, "error=%s", g.error);
    CHECK_INT(g.body_len, 0);
    CHECK_STR(g.body, "");
done:
    got_reset(&g);
    fixture_teardown(&f);
}

/* ---- many at once, reuse, re-entrancy ---- */

#define NCONC 200

static void count_cb(const kr_http_response_t *r, void *arg)
{
    int *slot = arg;
    slot[0]++;
    /* the body echoes the URI, so each answer is checked against its own request */
    char want[64];
    snprintf(want, sizeof want, "GET /echo?i=%d ", slot[1]);
    slot[2] = r->status == 200 && r->body_len == strlen(want) && strcmp(r->body, want) == 0;
}

KR_TEST(concurrent_requests_complete_exactly_once)
{
    fixture_t f;
    static int slots[NCONC][3];
    int total = 0;
    if (fixture_setup(&f) != 0)
        goto done;
    for (int i = 0; i < NCONC; i++) {
        char path[32];
        slots[i][0] = 0;
        slots[i][1] = i;
        slots[i][2] = 0;
        snprintf(path, sizeof path, "/echo?i=%d", i);
        kr_http_request_t req = { .method = "GET", .url = url(f.srv.port, path) };
        CHECK_INT(kr_httpc_request(f.c, &req, count_cb, slots[i]), 0);
    }
    CHECK_INT(kr_httpc_pending(f.c), NCONC);
    int64_t deadline = kr_mono_ms() + (int64_t)(15000 * kr_test_tmout_mult());
    while (kr_httpc_pending(f.c) > 0 && kr_mono_ms() < deadline)
        run_for(f.base, 50);
    run_for(f.base, 50);
    int once = 0, right = 0;
    for (int i = 0; i < NCONC; i++) {
        total += slots[i][0];
        once += slots[i][0] == 1;
        right += slots[i][2];
    }
    CHECK_INT(once, NCONC);
    CHECK_INT(total, NCONC);
    CHECK_INT(right, NCONC);
    CHECK_INT(f.srv.nreq, NCONC);
    CHECK_INT(kr_httpc_pending(f.c), 0);
    /* at most 16 connections to one host by default: the rest reused them */
    CHECKF(f.srv.npeers >= 1 && f.srv.npeers <= 16, "%d connections", f.srv.npeers);
done:
    fixture_teardown(&f);
}

typedef struct {
    kr_httpc_t *c;
    int port;
    int left;
    int calls;
    int ok;
} chain_t;

static void chain_cb(const kr_http_response_t *r, void *arg)
{
    chain_t *ch = arg;
    ch->calls++;
    ch->ok += r->status == 200;
    if (--ch->left > 0) {
        kr_http_request_t req = { .method = "POST", .url = url(ch->port, "/echo"),
                                  .body = "again", .body_len = 5 };
        if (kr_httpc_request(ch->c, &req, chain_cb, ch) != 0)
            ch->left = 0;
    }
}

KR_TEST(keep_alive_reuses_one_connection_and_callbacks_may_request)
{
    fixture_t f;
    if (fixture_setup(&f) != 0)
        goto done;
    chain_t ch = { .c = f.c, .port = f.srv.port, .left = 5 };
    kr_http_request_t req = { .method = "GET", .url = url(f.srv.port, "/echo") };
    CHECK_INT(kr_httpc_request(f.c, &req, chain_cb, &ch), 0);
    CHECK(run_until(f.base, &ch.calls, 5, 5000));
    CHECK_INT(ch.calls, 5);
    CHECK_INT(ch.ok, 5);
    CHECK_INT(f.srv.nreq, 5);
    CHECK_INT(f.srv.npeers, 1);
    CHECK_STR(f.srv.body, "again");
done:
    fixture_teardown(&f);
}

typedef struct {
    kr_httpc_t *c;
    const char *url;
    int calls, status, cancelled, refused;
} cancel_t;

static void cancel_cb(const kr_http_response_t *r, void *arg)
{
    cancel_t *k = arg;
    k->calls++;
    k->status = (int)r->status;
    k->cancelled += r->result == KR_ESTATE && r->error && strcmp(r->error, "cancelled") == 0;
    /* starting a request while the client is being freed is refused */
    kr_http_request_t req = { .method = "GET", .url = k->url };
    k->refused += kr_httpc_request(k->c, &req, cancel_cb, k) == KR_ESTATE;
}

KR_TEST(free_with_pending_cancels_each_once)
{
    fixture_t f;
    int port = 0, fd = -1;
    cancel_t k[6];
    if (fixture_setup(&f) != 0 || (fd = hang_listener(&port)) < 0)
        goto done;
    memset(k, 0, sizeof k);
    for (int i = 0; i < 6; i++) {
        k[i].c = f.c;
        k[i].url = strdup(url(port, "/"));
        kr_http_request_t req = { .method = "POST", .url = k[i].url, .body = "p",
                                  .body_len = 1 };
        CHECK_INT(kr_httpc_request(f.c, &req, cancel_cb, &k[i]), 0);
        if (i == 3)
            run_for(f.base, 100); /* the first four are connected and sent; two are not */
    }
    CHECK_INT(kr_httpc_pending(f.c), 6);
    for (int i = 0; i < 6; i++)
        CHECK_INT(k[i].calls, 0);
    kr_httpc_free(f.c);
    f.c = NULL;
    for (int i = 0; i < 6; i++) {
        CHECK_INT(k[i].calls, 1);
        CHECK_INT(k[i].status, 0);
        CHECK_INT(k[i].cancelled, 1);
        CHECK_INT(k[i].refused, 1);
    }
    run_for(f.base, 50); /* nothing of the client is left on the loop */
    for (int i = 0; i < 6; i++) {
        CHECK_INT(k[i].calls, 1);
        free((char *)k[i].url);
    }
done:
    if (fd >= 0)
        close(fd);
    fixture_teardown(&f);
}

typedef struct {
    kr_httpc_t **cp;
    int calls;
    long status;
} freer_t;

static void freer_cb(const kr_http_response_t *r, void *arg)
{
    freer_t *fr = arg;
    fr->calls++;
    fr->status = r->status;
    kr_httpc_free(*fr->cp); /* deferred: the client goes once dispatch unwinds */
    *fr->cp = NULL;
}

KR_TEST(free_from_inside_a_callback)
{
    fixture_t f;
    int port = 0, fd = -1;
    got_t hung[3];
    memset(hung, 0, sizeof hung);
    if (fixture_setup(&f) != 0 || (fd = hang_listener(&port)) < 0)
        goto done;
    freer_t fr = { .cp = &f.c };
    for (int i = 0; i < 3; i++) {
        kr_http_request_t req = { .method = "GET", .url = url(port, "/") };
        CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &hung[i]), 0);
    }
    kr_http_request_t req = { .method = "GET", .url = url(f.srv.port, "/echo") };
    CHECK_INT(kr_httpc_request(f.c, &req, freer_cb, &fr), 0);
    CHECK(run_until(f.base, &fr.calls, 1, 5000));
    CHECK_INT(fr.calls, 1);
    CHECK_INT(fr.status, 200);
    CHECK(f.c == NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(hung[i].calls, 1);
        CHECK_STR(hung[i].error, "cancelled");
        CHECK_INT(hung[i].result, KR_ESTATE);
    }
    run_for(f.base, 50);
    for (int i = 0; i < 3; i++)
        CHECK_INT(hung[i].calls, 1);
done:
    for (int i = 0; i < 3; i++)
        got_reset(&hung[i]);
    if (fd >= 0)
        close(fd);
    fixture_teardown(&f);
}

/* ---- refusals ---- */

KR_TEST(bad_requests_are_refused_without_callback)
{
    static const char *const crlf_hdr[] = { "X-A: 1\r\nX-Injected: 2", NULL };
    static const char *const no_colon[] = { "X-A 1", NULL };
    static const char *const bad_name[] = { "X A: 1", NULL };
    static const char *const ok_hdrs[] = { "X-A: 1", "X-Empty:", NULL };
    static const struct {
        kr_http_request_t req;
        const char *err; /* NULL: accepted */
    } cases[] = {
        { { .method = "GET", .url = "http://h/" }, NULL },
        { { .method = "POST", .url = "HTTPS://h/x", .headers = ok_hdrs }, NULL },
        { { .method = NULL, .url = "http://h/" }, "the request has no method" },
        { { .method = "G T", .url = "http://h/" }, "method \"G T\" is not an HTTP token" },
        { { .method = "GET", .url = NULL }, "the request has no URL" },
        { { .method = "GET", .url = "ftp://h/f" },
          "URL scheme \"ftp\" is not http or https; other schemes are refused" },
        { { .method = "GET", .url = "file:///etc/passwd" },
          "URL scheme \"file\" is not http or https; other schemes are refused" },
        { { .method = "GET", .url = "http://h/a b" },
          "URL has a space or control character at offset 10; percent-encode it" },
        { { .method = "GET", .url = "http://h/", .headers = crlf_hdr },
          "header X-A contains CR or LF" },
        { { .method = "GET", .url = "http://h/", .headers = no_colon },
          "header 1 is not of the form \"Name: value\"" },
        { { .method = "GET", .url = "http://h/", .headers = bad_name },
          "header 1 has a name that is not an HTTP token" },
        { { .method = "POST", .url = "http://h/", .body_len = 3 },
          "body_len is 3 but body is NULL" },
        { { .method = "GET", .url = "http://h/", .timeout_ms = -1 },
          "timeouts and max_redirects must not be negative" },
    };
    fixture_t f;
    got_t g = { 0 };
    char err[256];
    if (fixture_setup(&f) != 0)
        goto done;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        int rc = kr_httpc_request_check(&cases[i].req, err, sizeof err);
        if (cases[i].err) {
            CHECKF(rc == KR_EINVAL, "case %zu rc=%d", i, rc);
            CHECK_STR(err, cases[i].err);
            CHECK_INT(kr_httpc_request(f.c, &cases[i].req, done_cb, &g), KR_EINVAL);
        } else {
            CHECKF(rc == 0, "case %zu: %s", i, err);
        }
    }
    CHECK_INT(kr_httpc_request_check(NULL, err, sizeof err), KR_EINVAL);
    kr_http_request_t ok = { .method = "GET", .url = url(f.srv.port, "/echo") };
    CHECK_INT(kr_httpc_request(f.c, &ok, NULL, NULL), KR_EINVAL);
    CHECK_INT(kr_httpc_request(NULL, &ok, done_cb, &g), KR_EINVAL);
    CHECK_INT(kr_httpc_pending(f.c), 0);
    run_for(f.base, 30);
    CHECK_INT(g.calls, 0);
    CHECK_INT(f.srv.nreq, 0);
    CHECK(kr_httpc_new(NULL, err, sizeof err) == NULL);
    CHECK_STR(err, "no event base given");
    CHECK_INT(kr_httpc_set_ca_file(f.c, "/nonexistent/ca.pem", err, sizeof err), KR_EINVAL);
    CHECK_STR(err, "cannot read CA file /nonexistent/ca.pem");
    CHECK_INT(kr_httpc_set_max_host_connections(f.c, -1), KR_EINVAL);
done:
    got_reset(&g);
    fixture_teardown(&f);
}

/* ---- TLS ---- */

typedef struct {
    int lfd;
    SSL_CTX *ctx;
    int served; /* handshakes completed and answered */
    int conns;  /* connections accepted */
} tls_server_t;

static void *tls_server_main(void *arg)
{
    tls_server_t *t = arg;
    /* Serves connections until none comes for 5 s (the test closes its side first). */
    for (;;) {
        struct pollfd p = { .fd = t->lfd, .events = POLLIN };
        if (poll(&p, 1, 5000) <= 0)
            break;
        int fd = accept(t->lfd, NULL, NULL);
        if (fd < 0)
            break;
        t->conns++;
        SSL *ssl = SSL_new(t->ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) {
            char buf[4096];
            size_t have = 0;
            int n;
            while (have < sizeof buf - 1 && (n = SSL_read(ssl, buf + have, (int)(sizeof buf - 1 - have))) > 0) {
                have += (size_t)n;
                buf[have] = 0;
                if (strstr(buf, "\r\n\r\n"))
                    break;
            }
            static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                       "Content-Length: 6\r\nConnection: close\r\n\r\nsecure";
            SSL_write(ssl, resp, (int)sizeof resp - 1);
            SSL_shutdown(ssl);
            t->served++;
        }
        SSL_free(ssl);
        close(fd);
        if (t->conns >= 2)
            break;
    }
    return NULL;
}

/* A self-signed certificate for IP 127.0.0.1, written as PEM to path. */
static int make_cert(const char *path, EVP_PKEY **keyp, X509 **certp)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    FILE *fp;
    if (!key || !x)
        return -1;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"kr-test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (!X509_sign(x, key, EVP_sha256()))
        return -1;
    fp = fopen(path, "w");
    if (!fp)
        return -1;
    PEM_write_X509(fp, x);
    fclose(fp);
    *keyp = key;
    *certp = x;
    return 0;
}

KR_TEST(tls_verification_is_on_and_ca_file_is_honoured)
{
    fixture_t f;
    got_t g = { 0 };
    tls_server_t t = { .lfd = -1 };
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    pthread_t th;
    int started = 0, port = 0;
    char ca[] = "/tmp/kr-httpc-ca.XXXXXX", err[256] = "";
    int cafd = mkstemp(ca);
    if (cafd >= 0)
        close(cafd);
    if (fixture_setup(&f) != 0 || cafd < 0 || make_cert(ca, &key, &cert) != 0) {
        CHECK(!"setup");
        goto done;
    }
    t.ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(t.ctx, cert);
    SSL_CTX_use_PrivateKey(t.ctx, key);
    if ((t.lfd = hang_listener(&port)) < 0)
        goto done;
    if (pthread_create(&th, NULL, tls_server_main, &t) != 0)
        goto done;
    started = 1;
    char u[64];
    snprintf(u, sizeof u, "https://127.0.0.1:%d/sns.pem", port);
    kr_http_request_t req = { .method = "GET", .url = u };

    /* the system store does not trust a self-signed certificate */
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 1, 5000));
    CHECK_INT(g.status, 0);
    CHECK_INT(g.result, KR_EAUTH);
    CHECKF(strstr(g.error, "certificate") != NULL, "error=%s", g.error);

    /* trusting it through the CA file, the same request succeeds */
    CHECKF(kr_httpc_set_ca_file(f.c, ca, err, sizeof err) == 0, "%s", err);
    CHECK_INT(kr_httpc_request(f.c, &req, done_cb, &g), 0);
    CHECK(run_until(f.base, &g.calls, 2, 5000));
    CHECK_INT(g.status, 200);
    CHECK_STR(g.body, "secure");
done:
    if (started)
        pthread_join(th, NULL);
    CHECK_INT(t.served, started ? 1 : 0);
    if (t.lfd >= 0)
        close(t.lfd);
    SSL_CTX_free(t.ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
    unlink(ca);
    got_reset(&g);
    fixture_teardown(&f);
}

/* ---- Retry-After ---- */

KR_TEST(retry_after_forms)
{
    /* 784111777 is Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110 5.6.7 */
    const time_t t0 = 784111777;
    static const struct { const char *in; long off; long want; } cases[] = {
        { "120", 0, 120 },
        { "0", 0, 0 },
        { " 7 \r\n", 0, 7 },
        { "99999999999999999999", 0, 2147483647 },
        { "Sun, 06 Nov 1994 08:49:37 GMT", -30, 30 },
        { "Sunday, 06-Nov-94 08:49:37 GMT", -30, 30 },
        { "Sun Nov  6 08:49:37 1994", -30, 30 },
        { "Sun Nov 16 08:49:37 1994", -30, 30 + 10 * 86400 },
        { "Sun, 06 Nov 1994 08:49:37 GMT", 3600, 0 },   /* already past */
        { "Sun, 06 Nov 1994 08:49:37 UTC", -30, -1 },
        { "Sun, 6 Nov 1994 08:49:37 GMT", -30, -1 },
        { "Sun, 31 Feb 1994 08:49:37 GMT", -30, -1 },
        { "Sun, 06 Nov 1994 25:49:37 GMT", -30, -1 },
        { "sun, 06 nov 1994 08:49:37 gmt", -30, -1 },
        { "Sun, 06 Nov 1994 08:49:37 GMT junk", -30, -1 },
        { "-5", 0, -1 },
        { "1.5", 0, -1 },
        { "12s", 0, -1 },
        { "", 0, -1 },
        { "   ", 0, -1 },
        { "soon", 0, -1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long got = kr_http_parse_retry_after(cases[i].in, t0 + cases[i].off);
        CHECKF(got == cases[i].want, "\"%s\": got %ld want %ld", cases[i].in, got,
               cases[i].want);
    }
    CHECK_INT(kr_http_parse_retry_after(NULL, t0), -1);
    /* RFC 850 two-digit years: more than 50 years ahead means the previous century */
    time_t y2030 = 1893456000; /* 2030-01-01 */
    CHECK_INT(kr_http_parse_retry_after("Tuesday, 01-Jan-30 00:01:00 GMT", y2030), 60);
    CHECK_INT(kr_http_parse_retry_after("Thursday, 01-Jan-81 00:00:00 GMT", y2030), 0);
}
