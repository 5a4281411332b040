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
    int rc = store_batch_put(b->store, m->seq, packed, len);
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

void router_commit(broker_t *b)
{
    if (!store_batch_open(b->store))
        return;
    int rc = store_batch_commit(b->store);
    if (rc != STORE_OK) {
        fail_batch(b, store_code(rc), store_why(rc));
        return;
    }
    b->stats.commits++;
    b->batch_first = b->n_batch ? b->batch[0].seq : 0;
    /* On disk now: only from here may a PubAck say so. */
    for (size_t i = 0; i < b->n_batch; i++) {
        struct pending *p = &b->batch[i];
        session_t *s = sessions_find(b->sessions, p->rid, p->rid_len);
        b->stats.publishes++;
        if (s == NULL)
            continue; /* publisher gone: its retry will find the message (dedup) */
        Liaison__Envelope env;
        Liaison__PubAck ack = LIAISON__PUB_ACK__INIT;
        wire_envelope_init(&env, p->corr_id);
        ack.seq = p->seq;
        ack.msg_id = p->msg_id;
        env.kind_case = LIAISON__ENVELOPE__KIND_PUB_ACK;
        env.pub_ack = &ack;
        handle_reply(b, s, &env);
    }
}

/* Sends one stored message to one subscription if the rule allows.
 * Returns 0 when done with this message (sent or withheld), -1 when the
 * peer cannot take more now, -2 when the peer is gone. */
static int deliver_one(broker_t *b, session_t *s, sub_t *sub, const Liaison__Intel *m,
                       const uint8_t *packed, size_t len)
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
    size_t n = wire_deliver_pack(sub->id, 1, 0, packed, len, b->scratch);
    int rc = session_send(b->router, s, b->scratch, n);
    if (rc != 0)
        return rc;
    sub_sent(sub, m->seq);
    s->delivered++;
    b->stats.deliveries++;
    return 0;
}

static void pump_sub(broker_t *b, session_t *s, sub_t *sub, uint64_t last, store_read_t **rd)
{
    for (int budget = PUMP_BUDGET; budget > 0 && sub_credit(sub) > 0 && sub->next_seq <= last;
         budget--) {
        uint64_t seq = sub->next_seq;
        Liaison__Intel *owned = NULL;
        const Liaison__Intel *m;
        const uint8_t *packed;
        size_t len;
        if (b->batch_first && seq >= b->batch_first && seq - b->batch_first < b->n_batch) {
            const struct pending *p = &b->batch[seq - b->batch_first];
            m = p->intel;
            packed = p->packed;
            len = p->packed_len;
        } else {
            const void *data;
            if (*rd == NULL && (*rd = store_read_begin(b->store)) == NULL)
                return;
            int rc = store_read_next(*rd, seq, &seq, &data, &len);
            if (rc != STORE_OK) {
                if (rc == STORE_NOTFOUND)
                    sub->next_seq = last + 1;
                return;
            }
            packed = data;
            m = owned = wire_intel_decode(data, len);
            if (owned == NULL) {
                log_error("event=stored_message_undecodable seq=%llu", (unsigned long long)seq);
                sub->next_seq = seq + 1;
                continue;
            }
        }
        int rc = deliver_one(b, s, sub, m, packed, len);
        wire_intel_free(&owned);
        if (rc != 0)
            return;
        sub->next_seq = seq + 1;
    }
}

void router_pump(broker_t *b)
{
    uint64_t last = store_last_seq(b->store);
    store_read_t *rd = NULL;
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *s = sessions_at(b->sessions, i);
        if (s->dead || s->conf == NULL)
            continue;
        for (size_t j = 0; j < s->n_subs && !s->dead; j++)
            pump_sub(b, s, &s->subs[j], last, &rd);
    }
    /* Readers must not outlive the pass: a long-lived snapshot would pin
     * old pages and grow the file. */
    store_read_end(&rd);
    router_clear(b);
}
