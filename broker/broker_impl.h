// broker_impl.h - the broker's insides, private to broker/: its state, the turn's output,
// and the request handlers of the dispatch table (broker.c), one file per family
//
// Only broker.c, request.c and the handler files include this; everything else uses broker.h.
#ifndef BROKER_IMPL_H_INCLUDED
#define BROKER_IMPL_H_INCLUDED

#include "zchat_prelude.h"
#include "zchat_json.h"
#include "broker.h"
#include "limiter.h"
#include "options.h"
#include "request.h"
#include "room.h"
#include "session.h"
#include "store.h"

// A reply or event waiting for the turn's commit.
typedef struct {
    const char *topic;   // an event: its room's feed topic (borrowed: rooms outlive turns)
    byte identity[255];  // a reply: the routing id it goes to (libzmq's longest)
    size_t identity_size;
    size_t json;  // offset of its text in the turn's out
    size_t size;
} broker_out_t;

struct broker {
    options_t options;
    zsock_t *router;
    zsock_t *pub;
    zloop_t *loop;
    store_t *store;
    char *endpoint;        // bound command endpoint
    char *feed;            // bound feed endpoint
    char *feed_ad;         // feed endpoint told to clients in welcome
    char epoch[40];        // a UUID, new at every start
    bool store_failed;     // a write of this turn failed: publish nothing, stop
    zhashx_t *sessions;    // token -> session_t *, owner: live and resumable expired sessions
    zlistx_t *expired;     // session_t *, borrowed: the expired ones, oldest first
    zhashx_t *by_key;      // identity key -> session_t *, borrowed: live sessions
    zhashx_t *by_name;     // folded user -> session_t *, borrowed: live non-observers
    zhashx_t *rooms;       // name -> room_t *, owner
    zhashx_t *guests;      // identity key -> limiter_t *, owner: rate buckets before hello
    broker_out_t *outbox;  // this turn's replies and events, sent after the commit
    size_t outbox_size;
    size_t outbox_max;
    zchat_json_t out;      // the texts of the outbox (and privates), one after another
    zchat_req_t *decoder;  // each request is decoded into it, replacing the one before
    int64_t now;           // the clock at the start of the turn
    uint64_t dropped;      // replies a full or vanished connection could not take
    // Security (--curve, --accounts)
    zcert_t *cert;          // the broker's CURVE certificate; NULL without --curve
    zactor_t *auth;         // zauth, which answers every CURVE handshake; NULL without --curve
    zhashx_t *failures;     // identity key -> its failed logins (login.c), owner
    limiter_t auth_budget;  // password hashes and checks, all connections together
};

// --- The turn (broker.c) ---

// Queue an event for the feed (topic) or a reply for a routing id: the text of json_size bytes
// at offset json in self->out. Sent after the turn's commit.
void broker_queue(broker_t *self, const char *topic, const byte *identity, size_t size, size_t json,
                  size_t json_size);

// Send one message to a routing id now, never blocking. Returns 0, or -1 if the peer is gone
// or its queue is full (the message is then dropped and counted).
int broker_send_to(broker_t *self, const void *identity, size_t size, const char *json,
                   size_t json_size);

// Start a room event in self->out: type, room, its next seq, ts. The caller adds its fields
// with zchat_json_*, then broker_publish.
void broker_event_open(broker_t *self, room_t *room, const char *type);

// End the event broker_event_open began, store it and queue it for the feed.
void broker_publish(broker_t *self, room_t *room);

// --- Request handlers (the dispatch table in broker.c lists them by type) ---
//
// A handler makes every check before it changes any state, so an error leaves everything as it
// was; it returns the error (with request_fail saying why) and never sends it: the dispatcher
// does. The dispatcher has checked the login state, the rate limit and the fields' types.

// login.c

// Expire a live session (silent or too slow): it leaves its rooms, its name is free, and it
// stays resumable for ZCHAT_RESUME_GRACE_MS.
void login_expire(broker_t *self, session_t *session, const char *why);

// End a session for good: it leaves its rooms (presence leave with reason and note, if any)
// and is destroyed.
void login_end(broker_t *self, session_t *session, const char *reason, const char *note);

zchat_err_t login_handle_hello(broker_t *self, request_t *req);  // and resume
zchat_err_t login_handle_quit(broker_t *self, request_t *req);
zchat_err_t login_handle_register(broker_t *self, request_t *req);

// rooms.c

// The room of name (canonical), made if there is none. Borrowed.
room_t *rooms_require(broker_t *self, const char *name);

// Put a live session into the member list of its room at index, announcing it (presence join).
void rooms_enter(broker_t *self, session_t *session, size_t index);

// Take a session out of the member list of its room at index, if it is in it, announcing why
// (presence leave, with reason and note if not NULL). It stays in the session's room list.
void rooms_exit(broker_t *self, session_t *session, size_t index, const char *reason,
                const char *note);

zchat_err_t rooms_handle_join(broker_t *self, request_t *req);
zchat_err_t rooms_handle_leave(broker_t *self, request_t *req);
zchat_err_t rooms_handle_rooms(broker_t *self, request_t *req);
zchat_err_t rooms_handle_users(broker_t *self, request_t *req);
zchat_err_t rooms_handle_status(broker_t *self, request_t *req);

// chat.c
zchat_err_t chat_handle_say(broker_t *self, request_t *req);
zchat_err_t chat_handle_msg(broker_t *self, request_t *req);
zchat_err_t chat_handle_history(broker_t *self, request_t *req);
zchat_err_t chat_handle_ping(broker_t *self, request_t *req);

#endif
