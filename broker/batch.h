/* batch.h — one loop pass's batch, as LMDB builds a transaction: the
 * writes it will make (a store write set), everything that waits on them
 * (PubAcks, duplicate acks, planned Deliver frames, consultation replies),
 * the audit chain's head after its records, and a sticky failure: once a
 * batch has failed it stays failed, and everything added to it is refused
 * with it. Only commit.c ends a batch.
 * Not responsible for: what goes in (ingest.c, fanout.c, audit.c,
 * retention.c, the handlers) or committing it (commit.c). */
#ifndef LIAISON_BATCH_H
#define LIAISON_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "wire.h"

/* A publish stored by the batch and waiting for its PubAck. */
struct batch_pub {
    uint64_t seq, corr_id;
    size_t rid_off, rid_len;   /* in the batch's bytes */
    size_t msg_id_off;         /* NUL-terminated, in the batch's bytes */
    size_t dkey_off, dkey_len; /* the dedup key in the batch's bytes (len 0: none) */
    uint64_t dkey_hash;        /* its keyed hash, the dedup index's (seen_hash) */
    size_t data_off, len;      /* the stored bytes, in the write set */
    Liaison__Intel *intel;     /* owned: decoded once, for every routing decision */
    int intel_in_arena;        /* it lives in the batch's arena (else malloc'd) */
    uint8_t digest[32];        /* of the stored bytes, for the audit */
    size_t tokens_off;         /* its subjects' blind-index tokens, in the batch's bytes */
    uint32_t n_tokens;         /* (32 bytes each; 0 when the index is off) */
};

/* A frame that leaves only when the batch is durable, or a change to a
 * subscription's state that is undone if the batch fails (those send
 * nothing: what happened is put back, to be planned again). */
enum batch_frame_kind {
    BATCH_DELIVER,     /* a Deliver or notice: undone (redelivered later) if the batch fails */
    BATCH_REPLY,       /* a reply whose record is in the batch: an Error instead if it fails */
    BATCH_DUP_ACK,     /* a PubAck for a repeated publish: an Error instead if it fails */
    BATCH_NOTICE,      /* a frame to a third party (a hit notice): dropped if it fails */
    BATCH_UPLINK,      /* to uplink number sub_id (a forward, an ack): dropped if it fails */
    BATCH_REPLAY_DONE, /* a replay's ReplayDone: its replay is caught up again if it fails */
    BATCH_DEAD_LETTER, /* seq left sub's window as a dead letter: logged once durable, put
                        * back if it fails; the frame's bytes hold the agent's name */
    BATCH_WITHDRAWN,   /* seq left sub's window, withheld at redelivery: put back if it fails */
    BATCH_REWIND,      /* sub walked the store from seq in this batch: walks it again if it
                        * fails, so what it withheld is recorded */
};
struct batch_frame {
    uint8_t kind;
    uint8_t first;     /* BATCH_DELIVER: a first delivery (else a redelivery) */
    uint8_t notice;    /* BATCH_DELIVER: a sanitised notice */
    uint8_t in_window; /* BATCH_DELIVER: of an entry the window held before this batch (a
                        * redelivery, or a held one's first): it stays there if it fails */
    uint8_t rejected;  /* BATCH_DEAD_LETTER, BATCH_WITHDRAWN: nacked without requeue */
    uint32_t sub_id;
    uint32_t count; /* BATCH_DEAD_LETTER, BATCH_WITHDRAWN: the entry's deliveries so far;
                     * BATCH_REWIND: the deliveries the walk withheld */
    uint64_t seq, corr_id;
    size_t rid_off, rid_len;
    size_t off, len; /* the packed frame, in the batch's bytes */
};

/* A message this batch erases (retention), for the per-topic counts that
 * follow the store once it commits (control.c). */
struct batch_erased {
    uint64_t seq;
    size_t len;       /* its stored bytes */
    size_t topic_off; /* NUL-terminated, in the batch's bytes */
    int cls;          /* its classification */
};

typedef struct batch {
    store_wset_t *w;        /* owned */
    struct batch_pub *pubs; /* sequence order, contiguous from first_seq */
    size_t n_pubs, cap_pubs;
    uint64_t first_seq; /* of pubs[0] */
    struct batch_frame *frames;
    size_t n_frames, cap_frames;
    uint8_t *bytes; /* routing ids, msg_ids, packed frames */
    size_t len, room;
    /* msg_id dedup keys of pubs: open addressing over indexes into pubs */
    uint32_t *dedup;
    size_t dedup_cap;
    /* The audit chain after this batch's records. */
    uint64_t audit_seq, ckpt_seq;
    uint8_t audit_hash[32], ckpt_hash[32];
    int has_audit, has_ckpt;
    size_t n_purges;
    struct batch_erased *erased; /* n_erased of them */
    size_t n_erased, cap_erased;
    int failed;              /* STORE_OK, or why it failed (STORE_FULL, STORE_ERR): sticky */
    int try_kind;            /* 0, or a try while the store was out of room (enum room_plan) */
    double commit_s;         /* how long its commit took, set by the committer */
    arena_t *arena;          /* the publishes decoded for it (batch_arena) */
    struct wire_share share; /* the Label decoded there last, for the next (batch_share) */
    /* A Label in the arena that passed label_validate (its own rules read
     * nothing else, and nothing decoded is written to): a publish holding it
     * through the share is not checked again. Cleared with the arena. */
    const Liaison__Label *label_passed;
    /* The Origin stamped on publishes by the agent origin_of of config
     * origin_gen, in the arena: each of that agent's publishes decoded here
     * points at it instead of copying its four strings. Cleared with the
     * arena. */
    Liaison__Origin *origin;
    const void *origin_of;
    uint64_t origin_gen;
} batch_t;

batch_t *batch_new(void);
void batch_free(batch_t **bt);
/* Empties it for the next pass, freeing what it owned. */
void batch_reset(batch_t *bt);
/* 1 when nothing waits on it and it writes nothing. */
int batch_empty(const batch_t *bt);
/* Marks it failed (sticky). */
void batch_fail(batch_t *bt, int rc);

/* Stores a message under seq (== first_seq + n_pubs once the first is
 * set): returns the publish's entry, whose stored bytes (len of them, at
 * batch_pub_data) the caller packs; dedup_key may be NULL, else dkey_hash
 * is its keyed hash (seen_hash: a publisher cannot choose keys that pile
 * up in one run of the batch's table). Takes ownership of intel. The entry
 * is valid until the next batch_add_pub. */
struct batch_pub *batch_add_pub(batch_t *bt, uint64_t seq, int64_t time_us, size_t len,
                                const struct store_dkey *dedup_key, uint64_t dkey_hash,
                                const uint8_t *rid, size_t rid_len, uint64_t corr_id,
                                const char *msg_id, Liaison__Intel *intel, const arena_t *from);
/* Where a frame is decoded for this batch: a publish decoded here is added
 * with from = this arena and lives as long as the batch's pass (reset);
 * one malloc'd is added with from NULL and freed at the reset. */
arena_t *batch_arena(batch_t *bt);
/* What the publishes decoded there share (wire_envelope_decode_head),
 * cleared whenever the arena is taken back. */
struct wire_share *batch_share(batch_t *bt);
/* Takes the arena back when no publish lives in it: what a frame that
 * added none (an ack, a refused publish) decoded there. Only between
 * frames, when no decoded frame is in use. */
void batch_arena_sweep(batch_t *bt);
uint8_t *batch_pub_data(batch_t *bt, const struct batch_pub *p);
/* Keeps n subject tokens with the publish (the subscription index's
 * watchlists read them); *tokens at batch_pub_tokens. */
void batch_pub_set_tokens(batch_t *bt, struct batch_pub *p, const uint8_t (*tokens)[32], size_t n);
const uint8_t (*batch_pub_tokens(const batch_t *bt, const struct batch_pub *p))[32];
/* The publish stored under seq in this batch, or NULL. */
struct batch_pub *batch_pub_at(batch_t *bt, uint64_t seq);
/* The sequence of a publish in this batch under dedup_key, whose keyed
 * hash is h, or 0. */
uint64_t batch_dedup_find(const batch_t *bt, const struct store_dkey *dedup_key, uint64_t h);
/* One past the last sequence stored by this batch (first_seq when none). */
uint64_t batch_next_seq(const batch_t *bt);

/* A frame waiting on the batch: room for len bytes is returned, to fill
 * before the next call. */
uint8_t *batch_add_frame(batch_t *bt, enum batch_frame_kind kind, const uint8_t *rid,
                         size_t rid_len, uint64_t corr_id, uint32_t sub_id, uint64_t seq, int first,
                         size_t len);
/* Shrinks the last frame to the len actually packed. */
void batch_frame_trim(batch_t *bt, size_t len);
/* The last frame added, for its kind's own fields; valid until the next
 * batch_add_frame. */
struct batch_frame *batch_last_frame(batch_t *bt);
const uint8_t *batch_bytes(const batch_t *bt, size_t off);
/* Notes a message this batch erases (store_wset_purge is the write). */
void batch_add_erased(batch_t *bt, uint64_t seq, const char *topic, int cls, size_t len);
const char *batch_msg_id(const batch_t *bt, const struct batch_pub *p);

#endif
