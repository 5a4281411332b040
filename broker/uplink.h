/* uplink.h — this broker as an agent of the broker above it (federation;
 * DESIGN.md "Federation — the tiers"). One link per `uplinks` entry of
 * broker.cfg, a non-blocking client connection (common/link.c) polled by
 * the loop beside the ROUTER:
 *   - forward: a durable cursor over this broker's store. Each message on
 *     the forward patterns that the link's clearance and caveats allow
 *     (policy_receive with the uplink as the receiver: no_onward_sharing
 *     stays home, a release_to naming only this broker's agents stays
 *     home) is published up, its label unchanged and its route stamped,
 *     with a "bridge" disclosure record in the same batch; the cursor moves
 *     when the upstream acknowledges. It survives restarts and outages and
 *     catches up on reconnect (the upstream drops repeats by route).
 *   - receive: a durable subscription on the upstream for the receive
 *     patterns; what it delivers is ingested here (ingest_from_uplink) and
 *     acked once it is on disk.
 * Not responsible for: the wire client (link.c), storing (ingest.c) or the
 * rule (policy.c). */
#ifndef LIAISON_UPLINK_H
#define LIAISON_UPLINK_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

/* Uplinks one broker may have (the config refuses more). */
#define UPLINKS_MAX 16

/* Starts every configured uplink connecting (never waits). */
void uplinks_start(broker_t *b);
void uplinks_stop(broker_t *b);

/* The loop's poll set: fills up to max items (each link's socket and its
 * monitor) and returns how many. */
size_t uplinks_poll_items(broker_t *b, void *items, size_t max);
/* After the poll: reads what each link has, follows its state (up, lost,
 * refused: reconnect with backoff), ingests deliveries, and settles the
 * forwards the upstream answered. */
void uplinks_dispatch(broker_t *b, int64_t now_ms);
/* Before the loop sleeps: plans forwards of committed messages into the
 * open batch and writes the cursors that moved. */
void uplinks_plan(broker_t *b, int64_t now_ms);
/* How long the loop may sleep before an uplink needs it (ms). */
int uplinks_timeout_ms(broker_t *b, int64_t now_ms);

/* An Ack to the upstream for its delivery seq on sub, sent when the open
 * batch is on disk. */
void uplink_ack_later(broker_t *b, int uplink, uint32_t sub, uint64_t seq);
/* commit.c: a released batch's frame for uplink number `uplink`, gathered
 * with the release's others when the upstream reads batches; uplinks_flush
 * sends what was gathered, at the end of the release. */
void uplink_send(broker_t *b, int uplink, const void *data, size_t len);
void uplinks_flush(broker_t *b);
/* commit.c: the uncommitted batches were refused; forwards planned in them
 * are planned again. */
void uplinks_rollback(broker_t *b);

/* What one uplink is doing, for the views and metrics. */
struct uplink_info {
    const char *name, *broker, *state, *why; /* borrowed until the next pass */
    int up;
    uint64_t floor, lag, in_flight, forwarded, refused, loops, received, connects, losses;
};
size_t uplinks_count(const broker_t *b);
void uplink_info(const broker_t *b, size_t i, struct uplink_info *out);

/* The links view (operators): one JSON object per uplink, and one per
 * connected downstream broker, as a document (caller frees with
 * json_doc_free) or its text (caller frees). */
struct json_doc;
struct json_doc *uplinks_doc(broker_t *b);
char *uplinks_view_json(broker_t *b);

#endif
