/* kr/metrics.h: counters and gauges, declared once (X-macro) and exported in the
 * Prometheus text format. Series are (family, label set); label sets are written by the
 * caller as Prometheus label text, e.g. `endpoint="/hooks/sns",code="202"`. Loop thread
 * only. */
#ifndef KR_METRICS_H
#define KR_METRICS_H

#include <stddef.h>

/* X(name, type, help): every metric family of kresponder, exported as kresponder_<name>. */
#define KR_METRIC_FAMILIES(X)                                                                    \
    X(http_requests_total, counter, "HTTP requests by endpoint and status code.")               \
    X(events_total, counter, "Events accepted and journaled, by source and type.")              \
    X(events_duplicate_total, counter, "Events dropped as redeliveries of an id already seen.")  \
    X(decode_failures_total, counter, "Payloads refused as malformed, by endpoint.")            \
    X(auth_failures_total, counter, "Requests refused for authentication or signature, by endpoint.") \
    X(sns_certificate_fetches_total, counter, "SNS signing certificate downloads, by result.")   \
    X(sns_subscriptions_confirmed_total, counter, "SNS subscriptions confirmed, by result.")    \
    X(journal_records_total, counter, "Records appended to the journal.")                       \
    X(journal_fsyncs_total, counter, "fdatasync calls of the journal (group commits).")         \
    X(journal_healthy, gauge, "1 while the journal can persist records.")                       \
    X(intake_worker_jobs, gauge, "SNS requests queued for or being worked by the intake workers (http.workers).") \
    X(rule_reloads_total, counter, "Rule set reloads, by result.")                              \
    X(rules_loaded, gauge, "Rules in the active rule set.")                                     \
    X(incidents, gauge, "Incidents by state.")                                                  \
    X(incident_transitions_total, counter, "Incident state transitions, by state entered.")     \
    X(actions_total, counter, "Actions dispatched, by kind and result.")                        \
    X(uptime_seconds, gauge, "Seconds since the daemon started.")                               \
    X(pages_sent_total, counter, "Page messages delivered (2xx answer), by receiver.")          \
    X(pages_retried_total, counter, "Page delivery attempts that failed and will be retried (429, 5xx, transport), by receiver.") \
    X(pages_failed_total, counter, "Page messages given up, by receiver and reason (rejected: 4xx, expired: outbox.max_age, receiver, error).") \
    X(outbox_depth, gauge, "Page messages not yet delivered, by receiver.")                     \
    X(outbox_oldest_age_seconds, gauge, "Age of the oldest undelivered page message, by receiver.") \
    X(streams_marks, gauge, "Kafka Streams reset marks, by state.")                             \
    X(streams_resets_total, counter, "Kafka Streams reset marks settled, by result (done, dry_run, failed, cancelled).") \
    X(cluster_session_state, gauge, "1 for the current state of each cluster's ZooKeeper session.") \
    X(cluster_brokers_alive, gauge, "Brokers registered in /brokers/ids, by cluster.")          \
    X(cluster_broker_events_total, counter, "broker.left and broker.joined events, by cluster.") \
    X(cluster_session_expiries_total, counter, "Expiries of kresponder's own ZooKeeper session.") \
    X(cluster_model_load_seconds, gauge, "Duration of the last full read of a cluster's model.") \
    X(evacuation_batches_total, counter, "Reassignment batches written to /admin/reassign_partitions, by cluster.") \
    X(evacuation_partitions_moved_total, counter, "Partitions an evacuation moved and checked (replicas and ISR at target), by cluster.") \
    X(evacuation_progress, gauge, "Progress of each evacuation run: batches done/total, partitions moved/total.") \
    X(evacuations_running, gauge, "Evacuations holding a max_concurrent_evacuations slot, by cluster.") \
    X(guard_trips_total, counter, "Kafka-changing actions stopped by a cluster guard, by cluster and guard.")

typedef enum {
#define KR_METRIC_ENUM(name, type, help) KR_M_##name,
    KR_METRIC_FAMILIES(KR_METRIC_ENUM)
#undef KR_METRIC_ENUM
    KR_M__COUNT
} kr_metric_t;

typedef struct kr_metrics kr_metrics_t;

kr_metrics_t *kr_metrics_new(void);
void kr_metrics_free(kr_metrics_t *m);
/* Adds v to a series (created at 0 on first use). labels may be NULL or "". */
void kr_metrics_add(kr_metrics_t *m, kr_metric_t family, const char *labels, double v);
/* Sets a series (gauges). */
void kr_metrics_set(kr_metrics_t *m, kr_metric_t family, const char *labels, double v);
/* Current value of a series (0 if absent). */
double kr_metrics_get(const kr_metrics_t *m, kr_metric_t family, const char *labels);
/* Renders every family with HELP and TYPE lines. Returns a new malloc'd string. */
char *kr_metrics_render(const kr_metrics_t *m);
/* Escapes a label value into buf (backslash, quote, newline). Returns buf. */
char *kr_metrics_escape(const char *value, char *buf, size_t len);

#endif
