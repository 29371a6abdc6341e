/* kr/kafka.h: the small asynchronous Kafka interface kresponder's Streams resets use
 * (describe a group, committed offsets, offsets for times, watermarks, list topics, commit
 * a group's offsets, delete topics), with two implementations behind one ops table: the
 * librdkafka one (actions/kafka.c) and a scriptable fake for tests (actions/kafka_fake.c).
 *
 * Threads: every function here is called on the thread that runs the event_base the
 * client was created with (the loop thread), and every callback runs on that thread, from
 * the loop, never from inside the call that started the request. Each request has a
 * deadline that the loop enforces with a timer: a request the library never answers ends
 * with KR_ETIMEDOUT, and its late answer, if one comes, is dropped. */
#ifndef KR_KAFKA_H
#define KR_KAFKA_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct kr_kafka kr_kafka_t;

typedef enum {
    KR_KAFKA_DESCRIBE_GROUP = 0, /* group: state and member count */
    KR_KAFKA_COMMITTED,          /* group + partitions: committed offsets */
    KR_KAFKA_OFFSETS_FOR_TIMES,  /* partitions (offset = timestamp ms): offsets */
    KR_KAFKA_WATERMARKS,         /* partitions: low and high watermarks */
    KR_KAFKA_LIST_TOPICS,        /* every topic with its partition count */
    KR_KAFKA_COMMIT,             /* group + partitions (offset = new committed offset) */
    KR_KAFKA_DELETE_TOPICS,      /* topics */
    KR_KAFKA_OP_COUNT
} kr_kafka_op_t;

/* "describe_group", "committed", ... Never NULL. */
const char *kr_kafka_op_name(kr_kafka_op_t op);

typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;              /* COMMIT: new offset; OFFSETS_FOR_TIMES: timestamp (ms) */
} kr_kafka_tp_t;

/* One request; everything is borrowed and copied before the start function returns. */
typedef struct {
    const char *group;               /* DESCRIBE_GROUP, COMMITTED, COMMIT */
    const kr_kafka_tp_t *partitions; /* COMMITTED, OFFSETS_FOR_TIMES, WATERMARKS, COMMIT */
    size_t n_partitions;
    const char *const *topics;       /* DELETE_TOPICS */
    size_t n_topics;
    int timeout_ms;                  /* deadline from the start; <= 0: 10 s */
} kr_kafka_request_t;

typedef struct {
    char *topic;
    int32_t partition;
    int64_t offset;              /* committed (-1: none), for times (-1: no record at or
                                  * after the time), or the offset committed (COMMIT) */
    int64_t low, high;           /* WATERMARKS */
    int err;                     /* 0 or KR_E* for this partition */
    char *errstr;                /* NULL when err is 0 */
} kr_kafka_partition_t;

typedef struct {
    char *name;
    int partitions;              /* LIST_TOPICS */
    int err;                     /* 0 or KR_E* for this topic (DELETE_TOPICS, LIST_TOPICS) */
    char *errstr;
} kr_kafka_topic_t;

typedef struct {
    kr_kafka_op_t op;
    int result;                  /* 0, or KR_E* for the request as a whole: KR_ETIMEDOUT
                                  * (deadline passed), KR_EUNSUPPORTED (the broker does not
                                  * implement the API), KR_ENOTFOUND, KR_ESTATE (cancelled
                                  * by kr_kafka_free), KR_EIO (any other Kafka error) */
    char *error;                 /* a sentence when result != 0, else NULL */
    char *group_state;           /* DESCRIBE_GROUP: "Stable", "Empty", "Dead",
                                  * "PreparingRebalance", "CompletingRebalance", or "unknown"
                                  * when the broker could not say */
    int members;                 /* DESCRIBE_GROUP: member count, -1 when unknown */
    kr_kafka_partition_t *partitions;
    size_t n_partitions;
    kr_kafka_topic_t *topics;
    size_t n_topics;
} kr_kafka_result_t;

/* Runs exactly once per accepted request, on the loop thread; res and everything it points
 * to is borrowed for the duration of the call (kr_kafka_result_copy keeps it). The
 * callback may start new requests and may call kr_kafka_free. */
typedef void (*kr_kafka_done_cb)(const kr_kafka_result_t *res, void *arg);

/* The librdkafka implementation. bootstrap: "host:port,..."; props: NULL or a
 * NULL-terminated list of librdkafka property name/value pairs ("security.protocol",
 * "SSL", ..., NULL). base is borrowed and must outlive the client. Returns a new client or
 * NULL with err set (a bad property names itself). */
kr_kafka_t *kr_kafka_new(struct event_base *base, const char *bootstrap,
                         const char *const *props, char *err, size_t errlen);

/* Cancels pending requests (each callback runs once, before this returns, with result
 * KR_ESTATE) and frees the client. Called from a callback, the client goes once the
 * callback returns. NULL is a no-op. */
void kr_kafka_free(kr_kafka_t *k);

/* Starts a request. cb(res, arg) runs later on the loop thread, exactly once. Returns 0;
 * KR_EINVAL for a request missing what its op needs (group, partitions, topics); KR_ESTATE
 * while the client is being freed; KR_ENOMEM. On a non-zero return cb never runs. */
int kr_kafka_start(kr_kafka_t *k, kr_kafka_op_t op, const kr_kafka_request_t *req,
                   kr_kafka_done_cb cb, void *arg);

/* Requests started whose callback has not run yet. */
size_t kr_kafka_pending(const kr_kafka_t *k);

/* The blocking convenience for the CLI and tests: starts the request and runs the client's
 * event_base (which nothing else may be running) until its callback fires. *out is always
 * set to a new result (free with kr_kafka_result_free), also when the request could not
 * start; returns (*out)->result. KR_ENOMEM with *out NULL when even that fails. */
int kr_kafka_call(kr_kafka_t *k, kr_kafka_op_t op, const kr_kafka_request_t *req,
                  kr_kafka_result_t **out);

/* Result helpers: a new empty result for op (result 0, members -1), a deep copy, free
 * (NULL is a no-op). */
kr_kafka_result_t *kr_kafka_result_new(kr_kafka_op_t op);
kr_kafka_result_t *kr_kafka_result_copy(const kr_kafka_result_t *res);
void kr_kafka_result_free(kr_kafka_result_t *res);
/* Sets result and error (printf-style). Returns code. */
int kr_kafka_result_fail(kr_kafka_result_t *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends one partition (topic copied; errstr copied, may be NULL). Returns 0 or KR_ENOMEM. */
int kr_kafka_result_add_partition(kr_kafka_result_t *res, const char *topic, int32_t partition,
                                  int64_t offset, int64_t low, int64_t high, int err,
                                  const char *errstr);
/* Appends one topic. Returns 0 or KR_ENOMEM. */
int kr_kafka_result_add_topic(kr_kafka_result_t *res, const char *name, int partitions,
                              int err, const char *errstr);
/* Sets the group state (copied) and member count. Returns 0 or KR_ENOMEM. */
int kr_kafka_result_set_group(kr_kafka_result_t *res, const char *state, int members);

/* ---- for implementations ----
 * An implementation gets each accepted request through its ops row with a request id,
 * answers it later on the loop thread with kr_kafka_deliver, and is told when the loop gave
 * up on one (deadline). The generic layer owns ids, deadlines, callbacks and cancel. */
typedef struct {
    const char *name;
    /* Starts op; copies what it needs from req. Returns 0, or KR_E* with err set (the
     * request then fails at once through its callback, from the loop). */
    int (*start)(void *impl, kr_kafka_t *k, uint64_t id, kr_kafka_op_t op,
                 const kr_kafka_request_t *req, char *err, size_t errlen);
    /* The loop gave up on request id (its deadline passed); may be NULL. */
    void (*expired)(void *impl, uint64_t id, kr_kafka_op_t op);
    /* Frees impl; no request is pending any more. */
    void (*free)(void *impl);
} kr_kafka_ops_t;

/* Wraps impl (stolen: ops->free frees it when the client is freed). base is borrowed.
 * Returns a new client or NULL (ENOMEM; impl is then freed through ops->free). */
kr_kafka_t *kr_kafka_new_with_ops(struct event_base *base, const kr_kafka_ops_t *ops,
                                  void *impl);
/* The event_base the client runs on (borrowed). */
struct event_base *kr_kafka_base(const kr_kafka_t *k);
/* Answers request id with res (stolen). An id that is no longer pending (its deadline
 * passed, or it was cancelled) is dropped quietly. Loop thread only, from an event
 * callback (never from inside ops->start). */
void kr_kafka_deliver(kr_kafka_t *k, uint64_t id, kr_kafka_result_t *res);

/* ---- the fake (actions/kafka_fake.c) ----
 * An in-memory cluster for tests: topics with partitions whose records carry timestamps
 * first_ts, first_ts + step, ... from the low watermark on; groups with committed offsets,
 * a state and members. It answers every request from the loop (a zero-delay event) and
 * records each call. Requests can be made to fail or to hang (never answered, so the
 * deadline fires). */
typedef struct kr_kafka_fake kr_kafka_fake_t;

/* A new client on base backed by a new fake; *fake is borrowed (freed with the client). */
kr_kafka_t *kr_kafka_fake_new(struct event_base *base, kr_kafka_fake_t **fake);
/* Adds (or replaces) a topic with n partitions, all with watermarks [0, 0). */
int kr_kafka_fake_add_topic(kr_kafka_fake_t *f, const char *topic, int partitions);
/* Sets a partition's watermarks and record timestamps. */
int kr_kafka_fake_set_partition(kr_kafka_fake_t *f, const char *topic, int32_t partition,
                                int64_t low, int64_t high, int64_t first_ts, int64_t step_ms);
/* Sets a group's state ("Empty", "Stable", ...) and member count. A group never set is
 * "Dead" with 0 members, as Kafka describes an unknown group. */
int kr_kafka_fake_set_group(kr_kafka_fake_t *f, const char *group, const char *state,
                            int members);
/* Sets (offset >= 0) or clears (offset < 0) a committed offset. */
int kr_kafka_fake_set_committed(kr_kafka_fake_t *f, const char *group, const char *topic,
                                int32_t partition, int64_t offset);
/* The committed offset, -1 when none. */
int64_t kr_kafka_fake_committed(const kr_kafka_fake_t *f, const char *group,
                                const char *topic, int32_t partition);
/* 1 when the topic exists. */
int kr_kafka_fake_has_topic(const kr_kafka_fake_t *f, const char *topic);
/* From now on op fails with code and message (code 0 restores it); KR_ETIMEDOUT as code
 * makes op hang instead: never answered, so the loop's deadline ends it. */
void kr_kafka_fake_fail(kr_kafka_fake_t *f, kr_kafka_op_t op, int code, const char *message);
/* Every request started so far, oldest first, as one line each:
 * "describe_group app", "committed app orders:0,orders:1", "delete_topics a,b", ...
 * (partitions and topics in request order). Borrowed; NULL-terminated; valid until the
 * next request. */
const char *const *kr_kafka_fake_calls(const kr_kafka_fake_t *f, size_t *n);

#endif
