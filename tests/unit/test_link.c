/* test_link.c — the link's state machine (common/link.c) against a broker
 * played by the test: a CURVE ROUTER on loopback in this process that
 * answers Hello with Welcome, refuses it with an Error, or never answers,
 * and a ZAP handler when a key is to be refused. Nothing is timed: the
 * link's clock is the now_ms the test passes, so silence and the connect
 * timeout are tried by passing a later now; polls wait only as safety nets.
 * Not responsible for: the real broker's answers (the integration
 * scenarios), or the agent's reaction to the states (54 there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "link.h"
#include "util.h"
#include "wire.h"

/* Rounds of polling before a test gives up: a safety net, not a measure. */
#define ROUNDS   500
#define ROUND_MS 20

enum answer {
    ANSWER_WELCOME, /* Hello -> Welcome */
    ANSWER_REFUSE,  /* Hello -> Error AGENT_NOT_ALLOWED */
    ANSWER_NOTHING, /* reads, answers nothing */
};

/* The broker as the link sees it. */
struct fake {
    void *ctx;
    void *router;
    void *zap; /* NULL: no ZAP handler, every key is admitted */
    int zap_status;
    char endpoint[128];
    uint8_t public_key[32];
    uint8_t rid[256];
    size_t rid_len;
    enum answer answer;
    int batches;           /* its Welcome says it reads Batch frames */
    int hello_batches;     /* the Hello said the link reads them */
    unsigned frames;       /* Envelopes received, those inside a Batch counted one by one */
    unsigned batch_frames; /* Batch frames received */
    Liaison__Envelope__KindCase last_kind;
    uint64_t last_time_us; /* of the last Heartbeat */
};

static struct fake *fake_new(enum answer answer, int zap_status, int rcvhwm)
{
    struct fake *f = calloc(1, sizeof *f);
    assert_non_null(f);
    char pub[41], sec[41];
    int one = 1, zero = 0;
    size_t len = sizeof f->endpoint;
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_non_null(zmq_z85_decode(f->public_key, pub));
    f->answer = answer;
    f->ctx = zmq_ctx_new();
    if (zap_status != 0) {
        f->zap_status = zap_status;
        f->zap = zmq_socket(f->ctx, ZMQ_REP);
        assert_int_equal(zmq_bind(f->zap, "inproc://zeromq.zap.01"), 0);
    }
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    assert_int_equal(zmq_setsockopt(f->router, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    assert_int_equal(zmq_setsockopt(f->router, ZMQ_CURVE_SECRETKEY, sec, 40), 0);
    assert_int_equal(zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero), 0);
    if (rcvhwm > 0)
        assert_int_equal(zmq_setsockopt(f->router, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm), 0);
    assert_int_equal(zmq_bind(f->router, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &len), 0);
    return f;
}

/* The broker goes away: its connections close. */
static void fake_stop(struct fake *f)
{
    if (f->router)
        zmq_close(f->router);
    if (f->zap)
        zmq_close(f->zap);
    f->router = f->zap = NULL;
    if (f->ctx)
        zmq_ctx_term(f->ctx);
    f->ctx = NULL;
}

static void fake_free(struct fake **f)
{
    fake_stop(*f);
    free(*f);
    *f = NULL;
}

static void fake_send(struct fake *f, Liaison__Envelope *env)
{
    uint8_t buf[1024];
    env->version = WIRE_VERSION;
    size_t n = wire_envelope_size(env);
    assert_true(n <= sizeof buf);
    wire_envelope_pack(env, buf);
    assert_true(zmq_send(f->router, f->rid, f->rid_len, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(f->router, buf, n, 0) >= 0);
}

static void fake_welcome(struct fake *f, uint64_t corr)
{
    Liaison__Envelope env;
    Liaison__Welcome w = LIAISON__WELCOME__INIT;
    wire_envelope_init(&env, corr);
    w.agent = (char *)(uintptr_t) "prison";
    w.heartbeat_ms = 100;
    w.max_frame_bytes = 65536;
    w.last_seq = 42;
    w.batches = f->batches;
    env.kind_case = LIAISON__ENVELOPE__KIND_WELCOME;
    env.welcome = &w;
    fake_send(f, &env);
}

static void fake_error(struct fake *f, uint64_t corr, Liaison__ErrorCode code, const char *why)
{
    Liaison__Envelope env;
    Liaison__Error e = LIAISON__ERROR__INIT;
    wire_envelope_init(&env, corr);
    e.code = code;
    e.message = (char *)(uintptr_t)why;
    env.kind_case = LIAISON__ENVELOPE__KIND_ERROR;
    env.error = &e;
    fake_send(f, &env);
}

/* Answers a waiting ZAP request with the fake's status. */
static void fake_zap(struct fake *f)
{
    zmq_msg_t part[7];
    char status[8];
    for (int i = 0; i < 7; i++) {
        zmq_msg_init(&part[i]);
        if (zmq_msg_recv(&part[i], f->zap, i == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            for (int j = 0; j <= i; j++)
                zmq_msg_close(&part[j]);
            return;
        }
    }
    snprintf(status, sizeof status, "%d", f->zap_status);
    zmq_send(f->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(f->zap, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
    zmq_send(f->zap, status, strlen(status), ZMQ_SNDMORE);
    zmq_send(f->zap, "refused", 7, ZMQ_SNDMORE);
    zmq_send(f->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(f->zap, "", 0, 0);
    for (int i = 0; i < 7; i++)
        zmq_msg_close(&part[i]);
}

/* Reads every waiting frame and answers Hello as the fake was told to. */
static void fake_step(struct fake *f)
{
    if (f->zap)
        fake_zap(f);
    for (;;) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&rid, f->router, ZMQ_DONTWAIT) < 0 ||
            zmq_msg_recv(&body, f->router, 0) < 0) {
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            return;
        }
        f->rid_len = zmq_msg_size(&rid) < sizeof f->rid ? zmq_msg_size(&rid) : sizeof f->rid;
        memcpy(f->rid, zmq_msg_data(&rid), f->rid_len);
        Liaison__ErrorCode code;
        Liaison__Envelope *env =
            wire_envelope_decode(zmq_msg_data(&body), zmq_msg_size(&body), SIZE_MAX, &code, NULL);
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
        assert_non_null(env);
        if (env->kind_case == LIAISON__ENVELOPE__KIND_BATCH) {
            f->batch_frames++;
            for (size_t i = 0; i < env->batch->n_frames; i++) {
                Liaison__Envelope *in = wire_envelope_decode(
                    env->batch->frames[i].data, env->batch->frames[i].len, SIZE_MAX, &code, NULL);
                assert_non_null(in);
                f->frames++;
                f->last_kind = in->kind_case;
                if (in->kind_case == LIAISON__ENVELOPE__KIND_HEARTBEAT)
                    f->last_time_us = (uint64_t)in->heartbeat->time_us;
                wire_envelope_free(&in);
            }
            wire_envelope_free(&env);
            continue;
        }
        f->frames++;
        f->last_kind = env->kind_case;
        if (env->kind_case == LIAISON__ENVELOPE__KIND_HEARTBEAT)
            f->last_time_us = (uint64_t)env->heartbeat->time_us;
        if (env->kind_case == LIAISON__ENVELOPE__KIND_HELLO)
            f->hello_batches = env->hello->batches;
        if (env->kind_case == LIAISON__ENVELOPE__KIND_HELLO && f->answer == ANSWER_WELCOME)
            fake_welcome(f, env->corr_id);
        else if (env->kind_case == LIAISON__ENVELOPE__KIND_HELLO && f->answer == ANSWER_REFUSE)
            fake_error(f, env->corr_id, LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED,
                       "agent not allowed on this broker (revoked)");
        wire_envelope_free(&env);
    }
}

/* One round: waits (at most ROUND_MS) for the link or the fake, lets the
 * fake answer, then the link read. Returns what the link handed over. */
static Liaison__Envelope *round_trip(link_t *l, struct fake *f)
{
    zmq_pollitem_t it[4] = {{link_socket(l), 0, ZMQ_POLLIN, 0},
                            {link_monitor_socket(l), 0, ZMQ_POLLIN, 0}};
    int n = 2;
    if (f && f->router)
        it[n++] = (zmq_pollitem_t){f->router, 0, ZMQ_POLLIN, 0};
    if (f && f->zap)
        it[n++] = (zmq_pollitem_t){f->zap, 0, ZMQ_POLLIN, 0};
    zmq_poll(it, n, ROUND_MS);
    if (f && f->router)
        fake_step(f);
    return link_on_readable(l, util_mono_ms());
}

/* Rounds until the link leaves CONNECTING. */
static enum link_state settle(link_t *l, struct fake *f)
{
    for (int i = 0; i < ROUNDS && link_state(l) == LINK_CONNECTING; i++) {
        Liaison__Envelope *env = round_trip(l, f);
        wire_envelope_free(&env);
    }
    return link_state(l);
}

/* Rounds until the fake has received n frames. */
static void fake_wait_frames(struct fake *f, link_t *l, unsigned n)
{
    for (int i = 0; i < ROUNDS && f->frames < n; i++) {
        Liaison__Envelope *env = round_trip(l, f);
        wire_envelope_free(&env);
    }
    assert_true(f->frames >= n);
}

static client_config_t *config_for(const char *endpoint, const uint8_t broker_key[32])
{
    client_config_t *cfg = calloc(1, sizeof *cfg);
    char pub[41], sec[41];
    assert_non_null(cfg);
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_non_null(zmq_z85_decode(cfg->public_key, pub));
    assert_non_null(zmq_z85_decode(cfg->secret_key, sec));
    memcpy(cfg->broker_public_key, broker_key, 32);
    cfg->broker = strdup(endpoint);
    cfg->heartbeat_ms = 1000;
    return cfg;
}

static void config_free(client_config_t **cfg)
{
    free((*cfg)->broker);
    free(*cfg);
    *cfg = NULL;
}

static link_t *start(const client_config_t *cfg)
{
    char err[256];
    link_t *l = link_start(cfg, "test_link", 0, err, sizeof err);
    assert_non_null(l);
    /* only the test of the connect timeout meets it */
    link_set_connect_timeout(l, 60000);
    return l;
}

static void heartbeat_env(Liaison__Envelope *env, Liaison__Heartbeat *hb)
{
    wire_envelope_init(env, 0);
    env->kind_case = LIAISON__ENVELOPE__KIND_HEARTBEAT;
    env->heartbeat = hb;
}

/* ---- the tests ------------------------------------------------------------------ */

static void test_link_connects_without_waiting_and_is_up_on_welcome(void **state)
{
    (void)state;
    struct fake *f = fake_new(ANSWER_WELCOME, 0, 0);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    link_t *l = start(cfg);
    Liaison__Envelope env;
    Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
    heartbeat_env(&env, &hb);

    /* link_start returned before any answer: CONNECTING, and nothing but
     * Hello goes yet. */
    assert_int_equal(link_state(l), LINK_CONNECTING);
    assert_string_equal(link_why(l), "");
    assert_int_equal(link_try_send(l, &env), 1);
    assert_true(link_next_timeout_ms(l, util_mono_ms()) >= 0);

    assert_int_equal(settle(l, f), LINK_UP);
    assert_int_equal(f->last_kind, LIAISON__ENVELOPE__KIND_HELLO);
    assert_string_equal(link_agent(l), "prison");
    assert_int_equal(link_welcome_last_seq(l), 42);
    assert_int_equal(link_heartbeat_ms(l), 100);
    assert_int_equal(link_max_frame(l), 65536);
    assert_false(link_lost(l));

    /* Up: a send goes through, and the broker has it. */
    assert_int_equal(link_try_send(l, &env), 0);
    fake_wait_frames(f, l, 2);
    assert_int_equal(f->last_kind, LIAISON__ENVELOPE__KIND_HEARTBEAT);
    link_close(&l);
    assert_null(l);
    config_free(&cfg);
    fake_free(&f);
}

static void test_link_is_refused_by_an_error_answering_hello(void **state)
{
    (void)state;
    struct fake *f = fake_new(ANSWER_REFUSE, 0, 0);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    link_t *l = start(cfg);
    Liaison__Envelope env;
    Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
    heartbeat_env(&env, &hb);

    assert_int_equal(settle(l, f), LINK_REFUSED);
    assert_non_null(strstr(link_why(l), "the broker refused Hello: AGENT_NOT_ALLOWED: agent not "
                                        "allowed on this broker (revoked)"));
    assert_true(link_lost(l));
    assert_int_equal(link_try_send(l, &env), -1);
    assert_int_equal(link_next_timeout_ms(l, util_mono_ms()), -1);
    link_close(&l);
    config_free(&cfg);
    fake_free(&f);
}

static void test_link_is_refused_when_the_broker_refuses_the_key(void **state)
{
    (void)state;
    struct fake *f = fake_new(ANSWER_WELCOME, 400, 0);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    link_t *l = start(cfg);

    assert_int_equal(settle(l, f), LINK_REFUSED);
    assert_non_null(strstr(link_why(l), "refused this key (ZAP status 400)"));
    assert_non_null(strstr(link_why(l), f->endpoint));
    link_close(&l);
    config_free(&cfg);
    fake_free(&f);
}

static void test_link_is_refused_with_the_wrong_broker_key(void **state)
{
    (void)state;
    struct fake *f = fake_new(ANSWER_WELCOME, 0, 0);
    struct fake *other = fake_new(ANSWER_WELCOME, 0, 0);
    client_config_t *cfg = config_for(f->endpoint, other->public_key);
    link_t *l = start(cfg);

    assert_int_equal(settle(l, f), LINK_REFUSED);
    assert_non_null(strstr(link_why(l), "check broker_public_key"));
    link_close(&l);
    config_free(&cfg);
    fake_free(&other);
    fake_free(&f);
}

static void test_link_is_lost_when_nobody_listens(void **state)
{
    (void)state;
    struct fake *f = fake_new(ANSWER_WELCOME, 0, 0);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    fake_stop(f); /* the port it had is free again */
    link_t *l = start(cfg);

    assert_int_equal(settle(l, NULL), LINK_LOST);
    assert_non_null(strstr(link_why(l), "is not reachable (not running?)"));
    link_close(&l);
    config_free(&cfg);
    fake_free(&f);
}

static void test_link_is_lost_without_welcome_after_the_connect_timeout(void **state)
{
    (void)state;
    struct fake *f = fake_new(ANSWER_NOTHING, 0, 0);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    link_t *l = start(cfg);
    link_set_connect_timeout(l, 5000);
    int64_t t0 = util_mono_ms();

    fake_wait_frames(f, l, 1); /* Hello arrived, and is not answered */
    assert_int_equal(link_state(l), LINK_CONNECTING);
    int wait = link_next_timeout_ms(l, t0);
    assert_true(wait > 0 && wait <= 5000);
    assert_int_equal(link_tick(l, t0 + 5000), LINK_LOST);
    assert_non_null(strstr(link_why(l), "no answer from the broker at"));
    assert_non_null(strstr(link_why(l), "within 5000 ms"));
    link_close(&l);
    config_free(&cfg);
    fake_free(&f);
}

static void test_link_is_lost_when_the_broker_goes_away(void **state)
{
    (void)state;
    struct fake *f = fake_new(ANSWER_WELCOME, 0, 0);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    link_t *l = start(cfg);
    assert_int_equal(settle(l, f), LINK_UP);

    fake_stop(f);
    for (int i = 0; i < ROUNDS && link_state(l) == LINK_UP; i++) {
        Liaison__Envelope *env = round_trip(l, NULL);
        wire_envelope_free(&env);
    }
    assert_int_equal(link_state(l), LINK_LOST);
    assert_non_null(strstr(link_why(l), "the connection to the broker dropped"));
    link_close(&l);
    config_free(&cfg);
    fake_free(&f);
}

static void test_link_sends_heartbeats_and_is_lost_after_silent_beats(void **state)
{
    (void)state;
    struct fake *f = fake_new(ANSWER_WELCOME, 0, 0);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    link_t *l = start(cfg);
    assert_int_equal(settle(l, f), LINK_UP);
    int64_t t0 = util_mono_ms(); /* at or after Welcome came */
    unsigned before = f->frames;

    /* Quiet for an interval (Welcome said 100 ms): a Heartbeat goes. */
    assert_true(link_next_timeout_ms(l, t0) <= 100);
    assert_int_equal(link_tick(l, t0 + 100), LINK_UP);
    fake_step(f);
    fake_wait_frames(f, l, before + 1);
    assert_int_equal(f->last_kind, LIAISON__ENVELOPE__KIND_HEARTBEAT);

    /* The broker says nothing for LINK_SILENT_BEATS intervals: lost. */
    assert_int_equal(link_tick(l, t0 + 100 * LINK_SILENT_BEATS + 1), LINK_LOST);
    assert_non_null(strstr(link_why(l), "nothing from the broker for"));
    link_close(&l);
    config_free(&cfg);
    fake_free(&f);
}

static void test_link_hands_over_the_error_that_ends_the_session(void **state)
{
    (void)state;
    struct fake *f = fake_new(ANSWER_WELCOME, 0, 0);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    link_t *l = start(cfg);
    assert_int_equal(settle(l, f), LINK_UP);

    fake_error(f, 7, LIAISON__ERROR_CODE__NOT_WELCOMED, "send Hello first");
    Liaison__Envelope *env = NULL;
    for (int i = 0; i < ROUNDS && env == NULL; i++)
        env = round_trip(l, f);
    assert_non_null(env);
    assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_ERROR);
    assert_int_equal(env->corr_id, 7);
    assert_int_equal(link_state(l), LINK_LOST);
    assert_non_null(strstr(link_why(l), "no longer knows this connection"));
    wire_envelope_free(&env);
    link_close(&l);
    config_free(&cfg);
    fake_free(&f);
}

static void test_link_try_send_says_not_now_when_the_queue_is_full(void **state)
{
    (void)state;
    /* A broker that stops reading, with little room on either side (the
     * fake's receive queue, the link's send queue): the link's queue fills. */
    struct fake *f = fake_new(ANSWER_WELCOME, 0, 1);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    link_t *l = start(cfg);
    assert_int_equal(settle(l, f), LINK_UP);
    int hwm = 4;
    assert_int_equal(zmq_setsockopt(link_socket(l), ZMQ_SNDHWM, &hwm, sizeof hwm), 0);

    static uint8_t body[256 * 1024];
    Liaison__Envelope env;
    Liaison__Publish pub = LIAISON__PUBLISH__INIT;
    Liaison__Intel intel = LIAISON__INTEL__INIT;
    intel.topic = (char *)(uintptr_t) "alert.test";
    intel.body.data = body;
    intel.body.len = sizeof body;
    pub.intel = &intel;
    wire_envelope_init(&env, 0);
    env.kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
    env.publish = &pub;
    int rc = 0;
    long sent = 0;
    for (long i = 0; i < 100000 && rc == 0; i++) {
        env.corr_id = link_next_corr(l);
        if ((rc = link_try_send(l, &env)) == 0)
            sent++;
    }
    assert_int_equal(rc, 1);
    assert_true(sent > 0);
    assert_int_equal(link_state(l), LINK_UP); /* a full queue is not a lost link */

    /* The broker reads again: the send that was kept goes. */
    for (int i = 0; i < ROUNDS && rc == 1; i++) {
        Liaison__Envelope *r = round_trip(l, f); /* the fake reads what waits */
        wire_envelope_free(&r);
        rc = link_try_send(l, &env);
    }
    assert_int_equal(rc, 0);
    link_close(&l);
    config_free(&cfg);
    fake_free(&f);
}

/* A Batch from the broker is handed out frame by frame, in order, and the
 * link says there is more to read while its frames wait (they are not on
 * the socket, so a poll would not say so); a Batch inside it is skipped. */
/* Frees a frame the link handed out: with an arena, the frame must be in
 * it (it holds something), and the arena is reset at once, so a frame of
 * the Batch that still pointed into it would be caught (ASan). */
static void give_back(Liaison__Envelope **got, arena_t *ar)
{
    if (ar == NULL) {
        wire_envelope_free(got);
        return;
    }
    assert_true(arena_used(ar) > 0);
    wire_envelope_free_in(got, ar);
    arena_reset(ar);
}

static void reads_a_batch_frame_by_frame(arena_t *ar)
{
    struct fake *f = fake_new(ANSWER_WELCOME, 0, 0);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    link_t *l = start(cfg);
    assert_int_equal(settle(l, f), LINK_UP);
    assert_true(f->hello_batches);
    link_decode_into(l, ar);

    struct wire_gather g = {0}, inner = {0};
    uint8_t frame[256];
    for (int i = 1; i <= 3; i++) {
        Liaison__Envelope env;
        Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
        heartbeat_env(&env, &hb);
        hb.time_us = i;
        env.version = WIRE_VERSION;
        size_t len = wire_envelope_pack(&env, frame);
        wire_gather_add(&g, frame, len);
        if (i == 2) {
            /* a Batch inside the Batch: dropped, the rest still read */
            wire_gather_add(&inner, frame, len);
            wire_gather_add(&inner, frame, len);
            size_t m;
            const uint8_t *b = wire_gather_frame(&inner, &m);
            wire_gather_add(&g, b, m);
        }
    }
    size_t n;
    const uint8_t *batch = wire_gather_frame(&g, &n);
    assert_true(zmq_send(f->router, f->rid, f->rid_len, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(f->router, batch, n, 0) >= 0);
    wire_gather_free(&g);
    wire_gather_free(&inner);

    Liaison__Envelope *got = NULL;
    for (int i = 0; i < ROUNDS && got == NULL; i++)
        got = round_trip(l, NULL);
    assert_non_null(got);
    assert_int_equal(got->kind_case, LIAISON__ENVELOPE__KIND_HEARTBEAT);
    assert_int_equal(got->heartbeat->time_us, 1);
    give_back(&got, ar);
    assert_int_equal(link_next_timeout_ms(l, util_mono_ms()), 0);
    for (int want = 2; want <= 3; want++) {
        got = link_on_readable(l, util_mono_ms());
        assert_non_null(got);
        assert_int_equal(got->heartbeat->time_us, want);
        give_back(&got, ar);
    }
    assert_null(link_on_readable(l, util_mono_ms()));
    assert_true(link_next_timeout_ms(l, util_mono_ms()) > 0);
    link_close(&l);
    config_free(&cfg);
    fake_free(&f);
}

static void test_link_reads_a_batch_frame_by_frame(void **state)
{
    (void)state;
    reads_a_batch_frame_by_frame(NULL);
}

/* Decoded into the caller's arena, each frame as it is taken: the arena
 * reset after each, and the Batch's later frames are still whole. */
static void test_link_decodes_into_the_callers_arena(void **state)
{
    (void)state;
    arena_t *ar = arena_new();
    reads_a_batch_frame_by_frame(ar);
    arena_destroy(&ar);
}

/* A Batch not in the form the broker gathers (here with a corr_id, packed
 * by protobuf-c) is decoded whole, and its frames handed out the same. */
static void reads_a_batch_in_another_form(arena_t *ar)
{
    struct fake *f = fake_new(ANSWER_WELCOME, 0, 0);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    link_t *l = start(cfg);
    assert_int_equal(settle(l, f), LINK_UP);
    link_decode_into(l, ar);

    uint8_t frames[2][64];
    ProtobufCBinaryData parts[2];
    for (int i = 0; i < 2; i++) {
        Liaison__Envelope env;
        Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
        heartbeat_env(&env, &hb);
        hb.time_us = 10 + i;
        env.version = WIRE_VERSION;
        parts[i].len = wire_envelope_pack(&env, frames[i]);
        parts[i].data = frames[i];
    }
    Liaison__Batch bt = LIAISON__BATCH__INIT;
    bt.n_frames = 2;
    bt.frames = parts;
    Liaison__Envelope outer;
    wire_envelope_init(&outer, 5);
    outer.kind_case = LIAISON__ENVELOPE__KIND_BATCH;
    outer.batch = &bt;
    uint8_t buf[256];
    size_t n = wire_envelope_pack(&outer, buf);
    assert_true(zmq_send(f->router, f->rid, f->rid_len, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(f->router, buf, n, 0) >= 0);

    Liaison__Envelope *got = NULL;
    for (int i = 0; i < ROUNDS && got == NULL; i++)
        got = round_trip(l, NULL);
    assert_non_null(got);
    assert_int_equal(got->heartbeat->time_us, 10);
    give_back(&got, ar);
    got = link_on_readable(l, util_mono_ms());
    assert_non_null(got);
    assert_int_equal(got->heartbeat->time_us, 11);
    give_back(&got, ar);
    assert_null(link_on_readable(l, util_mono_ms()));
    link_close(&l);
    config_free(&cfg);
    fake_free(&f);
}

static void test_link_reads_a_batch_in_another_form(void **state)
{
    (void)state;
    reads_a_batch_in_another_form(NULL);
    arena_t *ar = arena_new();
    reads_a_batch_in_another_form(ar);
    arena_destroy(&ar);
}

/* Sends gathered go as one Batch frame to a broker whose Welcome says it
 * reads them, in order; to one that does not, each goes alone as before. */
static void gathers(int broker_batches)
{
    struct fake *f = fake_new(ANSWER_WELCOME, 0, 0);
    f->batches = broker_batches;
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    link_t *l = start(cfg);
    assert_int_equal(settle(l, f), LINK_UP);
    assert_int_equal(link_broker_batches(l), broker_batches);
    unsigned before = f->frames;
    link_gather(l);
    for (int i = 1; i <= 3; i++) {
        Liaison__Envelope env;
        Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
        heartbeat_env(&env, &hb);
        hb.time_us = i;
        assert_int_equal(link_try_send(l, &env), 0);
    }
    assert_int_equal(link_flush(l, 0), 0);
    fake_wait_frames(f, l, before + 3);
    assert_int_equal(f->frames, before + 3);
    assert_int_equal(f->batch_frames, broker_batches ? 1 : 0);
    assert_int_equal(f->last_time_us, 3);
    /* Gathering has ended: the next send goes at once. */
    Liaison__Envelope env;
    Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
    heartbeat_env(&env, &hb);
    hb.time_us = 4;
    assert_int_equal(link_try_send(l, &env), 0);
    fake_wait_frames(f, l, before + 4);
    assert_int_equal(f->batch_frames, broker_batches ? 1 : 0);
    link_close(&l);
    config_free(&cfg);
    fake_free(&f);
}

static void test_link_gathers_sends_into_one_batch(void **state)
{
    (void)state;
    gathers(1);
}

static void test_link_sends_one_by_one_to_a_broker_without_batches(void **state)
{
    (void)state;
    gathers(0);
}

static void test_link_open_waits_and_reports_why(void **state)
{
    (void)state;
    /* A broker whose ZeroMQ does the handshake while nobody reads: link_open
     * waits out its timeout and names the endpoint. */
    struct fake *f = fake_new(ANSWER_NOTHING, 0, 0);
    client_config_t *cfg = config_for(f->endpoint, f->public_key);
    char err[512];
    link_t *l = link_open(cfg, "test_link", 200, err, sizeof err);
    assert_null(l);
    assert_non_null(strstr(err, "no answer from the broker at"));
    assert_non_null(strstr(err, f->endpoint));
    assert_non_null(strstr(err, "within 200 ms"));

    fake_stop(f);
    l = link_open(cfg, "test_link", 60000, err, sizeof err);
    assert_null(l);
    assert_non_null(strstr(err, "is not reachable (not running?)"));
    config_free(&cfg);
    fake_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_connects_without_waiting_and_is_up_on_welcome),
        cmocka_unit_test(test_link_is_refused_by_an_error_answering_hello),
        cmocka_unit_test(test_link_is_refused_when_the_broker_refuses_the_key),
        cmocka_unit_test(test_link_is_refused_with_the_wrong_broker_key),
        cmocka_unit_test(test_link_is_lost_when_nobody_listens),
        cmocka_unit_test(test_link_is_lost_without_welcome_after_the_connect_timeout),
        cmocka_unit_test(test_link_is_lost_when_the_broker_goes_away),
        cmocka_unit_test(test_link_sends_heartbeats_and_is_lost_after_silent_beats),
        cmocka_unit_test(test_link_hands_over_the_error_that_ends_the_session),
        cmocka_unit_test(test_link_try_send_says_not_now_when_the_queue_is_full),
        cmocka_unit_test(test_link_reads_a_batch_frame_by_frame),
        cmocka_unit_test(test_link_decodes_into_the_callers_arena),
        cmocka_unit_test(test_link_reads_a_batch_in_another_form),
        cmocka_unit_test(test_link_gathers_sends_into_one_batch),
        cmocka_unit_test(test_link_sends_one_by_one_to_a_broker_without_batches),
        cmocka_unit_test(test_link_open_waits_and_reports_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
