// relay.c - the ceiling for this socket shape: a ROUTER->PUB relay that parses nothing
//
// Every request frame goes to the PUB under BENCH_TOPIC as it came, and its sender gets one
// BENCH_ACK, so a bench sender windows on replies exactly as it does with the broker. The one
// exception is the exact frame BENCH_PING, answered with BENCH_PONG (a byte compare, no
// parsing). Socket options mirror the broker's: ROUTER_HANDOVER, ROUTER_MANDATORY, MAXMSGSIZE,
// the same high-water marks, sends with ZMQ_DONTWAIT. Like the broker, one thread, and up to
// RELAY_BATCH requests per loop turn.
#include "bench.h"

#define RELAY_BATCH      256    // requests per loop turn (the broker's BROKER_BATCH)
#define RELAY_ROUTER_HWM 1000   // the broker's BROKER_ROUTER_HWM
#define RELAY_PUB_HWM    10000  // the broker's BROKER_PUB_HWM

// Bind sock to a free loopback port. Returns the endpoint (free it), or NULL.
static char *
s_bind(zsock_t *sock)
{
    int port = zsock_bind(sock, "tcp://127.0.0.1:*");
    if (port == -1)
        return NULL;
    return zsys_sprintf("tcp://127.0.0.1:%d", port);
}

// Answer one message of the ROUTER: [identity][frame]. Takes both zmq_msg_t.
static void
s_relay(void *router, void *pub, zmq_msg_t *identity, zmq_msg_t *body, uint64_t *dropped)
{
    size_t size = zmq_msg_size(body);
    const char *reply = BENCH_ACK;
    if (size == strlen(BENCH_PING) && memcmp(zmq_msg_data(body), BENCH_PING, size) == 0) {
        reply = BENCH_PONG;
        zmq_msg_close(body);
    } else {
        // PUB never blocks: past its high-water mark it drops, as the broker's does
        zmq_send(pub, BENCH_TOPIC, strlen(BENCH_TOPIC), ZMQ_SNDMORE | ZMQ_DONTWAIT);
        if (zmq_msg_send(body, pub, ZMQ_DONTWAIT) == -1)
            zmq_msg_close(body);
    }
    int rc = zmq_msg_send(identity, router, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc == -1)
        zmq_msg_close(identity);
    else
        rc = zmq_send(router, reply, strlen(reply), ZMQ_DONTWAIT);
    if (rc == -1)
        (*dropped)++;
}

int
relay_main(void)
{
    zsys_init();
    zsys_set_logident("zchat-bench-relay");
    zsys_set_logstream(stderr);
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_t *pub = zsock_new(ZMQ_PUB);
    assert(router && pub);
    zsock_set_router_handover(router, 1);
    zsock_set_router_mandatory(router, 1);
    zsock_set_maxmsgsize(router, ZCHAT_FRAME_MAX);
    zsock_set_maxmsgsize(pub, ZCHAT_FRAME_MAX);
    zsock_set_sndhwm(router, RELAY_ROUTER_HWM);
    zsock_set_sndhwm(pub, RELAY_PUB_HWM);
    zsock_set_linger(router, 0);
    zsock_set_linger(pub, 0);
    char *commands = s_bind(router);
    char *feed = commands ? s_bind(pub) : NULL;
    if (!commands || !feed) {
        zsys_error("cannot bind: %s", zmq_strerror(zmq_errno()));
        zstr_free(&commands);
        zsock_destroy(&router);
        zsock_destroy(&pub);
        return 2;
    }
    printf("zchat-bench relay: commands on %s, feed on %s\n", commands, feed);
    fflush(stdout);

    void *router_h = zsock_resolve(router);
    void *pub_h = zsock_resolve(pub);
    uint64_t relayed = 0, dropped = 0;
    zmq_pollitem_t item = {router_h, 0, ZMQ_POLLIN, 0};
    while (!zsys_interrupted) {
        // SIGTERM may land on an I/O thread and interrupt nothing here: look every 100 ms
        if (zmq_poll(&item, 1, 100) == -1)
            break;  // EINTR: SIGTERM sets zsys_interrupted
        for (int n = 0; n < RELAY_BATCH; n++) {
            zmq_msg_t identity, body;
            zmq_msg_init(&identity);
            if (zmq_msg_recv(&identity, router_h, ZMQ_DONTWAIT) == -1) {
                zmq_msg_close(&identity);
                break;
            }
            zmq_msg_init(&body);
            if (!zmq_msg_more(&identity) || zmq_msg_recv(&body, router_h, 0) == -1) {
                zmq_msg_close(&identity);
                zmq_msg_close(&body);
                continue;
            }
            // A multi-frame request: relay its first frame, drop the rest (the broker says
            // bad_frame; neither happens in the bench)
            while (zmq_msg_more(&body)) {
                zmq_msg_t rest;
                zmq_msg_init(&rest);
                zmq_msg_recv(&rest, router_h, 0);
                bool more = zmq_msg_more(&rest);
                zmq_msg_close(&rest);
                if (!more)
                    break;
            }
            s_relay(router_h, pub_h, &identity, &body, &dropped);
            relayed++;
        }
    }
    zsys_info("stopped: %" PRIu64 " requests relayed, %" PRIu64 " replies dropped", relayed,
              dropped);
    zstr_free(&commands);
    zstr_free(&feed);
    zsock_destroy(&router);
    zsock_destroy(&pub);
    return 0;
}
