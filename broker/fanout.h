/* fanout.h — deciding, before the loop sleeps, what each subscription
 * receives: new messages through the subscription index (a message costs
 * what its matching subscriptions cost), subscriptions behind the tail by
 * walking the store, redeliveries and dead letters, and the durable
 * cursors that moved. Every decision is made by policy_receive as the
 * configuration is now; its audit record joins the open batch and its
 * frame waits there for the commit. The second step of the write path.
 * Not responsible for: allow/deny (policy.c) or sending (commit.c). */
#ifndef LIAISON_FANOUT_H
#define LIAISON_FANOUT_H

#include "broker.h"

/* Plans deliveries for this pass into the open batch. Bounded per
 * subscription per pass. */
void fanout_plan(broker_t *b);

/* Writes the durable cursors that moved into the open batch: at once when
 * the subscription delivered or acked since the last write, else at most
 * once a second (a cursor only ever trails the acks). */
void fanout_cursors(broker_t *b, int64_t now_ms);

/* A subscription was added or is about to be removed: keeps the index;
 * a durable one's acked floor is written and remembered. */
void fanout_sub_added(broker_t *b, sub_t *sub);
void fanout_sub_removing(broker_t *b, sub_t *sub);
/* Something of sub's changed outside a pass (its window put back, a
 * rewind): it is looked at from the next pass on. */
void fanout_sub_touched(broker_t *b, sub_t *sub);
/* The next pass looks at every subscription (a reload: what each may
 * receive may have changed). */
void fanout_scan_all(broker_t *b);
/* Frees the busy list (at shutdown). */
void fanout_busy_free(broker_t *b);
/* The acked floor of a durable let go since its cursor was last read, if
 * any (1; it is taken), for a resume that comes right after. */
int fanout_released_floor(broker_t *b, const char *durable, uint64_t *floor,
                          struct store_cursor_ext *ext);
/* The same without taking it: 1 and *floor set if the ring holds name. */
int fanout_released_peek(const broker_t *b, const char *durable, uint64_t *floor);
/* Frees what the released ring holds (shutdown). */
void fanout_released_free(broker_t *b);
/* A durable's acked floor and what it owes above it, from its live state
 * (ext->v the caller's to free; ext->hi 0 when nothing above). */
void fanout_durable_state(const broker_t *b, const sub_t *sub, uint64_t *floor,
                          struct store_cursor_ext *ext);
/* A resumed durable owes only what ext lists up to ext->hi (may be NULL). */
void fanout_resume(sub_t *sub, const struct store_cursor_ext *ext);
/* A durable's cursor was moved back to floor (an operator's requeue): the
 * next resume starts there even before that write commits. */
void fanout_released_lower(broker_t *b, const char *durable, uint64_t floor);
/* Removes a subscription through the index (session_sub_remove after it). */
void fanout_sub_remove(broker_t *b, session_t *s, uint32_t sub_id);
/* Removes every subscription of a session (before it goes). */
void fanout_session_gone(broker_t *b, session_t *s);

#endif
