/* intake/decode_eventbridge.c: Amazon EventBridge events (EC2 state changes, Spot
 * interruptions, rebalance recommendations, CloudWatch alarm state changes, AWS Health),
 * delivered directly (API destinations) or inside an SNS notification. */
#include <stdio.h>
#include <string.h>

#include "decode_internal.h"
#include "kr/err.h"
#include "kr/event.h"
#include "kr/units.h"

#define EB_CTX "EventBridge event"
#define EB_DETAIL "EventBridge event: detail"

/* What every EventBridge decoder needs from the envelope. */
typedef struct {
    const json_t *ev;     /* the EventBridge event */
    const json_t *detail; /* its detail object */
    const json_t *raw;    /* what each event's "raw" is */
    const char *source;   /* "aws.events", or "aws.sns" when it came inside SNS */
    const char *id;       /* "eb:<id>" or "sns:<MessageId>" */
    const char *region;
    const char *account;
    int64_t ms;           /* the event's time */
} eb_t;

/* A new event with the envelope's id/source and the instance when one is named. */
static json_t *eb_event(const eb_t *eb, const char *id, const char *type, const char *state,
                        int64_t ms, const char *instance_id, const char *region,
                        const char *az)
{
    json_t *ev = kr_event_new(id, eb->source, type, state, ms);

    if (ev && kr_dec_set_instance(ev, instance_id, region, az)) {
        json_decref(ev);
        ev = NULL;
    }
    return ev;
}

static int eb_emit(const eb_t *eb, json_t *out, json_t *ev)
{
    int rc = kr_dec_emit(out, ev, eb->raw);
    return rc ? rc : 1;
}

/* EC2 Instance State-change Notification: detail {instance-id, state}. */
static int state_change(const eb_t *eb, json_t *out, char *err, size_t errlen)
{
    static const struct { const char *state, *type, *ev_state; } map[] = {
        { "pending", "instance.pending", KR_EVENT_RESOLVED },  /* the instance is back */
        { "running", "instance.running", KR_EVENT_RESOLVED },
        { "stopping", "instance.stopping", KR_EVENT_FIRING },
        { "stopped", "instance.stopped", KR_EVENT_FIRING },
        { "shutting-down", "instance.terminating", KR_EVENT_FIRING },
        { "terminated", "instance.terminated", KR_EVENT_FIRING },
    };
    const char *iid, *state, *type = "unknown", *ev_state = KR_EVENT_FIRING;

    if (kr_dec_str(eb->detail, "instance-id", &iid, EB_DETAIL, err, errlen) ||
        kr_dec_str(eb->detail, "state", &state, EB_DETAIL, err, errlen))
        return KR_EINVAL;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(state, map[i].state) == 0) {
            type = map[i].type;
            ev_state = map[i].ev_state;
        }
    return eb_emit(eb, out, eb_event(eb, eb->id, type, ev_state, eb->ms, iid, eb->region, NULL));
}

/* Spot interruption warning and rebalance recommendation: detail {instance-id, ...}. */
static int instance_signal(const eb_t *eb, const char *type, json_t *out, char *err,
                           size_t errlen)
{
    const char *iid;

    if (kr_dec_str(eb->detail, "instance-id", &iid, EB_DETAIL, err, errlen))
        return KR_EINVAL;
    return eb_emit(eb, out,
                   eb_event(eb, eb->id, type, KR_EVENT_FIRING, eb->ms, iid, eb->region, NULL));
}

/* The metric an alarm watches: the first metrics[].metricStat, preferring one whose
 * returnData is true (the alarm's own series in a metric-math alarm). */
static const json_t *alarm_metric_stat(const json_t *configuration)
{
    const json_t *metrics = json_object_get(configuration, "metrics"), *m, *first = NULL;
    size_t i;

    json_array_foreach(metrics, i, m) {
        const json_t *ms = json_object_get(m, "metricStat");

        if (!json_is_object(ms) || !json_is_object(json_object_get(ms, "metric")))
            continue;
        if (!first)
            first = ms;
        if (json_is_true(json_object_get(m, "returnData")))
            return ms;
    }
    return first;
}

/* CloudWatch Alarm State Change: detail {alarmName, state {value, reason, timestamp},
 * previousState, configuration {description, metrics[]}}. */
static int alarm_change(const eb_t *eb, json_t *out, char *err, size_t errlen)
{
    const char *name, *value, *reason, *when, *prev_value = NULL, *desc = NULL, *arn;
    const char *metric_name, *state;
    const json_t *stat, *metric, *dims;
    json_t *st, *prev, *conf, *resources, *ev = NULL, *alarm;
    int64_t ms = eb->ms;

    if (kr_dec_str(eb->detail, "alarmName", &name, EB_DETAIL, err, errlen) ||
        kr_dec_obj(eb->detail, "state", &st, EB_DETAIL, err, errlen) ||
        kr_dec_str(st, "value", &value, EB_DETAIL ".state", err, errlen) ||
        kr_dec_str_opt(st, "reason", &reason, EB_DETAIL ".state", err, errlen) ||
        kr_dec_str_opt(st, "timestamp", &when, EB_DETAIL ".state", err, errlen) ||
        kr_dec_obj_opt(eb->detail, "previousState", &prev, EB_DETAIL, err, errlen) ||
        kr_dec_obj_opt(eb->detail, "configuration", &conf, EB_DETAIL, err, errlen) ||
        (prev && kr_dec_str_opt(prev, "value", &prev_value, EB_DETAIL ".previousState", err,
                                errlen)) ||
        (conf && kr_dec_str_opt(conf, "description", &desc, EB_DETAIL ".configuration", err,
                                errlen)))
        return KR_EINVAL;
    state = kr_dec_alarm_state(value);
    if (!state)
        return kr_seterr(err, errlen, KR_EINVAL, "%s.state: unknown alarm state \"%.64s\"",
                         EB_DETAIL, value);
    if (when && kr_dec_parse_time(when, &ms) != 0)
        ms = eb->ms;
    stat = alarm_metric_stat(conf);
    metric = json_object_get(stat, "metric");
    metric_name = json_string_value(json_object_get(metric, "name"));
    dims = json_object_get(metric, "dimensions");
    resources = json_object_get(eb->ev, "resources");
    arn = json_string_value(json_array_get(resources, 0));
    if (arn && strncmp(arn, "arn:", 4) != 0)
        arn = NULL;

    ev = eb_event(eb, eb->id, kr_dec_alarm_type(metric_name), state, ms,
                  json_string_value(json_object_get(dims, "InstanceId")), eb->region, NULL);
    alarm = ev ? kr_dec_child(ev, "alarm") : NULL;
    if (!alarm || kr_dec_set_str(alarm, "name", name) ||
        kr_dec_set_str(alarm, "description", desc) ||
        kr_dec_set_str(alarm, "metric", metric_name) ||
        kr_dec_set_ref(alarm, "namespace", json_object_get(metric, "namespace")) ||
        kr_dec_set_str(alarm, "state", value) ||
        kr_dec_set_str(alarm, "previous_state", prev_value) ||
        kr_dec_set_str(alarm, "reason", reason) ||
        kr_dec_set_str(alarm, "account", eb->account) ||
        kr_dec_set_str(alarm, "region", eb->region) || kr_dec_set_str(alarm, "arn", arn) ||
        (json_is_object(dims) && json_object_size(dims) &&
         kr_dec_set_ref(alarm, "dimensions", dims)) ||
        kr_dec_set_ref(alarm, "statistic", json_object_get(stat, "stat")) ||
        kr_dec_set_ref(alarm, "period", json_object_get(stat, "period"))) {
        json_decref(ev);
        return KR_ENOMEM;
    }
    return eb_emit(eb, out, ev);
}

/* AWS Health event type codes that mean the instance goes away or is disturbed. */
static const char *health_type(const char *code)
{
    static const char *const retiring[] = {
        "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "AWS_EC2_INSTANCE_STOP_SCHEDULED",
        /* the EBS-backed and expedited spellings of the same retirement */
        "AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED",
        "AWS_EC2_INSTANCE_RETIREMENT_EXPEDITED",
        "AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_EXPEDITED",
        "AWS_EC2_INSTANCE_TERMINATION_SCHEDULED",
    };
    static const char suffix[] = "_MAINTENANCE_SCHEDULED";
    size_t n = strlen(code);

    for (size_t i = 0; i < sizeof retiring / sizeof retiring[0]; i++)
        if (strcmp(code, retiring[i]) == 0)
            return "instance.retiring";
    if (strncmp(code, "AWS_EC2_", 8) == 0 &&
        ((n > sizeof suffix - 1 && strcmp(code + n - (sizeof suffix - 1), suffix) == 0) ||
         strncmp(code, "AWS_EC2_INSTANCE_REBOOT_", 24) == 0 ||
         strncmp(code, "AWS_EC2_SYSTEM_REBOOT_", 22) == 0))
        return "instance.maintenance";
    return "health";
}

/* A Health time: RFC 1123 in EventBridge ("Wed, 26 Jun 2019 15:00:00 GMT"), stored as
 * RFC 3339 so rules and pages read one format; kept verbatim when it does not parse. */
static int set_health_time(json_t *health, const char *key, const char *s)
{
    char buf[32];
    int64_t ms;

    if (s && kr_dec_parse_time(s, &ms) == 0)
        s = kr_time_format(ms, buf, sizeof buf);
    return kr_dec_set_str(health, key, s);
}

/* The latest description, in English when several languages are given. */
static const char *health_description(const json_t *list)
{
    const json_t *d;
    const char *any = NULL;
    size_t i;

    json_array_foreach(list, i, d) {
        const char *text = json_string_value(json_object_get(d, "latestDescription"));
        const char *lang = json_string_value(json_object_get(d, "language"));

        if (!text)
            continue;
        if (!any)
            any = text;
        if (lang && strncmp(lang, "en", 2) == 0)
            return text;
    }
    return any;
}

/* Adds the instance id named by s (an id or an instance ARN) to ids, once. */
static int add_instance(json_t *ids, const char *s)
{
    char buf[64];
    const char *iid = kr_dec_instance_id(s, buf, sizeof buf);
    json_t *v;
    size_t i;

    if (!iid)
        return 0;
    json_array_foreach(ids, i, v)
        if (strcmp(json_string_value(v), iid) == 0)
            return 0;
    return json_array_append_new(ids, json_string(iid)) ? -1 : 0;
}

/* AWS Health Event: one event per affected EC2 instance (detail.affectedEntities, else the
 * event's resources), or one without an instance when none is named. */
static int health_event(const eb_t *eb, json_t *out, char *err, size_t errlen)
{
    const char *code, *service, *category, *status, *start, *end, *arn, *event_region, *az;
    const char *type, *state, *region;
    json_t *entities, *descs, *resources, *ids = NULL, *v, *ev = NULL, *health;
    size_t i, n;
    int rc = KR_ENOMEM;

    if (kr_dec_str(eb->detail, "eventTypeCode", &code, EB_DETAIL, err, errlen) ||
        kr_dec_str_opt(eb->detail, "service", &service, EB_DETAIL, err, errlen) ||
        kr_dec_str_opt(eb->detail, "eventTypeCategory", &category, EB_DETAIL, err, errlen) ||
        kr_dec_str_opt(eb->detail, "statusCode", &status, EB_DETAIL, err, errlen) ||
        kr_dec_str_opt(eb->detail, "startTime", &start, EB_DETAIL, err, errlen) ||
        kr_dec_str_opt(eb->detail, "endTime", &end, EB_DETAIL, err, errlen) ||
        kr_dec_str_opt(eb->detail, "eventArn", &arn, EB_DETAIL, err, errlen) ||
        kr_dec_str_opt(eb->detail, "eventRegion", &event_region, EB_DETAIL, err, errlen) ||
        kr_dec_str_opt(eb->detail, "availabilityZone", &az, EB_DETAIL, err, errlen) ||
        kr_dec_arr_opt(eb->detail, "affectedEntities", &entities, EB_DETAIL, err, errlen) ||
        kr_dec_arr_opt(eb->detail, "eventDescription", &descs, EB_DETAIL, err, errlen) ||
        kr_dec_arr_opt(eb->ev, "resources", &resources, EB_CTX, err, errlen))
        return KR_EINVAL;
    type = health_type(code);
    state = status && strcmp(status, "closed") == 0 ? KR_EVENT_RESOLVED : KR_EVENT_FIRING;
    /* "region" is where the notification was delivered; detail.eventRegion is the region
     * the event is about (the same for account-specific EC2 events). */
    region = event_region ? event_region : eb->region;

    ids = json_array();
    if (!ids)
        goto done;
    json_array_foreach(entities, i, v)
        if (add_instance(ids, json_string_value(json_object_get(v, "entityValue"))))
            goto done;
    if (json_array_size(ids) == 0)
        json_array_foreach(resources, i, v)
            if (add_instance(ids, json_string_value(v)))
                goto done;

    n = json_array_size(ids);
    for (i = 0; i < (n ? n : 1); i++) {
        const char *iid = json_string_value(json_array_get(ids, i));
        char id[256];

        /* One id per instance so that each is deduplicated (and acted on) on its own. */
        if (n > 1)
            snprintf(id, sizeof id, "%s/%s", eb->id, iid);
        else
            snprintf(id, sizeof id, "%s", eb->id);
        ev = eb_event(eb, id, type, state, eb->ms, iid, region, az);
        health = ev ? kr_dec_child(ev, "health") : NULL;
        if (!health || kr_dec_set_str(health, "event_type_code", code) ||
            kr_dec_set_str(health, "service", service) ||
            kr_dec_set_str(health, "category", category) ||
            kr_dec_set_str(health, "status", status) ||
            set_health_time(health, "start_time", start) ||
            set_health_time(health, "end_time", end) ||
            kr_dec_set_str(health, "description", health_description(descs)) ||
            kr_dec_set_str(health, "arn", arn))
            goto done;
        if (kr_dec_emit(out, ev, eb->raw))
            goto done_emitted;
        ev = NULL;
    }
    rc = (int)(n ? n : 1);
    goto done;
done_emitted:
    ev = NULL; /* kr_dec_emit stole it */
done:
    json_decref(ev);
    json_decref(ids);
    return rc;
}

int kr_decode_eventbridge(const json_t *ev, const char *source, const char *id_base,
                          const json_t *raw, json_t *out, char *err, size_t errlen)
{
    const char *id, *detail_type, *eb_source, *iid;
    json_t *detail, *resources;
    char idbuf[160];
    eb_t eb;

    memset(&eb, 0, sizeof eb);
    if (kr_dec_str(ev, "id", &id, EB_CTX, err, errlen) ||
        kr_dec_str(ev, "detail-type", &detail_type, EB_CTX, err, errlen) ||
        kr_dec_str(ev, "source", &eb_source, EB_CTX, err, errlen) ||
        kr_dec_time(ev, "time", &eb.ms, EB_CTX, err, errlen) ||
        kr_dec_str_opt(ev, "region", &eb.region, EB_CTX, err, errlen) ||
        kr_dec_str_opt(ev, "account", &eb.account, EB_CTX, err, errlen) ||
        kr_dec_arr_opt(ev, "resources", &resources, EB_CTX, err, errlen) ||
        kr_dec_obj(ev, "detail", &detail, EB_CTX, err, errlen))
        return KR_EINVAL;
    if (!id_base) {
        if (strlen(id) > 100)
            return kr_seterr(err, errlen, KR_EINVAL, "%s: \"id\" is longer than 100 bytes",
                             EB_CTX);
        snprintf(idbuf, sizeof idbuf, "eb:%s", id);
        id_base = idbuf;
    }
    eb.ev = ev;
    eb.detail = detail;
    eb.raw = raw ? raw : ev;
    eb.source = source;
    eb.id = id_base;

    if (strcmp(detail_type, "EC2 Instance State-change Notification") == 0)
        return state_change(&eb, out, err, errlen);
    if (strcmp(detail_type, "EC2 Spot Instance Interruption Warning") == 0)
        return instance_signal(&eb, "instance.interruption", out, err, errlen);
    if (strcmp(detail_type, "EC2 Instance Rebalance Recommendation") == 0)
        return instance_signal(&eb, "instance.rebalance", out, err, errlen);
    if (strcmp(detail_type, "CloudWatch Alarm State Change") == 0)
        return alarm_change(&eb, out, err, errlen);
    if (strcmp(detail_type, "AWS Health Event") == 0)
        return health_event(&eb, out, err, errlen);
    /* Any other event is kept, never dropped; it names its instance when it has one. */
    iid = json_string_value(json_object_get(detail, "instance-id"));
    return eb_emit(&eb, out,
                   eb_event(&eb, eb.id, "unknown", KR_EVENT_FIRING, eb.ms, iid, eb.region, NULL));
}
