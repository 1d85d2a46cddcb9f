// room.h - a chat room: its members and its event sequence
#ifndef ROOM_H_INCLUDED
#define ROOM_H_INCLUDED

#include "zchat_prelude.h"

typedef struct room room_t;
typedef struct session session_t;

// Create an empty room whose newest event has seq last_seq (0: none yet); name must be
// canonical (zchat_name_room).
room_t *room_new(const char *name, uint64_t last_seq);

// Destroy the room, null *self_p; safe on NULL. Members are borrowed.
void room_destroy(room_t **self_p);

// Borrowed: valid while the room lives.
const char *room_name(const room_t *self);

// The feed topic of the room, "room/<name>/". Borrowed.
const char *room_topic(const room_t *self);

// Seq of the newest room event, 0 if none.
uint64_t room_last_seq(const room_t *self);

// Advance the seq and return it: last_seq + 1.
uint64_t room_next_seq(room_t *self);

// Add a member (borrowed). Returns a handle for room_leave.
void *room_join(room_t *self, session_t *session);

// Remove the member added under handle.
void room_leave(room_t *self, void *handle);

// Number of members.
size_t room_size(const room_t *self);

// Iterate the members: the first or the next, NULL at the end. Do not join or leave meanwhile.
session_t *room_first(room_t *self);
session_t *room_next(room_t *self);

void room_test(bool verbose);

#endif
