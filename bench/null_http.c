/* bench/null_http.c: the intake benchmark's ceiling probe. A libevent evhttp server, one
 * loop thread like kresponder's, that answers every request at once with 202 and a body
 * the size of kresponder's reply, doing nothing else: no parse, no verification, no
 * journal. Under the same wrk load on the same machine its rate is the most any evhttp
 * intake can reach there; bench/intake/run.sh prints it next to the real targets.
 *
 *   build/bench/null_http [PORT]      prints "listening on 127.0.0.1:PORT", runs until killed */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

static const char REPLY[] = "{\"ids\":[\"am:0123456789abcdef:2026-11-24T21:00:00Z\"],\"duplicates\":0,"
                            "\"id\":\"am:0123456789abcdef:2026-11-24T21:00:00Z\"}";

static void reply_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    evbuffer_add(evhttp_request_get_output_buffer(req), REPLY, sizeof REPLY - 1);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 202, "Accepted", NULL);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    struct evhttp_bound_socket *sock;
    if (!http || !(sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port))) {
        fprintf(stderr, "null_http: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    evhttp_set_gencb(http, reply_cb, NULL);
    struct sockaddr_storage ss;
    ev_socklen_t len = sizeof ss;
    getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len);
    printf("listening on 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    fflush(stdout);
    event_base_dispatch(base);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
