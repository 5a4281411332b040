/* fuzz_broker.c — stateful libFuzzer harness for the broker's write path:
 * frames from four configured agents fed to handle_frame, then the pass
 * (fanout_plan, audit_tick, fanout_cursors, commit_submit, commit_reap) on
 * an in-process broker with a real LMDB store and a real ROUTER socket on
 * inproc, one DEALER per agent, as tests/unit/test_pipeline.c builds it.
 *
 * Input: chunks of [selector][length, 2 bytes little-endian][Envelope].
 * selector & 3 picks the agent that sends it; & 4 runs a pass after it;
 * & 8 then acks, as that agent, every Deliver it has received; & 16 ends
 * a pass after each Envelope of the chunk, a Batch's too, as the loop does
 * when its committer is idle (loop_pass_point). A pass always ends the
 * input.
 *
 * The agents differ in what the rule looks at (broker.cfg below): force
 * (police, OFFICIAL-SENSITIVE, no caveats, publishes and receives alerts),
 * rocu (SECRET, PRISON-INTEL, publishes alerts and national, receives
 * everything), prison (OFFICIAL, its own region, publishes its own alerts,
 * receives alerts and national) and ops (operator only: never receives).
 * Notices are on for alert.>. Two of them (rocu and ops) read Batch
 * frames, the other two get every frame alone; a chunk may be a Batch.
 *
 * Invariants, checked on every frame each DEALER reads after every pass,
 * beyond "no crash, no leak":
 * - a Deliver goes only to an identity policy_receive (broker/policy.c,
 *   against the broker's config) allows for that message through that
 *   subscription, and carries the stored message of its sequence; and,
 *   checked here without policy.c, only at or below the receiver's
 *   clearance with every caveat on the message held;
 * - a notice goes only where policy_receive says NOTICE for the stored
 *   message, and carries no body, subjects, caveats, grading, conditions,
 *   risk basis or msg_id;
 * - every PubAck names a sequence whose stored message is the one that
 *   agent published with that corr_id (same msg_id, same origin).
 * The rule is evaluated at a time just before the pass and just after the
 * frames are read; a frame must be allowed at one of them (a message can
 * expire or come out of embargo in between).
 *
 * State: the broker is made once (LLVMFuzzerInitialize); sessions are new
 * for every input (so an input depends on the store only), and the store
 * is emptied every RESET_EVERY inputs to keep it bounded (a 4 MiB map, so
 * a full store is reached too). The store lives on tmpfs where there is
 * one: every pass commits, and the harness is there to test logic, not
 * fsync.
 * - a subject query's answer holds a whole message only where policy_consult
 *   says DELIVER for the asker, a hit only where it says NOTICE, and a hit
 *   holds nothing of the content; a hit notice goes only to the message's
 *   originator; a delivery through a watchlist is about a watched subject,
 *   and one through a filter passes it.
 * Not responsible for: CURVE and ZAP (auth.c), reloads, retention, timers.
 *
 *   make fuzz          at length, corpus in build/fuzz/corpus/broker
 *   make fuzz-smoke    FUZZ_RUNS runs over tests/fuzz/seeds/broker */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

#include "audit.h"
#include "auth.h"
#include "broker.h"
#include "commit.h"
#include "control.h"
#include "fanout.h"
#include "filter.h"
#include "label.h"
#include "handle.h"
#include "ingest.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "subject.h"
#include "subjects.h"
#include "util.h"

#define N_AGENTS      4
#define MAX_CHUNKS    48
#define RESET_EVERY   400
#define MAP_MB        4
#define MAX_FRAME     65536
#define MAX_PUBS      MAX_CHUNKS
#define MAX_DELIVERED 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Like assert, but never compiled out, and names the broken invariant. */
#define check(ok)                                                                                  \
    do {                                                                                           \
        if (!(ok)) {                                                                               \
            fprintf(stderr, "fuzz_broker.c:%d: invariant failed: %s\n", __LINE__, #ok);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *const names[N_AGENTS] = {"force", "rocu", "prison", "ops"};

static const char config_text[] =
    "broker = { listen = \"tcp://127.0.0.1:1\"; secret_key = \"keys/broker.key\";\n"
    "  data_dir = \"data\"; map_size_mb = %d; metrics = \"\"; max_frame_bytes = %d;\n"
    "  max_topic_len = 64; credit_window = 8; max_deliver = 3; max_subs_per_agent = 16;\n"
    "  max_replays_per_minute = 100000; max_views_per_minute = 100000;\n"
    "  max_queries_per_minute = 100000; subject_key = \"keys/subjects.key\";\n"
    "  notify_on_hit = [ \"alert.>\" ];\n"
    "  notices = [ \"alert.>\" ]; audit_key = \"keys/audit.sign.key\";\n"
    "  audit_checkpoint_records = 64; log_level = \"error\"; };\n"
    "agents = (\n"
    " { name = \"force\"; agency = \"Humberside Police\"; type = \"police\";\n"
    "   region = \"yorkshire\"; public_key = \"%s\"; clearance = \"OFFICIAL-SENSITIVE\";\n"
    "   roles = [ \"publisher\", \"receiver\", \"query\" ]; publish = [ \"alert.yorkshire.>\" ];\n"
    "   subscribe = [ \"alert.>\" ]; contact = \"FIB duty desk\"; },\n"
    " { name = \"rocu\"; agency = \"Yorkshire ROCU\"; type = \"rocu\";\n"
    "   region = \"yorkshire\"; public_key = \"%s\"; clearance = \"SECRET\";\n"
    "   caveats = [ \"PRISON-INTEL\" ]; roles = [ \"publisher\", \"receiver\" ];\n"
    "   publish = [ \"alert.>\", \"national.>\" ]; subscribe = [ \">\" ]; },\n"
    " { name = \"prison\"; agency = \"HMP Hull\"; type = \"prison\";\n"
    "   region = \"humber\"; public_key = \"%s\"; clearance = \"OFFICIAL\";\n"
    "   roles = [ \"publisher\", \"receiver\", \"query\" ]; publish = [ \"alert.humber.>\" ];\n"
    "   subscribe = [ \"alert.>\", \"national.*\" ]; contact = \"LPIO\"; },\n"
    " { name = \"ops\"; agency = \"MARSOC\"; type = \"marsoc\"; region = \"national\";\n"
    "   public_key = \"%s\"; clearance = \"TOP-SECRET\"; caveats = [ \"PRISON-INTEL\" ];\n"
    "   roles = [ \"operator\" ]; subscribe = [ \">\" ]; }\n"
    ");\n";

static struct {
    char dir[256];
    char data_dir[300];
    broker_t b;
    uint8_t audit_seed[32];
    void *dealer[N_AGENTS];
    uint8_t key[N_AGENTS][32];
    char key_z85[N_AGENTS][41];
    const config_agent_t *conf[N_AGENTS];
    unsigned inputs;
    int verbose; /* FUZZ_BROKER_VERBOSE set: every frame read is printed */
} fz;

/* What this input's agents published, by corr_id: a PubAck names one. */
static struct published {
    int who;
    uint64_t corr;
    char *msg_id;
} pubs[MAX_PUBS];
static size_t n_pubs;

/* Deliveries received and not yet acked by the harness. */
static struct delivered {
    int who;
    uint32_t sub_id;
    uint64_t seq;
} delivered[MAX_DELIVERED];
static size_t n_delivered;

static const char *tmp_base(void)
{
    struct stat st;
    const char *t = getenv("TMPDIR");
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
        return "/dev/shm";
    return t && t[0] ? t : "/tmp";
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the broker --------------------------------------------------------------- */

/* Opens the store and everything whose state lives with it. */
static void broker_up(void)
{
    broker_t *b = &fz.b;
    char err[512];
    b->store = store_open(b->cfg->data_dir, b->cfg->map_size_mb, err, sizeof err);
    if (b->store == NULL) {
        fprintf(stderr, "fuzz_broker: store: %s\n", err);
        abort();
    }
    check(subjects_check(b->store, b->cfg->subject_key, err, sizeof err) == 0);
    b->index_on = 1;
    memcpy(b->subject_key, b->cfg->subject_key, sizeof b->subject_key);
    b->audit = audit_open(b->store, fz.audit_seed, b->cfg->audit_checkpoint_records,
                          b->cfg->audit_checkpoint_s, err, sizeof err);
    check(b->audit != NULL);
    b->open = batch_new();
    b->next_seq = store_last_seq(b->store) + 1;
    b->planned = b->next_seq - 1;
    b->full = 0;
    b->subindex = subindex_new();
    ingest_dedup_index(b); /* as the broker starts */
    b->sessions = sessions_new();
    b->control = control_new();
    control_load_durables(b);
    b->committer = committer_start(b->store, err, sizeof err);
    check(b->committer != NULL);
}

static void broker_down(void)
{
    broker_t *b = &fz.b;
    commit_reap(b, 1);
    committer_stop(&b->committer);
    batch_free(&b->open);
    batch_free(&b->inflight);
    batch_free(&b->spare[0]);
    batch_free(&b->spare[1]);
    fanout_busy_free(b);
    sessions_free(&b->sessions);
    subindex_free(&b->subindex);
    seen_free(&b->seen);
    control_free(&b->control);
    audit_close(&b->audit);
    store_close(&b->store);
    rm_tree(fz.data_dir);
}

static void *dealer(const char *id)
{
    broker_t *b = &fz.b;
    void *d = zmq_socket(b->ctx, ZMQ_DEALER);
    int ms = 5000, zero = 0;
    check(d != NULL);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, id, strlen(id));
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &ms, sizeof ms);
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    check(zmq_connect(d, "inproc://fuzz-broker") == 0);
    /* One frame each way makes the ROUTER know the peer. */
    check(zmq_send(d, "hi", 2, 0) == 2);
    char buf[64];
    check(zmq_recv(b->router, buf, sizeof buf, 0) > 0);
    check(zmq_recv(b->router, buf, sizeof buf, 0) == 2);
    return d;
}

static void shutdown_all(void)
{
    broker_t *b = &fz.b;
    broker_down();
    retention_free(&b->retention);
    metrics_free(&b->metrics);
    free(b->scratch);
    b->scratch = NULL;
    for (int i = 0; i < N_AGENTS; i++)
        zmq_close(fz.dealer[i]);
    zmq_close(b->router);
    auth_free(&b->auth);
    zmq_ctx_term(b->ctx);
    config_free(&b->cfg);
    rm_tree(fz.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    fz.verbose = getenv("FUZZ_BROKER_VERBOSE") != NULL;
    broker_t *b = &fz.b;
    char err[512], path[400], pub[N_AGENTS][41], sec[41];
    snprintf(fz.dir, sizeof fz.dir, "%s/liaison-fuzz-broker-XXXXXX", tmp_base());
    check(mkdtemp(fz.dir) != NULL);
    snprintf(path, sizeof path, "%s/keys", fz.dir);
    uint8_t subject_key[SUBJECT_KEY_BYTES];
    char key_path[420];
    randombytes_buf(subject_key, sizeof subject_key);
    snprintf(key_path, sizeof key_path, "%s/subjects.key", path);
    if (keys_generate(path, "broker", err, sizeof err) != 0 ||
        keys_generate_signing(path, "audit", err, sizeof err) != 0 ||
        subject_key_save(key_path, subject_key, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_broker: keygen: %s\n", err);
        abort();
    }
    for (int i = 0; i < N_AGENTS; i++) {
        check(zmq_curve_keypair(pub[i], sec) == 0);
        memcpy(fz.key_z85[i], pub[i], 41);
        check(zmq_z85_decode(fz.key[i], pub[i]) != NULL);
    }
    char text[sizeof config_text + 4 * 41 + 32];
    snprintf(text, sizeof text, config_text, MAP_MB, MAX_FRAME, pub[0], pub[1], pub[2], pub[3]);
    snprintf(path, sizeof path, "%s/broker.cfg", fz.dir);
    FILE *fp = fopen(path, "w");
    check(fp != NULL);
    fputs(text, fp);
    check(fclose(fp) == 0);
    b->cfg = config_load(path, err, sizeof err);
    if (b->cfg == NULL) {
        fprintf(stderr, "fuzz_broker: config: %s\n", err);
        abort();
    }
    memcpy(fz.audit_seed, b->cfg->audit_seed, sizeof fz.audit_seed);
    snprintf(fz.data_dir, sizeof fz.data_dir, "%s", b->cfg->data_dir);
    for (int i = 0; i < N_AGENTS; i++) {
        fz.conf[i] = config_agent_by_name(b->cfg, names[i]);
        check(fz.conf[i] != NULL);
    }
    b->started_us = util_now_us();
    b->ctx = zmq_ctx_new();
    /* The ZAP handler is bound as in the broker (operator views read its
     * counts); inproc peers never pass through it. */
    b->auth = auth_new(b->ctx, err, sizeof err);
    if (b->auth == NULL) {
        fprintf(stderr, "fuzz_broker: auth: %s\n", err);
        abort();
    }
    b->router = zmq_socket(b->ctx, ZMQ_ROUTER);
    int one = 1;
    zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    check(zmq_bind(b->router, "inproc://fuzz-broker") == 0);
    b->retention = retention_new();
    b->metrics = metrics_new();
    broker_up();
    for (int i = 0; i < N_AGENTS; i++)
        fz.dealer[i] = dealer(names[i]);
    atexit(shutdown_all);
    return 0;
}

/* Every agent connected and welcomed, as a fresh connection. */
static void sessions_begin(void)
{
    for (int i = 0; i < N_AGENTS; i++) {
        session_t *s =
            sessions_add(fz.b.sessions, (const uint8_t *)names[i], strlen(names[i]), names[i]);
        memcpy(s->key, fz.key[i], 32);
        memcpy(s->key_z85, fz.key_z85[i], sizeof s->key_z85);
        s->conf = fz.conf[i];
        /* rocu and ops read Batch frames; force and prison get every
         * frame alone. */
        s->batches = i % 2;
        s->welcomed = 1;
        s->connected_us = util_now_us();
        s->last_seen_ms = util_mono_ms();
    }
}

static session_t *session_of(int who)
{
    return sessions_find(fz.b.sessions, (const uint8_t *)names[who], strlen(names[who]));
}

/* The connections go, as the loop's reap does it. */
static void sessions_end(void)
{
    broker_t *b = &fz.b;
    while (sessions_count(b->sessions) > 0) {
        session_t *s = sessions_at(b->sessions, 0);
        fanout_session_gone(b, s);
        sessions_remove(b->sessions, s);
    }
}

/* One loop pass after dispatch, waiting for the committer (as
 * test_pipeline.c does): every frame of the pass has left when it returns. */
static void pass(void)
{
    broker_t *b = &fz.b;
    if (b->rd == NULL)
        b->rd = store_read_begin(b->store);
    fanout_plan(b);
    audit_tick(b->audit, b->open, util_mono_ms());
    fanout_cursors(b, util_mono_ms());
    store_read_end(&b->rd);
    commit_submit(b);
    commit_reap(b, 1);
}

/* Whether a session of each dealer read Batch frames at some point since
 * its frames were last drained: a Batch flushed to one that said Bye (at
 * a pass point inside a frame) is read after a new session took its place. */
static int may_batch[N_AGENTS];

static void note_batches(int who)
{
    session_t *s = session_of(who);
    if (s && s->batches)
        may_batch[who] = 1;
}

static void send_frame(int who, const void *data, size_t len)
{
    broker_t *b = &fz.b;
    /* Dispatch reads through the pass's snapshot, as the loop's does. */
    if (b->rd == NULL)
        b->rd = store_read_begin(b->store);
    session_t *before = session_of(who);
    int was_dead = before == NULL || before->dead;
    note_batches(who);
    handle_frame(b, (const uint8_t *)names[who], strlen(names[who]), names[who], fz.key_z85[who],
                 data, len);
    /* The same identity behind the same routing id keeps its session (a
     * harness whose sessions were replaced at every frame would test only
     * unwelcomed ones). */
    check(was_dead || session_of(who) == before);
    note_batches(who);
}

/* ---- the checks --------------------------------------------------------------- */

/* The stored message at seq (caller frees), or NULL if none. */
static Liaison__Intel *stored(uint64_t seq)
{
    store_read_t *r = store_read_begin(fz.b.store);
    const void *data;
    size_t len;
    Liaison__Intel *m = NULL;
    if (store_read_get(r, seq, &data, &len) == STORE_OK) {
        m = wire_intel_decode(data, len);
        check(m != NULL);
    }
    store_read_end(&r);
    return m;
}

static int same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static int holds(const config_agent_t *a, const char *caveat)
{
    for (size_t i = 0; i < a->n_caveats; i++)
        if (strcmp(a->caveats[i], caveat) == 0)
            return 1;
    return 0;
}

static void why_not(int who, const Liaison__Intel *m, const char *pattern, struct policy_verdict v)
{
    fprintf(stderr,
            "fuzz_broker: %s received seq %llu topic %s through %s; the rule says action %d "
            "rule %s\n",
            names[who], (unsigned long long)m->seq, m->topic ? m->topic : "-", pattern, v.action,
            policy_rule_name(v.rule));
}

static void on_deliver(int who, const Liaison__Deliver *d, int64_t t0, int64_t t1)
{
    session_t *s = session_of(who);
    check(s != NULL);
    sub_t *sub = session_sub_find(s, d->sub_id);
    check(sub != NULL);
    check(d->intel != NULL);
    uint64_t seq = d->intel->seq;
    Liaison__Intel *m = stored(seq);
    check(m != NULL); /* nothing is erased here: every delivered sequence is stored */
    enum policy_action want = d->notice ? POLICY_NOTICE : POLICY_DELIVER;
    struct policy_verdict v0 = policy_receive(fz.b.cfg, fz.conf[who], sub->pattern, m, t0);
    struct policy_verdict v1 = policy_receive(fz.b.cfg, fz.conf[who], sub->pattern, m, t1);
    if (v0.action != want && v1.action != want)
        why_not(who, m, sub->pattern, v0.action == POLICY_DEFER ? v1 : v0);
    check(v0.action == want || v1.action == want);
    /* A second opinion, independent of policy.c, on the two rules that
     * matter most: a message goes out whole only at or below the
     * receiver's clearance with every caveat held; a notice only where
     * notices are on (alert.> here). */
    if (!d->notice) {
        check(m->label->classification >= LIAISON__CLASSIFICATION__OFFICIAL);
        check((int)m->label->classification <= fz.conf[who]->clearance);
        for (size_t i = 0; i < m->label->n_caveats; i++)
            check(holds(fz.conf[who], m->label->caveats[i]));
    } else {
        check(strncmp(m->topic, "alert.", 6) == 0);
    }
    if (d->notice) {
        const Liaison__Intel *n = d->intel;
        check(n->body.len == 0);
        check(empty(n->msg_id));
        check(same(n->topic, m->topic));
        check(n->label != NULL);
        check(n->label->n_subjects == 0 && n->label->n_caveats == 0);
        check(n->label->source_grade == 0 && empty(n->label->intel_grade));
        check(empty(n->label->conditions) && empty(n->label->risk_basis));
        check(n->label->classification == 0 && n->label->sanitisation == 0);
        check(d->subject_count == m->label->n_subjects);
    } else {
        /* A filter only narrows: what passes it, it passes as received. */
        check(sub->filter == NULL || filter_match(sub->filter, m));
        /* The message itself, as stored. */
        check(same(d->intel->msg_id, m->msg_id) && same(d->intel->topic, m->topic));
        check(d->intel->body.len == m->body.len);
        check(d->intel->body.len == 0 ||
              memcmp(d->intel->body.data, m->body.data, m->body.len) == 0);
    }
    /* A watchlist gets only messages about what it watches. */
    if (sub->n_watch) {
        uint8_t tokens[LABEL_MAX_SUBJECTS][32];
        size_t n = subjects_tokens(fz.b.subject_key, m, tokens, LABEL_MAX_SUBJECTS), hit = 0;
        for (size_t i = 0; i < n && !hit; i++)
            for (uint32_t j = 0; j < sub->n_watch && !hit; j++)
                hit = memcmp(tokens[i], sub->watch[j], 32) == 0;
        check(hit);
    }
    wire_intel_free(&m);
    if (n_delivered < MAX_DELIVERED)
        delivered[n_delivered++] = (struct delivered){who, d->sub_id, seq};
}

/* A query's answers: a whole message only where the rule as the asker's
 * (any pattern: the query's is within ">") says DELIVER, a hit only where
 * it says NOTICE, and a hit carries nothing of the content. */
static void on_query_reply(int who, const Liaison__QueryReply *r, int64_t t0, int64_t t1)
{
    check(fz.conf[who]->roles & ROLE_QUERY);
    for (size_t i = 0; i < r->n_results; i++) {
        const Liaison__QueryResult *q = r->results[i];
        check(q->intel != NULL);
        Liaison__Intel *m = stored(q->intel->seq);
        check(m != NULL);
        enum policy_action want = q->hit ? POLICY_NOTICE : POLICY_DELIVER;
        struct policy_verdict v0 = policy_consult(fz.b.cfg, fz.conf[who], ">", m, t0);
        struct policy_verdict v1 = policy_consult(fz.b.cfg, fz.conf[who], ">", m, t1);
        if (v0.action != want && v1.action != want)
            why_not(who, m, "(query)", v0);
        check(v0.action == want || v1.action == want);
        if (q->hit) {
            const Liaison__Intel *h = q->intel;
            check(h->body.len == 0 && empty(h->msg_id) && same(h->topic, m->topic));
            check(h->label != NULL && h->label->n_subjects == 0 && h->label->n_caveats == 0);
            check(h->label->source_grade == 0 && empty(h->label->intel_grade));
            check(empty(h->label->conditions) && empty(h->label->risk_basis));
            check(h->label->classification == 0 && h->label->n_release_to == 0);
        } else {
            check((int)m->label->classification <= fz.conf[who]->clearance);
            check(same(q->intel->msg_id, m->msg_id) && q->intel->body.len == m->body.len);
        }
        wire_intel_free(&m);
    }
}

/* A hit notice goes only to the agency whose message was found, on a
 * connection that asked for them. */
static void on_hit_notice(int who, const Liaison__HitNotice *n)
{
    Liaison__Intel *m = stored(n->seq);
    check(m != NULL && m->origin != NULL && same(m->origin->agent, names[who]));
    session_t *s = session_of(who);
    check(s == NULL || s->hit_notices);
    wire_intel_free(&m);
}

static void on_puback(int who, uint64_t corr, const Liaison__PubAck *a)
{
    Liaison__Intel *m = stored(a->seq);
    if (m == NULL)
        fprintf(stderr, "fuzz_broker: PubAck to %s corr %llu names seq %llu, not stored\n",
                names[who], (unsigned long long)corr, (unsigned long long)a->seq);
    check(m != NULL);
    check(m->origin != NULL && same(m->origin->agent, names[who]));
    /* A publish without msg_id is given "liaison-<seq>" (protocol.md). */
    char made[32];
    snprintf(made, sizeof made, "liaison-%llu", (unsigned long long)a->seq);
    int found = 0;
    for (size_t i = 0; i < n_pubs && !found; i++)
        found = pubs[i].who == who && pubs[i].corr == corr &&
                (same(pubs[i].msg_id, m->msg_id) ||
                 (pubs[i].msg_id[0] == '\0' && same(m->msg_id, made)));
    if (!found)
        fprintf(stderr, "fuzz_broker: PubAck to %s corr %llu names seq %llu holding msg_id %s\n",
                names[who], (unsigned long long)corr, (unsigned long long)a->seq,
                m->msg_id ? m->msg_id : "-");
    check(found);
    wire_intel_free(&m);
}

static void trace(int who, const Liaison__Envelope *env)
{
    fprintf(stderr, "fuzz_broker: %-6s <- kind %d corr %llu", names[who], env->kind_case,
            (unsigned long long)env->corr_id);
    if (env->kind_case == LIAISON__ENVELOPE__KIND_DELIVER && env->deliver->intel)
        fprintf(stderr, " deliver sub %u seq %llu attempt %u%s", env->deliver->sub_id,
                (unsigned long long)env->deliver->intel->seq, env->deliver->attempt,
                env->deliver->notice ? " notice" : "");
    else if (env->kind_case == LIAISON__ENVELOPE__KIND_PUB_ACK)
        fprintf(stderr, " puback seq %llu%s", (unsigned long long)env->pub_ack->seq,
                env->pub_ack->duplicate ? " duplicate" : "");
    else if (env->kind_case == LIAISON__ENVELOPE__KIND_ERROR)
        fprintf(stderr, " error %s: %s", wire_error_name(env->error->code),
                env->error->message ? env->error->message : "");
    fputc('\n', stderr);
}

static void check_frame(int who, const Liaison__Envelope *env, int64_t t0, int64_t t1);

/* A Batch goes only to a session that reads them, and holds frames that
 * are each checked as if they had come alone (never a Batch). */
static void check_batch(int who, const Liaison__Batch *bt, int64_t t0, int64_t t1)
{
    check(session_of(who) == NULL || session_of(who)->batches || may_batch[who]);
    check(bt->n_frames >= 2); /* a lone frame goes as itself */
    for (size_t i = 0; i < bt->n_frames; i++) {
        Liaison__ErrorCode code;
        Liaison__Envelope *in =
            wire_envelope_decode(bt->frames[i].data, bt->frames[i].len, SIZE_MAX, &code, NULL);
        check(in != NULL && in->kind_case != LIAISON__ENVELOPE__KIND_BATCH);
        check_frame(who, in, t0, t1);
        wire_envelope_free(&in);
    }
}

static void check_frame(int who, const Liaison__Envelope *env, int64_t t0, int64_t t1)
{
    if (fz.verbose)
        trace(who, env);
    switch (env->kind_case) {
    case LIAISON__ENVELOPE__KIND_BATCH:
        check_batch(who, env->batch, t0, t1);
        break;
    case LIAISON__ENVELOPE__KIND_DELIVER:
        check(fz.conf[who]->roles & ROLE_RECEIVER);
        on_deliver(who, env->deliver, t0, t1);
        break;
    case LIAISON__ENVELOPE__KIND_PUB_ACK:
        on_puback(who, env->corr_id, env->pub_ack);
        break;
    case LIAISON__ENVELOPE__KIND_QUERY_REPLY:
        on_query_reply(who, env->query_reply, t0, t1);
        break;
    case LIAISON__ENVELOPE__KIND_HIT_NOTICE:
        on_hit_notice(who, env->hit_notice);
        break;
    case LIAISON__ENVELOPE__KIND_ERROR:
        check(env->error->code != LIAISON__ERROR_CODE__ERROR_NONE);
        break;
    default:
        break;
    }
}

/* Reads and checks every frame waiting at each DEALER. t0 was taken
 * before the pass that sent them. */
static void drain(int64_t t0)
{
    int64_t t1 = util_now_us();
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    for (int who = 0; who < N_AGENTS; who++) {
        while (zmq_msg_recv(&msg, fz.dealer[who], ZMQ_DONTWAIT) >= 0) {
            Liaison__ErrorCode code;
            Liaison__Envelope *env =
                wire_envelope_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), SIZE_MAX, &code, NULL);
            check(env != NULL); /* the broker only sends what decodes */
            check_frame(who, env, t0, t1);
            wire_envelope_free(&env);
        }
        may_batch[who] = 0;
        note_batches(who);
    }
    zmq_msg_close(&msg);
}

/* When the first pass ended inside a frame since the last check, or 0. */
static int64_t inner_t0;

/* The pass as loop_pass_point ends it between two Envelopes: the next one
 * is read through a new snapshot. */
static void pass_inside(broker_t *b)
{
    if (inner_t0 == 0)
        inner_t0 = util_now_us();
    pass();
    b->rd = store_read_begin(b->store);
}

static void pass_and_check(void)
{
    /* The rule may have been applied as early as the first pass inside a
     * frame. */
    int64_t t0 = inner_t0 ? inner_t0 : util_now_us();
    inner_t0 = 0;
    pass();
    drain(t0);
}

/* Acks, as agent who, everything it received: one Ack per delivery, so a
 * subscription's window opens again. */
static void ack_all(int who)
{
    uint8_t buf[64];
    size_t i = 0;
    while (i < n_delivered) {
        if (delivered[i].who != who) {
            i++;
            continue;
        }
        Liaison__Envelope env;
        Liaison__Ack ack = LIAISON__ACK__INIT;
        uint64_t seq = delivered[i].seq;
        wire_envelope_init(&env, 0);
        ack.sub_id = delivered[i].sub_id;
        ack.n_seqs = 1;
        ack.seqs = &seq;
        env.kind_case = LIAISON__ENVELOPE__KIND_ACK;
        env.ack = &ack;
        size_t n = wire_envelope_size(&env);
        check(n <= sizeof buf);
        wire_envelope_pack(&env, buf);
        send_frame(who, buf, n);
        delivered[i] = delivered[--n_delivered]; /* i now holds one not yet looked at */
    }
}

/* Notes a Publish so its PubAck can be checked, and each in a Batch. */
static void note_publish_in(int who, const uint8_t *data, size_t len, int inner)
{
    Liaison__ErrorCode code;
    uint64_t corr = 0;
    Liaison__Envelope *env = wire_envelope_decode(data, len, MAX_FRAME, &code, &corr);
    if (env == NULL)
        return;
    if (env->kind_case == LIAISON__ENVELOPE__KIND_BATCH && !inner) {
        for (size_t i = 0; i < env->batch->n_frames; i++)
            note_publish_in(who, env->batch->frames[i].data, env->batch->frames[i].len, 1);
        wire_envelope_free(&env);
        return;
    }
    if (env->kind_case == LIAISON__ENVELOPE__KIND_PUBLISH && env->publish->intel &&
        n_pubs < MAX_PUBS) {
        const char *id = env->publish->intel->msg_id;
        pubs[n_pubs++] = (struct published){who, env->corr_id, xstrdup(id ? id : "")};
    }
    wire_envelope_free(&env);
}

static void note_publish(int who, const uint8_t *data, size_t len)
{
    note_publish_in(who, data, len, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    broker_t *b = &fz.b;
    if (++fz.inputs % RESET_EVERY == 0) {
        broker_down();
        broker_up();
    }
    sessions_begin();
    size_t off = 0;
    for (int chunk = 0; chunk < MAX_CHUNKS && off + 3 <= size; chunk++) {
        uint8_t sel = data[off];
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (len > size - off)
            len = size - off;
        int who = sel & 3;
        note_publish(who, data + off, len);
        b->pass_point = sel & 16 ? pass_inside : NULL;
        send_frame(who, data + off, len);
        b->pass_point = NULL;
        off += len;
        if (sel & 4)
            pass_and_check();
        if (sel & 8)
            ack_all(who);
    }
    pass_and_check();
    sessions_end();
    pass_and_check();
    check(b->fatal == 0);
    for (size_t i = 0; i < n_pubs; i++)
        free(pubs[i].msg_id);
    n_pubs = 0;
    n_delivered = 0;
    return 0;
}
