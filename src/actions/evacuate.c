/* actions/evacuate.c: the `evacuate`, `drain_stack` and `elect_leaders` actions: move
 * every replica off brokers (or a whole blue/green stack) through
 * /admin/reassign_partitions in batches, with replication throttles, and preferred-leader
 * elections through /admin/preferred_replica_election; plus the cluster guards.
 *
 * DESIGN. Everything runs on the loop thread: a run's steps are ZooKeeper calls on its
 * cluster's session (kr/cluster.h) whose callbacks the cluster module delivers on the
 * loop. An evacuation is a state machine (phase_t) whose whole journaled state is the
 * run's progress detail (kr/executor.h), written before each step that ZooKeeper could
 * see half-done: the plan before any write, "writing" (made durable, then the znode
 * created) before /admin/reassign_partitions, the wanted throttles before they are set.
 * A restart resumes from that detail and from the znodes: a batch journaled as written is
 * never written again; one journaled as "writing" is written only when ZooKeeper shows
 * that none of its partitions was touched. Every asynchronous call holds a reference on
 * the evacuation, so a run freed while calls are in flight (daemon shutdown) leaves an
 * orphan that the last callback frees. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "kr/action.h"
#include "kr/cluster.h"
#include "kr/cluster_policy.h"
#include "kr/daemon.h"
#include "kr/err.h"
#include "kr/event.h"
#include "kr/executor.h"
#include "kr/log.h"
#include "kr/params.h"
#include "kr/planner.h"
#include "kr/respond.h"
#include "kr/runs.h"
#include "kr/units.h"
#include "kr/zkjson.h"

#define REASSIGN_PATH "/admin/reassign_partitions"
#define ELECTION_PATH "/admin/preferred_replica_election"
#define CLUSTER_WAIT_MS 60000      /* a new run waits this long for its cluster's model */
#define RETRY_MS 1000              /* after a connection loss or a lost watch */
#define VERIFY_TRIES 30            /* partition checks after the znode went, 1 s apart */
#define DEFAULT_MAX_MOVES 5

/* same-stack | any | stack:NAME | A-B (ids) */
static int check_target(const char *kind, const json_t *params, const char *key,
                        const kr_doc_t *doc, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key);
    const char *s;
    unsigned a, b;
    char tail;
    if (!v)
        return KR_OK;
    if (json_is_string(v)) {
        s = json_string_value(v);
        if (strcmp(s, "same-stack") == 0 || strcmp(s, "any") == 0 || strstr(s, "{{"))
            return KR_OK;
        if (strncmp(s, "stack:", 6) == 0 && s[6])
            return KR_OK;
        if (sscanf(s, "%u-%u%c", &a, &b, &tail) == 2 && a <= b && isdigit((unsigned char)s[0]))
            return KR_OK;
    }
    return kr_doc_member_errf(doc, params, key, err, errlen,
                              "%s: %s must be same-stack, any, stack:NAME or an id range such as 1001-2000",
                              kind, key);
}

static int evacuate_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "brokers", "to", "throttle", "max_moves_per_broker", "dry_run", NULL };
    static const char *const required[] = { "brokers", NULL };
    if (kr_params_keys("evacuate", params, doc, allowed, required, err, errlen) ||
        kr_params_broker_list("evacuate", params, "brokers", doc, err, errlen) ||
        check_target("evacuate", params, "to", doc, err, errlen) ||
        kr_params_size("evacuate", params, "throttle", doc, err, errlen) ||
        kr_params_int("evacuate", params, "max_moves_per_broker", 1, 1000, doc, err, errlen) ||
        kr_params_bool("evacuate", params, "dry_run", doc, err, errlen))
        return KR_EINVAL;
    return KR_OK;
}

static int drain_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "from", "to", "throttle", "max_moves_per_broker", "dry_run", NULL };
    static const char *const required[] = { "from", "to", NULL };
    if (kr_params_keys("drain_stack", params, doc, allowed, required, err, errlen) ||
        kr_params_string("drain_stack", params, "from", doc, err, errlen) ||
        kr_params_string("drain_stack", params, "to", doc, err, errlen) ||
        kr_params_size("drain_stack", params, "throttle", doc, err, errlen) ||
        kr_params_int("drain_stack", params, "max_moves_per_broker", 1, 1000, doc, err, errlen) ||
        kr_params_bool("drain_stack", params, "dry_run", doc, err, errlen))
        return KR_EINVAL;
    return KR_OK;
}

static int elect_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "brokers", "dry_run", NULL };
    static const char *const required[] = { "brokers", NULL };
    if (kr_params_keys("elect_leaders", params, doc, allowed, required, err, errlen) ||
        kr_params_broker_list("elect_leaders", params, "brokers", doc, err, errlen) ||
        kr_params_bool("elect_leaders", params, "dry_run", doc, err, errlen))
        return KR_EINVAL;
    return KR_OK;
}


/* ------------------------------------------------------------------ runtime */

typedef enum {
    PH_WAIT_CLUSTER = 0, /* the cluster's model is not loaded yet */
    PH_WAIT_SLOT,        /* max_concurrent_evacuations reached: wait for a slot */
    PH_BATCH,            /* pick the next batch (or finish) */
    PH_THROTTLE_SET,     /* writing the batch's throttles */
    PH_CHECK_ZNODE,      /* is /admin/reassign_partitions there, and whose is it? */
    PH_WAIT_FOREIGN,     /* a reassignment we did not start: wait for its deletion */
    PH_CREATE,           /* creating /admin/reassign_partitions with the batch */
    PH_WAIT_DONE,        /* our batch is in the znode: wait until the controller deletes it */
    PH_VERIFY,           /* reading the batch's partitions back */
    PH_THROTTLE_CLEAR,   /* removing what we added to the configs */
    PH_E_REFRESH,        /* elect_leaders: re-reading partition states */
    PH_E_CHECK,          /* elect_leaders: is /admin/preferred_replica_election free? */
    PH_E_CREATE,
    PH_E_WAIT,
    PH_E_VERIFY,
    PH_FINISHED,
} phase_t;

static const char *const phase_names[] = {
    "wait_cluster", "wait_slot", "batch", "throttle_set", "check_znode", "wait_foreign",
    "create", "wait_done", "verify", "throttle_clear", "elect_refresh", "elect_check",
    "elect_create", "elect_wait", "elect_verify", "finished",
};

typedef enum { K_EVACUATE, K_DRAIN, K_ELECT } evac_kind_t;

typedef struct evac evac_t;

/* The daemon's registry of evacuations in progress (for the concurrency guard). */
struct kr_executor {
    evac_t *head;
};

struct evac {
    kr_daemon_t *d;
    kr_run_t *run;            /* NULL once the run was freed: an orphan awaiting callbacks */
    evac_kind_t kind;
    evac_t *next, *prev;
    int linked, holds_slot;
    char cluster[128];
    kr_cluster_t *c;
    json_t *st;               /* the journaled state (also the run's detail) */
    int refs;                 /* calls in flight */
    unsigned gen;             /* bumped at each phase entry: older callbacks are ignored */
    struct event *timer;
    phase_t phase;
    int resumed;
    int64_t deadline_ms;      /* monotonic: PH_WAIT_CLUSTER gives up after it */
    int64_t rate;             /* throttle in bytes/s; 0: none */
    size_t batch;
    int batch_was_writing;    /* the batch may have been written before a crash */
    int precheck;             /* PH_VERIFY decides whether that write happened */
    int cancel;
    int finish_after_clear;   /* cancel or guard: finish once the throttles are gone */
    int finish_rc;
    char finish_msg[1024];
    int foreign_reported;
    int verify_tries;
    size_t pending;           /* parallel jobs of the phase still out */
    int job_failed;
    json_t *obs;              /* PH_VERIFY: {"topic\tp": {"replicas":[..],"isr":[..]}} */
    int32_t *brokers;         /* evacuate / elect_leaders */
    size_t n_brokers;
};

typedef struct {
    evac_t *e;
    unsigned gen;
    char *type, *name;        /* config jobs: "brokers"/"topics" and the entity name */
    json_t *edit;             /* config jobs: wanted (apply) or added (remove) */
    int remove;
    int version;              /* of the config znode read */
    json_t *added;            /* config jobs: what this job added */
    char *topic;              /* verify reads */
    int partition;
} call_t;

static void step(evac_t *e);
static void finish(evac_t *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- registry, references, lifetime ---- */

static void evac_unlink(evac_t *e)
{
    struct kr_executor *x = e->d->executor;
    if (!e->linked || !x)
        return;
    if (e->prev)
        e->prev->next = e->next;
    else
        x->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->linked = 0;
    e->holds_slot = 0;
    if (!x->head) { /* the registry lives only while evacuations do */
        free(x);
        e->d->executor = NULL;
    }
}

static int evac_link(evac_t *e)
{
    struct kr_executor *x = e->d->executor;
    if (!x && !(x = e->d->executor = calloc(1, sizeof *x)))
        return KR_ENOMEM;
    e->next = x->head;
    if (x->head)
        x->head->prev = e;
    x->head = e;
    e->linked = 1;
    return KR_OK;
}

static void evac_destroy(evac_t *e)
{
    if (e->timer)
        event_free(e->timer);
    json_decref(e->st);
    json_decref(e->obs);
    free(e->brokers);
    free(e);
}

/* The run's free hook: the run is going away (daemon shutdown). Calls still in flight
 * keep the evacuation until the last one returns. */
static void evac_free_cb(void *p)
{
    evac_t *e = p;
    evac_unlink(e);
    e->run = NULL;
    e->gen++;
    if (e->timer)
        evtimer_del(e->timer);
    if (e->refs == 0)
        evac_destroy(e);
}

static call_t *call_new(evac_t *e)
{
    call_t *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->e = e;
    k->gen = e->gen;
    e->refs++;
    return k;
}

/* Ends a call. Returns the evacuation when the callback should act on it (its run is
 * alive, and for check_gen the phase that issued the call is still current), else NULL;
 * the last call of an orphan frees it. */
static evac_t *call_end(call_t *k, int check_gen)
{
    evac_t *e = k->e;
    unsigned gen = k->gen;
    free(k->type);
    free(k->name);
    free(k->topic);
    json_decref(k->edit);
    json_decref(k->added);
    free(k);
    e->refs--;
    if (!e->run) {
        if (e->refs == 0)
            evac_destroy(e);
        return NULL;
    }
    if (e->phase == PH_FINISHED || (check_gen && gen != e->gen))
        return NULL;
    return e;
}

static void set_phase(evac_t *e, phase_t ph)
{
    KR_DEBUG("evacuate", "msg=\"phase\" run=%s from=%s to=%s", kr_run_id(e->run),
             phase_names[e->phase], phase_names[ph]);
    e->phase = ph;
    e->gen++;
    if (e->timer)
        evtimer_del(e->timer);
    step(e);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    evac_t *e = arg;
    (void)fd;
    (void)what;
    if (e->run && e->phase != PH_FINISHED)
        step(e);
}

/* Runs the current phase again after ms (connection loss, lost watch, re-checks). */
static void retry_later(evac_t *e, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    e->gen++; /* what is still out belongs to the attempt that failed */
    evtimer_add(e->timer, &tv);
}

/* ---- reporting ---- */

static const char *kind_name(const evac_t *e)
{
    return e->kind == K_EVACUATE ? "evacuate" : e->kind == K_DRAIN ? "drain_stack" : "elect_leaders";
}

static void update_gauges(evac_t *e)
{
    char l[600], esc[200], escr[200];
    static const char *const keys[] = { "batches_done", "batches_total", "partitions_moved",
                                        "partitions_total" };
    if (!e->d->metrics || !e->st || e->kind == K_ELECT)
        return;
    kr_metrics_escape(kr_run_id(e->run), escr, sizeof escr);
    kr_metrics_escape(e->cluster, esc, sizeof esc);
    for (size_t i = 0; i < 4; i++) {
        snprintf(l, sizeof l, "cluster=\"%s\",run=\"%s\",what=\"%s\"", esc, escr, keys[i]);
        kr_metrics_set(e->d->metrics, KR_M_evacuation_progress, l,
                       (double)json_integer_value(json_object_get(e->st, keys[i])));
    }
}

static void slots_gauge(evac_t *e)
{
    char l[200], esc[160];
    size_t n = 0;
    if (!e->d->metrics)
        return;
    for (evac_t *x = e->d->executor ? e->d->executor->head : NULL; x; x = x->next)
        n += x->holds_slot && strcmp(x->cluster, e->cluster) == 0;
    snprintf(l, sizeof l, "cluster=\"%s\"", kr_metrics_escape(e->cluster, esc, sizeof esc));
    kr_metrics_set(e->d->metrics, KR_M_evacuations_running, l, (double)n);
}

static void count(evac_t *e, kr_metric_t m, double v)
{
    char l[200], esc[160];
    if (!e->d->metrics)
        return;
    snprintf(l, sizeof l, "cluster=\"%s\"", kr_metrics_escape(e->cluster, esc, sizeof esc));
    kr_metrics_add(e->d->metrics, m, l, v);
}

/* A progress message with the state as detail (journaled). */
static void progress(evac_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(evac_t *e, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kr_run_progress(e->run, e->st ? json_incref(e->st) : NULL, "%s", msg);
    update_gauges(e);
}

static void finish(evac_t *e, int rc, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (e->phase == PH_FINISHED)
        return;
    e->phase = PH_FINISHED;
    e->gen++;
    if (e->timer)
        evtimer_del(e->timer);
    if (e->st)
        kr_run_progress(e->run, json_incref(e->st), "%s", msg);
    update_gauges(e);
    evac_unlink(e);
    slots_gauge(e);
    kr_run_finish(e->run, rc, "%s", msg);
}

/* ---- guards ---- */

typedef struct {
    json_t *down;
} down_t;

static int collect_down(const kr_broker_info_t *b, void *arg)
{
    down_t *dn = arg;
    if (!b->alive)
        json_array_append_new(dn->down, json_integer(b->id));
    return 0;
}

/* Accepts a guard.paused event through the daemon's pipeline (journaled, visible in
 * /v1/events, matchable by rules that page). */
static void guard_event(evac_t *e, const char *guard, const json_t *detail, const char *msg)
{
    char id[400];
    json_t *ev, *list;
    snprintf(id, sizeof id, "kresponder:guard:%s:%s:%lld", e->cluster, kr_run_id(e->run),
             (long long)kr_now_ms());
    ev = kr_event_new(id, "kresponder", "guard.paused", KR_EVENT_FIRING, kr_now_ms());
    if (!ev)
        return;
    json_object_set_new(ev, "cluster", json_string(e->cluster));
    json_object_set_new(ev, "guard", json_pack("{s:s,s:O,s:s,s:s,s:s,s:s}", "name", guard, "detail",
                                               detail, "message", msg, "run", kr_run_id(e->run),
                                               "incident", kr_run_incident_id(e->run), "action",
                                               kind_name(e)));
    list = json_pack("[o]", ev);
    if (list && kr_daemon_accept(e->d, list, NULL, NULL) != KR_OK)
        KR_ERROR("evacuate", "msg=\"cannot journal the guard event\" cluster=%s", e->cluster);
    json_decref(list);
    {
        char l[300], esc[160];
        if (e->d->metrics) {
            snprintf(l, sizeof l, "cluster=\"%s\",guard=\"%s\"",
                     kr_metrics_escape(e->cluster, esc, sizeof esc), guard);
            kr_metrics_add(e->d->metrics, KR_M_guard_trips_total, l, 1);
        }
    }
}

/* pause_when_brokers_down: returns 1 (and says why in msg, and emits the event) when more
 * brokers of the cluster are down than the guard allows. */
static int guard_brokers_down(evac_t *e, char *msg, size_t len)
{
    kr_cluster_guards_t g;
    down_t dn = { json_array() };
    int tripped = 0;
    kr_cluster_guards(e->c, &g);
    kr_cluster_foreach_broker(e->c, collect_down, &dn);
    if ((int)json_array_size(dn.down) > g.pause_when_brokers_down) {
        char *ids = json_dumps(dn.down, JSON_COMPACT);
        snprintf(msg, len,
                 "guard pause_when_brokers_down: %zu brokers of cluster %s are down (%s), more than "
                 "the %d allowed; automation on this cluster pauses (an AZ outage or a partition of "
                 "kresponder itself is not a broker fault)",
                 json_array_size(dn.down), e->cluster, ids ? ids : "?", g.pause_when_brokers_down);
        free(ids);
        json_t *det = json_pack("{s:O,s:i}", "down", dn.down, "limit", g.pause_when_brokers_down);
        guard_event(e, "pause_when_brokers_down", det, msg);
        json_decref(det);
        tripped = 1;
    }
    json_decref(dn.down);
    return tripped;
}

/* ---- planning ---- */

typedef struct {
    kr_plan_cluster_t *pc;
    char *err;
    size_t errlen;
    int rc;
} build_t;

static int add_broker(const kr_broker_info_t *b, void *arg)
{
    build_t *bd = arg;
    kr_plan_broker_t pb = { b->id, b->rack, b->alive, b->stack };
    return bd->rc = kr_plan_cluster_add_broker(bd->pc, &pb, bd->err, bd->errlen);
}

static int add_partition(const kr_partition_info_t *p, void *arg)
{
    build_t *bd = arg;
    int32_t reps[64];
    size_t n = 0;
    /* during a reassignment the list is target + original: plan from the original */
    for (size_t i = 0; i < p->n_replicas && n < 64; i++) {
        int adding = 0;
        for (size_t k = 0; k < p->n_adding; k++)
            adding |= p->adding[k] == p->replicas[i];
        if (!adding)
            reps[n++] = p->replicas[i];
    }
    if (!n)
        return 0;
    return bd->rc = kr_plan_cluster_add_partition(bd->pc, p->topic, p->partition, reps, n, bd->err,
                                                  bd->errlen);
}

static int parse_brokers(const json_t *list, int32_t **out, size_t *n, char *err, size_t errlen)
{
    size_t i;
    json_t *v;
    *n = 0;
    if (!json_is_array(list) || !json_array_size(list) ||
        !(*out = calloc(json_array_size(list), sizeof **out)))
        return kr_seterr(err, errlen, KR_EINVAL, "brokers must be a non-empty list of broker ids");
    json_array_foreach(list, i, v) {
        int id;
        if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= INT32_MAX)
            id = (int)json_integer_value(v);
        else if (!json_is_string(v) || kr_zk_parse_int(json_string_value(v), &id) != KR_OK || id < 0)
            return kr_seterr(err, errlen, KR_EINVAL,
                             "brokers[%zu] is not a broker id after rendering the templates", i);
        (*out)[(*n)++] = id;
    }
    return KR_OK;
}

/* Builds the plan from the live model and the run's parameters; on success e->st holds
 * the state. Returns 0 or an error (err says which partition or parameter). */
static int plan(evac_t *e, char *err, size_t errlen)
{
    const json_t *params = kr_run_params(e->run);
    kr_plan_cluster_t *pc = NULL;
    kr_plan_t *p = NULL;
    kr_plan_batches_t *b = NULL;
    kr_plan_request_t req = { 0 };
    build_t bd = { NULL, err, errlen, 0 };
    json_t *request = NULL;
    const char *to = json_string_value(json_object_get(params, "to"));
    const char *from = json_string_value(json_object_get(params, "from"));
    json_t *mm = json_object_get(params, "max_moves_per_broker");
    int max_moves = DEFAULT_MAX_MOVES, rc;
    char tbuf[128];

    if (json_is_integer(mm))
        max_moves = (int)json_integer_value(mm);
    else if (json_is_string(mm) && kr_zk_parse_int(json_string_value(mm), &max_moves) != KR_OK)
        max_moves = 0;
    if (max_moves < 1 || max_moves > 1000) {
        rc = kr_seterr(err, errlen, KR_EINVAL, "max_moves_per_broker must be 1..1000");
        goto done;
    }
    if (!(pc = bd.pc = kr_plan_cluster_new())) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < kr_cluster_stack_count(e->c); i++) {
        const char *name;
        int lo, hi;
        kr_cluster_stack_at(e->c, i, &name, &lo, &hi);
        if ((rc = kr_plan_cluster_add_stack(pc, name, lo, hi, err, errlen)) != KR_OK)
            goto done;
    }
    if ((rc = kr_cluster_foreach_broker(e->c, add_broker, &bd)) != KR_OK ||
        (rc = kr_cluster_foreach_partition(e->c, add_partition, &bd)) != KR_OK ||
        (rc = kr_plan_cluster_seal(pc, err, errlen)) != KR_OK)
        goto done;
    if (e->kind == K_DRAIN) {
        req.drain_stack = from;
        if (!to)
            to = "";
        if (!strchr(to, ':') && strcmp(to, "any") && strcmp(to, "same-stack") &&
            !isdigit((unsigned char)to[0])) {
            snprintf(tbuf, sizeof tbuf, "stack:%s", to); /* a bare name is a stack */
            to = tbuf;
        }
    } else {
        req.evacuate = e->brokers;
        req.n_evacuate = e->n_brokers;
    }
    if ((rc = kr_plan_targets_parse(to ? to : "same-stack", &req.to, err, errlen)) != KR_OK)
        goto done;
    if ((rc = kr_plan_new(pc, &req, &p, err, errlen)) != KR_OK ||
        (rc = kr_plan_batch(p, max_moves, &b, err, errlen)) != KR_OK)
        goto done;
    request = json_deep_copy(params);
    if (request) {
        json_object_set_new(request, "max_moves_per_broker", json_integer(max_moves));
        json_object_set_new(request, "throttle_bytes_per_second", json_integer(e->rate));
        json_object_set_new(request, "to", json_string(kr_plan_targets_format(&req.to, tbuf, sizeof tbuf)));
    }
    if (!request || !(e->st = kr_exec_state_new(e->cluster, kind_name(e), request, p, b))) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        goto done;
    }
    rc = KR_OK;
done:
    json_decref(request);
    kr_plan_batches_free(b);
    kr_plan_free(p);
    kr_plan_cluster_free(pc);
    return rc;
}

static const char *what(evac_t *e, char *buf, size_t len)
{
    if (e->kind == K_DRAIN) {
        snprintf(buf, len, "drain of stack %s",
                 json_string_value(json_object_get(kr_run_params(e->run), "from")) ?: "?");
    } else {
        size_t off = (size_t)snprintf(buf, len, "evacuation of broker%s ", e->n_brokers > 1 ? "s" : "");
        for (size_t i = 0; i < e->n_brokers && off < len; i++)
            off += (size_t)snprintf(buf + off, len - off, "%s%d", i ? "," : "", e->brokers[i]);
    }
    return buf;
}

/* ---- throttles: one job per config entity, all in flight at once ---- */

static void job_done(evac_t *e, int failed);
static void cfg_get(call_t *k);

static void cfg_notified_cb(kr_cluster_t *c, const kr_zk_result_t *res, void *arg)
{
    call_t *k = arg;
    int failed = res->rc != KR_OK;
    evac_t *e;
    (void)c;
    if (failed)
        KR_WARN("evacuate", "msg=\"config change notification failed; retrying\" entity=%s/%s zrc=%d",
                k->type, k->name, res->zrc);
    e = call_end(k, 0);
    if (e)
        job_done(e, failed);
}

static void cfg_written_cb(kr_cluster_t *c, const kr_zk_result_t *res, void *arg)
{
    call_t *k = arg;
    char err[256];
    evac_t *e = k->e;
    if (res->rc == KR_ESTATE && k->version >= 0 && e->run) {
        cfg_get(k); /* someone wrote the config between our read and write: read again */
        return;
    }
    if (res->rc == KR_EEXIST && e->run) {
        cfg_get(k);
        return;
    }
    if (res->rc != KR_OK) {
        KR_WARN("evacuate", "msg=\"cannot write a config znode; retrying\" entity=%s/%s zrc=%d",
                k->type, k->name, res->zrc);
        if ((e = call_end(k, 0)))
            job_done(e, 1);
        return;
    }
    /* Kafka applies a config change when it sees the notification (AdminZkClient
     * .changeEntityConfig writes the config, then the sequential change node). */
    char *note = kr_zk_config_change_encode(k->type, k->name, err, sizeof err);
    if (!note || kr_cluster_zk_create(c, "/config/changes/config_change_", note, strlen(note), 2,
                                      cfg_notified_cb, k) != KR_OK) {
        free(note);
        if ((e = call_end(k, 0)))
            job_done(e, 1);
        return;
    }
    free(note);
}

static void cfg_read_cb(kr_cluster_t *c, const kr_zk_result_t *res, void *arg)
{
    call_t *k = arg;
    evac_t *e = k->e;
    json_t *cfg = NULL, *added = NULL;
    char err[256], path[600];
    char *data = NULL;
    int changed, rc;

    if (!e->run || (res->rc != KR_OK && res->rc != KR_ENOTFOUND)) {
        if ((e = call_end(k, 0)))
            job_done(e, 1);
        return;
    }
    if (res->rc == KR_ENOTFOUND)
        cfg = json_object();
    else if (kr_zk_config_decode(res->data ? res->data : "", res->data ? res->len : 0, &cfg, err,
                                 sizeof err) != KR_OK) {
        KR_ERROR("evacuate", "msg=\"a config znode does not decode; it is left alone\" entity=%s/%s error=\"%s\"",
                 k->type, k->name, err);
        if ((e = call_end(k, 0)))
            job_done(e, 0);
        return;
    }
    if (k->remove)
        changed = kr_exec_config_remove(cfg, k->edit);
    else
        changed = kr_exec_config_apply(cfg, k->edit, &added);
    if (added) {
        json_decref(k->added);
        k->added = added;
    }
    if (changed <= 0) { /* nothing to write (or a bad edit) */
        json_decref(cfg);
        if ((e = call_end(k, 0)))
            job_done(e, changed < 0);
        return;
    }
    /* keep what this job added for the phase's record (k->added is read in job_done via
     * the state: see throttles_record) */
    if (!k->remove && added) {
        json_t *thr = json_object_get(e->st, "throttles");
        json_t *rec = json_object_get(thr, "added");
        char ent[600];
        snprintf(ent, sizeof ent, "%s/%s", k->type, k->name);
        json_t *prev = json_object_get(rec, ent);
        if (json_is_object(rec)) {
            if (!prev) {
                json_object_set(rec, ent, added);
            } else { /* a retry: merge, lists concatenated (entries are new each time) */
                const char *key;
                json_t *v;
                json_object_foreach(added, key, v) {
                    const char *old = json_string_value(json_object_get(prev, key));
                    if (old && strstr(key, ".replicas")) {
                        char *cat = malloc(strlen(old) + strlen(json_string_value(v)) + 2);
                        if (cat) {
                            sprintf(cat, "%s,%s", old, json_string_value(v));
                            json_object_set_new(prev, key, json_string(cat));
                            free(cat);
                        }
                    } else {
                        json_object_set(prev, key, v);
                    }
                }
            }
        }
    }
    data = kr_zk_config_encode(cfg, err, sizeof err);
    json_decref(cfg);
    snprintf(path, sizeof path, "/config/%s/%s", k->type, k->name);
    if (!data)
        rc = KR_ENOMEM;
    else if (res->rc == KR_ENOTFOUND) {
        k->version = -1;
        rc = kr_cluster_zk_create(c, path, data, strlen(data), 0, cfg_written_cb, k);
    } else {
        k->version = res->stat.version;
        rc = kr_cluster_zk_set(c, path, data, strlen(data), res->stat.version, cfg_written_cb, k);
    }
    free(data);
    if (rc != KR_OK && (e = call_end(k, 0)))
        job_done(e, 1);
}

static void cfg_get(call_t *k)
{
    char path[600];
    evac_t *e;
    snprintf(path, sizeof path, "/config/%s/%s", k->type, k->name);
    if (kr_cluster_zk_get(k->e->c, path, NULL, NULL, cfg_read_cb, k) != KR_OK && (e = call_end(k, 0)))
        job_done(e, 1);
}

static void after_throttles(evac_t *e);
static void after_clear(evac_t *e);

static void job_done(evac_t *e, int failed)
{
    if (failed)
        e->job_failed = 1;
    if (--e->pending)
        return;
    if (e->job_failed) {
        retry_later(e, RETRY_MS);
        return;
    }
    if (e->phase == PH_THROTTLE_SET)
        after_throttles(e);
    else if (e->phase == PH_THROTTLE_CLEAR)
        after_clear(e);
}

/* Starts one job per entity of `edits` ({"brokers/1": {...}, ...}). Returns how many. */
static size_t start_jobs(evac_t *e, const json_t *edits, int remove)
{
    const char *ent;
    json_t *edit;
    size_t n = 0;
    e->pending = 1; /* held while starting */
    e->job_failed = 0;
    json_object_foreach((json_t *)edits, ent, edit) {
        const char *slash = strchr(ent, '/');
        call_t *k;
        if (!slash || !json_object_size(edit))
            continue;
        if (!(k = call_new(e))) {
            e->job_failed = 1;
            continue;
        }
        k->type = strndup(ent, (size_t)(slash - ent));
        k->name = strdup(slash + 1);
        k->edit = json_incref(edit);
        k->remove = remove;
        e->pending++;
        n++;
        cfg_get(k);
    }
    job_done(e, 0);
    return n;
}

static void throttles_apply(evac_t *e)
{
    json_t *thr = json_object_get(e->st, "throttles");
    size_t n = start_jobs(e, json_object_get(thr, "want"), 0);
    (void)n;
}

static void after_throttles(evac_t *e)
{
    json_t *thr = json_object_get(e->st, "throttles");
    json_t *want = json_object_get(thr, "want");
    size_t nb = 0, nt = 0;
    const char *ent;
    json_t *v;
    json_object_foreach(want, ent, v) {
        nb += strncmp(ent, "brokers/", 8) == 0;
        nt += strncmp(ent, "topics/", 7) == 0;
    }
    if (e->resumed && !json_is_true(json_object_get(thr, "applied")))
        /* the crash came between the journal and the end of the writes: what was written
         * before cannot be told from an operator's own throttles; count it as ours */
        json_object_set(thr, "added", want);
    json_object_set_new(thr, "applied", json_true());
    progress(e, "batch %zu of %zu: throttles set (%lld B/s on %zu brokers, replica lists on %zu topics)",
             e->batch + 1, kr_exec_batches(e->st), (long long)e->rate, nb, nt);
    if (e->cancel) {
        e->finish_after_clear = 1;
        e->finish_rc = KR_ESTATE;
        snprintf(e->finish_msg, sizeof e->finish_msg,
                 "cancelled by operator before batch %zu was written; throttles removed", e->batch + 1);
        set_phase(e, PH_THROTTLE_CLEAR);
        return;
    }
    set_phase(e, PH_BATCH);
}

static void throttles_clear(evac_t *e)
{
    json_t *thr = json_object_get(e->st, "throttles");
    if (!json_is_object(thr)) {
        after_clear(e);
        return;
    }
    start_jobs(e, json_is_true(json_object_get(thr, "applied")) ? json_object_get(thr, "added")
                                                               : json_object_get(thr, "want"), 1);
}

static void after_clear(evac_t *e)
{
    if (json_is_object(json_object_get(e->st, "throttles"))) {
        json_object_set_new(e->st, "throttles", json_null());
        progress(e, "throttles of batch %zu removed", e->batch + 1);
    }
    if (e->finish_after_clear) {
        finish(e, e->finish_rc, "%s", e->finish_msg);
        return;
    }
    set_phase(e, PH_BATCH);
}

/* ---- the batch loop ---- */

static void barrier_cb(int rc, uint64_t seq, void *arg)
{
    call_t *k = arg;
    evac_t *e = call_end(k, 1);
    (void)seq;
    if (!e)
        return;
    if (rc != KR_OK) {
        finish(e, KR_EIO, "the journal cannot persist; batch %zu was not written", e->batch + 1);
        return;
    }
    set_phase(e, PH_CHECK_ZNODE);
}

/* Journals "writing" and waits until it is durable: after a crash we know the znode may
 * exist. */
static void mark_writing(evac_t *e)
{
    call_t *k = NULL;
    kr_exec_batch_set_state(e->st, e->batch, KR_EXEC_WRITING);
    e->batch_was_writing = 0;
    e->foreign_reported = 0;
    json_t *br = kr_exec_batch_reassignment(e->st, e->batch);
    progress(e, "batch %zu of %zu: writing %zu partitions to " REASSIGN_PATH, e->batch + 1,
             kr_exec_batches(e->st), json_array_size(json_object_get(br, "partitions")));
    json_decref(br);
    if (!e->d->journal) {
        set_phase(e, PH_CHECK_ZNODE);
        return;
    }
    json_t *rec = json_pack("{s:s,s:s,s:I}", "kind", "evacuate.barrier", "run", kr_run_id(e->run),
                            "batch", (json_int_t)e->batch);
    e->gen++;
    if (!rec || !(k = call_new(e)) ||
        kr_journal_append(e->d->journal, rec, barrier_cb, k, NULL) != KR_OK) {
        if (k)
            call_end(k, 0);
        json_decref(rec);
        finish(e, KR_EIO, "the journal cannot persist; batch %zu was not written", e->batch + 1);
        return;
    }
    json_decref(rec);
}

static void batch_step(evac_t *e)
{
    size_t n = kr_exec_batches(e->st), k = kr_exec_next_batch(e->st);
    json_t *thr = json_object_get(e->st, "throttles");
    char w[300], msg[700];

    /* throttles of a finished batch still there (a crash between done and removal) */
    if (json_is_object(thr)) {
        size_t tb = (size_t)json_integer_value(json_object_get(thr, "batch"));
        const char *bs = kr_exec_batch_state(e->st, tb);
        if (!bs || strcmp(bs, KR_EXEC_DONE) == 0) {
            e->batch = tb;
            set_phase(e, PH_THROTTLE_CLEAR);
            return;
        }
    }
    if (k == n) {
        json_t *mis = json_array();
        json_t *b;
        size_t i;
        json_array_foreach(json_object_get(e->st, "batches"), i, b) {
            size_t j;
            json_t *v;
            json_array_foreach(json_object_get(b, "mismatched"), j, v) json_array_append(mis, v);
        }
        if (json_array_size(mis)) {
            char *s = json_dumps(mis, JSON_COMPACT);
            finish(e, KR_EIO, "%s: %lld of %lld partitions moved in %zu batches; %zu did not reach their "
                   "target replicas and ISR: %s", what(e, w, sizeof w),
                   json_integer_value(json_object_get(e->st, "partitions_moved")),
                   json_integer_value(json_object_get(e->st, "partitions_total")), n,
                   json_array_size(mis), s ? s : "?");
            free(s);
        } else {
            finish(e, KR_OK, "%s done: %lld partitions moved in %zu batches (cluster %s)",
                   what(e, w, sizeof w), json_integer_value(json_object_get(e->st, "partitions_moved")), n,
                   e->cluster);
        }
        json_decref(mis);
        return;
    }
    e->batch = k;
    const char *bs = kr_exec_batch_state(e->st, k);
    if (strcmp(bs, KR_EXEC_WRITTEN) == 0) {
        set_phase(e, PH_WAIT_DONE);
        return;
    }
    if (strcmp(bs, KR_EXEC_PENDING) == 0) {
        int rc = KR_OK;
        if (e->cancel) {
            rc = KR_ESTATE;
            snprintf(e->finish_msg, sizeof e->finish_msg,
                     "cancelled by operator after %zu of %zu batches (%lld partitions moved)", k, n,
                     json_integer_value(json_object_get(e->st, "partitions_moved")));
        } else if (guard_brokers_down(e, msg, sizeof msg)) {
            rc = KR_EAGAIN;
            snprintf(e->finish_msg, sizeof e->finish_msg, "stopped before batch %zu of %zu: %s", k + 1, n, msg);
        }
        if (rc != KR_OK) {
            if (json_is_object(thr)) { /* this batch's throttles are set: remove them first */
                e->finish_after_clear = 1;
                e->finish_rc = rc;
                set_phase(e, PH_THROTTLE_CLEAR);
            } else {
                finish(e, rc, "%s", e->finish_msg);
            }
            return;
        }
    }
    /* pending or writing: throttles first (if asked and not yet there for this batch) */
    if (e->rate > 0 && !(json_is_object(thr) && (size_t)json_integer_value(json_object_get(thr, "batch")) == k &&
                         json_is_true(json_object_get(thr, "applied")))) {
        if (!json_is_object(thr) || (size_t)json_integer_value(json_object_get(thr, "batch")) != k) {
            json_t *want = kr_exec_batch_throttles(e->st, k, e->rate);
            if (!want) {
                finish(e, KR_ENOMEM, "out of memory computing the throttles");
                return;
            }
            json_object_set_new(e->st, "throttles", json_pack("{s:I,s:o,s:{},s:b}", "batch", (json_int_t)k,
                                                              "want", want, "added", "applied", 0));
            progress(e, "batch %zu of %zu: setting replication throttles", k + 1, n);
        }
        set_phase(e, PH_THROTTLE_SET);
        return;
    }
    if (strcmp(bs, KR_EXEC_PENDING) == 0) {
        mark_writing(e);
        return;
    }
    /* "writing" from the journal: ZooKeeper tells whether the write happened */
    e->batch_was_writing = 1;
    set_phase(e, PH_CHECK_ZNODE);
}

static void watch_cb(kr_cluster_t *c, kr_zk_watch_event_t ev, const char *path, void *arg)
{
    call_t *k = arg;
    evac_t *e = call_end(k, 1);
    (void)c;
    (void)path;
    if (!e)
        return;
    if (ev == KR_ZK_WATCH_LOST) {
        retry_later(e, RETRY_MS);
        return;
    }
    if (e->phase == PH_WAIT_FOREIGN)
        set_phase(e, PH_CHECK_ZNODE);
    else if (e->phase == PH_WAIT_DONE)
        set_phase(e, PH_WAIT_DONE);
    else if (e->phase == PH_E_WAIT || e->phase == PH_E_CHECK)
        set_phase(e, e->phase);
}

/* exists + watch on path with cb; both hold a reference. */
static void watch_path(evac_t *e, const char *path, kr_zk_result_cb cb)
{
    call_t *k = call_new(e), *w = call_new(e);
    if (!k || !w || kr_cluster_zk_exists(e->c, path, watch_cb, w, cb, k) != KR_OK) {
        if (k)
            call_end(k, 0);
        if (w)
            call_end(w, 0);
        retry_later(e, RETRY_MS);
    }
}

static void foreign_read_cb(kr_cluster_t *c, const kr_zk_result_t *res, void *arg)
{
    call_t *k = arg;
    evac_t *e = call_end(k, 1);
    (void)c;
    if (!e)
        return;
    if (res->rc == KR_ENOTFOUND) { /* gone in between */
        set_phase(e, PH_CHECK_ZNODE);
        return;
    }
    if (res->rc != KR_OK) {
        retry_later(e, RETRY_MS);
        return;
    }
    json_t *br = kr_exec_batch_reassignment(e->st, e->batch);
    int ours = kr_exec_reassignment_same(res->data, res->len, br);
    json_decref(br);
    if (ours) {
        /* our create went through before a crash or a connection loss */
        kr_exec_batch_set_state(e->st, e->batch, KR_EXEC_WRITTEN);
        progress(e, "batch %zu of %zu found in " REASSIGN_PATH " (written before a restart or a "
                 "connection loss); not written again", e->batch + 1, kr_exec_batches(e->st));
        set_phase(e, PH_WAIT_DONE);
        return;
    }
    kr_zk_reassignment_t r;
    char err[128];
    size_t n = 0;
    if (kr_zk_reassignment_decode(res->data ? res->data : "", res->data ? res->len : 0, &r, err,
                                  sizeof err) == KR_OK) {
        n = r.n_moves;
        kr_zk_reassignment_deinit(&r);
    }
    /* the exists watch of this phase is armed: keep the generation */
    e->phase = PH_WAIT_FOREIGN;
    if (!e->foreign_reported) {
        e->foreign_reported = 1;
        json_object_set_new(e->st, "waiting_for", json_pack("{s:s,s:I}", "znode", REASSIGN_PATH,
                                                             "partitions", (json_int_t)n));
        progress(e, "batch %zu of %zu waits: " REASSIGN_PATH " holds a reassignment kresponder did "
                 "not start (%zu partitions); it is never overwritten", e->batch + 1,
                 kr_exec_batches(e->st), n);
    }
}

static void znode_exists_cb(kr_cluster_t *c, const kr_zk_result_t *res, void *arg)
{
    call_t *k = arg;
    evac_t *e = call_end(k, 1);
    if (!e)
        return;
    if (res->rc == KR_ENOTFOUND) {
        if (json_object_get(e->st, "waiting_for")) {
            json_object_del(e->st, "waiting_for");
            progress(e, "the foreign reassignment is gone; batch %zu goes on", e->batch + 1);
        }
        if (e->batch_was_writing) { /* did our write happen before the crash? */
            e->precheck = 1;
            set_phase(e, PH_VERIFY);
        } else {
            set_phase(e, PH_CREATE);
        }
        return;
    }
    if (res->rc != KR_OK) {
        retry_later(e, RETRY_MS);
        return;
    }
    call_t *g = call_new(e);
    if (!g || kr_cluster_zk_get(c, REASSIGN_PATH, NULL, NULL, foreign_read_cb, g) != KR_OK) {
        if (g)
            call_end(g, 0);
        retry_later(e, RETRY_MS);
    }
}

static void created_cb(kr_cluster_t *c, const kr_zk_result_t *res, void *arg)
{
    call_t *k = arg;
    evac_t *e = call_end(k, 1);
    (void)c;
    if (!e)
        return;
    if (res->rc == KR_OK) {
        kr_exec_batch_set_state(e->st, e->batch, KR_EXEC_WRITTEN);
        count(e, KR_M_evacuation_batches_total, 1);
        json_t *br = kr_exec_batch_reassignment(e->st, e->batch);
        progress(e, "batch %zu of %zu written to " REASSIGN_PATH ": %zu partitions", e->batch + 1,
                 kr_exec_batches(e->st), json_array_size(json_object_get(br, "partitions")));
        json_decref(br);
        set_phase(e, PH_WAIT_DONE);
        return;
    }
    if (res->rc != KR_EEXIST)
        /* a connection loss may hide a create that went through: look before writing */
        e->batch_was_writing = 1;
    if (res->rc == KR_EEXIST)
        set_phase(e, PH_CHECK_ZNODE);
    else {
        e->phase = PH_CHECK_ZNODE;
        retry_later(e, RETRY_MS);
    }
}

static void znode_create(evac_t *e)
{
    json_t *br = kr_exec_batch_reassignment(e->st, e->batch);
    char *data = br ? json_dumps(br, JSON_COMPACT) : NULL;
    call_t *k = data ? call_new(e) : NULL;
    json_decref(br);
    if (!k || kr_cluster_zk_create(e->c, REASSIGN_PATH, data, strlen(data), 0, created_cb, k) != KR_OK) {
        if (k)
            call_end(k, 0);
        e->phase = PH_CHECK_ZNODE;
        e->batch_was_writing = 1;
        retry_later(e, RETRY_MS);
    }
    free(data);
}

static void done_exists_cb(kr_cluster_t *c, const kr_zk_result_t *res, void *arg)
{
    call_t *k = arg;
    evac_t *e = call_end(k, 1);
    (void)c;
    if (!e)
        return;
    if (res->rc == KR_ENOTFOUND) {
        e->verify_tries = 0;
        e->precheck = 0;
        set_phase(e, PH_VERIFY);
    } else if (res->rc != KR_OK) {
        retry_later(e, RETRY_MS);
    } /* else: the watch tells when the controller rewrites or deletes it */
}

/* ---- verification: read back the batch's topics and partition states ---- */

static void obs_key(char *buf, size_t len, const char *topic, int partition)
{
    snprintf(buf, len, "%s\t%d", topic, partition);
}

static void evaluate(evac_t *e);
static void evaluate_elect(evac_t *e);

static void verify_answered(evac_t *e, int failed)
{
    if (failed)
        e->job_failed = 1;
    if (--e->pending)
        return;
    if (e->job_failed) {
        retry_later(e, RETRY_MS);
        return;
    }
    if (e->phase == PH_E_REFRESH || e->phase == PH_E_VERIFY)
        evaluate_elect(e);
    else
        evaluate(e);
}

static json_t *ids_array(const int *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

static void topic_read_cb(kr_cluster_t *c, const kr_zk_result_t *res, void *arg)
{
    call_t *k = arg;
    char *topic = k->topic;
    evac_t *e;
    kr_zk_topic_t t;
    char err[128];
    int failed = 0;
    k->topic = NULL;
    (void)c;
    if (!(e = call_end(k, 1))) {
        free(topic);
        return;
    }
    if (res->rc == KR_OK && kr_zk_topic_decode(res->data ? res->data : "", res->data ? res->len : 0, &t,
                                               err, sizeof err) == KR_OK) {
        for (size_t i = 0; i < t.n_partitions; i++) {
            char key[400];
            obs_key(key, sizeof key, topic, t.partitions[i].partition);
            json_t *o = json_object_get(e->obs, key);
            if (o) {
                json_object_set_new(o, "replicas", ids_array(t.partitions[i].replicas.ids,
                                                             t.partitions[i].replicas.n));
                json_object_set_new(o, "adding", json_integer((json_int_t)t.partitions[i].adding.n));
            }
        }
        kr_zk_topic_deinit(&t);
    } else if (res->rc != KR_ENOTFOUND) {
        failed = 1; /* a deleted topic stays unmatched; other errors are retried */
    }
    free(topic);
    verify_answered(e, failed);
}

static void state_read_cb(kr_cluster_t *c, const kr_zk_result_t *res, void *arg)
{
    call_t *k = arg;
    char key[400];
    evac_t *e;
    kr_zk_partition_state_t s;
    char err[128];
    obs_key(key, sizeof key, k->topic, k->partition);
    (void)c;
    if (!(e = call_end(k, 1)))
        return;
    if (res->rc == KR_OK && kr_zk_partition_state_decode(res->data ? res->data : "", res->data ? res->len : 0,
                                                         &s, err, sizeof err) == KR_OK) {
        json_t *o = json_object_get(e->obs, key);
        if (o) {
            json_object_set_new(o, "isr", ids_array(s.isr.ids, s.isr.n));
            json_object_set_new(o, "leader", json_integer(s.leader));
        }
        kr_zk_partition_state_deinit(&s);
        verify_answered(e, 0);
        return;
    }
    verify_answered(e, res->rc != KR_ENOTFOUND);
}

static void verify(evac_t *e)
{
    json_t *br = kr_exec_batch_reassignment(e->st, e->batch), *p;
    json_t *topics = json_object();
    size_t i;
    char key[400], path[600];
    json_decref(e->obs);
    e->obs = json_object();
    e->pending = 1;
    e->job_failed = 0;
    json_array_foreach(json_object_get(br, "partitions"), i, p) {
        const char *topic = json_string_value(json_object_get(p, "topic"));
        int part = (int)json_integer_value(json_object_get(p, "partition"));
        call_t *k;
        obs_key(key, sizeof key, topic, part);
        json_object_set_new(e->obs, key, json_object());
        if (!json_object_get(topics, topic)) {
            json_object_set_new(topics, topic, json_true());
            snprintf(path, sizeof path, "/brokers/topics/%s", topic);
            if ((k = call_new(e)) && (k->topic = strdup(topic))) {
                e->pending++;
                if (kr_cluster_zk_get(e->c, path, NULL, NULL, topic_read_cb, k) != KR_OK) {
                    call_end(k, 0);
                    e->pending--;
                    e->job_failed = 1;
                }
            } else if (k) {
                call_end(k, 0);
            }
        }
        snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", topic, part);
        if ((k = call_new(e)) && (k->topic = strdup(topic))) {
            k->partition = part;
            e->pending++;
            if (kr_cluster_zk_get(e->c, path, NULL, NULL, state_read_cb, k) != KR_OK) {
                call_end(k, 0);
                e->pending--;
                e->job_failed = 1;
            }
        } else if (k) {
            call_end(k, 0);
        }
    }
    json_decref(topics);
    json_decref(br);
    verify_answered(e, 0);
}

static int obs_done(const json_t *o, const json_t *target)
{
    const json_t *r = json_object_get(o, "replicas"), *isr = json_object_get(o, "isr");
    int reps[64], in[64];
    size_t nr = json_array_size(r), ni = json_array_size(isr);
    if (!json_is_array(r) || !json_is_array(isr) || nr > 64 || ni > 64)
        return 0;
    for (size_t i = 0; i < nr; i++)
        reps[i] = (int)json_integer_value(json_array_get(r, i));
    for (size_t i = 0; i < ni; i++)
        in[i] = (int)json_integer_value(json_array_get(isr, i));
    return kr_exec_partition_done(reps, nr, in, ni, target);
}

static void evaluate(evac_t *e)
{
    const json_t *parts = json_object_get(json_object_get(e->st, "reassignment"), "partitions");
    const json_t *orig = json_object_get(e->st, "original");
    json_t *b = json_array_get(json_object_get(e->st, "batches"), e->batch);
    json_t *idx = json_object_get(b, "partitions"), *v;
    json_t *mis = json_array();
    size_t i, untouched = 0;
    char key[400];

    json_array_foreach(idx, i, v) {
        size_t pi = (size_t)json_integer_value(v);
        const json_t *p = json_array_get(parts, pi);
        const char *topic = json_string_value(json_object_get(p, "topic"));
        int part = (int)json_integer_value(json_object_get(p, "partition"));
        obs_key(key, sizeof key, topic, part);
        const json_t *o = json_object_get(e->obs, key);
        if (json_equal(json_object_get(o, "replicas"), json_array_get(orig, pi)))
            untouched++;
        if (!obs_done(o, json_object_get(p, "replicas"))) {
            char name[400];
            snprintf(name, sizeof name, "%s-%d", topic, part);
            json_array_append_new(mis, json_string(name));
        }
    }
    if (e->precheck) {
        e->precheck = 0;
        if (untouched == json_array_size(idx)) {
            /* ZooKeeper shows no trace of the batch: it was never written */
            json_decref(mis);
            e->batch_was_writing = 0;
            set_phase(e, PH_CREATE);
            return;
        }
        kr_exec_batch_set_state(e->st, e->batch, KR_EXEC_WRITTEN);
        progress(e, "batch %zu of %zu was written before the restart (its partitions moved); not "
                 "written again", e->batch + 1, kr_exec_batches(e->st));
    }
    if (json_array_size(mis) && e->verify_tries < VERIFY_TRIES) {
        e->verify_tries++;
        json_decref(mis);
        retry_later(e, RETRY_MS); /* ISR catching up */
        return;
    }
    json_object_set_new(b, "mismatched", mis);
    kr_exec_batch_set_state(e->st, e->batch, KR_EXEC_DONE);
    count(e, KR_M_evacuation_partitions_moved_total,
          (double)(json_array_size(idx) - json_array_size(mis)));
    progress(e, "batch %zu of %zu done: %zu partitions at their target replicas and ISR%s",
             e->batch + 1, kr_exec_batches(e->st), json_array_size(idx) - json_array_size(mis),
             json_array_size(mis) ? " (some did not reach it)" : "");
    set_phase(e, PH_THROTTLE_CLEAR);
}

/* ---- elect_leaders ---- */

typedef struct {
    evac_t *e;
    json_t *topics;   /* {"t": true} of topics with a partition preferred by our brokers */
    json_t *elect;    /* [{"topic","partition"}] */
    json_t *skipped;  /* ["t-1: preferred broker 3 is not in the ISR"] */
    size_t led;       /* partitions already led by their preferred broker */
} elect_scan_t;

static int wanted(const evac_t *e, int id)
{
    for (size_t i = 0; i < e->n_brokers; i++)
        if (e->brokers[i] == id)
            return 1;
    return 0;
}

static int elect_scan(const kr_partition_info_t *p, void *arg)
{
    elect_scan_t *s = arg;
    int pref;
    char name[400];
    if (!p->n_replicas || !wanted(s->e, pref = p->replicas[0]))
        return 0;
    if (s->topics)
        json_object_set_new(s->topics, p->topic, json_true());
    if (!s->elect)
        return 0;
    if (p->leader == pref) {
        s->led++;
        return 0;
    }
    int in_isr = 0;
    for (size_t i = 0; i < p->n_isr; i++)
        in_isr |= p->isr[i] == pref;
    snprintf(name, sizeof name, "%s-%d", p->topic, p->partition);
    if (!in_isr) {
        char why[600];
        snprintf(why, sizeof why, "%s: preferred broker %d is not in the ISR", name, pref);
        json_array_append_new(s->skipped, json_string(why));
        return 0;
    }
    json_array_append_new(s->elect, json_pack("{s:s,s:i}", "topic", p->topic, "partition", p->partition));
    return 0;
}

static void elect_refreshed_cb(kr_cluster_t *c, int rc, void *arg)
{
    call_t *k = arg;
    evac_t *e = call_end(k, 1);
    (void)c;
    if (!e)
        return;
    verify_answered(e, rc != KR_OK); /* counts like the verify reads; ends in evaluate_elect */
}

static void evaluate_elect(evac_t *e);

static void elect_refresh(evac_t *e)
{
    elect_scan_t s = { e, json_object(), NULL, NULL, 0 };
    const char *topic;
    json_t *v;
    kr_cluster_foreach_partition(e->c, elect_scan, &s);
    e->pending = 1;
    e->job_failed = 0;
    json_object_foreach(s.topics, topic, v) {
        call_t *k = call_new(e);
        if (!k) {
            e->job_failed = 1;
            continue;
        }
        e->pending++;
        if (kr_cluster_refresh_states(e->c, topic, elect_refreshed_cb, k) != KR_OK) {
            call_end(k, 0);
            e->pending--;
            e->job_failed = 1;
        }
    }
    json_decref(s.topics);
    verify_answered(e, 0);
}

static void evaluate_elect(evac_t *e)
{
    elect_scan_t s = { e, NULL, json_array(), json_array(), 0 };
    char w[200];
    kr_cluster_foreach_partition(e->c, elect_scan, &s);
    snprintf(w, sizeof w, "brokers ");
    for (size_t i = 0, off = 8; i < e->n_brokers && off < sizeof w; i++)
        off += (size_t)snprintf(w + off, sizeof w - off, "%s%d", i ? "," : "", e->brokers[i]);
    if (e->phase == PH_E_VERIFY) {
        json_object_set_new(e->st, "not_elected", json_incref(s.elect));
        json_object_set_new(e->st, "skipped", json_incref(s.skipped));
        json_object_set_new(e->st, "led", json_integer((json_int_t)s.led));
        if (json_array_size(s.elect))
            finish(e, KR_EIO, "preferred-leader election for %s: %zu partitions still not led by their "
                   "preferred broker after the controller ran the election", w, json_array_size(s.elect));
        else
            finish(e, KR_OK, "preferred-leader election for %s done: %zu partitions led by their preferred "
                   "broker%s", w, s.led, json_array_size(s.skipped) ? " (some skipped: preferred broker not in ISR)" : "");
        json_decref(s.elect);
        json_decref(s.skipped);
        return;
    }
    json_object_set_new(e->st, "partitions", json_incref(s.elect));
    json_object_set_new(e->st, "skipped", json_incref(s.skipped));
    json_object_set_new(e->st, "led", json_integer((json_int_t)s.led));
    if (!json_array_size(s.elect)) {
        finish(e, KR_OK, "nothing to elect for %s: %zu partitions already led by their preferred broker%s",
               w, s.led, json_array_size(s.skipped) ? ", others skipped (preferred broker not in ISR)" : "");
    } else if (kr_run_dry_run(e->run)) {
        json_object_set_new(e->st, "dry_run", json_true());
        finish(e, KR_OK, "dry run: would elect the preferred leader of %zu partitions for %s (nothing written)",
               json_array_size(s.elect), w);
    } else {
        progress(e, "%zu partitions of %s are not led by their preferred broker", json_array_size(s.elect), w);
        set_phase(e, PH_E_CHECK);
    }
    json_decref(s.elect);
    json_decref(s.skipped);
}

static void elect_exists_cb(kr_cluster_t *c, const kr_zk_result_t *res, void *arg)
{
    call_t *k = arg;
    evac_t *e = call_end(k, 1);
    (void)c;
    if (!e)
        return;
    if (res->rc == KR_ENOTFOUND && e->phase == PH_E_CHECK) {
        set_phase(e, PH_E_CREATE);
    } else if (res->rc == KR_ENOTFOUND) { /* PH_E_WAIT: the controller is done */
        set_phase(e, PH_E_VERIFY);
    } else if (res->rc == KR_OK && e->phase == PH_E_CHECK && !e->foreign_reported) {
        e->foreign_reported = 1;
        progress(e, "waiting: " ELECTION_PATH " holds an election kresponder did not start");
    } else if (res->rc != KR_OK) {
        retry_later(e, RETRY_MS);
    }
}

static void elect_created_cb(kr_cluster_t *c, const kr_zk_result_t *res, void *arg)
{
    call_t *k = arg;
    evac_t *e = call_end(k, 1);
    (void)c;
    if (!e)
        return;
    if (res->rc == KR_OK) {
        json_object_set_new(e->st, "written", json_true());
        progress(e, "wrote " ELECTION_PATH " with %zu partitions",
                 json_array_size(json_object_get(e->st, "partitions")));
        set_phase(e, PH_E_WAIT);
    } else if (res->rc == KR_EEXIST) {
        set_phase(e, PH_E_CHECK);
    } else {
        e->phase = PH_E_CHECK;
        retry_later(e, RETRY_MS);
    }
}

static void elect_create(evac_t *e)
{
    json_t *parts = json_object_get(e->st, "partitions"), *p;
    size_t n = json_array_size(parts), i;
    kr_zk_topic_partition_t *tps = calloc(n ? n : 1, sizeof *tps);
    char err[256], *data = NULL;
    call_t *k = NULL;
    if (tps) {
        json_array_foreach(parts, i, p) {
            tps[i].topic = (char *)json_string_value(json_object_get(p, "topic"));
            tps[i].partition = (int)json_integer_value(json_object_get(p, "partition"));
        }
        data = kr_zk_preferred_election_encode(tps, n, err, sizeof err);
        free(tps);
    }
    if (!data) {
        finish(e, KR_ENOMEM, "cannot encode the election: %s", err);
        return;
    }
    if (!(k = call_new(e)) ||
        kr_cluster_zk_create(e->c, ELECTION_PATH, data, strlen(data), 0, elect_created_cb, k) != KR_OK) {
        if (k)
            call_end(k, 0);
        e->phase = PH_E_CHECK;
        retry_later(e, RETRY_MS);
    }
    free(data);
}

/* ---- the phase dispatcher ---- */

static int cluster_ready(evac_t *e)
{
    return e->c && kr_cluster_state(e->c) == KR_ZK_CONNECTED && kr_cluster_synced(e->c);
}

static void begin(evac_t *e);
static int plan_now(evac_t *e, int dry);

static void try_slot(evac_t *e)
{
    kr_cluster_guards_t g;
    size_t used = 0;
    char w[300];
    kr_cluster_guards(e->c, &g);
    for (evac_t *x = e->d->executor ? e->d->executor->head : NULL; x; x = x->next)
        used += x != e && x->holds_slot && strcmp(x->cluster, e->cluster) == 0;
    if ((e->resumed && e->st) || (int)used < g.max_concurrent_evacuations) {
        /* a resumed evacuation with a plan held its slot before the restart */
        e->holds_slot = 1;
        slots_gauge(e);
        if (!e->st && !plan_now(e, 0))
            return;
        set_phase(e, PH_BATCH);
        return;
    }
    if (!e->foreign_reported) {
        e->foreign_reported = 1;
        progress(e, "%s waits: %zu evacuation%s running on cluster %s (guard max_concurrent_evacuations = %d)",
                 what(e, w, sizeof w), used, used > 1 ? "s" : "", e->cluster, g.max_concurrent_evacuations);
    }
    retry_later(e, RETRY_MS);
}

static void step(evac_t *e)
{
    if (!e->run || e->phase == PH_FINISHED)
        return;
    switch (e->phase) {
    case PH_WAIT_CLUSTER:
        if (cluster_ready(e)) {
            begin(e);
        } else if (kr_mono_ms() > e->deadline_ms) {
            finish(e, KR_ETIMEDOUT, "cluster %s: no ZooKeeper session with a loaded model (state %s); "
                   "nothing was changed", e->cluster, kr_zk_state_name(kr_cluster_state(e->c)));
        } else {
            retry_later(e, 200);
        }
        break;
    case PH_WAIT_SLOT: try_slot(e); break;
    case PH_BATCH: batch_step(e); break;
    case PH_THROTTLE_SET: throttles_apply(e); break;
    case PH_CHECK_ZNODE:
    case PH_WAIT_FOREIGN: watch_path(e, REASSIGN_PATH, znode_exists_cb); break;
    case PH_CREATE: znode_create(e); break;
    case PH_WAIT_DONE: watch_path(e, REASSIGN_PATH, done_exists_cb); break;
    case PH_VERIFY: verify(e); break;
    case PH_THROTTLE_CLEAR: throttles_clear(e); break;
    case PH_E_REFRESH:
    case PH_E_VERIFY: elect_refresh(e); break;
    case PH_E_CHECK:
    case PH_E_WAIT: watch_path(e, ELECTION_PATH, elect_exists_cb); break;
    case PH_E_CREATE: elect_create(e); break;
    case PH_FINISHED: break;
    }
}

/* ---- entry points ---- */

/* Plans from the model as it is now (guard first). Returns 1 when the run goes on to its
 * batches, 0 when it finished (dry run, nothing to move, plan failure, guard). */
static int plan_now(evac_t *e, int dry)
{
    char err[1024] = "", msg[700], w[300];
    kr_cluster_guards_t g;
    kr_cluster_guards(e->c, &g);
    if (!dry && guard_brokers_down(e, msg, sizeof msg)) {
        finish(e, KR_EAGAIN, "%s not started: %s", what(e, w, sizeof w), msg);
        return 0;
    }
    int rc = plan(e, err, sizeof err);
    if (rc != KR_OK) {
        finish(e, rc, "%s: the plan failed, nothing was changed: %s", what(e, w, sizeof w), err);
        return 0;
    }
    size_t nb = kr_exec_batches(e->st);
    long long np = json_integer_value(json_object_get(e->st, "partitions_total"));
    if (np == 0) {
        finish(e, KR_OK, "%s: nothing to move (no replica on the evacuated brokers)", what(e, w, sizeof w));
        return 0;
    }
    if (dry) {
        json_object_set_new(e->st, "dry_run", json_true());
        finish(e, KR_OK, "dry run%s: %s would move %lld partitions in %zu batches (reassignment JSON in "
               "the detail); nothing was written", g.dry_run && !kr_run_dry_run(e->run) ? " (cluster dry_run)" : "",
               what(e, w, sizeof w), np, nb);
        return 0;
    }
    progress(e, "planned %s on cluster %s: %lld partitions in %zu batches of at most %lld moves per broker",
             what(e, w, sizeof w), e->cluster, np, nb,
             json_integer_value(json_object_get(json_object_get(e->st, "request"), "max_moves_per_broker")));
    return 1;
}

static void begin(evac_t *e)
{
    kr_cluster_guards_t g;
    kr_cluster_guards(e->c, &g);
    if (e->kind == K_ELECT) {
        set_phase(e, e->resumed && json_is_true(json_object_get(e->st, "written")) ? PH_E_WAIT : PH_E_REFRESH);
        return;
    }
    if (!e->st && (kr_run_dry_run(e->run) || g.dry_run)) {
        plan_now(e, 1); /* a dry run needs no slot */
        return;
    }
    /* a new evacuation plans once it holds a slot, from the model as the evacuations
     * before it left it */
    set_phase(e, PH_WAIT_SLOT);
}

/* The run's detail after replay (a new deep copy), or NULL. */
static json_t *run_detail(kr_daemon_t *d, kr_run_t *run)
{
    json_t *runs, *r, *out = NULL;
    size_t i;
    if (!d->respond || !(runs = kr_runs_incident_json(kr_respond_runs(d->respond), kr_run_incident_id(run))))
        return NULL;
    json_array_foreach(runs, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "id")) ?: "", kr_run_id(run)) == 0 &&
            json_is_object(json_object_get(r, "detail")))
            out = json_deep_copy(json_object_get(r, "detail"));
    }
    json_decref(runs);
    return out;
}

static int run_begin(kr_run_t *run, void *ctx, evac_kind_t kind, int resumed, char *err, size_t errlen)
{
    kr_daemon_t *d = ctx;
    const json_t *params = kr_run_params(run);
    const char *name = json_string_value(json_object_get(kr_run_event(run), "cluster"));
    evac_t *e = NULL;
    int rc;

    if (!d || !d->clusters || !kr_clusters_count(d->clusters))
        return kr_seterr(err, errlen, KR_ESTATE, "no cluster is configured (clusters: in the config)");
    if (!name && kr_clusters_count(d->clusters) == 1)
        name = kr_cluster_name(kr_clusters_at(d->clusters, 0));
    if (!name)
        return kr_seterr(err, errlen, KR_EINVAL,
                         "the incident's event names no cluster and %zu clusters are configured",
                         kr_clusters_count(d->clusters));
    if (!(e = calloc(1, sizeof *e)))
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    e->d = d;
    e->run = run;
    e->kind = kind;
    e->resumed = resumed;
    snprintf(e->cluster, sizeof e->cluster, "%s", name);
    if (!(e->c = kr_clusters_find(d->clusters, name))) {
        rc = kr_seterr(err, errlen, KR_ENOTFOUND, "cluster %s is not configured", name);
        goto fail;
    }
    if (kind != K_DRAIN && (rc = parse_brokers(json_object_get(params, "brokers"), &e->brokers,
                                               &e->n_brokers, err, errlen)) != KR_OK)
        goto fail;
    json_t *thr = json_object_get(params, "throttle");
    if (json_is_string(thr)) {
        if ((rc = kr_size_parse(json_string_value(thr), &e->rate, err, errlen)) != KR_OK)
            goto fail;
    } else if (json_is_integer(thr)) {
        e->rate = json_integer_value(thr);
    }
    if (!(e->timer = evtimer_new(d->base, timer_cb, e))) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        goto fail;
    }
    if (resumed) {
        json_t *det = run_detail(d, run);
        char why[256];
        if (kind != K_ELECT && det && kr_exec_state_check(det, why, sizeof why) != KR_OK) {
            KR_WARN("evacuate", "msg=\"journaled state unusable; planning again\" run=%s why=\"%s\"",
                    kr_run_id(run), why);
            json_decref(det);
            det = NULL;
        }
        if (kind != K_ELECT && det && !json_object_get(det, "batches")) {
            json_decref(det);
            det = NULL; /* journaled before the plan: nothing was written */
        }
        e->st = det;
        e->cancel = json_is_true(json_object_get(det, "cancel_requested"));
        if (kind != K_ELECT && det && json_integer_value(json_object_get(det, "throttle_bytes_per_second")) > 0)
            e->rate = json_integer_value(json_object_get(det, "throttle_bytes_per_second"));
        if (det && json_is_object(json_object_get(det, "request")) &&
            json_integer_value(json_object_get(json_object_get(det, "request"), "throttle_bytes_per_second")) > 0)
            e->rate = json_integer_value(json_object_get(json_object_get(det, "request"), "throttle_bytes_per_second"));
    }
    if (kind == K_ELECT && !e->st) {
        e->st = json_pack("{s:s,s:o}", "cluster", e->cluster, "brokers", json_deep_copy(json_object_get(params, "brokers")));
        if (!e->st) {
            rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
            goto fail;
        }
    }
    if ((rc = evac_link(e)) != KR_OK) {
        kr_seterr(err, errlen, rc, "out of memory");
        goto fail;
    }
    kr_run_set_data(run, e, evac_free_cb);
    e->deadline_ms = kr_mono_ms() + (resumed ? 10 : 1) * CLUSTER_WAIT_MS;
    e->phase = PH_WAIT_CLUSTER;
    if (!cluster_ready(e))
        progress(e, "waiting for cluster %s (ZooKeeper session %s, model %s)", e->cluster,
                 kr_zk_state_name(kr_cluster_state(e->c)), kr_cluster_synced(e->c) ? "loaded" : "loading");
    step(e);
    return KR_OK;
fail:
    evac_destroy(e);
    return rc;
}

static int evacuate_start(kr_run_t *run, void *ctx, char *err, size_t errlen)
{
    return run_begin(run, ctx, K_EVACUATE, 0, err, errlen);
}
static int drain_start(kr_run_t *run, void *ctx, char *err, size_t errlen)
{
    return run_begin(run, ctx, K_DRAIN, 0, err, errlen);
}
static int elect_start(kr_run_t *run, void *ctx, char *err, size_t errlen)
{
    return run_begin(run, ctx, K_ELECT, 0, err, errlen);
}
static int evacuate_resume(kr_run_t *run, void *ctx, char *err, size_t errlen)
{
    return run_begin(run, ctx, K_EVACUATE, 1, err, errlen);
}
static int drain_resume(kr_run_t *run, void *ctx, char *err, size_t errlen)
{
    return run_begin(run, ctx, K_DRAIN, 1, err, errlen);
}
static int elect_resume(kr_run_t *run, void *ctx, char *err, size_t errlen)
{
    return run_begin(run, ctx, K_ELECT, 1, err, errlen);
}

/* Operator cancel: an evacuation stops after the batch in flight (a batch the controller
 * works on cannot be taken back), removes its throttles and finishes as cancelled. */
static void evac_cancel(kr_run_t *run, void *ctx)
{
    evac_t *e = kr_run_data(run);
    (void)ctx;
    if (!e) {
        kr_run_finish(run, KR_ESTATE, "cancelled by operator");
        return;
    }
    if (e->phase == PH_FINISHED)
        return;
    e->cancel = 1;
    if (e->st && e->kind != K_ELECT)
        json_object_set_new(e->st, "cancel_requested", json_true());
    switch (e->phase) {
    case PH_WAIT_CLUSTER:
    case PH_WAIT_SLOT:
        finish(e, KR_ESTATE, "cancelled by operator before any move");
        return;
    case PH_E_REFRESH: case PH_E_CHECK: case PH_E_CREATE: case PH_E_WAIT: case PH_E_VERIFY:
        finish(e, KR_ESTATE, "cancelled by operator");
        return;
    case PH_CHECK_ZNODE:
    case PH_WAIT_FOREIGN:
        if (!e->batch_was_writing) { /* our batch is not in ZooKeeper */
            kr_exec_batch_set_state(e->st, e->batch, KR_EXEC_PENDING);
            e->finish_after_clear = 1;
            e->finish_rc = KR_ESTATE;
            snprintf(e->finish_msg, sizeof e->finish_msg,
                     "cancelled by operator after %zu of %zu batches (%lld partitions moved); throttles removed",
                     e->batch, kr_exec_batches(e->st),
                     json_integer_value(json_object_get(e->st, "partitions_moved")));
            progress(e, "cancel requested: batch %zu was not written; removing throttles", e->batch + 1);
            set_phase(e, PH_THROTTLE_CLEAR);
            return;
        }
        break;
    default:
        break;
    }
    progress(e, "cancel requested: stopping after batch %zu (in flight), then removing throttles",
             e->batch + 1);
}

const kr_action_kind_t kr_action_evacuate = {
    .name = "evacuate",
    .validate = evacuate_validate,
    .kafka_changing = 1,
    .help = "move every replica off the given brokers onto targets",
    .start = evacuate_start,
    .cancel = evac_cancel,
    .resume = evacuate_resume,
};
const kr_action_kind_t kr_action_drain_stack = {
    .name = "drain_stack",
    .validate = drain_validate,
    .kafka_changing = 1,
    .help = "evacuate every broker of one blue/green stack onto another",
    .start = drain_start,
    .cancel = evac_cancel,
    .resume = drain_resume,
};
const kr_action_kind_t kr_action_elect_leaders = {
    .name = "elect_leaders",
    .validate = elect_validate,
    .kafka_changing = 1,
    .help = "preferred-leader election for the partitions of brokers",
    .start = elect_start,
    .cancel = evac_cancel,
    .resume = elect_resume,
};
