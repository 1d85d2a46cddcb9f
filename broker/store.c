// store.c - rooms and their history in SQLite (the only module that includes sqlite3.h)
//
// Group commit: the broker appends the events of one loop turn to one transaction and commits
// before it publishes them, so a published seq is always durable and never repeats after a
// restart. WAL with synchronous=NORMAL survives a killed process; a power cut may lose the last
// transactions, never the database. Checkpoints (the only writes that fsync) run in a thread of
// their own, so the loop never waits for the disk.
#include "zchat.h"
#include "zchat_hash.h"
#include "store.h"
#include "zchat_name.h"
#include <sqlite3.h>

#define S_SCHEMA_VERSION 1
#define S_CHECKPOINT_MS  1000  // how often the checkpointer copies the WAL into the database

struct store {
    sqlite3 *db;
    char *path;
    zactor_t *checkpointer;  // NULL for :memory:
    size_t keep;             // events kept per room
    bool in_transaction;
    zhashx_t *touched;  // room -> uint64_t * last seq (owned), for this transaction
    sqlite3_stmt *begin;
    sqlite3_stmt *commit;
    sqlite3_stmt *rollback;
    sqlite3_stmt *append;
    sqlite3_stmt *set_last;
    sqlite3_stmt *trim;
    sqlite3_stmt *history;
    sqlite3_stmt *rooms;
    // Accounts (s_prepare_users)
    sqlite3_stmt *user_hash;
    sqlite3_stmt *user_add;
    sqlite3_stmt *user_set_hash;
    sqlite3_stmt *user_delete;
    sqlite3_stmt *user_list;
};

static const char *s_schema = "CREATE TABLE IF NOT EXISTS rooms ("
                              "  name TEXT PRIMARY KEY,"
                              "  last_seq INTEGER NOT NULL"
                              ") WITHOUT ROWID;"
                              "CREATE TABLE IF NOT EXISTS events ("
                              "  room TEXT NOT NULL,"
                              "  seq INTEGER NOT NULL,"
                              "  body TEXT NOT NULL,"
                              "  PRIMARY KEY (room, seq)"
                              ") WITHOUT ROWID;";

// The checkpointer: a thread with its own connection that copies the WAL back into the database
// every S_CHECKPOINT_MS. PASSIVE never waits for the writer, and the writer never waits for it.
static void
s_checkpointer(zsock_t *pipe, void *args)
{
    const char *path = args;
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
        }
    }
    zpoller_destroy(&poller);
    sqlite3_close(db);
}

static char *
s_error(store_t *self, const char *what)
{
    return zsys_sprintf("%s: %s", what, self->db ? sqlite3_errmsg(self->db) : "out of memory");
}

static int
s_prepare(store_t *self, sqlite3_stmt **stmt, const char *sql)
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

static int s_prepare_users(store_t *self);
static void s_finalize_users(store_t *self);

static int
s_user_version(store_t *self)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(self->db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    int version = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return version;
}

store_t *
store_new(const char *path, size_t keep, char **error)
{
    assert(path && error);
    *error = NULL;
    store_t *self = zmalloc(sizeof(store_t));
    self->keep = keep;
    self->touched = zchat_hash_new();
    zhashx_set_destructor(self->touched, (zhashx_destructor_fn *)zstr_free);

    bool memory = streq(path, ":memory:");
    int rc = sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        *error = s_error(self, "cannot open the database");
        store_destroy(&self);
        return NULL;
    }
    sqlite3_busy_timeout(self->db, 2000);
    // The first statement that reads the file tells a database from anything else.
    int version = s_user_version(self);
    if (version < 0) {
        *error = s_error(self, "cannot read the database");
        store_destroy(&self);
        return NULL;
    }
    if (version > S_SCHEMA_VERSION) {
        *error = zsys_sprintf("the database has schema version %d; this zchat-broker knows %d "
                              "(a newer zchat made it)",
                              version, S_SCHEMA_VERSION);
        store_destroy(&self);
        return NULL;
    }
    char *sql = zsys_sprintf("%s PRAGMA synchronous=NORMAL; %s PRAGMA user_version=%d;",
                             memory ? "" : "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;",
                             s_schema, S_SCHEMA_VERSION);
    char *message = NULL;
    rc = sqlite3_exec(self->db, sql, NULL, NULL, &message);
    zstr_free(&sql);
    if (rc != SQLITE_OK) {
        *error = zsys_sprintf("cannot set up the database: %s", message ? message : "error");
        sqlite3_free(message);
        store_destroy(&self);
        return NULL;
    }
    if (s_prepare(self, &self->begin, "BEGIN") || s_prepare(self, &self->commit, "COMMIT") ||
        s_prepare(self, &self->rollback, "ROLLBACK") ||
        s_prepare(self, &self->append,
                  "INSERT INTO events (room, seq, body) VALUES (?1, ?2, ?3)") ||
        s_prepare(self, &self->set_last,
                  "INSERT INTO rooms (name, last_seq) VALUES (?1, ?2)"
                  " ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq") ||
        s_prepare(self, &self->trim, "DELETE FROM events WHERE room = ?1 AND seq <= ?2") ||
        s_prepare(self, &self->history,
                  "SELECT seq, body FROM events WHERE room = ?1 AND seq > ?2"
                  " ORDER BY seq LIMIT ?3") ||
        s_prepare(self, &self->rooms, "SELECT name, last_seq FROM rooms") ||
        s_prepare_users(self) == -1) {
        *error = s_error(self, "cannot prepare statements");
        store_destroy(&self);
        return NULL;
    }
    if (!memory) {
        self->path = strdup(path);
        assert(self->path);
        self->checkpointer = zactor_new(s_checkpointer, self->path);
        if (zsock_wait(self->checkpointer) != 0) {
            zactor_destroy(&self->checkpointer);
            sqlite3_exec(self->db, "PRAGMA wal_autocheckpoint=1000", NULL, NULL, NULL);
        }
    }
    return self;
}

void
store_destroy(store_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        store_t *self = *self_p;
        if (self->in_transaction && store_commit(self) == -1)
            zsys_error("store: final commit failed: %s", sqlite3_errmsg(self->db));
        sqlite3_finalize(self->begin);
        sqlite3_finalize(self->commit);
        sqlite3_finalize(self->rollback);
        sqlite3_finalize(self->append);
        sqlite3_finalize(self->set_last);
        sqlite3_finalize(self->trim);
        sqlite3_finalize(self->history);
        sqlite3_finalize(self->rooms);
        s_finalize_users(self);
        zactor_destroy(&self->checkpointer);  // first: the last close checkpoints everything
        sqlite3_close(self->db);
        free(self->path);
        zhashx_destroy(&self->touched);
        free(self);
        *self_p = NULL;
    }
}

int
store_rooms(store_t *self, store_room_fn *fn, void *arg)
{
    assert(self && fn);
    int rc;
    while ((rc = sqlite3_step(self->rooms)) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(self->rooms, 0),
           (uint64_t)sqlite3_column_int64(self->rooms, 1));
    sqlite3_reset(self->rooms);
    return rc == SQLITE_DONE ? 0 : -1;
}

int
store_append(store_t *self, const char *room, uint64_t seq, const char *json)
{
    assert(self && room && json);
    if (!self->in_transaction) {
        if (s_step(self->begin) == -1)
            return -1;
        self->in_transaction = true;
    }
    sqlite3_bind_text(self->append, 1, room, -1, SQLITE_STATIC);
    sqlite3_bind_int64(self->append, 2, (sqlite3_int64)seq);
    sqlite3_bind_text(self->append, 3, json, -1, SQLITE_STATIC);
    if (s_step(self->append) == -1) {
        // The turn cannot be stored whole: drop it all (SQLite may have rolled back already)
        zsys_error("store: cannot append to %s: %s", room, sqlite3_errmsg(self->db));
        if (!sqlite3_get_autocommit(self->db))
            s_step(self->rollback);
        zhashx_purge(self->touched);
        self->in_transaction = false;
        return -1;
    }
    // Updated in place: an append allocates only for the first event of a room in a turn
    uint64_t *last = zhashx_lookup(self->touched, room);
    if (!last) {
        last = zmalloc(sizeof(uint64_t));
        zhashx_insert(self->touched, room, last);
    }
    *last = seq;
    return 0;
}

int
store_commit(store_t *self)
{
    assert(self);
    if (!self->in_transaction)
        return 0;
    int rc = 0;
    for (uint64_t *last = zhashx_first(self->touched); last && rc == 0;
         last = zhashx_next(self->touched)) {
        const char *room = zhashx_cursor(self->touched);
        uint64_t seq = *last;
        sqlite3_bind_text(self->set_last, 1, room, -1, SQLITE_STATIC);
        sqlite3_bind_int64(self->set_last, 2, (sqlite3_int64)seq);
        rc = s_step(self->set_last);
        if (rc == 0 && seq > self->keep) {
            sqlite3_bind_text(self->trim, 1, room, -1, SQLITE_STATIC);
            sqlite3_bind_int64(self->trim, 2, (sqlite3_int64)(seq - self->keep));
            rc = s_step(self->trim);
        }
    }
    if (rc == 0)
        rc = s_step(self->commit);
    if (rc == -1) {
        zsys_error("store: commit failed: %s", sqlite3_errmsg(self->db));
        if (!sqlite3_get_autocommit(self->db))
            s_step(self->rollback);
    }
    zhashx_purge(self->touched);
    self->in_transaction = false;
    return rc;
}

int
store_history(store_t *self, const char *room, uint64_t since, size_t limit, store_event_fn *fn,
              void *arg)
{
    assert(self && room && fn);
    sqlite3_bind_text(self->history, 1, room, -1, SQLITE_STATIC);
    sqlite3_bind_int64(self->history, 2, (sqlite3_int64)since);
    sqlite3_bind_int64(self->history, 3, (sqlite3_int64)limit);
    int count = 0;
    int rc;
    while ((rc = sqlite3_step(self->history)) == SQLITE_ROW) {
        fn(arg, (uint64_t)sqlite3_column_int64(self->history, 0),
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
s_prepare_users(store_t *self)
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
s_finalize_users(store_t *self)
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

int
store_user_hash(store_t *self, const char *name, char **hash)
{
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

int
store_user_add(store_t *self, const char *name, const char *hash, int64_t created_ms)
{
    assert(self && name && hash);
    char fold[ZCHAT_NAME_MAX + 1];
    if (s_fold(name, fold) == -1)
        return -1;
    sqlite3_bind_text(self->user_add, 1, fold, -1, SQLITE_STATIC);
    sqlite3_bind_text(self->user_add, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(self->user_add, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(self->user_add, 4, (sqlite3_int64)created_ms);
    if (s_step(self->user_add) == -1)
        return -1;
    return sqlite3_changes(self->db) == 1 ? 0 : 1;
}

int
store_user_set_hash(store_t *self, const char *name, const char *hash)
{
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

int
store_user_delete(store_t *self, const char *name)
{
    assert(self && name);
    char fold[ZCHAT_NAME_MAX + 1];
    if (s_fold(name, fold) == -1)
        return 1;
    sqlite3_bind_text(self->user_delete, 1, fold, -1, SQLITE_STATIC);
    if (s_step(self->user_delete) == -1)
        return -1;
    return sqlite3_changes(self->db) == 1 ? 0 : 1;
}

int
store_user_list(store_t *self, store_user_fn *fn, void *arg)
{
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

// --- Self-test ---

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

void
store_test(bool verbose)
{
    (void)verbose;
    char *error = NULL;
    store_t *store = store_new(":memory:", 3, &error);
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
    assert(store_commit(store) == 0);
    store_destroy(&store);
    store_destroy(&store);
    assert(store == NULL);

    // A full disk: the commit fails, is rolled back, and says so
    store = store_new(":memory:", 100000, &error);
    assert(store);
    assert(sqlite3_exec(store->db, "PRAGMA max_page_count = 8", NULL, NULL, NULL) == SQLITE_OK);
    char big[2048];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    int rc = 0;
    for (uint64_t seq = 1; seq <= 100 && rc == 0; seq++) {
        rc = store_append(store, "full", seq, big);
        if (rc == 0 && seq % 10 == 0)
            rc = store_commit(store);
    }
    assert(rc == -1);
    assert(store_commit(store) == 0);  // nothing pending any more: a later turn can go on
    store_destroy(&store);

    // A directory is no database
    store = store_new("/", 10, &error);
    assert(!store && error);
    zstr_free(&error);

    // Across a reopen of a file
    char path[] = "/tmp/zchat-store-XXXXXX";
    int fd = mkstemp(path);
    assert(fd >= 0);
    close(fd);
    store = store_new(path, 10, &error);
    assert(store);
    assert(store_append(store, "lobby", 1, "{\"a\":1}") == 0);
    store_destroy(&store);  // commits
    store = store_new(path, 10, &error);
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
    store = store_new(path, 10, &error);
    assert(!store && error);
    zstr_free(&error);
    char *extra = zsys_sprintf("%s-wal", path);
    remove(extra);
    zstr_free(&extra);
    extra = zsys_sprintf("%s-shm", path);
    remove(extra);
    zstr_free(&extra);
    remove(path);
}

static void
s_collect_user(void *arg, const char *name, int64_t created_ms)
{
    char *out = arg;  // a 512-byte buffer
    size_t len = strlen(out);
    snprintf(out + len, 512 - len, "%s@%" PRId64 ";", name, created_ms);
}

void
store_users_test(bool verbose)
{
    (void)verbose;
    char *error = NULL;
    store_t *store = store_new(":memory:", 10, &error);
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
    char path[] = "/tmp/zchat-users-XXXXXX";
    int fd = mkstemp(path);
    assert(fd >= 0);
    close(fd);
    store = store_new(path, 10, &error);
    assert(store);
    assert(store_user_add(store, "Dave", "$hash-e", 5000) == 0);
    store_destroy(&store);
    store = store_new(path, 10, &error);
    assert(store);
    assert(store_user_hash(store, "dave", &hash) == 0 && hash && streq(hash, "$hash-e"));
    zstr_free(&hash);
    store_destroy(&store);
    char *extra = zsys_sprintf("%s-wal", path);
    remove(extra);
    zstr_free(&extra);
    extra = zsys_sprintf("%s-shm", path);
    remove(extra);
    zstr_free(&extra);
    remove(path);
}
