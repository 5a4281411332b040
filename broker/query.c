/* query.c — one subject query, from refusal checks to the page that
 * waits on the batch, and the hit notices it sends.
 *
 * The plan: one index cursor per distinct token, merged in sequence order
 * (a message about two of the asked subjects is one answer). A page ends
 * at `limit` answers, when its frame would pass max_frame_bytes, or when
 * SCAN_BUDGET index entries have been read (a subject with more entries
 * than that is paged: `more` is then set, whatever the page holds).
 * Not responsible for: the index (subjects.c) or the rule (policy.c). */
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include "audit.h"
#include "label.h"
#include "log.h"
#include "policy.h"
#include "reply.h"
#include "subject.h"
#include "topic.h"
#include "util.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX     1000
#define SCAN_BUDGET  50000 /* index entries read by one query */
#define NOTIFY_MAX   100   /* hit notices one query may send */

/* One answer on the page being built: the decoded message (owned), and
 * for a hit, a sanitised copy built from scratch that borrows from it. */
/* A hit's own message and label, apart from its answer: answers live in
 * an array that moves as it grows, and the result points at these. */
struct hit {
    Liaison__Intel intel;
    Liaison__Label label;
};

struct answer {
    Liaison__Intel *m;
    Liaison__QueryResult r;
    struct hit *hit; /* NULL for a whole answer */
};

struct page {
    struct answer *a;
    size_t n, cap;
    size_t bytes; /* of the reply frame so far (an estimate from above) */
    uint32_t hits;
};

/* The merge over the tokens' index cursors. */
struct plan {
    uint8_t tokens[AUDIT_MAX_TOKENS][SUBJECT_TOKEN_BYTES];
    uint64_t at[AUDIT_MAX_TOKENS]; /* each cursor's next seq; UINT64_MAX when done */
    size_t n;
    store_read_t *rd;
    size_t scanned;
};

static int plan_advance(struct plan *p, size_t i, uint64_t from)
{
    uint64_t seq;
    int rc = store_read_subject(p->rd, p->tokens[i], from, &seq);
    p->scanned++;
    p->at[i] = rc == STORE_OK ? seq : UINT64_MAX;
    return rc == STORE_ERR ? -1 : 0;
}

/* The next sequence any token names, or UINT64_MAX; -1 on a store error. */
static int plan_next(struct plan *p, uint64_t *seq)
{
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < p->n; i++)
        if (p->at[i] < min)
            min = p->at[i];
    *seq = min;
    if (min == UINT64_MAX)
        return 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->at[i] == min && plan_advance(p, i, min + 1) != 0)
            return -1;
    return 0;
}

static void answer_clear(struct answer *a)
{
    wire_intel_free(&a->m);
    free(a->hit);
    a->hit = NULL;
}

static void page_free(struct page *pg)
{
    for (size_t i = 0; i < pg->n; i++)
        answer_clear(&pg->a[i]);
    free(pg->a);
}

static struct answer *page_add(struct page *pg, Liaison__Intel *m)
{
    if (pg->n == pg->cap) {
        pg->cap = pg->cap ? pg->cap * 2 : 16;
        pg->a = xrealloc(pg->a, pg->cap * sizeof *pg->a);
    }
    struct answer *a = &pg->a[pg->n++];
    memset(a, 0, sizeof *a);
    liaison__query_result__init(&a->r);
    a->m = m;
    return a;
}

/* A hit: that the message exists, on this topic, at this risk, who holds
 * it and whom to ask; built from scratch so nothing else can leak. */
static void make_hit(const broker_t *b, struct answer *a)
{
    const Liaison__Intel *m = a->m;
    const config_agent_t *origin =
        m->origin ? config_agent_by_name(b->cfg, m->origin->agent) : NULL;
    struct hit *h = xcalloc(1, sizeof *h);
    liaison__intel__init(&h->intel);
    liaison__label__init(&h->label);
    h->intel.topic = m->topic;
    h->intel.seq = m->seq;
    h->intel.received_at_us = m->received_at_us;
    h->intel.origin = m->origin;
    h->intel.label = &h->label;
    h->label.risk = m->label->risk;
    h->label.risk_ref = m->label->risk_ref;
    a->hit = h;
    a->r.intel = &h->intel;
    a->r.hit = 1;
    a->r.contact = (char *)(uintptr_t)(origin && origin->contact ? origin->contact : "");
}

/* Tells the originator of m that a query found it: at once to each of its
 * live sessions when this batch commits, else kept for its next Hello. */
static void notify(broker_t *b, const session_t *asker, const Liaison__Intel *m, int hit)
{
    const char *origin = m->origin ? m->origin->agent : "";
    if (origin[0] == '\0' || strcmp(origin, asker->agent) == 0)
        return; /* one's own message: nothing to tell */
    Liaison__HitNotice n = LIAISON__HIT_NOTICE__INIT;
    Liaison__Envelope env;
    int64_t now = util_now_us();
    n.seq = m->seq;
    n.topic = m->topic;
    n.asker_agency = asker->conf->agency;
    n.asker_contact = asker->conf->contact ? asker->conf->contact : (char *)(uintptr_t) "";
    n.time_us = now;
    n.hit = hit;
    wire_envelope_init(&env, 0);
    env.kind_case = LIAISON__ENVELOPE__KIND_HIT_NOTICE;
    env.hit_notice = &n;
    size_t len = wire_envelope_size(&env);
    int live = 0;
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *o = sessions_at(b->sessions, i);
        if (o->dead || !o->hit_notices || strcmp(o->agent, origin) != 0)
            continue;
        wire_envelope_pack(
            &env, batch_add_frame(b->open, BATCH_NOTICE, o->rid, o->rid_len, 0, 0, m->seq, 0, len));
        live = 1;
    }
    if (!live) {
        uint8_t *buf = xmalloc(len);
        wire_envelope_pack(&env, buf);
        store_wset_hit(b->open->w, origin, m->seq, now, buf, len);
        free(buf);
    }
    char why[200];
    snprintf(why, sizeof why, "asked by %s%s", asker->conf->agency, hit ? " (a hit)" : "");
    struct audit_event ev = {.actor = "broker",
                             .action = "hit_notice",
                             .recipient = origin,
                             .outcome = "ok",
                             .reason = why,
                             .topic = m->topic,
                             .msg_seq = m->seq};
    audit_append(b->audit, b->open, &ev);
    b->stats.hit_notices++;
}

/* Reads and judges one indexed message: the decoded message (caller owns)
 * when the asker gets an answer for it (*hit: as a hit), NULL when it is
 * absent, exactly as if it did not exist. */
static Liaison__Intel *judge(broker_t *b, session_t *s, const Liaison__Query *q,
                             const char *pattern, struct plan *p, uint64_t seq, int *hit)
{
    const void *data;
    size_t len;
    if (store_read_get(p->rd, seq, &data, &len) != STORE_OK)
        return NULL; /* a damaged entry: the snapshot holds what it indexes */
    Liaison__Intel *m = wire_intel_decode(data, len);
    if (m == NULL || m->label == NULL || m->topic == NULL || m->received_at_us < q->since_us ||
        !topic_match(pattern, m->topic)) {
        wire_intel_free(&m);
        return NULL;
    }
    struct policy_verdict v = policy_consult(b->cfg, s->conf, pattern, m, util_now_us());
    if (v.action != POLICY_DELIVER && v.action != POLICY_NOTICE) {
        wire_intel_free(&m);
        return NULL;
    }
    *hit = v.action == POLICY_NOTICE;
    return m;
}

/* Puts an answer on the page, unless it would take the frame past room
 * (0: it was not added, m is freed). Its originator is told once it is
 * on. */
static int answer(broker_t *b, session_t *s, struct page *pg, Liaison__Intel *m, int hit,
                  size_t room, unsigned *notified)
{
    struct answer *a = page_add(pg, m);
    if (hit)
        make_hit(b, a);
    else
        a->r.intel = m;
    size_t n = liaison__query_result__get_packed_size(&a->r) + 8;
    if (pg->bytes + n > room && pg->n > 1) {
        pg->n--;
        answer_clear(&pg->a[pg->n]);
        return 0;
    }
    pg->bytes += n;
    pg->hits += hit != 0;
    if (*notified < NOTIFY_MAX &&
        topic_match_any(b->cfg->notify_on_hit, b->cfg->n_notify_on_hit, m->topic)) {
        notify(b, s, m, hit);
        (*notified)++;
    }
    return 1;
}

/* What makes a query the same query on its next page. */
static void query_sig(const Liaison__Query *q, const char *pattern, uint8_t sig[16])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    for (size_t i = 0; i < q->n_subjects; i++)
        if (q->subjects[i])
            crypto_generichash_update(&st, (const uint8_t *)q->subjects[i],
                                      strlen(q->subjects[i]) + 1);
    crypto_generichash_update(&st, (const uint8_t *)pattern, strlen(pattern) + 1);
    crypto_generichash_update(&st, (const uint8_t *)&q->since_us, sizeof q->since_us);
    crypto_generichash_final(&st, sig, 16);
}

/* 1 if q asks for the next page of the session's last query. */
static int next_page(const session_t *s, const Liaison__Query *q, const char *pattern)
{
    uint8_t sig[16];
    if (q->after_seq == 0 || q->after_seq != s->query_next_after)
        return 0;
    query_sig(q, pattern, sig);
    return memcmp(sig, s->query_sig, sizeof sig) == 0;
}

/* The refusals a query can meet before it reads anything; 0 to go on. */
static int query_refused(broker_t *b, session_t *s, uint64_t corr, const Liaison__Query *q,
                         const char *pattern)
{
    char why[160];
    enum policy_rule rule = policy_may_request(s->conf, ROLE_QUERY, util_now_us());
    if (rule != POLICY_ALLOW) {
        char text[POLICY_EXPLAIN_MAX];
        struct policy_ask ask = {.role = ROLE_QUERY, .pattern = pattern};
        policy_explain(rule, s->conf, &ask, text, sizeof text);
        log_info("event=query_refused agent=%s rule=%s reason=%s", log_q(s->agent),
                 policy_rule_name(rule), log_q(text));
        reply_refuse(b, s, corr, "query", policy_rule_error(rule), text);
        return 1;
    }
    if (!b->index_on) {
        reply_refuse(b, s, corr, "query", LIAISON__ERROR_CODE__NO_SUBJECT_INDEX,
                     "this broker has no subject_key: its subject index is off");
        return 1;
    }
    /* Counted before anything is read: a refused query costs nothing. A
     * query's next page is not another query. */
    if (!next_page(s, q, pattern) && !agent_rate(s->agent_state, &s->agent_state->queries,
                                                 b->cfg->max_queries_per_minute, util_mono_ms())) {
        reply_refuse(b, s, corr, "query", LIAISON__ERROR_CODE__TOO_MANY_QUERIES,
                     "too many subject queries this minute (max_queries_per_minute)");
        return 1;
    }
    if (q->n_subjects == 0 || q->n_subjects > b->cfg->max_query_subjects) {
        snprintf(why, sizeof why,
                 "a query names 1 to %u subjects (max_query_subjects); this one %zu",
                 b->cfg->max_query_subjects, q->n_subjects);
        reply_refuse(b, s, corr, "query", LIAISON__ERROR_CODE__TOO_LARGE, why);
        return 1;
    }
    for (size_t i = 0; i < q->n_subjects; i++) {
        char norm[SUBJECT_NORM_MAX];
        if (q->subjects[i] == NULL || strlen(q->subjects[i]) > LABEL_MAX_WORD ||
            subject_normalise(q->subjects[i], norm, sizeof norm) != 0) {
            snprintf(why, sizeof why,
                     "subject %zu does not normalise (blank, too long, control "
                     "characters, or a pnc:/cro:/noms: reference of the wrong form)",
                     i + 1);
            reply_refuse(b, s, corr, "query", LIAISON__ERROR_CODE__BAD_SUBJECT, why);
            return 1;
        }
    }
    if (topic_pattern_valid(pattern, b->cfg->max_topic_len) != 0) {
        reply_refuse(b, s, corr, "query", LIAISON__ERROR_CODE__BAD_PATTERN,
                     "pattern must be lower-case dot-separated tokens, '*' or a final '>'");
        return 1;
    }
    return 0;
}

static void send_page(broker_t *b, session_t *s, uint64_t corr, struct page *pg, int more,
                      uint64_t last)
{
    Liaison__QueryResult **rs = xcalloc(pg->n ? pg->n : 1, sizeof *rs);
    for (size_t i = 0; i < pg->n; i++)
        rs[i] = &pg->a[i].r;
    Liaison__QueryReply rep = LIAISON__QUERY_REPLY__INIT;
    Liaison__Envelope env;
    wire_envelope_init(&env, corr);
    rep.results = rs;
    rep.n_results = pg->n;
    rep.more = more;
    rep.last_seq = last;
    env.kind_case = LIAISON__ENVELOPE__KIND_QUERY_REPLY;
    env.query_reply = &rep;
    reply_later(b, s, &env); /* leaves only once its record is on disk */
    free(rs);
}

void query_handle(broker_t *b, session_t *s, uint64_t corr, const Liaison__Query *q)
{
    const char *pattern = q->pattern && q->pattern[0] ? q->pattern : ">";
    if (query_refused(b, s, corr, q, pattern))
        return;
    struct plan p;
    struct page pg = {0};
    memset(&p, 0, sizeof p);
    for (size_t i = 0; i < q->n_subjects; i++) {
        uint8_t t[SUBJECT_TOKEN_BYTES];
        subject_token(b->subject_key, q->subjects[i], t);
        size_t j = 0;
        while (j < p.n && memcmp(p.tokens[j], t, sizeof t) != 0)
            j++;
        if (j == p.n)
            memcpy(p.tokens[p.n++], t, sizeof t);
    }
    size_t limit = q->limit == 0 ? PAGE_DEFAULT : q->limit > PAGE_MAX ? PAGE_MAX : q->limit;
    uint64_t from = q->after_seq + 1, seq = 0, last = q->after_seq;
    if (q->since_us > 0) {
        uint64_t t;
        if (store_seq_at_time(b->store, q->since_us, &t) == STORE_OK && t > from)
            from = t;
    }
    p.rd = store_read_begin(b->store);
    int failed = p.rd == NULL, more = 0;
    for (size_t i = 0; !failed && i < p.n; i++)
        failed = plan_advance(&p, i, from) != 0;
    unsigned notified = 0;
    size_t room = b->cfg->max_frame_bytes > 4096 ? b->cfg->max_frame_bytes - 4096 : 0;
    /* "more" says only that another answer for the asker follows: the page
     * reads on past its limit to the next one it would give (or, past the
     * scan budget, says more without knowing). */
    while (!failed) {
        if (p.scanned >= SCAN_BUDGET) {
            for (size_t i = 0; i < p.n; i++)
                more |= p.at[i] != UINT64_MAX;
            break;
        }
        if (plan_next(&p, &seq) != 0) {
            failed = 1;
            break;
        }
        if (seq == UINT64_MAX)
            break;
        int hit = 0;
        Liaison__Intel *m = judge(b, s, q, pattern, &p, seq, &hit);
        if (m == NULL) {
            last = seq; /* absent: the next page starts after it */
            continue;
        }
        if (pg.n == limit || !answer(b, s, &pg, m, hit, room, &notified)) {
            if (pg.n == limit)
                wire_intel_free(&m);
            more = 1; /* this one starts the next page */
            break;
        }
        last = seq;
    }
    store_read_end(&p.rd);
    if (failed) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__STORE_FAILED, NULL,
                    "cannot read the subject index");
        page_free(&pg);
        return;
    }
    /* The consultation record (DPA 2018 s.62): who asked, about which
     * tokens, on what, and how much came back; a no-hit query too. */
    char why[64] = "";
    if (q->after_seq)
        snprintf(why, sizeof why, "after seq %llu", (unsigned long long)q->after_seq);
    struct audit_event ev = {.actor = s->agent,
                             .action = "query",
                             .outcome = "ok",
                             .reason = why[0] ? why : NULL,
                             .topic = pattern,
                             .tokens = (const uint8_t(*)[32])p.tokens,
                             .n_tokens = p.n,
                             .results = (uint32_t)pg.n,
                             .hits = pg.hits};
    audit_append(b->audit, b->open, &ev);
    b->stats.queries++;
    b->stats.query_results += pg.n;
    b->stats.query_hits += pg.hits;
    log_info("event=query agent=%s subjects=%zu pattern=%s results=%zu hits=%u more=%d",
             log_q(s->agent), p.n, log_q(pattern), pg.n, pg.hits, more);
    s->query_next_after = more ? last : 0;
    if (more)
        query_sig(q, pattern, s->query_sig);
    send_page(b, s, corr, &pg, more, last);
    page_free(&pg);
}

struct kept {
    broker_t *b;
    session_t *s;
};

static void send_kept(uint64_t msg_seq, int64_t time_us, const void *data, size_t len, void *ctx)
{
    struct kept *k = ctx;
    session_send(k->b->router, k->s, data, len);
    store_wset_hit(k->b->open->w, k->s->agent, msg_seq, time_us, NULL, 0);
}

void query_send_kept_notices(broker_t *b, session_t *s)
{
    struct kept k = {b, s};
    if (b->index_on)
        store_hits(b->store, s->agent, 1000, send_kept, &k);
}
