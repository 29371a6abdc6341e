/* cluster/cluster_api.c: GET /v1/clusters (every cluster's session state and model
 * counts) and GET /v1/clusters/{name} (plus its config and brokers). Loop thread. */
#include <string.h>

#include <event2/http.h>

#include "kr/cluster.h"
#include "kr/daemon.h"
#include "kr/err.h"
#include "kr/http.h"

static void clusters_list(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    json_t *out = json_array();
    (void)rest;
    for (size_t i = 0; out && i < kr_clusters_count(d->clusters); i++)
        json_array_append_new(out, kr_cluster_json(kr_clusters_at(d->clusters, i), 0));
    if (!out) {
        kr_http_reply_error(d, req, "/v1/clusters", 500, "out of memory");
        return;
    }
    kr_http_reply_json(d, req, "/v1/clusters", 200, out);
}

static void cluster_one(kr_daemon_t *d, struct evhttp_request *req, const char *rest)
{
    kr_cluster_t *c = kr_clusters_find(d->clusters, rest);
    json_t *out;
    if (!c) {
        kr_http_reply_error(d, req, "/v1/clusters/{name}", 404, "no cluster named \"%.64s\"",
                            rest);
        return;
    }
    if (!(out = kr_cluster_json(c, 1))) {
        kr_http_reply_error(d, req, "/v1/clusters/{name}", 500, "out of memory");
        return;
    }
    kr_http_reply_json(d, req, "/v1/clusters/{name}", 200, out);
}

int kr_clusters_routes(struct kr_daemon *d, char *err, size_t errlen)
{
    int rc = 0;
    rc |= kr_http_route(d, EVHTTP_REQ_GET, "/v1/clusters", "/v1/clusters", clusters_list);
    rc |= kr_http_route(d, EVHTTP_REQ_GET, "/v1/clusters/", "/v1/clusters/{name}", cluster_one);
    return rc ? kr_seterr(err, errlen, KR_EINVAL, "cannot register the cluster routes") : KR_OK;
}
