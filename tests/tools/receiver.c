/* tests/tools/receiver.c: a stand-in for Slack, PagerDuty, webhooks and SNS endpoints in
 * tests and the demo. It records every request as one JSON line, answers with a scripted
 * status sequence (or hangs, or answers late), and can print pages readably. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>

#include "kr/units.h"

#define MAX_SCRIPT 256

static const char usage_text[] =
    "usage: receiver --listen HOST:PORT [--out FILE.jsonl] [--script 500,500,200]\n"
    "                [--status N] [--retry-after VALUE] [--body TEXT] [--hang]\n"
    "                [--delay-ms N] [--pretty]\n"
    "Prints the bound HOST:PORT on the first line of stdout, then serves until SIGTERM or\n"
    "SIGINT (exit 0).\n"
    "  --out FILE        append one JSON line per request (flushed per request):\n"
    "                    {seq, time, method, path, query, headers, body, json, status}\n"
    "                    headers: lower-case names, repeated ones joined with \", \";\n"
    "                    body: the raw body (null plus body_base64 when not UTF-8);\n"
    "                    json: the body parsed, or null; status: the status answered,\n"
    "                    null when the request is held (--hang)\n"
    "  --script LIST     statuses for successive requests; the last one repeats\n"
    "  --status N        the status of every request when there is no script (200)\n"
    "  --retry-after V   send \"Retry-After: V\" with every answer\n"
    "  --body TEXT       the answer's body (default \"ok\", as Slack answers)\n"
    "  --hang            record requests but never answer them\n"
    "  --delay-ms N      answer each request N ms after it arrived\n"
    "  --pretty          print Slack messages and PagerDuty events readably on stdout\n";

typedef struct held held_t;

typedef struct {
    struct event_base *base;
    struct evhttp *http;
    FILE *out;
    int script[MAX_SCRIPT];
    int nscript;
    int status;
    const char *retry_after;
    const char *body;
    int hang;
    long delay_ms;
    int pretty;
    long seq;
    held_t *held; /* requests not yet answered (--hang, --delay-ms) */
} receiver_t;

/* A request answered later (or never). */
struct held {
    receiver_t *r;
    struct evhttp_request *req;
    struct event *timer;
    int status;
    held_t *prev, *next;
};

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "UNKNOWN";
    }
}

static int next_status(receiver_t *r, long seq)
{
    if (r->nscript == 0)
        return r->status;
    return r->script[seq - 1 < r->nscript ? seq - 1 : r->nscript - 1];
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

static void answer(receiver_t *r, struct evhttp_request *req, int status)
{
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    if (r->retry_after)
        evhttp_add_header(out, "Retry-After", r->retry_after);
    evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
    if (b)
        evbuffer_add(b, r->body, strlen(r->body));
    evhttp_send_reply(req, status, reason_of(status), b);
    if (b)
        evbuffer_free(b);
}

static void held_unlink(held_t *h)
{
    receiver_t *r = h->r;
    if (h->prev)
        h->prev->next = h->next;
    else
        r->held = h->next;
    if (h->next)
        h->next->prev = h->prev;
}

static void delayed_cb(evutil_socket_t fd, short what, void *arg)
{
    held_t *h = arg;
    held_unlink(h);
    /* libevent keeps an unanswered request alive when its connection closes and frees it
     * when answered, so answering here is safe either way. */
    answer(h->r, h->req, h->status);
    event_free(h->timer);
    free(h);
}

/* ---- recording ---- */

static json_t *headers_json(struct evkeyvalq *in)
{
    json_t *h = json_object();
    struct evkeyval *kv;
    for (kv = in->tqh_first; kv; kv = kv->next.tqe_next) {
        char name[256];
        size_t i = 0;
        for (; kv->key[i] && i + 1 < sizeof name; i++)
            name[i] = (char)tolower((unsigned char)kv->key[i]);
        name[i] = 0;
        json_t *old = json_object_get(h, name);
        if (old && json_is_string(old)) {
            char *joined = NULL;
            if (asprintf(&joined, "%s, %s", json_string_value(old), kv->value) >= 0) {
                json_object_set_new(h, name, json_string(joined));
                free(joined);
            }
        } else {
            json_t *v = json_string(kv->value);
            json_object_set_new(h, name, v ? v : json_null());
        }
    }
    return h;
}

static json_t *record_of(receiver_t *r, struct evhttp_request *req, const char *body,
                         size_t len, json_t *parsed, int status)
{
    char ts[32];
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    json_t *rec = json_object();
    json_t *b = json_stringn(body, len);

    json_object_set_new(rec, "seq", json_integer(r->seq));
    json_object_set_new(rec, "time", json_string(kr_time_format(kr_now_ms(), ts, sizeof ts)));
    json_object_set_new(rec, "method", json_string(method_name(evhttp_request_get_command(req))));
    json_object_set_new(rec, "path", path ? json_string(path) : json_null());
    json_object_set_new(rec, "query", query ? json_string(query) : json_null());
    json_object_set_new(rec, "headers", headers_json(evhttp_request_get_input_headers(req)));
    if (b) {
        json_object_set_new(rec, "body", b);
    } else {
        /* not UTF-8: JSON strings cannot hold it, base64 can */
        char *enc = malloc(4 * ((len + 2) / 3) + 1);
        if (enc) {
            EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)body, (int)len);
            json_object_set_new(rec, "body_base64", json_string(enc));
            free(enc);
        }
        json_object_set_new(rec, "body", json_null());
    }
    json_object_set(rec, "json", parsed ? parsed : json_null());
    json_object_set_new(rec, "status", status ? json_integer(status) : json_null());
    return rec;
}

/* ---- pretty printing (demo) ---- */

static const char *str_at(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Text of a Block Kit text object ({type: plain_text|mrkdwn, text}). */
static const char *text_of(json_t *t)
{
    return json_is_object(t) ? str_at(t, "text") : json_is_string(t) ? json_string_value(t) : NULL;
}

static void print_indented(const char *prefix, const char *text)
{
    const char *p = text;
    while (p && *p) {
        size_t n = strcspn(p, "\n");
        printf("%s%.*s\n", prefix, (int)n, p);
        p += n;
        if (*p == '\n')
            p++;
    }
}

static void print_elements(const char *prefix, json_t *elements)
{
    size_t i;
    json_t *el;
    json_array_foreach(elements, i, el) {
        const char *type = str_at(el, "type");
        if (type && strcmp(type, "button") == 0) {
            const char *u = str_at(el, "url");
            printf("%s[%s]%s%s\n", prefix, text_of(json_object_get(el, "text")) ?: "button",
                   u ? " -> " : "", u ? u : "");
        } else if (type && strcmp(type, "image") == 0) {
            printf("%s(image: %s)\n", prefix, str_at(el, "alt_text") ?: "");
        } else if (text_of(el)) {
            print_indented(prefix, text_of(el));
        }
    }
}

static void print_blocks(json_t *blocks)
{
    size_t i;
    json_t *b;
    json_array_foreach(blocks, i, b) {
        const char *type = str_at(b, "type");
        if (!type)
            continue;
        if (strcmp(type, "header") == 0) {
            printf("  # %s\n", text_of(json_object_get(b, "text")) ?: "");
        } else if (strcmp(type, "section") == 0) {
            print_indented("  ", text_of(json_object_get(b, "text")));
            size_t j;
            json_t *f;
            json_array_foreach(json_object_get(b, "fields"), j, f) {
                const char *t = text_of(f);
                char line[512];
                /* fields are usually "*Label:*\nvalue": show them on one line */
                snprintf(line, sizeof line, "%s", t ? t : "");
                for (char *c = line; *c; c++)
                    if (*c == '\n')
                        *c = ' ';
                printf("    - %s\n", line);
            }
            json_t *acc = json_object_get(b, "accessory");
            if (acc) {
                json_t *one = json_array();
                json_array_append(one, acc);
                print_elements("    ", one);
                json_decref(one);
            }
        } else if (strcmp(type, "context") == 0) {
            print_elements("  > ", json_object_get(b, "elements"));
        } else if (strcmp(type, "actions") == 0) {
            print_elements("  ", json_object_get(b, "elements"));
        } else if (strcmp(type, "divider") == 0) {
            printf("  ----\n");
        } else {
            printf("  (%s block)\n", type);
        }
    }
}

static void print_slack(const char *path, json_t *m)
{
    printf("[slack] %s\n", path);
    /* with blocks, "text" is only the notification fallback: Slack shows the blocks */
    if (str_at(m, "text") && !json_array_size(json_object_get(m, "blocks")))
        print_indented("  ", str_at(m, "text"));
    print_blocks(json_object_get(m, "blocks"));
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(m, "attachments"), i, a) {
        printf("  | attachment%s%s\n", str_at(a, "color") ? " color=" : "",
               str_at(a, "color") ?: "");
        if (str_at(a, "text"))
            print_indented("  | ", str_at(a, "text"));
        print_blocks(json_object_get(a, "blocks"));
    }
}

static void print_pagerduty(const char *path, json_t *m)
{
    json_t *p = json_object_get(m, "payload");
    const char *action = str_at(m, "event_action");
    char upper[32] = "EVENT";
    if (action) {
        snprintf(upper, sizeof upper, "%s", action);
        for (char *c = upper; *c; c++)
            *c = (char)toupper((unsigned char)*c);
    }
    /* routing_key is a secret: never printed */
    printf("[pagerduty] %s %s dedup_key=%s", path, upper, str_at(m, "dedup_key") ?: "-");
    if (str_at(p, "severity"))
        printf(" severity=%s", str_at(p, "severity"));
    printf("\n");
    static const char *const keys[] = { "summary", "source", "component", "group", "class",
                                        "timestamp" };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (str_at(p, keys[k]))
            printf("  %s: %s\n", keys[k], str_at(p, keys[k]));
    json_t *cd = json_object_get(p, "custom_details");
    if (cd) {
        char *s = json_dumps(cd, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (s)
            printf("  details: %s\n", s);
        free(s);
    }
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(m, "links"), i, l)
        printf("  link: %s <%s>\n", str_at(l, "text") ?: "", str_at(l, "href") ?: "");
}

static void print_pretty(struct evhttp_request *req, const char *body, size_t len, json_t *m)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri && evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri) : "/";
    if (json_is_object(m) && (json_object_get(m, "routing_key") || json_object_get(m, "event_action")))
        print_pagerduty(path, m);
    else if (json_is_object(m) && (json_object_get(m, "blocks") || json_object_get(m, "text") ||
                                   json_object_get(m, "attachments")))
        print_slack(path, m);
    else {
        char shown[301];
        size_t n = len > 300 ? 300 : len;
        for (size_t i = 0; i < n; i++)
            shown[i] = isprint((unsigned char)body[i]) ? body[i] : '.';
        shown[n] = 0;
        printf("[webhook] %s %s %s%s\n", method_name(evhttp_request_get_command(req)), path,
               shown, len > 300 ? "..." : "");
    }
    fflush(stdout);
}

/* ---- serving ---- */

static void request_cb(struct evhttp_request *req, void *arg)
{
    receiver_t *r = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char *body = malloc(len + 1);
    json_t *parsed = NULL, *rec = NULL;
    int status;

    if (!body) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evbuffer_copyout(in, body, len);
    body[len] = 0;
    r->seq++;
    status = next_status(r, r->seq);
    parsed = json_loadb(body, len, JSON_DECODE_ANY, NULL);
    rec = record_of(r, req, body, len, parsed, r->hang ? 0 : status);
    if (r->out && rec) {
        char *line = json_dumps(rec, JSON_COMPACT | JSON_ENCODE_ANY);
        if (line) {
            fputs(line, r->out);
            fputc('\n', r->out);
            fflush(r->out);
            free(line);
        }
    }
    if (r->pretty)
        print_pretty(req, body, len, parsed);
    json_decref(rec);
    json_decref(parsed);
    free(body);

    if (r->hang || r->delay_ms > 0) {
        held_t *h = calloc(1, sizeof *h);
        if (!h) {
            answer(r, req, 500);
            return;
        }
        h->r = r;
        h->req = req;
        h->status = status;
        h->next = r->held;
        if (r->held)
            r->held->prev = h;
        r->held = h;
        if (!r->hang) {
            struct timeval tv = { r->delay_ms / 1000, (r->delay_ms % 1000) * 1000 };
            h->timer = evtimer_new(r->base, delayed_cb, h);
            evtimer_add(h->timer, &tv);
        }
        return;
    }
    answer(r, req, status);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopbreak(arg);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_script(receiver_t *r, const char *s)
{
    char *copy = strdup(s), *save = NULL, *tok;
    int rc = 0;
    r->nscript = 0;
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long v;
        while (*tok == ' ')
            tok++;
        if (r->nscript >= MAX_SCRIPT || parse_long(tok, 100, 599, &v) != 0) {
            rc = -1;
            break;
        }
        r->script[r->nscript++] = (int)v;
    }
    free(copy);
    return rc == 0 && r->nscript > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    receiver_t r = { .status = 200, .body = "ok" };
    const char *listen_at = NULL, *out_path = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    struct evhttp_bound_socket *bound;
    int rc = 2;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (strcmp(a, "--hang") == 0) {
            r.hang = 1;
            continue;
        }
        if (strcmp(a, "--pretty") == 0) {
            r.pretty = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "receiver: %s needs a value\n%s", a, usage_text);
            return 2;
        }
        i++;
        if (strcmp(a, "--listen") == 0) {
            listen_at = v;
        } else if (strcmp(a, "--out") == 0) {
            out_path = v;
        } else if (strcmp(a, "--script") == 0) {
            if (parse_script(&r, v) != 0) {
                fprintf(stderr, "receiver: --script wants statuses 100-599 separated by "
                                "commas, got \"%s\"\n", v);
                return 2;
            }
        } else if (strcmp(a, "--status") == 0) {
            if (parse_long(v, 100, 599, &n) != 0) {
                fprintf(stderr, "receiver: --status wants a status 100-599, got \"%s\"\n", v);
                return 2;
            }
            r.status = (int)n;
        } else if (strcmp(a, "--retry-after") == 0) {
            r.retry_after = v;
        } else if (strcmp(a, "--body") == 0) {
            r.body = v;
        } else if (strcmp(a, "--delay-ms") == 0) {
            if (parse_long(v, 0, 3600000, &n) != 0) {
                fprintf(stderr, "receiver: --delay-ms wants 0-3600000, got \"%s\"\n", v);
                return 2;
            }
            r.delay_ms = n;
        } else {
            fprintf(stderr, "receiver: unknown option %s\n%s", a, usage_text);
            return 2;
        }
    }
    if (!listen_at) {
        fprintf(stderr, "receiver: --listen HOST:PORT is required\n%s", usage_text);
        return 2;
    }
    char host[256];
    const char *colon = strrchr(listen_at, ':');
    long port;
    if (!colon || (size_t)(colon - listen_at) >= sizeof host ||
        parse_long(colon + 1, 0, 65535, &port) != 0) {
        fprintf(stderr, "receiver: --listen wants HOST:PORT, got \"%s\"\n", listen_at);
        return 2;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen_at), listen_at);

    signal(SIGPIPE, SIG_IGN);
    if (out_path && !(r.out = fopen(out_path, "a"))) {
        fprintf(stderr, "receiver: cannot open %s: %s\n", out_path, strerror(errno));
        goto done;
    }
    if (!(r.base = event_base_new()) || !(r.http = evhttp_new(r.base))) {
        fprintf(stderr, "receiver: cannot create the event loop\n");
        goto done;
    }
    evhttp_set_allowed_methods(r.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                           EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(r.http, 16 << 20);
    evhttp_set_gencb(r.http, request_cb, &r);
    if (!(bound = evhttp_bind_socket_with_handle(r.http, host, (ev_uint16_t)port))) {
        fprintf(stderr, "receiver: cannot listen on %s: %s\n", listen_at, strerror(errno));
        goto done;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char addr[INET6_ADDRSTRLEN] = "?";
    int bport = 0;
    getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl);
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr);
        bport = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        printf("[%s]:%d\n", addr, bport);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
        bport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        printf("%s:%d\n", addr, bport);
    }
    fflush(stdout);
    sigterm = evsignal_new(r.base, SIGTERM, signal_cb, r.base);
    sigint = evsignal_new(r.base, SIGINT, signal_cb, r.base);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL)) {
        fprintf(stderr, "receiver: cannot install signal handlers\n");
        goto done;
    }
    event_base_dispatch(r.base);
    rc = 0;
done:
    /* Held requests: drop the timers; libevent frees the requests still tied to a
     * connection with it, the ones whose client left are ours to free. */
    while (r.held) {
        held_t *h = r.held;
        r.held = h->next;
        if (h->timer)
            event_free(h->timer);
        if (!evhttp_request_get_connection(h->req))
            evhttp_request_free(h->req);
        free(h);
    }
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (r.http)
        evhttp_free(r.http);
    if (r.base)
        event_base_free(r.base);
    if (r.out)
        fclose(r.out);
    return rc;
}
