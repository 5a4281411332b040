/* test_store.c — the broker's store (broker/store.c) on real LMDB in a
 * temporary directory: group commit round trips, sequences across restarts,
 * reading in order, abandoned batches, a full map that loses nothing
 * already committed, counts, and the dedup, time and cursor indexes. */
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

#include "store.h"

struct fixture {
    char dir[64];
    store_t *s;
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
    int rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
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

/* Puts seq..seq+n-1 with their payloads into the open batch. */
static void put_range(store_t *s, uint64_t first, uint64_t n)
{
    uint8_t buf[600];
    for (uint64_t seq = first; seq < first + n; seq++) {
        size_t len = payload_len(seq);
        payload(seq, buf, len);
        int rc = store_batch_put(s, seq, (int64_t)(1000 * seq), buf, len, NULL);
        if (rc != STORE_OK)
            fail_msg("put %llu: rc %d", (unsigned long long)seq, rc);
    }
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

static void test_store_batch_put_commit_then_get(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    store_t *s = f->s;
    assert_int_equal(store_last_seq(s), 0);
    assert_int_equal(store_next_seq(s), 1);

    /* One loop pass: open a batch, put each accepted publish, commit once. */
    assert_int_equal(store_batch_begin(s), STORE_OK);
    assert_true(store_batch_open(s));
    const char hello[] = "packed intel bytes";
    assert_int_equal(store_batch_put(s, 1, 1000, hello, sizeof hello, "ops\x1fm-1"), STORE_OK);
    assert_int_equal(store_batch_put(s, 2, 1001, "x", 1, NULL), STORE_OK);
    assert_int_equal(store_next_seq(s), 3);
    assert_int_equal(store_last_seq(s), 0); /* not committed yet */
    assert_int_equal(store_batch_commit(s), STORE_OK);
    assert_false(store_batch_open(s));
    assert_int_equal(store_last_seq(s), 2);
    assert_int_equal(store_next_seq(s), 3);

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

    /* Committing with no batch open is a no-op. */
    assert_int_equal(store_batch_commit(s), STORE_OK);
    assert_int_equal(store_last_seq(s), 2);
}

static void test_store_empty_message_is_stored(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    assert_int_equal(store_batch_put(f->s, 1, 0, "", 0, NULL), STORE_OK);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
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
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 1, 5);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
    store_close(&f->s);
    assert_null(f->s);

    f->s = open_store(f, 16);
    assert_int_equal(store_last_seq(f->s), 5);
    assert_int_equal(store_next_seq(f->s), 6);
    for (uint64_t seq = 1; seq <= 5; seq++)
        assert_stored(f->s, seq);

    /* Old numbers are never reused. */
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    assert_int_equal(store_batch_put(f->s, 1, 0, "again", 5, NULL), STORE_ERR);
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 6, 3);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
    store_close(&f->s);

    f->s = open_store(f, 16);
    assert_int_equal(store_last_seq(f->s), 8);
    for (uint64_t seq = 1; seq <= 8; seq++)
        assert_stored(f->s, seq);
}

static void test_store_uncommitted_batch_is_lost_on_close(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 1, 2);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 3, 2);
    store_close(&f->s); /* never acked, so never promised */

    f->s = open_store(f, 16);
    assert_int_equal(store_last_seq(f->s), 2);
    assert_not_stored(f->s, 3);
}

static void test_store_read_next_walks_in_sequence_order(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    /* Past 255 and 65535 would reorder if keys were not big-endian. */
    const uint64_t total = 700;
    for (uint64_t first = 1; first <= total; first += 100) {
        assert_int_equal(store_batch_begin(f->s), STORE_OK);
        put_range(f->s, first, 100);
        assert_int_equal(store_batch_commit(f->s), STORE_OK);
    }
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

static void test_store_put_with_wrong_seq_abandons_the_batch(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 1, 3);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);

    const uint64_t wrong[] = {3, 5, 0, 100, UINT64_MAX};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        assert_int_equal(store_batch_begin(f->s), STORE_OK);
        put_range(f->s, 4, 2); /* good so far: 4, 5 */
        assert_int_equal(store_next_seq(f->s), 6);
        assert_int_equal(store_batch_put(f->s, wrong[i], 0, "x", 1, NULL), STORE_ERR);
        /* The whole batch is gone, including the good puts before. */
        assert_false(store_batch_open(f->s));
        assert_int_equal(store_next_seq(f->s), 4);
        assert_int_equal(store_last_seq(f->s), 3);
        assert_not_stored(f->s, 4);
        assert_not_stored(f->s, 5);
    }

    /* A put with no batch open is refused too. */
    assert_int_equal(store_batch_put(f->s, 4, 0, "x", 1, NULL), STORE_ERR);
    assert_false(store_batch_open(f->s));

    /* And the store carries on from last + 1. */
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 4, 2);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
    assert_int_equal(store_last_seq(f->s), 5);
    assert_stored(f->s, 4);
    assert_stored(f->s, 5);
}

static void test_store_abort_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 1, 2);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);

    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    assert_int_equal(store_batch_begin(f->s), STORE_OK); /* already open: no-op */
    put_range(f->s, 3, 10);
    assert_int_equal(store_batch_put(f->s, 13, 5, "x", 1,
                                     "ops\x1f"
                                     "abort-me"),
                     STORE_OK);
    store_batch_abort(f->s);
    assert_false(store_batch_open(f->s));
    assert_int_equal(store_next_seq(f->s), 3);
    assert_int_equal(store_last_seq(f->s), 2);
    for (uint64_t seq = 3; seq <= 13; seq++)
        assert_not_stored(f->s, seq);
    uint64_t seq;
    assert_int_equal(store_dedup_find(f->s,
                                      "ops\x1f"
                                      "abort-me",
                                      0, &seq),
                     STORE_NOTFOUND);

    struct store_stat st;
    assert_int_equal(store_stat(f->s, &st), STORE_OK);
    assert_int_equal(st.messages, 2);
    assert_int_equal(st.last_seq, 2);

    store_batch_abort(f->s); /* with nothing open: harmless */
    assert_int_equal(store_next_seq(f->s), 3);
}

static void test_store_reader_sees_only_committed_batches(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 1, 1);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);

    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 2, 1);
    /* A reader during the pass sees what was acked, not what may yet fail. */
    store_read_t *r = store_read_begin(f->s);
    assert_non_null(r);
    const void *data;
    size_t len;
    assert_int_equal(store_read_get(r, 1, &data, &len), STORE_OK);
    assert_int_equal(store_read_get(r, 2, &data, &len), STORE_NOTFOUND);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
    /* Its snapshot does not move under it... */
    assert_int_equal(store_read_get(r, 2, &data, &len), STORE_NOTFOUND);
    store_read_end(&r);
    /* ...a new one sees the commit. */
    assert_stored(f->s, 2);
}

static void test_store_full_map_refuses_batch_and_keeps_what_was_committed(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 1);
    uint8_t big[4000];
    int rc = STORE_OK;
    uint64_t committed = 0;
    for (int pass = 0; pass < 1000 && rc == STORE_OK; pass++) {
        assert_int_equal(store_batch_begin(f->s), STORE_OK);
        for (int i = 0; i < 8 && rc == STORE_OK; i++) {
            uint64_t seq = store_next_seq(f->s);
            memset(big, (int)(seq & 0xff), sizeof big);
            rc = store_batch_put(f->s, seq, (int64_t)seq, big, sizeof big, NULL);
        }
        if (rc == STORE_OK)
            rc = store_batch_commit(f->s);
        if (rc == STORE_OK)
            committed = store_last_seq(f->s);
    }
    /* Filled, refused with the clear code, and the batch abandoned. */
    assert_int_equal(rc, STORE_FULL);
    assert_int_equal(store_batch_failure(f->s), STORE_FULL);
    assert_true(committed > 8);
    assert_false(store_batch_open(f->s));
    assert_int_equal(store_last_seq(f->s), committed);
    assert_int_equal(store_next_seq(f->s), committed + 1);

    /* Nothing acked is lost. */
    store_read_t *r = store_read_begin(f->s);
    assert_non_null(r);
    for (uint64_t seq = 1; seq <= committed; seq++) {
        const void *data;
        size_t len;
        assert_int_equal(store_read_get(r, seq, &data, &len), STORE_OK);
        assert_int_equal(len, sizeof big);
        memset(big, (int)(seq & 0xff), sizeof big);
        assert_memory_equal(data, big, len);
    }
    const void *data;
    size_t len;
    assert_int_equal(store_read_get(r, committed + 1, &data, &len), STORE_NOTFOUND);
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
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    for (int i = 0; i < 16; i++) {
        uint64_t seq = store_next_seq(f->s);
        memset(big, (int)(seq & 0xff), sizeof big);
        assert_int_equal(store_batch_put(f->s, seq, (int64_t)seq, big, sizeof big, NULL), STORE_OK);
    }
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
    assert_int_equal(store_batch_failure(f->s), STORE_OK);
    assert_int_equal(store_last_seq(f->s), committed + 16);
    assert_int_equal(store_stat(f->s, &st), STORE_OK);
    assert_int_equal(st.messages, committed + 16);
    assert_int_equal(st.map_bytes, 8u << 20);
    r = store_read_begin(f->s);
    assert_int_equal(store_read_get(r, 1, &data, &len), STORE_OK);
    assert_int_equal(store_read_get(r, committed + 16, &data, &len), STORE_OK);
    store_read_end(&r);
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

    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 1, 300);
    /* Counts are of committed messages. */
    assert_int_equal(store_stat(f->s, &st), STORE_OK);
    assert_int_equal(st.messages, 0);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);

    assert_int_equal(store_stat(f->s, &st), STORE_OK);
    assert_int_equal(st.first_seq, 1);
    assert_int_equal(st.last_seq, 300);
    assert_int_equal(st.messages, 300);
    assert_true(st.used_bytes > used_empty);
    assert_true(st.used_bytes <= st.map_bytes);
}

static void test_store_dedup_finds_msg_id_in_batch_and_after_commit(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    const char *key = "humberside-police\x1fhull-2026-000123";
    uint64_t seq = 0;
    assert_int_equal(store_dedup_find(f->s, key, 0, &seq), STORE_NOTFOUND);

    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    assert_int_equal(store_batch_put(f->s, 1, 5000, "a", 1, key), STORE_OK);
    /* A duplicate later in the same pass is caught. */
    assert_int_equal(store_dedup_find(f->s, key, 0, &seq), STORE_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);

    seq = 0;
    assert_int_equal(store_dedup_find(f->s, key, 0, &seq), STORE_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(store_dedup_find(f->s, key, 5000, &seq), STORE_OK);
    /* Older than the dedup window: not a duplicate any more. */
    assert_int_equal(store_dedup_find(f->s, key, 5001, &seq), STORE_NOTFOUND);
    /* The same msg_id from another origin is a different key. */
    assert_int_equal(store_dedup_find(f->s, "yh-rocu\x1fhull-2026-000123", 0, &seq),
                     STORE_NOTFOUND);

    /* Survives a restart. */
    store_close(&f->s);
    f->s = open_store(f, 16);
    assert_int_equal(store_dedup_find(f->s, key, 0, &seq), STORE_OK);
    assert_int_equal(seq, 1);
}

static void test_store_seq_at_time_finds_first_message_since(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    uint64_t seq = 0;
    assert_int_equal(store_seq_at_time(f->s, 0, &seq), STORE_NOTFOUND);

    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 1, 10); /* seq n at time 1000 n */
    assert_int_equal(store_batch_commit(f->s), STORE_OK);

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

static void test_store_cursor_round_trips_after_commit(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    uint64_t floor = 0;
    char pattern[64];
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/inbox", &floor, pattern, sizeof pattern),
                     STORE_NOTFOUND);

    assert_int_equal(store_cursor_put(f->s, "yh-rocu/inbox", 41, "alert.yorkshire.>"), STORE_OK);
    assert_true(store_batch_open(f->s)); /* durable when the batch commits */
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/inbox", &floor, pattern, sizeof pattern),
                     STORE_NOTFOUND);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/inbox", &floor, pattern, sizeof pattern),
                     STORE_OK);
    assert_int_equal(floor, 41);
    assert_string_equal(pattern, "alert.yorkshire.>");

    /* Overwritten by a later put; a short buffer gets a terminated prefix. */
    assert_int_equal(store_cursor_put(f->s, "yh-rocu/inbox", 90, "national.>"), STORE_OK);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
    char small[5];
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/inbox", &floor, small, sizeof small),
                     STORE_OK);
    assert_int_equal(floor, 90);
    assert_string_equal(small, "nati");

    store_close(&f->s);
    f->s = open_store(f, 16);
    assert_int_equal(store_cursor_get(f->s, "yh-rocu/inbox", &floor, pattern, sizeof pattern),
                     STORE_OK);
    assert_int_equal(floor, 90);
    assert_string_equal(pattern, "national.>");

    /* A dead letter goes into the batch and does not disturb messages. */
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 1, 1);
    assert_int_equal(store_deadletter_put(f->s, 1, "yh-rocu/inbox", "max_deliver"), STORE_OK);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
    assert_stored(f->s, 1);
}

static void test_store_readonly_open_reads_what_the_broker_wrote(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    put_range(f->s, 1, 20);
    assert_int_equal(store_audit_put(f->s, 1, "audit-1", 7), STORE_OK);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);

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
    int rc = store_batch_begin(ro);
    if (rc == STORE_OK)
        rc = store_batch_put(ro, 21, 0, "x", 1, NULL);
    if (rc == STORE_OK)
        rc = store_batch_commit(ro);
    assert_int_not_equal(rc, STORE_OK);
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
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    /* Audit records 10, 20, 30. */
    for (uint64_t a = 10; a <= 30; a += 10) {
        char rec[16];
        int n = snprintf(rec, sizeof rec, "rec-%llu", (unsigned long long)a);
        assert_int_equal(store_audit_put(f->s, a, rec, (size_t)n), STORE_OK);
    }
    assert_int_equal(store_batch_commit(f->s), STORE_OK);

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

static void test_store_batch_ids_tell_whether_writes_landed(void **state)
{
    struct fixture *f = *state;
    f->s = open_store(f, 16);
    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    uint64_t first = store_batch_id(f->s);
    put_range(f->s, 1, 1);
    assert_true(store_committed_id(f->s) != first);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
    assert_int_equal(store_committed_id(f->s), first);

    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    uint64_t second = store_batch_id(f->s);
    assert_true(second != first);
    put_range(f->s, 2, 1);
    store_batch_abort(f->s);
    /* The aborted batch never becomes the committed one. */
    assert_int_equal(store_committed_id(f->s), first);

    assert_int_equal(store_batch_begin(f->s), STORE_OK);
    uint64_t third = store_batch_id(f->s);
    assert_true(third != second && third != first);
    put_range(f->s, 2, 1);
    assert_int_equal(store_batch_commit(f->s), STORE_OK);
    assert_int_equal(store_committed_id(f->s), third);
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

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_store_batch_put_commit_then_get),
        T(test_store_empty_message_is_stored),
        T(test_store_sequence_continues_after_reopen),
        T(test_store_uncommitted_batch_is_lost_on_close),
        T(test_store_read_next_walks_in_sequence_order),
        T(test_store_read_next_on_empty_store),
        T(test_store_put_with_wrong_seq_abandons_the_batch),
        T(test_store_abort_leaves_nothing),
        T(test_store_reader_sees_only_committed_batches),
        T(test_store_full_map_refuses_batch_and_keeps_what_was_committed),
        T(test_store_stat_counts_messages_and_bytes),
        T(test_store_dedup_finds_msg_id_in_batch_and_after_commit),
        T(test_store_seq_at_time_finds_first_message_since),
        T(test_store_cursor_round_trips_after_commit),
        T(test_store_readonly_open_reads_what_the_broker_wrote),
        T(test_store_read_seek_finds_neighbours_both_ways),
        T(test_store_batch_ids_tell_whether_writes_landed),
        T(test_store_open_refuses_a_file_as_directory),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
