// limiter.c - a token bucket: the per-session rate limit of zchat-protocol(7) RATE LIMIT
#include "zchat_prelude.h"
#include "limiter.h"

static double
s_level(const limiter_t *self, double rate, double burst, int64_t now_ms)
{
    if (self->last_ms == 0)
        return burst;
    double level = self->tokens + rate * (double)(now_ms - self->last_ms) / 1000.0;
    return level > burst ? burst : level;
}

bool
limiter_take(limiter_t *self, double rate, double burst, int64_t now_ms)
{
    assert(self);
    if (rate <= 0)
        return true;
    self->tokens = s_level(self, rate, burst, now_ms);
    self->last_ms = now_ms;
    if (self->tokens < 1.0)
        return false;
    self->tokens -= 1.0;
    return true;
}

bool
limiter_is_full(const limiter_t *self, double rate, double burst, int64_t now_ms)
{
    assert(self);
    return rate <= 0 || s_level(self, rate, burst, now_ms) >= burst;
}

void
limiter_test(bool verbose)
{
    (void)verbose;
    limiter_t bucket = {0};
    int64_t now = 1000000;
    assert(limiter_is_full(&bucket, 20, 40, now));
    int taken = 0;
    while (limiter_take(&bucket, 20, 40, now))
        taken++;
    assert(taken == 40);  // the burst
    assert(!limiter_is_full(&bucket, 20, 40, now));
    assert(!limiter_take(&bucket, 20, 40, now + 10));  // 0.2 token
    assert(limiter_take(&bucket, 20, 40, now + 60));   // 1.2 tokens by now
    assert(!limiter_take(&bucket, 20, 40, now + 61));
    assert(limiter_is_full(&bucket, 20, 40, now + 5000));
    limiter_t free_bucket = {0};
    for (int i = 0; i < 1000; i++)
        assert(limiter_take(&free_bucket, 0, 40, now));  // rate 0: no limit
}
