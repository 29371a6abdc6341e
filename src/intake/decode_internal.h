/* intake/decode_internal.h: what the payload decoders (intake/decode*.c) share: typed
 * member access with one-line errors, event building, times and regions. Not public. */
#ifndef KR_DECODE_INTERNAL_H
#define KR_DECODE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Typed members. `ctx` names the object in errors ("SNS message", "EventBridge event:
 * detail"); errors read `<ctx>: "<key>" is missing` or `<ctx>: "<key>" must be a string`.
 * The _opt variants treat a JSON null like an absent key and set *out = NULL. All return
 * 0 or KR_EINVAL; *out is borrowed from obj. */
int kr_dec_str(const json_t *obj, const char *key, const char **out, const char *ctx,
               char *err, size_t errlen);
int kr_dec_str_opt(const json_t *obj, const char *key, const char **out, const char *ctx,
                   char *err, size_t errlen);
int kr_dec_obj(const json_t *obj, const char *key, json_t **out, const char *ctx,
               char *err, size_t errlen);
int kr_dec_obj_opt(const json_t *obj, const char *key, json_t **out, const char *ctx,
                   char *err, size_t errlen);
int kr_dec_arr(const json_t *obj, const char *key, json_t **out, const char *ctx,
               char *err, size_t errlen);
int kr_dec_arr_opt(const json_t *obj, const char *key, json_t **out, const char *ctx,
                   char *err, size_t errlen);
/* A string member that must be an RFC 3339 time; *ms is set. */
int kr_dec_time(const json_t *obj, const char *key, int64_t *ms, const char *ctx,
                char *err, size_t errlen);

/* Event building: each sets nothing when the value is NULL (keys with no value are
 * omitted, never null). _set_ref stores val itself (a new reference, shared with the
 * payload: decoded events and payloads are never written to). Return 0 or -1 (memory). */
int kr_dec_set_str(json_t *obj, const char *key, const char *val);
int kr_dec_set_ref(json_t *obj, const char *key, const json_t *val);
/* The object member `key` of ev, created empty when missing. Borrowed; NULL on memory. */
json_t *kr_dec_child(json_t *ev, const char *key);
/* Sets ev.instance = {id, region, az} for the non-NULL ones; nothing when id is NULL
 * (an event carries an instance only when it names one). Returns 0 or -1. */
int kr_dec_set_instance(json_t *ev, const char *id, const char *region, const char *az);
/* Stores a copy of raw as ev.raw and appends ev (stolen, even on failure) to out.
 * Returns 0 or KR_ENOMEM. */
int kr_dec_emit(json_t *out, json_t *ev, const json_t *raw);

/* Times as AWS writes them: RFC 3339 (also CloudWatch's "+0000") or RFC 1123
 * ("Wed, 26 Jun 2019 15:00:00 GMT", AWS Health start/end times). Returns 0 or KR_EINVAL. */
int kr_dec_parse_time(const char *s, int64_t *ms);
/* The region code of a CloudWatch region display name ("Asia Pacific (Seoul)" ->
 * "ap-northeast-2"), or NULL. */
const char *kr_dec_region_code(const char *display_name);
/* Field n (0-based, ':'-separated) of an ARN into buf; returns buf, or NULL if the ARN
 * has fewer fields, the field is empty or does not fit. */
const char *kr_dec_arn_field(const char *arn, int n, char *buf, size_t len);
/* An EC2 instance id in s: s itself if it starts "i-", or what follows ":instance/" in an
 * ARN, into buf. Returns buf or NULL. */
const char *kr_dec_instance_id(const char *s, char *buf, size_t len);

/* CloudWatch alarm mapping shared by the SNS (classic) and EventBridge decoders:
 * ALARM -> firing, OK -> resolved, INSUFFICIENT_DATA -> insufficient_data (else NULL);
 * a StatusCheckFailed* metric is "instance.impaired", any other "alarm". */
const char *kr_dec_alarm_state(const char *cloudwatch_state);
const char *kr_dec_alarm_type(const char *metric_name);

/* Per-format decoders; each appends to out and returns the count or KR_EINVAL. */
int kr_decode_sns(const json_t *envelope, json_t *out, char *err, size_t errlen);
/* An EventBridge event. source/id_base/raw say how it arrived: directly ("aws.events",
 * NULL -> "eb:<id>", NULL -> the event itself) or inside SNS ("aws.sns",
 * "sns:<MessageId>", the envelope). */
int kr_decode_eventbridge(const json_t *ev, const char *source, const char *id_base,
                          const json_t *raw, json_t *out, char *err, size_t errlen);
/* A classic CloudWatch alarm message from inside an SNS notification. */
int kr_decode_sns_alarm(const json_t *alarm, const char *id, int64_t fallback_ms,
                        const json_t *raw, json_t *out, char *err, size_t errlen);
int kr_decode_alertmanager(const json_t *payload, json_t *out, char *err, size_t errlen);
int kr_decode_event(const json_t *payload, json_t *out, char *err, size_t errlen);

#endif
