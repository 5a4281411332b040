/* audit.h — the broker's tamper-evident audit trail (DESIGN.md "Audit";
 * DPA 2018 s.62 logging): append-only records in the store, each holding
 * the hash (BLAKE2b-256 in format 2; SHA-256 before) of the previous
 * record's stored bytes, written into the same store batch as the action
 * they record, with Ed25519-signed checkpoints of
 * the chain head. Also reading (tail, export) and offline verification.
 * Records never carry a body or subjects: a message is named by its
 * sequence and a digest.
 * Not responsible for: deciding what happened (callers say so). */
#ifndef LIAISON_AUDIT_H
#define LIAISON_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "store.h"
#include "wire.h"

typedef struct audit audit_t;

/* One event. Strings are borrowed for the call; NULL means "". */
struct audit_event {
    const char *actor;     /* who acted: agent name, "broker", a key */
    const char *action;    /* publish, deliver, notice, withhold, replay, ... */
    const char *recipient; /* for disclosures and refusals of a delivery */
    const char *outcome;   /* "ok" or "refused" */
    const char *reason;    /* rule name or error code */
    const char *topic;
    uint64_t msg_seq;
    const uint8_t *digest; /* 32 bytes, or NULL */
    /* Subject queries: the blind-index tokens asked about (at most
     * AUDIT_MAX_TOKENS), and how many results and hits were answered. */
    const uint8_t (*tokens)[32];
    size_t n_tokens;
    uint32_t results, hits;
};
#define AUDIT_MAX_TOKENS 64

/* Opens the trail on st, continuing its chain. seed (32 bytes, or NULL
 * for unsigned checkpoints) signs a checkpoint every `every` records or
 * `every_s` seconds with new records. NULL with err on failure. */
audit_t *audit_open(store_t *st, const uint8_t *seed, unsigned every, unsigned every_s, char *err,
                    size_t errlen);
void audit_close(audit_t **a);
/* Changes the checkpoint spacing (reload). */
void audit_set_spacing(audit_t *a, unsigned every, unsigned every_s);

/* Appends one record to the batch bt, extending the chain head held in
 * memory; it is on disk when bt commits. STORE_OK, or bt's failure (bt
 * has failed: nothing is added). */
int audit_append(audit_t *a, batch_t *bt, const struct audit_event *ev);
/* The same for count identical events summed up by the caller (a replay's
 * withheld messages: one record with the count and the range). */
int audit_append_count(audit_t *a, batch_t *bt, const struct audit_event *ev, uint32_t count);

/* An event about one message that a pass may have many of (a collection:
 * publish, receive; a disclosure: deliver, redeliver, notice; ev with
 * msg_seq and digest, outcome "ok"), gathered with the others of bt to the
 * same actor and recipient with the same action, reason and topic into
 * one record: written by audit_gather_end, which commit_submit calls
 * before bt is handed on, or at once when its run reaches 128. *hint is
 * the caller's (0 at first) and finds the run again without a search.
 * STORE_OK, or bt's failure. */
int audit_gather(audit_t *a, batch_t *bt, const struct audit_event *ev, uint64_t *hint);
/* A record for each run gathered, into bt. STORE_OK, or bt's failure. */
int audit_gather_end(audit_t *a, batch_t *bt);
/* About what the gathered runs will take in the store, for room.c. */
uint64_t audit_gather_bytes(const audit_t *a);

/* For events a hostile peer can repeat at will (refused handshakes and
 * publishes, status polling): the first in a minute is recorded at once,
 * identical ones (same actor, action, outcome, reason and topic) are counted
 * and written as one record with their count when the minute ends, or at
 * stop. Memory is bounded: past
 * 256 distinct keys, further ones share one catch-all record. */
int audit_append_repeatable(audit_t *a, batch_t *bt, const struct audit_event *ev, int64_t now_ms);

/* Before sleep: writes due aggregates and, when due, a signed checkpoint,
 * into bt. */
void audit_tick(audit_t *a, batch_t *bt, int64_t now_ms);

/* Start and stop: a checkpoint of the head now, if it moved since the last,
 * so a stopped broker's trail is signed to its end. */
void audit_checkpoint_now(audit_t *a, batch_t *bt);
/* Stopping: writes every aggregate's count into bt now. */
void audit_flush(audit_t *a, batch_t *bt);

/* A batch committed: its records are the committed head now. */
void audit_committed(audit_t *a, const batch_t *bt);
/* The batches not yet committed were refused: the chain goes on from the
 * committed head, and what was gathered for them is dropped. */
void audit_rollback(audit_t *a);

/* The digest of data for audit_event.digest: BLAKE2b-256 (format 2). */
void audit_digest(const void *data, size_t len, uint8_t out[32]);

/* Records in (after_seq, ...] matching the request's filters (and, when
 * token is not NULL, holding that subject token), at most limit
 * (newest: the last `limit` matching ones). Caller owns *out (free each with
 * wire_audit_record_free and the array with free). Returns the store's rc;
 * *more is set when more match. */
int audit_query(store_t *st, const Liaison__AuditRequest *req, const uint8_t *token,
                Liaison__AuditRecord ***out, size_t *n, int *more);

/* Offline check of the whole chain and its checkpoints. pub (32 bytes, or
 * NULL to skip signature checks) is the checkpoint key's public half. With
 * it, the trail must also be signed: at least one checkpoint, checkpoints
 * chained one to the next, and no unsigned tail longer than the spacing
 * the last one states (a live broker's short tail is reported, not
 * refused). Returns 0 when intact, 1 when broken (report says where and
 * why), -1 when the store cannot be read. */
struct audit_report {
    uint64_t records, checkpoints, last_seq;
    uint64_t unsigned_tail; /* records after the last checkpoint */
    uint32_t spacing;       /* the spacing the last checkpoint states (0: unknown) */
    uint64_t broken_seq;    /* first record found broken, 0 if none */
    /* Stored messages checked against the digest their collection record
     * holds, and those gone since (erased). */
    uint64_t messages_checked, messages_gone;
    char why[256];
};
int audit_verify(store_t *st, const uint8_t *pub, struct audit_report *report);

#endif
