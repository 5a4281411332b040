/* wire.h — packs and unpacks the Envelope of proto/liaison.proto.
 * The only file that calls protobuf-c. Other modules read and fill the
 * generated structs (Liaison__Intel, ...) as plain data, and hand them here
 * to be encoded, decoded and freed.
 *
 * Building messages by hand: every string and bytes pointer in a message
 * given to wire_*_free must be NULL, protobuf_c's empty string (use
 * wire_empty), or owned by the message (malloc'd); sub-messages and repeated
 * arrays likewise. Unpacked messages satisfy this automatically.
 *
 * The _in forms decode into an arena instead (arena.h): nothing in the
 * result is malloc'd, so it is never freed piece by piece; it lives until
 * the arena's reset, and its _free_in only forgets it. A NULL arena is
 * malloc, as the plain forms. Whoever edits such a message takes its new
 * parts from the same arena. */
#ifndef LIAISON_WIRE_H
#define LIAISON_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "liaison.pb-c.h"

#define WIRE_VERSION LIAISON__PROTOCOL_VERSION__PROTOCOL_VERSION

/* Bytes inside a frame, not copied. */
struct wire_span {
    const uint8_t *data;
    size_t len;
};

/* Decodes one Envelope frame. On success returns it (caller owns; free with
 * wire_envelope_free) and sets *code to LIAISON__ERROR_CODE__ERROR_NONE.
 * On failure returns NULL and sets *code to FRAME_TOO_LARGE (len > max_len),
 * BAD_FRAME (undecodable), BAD_VERSION (decoded but wrong version; *corr_id
 * is still set so the reply can name the request) or UNKNOWN_KIND (no kind).
 * corr_id may be NULL. */
Liaison__Envelope *wire_envelope_decode(const void *data, size_t len, size_t max_len,
                                        Liaison__ErrorCode *code, uint64_t *corr_id);
Liaison__Envelope *wire_envelope_decode_in(arena_t *arena, const void *data, size_t len,
                                           size_t max_len, Liaison__ErrorCode *code,
                                           uint64_t *corr_id);
/* A message's Label and Origin as last decoded into one arena, with the
 * bytes each was read from: the next message decoded into that arena whose
 * bytes for one are the same shares it instead of decoding it again (a
 * backlog read from the store is mostly one sender's messages under one
 * label). Zero it before first use and whenever the arena is reset. */
#define WIRE_SHARE_MAX 256
struct wire_share_one {
    const void *m; /* NULL: none */
    size_t len;
    uint8_t bytes[WIRE_SHARE_MAX];
};
struct wire_share {
    struct wire_share_one label, origin;
};

/* The same, and for a Publish in its canonical form its message's head
 * (see wire_publish_decode_canonical; {NULL, 0} for anything else) and its
 * Label shared through share (or NULL) as wire_intel_decode_in does; never
 * its Origin, which the broker overwrites in what it accepts. */
Liaison__Envelope *wire_envelope_decode_head(arena_t *arena, const void *data, size_t len,
                                             size_t max_len, Liaison__ErrorCode *code,
                                             uint64_t *corr_id, struct wire_span *head,
                                             struct wire_share *share);
void wire_envelope_free(Liaison__Envelope **env);
void wire_envelope_free_in(Liaison__Envelope **env, arena_t *arena);

/* Sets version and corr_id on an envelope initialised by the caller. */
void wire_envelope_init(Liaison__Envelope *env, uint64_t corr_id);
/* Encoded size, and encoding into out (at least wire_envelope_size bytes).
 * Returns the bytes written. A Publish is written by hand (canon.c), to
 * protobuf-c's bytes; anything else by protobuf-c. */
size_t wire_envelope_size(const Liaison__Envelope *env);
size_t wire_envelope_pack(const Liaison__Envelope *env, uint8_t *out);

/* Stored records (messages, audit records, checkpoints) that did not
 * decode when read, since start: each decode below that fails is counted
 * and logged (event=stored_record_undecodable, on the first and each power
 * of two), and its reader skips the record. Thread-safe. */
enum wire_stored {
    WIRE_STORED_MESSAGE,
    WIRE_STORED_AUDIT,
    WIRE_STORED_CHECKPOINT,
    WIRE_STORED_KINDS
};
uint64_t wire_stored_undecodable(enum wire_stored kind);

/* The stored form of a message is a packed Intel. Decoded result is owned by
 * the caller (free with wire_intel_free); NULL if undecodable (counted).
 * Into an arena, share (or NULL) may give it a Label or Origin another
 * message decoded there holds too: read-only, as everything decoded is. */
Liaison__Intel *wire_intel_decode(const void *data, size_t len);
Liaison__Intel *wire_intel_decode_in(arena_t *arena, const void *data, size_t len,
                                     struct wire_share *share);
/* Its fast path alone: the form wire_intel_pack writes, else NULL (then
 * protobuf-c decodes). For the tests that compare the two. arena and share
 * as above (share only with an arena). */
Liaison__Intel *wire_intel_decode_canonical(const void *data, size_t len, arena_t *arena,
                                            struct wire_share *share);
/* The same for an Envelope holding a Publish, as a client's encoder writes
 * it (version, corr_id, the Publish): wire_envelope_decode's fast path.
 * head (or NULL) is set to the message's bytes below origin, which are as
 * wire_intel_pack would write them from what was decoded ({NULL, 0} when
 * NULL is returned). */
Liaison__Envelope *wire_publish_decode_canonical(const void *data, size_t len, arena_t *arena,
                                                 struct wire_span *head, struct wire_share *share);
/* And for a Deliver as wire_deliver_pack writes it (sub_id, the message,
 * attempt, notice): the fast path of what a client reads most. */
Liaison__Envelope *wire_deliver_decode_canonical(const void *data, size_t len, arena_t *arena);
size_t wire_intel_size(const Liaison__Intel *intel);
size_t wire_intel_pack(const Liaison__Intel *intel, uint8_t *out);
/* The stored form from a Publish's head (wire_publish_decode_canonical)
 * and intel's broker-stamped fields (origin, received_at_us, seq, route):
 * wire_intel_pack's bytes, when nothing below origin changed since the
 * head was read. origin, when not NULL, is intel->origin packed already
 * (wire_origin_pack): a publisher's is the same in all it sends. */
size_t wire_intel_stamp_size(const Liaison__Intel *intel, const struct wire_span *origin);
size_t wire_intel_pack_stamped(const struct wire_span *head, const struct wire_span *origin,
                               const Liaison__Intel *intel, uint8_t *out);
/* The bytes v takes as a protobuf varint (1 to 10). */
size_t wire_varint_size(uint64_t v);
/* A message's origin field (6), tag and length with it. */
size_t wire_origin_size(const Liaison__Origin *o);
size_t wire_origin_pack(const Liaison__Origin *o, uint8_t *out);
void wire_intel_free(Liaison__Intel **intel);
void wire_intel_free_in(Liaison__Intel **intel, arena_t *arena);

/* A fresh Intel with a Label and an Origin attached, all fields empty.
 * Caller owns; free with wire_intel_free. */
Liaison__Intel *wire_intel_new(void);

/* A Deliver frame built around a message's stored bytes (a packed Intel)
 * without decoding them: the same bytes the store holds go on the wire.
 * wire_deliver_size is an upper bound for out; pack returns bytes written. */
size_t wire_deliver_size(size_t intel_len);
size_t wire_deliver_pack(uint32_t sub_id, uint32_t attempt, int notice, const void *intel,
                         size_t intel_len, uint8_t *out);

/* An Envelope holding a PubAck, written by hand (the same bytes as
 * protobuf-c's); out holds at least wire_puback_size(msg_id). */
size_t wire_puback_size(const char *msg_id);
size_t wire_puback_pack(uint64_t corr_id, uint64_t seq, const char *msg_id, int duplicate,
                        uint8_t *out);

/* Frames already packed, gathered into one Batch frame built by hand
 * (Envelope 43, each frame a Batch.frames entry), to go as one message.
 * Zero-initialised it is empty. */
struct wire_gather {
    uint8_t *buf;
    size_t len, cap; /* the Batch body from WIRE_BATCH_HEAD_MAX on */
    size_t first_off, first_len;
    uint32_t frames;
    size_t last; /* the next buffer's first size: twice what the last taken one held, or
                  * three quarters of the size before, the larger */
};
#define WIRE_BATCH_HEAD_MAX 16
/* The most frames one Batch may hold (a broker refuses more). */
#define WIRE_BATCH_MAX_FRAMES 4096
/* A Batch frame as the gatherers write it, split without copying: the
 * frames' places in data, at most max of them. 0 when data is not such a
 * Batch (or holds none, or more than max): decode it whole instead. */
size_t wire_batch_split(const void *data, size_t len, struct wire_span *out, size_t max);
/* Bytes the gather would hold with one more frame of len bytes; SIZE_MAX
 * when it holds WIRE_BATCH_MAX_FRAMES already (so any cap says: flush). */
size_t wire_gather_would_be(const struct wire_gather *g, size_t len);
void wire_gather_add(struct wire_gather *g, const void *frame, size_t len);
/* What to send: the lone frame as itself, or the Batch of them all; *len
 * is 0 when nothing was gathered. Valid until the next add or reset. */
const uint8_t *wire_gather_frame(struct wire_gather *g, size_t *len);
/* What to send, as wire_gather_frame, with its buffer: the caller owns
 * *buf (free() it once the frame at *buf + *off is sent) and the gather is
 * empty, without a buffer; the one taken is cut to what it holds, and the
 * next one starts at twice that, so a holder whose releases stay alike
 * grows none. NULL when
 * nothing was gathered. */
const uint8_t *wire_gather_take(struct wire_gather *g, size_t *len, void **buf);
/* Empties it; a buffer grown past 64 KiB that was less than a quarter
 * used is freed too. */
void wire_gather_reset(struct wire_gather *g);
/* Frees a buffer grown past 64 KiB if it holds nothing: for a holder gone
 * quiet after large releases. */
void wire_gather_trim(struct wire_gather *g);
void wire_gather_free(struct wire_gather *g);

/* Audit records and checkpoints, stored packed (audit.c). Decoded results
 * are owned by the caller. */
Liaison__AuditRecord *wire_audit_record_decode(const void *data, size_t len);
size_t wire_audit_record_size(const Liaison__AuditRecord *r);
size_t wire_audit_record_pack(const Liaison__AuditRecord *r, uint8_t *out);
/* Packs in one pass into out of cap bytes, and returns the length; when
 * that is more than cap, out holds nothing usable (pack it again into a
 * buffer that large). */
size_t wire_audit_record_pack_within(const Liaison__AuditRecord *r, uint8_t *out, size_t cap);
void wire_audit_record_free(Liaison__AuditRecord **r);
Liaison__AuditCheckpoint *wire_checkpoint_decode(const void *data, size_t len);
size_t wire_checkpoint_size(const Liaison__AuditCheckpoint *c);
size_t wire_checkpoint_pack(const Liaison__AuditCheckpoint *c, uint8_t *out);
void wire_checkpoint_free(Liaison__AuditCheckpoint **c);

/* An empty Origin, for a decoded Intel that arrived without one, from the
 * arena the Intel was decoded into (NULL: malloc'd). It is freed with the
 * Intel it is attached to. */
Liaison__Origin *wire_intel_new_origin(arena_t *arena);

/* protobuf-c's shared empty string, for string fields that are unset. */
char *wire_empty(void);

/* Name of an error code ("STORE_FULL"), or "UNKNOWN" for any other value. */
const char *wire_error_name(Liaison__ErrorCode code);

#endif
