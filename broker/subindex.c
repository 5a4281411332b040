/* subindex.c — the subscription trie. Each node is one token; its literal
 * children are kept sorted for binary search, '*' is a child of its own,
 * and a node holds the items whose pattern ends there and those whose
 * pattern continues with '>' there.
 * Not responsible for: syntax checks or policy. */
#include "subindex.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct items {
    void **v;
    size_t n, cap;
};

struct node {
    char *token; /* owned; NULL at the root */
    size_t token_len;
    struct node **kids; /* literal tokens, sorted */
    size_t n_kids;
    struct node *star;
    struct items here; /* patterns ending at this node */
    struct items rest; /* patterns ending with '>' after this node */
};

/* Watchlists: subject token -> the subscriptions watching it, open
 * addressing. Tokens are keyed hashes already, so their first bytes are
 * the slot. A slot once used keeps its token (its list may empty), so
 * probing never meets a hole it should have passed. */
struct watch_slot {
    uint8_t token[32];
    int used;
    struct items subs;
};

struct subindex {
    struct node root;
    size_t count;
    struct watch_slot *watch;
    size_t watch_cap, watch_used;
};

subindex_t *subindex_new(void)
{
    return xcalloc(1, sizeof(subindex_t));
}

static void node_clear(struct node *n)
{
    for (size_t i = 0; i < n->n_kids; i++) {
        node_clear(n->kids[i]);
        free(n->kids[i]);
    }
    if (n->star) {
        node_clear(n->star);
        free(n->star);
    }
    free(n->kids);
    free(n->token);
    free(n->here.v);
    free(n->rest.v);
}

void subindex_free(subindex_t **xp)
{
    if (xp == NULL || *xp == NULL)
        return;
    node_clear(&(*xp)->root);
    for (size_t i = 0; i < (*xp)->watch_cap; i++)
        free((*xp)->watch[i].subs.v);
    free((*xp)->watch);
    free(*xp);
    *xp = NULL;
}

static int tokcmp(const struct node *n, const char *tok, size_t len)
{
    size_t m = n->token_len < len ? n->token_len : len;
    int c = memcmp(n->token, tok, m);
    if (c)
        return c;
    return n->token_len < len ? -1 : n->token_len > len;
}

/* Index of the first kid not less than tok. */
static size_t kid_pos(const struct node *n, const char *tok, size_t len)
{
    size_t lo = 0, hi = n->n_kids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (tokcmp(n->kids[mid], tok, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct node *kid_find(const struct node *n, const char *tok, size_t len)
{
    size_t i = kid_pos(n, tok, len);
    return i < n->n_kids && tokcmp(n->kids[i], tok, len) == 0 ? n->kids[i] : NULL;
}

static struct node *kid_get(struct node *n, const char *tok, size_t len)
{
    if (len == 1 && tok[0] == '*') {
        if (n->star == NULL)
            n->star = xcalloc(1, sizeof *n->star);
        return n->star;
    }
    size_t i = kid_pos(n, tok, len);
    if (i < n->n_kids && tokcmp(n->kids[i], tok, len) == 0)
        return n->kids[i];
    struct node *k = xcalloc(1, sizeof *k);
    k->token = xmalloc(len + 1);
    memcpy(k->token, tok, len);
    k->token[len] = '\0';
    k->token_len = len;
    n->kids = xrealloc(n->kids, (n->n_kids + 1) * sizeof *n->kids);
    memmove(&n->kids[i + 1], &n->kids[i], (n->n_kids - i) * sizeof *n->kids);
    n->kids[i] = k;
    n->n_kids++;
    return k;
}

static void items_add(struct items *it, void *item)
{
    if (it->n == it->cap) {
        it->cap = it->cap ? it->cap * 2 : 4;
        it->v = xrealloc(it->v, it->cap * sizeof *it->v);
    }
    it->v[it->n++] = item;
}

static int items_remove(struct items *it, void *item)
{
    for (size_t i = 0; i < it->n; i++) {
        if (it->v[i] == item) {
            it->v[i] = it->v[--it->n];
            return 0;
        }
    }
    return -1;
}

/* Walks (creating when make) to the node a pattern ends at; *rest is set
 * when the pattern ends with '>'. */
static struct node *walk(struct node *n, const char *pattern, int make, int *rest)
{
    const char *p = pattern;
    *rest = 0;
    while (n && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 1 && p[0] == '>' && dot == NULL) {
            *rest = 1;
            return n;
        }
        if (make)
            n = kid_get(n, p, len);
        else
            n = len == 1 && p[0] == '*' ? n->star : kid_find(n, p, len);
        p += len + (dot != NULL);
    }
    return n;
}

void subindex_add(subindex_t *x, const char *pattern, void *item)
{
    int rest;
    struct node *n = walk(&x->root, pattern, 1, &rest);
    items_add(rest ? &n->rest : &n->here, item);
    x->count++;
}

int subindex_remove(subindex_t *x, const char *pattern, void *item)
{
    int rest;
    struct node *n = walk(&x->root, pattern, 0, &rest);
    if (n == NULL || items_remove(rest ? &n->rest : &n->here, item) != 0)
        return -1;
    /* Empty nodes are kept: patterns come back (reconnects), and their
     * number is bounded by the configured permissions in practice. */
    x->count--;
    return 0;
}

size_t subindex_count(const subindex_t *x)
{
    return x->count;
}

static void emit(const struct items *it, subindex_fn fn, void *ctx)
{
    for (size_t i = 0; i < it->n; i++)
        fn(it->v[i], ctx);
}

static void match(const struct node *n, const char *t, subindex_fn fn, void *ctx)
{
    if (*t == '\0') {
        emit(&n->here, fn, ctx);
        return;
    }
    emit(&n->rest, fn, ctx); /* '>' takes one or more tokens, and one is left */
    const char *dot = strchr(t, '.');
    size_t len = dot ? (size_t)(dot - t) : strlen(t);
    const char *next = dot ? dot + 1 : t + len;
    const struct node *k = kid_find(n, t, len);
    if (k)
        match(k, next, fn, ctx);
    if (n->star)
        match(n->star, next, fn, ctx);
}

void subindex_match(const subindex_t *x, const char *topic, subindex_fn fn, void *ctx)
{
    if (topic && topic[0])
        match(&x->root, topic, fn, ctx);
}

static size_t slot_of(const uint8_t token[32], size_t cap)
{
    uint64_t h;
    memcpy(&h, token, sizeof h);
    return (size_t)(h & (cap - 1));
}

/* The slot holding token, or (make) the free one it goes in; NULL when
 * absent and not make. */
static struct watch_slot *watch_find(const subindex_t *x, const uint8_t token[32])
{
    if (x->watch_cap == 0)
        return NULL;
    for (size_t i = slot_of(token, x->watch_cap);; i = (i + 1) & (x->watch_cap - 1)) {
        struct watch_slot *w = &x->watch[i];
        if (!w->used || memcmp(w->token, token, 32) == 0)
            return w;
    }
}

static void watch_grow(subindex_t *x)
{
    struct watch_slot *old = x->watch;
    size_t n = x->watch_cap;
    x->watch_cap = n ? n * 2 : 64;
    x->watch = xcalloc(x->watch_cap, sizeof *x->watch);
    for (size_t i = 0; i < n; i++)
        if (old[i].used)
            *watch_find(x, old[i].token) = old[i];
    free(old);
}

void subindex_add_token(subindex_t *x, const uint8_t token[32], void *item)
{
    if ((x->watch_used + 1) * 2 > x->watch_cap)
        watch_grow(x);
    struct watch_slot *w = watch_find(x, token);
    if (!w->used) {
        w->used = 1;
        memcpy(w->token, token, 32);
        x->watch_used++;
    }
    items_add(&w->subs, item);
}

int subindex_remove_token(subindex_t *x, const uint8_t token[32], void *item)
{
    struct watch_slot *w = watch_find(x, token);
    return w && w->used ? items_remove(&w->subs, item) : -1;
}

void subindex_match_token(const subindex_t *x, const uint8_t token[32], subindex_fn fn, void *ctx)
{
    const struct watch_slot *w = watch_find(x, token);
    if (w && w->used)
        emit(&w->subs, fn, ctx);
}
