/* intake/decode_sns.c: Amazon SNS HTTP(S) deliveries: the envelope, and what its Message
 * carries: a classic CloudWatch alarm, an EventBridge event, or anything else (kept as
 * type "unknown"). Signatures are checked elsewhere; the envelope is trusted here. */
#include <stdio.h>
#include <string.h>

#include "decode_internal.h"
#include "kr/decode.h"
#include "kr/err.h"
#include "kr/event.h"

/* A classic alarm's dimension list [{"name": "InstanceId", "value": "i-..."}] as an object
 * {"InstanceId": "i-..."}. SNS spells the keys in lower case; "Name"/"Value" (the API's
 * spelling) is accepted too. Entries that are not name/value strings are skipped. */
static json_t *dimensions_object(const json_t *list)
{
    json_t *dims = json_object(), *d;
    size_t i;

    if (!dims)
        return NULL;
    json_array_foreach(list, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        const char *value = json_string_value(json_object_get(d, "value"));

        if (!name)
            name = json_string_value(json_object_get(d, "Name"));
        if (!value)
            value = json_string_value(json_object_get(d, "Value"));
        if (name && value && json_object_set_new(dims, name, json_string(value))) {
            json_decref(dims);
            return NULL;
        }
    }
    return dims;
}

/* The metric of a classic alarm's Trigger: Trigger itself for a single-metric alarm, or
 * the first MetricStat of Trigger.Metrics (preferring ReturnData) for a metric-math alarm. */
static const json_t *trigger_metric(const json_t *trigger, const json_t **stat_holder)
{
    const json_t *metrics = json_object_get(trigger, "Metrics"), *m, *first = NULL;
    size_t i;

    *stat_holder = trigger;
    if (json_is_string(json_object_get(trigger, "MetricName")) || !json_is_array(metrics))
        return trigger;
    json_array_foreach(metrics, i, m) {
        const json_t *ms = json_object_get(m, "MetricStat");

        if (!json_is_object(ms) || !json_is_object(json_object_get(ms, "Metric")))
            continue;
        if (!first)
            first = ms;
        if (json_is_true(json_object_get(m, "ReturnData"))) {
            first = ms;
            break;
        }
    }
    if (!first)
        return trigger;
    *stat_holder = first;
    return json_object_get(first, "Metric");
}

int kr_decode_sns_alarm(const json_t *msg, const char *id, int64_t fallback_ms,
                        const json_t *raw, json_t *out, char *err, size_t errlen)
{
    static const char *const ctx = "CloudWatch alarm message";
    const char *name, *new_state, *desc, *account, *reason, *when, *region_name, *arn;
    const char *old_state, *state, *metric_name = NULL, *instance_id = NULL, *region = NULL;
    const json_t *metric = NULL, *stat_holder = NULL, *statistic;
    json_t *trigger, *ev = NULL, *alarm, *dims = NULL;
    char region_buf[64];
    int64_t ms = fallback_ms;
    int rc = KR_EINVAL;

    if (kr_dec_str(msg, "AlarmName", &name, ctx, err, errlen) ||
        kr_dec_str(msg, "NewStateValue", &new_state, ctx, err, errlen) ||
        kr_dec_str_opt(msg, "AlarmDescription", &desc, ctx, err, errlen) ||
        kr_dec_str_opt(msg, "AWSAccountId", &account, ctx, err, errlen) ||
        kr_dec_str_opt(msg, "NewStateReason", &reason, ctx, err, errlen) ||
        kr_dec_str_opt(msg, "StateChangeTime", &when, ctx, err, errlen) ||
        kr_dec_str_opt(msg, "Region", &region_name, ctx, err, errlen) ||
        kr_dec_str_opt(msg, "AlarmArn", &arn, ctx, err, errlen) ||
        kr_dec_str_opt(msg, "OldStateValue", &old_state, ctx, err, errlen) ||
        kr_dec_obj_opt(msg, "Trigger", &trigger, ctx, err, errlen))
        goto done;
    state = kr_dec_alarm_state(new_state);
    if (!state) {
        kr_seterr(err, errlen, KR_EINVAL, "%s: unknown NewStateValue \"%.64s\"", ctx, new_state);
        goto done;
    }
    if (when && kr_dec_parse_time(when, &ms) != 0)
        ms = fallback_ms;
    /* "Region" is a display name; the code comes from the ARN
     * (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME). */
    region = kr_dec_arn_field(arn, 3, region_buf, sizeof region_buf);
    if (!region)
        region = kr_dec_region_code(region_name);
    if (trigger) {
        metric = trigger_metric(trigger, &stat_holder);
        metric_name = json_string_value(json_object_get(metric, "MetricName"));
        dims = dimensions_object(json_object_get(metric, "Dimensions"));
        if (!dims)
            goto nomem;
        instance_id = json_string_value(json_object_get(dims, "InstanceId"));
    }
    rc = KR_ENOMEM;
    ev = kr_event_new(id, "aws.sns", kr_dec_alarm_type(metric_name), state, ms);
    alarm = ev ? kr_dec_child(ev, "alarm") : NULL;
    if (!alarm || kr_dec_set_str(alarm, "name", name) ||
        kr_dec_set_str(alarm, "description", desc) ||
        kr_dec_set_str(alarm, "metric", metric_name) ||
        kr_dec_set_ref(alarm, "namespace", json_object_get(metric, "Namespace")) ||
        kr_dec_set_str(alarm, "state", new_state) ||
        kr_dec_set_str(alarm, "previous_state", old_state) ||
        kr_dec_set_str(alarm, "reason", reason) || kr_dec_set_str(alarm, "account", account) ||
        kr_dec_set_str(alarm, "region", region) || kr_dec_set_str(alarm, "arn", arn))
        goto nomem;
    if (dims && json_object_size(dims) && kr_dec_set_ref(alarm, "dimensions", dims))
        goto nomem;
    if (trigger) {
        /* Statistic ("AVERAGE") for standard statistics, ExtendedStatistic ("p99") for
         * percentiles; a metric-math MetricStat says "Stat". */
        statistic = json_object_get(stat_holder, "Statistic");
        if (!json_is_string(statistic))
            statistic = json_object_get(stat_holder, "ExtendedStatistic");
        if (!json_is_string(statistic))
            statistic = json_object_get(stat_holder, "Stat");
        if (kr_dec_set_ref(alarm, "threshold", json_object_get(trigger, "Threshold")) ||
            kr_dec_set_ref(alarm, "comparison", json_object_get(trigger, "ComparisonOperator")) ||
            kr_dec_set_ref(alarm, "statistic", json_is_string(statistic) ? statistic : NULL) ||
            kr_dec_set_ref(alarm, "period", json_object_get(stat_holder, "Period")) ||
            kr_dec_set_ref(alarm, "evaluation_periods",
                            json_object_get(trigger, "EvaluationPeriods")))
            goto nomem;
        if (!json_object_get(alarm, "period") &&
            kr_dec_set_ref(alarm, "period", json_object_get(trigger, "Period")))
            goto nomem;
    }
    if (kr_dec_set_instance(ev, instance_id, region, NULL))
        goto nomem;
    rc = kr_dec_emit(out, ev, raw);
    ev = NULL;
    if (rc == 0)
        rc = 1;
    goto done;
nomem:
    rc = KR_ENOMEM;
done:
    json_decref(ev);
    json_decref(dims);
    return rc;
}

static int is_classic_alarm(const json_t *msg)
{
    return json_is_object(msg) && json_object_get(msg, "AlarmName") &&
           json_object_get(msg, "NewStateValue");
}

static int decode_envelope(const json_t *env, json_t *out, char *err, size_t errlen)
{
    static const char *const ctx = "SNS message";
    const char *type, *message_id, *topic, *message, *subject, *cert_url, *unsub_url;
    json_t *msg = NULL, *raw = NULL, *ev = NULL, *tmp = NULL;
    char id[160], inner_err[256] = "";
    int64_t ms;
    int rc = KR_EINVAL;

    if (kr_dec_str(env, "Type", &type, ctx, err, errlen) ||
        kr_dec_str(env, "MessageId", &message_id, ctx, err, errlen))
        goto done;
    if (strcmp(type, "SubscriptionConfirmation") == 0 ||
        strcmp(type, "UnsubscribeConfirmation") == 0) {
        rc = 0; /* subscription bookkeeping, not an event: confirmation is handled by intake */
        goto done;
    }
    if (strcmp(type, "Notification") != 0) {
        kr_seterr(err, errlen, KR_EINVAL,
                  "%s: unknown Type \"%.64s\" (expected Notification, SubscriptionConfirmation "
                  "or UnsubscribeConfirmation)", ctx, type);
        goto done;
    }
    /* A null Subject counts as absent (AWS Lambda relays write "Subject": null), and the
     * URL keys may be spelled SigningCertUrl/UnsubscribeUrl: check types, not spelling. */
    if (kr_dec_str(env, "TopicArn", &topic, ctx, err, errlen) ||
        kr_dec_str(env, "Message", &message, ctx, err, errlen) ||
        kr_dec_time(env, "Timestamp", &ms, ctx, err, errlen) ||
        kr_dec_str_opt(env, "Subject", &subject, ctx, err, errlen) ||
        kr_dec_str_opt(env, json_object_get(env, "SigningCertURL") ? "SigningCertURL"
                                                                   : "SigningCertUrl",
                       &cert_url, ctx, err, errlen) ||
        kr_dec_str_opt(env, json_object_get(env, "UnsubscribeURL") ? "UnsubscribeURL"
                                                                   : "UnsubscribeUrl",
                       &unsub_url, ctx, err, errlen))
        goto done;
    if (strlen(message_id) > 100) {
        kr_seterr(err, errlen, KR_EINVAL, "%s: \"MessageId\" is longer than 100 bytes", ctx);
        goto done;
    }
    snprintf(id, sizeof id, "sns:%s", message_id);

    rc = KR_ENOMEM;
    /* raw: the envelope with Message parsed; a shallow copy (the values are shared, and
     * nothing writes into a decoded event's raw payload) */
    raw = json_copy((json_t *)env);
    if (!raw)
        goto done;
    msg = json_loads(message, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(msg) && json_object_set(raw, "Message", msg))
        goto done;

    /* What the Message carries. A Message that looks like an alarm or an EventBridge event
     * but does not decode is still kept (type "unknown", with the reason): SNS would
     * otherwise redeliver it forever, and an operator wants to see it. */
    if (kr_decode_detect(msg) == KR_FMT_EVENTBRIDGE || is_classic_alarm(msg)) {
        tmp = json_array();
        if (!tmp)
            goto done;
        if (is_classic_alarm(msg))
            rc = kr_decode_sns_alarm(msg, id, ms, raw, tmp, inner_err, sizeof inner_err);
        else
            rc = kr_decode_eventbridge(msg, "aws.sns", id, raw, tmp, inner_err,
                                       sizeof inner_err);
        if (rc > 0) {
            if (json_array_extend(out, tmp))
                rc = KR_ENOMEM;
            goto done;
        }
        if (rc == KR_ENOMEM)
            goto done;
    }
    rc = KR_ENOMEM;
    ev = kr_event_new(id, "aws.sns", "unknown", KR_EVENT_FIRING, ms);
    if (!ev || kr_dec_set_str(ev, "message", message) ||
        (*inner_err && kr_dec_set_str(ev, "decode_error", inner_err)))
        goto done;
    rc = kr_dec_emit(out, ev, raw);
    ev = NULL;
    if (rc == 0)
        rc = 1;
done:
    if (rc == KR_ENOMEM)
        kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    json_decref(ev);
    json_decref(tmp);
    json_decref(msg);
    json_decref(raw);
    return rc;
}

/* An AWS Lambda SNS event ({"Records": [{"EventSource": "aws:sns", "Sns": {envelope}}]}),
 * as relays forward it, is the envelopes of its records; otherwise env is one envelope. */
int kr_decode_sns(const json_t *env, json_t *out, char *err, size_t errlen)
{
    const json_t *records = json_object_get(env, "Records"), *rec;
    json_t *sns;
    char ctx[64];
    size_t i;
    int rc, n = 0;

    if (json_object_get(env, "Type") || !json_is_array(records))
        return decode_envelope(env, out, err, errlen);
    json_array_foreach(records, i, rec) {
        snprintf(ctx, sizeof ctx, "SNS Lambda event: Records[%zu]", i);
        if (!json_is_object(rec))
            return kr_seterr(err, errlen, KR_EINVAL, "%s must be an object", ctx);
        if (kr_dec_obj(rec, "Sns", &sns, ctx, err, errlen))
            return KR_EINVAL;
        rc = decode_envelope(sns, out, err, errlen);
        if (rc < 0)
            return rc;
        n += rc;
    }
    return n;
}
