/* link.c — a client's CURVE connection to a broker as a state machine that
 * never blocks, and the short blocking waits the command-line tools use,
 * written on top of it. The handshake's outcome is watched with a socket
 * monitor, so a refused key is reported as such instead of as silence.
 * Every state change goes through finish(), which keeps the first reason.
 * Not responsible for retry or persistence policy (the agent's outbox), or
 * for answering anything but Welcome and the heartbeat. */
#include "link.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "arena.h"
#include "log.h"
#include "util.h"

/* link_open's send timeout: a tool's link_send may wait this long for room
 * before the link counts as lost. */
#define OPEN_SEND_TIMEOUT_MS 5000
/* How long an UP link lingers on close so its last frames reach the broker. */
#define CLOSE_LINGER_MS 1000

struct link {
    void *ctx;
    void *sock;
    void *monitor;
    char *broker; /* the endpoint, for the reasons */
    enum link_state state;
    char why[512];
    uint64_t corr;
    char agent[128];
    uint64_t last_seq;
    uint32_t heartbeat_ms;
    uint32_t max_frame;
    int64_t started_ms;
    int64_t connect_timeout_ms;
    int64_t last_send_ms;
    int64_t last_rx_ms;
    int broker_batches; /* its Welcome said it reads Batch frames */
    /* The frames of a Batch not yet handed out, where they lie in what
     * brought them (held until the last is handed out), each decoded as
     * the caller takes it. */
    zmq_msg_t held;
    int holding;
    Liaison__Envelope *held_whole; /* a Batch in another form, decoded whole */
    struct wire_span *spans;       /* WIRE_BATCH_MAX_FRAMES of them */
    size_t n_spans, next_span;     /* of spans, or of held_whole's frames */
    arena_t *arena;                /* link_decode_into's: where handed-out frames are decoded */
    /* Frames gathered to go as one Batch (link_gather). */
    int gathering;
    struct wire_gather out;
};

/* ---- state ---------------------------------------------------------------------- */

/* Leaves CONNECTING or UP for a final state with its reason. Only the first
 * verdict counts: a refused handshake is followed by a disconnect, and the
 * refusal is what the operator must hear. */
static void finish(link_t *l, enum link_state to, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(link_t *l, enum link_state to, const char *fmt, ...)
{
    if (l->state != LINK_CONNECTING && l->state != LINK_UP)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->why, sizeof l->why, fmt, ap);
    va_end(ap);
    l->state = to;
}

enum link_state link_state(const link_t *l)
{
    return l->state;
}

const char *link_why(const link_t *l)
{
    return l->why;
}

int link_lost(const link_t *l)
{
    return l->state == LINK_REFUSED || l->state == LINK_LOST;
}

void *link_socket(link_t *l)
{
    return l->sock;
}

void *link_monitor_socket(link_t *l)
{
    return l->monitor;
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

void link_set_connect_timeout(link_t *l, int timeout_ms)
{
    l->connect_timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

/* ---- sending -------------------------------------------------------------------- */

/* A gathered Batch is cut at this size, far below any broker's
 * max_frame_bytes. */
#define LINK_GATHER_BYTES (256u << 10)

static void free_taken(void *data, void *buf)
{
    (void)data;
    free(buf);
}

int link_send_taken(void *sock, struct wire_gather *g, int zflags)
{
    size_t len;
    void *buf;
    const uint8_t *frame = wire_gather_take(g, &len, &buf);
    if (frame == NULL)
        return 0;
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, (uint8_t *)buf + (frame - (const uint8_t *)buf), len, free_taken,
                          buf) != 0) {
        free(buf);
        return -1;
    }
    if (zmq_msg_send(&m, sock, zflags) >= 0)
        return 0;
    int err = errno;
    zmq_msg_close(&m); /* not taken: frees the buffer */
    errno = err;
    return -1;
}

/* What a send's rc means: 0 sent; 1 when the queue had no room (EAGAIN: at
 * once with ZMQ_DONTWAIT, else after the socket's send timeout); -1 when
 * the socket failed, which loses the link. */
static int sent(link_t *l, int rc)
{
    if (rc >= 0) {
        l->last_send_ms = util_mono_ms();
        return 0;
    }
    if (errno == EAGAIN)
        return 1;
    const char *why = zmq_strerror(errno);
    log_error("event=send_failed error=%s", log_q(why));
    finish(l, LINK_LOST, "cannot send to the broker at %s: %s", l->broker, why);
    return -1;
}

/* Hands a packed frame to ZeroMQ with zflags: as sent() says. */
static int send_bytes(link_t *l, const void *buf, size_t n, int zflags)
{
    return sent(l, zmq_send(l->sock, buf, n, zflags));
}

/* Sends what is gathered as one frame (a lone frame as itself) and empties
 * it, sent or not: all or nothing. */
static int send_gathered(link_t *l, int zflags)
{
    return sent(l, link_send_taken(l->sock, &l->out, zflags));
}

static int gather(link_t *l, const uint8_t *frame, size_t n, int zflags)
{
    if (l->out.frames && wire_gather_would_be(&l->out, n) > LINK_GATHER_BYTES) {
        if (zflags & ZMQ_DONTWAIT)
            return 1; /* full: the caller flushes, then goes on */
        int rc = send_gathered(l, zflags);
        if (rc != 0)
            return rc;
    }
    wire_gather_add(&l->out, frame, n);
    return 0;
}

/* Packs env and sends it, or gathers it (link_gather): returns as
 * send_bytes does, and 1 also for a gathered Batch that is full. */
static int put(link_t *l, Liaison__Envelope *env, int zflags)
{
    env->version = WIRE_VERSION;
    size_t n = wire_envelope_size(env);
    uint8_t stackbuf[4096];
    uint8_t *buf = n <= sizeof stackbuf ? stackbuf : xmalloc(n);
    wire_envelope_pack(env, buf);
    int rc = l->gathering && l->broker_batches ? gather(l, buf, n, zflags)
                                               : send_bytes(l, buf, n, zflags);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

void link_gather(link_t *l)
{
    l->gathering = 1;
}

int link_flush(link_t *l, int block)
{
    l->gathering = 0;
    if (l->out.frames == 0)
        return 0;
    if (l->state != LINK_UP) {
        wire_gather_reset(&l->out);
        return -1;
    }
    int rc = send_gathered(l, block ? 0 : ZMQ_DONTWAIT);
    if (rc == 1 && block) {
        finish(l, LINK_LOST, "cannot send to the broker at %s: it is not reading (or gone)",
               l->broker);
        rc = -1;
    }
    return rc;
}

int link_try_send(link_t *l, Liaison__Envelope *env)
{
    if (l->state == LINK_CONNECTING)
        return 1;
    if (l->state != LINK_UP)
        return -1;
    return put(l, env, ZMQ_DONTWAIT);
}

static void send_heartbeat(link_t *l, int64_t now_ms)
{
    Liaison__Envelope env;
    Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
    wire_envelope_init(&env, 0);
    hb.time_us = util_now_us();
    env.kind_case = LIAISON__ENVELOPE__KIND_HEARTBEAT;
    env.heartbeat = &hb;
    /* Counted from now_ms even when the queue was full (that is not a
     * quiet link): the next try is an interval away, not at once, which
     * would spin the caller's loop. */
    if (put(l, &env, ZMQ_DONTWAIT) >= 0)
        l->last_send_ms = now_ms;
}

/* ---- the monitor and the timers ------------------------------------------------- */

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

static void read_monitor(link_t *l)
{
    int value = 0, ev;
    while ((ev = monitor_event(l, &value)) != 0) {
        if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            finish(l, LINK_REFUSED,
                   "the broker at %s refused this key (ZAP status %d): is this agent "
                   "configured on the broker, and not revoked?",
                   l->broker, value ? value : 400);
        else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                 ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            finish(l, LINK_REFUSED, "CURVE handshake with %s failed: check broker_public_key",
                   l->broker);
        else if ((ev == ZMQ_EVENT_DISCONNECTED || ev == ZMQ_EVENT_CLOSED) &&
                 l->state == LINK_CONNECTING)
            finish(l, LINK_LOST, "the broker at %s is not reachable (not running?)", l->broker);
        else if (ev == ZMQ_EVENT_DISCONNECTED || ev == ZMQ_EVENT_CLOSED)
            finish(l, LINK_LOST,
                   "the connection to the broker dropped (broker stopped or restarted)");
    }
}

/* 1 if frames wait unread: the broker has spoken even if nobody read it. */
static int input_waiting(link_t *l)
{
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(l->sock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}

enum link_state link_tick(link_t *l, int64_t now_ms)
{
    read_monitor(l);
    int64_t hb = l->heartbeat_ms;
    if (l->state == LINK_CONNECTING && now_ms - l->started_ms >= l->connect_timeout_ms) {
        finish(l, LINK_LOST,
               "no answer from the broker at %s within %lld ms (is it running? is "
               "broker_public_key right?)",
               l->broker, (long long)l->connect_timeout_ms);
    } else if (l->state == LINK_UP) {
        int64_t silent = now_ms - l->last_rx_ms;
        if (silent > hb * LINK_SILENT_BEATS && !input_waiting(l))
            finish(l, LINK_LOST, "nothing from the broker for %lld ms (down, or the network?)",
                   (long long)silent);
        else if (now_ms - l->last_send_ms >= hb)
            send_heartbeat(l, now_ms);
    }
    return l->state;
}

static int clamp_ms(int64_t ms)
{
    if (ms < 0)
        return 0;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

int link_next_timeout_ms(const link_t *l, int64_t now_ms)
{
    if (l->next_span < l->n_spans || l->held_whole)
        return 0; /* frames of a Batch are waiting, not on the socket */
    int64_t hb = l->heartbeat_ms;
    switch (l->state) {
    case LINK_CONNECTING:
        return clamp_ms(l->started_ms + l->connect_timeout_ms - now_ms);
    case LINK_UP: {
        int64_t beat = l->last_send_ms + hb - now_ms;
        int64_t silence = l->last_rx_ms + hb * LINK_SILENT_BEATS + 1 - now_ms;
        return clamp_ms(beat < silence ? beat : silence);
    }
    default:
        return -1;
    }
}

/* ---- receiving ------------------------------------------------------------------ */

/* What the link itself makes of a frame. Returns 1 when it consumed it
 * (Welcome, or a refusal of Hello), else 0: the frame is the caller's. */
static int take(link_t *l, const Liaison__Envelope *env, int64_t now_ms)
{
    const Liaison__Error *e = env->kind_case == LIAISON__ENVELOPE__KIND_ERROR ? env->error : NULL;
    if (l->state == LINK_CONNECTING && env->kind_case == LIAISON__ENVELOPE__KIND_WELCOME) {
        snprintf(l->agent, sizeof l->agent, "%s", env->welcome->agent);
        l->last_seq = env->welcome->last_seq;
        if (env->welcome->heartbeat_ms)
            l->heartbeat_ms = env->welcome->heartbeat_ms;
        l->max_frame = env->welcome->max_frame_bytes;
        l->broker_batches = env->welcome->batches;
        l->state = LINK_UP;
        l->last_rx_ms = now_ms;
        return 1;
    }
    if (l->state == LINK_CONNECTING && e != NULL) {
        finish(l, LINK_REFUSED, "the broker refused Hello: %s: %s", wire_error_name(e->code),
               e->message ? e->message : "");
        return 1;
    }
    if (l->state != LINK_UP || e == NULL)
        return 0;
    /* Errors about the session, not a request: whatever they answer, this
     * connection is good for nothing more. */
    if (e->code == LIAISON__ERROR_CODE__NOT_WELCOMED)
        finish(l, LINK_LOST, "the broker no longer knows this connection (it restarted?)");
    else if (e->code == LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED ||
             e->code == LIAISON__ERROR_CODE__BAD_VERSION)
        finish(l, LINK_REFUSED, "the broker refused this agent: %s: %s", wire_error_name(e->code),
               e->message ? e->message : "");
    return 0;
}

void link_decode_into(link_t *l, arena_t *arena)
{
    l->arena = arena;
}

static void drop(link_t *l, Liaison__Envelope **env)
{
    wire_envelope_free_in(env, l->arena);
}

/* One frame, decoded into arena (NULL: malloc'd); logged when it does not
 * decode, with where it was found. */
static Liaison__Envelope *decode(arena_t *arena, const void *data, size_t len, const char *in)
{
    Liaison__ErrorCode code;
    Liaison__Envelope *env = wire_envelope_decode_in(arena, data, len, 1u << 30, &code, NULL);
    if (env == NULL)
        log_warn("event=bad_frame_from_broker code=%s%s%s", wire_error_name(code), in ? " in=" : "",
                 in ? in : "");
    return env;
}

/* Lets go of what brought the Batch whose frames are all handed out. */
static void release_held(link_t *l)
{
    if (l->holding)
        zmq_msg_close(&l->held);
    l->holding = 0;
    wire_envelope_free(&l->held_whole);
    l->n_spans = l->next_span = 0;
}

/* The next frame of the Batch held, decoded; one that does not decode is
 * logged and skipped, as a frame alone would be, and so is a Batch inside.
 * NULL when none is left. */
static Liaison__Envelope *next_held(link_t *l)
{
    Liaison__Envelope *env = NULL;
    while (env == NULL && l->next_span < l->n_spans) {
        size_t i = l->next_span++;
        if (l->held_whole)
            env = decode(l->arena, l->held_whole->batch->frames[i].data,
                         l->held_whole->batch->frames[i].len, "batch");
        else
            env = decode(l->arena, l->spans[i].data, l->spans[i].len, "batch");
        if (env && env->kind_case == LIAISON__ENVELOPE__KIND_BATCH) {
            log_warn("event=bad_frame_from_broker code=%s in=batch",
                     wire_error_name(LIAISON__ERROR_CODE__BAD_FRAME));
            drop(l, &env);
        }
    }
    if (l->next_span == l->n_spans)
        release_held(l);
    return env;
}

/* Holds a Batch's frames where they lie: in m when it is one as the broker
 * gathers it (m is then taken), else in env, a Batch decoded whole (taken).
 * Returns 1 if it held them, else 0 (nothing taken). */
static int hold_batch(link_t *l, zmq_msg_t *m, Liaison__Envelope *env)
{
    if (l->spans == NULL)
        l->spans = xmalloc(WIRE_BATCH_MAX_FRAMES * sizeof *l->spans);
    if (env == NULL) {
        size_t n =
            wire_batch_split(zmq_msg_data(m), zmq_msg_size(m), l->spans, WIRE_BATCH_MAX_FRAMES);
        if (n == 0)
            return 0;
        zmq_msg_init(&l->held);
        zmq_msg_move(&l->held, m);
        l->holding = 1;
        l->n_spans = n;
    } else {
        /* Decoded whole: its frames are copies in env, read from there. */
        l->held_whole = env;
        l->n_spans = env->batch->n_frames;
    }
    l->next_span = 0;
    return 1;
}

/* The next frame: a held one of a Batch first, then the socket's. */
static Liaison__Envelope *next_frame(link_t *l, int64_t now_ms)
{
    for (;;) {
        if (l->n_spans || l->held_whole) {
            Liaison__Envelope *env = next_held(l);
            if (env != NULL)
                return env;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, l->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return NULL;
        }
        l->last_rx_ms = now_ms;
        if (hold_batch(l, &m, NULL)) {
            zmq_msg_close(&m);
            continue;
        }
        /* Anything else is one frame, or a Batch in another form: that is
         * decoded again with malloc, as it is held past the caller's
         * resets of the arena. */
        Liaison__Envelope *env = decode(l->arena, zmq_msg_data(&m), zmq_msg_size(&m), NULL);
        if (env != NULL && env->kind_case == LIAISON__ENVELOPE__KIND_BATCH && l->arena) {
            drop(l, &env);
            env = decode(NULL, zmq_msg_data(&m), zmq_msg_size(&m), NULL);
        }
        zmq_msg_close(&m);
        if (env == NULL)
            continue;
        if (env->kind_case != LIAISON__ENVELOPE__KIND_BATCH)
            return env;
        hold_batch(l, NULL, env);
    }
}

Liaison__Envelope *link_on_readable(link_t *l, int64_t now_ms)
{
    Liaison__Envelope *env = next_frame(l, now_ms);
    if (env == NULL) {
        link_tick(l, now_ms);
        return NULL;
    }
    if (!take(l, env, now_ms)) {
        /* A stream of frames must not starve our heartbeat: the
         * caller may never read to the end of it. */
        if (l->state == LINK_UP && now_ms - l->last_send_ms >= l->heartbeat_ms)
            send_heartbeat(l, now_ms);
        return env;
    }
    drop(l, &env);
    return NULL; /* a new state: the caller acts on it first */
}

int link_broker_batches(const link_t *l)
{
    return l->broker_batches;
}

/* ---- start and close ------------------------------------------------------------ */

link_t *link_start(const client_config_t *cfg, const char *client_name, unsigned flags, char *err,
                   size_t errlen)
{
    link_t *l = xcalloc(1, sizeof *l);
    char endpoint[64];
    int linger = CLOSE_LINGER_MS, zero = 0;
    l->broker = xstrdup(cfg->broker);
    l->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 5000;
    l->connect_timeout_ms = (int64_t)l->heartbeat_ms * LINK_SILENT_BEATS;
    l->started_ms = l->last_send_ms = l->last_rx_ms = util_mono_ms();
    l->ctx = zmq_ctx_new();
    l->sock = zmq_socket(l->ctx, ZMQ_DEALER);
    if (l->sock == NULL)
        goto fail;
    if (zmq_setsockopt(l->sock, ZMQ_CURVE_SERVERKEY, cfg->broker_public_key, 32) != 0 ||
        zmq_setsockopt(l->sock, ZMQ_CURVE_PUBLICKEY, cfg->public_key, 32) != 0 ||
        zmq_setsockopt(l->sock, ZMQ_CURVE_SECRETKEY, cfg->secret_key, 32) != 0 ||
        zmq_setsockopt(l->sock, ZMQ_LINGER, &linger, sizeof linger) != 0)
        goto fail;
    /* No automatic reconnection: a new connection is a new session on the
     * broker and must begin with Hello, so a dropped link is finished and
     * the caller starts another (the agent with backoff). Otherwise ZeroMQ
     * would silently carry queued requests to a restarted broker. */
    int no_reconnect = -1;
    if (zmq_setsockopt(l->sock, ZMQ_RECONNECT_IVL, &no_reconnect, sizeof no_reconnect) != 0)
        goto fail;
    /* link_send must not wait on a link made for a poll loop (the default
     * would wait for ever for a broker that is gone). */
    if (zmq_setsockopt(l->sock, ZMQ_SNDTIMEO, &zero, sizeof zero) != 0)
        goto fail;
    snprintf(endpoint, sizeof endpoint, "inproc://link-monitor-%p", (void *)l);
    if (zmq_socket_monitor(l->sock, endpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_CLOSED) != 0)
        goto fail;
    l->monitor = zmq_socket(l->ctx, ZMQ_PAIR);
    /* nothing of the monitor's may hold up zmq_ctx_term */
    if (l->monitor == NULL || zmq_setsockopt(l->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(l->monitor, endpoint) != 0)
        goto fail;
    if (zmq_connect(l->sock, cfg->broker) != 0)
        goto fail;

    Liaison__Envelope env;
    Liaison__Hello hello = LIAISON__HELLO__INIT;
    wire_envelope_init(&env, link_next_corr(l));
    hello.client = (char *)(uintptr_t)client_name;
    hello.hit_notices = (flags & LINK_HIT_NOTICES) != 0;
    hello.batches = 1; /* link_on_readable hands a Batch's frames out one by one */
    env.kind_case = LIAISON__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    /* The DEALER has its queue from zmq_connect on: Hello waits there until
     * the handshake completes, so this cannot find it full. */
    if (put(l, &env, ZMQ_DONTWAIT) != 0)
        goto fail;
    return l;
fail:
    snprintf(err, errlen, "cannot connect to %s: %s", cfg->broker, zmq_strerror(errno));
    link_close(&l);
    return NULL;
}

void link_close(link_t **lp)
{
    if (lp == NULL || *lp == NULL)
        return;
    link_t *l = *lp;
    if (l->sock && l->state == LINK_UP) {
        Liaison__Envelope env;
        Liaison__Bye bye = LIAISON__BYE__INIT;
        wire_envelope_init(&env, 0);
        env.kind_case = LIAISON__ENVELOPE__KIND_BYE;
        env.bye = &bye;
        /* an old broker answers UNKNOWN_KIND, unread */
        put(l, &env, ZMQ_DONTWAIT);
    } else if (l->sock) {
        int zero = 0;
        zmq_setsockopt(l->sock, ZMQ_LINGER, &zero, sizeof zero);
    }
    if (l->sock) {
        zmq_socket_monitor(l->sock, NULL, 0);
        zmq_close(l->sock);
    }
    if (l->monitor)
        zmq_close(l->monitor);
    release_held(l); /* a message of the socket's, given back before its context ends */
    if (l->ctx)
        zmq_ctx_term(l->ctx);
    free(l->spans);
    wire_gather_free(&l->out);
    free(l->broker);
    free(l);
    *lp = NULL;
}

/* ---- blocking calls ------------------------------------------------------------- */

/* Sleeps until the link's sockets have something or wait_ms passes. */
static void wait_link(link_t *l, int wait_ms)
{
    zmq_pollitem_t it[2] = {{l->sock, 0, ZMQ_POLLIN, 0}, {l->monitor, 0, ZMQ_POLLIN, 0}};
    if (zmq_poll(it, 2, wait_ms) < 0 && errno != EINTR)
        log_warn("event=poll_failed error=%s", log_q(zmq_strerror(errno)));
}

link_t *link_open(const client_config_t *cfg, const char *client_name, int timeout_ms, char *err,
                  size_t errlen)
{
    return link_open_as(cfg, client_name, 0, timeout_ms, err, errlen);
}

link_t *link_open_as(const client_config_t *cfg, const char *client_name, unsigned flags,
                     int timeout_ms, char *err, size_t errlen)
{
    link_t *l = link_start(cfg, client_name, flags, err, errlen);
    if (l == NULL)
        return NULL;
    link_set_connect_timeout(l, timeout_ms);
    int send_timeout = OPEN_SEND_TIMEOUT_MS;
    zmq_setsockopt(l->sock, ZMQ_SNDTIMEO, &send_timeout, sizeof send_timeout);
    while (l->state == LINK_CONNECTING) {
        int64_t now = util_mono_ms();
        Liaison__Envelope *r = link_on_readable(l, now);
        if (r != NULL) {
            drop(l, &r); /* nothing before Welcome is for us */
            continue;
        }
        if (l->state == LINK_CONNECTING)
            wait_link(l, link_next_timeout_ms(l, now));
    }
    if (l->state != LINK_UP) {
        snprintf(err, errlen, "%s", l->why);
        link_close(&l);
    }
    return l;
}

int link_send(link_t *l, Liaison__Envelope *env)
{
    read_monitor(l); /* a link known to be gone fails at once */
    if (l->state != LINK_UP)
        return -1;
    int rc = put(l, env, 0);
    if (rc == 1) {
        int timeout = 0;
        size_t len = sizeof timeout;
        zmq_getsockopt(l->sock, ZMQ_SNDTIMEO, &timeout, &len);
        log_error("event=send_failed error=%s", log_q(zmq_strerror(EAGAIN)));
        finish(l, LINK_LOST,
               "cannot send to the broker at %s within %d ms: it is not reading (or gone)",
               l->broker, timeout);
        rc = -1;
    }
    return rc;
}

Liaison__Envelope *link_recv(link_t *l, int timeout_ms, int *timed_out)
{
    *timed_out = 0;
    int64_t deadline = timeout_ms < 0 ? -1 : util_mono_ms() + timeout_ms;
    for (;;) {
        int64_t now = util_mono_ms();
        Liaison__Envelope *env = link_on_readable(l, now);
        if (env != NULL)
            return env;
        if (link_lost(l) || (deadline >= 0 && now >= deadline)) {
            *timed_out = 1; /* nothing will ever come on a finished link */
            return NULL;
        }
        int wait = link_next_timeout_ms(l, now);
        if (deadline >= 0 && (wait < 0 || deadline - now < wait))
            wait = (int)(deadline - now);
        wait_link(l, wait);
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
        drop(l, &r);
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
