/* agent.c — the agent's one thread: a zmq_poll over the signal pipe, the
 * spool's inotify descriptor and the broker link; then, each pass, take
 * spool files into the outbox, read the broker's frames, send from the
 * outbox, run the sinks, and commit what was settled. The connection is
 * watched here: silence or a broker that forgot us drops it, and it is
 * opened again after a capped, jittered backoff.
 * Not responsible for: the parts' own rules (outbox.c, spool.c, publish.c,
 * subs.c, sink.c) or the wire (link.c). */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "backoff.h"
#include "link.h"
#include "log.h"
#include "outbox.h"
#include "publish.h"
#include "spool.h"
#include "subs.h"
#include "util.h"

/* Frames read per pass, so a flood of deliveries cannot hold off the
 * heartbeat and the spool. */
#define FRAMES_PER_PASS 1024
/* The broker is taken as gone after this many heartbeat intervals of
 * silence (it answers each of ours, so silence means it is away). */
#define SILENT_BEATS   3
#define SPOOL_RETRY_MS 1000
#define DAY_MS         (24LL * 3600 * 1000)

static volatile sig_atomic_t got_term, got_hup;
static int sig_wfd = -1;

/* Handlers only set a flag and wake the poll (the self-pipe trick). */
static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGTERM || sig == SIGINT)
        got_term++;
    else if (sig == SIGHUP)
        got_hup = 1;
    if (sig_wfd >= 0) {
        ssize_t w = write(sig_wfd, "s", 1);
        (void)w; /* a full pipe already holds a wake-up */
    }
    errno = saved;
}

typedef struct agent {
    client_config_t *cfg;
    outbox_t *outbox;
    spool_t *spool;
    publish_t *pub;
    subs_t *subs;
    link_t *link;
    backoff_t reconnect;
    int64_t next_connect;
    int64_t last_rx;
    int64_t spool_retry_at;
    int64_t next_forget;
    int64_t subs_due; /* from the last subs_run: ms until sinks need us */
    int sig_rfd;
} agent_t;

static int setup_signals(agent_t *a)
{
    int fds[2];
    struct sigaction sa;
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    a->sig_rfd = fds[0];
    sig_wfd = fds[1];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* SIGCHLD wakes the poll when a sink command ends. */
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void drain_pipe(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

/* ---- the connection ------------------------------------------------------------- */

static void try_connect(agent_t *a)
{
    char err[512];
    a->link = link_open_as(a->cfg, "liaison-agent " AGENT_VERSION, LINK_HIT_NOTICES,
                           AGENT_CONNECT_MS, err, sizeof err);
    int64_t now = util_mono_ms();
    if (a->link == NULL) {
        int64_t delay = backoff_next(&a->reconnect);
        a->next_connect = now + delay;
        log_warn("event=disconnected reason=\"%s\" retry_in_ms=%lld", err, (long long)delay);
        return;
    }
    /* A send must never stall the loop: with no peer (the broker went away
     * and the link does not reconnect by itself) or a full queue, ZeroMQ
     * would block for ever. A send that times out fails, and the link is
     * dropped and opened again. */
    int send_timeout = AGENT_SEND_TIMEOUT_MS;
    zmq_setsockopt(link_socket(a->link), ZMQ_SNDTIMEO, &send_timeout, sizeof send_timeout);
    backoff_reset(&a->reconnect);
    a->last_rx = now;
    log_info("event=connected broker=%s agent=%s heartbeat_ms=%u broker_last_seq=%llu "
             "outbox=%llu",
             a->cfg->broker, link_agent(a->link), link_heartbeat_ms(a->link),
             (unsigned long long)link_welcome_last_seq(a->link),
             (unsigned long long)outbox_count(a->outbox));
    publish_reset(a->pub);
    subs_connected(a->subs, a->link, link_welcome_last_seq(a->link));
}

static void drop_link(agent_t *a, const char *why)
{
    int zero = 0;
    /* What is queued for a dead connection must not reach a broker that
     * comes back: everything unanswered is sent again on the next one. */
    zmq_setsockopt(link_socket(a->link), ZMQ_LINGER, &zero, sizeof zero);
    link_close(&a->link);
    publish_reset(a->pub);
    subs_disconnected(a->subs);
    int64_t delay = backoff_next(&a->reconnect);
    a->next_connect = util_mono_ms() + delay;
    log_warn("event=disconnected reason=\"%s\" retry_in_ms=%lld", why, (long long)delay);
}

/* Errors that are about the connection, not a request: the broker
 * restarted and no longer knows us, or will not talk to us. */
static int connection_error(agent_t *a, const Liaison__Error *e)
{
    char why[600];
    switch (e->code) {
    case LIAISON__ERROR_CODE__NOT_WELCOMED:
        drop_link(a, "the broker no longer knows this connection (it restarted?)");
        return 1;
    case LIAISON__ERROR_CODE__BAD_VERSION:
    case LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED:
        snprintf(why, sizeof why, "the broker refused this agent: %s: %s", wire_error_name(e->code),
                 e->message ? e->message : "");
        drop_link(a, why);
        return 1;
    default:
        return 0;
    }
}

static void on_frame(agent_t *a, Liaison__Envelope *env, int64_t now)
{
    a->last_rx = now;
    if (env->kind_case == LIAISON__ENVELOPE__KIND_ERROR && connection_error(a, env->error))
        return;
    if (publish_on_frame(a->pub, env, now) || subs_on_frame(a->subs, a->link, env))
        return;
    switch (env->kind_case) {
    case LIAISON__ENVELOPE__KIND_HEARTBEAT:
    case LIAISON__ENVELOPE__KIND_WELCOME:
        break;
    case LIAISON__ENVELOPE__KIND_HIT_NOTICE:
        /* Another agency's subject query found one of ours: the liaison
         * officer is told who asked, to expect their call. */
        log_info("event=hit_notice seq=%llu topic=%s asker_agency=\"%s\" asker_contact=\"%s\" "
                 "hit=%d",
                 (unsigned long long)env->hit_notice->seq, env->hit_notice->topic,
                 env->hit_notice->asker_agency, env->hit_notice->asker_contact,
                 (int)env->hit_notice->hit);
        break;
    case LIAISON__ENVELOPE__KIND_ERROR:
        log_warn("event=broker_error code=%s reason=\"%s\"", wire_error_name(env->error->code),
                 env->error->message ? env->error->message : "");
        break;
    default:
        log_debug("event=frame_ignored kind=%d", (int)env->kind_case);
        break;
    }
}

/* Reads what the broker sent (link_recv also sends our heartbeat when one
 * is due), then checks the broker has not gone silent. */
static void read_link(agent_t *a)
{
    for (int i = 0; i < FRAMES_PER_PASS && a->link != NULL; i++) {
        int timed_out = 0;
        Liaison__Envelope *env = link_recv(a->link, 0, &timed_out);
        if (env == NULL) {
            if (timed_out)
                break;
            continue; /* undecodable frame, logged by link.c */
        }
        on_frame(a, env, util_mono_ms());
        wire_envelope_free(&env);
    }
    if (a->link == NULL)
        return;
    if (link_lost(a->link)) {
        drop_link(a, "the connection to the broker dropped (broker stopped or restarted)");
        return;
    }
    int64_t silent = util_mono_ms() - a->last_rx;
    if (silent > (int64_t)link_heartbeat_ms(a->link) * SILENT_BEATS) {
        char why[160];
        snprintf(why, sizeof why, "nothing from the broker for %lld ms (down, or the network?)",
                 (long long)silent);
        drop_link(a, why);
    }
}

/* 1 if a frame can go to the broker now. Not when its connection has
 * dropped (the socket then has no peer) or its queue is full: sends wait
 * for a later pass, and silence ends a dead link. */
static int can_send(agent_t *a)
{
    zmq_pollitem_t it = {link_socket(a->link), 0, ZMQ_POLLOUT, 0};
    return zmq_poll(&it, 1, 0) == 1 && (it.revents & ZMQ_POLLOUT);
}

/* ---- SIGHUP -------------------------------------------------------------------- */

static int differs(const char *x, const char *y)
{
    return strcmp(x ? x : "", y ? y : "") != 0;
}

static void reload(agent_t *a)
{
    char err[512];
    client_config_t *fresh = client_config_load(a->cfg->path, err, sizeof err);
    if (fresh == NULL) {
        log_error("event=reload_rejected reason=\"%s\" action=\"kept the running config\"", err);
        return;
    }
    if (differs(fresh->broker, a->cfg->broker) || differs(fresh->data_dir, a->cfg->data_dir) ||
        differs(fresh->spool, a->cfg->spool) ||
        memcmp(fresh->secret_key, a->cfg->secret_key, 32) != 0 ||
        memcmp(fresh->broker_public_key, a->cfg->broker_public_key, 32) != 0)
        log_warn("event=reload_partial reason=\"broker, keys, data_dir and spool change only on "
                 "restart\"");
    if (subs_reload(a->subs, a->link, fresh, err, sizeof err) != 0) {
        log_error("event=reload_rejected reason=\"%s\" action=\"kept the running config\"", err);
        client_config_free(&fresh);
        return;
    }
    int level = log_level_parse(fresh->log_level);
    if (level >= 0)
        log_set_level((enum log_level)level);
    log_info("event=reloaded subscriptions=%zu", fresh->n_subs);
    /* The running connection settings stay; subs copied what it needs. */
    client_config_free(&fresh);
}

/* ---- the loop ------------------------------------------------------------------ */

static int64_t min_due(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static void take_spool(agent_t *a, int64_t now)
{
    if (a->spool == NULL)
        return;
    spool_on_events(a->spool);
    spool_tick(a->spool, now);
    if (!spool_waiting(a->spool) || now < a->spool_retry_at)
        return;
    if (spool_take(a->spool, a->outbox, AGENT_SPOOL_BATCH) < 0) {
        a->spool_retry_at = now + SPOOL_RETRY_MS;
        log_warn("event=spool_paused reason=\"the outbox cannot take more now\" outbox=%llu "
                 "retry_in_ms=%d",
                 (unsigned long long)outbox_count(a->outbox), SPOOL_RETRY_MS);
    }
}

/* Waits for input or the nearest timer: our next heartbeat (half an
 * interval keeps us well inside the broker's three), a reconnect, a sink
 * retry or running command, a publish pause, a spool retry. */
static void wait_for_input(agent_t *a, int draining)
{
    int64_t now = util_mono_ms();
    int64_t due = a->subs_due;
    zmq_pollitem_t items[3];
    int n = 0;

    items[n++] = (zmq_pollitem_t){NULL, a->sig_rfd, ZMQ_POLLIN, 0};
    if (a->spool && spool_fd(a->spool) >= 0 && !draining)
        items[n++] = (zmq_pollitem_t){NULL, spool_fd(a->spool), ZMQ_POLLIN, 0};
    if (a->link)
        items[n++] = (zmq_pollitem_t){link_socket(a->link), 0, ZMQ_POLLIN, 0};
    if (a->link)
        due = min_due(due, link_heartbeat_ms(a->link) / 2);
    else if (!draining)
        due = min_due(due, a->next_connect > now ? a->next_connect - now : 0);
    due = min_due(due, publish_due_in(a->pub, now));
    if (a->spool && !draining) {
        due = min_due(due, spool_tick(a->spool, now));
        if (spool_waiting(a->spool))
            due = min_due(due, a->spool_retry_at > now ? a->spool_retry_at - now : 0);
    }
    if (draining)
        due = min_due(due, 100);
    if (zmq_poll(items, n, due < 0 ? -1 : (long)due) < 0 && errno != EINTR)
        log_error("event=poll_failed error=\"%s\"", zmq_strerror(errno));
    drain_pipe(a->sig_rfd);
}

/* One pass: wait, then every phase in order. While draining, nothing new
 * is taken from the spool or sent from the outbox: only what is in flight
 * is seen through. */
static void pass(agent_t *a, int draining)
{
    wait_for_input(a, draining);
    int64_t now = util_mono_ms();
    if (got_hup && !draining) {
        got_hup = 0;
        reload(a);
    }
    if (!draining)
        take_spool(a, now);
    if (a->link)
        read_link(a);
    int writable = a->link != NULL && can_send(a);
    if (writable && !draining && publish_send(a->pub, a->link, now) != 0)
        drop_link(a, "cannot send to the broker");
    a->subs_due = subs_run(a->subs, writable ? a->link : NULL, now);
    publish_settle(a->pub);
    if (!draining && now >= a->next_forget) {
        int64_t cutoff = util_now_us() - (int64_t)AGENT_IDS_KEEP_DAYS * DAY_MS * 1000;
        long n_forgot = outbox_forget_ids(a->outbox, cutoff);
        if (n_forgot > 0)
            log_info("event=ids_forgotten count=%ld older_than_days=%d", n_forgot,
                     AGENT_IDS_KEEP_DAYS);
        a->next_forget = now + DAY_MS;
    }
}

static void drain(agent_t *a)
{
    log_info("event=stopping reason=signal in_flight=%zu sink_running=%d outbox=%llu",
             publish_in_flight(a->pub), subs_busy(a->subs),
             (unsigned long long)outbox_count(a->outbox));
    subs_stop(a->subs);
    int64_t deadline = util_mono_ms() + AGENT_DRAIN_MS;
    sig_atomic_t term_seen = got_term;
    while (util_mono_ms() < deadline &&
           (subs_busy(a->subs) || (a->link && publish_in_flight(a->pub) > 0))) {
        pass(a, 1);
        if (got_term != term_seen)
            break; /* asked twice: stop now */
    }
    if (subs_busy(a->subs)) {
        log_warn("event=drain_timeout action=\"sink commands killed; their deliveries come "
                 "again\"");
        subs_cancel(a->subs);
    }
    publish_settle(a->pub);
}

int agent_run(client_config_t *cfg)
{
    char err[512];
    int status = 1;
    agent_t a;
    memset(&a, 0, sizeof a);
    a.cfg = cfg;
    a.sig_rfd = -1;
    a.subs_due = -1;
    backoff_init(&a.reconnect, AGENT_RECONNECT_BASE_MS, AGENT_RECONNECT_CAP_MS);
    if (sodium_init() < 0) {
        log_error("event=startup_failed reason=\"libsodium did not initialise\"");
        goto err0;
    }
    if (setup_signals(&a) != 0) {
        log_error("event=startup_failed reason=\"pipe: %s\"", strerror(errno));
        goto err0;
    }
    a.outbox = outbox_open(cfg->data_dir, OUTBOX_MAP_MB, err, sizeof err);
    if (a.outbox == NULL) {
        log_error("event=startup_failed reason=\"%s\"", err);
        goto err1;
    }
    if (cfg->spool && cfg->spool[0] &&
        (a.spool = spool_open(cfg->spool, err, sizeof err)) == NULL) {
        log_error("event=startup_failed reason=\"%s\"", err);
        goto err2;
    }
    a.subs = subs_new(cfg, a.outbox, err, sizeof err);
    if (a.subs == NULL) {
        log_error("event=startup_failed reason=\"%s\"", err);
        goto err3;
    }
    a.pub = publish_new(a.outbox, a.spool);
    /* Old msg_ids are forgotten only after the first spool scan has had
     * its chance to recognise files left by a crash. */
    a.next_forget = util_mono_ms() + 60000;
    log_info("event=started agent=%s version=%s broker=%s data_dir=%s spool=%s subscriptions=%zu "
             "outbox=%llu",
             cfg->name, AGENT_VERSION, cfg->broker, cfg->data_dir,
             cfg->spool && cfg->spool[0] ? cfg->spool : "-", cfg->n_subs,
             (unsigned long long)outbox_count(a.outbox));

    while (!got_term) {
        if (a.link == NULL && util_mono_ms() >= a.next_connect)
            try_connect(&a);
        pass(&a, 0);
    }
    drain(&a);
    log_info("event=stopped outbox=%llu", (unsigned long long)outbox_count(a.outbox));
    status = 0;
    /* A clean close lingers briefly so the last acks reach the broker. */
    link_close(&a.link);
    publish_free(&a.pub);
    subs_free(&a.subs);
err3:
    spool_close(&a.spool);
err2:
    outbox_close(&a.outbox);
err1:
    close(a.sig_rfd);
    close(sig_wfd);
    sig_wfd = -1;
err0:
    client_config_free(&cfg);
    return status;
}
