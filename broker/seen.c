/* seen.c — the dedup keys' Bloom filter: 12 bits a key at capacity and 4
 * probes (about 0.8% false "maybe"s when full), the bit count a power of
 * two, the probes h1 + i * h2 from one 64-bit hash of the key. The keys
 * are chosen by publishers: a crafted collision costs only a lookup. */
#include "seen.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BITS_PER_KEY 12
#define PROBES       4

struct seen {
    uint64_t *words;
    uint64_t mask; /* bits - 1 */
    size_t capacity, count;
};

seen_t *seen_new(size_t capacity)
{
    uint64_t bits = 64;
    while (bits / BITS_PER_KEY < capacity)
        bits <<= 1;
    seen_t *f = xcalloc(1, sizeof *f);
    f->words = xcalloc(bits / 64, sizeof *f->words);
    f->mask = bits - 1;
    f->capacity = bits / BITS_PER_KEY;
    return f;
}

void seen_free(seen_t **f)
{
    if (f == NULL || *f == NULL)
        return;
    free((*f)->words);
    free(*f);
    *f = NULL;
}

/* Eight bytes at a time, each folded in by a multiply and a shift; the
 * length too, so a key and its zero-padded extension differ. */
static uint64_t key_hash(const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, len);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

void seen_add(seen_t *f, const void *key, size_t len)
{
    uint64_t h = key_hash(key, len), step = (h >> 32) | 1;
    for (int i = 0; i < PROBES; i++, h += step)
        f->words[(h & f->mask) >> 6] |= 1ull << (h & 63);
    f->count++;
}

int seen_maybe(const seen_t *f, const void *key, size_t len)
{
    uint64_t h = key_hash(key, len), step = (h >> 32) | 1;
    for (int i = 0; i < PROBES; i++, h += step)
        if (!(f->words[(h & f->mask) >> 6] & (1ull << (h & 63))))
            return 0;
    return 1;
}

int seen_full(const seen_t *f)
{
    return f->count > f->capacity;
}

size_t seen_count(const seen_t *f)
{
    return f->count;
}

size_t seen_bytes(const seen_t *f)
{
    return (size_t)(f->mask + 1) / 8;
}
