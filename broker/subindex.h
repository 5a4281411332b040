/* subindex.h — subscriptions indexed by their topic patterns: a trie over
 * dot-separated tokens with '*' (one token) and a final '>' (one or more),
 * so finding who a message concerns costs what its matching subscriptions
 * cost, however many others are connected (NATS's sublist, in our words).
 * Items are opaque pointers, borrowed: the caller removes an item before it
 * frees it.
 * Not responsible for: pattern syntax (topic.c checks it first) or access
 * (policy.c decides after a match). */
#ifndef LIAISON_SUBINDEX_H
#define LIAISON_SUBINDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct subindex subindex_t;

subindex_t *subindex_new(void);
void subindex_free(subindex_t **x);

/* Adds item under a valid pattern. The same item may be added once. */
void subindex_add(subindex_t *x, const char *pattern, void *item);
/* Removes item from pattern's node; 0, or -1 if it was not there. */
int subindex_remove(subindex_t *x, const char *pattern, void *item);
/* Number of items held. */
size_t subindex_count(const subindex_t *x);

/* Calls fn once for every item whose pattern matches topic (a valid topic,
 * no wildcards). fn must not add or remove items. */
typedef void (*subindex_fn)(void *item, void *ctx);
void subindex_match(const subindex_t *x, const char *topic, subindex_fn fn, void *ctx);

/* Watchlists, by subject token (32 bytes): a subscription that watches
 * subjects is reached through the tokens of a message instead of its
 * topic, so ten thousand watched subjects cost what their matches cost.
 * The caller checks the topic and calls each item once per message even
 * when several of its tokens are watched. */
void subindex_add_token(subindex_t *x, const uint8_t token[32], void *item);
int subindex_remove_token(subindex_t *x, const uint8_t token[32], void *item);
void subindex_match_token(const subindex_t *x, const uint8_t token[32], subindex_fn fn, void *ctx);

#endif
