/* test_tally.c — the per-topic counts (broker/tally.c) on a real store in a
 * temporary directory: built from the store a slice at a time, fed by
 * commits and erasures afterwards, and a backlog after any sequence on any
 * pattern equal to counting the stored messages one by one — across
 * bucket edges, after erasures, and for messages counted before and after
 * the start-up pass was done. */
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
#include "tally.h"
#include "topic.h"
#include "util.h"
#include "wire.h"

#define TEST_MAX_SEQ 120000

struct fixture {
    char dir[64];
    store_t *s;
    tally_t *t;
    /* What was stored, to count by hand: topic index per seq, 0 = erased. */
    int *topic_of;
    uint64_t last;
};

static const char *topics[] = {"", "alert.a.one", "alert.a.two", "alert.b.one", "prison.x"};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/liaison-test-tally-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    char err[256];
    f->s = store_open(f->dir, 64, err, sizeof err);
    if (f->s == NULL)
        return -1;
    f->t = tally_new();
    f->topic_of = calloc(TEST_MAX_SEQ + 1, sizeof *f->topic_of);
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
    tally_free(&f->t);
    free(f->topic_of);
    int rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* Stores n messages from f->last + 1, topic chosen by pick(seq); with feed,
 * the tally is told of each once they are committed (as release does). */
static void store_some(struct fixture *f, uint64_t n, int (*pick)(uint64_t), int feed)
{
    store_wset_t *w = store_wset_new();
    uint64_t first = f->last + 1;
    for (uint64_t seq = first; seq < first + n; seq++) {
        Liaison__Intel *m = wire_intel_new();
        int k = pick(seq);
        m->topic = xstrdup(topics[k]);
        m->label->classification =
            (seq % 3 == 0) ? LIAISON__CLASSIFICATION__SECRET : LIAISON__CLASSIFICATION__OFFICIAL;
        m->seq = seq;
        m->received_at_us = (int64_t)seq * 1000;
        size_t len = wire_intel_size(m);
        size_t off = store_wset_msg(w, seq, m->received_at_us, len, NULL);
        wire_intel_pack(m, (uint8_t *)(uintptr_t)store_wset_data(w, off));
        wire_intel_free(&m);
        f->topic_of[seq] = k;
    }
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    store_wset_free(&w);
    if (feed)
        for (uint64_t seq = first; seq < first + n; seq++)
            tally_put(f->t, seq, topics[f->topic_of[seq]],
                      seq % 3 == 0 ? LIAISON__CLASSIFICATION__SECRET
                                   : LIAISON__CLASSIFICATION__OFFICIAL,
                      10, (int64_t)seq * 1000);
    f->last = first + n - 1;
}

static void erase(struct fixture *f, uint64_t seq)
{
    store_wset_t *w = store_wset_new();
    store_wset_purge(w, seq, (int64_t)seq * 1000);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    store_wset_free(&w);
    tally_erase(f->t, seq, topics[f->topic_of[seq]],
                seq % 3 == 0 ? LIAISON__CLASSIFICATION__SECRET : LIAISON__CLASSIFICATION__OFFICIAL,
                10);
    f->topic_of[seq] = 0;
}

/* Erases [from, to] in one commit, as a retention pass does. */
static void erase_range(struct fixture *f, uint64_t from, uint64_t to)
{
    store_wset_t *w = store_wset_new();
    for (uint64_t seq = from; seq <= to; seq++)
        store_wset_purge(w, seq, (int64_t)seq * 1000);
    assert_int_equal(store_commit(f->s, w), STORE_OK);
    store_wset_free(&w);
    for (uint64_t seq = from; seq <= to; seq++) {
        tally_erase(
            f->t, seq, topics[f->topic_of[seq]],
            seq % 3 == 0 ? LIAISON__CLASSIFICATION__SECRET : LIAISON__CLASSIFICATION__OFFICIAL, 10);
        f->topic_of[seq] = 0;
    }
}

static uint64_t by_hand(const struct fixture *f, const char *pattern, uint64_t after)
{
    uint64_t n = 0;
    for (uint64_t seq = after + 1; seq <= f->last; seq++)
        if (f->topic_of[seq] && topic_match(pattern, topics[f->topic_of[seq]]))
            n++;
    return n;
}

static void assert_backlogs(struct fixture *f)
{
    static const char *patterns[] = {">",           "alert.>",  "alert.a.>",
                                     "alert.*.one", "prison.x", "nothing.>"};
    static const uint64_t afters[] = {0, 1, 1023, 1024, 1025, 2047, 2048, 3000, 4095, 4999, 5000};
    for (size_t p = 0; p < UTIL_LEN(patterns); p++) {
        for (size_t a = 0; a < UTIL_LEN(afters); a++) {
            if (afters[a] > f->last)
                continue;
            uint64_t n = 0;
            assert_int_equal(tally_backlog(f->t, f->s, patterns[p], afters[a], &n), 0);
            if (n != by_hand(f, patterns[p], afters[a]))
                fail_msg("%s after %llu: %llu, by hand %llu", patterns[p],
                         (unsigned long long)afters[a], (unsigned long long)n,
                         (unsigned long long)by_hand(f, patterns[p], afters[a]));
        }
    }
}

static int mixed(uint64_t seq)
{
    /* Uneven, and prison.x only in a run of its own. */
    if (seq > 2500 && seq < 2600)
        return 4;
    return 1 + (int)(seq * 7 % 3);
}

static void test_tally_backlog_counts_only_the_patterns_messages(void **state)
{
    struct fixture *f = *state;
    store_some(f, 5000, mixed, 0);
    /* Not exact until the start-up pass has read everything. */
    uint64_t n;
    assert_int_equal(tally_backlog(f->t, f->s, ">", 0, &n), -1);
    int slices = 0;
    while (!tally_catch_up(f->t, f->s, 700))
        slices++;
    assert_true(slices >= 7);
    assert_true(tally_exact(f->t));
    assert_int_equal(tally_scanned(f->t), 5000);
    assert_backlogs(f);
}

static void test_tally_follows_commits_and_erasures(void **state)
{
    struct fixture *f = *state;
    store_some(f, 3000, mixed, 0);
    while (!tally_catch_up(f->t, f->s, 1000))
        ;
    /* Committed after the pass: fed one by one. */
    store_some(f, 2000, mixed, 1);
    assert_backlogs(f);
    /* A backlog read once is remembered; erasing below and inside a bucket
     * changes it, and the count follows. */
    for (uint64_t seq = 1; seq <= 1500; seq += 3)
        erase(f, seq);
    erase(f, 4096);
    erase(f, 2550);
    assert_backlogs(f);
}

static void test_tally_puts_before_the_pass_is_done_are_not_counted_twice(void **state)
{
    struct fixture *f = *state;
    store_some(f, 1500, mixed, 0);
    assert_int_equal(tally_catch_up(f->t, f->s, 1000), 0);
    /* A commit while the pass is under way: the pass reads it itself. */
    store_some(f, 500, mixed, 1);
    while (!tally_catch_up(f->t, f->s, 1000))
        ;
    assert_int_equal(tally_scanned(f->t), 2000);
    assert_backlogs(f);
}

struct seen {
    uint64_t messages, oldest_seq;
};

static void collect(const struct tally_topic *e, void *ctx)
{
    struct seen *s = ctx;
    if (strcmp(e->topic, "prison.x") == 0 && e->cls == LIAISON__CLASSIFICATION__OFFICIAL) {
        s->messages = e->messages;
        s->oldest_seq = e->oldest_seq;
    }
}

static void test_tally_finds_the_oldest_again_after_it_is_erased(void **state)
{
    struct fixture *f = *state;
    store_some(f, 3000, mixed, 0);
    while (!tally_catch_up(f->t, f->s, 5000))
        ;
    struct seen s = {0, 0};
    tally_each(f->t, f->s, collect, &s);
    /* prison.x is 2501..2599, OFFICIAL where seq % 3 != 0: 2501 first. */
    assert_int_equal(s.oldest_seq, 2501);
    assert_int_equal(s.messages, 66);
    erase(f, 2501);
    erase(f, 2502); /* SECRET: another entry, this one's count stays */
    tally_each(f->t, f->s, collect, &s);
    assert_int_equal(s.oldest_seq, 2503);
    assert_int_equal(s.messages, 65);
}

/* Retention erases from the oldest end: the trees let go of the buckets
 * it has emptied, so what the counts cost follows what is stored, not
 * every sequence since a topic's first message (the soak saw the broker
 * grow by about 1 MiB in ten minutes), and the counts stay exact. */
static void test_tally_lets_go_of_erased_buckets(void **state)
{
    struct fixture *f = *state;
    store_some(f, 100000, mixed, 0);
    while (!tally_catch_up(f->t, f->s, 50000))
        ;
    size_t full = tally_buckets_held(f->t);
    /* mixed() gives three topics, each in one classification, over 98
     * buckets (and prison.x in one). */
    assert_true(full >= 3 * 98);
    erase_range(f, 1, 90000);
    /* What is left spans about 11 buckets; a tree keeps at most as many
     * empty ones again, or 16, before it lets them go. */
    assert_true(tally_buckets_held(f->t) <= 3 * (12 + 16));
    static const uint64_t afters[] = {0, 89999, 90000, 91000, 92159, 92160, 95000, 99999};
    static const char *patterns[] = {">", "alert.a.>", "alert.*.one", "prison.x"};
    for (size_t p = 0; p < UTIL_LEN(patterns); p++)
        for (size_t a = 0; a < UTIL_LEN(afters); a++) {
            uint64_t n = 0;
            assert_int_equal(tally_backlog(f->t, f->s, patterns[p], afters[a], &n), 0);
            assert_int_equal(n, by_hand(f, patterns[p], afters[a]));
        }
    /* And it goes on counting what comes. */
    store_some(f, 5000, mixed, 1);
    for (size_t p = 0; p < UTIL_LEN(patterns); p++)
        for (size_t a = 0; a < UTIL_LEN(afters); a++) {
            uint64_t n = 0;
            assert_int_equal(tally_backlog(f->t, f->s, patterns[p], afters[a], &n), 0);
            assert_int_equal(n, by_hand(f, patterns[p], afters[a]));
        }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_tally_backlog_counts_only_the_patterns_messages),
        T(test_tally_follows_commits_and_erasures),
        T(test_tally_puts_before_the_pass_is_done_are_not_counted_twice),
        T(test_tally_finds_the_oldest_again_after_it_is_erased),
        T(test_tally_lets_go_of_erased_buckets),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
