/* label.c — the label vocabulary (names, ranks, codes) and the check that a
 * published message is well formed before it is stored. Reasons it writes
 * name fields, never their values where those could be intelligence.
 * Not responsible for allow/deny decisions (broker/policy.c). */
#include "label.h"

#include <stdio.h>
#include <string.h>

#include "subject.h"
#include "topic.h"
#include "util.h"

static const char *class_names[] = {"UNSPECIFIED", "OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET",
                                    "TOP-SECRET"};

int label_classification_parse(const char *s)
{
    if (s == NULL)
        return -1;
    if (strcmp(s, "TOP SECRET") == 0)
        return LIAISON__CLASSIFICATION__TOP_SECRET;
    for (size_t i = 1; i < UTIL_LEN(class_names); i++)
        if (strcmp(s, class_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *label_classification_name(int c)
{
    if (c < 1 || c >= (int)UTIL_LEN(class_names))
        return "UNSPECIFIED";
    return class_names[c];
}

int label_grading_parse(const char *s, unsigned *source, char *intel)
{
    if (s == NULL || strlen(s) != 2 || s[0] < '1' || s[0] > '3' || s[1] < 'A' || s[1] > 'E')
        return -1;
    *source = (unsigned)(s[0] - '0');
    *intel = s[1];
    return 0;
}

/* Enum names indexed by value; index 0 is "unspecified" and never parses. */
static int parse_in(const char *const *names, size_t n, const char *s)
{
    if (s == NULL)
        return -1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

static const char *handling_names[] = {"", "P", "C"};
static const char *risk_names[] = {"", "LOW", "MEDIUM", "HIGH"};
static const char *sanit_names[] = {"", "S1", "S2"};

int label_handling_parse(const char *s)
{
    return parse_in(handling_names, UTIL_LEN(handling_names), s);
}
const char *label_handling_name(int h)
{
    return (h > 0 && h < (int)UTIL_LEN(handling_names)) ? handling_names[h] : "";
}
int label_risk_parse(const char *s)
{
    return parse_in(risk_names, UTIL_LEN(risk_names), s);
}
const char *label_risk_name(int r)
{
    return (r > 0 && r < (int)UTIL_LEN(risk_names)) ? risk_names[r] : "";
}
int label_sanitisation_parse(const char *s)
{
    return parse_in(sanit_names, UTIL_LEN(sanit_names), s);
}
const char *label_sanitisation_name(int s)
{
    return (s > 0 && s < (int)UTIL_LEN(sanit_names)) ? sanit_names[s] : "";
}

int label_caveat_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > LABEL_MAX_WORD)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        int inner = (c == '-' || c == '_') && i > 0 && i + 1 < n;
        if (!alnum && !inner)
            return -1;
    }
    return 0;
}

static int lower_word(const char *s)
{
    if (*s == '\0')
        return -1;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return -1;
    return 0;
}

int label_release_to_valid(const char *s)
{
    if (s == NULL || strlen(s) > LABEL_MAX_WORD)
        return -1;
    static const char *prefixes[] = {"agency:", "type:", "region:"};
    for (size_t i = 0; i < UTIL_LEN(prefixes); i++) {
        size_t pl = strlen(prefixes[i]);
        if (strncmp(s, prefixes[i], pl) == 0)
            return lower_word(s + pl);
    }
    return -1;
}

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}

#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        snprintf(why, whylen, __VA_ARGS__);                                                        \
        return LIAISON__ERROR_CODE__##code;                                                        \
    } while (0)

/* The Label's own rules: they read nothing but l. */
static Liaison__ErrorCode label_check(const Liaison__Label *l, char *why, size_t whylen)
{
    if (l->classification < LIAISON__CLASSIFICATION__OFFICIAL ||
        l->classification > LIAISON__CLASSIFICATION__TOP_SECRET)
        FAIL(BAD_CLASSIFICATION, "classification missing or unknown");
    if (l->n_caveats > LABEL_MAX_CAVEATS)
        FAIL(TOO_LARGE, "more than %d caveats", LABEL_MAX_CAVEATS);
    for (size_t i = 0; i < l->n_caveats; i++)
        if (label_caveat_valid(l->caveats[i]) != 0)
            FAIL(BAD_CAVEAT, "caveat %zu is not an upper-case word", i + 1);
    if (l->source_grade < 1 || l->source_grade > 3)
        FAIL(BAD_GRADING, "source grade must be 1-3");
    if (slen(l->intel_grade) != 1 || l->intel_grade[0] < 'A' || l->intel_grade[0] > 'E')
        FAIL(BAD_GRADING, "intelligence grade must be A-E");
    if (l->handling != LIAISON__HANDLING__HANDLING_P &&
        l->handling != LIAISON__HANDLING__HANDLING_C)
        FAIL(BAD_HANDLING, "handling must be P or C");
    if (l->n_release_to > LABEL_MAX_RELEASE_TO)
        FAIL(TOO_LARGE, "more than %d release_to entries", LABEL_MAX_RELEASE_TO);
    for (size_t i = 0; i < l->n_release_to; i++)
        if (label_release_to_valid(l->release_to[i]) != 0)
            FAIL(BAD_RELEASE_TO, "release_to entry %zu must be agency:, type: or region:NAME",
                 i + 1);
    if (l->handling == LIAISON__HANDLING__HANDLING_C && l->n_release_to == 0 &&
        slen(l->conditions) == 0)
        FAIL(BAD_HANDLING, "handling C needs release_to or conditions");
    if (l->handling == LIAISON__HANDLING__HANDLING_P &&
        (l->no_onward_sharing || l->sanitisation != 0 || slen(l->conditions) != 0))
        FAIL(BAD_HANDLING, "conditions, sanitisation and no-onward-sharing need handling C");
    if (l->sanitisation < 0 || l->sanitisation > LIAISON__SANITISATION__S2)
        FAIL(BAD_HANDLING, "sanitisation must be S1 or S2");
    if (slen(l->conditions) > LABEL_MAX_TEXT || slen(l->risk_basis) > LABEL_MAX_TEXT ||
        slen(l->risk_ref) > LABEL_MAX_TEXT)
        FAIL(TOO_LARGE, "conditions or risk basis/reference over %d bytes", LABEL_MAX_TEXT);
    if (l->risk < LIAISON__RISK__LOW || l->risk > LIAISON__RISK__HIGH)
        FAIL(BAD_RISK, "risk must be LOW, MEDIUM or HIGH");
    if (l->risk == LIAISON__RISK__HIGH && slen(l->risk_basis) == 0)
        FAIL(BAD_RISK, "HIGH risk needs a risk_basis");
    if (l->n_subjects > LABEL_MAX_SUBJECTS)
        FAIL(TOO_LARGE, "more than %d subjects", LABEL_MAX_SUBJECTS);
    for (size_t i = 0; i < l->n_subjects; i++)
        if (slen(l->subjects[i]) == 0 || slen(l->subjects[i]) > LABEL_MAX_WORD)
            FAIL(BAD_LABEL, "subject %zu empty or over %d bytes", i + 1, LABEL_MAX_WORD);
    for (size_t i = 0; i < l->n_subjects; i++) {
        char norm[SUBJECT_NORM_MAX];
        if (subject_normalise(l->subjects[i], norm, sizeof norm) != 0)
            FAIL(BAD_SUBJECT,
                 "subject %zu does not normalise (blank, control characters, or a "
                 "pnc:/cro:/noms: reference of the wrong form)",
                 i + 1);
    }
    if (slen(l->review_at) != 0) {
        int64_t t;
        if (slen(l->review_at) != 10 || util_parse_time(l->review_at, &t) != 0)
            FAIL(BAD_LABEL, "review_at must be a date YYYY-MM-DD");
    }
    int64_t t;
    if (slen(l->embargo_until) && util_parse_time(l->embargo_until, &t) != 0)
        FAIL(BAD_LABEL, "embargo_until must be RFC 3339 UTC or YYYY-MM-DD");
    if (slen(l->expires_at) && util_parse_time(l->expires_at, &t) != 0)
        FAIL(BAD_LABEL, "expires_at must be RFC 3339 UTC or YYYY-MM-DD");
    return LIAISON__ERROR_CODE__ERROR_NONE;
}

Liaison__ErrorCode label_validate_known(const Liaison__Intel *m, size_t max_topic_len,
                                        const Liaison__Label *passed, char *why, size_t whylen)
{
    if (m == NULL)
        FAIL(BAD_LABEL, "publish carries no message");
    if (topic_valid(m->topic, max_topic_len) != 0)
        FAIL(BAD_TOPIC, "topic must be 1-%zu bytes of lower-case dot-separated tokens",
             max_topic_len);
    if (slen(m->msg_id) > LABEL_MAX_TEXT || slen(m->content_type) > LABEL_MAX_TEXT)
        FAIL(TOO_LARGE, "msg_id or content_type over %d bytes", LABEL_MAX_TEXT);
    if (m->label == NULL)
        FAIL(BAD_LABEL, "message has no label");
    if (m->label == passed)
        return LIAISON__ERROR_CODE__ERROR_NONE;
    return label_check(m->label, why, whylen);
}

Liaison__ErrorCode label_validate(const Liaison__Intel *m, size_t max_topic_len, char *why,
                                  size_t whylen)
{
    return label_validate_known(m, max_topic_len, NULL, why, whylen);
}
