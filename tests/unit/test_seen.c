/* test_seen.c — the dedup index in memory (broker/seen.c): every key added
 * gives back its sequence numbers, keys never added almost never give
 * one, it says when it is full, and it refuses a sequence it cannot hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "seen.h"

static size_t key(char *out, size_t n, const char *prefix, long i)
{
    return (size_t)snprintf(out, n, "%s\x1f%08lx-%ld", prefix, i * 2654435761L, i);
}

/* 1 if the walk for k gives seq. */
static int gives(const seen_t *f, const char *k, size_t n, uint64_t seq)
{
    struct seen_walk w;
    for (uint64_t s = seen_first(f, seen_hash(k, n), &w); s; s = seen_next(f, &w))
        if (s == seq)
            return 1;
    return 0;
}

static long candidates(const seen_t *f, const char *k, size_t n)
{
    struct seen_walk w;
    long c = 0;
    for (uint64_t s = seen_first(f, seen_hash(k, n), &w); s; s = seen_next(f, &w))
        c++;
    return c;
}

static void test_seen_gives_each_key_its_seqs_and_others_almost_none(void **state)
{
    (void)state;
    seen_t *f = seen_new(100000);
    assert_true(seen_bytes(f) >= 100000 * 8);
    char k[64];
    for (long i = 0; i < 100000; i++) {
        size_t n = key(k, sizeof k, "pub", i);
        assert_int_equal(seen_add(f, seen_hash(k, n), (uint64_t)(1000 + i)), 0);
        assert_true(gives(f, k, n, (uint64_t)(1000 + i)));
    }
    assert_int_equal(seen_count(f), 100000);
    long wrong = 0;
    for (long i = 0; i < 100000; i++) {
        size_t n = key(k, sizeof k, "pub", i);
        assert_true(gives(f, k, n, (uint64_t)(1000 + i)));
        wrong += candidates(f, k, n) - 1;
        wrong += candidates(f, k, key(k, sizeof k, "other", i));
    }
    /* Within a home (the fingerprint's low 18 bits here) the other 14 tell
     * keys apart: about 5 stray matches in these 200,000 walks, a pair
     * counted from both sides. A fingerprint that told nothing would give
     * tens of thousands. */
    assert_true(wrong < 60);
    /* The same key again (a re-send after the window) gives both. */
    size_t n = key(k, sizeof k, "pub", 7);
    assert_int_equal(seen_add(f, seen_hash(k, n), 200000), 0);
    assert_true(gives(f, k, n, 1007) && gives(f, k, n, 200000));
    assert_int_equal(candidates(f, "pub", 3), 0);
    assert_int_equal(candidates(f, "", 0), 0);
    seen_free(&f);
    assert_null(f);
}

/* A bigger index made from the slots alone keeps every key at or above
 * the floor, drops the older ones, and moves its base up, so a seq past
 * the old one's span fits. */
static void test_seen_copies_itself_bigger_from_a_floor(void **state)
{
    (void)state;
    seen_t *f = seen_new(700);
    char k[64];
    for (long i = 0; i < 800; i++)
        assert_int_equal(seen_add(f, seen_hash(k, key(k, sizeof k, "pub", i)), (uint64_t)(10 + i)),
                         0);
    assert_true(seen_full(f));
    assert_int_equal(seen_count_from(f, 0), 800);
    assert_int_equal(seen_count_from(f, 310), 500);
    seen_t *c = seen_copy_from(f, 310, 2 * 500);
    assert_int_equal(seen_count(c), 500);
    assert_false(seen_full(c));
    assert_true(seen_bytes(c) > seen_bytes(f));
    for (long i = 0; i < 800; i++) {
        size_t n = key(k, sizeof k, "pub", i);
        if (i >= 300)
            assert_true(gives(c, k, n, (uint64_t)(10 + i)));
        else
            assert_int_equal(candidates(c, k, n), 0);
    }
    /* The base is 310 now: 310 + 2^32 - 3 fits, which f could not take. */
    uint64_t far = 310 + (uint64_t)UINT32_MAX - 3;
    assert_int_equal(seen_add(f, seen_hash("far", 3), far), -1);
    assert_int_equal(seen_add(c, seen_hash("far", 3), far), 0);
    assert_true(gives(c, "far", 3, far));
    seen_free(&f);
    seen_free(&c);
}

static void test_seen_says_when_it_is_full(void **state)
{
    (void)state;
    seen_t *f = seen_new(1000);
    char k[64];
    long i = 0;
    while (!seen_full(f)) {
        size_t n = key(k, sizeof k, "pub", i);
        assert_int_equal(seen_add(f, seen_hash(k, n), (uint64_t)++i), 0);
    }
    assert_true(i >= 1000);
    assert_true((size_t)i * 8 * 4 <= seen_bytes(f) * 3); /* at most 3/4 of its slots */
    /* Past full it still takes keys, up to one slot short of all. */
    while (seen_add(f, seen_hash(k, key(k, sizeof k, "pub", i)), (uint64_t)i + 1) == 0)
        i++;
    assert_int_equal((size_t)i, seen_bytes(f) / 8 - 1);
    seen_free(&f);
}

/* A seq is held as its offset from the first one, in 32 bits. */
static void test_seen_refuses_a_seq_it_cannot_hold(void **state)
{
    (void)state;
    seen_t *f = seen_new(10);
    assert_int_equal(seen_add(f, seen_hash("a", 1), 5000000000u), 0);
    assert_int_equal(seen_add(f, seen_hash("b", 1), 4999999999u), -1); /* below the first */
    assert_int_equal(seen_add(f, seen_hash("c", 1), 5000000000u + UINT32_MAX - 2), 0);
    assert_int_equal(seen_add(f, seen_hash("d", 1), 5000000000u + UINT32_MAX - 1), -1);
    assert_true(gives(f, "a", 1, 5000000000u));
    assert_true(gives(f, "c", 1, 5000000000u + UINT32_MAX - 2));
    assert_int_equal(candidates(f, "b", 1) + candidates(f, "d", 1), 0);
    seen_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seen_gives_each_key_its_seqs_and_others_almost_none),
        cmocka_unit_test(test_seen_copies_itself_bigger_from_a_floor),
        cmocka_unit_test(test_seen_says_when_it_is_full),
        cmocka_unit_test(test_seen_refuses_a_seq_it_cannot_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
