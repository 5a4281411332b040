/* seen.h — the dedup index, in memory: for a dedup key, the sequence
 * numbers of the stored messages that may carry it. The store keeps the
 * keys in sequence order (its dedup log: appending costs no random page a
 * publish), so only this knows where a key is. Each entry is a 32-bit
 * fingerprint of the key and the sequence number's offset from a base
 * (8 bytes); a key's every stored sequence is among the ones it gives,
 * and a few more may be: the log entry at each says which is the key.
 * An erased message's entry stays until the index is built from the log
 * again (at start, or when a reload widens the window): growing copies it.
 * Used from one thread.
 * Not responsible for: what the keys are (store_dedup_key), confirming a
 * candidate (store_read_dedup) or building it from the store (ingest.c). */
#ifndef LIAISON_SEEN_H
#define LIAISON_SEEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct seen seen_t;

/* An empty index with room for at least capacity keys; caller owns
 * (seen_free). The first seq added is its base: every later one must be
 * at or above it. */
seen_t *seen_new(size_t capacity);
void seen_free(seen_t **f);
/* The hash of key the others take (so a publish hashes its key once),
 * keyed by a secret drawn once a process. */
uint64_t seen_hash(const void *key, size_t len);
/* Adds the key of hash h under seq: 0, or -1 when seq is below the base
 * or too far above it (2^32 - 2) to be held: time to build it again. */
int seen_add(seen_t *f, uint64_t h, uint64_t seq);
/* Walks the sequence numbers that may carry the key of hash h:
 * seen_first, then seen_next while it gives a non-zero seq. */
struct seen_walk {
    uint64_t slot;
    uint32_t fp;
};
uint64_t seen_first(const seen_t *f, uint64_t h, struct seen_walk *w);
uint64_t seen_next(const seen_t *f, struct seen_walk *w);
/* Of its keys, those whose seq is at or above floor. */
size_t seen_count_from(const seen_t *f, uint64_t floor);
/* A new index of f's keys at or above floor (an older one is out of the
 * window), with room for at least capacity keys and its base moved up to
 * floor: made from f alone, without the keys. Caller owns it. */
seen_t *seen_copy_from(const seen_t *f, uint64_t floor, size_t capacity);
/* 1 once it holds more keys than it was sized for (answers stay right,
 * but walks grow longer: time to build a bigger one). */
int seen_full(const seen_t *f);
/* Keys added, and bytes held. */
size_t seen_count(const seen_t *f);
size_t seen_bytes(const seen_t *f);

#endif
