/* cluster/zk_session.c: one libzookeeper-mt session per cluster: the handle, its state
 * machine (connecting -> connected -> disconnected/expired ...), the message queue that
 * carries ZooKeeper's callbacks to the loop thread, and the async request layer (ops).
 *
 * DESIGN: zookeeper_init starts an IO thread and a completion thread per handle. Every
 * watcher and completion runs on that completion thread: it copies what it got into a
 * kr_zk_msg_t, appends it to the clusters' queue under a mutex and makes the `wake` user
 * event active (evthread_use_pthreads is on). The loop thread drains the queue and does
 * everything else. Each message carries the handle generation it came from; when a handle
 * is closed the generation moves on, so late messages of the old handle are dropped
 * without touching their (already freed) op. Ops are owned by the loop thread: linked on
 * their cluster while the handle lives, freed when both their answer and their watch
 * (if any) were handled, or when the handle is closed (their owners are told). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_internal.h"
#include "kr/err.h"
#include "kr/log.h"
#include "kr/units.h"

enum { MSG_SESSION = 1, MSG_WATCH, MSG_RESULT };

/* Per-handle context of the global watcher (read by ZooKeeper's threads, freed after
 * zookeeper_close returns). */
typedef struct {
    kr_clusters_t *owner;
    size_t cluster;
    uint64_t gen;
} handle_ctx_t;

static const char *const state_names[KR_ZK__NSTATES] = {
    [KR_ZK_CLOSED] = "closed",
    [KR_ZK_CONNECTING] = "connecting",
    [KR_ZK_CONNECTED] = "connected",
    [KR_ZK_DISCONNECTED] = "disconnected",
    [KR_ZK_EXPIRED] = "expired",
    [KR_ZK_AUTH_FAILED] = "auth_failed",
};

/* allowed[from] is a bit set of the states `from` may move to. */
#define B(s) (1u << (s))
static const unsigned allowed[KR_ZK__NSTATES] = {
    [KR_ZK_CLOSED] = B(KR_ZK_CONNECTING),
    [KR_ZK_CONNECTING] = B(KR_ZK_CONNECTED) | B(KR_ZK_EXPIRED) | B(KR_ZK_AUTH_FAILED) | B(KR_ZK_CLOSED),
    [KR_ZK_CONNECTED] = B(KR_ZK_DISCONNECTED) | B(KR_ZK_EXPIRED) | B(KR_ZK_AUTH_FAILED) | B(KR_ZK_CLOSED),
    [KR_ZK_DISCONNECTED] = B(KR_ZK_CONNECTED) | B(KR_ZK_EXPIRED) | B(KR_ZK_AUTH_FAILED) | B(KR_ZK_CLOSED),
    [KR_ZK_EXPIRED] = B(KR_ZK_CONNECTING) | B(KR_ZK_CLOSED),
    [KR_ZK_AUTH_FAILED] = B(KR_ZK_CONNECTING) | B(KR_ZK_CLOSED),
};
#undef B

const char *kr_zk_state_name(kr_zk_state_t s)
{
    return (unsigned)s < KR_ZK__NSTATES ? state_names[s] : "unknown";
}

void kr_zk_set_state(kr_cluster_t *c, kr_zk_state_t to)
{
    kr_zk_state_t from = c->state;
    if (from == to)
        return;
    if (!(allowed[from] & (1u << to)))
        KR_WARN("zk", "msg=\"unexpected session transition\" cluster=%s from=%s to=%s",
                c->cfg.name, kr_zk_state_name(from), kr_zk_state_name(to));
    else
        KR_INFO("zk", "msg=\"session state\" cluster=%s from=%s to=%s session=0x%llx",
                c->cfg.name, kr_zk_state_name(from), kr_zk_state_name(to),
                (unsigned long long)c->session_id);
    c->state = to;
    c->state_since_ms = kr_now_ms();
    kr_cluster_on_state(c);
}

int kr_zk_rc(int zrc)
{
    switch (zrc) {
    case ZOK: return KR_OK;
    case ZNONODE: return KR_ENOTFOUND;
    case ZNODEEXISTS: return KR_EEXIST;
    case ZBADVERSION: case ZSESSIONEXPIRED: case ZCLOSING: case ZINVALIDSTATE: case ZNOTEMPTY:
        return KR_ESTATE;
    case ZBADARGUMENTS: case ZNOCHILDRENFOREPHEMERALS: return KR_EINVAL;
    case ZOPERATIONTIMEOUT: return KR_ETIMEDOUT;
    default: return KR_EIO;
    }
}

/* ---- ZooKeeper's threads: copy and queue ---- */

void kr_zk_msg_free(kr_zk_msg_t *m)
{
    if (!m)
        return;
    free(m->path);
    free(m->data);
    for (int i = 0; i < m->n_strings; i++)
        free(m->strings[i]);
    free(m->strings);
    free(m);
}

static void push(kr_clusters_t *cl, kr_zk_msg_t *m)
{
    int was_empty;
    pthread_mutex_lock(&cl->lock);
    was_empty = cl->head == NULL;
    if (cl->tail)
        cl->tail->next = m;
    else
        cl->head = m;
    cl->tail = m;
    pthread_mutex_unlock(&cl->lock);
    if (was_empty)
        event_active(cl->wake, EV_READ, 0);
}

static kr_zk_msg_t *msg_for_op(const void *data, int kind)
{
    kr_zk_op_t *op = (kr_zk_op_t *)data;
    kr_zk_msg_t *m = calloc(1, sizeof *m);
    if (!m) {
        KR_ERROR("zk", "msg=\"out of memory: a ZooKeeper answer is lost\"");
        return NULL;
    }
    m->cluster = op->cluster;
    m->gen = op->gen;
    m->kind = kind;
    m->op = op;
    return m;
}

static void global_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    handle_ctx_t *h = ctx;
    kr_zk_msg_t *m;
    (void)zh;
    (void)path;
    if (type != ZOO_SESSION_EVENT || !h)
        return; /* per-path watches have their own watcher */
    if (!(m = calloc(1, sizeof *m)))
        return;
    m->cluster = h->cluster;
    m->gen = h->gen;
    m->kind = MSG_SESSION;
    m->type = type;
    m->state = state;
    push(h->owner, m);
}

static void op_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    kr_zk_op_t *op = ctx;
    kr_zk_msg_t *m;
    (void)zh;
    /* The client also hands session events to every registered watcher; the global
     * watcher reports those. Do not even look at op here: it may be gone. */
    if (type == ZOO_SESSION_EVENT || type == ZOO_NOTWATCHING_EVENT)
        return;
    if (!(m = msg_for_op(op, MSG_WATCH)))
        return;
    m->type = type;
    m->state = state;
    m->path = path ? strdup(path) : NULL;
    push(op->owner, m);
}

static void strings_stat_done(int rc, const struct String_vector *strings, const struct Stat *stat,
                              const void *data)
{
    kr_zk_msg_t *m = msg_for_op(data, MSG_RESULT);
    if (!m)
        return;
    m->zrc = rc;
    if (rc == ZOK && stat) {
        m->stat = *stat;
        m->has_stat = 1;
    }
    if (rc == ZOK && strings && strings->count > 0 &&
        (m->strings = calloc((size_t)strings->count, sizeof *m->strings))) {
        for (int i = 0; i < strings->count; i++)
            if ((m->strings[m->n_strings] = strdup(strings->data[i])))
                m->n_strings++;
    }
    push(((kr_zk_op_t *)data)->owner, m);
}

static void data_done(int rc, const char *value, int len, const struct Stat *stat, const void *data)
{
    kr_zk_msg_t *m = msg_for_op(data, MSG_RESULT);
    if (!m)
        return;
    m->zrc = rc;
    if (rc == ZOK && stat) {
        m->stat = *stat;
        m->has_stat = 1;
    }
    if (rc == ZOK && value && len >= 0 && (m->data = malloc((size_t)len + 1))) {
        memcpy(m->data, value, (size_t)len);
        m->data[len] = 0;
        m->len = len;
    }
    push(((kr_zk_op_t *)data)->owner, m);
}

static void stat_done(int rc, const struct Stat *stat, const void *data)
{
    kr_zk_msg_t *m = msg_for_op(data, MSG_RESULT);
    if (!m)
        return;
    m->zrc = rc;
    if (rc == ZOK && stat) {
        m->stat = *stat;
        m->has_stat = 1;
    }
    push(((kr_zk_op_t *)data)->owner, m);
}

static void string_done(int rc, const char *value, const void *data)
{
    kr_zk_msg_t *m = msg_for_op(data, MSG_RESULT);
    if (!m)
        return;
    m->zrc = rc;
    if (rc == ZOK && value)
        m->path = strdup(value);
    push(((kr_zk_op_t *)data)->owner, m);
}

static void void_done(int rc, const void *data)
{
    kr_zk_msg_t *m = msg_for_op(data, MSG_RESULT);
    if (!m)
        return;
    m->zrc = rc;
    push(((kr_zk_op_t *)data)->owner, m);
}

/* The client's own log lines (warnings and errors only; see kr_clusters_new). */
static void client_log(const char *message)
{
    KR_DEBUG("zkclient", "msg=\"%.*s\"", (int)strcspn(message, "\"\n"), message);
}

/* ---- ops (loop thread) ---- */

kr_zk_op_t *kr_zk_op_new(kr_zk_op_result_fn on_result, kr_zk_op_watch_fn on_watch, int tag)
{
    kr_zk_op_t *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->on_result = on_result;
    op->on_watch = on_watch;
    op->watch_done = on_watch == NULL;
    op->tag = tag;
    return op;
}

void kr_zk_op_free(kr_zk_op_t *op)
{
    if (!op)
        return;
    free(op->name);
    free(op);
}

static void op_link(kr_cluster_t *c, kr_zk_op_t *op)
{
    op->owner = c->owner;
    op->cluster = c->index;
    op->gen = c->gen;
    op->next = c->ops.next;
    op->prev = &c->ops;
    c->ops.next->prev = op;
    c->ops.next = op;
    c->n_ops++;
}

static void op_unlink(kr_cluster_t *c, kr_zk_op_t *op)
{
    op->prev->next = op->next;
    op->next->prev = op->prev;
    op->next = op->prev = NULL;
    c->n_ops--;
}

/* After a zoo_a* call: on a synchronous failure no callback will come. */
static int op_sent(kr_cluster_t *c, kr_zk_op_t *op, int zrc, const char *what, const char *path)
{
    if (zrc == ZOK)
        return KR_OK;
    KR_WARN("zk", "msg=\"request refused by the client\" cluster=%s op=%s path=\"%s\" zrc=%d (%s)",
            c->cfg.name, what, path, zrc, zerror(zrc));
    op_unlink(c, op);
    return kr_zk_rc(zrc);
}

int kr_zk_get_children(kr_cluster_t *c, const char *path, kr_zk_op_t *op)
{
    if (!c->zh)
        return KR_ESTATE;
    op_link(c, op);
    return op_sent(c, op, zoo_awget_children2(c->zh, path, op->on_watch ? op_watcher : NULL,
                                              op->on_watch ? op : NULL, strings_stat_done, op),
                   "get_children", path);
}

int kr_zk_get(kr_cluster_t *c, const char *path, kr_zk_op_t *op)
{
    if (!c->zh)
        return KR_ESTATE;
    op_link(c, op);
    return op_sent(c, op, zoo_awget(c->zh, path, op->on_watch ? op_watcher : NULL,
                                    op->on_watch ? op : NULL, data_done, op), "get", path);
}

int kr_zk_exists(kr_cluster_t *c, const char *path, kr_zk_op_t *op)
{
    if (!c->zh)
        return KR_ESTATE;
    op->watch_on_nonode = 1;
    op_link(c, op);
    return op_sent(c, op, zoo_awexists(c->zh, path, op->on_watch ? op_watcher : NULL,
                                       op->on_watch ? op : NULL, stat_done, op), "exists", path);
}

/* ---- the session ---- */

static void reopen_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_cluster_t *c = arg;
    (void)fd;
    (void)what;
    if (!c->zh && kr_zk_session_open(c) != KR_OK) {
        struct timeval tv = { 5, 0 };
        evtimer_add(c->reopen_timer, &tv);
    }
}

int kr_zk_session_open(kr_cluster_t *c)
{
    handle_ctx_t *h;
    if (c->zh)
        return KR_OK;
    if (!c->reopen_timer && !(c->reopen_timer = evtimer_new(c->owner->base, reopen_cb, c)))
        return KR_ENOMEM;
    if (!(h = calloc(1, sizeof *h)))
        return KR_ENOMEM;
    c->gen++;
    h->owner = c->owner;
    h->cluster = c->index;
    h->gen = c->gen;
    c->zh = zookeeper_init2(c->cfg.zookeeper, global_watcher, (int)c->cfg.session_timeout_ms,
                            NULL, h, 0, client_log);
    if (!c->zh) {
        KR_ERROR("zk", "msg=\"cannot create a ZooKeeper handle\" cluster=%s connect=\"%s\"",
                 c->cfg.name, c->cfg.zookeeper);
        free(h);
        return KR_EIO;
    }
    c->session_id = 0;
    kr_zk_set_state(c, KR_ZK_CONNECTING);
    return KR_OK;
}

void kr_zk_session_close(kr_cluster_t *c, kr_zk_state_t to)
{
    handle_ctx_t *h;
    if (!c->zh) {
        kr_zk_set_state(c, to);
        return;
    }
    h = (handle_ctx_t *)zoo_get_context(c->zh);
    /* After this returns no callback of the handle runs any more; messages it already
     * queued carry the old generation and are dropped. */
    zookeeper_close(c->zh);
    c->zh = NULL;
    free(h);
    c->gen++;
    c->loading = 0;
    c->load_pending = 0;
    c->synced = 0;
    kr_zk_set_state(c, to);
    /* Tell the owners of pending requests and watches, then free them. */
    while (c->ops.next != &c->ops) {
        kr_zk_op_t *op = c->ops.next;
        op_unlink(c, op);
        if (!op->result_done && op->on_result) {
            kr_zk_msg_t m = { .zrc = ZCLOSING, .op = op };
            op->result_done = 1;
            op->watch_done = 1; /* a failed request set no watch */
            op->on_result(c, op, &m);
        }
        if (!op->watch_done && op->on_watch)
            op->on_watch(c, op, KR_ZK_WATCH_LOST, NULL);
        kr_zk_op_free(op);
    }
}

static void on_session_event(kr_cluster_t *c, int state)
{
    if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE) {
        const clientid_t *id = zoo_client_id(c->zh);
        int new_session = !id || id->client_id != c->session_id;
        c->session_id = id ? id->client_id : 0;
        kr_zk_set_state(c, KR_ZK_CONNECTED);
        kr_cluster_on_connected(c, new_session);
    } else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE ||
               state == ZOO_NOTCONNECTED_STATE) {
        if (c->state == KR_ZK_CONNECTED) {
            /* The client reconnects on its own and re-sends our watches; nothing of the
             * cluster changed as far as we know. */
            KR_WARN("zk", "msg=\"connection to ZooKeeper lost; reconnecting\" cluster=%s",
                    c->cfg.name);
            kr_zk_set_state(c, KR_ZK_DISCONNECTED);
        }
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
        struct timeval tv = { 0, 100000 };
        KR_WARN("zk", "msg=\"kresponder's ZooKeeper session expired\" cluster=%s session=0x%llx",
                c->cfg.name, (unsigned long long)c->session_id);
        kr_zk_set_state(c, KR_ZK_EXPIRED);
        kr_cluster_on_expired(c);
        kr_zk_session_close(c, KR_ZK_EXPIRED);
        evtimer_add(c->reopen_timer, &tv);
    } else if (state == ZOO_AUTH_FAILED_STATE) {
        struct timeval tv = { 10, 0 };
        KR_ERROR("zk", "msg=\"ZooKeeper authentication failed\" cluster=%s", c->cfg.name);
        kr_zk_session_close(c, KR_ZK_AUTH_FAILED);
        evtimer_add(c->reopen_timer, &tv);
    }
}

static void handle_msg(kr_clusters_t *cl, kr_zk_msg_t *m)
{
    kr_cluster_t *c;
    kr_zk_op_t *op = m->op;
    uint64_t gen;

    if (m->cluster >= cl->n)
        return;
    c = cl->clusters[m->cluster];
    if (m->gen != c->gen || !c->zh)
        return; /* from a closed handle: its op is gone */
    gen = c->gen;
    switch (m->kind) {
    case MSG_SESSION:
        on_session_event(c, m->state);
        return;
    case MSG_RESULT:
        if (op->result_done)
            return;
        op->result_done = 1;
        if (op->on_watch && !(m->zrc == ZOK || (op->watch_on_nonode && m->zrc == ZNONODE)))
            op->watch_done = 1; /* the request failed, so no watch was set */
        if (op->on_result)
            op->on_result(c, op, m);
        break;
    case MSG_WATCH:
        if (op->watch_done)
            return;
        op->watch_done = 1;
        op->on_watch(c, op, m->type, m->path);
        break;
    default:
        return;
    }
    /* The handler may have closed the handle, which freed every op. */
    if (c->gen == gen && op->result_done && op->watch_done) {
        op_unlink(c, op);
        kr_zk_op_free(op);
    }
}

void kr_zk_queue_drain_cb(evutil_socket_t fd, short what, void *arg)
{
    kr_clusters_t *cl = arg;
    kr_zk_msg_t *list;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&cl->lock);
    list = cl->head;
    cl->head = cl->tail = NULL;
    pthread_mutex_unlock(&cl->lock);
    while (list) {
        kr_zk_msg_t *next = list->next;
        handle_msg(cl, list);
        kr_zk_msg_free(list);
        list = next;
    }
}

/* ---- the public request API ---- */

static void user_result(kr_cluster_t *c, kr_zk_op_t *op, const kr_zk_msg_t *m)
{
    kr_zk_result_t r;
    if (!op->user_cb)
        return;
    memset(&r, 0, sizeof r);
    r.zrc = m->zrc;
    r.rc = kr_zk_rc(m->zrc);
    r.path = m->path;
    r.data = m->data;
    r.len = m->data ? (size_t)m->len : 0;
    if (m->has_stat) {
        r.stat.czxid = m->stat.czxid;
        r.stat.mzxid = m->stat.mzxid;
        r.stat.pzxid = m->stat.pzxid;
        r.stat.ephemeral_owner = m->stat.ephemeralOwner;
        r.stat.version = m->stat.version;
        r.stat.cversion = m->stat.cversion;
        r.stat.data_length = m->stat.dataLength;
        r.stat.num_children = m->stat.numChildren;
    }
    op->user_cb(c, &r, op->user_arg);
}

static void user_watch(kr_cluster_t *c, kr_zk_op_t *op, int type, const char *path)
{
    if (op->user_watch)
        op->user_watch(c, (kr_zk_watch_event_t)type, path ? path : op->name, op->user_watch_arg);
}

static kr_zk_op_t *user_op(kr_cluster_t *c, const char *path, kr_zk_watch_cb watch,
                           void *watch_arg, kr_zk_result_cb cb, void *arg, int *rc)
{
    kr_zk_op_t *op;
    *rc = KR_OK;
    if (!path || path[0] != '/') {
        *rc = KR_EINVAL;
        return NULL;
    }
    if (!c->zh || (c->state != KR_ZK_CONNECTED && c->state != KR_ZK_DISCONNECTED)) {
        *rc = KR_ESTATE;
        return NULL;
    }
    if (!(op = kr_zk_op_new(user_result, watch ? user_watch : NULL, OP_USER)) ||
        !(op->name = strdup(path))) {
        kr_zk_op_free(op);
        *rc = KR_ENOMEM;
        return NULL;
    }
    op->user_cb = cb;
    op->user_arg = arg;
    op->user_watch = watch;
    op->user_watch_arg = watch_arg;
    return op;
}

static int finish_user(kr_cluster_t *c, kr_zk_op_t *op, int zrc, const char *what)
{
    int rc = op_sent(c, op, zrc, what, op->name);
    if (rc)
        kr_zk_op_free(op);
    return rc;
}

int kr_cluster_zk_create(kr_cluster_t *c, const char *path, const char *data, size_t len,
                         int mode, kr_zk_result_cb cb, void *arg)
{
    int rc;
    kr_zk_op_t *op = user_op(c, path, NULL, NULL, cb, arg, &rc);
    if (!op)
        return rc;
    if (mode < 0 || mode > 3 || len > 0x7fffffff) {
        kr_zk_op_free(op);
        return KR_EINVAL;
    }
    op_link(c, op);
    return finish_user(c, op, zoo_acreate(c->zh, path, data, data ? (int)len : -1,
                                          &ZOO_OPEN_ACL_UNSAFE, mode, string_done, op), "create");
}

int kr_cluster_zk_set(kr_cluster_t *c, const char *path, const char *data, size_t len,
                      int version, kr_zk_result_cb cb, void *arg)
{
    int rc;
    kr_zk_op_t *op = user_op(c, path, NULL, NULL, cb, arg, &rc);
    if (!op)
        return rc;
    if (len > 0x7fffffff) {
        kr_zk_op_free(op);
        return KR_EINVAL;
    }
    op_link(c, op);
    return finish_user(c, op, zoo_aset(c->zh, path, data, data ? (int)len : -1, version,
                                       stat_done, op), "set");
}

int kr_cluster_zk_delete(kr_cluster_t *c, const char *path, int version, kr_zk_result_cb cb,
                         void *arg)
{
    int rc;
    kr_zk_op_t *op = user_op(c, path, NULL, NULL, cb, arg, &rc);
    if (!op)
        return rc;
    op_link(c, op);
    return finish_user(c, op, zoo_adelete(c->zh, path, version, void_done, op), "delete");
}

int kr_cluster_zk_get(kr_cluster_t *c, const char *path, kr_zk_watch_cb watch, void *watch_arg,
                      kr_zk_result_cb cb, void *arg)
{
    int rc;
    kr_zk_op_t *op = user_op(c, path, watch, watch_arg, cb, arg, &rc);
    if (!op)
        return rc;
    op_link(c, op);
    return finish_user(c, op, zoo_awget(c->zh, path, watch ? op_watcher : NULL, watch ? op : NULL,
                                        data_done, op), "get");
}

int kr_cluster_zk_exists(kr_cluster_t *c, const char *path, kr_zk_watch_cb watch,
                         void *watch_arg, kr_zk_result_cb cb, void *arg)
{
    int rc;
    kr_zk_op_t *op = user_op(c, path, watch, watch_arg, cb, arg, &rc);
    if (!op)
        return rc;
    op->watch_on_nonode = 1;
    op_link(c, op);
    return finish_user(c, op, zoo_awexists(c->zh, path, watch ? op_watcher : NULL,
                                           watch ? op : NULL, stat_done, op), "exists");
}
