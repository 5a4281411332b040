/* seen.c — the dedup index: open addressing with linear probing over a
 * power-of-two array of 64-bit slots, each a key's fingerprint (the high
 * 32 bits of its hash) and its sequence's offset from the base plus one
 * (the low 32; 0 is an empty slot). Sized for at most 3/4 full. A key's
 * home slot is its fingerprint's low bits, so a bigger index is made from
 * the slots alone (seen_copy_from), without the keys; within one home the
 * fingerprint tells keys apart by its other bits (of 32 less log2 slots,
 * 10 at four million slots: a stray match a thousand lookups, which the
 * store's log turns down). The keys
 * are chosen by publishers, so the hash is keyed (SipHash, libsodium's
 * crypto_shorthash, with a key drawn once a process): a publisher cannot
 * build keys that pile into one run of slots. */
#include "seen.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct seen {
    uint64_t *slots;
    uint64_t mask; /* slots - 1 */
    uint64_t base; /* the first seq added (0: none yet) */
    size_t capacity, count;
};

static unsigned char hash_key[crypto_shorthash_KEYBYTES];
static int hash_key_drawn;

/* The key, drawn at the first use: an index, or a hash taken without one
 * (batch.c's table). */
static void draw_key(void)
{
    if (!hash_key_drawn) {
        crypto_shorthash_keygen(hash_key);
        hash_key_drawn = 1;
    }
}

seen_t *seen_new(size_t capacity)
{
    uint64_t n = 64;
    while (n / 4 * 3 < capacity && n < (UINT64_C(1) << 32))
        n <<= 1; /* (a home is 32 bits at most) */
    seen_t *f = xcalloc(1, sizeof *f);
    f->slots = xcalloc(n, sizeof *f->slots);
    f->mask = n - 1;
    f->capacity = n / 4 * 3;
    draw_key();
    return f;
}

void seen_free(seen_t **f)
{
    if (f == NULL || *f == NULL)
        return;
    free((*f)->slots);
    free(*f);
    *f = NULL;
}

uint64_t seen_hash(const void *key, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;
    draw_key();
    crypto_shorthash(out, key, len, hash_key);
    memcpy(&h, out, sizeof h);
    return h;
}

/* Into the first empty slot from fp's home. */
static void put(seen_t *f, uint64_t fp, uint64_t off)
{
    uint64_t i = fp & f->mask;
    while (f->slots[i])
        i = (i + 1) & f->mask;
    f->slots[i] = fp << 32 | off;
    f->count++;
}

int seen_add(seen_t *f, uint64_t h, uint64_t seq)
{
    if (f->base == 0 && seq > 0)
        f->base = seq;
    if (seq < f->base || seq - f->base >= UINT32_MAX - 1 || f->count >= f->mask)
        return -1; /* (one slot stays empty, so every walk ends) */
    put(f, h >> 32, seq - f->base + 1);
    return 0;
}

size_t seen_count_from(const seen_t *f, uint64_t floor)
{
    if (floor <= f->base)
        return f->count;
    size_t n = 0;
    for (uint64_t i = 0; i <= f->mask; i++)
        n += f->slots[i] && f->base + (f->slots[i] & 0xffffffffu) - 1 >= floor;
    return n;
}

seen_t *seen_copy_from(const seen_t *f, uint64_t floor, size_t capacity)
{
    seen_t *c = seen_new(capacity);
    c->base = floor > f->base ? floor : f->base;
    for (uint64_t i = 0; i <= f->mask; i++) {
        uint64_t v = f->slots[i];
        uint64_t seq = f->base + (v & 0xffffffffu) - 1;
        if (v && seq >= floor && c->count < c->mask)
            put(c, v >> 32, seq - c->base + 1);
    }
    return c;
}

uint64_t seen_next(const seen_t *f, struct seen_walk *w)
{
    for (uint64_t v; (v = f->slots[w->slot]) != 0;) {
        w->slot = (w->slot + 1) & f->mask;
        if ((uint32_t)(v >> 32) == w->fp)
            return f->base + (v & 0xffffffffu) - 1;
    }
    return 0;
}

uint64_t seen_first(const seen_t *f, uint64_t h, struct seen_walk *w)
{
    w->fp = (uint32_t)(h >> 32);
    w->slot = w->fp & f->mask;
    return seen_next(f, w);
}

int seen_full(const seen_t *f)
{
    return f->count >= f->capacity;
}

size_t seen_count(const seen_t *f)
{
    return f->count;
}

size_t seen_bytes(const seen_t *f)
{
    return (size_t)(f->mask + 1) * sizeof *f->slots;
}
