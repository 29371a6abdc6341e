/* tests/fuzz/fuzz_streams.c: libFuzzer target for the Streams reset parsers and planner:
 * the first line goes through --to-datetime and --by-duration parsing; the second is the
 * application id; every further line is a topic (its first byte picks its partition count,
 * whether the group committed on it, and whether it is an input). The plan's guarantees are
 * checked: every deleted topic is named like an internal topic of the app, exists, is not
 * an input, and carries a committed offset of the group; every offset row is an input
 * partition whose target lies within its watermarks. Seeds: tests/fuzz/seeds/fuzz_streams/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kr/streams.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TOPICS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *save = NULL, *line;
    const char *app = NULL, *inputs[MAX_TOPICS];
    kr_streams_topic_t topics[MAX_TOPICS];
    kr_streams_committed_t committed[MAX_TOPICS];
    kr_streams_resolved_t resolved[MAX_TOPICS * 4];
    size_t nt = 0, nc = 0, nr = 0, ni = 0;
    int64_t ms;
    char err[256];
    int lineno = 0;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), lineno++) {
        if (lineno == 0) {
            kr_streams_parse_datetime(line, &ms, err, sizeof err);
            if (kr_streams_parse_iso_duration(line, &ms, err, sizeof err) == 0 && ms < 0)
                abort();
            continue;
        }
        if (lineno == 1) {
            app = line;
            continue;
        }
        if (nt == MAX_TOPICS || !line[0])
            continue;
        unsigned char c = (unsigned char)line[0];
        const char *name = line + 1;
        int dup = 0;
        for (size_t i = 0; i < nt; i++)
            dup |= strcmp(topics[i].name, name) == 0;
        if (dup)
            continue;
        topics[nt].name = name;
        topics[nt].partitions = (c & 3) + 1;
        if (c & 4)
            committed[nc++] = (kr_streams_committed_t){ name, 0, (c & 8) ? 5 : -1 };
        if ((c & 16) && ni < MAX_TOPICS) {
            inputs[ni++] = name;
            for (int p = 0; p < topics[nt].partitions; p++)
                resolved[nr++] = (kr_streams_resolved_t){ name, p, 3, 3 + (c >> 5),
                                                          (c & 32) ? 4 : -1 };
        }
        nt++;
    }
    if (app) {
        kr_streams_input_t in;
        kr_streams_plan_t *plan = NULL;
        memset(&in, 0, sizeof in);
        in.application_id = app;
        in.input_topics = inputs;
        in.n_input = ni;
        in.topics = topics;
        in.n_topics = nt;
        in.committed = committed;
        in.n_committed = nc;
        in.resolved = resolved;
        in.n_resolved = nr;
        in.spec.kind = (kr_streams_reset_kind_t)(size % 4);
        in.spec.duration_ms = 1000;
        if (kr_streams_plan(&in, &plan, err, sizeof err) == 0) {
            for (size_t i = 0; i < plan->n_delete; i++) {
                const char *t = plan->delete_topics[i];
                int exists = 0, evidence = 0;
                if (!kr_streams_is_internal_name(app, t))
                    abort();
                for (size_t j = 0; j < ni; j++)
                    if (!strcmp(inputs[j], t))
                        abort();
                for (size_t j = 0; j < nt; j++)
                    exists |= !strcmp(topics[j].name, t);
                for (size_t j = 0; j < nc; j++)
                    evidence |= !strcmp(committed[j].topic, t) && committed[j].offset >= 0;
                if (!exists || !evidence)
                    abort();
            }
            for (size_t i = 0; i < plan->n_offsets; i++) {
                const kr_streams_offset_t *o = &plan->offsets[i];
                int found = 0;
                for (size_t j = 0; j < nr; j++)
                    if (!strcmp(resolved[j].topic, o->topic) &&
                        resolved[j].partition == o->partition) {
                        found = 1;
                        if (o->target < resolved[j].low || o->target > resolved[j].high)
                            abort();
                    }
                if (!found)
                    abort();
            }
            json_t *j = kr_streams_plan_json(plan);
            json_decref(j);
            kr_streams_plan_free(plan);
        }
    }
    free(buf);
    return 0;
}
