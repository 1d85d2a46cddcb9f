// session.c - one logged-in client: identity, rooms, status, rate bucket, liveness, retry ids
#include "zchat_prelude.h"
#include "zchat_hash.h"
#include "session.h"
#include "zchat_name.h"
#include <sodium.h>

// A remembered retry id and what its ack said: a slot of a ring that is reused, oldest first,
// so remembering an id allocates nothing once the ring is made. The ack itself is not kept:
// the broker writes it again from the seq, byte for byte the same.
typedef struct {
    char id[ZCHAT_ID_MAX + 1];  // "" while unused
    size_t hash;                // zchat_hash (id)
    int64_t seq;                // the seq the ack gave, or -1 (a msg's ack has none)
} s_retry_t;

// The ids of the ring are found through an open-addressing index with linear probing: one
// keyed hash per lookup, no allocation per id, 2 KiB per session. An entry is the slot number
// + 1 (0: free) in its low 16 bits and 16 more bits of the hash above, so a probe that passes
// other ids rarely reads their slots. A zhashx cost a hash per lookup, insert and delete, and a
// cache miss per item.
#define S_INDEX_SIZE   (2 * ZCHAT_IDS_REMEMBERED)  // a power of two, at most half full
#define S_INDEX_MASK   (S_INDEX_SIZE - 1)
#define S_INDEX_TAG(h) ((uint32_t)((h) >> 16) & 0xFFFF0000u)  // hash bits above the position

typedef struct {
    room_t *room;  // borrowed: the broker owns rooms and never destroys them while it runs
    void *handle;  // our entry in the room's member list, NULL while not a member there
} s_membership_t;

struct session {
    char *user;  // display spelling
    char fold[ZCHAT_NAME_MAX + 1];
    char token[ZCHAT_TOKEN_LEN + 1];
    bool observer;
    byte *identity;  // routing id of the connection the session answers to
    size_t identity_size;
    char key[SESSION_KEY_MAX];  // identity in hex
    int64_t last_active;
    int64_t blocked_since;
    int64_t expired_at;
    void *expired_handle;  // the broker's, in its list of expired sessions
    s_membership_t rooms[ZCHAT_ROOMS_MAX];
    size_t rooms_size;
    char status[8];  // "online" / "away"
    char *note;
    limiter_t limiter;
    s_retry_t *retries;   // ZCHAT_IDS_REMEMBERED slots, made at the first remember
    uint32_t *index;      // S_INDEX_SIZE entries, made with retries
    size_t retries_next;  // the slot to fill next: the oldest once the ring is full
};

session_t *
session_new(const char *user, bool observer, int64_t now_ms)
{
    assert(user);
    session_t *self = zmalloc(sizeof(session_t));
    self->user = strdup(user);
    assert(self->user);
    int rc = zchat_name_fold(user, self->fold, sizeof self->fold);
    assert(rc == 0);
    int rc_sodium = sodium_init();  // idempotent; it seeds randombytes on first use
    assert(rc_sodium >= 0);
    byte random[ZCHAT_TOKEN_LEN / 2];
    randombytes_buf(random, sizeof random);
    sodium_bin2hex(self->token, sizeof self->token, random, sizeof random);
    self->observer = observer;
    self->last_active = now_ms;
    snprintf(self->status, sizeof self->status, "online");
    self->note = strdup("");
    assert(self->note);
    return self;
}

void
session_destroy(session_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        session_t *self = *self_p;
        free(self->index);
        free(self->retries);
        free(self->note);
        free(self->identity);
        free(self->user);
        free(self);
        *self_p = NULL;
    }
}

const char *
session_user(const session_t *self)
{
    assert(self);
    return self->user;
}

const char *
session_fold(const session_t *self)
{
    assert(self);
    return self->fold;
}

const char *
session_token(const session_t *self)
{
    assert(self);
    return self->token;
}

bool
session_is_observer(const session_t *self)
{
    assert(self);
    return self->observer;
}

void
session_identity_key(const byte *identity, size_t size, char *key)
{
    assert(identity || size == 0);
    assert(size <= 255);
    sodium_bin2hex(key, SESSION_KEY_MAX, identity, size);
}

void
session_set_identity(session_t *self, const byte *identity, size_t size)
{
    assert(self);
    free(self->identity);
    self->identity = zmalloc(size ? size : 1);
    memcpy(self->identity, identity, size);
    self->identity_size = size;
    session_identity_key(identity, size, self->key);
}

const byte *
session_identity(const session_t *self, size_t *size)
{
    assert(self && size);
    *size = self->identity_size;
    return self->identity;
}

const char *
session_key(const session_t *self)
{
    assert(self);
    return self->key;
}

void
session_touch(session_t *self, int64_t now_ms)
{
    assert(self);
    self->last_active = now_ms;
}

int64_t
session_last_active(const session_t *self)
{
    assert(self);
    return self->last_active;
}

void
session_set_blocked(session_t *self, int64_t now_ms)
{
    assert(self);
    if (now_ms == 0 || self->blocked_since == 0)
        self->blocked_since = now_ms;  // keep the start of a blocked stretch
}

int64_t
session_blocked_since(const session_t *self)
{
    assert(self);
    return self->blocked_since;
}

void
session_set_expired(session_t *self, int64_t now_ms)
{
    assert(self);
    self->expired_at = now_ms;
    self->blocked_since = 0;
}

int64_t
session_expired_at(const session_t *self)
{
    assert(self);
    return self->expired_at;
}

void *
session_expired_handle(const session_t *self)
{
    assert(self);
    return self->expired_handle;
}

void
session_set_expired_handle(session_t *self, void *handle)
{
    assert(self);
    self->expired_handle = handle;
}

bool
session_is_live(const session_t *self)
{
    assert(self);
    return self->expired_at == 0;
}

size_t
session_rooms(const session_t *self)
{
    assert(self);
    return self->rooms_size;
}

room_t *
session_room(const session_t *self, size_t index)
{
    assert(self && index < self->rooms_size);
    return self->rooms[index].room;
}

static size_t
s_find(const session_t *self, const room_t *room)
{
    size_t i = 0;
    while (i < self->rooms_size && self->rooms[i].room != room)
        i++;
    return i;
}

bool
session_in_room(const session_t *self, const room_t *room)
{
    assert(self && room);
    return s_find(self, room) < self->rooms_size;
}

void
session_add_room(session_t *self, room_t *room)
{
    assert(self && room);
    assert(self->rooms_size < ZCHAT_ROOMS_MAX && !session_in_room(self, room));
    self->rooms[self->rooms_size++] = (s_membership_t){room, NULL};
}

void
session_remove_room(session_t *self, const room_t *room)
{
    assert(self && room);
    size_t i = s_find(self, room);
    assert(i < self->rooms_size);
    memmove(&self->rooms[i], &self->rooms[i + 1],
            (self->rooms_size - i - 1) * sizeof(s_membership_t));
    self->rooms_size--;
}

void *
session_room_handle(const session_t *self, size_t index)
{
    assert(self && index < self->rooms_size);
    return self->rooms[index].handle;
}

void
session_set_room_handle(session_t *self, size_t index, void *handle)
{
    assert(self && index < self->rooms_size);
    self->rooms[index].handle = handle;
}

void
session_set_status(session_t *self, const char *status, const char *note)
{
    assert(self && status && note);
    snprintf(self->status, sizeof self->status, "%s", status);
    free(self->note);
    self->note = strdup(note);
    assert(self->note);
}

const char *
session_status(const session_t *self)
{
    assert(self);
    return self->status;
}

const char *
session_note(const session_t *self)
{
    assert(self);
    return self->note;
}

limiter_t *
session_limiter(session_t *self)
{
    assert(self);
    return &self->limiter;
}

// The index position of id (of hash), or of the free entry where it would go.
static size_t
s_index_find(const session_t *self, const char *id, size_t hash)
{
    size_t i = hash & S_INDEX_MASK;
    uint32_t tag = S_INDEX_TAG(hash);
    for (uint32_t entry; (entry = self->index[i]); i = (i + 1) & S_INDEX_MASK) {
        if ((entry & 0xFFFF0000u) != tag)
            continue;
        const s_retry_t *retry = &self->retries[(entry & 0xFFFF) - 1];
        if (retry->hash == hash && streq(retry->id, id))
            break;
    }
    return i;
}

// Take the entry at i out of the index, moving back the entries after it that probed past it
// (deletion without tombstones, Knuth 6.4 algorithm R).
static void
s_index_remove(session_t *self, size_t i)
{
    self->index[i] = 0;
    for (size_t j = (i + 1) & S_INDEX_MASK; self->index[j]; j = (j + 1) & S_INDEX_MASK) {
        size_t home = self->retries[(self->index[j] & 0xFFFF) - 1].hash & S_INDEX_MASK;
        // j may move to i unless its home lies cyclically in (i, j]
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            self->index[i] = self->index[j];
            self->index[j] = 0;
            i = j;
        }
    }
}

bool
session_recall(const session_t *self, const char *id, int64_t *seq)
{
    assert(self && id && seq);
    if (!self->retries)
        return false;
    uint32_t entry = self->index[s_index_find(self, id, zchat_hash(id))];
    if (entry)
        *seq = self->retries[(entry & 0xFFFF) - 1].seq;
    return entry != 0;
}

void
session_remember(session_t *self, const char *id, int64_t seq)
{
    assert(self && id);
    assert(*id && strlen(id) <= ZCHAT_ID_MAX);  // a valid id: "" would mark a free slot
    if (!self->retries) {
        self->retries = zmalloc(ZCHAT_IDS_REMEMBERED * sizeof(s_retry_t));
        self->index = zmalloc(S_INDEX_SIZE * sizeof(uint32_t));
    }
    size_t hash = zchat_hash(id);
    if (self->index[s_index_find(self, id, hash)])
        return;  // already known: the first ack stands
    size_t slot = self->retries_next;
    s_retry_t *retry = &self->retries[slot];
    self->retries_next = (self->retries_next + 1) % ZCHAT_IDS_REMEMBERED;
    if (*retry->id)  // the oldest, forgotten
        s_index_remove(self, s_index_find(self, retry->id, retry->hash));
    memcpy(retry->id, id, strlen(id) + 1);  // fits: asserted above
    retry->hash = hash;
    retry->seq = seq;
    self->index[s_index_find(self, id, hash)] = S_INDEX_TAG(hash) | (uint32_t)(slot + 1);
}

void
session_test(bool verbose)
{
    (void)verbose;
    session_t *alice = session_new("Alice", false, 1000);
    assert(streq(session_user(alice), "Alice"));
    assert(streq(session_fold(alice), "alice"));
    assert(strlen(session_token(alice)) == ZCHAT_TOKEN_LEN);
    assert(!session_is_observer(alice) && session_is_live(alice));
    session_t *bob = session_new("bob", false, 1000);
    assert(!streq(session_token(alice), session_token(bob)));  // random tokens
    session_destroy(&bob);

    byte id[] = {0, 1, 2, 0xff};
    session_set_identity(alice, id, sizeof id);
    size_t size;
    assert(session_identity(alice, &size)[3] == 0xff && size == 4);
    assert(streq(session_key(alice), "000102ff"));

    int a, b;  // stand-ins: the session only borrows rooms
    session_add_room(alice, (room_t *)&a);
    session_add_room(alice, (room_t *)&b);
    assert(session_rooms(alice) == 2 && session_in_room(alice, (room_t *)&b));
    session_set_room_handle(alice, 1, &b);
    assert(session_room_handle(alice, 1) == &b && session_room_handle(alice, 0) == NULL);
    session_remove_room(alice, (room_t *)&a);
    assert(session_rooms(alice) == 1 && session_room(alice, 0) == (room_t *)&b);
    assert(session_room_handle(alice, 0) == &b);

    session_set_status(alice, "away", "lunch");
    assert(streq(session_status(alice), "away") && streq(session_note(alice), "lunch"));

    session_set_blocked(alice, 5000);
    session_set_blocked(alice, 6000);
    assert(session_blocked_since(alice) == 5000);
    session_set_blocked(alice, 0);
    assert(session_blocked_since(alice) == 0);
    session_set_expired(alice, 7000);
    assert(!session_is_live(alice) && session_expired_at(alice) == 7000);

    for (int i = 0; i < ZCHAT_IDS_REMEMBERED + 10; i++) {
        char key[16];
        snprintf(key, sizeof key, "id%d", i);
        session_remember(alice, key, i % 7 ? i : -1);
    }
    session_remember(alice, "id300", 300);  // exists? no: a new one
    int64_t seq = 0;
    assert(!session_recall(alice, "id0", &seq));  // forgotten
    assert(!session_recall(alice, "id10", &seq));
    assert(session_recall(alice, "id265", &seq) && seq == 265);
    assert(session_recall(alice, "id259", &seq) && seq == -1);  // a msg's ack
    session_remember(alice, "id265", 1);
    assert(session_recall(alice, "id265", &seq) && seq == 265);  // the first ack stands

    // The index against a plain scan of what should be remembered: the last
    // ZCHAT_IDS_REMEMBERED distinct ids, with repeats that change nothing
    session_t *carol = session_new("Carol", false, 1000);
    int window[ZCHAT_IDS_REMEMBERED] = {0};
    size_t known = 0, next = 0;
    uint32_t random = 12345;
    for (int round = 0; round < 20000; round++) {
        random = random * 1103515245 + 12345;
        int n = (int)(random >> 16) % 700;  // ids repeat often, and the ring wraps many times
        char key[16];
        snprintf(key, sizeof key, "r%d", n);
        bool in_window = false;
        for (size_t w = 0; w < known; w++)
            in_window = in_window || window[w] == n;
        bool found = session_recall(carol, key, &seq);
        assert(in_window ? found && seq == n : !found);
        session_remember(carol, key, n);
        if (!in_window) {
            window[next] = n;
            next = (next + 1) % ZCHAT_IDS_REMEMBERED;
            known += known < ZCHAT_IDS_REMEMBERED;
        }
    }
    session_destroy(&carol);
    session_destroy(&alice);
    session_destroy(&alice);
    assert(alice == NULL);
}
