/* publish.c — the outbox on the wire: in order, a window in flight, each
 * entry settled by the broker's answer to its correlation id.
 * Not responsible for: reconnecting (agent.c) or what a refusal does to a
 * spool file (spool_refused). */
#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "log.h"
#include "util.h"

/* A broker that cannot store (full map, failing disk) is asked again after
 * this backoff, starting at the first message it has not acked. */
#define PAUSE_BASE_MS 1000
#define PAUSE_CAP_MS  30000

struct flight {
    uint64_t corr;
    uint64_t id;
    char *msg_id;
    char *source;
};

struct publish {
    outbox_t *outbox;
    spool_t *spool;
    struct flight flights[PUBLISH_WINDOW]; /* in send order */
    size_t n_flights;
    uint64_t last_sent; /* outbox id of the newest entry sent on this connection */
    uint64_t *settled;  /* ids PubAcked, to remove in one transaction */
    size_t n_settled, cap_settled;
    int64_t paused_until;
    backoff_t pause;
    uint64_t n_acked, n_refused, n_deferred; /* since start, for the agent's metrics */
};

publish_t *publish_new(outbox_t *o, spool_t *spool)
{
    publish_t *p = xcalloc(1, sizeof *p);
    p->outbox = o;
    p->spool = spool;
    backoff_init(&p->pause, PAUSE_BASE_MS, PAUSE_CAP_MS);
    return p;
}

static void flight_free(struct flight *f)
{
    free(f->msg_id);
    free(f->source);
    memset(f, 0, sizeof *f);
}

static void flights_clear(publish_t *p)
{
    for (size_t i = 0; i < p->n_flights; i++)
        flight_free(&p->flights[i]);
    p->n_flights = 0;
}

void publish_free(publish_t **pp)
{
    if (pp == NULL || *pp == NULL)
        return;
    publish_t *p = *pp;
    flights_clear(p);
    free(p->settled);
    free(p);
    *pp = NULL;
}

void publish_reset(publish_t *p)
{
    publish_settle(p);
    flights_clear(p);
    p->last_sent = 0;
    p->paused_until = 0;
}

size_t publish_in_flight(const publish_t *p)
{
    return p->n_flights;
}

int64_t publish_due_in(const publish_t *p, int64_t now_ms)
{
    if (p->paused_until == 0)
        return -1;
    return p->paused_until > now_ms ? p->paused_until - now_ms : 0;
}

/* Takes back the flights recorded since n0 (their Batch was not sent):
 * they go again from the outbox on a later pass. */
static void flights_unsend(publish_t *p, size_t n0, uint64_t last_sent0)
{
    while (p->n_flights > n0)
        flight_free(&p->flights[--p->n_flights]);
    p->last_sent = last_sent0;
}

int publish_send(publish_t *p, link_t *l, int64_t now_ms)
{
    if (p->paused_until != 0) {
        if (now_ms < p->paused_until)
            return 0;
        p->paused_until = 0;
    }
    /* What this pass sends goes as one Batch frame. */
    size_t n0 = p->n_flights;
    uint64_t last_sent0 = p->last_sent;
    int rc = 0;
    link_gather(l);
    while (p->n_flights < PUBLISH_WINDOW) {
        outbox_entry_t e;
        if (outbox_next(p->outbox, p->last_sent, &e) != OUTBOX_OK)
            break; /* empty, or an LMDB error already logged: tried again next pass */
        Liaison__Envelope env;
        Liaison__Publish pub = LIAISON__PUBLISH__INIT;
        uint64_t corr = link_next_corr(l);
        wire_envelope_init(&env, corr);
        pub.intel = e.m;
        env.kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
        env.publish = &pub;
        rc = link_try_send(l, &env);
        if (rc != 0) {
            /* Not now (a full queue or a full batch): this entry goes on
             * a later pass, when the broker has read what is queued. */
            outbox_entry_clear(&e);
            break;
        }
        struct flight *f = &p->flights[p->n_flights++];
        f->corr = corr;
        f->id = e.id;
        f->msg_id = xstrdup(e.m->msg_id);
        f->source = e.source;
        e.source = NULL;
        p->last_sent = e.id;
        log_debug("event=publish_gathered msg_id=%s outbox_id=%llu", log_q(f->msg_id),
                  (unsigned long long)f->id);
        outbox_entry_clear(&e);
    }
    int sent = link_flush(l, 0);
    if (sent != 0) {
        flights_unsend(p, n0, last_sent0);
        return sent < 0 ? -1 : 0;
    }
    return rc < 0 ? -1 : 0;
}

static struct flight *flight_find(publish_t *p, uint64_t corr, size_t *at)
{
    for (size_t i = 0; i < p->n_flights; i++) {
        if (p->flights[i].corr == corr) {
            *at = i;
            return &p->flights[i];
        }
    }
    return NULL;
}

static void flight_drop(publish_t *p, size_t at)
{
    flight_free(&p->flights[at]);
    memmove(&p->flights[at], &p->flights[at + 1], (p->n_flights - at - 1) * sizeof *p->flights);
    p->n_flights--;
}

/* Errors that a later try can cure: the broker's store, or our standing on
 * the broker (which the operator may restore). Everything else is about
 * the message itself and would be refused again for ever. */
static int transient(Liaison__ErrorCode code)
{
    switch (code) {
    case LIAISON__ERROR_CODE__STORE_FULL:
    case LIAISON__ERROR_CODE__STORE_FAILED:
    case LIAISON__ERROR_CODE__INTERNAL:
    case LIAISON__ERROR_CODE__NOT_WELCOMED:
    case LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED:
        return 1;
    default:
        return 0;
    }
}

int publish_on_frame(publish_t *p, const Liaison__Envelope *env, int64_t now_ms)
{
    size_t at;
    struct flight *f;
    if (env->kind_case == LIAISON__ENVELOPE__KIND_PUB_ACK) {
        if ((f = flight_find(p, env->corr_id, &at)) == NULL)
            return 1; /* from before a reset: the resend gets its own answer */
        log_info("event=published msg_id=%s seq=%llu duplicate=%d", log_q(f->msg_id),
                 (unsigned long long)env->pub_ack->seq, env->pub_ack->duplicate ? 1 : 0);
        if (p->n_settled == p->cap_settled) {
            p->cap_settled = p->cap_settled ? p->cap_settled * 2 : 64;
            p->settled = xrealloc(p->settled, p->cap_settled * sizeof *p->settled);
        }
        p->settled[p->n_settled++] = f->id;
        p->n_acked++;
        flight_drop(p, at);
        backoff_reset(&p->pause);
        return 1;
    }
    if (env->kind_case != LIAISON__ENVELOPE__KIND_ERROR ||
        (f = flight_find(p, env->corr_id, &at)) == NULL)
        return 0;
    const Liaison__Error *e = env->error;
    if (transient(e->code)) {
        /* Everything from the first unanswered entry is sent again after
         * the pause; answers still coming for the rest are then ignored and
         * the broker's dedup answers the resends. */
        int64_t delay = backoff_next(&p->pause);
        p->n_deferred++;
        log_warn("event=publish_deferred msg_id=%s code=%s reason=%s retry_in_ms=%lld",
                 log_q(f->msg_id), wire_error_name(e->code), log_q(e->message ? e->message : ""),
                 (long long)delay);
        publish_settle(p); /* or what was acked would be sent again */
        flights_clear(p);
        p->last_sent = 0;
        p->paused_until = now_ms + delay;
        return 1;
    }
    char why[1200];
    snprintf(why, sizeof why, "%s: %s", wire_error_name(e->code), e->message ? e->message : "");
    log_error("event=publish_refused msg_id=%s file=%s code=%s reason=%s action=\"removed "
              "from the outbox\"",
              log_q(f->msg_id), log_q(f->source && f->source[0] ? f->source : "-"),
              wire_error_name(e->code), log_q(e->message ? e->message : ""));
    p->n_refused++;
    if (outbox_refused(p->outbox, f->id, f->msg_id) == OUTBOX_OK && p->spool != NULL)
        spool_refused(p->spool, f->source, why);
    flight_drop(p, at);
    return 1;
}

void publish_settle(publish_t *p)
{
    if (p->n_settled == 0)
        return;
    /* On failure the entries stay and are sent again on the next
     * connection; the broker answers those from its dedup. */
    outbox_remove(p->outbox, p->settled, p->n_settled);
    p->n_settled = 0;
}

void publish_counts(const publish_t *p, uint64_t *acked, uint64_t *refused, uint64_t *deferred)
{
    *acked = p->n_acked;
    *refused = p->n_refused;
    *deferred = p->n_deferred;
}
