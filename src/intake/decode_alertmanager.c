/* intake/decode_alertmanager.c: Alertmanager webhook payloads (version 4): one normalized
 * event per alert, with the labels an operator puts on Kafka alerts (instance, cluster,
 * broker_id, instance_id) lifted into the event. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode_internal.h"
#include "kr/err.h"
#include "kr/event.h"
#include "kr/units.h"

#define AM_CTX "Alertmanager webhook"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Prometheus' fingerprint of a label set (prometheus/common model.labelSetToFingerprint):
 * FNV-1a 64 over the labels sorted by name, each name and value followed by the 0xff
 * separator byte, printed as 16 hex digits. Alertmanager sends exactly this as
 * "fingerprint" since 0.19; computing it for older senders keeps ids stable across an
 * upgrade. Labels have been checked to be strings. */
static int labels_fingerprint(const json_t *labels, char out[17])
{
    const char **names;
    const char *key;
    json_t *v;
    uint64_t h = 14695981039346656037ULL;
    size_t n = json_object_size(labels), i = 0;

    names = calloc(n ? n : 1, sizeof *names);
    if (!names)
        return -1;
    json_object_foreach((json_t *)labels, key, v)
        names[i++] = key;
    qsort(names, n, sizeof *names, cmp_str);
    for (i = 0; i < n; i++) {
        const char *parts[2] = { names[i], json_string_value(json_object_get(labels, names[i])) };

        for (int p = 0; p < 2; p++) {
            for (const unsigned char *c = (const unsigned char *)parts[p]; *c; c++) {
                h ^= *c;
                h *= 1099511628211ULL;
            }
            h ^= 0xff;
            h *= 1099511628211ULL;
        }
    }
    free(names);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}

/* The host of a Prometheus "instance" label: "10.0.1.5:9100" -> "10.0.1.5",
 * "[2001:db8::1]:9100" -> "2001:db8::1" (brackets only delimit the port), a bare
 * "2001:db8::1" as it is, "https://kafka-1.example.com:8443/metrics" ->
 * "kafka-1.example.com". Returns buf, or NULL when nothing is left. */
static const char *instance_host(const char *in, char *buf, size_t len)
{
    const char *s = in, *e, *at, *colon, *close;
    size_t colons = 0, n;

    if ((at = strstr(s, "://")) != NULL)
        s = at + 3;
    e = s + strcspn(s, "/?#");
    for (at = s; at < e; at++)
        if (*at == '@')
            s = at + 1; /* user:password@host */
    if (*s == '[' && (close = memchr(s, ']', (size_t)(e - s))) != NULL) {
        s++;
        e = close;
    } else {
        colon = NULL;
        for (const char *p = s; p < e; p++)
            if (*p == ':') {
                colons++;
                colon = p;
            }
        if (colons == 1)
            e = colon; /* host:port; more colons is a bare IPv6 address */
    }
    n = (size_t)(e - s);
    if (n == 0 || n >= len)
        return NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* A broker id label: decimal digits that fit Kafka's int32 broker ids, else -1. */
static long long broker_id(const char *s)
{
    long long v = 0;

    if (!s || !*s || strlen(s) > 10)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v <= INT32_MAX ? v : -1;
}

/* Alertmanager writes Go's zero time for an alert that has not ended. */
static int is_zero_time(const char *s)
{
    return s && strncmp(s, "0001-01-01T", 11) == 0;
}

static int decode_alert(const json_t *payload, const json_t *alert, size_t index, json_t *out,
                        char *err, size_t errlen)
{
    const char *status, *starts, *ends, *generator, *fingerprint, *receiver, *group_key;
    const char *external, *key, *label, *host, *iid, *cluster, *bid_label;
    json_t *labels, *annotations, *v, *ev = NULL, *a, *broker;
    char ctx[64], fp[17], id[512], hostbuf[256], tbuf[32];
    int64_t starts_ms, ends_ms = 0, ms;
    long long bid;
    int resolved;

    snprintf(ctx, sizeof ctx, AM_CTX ": alerts[%zu]", index);
    if (!json_is_object(alert))
        return kr_seterr(err, errlen, KR_EINVAL, "%s must be an object", ctx);
    if (kr_dec_str(alert, "status", &status, ctx, err, errlen) ||
        kr_dec_obj(alert, "labels", &labels, ctx, err, errlen) ||
        kr_dec_obj_opt(alert, "annotations", &annotations, ctx, err, errlen) ||
        kr_dec_time(alert, "startsAt", &starts_ms, ctx, err, errlen) ||
        kr_dec_str(alert, "startsAt", &starts, ctx, err, errlen) ||
        kr_dec_str_opt(alert, "endsAt", &ends, ctx, err, errlen) ||
        kr_dec_str_opt(alert, "generatorURL", &generator, ctx, err, errlen) ||
        kr_dec_str_opt(alert, "fingerprint", &fingerprint, ctx, err, errlen) ||
        kr_dec_str_opt(payload, "receiver", &receiver, AM_CTX, err, errlen) ||
        kr_dec_str_opt(payload, "groupKey", &group_key, AM_CTX, err, errlen) ||
        kr_dec_str_opt(payload, "externalURL", &external, AM_CTX, err, errlen))
        return KR_EINVAL;
    if (strcmp(status, "firing") == 0)
        resolved = 0;
    else if (strcmp(status, "resolved") == 0)
        resolved = 1;
    else
        return kr_seterr(err, errlen, KR_EINVAL,
                         "%s: \"status\" must be \"firing\" or \"resolved\", not \"%.32s\"", ctx,
                         status);
    json_object_foreach(labels, key, v)
        if (!json_is_string(v))
            return kr_seterr(err, errlen, KR_EINVAL, "%s: label \"%.64s\" must be a string", ctx,
                             key);
    if (ends && (is_zero_time(ends) || kr_dec_parse_time(ends, &ends_ms) != 0))
        ends = NULL;
    if (!fingerprint || !*fingerprint) {
        if (labels_fingerprint(labels, fp))
            return KR_ENOMEM;
        fingerprint = fp;
    }
    if (strlen(fingerprint) > 64 || strlen(starts) > 64)
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"fingerprint\" or \"startsAt\" is too long",
                         ctx);
    /* The id is the alert (fingerprint) and its occurrence (startsAt). A resolve gets its
     * own id: it shares fingerprint and startsAt with the firing notification, and must not
     * be dropped as a redelivery of it. Redeliveries of either keep their id. */
    snprintf(id, sizeof id, "am:%s:%s%s", fingerprint, starts, resolved ? ":resolved" : "");
    ms = resolved && ends ? ends_ms : starts_ms;

    ev = kr_event_new(id, "alertmanager", "alert", resolved ? KR_EVENT_RESOLVED : KR_EVENT_FIRING,
                      ms);
    if (!ev || kr_dec_set_ref(ev, "labels", labels) ||
        (annotations && json_object_size(annotations) &&
         kr_dec_set_ref(ev, "annotations", annotations)))
        goto nomem;
    a = kr_dec_child(ev, "alert");
    if (!a || kr_dec_set_ref(a, "name", json_object_get(labels, "alertname")) ||
        kr_dec_set_ref(a, "severity", json_object_get(labels, "severity")) ||
        kr_dec_set_str(a, "fingerprint", fingerprint) ||
        kr_dec_set_str(a, "starts_at", kr_time_format(starts_ms, tbuf, sizeof tbuf)) ||
        kr_dec_set_str(a, "ends_at", ends ? kr_time_format(ends_ms, tbuf, sizeof tbuf) : NULL) ||
        kr_dec_set_str(a, "generator_url", generator) ||
        kr_dec_set_str(a, "receiver", receiver) || kr_dec_set_str(a, "group_key", group_key) ||
        kr_dec_set_str(a, "external_url", external))
        goto nomem;

    label = json_string_value(json_object_get(labels, "instance"));
    host = label ? instance_host(label, hostbuf, sizeof hostbuf) : NULL;
    iid = json_string_value(json_object_get(labels, "instance_id"));
    if (!iid)
        iid = json_string_value(json_object_get(labels, "ec2_instance_id"));
    cluster = json_string_value(json_object_get(labels, "cluster"));
    if (!cluster)
        cluster = json_string_value(json_object_get(labels, "kafka_cluster"));
    bid_label = json_string_value(json_object_get(labels, "broker_id"));
    bid = broker_id(bid_label);
    if (bid < 0) /* "broker" only when broker_id does not give a number */
        bid = broker_id(json_string_value(json_object_get(labels, "broker")));
    if (kr_dec_set_str(ev, "host", host) || kr_dec_set_instance(ev, iid, NULL, NULL) ||
        kr_dec_set_str(ev, "cluster", cluster))
        goto nomem;
    if (bid >= 0) {
        broker = kr_dec_child(ev, "broker");
        if (!broker || json_object_set_new(broker, "id", json_integer(bid)))
            goto nomem;
    }
    return kr_dec_emit(out, ev, alert) ? KR_ENOMEM : 1;
nomem:
    json_decref(ev);
    return KR_ENOMEM;
}

int kr_decode_alertmanager(const json_t *payload, json_t *out, char *err, size_t errlen)
{
    const char *version;
    json_t *alerts, *alert;
    size_t i;
    int rc, n = 0;

    if (kr_dec_str(payload, "version", &version, AM_CTX, err, errlen))
        return KR_EINVAL;
    if (strcmp(version, "4") != 0)
        return kr_seterr(err, errlen, KR_EINVAL,
                         "%s: version \"%.16s\" is not supported (only version \"4\")", AM_CTX,
                         version);
    if (kr_dec_arr(payload, "alerts", &alerts, AM_CTX, err, errlen))
        return KR_EINVAL;
    if (json_array_size(alerts) == 0)
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"alerts\" is empty", AM_CTX);
    json_array_foreach(alerts, i, alert) {
        rc = decode_alert(payload, alert, i, out, err, errlen);
        if (rc < 0)
            return rc;
        n += rc;
    }
    return n;
}
