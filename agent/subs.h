/* subs.h — the agent's subscriptions: subscribing on every connection
 * (with the watchlist and filter agent.cfg gives; a refusal is logged and
 * tried again on the next connection or SIGHUP), each delivery into its
 * sink in sequence order, the record of what each sink has written, the
 * Ack after that record is on disk, and the Nack (with a retry later,
 * after a backoff) when the sink fails.
 *
 * The promise: a delivery is acked only after its sink has it durably and
 * the agent has recorded its sequence, so a crash means a redelivery,
 * never a loss; and a redelivery of a sequence already recorded (or whose
 * file a dir: sink already holds) is acked without being written again.
 * The record is a set of recent sequences per subscription, not a high-water
 * mark, because the broker redelivers a nacked message after later ones.
 * Not responsible for: the connection (agent.c), how a sink writes
 * (sink.c), or the JSON mapping (json.c). */
#ifndef LIAISON_SUBS_H
#define LIAISON_SUBS_H

#include <stddef.h>
#include <stdint.h>

#include "client_config.h"
#include "link.h"
#include "outbox.h"

/* Deliveries the agent asks the broker to keep in flight per subscription. */
#define SUBS_CREDIT 32
/* Sink retries: the first after this, doubling up to the cap. */
#define SUBS_RETRY_BASE_MS 1000
#define SUBS_RETRY_CAP_MS  30000

typedef struct subs subs_t;

/* One per agent.cfg subscription, with its sink (dir: sinks' directories
 * are created here). store is borrowed for the life of subs. Returns NULL
 * with a reason in err. Caller owns. */
subs_t *subs_new(const client_config_t *cfg, outbox_t *store, char *err, size_t errlen);
/* Kills sink commands still running. */
void subs_free(subs_t **s);

/* A new connection: subscribes everything. broker_last_seq is from
 * Welcome; records of sequences above it are dropped (the broker's store
 * was reset, and its numbers will come again for different messages). */
void subs_connected(subs_t *s, link_t *l, uint64_t broker_last_seq);
/* The connection is gone: deliveries not yet written are forgotten (the
 * broker keeps them for a durable subscription). A sink command still
 * running finishes, and what it wrote is recorded. */
void subs_disconnected(subs_t *s);
/* Takes a Deliver, or the SubAck or Error answering one of our Subscribes.
 * Returns 1 if the frame was ours, else 0. */
int subs_on_frame(subs_t *s, link_t *l, const Liaison__Envelope *env);
/* Moves waiting deliveries into sinks, checks running commands, records and
 * acks what was written. l may be NULL while disconnected. Returns ms until
 * it next needs to run (-1: only when something arrives). */
int64_t subs_run(subs_t *s, link_t *l, int64_t now_ms);

/* SIGHUP: applies cfg's subscriptions. Unchanged ones keep running;
 * removed or changed ones (pattern, sink, durable, subjects, where) are
 * unsubscribed; new ones are subscribed when connected; refused ones are
 * tried again. On a bad new sink nothing changes: returns -1 with err. */
int subs_reload(subs_t *s, link_t *l, const client_config_t *cfg, char *err, size_t errlen);

/* 1 while a sink command is running. */
int subs_busy(const subs_t *s);
/* Stops taking deliveries (drain): what arrives is left unacked for the
 * broker to deliver again. */
void subs_stop(subs_t *s);
/* Kills running sink commands; what they did is not recorded. */
void subs_cancel(subs_t *s);

/* Calls fn for each configured subscription: its name, its sink, whether
 * it is subscribed now, and how many deliveries its sink wrote and failed
 * since start (for the agent's metrics). */
typedef void (*subs_each_fn)(const char *name, const char *sink, int active, uint64_t written,
                             uint64_t failed, void *ctx);
void subs_each(const subs_t *s, subs_each_fn fn, void *ctx);

#endif
