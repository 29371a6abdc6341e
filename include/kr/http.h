/* kr/http.h: helpers for the evhttp server: JSON replies, JSON errors, request bodies,
 * bearer tokens. Every reply goes through here so each request is counted by endpoint
 * and status in /metrics. Loop thread only. */
#ifndef KR_HTTP_H
#define KR_HTTP_H

#include <event2/http.h>
#include <jansson.h>
#include <stddef.h>

#include "kr/daemon.h"

/* Replies with `body` (stolen) as JSON and counts the request under `endpoint`. */
void kr_http_reply_json(kr_daemon_t *d, struct evhttp_request *req, const char *endpoint,
                        int code, json_t *body);
/* Replies {"error": "<message>"} with the given status. */
void kr_http_reply_error(kr_daemon_t *d, struct evhttp_request *req, const char *endpoint,
                         int code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Replies with a text body of the given content type. */
void kr_http_reply_text(kr_daemon_t *d, struct evhttp_request *req, const char *endpoint,
                        int code, const char *content_type, const char *text, size_t len);
/* The request body as a NUL-terminated buffer (borrowed until the reply) and its length.
 * Call it once per request: it appends the terminating NUL to the input buffer. */
const char *kr_http_body(struct evhttp_request *req, size_t *len);
/* Compares a secret in constant time (length leaks only through the result). */
int kr_http_secret_equal(const char *given, const char *expected);
/* 1 if the request carries "Authorization: Bearer <token>" equal to token. */
int kr_http_bearer_ok(struct evhttp_request *req, const char *token);

/* A route handler: replies exactly once (now or later, e.g. after the journal's fsync).
 * `rest` is the part of the path after a prefix route ("" for exact routes). */
typedef void (*kr_http_handler_fn)(kr_daemon_t *d, struct evhttp_request *req, const char *rest);

/* Registers a route before kr_http_start. methods: EVHTTP_REQ_GET|EVHTTP_REQ_POST...;
 * a path ending in '/' is a prefix. `endpoint` names it in metrics (e.g. "/v1/incidents/{id}").
 * A request whose path matches but method does not gets 405 with an Allow header. */
int kr_http_route(kr_daemon_t *d, int methods, const char *path, const char *endpoint,
                  kr_http_handler_fn fn);

/* Starts the server on cfg->listen with the registered routes. Returns 0 or an error. */
int kr_http_start(kr_daemon_t *d, char *err, size_t errlen);
void kr_http_stop(kr_daemon_t *d);

#endif
