/* cluster/zkjson.c: decoders for the JSON Kafka writes into ZooKeeper (broker
 * registrations, topics, partition states, controller, admin and config znodes) and
 * encoders for the znodes kresponder writes. Formats: kafka.zk.ZkData (2.0-3.9). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/err.h"
#include "kr/zkjson.h"

/* ------------------------------------------------------------------ small helpers */

void kr_zk_ids_deinit(kr_zk_ids_t *ids)
{
    if (!ids)
        return;
    free(ids->ids);
    ids->ids = NULL;
    ids->n = 0;
}

int kr_zk_ids_contains(const kr_zk_ids_t *ids, int id)
{
    for (size_t i = 0; ids && i < ids->n; i++)
        if (ids->ids[i] == id)
            return 1;
    return 0;
}

int kr_zk_parse_int(const char *s, int *out)
{
    if (!s || !*s)
        return KR_EINVAL;
    const char *p = s[0] == '-' ? s + 1 : s;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '\0'))
        return KR_EINVAL;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < INT_MIN || v > INT_MAX)
        return KR_EINVAL;
    *out = (int)v;
    return KR_OK;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* Parses data as a JSON object. Returns a new reference or NULL with err set. */
static json_t *load_object(const char *what, const char *data, size_t len, char *err,
                           size_t errlen)
{
    if (!data || len == 0) {
        kr_seterr(err, errlen, KR_EINVAL, "%s: the znode has no data", what);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_DECODE_ANY, &je);
    if (!root) {
        kr_seterr(err, errlen, KR_EINVAL, "%s: invalid JSON at line %d column %d: %s", what,
                  je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        kr_seterr(err, errlen, KR_EINVAL, "%s: expected a JSON object, got %s", what,
                  json_kind(root));
        json_decref(root);
        return NULL;
    }
    return root;
}

/* An int member. Absent (or null when null_ok) gives def, or an error when required. */
static int get_int(const char *what, const json_t *obj, const char *key, int required, int def,
                   int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return kr_seterr(err, errlen, KR_EINVAL, "%s: \"%s\" is missing", what, key);
        *out = def;
        return KR_OK;
    }
    if (!json_is_integer(v))
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"%s\" must be an integer, got %s", what,
                         key, json_kind(v));
    json_int_t i = json_integer_value(v);
    if (i < INT_MIN || i > INT_MAX)
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"%s\" is out of range (%lld)", what, key,
                         (long long)i);
    *out = (int)i;
    return KR_OK;
}

/* Timestamps are JSON strings of milliseconds ("1416974968782"); integers are taken too.
 * Anything else gives -1: a bad timestamp must not hide a broker. */
static int64_t get_timestamp(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    long long t = strtoll(s, &end, 10);
    return (errno || *end) ? -1 : (int64_t)t;
}

/* A JSON array of ints into ids (replaced). */
static int get_ids(const char *what, const char *key, const json_t *arr, kr_zk_ids_t *ids,
                   char *err, size_t errlen)
{
    if (!json_is_array(arr))
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"%s\" must be an array of broker ids, got %s",
                         what, key, arr ? json_kind(arr) : "nothing");
    size_t n = json_array_size(arr);
    int *v = NULL;
    if (n) {
        v = malloc(n * sizeof *v);
        if (!v)
            return kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_integer(e) || json_integer_value(e) < INT_MIN ||
            json_integer_value(e) > INT_MAX) {
            free(v);
            return kr_seterr(err, errlen, KR_EINVAL,
                             "%s: \"%s\" item %zu must be a broker id (an integer), got %s", what,
                             key, i, json_kind(e));
        }
        v[i] = (int)json_integer_value(e);
    }
    kr_zk_ids_deinit(ids);
    ids->ids = v;
    ids->n = n;
    return KR_OK;
}

/* Dumps a built value as a compact string (new) and releases it. */
static char *dump_and_free(const char *what, json_t *root, char *err, size_t errlen)
{
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!s)
        kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
    return s;
}

/* ------------------------------------------------------------------ /brokers/ids/<id> */

void kr_zk_endpoint_deinit(kr_zk_endpoint_t *e)
{
    if (!e)
        return;
    free(e->listener);
    free(e->security_protocol);
    free(e->host);
    memset(e, 0, sizeof *e);
}

/* Same grammar as Kafka's EndPoint.uriParseExp: LISTENER://[host]:port with the host
 * optionally in brackets (IPv6, zone ids) and possibly empty; the port may be negative. */
int kr_zk_endpoint_parse(const char *s, kr_zk_endpoint_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *sep = s ? strstr(s, "://") : NULL;
    if (!sep || sep == s)
        return kr_seterr(err, errlen, KR_EINVAL,
                         "endpoint \"%s\" is not LISTENER://host:port", s ? s : "");
    const char *hp = sep + 3, *hs, *he, *colon;
    if (*hp == '[') {
        hs = hp + 1;
        he = strchr(hs, ']');
        if (!he || he[1] != ':')
            return kr_seterr(err, errlen, KR_EINVAL,
                             "endpoint \"%s\": unterminated [IPv6] host or no port", s);
        colon = he + 1;
    } else {
        hs = hp;
        colon = strrchr(hp, ':');
        if (!colon)
            return kr_seterr(err, errlen, KR_EINVAL, "endpoint \"%s\" has no port", s);
        he = colon;
    }
    for (const char *c = hs; c < he; c++)
        if (!(('0' <= *c && *c <= '9') || ('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') ||
              *c == '-' || *c == '%' || *c == '.' || *c == '_' || *c == ':'))
            return kr_seterr(err, errlen, KR_EINVAL, "endpoint \"%s\": bad character in host", s);
    int port;
    if (kr_zk_parse_int(colon + 1, &port) < 0)
        return kr_seterr(err, errlen, KR_EINVAL, "endpoint \"%s\": port is not a number", s);
    out->listener = strndup(s, (size_t)(sep - s));
    out->host = he > hs ? strndup(hs, (size_t)(he - hs)) : NULL;
    out->port = port;
    if (!out->listener || (he > hs && !out->host)) {
        kr_zk_endpoint_deinit(out);
        return kr_seterr(err, errlen, KR_ENOMEM, "endpoint: out of memory");
    }
    return KR_OK;
}

void kr_zk_broker_deinit(kr_zk_broker_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_endpoints; i++)
        kr_zk_endpoint_deinit(&b->endpoints[i]);
    free(b->endpoints);
    free(b->host);
    free(b->rack);
    memset(b, 0, sizeof *b);
}

int kr_zk_broker_decode(int id, const char *data, size_t len, kr_zk_broker_t *out, char *err,
                        size_t errlen)
{
    char what[64];
    int rc = KR_EINVAL;
    json_t *root;
    memset(out, 0, sizeof *out);
    snprintf(what, sizeof what, "broker %d registration", id);
    out->id = id;
    out->port = -1;
    if (!(root = load_object(what, data, len, err, errlen)))
        goto err;
    if ((rc = get_int(what, root, "version", 1, 0, &out->version, err, errlen)) < 0)
        goto err;
    if (out->version < 1) {
        rc = kr_seterr(err, errlen, KR_EINVAL, "%s: unsupported version %d", what, out->version);
        goto err;
    }
    if ((rc = get_int(what, root, "jmx_port", 0, -1, &out->jmx_port, err, errlen)) < 0)
        goto err;
    out->timestamp_ms = get_timestamp(root, "timestamp");

    json_t *host = json_object_get(root, "host"), *rack = json_object_get(root, "rack");
    int port;
    if (host && !json_is_null(host) && !json_is_string(host)) {
        rc = kr_seterr(err, errlen, KR_EINVAL, "%s: \"host\" must be a string or null, got %s",
                       what, json_kind(host));
        goto err;
    }
    if ((rc = get_int(what, root, "port", 0, -1, &port, err, errlen)) < 0)
        goto err;
    if (rack && !json_is_null(rack)) {
        if (!json_is_string(rack)) {
            rc = kr_seterr(err, errlen, KR_EINVAL, "%s: \"rack\" must be a string, got %s", what,
                           json_kind(rack));
            goto err;
        }
        if (!(out->rack = strdup(json_string_value(rack))))
            goto nomem;
    }

    json_t *eps = json_object_get(root, "endpoints");
    json_t *map = json_object_get(root, "listener_security_protocol_map");
    if (map && !json_is_null(map) && !json_is_object(map)) {
        rc = kr_seterr(err, errlen, KR_EINVAL,
                       "%s: \"listener_security_protocol_map\" must be an object, got %s", what,
                       json_kind(map));
        goto err;
    }
    if (json_is_null(map))
        map = NULL;
    if (out->version == 1 || !eps || json_is_null(eps)) {
        /* v1 (and a v2+ without endpoints, which Kafka would reject): host/port is the
         * only listener, PLAINTEXT. */
        if (out->version > 1 && (!host || json_is_null(host))) {
            rc = kr_seterr(err, errlen, KR_EINVAL, "%s: no \"endpoints\" and no \"host\"", what);
            goto err;
        }
        if (json_is_string(host)) {
            out->endpoints = calloc(1, sizeof *out->endpoints);
            if (!out->endpoints)
                goto nomem;
            out->n_endpoints = 1;
            kr_zk_endpoint_t *e = &out->endpoints[0];
            e->listener = strdup("PLAINTEXT");
            e->security_protocol = strdup("PLAINTEXT");
            e->host = strdup(json_string_value(host));
            e->port = port;
            if (!e->listener || !e->security_protocol || !e->host)
                goto nomem;
        }
    } else {
        if (!json_is_array(eps)) {
            rc = kr_seterr(err, errlen, KR_EINVAL,
                           "%s: \"endpoints\" must be an array of strings, got %s", what,
                           json_kind(eps));
            goto err;
        }
        size_t n = json_array_size(eps);
        if (n && !(out->endpoints = calloc(n, sizeof *out->endpoints)))
            goto nomem;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(eps, i);
            char eerr[160];
            if (!json_is_string(e)) {
                rc = kr_seterr(err, errlen, KR_EINVAL, "%s: endpoint %zu must be a string, got %s",
                               what, i, json_kind(e));
                goto err;
            }
            if ((rc = kr_zk_endpoint_parse(json_string_value(e), &out->endpoints[i], eerr,
                                           sizeof eerr)) < 0) {
                kr_seterr(err, errlen, rc, "%s: %s", what, eerr);
                goto err;
            }
            out->n_endpoints = i + 1;
            kr_zk_endpoint_t *ep = &out->endpoints[i];
            const char *proto = ep->listener;
            if (map) {
                json_t *p = json_object_get(map, ep->listener);
                proto = json_is_string(p) ? json_string_value(p) : NULL;
            }
            if (proto && !(ep->security_protocol = strdup(proto)))
                goto nomem;
        }
    }

    /* The address: top-level host (the first PLAINTEXT listener, for old clients), else
     * the first PLAINTEXT endpoint, else the first endpoint with a host. */
    const kr_zk_endpoint_t *pick = NULL;
    if (json_is_string(host) && *json_string_value(host)) {
        if (!(out->host = strdup(json_string_value(host))))
            goto nomem;
        out->port = port;
    } else {
        for (size_t i = 0; i < out->n_endpoints && !pick; i++)
            if (out->endpoints[i].host && out->endpoints[i].security_protocol &&
                strcmp(out->endpoints[i].security_protocol, "PLAINTEXT") == 0)
                pick = &out->endpoints[i];
        for (size_t i = 0; i < out->n_endpoints && !pick; i++)
            if (out->endpoints[i].host)
                pick = &out->endpoints[i];
        if (pick) {
            if (!(out->host = strdup(pick->host)))
                goto nomem;
            out->port = pick->port;
        }
    }
    json_decref(root);
    return KR_OK;
nomem:
    rc = kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
err:
    json_decref(root);
    kr_zk_broker_deinit(out);
    return rc;
}

/* ------------------------------------------------------------ /brokers/topics/<topic> */

void kr_zk_topic_deinit(kr_zk_topic_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_partitions; i++) {
        kr_zk_ids_deinit(&t->partitions[i].replicas);
        kr_zk_ids_deinit(&t->partitions[i].adding);
        kr_zk_ids_deinit(&t->partitions[i].removing);
    }
    free(t->partitions);
    memset(t, 0, sizeof *t);
}

static int cmp_assignment(const void *a, const void *b)
{
    int x = ((const kr_zk_assignment_t *)a)->partition, y = ((const kr_zk_assignment_t *)b)->partition;
    return (x > y) - (x < y);
}

const kr_zk_assignment_t *kr_zk_topic_partition(const kr_zk_topic_t *t, int partition)
{
    kr_zk_assignment_t key = { .partition = partition };
    if (!t || !t->n_partitions)
        return NULL;
    return bsearch(&key, t->partitions, t->n_partitions, sizeof key, cmp_assignment);
}

static int valid_topic_id(const char *s)
{
    if (strlen(s) != KR_ZK_TOPIC_ID_LEN)
        return 0;
    for (const char *c = s; *c; c++)
        if (!(('0' <= *c && *c <= '9') || ('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') ||
              *c == '-' || *c == '_'))
            return 0;
    return 1;
}

/* An optional {"<partition>":[ids]} map member (adding/removing replicas). */
static int get_partition_ids(const char *what, const json_t *root, const char *key,
                             const char *partition, kr_zk_ids_t *ids, char *err, size_t errlen)
{
    json_t *m = json_object_get(root, key);
    if (!m || json_is_null(m))
        return KR_OK;
    json_t *v = json_object_get(m, partition);
    if (!v)
        return KR_OK;
    return get_ids(what, key, v, ids, err, errlen);
}

int kr_zk_topic_decode(const char *data, size_t len, kr_zk_topic_t *out, char *err, size_t errlen)
{
    const char *what = "topic znode";
    int rc = KR_EINVAL;
    json_t *root;
    memset(out, 0, sizeof *out);
    if (!(root = load_object(what, data, len, err, errlen)))
        goto err;
    if ((rc = get_int(what, root, "version", 0, 1, &out->version, err, errlen)) < 0)
        goto err;
    json_t *tid = json_object_get(root, "topic_id");
    if (tid && !json_is_null(tid)) {
        if (!json_is_string(tid) || !valid_topic_id(json_string_value(tid))) {
            rc = kr_seterr(err, errlen, KR_EINVAL,
                           "%s: \"topic_id\" must be a 22-character base64url Uuid", what);
            goto err;
        }
        memcpy(out->topic_id, json_string_value(tid), KR_ZK_TOPIC_ID_LEN + 1);
    }
    const char *mkeys[] = { "adding_replicas", "removing_replicas" };
    for (size_t k = 0; k < 2; k++) {
        json_t *m = json_object_get(root, mkeys[k]);
        if (m && !json_is_null(m) && !json_is_object(m)) {
            rc = kr_seterr(err, errlen, KR_EINVAL, "%s: \"%s\" must be an object, got %s", what,
                           mkeys[k], json_kind(m));
            goto err;
        }
    }
    json_t *parts = json_object_get(root, "partitions");
    if (parts && !json_is_null(parts)) {
        if (!json_is_object(parts)) {
            rc = kr_seterr(err, errlen, KR_EINVAL, "%s: \"partitions\" must be an object, got %s",
                           what, json_kind(parts));
            goto err;
        }
        size_t n = json_object_size(parts);
        if (n && !(out->partitions = calloc(n, sizeof *out->partitions))) {
            rc = kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
            goto err;
        }
        const char *key;
        json_t *v;
        json_object_foreach(parts, key, v) {
            kr_zk_assignment_t *a = &out->partitions[out->n_partitions++];
            if (kr_zk_parse_int(key, &a->partition) < 0 || a->partition < 0) {
                rc = kr_seterr(err, errlen, KR_EINVAL,
                               "%s: partition key \"%s\" is not a partition number", what, key);
                goto err;
            }
            char pwhat[64];
            snprintf(pwhat, sizeof pwhat, "%s partition %d", what, a->partition);
            if ((rc = get_ids(pwhat, "replicas", v, &a->replicas, err, errlen)) < 0 ||
                (rc = get_partition_ids(pwhat, root, "adding_replicas", key, &a->adding, err,
                                        errlen)) < 0 ||
                (rc = get_partition_ids(pwhat, root, "removing_replicas", key, &a->removing, err,
                                        errlen)) < 0)
                goto err;
        }
        qsort(out->partitions, out->n_partitions, sizeof *out->partitions, cmp_assignment);
    }
    json_decref(root);
    return KR_OK;
err:
    json_decref(root);
    kr_zk_topic_deinit(out);
    return rc;
}

/* ------------------------------------------------ /brokers/topics/<t>/partitions/<p>/state */

void kr_zk_partition_state_deinit(kr_zk_partition_state_t *s)
{
    if (!s)
        return;
    kr_zk_ids_deinit(&s->isr);
    memset(s, 0, sizeof *s);
}

int kr_zk_partition_state_decode(const char *data, size_t len, kr_zk_partition_state_t *out,
                                 char *err, size_t errlen)
{
    const char *what = "partition state";
    int rc = KR_EINVAL;
    json_t *root;
    memset(out, 0, sizeof *out);
    if (!(root = load_object(what, data, len, err, errlen)))
        goto err;
    if ((rc = get_int(what, root, "version", 0, 1, &out->version, err, errlen)) < 0 ||
        (rc = get_int(what, root, "leader", 1, -1, &out->leader, err, errlen)) < 0 ||
        (rc = get_int(what, root, "leader_epoch", 1, 0, &out->leader_epoch, err, errlen)) < 0 ||
        (rc = get_int(what, root, "controller_epoch", 1, 0, &out->controller_epoch, err,
                      errlen)) < 0 ||
        (rc = get_int(what, root, "leader_recovery_state", 0, 0, &out->leader_recovery_state,
                      err, errlen)) < 0 ||
        (rc = get_ids(what, "isr", json_object_get(root, "isr"), &out->isr, err, errlen)) < 0)
        goto err;
    json_decref(root);
    return KR_OK;
err:
    json_decref(root);
    kr_zk_partition_state_deinit(out);
    return rc;
}

/* ------------------------------------------------------- /controller, /controller_epoch */

int kr_zk_controller_decode(const char *data, size_t len, kr_zk_controller_t *out, char *err,
                            size_t errlen)
{
    const char *what = "controller znode";
    int rc = KR_EINVAL;
    json_t *root;
    memset(out, 0, sizeof *out);
    if (!(root = load_object(what, data, len, err, errlen)))
        goto err;
    if ((rc = get_int(what, root, "version", 0, 1, &out->version, err, errlen)) < 0 ||
        (rc = get_int(what, root, "brokerid", 1, -1, &out->broker_id, err, errlen)) < 0)
        goto err;
    out->timestamp_ms = get_timestamp(root, "timestamp");
    json_t *k = json_object_get(root, "kraftControllerEpoch");
    out->kraft_controller_epoch = json_is_integer(k) ? json_integer_value(k) : -1;
    json_decref(root);
    return KR_OK;
err:
    json_decref(root);
    memset(out, 0, sizeof *out);
    return rc;
}

int kr_zk_controller_epoch_decode(const char *data, size_t len, int *epoch, char *err,
                                  size_t errlen)
{
    char buf[16];
    if (!data || len == 0 || len >= sizeof buf)
        return kr_seterr(err, errlen, KR_EINVAL,
                         "controller epoch: expected a decimal number, got %zu bytes", len);
    memcpy(buf, data, len);
    buf[len] = '\0';
    if (kr_zk_parse_int(buf, epoch) < 0 || *epoch < 0)
        return kr_seterr(err, errlen, KR_EINVAL,
                         "controller epoch: expected a decimal number, got \"%s\"", buf);
    return KR_OK;
}

/* ----------------------------------------------- /admin/reassign_partitions, elections */

void kr_zk_reassignment_deinit(kr_zk_reassignment_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_moves; i++) {
        free(r->moves[i].topic);
        kr_zk_ids_deinit(&r->moves[i].replicas);
    }
    free(r->moves);
    memset(r, 0, sizeof *r);
}

void kr_zk_topic_partitions_free(kr_zk_topic_partition_t *tps, size_t n)
{
    for (size_t i = 0; tps && i < n; i++)
        free(tps[i].topic);
    free(tps);
}

/* The "partitions" array of the admin znodes; each item an object with topic/partition. */
static json_t *get_partition_list(const char *what, const json_t *root, char *err, size_t errlen)
{
    json_t *a = json_object_get(root, "partitions");
    if (!json_is_array(a)) {
        kr_seterr(err, errlen, KR_EINVAL, "%s: \"partitions\" must be an array, got %s", what,
                  a ? json_kind(a) : "nothing");
        return NULL;
    }
    return a;
}

static int get_topic_partition(const char *what, size_t i, const json_t *item, char **topic,
                               int *partition, char *err, size_t errlen)
{
    char iwhat[96];
    snprintf(iwhat, sizeof iwhat, "%s: partitions item %zu", what, i);
    if (!json_is_object(item))
        return kr_seterr(err, errlen, KR_EINVAL, "%s must be an object, got %s", iwhat,
                         json_kind(item));
    json_t *t = json_object_get(item, "topic");
    if (!json_is_string(t) || !*json_string_value(t))
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"topic\" must be a non-empty string", iwhat);
    int rc = get_int(iwhat, item, "partition", 1, 0, partition, err, errlen);
    if (rc < 0)
        return rc;
    if (*partition < 0)
        return kr_seterr(err, errlen, KR_EINVAL, "%s: \"partition\" must not be negative", iwhat);
    if (!(*topic = strdup(json_string_value(t))))
        return kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
    return KR_OK;
}

int kr_zk_reassignment_decode(const char *data, size_t len, kr_zk_reassignment_t *out,
                              char *err, size_t errlen)
{
    const char *what = "reassignment znode";
    int rc = KR_EINVAL;
    json_t *root, *list;
    memset(out, 0, sizeof *out);
    if (!(root = load_object(what, data, len, err, errlen)))
        goto err;
    if ((rc = get_int(what, root, "version", 0, 1, &out->version, err, errlen)) < 0)
        goto err;
    rc = KR_EINVAL;
    if (!(list = get_partition_list(what, root, err, errlen)))
        goto err;
    size_t n = json_array_size(list);
    if (n && !(out->moves = calloc(n, sizeof *out->moves))) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
        goto err;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(list, i);
        kr_zk_move_t *m = &out->moves[out->n_moves];
        if ((rc = get_topic_partition(what, i, item, &m->topic, &m->partition, err, errlen)) < 0)
            goto err;
        out->n_moves++;
        char iwhat[96];
        snprintf(iwhat, sizeof iwhat, "%s: partitions item %zu", what, i);
        if ((rc = get_ids(iwhat, "replicas", json_object_get(item, "replicas"), &m->replicas,
                          err, errlen)) < 0)
            goto err;
    }
    json_decref(root);
    return KR_OK;
err:
    json_decref(root);
    kr_zk_reassignment_deinit(out);
    return rc;
}

char *kr_zk_reassignment_encode(const kr_zk_move_t *moves, size_t n, char *err, size_t errlen)
{
    const char *what = "reassignment";
    json_t *root = NULL, *list;
    if (!moves || n == 0) {
        kr_seterr(err, errlen, KR_EINVAL, "%s: no partitions to move", what);
        return NULL;
    }
    root = json_pack("{s:i,s:[]}", "version", 1, "partitions");
    if (!(list = json_object_get(root, "partitions")))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        const kr_zk_move_t *m = &moves[i];
        if (!m->topic || !*m->topic || m->partition < 0) {
            kr_seterr(err, errlen, KR_EINVAL, "%s: move %zu has no topic or a negative partition",
                      what, i);
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (moves[j].partition == m->partition && strcmp(moves[j].topic, m->topic) == 0) {
                kr_seterr(err, errlen, KR_EINVAL, "%s: %s-%d is listed twice", what, m->topic,
                          m->partition);
                goto fail;
            }
        if (m->replicas.n == 0) {
            kr_seterr(err, errlen, KR_EINVAL, "%s: %s-%d has an empty replica list", what,
                      m->topic, m->partition);
            goto fail;
        }
        json_t *reps = json_array(), *item;
        for (size_t r = 0; reps && r < m->replicas.n; r++) {
            for (size_t q = 0; q < r; q++)
                if (m->replicas.ids[q] == m->replicas.ids[r]) {
                    json_decref(reps);
                    kr_seterr(err, errlen, KR_EINVAL, "%s: %s-%d lists broker %d twice", what,
                              m->topic, m->partition, m->replicas.ids[r]);
                    goto fail;
                }
            json_array_append_new(reps, json_integer(m->replicas.ids[r]));
        }
        item = json_pack("{s:s,s:i,s:o}", "topic", m->topic, "partition", m->partition,
                         "replicas", reps);
        if (!item || json_array_append_new(list, item) < 0)
            goto nomem;
    }
    return dump_and_free(what, root, err, errlen);
nomem:
    kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
fail:
    json_decref(root);
    return NULL;
}

int kr_zk_preferred_election_decode(const char *data, size_t len, kr_zk_topic_partition_t **tps,
                                    size_t *n, char *err, size_t errlen)
{
    const char *what = "preferred replica election znode";
    int rc = KR_EINVAL;
    json_t *root, *list;
    kr_zk_topic_partition_t *v = NULL;
    size_t count = 0;
    *tps = NULL;
    *n = 0;
    if (!(root = load_object(what, data, len, err, errlen)))
        goto err;
    if (!(list = get_partition_list(what, root, err, errlen)))
        goto err;
    size_t total = json_array_size(list);
    if (total && !(v = calloc(total, sizeof *v))) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
        goto err;
    }
    for (size_t i = 0; i < total; i++) {
        if ((rc = get_topic_partition(what, i, json_array_get(list, i), &v[count].topic,
                                      &v[count].partition, err, errlen)) < 0)
            goto err;
        count++;
    }
    json_decref(root);
    *tps = v;
    *n = count;
    return KR_OK;
err:
    json_decref(root);
    kr_zk_topic_partitions_free(v, count);
    return rc;
}

char *kr_zk_preferred_election_encode(const kr_zk_topic_partition_t *tps, size_t n, char *err,
                                      size_t errlen)
{
    const char *what = "preferred replica election";
    json_t *root = NULL, *list;
    if (!tps || n == 0) {
        kr_seterr(err, errlen, KR_EINVAL, "%s: no partitions", what);
        return NULL;
    }
    root = json_pack("{s:i,s:[]}", "version", 1, "partitions");
    if (!(list = json_object_get(root, "partitions")))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        if (!tps[i].topic || !*tps[i].topic || tps[i].partition < 0) {
            kr_seterr(err, errlen, KR_EINVAL,
                      "%s: item %zu has no topic or a negative partition", what, i);
            goto fail;
        }
        json_t *item = json_pack("{s:s,s:i}", "topic", tps[i].topic, "partition", tps[i].partition);
        if (!item || json_array_append_new(list, item) < 0)
            goto nomem;
    }
    return dump_and_free(what, root, err, errlen);
nomem:
    kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
fail:
    json_decref(root);
    return NULL;
}

/* ------------------------------------------------------------------- /config/... */

int kr_zk_config_decode(const char *data, size_t len, json_t **config, char *err, size_t errlen)
{
    const char *what = "config znode";
    json_t *root = NULL, *out = json_object();
    int rc = KR_EINVAL;
    *config = NULL;
    if (!out) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
        goto err;
    }
    if (data && len) {
        if (!(root = load_object(what, data, len, err, errlen)))
            goto err;
        json_t *cfg = json_object_get(root, "config");
        if (cfg && !json_is_null(cfg) && !json_is_object(cfg)) {
            rc = kr_seterr(err, errlen, KR_EINVAL, "%s: \"config\" must be an object, got %s",
                           what, json_kind(cfg));
            goto err;
        }
        const char *k;
        json_t *v;
        json_object_foreach(cfg, k, v) {
            json_t *s = NULL;
            char num[64];
            switch (json_typeof(v)) {
            case JSON_STRING: s = json_incref(v); break;
            case JSON_INTEGER:
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
                s = json_string(num);
                break;
            case JSON_REAL:
                snprintf(num, sizeof num, "%.17g", json_real_value(v));
                s = json_string(num);
                break;
            case JSON_TRUE: s = json_string("true"); break;
            case JSON_FALSE: s = json_string("false"); break;
            case JSON_NULL: continue;
            default:
                rc = kr_seterr(err, errlen, KR_EINVAL, "%s: \"%s\" must be a string, got %s",
                               what, k, json_kind(v));
                goto err;
            }
            if (!s || json_object_set_new(out, k, s) < 0) {
                rc = kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
                goto err;
            }
        }
    }
    json_decref(root);
    *config = out;
    return KR_OK;
err:
    json_decref(root);
    json_decref(out);
    return rc;
}

char *kr_zk_config_encode(const json_t *config, char *err, size_t errlen)
{
    const char *what = "config";
    if (!json_is_object(config)) {
        kr_seterr(err, errlen, KR_EINVAL, "%s: expected an object of strings", what);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)config, k, v) {
        if (!json_is_string(v)) {
            kr_seterr(err, errlen, KR_EINVAL, "%s: \"%s\" must be a string (Kafka configs are "
                      "strings), got %s", what, k, json_kind(v));
            return NULL;
        }
    }
    json_t *root = json_pack("{s:i,s:O}", "version", 1, "config", (json_t *)config);
    return dump_and_free(what, root, err, errlen);
}

static int valid_entity_part(const char *s)
{
    return s && *s && !strchr(s, '/');
}

char *kr_zk_config_change_encode(const char *entity_type, const char *entity_name, char *err,
                                 size_t errlen)
{
    const char *what = "config change notification";
    if (!valid_entity_part(entity_type) || !entity_name || !*entity_name) {
        kr_seterr(err, errlen, KR_EINVAL, "%s: needs an entity type (topics, brokers, ...) and name",
                  what);
        return NULL;
    }
    char *path = NULL;
    if (asprintf(&path, "%s/%s", entity_type, entity_name) < 0) {
        kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
        return NULL;
    }
    json_t *root = json_pack("{s:i,s:s}", "version", 2, "entity_path", path);
    free(path);
    return dump_and_free(what, root, err, errlen);
}

int kr_zk_config_change_decode(const char *data, size_t len, char **entity_type,
                               char **entity_name, char *err, size_t errlen)
{
    const char *what = "config change notification";
    int rc = KR_EINVAL, version;
    json_t *root;
    *entity_type = *entity_name = NULL;
    if (!(root = load_object(what, data, len, err, errlen)))
        goto err;
    if ((rc = get_int(what, root, "version", 1, 0, &version, err, errlen)) < 0)
        goto err;
    rc = KR_EINVAL;
    if (version == 1) {
        json_t *t = json_object_get(root, "entity_type"), *n = json_object_get(root, "entity_name");
        if (!json_is_string(t) || !json_is_string(n) || !*json_string_value(t) ||
            !*json_string_value(n)) {
            rc = kr_seterr(err, errlen, KR_EINVAL,
                           "%s: version 1 needs \"entity_type\" and \"entity_name\" strings", what);
            goto err;
        }
        *entity_type = strdup(json_string_value(t));
        *entity_name = strdup(json_string_value(n));
    } else if (version == 2) {
        json_t *p = json_object_get(root, "entity_path");
        const char *s = json_is_string(p) ? json_string_value(p) : NULL, *slash;
        if (!s || !(slash = strchr(s, '/')) || slash == s || !slash[1]) {
            rc = kr_seterr(err, errlen, KR_EINVAL,
                           "%s: \"entity_path\" must be \"<type>/<name>\"", what);
            goto err;
        }
        *entity_type = strndup(s, (size_t)(slash - s));
        *entity_name = strdup(slash + 1);
    } else {
        rc = kr_seterr(err, errlen, KR_EINVAL, "%s: unsupported version %d", what, version);
        goto err;
    }
    if (!*entity_type || !*entity_name) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "%s: out of memory", what);
        goto err;
    }
    json_decref(root);
    return KR_OK;
err:
    json_decref(root);
    free(*entity_type);
    free(*entity_name);
    *entity_type = *entity_name = NULL;
    return rc;
}
