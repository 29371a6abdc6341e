/* bench/httpc.c: throughput and latency of the async HTTP client against an evhttp server
 * on the same loop (so the numbers include the server's work), and how long the loop
 * ever goes without turning while hundreds of requests are in flight. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "kr/httpc.h"
#include "kr/units.h"

typedef struct {
    struct event_base *base;
    kr_httpc_t *c;
    char url[128];
    int total, started, done, errors;
    int64_t *lat_us;
    int64_t *start_us;
    int64_t last_tick_us, max_gap_us;
} bench_t;

/* Each request's arg is a slot holding the bench pointer; its index is its number. */
static bench_t **slots;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void server_cb(struct evhttp_request *req, void *arg)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, "ok", 2);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void start_one(bench_t *b);
static void done_slot_cb(const kr_http_response_t *r, void *arg)
{
    bench_t **slot = arg;
    bench_t *b = *slot;
    size_t i = (size_t)(slot - slots);
    b->lat_us[i] = now_us() - b->start_us[i];
    b->done++;
    if (r->status != 200)
        b->errors++;
    if (b->started < b->total)
        start_one(b);
}

static void start_one(bench_t *b)
{
    int i = b->started++;
    kr_http_request_t req = { .method = "POST", .url = b->url, .body = "{\"text\":\"x\"}",
                              .body_len = 12 };
    slots[i] = b;
    b->start_us[i] = now_us();
    if (kr_httpc_request(b->c, &req, done_slot_cb, &slots[i]) != 0) {
        b->errors++;
        b->done++;
    }
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    bench_t *b = arg;
    int64_t t = now_us();
    if (b->last_tick_us && t - b->last_tick_us > b->max_gap_us)
        b->max_gap_us = t - b->last_tick_us;
    b->last_tick_us = t;
    if (b->done >= b->total)
        event_base_loopbreak(b->base);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int run(struct event_base *base, kr_httpc_t *c, const char *url, int total, int conc)
{
    bench_t b = { .base = base, .c = c, .total = total };
    snprintf(b.url, sizeof b.url, "%s", url);
    b.lat_us = calloc((size_t)total, sizeof *b.lat_us);
    b.start_us = calloc((size_t)total, sizeof *b.start_us);
    slots = calloc((size_t)total, sizeof *slots);
    struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, &b);
    struct timeval ms = { 0, 1000 };
    event_add(tick, &ms);
    int64_t t0 = now_us();
    for (int i = 0; i < conc && b.started < total; i++)
        start_one(&b);
    event_base_dispatch(base);
    int64_t took = now_us() - t0;
    event_free(tick);
    qsort(b.lat_us, (size_t)total, sizeof *b.lat_us, cmp64);
    printf("httpc: %5d POSTs, %3d in flight: %7.0f req/s, latency p50 %5.2f ms p99 %5.2f ms "
           "max %5.2f ms, errors %d, longest loop gap %.2f ms\n",
           total, conc, total / (took / 1e6), b.lat_us[total / 2] / 1e3,
           b.lat_us[(int)(total * 0.99)] / 1e3, b.lat_us[total - 1] / 1e3, b.errors,
           b.max_gap_us / 1e3);
    free(b.lat_us);
    free(b.start_us);
    free(slots);
    return b.errors ? 1 : 0;
}

int main(void)
{
    char err[256], url[128];
    /* A precise clock: the default coarse one ticks every 4 ms, which would hide gaps. */
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    struct evhttp *http = evhttp_new(base);
    evhttp_set_gencb(http, server_cb, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    if (!bs) {
        fprintf(stderr, "httpc bench: cannot listen\n");
        return 1;
    }
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", ntohs(sin.sin_port));
    kr_httpc_t *c = kr_httpc_new(base, err, sizeof err);
    if (!c) {
        fprintf(stderr, "httpc bench: %s\n", err);
        return 1;
    }
    int rc = 0;
    rc |= run(base, c, url, 2000, 1);
    rc |= run(base, c, url, 5000, 16);
    rc |= run(base, c, url, 5000, 500);
    kr_httpc_free(c);
    evhttp_free(http);
    event_base_free(base);
    return rc;
}
