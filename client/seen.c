// seen.c - the last N keys seen: a ring of keys in arrival order, and a hash to find them
#include "zchat_prelude.h"
#include "zchat_hash.h"
#include "seen.h"

struct seen {
    size_t capacity;
    char **ring;     // capacity slots, the oldest at next once full (owned)
    size_t next;     // the slot the next key goes to
    zhashx_t *keys;  // key -> itself, borrowed from ring
};

seen_t *
seen_new(size_t capacity)
{
    assert(capacity > 0);
    seen_t *self = zmalloc(sizeof(seen_t));
    self->capacity = capacity;
    self->ring = zmalloc(capacity * sizeof(char *));
    self->keys = zchat_hash_new();  // keys come from the wire
    return self;
}

void
seen_destroy(seen_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        seen_t *self = *self_p;
        zhashx_destroy(&self->keys);
        for (size_t i = 0; i < self->capacity; i++)
            free(self->ring[i]);
        free(self->ring);
        free(self);
        *self_p = NULL;
    }
}

bool
seen_check(seen_t *self, const char *key)
{
    assert(self && key);
    if (zhashx_lookup(self->keys, key))
        return true;
    char *slot = self->ring[self->next];
    if (slot) {
        zhashx_delete(self->keys, slot);  // the oldest goes
        free(slot);
    }
    slot = strdup(key);
    assert(slot);
    self->ring[self->next] = slot;
    zhashx_insert(self->keys, slot, slot);
    self->next = (self->next + 1) % self->capacity;
    return false;
}

void
seen_test(bool verbose)
{
    (void)verbose;
    seen_t *seen = seen_new(3);
    assert(!seen_check(seen, "alice s1"));
    assert(seen_check(seen, "alice s1"));
    assert(!seen_check(seen, "bob s1"));
    assert(!seen_check(seen, "alice s2"));
    assert(!seen_check(seen, "alice s3"));  // full: the oldest, alice s1, is forgotten
    assert(!seen_check(seen, "alice s1"));
    assert(seen_check(seen, "alice s3") && seen_check(seen, "alice s2"));
    assert(!seen_check(seen, "bob s1"));
    seen_destroy(&seen);
    seen_destroy(&seen);
    assert(seen == NULL);
}
