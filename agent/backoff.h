/* backoff.h — capped exponential backoff with jitter, for reconnecting to
 * the broker, pausing publishes the broker could not store, and retrying a
 * sink. Jitter spreads a few hundred agents that lost the same broker at
 * the same moment, so they do not all knock on its door in the same
 * millisecond when it comes back.
 * Not responsible for: deciding when to retry (the callers' timers). */
#ifndef LIAISON_BACKOFF_H
#define LIAISON_BACKOFF_H

#include <stdint.h>

typedef struct backoff {
    int64_t base_ms; /* first delay */
    int64_t cap_ms;  /* largest delay */
    int64_t cur_ms;  /* 0 until the first failure */
} backoff_t;

void backoff_init(backoff_t *b, int64_t base_ms, int64_t cap_ms);
/* The delay before the next try: base, then doubling up to cap, each drawn
 * at random from [d/2, d] ("equal jitter"). */
int64_t backoff_next(backoff_t *b);
/* After a success: the next failure starts again from base. */
void backoff_reset(backoff_t *b);

#endif
