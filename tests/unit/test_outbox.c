/* test_outbox.c — the agent's LMDB store (agent/outbox.c) on a real LMDB
 * in a fresh temporary directory per test: the outbox in order across a
 * reopen, msg_ids it knows, the lock against a second agent, a full map,
 * and the per-subscription record of written sequences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbox.h"
#include "util.h"
#include "wire.h"

static char dir[256];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/liaison-outbox.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A message with msg_id and a body of body_len bytes. Caller frees. */
static Liaison__Intel *message(const char *msg_id, size_t body_len)
{
    Liaison__Intel *m = wire_intel_new();
    m->topic = xstrdup("alert.yorkshire.hmp-hull.contraband");
    m->msg_id = xstrdup(msg_id);
    m->label->classification = LIAISON__CLASSIFICATION__OFFICIAL;
    m->body.data = xcalloc(1, body_len ? body_len : 1);
    memset(m->body.data, 'x', body_len);
    m->body.len = body_len;
    return m;
}

static void digest_of(uint8_t d[32], char c)
{
    memset(d, c, 32);
}

static int add_one(outbox_t *o, const char *msg_id, char digest_char, const char *source)
{
    uint8_t d[32];
    Liaison__Intel *m = message(msg_id, 16);
    digest_of(d, digest_char);
    int rc = outbox_begin(o);
    if (rc == OUTBOX_OK)
        rc = outbox_add(o, m, d, source);
    if (rc == OUTBOX_OK)
        rc = outbox_commit(o);
    else
        outbox_abort(o);
    wire_intel_free(&m);
    return rc;
}

static outbox_t *open_ok(unsigned map_mb)
{
    char err[256];
    outbox_t *o = outbox_open(dir, map_mb, err, sizeof err);
    if (o == NULL)
        fail_msg("outbox_open: %s", err);
    return o;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_outbox_keeps_messages_in_order_until_removed(void **state)
{
    (void)state;
    outbox_t *o = open_ok(16);
    assert_int_equal(add_one(o, "m-1", 'a', "one.json"), OUTBOX_OK);
    assert_int_equal(add_one(o, "m-2", 'b', ""), OUTBOX_OK);
    assert_int_equal(add_one(o, "m-3", 'c', "three.json"), OUTBOX_OK);
    assert_int_equal(outbox_count(o), 3);

    outbox_entry_t e;
    assert_int_equal(outbox_next(o, 0, &e), OUTBOX_OK);
    assert_string_equal(e.m->msg_id, "m-1");
    assert_string_equal(e.source, "one.json");
    uint64_t first = e.id;
    outbox_entry_clear(&e);
    assert_int_equal(outbox_remove(o, &first, 1), OUTBOX_OK);
    outbox_close(&o);

    /* What was not PubAcked survives a restart, in the same order. */
    o = open_ok(16);
    assert_int_equal(outbox_count(o), 2);
    assert_int_equal(outbox_next(o, 0, &e), OUTBOX_OK);
    assert_string_equal(e.m->msg_id, "m-2");
    assert_string_equal(e.source, "");
    uint64_t second = e.id;
    assert_true(second > first);
    outbox_entry_clear(&e);
    assert_int_equal(outbox_next(o, second, &e), OUTBOX_OK);
    assert_string_equal(e.m->msg_id, "m-3");
    assert_string_equal(e.m->topic, "alert.yorkshire.hmp-hull.contraband");
    uint64_t third = e.id;
    outbox_entry_clear(&e);
    assert_int_equal(outbox_next(o, third, &e), OUTBOX_NOTFOUND);
    outbox_close(&o);
}

/* The age an agency alerts on is the oldest entry's, and moves on to the
 * next once the oldest is PubAcked; an empty outbox has none. */
static void test_outbox_oldest_is_the_first_waiting(void **state)
{
    (void)state;
    outbox_t *o = open_ok(16);
    assert_int_equal(outbox_oldest_us(o), 0);
    int64_t before = util_now_us();
    assert_int_equal(add_one(o, "m-1", 'a', ""), OUTBOX_OK);
    int64_t between = util_now_us();
    assert_int_equal(add_one(o, "m-2", 'b', ""), OUTBOX_OK);
    int64_t oldest = outbox_oldest_us(o);
    assert_true(oldest >= before && oldest <= between);
    outbox_entry_t e;
    assert_int_equal(outbox_next(o, 0, &e), OUTBOX_OK);
    uint64_t first = e.id;
    outbox_entry_clear(&e);
    assert_int_equal(outbox_remove(o, &first, 1), OUTBOX_OK);
    assert_true(outbox_oldest_us(o) >= between);
    assert_int_equal(outbox_next(o, first, &e), OUTBOX_OK);
    uint64_t second = e.id;
    outbox_entry_clear(&e);
    assert_int_equal(outbox_remove(o, &second, 1), OUTBOX_OK);
    assert_int_equal(outbox_oldest_us(o), 0);
    outbox_close(&o);
}

static void test_outbox_knows_a_taken_msg_id_even_after_publishing(void **state)
{
    (void)state;
    outbox_t *o = open_ok(16);
    assert_int_equal(add_one(o, "hull-1", 'a', "a.json"), OUTBOX_OK);
    assert_int_equal(add_one(o, "hull-1", 'a', "a.json"), OUTBOX_KNOWN);
    assert_int_equal(add_one(o, "hull-1", 'b', "b.json"), OUTBOX_CONFLICT);
    assert_int_equal(outbox_count(o), 1);

    outbox_entry_t e;
    assert_int_equal(outbox_next(o, 0, &e), OUTBOX_OK);
    uint64_t id = e.id;
    outbox_entry_clear(&e);
    assert_int_equal(outbox_remove(o, &id, 1), OUTBOX_OK);
    /* PubAcked and gone from the outbox: still recognised (a crash before
     * the spool file moved must not publish it twice). */
    assert_int_equal(add_one(o, "hull-1", 'a', "a.json"), OUTBOX_KNOWN);
    outbox_close(&o);
}

static void test_outbox_forgets_a_msg_id_the_broker_refused(void **state)
{
    (void)state;
    outbox_t *o = open_ok(16);
    assert_int_equal(add_one(o, "hull-2", 'a', "a.json"), OUTBOX_OK);
    outbox_entry_t e;
    assert_int_equal(outbox_next(o, 0, &e), OUTBOX_OK);
    assert_int_equal(outbox_refused(o, e.id, e.m->msg_id), OUTBOX_OK);
    outbox_entry_clear(&e);
    assert_int_equal(outbox_count(o), 0);
    /* Dropped again once the cause is fixed, it is new work. */
    assert_int_equal(add_one(o, "hull-2", 'a', "a.json"), OUTBOX_OK);
    outbox_close(&o);
}

static void test_outbox_abort_keeps_nothing(void **state)
{
    (void)state;
    uint8_t d[32];
    outbox_t *o = open_ok(16);
    Liaison__Intel *m = message("gone", 8);
    digest_of(d, 'a');
    assert_int_equal(outbox_begin(o), OUTBOX_OK);
    assert_int_equal(outbox_add(o, m, d, "x.json"), OUTBOX_OK);
    outbox_abort(o);
    wire_intel_free(&m);
    assert_int_equal(outbox_count(o), 0);
    assert_int_equal(add_one(o, "gone", 'b', "x.json"), OUTBOX_OK);
    outbox_close(&o);
}

static void test_outbox_refuses_a_second_agent_on_the_same_data_dir(void **state)
{
    (void)state;
    char err[256];
    outbox_t *o = open_ok(16);
    outbox_t *other = outbox_open(dir, 16, err, sizeof err);
    assert_null(other);
    assert_non_null(strstr(err, "another liaison-agent"));
    outbox_close(&o);
    other = outbox_open(dir, 16, err, sizeof err);
    assert_non_null(other);
    outbox_close(&other);
}

static void test_outbox_refuses_new_work_when_full_and_loses_nothing(void **state)
{
    (void)state;
    uint8_t d[32];
    char id[32];
    outbox_t *o = open_ok(1);
    int rc = OUTBOX_OK;
    unsigned kept = 0;
    for (unsigned i = 0; i < 100 && rc == OUTBOX_OK; i++) {
        snprintf(id, sizeof id, "big-%u", i);
        Liaison__Intel *m = message(id, 60000);
        digest_of(d, 'a');
        rc = outbox_begin(o);
        if (rc == OUTBOX_OK)
            rc = outbox_add(o, m, d, "");
        if (rc == OUTBOX_OK)
            rc = outbox_commit(o);
        kept += rc == OUTBOX_OK;
        wire_intel_free(&m);
    }
    assert_int_equal(rc, OUTBOX_FULL);
    assert_true(kept > 0);
    assert_int_equal(outbox_count(o), kept);
    /* Once the broker takes some, there is room again. */
    outbox_entry_t e;
    uint64_t ids[4];
    uint64_t after = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(outbox_next(o, after, &e), OUTBOX_OK);
        ids[i] = after = e.id;
        outbox_entry_clear(&e);
    }
    assert_int_equal(outbox_remove(o, ids, 4), OUTBOX_OK);
    assert_int_equal(add_one(o, "small", 'a', ""), OUTBOX_OK);
    outbox_close(&o);
}

/* An outbox.mdb cut short (a bad copy of data_dir) is refused with a line
 * that says so, not mapped and read into SIGBUS. */
static void test_outbox_refuses_a_truncated_file(void **state)
{
    (void)state;
    char id[32], path[300], err[512] = "";
    outbox_t *o = open_ok(16);
    for (unsigned i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "m-%u", i);
        assert_int_equal(add_one(o, id, 'a', ""), OUTBOX_OK);
    }
    outbox_close(&o);
    snprintf(path, sizeof path, "%s/outbox.mdb", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 16 * 4096);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
    assert_null(outbox_open(dir, 16, err, sizeof err));
    assert_non_null(strstr(err, "truncated"));
}

static void test_outbox_forgets_old_ids_only_once_published(void **state)
{
    (void)state;
    outbox_t *o = open_ok(16);
    assert_int_equal(add_one(o, "old", 'a', ""), OUTBOX_OK);
    int64_t future = util_now_us() + 1000000;
    assert_int_equal(outbox_forget_ids(o, future), 0); /* still waiting */
    outbox_entry_t e;
    assert_int_equal(outbox_next(o, 0, &e), OUTBOX_OK);
    uint64_t id = e.id;
    outbox_entry_clear(&e);
    assert_int_equal(outbox_remove(o, &id, 1), OUTBOX_OK);
    assert_int_equal(outbox_forget_ids(o, util_now_us() - 3600000000LL), 0); /* too recent */
    assert_int_equal(outbox_forget_ids(o, future), 1);
    assert_int_equal(add_one(o, "old", 'a', ""), OUTBOX_OK);
    outbox_close(&o);
}

static void test_outbox_records_written_sequences_per_subscription(void **state)
{
    (void)state;
    outbox_t *o = open_ok(16);
    uint64_t seqs[] = {5, 7};
    assert_int_equal(outbox_written_add(o, "regional", seqs, 2), OUTBOX_OK);
    assert_int_equal(outbox_written_add(o, "regional", seqs, 1), OUTBOX_OK); /* again: harmless */
    outbox_close(&o);
    o = open_ok(16);
    assert_int_equal(outbox_written_has(o, "regional", 5), 1);
    assert_int_equal(outbox_written_has(o, "regional", 7), 1);
    assert_int_equal(outbox_written_has(o, "regional", 6), 0);
    assert_int_equal(outbox_written_has(o, "national", 5), 0);
    /* A prefix of another subscription's name is another subscription. */
    assert_int_equal(outbox_written_has(o, "region", 5), 0);
    outbox_close(&o);
}

static void test_outbox_keeps_only_the_newest_written_sequences(void **state)
{
    (void)state;
    outbox_t *o = open_ok(64);
    enum { TOTAL = OUTBOX_WRITTEN_KEEP + OUTBOX_WRITTEN_KEEP / 4 };
    uint64_t *seqs = xcalloc(TOTAL, sizeof *seqs);
    for (uint64_t i = 0; i < TOTAL; i++)
        seqs[i] = i + 1;
    for (size_t at = 0; at < TOTAL; at += 500) {
        size_t n = TOTAL - at < 500 ? TOTAL - at : 500;
        assert_int_equal(outbox_written_add(o, "a", seqs + at, n), OUTBOX_OK);
    }
    uint64_t other = 3;
    assert_int_equal(outbox_written_add(o, "b", &other, 1), OUTBOX_OK);
    assert_int_equal(outbox_written_has(o, "a", 1), 0);
    assert_int_equal(outbox_written_has(o, "a", TOTAL), 1);
    assert_int_equal(outbox_written_has(o, "a", TOTAL - OUTBOX_WRITTEN_KEEP + 1), 1);
    unsigned kept = 0;
    for (uint64_t i = 1; i <= TOTAL; i++)
        kept += outbox_written_has(o, "a", i) == 1;
    assert_true(kept >= OUTBOX_WRITTEN_KEEP);
    assert_true(kept <= OUTBOX_WRITTEN_KEEP + OUTBOX_WRITTEN_KEEP / 8);
    /* Trimming one subscription leaves the others alone. */
    assert_int_equal(outbox_written_has(o, "b", 3), 1);
    free(seqs);
    outbox_close(&o);
}

static void test_outbox_forgets_written_sequences_a_reset_broker_will_reuse(void **state)
{
    (void)state;
    outbox_t *o = open_ok(16);
    uint64_t seqs[] = {1, 2, 3, 10, 11};
    assert_int_equal(outbox_written_add(o, "a", seqs, 5), OUTBOX_OK);
    assert_int_equal(outbox_written_add(o, "b", seqs, 5), OUTBOX_OK);
    assert_int_equal(outbox_written_forget_above(o, "a", 3), OUTBOX_OK);
    assert_int_equal(outbox_written_has(o, "a", 3), 1);
    assert_int_equal(outbox_written_has(o, "a", 10), 0);
    assert_int_equal(outbox_written_has(o, "a", 11), 0);
    assert_int_equal(outbox_written_has(o, "b", 11), 1);
    outbox_close(&o);
}

static void test_outbox_ids_keep_increasing_after_it_empties(void **state)
{
    (void)state;
    outbox_t *o = open_ok(16);
    assert_int_equal(add_one(o, "x-1", 'a', ""), OUTBOX_OK);
    outbox_entry_t e;
    assert_int_equal(outbox_next(o, 0, &e), OUTBOX_OK);
    uint64_t first = e.id;
    outbox_entry_clear(&e);
    assert_int_equal(outbox_remove(o, &first, 1), OUTBOX_OK);
    outbox_close(&o);
    /* A sender that remembers the last id it sent must see new entries. */
    o = open_ok(16);
    assert_int_equal(add_one(o, "x-2", 'a', ""), OUTBOX_OK);
    assert_int_equal(outbox_next(o, first, &e), OUTBOX_OK);
    assert_true(e.id > first);
    outbox_entry_clear(&e);
    outbox_close(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outbox_keeps_messages_in_order_until_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outbox_oldest_is_the_first_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_knows_a_taken_msg_id_even_after_publishing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_forgets_a_msg_id_the_broker_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outbox_abort_keeps_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_refuses_a_second_agent_on_the_same_data_dir,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_refuses_new_work_when_full_and_loses_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_refuses_a_truncated_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_forgets_old_ids_only_once_published, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outbox_records_written_sequences_per_subscription,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_keeps_only_the_newest_written_sequences, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_outbox_forgets_written_sequences_a_reset_broker_will_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_ids_keep_increasing_after_it_empties, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
