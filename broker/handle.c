/* handle.c — every frame a client sends: identity from User-Id, bounded
 * decoding, and one handler per Envelope kind. Bad input is answered with
 * an Error naming its code and logged once; nothing here trusts the routing
 * id or any name the client writes.
 * Not responsible for: the message path after acceptance (router.c). */
#include "handle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy.h"
#include "router.h"
#include "topic.h"
#include "util.h"

#define MAX_WINDOW 100000u

void handle_reply(broker_t *b, session_t *s, const Liaison__Envelope *env)
{
    size_t n = wire_envelope_size(env);
    if (n > b->scratch_len) {
        b->scratch = xrealloc(b->scratch, n);
        b->scratch_len = n;
    }
    wire_envelope_pack(env, b->scratch);
    if (session_send(b->router, s, b->scratch, n) == -1)
        log_warn("event=reply_dropped agent=%s reason=\"peer queue full\"", s->agent);
}

void handle_error(broker_t *b, session_t *s, uint64_t corr_id, Liaison__ErrorCode code,
                  const char *msg_id, const char *message)
{
    Liaison__Envelope env;
    Liaison__Error err = LIAISON__ERROR__INIT;
    wire_envelope_init(&env, corr_id);
    err.code = code;
    err.message = (char *)(uintptr_t)(message ? message : "");
    err.msg_id = (char *)(uintptr_t)(msg_id ? msg_id : "");
    env.kind_case = LIAISON__ENVELOPE__KIND_ERROR;
    env.error = &err;
    handle_reply(b, s, &env);
}

static void on_hello(broker_t *b, session_t *s, uint64_t corr, const Liaison__Hello *h)
{
    Liaison__Envelope env;
    Liaison__Welcome w = LIAISON__WELCOME__INIT;
    if (!s->welcomed)
        log_info("event=hello agent=%s client=\"%.64s\"", s->agent, h->client ? h->client : "");
    s->welcomed = 1;
    wire_envelope_init(&env, corr);
    w.agent = s->agent;
    w.broker_version = (char *)(uintptr_t)BROKER_VERSION;
    w.heartbeat_ms = b->cfg->heartbeat_ms;
    w.max_frame_bytes = b->cfg->max_frame_bytes;
    w.last_seq = store_last_seq(b->store);
    env.kind_case = LIAISON__ENVELOPE__KIND_WELCOME;
    env.welcome = &w;
    handle_reply(b, s, &env);
}

static void on_subscribe(broker_t *b, session_t *s, uint64_t corr, const Liaison__Subscribe *r)
{
    char why[160];
    const char *pattern = r->pattern ? r->pattern : "";
    if (topic_pattern_valid(pattern, b->cfg->max_topic_len) != 0) {
        handle_error(b, s, corr, LIAISON__ERROR_CODE__BAD_PATTERN, NULL,
                     "pattern must be lower-case dot-separated tokens, '*' or a final '>'");
        return;
    }
    if (r->durable && r->durable[0]) {
        /* Durable cursors are not kept by this broker version; refusing is
         * honest, where accepting would promise a resume we cannot keep. */
        handle_error(b, s, corr, LIAISON__ERROR_CODE__UNKNOWN_KIND, NULL,
                     "durable subscriptions are not supported by this broker version");
        return;
    }
    enum policy_rule rule =
        policy_may_subscribe(s->conf, pattern, s->n_subs, b->cfg->max_subs_per_agent);
    if (rule != POLICY_ALLOW) {
        snprintf(why, sizeof why, "subscription refused by rule %s", policy_rule_name(rule));
        log_info("event=subscribe_refused agent=%s pattern=%s rule=%s", s->agent, pattern,
                 policy_rule_name(rule));
        handle_error(b, s, corr,
                     rule == POLICY_TOPIC ? LIAISON__ERROR_CODE__SUBSCRIBE_NOT_PERMITTED
                                          : policy_rule_error(rule),
                     NULL, why);
        return;
    }
    uint32_t window = r->credit ? r->credit : b->cfg->credit_window;
    if (window > MAX_WINDOW)
        window = MAX_WINDOW;
    uint64_t start = store_last_seq(b->store) + 1;
    if (session_sub_add(s, r->sub_id, pattern, window, start) == NULL) {
        handle_error(b, s, corr, LIAISON__ERROR_CODE__BAD_PATTERN, NULL,
                     "sub_id already in use on this connection");
        return;
    }
    log_info("event=subscribed agent=%s sub=%u pattern=%s window=%u", s->agent, r->sub_id,
             pattern, window);
    Liaison__Envelope env;
    Liaison__SubAck ack = LIAISON__SUB_ACK__INIT;
    wire_envelope_init(&env, corr);
    ack.sub_id = r->sub_id;
    ack.start_seq = start;
    env.kind_case = LIAISON__ENVELOPE__KIND_SUB_ACK;
    env.sub_ack = &ack;
    handle_reply(b, s, &env);
}

static sub_t *find_sub(broker_t *b, session_t *s, uint64_t corr, uint32_t id)
{
    sub_t *sub = session_sub_find(s, id);
    if (sub == NULL)
        handle_error(b, s, corr, LIAISON__ERROR_CODE__UNKNOWN_SUBSCRIPTION, NULL,
                     "no such subscription on this connection");
    return sub;
}

static void on_ack(broker_t *b, session_t *s, uint64_t corr, const Liaison__Ack *a)
{
    sub_t *sub = find_sub(b, s, corr, a->sub_id);
    for (size_t i = 0; sub && i < a->n_seqs; i++)
        sub_ack(sub, a->seqs[i]); /* an ack for something not in flight is harmless */
}

static void on_nack(broker_t *b, session_t *s, uint64_t corr, const Liaison__Nack *n)
{
    sub_t *sub = find_sub(b, s, corr, n->sub_id);
    for (size_t i = 0; sub && i < n->n_seqs; i++) {
        if (sub_ack(sub, n->seqs[i]) != 0 || !n->requeue)
            continue;
        /* At-least-once: rewind the cursor so the message is sent again
         * (with anything after it that was in flight). */
        if (n->seqs[i] < sub->next_seq)
            sub->next_seq = n->seqs[i];
    }
}

static void on_credit(broker_t *b, session_t *s, uint64_t corr, const Liaison__Credit *c)
{
    sub_t *sub = find_sub(b, s, corr, c->sub_id);
    if (sub == NULL)
        return;
    uint32_t w = c->credit < 1 ? 1 : c->credit > MAX_WINDOW ? MAX_WINDOW : c->credit;
    if (w > sub->window)
        sub->inflight = xrealloc(sub->inflight, w * sizeof *sub->inflight);
    if (w >= sub->n_inflight)
        sub->window = w;
}

static void on_status(broker_t *b, session_t *s, uint64_t corr)
{
    if (!(s->conf->roles & ROLE_OPERATOR)) {
        handle_error(b, s, corr, LIAISON__ERROR_CODE__ROLE_MISSING, NULL,
                     "status needs the operator role");
        return;
    }
    struct store_stat st;
    store_stat(b->store, &st);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"version\":\"%s\",\"uptime_s\":%lld,\"last_seq\":%llu,\"messages\":%llu,"
             "\"store_used_bytes\":%llu,\"store_map_bytes\":%llu,\"sessions\":%zu,"
             "\"publishes\":%llu,\"publish_refused\":%llu,\"deliveries\":%llu,"
             "\"delivery_refused\":%llu,\"commits\":%llu,\"auth_refused\":%lu}",
             BROKER_VERSION, (long long)((util_now_us() - b->started_us) / 1000000),
             (unsigned long long)st.last_seq, (unsigned long long)st.messages,
             (unsigned long long)st.used_bytes, (unsigned long long)st.map_bytes,
             sessions_count(b->sessions), (unsigned long long)b->stats.publishes,
             (unsigned long long)b->stats.publish_refused,
             (unsigned long long)b->stats.deliveries,
             (unsigned long long)b->stats.delivery_refused,
             (unsigned long long)b->stats.commits, auth_refused(b->auth));
    Liaison__Envelope env;
    Liaison__StatusReply rep = LIAISON__STATUS_REPLY__INIT;
    wire_envelope_init(&env, corr);
    rep.json = json;
    env.kind_case = LIAISON__ENVELOPE__KIND_STATUS_REPLY;
    env.status_reply = &rep;
    handle_reply(b, s, &env);
}

static void on_heartbeat(broker_t *b, session_t *s, uint64_t corr)
{
    Liaison__Envelope env;
    Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
    wire_envelope_init(&env, corr);
    hb.time_us = util_now_us();
    env.kind_case = LIAISON__ENVELOPE__KIND_HEARTBEAT;
    env.heartbeat = &hb;
    handle_reply(b, s, &env);
}

/* The session for this frame. A routing id is only an address: if the
 * authenticated agent behind it changed, the old session is dropped rather
 * than inherited. */
static session_t *session_for(broker_t *b, const uint8_t *rid, size_t rid_len, const char *user)
{
    session_t *s = sessions_find(b->sessions, rid, rid_len);
    if (s && strcmp(s->agent, user) != 0) {
        log_warn("event=routing_id_reused old_agent=%s new_agent=%s", s->agent, user);
        sessions_remove(b->sessions, s);
        s = NULL;
    }
    if (s == NULL) {
        if (rid_len > SESSION_RID_MAX || strlen(user) >= SESSION_AGENT_MAX)
            return NULL;
        s = sessions_add(b->sessions, rid, rid_len, user);
        s->conf = config_agent_by_name(b->cfg, user);
        log_info("event=connected agent=%s sessions=%zu", user, sessions_count(b->sessions));
    }
    return s;
}

void handle_frame(broker_t *b, const uint8_t *rid, size_t rid_len, const char *user_id,
                  const void *data, size_t len)
{
    if (user_id == NULL || user_id[0] == '\0') {
        /* Cannot happen with the ZAP handler bound; never serve it anyway. */
        log_error("event=frame_without_user_id action=dropped");
        return;
    }
    session_t *s = session_for(b, rid, rid_len, user_id);
    if (s == NULL) {
        log_warn("event=frame_dropped agent=%.64s reason=\"routing id or name too long\"",
                 user_id);
        return;
    }
    s->last_seen_ms = util_mono_ms();
    Liaison__ErrorCode code;
    uint64_t corr = 0;
    Liaison__Envelope *env = wire_envelope_decode(data, len, b->cfg->max_frame_bytes, &code, &corr);
    if (env == NULL) {
        char why[128];
        b->stats.frames_bad++;
        snprintf(why, sizeof why, "%s (%zu bytes)", wire_error_name(code), len);
        log_warn("event=bad_frame agent=%s code=%s bytes=%zu", s->agent, wire_error_name(code),
                 len);
        handle_error(b, s, corr, code, NULL, why);
        return;
    }
    if (s->conf == NULL) {
        /* Removed from the config since it connected (reload). */
        handle_error(b, s, corr, LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED, NULL,
                     "agent is not configured on this broker");
        goto leave;
    }
    if (!s->welcomed && env->kind_case != LIAISON__ENVELOPE__KIND_HELLO) {
        handle_error(b, s, corr, LIAISON__ERROR_CODE__NOT_WELCOMED, NULL, "send Hello first");
        goto leave;
    }
    switch (env->kind_case) {
    case LIAISON__ENVELOPE__KIND_HELLO:
        on_hello(b, s, corr, env->hello);
        break;
    case LIAISON__ENVELOPE__KIND_PUBLISH: {
        Liaison__Intel *m = env->publish->intel;
        env->publish->intel = NULL; /* the router owns it from here */
        if (m && m->label == NULL) {
            handle_error(b, s, corr, LIAISON__ERROR_CODE__BAD_LABEL, m->msg_id,
                         "message has no label");
            wire_intel_free(&m);
            break;
        }
        if (m && m->origin == NULL)
            m->origin = wire_intel_new_origin();
        router_publish(b, s, corr, m);
        break;
    }
    case LIAISON__ENVELOPE__KIND_SUBSCRIBE:
        on_subscribe(b, s, corr, env->subscribe);
        break;
    case LIAISON__ENVELOPE__KIND_UNSUBSCRIBE:
        if (find_sub(b, s, corr, env->unsubscribe->sub_id))
            session_sub_remove(s, env->unsubscribe->sub_id);
        break;
    case LIAISON__ENVELOPE__KIND_ACK:
        on_ack(b, s, corr, env->ack);
        break;
    case LIAISON__ENVELOPE__KIND_NACK:
        on_nack(b, s, corr, env->nack);
        break;
    case LIAISON__ENVELOPE__KIND_CREDIT:
        on_credit(b, s, corr, env->credit);
        break;
    case LIAISON__ENVELOPE__KIND_STATUS_REQUEST:
        on_status(b, s, corr);
        break;
    case LIAISON__ENVELOPE__KIND_HEARTBEAT:
        on_heartbeat(b, s, corr);
        break;
    case LIAISON__ENVELOPE__KIND_REPLAY:
        handle_error(b, s, corr, LIAISON__ERROR_CODE__UNKNOWN_KIND, NULL,
                     "replay is not supported by this broker version");
        break;
    default:
        /* Welcome, PubAck, SubAck, Deliver, StatusReply, Error: broker-sent. */
        handle_error(b, s, corr, LIAISON__ERROR_CODE__UNKNOWN_KIND, NULL,
                     "a client may not send this kind");
        break;
    }
leave:
    wire_envelope_free(&env);
}
