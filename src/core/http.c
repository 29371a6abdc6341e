/* core/http.c: the evhttp server: a table of routes, limits (body, headers, timeout),
 * 404/405/413 as JSON errors, and per-endpoint request metrics. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "kr/err.h"
#include "kr/http.h"
#include "kr/log.h"

#define MAX_ROUTES 64

typedef struct {
    int methods;
    char path[128];
    char endpoint[128];
    int prefix;
    kr_http_handler_fn fn;
} route_t;

/* The route table lives with the server: one per process is all the daemon needs, but it
 * hangs off the daemon through this struct to keep to "no hidden globals". */
typedef struct conn_slot {
    struct evhttp_connection *evcon;
    struct conn_slot *next;
} conn_slot_t;

typedef struct {
    route_t routes[MAX_ROUTES];
    int nroutes;
    /* connections that have sent a request, for http.max_connections (libevent 2.1 has
     * no connection cap of its own); each is forgotten by its close callback */
    conn_slot_t *conns[256];
    long nconns;
    kr_daemon_t *d;
} route_table_t;

static route_table_t *table_of(kr_daemon_t *d) { return (route_table_t *)d->routes; }

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "OTHER";
}

static void count(kr_daemon_t *d, const char *endpoint, int code)
{
    char labels[256], esc[160];
    snprintf(labels, sizeof labels, "endpoint=\"%s\",code=\"%d\"",
             kr_metrics_escape(endpoint, esc, sizeof esc), code);
    kr_metrics_add(d->metrics, KR_M_http_requests_total, labels, 1);
}

void kr_http_reply_text(kr_daemon_t *d, struct evhttp_request *req, const char *endpoint,
                        int code, const char *content_type, const char *text, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", content_type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (buf)
        evbuffer_add(buf, text, len);
    evhttp_send_reply(req, code, NULL, buf);
    if (buf)
        evbuffer_free(buf);
    count(d, endpoint, code);
}

void kr_http_reply_json(kr_daemon_t *d, struct evhttp_request *req, const char *endpoint,
                        int code, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!s) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        kr_http_reply_text(d, req, endpoint, 500, "application/json", oom, sizeof oom - 1);
    } else {
        size_t n = strlen(s);
        s[n] = 0;
        char *t = realloc(s, n + 2);
        if (t) {
            s = t;
            s[n++] = '\n';
            s[n] = 0;
        }
        kr_http_reply_text(d, req, endpoint, code, "application/json", s, n);
    }
    free(s);
    json_decref(body);
}

void kr_http_reply_error(kr_daemon_t *d, struct evhttp_request *req, const char *endpoint,
                         int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kr_http_reply_json(d, req, endpoint, code, json_pack("{s:s}", "error", msg));
}

const char *kr_http_body(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    /* a trailing NUL makes the body a C string for parsers; it is not counted in len */
    evbuffer_add(in, "", 1);
    if (len)
        *len = n;
    return (const char *)evbuffer_pullup(in, -1);
}

int kr_http_secret_equal(const char *given, const char *expected)
{
    size_t gl = given ? strlen(given) : 0, el = expected ? strlen(expected) : 0;
    unsigned char diff = (unsigned char)(gl != el);
    if (!given || !expected || !el)
        return 0;
    for (size_t i = 0; i < el; i++)
        diff |= (unsigned char)(given[i < gl ? i : 0] ^ expected[i]);
    return diff == 0;
}

int kr_http_bearer_ok(struct evhttp_request *req, const char *token)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!h || !token || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    return kr_http_secret_equal(h + 7, token);
}

int kr_http_route(kr_daemon_t *d, int methods, const char *path, const char *endpoint,
                  kr_http_handler_fn fn)
{
    route_table_t *t = table_of(d);
    if (!t) {
        if (!(t = calloc(1, sizeof *t)))
            return KR_ENOMEM;
        d->routes = t;
    }
    if (t->nroutes == MAX_ROUTES || strlen(path) >= sizeof t->routes[0].path)
        return KR_EINVAL;
    route_t *r = &t->routes[t->nroutes++];
    r->methods = methods;
    snprintf(r->path, sizeof r->path, "%s", path);
    snprintf(r->endpoint, sizeof r->endpoint, "%s", endpoint);
    r->prefix = path[strlen(path) - 1] == '/';
    r->fn = fn;
    return KR_OK;
}

static void allow_header(struct evhttp_request *req, int methods)
{
    char allow[64] = "";
    static const int order[] = { EVHTTP_REQ_GET, EVHTTP_REQ_POST, EVHTTP_REQ_PUT, EVHTTP_REQ_DELETE };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (methods & order[i]) {
            if (allow[0])
                strcat(allow, ", ");
            strcat(allow, method_name((enum evhttp_cmd_type)order[i]));
        }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
}

static unsigned conn_hash(const void *p) { return (unsigned)(((uintptr_t)p >> 4) % 256); }

static void conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
    route_table_t *t = arg;
    for (conn_slot_t **pp = &t->conns[conn_hash(evcon)]; *pp; pp = &(*pp)->next)
        if ((*pp)->evcon == evcon) {
            conn_slot_t *s = *pp;
            *pp = s->next;
            free(s);
            t->nconns--;
            return;
        }
}

/* Returns 1 if the request's connection is within the cap (registering it on its first
 * request), 0 if it is one too many. */
static int conn_admit(route_table_t *t, struct evhttp_request *req, long cap)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (!evcon)
        return 1;
    for (conn_slot_t *s = t->conns[conn_hash(evcon)]; s; s = s->next)
        if (s->evcon == evcon)
            return 1;
    if (t->nconns >= cap)
        return 0;
    conn_slot_t *s = calloc(1, sizeof *s);
    if (!s)
        return 0;
    s->evcon = evcon;
    s->next = t->conns[conn_hash(evcon)];
    t->conns[conn_hash(evcon)] = s;
    t->nconns++;
    evhttp_connection_set_closecb(evcon, conn_closed_cb, t);
    return 1;
}

static void dispatch_cb(struct evhttp_request *req, void *arg)
{
    kr_daemon_t *d = arg;
    route_table_t *t = table_of(d);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    const route_t *path_match = NULL;

    if (!path || !*path)
        path = "/";
    if (d->stopping) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        kr_http_reply_error(d, req, "other", 503, "shutting down");
        return;
    }
    if (t && !conn_admit(t, req, (long)d->cfg->http_max_connections)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        kr_http_reply_error(d, req, "other", 503, "too many connections (http.max_connections = %lld)",
                            (long long)d->cfg->http_max_connections);
        return;
    }
    for (int i = 0; t && i < t->nroutes; i++) {
        const route_t *r = &t->routes[i];
        int m = r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0 && path[strlen(r->path)]
                          : strcmp(path, r->path) == 0;
        if (!m)
            continue;
        if (!(r->methods & (int)method)) {
            path_match = r;
            continue;
        }
        size_t len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
        if ((int64_t)len > d->cfg->http_body_limit) {
            kr_http_reply_error(d, req, r->endpoint, 413,
                                "request body of %zu bytes is larger than the limit of %lld bytes (http.body_limit)",
                                len, (long long)d->cfg->http_body_limit);
            return;
        }
        r->fn(d, req, r->prefix ? path + strlen(r->path) : "");
        return;
    }
    if (path_match) {
        allow_header(req, path_match->methods);
        kr_http_reply_error(d, req, path_match->endpoint, 405, "method %s not allowed on %s",
                            method_name(method), path_match->path);
        return;
    }
    kr_http_reply_error(d, req, "other", 404, "no such endpoint: %s", path);
}

int kr_http_start(kr_daemon_t *d, char *err, size_t errlen)
{
    char host[64];
    const char *colon = strrchr(d->cfg->listen, ':');
    int port;
    struct evhttp_bound_socket *bs;

    if (!colon || (size_t)(colon - d->cfg->listen) >= sizeof host)
        return kr_seterr(err, errlen, KR_EINVAL, "listen: expected HOST:PORT, got \"%s\"", d->cfg->listen);
    memcpy(host, d->cfg->listen, (size_t)(colon - d->cfg->listen));
    host[colon - d->cfg->listen] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    port = atoi(colon + 1);
    if (!(d->http = evhttp_new(d->base)))
        return kr_seterr(err, errlen, KR_ENOMEM, "http: cannot create the server");
    /* The route table answers 405 itself, as JSON: let every method through evhttp. */
    evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                            EVHTTP_REQ_PATCH);
    /* Bodies above http.body_limit get a JSON 413 from dispatch_cb; evhttp's own cap only
     * bounds memory for absurd sizes (its 413 is not JSON). */
    int64_t hard = d->cfg->http_body_limit * 4;
    evhttp_set_max_body_size(d->http, (ev_ssize_t)(hard < (1 << 20) ? (1 << 20) : hard));
    evhttp_set_max_headers_size(d->http, 64 * 1024);
    evhttp_set_timeout(d->http, (int)((d->cfg->http_timeout_ms + 999) / 1000));
    evhttp_set_gencb(d->http, dispatch_cb, d);
    if (!(bs = evhttp_bind_socket_with_handle(d->http, host, (ev_uint16_t)port)))
        return kr_seterr(err, errlen, KR_EIO, "http: cannot listen on %s", d->cfg->listen);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        char addr[INET6_ADDRSTRLEN] = "?";
        int p = 0;
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
            p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr);
            p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        snprintf(d->bound, sizeof d->bound, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", addr, p);
    }
    KR_INFO("http", "msg=\"listening\" addr=%s body_limit=%lld timeout_ms=%lld", d->bound,
            (long long)d->cfg->http_body_limit, (long long)d->cfg->http_timeout_ms);
    return KR_OK;
}

void kr_http_stop(kr_daemon_t *d)
{
    route_table_t *t = table_of(d);
    if (d->http)
        evhttp_free(d->http); /* runs the close callbacks of the open connections */
    d->http = NULL;
    for (int i = 0; t && i < 256; i++)
        while (t->conns[i]) {
            conn_slot_t *s = t->conns[i];
            t->conns[i] = s->next;
            free(s);
        }
    free(d->routes);
    d->routes = NULL;
}
