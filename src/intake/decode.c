/* intake/decode.c: payload format detection and dispatch, already-normalized events, and
 * the helpers every decoder shares (decode_internal.h). Pure: no I/O, no clock. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "decode_internal.h"
#include "kr/decode.h"
#include "kr/err.h"
#include "kr/event.h"
#include "kr/units.h"

/* ---- typed members ---------------------------------------------------------------- */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

static int member(const json_t *obj, const char *key, json_type want, int optional,
                  json_t **out, const char *ctx, char *err, size_t errlen)
{
    static const char *const article[] = {
        [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array", [JSON_STRING] = "a string",
        [JSON_INTEGER] = "an integer", [JSON_REAL] = "a number", [JSON_TRUE] = "a boolean",
        [JSON_FALSE] = "a boolean", [JSON_NULL] = "null",
    };
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (!v || (optional && json_is_null(v))) {
        if (optional)
            return 0;
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"%s\" is missing", ctx, key);
    }
    if (json_typeof(v) != want)
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"%s\" must be %s, not %s", ctx, key,
                         article[want], type_name(v));
    *out = v;
    return 0;
}

int kr_dec_str(const json_t *obj, const char *key, const char **out, const char *ctx,
               char *err, size_t errlen)
{
    json_t *v;
    int rc = member(obj, key, JSON_STRING, 0, &v, ctx, err, errlen);
    *out = json_string_value(v);
    return rc;
}

int kr_dec_str_opt(const json_t *obj, const char *key, const char **out, const char *ctx,
                   char *err, size_t errlen)
{
    json_t *v;
    int rc = member(obj, key, JSON_STRING, 1, &v, ctx, err, errlen);
    *out = json_string_value(v);
    return rc;
}

int kr_dec_obj(const json_t *obj, const char *key, json_t **out, const char *ctx,
               char *err, size_t errlen)
{
    return member(obj, key, JSON_OBJECT, 0, out, ctx, err, errlen);
}

int kr_dec_obj_opt(const json_t *obj, const char *key, json_t **out, const char *ctx,
                   char *err, size_t errlen)
{
    return member(obj, key, JSON_OBJECT, 1, out, ctx, err, errlen);
}

int kr_dec_arr(const json_t *obj, const char *key, json_t **out, const char *ctx,
               char *err, size_t errlen)
{
    return member(obj, key, JSON_ARRAY, 0, out, ctx, err, errlen);
}

int kr_dec_arr_opt(const json_t *obj, const char *key, json_t **out, const char *ctx,
                   char *err, size_t errlen)
{
    return member(obj, key, JSON_ARRAY, 1, out, ctx, err, errlen);
}

int kr_dec_time(const json_t *obj, const char *key, int64_t *ms, const char *ctx,
                char *err, size_t errlen)
{
    const char *s;
    int rc = kr_dec_str(obj, key, &s, ctx, err, errlen);

    if (rc)
        return rc;
    if (kr_dec_parse_time(s, ms))
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"%s\" is not an RFC 3339 time: \"%.64s\"",
                         ctx, key, s);
    return 0;
}

/* ---- event building --------------------------------------------------------------- */

int kr_dec_set_str(json_t *obj, const char *key, const char *val)
{
    if (!val)
        return 0;
    return json_object_set_new(obj, key, json_string(val)) ? -1 : 0;
}

int kr_dec_set_ref(json_t *obj, const char *key, const json_t *val)
{
    if (!val || json_is_null(val))
        return 0;
    /* shared with the payload, not copied: nothing writes into a decoded event's values
     * (only new top-level members and the decoder's own children are added) */
    return json_object_set(obj, key, (json_t *)val) ? -1 : 0;
}

json_t *kr_dec_child(json_t *ev, const char *key)
{
    json_t *c = json_object_get(ev, key);

    if (json_is_object(c))
        return c;
    c = json_object();
    if (!c || json_object_set_new(ev, key, c))
        return NULL;
    return c;
}

int kr_dec_set_instance(json_t *ev, const char *id, const char *region, const char *az)
{
    json_t *inst;

    if (!id)
        return 0;
    inst = kr_dec_child(ev, "instance");
    if (!inst || kr_dec_set_str(inst, "id", id) || kr_dec_set_str(inst, "region", region) ||
        kr_dec_set_str(inst, "az", az))
        return -1;
    return 0;
}

int kr_dec_emit(json_t *out, json_t *ev, const json_t *raw)
{
    /* raw is shared, not copied: events and payloads are never written to after
     * decoding (only new top-level members are added to an event) */
    if (!ev || (raw && !json_is_null(raw) && json_object_set(ev, "raw", (json_t *)raw)) ||
        json_array_append_new(out, ev))
        return KR_ENOMEM;
    return 0;
}

/* ---- times, regions, ARNs ---------------------------------------------------------- */

static int rfc1123(const char *s, int64_t *ms)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4];
    int d, y, h, mi, sec, n = 0;
    struct tm tm;
    const char *m;

    /* "Wed, 26 Jun 2019 15:00:00 GMT"; the weekday is not checked against the date. */
    if (strlen(s) < 25 || s[3] != ',')
        return KR_EINVAL;
    if (sscanf(s + 4, " %2d %3s %4d %2d:%2d:%2d GMT%n", &d, mon, &y, &h, &mi, &sec, &n) != 6 ||
        s[4 + n] != '\0' || strlen(mon) != 3)
        return KR_EINVAL;
    m = strstr(months, mon);
    if (!m || (m - months) % 3 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return KR_EINVAL;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = (int)(m - months) / 3;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

int kr_dec_parse_time(const char *s, int64_t *ms)
{
    if (!s)
        return KR_EINVAL;
    if (kr_time_parse(s, ms) == 0)
        return 0;
    return rfc1123(s, ms);
}

/* CloudWatch's SNS alarm messages name the region by its display name ("Region":
 * "Asia Pacific (Seoul)"). The code is taken from AlarmArn; this table only serves
 * messages without an ARN. Older messages say "EU (...)", newer "Europe (...)". */
static const struct { const char *name, *code; } regions[] = {
    { "US East (N. Virginia)", "us-east-1" },
    { "US East (Ohio)", "us-east-2" },
    { "US West (N. California)", "us-west-1" },
    { "US West (Oregon)", "us-west-2" },
    { "Africa (Cape Town)", "af-south-1" },
    { "Asia Pacific (Hong Kong)", "ap-east-1" },
    { "Asia Pacific (Hyderabad)", "ap-south-2" },
    { "Asia Pacific (Jakarta)", "ap-southeast-3" },
    { "Asia Pacific (Malaysia)", "ap-southeast-5" },
    { "Asia Pacific (Melbourne)", "ap-southeast-4" },
    { "Asia Pacific (Mumbai)", "ap-south-1" },
    { "Asia Pacific (Osaka)", "ap-northeast-3" },
    { "Asia Pacific (Seoul)", "ap-northeast-2" },
    { "Asia Pacific (Singapore)", "ap-southeast-1" },
    { "Asia Pacific (Sydney)", "ap-southeast-2" },
    { "Asia Pacific (Tokyo)", "ap-northeast-1" },
    { "Canada (Central)", "ca-central-1" },
    { "Canada West (Calgary)", "ca-west-1" },
    { "China (Beijing)", "cn-north-1" },
    { "China (Ningxia)", "cn-northwest-1" },
    { "EU (Frankfurt)", "eu-central-1" },
    { "EU (Zurich)", "eu-central-2" },
    { "EU (Ireland)", "eu-west-1" },
    { "EU (London)", "eu-west-2" },
    { "EU (Paris)", "eu-west-3" },
    { "EU (Milan)", "eu-south-1" },
    { "EU (Spain)", "eu-south-2" },
    { "EU (Stockholm)", "eu-north-1" },
    { "Israel (Tel Aviv)", "il-central-1" },
    { "Middle East (Bahrain)", "me-south-1" },
    { "Middle East (UAE)", "me-central-1" },
    { "South America (Sao Paulo)", "sa-east-1" },
    { "AWS GovCloud (US-East)", "us-gov-east-1" },
    { "AWS GovCloud (US-West)", "us-gov-west-1" },
};

const char *kr_dec_region_code(const char *name)
{
    char alt[64];

    if (!name)
        return NULL;
    if (strncmp(name, "Europe (", 8) == 0) {
        snprintf(alt, sizeof alt, "EU (%s", name + 8);
        name = alt;
    }
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++)
        if (strcmp(name, regions[i].name) == 0)
            return regions[i].code;
    return NULL;
}

const char *kr_dec_arn_field(const char *arn, int n, char *buf, size_t len)
{
    const char *p = arn, *end;
    size_t flen;

    if (!arn || strncmp(arn, "arn:", 4) != 0)
        return NULL;
    for (int i = 0; i < n; i++) {
        p = strchr(p, ':');
        if (!p)
            return NULL;
        p++;
    }
    end = strchr(p, ':');
    flen = end ? (size_t)(end - p) : strlen(p);
    if (flen == 0 || flen >= len)
        return NULL;
    memcpy(buf, p, flen);
    buf[flen] = '\0';
    return buf;
}

const char *kr_dec_instance_id(const char *s, char *buf, size_t len)
{
    const char *p;

    if (!s)
        return NULL;
    if (strncmp(s, "i-", 2) == 0)
        p = s;
    else if (strncmp(s, "arn:", 4) == 0 && (p = strstr(s, ":instance/")) != NULL)
        p += strlen(":instance/");
    else
        return NULL;
    if (strncmp(p, "i-", 2) != 0 || strlen(p) >= len || strlen(p) < 3)
        return NULL;
    memcpy(buf, p, strlen(p) + 1);
    return buf;
}

const char *kr_dec_alarm_state(const char *s)
{
    if (!s)
        return NULL;
    if (strcmp(s, "ALARM") == 0)
        return KR_EVENT_FIRING;
    if (strcmp(s, "OK") == 0)
        return KR_EVENT_RESOLVED;
    if (strcmp(s, "INSUFFICIENT_DATA") == 0)
        return KR_EVENT_INSUFFICIENT_DATA;
    return NULL;
}

const char *kr_dec_alarm_type(const char *metric)
{
    /* StatusCheckFailed, _System, _Instance, _AttachedEBS: the EC2 host or instance is
     * impaired, whatever the alarm is called. */
    if (metric && strncmp(metric, "StatusCheckFailed", strlen("StatusCheckFailed")) == 0)
        return "instance.impaired";
    return "alarm";
}

/* ---- already-normalized events ---------------------------------------------------- */

int kr_decode_event(const json_t *payload, json_t *out, char *err, size_t errlen)
{
    static const char *const ctx = "event";
    static const char *const objects[] = { "instance", "broker", "alarm", "health", "labels",
                                           "annotations", "alert" };
    static const char *const strings[] = { "host", "cluster", "message" };
    const char *id, *source, *type, *state, *s;
    json_t *o, *ev;
    int64_t ms;

    if (kr_dec_str(payload, "id", &id, ctx, err, errlen) ||
        kr_dec_str(payload, "source", &source, ctx, err, errlen) ||
        kr_dec_str(payload, "type", &type, ctx, err, errlen) ||
        kr_dec_str(payload, "state", &state, ctx, err, errlen) ||
        kr_dec_time(payload, "time", &ms, ctx, err, errlen))
        return KR_EINVAL;
    if (!*id || !*source || !*type)
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"%s\" must not be empty", ctx,
                         !*id ? "id" : !*source ? "source" : "type");
    if (strcmp(state, KR_EVENT_FIRING) != 0 && strcmp(state, KR_EVENT_RESOLVED) != 0 &&
        strcmp(state, KR_EVENT_INSUFFICIENT_DATA) != 0)
        return kr_seterr(err, errlen, KR_EINVAL,
                         "%s: \"state\" must be \"firing\", \"resolved\" or \"insufficient_data\", "
                         "not \"%.64s\"", ctx, state);
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
        if (kr_dec_obj_opt(payload, objects[i], &o, ctx, err, errlen))
            return KR_EINVAL;
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (kr_dec_str_opt(payload, strings[i], &s, ctx, err, errlen))
            return KR_EINVAL;
    o = json_object_get(payload, "broker");
    if (o && json_object_get(o, "id") && !json_is_integer(json_object_get(o, "id")))
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"broker.id\" must be an integer", ctx);
    o = json_object_get(payload, "instance");
    if (o && kr_dec_str_opt(o, "id", &s, "event: instance", err, errlen))
        return KR_EINVAL;
    ev = json_deep_copy(payload);
    if (!ev || json_array_append_new(out, ev))
        return KR_ENOMEM;
    return 1;
}

/* ---- detection and dispatch ------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 (the checks json_string makes:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Errors quote payload values (cut to a length, perhaps inside a character) and jansson
 * quotes raw input: keep the reason one line of valid UTF-8 so that it can go into a log
 * line or a JSON error body as is. Control characters become spaces, bad bytes '?'. */
static void clean_reason(char *err, size_t errlen)
{
    unsigned char *p = (unsigned char *)err;

    if (!err || !errlen)
        return;
    while (*p) {
        size_t n = utf8_len(p);

        if (n == 0) {
            *p++ = '?';
            continue;
        }
        if (n == 1 && (*p < 0x20 || *p == 0x7f))
            *p = ' ';
        p += n;
    }
}

kr_format_t kr_decode_detect(const json_t *payload)
{
    if (!json_is_object(payload))
        return KR_FMT_AUTO;
    if (json_object_get(payload, "Type") &&
        (json_object_get(payload, "MessageId") || json_object_get(payload, "TopicArn")))
        return KR_FMT_SNS;
    if (json_is_object(json_object_get(json_array_get(json_object_get(payload, "Records"), 0),
                                       "Sns")))
        return KR_FMT_SNS; /* an AWS Lambda SNS event, relayed whole */
    if (json_object_get(payload, "detail-type"))
        return KR_FMT_EVENTBRIDGE;
    if (json_object_get(payload, "alerts") || json_object_get(payload, "groupKey"))
        return KR_FMT_ALERTMANAGER;
    if (json_is_string(json_object_get(payload, "id")) &&
        json_is_string(json_object_get(payload, "source")) &&
        json_is_string(json_object_get(payload, "type")))
        return KR_FMT_EVENT;
    return KR_FMT_AUTO;
}

const char *kr_format_name(kr_format_t fmt)
{
    switch (fmt) {
    case KR_FMT_AUTO: return "auto";
    case KR_FMT_SNS: return "sns";
    case KR_FMT_EVENTBRIDGE: return "eventbridge";
    case KR_FMT_ALERTMANAGER: return "alertmanager";
    case KR_FMT_EVENT: return "event";
    }
    return "unknown";
}

int kr_decode(kr_format_t fmt, const json_t *payload, json_t *out, char *err, size_t errlen)
{
    json_t *tmp = NULL;
    int rc;

    if (!json_is_array(out))
        return kr_seterr(err, errlen, KR_EINVAL, "decode: the output must be a JSON array");
    if (!json_is_object(payload))
        return kr_seterr(err, errlen, KR_EINVAL, "payload is not a JSON object (it is %s)",
                         payload ? type_name(payload) : "missing");
    if (fmt == KR_FMT_AUTO) {
        fmt = kr_decode_detect(payload);
        if (fmt == KR_FMT_AUTO)
            return kr_seterr(err, errlen, KR_EINVAL,
                             "unrecognized payload: not an SNS message, an EventBridge event, "
                             "an Alertmanager webhook or a normalized event");
    }
    /* Decode aside so that a payload failing half-way leaves `out` untouched. */
    tmp = json_array();
    if (!tmp)
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    switch (fmt) {
    case KR_FMT_SNS: rc = kr_decode_sns(payload, tmp, err, errlen); break;
    case KR_FMT_EVENTBRIDGE:
        rc = kr_decode_eventbridge(payload, "aws.events", NULL, NULL, tmp, err, errlen);
        break;
    case KR_FMT_ALERTMANAGER: rc = kr_decode_alertmanager(payload, tmp, err, errlen); break;
    case KR_FMT_EVENT: rc = kr_decode_event(payload, tmp, err, errlen); break;
    default: rc = kr_seterr(err, errlen, KR_EINVAL, "decode: unknown format %d", (int)fmt);
    }
    if (rc == KR_ENOMEM)
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    if (rc >= 0 && json_array_extend(out, tmp))
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    if (rc < 0)
        clean_reason(err, errlen);
    json_decref(tmp);
    return rc;
}

int kr_decode_buf(kr_format_t fmt, const char *buf, size_t len, json_t *out, char *err,
                  size_t errlen)
{
    json_error_t jerr;
    json_t *payload;
    int rc;

    payload = json_loadb(buf ? buf : "", buf ? len : 0, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                         &jerr);
    if (!payload) {
        kr_seterr(err, errlen, KR_EINVAL, "invalid JSON at line %d column %d: %s", jerr.line,
                  jerr.column, jerr.text);
        clean_reason(err, errlen);
        return KR_EINVAL;
    }
    rc = kr_decode(fmt, payload, out, err, errlen);
    json_decref(payload);
    return rc;
}
