/* test_label.c — the label vocabulary and label_validate (common/label.c):
 * names and ranks of classifications, grading both ways with its
 * boundaries, handling, risk and sanitisation codes, caveat and release_to
 * syntax, and each reason a published message is refused with its own code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "label.h"
#include "util.h"
#include "wire.h"

#define TOPIC_MAX 255

/* Replaces a string field of a message built by hand (see wire.h). */
static void set_str(char **field, const char *v)
{
    if (*field != NULL && *field != wire_empty())
        free(*field);
    *field = xstrdup(v);
}

static void push_str(char ***arr, size_t *n, const char *v)
{
    *arr = xrealloc(*arr, (*n + 1) * sizeof **arr);
    (*arr)[(*n)++] = xstrdup(v);
}

/* The label of docs/design.md's example message: complete and acceptable. */
static Liaison__Intel *good_intel(void)
{
    Liaison__Intel *m = wire_intel_new();
    set_str(&m->topic, "alert.yorkshire.hmp-hull.contraband");
    set_str(&m->msg_id, "hull-2026-000123");
    set_str(&m->content_type, "text/plain");
    Liaison__Label *l = m->label;
    l->classification = LIAISON__CLASSIFICATION__OFFICIAL_SENSITIVE;
    push_str(&l->caveats, &l->n_caveats, "PRISON-INTEL");
    l->source_grade = 2;
    set_str(&l->intel_grade, "B");
    l->handling = LIAISON__HANDLING__HANDLING_C;
    set_str(&l->conditions, "ROCU use only");
    push_str(&l->release_to, &l->n_release_to, "type:rocu");
    push_str(&l->release_to, &l->n_release_to, "agency:humberside-police");
    l->risk = LIAISON__RISK__HIGH;
    set_str(&l->risk_basis, "OCGM band 1");
    set_str(&l->risk_ref, "OCG-4471");
    push_str(&l->subjects, &l->n_subjects, "A1234BC");
    set_str(&l->review_at, "2027-11-25");
    return m;
}

/* Validates m and checks the reason is one non-empty line. */
static Liaison__ErrorCode validate(const Liaison__Intel *m)
{
    char why[256] = "";
    Liaison__ErrorCode code = label_validate(m, TOPIC_MAX, why, sizeof why);
    if (code == LIAISON__ERROR_CODE__ERROR_NONE) {
        assert_string_equal(why, "");
    } else {
        assert_true(why[0] != '\0');
        assert_null(strchr(why, '\n'));
    }
    return code;
}

static char *repeat(char c, size_t n)
{
    char *s = xmalloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_label_validate_accepts_the_design_example(void **state)
{
    (void)state;
    Liaison__Intel *m = good_intel();
    char why[256] = "";
    assert_int_equal(label_validate(m, TOPIC_MAX, why, sizeof why),
                     LIAISON__ERROR_CODE__ERROR_NONE);

    /* The same label read the way an agency's system writes it. */
    assert_int_equal(label_classification_parse("OFFICIAL-SENSITIVE"),
                     (int)m->label->classification);
    unsigned source;
    char intel;
    assert_int_equal(label_grading_parse("2B", &source, &intel), 0);
    assert_int_equal(source, m->label->source_grade);
    assert_int_equal(intel, m->label->intel_grade[0]);
    assert_int_equal(label_handling_parse("C"), (int)m->label->handling);
    assert_int_equal(label_risk_parse("HIGH"), (int)m->label->risk);
    wire_intel_free(&m);
    assert_null(m);
}

static void test_label_classification_parses_every_name(void **state)
{
    (void)state;
    assert_int_equal(label_classification_parse("OFFICIAL"), LIAISON__CLASSIFICATION__OFFICIAL);
    assert_int_equal(label_classification_parse("OFFICIAL-SENSITIVE"),
                     LIAISON__CLASSIFICATION__OFFICIAL_SENSITIVE);
    assert_int_equal(label_classification_parse("SECRET"), LIAISON__CLASSIFICATION__SECRET);
    assert_int_equal(label_classification_parse("TOP-SECRET"), LIAISON__CLASSIFICATION__TOP_SECRET);
    assert_int_equal(label_classification_parse("TOP SECRET"), LIAISON__CLASSIFICATION__TOP_SECRET);

    const char *bad[] = {"",
                         "official",
                         "Secret",
                         "UNSPECIFIED",
                         "RESTRICTED",
                         "TOP  SECRET",
                         "TOP_SECRET",
                         "SECRET ",
                         " SECRET",
                         "TOPSECRET",
                         "OFFICIAL SENSITIVE",
                         "OFFICIAL-SENSITIVE-X",
                         "CONFIDENTIAL"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (label_classification_parse(bad[i]) != -1)
            fail_msg("classification \"%s\" was accepted", bad[i]);
    }
    assert_int_equal(label_classification_parse(NULL), -1);
}

static void test_label_classification_ranks_in_order(void **state)
{
    (void)state;
    int o = label_classification_parse("OFFICIAL");
    int os = label_classification_parse("OFFICIAL-SENSITIVE");
    int s = label_classification_parse("SECRET");
    int ts = label_classification_parse("TOP SECRET");
    assert_true(o < os);
    assert_true(os < s);
    assert_true(s < ts);
    assert_true(o > LIAISON__CLASSIFICATION__CLASSIFICATION_UNSPECIFIED);
}

static void test_label_classification_name_is_canonical(void **state)
{
    (void)state;
    const char *names[] = {"OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int c = label_classification_parse(names[i]);
        assert_string_equal(label_classification_name(c), names[i]);
    }
    assert_string_equal(label_classification_name(label_classification_parse("TOP SECRET")),
                        "TOP-SECRET");
    assert_string_equal(label_classification_name(0), "UNSPECIFIED");
    assert_string_equal(label_classification_name(5), "UNSPECIFIED");
    assert_string_equal(label_classification_name(-1), "UNSPECIFIED");
    assert_string_equal(label_classification_name(1000), "UNSPECIFIED");
}

static void test_label_grading_parses_every_3x5_code(void **state)
{
    (void)state;
    for (char s = '1'; s <= '3'; s++) {
        for (char g = 'A'; g <= 'E'; g++) {
            char code[3] = {s, g, '\0'};
            unsigned source = 99;
            char intel = '?';
            if (label_grading_parse(code, &source, &intel) != 0)
                fail_msg("grading \"%s\" was refused", code);
            assert_int_equal(source, (unsigned)(s - '0'));
            assert_int_equal(intel, g);
        }
    }
}

static void test_label_grading_refuses_out_of_range_codes(void **state)
{
    (void)state;
    const char *bad[] = {"0A", "4A", "9C", "1F", "3Z",  "1a",  "2b",  "12B", "2BB",
                         "B2", "2",  "B",  "",   " 2B", "2B ", "2-B", "-1A", "\x32\x40"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned source = 0;
        char intel = 0;
        if (label_grading_parse(bad[i], &source, &intel) != -1)
            fail_msg("grading \"%s\" was accepted", bad[i]);
    }
    unsigned source = 0;
    char intel = 0;
    assert_int_equal(label_grading_parse(NULL, &source, &intel), -1);
}

static void test_label_handling_risk_sanitisation_parse_and_name(void **state)
{
    (void)state;
    assert_int_equal(label_handling_parse("P"), LIAISON__HANDLING__HANDLING_P);
    assert_int_equal(label_handling_parse("C"), LIAISON__HANDLING__HANDLING_C);
    assert_string_equal(label_handling_name(LIAISON__HANDLING__HANDLING_P), "P");
    assert_string_equal(label_handling_name(LIAISON__HANDLING__HANDLING_C), "C");
    assert_string_equal(label_handling_name(0), "");
    assert_string_equal(label_handling_name(3), "");
    assert_string_equal(label_handling_name(-1), "");

    assert_int_equal(label_risk_parse("LOW"), LIAISON__RISK__LOW);
    assert_int_equal(label_risk_parse("MEDIUM"), LIAISON__RISK__MEDIUM);
    assert_int_equal(label_risk_parse("HIGH"), LIAISON__RISK__HIGH);
    assert_string_equal(label_risk_name(LIAISON__RISK__LOW), "LOW");
    assert_string_equal(label_risk_name(LIAISON__RISK__MEDIUM), "MEDIUM");
    assert_string_equal(label_risk_name(LIAISON__RISK__HIGH), "HIGH");
    assert_string_equal(label_risk_name(0), "");
    assert_string_equal(label_risk_name(4), "");
    /* Ranked, so "at least MEDIUM" can be a comparison. */
    assert_true(LIAISON__RISK__LOW < LIAISON__RISK__MEDIUM);
    assert_true(LIAISON__RISK__MEDIUM < LIAISON__RISK__HIGH);

    assert_int_equal(label_sanitisation_parse("S1"), LIAISON__SANITISATION__S1);
    assert_int_equal(label_sanitisation_parse("S2"), LIAISON__SANITISATION__S2);
    assert_string_equal(label_sanitisation_name(LIAISON__SANITISATION__S1), "S1");
    assert_string_equal(label_sanitisation_name(LIAISON__SANITISATION__S2), "S2");
    assert_string_equal(label_sanitisation_name(0), "");
    assert_string_equal(label_sanitisation_name(3), "");

    const char *bad_h[] = {"", "p", "c", "X", "PC", "P ", "HANDLING_P"};
    for (size_t i = 0; i < sizeof bad_h / sizeof bad_h[0]; i++)
        assert_int_equal(label_handling_parse(bad_h[i]), -1);
    const char *bad_r[] = {"", "low", "High", "SEVERE", "RISK_UNSPECIFIED", "HIGH "};
    for (size_t i = 0; i < sizeof bad_r / sizeof bad_r[0]; i++)
        assert_int_equal(label_risk_parse(bad_r[i]), -1);
    const char *bad_s[] = {"", "s1", "S0", "S3", "1", "S12"};
    for (size_t i = 0; i < sizeof bad_s / sizeof bad_s[0]; i++)
        assert_int_equal(label_sanitisation_parse(bad_s[i]), -1);
    assert_int_equal(label_handling_parse(NULL), -1);
    assert_int_equal(label_risk_parse(NULL), -1);
    assert_int_equal(label_sanitisation_parse(NULL), -1);
}

static void test_label_caveat_must_be_an_upper_case_word(void **state)
{
    (void)state;
    const char *good[] = {"UK-EYES-ONLY", "OP-NIGHTJAR", "PRISON_INTEL", "A", "X1", "7", "A-B_C"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (label_caveat_valid(good[i]) != 0)
            fail_msg("caveat \"%s\" was refused", good[i]);
    }
    const char *bad[] = {"",  "uk-eyes-only", "Op-Nightjar", "-A",  "A-",  "_A",       "A_",
                         "-", "A B",          "A.B",         "A:B", "A/B", "\xc3\x89", "A\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (label_caveat_valid(bad[i]) != -1)
            fail_msg("caveat \"%s\" was accepted", bad[i]);
    }
    assert_int_equal(label_caveat_valid(NULL), -1);

    char *word = repeat('A', LABEL_MAX_WORD);
    assert_int_equal(label_caveat_valid(word), 0);
    free(word);
    word = repeat('A', LABEL_MAX_WORD + 1);
    assert_int_equal(label_caveat_valid(word), -1);
    free(word);
}

static void test_label_release_to_names_agency_type_or_region(void **state)
{
    (void)state;
    const char *good[] = {"agency:humberside-police", "type:rocu",       "type:police",
                          "region:yorkshire",         "region:national", "agency:hmp_hull2"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (label_release_to_valid(good[i]) != 0)
            fail_msg("release_to \"%s\" was refused", good[i]);
    }
    const char *bad[] = {"",           "rocu",       "agency:",
                         "type:",      "region:",    "type:ROCU",
                         "Agency:x",   "AGENCY:x",   "agency: x",
                         "agency:x y", "force:x",    "agency",
                         "typerocu",   "agency:a:b", "agency:a.b",
                         ":rocu",      "type:rocu ", "region:North Yorkshire"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (label_release_to_valid(bad[i]) != -1)
            fail_msg("release_to \"%s\" was accepted", bad[i]);
    }
    assert_int_equal(label_release_to_valid(NULL), -1);

    /* The whole entry is one word of at most LABEL_MAX_WORD bytes. */
    char entry[LABEL_MAX_WORD + 8];
    char *name = repeat('a', LABEL_MAX_WORD - strlen("agency:"));
    snprintf(entry, sizeof entry, "agency:%s", name);
    assert_int_equal(strlen(entry), LABEL_MAX_WORD);
    assert_int_equal(label_release_to_valid(entry), 0);
    free(name);
    name = repeat('a', LABEL_MAX_WORD + 1 - strlen("agency:"));
    snprintf(entry, sizeof entry, "agency:%s", name);
    assert_int_equal(label_release_to_valid(entry), -1);
    free(name);
}

static void test_label_validate_refuses_missing_message_or_label(void **state)
{
    (void)state;
    assert_int_equal(validate(NULL), LIAISON__ERROR_CODE__BAD_LABEL);

    Liaison__Intel *m = good_intel();
    liaison__label__free_unpacked(m->label, NULL);
    m->label = NULL;
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_LABEL);
    wire_intel_free(&m);

    /* A label with nothing set is refused, never taken as a default. */
    m = wire_intel_new();
    set_str(&m->topic, "a.b");
    assert_int_not_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    wire_intel_free(&m);
}

static void test_label_validate_refuses_bad_topic(void **state)
{
    (void)state;
    const char *bad[] = {"", "Alert.yorkshire", "alert..x", "alert.>", "alert.*", ".alert"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Liaison__Intel *m = good_intel();
        set_str(&m->topic, bad[i]);
        if (validate(m) != LIAISON__ERROR_CODE__BAD_TOPIC)
            fail_msg("topic \"%s\" was not refused with BAD_TOPIC", bad[i]);
        wire_intel_free(&m);
    }

    /* Longer than the broker's max_topic_len. */
    Liaison__Intel *m = good_intel();
    char why[256];
    size_t n = strlen(m->topic);
    assert_int_equal(label_validate(m, n, why, sizeof why), LIAISON__ERROR_CODE__ERROR_NONE);
    assert_int_equal(label_validate(m, n - 1, why, sizeof why), LIAISON__ERROR_CODE__BAD_TOPIC);
    wire_intel_free(&m);
}

static void test_label_validate_refuses_bad_classification(void **state)
{
    (void)state;
    const int bad[] = {LIAISON__CLASSIFICATION__CLASSIFICATION_UNSPECIFIED, 5, -1, 100};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Liaison__Intel *m = good_intel();
        m->label->classification = (Liaison__Classification)bad[i];
        assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_CLASSIFICATION);
        wire_intel_free(&m);
    }
    for (int c = LIAISON__CLASSIFICATION__OFFICIAL; c <= LIAISON__CLASSIFICATION__TOP_SECRET; c++) {
        Liaison__Intel *m = good_intel();
        m->label->classification = (Liaison__Classification)c;
        assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
        wire_intel_free(&m);
    }
}

static void test_label_validate_refuses_bad_grading(void **state)
{
    (void)state;
    const unsigned bad_source[] = {0, 4, 10, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_source / sizeof bad_source[0]; i++) {
        Liaison__Intel *m = good_intel();
        m->label->source_grade = bad_source[i];
        assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_GRADING);
        wire_intel_free(&m);
    }
    const char *bad_intel[] = {"", "F", "a", "e", "AB", "@", "1"};
    for (size_t i = 0; i < sizeof bad_intel / sizeof bad_intel[0]; i++) {
        Liaison__Intel *m = good_intel();
        set_str(&m->label->intel_grade, bad_intel[i]);
        if (validate(m) != LIAISON__ERROR_CODE__BAD_GRADING)
            fail_msg("intel grade \"%s\" was not refused with BAD_GRADING", bad_intel[i]);
        wire_intel_free(&m);
    }
    /* Every one of the 15 gradings passes. */
    for (unsigned s = 1; s <= 3; s++) {
        for (char g = 'A'; g <= 'E'; g++) {
            Liaison__Intel *m = good_intel();
            char grade[2] = {g, '\0'};
            m->label->source_grade = s;
            set_str(&m->label->intel_grade, grade);
            assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
            wire_intel_free(&m);
        }
    }
}

static void test_label_validate_refuses_unknown_handling(void **state)
{
    (void)state;
    const int bad[] = {LIAISON__HANDLING__HANDLING_UNSPECIFIED, 3, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Liaison__Intel *m = good_intel();
        m->label->handling = (Liaison__Handling)bad[i];
        assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_HANDLING);
        wire_intel_free(&m);
    }
}

static void test_label_validate_refuses_handling_c_without_release_to_or_conditions(void **state)
{
    (void)state;
    Liaison__Intel *m = good_intel();
    Liaison__Label *l = m->label;
    /* Conditions alone are enough... */
    for (size_t i = 0; i < l->n_release_to; i++)
        free(l->release_to[i]);
    free(l->release_to);
    l->release_to = NULL;
    l->n_release_to = 0;
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    /* ...and so is release_to alone... */
    push_str(&l->release_to, &l->n_release_to, "region:yorkshire");
    set_str(&l->conditions, "");
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    /* ...but C with neither says nothing about its conditions. */
    free(l->release_to[0]);
    free(l->release_to);
    l->release_to = NULL;
    l->n_release_to = 0;
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_HANDLING);
    wire_intel_free(&m);

    /* C with sanitisation codes and no onward sharing is fine. */
    m = good_intel();
    m->label->sanitisation = LIAISON__SANITISATION__S1;
    m->label->no_onward_sharing = 1;
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    m->label->sanitisation = LIAISON__SANITISATION__S2;
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    m->label->sanitisation = (Liaison__Sanitisation)3;
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_HANDLING);
    m->label->sanitisation = (Liaison__Sanitisation)-1;
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_HANDLING);
    wire_intel_free(&m);
}

static void test_label_validate_refuses_handling_p_with_conditions(void **state)
{
    (void)state;
    /* P with nothing else, and P with a release_to (it still restricts). */
    Liaison__Intel *m = good_intel();
    m->label->handling = LIAISON__HANDLING__HANDLING_P;
    set_str(&m->label->conditions, "");
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);

    set_str(&m->label->conditions, "ROCU use only");
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_HANDLING);
    set_str(&m->label->conditions, "");

    m->label->no_onward_sharing = 1;
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_HANDLING);
    m->label->no_onward_sharing = 0;

    m->label->sanitisation = LIAISON__SANITISATION__S1;
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_HANDLING);
    m->label->sanitisation = 0;
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    wire_intel_free(&m);
}

static void test_label_validate_refuses_bad_risk(void **state)
{
    (void)state;
    const int bad[] = {LIAISON__RISK__RISK_UNSPECIFIED, 4, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Liaison__Intel *m = good_intel();
        m->label->risk = (Liaison__Risk)bad[i];
        assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_RISK);
        wire_intel_free(&m);
    }

    /* HIGH needs a basis; MEDIUM and LOW do not. */
    Liaison__Intel *m = good_intel();
    set_str(&m->label->risk_basis, "");
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_RISK);
    m->label->risk = LIAISON__RISK__MEDIUM;
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    m->label->risk = LIAISON__RISK__LOW;
    set_str(&m->label->risk_ref, "");
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    wire_intel_free(&m);
}

static void test_label_validate_refuses_bad_caveat_without_quoting_it(void **state)
{
    (void)state;
    const char *bad[] = {"op-nightjar", "", "-OP", "OP NIGHTJAR"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Liaison__Intel *m = good_intel();
        push_str(&m->label->caveats, &m->label->n_caveats, bad[i]);
        char why[256] = "";
        assert_int_equal(label_validate(m, TOPIC_MAX, why, sizeof why),
                         LIAISON__ERROR_CODE__BAD_CAVEAT);
        /* A code word is itself sensitive. */
        if (bad[i][0] != '\0')
            assert_null(strstr(why, bad[i]));
        wire_intel_free(&m);
    }
}

static void test_label_validate_refuses_bad_release_to(void **state)
{
    (void)state;
    const char *bad[] = {"rocu", "type:", "Agency:x", "agency:Humberside Police"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Liaison__Intel *m = good_intel();
        push_str(&m->label->release_to, &m->label->n_release_to, bad[i]);
        assert_int_equal(validate(m), LIAISON__ERROR_CODE__BAD_RELEASE_TO);
        wire_intel_free(&m);
    }
}

static void test_label_validate_refuses_lists_over_their_limits(void **state)
{
    (void)state;
    Liaison__Intel *m = good_intel();
    while (m->label->n_caveats < LABEL_MAX_CAVEATS)
        push_str(&m->label->caveats, &m->label->n_caveats, "UK-EYES-ONLY");
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    push_str(&m->label->caveats, &m->label->n_caveats, "UK-EYES-ONLY");
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__TOO_LARGE);
    wire_intel_free(&m);

    m = good_intel();
    while (m->label->n_release_to < LABEL_MAX_RELEASE_TO)
        push_str(&m->label->release_to, &m->label->n_release_to, "type:police");
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    push_str(&m->label->release_to, &m->label->n_release_to, "type:police");
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__TOO_LARGE);
    wire_intel_free(&m);

    m = good_intel();
    while (m->label->n_subjects < LABEL_MAX_SUBJECTS)
        push_str(&m->label->subjects, &m->label->n_subjects, "A1234BC");
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    push_str(&m->label->subjects, &m->label->n_subjects, "A1234BC");
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__TOO_LARGE);
    wire_intel_free(&m);
}

static void test_label_validate_refuses_text_fields_over_their_limit(void **state)
{
    (void)state;
    char *ok = repeat('x', LABEL_MAX_TEXT), *big = repeat('x', LABEL_MAX_TEXT + 1);
    for (int field = 0; field < 5; field++) {
        Liaison__Intel *m = good_intel();
        char **f = field == 0   ? &m->msg_id
                   : field == 1 ? &m->content_type
                   : field == 2 ? &m->label->conditions
                   : field == 3 ? &m->label->risk_basis
                                : &m->label->risk_ref;
        set_str(f, ok);
        assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
        set_str(f, big);
        if (validate(m) != LIAISON__ERROR_CODE__TOO_LARGE)
            fail_msg("text field %d over %d bytes not refused with TOO_LARGE", field,
                     LABEL_MAX_TEXT);
        wire_intel_free(&m);
    }
    free(ok);
    free(big);
}

static void test_label_validate_refuses_bad_subject_without_quoting_it(void **state)
{
    (void)state;
    char *long_subject = repeat('Z', LABEL_MAX_WORD + 1);
    const char *bad[] = {"", long_subject};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Liaison__Intel *m = good_intel();
        push_str(&m->label->subjects, &m->label->n_subjects, bad[i]);
        char why[256] = "";
        Liaison__ErrorCode code = label_validate(m, TOPIC_MAX, why, sizeof why);
        assert_int_equal(code, LIAISON__ERROR_CODE__BAD_LABEL);
        assert_null(strstr(why, "A1234BC"));
        assert_null(strstr(why, "ZZZZ"));
        wire_intel_free(&m);
    }
    free(long_subject);

    /* A subject of exactly LABEL_MAX_WORD bytes is fine. */
    Liaison__Intel *m = good_intel();
    char *word = repeat('Z', LABEL_MAX_WORD);
    push_str(&m->label->subjects, &m->label->n_subjects, word);
    assert_int_equal(validate(m), LIAISON__ERROR_CODE__ERROR_NONE);
    free(word);
    wire_intel_free(&m);
}

static void test_label_validate_refuses_bad_review_date(void **state)
{
    (void)state;
    const char *bad[] = {"2027-13-01", "2027-02-30",           "2027-00-10",
                         "25/11/2027", "2027-11-25T00:00:00Z", "2027-1-25",
                         "tomorrow",   "2027-11-2x",           "1969-12-31"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Liaison__Intel *m = good_intel();
        set_str(&m->label->review_at, bad[i]);
        if (validate(m) != LIAISON__ERROR_CODE__BAD_LABEL)
            fail_msg("review_at \"%s\" was not refused with BAD_LABEL", bad[i]);
        wire_intel_free(&m);
    }
    /* Optional, and a leap day is a date. */
    const char *good[] = {"", "2028-02-29", "2027-12-31"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        Liaison__Intel *m = good_intel();
        set_str(&m->label->review_at, good[i]);
        if (validate(m) != LIAISON__ERROR_CODE__ERROR_NONE)
            fail_msg("review_at \"%s\" was refused", good[i]);
        wire_intel_free(&m);
    }
}

static void test_label_validate_refuses_bad_embargo_or_expiry_time(void **state)
{
    (void)state;
    const char *good[] = {"", "2027-11-25", "2027-11-25T09:30:00Z", "2027-11-25T09:30:00.5Z",
                          "2027-11-25T09:30:00.123456Z"};
    const char *bad[] = {
        "tomorrow",   "2027-11-25T09:30:00", "2027-11-25T25:00:00Z", "2027-11-25T09:30:00+01:00",
        "2027-02-30", "25/11/2027",          "2027-11-25T"};
    for (int field = 0; field < 2; field++) {
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
            Liaison__Intel *m = good_intel();
            set_str(field ? &m->label->expires_at : &m->label->embargo_until, good[i]);
            if (validate(m) != LIAISON__ERROR_CODE__ERROR_NONE)
                fail_msg("%s \"%s\" was refused", field ? "expires_at" : "embargo_until", good[i]);
            wire_intel_free(&m);
        }
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            Liaison__Intel *m = good_intel();
            set_str(field ? &m->label->expires_at : &m->label->embargo_until, bad[i]);
            if (validate(m) != LIAISON__ERROR_CODE__BAD_LABEL)
                fail_msg("%s \"%s\" was not refused with BAD_LABEL",
                         field ? "expires_at" : "embargo_until", bad[i]);
            wire_intel_free(&m);
        }
    }
}

static void test_label_validate_reason_fits_a_small_buffer(void **state)
{
    (void)state;
    Liaison__Intel *m = good_intel();
    m->label->classification = 0;
    char why[8];
    memset(why, 'x', sizeof why);
    assert_int_equal(label_validate(m, TOPIC_MAX, why, sizeof why),
                     LIAISON__ERROR_CODE__BAD_CLASSIFICATION);
    assert_int_equal(strlen(why), sizeof why - 1);
    wire_intel_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_validate_accepts_the_design_example),
        cmocka_unit_test(test_label_classification_parses_every_name),
        cmocka_unit_test(test_label_classification_ranks_in_order),
        cmocka_unit_test(test_label_classification_name_is_canonical),
        cmocka_unit_test(test_label_grading_parses_every_3x5_code),
        cmocka_unit_test(test_label_grading_refuses_out_of_range_codes),
        cmocka_unit_test(test_label_handling_risk_sanitisation_parse_and_name),
        cmocka_unit_test(test_label_caveat_must_be_an_upper_case_word),
        cmocka_unit_test(test_label_release_to_names_agency_type_or_region),
        cmocka_unit_test(test_label_validate_refuses_missing_message_or_label),
        cmocka_unit_test(test_label_validate_refuses_bad_topic),
        cmocka_unit_test(test_label_validate_refuses_bad_classification),
        cmocka_unit_test(test_label_validate_refuses_bad_grading),
        cmocka_unit_test(test_label_validate_refuses_unknown_handling),
        cmocka_unit_test(test_label_validate_refuses_handling_c_without_release_to_or_conditions),
        cmocka_unit_test(test_label_validate_refuses_handling_p_with_conditions),
        cmocka_unit_test(test_label_validate_refuses_bad_risk),
        cmocka_unit_test(test_label_validate_refuses_bad_caveat_without_quoting_it),
        cmocka_unit_test(test_label_validate_refuses_bad_release_to),
        cmocka_unit_test(test_label_validate_refuses_lists_over_their_limits),
        cmocka_unit_test(test_label_validate_refuses_text_fields_over_their_limit),
        cmocka_unit_test(test_label_validate_refuses_bad_subject_without_quoting_it),
        cmocka_unit_test(test_label_validate_refuses_bad_review_date),
        cmocka_unit_test(test_label_validate_refuses_bad_embargo_or_expiry_time),
        cmocka_unit_test(test_label_validate_reason_fits_a_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
