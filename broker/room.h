/* room.h — what a store short of room may still write, and what waits.
 *
 * Two limits, below ingest's reserve (which refuses new publishes):
 * - the floor: disclosures (deliveries, notices, withhold records) leave
 *   the last half of the reserve alone, for what frees room or keeps
 *   a promise when nothing else fits — retention's erasures and their
 *   records, cursor writes, consultation records. fanout.c holds them
 *   there (room_hold) until room is back (room_unhold);
 * - a commit LMDB refuses (MDB_MAP_FULL, the floor used up anyway): every
 *   writer waits, and the loop tries again after a backoff (room_plan):
 *   50 ms after the refusal, doubling after each refused try up to 5 s,
 *   and the first try that commits ends it. Each try is a tick then the
 *   work itself (ROOM_PLAN_TICK, ROOM_PLAN_TRY).
 * Either way, one line says so (event=store_exhausted) and one that it is
 * over (event=store_resumed); status and metrics show it.
 * Below fanout.c, commit.c and loop.c, which call it; calls no one above.
 * Not responsible for: refusing publishes (ingest.c) or ending batches
 * (commit.c). */
#ifndef LIAISON_ROOM_H
#define LIAISON_ROOM_H

#include <stdint.h>

#include "broker.h"

#define ROOM_RETRY_FIRST_MS 50
#define ROOM_RETRY_MAX_MS   5000

/* Bytes the map can still take less what the two uncommitted batches may
 * (an over-estimate of what they take). */
uint64_t room_left(const broker_t *b);
/* The floor: a thirty-second of the map, 128 KiB .. 128 MiB (half of
 * ingest's reserve). */
uint64_t room_floor(const broker_t *b);
/* 1 if one more disclosure may be planned: room is left above the floor.
 * Else it holds disclosures (one line when that starts). */
int room_to_disclose(broker_t *b);
/* End of a planning pass: if disclosures were held and room is back above
 * the floor, they go on. */
void room_unhold(broker_t *b);
/* At most this many erasures in the next retention pass, so its records
 * fit in what is left. */
int room_erase_budget(const broker_t *b);

enum room_plan {
    ROOM_PLAN_ALL,  /* plan everything */
    ROOM_PLAN_WAIT, /* paused: plan nothing that writes */
    ROOM_PLAN_TICK, /* paused: write only the pause's audit record, the smallest write there
                     * is. Once it commits, LMDB may reuse the pages the last good commit
                     * freed (it keeps them one commit longer), which a refused try never
                     * lets it do */
    ROOM_PLAN_TRY,  /* paused, after a tick: plan everything (retention first) */
};
/* ROOM_PLAN_TICK and ROOM_PLAN_TRY make the open batch a try: alone in its
 * batch, since nothing is committing and it was empty. */
/* What this pass may plan, at now_ms (monotonic). */
enum room_plan room_plan(broker_t *b, int64_t now_ms);
/* 1 while a try is being committed: the loop reads no frames meanwhile,
 * so nothing is built on a batch that may be refused. */
int room_trying(const broker_t *b);
/* When the next try is due, for the loop's poll timeout (INT64_MAX when
 * none is waited for). */
int64_t room_retry_ms(const broker_t *b);
/* The open batch was a try and planned nothing: after a tick, the pause
 * is over (nothing waits that a try could write); else the next try waits
 * as long. */
void room_try_empty(broker_t *b);
/* A commit was refused for want of room; try_kind is the batch's (0: not
 * a try). */
void room_refused(broker_t *b, int try_kind);
/* A commit succeeded; try_kind is the batch's. A tick lets the next try
 * come at once; a try ends the pause. */
void room_committed(broker_t *b, int try_kind);
/* 1 while anything waits for room (status, metrics). */
int room_paused(const broker_t *b);

#endif
