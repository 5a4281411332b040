/* test_subindex.c — the subscription trie (broker/subindex.c): every item
 * whose pattern matches a topic is found exactly once, nothing else is,
 * checked against topic_match over many patterns and topics, and removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "subindex.h"
#include "topic.h"

#define MAX_ITEMS 400

struct seen {
    int count[MAX_ITEMS];
    intptr_t base;
};

static void note(void *item, void *ctx)
{
    struct seen *s = ctx;
    s->count[(intptr_t)item - s->base]++;
}

static void test_subindex_finds_a_regional_feed_for_a_prison_alert(void **state)
{
    (void)state;
    subindex_t *x = subindex_new();
    struct seen s = {.base = 1};
    subindex_add(x, "alert.yorkshire.>", (void *)1);
    subindex_add(x, "alert.*.hmp-hull.contraband", (void *)2);
    subindex_add(x, "national.>", (void *)3);
    subindex_add(x, "alert.yorkshire", (void *)4);
    assert_int_equal(subindex_count(x), 4);
    subindex_match(x, "alert.yorkshire.hmp-hull.contraband", note, &s);
    assert_int_equal(s.count[0], 1);
    assert_int_equal(s.count[1], 1);
    assert_int_equal(s.count[2], 0);
    assert_int_equal(s.count[3], 0); /* a pattern without '>' is exact */

    memset(s.count, 0, sizeof s.count);
    subindex_match(x, "alert.yorkshire", note, &s);
    assert_int_equal(s.count[0], 0); /* '>' needs at least one more token */
    assert_int_equal(s.count[3], 1);

    assert_int_equal(subindex_remove(x, "alert.yorkshire.>", (void *)1), 0);
    assert_int_equal(subindex_remove(x, "alert.yorkshire.>", (void *)1), -1);
    assert_int_equal(subindex_remove(x, "no.such.>", (void *)1), -1);
    memset(s.count, 0, sizeof s.count);
    subindex_match(x, "alert.yorkshire.hmp-hull.contraband", note, &s);
    assert_int_equal(s.count[0], 0);
    assert_int_equal(s.count[1], 1);
    assert_int_equal(subindex_count(x), 3);
    subindex_free(&x);
    assert_null(x);
}

static const char *tokens[] = {"a", "b", "c", "alert", "yorkshire", "x-1"};
#define NTOK (sizeof tokens / sizeof tokens[0])

static void random_name(char *out, size_t n, int wild, unsigned *seed)
{
    int len = 1 + (int)(rand_r(seed) % 4);
    out[0] = '\0';
    for (int i = 0; i < len; i++) {
        const char *t = tokens[rand_r(seed) % NTOK];
        unsigned r = rand_r(seed) % 10;
        if (wild && r == 0)
            t = "*";
        if (wild && r == 1 && i == len - 1)
            t = ">";
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "." : "", t);
    }
}

static void test_subindex_agrees_with_topic_match(void **state)
{
    (void)state;
    unsigned seed = 12345;
    char patterns[MAX_ITEMS][64];
    subindex_t *x = subindex_new();
    for (int i = 0; i < MAX_ITEMS; i++) {
        random_name(patterns[i], sizeof patterns[i], 1, &seed);
        assert_int_equal(topic_pattern_valid(patterns[i], 255), 0);
        subindex_add(x, patterns[i], (void *)(intptr_t)(i + 1));
    }
    /* Remove every fifth, so removal is checked by the same oracle. */
    for (int i = 0; i < MAX_ITEMS; i += 5)
        assert_int_equal(subindex_remove(x, patterns[i], (void *)(intptr_t)(i + 1)), 0);
    for (int t = 0; t < 2000; t++) {
        char topic[64];
        random_name(topic, sizeof topic, 0, &seed);
        struct seen s = {.base = 1};
        subindex_match(x, topic, note, &s);
        for (int i = 0; i < MAX_ITEMS; i++) {
            int want = i % 5 != 0 && topic_match(patterns[i], topic);
            if (s.count[i] != want)
                fail_msg("pattern %s topic %s: found %d times, want %d", patterns[i], topic,
                         s.count[i], want);
        }
    }
    subindex_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subindex_finds_a_regional_feed_for_a_prison_alert),
        cmocka_unit_test(test_subindex_agrees_with_topic_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
