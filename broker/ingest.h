/* ingest.h — a publish from any source into the open batch: validate the
 * label, check the publisher's policy, stamp origin, time and sequence,
 * drop repeats, check the store has room, put it, and chain its collection
 * record. The first step of the write path (then fanout.c, commit.c).
 * Not responsible for: decoding frames (handle.c) or deciding access
 * (policy.c, which it asks). */
#ifndef LIAISON_INGEST_H
#define LIAISON_INGEST_H

#include "broker.h"

/* Takes ownership of m, decoded into arena: the open batch's (batch_arena),
 * or NULL for one malloc'd. head (or NULL) is its fields below origin as
 * the frame holds them (wire_envelope_decode_head), stored as they are.
 * A refusal is answered at once with an Error and audited; an accepted
 * publish is answered when its batch commits. */
void ingest_publish(broker_t *b, session_t *s, uint64_t corr_id, Liaison__Intel *m, arena_t *arena,
                    const struct wire_span *head);

/* A message the upstream delivered down uplink number `uplink` (named
 * actor in the trail), on its subscription up_sub at its sequence up_seq:
 * stored like a publish (its origin kept, its route checked), and acked
 * upstream when its batch is on disk. Takes ownership of m. */
void ingest_from_uplink(broker_t *b, int uplink, const char *actor, uint32_t up_sub,
                        uint64_t up_seq, Liaison__Intel *m);

/* Bytes kept free in the map for what a full store must still record:
 * deliveries, notices, acks (cursors), replays and erasures. */
uint64_t ingest_reserve(const broker_t *b);
/* (Re)builds the dedup index (b->seen) from the store's dedup log (the
 * entries within dedup_window_s) and the keys of the two uncommitted
 * batches, sized for twice as many: at start, and when a reload widens the
 * window. Reading the log twice (to count, then to add), it holds the loop
 * a moment (about 0.2 s a million keys). 0, or -1 when the log cannot be
 * read (b->seen is then as it was). */
int ingest_dedup_index(broker_t *b);
/* The dedup index made again from itself, when it fills or a seq is past
 * its span: its entries from the first seq still within dedup_window_s
 * (the time index says which), sized for twice as many. The log is not
 * read, so an erased message's entry stays until the next build from it. */
void ingest_dedup_grow(broker_t *b);

#endif
