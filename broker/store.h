/* store.h — the broker's durable store: one LMDB environment in data_dir
 * holding the messages by sequence number (the store is the queue), and a
 * meta database with the schema version. The only module that includes
 * lmdb.h. Every function reports LMDB failures itself (one log line).
 *
 * Writes are batched: each loop pass records its writes in a write set
 * (batch.c owns it) and the committer thread applies it with store_commit,
 * which returns only after LMDB has synced to disk, so "acked" means "on
 * disk". Reads are snapshots of what has committed.
 * Not responsible for: deciding what to store (ingest.c) or who may read
 * it (policy.c). */
#ifndef LIAISON_STORE_H
#define LIAISON_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

enum store_rc {
    STORE_OK = 0,
    STORE_ERR = -1,  /* I/O or internal error: the write set is not stored */
    STORE_FULL = -2, /* the map is full: the write set is not stored, nothing else lost */
    STORE_NOTFOUND = 1,
};

struct store_stat {
    uint64_t first_seq; /* 0 when empty */
    uint64_t last_seq;  /* 0 when empty */
    uint64_t messages;
    uint64_t map_bytes;                      /* configured map size */
    uint64_t used_bytes;                     /* pages in use * page size */
    uint64_t subject_entries, subject_bytes; /* the subject index: entries, and its pages */
};

/* Databases in the environment (DESIGN.md "Store"):
 *   messages   seq -> packed Intel (the stored form, as delivered)
 *   times      received time + seq -> (nothing): replay by time
 *   dedup_log  seq -> time + dedup key: publish dedup, in sequence order
 *              (an older store's "dedup", key -> seq + time, moves into it)
 *   cursors    "agent/durable" -> acked floor + pattern: durable subscriptions
 *   deadletters seq + "agent/durable" -> reason: messages past max_deliver
 *   audit      audit seq -> packed AuditRecord (hash-chained by audit.c)
 *   checkpoints audit seq -> packed AuditCheckpoint
 *   subject_buckets  bucket of the seq + subject token + seq -> (nothing): the
 *              blind subject index (an older store's "subjects", token + seq,
 *              moves into it)
 *   hits       agent + 0x1f + msg seq + time -> packed HitNotice waiting for it
 *   meta       "schema" -> version, "last_seq" -> high-water mark,
 *              "owner" -> the public key of the broker the store belongs to,
 *              "index_key" -> the id of the subject key the index was written with,
 *              "epoch" -> a random number drawn when the store was made
 */

/* Opens (creating) the store in dir with a map of map_size_mb MiB.
 * Returns NULL with a reason in err on failure (unreadable dir, a newer
 * schema, a map too small for the existing data...). Caller owns. */
store_t *store_open(const char *dir, unsigned map_size_mb, char *err, size_t errlen);
/* Opens an existing store read-only, for offline tools (audit verify) that
 * may run beside a live broker. Writes on it fail. */
store_t *store_open_readonly(const char *dir, char *err, size_t errlen);
void store_close(store_t **s);
/* Binds the store to the broker with public key key. A store that records
 * another owner is refused (err names both keys) unless adopt, which makes
 * key its owner and gives the previous one in prev (prev_set = 1). A store
 * no broker ever started on (no owner, no audit record) is refused when
 * expect_store, and written nothing, so a later start refuses it too.
 * A store made before owners were recorded is claimed. Returns 0 or -1.
 * Called once at start, before the committer runs. */
int store_claim(store_t *s, const uint8_t key[32], int expect_store, int adopt, uint8_t prev[32],
                int *prev_set, char *err, size_t errlen);
/* 1 if dir holds a store whose broker never completed its first start (an
 * empty data.mdb, or one without its databases: a power cut during that
 * start). Nothing in it was ever acknowledged. */
int store_never_started(const char *dir);

/* The number drawn when the store was made (0 for a store made before
 * stores had one): with a broker's name and a sequence, it names one
 * message for good, even across a store rebuilt from nothing. */
uint64_t store_epoch(const store_t *s);

/* The highest committed sequence (0 when empty). Safe from any thread. */
uint64_t store_last_seq(const store_t *s);

/* Writes are made as a write set: the operations of one batch, recorded as
 * plain bytes on the loop thread and applied in one LMDB write transaction
 * by store_commit, which may run on another thread (LMDB ties a write
 * transaction to the thread that began it, so the loop never holds one).
 * A write set is not thread-safe: one thread at a time. */
typedef struct store_wset store_wset_t;
store_wset_t *store_wset_new(void);
void store_wset_free(store_wset_t **w);
/* Empties it for reuse (keeps its memory). */
void store_wset_clear(store_wset_t *w);
size_t store_wset_count(const store_wset_t *w);
/* An over-estimate of the map bytes applying it may take. */
size_t store_wset_estimate(const store_wset_t *w);
/* The dedup key of a publisher's msg_id: origin, 0x1f and msg_id as text
 * while that is at most STORE_DEDUP_TEXT bytes; a longer one is its first
 * STORE_DEDUP_TEXT bytes, a NUL (which text never holds) and a BLAKE2b-256
 * of the whole. So two msg_ids never share a key however long they are
 * (the key used to be the text cut at LMDB's 511-byte limit: msg_ids
 * sharing their first ~500 bytes collided). */
#define STORE_DEDUP_TEXT 400
#define STORE_DEDUP_KEY  (STORE_DEDUP_TEXT + 1 + 32)
struct store_dkey {
    uint8_t b[STORE_DEDUP_KEY];
    size_t len;
};
void store_dedup_key(const char *origin, const char *msg_id, struct store_dkey *key);

/* A message of len bytes under seq (seqs must rise within and across write
 * sets: they are appended), indexed by time_us, and its dedup key in the
 * dedup log unless dedup_key is NULL. Returns the offset of len bytes the caller
 * fills with the message (valid until the next call on w: see store_wset_data). */
size_t store_wset_msg(store_wset_t *w, uint64_t seq, int64_t time_us, size_t len,
                      const struct store_dkey *dedup_key);
/* The bytes at off, valid until the write set next grows. */
const uint8_t *store_wset_data(const store_wset_t *w, size_t off);
/* Audit records and checkpoints (audit.c), by audit sequence. */
void store_wset_audit(store_wset_t *w, uint64_t aseq, const void *data, size_t len);
void store_wset_checkpoint(store_wset_t *w, uint64_t aseq, const void *data, size_t len);
/* What a durable cursor remembers beyond its acked floor: the highest
 * sequence its subscription had considered, and the deliveries at or below
 * it still unacked, with their attempts. Everything else in (floor, hi] was
 * acked (or was not for it). */
struct store_pending {
    uint64_t seq;
    uint32_t attempts;
};
struct store_cursor_ext {
    uint64_t hi;
    uint32_t n;
    struct store_pending *v;
};
/* A durable cursor: "agent/durable" -> acked floor, pattern and (ext, may
 * be NULL) the unacked set above the floor. */
void store_wset_cursor(store_wset_t *w, const char *name, uint64_t acked_floor, const char *pattern,
                       const struct store_cursor_ext *ext);
/* Removes a durable cursor (an operator's or its agent's delete); one
 * that is gone already is fine. Applied in order with the other writes of
 * the set, so it wins over a cursor write before it in the same set. */
void store_wset_cursor_del(store_wset_t *w, const char *name);
/* A dead letter set aside, or removed (removing one that is gone is fine). */
void store_wset_deadletter(store_wset_t *w, uint64_t seq, const char *name, const char *reason);
void store_wset_deadletter_del(store_wset_t *w, uint64_t seq, const char *name);
/* Erases a message (retention): its record, time entry and dedup log
 * entry. Erasing one already gone is fine. */
void store_wset_purge(store_wset_t *w, uint64_t seq, int64_t time_us);

/* The subject index: a message under seq is about the subject whose
 * blind-index token (subject.c) is token; del removes the entry. */
#define STORE_TOKEN_BYTES 32
void store_wset_subject(store_wset_t *w, const uint8_t token[STORE_TOKEN_BYTES], uint64_t seq,
                        int del);
/* A hit notice (a packed HitNotice) waiting for agent, about msg_seq at
 * time_us; data NULL removes it. */
#define STORE_HIT_KEY 96
void store_wset_hit(store_wset_t *w, const char *agent, uint64_t msg_seq, int64_t time_us,
                    const void *data, size_t len);

/* Applies w in one write transaction and syncs it to disk. All or nothing:
 * STORE_OK (on disk), STORE_FULL (the map is full: nothing of w stored,
 * nothing else lost), or STORE_ERR (an I/O or internal error: nothing of w
 * stored, and the caller must stop — after a failed sync the kernel may
 * have dropped dirty pages, so a retry could report success falsely).
 * Call from one thread at a time. */
int store_commit(store_t *s, const store_wset_t *w);
/* Between commits (the committer, while idle): writes one chunk of zeros
 * past the end of data.mdb when the file holds less than a few MiB past
 * LMDB's last page (store.c says why). 1 when it wrote one (call again
 * while idle), 0 when there is nothing to do or it is off. Never fails a
 * commit: an error turns it off. */
int store_grow(store_t *s);

/* Bytes the map can still take (unused map plus LMDB's free pages), as of
 * the last store_room_update; any thread. update reads it from LMDB (the
 * committer calls it after each commit). */
uint64_t store_room(const store_t *s);
void store_room_update(store_t *s);
uint64_t store_map_bytes(const store_t *s);
/* The largest value that takes a page of its own and no more: a longer one
 * goes on to a second page, mostly empty (LMDB keeps a value of over about
 * half a page on pages of its own, whole ones). */
size_t store_page_fit(const store_t *s);

/* Durable cursors: reads the committed state; pattern receives the stored
 * pattern (NUL-terminated, truncated to plen); ext (may be NULL) what it
 * remembers above the floor (ext->v is the caller's to free; hi 0 when
 * nothing). */
int store_cursor_get(store_t *s, const char *name, uint64_t *acked_floor, char *pattern,
                     size_t plen, struct store_cursor_ext *ext);

/* Durable cursors: calls fn for each ("agent/durable", acked floor,
 * pattern), at most limit. STORE_OK or STORE_ERR. */
typedef void (*store_cursor_fn)(const char *name, uint64_t floor, const char *pattern, void *ctx);
int store_cursors(store_t *s, size_t limit, store_cursor_fn fn, void *ctx);

/* Dead letters: calls fn for each (in sequence order, at most limit). */
typedef void (*store_dead_fn)(uint64_t seq, const char *durable, const char *reason, void *ctx);
int store_deadletters(store_t *s, size_t limit, store_dead_fn fn, void *ctx);
/* STORE_OK if that dead letter is stored, STORE_NOTFOUND, or STORE_ERR. */
int store_deadletter_get(store_t *s, uint64_t seq, const char *durable);

/* The first sequence received at or after since_us: STORE_OK (sets *seq),
 * STORE_NOTFOUND when nothing that recent is stored. */
int store_seq_at_time(store_t *s, int64_t since_us, uint64_t *seq);

/* Reading. A reader is a read-only snapshot; data returned by get/next
 * points into the map and stays valid until store_read_end. Readers must be
 * short-lived: end one before the loop sleeps. */
typedef struct store_read store_read_t;
store_read_t *store_read_begin(store_t *s);
void store_read_end(store_read_t **r);
/* STORE_OK if the dedup log holds key under seq, stored at or after
 * min_time_us; STORE_NOTFOUND if it holds anything else there or nothing
 * (an erased message's entry goes with it), or STORE_ERR. The log is in
 * sequence order: which seq to ask about is the dedup index's answer
 * (seen.h), kept in memory. */
int store_read_dedup(store_read_t *r, uint64_t seq, const struct store_dkey *key,
                     int64_t min_time_us);
/* Calls fn with every entry of the dedup log from from_seq on that was
 * stored at or after min_time_us, in sequence order, and returns how many,
 * or -1 when the log cannot be read (fn NULL: the count of all entries,
 * which LMDB keeps). For the dedup index (seen.h). */
typedef void (*store_dkey_fn)(uint64_t seq, const void *key, size_t len, void *ctx);
long store_dedup_keys(store_t *s, uint64_t from_seq, int64_t min_time_us, store_dkey_fn fn,
                      void *ctx);
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

/* The first sequence >= from indexed under token: STORE_OK (sets *seq),
 * STORE_NOTFOUND, or STORE_ERR. */
int store_read_subject(store_read_t *r, const uint8_t token[STORE_TOKEN_BYTES], uint64_t from,
                       uint64_t *seq);
/* Hit notices waiting for agent, oldest first, at most limit. */
typedef void (*store_hit_fn)(uint64_t msg_seq, int64_t time_us, const void *data, size_t len,
                             void *ctx);
int store_hits(store_t *s, const char *agent, size_t limit, store_hit_fn fn, void *ctx);
/* The id of the subject key the index was written with: STORE_OK,
 * STORE_NOTFOUND (no index yet, or it was switched off), STORE_ERR. */
int store_index_key(store_t *s, uint8_t id[32]);
/* Records id as the index's key (NULL: none), emptying the index first when
 * clear. At start and in --reindex, before the committer runs. */
int store_index_reset(store_t *s, const uint8_t *id, int clear);

/* Counts and sizes, for status and metrics. Returns STORE_OK or STORE_ERR. */
int store_stat(store_t *s, struct store_stat *st);

#endif
