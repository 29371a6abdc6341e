/* kr/decode.h: decoders from every webhook payload (Amazon SNS, Amazon EventBridge,
 * Alertmanager webhook v4, already-normalized events) to normalized events (kr/event.h).
 * Pure functions: no I/O, no clock, no globals; any thread. */
#ifndef KR_DECODE_H
#define KR_DECODE_H

#include <jansson.h>
#include <stddef.h>

typedef enum {
    KR_FMT_AUTO = 0,
    KR_FMT_SNS,
    KR_FMT_EVENTBRIDGE,
    KR_FMT_ALERTMANAGER,
    KR_FMT_EVENT /* already normalized */
} kr_format_t;

/* Which format a payload is in, from its shape: an object with "Type" and "MessageId" or
 * "TopicArn" is SNS (so is an AWS Lambda SNS event, {"Records": [{"Sns": {...}}]}); with
 * "detail-type" EventBridge; with "alerts" (or "groupKey") an Alertmanager webhook; with
 * string "id", "source" and "type" a normalized event. KR_FMT_AUTO if unknown (or not an
 * object). */
kr_format_t kr_decode_detect(const json_t *payload);
/* "auto", "sns", "eventbridge", "alertmanager", "event"; never NULL. */
const char *kr_format_name(kr_format_t fmt);

/* Decodes a payload into normalized events, appended to `out` (a JSON array). An SNS
 * envelope is decoded by its Message (signature checks are elsewhere; the envelope is
 * assumed verified); a Lambda SNS event by the envelope of each record. Returns the number
 * of events appended (>= 1; SubscriptionConfirmation and UnsubscribeConfirmation envelopes
 * yield 0), or KR_EINVAL with a one-line reason in err for a malformed payload (not JSON
 * object, required field missing or of wrong type). On error `out` is left as it was.
 * payload is borrowed; each event is a new object owned by `out` whose "raw" is a copy of
 * the payload it came from (for SNS, the envelope with a JSON Message decoded in place; for
 * Alertmanager, the alert). */
int kr_decode(kr_format_t fmt, const json_t *payload, json_t *out, char *err, size_t errlen);
/* Same, from raw bytes (parses JSON first; err says "invalid JSON at line L column C: ...").
 * Duplicate object keys are refused. */
int kr_decode_buf(kr_format_t fmt, const char *buf, size_t len, json_t *out, char *err,
                  size_t errlen);

#endif
