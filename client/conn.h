// conn.h - a client's connection to the broker: DEALER + SUB, hello/resume, heartbeat,
// reconnect, and every room event delivered exactly once, in seq order (track.h), every say
// and msg sent until acked (outbox.h)
#ifndef CONN_H_INCLUDED
#define CONN_H_INCLUDED

#include "zchat_prelude.h"
#include "zchat_msg.h"

typedef struct conn conn_t;

typedef enum {
    CONN_LOST,         // the broker stopped answering: reconnecting
    CONN_RECONNECTED,  // logged in again after a loss
} conn_state_t;

typedef struct {
    // A room event (message or presence), exactly once per room, in seq order.
    void (*on_event)(void *arg, const zchat_msg_t *event);
    // Everything else for the front end: private messages, and the replies and errors to the
    // requests it sent (joined, left, rooms, users, history, ok, bye, error...).
    void (*on_reply)(void *arg, const zchat_msg_t *reply);
    // The connection was lost or is back.
    void (*on_state)(void *arg, conn_state_t state);
    // Events first..last of room are gone from the broker's history: they cannot be shown.
    void (*on_lost)(void *arg, const char *room, uint64_t first, uint64_t last);
    // Observers with every room: the seq already held for a room seen for the first time
    // (0: none). NULL: 0.
    uint64_t (*on_new_room)(void *arg, const char *room);
    // The broker answered the first login with auth_failed (a password is needed, or the one
    // sent is wrong): return a password to try (a new string, which the conn wipes and frees),
    // or NULL to give up. Asked at most CONN_PASSWORD_TRIES times, and only before the first
    // welcome. NULL: give up at once.
    char *(*on_password)(void *arg, const char *user);
} conn_handler_t;

#define CONN_PASSWORD_TRIES 3

// Random bytes in the DEALER's routing id: 16 or more, so that no other client can guess it
// and take its replies (zchat-protocol(7) SOCKETS AND FRAMES)
#define CONN_ROUTING_ID_BYTES 16

typedef struct {
    const char *host;    // commands endpoint host
    int port;            // commands endpoint port
    const char *user;    // user name; for an observer optional (NULL)
    bool observer;       // an observer session (zchat-protocol(7) REQUESTS): for loggers
    const char *client;  // client name and version for hello
    int connect_ms;      // how long conn_connect waits for the first welcome
    int sub_hwm;         // SUB receive high-water mark; 0: libzmq's default
    // Security
    const char *server_key;  // the broker's public key (Z85): CURVE on both sockets; NULL: plain
    zcert_t *client_cert;    // ours, with its secret key (copied); NULL: a new one for this run
    const char *password;    // sent in every hello; NULL: none unless on_password gives one
} conn_options_t;

// Create a connection; nothing is sent yet. The handler's callbacks get arg.
conn_t *conn_new(const conn_options_t *options, const conn_handler_t *handler, void *arg);

// Say goodbye if still logged in (quit with reason, may be NULL), close, null *self_p.
void conn_destroy(conn_t **self_p, const char *reason);

// Log in: send hello and wait for welcome up to connect_ms. Returns 0, or -1 with
// conn_error() saying why (unreachable, name taken, ...).
int conn_connect(conn_t *self);

// Why the last conn_connect failed: the broker's error code ("name_taken", "auth_failed"),
// "unreachable" (no answer), "unknown_host" (the host name does not resolve), or "handshake"
// (the connection was made but its handshake failed: a wrong server key, a client key the
// broker does not allow, or CURVE on one side only).
const char *conn_error_code(const conn_t *self);
const char *conn_error(const conn_t *self);  // a sentence for the user

// Wait up to timeout_ms for fd (-1: none) to be readable, meanwhile handling everything the
// broker sends and keeping the session alive. Returns 1 if fd is readable, 0 on timeout,
// -1 when interrupted (SIGINT/SIGTERM).
int conn_wait(conn_t *self, int fd, int timeout_ms);

// The display name the broker knows us by, and whether we are logged in now.
const char *conn_user(const conn_t *self);
bool conn_is_online(const conn_t *self);

// Requests. Replies come through on_reply; say and msg are retried across reconnects until
// the broker acks them, and never delivered twice.
void conn_join(conn_t *self, const char *room);
void conn_leave(conn_t *self, const char *room);
void conn_say(conn_t *self, const char *room, const char *text);
void conn_msg(conn_t *self, const char *to, const char *text);
// Any other request (rooms, users, history, status, quit); takes ownership of *request_p.
void conn_send(conn_t *self, zchat_msg_t **request_p);

// Observers: follow room (canonical name) starting after seq since; NULL follows every room.
void conn_follow(conn_t *self, const char *room, uint64_t since);

// Rooms we are in (members) or follow (observers), in no order; free the list.
zlist_t *conn_rooms(const conn_t *self);

// True for an error code that refuses a request for the moment, not for what it asks
// (rate_limited, server_full): the same request may succeed later
// (zchat-protocol(7) RATE LIMIT; SERVER LIMITS).
bool conn_error_is_retryable(const char *code);

void conn_test(bool verbose);

#endif
