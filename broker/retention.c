/* retention.c — bounded, audited erasure by age, count, size and review
 * date. Two walks share each pass's budget: for every rule over its count
 * or size, a cursor that only moves forward from the oldest message (so the
 * oldest of that rule go first); and one rolling cursor over the whole
 * store for age and review dates, which can concern any message.
 * Not responsible for: the rules (config.c), the chain (audit.c). */
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "subjects.h"
#include "tally.h"
#include "topic.h"
#include "util.h"

#define SCAN_BUDGET  20000 /* messages read per pass */
#define ERASE_BUDGET 2000  /* messages erased per pass */

struct rule_state {
    uint64_t count, bytes;
    uint64_t pos; /* oldest sequence that may still belong to the rule */
};

struct retention {
    struct rule_state *rules;
    size_t n_rules;
    int stale; /* totals must be recounted */
    uint64_t rolling;
    int limit; /* erasures the next pass may make (retention_limit), 0: ERASE_BUDGET */
};

retention_t *retention_new(void)
{
    retention_t *r = xcalloc(1, sizeof *r);
    r->stale = 1;
    return r;
}

void retention_free(retention_t **rp)
{
    if (rp == NULL || *rp == NULL)
        return;
    free((*rp)->rules);
    free(*rp);
    *rp = NULL;
}

void retention_limit(retention_t *r, int max_erase)
{
    r->limit = max_erase < 1 ? 1 : max_erase;
}

void retention_invalidate(retention_t *r)
{
    r->stale = 1;
}

/* Index of the first rule governing topic, or -1. */
static int rule_of(const config_t *cfg, const char *topic)
{
    for (size_t i = 0; i < cfg->n_retention; i++)
        if (topic_match(cfg->retention[i].pattern, topic))
            return (int)i;
    return -1;
}

static int sized(const config_retention_t *rule)
{
    return rule->max_messages || rule->max_mb;
}

int retention_recount(retention_t *r, store_t *st, const config_t *cfg)
{
    free(r->rules);
    r->n_rules = cfg->n_retention;
    r->rules = xcalloc(r->n_rules ? r->n_rules : 1, sizeof *r->rules);
    r->stale = 0;
    int any = 0;
    for (size_t i = 0; i < cfg->n_retention; i++)
        any |= sized(&cfg->retention[i]);
    if (!any)
        return 0;
    store_read_t *rd = store_read_begin(st);
    if (rd == NULL) {
        r->stale = 1;
        return -1;
    }
    uint64_t seq = 0;
    const void *data;
    size_t len;
    while (store_read_next(rd, seq + 1, &seq, &data, &len) == STORE_OK) {
        Liaison__Intel *m = wire_intel_decode(data, len);
        int i = m ? rule_of(cfg, m->topic) : -1;
        if (i >= 0) {
            r->rules[i].count++;
            r->rules[i].bytes += len;
        }
        wire_intel_free(&m);
    }
    store_read_end(&rd);
    log_info("event=retention_counted rules=%zu", r->n_rules);
    return 0;
}

void retention_note(retention_t *r, const config_t *cfg, const Liaison__Intel *m, size_t len)
{
    if (r->stale || r->n_rules != cfg->n_retention)
        return;
    int i = rule_of(cfg, m->topic);
    if (i >= 0) {
        r->rules[i].count++;
        r->rules[i].bytes += len;
    }
}

static int over(const struct rule_state *s, const config_retention_t *rule)
{
    return (rule->max_messages && s->count > rule->max_messages) ||
           (rule->max_mb && s->bytes > (uint64_t)rule->max_mb << 20);
}

/* Why m must go by age or review date, or NULL. */
static const char *expired(const config_t *cfg, const Liaison__Intel *m, int rule, int64_t now_us)
{
    if (rule >= 0 && cfg->retention[rule].max_age_days &&
        now_us - m->received_at_us > (int64_t)cfg->retention[rule].max_age_days * 86400000000LL)
        return "max_age_days";
    int64_t review;
    if (cfg->purge_after_review && m->label && m->label->review_at && m->label->review_at[0] &&
        util_parse_time(m->label->review_at, &review) == 0 && now_us >= review + 86400000000LL)
        return "review_at";
    return NULL;
}

/* Erases one message with its erasure record. Returns the store rc. */
static int erase(retention_t *r, batch_t *bt, const config_t *cfg, audit_t *audit,
                 const uint8_t *index_key, const Liaison__Intel *m, const void *data, size_t len,
                 const char *why)
{
    int rc;
    if (bt->failed != STORE_OK)
        return bt->failed;
    store_wset_purge(bt->w, m->seq, m->received_at_us); /* its dedup entry too */
    if (index_key)
        subjects_write(index_key, bt->w, m, m->seq, 1); /* its index entries go with it */
    bt->n_purges++;
    if (m->topic)
        batch_add_erased(bt, m->seq, m->topic, tally_class(m), len);
    uint8_t digest[32];
    audit_digest(data, len, digest);
    struct audit_event ev = {.actor = "broker",
                             .action = "erase",
                             .outcome = "ok",
                             .reason = why,
                             .topic = m->topic,
                             .msg_seq = m->seq,
                             .digest = digest};
    if ((rc = audit_append(audit, bt, &ev)) != STORE_OK)
        return rc;
    int i = rule_of(cfg, m->topic);
    if (i >= 0 && (size_t)i < r->n_rules) {
        r->rules[i].count--;
        r->rules[i].bytes -= len;
    }
    return STORE_OK;
}

int retention_pass(retention_t *r, store_t *st, const config_t *cfg, audit_t *audit,
                   const uint8_t *index_key, batch_t *bt, int64_t now_us)
{
    if ((r->stale || r->n_rules != cfg->n_retention) && retention_recount(r, st, cfg) != 0)
        return 0;
    store_read_t *rd = store_read_begin(st);
    if (rd == NULL)
        return 0;
    int scanned = 0, erased = 0, failed = 0;
    int budget = r->limit && r->limit < ERASE_BUDGET ? r->limit : ERASE_BUDGET;
    r->limit = 0;
    uint64_t seq;
    const void *data;
    size_t len;
    /* 1. Rules over their count or size: their oldest messages go first. */
    for (size_t i = 0; i < r->n_rules && !failed; i++) {
        struct rule_state *s = &r->rules[i];
        while (over(s, &cfg->retention[i]) && scanned < SCAN_BUDGET && erased < budget &&
               store_read_next(rd, s->pos, &seq, &data, &len) == STORE_OK) {
            scanned++;
            s->pos = seq + 1;
            Liaison__Intel *m = wire_intel_decode(data, len);
            if (m && rule_of(cfg, m->topic) == (int)i) {
                const char *why =
                    cfg->retention[i].max_messages && s->count > cfg->retention[i].max_messages
                        ? "max_messages"
                        : "max_mb";
                if (erase(r, bt, cfg, audit, index_key, m, data, len, why) != STORE_OK)
                    failed = 1;
                else
                    erased++;
            }
            wire_intel_free(&m);
        }
    }
    /* 2. Age and review dates, rolling over the whole store. */
    while (!failed && scanned < SCAN_BUDGET && erased < budget) {
        if (store_read_next(rd, r->rolling + 1, &seq, &data, &len) != STORE_OK) {
            r->rolling = 0; /* wrapped: start again from the oldest next pass */
            break;
        }
        scanned++;
        r->rolling = seq;
        Liaison__Intel *m = wire_intel_decode(data, len);
        const char *why = m ? expired(cfg, m, rule_of(cfg, m->topic), now_us) : NULL;
        if (why) {
            if (erase(r, bt, cfg, audit, index_key, m, data, len, why) != STORE_OK)
                failed = 1;
            else
                erased++;
        }
        wire_intel_free(&m);
    }
    store_read_end(&rd);
    if (failed) {
        r->stale = 1;
        return -1;
    }
    if (erased)
        log_info("event=retention_erased messages=%d", erased);
    return erased;
}
