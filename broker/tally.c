/* tally.c — per-topic counts of the stored messages (tally.h): a hash of
 * (topic, classification) entries, each with its totals and a Fenwick tree
 * of its counts per bucket of TALLY_BUCKET sequences from the bucket of its
 * oldest message (compact). Appends come in sequence order (the start-up pass reads
 * in order, commits follow it), so a tree only ever grows at its end.
 * Not responsible for: when it is fed (control.c, from commit.c's release)
 * or what is shown of it. */
#include "tally.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "topic.h"
#include "util.h"

#define BUCKETS 4096 /* hash buckets */
#define CACHE   256  /* partial-bucket counts remembered */

struct entry {
    char *topic; /* owned */
    int cls;
    uint64_t messages, bytes;
    uint64_t oldest_seq;
    int64_t oldest_us, newest_us;
    int oldest_stale; /* its oldest was erased: found again by tally_each */
    uint64_t base;    /* bucket of fen[1] */
    uint64_t *fen;    /* 1-based Fenwick tree over buckets base.. ; n of them */
    size_t n, cap;
    int next; /* hash chain, -1 ends */
};

/* How many matching messages one bucket holds above a sequence: the part
 * of a backlog the trees cannot tell, remembered so a durable that does
 * not move is not re-read every view. */
struct partial {
    char *pattern; /* owned; NULL when empty */
    uint64_t after, scanned_to, count, gen;
};

struct tally {
    struct entry *e;
    size_t n, cap;
    int buckets[BUCKETS];
    uint64_t covered; /* every stored sequence up to here is counted */
    uint64_t scanned; /* messages read by the start-up pass */
    int caught_up;    /* the start-up pass is done */
    int overflow;     /* more than TALLY_MAX_TOPICS pairs: not exact */
    uint64_t erased;  /* erasures counted: a partial read before one is stale */
    size_t last;      /* the entry found last, + 1; 0: none (a commit's run of one topic) */
    struct partial cache[CACHE];
};

tally_t *tally_new(void)
{
    tally_t *t = xcalloc(1, sizeof *t);
    memset(t->buckets, 0xff, sizeof t->buckets);
    return t;
}

void tally_free(tally_t **tp)
{
    if (tp == NULL || *tp == NULL)
        return;
    tally_t *t = *tp;
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].topic);
        free(t->e[i].fen);
    }
    free(t->e);
    for (size_t i = 0; i < CACHE; i++)
        free(t->cache[i].pattern);
    free(t);
    *tp = NULL;
}

int tally_class(const Liaison__Intel *m)
{
    return m->label ? (int)m->label->classification : TALLY_NO_LABEL;
}

static uint32_t fnv(const char *s, int cls)
{
    uint32_t h = 2166136261u ^ (uint32_t)cls;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static struct entry *find(tally_t *t, const char *topic, int cls, int add)
{
    struct entry *last = t->last ? &t->e[t->last - 1] : NULL;
    if (last && last->cls == cls && strcmp(last->topic, topic) == 0)
        return last;
    uint32_t h = fnv(topic, cls) % BUCKETS;
    for (int i = t->buckets[h]; i >= 0; i = t->e[i].next)
        if (t->e[i].cls == cls && strcmp(t->e[i].topic, topic) == 0) {
            t->last = (size_t)i + 1;
            return &t->e[i];
        }
    if (!add)
        return NULL;
    if (t->n >= TALLY_MAX_TOPICS) {
        if (!t->overflow)
            log_warn("event=tally_overflow topics=%d action=\"topics view and backlogs are "
                     "estimates from now\"",
                     TALLY_MAX_TOPICS);
        t->overflow = 1;
        return NULL;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->e = xrealloc(t->e, t->cap * sizeof *t->e);
    }
    struct entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    e->topic = xstrdup(topic);
    e->cls = cls;
    e->next = t->buckets[h];
    t->buckets[h] = (int)t->n++;
    t->last = t->n;
    return e;
}

/* ---- the tree ---------------------------------------------------------------- */

static uint64_t prefix(const struct entry *e, size_t i)
{
    uint64_t s = 0;
    for (; i > 0; i -= i & (~i + 1))
        s += e->fen[i];
    return s;
}

/* Buckets up to bucket (absolute) exist in the tree; new ones hold 0. A
 * node appended at i covers (i - lowbit(i), i]: the sum of the ones before
 * it in that range. */
static void extend(struct entry *e, uint64_t bucket)
{
    if (e->n == 0 && e->fen == NULL)
        e->base = bucket;
    while (e->base + e->n <= bucket) {
        if (e->n + 2 > e->cap) {
            e->cap = e->cap ? e->cap * 2 : 8;
            e->fen = xrealloc(e->fen, e->cap * sizeof *e->fen);
        }
        size_t i = ++e->n;
        e->fen[i] = prefix(e, i - 1) - prefix(e, i - (i & (~i + 1)));
    }
}

static void add(struct entry *e, uint64_t bucket, int64_t delta)
{
    for (size_t i = (size_t)(bucket - e->base) + 1; i <= e->n; i += i & (~i + 1))
        e->fen[i] += (uint64_t)delta;
}

/* The first bucket (1-based) holding a message: the smallest i with
 * prefix(i) > 0, by descending the tree. e holds messages. */
static size_t first_held(const struct entry *e)
{
    size_t pos = 0, step = 1;
    while (step * 2 <= e->n)
        step *= 2;
    for (; step > 0; step /= 2)
        if (pos + step <= e->n && e->fen[pos + step] == 0) /* nothing up to pos + step */
            pos += step;
    return pos + 1;
}

/* Retention erases from the oldest end: once the empty buckets at the
 * front are half of a tree (and at least 16), the tree is built again from
 * the first that holds a message, so what a topic costs follows what is
 * stored rather than every sequence since its first message. A tree with
 * nothing left is let go. */
static void compact(struct entry *e)
{
    if (e->messages == 0) {
        free(e->fen);
        e->fen = NULL;
        e->n = e->cap = 0;
        return;
    }
    size_t k = first_held(e);
    if (k - 1 < 16 || k - 1 < e->n / 2)
        return;
    size_t m = e->n - (k - 1);
    uint64_t *fen = xcalloc(m + 2, sizeof *fen);
    for (size_t i = 1; i <= m; i++)
        fen[i] = prefix(e, k - 1 + i) - prefix(e, k - 2 + i); /* the counts, bucket by bucket */
    for (size_t i = 1; i <= m; i++) {                         /* and built up in place */
        size_t j = i + (i & (~i + 1));
        if (j <= m)
            fen[j] += fen[i];
    }
    free(e->fen);
    e->fen = fen;
    e->base += k - 1;
    e->n = m;
    e->cap = m + 2;
}

/* Messages of e in buckets above bucket. */
static uint64_t above(const struct entry *e, uint64_t bucket)
{
    if (e->n == 0 || bucket < e->base)
        return e->messages;
    if (bucket - e->base >= e->n)
        return 0;
    return e->messages - prefix(e, (size_t)(bucket - e->base) + 1);
}

/* ---- feeding ------------------------------------------------------------------- */

static void count(tally_t *t, uint64_t seq, const char *topic, int cls, size_t len, int64_t time_us)
{
    struct entry *e = find(t, topic, cls, 1);
    if (e == NULL)
        return;
    extend(e, seq / TALLY_BUCKET);
    add(e, seq / TALLY_BUCKET, 1);
    if (e->messages == 0 || seq < e->oldest_seq) {
        e->oldest_seq = seq;
        e->oldest_us = time_us;
        e->oldest_stale = 0;
    }
    e->messages++;
    e->bytes += len;
    if (time_us > e->newest_us)
        e->newest_us = time_us;
}

int tally_catch_up(tally_t *t, store_t *st, size_t max)
{
    if (t->caught_up)
        return 1;
    store_read_t *rd = store_read_begin(st);
    if (rd == NULL)
        return 0;
    const void *data;
    size_t len;
    uint64_t seq;
    size_t n = 0;
    int rc;
    while (n < max && (rc = store_read_next(rd, t->covered + 1, &seq, &data, &len)) == STORE_OK) {
        Liaison__Intel *m = wire_intel_decode(data, len);
        if (m && m->topic)
            count(t, seq, m->topic, tally_class(m), len, m->received_at_us);
        wire_intel_free(&m);
        t->covered = seq;
        t->scanned++;
        n++;
    }
    if (n < max && rc == STORE_NOTFOUND) {
        /* Everything committed is counted: from here each commit is. */
        t->caught_up = 1;
        /* covered stays the last message this snapshot held: a batch the
         * committer wrote since is counted when it is released, so covered
         * must not jump to store_last_seq (which may already name it). */
        log_info("event=tally_ready messages=%llu topics=%zu", (unsigned long long)t->scanned,
                 t->n);
    }
    store_read_end(&rd);
    return t->caught_up;
}

int tally_exact(const tally_t *t)
{
    return t->caught_up && !t->overflow;
}

uint64_t tally_scanned(const tally_t *t)
{
    return t->scanned;
}

size_t tally_buckets_held(const tally_t *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->e[i].n;
    return n;
}

void tally_put(tally_t *t, uint64_t seq, const char *topic, int cls, size_t len, int64_t time_us)
{
    /* Before the pass is done it reads this one itself; a message it has
     * read already is not counted twice. */
    if (!t->caught_up || seq <= t->covered)
        return;
    count(t, seq, topic, cls, len, time_us);
    t->covered = seq;
}

void tally_erase(tally_t *t, uint64_t seq, const char *topic, int cls, size_t len)
{
    if (seq > t->covered)
        return; /* committed gone before the pass reaches it */
    struct entry *e = find(t, topic, cls, 0);
    if (e == NULL || e->messages == 0)
        return;
    uint64_t bucket = seq / TALLY_BUCKET;
    if (bucket >= e->base && bucket - e->base < e->n)
        add(e, bucket, -1);
    e->messages--;
    e->bytes -= len < e->bytes ? len : e->bytes;
    if (seq == e->oldest_seq)
        e->oldest_stale = 1;
    t->erased++;
    compact(e);
}

/* ---- reading --------------------------------------------------------------- */

/* Matching messages in (from, to] read from the store. */
static int scan(store_t *st, const char *pattern, uint64_t from, uint64_t to, uint64_t *n)
{
    store_read_t *rd = store_read_begin(st);
    if (rd == NULL)
        return -1;
    const void *data;
    size_t len;
    uint64_t seq = from;
    while (seq < to && store_read_next(rd, seq + 1, &seq, &data, &len) == STORE_OK && seq <= to) {
        Liaison__Intel *m = wire_intel_decode(data, len);
        if (m && m->topic && topic_match(pattern, m->topic))
            (*n)++;
        wire_intel_free(&m);
    }
    store_read_end(&rd);
    return 0;
}

int tally_backlog(tally_t *t, store_t *st, const char *pattern, uint64_t after, uint64_t *n)
{
    if (!tally_exact(t))
        return -1;
    uint64_t bucket = after / TALLY_BUCKET, sum = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].messages && topic_match(pattern, t->e[i].topic))
            sum += above(&t->e[i], bucket);
    /* The rest of after's own bucket, read from the store (remembered). */
    uint64_t end = (bucket + 1) * TALLY_BUCKET - 1;
    if (end > t->covered)
        end = t->covered;
    uint32_t h = (fnv(pattern, 0) ^ (uint32_t)after * 2654435761u) % CACHE;
    struct partial *p = &t->cache[h];
    if (p->pattern == NULL || strcmp(p->pattern, pattern) != 0 || p->after != after ||
        p->gen != t->erased || p->scanned_to > end) {
        free(p->pattern);
        p->pattern = xstrdup(pattern);
        p->after = after;
        p->scanned_to = after;
        p->count = 0;
        p->gen = t->erased;
    }
    if (p->scanned_to < end) {
        if (scan(st, pattern, p->scanned_to, end, &p->count) != 0)
            return -1;
        p->scanned_to = end;
    }
    *n = sum + p->count;
    return 0;
}

/* The oldest message of e, found again in its first bucket that has any. */
static void refind_oldest(struct entry *e, store_t *st)
{
    size_t i = e->messages && e->n ? first_held(e) : e->n + 1;
    e->oldest_stale = 0;
    e->oldest_seq = 0;
    e->oldest_us = 0;
    if (i > e->n)
        return;
    uint64_t from = (e->base + i - 1) * TALLY_BUCKET;
    store_read_t *rd = store_read_begin(st);
    const void *data;
    size_t len;
    uint64_t seq = from ? from - 1 : 0;
    while (rd && store_read_next(rd, seq + 1, &seq, &data, &len) == STORE_OK &&
           seq < from + TALLY_BUCKET) {
        Liaison__Intel *m = wire_intel_decode(data, len);
        int hit = m && m->topic && tally_class(m) == e->cls && strcmp(m->topic, e->topic) == 0;
        if (hit) {
            e->oldest_seq = seq;
            e->oldest_us = m->received_at_us;
        }
        wire_intel_free(&m);
        if (hit)
            break;
    }
    store_read_end(&rd);
}

void tally_each(tally_t *t, store_t *st, tally_fn fn, void *ctx)
{
    for (size_t i = 0; i < t->n; i++) {
        struct entry *e = &t->e[i];
        if (e->messages == 0)
            continue;
        if (e->oldest_stale)
            refind_oldest(e, st);
        struct tally_topic v = {e->topic,      e->cls,       e->messages, e->bytes,
                                e->oldest_seq, e->oldest_us, e->newest_us};
        fn(&v, ctx);
    }
}
