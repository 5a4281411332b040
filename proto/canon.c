/* canon.c — the wire's forms written and read by hand, where the broker
 * meets them per message and protobuf-c's descriptor-driven code cost the
 * most: the stored form of a message, an audit record and a PubAck
 * written byte-equal to protobuf-c's pack; the stored form, a client's
 * Publish and the broker's Deliver read in their canonical form (anything
 * else is protobuf-c's), into malloc'd memory or an arena; a Deliver
 * wrapped around stored bytes; Batch frames gathered and split.
 * test_wire and the envelope and JSON fuzzers hold each to protobuf-c.
 * Not responsible for: the general decode, its bounds and error codes, or
 * the counts of undecodable records (wire.c). */
#include "wire.h"

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static size_t put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t wire_deliver_size(size_t intel_len)
{
    /* version (2) + deliver tag (2) + length (10) + sub_id (11) + intel tag
     * and length (11) + attempt (11) + notice (2) */
    return intel_len + 64;
}

/* Field tags of liaison.proto: Envelope.version = 1 (varint), Envelope.deliver
 * = 17 (length-delimited); Deliver.sub_id = 1, intel = 2, attempt = 3,
 * notice = 4. A unit test checks this against protobuf-c's own decoder. */
size_t wire_deliver_pack(uint32_t sub_id, uint32_t attempt, int notice, const void *intel,
                         size_t intel_len, uint8_t *out)
{
    uint8_t head[40];
    size_t h = 0;
    head[h++] = 0x08;
    h += put_varint(head + h, sub_id);
    head[h++] = 0x12;
    h += put_varint(head + h, intel_len);
    uint8_t tail[16];
    size_t t = 0;
    tail[t++] = 0x18;
    t += put_varint(tail + t, attempt);
    if (notice) {
        tail[t++] = 0x20;
        tail[t++] = 0x01;
    }
    size_t n = 0;
    out[n++] = 0x08;
    n += put_varint(out + n, WIRE_VERSION);
    n += put_varint(out + n, (17u << 3) | 2u);
    n += put_varint(out + n, h + intel_len + t);
    memcpy(out + n, head, h);
    n += h;
    memcpy(out + n, intel, intel_len);
    n += intel_len;
    memcpy(out + n, tail, t);
    return n + t;
}

/* The head of a Batch Envelope of body_len bytes, written to end at
 * out + WIRE_BATCH_HEAD_MAX; returns its length. */
static size_t batch_head(uint8_t *out, size_t body_len)
{
    uint8_t head[WIRE_BATCH_HEAD_MAX];
    size_t h = put_varint(head, 1u << 3); /* Envelope.version */
    h += put_varint(head + h, WIRE_VERSION);
    h += put_varint(head + h, (43u << 3) | 2u); /* Envelope.batch */
    h += put_varint(head + h, body_len);
    memcpy(out + WIRE_BATCH_HEAD_MAX - h, head, h);
    return h;
}

size_t wire_gather_would_be(const struct wire_gather *g, size_t len)
{
    if (g->frames >= WIRE_BATCH_MAX_FRAMES)
        return SIZE_MAX;
    return (g->frames ? g->len - WIRE_BATCH_HEAD_MAX : 0) + 1 + 10 + len;
}

void wire_gather_add(struct wire_gather *g, const void *frame, size_t len)
{
    if (g->frames == 0)
        g->len = WIRE_BATCH_HEAD_MAX;
    size_t need = g->len + 1 + 10 + len;
    if (need > g->cap) {
        size_t grown = g->cap ? 2 * g->cap : g->last;
        g->cap = need > grown ? need : grown;
        g->buf = xrealloc(g->buf, g->cap);
    }
    size_t n = put_varint(g->buf + g->len, (1u << 3) | 2u); /* Batch.frames */
    n += put_varint(g->buf + g->len + n, len);
    if (g->frames == 0) {
        g->first_off = g->len + n;
        g->first_len = len;
    }
    memcpy(g->buf + g->len + n, frame, len);
    g->len += n + len;
    g->frames++;
}

const uint8_t *wire_gather_frame(struct wire_gather *g, size_t *len)
{
    if (g->frames == 0) {
        *len = 0;
        return NULL;
    }
    if (g->frames == 1) {
        *len = g->first_len;
        return g->buf + g->first_off;
    }
    size_t body = g->len - WIRE_BATCH_HEAD_MAX;
    size_t h = batch_head(g->buf, body);
    *len = h + body;
    return g->buf + WIRE_BATCH_HEAD_MAX - h;
}

const uint8_t *wire_gather_take(struct wire_gather *g, size_t *len, void **buf)
{
    const uint8_t *frame = wire_gather_frame(g, len);
    *buf = NULL;
    if (frame == NULL)
        return NULL;
    /* Queued until sent, it costs what it holds, not what it could. */
    size_t off = (size_t)(frame - g->buf);
    *buf = xrealloc(g->buf, g->len);
    frame = (const uint8_t *)*buf + off;
    /* The next one's first size: what this one held and as much again,
     * or three quarters of the size before when that is more. Releases
     * that alternate between a few frames and hundreds (a pass ended
     * early, then a full one) would otherwise grow by doubling, a copy
     * each time, at every large one; halving it was not enough, a large
     * one then just over the size and copied once. */
    size_t kept = g->last - g->last / 4;
    g->last = 2 * g->len > kept ? 2 * g->len : kept;
    g->buf = NULL;
    g->cap = 0;
    g->frames = 0;
    g->len = WIRE_BATCH_HEAD_MAX;
    return frame;
}

/* A buffer grown past this is given back when it is emptied of less than
 * a quarter of itself: every connected session has one, and a catch-up
 * would otherwise leave each at the largest Batch it was ever sent; while
 * its releases stay large (a subscriber at full speed) it is kept, not
 * grown again by reallocation at every release. */
#define GATHER_KEEP (64u << 10)

void wire_gather_reset(struct wire_gather *g)
{
    size_t used = g->len;
    g->frames = 0;
    g->len = WIRE_BATCH_HEAD_MAX;
    if (g->cap > GATHER_KEEP && used < g->cap / 4) {
        free(g->buf);
        g->buf = NULL;
        g->cap = 0;
    }
}

void wire_gather_trim(struct wire_gather *g)
{
    if (g->frames == 0 && g->cap > GATHER_KEEP) {
        free(g->buf);
        g->buf = NULL;
        g->cap = 0;
    }
}

void wire_gather_free(struct wire_gather *g)
{
    free(g->buf);
    memset(g, 0, sizeof *g);
}

/* ---- stored forms, encoded by hand -----------------------------------------------
 * Per message the loop packs its stored form and two audit records, and
 * protobuf-c's descriptor-driven packing (a size pass, then a pack pass)
 * was a fifth of the loop's work. These write the same bytes as
 * protobuf-c's pack (fields in number order, proto3 defaults left out;
 * test_wire and the fuzzers compare the two), or only count them when out
 * is NULL. */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t wire_varint_size(uint64_t v)
{
    return varint_len(v);
}

struct enc {
    uint8_t *out; /* NULL: count only */
    size_t n;
    size_t cap; /* 0: out is large enough; else past it, only count */
};

/* 1 if need more bytes fit under a cap; past it, writing stops and
 * counting goes on. Asked only when there is a cap (the sizes cost). */
static int fits(struct enc *e, size_t need)
{
    if (e->n + need > e->cap)
        e->out = NULL;
    return e->out != NULL;
}

static void enc_varint(struct enc *e, uint32_t field, uint64_t v)
{
    if (v == 0)
        return;
    if (e->out && (!e->cap || fits(e, varint_len((uint64_t)field << 3) + varint_len(v)))) {
        e->n += put_varint(e->out + e->n, (uint64_t)field << 3);
        e->n += put_varint(e->out + e->n, v);
    } else {
        e->n += varint_len((uint64_t)field << 3) + varint_len(v);
    }
}

/* A length-delimited field; always written when always (a repeated
 * element), else left out when empty. */
static void enc_bytes(struct enc *e, uint32_t field, const void *data, size_t len, int always)
{
    if (len == 0 && !always)
        return;
    uint64_t tag = ((uint64_t)field << 3) | 2u;
    if (e->out && (!e->cap || fits(e, varint_len(tag) + varint_len(len) + len))) {
        e->n += put_varint(e->out + e->n, tag);
        e->n += put_varint(e->out + e->n, len);
        if (len)
            memcpy(e->out + e->n, data, len);
        e->n += len;
    } else {
        e->n += varint_len(tag) + varint_len(len) + len;
    }
}

static void enc_str(struct enc *e, uint32_t field, const char *s)
{
    if (s)
        enc_bytes(e, field, s, strlen(s), 0);
}

/* An enum is an int32 on the wire: a negative one takes ten bytes. */
static void enc_enum(struct enc *e, uint32_t field, int v)
{
    enc_varint(e, field, (uint64_t)(int64_t)v);
}

static void enc_strs(struct enc *e, uint32_t field, char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        enc_bytes(e, field, v[i] ? v[i] : "", v[i] ? strlen(v[i]) : 0, 1);
}

/* A packed repeated varint field, as protobuf-c writes one: nothing when
 * empty. */
static void enc_packed(struct enc *e, uint32_t field, const uint64_t *v, size_t n)
{
    if (n == 0)
        return;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += varint_len(v[i]);
    uint64_t tag = ((uint64_t)field << 3) | 2u;
    if (e->out && (!e->cap || fits(e, varint_len(tag) + varint_len(len) + len))) {
        e->n += put_varint(e->out + e->n, tag);
        e->n += put_varint(e->out + e->n, len);
        for (size_t i = 0; i < n; i++)
            e->n += put_varint(e->out + e->n, v[i]);
    } else {
        e->n += varint_len(tag) + varint_len(len) + len;
    }
}

/* A sub-message, written whenever it is set (even empty), as protobuf-c
 * writes a proto3 message field. Written without a cap, its body goes in
 * once, after room for a one-byte length, and moves up in the rare case
 * its length needs more (a body of 128 bytes or more): never past where
 * it ends, so out need only be the message's size. Counting, or under a
 * cap, its length is counted first. */
static void enc_sub(struct enc *e, uint32_t field, const void *m,
                    void (*body)(struct enc *, const void *))
{
    if (m == NULL)
        return;
    if (e->out && !e->cap) {
        size_t t = put_varint(e->out + e->n, ((uint64_t)field << 3) | 2u);
        uint8_t *at = e->out + e->n + t + 1;
        struct enc in = {.out = at};
        body(&in, m);
        size_t ll = varint_len(in.n);
        if (ll > 1)
            memmove(at + ll - 1, at, in.n);
        put_varint(e->out + e->n + t, in.n);
        e->n += t + ll + in.n;
        return;
    }
    struct enc count = {.out = NULL};
    body(&count, m);
    uint64_t tag = ((uint64_t)field << 3) | 2u;
    if (e->out && (!e->cap || fits(e, varint_len(tag) + varint_len(count.n) + count.n))) {
        e->n += put_varint(e->out + e->n, tag);
        e->n += put_varint(e->out + e->n, count.n);
        struct enc in = {.out = e->out + e->n};
        body(&in, m);
    } else {
        e->n += varint_len(tag) + varint_len(count.n);
    }
    e->n += count.n;
}

size_t wire_puback_size(const char *msg_id)
{
    return 64 + strlen(msg_id); /* the varints at their longest, and the id */
}

/* A PubAck leaves per message, so its Envelope is written straight, byte
 * by byte, as protobuf-c writes it (test_wire compares them): version
 * (1), corr_id (2) unless 0, and pub_ack (13) whatever it holds: its seq
 * (1), msg_id (2) and duplicate (3), each left out when zero or empty. */
size_t wire_puback_pack(uint64_t corr_id, uint64_t seq, const char *msg_id, int duplicate,
                        uint8_t *out)
{
    size_t id_len = strlen(msg_id);
    size_t body = (seq ? 1 + varint_len(seq) : 0) + (id_len ? 1 + varint_len(id_len) + id_len : 0) +
                  (duplicate ? 2 : 0);
    uint8_t *p = out;
    *p++ = 1u << 3;
    p += put_varint(p, WIRE_VERSION);
    if (corr_id) {
        *p++ = 2u << 3;
        p += put_varint(p, corr_id);
    }
    *p++ = (13u << 3) | 2u;
    p += put_varint(p, body);
    if (seq) {
        *p++ = 1u << 3;
        p += put_varint(p, seq);
    }
    if (id_len) {
        *p++ = (2u << 3) | 2u;
        p += put_varint(p, id_len);
        memcpy(p, msg_id, id_len);
        p += id_len;
    }
    if (duplicate) {
        *p++ = 3u << 3;
        *p++ = 1;
    }
    return (size_t)(p - out);
}

static void label_body(struct enc *e, const void *v)
{
    const Liaison__Label *l = v;
    enc_enum(e, 1, l->classification);
    enc_strs(e, 2, l->caveats, l->n_caveats);
    enc_varint(e, 3, l->source_grade);
    enc_str(e, 4, l->intel_grade);
    enc_enum(e, 5, l->handling);
    enc_str(e, 6, l->conditions);
    enc_varint(e, 7, l->no_onward_sharing ? 1 : 0);
    enc_enum(e, 8, l->sanitisation);
    enc_strs(e, 9, l->release_to, l->n_release_to);
    enc_enum(e, 10, l->risk);
    enc_str(e, 11, l->risk_basis);
    enc_str(e, 12, l->risk_ref);
    enc_strs(e, 13, l->subjects, l->n_subjects);
    enc_str(e, 14, l->review_at);
    enc_str(e, 15, l->embargo_until);
    enc_str(e, 16, l->expires_at);
}

static void origin_body(struct enc *e, const void *v)
{
    const Liaison__Origin *o = v;
    enc_str(e, 1, o->agent);
    enc_str(e, 2, o->agency);
    enc_str(e, 3, o->type);
    enc_str(e, 4, o->region);
}

static void route_body(struct enc *e, const void *v)
{
    const Liaison__Route *r = v;
    enc_str(e, 1, r->origin_broker);
    enc_varint(e, 2, r->origin_seq);
    enc_strs(e, 3, r->via, r->n_via);
    enc_varint(e, 4, r->origin_epoch);
}

/* Bytes already in their wire form. */
static void enc_raw(struct enc *e, const void *data, size_t len)
{
    if (e->out && (!e->cap || fits(e, len)))
        memcpy(e->out + e->n, data, len);
    e->n += len;
}

/* The broker-stamped fields: origin (packed already when origin is set:
 * wire_origin_pack's bytes of m->origin), received_at_us, seq, route. */
static void intel_stamp_with(struct enc *e, const Liaison__Intel *m, const struct wire_span *origin)
{
    if (origin)
        enc_raw(e, origin->data, origin->len);
    else
        enc_sub(e, 6, m->origin, origin_body);
    enc_varint(e, 7, (uint64_t)m->received_at_us);
    enc_varint(e, 8, m->seq);
    enc_sub(e, 9, m->route, route_body);
}

static void intel_stamp(struct enc *e, const Liaison__Intel *m)
{
    intel_stamp_with(e, m, NULL);
}

static void intel_body(struct enc *e, const void *v)
{
    const Liaison__Intel *m = v;
    enc_str(e, 1, m->topic);
    enc_str(e, 2, m->msg_id);
    enc_sub(e, 3, m->label, label_body);
    enc_str(e, 4, m->content_type);
    enc_bytes(e, 5, m->body.data, m->body.len, 0);
    intel_stamp(e, m);
}

/* Fields this file does not know (a message built by a newer decoder)
 * are protobuf-c's to write. */
static int has_unknown(const Liaison__Intel *m)
{
    return m->base.n_unknown_fields || (m->label && m->label->base.n_unknown_fields) ||
           (m->origin && m->origin->base.n_unknown_fields) ||
           (m->route && m->route->base.n_unknown_fields);
}

/* The stored form of a message is written by hand too: it is packed once
 * per publish on the loop (and sized before), where protobuf-c's two
 * passes were an eighth of the loop's work. The bytes are protobuf-c's
 * (test_wire and the envelope fuzzer compare them). */
size_t wire_intel_size(const Liaison__Intel *intel)
{
    if (has_unknown(intel))
        return liaison__intel__get_packed_size(intel);
    struct enc e = {.out = NULL};
    intel_body(&e, intel);
    return e.n;
}

size_t wire_intel_pack(const Liaison__Intel *intel, uint8_t *out)
{
    if (has_unknown(intel))
        return liaison__intel__pack(intel, out);
    struct enc e = {.out = out};
    intel_body(&e, intel);
    return e.n;
}

size_t wire_origin_size(const Liaison__Origin *o)
{
    struct enc e = {.out = NULL};
    enc_sub(&e, 6, o, origin_body);
    return e.n;
}

size_t wire_origin_pack(const Liaison__Origin *o, uint8_t *out)
{
    struct enc e = {.out = out};
    enc_sub(&e, 6, o, origin_body);
    return e.n;
}

size_t wire_intel_stamp_size(const Liaison__Intel *intel, const struct wire_span *origin)
{
    struct enc e = {.out = NULL};
    intel_stamp_with(&e, intel, origin);
    return e.n;
}

size_t wire_intel_pack_stamped(const struct wire_span *head, const struct wire_span *origin,
                               const Liaison__Intel *intel, uint8_t *out)
{
    memcpy(out, head->data, head->len);
    struct enc e = {.out = out + head->len};
    intel_stamp_with(&e, intel, origin);
    return head->len + e.n;
}

/* A Publish leaves a client per message: its Envelope is written by hand
 * too, as protobuf-c would (version, corr_id, then the Publish). */
static void publish_body(struct enc *e, const void *v)
{
    const Liaison__Publish *p = v;
    enc_sub(e, 1, p->intel, intel_body);
}

static void publish_envelope(struct enc *e, const void *v)
{
    const Liaison__Envelope *env = v;
    enc_varint(e, 1, env->version);
    enc_varint(e, 2, env->corr_id);
    enc_sub(e, 12, env->publish, publish_body);
}

static int publish_by_hand(const Liaison__Envelope *env)
{
    return env->kind_case == LIAISON__ENVELOPE__KIND_PUBLISH && env->publish &&
           !env->base.n_unknown_fields && !env->publish->base.n_unknown_fields &&
           (env->publish->intel == NULL || !has_unknown(env->publish->intel));
}

size_t wire_envelope_size(const Liaison__Envelope *env)
{
    if (!publish_by_hand(env))
        return liaison__envelope__get_packed_size(env);
    struct enc e = {.out = NULL};
    publish_envelope(&e, env);
    return e.n;
}

size_t wire_envelope_pack(const Liaison__Envelope *env, uint8_t *out)
{
    if (!publish_by_hand(env))
        return liaison__envelope__pack(env, out);
    struct enc e = {.out = out};
    publish_envelope(&e, env);
    return e.n;
}

static size_t audit_record_encode(const Liaison__AuditRecord *r, uint8_t *out, size_t cap)
{
    struct enc e = {.out = out, .cap = cap};
    enc_varint(&e, 1, r->seq);
    enc_varint(&e, 2, (uint64_t)r->time_us); /* int64: a negative one takes ten bytes */
    enc_str(&e, 3, r->actor);
    enc_str(&e, 4, r->action);
    enc_varint(&e, 5, r->msg_seq);
    enc_bytes(&e, 6, r->digest.data, r->digest.len, 0);
    enc_str(&e, 7, r->recipient);
    enc_str(&e, 8, r->outcome);
    enc_str(&e, 9, r->reason);
    enc_str(&e, 10, r->topic);
    enc_varint(&e, 11, r->count);
    enc_bytes(&e, 12, r->prev_hash.data, r->prev_hash.len, 0);
    enc_varint(&e, 13, r->format);
    for (size_t i = 0; i < r->n_tokens; i++)
        enc_bytes(&e, 14, r->tokens[i].data, r->tokens[i].len, 1);
    enc_varint(&e, 15, r->results);
    enc_varint(&e, 16, r->hits);
    enc_packed(&e, 17, r->more_seqs, r->n_more_seqs);
    for (size_t i = 0; i < r->n_more_digests; i++)
        enc_bytes(&e, 18, r->more_digests[i].data, r->more_digests[i].len, 1);
    return e.n;
}

size_t wire_audit_record_size(const Liaison__AuditRecord *r)
{
    return audit_record_encode(r, NULL, 0);
}

size_t wire_audit_record_pack(const Liaison__AuditRecord *r, uint8_t *out)
{
    return audit_record_encode(r, out, 0);
}

size_t wire_audit_record_pack_within(const Liaison__AuditRecord *r, uint8_t *out, size_t cap)
{
    return audit_record_encode(r, out, cap);
}

/* ---- the stored form, decoded by hand ---------------------------------------------
 * A message is decoded every time a subscription behind the tail walks it
 * (a catch-up, a replay, an uplink), and protobuf-c's descriptor-driven
 * parse was half of that walk. This reads the form the encoder above
 * writes, fields in number order, each at most once (a repeated one's
 * entries together), the wire type each field has, nothing empty that
 * proto3 leaves out, enum values the enum knows, and builds what
 * protobuf-c builds (the same allocations, so liaison__intel__free_unpacked
 * frees it). Anything else, however valid, returns NULL, and protobuf-c
 * decodes it: the result is protobuf-c's either way (test_wire, and the
 * envelope fuzzer on arbitrary bytes, compare the two). */

struct dec {
    const uint8_t *p, *end;
    arena_t *arena;          /* where what is decoded goes; NULL: malloc, as protobuf-c's */
    const uint8_t *field_at; /* where the field being read begins (its tag) */
    const uint8_t *stamped;  /* an Intel's first field from origin (6) on; NULL: none yet */
    /* Sub-messages to share, or NULL (only with an arena): a stored
     * message's Label and Origin; a Publish's Label only, since the
     * broker overwrites the Origin of what it accepts. */
    struct wire_share_one *share_label, *share_origin;
};

/* n bytes for the message being built: from the arena, or malloc'd so that
 * protobuf-c's free_unpacked frees them. NULL only when malloc fails. */
static void *dec_alloc(const struct dec *d, size_t n)
{
    return d->arena ? arena_alloc(d->arena, n) : malloc(n ? n : 1);
}

/* A varint of at most max bytes whose last byte carries no bits past 64,
 * in its shortest form. */
static int dec_varint(struct dec *d, uint64_t *v, int max)
{
    if (d->p < d->end && *d->p < 0x80) { /* most tags and lengths */
        *v = *d->p++;
        return 0;
    }
    uint64_t x = 0;
    for (int i = 0; i < max && d->p < d->end; i++) {
        uint8_t b = *d->p++;
        if (i == 9 && b > 1)
            return -1;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            /* A last byte of 0 is a longer form than the encoder writes:
             * protobuf-c's to read, so that what is read here is always
             * the encoder's bytes (a Publish's head is stored as sent). */
            if (b == 0 && i > 0)
                return -1;
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* The next field's number and wire type, without taking it: 0 at the end
 * of the message. */
static uint32_t dec_peek(const struct dec *d, int *wt)
{
    struct dec t = *d;
    uint64_t tag;
    if (t.p >= t.end || dec_varint(&t, &tag, 5) != 0 || (tag >> 3) == 0 || (tag >> 3) > 64)
        return 0;
    *wt = (int)(tag & 7);
    return (uint32_t)(tag >> 3);
}

/* The next field's number and wire type, taken: 0 if there is none. */
static uint32_t dec_tag(struct dec *d, int *wt)
{
    uint64_t tag;
    if (d->p >= d->end || dec_varint(d, &tag, 5) != 0 || (tag >> 3) == 0 || (tag >> 3) > 64)
        return 0;
    *wt = (int)(tag & 7);
    return (uint32_t)(tag >> 3);
}

static void dec_skip_tag(struct dec *d)
{
    uint64_t tag;
    dec_varint(d, &tag, 5); /* dec_peek read it already */
}

/* A length-delimited payload: its bytes, and len (0 refused unless
 * empty_ok). A length takes at most five bytes, as protobuf-c reads one. */
static int dec_bytes(struct dec *d, const uint8_t **b, size_t *len, int empty_ok)
{
    uint64_t n;
    if (dec_varint(d, &n, 5) != 0 || n > (uint64_t)(d->end - d->p) || (n == 0 && !empty_ok))
        return -1;
    *b = d->p;
    *len = (size_t)n;
    d->p += n;
    return 0;
}

static int dec_str(struct dec *d, char **out, int empty_ok)
{
    const uint8_t *b;
    size_t n;
    if (dec_bytes(d, &b, &n, empty_ok) != 0)
        return -1;
    /* A NUL inside is cut off in the C string, so the message read is not
     * the bytes sent (found by fuzz_envelope): protobuf-c's to read. */
    if (n && memchr(b, 0, n) != NULL)
        return -1;
    char *s = dec_alloc(d, n + 1);
    if (s == NULL)
        return -1;
    memcpy(s, b, n);
    s[n] = '\0';
    *out = s;
    return 0;
}

/* A repeated string field's entries, all together as the encoder writes
 * them (the first one's tag is taken); its array is sized to them first. */
static int dec_strs(struct dec *d, uint32_t field, char ***v, size_t *n)
{
    struct dec t = *d;
    const uint8_t *b;
    size_t len, count = 1;
    int wt;
    if (dec_bytes(&t, &b, &len, 1) != 0)
        return -1;
    while (dec_peek(&t, &wt) == field) {
        dec_skip_tag(&t);
        if (wt != 2 || dec_bytes(&t, &b, &len, 1) != 0)
            return -1;
        count++;
    }
    *v = dec_alloc(d, count * sizeof **v);
    if (*v == NULL)
        return -1;
    memset(*v, 0, count * sizeof **v);
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            dec_skip_tag(d);
        if (dec_str(d, &(*v)[i], 1) != 0)
            return -1;
        *n = i + 1;
    }
    return 0;
}

/* v is one of desc's values: protobuf-c's lookup, without its search when
 * they are one run from the first (every enum a Label holds). */
static int enum_known(const ProtobufCEnumDescriptor *desc, int v)
{
    if (desc->n_value_ranges == 1) {
        int first = desc->value_ranges[0].start_value;
        return v >= first && v - first < (int)desc->n_values;
    }
    return protobuf_c_enum_descriptor_get_value(desc, v) != NULL;
}

static int dec_enum(struct dec *d, const ProtobufCEnumDescriptor *desc, int *out)
{
    uint64_t v;
    if (dec_varint(d, &v, 5) != 0 || v == 0 || v > INT32_MAX || !enum_known(desc, (int)v))
        return -1;
    *out = (int)v;
    return 0;
}

static int dec_u32(struct dec *d, uint32_t *out)
{
    uint64_t v;
    if (dec_varint(d, &v, 5) != 0 || v == 0 || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int dec_u64(struct dec *d, uint64_t *out)
{
    return dec_varint(d, out, 10) != 0 || *out == 0 ? -1 : 0;
}

/* Walks a message's fields in ascending order; field() decodes one (its
 * tag taken) and returns -1 for anything it does not take. */
static int dec_fields(struct dec *d, void *m, int (*field)(struct dec *, void *, uint32_t, int))
{
    uint32_t last = 0;
    while (d->p < d->end) {
        int wt;
        const uint8_t *at = d->p;
        uint32_t f = dec_tag(d, &wt);
        if (f == 0 || f <= last)
            return -1;
        last = f;
        d->field_at = at;
        if (field(d, m, f, wt) != 0)
            return -1;
    }
    return 0;
}

static int label_field(struct dec *d, void *v, uint32_t f, int wt)
{
    Liaison__Label *l = v;
    switch (f) {
    case 1:
        return wt == 0
                   ? dec_enum(d, &liaison__classification__descriptor, (int *)&l->classification)
                   : -1;
    case 2:
        return wt == 2 ? dec_strs(d, 2, &l->caveats, &l->n_caveats) : -1;
    case 3:
        return wt == 0 ? dec_u32(d, &l->source_grade) : -1;
    case 4:
        return wt == 2 ? dec_str(d, &l->intel_grade, 0) : -1;
    case 5:
        return wt == 0 ? dec_enum(d, &liaison__handling__descriptor, (int *)&l->handling) : -1;
    case 6:
        return wt == 2 ? dec_str(d, &l->conditions, 0) : -1;
    case 7: {
        uint64_t b;
        if (wt != 0 || dec_varint(d, &b, 1) != 0 || b != 1)
            return -1;
        l->no_onward_sharing = 1;
        return 0;
    }
    case 8:
        return wt == 0 ? dec_enum(d, &liaison__sanitisation__descriptor, (int *)&l->sanitisation)
                       : -1;
    case 9:
        return wt == 2 ? dec_strs(d, 9, &l->release_to, &l->n_release_to) : -1;
    case 10:
        return wt == 0 ? dec_enum(d, &liaison__risk__descriptor, (int *)&l->risk) : -1;
    case 11:
        return wt == 2 ? dec_str(d, &l->risk_basis, 0) : -1;
    case 12:
        return wt == 2 ? dec_str(d, &l->risk_ref, 0) : -1;
    case 13:
        return wt == 2 ? dec_strs(d, 13, &l->subjects, &l->n_subjects) : -1;
    case 14:
        return wt == 2 ? dec_str(d, &l->review_at, 0) : -1;
    case 15:
        return wt == 2 ? dec_str(d, &l->embargo_until, 0) : -1;
    case 16:
        return wt == 2 ? dec_str(d, &l->expires_at, 0) : -1;
    default:
        return -1;
    }
}

static int origin_field(struct dec *d, void *v, uint32_t f, int wt)
{
    Liaison__Origin *o = v;
    if (wt != 2)
        return -1;
    switch (f) {
    case 1:
        return dec_str(d, &o->agent, 0);
    case 2:
        return dec_str(d, &o->agency, 0);
    case 3:
        return dec_str(d, &o->type, 0);
    case 4:
        return dec_str(d, &o->region, 0);
    default:
        return -1;
    }
}

static int route_field(struct dec *d, void *v, uint32_t f, int wt)
{
    Liaison__Route *r = v;
    switch (f) {
    case 1:
        return wt == 2 ? dec_str(d, &r->origin_broker, 0) : -1;
    case 2:
        return wt == 0 ? dec_u64(d, &r->origin_seq) : -1;
    case 3:
        return wt == 2 ? dec_strs(d, 3, &r->via, &r->n_via) : -1;
    case 4:
        return wt == 0 ? dec_u64(d, &r->origin_epoch) : -1;
    default:
        return -1;
    }
}

/* A sub-message field: allocated and initialised as protobuf-c does, then
 * attached before its fields are read (so a failure frees it with the rest).
 * With keep, one decoded from the same bytes before is shared, and one
 * decoded here is kept for the next. */
static int dec_sub(struct dec *d, void **slot, size_t size, void (*init)(void *),
                   int (*field)(struct dec *, void *, uint32_t, int), struct wire_share_one *keep)
{
    const uint8_t *b;
    size_t n;
    if (dec_bytes(d, &b, &n, 1) != 0)
        return -1;
    if (keep && keep->m && keep->len == n && memcmp(keep->bytes, b, n) == 0) {
        *slot = (void *)(uintptr_t)keep->m;
        return 0;
    }
    void *m = dec_alloc(d, size);
    if (m == NULL)
        return -1;
    init(m);
    *slot = m;
    struct dec in = {b, b + n, d->arena};
    if (dec_fields(&in, m, field) != 0)
        return -1;
    if (keep && n <= sizeof keep->bytes) {
        memcpy(keep->bytes, b, n);
        keep->len = n;
        keep->m = m;
    }
    return 0;
}

static void label_init(void *m)
{
    liaison__label__init(m);
}

static void origin_init(void *m)
{
    liaison__origin__init(m);
}

static void route_init(void *m)
{
    liaison__route__init(m);
}

static int intel_field(struct dec *d, void *v, uint32_t f, int wt)
{
    Liaison__Intel *m = v;
    if (f >= 6 && d->stamped == NULL)
        d->stamped = d->field_at; /* the head, what its sender wrote, ends here */
    switch (f) {
    case 1:
        return wt == 2 ? dec_str(d, &m->topic, 0) : -1;
    case 2:
        return wt == 2 ? dec_str(d, &m->msg_id, 0) : -1;
    case 3:
        return wt == 2 ? dec_sub(d, (void **)&m->label, sizeof *m->label, label_init, label_field,
                                 d->share_label)
                       : -1;
    case 4:
        return wt == 2 ? dec_str(d, &m->content_type, 0) : -1;
    case 5: {
        const uint8_t *b;
        size_t n;
        if (wt != 2 || dec_bytes(d, &b, &n, 0) != 0 || (m->body.data = dec_alloc(d, n)) == NULL)
            return -1;
        memcpy(m->body.data, b, n);
        m->body.len = n;
        return 0;
    }
    case 6:
        return wt == 2 ? dec_sub(d, (void **)&m->origin, sizeof *m->origin, origin_init,
                                 origin_field, d->share_origin)
                       : -1;
    case 7: {
        uint64_t t;
        if (wt != 0 || dec_u64(d, &t) != 0)
            return -1;
        m->received_at_us = (int64_t)t;
        return 0;
    }
    case 8:
        return wt == 0 ? dec_u64(d, &m->seq) : -1;
    case 9:
        return wt == 2
                   ? dec_sub(d, (void **)&m->route, sizeof *m->route, route_init, route_field, NULL)
                   : -1;
    default:
        return -1;
    }
}

size_t wire_batch_split(const void *data, size_t len, struct wire_span *out, size_t max)
{
    /* version = 1, then Envelope.batch holding only Batch.frames entries,
     * and nothing after it: how the gatherers above write one. */
    static const uint8_t head[] = {0x08, 0x01, 0xda, 0x02};
    struct dec d = {data, (const uint8_t *)data + len, NULL};
    if (len < sizeof head || memcmp(data, head, sizeof head) != 0)
        return 0;
    d.p += sizeof head;
    const uint8_t *body;
    size_t body_len;
    if (dec_bytes(&d, &body, &body_len, 1) != 0 || d.p != d.end)
        return 0;
    struct dec in = {body, body + body_len, NULL};
    size_t n = 0;
    while (in.p < in.end) {
        int wt;
        const uint8_t *f;
        size_t flen;
        if (dec_peek(&in, &wt) != 1 || wt != 2 || n == max)
            return 0;
        dec_skip_tag(&in);
        if (dec_bytes(&in, &f, &flen, 1) != 0)
            return 0;
        out[n++] = (struct wire_span){f, flen};
    }
    return n;
}

/* The message in data, and (head_len not NULL) the length of its leading
 * fields below origin (6): what its sender wrote, before anything a broker
 * stamps. */
static Liaison__Intel *intel_decode(const uint8_t *data, size_t len, arena_t *arena,
                                    size_t *head_len, struct wire_share_one *label,
                                    struct wire_share_one *origin)
{
    struct dec d = {
        data, data + len, arena, NULL, NULL, arena ? label : NULL, arena ? origin : NULL};
    Liaison__Intel *m = dec_alloc(&d, sizeof *m);
    if (m == NULL)
        return NULL;
    liaison__intel__init(m);
    if (dec_fields(&d, m, intel_field) != 0) {
        if (arena == NULL)
            liaison__intel__free_unpacked(m, NULL);
        return NULL; /* an arena's is taken back with the arena */
    }
    if (head_len)
        *head_len = d.stamped ? (size_t)(d.stamped - data) : len;
    return m;
}

Liaison__Intel *wire_intel_decode_canonical(const void *data, size_t len, arena_t *arena,
                                            struct wire_share *share)
{
    return intel_decode(data, len, arena, NULL, share ? &share->label : NULL,
                        share ? &share->origin : NULL);
}

/* The head of an Envelope as the encoders write one: version = 1, a
 * corr_id or none, then the kind's field (field, length-delimited) and
 * nothing after it. 0 and its payload, or -1. */
static int envelope_head(struct dec *d, uint32_t field, uint64_t *corr, const uint8_t **body,
                         size_t *body_len)
{
    uint64_t v;
    int wt;
    *corr = 0;
    if (dec_peek(d, &wt) != 1 || wt != 0)
        return -1;
    dec_skip_tag(d);
    if (dec_varint(d, &v, 10) != 0 || v != WIRE_VERSION)
        return -1;
    uint32_t f = dec_peek(d, &wt);
    if (f == 2) {
        dec_skip_tag(d);
        if (wt != 0 || dec_u64(d, corr) != 0)
            return -1;
        f = dec_peek(d, &wt);
    }
    if (f != field || wt != 2)
        return -1;
    dec_skip_tag(d);
    return dec_bytes(d, body, body_len, 0) != 0 || d->p != d->end ? -1 : 0;
}

/* The Envelope around a kind of kind_size bytes (*kind, for the caller to
 * fill) holding the message in intel, decoded; all from where the frame is
 * decoded. NULL, nothing left allocated, if the message is not in its
 * canonical form (or malloc fails). */
static Liaison__Envelope *envelope_around(const struct dec *d, uint64_t corr, const uint8_t *intel,
                                          size_t intel_len, size_t kind_size, void **kind,
                                          Liaison__Intel **m, size_t *head_len)
{
    *m = intel_decode(intel, intel_len, d->arena, head_len, d->share_label, NULL);
    if (*m == NULL)
        return NULL;
    Liaison__Envelope *env = dec_alloc(d, sizeof *env);
    *kind = dec_alloc(d, kind_size);
    if (env == NULL || *kind == NULL) {
        free(env); /* only malloc fails */
        free(*kind);
        liaison__intel__free_unpacked(*m, NULL);
        return NULL;
    }
    liaison__envelope__init(env);
    env->version = WIRE_VERSION;
    env->corr_id = corr;
    return env;
}

Liaison__Envelope *wire_publish_decode_canonical(const void *data, size_t len, arena_t *arena,
                                                 struct wire_span *head, struct wire_share *share)
{
    /* How a client's encoder writes a Publish: its message alone in it. */
    struct dec d = {data, (const uint8_t *)data + len,           arena, NULL,
                    NULL, arena && share ? &share->label : NULL, NULL};
    if (head)
        *head = (struct wire_span){NULL, 0};
    uint64_t corr;
    const uint8_t *pub, *intel;
    size_t pub_len, intel_len;
    int wt;
    if (envelope_head(&d, 12, &corr, &pub, &pub_len) != 0)
        return NULL;
    struct dec in = {pub, pub + pub_len, arena};
    if (dec_peek(&in, &wt) != 1 || wt != 2)
        return NULL;
    dec_skip_tag(&in);
    if (dec_bytes(&in, &intel, &intel_len, 1) != 0 || in.p != in.end)
        return NULL;
    Liaison__Intel *m;
    Liaison__Publish *p;
    size_t head_len;
    Liaison__Envelope *env =
        envelope_around(&d, corr, intel, intel_len, sizeof *p, (void **)&p, &m, &head_len);
    if (env == NULL)
        return NULL;
    liaison__publish__init(p);
    p->intel = m;
    env->kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
    env->publish = p;
    if (head)
        *head = (struct wire_span){intel, head_len};
    return env;
}

Liaison__Envelope *wire_deliver_decode_canonical(const void *data, size_t len, arena_t *arena)
{
    /* How wire_deliver_pack writes one: sub_id, the message, attempt, and
     * notice when set. A notice's other fields are protobuf-c's to read. */
    struct dec d = {data, (const uint8_t *)data + len, arena};
    uint64_t corr;
    const uint8_t *body, *intel = NULL;
    size_t body_len, intel_len = 0;
    uint32_t sub_id = 0, attempt = 0, last = 0;
    int notice = 0, wt;
    if (envelope_head(&d, 17, &corr, &body, &body_len) != 0)
        return NULL;
    struct dec in = {body, body + body_len, arena};
    while (in.p < in.end) {
        uint32_t f = dec_tag(&in, &wt);
        if (f == 0 || f <= last)
            return NULL;
        last = f;
        uint64_t b;
        int bad = 1;
        switch (f) {
        case 1:
            bad = wt != 0 || dec_u32(&in, &sub_id) != 0;
            break;
        case 2:
            bad = wt != 2 || dec_bytes(&in, &intel, &intel_len, 1) != 0;
            break;
        case 3:
            bad = wt != 0 || dec_u32(&in, &attempt) != 0;
            break;
        case 4:
            bad = wt != 0 || dec_varint(&in, &b, 1) != 0 || b != 1;
            notice = 1;
            break;
        }
        if (bad)
            return NULL;
    }
    if (intel == NULL)
        return NULL;
    Liaison__Intel *m;
    Liaison__Deliver *dl;
    Liaison__Envelope *env =
        envelope_around(&d, corr, intel, intel_len, sizeof *dl, (void **)&dl, &m, NULL);
    if (env == NULL)
        return NULL;
    liaison__deliver__init(dl);
    dl->sub_id = sub_id;
    dl->intel = m;
    dl->attempt = attempt;
    dl->notice = notice;
    env->kind_case = LIAISON__ENVELOPE__KIND_DELIVER;
    env->deliver = dl;
    return env;
}
