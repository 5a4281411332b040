/* test_filter.c — subscription filters over label fields (common/filter.c):
 * every operator on every kind of field (ordered enums, unordered enums,
 * strings), unset fields, precedence, parentheses and not checked against
 * truth tables, in-lists, quoted strings and their escapes, the canonical
 * form and its round trip, and every refusal with its column and reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filter.h"
#include "util.h"
#include "wire.h"

/* Replaces a string field of a message built by hand (see wire.h). */
static void set_str(char **field, const char *v)
{
    if (*field != NULL && *field != wire_empty())
        free(*field);
    *field = xstrdup(v);
}

/* A message from HMP Hull as the broker stamps it: HIGH risk, OFFICIAL-
 * SENSITIVE, graded 2B, handling C. */
static Liaison__Intel *prison_alert(void)
{
    Liaison__Intel *m = wire_intel_new();
    set_str(&m->topic, "alert.yorkshire.hmp-hull.contraband");
    m->label->classification = LIAISON__CLASSIFICATION__OFFICIAL_SENSITIVE;
    m->label->source_grade = 2;
    set_str(&m->label->intel_grade, "B");
    m->label->handling = LIAISON__HANDLING__HANDLING_C;
    m->label->risk = LIAISON__RISK__HIGH;
    set_str(&m->origin->agent, "hmp-hull");
    set_str(&m->origin->agency, "HMP Hull");
    set_str(&m->origin->type, "prison");
    set_str(&m->origin->region, "yorkshire");
    return m;
}

static filter_t *compiles(const char *expr)
{
    size_t pos = 99;
    char why[256] = "untouched";
    filter_t *f = filter_compile(expr, &pos, why, sizeof why);
    if (f == NULL)
        fail_msg("\"%s\" refused at %zu: %s", expr, pos, why);
    assert_int_equal(pos, 0);
    assert_string_equal(why, "");
    return f;
}

/* Compiles expr, matches it against m, frees it. */
static int matches(const char *expr, const Liaison__Intel *m)
{
    filter_t *f = compiles(expr);
    int r = filter_match(f, m);
    assert_true(r == 0 || r == 1);
    filter_free(&f);
    assert_null(f);
    return r;
}

/* expr must be refused at column pos with a one-line reason containing
 * want. */
static void refused(const char *expr, size_t pos, const char *want)
{
    size_t got = 12345;
    char why[256];
    memset(why, 'x', sizeof why);
    filter_t *f = filter_compile(expr, &got, why, sizeof why);
    if (f != NULL)
        fail_msg("\"%s\" was accepted", expr);
    assert_non_null(memchr(why, '\0', sizeof why));
    assert_null(strchr(why, '\n'));
    if (strstr(why, want) == NULL)
        fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", expr, why, want);
    if (got != pos)
        fail_msg("\"%s\": refused at column %zu, not %zu (%s)", expr, got, pos, why);
}

/* The canonical form of expr; checks that it is no longer than expr and
 * compiles again to the same form. */
static void check_canonical(const char *expr, const char *want)
{
    char out[FILTER_MAX_LEN + 1], again[FILTER_MAX_LEN + 1];
    filter_t *f = compiles(expr);
    size_t n = filter_format(f, out, sizeof out);
    assert_int_equal(n, strlen(out));
    if (want != NULL && strcmp(out, want) != 0)
        fail_msg("\"%s\" formats as \"%s\", not \"%s\"", expr, out, want);
    assert_true(n <= strlen(expr));
    filter_t *g = compiles(out);
    assert_int_equal(filter_format(g, again, sizeof again), n);
    assert_string_equal(again, out);
    assert_int_equal(filter_size(g), filter_size(f));
    filter_free(&g);
    filter_free(&f);
}

static void test_filter_selects_medium_risk_and_above_from_prisons_and_rocus(void **state)
{
    (void)state;
    char why[128];
    size_t pos;
    filter_t *f =
        filter_compile("risk >= MEDIUM and origin.type in (prison, rocu)", &pos, why, sizeof why);
    assert_non_null(f);
    assert_int_equal(filter_size(f), 2);

    Liaison__Intel *m = prison_alert();
    assert_int_equal(filter_match(f, m), 1);
    m->label->risk = LIAISON__RISK__MEDIUM;
    assert_int_equal(filter_match(f, m), 1);
    m->label->risk = LIAISON__RISK__LOW;
    assert_int_equal(filter_match(f, m), 0);
    m->label->risk = LIAISON__RISK__HIGH;
    set_str(&m->origin->type, "police");
    assert_int_equal(filter_match(f, m), 0);
    set_str(&m->origin->type, "rocu");
    assert_int_equal(filter_match(f, m), 1);

    char out[128];
    filter_format(f, out, sizeof out);
    assert_string_equal(out, "risk>=MEDIUM and origin.type in(prison,rocu)");
    filter_free(&f);
    wire_intel_free(&m);
}

/* For ordered fields: every operator, every value against every value a
 * message can hold, as the comparison of their ranks. */
struct ordered_case {
    const char *field;
    const char *names[5]; /* in rank order */
    unsigned n;
};

static void set_code(Liaison__Intel *m, const char *field, unsigned rank)
{
    static const char *letters[] = {"", "A", "B", "C", "D", "E"};
    if (strcmp(field, "risk") == 0)
        m->label->risk = (Liaison__Risk)rank;
    else if (strcmp(field, "classification") == 0)
        m->label->classification = (Liaison__Classification)rank;
    else if (strcmp(field, "source_grade") == 0)
        m->label->source_grade = rank;
    else
        set_str(&m->label->intel_grade, letters[rank]);
}

static int by_op(const char *op, unsigned a, unsigned b)
{
    if (strcmp(op, "=") == 0)
        return a == b;
    if (strcmp(op, "!=") == 0)
        return a != b;
    if (strcmp(op, "<") == 0)
        return a < b;
    if (strcmp(op, "<=") == 0)
        return a <= b;
    if (strcmp(op, ">") == 0)
        return a > b;
    return a >= b;
}

static void test_filter_compares_ordered_fields_by_rank_with_every_operator(void **state)
{
    (void)state;
    static const struct ordered_case cases[] = {
        {"risk", {"LOW", "MEDIUM", "HIGH"}, 3},
        {"classification", {"OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET"}, 4},
        {"source_grade", {"1", "2", "3"}, 3},
        {"intel_grade", {"A", "B", "C", "D", "E"}, 5},
    };
    static const char *ops[] = {"=", "!=", "<", "<=", ">", ">="};
    Liaison__Intel *m = prison_alert();
    for (size_t c = 0; c < UTIL_LEN(cases); c++) {
        for (unsigned have = 1; have <= cases[c].n; have++) {
            set_code(m, cases[c].field, have);
            for (size_t o = 0; o < UTIL_LEN(ops); o++) {
                for (unsigned want = 1; want <= cases[c].n; want++) {
                    char expr[96];
                    snprintf(expr, sizeof expr, "%s %s %s", cases[c].field, ops[o],
                             cases[c].names[want - 1]);
                    if (matches(expr, m) != by_op(ops[o], have, want))
                        fail_msg("\"%s\" wrong for rank %u", expr, have);
                }
            }
        }
    }
    wire_intel_free(&m);
}

static void test_filter_grades_compare_as_written_so_smaller_is_more_reliable(void **state)
{
    (void)state;
    Liaison__Intel *m = prison_alert(); /* 2B */
    assert_true(matches("source_grade <= 2", m));
    assert_false(matches("source_grade < 2", m));
    assert_true(matches("intel_grade < C", m));
    assert_true(matches("intel_grade > a", m)); /* letters in any case */
    m->label->source_grade = 1;
    set_str(&m->label->intel_grade, "A");
    assert_true(matches("source_grade <= 2 and intel_grade <= B", m));
    wire_intel_free(&m);
}

static void test_filter_takes_enum_names_in_any_case_and_top_secret_with_a_space(void **state)
{
    (void)state;
    Liaison__Intel *m = prison_alert();
    assert_true(matches("risk = high", m));
    assert_true(matches("RISK = High", m));
    assert_true(matches("classification = official-sensitive", m));
    assert_true(matches("classification < \"top secret\"", m));
    assert_true(matches("classification < \"TOP SECRET\"", m));
    assert_true(matches("handling = c", m));
    m->label->classification = LIAISON__CLASSIFICATION__TOP_SECRET;
    assert_true(matches("classification = \"TOP SECRET\"", m));
    assert_true(matches("classification = TOP-SECRET", m));
    assert_true(matches("Classification >= SECRET AND Risk IN (High) Or NOT risk = LOW", m));
    wire_intel_free(&m);
}

static void test_filter_handling_takes_equality_and_in_only(void **state)
{
    (void)state;
    Liaison__Intel *m = prison_alert(); /* C */
    assert_true(matches("handling = C", m));
    assert_false(matches("handling = P", m));
    assert_true(matches("handling != P", m));
    assert_false(matches("handling != C", m));
    assert_true(matches("handling in (P, C)", m));
    assert_false(matches("handling in (P)", m));
    assert_true(matches("handling not in (P)", m));
    static const char *ordering[] = {"<", "<=", ">", ">="};
    for (size_t i = 0; i < UTIL_LEN(ordering); i++) {
        char expr[32];
        snprintf(expr, sizeof expr, "handling %s C", ordering[i]);
        refused(expr, 10, "does not apply to handling (only =, != and in)");
    }
    wire_intel_free(&m);
}

static void test_filter_compares_strings_exactly_as_written(void **state)
{
    (void)state;
    Liaison__Intel *m = prison_alert();
    assert_true(matches("origin.agent = hmp-hull", m));
    assert_true(matches("origin.agency = \"HMP Hull\"", m));
    assert_false(matches("origin.agency = \"hmp hull\"", m));
    assert_false(matches("origin.agency = \"HMP Hul\"", m));
    assert_false(matches("origin.agency = \"HMP Hull \"", m));
    assert_true(matches("origin.type = prison", m));
    assert_false(matches("origin.type = PRISON", m));
    assert_false(matches("origin.type = prisons", m));
    assert_true(matches("origin.region != humberside", m));
    assert_false(matches("origin.region != yorkshire", m));
    assert_true(matches("origin.region in (humberside, yorkshire)", m));
    assert_false(matches("origin.region not in (humberside, yorkshire)", m));
    assert_true(matches("topic = alert.yorkshire.hmp-hull.contraband", m));
    assert_false(matches("topic = alert.yorkshire.hmp-hull", m));
    assert_true(
        matches("topic in (national.firearms, \"alert.yorkshire.hmp-hull.contraband\")", m));
    assert_true(matches("ORIGIN.TYPE = prison", m)); /* the field name in any case */

    static const char *strings[] = {"origin.agent", "origin.agency", "origin.type", "origin.region",
                                    "topic"};
    static const char *ordering[] = {"<", "<=", ">", ">="};
    for (size_t s = 0; s < UTIL_LEN(strings); s++)
        for (size_t o = 0; o < UTIL_LEN(ordering); o++) {
            char expr[64], want[64];
            snprintf(expr, sizeof expr, "%s %s x", strings[s], ordering[o]);
            snprintf(want, sizeof want, "'%s' does not apply to %s", ordering[o], strings[s]);
            refused(expr, strlen(strings[s]) + 2, want);
        }
    wire_intel_free(&m);
}

static void test_filter_unset_fields_fail_every_comparison_but_not_equal(void **state)
{
    (void)state;
    Liaison__Intel *m = wire_intel_new(); /* label and origin present, all unset */
    static const char *fields[] = {"risk = LOW",        "classification = SECRET",
                                   "source_grade = 1",  "intel_grade = A",
                                   "handling = P",      "origin.agent = a",
                                   "origin.agency = a", "origin.type = a",
                                   "origin.region = a", "topic = a"};
    static const char *ordered[] = {"risk < HIGH",
                                    "risk <= HIGH",
                                    "risk > LOW",
                                    "risk >= LOW",
                                    "classification <= TOP-SECRET",
                                    "source_grade <= 3",
                                    "intel_grade >= A"};
    /* Missing label and origin, and no message at all, read as unset. */
    Liaison__Label *label = m->label;
    Liaison__Origin *origin = m->origin;
    for (int variant = 0; variant < 3; variant++) {
        if (variant == 1) {
            m->label = NULL;
            m->origin = NULL;
        }
        const Liaison__Intel *msg = variant == 2 ? NULL : m;
        for (size_t i = 0; i < UTIL_LEN(fields); i++) {
            char expr[64];
            const char *eq = strchr(fields[i], '=');
            int name_len = (int)(eq - fields[i]);
            assert_false(matches(fields[i], msg));
            snprintf(expr, sizeof expr, "%.*s!= %s", name_len, fields[i], eq + 2);
            assert_true(matches(expr, msg));
            snprintf(expr, sizeof expr, "%.*sin (%s)", name_len, fields[i], eq + 2);
            assert_false(matches(expr, msg));
            snprintf(expr, sizeof expr, "%.*snot in (%s)", name_len, fields[i], eq + 2);
            assert_true(matches(expr, msg));
        }
        for (size_t i = 0; i < UTIL_LEN(ordered); i++) {
            assert_false(matches(ordered[i], msg));
            char expr[64];
            snprintf(expr, sizeof expr, "not %s", ordered[i]);
            assert_true(matches(expr, msg));
        }
    }
    m->label = label;
    m->origin = origin;

    /* Values outside the vocabulary (never stored: label_validate refuses
     * them) read as unset too. */
    m->label->risk = (Liaison__Risk)9;
    m->label->source_grade = 4;
    set_str(&m->label->intel_grade, "b");
    assert_false(matches("risk >= LOW or source_grade >= 1 or intel_grade >= A", m));
    assert_true(matches("risk != HIGH and source_grade != 3 and intel_grade != B", m));
    wire_intel_free(&m);
}

/* Three independent comparisons and their truth values in a message. */
#define A "risk = HIGH"
#define B "handling = C"
#define C "source_grade = 1"

static Liaison__Intel *abc(int a, int b, int c)
{
    Liaison__Intel *m = prison_alert();
    m->label->risk = a ? LIAISON__RISK__HIGH : LIAISON__RISK__LOW;
    m->label->handling = b ? LIAISON__HANDLING__HANDLING_C : LIAISON__HANDLING__HANDLING_P;
    m->label->source_grade = c ? 1 : 3;
    return m;
}

static void test_filter_binds_not_tighter_than_and_tighter_than_or(void **state)
{
    (void)state;
    for (int bits = 0; bits < 8; bits++) {
        int a = bits & 1, b = (bits >> 1) & 1, c = (bits >> 2) & 1;
        Liaison__Intel *m = abc(a, b, c);
        assert_int_equal(matches(A " or " B " and " C, m), a || (b && c));
        assert_int_equal(matches(A " and " B " or " C, m), (a && b) || c);
        assert_int_equal(matches("(" A " or " B ") and " C, m), (a || b) && c);
        assert_int_equal(matches(A " and (" B " or " C ")", m), a && (b || c));
        assert_int_equal(matches("not " A " and " B, m), !a && b);
        assert_int_equal(matches("not (" A " and " B ")", m), !(a && b));
        assert_int_equal(matches("not " A " or not " B " and " C, m), !a || (!b && c));
        assert_int_equal(matches("not not " A, m), a);
        assert_int_equal(matches("not (not " A " or " B ")", m), a && !b);
        assert_int_equal(matches("((" A "))", m), a);
        assert_int_equal(matches(A " or " B " or " C, m), a || b || c);
        assert_int_equal(matches(A " and " B " and " C, m), a && b && c);
        assert_int_equal(matches(A " AND NOT (" B " OR " C ")", m), a && !(b || c));
        wire_intel_free(&m);
    }
}

static void test_filter_in_lists_match_any_value_and_not_in_none(void **state)
{
    (void)state;
    Liaison__Intel *m = prison_alert(); /* HIGH, OFFICIAL-SENSITIVE, 2B */
    assert_true(matches("risk in (HIGH)", m));
    assert_true(matches("risk in (LOW,HIGH)", m));
    assert_false(matches("risk in (LOW, MEDIUM)", m));
    assert_true(matches("risk not in (LOW, MEDIUM)", m));
    assert_false(matches("risk NOT IN (HIGH, LOW)", m));
    assert_true(matches("classification in ( OFFICIAL , official-sensitive )", m));
    assert_true(matches("source_grade in (1, 2)", m));
    assert_true(matches("intel_grade in (a, b)", m));
    assert_true(matches("risk in (HIGH, HIGH, HIGH)", m)); /* repeats are harmless */
    /* in binds as a comparison: not applies to the whole of it. */
    assert_false(matches("not origin.type in (prison)", m));

    /* The longest list there may be, with the match on its last value. */
    char expr[FILTER_MAX_LEN];
    size_t n = (size_t)snprintf(expr, sizeof expr, "origin.agent in (");
    for (int i = 0; i < FILTER_MAX_IN - 1; i++)
        n += (size_t)snprintf(expr + n, sizeof expr - n, "a%d,", i);
    snprintf(expr + n, sizeof expr - n, "hmp-hull)");
    filter_t *f = compiles(expr);
    assert_int_equal(filter_size(f), 1);
    assert_true(filter_match(f, m));
    filter_free(&f);
    wire_intel_free(&m);
}

static void test_filter_quoted_strings_take_escaped_quotes_and_backslashes(void **state)
{
    (void)state;
    Liaison__Intel *m = prison_alert();
    set_str(&m->origin->agency, "The \"Hull\" \\ Unit");
    assert_true(matches("origin.agency = \"The \\\"Hull\\\" \\\\ Unit\"", m));
    assert_false(matches("origin.agency = \"The \\\"Hull\\\" \\\\\\\\ Unit\"", m));
    check_canonical("origin.agency=\"The \\\"Hull\\\" \\\\ Unit\"",
                    "origin.agency=\"The \\\"Hull\\\" \\\\ Unit\"");
    /* A quoted value that needs no quotes is written bare, and means the
     * same as the bare word. */
    assert_true(matches("origin.type = \"prison\"", m));
    check_canonical("origin.type = \"prison\"", "origin.type=prison");
    /* Bytes beyond ASCII inside quotes are kept as they are. */
    set_str(&m->origin->agency, "G\xc3\xa9"
                                "ant");
    assert_true(matches("origin.agency = \"G\xc3\xa9\x61nt\"", m));
    check_canonical("origin.agency = \"G\xc3\xa9\x61nt\"", "origin.agency=\"G\xc3\xa9\x61nt\"");
    wire_intel_free(&m);
}

static void test_filter_formats_canonically_and_compiles_back_to_the_same(void **state)
{
    (void)state;
    static const char *cases[][2] = {
        {"risk >= MEDIUM", "risk>=MEDIUM"},
        {"  RISK   >=   medium  ", "risk>=MEDIUM"},
        {"classification = \"TOP SECRET\"", "classification=TOP-SECRET"},
        {"classification != official-sensitive", "classification!=OFFICIAL-SENSITIVE"},
        {"source_grade <= 2 AND intel_grade < c", "source_grade<=2 and intel_grade<C"},
        {"handling IN ( p , c )", "handling in(P,C)"},
        {"origin.type NOT IN (prison, rocu)", "origin.type not in(prison,rocu)"},
        {"(risk = LOW)", "risk=LOW"},
        {"((risk = LOW) and (handling = P))", "risk=LOW and handling=P"},
        {"risk = LOW and (handling = P and source_grade = 1)",
         "risk=LOW and handling=P and source_grade=1"},
        {"risk = LOW or (handling = P or source_grade = 1)",
         "risk=LOW or handling=P or source_grade=1"},
        {"(risk = LOW or handling = P) and source_grade = 1",
         "(risk=LOW or handling=P)and source_grade=1"},
        {"risk = LOW or (handling = P and source_grade = 1)",
         "risk=LOW or handling=P and source_grade=1"},
        {"not (risk = LOW)", "not risk=LOW"},
        {"NOT NOT risk = LOW", "not not risk=LOW"},
        {"not (risk = LOW and handling = P)", "not(risk=LOW and handling=P)"},
        {"not (risk = LOW or handling = P)", "not(risk=LOW or handling=P)"},
        {"(not risk = LOW) or handling = P", "not risk=LOW or handling=P"},
        {"topic=\"a.b\"or risk=LOW", "topic=a.b or risk=LOW"},
        {"origin.agency = \"HMP Hull\" or risk = LOW", "origin.agency=\"HMP Hull\"or risk=LOW"},
        {"origin.agency in (\"HMP Hull\", rocu-yh)", "origin.agency in(\"HMP Hull\",rocu-yh)"},
        {"origin.region=a:b_c.d-e", "origin.region=a:b_c.d-e"},
    };
    for (size_t i = 0; i < UTIL_LEN(cases); i++)
        check_canonical(cases[i][0], cases[i][1]);
}

static void test_filter_format_truncates_like_snprintf(void **state)
{
    (void)state;
    filter_t *f = compiles("risk >= MEDIUM and origin.type in (prison, rocu)");
    const char *full = "risk>=MEDIUM and origin.type in(prison,rocu)";
    char out[16];
    memset(out, 'x', sizeof out);
    assert_int_equal(filter_format(f, out, sizeof out), strlen(full));
    assert_int_equal(strlen(out), sizeof out - 1);
    assert_memory_equal(out, full, sizeof out - 1);
    out[0] = 'x';
    assert_int_equal(filter_format(f, out, 0), strlen(full));
    assert_int_equal(out[0], 'x');
    assert_int_equal(filter_format(f, NULL, 0), strlen(full));
    filter_free(&f);

    assert_int_equal(filter_format(NULL, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(filter_size(NULL), 0);
    assert_true(filter_match(NULL, NULL)); /* no filter: everything passes */
    filter_free(&f);
    filter_free(NULL);
}

static void test_filter_counts_comparisons_not_operators(void **state)
{
    (void)state;
    filter_t *f = compiles("not (risk = LOW or handling in (P, C)) and topic != a.b");
    assert_int_equal(filter_size(f), 3);
    filter_free(&f);
}

static void test_filter_refuses_unknown_fields_and_values_naming_the_allowed_ones(void **state)
{
    (void)state;
    refused("riks = LOW", 1, "unknown field 'riks'");
    refused("risk = LOW and origin.kind = prison", 16, "unknown field 'origin.kind'");
    refused("origin = prison", 1, "unknown field 'origin'");
    refused("risk = SEVERE", 8, "risk has no value 'SEVERE' (LOW, MEDIUM, HIGH)");
    refused("risk = \"\"", 8, "risk has no value '' (LOW, MEDIUM, HIGH)");
    refused("classification = RESTRICTED", 18,
            "classification has no value 'RESTRICTED' (OFFICIAL, OFFICIAL-SENSITIVE, SECRET, "
            "TOP-SECRET)");
    refused("classification = TOP_SECRET", 18, "classification has no value 'TOP_SECRET'");
    refused("classification = unspecified", 18, "classification has no value 'unspecified'");
    refused("source_grade = 4", 16, "source_grade has no value '4' (1, 2, 3)");
    refused("source_grade = 0", 16, "source_grade has no value '0' (1, 2, 3)");
    refused("source_grade = 01", 16, "source_grade has no value '01'");
    refused("intel_grade = F", 15, "intel_grade has no value 'F' (A, B, C, D, E)");
    refused("intel_grade = AB", 15, "intel_grade has no value 'AB'");
    refused("handling = X", 12, "handling has no value 'X' (P, C)");
    refused("risk in (LOW, SEVERE)", 15, "risk has no value 'SEVERE'");
    refused("topic = alert.*", 15, "no wildcards in a filter");
    refused("topic = alert.>", 15, "no wildcards in a filter");
    refused("topic = *.alert", 9, "unexpected character '*' (no wildcards in a filter)");
    refused("origin.agent in (hmp-*)", 22, "no wildcards in a filter");
    refused("topic = a.b>", 12, "expected 'and', 'or' or the end");
    refused("topic = \"alert.*\"", 9, "'alert.*' is not a topic");
    refused("topic = Alert.x", 9, "is not a topic");
    refused("topic in (a, b..c)", 14, "'b..c' is not a topic");
    refused("origin.agency = \"\"", 17, "empty value");
    refused("origin.type in (prison, \"\")", 25, "empty value");
}

static void test_filter_refuses_missing_pieces_at_their_column(void **state)
{
    (void)state;
    refused("risk >= ", 9, "expected a value after '>='");
    refused("risk >=", 8, "expected a value after '>='");
    refused("risk = )", 8, "expected a value after '='");
    refused("risk == LOW", 7, "expected a value after '='");
    refused("risk MEDIUM", 6, "expected an operator after 'risk' (=, !=, <, <=, >, >=, in)");
    refused("risk", 5, "expected an operator after 'risk'");
    refused("= LOW", 1, "expected a field name");
    refused("\"risk\" = LOW", 1, "expected a field name");
    refused("risk = LOW and", 15, "expected a field name after 'and'");
    refused("risk = LOW or or", 15, "expected a field name after 'or'");
    refused("not", 4, "expected a field name after 'not'");
    refused("()", 2, "expected a field name after '('");
    refused("(risk = LOW", 12, "expected 'and', 'or' or ')' to close the '(' at column 1");
    refused("((risk = LOW) or (handling = P)", 32, "to close the '(' at column 1");
    refused("(risk = LOW handling = P)", 13, "to close the '(' at column 1");
    refused("origin.type in prison", 16, "expected '(' after 'in'");
    refused("origin.type in", 15, "expected '(' after 'in'");
    refused("origin.type in (prison rocu)", 24, "expected ',' or ')' in the list");
    refused("origin.type in (prison", 23, "expected ',' or ')' in the list");
    refused("origin.type in (prison,", 24, "expected a value after ','");
    refused("origin.type in (prison,)", 24, "expected a value after ','");
    refused("origin.type in ()", 17, "expected a value after '('");
    refused("origin.type not prison", 17, "expected 'in' after 'not'");
    refused("origin.type not", 16, "expected 'in' after 'not'");
}

static void test_filter_refuses_trailing_garbage_and_bad_characters(void **state)
{
    (void)state;
    refused("risk = LOW MEDIUM", 12, "expected 'and', 'or' or the end");
    refused("risk = LOW handling = P", 12, "expected 'and', 'or' or the end");
    refused("risk = LOW)", 11, "')' without a matching '('");
    refused("risk = LOW, MEDIUM", 11, "expected 'and', 'or' or the end");
    refused("risk = LOW & handling = P", 12, "unexpected character '&'");
    refused("risk = LOW && handling = P", 12, "unexpected character '&'");
    refused("risk ! LOW", 6, "unexpected character '!'");
    refused("risk = LOW;", 11, "unexpected character ';'");
    refused("risk = \xc3\x96", 8, "unexpected byte 0xc3");
    refused("risk = LOW or topic ~ \"a\"", 21, "unexpected character '~'");
    refused("topic = \"abc", 9, "string not closed");
    refused("topic = \"a\\nb\"", 11, "unknown escape in a string");
    refused("topic = \"a\\", 11, "unknown escape in a string");
    refused("topic = \"a\tb\"", 11, "control character in a string");
}

/* n copies of s, into buf of size len (the test fails rather than cut). */
static char *repeat(char *buf, size_t len, const char *s, int n)
{
    size_t k = strlen(s), used = 0;
    for (int i = 0; i < n; i++, used += k) {
        assert_true(used + k < len);
        memcpy(buf + used, s, k);
    }
    buf[used] = '\0';
    return buf;
}

static void test_filter_refuses_nesting_deeper_than_the_limit(void **state)
{
    (void)state;
    char open[256], close[256], expr[1024];
    /* FILTER_MAX_DEPTH parentheses compile, one more is refused at itself. */
    snprintf(expr, sizeof expr, "%srisk = LOW%s", repeat(open, sizeof open, "(", FILTER_MAX_DEPTH),
             repeat(close, sizeof close, ")", FILTER_MAX_DEPTH));
    filter_t *f = compiles(expr);
    filter_free(&f);
    snprintf(expr, sizeof expr, "%srisk = LOW%s",
             repeat(open, sizeof open, "(", FILTER_MAX_DEPTH + 1),
             repeat(close, sizeof close, ")", FILTER_MAX_DEPTH + 1));
    refused(expr, FILTER_MAX_DEPTH + 1, "nesting deeper than 16");

    /* not nests the same way. */
    snprintf(expr, sizeof expr, "%srisk = LOW",
             repeat(open, sizeof open, "not ", FILTER_MAX_DEPTH));
    f = compiles(expr);
    filter_free(&f);
    snprintf(expr, sizeof expr, "%srisk = LOW",
             repeat(open, sizeof open, "not ", FILTER_MAX_DEPTH + 1));
    refused(expr, 4 * FILTER_MAX_DEPTH + 1, "nesting deeper than 16");

    /* And the two together. */
    snprintf(expr, sizeof expr, "%s%srisk = LOW%s",
             repeat(open, sizeof open, "not (", FILTER_MAX_DEPTH / 2), "not ",
             repeat(close, sizeof close, ")", FILTER_MAX_DEPTH / 2));
    refused(expr, 5 * (FILTER_MAX_DEPTH / 2) + 1, "nesting deeper than 16");

    /* Depth is nesting, not count: many groups side by side are fine. */
    char groups[256];
    snprintf(expr, sizeof expr, "%srisk = LOW",
             repeat(groups, sizeof groups, "(risk = LOW) and ", 12));
    f = compiles(expr);
    filter_free(&f);
}

static void test_filter_refuses_more_nodes_than_the_limit(void **state)
{
    (void)state;
    char expr[FILTER_MAX_LEN + 1];
    /* n comparisons joined by or are 2n - 1 nodes: 64 are 127, and a not
     * makes 128, the most there may be. */
    int n = FILTER_MAX_NODES / 2;
    repeat(expr, sizeof expr, "risk=LOW or ", n - 1);
    strcat(expr, "not risk=HIGH");
    filter_t *f = compiles(expr);
    assert_int_equal(filter_size(f), (unsigned)n);
    filter_free(&f);

    /* 65 comparisons: the 129th node is the last or. */
    repeat(expr, sizeof expr, "risk=LOW or ", n);
    strcat(expr, "risk=HIGH");
    size_t last_or = (size_t)(strstr(expr, " or risk=HIGH") - expr) + 2;
    refused(expr, last_or, "more than 128 comparisons and operators");

    /* A comparison can be the one that is too many: a not and 64
     * comparisons with their ors are 128 nodes, and one more follows. */
    strcpy(expr, "not risk=LOW");
    repeat(expr + strlen(expr), sizeof expr - strlen(expr), " or risk=LOW", n - 1);
    strcat(expr, " or risk=HIGH");
    refused(expr, strlen(expr) - strlen("risk=HIGH") + 1, "more than 128 comparisons");
}

static void test_filter_refuses_more_values_in_a_list_than_the_limit(void **state)
{
    (void)state;
    char expr[FILTER_MAX_LEN];
    size_t n = (size_t)snprintf(expr, sizeof expr, "origin.agent in (");
    for (int i = 0; i < FILTER_MAX_IN; i++)
        n += (size_t)snprintf(expr + n, sizeof expr - n, "a%d,", i);
    size_t at = n + 1;
    snprintf(expr + n, sizeof expr - n, "one-more)");
    refused(expr, at, "more than 64 values in one list");
}

static void test_filter_refuses_expressions_too_long_or_empty(void **state)
{
    (void)state;
    char expr[FILTER_MAX_LEN + 2];
    memset(expr, ' ', sizeof expr);
    memcpy(expr, "risk = LOW", 10);
    expr[FILTER_MAX_LEN] = '\0';
    filter_t *f = compiles(expr); /* exactly the limit */
    filter_free(&f);
    expr[FILTER_MAX_LEN] = ' ';
    expr[FILTER_MAX_LEN + 1] = '\0';
    refused(expr, 0, "expression longer than 1024 bytes");

    refused("", 0, "empty expression");
    refused(" \t\n ", 0, "empty expression");

    /* NULL expression, and NULL err_pos and why. */
    size_t pos = 7;
    char why[64];
    assert_null(filter_compile(NULL, &pos, why, sizeof why));
    assert_int_equal(pos, 0);
    assert_null(filter_compile("riks = LOW", NULL, NULL, 0));
    f = filter_compile("risk = LOW", NULL, NULL, 0);
    assert_non_null(f);
    filter_free(&f);
    /* A short why is cut, still terminated. */
    char tiny[8];
    assert_null(filter_compile("riks = LOW", &pos, tiny, sizeof tiny));
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_int_equal(pos, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_selects_medium_risk_and_above_from_prisons_and_rocus),
        cmocka_unit_test(test_filter_compares_ordered_fields_by_rank_with_every_operator),
        cmocka_unit_test(test_filter_grades_compare_as_written_so_smaller_is_more_reliable),
        cmocka_unit_test(test_filter_takes_enum_names_in_any_case_and_top_secret_with_a_space),
        cmocka_unit_test(test_filter_handling_takes_equality_and_in_only),
        cmocka_unit_test(test_filter_compares_strings_exactly_as_written),
        cmocka_unit_test(test_filter_unset_fields_fail_every_comparison_but_not_equal),
        cmocka_unit_test(test_filter_binds_not_tighter_than_and_tighter_than_or),
        cmocka_unit_test(test_filter_in_lists_match_any_value_and_not_in_none),
        cmocka_unit_test(test_filter_quoted_strings_take_escaped_quotes_and_backslashes),
        cmocka_unit_test(test_filter_formats_canonically_and_compiles_back_to_the_same),
        cmocka_unit_test(test_filter_format_truncates_like_snprintf),
        cmocka_unit_test(test_filter_counts_comparisons_not_operators),
        cmocka_unit_test(test_filter_refuses_unknown_fields_and_values_naming_the_allowed_ones),
        cmocka_unit_test(test_filter_refuses_missing_pieces_at_their_column),
        cmocka_unit_test(test_filter_refuses_trailing_garbage_and_bad_characters),
        cmocka_unit_test(test_filter_refuses_nesting_deeper_than_the_limit),
        cmocka_unit_test(test_filter_refuses_more_nodes_than_the_limit),
        cmocka_unit_test(test_filter_refuses_more_values_in_a_list_than_the_limit),
        cmocka_unit_test(test_filter_refuses_expressions_too_long_or_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
