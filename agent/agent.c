/* agent.c — the agent's one thread: a zmq_poll over the signal pipe, the
 * spool's inotify descriptor and the broker link (its socket and its
 * monitor); then, each pass, take spool files into the outbox, read the
 * broker's frames, send from the outbox, run the sinks, and commit what was
 * settled. Nothing here waits for the broker: the link is started and comes
 * up (or fails) while the loop goes on taking the spool. When the link is
 * up the agent resumes publishing and subscribes; when link.c finds it
 * refused or lost, it is dropped and started again after a capped,
 * jittered backoff.
 * Not responsible for: the parts' own rules (outbox.c, spool.c, publish.c,
 * subs.c, sink.c), or the wire and what makes a link lost (link.c). */
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

#include "arena.h"
#include "backoff.h"
#include "link.h"
#include "log.h"
#include "agent_metrics.h"
#include "notify.h"
#include "outbox.h"
#include "publish.h"
#include "spool.h"
#include "subs.h"
#include "util.h"

/* Frames read per pass, so a flood of deliveries cannot hold off the
 * heartbeat and the spool. */
#define FRAMES_PER_PASS 1024
#define SPOOL_RETRY_MS  1000
#define DAY_MS          (24LL * 3600 * 1000)

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
    link_t *link;    /* NULL between attempts; else CONNECTING or UP */
    arena_t *frames; /* what the link hands out is decoded into it, one at a time */
    int up;          /* the agent has acted on the link's Welcome */
    backoff_t reconnect;
    int64_t next_connect;
    int64_t spool_retry_at;
    int64_t next_forget;
    int64_t subs_due; /* from the last subs_run: ms until sinks need us */
    int whoami_due;   /* ask the broker who we are, once per Welcome */
    uint64_t whoami_corr;
    int sig_rfd;
    agent_metrics_t *metrics; /* NULL when agent.metrics is "" */
    int64_t next_metrics;
    const char *dropped; /* how the last link ended: "refused", "lost"; NULL before any */
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
    a->up = 0;
    a->link = link_start(a->cfg, "liaison-agent " AGENT_VERSION, LINK_HIT_NOTICES, err, sizeof err);
    if (a->link == NULL) {
        int64_t delay = backoff_next(&a->reconnect);
        a->next_connect = util_mono_ms() + delay;
        log_warn("event=disconnected reason=%s retry_in_ms=%lld", log_q(err), (long long)delay);
        notify_status("disconnected", err);
        return;
    }
    link_set_connect_timeout(a->link, AGENT_CONNECT_MS);
    link_decode_into(a->link, a->frames);
}

/* Welcome: what used to follow a blocking connect. */
static void on_up(agent_t *a)
{
    a->up = 1;
    backoff_reset(&a->reconnect);
    log_info("event=connected broker=%s agent=%s heartbeat_ms=%u broker_last_seq=%llu "
             "outbox=%llu",
             log_q(a->cfg->broker), log_q(link_agent(a->link)), link_heartbeat_ms(a->link),
             (unsigned long long)link_welcome_last_seq(a->link),
             (unsigned long long)outbox_count(a->outbox));
    notify_status("connected to", a->cfg->broker);
    publish_reset(a->pub);
    subs_connected(a->subs, a->link, link_welcome_last_seq(a->link));
    a->whoami_due = 1;
    a->whoami_corr = 0;
}

/* Asks the broker's view of our key (WhoamiRequest), once per connection:
 * an agent.cfg whose name is not the one broker.cfg gives this key is
 * usually a copied config or a swapped key, and every refusal that
 * follows would be a puzzle. Sent when the link has room. */
static void ask_whoami(agent_t *a)
{
    Liaison__Envelope env;
    Liaison__WhoamiRequest req = LIAISON__WHOAMI_REQUEST__INIT;
    wire_envelope_init(&env, link_next_corr(a->link));
    env.kind_case = LIAISON__ENVELOPE__KIND_WHOAMI_REQUEST;
    env.whoami_request = &req;
    if (link_try_send(a->link, &env) == 0) {
        a->whoami_due = 0;
        a->whoami_corr = env.corr_id;
    }
}

/* The answer to ask_whoami (or its refusal, from a broker that predates
 * it). Returns 1 if env was it. */
static int on_whoami(agent_t *a, const Liaison__Envelope *env)
{
    if (a->whoami_corr == 0 || env->corr_id != a->whoami_corr)
        return 0;
    a->whoami_corr = 0;
    if (env->kind_case == LIAISON__ENVELOPE__KIND_WHOAMI_REPLY) {
        const char *broker_name = env->whoami_reply->name ? env->whoami_reply->name : "";
        if (strcmp(a->cfg->name, broker_name) != 0)
            log_warn("event=identity_mismatch configured=%s broker=%s action=\"the broker "
                     "knows this key as %s: its permissions, not %s's, apply; check name and "
                     "secret_key in agent.cfg\"",
                     a->cfg->name, broker_name, broker_name, a->cfg->name);
        else
            log_info("event=identity_confirmed agent=%s", broker_name);
        return 1;
    }
    if (env->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
        log_info("event=whoami_unavailable code=%s", wire_error_name(env->error->code));
        return 1;
    }
    return 0;
}

/* The link when requests may go on it, else NULL. */
static link_t *up_link(agent_t *a)
{
    return a->link != NULL && a->up && link_state(a->link) == LINK_UP ? a->link : NULL;
}

static void drop_link(agent_t *a, const char *why)
{
    /* What is queued for a dead connection must not reach a broker that
     * comes back: everything unanswered is sent again on the next one
     * (link_close drops the queue of a link that is not up). */
    char reason[600];
    snprintf(reason, sizeof reason, "%s", why);
    a->dropped = link_state(a->link) == LINK_REFUSED ? "refused" : "lost";
    link_close(&a->link);
    if (a->up) {
        publish_reset(a->pub);
        subs_disconnected(a->subs);
    }
    a->up = 0;
    int64_t delay = backoff_next(&a->reconnect);
    a->next_connect = util_mono_ms() + delay;
    log_warn("event=disconnected reason=%s retry_in_ms=%lld", log_q(reason), (long long)delay);
    notify_status("disconnected", reason);
}

/* Acts on a link that link.c found refused or lost. Returns 1 if it was. */
static int drop_if_finished(agent_t *a)
{
    if (a->link == NULL || !link_lost(a->link))
        return 0;
    drop_link(a, link_why(a->link));
    return 1;
}

static void on_frame(agent_t *a, Liaison__Envelope *env, int64_t now)
{
    if (on_whoami(a, env))
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
        log_info("event=hit_notice seq=%llu topic=%s asker_agency=%s asker_contact=%s "
                 "hit=%d",
                 (unsigned long long)env->hit_notice->seq, log_q(env->hit_notice->topic),
                 log_q(env->hit_notice->asker_agency), log_q(env->hit_notice->asker_contact),
                 (int)env->hit_notice->hit);
        break;
    case LIAISON__ENVELOPE__KIND_ERROR:
        log_warn("event=broker_error code=%s reason=%s", wire_error_name(env->error->code),
                 log_q(env->error->message ? env->error->message : ""));
        break;
    default:
        log_debug("event=frame_ignored kind=%d", (int)env->kind_case);
        break;
    }
}

/* Reads what the broker sent, a bounded batch, reacting to the link's
 * changes of state on the way: Welcome brings it up; a refusal, a drop,
 * silence or an Error that ends the session (link.c decides which) drops
 * it. Then runs the link's timers (our heartbeat, the silence rule, the
 * connect timeout). */
static void read_link(agent_t *a)
{
    for (int i = 0; i < FRAMES_PER_PASS && a->link != NULL; i++) {
        int64_t now = util_mono_ms();
        Liaison__Envelope *env = link_on_readable(a->link, now);
        if (link_lost(a->link)) {
            /* the frame that ended the session, if one did: nothing to
             * act on, everything unanswered goes again on the next link */
            wire_envelope_free_in(&env, a->frames);
            arena_reset(a->frames);
            drop_if_finished(a);
            return;
        }
        int came_up = !a->up && link_state(a->link) == LINK_UP;
        if (came_up)
            on_up(a);
        if (env == NULL && came_up)
            continue; /* what followed Welcome is read now */
        if (env == NULL)
            break;
        if (a->up)
            on_frame(a, env, now); /* (nothing before Welcome is for us) */
        wire_envelope_free_in(&env, a->frames);
        arena_reset(a->frames);
    }
    if (a->link != NULL)
        link_tick(a->link, util_mono_ms());
    drop_if_finished(a);
}

/* 1 if a frame can go to the broker now. Not before Welcome, nor when the
 * link's queue is full: sends wait for a later pass, and silence ends a
 * dead link. */
static int can_send(agent_t *a)
{
    if (up_link(a) == NULL)
        return 0;
    zmq_pollitem_t it = {link_socket(a->link), 0, ZMQ_POLLOUT, 0};
    return zmq_poll(&it, 1, 0) == 1 && (it.revents & ZMQ_POLLOUT);
}

/* What the metrics call the link's state now. */
static const char *link_state_name(const agent_t *a)
{
    if (a->link == NULL)
        return a->dropped ? a->dropped : "down";
    return a->up && link_state(a->link) == LINK_UP ? "up" : "connecting";
}

static void publish_metrics(agent_t *a, int64_t now)
{
    if (a->metrics == NULL || now < a->next_metrics)
        return;
    struct agent_metrics_view v = {.link_state = link_state_name(a),
                                   .outbox = a->outbox,
                                   .spool = a->spool,
                                   .pub = a->pub,
                                   .subs = a->subs};
    agent_metrics_publish(a->metrics, &v);
    a->next_metrics = now + AGENT_METRICS_MS;
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
    if (fresh != NULL && client_config_check_sinks(fresh, err, sizeof err) != 0)
        client_config_free(&fresh);
    if (fresh == NULL) {
        log_error("event=reload_rejected reason=%s action=\"kept the running config\"", log_q(err));
        return;
    }
    if (differs(fresh->broker, a->cfg->broker) || differs(fresh->data_dir, a->cfg->data_dir) ||
        differs(fresh->spool, a->cfg->spool) || differs(fresh->metrics, a->cfg->metrics) ||
        differs(fresh->metrics_token, a->cfg->metrics_token) ||
        memcmp(fresh->secret_key, a->cfg->secret_key, 32) != 0 ||
        memcmp(fresh->broker_public_key, a->cfg->broker_public_key, 32) != 0)
        log_warn("event=reload_partial reason=\"broker, keys, data_dir, spool and metrics change "
                 "only on restart\"");
    if (subs_reload(a->subs, up_link(a), fresh, err, sizeof err) != 0) {
        log_error("event=reload_rejected reason=%s action=\"kept the running config\"", log_q(err));
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

/* Waits for input or the nearest timer: the link's (our next heartbeat,
 * the silence limit, the connect timeout), a reconnect, a sink retry or
 * running command, a publish pause, a spool retry. */
static void wait_for_input(agent_t *a, int draining)
{
    int64_t now = util_mono_ms();
    int64_t due = a->subs_due;
    zmq_pollitem_t items[4];
    int n = 0;

    items[n++] = (zmq_pollitem_t){NULL, a->sig_rfd, ZMQ_POLLIN, 0};
    if (a->spool && spool_fd(a->spool) >= 0 && !draining)
        items[n++] = (zmq_pollitem_t){NULL, spool_fd(a->spool), ZMQ_POLLIN, 0};
    if (a->link) {
        items[n++] = (zmq_pollitem_t){link_socket(a->link), 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){link_monitor_socket(a->link), 0, ZMQ_POLLIN, 0};
        due = min_due(due, link_next_timeout_ms(a->link, now));
    } else if (!draining)
        due = min_due(due, a->next_connect > now ? a->next_connect - now : 0);
    due = min_due(due, publish_due_in(a->pub, now));
    if (a->spool && !draining) {
        due = min_due(due, spool_tick(a->spool, now));
        if (spool_waiting(a->spool))
            due = min_due(due, a->spool_retry_at > now ? a->spool_retry_at - now : 0);
    }
    if (a->metrics)
        due = min_due(due, a->next_metrics > now ? a->next_metrics - now : 0);
    if (draining)
        due = min_due(due, 100);
    /* The watchdog hears from a loop that turns: it is sent from here,
     * so a stuck pass stops it. INT64_MAX when there is none. */
    notify_watchdog(now);
    if (notify_watchdog_in(now) != INT64_MAX)
        due = min_due(due, notify_watchdog_in(now));
    if (zmq_poll(items, n, due < 0 ? -1 : (long)due) < 0 && errno != EINTR)
        log_error("event=poll_failed error=%s", log_q(zmq_strerror(errno)));
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
    if (a->whoami_due && can_send(a))
        ask_whoami(a);
    if (can_send(a) && !draining && publish_send(a->pub, a->link, now) != 0 && !drop_if_finished(a))
        drop_link(a, "cannot send to the broker");
    /* Asked again: the publishes may have filled the queue. */
    a->subs_due = subs_run(a->subs, can_send(a) ? a->link : NULL, now);
    /* A send that failed in the sinks' acks lost the link. */
    drop_if_finished(a);
    publish_settle(a->pub);
    publish_metrics(a, now);
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
    notify_stopping("draining");
    log_info("event=stopping reason=signal in_flight=%zu sink_running=%d outbox=%llu",
             publish_in_flight(a->pub), subs_busy(a->subs),
             (unsigned long long)outbox_count(a->outbox));
    subs_stop(a->subs);
    if (a->link != NULL && !a->up)
        link_close(&a->link); /* still connecting: nothing on it to see through */
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
    notify_init();
    if (sodium_init() < 0) {
        log_error("event=startup_failed reason=\"libsodium did not initialise\"");
        goto err0;
    }
    if (setup_signals(&a) != 0) {
        snprintf(err, sizeof err, "pipe: %s", strerror(errno));
        log_error("event=startup_failed reason=%s", log_q(err));
        goto err0;
    }
    a.outbox = outbox_open(cfg->data_dir, OUTBOX_MAP_MB, err, sizeof err);
    if (a.outbox == NULL) {
        log_error("event=startup_failed reason=%s", log_q(err));
        goto err1;
    }
    if (cfg->spool && cfg->spool[0] &&
        (a.spool = spool_open(cfg->spool, err, sizeof err)) == NULL) {
        log_error("event=startup_failed reason=%s", log_q(err));
        goto err2;
    }
    a.subs = subs_new(cfg, a.outbox, err, sizeof err);
    if (a.subs == NULL) {
        log_error("event=startup_failed reason=%s", log_q(err));
        goto err3;
    }
    a.pub = publish_new(a.outbox, a.spool);
    a.frames = arena_new();
    if (cfg->metrics && cfg->metrics[0] &&
        (a.metrics = agent_metrics_start(cfg->metrics, cfg->metrics_token, err, sizeof err)) ==
            NULL) {
        log_error("event=startup_failed reason=%s", log_q(err));
        goto err4;
    }
    /* Old msg_ids are forgotten only after the first spool scan has had
     * its chance to recognise files left by a crash. */
    a.next_forget = util_mono_ms() + 60000;
    log_info("event=started agent=%s version=%s broker=%s data_dir=%s spool=%s subscriptions=%zu "
             "metrics=%s outbox=%llu",
             log_q(cfg->name), AGENT_VERSION, log_q(cfg->broker), log_q(cfg->data_dir),
             log_q(cfg->spool && cfg->spool[0] ? cfg->spool : "-"), cfg->n_subs,
             log_q(cfg->metrics && cfg->metrics[0] ? cfg->metrics : "-"),
             (unsigned long long)outbox_count(a.outbox));
    /* Spool and outbox open: from here the agent takes work, with or
     * without the broker (it connects in the loop). */
    char ready[96];
    snprintf(ready, sizeof ready, "started, outbox=%llu, connecting",
             (unsigned long long)outbox_count(a.outbox));
    notify_ready(ready);

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
err4:
    arena_destroy(&a.frames);
    agent_metrics_stop(&a.metrics);
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
