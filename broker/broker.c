// broker.c - the ZCHAT/1 broker: sockets, event loop, the turn, request dispatch
//
// One thread, one zloop over the ROUTER (requests) and a sweep timer. A loop turn reads every
// request that is ready (up to BROKER_BATCH), appends the room events it makes to the store,
// commits, and only then sends the turn's replies and events: a seq a client has seen is always
// durable, so it never repeats after a restart. The dispatch table (s_handlers) names the
// handler of each request type; login.c, rooms.c and chat.c hold them.
#include "zchat_prelude.h"
#include "zchat_hash.h"
#include "broker_impl.h"
#include "keys.h"
#include "zchat_text.h"

#define BROKER_BATCH      256        // requests per loop turn, then commit and send
#define BROKER_ROUTER_HWM 1000       // replies queued per client before it counts as slow
#define BROKER_PUB_HWM    10000      // feed messages queued per subscriber before PUB drops
#define BROKER_LINGER_MS  1000       // at shutdown, time for the last events to leave
#define BROKER_OUT_KEEP   (4 << 20)  // bytes of out kept for the next turn (see s_outbox_clear)

typedef zchat_err_t handler_fn(broker_t *self, request_t *req);

// --- The turn's output ---

// The outbox and out are reused turn after turn: queueing what is written into out allocates
// nothing once they have grown.
void
broker_queue(broker_t *self, const char *topic, const byte *identity, size_t size, size_t json,
             size_t json_size)
{
    if (self->outbox_size == self->outbox_max) {
        self->outbox_max = self->outbox_max ? self->outbox_max * 2 : 64;
        self->outbox = realloc(self->outbox, self->outbox_max * sizeof(broker_out_t));
        assert(self->outbox);
    }
    broker_out_t *out = &self->outbox[self->outbox_size++];
    out->topic = topic;
    assert(size <= sizeof out->identity);
    if (!topic)
        memcpy(out->identity, identity, size);
    out->identity_size = size;
    out->json = json;
    out->size = json_size;
}

// Forget what the turn queued; keep the buffers, unless big replies grew out past
// BROKER_OUT_KEEP. A turn of BROKER_BATCH says of full text fills about 1.1 MB of out, a history
// reply at most 256 KiB and an event: a few of those are kept, a turn of histories (up to 64 MiB)
// gives its memory back.
static void
s_outbox_clear(broker_t *self)
{
    self->outbox_size = 0;
    if (self->out.max > BROKER_OUT_KEEP)
        zchat_json_free(&self->out);
    else
        zchat_json_reset(&self->out);
}

int
broker_send_to(broker_t *self, const void *identity, size_t size, const char *json,
               size_t json_size)
{
    void *router = zsock_resolve(self->router);
    // ROUTER_MANDATORY: an unroutable or full peer fails on the first frame, not silently
    int rc = zmq_send(router, identity, size, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc != -1)
        rc = zmq_send(router, json, json_size, ZMQ_DONTWAIT);
    char key[SESSION_KEY_MAX];
    session_identity_key(identity, size, key);
    session_t *session = zhashx_lookup(self->by_key, key);
    if (rc == -1) {
        self->dropped++;
        if (errno == EAGAIN && session)
            session_set_blocked(session, self->now);
        zchat_debug("dropped a reply to %s: %s", session ? session_user(session) : key,
                    zmq_strerror(errno));
        return -1;
    }
    if (session)
        session_set_blocked(session, 0);
    return 0;
}

// Commit the turn's events, then send everything the turn produced. Returns 0, or -1 if the
// database could not take the turn: then nothing is sent, since a seq published but not stored
// would be handed out again after a restart, and the broker must stop.
static int
s_end_turn(broker_t *self)
{
    if (store_commit(self->store) == -1 || self->store_failed) {
        zsys_error("the database cannot be written: stopping, so that no seq is ever reused "
                   "(%zu replies and events not sent)",
                   self->outbox_size);
        s_outbox_clear(self);
        self->store_failed = true;
        return -1;
    }
    void *pub = zsock_resolve(self->pub);
    for (size_t i = 0; i < self->outbox_size; i++) {
        broker_out_t *out = &self->outbox[i];
        const char *json = self->out.data + out->json;
        if (out->topic) {
            // PUB never blocks: past its high-water mark it drops, and seq repairs that
            zmq_send(pub, out->topic, strlen(out->topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send(pub, json, out->size, ZMQ_DONTWAIT);
        } else {
            broker_send_to(self, out->identity, out->identity_size, json, out->size);
        }
    }
    s_outbox_clear(self);
    store_maintain(self->store);  // after the sends: it may wait for the disk
    return 0;
}

// An event is written into out like a reply, stored from there and sent from there.
void
broker_event_open(broker_t *self, room_t *room, const char *type)
{
    zchat_json_open(&self->out, type);
    zchat_json_string(&self->out, "room", room_name(room));
    zchat_json_int(&self->out, "seq", (int64_t)room_next_seq(room));
    zchat_json_int(&self->out, "ts", self->now);
}

void
broker_publish(broker_t *self, room_t *room)
{
    size_t size;
    size_t offset = zchat_json_close(&self->out, &size);
    // After a failed append the store refuses the rest of the turn: it is lost whole
    if (store_append(self->store, room_name(room), room_last_seq(room), self->out.data + offset) ==
        -1)
        self->store_failed = true;
    broker_queue(self, room_topic(room), NULL, 0, offset, size);
}

// --- Dispatch ---

// The login state a request type needs
typedef enum {
    S_LOGGED_IN,   // a session: before hello, not_logged_in
    S_LOGGED_OUT,  // no session: after hello, already_logged_in (hello itself)
    S_EITHER,      // either
} s_login_t;

// zchat-protocol(7) REQUESTS: every request type, one a row; its handler is in the file its
// prefix names (login_ in login.c, rooms_ in rooms.c, chat_ in chat.c). The other columns are
// the checks s_handle makes before the handler runs.
static const struct {
    const char *type;
    handler_fn *handle;
    s_login_t login;   // the login state it needs
    bool observer_ok;  // allowed for observer sessions (else forbidden)
    bool takes_token;  // costs a token of the rate limit
    bool retry_id;     // zchat-protocol(7) RETRIES: a repeated id gets its first ack again
} s_handlers[] = {
    // clang-format off
    // type      handler                login         observer token  retry
    {"hello",    login_handle_hello,    S_LOGGED_OUT, true,    true,  false},
    {"join",     rooms_handle_join,     S_LOGGED_IN,  false,   true,  false},
    {"leave",    rooms_handle_leave,    S_LOGGED_IN,  false,   true,  false},
    {"rooms",    rooms_handle_rooms,    S_LOGGED_IN,  true,    true,  false},
    {"users",    rooms_handle_users,    S_LOGGED_IN,  true,    true,  false},
    {"say",      chat_handle_say,       S_LOGGED_IN,  false,   true,  true},
    {"msg",      chat_handle_msg,       S_LOGGED_IN,  false,   true,  true},
    {"history",  chat_handle_history,   S_LOGGED_IN,  true,    true,  false},
    {"status",   rooms_handle_status,   S_LOGGED_IN,  false,   true,  false},
    // no token: a client over its limit can still show it is alive
    {"ping",     chat_handle_ping,      S_EITHER,     true,    false, false},
    {"quit",     login_handle_quit,     S_LOGGED_IN,  true,    true,  false},
    // an extension (--open-registration)
    {"register", login_handle_register, S_EITHER,     false,   true,  false},
    // clang-format on
};

#define S_HANDLERS (sizeof s_handlers / sizeof s_handlers[0])

// Take a token of the rate limit for req: from its session's bucket, or before hello from
// its connection's. False when none is left.
static bool
s_take_token(broker_t *self, const request_t *req)
{
    limiter_t *bucket = req->session ? session_limiter(req->session) : NULL;
    if (!bucket && !(bucket = zhashx_lookup(self->guests, req->key))) {
        bucket = zmalloc(sizeof(limiter_t));
        zhashx_insert(self->guests, req->key, bucket);
    }
    return limiter_take(bucket, self->options.rate, self->options.burst, self->now);
}

// Take a token for a request that came to nothing (bad frame, JSON or type): a flood of
// garbage is bounded like any other. Returns err, or RATE_LIMITED when no token is left.
static zchat_err_t
s_charge(broker_t *self, request_t *req, zchat_err_t err)
{
    if (!s_take_token(self, req)) {
        req->detail[0] = 0;
        return ZCHAT_ERR_RATE_LIMITED;
    }
    return err;
}

// Check a decoded request in zchat-protocol(7) CHECK ORDER (type, rate limit, login state, fields,
// state) and run it.
static zchat_err_t
s_handle(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    req->id = zchat_req_id(req->msg);
    const char *type = zchat_req_type(req->msg);
    if (!type)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: type (a string).");
    size_t h = 0;
    while (h < S_HANDLERS && !streq(type, s_handlers[h].type))
        h++;
    if (h == S_HANDLERS) {
        char *safe = zchat_text_safe(type);
        zchat_text_cut(safe, 64);  // whole characters: the reply must stay valid UTF-8
        request_fail(req, ZCHAT_ERR_UNKNOWN_TYPE, "Unknown request type: %s.", safe);
        free(safe);
        return ZCHAT_ERR_UNKNOWN_TYPE;
    }
    req->type = s_handlers[h].type;

    if (s_handlers[h].takes_token && !s_take_token(self, req))
        return ZCHAT_ERR_RATE_LIMITED;
    if (!session && s_handlers[h].login == S_LOGGED_IN)
        return ZCHAT_ERR_NOT_LOGGED_IN;
    if (session && s_handlers[h].login == S_LOGGED_OUT)
        return ZCHAT_ERR_ALREADY_LOGGED_IN;
    if (session && session_is_observer(session) && !s_handlers[h].observer_ok)
        return request_fail(req, ZCHAT_ERR_FORBIDDEN, "Observer sessions may not send %s.", type);
    if (!zchat_req_fields_ok(req->msg))
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST,
                            "A field of this %s has the wrong type (or id is not 1-64 bytes).",
                            type);
    int64_t seq;
    if (s_handlers[h].retry_id && req->id && session_recall(session, req->id, &seq)) {
        request_ack(req, seq);  // and not done twice
        return ZCHAT_OK;
    }
    return s_handlers[h].handle(self, req);
}

// Handle one message from the ROUTER: [identity][frames...], of which body is the first
// after the identity. Sends the one error reply.
static void
s_dispatch(broker_t *self, zmq_msg_t *identity, zmq_msg_t *body, size_t frames)
{
    request_t req;  // not zero-filled: a turn dispatches hundreds
    req.broker = self;
    req.identity = zmq_msg_data(identity);
    req.identity_size = zmq_msg_size(identity);
    session_identity_key(req.identity, req.identity_size, req.key);
    req.session = zhashx_lookup(self->by_key, req.key);
    req.msg = NULL;
    req.id = NULL;
    req.type = NULL;
    req.detail[0] = 0;
    if (req.session)
        session_touch(req.session, self->now);  // every request counts as activity, errors too

    zchat_err_t err;
    if (frames != 1)
        err = request_fail(&req, ZCHAT_ERR_BAD_FRAME, "A request is exactly one frame; got %zu.",
                           frames);
    else {
        const char *reason;
        if (zchat_req_decode(self->decoder, zmq_msg_data(body), zmq_msg_size(body), &reason) == 0) {
            req.msg = self->decoder;
            err = s_handle(self, &req);
        } else {
            err = request_fail(&req, ZCHAT_ERR_BAD_JSON, "Not a valid JSON object: %s.", reason);
        }
    }
    if (!req.type)
        err = s_charge(self, &req, err);  // garbage counts against the limit too
    session_t *session = zhashx_lookup(self->by_key, req.key);  // the handler may have ended it
    if (err) {
        zchat_debug("%s: %s (%s)", session ? session_user(session) : req.key, zchat_err_code(err),
                    req.type ? req.type : "-");
        request_reply_error(&req, err);
    } else {
        zchat_debug("%s: %s", session ? session_user(session) : req.key, req.type);
    }
}

// --- Loop ---

static int
s_on_request(zloop_t *loop, zsock_t *router, void *arg)
{
    (void)loop;
    broker_t *self = arg;
    self->now = zclock_time();
    void *handle = zsock_resolve(router);
    // Everything ready, without blocking, up to a batch: libzmq messages, no CZMQ wrappers
    zmq_msg_t identity, body, extra;
    zmq_msg_init(&identity);
    zmq_msg_init(&body);
    zmq_msg_init(&extra);
    for (int n = 0; n < BROKER_BATCH; n++) {
        if (zmq_msg_recv(&identity, handle, ZMQ_DONTWAIT) == -1)
            break;  // nothing more (or interrupted: zloop sees it and stops)
        size_t frames = 0;
        if (zmq_msg_more(&identity) && zmq_msg_recv(&body, handle, ZMQ_DONTWAIT) != -1) {
            frames = 1;
            bool more = zmq_msg_more(&body);
            while (more && zmq_msg_recv(&extra, handle, ZMQ_DONTWAIT) != -1) {
                frames++;  // a ROUTER hands over all parts at once: count them, drop them
                more = zmq_msg_more(&extra);
            }
        }
        s_dispatch(self, &identity, &body, frames);
    }
    zmq_msg_close(&identity);
    zmq_msg_close(&body);
    zmq_msg_close(&extra);
    return s_end_turn(self);
}

// Expire silent and stuck sessions, forget stale ones and idle guest buckets.
static int
s_on_sweep(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    broker_t *self = arg;
    self->now = zclock_time();
    int64_t limit = 3 * (int64_t)self->options.heartbeat_ms;
    // Collect first: ending a session changes the hash being walked
    zlistx_t *expire = zlistx_new();
    zlistx_t *forget = zlistx_new();
    for (session_t *s = zhashx_first(self->sessions); s; s = zhashx_next(self->sessions)) {
        if (!session_is_live(s)) {
            if (self->now - session_expired_at(s) > ZCHAT_RESUME_GRACE_MS)
                zlistx_add_end(forget, s);
        } else if (self->now - session_last_active(s) > limit ||
                   (session_blocked_since(s) && self->now - session_blocked_since(s) > limit))
            zlistx_add_end(expire, s);
    }
    for (session_t *s = zlistx_first(expire); s; s = zlistx_next(expire))
        login_expire(self, s, session_blocked_since(s) ? "its queue stayed full" : "silent");
    for (session_t *s = zlistx_first(forget); s; s = zlistx_next(forget))
        login_end(self, s, "timeout", NULL);
    zlistx_destroy(&expire);
    zlistx_destroy(&forget);

    zlistx_t *idle = zlistx_new();
    for (limiter_t *b = zhashx_first(self->guests); b; b = zhashx_next(self->guests))
        if (limiter_is_full(b, self->options.rate, self->options.burst, self->now))
            zlistx_add_end(idle, (void *)zhashx_cursor(self->guests));
    for (const char *key = zlistx_first(idle); key; key = zlistx_next(idle))
        zhashx_delete(self->guests, key);
    zlistx_destroy(&idle);
    return s_end_turn(self);
}

// --- Construction ---

// A zhashx destructor for items that are one malloc'd block
static void
s_free_item(void **item_p)
{
    free(*item_p);
    *item_p = NULL;
}

static void
s_load_room(void *arg, const char *name, uint64_t last_seq)
{
    broker_t *self = arg;
    zhashx_insert(self->rooms, name, room_new(name, last_seq));
}

static bool
s_is_wildcard(const char *host)
{
    return streq(host, "*") || streq(host, "0.0.0.0") || streq(host, "::") || streq(host, "[::]");
}

// tcp://HOST:PORT, with IPv6 literals in brackets.
static char *
s_endpoint(const char *host, const char *port)
{
    bool v6 = strchr(host, ':') && host[0] != '[';
    return zsys_sprintf(v6 ? "tcp://[%s]:%s" : "tcp://%s:%s", host, port);
}

// Bind sock to host:port (0: any free port). Returns the bound endpoint, or NULL.
static char *
s_bind_socket(zsock_t *sock, const char *host, int port)
{
    if (streq(host, "localhost"))
        host = "127.0.0.1";  // libzmq reads a bind host as an interface name: "lo" here
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%d", port);
    // CZMQ's "!": a random free port, so that a broker started after another stopped does not
    // take its port, and with it the stopped one's reconnecting clients ("*" takes the lowest)
    char *endpoint = s_endpoint(host, port ? port_text : "!");
    if (strchr(host, ':'))
        zsock_set_ipv6(sock, 1);
    int rc = zsock_bind(sock, "%s", endpoint);
    if (rc == -1) {
        zsys_error("cannot bind %s: %s%s", endpoint, zmq_strerror(zmq_errno()),
                   zmq_errno() == EADDRINUSE ? " (is another broker running? try --port)" : "");
        zstr_free(&endpoint);
        return NULL;
    }
    zstr_free(&endpoint);
    snprintf(port_text, sizeof port_text, "%d", rc);
    return s_endpoint(s_is_wildcard(host) ? "*" : host, port_text);
}

// CURVE on both sockets (--curve): the broker's certificate, and zauth to answer the
// handshakes, allowing any client key or only those in --clients. Returns 0, or -1 after
// logging why.
static int
s_curve(broker_t *self)
{
    char *error = NULL;
    self->cert = keys_load(self->options.keys, &error);
    if (!self->cert) {
        zsys_error("--keys %s: %s", self->options.keys, error);
        zstr_free(&error);
        return -1;
    }
    const char *clients = self->options.clients;
    if (*clients && !zsys_file_exists(clients)) {
        zsys_error("--clients %s: no such directory", clients);
        return -1;
    }
    // Before any bind: a handshake with no ZAP handler to ask would let every key in
    self->auth = zactor_new(zauth, NULL);
    assert(self->auth);
    if (zchat_verbose) {
        zstr_send(self->auth, "VERBOSE");
        zsock_wait(self->auth);
    }
    zstr_sendx(self->auth, "CURVE", *clients ? clients : CURVE_ALLOW_ANY, NULL);
    zsock_wait(self->auth);
    zsock_t *sockets[] = {self->router, self->pub};
    for (size_t i = 0; i < 2; i++) {
        zsock_set_zap_domain(sockets[i], "zchat");
        zsock_set_curve_server(sockets[i], 1);
        zcert_apply(self->cert, sockets[i]);
    }
    return 0;
}

broker_t *
broker_new(const options_t *options)
{
    assert(options);
    broker_t *self = zmalloc(sizeof(broker_t));
    self->options = *options;
    self->sessions = zchat_hash_new();
    self->expired = zlistx_new();
    zhashx_set_destructor(self->sessions, (zhashx_destructor_fn *)session_destroy);
    self->by_key = zchat_hash_new();
    self->by_name = zchat_hash_new();
    self->rooms = zchat_hash_new();
    zhashx_set_destructor(self->rooms, (zhashx_destructor_fn *)room_destroy);
    self->guests = zchat_hash_new();
    zhashx_set_destructor(self->guests, s_free_item);
    self->failures = zchat_hash_new();
    zhashx_set_destructor(self->failures, s_free_item);
    self->decoder = zchat_req_new();
    zuuid_t *uuid = zuuid_new();
    snprintf(self->epoch, sizeof self->epoch, "%s", zuuid_str_canonical(uuid));
    zuuid_destroy(&uuid);

    char *error = NULL;
    self->store = store_new_exclusive(options->db, (size_t)options->history, &error);
    if (!self->store) {
        zsys_error("database %s: %s", options->db, error);
        zstr_free(&error);
        broker_destroy(&self);
        return NULL;
    }
    if (store_rooms(self->store, s_load_room, self) == -1) {
        zsys_error("database %s: cannot read its rooms", options->db);
        broker_destroy(&self);
        return NULL;
    }

    self->router = zsock_new(ZMQ_ROUTER);
    self->pub = zsock_new(ZMQ_PUB);
    assert(self->router && self->pub);
    zsock_set_router_handover(self->router, 1);   // a reconnecting client takes its id back
    zsock_set_router_mandatory(self->router, 1);  // a send to a vanished peer fails
    zsock_set_maxmsgsize(self->router, ZCHAT_FRAME_MAX);
    // A subscription is "room/" + a name + "/" at most; the CURVE handshake needs a few hundred
    zsock_set_maxmsgsize(self->pub, 4096);
    zsock_set_sndhwm(self->router, BROKER_ROUTER_HWM);
    zsock_set_sndhwm(self->pub, BROKER_PUB_HWM);
    zsock_set_linger(self->router, 0);
    if (options->curve && s_curve(self) == -1) {
        broker_destroy(&self);
        return NULL;
    }
    self->endpoint = s_bind_socket(self->router, options->host, options->port);
    if (self->endpoint)
        self->feed = s_bind_socket(self->pub, options->host, options->feed_port);
    if (!self->endpoint || !self->feed) {
        broker_destroy(&self);
        return NULL;
    }
    if (*options->feed_endpoint)
        self->feed_ad = strdup(options->feed_endpoint);
    else if (s_is_wildcard(options->host))
        // a wildcard is no address to connect to: tell clients this machine's name
        self->feed_ad = zsys_sprintf("tcp://%s:%s", zsys_hostname(), strrchr(self->feed, ':') + 1);
    else
        self->feed_ad = strdup(self->feed);
    assert(self->feed_ad);

    self->loop = zloop_new();
    zloop_reader(self->loop, self->router, s_on_request, self);
    int sweep_ms = options->heartbeat_ms / 2;
    zloop_timer(self->loop, (size_t)sweep_ms, 0, s_on_sweep, self);
    return self;
}

void
broker_destroy(broker_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        broker_t *self = *self_p;
        if (self->loop && self->store && !self->store_failed) {
            // Graceful stop: tell every room who is leaving, make it durable, send it
            self->now = zclock_time();
            for (session_t *s = zhashx_first(self->sessions); s; s = zhashx_next(self->sessions))
                for (size_t i = 0; session_is_live(s) && i < session_rooms(s); i++)
                    rooms_exit(self, s, i, "shutdown", NULL);
            s_end_turn(self);
            zsys_info("stopped: %zu sessions closed, %" PRIu64 " replies dropped in all",
                      zhashx_size(self->by_key), self->dropped);
            zsock_set_linger(self->pub, BROKER_LINGER_MS);
        }
        zloop_destroy(&self->loop);
        zsock_destroy(&self->router);
        zsock_destroy(&self->pub);
        zactor_destroy(&self->auth);  // after the sockets it answers for
        zcert_destroy(&self->cert);
        zhashx_destroy(&self->failures);
        store_destroy(&self->store);
        zhashx_destroy(&self->by_key);
        zhashx_destroy(&self->by_name);
        zlistx_destroy(&self->expired);
        zhashx_destroy(&self->sessions);  // before rooms: sessions borrow them
        zhashx_destroy(&self->rooms);
        zhashx_destroy(&self->guests);
        zchat_req_destroy(&self->decoder);
        s_outbox_clear(self);
        free(self->outbox);
        zchat_json_free(&self->out);
        zstr_free(&self->endpoint);
        zstr_free(&self->feed);
        zstr_free(&self->feed_ad);
        free(self);
        *self_p = NULL;
    }
}

const char *
broker_endpoint(const broker_t *self)
{
    assert(self);
    return self->endpoint;
}

const char *
broker_feed(const broker_t *self)
{
    assert(self);
    return self->feed;
}

const char *
broker_server_key(const broker_t *self)
{
    assert(self);
    return self->cert ? zcert_public_txt(self->cert) : NULL;
}

static int
s_on_wake(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    (void)arg;
    return -1;  // a signal: stop
}

void
broker_stop_on(broker_t *self, int fd)
{
    assert(self);
    if (fd < 0)
        return;
    zmq_pollitem_t item = {NULL, fd, ZMQ_POLLIN, 0};
    zloop_poller(self->loop, &item, s_on_wake, self);
}

int
broker_run(broker_t *self)
{
    assert(self);
    int rc = zloop_start(self->loop);
    return self->store_failed ? -1 : zsys_interrupted ? 0 : rc;
}

// --- Self-test ---

static int
s_stop_loop(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    return -1;
}

// Run the broker's loop for a short while, then return.
static void
s_run_briefly(broker_t *self)
{
    zloop_timer(self->loop, 100, 1, s_stop_loop, NULL);
    zloop_start(self->loop);
}

static char *
s_ask(broker_t *broker, zsock_t *client, const char *json)
{
    zstr_send(client, json);
    s_run_briefly(broker);
    zsock_set_rcvtimeo(client, 1000);
    return zstr_recv(client);
}

void
broker_test(bool verbose)
{
    (void)verbose;
    options_t options;
    char *argv[] = {"zchat-broker", "--port", "0", "--db", ":memory:", NULL};
    assert(options_parse(&options, 5, argv) == -1);
    broker_t *broker = broker_new(&options);
    assert(broker);
    assert(strneq(broker_endpoint(broker), broker_feed(broker)));

    zsock_t *client = zsock_new_dealer(broker_endpoint(broker));
    assert(client);
    char *reply = s_ask(broker, client, "{\"type\":\"ping\"}");
    assert(reply && strstr(reply, "\"type\":\"pong\",\"logged_in\":false,\"epoch\":"));
    assert(strstr(reply, "\"seqs\":{}"));
    zstr_free(&reply);
    reply = s_ask(broker, client, "{\"type\":\"join\",\"room\":\"py\",\"id\":\"j1\"}");
    assert(reply && strstr(reply, "\"code\":\"not_logged_in\"") && strstr(reply, "\"id\":\"j1\""));
    zstr_free(&reply);
    reply = s_ask(broker, client, "{\"type\":\"hello\",\"user\":\"Alice\",\"proto\":1}");
    assert(reply && strstr(reply, "\"type\":\"welcome\"") &&
           strstr(reply, "\"rooms\":[\"lobby\"]"));
    zstr_free(&reply);
    reply =
        s_ask(broker, client, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"hi\",\"id\":\"1\"}");
    assert(reply && streq(reply, "{\"type\":\"ack\",\"seq\":2,\"id\":\"1\"}"));
    zstr_free(&reply);
    reply = s_ask(broker, client, "{\"type\":\"history\",\"room\":\"lobby\"}");
    assert(reply && strstr(reply, "\"text\":\"hi\"") && strstr(reply, "\"complete\":true"));
    zstr_free(&reply);
    zsock_destroy(&client);
    broker_destroy(&broker);
    assert(broker == NULL);
}
