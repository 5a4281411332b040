/* topic.c — validity and matching of dot-separated topics and patterns.
 * Matching walks both strings token by token without allocating: it runs
 * once per (message, subscription) pair on the delivery path.
 * Not responsible for permissions (broker/policy.c). */
#include "topic.h"

#include <string.h>

static int token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Checks topic or pattern syntax; wild allows '*' and a final '>'. */
static int check(const char *s, size_t max_len, int wild)
{
    if (s == NULL)
        return -1;
    size_t n = strlen(s);
    if (n == 0 || n > max_len)
        return -1;
    const char *tok = s;
    for (;;) {
        const char *end = strchr(tok, '.');
        size_t len = end ? (size_t)(end - tok) : strlen(tok);
        if (len == 0)
            return -1;
        if (wild && len == 1 && tok[0] == '*') {
            /* one token wildcard */
        } else if (wild && len == 1 && tok[0] == '>') {
            if (end != NULL)
                return -1; /* '>' only as the last token */
        } else {
            for (size_t i = 0; i < len; i++)
                if (!token_char(tok[i]))
                    return -1;
        }
        if (end == NULL)
            return 0;
        tok = end + 1;
    }
}

int topic_valid(const char *topic, size_t max_len)
{
    return check(topic, max_len, 0);
}

int topic_pattern_valid(const char *pattern, size_t max_len)
{
    return check(pattern, max_len, 1);
}

/* Length of the token starting at s (up to '.' or end). */
static size_t toklen(const char *s)
{
    const char *dot = strchr(s, '.');
    return dot ? (size_t)(dot - s) : strlen(s);
}

int topic_match(const char *p, const char *t)
{
    /* One pass over both, each at the start of a token on each turn. */
    for (;;) {
        int p_one = p[0] != '\0' && (p[1] == '.' || p[1] == '\0');
        if (p_one && p[0] == '>')
            return 1; /* '>' needs at least one token, and t has one here */
        if (p_one && p[0] == '*') {
            p++;
            while (*t != '.' && *t != '\0')
                t++;
        } else {
            while (*p == *t && *p != '.' && *p != '\0') {
                p++;
                t++;
            }
            if ((*p != '.' && *p != '\0') || (*t != '.' && *t != '\0'))
                return 0; /* the tokens differ */
        }
        if (*p == '\0' || *t == '\0')
            return *p == '\0' && *t == '\0';
        p++;
        t++;
    }
}

int topic_pattern_within(const char *p, const char *perm)
{
    for (;;) {
        size_t pl = toklen(p), ql = toklen(perm);
        int q_rest = ql == 1 && perm[0] == '>';
        int q_any = ql == 1 && perm[0] == '*';
        int p_rest = pl == 1 && p[0] == '>';
        int p_any = pl == 1 && p[0] == '*';
        if (q_rest)
            return 1;
        if (p_rest)
            return 0; /* p reaches further than perm can follow */
        if (!q_any && (p_any || pl != ql || memcmp(p, perm, pl) != 0))
            return 0;
        int p_end = p[pl] == '\0', q_end = perm[ql] == '\0';
        if (p_end || q_end)
            return p_end && q_end;
        p += pl + 1;
        perm += ql + 1;
    }
}

int topic_match_any(char *const *patterns, size_t n, const char *topic)
{
    for (size_t i = 0; i < n; i++)
        if (topic_match(patterns[i], topic))
            return 1;
    return 0;
}
