/* batch.c — the pass's batch: its write set, what waits on it, and its
 * sticky failure. Memory is kept across passes (reset, not freed), so a
 * steady stream allocates nothing per message here.
 * Not responsible for: deciding what goes in, or ending it (commit.c). */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

batch_t *batch_new(void)
{
    batch_t *bt = xcalloc(1, sizeof *bt);
    bt->w = store_wset_new();
    bt->arena = arena_new();
    return bt;
}

void batch_reset(batch_t *bt)
{
    for (size_t i = 0; i < bt->n_pubs; i++)
        if (!bt->pubs[i].intel_in_arena)
            wire_intel_free(&bt->pubs[i].intel);
    bt->n_pubs = 0;
    arena_reset(bt->arena);
    memset(&bt->share, 0, sizeof bt->share);
    bt->label_passed = NULL;
    bt->origin = NULL;
    bt->first_seq = 0;
    bt->n_frames = 0;
    bt->len = 0;
    if (bt->dedup)
        memset(bt->dedup, 0, bt->dedup_cap * sizeof *bt->dedup);
    bt->has_audit = bt->has_ckpt = 0;
    bt->n_purges = 0;
    bt->n_erased = 0;
    bt->failed = STORE_OK;
    bt->try_kind = 0;
    bt->commit_s = 0;
    store_wset_clear(bt->w);
}

void batch_free(batch_t **btp)
{
    if (btp == NULL || *btp == NULL)
        return;
    batch_t *bt = *btp;
    batch_reset(bt);
    store_wset_free(&bt->w);
    arena_destroy(&bt->arena);
    free(bt->pubs);
    free(bt->frames);
    free(bt->bytes);
    free(bt->dedup);
    free(bt->erased);
    free(bt);
    *btp = NULL;
}

int batch_empty(const batch_t *bt)
{
    return bt->n_pubs == 0 && bt->n_frames == 0 && store_wset_count(bt->w) == 0;
}

void batch_fail(batch_t *bt, int rc)
{
    if (bt->failed == STORE_OK)
        bt->failed = rc;
}

static size_t put_bytes(batch_t *bt, const void *p, size_t n)
{
    if (bt->len + n > bt->room) {
        bt->room = (bt->len + n) * 2 + 4096;
        bt->bytes = xrealloc(bt->bytes, bt->room);
    }
    size_t off = bt->len;
    if (p && n)
        memcpy(bt->bytes + off, p, n);
    bt->len += n;
    return off;
}

arena_t *batch_arena(batch_t *bt)
{
    return bt->arena;
}

struct wire_share *batch_share(batch_t *bt)
{
    return &bt->share;
}

void batch_arena_sweep(batch_t *bt)
{
    if (bt->n_pubs == 0) {
        arena_reset(bt->arena);
        memset(&bt->share, 0, sizeof bt->share);
        bt->label_passed = NULL;
        bt->origin = NULL;
    }
}

const uint8_t *batch_bytes(const batch_t *bt, size_t off)
{
    return bt->bytes + off;
}

void batch_add_erased(batch_t *bt, uint64_t seq, const char *topic, int cls, size_t len)
{
    if (bt->n_erased == bt->cap_erased) {
        bt->cap_erased = bt->cap_erased ? bt->cap_erased * 2 : 64;
        bt->erased = xrealloc(bt->erased, bt->cap_erased * sizeof *bt->erased);
    }
    struct batch_erased *e = &bt->erased[bt->n_erased++];
    e->seq = seq;
    e->len = len;
    e->cls = cls;
    e->topic_off = put_bytes(bt, topic, strlen(topic) + 1);
}

const char *batch_msg_id(const batch_t *bt, const struct batch_pub *p)
{
    return (const char *)bt->bytes + p->msg_id_off;
}

/* Slots hold index + 1 into pubs (0 is empty); at most half full. A key's
 * slot is from its keyed hash's low half (the dedup index places by the
 * high one), so the two tables do not crowd the same keys together. */
static size_t slot_of(uint64_t h, size_t mask)
{
    return (size_t)h & mask;
}

static void dedup_insert(batch_t *bt, size_t idx)
{
    const struct batch_pub *p = &bt->pubs[idx];
    size_t mask = bt->dedup_cap - 1;
    size_t i = slot_of(p->dkey_hash, mask);
    while (bt->dedup[i])
        i = (i + 1) & mask;
    bt->dedup[i] = (uint32_t)idx + 1;
}

static void dedup_grow(batch_t *bt)
{
    size_t cap = bt->dedup_cap ? bt->dedup_cap * 2 : 1024;
    free(bt->dedup);
    bt->dedup = xcalloc(cap, sizeof *bt->dedup);
    bt->dedup_cap = cap;
    for (size_t i = 0; i < bt->n_pubs; i++)
        if (bt->pubs[i].dkey_len)
            dedup_insert(bt, i);
}

uint64_t batch_dedup_find(const batch_t *bt, const struct store_dkey *key, uint64_t h)
{
    if (bt->dedup_cap == 0)
        return 0;
    size_t mask = bt->dedup_cap - 1;
    for (size_t i = slot_of(h, mask); bt->dedup[i]; i = (i + 1) & mask) {
        const struct batch_pub *p = &bt->pubs[bt->dedup[i] - 1];
        if (p->dkey_hash == h && p->dkey_len == key->len &&
            memcmp(bt->bytes + p->dkey_off, key->b, key->len) == 0)
            return p->seq;
    }
    return 0;
}

struct batch_pub *batch_add_pub(batch_t *bt, uint64_t seq, int64_t time_us, size_t len,
                                const struct store_dkey *dedup_key, uint64_t dkey_hash,
                                const uint8_t *rid, size_t rid_len, uint64_t corr_id,
                                const char *msg_id, Liaison__Intel *intel, const arena_t *from)
{
    if (bt->n_pubs == 0)
        bt->first_seq = seq;
    if (bt->n_pubs == bt->cap_pubs) {
        bt->cap_pubs = bt->cap_pubs ? bt->cap_pubs * 2 : 256;
        bt->pubs = xrealloc(bt->pubs, bt->cap_pubs * sizeof *bt->pubs);
    }
    struct batch_pub *p = &bt->pubs[bt->n_pubs];
    memset(p, 0, sizeof *p);
    p->seq = seq;
    p->corr_id = corr_id;
    p->intel = intel;
    p->intel_in_arena = from != NULL;
    p->len = len;
    p->data_off = store_wset_msg(bt->w, seq, time_us, len, dedup_key);
    p->rid_off = put_bytes(bt, rid, rid_len);
    p->rid_len = rid_len;
    p->msg_id_off = put_bytes(bt, msg_id, strlen(msg_id) + 1);
    if (dedup_key) {
        p->dkey_len = dedup_key->len;
        p->dkey_off = put_bytes(bt, dedup_key->b, dedup_key->len);
        p->dkey_hash = dkey_hash;
    }
    bt->n_pubs++;
    if (p->dkey_len) {
        if (bt->n_pubs * 2 > bt->dedup_cap)
            dedup_grow(bt); /* inserts this one too */
        else
            dedup_insert(bt, bt->n_pubs - 1);
    }
    return p;
}

uint8_t *batch_pub_data(batch_t *bt, const struct batch_pub *p)
{
    return (uint8_t *)(uintptr_t)store_wset_data(bt->w, p->data_off);
}

void batch_pub_set_tokens(batch_t *bt, struct batch_pub *p, const uint8_t (*tokens)[32], size_t n)
{
    p->tokens_off = put_bytes(bt, tokens, n * 32);
    p->n_tokens = (uint32_t)n;
}

const uint8_t (*batch_pub_tokens(const batch_t *bt, const struct batch_pub *p))[32]
{
    return (const uint8_t(*)[32])(bt->bytes + p->tokens_off);
}

struct batch_pub *batch_pub_at(batch_t *bt, uint64_t seq)
{
    if (bt->n_pubs == 0 || seq < bt->first_seq || seq - bt->first_seq >= bt->n_pubs)
        return NULL;
    return &bt->pubs[seq - bt->first_seq];
}

uint64_t batch_next_seq(const batch_t *bt)
{
    return bt->first_seq + bt->n_pubs;
}

uint8_t *batch_add_frame(batch_t *bt, enum batch_frame_kind kind, const uint8_t *rid,
                         size_t rid_len, uint64_t corr_id, uint32_t sub_id, uint64_t seq, int first,
                         size_t len)
{
    if (bt->n_frames == bt->cap_frames) {
        bt->cap_frames = bt->cap_frames ? bt->cap_frames * 2 : 1024;
        bt->frames = xrealloc(bt->frames, bt->cap_frames * sizeof *bt->frames);
    }
    struct batch_frame *f = &bt->frames[bt->n_frames++];
    memset(f, 0, sizeof *f);
    f->kind = (uint8_t)kind;
    f->first = (uint8_t)(first != 0);
    f->sub_id = sub_id;
    f->seq = seq;
    f->corr_id = corr_id;
    f->rid_off = put_bytes(bt, rid, rid_len);
    f->rid_len = rid_len;
    f->off = put_bytes(bt, NULL, len);
    f->len = len;
    return bt->bytes + f->off;
}

void batch_frame_trim(batch_t *bt, size_t len)
{
    struct batch_frame *f = &bt->frames[bt->n_frames - 1];
    bt->len -= f->len - len;
    f->len = len;
}

struct batch_frame *batch_last_frame(batch_t *bt)
{
    return &bt->frames[bt->n_frames - 1];
}
