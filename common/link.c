/* link.c — a client's CURVE connection to the broker. The handshake outcome
 * is watched with a socket monitor, so a refused key is reported as such
 * instead of as silence.
 * Not responsible for retry or persistence policy (the agent's outbox). */
#include "link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "util.h"

struct link {
    void *ctx;
    void *sock;
    void *monitor;
    uint64_t corr;
    char agent[128];
    uint64_t last_seq;
    uint32_t heartbeat_ms;
    uint32_t max_frame;
    int64_t last_send_ms;
    int lost;         /* the connection dropped or closed: this link is finished */
    int auth_status;  /* ZAP status of a refused handshake, else 0 */
    int proto_failed; /* the CURVE handshake failed (wrong broker key?) */
};

int link_lost(const link_t *l)
{
    return l->lost;
}

void *link_socket(link_t *l)
{
    return l->sock;
}

const char *link_agent(const link_t *l)
{
    return l->agent;
}

uint64_t link_welcome_last_seq(const link_t *l)
{
    return l->last_seq;
}

uint32_t link_max_frame(const link_t *l)
{
    return l->max_frame;
}

uint32_t link_heartbeat_ms(const link_t *l)
{
    return l->heartbeat_ms;
}

uint64_t link_next_corr(link_t *l)
{
    return ++l->corr;
}

static void drain_monitor(link_t *l);

int link_send(link_t *l, Liaison__Envelope *env)
{
    drain_monitor(l);
    if (l->lost)
        return -1;
    env->version = WIRE_VERSION;
    size_t n = wire_envelope_size(env);
    uint8_t stackbuf[4096];
    uint8_t *buf = n <= sizeof stackbuf ? stackbuf : xmalloc(n);
    wire_envelope_pack(env, buf);
    int rc = zmq_send(l->sock, buf, n, 0) < 0 ? -1 : 0;
    if (rc != 0) {
        log_error("event=send_failed error=\"%s\"", zmq_strerror(errno));
        l->lost = 1;
    }
    if (buf != stackbuf)
        free(buf);
    l->last_send_ms = util_mono_ms();
    return rc;
}

static void send_heartbeat(link_t *l)
{
    Liaison__Envelope env;
    Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
    wire_envelope_init(&env, 0);
    hb.time_us = util_now_us();
    env.kind_case = LIAISON__ENVELOPE__KIND_HEARTBEAT;
    env.heartbeat = &hb;
    link_send(l, &env);
}

/* Reads one monitor event; returns its id, or 0 if none was waiting. */
static int monitor_event(link_t *l, int *value)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, l->monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return 0;
    }
    int ev = 0;
    if (zmq_msg_size(&m) >= 6) {
        const uint8_t *d = zmq_msg_data(&m);
        uint16_t id;
        int32_t v;
        memcpy(&id, d, 2);
        memcpy(&v, d + 2, 4);
        ev = id;
        *value = v;
    }
    while (zmq_msg_more(&m) && zmq_msg_recv(&m, l->monitor, 0) >= 0)
        ; /* the address frame */
    zmq_msg_close(&m);
    return ev;
}

/* Reads every waiting monitor event into the link's flags. */
static void drain_monitor(link_t *l)
{
    int value = 0, ev;
    while ((ev = monitor_event(l, &value)) != 0) {
        if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            l->auth_status = value ? value : 400;
        else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                 ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            l->proto_failed = 1;
        else if (ev == ZMQ_EVENT_DISCONNECTED || ev == ZMQ_EVENT_CLOSED)
            l->lost = 1;
    }
}

Liaison__Envelope *link_recv(link_t *l, int timeout_ms, int *timed_out)
{
    *timed_out = 0;
    int64_t deadline = timeout_ms < 0 ? -1 : util_mono_ms() + timeout_ms;
    for (;;) {
        int64_t now = util_mono_ms();
        if (now - l->last_send_ms >= l->heartbeat_ms)
            send_heartbeat(l);
        long wait = l->heartbeat_ms - (now - l->last_send_ms);
        if (deadline >= 0 && deadline - now < wait)
            wait = (long)(deadline - now);
        if (wait < 0)
            wait = 0;
        zmq_pollitem_t it[2] = {{l->sock, 0, ZMQ_POLLIN, 0}, {l->monitor, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(it, 2, wait) < 0 && errno != EINTR)
            return NULL;
        if (it[1].revents & ZMQ_POLLIN)
            drain_monitor(l);
        if (!(it[0].revents & ZMQ_POLLIN) && l->lost) {
            *timed_out = 1; /* nothing will ever come on a dropped connection */
            return NULL;
        }
        if (it[0].revents & ZMQ_POLLIN) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, l->sock, 0) < 0) {
                zmq_msg_close(&m);
                return NULL;
            }
            Liaison__ErrorCode code;
            Liaison__Envelope *env =
                wire_envelope_decode(zmq_msg_data(&m), zmq_msg_size(&m), 1u << 30, &code, NULL);
            zmq_msg_close(&m);
            if (env == NULL)
                log_warn("event=bad_frame_from_broker code=%s", wire_error_name(code));
            return env;
        }
        if (deadline >= 0 && util_mono_ms() >= deadline) {
            *timed_out = 1;
            return NULL;
        }
    }
}

Liaison__Envelope *link_call(link_t *l, Liaison__Envelope *env, int timeout_ms, char *err,
                             size_t errlen)
{
    env->corr_id = link_next_corr(l);
    if (link_send(l, env) != 0) {
        snprintf(err, errlen, "cannot send the request to the broker");
        return NULL;
    }
    int64_t deadline = util_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - util_mono_ms();
        int timed_out;
        Liaison__Envelope *r = link_recv(l, left > 0 ? (int)left : 0, &timed_out);
        if (r && r->corr_id == env->corr_id)
            return r;
        wire_envelope_free(&r);
        if (link_lost(l)) {
            snprintf(err, errlen, "the connection to the broker was lost");
            return NULL;
        }
        if (timed_out || left <= 0) {
            snprintf(err, errlen, "no answer from the broker within %d ms", timeout_ms);
            return NULL;
        }
    }
}

link_t *link_open(const client_config_t *cfg, const char *client_name, int timeout_ms, char *err,
                  size_t errlen)
{
    return link_open_as(cfg, client_name, 0, timeout_ms, err, errlen);
}

link_t *link_open_as(const client_config_t *cfg, const char *client_name, unsigned flags,
                     int timeout_ms, char *err, size_t errlen)
{
    link_t *l = xcalloc(1, sizeof *l);
    char endpoint[64];
    int linger = 1000;
    l->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 5000;
    l->ctx = zmq_ctx_new();
    l->sock = zmq_socket(l->ctx, ZMQ_DEALER);
    if (l->sock == NULL)
        goto fail_errno;
    if (zmq_setsockopt(l->sock, ZMQ_CURVE_SERVERKEY, cfg->broker_public_key, 32) != 0 ||
        zmq_setsockopt(l->sock, ZMQ_CURVE_PUBLICKEY, cfg->public_key, 32) != 0 ||
        zmq_setsockopt(l->sock, ZMQ_CURVE_SECRETKEY, cfg->secret_key, 32) != 0 ||
        zmq_setsockopt(l->sock, ZMQ_LINGER, &linger, sizeof linger) != 0)
        goto fail_errno;
    snprintf(endpoint, sizeof endpoint, "inproc://link-monitor-%p", (void *)l);
    /* No automatic reconnection: a new connection is a new session on the
     * broker and must begin with Hello, so a dropped link is finished and
     * the caller opens another (the agent with backoff). Otherwise ZeroMQ
     * would silently carry queued requests to a restarted broker. */
    int no_reconnect = -1, send_timeout = 5000;
    if (zmq_setsockopt(l->sock, ZMQ_RECONNECT_IVL, &no_reconnect, sizeof no_reconnect) != 0)
        goto fail_errno;
    /* Without a peer a DEALER send would block for ever; a send that cannot
     * go within this time fails, and the caller sees a lost link. */
    if (zmq_setsockopt(l->sock, ZMQ_SNDTIMEO, &send_timeout, sizeof send_timeout) != 0)
        goto fail_errno;
    if (zmq_socket_monitor(l->sock, endpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_CLOSED) != 0)
        goto fail_errno;
    l->monitor = zmq_socket(l->ctx, ZMQ_PAIR);
    int zero = 0; /* nothing of the monitor's may hold up zmq_ctx_term */
    if (l->monitor == NULL || zmq_setsockopt(l->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(l->monitor, endpoint) != 0)
        goto fail_errno;
    if (zmq_connect(l->sock, cfg->broker) != 0)
        goto fail_errno;

    Liaison__Envelope env;
    Liaison__Hello hello = LIAISON__HELLO__INIT;
    wire_envelope_init(&env, link_next_corr(l));
    hello.client = (char *)(uintptr_t)client_name;
    hello.hit_notices = (flags & LINK_HIT_NOTICES) != 0;
    env.kind_case = LIAISON__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    /* ZeroMQ queues the Hello until the handshake completes. */
    if (link_send(l, &env) != 0)
        goto fail_errno;
    int64_t deadline = util_mono_ms() + timeout_ms;
    while (util_mono_ms() < deadline) {
        drain_monitor(l);
        if (l->auth_status) {
            snprintf(err, errlen,
                     "the broker at %s refused this key (ZAP status %d): is this agent "
                     "configured on the broker, and not revoked?",
                     cfg->broker, l->auth_status);
            goto fail;
        }
        if (l->proto_failed) {
            snprintf(err, errlen, "CURVE handshake with %s failed: check broker_public_key",
                     cfg->broker);
            goto fail;
        }
        if (l->lost) {
            snprintf(err, errlen, "the broker at %s is not reachable (not running?)", cfg->broker);
            goto fail;
        }
        int to;
        long left = (long)(deadline - util_mono_ms());
        Liaison__Envelope *r = link_recv(l, left < 100 ? (int)(left > 0 ? left : 0) : 100, &to);
        if (r == NULL)
            continue;
        if (r->kind_case == LIAISON__ENVELOPE__KIND_WELCOME) {
            snprintf(l->agent, sizeof l->agent, "%s", r->welcome->agent);
            l->last_seq = r->welcome->last_seq;
            if (r->welcome->heartbeat_ms)
                l->heartbeat_ms = r->welcome->heartbeat_ms;
            l->max_frame = r->welcome->max_frame_bytes;
            wire_envelope_free(&r);
            return l;
        }
        if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
            snprintf(err, errlen, "the broker refused Hello: %s: %s",
                     wire_error_name(r->error->code), r->error->message);
            wire_envelope_free(&r);
            goto fail;
        }
        wire_envelope_free(&r);
    }
    snprintf(err, errlen,
             "no answer from the broker at %s within %d ms (is it running? is "
             "broker_public_key right?)",
             cfg->broker, timeout_ms);
    goto fail;
fail_errno:
    snprintf(err, errlen, "cannot connect to %s: %s", cfg->broker, zmq_strerror(errno));
fail:
    link_close(&l);
    return NULL;
}

void link_close(link_t **lp)
{
    if (lp == NULL || *lp == NULL)
        return;
    link_t *l = *lp;
    if (l->sock && !l->lost) {
        /* Bye: the broker drops the session now rather than after three
         * silent heartbeats (an old broker answers UNKNOWN_KIND, unread). */
        Liaison__Envelope env;
        Liaison__Bye bye = LIAISON__BYE__INIT;
        wire_envelope_init(&env, 0);
        env.kind_case = LIAISON__ENVELOPE__KIND_BYE;
        env.bye = &bye;
        size_t n = wire_envelope_size(&env);
        uint8_t buf[32];
        if (n <= sizeof buf) {
            wire_envelope_pack(&env, buf);
            zmq_send(l->sock, buf, n, ZMQ_DONTWAIT);
        }
    }
    if (l->sock) {
        zmq_socket_monitor(l->sock, NULL, 0);
        zmq_close(l->sock);
    }
    if (l->monitor)
        zmq_close(l->monitor);
    if (l->ctx)
        zmq_ctx_term(l->ctx);
    free(l);
    *lp = NULL;
}
