/* fuzz_envelope.c — libFuzzer harness for what the broker does first with
 * bytes from the network: wire_envelope_decode (1 MiB limit), then, for a
 * Publish, label_validate, and the topic checks on every topic and pattern
 * the frame carries (a Deliver's message gets the same). Invariants it
 * asserts beyond "no crash, no leak":
 * a decoded envelope re-encodes to what wire_envelope_size promised, a
 * message label_validate accepts (only those are stored), packed and
 * wrapped by wire_deliver_pack, decodes back to the same bytes, and
 * topic_match/topic_pattern_within agree with each other.
 * Not responsible for: policy (no configuration here) or sockets.
 *
 *   make fuzz          at length, corpus in build/fuzz/corpus/envelope
 *   make fuzz-smoke    FUZZ_RUNS runs over tests/fuzz/seeds/envelope */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "label.h"
#include "log.h"
#include "topic.h"
#include "wire.h"

#define MAX_FRAME (1u << 20)
#define MAX_TOPIC 255

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

/* Like assert, but never compiled out, and names the broken invariant. */
#define check(ok)                                                                                  \
    do {                                                                                           \
        if (!(ok)) {                                                                               \
            fprintf(stderr, "fuzz_envelope.c:%d: invariant failed: %s\n", __LINE__, #ok);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Exercises the topic functions on s, as a topic and as a pattern, and
 * against the other string t, within their documented preconditions. */
static void topics(const char *s, const char *t)
{
    if (s == NULL || t == NULL)
        return;
    int s_topic = topic_valid(s, MAX_TOPIC) == 0, s_pat = topic_pattern_valid(s, MAX_TOPIC) == 0;
    int t_topic = topic_valid(t, MAX_TOPIC) == 0, t_pat = topic_pattern_valid(t, MAX_TOPIC) == 0;
    /* Every topic is a pattern. */
    check(!s_topic || s_pat);
    check(!t_topic || t_pat);
    /* A topic, read as a pattern, is within s exactly when s matches it. */
    if (s_pat && t_topic)
        check(topic_pattern_within(t, s) == topic_match(s, t));
    if (s_topic)
        check(topic_match(s, s) == 1);
    if (s_pat) {
        check(topic_pattern_within(s, s) == 1);
        check(topic_pattern_within(s, ">") == 1);
    }
    if (s_pat && t_pat) {
        int a = topic_pattern_within(s, t), b = topic_pattern_within(t, s);
        /* Mutual containment means the same set, which for these patterns
         * means the same string. */
        if (a && b)
            check(strcmp(s, t) == 0);
    }
}

static void intel(const Liaison__Intel *m)
{
    if (m == NULL)
        return;
    char why[256];
    Liaison__ErrorCode code = label_validate(m, MAX_TOPIC, why, sizeof why);
    if (code != LIAISON__ERROR_CODE__ERROR_NONE)
        check(why[0] != '\0' && strchr(why, '\n') == NULL);
    topics(m->topic, m->topic);
    topics(m->msg_id, m->topic);
    topics(m->topic, m->msg_id);
    /* Only an accepted message is ever stored and delivered. A refused one
     * may hold what its stored form does not reproduce (a risk value
     * outside the enum did not survive the round trip, found after about
     * 1.4e8 runs), and no subscriber ever sees it. */
    if (code != LIAISON__ERROR_CODE__ERROR_NONE)
        return;

    /* The stored form of the message (the broker packs what it decoded),
     * and a Deliver wrapped around it, must decode for every subscriber. */
    size_t n = wire_intel_size(m);
    uint8_t *packed = malloc(n ? n : 1);
    check(packed != NULL);
    check(wire_intel_pack(m, packed) == n);
    /* The hand encoder writes protobuf-c's own bytes. */
    check(liaison__intel__get_packed_size(m) == n);
    uint8_t *theirs = malloc(n ? n : 1);
    check(theirs != NULL);
    check(liaison__intel__pack(m, theirs) == n);
    check(memcmp(theirs, packed, n) == 0);
    /* What is stored is what the hand decoder reads (never left to
     * protobuf-c), to the same bytes. */
    Liaison__Intel *back = wire_intel_decode_canonical(packed, n, NULL, NULL);
    check(back != NULL);
    check(wire_intel_size(back) == n && wire_intel_pack(back, theirs) == n);
    check(memcmp(theirs, packed, n) == 0);
    wire_intel_free(&back);
    free(theirs);
    size_t cap = wire_deliver_size(n);
    uint8_t *frame = malloc(cap);
    check(frame != NULL);
    size_t len = wire_deliver_pack(77, 2, 1, packed, n, frame);
    check(len <= cap);
    Liaison__ErrorCode dc;
    Liaison__Envelope *d = wire_envelope_decode(frame, len, SIZE_MAX, &dc, NULL);
    check(d != NULL && d->kind_case == LIAISON__ENVELOPE__KIND_DELIVER);
    check(d->deliver->sub_id == 77 && d->deliver->attempt == 2 && d->deliver->notice);
    check(d->deliver->intel != NULL);
    check(wire_intel_size(d->deliver->intel) == n);
    uint8_t *again = malloc(n ? n : 1);
    check(again != NULL);
    check(wire_intel_pack(d->deliver->intel, again) == n);
    check(memcmp(again, packed, n) == 0);
    free(again);
    wire_envelope_free(&d);
    free(frame);
    free(packed);
}

/* 1 when protobuf-c packs x and y (messages of one type) to the same bytes. */
static int same_packing(const ProtobufCMessage *x, const ProtobufCMessage *y)
{
    size_t n = protobuf_c_message_get_packed_size(x);
    if (protobuf_c_message_get_packed_size(y) != n)
        return 0;
    uint8_t *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
    check(a != NULL && b != NULL);
    int same = protobuf_c_message_pack(x, a) == n && protobuf_c_message_pack(y, b) == n &&
               memcmp(a, b, n) == 0;
    free(a);
    free(b);
    return same;
}

/* The hand decoder of the stored form, on any bytes: what it takes,
 * protobuf-c takes too, to the same message (compared by protobuf-c's own
 * packing of each). */
static void decoders_agree(const uint8_t *data, size_t size)
{
    Liaison__Intel *fast = wire_intel_decode_canonical(data, size, NULL, NULL);
    if (fast == NULL)
        return;
    Liaison__Intel *slow = liaison__intel__unpack(NULL, size, data);
    check(slow != NULL);
    check(same_packing(&fast->base, &slow->base));
    liaison__intel__free_unpacked(fast, NULL);
    liaison__intel__free_unpacked(slow, NULL);
}

/* A Batch split where it lies holds what protobuf-c decodes it to. */
static void splits_agree(const uint8_t *data, size_t size)
{
    static struct wire_span spans[WIRE_BATCH_MAX_FRAMES];
    size_t n = wire_batch_split(data, size, spans, WIRE_BATCH_MAX_FRAMES);
    if (n == 0)
        return;
    Liaison__Envelope *env = liaison__envelope__unpack(NULL, size, data);
    check(env != NULL && env->version == WIRE_VERSION);
    check(env->kind_case == LIAISON__ENVELOPE__KIND_BATCH && env->batch->n_frames == n);
    for (size_t i = 0; i < n; i++)
        check(env->batch->frames[i].len == spans[i].len &&
              (spans[i].len == 0 ||
               memcmp(env->batch->frames[i].data, spans[i].data, spans[i].len) == 0));
    liaison__envelope__free_unpacked(env, NULL);
}

/* A Publish or a Deliver read by hand is the Envelope protobuf-c reads. */
static void hand_read_agrees(Liaison__Envelope *fast, const uint8_t *data, size_t size,
                             Liaison__Envelope__KindCase kind)
{
    if (fast == NULL)
        return;
    Liaison__Envelope *slow = liaison__envelope__unpack(NULL, size, data);
    check(slow != NULL && slow->kind_case == kind && fast->kind_case == kind);
    check(same_packing(&fast->base, &slow->base));
    liaison__envelope__free_unpacked(fast, NULL);
    liaison__envelope__free_unpacked(slow, NULL);
}

/* A Publish read by hand is stored as its head and the broker's stamp:
 * the bytes wire_intel_pack writes of the message stamped. */
static void head_is_packed(Liaison__Intel *m, const struct wire_span *head)
{
    m->seq = 4242;
    m->received_at_us = 1700000000000000;
    size_t n = wire_intel_size(m);
    check(head->len + wire_intel_stamp_size(m, NULL) == n);
    uint8_t *whole = malloc(n + 1), *stamped = malloc(n + 1);
    check(whole != NULL && stamped != NULL);
    check(wire_intel_pack(m, whole) == n);
    check(wire_intel_pack_stamped(head, NULL, m, stamped) == n);
    check(memcmp(whole, stamped, n) == 0);
    /* And with the origin packed beforehand, as the broker keeps it. */
    size_t on = wire_origin_size(m->origin);
    uint8_t *origin = malloc(on + 1);
    check(origin != NULL && wire_origin_pack(m->origin, origin) == on);
    struct wire_span packed = {origin, on};
    check(head->len + wire_intel_stamp_size(m, &packed) == n);
    check(wire_intel_pack_stamped(head, &packed, m, stamped) == n);
    check(memcmp(whole, stamped, n) == 0);
    free(origin);
    free(whole);
    free(stamped);
}

static void publishes_agree(const uint8_t *data, size_t size)
{
    struct wire_span head;
    Liaison__Envelope *pub = wire_publish_decode_canonical(data, size, NULL, &head, NULL);
    check((pub == NULL) == (head.data == NULL));
    hand_read_agrees(pub, data, size, LIAISON__ENVELOPE__KIND_PUBLISH);
    pub = wire_publish_decode_canonical(data, size, NULL, &head, NULL);
    if (pub) {
        head_is_packed(pub->publish->intel, &head);
        liaison__envelope__free_unpacked(pub, NULL);
    }
    hand_read_agrees(wire_deliver_decode_canonical(data, size, NULL), data, size,
                     LIAISON__ENVELOPE__KIND_DELIVER);
}

/* Decoded into an arena, any bytes give what malloc gives: the same code
 * and corr_id, and a message that packs the same; the stored form too. */
static void arenas_agree(const uint8_t *data, size_t size)
{
    static arena_t *a;
    if (a == NULL)
        a = arena_new();
    Liaison__ErrorCode c1 = LIAISON__ERROR_CODE__INTERNAL, c2 = LIAISON__ERROR_CODE__INTERNAL;
    uint64_t r1 = 1, r2 = 2;
    Liaison__Envelope *x = wire_envelope_decode(data, size, MAX_FRAME, &c1, &r1);
    Liaison__Envelope *y = wire_envelope_decode_in(a, data, size, MAX_FRAME, &c2, &r2);
    check(c1 == c2 && r1 == r2 && (x == NULL) == (y == NULL));
    if (x)
        check(same_packing(&x->base, &y->base));
    /* Twice more with a share: the second takes the first's Label. */
    struct wire_share ps;
    memset(&ps, 0, sizeof ps);
    Liaison__Envelope *p1 =
        wire_envelope_decode_head(a, data, size, MAX_FRAME, &c2, &r2, NULL, &ps);
    Liaison__Envelope *p2 =
        wire_envelope_decode_head(a, data, size, MAX_FRAME, &c2, &r2, NULL, &ps);
    check((x == NULL) == (p1 == NULL) && (p1 == NULL) == (p2 == NULL));
    if (x)
        check(same_packing(&x->base, &p1->base) && same_packing(&x->base, &p2->base));
    wire_envelope_free(&x);
    wire_envelope_free_in(&y, a);
    check(y == NULL);
    Liaison__Intel *m1 = wire_intel_decode(data, size);
    Liaison__Intel *m2 = wire_intel_decode_in(a, data, size, NULL);
    check((m1 == NULL) == (m2 == NULL));
    if (m1)
        check(same_packing(&m1->base, &m2->base));
    /* Decoded twice more with a share: the second takes the first's Label
     * and Origin, and both are still what malloc decodes. */
    struct wire_share share;
    memset(&share, 0, sizeof share);
    Liaison__Intel *s1 = wire_intel_decode_in(a, data, size, &share);
    Liaison__Intel *s2 = wire_intel_decode_in(a, data, size, &share);
    check((m1 == NULL) == (s1 == NULL) && (s1 == NULL) == (s2 == NULL));
    if (m1)
        check(same_packing(&m1->base, &s1->base) && same_packing(&m1->base, &s2->base));
    wire_intel_free(&m1);
    wire_intel_free_in(&m2, a);
    arena_reset(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decoders_agree(data, size);
    publishes_agree(data, size);
    splits_agree(data, size);
    arenas_agree(data, size);
    Liaison__ErrorCode code = LIAISON__ERROR_CODE__INTERNAL;
    uint64_t corr = 0;
    Liaison__Envelope *env = wire_envelope_decode(data, size, MAX_FRAME, &code, &corr);
    if (env == NULL) {
        check(code == LIAISON__ERROR_CODE__FRAME_TOO_LARGE ||
              code == LIAISON__ERROR_CODE__BAD_FRAME || code == LIAISON__ERROR_CODE__BAD_VERSION ||
              code == LIAISON__ERROR_CODE__UNKNOWN_KIND);
        check(wire_error_name(code)[0] != '\0');
        return 0;
    }
    check(code == LIAISON__ERROR_CODE__ERROR_NONE);
    check(corr == env->corr_id);

    /* What the broker would send back re-encodes to the promised size. */
    size_t n = wire_envelope_size(env);
    uint8_t *out = malloc(n ? n : 1);
    check(out != NULL);
    check(wire_envelope_pack(env, out) == n);
    /* A Publish is written by hand, to protobuf-c's bytes. */
    check(liaison__envelope__get_packed_size(env) == n);
    uint8_t *theirs = malloc(n ? n : 1);
    check(theirs != NULL);
    check(liaison__envelope__pack(env, theirs) == n);
    check(memcmp(theirs, out, n) == 0);
    free(theirs);
    free(out);

    switch (env->kind_case) {
    case LIAISON__ENVELOPE__KIND_PUBLISH:
        intel(env->publish->intel);
        break;
    case LIAISON__ENVELOPE__KIND_DELIVER:
        intel(env->deliver->intel);
        break;
    case LIAISON__ENVELOPE__KIND_SUBSCRIBE:
        topics(env->subscribe->pattern, env->subscribe->durable);
        topics(env->subscribe->durable, env->subscribe->pattern);
        topics(env->subscribe->pattern, env->subscribe->pattern);
        break;
    case LIAISON__ENVELOPE__KIND_REPLAY:
        topics(env->replay->pattern, env->replay->pattern);
        break;
    case LIAISON__ENVELOPE__KIND_HELLO:
        topics(env->hello->client, env->hello->client);
        break;
    case LIAISON__ENVELOPE__KIND_STATUS_REQUEST:
        topics(env->status_request->what, env->status_request->what);
        break;
    default:
        break;
    }
    wire_envelope_free(&env);
    return 0;
}
