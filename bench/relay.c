// relay.c - the ceiling for this socket shape: a ROUTER->PUB relay that parses nothing
//
// Every request frame goes to the PUB under BENCH_TOPIC as it came, and its sender gets one
// BENCH_ACK, so a bench sender windows on replies exactly as it does with the broker. The one
// exception is the exact frame BENCH_PING, answered with BENCH_PONG (a byte compare, no
// parsing). Socket options mirror the broker's: ROUTER_HANDOVER, ROUTER_MANDATORY, MAXMSGSIZE,
// the same high-water marks, sends with ZMQ_DONTWAIT. Like the broker, one thread, and up to
// RELAY_BATCH requests per loop turn.
//
// With --durable DB (zchat-bench --durable-relay) it also keeps what the broker keeps: every
// relayed frame goes into the broker's own store (store.c: same schema, WAL, checkpoint thread,
// one transaction per turn), and a turn's frames are forwarded and acked only after its commit,
// as the broker does. Against that relay the ratios show what the broker costs beyond storing
// every message durably before it is published.
#include "bench.h"
#include "store.h"

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

// A request held until the turn's commit (--durable)
typedef struct {
    zmq_msg_t identity;
    zmq_msg_t body;
} s_held_t;

int
relay_main(const char *durable)
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
    store_t *store = NULL;
    if (durable) {
        char *error = NULL;
        store = store_new(durable, 10000, &error);  // the broker's default --history
        if (!store) {
            zsys_error("cannot open %s: %s", durable, error);
            zstr_free(&error);
            zstr_free(&commands);
            zstr_free(&feed);
            zsock_destroy(&router);
            zsock_destroy(&pub);
            return 2;
        }
    }
    printf("zchat-bench relay: commands on %s, feed on %s\n", commands, feed);
    fflush(stdout);
    s_held_t held[RELAY_BATCH];
    size_t held_size = 0;
    char text[ZCHAT_FRAME_MAX + 1];  // a frame as the store takes it: NUL-terminated
    uint64_t seq = 0;

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
            if (store) {
                size_t size = zmq_msg_size(&body);
                bool ping = size == strlen(BENCH_PING) &&
                            memcmp(zmq_msg_data(&body), BENCH_PING, size) == 0;
                if (!ping) {  // the broker stores room events, not pings
                    memcpy(text, zmq_msg_data(&body), size);
                    text[size] = 0;
                    if (store_append(store, "bench", ++seq, text) == -1)
                        zsys_error("cannot store frame %" PRIu64, seq);
                }
                s_held_t *hold = &held[held_size++];
                zmq_msg_init(&hold->identity);
                zmq_msg_init(&hold->body);
                zmq_msg_move(&hold->identity, &identity);
                zmq_msg_move(&hold->body, &body);
                zmq_msg_close(&identity);  // empty now
                zmq_msg_close(&body);
            } else {
                s_relay(router_h, pub_h, &identity, &body, &dropped);
            }
            relayed++;
        }
        if (store) {
            if (store_commit(store) == -1)
                zsys_error("cannot commit %zu frames", held_size);
            for (size_t i = 0; i < held_size; i++)
                s_relay(router_h, pub_h, &held[i].identity, &held[i].body, &dropped);
            held_size = 0;
            store_maintain(store);
        }
    }
    zsys_info("stopped: %" PRIu64 " requests relayed, %" PRIu64 " replies dropped", relayed,
              dropped);
    store_destroy(&store);
    zstr_free(&commands);
    zstr_free(&feed);
    zsock_destroy(&router);
    zsock_destroy(&pub);
    return 0;
}
