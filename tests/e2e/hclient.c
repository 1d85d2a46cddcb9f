// hclient.c - e2e harness: clients that write JSON as literal strings on a DEALER and read the
// broker's replies, and its feed on a SUB, with deadlines; every message goes to the trace
#include "zchat_prelude.h"
#include "harness.h"

#include <stdarg.h>

#define TRACE_WIDTH 400  // bytes of a message shown in the trace

struct hclient {
    hbroker_t *broker;    // borrowed: the harness owns brokers
    zsock_t *dealer;      // NULL once closed
    zsock_t *sub;         // NULL until the first subscribe
    char identity[40];    // routing id, also the trace label
    cJSON *welcome;       // borrowed from the harness's trees
    char *last_raw;       // the last frame received on the DEALER, owned
    int next_id;          // for generated request ids
    char server_key[41];  // CURVE on both sockets when not ""
    zcert_t *cert;        // and our certificate (owned)
};

static zlistx_t *s_clients;  // hclient_t *, owned; NULL until the first client

static void
s_cleanup(void)
{
    hclient_t *self;
    while ((self = zlistx_detach(s_clients, NULL))) {
        hclient_close(self);
        free(self->last_raw);
        free(self);
    }
    zlistx_destroy(&s_clients);
}

// Copy bytes into a printable string: control bytes as \xNN, long data shortened.
static void
s_printable(char *buf, size_t size, const void *data, size_t length)
{
    const unsigned char *bytes = data;
    size_t used = 0;
    for (size_t i = 0; i < length && used + 8 < size; i++) {
        if (bytes[i] < 0x20 || bytes[i] == 0x7f)
            used += (size_t)snprintf(buf + used, size - used, "\\x%02x", bytes[i]);
        else
            buf[used++] = (char)bytes[i];
    }
    if (used + 8 >= size && size > 28)
        snprintf(buf + size - 28, 28, "...(%zu)", length);  // room for 20 digits
    else
        buf[used] = 0;
}

static zsock_t *
s_socket_or_fail(int type)
{
    zsock_t *sock = zsock_new(type);
    if (!sock)
        FAIL("zsock_new: %s", zmq_strerror(zmq_errno()));
    return sock;
}

// CURVE on sock when the client has a server key.
static void
s_client_curve(hclient_t *self, zsock_t *sock)
{
    if (*self->server_key) {
        zcert_apply(self->cert, sock);
        zsock_set_curve_serverkey(sock, self->server_key);
    }
}

static hclient_t *
s_client_new_curve(hbroker_t *broker, bool slow, const char *identity, const char *server_key,
                   zcert_t *cert)
{
    if (!s_clients) {
        s_clients = zlistx_new();
        harness_on_end(NULL, NULL, s_cleanup);
    }
    hclient_t *self = zmalloc(sizeof(hclient_t));
    zlistx_add_end(s_clients, self);
    self->broker = broker;
    self->next_id = 1;
    if (identity)
        snprintf(self->identity, sizeof self->identity, "%s", identity);
    else
        snprintf(self->identity, sizeof self->identity, "e2e-%08lx%08lx", (unsigned long)random(),
                 (unsigned long)random());
    self->dealer = s_socket_or_fail(ZMQ_DEALER);
    zsock_set_identity(self->dealer, self->identity);
    if (identity)
        zsock_set_reconnect_ivl(self->dealer, -1);
    zsock_set_linger(self->dealer, 0);
    if (slow) {
        zsock_set_rcvhwm(self->dealer, 1);
        zsock_set_rcvbuf(self->dealer, 4096);
    }
    if (server_key) {
        snprintf(self->server_key, sizeof self->server_key, "%s", server_key);
        self->cert = cert ? zcert_dup(cert) : zcert_new();
        s_client_curve(self, self->dealer);
    }
    if (zsock_connect(self->dealer, "%s", hbroker_commands(broker)) == -1)
        FAIL("connect to %s: %s", hbroker_commands(broker), zmq_strerror(zmq_errno()));
    return self;
}

static hclient_t *
s_client_new(hbroker_t *broker, bool slow, const char *identity)
{
    return s_client_new_curve(broker, slow, identity, NULL, NULL);
}

hclient_t *
hclient_new(hbroker_t *broker)
{
    return s_client_new(broker, false, NULL);
}

hclient_t *
hclient_new_as(hbroker_t *broker, const char *identity)
{
    return s_client_new(broker, false, identity);
}

hclient_t *
hclient_new_slow(hbroker_t *broker)
{
    return s_client_new(broker, true, NULL);
}

hclient_t *
hclient_login_at(const char *file, int line, hbroker_t *broker, const char *user)
{
    hclient_t *self = hclient_new(broker);
    hclient_sendf(self, "{\"type\":\"hello\",\"user\":\"%s\",\"proto\":1}", user);
    cJSON *welcome = hclient_expect_at(file, line, self, "welcome");
    jcheck_str_at(file, line, welcome, "user", user);
    self->welcome = welcome;
    return self;
}

hclient_t *
hclient_observer_at(const char *file, int line, hbroker_t *broker, const char *user)
{
    hclient_t *self = hclient_new(broker);
    if (user)
        hclient_sendf(self, "{\"type\":\"hello\",\"user\":\"%s\",\"proto\":1,\"observer\":true}",
                      user);
    else
        hclient_send(self, "{\"type\":\"hello\",\"proto\":1,\"observer\":true}");
    self->welcome = hclient_expect_at(file, line, self, "welcome");
    return self;
}

cJSON *
hclient_welcome(const hclient_t *self)
{
    return self->welcome;
}

void
hclient_close(hclient_t *self)
{
    if (self->dealer)
        harness_trace("close %s", self->identity);
    zsock_destroy(&self->dealer);
    zsock_destroy(&self->sub);
    zcert_destroy(&self->cert);
}

void
hclient_send_raw(hclient_t *self, const void *data, size_t size)
{
    if (!self->dealer)
        FAIL("send on a closed client");
    char text[TRACE_WIDTH];
    s_printable(text, sizeof text, data, size);
    harness_trace("> %s %s", self->identity, text);
    zframe_t *frame = zframe_new(data, size);
    if (zframe_send(&frame, self->dealer, 0) == -1)
        FAIL("send: %s", zmq_strerror(zmq_errno()));
}

bool
hclient_try_send(hclient_t *self, const void *data, size_t size)
{
    if (!self->dealer)
        FAIL("send on a closed client");
    return zmq_send(zsock_resolve(self->dealer), data, size, ZMQ_DONTWAIT) == (int)size;
}

void
hclient_send(hclient_t *self, const char *json)
{
    hclient_send_raw(self, json, strlen(json));
}

void
hclient_sendf(hclient_t *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *json = zsys_vprintf(format, args);
    va_end(args);
    assert(json);
    hclient_send(self, json);
    zstr_free(&json);
}

void
hclient_send_frames(hclient_t *self, int count, const char *const frames[])
{
    zmsg_t *msg = zmsg_new();
    for (int i = 0; i < count; i++) {
        harness_trace("> %s frame %d/%d: %s", self->identity, i + 1, count, frames[i]);
        zmsg_addstr(msg, frames[i]);
    }
    if (zmsg_send(&msg, self->dealer) == -1)
        FAIL("send: %s", zmq_strerror(zmq_errno()));
}

// Wait for input on sock; true if there is some.
static bool
s_wait_input(zsock_t *sock, int timeout_ms)
{
    zmq_pollitem_t item = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
    int64_t deadline = zclock_mono() + timeout_ms;
    while (true) {
        int64_t left = deadline - zclock_mono();
        int rc = zmq_poll(&item, 1, left > 0 ? (long)left : 0);
        if (rc > 0)
            return true;
        if (rc == -1 && zmq_errno() == EINTR && left > 0)
            continue;
        return false;
    }
}

cJSON *
hclient_recv_at(const char *file, int line, hclient_t *self, int timeout_ms)
{
    if (!self->dealer)
        harness_fail(file, line, "receive on a closed client");
    if (!s_wait_input(self->dealer, timeout_ms))
        return NULL;
    zmsg_t *msg = zmsg_recv(self->dealer);
    if (!msg)
        harness_fail(file, line, "receive: %s", zmq_strerror(zmq_errno()));
    size_t frames = zmsg_size(msg);
    zframe_t *frame = zmsg_first(msg);
    char text[TRACE_WIDTH];
    s_printable(text, sizeof text, zframe_data(frame), zframe_size(frame));
    harness_trace("< %s %s%s", self->identity, text, frames > 1 ? " (+ more frames)" : "");
    if (frames != 1) {
        zmsg_destroy(&msg);
        harness_fail(
            file, line,
            "the broker sent %zu frames on ROUTER (zchat-protocol(7) SOCKETS AND FRAMES: one)",
            frames);
    }
    free(self->last_raw);
    self->last_raw = zmalloc(zframe_size(frame) + 1);
    memcpy(self->last_raw, zframe_data(frame), zframe_size(frame));
    cJSON *json = harness_json((const char *)zframe_data(frame), zframe_size(frame));
    zmsg_destroy(&msg);
    if (!json)
        harness_fail(file, line, "the broker sent a frame that is not JSON: %s", text);
    if (!cJSON_IsObject(json) || !cJSON_IsString(jget(json, "type")))
        harness_fail(file, line, "the broker sent JSON that is not an object with a type: %s",
                     text);
    return json;
}

const char *
hclient_last_raw(const hclient_t *self)
{
    return self->last_raw ? self->last_raw : "";
}

cJSON *
hclient_expect_at(const char *file, int line, hclient_t *self, const char *type)
{
    cJSON *json = hclient_recv_at(file, line, self, H_REPLY_MS);
    if (!json)
        harness_fail(file, line, "expected \"%s\" within %d ms, got nothing", type, H_REPLY_MS);
    const char *got = jget(json, "type")->valuestring;
    if (strcmp(got, type) != 0)
        harness_fail(file, line, "expected \"%s\", got: %s", type, harness_json_text(json));
    return json;
}

cJSON *
hclient_expect_error_at(const char *file, int line, hclient_t *self, const char *code,
                        const char *request, const char *id)
{
    cJSON *json = hclient_recv_at(file, line, self, H_REPLY_MS);
    if (!json)
        harness_fail(file, line, "expected error \"%s\" within %d ms, got nothing", code,
                     H_REPLY_MS);
    const char *type = jget(json, "type")->valuestring;
    const cJSON *got = jget(json, "code");
    if (!streq(type, "error") || !cJSON_IsString(got) || !streq(got->valuestring, code))
        harness_fail(file, line, "expected error \"%s\", got: %s", code, harness_json_text(json));
    const cJSON *message = jget(json, "message");
    if (!cJSON_IsString(message) || !*message->valuestring)
        harness_fail(file, line, "error without a message sentence: %s", harness_json_text(json));
    if (request)
        jcheck_str_at(file, line, json, "request", request);
    else
        jcheck_absent_at(file, line, json, "request");
    if (id)
        jcheck_str_at(file, line, json, "id", id);
    else
        jcheck_absent_at(file, line, json, "id");
    return json;
}

void
hclient_expect_nothing_at(const char *file, int line, hclient_t *self, int ms)
{
    cJSON *json = hclient_recv_at(file, line, self, ms);
    if (json)
        harness_fail(file, line, "expected nothing, got: %s", harness_json_text(json));
}

cJSON *
hclient_ping_at(const char *file, int line, hclient_t *self)
{
    hclient_send(self, "{\"type\":\"ping\"}");
    return hclient_expect_at(file, line, self, "pong");
}

cJSON *
hclient_join_at(const char *file, int line, hclient_t *self, const char *room)
{
    hclient_sendf(self, "{\"type\":\"join\",\"room\":\"%s\"}", room);
    return hclient_expect_at(file, line, self, "joined");
}

int64_t
hclient_say_at(const char *file, int line, hclient_t *self, const char *room, const char *text)
{
    char id[32];
    snprintf(id, sizeof id, "say-%d", self->next_id++);
    hclient_sendf(self, "{\"type\":\"say\",\"room\":\"%s\",\"text\":\"%s\",\"id\":\"%s\"}", room,
                  text, id);
    cJSON *ack = hclient_expect_at(file, line, self, "ack");
    jcheck_str_at(file, line, ack, "id", id);
    return jint_at(file, line, ack, "seq");
}

void
hclient_subscribe(hclient_t *self, const char *topic)
{
    if (!self->sub) {
        self->sub = s_socket_or_fail(ZMQ_SUB);
        zsock_set_linger(self->sub, 0);
        s_client_curve(self, self->sub);
        if (zsock_connect(self->sub, "%s", hbroker_feed(self->broker)) == -1)
            FAIL("connect to %s: %s", hbroker_feed(self->broker), zmq_strerror(zmq_errno()));
    }
    harness_trace("subscribe %s to \"%s\"", self->identity, topic);
    zsock_set_subscribe(self->sub, topic);
}

cJSON *
hclient_event_at(const char *file, int line, hclient_t *self, int timeout_ms)
{
    if (!self->sub)
        harness_fail(file, line, "this client has no SUB: subscribe first");
    if (!s_wait_input(self->sub, timeout_ms))
        return NULL;
    zmsg_t *msg = zmsg_recv(self->sub);
    if (!msg)
        harness_fail(file, line, "receive: %s", zmq_strerror(zmq_errno()));
    char topic[300], text[TRACE_WIDTH];
    zframe_t *first = zmsg_first(msg);
    zframe_t *second = zmsg_next(msg);
    s_printable(topic, sizeof topic, zframe_data(first), zframe_size(first));
    if (second)
        s_printable(text, sizeof text, zframe_data(second), zframe_size(second));
    else
        snprintf(text, sizeof text, "(no second frame)");
    harness_trace("= %s [%s] %s", self->identity, topic, text);
    size_t frames = zmsg_size(msg);
    cJSON *json =
        second ? harness_json((const char *)zframe_data(second), zframe_size(second)) : NULL;
    zmsg_destroy(&msg);
    if (frames != 2)
        harness_fail(
            file, line,
            "a feed message of %zu frames (zchat-protocol(7) SOCKETS AND FRAMES: [topic][json])",
            frames);
    if (!json || !cJSON_IsObject(json))
        harness_fail(file, line, "a feed event that is not a JSON object: %s", text);
    const cJSON *room = jget(json, "room");
    const cJSON *type = jget(json, "type");
    if (!cJSON_IsString(room) || !cJSON_IsString(type))
        harness_fail(file, line, "a feed event without string type and room: %s", text);
    char expected[300];
    snprintf(expected, sizeof expected, "room/%s/", room->valuestring);
    if (!streq(topic, expected))
        harness_fail(file, line, "feed topic \"%s\" for an event of room \"%s\"", topic,
                     room->valuestring);
    if (!jis_int(jget(json, "seq")) || !jis_int(jget(json, "ts")))
        harness_fail(file, line,
                     "a room event needs integer seq and ts (zchat-protocol(7) ROOM EVENTS): %s",
                     text);
    return json;
}

cJSON *
hclient_expect_event_at(const char *file, int line, hclient_t *self, const char *room,
                        const char *type)
{
    cJSON *json = hclient_event_at(file, line, self, H_REPLY_MS);
    if (!json)
        harness_fail(file, line, "expected a %s event in %s within %d ms, got nothing", type, room,
                     H_REPLY_MS);
    if (!streq(jget(json, "room")->valuestring, room) ||
        !streq(jget(json, "type")->valuestring, type))
        harness_fail(file, line, "expected a %s event in %s, got: %s", type, room,
                     harness_json_text(json));
    return json;
}

cJSON *
hclient_expect_presence_at(const char *file, int line, hclient_t *self, const char *room,
                           const char *user, const char *event, const char *reason)
{
    cJSON *json = hclient_expect_event_at(file, line, self, room, "presence");
    const cJSON *got_user = jget(json, "user");
    const cJSON *got_event = jget(json, "event");
    if (!cJSON_IsString(got_user) || !streq(got_user->valuestring, user) ||
        !cJSON_IsString(got_event) || !streq(got_event->valuestring, event))
        harness_fail(file, line, "expected presence %s of %s in %s, got: %s", event, user, room,
                     harness_json_text(json));
    if (reason)
        jcheck_str_at(file, line, json, "reason", reason);
    return json;
}

cJSON *
hclient_expect_message_at(const char *file, int line, hclient_t *self, const char *room,
                          const char *from, const char *text)
{
    cJSON *json = hclient_expect_event_at(file, line, self, room, "message");
    const cJSON *got_from = jget(json, "from");
    const cJSON *got_text = jget(json, "text");
    if (!cJSON_IsString(got_from) || !streq(got_from->valuestring, from) ||
        !cJSON_IsString(got_text) || !streq(got_text->valuestring, text))
        harness_fail(file, line, "expected message \"%s\" from %s in %s, got: %s", text, from, room,
                     harness_json_text(json));
    return json;
}

void
hclient_expect_no_event_at(const char *file, int line, hclient_t *self, int ms)
{
    cJSON *json = hclient_event_at(file, line, self, ms);
    if (json)
        harness_fail(file, line, "expected no feed event, got: %s", harness_json_text(json));
}

int64_t
hclient_sync_feed_at(const char *file, int line, hclient_t *sub, hclient_t *talker,
                     const char *room)
{
    int64_t deadline = zclock_mono() + 5000;
    int wait_ms = 10;
    while (true) {
        hclient_sendf(talker, "{\"type\":\"say\",\"room\":\"%s\",\"text\":\"sync\"}", room);
        cJSON *event = hclient_event_at(file, line, sub, wait_ms);
        if (event && streq(jget(event, "room")->valuestring, room))
            break;
        cJSON *stray = hclient_recv_at(file, line, talker, 0);
        if (stray)
            harness_fail(file, line, "feed sync: the talker got %s", harness_json_text(stray));
        if (zclock_mono() > deadline)
            harness_fail(file, line, "feed sync: no event of %s on the SUB within 5 s", room);
        if (wait_ms < 200)
            wait_ms *= 2;
    }
    // Subscribed now: one more say, acknowledged, marks the end of the sync traffic.
    int64_t seq = hclient_say_at(file, line, talker, room, "sync");
    while (true) {
        cJSON *event = hclient_event_at(file, line, sub, H_REPLY_MS);
        if (!event)
            harness_fail(file, line, "feed sync: message %" PRId64 " of %s never arrived", seq,
                         room);
        if (streq(jget(event, "room")->valuestring, room) && jint(event, "seq") >= seq)
            break;
    }
    return seq;
}

hclient_t *
hclient_watcher_at(const char *file, int line, hbroker_t *broker, const char *topic,
                   hclient_t *talker, const char *room)
{
    hclient_t *self = hclient_new(broker);
    hclient_subscribe(self, topic);
    hclient_sync_feed_at(file, line, self, talker, room);
    return self;
}

hclient_t *
hclient_new_curve(hbroker_t *broker, const char *server_key, zcert_t *cert)
{
    return s_client_new_curve(broker, false, NULL, server_key, cert);
}

hclient_t *
hclient_login_curve_at(const char *file, int line, hbroker_t *broker, const char *user)
{
    hclient_t *self = hclient_new_curve(broker, hbroker_server_key(broker), NULL);
    hclient_sendf(self, "{\"type\":\"hello\",\"user\":\"%s\",\"proto\":1}", user);
    cJSON *welcome = hclient_expect_at(file, line, self, "welcome");
    jcheck_str_at(file, line, welcome, "user", user);
    self->welcome = welcome;
    return self;
}
