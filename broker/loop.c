/* loop.c — start-up, the five-phase loop, reload and drain.
 * Start-up order matters: the ZAP handler is bound before the CURVE ROUTER,
 * because libzmq admits everyone when no handler answers.
 * Not responsible for: what frames mean (handle.c) or the write path
 * (ingest.c, fanout.c, commit.c). */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "auth.h"
#include "broker.h"
#include "control.h"
#include "handle.h"
#include "ingest.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "policy.h"
#include "reload.h"
#include "reply.h"
#include "room.h"
#include "commit.h"
#include "fanout.h"
#include "subjects.h"
#include "uplink.h"
#include "util.h"

volatile sig_atomic_t loop_stop_flag;
volatile sig_atomic_t loop_reload_flag;

/* Frames read per pass before the loop plans and hands its batch over: big
 * enough to make group commits large under load, small enough to bound
 * latency. */
#define DISPATCH_BATCH 4096
/* Past this many publishes waiting in the open batch (the committer is
 * slower than the clients), the loop stops reading frames until it
 * catches up, so memory stays bounded. */
#define OPEN_BATCH_MAX 65536
/* What frames read into the open batch's arena may hold while it waits for
 * the committer: a frame refused in a batch that also took a publish keeps
 * its memory there until the batch ends, so reading stops at this bound as
 * it does at OPEN_BATCH_MAX, whatever the frames were. */
#define OPEN_ARENA_MAX ((size_t)64 << 20)

static int open_router(broker_t *b, char *err, size_t errlen)
{
    const config_t *c = b->cfg;
    int one = 1, hwm = 1000000, linger = 2000;
    int64_t maxmsg = (int64_t)c->max_frame_bytes * 2 + 4096;
    b->router = zmq_socket(b->ctx, ZMQ_ROUTER);
    if (b->router == NULL)
        goto fail;
    /* Frames over max_frame_bytes get a FRAME_TOO_LARGE reply; only ones
     * far beyond it are cut off by ZeroMQ before they use memory. */
    if (zmq_setsockopt(b->router, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(b->router, ZMQ_CURVE_SECRETKEY, c->secret_key, 32) != 0 ||
        zmq_setsockopt(b->router, ZMQ_ZAP_DOMAIN, "liaison", 7) != 0 ||
        zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0 ||
        zmq_setsockopt(b->router, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(b->router, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(b->router, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(b->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0)
        goto fail;
    if (zmq_bind(b->router, c->listen) != 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "cannot listen on %s: %s", c->listen, zmq_strerror(errno));
    /* An open socket would make zmq_ctx_term wait for ever. */
    if (b->router) {
        int zero = 0;
        zmq_setsockopt(b->router, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(b->router);
        b->router = NULL;
    }
    return -1;
}

/* 1 while the open batch may take more frames: under its bounds, and the
 * store not out of room (room.c). */
static int open_has_room(broker_t *b)
{
    return b->open->n_pubs < OPEN_BATCH_MAX && arena_used(batch_arena(b->open)) < OPEN_ARENA_MAX &&
           !room_trying(b);
}

/* Reads up to DISPATCH_BATCH two-part messages without blocking, stopping
 * early when the open batch is full. */
static void dispatch(broker_t *b)
{
    zmq_msg_t rid, body;
    zmq_msg_init(&rid);
    zmq_msg_init(&body);
    for (int i = 0; i < DISPATCH_BATCH && open_has_room(b); i++) {
        if (zmq_msg_recv(&rid, b->router, ZMQ_DONTWAIT) < 0)
            break;
        if (!zmq_msg_more(&rid) || zmq_msg_recv(&body, b->router, 0) < 0)
            continue;
        if (zmq_msg_more(&body)) {
            /* One Envelope per frame: drain extra parts, refuse the lot. */
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            while (zmq_msg_more(&body) && zmq_msg_recv(&extra, b->router, 0) >= 0)
                zmq_msg_move(&body, &extra);
            zmq_msg_close(&extra);
            b->stats.frames_bad++;
            log_warn("event=bad_frame reason=\"multipart message\"");
            handle_bad_frame(b, zmq_msg_data(&rid), zmq_msg_size(&rid),
                             zmq_msg_gets(&body, "User-Id"), zmq_msg_gets(&body, "X-Key"),
                             "one Envelope per single-part message: a multipart message was "
                             "refused whole");
            continue;
        }
        const char *user = zmq_msg_gets(&body, "User-Id");
        const char *key = zmq_msg_gets(&body, "X-Key");
        handle_frame(b, zmq_msg_data(&rid), zmq_msg_size(&rid), user, key, zmq_msg_data(&body),
                     zmq_msg_size(&body));
    }
    zmq_msg_close(&rid);
    zmq_msg_close(&body);
}

/* Sessions silent for three heartbeats are gone: a peer that vanished
 * mid-stream never says so on a ROUTER socket. */
static void reap(broker_t *b, int64_t now_ms)
{
    int64_t limit = (int64_t)b->cfg->heartbeat_ms * 3;
    for (size_t i = 0; i < sessions_count(b->sessions);) {
        session_t *s = sessions_at(b->sessions, i);
        if (!s->dead && now_ms - s->last_seen_ms > limit) {
            log_info("event=session_timeout agent=%s", log_q(s->agent));
            /* Told, in case it is still there: its next frame would get
             * NOT_WELCOMED anyway, and a Hello resumes. */
            reply_error(b, s, 0, LIAISON__ERROR_CODE__NOT_WELCOMED, NULL,
                        "session timed out after three heartbeats of silence: send Hello");
            s->dead = 1;
        } else if (!s->dead && s->welcomed && now_ms - s->last_sent_ms >= b->cfg->heartbeat_ms) {
            /* The broker's own heartbeat to an idle session, so a client
             * can tell a dead broker without polling. */
            Liaison__Envelope env;
            Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
            wire_envelope_init(&env, 0);
            hb.time_us = util_now_us();
            env.kind_case = LIAISON__ENVELOPE__KIND_HEARTBEAT;
            env.heartbeat = &hb;
            reply_send(b, s, &env);
        }
        session_trim(s);
        if (s->dead) {
            log_info("event=disconnected agent=%s", log_q(s->agent));
            fanout_session_gone(b, s);
            sessions_remove(b->sessions, s); /* swaps the last into i */
            continue;
        }
        i++;
    }
}

/* SIGHUP: a new config replaces the old whole, or not at all. Agents that
 * vanished lose their sessions' access at once (frames answered with
 * AGENT_NOT_ALLOWED, nothing delivered). */
static void audit_broker(broker_t *b, const char *action, const char *actor, const char *outcome,
                         const char *reason)
{
    struct audit_event ev = {.actor = "broker",
                             .action = action,
                             .recipient = actor,
                             .outcome = outcome,
                             .reason = reason};
    audit_append(b->audit, b->open, &ev);
}

/* Revocations and removals are audited one by one: who lost access. */
static void audit_revocations(broker_t *b, const config_t *fresh)
{
    int64_t now = util_now_us();
    for (size_t i = 0; i < b->cfg->n_agents; i++) {
        const config_agent_t *old = &b->cfg->agents[i];
        if (policy_may_connect(old, now) != POLICY_ALLOW)
            continue;
        const config_agent_t *neu = config_agent_by_name(fresh, old->name);
        enum policy_rule r = policy_may_connect(neu, now);
        if (r != POLICY_ALLOW)
            audit_broker(b, "revoke", old->name, "ok", policy_rule_name(r));
    }
}

/* Uplinks hold connections: a reload may change what crosses them
 * (clearance, caveats, patterns), not which they are. */
static int uplinks_same(const config_t *a, const config_t *b)
{
    if (a->n_uplinks != b->n_uplinks || strcmp(a->name, b->name) != 0)
        return 0;
    for (size_t i = 0; i < a->n_uplinks; i++)
        if (strcmp(a->uplinks[i].as.name, b->uplinks[i].as.name) != 0 ||
            strcmp(a->uplinks[i].broker, b->uplinks[i].broker) != 0 ||
            memcmp(a->uplinks[i].as.public_key, b->uplinks[i].as.public_key, 32) != 0 ||
            a->uplinks[i].n_receive != b->uplinks[i].n_receive)
            return 0;
    return 1;
}

/* What the reload changes, said before it applies: one log line and one
 * audit record per changed agent, one warning per restart-only key the
 * file changed (the running value stays). */
static void explain(broker_t *b, const config_t *fresh)
{
    char reason[RELOAD_TEXT_MAX + 256];
    reload_diff_t *d = reload_diff(b->cfg, fresh);
    for (size_t i = 0; i < d->n_agents; i++) {
        const struct reload_agent *r = &d->agents[i];
        log_info("event=reload_agent agent=%s change=%s%s%s", r->name, r->change,
                 r->detail[0] ? " " : "", r->detail);
        snprintf(reason, sizeof reason, "change=%s%s%s", r->change, r->detail[0] ? " " : "",
                 r->detail);
        audit_broker(b, "config_agent", r->name, "ok", reason);
    }
    for (size_t i = 0; i < d->n_keys; i++)
        log_warn("event=reload_restart_needed key=%s old=%s new=%s action=\"the running "
                 "value stays until restart\"",
                 d->keys[i].key, log_q(d->keys[i].old), log_q(d->keys[i].neu));
    reload_diff_free(&d);
}

static void reload(broker_t *b)
{
    char err[512];
    config_t *fresh = config_load(b->cfg->path, err, sizeof err);
    if (fresh && !uplinks_same(b->cfg, fresh)) {
        snprintf(err, sizeof err,
                 "the uplinks (their number, names or brokers) change only on "
                 "restart");
        config_free(&fresh);
    }
    if (fresh == NULL) {
        log_error("event=reload_rejected reason=%s action=\"kept the running config\"", log_q(err));
        audit_broker(b, "config_reload", NULL, "refused", err);
        b->reload_ok = 0;
        return;
    }
    explain(b, fresh);
    config_keep_restart_values(fresh, b->cfg);
    audit_revocations(b, fresh);
    retention_invalidate(b->retention);
    audit_broker(b, "config_reload", NULL, "ok", NULL);
    audit_set_spacing(b->audit, fresh->audit_checkpoint_records, fresh->audit_checkpoint_s);
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *s = sessions_at(b->sessions, i);
        s->conf = config_agent_by_name(fresh, s->agent);
        enum policy_rule r = policy_may_connect(s->conf, util_now_us());
        if (r == POLICY_ALLOW && memcmp(s->conf->public_key, s->key, 32) != 0) {
            /* The agent has another key now (the old one stolen, say, or
             * moved to another agent): a connection made with the old one
             * is no longer that agent. */
            log_warn("event=key_rotated agent=%s action=\"the connection made with the old key "
                     "is refused from now\"",
                     log_q(s->agent));
            audit_broker(b, "revoke", s->agent, "ok", "key_changed");
            s->conf = NULL;
            r = POLICY_NO_AGENT;
        }
        if (r != POLICY_ALLOW) {
            log_info("event=agent_disconnected agent=%s rule=%s action=\"subscriptions dropped, "
                     "every frame refused\"",
                     log_q(s->agent), policy_rule_name(r));
            fanout_session_gone(b, s);
        }
    }
    int wider = fresh->dedup_window_s > b->cfg->dedup_window_s;
    config_free(&b->cfg);
    b->cfg = fresh;
    if (wider)
        ingest_dedup_index(b); /* keys older than the old window were left out */
    b->reload_ok = 1;
    b->reload_us = util_now_us();
    b->cfg_gen++;
    fanout_scan_all(b); /* what each may receive, and whether it may connect, may have changed */
    log_info("event=reloaded agents=%zu", fresh->n_agents);
}

/* Retention runs inside the pass, so its erasures and their audit records
 * share a batch's one fsync. It waits while erasures of an earlier pass are
 * uncommitted: the snapshot it reads would still show those messages. */
static void retain(broker_t *b, int64_t now_ms)
{
    if (now_ms < b->retention_due_ms || b->open->n_purges || (b->inflight && b->inflight->n_purges))
        return;
    /* Short of room, a pass erases only what its records leave room for. */
    retention_limit(b->retention, room_erase_budget(b));
    int n = retention_pass(b->retention, b->store, b->cfg, b->audit,
                           b->index_on ? b->subject_key : NULL, b->open, util_now_us());
    if (n < 0)
        n = 0;
    b->stats.erased += (uint64_t)n;
    /* A full pass means more is waiting: come back next pass. */
    b->retention_due_ms = n > 0 ? now_ms : now_ms + (int64_t)b->cfg->retention_interval_s * 1000;
}

/* The pass reads what has committed through one snapshot, taken after the
 * committer's last batch was released: anything newer is in a batch. */
static void begin_pass(broker_t *b)
{
    if (b->rd == NULL)
        b->rd = store_read_begin(b->store);
}

static void before_sleep(broker_t *b)
{
    int64_t now = util_mono_ms();
    begin_pass(b);
    /* A store out of room plans nothing that writes until a try is due
     * (room.c): first a tick, the pause's record alone, then the work,
     * erasures first and alone when retention has any, since erasing is
     * what frees room. */
    enum room_plan plan = room_plan(b, now);
    if (plan == ROOM_PLAN_TICK)
        audit_broker(b, "store_paused", NULL, "refused", "map_full");
    if (plan == ROOM_PLAN_TRY)
        retain(b, now);
    if (plan == ROOM_PLAN_ALL || (plan == ROOM_PLAN_TRY && b->open->n_purges == 0)) {
        fanout_plan(b);       /* 1. decide deliveries, audit them */
        uplinks_plan(b, now); /*    and forwards up, with their records */
        if (plan == ROOM_PLAN_ALL)
            retain(b, now);                 /* 2. bounded erasure by the retention rules */
        audit_tick(b->audit, b->open, now); /* 3. aggregates, checkpoint */
        fanout_cursors(b, now);             /* 4. durable cursors that moved */
    }
    /* Readers must not outlive the pass: a long-lived snapshot would pin
     * old pages and grow the file. */
    store_read_end(&b->rd);
    commit_submit(b); /* 5. to the committer, if it is idle */
}

/* Between two Envelopes of a pass: when the committer has nothing to apply,
 * the pass ends here, its batch planned and handed over, and the next one
 * begins. So a burst read in one pass (a Batch frame of a thousand
 * publishes, say) goes to disk in pieces while the rest is read, instead of
 * after the last of it: without this, a client whose whole window fits in
 * one frame had the loop and the committer take turns, each idle while the
 * other worked. */
void loop_pass_point(broker_t *b)
{
    if (b->open->n_pubs == 0 || b->fatal || !commit_idle(b))
        return;
    before_sleep(b); /* plans, and hands it over if the committer is idle */
    if (b->inflight)
        commit_reap(b, 0); /* done: hands it over, then releases what was done */
    begin_pass(b);
}

int loop_run(config_t *cfg)
{
    broker_t b;
    char err[512];
    int status = 1;
    memset(&b, 0, sizeof b);
    b.cfg = cfg;
    b.started_us = util_now_us();
    notify_init();
    b.reload_ok = 1; /* the config it started with is the last one loaded */
    b.reload_us = b.started_us;
    b.ctx = zmq_ctx_new();
    if (b.ctx == NULL)
        log_fatal("event=startup_failed reason=\"cannot create a ZeroMQ context\"");
    b.auth = auth_new(b.ctx, err, sizeof err);
    if (b.auth == NULL) {
        log_error("event=startup_failed reason=%s", log_q(err));
        goto err1;
    }
    b.store = store_open(cfg->data_dir, cfg->map_size_mb, err, sizeof err);
    if (b.store == NULL) {
        log_error("event=startup_failed reason=%s", log_q(err));
        goto err2;
    }
    uint8_t prev_owner[32];
    int adopted = 0;
    if (store_claim(b.store, cfg->public_key, cfg->expect_store, cfg->adopt_store, prev_owner,
                    &adopted, err, sizeof err) != 0) {
        log_error("event=startup_failed data_dir=%s reason=%s", log_q(cfg->data_dir), log_q(err));
        goto err3;
    }
    if (subjects_check(b.store, cfg->has_subject_key ? cfg->subject_key : NULL, err, sizeof err) !=
        0) {
        log_error("event=startup_failed data_dir=%s reason=%s", log_q(cfg->data_dir), log_q(err));
        goto err3;
    }
    b.index_on = cfg->has_subject_key;
    memcpy(b.subject_key, cfg->subject_key, sizeof b.subject_key);
    b.audit = audit_open(b.store, cfg->audit_key[0] ? cfg->audit_seed : NULL,
                         cfg->audit_checkpoint_records, cfg->audit_checkpoint_s, err, sizeof err);
    if (b.audit == NULL) {
        log_error("event=startup_failed reason=%s", log_q(err));
        goto err3;
    }
    if (!cfg->has_subject_key)
        log_info("event=subject_index_off reason=\"no subject_key: subject queries and "
                 "watchlists are refused\"");
    if (!cfg->audit_key[0])
        log_warn("event=audit_unsigned reason=\"no audit_key: checkpoints are not signed\"");
    b.open = batch_new();
    b.next_seq = store_last_seq(b.store) + 1;
    b.planned = b.next_seq - 1;
    b.subindex = subindex_new();
    if (ingest_dedup_index(&b) != 0) {
        log_error("event=startup_failed reason=\"the store's dedup log cannot be read\"");
        goto err3;
    }
    b.committer = committer_start(b.store, err, sizeof err);
    if (b.committer == NULL) {
        log_error("event=startup_failed reason=%s", log_q(err));
        goto err3;
    }
    audit_broker(&b, "start", NULL, "ok", BROKER_VERSION);
    if (adopted) {
        char was[41], why[64];
        keys_z85(prev_owner, was);
        snprintf(why, sizeof why, "previous owner %s", was);
        log_warn("event=store_adopted previous_key=%s", log_q(was));
        audit_broker(&b, "store_adopted", NULL, "ok", why);
    }
    audit_checkpoint_now(b.audit, b.open); /* every trail is signed from its first start */
    b.retention = retention_new();
    b.control = control_new();
    control_load_durables(&b);
    b.metrics = metrics_new();
    /* The HTTP thread starts before the ROUTER binds and never touches
     * broker state: it serves the snapshots control_tick publishes. */
    if (cfg->metrics[0] &&
        metrics_start(b.metrics, cfg->metrics, cfg->metrics_token, err, sizeof err) != 0) {
        log_error("event=startup_failed reason=%s", log_q(err));
        goto err3;
    }
    if (open_router(&b, err, sizeof err) != 0) {
        log_error("event=startup_failed reason=%s", log_q(err));
        goto err3;
    }
    b.sessions = sessions_new();
    b.pass_point = loop_pass_point;
    uplinks_start(&b); /* connecting; nothing here waits for them */
    char pub[41];
    keys_z85(cfg->public_key, pub);
    log_info("event=listening endpoint=%s broker_key=%s last_seq=%llu agents=%zu",
             log_q(cfg->listen), log_q(pub), (unsigned long long)store_last_seq(b.store),
             cfg->n_agents);
    /* Store open, sockets bound: from here the broker serves. */
    char ready[160];
    snprintf(ready, sizeof ready, "listening, last_seq=%llu, %zu agents",
             (unsigned long long)store_last_seq(b.store), cfg->n_agents);
    notify_ready(ready);

    int64_t next_timer = util_mono_ms() + b.cfg->heartbeat_ms;
    int64_t next_tick = util_mono_ms(); /* operator views: a first snapshot at once */
    while (!loop_stop_flag && !b.fatal) {
        /* 1. timeout from the nearest timer */
        int64_t now = util_mono_ms();
        int64_t nearest = next_timer < next_tick ? next_timer : next_tick;
        /* Paused for want of room, retention waits for the next try. */
        if (!b.pause.on && b.retention_due_ms < nearest)
            nearest = b.retention_due_ms;
        if (room_retry_ms(&b) < nearest)
            nearest = room_retry_ms(&b);
        long timeout = nearest > now ? (long)(nearest - now) : 0;
        long up_wait = uplinks_timeout_ms(&b, now);
        if (up_wait < timeout)
            timeout = up_wait;
        if (notify_watchdog_in(now) < timeout)
            timeout = (long)notify_watchdog_in(now);
        int reading = open_has_room(&b);
        zmq_pollitem_t items[3 + 2 * UPLINKS_MAX] = {
            {NULL, committer_fd(b.committer), ZMQ_POLLIN, 0},
            {auth_socket(b.auth), 0, ZMQ_POLLIN, 0},
            {b.router, 0, ZMQ_POLLIN, 0},
        };
        /* The uplinks are read like the ROUTER: not while the open batch
         * is at its bound. */
        size_t n_items = reading ? 3 + uplinks_poll_items(&b, items + 3, 2 * UPLINKS_MAX) : 2;
        /* The watchdog hears from a loop that turns, and the health
         * check sees it turn; both stop when the loop is stuck. */
        notify_watchdog(now);
        metrics_alive(b.metrics, room_paused(&b) ? "store exhausted: writes wait for room"
                                 : b.full        ? "store full: publishes are refused"
                                                 : NULL);
        /* 2. poll */
        if (zmq_poll(items, (int)n_items, timeout) < 0 && errno != EINTR) {
            log_error("event=poll_failed error=%s", log_q(zmq_strerror(errno)));
            break;
        }
        /* 3. the committer's batch ends first (its replies leave, the
         * next batch goes to disk), then frames are read, each bounded */
        if (items[0].revents & ZMQ_POLLIN && commit_reap(&b, 0))
            commit_submit(&b);
        begin_pass(&b);
        if (items[1].revents & ZMQ_POLLIN)
            auth_handle(b.auth, b.cfg, b.audit, b.open);
        if (reading && items[2].revents & ZMQ_POLLIN)
            dispatch(&b);
        if (reading)
            uplinks_dispatch(&b, util_mono_ms());
        /* 4. before sleep: plan, hand the batch over, signals */
        before_sleep(&b);
        if (loop_reload_flag) {
            loop_reload_flag = 0;
            reload(&b);
        }
        /* 5. due timers */
        now = util_mono_ms();
        if (now >= next_tick || now >= next_timer) {
            /* Before any reap, so control reads the counts of sessions
             * about to go. */
            control_tick(&b, now);
            next_tick = now + CONTROL_TICK_MS;
        }
        if (now >= next_timer) {
            reap(&b, now);
            next_timer = now + b.cfg->heartbeat_ms;
        }
    }
    /* Drain: what was read is committed and answered before exit — unless
     * a commit failed, when nothing more may be written. */
    notify_stopping(b.fatal ? "stopping after a failed commit" : "draining");
    if (!b.fatal) {
        commit_reap(&b, 1);
        audit_flush(b.audit, b.open); /* counts still in memory */
        audit_broker(&b, "stop", NULL, "ok", NULL);
        audit_checkpoint_now(b.audit, b.open); /* signed to its end */
        before_sleep(&b);
        commit_drain(&b);
    } else {
        commit_reap(&b, 1);
    }
    log_info("event=stopping last_seq=%llu publishes=%llu deliveries=%llu",
             (unsigned long long)store_last_seq(b.store), (unsigned long long)b.stats.publishes,
             (unsigned long long)b.stats.deliveries);
    status = b.fatal ? 1 : 0;
    uplinks_stop(&b);
    free(b.scratch);
    sessions_free(&b.sessions);
    zmq_close(b.router);
err3:
    committer_stop(&b.committer);
    batch_free(&b.open);
    batch_free(&b.inflight);
    batch_free(&b.spare[0]);
    batch_free(&b.spare[1]);
    subindex_free(&b.subindex);
    seen_free(&b.seen);
    fanout_released_free(&b);
    fanout_busy_free(&b);
    store_read_end(&b.rd);
    metrics_free(&b.metrics); /* stops the HTTP thread */
    control_free(&b.control);
    retention_free(&b.retention);
    audit_close(&b.audit);
    store_close(&b.store);
err2:
    auth_free(&b.auth);
err1:
    zmq_ctx_term(b.ctx);
    config_free(&b.cfg);
    return status;
}

int loop_reindex(config_t *cfg)
{
    char err[512];
    int status = 1;
    if (!cfg->has_subject_key) {
        log_error("event=reindex_failed reason=\"broker.cfg names no subject_key\"");
        config_free(&cfg);
        return 1;
    }
    /* store_open takes broker.lock: a running broker makes this fail. */
    store_t *st = store_open(cfg->data_dir, cfg->map_size_mb, err, sizeof err);
    uint8_t prev[32];
    int adopted = 0;
    if (st == NULL ||
        store_claim(st, cfg->public_key, cfg->expect_store, 0, prev, &adopted, err, sizeof err)) {
        log_error("event=reindex_failed data_dir=%s reason=%s", log_q(cfg->data_dir), log_q(err));
        goto leave;
    }
    audit_t *audit =
        audit_open(st, cfg->audit_key[0] ? cfg->audit_seed : NULL, cfg->audit_checkpoint_records,
                   cfg->audit_checkpoint_s, err, sizeof err);
    uint64_t msgs = 0, entries = 0;
    if (audit == NULL ||
        subjects_reindex(st, cfg->subject_key, &msgs, &entries, err, sizeof err) != 0) {
        log_error("event=reindex_failed data_dir=%s reason=%s", log_q(cfg->data_dir), log_q(err));
        audit_close(&audit);
        goto leave;
    }
    /* The trail says when the index was rebuilt, and how big it is. */
    batch_t *bt = batch_new();
    char why[96];
    snprintf(why, sizeof why, "%llu messages, %llu entries", (unsigned long long)msgs,
             (unsigned long long)entries);
    struct audit_event ev = {
        .actor = "broker", .action = "subject_reindex", .outcome = "ok", .reason = why};
    audit_append(audit, bt, &ev);
    audit_checkpoint_now(audit, bt);
    if (store_commit(st, bt->w) == STORE_OK) {
        log_info("event=reindexed messages=%llu entries=%llu", (unsigned long long)msgs,
                 (unsigned long long)entries);
        status = 0;
    } else {
        log_error("event=reindex_failed reason=\"cannot write its audit record\"");
    }
    batch_free(&bt);
    audit_close(&audit);
leave:
    store_close(&st);
    config_free(&cfg);
    return status;
}
