/* session.c — the table of connected peers (hashed by routing id), their
 * subscriptions and unacked sets, and sending frames to them.
 * Not responsible for: protocol decisions (router.c) or access (policy.c). */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "link.h"
#include "log.h"
#include "filter.h"
#include "util.h"
#include "wire.h"

#define NBUCKETS 1024

struct sessions {
    session_t *buckets[NBUCKETS];
    session_t **all; /* dense array for iteration */
    size_t n, cap;
    struct agent_state **agents; /* one per agent name ever seen (configured agents) */
    size_t n_agents;
    session_t **gathered; /* sessions holding gathered frames */
    size_t n_gathered, cap_gathered;
};

static struct agent_state *agent_state_of(sessions_t *t, const char *name)
{
    for (size_t i = 0; i < t->n_agents; i++)
        if (strcmp(t->agents[i]->name, name) == 0)
            return t->agents[i];
    t->agents = xrealloc(t->agents, (t->n_agents + 1) * sizeof *t->agents);
    struct agent_state *a = xcalloc(1, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    t->agents[t->n_agents++] = a;
    return a;
}

int agent_rate(struct agent_state *a, uint32_t *counter, uint32_t limit, int64_t now_ms)
{
    if (now_ms - a->minute_ms >= 60000) {
        a->minute_ms = now_ms;
        a->replays = a->views = a->queries = 0;
    }
    if (*counter >= limit)
        return 0;
    (*counter)++;
    return 1;
}

static size_t hash(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h % NBUCKETS;
}

sessions_t *sessions_new(void)
{
    return xcalloc(1, sizeof(sessions_t));
}

static void sub_free(sub_t *sub)
{
    filter_free(&sub->filter);
    free(sub->watch);
    free(sub->pattern);
    free(sub->durable);
    free(sub->slots);
    free(sub->resume);
    free(sub);
}

static void session_destroy(session_t *s)
{
    for (size_t i = 0; i < s->n_subs; i++)
        sub_free(s->subs[i]);
    free(s->subs);
    wire_gather_free(&s->out);
    free(s->origin_wire);
    free(s);
}

void sessions_free(sessions_t **tp)
{
    if (tp == NULL || *tp == NULL)
        return;
    sessions_t *t = *tp;
    for (size_t i = 0; i < t->n; i++)
        session_destroy(t->all[i]);
    for (size_t i = 0; i < t->n_agents; i++)
        free(t->agents[i]);
    free(t->agents);
    free(t->all);
    free(t->gathered);
    free(t);
    *tp = NULL;
}

session_t *sessions_find(sessions_t *t, const uint8_t *rid, size_t rid_len)
{
    for (session_t *s = t->buckets[hash(rid, rid_len)]; s; s = s->hnext)
        if (s->rid_len == rid_len && memcmp(s->rid, rid, rid_len) == 0)
            return s;
    return NULL;
}

session_t *sessions_add(sessions_t *t, const uint8_t *rid, size_t rid_len, const char *agent)
{
    session_t *s = xcalloc(1, sizeof *s);
    memcpy(s->rid, rid, rid_len);
    s->rid_len = rid_len;
    snprintf(s->agent, sizeof s->agent, "%s", agent);
    s->agent_state = agent_state_of(t, agent);
    s->agent_state->sessions++;
    s->counted = 1;
    size_t b = hash(rid, rid_len);
    s->hnext = t->buckets[b];
    t->buckets[b] = s;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->all = xrealloc(t->all, t->cap * sizeof *t->all);
    }
    t->all[t->n++] = s;
    return s;
}

void sessions_remove(sessions_t *t, session_t *s)
{
    session_t **pp = &t->buckets[hash(s->rid, s->rid_len)];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = s->hnext;
    for (size_t i = 0; i < t->n; i++) {
        if (t->all[i] == s) {
            t->all[i] = t->all[--t->n];
            break;
        }
    }
    for (size_t i = 0; s->gathered && i < t->n_gathered; i++) {
        if (t->gathered[i] == s) {
            t->gathered[i] = t->gathered[--t->n_gathered];
            break;
        }
    }
    if (s->counted)
        s->agent_state->sessions--;
    s->agent_state->subs -= (uint32_t)s->n_subs;
    session_destroy(s);
}

size_t sessions_count(const sessions_t *t)
{
    return t->n;
}

session_t *sessions_at(sessions_t *t, size_t i)
{
    return i < t->n ? t->all[i] : NULL;
}

sub_t *session_sub_find(session_t *s, uint32_t id)
{
    for (size_t i = 0; i < s->n_subs; i++)
        if (s->subs[i]->id == id)
            return s->subs[i];
    return NULL;
}

sub_t *session_sub_add(session_t *s, uint32_t id, const char *pattern, const char *durable,
                       uint32_t window, uint64_t next_seq)
{
    if (session_sub_find(s, id))
        return NULL;
    s->subs = xrealloc(s->subs, (s->n_subs + 1) * sizeof *s->subs);
    sub_t *sub = xcalloc(1, sizeof *sub);
    s->subs[s->n_subs++] = sub;
    sub->owner = s;
    if (s->agent_state)
        s->agent_state->subs++;
    sub->id = id;
    sub->pattern = xstrdup(pattern);
    sub->durable = durable ? xstrdup(durable) : NULL;
    sub->window = window ? window : 1;
    sub->next_seq = next_seq;
    sub->floor_written = next_seq == SUB_AT_TAIL ? UINT64_MAX : next_seq - 1;
    sub->slots = xcalloc(sub->window, sizeof *sub->slots);
    sub->slots_cap = sub->window;
    sub->inflight = sub->slots;
    sub->next_due_ms = INT64_MAX;
    return sub;
}

void session_sub_remove(session_t *s, uint32_t id)
{
    for (size_t i = 0; i < s->n_subs; i++) {
        if (s->subs[i]->id != id)
            continue;
        s->withheld_gone += s->subs[i]->refused;
        sub_free(s->subs[i]);
        if (s->agent_state)
            s->agent_state->subs--;
        s->subs[i] = s->subs[--s->n_subs];
        return;
    }
}

/* Held (embargoed) entries are outside the window: they were never sent,
 * so they take no credit, and messages after them flow. Their number is
 * bounded all the same. */
#define MAX_HELD 10000

uint32_t sub_credit(const sub_t *sub)
{
    uint32_t sent = sub->n_inflight - sub->n_held;
    if (sub->n_held >= MAX_HELD)
        return 0;
    return sub->window > sent ? sub->window - sent : 0;
}

/* The window is kept sorted by sequence in slots[head .. head + n): acks
 * mostly come in send order, so taking the first moves head, not the rest
 * (a window of 1000 used to move 16 KB per ack). Room at the end is made
 * by sliding the live entries back to the start, amortised O(1). */
static void room_for(sub_t *sub, uint32_t extra)
{
    uint32_t head = (uint32_t)(sub->inflight - sub->slots);
    if (head + sub->n_inflight + extra <= sub->slots_cap)
        return;
    if (head) {
        memmove(sub->slots, sub->inflight, sub->n_inflight * sizeof *sub->slots);
        sub->inflight = sub->slots;
    }
    if (sub->n_inflight + extra > sub->slots_cap) {
        uint32_t cap = sub->n_inflight + extra;
        if (cap < sub->window)
            cap = sub->window;
        sub->slots = xrealloc(sub->slots, cap * sizeof *sub->slots);
        sub->slots_cap = cap;
        sub->inflight = sub->slots;
    }
}

/* Index of the first entry with seq >= seq (binary search). */
static uint32_t lower_bound(const sub_t *sub, uint64_t seq)
{
    uint32_t lo = 0, hi = sub->n_inflight;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sub->inflight[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int find(const sub_t *sub, uint64_t seq)
{
    /* Acks come mostly in order: the oldest in flight first. */
    if (sub->n_inflight && sub->inflight[0].seq == seq)
        return 0;
    uint32_t i = lower_bound(sub, seq);
    return i < sub->n_inflight && sub->inflight[i].seq == seq ? (int)i : -1;
}

static void remove_at(sub_t *sub, uint32_t i)
{
    if (sub->inflight[i].attempts == 0)
        sub->n_held--;
    if (i == 0) {
        sub->inflight++;
    } else {
        memmove(&sub->inflight[i], &sub->inflight[i + 1],
                (sub->n_inflight - i - 1) * sizeof *sub->inflight);
    }
    sub->n_inflight--;
    if (sub->n_inflight == 0)
        sub->inflight = sub->slots;
}

static void append(sub_t *sub, uint64_t seq, int64_t due_ms, uint32_t attempts)
{
    room_for(sub, 1);
    struct inflight *f = &sub->inflight[sub->n_inflight++];
    f->seq = seq;
    f->due_ms = due_ms;
    f->attempts = attempts;
    f->rejected = 0;
    if (due_ms < sub->next_due_ms)
        sub->next_due_ms = due_ms;
}

void sub_sent(sub_t *sub, uint64_t seq, int64_t due_ms)
{
    /* Held entries are outside the window: only sent ones count. */
    if (sub->n_inflight - sub->n_held < sub->window)
        append(sub, seq, due_ms, 1);
    sub->delivered++;
    sub->active = 1;
}

void sub_hold(sub_t *sub, uint64_t seq, int64_t due_ms)
{
    if (sub->n_held < MAX_HELD) {
        append(sub, seq, due_ms, 0);
        sub->n_held++;
    }
}

void sub_attempted(sub_t *sub, struct inflight *f)
{
    if (f->attempts++ == 0)
        sub->n_held--;
}

void sub_unattempted(sub_t *sub, struct inflight *f)
{
    if (f->attempts > 0 && --f->attempts == 0)
        sub->n_held++;
}

void sub_set_due(sub_t *sub, struct inflight *f, int64_t due_ms)
{
    f->due_ms = due_ms;
    if (due_ms < sub->next_due_ms)
        sub->next_due_ms = due_ms;
}

int sub_requeue(sub_t *sub, uint64_t seq)
{
    uint32_t i = lower_bound(sub, seq);
    if (i < sub->n_inflight && sub->inflight[i].seq == seq)
        return -1;
    /* Past the window's size if need be: credit simply stays 0 until acks
     * bring it back. */
    room_for(sub, 1);
    memmove(&sub->inflight[i + 1], &sub->inflight[i],
            (sub->n_inflight - i) * sizeof *sub->inflight);
    sub->inflight[i].seq = seq;
    sub->inflight[i].attempts = 0;
    sub->inflight[i].rejected = 0;
    sub->n_inflight++;
    sub->n_held++;
    sub_set_due(sub, &sub->inflight[i], 0);
    return 0;
}

int sub_restore(sub_t *sub, uint64_t seq, uint32_t attempts, int rejected)
{
    if (sub_requeue(sub, seq) != 0)
        return -1;
    struct inflight *f = sub_inflight(sub, seq); /* held, due at once */
    if (attempts > 0) {
        f->attempts = attempts;
        sub->n_held--;
    }
    f->rejected = rejected != 0;
    return 0;
}

void sub_forget_from(sub_t *sub, uint64_t seq)
{
    while (sub->n_inflight && sub->inflight[sub->n_inflight - 1].seq >= seq)
        remove_at(sub, sub->n_inflight - 1);
}

int sub_forget(sub_t *sub, uint64_t seq)
{
    int i = find(sub, seq);
    if (i < 0)
        return -1;
    remove_at(sub, (uint32_t)i);
    return 0;
}

struct inflight *sub_inflight(sub_t *sub, uint64_t seq)
{
    int i = find(sub, seq);
    return i < 0 ? NULL : &sub->inflight[i];
}

uint64_t sub_next(const sub_t *sub, uint64_t tail)
{
    return sub->next_seq == SUB_AT_TAIL ? tail : sub->next_seq;
}

uint64_t sub_floor(const sub_t *sub, uint64_t tail)
{
    return sub->n_inflight ? sub->inflight[0].seq - 1 : sub_next(sub, tail) - 1;
}

void sub_set_window(sub_t *sub, uint32_t window)
{
    if (window < 1)
        window = 1;
    /* Below what is in flight, the window stays closed until acks bring
     * it under; nothing in flight is forgotten (the slots keep it). */
    sub->window = window;
    room_for(sub, 0);
    if (sub->slots_cap < window) {
        room_for(sub, window - sub->n_inflight);
    }
}

int sub_ack(sub_t *sub, uint64_t seq)
{
    int i = find(sub, seq);
    if (i < 0 || sub->inflight[i].attempts == 0)
        return -1; /* not in flight, or held and never sent: nothing to ack */
    remove_at(sub, (uint32_t)i);
    sub->acked++;
    sub->active = 1;
    return 0;
}

/* A send to s failed: -1 for a full queue (try later), else the peer is
 * gone, -2. */
static int send_failed(session_t *s)
{
    if (errno == EAGAIN)
        return -1;
    log_info("event=peer_gone agent=%s error=%s", log_q(s->agent), log_q(zmq_strerror(errno)));
    s->dead = 1;
    return -2;
}

int session_send(void *router, session_t *s, const void *data, size_t len)
{
    if (s->dead)
        return -2;
    /* ZMQ_ROUTER_MANDATORY is set on the socket, so an unknown peer is an
     * error (EHOSTUNREACH) rather than a silent drop, and a full queue is
     * EAGAIN rather than a drop. A routing frame alone is discarded by
     * ZeroMQ. */
    if (zmq_send(router, s->rid, s->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(router, data, len, ZMQ_DONTWAIT) < 0)
        return send_failed(s);
    s->last_sent_ms = util_mono_ms();
    return 0;
}

/* ---- gathering frames into batches ---------------------------------------------- */

/* A Batch frame is cut at this size: large enough that a commit's frames
 * to one subscriber are a few frames, small enough for any client. */
#define GATHER_MAX (256u << 10)

/* As session_send, the gathered frame without a copy. */
static void flush_one(void *router, session_t *s)
{
    if (s->out.frames && !s->dead) {
        if (zmq_send(router, s->rid, s->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            link_send_taken(router, &s->out, ZMQ_DONTWAIT) < 0)
            send_failed(s);
        else
            s->last_sent_ms = util_mono_ms();
    }
    wire_gather_reset(&s->out); /* a dead peer's, or one the routing frame failed */
}

void session_gather(void *router, sessions_t *t, session_t *s, const void *data, size_t len)
{
    if (!s->batches || s->dead) {
        session_send(router, s, data, len);
        return;
    }
    if (s->out.frames && wire_gather_would_be(&s->out, len) > GATHER_MAX)
        flush_one(router, s);
    if (!s->gathered) {
        if (t->n_gathered == t->cap_gathered) {
            t->cap_gathered = t->cap_gathered ? t->cap_gathered * 2 : 16;
            t->gathered = xrealloc(t->gathered, t->cap_gathered * sizeof *t->gathered);
        }
        t->gathered[t->n_gathered++] = s;
        s->gathered = 1;
    }
    wire_gather_add(&s->out, data, len);
}

void session_set_batches(void *router, session_t *s, int batches)
{
    if (s->batches && !batches && s->out.frames > 0) {
        size_t len;
        const uint8_t *frame = wire_gather_frame(&s->out, &len);
        if (s->out.frames == 1) {
            session_send(router, s, frame, len); /* a lone frame is itself */
        } else {
            struct wire_span *spans = xmalloc(s->out.frames * sizeof *spans);
            size_t n = wire_batch_split(frame, len, spans, s->out.frames);
            for (size_t i = 0; i < n; i++)
                session_send(router, s, spans[i].data, spans[i].len);
            free(spans);
        }
        /* Still listed as gathered: its flush then finds nothing. */
        wire_gather_reset(&s->out);
    }
    s->batches = batches != 0;
}

void sessions_flush(sessions_t *t, void *router)
{
    for (size_t i = 0; i < t->n_gathered; i++) {
        flush_one(router, t->gathered[i]);
        t->gathered[i]->gathered = 0;
    }
    t->n_gathered = 0;
}

void session_trim(session_t *s)
{
    wire_gather_trim(&s->out);
}
