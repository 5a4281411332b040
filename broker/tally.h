/* tally.h — counts of the stored messages per topic and classification,
 * kept in memory and exact at any store size: built once at start by
 * reading the store a bounded slice per tick, then followed commit by
 * commit (messages stored, messages erased). Each topic's counts are also
 * kept per bucket of TALLY_BUCKET sequence numbers (a Fenwick tree), so
 * "how many messages after sequence N on topics matching P" costs a few
 * tree reads per topic and a read of at most one bucket of the store.
 * This is what the topics view and a durable's backlog are drawn from.
 * Loop thread only.
 * Not responsible for: what a subscriber may receive of them (policy.c):
 * a backlog counts what its pattern matches, not what the rule allows. */
#ifndef LIAISON_TALLY_H
#define LIAISON_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "wire.h"

#define TALLY_BUCKET 1024
/* Distinct (topic, classification) pairs counted; past it the tally gives
 * up being exact (tally_exact says so) rather than grow without bound. */
#define TALLY_MAX_TOPICS 65536
/* The classification counted for a message without a label: above any
 * clearance. */
#define TALLY_NO_LABEL 99

typedef struct tally tally_t;

tally_t *tally_new(void);
void tally_free(tally_t **t);

/* The classification a message is counted under. */
int tally_class(const Liaison__Intel *m);

/* Counts up to max more stored messages (the start-up pass; a snapshot of
 * what has committed). Returns 1 once everything stored is counted. */
int tally_catch_up(tally_t *t, store_t *st, size_t max);
/* 1 when every stored message is counted (and not too many topics). */
int tally_exact(const tally_t *t);
/* Messages read by the start-up pass so far. */
uint64_t tally_scanned(const tally_t *t);
/* Buckets the trees hold over all pairs (8 bytes each): what the counts
 * cost in memory. */
size_t tally_buckets_held(const tally_t *t);

/* A message committed under seq, or erased by a batch that committed.
 * Before the start-up pass is done, what it has not reached yet is left to
 * it. */
void tally_put(tally_t *t, uint64_t seq, const char *topic, int cls, size_t len, int64_t time_us);
void tally_erase(tally_t *t, uint64_t seq, const char *topic, int cls, size_t len);

/* Stored messages with a sequence above after on topics pattern matches:
 * 0 with *n set, or -1 when the tally is not exact (yet) or the store
 * could not be read. */
int tally_backlog(tally_t *t, store_t *st, const char *pattern, uint64_t after, uint64_t *n);

/* One (topic, classification) as counted now. */
struct tally_topic {
    const char *topic; /* borrowed until the tally next changes */
    int cls;
    uint64_t messages, bytes;
    uint64_t oldest_seq; /* 0 when not known */
    int64_t oldest_us, newest_us;
};
/* Calls fn for each pair with messages (in no order), after finding again
 * the oldest message of those whose oldest was erased (a read of one
 * bucket each). */
typedef void (*tally_fn)(const struct tally_topic *e, void *ctx);
void tally_each(tally_t *t, store_t *st, tally_fn fn, void *ctx);

#endif
