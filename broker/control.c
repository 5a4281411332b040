/* control.c — the operator views (status, agents, subs, topics) built from
 * the broker's own state, and the little history they need: totals of
 * connections that have gone, durable subscriptions whose agent is away,
 * and a minute of counter samples for rates. Loop thread only.
 * Not responsible for: access to the views (handle.c), HTTP and the
 * Prometheus text (metrics.c), or the counts themselves (the router and
 * the sessions keep them; this file only reads them). */
#include "control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "room.h"
#include "tally.h"
#include "topic.h"
#include "uplink.h"
#include "util.h"

/* Rates are over the last minute; samples are taken once a tick, and a few
 * extra ticks come before reaps, so the ring holds well over a minute. */
#define RATE_WINDOW_MS 60000
#define RING           160
/* `topics` reads stored messages in the loop thread: at most this many per
 * request (the view says when it stopped short), and a result that cost a
 * long scan is reused for a while so a watching screen does not repeat it. */
#define TOPICS_SCAN_MAX     50000
#define TOPICS_CACHE_MS     10000
#define TOPICS_MAX_PREFIXES 4096
#define TOPICS_MAX_DEPTH    8
/* Messages the per-topic counts read per tick at start, until every
 * stored one is counted (then each commit feeds them). */
#define TALLY_SLICE 20000
/* Durables one list shows. */
#define DURABLES_MAX 10000

/* An agent seen since the broker started. */
struct agent_hist {
    char *name;                          /* owned */
    uint64_t in, out, refused, withheld; /* from its connections that have gone */
    int64_t last_seen_us;
};

/* A session as last seen by a tick: its counts are folded into its agent's
 * totals when it has gone. The pointer is an identity only (with the
 * connection time, since a new session may reuse the address); it is never
 * dereferenced once its session may be gone. */
struct live {
    const session_t *s;
    int64_t connected_us;
    size_t agent;
    uint64_t in, out, refused, withheld;
    int seen;
};

/* A durable subscription seen since the broker started: shown (with its
 * backlog growing) while its agent is away, since its cursor stays on
 * disk and messages keep arriving for it. */
struct durable_hist {
    char *name;    /* "agent/durable", owned */
    char *pattern; /* owned */
    size_t agent;
    uint64_t floor; /* acked floor when last seen */
    uint64_t delivered, acked, redelivered, dead_lettered, withheld;
    int64_t last_us; /* last seen held by a connection (wall clock), 0: not since start */
};

struct sample {
    int64_t ms;
    uint64_t publishes, deliveries, refused, withheld, notices;
};

struct control {
    struct agent_hist *agents;
    size_t n_agents, cap_agents;
    struct live *live;
    size_t n_live, cap_live;
    struct durable_hist *durables;
    size_t n_durables, cap_durables;
    struct sample ring[RING];
    size_t ring_next, ring_n;
    int64_t last_publish_ms;
    /* The topics view per depth and per asker's clearance, each kept for
     * TOPICS_CACHE_MS: however many ask, the store is scanned at most once
     * per combination in that time. */
    char *topics[TOPICS_MAX_DEPTH + 1][5]; /* owned */
    int64_t topics_ms[TOPICS_MAX_DEPTH + 1][5];
    tally_t *tally; /* per-topic counts of the store; owned */
};

control_t *control_new(void)
{
    control_t *c = xcalloc(1, sizeof *c);
    c->last_publish_ms = INT64_MIN / 2;
    c->tally = tally_new();
    return c;
}

void control_free(control_t **cp)
{
    if (cp == NULL || *cp == NULL)
        return;
    control_t *c = *cp;
    for (size_t i = 0; i < c->n_agents; i++)
        free(c->agents[i].name);
    free(c->agents);
    free(c->live);
    for (size_t i = 0; i < c->n_durables; i++) {
        free(c->durables[i].name);
        free(c->durables[i].pattern);
    }
    free(c->durables);
    for (int d = 0; d <= TOPICS_MAX_DEPTH; d++)
        for (int k = 0; k < 5; k++)
            free(c->topics[d][k]);
    tally_free(&c->tally);
    free(c);
    *cp = NULL;
}

/* ---- history ---------------------------------------------------------------- */

static size_t agent_find(control_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_agents; i++)
        if (strcmp(c->agents[i].name, name) == 0)
            return i;
    if (c->n_agents == c->cap_agents) {
        c->cap_agents = c->cap_agents ? c->cap_agents * 2 : 32;
        c->agents = xrealloc(c->agents, c->cap_agents * sizeof *c->agents);
    }
    struct agent_hist *a = &c->agents[c->n_agents];
    memset(a, 0, sizeof *a);
    a->name = xstrdup(name);
    return c->n_agents++;
}

static struct durable_hist *durable_find(control_t *c, const char *name, int add)
{
    for (size_t i = 0; i < c->n_durables; i++)
        if (strcmp(c->durables[i].name, name) == 0)
            return &c->durables[i];
    if (!add)
        return NULL;
    if (c->n_durables == c->cap_durables) {
        c->cap_durables = c->cap_durables ? c->cap_durables * 2 : 32;
        c->durables = xrealloc(c->durables, c->cap_durables * sizeof *c->durables);
    }
    struct durable_hist *d = &c->durables[c->n_durables++];
    memset(d, 0, sizeof *d);
    d->name = xstrdup(name);
    return d;
}

/* A live durable subscription's figures, into its history. */
static void durable_fold(control_t *c, const sub_t *sub, size_t agent, uint64_t floor,
                         int64_t now_us)
{
    struct durable_hist *d = durable_find(c, sub->durable, 1);
    if (d->pattern == NULL || strcmp(d->pattern, sub->pattern) != 0) {
        free(d->pattern);
        d->pattern = xstrdup(sub->pattern);
    }
    d->agent = agent;
    d->floor = floor;
    d->delivered = sub->delivered;
    d->acked = sub->acked;
    d->redelivered = sub->redelivered;
    d->dead_lettered = sub->dead_lettered;
    d->withheld = sub->refused;
    d->last_us = now_us;
}

static void durable_loaded(const char *name, uint64_t floor, const char *pattern, void *ctx)
{
    control_t *c = ctx;
    const char *slash = strchr(name, '/');
    if (slash == NULL)
        return;
    char agent[SESSION_AGENT_MAX];
    snprintf(agent, sizeof agent, "%.*s", (int)(slash - name), name);
    struct durable_hist *d = durable_find(c, name, 1);
    free(d->pattern);
    d->pattern = xstrdup(pattern);
    d->agent = agent_find(c, agent);
    d->floor = floor;
}

void control_durable_released(broker_t *b, const sub_t *sub, uint64_t floor)
{
    if (b->control && sub->owner)
        durable_fold(b->control, sub, agent_find(b->control, sub->owner->agent), floor,
                     util_now_us());
}

void control_load_durables(broker_t *b)
{
    store_cursors(b->store, DURABLES_MAX, durable_loaded, b->control);
    /* A small store is counted at once; a large one a slice a tick. */
    tally_catch_up(b->control->tally, b->store, TALLY_SLICE);
}

void control_durable_forget(broker_t *b, const char *name)
{
    control_t *c = b->control;
    for (size_t i = 0; i < c->n_durables; i++) {
        if (strcmp(c->durables[i].name, name) != 0)
            continue;
        free(c->durables[i].name);
        free(c->durables[i].pattern);
        c->durables[i] = c->durables[--c->n_durables];
        return;
    }
}

void control_durable_moved(broker_t *b, const char *name, uint64_t floor)
{
    struct durable_hist *d = durable_find(b->control, name, 0);
    if (d)
        d->floor = floor;
}

void control_committed(broker_t *b, const batch_t *bt)
{
    if (b->control == NULL)
        return;
    tally_t *t = b->control->tally;
    for (size_t i = 0; i < bt->n_pubs; i++) {
        const struct batch_pub *p = &bt->pubs[i];
        if (p->intel && p->intel->topic)
            tally_put(t, p->seq, p->intel->topic, tally_class(p->intel), p->len,
                      p->intel->received_at_us);
    }
    for (size_t i = 0; i < bt->n_erased; i++) {
        const struct batch_erased *e = &bt->erased[i];
        tally_erase(t, e->seq, (const char *)batch_bytes(bt, e->topic_off), e->cls, e->len);
    }
}

/* Messages after `after` on pattern's topics: exact from the tally, or,
 * until it is ready, every stored message after it (an upper bound). */
static uint64_t backlog_after(broker_t *b, const char *pattern, uint64_t after, uint64_t last)
{
    uint64_t n;
    if (tally_backlog(b->control->tally, b->store, pattern, after, &n) == 0)
        return n;
    return last > after ? last - after : 0;
}

static uint64_t session_withheld(const session_t *s)
{
    uint64_t n = s->withheld_gone;
    for (size_t j = 0; j < s->n_subs; j++)
        n += s->subs[j]->refused;
    return n;
}

/* Wall-clock time of a monotonic stamp. */
static int64_t wall_of(int64_t mono_ms, int64_t now_ms, int64_t now_us)
{
    return now_us - (now_ms - mono_ms) * 1000;
}

static struct live *live_find(control_t *c, const session_t *s)
{
    for (size_t i = 0; i < c->n_live; i++)
        if (c->live[i].s == s && c->live[i].connected_us == s->connected_us)
            return &c->live[i];
    if (c->n_live == c->cap_live) {
        c->cap_live = c->cap_live ? c->cap_live * 2 : 64;
        c->live = xrealloc(c->live, c->cap_live * sizeof *c->live);
    }
    struct live *l = &c->live[c->n_live++];
    memset(l, 0, sizeof *l);
    l->s = s;
    l->connected_us = s->connected_us;
    l->agent = agent_find(c, s->agent);
    return l;
}

/* Reads every session's counts; a session not found any more has gone, and
 * what it did is added to its agent's totals. */
static void fold(broker_t *b, control_t *c, int64_t now_ms, int64_t now_us)
{
    for (size_t i = 0; i < c->n_live; i++)
        c->live[i].seen = 0;
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        const session_t *s = sessions_at(b->sessions, i);
        struct live *l = live_find(c, s);
        l->seen = 1;
        l->in = s->published;
        l->out = s->delivered;
        l->refused = s->publish_refused;
        l->withheld = session_withheld(s);
        struct agent_hist *a = &c->agents[l->agent];
        int64_t seen = wall_of(s->last_seen_ms, now_ms, now_us);
        if (seen > a->last_seen_us)
            a->last_seen_us = seen;
        for (size_t j = 0; j < s->n_subs; j++) {
            const sub_t *sub = s->subs[j];
            if (sub->durable == NULL)
                continue;
            durable_fold(c, sub, l->agent, sub_floor(sub, b->planned + 1), now_us);
        }
    }
    for (size_t i = 0; i < c->n_live;) {
        struct live *l = &c->live[i];
        if (l->seen) {
            i++;
            continue;
        }
        struct agent_hist *a = &c->agents[l->agent];
        a->in += l->in;
        a->out += l->out;
        a->refused += l->refused;
        a->withheld += l->withheld;
        c->live[i] = c->live[--c->n_live];
    }
}

static void take_sample(control_t *c, const broker_t *b, int64_t now_ms)
{
    if (c->ring_n) {
        const struct sample *last = &c->ring[(c->ring_next + RING - 1) % RING];
        if (now_ms - last->ms < CONTROL_TICK_MS * 9 / 10)
            return; /* an extra tick before a reap */
    }
    struct sample *s = &c->ring[c->ring_next];
    s->ms = now_ms;
    s->publishes = b->stats.publishes;
    s->deliveries = b->stats.deliveries;
    s->refused = b->stats.publish_refused;
    s->withheld = b->stats.delivery_refused;
    s->notices = b->stats.notices;
    c->ring_next = (c->ring_next + 1) % RING;
    if (c->ring_n < RING)
        c->ring_n++;
}

/* HTTP reads are consultations: recorded per client address, aggregated
 * per minute like other polling. */
static void record_read(const char *addr, const char *path, uint32_t count, void *ctx)
{
    broker_t *b = ctx;
    char actor[80];
    snprintf(actor, sizeof actor, "http:%s", addr);
    struct audit_event ev = {.actor = actor,
                             .action =
                                 strcmp(path, "/metrics") == 0 ? "metrics_read" : "status_read",
                             .outcome = "ok",
                             .topic = path};
    int64_t now = util_mono_ms();
    for (uint32_t i = 0; i < count; i++)
        audit_append_repeatable(b->audit, b->open, &ev, now);
}

void control_tick(broker_t *b, int64_t now_ms)
{
    control_t *c = b->control;
    fold(b, c, now_ms, util_now_us());
    take_sample(c, b, now_ms);
    tally_catch_up(c->tally, b->store, TALLY_SLICE);
    metrics_take_reads(b->metrics, record_read, b);
    if (!metrics_serving(b->metrics) || now_ms - c->last_publish_ms < CONTROL_TICK_MS * 9 / 10)
        return;
    char err[64];
    char *page = control_view(b, "all", LIAISON__CLASSIFICATION__OFFICIAL, err, sizeof err);
    struct control_model m;
    control_model(b, &m);
    metrics_publish(b->metrics, b, &m, page);
    control_model_free(&m);
    c->last_publish_ms = now_ms;
}

/* ---- the model ---------------------------------------------------------------- */

static void rates(control_t *c, const broker_t *b, int64_t now_ms, struct control_model *m)
{
    const struct sample *from = NULL;
    for (size_t k = 0; k < c->ring_n; k++) {
        /* Oldest first: the first sample inside the window. */
        const struct sample *s = &c->ring[(c->ring_next + RING - c->ring_n + k) % RING];
        if (now_ms - s->ms <= RATE_WINDOW_MS) {
            from = s;
            break;
        }
    }
    if (from == NULL)
        return;
    double dt = (double)(now_ms - from->ms) / 1000.0;
    m->window_s = dt;
    /* Under a second of history would make one message look like a flood. */
    if (dt < 1.0)
        dt = 1.0;
    m->publish_rate = (double)(b->stats.publishes - from->publishes) / dt;
    m->delivery_rate = (double)(b->stats.deliveries - from->deliveries) / dt;
    m->refused_rate = (double)(b->stats.publish_refused - from->refused) / dt;
    m->withheld_rate = (double)(b->stats.delivery_refused - from->withheld) / dt;
    m->notice_rate = (double)(b->stats.notices - from->notices) / dt;
}

static struct control_agent *model_agent(struct control_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_agents; i++)
        if (strcmp(m->agents[i].name, name) == 0)
            return &m->agents[i];
    struct control_agent *a = &m->agents[m->n_agents++];
    a->name = name;
    return a;
}

static const char *durable_short(const char *durable)
{
    const char *slash = durable ? strchr(durable, '/') : NULL;
    return slash ? slash + 1 : durable;
}

static int sub_cmp(const void *pa, const void *pb)
{
    const struct control_sub *a = pa, *b = pb;
    int r = strcmp(a->agent, b->agent);
    if (r)
        return r;
    if ((a->durable == NULL) != (b->durable == NULL))
        return a->durable ? -1 : 1;
    if (a->durable && (r = strcmp(a->durable, b->durable)) != 0)
        return r;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Receive times of the oldest unacked deliveries: one read of each, all in
 * one short read transaction. */
static void oldest_times(broker_t *b, struct control_model *m)
{
    store_read_t *rd = NULL;
    for (size_t i = 0; i < m->n_subs; i++) {
        struct control_sub *s = &m->subs[i];
        if (s->oldest_seq == 0)
            continue;
        const void *data;
        size_t len;
        if (rd == NULL && (rd = store_read_begin(b->store)) == NULL)
            break;
        if (store_read_get(rd, s->oldest_seq, &data, &len) != STORE_OK)
            continue;
        Liaison__Intel *msg = wire_intel_decode(data, len);
        if (msg)
            s->oldest_us = msg->received_at_us;
        wire_intel_free(&msg);
        if (s->oldest_us && (m->oldest == NULL || s->oldest_us < m->oldest->oldest_us))
            m->oldest = s;
    }
    store_read_end(&rd);
}

void control_model(broker_t *b, struct control_model *m)
{
    control_t *c = b->control;
    int64_t now_ms = util_mono_ms();
    memset(m, 0, sizeof *m);
    m->now_us = util_now_us();
    /* Sessions reaped since the last tick are in no session any more:
     * their counts (read by the tick just before the reap) go to their
     * agent's totals now, or the view would miss them until the next tick. */
    fold(b, c, now_ms, m->now_us);
    if (store_stat(b->store, &m->store) != STORE_OK)
        memset(&m->store, 0, sizeof m->store);
    uint64_t last = store_last_seq(b->store);
    size_t n_sessions = sessions_count(b->sessions);

    /* Agents: the configured ones in config order, then any seen since
     * start that are no longer configured. */
    m->agents = xcalloc(b->cfg->n_agents + c->n_agents + n_sessions + 1, sizeof *m->agents);
    for (size_t i = 0; i < b->cfg->n_agents; i++) {
        m->agents[m->n_agents].name = b->cfg->agents[i].name;
        m->agents[m->n_agents++].conf = &b->cfg->agents[i];
    }
    for (size_t i = 0; i < c->n_agents; i++) {
        const struct agent_hist *h = &c->agents[i];
        struct control_agent *a = model_agent(m, h->name);
        a->in += h->in;
        a->out += h->out;
        a->publish_refused += h->refused;
        a->withheld += h->withheld;
        a->last_seen_us = h->last_seen_us;
    }
    size_t n_subs = c->n_durables;
    for (size_t i = 0; i < n_sessions; i++) {
        const session_t *s = sessions_at(b->sessions, i);
        struct control_agent *a = model_agent(m, s->agent);
        /* One that said Bye (or timed out) is gone at the next reap: its
         * counts stay, it no longer counts as connected. */
        if (!s->dead) {
            a->sessions++;
            if (a->since_us == 0 || s->connected_us < a->since_us)
                a->since_us = s->connected_us;
        }
        int64_t seen = wall_of(s->last_seen_ms, now_ms, m->now_us);
        if (seen > a->last_seen_us)
            a->last_seen_us = seen;
        a->in += s->published;
        a->out += s->delivered;
        a->publish_refused += s->publish_refused;
        a->withheld += session_withheld(s);
        a->subs += s->n_subs;
        n_subs += s->n_subs;
    }
    for (size_t i = 0; i < m->n_agents; i++)
        m->agents_connected += m->agents[i].sessions > 0;

    /* Subscriptions: every live one, then durable ones whose agent is away. */
    m->subs = xcalloc(n_subs + 1, sizeof *m->subs);
    for (size_t i = 0; i < n_sessions; i++) {
        const session_t *s = sessions_at(b->sessions, i);
        for (size_t j = 0; j < s->n_subs; j++) {
            const sub_t *sub = s->subs[j];
            struct control_sub *o = &m->subs[m->n_subs++];
            o->agent = s->agent;
            o->id = sub->id;
            o->pattern = sub->pattern;
            o->durable = durable_short(sub->durable);
            o->connected = !s->dead;
            o->window = sub->window;
            o->in_flight = sub->n_inflight;
            o->watching = sub->n_watch;
            o->filtered = sub->filter != NULL;
            uint64_t next = sub_next(sub, b->planned + 1);
            o->backlog = backlog_after(b, sub->pattern, next - 1, last) + sub->n_inflight;
            /* Held (embargoed) entries were never sent: not "unacked". */
            for (uint32_t k = 0; k < sub->n_inflight; k++) {
                if (sub->inflight[k].attempts > 0) {
                    o->oldest_seq = sub->inflight[k].seq;
                    break;
                }
            }
            o->delivered = sub->delivered;
            o->acked = sub->acked;
            o->redelivered = sub->redelivered;
            o->dead_lettered = sub->dead_lettered;
            o->withheld = sub->refused;
        }
    }
    size_t n_live_subs = m->n_subs;
    for (size_t i = 0; i < c->n_durables; i++) {
        const struct durable_hist *d = &c->durables[i];
        int live = 0;
        for (size_t k = 0; k < n_live_subs && !live; k++)
            live = m->subs[k].durable && strcmp(m->subs[k].agent, c->agents[d->agent].name) == 0 &&
                   strcmp(m->subs[k].durable, durable_short(d->name)) == 0;
        if (live)
            continue;
        struct control_sub *o = &m->subs[m->n_subs++];
        o->agent = c->agents[d->agent].name;
        o->pattern = d->pattern;
        o->durable = durable_short(d->name);
        o->backlog = backlog_after(b, d->pattern, d->floor, last);
        o->delivered = d->delivered;
        o->acked = d->acked;
        o->redelivered = d->redelivered;
        o->dead_lettered = d->dead_lettered;
        o->withheld = d->withheld;
    }
    if (m->n_subs > 1)
        qsort(m->subs, m->n_subs, sizeof *m->subs, sub_cmp);
    for (size_t i = 0; i < m->n_subs; i++)
        m->backlog += m->subs[i].backlog;
    oldest_times(b, m);
    rates(c, b, now_ms, m);
}

void control_model_free(struct control_model *m)
{
    free(m->agents);
    free(m->subs);
    memset(m, 0, sizeof *m);
}

/* ---- JSON views ------------------------------------------------------------------ */

/* RFC 3339 to the second: the views are for people and scripts, not for
 * ordering events. */
static void set_time(json_doc_t *o, const char *key, int64_t us)
{
    char t[32];
    if (us == 0) {
        json_doc_set_null(o, key);
        return;
    }
    util_rfc3339(us - us % 1000000, t);
    memcpy(t + 19, "Z", 2);
    json_doc_set_str(o, key, t);
}

static void set_age(json_doc_t *o, const char *key, int64_t now_us, int64_t us)
{
    if (us == 0)
        json_doc_set_null(o, key);
    else
        json_doc_set_real(o, key, (double)((now_us - us) / 1000) / 1000.0);
}

static void set_u64(json_doc_t *o, const char *key, uint64_t v)
{
    json_doc_set_int(o, key, v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* Two decimals: rates are for reading, and a fixed precision keeps the
 * page and the command line showing the same figure. */
static double round2(double v)
{
    return (double)(int64_t)(v * 100.0 + 0.5) / 100.0;
}

static json_doc_t *status_doc(broker_t *b, const struct control_model *m)
{
    json_doc_t *o = json_doc_object();
    const struct broker_stats *st = &b->stats;
    json_doc_set_str(o, "version", BROKER_VERSION);
    set_time(o, "now", m->now_us);
    set_time(o, "started_at", b->started_us);
    json_doc_set_int(o, "uptime_s", (m->now_us - b->started_us) / 1000000);
    set_u64(o, "first_seq", m->store.first_seq);
    set_u64(o, "last_seq", m->store.last_seq);
    set_u64(o, "messages", m->store.messages);
    set_u64(o, "store_used_bytes", m->store.used_bytes);
    set_u64(o, "subject_index_entries", m->store.subject_entries);
    set_u64(o, "subject_index_bytes", m->store.subject_bytes);
    set_u64(o, "store_map_bytes", m->store.map_bytes);
    json_doc_set_real(
        o, "store_used_ratio",
        m->store.map_bytes
            ? round2((double)m->store.used_bytes * 100.0 / (double)m->store.map_bytes) / 100.0
            : 0.0);
    /* Paused: the map and its reserve are used up (room.c). */
    json_doc_set_bool(o, "store_paused", room_paused(b));
    if (room_paused(b))
        json_doc_set_real(o, "store_paused_s",
                          (double)(util_mono_ms() - b->pause.since_ms) / 1000.0);
    else
        json_doc_set_null(o, "store_paused_s");
    set_u64(o, "agents_configured", b->cfg->n_agents);
    set_u64(o, "agents_connected", m->agents_connected);
    set_u64(o, "sessions", sessions_count(b->sessions));
    set_u64(o, "subscriptions", m->n_subs);
    set_u64(o, "publishes", st->publishes);
    set_u64(o, "publish_refused", st->publish_refused);
    set_u64(o, "duplicates", st->duplicates);
    set_u64(o, "queries", st->queries);
    set_u64(o, "query_results", st->query_results);
    set_u64(o, "query_hits", st->query_hits);
    set_u64(o, "hit_notices", st->hit_notices);
    set_u64(o, "deliveries", st->deliveries);
    set_u64(o, "notices", st->notices);
    set_u64(o, "delivery_refused", st->delivery_refused);
    set_u64(o, "redeliveries", st->redeliveries);
    set_u64(o, "dead_letters", st->dead_letters);
    set_u64(o, "commits", st->commits);
    set_u64(o, "commits_refused", st->commits_refused);
    set_u64(o, "commit_p50_us", (uint64_t)(metrics_commit_quantile(b->metrics, 0.5) * 1e6));
    set_u64(o, "commit_p99_us", (uint64_t)(metrics_commit_quantile(b->metrics, 0.99) * 1e6));
    set_u64(o, "frames_bad", st->frames_bad);
    set_u64(o, "auth_refused", auth_refused(b->auth));
    set_u64(o, "backlog", m->backlog);
    json_doc_t *r = json_doc_object();
    json_doc_set_real(r, "window_s", round2(m->window_s));
    json_doc_set_real(r, "publishes", round2(m->publish_rate));
    json_doc_set_real(r, "deliveries", round2(m->delivery_rate));
    /* Refused publishes and withheld deliveries are different events (a
     * publisher's mistake, the rule at work): two rates, and "refusals"
     * their sum for readers of the old shape. */
    json_doc_set_real(r, "refusals", round2(m->refused_rate + m->withheld_rate));
    json_doc_set_real(r, "publishes_refused", round2(m->refused_rate));
    json_doc_set_real(r, "deliveries_withheld", round2(m->withheld_rate));
    json_doc_set_real(r, "notices", round2(m->notice_rate));
    json_doc_set(o, "rates", r);
    if (m->oldest == NULL) {
        json_doc_set_null(o, "oldest_unacked");
    } else {
        json_doc_t *u = json_doc_object();
        json_doc_set_str(u, "agent", m->oldest->agent);
        json_doc_set_int(u, "id", m->oldest->id);
        json_doc_set_str(u, "durable", m->oldest->durable);
        set_u64(u, "seq", m->oldest->oldest_seq);
        set_age(u, "age_s", m->now_us, m->oldest->oldest_us);
        json_doc_set(o, "oldest_unacked", u);
    }
    return o;
}

static json_doc_t *roles_doc(unsigned roles)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{ROLE_PUBLISHER, "publisher"},
                 {ROLE_RECEIVER, "receiver"},
                 {ROLE_OPERATOR, "operator"},
                 {ROLE_AUDITOR, "auditor"}};
    json_doc_t *a = json_doc_array();
    for (size_t i = 0; i < UTIL_LEN(names); i++)
        if (roles & names[i].bit)
            json_doc_push_str(a, names[i].name);
    return a;
}

static json_doc_t *agents_doc(const struct control_model *m)
{
    json_doc_t *arr = json_doc_array();
    for (size_t i = 0; i < m->n_agents; i++) {
        const struct control_agent *a = &m->agents[i];
        json_doc_t *o = json_doc_object();
        json_doc_set_str(o, "name", a->name);
        json_doc_set_str(o, "agency", a->conf ? a->conf->agency : NULL);
        json_doc_set_str(o, "type", a->conf ? a->conf->type : NULL);
        json_doc_set_str(o, "region", a->conf ? a->conf->region : NULL);
        json_doc_set(o, "roles", roles_doc(a->conf ? a->conf->roles : 0));
        json_doc_set_bool(o, "configured", a->conf != NULL);
        json_doc_set_bool(o, "revoked", a->conf ? a->conf->revoked : 0);
        json_doc_set_bool(o, "connected", a->sessions > 0);
        json_doc_set_int(o, "sessions", a->sessions);
        set_time(o, "connected_since", a->since_us);
        set_time(o, "last_seen", a->last_seen_us);
        set_age(o, "last_seen_age_s", m->now_us, a->last_seen_us);
        set_u64(o, "messages_in", a->in);
        set_u64(o, "messages_out", a->out);
        set_u64(o, "publish_refused", a->publish_refused);
        set_u64(o, "withheld", a->withheld);
        set_u64(o, "subscriptions", a->subs);
        /* A receiver connected with nothing to receive on: its feed may
         * have been taken over, or its agent misconfigured. */
        json_doc_set_bool(o, "no_live_subscription",
                          a->sessions > 0 && a->subs == 0 && a->conf &&
                              (a->conf->roles & ROLE_RECEIVER));
        json_doc_push(arr, o);
    }
    return arr;
}

static json_doc_t *subs_doc(const struct control_model *m)
{
    json_doc_t *arr = json_doc_array();
    for (size_t i = 0; i < m->n_subs; i++) {
        const struct control_sub *s = &m->subs[i];
        json_doc_t *o = json_doc_object();
        json_doc_set_str(o, "agent", s->agent);
        if (s->connected || s->id)
            json_doc_set_int(o, "id", s->id);
        else
            json_doc_set_null(o, "id");
        json_doc_set_str(o, "durable", s->durable);
        json_doc_set_str(o, "pattern", s->pattern);
        json_doc_set_bool(o, "connected", s->connected);
        json_doc_set_int(o, "window", s->window);
        json_doc_set_int(o, "in_flight", s->in_flight);
        json_doc_set_bool(o, "filter", s->filtered);
        json_doc_set_int(o, "watching", s->watching);
        set_u64(o, "backlog", s->backlog);
        if (s->oldest_seq)
            set_u64(o, "oldest_unacked_seq", s->oldest_seq);
        else
            json_doc_set_null(o, "oldest_unacked_seq");
        set_age(o, "oldest_unacked_age_s", m->now_us, s->oldest_us);
        set_u64(o, "delivered", s->delivered);
        set_u64(o, "acked", s->acked);
        set_u64(o, "redelivered", s->redelivered);
        set_u64(o, "dead_lettered", s->dead_lettered);
        set_u64(o, "withheld", s->withheld);
        json_doc_push(arr, o);
    }
    return arr;
}

/* ---- topics ------------------------------------------------------------------------ */

struct prefix {
    char *name; /* owned */
    uint64_t messages, bytes, oldest_seq;
    int64_t oldest_us, newest_us;
    uint64_t rules; /* bit i: retention rule i governs some of its messages */
    int unruled;    /* some of its messages fall under no rule */
    int next;       /* hash chain, -1 ends */
};

#define TOPIC_BUCKETS 1024

struct prefixes {
    struct prefix *p;
    size_t n, cap;
    int buckets[TOPIC_BUCKETS];
};

static uint32_t fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* The entry for the first depth tokens of topic; "(other)" once the table
 * is full, so a store of many distinct topics cannot grow it without bound. */
static struct prefix *prefix_for(struct prefixes *t, const char *topic, int depth)
{
    size_t n = 0;
    for (int d = 0; topic[n] != '\0'; n++)
        if (topic[n] == '.' && ++d == depth)
            break;
    if (t->n >= TOPICS_MAX_PREFIXES) {
        topic = "(other)";
        n = strlen(topic);
    }
    uint32_t h = fnv(topic, n) % TOPIC_BUCKETS;
    for (int i = t->buckets[h]; i >= 0; i = t->p[i].next)
        if (strncmp(t->p[i].name, topic, n) == 0 && t->p[i].name[n] == '\0')
            return &t->p[i];
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->p = xrealloc(t->p, t->cap * sizeof *t->p);
    }
    struct prefix *p = &t->p[t->n];
    memset(p, 0, sizeof *p);
    p->name = xstrndup(topic, n);
    p->next = t->buckets[h];
    t->buckets[h] = (int)t->n++;
    return p;
}

static int prefix_cmp(const void *pa, const void *pb)
{
    return strcmp(((const struct prefix *)pa)->name, ((const struct prefix *)pb)->name);
}

static json_doc_t *rule_doc(const config_retention_t *r)
{
    json_doc_t *o = json_doc_object();
    json_doc_set_str(o, "pattern", r->pattern);
    json_doc_set_int(o, "max_age_days", r->max_age_days);
    json_doc_set_int(o, "max_messages", r->max_messages);
    json_doc_set_int(o, "max_mb", r->max_mb);
    return o;
}

/* The retention rules that govern topic (the first matching rule), into p. */
static void note_rule(struct prefix *p, const config_t *cfg, const char *topic)
{
    size_t r = 0;
    while (r < cfg->n_retention && !topic_match(cfg->retention[r].pattern, topic))
        r++;
    if (r == cfg->n_retention)
        p->unruled = 1;
    else if (r < 64)
        p->rules |= 1ull << r;
}

struct topics_fill {
    struct prefixes *t, *hidden;
    const config_t *cfg;
    int depth, clearance;
};

static void from_tally(const struct tally_topic *e, void *ctx)
{
    struct topics_fill *f = ctx;
    if (e->cls > f->clearance) {
        struct prefix *h = prefix_for(f->hidden, e->topic, 2);
        h->messages += e->messages;
        h->bytes += e->bytes;
        return;
    }
    struct prefix *p = prefix_for(f->t, e->topic, f->depth);
    p->messages += e->messages;
    p->bytes += e->bytes;
    if (e->oldest_seq && (p->oldest_seq == 0 || e->oldest_seq < p->oldest_seq)) {
        p->oldest_seq = e->oldest_seq;
        p->oldest_us = e->oldest_us;
    }
    if (e->newest_us > p->newest_us)
        p->newest_us = e->newest_us;
    note_rule(p, f->cfg, e->topic);
}

/* Until the per-topic counts are ready (a large store at start): reads at
 * most TOPICS_SCAN_MAX stored messages from the oldest, topic, stored size
 * and receive time only, and says it stopped short. */
static void topics_scan(broker_t *b, struct prefixes *tp, struct prefixes *hp, int depth,
                        int clearance, uint64_t *scannedp, int *completep)
{
    struct prefixes t = *tp, hidden = *hp;
    const config_t *cfg = b->cfg;
    uint64_t scanned = 0, seq = 0;
    int complete = 1;
    store_read_t *rd = store_read_begin(b->store);
    const void *data;
    size_t len;
    while (rd && store_read_next(rd, seq + 1, &seq, &data, &len) == STORE_OK) {
        if (scanned == TOPICS_SCAN_MAX) {
            complete = 0;
            break;
        }
        scanned++;
        Liaison__Intel *msg = wire_intel_decode(data, len);
        if (msg == NULL || msg->topic == NULL) {
            wire_intel_free(&msg);
            continue;
        }
        if (msg->label == NULL || (int)msg->label->classification > clearance) {
            struct prefix *h = prefix_for(&hidden, msg->topic, 2);
            h->messages++;
            h->bytes += len;
            wire_intel_free(&msg);
            continue;
        }
        struct prefix *p = prefix_for(&t, msg->topic, depth);
        p->messages++;
        p->bytes += len;
        if (p->oldest_seq == 0) {
            p->oldest_seq = seq;
            p->oldest_us = msg->received_at_us;
        }
        if (msg->received_at_us > p->newest_us)
            p->newest_us = msg->received_at_us;
        note_rule(p, cfg, msg->topic);
        wire_intel_free(&msg);
    }
    store_read_end(&rd);
    *tp = t;
    *hp = hidden;
    *scannedp = scanned;
    *completep = complete;
}

/* Per prefix of depth tokens, exact from the per-topic counts (tally.c)
 * once they are ready. A message above the asker's clearance is counted
 * under its first two tokens only, marked above_clearance: topics can
 * carry operation names. */
static char *topics_view(broker_t *b, int depth, int clearance)
{
    struct prefixes t, hidden;
    memset(&t, 0, sizeof t);
    memset(t.buckets, 0xff, sizeof t.buckets);
    memset(&hidden, 0, sizeof hidden);
    memset(hidden.buckets, 0xff, sizeof hidden.buckets);
    const config_t *cfg = b->cfg;
    uint64_t scanned = 0;
    int complete = 1;
    tally_t *tl = b->control->tally;
    if (tally_exact(tl)) {
        struct topics_fill f = {&t, &hidden, cfg, depth, clearance};
        tally_each(tl, b->store, from_tally, &f);
        for (size_t i = 0; i < t.n; i++)
            scanned += t.p[i].messages;
        for (size_t i = 0; i < hidden.n; i++)
            scanned += hidden.p[i].messages;
    } else {
        topics_scan(b, &t, &hidden, depth, clearance, &scanned, &complete);
    }
    /* qsort's base must not be NULL even for no elements: a table that
     * never grew is {NULL, 0} (tests/fuzz/crashes/broker/). */
    if (t.n > 1)
        qsort(t.p, t.n, sizeof *t.p, prefix_cmp);
    if (hidden.n > 1)
        qsort(hidden.p, hidden.n, sizeof *hidden.p, prefix_cmp);

    json_doc_t *o = json_doc_object();
    json_doc_set_int(o, "depth", depth);
    set_u64(o, "scanned", scanned);
    json_doc_set_bool(o, "complete", complete);
    /* Where the figures come from: "counts" (exact, kept per topic as
     * messages are stored and erased) or "scan" (at start, until those
     * counts are ready). */
    json_doc_set_str(o, "source", tally_exact(tl) ? "counts" : "scan");
    set_time(o, "as_of", util_now_us());
    json_doc_set_bool(o, "purge_after_review", cfg->purge_after_review != 0);
    json_doc_t *arr = json_doc_array();
    for (size_t i = 0; i < t.n; i++) {
        const struct prefix *p = &t.p[i];
        json_doc_t *e = json_doc_object();
        json_doc_set_str(e, "prefix", p->name);
        set_u64(e, "messages", p->messages);
        set_u64(e, "bytes", p->bytes);
        set_u64(e, "oldest_seq", p->oldest_seq);
        set_time(e, "oldest", p->oldest_us);
        set_time(e, "newest", p->newest_us);
        /* The rules that govern its messages (first matching rule per
         * message), in rule order; empty when none does. */
        json_doc_t *rules = json_doc_array();
        for (size_t r = 0; r < cfg->n_retention && r < 64; r++)
            if (p->rules & (1ull << r))
                json_doc_push(rules, rule_doc(&cfg->retention[r]));
        json_doc_set(e, "retention", rules);
        json_doc_set_bool(e, "unretained", p->unruled);
        json_doc_push(arr, e);
        free(p->name);
    }
    free(t.p);
    json_doc_set(o, "topics", arr);
    json_doc_t *above = json_doc_array();
    for (size_t i = 0; i < hidden.n; i++) {
        json_doc_t *e = json_doc_object();
        json_doc_set_str(e, "prefix", hidden.p[i].name);
        set_u64(e, "messages", hidden.p[i].messages);
        set_u64(e, "bytes", hidden.p[i].bytes);
        json_doc_set_bool(e, "above_clearance", 1);
        json_doc_push(above, e);
        free(hidden.p[i].name);
    }
    free(hidden.p);
    json_doc_set(o, "above_clearance", above);
    char *out = json_doc_dump(o);
    json_doc_free(&o);
    return out;
}

/* ---- durables -------------------------------------------------------------------- */

struct cursor_row {
    char *name, *pattern; /* owned */
    uint64_t floor;
};

struct cursor_rows {
    struct cursor_row *v;
    size_t n, cap;
    const char *agent; /* only its durables, or NULL */
};

static void cursor_row(const char *name, uint64_t floor, const char *pattern, void *ctx)
{
    struct cursor_rows *r = ctx;
    size_t n = r->agent ? strlen(r->agent) : 0;
    if (r->agent && (strncmp(name, r->agent, n) != 0 || name[n] != '/'))
        return;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 32;
        r->v = xrealloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n++] = (struct cursor_row){xstrdup(name), xstrdup(pattern), floor};
}

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cursor_row *)a)->name, ((const struct cursor_row *)b)->name);
}

/* The live subscription holding name and its session, or NULL. */
static const sub_t *held_by(broker_t *b, const char *name)
{
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        const session_t *s = sessions_at(b->sessions, i);
        if (s->dead)
            continue;
        for (size_t j = 0; j < s->n_subs; j++)
            if (s->subs[j]->durable && strcmp(s->subs[j]->durable, name) == 0)
                return s->subs[j];
    }
    return NULL;
}

char *control_durables_json(broker_t *b, const char *agent)
{
    control_t *c = b->control;
    struct cursor_rows rows = {NULL, 0, 0, agent};
    if (store_cursors(b->store, DURABLES_MAX, cursor_row, &rows) != STORE_OK) {
        for (size_t i = 0; i < rows.n; i++) {
            free(rows.v[i].name);
            free(rows.v[i].pattern);
        }
        free(rows.v);
        return NULL;
    }
    if (rows.n > 1)
        qsort(rows.v, rows.n, sizeof *rows.v, row_cmp);
    int64_t now_ms = util_mono_ms(), now_us = util_now_us();
    uint64_t last = store_last_seq(b->store);
    json_doc_t *o = json_doc_object();
    set_u64(o, "last_seq", last);
    /* Backlogs count only the pattern's messages once the per-topic counts
     * are ready (at start on a large store, every message after the cursor
     * until then). */
    json_doc_set_bool(o, "backlog_exact", tally_exact(c->tally));
    json_doc_t *arr = json_doc_array();
    for (size_t i = 0; i < rows.n; i++) {
        const struct cursor_row *r = &rows.v[i];
        const char *slash = strchr(r->name, '/');
        const sub_t *sub = held_by(b, r->name);
        const struct durable_hist *h = durable_find(c, r->name, 0);
        uint64_t floor = r->floor, backlog;
        int64_t last_us = h ? h->last_us : 0;
        if (sub) {
            floor = sub_floor(sub, b->planned + 1);
            backlog = backlog_after(b, sub->pattern, sub_next(sub, b->planned + 1) - 1, last) +
                      sub->n_inflight;
            last_us = wall_of(sub->owner->last_seen_ms, now_ms, now_us);
        } else {
            fanout_released_peek(b, r->name, &floor);
            backlog = backlog_after(b, r->pattern, floor, last);
        }
        json_doc_t *e = json_doc_object();
        char who[SESSION_AGENT_MAX];
        snprintf(who, sizeof who, "%.*s", slash ? (int)(slash - r->name) : 0, r->name);
        json_doc_set_str(e, "agent", who);
        json_doc_set_str(e, "durable", slash ? slash + 1 : r->name);
        json_doc_set_str(e, "name", r->name);
        json_doc_set_str(e, "pattern", sub ? sub->pattern : r->pattern);
        set_u64(e, "cursor", floor);
        set_u64(e, "backlog", backlog);
        json_doc_set_bool(e, "held", sub != NULL);
        /* When a connection last held it (now, if one does); null when none
         * has since the broker started. */
        set_time(e, "last_activity", last_us);
        json_doc_push(arr, e);
        free(r->name);
        free(r->pattern);
    }
    free(rows.v);
    json_doc_set(o, "durables", arr);
    char *out = json_doc_dump(o);
    json_doc_free(&o);
    return out;
}

/* ---- views ----------------------------------------------------------------------- */

char *control_view(broker_t *b, const char *what, int clearance, char *err, size_t errlen)
{
    control_t *c = b->control;
    if (what == NULL || what[0] == '\0')
        what = "status";
    if (strncmp(what, "topics", 6) == 0 && (what[6] == '\0' || what[6] == ':')) {
        int depth = 2;
        if (what[6] == ':') {
            char *end;
            long d = strtol(what + 7, &end, 10);
            if (*end != '\0' || d < 1 || d > TOPICS_MAX_DEPTH) {
                snprintf(err, errlen, "topics:N needs N from 1 to %d", TOPICS_MAX_DEPTH);
                return NULL;
            }
            depth = (int)d;
        }
        int k = clearance < 0 ? 0 : clearance > 4 ? 4 : clearance;
        int64_t now = util_mono_ms();
        /* The counts cost a walk of the topics, not of the store: only a
         * scan (at start) is worth reusing. */
        if (tally_exact(c->tally))
            return topics_view(b, depth, k);
        if (c->topics[depth][k] && now - c->topics_ms[depth][k] < TOPICS_CACHE_MS)
            return xstrdup(c->topics[depth][k]);
        char *out = topics_view(b, depth, k);
        free(c->topics[depth][k]);
        c->topics[depth][k] = xstrdup(out);
        c->topics_ms[depth][k] = now;
        return out;
    }
    if (strcmp(what, "links") == 0)
        return uplinks_view_json(b);
    json_doc_t *doc = NULL;
    struct control_model m;
    control_model(b, &m);
    if (strcmp(what, "status") == 0) {
        doc = status_doc(b, &m);
    } else if (strcmp(what, "agents") == 0) {
        doc = json_doc_object();
        json_doc_set(doc, "agents", agents_doc(&m));
    } else if (strcmp(what, "subs") == 0) {
        doc = json_doc_object();
        set_u64(doc, "last_seq", m.store.last_seq);
        json_doc_set(doc, "subscriptions", subs_doc(&m));
    } else if (strcmp(what, "all") == 0) {
        doc = json_doc_object();
        json_doc_set(doc, "status", status_doc(b, &m));
        json_doc_set(doc, "agents", agents_doc(&m));
        json_doc_set(doc, "subscriptions", subs_doc(&m));
        json_doc_set(doc, "links", uplinks_doc(b));
    } else {
        /* Not echoed: it came off the network. */
        snprintf(err, errlen, "unknown view (status, agents, subs, topics[:N], links, all)");
    }
    control_model_free(&m);
    if (doc == NULL)
        return NULL;
    char *out = json_doc_dump(doc);
    json_doc_free(&doc);
    return out;
}
