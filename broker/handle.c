/* handle.c — every frame a client sends: identity from User-Id, bounded
 * decoding, and one handler per Envelope kind. Bad input is answered with
 * an Error naming its code and logged once; nothing here trusts the routing
 * id or any name the client writes.
 * Consultation replies (status, audit reads, dead letters) wait on the
 * open batch with their records: none leaves before its record is on disk.
 * Not responsible for: the message path after acceptance (ingest.c). */
#include "handle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "control.h"
#include "durables.h"
#include "filter.h"
#include "label.h"
#include "log.h"
#include "policy.h"
#include "fanout.h"
#include "ingest.h"
#include "query.h"
#include "reply.h"
#include "subject.h"
#include "topic.h"
#include "util.h"

#define MAX_WINDOW 100000u
/* Sequences one Ack or Nack may carry: a window's worth is far below it,
 * and a bigger frame is a flood, not an acknowledgement. */
#define MAX_ACK_SEQS 4096

static void on_hello(broker_t *b, session_t *s, uint64_t corr, const Liaison__Hello *h)
{
    Liaison__Envelope env;
    Liaison__Welcome w = LIAISON__WELCOME__INIT;
    if (!s->welcomed)
        log_info("event=hello agent=%s client=%s", log_q(s->agent),
                 log_qn(h->client ? h->client : "", 64));
    int first = !s->welcomed;
    s->welcomed = 1;
    s->hit_notices = h->hit_notices;
    session_set_batches(b->router, s, h->batches);
    wire_envelope_init(&env, corr);
    w.agent = s->agent;
    w.broker_version = (char *)(uintptr_t)BROKER_VERSION;
    w.heartbeat_ms = b->cfg->heartbeat_ms;
    w.max_frame_bytes = b->cfg->max_frame_bytes;
    w.last_seq = store_last_seq(b->store);
    w.batches = 1;
    env.kind_case = LIAISON__ENVELOPE__KIND_WELCOME;
    env.welcome = &w;
    reply_send(b, s, &env);
    if (first && s->hit_notices)
        query_send_kept_notices(b, s); /* after the Welcome it follows */
}

static int durable_name_valid(const char *d)
{
    size_t n = strlen(d);
    if (n == 0 || n > 128)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = d[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return -1;
    }
    return 0;
}

/* The live subscription holding a durable name, or NULL. */
static sub_t *durable_holder(broker_t *b, const char *durable)
{
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *o = sessions_at(b->sessions, i);
        if (o->dead)
            continue;
        for (size_t j = 0; j < o->n_subs; j++)
            if (o->subs[j]->durable && strcmp(o->subs[j]->durable, durable) == 0)
                return o->subs[j];
    }
    return NULL;
}

/* A durable name is held by one connection at a time. Another may take it
 * over only by asking (take_over): the holder is told who took it, and the
 * new one starts from the holder's acks as they are in memory now (the
 * stored cursor may not have caught up with them). */
static void take_over(broker_t *b, session_t *s, sub_t *holder)
{
    session_t *o = holder->owner;
    char why[256];
    snprintf(why, sizeof why, "durable %s taken over by another connection of %s", holder->durable,
             s->agent);
    log_warn("event=durable_taken_over name=%s", log_q(holder->durable));
    struct audit_event ev = {.actor = s->agent,
                             .action = "durable_take_over",
                             .recipient = o->agent,
                             .outcome = "ok",
                             .topic = holder->pattern};
    audit_append(b->audit, b->open, &ev);
    Liaison__Envelope env;
    Liaison__Error err = LIAISON__ERROR__INIT;
    wire_envelope_init(&env, 0);
    err.code = LIAISON__ERROR_CODE__TAKEN_OVER;
    err.message = why;
    env.kind_case = LIAISON__ENVELOPE__KIND_ERROR;
    env.error = &err;
    reply_send(b, o, &env);
    fanout_sub_remove(b, o, holder->id); /* its state goes to fanout's released ring */
}

/* What narrows a subscription: its compiled filter and watched tokens,
 * handed to it whole (owned). */
struct narrowing {
    filter_t *filter;
    uint8_t (*watch)[32];
    uint32_t n_watch;
};

static void narrowing_free(struct narrowing *nw)
{
    filter_free(&nw->filter);
    free(nw->watch);
    nw->watch = NULL;
}

static int token_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* A refused watchlist or filter is answered and recorded, like other
 * refused subscriptions (aggregated). */
static void refuse_narrowing(broker_t *b, session_t *s, uint64_t corr, const char *pattern,
                             Liaison__ErrorCode code, const char *why)
{
    struct audit_event ev = {.actor = s->agent,
                             .action = "subscribe",
                             .topic = pattern,
                             .outcome = "refused",
                             .reason = wire_error_name(code)};
    audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
    reply_error(b, s, corr, code, NULL, why);
}

/* Compiles a Subscribe's where filter and blinds its watchlist. Answers a
 * refusal itself (-1). */
static int narrowing_make(broker_t *b, session_t *s, uint64_t corr, const Liaison__Subscribe *r,
                          struct narrowing *nw)
{
    char why[256], msg[320];
    memset(nw, 0, sizeof *nw);
    if (r->where && r->where[0]) {
        size_t pos = 0;
        nw->filter = filter_compile(r->where, &pos, why, sizeof why);
        if (nw->filter == NULL) {
            if (pos)
                snprintf(msg, sizeof msg, "where, column %zu: %s", pos, why);
            else
                snprintf(msg, sizeof msg, "where: %s", why);
            refuse_narrowing(b, s, corr, r->pattern, LIAISON__ERROR_CODE__BAD_FILTER, msg);
            return -1;
        }
    }
    if (r->n_subjects == 0)
        return 0;
    if (!b->index_on) {
        refuse_narrowing(b, s, corr, r->pattern, LIAISON__ERROR_CODE__NO_SUBJECT_INDEX,
                         "this broker has no subject_key: watchlists are off");
        goto fail;
    }
    if (r->n_subjects > SUB_MAX_WATCH) {
        snprintf(msg, sizeof msg, "a watchlist holds at most %d subjects; this one %zu",
                 SUB_MAX_WATCH, r->n_subjects);
        refuse_narrowing(b, s, corr, r->pattern, LIAISON__ERROR_CODE__TOO_LARGE, msg);
        goto fail;
    }
    nw->watch = xmalloc(r->n_subjects * sizeof *nw->watch);
    for (size_t i = 0; i < r->n_subjects; i++) {
        if (r->subjects[i] == NULL || strlen(r->subjects[i]) > LABEL_MAX_WORD ||
            subject_token(b->subject_key, r->subjects[i], nw->watch[i]) != 0) {
            snprintf(msg, sizeof msg, "watched subject %zu does not normalise", i + 1);
            refuse_narrowing(b, s, corr, r->pattern, LIAISON__ERROR_CODE__BAD_SUBJECT, msg);
            goto fail;
        }
    }
    /* Sorted and unique: two spellings of one subject are one entry. */
    qsort(nw->watch, r->n_subjects, 32, token_cmp);
    uint32_t n = 0;
    for (size_t i = 0; i < r->n_subjects; i++)
        if (n == 0 || memcmp(nw->watch[n - 1], nw->watch[i], 32) != 0)
            memmove(nw->watch[n++], nw->watch[i], 32);
    nw->n_watch = n;
    return 0;
fail:
    narrowing_free(nw);
    return -1;
}

/* Creates the subscription and answers SubAck. nw (may be NULL) is taken. */
static sub_t *subscribed(broker_t *b, session_t *s, uint64_t corr, uint32_t id, const char *pattern,
                         const char *durable, uint32_t credit, uint64_t start, int later,
                         struct narrowing *nw)
{
    uint32_t window = credit ? credit : b->cfg->credit_window;
    if (window > MAX_WINDOW)
        window = MAX_WINDOW;
    sub_t *sub = session_sub_add(s, id, pattern, durable, window, start);
    if (nw) {
        sub->filter = nw->filter;
        sub->watch = nw->watch;
        sub->n_watch = nw->n_watch;
        memset(nw, 0, sizeof *nw);
    }
    fanout_sub_added(b, sub);
    struct audit_event ev = {
        .actor = s->agent, .action = "subscribe", .topic = pattern, .outcome = "ok"};
    audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
    if (start == SUB_AT_TAIL)
        start = b->planned + 1;
    log_info("event=subscribed agent=%s sub=%u pattern=%s durable=%s window=%u start=%llu "
             "filter=%d watching=%u",
             log_q(s->agent), id, log_q(pattern), log_q(durable ? durable : "-"), window,
             (unsigned long long)start, sub->filter != NULL, sub->n_watch);
    Liaison__Envelope env;
    Liaison__SubAck ack = LIAISON__SUB_ACK__INIT;
    wire_envelope_init(&env, corr);
    ack.sub_id = id;
    ack.start_seq = start;
    env.kind_case = LIAISON__ENVELOPE__KIND_SUB_ACK;
    env.sub_ack = &ack;
    if (later)
        reply_later(b, s, &env); /* after what it depends on is on disk */
    else
        reply_send(b, s, &env);
    return sub;
}

/* Checks a Subscribe or Replay: the pattern, the policy, a free sub_id.
 * Answers a refusal itself. */
static int sub_request_ok(broker_t *b, session_t *s, uint64_t corr, const char *pattern,
                          uint32_t sub_id)
{
    if (session_sub_find(s, sub_id)) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__SUB_ID_IN_USE, NULL,
                    "sub_id already in use on this connection");
        return -1;
    }
    if (topic_pattern_valid(pattern, b->cfg->max_topic_len) != 0) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_PATTERN, NULL,
                    "pattern must be lower-case dot-separated tokens, '*' or a final '>'");
        return -1;
    }
    /* The limit is per agent, over all its connections. */
    enum policy_rule rule = policy_may_subscribe(s->conf, pattern, s->agent_state->subs,
                                                 b->cfg->max_subs_per_agent, util_now_us());
    if (rule != POLICY_ALLOW) {
        /* Only the refusal is recorded here: a subscription that passes
         * may still be refused by what its caller checks next, so its
         * "ok" is written once it exists (subscribed). */
        struct audit_event ev = {.actor = s->agent,
                                 .action = "subscribe",
                                 .topic = pattern,
                                 .outcome = "refused",
                                 .reason = policy_rule_name(rule)};
        audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
        char text[POLICY_EXPLAIN_MAX];
        struct policy_ask ask = {.role = ROLE_RECEIVER, .pattern = pattern};
        policy_explain(rule, s->conf, &ask, text, sizeof text);
        log_info("event=subscribe_refused agent=%s pattern=%s rule=%s reason=%s", log_q(s->agent),
                 log_q(pattern), policy_rule_name(rule), log_q(text));
        reply_error(b, s, corr,
                    rule == POLICY_TOPIC ? LIAISON__ERROR_CODE__SUBSCRIBE_NOT_PERMITTED
                                         : policy_rule_error(rule),
                    NULL, text);
        return -1;
    }
    return 0;
}

static void on_subscribe(broker_t *b, session_t *s, uint64_t corr, const Liaison__Subscribe *r)
{
    const char *pattern = r->pattern ? r->pattern : "";
    if (r->credit > MAX_WINDOW) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_REQUEST, NULL,
                    "credit must be 0 (the broker's default) to 100000");
        return;
    }
    char durable[SESSION_AGENT_MAX + 130];
    if (r->durable && r->durable[0] && durable_name_valid(r->durable) != 0) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_REQUEST, NULL,
                    "durable name must be 1-128 characters of [A-Za-z0-9._-]");
        return;
    }
    if (sub_request_ok(b, s, corr, pattern, r->sub_id) != 0)
        return;
    struct narrowing nw;
    if (narrowing_make(b, s, corr, r, &nw) != 0)
        return;
    uint64_t start = SUB_AT_TAIL;
    const char *dname = NULL;
    int fresh = 0;
    struct store_cursor_ext ext = {0, 0, NULL};
    if (r->durable && r->durable[0]) {
        /* Durable names are per agent: one agent can never resume another's. */
        snprintf(durable, sizeof durable, "%s/%s", s->agent, r->durable);
        dname = durable;
        sub_t *holder = durable_holder(b, durable);
        if (holder && !r->take_over) {
            char why[200];
            snprintf(why, sizeof why,
                     "durable %s is held by another live connection; subscribe with take_over "
                     "to take it",
                     r->durable);
            reply_error(b, s, corr, LIAISON__ERROR_CODE__DURABLE_IN_USE, NULL, why);
            narrowing_free(&nw);
            return;
        }
        if (holder)
            take_over(b, s, holder);
        /* Where it resumes: a durable let go a moment ago (or just taken
         * over) from its state in memory, else from its stored cursor. */
        uint64_t floor;
        char stored[512];
        int have = fanout_released_floor(b, durable, &floor, &ext);
        if (!have) {
            int rc = store_cursor_get(b->store, durable, &floor, stored, sizeof stored, &ext);
            if (rc == STORE_ERR) {
                reply_error(b, s, corr, LIAISON__ERROR_CODE__STORE_FAILED, NULL,
                            "cannot read the durable cursor");
                narrowing_free(&nw);
                return;
            }
            have = rc == STORE_OK;
        }
        if (have) {
            start = floor + 1;
        } else {
            /* A new durable must exist on disk from now, or messages that
             * arrive before its first ack would be skipped after a restart.
             * It commits with this pass's batch, and its SubAck waits for
             * that commit. */
            store_wset_cursor(b->open->w, durable, b->planned, pattern, NULL);
            fresh = 1;
        }
    }
    sub_t *sub = subscribed(b, s, corr, r->sub_id, pattern, dname, r->credit, start, fresh, &nw);
    /* What it acked above a gap is not sent again; what it still owed
     * keeps its attempts. */
    fanout_resume(sub, &ext);
    free(ext.v);
}

/* Replay: a subscription that starts in the past, from a sequence or a
 * time, and carries on live. Every message is re-checked by the delivery
 * rule as configured now, like any delivery. */
static void on_replay(broker_t *b, session_t *s, uint64_t corr, const Liaison__Replay *r)
{
    const char *pattern = r->pattern ? r->pattern : "";
    /* Counted first: a replay re-reads the store and re-checks every
     * message, so even refused ones are bounded. */
    if (!agent_rate(s->agent_state, &s->agent_state->replays, b->cfg->max_replays_per_minute,
                    util_mono_ms())) {
        reply_refuse(b, s, corr, "replay", LIAISON__ERROR_CODE__RATE_LIMITED,
                     "too many replays this minute (max_replays_per_minute)");
        return;
    }
    if (sub_request_ok(b, s, corr, pattern, r->sub_id) != 0)
        return;
    struct store_stat st;
    if (store_stat(b->store, &st) != STORE_OK) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__STORE_FAILED, NULL, "cannot read the store");
        return;
    }
    if (r->since_us && r->from_seq) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_REQUEST, NULL,
                    "a replay starts from a sequence or from a time, not both");
        return;
    }
    uint64_t start = r->from_seq;
    char why[160];
    if (r->since_us) {
        if (store_seq_at_time(b->store, r->since_us, &start) != STORE_OK)
            start = st.last_seq + 1;
    } else if (start == 0) {
        start = st.first_seq ? st.first_seq : 1;
    } else if ((st.first_seq && start < st.first_seq) || start > b->next_seq) {
        /* Erased, or never given out: the same answer, naming it. */
        if (start > b->next_seq)
            snprintf(why, sizeof why, "sequence %llu was never stored; the newest is %llu",
                     (unsigned long long)start, (unsigned long long)(b->next_seq - 1));
        else
            snprintf(why, sizeof why, "sequence %llu is no longer stored; the oldest is %llu",
                     (unsigned long long)start, (unsigned long long)st.first_seq);
        reply_error_seq(b, s, corr, LIAISON__ERROR_CODE__NOT_FOUND, start, why);
        return;
    }
    if (r->to_seq && r->to_seq < start) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_REQUEST, NULL,
                    "to_seq is before the replay's first sequence");
        return;
    }
    log_info("event=replay agent=%s pattern=%s from=%llu", log_q(s->agent), log_q(pattern),
             (unsigned long long)start);
    char detail[64];
    snprintf(detail, sizeof detail, "from seq %llu", (unsigned long long)start);
    struct audit_event ev = {
        .actor = s->agent, .action = "replay", .outcome = "ok", .reason = detail, .topic = pattern};
    audit_append(b->audit, b->open, &ev);
    sub_t *sub = subscribed(b, s, corr, r->sub_id, pattern, NULL, 0, start, 0, NULL);
    sub->replay = 1;
    sub->replay_to = r->to_seq;
    sub->report_done = r->report_done;
}

static sub_t *find_sub(broker_t *b, session_t *s, uint64_t corr, uint32_t id)
{
    sub_t *sub = session_sub_find(s, id);
    if (sub == NULL)
        reply_error(b, s, corr, LIAISON__ERROR_CODE__UNKNOWN_SUBSCRIPTION, NULL,
                    "no such subscription on this connection");
    return sub;
}

static int acks_bounded(broker_t *b, session_t *s, uint64_t corr, size_t n, const char *what)
{
    if (n <= MAX_ACK_SEQS)
        return 1;
    char why[96];
    snprintf(why, sizeof why, "%s carries %zu sequences; at most %d", what, n, MAX_ACK_SEQS);
    reply_refuse(b, s, corr, what, LIAISON__ERROR_CODE__BAD_REQUEST, why);
    return 0;
}

static void on_ack(broker_t *b, session_t *s, uint64_t corr, const Liaison__Ack *a)
{
    if (!acks_bounded(b, s, corr, a->n_seqs, "ack"))
        return;
    sub_t *sub = find_sub(b, s, corr, a->sub_id);
    for (size_t i = 0; sub && i < a->n_seqs; i++)
        sub_ack(sub, a->seqs[i]); /* an ack for something not in flight is harmless */
}

static void on_nack(broker_t *b, session_t *s, uint64_t corr, const Liaison__Nack *n)
{
    if (!acks_bounded(b, s, corr, n->n_seqs, "nack"))
        return;
    sub_t *sub = find_sub(b, s, corr, n->sub_id);
    for (size_t i = 0; sub && i < n->n_seqs; i++) {
        struct inflight *f = sub_inflight(sub, n->seqs[i]);
        if (f == NULL || f->attempts == 0)
            continue; /* not delivered yet: nothing to nack */
        /* Reject: a dead letter on the next pass ("rejected by the
         * receiver"), never a silent drop. */
        /* A requeue is due at once (the receiver paces its own retries,
         * and its queue keeps their order); it counts towards max_deliver. */
        sub_set_due(sub, f, 0);
        if (!n->requeue)
            f->rejected = 1;
    }
}

static void on_credit(broker_t *b, session_t *s, uint64_t corr, const Liaison__Credit *c)
{
    sub_t *sub = find_sub(b, s, corr, c->sub_id);
    if (sub == NULL)
        return;
    if (c->credit < 1 || c->credit > MAX_WINDOW) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_REQUEST, NULL,
                    "credit must be 1 to 100000");
        return;
    }
    /* Below what is in flight: the window closes until acks bring it
     * under (sub_set_window never forgets an unacked delivery). */
    sub_set_window(sub, c->credit);
}

/* Consultation records for polling requests are aggregated, so a watching
 * screen does not flood the trail. */
static void audit_consult(broker_t *b, session_t *s, const char *action, const char *reason)
{
    struct audit_event ev = {.actor = s->agent,
                             .action = action,
                             .outcome = reason ? "refused" : "ok",
                             .reason = reason};
    audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
}

/* A request refused by policy_may_request: the text names the role it
 * needs and the roles held (the audit record, the rule). */
static void reply_role_refused(broker_t *b, session_t *s, uint64_t corr, enum policy_rule rule,
                               unsigned role, const char *what)
{
    char text[POLICY_EXPLAIN_MAX + 64];
    struct policy_ask ask = {.role = role};
    int n = snprintf(text, sizeof text, "%s: ", what);
    policy_explain(rule, s->conf, &ask, text + n, sizeof text - (size_t)n);
    log_info("event=request_refused agent=%s request=%s rule=%s reason=%s", log_q(s->agent), what,
             policy_rule_name(rule), log_q(text));
    reply_error(b, s, corr, policy_rule_error(rule), NULL, text);
}

/* Operator views read the store and walk every session: a screen polling
 * them is bounded per agent and minute. */
static int view_allowed(broker_t *b, session_t *s, uint64_t corr, const char *action)
{
    if (agent_rate(s->agent_state, &s->agent_state->views, b->cfg->max_views_per_minute,
                   util_mono_ms()))
        return 1;
    reply_refuse(b, s, corr, action, LIAISON__ERROR_CODE__RATE_LIMITED,
                 "too many operator views this minute (max_views_per_minute)");
    return 0;
}

static void on_status(broker_t *b, session_t *s, uint64_t corr, const Liaison__StatusRequest *q)
{
    enum policy_rule rule = policy_may_request(s->conf, ROLE_OPERATOR, util_now_us());
    if (rule != POLICY_ALLOW) {
        audit_consult(b, s, "status", policy_rule_name(rule));
        reply_role_refused(b, s, corr, rule, ROLE_OPERATOR, "status");
        return;
    }
    if (!view_allowed(b, s, corr, "status"))
        return;
    audit_consult(b, s, "status", NULL);
    char why[160];
    char *json = control_view(b, q->what, s->conf->clearance, why, sizeof why);
    if (json == NULL) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_REQUEST, NULL, why);
        return;
    }
    Liaison__Envelope env;
    Liaison__StatusReply rep = LIAISON__STATUS_REPLY__INIT;
    wire_envelope_init(&env, corr);
    rep.json = json;
    env.kind_case = LIAISON__ENVELOPE__KIND_STATUS_REPLY;
    env.status_reply = &rep;
    reply_later(b, s, &env);
    free(json);
}

/* The broker's view of the caller, for any welcomed agent: what broker.cfg
 * says of the key this connection authenticated with. A consultation like
 * status, so the answer waits for its record. */
static void on_whoami(broker_t *b, session_t *s, uint64_t corr)
{
    const config_agent_t *a = s->conf; /* welcomed and allowed: handle_frame checked */
    audit_consult(b, s, "whoami", NULL);
    const unsigned all[] = {ROLE_PUBLISHER, ROLE_RECEIVER, ROLE_OPERATOR, ROLE_AUDITOR, ROLE_QUERY};
    char *roles[UTIL_LEN(all)];
    size_t n_roles = 0;
    for (size_t i = 0; i < UTIL_LEN(all); i++)
        if (a->roles & all[i])
            roles[n_roles++] = (char *)(uintptr_t)policy_role_name(all[i]);
    Liaison__Envelope env;
    Liaison__WhoamiReply rep = LIAISON__WHOAMI_REPLY__INIT;
    wire_envelope_init(&env, corr);
    rep.name = a->name;
    rep.agency = a->agency;
    rep.type = a->type;
    rep.region = a->region;
    rep.n_roles = n_roles;
    rep.roles = roles;
    rep.clearance = (Liaison__Classification)a->clearance;
    rep.n_caveats = a->n_caveats;
    rep.caveats = a->caveats;
    rep.n_publish = a->n_publish;
    rep.publish = a->publish;
    rep.n_subscribe = a->n_subscribe;
    rep.subscribe = a->subscribe;
    rep.valid_from = a->valid_from ? a->valid_from : (char *)(uintptr_t) "";
    rep.valid_to = a->valid_to ? a->valid_to : (char *)(uintptr_t) "";
    rep.revoked = a->revoked;
    rep.n_speaks_for = a->n_speaks_for;
    rep.speaks_for = a->speaks_for;
    env.kind_case = LIAISON__ENVELOPE__KIND_WHOAMI_REPLY;
    env.whoami_reply = &rep;
    reply_later(b, s, &env);
}

/* The audit trail, for auditors only; every read of it is itself audited. */
static void on_audit(broker_t *b, session_t *s, uint64_t corr, const Liaison__AuditRequest *q)
{
    enum policy_rule rule = policy_may_request(s->conf, ROLE_AUDITOR, util_now_us());
    struct audit_event ev = {.actor = s->agent, .action = "audit_read", .outcome = "ok"};
    if (rule != POLICY_ALLOW) {
        ev.outcome = "refused";
        ev.reason = policy_rule_name(rule);
        audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
        reply_role_refused(b, s, corr, rule, ROLE_AUDITOR, "reading the audit trail");
        return;
    }
    Liaison__AuditRecord **recs = NULL;
    size_t n = 0;
    int more = 0;
    uint8_t token[SUBJECT_TOKEN_BYTES];
    const uint8_t *by_subject = NULL;
    if (q->subject && q->subject[0]) {
        /* The auditor names a reference it already knows; the broker
         * derives its token (only the broker holds the key). */
        if (!b->index_on || subject_token(b->subject_key, q->subject, token) != 0) {
            reply_error(b, s, corr,
                        b->index_on ? LIAISON__ERROR_CODE__BAD_SUBJECT
                                    : LIAISON__ERROR_CODE__NO_SUBJECT_INDEX,
                        NULL,
                        b->index_on ? "the subject does not normalise"
                                    : "this broker has no subject_key: no query names a token");
            return;
        }
        by_subject = token;
        ev.reason = "by subject";
    }
    if (audit_query(b->store, q, by_subject, &recs, &n, &more) != STORE_OK) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__STORE_FAILED, NULL,
                    "cannot read the audit trail");
        goto leave;
    }
    audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
    Liaison__Envelope env;
    Liaison__AuditReply rep = LIAISON__AUDIT_REPLY__INIT;
    wire_envelope_init(&env, corr);
    rep.records = recs;
    rep.n_records = n;
    rep.more = more;
    env.kind_case = LIAISON__ENVELOPE__KIND_AUDIT_REPLY;
    env.audit_reply = &rep;
    reply_later(b, s, &env);
leave:
    for (size_t i = 0; i < n; i++)
        wire_audit_record_free(&recs[i]);
    free(recs);
}

struct dead_list {
    char *buf;
    size_t len, cap;
    size_t n;
};

static void dead_item(uint64_t seq, const char *durable, const char *reason, void *ctx)
{
    struct dead_list *d = ctx;
    char item[1024];
    /* Names and reasons are [A-Za-z0-9._/-] and broker text: no escaping
     * is needed beyond refusing quotes, which they cannot contain. */
    int n = snprintf(item, sizeof item, "%s{\"seq\":%llu,\"durable\":\"%s\",\"reason\":\"%s\"}",
                     d->n ? "," : "", (unsigned long long)seq, durable, reason);
    if (n < 0 || (size_t)n >= sizeof item)
        return;
    if (d->len + (size_t)n + 8 > d->cap) {
        d->cap = (d->len + (size_t)n + 8) * 2;
        d->buf = xrealloc(d->buf, d->cap);
    }
    memcpy(d->buf + d->len, item, (size_t)n);
    d->len += (size_t)n;
    d->n++;
}

static void reply_json(broker_t *b, session_t *s, uint64_t corr, char *json)
{
    Liaison__Envelope env;
    Liaison__StatusReply rep = LIAISON__STATUS_REPLY__INIT;
    wire_envelope_init(&env, corr);
    rep.json = json;
    env.kind_case = LIAISON__ENVELOPE__KIND_STATUS_REPLY;
    env.status_reply = &rep;
    reply_later(b, s, &env);
}

/* Requeue: an attached subscription gets it back in its window at once,
 * and the stored cursor is moved back before it in any case, so a resume
 * (or a takeover by a new connection) sends it again too, with what
 * followed it: at-least-once. */
static int requeue(broker_t *b, const char *durable, uint64_t seq)
{
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *o = sessions_at(b->sessions, i);
        for (size_t j = 0; j < o->n_subs; j++)
            if (o->subs[j]->durable && strcmp(o->subs[j]->durable, durable) == 0)
                sub_requeue(o->subs[j], seq);
    }
    uint64_t floor;
    char pattern[512];
    int rc = store_cursor_get(b->store, durable, &floor, pattern, sizeof pattern, NULL);
    if (rc != STORE_OK)
        return rc;
    if (floor >= seq) {
        store_wset_cursor(b->open->w, durable, seq - 1, pattern, NULL);
        fanout_released_lower(b, durable, seq - 1);
    }
    return STORE_OK;
}

static void on_dead_letter(broker_t *b, session_t *s, uint64_t corr,
                           const Liaison__DeadLetterRequest *r)
{
    const char *action = r->action ? r->action : "";
    enum policy_rule rule = policy_may_request(s->conf, ROLE_OPERATOR, util_now_us());
    if (rule != POLICY_ALLOW) {
        audit_consult(b, s, "dead_letters", policy_rule_name(rule));
        reply_role_refused(b, s, corr, rule, ROLE_OPERATOR, "dead letters");
        return;
    }
    if (strcmp(action, "list") == 0) {
        if (!view_allowed(b, s, corr, "dead_letters"))
            return;
        struct dead_list d = {xstrdup("{\"dead_letters\":["), 0, 0, 0};
        d.len = strlen(d.buf);
        d.cap = d.len + 1;
        if (store_deadletters(b->store, 1000, dead_item, &d) != STORE_OK) {
            free(d.buf);
            reply_error(b, s, corr, LIAISON__ERROR_CODE__STORE_FAILED, NULL,
                        "cannot read the dead letters");
            return;
        }
        d.buf = xrealloc(d.buf, d.len + 3);
        memcpy(d.buf + d.len, "]}", 3);
        audit_consult(b, s, "dead_letters", NULL);
        reply_json(b, s, corr, d.buf);
        free(d.buf);
        return;
    }
    int discard = strcmp(action, "discard") == 0;
    if ((!discard && strcmp(action, "requeue") != 0) || r->durable == NULL || r->seq == 0) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_REQUEST, NULL,
                    "action must be list, requeue or discard, with seq and durable");
        return;
    }
    int rc = store_deadletter_get(b->store, r->seq, r->durable);
    if (rc == STORE_OK)
        store_wset_deadletter_del(b->open->w, r->seq, r->durable);
    if (rc == STORE_NOTFOUND) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__NOT_FOUND, NULL, "no such dead letter");
        return;
    }
    if (rc == STORE_OK && !discard)
        rc = requeue(b, r->durable, r->seq);
    if (rc != STORE_OK) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__STORE_FAILED, NULL,
                    "cannot change the dead letters");
        return;
    }
    struct audit_event ev = {.actor = s->agent,
                             .action = discard ? "dead_letter_discard" : "dead_letter_requeue",
                             .recipient = r->durable,
                             .outcome = "ok",
                             .msg_seq = r->seq};
    audit_append(b->audit, b->open, &ev);
    log_info("event=dead_letter_%s agent=%s seq=%llu durable=%s", action, log_q(s->agent),
             (unsigned long long)r->seq, log_q(r->durable));
    reply_json(b, s, corr, (char *)(uintptr_t) "{\"ok\":true}");
}

static void on_heartbeat(broker_t *b, session_t *s, uint64_t corr)
{
    Liaison__Envelope env;
    Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
    wire_envelope_init(&env, corr);
    hb.time_us = util_now_us();
    env.kind_case = LIAISON__ENVELOPE__KIND_HEARTBEAT;
    env.heartbeat = &hb;
    reply_send(b, s, &env);
}

/* An agent at its connection limit: a ROUTER socket never hears a client
 * leave, so a command-line client that has exited still holds a session
 * until it is reaped. The agent's session silent longest, if silent for a
 * heartbeat, makes room; a live one never does. Returns 1 if one went. */
static int evict_stale(broker_t *b, session_t *fresh)
{
    session_t *oldest = NULL;
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *o = sessions_at(b->sessions, i);
        if (o != fresh && !o->dead && strcmp(o->agent, fresh->agent) == 0 &&
            (oldest == NULL || o->last_seen_ms < oldest->last_seen_ms))
            oldest = o;
    }
    if (oldest == NULL || util_mono_ms() - oldest->last_seen_ms < (int64_t)b->cfg->heartbeat_ms)
        return 0;
    log_info("event=session_evicted agent=%s reason=\"silent, and the agent is at "
             "max_sessions_per_agent\"",
             log_q(oldest->agent));
    fanout_session_gone(b, oldest);
    oldest->dead = 1; /* reaped with the others */
    oldest->agent_state->sessions--;
    oldest->counted = 0;
    return 1;
}

/* The session for this frame. A routing id is only an address: if the
 * authenticated agent behind it changed, the old session is dropped rather
 * than inherited. */
static session_t *session_for(broker_t *b, const uint8_t *rid, size_t rid_len, const char *user,
                              const char *key_z85)
{
    session_t *s = sessions_find(b->sessions, rid, rid_len);
    if (s && s->dead) {
        /* It said Bye (or timed out): a frame after that is a new session,
         * not an echo of the old one. */
        fanout_session_gone(b, s);
        sessions_remove(b->sessions, s);
        s = NULL;
    }
    /* The key is compared as X-Key spells it, which the ZAP handler wrote
     * from the key's bytes: decoding it once per frame cost more than the
     * rest of this function. */
    if (s && (strcmp(s->agent, user) != 0 || strcmp(s->key_z85, key_z85) != 0)) {
        log_warn("event=routing_id_reused old_agent=%s new_agent=%s", log_q(s->agent), log_q(user));
        fanout_session_gone(b, s);
        sessions_remove(b->sessions, s);
        s = NULL;
    }
    if (s == NULL) {
        uint8_t key[32];
        if (rid_len > SESSION_RID_MAX || strlen(user) >= SESSION_AGENT_MAX ||
            zmq_z85_decode(key, key_z85) == NULL)
            return NULL;
        s = sessions_add(b->sessions, rid, rid_len, user);
        memcpy(s->key, key, 32);
        memcpy(s->key_z85, key_z85, sizeof s->key_z85);
        s->conf = config_agent_by_name(b->cfg, user);
        if (s->conf && memcmp(s->conf->public_key, key, 32) != 0)
            s->conf = NULL; /* reloaded since its handshake: the key is not its agent's now */
        s->connected_us = util_now_us();
        log_info("event=connected agent=%s sessions=%zu", log_q(user), sessions_count(b->sessions));
        if (s->agent_state->sessions > b->cfg->max_sessions_per_agent && !evict_stale(b, s)) {
            s->over_limit = 1;
            log_warn("event=session_refused agent=%s reason=\"over max_sessions_per_agent (%u)\"",
                     log_q(user), b->cfg->max_sessions_per_agent);
        }
    }
    return s;
}

/* The identity a frame carries: its User-Id and the key behind it, z85 of
 * 32 bytes. */
static int frame_identity(const char *user_id, const char *key_z85)
{
    return user_id != NULL && user_id[0] != '\0' && key_z85 != NULL && strlen(key_z85) == 40 ? 0
                                                                                             : -1;
}

void handle_bad_frame(broker_t *b, const uint8_t *rid, size_t rid_len, const char *user_id,
                      const char *key_z85, const char *why)
{
    if (frame_identity(user_id, key_z85) != 0)
        return;
    session_t *s = session_for(b, rid, rid_len, user_id, key_z85);
    if (s)
        reply_error(b, s, 0, LIAISON__ERROR_CODE__BAD_FRAME, NULL, why);
}

/* One frame of the session's, or (inner) one of a Batch's. It is decoded
 * into the open batch's arena: a publish in it lives there until its batch
 * is reset, and anything else is taken back after the frame (a Batch's
 * frames, after the Batch) when no publish holds the arena (handle_frame).
 * The open batch stays the same while a frame is read: a pass ends only
 * between them. */
static void handle_envelope(broker_t *b, session_t *s, const void *data, size_t len, int inner)
{
    Liaison__ErrorCode code;
    uint64_t corr = 0;
    arena_t *arena = batch_arena(b->open);
    struct wire_span head;
    Liaison__Envelope *env = wire_envelope_decode_head(arena, data, len, b->cfg->max_frame_bytes,
                                                       &code, &corr, &head, batch_share(b->open));
    if (env == NULL) {
        char why[128];
        b->stats.frames_bad++;
        snprintf(why, sizeof why, "%s (%zu bytes)", wire_error_name(code), len);
        log_warn("event=bad_frame agent=%s code=%s bytes=%zu", log_q(s->agent),
                 wire_error_name(code), len);
        reply_error(b, s, corr, code, NULL, why);
        return;
    }
    enum policy_rule allowed = policy_may_connect(s->conf, util_now_us());
    if (allowed != POLICY_ALLOW) {
        /* Removed, revoked or out of its dates since it connected: its
         * connection is good for nothing any more. */
        char why[96];
        snprintf(why, sizeof why, "agent not allowed on this broker (%s)",
                 policy_rule_name(allowed));
        reply_error(b, s, corr, LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED, NULL, why);
        goto leave;
    }
    if (s->over_limit) {
        reply_refuse(b, s, corr, "connect", LIAISON__ERROR_CODE__TOO_MANY_SESSIONS,
                     "this agent already holds max_sessions_per_agent connections");
        goto leave;
    }
    if (!s->welcomed && env->kind_case != LIAISON__ENVELOPE__KIND_HELLO) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__NOT_WELCOMED, NULL, "send Hello first");
        goto leave;
    }
    switch (env->kind_case) {
    case LIAISON__ENVELOPE__KIND_HELLO:
        on_hello(b, s, corr, env->hello);
        break;
    case LIAISON__ENVELOPE__KIND_BATCH:
        if (inner) {
            b->stats.frames_bad++;
            reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_FRAME, NULL,
                        "a Batch inside a Batch: its frames were not read");
            break;
        }
        if (env->batch->n_frames > WIRE_BATCH_MAX_FRAMES) {
            b->stats.frames_bad++;
            reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_FRAME, NULL,
                        "a Batch holds at most 4096 frames: none of these was read");
            break;
        }
        /* Each frame as if it came alone, in order; none after a Bye. */
        for (size_t i = 0; i < env->batch->n_frames && !s->dead; i++)
            handle_envelope(b, s, env->batch->frames[i].data, env->batch->frames[i].len, 1);
        break;
    case LIAISON__ENVELOPE__KIND_PUBLISH: {
        Liaison__Intel *m = env->publish->intel;
        env->publish->intel = NULL; /* ingest owns it from here */
        if (m && m->label == NULL) {
            reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_LABEL, m->msg_id,
                        "message has no label");
            wire_intel_free_in(&m, arena);
            break;
        }
        if (m && m->origin == NULL)
            m->origin = wire_intel_new_origin(arena);
        ingest_publish(b, s, corr, m, arena, head.data ? &head : NULL);
        break;
    }
    case LIAISON__ENVELOPE__KIND_SUBSCRIBE:
        on_subscribe(b, s, corr, env->subscribe);
        break;
    case LIAISON__ENVELOPE__KIND_UNSUBSCRIBE:
        if (find_sub(b, s, corr, env->unsubscribe->sub_id))
            fanout_sub_remove(b, s, env->unsubscribe->sub_id);
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
        on_status(b, s, corr, env->status_request);
        break;
    case LIAISON__ENVELOPE__KIND_HEARTBEAT:
        on_heartbeat(b, s, corr);
        break;
    case LIAISON__ENVELOPE__KIND_AUDIT_REQUEST:
        on_audit(b, s, corr, env->audit_request);
        break;
    case LIAISON__ENVELOPE__KIND_DEAD_LETTER_REQUEST:
        on_dead_letter(b, s, corr, env->dead_letter_request);
        break;
    case LIAISON__ENVELOPE__KIND_REPLAY:
        on_replay(b, s, corr, env->replay);
        break;
    case LIAISON__ENVELOPE__KIND_QUERY:
        query_handle(b, s, corr, env->query);
        break;
    case LIAISON__ENVELOPE__KIND_WHOAMI_REQUEST:
        on_whoami(b, s, corr);
        break;
    case LIAISON__ENVELOPE__KIND_DURABLE_REQUEST:
        durables_handle(b, s, corr, env->durable_request);
        break;
    case LIAISON__ENVELOPE__KIND_BYE:
        /* Gone now, not in three heartbeats: its durables are free for the
         * next connection and it no longer counts against its agent. */
        log_info("event=bye agent=%s", log_q(s->agent));
        fanout_session_gone(b, s);
        if (s->counted) {
            s->agent_state->sessions--;
            s->counted = 0;
        }
        s->dead = 1; /* reaped with the others */
        break;
    default:
        /* Welcome, PubAck, SubAck, Deliver, StatusReply, Error: broker-sent. */
        reply_error(b, s, corr, LIAISON__ERROR_CODE__UNKNOWN_KIND, NULL,
                    "a client may not send this kind");
        break;
    }
leave:
    wire_envelope_free_in(&env, arena);
}

void handle_frame(broker_t *b, const uint8_t *rid, size_t rid_len, const char *user_id,
                  const char *key_z85, const void *data, size_t len)
{
    if (frame_identity(user_id, key_z85) != 0) {
        /* Cannot happen with the ZAP handler bound; never serve it anyway. */
        log_error("event=frame_without_identity action=dropped");
        return;
    }
    session_t *s = session_for(b, rid, rid_len, user_id, key_z85);
    if (s == NULL) {
        log_warn(
            "event=frame_dropped agent=%s reason=\"routing id or name too long, or a bad key\"",
            log_qn(user_id, 64));
        return;
    }
    s->last_seen_ms = util_mono_ms();
    /* A Batch as the gatherers write it is walked where it lies: its
     * frames are not copied out by a decode of the whole. Anything else,
     * a Batch in another form too, is decoded whole. */
    static struct wire_span spans[WIRE_BATCH_MAX_FRAMES];
    size_t n = len <= b->cfg->max_frame_bytes
                   ? wire_batch_split(data, len, spans, WIRE_BATCH_MAX_FRAMES)
                   : 0;
    if (n == 0) {
        handle_envelope(b, s, data, len, 0);
        batch_arena_sweep(b->open);
        if (b->pass_point)
            b->pass_point(b);
        return;
    }
    for (size_t i = 0; i < n && !s->dead; i++) {
        handle_envelope(b, s, spans[i].data, spans[i].len, 1);
        batch_arena_sweep(b->open);
        if (b->pass_point)
            b->pass_point(b);
    }
}
