// broker.c - the ZCHAT/1 broker: sockets, event loop, request dispatch
//
// One thread, one zloop over the ROUTER (requests) and a sweep timer. A loop turn reads every
// request that is ready (up to BROKER_BATCH), appends the room events it makes to one SQLite
// transaction, commits, and only then sends the turn's replies and events: a seq a client has
// seen is always durable, so it never repeats after a restart.
#include "zchat_prelude.h"
#include "zchat_hash.h"
#include "broker_impl.h"
#include "account.h"
#include "keys.h"
#include "zchat_name.h"
#include "zchat_text.h"

#define BROKER_HISTORY_BYTES 262144     // of events in one history reply: a queued reply is bounded
#define BROKER_BATCH         256        // requests per loop turn, then commit and send
#define BROKER_ROUTER_HWM    1000       // replies queued per client before it counts as slow
#define BROKER_PUB_HWM       10000      // feed messages queued per subscriber before PUB drops
#define BROKER_LINGER_MS     1000       // at shutdown, time for the last events to leave
#define BROKER_OUT_KEEP      (4 << 20)  // bytes of a turn's event buffer kept for the next turn

typedef zchat_err_t handler_fn(broker_t *self, request_t *req);

// --- Output ---

// Queue an event for the feed (topic) or a reply for a routing id: the text of json_size bytes
// at offset json in self->out, or owned (taken) if not NULL. The outbox and out are reused
// turn after turn: queueing what is written into out allocates nothing once they have grown.
void
broker_queue(broker_t *self, const char *topic, const byte *identity, size_t size, size_t json,
             char *owned, size_t json_size)
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
    out->owned = owned;
    out->size = json_size;
}

// Forget what the turn queued; keep the buffers, unless a turn of big replies grew them.
static void
s_outbox_clear(broker_t *self)
{
    for (size_t i = 0; i < self->outbox_size; i++)
        free(self->outbox[i].owned);
    self->outbox_size = 0;
    if (self->out.max > BROKER_OUT_KEEP)
        zchat_json_free(&self->out);
    else
        zchat_json_reset(&self->out);
}

// Send one message to a routing id now, never blocking. Returns 0, or -1 if the peer is gone
// or its queue is full (the message is then dropped and counted).
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
        const char *json = out->owned ? out->owned : self->out.data + out->json;
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

// --- Rooms and events ---

// Start a room event in self->out: type, room, seq, ts. The caller adds its fields with
// zchat_json_*, then s_publish. Events are written directly, without a tree: they come at the
// rate of the traffic.
void
broker_event_open(broker_t *self, room_t *room, const char *type)
{
    zchat_json_open(&self->out, type);
    zchat_json_string(&self->out, "room", room_name(room));
    zchat_json_int(&self->out, "seq", (int64_t)room_next_seq(room));
    zchat_json_int(&self->out, "ts", self->now);
}

// End the event s_event_open began, store it and queue it for the feed.
void
broker_publish(broker_t *self, room_t *room)
{
    size_t size;
    size_t offset = zchat_json_close(&self->out, &size);
    // After a failed append the store refuses the rest of the turn: it is lost whole
    if (store_append(self->store, room_name(room), room_last_seq(room), self->out.data + offset) ==
        -1)
        self->store_failed = true;
    broker_queue(self, room_topic(room), NULL, 0, offset, NULL, size);
}

static void
s_publish_presence(broker_t *self, room_t *room, session_t *session, const char *what,
                   const char *reason, const char *note)
{
    broker_event_open(self, room, "presence");
    zchat_json_string(&self->out, "user", session_user(session));
    zchat_json_string(&self->out, "event", what);
    if (reason)
        zchat_json_string(&self->out, "reason", reason);
    if (streq(what, "status"))
        zchat_json_string(&self->out, "status", session_status(session));
    if (note && *note)
        zchat_json_string(&self->out, "note", note);
    broker_publish(self, room);
}

static room_t *
s_room_require(broker_t *self, const char *name)
{
    room_t *room = zhashx_lookup(self->rooms, name);
    if (!room) {
        room = room_new(name, 0);
        zhashx_insert(self->rooms, name, room);
    }
    return room;
}

// Put a live session into the member list of its room at index, announcing it.
static void
s_enter(broker_t *self, session_t *session, size_t index)
{
    room_t *room = session_room(session, index);
    session_set_room_handle(session, index, room_join(room, session));
    s_publish_presence(self, room, session, "join", NULL, NULL);
}

// Take a session out of the member list of its room at index, announcing why.
static void
s_exit(broker_t *self, session_t *session, size_t index, const char *reason, const char *note)
{
    room_t *room = session_room(session, index);
    void *handle = session_room_handle(session, index);
    if (!handle)
        return;
    room_leave(room, handle);
    session_set_room_handle(session, index, NULL);
    s_publish_presence(self, room, session, "leave", reason, note);
}

// --- Sessions ---

// The connection req came from becomes the session's.
static void
s_bind(broker_t *self, request_t *req, session_t *session)
{
    if (*session_key(session))
        zhashx_delete(self->by_key, session_key(session));
    session_set_identity(session, req->identity, req->identity_size);
    zhashx_update(self->by_key, session_key(session), session);
}

static void
s_welcome(broker_t *self, request_t *req, session_t *session)
{
    zchat_msg_t *reply = zchat_msg_new("welcome");
    zchat_msg_set_string(reply, "user", session_user(session));
    zchat_msg_set_string(reply, "session", session_token(session));
    zchat_msg_set_string(reply, "feed", self->feed_ad);
    zchat_msg_set_string(reply, "epoch", self->epoch);
    zchat_msg_set_int(reply, "heartbeat_ms", self->options.heartbeat_ms);
    zchat_msg_set_array(reply, "rooms");
    for (size_t i = 0; i < session_rooms(session); i++)
        zchat_msg_append_string(reply, "rooms", room_name(session_room(session, i)));
    request_reply(req, &reply);
}

// Expire a live session (silent or too slow): it leaves its rooms, its name is free, and it
// stays resumable for ZCHAT_RESUME_GRACE_MS.
static void
s_expire(broker_t *self, session_t *session, const char *why)
{
    zsys_info("%s%s expired (%s)", session_is_observer(session) ? "observer " : "",
              *session_user(session) ? session_user(session) : "(anonymous)", why);
    for (size_t i = 0; i < session_rooms(session); i++)
        s_exit(self, session, i, "timeout", NULL);
    if (!session_is_observer(session))
        zhashx_delete(self->by_name, session_fold(session));
    zhashx_delete(self->by_key, session_key(session));
    session_set_expired(session, self->now);
    session_set_expired_handle(session, zlistx_add_end(self->expired, session));
}

// Take an expired session out of the list of expired ones (resumed, or forgotten).
static void
s_unexpire(broker_t *self, session_t *session)
{
    void *handle = session_expired_handle(session);
    if (handle)
        zlistx_delete(self->expired, handle);
    session_set_expired_handle(session, NULL);
}

// End a session for good: it leaves its rooms and is destroyed.
static void
s_end(broker_t *self, session_t *session, const char *reason, const char *note)
{
    while (session_rooms(session)) {
        s_exit(self, session, 0, reason, note);
        session_remove_room(session, session_room(session, 0));
    }
    if (session_is_live(session)) {
        if (!session_is_observer(session))
            zhashx_delete(self->by_name, session_fold(session));
        zhashx_delete(self->by_key, session_key(session));
    } else {
        s_unexpire(self, session);
    }
    zhashx_delete(self->sessions, session_token(session));  // destroys it
}

static int
s_compare_fold(const void *a, const void *b)
{
    return strcmp(session_fold(*(session_t *const *)a), session_fold(*(session_t *const *)b));
}

// The members of room (or, with NULL, every live user), sorted by folded name.
// Returns a new array of *size borrowed sessions: free() it.
static session_t **
s_sorted_users(broker_t *self, room_t *room, size_t *size)
{
    size_t max = room ? room_size(room) : zhashx_size(self->by_name);
    session_t **users = zmalloc((max ? max : 1) * sizeof(session_t *));
    size_t n = 0;
    if (room)
        for (session_t *s = room_first(room); s; s = room_next(room))
            users[n++] = s;
    else
        for (session_t *s = zhashx_first(self->by_name); s; s = zhashx_next(self->by_name))
            users[n++] = s;
    qsort(users, n, sizeof(session_t *), s_compare_fold);
    *size = n;
    return users;
}

// --- Accounts: password checks and the slow-down after failures ---
//
// A password check (Argon2id, about 20 ms: account.h) runs on the loop thread, so its cost is
// bounded twice: each connection is slowed down after failures, and all connections together
// get at most BROKER_AUTH_RATE checks per second (past that, rate_limited).
//
// The slow-down, per connection (routing id): failed checks are counted, and the count starts
// over after BROKER_AUTH_WINDOW_MS without a failure, or after a success. From the
// BROKER_AUTH_FREE-th failure on, the connection waits BROKER_AUTH_DELAY_MS after each failure,
// doubled for each further one up to BROKER_AUTH_DELAY_MAX_MS (1, 2, 4 ... 60 s); a hello that
// needs a password during the wait gets auth_failed at once, is not checked and not counted.
// The broker never sleeps: the wait is a time stamp.

#define BROKER_AUTH_FREE         3      // failures before the waits begin
#define BROKER_AUTH_WINDOW_MS    60000  // a quiet time after which failures are forgotten
#define BROKER_AUTH_DELAY_MS     1000   // the first wait
#define BROKER_AUTH_DELAY_MAX_MS 60000  // the longest wait
#define BROKER_AUTH_RATE         10     // password hashes and checks per second, in all
#define BROKER_AUTH_BURST        30
#define BROKER_AUTH_PRUNE        1024  // failure records kept before stale ones are dropped

// The recent failed logins of one connection
typedef struct {
    int count;              // failures since the count last started over
    int64_t last_ms;        // when the last one was
    int64_t blocked_until;  // hellos that need a password fail unchecked until then
} s_failures_t;

static const char s_auth_failed[] = "Wrong user name or password.";

// Take a token for one password hash or check. False: too many in all just now.
static bool
s_auth_budget(broker_t *self)
{
    return limiter_take(&self->auth_budget, BROKER_AUTH_RATE, BROKER_AUTH_BURST, self->now);
}

// Count a failed check of the current connection, and start its wait when due. The log may
// say what the client is never told: whether the name has an account.
static void
s_auth_failure(broker_t *self, request_t *req, const char *user, bool known)
{
    if (zhashx_size(self->failures) > BROKER_AUTH_PRUNE) {
        // Records are made only at the checks' bounded rate: dropping the stale ones now and
        // then keeps the table small
        zlistx_t *stale = zlistx_new();
        for (s_failures_t *f = zhashx_first(self->failures); f; f = zhashx_next(self->failures))
            if (self->now - f->last_ms > BROKER_AUTH_WINDOW_MS && self->now >= f->blocked_until)
                zlistx_add_end(stale, (void *)zhashx_cursor(self->failures));
        for (const char *key = zlistx_first(stale); key; key = zlistx_next(stale))
            zhashx_delete(self->failures, key);
        zlistx_destroy(&stale);
    }
    s_failures_t *failures = zhashx_lookup(self->failures, req->key);
    if (!failures) {
        failures = zmalloc(sizeof(s_failures_t));
        zhashx_insert(self->failures, req->key, failures);
    }
    if (self->now - failures->last_ms > BROKER_AUTH_WINDOW_MS)
        failures->count = 0;
    failures->count++;
    failures->last_ms = self->now;
    if (failures->count >= BROKER_AUTH_FREE) {
        int shift = failures->count - BROKER_AUTH_FREE;
        int64_t delay =
            shift >= 6 ? BROKER_AUTH_DELAY_MAX_MS : (int64_t)BROKER_AUTH_DELAY_MS << shift;
        if (delay > BROKER_AUTH_DELAY_MAX_MS)
            delay = BROKER_AUTH_DELAY_MAX_MS;
        failures->blocked_until = self->now + delay;
    }
    zsys_notice("login as %s refused: %s (failure %d from this connection)", user,
                known ? "wrong password" : "no such account", failures->count);
}

// The account check of a hello for user (a valid name; "" for an anonymous observer), before
// it may take the name. zchat-protocol(7) CHECK ORDER: after invalid_name, before name_taken.
static zchat_err_t
s_authenticate(broker_t *self, request_t *req, const char *user)
{
    if (self->options.accounts == OPTIONS_ACCOUNTS_OFF || !*user)
        return ZCHAT_OK;  // no accounts; an anonymous observer reserves no name
    char *hash = NULL;
    if (store_user_hash(self->store, user, &hash) == -1)
        return request_fail(req, ZCHAT_ERR_INTERNAL, "The accounts cannot be read now: try again.");
    if (!hash && self->options.accounts == OPTIONS_ACCOUNTS_OPTIONAL)
        return ZCHAT_OK;  // a free name
    const char *password = zchat_req_string(req->msg, "password");
    s_failures_t *failures = zhashx_lookup(self->failures, req->key);
    zchat_err_t err = ZCHAT_OK;
    if (!password)
        err = ZCHAT_ERR_AUTH_FAILED;  // one is needed; no guess was made: not counted
    else if (failures && self->now < failures->blocked_until)
        err = ZCHAT_ERR_AUTH_FAILED;  // slowed down: not checked
    else if (strlen(password) > ACCOUNT_PASSWORD_MAX)
        err = ZCHAT_ERR_AUTH_FAILED;  // no account has such a password: not hashed, not recorded
    else if (!s_auth_budget(self))
        err = request_fail(req, ZCHAT_ERR_RATE_LIMITED,
                           "Too many logins are being checked just now: try again in a moment.");
    else if (!account_verify(hash, password)) {  // with no account, as slow as a wrong password
        err = ZCHAT_ERR_AUTH_FAILED;
        s_auth_failure(self, req, user, hash != NULL);
    } else
        zhashx_delete(self->failures, req->key);
    free(hash);
    if (err == ZCHAT_ERR_AUTH_FAILED)
        snprintf(req->detail, sizeof req->detail, "%s", s_auth_failed);  // never says which
    return err;
}

// --- Request handlers: every check first, then change state; never send an error ---

static zchat_err_t
s_handle_hello(broker_t *self, request_t *req)
{
    bool observer = false;
    zchat_req_opt_bool(req->msg, "observer", &observer);
    const char *user = zchat_req_string(req->msg, "user");
    int64_t proto = -1;
    if (!zchat_req_has(req->msg, "proto"))
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: proto (an integer, 1).");
    zchat_req_opt_int(req->msg, "proto", &proto);
    if (!user && !observer)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: user.");
    if (proto != ZCHAT_PROTO)
        return request_fail(req, ZCHAT_ERR_PROTO_MISMATCH,
                            "This broker speaks ZCHAT/1: send proto 1 (got %" PRId64 ").", proto);
    if (user && !zchat_name_is_user(user))
        return request_fail(req, ZCHAT_ERR_INVALID_NAME,
                            "Invalid user name: " ZCHAT_NAME_USER_RULE ".");
    if (!user)
        user = "";
    char fold[ZCHAT_NAME_MAX + 1];
    zchat_name_fold(user, fold, sizeof fold);

    // resume: a token of a live or recently expired session of the same user and kind
    session_t *session = NULL;
    const char *token = zchat_req_string(req->msg, "resume");
    if (token) {
        session = zhashx_lookup(self->sessions, token);
        if (session &&
            (!streq(session_fold(session), fold) || session_is_observer(session) != observer))
            session = NULL;
    }
    // zchat-protocol(7) SERVER LIMITS: the broker's own cap. A resume makes no session, and a new
    // one may take the place of an expired one (below); when every session is live, the server is
    // full: a transient condition, hence rate_limited (checked before a password costs a hash)
    bool full = (long)zhashx_size(self->sessions) >= self->options.max_sessions;
    if (!session && full && zlistx_size(self->expired) == 0)
        return request_fail(req, ZCHAT_ERR_RATE_LIMITED,
                            "This server holds %ld live sessions, its most: try again later.",
                            self->options.max_sessions);
    // A resume is the login it continues (the token is the proof); anything else shows its
    // password when the name needs one
    zchat_err_t err = session ? ZCHAT_OK : s_authenticate(self, req, user);
    if (err)
        return err;
    if (session && session_is_live(session)) {
        // Taken over by a new connection: the old identity now gets not_logged_in
        s_bind(self, req, session);
        zsys_info("%s resumed on a new connection", session_user(session));
        s_welcome(self, req, session);
        return ZCHAT_OK;
    }
    if (!observer && zhashx_lookup(self->by_name, fold))
        return request_fail(req, ZCHAT_ERR_NAME_TAKEN, "The name %s is in use: pick another.",
                            user);

    const char *client = zchat_req_string(req->msg, "client");
    char *safe_client = zchat_text_safe(client ? client : "unknown");
    if (session) {
        // Expired but within the grace time: back into its rooms
        session_set_expired(session, 0);
        s_unexpire(self, session);
        session_touch(session, self->now);
        s_bind(self, req, session);
        if (!observer)
            zhashx_insert(self->by_name, fold, session);
        for (size_t i = 0; i < session_rooms(session); i++)
            s_enter(self, session, i);
        zsys_info("%s resumed after expiry (client %s)", user, safe_client);
    } else {
        if (full) {
            // Resumable sessions are a courtesy; a login is not: the oldest expired one goes
            session_t *oldest = zlistx_first(self->expired);
            zsys_info("%s forgotten early: the server is full",
                      *session_user(oldest) ? session_user(oldest) : "(anonymous)");
            s_end(self, oldest, "timeout", NULL);
        }
        session = session_new(user, observer, self->now);
        zhashx_insert(self->sessions, session_token(session), session);
        s_bind(self, req, session);
        if (!observer) {
            zhashx_insert(self->by_name, fold, session);
            session_add_room(session, s_room_require(self, "lobby"));
            s_enter(self, session, 0);
        }
        zsys_info("%s%s logged in (client %s)", observer ? "observer " : "",
                  *user ? user : "(anonymous)", safe_client);
    }
    free(safe_client);
    s_welcome(self, req, session);
    return ZCHAT_OK;
}

static void
s_reply_joined(broker_t *self, request_t *req, room_t *room, uint64_t seq)
{
    zchat_msg_t *reply = zchat_msg_new("joined");
    zchat_msg_set_string(reply, "room", room_name(room));
    zchat_msg_set_int(reply, "seq", (int64_t)seq);
    zchat_msg_set_array(reply, "members");
    size_t size;
    session_t **members = s_sorted_users(self, room, &size);
    for (size_t i = 0; i < size; i++)
        zchat_msg_append_string(reply, "members", session_user(members[i]));
    free(members);
    request_reply(req, &reply);
}

static zchat_err_t
s_handle_join(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    char name[ZCHAT_NAME_MAX + 1];
    zchat_err_t err = request_room(req, "room", name);
    if (err)
        return err;
    room_t *room = zhashx_lookup(self->rooms, name);
    if (room && session_in_room(session, room)) {
        s_reply_joined(self, req, room, room_last_seq(room));  // already a member: no event
        return ZCHAT_OK;
    }
    if (session_rooms(session) >= ZCHAT_ROOMS_MAX)
        return request_fail(req, ZCHAT_ERR_TOO_MANY_ROOMS,
                            "You are in %d rooms, the most allowed: leave one first.",
                            ZCHAT_ROOMS_MAX);
    // zchat-protocol(7) SERVER LIMITS (lobby, made at the first hello, is never refused)
    if (!room && !streq(name, "lobby") && (long)zhashx_size(self->rooms) >= self->options.max_rooms)
        return request_fail(req, ZCHAT_ERR_TOO_MANY_ROOMS,
                            "This server holds %ld rooms, its most: join a room that exists.",
                            self->options.max_rooms);
    room = s_room_require(self, name);
    session_add_room(session, room);
    s_enter(self, session, session_rooms(session) - 1);
    s_reply_joined(self, req, room, room_last_seq(room));
    return ZCHAT_OK;
}

static zchat_err_t
s_handle_leave(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    char name[ZCHAT_NAME_MAX + 1];
    zchat_err_t err = request_room(req, "room", name);
    if (err)
        return err;
    room_t *room = zhashx_lookup(self->rooms, name);
    if (!room || !session_in_room(session, room))
        return request_fail(req, ZCHAT_ERR_NOT_IN_ROOM, "You are not in #%s.", name);
    for (size_t i = 0; i < session_rooms(session); i++)
        if (session_room(session, i) == room)
            s_exit(self, session, i, "leave", NULL);
    session_remove_room(session, room);
    zchat_msg_t *reply = zchat_msg_new("left");
    zchat_msg_set_string(reply, "room", name);
    request_reply(req, &reply);
    return ZCHAT_OK;
}

static int
s_compare_room(const void *a, const void *b)
{
    return strcmp(room_name(*(room_t *const *)a), room_name(*(room_t *const *)b));
}

static zchat_err_t
s_handle_rooms(broker_t *self, request_t *req)
{
    size_t max = zhashx_size(self->rooms);
    room_t **rooms = zmalloc((max ? max : 1) * sizeof(room_t *));
    size_t n = 0;
    for (room_t *room = zhashx_first(self->rooms); room; room = zhashx_next(self->rooms))
        if (room_size(room) > 0 || room_last_seq(room) > 0)
            rooms[n++] = room;
    qsort(rooms, n, sizeof(room_t *), s_compare_room);
    zchat_msg_t *reply = zchat_msg_new("rooms");
    zchat_msg_set_array(reply, "rooms");
    for (size_t i = 0; i < n; i++) {
        zchat_msg_t *entry = zchat_msg_append_object(reply, "rooms");
        zchat_msg_set_string(entry, "name", room_name(rooms[i]));
        zchat_msg_set_int(entry, "members", (int64_t)room_size(rooms[i]));
        zchat_msg_set_int(entry, "seq", (int64_t)room_last_seq(rooms[i]));
    }
    free(rooms);
    request_reply(req, &reply);
    return ZCHAT_OK;
}

static zchat_err_t
s_handle_users(broker_t *self, request_t *req)
{
    room_t *room = NULL;
    char name[ZCHAT_NAME_MAX + 1];
    if (zchat_req_has(req->msg, "room")) {
        zchat_err_t err = request_room(req, "room", name);
        if (err)
            return err;
        room = zhashx_lookup(self->rooms, name);
        if (!room)
            return request_fail(req, ZCHAT_ERR_NO_SUCH_ROOM, "No such room: #%s.", name);
    }
    zchat_msg_t *reply = zchat_msg_new("users");
    if (room)
        zchat_msg_set_string(reply, "room", name);
    zchat_msg_set_array(reply, "users");
    size_t size;
    session_t **users = s_sorted_users(self, room, &size);
    for (size_t i = 0; i < size; i++) {
        zchat_msg_t *entry = zchat_msg_append_object(reply, "users");
        zchat_msg_set_string(entry, "name", session_user(users[i]));
        zchat_msg_set_string(entry, "status", session_status(users[i]));
        if (*session_note(users[i]))
            zchat_msg_set_string(entry, "note", session_note(users[i]));
    }
    free(users);
    request_reply(req, &reply);
    return ZCHAT_OK;
}

static zchat_err_t
s_handle_say(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    char name[ZCHAT_NAME_MAX + 1];
    zchat_err_t err = request_room(req, "room", name);
    const char *text;
    if (!err)
        err = request_text(req, "text", true, 1, ZCHAT_TEXT_MAX, &text);
    if (err)
        return err;
    room_t *room = zhashx_lookup(self->rooms, name);
    if (!room)
        return request_fail(req, ZCHAT_ERR_NO_SUCH_ROOM, "No such room: #%s.", name);
    if (!session_in_room(session, room))
        return request_fail(req, ZCHAT_ERR_NOT_IN_ROOM, "You are not in #%s: join it first.", name);

    broker_event_open(self, room, "message");
    zchat_json_string(&self->out, "from", session_user(session));
    zchat_json_string(&self->out, "text", text);
    // zchat-protocol(7) ROOM EVENTS: the say's id, stored with it, so that a client whose ack was
    // lost with a broker that died after the commit finds its message in history instead of sending
    // it again to the next run (which remembers no ids)
    if (req->id)
        zchat_json_string(&self->out, "id", req->id);
    broker_publish(self, room);
    if (req->id)
        request_ack_remember(req, (int64_t)room_last_seq(room));
    return ZCHAT_OK;
}

// NO_SUCH_USER, naming the user as asked for (cut, made printable).
static zchat_err_t
s_no_such_user(request_t *req, const char *to)
{
    char *safe_to = zchat_text_safe(to);
    zchat_text_cut(safe_to, 64);  // whole characters: the reply must stay valid UTF-8
    request_fail(req, ZCHAT_ERR_NO_SUCH_USER, "No such user: %s.", safe_to);
    free(safe_to);
    return ZCHAT_ERR_NO_SUCH_USER;
}

static zchat_err_t
s_handle_msg(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    const char *to = zchat_req_string(req->msg, "to");
    if (!to)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: to.");
    const char *text;
    zchat_err_t err = request_text(req, "text", true, 1, ZCHAT_TEXT_MAX, &text);
    if (err)
        return err;
    char fold[ZCHAT_NAME_MAX + 1];
    session_t *peer = NULL;
    if (zchat_name_is_user(to) && zchat_name_fold(to, fold, sizeof fold) == 0)
        peer = zhashx_lookup(self->by_name, fold);
    if (!peer)
        return s_no_such_user(req, to);

    // Private messages travel over ROUTER only, and now: a peer that cannot take it is an error
    zchat_msg_t *private = zchat_msg_new("private");
    zchat_msg_set_string(private, "from", session_user(session));
    zchat_msg_set_string(private, "to", session_user(peer));
    zchat_msg_set_string(private, "text", text);
    zchat_msg_set_int(private, "ts", self->now);
    char *json = zchat_msg_encode(private);
    zchat_msg_destroy(&private);
    size_t size;
    const byte *identity = session_identity(peer, &size);
    int rc = broker_send_to(self, identity, size, json, strlen(json));
    free(json);
    if (rc == -1)
        return s_no_such_user(req, to);
    if (req->id)
        request_ack_remember(req, -1);
    return ZCHAT_OK;
}

typedef struct {
    zchat_msg_t *reply;
    uint64_t last;  // seq of the last event in the reply
    size_t bytes;   // of the events in the reply
    bool full;      // BROKER_HISTORY_BYTES reached: the client pages on (complete is false)
} s_history_t;

static void
s_add_event(void *arg, uint64_t seq, const char *json)
{
    s_history_t *history = arg;
    size_t size = strlen(json);
    if (history->full || (history->bytes > 0 && history->bytes + size > BROKER_HISTORY_BYTES)) {
        history->full = true;
        return;
    }
    zchat_msg_append_raw(history->reply, "events", json);
    history->bytes += size;
    history->last = seq;
}

static zchat_err_t
s_handle_history(broker_t *self, request_t *req)
{
    char name[ZCHAT_NAME_MAX + 1];
    zchat_err_t err = request_room(req, "room", name);
    if (err)
        return err;
    int64_t since = 0, limit = ZCHAT_HISTORY_DEFAULT;
    zchat_req_opt_int(req->msg, "since", &since);
    zchat_req_opt_int(req->msg, "limit", &limit);
    if (since < 0)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "since must be 0 or more.");
    if (limit < 1)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "limit must be 1 or more.");
    if (limit > ZCHAT_HISTORY_MAX)
        limit = ZCHAT_HISTORY_MAX;
    room_t *room = zhashx_lookup(self->rooms, name);
    if (!room)
        return request_fail(req, ZCHAT_ERR_NO_SUCH_ROOM, "No such room: #%s.", name);

    s_history_t history = {zchat_msg_new("history"), 0, 0, false};
    zchat_msg_set_string(history.reply, "room", name);
    zchat_msg_set_array(history.reply, "events");
    int count =
        store_history(self->store, name, (uint64_t)since, (size_t)limit, s_add_event, &history);
    if (count < 0) {
        zchat_msg_destroy(&history.reply);
        return request_fail(req, ZCHAT_ERR_INTERNAL, "The history cannot be read now: try again.");
    }
    bool complete = !history.full && (count < limit || history.last >= room_last_seq(room));
    zchat_msg_set_bool(history.reply, "complete", complete);
    request_reply(req, &history.reply);
    return ZCHAT_OK;
}

static zchat_err_t
s_handle_status(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    const char *status = zchat_req_string(req->msg, "status");
    if (!status || !(streq(status, "online") || streq(status, "away")))
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "status must be \"online\" or \"away\".");
    const char *note;
    zchat_err_t err = request_text(req, "note", false, 0, ZCHAT_NOTE_MAX, &note);
    if (err)
        return err;
    session_set_status(session, status, note ? note : "");
    for (size_t i = 0; i < session_rooms(session); i++)
        s_publish_presence(self, session_room(session, i), session, "status", NULL,
                           session_note(session));
    zchat_msg_t *reply = zchat_msg_new("ok");
    request_reply(req, &reply);
    return ZCHAT_OK;
}

static zchat_err_t
s_handle_ping(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    zchat_msg_t *reply = zchat_msg_new("pong");
    // zchat-protocol(7) REPLIES: a ping is allowed before hello, so say whether this connection has
    // a session (and which broker run answers): a client taken over, expired or restarted away
    // learns it
    zchat_msg_set_bool(reply, "logged_in", session != NULL);
    zchat_msg_set_string(reply, "epoch", self->epoch);
    zchat_msg_t *seqs = zchat_msg_set_object(reply, "seqs");
    for (size_t i = 0; session && i < session_rooms(session); i++) {
        room_t *room = session_room(session, i);
        zchat_msg_set_int(seqs, room_name(room), (int64_t)room_last_seq(room));
    }
    request_reply(req, &reply);
    return ZCHAT_OK;
}

static zchat_err_t
s_handle_quit(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    const char *reason;
    zchat_err_t err = request_text(req, "reason", false, 0, ZCHAT_NOTE_MAX, &reason);
    if (err)
        return err;
    zchat_msg_t *reply = zchat_msg_new("bye");
    request_reply(req, &reply);
    zsys_info("%s%s quit", session_is_observer(session) ? "observer " : "",
              *session_user(session) ? session_user(session) : "(anonymous)");
    s_end(self, session, "quit", reason);
    return ZCHAT_OK;
}

// zchat-protocol(7) ACCOUNTS (--open-registration): make an account, then log in with hello.
static zchat_err_t
s_handle_register(broker_t *self, request_t *req)
{
    if (!self->options.open_registration)
        return request_fail(req, ZCHAT_ERR_FORBIDDEN,
                            "This broker takes no registrations: ask its operator for an account.");
    const char *user = zchat_req_string(req->msg, "user");
    const char *password = zchat_req_string(req->msg, "password");
    if (!user)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: user.");
    if (!password)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: password.");
    if (!zchat_name_is_user(user))
        return request_fail(req, ZCHAT_ERR_INVALID_NAME,
                            "Invalid user name: " ZCHAT_NAME_USER_RULE ".");
    if (!account_password_is_valid(password))
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST,
                            "A password is %d to %d bytes of UTF-8 without control characters.",
                            ACCOUNT_PASSWORD_MIN, ACCOUNT_PASSWORD_MAX);
    char *hash = NULL;
    if (store_user_hash(self->store, user, &hash) == -1)
        return request_fail(req, ZCHAT_ERR_INTERNAL, "The accounts cannot be read now: try again.");
    if (hash) {
        free(hash);
        return request_fail(req, ZCHAT_ERR_NAME_TAKEN, "The name %s is registered: pick another.",
                            user);
    }
    if (!s_auth_budget(self))
        return request_fail(req, ZCHAT_ERR_RATE_LIMITED,
                            "Too many logins are being checked just now: try again in a moment.");
    hash = account_hash(password);
    int rc = hash ? store_user_add(self->store, user, hash, self->now) : -1;
    free(hash);
    if (rc == 1)
        return request_fail(req, ZCHAT_ERR_NAME_TAKEN, "The name %s is registered: pick another.",
                            user);
    if (rc == -1)
        return request_fail(req, ZCHAT_ERR_INTERNAL, "The account cannot be made now: try again.");
    zsys_info("%s registered", user);
    zchat_msg_t *reply = zchat_msg_new("ok");
    request_reply(req, &reply);
    return ZCHAT_OK;
}

// zchat-protocol(7) REQUESTS: every request type, who may send it
static const struct {
    const char *type;
    handler_fn *handle;
    bool needs_session;  // false: allowed before hello
    bool observer_ok;    // allowed for observer sessions
} s_handlers[] = {
    // One request a row, as in zchat-protocol(7) REQUESTS
    // clang-format off
    {"hello",    s_handle_hello,    false, true},
    {"join",     s_handle_join,     true,  false},
    {"leave",    s_handle_leave,    true,  false},
    {"rooms",    s_handle_rooms,    true,  true},
    {"users",    s_handle_users,    true,  true},
    {"say",      s_handle_say,      true,  false},
    {"msg",      s_handle_msg,      true,  false},
    {"history",  s_handle_history,  true,  true},
    {"status",   s_handle_status,   true,  false},
    {"ping",     s_handle_ping,     false, true},
    {"quit",     s_handle_quit,     true,  true},
    {"register", s_handle_register, false, false},  // extension: --open-registration
    // clang-format on
};

#define S_HANDLERS (sizeof s_handlers / sizeof s_handlers[0])

// The rate bucket of a connection that has not said hello yet.
static limiter_t *
s_guest_bucket(broker_t *self, const request_t *req)
{
    limiter_t *bucket = zhashx_lookup(self->guests, req->key);
    if (!bucket) {
        bucket = zmalloc(sizeof(limiter_t));
        zhashx_insert(self->guests, req->key, bucket);
    }
    return bucket;
}

// Take a token for a request that came to nothing (bad frame, JSON or type): a flood of
// garbage is bounded like any other. Returns err, or RATE_LIMITED when no token is left.
static zchat_err_t
s_charge(broker_t *self, request_t *req, zchat_err_t err)
{
    limiter_t *bucket = req->session ? session_limiter(req->session) : s_guest_bucket(self, req);
    if (!limiter_take(bucket, self->options.rate, self->options.burst, self->now)) {
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

    // ping takes no token, so a client over its limit can still show it is alive
    if (!streq(type, "ping")) {
        limiter_t *bucket = session ? session_limiter(session) : s_guest_bucket(self, req);
        if (!limiter_take(bucket, self->options.rate, self->options.burst, self->now))
            return ZCHAT_ERR_RATE_LIMITED;
    }
    if (!session && s_handlers[h].needs_session)
        return ZCHAT_ERR_NOT_LOGGED_IN;
    if (session && streq(type, "hello"))
        return ZCHAT_ERR_ALREADY_LOGGED_IN;
    if (session && session_is_observer(session) && !s_handlers[h].observer_ok)
        return request_fail(req, ZCHAT_ERR_FORBIDDEN, "Observer sessions may not send %s.", type);
    if (!zchat_req_fields_ok(req->msg))
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST,
                            "A field of this %s has the wrong type (or id is not 1-64 bytes).",
                            type);

    // A retried say or msg gets its first ack again and is not delivered twice
    if (session && req->id && (streq(type, "say") || streq(type, "msg"))) {
        int64_t seq;
        if (session_recall(session, req->id, &seq)) {
            request_ack(req, seq);
            return ZCHAT_OK;
        }
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
        s_expire(self, s, session_blocked_since(s) ? "its queue stayed full" : "silent");
    for (session_t *s = zlistx_first(forget); s; s = zlistx_next(forget))
        s_end(self, s, "timeout", NULL);
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
    char *endpoint = s_endpoint(host, port ? port_text : "*");
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
                    s_exit(self, s, i, "shutdown", NULL);
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
