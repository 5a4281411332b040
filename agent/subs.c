/* subs.c — subscriptions and their deliveries: a queue per subscription in
 * sequence order, one delivery at a time into the sink, the written record
 * committed before the Ack, a Nack and a backoff when the sink fails.
 * Not responsible for: the connection (agent.c) or writing (sink.c). */
#include "subs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "json.h"
#include "log.h"
#include "sink.h"
#include "util.h"

/* Deliveries handed to sinks per subscription per loop pass, so one busy
 * subscription cannot starve the others or the heartbeat. */
#define RUN_BUDGET 64
/* Waiting deliveries per subscription beyond which more are left unacked
 * (the broker sends them again): the credit bounds it in practice, this
 * bounds it against a broker that ignores credit. */
#define QUEUE_MAX (SUBS_CREDIT * 4)

enum sub_state { SUB_IDLE, SUB_PENDING, SUB_ACTIVE, SUB_REFUSED };

/* Crash points for the tests that prove a redelivery is not written twice
 * (tests/integration/2x). Set by LIAISON_AGENT_FAULT; off in normal runs. */
enum fault { FAULT_NONE, FAULT_AFTER_SINK, FAULT_AFTER_RECORD };

struct held {
    uint64_t seq;
    uint32_t conn; /* the connection it came on; acks go only to that one */
    int notice;
    char *json, *topic, *msg_id; /* owned; json == NULL means empty */
};

struct written {
    uint64_t seq;
    uint32_t conn;
};

struct sub {
    char *name, *pattern, *durable;
    char **subjects; /* the watchlist as configured, never logged; n_subjects */
    size_t n_subjects;
    char *where; /* the filter as configured, "" for none */
    sink_t *sink;
    enum sub_state state;
    uint32_t id;    /* sub_id on the current connection */
    uint64_t corr;  /* of its Subscribe */
    struct held *q; /* waiting, ascending seq */
    size_t n, cap;
    struct held run; /* in a running sink command */
    int64_t retry_at;
    backoff_t retry;
    struct written *done; /* written, to record then ack */
    size_t n_done, cap_done;
    int gone;                     /* removed by a reload, kept until its command ends */
    uint64_t n_written, n_failed; /* by its sink, since start: the agent's metrics */
};

/* A delete of one of the agent's durables, waiting for its answer. */
struct removal {
    uint64_t corr;
    char *name; /* owned */
};

struct subs {
    outbox_t *store;
    struct sub **all;
    size_t n;
    uint32_t conn; /* generation of the current connection; 0 when none */
    uint32_t next_id;
    int stopped;
    enum fault fault;
    /* Durables its config no longer names are deleted (at every
     * connection and reload): the list asked for, and the deletes sent. */
    uint64_t list_corr;
    struct removal *removals;
    size_t n_removals, cap_removals;
};

/* ---- small helpers ------------------------------------------------------------- */

static void held_free(struct held *h)
{
    free(h->json);
    free(h->topic);
    free(h->msg_id);
    memset(h, 0, sizeof *h);
}

static void queue_clear(struct sub *sub)
{
    for (size_t i = 0; i < sub->n; i++)
        held_free(&sub->q[i]);
    sub->n = 0;
}

static void sub_free(struct sub *sub)
{
    if (sub == NULL)
        return;
    queue_clear(sub);
    free(sub->q);
    held_free(&sub->run);
    sink_free(&sub->sink);
    free(sub->done);
    free(sub->name);
    free(sub->pattern);
    free(sub->durable);
    for (size_t i = 0; i < sub->n_subjects; i++)
        free(sub->subjects[i]);
    free(sub->subjects);
    free(sub->where);
    free(sub);
}

static struct sub *sub_new(const client_sub_t *c, char *err, size_t errlen)
{
    sink_t *sink = sink_new(c->sink, c->name, err, errlen);
    if (sink == NULL)
        return NULL;
    struct sub *sub = xcalloc(1, sizeof *sub);
    sub->name = xstrdup(c->name);
    sub->pattern = xstrdup(c->pattern);
    sub->durable = xstrdup(c->durable);
    sub->subjects = xcalloc(c->n_subjects ? c->n_subjects : 1, sizeof *sub->subjects);
    for (size_t i = 0; i < c->n_subjects; i++)
        sub->subjects[i] = xstrdup(c->subjects[i]);
    sub->n_subjects = c->n_subjects;
    sub->where = xstrdup(c->where);
    sub->sink = sink;
    backoff_init(&sub->retry, SUBS_RETRY_BASE_MS, SUBS_RETRY_CAP_MS);
    return sub;
}

static void send_ack(link_t *l, uint32_t id, uint64_t *seqs, size_t n)
{
    Liaison__Envelope env;
    Liaison__Ack ack = LIAISON__ACK__INIT;
    wire_envelope_init(&env, 0);
    ack.sub_id = id;
    ack.n_seqs = n;
    ack.seqs = seqs;
    env.kind_case = LIAISON__ENVELOPE__KIND_ACK;
    env.ack = &ack;
    link_send(l, &env);
}

static void send_nack(link_t *l, uint32_t id, uint64_t seq)
{
    Liaison__Envelope env;
    Liaison__Nack nack = LIAISON__NACK__INIT;
    wire_envelope_init(&env, 0);
    nack.sub_id = id;
    nack.n_seqs = 1;
    nack.seqs = &seq;
    nack.requeue = 1;
    env.kind_case = LIAISON__ENVELOPE__KIND_NACK;
    env.nack = &nack;
    link_send(l, &env);
}

/* A refusal, from the broker or (a Subscribe too large to send) from
 * here. Logged once per attempt, and attempts are bounded: the next
 * connection or a SIGHUP, never a timer, since most refusals (a filter the
 * broker reads differently, a watchlist on a broker without a subject_key)
 * last until someone changes a config. */
static void refused(struct sub *sub, Liaison__ErrorCode code, const char *why)
{
    sub->state = SUB_REFUSED;
    log_error("event=subscription_refused sub=%s pattern=%s durable=%s code=%s reason=%s "
              "action=\"tried again on the next connection or SIGHUP\"",
              log_q(sub->name), log_q(sub->pattern), log_q(sub->durable[0] ? sub->durable : "-"),
              wire_error_name(code), log_q(why));
}

static void send_subscribe(subs_t *s, struct sub *sub, link_t *l)
{
    Liaison__Envelope env;
    Liaison__Subscribe req = LIAISON__SUBSCRIBE__INIT;
    char why[160];
    sub->id = ++s->next_id;
    sub->corr = link_next_corr(l);
    wire_envelope_init(&env, sub->corr);
    req.sub_id = sub->id;
    req.pattern = sub->pattern;
    req.durable = sub->durable;
    req.credit = SUBS_CREDIT;
    /* The agent owns its durables: after a reconnect its own old
     * connection may still hold them until the broker reaps it. */
    req.take_over = sub->durable[0] != '\0';
    req.subjects = sub->subjects;
    req.n_subjects = sub->n_subjects;
    req.where = sub->where;
    env.kind_case = LIAISON__ENVELOPE__KIND_SUBSCRIBE;
    env.subscribe = &req;
    /* A long watchlist can outgrow a broker's max_frame_bytes, and a frame
     * far over it costs the connection, not just this subscription. */
    size_t size = wire_envelope_size(&env);
    uint32_t max = link_max_frame(l);
    if (max != 0 && size > max) {
        snprintf(why, sizeof why,
                 "the Subscribe is %zu bytes with its %zu subjects; the broker takes frames of "
                 "at most %u",
                 size, sub->n_subjects, max);
        refused(sub, LIAISON__ERROR_CODE__FRAME_TOO_LARGE, why);
        return;
    }
    sub->state = link_send(l, &env) == 0 ? SUB_PENDING : SUB_IDLE;
}

static void send_unsubscribe(link_t *l, uint32_t id)
{
    Liaison__Envelope env;
    Liaison__Unsubscribe req = LIAISON__UNSUBSCRIBE__INIT;
    wire_envelope_init(&env, 0);
    req.sub_id = id;
    env.kind_case = LIAISON__ENVELOPE__KIND_UNSUBSCRIBE;
    env.unsubscribe = &req;
    link_send(l, &env);
}

/* ---- durables no longer configured ---------------------------------------------- */

/* Asks the broker for this agent's own durables (no operator role needed);
 * the answer is compared with the config in on_durables. Sent after the
 * Subscribes and Unsubscribes of the same pass, so the broker has applied
 * them when it answers. */
static void ask_durables(subs_t *s, link_t *l)
{
    Liaison__Envelope env;
    Liaison__DurableRequest req = LIAISON__DURABLE_REQUEST__INIT;
    s->list_corr = link_next_corr(l);
    wire_envelope_init(&env, s->list_corr);
    req.action = (char *)(uintptr_t) "list";
    req.mine = 1;
    env.kind_case = LIAISON__ENVELOPE__KIND_DURABLE_REQUEST;
    env.durable_request = &req;
    if (link_send(l, &env) != 0)
        s->list_corr = 0;
}

static int configured(const subs_t *s, const char *durable)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->all[i]->gone && strcmp(s->all[i]->durable, durable) == 0)
            return 1;
    return 0;
}

static void remove_durable(subs_t *s, link_t *l, const char *name)
{
    Liaison__Envelope env;
    Liaison__DurableRequest req = LIAISON__DURABLE_REQUEST__INIT;
    uint64_t corr = link_next_corr(l);
    wire_envelope_init(&env, corr);
    req.action = (char *)(uintptr_t) "delete";
    req.durable = (char *)(uintptr_t)name;
    env.kind_case = LIAISON__ENVELOPE__KIND_DURABLE_REQUEST;
    env.durable_request = &req;
    if (link_send(l, &env) != 0)
        return; /* asked again at the next connection or reload */
    if (s->n_removals == s->cap_removals) {
        s->cap_removals = s->cap_removals ? s->cap_removals * 2 : 8;
        s->removals = xrealloc(s->removals, s->cap_removals * sizeof *s->removals);
    }
    s->removals[s->n_removals++] = (struct removal){corr, xstrdup(name)};
}

/* The broker's list of this agent's durables: each one no subscription
 * names any more would keep a backlog for ever. */
static void on_durables(subs_t *s, link_t *l, const char *json)
{
    char err[128];
    json_doc_t *doc = json_doc_parse(json ? json : "", err, sizeof err);
    if (doc == NULL) {
        log_warn("event=durables_unreadable reason=%s", log_q(err));
        return;
    }
    const json_doc_t *arr = json_doc_get(doc, "durables");
    for (size_t i = 0; i < json_doc_len(arr); i++) {
        const char *name = json_doc_str(json_doc_get(json_doc_at(arr, i), "durable"));
        if (name && name[0] && !configured(s, name))
            remove_durable(s, l, name);
    }
    json_doc_free(&doc);
}

/* The answer to a delete: 1 if corr was one. */
static int on_removal(subs_t *s, uint64_t corr, const Liaison__Error *e)
{
    for (size_t i = 0; i < s->n_removals; i++) {
        struct removal *r = &s->removals[i];
        if (r->corr != corr)
            continue;
        if (e == NULL)
            log_info("event=durable_removed name=%s reason=\"no subscription in agent.cfg "
                     "names it\"",
                     log_q(r->name));
        else
            log_warn("event=durable_remove_refused name=%s code=%s reason=%s "
                     "action=\"tried again on the next connection or SIGHUP\"",
                     log_q(r->name), wire_error_name(e->code), log_q(e->message ? e->message : ""));
        free(r->name);
        s->removals[i] = s->removals[--s->n_removals];
        return 1;
    }
    return 0;
}

/* ---- life ---------------------------------------------------------------------- */

subs_t *subs_new(const client_config_t *cfg, outbox_t *store, char *err, size_t errlen)
{
    subs_t *s = xcalloc(1, sizeof *s);
    s->store = store;
    s->all = xcalloc(cfg->n_subs ? cfg->n_subs : 1, sizeof *s->all);
    for (size_t i = 0; i < cfg->n_subs; i++) {
        struct sub *sub = sub_new(&cfg->subs[i], err, errlen);
        if (sub == NULL) {
            subs_free(&s);
            return NULL;
        }
        s->all[s->n++] = sub;
    }
    const char *f = getenv("LIAISON_AGENT_FAULT");
    if (f && strcmp(f, "exit-after-sink") == 0)
        s->fault = FAULT_AFTER_SINK;
    else if (f && strcmp(f, "exit-after-record") == 0)
        s->fault = FAULT_AFTER_RECORD;
    if (s->fault != FAULT_NONE)
        log_warn("event=fault_armed point=%s note=\"for tests only: the agent will exit at the "
                 "first delivery\"",
                 log_q(f));
    return s;
}

void subs_free(subs_t **sp)
{
    if (sp == NULL || *sp == NULL)
        return;
    subs_t *s = *sp;
    for (size_t i = 0; i < s->n; i++)
        sub_free(s->all[i]);
    free(s->all);
    for (size_t i = 0; i < s->n_removals; i++)
        free(s->removals[i].name);
    free(s->removals);
    free(s);
    *sp = NULL;
}

void subs_connected(subs_t *s, link_t *l, uint64_t broker_last_seq)
{
    if (++s->conn == 0)
        s->conn = 1;
    for (size_t i = 0; i < s->n; i++) {
        struct sub *sub = s->all[i];
        if (sub->gone)
            continue;
        outbox_written_forget_above(s->store, sub->name, broker_last_seq);
        send_subscribe(s, sub, l);
    }
    ask_durables(s, l);
}

void subs_disconnected(subs_t *s)
{
    s->conn = 0;
    s->list_corr = 0;
    for (size_t i = 0; i < s->n_removals; i++)
        free(s->removals[i].name);
    s->n_removals = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct sub *sub = s->all[i];
        queue_clear(sub);
        sub->state = SUB_IDLE;
        sub->id = 0;
        sub->retry_at = 0;
    }
}

/* ---- deliveries ---------------------------------------------------------------- */

static struct sub *find_active(subs_t *s, uint32_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->all[i]->gone && s->all[i]->state == SUB_ACTIVE && s->all[i]->id == id)
            return s->all[i];
    return NULL;
}

static void on_deliver(subs_t *s, link_t *l, const Liaison__Deliver *d)
{
    struct sub *sub = find_active(s, d->sub_id);
    if (sub == NULL || d->intel == NULL || d->intel->seq == 0 || s->stopped)
        return; /* unknown or ended subscription, or draining: left unacked */
    uint64_t seq = d->intel->seq;
    if (outbox_written_has(s->store, sub->name, seq) == 1) {
        /* Written before (the Ack was lost, or the agent died before
         * sending it): ack again, write nothing. */
        log_info("event=delivery_already_written sub=%s seq=%llu attempt=%u action=acked",
                 log_q(sub->name), (unsigned long long)seq, d->attempt);
        send_ack(l, sub->id, &seq, 1);
        return;
    }
    if (sub->run.json != NULL && sub->run.seq == seq) {
        /* Redelivered while its command runs (on a new connection, or after
         * an ack timeout): the command's outcome answers this delivery. */
        sub->run.conn = s->conn;
        return;
    }
    size_t at = sub->n;
    while (at > 0 && sub->q[at - 1].seq > seq)
        at--;
    if (at > 0 && sub->q[at - 1].seq == seq)
        return; /* already waiting (a redelivery after an ack timeout) */
    if (sub->n >= QUEUE_MAX) {
        log_warn("event=delivery_deferred sub=%s seq=%llu reason=\"%zu deliveries waiting\"",
                 log_q(sub->name), (unsigned long long)seq, sub->n);
        return;
    }
    if (sub->n == sub->cap) {
        sub->cap = sub->cap ? sub->cap * 2 : 16;
        sub->q = xrealloc(sub->q, sub->cap * sizeof *sub->q);
    }
    memmove(&sub->q[at + 1], &sub->q[at], (sub->n - at) * sizeof *sub->q);
    struct held *h = &sub->q[at];
    memset(h, 0, sizeof *h);
    h->seq = seq;
    h->conn = s->conn;
    h->notice = d->notice;
    h->json = json_from_delivery(d);
    h->topic = xstrdup(d->intel->topic);
    h->msg_id = xstrdup(d->intel->msg_id);
    sub->n++;
}

static struct sub *find_pending(subs_t *s, uint64_t corr)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->all[i]->gone && s->all[i]->state == SUB_PENDING && s->all[i]->corr == corr)
            return s->all[i];
    return NULL;
}

int subs_on_frame(subs_t *s, link_t *l, const Liaison__Envelope *env)
{
    struct sub *sub;
    switch (env->kind_case) {
    case LIAISON__ENVELOPE__KIND_DELIVER:
        on_deliver(s, l, env->deliver);
        return 1;
    case LIAISON__ENVELOPE__KIND_SUB_ACK:
        if ((sub = find_pending(s, env->corr_id)) == NULL)
            return 0;
        sub->state = SUB_ACTIVE;
        /* How many subjects it watches, as the broker logs it; which they
         * are, never. */
        log_info("event=subscribed sub=%s pattern=%s durable=%s sink=%s start_seq=%llu "
                 "filter=%d watching=%zu",
                 log_q(sub->name), log_q(sub->pattern), log_q(sub->durable[0] ? sub->durable : "-"),
                 log_q(sink_spec(sub->sink)), (unsigned long long)env->sub_ack->start_seq,
                 sub->where[0] != '\0', sub->n_subjects);
        return 1;
    case LIAISON__ENVELOPE__KIND_STATUS_REPLY:
        if (s->list_corr != 0 && env->corr_id == s->list_corr) {
            s->list_corr = 0;
            on_durables(s, l, env->status_reply->json);
            return 1;
        }
        return on_removal(s, env->corr_id, NULL);
    case LIAISON__ENVELOPE__KIND_ERROR:
        if (s->list_corr != 0 && env->corr_id == s->list_corr) {
            /* A broker from before durable feeds could be managed. */
            s->list_corr = 0;
            log_warn("event=durables_list_refused code=%s reason=%s",
                     wire_error_name(env->error->code),
                     log_q(env->error->message ? env->error->message : ""));
            return 1;
        }
        if (on_removal(s, env->corr_id, env->error))
            return 1;
        if (env->error->code == LIAISON__ERROR_CODE__DURABLE_DELETED) {
            log_warn("event=durable_deleted reason=%s action=\"subscribed again on the "
                     "next connection or SIGHUP\"",
                     log_q(env->error->message ? env->error->message : ""));
            return 1;
        }
        if (env->error->code == LIAISON__ERROR_CODE__TAKEN_OVER) {
            /* Someone else with this agency's key took a durable feed
             * over: this agent receives nothing on it any more. */
            log_warn("event=durable_taken_over reason=%s action=\"taken back on the next "
                     "connection or SIGHUP\"",
                     log_q(env->error->message ? env->error->message : ""));
            return 1;
        }
        if ((sub = find_pending(s, env->corr_id)) == NULL)
            return 0;
        refused(sub, env->error->code, env->error->message ? env->error->message : "");
        return 1;
    default:
        return 0;
    }
}

static void done_add(struct sub *sub, uint64_t seq, uint32_t conn)
{
    if (sub->n_done == sub->cap_done) {
        sub->cap_done = sub->cap_done ? sub->cap_done * 2 : 16;
        sub->done = xrealloc(sub->done, sub->cap_done * sizeof *sub->done);
    }
    sub->done[sub->n_done].seq = seq;
    sub->done[sub->n_done].conn = conn;
    sub->n_done++;
}

static void crash_if(subs_t *s, enum fault point, const char *name)
{
    if (s->fault != point)
        return;
    log_warn("event=fault_injected point=%s action=exit", log_q(name));
    _exit(99); /* a crash: no cleanup, no acks, nothing flushed by us */
}

/* Records what was written, then acks what came on this connection: the
 * order that turns a crash into a redelivery rather than a loss. */
static void flush(subs_t *s, struct sub *sub, link_t *l)
{
    if (sub->n_done == 0)
        return;
    crash_if(s, FAULT_AFTER_SINK, "exit-after-sink");
    uint64_t *seqs = xmalloc(sub->n_done * sizeof *seqs);
    size_t n_ack = 0;
    for (size_t i = 0; i < sub->n_done; i++)
        seqs[i] = sub->done[i].seq;
    if (outbox_written_add(s->store, sub->name, seqs, sub->n_done) != OUTBOX_OK) {
        /* Unrecorded means unacked: the broker sends them again and a dir:
         * sink recognises its files; the error is logged by the store. */
        sub->n_done = 0;
        free(seqs);
        return;
    }
    crash_if(s, FAULT_AFTER_RECORD, "exit-after-record");
    for (size_t i = 0; i < sub->n_done; i++)
        if (sub->done[i].conn == s->conn && s->conn != 0)
            seqs[n_ack++] = sub->done[i].seq;
    if (n_ack > 0 && l != NULL && sub->state == SUB_ACTIVE && !sub->gone)
        send_ack(l, sub->id, seqs, n_ack);
    sub->n_done = 0;
    free(seqs);
}

static void wrote(struct sub *sub, struct held *h)
{
    log_info("event=delivered sub=%s seq=%llu msg_id=%s sink=%s%s", log_q(sub->name),
             (unsigned long long)h->seq, log_q(h->msg_id), log_q(sink_spec(sub->sink)),
             h->notice ? " notice=1" : "");
    done_add(sub, h->seq, h->conn);
    sub->n_written++;
    backoff_reset(&sub->retry);
    held_free(h);
}

static void failed(subs_t *s, struct sub *sub, link_t *l, struct held *h, const char *why,
                   int64_t now)
{
    int64_t delay = backoff_next(&sub->retry);
    sub->n_failed++;
    int nack =
        h->conn == s->conn && s->conn != 0 && l != NULL && sub->state == SUB_ACTIVE && !sub->gone;
    log_warn("event=sink_failed sub=%s seq=%llu reason=%s action=%s retry_in_ms=%lld",
             log_q(sub->name), (unsigned long long)h->seq, log_q(why), nack ? "nack" : "none",
             (long long)delay);
    /* The Nack gives the message back to the broker, which counts the
     * attempt and sends it again; holding the subscription until the retry
     * time keeps a failing sink from spinning and keeps the order. */
    if (nack)
        send_nack(l, sub->id, h->seq);
    sub->retry_at = now + delay;
    held_free(h);
}

static int64_t run_one(subs_t *s, struct sub *sub, link_t *l, int64_t now)
{
    char why[512];
    int64_t due = -1;
    if (sub->run.json != NULL) {
        int rc = sink_poll(sub->sink, why, sizeof why);
        if (rc == SINK_RUNNING)
            return sink_deadline_in(sub->sink, now);
        if (rc == SINK_DONE)
            wrote(sub, &sub->run);
        else
            failed(s, sub, l, &sub->run, why, now);
    }
    for (int budget = RUN_BUDGET;
         budget > 0 && !s->stopped && sub->run.json == NULL && sub->n > 0 && now >= sub->retry_at;
         budget--) {
        struct held h = sub->q[0];
        memmove(&sub->q[0], &sub->q[1], (sub->n - 1) * sizeof *sub->q);
        sub->n--;
        if (sink_has(sub->sink, h.seq)) {
            /* The agent died after the rename and before its record. */
            log_info("event=delivery_already_in_sink sub=%s seq=%llu", log_q(sub->name),
                     (unsigned long long)h.seq);
            done_add(sub, h.seq, h.conn);
            held_free(&h);
            continue;
        }
        sink_item_t item = {
            .seq = h.seq, .topic = h.topic, .msg_id = h.msg_id, .notice = h.notice, .json = h.json};
        int rc = sink_put(sub->sink, &item, why, sizeof why);
        if (rc == SINK_DONE) {
            wrote(sub, &h);
        } else if (rc == SINK_RUNNING) {
            sub->run = h;
            due = sink_deadline_in(sub->sink, now);
        } else {
            failed(s, sub, l, &h, why, now);
        }
    }
    flush(s, sub, l);
    if (sub->run.json == NULL && sub->n > 0) {
        int64_t wait = sub->retry_at > now ? sub->retry_at - now : 0;
        due = due < 0 || wait < due ? wait : due;
    }
    return due;
}

int64_t subs_run(subs_t *s, link_t *l, int64_t now_ms)
{
    int64_t due = -1;
    for (size_t i = 0; i < s->n;) {
        struct sub *sub = s->all[i];
        int64_t d = run_one(s, sub, l, now_ms);
        if (d >= 0 && (due < 0 || d < due))
            due = d;
        if (sub->gone && sub->run.json == NULL) {
            sub_free(sub);
            s->all[i] = s->all[--s->n];
            continue;
        }
        i++;
    }
    return due;
}

/* ---- reload and drain -------------------------------------------------------- */

static struct sub *find_named(subs_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->all[i]->gone && strcmp(s->all[i]->name, name) == 0)
            return s->all[i];
    return NULL;
}

static int same(const struct sub *sub, const client_sub_t *c)
{
    if (strcmp(sub->pattern, c->pattern) != 0 || strcmp(sub->durable, c->durable) != 0 ||
        strcmp(sink_spec(sub->sink), c->sink) != 0 || strcmp(sub->where, c->where) != 0 ||
        sub->n_subjects != c->n_subjects)
        return 0;
    /* In order: a subjects_file read again unchanged is the same watchlist;
     * one merely reordered is subscribed again, like any changed one. */
    for (size_t i = 0; i < sub->n_subjects; i++)
        if (strcmp(sub->subjects[i], c->subjects[i]) != 0)
            return 0;
    return 1;
}

int subs_reload(subs_t *s, link_t *l, const client_config_t *cfg, char *err, size_t errlen)
{
    /* New subscriptions are built first, so a bad sink changes nothing. */
    struct sub **fresh = xcalloc(cfg->n_subs ? cfg->n_subs : 1, sizeof *fresh);
    for (size_t i = 0; i < cfg->n_subs; i++) {
        struct sub *old = find_named(s, cfg->subs[i].name);
        if (old && same(old, &cfg->subs[i]))
            continue;
        if ((fresh[i] = sub_new(&cfg->subs[i], err, errlen)) == NULL) {
            for (size_t j = 0; j < i; j++)
                sub_free(fresh[j]);
            free(fresh);
            return -1;
        }
    }
    /* Retire what is no longer configured as it is. */
    for (size_t i = 0; i < s->n; i++) {
        struct sub *sub = s->all[i];
        int keep = 0;
        for (size_t j = 0; j < cfg->n_subs && !keep && !sub->gone; j++)
            keep = fresh[j] == NULL && strcmp(cfg->subs[j].name, sub->name) == 0;
        if (keep || sub->gone)
            continue;
        if (l != NULL && (sub->state == SUB_ACTIVE || sub->state == SUB_PENDING))
            send_unsubscribe(l, sub->id);
        log_info("event=unsubscribed sub=%s pattern=%s reason=reload", log_q(sub->name),
                 log_q(sub->pattern));
        queue_clear(sub);
        sub->gone = 1;
        sub->state = SUB_IDLE;
    }
    s->all = xrealloc(s->all, (s->n + cfg->n_subs + 1) * sizeof *s->all);
    for (size_t i = 0; i < cfg->n_subs; i++) {
        if (fresh[i] == NULL)
            continue;
        s->all[s->n++] = fresh[i];
        if (l != NULL && s->conn != 0)
            send_subscribe(s, fresh[i], l);
    }
    /* Refused ones get another chance: the broker's config may have moved. */
    for (size_t i = 0; i < s->n; i++)
        if (!s->all[i]->gone && s->all[i]->state == SUB_REFUSED && l != NULL && s->conn != 0)
            send_subscribe(s, s->all[i], l);
    /* What it no longer names goes (after the Unsubscribes above). */
    if (l != NULL && s->conn != 0)
        ask_durables(s, l);
    free(fresh);
    return 0;
}

int subs_busy(const subs_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->all[i]->run.json != NULL)
            return 1;
    return 0;
}

void subs_stop(subs_t *s)
{
    s->stopped = 1;
    for (size_t i = 0; i < s->n; i++)
        queue_clear(s->all[i]);
}

void subs_cancel(subs_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct sub *sub = s->all[i];
        if (sub->run.json == NULL)
            continue;
        sink_cancel(sub->sink);
        held_free(&sub->run);
    }
}

void subs_each(const subs_t *s, subs_each_fn fn, void *ctx)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct sub *sub = s->all[i];
        if (!sub->gone)
            fn(sub->name, sink_spec(sub->sink), sub->state == SUB_ACTIVE, sub->n_written,
               sub->n_failed, ctx);
    }
}
