// conn.c - a client's connection to the broker: DEALER + SUB, CURVE, hello/resume/re-login,
// heartbeat, reconnect with backoff, a new broker run
//
// The coordinator: each reply goes where the table of requests in flight says it was asked
// from (the front end, a room's tracker, the login), room events to their room's tracker
// (track.c), says and msgs through the outbox (outbox.c). `pong.seqs` (members) or `rooms`
// (observers), polled every heartbeat, tell the trackers the newest seq of each room.
#include "zchat_prelude.h"
#include "zchat_hash.h"
#include "conn.h"
#include "outbox.h"
#include "seen.h"
#include "track.h"
#include "zchat_name.h"
#include "zchat_password.h"
#include <netdb.h>
#include <sodium.h>

#define CONN_RETRY_MIN_MS    500    // first reconnect attempt after a loss
#define CONN_RETRY_MAX_MS    5000   // backoff ceiling
#define CONN_QUIT_WAIT_MS    1000   // how long conn_destroy waits for bye
#define CONN_HANDSHAKE_TRIES 2      // failed handshakes without detail before conn_connect gives up
#define CONN_JOIN_RETRY_MS   1000   // an internal join refused for the moment goes again after
#define CONN_PENDING_MS      60000  // a reply not come by then never comes (history: 2 heartbeats)
#define CONN_ID_SIZE         (ZCHAT_ID_MAX + 1)  // a request id, NUL included
#define CONN_RUN_BYTES       8  // random bytes that make this conn's request ids its own

// What a request in flight was asked for: where its reply goes
typedef enum {
    S_ASK_USER,       // the front end's: on_reply
    S_ASK_USER_JOIN,  // the front end's join of room: its tracker, and on_reply
    S_ASK_HELLO,      // a login: welcome, or an error that conn_connect reports
    S_ASK_JOIN,       // ours, of room: a baseline for its tracker
    S_ASK_LEAVE,      // ours: a room a new login put us in, which we had left
    S_ASK_FETCH,      // history of room for its tracker
    S_ASK_POLL,       // ping or rooms: the newest seq of each room
    S_ASK_QUIT,
} s_ask_t;

typedef struct {
    s_ask_t ask;
    char room[ZCHAT_NAME_MAX + 1];  // the room it concerns, "" if none
    uint64_t number;                // the request's number, in its id; a fetch's token
    int64_t sent_at;                // when, monotonic ms
} s_pending_t;

// A room we are in (members) or follow (observers)
typedef struct {
    track_t *track;      // its events in seq order (owned)
    char *topic;         // its feed topic
    bool member;         // we are in the room (not an observer's follow)
    int64_t join_retry;  // when to send our join again (it was refused for the moment); 0: no need
} s_room_t;

struct conn {
    char *host;
    int port;
    char *user;  // as given; NULL for an anonymous observer
    bool observer;
    char *client;
    int connect_ms;
    int sub_hwm;
    conn_handler_t handler;
    void *arg;
    zsock_t *dealer;
    zsock_t *sub;
    char *token;  // resume token
    char *epoch;
    char *feed;
    char *display;  // user as the broker spells it
    int heartbeat_ms;
    bool online;
    bool ever_online;
    bool follow_all;
    zhashx_t *rooms;    // name -> s_room_t *, owner
    zhashx_t *pending;  // id -> s_pending_t *, owner: requests of this DEALER not answered yet
    outbox_t *outbox;   // say/msg not acked yet
    seen_t *privates;   // "sender id" of the private messages shown, sender folded
    char run[2 * CONN_RUN_BYTES + 1];  // random hex: no other conn, nor a later run, sends our ids
    uint64_t next_id;                  // the number in the id of the last request
    char hello_id[CONN_ID_SIZE];       // id of the hello in flight, "" if none
    int64_t last_heard;
    int64_t next_poll;
    int64_t hello_at;
    int retry_ms;
    bool answered;  // the hello in flight got its welcome or error: conn_wait returns
    char error_code[32];
    char error[256];
    // Security
    char *server_key;        // Z85; NULL: plain connections
    zcert_t *cert;           // ours, with CURVE (owned)
    char *password;          // sent in hello; NULL: none (wiped when freed)
    int password_tries;      // passwords asked from on_password
    zsock_t *monitor;        // the DEALER's handshake events (zmq_socket_monitor)
    bool handshake_ok;       // a handshake of the current DEALER succeeded
    int handshake_failures;  // and how many failed before
    int handshake_event;     // the last failure: ZMQ_EVENT_HANDSHAKE_FAILED_...
    uint32_t handshake_value;
    bool handshake_failed;  // conn_connect gives up: no handshake will succeed
};

static void
s_forward(conn_t *self, const zchat_msg_t *reply)
{
    if (self->handler.on_reply)
        self->handler.on_reply(self->arg, reply);
}

// --- Sending ---

// A new request id into id[CONN_ID_SIZE]; returns its number. The run's random part keeps ids
// unique beyond this conn: a private's recipient drops a repeated (sender, id), and a say found
// in history after a broker restart is recognised by its id (zchat-protocol(7) RETRIES).
static uint64_t
s_new_id(conn_t *self, char *id)
{
    snprintf(id, CONN_ID_SIZE, "c%s-%" PRIu64, self->run, ++self->next_id);
    return self->next_id;
}

// Send a request with a new id, and remember what it was asked for (and about which room, may
// be NULL) until its reply comes. Takes ownership of *request_p; writes the id into
// id[CONN_ID_SIZE] when id is not NULL. Returns the request's number.
static uint64_t
s_send(conn_t *self, zchat_msg_t **request_p, s_ask_t ask, const char *room, char *id)
{
    char my_id[CONN_ID_SIZE];
    s_pending_t *pending = zmalloc(sizeof(s_pending_t));
    pending->ask = ask;
    pending->number = s_new_id(self, my_id);
    pending->sent_at = zclock_mono();
    snprintf(pending->room, sizeof pending->room, "%s", room ? room : "");
    zhashx_update(self->pending, my_id, pending);
    zchat_msg_set_string(*request_p, "id", my_id);
    char *json = zchat_msg_encode(*request_p);
    zchat_msg_destroy(request_p);
    if (self->dealer)
        zstr_send(self->dealer, json);  // a send that fails is a reply that never comes
    free(json);
    if (id)
        memcpy(id, my_id, sizeof my_id);
    return pending->number;
}

static void
s_pending_destroy(s_pending_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

// What the request of this id was asked for, taken out of the table into *pending. False if
// the id is none of ours (or the table forgot it).
static bool
s_pending_take(conn_t *self, const char *id, s_pending_t *pending)
{
    s_pending_t *entry = id ? zhashx_lookup(self->pending, id) : NULL;
    if (!entry)
        return false;
    *pending = *entry;
    zhashx_delete(self->pending, id);
    return true;
}

static void
s_join(conn_t *self, const char *room, s_ask_t ask)
{
    zchat_msg_t *request = zchat_msg_new("join");
    zchat_msg_set_string(request, "room", room);
    s_send(self, &request, ask, ask == S_ASK_USER ? NULL : room, NULL);
}

// The outbox's way out: only on a logged-in connection.
static int
s_outbox_send(void *arg, const char *json)
{
    conn_t *self = arg;
    if (!self->online || !self->dealer)
        return -1;
    return zstr_send(self->dealer, json);
}

// --- Rooms and their trackers ---

static void
s_track_event(void *arg, track_t *track, const zchat_msg_t *event)
{
    (void)track;
    conn_t *self = arg;
    // While holding after a new broker run, a say of ours in history counts as acked
    zchat_msg_t *ack = outbox_recognise(self->outbox, event, self->display);
    if (ack)
        s_forward(self, ack);
    zchat_msg_destroy(&ack);
    if (self->handler.on_event)
        self->handler.on_event(self->arg, event);
}

static void
s_track_lost(void *arg, track_t *track, uint64_t first, uint64_t last)
{
    conn_t *self = arg;
    if (self->handler.on_lost)
        self->handler.on_lost(self->arg, track_room(track), first, last);
}

static uint64_t
s_track_fetch(void *arg, track_t *track, uint64_t since)
{
    conn_t *self = arg;
    if (!self->online)
        return 0;
    zchat_msg_t *request = zchat_msg_new("history");
    zchat_msg_set_string(request, "room", track_room(track));
    zchat_msg_set_int(request, "since", (int64_t)since);
    zchat_msg_set_int(request, "limit", ZCHAT_HISTORY_MAX);
    return s_send(self, &request, S_ASK_FETCH, track_room(track), NULL);
}

static const track_sink_t s_track_sink = {s_track_event, s_track_lost, s_track_fetch};

static void
s_room_destroy(s_room_t **self_p)
{
    if (*self_p) {
        s_room_t *self = *self_p;
        track_destroy(&self->track);
        zstr_free(&self->topic);
        free(self);
        *self_p = NULL;
    }
}

// The room of this name, made (and subscribed to) if new, delivered up to last (-1: unknown).
static s_room_t *
s_room_require(conn_t *self, const char *name, int64_t last)
{
    s_room_t *room = zhashx_lookup(self->rooms, name);
    if (!room) {
        room = zmalloc(sizeof(s_room_t));
        room->track = track_new(name, last, &s_track_sink, self);
        room->topic = zsys_sprintf("room/%s/", name);
        zhashx_insert(self->rooms, name, room);
        if (self->sub && !self->follow_all)
            zsock_set_subscribe(self->sub, room->topic);
    }
    return room;
}

static void
s_room_remove(conn_t *self, const char *name)
{
    s_room_t *room = zhashx_lookup(self->rooms, name);
    if (!room)
        return;
    if (self->sub && !self->follow_all)
        zsock_set_unsubscribe(self->sub, room->topic);
    zhashx_delete(self->rooms, name);
}

// The track of the room of this name; NULL if we are not in it.
static track_t *
s_track(conn_t *self, const char *name)
{
    s_room_t *room = name ? zhashx_lookup(self->rooms, name) : NULL;
    return room ? room->track : NULL;
}

// Every room we are in has read what it missed: the hold after a new broker run may end.
static bool
s_rooms_settled(conn_t *self)
{
    for (s_room_t *r = zhashx_first(self->rooms); r; r = zhashx_next(self->rooms))
        if (r->member && !track_is_settled(r->track))
            return false;
    return true;
}

// --- Security ---

// CURVE on sock when we have the broker's key: our certificate, and the key it must prove.
static void
s_apply_curve(conn_t *self, zsock_t *sock)
{
    if (!self->server_key)
        return;
    zcert_apply(self->cert, sock);
    zsock_set_curve_serverkey(sock, self->server_key);
}

// Watch the handshakes of the DEALER, so that a wrong key is said within a second instead of
// looking like a broker that does not answer.
static void
s_monitor(conn_t *self)
{
    static unsigned count;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://zchat-conn-monitor-%d-%u", (int)getpid(),
             ++count);
    self->handshake_ok = false;
    self->handshake_failures = 0;
    self->handshake_failed = false;
    int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(zsock_resolve(self->dealer), endpoint, events) == -1)
        return;
    self->monitor = zsock_new(ZMQ_PAIR);
    assert(self->monitor);
    if (zsock_connect(self->monitor, "%s", endpoint) == -1)
        zsock_destroy(&self->monitor);
}

static void
s_monitor_stop(conn_t *self)
{
    if (self->dealer && self->monitor)
        zmq_socket_monitor(zsock_resolve(self->dealer), NULL, 0);
    zsock_destroy(&self->monitor);
}

// A handshake event: [event (2 bytes) value (4 bytes)][endpoint].
static void
s_on_monitor(conn_t *self)
{
    zmsg_t *msg = zmsg_recv(self->monitor);
    zframe_t *frame = msg ? zmsg_first(msg) : NULL;
    if (frame && zframe_size(frame) >= 6) {
        uint16_t event;
        uint32_t value;
        memcpy(&event, zframe_data(frame), 2);
        memcpy(&value, zframe_data(frame) + 2, 4);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            self->handshake_ok = true;
        } else {
            self->handshake_failures++;
            self->handshake_event = event;
            self->handshake_value = value;
            zchat_debug("handshake with tcp://%s:%d failed (event 0x%x, %u)", self->host,
                        self->port, event, value);
            // A mechanism mismatch or a refused key is final; a cut without detail (what a
            // wrong server key looks like from here) may be a broker going down: wait for two
            if (!self->ever_online && !self->handshake_ok &&
                (event != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
                 self->handshake_failures >= CONN_HANDSHAKE_TRIES)) {
                self->handshake_failed = true;
                self->answered = true;  // conn_wait returns: conn_connect can tell now
            }
        }
    }
    zmsg_destroy(&msg);
}

// Why the handshakes failed, for conn_error.
static void
s_handshake_error(conn_t *self)
{
    snprintf(self->error_code, sizeof self->error_code, "handshake");
    if (self->handshake_event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        snprintf(self->error, sizeof self->error,
                 "the broker at %s:%d refused our client key (is it in the broker's --clients "
                 "directory?)",
                 self->host, self->port);
    else if (self->handshake_event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
             self->handshake_value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        snprintf(self->error, sizeof self->error,
                 self->server_key
                     ? "cannot connect securely to %s:%d: the broker does not use CURVE "
                       "(drop --server-key?)"
                     : "cannot connect to %s:%d: the broker uses CURVE encryption (give "
                       "--server-key)",
                 self->host, self->port);
    else if (self->server_key)
        snprintf(self->error, sizeof self->error,
                 "cannot connect securely to %s:%d: wrong --server-key?", self->host, self->port);
    else
        snprintf(self->error, sizeof self->error,
                 "cannot connect to %s:%d: the handshake failed (a broker with CURVE "
                 "encryption needs --server-key)",
                 self->host, self->port);
}

// --- Replies ---

static void
s_subscribe_all(conn_t *self)
{
    zsock_destroy(&self->sub);
    self->sub = zsock_new(ZMQ_SUB);
    assert(self->sub);
    if (self->sub_hwm > 0)
        zsock_set_rcvhwm(self->sub, self->sub_hwm);
    s_apply_curve(self, self->sub);
    if (self->follow_all)
        zsock_set_subscribe(self->sub, "room/");
    for (s_room_t *r = zhashx_first(self->rooms); r; r = zhashx_next(self->rooms))
        if (!self->follow_all)
            zsock_set_subscribe(self->sub, r->topic);
    if (zsock_connect(self->sub, "%s", self->feed) == -1)
        zsys_error("cannot connect to the feed %s", self->feed);
}

static void
s_on_welcome(conn_t *self, zchat_msg_t *welcome)
{
    const char *epoch = zchat_msg_string(welcome, "epoch");
    const char *feed = zchat_msg_string(welcome, "feed");
    const char *token = zchat_msg_string(welcome, "session");
    const char *user = zchat_msg_string(welcome, "user");
    int64_t heartbeat = 0;
    zchat_msg_opt_int(welcome, "heartbeat_ms", &heartbeat);
    if (!epoch || !feed || !token || !user) {
        zsys_warning("ignoring a welcome without epoch, feed, session or user");
        return;
    }
    bool reconnect = self->ever_online;
    self->error_code[0] = self->error[0] = 0;  // a later refusal is news again
    bool new_epoch = self->epoch && !streq(self->epoch, epoch);
    bool new_feed = !self->feed || !streq(self->feed, feed);
    zstr_free(&self->epoch);
    zstr_free(&self->token);
    zstr_free(&self->display);
    self->epoch = strdup(epoch);
    self->token = strdup(token);
    self->display = strdup(user);
    if (new_feed) {
        zstr_free(&self->feed);
        self->feed = strdup(feed);
    }
    self->heartbeat_ms = heartbeat > 0 ? (int)heartbeat : ZCHAT_DEFAULT_HEARTBEAT;
    self->online = true;
    self->ever_online = true;
    self->hello_at = 0;
    self->hello_id[0] = 0;
    self->answered = true;
    self->retry_ms = CONN_RETRY_MIN_MS;
    self->next_poll = zclock_mono();
    if (new_feed || !self->sub)
        s_subscribe_all(self);

    // Our rooms: the broker's list (a fresh login: lobby) and the ones we were in before. A
    // new login after a restart puts us in lobby again: leave it if we had left it.
    zhashx_t *in_session = zchat_hash_new();
    for (size_t i = 0; i < zchat_msg_array_size(welcome, "rooms"); i++) {
        const char *name = zchat_msg_array_string(welcome, "rooms", i);
        s_room_t *room = name ? zhashx_lookup(self->rooms, name) : NULL;
        if (name && reconnect && !(room && room->member)) {
            zchat_msg_t *leave = zchat_msg_new("leave");
            zchat_msg_set_string(leave, "room", name);
            s_send(self, &leave, S_ASK_LEAVE, NULL, NULL);
        } else if (name) {
            s_room_require(self, name, -1)->member = true;
            zhashx_insert(in_session, name, (void *)name);
        }
    }
    for (s_room_t *r = zhashx_first(self->rooms); r; r = zhashx_next(self->rooms)) {
        const char *name = track_room(r->track);
        // Whatever was in flight went to the old connection
        track_fetch_failed(r->track, 0, false);
        if (r->member && new_epoch)
            track_rebase(r->track);  // a new broker run: its seq may not continue ours
        // Back in, or a baseline from joined: a new session was put in lobby before we were
        // subscribed, so only joined, sent now, tells from where its feed is ours
        // (zchat-protocol(7) SESSIONS AND RESTARTS)
        if (r->member &&
            (!zhashx_lookup(in_session, name) || track_last(r->track) < 0 || new_epoch))
            s_join(self, name, S_ASK_JOIN);
        else
            track_fill(r->track);  // resumed (or followed): fill what we missed
    }
    zhashx_destroy(&in_session);
    if (self->observer && self->follow_all) {
        zchat_msg_t *request = zchat_msg_new("rooms");
        s_send(self, &request, S_ASK_POLL, NULL, NULL);
    }
    // A new broker run knows no retry ids: what it may have stored of ours before it died,
    // unacked, shows in the history the rooms fetch now; wait for it before sending again
    int64_t now = zclock_mono();
    if (new_epoch)
        outbox_hold(self->outbox, now + 2 * (int64_t)self->heartbeat_ms);
    outbox_resend(self->outbox, now);
    if (reconnect && self->handler.on_state)
        self->handler.on_state(self->arg, CONN_RECONNECTED);
}

static void
s_on_joined(conn_t *self, zchat_msg_t *joined)
{
    const char *name = zchat_msg_string(joined, "room");
    int64_t seq = -1;
    zchat_msg_opt_int(joined, "seq", &seq);
    if (!name || seq < 0)
        return;
    s_room_t *room = s_room_require(self, name, -1);
    room->member = true;
    room->join_retry = 0;
    track_joined(room->track, (uint64_t)seq);
}

// pong.seqs or a rooms list: the newest seq of a room
static void
s_on_seq(conn_t *self, const char *name, int64_t seq)
{
    s_room_t *room = zhashx_lookup(self->rooms, name);
    if (!room && self->follow_all) {
        uint64_t since = self->handler.on_new_room ? self->handler.on_new_room(self->arg, name) : 0;
        room = s_room_require(self, name, (int64_t)since);
    }
    if (room && seq >= 0)
        track_told(room->track, (uint64_t)seq);
}

static void
s_on_rooms(conn_t *self, zchat_msg_t *reply)
{
    for (size_t i = 0; i < zchat_msg_array_size(reply, "rooms"); i++) {
        zchat_msg_t *room = zchat_msg_array_object(reply, "rooms", i);
        const char *name = room ? zchat_msg_string(room, "name") : NULL;
        int64_t seq = -1;
        if (name && zchat_msg_opt_int(room, "seq", &seq) == 0)
            s_on_seq(self, name, seq);
    }
}

static void s_relogin(conn_t *self);

static void
s_on_pong(conn_t *self, zchat_msg_t *pong)
{
    // zchat-broker tells whether this connection still has a session, and its epoch
    bool logged_in = true;
    zchat_msg_opt_bool(pong, "logged_in", &logged_in);
    const char *epoch = zchat_msg_string(pong, "epoch");
    if (self->online && (!logged_in || (epoch && self->epoch && !streq(epoch, self->epoch))))
        s_relogin(self);
    zchat_msg_t *seqs = zchat_msg_object(pong, "seqs");
    const char *room;
    for (size_t i = 0; seqs && (room = zchat_msg_member(seqs, i)); i++) {
        int64_t seq = -1;
        zchat_msg_opt_int(seqs, room, &seq);
        s_on_seq(self, room, seq);
    }
}

// A private message: shown once. A msg sent again (its ack lost with a broker that died) makes
// a second private with the same id from the same sender (zchat-protocol(7) RETRIES).
static void
s_on_private(conn_t *self, zchat_msg_t *private)
{
    const char *from = zchat_msg_string(private, "from");
    const char *id = zchat_msg_string(private, "id");
    char fold[ZCHAT_NAME_MAX + 1];
    if (from && id && zchat_name_fold(from, fold, sizeof fold) == 0) {
        char *key = zsys_sprintf("%s %s", fold, id);  // a folded name has no space
        bool repeat = seen_check(self->privates, key);
        zstr_free(&key);
        if (repeat)
            return;
    }
    s_forward(self, private);
}

static void
s_hello(conn_t *self)
{
    zchat_msg_t *hello = zchat_msg_new("hello");
    if (self->user)
        zchat_msg_set_string(hello, "user", self->user);
    zchat_msg_set_int(hello, "proto", ZCHAT_PROTO);
    zchat_msg_set_string(hello, "client", self->client);
    if (self->observer)
        zchat_msg_set_bool(hello, "observer", true);
    if (self->token)
        zchat_msg_set_string(hello, "resume", self->token);
    if (self->password)
        zchat_msg_set_string(hello, "password", self->password);
    s_send(self, &hello, S_ASK_HELLO, NULL, self->hello_id);
    self->hello_at = zclock_mono();
}

// The broker forgot us (a restart, an expiry, a takeover): log in again, resuming if it can;
// say/msg stay queued for a resend.
static void
s_relogin(conn_t *self)
{
    if (self->online) {
        self->online = false;
        if (self->handler.on_state)
            self->handler.on_state(self->arg, CONN_LOST);
    }
    if (!self->hello_id[0])
        s_hello(self);
}

// The first login needs a password, or another one: ask the front end. True if it gave one.
static bool
s_ask_password(conn_t *self)
{
    if (self->ever_online || !self->handler.on_password ||
        self->password_tries >= CONN_PASSWORD_TRIES)
        return false;
    self->password_tries++;
    char *password = self->handler.on_password(self->arg, self->user ? self->user : "");
    if (!password)
        return false;
    zchat_password_free(&self->password);
    self->password = password;
    return true;
}

// The hello in flight was refused.
static void
s_on_hello_error(conn_t *self, zchat_msg_t *error, const char *code, const char *message)
{
    self->hello_id[0] = 0;
    if (streq(code, "auth_failed") && s_ask_password(self)) {
        s_hello(self);  // again, with the password: conn_connect waits on
        return;
    }
    self->answered = true;
    // A re-login is retried every few seconds: the front end hears of a refusal once, not
    // at every retry, until it changes or a login succeeds
    bool again = streq(self->error_code, code) && streq(self->error, message ? message : code);
    snprintf(self->error_code, sizeof self->error_code, "%s", code);
    snprintf(self->error, sizeof self->error, "%s", message ? message : code);
    if (self->ever_online && !again)
        s_forward(self, error);
}

static void
s_on_error(conn_t *self, zchat_msg_t *error, const char *id)
{
    const char *code = zchat_msg_string(error, "code");
    const char *message = zchat_msg_string(error, "message");
    if (!code)
        return;
    s_pending_t pending = {.ask = S_ASK_USER};
    bool asked = s_pending_take(self, id, &pending);
    if (asked && pending.ask == S_ASK_HELLO) {
        if (streq(id, self->hello_id))
            s_on_hello_error(self, error, code, message);
        return;  // an older hello's: the newer one answers
    }
    if (streq(code, "not_logged_in")) {
        s_relogin(self);  // a say or msg stays in the outbox for the resend
        return;
    }
    bool retry = conn_error_is_retryable(code);
    int64_t now = zclock_mono();
    if (id && outbox_has(self->outbox, id)) {
        if (retry)
            outbox_retry(self->outbox, id, now);
        else if (outbox_drop(self->outbox, id, now))
            s_forward(self, error);
        return;
    }
    if (!asked) {
        if (!id)
            s_forward(self, error);  // about no request in particular (bad_frame, bad_json)
        return;
    }
    s_room_t *room = pending.room[0] ? zhashx_lookup(self->rooms, pending.room) : NULL;
    switch (pending.ask) {
    case S_ASK_USER_JOIN:
        if (room && !room->member)
            s_room_remove(self, pending.room);  // the join failed: stop listening
        s_forward(self, error);
        return;
    case S_ASK_USER:
        s_forward(self, error);
        return;
    case S_ASK_FETCH:
        // Refused (no_such_room: a followed room not created yet): no longer in flight, so
        // the next gap or poll can fetch again
        if (room)
            track_fetch_failed(room->track, pending.number, false);
        break;
    case S_ASK_JOIN:
        // Refused for the moment (a reconnect in many rooms sends many joins at once, or the
        // broker is full): it goes again a second later, the room must not stay left behind
        if (room && retry)
            room->join_retry = now + CONN_JOIN_RETRY_MS;
        break;
    default:
        break;
    }
    if (!streq(code, "no_such_room") && !retry)
        zsys_warning("broker refused an internal request: %s", code);
}

// A reply to a request of ours, routed by what it was asked for.
static void
s_on_reply(conn_t *self, zchat_msg_t *reply, const char *type, const s_pending_t *pending)
{
    switch (pending->ask) {
    case S_ASK_USER:
    case S_ASK_USER_JOIN:
        if (streq(type, "joined"))
            s_on_joined(self, reply);
        else if (streq(type, "left") && zchat_msg_string(reply, "room"))
            s_room_remove(self, zchat_msg_string(reply, "room"));
        s_forward(self, reply);  // joined, left, rooms, users, history, ok, bye...
        break;
    case S_ASK_HELLO:
        if (streq(type, "welcome"))
            s_on_welcome(self, reply);
        break;
    case S_ASK_JOIN:
        if (streq(type, "joined"))
            s_on_joined(self, reply);
        break;
    case S_ASK_FETCH:
        if (streq(type, "history") && s_track(self, pending->room))
            track_history(s_track(self, pending->room), reply, pending->number);
        break;
    case S_ASK_POLL:
        if (streq(type, "pong"))
            s_on_pong(self, reply);
        else if (streq(type, "rooms"))
            s_on_rooms(self, reply);
        break;
    case S_ASK_LEAVE:
    case S_ASK_QUIT:
        break;
    }
}

static void
s_on_command(conn_t *self)
{
    char *json = zstr_recv(self->dealer);
    if (!json)
        return;
    zchat_msg_t *reply = zchat_msg_decode(json, strlen(json), NULL);
    zstr_free(&json);
    if (!reply || !zchat_msg_type(reply)) {
        zsys_warning("ignoring a malformed message from the broker");
        zchat_msg_destroy(&reply);
        return;
    }
    self->last_heard = zclock_mono();
    const char *type = zchat_msg_type(reply);
    const char *id = zchat_msg_string(reply, "id");
    s_pending_t pending;
    if (streq(type, "private")) {
        s_on_private(self, reply);  // not a reply: its id is the sender's msg's
    } else if (streq(type, "error")) {
        s_on_error(self, reply, id);
    } else if (id && outbox_has(self->outbox, id)) {
        zchat_msg_t *ack = outbox_ack(self->outbox, reply, self->last_heard);
        if (ack)
            s_forward(self, ack);
        zchat_msg_destroy(&ack);
    } else if (s_pending_take(self, id, &pending)) {
        s_on_reply(self, reply, type, &pending);
    } else if (!id) {
        s_forward(self, reply);  // a reply to no request: the front end may know it
    } else {
        zchat_debug("ignoring a reply to no request of ours");
    }
    zchat_msg_destroy(&reply);
}

static void
s_on_feed(conn_t *self)
{
    zmsg_t *msg = zmsg_recv(self->sub);
    if (!msg)
        return;
    char *topic = zmsg_popstr(msg);
    char *json = zmsg_popstr(msg);
    zmsg_destroy(&msg);
    zchat_msg_t *event = json ? zchat_msg_decode(json, strlen(json), NULL) : NULL;
    const char *name = event ? zchat_msg_string(event, "room") : NULL;
    if (name) {
        s_room_t *room = zhashx_lookup(self->rooms, name);
        if (!room && self->follow_all) {
            uint64_t since =
                self->handler.on_new_room ? self->handler.on_new_room(self->arg, name) : 0;
            room = s_room_require(self, name, (int64_t)since);
        }
        if (room)
            track_take(room->track, &event);
    }
    zchat_msg_destroy(&event);
    zstr_free(&topic);
    zstr_free(&json);
}

// --- Timers: heartbeat, liveness, reconnect ---

static void
s_new_dealer(conn_t *self)
{
    s_monitor_stop(self);
    zsock_destroy(&self->dealer);
    zhashx_purge(self->pending);  // no reply to the old DEALER comes to the new one
    self->dealer = zsock_new(ZMQ_DEALER);
    assert(self->dealer);
    // A random routing id (zchat-protocol(7) SOCKETS AND FRAMES), in hex after a letter: libzmq
    // reserves ids that start with a zero byte
    byte noise[CONN_ROUTING_ID_BYTES];
    char identity[2 * sizeof noise + 2] = "c";
    randombytes_buf(noise, sizeof noise);
    sodium_bin2hex(identity + 1, sizeof identity - 1, noise, sizeof noise);
    zsock_set_identity(self->dealer, identity);
    zsock_set_linger(self->dealer, 0);
    // Never block on a send: with no usable pipe (a handshake failed, say because the port is
    // now another socket type) libzmq would wait forever. A send that fails is a request lost,
    // which liveness (silence for 3 heartbeats) turns into a reconnect.
    zsock_set_sndtimeo(self->dealer, 0);
    zsock_set_maxmsgsize(self->dealer, -1);
    s_apply_curve(self, self->dealer);
    s_monitor(self);
    if (zsock_connect(self->dealer, "tcp://%s:%d", self->host, self->port) == -1)
        zsys_error("cannot connect to tcp://%s:%d", self->host, self->port);
}

// Requests whose reply is overdue. A history reply the broker could not queue
// (zchat-protocol(7) SLOW CONSUMERS) never comes: after two heartbeats its room asks again
// rather than wait on it forever. Any other is forgotten after CONN_PENDING_MS.
static void
s_pending_expire(conn_t *self, int64_t now)
{
    zlist_t *overdue = zlist_new();
    zlist_autofree(overdue);
    for (s_pending_t *p = zhashx_first(self->pending); p; p = zhashx_next(self->pending)) {
        int64_t limit = p->ask == S_ASK_FETCH ? 2 * (int64_t)self->heartbeat_ms : CONN_PENDING_MS;
        if (now - p->sent_at > limit)
            zlist_append(overdue, (void *)zhashx_cursor(self->pending));
    }
    for (char *id = zlist_first(overdue); id; id = zlist_next(overdue)) {
        s_pending_t pending;
        s_pending_take(self, id, &pending);
        track_t *track = pending.ask == S_ASK_FETCH ? s_track(self, pending.room) : NULL;
        if (track)
            track_fetch_failed(track, pending.number, true);
    }
    zlist_destroy(&overdue);
}

static void
s_on_timers(conn_t *self)
{
    int64_t now = zclock_mono();
    if (outbox_is_holding(self->outbox))
        outbox_release(self->outbox, s_rooms_settled(self), now);
    outbox_pump(self->outbox, now);  // after a pause, or a full DEALER that refused a send
    if (self->online) {
        if (now - self->last_heard > 3 * (int64_t)self->heartbeat_ms) {
            self->online = false;
            zsys_warning("the broker stopped answering: reconnecting");
            if (self->handler.on_state)
                self->handler.on_state(self->arg, CONN_LOST);
            s_new_dealer(self);
            s_hello(self);
            self->retry_ms = CONN_RETRY_MIN_MS;
        } else if (now >= self->next_poll) {
            zchat_msg_t *poll = zchat_msg_new(self->observer ? "rooms" : "ping");
            s_send(self, &poll, S_ASK_POLL, NULL, NULL);
            self->next_poll = now + self->heartbeat_ms;
            s_pending_expire(self, now);
            for (s_room_t *r = zhashx_first(self->rooms); r; r = zhashx_next(self->rooms))
                if (r->join_retry && now >= r->join_retry) {
                    r->join_retry = 0;
                    s_join(self, track_room(r->track), S_ASK_JOIN);
                }
            // The same for an ack, and for a say lost with a connection that came back by
            // itself (no welcome): else its place in the window would be gone for good
            outbox_check(self->outbox, now, 2 * (int64_t)self->heartbeat_ms);
        }
    } else if (self->ever_online && now - self->hello_at > self->retry_ms) {
        // No welcome yet: try again on a fresh connection, backing off
        s_new_dealer(self);
        s_hello(self);
        self->retry_ms =
            self->retry_ms * 2 > CONN_RETRY_MAX_MS ? CONN_RETRY_MAX_MS : self->retry_ms * 2;
    }
}

static int64_t
s_next_timer(const conn_t *self)
{
    if (self->online) {
        int64_t dead = self->last_heard + 3 * (int64_t)self->heartbeat_ms + 1;
        int64_t next = self->next_poll < dead ? self->next_poll : dead;
        int64_t outbox = outbox_wake(self->outbox, zclock_mono());  // a pause or a hold ends
        return outbox < next ? outbox : next;
    }
    return self->ever_online ? self->hello_at + self->retry_ms + 1 : zclock_mono() + 100;
}

// --- Public ---

conn_t *
conn_new(const conn_options_t *options, const conn_handler_t *handler, void *arg)
{
    assert(options && options->host && handler);
    conn_t *self = zmalloc(sizeof(conn_t));
    self->host = strdup(options->host);
    self->port = options->port;
    self->user = options->user ? strdup(options->user) : NULL;
    self->observer = options->observer;
    self->client = strdup(options->client ? options->client : "zchat/" ZCHAT_VERSION);
    self->connect_ms = options->connect_ms > 0 ? options->connect_ms : 5000;
    self->sub_hwm = options->sub_hwm;
    self->handler = *handler;
    self->arg = arg;
    self->heartbeat_ms = ZCHAT_DEFAULT_HEARTBEAT;
    self->retry_ms = CONN_RETRY_MIN_MS;
    self->rooms = zchat_hash_new();
    zhashx_set_destructor(self->rooms, (zhashx_destructor_fn *)s_room_destroy);
    self->pending = zchat_hash_new();
    zhashx_set_destructor(self->pending, (zhashx_destructor_fn *)s_pending_destroy);
    self->outbox = outbox_new(s_outbox_send, self);
    self->privates = seen_new(SEEN_PRIVATES);
    byte run[CONN_RUN_BYTES];
    randombytes_buf(run, sizeof run);
    sodium_bin2hex(self->run, sizeof self->run, run, sizeof run);
    if (options->server_key) {
        self->server_key = strdup(options->server_key);
        assert(self->server_key);
        self->cert = options->client_cert ? zcert_dup(options->client_cert) : zcert_new();
        assert(self->cert);
    }
    if (options->password) {
        self->password = strdup(options->password);
        assert(self->password);
    }
    return self;
}

void
conn_destroy(conn_t **self_p, const char *reason)
{
    assert(self_p);
    if (*self_p) {
        conn_t *self = *self_p;
        if (self->online && self->dealer) {
            zchat_msg_t *quit = zchat_msg_new("quit");
            if (reason && *reason)
                zchat_msg_set_string(quit, "reason", reason);
            s_send(self, &quit, S_ASK_QUIT, NULL, NULL);
            // Wait a moment for bye, so the quit surely left before the socket closes
            int64_t until = zclock_mono() + CONN_QUIT_WAIT_MS;
            zsock_set_rcvtimeo(self->dealer, CONN_QUIT_WAIT_MS);
            while (zclock_mono() < until) {
                char *json = zstr_recv(self->dealer);
                if (!json)
                    break;
                zchat_msg_t *reply = zchat_msg_decode(json, strlen(json), NULL);
                bool bye = reply && zchat_msg_type(reply) && streq(zchat_msg_type(reply), "bye");
                zchat_msg_destroy(&reply);
                zstr_free(&json);
                if (bye)
                    break;
            }
        }
        s_monitor_stop(self);
        zsock_destroy(&self->dealer);
        zsock_destroy(&self->sub);
        zcert_destroy(&self->cert);
        zstr_free(&self->server_key);
        zchat_password_free(&self->password);
        zhashx_destroy(&self->rooms);
        zhashx_destroy(&self->pending);
        outbox_destroy(&self->outbox);
        seen_destroy(&self->privates);
        zstr_free(&self->token);
        zstr_free(&self->epoch);
        zstr_free(&self->feed);
        zstr_free(&self->display);
        free(self->host);
        free(self->user);
        free(self->client);
        free(self);
        *self_p = NULL;
    }
}

// Look the host up once, as libzmq will. Returns 0, or -1 with the error "unknown_host" when
// the name does not resolve.
static int
s_resolve(conn_t *self)
{
    char name[256];  // an IPv6 literal goes in brackets in an endpoint, not in a lookup
    size_t length = strlen(self->host);
    if (self->host[0] == '[' && length > 2 && self->host[length - 1] == ']')
        snprintf(name, sizeof name, "%.*s", (int)(length - 2), self->host + 1);
    else
        snprintf(name, sizeof name, "%s", self->host);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(name, NULL, &hints, &found);
    if (found)
        freeaddrinfo(found);
    if (rc == 0)
        return 0;
    snprintf(self->error_code, sizeof self->error_code, "unknown_host");
    snprintf(self->error, sizeof self->error, "unknown host %s: %s (check the name given to -H)",
             self->host, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    return -1;
}

int
conn_connect(conn_t *self)
{
    assert(self);
    self->error_code[0] = self->error[0] = 0;
    // libzmq resolves the host in the background and retries for ever: a name that does not
    // resolve would look like a broker that does not answer
    if (s_resolve(self) == -1)
        return -1;
    s_new_dealer(self);
    s_hello(self);
    while (!self->online && self->hello_id[0]) {
        // From the last hello: one sent again with a password has its own connect_ms
        int64_t left = self->hello_at + self->connect_ms - zclock_mono();
        if (left <= 0)
            break;
        if (self->handshake_failed) {
            s_handshake_error(self);
            return -1;
        }
        if (conn_wait(self, -1, (int)left) == -1) {
            snprintf(self->error_code, sizeof self->error_code, "interrupted");
            snprintf(self->error, sizeof self->error, "interrupted");
            return -1;
        }
    }
    if (self->online)
        return 0;
    if (!self->error_code[0]) {
        snprintf(self->error_code, sizeof self->error_code, "unreachable");
        snprintf(self->error, sizeof self->error,
                 "cannot reach the broker at tcp://%s:%d within %d ms (is zchat-broker running?)",
                 self->host, self->port, self->connect_ms);
    }
    return -1;
}

const char *
conn_error_code(const conn_t *self)
{
    assert(self);
    return self->error_code;
}

const char *
conn_error(const conn_t *self)
{
    assert(self);
    return self->error;
}

int
conn_wait(conn_t *self, int fd, int timeout_ms)
{
    assert(self);
    int64_t until = zclock_mono() + timeout_ms;
    while (true) {
        if (zsys_interrupted)
            return -1;
        s_on_timers(self);
        int64_t now = zclock_mono();
        int64_t wake = s_next_timer(self);
        if (wake > until)
            wake = until;
        long wait = wake > now ? (long)(wake - now) : 0;
        zmq_pollitem_t items[4];
        int n = 0;
        int dealer_at = -1, sub_at = -1, fd_at = -1, monitor_at = -1;
        if (self->dealer)
            dealer_at = n,
            items[n++] = (zmq_pollitem_t){zsock_resolve(self->dealer), 0, ZMQ_POLLIN, 0};
        if (self->sub)
            sub_at = n, items[n++] = (zmq_pollitem_t){zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0};
        if (fd >= 0)
            fd_at = n, items[n++] = (zmq_pollitem_t){NULL, fd, ZMQ_POLLIN, 0};
        if (self->monitor)
            monitor_at = n,
            items[n++] = (zmq_pollitem_t){zsock_resolve(self->monitor), 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(items, n, wait);
        if (rc == -1 && errno == EINTR && !zsys_interrupted)
            continue;  // another signal (SIGWINCH, SIGHUP...): the caller's flags tell
        if (rc == -1)
            return zsys_interrupted ? -1 : 0;
        // Drain what is ready, commands first: a joined reply sets the baseline for the feed
        if (dealer_at >= 0 && (items[dealer_at].revents & ZMQ_POLLIN))
            while (self->dealer && (zsock_events(self->dealer) & ZMQ_POLLIN))
                s_on_command(self);
        if (sub_at >= 0 && (items[sub_at].revents & ZMQ_POLLIN))
            while (self->sub && (zsock_events(self->sub) & ZMQ_POLLIN))
                s_on_feed(self);
        if (monitor_at >= 0 && (items[monitor_at].revents & ZMQ_POLLIN))
            while (self->monitor && (zsock_events(self->monitor) & ZMQ_POLLIN))
                s_on_monitor(self);
        if (fd_at >= 0 && (items[fd_at].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            return 1;
        if (self->answered) {
            // conn_connect's wait ends with the answer to its hello, before any event of
            // the new session reaches the front end ahead of its greeting
            self->answered = false;
            return 0;
        }
        if (zclock_mono() >= until)
            return 0;
    }
}

const char *
conn_user(const conn_t *self)
{
    assert(self);
    return self->display ? self->display : (self->user ? self->user : "");
}

bool
conn_is_online(const conn_t *self)
{
    assert(self);
    return self->online;
}

void
conn_join(conn_t *self, const char *room)
{
    assert(self && room);
    char name[ZCHAT_NAME_MAX + 1];
    if (zchat_name_room(room, name, sizeof name) == -1) {
        s_join(self, room, S_ASK_USER);  // the broker says what is wrong with it
        return;
    }
    if (!zhashx_lookup(self->rooms, name))
        // Subscribe before joining, so no event of this membership can pass us by
        track_expect_join(s_room_require(self, name, -1)->track);
    s_join(self, name, S_ASK_USER_JOIN);
}

void
conn_leave(conn_t *self, const char *room)
{
    assert(self && room);
    zchat_msg_t *request = zchat_msg_new("leave");
    zchat_msg_set_string(request, "room", room);
    s_send(self, &request, S_ASK_USER, NULL, NULL);
}

// A say or msg goes through the outbox: retried until acked, never delivered twice.
static void
s_send_tracked(conn_t *self, zchat_msg_t **request_p)
{
    char id[CONN_ID_SIZE];
    s_new_id(self, id);
    zchat_msg_set_string(*request_p, "id", id);
    outbox_add(self->outbox, request_p, zclock_mono());
}

void
conn_say(conn_t *self, const char *room, const char *text)
{
    assert(self && room && text);
    zchat_msg_t *request = zchat_msg_new("say");
    zchat_msg_set_string(request, "room", room);
    zchat_msg_set_string(request, "text", text);
    s_send_tracked(self, &request);
}

void
conn_msg(conn_t *self, const char *to, const char *text)
{
    assert(self && to && text);
    zchat_msg_t *request = zchat_msg_new("msg");
    zchat_msg_set_string(request, "to", to);
    zchat_msg_set_string(request, "text", text);
    s_send_tracked(self, &request);
}

void
conn_send(conn_t *self, zchat_msg_t **request_p)
{
    assert(self && request_p && *request_p);
    s_send(self, request_p, S_ASK_USER, NULL, NULL);
}

void
conn_follow(conn_t *self, const char *room, uint64_t since)
{
    assert(self);
    if (!room) {
        self->follow_all = true;
        if (self->sub)
            zsock_set_subscribe(self->sub, "room/");
        return;
    }
    track_fill(s_room_require(self, room, (int64_t)since)->track);
}

zlist_t *
conn_rooms(const conn_t *self)
{
    assert(self);
    zlist_t *names = zlist_new();
    zlist_autofree(names);
    for (s_room_t *r = zhashx_first(self->rooms); r; r = zhashx_next(self->rooms))
        zlist_append(names, (void *)track_room(r->track));
    return names;
}

bool
conn_error_is_retryable(const char *code)
{
    assert(code);
    return streq(code, "rate_limited") || streq(code, "server_full");
}

// --- Self-test: a fake broker, a ROUTER on loopback that the test answers by hand ---

typedef struct {
    char replies[512];  // the type of each reply to the front end, in order
    char seen[128];     // the seq of each event
    int count;          // replies and events
} s_log_t;

static void
s_test_log(char *buffer, size_t size, const char *text)
{
    size_t len = strlen(buffer);
    snprintf(buffer + len, size - len, "%s ", text);
}

static void
s_test_reply(void *arg, const zchat_msg_t *reply)
{
    s_log_t *log = arg;
    s_test_log(log->replies, sizeof log->replies, zchat_msg_type(reply));
    log->count++;
}

static void
s_test_event(void *arg, const zchat_msg_t *event)
{
    s_log_t *log = arg;
    int64_t seq = -1;
    zchat_msg_opt_int(event, "seq", &seq);
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, seq);
    s_test_log(log->seen, sizeof log->seen, text);
    log->count++;
}

// Handle what the broker sends until the log has count entries.
static void
s_test_until(conn_t *conn, const s_log_t *log, int count)
{
    int64_t deadline = zclock_mono() + 5000;
    while (log->count < count && zclock_mono() < deadline)
        conn_wait(conn, -1, 20);
    assert(log->count == count);
}

typedef struct {
    zsock_t *router;  // the broker's command socket
    zframe_t *peer;   // the routing id of the conn's DEALER
    char id[64];      // the id of the last request received
} s_fake_t;

// The next request of this type the conn sends (others are skipped), meanwhile letting the
// conn (if not NULL) handle what it was sent; the caller destroys it.
static zchat_msg_t *
s_fake_next(s_fake_t *fake, conn_t *conn, const char *type)
{
    zsock_set_rcvtimeo(fake->router, 10);
    int64_t deadline = zclock_mono() + 5000;
    while (true) {
        zmsg_t *msg = zmsg_recv(fake->router);
        if (!msg && conn && zclock_mono() < deadline) {
            conn_wait(conn, -1, 10);
            continue;
        }
        assert(msg && zmsg_size(msg) == 2);
        zframe_destroy(&fake->peer);
        fake->peer = zmsg_pop(msg);
        char *json = zmsg_popstr(msg);
        zmsg_destroy(&msg);
        zchat_msg_t *request = zchat_msg_decode(json, strlen(json), NULL);
        zstr_free(&json);
        assert(request && zchat_msg_type(request) && zchat_msg_string(request, "id"));
        snprintf(fake->id, sizeof fake->id, "%s", zchat_msg_string(request, "id"));
        if (streq(zchat_msg_type(request), type))
            return request;
        zchat_msg_destroy(&request);
    }
}

// Send the conn a reply: a JSON object whose %s, if any, is the id of the last request.
static void
s_fake_send(s_fake_t *fake, const char *format)
{
    char *json = zsys_sprintf(format, fake->id);
    zmsg_t *msg = zmsg_new();
    zframe_t *peer = zframe_dup(fake->peer);
    zmsg_append(msg, &peer);
    zmsg_addstr(msg, json);
    zmsg_send(&msg, fake->router);
    zstr_free(&json);
}

// The routing id: a letter, then CONN_ROUTING_ID_BYTES random bytes in hex, new each time.
static void
s_test_routing_id(zframe_t *peer, char *seen, size_t size)
{
    assert(CONN_ROUTING_ID_BYTES >= 16);
    assert(zframe_size(peer) == 1 + 2 * CONN_ROUTING_ID_BYTES);
    char *hex = zframe_strdup(peer);
    assert(strspn(hex + 1, "0123456789abcdef") == 2 * CONN_ROUTING_ID_BYTES);
    assert(!streq(hex, seen));
    snprintf(seen, size, "%s", hex);
    free(hex);
}

static void
s_test_broker(void)
{
    s_fake_t fake = {zsock_new_router("tcp://127.0.0.1:*"), NULL, ""};
    assert(fake.router);
    const char *endpoint = zsock_endpoint(fake.router);
    s_log_t log = {"", "", 0};
    conn_handler_t handler = {.on_event = s_test_event, .on_reply = s_test_reply};
    conn_options_t options = {
        .host = "127.0.0.1", .port = atoi(strrchr(endpoint, ':') + 1), .user = "alice"};
    conn_t *conn = conn_new(&options, &handler, &log);
    // Request ids are this conn's own: another conn (or a later run) numbers from 1 too, but
    // under another random part, so a recipient never takes its first msg for a repeat
    conn_t *other = conn_new(&options, &handler, &log);
    char id[CONN_ID_SIZE], other_id[CONN_ID_SIZE];
    s_new_id(conn, id);
    s_new_id(other, other_id);
    assert(strlen(id) == 1 + 2 * CONN_RUN_BYTES + 2 && streq(id + strlen(id) - 2, "-1"));
    assert(strneq(id, other_id));
    conn_destroy(&other, NULL);
    conn->next_id = 0;
    char identity[2 * CONN_ROUTING_ID_BYTES + 2] = "";
    for (int i = 0; i < 2; i++) {
        s_new_dealer(conn);
        s_hello(conn);
        zchat_msg_t *hello = s_fake_next(&fake, conn, "hello");
        zchat_msg_destroy(&hello);
        s_test_routing_id(fake.peer, identity, sizeof identity);
    }
    s_fake_send(&fake, "{\"type\":\"welcome\",\"user\":\"alice\",\"session\":\"t\","
                       "\"feed\":\"inproc://conn-test-feed\",\"epoch\":\"e\","
                       "\"heartbeat_ms\":60000,\"rooms\":[\"lobby\"],\"id\":\"%s\"}");
    assert(conn_wait(conn, -1, 5000) == 0 && conn_is_online(conn));

    // A new session was put in lobby before it subscribed: joined gives it the baseline. That
    // join, refused because the broker is full, goes again a moment later.
    zchat_msg_t *join = s_fake_next(&fake, conn, "join");
    assert(streq(zchat_msg_string(join, "room"), "lobby"));
    zchat_msg_destroy(&join);
    s_fake_send(&fake, "{\"type\":\"error\",\"code\":\"server_full\",\"message\":\"Full.\","
                       "\"request\":\"join\",\"id\":\"%s\"}");
    s_room_t *lobby = zhashx_lookup(conn->rooms, "lobby");
    assert(lobby);
    int64_t deadline = zclock_mono() + 5000;
    while (!lobby->join_retry && zclock_mono() < deadline)
        conn_wait(conn, -1, 20);
    assert(lobby->join_retry && streq(log.replies, ""));  // ours: the front end hears nothing
    lobby->join_retry = conn->next_poll = zclock_mono();
    conn_wait(conn, -1, 0);
    join = s_fake_next(&fake, conn, "join");
    zchat_msg_destroy(&join);
    s_fake_send(&fake, "{\"type\":\"joined\",\"room\":\"lobby\",\"seq\":5,\"members\":[\"alice\"],"
                       "\"id\":\"%s\"}");
    deadline = zclock_mono() + 5000;
    while (track_last(lobby->track) != 5 && zclock_mono() < deadline)
        conn_wait(conn, -1, 20);
    assert(track_last(lobby->track) == 5);

    // Replies go where they were asked from: a history the front end asked for goes to it, one
    // its room asked for to the room's tracker
    zchat_msg_t *request = zchat_msg_new("history");
    zchat_msg_set_string(request, "room", "lobby");
    conn_send(conn, &request);
    request = s_fake_next(&fake, conn, "history");
    zchat_msg_destroy(&request);
    char user_id[64];
    snprintf(user_id, sizeof user_id, "%s", fake.id);
    conn->next_poll = zclock_mono();
    conn_wait(conn, -1, 0);
    zchat_msg_t *ping = s_fake_next(&fake, conn, "ping");
    zchat_msg_destroy(&ping);
    s_fake_send(&fake, "{\"type\":\"pong\",\"logged_in\":true,\"epoch\":\"e\","
                       "\"seqs\":{\"lobby\":7},\"id\":\"%s\"}");
    zchat_msg_t *fetch = s_fake_next(&fake, conn, "history");
    int64_t since = 0;
    assert(zchat_msg_opt_int(fetch, "since", &since) == 0 && since == 5);
    zchat_msg_destroy(&fetch);
    s_fake_send(&fake, "{\"type\":\"history\",\"room\":\"lobby\",\"complete\":true,\"seq\":7,"
                       "\"events\":[{\"type\":\"message\",\"room\":\"lobby\",\"seq\":6},"
                       "{\"type\":\"message\",\"room\":\"lobby\",\"seq\":7}],\"id\":\"%s\"}");
    s_test_until(conn, &log, 2);
    assert(streq(log.seen, "6 7 ") && streq(log.replies, ""));
    // A private carries the id of the msg that made it, which may be the id of a request of
    // ours in flight: it is a private all the same, and the reply still comes. The same private
    // again (the sender's msg sent again) is dropped, whatever case its sender's name is in.
    snprintf(fake.id, sizeof fake.id, "%s", user_id);
    const char *private = "{\"type\":\"private\",\"from\":\"Bob\",\"to\":\"alice\","
                          "\"text\":\"hi\",\"ts\":1,\"id\":\"%s\"}";
    s_fake_send(&fake, private);
    s_fake_send(&fake, private);
    s_fake_send(&fake, "{\"type\":\"private\",\"from\":\"BOB\",\"to\":\"alice\","
                       "\"text\":\"hi\",\"ts\":1,\"id\":\"%s\"}");
    s_fake_send(&fake, "{\"type\":\"private\",\"from\":\"carol\",\"to\":\"alice\","
                       "\"text\":\"hi\",\"ts\":1,\"id\":\"%s\"}");
    s_fake_send(&fake, "{\"type\":\"history\",\"room\":\"lobby\",\"complete\":true,"
                       "\"events\":[{\"type\":\"message\",\"room\":\"lobby\",\"seq\":1}],"
                       "\"id\":\"%s\"}");
    s_test_until(conn, &log, 5);
    assert(streq(log.replies, "private private history ") && streq(log.seen, "6 7 "));

    conn->online = false;  // no quit to wait for
    conn_destroy(&conn, NULL);
    zframe_destroy(&fake.peer);
    zsock_destroy(&fake.router);
}

static void
s_record_reply(void *arg, const zchat_msg_t *reply)
{
    (void)reply;
    s_log_t *log = arg;
    log->count++;
}

// A refused re-login, as the broker answers it to our hello
static void
s_refuse(conn_t *conn, const char *message)
{
    s_hello(conn);  // no DEALER: only the request in flight
    char *json = zsys_sprintf(
        "{\"type\":\"error\",\"code\":\"name_taken\",\"message\":\"%s\",\"id\":\"%s\"}", message,
        conn->hello_id);
    zchat_msg_t *error = zchat_msg_decode(json, strlen(json), NULL);
    assert(error);
    s_on_error(conn, error, zchat_msg_string(error, "id"));
    zchat_msg_destroy(&error);
    zstr_free(&json);
}

// How many requests the broker's side receives within timeout_ms.
static int
s_test_received(zsock_t *router, int timeout_ms)
{
    zsock_set_rcvtimeo(router, timeout_ms);
    int count = 0;
    zmsg_t *msg;
    while ((msg = zmsg_recv(router))) {
        zmsg_destroy(&msg);
        count++;
        zsock_set_rcvtimeo(router, 50);
    }
    return count;
}

// The outbox on a connection: at most OUTBOX_WINDOW say/msg on their way, the next window once
// this one is answered, and when the oldest waits past two heartbeats (a reply lost), the window
// goes again
static void
s_test_window(const conn_options_t *options, const conn_handler_t *handler, s_log_t *log)
{
    s_fake_t fake = {zsock_new_router("inproc://conn-test-window"), NULL, ""};
    assert(fake.router);
    conn_t *conn = conn_new(options, handler, log);
    conn->dealer = zsock_new_dealer(">inproc://conn-test-window");
    conn->online = true;
    conn->heartbeat_ms = 1;
    for (int i = 0; i < 100; i++)
        conn_say(conn, "r", "a line of a paste");
    // The first goes at once, the others when it is answered
    assert(outbox_in_flight(conn->outbox) == 1 && outbox_size(conn->outbox) == 100);
    zchat_msg_t *say = s_fake_next(&fake, NULL, "say");  // the broker acks it: a window goes
    char *ack =
        zsys_sprintf("{\"type\":\"ack\",\"seq\":1,\"id\":\"%s\"}", zchat_msg_string(say, "id"));
    zchat_msg_destroy(&say);
    assert(s_test_received(fake.router, 200) == 0);
    int replies = log->count;
    s_fake_send(&fake, ack);
    zstr_free(&ack);
    s_on_command(conn);
    assert(log->count == replies + 1);
    assert(outbox_in_flight(conn->outbox) == OUTBOX_WINDOW && outbox_size(conn->outbox) == 99);
    assert(s_test_received(fake.router, 1000) == OUTBOX_WINDOW);
    zclock_sleep(5);  // past two heartbeats: the acks were lost
    conn->last_heard = conn->next_poll = zclock_mono();
    s_on_timers(conn);
    assert(outbox_in_flight(conn->outbox) == OUTBOX_WINDOW);
    assert(s_test_received(fake.router, 1000) == 1 + OUTBOX_WINDOW);  // with the ping
    conn->online = false;                                             // no quit to wait for
    conn_destroy(&conn, NULL);
    zframe_destroy(&fake.peer);
    zsock_destroy(&fake.router);
}

void
conn_test(bool verbose)
{
    (void)verbose;
    assert(conn_error_is_retryable("rate_limited") && conn_error_is_retryable("server_full"));
    assert(!conn_error_is_retryable("too_many_rooms"));

    // A re-login refused at every retry is told once, and again when the refusal changes
    s_log_t log = {"", "", 0};
    conn_handler_t handler = {.on_reply = s_record_reply};
    conn_options_t options = {.host = "127.0.0.1", .port = 1, .user = "alice"};
    conn_t *conn = conn_new(&options, &handler, &log);
    conn->ever_online = true;
    s_refuse(conn, "The name alice is in use: pick another.");
    s_refuse(conn, "The name alice is in use: pick another.");
    assert(log.count == 1 && streq(conn_error_code(conn), "name_taken"));
    s_refuse(conn, "Something else.");
    assert(log.count == 2);
    conn_follow(conn, "r", 3);
    zlist_t *rooms = conn_rooms(conn);
    assert(zlist_size(rooms) == 1 && streq(zlist_first(rooms), "r"));
    zlist_destroy(&rooms);
    conn_destroy(&conn, NULL);
    assert(conn == NULL);

    s_test_window(&options, &handler, &log);
    s_test_broker();
}
