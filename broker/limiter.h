// limiter.h - a token bucket: the per-session rate limit of zchat-protocol(7) RATE LIMIT
#ifndef LIMITER_H_INCLUDED
#define LIMITER_H_INCLUDED

#include "zchat_prelude.h"

// A value type: embed it, zero-fill it, no destructor.
typedef struct {
    double tokens;    // tokens left; a new bucket starts full
    int64_t last_ms;  // when tokens were last refilled; 0: never used
} limiter_t;

// Take one token at time now_ms from a bucket refilled at rate tokens/s up to burst.
// Returns true if there was one. A rate of 0 means no limit.
bool limiter_take(limiter_t *self, double rate, double burst, int64_t now_ms);

// True if the bucket has been refilled to burst by now_ms: forgetting it changes nothing.
bool limiter_is_full(const limiter_t *self, double rate, double burst, int64_t now_ms);

void limiter_test(bool verbose);

#endif
