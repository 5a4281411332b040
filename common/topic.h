/* topic.h — topic names and subscription patterns.
 * A topic is dot-separated tokens of [a-z0-9_-], e.g.
 * "alert.yorkshire.hmp-hull.contraband". A pattern is a topic whose tokens
 * may also be '*' (exactly one token) or, as the last token only, '>' (one
 * or more remaining tokens).
 * Not responsible for: who may use which topic (broker/policy.c). */
#ifndef LIAISON_TOPIC_H
#define LIAISON_TOPIC_H

#include <stddef.h>

/* 0 if `topic` is a valid concrete topic of at most max_len bytes, else -1. */
int topic_valid(const char *topic, size_t max_len);
/* 0 if `pattern` is a valid pattern of at most max_len bytes, else -1. */
int topic_pattern_valid(const char *pattern, size_t max_len);
/* 1 if the valid pattern matches the valid topic, else 0. */
int topic_match(const char *pattern, const char *topic);
/* 1 if any of the n patterns matches topic. */
int topic_match_any(char *const *patterns, size_t n, const char *topic);
/* 1 if every topic `pattern` can match is also matched by `permission`
 * (both valid patterns), else 0. Used to bound subscriptions. */
int topic_pattern_within(const char *pattern, const char *permission);

#endif
