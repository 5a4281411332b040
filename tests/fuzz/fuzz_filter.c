/* fuzz_filter.c — libFuzzer harness for subscription filters
 * (common/filter.c): the input, cut at its first NUL, is what a subscriber
 * wrote after --where, compiled by filter_compile.
 * Invariants beyond "no crash, no leak":
 * - a refusal gives a one-line reason and a column within the expression
 *   (or one past its end); column 0 only for an empty or too long one;
 * - an accepted filter formats to a canonical form no longer than the
 *   input, with the length snprintf would give at any buffer size; the form
 *   compiles again, formats to itself, holds as many comparisons, and gives
 *   the same verdict as the original on every fixed message below (three
 *   set in full, differing in every field; one with every field unset; one
 *   with no label or origin; no message at all);
 * - "not(form)", when it is within the limits, gives the opposite verdict.
 * Not responsible for: where the broker applies a filter (after the
 * delivery rule, broker/fanout.c).
 *
 *   make fuzz          at length, corpus in build/fuzz/corpus/filter
 *   make fuzz-smoke    FUZZ_RUNS runs over tests/fuzz/seeds/filter */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "log.h"
#include "util.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Like assert, but never compiled out, and names the broken invariant. */
#define check(ok)                                                                                  \
    do {                                                                                           \
        if (!(ok)) {                                                                               \
            fprintf(stderr, "fuzz_filter.c:%d: invariant failed: %s\n", __LINE__, #ok);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The messages every accepted filter is evaluated against, made once; the
 * last entry stays NULL (no message at all). */
#define N_MESSAGES 6
static Liaison__Intel *messages[N_MESSAGES];
static Liaison__Label *detached_label;
static Liaison__Origin *detached_origin;

static void set_str(char **field, const char *v)
{
    if (*field != NULL && *field != wire_empty())
        free(*field);
    *field = xstrdup(v);
}

/* A message with every field the filter reads set, as the broker stamps it. */
static Liaison__Intel *full(const char *topic, int risk, int cls, unsigned source,
                            const char *intel, int handling, const char *agent, const char *agency,
                            const char *type, const char *region)
{
    Liaison__Intel *m = wire_intel_new();
    set_str(&m->topic, topic);
    m->label->risk = (Liaison__Risk)risk;
    m->label->classification = (Liaison__Classification)cls;
    m->label->source_grade = source;
    set_str(&m->label->intel_grade, intel);
    m->label->handling = (Liaison__Handling)handling;
    set_str(&m->origin->agent, agent);
    set_str(&m->origin->agency, agency);
    set_str(&m->origin->type, type);
    set_str(&m->origin->region, region);
    return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    messages[0] =
        full("alert.yorkshire.hmp-hull.contraband", LIAISON__RISK__HIGH,
             LIAISON__CLASSIFICATION__OFFICIAL_SENSITIVE, 2, "B", LIAISON__HANDLING__HANDLING_C,
             "hmp-hull", "HMP Hull", "prison", "yorkshire");
    messages[1] = full("national.firearms", LIAISON__RISK__LOW, LIAISON__CLASSIFICATION__SECRET, 1,
                       "A", LIAISON__HANDLING__HANDLING_P, "rocu-yh", "Yorkshire and Humber ROCU",
                       "rocu", "national");
    messages[2] = full("a.b", LIAISON__RISK__MEDIUM, LIAISON__CLASSIFICATION__TOP_SECRET, 3, "E",
                       LIAISON__HANDLING__HANDLING_C, "a", "a", "police", "a");
    messages[3] = wire_intel_new(); /* label and origin, nothing set */
    /* No label and no origin; theirs stay reachable here, for LeakSanitizer. */
    messages[4] = wire_intel_new();
    detached_label = messages[4]->label;
    detached_origin = messages[4]->origin;
    messages[4]->label = NULL;
    messages[4]->origin = NULL;
    return 0;
}

/* Verdicts of f on every message, one bit each. */
static unsigned verdicts(const filter_t *f)
{
    unsigned bits = 0;
    for (unsigned i = 0; i < N_MESSAGES; i++) {
        int r = filter_match(f, messages[i]);
        check(r == 0 || r == 1);
        bits |= (unsigned)r << i;
    }
    return bits;
}

static void refused(const char *expr, size_t pos, const char *why)
{
    size_t len = strlen(expr);
    check(why[0] != '\0' && strchr(why, '\n') == NULL);
    check(pos <= len + 1);
    if (pos == 0)
        check(strstr(why, "empty") != NULL || strstr(why, "longer than") != NULL);
}

static void accepted(const char *expr, const filter_t *f)
{
    char form[FILTER_MAX_LEN + 1], again[FILTER_MAX_LEN + 1], why[256];
    size_t n = filter_format(f, form, sizeof form);
    check(n <= strlen(expr) && n == strlen(form));
    check(filter_size(f) >= 1);

    /* Cut short, it says the same length and keeps a prefix. */
    char cut[8];
    size_t m = filter_format(f, cut, sizeof cut);
    check(m == n && strlen(cut) == (n < sizeof cut ? n : sizeof cut - 1));
    check(memcmp(cut, form, strlen(cut)) == 0);

    size_t pos;
    filter_t *g = filter_compile(form, &pos, why, sizeof why);
    if (g == NULL)
        fprintf(stderr, "canonical form \"%s\" refused at %zu: %s\n", form, pos, why);
    check(g != NULL);
    check(filter_format(g, again, sizeof again) == n && strcmp(again, form) == 0);
    check(filter_size(g) == filter_size(f));
    unsigned v = verdicts(f);
    check(verdicts(g) == v);
    filter_free(&g);
    check(g == NULL);

    /* Its negation, where the limits leave room for one more not. */
    char neg[FILTER_MAX_LEN + 8];
    snprintf(neg, sizeof neg, "not(%s)", form);
    filter_t *h = filter_compile(neg, NULL, NULL, 0);
    if (h != NULL) {
        check(verdicts(h) == (~v & ((1u << N_MESSAGES) - 1)));
        filter_free(&h);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A little past the limit, so the length refusal is reached too. */
    if (size > FILTER_MAX_LEN + 16)
        size = FILTER_MAX_LEN + 16;
    char expr[FILTER_MAX_LEN + 17];
    memcpy(expr, data, size);
    expr[size] = '\0';

    size_t pos = 12345;
    char why[256];
    memset(why, 'x', sizeof why);
    filter_t *f = filter_compile(expr, &pos, why, sizeof why);
    check(memchr(why, '\0', sizeof why) != NULL);
    if (f == NULL) {
        refused(expr, pos, why);
        return 0;
    }
    check(pos == 0);
    accepted(expr, f);
    filter_free(&f);
    return 0;
}
