/* subjects.h — the blind subject index in the store (DESIGN.md "Subject
 * search"): the tokens of a message's subjects under the broker's
 * subject_key, written into the same batch as the message and erased with
 * it; the start-up check that the index was written with the key
 * configured now; and --reindex, which rebuilds it when the key changes.
 * The index never holds a subject in clear, so a copy of the store does
 * not give away who is of interest.
 * Not responsible for: normalising references and deriving tokens
 * (common/subject.c), or answering queries (query.c). */
#ifndef LIAISON_SUBJECTS_H
#define LIAISON_SUBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "subject.h"
#include "wire.h"

/* The distinct tokens of m's subjects under key, in out (room for max);
 * returns how many. A subject that does not normalise is skipped (the
 * label check refuses one at publish; only a hand-made store holds one). */
size_t subjects_tokens(const uint8_t key[SUBJECT_KEY_BYTES], const Liaison__Intel *m,
                       uint8_t (*out)[SUBJECT_TOKEN_BYTES], size_t max);

/* Writes m's index entries under seq into w (del: erases them). */
void subjects_write(const uint8_t key[SUBJECT_KEY_BYTES], store_wset_t *w, const Liaison__Intel *m,
                    uint64_t seq, int del);

/* At start, before the committer runs: 0 when the index was written with
 * key (key NULL: the index is off, and is marked so, so switching it back
 * on needs a reindex); -1 with err naming the fix when the store holds
 * messages not indexed under key. A store without messages is simply
 * marked for key. */
int subjects_check(store_t *st, const uint8_t *key, char *err, size_t errlen);

/* Empties the index and writes every stored message's entries under key,
 * in commits of a few thousand messages; the store is marked for key at
 * the end. Returns 0 (with the count of messages and entries in *msgs and
 * *entries) or -1 with err. The broker must not be running on the store. */
int subjects_reindex(store_t *st, const uint8_t key[SUBJECT_KEY_BYTES], uint64_t *msgs,
                     uint64_t *entries, char *err, size_t errlen);

#endif
