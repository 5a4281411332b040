/* commit.c — the committer thread and the end of every batch.
 *
 * The loop thread never holds a write transaction. It fills batch N+1
 * (decode, validate, policy, sequence numbers, audit chain, planned frames)
 * while this file's thread applies batch N's write set in one LMDB
 * transaction and syncs it. The thread tells the loop by an eventfd the
 * loop polls; only then, on the loop thread, does batch N release what
 * waited on it. So "acked" still means on disk, and nothing a batch holds
 * leaves before its records do.
 *
 * Failure: a full map refuses the batch and, since the open batch was
 * numbered and chained on top of it, that one too; the loop's state goes
 * back to what is committed: each delivery, notice, dead letter and
 * replay's end the batches planned is planned again, and nothing they took
 * out of a window is lost (undo, from the frames fanout.c leaves in them),
 * and what writes pauses until a try commits (room.c). An I/O error is
 * fatal: after a failed sync the kernel may have dropped the dirty pages,
 * so nothing is retried; the broker refuses what waited and stops, and a
 * restart recovers from disk.
 * Not responsible for: what goes into a batch, or when to try again
 * (room.c). */
#include "commit.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "control.h"
#include "fanout.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "retention.h"
#include "uplink.h"
#include "room.h"
#include "util.h"

struct committer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    store_t *st;
    batch_t *job; /* submitted, or done and not yet taken */
    int done, rc; /* job's result, once done */
    int stop;
    int grow; /* store_grow may have a chunk to write, between batches */
    int efd;
};

static void *committer_main(void *arg)
{
    committer_t *c = arg;
    /* Its own name in top -H and perf, beside the loop and ZMQbg. */
    pthread_setname_np(pthread_self(), "committer");
    pthread_mutex_lock(&c->mu);
    c->grow = 1;
    for (;;) {
        while (!c->stop && (c->job == NULL || c->done)) {
            if (!c->grow) {
                pthread_cond_wait(&c->cv, &c->mu);
                continue;
            }
            /* Between batches, a chunk at a time: a batch given meanwhile
             * waits for one chunk at most. */
            pthread_mutex_unlock(&c->mu);
            int more = store_grow(c->st);
            pthread_mutex_lock(&c->mu);
            c->grow = more;
        }
        if (c->stop)
            break;
        batch_t *bt = c->job;
        pthread_mutex_unlock(&c->mu);
        double t0 = metrics_clock();
        int rc = store_wset_count(bt->w) ? store_commit(c->st, bt->w) : STORE_OK;
        if (rc == STORE_OK && store_wset_count(bt->w))
            store_room_update(c->st);
        bt->commit_s = metrics_clock() - t0;
        pthread_mutex_lock(&c->mu);
        c->rc = rc;
        c->grow = rc == STORE_OK;
        __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
        uint64_t one = 1;
        if (write(c->efd, &one, sizeof one) < 0)
            log_error("event=committer_signal_failed error=%s", log_q(strerror(errno)));
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

committer_t *committer_start(store_t *st, char *err, size_t errlen)
{
    committer_t *c = xcalloc(1, sizeof *c);
    c->st = st;
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->thread, NULL, committer_main, c) != 0) {
        snprintf(err, errlen, "cannot start the committer thread");
        close(c->efd);
        free(c);
        return NULL;
    }
    return c;
}

void committer_stop(committer_t **cp)
{
    if (cp == NULL || *cp == NULL)
        return;
    committer_t *c = *cp;
    pthread_mutex_lock(&c->mu);
    /* A batch being applied is finished first: the thread only looks at
     * stop between batches. */
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    close(c->efd);
    free(c);
    *cp = NULL;
}

int committer_fd(const committer_t *c)
{
    return c->efd;
}

static void committer_give(committer_t *c, batch_t *bt)
{
    pthread_mutex_lock(&c->mu);
    c->job = bt;
    __atomic_store_n(&c->done, 0, __ATOMIC_RELAXED);
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* The finished batch and its rc, or NULL while it is still being applied. */
static batch_t *committer_take(committer_t *c, int wait, int *rc)
{
    uint64_t n;
    if (wait) {
        struct pollfd p = {.fd = c->efd, .events = POLLIN};
        while (poll(&p, 1, -1) < 0 && errno == EINTR)
            ;
    }
    if (read(c->efd, &n, sizeof n) < 0 && errno != EAGAIN)
        log_error("event=committer_read_failed error=%s", log_q(strerror(errno)));
    pthread_mutex_lock(&c->mu);
    batch_t *bt = NULL;
    if (c->job && c->done) {
        bt = c->job;
        *rc = c->rc;
        c->job = NULL;
        __atomic_store_n(&c->done, 0, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&c->mu);
    return bt;
}

int commit_idle(broker_t *b)
{
    if (b->inflight == NULL)
        return 1;
    /* Asked after every Envelope of a pass: a load, not the lock. A stale
     * 0 only ends the pass later; a 1 is taken under the lock. */
    return __atomic_load_n(&b->committer->done, __ATOMIC_ACQUIRE);
}

void commit_submit(broker_t *b)
{
    audit_gather_end(b->audit, b->open); /* the records of what was gathered go with it */
    if (b->open->try_kind && batch_empty(b->open))
        room_try_empty(b); /* nothing needed room this time */
    if (b->inflight || b->fatal || batch_empty(b->open))
        return;
    b->inflight = b->open;
    int i = b->spare[1] != NULL;
    b->open = b->spare[i] ? b->spare[i] : batch_new();
    b->spare[i] = NULL;
    committer_give(b->committer, b->inflight);
}

/* On disk now: only from here may a PubAck say so, and a Deliver or a
 * consultation reply leave. */
static void release(broker_t *b, batch_t *bt)
{
    audit_committed(b->audit, bt);
    control_committed(b, bt);
    if (store_wset_count(bt->w)) {
        b->stats.commits++;
        metrics_observe_commit(b->metrics, bt->commit_s);
    }
    for (size_t i = 0; i < bt->n_pubs; i++) {
        const struct batch_pub *p = &bt->pubs[i];
        b->stats.publishes++;
        retention_note(b->retention, b->cfg, p->intel, p->len);
        reply_puback_to(b, batch_bytes(bt, p->rid_off), p->rid_len, p->corr_id, p->seq,
                        batch_msg_id(bt, p), 0);
    }
    for (size_t i = 0; i < bt->n_frames; i++) {
        const struct batch_frame *f = &bt->frames[i];
        if (f->kind == BATCH_UPLINK) {
            uplink_send(b, (int)f->sub_id, batch_bytes(bt, f->off), f->len);
            continue;
        }
        if (f->kind == BATCH_DEAD_LETTER) {
            const char *agent = (const char *)batch_bytes(bt, f->off);
            log_warn("event=dead_letter agent=%s sub=%u seq=%llu reason=%s", log_q(agent),
                     f->sub_id, (unsigned long long)f->seq, log_q(agent + strlen(agent) + 1));
            continue;
        }
        if (f->kind == BATCH_WITHDRAWN || f->kind == BATCH_REWIND)
            continue; /* nothing to send: they matter only if a batch fails */
        session_t *s = sessions_find(b->sessions, batch_bytes(bt, f->rid_off), f->rid_len);
        if (s == NULL || s->dead)
            continue; /* a delivery stays unacked: sent again from the cursor on return */
        /* A full peer queue leaves a delivery unacked in the window; the
         * ack timeout sends it again. */
        session_gather(b->router, b->sessions, s, batch_bytes(bt, f->off), f->len);
    }
    sessions_flush(b->sessions, b->router);
    uplinks_flush(b);
}

/* A subscription's state goes back to before the batch that failed: each
 * planned delivery is planned again, each entry it took out of the window
 * put back, and its counts are undone. */
static void undo(broker_t *b, session_t *s, sub_t *sub, const struct batch_frame *f)
{
    switch ((enum batch_frame_kind)f->kind) {
    case BATCH_DELIVER:
        if (f->notice)
            b->stats.notices--;
        else
            b->stats.deliveries--;
        s->delivered--;
        if (f->in_window) {
            /* It was in the window before: it stays, due again at once. */
            struct inflight *fl = sub_inflight(sub, f->seq);
            if (fl) {
                sub_unattempted(sub, fl);
                sub_set_due(sub, fl, 0);
            }
            if (f->first) {
                sub->delivered--;
            } else {
                sub->redelivered--;
                b->stats.redeliveries--;
            }
            break;
        }
        /* Put in the window by this batch: it goes, and the subscription
         * reaches it again from the store. */
        sub_forget(sub, f->seq);
        sub->delivered--;
        if (sub->next_seq == SUB_AT_TAIL || f->seq < sub->next_seq)
            sub->next_seq = f->seq;
        break;
    case BATCH_REPLAY_DONE:
        /* Caught up again from where it was, and told then. */
        sub->report_done = 1;
        if (sub->next_seq == SUB_AT_TAIL || f->seq < sub->next_seq)
            sub->next_seq = f->seq;
        break;
    case BATCH_DEAD_LETTER:
        sub->dead_lettered--;
        b->stats.dead_letters--;
        sub_restore(sub, f->seq, f->count, f->rejected);
        break;
    case BATCH_WITHDRAWN:
        sub->refused--;
        b->stats.delivery_refused--;
        sub_restore(sub, f->seq, f->count, 0);
        break;
    case BATCH_REWIND:
        sub->refused -= f->count;
        b->stats.delivery_refused -= f->count;
        sub_forget_from(sub, f->seq);
        if (sub->next_seq == SUB_AT_TAIL || f->seq < sub->next_seq)
            sub->next_seq = f->seq;
        break;
    case BATCH_REPLY:
    case BATCH_DUP_ACK:
    case BATCH_NOTICE:
    case BATCH_UPLINK:
        break;
    }
}

static void refuse(broker_t *b, batch_t *bt, Liaison__ErrorCode code, const char *why)
{
    for (size_t i = 0; i < bt->n_pubs; i++) {
        const struct batch_pub *p = &bt->pubs[i];
        session_t *s = sessions_find(b->sessions, batch_bytes(bt, p->rid_off), p->rid_len);
        if (s) {
            reply_error(b, s, p->corr_id, code, batch_msg_id(bt, p), why);
            s->publish_refused++;
        }
        b->stats.publish_refused++;
    }
    for (size_t i = 0; i < bt->n_frames; i++) {
        const struct batch_frame *f = &bt->frames[i];
        session_t *s = sessions_find(b->sessions, batch_bytes(bt, f->rid_off), f->rid_len);
        if (s == NULL)
            continue;
        if (f->kind == BATCH_DUP_ACK && f->seq <= store_last_seq(b->store)) {
            session_send(b->router, s, batch_bytes(bt, f->off),
                         f->len); /* its original is stored */
            continue;
        }
        if (f->kind == BATCH_NOTICE || f->kind == BATCH_UPLINK)
            continue; /* its record failed with it: as if it never happened */
        if (f->kind == BATCH_REPLY || f->kind == BATCH_DUP_ACK) {
            reply_error(b, s, f->corr_id,
                        f->kind == BATCH_REPLY ? LIAISON__ERROR_CODE__STORE_FAILED : code, NULL,
                        f->kind == BATCH_REPLY ? "the record of this request could not be stored"
                                               : why);
            continue;
        }
        sub_t *sub = session_sub_find(s, f->sub_id);
        if (sub)
            undo(b, s, sub, f);
    }
    batch_reset(bt);
    /* What it planned is planned again: the next pass looks at every
     * subscription, not only the busy ones. */
    fanout_scan_all(b);
}

/* Both uncommitted batches are refused: everything goes on from what is
 * on disk. */
static void refuse_all(broker_t *b, batch_t *failed, int rc)
{
    Liaison__ErrorCode code =
        rc == STORE_FULL ? LIAISON__ERROR_CODE__STORE_FULL : LIAISON__ERROR_CODE__STORE_FAILED;
    const char *why = rc == STORE_FULL ? "store full: publish refused, nothing stored is lost"
                                       : "store error: publish refused";
    batch_fail(failed, rc);
    batch_fail(b->open, rc);
    refuse(b, failed, code, why);
    refuse(b, b->open, code, why);
    uint64_t next = store_last_seq(b->store) + 1;
    b->next_seq = next;
    /* What committed unplanned (a pass that could not plan let its batch
     * go) is still to plan. */
    if (b->planned > next - 1)
        b->planned = next - 1;
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *s = sessions_at(b->sessions, i);
        for (size_t j = 0; j < s->n_subs; j++) {
            sub_t *sub = s->subs[j];
            /* The refused messages are gone, and their numbers go to the
             * next ones stored: nothing of theirs may stay in a window
             * (held under an embargo, say). */
            sub_forget_from(sub, next);
            if (sub->next_seq != SUB_AT_TAIL && sub->next_seq > next)
                sub->next_seq = next;
            /* Cursor writes in the lost batches must be written again. */
            sub->floor_written = UINT64_MAX;
        }
    }
    audit_rollback(b->audit);
    retention_invalidate(b->retention);
    uplinks_rollback(b);
}

int commit_reap(broker_t *b, int wait)
{
    if (b->inflight == NULL)
        return 0;
    int rc = STORE_OK;
    batch_t *bt = committer_take(b->committer, wait, &rc);
    if (bt == NULL)
        return 0;
    b->inflight = NULL;
    if (rc == STORE_OK) {
        room_committed(b, bt->try_kind);
        /* The next batch goes to disk first, so its commit overlaps the
         * sending of this one's replies. It was numbered and chained on
         * this one, which is now on disk. */
        commit_submit(b);
        release(b, bt);
    } else {
        int was_try = bt->try_kind;
        b->stats.commits_refused++;
        refuse_all(b, bt, rc);
        if (rc == STORE_FULL)
            room_refused(b, was_try);
        if (rc == STORE_ERR) {
            log_error("event=commit_failed action=\"stopping: nothing is retried after a "
                      "failed write; a restart recovers what is on disk\"");
            b->fatal = 1;
        }
    }
    batch_reset(bt);
    if (b->spare[0] == NULL)
        b->spare[0] = bt;
    else if (b->spare[1] == NULL)
        b->spare[1] = bt;
    else
        batch_free(&bt);
    return 1;
}

void commit_drain(broker_t *b)
{
    while (!b->fatal && (b->inflight || !batch_empty(b->open))) {
        commit_submit(b);
        commit_reap(b, 1);
    }
}
