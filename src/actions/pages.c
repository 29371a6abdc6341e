/* actions/pages.c: the page message builders (kr/pager.h): Slack Block Kit messages,
 * PagerDuty Events API v2 events, generic webhook documents, and the webhook signature.
 * Pure functions of a page document; any thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "kr/err.h"
#include "kr/event.h"
#include "kr/pager.h"
#include "kr/units.h"

/* Slack's documented limits (Block Kit reference). */
#define SLACK_HEADER_MAX 150
#define SLACK_SECTION_MAX 3000
#define SLACK_FIELD_MAX 2000
#define SLACK_FIELDS_MAX 10
#define SLACK_CONTEXT_MAX 3000
/* PagerDuty Events API v2: payload.summary is at most 1024 characters. */
#define PD_SUMMARY_MAX 1024

/* ---- text helpers ---- */

char *kr_page_truncate(const char *s, size_t max)
{
    size_t chars = 0, i, cut = 0;
    if (!s)
        s = "";
    for (i = 0; s[i]; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (chars == (max ? max - 1 : 0))
                cut = i;
            chars++;
        }
    if (chars <= max)
        return strdup(s);
    /* keep max-1 characters and an ellipsis */
    char *out = malloc(cut + 4);
    if (!out)
        return NULL;
    memcpy(out, s, cut);
    memcpy(out + cut, "\xE2\x80\xA6", 4);
    return out;
}

/* A growable string. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} buf_t;

static void bput(buf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void bputs(buf_t *b, const char *s)
{
    if (s)
        bput(b, s, strlen(s));
}

static void bprintf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf_t *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        bput(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Slack mrkdwn: &, < and > are control characters and must be sent as entities. */
static void bput_esc(buf_t *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '&')
            bputs(b, "&amp;");
        else if (*s == '<')
            bputs(b, "&lt;");
        else if (*s == '>')
            bputs(b, "&gt;");
        else
            bput(b, s, 1);
    }
}

static const char *bstr(buf_t *b)
{
    return b->s ? b->s : "";
}

/* A string or number member at a dotted path as text into tmp; NULL when absent. */
static const char *val_text(const json_t *obj, const char *path, char *tmp, size_t len)
{
    const json_t *v = kr_event_get(obj, path);
    if (json_is_string(v))
        return json_string_value(v)[0] ? json_string_value(v) : NULL;
    if (json_is_integer(v)) {
        snprintf(tmp, len, "%lld", (long long)json_integer_value(v));
        return tmp;
    }
    if (json_is_real(v)) {
        snprintf(tmp, len, "%g", json_real_value(v));
        return tmp;
    }
    return NULL;
}

static const char *str_or(const json_t *obj, const char *key, const char *def)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? s : def;
}

static const char *page_kind(const json_t *page)
{
    return str_or(page, "page", "trigger");
}

static const char *incident_state(const json_t *page)
{
    return str_or(json_object_get(page, "incident"), "state", "");
}

static const char *incident_id(const json_t *page)
{
    return str_or(json_object_get(page, "incident"), "id", "");
}

static const char *severity_of(const json_t *page)
{
    const char *s = str_or(page, "severity", "critical");
    if (strcmp(s, "critical") && strcmp(s, "error") && strcmp(s, "warning") && strcmp(s, "info"))
        return "critical";
    return s;
}

static const char *summary_of(const json_t *page)
{
    return str_or(page, "summary", "kresponder incident");
}

/* "1003 (kafka-1003.example.com, rack apne2-az1, stack green)" */
static void broker_text(buf_t *b, const json_t *ev)
{
    char t1[32];
    const char *id = val_text(ev, "broker.id", t1, sizeof t1);
    const char *host = kr_event_str(ev, "broker.host"), *rack = kr_event_str(ev, "broker.rack");
    const char *stack = kr_event_str(ev, "broker.stack");
    int n = 0;
    bputs(b, id);
    if (host || rack || stack) {
        bputs(b, " (");
        if (host) {
            bputs(b, host);
            n++;
        }
        if (rack) {
            bprintf(b, "%srack %s", n++ ? ", " : "", rack);
        }
        if (stack)
            bprintf(b, "%sstack %s", n++ ? ", " : "", stack);
        bputs(b, ")");
    }
}

/* Alarm name with metric and state, or the event type (with the AWS Health code or the
 * Alertmanager alert name when there is one). */
static const char *what_text(buf_t *b, const json_t *ev)
{
    const char *alarm = kr_event_str(ev, "alarm.name");
    if (alarm) {
        const char *metric = kr_event_str(ev, "alarm.metric"), *state = kr_event_str(ev, "alarm.state");
        bputs(b, alarm);
        if (metric || state)
            bprintf(b, " (%s%s%s)", metric ? metric : "", metric && state ? ", " : "", state ? state : "");
        return "Alarm";
    }
    bputs(b, str_or(ev, "type", "event"));
    const char *code = kr_event_str(ev, "health.event_type_code");
    const char *alert = kr_event_str(ev, "labels.alertname");
    if (code)
        bprintf(b, " (%s)", code);
    else if (alert)
        bprintf(b, " (%s)", alert);
    return "Event";
}

static void actions_text(buf_t *b, const json_t *actions, int mrkdwn)
{
    size_t i;
    const json_t *a;
    json_array_foreach(actions, i, a) {
        char idx[32];
        const char *msg = str_or(a, "message", NULL);
        snprintf(idx, sizeof idx, "%lld", (long long)json_integer_value(json_object_get(a, "index")));
        if (mrkdwn) {
            bprintf(b, "\n\xE2\x80\xA2 `%s` %s", str_or(a, "kind", "?"), str_or(a, "state", "?"));
            if (msg) {
                bputs(b, ": ");
                bput_esc(b, msg);
            }
        } else {
            bprintf(b, "%s%s %s", i ? "; " : "", str_or(a, "kind", "?"), str_or(a, "state", "?"));
            if (msg)
                bprintf(b, " (%s)", msg);
        }
    }
}

static json_t *mrkdwn(const char *text, size_t max)
{
    char *t = kr_page_truncate(text, max);
    json_t *o = t ? json_pack("{s:s, s:s}", "type", "mrkdwn", "text", t) : NULL;
    free(t);
    return o;
}

static json_t *field(const char *label, const char *value_escaped)
{
    buf_t b = { 0 };
    json_t *o;
    bprintf(&b, "*%s*\n%s", label, value_escaped);
    o = b.oom ? NULL : mrkdwn(bstr(&b), SLACK_FIELD_MAX);
    free(b.s);
    return o;
}

static json_t *section_text(const char *text)
{
    json_t *t = mrkdwn(text, SLACK_SECTION_MAX);
    return t ? json_pack("{s:s, s:o}", "type", "section", "text", t) : NULL;
}

static json_t *header(const char *text)
{
    char *t = kr_page_truncate(text, SLACK_HEADER_MAX);
    json_t *o = t ? json_pack("{s:s, s:{s:s, s:s, s:b}}", "type", "header", "text", "type", "plain_text",
                              "text", t, "emoji", 1)
                  : NULL;
    free(t);
    return o;
}

static json_t *context(const json_t *page)
{
    buf_t b = { 0 };
    size_t i;
    const json_t *l;
    json_t *o;
    bputs(&b, "kresponder");
    if (*incident_id(page)) {
        bputs(&b, " \xC2\xB7 incident `");
        bput_esc(&b, incident_id(page));
        bputs(&b, "`");
    }
    json_array_foreach(json_object_get(page, "links"), i, l) {
        const char *href = str_or(l, "href", NULL), *text = str_or(l, "text", NULL);
        if (!href)
            continue;
        /* inside <url|text>, the text must not hold '|' or '>' unescaped */
        bputs(&b, " \xC2\xB7 <");
        bput_esc(&b, href);
        bputs(&b, "|");
        bput_esc(&b, text ? text : href);
        bputs(&b, ">");
    }
    o = b.oom ? NULL : mrkdwn(bstr(&b), SLACK_CONTEXT_MAX);
    free(b.s);
    return o ? json_pack("{s:s, s:[o]}", "type", "context", "elements", o) : NULL;
}

static const char *severity_emoji(const char *sev)
{
    if (strcmp(sev, "critical") == 0)
        return ":red_circle:";
    if (strcmp(sev, "error") == 0)
        return ":large_orange_circle:";
    if (strcmp(sev, "warning") == 0)
        return ":warning:";
    return ":information_source:";
}

static void upper(char *dst, const char *src, size_t len)
{
    size_t i;
    for (i = 0; src[i] && i + 1 < len; i++)
        dst[i] = (char)(src[i] >= 'a' && src[i] <= 'z' ? src[i] - 32 : src[i]);
    dst[i] = 0;
}

static int append(json_t *arr, json_t *v)
{
    return v ? json_array_append_new(arr, v) : -1;
}

static json_t *slack_trigger(const json_t *page, const char *mention, json_t *blocks, buf_t *text)
{
    const json_t *ev = json_object_get(page, "event");
    const char *sev = severity_of(page), *details = str_or(page, "details", NULL);
    char sevu[16], tmp[32];
    buf_t h = { 0 }, s = { 0 };
    json_t *fields = json_array();
    int rc = 0;

    upper(sevu, sev, sizeof sevu);
    bprintf(&h, "%s %s: %s", severity_emoji(sev), sevu, summary_of(page));
    rc |= append(blocks, header(bstr(&h)));
    if (mention)
        bprintf(text, "%s ", mention);
    bprintf(text, "%s: ", sevu);
    bput_esc(text, summary_of(page));
    bputs(text, " (incident ");
    bput_esc(text, incident_id(page));
    bputs(text, ")");
    if (mention || details) {
        if (mention)
            bprintf(&s, "%s%s", mention, details ? " " : "");
        if (details)
            bput_esc(&s, details);
        rc |= append(blocks, section_text(bstr(&s)));
    }
    /* fields: where and what (Slack shows them in two columns) */
    struct { const char *label; buf_t v; } f[SLACK_FIELDS_MAX];
    size_t nf = 0;
    memset(f, 0, sizeof f);
    if (kr_event_str(ev, "cluster")) {
        f[nf].label = "Cluster";
        bput_esc(&f[nf++].v, kr_event_str(ev, "cluster"));
    }
    if (val_text(ev, "broker.id", tmp, sizeof tmp)) {
        buf_t raw = { 0 };
        broker_text(&raw, ev);
        f[nf].label = "Broker";
        bput_esc(&f[nf++].v, bstr(&raw));
        free(raw.s);
    }
    if (kr_event_str(ev, "instance.id")) {
        const char *where = kr_event_str(ev, "instance.az");
        if (!where)
            where = kr_event_str(ev, "instance.region");
        f[nf].label = "Instance";
        bput_esc(&f[nf].v, kr_event_str(ev, "instance.id"));
        if (where) {
            bputs(&f[nf].v, " (");
            bput_esc(&f[nf].v, where);
            bputs(&f[nf].v, ")");
        }
        nf++;
    }
    {
        buf_t raw = { 0 };
        f[nf].label = what_text(&raw, ev);
        bput_esc(&f[nf++].v, bstr(&raw));
        free(raw.s);
    }
    if (kr_event_str(ev, "time")) {
        f[nf].label = "Time";
        bput_esc(&f[nf++].v, kr_event_str(ev, "time"));
    }
    if (*incident_id(page)) {
        const char *rule = str_or(json_object_get(page, "incident"), "rule", NULL);
        f[nf].label = "Incident";
        bputs(&f[nf].v, "`");
        bput_esc(&f[nf].v, incident_id(page));
        bputs(&f[nf].v, "`");
        if (rule) {
            bputs(&f[nf].v, "\nrule `");
            bput_esc(&f[nf].v, rule);
            bputs(&f[nf].v, "`");
        }
        nf++;
    }
    for (size_t i = 0; i < nf; i++) {
        rc |= append(fields, field(f[i].label, bstr(&f[i].v)));
        free(f[i].v.s);
    }
    rc |= append(blocks, json_pack("{s:s, s:o}", "type", "section", "fields", fields));
    free(h.s);
    free(s.s);
    return rc ? NULL : blocks;
}

static void slack_actions(const json_t *page, json_t *blocks, int *rc)
{
    const json_t *actions = json_object_get(page, "actions");
    if (json_array_size(actions) == 0)
        return;
    buf_t b = { 0 };
    bputs(&b, "*Actions*");
    actions_text(&b, actions, 1);
    *rc |= append(blocks, section_text(bstr(&b)));
    free(b.s);
}

json_t *kr_page_slack(const json_t *page, const char *channel, const char *mention)
{
    const char *kind = page_kind(page), *summary = summary_of(page);
    json_t *body = NULL, *blocks = json_array();
    buf_t text = { 0 }, s = { 0 };
    int rc = 0;

    if (!json_is_object(page) || !blocks)
        goto fail;
    if (mention && !*mention)
        mention = NULL;
    if (strcmp(kind, "trigger") == 0) {
        if (!slack_trigger(page, mention, blocks, &text))
            goto fail;
    } else if (strcmp(kind, "resolve") == 0) {
        int cancelled = strcmp(incident_state(page), "cancelled") == 0;
        const json_t *inc = json_object_get(page, "incident");
        const char *closed = str_or(inc, "closed", str_or(page, "time", NULL));
        const char *started = str_or(inc, "started", NULL);
        buf_t h = { 0 };
        bprintf(&h, "%s %s: %s", cancelled ? ":no_entry_sign:" : ":white_check_mark:",
                cancelled ? "CANCELLED" : "RESOLVED", summary);
        rc |= append(blocks, header(bstr(&h)));
        free(h.s);
        bprintf(&text, "%s: ", cancelled ? "CANCELLED" : "RESOLVED");
        bput_esc(&text, summary);
        bputs(&text, " (incident ");
        bput_esc(&text, incident_id(page));
        bputs(&text, ")");
        bputs(&s, "Incident `");
        bput_esc(&s, incident_id(page));
        bputs(&s, cancelled ? "` was cancelled by an operator" : "` resolved");
        if (closed)
            bprintf(&s, " at %s", closed);
        int64_t t0, t1;
        if (started && closed && kr_time_parse(started, &t0) == 0 && kr_time_parse(closed, &t1) == 0 &&
            t1 >= t0) {
            char d[32];
            bprintf(&s, ", %s after it opened", kr_duration_format((t1 - t0) / 1000 * 1000, d, sizeof d));
        }
        bputs(&s, ".");
        if (cancelled)
            bputs(&s, " kresponder stopped its actions; the incident is in human hands.");
        rc |= append(blocks, section_text(bstr(&s)));
    } else {
        size_t i;
        const json_t *u;
        bputs(&text, "Update on incident ");
        bput_esc(&text, incident_id(page));
        bputs(&text, ": ");
        bput_esc(&text, summary);
        bputs(&s, "*Update* \xC2\xB7 ");
        bput_esc(&s, summary);
        json_array_foreach(json_object_get(page, "updates"), i, u) {
            if (!json_is_string(u))
                continue;
            bputs(&s, "\n\xE2\x80\xA2 ");
            bput_esc(&s, json_string_value(u));
            bputs(&text, i ? "; " : " \xE2\x80\x94 ");
            bput_esc(&text, json_string_value(u));
        }
        rc |= append(blocks, section_text(bstr(&s)));
    }
    slack_actions(page, blocks, &rc);
    rc |= append(blocks, context(page));
    if (rc || text.oom || s.oom)
        goto fail;
    {
        char *t = kr_page_truncate(bstr(&text), SLACK_SECTION_MAX);
        body = t ? json_pack("{s:s, s:O}", "text", t, "blocks", blocks) : NULL;
        free(t);
    }
    if (body && channel && *channel)
        json_object_set_new(body, "channel", json_string(channel));
fail:
    json_decref(blocks);
    free(text.s);
    free(s.s);
    return body;
}

/* ---- PagerDuty ---- */

static json_t *pd_links(const json_t *page)
{
    json_t *out = json_array();
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(page, "links"), i, l)
        if (str_or(l, "href", NULL))
            json_array_append_new(out, json_pack("{s:s, s:s}", "href", str_or(l, "href", ""), "text",
                                                 str_or(l, "text", str_or(l, "href", ""))));
    return out;
}

json_t *kr_page_pagerduty(const json_t *page, const char *routing_key, const json_t *severity_map)
{
    const char *kind = page_kind(page);
    const json_t *ev = json_object_get(page, "event"), *inc = json_object_get(page, "incident");
    json_t *body = NULL, *payload = NULL, *details = NULL, *links = NULL;
    const json_t *failed = json_object_get(page, "failed");
    char tmp[32], comp[64];
    buf_t sum = { 0 };

    if (!json_is_object(page) || !*incident_id(page))
        return NULL;
    if (strcmp(kind, "resolve") == 0) {
        if (strcmp(incident_state(page), "cancelled") == 0)
            return NULL; /* an operator took over: the alert stays theirs to resolve */
        body = json_pack("{s:s, s:s}", "event_action", "resolve", "dedup_key", incident_id(page));
        goto done;
    }
    if (strcmp(kind, "followup") == 0 && json_array_size(failed) == 0)
        return NULL; /* progress is not worth a PagerDuty event; failures are */

    if (strcmp(kind, "followup") == 0) {
        /* the failure first: it is what the re-trigger is about */
        size_t i;
        const json_t *f;
        json_array_foreach(failed, i, f) {
            bputs(&sum, i ? "; " : "");
            bputs(&sum, json_string_value(f));
        }
        bputs(&sum, " \xE2\x80\x94 ");
    }
    bputs(&sum, summary_of(page));
    const char *sev = severity_of(page);
    const char *mapped = json_string_value(json_object_get(severity_map, sev));
    if (mapped)
        sev = mapped;
    const char *source = kr_event_str(ev, "broker.host");
    if (!source)
        source = kr_event_str(ev, "instance.id");
    if (!source)
        source = kr_event_str(ev, "cluster");
    if (!source)
        source = "kresponder";
    const char *bid = val_text(ev, "broker.id", tmp, sizeof tmp);
    comp[0] = 0;
    if (bid)
        snprintf(comp, sizeof comp, "broker %s", bid);
    char *summary = kr_page_truncate(bstr(&sum), PD_SUMMARY_MAX);
    json_t *event_copy = json_is_object(ev) ? json_deep_copy(ev) : json_object();
    if (event_copy)
        json_object_del(event_copy, "raw");
    details = json_pack("{s:s*, s:s, s:s*, s:o, s:O, s:O}", "details", str_or(page, "details", NULL),
                        "incident", incident_id(page), "rule", str_or(inc, "rule", NULL), "event",
                        event_copy ? event_copy : json_null(), "actions",
                        json_object_get(page, "actions") ? json_object_get(page, "actions") : json_null(),
                        "updates",
                        json_object_get(page, "updates") ? json_object_get(page, "updates") : json_array());
    payload = summary && details
                  ? json_pack("{s:s, s:s, s:s, s:s*, s:s*, s:s*, s:s*, s:O}", "summary", summary, "source",
                              source, "severity", sev, "timestamp", kr_event_str(ev, "time"), "component",
                              comp[0] ? comp : NULL, "group", kr_event_str(ev, "cluster"), "class",
                              kr_event_str(ev, "type"), "custom_details", details)
                  : NULL;
    free(summary);
    links = pd_links(page);
    if (payload && links) {
        body = json_pack("{s:s, s:s, s:O, s:s}", "event_action", "trigger", "dedup_key",
                         incident_id(page), "payload", payload, "client", "kresponder");
        if (body && json_array_size(links))
            json_object_set(body, "links", links);
    }
done:
    if (body && routing_key)
        json_object_set_new(body, "routing_key", json_string(routing_key));
    json_decref(details);
    json_decref(payload);
    json_decref(links);
    free(sum.s);
    return body;
}

/* ---- generic webhook ---- */

json_t *kr_page_webhook(const json_t *page)
{
    const json_t *ev = json_object_get(page, "event");
    json_t *event_copy, *out;
    if (!json_is_object(page))
        return NULL;
    event_copy = json_is_object(ev) ? json_deep_copy(ev) : json_null();
    if (json_is_object(event_copy))
        json_object_del(event_copy, "raw");
    out = json_pack("{s:s, s:O, s:s, s:s?, s:s, s:o, s:O, s:O, s:s?, s:O}", "kind", page_kind(page),
                    "incident", json_object_get(page, "incident") ? json_object_get(page, "incident") : json_null(),
                    "summary", summary_of(page), "details", str_or(page, "details", NULL), "severity",
                    severity_of(page), "event", event_copy, "actions",
                    json_object_get(page, "actions") ? json_object_get(page, "actions") : json_array(),
                    "updates",
                    json_object_get(page, "updates") ? json_object_get(page, "updates") : json_array(),
                    "time", str_or(page, "time", NULL), "links",
                    json_object_get(page, "links") ? json_object_get(page, "links") : json_array());
    return out;
}

int kr_page_sign(const char *secret, const char *body, size_t len, char *out, size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!secret || !*secret || outlen < 7 + 64 + 1)
        return KR_EINVAL;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)(body ? body : ""), len,
              mac, &maclen))
        return KR_EINVAL;
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < maclen; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
    return KR_OK;
}
