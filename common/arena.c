/* arena.c — bump allocation in a chain of blocks, taken back whole.
 * Pieces up to a quarter of a block come from the chain, in order; a
 * bigger one has a block of its own, freed at the next reset. The chain is
 * kept across resets, so a steady stream reuses the same memory.
 * Not responsible for: what is kept in it (arena.h). */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define BLOCK_BYTES ((size_t)64 * 1024)
#define ALIGN       alignof(max_align_t)

struct block {
    struct block *next;
    size_t cap, used;
    alignas(max_align_t) unsigned char data[];
};

struct arena {
    struct block *first, *cur; /* the chain, and where allocation is */
    struct block *big;         /* pieces of their own, until the reset */
    size_t used, held;
};

arena_t *arena_new(void)
{
    return xcalloc(1, sizeof(arena_t));
}

static struct block *block_new(size_t cap)
{
    struct block *k = xmalloc(sizeof *k + cap);
    k->next = NULL;
    k->cap = cap;
    k->used = 0;
    POISON(k->data, cap);
    return k;
}

static void blocks_free(struct block *k)
{
    while (k) {
        struct block *next = k->next;
        UNPOISON(k->data, k->cap);
        free(k);
        k = next;
    }
}

void arena_destroy(arena_t **a)
{
    if (a == NULL || *a == NULL)
        return;
    blocks_free((*a)->first);
    blocks_free((*a)->big);
    free(*a);
    *a = NULL;
}

void *arena_alloc(arena_t *a, size_t n)
{
    if (n > SIZE_MAX - sizeof(struct block) - ALIGN)
        return xmalloc(SIZE_MAX); /* aborts, naming the size */
    n = (n + ALIGN - 1) & ~(ALIGN - 1);
    a->used += n;
    if (n > BLOCK_BYTES / 4) {
        struct block *k = block_new(n);
        k->next = a->big;
        a->big = k;
        a->held += n;
        UNPOISON(k->data, n ? n : 1);
        return k->data;
    }
    if (a->cur == NULL) {
        if (a->first == NULL) {
            a->first = block_new(BLOCK_BYTES);
            a->held += BLOCK_BYTES;
        }
        a->cur = a->first;
    }
    while (a->cur->used + n > a->cur->cap) {
        if (a->cur->next == NULL) {
            a->cur->next = block_new(BLOCK_BYTES);
            a->held += BLOCK_BYTES;
        }
        a->cur = a->cur->next;
    }
    void *p = a->cur->data + a->cur->used;
    a->cur->used += n;
    UNPOISON(p, n ? n : 1);
    return p;
}

char *arena_strdup(arena_t *a, const char *s)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s) + 1;
    return memcpy(arena_alloc(a, n), s, n);
}

void arena_reset(arena_t *a)
{
    size_t chain = 0;
    for (struct block *k = a->big; k; k = k->next)
        a->held -= k->cap;
    blocks_free(a->big);
    a->big = NULL;
    for (struct block *k = a->first; k; k = k->next) {
        chain += k->cap;
        POISON(k->data, k->cap);
        k->used = 0;
    }
    /* A use that needed under a quarter of the chain lets the rest go. */
    if (a->first && a->first->next && a->used * 4 < chain) {
        for (struct block *k = a->first->next; k; k = k->next)
            a->held -= k->cap;
        blocks_free(a->first->next);
        a->first->next = NULL;
    }
    a->cur = NULL;
    a->used = 0;
}

size_t arena_used(const arena_t *a)
{
    return a->used;
}

size_t arena_held(const arena_t *a)
{
    return a->held;
}
