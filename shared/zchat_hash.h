// zchat_hash.h - hash tables keyed by strings a peer chooses: zhashx with a keyed hash
#ifndef ZCHAT_HASH_H_INCLUDED
#define ZCHAT_HASH_H_INCLUDED

#include "zchat_prelude.h"

// Create a zhashx_t with string keys, as zhashx_new() does, whose hash is SipHash under a random
// key made once per process. CZMQ's own hash (h = 33 * h ^ c, no seed) lets a peer choose
// names, ids or identities that all collide, and zhashx doubles its table at each lookup that
// meets a long chain, until zmalloc aborts: every table keyed by wire input comes from here.
zhashx_t *zchat_hash_new(void);

// The keyed hash of a NUL-terminated string (a zhashx_hash_fn).
size_t zchat_hash(const void *key);

void zchat_hash_test(bool verbose);

#endif
