/* publish.h — store and forward: sends the outbox to the broker in order,
 * up to PUBLISH_WINDOW messages in flight, and settles each entry when the
 * broker answers. A PubAck (the broker has it on disk) removes the entry;
 * a refusal that retrying cannot cure (label, permission, size) removes it
 * too and hands its spool file to rejected/ with the broker's reason; a
 * store problem on the broker pauses sending and retries later. On every
 * new connection everything still in the outbox is sent again, in order,
 * with its msg_id, and the broker's dedup makes that effectively-once.
 * Not responsible for: the connection (agent.c, link.c) or what goes into
 * the outbox (spool.c). */
#ifndef LIAISON_PUBLISH_H
#define LIAISON_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "link.h"
#include "outbox.h"
#include "spool.h"

#define PUBLISH_WINDOW 256

typedef struct publish publish_t;

/* Both borrowed for the publisher's life; spool may be NULL (no spool). */
publish_t *publish_new(outbox_t *o, spool_t *spool);
void publish_free(publish_t **p);

/* A new connection: nothing is in flight any more. */
void publish_reset(publish_t *p);
/* Sends what the window, any pause and the link's queue allow, never
 * waiting: what does not fit goes on a later call. Returns 0, or -1 when
 * the link is not up or failed to send. */
int publish_send(publish_t *p, link_t *l, int64_t now_ms);
/* Takes a PubAck, or an Error answering one of our publishes. Returns 1 if
 * the frame was ours, else 0. */
int publish_on_frame(publish_t *p, const Liaison__Envelope *env, int64_t now_ms);
/* Removes what the broker has settled, in one synced transaction. */
void publish_settle(publish_t *p);
/* Messages sent and not yet answered. */
size_t publish_in_flight(const publish_t *p);
/* Milliseconds until a pause ends (-1 when not paused). */
int64_t publish_due_in(const publish_t *p, int64_t now_ms);

/* Since start: PubAcks (duplicates included), refusals for good, and
 * deferrals (a transient refusal: the outbox sends again later). */
void publish_counts(const publish_t *p, uint64_t *acked, uint64_t *refused, uint64_t *deferred);

#endif
