/* router.h — the life of a message inside the broker: accepting a publish
 * into the open store batch, the group commit that makes the pass's
 * publishes durable before any PubAck leaves, and fan-out from the store to
 * every subscription with credit that the rule allows.
 * Not responsible for: decoding frames (handle.c) or deciding access
 * (policy.c, which it calls for every publish and every delivery). */
#ifndef LIAISON_ROUTER_H
#define LIAISON_ROUTER_H

#include "broker.h"

/* Validates, checks policy, stamps origin/time/sequence and puts the message
 * into the open batch. Takes ownership of m. A refusal is answered at once
 * with an Error; an accepted publish is answered after router_commit. */
void router_publish(broker_t *b, session_t *s, uint64_t corr_id, Liaison__Intel *m);

/* Before sleep, step 1: for every subscription with credit and messages
 * behind it (and every unacked delivery that is due again), decides by
 * policy what to deliver, notice or withhold, in sequence order — from the
 * pass's batch when the message is there, from the store otherwise —
 * appends each decision's audit record to the open batch and queues the
 * frames. Bounded per subscription per pass. */
void router_plan(broker_t *b);

/* Before sleep, step 2: writes moved durable cursors, commits the open
 * batch (one fsync), then sends PubAcks and the planned frames. If the
 * commit fails, publishes are refused and the plan is undone. */
void router_commit(broker_t *b);

/* The open store batch was abandoned outside the publish path (a cursor
 * write failed with rc): refuses every publish that was in it. */
void router_batch_lost(broker_t *b, int rc);

/* Frees anything the batch still holds (shutdown). */
void router_clear(broker_t *b);

#endif
