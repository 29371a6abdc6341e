/* tests/fuzz/fuzz_zkjson.c: every ZooKeeper JSON decoder on arbitrary bytes; what decodes
 * must survive an encode/decode round trip unchanged. Seeds: tests/golden/zk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kr/zkjson.h"

static void check_reassignment_round_trip(const kr_zk_reassignment_t *r)
{
    char err[256];
    char *enc = kr_zk_reassignment_encode(r->moves, r->n_moves, err, sizeof err);
    if (!enc)
        return; /* duplicates or empty lists are refused by the encoder: fine */
    kr_zk_reassignment_t back;
    if (kr_zk_reassignment_decode(enc, strlen(enc), &back, err, sizeof err) != 0)
        abort();
    if (back.n_moves != r->n_moves)
        abort();
    for (size_t i = 0; i < r->n_moves; i++) {
        if (strcmp(back.moves[i].topic, r->moves[i].topic) != 0 ||
            back.moves[i].partition != r->moves[i].partition ||
            back.moves[i].replicas.n != r->moves[i].replicas.n ||
            memcmp(back.moves[i].replicas.ids, r->moves[i].replicas.ids,
                   r->moves[i].replicas.n * sizeof(int)) != 0)
            abort();
    }
    kr_zk_reassignment_deinit(&back);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char err[256];

    kr_zk_broker_t b;
    if (kr_zk_broker_decode(1, s, size, &b, err, sizeof err) == 0) {
        for (size_t i = 0; i < b.n_endpoints; i++)
            if (!b.endpoints[i].listener)
                abort();
    }
    kr_zk_broker_deinit(&b);

    kr_zk_topic_t t;
    if (kr_zk_topic_decode(s, size, &t, err, sizeof err) == 0) {
        for (size_t i = 1; i < t.n_partitions; i++)
            if (t.partitions[i - 1].partition > t.partitions[i].partition)
                abort(); /* sorted, so lookups work */
        for (size_t i = 0; i < t.n_partitions; i++)
            if (kr_zk_topic_partition(&t, t.partitions[i].partition) == NULL)
                abort();
    }
    kr_zk_topic_deinit(&t);

    kr_zk_partition_state_t st;
    kr_zk_partition_state_decode(s, size, &st, err, sizeof err);
    kr_zk_partition_state_deinit(&st);

    kr_zk_controller_t c;
    kr_zk_controller_decode(s, size, &c, err, sizeof err);
    int epoch;
    kr_zk_controller_epoch_decode(s, size, &epoch, err, sizeof err);

    kr_zk_reassignment_t r;
    if (kr_zk_reassignment_decode(s, size, &r, err, sizeof err) == 0)
        check_reassignment_round_trip(&r);
    kr_zk_reassignment_deinit(&r);

    kr_zk_topic_partition_t *tps;
    size_t n;
    if (kr_zk_preferred_election_decode(s, size, &tps, &n, err, sizeof err) == 0) {
        char *enc = kr_zk_preferred_election_encode(tps, n, err, sizeof err);
        kr_zk_topic_partition_t *tps2;
        size_t n2;
        if (enc && (kr_zk_preferred_election_decode(enc, strlen(enc), &tps2, &n2, err, sizeof err) != 0 || n2 != n))
            abort();
        if (enc)
            kr_zk_topic_partitions_free(tps2, n2);
        free(enc);
        kr_zk_topic_partitions_free(tps, n);
    }

    json_t *cfg;
    if (kr_zk_config_decode(s, size, &cfg, err, sizeof err) == 0) {
        char *enc = kr_zk_config_encode(cfg, err, sizeof err);
        json_t *cfg2;
        if (!enc || kr_zk_config_decode(enc, strlen(enc), &cfg2, err, sizeof err) != 0)
            abort(); /* decoded configs are all strings, so they always encode */
        if (!json_equal(cfg, cfg2))
            abort();
        json_decref(cfg2);
        free(enc);
        json_decref(cfg);
    }

    char *type, *name;
    if (kr_zk_config_change_decode(s, size, &type, &name, err, sizeof err) == 0) {
        free(type);
        free(name);
    }
    return 0;
}
