/* router.c — accept, commit, fan out. The store is the queue: a
 * subscription is a cursor (next_seq) into it plus a window of unacked
 * deliveries, so a slow subscriber costs disk, not broker memory.
 * Not responsible for: frame decoding (handle.c), allow/deny (policy.c). */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "label.h"
#include "log.h"
#include "policy.h"
#include "topic.h"
#include "util.h"

/* How many stored messages one subscription may examine per loop pass, so
 * a subscriber far behind cannot hold up everyone else. */
#define PUMP_BUDGET 4096

static void pending_free(struct pending *p)
{
    free(p->msg_id);
    free(p->packed);
    wire_intel_free(&p->intel);
}

void router_clear(broker_t *b)
{
    for (size_t i = 0; i < b->n_batch; i++)
        pending_free(&b->batch[i]);
    b->n_batch = 0;
    b->batch_first = 0;
    for (size_t i = 0; i < b->n_dups; i++)
        free(b->dups[i].msg_id);
    b->n_dups = 0;
}

static void send_puback(broker_t *b, const uint8_t *rid, size_t rid_len, uint64_t corr,
                        uint64_t seq, char *msg_id, int duplicate)
{
    session_t *s = sessions_find(b->sessions, rid, rid_len);
    if (s == NULL)
        return; /* publisher gone: its retry will be answered from dedup */
    Liaison__Envelope env;
    Liaison__PubAck ack = LIAISON__PUB_ACK__INIT;
    wire_envelope_init(&env, corr);
    ack.seq = seq;
    ack.msg_id = msg_id;
    ack.duplicate = duplicate;
    env.kind_case = LIAISON__ENVELOPE__KIND_PUB_ACK;
    env.pub_ack = &ack;
    handle_reply(b, s, &env);
}

/* The dedup key of a message: its origin agent and the publisher's msg_id. */
static void dedup_key(char *out, size_t outlen, const char *agent, const char *msg_id)
{
    snprintf(out, outlen, "%s\x1f%s", agent, msg_id);
}

/* Replaces whatever the client wrote in a broker-stamped field. */
static void set_str(char **field, const char *value)
{
    if (*field && *field != wire_empty())
        free(*field);
    *field = xstrdup(value);
}

/* The batch was abandoned: every publish in it is refused with code. */
static void fail_batch(broker_t *b, Liaison__ErrorCode code, const char *why)
{
    for (size_t i = 0; i < b->n_batch; i++) {
        struct pending *p = &b->batch[i];
        session_t *s = sessions_find(b->sessions, p->rid, p->rid_len);
        if (s)
            handle_error(b, s, p->corr_id, code, p->msg_id, why);
        b->stats.publish_refused++;
    }
    /* Duplicates of messages that were in the lost batch are lost with it;
     * duplicates of committed ones still get their PubAck. */
    for (size_t i = 0; i < b->n_dups; i++) {
        struct dup_ack *d = &b->dups[i];
        if (d->seq <= store_last_seq(b->store)) {
            send_puback(b, d->rid, d->rid_len, d->corr_id, d->seq, d->msg_id, 1);
            continue;
        }
        session_t *s = sessions_find(b->sessions, d->rid, d->rid_len);
        if (s)
            handle_error(b, s, d->corr_id, code, d->msg_id, why);
    }
    /* Cursor writes in the lost batch must be written again. */
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *s = sessions_at(b->sessions, i);
        for (size_t j = 0; j < s->n_subs; j++)
            s->subs[j].floor_written = UINT64_MAX;
    }
    router_clear(b);
}

static const char *store_why(int rc)
{
    return rc == STORE_FULL ? "store full: publish refused, nothing stored is lost"
                            : "store error: publish refused";
}

static Liaison__ErrorCode store_code(int rc)
{
    return rc == STORE_FULL ? LIAISON__ERROR_CODE__STORE_FULL : LIAISON__ERROR_CODE__STORE_FAILED;
}

void router_batch_lost(broker_t *b, int rc)
{
    if (b->n_batch || b->n_dups)
        fail_batch(b, store_code(rc), store_why(rc));
}

void router_publish(broker_t *b, session_t *s, uint64_t corr_id, Liaison__Intel *m)
{
    char why[256];
    const char *msg_id = (m && m->msg_id) ? m->msg_id : "";
    Liaison__ErrorCode code = label_validate(m, b->cfg->max_topic_len, why, sizeof why);
    if (code != LIAISON__ERROR_CODE__ERROR_NONE) {
        log_info("event=publish_refused agent=%s code=%s reason=\"%s\"", s->agent,
                 wire_error_name(code), why);
        handle_error(b, s, corr_id, code, msg_id, why);
        b->stats.publish_refused++;
        goto leave;
    }
    enum policy_rule rule = policy_may_publish(s->conf, m);
    if (rule != POLICY_ALLOW) {
        code = policy_rule_error(rule);
        snprintf(why, sizeof why, "refused by rule %s", policy_rule_name(rule));
        log_info("event=publish_refused agent=%s topic=%s rule=%s", s->agent, m->topic,
                 policy_rule_name(rule));
        handle_error(b, s, corr_id, code, msg_id, why);
        b->stats.publish_refused++;
        goto leave;
    }
    /* Identity comes from the CURVE key's configured agent, never from the
     * frame: overwrite anything the client claimed. */
    const config_agent_t *a = s->conf;
    set_str(&m->origin->agent, a->name);
    set_str(&m->origin->agency, a->agency);
    set_str(&m->origin->type, a->type);
    set_str(&m->origin->region, a->region);
    m->received_at_us = util_now_us();
    char key[LABEL_MAX_TEXT + SESSION_AGENT_MAX + 2];
    const char *dkey = NULL;
    if (msg_id[0]) {
        uint64_t seq;
        dedup_key(key, sizeof key, a->name, msg_id);
        dkey = key;
        int64_t since = m->received_at_us - (int64_t)b->cfg->dedup_window_s * 1000000;
        if (store_dedup_find(b->store, key, since, &seq) == STORE_OK) {
            if (b->n_dups == b->cap_dups) {
                b->cap_dups = b->cap_dups ? b->cap_dups * 2 : 64;
                b->dups = xrealloc(b->dups, b->cap_dups * sizeof *b->dups);
            }
            struct dup_ack *d = &b->dups[b->n_dups++];
            memcpy(d->rid, s->rid, s->rid_len);
            d->rid_len = s->rid_len;
            d->corr_id = corr_id;
            d->seq = seq;
            d->msg_id = xstrdup(msg_id);
            b->stats.duplicates++;
            log_debug("event=publish_duplicate agent=%s seq=%llu", s->agent,
                      (unsigned long long)seq);
            goto leave;
        }
    }
    if (store_batch_begin(b->store) != STORE_OK) {
        handle_error(b, s, corr_id, LIAISON__ERROR_CODE__STORE_FAILED, msg_id,
                     "store error: publish refused");
        b->stats.publish_refused++;
        goto leave;
    }
    m->seq = store_next_seq(b->store);
    size_t len = wire_intel_size(m);
    uint8_t *packed = xmalloc(len);
    wire_intel_pack(m, packed);
    int rc = store_batch_put(b->store, m->seq, m->received_at_us, packed, len, dkey);
    if (rc != STORE_OK) {
        free(packed);
        /* The whole batch is gone with the transaction: refuse all of it. */
        fail_batch(b, store_code(rc), store_why(rc));
        handle_error(b, s, corr_id, store_code(rc), msg_id, store_why(rc));
        b->stats.publish_refused++;
        goto leave;
    }
    if (b->n_batch == b->cap_batch) {
        b->cap_batch = b->cap_batch ? b->cap_batch * 2 : 256;
        b->batch = xrealloc(b->batch, b->cap_batch * sizeof *b->batch);
    }
    struct pending *p = &b->batch[b->n_batch++];
    memcpy(p->rid, s->rid, s->rid_len);
    p->rid_len = s->rid_len;
    p->corr_id = corr_id;
    p->seq = m->seq;
    p->msg_id = xstrdup(msg_id);
    p->intel = m;
    p->packed = packed;
    p->packed_len = len;
    s->published++;
    return;
leave:
    wire_intel_free(&m);
}

/* Durable cursors whose acked floor moved go into this pass's batch, so
 * they share its one fsync. A cursor only ever trails the acks, so a crash
 * means redelivery, never a skipped message. */
static int write_cursors(broker_t *b)
{
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *s = sessions_at(b->sessions, i);
        for (size_t j = 0; j < s->n_subs; j++) {
            sub_t *sub = &s->subs[j];
            uint64_t floor = sub_floor(sub);
            if (sub->durable == NULL || floor == sub->floor_written)
                continue;
            int rc = store_cursor_put(b->store, sub->durable, floor, sub->pattern);
            if (rc != STORE_OK)
                return rc; /* batch abandoned: the store logged why */
            sub->floor_written = floor;
        }
    }
    return STORE_OK;
}

void router_commit(broker_t *b)
{
    int rc = write_cursors(b);
    if (rc == STORE_OK && !store_batch_open(b->store) && b->n_batch > 0)
        rc = store_batch_failure(b->store); /* lost earlier in this pass */
    if (rc != STORE_OK) {
        fail_batch(b, store_code(rc), store_why(rc));
        return;
    }
    if (!store_batch_open(b->store)) {
        for (size_t i = 0; i < b->n_dups; i++)
            send_puback(b, b->dups[i].rid, b->dups[i].rid_len, b->dups[i].corr_id,
                        b->dups[i].seq, b->dups[i].msg_id, 1);
        return;
    }
    rc = store_batch_commit(b->store);
    if (rc != STORE_OK) {
        fail_batch(b, store_code(rc), store_why(rc));
        return;
    }
    b->stats.commits++;
    b->batch_first = b->n_batch ? b->batch[0].seq : 0;
    /* On disk now: only from here may a PubAck say so. */
    for (size_t i = 0; i < b->n_batch; i++) {
        struct pending *p = &b->batch[i];
        b->stats.publishes++;
        send_puback(b, p->rid, p->rid_len, p->corr_id, p->seq, p->msg_id, 0);
    }
    for (size_t i = 0; i < b->n_dups; i++)
        send_puback(b, b->dups[i].rid, b->dups[i].rid_len, b->dups[i].corr_id, b->dups[i].seq,
                    b->dups[i].msg_id, 1);
}

/* Sends one stored message to one subscription if the rule allows.
 * Returns 1 when sent, 0 when withheld (or not for this subscription),
 * -1 when the peer cannot take more now, -2 when the peer is gone. */
static int deliver_one(broker_t *b, session_t *s, sub_t *sub, const Liaison__Intel *m,
                       const uint8_t *packed, size_t len, uint32_t attempt)
{
    /* A topic the subscription does not ask for is not a refusal; only
     * what it asked for and may not see is counted as withheld. */
    if (!topic_match(sub->pattern, m->topic))
        return 0;
    enum policy_rule rule = policy_may_receive(s->conf, sub->pattern, m);
    if (rule != POLICY_ALLOW) {
        sub->refused++;
        b->stats.delivery_refused++;
        log_debug("event=delivery_withheld agent=%s seq=%llu rule=%s", s->agent,
                  (unsigned long long)m->seq, policy_rule_name(rule));
        return 0;
    }
    size_t need = wire_deliver_size(len);
    if (need > b->scratch_len) {
        b->scratch = xrealloc(b->scratch, need);
        b->scratch_len = need;
    }
    size_t n = wire_deliver_pack(sub->id, attempt, 0, packed, len, b->scratch);
    int rc = session_send(b->router, s, b->scratch, n);
    if (rc != 0)
        return rc;
    s->delivered++;
    b->stats.deliveries++;
    return 1;
}

#define FETCH_UNDECODABLE 2

/* The message at seq, from this pass's batch when it is there (no decode)
 * or from the store (decoded into *owned, which the caller frees). */
static int fetch(broker_t *b, store_read_t **rd, uint64_t *seq, int exact,
                 const Liaison__Intel **m, Liaison__Intel **owned, const uint8_t **packed,
                 size_t *len)
{
    *owned = NULL;
    if (b->batch_first && *seq >= b->batch_first && *seq - b->batch_first < b->n_batch) {
        const struct pending *p = &b->batch[*seq - b->batch_first];
        *m = p->intel;
        *packed = p->packed;
        *len = p->packed_len;
        return STORE_OK;
    }
    const void *data;
    if (*rd == NULL && (*rd = store_read_begin(b->store)) == NULL)
        return STORE_ERR;
    int rc = exact ? store_read_get(*rd, *seq, &data, len)
                   : store_read_next(*rd, *seq, seq, &data, len);
    if (rc != STORE_OK)
        return rc;
    *packed = data;
    *m = *owned = wire_intel_decode(data, *len);
    if (*owned == NULL) {
        log_error("event=stored_message_undecodable seq=%llu", (unsigned long long)*seq);
        return FETCH_UNDECODABLE;
    }
    return STORE_OK;
}

/* A message that has used up its deliveries is set aside where operators
 * can see it, and stops blocking the subscription's window. */
static void dead_letter(broker_t *b, session_t *s, sub_t *sub, uint64_t seq, const char *why)
{
    sub_ack(sub, seq);
    sub->acked--; /* not an ack: counted as a dead letter instead */
    sub->dead_lettered++;
    b->stats.dead_letters++;
    log_warn("event=dead_letter agent=%s sub=%u seq=%llu reason=\"%s\"", s->agent, sub->id,
             (unsigned long long)seq, why);
    if (sub->durable)
        store_deadletter_put(b->store, seq, sub->durable, why);
}

/* Unacked deliveries past their due time are sent again, re-checked by the
 * rule as configured now; after max_deliver attempts they are dead letters. */
static int redeliver_due(broker_t *b, session_t *s, sub_t *sub, int64_t now, store_read_t **rd)
{
    for (uint32_t i = 0; i < sub->n_inflight;) {
        struct inflight *f = &sub->inflight[i];
        if (f->due_ms > now) {
            i++;
            continue;
        }
        uint64_t seq = f->seq;
        if (f->attempts >= b->cfg->max_deliver) {
            dead_letter(b, s, sub, seq, "max_deliver reached");
            continue; /* entry i was removed */
        }
        const Liaison__Intel *m;
        Liaison__Intel *owned;
        const uint8_t *packed;
        size_t len;
        int rc = fetch(b, rd, &seq, 1, &m, &owned, &packed, &len);
        if (rc == STORE_NOTFOUND || rc == FETCH_UNDECODABLE) {
            sub_ack(sub, seq); /* purged meanwhile (or unreadable, logged) */
            continue;
        }
        if (rc != STORE_OK)
            return -1;
        rc = deliver_one(b, s, sub, m, packed, len, f->attempts + 1);
        wire_intel_free(&owned);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            sub_ack(sub, seq); /* no longer allowed: withheld, not retried */
            continue;
        }
        f->attempts++;
        f->due_ms = now + (int64_t)b->cfg->ack_timeout_ms * f->attempts;
        sub->redelivered++;
        b->stats.redeliveries++;
        i++;
    }
    return 0;
}

static void pump_sub(broker_t *b, session_t *s, sub_t *sub, uint64_t last, int64_t now,
                     store_read_t **rd)
{
    if (sub->n_inflight && redeliver_due(b, s, sub, now, rd) < 0)
        return;
    for (int budget = PUMP_BUDGET; budget > 0 && sub_credit(sub) > 0 && sub->next_seq <= last;
         budget--) {
        uint64_t seq = sub->next_seq;
        const Liaison__Intel *m;
        Liaison__Intel *owned;
        const uint8_t *packed;
        size_t len;
        int rc = fetch(b, rd, &seq, 0, &m, &owned, &packed, &len);
        if (rc == STORE_NOTFOUND) {
            sub->next_seq = last + 1;
            return;
        }
        if (rc == FETCH_UNDECODABLE) {
            sub->next_seq = seq + 1; /* skip the unreadable record, logged */
            continue;
        }
        if (rc != STORE_OK)
            return;
        rc = deliver_one(b, s, sub, m, packed, len, 1);
        wire_intel_free(&owned);
        if (rc < 0)
            return;
        if (rc == 1)
            sub_sent(sub, seq, now + b->cfg->ack_timeout_ms);
        sub->next_seq = seq + 1;
    }
}

void router_pump(broker_t *b)
{
    uint64_t last = store_last_seq(b->store);
    int64_t now = util_mono_ms();
    store_read_t *rd = NULL;
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *s = sessions_at(b->sessions, i);
        if (s->dead || s->conf == NULL)
            continue;
        for (size_t j = 0; j < s->n_subs && !s->dead; j++)
            pump_sub(b, s, &s->subs[j], last, now, &rd);
    }
    /* Readers must not outlive the pass: a long-lived snapshot would pin
     * old pages and grow the file. */
    store_read_end(&rd);
    router_clear(b);
}
