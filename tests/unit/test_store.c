/* test_store.c — the broker's store (broker/store.c) on real LMDB in a
 * temporary directory: write sets committed whole, sequences across
 * restarts, reading in order, a write set the map cannot hold that leaves
 * nothing of itself and loses nothing committed, counts, and the dedup,
 * time and cursor indexes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "store.h"

struct fixture {
    char dir[64];
    store_t *s;
    store_wset_t *w;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/liaison-test-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(&f->s);
    store_wset_free(&f->w);
    int rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

struct find {
    const struct store_dkey *key;
    uint64_t seq;
};

static void find_key(uint64_t seq, const void *key, size_t len, void *ctx)
{
    struct find *fd = ctx;
    if (len == fd->key->len && memcmp(key, fd->key->b, len) == 0)
        fd->seq = seq;
}

/* Where the dedup log holds (origin, msg_id), its key made as ingest
 * makes it, found by walking the log (the broker asks its index), then
 * confirmed at that seq as the broker confirms it. */
static int lookup(store_t *s, store_read_t *r, const char *origin, const char *msg_id,
                  int64_t since, uint64_t *seq)
{
    struct store_dkey key;
    store_dedup_key(origin, msg_id, &key);
    struct find fd = {.key = &key};
    assert_true(store_dedup_keys(s, 0, INT64_MIN, find_key, &fd) >= 0);
    if (fd.seq == 0)
        return STORE_NOTFOUND;
    int rc = store_read_dedup(r, fd.seq, &key, since);
    if (rc == STORE_OK)
        *seq = fd.seq;
    return rc;
}

static store_t *open_store(struct fixture *f, unsigned map_mb)
{
    char err[512] = "";
    store_t *s = store_open(f->dir, map_mb, err, sizeof err);
    if (s == NULL)
        fail_msg("store_open %s: %s", f->dir, err);
    return s;
}

/* The payload stored under seq: len bytes that depend on seq. */
static void payload(uint64_t seq, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seq * 131 + i * 7);
}

static size_t payload_len(uint64_t seq)
{
    return 1 + (size_t)(seq * 37 % 500);
}

/* A message put into w; key is "origin\x1fmsg_id" or NULL. */
static void put(store_wset_t *w, uint64_t seq, int64_t time_us, const void *data, size_t len,
                const char *key)
{
    struct store_dkey dk;
    if (key) {
        char origin[64];
        const char *sep = strchr(key, '\x1f');
        snprintf(origin, sizeof origin, "%.*s", (int)(sep - key), key);
        store_dedup_key(origin, sep + 1, &dk);
    }
    size_t off = store_wset_msg(w, seq, time_us, len, key ? &dk : NULL);
    if (len)
        memcpy((void *)(uintptr_t)store_wset_data(w, off), data, len);
}

/* Puts seq..seq+n-1 with their payloads into w. */
static void put_range(store_wset_t *w, uint64_t first, uint64_t n)
{
    uint8_t buf[600];
    for (uint64_t seq = first; seq < first + n; seq++) {
        size_t len = payload_len(seq);
        payload(seq, buf, len);
        put(w, seq, (int64_t)(1000 * seq), buf, len, NULL);
    }
}

/* A fresh write set, the fixture's. */
static store_wset_t *wset(struct fixture *f)
{
    if (f->w == NULL)
        f->w = store_wset_new();
    store_wset_clear(f->w);
    return f->w;
}

static void commit_range(struct fixture *f, uint64_t first, uint64_t n)
{
    store_wset_t *w = wset(f);
    put_range(w, first, n);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
}

/* Checks seq is stored with its payload. */
static void assert_stored(store_t *s, uint64_t seq)
{
    store_read_t *r = store_read_begin(s);
    assert_non_null(r);
    const void *data = NULL;
    size_t len = 0;
    int rc = store_read_get(r, seq, &data, &len);
    if (rc != STORE_OK)
        fail_msg("seq %llu: rc %d", (unsigned long long)seq, rc);
    uint8_t want[600];
    assert_int_equal(len, payload_len(seq));
    payload(seq, want, len);
    assert_memory_equal(data, want, len);
    store_read_end(&r);
    assert_null(r);
}

static void assert_not_stored(store_t *s, uint64_t seq)
{
    store_read_t *r = store_read_begin(s);
    assert_non_null(r);
    const void *data;
    size_t len;
    assert_int_equal(store_read_get(r, seq, &data, &len), STORE_NOTFOUND);
    store_read_end(&r);
}

static void test_store_commit_then_get(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    store_t *s = f->s;
    assert_int_equal(store_last_seq(s), 0);
    const char hello[] = "hello";
    store_wset_t *w = wset(f);
    put(w, 1, 1000, hello, sizeof hello, "ops\x1fm-1");
    put(w, 2, 1001, "x", 1, NULL);
    assert_int_equal(store_wset_count(w), 2);
    assert_true(store_wset_estimate(w) > sizeof hello);
    assert_int_equal(store_last_seq(s), 0); /* not committed yet */
    assert_not_stored(s, 1);
    assert_int_equal(store_commit(s, w), STORE_OK);
    assert_int_equal(store_last_seq(s), 2);

    store_read_t *r = store_read_begin(s);
    assert_non_null(r);
    const void *data;
    size_t len;
    assert_int_equal(store_read_get(r, 1, &data, &len), STORE_OK);
    assert_int_equal(len, sizeof hello);
    assert_memory_equal(data, hello, sizeof hello);
    assert_int_equal(store_read_get(r, 2, &data, &len), STORE_OK);
    assert_int_equal(len, 1);
    assert_memory_equal(data, "x", 1);
    assert_int_equal(store_read_get(r, 3, &data, &len), STORE_NOTFOUND);
    assert_int_equal(store_read_get(r, 0, &data, &len), STORE_NOTFOUND);
    store_read_end(&r);
    store_read_end(&r); /* harmless twice */

    /* An empty write set commits nothing and changes nothing. */
    assert_int_equal(store_commit(s, wset(f)), STORE_OK);
    assert_int_equal(store_last_seq(s), 2);
}

static void test_store_empty_message_is_stored(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    store_wset_t *w = wset(f);
    put(w, 1, 0, "", 0, NULL);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    store_read_t *r = store_read_begin(f->s);
    const void *data;
    size_t len = 99;
    assert_int_equal(store_read_get(r, 1, &data, &len), STORE_OK);
    assert_int_equal(len, 0);
    store_read_end(&r);
}

static void test_store_sequence_continues_after_reopen(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    commit_range(f, 1, 5);
    store_close(&f->s);
    assert_null(f->s);

    f->s = open_store(f, 16);
    assert_int_equal(store_last_seq(f->s), 5);
    for (uint64_t seq = 1; seq <= 5; seq++)
        assert_stored(f->s, seq);

    /* Old numbers are never reused: a write set naming one fails whole. */
    store_wset_t *w = wset(f);
    put_range(w, 6, 1);
    put(w, 1, 0, "again", 5, NULL);
    assert_int_equal(store_commit(f->s, w), STORE_ERR);
    assert_not_stored(f->s, 6);
    assert_stored(f->s, 1);
    commit_range(f, 6, 3);
    store_close(&f->s);

    f->s = open_store(f, 16);
    assert_int_equal(store_last_seq(f->s), 8);
    for (uint64_t seq = 1; seq <= 8; seq++)
        assert_stored(f->s, seq);
}

static void test_store_high_water_mark_survives_erasing_the_newest(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    commit_range(f, 1, 3);
    store_wset_t *w = wset(f);
    store_wset_purge(w, 3, 3000);
    store_wset_purge(w, 3, 3000); /* twice: already gone is fine */
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    assert_not_stored(f->s, 3);
    store_close(&f->s);
    f->s = open_store(f, 16);
    assert_int_equal(store_last_seq(f->s), 3); /* 3 is never given out again */

    /* Commits that erase nothing leave the mark where it was; the newest
     * message is higher, and the next erasure of the newest writes it. */
    commit_range(f, 4, 2);
    store_close(&f->s);
    f->s = open_store(f, 16);
    assert_int_equal(store_last_seq(f->s), 5);
    w = wset(f);
    store_wset_purge(w, 5, 3000);
    store_wset_purge(w, 4, 3000);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    store_close(&f->s);
    f->s = open_store(f, 16);
    assert_int_equal(store_last_seq(f->s), 5);
}

static void test_store_uncommitted_write_set_is_lost_on_close(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    commit_range(f, 1, 2);
    put_range(wset(f), 3, 2);
    store_close(&f->s); /* never acked, so never promised */

    f->s = open_store(f, 16);
    assert_int_equal(store_last_seq(f->s), 2);
    assert_not_stored(f->s, 3);
}

/* Asked for the one after the last it gave, or anywhere else, in any
 * order, read_next gives the first message at or after what was asked. */
static void test_store_read_next_from_anywhere_in_any_order(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    commit_range(f, 1, 2);
    commit_range(f, 5, 3); /* 1, 2, 5, 6, 7 */
    store_read_t *r = store_read_begin(f->s);
    assert_non_null(r);
    static const uint64_t from[] = {1, 2, 3, 6, 7, 8, 2, 3, 1, 6, 5, 6};
    static const uint64_t want[] = {1, 2, 5, 6, 7, 0, 2, 5, 1, 6, 5, 6};
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
        uint64_t seq = 0;
        const void *data;
        size_t len;
        int rc = store_read_next(r, from[i], &seq, &data, &len);
        if (want[i] == 0) {
            assert_int_equal(rc, STORE_NOTFOUND);
            continue;
        }
        assert_int_equal(rc, STORE_OK);
        assert_int_equal(seq, want[i]);
        assert_int_equal(len, payload_len(seq));
    }
    store_read_end(&r);
}

static void test_store_read_next_walks_in_sequence_order(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    /* Past 255 and 65535 would reorder if keys were not big-endian. */
    const uint64_t total = 700;
    for (uint64_t first = 1; first <= total; first += 100)
        commit_range(f, first, 100);
    assert_int_equal(store_last_seq(f->s), total);

    store_read_t *r = store_read_begin(f->s);
    assert_non_null(r);
    uint64_t from = 0, seq = 0, expect = 1;
    const void *data;
    size_t len;
    int rc;
    while ((rc = store_read_next(r, from, &seq, &data, &len)) == STORE_OK) {
        assert_int_equal(seq, expect);
        uint8_t want[600];
        assert_int_equal(len, payload_len(seq));
        payload(seq, want, len);
        assert_memory_equal(data, want, len);
        from = seq + 1;
        expect++;
    }
    assert_int_equal(rc, STORE_NOTFOUND);
    assert_int_equal(expect, total + 1);

    /* From the middle, from exactly the last, and past it. */
    assert_int_equal(store_read_next(r, 256, &seq, &data, &len), STORE_OK);
    assert_int_equal(seq, 256);
    assert_int_equal(store_read_next(r, total, &seq, &data, &len), STORE_OK);
    assert_int_equal(seq, total);
    assert_int_equal(store_read_next(r, total + 1, &seq, &data, &len), STORE_NOTFOUND);
    assert_int_equal(store_read_next(r, UINT64_MAX, &seq, &data, &len), STORE_NOTFOUND);
    store_read_end(&r);
}

static void test_store_read_next_on_empty_store(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    store_read_t *r = store_read_begin(f->s);
    assert_non_null(r);
    uint64_t seq;
    const void *data;
    size_t len;
    assert_int_equal(store_read_next(r, 0, &seq, &data, &len), STORE_NOTFOUND);
    assert_int_equal(store_read_next(r, 1, &seq, &data, &len), STORE_NOTFOUND);
    store_read_end(&r);
}

static void test_store_reader_sees_only_committed_write_sets(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    commit_range(f, 1, 1);
    /* A reader taken before a commit keeps its snapshot... */
    store_read_t *r = store_read_begin(f->s);
    assert_non_null(r);
    commit_range(f, 2, 1);
    const void *data;
    size_t len;
    assert_int_equal(store_read_get(r, 1, &data, &len), STORE_OK);
    assert_int_equal(store_read_get(r, 2, &data, &len), STORE_NOTFOUND);
    store_read_end(&r);
    /* ...a new one sees the commit. */
    assert_stored(f->s, 2);
}

/* Fills a 1 MiB map by committing write sets of 8 large messages until
 * one does not fit; returns the last committed sequence. */
static uint64_t fill(struct fixture *f, uint8_t *big, size_t len)
{
    int rc = STORE_OK;
    uint64_t next = store_last_seq(f->s) + 1, committed = store_last_seq(f->s);
    for (int pass = 0; pass < 1000 && rc == STORE_OK; pass++) {
        store_wset_t *w = wset(f);
        for (int i = 0; i < 8; i++, next++) {
            memset(big, (int)(next & 0xff), len);
            put(w, next, (int64_t)next, big, len, NULL);
        }
        rc = store_commit(f->s, w);
        if (rc == STORE_OK)
            committed = next - 1;
    }
    assert_int_equal(rc, STORE_FULL);
    return committed;
}

static void test_store_full_map_refuses_write_set_and_keeps_what_was_committed(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 1);
    uint8_t big[4000];
    uint64_t committed = fill(f, big, sizeof big);
    assert_true(committed > 8);
    assert_int_equal(store_last_seq(f->s), committed);
    assert_true(store_room(f->s) < (1u << 20));

    /* A message that fits, then an audit record that does not: the write
     * set fails whole, and the message is not stored either. */
    store_wset_t *w = wset(f);
    put(w, committed + 1, 1, "small", 5, "ops\x1fsmall");
    static uint8_t huge[600000];
    store_wset_audit(w, 1, huge, sizeof huge);
    assert_int_equal(store_commit(f->s, w), STORE_FULL);
    assert_not_stored(f->s, committed + 1);
    assert_int_equal(store_last_seq(f->s), committed);
    store_read_t *r = store_read_begin(f->s);
    uint64_t seq;
    assert_int_equal(lookup(f->s, r, "ops", "small", 0, &seq), STORE_NOTFOUND);

    /* Nothing acked is lost. */
    for (seq = 1; seq <= committed; seq++) {
        const void *data;
        size_t len;
        assert_int_equal(store_read_get(r, seq, &data, &len), STORE_OK);
        assert_int_equal(len, sizeof big);
        memset(big, (int)(seq & 0xff), sizeof big);
        assert_memory_equal(data, big, len);
    }
    store_read_end(&r);

    struct store_stat st;
    assert_int_equal(store_stat(f->s, &st), STORE_OK);
    assert_int_equal(st.messages, committed);
    assert_int_equal(st.map_bytes, 1u << 20);
    assert_true(st.used_bytes <= st.map_bytes);

    /* The operator raises map_size_mb and restarts: publishing resumes. */
    store_close(&f->s);
    f->s = open_store(f, 8);
    assert_int_equal(store_last_seq(f->s), committed);
    assert_true(store_room(f->s) > (4u << 20));
    w = wset(f);
    for (uint64_t s2 = committed + 1; s2 <= committed + 16; s2++) {
        memset(big, (int)(s2 & 0xff), sizeof big);
        put(w, s2, (int64_t)s2, big, sizeof big, NULL);
    }
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    assert_int_equal(store_last_seq(f->s), committed + 16);
    assert_int_equal(store_stat(f->s, &st), STORE_OK);
    assert_int_equal(st.messages, committed + 16);
    assert_int_equal(st.map_bytes, 8u << 20);
}

static void test_store_room_counts_pages_freed_by_erasure(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 1);
    uint8_t big[4000];
    uint64_t committed = fill(f, big, sizeof big);
    store_room_update(f->s);
    uint64_t full = store_room(f->s);
    store_wset_t *w = wset(f);
    for (uint64_t seq = 1; seq <= committed / 2; seq++)
        store_wset_purge(w, seq, (int64_t)seq);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    /* Two commits later LMDB may reuse the pages; room says so at once. */
    store_room_update(f->s);
    assert_true(store_room(f->s) > full + (committed / 4) * sizeof big);
}

static void test_store_stat_counts_messages_and_bytes(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    struct store_stat st;
    memset(&st, 0xff, sizeof st);
    assert_int_equal(store_stat(f->s, &st), STORE_OK);
    assert_int_equal(st.first_seq, 0);
    assert_int_equal(st.last_seq, 0);
    assert_int_equal(st.messages, 0);
    assert_int_equal(st.map_bytes, 16u << 20);
    assert_true(st.used_bytes > 0);
    uint64_t used_empty = st.used_bytes;

    store_wset_t *w = wset(f);
    put_range(w, 1, 300);
    /* Counts are of committed messages. */
    assert_int_equal(store_stat(f->s, &st), STORE_OK);
    assert_int_equal(st.messages, 0);
    assert_int_equal(store_commit(f->s, w), STORE_OK);

    assert_int_equal(store_stat(f->s, &st), STORE_OK);
    assert_int_equal(st.first_seq, 1);
    assert_int_equal(st.last_seq, 300);
    assert_int_equal(st.messages, 300);
    assert_true(st.used_bytes > used_empty);
    assert_true(st.used_bytes <= st.map_bytes);
}

static int dedup(store_t *s, const char *key, int64_t since, uint64_t *seq)
{
    char origin[64];
    const char *sep = strchr(key, '\x1f');
    snprintf(origin, sizeof origin, "%.*s", (int)(sep - key), key);
    store_read_t *r = store_read_begin(s);
    assert_non_null(r);
    int rc = lookup(s, r, origin, sep + 1, since, seq);
    store_read_end(&r);
    return rc;
}

static void test_store_dedup_finds_msg_id_after_commit(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    const char *key = "humberside-police\x1fhull-2026-000123";
    uint64_t seq = 0;
    assert_int_equal(dedup(f->s, key, 0, &seq), STORE_NOTFOUND);

    store_wset_t *w = wset(f);
    put(w, 1, 5000, "a", 1, key);
    assert_int_equal(dedup(f->s, key, 0, &seq), STORE_NOTFOUND); /* not yet */
    assert_int_equal(store_commit(f->s, w), STORE_OK);

    seq = 0;
    assert_int_equal(dedup(f->s, key, 0, &seq), STORE_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(dedup(f->s, key, 5000, &seq), STORE_OK);
    /* Older than the dedup window: not a duplicate any more. */
    assert_int_equal(dedup(f->s, key, 5001, &seq), STORE_NOTFOUND);
    /* The same msg_id from another origin is a different key. */
    assert_int_equal(dedup(f->s, "yh-rocu\x1fhull-2026-000123", 0, &seq), STORE_NOTFOUND);

    /* Survives a restart, and goes with an erasure. */
    store_close(&f->s);
    f->s = open_store(f, 16);
    assert_int_equal(dedup(f->s, key, 0, &seq), STORE_OK);
    assert_int_equal(seq, 1);
    w = wset(f);
    store_wset_purge(w, 1, 5000);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    assert_int_equal(dedup(f->s, key, 0, &seq), STORE_NOTFOUND);
}

/* The audit record stored under aseq is the one made of aseq and tag. */
static void assert_audit(store_t *s, uint64_t aseq, int tag)
{
    char want[32];
    snprintf(want, sizeof want, "record %llu/%d", (unsigned long long)aseq, tag);
    store_read_t *r = store_read_begin(s);
    uint64_t found = 0;
    const void *data;
    size_t len;
    assert_int_equal(store_read_seek(r, STORE_DB_AUDIT, aseq, 0, &found, &data, &len), STORE_OK);
    assert_int_equal(found, aseq);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(data, want, len);
    store_read_end(&r);
}

static void put_audit(store_wset_t *w, uint64_t aseq, int tag)
{
    char rec[32];
    int n = snprintf(rec, sizeof rec, "record %llu/%d", (unsigned long long)aseq, tag);
    store_wset_audit(w, aseq, rec, (size_t)n);
}

/* One commit, as a pass with retention makes it: the oldest two thousand
 * messages erased from the front of the trees the commit appends to,
 * two thousand more appended at their end with dedup keys and audit
 * records, and a record put again under a sequence it has (not at the
 * end: put in place). Each lands where it should. */
static void test_store_one_commit_erases_at_the_front_and_appends_at_the_end(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 64);
    commit_range(f, 1, 3000);
    store_wset_t *w = wset(f);
    for (uint64_t seq = 1; seq <= 3000; seq++)
        put_audit(w, seq, 0);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    w = wset(f);
    for (uint64_t seq = 1; seq <= 2000; seq++)
        store_wset_purge(w, seq, (int64_t)(1000 * seq));
    uint8_t buf[600];
    char key[64];
    for (uint64_t seq = 3001; seq <= 5000; seq++) {
        size_t len = payload_len(seq);
        payload(seq, buf, len);
        snprintf(key, sizeof key, "pub\x1fm-%llu", (unsigned long long)seq);
        put(w, seq, (int64_t)(1000 * seq), buf, len, key);
        put_audit(w, seq, 0);
    }
    put_audit(w, 1500, 1);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    for (uint64_t seq = 1; seq <= 5000; seq++) {
        if (seq <= 2000)
            assert_not_stored(f->s, seq);
        else
            assert_stored(f->s, seq);
        assert_audit(f->s, seq, seq == 1500);
    }
    uint64_t found = 0;
    assert_int_equal(dedup(f->s, "pub\x1fm-4321", 0, &found), STORE_OK);
    assert_int_equal(found, 4321);
    assert_int_equal(dedup(f->s, "pub\x1fm-5000", 0, &found), STORE_OK);
    assert_int_equal(found, 5000);
    assert_int_equal(store_last_seq(f->s), 5000);
}

static void test_store_dedup_keeps_apart_msg_ids_sharing_their_first_600_bytes(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    char a[1100], b[1100];
    memset(a, 'n', 1000);
    memcpy(b, a, 1000);
    strcpy(a + 1000, "-informant-7");
    strcpy(b + 1000, "-informant-8");
    struct store_dkey ka, kb;
    store_dedup_key("humberside-police", a, &ka);
    store_dedup_key("humberside-police", b, &kb);
    assert_int_equal(ka.len, kb.len);
    assert_true(ka.len <= 511);
    assert_memory_not_equal(ka.b, kb.b, ka.len);
    store_wset_t *w = wset(f);
    store_wset_msg(w, 1, 10, 0, &ka);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    store_read_t *r = store_read_begin(f->s);
    uint64_t seq = 0;
    assert_int_equal(lookup(f->s, r, "humberside-police", a, 0, &seq), STORE_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(lookup(f->s, r, "humberside-police", b, 0, &seq), STORE_NOTFOUND);
    /* Asked at its seq, another key is not there either. */
    assert_int_equal(store_read_dedup(r, 1, &kb, 0), STORE_NOTFOUND);
    assert_int_equal(store_read_dedup(r, 1, &ka, 0), STORE_OK);
    assert_int_equal(store_read_dedup(r, 2, &ka, 0), STORE_NOTFOUND);
    store_read_end(&r);
}

/* A write (or, with MDB_RDONLY, read) transaction on the store's files,
 * behind the store's back: for writing what an older or damaged store
 * holds, and reading what is left. */
static MDB_txn *raw_txn(const char *dir, unsigned flags, MDB_env **env)
{
    MDB_txn *txn;
    assert_int_equal(mdb_env_create(env), 0);
    mdb_env_set_maxdbs(*env, 16);
    assert_int_equal(mdb_env_open(*env, dir, flags, 0600), 0);
    assert_int_equal(mdb_txn_begin(*env, NULL, flags, &txn), 0);
    return txn;
}

/* Asserts the store's files hold no database named name (any more). */
static void assert_no_db(const char *dir, const char *name)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn = raw_txn(dir, MDB_RDONLY, &env);
    assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), MDB_NOTFOUND);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* A store written before the dedup log holds "dedup", key -> seq + time,
 * with a long msg_id's key in the text form of older stores still: its
 * entries move into the log, in the form keys have now, and it goes. */
static void test_store_moves_an_older_dedup_index_into_the_log(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    store_close(&f->s);
    char long_id[700], text[800];
    memset(long_id, 'x', 450); /* past STORE_DEDUP_TEXT, within LMDB's 511 */
    strcpy(long_id + 450, "-informant-9");
    snprintf(text, sizeof text, "humberside-police\x1f%s", long_id);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi old;
    txn = raw_txn(f->dir, 0, &env);
    assert_int_equal(mdb_dbi_open(txn, "dedup", MDB_CREATE, &old), 0);
    const char *short_key = "humberside-police\x1fhull-2026-000123";
    uint64_t sv[2] = {1, 5000}, lv[2] = {2, 6000};
    MDB_val k = {.mv_size = strlen(short_key), .mv_data = (void *)(uintptr_t)short_key};
    MDB_val v = {.mv_size = 16, .mv_data = sv};
    assert_int_equal(mdb_put(txn, old, &k, &v, 0), 0);
    k = (MDB_val){.mv_size = strlen(text), .mv_data = text};
    v = (MDB_val){.mv_size = 16, .mv_data = lv};
    assert_int_equal(mdb_put(txn, old, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    f->s = open_store(f, 16);
    uint64_t seq = 0;
    assert_int_equal(dedup(f->s, short_key, 0, &seq), STORE_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(dedup(f->s, short_key, 5001, &seq), STORE_NOTFOUND); /* its time came too */
    store_read_t *r = store_read_begin(f->s);
    assert_int_equal(lookup(f->s, r, "humberside-police", long_id, 6000, &seq), STORE_OK);
    assert_int_equal(seq, 2);
    store_read_end(&r);
    assert_int_equal(store_dedup_keys(f->s, 0, INT64_MIN, NULL, NULL), 2);
    store_close(&f->s);
    assert_no_db(f->dir, "dedup");
}

/* A store written before the subject index's buckets holds "subjects",
 * token + seq: its entries move into the buckets at the next read-write
 * open, in order under their token, and the old database goes. */
static void test_store_moves_an_older_subject_index_into_buckets(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    store_close(&f->s);
    uint8_t t[STORE_TOKEN_BYTES];
    memset(t, 0xa7, sizeof t);
    MDB_env *env;
    MDB_dbi old;
    MDB_txn *txn = raw_txn(f->dir, 0, &env);
    assert_int_equal(mdb_dbi_open(txn, "subjects", MDB_CREATE, &old), 0);
    const uint64_t seqs[] = {7, 40000};
    for (size_t i = 0; i < 2; i++) {
        uint8_t kb[STORE_TOKEN_BYTES + 8];
        memcpy(kb, t, sizeof t);
        for (int j = 0; j < 8; j++)
            kb[sizeof t + j] = (uint8_t)(seqs[i] >> (56 - 8 * j));
        MDB_val k = {.mv_size = sizeof kb, .mv_data = kb}, v = {.mv_size = 0, .mv_data = kb};
        assert_int_equal(mdb_put(txn, old, &k, &v, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    f->s = open_store(f, 16);
    store_read_t *r = store_read_begin(f->s);
    uint64_t seq = 0;
    assert_int_equal(store_read_subject(r, t, 1, &seq), STORE_OK);
    assert_int_equal(seq, 7);
    assert_int_equal(store_read_subject(r, t, 8, &seq), STORE_OK);
    assert_int_equal(seq, 40000);
    assert_int_equal(store_read_subject(r, t, 40001, &seq), STORE_NOTFOUND);
    store_read_end(&r);
    store_close(&f->s);
    assert_no_db(f->dir, "subjects");
}

static void test_store_seq_at_time_finds_first_message_since(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    uint64_t seq = 0;
    assert_int_equal(store_seq_at_time(f->s, 0, &seq), STORE_NOTFOUND);
    commit_range(f, 1, 10); /* seq n at time 1000 n */

    assert_int_equal(store_seq_at_time(f->s, 0, &seq), STORE_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(store_seq_at_time(f->s, -5, &seq), STORE_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(store_seq_at_time(f->s, 5000, &seq), STORE_OK);
    assert_int_equal(seq, 5);
    assert_int_equal(store_seq_at_time(f->s, 5001, &seq), STORE_OK);
    assert_int_equal(seq, 6);
    assert_int_equal(store_seq_at_time(f->s, 10000, &seq), STORE_OK);
    assert_int_equal(seq, 10);
    assert_int_equal(store_seq_at_time(f->s, 10001, &seq), STORE_NOTFOUND);
}

/* The first message stored at or after the sequence store_seq_at_time
 * gives for since (a starting point: it may name one erased since). */
static uint64_t first_since(struct fixture *f, int64_t since_us)
{
    uint64_t at = 0, seq = 0;
    if (store_seq_at_time(f->s, since_us, &at) != STORE_OK)
        return 0;
    store_read_t *r = store_read_begin(f->s);
    const void *data;
    size_t len;
    int rc = store_read_next(r, at, &seq, &data, &len);
    store_read_end(&r);
    return rc == STORE_OK ? seq : 0;
}

static void purge_range(struct fixture *f, uint64_t first, uint64_t n)
{
    store_wset_t *w = wset(f);
    for (uint64_t seq = first; seq < first + n; seq++)
        store_wset_purge(w, seq, (int64_t)(1000 * seq));
    assert_int_equal(store_commit(f->s, w), STORE_OK);
}

/* The time index holds a run of times per commit: a time inside a run, or
 * in a gap between two, still finds its first message; erasing a run's
 * first messages, a message in the middle, then whole runs, leaves the rest
 * found; with nothing left there is nothing to find. */
static void test_store_seq_at_time_finds_messages_inside_a_commit_and_after_erasures(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    commit_range(f, 1, 10);   /* times 1000 .. 10000 */
    commit_range(f, 11, 500); /* 11000 .. 510000: more than one run */
    commit_range(f, 511, 1);
    assert_int_equal(first_since(f, 0), 1);
    assert_int_equal(first_since(f, 7500), 8);
    assert_int_equal(first_since(f, 10001), 11);
    assert_int_equal(first_since(f, 420000), 420);
    assert_int_equal(first_since(f, 420001), 421);
    assert_int_equal(first_since(f, 510001), 511);
    uint64_t seq;
    assert_int_equal(store_seq_at_time(f->s, 511001, &seq), STORE_NOTFOUND);

    purge_range(f, 1, 3);
    assert_int_equal(first_since(f, 0), 4);
    assert_int_equal(first_since(f, 5000), 5);
    purge_range(f, 15, 1);
    assert_int_equal(first_since(f, 15000), 16);
    assert_int_equal(first_since(f, 14000), 14);
    purge_range(f, 4, 7); /* the first commit, all gone */
    assert_int_equal(first_since(f, 0), 11);
    purge_range(f, 11, 4);
    purge_range(f, 16, 495);
    assert_int_equal(first_since(f, 0), 511);
    purge_range(f, 511, 1);
    assert_int_equal(store_seq_at_time(f->s, 0, &seq), STORE_NOTFOUND);
}

static void test_store_cursor_round_trips_after_commit(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    uint64_t floor = 0;
    char pattern[64];
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/inbox", &floor, pattern, sizeof pattern, NULL),
                     STORE_NOTFOUND);

    store_wset_t *w = wset(f);
    store_wset_cursor(w, "yh-rocu/inbox", 41, "alert.yorkshire.>", NULL);
    /* Durable when the write set commits. */
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/inbox", &floor, pattern, sizeof pattern, NULL),
                     STORE_NOTFOUND);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/inbox", &floor, pattern, sizeof pattern, NULL),
                     STORE_OK);
    assert_int_equal(floor, 41);
    assert_string_equal(pattern, "alert.yorkshire.>");

    /* Overwritten by a later put; a short buffer gets a terminated prefix. */
    w = wset(f);
    store_wset_cursor(w, "yh-rocu/inbox", 90, "national.>", NULL);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    char small[5];
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/inbox", &floor, small, sizeof small, NULL),
                     STORE_OK);
    assert_int_equal(floor, 90);
    assert_string_equal(small, "nati");

    store_close(&f->s);
    f->s = open_store(f, 16);
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/inbox", &floor, pattern, sizeof pattern, NULL),
                     STORE_OK);
    assert_int_equal(floor, 90);
    assert_string_equal(pattern, "national.>");

    /* A dead letter goes into the write set and does not disturb messages;
     * removing it (twice) leaves none. */
    w = wset(f);
    put_range(w, 1, 1);
    store_wset_deadletter(w, 1, "yh-rocu/inbox", "max_deliver");
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    assert_stored(f->s, 1);
    assert_int_equal(store_deadletter_get(f->s, 1, "yh-rocu/inbox"), STORE_OK);
    assert_int_equal(store_deadletter_get(f->s, 1, "yh-rocu/other"), STORE_NOTFOUND);
    w = wset(f);
    store_wset_deadletter_del(w, 1, "yh-rocu/inbox");
    store_wset_deadletter_del(w, 1, "yh-rocu/inbox");
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    assert_int_equal(store_deadletter_get(f->s, 1, "yh-rocu/inbox"), STORE_NOTFOUND);
}

static void test_store_cursor_delete_wins_over_a_write_before_it(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    uint64_t floor = 0;
    char pattern[64];
    store_wset_t *w = wset(f);
    store_wset_cursor(w, "yh-rocu/inbox", 7, "alert.>", NULL);
    store_wset_cursor(w, "yh-rocu/other", 9, "alert.>", NULL);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    /* In one set: written again, then deleted (a forced delete after its
     * holder's release wrote the floor): gone. Deleting one that is gone
     * is fine. */
    w = wset(f);
    store_wset_cursor(w, "yh-rocu/inbox", 8, "alert.>", NULL);
    store_wset_cursor_del(w, "yh-rocu/inbox");
    store_wset_cursor_del(w, "yh-rocu/never");
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/inbox", &floor, pattern, sizeof pattern, NULL),
                     STORE_NOTFOUND);
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/other", &floor, pattern, sizeof pattern, NULL),
                     STORE_OK);
    assert_int_equal(floor, 9);
}

static void test_store_readonly_open_reads_what_the_broker_wrote(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    store_wset_t *w = wset(f);
    put_range(w, 1, 20);
    store_wset_audit(w, 1, "audit-1", 7);
    assert_int_equal(store_commit(f->s, w), STORE_OK);

    /* An offline tool opens it beside the live broker. */
    char err[512] = "";
    store_t *ro = store_open_readonly(f->dir, err, sizeof err);
    if (ro == NULL)
        fail_msg("store_open_readonly: %s", err);
    assert_int_equal(store_last_seq(ro), 20);
    store_read_t *r = store_read_begin(ro);
    if (r == NULL) {
        store_close(&ro);
        fail_msg("store_read_begin on a read-only store failed");
    }
    const void *data;
    size_t len;
    uint64_t found;
    assert_int_equal(store_read_get(r, 20, &data, &len), STORE_OK);
    assert_int_equal(len, payload_len(20));
    assert_int_equal(store_read_seek(r, STORE_DB_AUDIT, 0, 0, &found, &data, &len), STORE_OK);
    assert_int_equal(found, 1);
    assert_memory_equal(data, "audit-1", 7);
    store_read_end(&r);
    struct store_stat st;
    assert_int_equal(store_stat(ro, &st), STORE_OK);
    assert_int_equal(st.messages, 20);

    /* Writes on it fail, and the broker's store is untouched. */
    w = wset(f);
    put(w, 21, 0, "x", 1, NULL);
    assert_int_not_equal(store_commit(ro, w), STORE_OK);
    store_close(&ro);
    assert_int_equal(store_last_seq(f->s), 20);

    /* A directory that holds no store is refused, not created. */
    char empty[128];
    snprintf(empty, sizeof empty, "%s/empty", f->dir);
    assert_int_equal(mkdir(empty, 0700), 0);
    assert_null(store_open_readonly(empty, err, sizeof err));
    assert_true(err[0] != '\0');
}

static void test_store_read_seek_finds_neighbours_both_ways(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    store_wset_t *w = wset(f);
    /* Audit records 10, 20, 30. */
    for (uint64_t a = 10; a <= 30; a += 10) {
        char rec[16];
        int n = snprintf(rec, sizeof rec, "rec-%llu", (unsigned long long)a);
        store_wset_audit(w, a, rec, (size_t)n);
    }
    assert_int_equal(store_commit(f->s, w), STORE_OK);

    store_read_t *r = store_read_begin(f->s);
    assert_non_null(r);
    const void *data;
    size_t len;
    uint64_t found;
    const struct {
        uint64_t key;
        int backward;
        int rc;
        uint64_t found;
    } cases[] = {
        {0, 0, STORE_OK, 10},  {10, 0, STORE_OK, 10},      {11, 0, STORE_OK, 20},
        {30, 0, STORE_OK, 30}, {31, 0, STORE_NOTFOUND, 0}, {UINT64_MAX, 1, STORE_OK, 30},
        {31, 1, STORE_OK, 30}, {30, 1, STORE_OK, 30},      {29, 1, STORE_OK, 20},
        {10, 1, STORE_OK, 10}, {9, 1, STORE_NOTFOUND, 0},  {0, 1, STORE_NOTFOUND, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        found = 0;
        int rc = store_read_seek(r, STORE_DB_AUDIT, cases[i].key, cases[i].backward, &found, &data,
                                 &len);
        if (rc != cases[i].rc || (rc == STORE_OK && found != cases[i].found))
            fail_msg("seek %llu %s: rc %d found %llu, want rc %d found %llu",
                     (unsigned long long)cases[i].key, cases[i].backward ? "back" : "fwd", rc,
                     (unsigned long long)found, cases[i].rc, (unsigned long long)cases[i].found);
        if (rc == STORE_OK) {
            char want[16];
            snprintf(want, sizeof want, "rec-%llu", (unsigned long long)found);
            assert_int_equal(len, strlen(want));
            assert_memory_equal(data, want, len);
        }
    }
    /* The other databases are separate: no messages, no checkpoints. */
    assert_int_equal(store_read_seek(r, STORE_DB_MESSAGES, 0, 0, &found, &data, &len),
                     STORE_NOTFOUND);
    assert_int_equal(store_read_seek(r, STORE_DB_CHECKPOINTS, 0, 0, &found, &data, &len),
                     STORE_NOTFOUND);
    store_read_end(&r);
}

static void test_store_open_refuses_a_file_as_directory(void **state)
{
    struct fixture *f = *state;
    char path[128], err[512] = "";
    snprintf(path, sizeof path, "%s/not-a-dir", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("x", fp);
    fclose(fp);
    assert_null(store_open(path, 16, err, sizeof err));
    assert_true(err[0] != '\0');
}

static void test_store_refuses_to_start_at_the_end_of_the_sequence_range(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    commit_range(f, 1, 1);
    store_close(&f->s);
    /* Damage the high-water mark behind the store's back. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    txn = raw_txn(f->dir, 0, &env);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    uint64_t max = UINT64_MAX;
    MDB_val k = {.mv_size = 8, .mv_data = "last_seq"}, v = {.mv_size = 8, .mv_data = &max};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    char err[512] = "";
    assert_null(store_open(f->dir, 16, err, sizeof err));
    assert_non_null(strstr(err, "end of its range"));
}

/* A data.mdb cut short (a bad copy, a full disk during a restore) must
 * not open: LMDB maps the missing pages and the first read of one would
 * kill the broker with SIGBUS, or a reader would see zeros as records. */
static void test_store_refuses_a_truncated_data_file(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    commit_range(f, 1, 2000);
    store_close(&f->s);
    char path[128], err[512] = "";
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 64 * 4096);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
    assert_null(store_open(f->dir, 16, err, sizeof err));
    assert_non_null(strstr(err, "truncated"));
    err[0] = '\0';
    assert_null(store_open_readonly(f->dir, err, sizeof err));
    assert_non_null(strstr(err, "truncated"));
}

static off_t data_file_size(struct fixture *f)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Zeros ahead of LMDB (store_grow): the file grows past LMDB's last page a
 * chunk a call, a few MiB ahead and never past the map; what is stored
 * stays as it was, commits go on into the zeros, and the store opens again
 * with all of it. */
static void test_store_grow_writes_zeros_ahead_and_loses_nothing(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 3);
    commit_range(f, 1, 2000);
    off_t before = data_file_size(f);
    int chunks = 0;
    while (store_grow(f->s) == 1)
        assert_true(++chunks < 1000);
    off_t after = data_file_size(f);
    if (chunks == 0) {
        /* This file system takes no O_DIRECT: growing is off, nothing else. */
        assert_int_equal(after, before);
        print_message("no O_DIRECT in %s: store_grow is off here\n", f->dir);
    } else {
        assert_true(after > before);
    }
    assert_true(after <= (off_t)3 << 20); /* never past the map */
    assert_int_equal(store_grow(f->s), 0);
    store_close(&f->s);
    f->s = open_store(f, 16);
    while (store_grow(f->s) == 1)
        ;
    if (chunks) {
        assert_true(data_file_size(f) - after >= (off_t)2 << 20);
        assert_true(data_file_size(f) <= before + ((off_t)5 << 20));
    }
    for (uint64_t seq = 1; seq <= 2000; seq += 97)
        assert_stored(f->s, seq);
    /* Commits into the zeros, and further. */
    for (uint64_t first = 2001; first < 12001; first += 1000) {
        commit_range(f, first, 1000);
        while (store_grow(f->s) == 1)
            ;
    }
    store_close(&f->s);
    f->s = open_store(f, 16);
    assert_int_equal(store_last_seq(f->s), 12000);
    for (uint64_t seq = 1; seq <= 12000; seq += 37)
        assert_stored(f->s, seq);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_store_commit_then_get),
        T(test_store_grow_writes_zeros_ahead_and_loses_nothing),
        T(test_store_empty_message_is_stored),
        T(test_store_sequence_continues_after_reopen),
        T(test_store_high_water_mark_survives_erasing_the_newest),
        T(test_store_uncommitted_write_set_is_lost_on_close),
        T(test_store_read_next_walks_in_sequence_order),
        T(test_store_read_next_from_anywhere_in_any_order),
        T(test_store_read_next_on_empty_store),
        T(test_store_reader_sees_only_committed_write_sets),
        T(test_store_full_map_refuses_write_set_and_keeps_what_was_committed),
        T(test_store_room_counts_pages_freed_by_erasure),
        T(test_store_stat_counts_messages_and_bytes),
        T(test_store_dedup_finds_msg_id_after_commit),
        T(test_store_one_commit_erases_at_the_front_and_appends_at_the_end),
        T(test_store_dedup_keeps_apart_msg_ids_sharing_their_first_600_bytes),
        T(test_store_moves_an_older_dedup_index_into_the_log),
        T(test_store_moves_an_older_subject_index_into_buckets),
        T(test_store_seq_at_time_finds_first_message_since),
        T(test_store_seq_at_time_finds_messages_inside_a_commit_and_after_erasures),
        T(test_store_cursor_round_trips_after_commit),
        T(test_store_cursor_delete_wins_over_a_write_before_it),
        T(test_store_readonly_open_reads_what_the_broker_wrote),
        T(test_store_read_seek_finds_neighbours_both_ways),
        T(test_store_open_refuses_a_file_as_directory),
        T(test_store_refuses_to_start_at_the_end_of_the_sequence_range),
        T(test_store_refuses_a_truncated_data_file),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
