/* retention.h — erasing stored messages by the rules in broker.cfg: per
 * topic pattern by age, count and size, and by the MoPI review date; in
 * bounded passes from the loop, each erasure audited with metadata only.
 * Not responsible for: what the rules are (config.c) or the audit chain
 * (audit.c). */
#ifndef LIAISON_RETENTION_H
#define LIAISON_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "batch.h"
#include "config.h"
#include "store.h"
#include "wire.h"

typedef struct retention retention_t;

retention_t *retention_new(void);
void retention_free(retention_t **r);

/* Counts messages and bytes per rule by reading the store (at start, after
 * a reload, after a failed batch). Only rules with count or size limits
 * need it; it reads nothing when none has. Returns 0 or -1. */
int retention_recount(retention_t *r, store_t *st, const config_t *cfg);
/* Asks for a recount before the next pass (rules or state changed). */
void retention_invalidate(retention_t *r);

/* A message was committed: adds it to its rule's totals. */
void retention_note(retention_t *r, const config_t *cfg, const Liaison__Intel *m, size_t len);

/* Bounds the next pass's erasures to max_erase (at least 1) below its own
 * bound: each writes a record, and a store short of room has little. */
void retention_limit(retention_t *r, int max_erase);

/* One bounded pass: erases into bt what the rules say must go (read from
 * the committed store), with an audit record for each. Returns how many
 * were erased, or -1 when bt has failed. With index_key (the subject key,
 * or NULL when the index is off) a message's index entries go with it.
 * The caller must not run a pass
 * while erasures of an earlier one are still uncommitted: the store would
 * still show their messages. */
int retention_pass(retention_t *r, store_t *st, const config_t *cfg, audit_t *audit,
                   const uint8_t *index_key, batch_t *bt, int64_t now_us);

#endif
