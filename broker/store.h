// store.h - the broker's storage: rooms, their events, the user accounts; the one seam to it
//
// The broker, its admin commands and the benchmark's relay use these functions only. A backend
// implements them through store_backend_t: store_sqlite.c (SQLite, one process, the default) is
// one; another (a JetStream store shared by several brokers) plugs in behind the same calls.
#ifndef STORE_H_INCLUDED
#define STORE_H_INCLUDED

#include "zchat_prelude.h"

typedef struct store store_t;

// Open or create the database at path (":memory:" for one that lives in memory only) on the
// default backend, keeping the last keep events of each room (0: none, only each room's last
// seq). Returns NULL if it cannot be opened or is not a zchat database; then *error is a new
// sentence saying why (caller frees).
store_t *store_new(const char *path, size_t keep, char **error);

// store_new for the broker: first claim the database for this process, so that a second
// zchat-broker on it is refused instead of handing out the same seqs; the claim ends with the
// store. Admin commands do not claim, so they work beside a running broker.
store_t *store_new_exclusive(const char *path, size_t keep, char **error);

// Commit what is pending and close. Null *self_p; safe on NULL.
void store_destroy(store_t **self_p);

typedef void store_room_fn(void *arg, const char *room, uint64_t last_seq);

// Call fn for every room stored, with its last seq as last committed. Returns 0, or -1 on a
// storage error.
int store_rooms(store_t *self, store_room_fn *fn, void *arg);

// Add a room event (encoded JSON) to the current turn, begun on demand. seq is the room's last
// seq + 1, which becomes its last seq (a backend refuses a seq it holds already). Returns 0,
// or -1 on a storage error or past the backend's limits: the whole turn is then dropped, and
// every append up to the next store_commit fails too, and so does that commit, so that a turn
// is stored whole or not at all.
int store_append(store_t *self, const char *room, uint64_t seq, const char *json);

// Make the current turn durable, trimming each room it touched to the kept events (a backend
// may keep older ones a while, never shown by store_history). Returns 0, or -1 if it could not
// (the turn is then dropped).
int store_commit(store_t *self);

// The backend's upkeep between turns (SQLite: keep its WAL from growing for good). Call after
// the turn's replies are sent: now and then it waits for the disk.
void store_maintain(store_t *self);

typedef void store_event_fn(void *arg, uint64_t seq, const char *json);

// Call fn for each event of room with seq > since, oldest first, at most limit of them, none
// older than the last keep as of the last commit. Events appended in the current turn are
// included (with keep 0 none is stored). Returns the count, or -1.
int store_history(store_t *self, const char *room, uint64_t since, size_t limit, store_event_fn *fn,
                  void *arg);

// --- Accounts (zchat-broker --accounts) ---
// Names are matched case-insensitively; a name that is no valid user name has no account.

// The password hash of user name: *hash is a new string (caller frees), or NULL if name has
// no account. Returns 0, or -1 on a storage error.
int store_user_hash(store_t *self, const char *name, char **hash);

// Register name (kept as spelled, for store_user_list) with a password hash, made at
// created_ms. Returns 0, 1 if the name has an account already, or -1 on a storage error (or
// a name that is no valid user name). Inside a turn (store_append), commits with it.
int store_user_add(store_t *self, const char *name, const char *hash, int64_t created_ms);

// Replace the password hash of name. Returns 0, 1 if name has no account, -1 on an error.
int store_user_set_hash(store_t *self, const char *name, const char *hash);

// Remove the account of name. Returns 0, 1 if name has no account, -1 on an error.
int store_user_delete(store_t *self, const char *name);

typedef void store_user_fn(void *arg, const char *name, int64_t created_ms);

// Call fn for every account, sorted by folded name. Returns the count, or -1 on an error.
int store_user_list(store_t *self, store_user_fn *fn, void *arg);

// --- Backends ---

// One backend: the functions above, each on the state the backend made (store_wrap). Every
// member is set; each keeps the contract stated above for the store_ function of its name.
typedef struct {
    const char *name;  // for logs: "sqlite"
    void (*destroy)(void *state);
    int (*rooms)(void *state, store_room_fn *fn, void *arg);
    int (*append)(void *state, const char *room, uint64_t seq, const char *json);
    int (*commit)(void *state);
    void (*maintain)(void *state);
    int (*history)(void *state, const char *room, uint64_t since, size_t limit, store_event_fn *fn,
                   void *arg);
    int (*user_hash)(void *state, const char *name, char **hash);
    int (*user_add)(void *state, const char *name, const char *hash, int64_t created_ms);
    int (*user_set_hash)(void *state, const char *name, const char *hash);
    int (*user_delete)(void *state, const char *name);
    int (*user_list)(void *state, store_user_fn *fn, void *arg);
} store_backend_t;

// A store on a backend's state: for the backend's constructor. Takes state (backend->destroy
// ends it with the store); backend is borrowed (a static table).
store_t *store_wrap(const store_backend_t *backend, void *state);

// The state store_wrap was given. Borrowed: for the backend's own self-test.
void *store_state(const store_t *self);

void store_test(bool verbose);

#endif
