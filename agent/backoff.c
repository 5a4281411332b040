/* backoff.c — capped exponential backoff with equal jitter.
 * Not responsible for timers (the callers keep their own due times). */
#include "backoff.h"

#include <sodium.h>

void backoff_init(backoff_t *b, int64_t base_ms, int64_t cap_ms)
{
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->cap_ms = cap_ms > b->base_ms ? cap_ms : b->base_ms;
    b->cur_ms = 0;
}

int64_t backoff_next(backoff_t *b)
{
    b->cur_ms = b->cur_ms == 0 ? b->base_ms : b->cur_ms * 2;
    if (b->cur_ms > b->cap_ms)
        b->cur_ms = b->cap_ms;
    int64_t half = b->cur_ms / 2;
    /* randombytes_uniform is libsodium's unbiased draw; the agent calls
     * sodium_init at start, and it falls back safely if it did not. */
    return half + (int64_t)randombytes_uniform((uint32_t)(b->cur_ms - half + 1));
}

void backoff_reset(backoff_t *b)
{
    b->cur_ms = 0;
}
