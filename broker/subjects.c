/* subjects.c — the blind subject index: a message's tokens, its entries
 * in the batch, the start-up key check and --reindex.
 * Not responsible for: normalisation (common/subject.c) or queries
 * (query.c). */
#include "subjects.h"

#include <stdio.h>
#include <string.h>

#include "label.h"
#include "log.h"

size_t subjects_tokens(const uint8_t key[SUBJECT_KEY_BYTES], const Liaison__Intel *m,
                       uint8_t (*out)[SUBJECT_TOKEN_BYTES], size_t max)
{
    size_t n = 0;
    if (m == NULL || m->label == NULL)
        return 0;
    for (size_t i = 0; i < m->label->n_subjects && n < max; i++) {
        uint8_t t[SUBJECT_TOKEN_BYTES];
        if (m->label->subjects[i] == NULL || subject_token(key, m->label->subjects[i], t) != 0)
            continue;
        size_t j = 0;
        while (j < n && memcmp(out[j], t, sizeof t) != 0)
            j++;
        if (j == n) /* two spellings of one subject are one entry */
            memcpy(out[n++], t, sizeof t);
    }
    return n;
}

void subjects_write(const uint8_t key[SUBJECT_KEY_BYTES], store_wset_t *w, const Liaison__Intel *m,
                    uint64_t seq, int del)
{
    uint8_t tokens[LABEL_MAX_SUBJECTS][SUBJECT_TOKEN_BYTES];
    size_t n = subjects_tokens(key, m, tokens, LABEL_MAX_SUBJECTS);
    for (size_t i = 0; i < n; i++)
        store_wset_subject(w, tokens[i], seq, del);
}

int subjects_check(store_t *st, const uint8_t *key, char *err, size_t errlen)
{
    uint8_t have[32], want[32];
    int rc = store_index_key(st, have);
    if (rc == STORE_ERR) {
        snprintf(err, errlen, "cannot read the subject index's key record");
        return -1;
    }
    if (key == NULL) {
        /* Off: messages stored from now are not indexed, so the index
         * must not be trusted again without a reindex. */
        if (rc == STORE_OK && store_index_reset(st, NULL, 1) != STORE_OK) {
            snprintf(err, errlen, "cannot switch the subject index off");
            return -1;
        }
        if (rc == STORE_OK)
            log_warn("event=subject_index_off reason=\"no subject_key: the index was emptied; "
                     "setting a key again needs liaison-broker --reindex\"");
        return 0;
    }
    subject_key_id(key, want);
    if (rc == STORE_OK && memcmp(have, want, 32) == 0)
        return 0;
    if (store_last_seq(st) != 0) {
        snprintf(err, errlen,
                 rc == STORE_OK ? "the subject index was written with another subject_key: run "
                                  "liaison-broker --reindex -c FILE once (the broker stopped)"
                                : "the store holds messages the subject index does not cover: run "
                                  "liaison-broker --reindex -c FILE once (the broker stopped)");
        return -1;
    }
    if (store_index_reset(st, want, 1) != STORE_OK) {
        snprintf(err, errlen, "cannot record the subject index's key");
        return -1;
    }
    return 0;
}

#define REINDEX_CHUNK 4096

int subjects_reindex(store_t *st, const uint8_t key[SUBJECT_KEY_BYTES], uint64_t *msgs,
                     uint64_t *entries, char *err, size_t errlen)
{
    uint8_t id[32];
    *msgs = *entries = 0;
    /* Marked off first: a reindex cut short leaves a store that refuses
     * to start until it is run again, never a half index that is trusted. */
    if (store_index_reset(st, NULL, 1) != STORE_OK) {
        snprintf(err, errlen, "cannot empty the subject index");
        return -1;
    }
    store_wset_t *w = store_wset_new();
    uint64_t next = 1;
    int rc = STORE_OK, done = 0;
    while (!done && rc == STORE_OK) {
        store_read_t *rd = store_read_begin(st);
        if (rd == NULL) {
            rc = STORE_ERR;
            break;
        }
        store_wset_clear(w);
        size_t n = 0;
        uint64_t seq;
        const void *data;
        size_t len;
        while (n < REINDEX_CHUNK && store_read_next(rd, next, &seq, &data, &len) == STORE_OK) {
            Liaison__Intel *m = wire_intel_decode(data, len);
            size_t before = store_wset_count(w);
            if (m)
                subjects_write(key, w, m, seq, 0);
            *entries += store_wset_count(w) - before;
            wire_intel_free(&m);
            next = seq + 1;
            n++;
        }
        store_read_end(&rd);
        done = n < REINDEX_CHUNK;
        *msgs += n;
        if (store_wset_count(w))
            rc = store_commit(st, w);
    }
    store_wset_free(&w);
    if (rc != STORE_OK) {
        snprintf(err, errlen, "rebuilding the subject index failed (%s): run --reindex again",
                 rc == STORE_FULL ? "the map is full: raise map_size_mb" : "a store error");
        return -1;
    }
    subject_key_id(key, id);
    if (store_index_reset(st, id, 0) != STORE_OK) {
        snprintf(err, errlen, "cannot record the subject index's key");
        return -1;
    }
    return 0;
}
