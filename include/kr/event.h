/* kr/event.h: the normalized event every source is decoded into (DESIGN.md "Normalized
 * event"): a jansson object {id, source, type, state, time, ...} that rules match against.
 * Pure functions on jansson values; any thread, as long as the value is not shared. */
#ifndef KR_EVENT_H
#define KR_EVENT_H

#include <jansson.h>
#include <stdint.h>

/* Event states. "insufficient_data" only comes from CloudWatch alarms. */
#define KR_EVENT_FIRING "firing"
#define KR_EVENT_RESOLVED "resolved"
#define KR_EVENT_INSUFFICIENT_DATA "insufficient_data"

/* New normalized event {id, source, type, state, time} (all strings; time RFC 3339 ms UTC
 * via kr_time_format). Returns a new reference, or NULL if a string is NULL or not valid
 * UTF-8 (or on allocation failure). */
json_t *kr_event_new(const char *id, const char *source, const char *type,
                     const char *state, int64_t time_ms);
/* Borrowed string at a dotted path ("broker.id" etc.), NULL if absent/not a string. */
const char *kr_event_str(const json_t *ev, const char *path);
/* Borrowed value at a dotted path, NULL if absent. Each segment names a member of an
 * object; a segment of decimal digits also indexes an array ("raw.resources.0"). */
json_t *kr_event_get(const json_t *ev, const char *path);

#endif
