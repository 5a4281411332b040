/* test_seen.c — the dedup keys' filter (broker/seen.c): every key added is
 * a "maybe", keys never added are almost all "never" (under 2% at
 * capacity), and it says when it is full. */
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

static void test_seen_knows_what_it_took_and_little_else(void **state)
{
    (void)state;
    seen_t *f = seen_new(100000);
    assert_true(seen_bytes(f) * 8 >= 100000 * 12);
    char k[64];
    for (long i = 0; i < 100000; i++) {
        size_t n = key(k, sizeof k, "pub", i);
        seen_add(f, k, n);
        assert_true(seen_maybe(f, k, n));
    }
    assert_int_equal(seen_count(f), 100000);
    for (long i = 0; i < 100000; i++) {
        size_t n = key(k, sizeof k, "pub", i);
        assert_true(seen_maybe(f, k, n));
    }
    long wrong = 0;
    for (long i = 0; i < 100000; i++) {
        size_t n = key(k, sizeof k, "other", i);
        wrong += seen_maybe(f, k, n);
    }
    assert_true(wrong < 2000);
    /* A key and its prefix, and keys of every length up to a block, differ. */
    assert_false(seen_maybe(f, "pub", 3));
    assert_false(seen_maybe(f, "", 0));
    seen_free(&f);
    assert_null(f);
}

static void test_seen_says_when_it_is_full(void **state)
{
    (void)state;
    seen_t *f = seen_new(1000);
    char k[64];
    long i = 0;
    while (!seen_full(f)) {
        size_t n = key(k, sizeof k, "pub", i++);
        seen_add(f, k, n);
    }
    assert_true(i > 1000);
    assert_true(i <= 1 + (long)(seen_bytes(f) * 8 / 12));
    seen_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seen_knows_what_it_took_and_little_else),
        cmocka_unit_test(test_seen_says_when_it_is_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
