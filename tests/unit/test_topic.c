/* test_topic.c — topics and subscription patterns (common/topic.c): what is
 * a valid topic or pattern, what a pattern matches, and when one pattern is
 * bounded by another (a subscription by a permission). Matching and
 * bounding are also checked exhaustively against a slow reference over a
 * small alphabet of tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topic.h"

#define MAX 255

static void test_topic_matches_subscriptions_the_way_design_describes(void **state)
{
    (void)state;
    const char *topic = "alert.yorkshire.hmp-hull.contraband";
    assert_int_equal(topic_valid(topic, MAX), 0);
    assert_int_equal(topic_pattern_valid("alert.yorkshire.>", MAX), 0);

    assert_true(topic_match("alert.yorkshire.>", topic));
    assert_true(topic_match("alert.*.hmp-hull.contraband", topic));
    assert_true(topic_match(topic, topic));
    assert_false(topic_match("alert.humberside.>", topic));
    assert_false(topic_match("national.>", topic));

    /* A subscription to one prison's alerts is within a regional permission. */
    assert_true(topic_pattern_within("alert.yorkshire.hmp-hull.>", "alert.yorkshire.>"));
    assert_false(topic_pattern_within("alert.>", "alert.yorkshire.>"));
}

static void test_topic_accepts_lower_case_dot_tokens(void **state)
{
    (void)state;
    const char *good[] = {
        "a",   "national.firearms", "alert.yorkshire.hmp-hull.contraband", "a_b.c-d.0.9z",
        "-.-", "x.y.z.w.v.u.t.s",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(topic_valid(good[i], MAX), 0);
        /* Every topic is also a pattern matching only itself. */
        assert_int_equal(topic_pattern_valid(good[i], MAX), 0);
        assert_true(topic_match(good[i], good[i]));
    }
}

static void test_topic_refuses_malformed_topics(void **state)
{
    (void)state;
    const char *bad[] = {
        "",      ".",   "a.",   ".a",  "a..b", "Alert.x", "alert.X", "ALERT",
        "a b",   "a/b", "a.b ", " a",  "a.*",  "*",       "a.>",     ">",
        "a.*.b", "a*",  "a.b>", "a,b", "a\tb", "a:b",     "a.b\n",   "caf\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (topic_valid(bad[i], MAX) != -1)
            fail_msg("topic \"%s\" was accepted", bad[i]);
    }
    assert_int_equal(topic_valid(NULL, MAX), -1);
}

static void test_topic_length_limit_is_inclusive(void **state)
{
    (void)state;
    char t[300];
    memset(t, 'a', sizeof t);
    t[255] = '\0';
    assert_int_equal(topic_valid(t, 255), 0);
    assert_int_equal(topic_pattern_valid(t, 255), 0);
    t[255] = 'a';
    t[256] = '\0';
    assert_int_equal(topic_valid(t, 255), -1);
    assert_int_equal(topic_pattern_valid(t, 255), -1);

    assert_int_equal(topic_valid("a.b.c", 5), 0);
    assert_int_equal(topic_valid("a.b.c", 4), -1);
    assert_int_equal(topic_pattern_valid("a.b.>", 5), 0);
    assert_int_equal(topic_pattern_valid("a.b.>", 4), -1);
    assert_int_equal(topic_valid("a", 0), -1);
}

static void test_topic_pattern_accepts_star_anywhere_and_rest_last(void **state)
{
    (void)state;
    const char *good[] = {
        "*", ">", "*.>", "a.*", "a.>", "*.b", "a.*.c", "*.*.*", "a.*.>", "alert.yorkshire.>",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (topic_pattern_valid(good[i], MAX) != 0)
            fail_msg("pattern \"%s\" was refused", good[i]);
    }
}

static void test_topic_pattern_refuses_malformed_patterns(void **state)
{
    (void)state;
    const char *bad[] = {
        "",      ".",    "a.",   ".a",  "a..b", "A.>",  "a.B",  ">.a",  "a.>.b", "a.>.>",
        "*.>.*", ">>",   "a.>>", "**",  "a.**", "a*",   "a.*b", "a.b*", "a.>b",  "a.b>",
        "a. *",  "a.* ", "a.#",  "a.?", "a.%",  "a.*.", ">.",   "*.",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (topic_pattern_valid(bad[i], MAX) != -1)
            fail_msg("pattern \"%s\" was accepted", bad[i]);
    }
    assert_int_equal(topic_pattern_valid(NULL, MAX), -1);
}

static void test_topic_exact_pattern_matches_only_the_same_topic(void **state)
{
    (void)state;
    assert_true(topic_match("a.b", "a.b"));
    assert_false(topic_match("a.b", "a.b.c"));
    assert_false(topic_match("a.b", "a"));
    assert_false(topic_match("a.b", "a.bc"));
    assert_false(topic_match("a.bc", "a.b"));
    assert_false(topic_match("a.b", "a.c"));
    assert_false(topic_match("ab", "a"));
    assert_false(topic_match("a", "ab"));
    assert_false(topic_match("b.a", "a.b"));
}

static void test_topic_star_matches_exactly_one_token(void **state)
{
    (void)state;
    assert_true(topic_match("*", "a"));
    assert_true(topic_match("*", "hmp-hull"));
    assert_false(topic_match("*", "a.b"));
    assert_true(topic_match("a.*", "a.b"));
    assert_false(topic_match("a.*", "a"));
    assert_false(topic_match("a.*", "a.b.c"));
    assert_true(topic_match("a.*.c", "a.x.c"));
    assert_false(topic_match("a.*.c", "a.c"));
    assert_false(topic_match("a.*.c", "a.x.y.c"));
    assert_true(topic_match("*.b", "a.b"));
    assert_false(topic_match("*.b", "b"));
    assert_true(topic_match("*.*", "a.b"));
    assert_false(topic_match("*.*", "a.b.c"));
}

static void test_topic_rest_matches_one_or_more_tokens(void **state)
{
    (void)state;
    assert_true(topic_match(">", "a"));
    assert_true(topic_match(">", "a.b.c.d"));
    assert_true(topic_match("a.>", "a.b"));
    assert_true(topic_match("a.>", "a.b.c.d"));
    assert_false(topic_match("a.>", "a"));
    assert_false(topic_match("a.>", "b.a"));
    assert_false(topic_match("a.>", "ab.c"));
    assert_true(topic_match("*.>", "a.b"));
    assert_false(topic_match("*.>", "a"));
    assert_true(topic_match("a.*.>", "a.b.c"));
    assert_false(topic_match("a.*.>", "a.b"));
    assert_true(topic_match("alert.yorkshire.>", "alert.yorkshire.hmp-hull.contraband"));
    assert_false(topic_match("alert.yorkshire.>", "alert.yorkshire"));
    assert_false(topic_match("alert.yorkshire.>", "alert.yorkshireman.x"));
}

static void test_topic_pattern_within_itself(void **state)
{
    (void)state;
    const char *p[] = {"a", "a.b", "*", ">", "a.*", "a.>", "*.>", "a.*.c", "a.*.>"};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        assert_true(topic_pattern_within(p[i], p[i]));
}

static void test_topic_subscription_must_stay_within_permission(void **state)
{
    (void)state;
    const struct {
        const char *sub, *perm;
        int within;
    } cases[] = {
        /* concrete under '>' and '*' */
        {"a.b", "a.>", 1},
        {"a.b.c", "a.>", 1},
        {"a.b", "a.*", 1},
        {"a.b.c", "a.*", 0},
        {"a", "a.>", 0},
        {"a", "a.*", 0},
        {"a.b", "a", 0},
        {"a", "a.b", 0},
        {"a.b", "a.c", 0},
        /* '*' in the subscription */
        {"a.*", "a.>", 1},
        {"a.*", "a.*", 1},
        {"a.*", "a.b", 0},
        {"*.b", "a.>", 0},
        {"*", ">", 1},
        {"*", "a", 0},
        {"a.*.c", "a.*.>", 1},
        {"a.*.c", "a.b.c", 0},
        {"a.b.c", "a.*.c", 1},
        /* '>' in the subscription reaches as far as the topic goes */
        {"a.>", "a.*", 0},
        {"a.>", "a.b", 0},
        {"a.>", "a.>", 1},
        {"a.>", ">", 1},
        {">", "a.>", 0},
        {">", "*", 0},
        {"a.b.>", "a.>", 1},
        {"a.>", "a.b.>", 0},
        {"a.*.>", "a.>", 1},
        {"a.>", "a.*.>", 0},
        {"*.>", "a.>", 0},
        {"*.>", ">", 1},
        {"*.>", "*.>", 1},
        {"a.>", "*.>", 1},
        {"alert.yorkshire.hmp-hull.>", "alert.yorkshire.>", 1},
        {"alert.yorkshire.>", "alert.yorkshire.hmp-hull.>", 0},
        {"alert.*.hmp-hull.>", "alert.yorkshire.>", 0},
        {"alert.yorkshire", "alert.yorkshire.>", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = topic_pattern_within(cases[i].sub, cases[i].perm);
        if (got != cases[i].within)
            fail_msg("within(\"%s\", \"%s\") = %d, want %d", cases[i].sub, cases[i].perm, got,
                     cases[i].within);
    }
}

/* ---- exhaustive check against a reference ---------------------------------- */

#define MAXTOK 6

/* Splits s at '.' into toks (pointers into buf). Returns the count. */
static size_t split(const char *s, char *buf, size_t buflen, char **toks)
{
    snprintf(buf, buflen, "%s", s);
    size_t n = 0;
    char *p = buf;
    for (;;) {
        toks[n++] = p;
        char *dot = strchr(p, '.');
        if (dot == NULL)
            break;
        *dot = '\0';
        p = dot + 1;
    }
    return n;
}

/* The rule read straight from topic.h, token list against token list. */
static int ref_match(const char *pattern, const char *topic)
{
    char pb[64], tb[64], *p[MAXTOK + 2], *t[MAXTOK + 2];
    size_t np = split(pattern, pb, sizeof pb, p), nt = split(topic, tb, sizeof tb, t);
    for (size_t i = 0; i < np; i++) {
        if (strcmp(p[i], ">") == 0)
            return nt > i; /* one or more remaining tokens */
        if (i >= nt)
            return 0;
        if (strcmp(p[i], "*") != 0 && strcmp(p[i], t[i]) != 0)
            return 0;
    }
    return np == nt;
}

/* All patterns of 1..3 tokens over {a, b, *, >} with '>' last only. */
static size_t all_patterns(char out[][16], size_t cap)
{
    static const char *tok[] = {"a", "b", "*", ">"};
    size_t n = 0;
    for (int len = 1; len <= 3; len++) {
        int combos = 1;
        for (int i = 0; i < len; i++)
            combos *= 4;
        for (int c = 0; c < combos; c++) {
            char s[16] = "";
            int v = c, ok = 1;
            for (int i = 0; i < len; i++) {
                int k = v % 4;
                v /= 4;
                if (k == 3 && i != len - 1)
                    ok = 0;
                if (i)
                    strcat(s, ".");
                strcat(s, tok[k]);
            }
            if (ok) {
                assert_true(n < cap);
                snprintf(out[n++], 16, "%s", s);
            }
        }
    }
    return n;
}

/* All topics of 1..4 tokens over {a, b, c}; 'c' stands for any token the
 * patterns do not name. Longer than any pattern, so '>' is told apart from
 * a run of '*'. */
static size_t all_topics(char out[][16], size_t cap)
{
    static const char *tok[] = {"a", "b", "c"};
    size_t n = 0;
    for (int len = 1; len <= 4; len++) {
        int combos = 1;
        for (int i = 0; i < len; i++)
            combos *= 3;
        for (int c = 0; c < combos; c++) {
            char s[16] = "";
            int v = c;
            for (int i = 0; i < len; i++) {
                if (i)
                    strcat(s, ".");
                strcat(s, tok[v % 3]);
                v /= 3;
            }
            assert_true(n < cap);
            snprintf(out[n++], 16, "%s", s);
        }
    }
    return n;
}

static void test_topic_match_agrees_with_reference_on_every_small_case(void **state)
{
    (void)state;
    static char pats[128][16], tops[256][16];
    size_t np = all_patterns(pats, 128), nt = all_topics(tops, 256);
    assert_int_equal(np, 4 + 12 + 36);
    assert_int_equal(nt, 3 + 9 + 27 + 81);
    for (size_t i = 0; i < np; i++) {
        assert_int_equal(topic_pattern_valid(pats[i], MAX), 0);
        for (size_t j = 0; j < nt; j++) {
            int got = topic_match(pats[i], tops[j]), want = ref_match(pats[i], tops[j]);
            if (got != want)
                fail_msg("match(\"%s\", \"%s\") = %d, want %d", pats[i], tops[j], got, want);
        }
    }
}

static void test_topic_within_agrees_with_subset_of_matches(void **state)
{
    (void)state;
    /* within(p, q) must hold exactly when every topic p matches, q matches:
     * both directions, so a subscription is never wider than its permission
     * and a fitting one is never refused. */
    static char pats[128][16], tops[256][16];
    size_t np = all_patterns(pats, 128), nt = all_topics(tops, 256);
    for (size_t i = 0; i < np; i++) {
        for (size_t k = 0; k < np; k++) {
            int subset = 1;
            for (size_t j = 0; j < nt && subset; j++)
                if (ref_match(pats[i], tops[j]) && !ref_match(pats[k], tops[j]))
                    subset = 0;
            int got = topic_pattern_within(pats[i], pats[k]);
            if (got != subset)
                fail_msg("within(\"%s\", \"%s\") = %d, want %d", pats[i], pats[k], got, subset);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_matches_subscriptions_the_way_design_describes),
        cmocka_unit_test(test_topic_accepts_lower_case_dot_tokens),
        cmocka_unit_test(test_topic_refuses_malformed_topics),
        cmocka_unit_test(test_topic_length_limit_is_inclusive),
        cmocka_unit_test(test_topic_pattern_accepts_star_anywhere_and_rest_last),
        cmocka_unit_test(test_topic_pattern_refuses_malformed_patterns),
        cmocka_unit_test(test_topic_exact_pattern_matches_only_the_same_topic),
        cmocka_unit_test(test_topic_star_matches_exactly_one_token),
        cmocka_unit_test(test_topic_rest_matches_one_or_more_tokens),
        cmocka_unit_test(test_topic_pattern_within_itself),
        cmocka_unit_test(test_topic_subscription_must_stay_within_permission),
        cmocka_unit_test(test_topic_match_agrees_with_reference_on_every_small_case),
        cmocka_unit_test(test_topic_within_agrees_with_subset_of_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
