/* test_subjects.c — the blind subject index (broker/subjects.c and its
 * databases in broker/store.c) on real LMDB: entries written with a
 * message and found in sequence order under their token only, one entry
 * for two spellings, erased with the message; the start-up key check
 * (fresh, same key, another key, switched off); --reindex; and the hit
 * notices kept for an agent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "subject.h"
#include "subjects.h"
#include "wire.h"

struct fixture {
    char dir[64];
    store_t *s;
    store_wset_t *w;
    uint8_t key[SUBJECT_KEY_BYTES];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/liaison-test-subjects-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    f->s = store_open(f->dir, 16, err, sizeof err);
    f->w = store_wset_new();
    for (int i = 0; i < SUBJECT_KEY_BYTES; i++)
        f->key[i] = (uint8_t)(i * 7 + 1);
    *state = f;
    return f->s ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(&f->s);
    store_wset_free(&f->w);
    int rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* A message about the given subjects, stored (packed) under seq with its
 * index entries under key, in one commit. */
static void store_about(struct fixture *f, const uint8_t *key, uint64_t seq,
                        const char *const *subjects, size_t n)
{
    Liaison__Intel m = LIAISON__INTEL__INIT;
    Liaison__Label l = LIAISON__LABEL__INIT;
    m.topic = (char *)(uintptr_t) "alert.test";
    m.seq = seq;
    m.label = &l;
    l.subjects = (char **)(uintptr_t)subjects;
    l.n_subjects = n;
    size_t len = wire_intel_size(&m);
    store_wset_clear(f->w);
    size_t off = store_wset_msg(f->w, seq, (int64_t)seq * 1000, len, NULL);
    wire_intel_pack(&m, (uint8_t *)(uintptr_t)store_wset_data(f->w, off));
    if (key)
        subjects_write(key, f->w, &m, seq, 0);
    assert_int_equal(store_commit(f->s, f->w), STORE_OK);
}

/* The sequences indexed under ref's token, as "1 3 " */
static void found(struct fixture *f, const uint8_t *key, const char *ref, char *out, size_t n)
{
    uint8_t t[SUBJECT_TOKEN_BYTES];
    assert_int_equal(subject_token(key, ref, t), 0);
    store_read_t *r = store_read_begin(f->s);
    assert_non_null(r);
    out[0] = '\0';
    uint64_t seq = 0;
    while (store_read_subject(r, t, seq + 1, &seq) == STORE_OK) {
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%llu ", (unsigned long long)seq);
    }
    store_read_end(&r);
}

/* Asserts the sequences indexed under ref's token (f's key) are want. */
static void expect_found(struct fixture *f, const char *ref, const char *want)
{
    char got[256];
    found(f, f->key, ref, got, sizeof got);
    assert_string_equal(got, want);
}

static void test_index_finds_messages_by_subject_in_order(void **state)
{
    struct fixture *f = *state;
    char got[128];
    const char *a[] = {"A1234BC"}, *ab[] = {"a 1234 bc", "John Smith"}, *b[] = {"B9999ZZ"};
    store_about(f, f->key, 1, a, 1);
    store_about(f, f->key, 2, b, 1);
    store_about(f, f->key, 3, ab, 2);
    expect_found(f, "A-1234-BC", "1 3 ");
    expect_found(f, "JOHN  SMITH", "3 ");
    expect_found(f, "C0000CC", "");
    /* Another key's tokens find nothing: the index is blind without it. */
    uint8_t other[SUBJECT_KEY_BYTES];
    memcpy(other, f->key, sizeof other);
    other[0] ^= 1;
    found(f, other, "A1234BC", got, sizeof got);
    assert_string_equal(got, "");
}

static void test_two_spellings_in_one_message_are_one_entry(void **state)
{
    struct fixture *f = *state;
    const char *twice[] = {"A1234BC", "a-1234-bc", "noms:A 1234 BC"};
    store_about(f, f->key, 1, twice, 3);
    struct store_stat st;
    assert_int_equal(store_stat(f->s, &st), STORE_OK);
    assert_int_equal(st.subject_entries, 1);
    assert_true(st.subject_bytes > 0);
}

static void test_erasing_a_message_erases_its_entries(void **state)
{
    struct fixture *f = *state;
    const char *a[] = {"A1234BC", "B9999ZZ"};
    store_about(f, f->key, 1, a, 2);
    store_about(f, f->key, 2, a, 2);
    /* What retention does for seq 1: the message and its entries, in one
     * write set. */
    Liaison__Intel m = LIAISON__INTEL__INIT;
    Liaison__Label l = LIAISON__LABEL__INIT;
    m.label = &l;
    l.subjects = (char **)(uintptr_t)a;
    l.n_subjects = 2;
    store_wset_clear(f->w);
    store_wset_purge(f->w, 1, 1000);
    subjects_write(f->key, f->w, &m, 1, 1);
    assert_int_equal(store_commit(f->s, f->w), STORE_OK);
    expect_found(f, "A1234BC", "2 ");
    expect_found(f, "B9999ZZ", "2 ");
}

/* The index keeps a bucket a run of sequence numbers (2^14): a token is
 * found in every bucket that has it, in order, past buckets without it
 * and past empty ones. */
static void test_index_finds_a_subject_across_buckets(void **state)
{
    struct fixture *f = *state;
    const char *a[] = {"A1234BC"}, *b[] = {"B9999ZZ"};
    const uint64_t at_a[] = {1, 16383, 16384, 16385, 50000, 200000};
    for (size_t i = 0; i < sizeof at_a / sizeof at_a[0]; i++)
        store_about(f, f->key, at_a[i], a, 1);
    store_about(f, f->key, 300000, b, 1); /* b only in the last bucket */
    expect_found(f, "A1234BC", "1 16383 16384 16385 50000 200000 ");
    expect_found(f, "B9999ZZ", "300000 ");
    expect_found(f, "C0000CC", "");
}

static void test_check_marks_a_fresh_store_and_accepts_the_same_key(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(subjects_check(f->s, f->key, err, sizeof err), 0);
    const char *a[] = {"A1234BC"};
    store_about(f, f->key, 1, a, 1);
    assert_int_equal(subjects_check(f->s, f->key, err, sizeof err), 0);
}

static void test_check_refuses_another_key_until_reindexed(void **state)
{
    struct fixture *f = *state;
    char err[256], got[64];
    assert_int_equal(subjects_check(f->s, f->key, err, sizeof err), 0);
    const char *a[] = {"A1234BC"}, *b[] = {"B9999ZZ"};
    store_about(f, f->key, 1, a, 1);
    store_about(f, f->key, 2, b, 1);
    uint8_t other[SUBJECT_KEY_BYTES];
    memset(other, 0x5a, sizeof other);
    assert_int_equal(subjects_check(f->s, other, err, sizeof err), -1);
    assert_non_null(strstr(err, "--reindex"));
    uint64_t msgs, entries;
    assert_int_equal(subjects_reindex(f->s, other, &msgs, &entries, err, sizeof err), 0);
    assert_int_equal(msgs, 2);
    assert_int_equal(entries, 2);
    assert_int_equal(subjects_check(f->s, other, err, sizeof err), 0);
    found(f, other, "A1234BC", got, sizeof got);
    assert_string_equal(got, "1 ");
    found(f, f->key, "A1234BC", got, sizeof got); /* the old tokens are gone */
    assert_string_equal(got, "");
}

static void test_switching_the_index_off_needs_a_reindex_to_switch_it_on(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(subjects_check(f->s, f->key, err, sizeof err), 0);
    const char *a[] = {"A1234BC"};
    store_about(f, f->key, 1, a, 1);
    assert_int_equal(subjects_check(f->s, NULL, err, sizeof err), 0);
    store_about(f, NULL, 2, a, 1); /* stored while off: not indexed */
    assert_int_equal(subjects_check(f->s, f->key, err, sizeof err), -1);
    uint64_t msgs, entries;
    assert_int_equal(subjects_reindex(f->s, f->key, &msgs, &entries, err, sizeof err), 0);
    expect_found(f, "A1234BC", "1 2 ");
}

static void test_a_store_with_messages_and_no_index_needs_a_reindex(void **state)
{
    struct fixture *f = *state;
    char err[256];
    const char *a[] = {"A1234BC"};
    store_about(f, NULL, 1, a, 1); /* as a store from before the index */
    assert_int_equal(subjects_check(f->s, f->key, err, sizeof err), -1);
    assert_non_null(strstr(err, "--reindex"));
}

struct hits {
    char seen[256];
};

static void on_hit(uint64_t msg_seq, int64_t time_us, const void *data, size_t len, void *ctx)
{
    struct hits *h = ctx;
    size_t n = strlen(h->seen);
    snprintf(h->seen + n, sizeof h->seen - n, "%llu@%lld:%.*s ", (unsigned long long)msg_seq,
             (long long)time_us, (int)len, (const char *)data);
}

static void test_hit_notices_are_kept_per_agent_until_removed(void **state)
{
    struct fixture *f = *state;
    store_wset_clear(f->w);
    store_wset_hit(f->w, "prison", 3, 100, "one", 3);
    store_wset_hit(f->w, "prison", 5, 200, "two", 3);
    store_wset_hit(f->w, "prisoner", 3, 100, "other", 5); /* a longer name, not a prefix match */
    store_wset_hit(f->w, "police", 3, 100, "p", 1);
    assert_int_equal(store_commit(f->s, f->w), STORE_OK);
    struct hits h = {""};
    assert_int_equal(store_hits(f->s, "prison", 100, on_hit, &h), STORE_OK);
    assert_string_equal(h.seen, "3@100:one 5@200:two ");
    store_wset_clear(f->w);
    store_wset_hit(f->w, "prison", 3, 100, NULL, 0);
    assert_int_equal(store_commit(f->s, f->w), STORE_OK);
    memset(&h, 0, sizeof h);
    assert_int_equal(store_hits(f->s, "prison", 100, on_hit, &h), STORE_OK);
    assert_string_equal(h.seen, "5@200:two ");
    memset(&h, 0, sizeof h);
    assert_int_equal(store_hits(f->s, "prisoner", 100, on_hit, &h), STORE_OK);
    assert_string_equal(h.seen, "3@100:other ");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_index_finds_messages_by_subject_in_order),
        T(test_index_finds_a_subject_across_buckets),
        T(test_two_spellings_in_one_message_are_one_entry),
        T(test_erasing_a_message_erases_its_entries),
        T(test_check_marks_a_fresh_store_and_accepts_the_same_key),
        T(test_check_refuses_another_key_until_reindexed),
        T(test_switching_the_index_off_needs_a_reindex_to_switch_it_on),
        T(test_a_store_with_messages_and_no_index_needs_a_reindex),
        T(test_hit_notices_are_kept_per_agent_until_removed),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
