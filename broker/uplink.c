/* uplink.c — each uplink's connection, forward cursor and receive
 * subscription; see uplink.h.
 *
 * A forward is planned only from the committed store (the pass's
 * snapshot), with its "bridge" record in the open batch; its frame leaves
 * when that batch is on disk. The upstream answers a forward by its
 * corr_id, which is the local sequence: a PubAck (stored, or already
 * there) settles it; a refusal it will always repeat (permissions, the
 * origin, a loop) settles it too, counted, logged and recorded; anything
 * else drops the link, which reconnects with backoff and sends again from
 * the cursor. The cursor (~uplink/NAME in the cursors database, a name no
 * agent's durable can have) is the highest sequence below which every
 * message is settled.
 * Not responsible for: the wire client (link.c), storing (ingest.c), the
 * rule (policy.c) or the route (route.c). */
#include "uplink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zmq.h>

#include "audit.h"
#include "ingest.h"
#include "json.h"
#include "link.h"
#include "log.h"
#include "policy.h"
#include "route.h"
#include "util.h"

#define RETRY_MIN_MS   200
#define RETRY_MAX_MS   10000
#define PLAN_BUDGET    2000 /* messages one uplink reads per pass */
#define CURSOR_IDLE_MS 1000

enum up_state { UP_CONNECTING, UP_UP, UP_RETRYING };

struct uplink {
    client_config_t cc; /* the connection's endpoint and keys (strings owned) */
    char actor[80];     /* "uplink:NAME" in the trail and logs */
    char cursor[80];    /* "~uplink/NAME" */
    link_t *link;
    enum up_state state;
    int refused; /* the upstream refused the key or the agent: loud */
    char why[320];
    int64_t retry_at_ms, backoff_ms, up_since_us;
    /* forward */
    uint64_t next;      /* the next local sequence to consider */
    uint64_t *inflight; /* planned or sent, not yet settled; ascending */
    size_t n_inflight, cap_inflight;
    uint64_t floor_written;
    int64_t floor_written_ms;
    int64_t progress_ms;    /* the last settlement, or the last rewind */
    int resend;             /* a forward could not be sent: plan again from the floor */
    struct wire_gather out; /* a release's frames for it, to go as one (uplinks_flush) */
    /* receive */
    uint32_t subscribed; /* SubAcks back, of n_receive */
    /* counters, for the view */
    uint64_t forwarded, settled, refusals, loops, received, last_forwarded, last_settled;
    uint64_t connects, losses;
};

struct uplinks {
    struct uplink *v;
    size_t n;
};

static const config_uplink_t *conf_of(const broker_t *b, size_t i)
{
    return &b->cfg->uplinks[i];
}

/* Every sequence at or below this is settled. */
static uint64_t floor_of(const struct uplink *u)
{
    return u->n_inflight ? u->inflight[0] - 1 : u->next - 1;
}

static void inflight_add(struct uplink *u, uint64_t seq)
{
    if (u->n_inflight == u->cap_inflight) {
        u->cap_inflight = u->cap_inflight ? u->cap_inflight * 2 : 64;
        u->inflight = xrealloc(u->inflight, u->cap_inflight * sizeof *u->inflight);
    }
    u->inflight[u->n_inflight++] = seq; /* planned in order: stays sorted */
}

/* Where seq is or would go in the window. */
static size_t inflight_pos(const struct uplink *u, uint64_t seq)
{
    size_t lo = 0, hi = u->n_inflight;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (u->inflight[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int inflight_has(const struct uplink *u, uint64_t seq)
{
    size_t i = inflight_pos(u, seq);
    return i < u->n_inflight && u->inflight[i] == seq;
}

/* Settles seq (1), or 0 if it was not in flight (an answer from before a
 * reconnect). */
static int inflight_settle(struct uplink *u, uint64_t seq)
{
    if (!inflight_has(u, seq))
        return 0;
    size_t lo = inflight_pos(u, seq);
    memmove(u->inflight + lo, u->inflight + lo + 1, (u->n_inflight - lo - 1) * sizeof *u->inflight);
    u->n_inflight--;
    return 1;
}

/* Everything unsettled is planned again from the floor. */
static void rewind_forwards(struct uplink *u)
{
    u->next = floor_of(u) + 1;
    u->n_inflight = 0;
}

static void connect_up(broker_t *b, size_t i)
{
    struct uplink *u = &b->uplinks->v[i];
    char err[200];
    u->link = link_start(&u->cc, "liaison-broker uplink " BROKER_VERSION, 0, err, sizeof err);
    u->state = u->link ? UP_CONNECTING : UP_RETRYING;
    if (u->link == NULL) {
        snprintf(u->why, sizeof u->why, "%s", err);
        u->retry_at_ms = util_mono_ms() + RETRY_MAX_MS;
        log_error("event=uplink_failed link=%s reason=%s", log_q(conf_of(b, i)->as.name),
                  log_q(err));
    }
}

/* The link dropped or was refused: retried with backoff, forwards planned
 * again from the cursor on return. */
static void link_down(broker_t *b, size_t i, const char *why, int refused)
{
    struct uplink *u = &b->uplinks->v[i];
    const char *name = conf_of(b, i)->as.name;
    if (u->state == UP_UP)
        u->losses++;
    if (refused && !u->refused)
        log_error("event=uplink_refused link=%s reason=%s action=\"retrying with backoff; "
                  "check this broker's key and agent on the upstream\"",
                  log_q(name), log_q(why));
    else if (!refused && (u->state == UP_UP || strcmp(u->why, why) != 0))
        log_warn("event=uplink_lost link=%s reason=%s action=\"retrying with backoff\"",
                 log_q(name), log_q(why));
    snprintf(u->why, sizeof u->why, "%s", why);
    u->refused = refused;
    wire_gather_reset(&u->out);
    link_close(&u->link);
    u->state = UP_RETRYING;
    u->subscribed = 0;
    u->backoff_ms = u->backoff_ms ? u->backoff_ms * 2 : RETRY_MIN_MS;
    if (u->backoff_ms > RETRY_MAX_MS)
        u->backoff_ms = RETRY_MAX_MS;
    /* Jitter, so brokers cut off together do not return together. */
    int64_t jitter = (int64_t)randombytes_uniform((uint32_t)(u->backoff_ms / 4 + 1));
    u->retry_at_ms = util_mono_ms() + u->backoff_ms + jitter;
    rewind_forwards(u);
}

/* Up: the receive subscriptions (durable, taken over from an old
 * connection of ours that the upstream has not reaped yet). */
static void link_up(broker_t *b, size_t i)
{
    struct uplink *u = &b->uplinks->v[i];
    const config_uplink_t *c = conf_of(b, i);
    u->state = UP_UP;
    u->progress_ms = util_mono_ms();
    u->refused = 0;
    u->backoff_ms = 0;
    u->why[0] = '\0';
    u->connects++;
    u->up_since_us = util_now_us();
    log_info("event=uplink_up link=%s broker=%s forward_from=%llu", log_q(c->as.name),
             log_q(c->broker), (unsigned long long)u->next);
    for (size_t k = 0; k < c->n_receive; k++) {
        Liaison__Envelope env;
        Liaison__Subscribe req = LIAISON__SUBSCRIBE__INIT;
        char durable[160];
        snprintf(durable, sizeof durable, "%s-%zu", c->durable, k);
        wire_envelope_init(&env, link_next_corr(u->link));
        req.sub_id = (uint32_t)k + 1;
        req.pattern = c->receive[k];
        req.durable = durable;
        req.credit = c->window;
        req.take_over = 1;
        env.kind_case = LIAISON__ENVELOPE__KIND_SUBSCRIBE;
        env.subscribe = &req;
        if (link_try_send(u->link, &env) != 0) {
            link_down(b, i, "cannot send the receive subscription", 0);
            return;
        }
    }
}

static void settle(broker_t *b, size_t i, uint64_t seq, const char *refused)
{
    struct uplink *u = &b->uplinks->v[i];
    if (!inflight_settle(u, seq))
        return;
    u->settled++;
    u->last_settled = seq;
    u->progress_ms = util_mono_ms();
    if (refused == NULL)
        return;
    if (strcmp(refused, "LOOP") == 0) {
        /* It came from there (or through it): dropped above, as it should
         * be. Counted, and recorded aggregated, but not an alarm. */
        u->loops++;
        log_debug("event=forward_loop link=%s seq=%llu", log_q(conf_of(b, i)->as.name),
                  (unsigned long long)seq);
    } else {
        u->refusals++;
        log_warn("event=forward_refused link=%s seq=%llu code=%s", log_q(conf_of(b, i)->as.name),
                 (unsigned long long)seq, refused);
    }
    struct audit_event ev = {.actor = "broker",
                             .action = "bridge",
                             .recipient = u->actor,
                             .outcome = "refused",
                             .reason = refused,
                             .msg_seq = seq};
    audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
}

/* Refusals the upstream would give again however often it is asked. */
static int terminal(Liaison__ErrorCode c)
{
    switch (c) {
    case LIAISON__ERROR_CODE__STORE_FULL:
    case LIAISON__ERROR_CODE__STORE_FAILED:
    case LIAISON__ERROR_CODE__INTERNAL:
    case LIAISON__ERROR_CODE__RATE_LIMITED:
    case LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED:
    case LIAISON__ERROR_CODE__NOT_WELCOMED:
    case LIAISON__ERROR_CODE__TOO_MANY_SESSIONS:
        return 0;
    default:
        return 1;
    }
}

static void on_frame(broker_t *b, size_t i, Liaison__Envelope *env)
{
    struct uplink *u = &b->uplinks->v[i];
    const config_uplink_t *c = conf_of(b, i);
    switch (env->kind_case) {
    case LIAISON__ENVELOPE__KIND_PUB_ACK:
        settle(b, i, env->corr_id, NULL);
        break;
    case LIAISON__ENVELOPE__KIND_SUB_ACK:
        u->subscribed++;
        break;
    case LIAISON__ENVELOPE__KIND_DELIVER: {
        Liaison__Deliver *d = env->deliver;
        if (d->intel == NULL || d->notice)
            break; /* the upstream never sends a link a notice; nothing to store */
        Liaison__Intel *m = d->intel;
        d->intel = NULL; /* ingest owns it from here */
        if (m->origin == NULL)
            m->origin = wire_intel_new_origin(NULL);
        u->received++;
        ingest_from_uplink(b, (int)i, u->actor, d->sub_id, m->seq, m);
        break;
    }
    case LIAISON__ENVELOPE__KIND_ERROR: {
        const Liaison__Error *e = env->error;
        char why[200];
        snprintf(why, sizeof why, "the upstream answered %s: %.120s", wire_error_name(e->code),
                 e->message ? e->message : "");
        if (env->corr_id && inflight_has(u, env->corr_id)) {
            if (terminal(e->code))
                settle(b, i, env->corr_id, wire_error_name(e->code));
            else
                link_down(b, i, why, 0);
        } else if (e->code == LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED ||
                   e->code == LIAISON__ERROR_CODE__TAKEN_OVER) {
            link_down(b, i, why, e->code == LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED);
        } else {
            /* A receive subscription refused, say: the link stays up for
             * what it can do, and says so loudly. */
            snprintf(u->why, sizeof u->why, "%s", why);
            log_error("event=uplink_request_refused link=%s reason=%s", log_q(c->as.name),
                      log_q(why));
        }
        break;
    }
    default:
        break; /* Welcome, Heartbeat: the link's own */
    }
}

void uplinks_start(broker_t *b)
{
    struct uplinks *x = xcalloc(1, sizeof *x);
    b->uplinks = x;
    x->n = b->cfg->n_uplinks;
    x->v = xcalloc(x->n ? x->n : 1, sizeof *x->v);
    for (size_t i = 0; i < x->n; i++) {
        struct uplink *u = &x->v[i];
        const config_uplink_t *c = conf_of(b, i);
        u->cc.name = xstrdup(b->cfg->name);
        u->cc.broker = xstrdup(c->broker);
        memcpy(u->cc.broker_public_key, c->as.public_key, 32);
        memcpy(u->cc.secret_key, b->cfg->secret_key, 32);
        memcpy(u->cc.public_key, b->cfg->public_key, 32);
        u->cc.heartbeat_ms = b->cfg->heartbeat_ms;
        snprintf(u->actor, sizeof u->actor, "uplink:%s", c->as.name);
        snprintf(u->cursor, sizeof u->cursor, "~uplink/%s", c->as.name);
        uint64_t floor;
        char pattern[8];
        int rc = store_cursor_get(b->store, u->cursor, &floor, pattern, sizeof pattern, NULL);
        if (rc != STORE_OK) {
            /* A new uplink forwards what is stored from now: the cursor
             * starts at the tail, on disk with the first batch. */
            floor = store_last_seq(b->store);
            store_wset_cursor(b->open->w, u->cursor, floor, "", NULL);
        }
        u->next = floor + 1;
        u->floor_written = floor;
        connect_up(b, i);
    }
}

void uplinks_stop(broker_t *b)
{
    struct uplinks *x = b->uplinks;
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->n; i++) {
        link_close(&x->v[i].link);
        free(x->v[i].cc.name);
        free(x->v[i].cc.broker);
        memset(x->v[i].cc.secret_key, 0, 32);
        free(x->v[i].inflight);
        wire_gather_free(&x->v[i].out);
    }
    free(x->v);
    free(x);
    b->uplinks = NULL;
}

size_t uplinks_poll_items(broker_t *b, void *items, size_t max)
{
    zmq_pollitem_t *it = items;
    size_t n = 0;
    for (size_t i = 0; b->uplinks && i < b->uplinks->n && n + 2 <= max; i++) {
        struct uplink *u = &b->uplinks->v[i];
        if (u->link == NULL)
            continue;
        it[n++] = (zmq_pollitem_t){link_socket(u->link), 0, ZMQ_POLLIN, 0};
        it[n++] = (zmq_pollitem_t){link_monitor_socket(u->link), 0, ZMQ_POLLIN, 0};
    }
    return n;
}

void uplinks_dispatch(broker_t *b, int64_t now_ms)
{
    for (size_t i = 0; b->uplinks && i < b->uplinks->n; i++) {
        struct uplink *u = &b->uplinks->v[i];
        if (u->link == NULL) {
            if (u->state == UP_RETRYING && now_ms >= u->retry_at_ms)
                connect_up(b, i);
            continue;
        }
        Liaison__Envelope *env;
        /* Bounded, like the ROUTER's dispatch: one busy link cannot
         * starve the rest of the loop. */
        for (int k = 0; k < 4096 && u->link && (env = link_on_readable(u->link, now_ms)); k++) {
            on_frame(b, i, env);
            wire_envelope_free(&env);
        }
        if (u->link == NULL)
            continue;
        enum link_state st = link_state(u->link);
        if (st == LINK_UP && u->state == UP_CONNECTING)
            link_up(b, i);
        else if (st == LINK_REFUSED || st == LINK_LOST)
            link_down(b, i, link_why(u->link), st == LINK_REFUSED);
    }
}

/* One message considered for forwarding: 1 if it was planned. */
static int plan_one(broker_t *b, size_t i, uint64_t seq, const void *data, size_t len,
                    int64_t now_us)
{
    struct uplink *u = &b->uplinks->v[i];
    Liaison__Intel *m = wire_intel_decode(data, len);
    if (m == NULL)
        return 0;
    /* The uplink is the receiver: its clearance and caveats, its forward
     * patterns, no_onward_sharing and release_to kept home. Embargoed
     * messages go up now: the label travels, and the broker above holds
     * them back from its own receivers until they are due. */
    struct policy_verdict v = policy_receive(b->cfg, &conf_of(b, i)->as, ">", m, now_us);
    if (v.action != POLICY_DELIVER && v.action != POLICY_DEFER) {
        wire_intel_free(&m);
        return 0;
    }
    uint8_t digest[32];
    audit_digest(data, len, digest);
    struct audit_event ev = {.actor = "broker",
                             .action = "bridge",
                             .recipient = u->actor,
                             .outcome = "ok",
                             .topic = m->topic,
                             .msg_seq = seq,
                             .digest = digest};
    /* The record first: a frame joins the batch only with its record. */
    if (audit_append(b->audit, b->open, &ev) != STORE_OK) {
        wire_intel_free(&m);
        return -1;
    }
    route_stamp(m, b->cfg->name, store_epoch(b->store));
    Liaison__Envelope env;
    Liaison__Publish p = LIAISON__PUBLISH__INIT;
    wire_envelope_init(&env, seq); /* the answer names the local sequence */
    p.intel = m;
    env.kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
    env.publish = &p;
    size_t n = wire_envelope_size(&env);
    wire_envelope_pack(
        &env, batch_add_frame(b->open, BATCH_UPLINK, NULL, 0, seq, (uint32_t)i, seq, 0, n));
    wire_intel_free(&m);
    inflight_add(u, seq);
    u->forwarded++;
    u->last_forwarded = seq;
    return 1;
}

void uplinks_plan(broker_t *b, int64_t now_ms)
{
    int64_t now_us = util_now_us();
    for (size_t i = 0; b->uplinks && i < b->uplinks->n && b->rd; i++) {
        struct uplink *u = &b->uplinks->v[i];
        const config_uplink_t *c = conf_of(b, i);
        /* A forward that could not be sent (the link's queue was full),
         * or an upstream that has settled nothing for an ack timeout:
         * everything unsettled goes again (the upstream drops repeats). */
        if (u->resend || (u->n_inflight && now_ms - u->progress_ms > b->cfg->ack_timeout_ms)) {
            rewind_forwards(u);
            u->resend = 0;
            u->progress_ms = now_ms;
        }
        if (u->state == UP_UP && c->as.n_subscribe) {
            uint64_t seq;
            const void *data;
            size_t len;
            for (int k = 0; k < PLAN_BUDGET && u->n_inflight < c->window &&
                            store_read_next(b->rd, u->next, &seq, &data, &len) == STORE_OK;
                 k++) {
                if (plan_one(b, i, seq, data, len, now_us) < 0)
                    break;
                u->next = seq + 1;
            }
        }
        uint64_t floor = floor_of(u);
        if (floor != u->floor_written &&
            (u->n_inflight == 0 || now_ms - u->floor_written_ms >= CURSOR_IDLE_MS)) {
            store_wset_cursor(b->open->w, u->cursor, floor, "", NULL);
            u->floor_written = floor;
            u->floor_written_ms = now_ms;
        }
    }
}

int uplinks_timeout_ms(broker_t *b, int64_t now_ms)
{
    int t = 1000;
    for (size_t i = 0; b->uplinks && i < b->uplinks->n; i++) {
        struct uplink *u = &b->uplinks->v[i];
        int w = u->link ? link_next_timeout_ms(u->link, now_ms)
                        : (int)(u->retry_at_ms > now_ms ? u->retry_at_ms - now_ms : 0);
        if (w < t)
            t = w;
    }
    return t < 0 ? 0 : t;
}

void uplink_ack_later(broker_t *b, int uplink, uint32_t sub, uint64_t seq)
{
    Liaison__Envelope env;
    Liaison__Ack ack = LIAISON__ACK__INIT;
    wire_envelope_init(&env, 0);
    ack.sub_id = sub;
    ack.n_seqs = 1;
    ack.seqs = &seq;
    env.kind_case = LIAISON__ENVELOPE__KIND_ACK;
    env.ack = &ack;
    size_t n = wire_envelope_size(&env);
    wire_envelope_pack(
        &env, batch_add_frame(b->open, BATCH_UPLINK, NULL, 0, 0, (uint32_t)uplink, seq, 0, n));
}

/* Down or full: a forward is planned again from the cursor, an ack's
 * delivery comes again from the upstream. */
static void up_failed(broker_t *b, size_t i)
{
    if (errno == EAGAIN)
        b->uplinks->v[i].resend = 1;
    else
        link_down(b, i, "cannot send to the upstream", 0);
}

static void send_up(broker_t *b, size_t i, const void *data, size_t len)
{
    if (zmq_send(link_socket(b->uplinks->v[i].link), data, len, ZMQ_DONTWAIT) < 0)
        up_failed(b, i);
}

/* An upstream that reads batches gets a release's frames as one Batch, cut
 * at this size. */
#define UP_GATHER_MAX (256u << 10)

static void flush_up(broker_t *b, size_t i)
{
    struct uplink *u = &b->uplinks->v[i];
    if (u->out.frames && u->link && u->state == UP_UP &&
        link_send_taken(link_socket(u->link), &u->out, ZMQ_DONTWAIT) < 0)
        up_failed(b, i);
    wire_gather_reset(&u->out);
}

void uplink_send(broker_t *b, int uplink, const void *data, size_t len)
{
    if (b->uplinks == NULL || (size_t)uplink >= b->uplinks->n)
        return;
    struct uplink *u = &b->uplinks->v[uplink];
    if (u->link == NULL || u->state != UP_UP)
        return;
    if (!link_broker_batches(u->link)) {
        send_up(b, (size_t)uplink, data, len);
        return;
    }
    if (u->out.frames && wire_gather_would_be(&u->out, len) > UP_GATHER_MAX)
        flush_up(b, (size_t)uplink);
    wire_gather_add(&u->out, data, len);
}

void uplinks_flush(broker_t *b)
{
    for (size_t i = 0; b->uplinks && i < b->uplinks->n; i++)
        flush_up(b, i);
}

void uplinks_rollback(broker_t *b)
{
    for (size_t i = 0; b->uplinks && i < b->uplinks->n; i++) {
        struct uplink *u = &b->uplinks->v[i];
        rewind_forwards(u);
        u->floor_written = UINT64_MAX; /* the cursor write was lost with the batch */
    }
}

static const char *state_name(const struct uplink *u)
{
    if (u->state == UP_UP)
        return "connected";
    if (u->state == UP_CONNECTING)
        return "connecting";
    return u->refused ? "refused" : "retrying";
}

size_t uplinks_count(const broker_t *b)
{
    return b->uplinks ? b->uplinks->n : 0;
}

void uplink_info(const broker_t *b, size_t i, struct uplink_info *out)
{
    const struct uplink *u = &b->uplinks->v[i];
    const config_uplink_t *c = conf_of(b, i);
    uint64_t last = store_last_seq(b->store), floor = floor_of(u);
    out->name = c->as.name;
    out->broker = c->broker;
    out->state = state_name(u);
    out->why = u->why;
    out->up = u->state == UP_UP;
    out->floor = floor;
    out->lag = last > floor ? last - floor : 0;
    out->in_flight = u->n_inflight;
    out->forwarded = u->forwarded;
    out->refused = u->refusals;
    out->loops = u->loops;
    out->received = u->received;
    out->connects = u->connects;
    out->losses = u->losses;
}

json_doc_t *uplinks_doc(broker_t *b)
{
    json_doc_t *root = json_doc_object(), *ups = json_doc_array(), *downs = json_doc_array();
    for (size_t i = 0; i < uplinks_count(b); i++) {
        struct uplink_info u;
        uplink_info(b, i, &u);
        json_doc_t *o = json_doc_object();
        json_doc_set_str(o, "name", u.name);
        json_doc_set_str(o, "broker", u.broker);
        json_doc_set_str(o, "state", u.state);
        json_doc_set_str(o, "why", u.why);
        json_doc_set_int(o, "forward_floor", (int64_t)u.floor);
        json_doc_set_int(o, "forward_lag", (int64_t)u.lag);
        json_doc_set_int(o, "in_flight", (int64_t)u.in_flight);
        json_doc_set_int(o, "forwarded", (int64_t)u.forwarded);
        json_doc_set_int(o, "last_forwarded_seq", (int64_t)b->uplinks->v[i].last_forwarded);
        json_doc_set_int(o, "refused", (int64_t)u.refused);
        json_doc_set_int(o, "loops", (int64_t)u.loops);
        json_doc_set_int(o, "received", (int64_t)u.received);
        json_doc_set_int(o, "receive_subscriptions", (int64_t)b->uplinks->v[i].subscribed);
        json_doc_set_int(o, "connects", (int64_t)u.connects);
        json_doc_set_int(o, "losses", (int64_t)u.losses);
        json_doc_push(ups, o);
    }
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        const session_t *s = sessions_at(b->sessions, i);
        if (s->dead || s->conf == NULL || strcmp(s->conf->type, "broker") != 0)
            continue;
        json_doc_t *o = json_doc_object();
        json_doc_set_str(o, "agent", s->agent);
        json_doc_set_str(o, "agency", s->conf->agency);
        json_doc_set_int(o, "received", (int64_t)s->published);
        json_doc_set_int(o, "refused", (int64_t)s->publish_refused);
        json_doc_set_int(o, "delivered", (int64_t)s->delivered);
        json_doc_set_int(o, "subscriptions", (int64_t)s->n_subs);
        json_doc_push(downs, o);
    }
    json_doc_set(root, "uplinks", ups);
    json_doc_set(root, "downlinks", downs);
    json_doc_set_int(root, "loops_dropped", (int64_t)b->stats.loops);
    json_doc_set_int(root, "route_duplicates", (int64_t)b->stats.route_duplicates);
    return root;
}

char *uplinks_view_json(broker_t *b)
{
    json_doc_t *root = uplinks_doc(b);
    char *out = json_doc_dump(root);
    json_doc_free(&root);
    return out;
}
