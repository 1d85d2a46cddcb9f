// session.h - one logged-in client: identity, rooms, status, rate bucket, liveness, retry ids
#ifndef SESSION_H_INCLUDED
#define SESSION_H_INCLUDED

#include "zchat_prelude.h"
#include "limiter.h"

typedef struct session session_t;
typedef struct room room_t;

// Longest identity key: a ZeroMQ routing id is at most 255 bytes, in hex.
#define SESSION_KEY_MAX (255 * 2 + 1)

// Create a live session for user (display spelling; "" for an anonymous observer) at now_ms,
// with a new random resume token.
session_t *session_new(const char *user, bool observer, int64_t now_ms);

// Destroy the session, null *self_p; safe on NULL. Its rooms are borrowed: leave them first.
void session_destroy(session_t **self_p);

const char *session_user(const session_t *self);   // display spelling
const char *session_fold(const session_t *self);   // case-folded, for lookups
const char *session_token(const session_t *self);  // the resume token
bool session_is_observer(const session_t *self);

// Write the lookup key of a routing id (hex) into key[SESSION_KEY_MAX].
void session_identity_key(const byte *identity, size_t size, char *key);

// The connection the session now answers to.
void session_set_identity(session_t *self, const byte *identity, size_t size);
const byte *session_identity(const session_t *self, size_t *size);
const char *session_key(const session_t *self);  // session_identity_key of the identity

// Liveness: any request counts as activity.
void session_touch(session_t *self, int64_t now_ms);
int64_t session_last_active(const session_t *self);

// A send to the session found its queue full at now_ms (or, with 0, succeeded again).
void session_set_blocked(session_t *self, int64_t now_ms);
int64_t session_blocked_since(const session_t *self);  // 0: not blocked

// Expiry: a session is live until expired; an expired one may be resumed within the grace time.
void session_set_expired(session_t *self, int64_t now_ms);  // 0: live again
int64_t session_expired_at(const session_t *self);          // 0: live
bool session_is_live(const session_t *self);
// The owner's handle of this session in its list of expired ones (NULL: in none), so that it
// leaves the list in O(1) when resumed or forgotten
void *session_expired_handle(const session_t *self);
void session_set_expired_handle(session_t *self, void *handle);

// Rooms, in the order joined. The room list outlives expiry, for resume.
size_t session_rooms(const session_t *self);
room_t *session_room(const session_t *self, size_t index);
bool session_in_room(const session_t *self, const room_t *room);
void session_add_room(session_t *self, room_t *room);
void session_remove_room(session_t *self, const room_t *room);

// The handle of the session in room's member list while it is a member there, else NULL.
void *session_room_handle(const session_t *self, size_t index);
void session_set_room_handle(session_t *self, size_t index, void *handle);

// Status: "online" or "away", with an optional note ("" for none).
void session_set_status(session_t *self, const char *status, const char *note);
const char *session_status(const session_t *self);
const char *session_note(const session_t *self);

// The rate bucket of the session.
limiter_t *session_limiter(session_t *self);

// Retry ids: true if id was remembered, with *seq the seq its ack gave (-1: none, a msg).
bool session_recall(const session_t *self, const char *id, int64_t *seq);

// Remember the ack sent for id (its seq, or -1), forgetting the oldest beyond
// ZCHAT_IDS_REMEMBERED. An id remembered already keeps its first ack.
void session_remember(session_t *self, const char *id, int64_t seq);

void session_test(bool verbose);

#endif
