/* router.c — accept, plan, commit, send. The store is the queue: a
 * subscription is a cursor (next_seq) into it plus a window of unacked
 * deliveries, so a slow subscriber costs disk, not broker memory.
 *
 * One loop pass: publishes go into the open store batch with their
 * collection audit records (router_publish); before sleep, deliveries are
 * decided by policy and their disclosure records appended to the same batch
 * while the frames wait in memory (router_plan); one commit makes all of it
 * durable; only then do PubAcks and Delivers leave (router_commit). So
 * "acked" means on disk, and no Deliver leaves before its audit record.
 * Not responsible for: frame decoding (handle.c), allow/deny (policy.c),
 * the audit chain (audit.c). */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "label.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "topic.h"
#include "util.h"

/* How many stored messages one subscription may examine per loop pass, so
 * a subscriber far behind cannot hold up everyone else. */
#define PUMP_BUDGET       4096
#define FETCH_UNDECODABLE 2

/* ---- the batch ----------------------------------------------------------- */

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
    b->n_out = 0;
    b->outbuf_len = 0;
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

static const char *store_why(int rc)
{
    return rc == STORE_FULL ? "store full: publish refused, nothing stored is lost"
                            : "store error: publish refused";
}

static Liaison__ErrorCode store_code(int rc)
{
    return rc == STORE_FULL ? LIAISON__ERROR_CODE__STORE_FULL : LIAISON__ERROR_CODE__STORE_FAILED;
}

/* Deliveries planned against a batch that did not commit never happened:
 * the cursors go back so they are planned (and audited) again. */
static void unplan(broker_t *b)
{
    uint64_t next = store_last_seq(b->store) + 1;
    for (size_t i = 0; i < b->n_out; i++) {
        struct outframe *o = &b->out[i];
        session_t *s = sessions_find(b->sessions, o->rid, o->rid_len);
        sub_t *sub = s ? session_sub_find(s, o->sub_id) : NULL;
        if (sub == NULL)
            continue;
        if (o->first) {
            sub_forget(sub, o->seq);
            sub->delivered--;
            if (o->seq < sub->next_seq)
                sub->next_seq = o->seq;
        } else {
            struct inflight *f = sub_inflight(sub, o->seq);
            if (f) {
                f->attempts--;
                f->due_ms = 0;
            }
        }
    }
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *s = sessions_at(b->sessions, i);
        for (size_t j = 0; j < s->n_subs; j++) {
            sub_t *sub = &s->subs[j];
            if (sub->next_seq > next)
                sub->next_seq = next;
            /* Cursor writes in the lost batch must be written again. */
            sub->floor_written = UINT64_MAX;
        }
    }
    b->n_out = 0;
    b->outbuf_len = 0;
}

/* The batch was abandoned: every publish in it is refused with code. */
static void fail_batch(broker_t *b, Liaison__ErrorCode code, const char *why)
{
    for (size_t i = 0; i < b->n_batch; i++) {
        struct pending *p = &b->batch[i];
        session_t *s = sessions_find(b->sessions, p->rid, p->rid_len);
        if (s) {
            handle_error(b, s, p->corr_id, code, p->msg_id, why);
            s->publish_refused++;
        }
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
    unplan(b);
    retention_invalidate(b->retention);
    router_clear(b);
}

void router_batch_lost(broker_t *b, int rc)
{
    if (b->n_batch || b->n_dups || b->n_out)
        fail_batch(b, store_code(rc), store_why(rc));
}

/* ---- publish ------------------------------------------------------------- */

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
        audit_append_repeatable(b->audit, &ev, util_mono_ms());
    else
        audit_append(b->audit, &ev);
}

static void refuse_publish(broker_t *b, session_t *s, uint64_t corr_id, Liaison__Intel *m,
                           Liaison__ErrorCode code, const char *why)
{
    const char *msg_id = (m && m->msg_id) ? m->msg_id : "";
    handle_error(b, s, corr_id, code, msg_id, why);
    s->publish_refused++;
    b->stats.publish_refused++;
    audit_publish(b, s, m, 0, NULL, wire_error_name(code));
}

static struct dup_ack *add_dup(broker_t *b)
{
    if (b->n_dups == b->cap_dups) {
        b->cap_dups = b->cap_dups ? b->cap_dups * 2 : 64;
        b->dups = xrealloc(b->dups, b->cap_dups * sizeof *b->dups);
    }
    return &b->dups[b->n_dups++];
}

static struct pending *add_pending(broker_t *b)
{
    if (b->n_batch == b->cap_batch) {
        b->cap_batch = b->cap_batch ? b->cap_batch * 2 : 256;
        b->batch = xrealloc(b->batch, b->cap_batch * sizeof *b->batch);
    }
    return &b->batch[b->n_batch++];
}

void router_publish(broker_t *b, session_t *s, uint64_t corr_id, Liaison__Intel *m)
{
    char why[256];
    const char *msg_id = (m && m->msg_id) ? m->msg_id : "";
    int64_t now_us = util_now_us();
    Liaison__ErrorCode code = label_validate(m, b->cfg->max_topic_len, why, sizeof why);
    if (code != LIAISON__ERROR_CODE__ERROR_NONE) {
        log_info("event=publish_refused agent=%s code=%s reason=\"%s\"", s->agent,
                 wire_error_name(code), why);
        refuse_publish(b, s, corr_id, m, code, why);
        goto leave;
    }
    enum policy_rule rule = policy_may_publish(s->conf, m, now_us);
    if (rule != POLICY_ALLOW) {
        code = policy_rule_error(rule);
        snprintf(why, sizeof why, "refused by rule %s", policy_rule_name(rule));
        log_info("event=publish_refused agent=%s topic=%s rule=%s", s->agent, m->topic,
                 policy_rule_name(rule));
        refuse_publish(b, s, corr_id, m, code, why);
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
    char key[LABEL_MAX_TEXT + SESSION_AGENT_MAX + 2];
    const char *dkey = NULL;
    if (msg_id[0]) {
        uint64_t seq;
        dedup_key(key, sizeof key, a->name, msg_id);
        dkey = key;
        int64_t since = now_us - (int64_t)b->cfg->dedup_window_s * 1000000;
        if (store_dedup_find(b->store, key, since, &seq) == STORE_OK) {
            struct dup_ack *d = add_dup(b);
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
        refuse_publish(b, s, corr_id, m, LIAISON__ERROR_CODE__STORE_FAILED,
                       "store error: publish refused");
        goto leave;
    }
    m->seq = store_next_seq(b->store);
    size_t len = wire_intel_size(m);
    uint8_t *packed = xmalloc(len);
    wire_intel_pack(m, packed);
    int rc = store_batch_put(b->store, m->seq, now_us, packed, len, dkey);
    if (rc != STORE_OK) {
        free(packed);
        /* The whole batch is gone with the transaction: refuse all of it. */
        fail_batch(b, store_code(rc), store_why(rc));
        refuse_publish(b, s, corr_id, m, store_code(rc), store_why(rc));
        goto leave;
    }
    struct pending *p = add_pending(b);
    memcpy(p->rid, s->rid, s->rid_len);
    p->rid_len = s->rid_len;
    p->corr_id = corr_id;
    p->seq = m->seq;
    p->msg_id = xstrdup(msg_id);
    p->intel = m;
    p->packed = packed;
    p->packed_len = len;
    audit_digest(packed, len, p->digest);
    audit_publish(b, s, m, m->seq, p->digest, NULL);
    s->published++;
    return;
leave:
    wire_intel_free(&m);
}

/* ---- planning deliveries --------------------------------------------------- */

/* One stored message as planning sees it. */
struct msgref {
    const Liaison__Intel *m;
    const uint8_t *packed;
    size_t len;
    const uint8_t *digest;
    uint8_t digest_buf[32];
};

/* The message at seq, from this pass's batch when it is there (no decode)
 * or from the store (decoded into *owned, which the caller frees). exact
 * asks for seq itself; otherwise the first stored at or after it. */
static int fetch(broker_t *b, store_read_t **rd, uint64_t *seq, int exact, struct msgref *ref,
                 Liaison__Intel **owned)
{
    *owned = NULL;
    if (b->batch_first && *seq >= b->batch_first && *seq - b->batch_first < b->n_batch) {
        const struct pending *p = &b->batch[*seq - b->batch_first];
        ref->m = p->intel;
        ref->packed = p->packed;
        ref->len = p->packed_len;
        ref->digest = p->digest;
        return STORE_OK;
    }
    const void *data;
    if (*rd == NULL && (*rd = store_read_begin(b->store)) == NULL)
        return STORE_ERR;
    int rc = exact ? store_read_get(*rd, *seq, &data, &ref->len)
                   : store_read_next(*rd, *seq, seq, &data, &ref->len);
    if (rc != STORE_OK)
        return rc;
    ref->packed = data;
    ref->digest = NULL; /* computed when the message concerns someone */
    ref->m = *owned = wire_intel_decode(data, ref->len);
    if (*owned == NULL) {
        log_error("event=stored_message_undecodable seq=%llu", (unsigned long long)*seq);
        return FETCH_UNDECODABLE;
    }
    return STORE_OK;
}

static const uint8_t *digest_of(struct msgref *ref)
{
    if (ref->digest == NULL) {
        audit_digest(ref->packed, ref->len, ref->digest_buf);
        ref->digest = ref->digest_buf;
    }
    return ref->digest;
}

/* Room for n more bytes of planned frames. */
static uint8_t *outbuf_reserve(broker_t *b, size_t n)
{
    if (b->outbuf_len + n > b->outbuf_cap) {
        b->outbuf_cap = (b->outbuf_len + n) * 2;
        b->outbuf = xrealloc(b->outbuf, b->outbuf_cap);
    }
    return b->outbuf + b->outbuf_len;
}

static void queue_frame(broker_t *b, session_t *s, sub_t *sub, uint64_t seq, int first, size_t len)
{
    if (b->n_out == b->cap_out) {
        b->cap_out = b->cap_out ? b->cap_out * 2 : 1024;
        b->out = xrealloc(b->out, b->cap_out * sizeof *b->out);
    }
    struct outframe *o = &b->out[b->n_out++];
    memcpy(o->rid, s->rid, s->rid_len);
    o->rid_len = s->rid_len;
    o->sub_id = sub->id;
    o->seq = seq;
    o->first = first;
    o->off = b->outbuf_len;
    o->len = len;
    b->outbuf_len += len;
}

/* A sanitised notice: that a message exists on this topic, its risk, who
 * sent it, how many subjects it concerns, its reference and whom to ask.
 * Built from scratch so nothing else of the message can leak into it. */
static size_t notice_frame(broker_t *b, sub_t *sub, const Liaison__Intel *m, uint32_t attempt)
{
    Liaison__Intel n = LIAISON__INTEL__INIT;
    Liaison__Label l = LIAISON__LABEL__INIT;
    Liaison__Deliver d = LIAISON__DELIVER__INIT;
    Liaison__Envelope env;
    const config_agent_t *origin =
        m->origin ? config_agent_by_name(b->cfg, m->origin->agent) : NULL;
    n.topic = m->topic;
    n.msg_id = m->msg_id;
    n.seq = m->seq;
    n.received_at_us = m->received_at_us;
    n.origin = m->origin;
    n.label = &l;
    l.risk = m->label->risk;
    d.sub_id = sub->id;
    d.intel = &n;
    d.attempt = attempt;
    d.notice = 1;
    d.subject_count = (uint32_t)m->label->n_subjects;
    d.contact = (char *)(uintptr_t)(origin && origin->contact ? origin->contact : "");
    wire_envelope_init(&env, 0);
    env.kind_case = LIAISON__ENVELOPE__KIND_DELIVER;
    env.deliver = &d;
    size_t len = wire_envelope_size(&env);
    wire_envelope_pack(&env, outbuf_reserve(b, len));
    return len;
}

enum plan { PLAN_WITHHELD = 0, PLAN_QUEUED = 1, PLAN_DEFERRED = 2, PLAN_FAILED = -1 };

/* Decides one message for one subscription, appends the audit record of
 * the decision and queues the frame. */
static enum plan plan_one(broker_t *b, session_t *s, sub_t *sub, struct msgref *ref, uint64_t seq,
                          uint32_t attempt, int64_t now_us, int64_t *until_us)
{
    const Liaison__Intel *m = ref->m;
    /* A topic the subscription does not ask for is not a refusal; only
     * what it asked for and may not see is withheld and audited. */
    if (!topic_match(sub->pattern, m->topic))
        return PLAN_WITHHELD;
    struct policy_verdict v = policy_receive(b->cfg, s->conf, sub->pattern, m, now_us);
    struct audit_event ev = {.actor = s->agent,
                             .recipient = s->agent,
                             .topic = m->topic,
                             .msg_seq = seq,
                             .outcome = "ok"};
    if (v.action == POLICY_DEFER) {
        *until_us = v.until_us;
        return PLAN_DEFERRED;
    }
    ev.digest = digest_of(ref);
    size_t len;
    if (v.action == POLICY_WITHHOLD) {
        ev.action = "withhold";
        ev.outcome = "refused";
        ev.reason = policy_rule_name(v.rule);
        sub->refused++;
        b->stats.delivery_refused++;
        log_debug("event=delivery_withheld agent=%s seq=%llu rule=%s", s->agent,
                  (unsigned long long)seq, ev.reason);
        return audit_append(b->audit, &ev) == STORE_OK ? PLAN_WITHHELD : PLAN_FAILED;
    }
    if (v.action == POLICY_NOTICE) {
        ev.action = "notice";
        ev.reason = policy_rule_name(v.rule);
        len = notice_frame(b, sub, m, attempt);
        b->stats.notices++;
    } else {
        ev.action = attempt > 1 ? "redeliver" : "deliver";
        len = wire_deliver_pack(sub->id, attempt, 0, ref->packed, ref->len,
                                outbuf_reserve(b, wire_deliver_size(ref->len)));
        b->stats.deliveries++;
    }
    if (audit_append(b->audit, &ev) != STORE_OK)
        return PLAN_FAILED;
    queue_frame(b, s, sub, seq, attempt == 1, len);
    s->delivered++;
    return PLAN_QUEUED;
}

static int64_t due_in(int64_t now_ms, int64_t now_us, int64_t until_us)
{
    return now_ms + (until_us - now_us) / 1000 + 1;
}

/* A message that has used up its deliveries is set aside where operators
 * can see it, and stops blocking the subscription's window. */
static void dead_letter(broker_t *b, session_t *s, sub_t *sub, uint64_t seq, const char *why)
{
    sub_forget(sub, seq);
    sub->dead_lettered++;
    b->stats.dead_letters++;
    log_warn("event=dead_letter agent=%s sub=%u seq=%llu reason=\"%s\"", s->agent, sub->id,
             (unsigned long long)seq, why);
    struct audit_event ev = {.actor = "broker",
                             .action = "dead_letter",
                             .recipient = s->agent,
                             .outcome = "refused",
                             .reason = why,
                             .msg_seq = seq};
    audit_append(b->audit, &ev);
    if (sub->durable)
        store_deadletter_put(b->store, seq, sub->durable, why);
}

/* Unacked deliveries past their due time are planned again, re-checked by
 * the rule as configured now; after max_deliver attempts they are dead
 * letters. Held (embargoed) ones are planned for the first time. */
static int redeliver_due(broker_t *b, session_t *s, sub_t *sub, int64_t now_ms, int64_t now_us,
                         store_read_t **rd)
{
    for (uint32_t i = 0; i < sub->n_inflight;) {
        struct inflight *f = &sub->inflight[i];
        if (f->due_ms > now_ms) {
            i++;
            continue;
        }
        uint64_t seq = f->seq;
        if (f->attempts >= b->cfg->max_deliver) {
            dead_letter(b, s, sub, seq, "max_deliver reached");
            continue; /* entry i was removed */
        }
        struct msgref ref;
        Liaison__Intel *owned;
        int rc = fetch(b, rd, &seq, 1, &ref, &owned);
        if (rc == STORE_NOTFOUND || rc == FETCH_UNDECODABLE) {
            sub_forget(sub, seq); /* purged meanwhile (or unreadable, logged) */
            continue;
        }
        if (rc != STORE_OK)
            return -1;
        int64_t until = 0;
        enum plan p = plan_one(b, s, sub, &ref, seq, f->attempts + 1, now_us, &until);
        wire_intel_free(&owned);
        if (p == PLAN_FAILED)
            return -1;
        if (p == PLAN_WITHHELD) {
            sub_forget(sub, seq); /* no longer allowed: withheld, not retried */
            continue;
        }
        if (p == PLAN_DEFERRED) {
            f->due_ms = due_in(now_ms, now_us, until);
        } else {
            if (f->attempts > 0) {
                sub->redelivered++;
                b->stats.redeliveries++;
            } else {
                sub->delivered++;
            }
            f->attempts++;
            f->due_ms = now_ms + (int64_t)b->cfg->ack_timeout_ms * f->attempts;
        }
        i++;
    }
    return 0;
}

static void plan_sub(broker_t *b, session_t *s, sub_t *sub, uint64_t last, int64_t now_ms,
                     int64_t now_us, store_read_t **rd)
{
    if (sub->n_inflight && redeliver_due(b, s, sub, now_ms, now_us, rd) < 0)
        return;
    for (int budget = PUMP_BUDGET; budget > 0 && sub_credit(sub) > 0 && sub->next_seq <= last;
         budget--) {
        uint64_t seq = sub->next_seq;
        struct msgref ref;
        Liaison__Intel *owned;
        int rc = fetch(b, rd, &seq, 0, &ref, &owned);
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
        int64_t until = 0;
        enum plan p = plan_one(b, s, sub, &ref, seq, 1, now_us, &until);
        wire_intel_free(&owned);
        if (p == PLAN_FAILED)
            return;
        if (p == PLAN_QUEUED)
            sub_sent(sub, seq, now_ms + b->cfg->ack_timeout_ms);
        else if (p == PLAN_DEFERRED)
            sub_hold(sub, seq, due_in(now_ms, now_us, until));
        sub->next_seq = seq + 1;
    }
}

void router_plan(broker_t *b)
{
    uint64_t last = store_next_seq(b->store) - 1; /* includes this pass's batch */
    int64_t now_ms = util_mono_ms(), now_us = util_now_us();
    store_read_t *rd = NULL;
    b->batch_first = b->n_batch ? b->batch[0].seq : 0;
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *s = sessions_at(b->sessions, i);
        if (s->dead || s->conf == NULL)
            continue;
        for (size_t j = 0; j < s->n_subs; j++)
            plan_sub(b, s, &s->subs[j], last, now_ms, now_us, &rd);
    }
    /* Readers must not outlive the pass: a long-lived snapshot would pin
     * old pages and grow the file. */
    store_read_end(&rd);
}

/* ---- commit and send -------------------------------------------------------- */

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

static void send_planned(broker_t *b)
{
    for (size_t i = 0; i < b->n_out; i++) {
        struct outframe *o = &b->out[i];
        session_t *s = sessions_find(b->sessions, o->rid, o->rid_len);
        if (s == NULL || s->dead)
            continue; /* unacked: redelivered from the cursor when it returns */
        /* A full peer queue leaves the message unacked in the window; the
         * ack timeout sends it again. */
        session_send(b->router, s, b->outbuf + o->off, o->len);
    }
}

void router_commit(broker_t *b)
{
    int rc = write_cursors(b);
    if (rc == STORE_OK && !store_batch_open(b->store) && (b->n_batch > 0 || b->n_out > 0))
        rc = store_batch_failure(b->store); /* lost earlier in this pass */
    if (rc == STORE_OK && store_batch_open(b->store)) {
        double t0 = metrics_clock();
        rc = store_batch_commit(b->store);
        if (rc == STORE_OK) {
            b->stats.commits++;
            metrics_observe_commit(b->metrics, metrics_clock() - t0);
        }
    }
    if (rc != STORE_OK) {
        fail_batch(b, store_code(rc), store_why(rc));
        return;
    }
    /* On disk now: only from here may a PubAck say so, and a Deliver leave. */
    for (size_t i = 0; i < b->n_batch; i++) {
        struct pending *p = &b->batch[i];
        b->stats.publishes++;
        retention_note(b->retention, b->cfg, p->intel, p->packed_len);
        send_puback(b, p->rid, p->rid_len, p->corr_id, p->seq, p->msg_id, 0);
    }
    for (size_t i = 0; i < b->n_dups; i++)
        send_puback(b, b->dups[i].rid, b->dups[i].rid_len, b->dups[i].corr_id, b->dups[i].seq,
                    b->dups[i].msg_id, 1);
    send_planned(b);
    router_clear(b);
}
