// zchat_name.h - user and room names (zchat-protocol(7) NAMES AND LIMITS)
#ifndef ZCHAT_NAME_H_INCLUDED
#define ZCHAT_NAME_H_INCLUDED

#include "zchat_prelude.h"

// The rules in words, for every message about a bad name (the broker's errors, the programs'
// option errors and prompts): one sentence each, without a final period.
#define ZCHAT_NAME_USER_RULE "a letter, then up to 31 of A-Z a-z 0-9 _ -"
#define ZCHAT_NAME_ROOM_RULE "1-32 of a-z 0-9 _ -, starting with a letter or digit"

// True if name is a valid user name: ^[A-Za-z][A-Za-z0-9_-]{0,31}$
bool zchat_name_is_user(const char *name);

// Case-fold a user name (ASCII lower-case) into fold[size]. Returns 0, or -1 if it does not
// fit. Two users clash when their folded names are equal.
int zchat_name_fold(const char *name, char *fold, size_t size);

// Canonicalise room input into room[size]: strip one leading '#', lower-case, then require
// ^[a-z0-9][a-z0-9_-]{0,31}$. Returns 0, or -1 if invalid (any non-ASCII byte is invalid).
int zchat_name_room(const char *input, char *room, size_t size);

// True if name is a room name as the broker sends it: valid and canonical (zchat_name_room
// leaves it as it is).
bool zchat_name_is_room(const char *name);

void zchat_name_test(bool verbose);

#endif
