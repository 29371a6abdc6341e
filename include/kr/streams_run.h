/* kr/streams_run.h: one Kafka Streams reset run end to end against a kr_kafka_t (describe
 * the group, list topics, read committed offsets, watermarks and offsets for times, plan
 * with kr/streams.h, and with execute: commit the new offsets and delete the internal
 * topics), and the `kresponder streams-reset` subcommand built on it. Blocking: it runs the
 * client's private event_base, so it is for the CLI and tests, not the daemon's loop. */
#ifndef KR_STREAMS_RUN_H
#define KR_STREAMS_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kr/kafka.h"
#include "kr/streams.h"

typedef struct {
    const char *application_id;           /* the Streams application.id = group id */
    const char *const *input_topics;
    size_t n_input;
    const char *const *intermediate_topics;
    size_t n_intermediate;
    const char *const *internal_topics;   /* NULL: inferred (see kr_streams_plan) */
    size_t n_internal;
    const char *const *topology_topics;   /* configured internal topics; may be empty */
    size_t n_topology;
    kr_streams_reset_spec_t spec;
    int64_t now_ms;                       /* resolves BY_DURATION */
    int execute;                          /* 0: dry run, nothing changes */
    int timeout_ms;                       /* per Kafka request; <= 0: 10 s */
} kr_streams_run_opts_t;

/* Runs one reset; k must be a client whose event_base nothing else is running.
 * *report is set to a new JSON object whenever anything was learned (NULL only on ENOMEM
 * or bad options):
 *   {"application_id", "group_state" ("unknown" when the broker could not say),
 *    "members" (null when unknown), "group_error" (only when the describe failed),
 *    "reset": {"to": "earliest"|"latest"|"datetime"|"duration", "time": RFC 3339 (time
 *    resets)}, "offsets": [{"topic","partition","current","target"}...],
 *    "delete_topics": [...], "unconfirmed_internal_topics": [...], "missing_topics": [...],
 *    "notes": [...], "executed": true|false}
 * Returns 0 (dry run planned, or executed); KR_ESTATE when execute was asked but refused:
 * the group has members or its members could not be confirmed to be none (describe failed
 * or unsupported), or a listed topic does not exist; KR_EINVAL (bad options, or the
 * planner refused, e.g. --internal-topics outside the inferred set); or the KR_E* of a
 * failed Kafka request. err says why in every non-zero case. */
int kr_streams_run(kr_kafka_t *k, const kr_streams_run_opts_t *opts, json_t **report,
                   char *err, size_t errlen);

#endif
