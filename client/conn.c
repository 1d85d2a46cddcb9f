// conn.c - a client's connection to the broker: DEALER + SUB, hello/resume, heartbeat,
// reconnect, and every room event delivered exactly once, in seq order
//
// Each room has a tracker holding the last seq delivered. A feed event with the next seq is
// delivered at once; one further ahead waits while `history` (since the last seq) fills the
// gap; one at or below the last seq is a duplicate. `pong.seqs` (members) or `rooms`
// (observers), polled every heartbeat, reveal a lost last event. History is the authority:
// what it no longer holds is reported through on_lost, never skipped silently.
#include "zchat_prelude.h"
#include "zchat_hash.h"
#include "conn.h"
#include "zchat_name.h"
#include "zchat_password.h"
#include <sodium.h>

#define CONN_RETRY_MIN_MS    500   // first reconnect attempt after a loss
#define CONN_RETRY_MAX_MS    5000  // backoff ceiling
#define CONN_QUIT_WAIT_MS    1000  // how long conn_destroy waits for bye
#define CONN_HANDSHAKE_TRIES 2     // failed handshakes without detail before conn_connect gives up
#define CONN_WAITING_MAX     4096  // events held beyond a gap per room; the newest go past it
#define CONN_WINDOW          64    // say/msg on their way at once; the rest wait here
#define CONN_RATE_PAUSE_MS   100   // after a say/msg refused as rate_limited, before the next

typedef struct {
    char *name;
    char *topic;
    int64_t last;        // seq delivered up to; -1: unknown until joined
    uint64_t known;      // newest seq the broker has told of
    bool member;         // we are in the room (not an observer's follow)
    bool own_join;       // deliver the join event of our own pending join
    bool fetching;       // a history request is in flight
    char fetch_id[24];   // the id of that request
    int64_t fetch_at;    // when it was sent: a reply the broker dropped is asked for again
    bool rebasing;       // a new broker run: hold events until joined says where seq stands
    char join_id[24];    // the id of our own (internal) join of the room in flight
    int64_t join_retry;  // when to send that join again (it was rate_limited); 0: no need
    zlistx_t *waiting;   // zchat_msg_t *, events beyond a gap, sorted by seq (owned)
    uint64_t dropped;    // newest seq let go from waiting before joined: known after joined
    uint64_t horizon;    // every seq up to here existed when the fetch in flight was sent
} s_track_t;

typedef struct {
    char id[24];
    char *json;       // the request, for its send and a resend after reconnect
    char kind[8];     // "say" / "msg"
    char *target;     // room or user
    bool sent;        // on its way on this connection
    int64_t sent_at;  // when, monotonic ms
} s_unacked_t;

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
    zhashx_t *rooms;     // name -> s_track_t *, owner
    zlistx_t *unacked;   // s_unacked_t *, owner: say/msg not acked yet, oldest first
    size_t in_flight;    // ... of which sent on this connection
    size_t window;       // CONN_WINDOW; 1 after a rate_limited, until all are acked
    int64_t pump_at;     // no say/msg is sent before (a pause after a rate_limited)
    int64_t hold_until;  // a new broker run: no say/msg is sent again before its history is
                         // read (or this time passes); 0: not holding
    zhashx_t *joins;     // id -> room name: user joins waiting for their reply
    uint64_t next_id;
    char hello_id[24];  // id of the hello in flight, "" if none
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

// --- Trackers ---

static int
s_compare_seq(const void *a, const void *b)
{
    int64_t sa = 0, sb = 0;
    zchat_msg_opt_int(a, "seq", &sa);
    zchat_msg_opt_int(b, "seq", &sb);
    return sa < sb ? -1 : sa > sb;
}

static void
s_event_destroy(void **item)
{
    zchat_msg_destroy((zchat_msg_t **)item);
}

static s_track_t *
s_track_new(const char *name, int64_t last)
{
    s_track_t *self = zmalloc(sizeof(s_track_t));
    self->name = strdup(name);
    assert(self->name);
    self->topic = zsys_sprintf("room/%s/", name);
    self->last = last;
    self->waiting = zlistx_new();
    zlistx_set_comparator(self->waiting, s_compare_seq);
    zlistx_set_destructor(self->waiting, s_event_destroy);
    return self;
}

static void
s_track_destroy(s_track_t **self_p)
{
    if (*self_p) {
        s_track_t *self = *self_p;
        zlistx_destroy(&self->waiting);
        zstr_free(&self->topic);
        free(self->name);
        free(self);
        *self_p = NULL;
    }
}

static void s_pump(conn_t *self);
static void s_resend(conn_t *self);

static void
s_unacked_destroy(s_unacked_t **self_p)
{
    if (*self_p) {
        free((*self_p)->json);
        free((*self_p)->target);
        free(*self_p);
        *self_p = NULL;
    }
}

static int64_t
s_seq(const zchat_msg_t *event)
{
    int64_t seq = -1;
    zchat_msg_opt_int(event, "seq", &seq);
    return seq;
}

// --- Sending ---

// Send a request with a new id ('i' internal: its reply stays here; 'u' for the front end).
// Takes ownership of *request_p; writes the id into id[24] when id is not NULL.
static void
s_send(conn_t *self, zchat_msg_t **request_p, char prefix, char *id)
{
    char my_id[24];
    snprintf(my_id, sizeof my_id, "%c%" PRIu64, prefix, ++self->next_id);
    zchat_msg_set_string(*request_p, "id", my_id);
    char *json = zchat_msg_encode(*request_p);
    zchat_msg_destroy(request_p);
    if (self->dealer)
        zstr_send(self->dealer, json);
    free(json);
    if (id)
        memcpy(id, my_id, sizeof my_id);
}

static void
s_fetch(conn_t *self, s_track_t *track)
{
    if (track->fetching || track->last < 0 || track->rebasing || !self->online)
        return;
    track->fetching = true;
    track->fetch_at = zclock_mono();
    // Told of or seen on the feed before the request leaves: the broker holds these when it
    // answers, unless they are gone. Newer ones may be missing from a complete reply.
    zchat_msg_t *newest = zlistx_last(track->waiting);
    track->horizon = track->known;
    if (newest && (uint64_t)s_seq(newest) > track->horizon)
        track->horizon = (uint64_t)s_seq(newest);
    zchat_msg_t *request = zchat_msg_new("history");
    zchat_msg_set_string(request, "room", track->name);
    zchat_msg_set_int(request, "since", track->last);
    zchat_msg_set_int(request, "limit", ZCHAT_HISTORY_MAX);
    s_send(self, &request, 'i', track->fetch_id);
}

static void
s_join(conn_t *self, const char *room, char prefix, char *id)
{
    zchat_msg_t *request = zchat_msg_new("join");
    zchat_msg_set_string(request, "room", room);
    s_send(self, &request, prefix, id);
}

// --- Delivery in seq order ---

static s_unacked_t *s_unacked_take(conn_t *self, const char *id);

// While holding after a new broker run: a say of ours that the old run stored but never acked
// is in the history; it counts as acked, and is not sent again (PROTOCOL extension: message
// events carry the say's id).
static void
s_recognise(conn_t *self, const zchat_msg_t *event)
{
    const char *type = zchat_msg_type(event);
    const char *from = zchat_msg_string(event, "from");
    const char *id = zchat_msg_string(event, "id");
    if (!type || !streq(type, "message") || !from || !self->display ||
        !streq(from, self->display) || !id)
        return;
    s_unacked_t *unacked = s_unacked_take(self, id);
    if (!unacked)
        return;
    zchat_msg_t *ack = zchat_msg_new("ack");
    zchat_msg_set_int(ack, "seq", s_seq(event));
    zchat_msg_set_string(ack, "id", id);
    zchat_msg_set_string(ack, "request", unacked->kind);
    zchat_msg_set_string(ack, "room", unacked->target);
    if (self->handler.on_reply)
        self->handler.on_reply(self->arg, ack);
    zchat_msg_destroy(&ack);
    s_unacked_destroy(&unacked);
}

static void
s_deliver(conn_t *self, s_track_t *track, const zchat_msg_t *event)
{
    track->last = s_seq(event);
    if ((uint64_t)track->last > track->known)
        track->known = (uint64_t)track->last;
    if (self->hold_until)
        s_recognise(self, event);
    if (self->handler.on_event)
        self->handler.on_event(self->arg, event);
}

static void
s_lost(conn_t *self, s_track_t *track, uint64_t first, uint64_t last)
{
    if (self->handler.on_lost)
        self->handler.on_lost(self->arg, track->name, first, last);
    track->last = (int64_t)last;
}

// Deliver the waiting events that now follow on; fetch history if a gap remains.
static void
s_drain(conn_t *self, s_track_t *track)
{
    zchat_msg_t *event;
    while ((event = zlistx_first(track->waiting))) {
        int64_t seq = s_seq(event);
        if (seq > track->last + 1)
            break;
        if (seq == track->last + 1)
            s_deliver(self, track, event);
        zlistx_delete(track->waiting, zlistx_cursor(track->waiting));
    }
    if (zlistx_size(track->waiting) || track->known > (uint64_t)track->last)
        s_fetch(self, track);
}

// A room event from the feed or from history. Takes ownership of *event_p.
static void
s_take(conn_t *self, s_track_t *track, zchat_msg_t **event_p)
{
    int64_t seq = s_seq(*event_p);
    // While rebasing, the broker's seq may have gone back below ours (it lost its database):
    // nothing is a duplicate until joined says where seq stands
    bool settled = track->last >= 0 && !track->rebasing;
    if (seq < 1 || (settled && seq <= track->last)) {
        zchat_msg_destroy(event_p);  // duplicate (or no seq at all)
        return;
    }
    if (settled && seq == track->last + 1) {
        s_deliver(self, track, *event_p);
        zchat_msg_destroy(event_p);
        if (zlistx_size(track->waiting))
            s_drain(self, track);  // it may have filled a gap
        return;
    }
    zchat_msg_t *newest = zlistx_last(track->waiting);
    if (!newest || s_seq(newest) < seq) {
        zlistx_add_end(track->waiting, *event_p);  // the usual case: after all that waits
        *event_p = NULL;
    } else {
        for (zchat_msg_t *e = zlistx_first(track->waiting); e; e = zlistx_next(track->waiting))
            if (s_seq(e) == seq) {
                zchat_msg_destroy(event_p);
                return;
            }
        zlistx_insert(track->waiting, *event_p, true);
        *event_p = NULL;
    }
    if (zlistx_size(track->waiting) > CONN_WAITING_MAX) {
        // A long gap under a flood: the newest event waits in the broker's history instead of
        // here, and known makes sure it is fetched
        newest = zlistx_last(track->waiting);
        uint64_t newest_seq = (uint64_t)s_seq(newest);
        if (newest_seq > track->known)
            track->known = newest_seq;
        if (!settled && newest_seq > track->dropped)
            track->dropped = newest_seq;  // joined resets known: it takes this again
        zlistx_delete(track->waiting, zlistx_cursor(track->waiting));
    }
    if (settled)
        s_drain(self, track);
}

static s_track_t *
s_track_require(conn_t *self, const char *room, int64_t last)
{
    s_track_t *track = zhashx_lookup(self->rooms, room);
    if (!track) {
        track = s_track_new(room, last);
        zhashx_insert(self->rooms, room, track);
        if (self->sub && !self->follow_all)
            zsock_set_subscribe(self->sub, track->topic);
    }
    return track;
}

static void
s_track_remove(conn_t *self, const char *room)
{
    s_track_t *track = zhashx_lookup(self->rooms, room);
    if (!track)
        return;
    if (self->sub && !self->follow_all)
        zsock_set_unsubscribe(self->sub, track->topic);
    zhashx_delete(self->rooms, room);
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
    for (s_track_t *t = zhashx_first(self->rooms); t; t = zhashx_next(self->rooms))
        if (!self->follow_all)
            zsock_set_subscribe(self->sub, t->topic);
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
        const char *room = zchat_msg_array_string(welcome, "rooms", i);
        s_track_t *track = room ? zhashx_lookup(self->rooms, room) : NULL;
        if (room && reconnect && !(track && track->member)) {
            zchat_msg_t *leave = zchat_msg_new("leave");
            zchat_msg_set_string(leave, "room", room);
            s_send(self, &leave, 'i', NULL);
        } else if (room) {
            s_track_require(self, room, -1)->member = true;
            zhashx_insert(in_session, room, (void *)room);
        }
    }
    for (s_track_t *t = zhashx_first(self->rooms); t; t = zhashx_next(self->rooms)) {
        t->fetching = false;  // whatever was in flight went to the old connection
        if (t->member && new_epoch)
            t->rebasing = true;  // a new broker run: its seq may not continue ours
        if (t->member && (!zhashx_lookup(in_session, t->name) || t->last < 0 || new_epoch))
            s_join(self, t->name, 'i', t->join_id);  // back in, or a baseline from joined
        else
            s_fetch(self, t);  // resumed (or followed): fill what we missed
    }
    zhashx_destroy(&in_session);
    if (self->observer && self->follow_all) {
        zchat_msg_t *request = zchat_msg_new("rooms");
        s_send(self, &request, 'i', NULL);
    }
    // A new broker run knows no retry ids: what it may have stored of ours before it died,
    // unacked, shows in the history the rooms fetch now; wait for it before sending again
    if (new_epoch && zlistx_size(self->unacked))
        self->hold_until = zclock_mono() + 2 * (int64_t)self->heartbeat_ms;
    s_resend(self);
    if (reconnect && self->handler.on_state)
        self->handler.on_state(self->arg, CONN_RECONNECTED);
}

static void
s_on_joined(conn_t *self, zchat_msg_t *joined)
{
    const char *room = zchat_msg_string(joined, "room");
    int64_t seq = s_seq(joined);
    if (!room || seq < 0)
        return;
    s_track_t *track = s_track_require(self, room, -1);
    track->member = true;
    if (track->last < 0 || seq < track->last) {
        // New here, or the broker lost its history: its numbering starts again, and what we
        // knew of the old one means nothing now
        track->last = track->own_join && seq > 0 ? seq - 1 : seq;
        track->known = (uint64_t)track->last;
    }
    if (track->dropped > track->known)
        track->known = track->dropped;  // held back by CONN_WAITING_MAX: history owes them
    track->dropped = 0;
    track->own_join = false;
    track->rebasing = false;
    track->join_retry = 0;
    if ((uint64_t)seq > track->known)
        track->known = (uint64_t)seq;
    s_drain(self, track);
}

static void
s_on_history(conn_t *self, zchat_msg_t *history, const char *id)
{
    const char *room = zchat_msg_string(history, "room");
    s_track_t *track = room ? zhashx_lookup(self->rooms, room) : NULL;
    // Only the reply to the fetch in flight: an older one (a leave and join since, a fetch
    // asked again) would rewind what we hold
    if (!track || !track->fetching || !id || !streq(id, track->fetch_id) || track->last < 0)
        return;
    track->fetching = false;
    bool complete = false;
    zchat_msg_opt_bool(history, "complete", &complete);
    for (size_t i = 0; i < zchat_msg_array_size(history, "events"); i++) {
        zchat_msg_t *event = zchat_msg_array_object(history, "events", i);
        int64_t seq = event ? s_seq(event) : -1;
        if (seq <= track->last)
            continue;
        if (seq > track->last + 1)  // the broker no longer holds these
            s_lost(self, track, (uint64_t)track->last + 1, (uint64_t)seq - 1);
        s_deliver(self, track, event);
    }
    if (!complete) {
        s_fetch(self, track);
        return;
    }
    // Complete: what is still missing before the waiting events (or up to known) is gone for
    // good if it existed when the request left; anything newer comes with the next fetch
    zchat_msg_t *first = zlistx_first(track->waiting);
    uint64_t gone_to = first ? (uint64_t)s_seq(first) - 1 : track->known;
    if (gone_to > track->horizon)
        gone_to = track->horizon;
    if (gone_to > (uint64_t)track->last)
        s_lost(self, track, (uint64_t)track->last + 1, gone_to);
    s_drain(self, track);
}

// pong.seqs or a rooms list: the newest seq of rooms
static void
s_on_seq(conn_t *self, const char *room, int64_t seq)
{
    s_track_t *track = zhashx_lookup(self->rooms, room);
    if (!track && self->follow_all) {
        uint64_t since = self->handler.on_new_room ? self->handler.on_new_room(self->arg, room) : 0;
        track = s_track_require(self, room, (int64_t)since);
    }
    if (!track || seq < 0)
        return;
    if ((uint64_t)seq > track->known)
        track->known = (uint64_t)seq;
    if (track->last >= 0 && (uint64_t)seq > (uint64_t)track->last)
        s_fetch(self, track);
}

static s_unacked_t *
s_unacked_find(conn_t *self, const char *id)
{
    for (s_unacked_t *u = zlistx_first(self->unacked); id && u; u = zlistx_next(self->unacked))
        if (streq(u->id, id))
            return u;  // the list's cursor is on it
    return NULL;
}

static s_unacked_t *
s_unacked_take(conn_t *self, const char *id)
{
    s_unacked_t *u = s_unacked_find(self, id);
    if (u) {
        zlistx_detach_cur(self->unacked);
        if (u->sent)
            self->in_flight--;
    }
    return u;
}

// A say/msg refused for the rate, not for what it says: it waits in its place and goes again
// after a pause, and until all are acked one goes at a time, so that the lines keep their
// order and pace themselves to the broker's limit. False if id is none of ours.
static bool
s_unacked_requeue(conn_t *self, const char *id)
{
    s_unacked_t *u = s_unacked_find(self, id);
    if (!u)
        return false;
    if (u->sent)
        self->in_flight--;
    u->sent = false;
    self->window = 1;
    self->pump_at = zclock_mono() + CONN_RATE_PAUSE_MS;
    return true;
}

// What was never acked goes again, with the same ids: the broker drops repeats.
static void
s_resend(conn_t *self)
{
    for (s_unacked_t *u = zlistx_first(self->unacked); u; u = zlistx_next(self->unacked))
        u->sent = false;
    self->in_flight = 0;
    s_pump(self);
}

// End the hold after a new broker run once every room we are in has read what it missed (or
// the time is up), and send what is still unacked.
static void
s_hold_check(conn_t *self)
{
    if (!self->hold_until)
        return;
    bool settled = true;
    for (s_track_t *t = zhashx_first(self->rooms); t && settled; t = zhashx_next(self->rooms))
        if (t->member)
            settled = t->last >= 0 && !t->rebasing && !t->fetching &&
                      zlistx_size(t->waiting) == 0 && t->known <= (uint64_t)t->last;
    if (settled || zclock_mono() >= self->hold_until) {
        self->hold_until = 0;
        s_pump(self);
    }
}

// Send what waits, oldest first, up to CONN_WINDOW on their way. A burst (a paste, a script)
// would otherwise fill the DEALER, whose sends never block and so fail, losing the request,
// and the broker's reply queue, which drops the acks past it (zchat-protocol(7) SLOW CONSUMERS).
static void
s_pump(conn_t *self)
{
    if (zlistx_size(self->unacked) == 0)
        self->window = CONN_WINDOW;
    if (!self->online || !self->dealer || self->hold_until || zclock_mono() < self->pump_at)
        return;
    for (s_unacked_t *u = zlistx_first(self->unacked); u && self->in_flight < self->window;
         u = zlistx_next(self->unacked)) {
        if (u->sent)
            continue;
        if (zstr_send(self->dealer, u->json) == -1)
            break;  // the DEALER is full: the next pump
        u->sent = true;
        u->sent_at = zclock_mono();
        self->in_flight++;
    }
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
    s_send(self, &hello, 'i', self->hello_id);
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

static void
s_forward(conn_t *self, const zchat_msg_t *reply)
{
    if (self->handler.on_reply)
        self->handler.on_reply(self->arg, reply);
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

static void
s_on_error(conn_t *self, zchat_msg_t *error, const char *id)
{
    const char *code = zchat_msg_string(error, "code");
    const char *message = zchat_msg_string(error, "message");
    if (!code)
        return;
    if (id && streq(id, self->hello_id)) {
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
        return;
    }
    if (streq(code, "not_logged_in")) {
        s_relogin(self);
        return;
    }
    if (streq(code, "rate_limited") && s_unacked_requeue(self, id))
        return;
    s_unacked_t *unacked = s_unacked_take(self, id);
    if (unacked) {
        s_unacked_destroy(&unacked);
        s_pump(self);  // a place in the window
    }
    if (id && id[0] == 'u') {
        char *room = zhashx_lookup(self->joins, id);
        if (room) {
            s_track_t *track = zhashx_lookup(self->rooms, room);
            if (track && !track->member)
                s_track_remove(self, room);  // the join failed: stop listening
            zhashx_delete(self->joins, id);
        }
        s_forward(self, error);
    } else if (id) {
        // A refused history request (no_such_room: a followed room not created yet) is no
        // longer in flight: the next gap or poll must be able to fetch again
        // A join of ours refused for the rate (a reconnect in many rooms sends many at once) goes
        // again a second later: the room must not stay left behind
        for (s_track_t *t = zhashx_first(self->rooms); t; t = zhashx_next(self->rooms)) {
            if (t->fetching && streq(t->fetch_id, id))
                t->fetching = false;
            if (streq(t->join_id, id) && streq(code, "rate_limited"))
                t->join_retry = zclock_mono() + 1000;
        }
        if (!streq(code, "no_such_room") && !streq(code, "rate_limited"))
            zsys_warning("broker refused an internal request: %s", code);
    } else {
        s_forward(self, error);
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
    bool mine = id && id[0] == 'u';
    if (streq(type, "welcome")) {
        s_on_welcome(self, reply);
    } else if (streq(type, "error")) {
        s_on_error(self, reply, id);
    } else if (streq(type, "joined")) {
        s_on_joined(self, reply);
        if (mine) {
            zhashx_delete(self->joins, id);
            s_forward(self, reply);
        }
    } else if (streq(type, "left")) {
        const char *room = zchat_msg_string(reply, "room");
        if (room && mine)
            s_track_remove(self, room);
        if (mine)
            s_forward(self, reply);
    } else if (streq(type, "history") && !mine) {
        s_on_history(self, reply, id);
    } else if (streq(type, "pong")) {
        // zchat-broker tells whether this connection still has a session, and its epoch
        bool logged_in = true;
        zchat_msg_opt_bool(reply, "logged_in", &logged_in);
        const char *epoch = zchat_msg_string(reply, "epoch");
        if (self->online && (!logged_in || (epoch && self->epoch && !streq(epoch, self->epoch))))
            s_relogin(self);
        zchat_msg_t *seqs = zchat_msg_object(reply, "seqs");
        const char *room;
        for (size_t i = 0; seqs && (room = zchat_msg_member(seqs, i)); i++) {
            int64_t seq = -1;
            zchat_msg_opt_int(seqs, room, &seq);
            s_on_seq(self, room, seq);
        }
    } else if (streq(type, "rooms") && !mine) {
        for (size_t i = 0; i < zchat_msg_array_size(reply, "rooms"); i++) {
            zchat_msg_t *room = zchat_msg_array_object(reply, "rooms", i);
            const char *name = room ? zchat_msg_string(room, "name") : NULL;
            int64_t seq = -1;
            if (name && zchat_msg_opt_int(room, "seq", &seq) == 0)
                s_on_seq(self, name, seq);
        }
    } else if (streq(type, "ack")) {
        s_unacked_t *unacked = s_unacked_take(self, id);
        if (unacked) {
            zchat_msg_set_string(reply, "request", unacked->kind);
            zchat_msg_set_string(reply, streq(unacked->kind, "msg") ? "to" : "room",
                                 unacked->target);
            s_forward(self, reply);
            s_unacked_destroy(&unacked);
            s_pump(self);  // a place in the window
        }
    } else if (!id || mine) {
        s_forward(self, reply);  // private, users, rooms, history, ok, bye...
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
    const char *room = event ? zchat_msg_string(event, "room") : NULL;
    if (room) {
        s_track_t *track = zhashx_lookup(self->rooms, room);
        if (!track && self->follow_all) {
            uint64_t since =
                self->handler.on_new_room ? self->handler.on_new_room(self->arg, room) : 0;
            track = s_track_require(self, room, (int64_t)since);
        }
        if (track)
            s_take(self, track, &event);
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
    self->dealer = zsock_new(ZMQ_DEALER);
    assert(self->dealer);
    // A random routing id; not starting with a zero byte, which libzmq reserves
    byte noise[16];
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

static void
s_on_timers(conn_t *self)
{
    int64_t now = zclock_mono();
    s_hold_check(self);
    s_pump(self);  // after a full DEALER refused a send
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
            s_send(self, &poll, 'i', NULL);
            self->next_poll = now + self->heartbeat_ms;
            // A history reply the broker could not queue (zchat-protocol(7) SLOW CONSUMERS) never
            // comes: after two heartbeats, ask again rather than wait on it forever
            for (s_track_t *t = zhashx_first(self->rooms); t; t = zhashx_next(self->rooms)) {
                if (t->fetching && now - t->fetch_at > 2 * (int64_t)self->heartbeat_ms) {
                    t->fetching = false;
                    s_fetch(self, t);
                }
                if (t->join_retry && now >= t->join_retry) {
                    t->join_retry = 0;
                    s_join(self, t->name, 'i', t->join_id);
                }
            }
            // The same for an ack, and for a say lost with a connection that came back by
            // itself (no welcome): else its place in the window would be gone for good
            s_unacked_t *oldest = zlistx_first(self->unacked);
            if (oldest && oldest->sent && now - oldest->sent_at > 2 * (int64_t)self->heartbeat_ms)
                s_resend(self);
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
        if (self->pump_at > zclock_mono() && self->pump_at < next)
            next = self->pump_at;  // the pause after a rate_limited ends
        if (self->hold_until && self->hold_until < next)
            next = self->hold_until;  // the hold after a new broker run ends at the latest
        return next;
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
    self->window = CONN_WINDOW;
    self->connect_ms = options->connect_ms > 0 ? options->connect_ms : 5000;
    self->sub_hwm = options->sub_hwm;
    self->handler = *handler;
    self->arg = arg;
    self->heartbeat_ms = ZCHAT_DEFAULT_HEARTBEAT;
    self->retry_ms = CONN_RETRY_MIN_MS;
    self->rooms = zchat_hash_new();
    zhashx_set_destructor(self->rooms, (zhashx_destructor_fn *)s_track_destroy);
    self->unacked = zlistx_new();
    zlistx_set_destructor(self->unacked, (zlistx_destructor_fn *)s_unacked_destroy);
    self->joins = zchat_hash_new();
    zhashx_set_destructor(self->joins, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator(self->joins, (zhashx_duplicator_fn *)strdup);
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
            char id[24];
            s_send(self, &quit, 'i', id);
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
        zlistx_destroy(&self->unacked);
        zhashx_destroy(&self->joins);
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

int
conn_connect(conn_t *self)
{
    assert(self);
    self->error_code[0] = self->error[0] = 0;
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
    char id[24];
    bool valid = zchat_name_room(room, name, sizeof name) == 0;
    if (valid && !zhashx_lookup(self->rooms, name))
        // Subscribe before joining, so no event of this membership can pass us by
        s_track_require(self, name, -1)->own_join = true;
    s_join(self, valid ? name : room, 'u', id);
    if (valid)
        zhashx_insert(self->joins, id, name);
}

void
conn_leave(conn_t *self, const char *room)
{
    assert(self && room);
    zchat_msg_t *request = zchat_msg_new("leave");
    zchat_msg_set_string(request, "room", room);
    s_send(self, &request, 'u', NULL);
}

static void
s_send_tracked(conn_t *self, zchat_msg_t **request_p, const char *kind, const char *target)
{
    s_unacked_t *unacked = zmalloc(sizeof(s_unacked_t));
    snprintf(unacked->kind, sizeof unacked->kind, "%s", kind);
    unacked->target = strdup(target);
    snprintf(unacked->id, sizeof unacked->id, "u%" PRIu64, ++self->next_id);
    zchat_msg_set_string(*request_p, "id", unacked->id);
    unacked->json = zchat_msg_encode(*request_p);
    zchat_msg_destroy(request_p);
    zlistx_add_end(self->unacked, unacked);
    s_pump(self);
}

void
conn_say(conn_t *self, const char *room, const char *text)
{
    assert(self && room && text);
    zchat_msg_t *request = zchat_msg_new("say");
    zchat_msg_set_string(request, "room", room);
    zchat_msg_set_string(request, "text", text);
    s_send_tracked(self, &request, "say", room);
}

void
conn_msg(conn_t *self, const char *to, const char *text)
{
    assert(self && to && text);
    zchat_msg_t *request = zchat_msg_new("msg");
    zchat_msg_set_string(request, "to", to);
    zchat_msg_set_string(request, "text", text);
    s_send_tracked(self, &request, "msg", to);
}

void
conn_send(conn_t *self, zchat_msg_t **request_p)
{
    assert(self && request_p && *request_p);
    s_send(self, request_p, 'u', NULL);
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
    s_track_t *track = s_track_require(self, room, (int64_t)since);
    s_fetch(self, track);
}

zlist_t *
conn_rooms(const conn_t *self)
{
    assert(self);
    zlist_t *names = zlist_new();
    zlist_autofree(names);
    for (s_track_t *t = zhashx_first(self->rooms); t; t = zhashx_next(self->rooms))
        zlist_append(names, t->name);
    return names;
}

// --- Self-test: the ordering logic, without a broker ---

typedef struct {
    char seen[256];
    char lost[64];
    int replies;
} s_log_t;

static void
s_record_reply(void *arg, const zchat_msg_t *reply)
{
    (void)reply;
    s_log_t *log = arg;
    log->replies++;
}

// A refused re-login, as the broker answers it to our hello
static void
s_refuse(conn_t *conn, const char *message)
{
    snprintf(conn->hello_id, sizeof conn->hello_id, "h");
    char *json = zsys_sprintf(
        "{\"type\":\"error\",\"code\":\"name_taken\",\"message\":\"%s\",\"id\":\"h\"}", message);
    zchat_msg_t *error = zchat_msg_decode(json, strlen(json), NULL);
    assert(error);
    s_on_error(conn, error, "h");
    zchat_msg_destroy(&error);
    zstr_free(&json);
}

static void
s_record(void *arg, const zchat_msg_t *event)
{
    s_log_t *log = arg;
    size_t len = strlen(log->seen);
    snprintf(log->seen + len, sizeof log->seen - len, "%" PRId64 " ", s_seq(event));
}

static void
s_record_lost(void *arg, const char *room, uint64_t first, uint64_t last)
{
    (void)room;
    s_log_t *log = arg;
    size_t len = strlen(log->lost);
    snprintf(log->lost + len, sizeof log->lost - len, "%" PRIu64 "-%" PRIu64 " ", first, last);
}

static void
s_feed(conn_t *conn, s_track_t *track, int64_t seq)
{
    char json[96];
    snprintf(json, sizeof json, "{\"type\":\"message\",\"room\":\"r\",\"seq\":%" PRId64 "}", seq);
    zchat_msg_t *event = zchat_msg_decode(json, strlen(json), NULL);
    s_take(conn, track, &event);
}

// How many requests the broker's side receives within timeout_ms; the sender's routing id into
// identity (a new frame, caller destroys) unless NULL.
static int
s_test_received(zsock_t *router, int timeout_ms, zframe_t **identity)
{
    zsock_set_rcvtimeo(router, timeout_ms);
    int count = 0;
    zmsg_t *msg;
    while ((msg = zmsg_recv(router))) {
        if (identity && !*identity)
            *identity = zmsg_pop(msg);
        zmsg_destroy(&msg);
        count++;
        zsock_set_rcvtimeo(router, 50);
    }
    return count;
}

static void
s_test_window(const conn_options_t *options, const conn_handler_t *handler, s_log_t *log)
{
    zsock_t *router = zsock_new_router("inproc://conn-test-window");
    assert(router);
    conn_t *conn = conn_new(options, handler, log);
    conn->dealer = zsock_new_dealer(">inproc://conn-test-window");
    conn->online = true;
    conn->heartbeat_ms = 100;
    for (int i = 0; i < 100; i++)
        conn_say(conn, "r", "a line of a paste");
    assert(conn->in_flight == CONN_WINDOW && zlistx_size(conn->unacked) == 100);
    zframe_t *identity = NULL;
    assert(s_test_received(router, 1000, &identity) == CONN_WINDOW && identity);
    zmsg_t *ack = zmsg_new();  // the broker acks the first: the next one goes
    zmsg_append(ack, &identity);
    zmsg_addstr(ack, "{\"type\":\"ack\",\"seq\":1,\"id\":\"u1\"}");
    zmsg_send(&ack, router);
    s_on_command(conn);
    assert(conn->in_flight == CONN_WINDOW && zlistx_size(conn->unacked) == 99);
    assert(s_test_received(router, 1000, NULL) == 1);
    s_unacked_t *oldest = zlistx_first(conn->unacked);
    oldest->sent_at -= 1000;  // its ack is lost: past two heartbeats, the window goes again
    conn->last_heard = conn->next_poll = zclock_mono();
    s_on_timers(conn);
    assert(conn->in_flight == CONN_WINDOW);
    assert(s_test_received(router, 1000, NULL) == 1 + CONN_WINDOW);  // with the ping
    conn->online = false;                                            // no quit to wait for
    conn_destroy(&conn, NULL);
    zsock_destroy(&router);
}

void
conn_test(bool verbose)
{
    (void)verbose;
    s_log_t log = {"", "", 0};
    conn_handler_t handler = {
        .on_event = s_record, .on_lost = s_record_lost, .on_reply = s_record_reply};
    conn_options_t options = {.host = "127.0.0.1", .port = 1, .user = "alice"};
    conn_t *conn = conn_new(&options, &handler, &log);
    s_track_t *track = s_track_require(conn, "r", -1);
    s_feed(conn, track, 5);  // before the baseline: waits
    assert(streq(log.seen, ""));
    const char *joined = "{\"type\":\"joined\",\"room\":\"r\",\"seq\":4,\"members\":[]}";
    zchat_msg_t *reply = zchat_msg_decode(joined, strlen(joined), NULL);
    s_on_joined(conn, reply);
    zchat_msg_destroy(&reply);
    assert(streq(log.seen, "5 "));
    s_feed(conn, track, 5);  // duplicate
    s_feed(conn, track, 8);  // gap: waits for history
    s_feed(conn, track, 7);
    assert(streq(log.seen, "5 "));
    s_feed(conn, track, 6);  // fills the gap
    assert(streq(log.seen, "5 6 7 8 "));
    s_feed(conn, track, 11);  // 9 and 10 missing
    const char *history = "{\"type\":\"history\",\"room\":\"r\",\"events\":["
                          "{\"type\":\"message\",\"room\":\"r\",\"seq\":10}],\"complete\":true}";
    reply = zchat_msg_decode(history, strlen(history), NULL);
    s_on_history(conn, reply, "i7");  // not the fetch in flight: ignored
    assert(streq(log.seen, "5 6 7 8 "));
    track->fetching = true;  // as s_fetch would have, had the connection been online
    snprintf(track->fetch_id, sizeof track->fetch_id, "i7");
    s_on_history(conn, reply, "i7");  // 9 is gone from history: reported, never skipped silently
    zchat_msg_destroy(&reply);
    assert(streq(log.seen, "5 6 7 8 10 11 "));
    assert(streq(log.lost, "9-9 "));
    // A flood beyond a gap: at most CONN_WAITING_MAX events wait, the rest come from history
    for (int seq = 13; seq < 13 + CONN_WAITING_MAX + 100; seq++)
        s_feed(conn, track, seq);
    assert(zlistx_size(track->waiting) == CONN_WAITING_MAX);
    assert(s_seq(zlistx_last(track->waiting)) == 12 + CONN_WAITING_MAX);
    assert(track->known == 12 + CONN_WAITING_MAX + 100);
    s_feed(conn, track, 12);  // the gap filled: the waiting ones follow, and a fetch is due
    assert(zlistx_size(track->waiting) == 0 && track->last == 12 + CONN_WAITING_MAX);
    assert(strstr(log.seen, " 11 12 13 14 ") && !strstr(log.lost, "13"));
    // Before joined too: what the cap let go is fetched once joined says where seq stands
    s_track_t *early = s_track_require(conn, "early", -1);
    for (int seq = 2; seq < 2 + CONN_WAITING_MAX + 100; seq++)
        s_feed(conn, early, seq);
    const char *early_joined = "{\"type\":\"joined\",\"room\":\"early\",\"seq\":1,\"members\":[]}";
    reply = zchat_msg_decode(early_joined, strlen(early_joined), NULL);
    s_on_joined(conn, reply);
    zchat_msg_destroy(&reply);
    assert(early->last == 1 + CONN_WAITING_MAX && early->known == 1 + CONN_WAITING_MAX + 100);
    s_track_remove(conn, "early");
    // A complete reply misses only what existed when it was asked for: a newer event the feed
    // lost is fetched again, not reported gone
    s_track_t *race = s_track_require(conn, "race", 3);
    s_feed(conn, race, 6);  // 4 and 5 missing
    const char *race_history = "{\"type\":\"history\",\"room\":\"race\",\"events\":["
                               "{\"type\":\"message\",\"room\":\"race\",\"seq\":4}],"
                               "\"complete\":true}";
    reply = zchat_msg_decode(race_history, strlen(race_history), NULL);
    race->fetching = true;
    race->horizon = 3;  // asked before 6 came: 5 may be newer than the reply
    snprintf(race->fetch_id, sizeof race->fetch_id, "i8");
    s_on_history(conn, reply, "i8");
    zchat_msg_destroy(&reply);
    assert(race->last == 4 && streq(log.lost, "9-9 "));
    const char *race_none = "{\"type\":\"history\",\"room\":\"race\",\"events\":[],"
                            "\"complete\":true}";
    reply = zchat_msg_decode(race_none, strlen(race_none), NULL);
    race->fetching = true;
    race->horizon = 6;  // asked after 6 came: 5 existed, and the broker no longer holds it
    snprintf(race->fetch_id, sizeof race->fetch_id, "i9");
    s_on_history(conn, reply, "i9");
    zchat_msg_destroy(&reply);
    assert(race->last == 6 && streq(log.lost, "9-9 5-5 "));
    s_track_remove(conn, "race");
    // A re-login refused at every retry is told once, and again when the refusal changes
    conn->ever_online = true;
    s_refuse(conn, "The name alice is in use: pick another.");
    s_refuse(conn, "The name alice is in use: pick another.");
    assert(log.replies == 1 && streq(conn->error_code, "name_taken"));
    s_refuse(conn, "Something else.");
    assert(log.replies == 2);
    zlist_t *rooms = conn_rooms(conn);
    assert(zlist_size(rooms) == 1 && streq(zlist_first(rooms), "r"));
    zlist_destroy(&rooms);
    conn_destroy(&conn, NULL);
    assert(conn == NULL);

    // After a new broker run, a say of ours that the old run stored but never acked is found
    // in the history the room fetches: it counts as acked and is not sent again. Only ours:
    // the same id from someone else is theirs.
    conn = conn_new(&options, &handler, &log);
    conn->display = strdup("alice");
    conn_say(conn, "h", "stored, not acked");  // u1
    conn_say(conn, "h", "never stored");       // u2
    conn->hold_until = zclock_mono() + 10000;
    s_track_t *held = s_track_require(conn, "h", 3);
    held->fetching = true;
    snprintf(held->fetch_id, sizeof held->fetch_id, "f1");
    const char *held_history = "{\"type\":\"history\",\"room\":\"h\",\"complete\":true,\"events\":["
                               "{\"type\":\"message\",\"room\":\"h\",\"seq\":4,\"from\":\"alice\","
                               "\"text\":\"x\",\"id\":\"u1\"},"
                               "{\"type\":\"message\",\"room\":\"h\",\"seq\":5,\"from\":\"bob\","
                               "\"text\":\"y\",\"id\":\"u2\"}]}";
    reply = zchat_msg_decode(held_history, strlen(held_history), NULL);
    assert(reply);
    int replies = log.replies;
    s_on_history(conn, reply, "f1");
    zchat_msg_destroy(&reply);
    assert(log.replies == replies + 1 && zlistx_size(conn->unacked) == 1);
    assert(streq(((s_unacked_t *)zlistx_first(conn->unacked))->id, "u2"));
    conn_destroy(&conn, NULL);

    // The window: at most CONN_WINDOW say/msg on their way, an ack lets the next one go, and
    // when the oldest waits past two heartbeats (a reply lost), the window goes again
    s_test_window(&options, &handler, &log);
}
