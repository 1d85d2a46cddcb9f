// store.c - the storage seam: each store_ call goes to the store's backend
#include "zchat_prelude.h"
#include "store.h"
#include "store_sqlite.h"

struct store {
    const store_backend_t *backend;  // borrowed: a backend's static table
    void *state;                     // owned: backend->destroy ends it
};

store_t *
store_new(const char *path, size_t keep, char **error)
{
    return store_sqlite_new(path, keep, error);
}

store_t *
store_new_exclusive(const char *path, size_t keep, char **error)
{
    return store_sqlite_new_exclusive(path, keep, error);
}

void
store_destroy(store_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        store_t *self = *self_p;
        self->backend->destroy(self->state);
        free(self);
        *self_p = NULL;
    }
}

int
store_rooms(store_t *self, store_room_fn *fn, void *arg)
{
    assert(self && fn);
    return self->backend->rooms(self->state, fn, arg);
}

int
store_append(store_t *self, const char *room, uint64_t seq, const char *json)
{
    assert(self && room && json);
    return self->backend->append(self->state, room, seq, json);
}

int
store_commit(store_t *self)
{
    assert(self);
    return self->backend->commit(self->state);
}

void
store_maintain(store_t *self)
{
    assert(self);
    self->backend->maintain(self->state);
}

int
store_history(store_t *self, const char *room, uint64_t since, size_t limit, store_event_fn *fn,
              void *arg)
{
    assert(self && room && fn);
    return self->backend->history(self->state, room, since, limit, fn, arg);
}

int
store_user_hash(store_t *self, const char *name, char **hash)
{
    assert(self && name && hash);
    return self->backend->user_hash(self->state, name, hash);
}

int
store_user_add(store_t *self, const char *name, const char *hash, int64_t created_ms)
{
    assert(self && name && hash);
    return self->backend->user_add(self->state, name, hash, created_ms);
}

int
store_user_set_hash(store_t *self, const char *name, const char *hash)
{
    assert(self && name && hash);
    return self->backend->user_set_hash(self->state, name, hash);
}

int
store_user_delete(store_t *self, const char *name)
{
    assert(self && name);
    return self->backend->user_delete(self->state, name);
}

int
store_user_list(store_t *self, store_user_fn *fn, void *arg)
{
    assert(self && fn);
    return self->backend->user_list(self->state, fn, arg);
}

store_t *
store_wrap(const store_backend_t *backend, void *state)
{
    assert(backend && state);
    store_t *self = zmalloc(sizeof(store_t));
    self->backend = backend;
    self->state = state;
    return self;
}

void *
store_state(const store_t *self)
{
    assert(self);
    return self->state;
}

// --- Self-test: a backend that records what reaches it ---

typedef struct {
    char calls[256];  // the names of the calls, one letter each
    bool destroyed;
} s_probe_t;

static void
s_probe(void *state, char call)
{
    s_probe_t *probe = state;
    size_t len = strlen(probe->calls);
    assert(len + 1 < sizeof probe->calls);
    probe->calls[len] = call;
}

static void
s_probe_destroy(void *state)
{
    ((s_probe_t *)state)->destroyed = true;
}

static int
s_probe_rooms(void *state, store_room_fn *fn, void *arg)
{
    s_probe(state, 'r');
    fn(arg, "lobby", 7);
    return 0;
}

static int
s_probe_append(void *state, const char *room, uint64_t seq, const char *json)
{
    s_probe(state, 'a');
    return streq(room, "lobby") && seq == 8 && streq(json, "{}") ? 0 : -1;
}

static int
s_probe_commit(void *state)
{
    s_probe(state, 'c');
    return 0;
}

static void
s_probe_maintain(void *state)
{
    s_probe(state, 'm');
}

static int
s_probe_history(void *state, const char *room, uint64_t since, size_t limit, store_event_fn *fn,
                void *arg)
{
    (void)room;
    (void)limit;
    s_probe(state, 'h');
    fn(arg, since + 1, "{}");
    return 1;
}

static int
s_probe_user_hash(void *state, const char *name, char **hash)
{
    (void)name;
    s_probe(state, 'u');
    *hash = NULL;
    return 0;
}

static int
s_probe_user_add(void *state, const char *name, const char *hash, int64_t created_ms)
{
    (void)name;
    (void)hash;
    (void)created_ms;
    s_probe(state, '+');
    return 1;
}

static int
s_probe_user_set_hash(void *state, const char *name, const char *hash)
{
    (void)name;
    (void)hash;
    s_probe(state, 's');
    return 0;
}

static int
s_probe_user_delete(void *state, const char *name)
{
    (void)name;
    s_probe(state, '-');
    return 1;
}

static int
s_probe_user_list(void *state, store_user_fn *fn, void *arg)
{
    (void)fn;
    (void)arg;
    s_probe(state, 'l');
    return 0;
}

static const store_backend_t s_probe_backend = {
    "probe",          s_probe_destroy,       s_probe_rooms,       s_probe_append,
    s_probe_commit,   s_probe_maintain,      s_probe_history,     s_probe_user_hash,
    s_probe_user_add, s_probe_user_set_hash, s_probe_user_delete, s_probe_user_list,
};

static void
s_last_seq(void *arg, const char *room, uint64_t last_seq)
{
    (void)room;
    *(uint64_t *)arg = last_seq;
}

static void
s_user(void *arg, const char *name, int64_t created_ms)
{
    (void)arg;
    (void)name;
    (void)created_ms;
}

static void
s_event_seq(void *arg, uint64_t seq, const char *json)
{
    (void)json;
    *(uint64_t *)arg = seq;
}

void
store_test(bool verbose)
{
    (void)verbose;
    s_probe_t probe = {"", false};
    store_t *store = store_wrap(&s_probe_backend, &probe);
    assert(store_state(store) == &probe);
    uint64_t seq = 0;
    assert(store_rooms(store, s_last_seq, &seq) == 0 && seq == 7);
    assert(store_append(store, "lobby", 8, "{}") == 0);
    assert(store_commit(store) == 0);
    store_maintain(store);
    assert(store_history(store, "lobby", 7, 10, s_event_seq, &seq) == 1 && seq == 8);
    char *hash = NULL;
    assert(store_user_hash(store, "alice", &hash) == 0 && !hash);
    assert(store_user_add(store, "alice", "$h", 1) == 1);
    assert(store_user_set_hash(store, "alice", "$h") == 0);
    assert(store_user_delete(store, "alice") == 1);
    assert(store_user_list(store, s_user, NULL) == 0);
    assert(streq(probe.calls, "racmhu+s-l"));
    store_destroy(&store);
    assert(probe.destroyed && store == NULL);
    store_destroy(&store);  // idempotent

    // The default backend
    char *error = NULL;
    store = store_new(":memory:", 10, &error);
    assert(store && !error);
    assert(store_append(store, "lobby", 1, "{}") == 0 && store_commit(store) == 0);
    seq = 0;
    assert(store_rooms(store, s_last_seq, &seq) == 0 && seq == 1);
    store_destroy(&store);
}
