/* label.h — the label vocabulary and its well-formedness: names and ranks of
 * classifications, 3x5x2 grading, handling, risk, caveats, release_to, and
 * the validation of a whole message's label and topic before it is stored.
 * Not responsible for: whether an agent may publish or receive a label
 * (broker/policy.c decides every allow/deny). */
#ifndef LIAISON_LABEL_H
#define LIAISON_LABEL_H

#include <stddef.h>

#include "wire.h"

/* Limits on a label; a message over them is refused with TOO_LARGE. */
#define LABEL_MAX_CAVEATS    32
#define LABEL_MAX_RELEASE_TO 64
#define LABEL_MAX_SUBJECTS   256
#define LABEL_MAX_WORD       64   /* caveat, release_to entry, subject */
#define LABEL_MAX_TEXT       1024 /* conditions, risk basis/ref, msg_id, content type */

/* Classification: "OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET"
 * (also "TOP SECRET"). Parse returns the enum value, or -1 if unknown.
 * Name returns the canonical hyphenated name, or "UNSPECIFIED". The enum
 * values are in rank order, so compare them with < and >. */
int label_classification_parse(const char *s);
const char *label_classification_name(int c);

/* Grading "2B": source 1-3, intelligence A-E. Returns 0 or -1. */
int label_grading_parse(const char *s, unsigned *source, char *intel);
/* Handling "P"/"C"; risk "LOW"/"MEDIUM"/"HIGH"; sanitisation "S1"/"S2".
 * Parse returns the enum value or -1; name returns "" for unspecified. */
int label_handling_parse(const char *s);
const char *label_handling_name(int h);
int label_risk_parse(const char *s);
const char *label_risk_name(int r);
int label_sanitisation_parse(const char *s);
const char *label_sanitisation_name(int s);

/* A caveat is an upper-case word: [A-Z0-9] with inner '-' or '_', at most
 * LABEL_MAX_WORD bytes. Returns 0 or -1. */
int label_caveat_valid(const char *s);
/* "agency:NAME", "type:TYPE" or "region:NAME". Returns 0 or -1. */
int label_release_to_valid(const char *s);

/* Checks a message from a client before it is stored: topic (at most
 * max_topic_len), label present and complete, every field in range. Returns
 * LIAISON__ERROR_CODE__ERROR_NONE, or the code of the first problem with a
 * one-line reason in why (which never quotes body or subjects). */
Liaison__ErrorCode label_validate(const Liaison__Intel *m, size_t max_topic_len, char *why,
                                  size_t whylen);
/* The same, the Label's own rules skipped when m->label is passed: a Label
 * (never NULL to mean one) that passed them before and has not changed
 * since — the broker's publishes decoded into one batch share the Label
 * whose bytes are the same (batch.h). */
Liaison__ErrorCode label_validate_known(const Liaison__Intel *m, size_t max_topic_len,
                                        const Liaison__Label *passed, char *why, size_t whylen);

#endif
