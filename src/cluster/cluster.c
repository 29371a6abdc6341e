/* cluster/cluster.c: the clusters context: builds the clusters from the config, loads
 * each cluster's model from ZooKeeper with pipelined async reads, keeps it fresh with
 * watches, turns broker changes and session expiry into events, answers the inventory,
 * the read API, /v1/clusters and the cluster metrics.
 *
 * DESIGN: all of this runs on the loop thread; zk_session.c hands over ZooKeeper's
 * answers as op results and watch events. A new session (start, or after an expiry)
 * reads everything: the child list of /brokers/ids (child watch), every registration,
 * the child list of /brokers/topics (child watch), every topic (data watch) and every
 * partition state, and /controller (data or exists watch), all requests in flight at
 * once. The broker diff (model.c) runs on each /brokers/ids answer, so a broker that left
 * while the session was away still yields broker.left. Partition states have no watches
 * (24,000 of them would make every reconnect re-send them all): they are re-read shortly
 * after a broker change, when a topic changes, and on demand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_internal.h"
#include "kr/err.h"
#include "kr/event.h"
#include "kr/log.h"
#include "kr/units.h"

#define EVENT_LIST_MAX 100     /* partitions listed per list in a broker event */
#define STALE_DELAY_MS 1500    /* re-read of partition states after a broker change */
#define STALE_WINDOW 256       /* state re-reads in flight at most: a watch's re-list queued
                                * behind them waits for 256 answers, not 24,000 */

/* A kr_cluster_refresh_states waiter: done once no partition is marked stale and no
 * re-read is in flight (every partition marked when it asked has been read again). */
struct refresh {
    void (*done)(kr_cluster_t *c, int rc, void *arg);
    void *arg;
    struct refresh *next;
};

static void load_ids(kr_cluster_t *c, int in_load);
static void stale_pump(kr_cluster_t *c);
static void refresh_check(kr_cluster_t *c);
static void load_topics(kr_cluster_t *c, int in_load);
static void load_controller(kr_cluster_t *c, int in_load);

/* ---- metrics ---- */

static void labels_of(const kr_cluster_t *c, char *buf, size_t len)
{
    char esc[160];
    snprintf(buf, len, "cluster=\"%s\"", kr_metrics_escape(c->cfg.name, esc, sizeof esc));
}

static void update_gauges(kr_cluster_t *c)
{
    kr_metrics_t *mt = c->owner->metrics;
    char l[200];
    if (!mt)
        return;
    labels_of(c, l, sizeof l);
    kr_metrics_set(mt, KR_M_cluster_brokers_alive, l, (double)kr_model_brokers_alive(c->model));
}

void kr_cluster_on_state(kr_cluster_t *c)
{
    kr_metrics_t *mt = c->owner->metrics;
    char l[256], base[200];
    struct refresh *r;
    if (mt) {
        labels_of(c, base, sizeof base);
        for (int s = KR_ZK_CLOSED; s < KR_ZK__NSTATES; s++) {
            snprintf(l, sizeof l, "%s,state=\"%s\"", base, kr_zk_state_name((kr_zk_state_t)s));
            kr_metrics_set(mt, KR_M_cluster_session_state, l, s == (int)c->state);
        }
    }
    /* refresh waiters cannot be satisfied by a session that is gone */
    if (c->state != KR_ZK_CONNECTED && c->state != KR_ZK_DISCONNECTED) {
        while ((r = c->refreshes)) {
            c->refreshes = r->next;
            r->done(c, KR_ESTATE, r->arg);
            free(r);
        }
    }
}

/* ---- events ---- */

static void emit(kr_cluster_t *c, json_t *ev)
{
    json_t *list;
    if (!ev) {
        KR_ERROR("cluster", "msg=\"out of memory: an event is lost\" cluster=%s", c->cfg.name);
        return;
    }
    if (!c->pending_events && !(c->pending_events = json_array())) {
        json_decref(ev);
        return;
    }
    json_array_append_new(c->pending_events, ev);
    if (json_array_size(c->pending_events) > 1)
        return; /* the retry timer is armed and keeps the order */
    list = c->pending_events;
    if (c->owner->emit && c->owner->emit(list, c->owner->emit_arg) == KR_OK) {
        json_array_clear(list);
    } else {
        struct timeval tv = { 1, 0 };
        KR_WARN("cluster", "msg=\"event sink refused events; retrying in 1s\" cluster=%s",
                c->cfg.name);
        evtimer_add(c->owner->retry_timer, &tv);
    }
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_clusters_t *cl = arg;
    int again = 0;
    (void)fd;
    (void)what;
    for (size_t i = 0; i < cl->n; i++) {
        kr_cluster_t *c = cl->clusters[i];
        if (!c->pending_events || !json_array_size(c->pending_events))
            continue;
        if (cl->emit && cl->emit(c->pending_events, cl->emit_arg) == KR_OK)
            json_array_clear(c->pending_events);
        else
            again = 1;
    }
    if (again) {
        struct timeval tv = { 1, 0 };
        evtimer_add(cl->retry_timer, &tv);
    }
}

/* Partition states marked stale are read again STALE_DELAY_MS later (the controller
 * needs that long to move leaders and shrink ISRs), STALE_WINDOW at a time. */
static void stale_soon(kr_cluster_t *c)
{
    struct timeval tv = { STALE_DELAY_MS / 1000, (STALE_DELAY_MS % 1000) * 1000 };
    if (kr_model_stale_count(c->model) && !evtimer_pending(c->stale_timer, NULL))
        evtimer_add(c->stale_timer, &tv);
}

/* ---- the broker set across restarts ----------------------------------------------
 * After the first load and after every broker change, the set of alive brokers is
 * journaled (cluster.brokers). After a restart it seeds the model before the first read,
 * so a broker that left while kresponder was down still yields broker.left (its event id,
 * from the registration's czxid, is the same as one reported before: redeliveries dedupe). */

static int collect_alive(const kr_broker_info_t *b, void *arg)
{
    if (b->alive)
        json_array_append_new(arg, json_pack("{s:i,s:s?,s:i,s:s?,s:I}", "id", b->id, "host", b->host, "port",
                                             b->port, "rack", b->rack, "epoch", (json_int_t)b->epoch));
    return 0;
}

json_t *kr_cluster_brokers_record(const kr_cluster_t *c)
{
    json_t *list = json_array();
    if (!list)
        return NULL;
    kr_model_foreach_broker(c->model, collect_alive, list);
    return json_pack("{s:s,s:s,s:o}", "kind", "cluster.brokers", "cluster", c->cfg.name, "brokers", list);
}

static void brokers_record_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_cluster_t *c = arg;
    (void)fd;
    (void)what;
    if (!c->owner->record || !c->ever_synced)
        return;
    json_t *rec = kr_cluster_brokers_record(c);
    if (rec)
        c->owner->record(rec, c->owner->record_arg);
    json_decref(rec);
}

/* The model is updated after the change callbacks return: write once it settled. */
static void brokers_changed_soon(kr_cluster_t *c)
{
    struct timeval now = { 0, 0 };
    if (c->brokers_timer && !evtimer_pending(c->brokers_timer, NULL))
        evtimer_add(c->brokers_timer, &now);
}

void kr_clusters_set_record(kr_clusters_t *cl, kr_cluster_record_fn fn, void *arg)
{
    cl->record = fn;
    cl->record_arg = arg;
}

int kr_clusters_replay(kr_clusters_t *cl, const json_t *rec)
{
    const char *name = json_string_value(json_object_get(rec, "cluster"));
    kr_cluster_t *c = name ? kr_clusters_find(cl, name) : NULL;
    json_t *brokers = json_object_get(rec, "brokers");
    if (!c || !json_is_array(brokers))
        return KR_OK; /* a cluster no longer in the config */
    json_decref(c->known);
    c->known = json_incref(brokers);
    return KR_OK;
}

/* Seeds the model with the brokers known before the restart (alive, with their epoch). */
static void seed_known(kr_cluster_t *c)
{
    size_t i;
    json_t *b;
    json_array_foreach(c->known, i, b) {
        kr_zk_broker_t reg;
        memset(&reg, 0, sizeof reg);
        reg.id = (int)json_integer_value(json_object_get(b, "id"));
        reg.version = 5;
        reg.host = (char *)json_string_value(json_object_get(b, "host"));
        reg.port = (int)json_integer_value(json_object_get(b, "port"));
        reg.jmx_port = -1;
        reg.rack = (char *)json_string_value(json_object_get(b, "rack"));
        reg.timestamp_ms = -1;
        kr_model_broker_registered(c->model, reg.id, json_integer_value(json_object_get(b, "epoch")), &reg,
                                   kr_now_ms(), NULL, NULL);
    }
    if (json_array_size(c->known))
        KR_INFO("cluster", "msg=\"brokers known before the restart\" cluster=%s brokers=%zu", c->cfg.name,
                json_array_size(c->known));
}

static void broker_changed(kr_model_change_t kind, const kr_broker_info_t *b, void *arg)
{
    kr_cluster_t *c = arg;
    kr_broker_info_t info = *b;
    char l[256], base[200];
    int id = b->id;

    if (kind == KR_MODEL_JOINED && !c->ever_synced)
        return; /* the first read of the cluster: nothing joined, we just learnt of it */
    info.stack = kr_cluster_stack_of(c, b->id);
    KR_INFO("cluster", "msg=\"broker %s\" cluster=%s broker=%d host=%s rack=%s stack=%s epoch=%lld",
            kind == KR_MODEL_LEFT ? "left" : "joined", c->cfg.name, b->id,
            b->host ? b->host : "-", b->rack ? b->rack : "-", info.stack ? info.stack : "-",
            (long long)b->epoch);
    emit(c, kr_model_broker_event(c->model, c->cfg.name, kind, &info, kr_now_ms(), EVENT_LIST_MAX));
    c->broker_events++;
    if (c->owner->metrics) {
        labels_of(c, base, sizeof base);
        snprintf(l, sizeof l, "%s,type=\"%s\"", base,
                 kind == KR_MODEL_LEFT ? "broker.left" : "broker.joined");
        kr_metrics_add(c->owner->metrics, KR_M_cluster_broker_events_total, l, 1);
    }
    /* the controller moves leaders and shrinks ISRs now: read those states again soon */
    kr_model_mark_broker_stale(c->model, id);
    stale_soon(c);
    brokers_changed_soon(c);
}

void kr_cluster_on_expired(kr_cluster_t *c)
{
    char id[160], sid[32];
    json_t *ev;
    c->expiries++;
    snprintf(sid, sizeof sid, "0x%llx", (unsigned long long)c->session_id);
    snprintf(id, sizeof id, "zk:%s:session-%s-expired", c->cfg.name, sid);
    ev = kr_event_new(id, "zookeeper", "zk.session_expired", KR_EVENT_FIRING, kr_now_ms());
    if (ev && (json_object_set_new(ev, "cluster", json_string(c->cfg.name)) ||
               json_object_set_new(ev, "zookeeper",
                                   json_pack("{s:s,s:s,s:I}", "session_id", sid, "connect",
                                             c->cfg.zookeeper, "session_timeout_ms",
                                             (json_int_t)c->cfg.session_timeout_ms)))) {
        json_decref(ev);
        ev = NULL;
    }
    emit(c, ev);
    if (c->owner->metrics) {
        char l[200];
        labels_of(c, l, sizeof l);
        kr_metrics_add(c->owner->metrics, KR_M_cluster_session_expiries_total, l, 1);
    }
}

/* ---- loading ---- */

static void load_issued(kr_cluster_t *c, kr_zk_op_t *op, int in_load)
{
    op->in_load = in_load && c->loading;
    if (op->in_load)
        c->load_pending++;
}

static void load_answered(kr_cluster_t *c, kr_zk_op_t *op)
{
    if (!op->in_load || !c->loading || !c->load_pending)
        return;
    op->in_load = 0;
    if (--c->load_pending)
        return;
    c->loading = 0;
    c->synced = 1;
    c->ever_synced = 1;
    brokers_changed_soon(c);
    c->load_ms = kr_mono_ms() - c->load_started_ms;
    {
        kr_model_counts_t n;
        kr_model_counts(c->model, &n);
        KR_INFO("cluster", "msg=\"model loaded\" cluster=%s load_ms=%lld brokers_alive=%zu "
                "topics=%zu partitions=%zu under_replicated=%zu offline=%zu controller=%d",
                c->cfg.name, (long long)c->load_ms, n.brokers_alive, n.topics, n.partitions,
                n.under_replicated, n.offline, kr_model_controller(c->model));
    }
    if (c->owner->metrics) {
        char l[200];
        labels_of(c, l, sizeof l);
        kr_metrics_set(c->owner->metrics, KR_M_cluster_model_load_seconds, l,
                       (double)c->load_ms / 1000.0);
    }
    update_gauges(c);
}

/* Issues op (already tagged) or frees it when the request cannot be sent. */
typedef int (*send_fn)(kr_cluster_t *c, const char *path, kr_zk_op_t *op);

static void send_op(kr_cluster_t *c, send_fn fn, const char *path, kr_zk_op_t *op, int in_load)
{
    if (!op)
        return;
    load_issued(c, op, in_load);
    if (fn(c, path, op) != KR_OK) {
        load_answered(c, op);
        kr_zk_op_free(op);
    }
}

/* /brokers/ids */

static void ids_watch(kr_cluster_t *c, kr_zk_op_t *op, int type, const char *path)
{
    (void)op;
    (void)path;
    if (type != KR_ZK_WATCH_LOST)
        load_ids(c, 0);
}

static void broker_result(kr_cluster_t *c, kr_zk_op_t *op, const kr_zk_msg_t *m)
{
    int64_t now = kr_now_ms();
    if (m->zrc == ZOK) {
        kr_zk_broker_t reg;
        char err[256];
        int ok = kr_zk_broker_decode(op->id, m->data ? m->data : "", m->data ? (size_t)m->len : 0,
                                     &reg, err, sizeof err) == KR_OK;
        if (!ok)
            KR_WARN("cluster", "msg=\"cannot decode a broker registration; the broker counts as "
                    "alive without details\" cluster=%s broker=%d error=\"%s\"", c->cfg.name,
                    op->id, err);
        kr_model_broker_registered(c->model, op->id, m->stat.czxid, ok ? &reg : NULL, now,
                                   broker_changed, c);
        if (ok)
            kr_zk_broker_deinit(&reg);
        update_gauges(c);
    } else if (m->zrc == ZNONODE) {
        kr_model_broker_missing(c->model, op->id, now, broker_changed, c);
        update_gauges(c);
    }
    load_answered(c, op);
}

static void ids_result(kr_cluster_t *c, kr_zk_op_t *op, const kr_zk_msg_t *m)
{
    int *ids = NULL, *fetch = NULL;
    size_t n = 0, n_fetch = 0;

    if (m->zrc == ZNONODE) { /* no broker ever registered: wait for the path */
        kr_zk_op_t *w = kr_zk_op_new(NULL, ids_watch, OP_IDS);
        send_op(c, kr_zk_exists, "/brokers/ids", w, 0);
        kr_model_brokers_listed(c->model, NULL, 0, -1, kr_now_ms(), broker_changed, c, &fetch,
                                &n_fetch);
        free(fetch);
        goto done;
    }
    if (m->zrc != ZOK) {
        if (m->zrc != ZCLOSING)
            KR_WARN("cluster", "msg=\"cannot list /brokers/ids\" cluster=%s zrc=%d", c->cfg.name,
                    m->zrc);
        goto done;
    }
    if (m->n_strings && !(ids = malloc((size_t)m->n_strings * sizeof *ids)))
        goto done;
    for (int i = 0; i < m->n_strings; i++)
        if (kr_zk_parse_int(m->strings[i], &ids[n]) == KR_OK)
            n++;
    if (kr_model_brokers_listed(c->model, ids, n, m->stat.cversion, kr_now_ms(), broker_changed,
                                c, &fetch, &n_fetch) == KR_OK) {
        for (size_t i = 0; i < n_fetch; i++) {
            char path[64];
            kr_zk_op_t *g = kr_zk_op_new(broker_result, NULL, OP_BROKER);
            if (g)
                g->id = fetch[i];
            snprintf(path, sizeof path, "/brokers/ids/%d", fetch[i]);
            send_op(c, kr_zk_get, path, g, op->in_load);
        }
    }
    update_gauges(c);
done:
    free(ids);
    free(fetch);
    load_answered(c, op);
}

static void load_ids(kr_cluster_t *c, int in_load)
{
    kr_zk_op_t *op = kr_zk_op_new(ids_result, ids_watch, OP_IDS);
    send_op(c, kr_zk_get_children, "/brokers/ids", op, in_load);
}

/* partition states */

static void refresh_check(kr_cluster_t *c)
{
    struct refresh *r;
    if (!c->refreshes || c->stale_inflight || kr_model_stale_count(c->model))
        return;
    while ((r = c->refreshes)) {
        c->refreshes = r->next;
        r->done(c, c->refresh_rc, r->arg);
        free(r);
    }
    c->refresh_rc = KR_OK;
}

static void state_result(kr_cluster_t *c, kr_zk_op_t *op, const kr_zk_msg_t *m)
{
    if (m->zrc == ZOK) {
        kr_zk_partition_state_t st;
        char err[256];
        if (kr_zk_partition_state_decode(m->data ? m->data : "", m->data ? (size_t)m->len : 0,
                                         &st, err, sizeof err) == KR_OK) {
            kr_model_state_set(c->model, op->name, op->id, &st);
            kr_zk_partition_state_deinit(&st);
        } else {
            KR_WARN("cluster", "msg=\"cannot decode a partition state\" cluster=%s topic=%s "
                    "partition=%d error=\"%s\"", c->cfg.name, op->name, op->id, err);
        }
    } else if (m->zrc == ZNONODE && kr_model_mark_stale(c->model, op->name, op->id) == KR_OK) {
        stale_soon(c); /* the controller has not written it yet */
    }
    if (op->tag == OP_STATE_STALE) {
        c->stale_inflight--;
        if (m->zrc != ZOK && m->zrc != ZNONODE && m->zrc != ZCLOSING)
            c->refresh_rc = kr_zk_rc(m->zrc);
        if (c->stale_due)
            stale_pump(c);
        refresh_check(c);
    }
    load_answered(c, op);
}

static size_t read_states(kr_cluster_t *c, const char *topic, int in_load)
{
    size_t n = 0, sent = 0;
    const kr_zk_assignment_t *parts = kr_model_topic_partitions(c->model, topic, &n);
    for (size_t i = 0; i < n; i++) {
        char path[400];
        kr_zk_op_t *op = kr_zk_op_new(state_result, NULL, OP_STATE);
        if (!op || !(op->name = strdup(topic))) {
            kr_zk_op_free(op);
            continue;
        }
        op->id = parts[i].partition;
        snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", topic,
                 parts[i].partition);
        load_issued(c, op, in_load);
        if (kr_zk_get(c, path, op) != KR_OK) {
            load_answered(c, op);
            kr_zk_op_free(op);
            continue;
        }
        sent++;
    }
    return sent;
}

static void stale_pump(kr_cluster_t *c)
{
    kr_model_tp_t tp[64];
    while (c->zh && c->stale_inflight < STALE_WINDOW) {
        size_t want = STALE_WINDOW - c->stale_inflight, n;
        n = kr_model_take_stale(c->model, tp, want < 64 ? want : 64);
        if (!n) {
            c->stale_due = 0;
            return;
        }
        for (size_t i = 0; i < n; i++) {
            char path[400];
            kr_zk_op_t *op = kr_zk_op_new(state_result, NULL, OP_STATE_STALE);
            if (!op || !(op->name = strdup(tp[i].topic))) {
                kr_zk_op_free(op);
                continue;
            }
            op->id = tp[i].partition;
            snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", tp[i].topic,
                     tp[i].partition);
            if (kr_zk_get(c, path, op) != KR_OK) {
                kr_zk_op_free(op);
                continue;
            }
            c->stale_inflight++;
        }
    }
}

static void stale_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_cluster_t *c = arg;
    (void)fd;
    (void)what;
    c->stale_due = 1;
    stale_pump(c);
}

/* topics */

static void topic_watch(kr_cluster_t *c, kr_zk_op_t *op, int type, const char *path);

static void topic_result(kr_cluster_t *c, kr_zk_op_t *op, const kr_zk_msg_t *m)
{
    if (m->zrc == ZOK) {
        kr_zk_topic_t t;
        char err[256];
        if (kr_zk_topic_decode(m->data ? m->data : "", m->data ? (size_t)m->len : 0, &t, err,
                               sizeof err) == KR_OK) {
            if (kr_model_topic_set(c->model, op->name, &t) == KR_OK)
                read_states(c, op->name, op->in_load);
            kr_zk_topic_deinit(&t);
        } else {
            KR_WARN("cluster", "msg=\"cannot decode a topic; keeping what was known\" cluster=%s "
                    "topic=%s error=\"%s\"", c->cfg.name, op->name, err);
        }
    } else if (m->zrc == ZNONODE) {
        kr_model_topic_remove(c->model, op->name);
    }
    load_answered(c, op);
}

static void read_topic(kr_cluster_t *c, const char *name, int in_load)
{
    char path[320];
    kr_zk_op_t *op = kr_zk_op_new(topic_result, topic_watch, OP_TOPIC);
    if (!op || !(op->name = strdup(name))) {
        kr_zk_op_free(op);
        return;
    }
    snprintf(path, sizeof path, "/brokers/topics/%s", name);
    send_op(c, kr_zk_get, path, op, in_load);
}

static void topic_watch(kr_cluster_t *c, kr_zk_op_t *op, int type, const char *path)
{
    (void)path;
    if (type == KR_ZK_WATCH_CHANGED || type == KR_ZK_WATCH_CREATED)
        read_topic(c, op->name, 0);
    else if (type == KR_ZK_WATCH_DELETED)
        kr_model_topic_remove(c->model, op->name);
}

static void topics_watch(kr_cluster_t *c, kr_zk_op_t *op, int type, const char *path)
{
    (void)op;
    (void)path;
    if (type != KR_ZK_WATCH_LOST)
        load_topics(c, 0);
}

static void topics_result(kr_cluster_t *c, kr_zk_op_t *op, const kr_zk_msg_t *m)
{
    if (m->zrc == ZNONODE) {
        kr_zk_op_t *w = kr_zk_op_new(NULL, topics_watch, OP_TOPICS);
        send_op(c, kr_zk_exists, "/brokers/topics", w, 0);
        kr_model_topics_retain(c->model, NULL, 0);
    } else if (m->zrc == ZOK) {
        kr_model_topics_retain(c->model, m->strings, (size_t)m->n_strings);
        /* a new session lost every topic watch: read all of them again; otherwise only
         * the new ones (the others are watched) */
        for (int i = 0; i < m->n_strings; i++)
            if (op->in_load || !kr_model_topic_exists(c->model, m->strings[i]))
                read_topic(c, m->strings[i], op->in_load);
    } else if (m->zrc != ZCLOSING) {
        KR_WARN("cluster", "msg=\"cannot list /brokers/topics\" cluster=%s zrc=%d", c->cfg.name,
                m->zrc);
    }
    load_answered(c, op);
}

static void load_topics(kr_cluster_t *c, int in_load)
{
    kr_zk_op_t *op = kr_zk_op_new(topics_result, topics_watch, OP_TOPICS);
    send_op(c, kr_zk_get_children, "/brokers/topics", op, in_load);
}

/* controller */

static void controller_watch(kr_cluster_t *c, kr_zk_op_t *op, int type, const char *path)
{
    (void)op;
    (void)path;
    if (type != KR_ZK_WATCH_LOST)
        load_controller(c, 0);
}

static void controller_result(kr_cluster_t *c, kr_zk_op_t *op, const kr_zk_msg_t *m)
{
    if (m->zrc == ZOK) {
        kr_zk_controller_t ctl;
        char err[256];
        if (kr_zk_controller_decode(m->data ? m->data : "", m->data ? (size_t)m->len : 0, &ctl,
                                    err, sizeof err) == KR_OK)
            kr_model_set_controller(c->model, ctl.broker_id);
        else
            kr_model_set_controller(c->model, -1);
    } else if (m->zrc == ZNONODE) {
        kr_zk_op_t *w = kr_zk_op_new(NULL, controller_watch, OP_CONTROLLER_EXISTS);
        kr_model_set_controller(c->model, -1);
        send_op(c, kr_zk_exists, "/controller", w, 0);
    }
    load_answered(c, op);
}

static void load_controller(kr_cluster_t *c, int in_load)
{
    kr_zk_op_t *op = kr_zk_op_new(controller_result, controller_watch, OP_CONTROLLER);
    send_op(c, kr_zk_get, "/controller", op, in_load);
}

void kr_cluster_on_connected(kr_cluster_t *c, int new_session)
{
    if (!new_session) {
        KR_INFO("cluster", "msg=\"reconnected; session and watches kept\" cluster=%s",
                c->cfg.name);
        return;
    }
    /* Everything is read again; the broker diff compares with what we knew. */
    kr_model_session_reset(c->model);
    c->loading = 1;
    c->synced = 0;
    c->load_pending = 1; /* held until the three reads below are sent */
    c->load_started_ms = kr_mono_ms();
    load_ids(c, 1);
    load_topics(c, 1);
    load_controller(c, 1);
    {
        kr_zk_op_t hold = { .in_load = 1 };
        load_answered(c, &hold);
    }
}

/* ---- lifecycle ---- */

static void cluster_free(kr_cluster_t *c)
{
    struct refresh *r;
    if (!c)
        return;
    kr_zk_session_close(c, KR_ZK_CLOSED);
    while ((r = c->refreshes)) {
        c->refreshes = r->next;
        r->done(c, KR_ESTATE, r->arg);
        free(r);
    }
    if (c->reopen_timer)
        event_free(c->reopen_timer);
    if (c->stale_timer)
        event_free(c->stale_timer);
    if (c->brokers_timer)
        event_free(c->brokers_timer);
    json_decref(c->known);
    json_decref(c->pending_events);
    kr_model_free(c->model);
    kr_cluster_cfg_deinit(&c->cfg);
    free(c);
}

kr_clusters_t *kr_clusters_new(struct event_base *base, const kr_config_t *cfg,
                               kr_metrics_t *metrics, kr_cluster_emit_fn emit_fn, void *emit_arg,
                               char *err, size_t errlen)
{
    kr_clusters_t *cl = NULL;
    kr_cluster_cfg_t *cfgs = NULL;
    size_t n = 0, i;

    if (kr_cluster_cfgs_parse(cfg, &cfgs, &n, err, errlen) != KR_OK)
        return NULL;
    if (!(cl = calloc(1, sizeof *cl)))
        goto nomem;
    pthread_mutex_init(&cl->lock, NULL);
    cl->base = base;
    cl->cfg = cfg;
    cl->metrics = metrics;
    cl->emit = emit_fn;
    cl->emit_arg = emit_arg;
    if (!(cl->wake = event_new(base, -1, 0, kr_zk_queue_drain_cb, cl)) ||
        !(cl->retry_timer = evtimer_new(base, retry_cb, cl)))
        goto nomem;
    if (n && !(cl->clusters = calloc(n, sizeof *cl->clusters)))
        goto nomem;
    for (i = 0; i < n; i++) {
        kr_cluster_t *c = calloc(1, sizeof *c);
        if (!c)
            goto nomem;
        cl->clusters[cl->n++] = c;
        c->owner = cl;
        c->index = i;
        c->cfg = cfgs[i];
        memset(&cfgs[i], 0, sizeof cfgs[i]);
        c->ops.next = c->ops.prev = &c->ops;
        c->load_ms = -1;
        c->state = KR_ZK_CLOSED;
        c->state_since_ms = kr_now_ms();
        if (!(c->model = kr_model_new()) || !(c->stale_timer = evtimer_new(base, stale_cb, c)) ||
            !(c->brokers_timer = evtimer_new(base, brokers_record_cb, c)))
            goto nomem;
        kr_cluster_on_state(c);
    }
    /* The client's own logging goes through kr_log (client_log in zk_session.c); only its
     * warnings and errors are formatted at all. */
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    free(cfgs);
    return cl;
nomem:
    for (i = 0; i < n; i++)
        kr_cluster_cfg_deinit(&cfgs[i]);
    free(cfgs);
    kr_clusters_free(cl);
    kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
    return NULL;
}

int kr_clusters_start(kr_clusters_t *cl, char *err, size_t errlen)
{
    for (size_t i = 0; i < cl->n; i++) {
        kr_cluster_t *c = cl->clusters[i];
        seed_known(c);
        if (kr_zk_session_open(c) != KR_OK) {
            struct timeval tv = { 5, 0 };
            if (!c->reopen_timer)
                return kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
            evtimer_add(c->reopen_timer, &tv);
        }
    }
    return KR_OK;
}

void kr_clusters_free(kr_clusters_t *cl)
{
    kr_zk_msg_t *m;
    if (!cl)
        return;
    for (size_t i = 0; i < cl->n; i++)
        cluster_free(cl->clusters[i]);
    free(cl->clusters);
    pthread_mutex_lock(&cl->lock);
    m = cl->head;
    cl->head = cl->tail = NULL;
    pthread_mutex_unlock(&cl->lock);
    while (m) {
        kr_zk_msg_t *next = m->next;
        kr_zk_msg_free(m);
        m = next;
    }
    if (cl->wake)
        event_free(cl->wake);
    if (cl->retry_timer)
        event_free(cl->retry_timer);
    pthread_mutex_destroy(&cl->lock);
    free(cl);
}

size_t kr_clusters_count(const kr_clusters_t *cl) { return cl ? cl->n : 0; }

kr_cluster_t *kr_clusters_at(kr_clusters_t *cl, size_t i)
{
    return cl && i < cl->n ? cl->clusters[i] : NULL;
}

kr_cluster_t *kr_clusters_find(kr_clusters_t *cl, const char *name)
{
    for (size_t i = 0; cl && name && i < cl->n; i++)
        if (strcmp(cl->clusters[i]->cfg.name, name) == 0)
            return cl->clusters[i];
    return NULL;
}

kr_zk_state_t kr_cluster_state(const kr_cluster_t *c) { return c->state; }
const char *kr_cluster_name(const kr_cluster_t *c) { return c->cfg.name; }
int kr_cluster_synced(const kr_cluster_t *c) { return c->synced; }

const char *kr_cluster_stack_of(const kr_cluster_t *c, int broker_id)
{
    for (size_t i = 0; i < c->cfg.n_stacks; i++)
        if (broker_id >= c->cfg.stacks[i].lo && broker_id <= c->cfg.stacks[i].hi)
            return c->cfg.stacks[i].name;
    return NULL;
}

/* ---- read access ---- */

typedef struct {
    const kr_cluster_t *c;
    int (*fn)(const kr_broker_info_t *b, void *arg);
    void *arg;
} broker_iter_t;

static int with_stack(const kr_broker_info_t *b, void *arg)
{
    broker_iter_t *it = arg;
    kr_broker_info_t info = *b;
    info.stack = kr_cluster_stack_of(it->c, b->id);
    return it->fn(&info, it->arg);
}

int kr_cluster_foreach_broker(const kr_cluster_t *c,
                              int (*fn)(const kr_broker_info_t *b, void *arg), void *arg)
{
    broker_iter_t it = { c, fn, arg };
    return kr_model_foreach_broker(c->model, with_stack, &it);
}

int kr_cluster_foreach_partition(const kr_cluster_t *c,
                                 int (*fn)(const kr_partition_info_t *p, void *arg), void *arg)
{
    return kr_model_foreach_partition(c->model, fn, arg);
}

int kr_cluster_broker(const kr_cluster_t *c, int id, kr_broker_info_t *out)
{
    int rc = kr_model_broker(c->model, id, out);
    if (rc == KR_OK)
        out->stack = kr_cluster_stack_of(c, id);
    return rc;
}

static void refresh_soon_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    refresh_check(arg);
}

int kr_cluster_refresh_states(kr_cluster_t *c, const char *topic,
                              void (*done)(kr_cluster_t *c, int rc, void *arg), void *arg)
{
    struct refresh *r;
    struct timeval now = { 0, 0 };

    if (!done)
        return KR_EINVAL;
    if (!c->zh || (c->state != KR_ZK_CONNECTED && c->state != KR_ZK_DISCONNECTED))
        return KR_ESTATE;
    if (topic && !kr_model_topic_exists(c->model, topic))
        return KR_ENOTFOUND;
    if (!(r = calloc(1, sizeof *r)))
        return KR_ENOMEM;
    r->done = done;
    r->arg = arg;
    r->next = c->refreshes;
    c->refreshes = r;
    /* through the same window as the re-reads after a broker change, at once */
    kr_model_mark_topic_stale(c->model, topic);
    c->stale_due = 1;
    stale_pump(c);
    /* answered from the loop, never from inside this call */
    if (event_base_once(c->owner->base, -1, EV_TIMEOUT, refresh_soon_cb, c, &now) != 0)
        KR_WARN("cluster", "msg=\"cannot schedule a refresh check\" cluster=%s", c->cfg.name);
    return KR_OK;
}

/* ---- JSON ---- */

static int broker_json(const kr_broker_info_t *b, void *arg)
{
    json_t *list = arg, *o;
    char t[32];
    o = json_pack("{s:i,s:s*,s:s*,s:s*,s:b,s:s*,s:I}", "id", b->id, "host", b->host, "rack",
                  b->rack, "stack", b->stack, "alive", b->alive, "since",
                  b->since_ms ? kr_time_format(b->since_ms, t, sizeof t) : NULL, "epoch",
                  (json_int_t)b->epoch);
    if (!o)
        return KR_ENOMEM;
    if (b->host)
        json_object_set_new(o, "port", json_integer(b->port));
    return json_array_append_new(list, o) ? KR_ENOMEM : 0;
}

json_t *kr_cluster_json(const kr_cluster_t *c, int details)
{
    kr_model_counts_t n;
    char sid[32], since[32];
    json_t *o, *stacks;
    int ctl = kr_model_controller(c->model);

    kr_model_counts(c->model, &n);
    snprintf(sid, sizeof sid, "0x%llx", (unsigned long long)c->session_id);
    o = json_pack("{s:s,s:s,s:s,s:s*,s:b,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:I}",
                  "name", c->cfg.name, "state", kr_zk_state_name(c->state),
                  "state_since", kr_time_format(c->state_since_ms, since, sizeof since),
                  "session_id", c->session_id ? sid : NULL, "synced", c->synced,
                  "controller", ctl >= 0 ? json_integer(ctl) : json_null(),
                  "brokers_alive", (json_int_t)n.brokers_alive,
                  "brokers_total", (json_int_t)n.brokers_total,
                  "topics", (json_int_t)n.topics, "partitions", (json_int_t)n.partitions,
                  "under_replicated_partitions", (json_int_t)n.under_replicated,
                  "offline_partitions", (json_int_t)n.offline,
                  "load_ms", c->load_ms >= 0 ? json_integer(c->load_ms) : json_null(),
                  "session_expiries", (json_int_t)c->expiries,
                  "broker_events", (json_int_t)c->broker_events);
    if (!o || !details)
        return o;
    stacks = json_object();
    for (size_t i = 0; stacks && i < c->cfg.n_stacks; i++) {
        char r[32];
        snprintf(r, sizeof r, "%d-%d", c->cfg.stacks[i].lo, c->cfg.stacks[i].hi);
        json_object_set_new(stacks, c->cfg.stacks[i].name, json_string(r));
    }
    json_object_set_new(o, "zookeeper", json_string(c->cfg.zookeeper));
    if (c->cfg.bootstrap_servers)
        json_object_set_new(o, "bootstrap_servers", json_string(c->cfg.bootstrap_servers));
    json_object_set_new(o, "session_timeout_ms", json_integer(c->cfg.session_timeout_ms));
    json_object_set_new(o, "stacks", stacks ? stacks : json_object());
    json_object_set_new(o, "guards", json_pack("{s:i,s:i}", "max_concurrent_evacuations",
                                               c->cfg.max_concurrent_evacuations,
                                               "pause_when_brokers_down",
                                               c->cfg.pause_when_brokers_down));
    json_object_set_new(o, "dry_run", json_boolean(c->cfg.dry_run));
    {
        json_t *brokers = json_array();
        if (brokers && kr_cluster_foreach_broker(c, broker_json, brokers) == 0)
            json_object_set_new(o, "brokers", brokers);
        else
            json_decref(brokers);
    }
    return o;
}

json_t *kr_clusters_readiness(const kr_clusters_t *cl, int *all_connected)
{
    json_t *o = json_object();
    *all_connected = 1;
    for (size_t i = 0; cl && i < cl->n; i++) {
        const kr_cluster_t *c = cl->clusters[i];
        json_object_set_new(o, c->cfg.name, json_string(kr_zk_state_name(c->state)));
        if (c->state != KR_ZK_CONNECTED)
            *all_connected = 0;
    }
    return o;
}

/* ---- inventory ---- */

static int fill_broker(kr_cluster_t *c, json_t *event, int id)
{
    kr_broker_info_t b;
    json_t *broker = json_object_get(event, "broker");
    if (!json_is_object(broker)) {
        if (!(broker = json_object()) || json_object_set_new(event, "broker", broker))
            return KR_ENOMEM;
    }
    if (!json_object_get(event, "cluster") &&
        json_object_set_new(event, "cluster", json_string(c->cfg.name)))
        return KR_ENOMEM;
    if (!json_object_get(broker, "id") && json_object_set_new(broker, "id", json_integer(id)))
        return KR_ENOMEM;
    if (kr_cluster_broker(c, id, &b) == KR_OK) {
        if (b.host && !json_object_get(broker, "host"))
            json_object_set_new(broker, "host", json_string(b.host));
        if (b.rack && !json_object_get(broker, "rack"))
            json_object_set_new(broker, "rack", json_string(b.rack));
    }
    if (kr_cluster_stack_of(c, id) && !json_object_get(broker, "stack"))
        json_object_set_new(broker, "stack", json_string(kr_cluster_stack_of(c, id)));
    return 1;
}

static int alarm_broker(const kr_cluster_t *c, const char *name)
{
    regmatch_t mt[16];
    long v;
    char *end;
    size_t g = c->cfg.alarm_group;
    if (!c->cfg.alarm_re_ok || !name || g >= sizeof mt / sizeof mt[0])
        return -1;
    if (regexec(&c->cfg.alarm_re, name, g + 1, mt, 0) != 0 || mt[g].rm_so < 0)
        return -1;
    if (mt[g].rm_eo - mt[g].rm_so < 1 || mt[g].rm_eo - mt[g].rm_so > 9)
        return -1;
    {
        char buf[16];
        memcpy(buf, name + mt[g].rm_so, (size_t)(mt[g].rm_eo - mt[g].rm_so));
        buf[mt[g].rm_eo - mt[g].rm_so] = 0;
        v = strtol(buf, &end, 10);
        if (*end || v < 0)
            return -1;
    }
    return (int)v;
}

int kr_clusters_enrich(kr_clusters_t *cl, json_t *event)
{
    const char *cname = json_string_value(json_object_get(event, "cluster"));
    const char *iid = kr_event_str(event, "instance.id");
    const char *alarm = kr_event_str(event, "alarm.name");
    const char *host = json_string_value(json_object_get(event, "host"));
    json_t *bid = kr_event_get(event, "broker.id");
    kr_cluster_t *only = cname ? kr_clusters_find(cl, cname) : NULL;

    if (!cl || !json_is_object(event))
        return 0;
    /* the event names its cluster and broker already: add what we know of it */
    if (only && json_is_integer(bid))
        return fill_broker(only, event, (int)json_integer_value(bid));
    for (size_t i = 0; iid && i < cl->n; i++) {
        kr_cluster_t *c = cl->clusters[i];
        if (only && c != only)
            continue;
        for (size_t k = 0; k < c->cfg.n_instances; k++)
            if (strcmp(c->cfg.instances[k].instance_id, iid) == 0)
                return fill_broker(c, event, c->cfg.instances[k].broker_id);
    }
    for (size_t i = 0; alarm && i < cl->n; i++) {
        kr_cluster_t *c = cl->clusters[i];
        int id;
        if (only && c != only)
            continue;
        if ((id = alarm_broker(c, alarm)) >= 0)
            return fill_broker(c, event, id);
    }
    for (size_t i = 0; host && i < cl->n; i++) {
        kr_cluster_t *c = cl->clusters[i];
        int id;
        if (only && c != only)
            continue;
        if ((id = kr_model_broker_by_host(c->model, host)) >= 0)
            return fill_broker(c, event, id);
    }
    return 0;
}
