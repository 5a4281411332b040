/* audit.c — the hash-chained, append-only audit trail, its signed
 * checkpoints, aggregation of floods, reading and offline verification.
 * The chain hash of a record is a hash over its stored bytes (BLAKE2b-256 in
 * format 2, SHA-256 in records written before it), and each
 * record holds its predecessor's, so changing, dropping or inserting any
 * record breaks the chain at that point; a signed checkpoint of the head
 * catches a rewrite of the whole tail.
 * Not responsible for: deciding what is audited (the callers). */
#include "audit.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define HASH_LEN      32
#define AGG_SLOTS     256
#define AGG_WINDOW_MS 60000
#define QUERY_MAX     1000
#define TEXT_MAX      256
#define RUN_SLOTS     64
#define RUN_MAX       128
/* A gathered record's size at most, beside its texts: the fixed fields
 * (seq, time, msg_seq, count and format as varints at their longest, the
 * digest and prev_hash, each text's tag and length, "ok", the more_seqs
 * field's tag and length); and each further message: a more_digests entry
 * (a two-byte tag, a length, the digest) and its seq's varint in more_seqs,
 * of up to ten bytes. */
#define RUN_HEAD_BYTES   160
#define RUN_DIGEST_BYTES 35
#define RUN_ENTRY_MAX    (RUN_DIGEST_BYTES + 10)

/* Identical events (same actor, action, outcome, reason and topic) in one
 * minute are one record with a count. */
struct agg {
    char actor[96], action[32], outcome[16], reason[64], topic[160];
    uint32_t count; /* events since the one written at once */
    int64_t start_ms;
    int used;
};

/* Events about one message each (collections, disclosures) gathered by
 * actor, recipient, action, reason and topic: a record each when the
 * batch is handed on (or the run fills). The texts are held as the
 * record writes them (bounded). */
struct run {
    char actor[TEXT_MAX + 32], recipient[TEXT_MAX + 32], topic[TEXT_MAX + 32];
    const char *action, *reason; /* static strings */
    int clean;                   /* its texts are the event's as sent (bounded left them) */
    uint32_t n;
    size_t head, bytes; /* what its record would take at most: empty, as it stands */
    uint64_t seqs[RUN_MAX];
    uint8_t digests[RUN_MAX][HASH_LEN];
};

struct audit {
    store_t *st;
    int signing;
    uint8_t sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    unsigned every, every_s;
    /* Chain head as committed, and as extended by the batches not yet
     * committed (the committer's and the open one). */
    uint64_t c_seq, p_seq;
    uint8_t c_hash[HASH_LEN], p_hash[HASH_LEN];
    uint64_t ckpt_seq, c_ckpt_seq;
    uint8_t ckpt_hash[HASH_LEN], c_ckpt_hash[HASH_LEN]; /* of the last checkpoint's bytes */
    int64_t ckpt_ms;
    struct agg aggs[AGG_SLOTS + 1]; /* the last slot is the catch-all */
    struct run *runs;               /* RUN_SLOTS, n_runs of them in use */
    unsigned n_runs;
    uint64_t gen; /* the runs' generation (one a batch), in callers' hints */
    size_t fit;   /* a run's record stays within one page of the store */
};

/* Records are written in format 2: BLAKE2b-256, measured at less than half
 * SHA-256's cost on records and messages of a few hundred bytes here (two
 * or three hashes per message). Records of format 0 (SHA-256) are still
 * read and verified. */
#define FORMAT 2

static void hash_as(uint32_t format, const void *data, size_t len, uint8_t out[HASH_LEN])
{
    if (format >= 2)
        crypto_generichash(out, HASH_LEN, data, len, NULL, 0);
    else
        crypto_hash_sha256(out, data, len);
}

void audit_digest(const void *data, size_t len, uint8_t out[32])
{
    hash_as(FORMAT, data, len, out);
}

/* The hash the next record holds of this stored record: by its own
 * format. -1 if it does not decode. */
static int record_hash(const void *data, size_t len, uint8_t out[HASH_LEN])
{
    Liaison__AuditRecord *r = wire_audit_record_decode(data, len);
    if (r == NULL)
        return -1;
    hash_as(r->format, data, len, out);
    wire_audit_record_free(&r);
    return 0;
}

/* Reads the committed head (last record and its hash) from the store. */
static int load_head(audit_t *a)
{
    store_read_t *r = store_read_begin(a->st);
    if (r == NULL)
        return -1;
    uint64_t seq;
    const void *data;
    size_t len;
    int rc = store_read_seek(r, STORE_DB_AUDIT, UINT64_MAX, 1, &seq, &data, &len);
    if (rc == STORE_OK) {
        a->c_seq = seq;
        if (record_hash(data, len, a->c_hash) != 0)
            rc = STORE_ERR; /* the head of the trail is unreadable: do not extend it */
    } else if (rc == STORE_NOTFOUND) {
        a->c_seq = 0;
        memset(a->c_hash, 0, HASH_LEN);
    }
    if (store_read_seek(r, STORE_DB_CHECKPOINTS, UINT64_MAX, 1, &seq, &data, &len) == STORE_OK) {
        a->c_ckpt_seq = seq;
        hash_as(FORMAT, data, len, a->c_ckpt_hash);
    }
    store_read_end(&r);
    if (rc == STORE_ERR)
        return -1;
    audit_rollback(a);
    return 0;
}

void audit_committed(audit_t *a, const batch_t *bt)
{
    if (bt->has_audit) {
        a->c_seq = bt->audit_seq;
        memcpy(a->c_hash, bt->audit_hash, HASH_LEN);
    }
    if (bt->has_ckpt) {
        a->c_ckpt_seq = bt->ckpt_seq;
        memcpy(a->c_ckpt_hash, bt->ckpt_hash, HASH_LEN);
    }
}

void audit_rollback(audit_t *a)
{
    a->n_runs = 0; /* the messages they name were refused with their batch */
    a->gen++;
    a->p_seq = a->c_seq;
    memcpy(a->p_hash, a->c_hash, HASH_LEN);
    a->ckpt_seq = a->c_ckpt_seq;
    memcpy(a->ckpt_hash, a->c_ckpt_hash, HASH_LEN);
}

audit_t *audit_open(store_t *st, const uint8_t *seed, unsigned every, unsigned every_s, char *err,
                    size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return NULL;
    }
    audit_t *a = xcalloc(1, sizeof *a);
    a->st = st;
    a->runs = xcalloc(RUN_SLOTS, sizeof *a->runs);
    a->fit = store_page_fit(st);
    a->gen = 1;
    a->every = every ? every : 1000;
    a->every_s = every_s ? every_s : 300;
    if (seed) {
        crypto_sign_seed_keypair(a->pk, a->sk, seed);
        a->signing = 1;
    }
    if (load_head(a) != 0) {
        snprintf(err, errlen, "cannot read the audit trail");
        free(a);
        return NULL;
    }
    a->ckpt_ms = util_mono_ms();
    return a;
}

void audit_close(audit_t **ap)
{
    if (ap == NULL || *ap == NULL)
        return;
    sodium_memzero((*ap)->sk, sizeof(*ap)->sk);
    free((*ap)->runs);
    free(*ap);
    *ap = NULL;
}

void audit_set_spacing(audit_t *a, unsigned every, unsigned every_s)
{
    a->every = every ? every : a->every;
    a->every_s = every_s ? every_s : a->every_s;
}

static char *text(const char *s)
{
    return (char *)(uintptr_t)(s ? s : "");
}

/* Client-supplied text in a record is bounded: a refused publish's topic can
 * be a megabyte, and the trail must not grow by what a peer chooses to send.
 * Longer text keeps an escaped prefix and its length; bytes outside
 * printable ASCII become '?'. buf holds TEXT_MAX + 32. */
static char *bounded(const char *s, char *buf)
{
    if (s == NULL)
        return text(s);
    size_t n = strlen(s), i;
    int clean = n <= TEXT_MAX;
    for (i = 0; clean && i < n; i++)
        clean = s[i] >= 0x20 && s[i] < 0x7f;
    if (clean)
        return text(s);
    size_t keep = n < TEXT_MAX ? n : TEXT_MAX;
    for (i = 0; i < keep; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (n > TEXT_MAX)
        snprintf(buf + keep, 32, "...(%zu bytes)", n);
    else
        buf[keep] = '\0';
    return buf;
}

static int same(const char *field, const char *s)
{
    return strncmp(field, s ? s : "", strlen(field) + 1) == 0;
}

static void copy(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

static int append(audit_t *a, batch_t *bt, const struct audit_event *ev, uint32_t count,
                  const struct run *run)
{
    if (bt->failed != STORE_OK)
        return bt->failed;
    Liaison__AuditRecord r = LIAISON__AUDIT_RECORD__INIT;
    r.seq = a->p_seq + 1;
    r.time_us = util_now_us();
    char b_actor[TEXT_MAX + 32], b_rcpt[TEXT_MAX + 32], b_reason[TEXT_MAX + 32],
        b_topic[TEXT_MAX + 32];
    r.actor = bounded(ev->actor, b_actor);
    r.action = text(ev->action);
    r.recipient = bounded(ev->recipient, b_rcpt);
    r.outcome = text(ev->outcome);
    r.reason = bounded(ev->reason, b_reason);
    r.topic = bounded(ev->topic, b_topic);
    r.msg_seq = ev->msg_seq;
    r.count = count;
    ProtobufCBinaryData toks[AUDIT_MAX_TOKENS];
    r.n_tokens = ev->n_tokens < AUDIT_MAX_TOKENS ? ev->n_tokens : AUDIT_MAX_TOKENS;
    for (size_t i = 0; i < r.n_tokens; i++)
        toks[i] = (ProtobufCBinaryData){.len = 32, .data = (uint8_t *)(uintptr_t)ev->tokens[i]};
    r.tokens = r.n_tokens ? toks : NULL;
    r.results = ev->results;
    r.hits = ev->hits;
    if (ev->digest) {
        r.digest.data = (uint8_t *)(uintptr_t)ev->digest;
        r.digest.len = HASH_LEN;
    }
    r.prev_hash.data = a->p_hash;
    r.prev_hash.len = HASH_LEN;
    r.format = FORMAT;
    ProtobufCBinaryData more[RUN_MAX];
    if (run && run->n > 1) {
        r.n_more_seqs = r.n_more_digests = run->n - 1;
        r.more_seqs = (uint64_t *)(uintptr_t)(run->seqs + 1);
        for (uint32_t i = 1; i < run->n; i++)
            more[i - 1] = (ProtobufCBinaryData){.len = HASH_LEN,
                                                .data = (uint8_t *)(uintptr_t)run->digests[i]};
        r.more_digests = more;
    }
    /* A gathered record is packed once, into room for what it can take at
     * most (a stack buffer would only count it first); others mostly fit
     * the stack. */
    uint8_t stackbuf[1024], *buf = stackbuf;
    size_t room = sizeof stackbuf;
    if (run && run->bytes > room) {
        room = run->bytes;
        buf = xmalloc(room);
    }
    size_t n = wire_audit_record_pack_within(&r, buf, room);
    if (n > room) {
        if (buf != stackbuf)
            free(buf);
        buf = xmalloc(n);
        wire_audit_record_pack(&r, buf);
    }
    store_wset_audit(bt->w, r.seq, buf, n);
    a->p_seq = r.seq;
    hash_as(FORMAT, buf, n, a->p_hash);
    bt->audit_seq = r.seq;
    memcpy(bt->audit_hash, a->p_hash, HASH_LEN);
    bt->has_audit = 1;
    if (buf != stackbuf)
        free(buf);
    return STORE_OK;
}

int audit_append(audit_t *a, batch_t *bt, const struct audit_event *ev)
{
    return append(a, bt, ev, 1, NULL);
}

int audit_append_count(audit_t *a, batch_t *bt, const struct audit_event *ev, uint32_t count)
{
    return append(a, bt, ev, count ? count : 1, NULL);
}

static int write_run(audit_t *a, batch_t *bt, struct run *g)
{
    struct audit_event ev = {.actor = g->actor,
                             .action = g->action,
                             .recipient = g->recipient,
                             .outcome = "ok",
                             .reason = g->reason,
                             .topic = g->topic[0] ? g->topic : NULL,
                             .msg_seq = g->seqs[0],
                             .digest = g->digests[0]};
    int rc = append(a, bt, &ev, g->n, g);
    g->n = 0;
    g->bytes = g->head;
    return rc;
}

int audit_gather_end(audit_t *a, batch_t *bt)
{
    int rc = STORE_OK;
    for (unsigned i = 0; i < a->n_runs; i++)
        if (a->runs[i].n && write_run(a, bt, &a->runs[i]) != STORE_OK)
            rc = bt->failed;
    a->n_runs = 0;
    a->gen++;
    return rc;
}

uint64_t audit_gather_bytes(const audit_t *a)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < a->n_runs; i++)
        n += a->runs[i].n ? 512 + (uint64_t)a->runs[i].n * (HASH_LEN + 12) : 0;
    return n;
}

static int run_is(const struct run *g, const struct audit_event *ev, const char *actor,
                  const char *rcpt, const char *topic)
{
    return g->action == ev->action && g->reason == ev->reason && strcmp(g->topic, topic) == 0 &&
           strcmp(g->recipient, rcpt) == 0 && strcmp(g->actor, actor) == 0;
}

/* The run ev joins: the hinted one if it is of this generation and ev's,
 * else any of this generation's that is ev's, else a new one; with no slot
 * free, the runs so far are written first. */
static struct run *run_for(audit_t *a, batch_t *bt, const struct audit_event *ev, uint64_t *hint)
{
    unsigned i = (unsigned)(*hint % RUN_SLOTS);
    /* Most often the hinted run, its texts compared as sent: equal to a
     * clean run's, they are printable and short, so bounded would leave
     * them as they are. */
    if (*hint / RUN_SLOTS == a->gen && i < a->n_runs && a->runs[i].clean &&
        run_is(&a->runs[i], ev, text(ev->actor), text(ev->recipient), text(ev->topic)))
        return &a->runs[i];
    char b_actor[TEXT_MAX + 32], b_rcpt[TEXT_MAX + 32], b_topic[TEXT_MAX + 32];
    const char *actor = bounded(ev->actor, b_actor), *rcpt = bounded(ev->recipient, b_rcpt),
               *topic = bounded(ev->topic, b_topic);
    for (i = 0; i < a->n_runs; i++)
        if (run_is(&a->runs[i], ev, actor, rcpt, topic)) {
            *hint = a->gen * RUN_SLOTS + i;
            return &a->runs[i];
        }
    if (a->n_runs == RUN_SLOTS && audit_gather_end(a, bt) != STORE_OK)
        return NULL;
    i = a->n_runs++;
    struct run *g = &a->runs[i];
    copy(g->actor, sizeof g->actor, actor);
    copy(g->recipient, sizeof g->recipient, rcpt);
    copy(g->topic, sizeof g->topic, topic);
    g->action = ev->action;
    g->reason = ev->reason;
    g->clean = actor != b_actor && rcpt != b_rcpt && topic != b_topic;
    g->n = 0;
    g->head = RUN_HEAD_BYTES + strlen(g->actor) + strlen(g->recipient) + strlen(g->topic) +
              strlen(text(g->action)) + strlen(text(g->reason));
    g->bytes = g->head;
    *hint = a->gen * RUN_SLOTS + i;
    return g;
}

int audit_gather(audit_t *a, batch_t *bt, const struct audit_event *ev, uint64_t *hint)
{
    if (bt->failed != STORE_OK)
        return bt->failed;
    if (ev->digest == NULL)
        return append(a, bt, ev, 1, NULL); /* a run names each message by its digest */
    struct run *g = run_for(a, bt, ev, hint);
    if (g == NULL)
        return bt->failed;
    g->seqs[g->n] = ev->msg_seq;
    memcpy(g->digests[g->n], ev->digest, HASH_LEN);
    g->bytes += RUN_DIGEST_BYTES + wire_varint_size(ev->msg_seq);
    /* Written when full, or when one more could take its record past one
     * page of the store: a record just over it would cost two pages. */
    if (++g->n == RUN_MAX || g->bytes + RUN_ENTRY_MAX > a->fit)
        return write_run(a, bt, g); /* the slot takes the run's next ones */
    return STORE_OK;
}

int audit_append_repeatable(audit_t *a, batch_t *bt, const struct audit_event *ev, int64_t now_ms)
{
    struct agg *free_slot = NULL;
    for (int i = 0; i < AGG_SLOTS; i++) {
        struct agg *g = &a->aggs[i];
        if (!g->used) {
            if (free_slot == NULL)
                free_slot = g;
            continue;
        }
        if (same(g->actor, ev->actor) && same(g->action, ev->action) &&
            same(g->outcome, ev->outcome) && same(g->reason, ev->reason) &&
            same(g->topic, ev->topic)) {
            g->count++;
            return STORE_OK;
        }
    }
    if (free_slot == NULL) {
        /* Too many distinct sources (say, a key generator hammering the
         * handshake): count them together rather than grow. */
        struct agg *g = &a->aggs[AGG_SLOTS];
        if (!g->used) {
            g->used = 1;
            g->start_ms = now_ms;
            copy(g->actor, sizeof g->actor, "*");
            copy(g->action, sizeof g->action, ev->action);
            copy(g->outcome, sizeof g->outcome, ev->outcome);
            copy(g->reason, sizeof g->reason, "many distinct sources");
        }
        g->count++;
        return STORE_OK;
    }
    free_slot->used = 1;
    free_slot->count = 0;
    free_slot->start_ms = now_ms;
    copy(free_slot->actor, sizeof free_slot->actor, ev->actor);
    copy(free_slot->action, sizeof free_slot->action, ev->action);
    copy(free_slot->outcome, sizeof free_slot->outcome, ev->outcome);
    copy(free_slot->reason, sizeof free_slot->reason, ev->reason);
    copy(free_slot->topic, sizeof free_slot->topic, ev->topic);
    return append(a, bt, ev, 1, NULL);
}

/* Writes the counts of aggregates whose minute is over (all of them when
 * all is set: the broker is stopping). */
static void flush_aggregates(audit_t *a, batch_t *bt, int64_t now_ms, int all)
{
    for (int i = 0; i <= AGG_SLOTS; i++) {
        struct agg *g = &a->aggs[i];
        if (!g->used || (!all && now_ms - g->start_ms < AGG_WINDOW_MS))
            continue;
        if (g->count > 0) {
            struct audit_event ev = {.actor = g->actor,
                                     .action = g->action,
                                     .outcome = g->outcome,
                                     .reason = g->reason[0] ? g->reason : NULL,
                                     .topic = g->topic[0] ? g->topic : NULL};
            if (append(a, bt, &ev, g->count, NULL) != STORE_OK)
                return; /* kept: retried on the next tick */
        }
        g->used = 0;
    }
}

void audit_flush(audit_t *a, batch_t *bt)
{
    flush_aggregates(a, bt, util_mono_ms(), 1);
}

/* The bytes an Ed25519 checkpoint signature covers: a domain tag, then the
 * head's sequence and time (big-endian) and its hash; in format 2 also the
 * previous checkpoint's hash and the spacing. */
#define CKPT_MSG_LEN (24 + 8 + 8 + HASH_LEN + HASH_LEN + 4)
static size_t checkpoint_message(const Liaison__AuditCheckpoint *c, uint8_t out[CKPT_MSG_LEN])
{
    int v2 = c->format >= 2;
    memset(out, 0, CKPT_MSG_LEN);
    memcpy(out, v2 ? "liaison-audit-ckpt-v2" : "liaison-audit-ckpt-v1", 21);
    for (int i = 0; i < 8; i++) {
        out[24 + i] = (uint8_t)(c->seq >> (56 - 8 * i));
        out[32 + i] = (uint8_t)((uint64_t)c->time_us >> (56 - 8 * i));
    }
    memcpy(out + 40, c->head_hash.data, HASH_LEN);
    if (!v2)
        return 40 + HASH_LEN;
    memcpy(out + 40 + HASH_LEN, c->prev_hash.data, HASH_LEN);
    for (int i = 0; i < 4; i++)
        out[40 + 2 * HASH_LEN + i] = (uint8_t)(c->spacing >> (24 - 8 * i));
    return CKPT_MSG_LEN;
}

static void sign_checkpoint(const audit_t *a, Liaison__AuditCheckpoint *c, uint8_t *sig)
{
    uint8_t msg[CKPT_MSG_LEN];
    size_t n = checkpoint_message(c, msg);
    crypto_sign_detached(sig, NULL, msg, n, a->sk);
    c->signature.data = sig;
    c->signature.len = crypto_sign_BYTES;
}

static int checkpoint_valid(const Liaison__AuditCheckpoint *c, const uint8_t *pub)
{
    if (c->head_hash.len != HASH_LEN || c->signature.len != crypto_sign_BYTES ||
        (c->format >= 2 && c->prev_hash.len != HASH_LEN))
        return 0;
    uint8_t msg[CKPT_MSG_LEN];
    size_t n = checkpoint_message(c, msg);
    return crypto_sign_verify_detached(c->signature.data, msg, n, pub) == 0;
}

/* Writes a checkpoint of the head into bt. */
static void checkpoint(audit_t *a, batch_t *bt, int64_t now_ms)
{
    Liaison__AuditCheckpoint c = LIAISON__AUDIT_CHECKPOINT__INIT;
    uint8_t sig[crypto_sign_BYTES], hash[HASH_LEN], prev[HASH_LEN], buf[512];
    memcpy(hash, a->p_hash, HASH_LEN);
    memcpy(prev, a->ckpt_hash, HASH_LEN);
    c.seq = a->p_seq;
    c.time_us = util_now_us();
    c.head_hash.data = hash;
    c.head_hash.len = HASH_LEN;
    c.prev_hash.data = prev;
    c.prev_hash.len = HASH_LEN;
    c.spacing = a->every;
    c.format = 2;
    if (a->signing)
        sign_checkpoint(a, &c, sig);
    size_t n = wire_checkpoint_pack(&c, buf);
    store_wset_checkpoint(bt->w, c.seq, buf, n);
    hash_as(FORMAT, buf, n, a->ckpt_hash);
    bt->ckpt_seq = c.seq;
    memcpy(bt->ckpt_hash, a->ckpt_hash, HASH_LEN);
    bt->has_ckpt = 1;
    a->ckpt_seq = c.seq;
    a->ckpt_ms = now_ms;
    char hex[2 * HASH_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, hash, HASH_LEN);
    /* Also in the log, so a copy of the head lives outside the store. */
    log_info("event=audit_checkpoint seq=%llu head=%s signed=%s", (unsigned long long)c.seq, hex,
             a->signing ? "yes" : "no");
}

void audit_tick(audit_t *a, batch_t *bt, int64_t now_ms)
{
    flush_aggregates(a, bt, now_ms, 0);
    if (bt->failed != STORE_OK)
        return;
    uint64_t fresh = a->p_seq - a->ckpt_seq;
    if (fresh == 0 || (fresh < a->every && now_ms - a->ckpt_ms < (int64_t)a->every_s * 1000))
        return;
    checkpoint(a, bt, now_ms);
}

void audit_checkpoint_now(audit_t *a, batch_t *bt)
{
    if (bt->failed == STORE_OK && a->p_seq > a->ckpt_seq)
        checkpoint(a, bt, util_mono_ms());
}

/* ---- reading ----------------------------------------------------------- */

static int holds_token(const Liaison__AuditRecord *r, const uint8_t *token)
{
    for (size_t i = 0; i < r->n_tokens; i++)
        if (r->tokens[i].len == 32 && memcmp(r->tokens[i].data, token, 32) == 0)
            return 1;
    return 0;
}

static int matches(const Liaison__AuditRecord *r, const Liaison__AuditRequest *q,
                   const uint8_t *token)
{
    if (r->time_us < q->since_us)
        return 0;
    if (token && !holds_token(r, token))
        return 0;
    if (q->actor && q->actor[0] && strcmp(q->actor, r->actor) != 0)
        return 0;
    if (q->action && q->action[0] && strcmp(q->action, r->action) != 0)
        return 0;
    return 1;
}

int audit_query(store_t *st, const Liaison__AuditRequest *q, const uint8_t *token,
                Liaison__AuditRecord ***out, size_t *n, int *more)
{
    size_t limit = q->limit == 0 || q->limit > QUERY_MAX ? QUERY_MAX : q->limit;
    *out = xcalloc(limit, sizeof **out);
    *n = 0;
    *more = 0;
    store_read_t *r = store_read_begin(st);
    if (r == NULL)
        return STORE_ERR;
    uint64_t seq;
    const void *data;
    size_t len;
    int rc;
    if (q->newest) {
        /* Walk back from the head, then put the records in order. */
        uint64_t key = UINT64_MAX;
        while ((rc = store_read_seek(r, STORE_DB_AUDIT, key, 1, &seq, &data, &len)) == STORE_OK &&
               seq > q->after_seq) {
            Liaison__AuditRecord *rec = wire_audit_record_decode(data, len);
            if (rec && matches(rec, q, token)) {
                if (*n == limit) {
                    *more = 1;
                    wire_audit_record_free(&rec);
                    break;
                }
                (*out)[(*n)++] = rec;
            } else {
                wire_audit_record_free(&rec);
            }
            if (seq == 0)
                break;
            key = seq - 1;
        }
        for (size_t i = 0; i < *n / 2; i++) {
            Liaison__AuditRecord *t = (*out)[i];
            (*out)[i] = (*out)[*n - 1 - i];
            (*out)[*n - 1 - i] = t;
        }
    } else {
        uint64_t key = q->after_seq + 1;
        while ((rc = store_read_seek(r, STORE_DB_AUDIT, key, 0, &seq, &data, &len)) == STORE_OK) {
            Liaison__AuditRecord *rec = wire_audit_record_decode(data, len);
            if (rec && matches(rec, q, token)) {
                if (*n == limit) {
                    *more = 1;
                    wire_audit_record_free(&rec);
                    break;
                }
                (*out)[(*n)++] = rec;
            } else {
                wire_audit_record_free(&rec);
            }
            key = seq + 1;
        }
    }
    store_read_end(&r);
    return rc == STORE_ERR ? STORE_ERR : STORE_OK;
}

/* ---- verification ------------------------------------------------------ */

#define BROKEN(seq_, ...)                                                                          \
    do {                                                                                           \
        rep->broken_seq = (seq_);                                                                  \
        snprintf(rep->why, sizeof rep->why, __VA_ARGS__);                                          \
        result = 1;                                                                                \
        goto leave;                                                                                \
    } while (0)

/* A collection record (publish or receive, ok) names the messages it
 * stored and their digests: each must still hash to its own.
 * LMDB keeps no checksums, so a flipped bit in a page reads back as it is;
 * this is where it shows. An erased message is gone, as its erasure record
 * says. Returns 1 if the message is there and does not match. */
static int message_damaged(store_read_t *r, const Liaison__AuditRecord *rec,
                           struct audit_report *rep)
{
    if (rec->msg_seq == 0 || rec->digest.len != HASH_LEN || rec->outcome == NULL ||
        strcmp(rec->outcome, "ok") != 0 || rec->action == NULL ||
        (strcmp(rec->action, "publish") != 0 && strcmp(rec->action, "receive") != 0))
        return 0;
    int damaged = 0;
    for (size_t i = 0; i <= rec->n_more_seqs; i++) {
        if (i > rec->n_more_digests)
            return 1; /* a seq without its digest: not what the broker writes */
        uint64_t seq = i ? rec->more_seqs[i - 1] : rec->msg_seq;
        const ProtobufCBinaryData *want = i ? &rec->more_digests[i - 1] : &rec->digest;
        const void *data;
        size_t len;
        if (want->len != HASH_LEN)
            return 1;
        if (store_read_get(r, seq, &data, &len) != STORE_OK) {
            rep->messages_gone++;
            continue;
        }
        uint8_t h[HASH_LEN];
        hash_as(rec->format, data, len, h);
        rep->messages_checked++;
        damaged |= memcmp(h, want->data, HASH_LEN) != 0;
    }
    return damaged;
}

int audit_verify(store_t *st, const uint8_t *pub, struct audit_report *rep)
{
    memset(rep, 0, sizeof *rep);
    store_read_t *r = store_read_begin(st);
    if (r == NULL)
        return -1;
    int result = 0, rc;
    uint64_t seq, expect = 1;
    const void *data;
    size_t len;
    uint8_t prev[HASH_LEN] = {0};
    /* 1. The chain: consecutive sequences, each record decodable and naming
     * the hash of the one before. */
    while ((rc = store_read_seek(r, STORE_DB_AUDIT, expect, 0, &seq, &data, &len)) == STORE_OK) {
        if (seq != expect)
            BROKEN(expect, "record %llu is missing (next present is %llu)",
                   (unsigned long long)expect, (unsigned long long)seq);
        Liaison__AuditRecord *rec = wire_audit_record_decode(data, len);
        if (rec == NULL)
            BROKEN(seq, "record %llu is not a readable audit record", (unsigned long long)seq);
        int linked = rec->seq == seq && rec->prev_hash.len == HASH_LEN &&
                     memcmp(rec->prev_hash.data, prev, HASH_LEN) == 0;
        int own_seq = rec->seq == seq;
        uint32_t format = rec->format;
        uint64_t msg_seq = rec->msg_seq;
        int damaged = message_damaged(r, rec, rep);
        wire_audit_record_free(&rec);
        if (!own_seq)
            BROKEN(seq, "record %llu carries another sequence number", (unsigned long long)seq);
        if (!linked)
            BROKEN(seq > 1 ? seq - 1 : seq,
                   "record %llu does not match the hash recorded in record %llu: it was altered",
                   (unsigned long long)(seq > 1 ? seq - 1 : seq), (unsigned long long)seq);
        if (damaged)
            BROKEN(seq,
                   "message %llu does not match the digest record %llu holds of it: the store was "
                   "damaged or altered",
                   (unsigned long long)msg_seq, (unsigned long long)seq);
        hash_as(format, data, len, prev);
        rep->records++;
        rep->last_seq = seq;
        expect = seq + 1;
    }
    if (rc == STORE_ERR) {
        result = -1;
        goto leave;
    }
    /* 2. Checkpoints: each names a record that exists and hashes to the
     * signed head — so a truncated or rewritten tail shows — and, from
     * format 2, names the hash of the one before, so removing one shows. */
    uint64_t key = 0, last_ckpt = 0;
    uint32_t spacing = 0;
    uint8_t prev_ckpt[HASH_LEN] = {0};
    while ((rc = store_read_seek(r, STORE_DB_CHECKPOINTS, key, 0, &seq, &data, &len)) == STORE_OK) {
        Liaison__AuditCheckpoint *c = wire_checkpoint_decode(data, len);
        if (c == NULL)
            BROKEN(seq, "checkpoint at record %llu is unreadable", (unsigned long long)seq);
        int sig_ok = pub == NULL || checkpoint_valid(c, pub);
        int chained = c->format < 2 || (c->prev_hash.len == HASH_LEN &&
                                        memcmp(c->prev_hash.data, prev_ckpt, HASH_LEN) == 0);
        uint8_t head[HASH_LEN];
        int have_hash = c->head_hash.len == HASH_LEN;
        if (have_hash)
            memcpy(head, c->head_hash.data, HASH_LEN);
        if (c->format >= 2)
            spacing = c->spacing;
        wire_checkpoint_free(&c);
        if (!sig_ok)
            BROKEN(seq, "checkpoint at record %llu has a bad signature", (unsigned long long)seq);
        if (!chained)
            BROKEN(seq,
                   "checkpoint at record %llu does not follow the one before it: a checkpoint "
                   "was removed or replaced",
                   (unsigned long long)seq);
        if (seq > rep->last_seq)
            BROKEN(rep->last_seq + 1,
                   "records %llu..%llu are gone: a signed checkpoint names record %llu",
                   (unsigned long long)rep->last_seq + 1, (unsigned long long)seq,
                   (unsigned long long)seq);
        const void *rd;
        size_t rl;
        uint64_t found;
        uint8_t h[HASH_LEN];
        if (store_read_seek(r, STORE_DB_AUDIT, seq, 0, &found, &rd, &rl) != STORE_OK ||
            found != seq)
            BROKEN(seq, "record %llu named by a checkpoint is missing", (unsigned long long)seq);
        if (record_hash(rd, rl, h) != 0)
            BROKEN(seq, "record %llu named by a checkpoint is unreadable", (unsigned long long)seq);
        if (!have_hash || memcmp(h, head, HASH_LEN) != 0)
            BROKEN(seq, "record %llu does not match its signed checkpoint: it was altered",
                   (unsigned long long)seq);
        hash_as(FORMAT, data, len, prev_ckpt);
        rep->checkpoints++;
        last_ckpt = seq;
        key = seq + 1;
    }
    if (rc == STORE_ERR) {
        result = -1;
        goto leave;
    }
    /* 3. With the key, the signed part must reach the head: a trail with
     * records and no checkpoint, or an unsigned tail longer than the
     * spacing the last checkpoint states, could have been rewritten. */
    rep->unsigned_tail = rep->last_seq - last_ckpt;
    rep->spacing = spacing;
    if (pub && rep->records && rep->checkpoints == 0)
        BROKEN(1, "no signed checkpoint: the trail of %llu records could have been rewritten",
               (unsigned long long)rep->records);
    if (pub && spacing && rep->unsigned_tail > spacing)
        BROKEN(last_ckpt + 1,
               "unsigned tail of %llu records after the last checkpoint (record %llu), more than "
               "its spacing of %u: checkpoints were removed or the tail was rewritten",
               (unsigned long long)rep->unsigned_tail, (unsigned long long)last_ckpt, spacing);
leave:
    store_read_end(&r);
    return result;
}
