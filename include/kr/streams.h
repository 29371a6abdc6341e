/* kr/streams.h: the Kafka Streams reset planner: which topics are an application's internal
 * topics (exactly, never by bare prefix), and the committed offsets a reset moves each
 * input and intermediate partition to, as kafka-streams-application-reset.sh (3.x) would.
 * Everything here is pure (no I/O, no clock): any thread. */
#ifndef KR_STREAMS_H
#define KR_STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Where the input topics are reset to. Kafka's tool defaults to the earliest offset. */
typedef enum {
    KR_STREAMS_TO_EARLIEST = 0,
    KR_STREAMS_TO_LATEST,
    KR_STREAMS_TO_DATETIME,   /* time_ms: the earliest offset whose timestamp >= time_ms */
    KR_STREAMS_BY_DURATION,   /* duration_ms: as TO_DATETIME with now - duration_ms */
} kr_streams_reset_kind_t;

typedef struct {
    kr_streams_reset_kind_t kind;
    int64_t time_ms;          /* TO_DATETIME */
    int64_t duration_ms;      /* BY_DURATION, >= 0 */
} kr_streams_reset_spec_t;

/* An existing topic and its partition count (from metadata). */
typedef struct {
    const char *name;
    int partitions;
} kr_streams_topic_t;

/* One committed offset of the application's group; offset < 0 means nothing committed
 * (ListConsumerGroupOffsets answers every partition asked, committed or not). */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
} kr_streams_committed_t;

/* What the cluster says about one input or intermediate partition. */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t low, high;        /* watermarks */
    int64_t time_offset;      /* offsets-for-times answer for the reset time; < 0 when
                               * no record has a timestamp at or after it (ignored unless
                               * the spec is TO_DATETIME or BY_DURATION) */
} kr_streams_resolved_t;

/* Everything the planner needs; all borrowed. Arrays may be NULL when their count is 0. */
typedef struct {
    const char *application_id;
    const char *const *input_topics;
    size_t n_input;
    const char *const *intermediate_topics;
    size_t n_intermediate;
    const char *const *internal_topics;  /* --internal-topics; NULL = infer them */
    size_t n_internal;
    const char *const *topology_topics;  /* internal topics the app's configured topology
                                          * names (evidence of ownership); may be empty */
    size_t n_topology;
    const kr_streams_topic_t *topics;    /* every existing topic */
    size_t n_topics;
    const kr_streams_committed_t *committed;
    size_t n_committed;
    kr_streams_reset_spec_t spec;
    const kr_streams_resolved_t *resolved;
    size_t n_resolved;
} kr_streams_input_t;

typedef struct {
    char *topic;
    int32_t partition;
    int64_t current;          /* committed offset, -1 when none */
    int64_t target;
    int fell_back_to_end;     /* time reset with no record at or after the time */
} kr_streams_offset_t;

typedef struct {
    kr_streams_offset_t *offsets;   /* input topics in the order given, then intermediate
                                     * topics; partitions ascending */
    size_t n_offsets;
    char **delete_topics;           /* internal topics to delete, sorted */
    size_t n_delete;
    char **unconfirmed_topics;      /* named like internal topics of the app, but with no
                                     * committed offset of its group and not in its
                                     * topology: left alone (another app's, e.g. app-v2's,
                                     * or a changelog the group never commits), sorted */
    size_t n_unconfirmed;
    char **missing_topics;          /* input/intermediate topics that do not exist */
    size_t n_missing;
} kr_streams_plan_t;

/* 1 when topic is named like an internal topic of application_id, by Kafka's own rule
 * (StreamsResetter.isInternalTopic): it starts with "<application_id>-" and ends with
 * "-changelog", "-repartition", "-subscription-registration-topic" or
 * "-subscription-response-topic", or matches
 * ".+-KTABLE-FK-JOIN-SUBSCRIPTION-(REGISTRATION|RESPONSE)-<digits>-topic". Else 0.
 * A name alone never decides ownership: see kr_streams_plan. */
int kr_streams_is_internal_name(const char *application_id, const char *topic);

/* Plans a reset.
 *
 * Internal topics. The name-inferred set is every existing topic that
 * kr_streams_is_internal_name accepts and that is not an input or intermediate topic
 * (Kafka's inference). A name prefix cannot tell application "app" from "app-v2":
 * "app-v2-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog" starts with "app-". So a
 * topic of that set is deleted only with evidence that it is this application's: the
 * group (group id = application id) has a committed offset (>= 0) on one of its
 * partitions, or the configured topology names it. The others are reported as
 * unconfirmed and left alone. With internal_topics given (Kafka's --internal-topics), those
 * are deleted instead; each must belong to the name-inferred set, else KR_EINVAL.
 *
 * Offsets. Every partition of every existing input topic goes to: its low watermark
 * (earliest), its high watermark (latest), or the offsets-for-times answer, and to the
 * high watermark when that answer is < 0 (Kafka's tool since 3.0: "Falling back to latest
 * known offset"); the caller resolved the reset time (kr_streams_reset_time) when it
 * asked for offsets for times. Intermediate topics go to their high watermark. Missing input or intermediate topics are listed, not planned.
 *
 * Returns 0 with *out a new plan (free with kr_streams_plan_free), or KR_EINVAL with err
 * set (no application id, a topic named twice across the lists, an explicit internal topic
 * outside the inferred set, a partition without resolved watermarks, a negative duration),
 * or KR_ENOMEM. */
int kr_streams_plan(const kr_streams_input_t *in, kr_streams_plan_t **out, char *err,
                    size_t errlen);
void kr_streams_plan_free(kr_streams_plan_t *plan);

/* The timestamp a time-based spec resolves to (TO_DATETIME: time_ms; BY_DURATION:
 * now_ms - duration_ms); -1 for TO_EARLIEST and TO_LATEST. */
int64_t kr_streams_reset_time(const kr_streams_reset_spec_t *spec, int64_t now_ms);

/* Parses Kafka's --to-datetime "YYYY-MM-DDTHH:mm:SS.sss" (the fraction optional), UTC
 * unless it ends in "Z" or an offset "+hh:mm"/"-hh:mm"/"+hhmm", as Kafka's
 * Utils.getDateTime reads it. Returns 0 or KR_EINVAL with err set. */
int kr_streams_parse_datetime(const char *s, int64_t *ms, char *err, size_t errlen);
/* Parses an ISO-8601 duration as Java's Duration.parse does, "PnDTnHnMn.nS" (case
 * insensitive, at least one part, fractions only on seconds), into milliseconds
 * (sub-millisecond digits are dropped). Negative durations are refused (KR_EINVAL): a
 * reset to a time in the future is a mistake. */
int kr_streams_parse_iso_duration(const char *s, int64_t *ms, char *err, size_t errlen);

/* The plan as JSON: {"offsets":[{"topic","partition","current"(null when none),"target"}],
 * "delete_topics":[...], "unconfirmed_internal_topics":[...], "missing_topics":[...]}.
 * Returns a new reference (NULL on ENOMEM). */
json_t *kr_streams_plan_json(const kr_streams_plan_t *plan);

#endif
