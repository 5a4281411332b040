/* fanout.c — plan, redeliver, notice, from batch or store.
 *
 * The store is the queue: a subscription is a cursor into it plus a window
 * of unacked deliveries, so a slow subscriber costs disk, not memory. A
 * subscription that has seen everything planned so far is "at the tail"
 * (next_seq SUB_AT_TAIL): new messages reach it through the subscription
 * index only, so idle subscriptions cost nothing per message. One that is
 * behind (no credit, a replay, a durable resume) walks the store from its
 * cursor, a bounded number of messages per pass, and rejoins the tail when
 * it catches up.
 * Messages still in an uncommitted batch are read from it, decoded once;
 * older ones from the pass's snapshot, decoded once per pass through a
 * small cache. Each decision writes a record, so none is planned when the
 * store's room is down to its floor (room.c): what waits is planned when
 * room is back, as if the window were full. Should a batch be refused
 * anyway, what it planned is undone (commit.c) with the help of the
 * frames this file leaves in it: nothing it took from a window is lost.
 * Not responsible for: the rule (policy.c) or sending (commit.c). */
#include "fanout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "filter.h"
#include "label.h"
#include "log.h"
#include "policy.h"
#include "route.h"
#include "subjects.h"
#include "room.h"
#include "topic.h"
#include "util.h"

/* How many stored messages one subscription may examine per loop pass, so
 * a subscriber far behind cannot hold up everyone else. */
#define PUMP_BUDGET       4096
#define FETCH_UNDECODABLE 2
#define CACHE_SLOTS       512 /* decoded store messages kept for one pass */
/* Past this, the cache's arena is taken back (the cache with it): 512
 * messages of a couple of KiB, the slots' live set, and as much evicted. */
#define CACHE_ARENA_MAX ((size_t)2 << 20)
#define CURSOR_IDLE_MS  1000
/* How often a pass looks at every subscription, not only the busy ones:
 * for what changes with time alone (an agent whose valid_to passed, an
 * idle durable's creeping floor), and for any change made where the busy
 * list was not told. */
#define FULL_SCAN_MS 250

/* One message as planning sees it. */
struct msgref {
    const Liaison__Intel *m;
    batch_t *bt;               /* the batch holding it, or NULL (the snapshot) */
    const struct batch_pub *p; /* its entry there */
    const uint8_t *packed;     /* from the snapshot; see ref_data for batches */
    size_t len;
    const uint8_t *digest; /* NULL until needed */
    uint8_t digest_buf[32];
    struct cache_slot *slot; /* the decoded copy's slot, which keeps its digest too */
};

/* Store messages decoded this pass, by sequence (direct-mapped). */
struct cache_slot {
    uint64_t seq;
    Liaison__Intel *m; /* owned */
    const void *data;  /* in the pass's snapshot */
    size_t len;
    /* Its digest once one disclosure needed it: the next subscription
     * walking the same message (many, after an outage) does not hash it
     * again. */
    uint8_t digest[32];
    int has_digest;
};
static struct cache_slot cache[CACHE_SLOTS];
/* Where they are decoded: an evicted one is not freed, the arena is taken
 * back whole at the pass's end, or sooner when a long walk has put more
 * than CACHE_ARENA_MAX in it (no reference outlives the fetch after it). */
static arena_t *cache_arena;
/* The Label and Origin decoded last into it, shared by the next message
 * that carries the same bytes: the messages of a walk are mostly one
 * sender's under one label. */
static struct wire_share cache_share;

static void cache_clear(void)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        cache[i].m = NULL;
    if (cache_arena)
        arena_reset(cache_arena);
    memset(&cache_share, 0, sizeof cache_share);
}

static int from_batch(batch_t *bt, uint64_t seq, struct msgref *ref)
{
    struct batch_pub *p = bt ? batch_pub_at(bt, seq) : NULL;
    if (p == NULL)
        return 0;
    ref->m = p->intel;
    ref->bt = bt;
    ref->p = p;
    ref->packed = NULL;
    ref->len = p->len;
    ref->digest = p->digest;
    ref->slot = NULL;
    return 1;
}

/* The stored bytes. A batch's write set grows (and moves) with every
 * record added to it, so its bytes are looked up at each use. */
static const uint8_t *ref_data(const struct msgref *ref)
{
    return ref->bt ? batch_pub_data(ref->bt, ref->p) : ref->packed;
}

/* The message at *seq (exact), or the first stored at or after it: from an
 * uncommitted batch when it is there, else from the pass's snapshot. */
static int fetch(broker_t *b, uint64_t *seq, int exact, struct msgref *ref)
{
    if (from_batch(b->open, *seq, ref) || from_batch(b->inflight, *seq, ref))
        return STORE_OK;
    if (b->rd == NULL)
        return STORE_ERR;
    const void *data;
    size_t len;
    int rc = exact ? store_read_get(b->rd, *seq, &data, &len)
                   : store_read_next(b->rd, *seq, seq, &data, &len);
    if (rc == STORE_NOTFOUND && !exact && b->inflight && b->inflight->n_pubs &&
        *seq < b->inflight->first_seq) {
        /* Nothing more committed: the next is the first in the batches. */
        *seq = b->inflight->first_seq;
        return from_batch(b->inflight, *seq, ref) ? STORE_OK : STORE_NOTFOUND;
    }
    if (rc == STORE_NOTFOUND && !exact && b->open->n_pubs && *seq < b->open->first_seq) {
        *seq = b->open->first_seq;
        return from_batch(b->open, *seq, ref) ? STORE_OK : STORE_NOTFOUND;
    }
    if (rc != STORE_OK)
        return rc;
    struct cache_slot *c = &cache[*seq % CACHE_SLOTS];
    if (c->m == NULL || c->seq != *seq) {
        if (cache_arena == NULL)
            cache_arena = arena_new();
        if (arena_used(cache_arena) > CACHE_ARENA_MAX)
            cache_clear();
        c->m = wire_intel_decode_in(cache_arena, data, len, &cache_share);
        c->seq = *seq;
        c->has_digest = 0;
    }
    if (c->m == NULL) {
        log_error("event=stored_message_undecodable seq=%llu", (unsigned long long)*seq);
        return FETCH_UNDECODABLE;
    }
    ref->m = c->m;
    ref->bt = NULL;
    ref->p = NULL;
    ref->packed = data;
    ref->len = len;
    ref->digest = c->has_digest ? c->digest : NULL;
    ref->slot = c;
    return STORE_OK;
}

static const uint8_t *digest_of(struct msgref *ref)
{
    if (ref->digest == NULL && ref->slot) {
        audit_digest(ref_data(ref), ref->len, ref->slot->digest);
        ref->slot->has_digest = 1;
        ref->digest = ref->slot->digest;
    } else if (ref->digest == NULL) {
        audit_digest(ref_data(ref), ref->len, ref->digest_buf);
        ref->digest = ref->digest_buf;
    }
    return ref->digest;
}

/* A sanitised notice: that a message exists on this topic, its risk, who
 * sent it, how many subjects it concerns, its reference (sequence and
 * risk_ref) and whom to ask.
 * Built from scratch so nothing else of the message can leak into it. */
static void queue_notice(broker_t *b, session_t *s, sub_t *sub, const Liaison__Intel *m,
                         uint64_t seq, uint32_t attempt)
{
    Liaison__Intel n = LIAISON__INTEL__INIT;
    Liaison__Label l = LIAISON__LABEL__INIT;
    Liaison__Deliver d = LIAISON__DELIVER__INIT;
    Liaison__Envelope env;
    const config_agent_t *origin =
        m->origin ? config_agent_by_name(b->cfg, m->origin->agent) : NULL;
    n.topic = m->topic;
    /* Not the publisher's msg_id: it is free text, and publishers write
     * names and operations into it. The reference is the broker's
     * sequence and the originator's risk_ref. */
    n.msg_id = (char *)(uintptr_t) "";
    n.seq = m->seq;
    n.received_at_us = m->received_at_us;
    n.origin = m->origin;
    n.label = &l;
    l.risk = m->label->risk;
    l.risk_ref = m->label->risk_ref;
    d.sub_id = sub->id;
    d.intel = &n;
    d.attempt = attempt;
    d.notice = 1;
    d.subject_count = (uint32_t)m->label->n_subjects;
    d.contact = (char *)(uintptr_t)(origin && origin->contact ? origin->contact : "");
    wire_envelope_init(&env, 0);
    env.kind_case = LIAISON__ENVELOPE__KIND_DELIVER;
    env.deliver = &d;
    size_t len = wire_envelope_size(&env);
    wire_envelope_pack(&env, batch_add_frame(b->open, BATCH_DELIVER, s->rid, s->rid_len, 0, sub->id,
                                             seq, attempt == 1, len));
    batch_last_frame(b->open)->notice = 1;
}

static void queue_deliver(broker_t *b, session_t *s, sub_t *sub, const struct msgref *ref,
                          uint64_t seq, uint32_t attempt)
{
    if (s->conf && strcmp(s->conf->type, "broker") == 0) {
        /* To another broker: the message leaves with its route stamped
         * (route.h), so the broker below can tell a loop and a repeat. */
        uint8_t *stamped;
        size_t n = route_stamp_packed(ref_data(ref), ref->len, b->cfg->name, store_epoch(b->store),
                                      &stamped);
        uint8_t *out = batch_add_frame(b->open, BATCH_DELIVER, s->rid, s->rid_len, 0, sub->id, seq,
                                       attempt == 1, wire_deliver_size(n));
        batch_frame_trim(b->open, wire_deliver_pack(sub->id, attempt, 0, stamped, n, out));
        free(stamped);
        return;
    }
    /* Frames go to the batch's own bytes, not its write set, so the message
     * does not move while its frame is built. */
    uint8_t *out = batch_add_frame(b->open, BATCH_DELIVER, s->rid, s->rid_len, 0, sub->id, seq,
                                   attempt == 1, wire_deliver_size(ref->len));
    batch_frame_trim(b->open, wire_deliver_pack(sub->id, attempt, 0, ref_data(ref), ref->len, out));
}

enum plan { PLAN_WITHHELD = 0, PLAN_QUEUED = 1, PLAN_DEFERRED = 2, PLAN_FAILED = -1 };

/* Writes a replay's pending withheld range as one record. */
static int withheld_flush(broker_t *b, session_t *s, sub_t *sub)
{
    if (sub->withheld_n == 0)
        return STORE_OK;
    char reason[96];
    snprintf(reason, sizeof reason, "%s (replay, seqs %llu-%llu)",
             policy_rule_name((enum policy_rule)sub->withheld_rule),
             (unsigned long long)sub->withheld_first, (unsigned long long)sub->withheld_last);
    struct audit_event ev = {.actor = s->agent,
                             .action = "withhold",
                             .recipient = s->agent,
                             .outcome = "refused",
                             .reason = reason,
                             .topic = sub->pattern,
                             .msg_seq = sub->withheld_first};
    int rc = audit_append_count(b->audit, b->open, &ev, sub->withheld_n);
    sub->withheld_n = 0;
    return rc;
}

static int token_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* 1 if m is about a subject sub watches. The tokens of a message in a
 * batch were made by ingest; one read from the store is blinded again. */
static int watched(const broker_t *b, const sub_t *sub, const struct msgref *ref)
{
    uint8_t buf[LABEL_MAX_SUBJECTS][32];
    const uint8_t(*tokens)[32] = buf;
    size_t n;
    if (!b->index_on)
        return 0;
    if (ref->bt) {
        tokens = batch_pub_tokens(ref->bt, ref->p);
        n = ref->p->n_tokens;
    } else {
        n = subjects_tokens(b->subject_key, ref->m, buf, LABEL_MAX_SUBJECTS);
    }
    for (size_t i = 0; i < n; i++)
        if (bsearch(tokens[i], sub->watch, sub->n_watch, 32, token_cmp))
            return 1;
    return 0;
}

/* The filter sees what the receiver will see: a notice carries topic,
 * origin and risk, so a filter on anything else cannot tell a receiver
 * what a message it may not read is labelled. */
static int filter_passes(const sub_t *sub, const Liaison__Intel *m, int notice)
{
    if (sub->filter == NULL)
        return 1;
    if (!notice)
        return filter_match(sub->filter, m);
    Liaison__Intel n = LIAISON__INTEL__INIT;
    Liaison__Label l = LIAISON__LABEL__INIT;
    n.topic = m->topic;
    n.origin = m->origin;
    n.label = &l;
    l.risk = m->label ? m->label->risk : 0;
    return filter_match(sub->filter, &n);
}

/* Decides one message for one subscription, appends the audit record of
 * the decision and queues the frame. */
static enum plan plan_one(broker_t *b, session_t *s, sub_t *sub, struct msgref *ref, uint64_t seq,
                          uint32_t attempt, int64_t now_us, int64_t *until_us)
{
    const Liaison__Intel *m = ref->m;
    /* A topic the subscription does not ask for is not a refusal; only
     * what it asked for and may not see is withheld and audited. */
    if (!topic_match(sub->pattern, m->topic) || (sub->n_watch && !watched(b, sub, ref)))
        return PLAN_WITHHELD;
    struct policy_verdict v = policy_receive(b->cfg, s->conf, sub->pattern, m, now_us);
    /* The filter narrows what the rule allows, never widens it: what it
     * leaves out was not asked for, and is not a refusal. */
    if ((v.action == POLICY_DELIVER || v.action == POLICY_NOTICE) &&
        !filter_passes(sub, m, v.action == POLICY_NOTICE))
        return PLAN_WITHHELD;
    struct audit_event ev = {.actor = s->agent,
                             .recipient = s->agent,
                             .topic = m->topic,
                             .msg_seq = seq,
                             .outcome = "ok"};
    if (v.action == POLICY_DEFER) {
        *until_us = v.until_us;
        return PLAN_DEFERRED;
    }
    ev.digest = digest_of(ref);
    if (v.action == POLICY_WITHHOLD) {
        ev.action = "withhold";
        ev.outcome = "refused";
        ev.reason = policy_rule_name(v.rule);
        sub->refused++;
        b->stats.delivery_refused++;
        log_debug("event=delivery_withheld agent=%s seq=%llu rule=%s", log_q(s->agent),
                  (unsigned long long)seq, ev.reason);
        if (sub->replay && attempt == 1 && sub->next_seq != SUB_AT_TAIL) {
            /* A replay re-reads the store at will: what it may not see is
             * one record per replay and rule, with the count and range,
             * not one per message. */
            if (sub->withheld_n && sub->withheld_rule != (int)v.rule &&
                withheld_flush(b, s, sub) != STORE_OK)
                return PLAN_FAILED;
            if (sub->withheld_n++ == 0)
                sub->withheld_first = seq;
            sub->withheld_last = seq;
            sub->withheld_rule = (int)v.rule;
            return PLAN_WITHHELD;
        }
        return audit_append(b->audit, b->open, &ev) == STORE_OK ? PLAN_WITHHELD : PLAN_FAILED;
    }
    if (v.action == POLICY_NOTICE) {
        ev.action = "notice";
        ev.reason = policy_rule_name(v.rule);
    } else {
        ev.action = attempt > 1 ? "redeliver" : "deliver";
    }
    /* The record first: a frame joins the batch only with its record (one
     * for the batch's disclosures to this subscriber, written before the
     * batch is handed on). */
    if (audit_gather(b->audit, b->open, &ev, &sub->audit_run) != STORE_OK)
        return PLAN_FAILED;
    if (v.action == POLICY_NOTICE) {
        queue_notice(b, s, sub, m, seq, attempt);
        b->stats.notices++;
    } else {
        queue_deliver(b, s, sub, ref, seq, attempt);
        b->stats.deliveries++;
    }
    s->delivered++;
    return PLAN_QUEUED;
}

static int64_t due_in(int64_t now_ms, int64_t now_us, int64_t until_us)
{
    return now_ms + (until_us - now_us) / 1000 + 1;
}

/* An entry taken out of a window by this batch: put back if the batch
 * fails (commit.c), so a refused batch loses no delivery. */
static void queue_taken(broker_t *b, session_t *s, sub_t *sub, enum batch_frame_kind kind,
                        uint64_t seq, uint32_t attempts, int rejected, const char *why)
{
    /* A dead letter's agent and reason, for the line logged at commit. */
    size_t na = why ? strlen(s->agent) + 1 : 0, nw = why ? strlen(why) + 1 : 0;
    uint8_t *p = batch_add_frame(b->open, kind, s->rid, s->rid_len, 0, sub->id, seq, 0, na + nw);
    if (why) {
        memcpy(p, s->agent, na);
        memcpy(p + na, why, nw);
    }
    struct batch_frame *f = batch_last_frame(b->open);
    f->count = attempts;
    f->rejected = (uint8_t)(rejected != 0);
}

/* A message that has used up its deliveries is set aside where operators
 * can see it, and stops blocking the subscription's window. It is logged
 * when its batch is on disk (commit.c), not here: a batch refused for want
 * of room puts it back in the window instead. */
static void dead_letter(broker_t *b, session_t *s, sub_t *sub, uint64_t seq, uint32_t attempts,
                        int rejected)
{
    const char *why = rejected ? "rejected by the receiver" : "max_deliver reached";
    sub_forget(sub, seq);
    sub->dead_lettered++;
    b->stats.dead_letters++;
    struct audit_event ev = {.actor = "broker",
                             .action = "dead_letter",
                             .recipient = s->agent,
                             .outcome = "refused",
                             .reason = why,
                             .msg_seq = seq};
    audit_append(b->audit, b->open, &ev);
    if (sub->durable)
        store_wset_deadletter(b->open->w, seq, sub->durable, why);
    queue_taken(b, s, sub, BATCH_DEAD_LETTER, seq, attempts, rejected, why);
}

/* Unacked deliveries past their due time are planned again, re-checked by
 * the rule as configured now; after max_deliver attempts they are dead
 * letters. Held (embargoed) ones are planned for the first time. */
static int redeliver_due(broker_t *b, session_t *s, sub_t *sub, int64_t now_ms, int64_t now_us)
{
    if (sub->next_due_ms > now_ms)
        return 0; /* nothing due yet: the window is not walked */
    int64_t next_due = INT64_MAX;
    for (uint32_t i = 0; i < sub->n_inflight;) {
        struct inflight *f = &sub->inflight[i];
        if (f->due_ms > now_ms) {
            if (f->due_ms < next_due)
                next_due = f->due_ms;
            i++;
            continue;
        }
        if (!room_to_disclose(b)) {
            next_due = now_ms; /* still due: looked at again next pass */
            break;
        }
        uint64_t seq = f->seq;
        uint32_t attempts = f->attempts;
        if (f->rejected || attempts >= b->cfg->max_deliver) {
            dead_letter(b, s, sub, seq, attempts, f->rejected);
            continue; /* entry i was removed */
        }
        struct msgref ref;
        int rc = fetch(b, &seq, 1, &ref);
        if (rc == STORE_NOTFOUND || rc == FETCH_UNDECODABLE) {
            sub_forget(sub, seq); /* purged meanwhile (or unreadable, logged) */
            continue;
        }
        if (rc != STORE_OK)
            return -1;
        int64_t until = 0;
        enum plan p = plan_one(b, s, sub, &ref, seq, f->attempts + 1, now_us, &until);
        if (p == PLAN_FAILED)
            return -1;
        if (p == PLAN_WITHHELD) {
            sub_forget(sub, seq); /* no longer allowed: withheld, not retried */
            queue_taken(b, s, sub, BATCH_WITHDRAWN, seq, attempts, 0, NULL);
            continue;
        }
        if (p == PLAN_DEFERRED) {
            f->due_ms = due_in(now_ms, now_us, until);
        } else {
            batch_last_frame(b->open)->in_window = 1; /* it stays in the window if refused */
            if (f->attempts > 0) {
                sub->redelivered++;
                b->stats.redeliveries++;
            } else {
                sub->delivered++;
            }
            sub_attempted(sub, f);
            f->due_ms = now_ms + (int64_t)b->cfg->ack_timeout_ms * f->attempts;
        }
        if (f->due_ms < next_due)
            next_due = f->due_ms;
        i++;
    }
    sub->next_due_ms = next_due;
    return 0;
}

/* A replay that asked for it learns it has everything up to last_seq; the
 * frame follows the deliveries planned before it in the same batch. A
 * replay with to_seq ends there. */
static void replay_caught_up(broker_t *b, session_t *s, sub_t *sub, uint64_t last_seq, int ended)
{
    if (ended)
        sub->next_seq = SUB_ENDED;
    if (!sub->report_done)
        return;
    sub->report_done = 0;
    Liaison__Envelope env;
    Liaison__ReplayDone done = LIAISON__REPLAY_DONE__INIT;
    wire_envelope_init(&env, 0);
    done.sub_id = sub->id;
    done.last_seq = last_seq;
    env.kind_case = LIAISON__ENVELOPE__KIND_REPLAY_DONE;
    env.replay_done = &done;
    size_t n = wire_envelope_size(&env);
    /* Its seq is where the replay walks from to be caught up again, should
     * the batch fail. */
    wire_envelope_pack(&env, batch_add_frame(b->open, BATCH_REPLAY_DONE, s->rid, s->rid_len, 0,
                                             sub->id, last_seq + 1, 0, n));
}

/* Plans seq for sub and records what happened in its window. */
static enum plan plan_next(broker_t *b, session_t *s, sub_t *sub, struct msgref *ref, uint64_t seq,
                           uint32_t attempt, int64_t now_ms, int64_t now_us)
{
    int64_t until = 0;
    enum plan p = plan_one(b, s, sub, ref, seq, attempt, now_us, &until);
    if (p == PLAN_QUEUED) {
        sub_sent(sub, seq, now_ms + (int64_t)b->cfg->ack_timeout_ms * attempt);
        struct inflight *f = attempt > 1 ? sub_inflight(sub, seq) : NULL;
        if (f)
            f->attempts = attempt; /* a resumed delivery keeps counting */
    } else if (p == PLAN_DEFERRED)
        sub_hold(sub, seq, due_in(now_ms, now_us, until));
    return p;
}

/* A subscription behind the tail walks from its cursor. */
static void walk_on(broker_t *b, session_t *s, sub_t *sub, int64_t now_ms, int64_t now_us);
static void walk(broker_t *b, session_t *s, sub_t *sub, int64_t now_ms, int64_t now_us)
{
    uint64_t from = sub->next_seq, refused = sub->refused;
    size_t writes = store_wset_count(b->open->w);
    walk_on(b, s, sub, now_ms, now_us);
    /* A replay's withheld range is recorded in the batch of the pass that
     * walked it, so the record is on disk with the pass's deliveries. */
    withheld_flush(b, s, sub);
    /* Should the batch fail, the walk starts again here and what it put in
     * the window goes: what it withheld (a record, no frame) is recorded
     * by a later batch, and nothing is in the window twice. */
    if (store_wset_count(b->open->w) != writes) {
        batch_add_frame(b->open, BATCH_REWIND, s->rid, s->rid_len, 0, sub->id, from, 0, 0);
        batch_last_frame(b->open)->count = (uint32_t)(sub->refused - refused);
    }
}

static void walk_on(broker_t *b, session_t *s, sub_t *sub, int64_t now_ms, int64_t now_us)
{
    uint64_t last = b->planned;
    if (sub->replay_to && sub->replay_to < last)
        last = sub->replay_to; /* a replay that ends walks no further */
    for (int budget = PUMP_BUDGET; budget > 0; budget--) {
        uint64_t seq = sub->next_seq;
        struct msgref ref;
        /* Caught up is decided before credit: a replay whose last message
         * filled the window still learns it has everything. */
        if (seq <= last && sub_credit(sub) == 0)
            return;
        int rc = seq > last ? STORE_NOTFOUND : fetch(b, &seq, 0, &ref);
        if (rc == STORE_NOTFOUND || (rc == STORE_OK && seq > last)) {
            /* Caught up: the index reaches it now (or, at its to_seq, a
             * replay ends). */
            int ended = sub->replay_to && sub->replay_to <= b->planned;
            sub->next_seq = SUB_AT_TAIL;
            if (sub->replay)
                replay_caught_up(b, s, sub, ended ? sub->replay_to : b->planned, ended);
            return;
        }
        if (rc == FETCH_UNDECODABLE) {
            sub->next_seq = seq + 1; /* skip the unreadable record, logged */
            continue;
        }
        if (rc != STORE_OK)
            return;
        uint32_t attempt = 1;
        if (sub->resume && seq <= sub->resume_hi) {
            /* Resumed: only what its cursor says is owed; what it acked
             * above a gap is not sent again. */
            while (sub->i_resume < sub->n_resume && sub->resume[sub->i_resume].seq < seq)
                sub->i_resume++;
            if (sub->i_resume == sub->n_resume || sub->resume[sub->i_resume].seq != seq) {
                sub->next_seq = sub->i_resume < sub->n_resume ? sub->resume[sub->i_resume].seq
                                                              : sub->resume_hi + 1;
                continue;
            }
            attempt = sub->resume[sub->i_resume].attempts + 1;
        }
        if (!room_to_disclose(b))
            return; /* it goes on from seq when there is room */
        if (plan_next(b, s, sub, &ref, seq, attempt, now_ms, now_us) == PLAN_FAILED)
            return;
        sub->next_seq = seq + 1;
        if (sub->resume && sub->next_seq > sub->resume_hi) {
            free(sub->resume); /* all that it owed is planned again */
            sub->resume = NULL;
        }
    }
}

struct tail_ctx {
    broker_t *b;
    struct msgref *ref;
    uint64_t seq;
    int64_t now_ms, now_us;
};

/* A new message about a subject a watchlist holds: once per message
 * however many of its subjects the subscription watches, and only on the
 * subscription's topics. */
static void on_match(void *item, void *arg);
static void on_watch_match(void *item, void *arg)
{
    sub_t *sub = item;
    struct tail_ctx *t = arg;
    if (sub->watch_seen == t->seq || !topic_match(sub->pattern, t->ref->m->topic))
        return;
    sub->watch_seen = t->seq;
    on_match(item, arg);
}

/* ---- the busy list ------------------------------------------------------------
 * A subscription at the tail with nothing in flight (and, for a durable,
 * no ack since its cursor was written) has nothing to do in a pass but
 * wait for a match. The others are kept in b->busy, so that a pass looks
 * at them and not at every subscription of every session: with a thousand
 * agents connected and idle, a pass of one message would otherwise cost a
 * thousand looks. A subscription joins when it is added, matched, or
 * changed outside a pass (fanout_sub_touched), and leaves once quiet. */

static void busy_mark(broker_t *b, sub_t *sub)
{
    if (sub->busy)
        return;
    if (b->n_busy == b->cap_busy) {
        b->cap_busy = b->cap_busy ? 2 * b->cap_busy : 64;
        b->busy = xrealloc(b->busy, b->cap_busy * sizeof *b->busy);
    }
    b->busy[b->n_busy++] = sub;
    sub->busy = 1;
}

static void busy_drop_at(broker_t *b, size_t i)
{
    b->busy[i]->busy = 0;
    b->busy[i] = b->busy[--b->n_busy];
}

static int quiet(const sub_t *sub)
{
    return sub->n_inflight == 0 && (sub->next_seq == SUB_AT_TAIL || sub->next_seq == SUB_ENDED) &&
           (sub->durable == NULL || !sub->active);
}

void fanout_sub_touched(broker_t *b, sub_t *sub)
{
    busy_mark(b, sub);
}

void fanout_scan_all(broker_t *b)
{
    b->full_scan_ms = 0;
}

void fanout_busy_free(broker_t *b)
{
    free(b->busy);
    b->busy = NULL;
    b->n_busy = b->cap_busy = 0;
}

/* A new message for a subscription that matched it in the index. */
static void on_match(void *item, void *arg)
{
    sub_t *sub = item;
    struct tail_ctx *t = arg;
    session_t *s = sub->owner;
    busy_mark(t->b, sub); /* it will hold a delivery, or fall behind */
    if (sub->next_seq != SUB_AT_TAIL)
        return; /* behind: it reaches this message by walking */
    if (s->dead || s->conf == NULL) {
        /* Gone but not reaped yet, or its key no longer its agent's: it
         * falls behind here rather than past, or its durable's floor
         * would move over a message it was never sent. */
        sub->next_seq = t->seq;
        return;
    }
    if (sub->replay_to && t->seq > sub->replay_to) {
        replay_caught_up(t->b, s, sub, sub->replay_to, 1); /* live up to its end */
        return;
    }
    if (sub_credit(sub) == 0 || !room_to_disclose(t->b)) {
        sub->next_seq = t->seq; /* its window is full, or the store: it falls behind here */
        return;
    }
    plan_next(t->b, s, sub, t->ref, t->seq, 1, t->now_ms, t->now_us);
}

/* An agent that may no longer connect (its valid_to passed while it was
 * connected) loses its subscriptions as a revoked one does: nothing more is
 * planned, no cursor moves past what it acked, and no withhold record is
 * written per message meanwhile. Restored, it resumes from its cursors. */
static void cut_off(broker_t *b, session_t *s, enum policy_rule why)
{
    log_info("event=agent_disconnected agent=%s rule=%s action=\"subscriptions dropped, every "
             "frame refused\"",
             log_q(s->agent), policy_rule_name(why));
    struct audit_event ev = {.actor = "broker",
                             .action = "revoke",
                             .recipient = s->agent,
                             .outcome = "ok",
                             .reason = policy_rule_name(why)};
    audit_append(b->audit, b->open, &ev);
    fanout_session_gone(b, s);
}

/* The watchlists a new message concerns, through the token index: its
 * tokens from ingest when it is in a batch, blinded again when it was read
 * from the store. */
static void tail_watchlists(broker_t *b, struct tail_ctx *t)
{
    uint8_t buf[LABEL_MAX_SUBJECTS][32];
    const uint8_t(*tokens)[32] = buf;
    size_t n;
    if (!b->index_on)
        return;
    if (t->ref->bt) {
        tokens = batch_pub_tokens(t->ref->bt, t->ref->p);
        n = t->ref->p->n_tokens;
    } else {
        n = subjects_tokens(b->subject_key, t->ref->m, buf, LABEL_MAX_SUBJECTS);
    }
    for (size_t i = 0; i < n; i++)
        subindex_match_token(b->subindex, tokens[i], on_watch_match, t);
}

void fanout_plan(broker_t *b)
{
    int64_t now_ms = util_mono_ms(), now_us = util_now_us();
    uint64_t from = b->planned + 1;
    /* 1. Subscriptions behind, and due redeliveries, first: they are
     * older than anything new. The busy ones, or every one when a full
     * look is due (or a busy one's agent may no longer connect). */
    b->full_pass = now_ms >= b->full_scan_ms;
    for (size_t i = 0; !b->full_pass && i < b->n_busy; i++) {
        sub_t *sub = b->busy[i];
        session_t *s = sub->owner;
        if (s->dead)
            continue;
        if (policy_may_connect(s->conf, now_us) != POLICY_ALLOW) {
            b->full_pass = 1; /* cut off below, as the full look does */
            break;
        }
        if (sub->n_inflight && redeliver_due(b, s, sub, now_ms, now_us) < 0)
            continue;
        if (sub->next_seq != SUB_AT_TAIL && sub->next_seq != SUB_ENDED)
            walk(b, s, sub, now_ms, now_us);
    }
    if (b->full_pass) {
        b->full_scan_ms = now_ms + FULL_SCAN_MS;
        for (size_t i = 0; i < sessions_count(b->sessions); i++) {
            session_t *s = sessions_at(b->sessions, i);
            if (s->dead)
                continue;
            enum policy_rule may = policy_may_connect(s->conf, now_us);
            if (may != POLICY_ALLOW) {
                if (s->n_subs)
                    cut_off(b, s, may);
                continue;
            }
            for (size_t j = 0; j < s->n_subs; j++) {
                sub_t *sub = s->subs[j];
                if (!quiet(sub))
                    busy_mark(b, sub);
                if (sub->n_inflight && redeliver_due(b, s, sub, now_ms, now_us) < 0)
                    continue;
                if (sub->next_seq != SUB_AT_TAIL && sub->next_seq != SUB_ENDED)
                    walk(b, s, sub, now_ms, now_us);
            }
        }
    }
    /* 2. New messages, through the index: each costs its matches. They
     * are in the open batch, unless a pass that could not plan (the store
     * out of room, room.c) let their batch go: then from the store. */
    for (uint64_t seq = from; seq < b->next_seq; seq++) {
        struct msgref ref;
        uint64_t at = seq;
        int rc = fetch(b, &at, 1, &ref);
        if (rc == STORE_ERR)
            break; /* planned next pass */
        if (rc == STORE_OK) {
            struct tail_ctx t = {b, &ref, seq, now_ms, now_us};
            subindex_match(b->subindex, ref.m->topic, on_match, &t);
            tail_watchlists(b, &t);
        }
        b->planned = seq; /* or gone (erased, unreadable): nothing to plan */
    }
    cache_clear();
    room_unhold(b); /* held disclosures go on next pass if room came back */
}

/* What a durable cursor should remember above its floor: the window's
 * entries and what a resume still owes, merged in order, up to the highest
 * sequence considered. NULL (the floor alone: at least once) when there is
 * nothing above it or too much to keep. ext->v is the caller's to free. */
#define CURSOR_EXT_MAX 4096
static const struct store_cursor_ext *cursor_ext(const broker_t *b, const sub_t *sub,
                                                 struct store_cursor_ext *ext)
{
    uint64_t tail = b->planned + 1, next = sub_next(sub, tail);
    uint32_t owed = sub->resume ? sub->n_resume - sub->i_resume : 0;
    uint32_t n = sub->n_inflight + owed;
    ext->hi = next - 1;
    if (sub->resume && sub->resume_hi > ext->hi)
        ext->hi = sub->resume_hi;
    ext->n = 0;
    ext->v = NULL;
    if (n == 0 || n > CURSOR_EXT_MAX || ext->hi <= sub_floor(sub, tail))
        return NULL;
    ext->v = xmalloc(n * sizeof *ext->v);
    uint32_t i = 0, j = sub->resume ? sub->i_resume : 0;
    while (i < sub->n_inflight || (sub->resume && j < sub->n_resume)) {
        int take_window = !(sub->resume && j < sub->n_resume) ||
                          (i < sub->n_inflight && sub->inflight[i].seq < sub->resume[j].seq);
        if (take_window) {
            ext->v[ext->n].seq = sub->inflight[i].seq;
            ext->v[ext->n++].attempts = sub->inflight[i++].attempts;
        } else {
            ext->v[ext->n].seq = sub->resume[j].seq;
            ext->v[ext->n++].attempts = sub->resume[j++].attempts;
        }
    }
    return ext;
}

void fanout_durable_state(const broker_t *b, const sub_t *sub, uint64_t *floor,
                          struct store_cursor_ext *ext)
{
    *floor = sub_floor(sub, b->planned + 1);
    if (cursor_ext(b, sub, ext) == NULL) {
        free(ext->v);
        ext->v = NULL;
        ext->n = 0;
        ext->hi = 0;
    }
}

static void cursor_of(broker_t *b, sub_t *sub, uint64_t tail, int64_t now_ms)
{
    uint64_t floor = sub_floor(sub, tail);
    /* Acks above a gap move no floor but change what it owes. */
    if (sub->durable == NULL || (floor == sub->floor_written && !sub->active))
        return;
    /* An idle subscription's floor creeps up with traffic it does not
     * match: writing that once a second is enough (a full pass comes more
     * often), since a stale cursor only means re-reading, never skipping. */
    if (!sub->active && sub->floor_written != UINT64_MAX &&
        now_ms - sub->floor_written_ms < CURSOR_IDLE_MS)
        return;
    struct store_cursor_ext ext;
    store_wset_cursor(b->open->w, sub->durable, floor, sub->pattern, cursor_ext(b, sub, &ext));
    free(ext.v);
    sub->floor_written = floor;
    sub->floor_written_ms = now_ms;
    sub->active = 0;
}

void fanout_cursors(broker_t *b, int64_t now_ms)
{
    uint64_t tail = b->planned + 1;
    if (b->full_pass) {
        for (size_t i = 0; i < sessions_count(b->sessions); i++) {
            session_t *s = sessions_at(b->sessions, i);
            for (size_t j = 0; j < s->n_subs; j++)
                cursor_of(b, s->subs[j], tail, now_ms);
        }
    }
    /* The busy ones (looked at again after a full pass: cheap, and what
     * goes quiet leaves here). */
    for (size_t i = 0; i < b->n_busy;) {
        sub_t *sub = b->busy[i];
        if (!b->full_pass)
            cursor_of(b, sub, tail, now_ms);
        if (quiet(sub))
            busy_drop_at(b, i);
        else
            i++;
    }
}

/* A watchlist is reached through its tokens, anything else through its
 * pattern. */
void fanout_sub_added(broker_t *b, sub_t *sub)
{
    busy_mark(b, sub); /* looked at once at least: behind, resumed, or a durable */
    if (sub->n_watch == 0)
        subindex_add(b->subindex, sub->pattern, sub);
    for (uint32_t i = 0; i < sub->n_watch; i++)
        subindex_add_token(b->subindex, sub->watch[i], sub);
}

void fanout_sub_removing(broker_t *b, sub_t *sub)
{
    for (size_t i = 0; sub->busy && i < b->n_busy; i++)
        if (b->busy[i] == sub)
            busy_drop_at(b, i);
    if (sub->n_watch == 0)
        subindex_remove(b->subindex, sub->pattern, sub);
    for (uint32_t i = 0; i < sub->n_watch; i++)
        subindex_remove_token(b->subindex, sub->watch[i], sub);
    if (sub->durable == NULL)
        return;
    /* Its acks up to now are kept: written with this pass, and remembered
     * for a resume that comes before that write commits. */
    uint64_t floor;
    struct store_cursor_ext ext;
    fanout_durable_state(b, sub, &floor, &ext);
    store_wset_cursor(b->open->w, sub->durable, floor, sub->pattern, ext.hi ? &ext : NULL);
    struct released_durable *r = &b->released[b->n_released++ % 64];
    free(r->ext.v);
    snprintf(r->name, sizeof r->name, "%s", sub->durable);
    r->floor = floor;
    r->ext = ext; /* taken over */
    control_durable_released(b, sub, floor);
}

void fanout_released_lower(broker_t *b, const char *durable, uint64_t floor)
{
    unsigned n = b->n_released < 64 ? b->n_released : 64;
    for (unsigned i = 0; i < n; i++) {
        struct released_durable *r = &b->released[(b->n_released - 1 - i) % 64];
        if (r->name[0] && strcmp(r->name, durable) == 0) {
            if (floor < r->floor) {
                r->floor = floor;
                free(r->ext.v); /* what it owed above is owed again */
                memset(&r->ext, 0, sizeof r->ext);
            }
            return;
        }
    }
    struct released_durable *r = &b->released[b->n_released++ % 64];
    free(r->ext.v);
    memset(&r->ext, 0, sizeof r->ext);
    snprintf(r->name, sizeof r->name, "%s", durable);
    r->floor = floor;
}

int fanout_released_floor(broker_t *b, const char *durable, uint64_t *floor,
                          struct store_cursor_ext *ext)
{
    unsigned n = b->n_released < 64 ? b->n_released : 64;
    for (unsigned i = 0; i < n; i++) {
        struct released_durable *r = &b->released[(b->n_released - 1 - i) % 64];
        if (r->name[0] && strcmp(r->name, durable) == 0) {
            *floor = r->floor;
            *ext = r->ext; /* the caller's now */
            memset(&r->ext, 0, sizeof r->ext);
            r->name[0] = '\0'; /* taken: the store has it from now */
            return 1;
        }
    }
    return 0;
}

int fanout_released_peek(const broker_t *b, const char *durable, uint64_t *floor)
{
    unsigned n = b->n_released < 64 ? b->n_released : 64;
    for (unsigned i = 0; i < n; i++) {
        const struct released_durable *r = &b->released[(b->n_released - 1 - i) % 64];
        if (r->name[0] && strcmp(r->name, durable) == 0) {
            *floor = r->floor;
            return 1;
        }
    }
    return 0;
}

void fanout_released_free(broker_t *b)
{
    for (unsigned i = 0; i < 64; i++) {
        free(b->released[i].ext.v);
        b->released[i].ext.v = NULL;
    }
}

void fanout_resume(sub_t *sub, const struct store_cursor_ext *ext)
{
    if (ext == NULL || ext->hi == 0)
        return;
    sub->resume_hi = ext->hi;
    sub->n_resume = ext->n;
    sub->i_resume = 0;
    sub->resume = xcalloc(ext->n ? ext->n : 1, sizeof *sub->resume);
    for (uint32_t i = 0; i < ext->n; i++) {
        sub->resume[i].seq = ext->v[i].seq;
        sub->resume[i].attempts = ext->v[i].attempts;
    }
}

void fanout_sub_remove(broker_t *b, session_t *s, uint32_t sub_id)
{
    sub_t *sub = session_sub_find(s, sub_id);
    if (sub == NULL)
        return;
    fanout_sub_removing(b, sub);
    session_sub_remove(s, sub_id);
}

void fanout_session_gone(broker_t *b, session_t *s)
{
    while (s->n_subs)
        fanout_sub_remove(b, s, s->subs[0]->id);
}
