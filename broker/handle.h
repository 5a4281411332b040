/* handle.h — one frame from a client: who sent it (User-Id only), decoding,
 * and the handler for each Envelope kind (replies are packed by reply.c).
 * Not responsible for: the message path after acceptance (ingest.c, fanout.c) or
 * access decisions (policy.c). */
#ifndef LIAISON_HANDLE_H
#define LIAISON_HANDLE_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

/* Handles one two-part ROUTER message: the routing id and the payload.
 * user_id is the frame's User-Id property and key_z85 its X-Key (the key
 * the connection authenticated with, set by auth.c). Never fails: bad input gets an
 * Error reply and a log line. */
void handle_frame(broker_t *b, const uint8_t *rid, size_t rid_len, const char *user_id,
                  const char *key_z85, const void *data, size_t len);

/* A frame refused before decoding (a multipart message): answered with
 * BAD_FRAME, corr_id 0, on the sender's session. */
void handle_bad_frame(broker_t *b, const uint8_t *rid, size_t rid_len, const char *user_id,
                      const char *key_z85, const char *why);

#endif
