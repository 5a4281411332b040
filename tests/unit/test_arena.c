/* test_arena.c — the arena (common/arena.c): pieces handed out aligned and
 * writable, all taken back at a reset, the chain kept while a use needs it
 * and let go when one needs under a quarter of it, big pieces freed at
 * every reset, and (under AddressSanitizer) a piece kept past the reset
 * poisoned. */
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define BLOCK ((size_t)64 * 1024)

static void test_arena_hands_out_aligned_pieces_until_the_reset(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    char *s = arena_strdup(a, "alert.yorkshire.hmp-hull");
    uint64_t *n = arena_alloc(a, sizeof *n);
    char *odd = arena_alloc(a, 3);
    double *d = arena_alloc(a, 5 * sizeof *d);
    assert_string_equal(s, "alert.yorkshire.hmp-hull");
    assert_int_equal((uintptr_t)n % alignof(max_align_t), 0);
    assert_int_equal((uintptr_t)odd % alignof(max_align_t), 0);
    assert_int_equal((uintptr_t)d % alignof(max_align_t), 0);
    *n = 42;
    memcpy(odd, "ab", 3);
    for (int i = 0; i < 5; i++)
        d[i] = i;
    assert_string_equal(s, "alert.yorkshire.hmp-hull"); /* nothing overlaps */
    assert_int_equal(*n, 42);
    assert_string_equal(odd, "ab");
    assert_true(arena_used(a) >= strlen(s) + 1 + sizeof *n + 3 + 5 * sizeof *d);
    assert_int_equal(arena_held(a), BLOCK);

    arena_reset(a);
    assert_int_equal(arena_used(a), 0);
    assert_int_equal(arena_held(a), BLOCK); /* the first block stays */
    char *again = arena_strdup(a, NULL);
    assert_string_equal(again, "");
    arena_destroy(&a);
    assert_null(a);
    arena_destroy(&a); /* twice is harmless */
}

static void test_arena_keeps_its_chain_while_a_use_needs_it(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    char *pieces[200];
    for (int i = 0; i < 200; i++) {
        pieces[i] = arena_alloc(a, 4000);
        memset(pieces[i], i, 4000);
    }
    for (int i = 0; i < 200; i++)
        assert_int_equal((unsigned char)pieces[i][3999], (unsigned char)i);
    size_t held = arena_held(a);
    assert_true(held >= 200 * 4000);
    arena_reset(a);
    assert_int_equal(arena_held(a), held); /* that use needed all of it */
    for (int i = 0; i < 100; i++)
        arena_alloc(a, 4000);
    arena_reset(a);
    assert_int_equal(arena_held(a), held); /* half of it: still kept */
    arena_alloc(a, 100);
    arena_reset(a);
    assert_int_equal(arena_held(a), BLOCK); /* a small use lets the rest go */
    arena_destroy(&a);
}

static void test_arena_frees_big_pieces_at_every_reset(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    arena_alloc(a, 10);
    unsigned char *big = arena_alloc(a, 1 << 20);
    memset(big, 7, 1 << 20);
    char *after = arena_strdup(a, "still in the first block");
    assert_true(arena_held(a) >= BLOCK + (1 << 20));
    assert_int_equal(big[(1 << 20) - 1], 7);
    assert_string_equal(after, "still in the first block");
    arena_reset(a);
    assert_int_equal(arena_held(a), BLOCK);
    assert_non_null(arena_alloc(a, 0));
    arena_destroy(&a);
}

static void test_arena_poisons_what_it_took_back(void **state)
{
    (void)state;
#ifdef TEST_ASAN
    arena_t *a = arena_new();
    char *s = arena_strdup(a, "kept past its pass");
    assert_int_equal(__asan_address_is_poisoned(s), 0);
    arena_reset(a);
    assert_int_not_equal(__asan_address_is_poisoned(s), 0);
    arena_destroy(&a);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_hands_out_aligned_pieces_until_the_reset),
        cmocka_unit_test(test_arena_keeps_its_chain_while_a_use_needs_it),
        cmocka_unit_test(test_arena_frees_big_pieces_at_every_reset),
        cmocka_unit_test(test_arena_poisons_what_it_took_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
