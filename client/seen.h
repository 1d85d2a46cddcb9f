// seen.h - the last N keys seen, to drop repeats: a client remembers the (sender, id) of the
// private messages it showed (zchat-protocol(7) RETRIES)
#ifndef SEEN_H_INCLUDED
#define SEEN_H_INCLUDED

#include "zchat_prelude.h"

typedef struct seen seen_t;

#define SEEN_PRIVATES 256  // (sender, id) pairs of private messages a client remembers

// Create an empty memory of at most capacity keys (at least 1).
seen_t *seen_new(size_t capacity);

// Destroy it, null *self_p; safe on NULL.
void seen_destroy(seen_t **self_p);

// True if key is among the last capacity keys remembered; if not, remember it now, forgetting
// the oldest when full.
bool seen_check(seen_t *self, const char *key);

void seen_test(bool verbose);

#endif
