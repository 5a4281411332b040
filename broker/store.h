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
    uint64_t first_seq;  /* 0 when empty */
    uint64_t last_seq;   /* 0 when empty */
    uint64_t messages;
    uint64_t map_bytes;  /* configured map size */
    uint64_t used_bytes; /* pages in use * page size */
};

/* Opens (creating) the store in dir with a map of map_size_mb MiB.
 * Returns NULL with a reason in err on failure (unreadable dir, a newer
 * schema, a map too small for the existing data...). Caller owns. */
store_t *store_open(const char *dir, unsigned map_size_mb, char *err, size_t errlen);
void store_close(store_t **s);

/* The highest committed sequence (0 when empty) and the next sequence a put
 * in the open batch must use. */
uint64_t store_last_seq(const store_t *s);
uint64_t store_next_seq(const store_t *s);

/* Group commit. begin opens a write transaction (no-op if one is open);
 * put appends data under seq, which must equal store_next_seq(); commit
 * makes the whole batch durable. If put or commit fails, the batch is
 * abandoned: nothing in it is stored and store_next_seq() is back to
 * store_last_seq() + 1. Returns enum store_rc. */
int store_batch_begin(store_t *s);
int store_batch_put(store_t *s, uint64_t seq, const void *data, size_t len);
int store_batch_commit(store_t *s);
void store_batch_abort(store_t *s);
/* 1 while a batch is open. */
int store_batch_open(const store_t *s);

/* Reading. A reader is a read-only snapshot; data returned by get/next
 * points into the map and stays valid until store_read_end. Readers must be
 * short-lived: end one before the loop sleeps. */
typedef struct store_read store_read_t;
store_read_t *store_read_begin(store_t *s);
void store_read_end(store_read_t **r);
/* The message at seq: STORE_OK, STORE_NOTFOUND, or STORE_ERR. */
int store_read_get(store_read_t *r, uint64_t seq, const void **data, size_t *len);
/* The first message with sequence >= from: STORE_OK (sets *seq), STORE_NOTFOUND. */
int store_read_next(store_read_t *r, uint64_t from, uint64_t *seq, const void **data,
                    size_t *len);

/* Counts and sizes, for status and metrics. Returns STORE_OK or STORE_ERR. */
int store_stat(store_t *s, struct store_stat *st);

#endif
