/* outbox.h — the agent's own durable state, one LMDB environment in
 * data_dir: the outbox (every message to publish, in order, until the
 * broker's PubAck), the msg_ids it has taken (so a spool file seen again
 * after a crash is not published twice), and per subscription the
 * sequences its sink has already written (so a redelivery is acked, not
 * written again). The only agent file that includes lmdb.h.
 * Not responsible for: where messages come from (spool.c), sending them
 * (publish.c), or sinks (sink.c). Every function logs its own LMDB failure.
 *
 * One process at a time: outbox_open takes an exclusive lock on
 * data_dir/agent.lock, so two agents sharing a data_dir cannot both publish
 * the same outbox. */
#ifndef LIAISON_OUTBOX_H
#define LIAISON_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef struct outbox outbox_t;

enum outbox_rc {
    OUTBOX_OK = 0,
    OUTBOX_ERR = -1,     /* I/O or internal error: the transaction is abandoned */
    OUTBOX_FULL = -2,    /* the map is full: nothing in the transaction is kept */
    OUTBOX_KNOWN = 1,    /* this msg_id was taken before, with the same digest */
    OUTBOX_CONFLICT = 2, /* this msg_id was taken before for different content */
    OUTBOX_NOTFOUND = 3,
};

/* Default map size: the most the outbox can hold while the broker is away. */
#define OUTBOX_MAP_MB 1024u
/* Sequences remembered per subscription: enough to recognise any
 * redelivery the broker can still make (its window of unacked messages is
 * far smaller), small enough to stay a few hundred KiB. */
#define OUTBOX_WRITTEN_KEEP 8192u

/* Opens (creating) the store in dir with a map of map_mb MiB. Returns NULL
 * with a reason in err (dir unusable, another agent holds the lock, a newer
 * schema...). Caller owns; outbox_close. */
outbox_t *outbox_open(const char *dir, unsigned map_mb, char *err, size_t errlen);
void outbox_close(outbox_t **o);

/* ---- taking messages --------------------------------------------------------
 * begin / add... / commit, so that what one spool file yields is taken
 * whole or not at all. add needs m->msg_id set; digest names the content
 * (a different message under a known msg_id is a CONFLICT); source is the
 * spool file name (or "") kept with the entry for reporting a refusal.
 * add returns OK, KNOWN or CONFLICT (nothing added, the transaction stays
 * usable), or ERR / FULL (the transaction is abandoned: do not commit).
 * commit returns OK after the data is synced to disk, or ERR / FULL. */
int outbox_begin(outbox_t *o);
int outbox_add(outbox_t *o, const Liaison__Intel *m, const uint8_t digest[32], const char *source);
int outbox_commit(outbox_t *o);
void outbox_abort(outbox_t *o);

/* ---- sending, in order ------------------------------------------------------ */
typedef struct outbox_entry {
    uint64_t id;       /* local order, increasing */
    Liaison__Intel *m; /* caller owns; wire_intel_free */
    char *source;      /* caller owns; free(); "" when not from a spool file */
} outbox_entry_t;

/* The first entry with id > after: OK (fills e), NOTFOUND, or ERR. An
 * entry that does not decode is logged, removed and skipped. */
int outbox_next(outbox_t *o, uint64_t after, outbox_entry_t *e);
void outbox_entry_clear(outbox_entry_t *e);
/* Removes entries (PubAcked, or refused for good) in one synced
 * transaction. Ids not present are ignored. Returns OK or ERR. */
int outbox_remove(outbox_t *o, const uint64_t *ids, size_t n);
/* The broker refused entry id for good: removes it and forgets its msg_id,
 * so the same file dropped again after the cause is fixed is published
 * rather than taken for a duplicate. Returns OK or ERR. */
int outbox_refused(outbox_t *o, uint64_t id, const char *msg_id);
/* Entries waiting. */
uint64_t outbox_count(outbox_t *o);
/* When the oldest entry waiting was taken (microseconds since the epoch),
 * 0 when none waits: an agency alerts on a stuck outbox by its age. */
int64_t outbox_oldest_us(outbox_t *o);
/* Forgets taken msg_ids older than cutoff_us whose entries have left the
 * outbox. Returns the number forgotten, or -1. */
long outbox_forget_ids(outbox_t *o, int64_t cutoff_us);

/* ---- what sinks have written -------------------------------------------------
 * has: 1 if seq is recorded as written for subscription `sub`, 0 if not,
 * -1 on error. add: records seqs in one synced transaction, keeping the
 * newest OUTBOX_WRITTEN_KEEP per subscription; OK or ERR. forget: drops
 * every record of `sub` above seq (a broker whose store was reset reuses
 * sequence numbers); OK or ERR. */
int outbox_written_has(outbox_t *o, const char *sub, uint64_t seq);
int outbox_written_add(outbox_t *o, const char *sub, const uint64_t *seqs, size_t n);
int outbox_written_forget_above(outbox_t *o, const char *sub, uint64_t seq);

#endif
