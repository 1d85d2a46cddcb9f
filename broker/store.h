// store.h - rooms and their history in SQLite (the only module that includes sqlite3.h)
#ifndef STORE_H_INCLUDED
#define STORE_H_INCLUDED

#include "zchat_prelude.h"

typedef struct store store_t;

// Open or create the database at path (":memory:" for one that lives in memory only), keeping
// the last keep events of each room (0: none, only each room's last seq). A database of an older
// schema is upgraded in place. Returns NULL if it cannot be opened or is not a zchat database;
// then *error is a new sentence saying why (caller frees).
store_t *store_new(const char *path, size_t keep, char **error);

// store_new for the broker: first claim the database file for this process, so that a second
// zchat-broker on the same file, by whatever path, is refused instead of handing out the same
// seqs. The claim is an flock on the file, released when the store is destroyed; admin
// commands do not claim, so they work beside a running broker.
store_t *store_new_exclusive(const char *path, size_t keep, char **error);

// Commit what is pending and close. Null *self_p; safe on NULL.
void store_destroy(store_t **self_p);

typedef void store_room_fn(void *arg, const char *room, uint64_t last_seq);

// Call fn for every room in the database, with its last seq as last committed. Returns 0, or -1
// on a database error.
int store_rooms(store_t *self, store_room_fn *fn, void *arg);

// Add a room event (encoded JSON) to the current transaction, begun on demand. The room's last
// seq becomes seq. A seq is below 2^40, and a database holds at most 2^22 - 1 rooms. Returns 0,
// or -1 on a database error or past those limits: the whole transaction is then rolled back,
// and every append up to the next store_commit fails too, and so does that commit, so that a
// turn is stored whole or not at all.
int store_append(store_t *self, const char *room, uint64_t seq, const char *json);

// Commit the current transaction, if any, trimming each room it touched to the kept events (in
// chunks: older events may stay stored a while, never shown by store_history). Returns 0, or -1
// if the commit failed (the transaction is then rolled back).
int store_commit(store_t *self);

// Keep the WAL from growing for good under steady writes (store.c says how). Call between
// turns, after their replies are sent: now and then it waits for one fdatasync.
void store_maintain(store_t *self);

typedef void store_event_fn(void *arg, uint64_t seq, const char *json);

// Call fn for each event of room with seq > since, oldest first, at most limit of them, none
// older than the last keep as of the last commit. Events appended in the current transaction
// are included (with keep 0 none is stored). Returns the count, or -1.
int store_history(store_t *self, const char *room, uint64_t since, size_t limit, store_event_fn *fn,
                  void *arg);

// --- Accounts (zchat-broker --accounts): the users table ---
// Names are matched case-insensitively; a name that is no valid user name has no account.

// The password hash of user name: *hash is a new string (caller frees), or NULL if name has
// no account. Returns 0, or -1 on a database error.
int store_user_hash(store_t *self, const char *name, char **hash);

// Register name (kept as spelled, for store_user_list) with a password hash, made at
// created_ms. Returns 0, 1 if the name has an account already, or -1 on a database error (or
// a name that is no valid user name). Inside a transaction (store_append), commits with it.
int store_user_add(store_t *self, const char *name, const char *hash, int64_t created_ms);

// Replace the password hash of name. Returns 0, 1 if name has no account, -1 on an error.
int store_user_set_hash(store_t *self, const char *name, const char *hash);

// Remove the account of name. Returns 0, 1 if name has no account, -1 on an error.
int store_user_delete(store_t *self, const char *name);

typedef void store_user_fn(void *arg, const char *name, int64_t created_ms);

// Call fn for every account, sorted by folded name. Returns the count, or -1 on an error.
int store_user_list(store_t *self, store_user_fn *fn, void *arg);

void store_test(bool verbose);

// The accounts functions: a self-test of their own.
void store_users_test(bool verbose);

#endif
