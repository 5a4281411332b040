/* test_wire.c — the Envelope on the wire (proto/wire.c): packing and
 * decoding round trips, every way a frame is refused and the code it gets,
 * and the hand-built Deliver frame checked against protobuf-c's own decoder
 * and encoder over many sub_ids, attempts and body sizes, and the audit
 * record's hand encoder against protobuf-c's bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"
#include "wire.h"

#define MAX_FRAME (1u << 20)

/* Packs env into a malloc'd buffer of exactly its size (so ASan sees any
 * write past it). */
static uint8_t *pack(const Liaison__Envelope *env, size_t *len)
{
    size_t n = wire_envelope_size(env);
    uint8_t *buf = xmalloc(n ? n : 1);
    assert_int_equal(wire_envelope_pack(env, buf), n);
    *len = n;
    return buf;
}

static void set_str(char **field, const char *v)
{
    if (*field != NULL && *field != wire_empty())
        free(*field);
    *field = xstrdup(v);
}

static void push_str(char ***arr, size_t *n, const char *v)
{
    *arr = xrealloc(*arr, (*n + 1) * sizeof **arr);
    (*arr)[(*n)++] = xstrdup(v);
}

/* A full message with a body of body_len bytes (a repeating pattern). */
static Liaison__Intel *sample_intel(size_t body_len)
{
    Liaison__Intel *m = wire_intel_new();
    set_str(&m->topic, "alert.yorkshire.hmp-hull.contraband");
    set_str(&m->msg_id, "hull-2026-000123");
    set_str(&m->content_type, "text/plain");
    Liaison__Label *l = m->label;
    l->classification = LIAISON__CLASSIFICATION__OFFICIAL_SENSITIVE;
    push_str(&l->caveats, &l->n_caveats, "PRISON-INTEL");
    l->source_grade = 2;
    set_str(&l->intel_grade, "B");
    l->handling = LIAISON__HANDLING__HANDLING_C;
    set_str(&l->conditions, "ROCU use only");
    l->no_onward_sharing = 1;
    l->sanitisation = LIAISON__SANITISATION__S2;
    push_str(&l->release_to, &l->n_release_to, "type:rocu");
    push_str(&l->release_to, &l->n_release_to, "agency:humberside-police");
    l->risk = LIAISON__RISK__HIGH;
    set_str(&l->risk_basis, "OCGM band 1");
    set_str(&l->risk_ref, "OCG-4471");
    push_str(&l->subjects, &l->n_subjects, "A1234BC");
    set_str(&l->review_at, "2027-11-25");
    set_str(&m->origin->agent, "humberside-police");
    set_str(&m->origin->agency, "Humberside Police");
    set_str(&m->origin->type, "police");
    set_str(&m->origin->region, "yorkshire");
    m->received_at_us = 1795000000123456;
    m->seq = 42;
    if (body_len) {
        m->body.data = xmalloc(body_len);
        for (size_t i = 0; i < body_len; i++)
            m->body.data[i] = (uint8_t)(i * 7 + 3);
        m->body.len = body_len;
    }
    return m;
}

/* Two messages are equal when they pack to the same bytes (protobuf-c
 * writes fields in number order, so this is deterministic), and spot checks
 * make a failure readable. */
static void assert_intel_equal(const Liaison__Intel *a, const Liaison__Intel *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a->topic, b->topic);
    assert_string_equal(a->msg_id, b->msg_id);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->body.len, b->body.len);
    if (a->body.len)
        assert_memory_equal(a->body.data, b->body.data, a->body.len);
    size_t na = wire_intel_size(a), nb = wire_intel_size(b);
    assert_int_equal(na, nb);
    uint8_t *pa = xmalloc(na + 1), *pb = xmalloc(nb + 1);
    assert_int_equal(wire_intel_pack(a, pa), na);
    assert_int_equal(wire_intel_pack(b, pb), nb);
    assert_memory_equal(pa, pb, na);
    free(pa);
    free(pb);
}

/* m as a Publish frame under corr_id, packed by protobuf-c; caller frees. */
static uint8_t *publish_frame(Liaison__Intel *m, uint64_t corr_id, size_t *len)
{
    Liaison__Publish pub = LIAISON__PUBLISH__INIT;
    pub.intel = m;
    Liaison__Envelope env;
    wire_envelope_init(&env, corr_id);
    env.kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
    env.publish = &pub;
    return pack(&env, len);
}

static void test_wire_publish_envelope_round_trips(void **state)
{
    (void)state;
    Liaison__Intel *m = sample_intel(64);
    size_t len;
    uint8_t *frame = publish_frame(m, 7, &len);

    Liaison__ErrorCode code = LIAISON__ERROR_CODE__INTERNAL;
    uint64_t corr = 0;
    Liaison__Envelope *got = wire_envelope_decode(frame, len, MAX_FRAME, &code, &corr);
    assert_non_null(got);
    assert_int_equal(code, LIAISON__ERROR_CODE__ERROR_NONE);
    assert_int_equal(corr, 7);
    assert_int_equal(got->version, WIRE_VERSION);
    assert_int_equal(got->corr_id, 7);
    assert_int_equal(got->kind_case, LIAISON__ENVELOPE__KIND_PUBLISH);
    assert_intel_equal(got->publish->intel, m);
    assert_string_equal(got->publish->intel->label->caveats[0], "PRISON-INTEL");
    assert_string_equal(got->publish->intel->origin->region, "yorkshire");

    /* protobuf-c's encoding of a Publish is the form read by hand, to the
     * same Envelope. */
    Liaison__Envelope *fast = wire_publish_decode_canonical(frame, len, NULL, NULL, NULL);
    assert_non_null(fast);
    assert_int_equal(fast->corr_id, 7);
    assert_intel_equal(fast->publish->intel, m);
    uint8_t *again = xmalloc(len);
    assert_int_equal(wire_envelope_pack(fast, again), len);
    assert_memory_equal(again, frame, len);
    free(again);
    wire_envelope_free(&fast);

    wire_envelope_free(&got);
    assert_null(got);
    free(frame);
    wire_intel_free(&m);
}

/* A Publish read by hand gives its head: the bytes below origin as sent.
 * The head and a new stamp (origin, time, seq; the client's dropped) are
 * the bytes wire_intel_pack writes of the stamped message; a frame with a
 * varint longer than it need be is protobuf-c's to read, and has none. */
static void test_wire_a_publish_head_and_its_stamp_are_the_stored_form(void **state)
{
    (void)state;
    Liaison__Intel *m = sample_intel(300);
    size_t len;
    uint8_t *frame = publish_frame(m, 9, &len);
    Liaison__ErrorCode code;
    struct wire_span head;
    Liaison__Envelope *got =
        wire_envelope_decode_head(NULL, frame, len, MAX_FRAME, &code, NULL, &head, NULL);
    assert_non_null(got);
    assert_non_null(head.data);
    Liaison__Intel *in = got->publish->intel;
    set_str(&in->origin->agent, "prison-hull");
    set_str(&in->origin->region, "");
    in->received_at_us = 1796000000000000;
    in->seq = 7;
    size_t n = wire_intel_size(in);
    assert_int_equal(head.len + wire_intel_stamp_size(in, NULL), n);
    uint8_t *whole = xmalloc(n), *stamped = xmalloc(n);
    assert_int_equal(wire_intel_pack(in, whole), n);
    assert_int_equal(wire_intel_pack_stamped(&head, NULL, in, stamped), n);
    assert_memory_equal(whole, stamped, n);
    /* The same with the origin packed once beforehand, as the broker
     * keeps it for each publisher. */
    uint8_t origin[256];
    assert_true(wire_origin_size(in->origin) <= sizeof origin);
    struct wire_span packed = {origin, wire_origin_pack(in->origin, origin)};
    assert_int_equal(packed.len, wire_origin_size(in->origin));
    assert_int_equal(head.len + wire_intel_stamp_size(in, &packed), n);
    memset(stamped, 0, n);
    assert_int_equal(wire_intel_pack_stamped(&head, &packed, in, stamped), n);
    assert_memory_equal(whole, stamped, n);
    free(whole);
    free(stamped);
    wire_envelope_free(&got);

    /* Version 1 written in two bytes (0x81 0x00): the same Envelope to
     * protobuf-c, no head. */
    uint8_t *loose = xmalloc(len + 1);
    assert_int_equal(frame[0], 0x08);
    assert_int_equal(frame[1], 0x01);
    loose[0] = 0x08;
    loose[1] = 0x81;
    loose[2] = 0x00;
    memcpy(loose + 3, frame + 2, len - 2);
    assert_null(wire_publish_decode_canonical(loose, len + 1, NULL, NULL, NULL));
    got = wire_envelope_decode_head(NULL, loose, len + 1, MAX_FRAME, &code, NULL, &head, NULL);
    assert_non_null(got);
    assert_null(head.data);
    assert_intel_equal(got->publish->intel, m);
    wire_envelope_free(&got);
    free(loose);
    free(frame);

    /* A NUL inside a string, "hull\0" for "hull-" (where the C string
     * would end): protobuf-c's to read, no head. */
    frame = publish_frame(m, 9, &len);
    uint8_t *at = memmem(frame, len, "hull-2026", 9);
    assert_non_null(at);
    at[4] = '\0';
    assert_null(wire_publish_decode_canonical(frame, len, NULL, NULL, NULL));
    got = wire_envelope_decode_head(NULL, frame, len, MAX_FRAME, &code, NULL, &head, NULL);
    assert_non_null(got);
    assert_null(head.data);
    wire_envelope_free(&got);
    free(frame);
    wire_intel_free(&m);
}

/* The stored form of m, packed; caller frees. */
static uint8_t *stored_form(const Liaison__Intel *m, size_t *len)
{
    *len = wire_intel_size(m);
    uint8_t *b = xmalloc(*len + 1);
    assert_int_equal(wire_intel_pack(m, b), *len);
    return b;
}

/* Messages decoded into one arena with a share: the next one whose Label
 * (or Origin) bytes are the same holds the one decoded before; one whose
 * bytes differ gets its own, and is kept for the next; cleared, nothing is
 * shared. Every one decodes as malloc decodes it. */
static void test_wire_messages_in_one_arena_share_a_label_and_origin(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    struct wire_share share;
    memset(&share, 0, sizeof share);
    Liaison__Intel *m1 = sample_intel(10), *m2 = sample_intel(20), *m3 = sample_intel(30);
    set_str(&m2->msg_id, "hull-2026-000124");
    m3->label->risk = LIAISON__RISK__MEDIUM;
    set_str(&m3->origin->agent, "hmp-hull");
    size_t l1, l2, l3;
    uint8_t *b1 = stored_form(m1, &l1), *b2 = stored_form(m2, &l2), *b3 = stored_form(m3, &l3);

    Liaison__Intel *d1 = wire_intel_decode_in(a, b1, l1, &share);
    Liaison__Intel *d2 = wire_intel_decode_in(a, b2, l2, &share);
    assert_true(d2->label == d1->label);
    assert_true(d2->origin == d1->origin);
    Liaison__Intel *d3 = wire_intel_decode_in(a, b3, l3, &share);
    assert_true(d3->label != d1->label);
    assert_true(d3->origin != d1->origin);
    assert_int_equal(d3->label->risk, LIAISON__RISK__MEDIUM);
    assert_string_equal(d3->origin->agent, "hmp-hull");
    Liaison__Intel *d4 = wire_intel_decode_in(a, b3, l3, &share);
    assert_true(d4->label == d3->label); /* the one kept last */
    assert_intel_equal(d1, m1);
    assert_intel_equal(d2, m2);
    assert_intel_equal(d3, m3);
    assert_intel_equal(d4, m3);

    arena_reset(a);
    memset(&share, 0, sizeof share);
    Liaison__Intel *e1 = wire_intel_decode_in(a, b1, l1, &share);
    Liaison__Intel *e2 = wire_intel_decode_in(a, b2, l2, NULL);
    assert_true(e2->label != e1->label);
    assert_intel_equal(e2, m2);
    /* Without an arena there is nothing to share: each is freed alone. */
    Liaison__Intel *f1 = wire_intel_decode_in(NULL, b1, l1, &share);
    assert_true(f1->label != e1->label);
    wire_intel_free(&f1);

    /* Publishes decoded into one arena share their Label the same way,
     * never their Origin: the broker overwrites it in each it accepts. */
    arena_reset(a);
    memset(&share, 0, sizeof share);
    size_t fl1, fl2;
    uint8_t *f1b = publish_frame(m1, 1, &fl1), *f2b = publish_frame(m2, 2, &fl2);
    Liaison__ErrorCode code;
    Liaison__Envelope *p1 =
        wire_envelope_decode_head(a, f1b, fl1, MAX_FRAME, &code, NULL, NULL, &share);
    Liaison__Envelope *p2 =
        wire_envelope_decode_head(a, f2b, fl2, MAX_FRAME, &code, NULL, NULL, &share);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_true(p2->publish->intel->label == p1->publish->intel->label);
    assert_true(p2->publish->intel->origin != p1->publish->intel->origin);
    assert_intel_equal(p2->publish->intel, m2);
    free(f1b);
    free(f2b);

    free(b1);
    free(b2);
    free(b3);
    wire_intel_free(&m1);
    wire_intel_free(&m2);
    wire_intel_free(&m3);
    arena_destroy(&a);
}

/* Decoded into an arena, a frame is what malloc decodes, in either path
 * (the hand-read Publish, protobuf-c for the rest, unknown fields dropped),
 * and its free only forgets it: the arena takes it back. */
static void test_wire_decodes_into_an_arena_what_malloc_decodes(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    Liaison__Intel *m = sample_intel(64);
    size_t len;
    uint8_t *frame = publish_frame(m, 7, &len);
    Liaison__ErrorCode code;

    Liaison__Envelope *got = wire_envelope_decode_in(a, frame, len, MAX_FRAME, &code, NULL);
    assert_non_null(got);
    assert_int_equal(code, LIAISON__ERROR_CODE__ERROR_NONE);
    assert_intel_equal(got->publish->intel, m);
    assert_true(arena_used(a) > 64);
    wire_envelope_free_in(&got, a);
    assert_null(got);

    /* A stored message (the Intel ends the frame) with a field the hand
     * reader does not take: protobuf-c decodes it, into the arena. */
    static const uint8_t unknown[] = {0xf8, 0x01, 0x01}; /* field 31, varint 1 */
    Liaison__Envelope *plain = wire_envelope_decode(frame, len, MAX_FRAME, &code, NULL);
    assert_non_null(plain);
    size_t ilen = wire_intel_size(plain->publish->intel);
    wire_envelope_free(&plain);
    Liaison__Intel *with = wire_intel_decode_in(a, frame + len - ilen, ilen, NULL);
    assert_non_null(with);
    assert_intel_equal(with, m);
    uint8_t *stored = xmalloc(ilen + sizeof unknown);
    memcpy(stored, frame + len - ilen, ilen);
    memcpy(stored + ilen, unknown, sizeof unknown);
    assert_null(wire_intel_decode_canonical(stored, ilen + sizeof unknown, a, NULL));
    Liaison__Intel *slow = wire_intel_decode_in(a, stored, ilen + sizeof unknown, NULL);
    assert_non_null(slow);
    assert_string_equal(slow->topic, m->topic);
    assert_string_equal(slow->label->caveats[0], "PRISON-INTEL");
    assert_int_equal(slow->base.n_unknown_fields, 1);
    wire_intel_free_in(&slow, a);
    assert_null(slow);

    /* Another kind, through protobuf-c into the arena. */
    Liaison__Subscribe sub = LIAISON__SUBSCRIBE__INIT;
    char pattern[] = "alert.yorkshire.>";
    sub.sub_id = 3;
    sub.pattern = pattern;
    Liaison__Envelope senv;
    wire_envelope_init(&senv, 8);
    senv.kind_case = LIAISON__ENVELOPE__KIND_SUBSCRIBE;
    senv.subscribe = &sub;
    size_t slen;
    uint8_t *sframe = pack(&senv, &slen);
    Liaison__Envelope *sgot = wire_envelope_decode_in(a, sframe, slen, MAX_FRAME, &code, NULL);
    assert_non_null(sgot);
    assert_string_equal(sgot->subscribe->pattern, pattern);
    uint8_t *again = xmalloc(slen);
    assert_int_equal(wire_envelope_pack(sgot, again), slen);
    assert_memory_equal(again, sframe, slen);
    wire_envelope_free_in(&sgot, a);

    arena_reset(a);
    assert_int_equal(arena_used(a), 0);
    free(again);
    free(sframe);
    free(stored);
    free(frame);
    wire_intel_free(&m);
    arena_destroy(&a);
}

static void test_wire_other_kinds_round_trip(void **state)
{
    (void)state;
    uint64_t seqs[] = {1, 2, 300, UINT64_MAX};
    char pattern[] = "alert.yorkshire.>", msg[] = "map full", what[] = "status";

    for (int kind = 0; kind < 5; kind++) {
        Liaison__Envelope env;
        Liaison__Subscribe sub = LIAISON__SUBSCRIBE__INIT;
        Liaison__Ack ack = LIAISON__ACK__INIT;
        Liaison__Error err = LIAISON__ERROR__INIT;
        Liaison__StatusRequest sr = LIAISON__STATUS_REQUEST__INIT;
        Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
        wire_envelope_init(&env, UINT64_MAX - (uint64_t)kind);
        switch (kind) {
        case 0:
            sub.sub_id = 9;
            sub.pattern = pattern;
            sub.credit = 100000;
            env.kind_case = LIAISON__ENVELOPE__KIND_SUBSCRIBE;
            env.subscribe = &sub;
            break;
        case 1:
            ack.sub_id = UINT32_MAX;
            ack.seqs = seqs;
            ack.n_seqs = sizeof seqs / sizeof seqs[0];
            env.kind_case = LIAISON__ENVELOPE__KIND_ACK;
            env.ack = &ack;
            break;
        case 2:
            err.code = LIAISON__ERROR_CODE__STORE_FULL;
            err.message = msg;
            err.seq = 12;
            env.kind_case = LIAISON__ENVELOPE__KIND_ERROR;
            env.error = &err;
            break;
        case 3:
            sr.what = what;
            env.kind_case = LIAISON__ENVELOPE__KIND_STATUS_REQUEST;
            env.status_request = &sr;
            break;
        default:
            hb.time_us = -5; /* an empty-valued kind is still a kind */
            env.kind_case = LIAISON__ENVELOPE__KIND_HEARTBEAT;
            env.heartbeat = &hb;
            break;
        }
        size_t len;
        uint8_t *frame = pack(&env, &len);
        Liaison__ErrorCode code;
        uint64_t corr;
        Liaison__Envelope *got = wire_envelope_decode(frame, len, MAX_FRAME, &code, &corr);
        assert_non_null(got);
        assert_int_equal(code, LIAISON__ERROR_CODE__ERROR_NONE);
        assert_int_equal(corr, UINT64_MAX - (uint64_t)kind);
        assert_int_equal(got->kind_case, env.kind_case);
        switch (kind) {
        case 0:
            assert_int_equal(got->subscribe->sub_id, 9);
            assert_string_equal(got->subscribe->pattern, pattern);
            assert_int_equal(got->subscribe->credit, 100000);
            break;
        case 1:
            assert_int_equal(got->ack->sub_id, UINT32_MAX);
            assert_int_equal(got->ack->n_seqs, 4);
            assert_memory_equal(got->ack->seqs, seqs, sizeof seqs);
            break;
        case 2:
            assert_int_equal(got->error->code, LIAISON__ERROR_CODE__STORE_FULL);
            assert_string_equal(got->error->message, msg);
            assert_int_equal(got->error->seq, 12);
            break;
        case 3:
            assert_string_equal(got->status_request->what, what);
            break;
        default:
            assert_int_equal(got->heartbeat->time_us, -5);
            break;
        }
        wire_envelope_free(&got);
        free(frame);
    }
}

static void test_wire_refuses_garbage_as_bad_frame(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
    } garbage[] = {
        {"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11}, /* endless varint */
        {"\x00\x00", 2},                                      /* field number 0 */
        {"\x08", 1},                                          /* tag without value */
        {"\x62\x05\x0a", 3},                                  /* publish longer than frame */
        {"\x62\xff\xff\xff\xff\x0f", 6},                      /* 4 GiB publish */
        {"\x0f\x01", 2},                                      /* wire type 7 */
        {"GET / HTTP/1.1\r\n\r\n", 18},
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        Liaison__ErrorCode code = LIAISON__ERROR_CODE__ERROR_NONE;
        uint64_t corr = 12345;
        Liaison__Envelope *env =
            wire_envelope_decode(garbage[i].bytes, garbage[i].len, MAX_FRAME, &code, &corr);
        if (env != NULL || code != LIAISON__ERROR_CODE__BAD_FRAME)
            fail_msg("garbage %zu: env %p code %d, want BAD_FRAME", i, (void *)env, code);
        /* Nothing decoded, so no stale id is left for the reply. */
        assert_int_equal(corr, 0);
    }
}

static void test_wire_refuses_truncated_frame_as_bad_frame(void **state)
{
    (void)state;
    Liaison__Intel *m = sample_intel(300);
    size_t len;
    uint8_t *frame = publish_frame(m, 1000, &len);

    /* version (2 bytes) + corr_id (tag + 2-byte varint), then the publish,
     * whose length prefix promises more than any cut-off frame holds. */
    size_t header = 2 + 1 + 2;
    assert_int_equal(frame[header], (12u << 3) | 2u);
    for (size_t cut = header + 1; cut < len; cut++) {
        /* A copy of exactly cut bytes, so reading past it is caught. */
        uint8_t *part = xmalloc(cut);
        memcpy(part, frame, cut);
        Liaison__ErrorCode code = LIAISON__ERROR_CODE__ERROR_NONE;
        Liaison__Envelope *got = wire_envelope_decode(part, cut, MAX_FRAME, &code, NULL);
        if (got != NULL || code != LIAISON__ERROR_CODE__BAD_FRAME)
            fail_msg("frame cut to %zu of %zu bytes: code %d, want BAD_FRAME", cut, len, code);
        free(part);
    }
    /* Cut inside the corr_id varint. */
    Liaison__ErrorCode code = LIAISON__ERROR_CODE__ERROR_NONE;
    assert_null(wire_envelope_decode(frame, 4, MAX_FRAME, &code, NULL));
    assert_int_equal(code, LIAISON__ERROR_CODE__BAD_FRAME);

    free(frame);
    wire_intel_free(&m);
}

static void test_wire_refuses_frame_over_max_before_decoding(void **state)
{
    (void)state;
    Liaison__Hello hello = LIAISON__HELLO__INIT;
    char client[] = "liaisonctl 0.1";
    hello.client = client;
    Liaison__Envelope env;
    wire_envelope_init(&env, 3);
    env.kind_case = LIAISON__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    size_t len;
    uint8_t *frame = pack(&env, &len);

    Liaison__ErrorCode code = LIAISON__ERROR_CODE__ERROR_NONE;
    uint64_t corr = 99;
    assert_null(wire_envelope_decode(frame, len, len - 1, &code, &corr));
    assert_int_equal(code, LIAISON__ERROR_CODE__FRAME_TOO_LARGE);
    /* Not decoded, yet its corr_id is read so the refusal names it. */
    assert_int_equal(corr, 3);

    /* Exactly max is allowed. */
    Liaison__Envelope *got = wire_envelope_decode(frame, len, len, &code, &corr);
    assert_non_null(got);
    assert_int_equal(code, LIAISON__ERROR_CODE__ERROR_NONE);
    assert_int_equal(corr, 3);
    wire_envelope_free(&got);

    /* The size is checked first: oversized garbage is FRAME_TOO_LARGE. */
    static const uint8_t junk[16] = {0xff, 0xff, 0xff};
    assert_null(wire_envelope_decode(junk, sizeof junk, 8, &code, NULL));
    assert_int_equal(code, LIAISON__ERROR_CODE__FRAME_TOO_LARGE);
    free(frame);
}

static void test_wire_wrong_version_still_reports_corr_id(void **state)
{
    (void)state;
    const uint32_t versions[] = {0, 2, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        Liaison__Hello hello = LIAISON__HELLO__INIT;
        Liaison__Envelope env;
        wire_envelope_init(&env, 0x1234567890ULL);
        env.version = versions[i];
        env.kind_case = LIAISON__ENVELOPE__KIND_HELLO;
        env.hello = &hello;
        size_t len;
        uint8_t *frame = pack(&env, &len);

        Liaison__ErrorCode code = LIAISON__ERROR_CODE__ERROR_NONE;
        uint64_t corr = 0;
        assert_null(wire_envelope_decode(frame, len, MAX_FRAME, &code, &corr));
        assert_int_equal(code, LIAISON__ERROR_CODE__BAD_VERSION);
        assert_int_equal(corr, 0x1234567890ULL);
        /* corr_id may be NULL. */
        assert_null(wire_envelope_decode(frame, len, MAX_FRAME, &code, NULL));
        assert_int_equal(code, LIAISON__ERROR_CODE__BAD_VERSION);
        free(frame);
    }
}

static void test_wire_refuses_envelope_without_kind(void **state)
{
    (void)state;
    Liaison__Envelope env;
    wire_envelope_init(&env, 55);
    size_t len;
    uint8_t *frame = pack(&env, &len);
    Liaison__ErrorCode code = LIAISON__ERROR_CODE__ERROR_NONE;
    uint64_t corr = 0;
    assert_null(wire_envelope_decode(frame, len, MAX_FRAME, &code, &corr));
    assert_int_equal(code, LIAISON__ERROR_CODE__UNKNOWN_KIND);
    /* The Error reply echoes the client's corr_id. */
    assert_int_equal(corr, 55);
    free(frame);

    /* An unknown field (a kind from a newer peer) is still no kind here. */
    static const uint8_t newer[] = {0x08, 0x01, 0x10, 0x05, 0x9a, 0x06, 0x00}; /* field 99 */
    assert_null(wire_envelope_decode(newer, sizeof newer, MAX_FRAME, &code, &corr));
    assert_int_equal(code, LIAISON__ERROR_CODE__UNKNOWN_KIND);
    assert_int_equal(corr, 5);
}

static void test_wire_empty_frame_is_version_zero(void **state)
{
    (void)state;
    /* Zero bytes decode to an empty Envelope: its version is 0. */
    Liaison__ErrorCode code = LIAISON__ERROR_CODE__ERROR_NONE;
    uint64_t corr = 1;
    assert_null(wire_envelope_decode("", 0, MAX_FRAME, &code, &corr));
    assert_int_equal(code, LIAISON__ERROR_CODE__BAD_VERSION);
    assert_int_equal(corr, 0);
}

/* Packs a Deliver with wire_deliver_pack into a buffer of exactly
 * wire_deliver_size bytes and checks protobuf-c decodes it to the same. */
static void check_deliver(uint32_t sub_id, uint32_t attempt, int notice, size_t body_len)
{
    Liaison__Intel *m = sample_intel(body_len);
    size_t ilen = wire_intel_size(m);
    uint8_t *packed = xmalloc(ilen ? ilen : 1);
    assert_int_equal(wire_intel_pack(m, packed), ilen);

    size_t cap = wire_deliver_size(ilen);
    uint8_t *out = xmalloc(cap);
    size_t n = wire_deliver_pack(sub_id, attempt, notice, packed, ilen, out);
    assert_true(n <= cap);
    assert_true(n > ilen);

    Liaison__ErrorCode code = LIAISON__ERROR_CODE__INTERNAL;
    uint64_t corr = 99;
    Liaison__Envelope *env = wire_envelope_decode(out, n, SIZE_MAX, &code, &corr);
    if (env == NULL)
        fail_msg("deliver sub_id=%u attempt=%u notice=%d body=%zu: code %d", sub_id, attempt,
                 notice, body_len, code);
    assert_int_equal(code, LIAISON__ERROR_CODE__ERROR_NONE);
    assert_int_equal(corr, 0); /* broker-initiated frames carry corr_id 0 */
    assert_int_equal(env->version, WIRE_VERSION);
    assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_DELIVER);
    assert_int_equal(env->deliver->sub_id, sub_id);
    assert_int_equal(env->deliver->attempt, attempt);
    assert_int_equal(env->deliver->notice, notice ? 1 : 0);
    assert_intel_equal(env->deliver->intel, m);

    /* With nothing left at its default, protobuf-c's own encoder writes the
     * very same bytes: the hand-written tags are the contract's. */
    if (sub_id != 0 && attempt != 0) {
        Liaison__Deliver d = LIAISON__DELIVER__INIT;
        d.sub_id = sub_id;
        d.attempt = attempt;
        d.notice = notice ? 1 : 0;
        d.intel = m;
        Liaison__Envelope e;
        wire_envelope_init(&e, 0);
        e.kind_case = LIAISON__ENVELOPE__KIND_DELIVER;
        e.deliver = &d;
        size_t rlen;
        uint8_t *ref = pack(&e, &rlen);
        assert_int_equal(rlen, n);
        assert_memory_equal(ref, out, n);
        free(ref);
    }

    /* The hand reader takes what wire_deliver_pack writes, but a zero the
     * form leaves out, into the Envelope protobuf-c reads. */
    Liaison__Envelope *fast = wire_deliver_decode_canonical(out, n, NULL);
    if (sub_id == 0 || attempt == 0) {
        assert_null(fast);
    } else {
        /* protobuf-c writes these bytes (above): the same Envelope. */
        assert_non_null(fast);
        assert_int_equal(wire_envelope_size(fast), n);
        uint8_t *again = xmalloc(n);
        assert_int_equal(wire_envelope_pack(fast, again), n);
        assert_memory_equal(again, out, n);
        free(again);
        wire_envelope_free(&fast);
    }

    wire_envelope_free(&env);
    free(out);
    free(packed);
    wire_intel_free(&m);
}

static void test_wire_deliver_pack_decodes_as_the_same_deliver(void **state)
{
    (void)state;
    const uint32_t sub_ids[] = {0, 1, 127, 128, 16383, 16384, 2097152, UINT32_MAX};
    const uint32_t attempts[] = {0, 1, 2, 300, UINT32_MAX};
    /* Bodies around the points where the intel's and the Deliver's length
     * varints grow to 2, 3 and 4 bytes. */
    const size_t bodies[] = {0, 1, 100, 127, 128, 200, 16383, 16384, 16500, 70000, 2100000};
    for (size_t i = 0; i < sizeof sub_ids / sizeof sub_ids[0]; i++)
        for (size_t j = 0; j < sizeof attempts / sizeof attempts[0]; j++)
            for (int notice = 0; notice <= 1; notice++)
                check_deliver(sub_ids[i], attempts[j], notice, 200);
    for (size_t k = 0; k < sizeof bodies / sizeof bodies[0]; k++) {
        check_deliver(1, 1, 0, bodies[k]);
        check_deliver(UINT32_MAX, 3, 1, bodies[k]);
        check_deliver(0, 0, 0, bodies[k]);
    }
}

static void test_wire_deliver_pack_of_empty_intel(void **state)
{
    (void)state;
    /* A message with every field at its default packs to zero bytes. */
    uint8_t out[64];
    assert_true(wire_deliver_size(0) <= sizeof out);
    size_t n = wire_deliver_pack(5, 1, 1, "", 0, out);
    Liaison__ErrorCode code;
    Liaison__Envelope *env = wire_envelope_decode(out, n, MAX_FRAME, &code, NULL);
    assert_non_null(env);
    assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_DELIVER);
    assert_int_equal(env->deliver->sub_id, 5);
    assert_int_equal(env->deliver->attempt, 1);
    assert_true(env->deliver->notice);
    assert_non_null(env->deliver->intel);
    assert_string_equal(env->deliver->intel->topic, "");
    assert_int_equal(env->deliver->intel->body.len, 0);
    wire_envelope_free(&env);
}

static void test_wire_intel_round_trips_as_stored_form(void **state)
{
    (void)state;
    Liaison__Intel *m = sample_intel(1000);
    size_t n = wire_intel_size(m);
    uint8_t *buf = xmalloc(n);
    assert_int_equal(wire_intel_pack(m, buf), n);
    Liaison__Intel *back = wire_intel_decode(buf, n);
    assert_intel_equal(back, m);
    assert_int_equal(back->label->source_grade, 2);
    assert_true(back->label->no_onward_sharing);
    assert_int_equal(back->received_at_us, 1795000000123456);
    wire_intel_free(&back);
    assert_null(back);

    /* Truncated stored bytes do not decode. */
    assert_null(wire_intel_decode(buf, n - 1));
    free(buf);
    wire_intel_free(&m);

    /* Freeing NULL, or through a NULL pointer, is harmless. */
    wire_intel_free(&m);
    wire_intel_free(NULL);
    Liaison__Envelope *none = NULL;
    wire_envelope_free(&none);
    wire_envelope_free(NULL);
}

static void test_wire_intel_new_is_empty_with_label_and_origin(void **state)
{
    (void)state;
    Liaison__Intel *m = wire_intel_new();
    assert_non_null(m->label);
    assert_non_null(m->origin);
    assert_ptr_equal(m->topic, wire_empty());
    assert_string_equal(wire_empty(), "");
    assert_int_equal(m->label->classification, 0);
    assert_int_equal(m->label->n_caveats, 0);
    assert_int_equal(m->body.len, 0);
    assert_int_equal(wire_intel_size(m), 4); /* two empty sub-messages: tag + 0 each */
    wire_intel_free(&m);

    /* An origin added to a decoded message is freed with it. */
    Liaison__Intel *d = wire_intel_decode("", 0);
    assert_non_null(d);
    assert_null(d->origin);
    d->origin = wire_intel_new_origin(NULL);
    set_str(&d->origin->agent, "ops");
    wire_intel_free(&d);
}

static void test_wire_accepted_publish_repacks_to_decodable_bytes(void **state)
{
    (void)state;
    /* The broker stores wire_intel_pack of the Intel it decoded, and reads
     * it back with wire_intel_decode for replay and delivery: whatever
     * wire_envelope_decode accepts must survive that trip. This frame
     * carries an unknown field numbered 0 inside the Intel, its tag written
     * as a two-byte varint (80 00); found by tests/fuzz/fuzz_envelope.c. */
    static const uint8_t frame[] = {
        0x08, 0x01,                 /* version 1 */
        0x62, 0x0a,                 /* publish, 10 bytes */
        0x0a, 0x08,                 /* intel, 8 bytes */
        0x0a, 0x03, 'a',  '.', 'b', /* topic "a.b" */
        0x80, 0x00, 0x05,           /* field 0, varint 5 */
    };
    Liaison__ErrorCode code = LIAISON__ERROR_CODE__INTERNAL;
    Liaison__Envelope *env = wire_envelope_decode(frame, sizeof frame, MAX_FRAME, &code, NULL);
    if (env == NULL) {
        /* Refusing the frame is a correct answer too. */
        assert_int_equal(code, LIAISON__ERROR_CODE__BAD_FRAME);
        return;
    }
    assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_PUBLISH);
    const Liaison__Intel *m = env->publish->intel;
    size_t n = wire_intel_size(m);
    uint8_t *stored = xmalloc(n);
    assert_int_equal(wire_intel_pack(m, stored), n);
    Liaison__Intel *back = wire_intel_decode(stored, n);
    free(stored);
    wire_envelope_free(&env);
    if (back == NULL)
        fail_msg("an accepted publish was stored as bytes wire_intel_decode refuses");
    assert_string_equal(back->topic, "a.b");
    wire_intel_free(&back);
}

/* A stored record that does not decode is counted, by kind, each time one
 * is read; one that decodes is not. */
static void test_wire_counts_stored_records_that_do_not_decode(void **state)
{
    (void)state;
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    uint64_t m0 = wire_stored_undecodable(WIRE_STORED_MESSAGE);
    uint64_t a0 = wire_stored_undecodable(WIRE_STORED_AUDIT);
    assert_null(wire_intel_decode(garbage, sizeof garbage));
    assert_null(wire_intel_decode(garbage, sizeof garbage));
    assert_null(wire_audit_record_decode(garbage, sizeof garbage));
    assert_int_equal(wire_stored_undecodable(WIRE_STORED_MESSAGE), m0 + 2);
    assert_int_equal(wire_stored_undecodable(WIRE_STORED_AUDIT), a0 + 1);
    Liaison__Intel *m = wire_intel_new();
    m->topic = xstrdup("alert.a");
    uint8_t buf[256];
    size_t n = wire_intel_pack(m, buf);
    wire_intel_free(&m);
    m = wire_intel_decode(buf, n);
    assert_non_null(m);
    wire_intel_free(&m);
    assert_int_equal(wire_stored_undecodable(WIRE_STORED_MESSAGE), m0 + 2);
}

/* Whatever arrives as a message (a Publish, or a Deliver from the broker
 * above) is stored as it decoded: the fields protobuf-c did not know, in
 * the message and in its label, origin and route, are dropped, or their
 * re-packed form (field number 0, say) would not decode again (found by
 * fuzz_envelope in a Deliver). */
static void test_wire_a_delivered_message_repacks_to_decodable_bytes(void **state)
{
    (void)state;
    static const uint8_t stored[] = {
        0x0a, 0x07, 'a',  'l',  'e', 'r',  't',  '.',  'a', /* topic */
        0x82, 0x00, 0x00, /* field 0, bytes, its tag written long: unknown */
        0x4a, 0x06, 0x0a, 0x01, 'x', 0x82, 0x00, 0x00, /* a route, the same inside */
    };
    uint8_t frame[128];
    size_t len = wire_deliver_pack(3, 1, 0, stored, sizeof stored, frame);
    Liaison__ErrorCode code;
    Liaison__Envelope *env = wire_envelope_decode(frame, len, sizeof frame, &code, NULL);
    assert_non_null(env);
    assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_DELIVER);
    Liaison__Intel *m = env->deliver->intel;
    assert_non_null(m);
    uint8_t again[128];
    size_t n = wire_intel_pack(m, again);
    Liaison__Intel *back = wire_intel_decode(again, n);
    assert_non_null(back);
    assert_string_equal(back->topic, "alert.a");
    assert_non_null(back->route);
    assert_string_equal(back->route->origin_broker, "x");
    wire_intel_free(&back);
    wire_envelope_free(&env);
}

/* Gathered frames: none is nothing to send, one goes as itself, several as
 * one Batch Envelope that protobuf-c decodes to the same frames in order;
 * after a reset it starts again. */
static void test_wire_gathers_frames_into_one_batch(void **state)
{
    (void)state;
    struct wire_gather g = {0};
    size_t n;
    assert_null(wire_gather_frame(&g, &n));
    assert_int_equal(n, 0);
    uint8_t frames[3][300];
    size_t lens[3] = {3, 200, 300};
    for (int i = 0; i < 3; i++)
        memset(frames[i], 'a' + i, lens[i]);
    wire_gather_add(&g, frames[0], lens[0]);
    const uint8_t *out = wire_gather_frame(&g, &n);
    assert_int_equal(n, lens[0]);
    assert_memory_equal(out, frames[0], lens[0]);
    for (int i = 1; i < 3; i++)
        wire_gather_add(&g, frames[i], lens[i]);
    assert_true(wire_gather_would_be(&g, 10) >= 3 + 200 + 300 + 10);
    out = wire_gather_frame(&g, &n);
    Liaison__Envelope *env = liaison__envelope__unpack(NULL, n, out);
    assert_non_null(env);
    assert_int_equal(env->version, WIRE_VERSION);
    assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_BATCH);
    assert_int_equal(env->batch->n_frames, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(env->batch->frames[i].len, lens[i]);
        assert_memory_equal(env->batch->frames[i].data, frames[i], lens[i]);
    }
    liaison__envelope__free_unpacked(env, NULL);
    /* Split where it lies: the same frames, in place; 0 when it holds
     * more than asked for, or is no Batch. */
    struct wire_span spans[4];
    assert_int_equal(wire_batch_split(out, n, spans, 4), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(spans[i].len, lens[i]);
        assert_memory_equal(spans[i].data, frames[i], lens[i]);
        assert_true(spans[i].data > out && spans[i].data < out + n);
    }
    assert_int_equal(wire_batch_split(out, n, spans, 2), 0);
    assert_int_equal(wire_batch_split(out, n - 1, spans, 4), 0);
    assert_int_equal(wire_batch_split(frames[1], lens[1], spans, 4), 0);
    wire_gather_reset(&g);
    assert_null(wire_gather_frame(&g, &n));
    wire_gather_add(&g, frames[2], lens[2]);
    out = wire_gather_frame(&g, &n);
    assert_int_equal(n, lens[2]);
    assert_memory_equal(out, frames[2], lens[2]);
    /* Full at WIRE_BATCH_MAX_FRAMES: every cap then says flush. */
    while (g.frames < WIRE_BATCH_MAX_FRAMES) {
        assert_true(wire_gather_would_be(&g, 3) < SIZE_MAX);
        wire_gather_add(&g, frames[0], lens[0]);
    }
    assert_int_equal(wire_gather_would_be(&g, 3), SIZE_MAX);
    /* A buffer grown large is kept while what it is emptied of stays
     * large (a session at full speed would otherwise grow it again at
     * every release), and given back once a release leaves it mostly
     * unused; a small one is kept. */
    static uint8_t big[70000];
    memset(big, 'z', sizeof big);
    wire_gather_reset(&g);
    wire_gather_add(&g, big, sizeof big);
    wire_gather_reset(&g);
    assert_non_null(g.buf);
    uint8_t *kept = g.buf;
    wire_gather_add(&g, big, sizeof big);
    assert_ptr_equal(g.buf, kept);
    wire_gather_reset(&g);
    assert_ptr_equal(g.buf, kept);
    wire_gather_add(&g, frames[1], lens[1]);
    wire_gather_reset(&g);
    assert_null(g.buf);
    assert_int_equal(g.cap, 0);
    /* Large and emptied, then quiet: trimmed. Holding frames: not. */
    wire_gather_add(&g, big, sizeof big);
    wire_gather_reset(&g);
    wire_gather_add(&g, big, sizeof big);
    wire_gather_trim(&g);
    assert_non_null(g.buf);
    wire_gather_reset(&g);
    wire_gather_trim(&g);
    assert_null(g.buf);
    wire_gather_add(&g, frames[1], lens[1]);
    wire_gather_reset(&g);
    assert_non_null(g.buf);
    wire_gather_add(&g, frames[1], lens[1]);
    out = wire_gather_frame(&g, &n);
    assert_int_equal(n, lens[1]);
    assert_memory_equal(out, frames[1], lens[1]);
    wire_gather_free(&g);
}

/* Taken: the frame wire_gather_frame would give, in a buffer the caller
 * now owns; the gather is empty and without one, and its next buffer is
 * made at once as large as the last one held, twice over, or three
 * quarters of the one before when that is more. */
static void test_wire_gather_take_hands_over_the_buffer(void **state)
{
    (void)state;
    struct wire_gather g = {0};
    size_t n, len;
    void *buf = (void *)1;
    assert_null(wire_gather_take(&g, &n, &buf));
    assert_null(buf);
    assert_int_equal(n, 0);
    uint8_t a[100], b[2000];
    memset(a, 'a', sizeof a);
    memset(b, 'b', sizeof b);
    wire_gather_add(&g, a, sizeof a);
    const uint8_t *out = wire_gather_take(&g, &n, &buf);
    assert_int_equal(n, sizeof a);
    assert_memory_equal(out, a, sizeof a);
    assert_true(out >= (const uint8_t *)buf && out < (const uint8_t *)buf + 200);
    free(buf);
    assert_null(g.buf);
    assert_int_equal(g.cap, 0);
    wire_gather_add(&g, a, sizeof a);
    wire_gather_add(&g, b, sizeof b);
    const uint8_t *want = wire_gather_frame(&g, &len);
    uint8_t copy[4096];
    memcpy(copy, want, len);
    out = wire_gather_take(&g, &n, &buf);
    assert_int_equal(n, len);
    assert_memory_equal(out, copy, len);
    free(buf);
    assert_int_equal(g.frames, 0);
    assert_null(wire_gather_frame(&g, &n));
    wire_gather_add(&g, a, sizeof a);
    assert_true(g.cap >= 2 * (sizeof a + sizeof b));
    out = wire_gather_frame(&g, &n);
    assert_int_equal(n, sizeof a);
    assert_memory_equal(out, a, sizeof a);
    /* Taken, a small frame in a large buffer is cut to its bytes: queued
     * until sent, it costs what it holds. */
    out = wire_gather_take(&g, &n, &buf);
    assert_int_equal(n, sizeof a);
    assert_memory_equal(out, a, sizeof a);
    assert_true(malloc_usable_size(buf) <= sizeof a + WIRE_BATCH_HEAD_MAX + 64);
    free(buf);
    /* After a small one, the next starts at three quarters of the size
     * before, not at the small one's: a large release after it is not
     * grown again by doubling. */
    wire_gather_add(&g, a, sizeof a);
    assert_true(g.cap >= sizeof a + sizeof b);
    wire_gather_free(&g);
}

static int known(const ProtobufCEnumDescriptor *d, int v)
{
    return v == 0 || protobuf_c_enum_descriptor_get_value(d, v) != NULL;
}

static uint32_t pick(uint32_t *rnd, uint32_t n)
{
    *rnd = *rnd * 1103515245u + 12345u;
    return (*rnd >> 8) % n;
}

/* The stored form's hand encoder, and the Publish's, write protobuf-c's
 * bytes exactly, over messages with parts absent, empty and full, strings
 * empty and long, enums negative and numbers at varint boundaries (a
 * message's digest is over these bytes). */
static void test_wire_intel_encodes_as_protobuf_c_does(void **state)
{
    (void)state;
    static const uint64_t nums[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX};
    static const int enums[] = {0, 1, 3, 127, -1, 200};
    static char *strs[] = {
        NULL, "", "a", "alert.yorkshire.hmp-hull.drone",
        "a string of more than one hundred and twenty-seven bytes, so that its "
        "length takes two bytes of varint ......................................"};
    char *list[4] = {"", "TRIDENT", "agency:Yorkshire ROCU", "x"};
    uint8_t body[300];
    memset(body, 0xee, sizeof body);
    uint32_t rnd = 777;
    for (int i = 0; i < 4000; i++) {
        Liaison__Intel m = LIAISON__INTEL__INIT;
        Liaison__Label l = LIAISON__LABEL__INIT;
        Liaison__Origin o = LIAISON__ORIGIN__INIT;
        Liaison__Route r = LIAISON__ROUTE__INIT;
#define PICK(n) pick(&rnd, n)
        m.topic = strs[PICK(5)];
        m.msg_id = strs[PICK(5)];
        m.content_type = strs[PICK(5)];
        m.body.len = PICK(3) ? (size_t)PICK(300) : 0;
        m.body.data = m.body.len ? body : NULL;
        m.received_at_us = (int64_t)nums[PICK(8)];
        m.seq = nums[PICK(8)];
        if (PICK(4)) {
            m.label = &l;
            l.classification = enums[PICK(6)];
            l.n_caveats = PICK(4);
            l.caveats = list;
            l.source_grade = (uint32_t)nums[PICK(7)];
            l.intel_grade = strs[PICK(5)];
            l.handling = enums[PICK(6)];
            l.conditions = strs[PICK(5)];
            l.no_onward_sharing = (protobuf_c_boolean)PICK(2);
            l.sanitisation = enums[PICK(6)];
            l.n_release_to = PICK(4);
            l.release_to = list;
            l.risk = enums[PICK(6)];
            l.risk_basis = strs[PICK(5)];
            l.risk_ref = strs[PICK(5)];
            l.n_subjects = PICK(4);
            l.subjects = list;
            l.review_at = strs[PICK(5)];
            l.embargo_until = strs[PICK(5)];
            l.expires_at = strs[PICK(5)];
        }
        if (PICK(4)) {
            m.origin = &o;
            o.agent = strs[PICK(5)];
            o.agency = strs[PICK(5)];
            o.type = strs[PICK(5)];
            o.region = strs[PICK(5)];
        }
        if (PICK(2)) {
            m.route = &r;
            r.origin_broker = strs[PICK(5)];
            r.origin_seq = nums[PICK(8)];
            r.n_via = PICK(4);
            r.via = list;
            r.origin_epoch = nums[PICK(8)];
        }
#undef PICK
        size_t want = liaison__intel__get_packed_size(&m);
        assert_int_equal(wire_intel_size(&m), want);
        /* b is exactly the size: the hand encoder never writes past it. */
        uint8_t *a = xmalloc(want + 1), *b = xmalloc(want ? want : 1);
        assert_int_equal(liaison__intel__pack(&m, a), want);
        assert_int_equal(wire_intel_pack(&m, b), want);
        assert_memory_equal(a, b, want);
        /* A client's Publish around it (or around none) too. */
        Liaison__Publish pub = LIAISON__PUBLISH__INIT;
        pub.intel = pick(&rnd, 8) ? &m : NULL;
        Liaison__Envelope env;
        wire_envelope_init(&env, nums[pick(&rnd, 8)]);
        env.version = (uint32_t)nums[pick(&rnd, 7)];
        env.kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
        env.publish = &pub;
        size_t ewant = liaison__envelope__get_packed_size(&env);
        assert_int_equal(wire_envelope_size(&env), ewant);
        uint8_t *ea = xmalloc(ewant), *eb = xmalloc(ewant);
        assert_int_equal(liaison__envelope__pack(&env, ea), ewant);
        assert_int_equal(wire_envelope_pack(&env, eb), ewant);
        assert_memory_equal(ea, eb, ewant);
        free(ea);
        free(eb);
        /* The hand decoder reads back what it wrote, as protobuf-c does,
         * or leaves it to protobuf-c (only for enum values the enums do
         * not know). */
        int odd = m.label && (!known(&liaison__classification__descriptor, l.classification) ||
                              !known(&liaison__handling__descriptor, l.handling) ||
                              !known(&liaison__sanitisation__descriptor, l.sanitisation) ||
                              !known(&liaison__risk__descriptor, l.risk));
        Liaison__Intel *fast = wire_intel_decode_canonical(b, want, NULL, NULL);
        if (odd) {
            assert_null(fast);
        } else {
            assert_non_null(fast);
            Liaison__Intel *slow = liaison__intel__unpack(NULL, want, b);
            assert_non_null(slow);
            size_t nf = liaison__intel__get_packed_size(fast);
            assert_int_equal(nf, want);
            assert_int_equal(liaison__intel__pack(fast, a), want);
            assert_memory_equal(a, b, want);
            assert_int_equal(liaison__intel__pack(slow, a), want);
            assert_memory_equal(a, b, want);
            liaison__intel__free_unpacked(fast, NULL);
            liaison__intel__free_unpacked(slow, NULL);
        }
        free(a);
        free(b);
    }
}

/* Forms the hand decoder leaves to protobuf-c, though valid: a field out
 * of order, one twice, a zero written out, an unknown field. */
static void test_wire_intel_decoder_leaves_other_forms_to_protobuf_c(void **state)
{
    (void)state;
    static const uint8_t ok[] = {0x0a, 0x01, 't', 0x12, 0x01, 'm'};
    static const uint8_t swapped[] = {0x12, 0x01, 'm', 0x0a, 0x01, 't'};
    static const uint8_t twice[] = {0x0a, 0x01, 't', 0x0a, 0x01, 'u'};
    static const uint8_t zero[] = {0x0a, 0x01, 't', 0x40, 0x00};
    static const uint8_t unknown[] = {0x0a, 0x01, 't', 0xf8, 0x01, 0x01};
    static const uint8_t empty_str[] = {0x0a, 0x00};
    static const uint8_t bad_len[] = {0x0a, 0x05, 't'};
    Liaison__Intel *m = wire_intel_decode_canonical(ok, sizeof ok, NULL, NULL);
    assert_non_null(m);
    assert_string_equal(m->topic, "t");
    assert_string_equal(m->msg_id, "m");
    assert_null(m->label);
    liaison__intel__free_unpacked(m, NULL);
    assert_null(wire_intel_decode_canonical(swapped, sizeof swapped, NULL, NULL));
    assert_null(wire_intel_decode_canonical(twice, sizeof twice, NULL, NULL));
    assert_null(wire_intel_decode_canonical(zero, sizeof zero, NULL, NULL));
    assert_null(wire_intel_decode_canonical(unknown, sizeof unknown, NULL, NULL));
    assert_null(wire_intel_decode_canonical(empty_str, sizeof empty_str, NULL, NULL));
    assert_null(wire_intel_decode_canonical(bad_len, sizeof bad_len, NULL, NULL));
    /* wire_intel_decode still takes the valid ones, through protobuf-c. */
    m = wire_intel_decode(swapped, sizeof swapped);
    assert_non_null(m);
    assert_string_equal(m->topic, "t");
    wire_intel_free(&m);
    m = wire_intel_decode(twice, sizeof twice);
    assert_non_null(m);
    assert_string_equal(m->topic, "u"); /* the last one, as protobuf-c has it */
    wire_intel_free(&m);
}

/* The PubAck Envelope's hand encoder writes protobuf-c's bytes. */
static void test_wire_puback_encodes_as_protobuf_c_does(void **state)
{
    (void)state;
    static const uint64_t nums[] = {0, 1, 127, 128, UINT32_MAX, UINT64_MAX};
    static const char *const ids[] = {"", "hull-1", "liaison-18446744073709551615"};
    for (size_t c = 0; c < 6; c++)
        for (size_t q = 0; q < 6; q++)
            for (size_t i = 0; i < 3; i++)
                for (int dup = 0; dup < 2; dup++) {
                    Liaison__Envelope env;
                    Liaison__PubAck ack = LIAISON__PUB_ACK__INIT;
                    wire_envelope_init(&env, nums[c]);
                    ack.seq = nums[q];
                    ack.msg_id = (char *)(uintptr_t)ids[i];
                    ack.duplicate = dup;
                    env.kind_case = LIAISON__ENVELOPE__KIND_PUB_ACK;
                    env.pub_ack = &ack;
                    size_t len;
                    uint8_t *want = pack(&env, &len);
                    uint8_t got[128];
                    assert_true(len <= wire_puback_size(ids[i]));
                    assert_int_equal(wire_puback_pack(nums[c], nums[q], ids[i], dup, got), len);
                    assert_memory_equal(got, want, len);
                    free(want);
                }
}

/* The audit record's hand encoder writes protobuf-c's bytes exactly, over
 * records with every field empty, set, at varint boundaries and negative
 * (the chain hashes these bytes, so "decodes the same" is not enough). */
static void test_wire_audit_record_encodes_as_protobuf_c_does(void **state)
{
    (void)state;
    static const uint64_t nums[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX};
    static const char *const strs[] = {NULL, "", "a", "publish",
                                       "a string of more than one hundred and twenty-seven "
                                       "bytes, so that its length takes two bytes of varint "
                                       "............................................."};
    uint8_t hash[32], tok[3][32];
    memset(hash, 0xab, sizeof hash);
    memset(tok, 0x5c, sizeof tok);
    ProtobufCBinaryData toks[3] = {{32, tok[0]}, {0, NULL}, {32, tok[2]}};
    uint32_t rnd = 12345;
    for (int i = 0; i < 4000; i++) {
        int neg = (int)pick(&rnd, 2);
        Liaison__AuditRecord r = LIAISON__AUDIT_RECORD__INIT;
#define PICK(n) pick(&rnd, n)
        r.seq = nums[PICK(8)];
        r.time_us = (int64_t)nums[PICK(8)] * (neg ? -1 : 1);
        r.actor = (char *)(uintptr_t)strs[PICK(5)];
        r.action = (char *)(uintptr_t)strs[PICK(5)];
        r.msg_seq = nums[PICK(8)];
        r.digest.len = PICK(2) ? 32 : 0;
        r.digest.data = r.digest.len ? hash : NULL;
        r.recipient = (char *)(uintptr_t)strs[PICK(5)];
        r.outcome = (char *)(uintptr_t)strs[PICK(5)];
        r.reason = (char *)(uintptr_t)strs[PICK(5)];
        r.topic = (char *)(uintptr_t)strs[PICK(5)];
        r.count = (uint32_t)nums[PICK(7)];
        r.prev_hash.len = PICK(2) ? 32 : 0;
        r.prev_hash.data = r.prev_hash.len ? hash : NULL;
        r.format = (uint32_t)nums[PICK(7)];
        r.n_tokens = PICK(4);
        r.tokens = r.n_tokens ? toks : NULL;
        r.results = (uint32_t)nums[PICK(7)];
        r.hits = (uint32_t)nums[PICK(7)];
        /* A run of disclosures: seqs at varint boundaries, packed. */
        uint64_t more[4];
        r.n_more_seqs = PICK(5);
        for (size_t k = 0; k < r.n_more_seqs; k++)
            more[k] = nums[PICK(8)];
        r.more_seqs = r.n_more_seqs ? more : NULL;
        r.n_more_digests = PICK(4);
        r.more_digests = r.n_more_digests ? toks : NULL;
#undef PICK
        size_t want = liaison__audit_record__get_packed_size(&r);
        assert_int_equal(wire_audit_record_size(&r), want);
        uint8_t *a = xmalloc(want + 1), *b = xmalloc(want + 1);
        assert_int_equal(liaison__audit_record__pack(&r, a), want);
        assert_int_equal(wire_audit_record_pack(&r, b), want);
        assert_memory_equal(a, b, want);
        /* In one pass into a buffer: exact when it fits, the length when
         * it does not. */
        memset(b, 0, want + 1);
        assert_int_equal(wire_audit_record_pack_within(&r, b, want), want);
        assert_memory_equal(a, b, want);
        if (want > 0)
            assert_int_equal(wire_audit_record_pack_within(&r, b, want - 1), want);
        free(a);
        free(b);
    }
}

static void test_wire_error_name_names_every_code(void **state)
{
    (void)state;
    assert_string_equal(wire_error_name(LIAISON__ERROR_CODE__STORE_FULL), "STORE_FULL");
    assert_string_equal(wire_error_name(LIAISON__ERROR_CODE__ERROR_NONE), "ERROR_NONE");
    assert_string_equal(wire_error_name(LIAISON__ERROR_CODE__BAD_FRAME), "BAD_FRAME");
    assert_string_equal(wire_error_name(LIAISON__ERROR_CODE__BAD_VERSION), "BAD_VERSION");
    assert_string_equal(wire_error_name(LIAISON__ERROR_CODE__UNKNOWN_KIND), "UNKNOWN_KIND");
    assert_string_equal(wire_error_name(LIAISON__ERROR_CODE__CAVEAT_NOT_HELD), "CAVEAT_NOT_HELD");
    assert_string_equal(wire_error_name(LIAISON__ERROR_CODE__INTERNAL), "INTERNAL");
    /* Numbers between and beyond the enum's values. */
    assert_string_equal(wire_error_name((Liaison__ErrorCode)6), "UNKNOWN");
    assert_string_equal(wire_error_name((Liaison__ErrorCode)29), "UNKNOWN");
    assert_string_equal(wire_error_name((Liaison__ErrorCode)1000), "UNKNOWN");
    assert_string_equal(wire_error_name((Liaison__ErrorCode)-1), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_publish_envelope_round_trips),
        cmocka_unit_test(test_wire_decodes_into_an_arena_what_malloc_decodes),
        cmocka_unit_test(test_wire_messages_in_one_arena_share_a_label_and_origin),
        cmocka_unit_test(test_wire_other_kinds_round_trip),
        cmocka_unit_test(test_wire_refuses_garbage_as_bad_frame),
        cmocka_unit_test(test_wire_refuses_truncated_frame_as_bad_frame),
        cmocka_unit_test(test_wire_refuses_frame_over_max_before_decoding),
        cmocka_unit_test(test_wire_wrong_version_still_reports_corr_id),
        cmocka_unit_test(test_wire_refuses_envelope_without_kind),
        cmocka_unit_test(test_wire_empty_frame_is_version_zero),
        cmocka_unit_test(test_wire_deliver_pack_decodes_as_the_same_deliver),
        cmocka_unit_test(test_wire_deliver_pack_of_empty_intel),
        cmocka_unit_test(test_wire_intel_round_trips_as_stored_form),
        cmocka_unit_test(test_wire_intel_new_is_empty_with_label_and_origin),
        cmocka_unit_test(test_wire_accepted_publish_repacks_to_decodable_bytes),
        cmocka_unit_test(test_wire_error_name_names_every_code),
        cmocka_unit_test(test_wire_a_delivered_message_repacks_to_decodable_bytes),
        cmocka_unit_test(test_wire_counts_stored_records_that_do_not_decode),
        cmocka_unit_test(test_wire_audit_record_encodes_as_protobuf_c_does),
        cmocka_unit_test(test_wire_a_publish_head_and_its_stamp_are_the_stored_form),
        cmocka_unit_test(test_wire_intel_encodes_as_protobuf_c_does),
        cmocka_unit_test(test_wire_intel_decoder_leaves_other_forms_to_protobuf_c),
        cmocka_unit_test(test_wire_puback_encodes_as_protobuf_c_does),
        cmocka_unit_test(test_wire_gathers_frames_into_one_batch),
        cmocka_unit_test(test_wire_gather_take_hands_over_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
