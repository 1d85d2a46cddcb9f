// zchat_hash.c - hash tables keyed by strings a peer chooses: zhashx with a keyed hash
#include "zchat_prelude.h"
#include "zchat_hash.h"
#include <pthread.h>
#include <sodium.h>

static unsigned char s_key[crypto_shorthash_KEYBYTES];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_make_key(void)
{
    int rc = sodium_init();  // 1 when already done: fine
    assert(rc >= 0);
    crypto_shorthash_keygen(s_key);
}

zhashx_t *
zchat_hash_new(void)
{
    pthread_once(&s_once, s_make_key);
    zhashx_t *self = zhashx_new();
    assert(self);
    zhashx_set_key_hasher(self, zchat_hash);
    return self;
}

size_t
zchat_hash(const void *key)
{
    assert(key);
    pthread_once(&s_once, s_make_key);
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, key, strlen(key), s_key);
    uint64_t hash;
    memcpy(&hash, out, sizeof hash);
    return (size_t)hash;
}

void
zchat_hash_test(bool verbose)
{
    (void)verbose;
    assert(zchat_hash("lobby") == zchat_hash("lobby"));
    // 64 room names that all collide in CZMQ's own hash: in a zhashx_new() table these
    // lookups double the table again and again until zmalloc aborts
    const char *blocks[2][4] = {{"at2", "avp", "ay_", "c4p"}, {"d4p", "d62", "ft2", "fvp"}};
    zhashx_t *rooms = zchat_hash_new();
    for (int i = 0; i < 64; i++) {
        char name[16];
        snprintf(name, sizeof name, "%s%s%s", blocks[0][i / 16], blocks[1][i / 4 % 4],
                 blocks[1][i % 4]);
        assert(!zhashx_lookup(rooms, name));
        assert(zhashx_insert(rooms, name, rooms) == 0);
    }
    assert(zhashx_size(rooms) == 64);
    assert(zhashx_lookup(rooms, "c4pfvpfvp") == rooms && !zhashx_lookup(rooms, "lobby"));
    zhashx_destroy(&rooms);
}
