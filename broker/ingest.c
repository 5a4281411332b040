/* ingest.c — accepting one publish into the open batch.
 *
 * A full store: a publish is accepted only while the store's free room,
 * less what the two uncommitted batches may take, less a reserve, still
 * holds it (a headroom check before each publish). The reserve is kept for
 * the records a full store must go on writing — disclosures, cursors,
 * erasures — so deliveries, acks, replays and retention go on while new
 * publishes are refused with STORE_FULL. The estimate is deliberately
 * high; if LMDB still runs out, commit.c refuses the batches whole.
 * Not responsible for: frame decoding, access rules, or committing. */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "label.h"
#include "log.h"
#include "policy.h"
#include "reply.h"
#include "subjects.h"
#include "util.h"

uint64_t ingest_reserve(const broker_t *b)
{
    uint64_t r = store_map_bytes(b->store) / 16;
    if (r < 256u << 10)
        r = 256u << 10;
    if (r > 256u << 20)
        r = 256u << 20;
    return r;
}

static void audit_publish(broker_t *b, session_t *s, const Liaison__Intel *m, uint64_t seq,
                          const uint8_t *digest, const char *reason)
{
    struct audit_event ev = {.actor = s->agent,
                             .action = "publish",
                             .outcome = reason ? "refused" : "ok",
                             .reason = reason,
                             .topic = m ? m->topic : NULL,
                             .msg_seq = seq,
                             .digest = digest};
    if (reason)
        audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
    else
        audit_append(b->audit, b->open, &ev);
}

static void refuse(broker_t *b, session_t *s, uint64_t corr_id, Liaison__Intel *m,
                   Liaison__ErrorCode code, const char *why)
{
    const char *msg_id = (m && m->msg_id) ? m->msg_id : "";
    reply_error(b, s, corr_id, code, msg_id, why);
    s->publish_refused++;
    b->stats.publish_refused++;
    audit_publish(b, s, m, 0, NULL, wire_error_name(code));
}

/* Replaces whatever the client wrote in a broker-stamped field. */
static void set_str(char **field, const char *value)
{
    if (*field && *field != wire_empty())
        free(*field);
    *field = xstrdup(value);
}

/* The sequence already given to this (origin, msg_id), looking in the two
 * uncommitted batches first, then the store; 0 if none. */
static uint64_t find_repeat(broker_t *b, const struct store_dkey *key, const char *origin,
                            const char *msg_id, int64_t since_us)
{
    uint64_t seq = batch_dedup_find(b->open, key);
    if (seq == 0 && b->inflight)
        seq = batch_dedup_find(b->inflight, key);
    if (seq == 0 && b->rd && store_read_dedup(b->rd, origin, msg_id, since_us, &seq) != STORE_OK)
        seq = 0;
    return seq;
}

/* 1 if the store has room for len more bytes of message (and its subject
 * index entries) beyond what the
 * uncommitted batches may take and the reserve. */
static int has_room(const broker_t *b, size_t len, size_t n_subjects)
{
    uint64_t pending =
        store_wset_estimate(b->open->w) + (b->inflight ? store_wset_estimate(b->inflight->w) : 0);
    uint64_t need = pending + 2 * (uint64_t)len + 8192 + ingest_reserve(b);
    if (b->index_on)
        need += 128 * (uint64_t)n_subjects; /* index entries */
    return store_room(b->store) >= need;
}

static void answer_repeat(broker_t *b, session_t *s, uint64_t corr_id, uint64_t seq,
                          const char *msg_id)
{
    Liaison__Envelope env;
    Liaison__PubAck ack = LIAISON__PUB_ACK__INIT;
    wire_envelope_init(&env, corr_id);
    ack.seq = seq;
    ack.msg_id = (char *)(uintptr_t)msg_id;
    ack.duplicate = 1;
    env.kind_case = LIAISON__ENVELOPE__KIND_PUB_ACK;
    env.pub_ack = &ack;
    size_t n = wire_envelope_size(&env);
    /* The original may be in an uncommitted batch: the answer waits for
     * this one, which commits after it. */
    wire_envelope_pack(
        &env, batch_add_frame(b->open, BATCH_DUP_ACK, s->rid, s->rid_len, corr_id, 0, seq, 0, n));
    b->stats.duplicates++;
    log_debug("event=publish_duplicate agent=%s seq=%llu", s->agent, (unsigned long long)seq);
}

void ingest_publish(broker_t *b, session_t *s, uint64_t corr_id, Liaison__Intel *m)
{
    char why[256];
    const char *msg_id = (m && m->msg_id) ? m->msg_id : "";
    int64_t now_us = util_now_us();
    Liaison__ErrorCode code = label_validate(m, b->cfg->max_topic_len, why, sizeof why);
    if (code != LIAISON__ERROR_CODE__ERROR_NONE) {
        log_info("event=publish_refused agent=%s code=%s reason=\"%s\"", s->agent,
                 wire_error_name(code), why);
        refuse(b, s, corr_id, m, code, why);
        goto leave;
    }
    enum policy_rule rule = policy_may_publish(s->conf, m, now_us);
    if (rule != POLICY_ALLOW) {
        code = policy_rule_error(rule);
        snprintf(why, sizeof why, "refused by rule %s", policy_rule_name(rule));
        log_info("event=publish_refused agent=%s topic=%s rule=%s", s->agent, m->topic,
                 policy_rule_name(rule));
        refuse(b, s, corr_id, m, code, why);
        goto leave;
    }
    /* Identity comes from the CURVE key's configured agent, never from the
     * frame: overwrite anything the client claimed. */
    const config_agent_t *a = s->conf;
    set_str(&m->origin->agent, a->name);
    set_str(&m->origin->agency, a->agency);
    set_str(&m->origin->type, a->type);
    set_str(&m->origin->region, a->region);
    m->received_at_us = now_us;
    struct store_dkey key;
    const struct store_dkey *dkey = NULL;
    if (msg_id[0]) {
        store_dedup_key(a->name, msg_id, &key);
        dkey = &key;
        uint64_t seq = find_repeat(b, &key, a->name, msg_id,
                                   now_us - (int64_t)b->cfg->dedup_window_s * 1000000);
        if (seq) {
            answer_repeat(b, s, corr_id, seq, msg_id);
            goto leave;
        }
    }
    m->seq = b->next_seq;
    size_t len = wire_intel_size(m);
    if (!has_room(b, len, m->label->n_subjects)) {
        if (!b->full && util_mono_ms() - b->full_logged_ms >= 10000) {
            b->full_logged_ms = util_mono_ms(); /* not once per publish when it hovers */
            log_warn("event=store_full room=%llu reserve=%llu action=\"publishes refused; "
                     "deliveries, acks, replays and retention go on\"",
                     (unsigned long long)store_room(b->store),
                     (unsigned long long)ingest_reserve(b));
        }
        b->full = 1;
        refuse(b, s, corr_id, m, LIAISON__ERROR_CODE__STORE_FULL,
               "store full: publish refused, nothing stored is lost");
        goto leave;
    }
    if (b->full && util_mono_ms() - b->full_logged_ms >= 10000)
        log_info("event=store_room room=%llu action=\"publishes accepted again\"",
                 (unsigned long long)store_room(b->store));
    b->full = 0;
    b->next_seq++;
    if (msg_id[0] == '\0') {
        /* A publish without msg_id is given one (and is not deduplicated:
         * a re-send is a new message). */
        char made[32];
        snprintf(made, sizeof made, "liaison-%llu", (unsigned long long)m->seq);
        set_str(&m->msg_id, made);
        msg_id = m->msg_id;
        len = wire_intel_size(m);
    }
    struct batch_pub *p =
        batch_add_pub(b->open, m->seq, now_us, len, dkey, s->rid, s->rid_len, corr_id, msg_id, m);
    if (b->index_on) {
        /* The subject index is written in the same batch: both land or
         * neither. */
        uint8_t tokens[LABEL_MAX_SUBJECTS][32];
        size_t n = subjects_tokens(b->subject_key, m, tokens, LABEL_MAX_SUBJECTS);
        for (size_t i = 0; i < n; i++)
            store_wset_subject(b->open->w, tokens[i], m->seq, 0);
        batch_pub_set_tokens(b->open, p, (const uint8_t(*)[32])tokens, n);
    }
    uint8_t *data = batch_pub_data(b->open, p);
    wire_intel_pack(m, data);
    audit_digest(data, len, p->digest);
    uint8_t digest[32];
    memcpy(digest, p->digest, sizeof digest);
    /* A publish whose collection record cannot be written is refused with
     * it: the record is in the same batch, so both land or neither. */
    audit_publish(b, s, m, m->seq, digest, NULL);
    s->published++;
    return;
leave:
    wire_intel_free(&m);
}
