// store_sqlite.c - the store's SQLite backend: rooms, their history and the accounts in one file
//
// Group commit: the broker appends the events of one loop turn to one transaction and commits
// before it publishes them, so a published seq is always durable and never repeats after a
// restart. WAL with synchronous=NORMAL survives a killed process; a power cut may lose the last
// transactions, never the database. Checkpoints (the only writes that fsync) run in a thread of
// their own, so the loop does not wait for the disk.
//
// But SQLite starts the WAL over only when a checkpoint has copied all of it back, and under
// steady writes the thread never catches up with the writer: at 5,000 events/s the WAL grew by
// 27 MB/s, for good. So once the WAL is very big, the loop copies what the thread's last pass
// left over itself, between turns (store_maintain): that pass completes, and the next commit
// writes the WAL from its beginning again. It stalls the loop (about 10-20 ms, mostly an
// fdatasync; measured at 5,000 events/s), so it is kept for a WAL of S_WAL_FRAMES: at that rate
// once in 40 s, and never where traffic has pauses, where the thread's own passes complete.
//
// An event is one row of a rowid table, its key (room id << 40) | seq: an append is one insert
// at the end of one b-tree, a room's history one range of it. A turn writes nothing else: a
// room's last seq is the max seq of its events, and rooms.last_seq is written only when events
// go (trim, keep 0). Trims delete a chunk of old events at once, and history hides what is
// older than the kept events, so clients see exactly keep events per room.
#include "zchat_prelude.h"
#include "zchat_hash.h"
#include "store_sqlite.h"
#include "zchat_name.h"
#include <fcntl.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_SCHEMA_VERSION 2
#define S_CHECKPOINT_MS  1000        // how often the checkpointer copies the WAL into the database
#define S_WAL_FRAMES     65536       // a WAL this long (256 MiB of 4 KiB pages) is started over
#define S_WAL_LIMIT      (64 << 20)  // bytes of WAL file kept once it starts over
#define S_SEQ_BITS       40          // events.id = (rooms.id << S_SEQ_BITS) | seq
#define S_SEQ_LIMIT      ((uint64_t)1 << S_SEQ_BITS)  // seqs are below this
#define S_SEQ_MASK       (S_SEQ_LIMIT - 1)
#define S_ROOM_LIMIT     ((int64_t)1 << 22)  // room ids are below this: events.id stays positive
#define S_TRIM_DIVISOR   8    // a trim waits for keep / S_TRIM_DIVISOR events to delete
#define S_TRIM_MAX       128  // (at least 1, at most this): one DELETE per chunk of appends

typedef struct store_sqlite store_sqlite_t;

// What the store knows of a room, so that a turn needs no query of the rooms table
typedef struct {
    int64_t id;          // rooms.id
    uint64_t last_seq;   // seq of the newest event, with the current transaction's
    uint64_t committed;  // last_seq as of the last commit: what a rollback restores
    uint64_t oldest;     // no event with a lower seq is stored (as of the last commit)
    uint64_t trimmed;    // the new oldest once the pending trim commits, 0 if none
    bool is_new;         // created in the current transaction: a rollback forgets it
    bool touched;        // in self->touched
    char name[];
} s_stored_room_t;

struct store_sqlite {
    sqlite3 *db;
    char *path;
    int lock_fd;             // store_sqlite_new_exclusive's claim on the file, -1 if none
    zactor_t *checkpointer;  // NULL for :memory:
    atomic_uint passes;      // checkpoints the checkpointer has done (its thread counts)
    unsigned passes_seen;    // ... as of s_maintain's last own checkpoint
    int wal_frames;          // frames in the WAL after the last commit
    int wal_frames_max;      // S_WAL_FRAMES; the self-test makes it small
    size_t keep;             // events kept per room
    bool in_transaction;
    bool turn_failed;  // an append failed: the rest of the turn fails too, up to the commit
    zhashx_t *rooms;   // name -> s_stored_room_t * (owned), every room in the database
    s_stored_room_t **touched;  // rooms appended to in this transaction, borrowed from rooms
    size_t touched_size;        // and how many there are
    size_t touched_max;         // and room for how many
    int64_t next_id;            // rooms.id of the next room made
    sqlite3_stmt *begin;
    sqlite3_stmt *commit;
    sqlite3_stmt *rollback;
    sqlite3_stmt *append;
    sqlite3_stmt *add_room;
    sqlite3_stmt *set_last;
    sqlite3_stmt *trim;
    sqlite3_stmt *history;
    // Accounts (s_prepare_users)
    sqlite3_stmt *user_hash;
    sqlite3_stmt *user_add;
    sqlite3_stmt *user_set_hash;
    sqlite3_stmt *user_delete;
    sqlite3_stmt *user_list;
};

static const char *s_schema = "CREATE TABLE IF NOT EXISTS rooms ("
                              "  id INTEGER PRIMARY KEY,"
                              "  name TEXT NOT NULL UNIQUE,"
                              "  last_seq INTEGER NOT NULL"
                              ");"
                              "CREATE TABLE IF NOT EXISTS events ("
                              "  id INTEGER PRIMARY KEY,"  // (rooms.id << 40) | seq
                              "  body TEXT NOT NULL"
                              ");";

// Version 1 keyed events by (room name, seq) and wrote rooms.last_seq at every commit. Rooms get
// ids in name order, so the events are copied in the order of their new keys. Between these
// two: s_schema.
static const char *s_migrate_v1_rename = "ALTER TABLE rooms RENAME TO rooms_v1;"
                                         "ALTER TABLE events RENAME TO events_v1;";
static const char *s_migrate_v1_copy =
    "INSERT INTO rooms (name, last_seq) SELECT name, last_seq FROM rooms_v1 ORDER BY name;"
    "INSERT INTO rooms (name, last_seq) SELECT room, max(seq) FROM events_v1"
    "  WHERE room NOT IN (SELECT name FROM rooms) GROUP BY room;"
    "INSERT INTO events (id, body) SELECT (rooms.id << 40) | events_v1.seq, events_v1.body"
    "  FROM rooms CROSS JOIN events_v1 ON events_v1.room = rooms.name"
    "  ORDER BY rooms.id, events_v1.seq;"
    "DROP TABLE events_v1;"
    "DROP TABLE rooms_v1;";

// 1 if a version 1 database fits the keys of version 2 (room ids and seqs)
static const char *s_check_v1 = "SELECT (SELECT count(*) FROM"
                                "    (SELECT name FROM rooms UNION SELECT room FROM events))"
                                "  < (1 << 22)"
                                "  AND NOT EXISTS (SELECT 1 FROM rooms"
                                "    WHERE last_seq < 0 OR last_seq >= (1 << 40))"
                                "  AND NOT EXISTS (SELECT 1 FROM events"
                                "    WHERE seq < 0 OR seq >= (1 << 40))";

// After each commit: how long the WAL is.
static int
s_on_wal(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    store_sqlite_t *self = arg;
    self->wal_frames = frames;
    return SQLITE_OK;
}

// The checkpointer: a thread with its own connection that copies the WAL back into the database
// every S_CHECKPOINT_MS. PASSIVE never waits for the writer, and the writer never waits for it.
static void
s_checkpointer(zsock_t *pipe, void *args)
{
    store_sqlite_t *store = args;  // outlives this thread; only path and passes are shared
    const char *path = store->path;
    zsock_signal(pipe, 0);  // for zactor_new; the second signal says whether it can work
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        zsys_warning("store: no checkpoint thread (%s): SQLite will checkpoint inline",
                     db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        db = NULL;
    }
    zsock_signal(pipe, db ? 0 : 1);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    zpoller_set_nonstop(poller, true);  // stop on $TERM only: the broker flushes after signals
    bool running = db != NULL;
    while (running) {
        if (zpoller_wait(poller, S_CHECKPOINT_MS) == pipe) {
            char *command = zstr_recv(pipe);
            running = command && !streq(command, "$TERM");
            zstr_free(&command);
        } else {
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
            atomic_fetch_add(&store->passes, 1);
        }
    }
    zpoller_destroy(&poller);
    sqlite3_close(db);
}

static char *
s_error(store_sqlite_t *self, const char *what)
{
    return zsys_sprintf("%s: %s", what, self->db ? sqlite3_errmsg(self->db) : "out of memory");
}

static int
s_prepare(store_sqlite_t *self, sqlite3_stmt **stmt, const char *sql)
{
    return sqlite3_prepare_v3(self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL) == SQLITE_OK
               ? 0
               : -1;
}

// Run a statement that returns no rows we need, then reset it.
static int
s_step(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int s_prepare_users(store_sqlite_t *self);
static int s_commit(void *state);
static void s_close(store_sqlite_t **self_p);
static void s_finalize_users(store_sqlite_t *self);

// The first column of the first row of sql, or -1 if it fails.
static int64_t
s_query_int(store_sqlite_t *self, const char *sql)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    int64_t value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return value;
}

static void
s_room_destroy(s_stored_room_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

static s_stored_room_t *
s_room_add(store_sqlite_t *self, int64_t id, const char *name)
{
    size_t size = strlen(name) + 1;
    s_stored_room_t *room = zmalloc(sizeof(s_stored_room_t) + size);
    room->id = id;
    memcpy(room->name, name, size);
    int rc = zhashx_insert(self->rooms, name, room);
    assert(rc == 0);
    if (id >= self->next_id)
        self->next_id = id + 1;
    return room;
}

// Create the tables of a new database, or upgrade an older one, in one transaction.
static int
s_set_up(store_sqlite_t *self, int version, char **error)
{
    char *sql = NULL;
    if (version == 1) {
        if (sqlite3_exec(self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            *error = s_error(self, "cannot upgrade the database");
            return -1;
        }
        int64_t fits = s_query_int(self, s_check_v1);
        if (fits != 1) {
            *error = fits == 0
                         ? zsys_sprintf("cannot upgrade the database: it has more than %" PRId64
                                        " rooms, or a seq of 2^40 or more",
                                        S_ROOM_LIMIT - 1)
                         : s_error(self, "cannot upgrade the database");
            sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        sql = zsys_sprintf("%s %s %s PRAGMA user_version=%d; COMMIT;", s_migrate_v1_rename,
                           s_schema, s_migrate_v1_copy, S_SCHEMA_VERSION);
    } else {
        sql = zsys_sprintf("BEGIN IMMEDIATE; %s PRAGMA user_version=%d; COMMIT;", s_schema,
                           S_SCHEMA_VERSION);
    }
    char *message = NULL;
    int rc = sqlite3_exec(self->db, sql, NULL, NULL, &message);
    zstr_free(&sql);
    if (rc != SQLITE_OK) {
        *error = zsys_sprintf("cannot %s the database: %s", version == 1 ? "upgrade" : "set up",
                              message ? message : "error");
        sqlite3_free(message);
        if (!sqlite3_get_autocommit(self->db))
            sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

// The seq of the oldest (or newest) event of room in stmt, ordered so; *seq stays if none.
static int
s_load_end(sqlite3_stmt *stmt, const s_stored_room_t *room, uint64_t *seq)
{
    sqlite3_bind_int64(stmt, 1, room->id << S_SEQ_BITS);
    sqlite3_bind_int64(stmt, 2, (room->id << S_SEQ_BITS) | (int64_t)S_SEQ_MASK);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *seq = (uint64_t)sqlite3_column_int64(stmt, 0) & S_SEQ_MASK;
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

// Read every room into self->rooms: last seq = the max of rooms.last_seq and its events' seqs.
static int
s_load(store_sqlite_t *self, char **error)
{
    sqlite3_stmt *rooms = NULL, *oldest = NULL, *newest = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(self->db, "SELECT id, name, last_seq FROM rooms", -1, &rooms, NULL) ==
            SQLITE_OK &&
        sqlite3_prepare_v2(self->db,
                           "SELECT id FROM events WHERE id >= ?1 AND id <= ?2 ORDER BY id LIMIT 1",
                           -1, &oldest, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(self->db,
                           "SELECT id FROM events WHERE id >= ?1 AND id <= ?2"
                           " ORDER BY id DESC LIMIT 1",
                           -1, &newest, NULL) == SQLITE_OK)
        rc = 0;
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(rooms)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(rooms, 0);
        if (id < 1 || id >= S_ROOM_LIMIT) {
            *error = zsys_sprintf("cannot read the rooms: room id %" PRId64 " is out of range", id);
            rc = -1;
            break;
        }
        s_stored_room_t *room = s_room_add(self, id, (const char *)sqlite3_column_text(rooms, 1));
        room->last_seq = (uint64_t)sqlite3_column_int64(rooms, 2);
        room->oldest = room->last_seq + 1;  // if it has no events
        uint64_t newest_seq = 0;
        if (s_load_end(oldest, room, &room->oldest) == -1 ||
            s_load_end(newest, room, &newest_seq) == -1)
            rc = -1;
        if (newest_seq > room->last_seq)
            room->last_seq = newest_seq;
        room->committed = room->last_seq;
    }
    if (step != SQLITE_DONE)
        rc = -1;
    if (rc == -1 && !*error)
        *error = s_error(self, "cannot read the rooms");
    sqlite3_finalize(rooms);
    sqlite3_finalize(oldest);
    sqlite3_finalize(newest);
    return rc;
}

static store_sqlite_t *
s_open(const char *path, size_t keep, char **error)
{
    assert(path && error);
    *error = NULL;
    store_sqlite_t *self = zmalloc(sizeof(store_sqlite_t));
    self->lock_fd = -1;
    atomic_init(&self->passes, 0);
    self->wal_frames_max = S_WAL_FRAMES;
    self->keep = keep;
    self->rooms = zchat_hash_new();
    zhashx_set_destructor(self->rooms, (zhashx_destructor_fn *)s_room_destroy);
    self->next_id = 1;

    bool memory = streq(path, ":memory:");
    int rc = sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        *error = s_error(self, "cannot open the database");
        s_close(&self);
        return NULL;
    }
    sqlite3_busy_timeout(self->db, 2000);
    // The first statement that reads the file tells a database from anything else.
    int version = (int)s_query_int(self, "PRAGMA user_version");
    if (version < 0) {
        *error = s_error(self, "cannot read the database");
        s_close(&self);
        return NULL;
    }
    if (version > S_SCHEMA_VERSION) {
        *error = zsys_sprintf("the database has schema version %d; this zchat-broker knows %d "
                              "(a newer zchat made it)",
                              version, S_SCHEMA_VERSION);
        s_close(&self);
        return NULL;
    }
    char *message = NULL;
    rc = sqlite3_exec(self->db,
                      memory ? "PRAGMA synchronous=NORMAL;"
                             : "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
                               " PRAGMA synchronous=NORMAL;",
                      NULL, NULL, &message);
    if (rc != SQLITE_OK) {
        *error = zsys_sprintf("cannot set up the database: %s", message ? message : "error");
        sqlite3_free(message);
        s_close(&self);
        return NULL;
    }
    if (version < S_SCHEMA_VERSION && s_set_up(self, version, error) == -1) {
        s_close(&self);
        return NULL;
    }
    if (s_prepare(self, &self->begin, "BEGIN") || s_prepare(self, &self->commit, "COMMIT") ||
        s_prepare(self, &self->rollback, "ROLLBACK") ||
        s_prepare(self, &self->append, "INSERT INTO events (id, body) VALUES (?1, ?2)") ||
        s_prepare(self, &self->add_room,
                  "INSERT INTO rooms (id, name, last_seq) VALUES (?1, ?2, ?3)") ||
        s_prepare(self, &self->set_last, "UPDATE rooms SET last_seq = ?2 WHERE id = ?1") ||
        s_prepare(self, &self->trim, "DELETE FROM events WHERE id >= ?1 AND id <= ?2") ||
        s_prepare(self, &self->history,
                  "SELECT id, body FROM events WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3") ||
        s_prepare_users(self) == -1) {
        *error = s_error(self, "cannot prepare statements");
        s_close(&self);
        return NULL;
    }
    if (s_load(self, error) == -1) {
        s_close(&self);
        return NULL;
    }
    if (!memory) {
        self->path = strdup(path);
        assert(self->path);
        self->checkpointer = zactor_new(s_checkpointer, self);
        if (zsock_wait(self->checkpointer) == 0) {
            sqlite3_wal_hook(self->db, s_on_wal, self);
            char *limit = zsys_sprintf("PRAGMA journal_size_limit=%d", S_WAL_LIMIT);
            sqlite3_exec(self->db, limit, NULL, NULL, NULL);
            zstr_free(&limit);
        } else {
            zactor_destroy(&self->checkpointer);
            sqlite3_exec(self->db, "PRAGMA wal_autocheckpoint=1000", NULL, NULL, NULL);
        }
    }
    return self;
}

// Claim the database file for this process: an flock on the file itself, so that every path
// to it (a symlink, a hard link, another mount) meets the claim. flock and SQLite's POSIX locks
// do not meet; but closing any descriptor of the file drops the POSIX locks the process holds
// on it, so this one is closed only after SQLite's connections (s_close). Returns the
// descriptor, or -1 with *error.
static int
s_claim(const char *path, char **error)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd == -1) {
        *error = zsys_sprintf("cannot open it: %s", strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return fd;
    if (errno == EWOULDBLOCK) {
        // The other broker's SQLite holds a POSIX lock on the file while it runs (WAL mode):
        // the kernel tells whose it is
        struct flock probe = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        char pid[32] = "";
        if (fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK)
            snprintf(pid, sizeof pid, " (pid %d)", (int)probe.l_pid);
        *error = zsys_sprintf("another zchat-broker%s is using it: stop that one first, or give "
                              "this one another --db",
                              pid);
    } else {
        *error = zsys_sprintf("cannot lock it: %s", strerror(errno));
    }
    close(fd);
    return -1;
}

static store_sqlite_t *
s_open_exclusive(const char *path, size_t keep, char **error)
{
    assert(path && error);
    *error = NULL;
    int fd = -1;
    if (!streq(path, ":memory:") && (fd = s_claim(path, error)) == -1)
        return NULL;
    store_sqlite_t *self = s_open(path, keep, error);
    if (self)
        self->lock_fd = fd;
    else if (fd >= 0)
        close(fd);
    return self;
}

static void
s_close(store_sqlite_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        store_sqlite_t *self = *self_p;
        if (self->in_transaction)
            s_commit(self);  // which logs a failure
        sqlite3_finalize(self->begin);
        sqlite3_finalize(self->commit);
        sqlite3_finalize(self->rollback);
        sqlite3_finalize(self->append);
        sqlite3_finalize(self->add_room);
        sqlite3_finalize(self->set_last);
        sqlite3_finalize(self->trim);
        sqlite3_finalize(self->history);
        s_finalize_users(self);
        zactor_destroy(&self->checkpointer);  // first: the last close checkpoints everything
        sqlite3_close(self->db);
        if (self->lock_fd >= 0)
            close(self->lock_fd);  // after the database: the claim covers every write
        free(self->path);
        zhashx_destroy(&self->rooms);
        free(self->touched);
        free(self);
        *self_p = NULL;
    }
}

static int
s_rooms(void *state, store_room_fn *fn, void *arg)
{
    store_sqlite_t *self = state;
    assert(self && fn);
    for (s_stored_room_t *room = zhashx_first(self->rooms); room; room = zhashx_next(self->rooms))
        if (!room->is_new)  // as the database has it: a room made in this turn is not there yet
            fn(arg, room->name, room->committed);
    return 0;
}

// Roll the transaction back (SQLite may have done it already), and the rooms with it.
static void
s_rollback(store_sqlite_t *self)
{
    if (!sqlite3_get_autocommit(self->db))
        s_step(self->rollback);
    for (size_t i = 0; i < self->touched_size; i++) {
        s_stored_room_t *room = self->touched[i];
        if (room->is_new) {
            if (room->id < self->next_id)
                self->next_id = room->id;
            zhashx_delete(self->rooms, room->name);  // frees room
        } else {
            room->last_seq = room->committed;
            room->trimmed = 0;
            room->touched = false;
        }
    }
    self->touched_size = 0;
    self->in_transaction = false;
    self->turn_failed = true;
}

// Store a room the first append to it names, in the current transaction. Returns NULL if
// there are too many rooms, or on a database error.
static s_stored_room_t *
s_room_create(store_sqlite_t *self, const char *name, uint64_t seq)
{
    if (self->next_id >= S_ROOM_LIMIT) {
        zsys_error("store: cannot add room %s: the database has %" PRId64 " rooms, its most", name,
                   S_ROOM_LIMIT - 1);
        return NULL;
    }
    sqlite3_bind_int64(self->add_room, 1, self->next_id);
    sqlite3_bind_text(self->add_room, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(self->add_room, 3, (sqlite3_int64)seq);
    if (s_step(self->add_room) == -1) {
        zsys_error("store: cannot add room %s: %s", name, sqlite3_errmsg(self->db));
        return NULL;
    }
    s_stored_room_t *room = s_room_add(self, self->next_id, name);
    room->is_new = true;
    room->oldest = seq;  // with keep 0 nothing is stored at all
    return room;
}

static int
s_append(void *state, const char *room, uint64_t seq, const char *json)
{
    store_sqlite_t *self = state;
    assert(self && room && json);
    if (self->turn_failed)
        return -1;  // a later event must not be stored when an earlier one of its turn was not
    if (!self->in_transaction) {
        if (s_step(self->begin) == -1) {
            self->turn_failed = true;
            return -1;
        }
        self->in_transaction = true;
    }
    if (seq >= S_SEQ_LIMIT) {
        zsys_error("store: cannot append to %s: seq %" PRIu64 " is 2^%d or more", room, seq,
                   S_SEQ_BITS);
        s_rollback(self);
        return -1;
    }
    s_stored_room_t *entry = zhashx_lookup(self->rooms, room);
    if (!entry && !(entry = s_room_create(self, room, seq))) {
        s_rollback(self);
        return -1;
    }
    if (!entry->touched) {
        if (self->touched_size == self->touched_max) {
            self->touched_max = self->touched_max ? 2 * self->touched_max : 16;
            self->touched = realloc(self->touched, self->touched_max * sizeof(s_stored_room_t *));
            assert(self->touched);
        }
        self->touched[self->touched_size++] = entry;
        entry->touched = true;
    }
    if (self->keep > 0) {
        sqlite3_bind_int64(self->append, 1, (entry->id << S_SEQ_BITS) | (int64_t)seq);
        sqlite3_bind_text(self->append, 2, json, -1, SQLITE_STATIC);
        if (s_step(self->append) == -1) {
            // The turn cannot be stored whole: drop it all
            zsys_error("store: cannot append to %s: %s", room, sqlite3_errmsg(self->db));
            s_rollback(self);
            return -1;
        }
    }
    entry->last_seq = seq;
    return 0;
}

// Delete the events of room that no longer count, once there is a chunk of them, and write
// its last seq, which they may have held. Returns 0 or -1.
static int
s_trim(store_sqlite_t *self, s_stored_room_t *room)
{
    uint64_t keep = self->keep;
    uint64_t chunk = keep / S_TRIM_DIVISOR < 1            ? 1
                     : keep / S_TRIM_DIVISOR > S_TRIM_MAX ? S_TRIM_MAX
                                                          : keep / S_TRIM_DIVISOR;
    uint64_t cut = room->last_seq > keep ? room->last_seq - keep : 0;  // seq <= cut: gone
    // With keep 0 no event of this transaction is stored: only older ones can be
    uint64_t top = keep ? cut : room->committed;
    bool trim = top >= room->oldest && top - room->oldest + 1 >= chunk;
    if (trim) {
        sqlite3_bind_int64(self->trim, 1, (room->id << S_SEQ_BITS) | (int64_t)room->oldest);
        sqlite3_bind_int64(self->trim, 2, (room->id << S_SEQ_BITS) | (int64_t)top);
        if (s_step(self->trim) == -1)
            return -1;
    } else if (keep) {
        return 0;
    }
    room->trimmed = cut + 1;
    sqlite3_bind_int64(self->set_last, 1, room->id);
    sqlite3_bind_int64(self->set_last, 2, (sqlite3_int64)room->last_seq);
    return s_step(self->set_last);
}

static int
s_commit(void *state)
{
    store_sqlite_t *self = state;
    assert(self);
    if (self->turn_failed) {
        self->turn_failed = false;  // the next turn starts afresh
        return -1;
    }
    if (!self->in_transaction)
        return 0;
    int rc = 0;
    for (size_t i = 0; i < self->touched_size && rc == 0; i++)
        rc = s_trim(self, self->touched[i]);
    if (rc == 0)
        rc = s_step(self->commit);
    if (rc == -1) {
        zsys_error("store: commit failed: %s", sqlite3_errmsg(self->db));
        s_rollback(self);
        self->turn_failed = false;  // this commit ends the turn, and says it failed
        return -1;
    }
    for (size_t i = 0; i < self->touched_size; i++) {
        s_stored_room_t *room = self->touched[i];
        room->committed = room->last_seq;
        if (room->trimmed)
            room->oldest = room->trimmed;
        room->trimmed = 0;
        room->is_new = false;
        room->touched = false;
    }
    self->touched_size = 0;
    self->in_transaction = false;
    return 0;
}

static void
s_maintain(void *state)
{
    store_sqlite_t *self = state;
    assert(self);
    if (!self->checkpointer || self->in_transaction || self->wal_frames < self->wal_frames_max)
        return;
    unsigned passes = atomic_load(&self->passes);
    if (passes == self->passes_seen)
        return;  // after the thread's next pass, ours has only what came since to copy
    self->passes_seen = passes;
    int frames = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
    if (rc == SQLITE_OK && frames == copied)
        self->wal_frames = 0;  // all copied back: the next commit starts the WAL over
}

static int
s_history(void *state, const char *room, uint64_t since, size_t limit, store_event_fn *fn,
          void *arg)
{
    store_sqlite_t *self = state;
    assert(self && room && fn);
    s_stored_room_t *entry = zhashx_lookup(self->rooms, room);
    // Events older than the kept ones may wait for the next chunk to be trimmed: never shown
    uint64_t kept = entry && entry->committed > self->keep ? entry->committed - self->keep : 0;
    if (since < kept)
        since = kept;
    if (!entry || since >= S_SEQ_MASK)
        return 0;
    sqlite3_bind_int64(self->history, 1, (entry->id << S_SEQ_BITS) | (int64_t)since);
    sqlite3_bind_int64(self->history, 2, (entry->id << S_SEQ_BITS) | (int64_t)S_SEQ_MASK);
    sqlite3_bind_int64(self->history, 3, (sqlite3_int64)limit);
    int count = 0;
    int rc;
    while ((rc = sqlite3_step(self->history)) == SQLITE_ROW) {
        fn(arg, (uint64_t)sqlite3_column_int64(self->history, 0) & S_SEQ_MASK,
           (const char *)sqlite3_column_text(self->history, 1));
        count++;
    }
    sqlite3_reset(self->history);
    sqlite3_clear_bindings(self->history);
    return rc == SQLITE_DONE ? count : -1;
}

// --- Accounts: the users table ---
//
// One row per registered user: the folded name (the key: Alice and alice are one account), the
// spelling it was registered with, the crypto_pwhash_str hash and when it was made. Its own
// table, created on demand: an older zchat-broker opening the database ignores it.

static const char *s_users_schema = "CREATE TABLE IF NOT EXISTS users ("
                                    "  name TEXT PRIMARY KEY,"
                                    "  display TEXT NOT NULL,"
                                    "  hash TEXT NOT NULL,"
                                    "  created INTEGER NOT NULL"
                                    ") WITHOUT ROWID;";

static int
s_prepare_users(store_sqlite_t *self)
{
    if (sqlite3_exec(self->db, s_users_schema, NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    return s_prepare(self, &self->user_hash, "SELECT hash FROM users WHERE name = ?1") ||
                   s_prepare(self, &self->user_add,
                             "INSERT INTO users (name, display, hash, created)"
                             " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING") ||
                   s_prepare(self, &self->user_set_hash,
                             "UPDATE users SET hash = ?2 WHERE name = ?1") ||
                   s_prepare(self, &self->user_delete, "DELETE FROM users WHERE name = ?1") ||
                   s_prepare(self, &self->user_list,
                             "SELECT display, created FROM users ORDER BY name")
               ? -1
               : 0;
}

static void
s_finalize_users(store_sqlite_t *self)
{
    sqlite3_finalize(self->user_hash);
    sqlite3_finalize(self->user_add);
    sqlite3_finalize(self->user_set_hash);
    sqlite3_finalize(self->user_delete);
    sqlite3_finalize(self->user_list);
}

// The lookup key of a user name; -1 if name is no valid user name (no account can have it).
static int
s_fold(const char *name, char *fold)
{
    if (!zchat_name_is_user(name))
        return -1;
    return zchat_name_fold(name, fold, ZCHAT_NAME_MAX + 1);
}

static int
s_user_hash(void *state, const char *name, char **hash)
{
    store_sqlite_t *self = state;
    assert(self && name && hash);
    *hash = NULL;
    char fold[ZCHAT_NAME_MAX + 1];
    if (s_fold(name, fold) == -1)
        return 0;
    sqlite3_bind_text(self->user_hash, 1, fold, -1, SQLITE_STATIC);
    int rc = sqlite3_step(self->user_hash);
    if (rc == SQLITE_ROW) {
        *hash = strdup((const char *)sqlite3_column_text(self->user_hash, 0));
        assert(*hash);
    }
    sqlite3_reset(self->user_hash);
    sqlite3_clear_bindings(self->user_hash);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int
s_user_add(void *state, const char *name, const char *hash, int64_t created_ms)
{
    store_sqlite_t *self = state;
    assert(self && name && hash);
    char fold[ZCHAT_NAME_MAX + 1];
    if (self->turn_failed || s_fold(name, fold) == -1)
        return -1;  // a failed turn stores nothing more
    sqlite3_bind_text(self->user_add, 1, fold, -1, SQLITE_STATIC);
    sqlite3_bind_text(self->user_add, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(self->user_add, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(self->user_add, 4, (sqlite3_int64)created_ms);
    if (s_step(self->user_add) == -1)
        return -1;
    return sqlite3_changes(self->db) == 1 ? 0 : 1;
}

static int
s_user_set_hash(void *state, const char *name, const char *hash)
{
    store_sqlite_t *self = state;
    assert(self && name && hash);
    char fold[ZCHAT_NAME_MAX + 1];
    if (s_fold(name, fold) == -1)
        return 1;
    sqlite3_bind_text(self->user_set_hash, 1, fold, -1, SQLITE_STATIC);
    sqlite3_bind_text(self->user_set_hash, 2, hash, -1, SQLITE_STATIC);
    if (s_step(self->user_set_hash) == -1)
        return -1;
    return sqlite3_changes(self->db) == 1 ? 0 : 1;
}

static int
s_user_delete(void *state, const char *name)
{
    store_sqlite_t *self = state;
    assert(self && name);
    char fold[ZCHAT_NAME_MAX + 1];
    if (s_fold(name, fold) == -1)
        return 1;
    sqlite3_bind_text(self->user_delete, 1, fold, -1, SQLITE_STATIC);
    if (s_step(self->user_delete) == -1)
        return -1;
    return sqlite3_changes(self->db) == 1 ? 0 : 1;
}

static int
s_user_list(void *state, store_user_fn *fn, void *arg)
{
    store_sqlite_t *self = state;
    assert(self && fn);
    int count = 0;
    int rc;
    while ((rc = sqlite3_step(self->user_list)) == SQLITE_ROW) {
        fn(arg, (const char *)sqlite3_column_text(self->user_list, 0),
           (int64_t)sqlite3_column_int64(self->user_list, 1));
        count++;
    }
    sqlite3_reset(self->user_list);
    return rc == SQLITE_DONE ? count : -1;
}

static void
s_destroy(void *state)
{
    store_sqlite_t *self = state;
    s_close(&self);
}

static const store_backend_t s_backend = {
    .name = "sqlite",
    .destroy = s_destroy,
    .rooms = s_rooms,
    .append = s_append,
    .commit = s_commit,
    .maintain = s_maintain,
    .history = s_history,
    .user_hash = s_user_hash,
    .user_add = s_user_add,
    .user_set_hash = s_user_set_hash,
    .user_delete = s_user_delete,
    .user_list = s_user_list,
};

store_t *
store_sqlite_new(const char *path, size_t keep, char **error)
{
    store_sqlite_t *state = s_open(path, keep, error);
    return state ? store_wrap(&s_backend, state) : NULL;
}

store_t *
store_sqlite_new_exclusive(const char *path, size_t keep, char **error)
{
    store_sqlite_t *state = s_open_exclusive(path, keep, error);
    return state ? store_wrap(&s_backend, state) : NULL;
}

// --- Self-test ---

// The backend's own state of a store it made.
static store_sqlite_t *
s_state(store_t *store)
{
    return store_state(store);
}

static void
s_count_room(void *arg, const char *room, uint64_t last_seq)
{
    (void)room;
    *(uint64_t *)arg += last_seq;
}

static void
s_collect(void *arg, uint64_t seq, const char *json)
{
    char *out = arg;  // a 512-byte buffer
    size_t len = strlen(out);
    snprintf(out + len, 512 - len, "%" PRIu64 "=%s;", seq, json);
}

typedef struct {
    const char *room;  // the room looked for
    uint64_t last_seq;
    size_t rooms;  // how many rooms store_rooms named
    bool found;
} s_find_t;

static void
s_find_room(void *arg, const char *room, uint64_t last_seq)
{
    s_find_t *find = arg;
    find->rooms++;
    if (streq(room, find->room)) {
        assert(!find->found);
        find->found = true;
        find->last_seq = last_seq;
    }
}

// The last seq of room as store_rooms has it, 0 if it has no such room.
static uint64_t
s_last_seq(store_t *store, const char *room)
{
    s_find_t find = {room, 0, 0, false};
    assert(store_rooms(store, s_find_room, &find) == 0);
    return find.found ? find.last_seq : 0;
}

// Appends seqs from..to to room, each event "{}", committing every batch events and at the end.
static void
s_append_range(store_t *store, const char *room, uint64_t from, uint64_t to, uint64_t batch)
{
    for (uint64_t seq = from; seq <= to; seq++) {
        assert(store_append(store, room, seq, "{}") == 0);
        if (seq % batch == 0)
            assert(store_commit(store) == 0);
    }
    assert(store_commit(store) == 0);
}

typedef struct {
    uint64_t first, last;
    size_t count;
} s_span_t;

static void
s_add_to_span(void *arg, uint64_t seq, const char *json)
{
    (void)json;
    s_span_t *span = arg;
    if (span->count++ == 0)
        span->first = seq;
    else
        assert(seq == span->last + 1);  // oldest first, no gap
    span->last = seq;
}

// "FIRST..LAST" of the history of room since 0, or "none"
static void
s_span(store_t *store, const char *room, char *out, size_t size)
{
    s_span_t span = {0, 0, 0};
    assert(store_history(store, room, 0, 1000000, s_add_to_span, &span) == (int)span.count);
    if (span.count == 0)
        snprintf(out, size, "none");
    else
        snprintf(out, size, "%" PRIu64 "..%" PRIu64, span.first, span.last);
}

static int64_t
s_count_rows(store_t *store)
{
    return s_query_int(s_state(store), "SELECT count(*) FROM events");
}

static char *
s_temp_path(void)
{
    char *path = strdup("/tmp/zchat-store-XXXXXX");
    assert(path);
    int fd = mkstemp(path);
    assert(fd >= 0);
    close(fd);
    return path;
}

static void
s_remove_db(char **path_p)
{
    char *extra = zsys_sprintf("%s-wal", *path_p);
    remove(extra);
    zstr_free(&extra);
    extra = zsys_sprintf("%s-shm", *path_p);
    remove(extra);
    zstr_free(&extra);
    remove(*path_p);
    zstr_free(path_p);
}

// One broker per database: a second claim is refused, by any path to the file, while a plain
// store_new (an admin command) still opens it; the claim ends with its store. (Across processes
// the refusal names the first one's pid: the e2e test cli_db_in_use.)
static void
s_test_claim(void)
{
    char *path = s_temp_path();
    char *error = NULL;
    store_t *first = store_sqlite_new_exclusive(path, 10, &error);
    assert(first && !error);
    store_t *second = store_sqlite_new_exclusive(path, 10, &error);
    assert(!second && error && strstr(error, "another zchat-broker"));
    zstr_free(&error);
    char *alias = zsys_sprintf("%s.alias", path);  // another path to the same file
    assert(symlink(path, alias) == 0);
    second = store_sqlite_new_exclusive(alias, 10, &error);
    assert(!second && error && strstr(error, "another zchat-broker"));
    zstr_free(&error);
    remove(alias);
    zstr_free(&alias);
    store_t *admin = store_sqlite_new(path, 10, &error);
    assert(admin);
    store_destroy(&admin);
    store_destroy(&first);
    second = store_sqlite_new_exclusive(path, 10, &error);
    assert(second);
    store_destroy(&second);
    store_t *memory = store_sqlite_new_exclusive(":memory:", 10, &error);  // nothing to claim
    assert(memory);
    store_destroy(&memory);
    s_remove_db(&path);
}

// Under steady writes the WAL is started over once it is long (store_maintain), so its file
// stays bounded; without that it grows with every commit.
static void
s_test_wal(void)
{
    char *path = s_temp_path();
    char *error = NULL;
    store_t *store = store_sqlite_new(path, 1000, &error);
    assert(store && s_state(store)->checkpointer);
    s_state(store)->wal_frames_max = 64;
    char body[1024];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = 0;
    uint64_t seq = 0;
    for (int turn = 0; turn < 60; turn++) {
        for (int i = 0; i < 40; i++) {
            seq++;
            assert(store_append(store, "busy", seq, body) == 0);
        }
        assert(store_commit(store) == 0);
        atomic_fetch_add(&s_state(store)->passes, 1);  // as if the thread had just done a pass
        store_maintain(store);
    }
    char *wal = zsys_sprintf("%s-wal", path);
    struct stat info;
    assert(stat(wal, &info) == 0);
    zstr_free(&wal);
    assert(info.st_size < (1 << 20));  // 2.4 MB written, at most 64 frames and a turn kept
    char out[512] = "";                // s_collect's size
    assert(store_history(store, "busy", seq - 1, 10, s_collect, out) == 1);
    assert(out[0] && strtoull(out, NULL, 10) == seq);
    store_destroy(&store);
    s_remove_db(&path);
}

// Seqs and room ids have their limits; an append past one fails as a database error would.
static void
s_test_limits(void)
{
    char *error = NULL;
    store_t *store = store_sqlite_new(":memory:", 3, &error);
    assert(store);
    assert(store_append(store, "lobby", 1, "{}") == 0);
    assert(store_append(store, "top", S_SEQ_LIMIT - 1, "{}") == 0);
    assert(store_commit(store) == 0);
    char out[512] = "";
    assert(store_history(store, "top", 0, 10, s_collect, out) == 1);
    assert(streq(out, "1099511627775={};"));
    assert(store_history(store, "top", S_SEQ_LIMIT - 1, 10, s_collect, out) == 0);
    assert(store_history(store, "top", UINT64_MAX, 10, s_collect, out) == 0);
    assert(store_append(store, "lobby", 2, "{}") == 0);
    assert(store_append(store, "next", S_SEQ_LIMIT, "{}") == -1);  // rolls back lobby 2 too
    assert(store_commit(store) == -1);
    assert(s_last_seq(store, "lobby") == 1 && s_last_seq(store, "next") == 0);
    s_state(store)->next_id = S_ROOM_LIMIT;  // as if every room id were taken
    assert(store_append(store, "next", 1, "{}") == -1);
    assert(store_commit(store) == -1);
    assert(store_append(store, "lobby", 2, "{}") == 0);  // a known room needs no new id
    assert(store_commit(store) == 0);
    assert(s_last_seq(store, "lobby") == 2);
    store_destroy(&store);
}

// A failed transaction leaves no trace in the database nor in what the store knows.
static void
s_test_rollback(void)
{
    char *error = NULL;
    store_t *store = store_sqlite_new(":memory:", 10, &error);
    assert(store);
    assert(store_append(store, "lobby", 1, "{\"a\":1}") == 0);
    assert(store_commit(store) == 0);
    assert(store_append(store, "lobby", 2, "{}") == 0);
    assert(store_append(store, "fresh", 1, "{}") == 0);
    assert(store_append(store, "fresh", 2, "{}") == 0);
    char out[512] = "";
    assert(store_history(store, "fresh", 0, 10, s_collect, out) == 2);
    assert(store_append(store, "lobby", 1, "{}") == -1);  // stored already: all rolled back
    assert(store_append(store, "fresh", 3, "{}") == -1);  // and the rest of the turn with it
    assert(store_commit(store) == -1);
    s_find_t find = {"fresh", 0, 0, false};
    assert(store_rooms(store, s_find_room, &find) == 0);
    assert(!find.found && find.rooms == 1 && s_last_seq(store, "lobby") == 1);
    assert(store_history(store, "fresh", 0, 10, s_collect, out) == 0);
    out[0] = 0;
    assert(store_history(store, "lobby", 0, 10, s_collect, out) == 1);
    assert(streq(out, "1={\"a\":1};"));
    assert(store_append(store, "fresh", 1, "{\"f\":1}") == 0);
    assert(store_append(store, "lobby", 2, "{}") == 0);
    assert(store_commit(store) == 0);
    assert(s_last_seq(store, "fresh") == 1 && s_last_seq(store, "lobby") == 2);
    assert(s_state(store)->next_id == 3);  // the id the rolled-back room had is used again
    out[0] = 0;
    assert(store_history(store, "fresh", 0, 10, s_collect, out) == 1);
    assert(streq(out, "1={\"f\":1};"));
    store_destroy(&store);
}

// Trims delete chunks, but history keeps exactly keep events, across reopens too.
static void
s_test_trim(void)
{
    char *path = s_temp_path();
    char *error = NULL;
    char span[64];
    store_t *store = store_sqlite_new(path, 10, &error);
    assert(store);
    s_append_range(store, "lobby", 1, 100, 7);
    s_span(store, "lobby", span, sizeof span);
    assert(streq(span, "91..100"));
    store_destroy(&store);
    store = store_sqlite_new(path, 10, &error);
    assert(store);
    assert(s_last_seq(store, "lobby") == 100);
    s_span(store, "lobby", span, sizeof span);
    assert(streq(span, "91..100"));
    store_destroy(&store);

    // keep 100 trims 12 at a time: up to 111 rows, 100 events shown
    store = store_sqlite_new(path, 100, &error);
    assert(store);
    s_append_range(store, "big", 1, 250, 1);
    int64_t rows = s_count_rows(store) - 10;  // less lobby's
    assert(rows >= 100 && rows <= 111);
    s_span(store, "big", span, sizeof span);
    assert(streq(span, "151..250"));
    char out[512] = "";
    assert(store_history(store, "big", 200, 2, s_collect, out) == 2);
    assert(streq(out, "201={};202={};"));
    store_destroy(&store);
    // A smaller keep hides at once what the larger one kept
    store = store_sqlite_new(path, 5, &error);
    assert(store);
    assert(s_last_seq(store, "big") == 250 && s_last_seq(store, "lobby") == 100);
    s_span(store, "big", span, sizeof span);
    assert(streq(span, "246..250"));
    s_span(store, "lobby", span, sizeof span);
    assert(streq(span, "96..100"));
    s_append_range(store, "lobby", 101, 101, 1);  // trims the rows of lobby beyond 5
    s_span(store, "lobby", span, sizeof span);
    assert(streq(span, "97..101"));
    store_destroy(&store);
    store = store_sqlite_new(path, 5, &error);
    assert(store);
    assert(s_last_seq(store, "lobby") == 101);
    s_span(store, "lobby", span, sizeof span);
    assert(streq(span, "97..101"));
    store_destroy(&store);
    s_remove_db(&path);
}

// keep 0 stores no event, yet every last seq lasts.
static void
s_test_keep_zero(void)
{
    char *path = s_temp_path();
    char *error = NULL;
    char span[64];
    store_t *store = store_sqlite_new(path, 3, &error);
    assert(store);
    s_append_range(store, "old", 1, 5, 5);  // events from a run that kept some
    store_destroy(&store);
    store = store_sqlite_new(path, 0, &error);
    assert(store);
    s_append_range(store, "lobby", 1, 5, 2);
    s_span(store, "lobby", span, sizeof span);
    assert(streq(span, "none"));
    s_span(store, "old", span, sizeof span);
    assert(streq(span, "none"));
    assert(s_count_rows(store) == 3);  // old's, until it is touched
    s_append_range(store, "old", 6, 6, 1);
    assert(s_count_rows(store) == 0);
    store_destroy(&store);
    store = store_sqlite_new(path, 0, &error);
    assert(store);
    assert(s_last_seq(store, "lobby") == 5 && s_last_seq(store, "old") == 6);
    s_append_range(store, "lobby", 6, 6, 1);
    store_destroy(&store);
    store = store_sqlite_new(path, 10, &error);
    assert(store);
    assert(s_last_seq(store, "lobby") == 6);
    s_span(store, "lobby", span, sizeof span);
    assert(streq(span, "none"));
    s_append_range(store, "lobby", 7, 8, 1);
    s_span(store, "lobby", span, sizeof span);
    assert(streq(span, "7..8"));
    store_destroy(&store);
    s_remove_db(&path);
}

// A database of schema version 1 is upgraded in place; a newer one is refused.
static void
s_test_migrate(void)
{
    char *path = s_temp_path();
    sqlite3 *db = NULL;
    assert(sqlite3_open(path, &db) == SQLITE_OK);
    const char *v1 = "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE rooms (name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL)"
                     "  WITHOUT ROWID;"
                     "CREATE TABLE events (room TEXT NOT NULL, seq INTEGER NOT NULL,"
                     "  body TEXT NOT NULL, PRIMARY KEY (room, seq)) WITHOUT ROWID;"
                     "CREATE TABLE users (name TEXT PRIMARY KEY, display TEXT NOT NULL,"
                     "  hash TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;"
                     "INSERT INTO rooms VALUES ('py', 3), ('lobby', 12), ('quiet', 7);"
                     "INSERT INTO events VALUES ('lobby', 8, '{\"s\":8}'), ('lobby', 9, '{}'),"
                     "  ('lobby', 10, '{}'), ('lobby', 11, '{}'), ('lobby', 12, '{\"s\":12}'),"
                     "  ('py', 1, '{\"p\":1}'), ('py', 2, '{}'), ('py', 3, '{\"p\":3}');"
                     "INSERT INTO users VALUES ('alice', 'Alice', '$hash', 1000);"
                     "PRAGMA user_version=1;";
    assert(sqlite3_exec(db, v1, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);

    char *error = NULL;
    store_t *store = store_sqlite_new(path, 5, &error);
    assert(store && !error);
    assert(s_query_int(s_state(store), "PRAGMA user_version") == 2);
    s_find_t find = {"lobby", 0, 0, false};
    assert(store_rooms(store, s_find_room, &find) == 0 && find.rooms == 3);
    assert(find.last_seq == 12 && s_last_seq(store, "py") == 3 && s_last_seq(store, "quiet") == 7);
    char out[512] = "";
    assert(store_history(store, "lobby", 0, 100, s_collect, out) == 5);
    assert(streq(out, "8={\"s\":8};9={};10={};11={};12={\"s\":12};"));
    out[0] = 0;
    assert(store_history(store, "py", 1, 100, s_collect, out) == 2);
    assert(streq(out, "2={};3={\"p\":3};"));
    assert(store_history(store, "quiet", 0, 100, s_collect, out) == 0);
    char *hash = NULL;
    assert(store_user_hash(store, "ALICE", &hash) == 0 && hash && streq(hash, "$hash"));
    zstr_free(&hash);
    assert(store_append(store, "lobby", 12, "{}") == -1);  // no seq is stored twice
    assert(store_commit(store) == -1);
    s_append_range(store, "quiet", 8, 8, 1);
    s_append_range(store, "lobby", 13, 13, 1);
    s_append_range(store, "new", 1, 1, 1);
    store_destroy(&store);
    store = store_sqlite_new(path, 5, &error);
    assert(store);
    assert(s_last_seq(store, "lobby") == 13 && s_last_seq(store, "quiet") == 8);
    assert(s_last_seq(store, "new") == 1 && s_last_seq(store, "py") == 3);
    char span[64];
    s_span(store, "lobby", span, sizeof span);
    assert(streq(span, "9..13"));
    store_destroy(&store);

    // A newer zchat's database, or a version 1 one that does not fit, is left as it is
    assert(sqlite3_open(path, &db) == SQLITE_OK);
    assert(sqlite3_exec(db, "PRAGMA user_version=3", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    store = store_sqlite_new(path, 5, &error);
    assert(!store && error && strstr(error, "version 3"));
    zstr_free(&error);
    s_remove_db(&path);
    path = s_temp_path();
    assert(sqlite3_open(path, &db) == SQLITE_OK);
    assert(sqlite3_exec(db, v1, NULL, NULL, NULL) == SQLITE_OK);
    assert(sqlite3_exec(db, "INSERT INTO events VALUES ('py', 1099511627776, '{}')", NULL, NULL,
                        NULL) == SQLITE_OK);
    sqlite3_close(db);
    store = store_sqlite_new(path, 5, &error);
    assert(!store && error && strstr(error, "cannot upgrade"));
    zstr_free(&error);
    assert(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert(sqlite3_prepare_v2(db, "SELECT count(*) FROM events WHERE room = 'lobby'", -1, &stmt,
                              NULL) == SQLITE_OK);
    assert(sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_int(stmt, 0) == 5);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    s_remove_db(&path);
}

void
store_sqlite_test(bool verbose)
{
    (void)verbose;
    char *error = NULL;
    store_t *store = store_sqlite_new(":memory:", 3, &error);
    assert(store && !error);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        char json[16];
        snprintf(json, sizeof json, "{\"s\":%" PRIu64 "}", seq);
        assert(store_append(store, "lobby", seq, json) == 0);
    }
    assert(store_append(store, "py", 1, "{}") == 0);
    char out[512] = "";
    assert(store_history(store, "lobby", 0, 100, s_collect, out) == 5);  // before commit too
    assert(store_commit(store) == 0);
    out[0] = 0;
    assert(store_history(store, "lobby", 0, 100, s_collect, out) == 3);  // trimmed to 3
    assert(streq(out, "3={\"s\":3};4={\"s\":4};5={\"s\":5};"));
    out[0] = 0;
    assert(store_history(store, "lobby", 3, 1, s_collect, out) == 1);
    assert(streq(out, "4={\"s\":4};"));
    assert(store_history(store, "nope", 0, 100, s_collect, out) == 0);
    uint64_t total = 0;
    assert(store_rooms(store, s_count_room, &total) == 0);
    assert(total == 6);                                   // lobby 5 + py 1
    assert(store_append(store, "lobby", 5, "{}") == -1);  // a seq is never stored twice
    // The rest of that turn fails too, its commit says so, and the next turn starts afresh
    assert(store_append(store, "py", 2, "{}") == -1);
    assert(store_commit(store) == -1);
    out[0] = 0;
    assert(store_history(store, "py", 0, 100, s_collect, out) == 1 && streq(out, "1={};"));
    assert(store_append(store, "py", 2, "{}") == 0 && store_commit(store) == 0);
    store_destroy(&store);
    store_destroy(&store);
    assert(store == NULL);

    // A full disk: the commit fails, is rolled back, and says so
    store = store_sqlite_new(":memory:", 100000, &error);
    assert(store);
    assert(sqlite3_exec(s_state(store)->db, "PRAGMA max_page_count = 8", NULL, NULL, NULL) ==
           SQLITE_OK);
    char big[2048];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    int rc = 0;
    uint64_t committed = 0;
    for (uint64_t seq = 1; seq <= 100 && rc == 0; seq++) {
        rc = store_append(store, "full", seq, big);
        if (rc == 0 && seq % 10 == 0 && (rc = store_commit(store)) == 0)
            committed = seq;
    }
    assert(rc == -1);
    store_commit(store);               // the failed turn's end, if an append failed
    assert(store_commit(store) == 0);  // nothing pending any more: a later turn can go on
    assert(s_last_seq(store, "full") == committed);  // as the database has it
    store_destroy(&store);

    // A directory is no database
    store = store_sqlite_new("/", 10, &error);
    assert(!store && error);
    zstr_free(&error);

    // Across a reopen of a file
    char *path = s_temp_path();
    store = store_sqlite_new(path, 10, &error);
    assert(store);
    assert(store_append(store, "lobby", 1, "{\"a\":1}") == 0);
    store_destroy(&store);  // commits
    store = store_sqlite_new(path, 10, &error);
    assert(store);
    total = 0;
    assert(store_rooms(store, s_count_room, &total) == 0 && total == 1);
    store_destroy(&store);
    // Garbage is no database either
    FILE *file = fopen(path, "w");
    assert(file);
    fputs("this is not a database, just some text that is long enough to have a header.....\n"
          "more text more text more text more text more text more text more text more text\n",
          file);
    fclose(file);
    store = store_sqlite_new(path, 10, &error);
    assert(!store && error);
    zstr_free(&error);
    s_remove_db(&path);

    s_test_limits();
    s_test_rollback();
    s_test_wal();
    s_test_trim();
    s_test_keep_zero();
    s_test_migrate();
    s_test_claim();
}

static void
s_collect_user(void *arg, const char *name, int64_t created_ms)
{
    char *out = arg;  // a 512-byte buffer
    size_t len = strlen(out);
    snprintf(out + len, 512 - len, "%s@%" PRId64 ";", name, created_ms);
}

void
store_sqlite_users_test(bool verbose)
{
    (void)verbose;
    char *error = NULL;
    store_t *store = store_sqlite_new(":memory:", 10, &error);
    assert(store && !error);
    char *hash = NULL;
    assert(store_user_hash(store, "Alice", &hash) == 0 && hash == NULL);
    assert(store_user_add(store, "Alice", "$hash-a", 1000) == 0);
    assert(store_user_add(store, "ALICE", "$hash-b", 2000) == 1);  // one account, any case
    assert(store_user_add(store, "bob", "$hash-c", 3000) == 0);
    assert(store_user_add(store, "not a name", "$hash", 3000) == -1);
    assert(store_user_hash(store, "alice", &hash) == 0 && hash && streq(hash, "$hash-a"));
    zstr_free(&hash);
    assert(store_user_hash(store, "no name!", &hash) == 0 && hash == NULL);
    char out[512] = "";
    assert(store_user_list(store, s_collect_user, out) == 2);
    assert(streq(out, "Alice@1000;bob@3000;"));  // sorted by folded name, display spelling
    assert(store_user_set_hash(store, "aLiCe", "$hash-new") == 0);
    assert(store_user_set_hash(store, "carol", "$hash") == 1);
    assert(store_user_hash(store, "Alice", &hash) == 0 && hash && streq(hash, "$hash-new"));
    zstr_free(&hash);
    // Inside a turn's transaction too: committed with it
    assert(store_append(store, "lobby", 1, "{}") == 0);
    assert(store_user_add(store, "carol", "$hash-d", 4000) == 0);
    assert(store_commit(store) == 0);
    assert(store_user_delete(store, "BOB") == 0);
    assert(store_user_delete(store, "bob") == 1);
    out[0] = 0;
    assert(store_user_list(store, s_collect_user, out) == 2);
    assert(streq(out, "Alice@1000;carol@4000;"));
    store_destroy(&store);

    // Accounts survive a reopen, and an existing database gets its users table
    char *path = s_temp_path();
    store = store_sqlite_new(path, 10, &error);
    assert(store);
    assert(store_user_add(store, "Dave", "$hash-e", 5000) == 0);
    store_destroy(&store);
    store = store_sqlite_new(path, 10, &error);
    assert(store);
    assert(store_user_hash(store, "dave", &hash) == 0 && hash && streq(hash, "$hash-e"));
    zstr_free(&hash);
    store_destroy(&store);
    s_remove_db(&path);
}
