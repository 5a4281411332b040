/* session.c — the table of connected peers (hashed by routing id), their
 * subscriptions and unacked sets, and sending frames to them.
 * Not responsible for: protocol decisions (router.c) or access (policy.c). */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "util.h"

#define NBUCKETS 1024

struct sessions {
    session_t *buckets[NBUCKETS];
    session_t **all; /* dense array for iteration */
    size_t n, cap;
};

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
    free(sub->pattern);
    free(sub->durable);
    free(sub->inflight);
    free(sub);
}

static void session_destroy(session_t *s)
{
    for (size_t i = 0; i < s->n_subs; i++)
        sub_free(s->subs[i]);
    free(s->subs);
    free(s);
}

void sessions_free(sessions_t **tp)
{
    if (tp == NULL || *tp == NULL)
        return;
    sessions_t *t = *tp;
    for (size_t i = 0; i < t->n; i++)
        session_destroy(t->all[i]);
    free(t->all);
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
    sub->id = id;
    sub->pattern = xstrdup(pattern);
    sub->durable = durable ? xstrdup(durable) : NULL;
    sub->window = window ? window : 1;
    sub->next_seq = next_seq;
    sub->floor_written = next_seq == SUB_AT_TAIL ? UINT64_MAX : next_seq - 1;
    sub->inflight = xcalloc(sub->window, sizeof *sub->inflight);
    return sub;
}

void session_sub_remove(session_t *s, uint32_t id)
{
    for (size_t i = 0; i < s->n_subs; i++) {
        if (s->subs[i]->id != id)
            continue;
        sub_free(s->subs[i]);
        s->subs[i] = s->subs[--s->n_subs];
        return;
    }
}

uint32_t sub_credit(const sub_t *sub)
{
    return sub->window > sub->n_inflight ? sub->window - sub->n_inflight : 0;
}

void sub_sent(sub_t *sub, uint64_t seq, int64_t due_ms)
{
    if (sub->n_inflight < sub->window) {
        struct inflight *f = &sub->inflight[sub->n_inflight++];
        f->seq = seq;
        f->due_ms = due_ms;
        f->attempts = 1;
    }
    sub->delivered++;
    sub->active = 1;
}

void sub_hold(sub_t *sub, uint64_t seq, int64_t due_ms)
{
    if (sub->n_inflight < sub->window) {
        struct inflight *f = &sub->inflight[sub->n_inflight++];
        f->seq = seq;
        f->due_ms = due_ms;
        f->attempts = 0;
    }
}

int sub_requeue(sub_t *sub, uint64_t seq)
{
    uint32_t i = 0;
    while (i < sub->n_inflight && sub->inflight[i].seq < seq)
        i++;
    if (i < sub->n_inflight && sub->inflight[i].seq == seq)
        return -1;
    if (sub->n_inflight + 1 > sub->window) /* the array holds at least `window` */
        sub->inflight = xrealloc(sub->inflight, (sub->n_inflight + 1) * sizeof *sub->inflight);
    memmove(&sub->inflight[i + 1], &sub->inflight[i],
            (sub->n_inflight - i) * sizeof *sub->inflight);
    sub->inflight[i].seq = seq;
    sub->inflight[i].due_ms = 0;
    sub->inflight[i].attempts = 0;
    sub->n_inflight++;
    return 0;
}

int sub_forget(sub_t *sub, uint64_t seq)
{
    for (uint32_t i = 0; i < sub->n_inflight; i++) {
        if (sub->inflight[i].seq != seq)
            continue;
        memmove(&sub->inflight[i], &sub->inflight[i + 1],
                (sub->n_inflight - i - 1) * sizeof *sub->inflight);
        sub->n_inflight--;
        return 0;
    }
    return -1;
}

struct inflight *sub_inflight(sub_t *sub, uint64_t seq)
{
    for (uint32_t i = 0; i < sub->n_inflight; i++)
        if (sub->inflight[i].seq == seq)
            return &sub->inflight[i];
    return NULL;
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
    if (window < sub->n_inflight)
        window = sub->n_inflight; /* never forget what is in flight */
    sub->inflight = xrealloc(sub->inflight, window * sizeof *sub->inflight);
    sub->window = window;
}

int sub_ack(sub_t *sub, uint64_t seq)
{
    /* Acks come mostly in send order, so the match is usually first. */
    for (uint32_t i = 0; i < sub->n_inflight; i++) {
        if (sub->inflight[i].seq != seq)
            continue;
        if (sub->inflight[i].attempts == 0)
            return -1; /* held, never sent: nothing to ack yet */
        memmove(&sub->inflight[i], &sub->inflight[i + 1],
                (sub->n_inflight - i - 1) * sizeof *sub->inflight);
        sub->n_inflight--;
        sub->acked++;
        sub->active = 1;
        return 0;
    }
    return -1;
}

int session_send(void *router, session_t *s, const void *data, size_t len)
{
    if (s->dead)
        return -2;
    /* ZMQ_ROUTER_MANDATORY is set on the socket, so an unknown peer is an
     * error (EHOSTUNREACH) rather than a silent drop, and a full queue is
     * EAGAIN rather than a drop. */
    if (zmq_send(router, s->rid, s->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        goto fail;
    if (zmq_send(router, data, len, ZMQ_DONTWAIT) < 0)
        goto fail; /* a routing frame alone is discarded by ZeroMQ */
    return 0;
fail:
    if (errno == EAGAIN)
        return -1;
    log_info("event=peer_gone agent=%s error=\"%s\"", s->agent, zmq_strerror(errno));
    s->dead = 1;
    return -2;
}
