/* ingest.c — accepting one publish into the open batch, from an agent, a
 * downstream broker's link, or an uplink.
 *
 * Sources: an agent's publish gets its origin from the agent's
 * configuration, whatever the frame says, and is deduplicated by
 * (origin, msg_id). A message from another broker (a downstream broker's
 * link publishing up, or the upstream delivering down an uplink) keeps
 * its origin — from a link only for an agency it speaks_for — must carry a
 * route, is dropped when the route names this broker (a loop), and is
 * deduplicated by (origin broker, origin sequence) (route.h).
 *
 * A full store: a publish is accepted only while the store's free room,
 * less what the two uncommitted batches may take, less a reserve, still
 * holds it (a headroom check before each publish). The reserve is kept for
 * the records a full store must go on writing — disclosures, cursors,
 * erasures — so deliveries, acks, replays and retention go on while new
 * publishes are refused with STORE_FULL. The estimate is deliberately
 * high; if LMDB still runs out, commit.c refuses the batches whole.
 * Not responsible for: frame decoding, access rules, or committing. */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "label.h"
#include "log.h"
#include "policy.h"
#include "reply.h"
#include "route.h"
#include "subjects.h"
#include "uplink.h"
#include "util.h"

/* Where a publish came from: a session (an agent, or a downstream
 * broker's link), or an uplink's Deliver (s NULL). */
struct source {
    session_t *s;
    uint64_t corr_id;
    int uplink;      /* with s NULL: the uplink's index */
    uint32_t up_sub; /* the upstream subscription and sequence to ack */
    uint64_t up_seq;
    const char *actor; /* in the audit trail and logs */
    arena_t *arena;    /* the message's (batch_arena of the open batch), or NULL: malloc'd */
    /* The message's fields below origin as its publisher wrote them (the
     * frame's bytes), or {NULL, 0}: the stored form is packed whole. */
    struct wire_span head;
    /* Its origin field packed already (a local publisher's), or {NULL, 0}. */
    struct wire_span origin;
};

uint64_t ingest_reserve(const broker_t *b)
{
    uint64_t r = store_map_bytes(b->store) / 16;
    if (r < 256u << 10)
        r = 256u << 10;
    if (r > 256u << 20)
        r = 256u << 20;
    return r;
}

static void audit_publish(broker_t *b, const struct source *src, const Liaison__Intel *m,
                          uint64_t seq, const uint8_t *digest, const char *reason)
{
    struct audit_event ev = {.actor = src->actor,
                             .action = src->s ? "publish" : "receive",
                             .outcome = reason ? "refused" : "ok",
                             .reason = reason,
                             .topic = m ? m->topic : NULL,
                             .msg_seq = seq,
                             .digest = digest};
    uint64_t hint = 0;
    if (reason)
        audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
    else
        audit_gather(b->audit, b->open, &ev, src->s ? &src->s->audit_run : &hint);
}

/* What came down an uplink is acked upstream once this batch is on disk
 * (so an outage before then means a redelivery, never a loss), or when it
 * can never be stored (so it does not block the link). */
static void ack_upstream(broker_t *b, const struct source *src)
{
    if (src->s == NULL)
        uplink_ack_later(b, src->uplink, src->up_sub, src->up_seq);
}

static void refuse(broker_t *b, const struct source *src, Liaison__Intel *m,
                   Liaison__ErrorCode code, const char *why)
{
    const char *msg_id = (m && m->msg_id) ? m->msg_id : "";
    if (src->s) {
        reply_error(b, src->s, src->corr_id, code, msg_id, why);
        src->s->publish_refused++;
    } else if (code != LIAISON__ERROR_CODE__STORE_FULL) {
        /* A full store is a reason to wait: the upstream redelivers. */
        ack_upstream(b, src);
    }
    b->stats.publish_refused++;
    audit_publish(b, src, m, 0, NULL, wire_error_name(code));
}

/* Replaces whatever the client wrote in a broker-stamped field, from the
 * allocation the message came from. */
static void set_str(const struct source *src, char **field, const char *value)
{
    if (src->arena) {
        *field = arena_strdup(src->arena, value);
        return;
    }
    if (*field && *field != wire_empty())
        free(*field);
    *field = xstrdup(value);
}

/* m's origin from its publisher's configured agent a. A publish decoded
 * into the open batch points at the batch's copy for a and this config,
 * made at the first of them: a stream from one agent does not copy the
 * same four strings for each message. */
static void stamp_origin(broker_t *b, const struct source *src, const config_agent_t *a,
                         Liaison__Intel *m)
{
    batch_t *bt = b->open;
    if (src->arena == NULL || src->arena != batch_arena(bt)) {
        set_str(src, &m->origin->agent, a->name);
        set_str(src, &m->origin->agency, a->agency);
        set_str(src, &m->origin->type, a->type);
        set_str(src, &m->origin->region, a->region);
        return;
    }
    if (bt->origin == NULL || bt->origin_of != a || bt->origin_gen != b->cfg_gen) {
        Liaison__Origin *o = wire_intel_new_origin(src->arena);
        o->agent = arena_strdup(src->arena, a->name);
        o->agency = arena_strdup(src->arena, a->agency);
        o->type = arena_strdup(src->arena, a->type);
        o->region = arena_strdup(src->arena, a->region);
        bt->origin = o;
        bt->origin_of = a;
        bt->origin_gen = b->cfg_gen;
    }
    m->origin = bt->origin;
}

/* A publish's dedup key, and its hash in the dedup index (made once). */
struct dedup {
    struct store_dkey key;
    uint64_t h;
};

static void dedup_of(const char *origin, const char *msg_id, struct dedup *d)
{
    store_dedup_key(origin, msg_id, &d->key);
    d->h = seen_hash(d->key.b, d->key.len);
}

/* The sequence already given to this dedup key, looking in the two
 * uncommitted batches first, then at each sequence the dedup index names,
 * which the store's dedup log confirms or not; 0 if none. */
static uint64_t find_repeat(broker_t *b, const struct dedup *d, int64_t since_us)
{
    uint64_t seq = batch_dedup_find(b->open, &d->key, d->h);
    if (seq == 0 && b->inflight)
        seq = batch_dedup_find(b->inflight, &d->key, d->h);
    if (seq || b->seen == NULL || b->rd == NULL)
        return seq;
    /* The newest, when the key was stored again after its window. */
    uint64_t newest = 0;
    struct seen_walk w;
    for (seq = seen_first(b->seen, d->h, &w); seq; seq = seen_next(b->seen, &w))
        if (seq > newest && store_read_dedup(b->rd, seq, &d->key, since_us) == STORE_OK)
            newest = seq;
    return newest;
}

static void index_add(uint64_t seq, const void *key, size_t len, void *ctx)
{
    seen_add(ctx, seen_hash(key, len), seq);
}

static void count_key(uint64_t seq, const void *key, size_t len, void *ctx)
{
    (void)seq;
    (void)key;
    (void)len;
    (*(size_t *)ctx)++;
}

/* The dedup keys of bt's publishes, into f. */
static void pending_keys(const batch_t *bt, seen_t *f)
{
    for (size_t i = 0; bt && i < bt->n_pubs; i++) {
        const struct batch_pub *p = &bt->pubs[i];
        if (p->dkey_len)
            seen_add(f, p->dkey_hash, p->seq);
    }
}

/* The index holds a sequence as its offset from the first it took (32
 * bits): it covers at most the last 2^31 sequence numbers, leaving as
 * many to come before it must be built again. */
#define INDEX_SPAN (UINT64_C(1) << 31)

int ingest_dedup_index(broker_t *b)
{
    int64_t t0 = util_mono_ms();
    int64_t since_us = util_now_us() - (int64_t)b->cfg->dedup_window_s * 1000000;
    uint64_t from = b->next_seq > INDEX_SPAN ? b->next_seq - INDEX_SPAN : 0;
    size_t live = b->open->n_pubs + (b->inflight ? b->inflight->n_pubs : 0);
    if (store_dedup_keys(b->store, from, since_us, count_key, &live) < 0)
        goto fail;
    seen_t *f = seen_new(2 * live > (1u << 16) ? 2 * live : (1u << 16));
    /* The batches after the store: a key the committer stored meanwhile
     * is then in both, and a key twice in the index costs one more look. */
    if (store_dedup_keys(b->store, from, since_us, index_add, f) < 0) {
        seen_free(&f);
        goto fail;
    }
    pending_keys(b->inflight, f);
    pending_keys(b->open, f);
    seen_free(&b->seen);
    b->seen = f;
    log_info("event=dedup_index keys=%zu bytes=%zu ms=%lld", seen_count(f), seen_bytes(f),
             (long long)(util_mono_ms() - t0));
    return 0;
fail:
    log_error("event=dedup_index_failed reason=\"the store's dedup log cannot be read\"");
    return -1;
}

void ingest_dedup_grow(broker_t *b)
{
    int64_t t0 = util_mono_ms();
    int64_t since_us = util_now_us() - (int64_t)b->cfg->dedup_window_s * 1000000;
    uint64_t floor = b->next_seq > INDEX_SPAN ? b->next_seq - INDEX_SPAN : 0, first;
    int rc = store_seq_at_time(b->store, since_us, &first);
    if (rc == STORE_NOTFOUND)
        first = store_last_seq(b->store) + 1; /* all stored are older: the batches' are not */
    else if (rc != STORE_OK)
        first = 0; /* the time index unread: keep all within the span */
    if (first > floor)
        floor = first;
    size_t live = seen_count_from(b->seen, floor);
    seen_t *f = seen_copy_from(b->seen, floor, 2 * live > (1u << 16) ? 2 * live : (1u << 16));
    seen_free(&b->seen);
    b->seen = f;
    log_info("event=dedup_index_grown keys=%zu bytes=%zu ms=%lld", seen_count(f), seen_bytes(f),
             (long long)(util_mono_ms() - t0));
}

/* 1 if the store has room for len more bytes of message (and its subject
 * index entries) beyond what the
 * uncommitted batches may take and the reserve. */
static int has_room(const broker_t *b, size_t len, size_t n_subjects)
{
    uint64_t pending =
        store_wset_estimate(b->open->w) + (b->inflight ? store_wset_estimate(b->inflight->w) : 0);
    uint64_t need = pending + 2 * (uint64_t)len + 8192 + ingest_reserve(b);
    if (b->index_on)
        need += 128 * (uint64_t)n_subjects; /* index entries */
    return store_room(b->store) >= need;
}

static void answer_repeat(broker_t *b, const struct source *src, uint64_t seq, const char *msg_id)
{
    b->stats.duplicates++;
    if (src->s == NULL) {
        ack_upstream(b, src); /* after this batch: the original may be in an uncommitted one */
        return;
    }
    session_t *s = src->s;
    Liaison__Envelope env;
    Liaison__PubAck ack = LIAISON__PUB_ACK__INIT;
    wire_envelope_init(&env, src->corr_id);
    ack.seq = seq;
    ack.msg_id = (char *)(uintptr_t)msg_id;
    ack.duplicate = 1;
    env.kind_case = LIAISON__ENVELOPE__KIND_PUB_ACK;
    env.pub_ack = &ack;
    size_t n = wire_envelope_size(&env);
    /* The original may be in an uncommitted batch: the answer waits for
     * this one, which commits after it. */
    wire_envelope_pack(&env, batch_add_frame(b->open, BATCH_DUP_ACK, s->rid, s->rid_len,
                                             src->corr_id, 0, seq, 0, n));
    log_debug("event=publish_duplicate agent=%s seq=%llu", log_q(s->agent),
              (unsigned long long)seq);
}

/* A message from another broker: a route that does not name this broker.
 * Returns 0 to go on; else it was answered (a loop is dropped, counted and
 * recorded, and acknowledged so the sender moves on). */
static int route_checked(broker_t *b, const struct source *src, Liaison__Intel *m)
{
    char why[160];
    if (route_valid(m->route, why, sizeof why) != 0) {
        refuse(b, src, m, LIAISON__ERROR_CODE__BAD_ROUTE, why);
        return -1;
    }
    if (!route_names(m->route, b->cfg->name))
        return 0;
    b->stats.loops++;
    log_info("event=loop_dropped from=%s origin_broker=%s origin_seq=%llu", log_q(src->actor),
             log_q(m->route->origin_broker), (unsigned long long)m->route->origin_seq);
    struct audit_event ev = {.actor = src->actor,
                             .action = src->s ? "publish" : "receive",
                             .outcome = "refused",
                             .reason = "LOOP",
                             .topic = m->topic};
    audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
    if (src->s)
        reply_error(b, src->s, src->corr_id, LIAISON__ERROR_CODE__LOOP, m->msg_id,
                    "this message's route already names this broker: dropped");
    else
        ack_upstream(b, src);
    return -1;
}

/* A local publisher's origin field as stored, packed once for its entry in
 * the running config: o was just set from that entry, and is the same in
 * everything the publisher sends until a reload. */
static struct wire_span origin_packed(const broker_t *b, session_t *s, const Liaison__Origin *o)
{
    if (s->origin_wire == NULL || s->origin_conf != s->conf || s->origin_cfg_gen != b->cfg_gen) {
        free(s->origin_wire);
        s->origin_len = wire_origin_size(o);
        s->origin_wire = xmalloc(s->origin_len);
        wire_origin_pack(o, s->origin_wire);
        s->origin_conf = s->conf;
        s->origin_cfg_gen = b->cfg_gen;
    }
    return (struct wire_span){s->origin_wire, s->origin_len};
}

static int spoken_for(const config_agent_t *a, const char *agency)
{
    for (size_t i = 0; agency && i < a->n_speaks_for; i++)
        if (strcmp(a->speaks_for[i], agency) == 0)
            return 1;
    return 0;
}

static int origin_sane(const Liaison__Origin *o)
{
    return o && o->agent && o->agent[0] && strlen(o->agent) <= LABEL_MAX_WORD && o->agency &&
           o->agency[0] && strlen(o->agency) <= LABEL_MAX_TEXT && o->type &&
           strlen(o->type) <= LABEL_MAX_WORD && o->region && strlen(o->region) <= LABEL_MAX_WORD;
}

/* Stores m (its origin and route settled, its dedup key in dkey or NULL)
 * and records it. Takes m. */
static void accept(broker_t *b, const struct source *src, Liaison__Intel *m, const struct dedup *d,
                   int64_t now_us)
{
    const char *msg_id = m->msg_id ? m->msg_id : "";
    m->received_at_us = now_us;
    m->seq = b->next_seq;
    /* The stored form: the head as sent and the stamp, when there is one
     * (nothing below origin changes here but an empty msg_id, below). */
    const struct wire_span *head = src->head.data && msg_id[0] ? &src->head : NULL;
    const struct wire_span *origin = src->origin.data ? &src->origin : NULL;
    size_t len = head ? head->len + wire_intel_stamp_size(m, origin) : wire_intel_size(m);
    if (!has_room(b, len, m->label->n_subjects)) {
        if (!b->full && util_mono_ms() - b->full_logged_ms >= 10000) {
            b->full_logged_ms = util_mono_ms(); /* not once per publish when it hovers */
            log_warn("event=store_full room=%llu reserve=%llu action=\"publishes refused; "
                     "deliveries, acks, replays and retention go on\"",
                     (unsigned long long)store_room(b->store),
                     (unsigned long long)ingest_reserve(b));
        }
        b->full = 1;
        refuse(b, src, m, LIAISON__ERROR_CODE__STORE_FULL,
               "store full: publish refused, nothing stored is lost");
        wire_intel_free_in(&m, src->arena);
        return;
    }
    if (b->full && util_mono_ms() - b->full_logged_ms >= 10000)
        log_info("event=store_room room=%llu action=\"publishes accepted again\"",
                 (unsigned long long)store_room(b->store));
    b->full = 0;
    b->next_seq++;
    if (msg_id[0] == '\0') {
        /* A publish without msg_id is given one (and is not deduplicated:
         * a re-send is a new message). */
        char made[32];
        snprintf(made, sizeof made, "liaison-%llu", (unsigned long long)m->seq);
        set_str(src, &m->msg_id, made);
        msg_id = m->msg_id;
        len = wire_intel_size(m);
    }
    const uint8_t *rid = src->s ? src->s->rid : NULL;
    size_t rid_len = src->s ? src->s->rid_len : 0; /* an uplink's is acked upstream instead */
    struct batch_pub *p =
        batch_add_pub(b->open, m->seq, now_us, len, d ? &d->key : NULL, d ? d->h : 0, rid, rid_len,
                      src->corr_id, msg_id, m, src->arena);
    if (d && b->seen) {
        int added = seen_add(b->seen, d->h, m->seq) == 0;
        if (!added || seen_full(b->seen)) {
            ingest_dedup_grow(b);
            if (!added && seen_add(b->seen, d->h, m->seq) != 0)
                ingest_dedup_index(b); /* out of its reach still: from the log, with this key */
        }
    }
    if (b->index_on) {
        /* The subject index is written in the same batch: both land or
         * neither. */
        uint8_t tokens[LABEL_MAX_SUBJECTS][32];
        size_t n = subjects_tokens(b->subject_key, m, tokens, LABEL_MAX_SUBJECTS);
        for (size_t i = 0; i < n; i++)
            store_wset_subject(b->open->w, tokens[i], m->seq, 0);
        batch_pub_set_tokens(b->open, p, (const uint8_t(*)[32])tokens, n);
    }
    uint8_t *data = batch_pub_data(b->open, p);
    if (head)
        wire_intel_pack_stamped(head, origin, m, data);
    else
        wire_intel_pack(m, data);
    audit_digest(data, len, p->digest);
    uint8_t digest[32];
    memcpy(digest, p->digest, sizeof digest);
    /* A publish whose collection record cannot be written is refused with
     * it: the record (one for the batch's publishes by this agent on this
     * topic) is in the same batch, so both land or neither. */
    audit_publish(b, src, m, m->seq, digest, NULL);
    ack_upstream(b, src);
    if (src->s)
        src->s->published++;
}

/* A message from another broker, its route checked: dropped if it is here
 * already, else stored. Takes m. */
static void accept_routed(broker_t *b, const struct source *src, Liaison__Intel *m, int64_t now_us)
{
    struct dedup d;
    route_dedup_key(m->route, &d.key);
    d.h = seen_hash(d.key.b, d.key.len);
    uint64_t seq = find_repeat(b, &d, now_us - (int64_t)b->cfg->dedup_window_s * 1000000);
    if (seq) {
        /* Here already (another path, or a re-send after an outage):
         * counted, and recorded as floods are, one record a minute. */
        b->stats.route_duplicates++;
        struct audit_event ev = {.actor = src->actor,
                                 .action = src->s ? "publish" : "receive",
                                 .outcome = "refused",
                                 .reason = "REPEAT",
                                 .topic = m->topic};
        audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
        answer_repeat(b, src, seq, m->msg_id ? m->msg_id : "");
        wire_intel_free_in(&m, src->arena);
        return;
    }
    accept(b, src, m, &d, now_us);
}

void ingest_publish(broker_t *b, session_t *s, uint64_t corr_id, Liaison__Intel *m, arena_t *arena,
                    const struct wire_span *head)
{
    char why[256];
    struct source src = {.s = s, .corr_id = corr_id, .actor = s->agent, .arena = arena};
    if (head)
        src.head = *head;
    const char *msg_id = (m && m->msg_id) ? m->msg_id : "";
    int64_t now_us = util_now_us();
    /* m was decoded into the open batch, its Label shared with the publish
     * before when their bytes are the same: checked once. */
    Liaison__ErrorCode code =
        label_validate_known(m, b->cfg->max_topic_len, b->open->label_passed, why, sizeof why);
    if (code == LIAISON__ERROR_CODE__ERROR_NONE && arena == batch_arena(b->open))
        b->open->label_passed = m->label;
    if (code != LIAISON__ERROR_CODE__ERROR_NONE) {
        /* The topic as sent, cut at 256 bytes: what was refused, escaped,
         * since an invalid one may hold anything. */
        log_info("event=publish_refused agent=%s topic=%s code=%s reason=%s", log_q(s->agent),
                 log_qn(m && m->topic ? m->topic : "", 256), wire_error_name(code), log_q(why));
        refuse(b, &src, m, code, why);
        goto leave;
    }
    enum policy_rule rule = policy_may_publish(s->conf, m, now_us);
    if (rule != POLICY_ALLOW) {
        /* The text says what would be allowed; the audit record keeps the
         * code, which auditors grep. */
        char text[POLICY_EXPLAIN_MAX];
        struct policy_ask ask = {.role = ROLE_PUBLISHER, .m = m};
        policy_explain(rule, s->conf, &ask, text, sizeof text);
        code = policy_rule_error(rule);
        log_info("event=publish_refused agent=%s topic=%s rule=%s reason=%s", log_q(s->agent),
                 log_q(m->topic), policy_rule_name(rule), log_q(text));
        refuse(b, &src, m, code, text);
        goto leave;
    }
    const config_agent_t *a = s->conf;
    if (strcmp(a->type, "broker") == 0) {
        /* A downstream broker's link: the origin it asserts is believed
         * only for the agencies it speaks for. A forged origin never
         * becomes believed identity. */
        if (route_checked(b, &src, m) != 0)
            goto leave;
        if (!origin_sane(m->origin) || !spoken_for(a, m->origin->agency)) {
            snprintf(why, sizeof why, "this link does not speak for the agency \"%.80s\"",
                     m->origin && m->origin->agency ? m->origin->agency : "");
            log_warn("event=origin_refused link=%s agency=%s", log_q(s->agent),
                     log_qn(m->origin && m->origin->agency ? m->origin->agency : "", 80));
            refuse(b, &src, m, LIAISON__ERROR_CODE__ORIGIN_NOT_SPOKEN_FOR, why);
            goto leave;
        }
        accept_routed(b, &src, m, now_us);
        return;
    }
    /* A release_to naming nobody this broker knows of would be withheld
     * from everyone: refused now, naming the entry. Only here, for local
     * publishers: a broker's forward was checked by the broker that
     * took it from its publisher, against its own view. */
    if (policy_release_known(b->cfg, m->label, why, sizeof why) != 0) {
        code = LIAISON__ERROR_CODE__BAD_RELEASE_TO;
        log_info("event=publish_refused agent=%s topic=%s code=%s reason=%s", log_q(s->agent),
                 log_q(m->topic), wire_error_name(code), log_q(why));
        refuse(b, &src, m, code, why);
        goto leave;
    }
    /* Identity comes from the CURVE key's configured agent, never from the
     * frame: overwrite anything the client claimed, its route too. */
    stamp_origin(b, &src, a, m);
    src.origin = origin_packed(b, s, m->origin);
    if (m->route && src.arena == NULL)
        liaison__route__free_unpacked(m->route, NULL);
    m->route = NULL;
    struct dedup d;
    if (msg_id[0]) {
        dedup_of(a->name, msg_id, &d);
        uint64_t seq = find_repeat(b, &d, now_us - (int64_t)b->cfg->dedup_window_s * 1000000);
        if (seq) {
            answer_repeat(b, &src, seq, msg_id);
            goto leave;
        }
    }
    accept(b, &src, m, msg_id[0] ? &d : NULL, now_us);
    return;
leave:
    wire_intel_free_in(&m, src.arena);
}

void ingest_from_uplink(broker_t *b, int uplink, const char *actor, uint32_t up_sub,
                        uint64_t up_seq, Liaison__Intel *m)
{
    char why[256];
    struct source src = {.uplink = uplink, .up_sub = up_sub, .up_seq = up_seq, .actor = actor};
    int64_t now_us = util_now_us();
    Liaison__ErrorCode code = label_validate(m, b->cfg->max_topic_len, why, sizeof why);
    if (code == LIAISON__ERROR_CODE__ERROR_NONE && !origin_sane(m->origin)) {
        code = LIAISON__ERROR_CODE__BAD_LABEL;
        snprintf(why, sizeof why, "a message from the upstream without its origin");
    }
    if (code != LIAISON__ERROR_CODE__ERROR_NONE) {
        log_warn("event=receive_refused link=%s code=%s reason=%s", log_q(actor),
                 wire_error_name(code), log_q(why));
        refuse(b, &src, m, code, why);
        wire_intel_free_in(&m, src.arena);
        return;
    }
    /* The upstream is the tier above: its origin stands. */
    if (route_checked(b, &src, m) != 0) {
        wire_intel_free_in(&m, src.arena);
        return;
    }
    accept_routed(b, &src, m, now_us);
}
