/* reply.h — packing and sending the broker's replies, below both the
 * handlers and the pipeline: at once (a refusal, a Welcome) or waiting on
 * the open batch (a reply whose consultation record is in it, sent only
 * once that record is on disk).
 * Not responsible for: deciding what to reply (handle.c, ingest.c) or
 * ending batches (commit.c). */
#ifndef LIAISON_REPLY_H
#define LIAISON_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

/* Packs and sends env to s now (never blocking); a full or gone peer is
 * logged. */
void reply_send(broker_t *b, session_t *s, const Liaison__Envelope *env);
/* Sends Error{code, message, msg_id} echoing corr_id, now. */
void reply_error(broker_t *b, session_t *s, uint64_t corr_id, Liaison__ErrorCode code,
                 const char *msg_id, const char *message);
/* The same, naming the stored message it concerns (Error.seq). */
void reply_error_seq(broker_t *b, session_t *s, uint64_t corr_id, Liaison__ErrorCode code,
                     uint64_t seq, const char *message);
/* The same two for a peer known by its routing id (it may have gone: then
 * nothing is sent). */
void reply_error_to(broker_t *b, const uint8_t *rid, size_t rid_len, uint64_t corr_id,
                    Liaison__ErrorCode code, const char *msg_id, const char *message);
/* A PubAck is gathered with its commit's other frames (session_gather):
 * sessions_flush sends it. */
void reply_puback_to(broker_t *b, const uint8_t *rid, size_t rid_len, uint64_t corr_id,
                     uint64_t seq, const char *msg_id, int duplicate);
/* A refused request: answered now, and recorded as action refused with
 * the code (aggregated: a flood is one record a minute). */
void reply_refuse(broker_t *b, session_t *s, uint64_t corr_id, const char *action,
                  Liaison__ErrorCode code, const char *why);
/* Packs env into the open batch, to be sent when it commits (or replaced by
 * a STORE_FAILED Error if it fails). */
void reply_later(broker_t *b, session_t *s, const Liaison__Envelope *env);

#endif
