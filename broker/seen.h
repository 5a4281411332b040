/* seen.h — a filter of the dedup keys the store may hold (a Bloom filter):
 * a key it never took is certainly not in the store, so a publish with a
 * new msg_id, nearly every one, skips the store's dedup lookup. It only
 * answers "maybe" for a key it took, and rarely (under 1% at capacity)
 * for one it did not; erasing never clears it, so a key retention erased
 * stays a "maybe" until the filter is built again. Used from one thread.
 * Not responsible for: what the keys are (store_dedup_key) or keeping it
 * a superset of the store (ingest.c adds each key it stores and builds it
 * again when full). */
#ifndef LIAISON_SEEN_H
#define LIAISON_SEEN_H

#include <stddef.h>

typedef struct seen seen_t;

/* An empty filter for at least capacity keys; caller owns (seen_free). */
seen_t *seen_new(size_t capacity);
void seen_free(seen_t **f);
void seen_add(seen_t *f, const void *key, size_t len);
/* 0 if key was certainly never added; 1 if it may have been. */
int seen_maybe(const seen_t *f, const void *key, size_t len);
/* 1 once it holds more keys than it was sized for (answers stay right,
 * but "maybe" grows likelier: time to build a bigger one). */
int seen_full(const seen_t *f);
/* Keys added, and bytes held. */
size_t seen_count(const seen_t *f);
size_t seen_bytes(const seen_t *f);

#endif
