/* test_pipeline.c — the write path driven directly, on real LMDB in a
 * temporary directory and a real ROUTER socket on inproc: ingest into the
 * open batch, fanout, the committer thread, and the end of a batch.
 * PubAcks only after the commit; a batch the map cannot hold refused whole
 * with the publish after it in the same pass, and the sequence given again
 * to the next stored message, never to two; a repeat answered from the
 * uncommitted batch; a full store refusing publishes while it still
 * delivers; a commit the map cannot hold pausing what writes, tried again
 * after a backoff, and everything it planned (deliveries, a dead letter)
 * planned again once there is room; deliveries held at the floor; and idle
 * subscriptions never visited per message; a Batch in answered by a Batch
 * out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "audit.h"
#include "broker.h"
#include "commit.h"
#include "fanout.h"
#include "handle.h"
#include "ingest.h"
#include "keys.h"
#include "loop.h"
#include "metrics.h"
#include "room.h"
#include "util.h"

struct fixture {
    char dir[64];
    broker_t b;
    void *pub, *sub; /* DEALER sockets, routing ids "pub" and "sub" */
    session_t *ps, *ss;
};

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void *dealer(struct fixture *f, const char *id)
{
    void *d = zmq_socket(f->b.ctx, ZMQ_DEALER);
    int ms = 5000, zero = 0;
    zmq_setsockopt(d, ZMQ_ROUTING_ID, id, strlen(id));
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &ms, sizeof ms);
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(d, "inproc://pipeline"), 0);
    /* One frame each way makes the ROUTER know the peer. */
    assert_int_equal(zmq_send(d, "hi", 2, 0), 2);
    char buf[64];
    assert_true(zmq_recv(f->b.router, buf, sizeof buf, 0) > 0);
    assert_int_equal(zmq_recv(f->b.router, buf, sizeof buf, 0), 2);
    return d;
}

static session_t *session(struct fixture *f, const char *name)
{
    session_t *s = sessions_add(f->b.sessions, (const uint8_t *)name, strlen(name), name);
    s->conf = config_agent_by_name(f->b.cfg, name);
    assert_non_null(s->conf);
    s->welcomed = 1;
    return s;
}

static int setup_map(void **state, unsigned map_mb)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[512], path[160], text[1024];
    snprintf(f->dir, sizeof f->dir, "/tmp/liaison-test-pipeline-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/keys", f->dir);
    const char *names[] = {"broker", "pub", "pub2", "sub"};
    for (int i = 0; i < 4; i++)
        if (keys_generate(path, names[i], err, sizeof err) != 0)
            fail_msg("keygen: %s", err);
    snprintf(text, sizeof text,
             "broker = { listen = \"tcp://127.0.0.1:1\"; secret_key = \"keys/broker.key\";\n"
             "  data_dir = \"data\"; map_size_mb = %u; metrics = \"\"; };\n"
             "agents = (\n"
             " { name = \"pub\"; agency = \"Humberside Police\"; type = \"police\";\n"
             "   region = \"yorkshire\"; public_key = \"keys/pub.pub\"; clearance = \"SECRET\";\n"
             "   roles = [ \"publisher\" ]; publish = [ \"alert.>\" ]; },\n"
             " { name = \"pub2\"; agency = \"HMP Hull\"; type = \"prison\";\n"
             "   region = \"yorkshire\"; public_key = \"keys/pub2.pub\"; clearance = \"SECRET\";\n"
             "   roles = [ \"publisher\" ]; publish = [ \"alert.>\" ]; },\n"
             " { name = \"sub\"; agency = \"Yorkshire ROCU\"; type = \"rocu\";\n"
             "   region = \"yorkshire\"; public_key = \"keys/sub.pub\"; clearance = \"SECRET\";\n"
             "   roles = [ \"receiver\" ]; subscribe = [ \"alert.>\", \"idle.>\" ]; }\n"
             ");\n",
             map_mb);
    snprintf(path, sizeof path, "%s/broker.cfg", f->dir);
    write_text(path, text);
    broker_t *b = &f->b;
    b->cfg = config_load(path, err, sizeof err);
    if (b->cfg == NULL)
        fail_msg("config: %s", err);
    b->ctx = zmq_ctx_new();
    b->router = zmq_socket(b->ctx, ZMQ_ROUTER);
    int one = 1;
    zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    assert_int_equal(zmq_bind(b->router, "inproc://pipeline"), 0);
    b->store = store_open(b->cfg->data_dir, map_mb, err, sizeof err);
    if (b->store == NULL)
        fail_msg("store: %s", err);
    b->audit = audit_open(b->store, NULL, 1000, 300, err, sizeof err);
    b->open = batch_new();
    b->next_seq = store_last_seq(b->store) + 1;
    b->planned = b->next_seq - 1;
    b->subindex = subindex_new();
    b->sessions = sessions_new();
    b->retention = retention_new();
    b->metrics = metrics_new();
    b->committer = committer_start(b->store, err, sizeof err);
    assert_non_null(b->committer);
    assert_int_equal(ingest_dedup_index(b), 0); /* as the broker starts */
    assert_non_null(b->seen);
    f->pub = dealer(f, "pub");
    f->sub = dealer(f, "sub");
    f->ps = session(f, "pub");
    f->ss = session(f, "sub");
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_map(state, 16);
}

static int setup_small(void **state)
{
    return setup_map(state, 2);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    commit_reap(b, 1);
    committer_stop(&b->committer);
    fanout_released_free(b);
    fanout_busy_free(b);
    batch_free(&b->open);
    batch_free(&b->inflight);
    batch_free(&b->spare[0]);
    batch_free(&b->spare[1]);
    sessions_free(&b->sessions);
    subindex_free(&b->subindex);
    seen_free(&b->seen);
    retention_free(&b->retention);
    metrics_free(&b->metrics);
    audit_close(&b->audit);
    store_close(&b->store);
    free(b->scratch);
    zmq_close(f->pub);
    zmq_close(f->sub);
    zmq_close(b->router);
    zmq_ctx_term(b->ctx);
    config_free(&b->cfg);
    int rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* What one loop pass does after dispatch: plan, hand over, and (here)
 * wait for the committer and end the batch. */
static void pass(broker_t *b)
{
    b->rd = store_read_begin(b->store);
    fanout_plan(b);
    audit_tick(b->audit, b->open, util_mono_ms());
    fanout_cursors(b, util_mono_ms());
    store_read_end(&b->rd);
    commit_submit(b);
    commit_reap(b, 1);
}

static Liaison__Intel *message(const char *topic, const char *msg_id, size_t body_len)
{
    Liaison__Intel *m = wire_intel_new();
    m->topic = xstrdup(topic);
    m->msg_id = xstrdup(msg_id);
    m->content_type = xstrdup("text/plain");
    m->label->classification = LIAISON__CLASSIFICATION__OFFICIAL;
    m->label->source_grade = 2;
    m->label->intel_grade = xstrdup("B");
    m->label->handling = LIAISON__HANDLING__HANDLING_P;
    m->label->risk = LIAISON__RISK__LOW;
    m->body.data = xmalloc(body_len ? body_len : 1);
    memset(m->body.data, 'b', body_len);
    m->body.len = body_len;
    return m;
}

static void publish(struct fixture *f, uint64_t corr, const char *topic, const char *msg_id,
                    size_t body_len)
{
    f->b.rd = store_read_begin(f->b.store);
    ingest_publish(&f->b, f->ps, corr, message(topic, msg_id, body_len), NULL, NULL);
    store_read_end(&f->b.rd);
}

/* The next frame a dealer received, decoded; NULL if none is waiting. */
static Liaison__Envelope *frame(void *d, int wait)
{
    static uint8_t buf[1 << 17];
    int n = zmq_recv(d, buf, sizeof buf, wait ? 0 : ZMQ_DONTWAIT);
    if (n < 0)
        return NULL;
    Liaison__ErrorCode code;
    Liaison__Envelope *env = wire_envelope_decode(buf, (size_t)n, sizeof buf, &code, NULL);
    assert_non_null(env);
    return env;
}

/* The next frame d received is a Deliver of seq. */
static void env_seq_is(void *d, uint64_t seq)
{
    Liaison__Envelope *env = frame(d, 1);
    assert_non_null(env);
    assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_DELIVER);
    assert_int_equal(env->deliver->intel->seq, seq);
    wire_envelope_free(&env);
}

static uint64_t expect_puback(void *d, uint64_t corr, int duplicate)
{
    Liaison__Envelope *env = frame(d, 1);
    assert_non_null(env);
    if (env->kind_case != LIAISON__ENVELOPE__KIND_PUB_ACK)
        fail_msg("corr %llu: kind %d, not a PubAck (%s)", (unsigned long long)corr, env->kind_case,
                 env->kind_case == LIAISON__ENVELOPE__KIND_ERROR ? env->error->message : "");
    assert_int_equal(env->corr_id, corr);
    assert_int_equal(env->pub_ack->duplicate, duplicate);
    uint64_t seq = env->pub_ack->seq;
    wire_envelope_free(&env);
    return seq;
}

static void expect_error(void *d, uint64_t corr, Liaison__ErrorCode code)
{
    Liaison__Envelope *env = frame(d, 1);
    assert_non_null(env);
    if (env->kind_case != LIAISON__ENVELOPE__KIND_ERROR)
        fail_msg("corr %llu: kind %d, not an Error", (unsigned long long)corr, env->kind_case);
    assert_int_equal(env->corr_id, corr);
    assert_int_equal(env->error->code, code);
    wire_envelope_free(&env);
}

/* One loop pass as before_sleep makes it while the store may be out of
 * room (loop.c): what room_plan allows, at now_ms. Returns the plan. */
static enum room_plan room_pass(broker_t *b, int64_t now_ms)
{
    b->rd = store_read_begin(b->store);
    enum room_plan plan = room_plan(b, now_ms);
    if (plan == ROOM_PLAN_TICK) {
        struct audit_event ev = {.actor = "broker",
                                 .action = "store_paused",
                                 .outcome = "refused",
                                 .reason = "map_full"};
        audit_append(b->audit, b->open, &ev);
    }
    if (plan == ROOM_PLAN_ALL || plan == ROOM_PLAN_TRY) {
        fanout_plan(b);
        audit_tick(b->audit, b->open, now_ms);
        fanout_cursors(b, now_ms);
    }
    store_read_end(&b->rd);
    commit_submit(b);
    commit_reap(b, 1);
    return plan;
}

/* The msg_id stored under seq, or "" if none. */
static void stored_msg_id(broker_t *b, uint64_t seq, char *out, size_t n)
{
    store_read_t *r = store_read_begin(b->store);
    const void *data;
    size_t len;
    out[0] = '\0';
    if (store_read_get(r, seq, &data, &len) == STORE_OK) {
        Liaison__Intel *m = wire_intel_decode(data, len);
        assert_non_null(m);
        snprintf(out, n, "%s", m->msg_id);
        wire_intel_free(&m);
    }
    store_read_end(&r);
}

static void test_pipeline_acks_a_publish_only_after_its_batch_commits(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    publish(f, 7, "alert.yorkshire.hmp-hull.drone", "hull-1", 200);
    assert_int_equal(b->open->n_pubs, 1);
    assert_null(frame(f->pub, 0)); /* accepted, not yet on disk: nothing said */
    assert_int_equal(store_last_seq(b->store), 0);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 7, 0), 1);
    assert_int_equal(store_last_seq(b->store), 1);
    char id[64];
    stored_msg_id(b, 1, id, sizeof id);
    assert_string_equal(id, "hull-1");
    /* The chain holds the publish, on disk. */
    struct audit_report rep;
    assert_int_equal(audit_verify(b->store, NULL, &rep), 0);
    assert_true(rep.records >= 1);
}

/* Three batches are in use under steady traffic (open, committing, being
 * released); a release that finds the open batch empty has one over, which
 * is kept too: the next release's open batch is a used one, its buffers
 * grown already, not a new one grown again message by message. */
static void test_pipeline_keeps_the_batch_a_quiet_release_has_over(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    publish(f, 1, "alert.yorkshire.hmp-hull.drone", "keep-1", 100);
    commit_submit(b); /* B1 commits */
    publish(f, 2, "alert.yorkshire.hmp-hull.drone", "keep-2", 100);
    commit_reap(b, 1); /* B1 released; B2 commits; a third batch opens */
    commit_reap(b, 1); /* B2 released with the open batch empty: one over */
    publish(f, 3, "alert.yorkshire.hmp-hull.drone", "keep-3", 100);
    commit_submit(b);
    publish(f, 4, "alert.yorkshire.hmp-hull.drone", "keep-4", 100);
    commit_reap(b, 1); /* the batch opened now is one used before */
    assert_true(b->open->cap_pubs > 0);
    commit_reap(b, 1);
    for (uint64_t corr = 1; corr <= 4; corr++)
        assert_int_equal(expect_puback(f->pub, corr, 0), corr);
}

static void test_pipeline_answers_a_repeat_from_the_uncommitted_batch(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    publish(f, 1, "alert.y.a", "m-1", 50);
    publish(f, 2, "alert.y.a", "m-1", 50); /* the agent re-sent before the PubAck */
    publish(f, 3, "alert.y.a", "m-2", 50);
    assert_int_equal(b->open->n_pubs, 2);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 1, 0), 1);
    assert_int_equal(expect_puback(f->pub, 3, 0), 2);
    assert_int_equal(expect_puback(f->pub, 2, 1), 1);
    /* And from the store once committed. */
    publish(f, 4, "alert.y.a", "m-2", 50);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 4, 1), 2);
    assert_int_equal(store_last_seq(b->store), 2);
}

/* The open batch's table of msg_ids grows as a pass takes more publishes
 * (from 1,024 slots, at most half full): every key of a pass that outgrew
 * it is still known, by the keyed hash the dedup index uses, and each
 * re-send in the same pass is answered with the first one's seq. */
static void test_pipeline_a_pass_that_outgrows_its_table_knows_every_repeat(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    enum { N = 700 };
    char id[32];
    for (int i = 1; i <= N; i++) {
        snprintf(id, sizeof id, "m-%d", i);
        publish(f, (uint64_t)i, "alert.y.a", id, 20);
    }
    for (int i = 1; i <= N; i++) {
        snprintf(id, sizeof id, "m-%d", i);
        publish(f, (uint64_t)(N + i), "alert.y.a", id, 20);
    }
    assert_int_equal(b->open->n_pubs, N);
    pass(b);
    for (int i = 1; i <= N; i++)
        assert_int_equal(expect_puback(f->pub, (uint64_t)i, 0), i);
    for (int i = 1; i <= N; i++)
        assert_int_equal(expect_puback(f->pub, (uint64_t)(N + i), 1), i);
    assert_int_equal(store_last_seq(b->store), N);
}

/* 1 if the dedup index names seq for k. */
static int index_names(const seen_t *f, const struct store_dkey *k, uint64_t seq)
{
    struct seen_walk w;
    for (uint64_t s = seen_first(f, seen_hash(k->b, k->len), &w); s; s = seen_next(f, &w))
        if (s == seq)
            return 1;
    return 0;
}

/* The dedup index names no sequence for a new msg_id, so the store is not
 * asked; built again (as when it fills) while one key is stored and
 * another waits in the open batch, it still knows both, and so does one
 * built from the store alone. */
static void test_pipeline_the_dedup_index_built_again_knows_every_key(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    struct store_dkey k1, k2;
    store_dedup_key("pub", "m-1", &k1);
    store_dedup_key("pub", "m-2", &k2);
    struct seen_walk w;
    assert_int_equal(seen_first(b->seen, seen_hash(k1.b, k1.len), &w), 0);
    publish(f, 1, "alert.y.a", "m-1", 50);
    pass(b);
    assert_true(index_names(b->seen, &k1, 1));
    assert_int_equal(expect_puback(f->pub, 1, 0), 1);
    publish(f, 2, "alert.y.a", "m-2", 50);
    assert_int_equal(ingest_dedup_index(b), 0);
    assert_int_equal(seen_count(b->seen), 2);
    assert_true(index_names(b->seen, &k1, 1));
    assert_true(index_names(b->seen, &k2, 2));
    pass(b);
    assert_int_equal(expect_puback(f->pub, 2, 0), 2);
    assert_int_equal(ingest_dedup_index(b), 0); /* from the store alone now */
    assert_int_equal(seen_count(b->seen), 2);
    publish(f, 3, "alert.y.a", "m-1", 50);
    publish(f, 4, "alert.y.a", "m-2", 50);
    publish(f, 5, "alert.y.a", "m-3", 50);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 5, 0), 3);
    assert_int_equal(expect_puback(f->pub, 3, 1), 1);
    assert_int_equal(expect_puback(f->pub, 4, 1), 2);
    assert_int_equal(store_last_seq(b->store), 3);
}

/* m-1 and m-2 stored as seqs 1 and 2, then seq 1 erased as retention
 * would: its dedup log entry goes with it. */
static void store_two_erase_the_first(struct fixture *f)
{
    broker_t *b = &f->b;
    publish(f, 1, "alert.y.a", "m-1", 50);
    publish(f, 2, "alert.y.a", "m-2", 50);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 1, 0), 1);
    assert_int_equal(expect_puback(f->pub, 2, 0), 2);
    store_wset_t *w = store_wset_new();
    store_wset_purge(w, 1, 0);
    assert_int_equal(store_commit(b->store, w), STORE_OK);
    store_wset_free(&w);
}

/* Grown from itself, as when it fills, the index reads no log: it keeps
 * an erased message's entry (which the log then turns down, so the msg_id
 * is new again) and leaves out the entries the window has passed. */
static void test_pipeline_the_dedup_index_grows_from_itself(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    store_two_erase_the_first(f);
    size_t bytes = seen_bytes(b->seen);
    ingest_dedup_grow(b);
    assert_int_equal(seen_count(b->seen), 2);
    assert_int_equal(seen_bytes(b->seen), bytes); /* sized for 2 keys: the least */
    publish(f, 3, "alert.y.a", "m-1", 50);
    publish(f, 4, "alert.y.a", "m-2", 50);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 3, 0), 3);
    assert_int_equal(expect_puback(f->pub, 4, 1), 2);
    /* Nothing stored is within a window of 0 s. */
    unsigned window = b->cfg->dedup_window_s;
    b->cfg->dedup_window_s = 0;
    ingest_dedup_grow(b);
    assert_int_equal(seen_count(b->seen), 0);
    b->cfg->dedup_window_s = window;
}

/* The index keeps an erased message's entry, and the key is asked of the
 * store's dedup log, which no longer has it: a re-send of its msg_id is a
 * new message. One from before the window is new too, once the index is
 * built for a window that leaves it out; a reload that widens the window
 * again makes it a repeat. */
static void test_pipeline_the_dedup_index_is_confirmed_by_the_store(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    store_two_erase_the_first(f);
    publish(f, 3, "alert.y.a", "m-1", 50);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 3, 0), 3);
    /* A window of 0 s leaves every key out of a new index: m-2 is new. */
    unsigned window = b->cfg->dedup_window_s;
    b->cfg->dedup_window_s = 0;
    assert_int_equal(ingest_dedup_index(b), 0);
    assert_int_equal(seen_count(b->seen), 0);
    b->cfg->dedup_window_s = window;
    publish(f, 4, "alert.y.a", "m-2", 50);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 4, 0), 4);
    assert_int_equal(ingest_dedup_index(b), 0);
    publish(f, 5, "alert.y.a", "m-2", 50);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 5, 1), 4);
}

/* Fills the map behind the broker's back with one large record it does
 * not count (a dead letter), leaving about `leave` bytes, so the room the
 * broker measured at its last commit is wrong, as an estimate can be. */
static void fill_behind(broker_t *b, size_t leave)
{
    store_room_update(b->store);
    size_t room = store_room(b->store);
    assert_true(room > leave + 65536);
    size_t n = room - leave - 16384;
    char *reason = xmalloc(n + 1);
    memset(reason, 'r', n);
    reason[n] = '\0';
    store_wset_t *w = store_wset_new();
    store_wset_deadletter(w, 1, "filler/1", reason);
    assert_int_equal(store_commit(b->store, w), STORE_OK);
    store_wset_free(&w);
    free(reason);
}

/* LMDB reuses a freed page only once two later commits have passed (the
 * previous snapshot stays readable): moves it on, and measures the room. */
static void free_filler_ticks(broker_t *b)
{
    store_wset_t *w = store_wset_new();
    for (int i = 0; i < 2; i++) {
        store_wset_clear(w);
        store_wset_cursor(w, "test/tick", (uint64_t)i, "alert.>", NULL);
        assert_int_equal(store_commit(b->store, w), STORE_OK);
    }
    store_wset_free(&w);
    store_room_update(b->store);
}

static void free_filler(broker_t *b)
{
    store_wset_t *w = store_wset_new();
    store_wset_deadletter_del(w, 1, "filler/1");
    assert_int_equal(store_commit(b->store, w), STORE_OK);
    store_wset_free(&w);
    free_filler_ticks(b);
}

static void test_pipeline_map_full_after_the_message_refuses_the_whole_pass(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    publish(f, 1, "alert.y.a", "before", 100);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 1, 0), 1);

    fill_behind(b, 24576);
    /* Two publishes in one pass: the first's message fits what is left of
     * the map, the rest of the batch (its audit record, the second) does
     * not. Neither may be acked, and neither is stored. */
    publish(f, 2, "alert.y.a", "small", 10);
    publish(f, 3, "alert.y.a", "second", 60000);
    assert_int_equal(b->open->n_pubs, 2);
    pass(b);
    expect_error(f->pub, 2, LIAISON__ERROR_CODE__STORE_FULL);
    expect_error(f->pub, 3, LIAISON__ERROR_CODE__STORE_FULL);
    assert_null(frame(f->pub, 0));
    assert_int_equal(store_last_seq(b->store), 1);
    assert_int_equal(b->next_seq, 2);

    /* Room again: the next message gets sequence 2, and 2 holds it. */
    free_filler(b);
    publish(f, 4, "alert.y.a", "after", 100);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 4, 0), 2);
    char id[64];
    stored_msg_id(b, 2, id, sizeof id);
    assert_string_equal(id, "after");
    stored_msg_id(b, 3, id, sizeof id);
    assert_string_equal(id, "");
    /* The refused batch left no hole or fork in the audit chain. */
    struct audit_report rep;
    assert_int_equal(audit_verify(b->store, NULL, &rep), 0);
}

static void test_pipeline_full_store_refuses_publishes_and_still_delivers(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    publish(f, 1, "alert.y.a", "kept", 100);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 1, 0), 1);
    /* Fill to less than the reserve. */
    fill_behind(b, ingest_reserve(b) / 2);
    store_room_update(b->store);
    assert_true(store_room(b->store) < ingest_reserve(b));

    publish(f, 2, "alert.y.a", "refused", 100);
    expect_error(f->pub, 2, LIAISON__ERROR_CODE__STORE_FULL); /* at once, by headroom */
    assert_int_equal(b->open->n_pubs, 0);

    /* A replaying receiver still gets what is stored: its disclosure
     * record goes into the reserve. */
    sub_t *sub = session_sub_add(f->ss, 9, "alert.>", NULL, 16, 1);
    fanout_sub_added(b, sub);
    pass(b);
    Liaison__Envelope *env = frame(f->sub, 1);
    assert_non_null(env);
    assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_DELIVER);
    assert_int_equal(env->deliver->intel->seq, 1);
    assert_string_equal(env->deliver->intel->msg_id, "kept");
    wire_envelope_free(&env);
    assert_int_equal(sub_ack(sub, 1), 0);
}

/* Fills the map to its last page behind the broker's back, with fillers
 * it does not count (dead letters), each as large as still fits: nothing
 * more commits, not even a delete (LMDB copies the pages it changes). The
 * room the broker measured stays as it was, as a wrong estimate would.
 * But `held` bytes were freed first under a reader's snapshot, which keeps
 * LMDB from reusing them: ending the reader (the returned one) gives them
 * back without a write. */
static store_read_t *fill_all(broker_t *b, size_t held)
{
    store_wset_t *w = store_wset_new();
    char *reason = xmalloc(held + 1);
    memset(reason, 'r', held);
    reason[held] = '\0';
    store_wset_deadletter(w, 1, "filler/held", reason);
    assert_int_equal(store_commit(b->store, w), STORE_OK);
    store_read_t *pin = store_read_begin(b->store);
    assert_non_null(pin);
    store_wset_clear(w);
    store_wset_deadletter_del(w, 1, "filler/held");
    assert_int_equal(store_commit(b->store, w), STORE_OK);
    int n = 0;
    for (size_t size = 1u << 20; size >= 64; size /= 2) {
        reason[size < held ? size : held] = '\0';
        for (;;) {
            char name[32];
            snprintf(name, sizeof name, "filler/%d", n);
            store_wset_clear(w);
            store_wset_deadletter(w, 1, name, reason);
            if (store_commit(b->store, w) != STORE_OK)
                break;
            n++;
        }
    }
    free(reason);
    store_wset_free(&w);
    return pin;
}

/* n publishes of 100 bytes, acked. */
static void publish_n(struct fixture *f, uint64_t n)
{
    for (uint64_t i = 1; i <= n; i++) {
        char id[16];
        snprintf(id, sizeof id, "m-%llu", (unsigned long long)i);
        publish(f, i, "alert.y.a", id, 100);
    }
    pass(&f->b);
    for (uint64_t i = 1; i <= n; i++)
        expect_puback(f->pub, i, 0);
}

/* One try, as the loop makes it once it is due: a tick and, if the tick
 * commits, the work at once. 1 if the work committed. */
static int try_once(broker_t *b)
{
    assert_int_equal(room_pass(b, b->pause.retry_ms - 1), ROOM_PLAN_WAIT);
    assert_int_equal(room_pass(b, b->pause.retry_ms), ROOM_PLAN_TICK);
    if (!b->pause.ticked)
        return 0;
    assert_int_equal(room_pass(b, b->pause.retry_ms), ROOM_PLAN_TRY);
    return !b->pause.on;
}

static void test_pipeline_a_refused_commit_pauses_and_is_tried_after_a_backoff(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    publish_n(f, 600);
    /* A replay of the 600: their disclosure records fit the room the
     * broker measured, not the map. */
    store_read_t *pin = fill_all(b, 512u << 10);
    sub_t *sub = session_sub_add(f->ss, 9, "alert.>", NULL, 1000, 1);
    fanout_sub_added(b, sub);
    assert_int_equal(room_pass(b, util_mono_ms()), ROOM_PLAN_ALL);
    assert_true(b->pause.on);
    assert_int_equal(b->stats.commits_refused, 1);
    assert_null(frame(f->sub, 0));
    /* Undone: all 600 are owed again, none counted as delivered. */
    assert_int_equal(sub->n_inflight, 0);
    assert_int_equal(sub->next_seq, 1);
    assert_int_equal(b->stats.deliveries, 0);
    /* Nothing is planned before a try is due, and each refused try (its
     * tick: not even that fits) doubles the wait, up to 5 s. */
    int64_t delay = ROOM_RETRY_FIRST_MS;
    assert_int_equal(b->pause.delay_ms, delay);
    for (uint64_t k = 1; k <= 10; k++) {
        assert_int_equal(try_once(b), 0);
        assert_int_equal(b->stats.commits_refused, k + 1);
        delay = delay * 2 < ROOM_RETRY_MAX_MS ? delay * 2 : ROOM_RETRY_MAX_MS;
        assert_int_equal(b->pause.delay_ms, delay);
        assert_true(b->pause.on);
        assert_null(frame(f->sub, 0));
    }
    assert_int_equal(delay, ROOM_RETRY_MAX_MS);
    /* Room again: the next try commits and the pause is over; the 600
     * arrive in order, once each. */
    store_read_end(&pin);
    assert_int_equal(try_once(b), 1);
    assert_int_equal(b->pause.delay_ms, 0);
    for (uint64_t seq = 1; seq <= 600; seq++) {
        Liaison__Envelope *env = frame(f->sub, 1);
        assert_non_null(env);
        assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_DELIVER);
        assert_int_equal(env->deliver->intel->seq, seq);
        assert_int_equal(env->deliver->attempt, 1);
        wire_envelope_free(&env);
    }
    assert_null(frame(f->sub, 0));
    assert_int_equal(b->stats.deliveries, 600);
    assert_int_equal(room_pass(b, util_mono_ms()), ROOM_PLAN_ALL);
    struct audit_report rep;
    assert_int_equal(audit_verify(b->store, NULL, &rep), 0);
}

static void test_pipeline_a_dead_letter_refused_with_its_batch_stays_in_the_window(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    publish_n(f, 1);
    sub_t *sub = session_sub_add(f->ss, 5, "alert.>", "sub/dl", 1, 1);
    fanout_sub_added(b, sub);
    pass(b);
    env_seq_is(f->sub, 1);
    /* Sent as often as it may be, and due again: a dead letter, in a batch
     * the map cannot hold. */
    struct inflight *fl = sub_inflight(sub, 1);
    fl->attempts = b->cfg->max_deliver;
    sub_set_due(sub, fl, 0);
    store_read_t *pin = fill_all(b, 512u << 10);
    assert_int_equal(room_pass(b, util_mono_ms()), ROOM_PLAN_ALL);
    assert_true(b->pause.on);
    /* Refused with it: back in the window as it was, not set aside. */
    assert_int_equal(sub->n_inflight, 1);
    assert_int_equal(sub_inflight(sub, 1)->attempts, b->cfg->max_deliver);
    assert_int_equal(sub->dead_lettered, 0);
    assert_int_equal(b->stats.dead_letters, 0);
    assert_int_equal(store_deadletter_get(b->store, 1, "sub/dl"), STORE_NOTFOUND);
    assert_null(frame(f->sub, 0));
    /* Room again: set aside now, and on disk; the window moves on. */
    store_read_end(&pin);
    assert_int_equal(try_once(b), 1);
    assert_int_equal(sub->dead_lettered, 1);
    assert_int_equal(b->stats.dead_letters, 1);
    assert_int_equal(store_deadletter_get(b->store, 1, "sub/dl"), STORE_OK);
    assert_true(sub_inflight(sub, 1) == NULL);
}

static void test_pipeline_a_publish_stored_while_paused_reaches_the_tail_after(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    publish_n(f, 600);
    sub_t *tail = session_sub_add(f->ss, 3, "alert.>", NULL, 16, SUB_AT_TAIL);
    fanout_sub_added(b, tail);
    store_read_t *pin = fill_all(b, 512u << 10);
    sub_t *replay = session_sub_add(f->ss, 9, "alert.>", NULL, 1000, 1);
    fanout_sub_added(b, replay);
    assert_int_equal(room_pass(b, util_mono_ms()), ROOM_PLAN_ALL);
    assert_true(b->pause.on);
    store_read_end(&pin);
    /* Paused, a publish that fits is stored by a pass that plans nothing:
     * acked, and not yet delivered. */
    publish(f, 700, "alert.y.a", "while-paused", 100);
    assert_int_equal(room_pass(b, b->pause.retry_ms - 1), ROOM_PLAN_WAIT);
    assert_int_equal(expect_puback(f->pub, 700, 0), 601);
    assert_null(frame(f->sub, 0));
    /* The pause over, it is planned from the store for the subscription
     * at the tail (after the replay's 600). */
    assert_int_equal(try_once(b), 1);
    for (uint64_t seq = 1; seq <= 600; seq++) {
        Liaison__Envelope *env = frame(f->sub, 1);
        assert_non_null(env);
        assert_int_equal(env->deliver->sub_id, 9);
        wire_envelope_free(&env);
    }
    Liaison__Envelope *env = frame(f->sub, 1);
    assert_non_null(env);
    assert_int_equal(env->deliver->sub_id, 3);
    assert_int_equal(env->deliver->intel->seq, 601);
    wire_envelope_free(&env);
    Liaison__Envelope *more = frame(f->sub, 1);
    assert_non_null(more);
    assert_int_equal(more->deliver->sub_id, 9); /* the replay reaches it too */
    assert_int_equal(more->deliver->intel->seq, 601);
    wire_envelope_free(&more);
    assert_null(frame(f->sub, 0));
}

static void test_pipeline_deliveries_wait_at_the_floor_until_room_is_back(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    publish(f, 1, "alert.y.a", "kept", 100);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 1, 0), 1);
    /* Room below the floor, and the broker knows it. */
    fill_behind(b, room_floor(b) / 2);
    store_room_update(b->store);
    assert_true(room_left(b) <= room_floor(b));
    sub_t *sub = session_sub_add(f->ss, 9, "alert.>", NULL, 16, 1);
    fanout_sub_added(b, sub);
    pass(b);
    /* Held, not tried: nothing is refused, and the rest of the reserve is
     * left for erasures, cursors and consultation records. */
    assert_null(frame(f->sub, 0));
    assert_true(b->pause.held);
    assert_true(room_paused(b));
    assert_int_equal(b->stats.commits_refused, 0);
    assert_int_equal(sub->next_seq, 1);
    assert_int_equal(sub->n_inflight, 0);
    /* Room back: the next pass delivers, and the hold is over. */
    free_filler(b);
    pass(b);
    env_seq_is(f->sub, 1);
    assert_false(b->pause.held);
}

static void test_pipeline_delivers_new_messages_through_the_index(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    /* 200 idle subscriptions on a topic no traffic matches, and one live. */
    for (uint32_t i = 0; i < 200; i++)
        fanout_sub_added(b, session_sub_add(f->ss, 100 + i, "idle.>", NULL, 4, SUB_AT_TAIL));
    sub_t *live = session_sub_add(f->ss, 1, "alert.>", "sub/feed", 4, SUB_AT_TAIL);
    fanout_sub_added(b, live);
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "n-%d", i);
        publish(f, (uint64_t)(10 + i), "alert.y.a", id, 20);
    }
    pass(b);
    for (int i = 0; i < 6; i++)
        expect_puback(f->pub, (uint64_t)(10 + i), 0);
    /* The live one got its window's worth, then fell behind at 5. */
    for (uint64_t seq = 1; seq <= 4; seq++) {
        Liaison__Envelope *env = frame(f->sub, 1);
        assert_non_null(env);
        assert_int_equal(env->deliver->sub_id, 1);
        assert_int_equal(env->deliver->intel->seq, seq);
        wire_envelope_free(&env);
    }
    assert_null(frame(f->sub, 0));
    assert_int_equal(live->next_seq, 5);
    /* A pass looks at the live one alone: the idle ones left the busy
     * list once quiet. */
    assert_int_equal(b->n_busy, 1);
    assert_true(b->busy[0] == live);
    /* Idle ones stayed at the tail, untouched. */
    sub_t *idle = session_sub_find(f->ss, 100);
    assert_int_equal(idle->next_seq, SUB_AT_TAIL);
    assert_int_equal(idle->delivered, 0);
    assert_int_equal(idle->refused, 0);
    /* Acks let it walk the rest from the store, and rejoin the tail. */
    for (uint64_t seq = 1; seq <= 4; seq++)
        assert_int_equal(sub_ack(live, seq), 0);
    pass(b);
    for (uint64_t seq = 5; seq <= 6; seq++) {
        Liaison__Envelope *env = frame(f->sub, 1);
        assert_non_null(env);
        assert_int_equal(env->deliver->intel->seq, seq);
        wire_envelope_free(&env);
    }
    assert_int_equal(live->next_seq, SUB_AT_TAIL);
    /* Its durable cursor trails the acks. */
    uint64_t floor = 0;
    char pattern[64];
    assert_int_equal(store_cursor_get(b->store, "sub/feed", &floor, pattern, sizeof pattern, NULL),
                     STORE_OK);
    assert_int_equal(floor, 4);
    /* All acked, its cursor written: quiet, and no pass looks at it. */
    assert_int_equal(sub_ack(live, 5), 0);
    assert_int_equal(sub_ack(live, 6), 0);
    pass(b);
    assert_int_equal(b->n_busy, 0);
    assert_int_equal(store_cursor_get(b->store, "sub/feed", &floor, pattern, sizeof pattern, NULL),
                     STORE_OK);
    assert_int_equal(floor, 6);
    /* A match makes it busy again, and it is delivered. */
    publish(f, 20, "alert.y.a", "n-6", 20);
    pass(b);
    expect_puback(f->pub, 20, 0);
    Liaison__Envelope *env = frame(f->sub, 1);
    assert_non_null(env);
    assert_int_equal(env->deliver->intel->seq, 7);
    wire_envelope_free(&env);
    assert_int_equal(b->n_busy, 1);
}

/* A durable whose connection has gone (the ROUTER found its peer
 * unreachable) but is not reaped yet: messages that arrive meanwhile are
 * not its to skip. Its next connection gets them (fault 04 lost them:
 * the floor went past what the dead session was never sent). */
static void test_pipeline_a_dead_session_keeps_its_durable_owed(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    sub_t *sub = session_sub_add(f->ss, 1, "alert.>", "sub/away", 16, SUB_AT_TAIL);
    fanout_sub_added(b, sub);
    f->ss->dead = 1;
    publish(f, 1, "alert.y.a", "while-dead-1", 20);
    publish(f, 2, "alert.y.a", "while-dead-2", 20);
    pass(b);
    expect_puback(f->pub, 1, 0);
    expect_puback(f->pub, 2, 0);
    assert_null(frame(f->sub, 0));
    /* Reaped: what it leaves behind is a floor below both. */
    fanout_sub_remove(b, f->ss, 1);
    pass(b);
    uint64_t floor = 99;
    struct store_cursor_ext ext = {0, 0, NULL};
    assert_true(fanout_released_floor(b, "sub/away", &floor, &ext));
    assert_int_equal(floor, 0);
    /* The next connection resumes there and is sent both. */
    f->ss->dead = 0;
    sub_t *again = session_sub_add(f->ss, 2, "alert.>", "sub/away", 16, floor + 1);
    fanout_sub_added(b, again);
    fanout_resume(again, &ext);
    free(ext.v);
    pass(b);
    env_seq_is(f->sub, 1);
    env_seq_is(f->sub, 2);
}

/* A Batch frame's inner frames, decoded (the caller frees each and the
 * array); fails the test if the next frame is not a Batch. */
static size_t batch_of(void *d, Liaison__Envelope ***out)
{
    Liaison__Envelope *env = frame(d, 1);
    assert_non_null(env);
    assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_BATCH);
    size_t n = env->batch->n_frames;
    *out = xcalloc(n ? n : 1, sizeof **out);
    for (size_t i = 0; i < n; i++) {
        Liaison__ErrorCode code;
        (*out)[i] = wire_envelope_decode(env->batch->frames[i].data, env->batch->frames[i].len,
                                         1u << 20, &code, NULL);
        assert_non_null((*out)[i]);
    }
    wire_envelope_free(&env);
    return n;
}

/* Gathers a Publish of m, packed. */
static void add_intel(struct wire_gather *g, uint64_t corr, Liaison__Intel *m)
{
    Liaison__Envelope env;
    Liaison__Publish pub = LIAISON__PUBLISH__INIT;
    wire_envelope_init(&env, corr);
    pub.intel = m;
    env.kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
    env.publish = &pub;
    uint8_t frame[512];
    wire_gather_add(g, frame, wire_envelope_pack(&env, frame));
}

/* Gathers one packed Publish. */
static void add_publish(struct wire_gather *g, uint64_t corr, const char *msg_id)
{
    Liaison__Intel *m = message("alert.y.batch", msg_id, 30);
    add_intel(g, corr, m);
    wire_intel_free(&m);
}

/* What g gathered, handled as one Batch frame from "pub" as dispatch hands
 * it over; g is emptied. */
static void handle_gathered(broker_t *b, const char *key, struct wire_gather *g)
{
    size_t len;
    const uint8_t *data = wire_gather_frame(g, &len);
    b->rd = store_read_begin(b->store);
    handle_frame(b, (const uint8_t *)"pub", 3, "pub", key, data, len);
    store_read_end(&b->rd);
    wire_gather_free(g);
}

/* n Publishes from "pub" (corr_ids from corr, msg_ids prefix-0 on) in one
 * Batch frame, handled as dispatch hands it over. */
static void publish_batch(broker_t *b, const char *key, uint64_t corr, int n, const char *prefix)
{
    struct wire_gather g = {0};
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        add_publish(&g, corr + (uint64_t)i, id);
    }
    handle_gathered(b, key, &g);
}

/* A Batch frame holding a whole window of publishes goes to disk in
 * pieces while the rest of it is read: the loop's pass ends between two of
 * its Envelopes when the committer is idle (loop_pass_point). Before, the
 * committer waited for the last of the frame, then the loop waited for
 * the commit. However it is cut, every publish is acked once, in order,
 * under the sequence it is stored at, and delivered once in order. */
static void test_pipeline_a_long_batch_goes_to_disk_while_it_is_read(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    static const char key[] = "0123456789012345678901234567890123456789";
    enum { N = 300 };
    memcpy(f->ps->key_z85, key, sizeof key);
    f->ss->batches = 1;
    fanout_sub_added(b, session_sub_add(f->ss, 1, "alert.>", NULL, 1000, SUB_AT_TAIL));
    b->pass_point = loop_pass_point;
    publish_batch(b, key, 1, N, "w");
    /* Handed over before the frame's end: the open batch holds the rest. */
    assert_non_null(b->inflight);
    assert_true(b->open->n_pubs < N);
    while (b->inflight || !batch_empty(b->open))
        pass(b);
    assert_int_equal(store_last_seq(b->store), N);

    /* The publisher reads single frames: N PubAcks, in order. */
    for (int i = 0; i < N; i++)
        assert_int_equal(expect_puback(f->pub, (uint64_t)(1 + i), 0), (uint64_t)(1 + i));
    assert_null(frame(f->pub, 0));
    /* The subscriber reads Batches: N Delivers over several frames (a
     * release of one goes alone), in order. */
    uint64_t next = 1;
    Liaison__Envelope *env;
    while (next <= N && (env = frame(f->sub, 1)) != NULL) {
        if (env->kind_case == LIAISON__ENVELOPE__KIND_DELIVER) {
            assert_int_equal(env->deliver->intel->seq, next++);
            wire_envelope_free(&env);
            continue;
        }
        assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_BATCH);
        for (size_t i = 0; i < env->batch->n_frames; i++) {
            Liaison__ErrorCode code;
            Liaison__Envelope *in = wire_envelope_decode(
                env->batch->frames[i].data, env->batch->frames[i].len, 1u << 20, &code, NULL);
            assert_non_null(in);
            assert_int_equal(in->kind_case, LIAISON__ENVELOPE__KIND_DELIVER);
            assert_int_equal(in->deliver->intel->seq, next++);
            wire_envelope_free(&in);
        }
        wire_envelope_free(&env);
    }
    assert_int_equal(next, N + 1);
    assert_null(frame(f->sub, 0));
}

/* Publishes that came in one Batch frame are each handled as if alone; what
 * their commit releases to a session that reads batches goes as one Batch
 * (its PubAcks in order; the subscriber's Delivers likewise), and a Batch
 * inside a Batch is refused as a bad frame. */
static void test_pipeline_a_batch_in_is_answered_by_a_batch_out(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    static const char key[] = "0123456789012345678901234567890123456789";
    memcpy(f->ps->key_z85, key, sizeof key);
    f->ps->batches = 1;
    f->ss->batches = 1;
    fanout_sub_added(b, session_sub_add(f->ss, 1, "alert.>", NULL, 10, SUB_AT_TAIL));
    publish_batch(b, key, 21, 3, "b");
    assert_int_equal(b->open->n_pubs, 3);
    pass(b);

    Liaison__Envelope **in;
    assert_int_equal(batch_of(f->pub, &in), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(in[i]->kind_case, LIAISON__ENVELOPE__KIND_PUB_ACK);
        assert_int_equal(in[i]->corr_id, 21 + i);
        assert_int_equal(in[i]->pub_ack->seq, 1 + i);
        wire_envelope_free(&in[i]);
    }
    free(in);
    assert_null(frame(f->pub, 0));
    assert_int_equal(batch_of(f->sub, &in), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(in[i]->kind_case, LIAISON__ENVELOPE__KIND_DELIVER);
        assert_int_equal(in[i]->deliver->intel->seq, 1 + i);
        wire_envelope_free(&in[i]);
    }
    free(in);
    assert_null(frame(f->sub, 0));

    /* A Batch holding a Batch: its frames are not read. */
    struct wire_gather inner = {0}, outer = {0};
    size_t n;
    const uint8_t *data;
    add_publish(&inner, 30, "b-inner-1");
    add_publish(&inner, 31, "b-inner-2");
    data = wire_gather_frame(&inner, &n);
    wire_gather_add(&outer, data, n);
    add_publish(&outer, 32, "b-after"); /* two frames, so a Batch */
    data = wire_gather_frame(&outer, &n);
    b->rd = store_read_begin(b->store);
    handle_frame(b, (const uint8_t *)"pub", 3, "pub", key, data, n);
    store_read_end(&b->rd);
    wire_gather_free(&inner);
    wire_gather_free(&outer);
    /* The nested one refused; the publish after it in the outer one is
     * its own frame, handled. */
    assert_int_equal(b->open->n_pubs, 1);
    expect_error(f->pub, 0, LIAISON__ERROR_CODE__BAD_FRAME);

    /* More frames than a Batch may hold: none of them is read. */
    struct wire_gather big = {0};
    for (int i = 0; i <= WIRE_BATCH_MAX_FRAMES; i++) {
        char id[24];
        snprintf(id, sizeof id, "big-%d", i);
        add_publish(&big, (uint64_t)(1000 + i), id);
    }
    data = wire_gather_frame(&big, &n);
    b->rd = store_read_begin(b->store);
    handle_frame(b, (const uint8_t *)"pub", 3, "pub", key, data, n);
    store_read_end(&b->rd);
    wire_gather_free(&big);
    assert_int_equal(b->open->n_pubs, 1);
    expect_error(f->pub, 0, LIAISON__ERROR_CODE__BAD_FRAME);
    assert_null(frame(f->pub, 0));
}

/* The frames of a Batch are decoded into the open batch's arena: a publish
 * lives there until its batch is released, and the frames refused beside it
 * (a message without a label, bytes that are no Envelope) neither take it
 * with them nor are kept once no publish holds the arena. Under ASan a
 * publish read after its arena was taken back is poisoned memory. */
static void test_pipeline_a_publish_outlives_the_refused_frames_beside_it(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    static const char key[] = "0123456789012345678901234567890123456789";
    memcpy(f->ps->key_z85, key, sizeof key);
    fanout_sub_added(b, session_sub_add(f->ss, 1, "alert.>", NULL, 10, SUB_AT_TAIL));

    struct wire_gather g = {0};
    add_publish(&g, 41, "keep-1");
    Liaison__Intel bare = LIAISON__INTEL__INIT;
    char topic[] = "alert.y.batch", id[] = "no-label";
    bare.topic = topic;
    bare.msg_id = id;
    add_intel(&g, 42, &bare);
    static const uint8_t junk[] = {0x08, 0x01, 0xff};
    wire_gather_add(&g, junk, sizeof junk);
    add_publish(&g, 44, "keep-2");
    handle_gathered(b, key, &g);
    assert_int_equal(b->open->n_pubs, 2);
    assert_true(arena_used(batch_arena(b->open)) > 0);
    expect_error(f->pub, 42, LIAISON__ERROR_CODE__BAD_LABEL);
    expect_error(f->pub, 0, LIAISON__ERROR_CODE__BAD_FRAME);

    pass(b);
    assert_int_equal(expect_puback(f->pub, 41, 0), 1);
    assert_int_equal(expect_puback(f->pub, 44, 0), 2);
    static const char *const want[] = {"keep-1", "keep-2"};
    for (int i = 0; i < 2; i++) {
        Liaison__Envelope *d = frame(f->sub, 1);
        assert_non_null(d);
        assert_int_equal(d->kind_case, LIAISON__ENVELOPE__KIND_DELIVER);
        assert_string_equal(d->deliver->intel->msg_id, want[i]);
        assert_string_equal(d->deliver->intel->topic, "alert.y.batch");
        assert_string_equal(d->deliver->intel->origin->agent, "pub");
        wire_envelope_free(&d);
    }
    /* Released: the next pass's batch starts with nothing in its arena. */
    assert_int_equal(arena_used(batch_arena(b->open)), 0);
}

/* Publishes in one batch share the Label whose bytes are the same, and a
 * shared one that passed is not checked again (label_validate_known): one
 * whose Label differs is checked, however valid the one before it was. */
static void test_pipeline_a_label_is_checked_once_and_a_different_one_again(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    static const char key[] = "0123456789012345678901234567890123456789";
    memcpy(f->ps->key_z85, key, sizeof key);

    struct wire_gather g = {0};
    add_publish(&g, 50, "same-0");
    add_publish(&g, 51, "same-1");
    Liaison__Intel *bad = message("alert.y.batch", "bad-grade", 30);
    bad->label->source_grade = 0; /* 1-3 */
    add_intel(&g, 52, bad);
    wire_intel_free(&bad);
    add_publish(&g, 53, "same-2");
    handle_gathered(b, key, &g);

    expect_error(f->pub, 52, LIAISON__ERROR_CODE__BAD_GRADING);
    assert_int_equal(b->open->n_pubs, 3);
    const Liaison__Label *l = b->open->pubs[0].intel->label;
    assert_ptr_equal(b->open->pubs[1].intel->label, l);
    /* The refused one's Label was the last decoded: the one after is
     * decoded again, and checked again. */
    assert_ptr_not_equal(b->open->pubs[2].intel->label, l);
    assert_ptr_equal(b->open->label_passed, b->open->pubs[2].intel->label);
    pass(b);
    assert_int_equal(expect_puback(f->pub, 50, 0), 1);
    assert_int_equal(expect_puback(f->pub, 51, 0), 2);
    assert_int_equal(expect_puback(f->pub, 53, 0), 3);
    /* Reset with its arena: nothing of it is taken for passed after. */
    assert_null(b->open->label_passed);
}

/* The origin of a publish is its agent's, as configured when it came: the
 * publishes of one agent in a batch share one copy of it, and neither
 * another agent's publish between them nor a reload takes it for theirs. */
static void test_pipeline_an_origin_is_shared_by_one_agent_and_no_other(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    static const char key[] = "0123456789012345678901234567890123456789";
    memcpy(f->ps->key_z85, key, sizeof key);
    /* Written below as a reload would make it anew. */
    config_agent_t *pub = (config_agent_t *)(uintptr_t)f->ps->conf;
    const config_agent_t *pub2 = config_agent_by_name(b->cfg, "pub2");
    assert_non_null(pub2);

    publish_batch(b, key, 60, 2, "mine");
    f->ps->conf = pub2; /* the same connection, another agent's key */
    publish_batch(b, key, 62, 1, "theirs");
    f->ps->conf = pub;
    publish_batch(b, key, 63, 1, "mine-again");
    /* A reload: the same agent, its agency renamed, a config further on. */
    char *was = pub->agency;
    pub->agency = (char *)(uintptr_t) "Humberside Police (renamed)";
    b->cfg_gen++;
    publish_batch(b, key, 64, 1, "after-reload");

    assert_int_equal(b->open->n_pubs, 5);
    const Liaison__Origin *o[5];
    for (int i = 0; i < 5; i++)
        o[i] = b->open->pubs[i].intel->origin;
    assert_ptr_equal(o[1], o[0]);
    assert_string_equal(o[0]->agent, "pub");
    assert_string_equal(o[0]->agency, "Humberside Police");
    assert_string_equal(o[2]->agent, "pub2");
    assert_string_equal(o[2]->agency, "HMP Hull");
    assert_string_equal(o[2]->type, "prison");
    assert_string_equal(o[3]->agent, "pub");
    assert_string_equal(o[3]->agency, "Humberside Police");
    assert_string_equal(o[4]->agency, "Humberside Police (renamed)");
    assert_string_equal(o[0]->agency, "Humberside Police"); /* the first ones kept theirs */
    pass(b);
    pub->agency = was;
    for (uint64_t corr = 60; corr <= 64; corr++)
        assert_int_equal(expect_puback(f->pub, corr, 0), corr - 59);
    /* As stored, each with its own. */
    const char *agency[] = {"Humberside Police", "Humberside Police", "HMP Hull",
                            "Humberside Police", "Humberside Police (renamed)"};
    store_read_t *r = store_read_begin(b->store);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        const void *data;
        size_t len;
        assert_int_equal(store_read_get(r, seq, &data, &len), STORE_OK);
        Liaison__Intel *m = wire_intel_decode(data, len);
        assert_non_null(m);
        assert_string_equal(m->origin->agency, agency[seq - 1]);
        assert_string_equal(m->origin->agent, seq == 3 ? "pub2" : "pub");
        wire_intel_free(&m);
    }
    store_read_end(&r);
    assert_null(b->open->origin); /* reset with its arena */
}

/* Each disclosure record holds the digest of what it disclosed: the same
 * as the message's collection record, however many subscriptions walked
 * it from the store in one pass (the digest is kept with the decoded copy
 * and not computed again). */
static void test_pipeline_disclosures_from_the_store_hold_the_message_digest(void **state)
{
    struct fixture *f = *state;
    broker_t *b = &f->b;
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "d-%d", i);
        publish(f, (uint64_t)(40 + i), "alert.y.digest", id, 60 + 10 * i);
    }
    pass(b);
    for (int i = 0; i < 5; i++)
        expect_puback(f->pub, (uint64_t)(40 + i), 0);
    /* Three subscriptions behind the tail: all walk seqs 1..5 from the
     * store in the same pass. */
    for (uint32_t id = 1; id <= 3; id++)
        fanout_sub_added(b, session_sub_add(f->ss, id, "alert.>", NULL, 10, 1));
    pass(b);
    for (int i = 0; i < 15; i++) {
        Liaison__Envelope *env = frame(f->sub, 1);
        assert_non_null(env);
        assert_int_equal(env->kind_case, LIAISON__ENVELOPE__KIND_DELIVER);
        wire_envelope_free(&env);
    }
    uint8_t collected[6][32];
    int n_collect = 0, n_disclose = 0;
    store_read_t *r = store_read_begin(b->store);
    uint64_t key = 1, found;
    const void *data;
    size_t len;
    while (store_read_seek(r, STORE_DB_AUDIT, key, 0, &found, &data, &len) == STORE_OK) {
        Liaison__AuditRecord *rec = wire_audit_record_decode(data, len);
        assert_non_null(rec);
        if (rec->msg_seq >= 1 && rec->msg_seq <= 5 && rec->digest.len == 32) {
            if (strcmp(rec->action, "publish") == 0) {
                /* The batch's publishes by one agent on one topic. */
                assert_int_equal(rec->n_more_digests, rec->n_more_seqs);
                memcpy(collected[rec->msg_seq], rec->digest.data, 32);
                for (size_t i = 0; i < rec->n_more_seqs; i++) {
                    assert_in_range(rec->more_seqs[i], 1, 5);
                    memcpy(collected[rec->more_seqs[i]], rec->more_digests[i].data, 32);
                }
                n_collect += (int)rec->count;
            } else if (strcmp(rec->action, "deliver") == 0) {
                /* The pass's disclosures to one subscriber, each by its digest. */
                assert_memory_equal(rec->digest.data, collected[rec->msg_seq], 32);
                assert_int_equal(rec->n_more_seqs, rec->n_more_digests);
                assert_int_equal(rec->count, 1 + rec->n_more_seqs);
                for (size_t i = 0; i < rec->n_more_seqs; i++) {
                    assert_in_range(rec->more_seqs[i], 1, 5);
                    assert_int_equal(rec->more_digests[i].len, 32);
                    assert_memory_equal(rec->more_digests[i].data, collected[rec->more_seqs[i]],
                                        32);
                }
                n_disclose += (int)rec->count;
            }
        }
        wire_audit_record_free(&rec);
        key = found + 1;
    }
    store_read_end(&r);
    assert_int_equal(n_collect, 5);
    assert_int_equal(n_disclose, 15);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define S(name) cmocka_unit_test_setup_teardown(name, setup_small, teardown)
    const struct CMUnitTest tests[] = {
        T(test_pipeline_acks_a_publish_only_after_its_batch_commits),
        T(test_pipeline_keeps_the_batch_a_quiet_release_has_over),
        T(test_pipeline_answers_a_repeat_from_the_uncommitted_batch),
        T(test_pipeline_a_pass_that_outgrows_its_table_knows_every_repeat),
        S(test_pipeline_map_full_after_the_message_refuses_the_whole_pass),
        S(test_pipeline_full_store_refuses_publishes_and_still_delivers),
        S(test_pipeline_a_refused_commit_pauses_and_is_tried_after_a_backoff),
        S(test_pipeline_a_dead_letter_refused_with_its_batch_stays_in_the_window),
        S(test_pipeline_a_publish_stored_while_paused_reaches_the_tail_after),
        S(test_pipeline_deliveries_wait_at_the_floor_until_room_is_back),
        T(test_pipeline_delivers_new_messages_through_the_index),
        T(test_pipeline_a_dead_session_keeps_its_durable_owed),
        T(test_pipeline_a_batch_in_is_answered_by_a_batch_out),
        T(test_pipeline_a_long_batch_goes_to_disk_while_it_is_read),
        T(test_pipeline_a_publish_outlives_the_refused_frames_beside_it),
        T(test_pipeline_a_label_is_checked_once_and_a_different_one_again),
        T(test_pipeline_an_origin_is_shared_by_one_agent_and_no_other),
        T(test_pipeline_disclosures_from_the_store_hold_the_message_digest),
        T(test_pipeline_the_dedup_index_built_again_knows_every_key),
        T(test_pipeline_the_dedup_index_is_confirmed_by_the_store),
        T(test_pipeline_the_dedup_index_grows_from_itself),
    };
#undef T
#undef S
    return cmocka_run_group_tests(tests, NULL, NULL);
}
