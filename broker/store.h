/* store.h — the broker's durable store: one LMDB environment in data_dir
 * holding the messages by sequence number (the store is the queue), and a
 * meta database with the schema version. The only module that includes
 * lmdb.h. Every function reports LMDB failures itself (one log line).
 *
 * Writes are batched: the loop opens one batch per pass, puts every accepted
 * publish into it and commits once (group commit). A commit returns only
 * after LMDB has synced to disk, so "acked" means "on disk".
 * Not responsible for: deciding what to store (the router) or who may read
 * it (policy.c). */
#ifndef LIAISON_STORE_H
#define LIAISON_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

enum store_rc {
    STORE_OK = 0,
    STORE_ERR = -1,  /* I/O or internal error: the batch is not stored */
    STORE_FULL = -2, /* the map is full: the batch is not stored, nothing else lost */
    STORE_NOTFOUND = 1,
};

struct store_stat {
    uint64_t first_seq; /* 0 when empty */
    uint64_t last_seq;  /* 0 when empty */
    uint64_t messages;
    uint64_t map_bytes;  /* configured map size */
    uint64_t used_bytes; /* pages in use * page size */
};

/* Databases in the environment (DESIGN.md "Store"):
 *   messages   seq -> packed Intel (the stored form, as delivered)
 *   times      received time + seq -> (nothing): replay by time
 *   dedup      origin agent + 0x1f + msg_id -> seq + time: publish dedup
 *   cursors    "agent/durable" -> acked floor + pattern: durable subscriptions
 *   deadletters seq + "agent/durable" -> reason: messages past max_deliver
 *   audit      audit seq -> packed AuditRecord (hash-chained by audit.c)
 *   checkpoints audit seq -> packed AuditCheckpoint
 *   meta       "schema" -> version
 */

/* Opens (creating) the store in dir with a map of map_size_mb MiB.
 * Returns NULL with a reason in err on failure (unreadable dir, a newer
 * schema, a map too small for the existing data...). Caller owns. */
store_t *store_open(const char *dir, unsigned map_size_mb, char *err, size_t errlen);
/* Opens an existing store read-only, for offline tools (audit verify) that
 * may run beside a live broker. Writes on it fail. */
store_t *store_open_readonly(const char *dir, char *err, size_t errlen);
void store_close(store_t **s);

/* The highest committed sequence (0 when empty) and the next sequence a put
 * in the open batch must use. */
uint64_t store_last_seq(const store_t *s);
uint64_t store_next_seq(const store_t *s);

/* Group commit. begin opens a write transaction (no-op if one is open);
 * put appends data under seq, which must equal store_next_seq(), indexes
 * it by time_us, and records dedup_key -> seq unless dedup_key is NULL; commit
 * makes the whole batch durable. If put or commit fails, the batch is
 * abandoned: nothing in it is stored and store_next_seq() is back to
 * store_last_seq() + 1. Returns enum store_rc. */
int store_batch_begin(store_t *s);
int store_batch_put(store_t *s, uint64_t seq, int64_t time_us, const void *data, size_t len,
                    const char *dedup_key);
int store_batch_commit(store_t *s);
void store_batch_abort(store_t *s);
/* 1 while a batch is open. */
int store_batch_open(const store_t *s);
/* Why the last batch was abandoned (STORE_FULL or STORE_ERR), or STORE_OK. */
int store_batch_failure(const store_t *s);

/* The sequence stored under dedup_key at or after min_time_us, looking in
 * the open batch too (so a duplicate inside one pass is caught). STORE_OK
 * with *seq set, STORE_NOTFOUND, or STORE_ERR. */
int store_dedup_find(store_t *s, const char *dedup_key, int64_t min_time_us, uint64_t *seq);

/* Durable cursors. put writes into the open batch (opening one if needed),
 * so a cursor is durable when that batch commits. get reads the committed
 * state; pattern receives the stored pattern (NUL-terminated, truncated to
 * plen). */
int store_cursor_put(store_t *s, const char *name, uint64_t acked_floor, const char *pattern);
int store_cursor_get(store_t *s, const char *name, uint64_t *acked_floor, char *pattern,
                     size_t plen);

/* Records that seq exhausted its deliveries for a durable subscription;
 * written into the open batch. */
int store_deadletter_put(store_t *s, uint64_t seq, const char *name, const char *reason);

/* Audit trail records and checkpoints, written into the open batch (one is
 * begun if needed) so each shares the commit of the action it records. */
int store_audit_put(store_t *s, uint64_t aseq, const void *data, size_t len);
int store_checkpoint_put(store_t *s, uint64_t aseq, const void *data, size_t len);

/* Batches are numbered: store_batch_id is the number of the open (or last
 * opened) batch, store_committed_id the last one that committed. A module
 * that keeps state about its uncommitted writes (audit.c's chain head)
 * compares them to know whether its writes landed. */
uint64_t store_batch_id(const store_t *s);
uint64_t store_committed_id(const store_t *s);

/* Erases one message (retention): its record, its time index entry, and
 * its dedup entry when dedup_key is given; written into the open batch.
 * STORE_OK, STORE_NOTFOUND (already gone), or a failure rc. */
int store_purge(store_t *s, uint64_t seq, int64_t time_us, const char *dedup_key);

/* Durable cursors: calls fn for each ("agent/durable", acked floor,
 * pattern), at most limit. STORE_OK or STORE_ERR. */
typedef void (*store_cursor_fn)(const char *name, uint64_t floor, const char *pattern, void *ctx);
int store_cursors(store_t *s, size_t limit, store_cursor_fn fn, void *ctx);

/* Dead letters: calls fn for each (in sequence order, at most limit);
 * removes one (STORE_OK, STORE_NOTFOUND, or a failure rc; into the batch). */
typedef void (*store_dead_fn)(uint64_t seq, const char *durable, const char *reason, void *ctx);
int store_deadletters(store_t *s, size_t limit, store_dead_fn fn, void *ctx);
int store_deadletter_del(store_t *s, uint64_t seq, const char *durable);

/* The first sequence received at or after since_us: STORE_OK (sets *seq),
 * STORE_NOTFOUND when nothing that recent is stored. */
int store_seq_at_time(store_t *s, int64_t since_us, uint64_t *seq);

/* Reading. A reader is a read-only snapshot; data returned by get/next
 * points into the map and stays valid until store_read_end. Readers must be
 * short-lived: end one before the loop sleeps. */
typedef struct store_read store_read_t;
store_read_t *store_read_begin(store_t *s);
void store_read_end(store_read_t **r);
/* The message at seq: STORE_OK, STORE_NOTFOUND, or STORE_ERR. */
int store_read_get(store_read_t *r, uint64_t seq, const void **data, size_t *len);
/* The first message with sequence >= from: STORE_OK (sets *seq), STORE_NOTFOUND. */
int store_read_next(store_read_t *r, uint64_t from, uint64_t *seq, const void **data, size_t *len);

/* Seeks in one of the sequence-keyed databases: forward finds the first
 * key >= key, backward the last key <= key. STORE_OK (sets *found, *data,
 * *len — valid until store_read_end), STORE_NOTFOUND or STORE_ERR. */
enum store_db { STORE_DB_MESSAGES, STORE_DB_AUDIT, STORE_DB_CHECKPOINTS };
int store_read_seek(store_read_t *r, enum store_db db, uint64_t key, int backward, uint64_t *found,
                    const void **data, size_t *len);

/* Counts and sizes, for status and metrics. Returns STORE_OK or STORE_ERR. */
int store_stat(store_t *s, struct store_stat *st);

#endif
