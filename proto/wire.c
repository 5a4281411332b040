/* wire.c — Envelope and Intel encoding over protobuf-c (with canon.c, the
 * only files that call the library; canon.c writes and reads by hand the
 * forms met per message). Decoding is bounded (max frame size is checked
 * before protobuf-c sees a byte) and every failure maps to one ErrorCode.
 * Not responsible for what a decoded message means (the broker's handlers)
 * or whether a label is acceptable (label.c, policy.c). */
#include "wire.h"

#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* Reads leading varint fields of an Envelope looking for corr_id; 0 if it
 * is not among them. Bounded: at most a few fields of at most 10 bytes. */
static uint64_t peek_corr_id(const uint8_t *p, size_t len)
{
    size_t i = 0;
    for (int field = 0; field < 4 && i < len; field++) {
        uint8_t tag = p[i++];
        if ((tag & 7) != 0)
            return 0; /* not a varint: the payload has begun */
        uint64_t v = 0;
        for (int shift = 0; i < len && shift < 64; shift += 7) {
            uint8_t b = p[i++];
            v |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
        if ((tag >> 3) == 2)
            return v;
    }
    return 0;
}

/* protobuf-c's allocator over an arena: its frees are no-ops, the arena
 * takes everything back at its reset. */
static void *arena_take(void *data, size_t size)
{
    return arena_alloc(data, size);
}

static void arena_leave(void *data, void *p)
{
    (void)data;
    (void)p;
}

static ProtobufCAllocator arena_allocator(arena_t *a)
{
    return (ProtobufCAllocator){.alloc = arena_take, .free = arena_leave, .allocator_data = a};
}

static void strip_unknown(ProtobufCMessage *m, arena_t *a)
{
    for (unsigned i = 0; a == NULL && i < m->n_unknown_fields; i++)
        free(m->unknown_fields[i].data);
    if (a == NULL)
        free(m->unknown_fields);
    m->unknown_fields = NULL;
    m->n_unknown_fields = 0;
}

Liaison__Envelope *wire_envelope_decode(const void *data, size_t len, size_t max_len,
                                        Liaison__ErrorCode *code, uint64_t *corr_id)
{
    return wire_envelope_decode_in(NULL, data, len, max_len, code, corr_id);
}

Liaison__Envelope *wire_envelope_decode_in(arena_t *arena, const void *data, size_t len,
                                           size_t max_len, Liaison__ErrorCode *code,
                                           uint64_t *corr_id)
{
    return wire_envelope_decode_head(arena, data, len, max_len, code, corr_id, NULL, NULL);
}

Liaison__Envelope *wire_envelope_decode_head(arena_t *arena, const void *data, size_t len,
                                             size_t max_len, Liaison__ErrorCode *code,
                                             uint64_t *corr_id, struct wire_span *head,
                                             struct wire_share *share)
{
    if (head)
        *head = (struct wire_span){NULL, 0};
    if (corr_id)
        *corr_id = 0;
    if (len > max_len) {
        /* Not decoded, but its correlation id (field 2, written before any
         * payload) is read so the refusal names the request. */
        if (corr_id)
            *corr_id = peek_corr_id(data, len);
        *code = LIAISON__ERROR_CODE__FRAME_TOO_LARGE;
        return NULL;
    }
    /* A Publish as clients write it, and a Deliver as the broker does, are
     * read by hand (as the stored form is, below); any other frame, or
     * form, by protobuf-c. */
    ProtobufCAllocator al = arena_allocator(arena);
    Liaison__Envelope *env =
        wire_publish_decode_canonical(data, len, arena, head, arena ? share : NULL);
    if (env == NULL)
        env = wire_deliver_decode_canonical(data, len, arena);
    if (env == NULL)
        env = liaison__envelope__unpack(arena ? &al : NULL, len, data);
    if (env == NULL) {
        *code = LIAISON__ERROR_CODE__BAD_FRAME;
        return NULL;
    }
    if (corr_id)
        *corr_id = env->corr_id;
    if (env->version != WIRE_VERSION) {
        *code = LIAISON__ERROR_CODE__BAD_VERSION;
        wire_envelope_free_in(&env, arena);
        return NULL;
    }
    /* protobuf-c keeps unknown fields and re-packs some of them (field
     * number 0, its tag written long, say) into bytes it cannot read back.
     * A stored message must always decode, and a message is stored from a
     * Publish or from a Deliver (what a broker above sends an uplink), so
     * what we do not know is dropped from both, in every part. */
    Liaison__Intel *m = env->kind_case == LIAISON__ENVELOPE__KIND_PUBLISH   ? env->publish->intel
                        : env->kind_case == LIAISON__ENVELOPE__KIND_DELIVER ? env->deliver->intel
                                                                            : NULL;
    if (m) {
        strip_unknown(&m->base, arena);
        if (m->label)
            strip_unknown(&m->label->base, arena);
        if (m->origin)
            strip_unknown(&m->origin->base, arena);
        if (m->route)
            strip_unknown(&m->route->base, arena);
    }
    if (env->kind_case == LIAISON__ENVELOPE__KIND__NOT_SET) {
        *code = LIAISON__ERROR_CODE__UNKNOWN_KIND;
        wire_envelope_free_in(&env, arena);
        return NULL;
    }
    *code = LIAISON__ERROR_CODE__ERROR_NONE;
    return env;
}

void wire_envelope_free(Liaison__Envelope **env)
{
    wire_envelope_free_in(env, NULL);
}

void wire_envelope_free_in(Liaison__Envelope **env, arena_t *arena)
{
    if (env && *env && arena == NULL)
        liaison__envelope__free_unpacked(*env, NULL);
    if (env)
        *env = NULL;
}

void wire_envelope_init(Liaison__Envelope *env, uint64_t corr_id)
{
    liaison__envelope__init(env);
    env->version = WIRE_VERSION;
    env->corr_id = corr_id;
}

/* ---- stored records that do not decode ---------------------------------- */

/* Stored messages and audit records are only ever decoded from a store:
 * one that does not decode was damaged at rest (or written by a newer
 * version). Every reader skips it; this counts and reports them, however
 * many readers meet the same one: a line on the first and then on each
 * power of two, so a damaged record read every pass cannot flood the log. */
static _Atomic uint64_t undecodable[WIRE_STORED_KINDS];

static void undecodable_seen(enum wire_stored kind, size_t len)
{
    static const char *const names[WIRE_STORED_KINDS] = {"message", "audit_record", "checkpoint"};
    uint64_t n = atomic_fetch_add(&undecodable[kind], 1) + 1;
    if ((n & (n - 1)) == 0)
        log_error("event=stored_record_undecodable kind=%s bytes=%zu seen=%llu action=skipped",
                  names[kind], len, (unsigned long long)n);
}

uint64_t wire_stored_undecodable(enum wire_stored kind)
{
    return atomic_load(&undecodable[kind]);
}

Liaison__Intel *wire_intel_decode(const void *data, size_t len)
{
    return wire_intel_decode_in(NULL, data, len, NULL);
}

Liaison__Intel *wire_intel_decode_in(arena_t *arena, const void *data, size_t len,
                                     struct wire_share *share)
{
    Liaison__Intel *fast = wire_intel_decode_canonical(data, len, arena, arena ? share : NULL);
    if (fast)
        return fast;
    ProtobufCAllocator al = arena_allocator(arena);
    Liaison__Intel *m = liaison__intel__unpack(arena ? &al : NULL, len, data);
    if (m == NULL)
        undecodable_seen(WIRE_STORED_MESSAGE, len);
    return m;
}

void wire_intel_free(Liaison__Intel **intel)
{
    wire_intel_free_in(intel, NULL);
}

void wire_intel_free_in(Liaison__Intel **intel, arena_t *arena)
{
    if (intel && *intel && arena == NULL)
        liaison__intel__free_unpacked(*intel, NULL);
    if (intel)
        *intel = NULL;
}

Liaison__Intel *wire_intel_new(void)
{
    Liaison__Intel *m = xmalloc(sizeof *m);
    liaison__intel__init(m);
    m->label = xmalloc(sizeof *m->label);
    liaison__label__init(m->label);
    m->origin = xmalloc(sizeof *m->origin);
    liaison__origin__init(m->origin);
    return m;
}

Liaison__AuditRecord *wire_audit_record_decode(const void *data, size_t len)
{
    Liaison__AuditRecord *r = liaison__audit_record__unpack(NULL, len, data);
    if (r == NULL)
        undecodable_seen(WIRE_STORED_AUDIT, len);
    return r;
}

void wire_audit_record_free(Liaison__AuditRecord **r)
{
    if (r && *r) {
        liaison__audit_record__free_unpacked(*r, NULL);
        *r = NULL;
    }
}

Liaison__AuditCheckpoint *wire_checkpoint_decode(const void *data, size_t len)
{
    Liaison__AuditCheckpoint *c = liaison__audit_checkpoint__unpack(NULL, len, data);
    if (c == NULL)
        undecodable_seen(WIRE_STORED_CHECKPOINT, len);
    return c;
}

size_t wire_checkpoint_size(const Liaison__AuditCheckpoint *c)
{
    return liaison__audit_checkpoint__get_packed_size(c);
}

size_t wire_checkpoint_pack(const Liaison__AuditCheckpoint *c, uint8_t *out)
{
    return liaison__audit_checkpoint__pack(c, out);
}

void wire_checkpoint_free(Liaison__AuditCheckpoint **c)
{
    if (c && *c) {
        liaison__audit_checkpoint__free_unpacked(*c, NULL);
        *c = NULL;
    }
}

Liaison__Origin *wire_intel_new_origin(arena_t *arena)
{
    Liaison__Origin *o = arena ? arena_alloc(arena, sizeof *o) : xmalloc(sizeof *o);
    liaison__origin__init(o);
    return o;
}

char *wire_empty(void)
{
    /* protobuf-c compares string fields with this pointer to know they are
     * unset; it is never written through. */
    return (char *)(uintptr_t)protobuf_c_empty_string;
}

const char *wire_error_name(Liaison__ErrorCode code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&liaison__error_code__descriptor, (int)code);
    return v ? v->name : "UNKNOWN";
}
