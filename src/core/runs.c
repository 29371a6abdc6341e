/* core/runs.c: action runs: one state machine per dispatched action, journaled at every
 * transition, listed per incident for the API, announced to listeners. Loop thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/log.h"
#include "kr/runs.h"
#include "kr/units.h"

#define MAX_LISTENERS 8
#define MAX_PROGRESS 50 /* progress messages kept per run (the journal has them all) */

struct kr_run {
    kr_runs_t *set;
    char id[160];
    char *incident_id;
    size_t index;
    char *kind;
    json_t *params;
    json_t *event;
    int dry_run;
    kr_run_state_t state;
    int64_t created_ms, started_ms, ended_ms;
    char *message;
    json_t *progress;   /* [{time, message}] (last MAX_PROGRESS) */
    json_t *detail;
    void *data;
    void (*data_free)(void *);
};

struct kr_runs {
    kr_journal_t *journal;
    void *ctx;
    kr_run_t **runs;
    size_t n, cap;
    struct { kr_run_listener_fn fn; void *arg; } listeners[MAX_LISTENERS];
    int nlisteners;
    int replaying;
};

static const char *const state_names[KR_RUN_NSTATES] = {
    "queued", "running", "done", "failed", "cancelled", "skipped",
};

const char *kr_run_state_name(kr_run_state_t s)
{
    return s < KR_RUN_NSTATES ? state_names[s] : "unknown";
}

static int state_from_name(const char *s)
{
    for (int i = 0; s && i < KR_RUN_NSTATES; i++)
        if (strcmp(s, state_names[i]) == 0)
            return i;
    return -1;
}

static int is_final(kr_run_state_t s) { return s >= KR_RUN_DONE; }

/* Which transitions are legal: queued → running|skipped|failed|cancelled;
 * running → done|failed|cancelled. Final states are final. */
static int transition_ok(kr_run_state_t from, kr_run_state_t to)
{
    if (from == KR_RUN_QUEUED)
        return to != KR_RUN_QUEUED && to != KR_RUN_DONE;
    if (from == KR_RUN_RUNNING)
        return to == KR_RUN_DONE || to == KR_RUN_FAILED || to == KR_RUN_CANCELLED;
    return 0;
}

static void journal(kr_runs_t *set, json_t *rec)
{
    if (rec && set->journal && !set->replaying)
        kr_journal_append(set->journal, rec, NULL, NULL, NULL);
    json_decref(rec);
}

static void notify(kr_run_t *run, int changed)
{
    kr_runs_t *set = run->set;
    if (set->replaying)
        return;
    for (int i = 0; i < set->nlisteners; i++)
        set->listeners[i].fn(run, changed, set->listeners[i].arg);
}

static void set_message(kr_run_t *run, const char *msg)
{
    free(run->message);
    run->message = strdup(msg ? msg : "");
}

static void set_state(kr_run_t *run, kr_run_state_t to, const char *msg)
{
    kr_run_state_t from = run->state;
    if (!transition_ok(from, to)) {
        KR_ERROR("runs", "msg=\"illegal transition ignored\" run=%s from=%s to=%s", run->id,
                 state_names[from], state_names[to]);
        return;
    }
    run->state = to;
    if (msg)
        set_message(run, msg);
    if (to == KR_RUN_RUNNING)
        run->started_ms = kr_now_ms();
    if (is_final(to))
        run->ended_ms = kr_now_ms();
    KR_INFO("runs", "msg=\"%s -> %s\" run=%s kind=%s message=\"%s\"", state_names[from],
            state_names[to], run->id, run->kind, run->message ? run->message : "");
    journal(run->set, json_pack("{s:s,s:s,s:s,s:s,s:s}", "kind", "run.state", "run", run->id, "from",
                                state_names[from], "to", state_names[to], "message",
                                run->message ? run->message : ""));
    notify(run, 1);
}

kr_runs_t *kr_runs_new(kr_journal_t *journal, void *ctx)
{
    kr_runs_t *s = calloc(1, sizeof *s);
    if (s) {
        s->journal = journal;
        s->ctx = ctx;
    }
    return s;
}

static void run_free(kr_run_t *r)
{
    if (r->data_free)
        r->data_free(r->data);
    free(r->incident_id);
    free(r->kind);
    free(r->message);
    json_decref(r->params);
    json_decref(r->event);
    json_decref(r->progress);
    json_decref(r->detail);
    free(r);
}

void kr_runs_free(kr_runs_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        run_free(s->runs[i]);
    free(s->runs);
    free(s);
}

int kr_runs_listen(kr_runs_t *s, kr_run_listener_fn fn, void *arg)
{
    if (s->nlisteners == MAX_LISTENERS)
        return KR_ENOMEM;
    s->listeners[s->nlisteners].fn = fn;
    s->listeners[s->nlisteners].arg = arg;
    s->nlisteners++;
    return KR_OK;
}

kr_run_t *kr_runs_find(const kr_runs_t *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->runs[i]->id, id) == 0)
            return s->runs[i];
    return NULL;
}

static kr_run_t *run_add(kr_runs_t *s, const char *incident_id, size_t index, const char *kind,
                         const json_t *params, const json_t *event, int dry_run)
{
    kr_run_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        kr_run_t **nr = realloc(s->runs, ncap * sizeof *nr);
        if (!nr) {
            free(r);
            return NULL;
        }
        s->runs = nr;
        s->cap = ncap;
    }
    r->set = s;
    snprintf(r->id, sizeof r->id, "%s/%zu", incident_id, index);
    r->incident_id = strdup(incident_id);
    r->kind = strdup(kind);
    r->index = index;
    r->params = params ? json_deep_copy(params) : json_null();
    r->event = event ? json_deep_copy(event) : json_null();
    r->dry_run = dry_run;
    r->progress = json_array();
    r->message = strdup("");
    if (!r->incident_id || !r->kind || !r->progress || !r->message) {
        run_free(r);
        return NULL;
    }
    s->runs[s->n++] = r;
    return r;
}

kr_run_t *kr_runs_start(kr_runs_t *s, const char *incident_id, size_t index, const char *kind,
                        const json_t *params, const json_t *event, int dry_run,
                        const char *skip_reason)
{
    char err[512] = "";
    kr_run_t *r = kr_runs_find(s, incident_id) ? NULL : NULL;
    char id[160];
    snprintf(id, sizeof id, "%s/%zu", incident_id, index);
    if ((r = kr_runs_find(s, id)) != NULL) {
        KR_WARN("runs", "msg=\"run exists; not started twice\" run=%s", id);
        return r;
    }
    if (!(r = run_add(s, incident_id, index, kind, params, event, dry_run)))
        return NULL;
    r->created_ms = kr_now_ms();
    journal(s, json_pack("{s:s,s:s,s:s,s:I,s:s,s:O,s:b,s:O}", "kind", "run.start", "run", r->id,
                         "incident", incident_id, "index", (json_int_t)index, "action", kind,
                         "params", r->params, "dry_run", dry_run, "event", r->event));
    if (skip_reason) {
        set_state(r, KR_RUN_SKIPPED, skip_reason);
        return r;
    }
    const kr_action_kind_t *k = kr_action_kind_find(kind);
    if (!k || !k->start) {
        set_state(r, KR_RUN_FAILED, k ? "this action kind has no executor in this build"
                                      : "unknown action kind");
        return r;
    }
    set_state(r, KR_RUN_RUNNING, "started");
    int rc = k->start(r, s->ctx, err, sizeof err);
    if (rc != KR_OK && r->state == KR_RUN_RUNNING)
        set_state(r, KR_RUN_FAILED, err[0] ? err : kr_strerror(rc));
    return r;
}

int kr_runs_cancel_incident(kr_runs_t *s, const char *incident_id)
{
    int n = 0;
    for (size_t i = 0; i < s->n; i++) {
        kr_run_t *r = s->runs[i];
        if (strcmp(r->incident_id, incident_id) != 0 || is_final(r->state))
            continue;
        n++;
        const kr_action_kind_t *k = kr_action_kind_find(r->kind);
        if (r->state == KR_RUN_RUNNING && k && k->cancel) {
            kr_run_progress(r, NULL, "cancel requested");
            k->cancel(r, s->ctx);
        } else {
            set_state(r, KR_RUN_CANCELLED, "cancelled by operator");
        }
    }
    return n;
}

int kr_runs_replay(kr_runs_t *s, const json_t *rec)
{
    const char *kind = json_string_value(json_object_get(rec, "kind"));
    const char *id = json_string_value(json_object_get(rec, "run"));
    kr_run_t *r;
    if (!kind || strncmp(kind, "run.", 4) != 0)
        return KR_OK;
    if (!id)
        return KR_EINVAL;
    if (strcmp(kind, "run.snapshot") == 0) {
        const char *inc = json_string_value(json_object_get(rec, "incident"));
        const char *action = json_string_value(json_object_get(rec, "action"));
        int st = state_from_name(json_string_value(json_object_get(rec, "state")));
        if (!inc || !action || st < 0 || kr_runs_find(s, id))
            return KR_EINVAL;
        r = run_add(s, inc, (size_t)json_integer_value(json_object_get(rec, "index")), action,
                    json_object_get(rec, "params"), json_object_get(rec, "event"),
                    json_is_true(json_object_get(rec, "dry_run")));
        if (!r)
            return KR_ENOMEM;
        r->state = (kr_run_state_t)st;
        r->created_ms = json_integer_value(json_object_get(rec, "created"));
        r->started_ms = json_integer_value(json_object_get(rec, "started"));
        r->ended_ms = json_integer_value(json_object_get(rec, "ended"));
        set_message(r, json_string_value(json_object_get(rec, "message")));
        json_t *p = json_object_get(rec, "progress"), *d = json_object_get(rec, "detail");
        if (json_is_array(p)) {
            json_decref(r->progress);
            r->progress = json_deep_copy(p);
        }
        if (d && !json_is_null(d))
            r->detail = json_deep_copy(d);
        return KR_OK;
    }
    if (strcmp(kind, "run.start") == 0) {
        const char *inc = json_string_value(json_object_get(rec, "incident"));
        const char *action = json_string_value(json_object_get(rec, "action"));
        if (!inc || !action)
            return KR_EINVAL;
        if (kr_runs_find(s, id))
            return KR_OK;
        r = run_add(s, inc, (size_t)json_integer_value(json_object_get(rec, "index")), action,
                    json_object_get(rec, "params"), json_object_get(rec, "event"),
                    json_is_true(json_object_get(rec, "dry_run")));
        if (r)
            r->created_ms = json_integer_value(json_object_get(rec, "t"));
        return r ? KR_OK : KR_ENOMEM;
    }
    if (!(r = kr_runs_find(s, id)))
        return KR_OK; /* its start record was compacted away */
    if (strcmp(kind, "run.state") == 0) {
        int to = state_from_name(json_string_value(json_object_get(rec, "to")));
        if (to < 0)
            return KR_EINVAL;
        r->state = (kr_run_state_t)to;
        set_message(r, json_string_value(json_object_get(rec, "message")));
        if (to == KR_RUN_RUNNING)
            r->started_ms = json_integer_value(json_object_get(rec, "t"));
        if (is_final((kr_run_state_t)to))
            r->ended_ms = json_integer_value(json_object_get(rec, "t"));
    } else if (strcmp(kind, "run.progress") == 0) {
        json_t *p = json_pack("{s:s,s:s}", "time", json_string_value(json_object_get(rec, "time")) ?: "",
                              "message", json_string_value(json_object_get(rec, "message")) ?: "");
        json_array_append_new(r->progress, p);
        if (json_array_size(r->progress) > MAX_PROGRESS)
            json_array_remove(r->progress, 0);
        json_t *detail = json_object_get(rec, "detail");
        if (detail && !json_is_null(detail)) {
            json_decref(r->detail);
            r->detail = json_incref(detail);
        }
        set_message(r, json_string_value(json_object_get(rec, "message")));
    }
    return KR_OK;
}

int kr_runs_snapshot(const kr_runs_t *s, int (*emit)(json_t *record, void *arg), void *arg)
{
    for (size_t i = 0; i < s->n; i++) {
        const kr_run_t *r = s->runs[i];
        json_t *rec = json_pack("{s:s,s:s,s:s,s:I,s:s,s:O,s:O,s:b,s:s,s:I,s:I,s:s,s:O,s:O?}", "kind",
                                "run.snapshot", "run", r->id, "incident", r->incident_id, "index",
                                (json_int_t)r->index, "action", r->kind, "params", r->params, "event",
                                r->event, "dry_run", r->dry_run, "state", state_names[r->state],
                                "started", (json_int_t)r->started_ms, "ended", (json_int_t)r->ended_ms,
                                "message", r->message ? r->message : "", "progress", r->progress,
                                "detail", r->detail);
        if (!rec)
            return KR_ENOMEM;
        json_object_set_new(rec, "created", json_integer(r->created_ms));
        int rc = emit(rec, arg);
        json_decref(rec);
        if (rc != KR_OK)
            return rc;
    }
    return KR_OK;
}

void kr_runs_resume(kr_runs_t *s)
{
    char err[512];
    for (size_t i = 0; i < s->n; i++) {
        kr_run_t *r = s->runs[i];
        if (is_final(r->state))
            continue;
        const kr_action_kind_t *k = kr_action_kind_find(r->kind);
        if (r->state == KR_RUN_QUEUED) {
            /* never started: starting it now is its first run */
            if (!k || !k->start) {
                set_state(r, KR_RUN_FAILED, "this action kind has no executor in this build");
                continue;
            }
            set_state(r, KR_RUN_RUNNING, "started after a restart");
            err[0] = 0;
            int rc = k->start(r, s->ctx, err, sizeof err);
            if (rc != KR_OK && r->state == KR_RUN_RUNNING)
                set_state(r, KR_RUN_FAILED, err[0] ? err : kr_strerror(rc));
            continue;
        }
        if (!k || !k->resume) {
            set_state(r, KR_RUN_FAILED, "interrupted by a restart; not run again");
            continue;
        }
        err[0] = 0;
        kr_run_progress(r, NULL, "resuming after a restart");
        int rc = k->resume(r, s->ctx, err, sizeof err);
        if (rc != KR_OK && r->state == KR_RUN_RUNNING)
            set_state(r, KR_RUN_FAILED, err[0] ? err : kr_strerror(rc));
    }
}

static json_t *run_json(const kr_run_t *r)
{
    char a[32], b[32];
    json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:O,s:b,s:s,s:O}", "id", r->id, "index",
                          (json_int_t)r->index, "kind", r->kind, "state", state_names[r->state],
                          "params", r->params, "dry_run", r->dry_run, "message",
                          r->message ? r->message : "", "progress", r->progress);
    if (o && r->started_ms)
        json_object_set_new(o, "started", json_string(kr_time_format(r->started_ms, a, sizeof a)));
    if (o && r->ended_ms)
        json_object_set_new(o, "ended", json_string(kr_time_format(r->ended_ms, b, sizeof b)));
    if (o && r->detail)
        json_object_set(o, "detail", r->detail);
    return o;
}

json_t *kr_runs_incident_json(const kr_runs_t *s, const char *incident_id)
{
    json_t *out = json_array();
    for (size_t i = 0; out && i < s->n; i++)
        if (strcmp(s->runs[i]->incident_id, incident_id) == 0)
            json_array_append_new(out, run_json(s->runs[i]));
    return out;
}

int kr_runs_foreach(const kr_runs_t *s, int (*fn)(const kr_run_t *run, void *arg), void *arg)
{
    for (size_t i = 0; i < s->n; i++) {
        int rc = fn(s->runs[i], arg);
        if (rc)
            return rc;
    }
    return 0;
}

int64_t kr_run_created_ms(const kr_run_t *r) { return r->created_ms; }

size_t kr_runs_count(const kr_runs_t *s, kr_run_state_t state)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->runs[i]->state == state;
    return n;
}

const char *kr_run_id(const kr_run_t *r) { return r->id; }
const char *kr_run_incident_id(const kr_run_t *r) { return r->incident_id; }
size_t kr_run_index(const kr_run_t *r) { return r->index; }
const char *kr_run_kind(const kr_run_t *r) { return r->kind; }
const json_t *kr_run_params(const kr_run_t *r) { return r->params; }
const json_t *kr_run_event(const kr_run_t *r) { return r->event; }
int kr_run_dry_run(const kr_run_t *r) { return r->dry_run; }
kr_run_state_t kr_run_state(const kr_run_t *r) { return r->state; }
const char *kr_run_message(const kr_run_t *r) { return r->message ? r->message : ""; }

void kr_run_set_data(kr_run_t *r, void *data, void (*free_fn)(void *))
{
    if (r->data_free)
        r->data_free(r->data);
    r->data = data;
    r->data_free = free_fn;
}

void *kr_run_data(const kr_run_t *r) { return r->data; }

void kr_run_progress(kr_run_t *r, json_t *detail, const char *fmt, ...)
{
    char msg[1024], now[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kr_time_format(kr_now_ms(), now, sizeof now);
    json_array_append_new(r->progress, json_pack("{s:s,s:s}", "time", now, "message", msg));
    if (json_array_size(r->progress) > MAX_PROGRESS)
        json_array_remove(r->progress, 0);
    if (detail) {
        json_decref(r->detail);
        r->detail = detail;
    }
    set_message(r, msg);
    KR_INFO("runs", "msg=\"progress\" run=%s kind=%s progress=\"%s\"", r->id, r->kind, msg);
    journal(r->set, json_pack("{s:s,s:s,s:s,s:s,s:O?}", "kind", "run.progress", "run", r->id, "time",
                              now, "message", msg, "detail", r->detail));
    notify(r, 0);
}

void kr_run_finish(kr_run_t *r, int rc, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_state(r, rc == KR_OK ? KR_RUN_DONE : rc == KR_ESTATE ? KR_RUN_CANCELLED : KR_RUN_FAILED, msg);
}
