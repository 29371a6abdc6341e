/* kr/zkjson.h: decoders for the JSON znodes a ZooKeeper-mode Kafka cluster (2.x-3.x)
 * writes, and encoders for the znodes kresponder writes. Pure functions (no I/O, no
 * globals), callable from any thread. Decoders ignore key order and unknown keys and
 * accept missing optional fields, like Kafka's own decoders (kafka.zk.ZkData); on error
 * they return KR_EINVAL with a reason in err and leave *out zeroed (nothing to free).
 * Every decoded struct is released with its _deinit function (safe on a zeroed struct).
 * Encoders return a new NUL-terminated compact JSON string (caller frees with free()),
 * or NULL with a reason in err. */
#ifndef KR_ZKJSON_H
#define KR_ZKJSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A list of broker ids (replicas, ISR, adding/removing replicas). ids is malloc'd
 * (NULL when n == 0). */
typedef struct {
    int *ids;
    size_t n;
} kr_zk_ids_t;

void kr_zk_ids_deinit(kr_zk_ids_t *ids);
/* 1 when id is in the list. */
int kr_zk_ids_contains(const kr_zk_ids_t *ids, int id);

/* Strict decimal int (no sign unless negative, no spaces, fits in int): for znode names
 * such as /brokers/ids/<id> and partition keys. Returns 0 or KR_EINVAL. */
int kr_zk_parse_int(const char *s, int *out);

/* ---- /brokers/ids/<id> (v1-v5) ---- */

typedef struct {
    char *listener;          /* "PLAINTEXT", "CLIENT", ... (as written) */
    char *security_protocol; /* from listener_security_protocol_map; the listener name
                              * when the map is absent (Kafka's default map); NULL when
                              * the map does not name this listener */
    char *host;              /* NULL for "LISTENER://:9092" (default interface) */
    int port;
} kr_zk_endpoint_t;

typedef struct {
    int id;                  /* from the znode name, given by the caller */
    int version;             /* registration format version (1..5, or newer) */
    char *host;              /* the address to reach the broker at: the top-level host,
                              * or, when that is null (no PLAINTEXT listener), the host of
                              * the first PLAINTEXT endpoint, else of the first endpoint
                              * with a host; NULL when there is none */
    int port;                /* goes with host; -1 when host is NULL */
    int jmx_port;            /* -1 when JMX is off or the field is absent */
    char *rack;              /* NULL when absent or null */
    int64_t timestamp_ms;    /* registration time; -1 when absent or not a number */
    kr_zk_endpoint_t *endpoints; /* v1: one PLAINTEXT endpoint from host/port */
    size_t n_endpoints;
} kr_zk_broker_t;

int kr_zk_broker_decode(int id, const char *data, size_t len, kr_zk_broker_t *out,
                        char *err, size_t errlen);
void kr_zk_broker_deinit(kr_zk_broker_t *b);

/* Parses one endpoint string "LISTENER://host:port" or "LISTENER://[v6addr]:port" (host
 * may be empty). Fills listener, host, port; security_protocol stays NULL. */
int kr_zk_endpoint_parse(const char *s, kr_zk_endpoint_t *out, char *err, size_t errlen);
void kr_zk_endpoint_deinit(kr_zk_endpoint_t *e);

/* ---- /brokers/topics/<topic> (v1-v3) ---- */

typedef struct {
    int partition;
    kr_zk_ids_t replicas;    /* during a reassignment: target + original replicas */
    kr_zk_ids_t adding;      /* empty unless being reassigned */
    kr_zk_ids_t removing;
} kr_zk_assignment_t;

#define KR_ZK_TOPIC_ID_LEN 22 /* base64url of a 16-byte Uuid, no padding */

typedef struct {
    int version;
    char topic_id[KR_ZK_TOPIC_ID_LEN + 1]; /* "" when absent (topics before 2.8) */
    kr_zk_assignment_t *partitions;        /* sorted by partition number */
    size_t n_partitions;
} kr_zk_topic_t;

int kr_zk_topic_decode(const char *data, size_t len, kr_zk_topic_t *out, char *err,
                       size_t errlen);
void kr_zk_topic_deinit(kr_zk_topic_t *t);
/* The assignment of one partition, or NULL (borrowed). */
const kr_zk_assignment_t *kr_zk_topic_partition(const kr_zk_topic_t *t, int partition);

/* ---- /brokers/topics/<t>/partitions/<p>/state ---- */

typedef struct {
    int version;
    int controller_epoch;
    int leader;                /* -1: no leader (offline partition) */
    int leader_epoch;
    kr_zk_ids_t isr;
    int leader_recovery_state; /* 0 RECOVERED (also when absent, before 3.2), 1 RECOVERING */
} kr_zk_partition_state_t;

int kr_zk_partition_state_decode(const char *data, size_t len, kr_zk_partition_state_t *out,
                                 char *err, size_t errlen);
void kr_zk_partition_state_deinit(kr_zk_partition_state_t *s);

/* ---- /controller (v1, v2) and /controller_epoch ---- */

typedef struct {
    int version;
    int broker_id;
    int64_t timestamp_ms;           /* -1 when absent */
    int64_t kraft_controller_epoch; /* -1 when absent (v1) or a ZK controller (v2) */
} kr_zk_controller_t;

int kr_zk_controller_decode(const char *data, size_t len, kr_zk_controller_t *out, char *err,
                            size_t errlen);
/* /controller_epoch is a bare decimal ("1"). */
int kr_zk_controller_epoch_decode(const char *data, size_t len, int *epoch, char *err,
                                  size_t errlen);

/* ---- /admin/reassign_partitions and /admin/preferred_replica_election ---- */

typedef struct {
    char *topic;
    int partition;
} kr_zk_topic_partition_t;

typedef struct {
    char *topic;
    int partition;
    kr_zk_ids_t replicas;    /* the target replica list, preferred leader first */
} kr_zk_move_t;

typedef struct {
    int version;
    kr_zk_move_t *moves;
    size_t n_moves;
} kr_zk_reassignment_t;

int kr_zk_reassignment_decode(const char *data, size_t len, kr_zk_reassignment_t *out,
                              char *err, size_t errlen);
void kr_zk_reassignment_deinit(kr_zk_reassignment_t *r);
/* {"version":1,"partitions":[{"topic":..,"partition":..,"replicas":[..]},..]}: what
 * `kafka-reassign-partitions.sh --zookeeper --execute` writes. Refuses (KR_EINVAL in err)
 * an empty list, a partition listed twice, an empty or duplicated replica list. */
char *kr_zk_reassignment_encode(const kr_zk_move_t *moves, size_t n, char *err, size_t errlen);

/* {"version":1,"partitions":[{"topic":..,"partition":..},..]} */
int kr_zk_preferred_election_decode(const char *data, size_t len, kr_zk_topic_partition_t **tps,
                                    size_t *n, char *err, size_t errlen);
char *kr_zk_preferred_election_encode(const kr_zk_topic_partition_t *tps, size_t n, char *err,
                                      size_t errlen);
void kr_zk_topic_partitions_free(kr_zk_topic_partition_t *tps, size_t n);

/* ---- /config/<type>/<name> and /config/changes/config_change_NNNNNNNNNN ---- */

/* {"version":1,"config":{"k":"v",...}}: *config is a new object whose values are all
 * strings (numbers and booleans written by other tools are turned into their text; a null
 * value means the key is not set and is dropped). A znode with null or empty data, or no
 * "config", decodes as an empty object (Kafka treats it the same). */
int kr_zk_config_decode(const char *data, size_t len, json_t **config, char *err,
                        size_t errlen);
/* config: borrowed object of string values. */
char *kr_zk_config_encode(const json_t *config, char *err, size_t errlen);

/* Config change notification. Encodes v2 {"version":2,"entity_path":"brokers/1"};
 * decodes v2 and v1 {"version":1,"entity_type":"topics","entity_name":"foo"} into a new
 * malloc'd entity type ("brokers") and name ("1"; for nested paths such as
 * "users/alice/clients/app" the rest after the first '/'). */
char *kr_zk_config_change_encode(const char *entity_type, const char *entity_name, char *err,
                                 size_t errlen);
int kr_zk_config_change_decode(const char *data, size_t len, char **entity_type,
                               char **entity_name, char *err, size_t errlen);

#endif
