/* filter.h — a subscription's filter over label fields: compiled once when
 * the Subscribe arrives, evaluated per message after the delivery rule
 * (never instead of it: a filter only narrows what a subscriber already
 * may receive).
 *
 *   risk >= MEDIUM and origin.type in (prison, rocu)
 *
 * Grammar (keywords and field names in any case; values are bare words of
 * letters, digits and _ . : - or double-quoted strings with \" and \\):
 *
 *   expr  := and ( "or" and )*
 *   and   := unary ( "and" unary )*
 *   unary := "not" unary | "(" expr ")" | field op value
 *          | field ["not"] "in" "(" value ( "," value )* ")"
 *   op    := "=" | "!=" | "<" | "<=" | ">" | ">="
 *
 * Fields, and what they may be compared with:
 *   risk            LOW < MEDIUM < HIGH                      all operators
 *   classification  OFFICIAL < OFFICIAL-SENSITIVE < SECRET < TOP-SECRET
 *                   ("TOP SECRET" quoted is accepted too)    all operators
 *   source_grade    1, 2, 3, ordered by the number as written: 1 is the most
 *                   reliable source, so "source_grade <= 2" means 1 or 2
 *   intel_grade     A..E, ordered by the letter as written: A is the most
 *                   reliable, so "intel_grade < C" means A or B
 *   handling        P, C                                     =, != and in only
 *   origin.agent, origin.agency, origin.type, origin.region, topic
 *                   strings compared byte for byte as written (agency is
 *                   the configured display name, e.g. "HMP Hull"; topic a
 *                   concrete topic, no wildcards)            =, != and in only
 * Names of enum values are case-insensitive and checked when compiling.
 *
 * An unset field (risk unspecified, no origin, no label) is never equal to,
 * less or greater than anything: =, <, <=, >, >= and in are false for it,
 * != and not in are true.
 *
 * There are no patterns, regular expressions or wildcards: a match is one
 * pass over at most FILTER_MAX_NODES nodes and never allocates.
 * Not responsible for: whether the subscriber may receive a message at all
 * (broker/policy.c), nor the subscription's topic pattern (common/topic.c). */
#ifndef LIAISON_FILTER_H
#define LIAISON_FILTER_H

#include <stddef.h>

#include "wire.h"

#define FILTER_MAX_LEN   1024 /* bytes of expression */
#define FILTER_MAX_DEPTH 16   /* nesting of parentheses / not */
#define FILTER_MAX_NODES 128  /* comparisons and operators */
#define FILTER_MAX_IN    64   /* values in one in-list */

typedef struct filter filter_t;

/* Compiles expr. On failure returns NULL, sets *err_pos to the 1-based byte
 * column where the problem is (0 when not positional: empty, too long) and
 * writes a one-line reason into why ("expected a value after '>='",
 * "unknown field 'riks'", "risk has no value 'SEVERE' (LOW, MEDIUM, HIGH)",
 * "nesting deeper than 16", ...). err_pos and why may be NULL. On success
 * *err_pos is 0, why is "", and the caller owns the result (free with
 * filter_free); expr is not kept. */
filter_t *filter_compile(const char *expr, size_t *err_pos, char *why, size_t whylen);

/* 1 if the message satisfies the filter, else 0. m is read only for its
 * label, origin and topic; a NULL m, label or origin leaves their fields
 * unset. A NULL filter (no filter) matches every message. Never allocates. */
int filter_match(const filter_t *f, const Liaison__Intel *m);

/* The expression written back in canonical form, for the operators' view
 * and logs: fields and keywords lower case, values in their canonical
 * names (quoted only when they must be), parentheses only where precedence
 * needs them, and a space only where two words would otherwise run
 * together: "risk>=MEDIUM and origin.type in(prison,rocu)". The form is
 * never longer than the expression it was compiled from, so it always
 * compiles again, to a filter with the same form. Writes at most outlen
 * bytes with a terminating NUL (when outlen > 0) and returns the length of
 * the whole form, like snprintf. A NULL filter formats as "". */
size_t filter_format(const filter_t *f, char *out, size_t outlen);

/* How many comparisons it holds (an in-list is one). 0 for NULL. */
unsigned filter_size(const filter_t *f);

/* Frees *f and sets it to NULL; f or *f may be NULL. */
void filter_free(filter_t **f);

#endif
