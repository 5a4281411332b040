/* test_audit.c — the audit chain (broker/audit.c) on real LMDB in a
 * temporary directory: records appended through a batch verify; a trail
 * begun in format 0 (SHA-256) by an earlier broker goes on in format 2
 * (BLAKE2b-256) and verifies as one chain; an altered record of either
 * format is found; a refused batch leaves no fork in the chain; a pass's
 * disclosures are gathered into a record per recipient. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sodium.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "audit.h"
#include "keys.h"
#include "batch.h"
#include "store.h"

struct fixture {
    char dir[64];
    store_t *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/liaison-test-audit-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->s = store_open(f->dir, 16, err, sizeof err);
    if (f->s == NULL)
        return -1;
    *state = f;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(&f->s);
    int rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

static void append_n(audit_t *a, store_t *s, int n, const char *action)
{
    batch_t *bt = batch_new();
    uint8_t digest[32];
    for (int i = 0; i < n; i++) {
        audit_digest(action, strlen(action), digest);
        struct audit_event ev = {.actor = "humberside-police",
                                 .action = action,
                                 .outcome = "ok",
                                 .topic = "alert.yorkshire.a",
                                 .msg_seq = (uint64_t)i + 1,
                                 .digest = digest};
        assert_int_equal(audit_append(a, bt, &ev), STORE_OK);
    }
    assert_int_equal(store_commit(s, bt->w), STORE_OK);
    audit_committed(a, bt);
    batch_free(&bt);
}

static void test_audit_records_appended_through_a_batch_verify(void **state)
{
    struct fixture *f = *state;
    char err[256];
    audit_t *a = audit_open(f->s, NULL, 1000, 300, err, sizeof err);
    assert_non_null(a);
    append_n(a, f->s, 5, "publish");
    append_n(a, f->s, 3, "deliver");
    struct audit_report rep;
    assert_int_equal(audit_verify(f->s, NULL, &rep), 0);
    assert_int_equal(rep.records, 8);
    audit_close(&a);
}

/* Writes n records as a broker before format 2 did: SHA-256 chained, no
 * format field. */
static void write_format0(store_t *s, int n)
{
    store_wset_t *w = store_wset_new();
    uint8_t prev[32] = {0}, buf[512];
    for (int i = 1; i <= n; i++) {
        Liaison__AuditRecord r = LIAISON__AUDIT_RECORD__INIT;
        r.seq = (uint64_t)i;
        r.time_us = i;
        r.actor = (char *)"broker";
        r.action = (char *)"start";
        r.outcome = (char *)"ok";
        r.count = 1;
        r.prev_hash.data = prev;
        r.prev_hash.len = 32;
        size_t len = wire_audit_record_pack(&r, buf);
        store_wset_audit(w, r.seq, buf, len);
        crypto_hash_sha256(prev, buf, len);
    }
    assert_int_equal(store_commit(s, w), STORE_OK);
    store_wset_free(&w);
}

static void test_audit_a_format0_trail_goes_on_in_format2_as_one_chain(void **state)
{
    struct fixture *f = *state;
    char err[256];
    write_format0(f->s, 4);
    struct audit_report rep;
    assert_int_equal(audit_verify(f->s, NULL, &rep), 0);
    audit_t *a = audit_open(f->s, NULL, 1000, 300, err, sizeof err);
    assert_non_null(a);
    append_n(a, f->s, 4, "publish");
    assert_int_equal(audit_verify(f->s, NULL, &rep), 0);
    assert_int_equal(rep.records, 8);
    audit_close(&a);

    /* Altering one record of either format breaks the chain there. */
    const uint64_t victims[] = {6, 2};
    for (size_t v = 0; v < 2; v++) {
        uint64_t victim = victims[v];
        store_read_t *r = store_read_begin(f->s);
        const void *data;
        size_t len;
        uint64_t found;
        assert_int_equal(store_read_seek(r, STORE_DB_AUDIT, victim, 0, &found, &data, &len),
                         STORE_OK);
        uint8_t orig[512], buf[512];
        memcpy(orig, data, len);
        size_t orig_len = len;
        Liaison__AuditRecord *rec = wire_audit_record_decode(data, len);
        store_read_end(&r);
        assert_non_null(rec);
        assert_int_equal(rec->format, victim > 4 ? 2 : 0);
        char *outcome = rec->outcome;
        rec->outcome = (char *)"refused";
        size_t n = wire_audit_record_pack(rec, buf);
        rec->outcome = outcome;
        wire_audit_record_free(&rec);
        store_wset_t *w = store_wset_new();
        store_wset_audit(w, victim, buf, n);
        assert_int_equal(store_commit(f->s, w), STORE_OK);
        assert_int_equal(audit_verify(f->s, NULL, &rep), 1);
        assert_int_equal(rep.broken_seq, victim);
        store_wset_clear(w);
        store_wset_audit(w, victim, orig, orig_len);
        assert_int_equal(store_commit(f->s, w), STORE_OK);
        store_wset_free(&w);
        assert_int_equal(audit_verify(f->s, NULL, &rep), 0);
    }
}

static void test_audit_a_refused_batch_leaves_no_fork(void **state)
{
    struct fixture *f = *state;
    char err[256];
    audit_t *a = audit_open(f->s, NULL, 1000, 300, err, sizeof err);
    append_n(a, f->s, 2, "publish");
    /* Three records built, then the batch is refused: the chain goes on
     * from the committed head. */
    batch_t *bt = batch_new();
    struct audit_event ev = {.actor = "x", .action = "deliver", .outcome = "ok"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(audit_append(a, bt, &ev), STORE_OK);
    batch_fail(bt, STORE_FULL);
    assert_int_equal(audit_append(a, bt, &ev), STORE_FULL); /* sticky */
    batch_free(&bt);
    audit_rollback(a);
    append_n(a, f->s, 2, "deliver");
    struct audit_report rep;
    assert_int_equal(audit_verify(f->s, NULL, &rep), 0);
    assert_int_equal(rep.records, 4);
    assert_int_equal(rep.last_seq, 4);
    audit_close(&a);
}

/* Record seq, decoded (caller frees). */
static Liaison__AuditRecord *record(store_t *s, uint64_t seq)
{
    store_read_t *r = store_read_begin(s);
    const void *data;
    size_t len;
    uint64_t found;
    Liaison__AuditRecord *rec = NULL;
    if (store_read_seek(r, STORE_DB_AUDIT, seq, 0, &found, &data, &len) == STORE_OK && found == seq)
        rec = wire_audit_record_decode(data, len);
    store_read_end(&r);
    return rec;
}

static void commit_batch(audit_t *a, store_t *s, batch_t *bt)
{
    assert_int_equal(store_commit(s, bt->w), STORE_OK);
    audit_committed(a, bt);
    batch_reset(bt);
}

static void test_audit_aggregates_keep_their_outcome_and_topic_and_are_written_at_stop(void **state)
{
    struct fixture *f = *state;
    char err[256];
    audit_t *a = audit_open(f->s, NULL, 1000, 300, err, sizeof err);
    batch_t *bt = batch_new();
    struct audit_event status = {.actor = "ops", .action = "status", .outcome = "ok"};
    struct audit_event sub1 = {
        .actor = "rocu", .action = "subscribe", .outcome = "ok", .topic = "alert.>"};
    struct audit_event sub2 = {
        .actor = "rocu", .action = "subscribe", .outcome = "ok", .topic = "national.>"};
    for (int i = 0; i < 3; i++)
        audit_append_repeatable(a, bt, &status, 1000);
    audit_append_repeatable(a, bt, &sub1, 1000);
    audit_append_repeatable(a, bt, &sub2, 1000); /* another pattern: its own record */
    audit_append_repeatable(a, bt, &sub2, 1000);
    commit_batch(a, f->s, bt);
    /* Written at once: the first status, both subscribes. */
    Liaison__AuditRecord *r = record(f->s, 3);
    assert_non_null(r);
    assert_string_equal(r->topic, "national.>");
    wire_audit_record_free(&r);
    assert_null(record(f->s, 4));
    /* Stop: the counts in memory are written, with their own outcome. */
    audit_flush(a, bt);
    commit_batch(a, f->s, bt);
    int seen_status = 0, seen_sub = 0;
    for (uint64_t seq = 4; seq <= 5; seq++) {
        r = record(f->s, seq);
        assert_non_null(r);
        assert_string_equal(r->outcome, "ok");
        if (strcmp(r->action, "status") == 0) {
            assert_int_equal(r->count, 2);
            seen_status = 1;
        } else {
            assert_string_equal(r->topic, "national.>");
            assert_int_equal(r->count, 1);
            seen_sub = 1;
        }
        wire_audit_record_free(&r);
    }
    assert_true(seen_status && seen_sub);
    assert_null(record(f->s, 6));
    batch_free(&bt);
    audit_close(&a);
}

/* A pass's disclosures are one record per recipient, action, reason and
 * topic, naming each message by seq and digest in the order disclosed; a
 * run goes on in a second record before its first would outgrow one page
 * of the store (a record just over a page takes two); and the chain
 * verifies. */
static void test_audit_a_pass_discloses_in_one_record_per_recipient_and_topic(void **state)
{
    struct fixture *f = *state;
    char err[256];
    audit_t *a = audit_open(f->s, NULL, 1000, 300, err, sizeof err);
    batch_t *bt = batch_new();
    uint8_t digest[200][32];
    uint64_t hint_rocu = 0, hint_hmp = 0;
    for (int i = 0; i < 200; i++) {
        memset(digest[i], i, 32);
        struct audit_event ev = {.actor = "rocu",
                                 .recipient = "rocu",
                                 .action = "deliver",
                                 .outcome = "ok",
                                 .topic = "alert.yorkshire.a",
                                 .msg_seq = (uint64_t)i + 1,
                                 .digest = digest[i]};
        assert_int_equal(audit_gather(a, bt, &ev, &hint_rocu), STORE_OK);
        if (i % 2 == 0) {
            /* Another recipient, and with a notice's reason, apart. */
            ev.actor = ev.recipient = "hmp-hull";
            ev.action = "notice";
            ev.reason = "caveat";
            assert_int_equal(audit_gather(a, bt, &ev, &hint_hmp), STORE_OK);
        }
    }
    struct audit_event other = {.actor = "rocu",
                                .recipient = "rocu",
                                .action = "deliver",
                                .outcome = "ok",
                                .topic = "alert.yorkshire.b",
                                .msg_seq = 201,
                                .digest = digest[7]};
    assert_int_equal(audit_gather(a, bt, &other, &hint_rocu), STORE_OK); /* its topic's own */
    /* rocu's run was written when it filled its page; the rest at the end. */
    assert_int_equal(bt->audit_seq, 1);
    assert_int_equal(audit_gather_end(a, bt), STORE_OK);
    commit_batch(a, f->s, bt);
    uint64_t next_rocu = 1, next_hmp = 1;
    int records = 0;
    for (uint64_t seq = 1;; seq++) {
        Liaison__AuditRecord *r = record(f->s, seq);
        if (r == NULL)
            break;
        records++;
        assert_int_equal(r->count, 1 + r->n_more_seqs);
        assert_int_equal(r->n_more_digests, r->n_more_seqs);
        assert_true(r->count <= 128);
        size_t bytes = liaison__audit_record__get_packed_size(r);
        assert_true(bytes <= store_page_fit(f->s));
        if (r->seq == 1) /* the one that filled: most of its page, not half */
            assert_true(bytes * 10 > store_page_fit(f->s) * 9);
        if (strcmp(r->topic, "alert.yorkshire.b") == 0) {
            assert_int_equal(r->msg_seq, 201);
            assert_int_equal(r->count, 1);
        } else if (strcmp(r->recipient, "rocu") == 0) {
            assert_string_equal(r->action, "deliver");
            for (uint32_t k = 0; k < r->count; k++) {
                uint64_t s_k = k ? r->more_seqs[k - 1] : r->msg_seq;
                const uint8_t *d_k = k ? r->more_digests[k - 1].data : r->digest.data;
                assert_int_equal(s_k, next_rocu);
                assert_memory_equal(d_k, digest[next_rocu - 1], 32);
                next_rocu++;
            }
        } else {
            assert_string_equal(r->recipient, "hmp-hull");
            assert_string_equal(r->action, "notice");
            assert_string_equal(r->reason, "caveat");
            for (uint32_t k = 0; k < r->count; k++) {
                uint64_t s_k = k ? r->more_seqs[k - 1] : r->msg_seq;
                assert_int_equal(s_k, next_hmp);
                next_hmp += 2;
            }
        }
        wire_audit_record_free(&r);
    }
    assert_int_equal(next_rocu, 201);
    assert_int_equal(next_hmp, 201);
    assert_int_equal(records, 4); /* rocu's two, hmp-hull's 100, the other topic */
    struct audit_report rep;
    assert_int_equal(audit_verify(f->s, NULL, &rep), 0);
    batch_free(&bt);
    audit_close(&a);
}

/* Gathered events whose text bounded() changes still share their run, and
 * their record holds the bounded text. */
static void test_audit_gathered_text_is_bounded_as_a_record_holds_it(void **state)
{
    struct fixture *f = *state;
    char err[256];
    audit_t *a = audit_open(f->s, NULL, 1000, 300, err, sizeof err);
    batch_t *bt = batch_new();
    uint8_t digest[32] = {0};
    uint64_t hint = 0;
    for (int i = 0; i < 3; i++) {
        struct audit_event ev = {.actor = "rocu",
                                 .recipient = "rocu",
                                 .action = "deliver",
                                 .outcome = "ok",
                                 .topic = "alert.\x01.a",
                                 .msg_seq = (uint64_t)i + 1,
                                 .digest = digest};
        assert_int_equal(audit_gather(a, bt, &ev, &hint), STORE_OK);
    }
    assert_int_equal(audit_gather_end(a, bt), STORE_OK);
    commit_batch(a, f->s, bt);
    Liaison__AuditRecord *r = record(f->s, 1);
    assert_non_null(r);
    assert_string_equal(r->topic, "alert.?.a");
    assert_int_equal(r->count, 3);
    wire_audit_record_free(&r);
    assert_null(record(f->s, 2));
    batch_free(&bt);
    audit_close(&a);
}

/* One collection record names a batch's publishes by one agent on one
 * topic; verify hashes each message against its own digest in the record,
 * and names the record when one of the later ones does not match. */
static void test_audit_verify_checks_every_message_a_collection_record_names(void **state)
{
    struct fixture *f = *state;
    char err[256];
    audit_t *a = audit_open(f->s, NULL, 1000, 300, err, sizeof err);
    batch_t *bt = batch_new();
    static const char *const body[] = {"first", "second", "third"};
    uint64_t hint = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(body[i]);
        size_t off = store_wset_msg(bt->w, (uint64_t)i + 1, 1000 + i, n, NULL);
        memcpy((uint8_t *)(uintptr_t)store_wset_data(bt->w, off), body[i], n);
        uint8_t digest[32];
        /* The third's digest is of other bytes: as if it changed at rest. */
        audit_digest(i < 2 ? body[i] : "altered", i < 2 ? n : 7, digest);
        struct audit_event ev = {.actor = "humberside-police",
                                 .action = "publish",
                                 .outcome = "ok",
                                 .topic = "alert.yorkshire.a",
                                 .msg_seq = (uint64_t)i + 1,
                                 .digest = digest};
        assert_int_equal(audit_gather(a, bt, &ev, &hint), STORE_OK);
    }
    assert_int_equal(audit_gather_end(a, bt), STORE_OK);
    commit_batch(a, f->s, bt);
    Liaison__AuditRecord *r = record(f->s, 1);
    assert_non_null(r);
    assert_int_equal(r->count, 3);
    assert_int_equal(r->n_more_seqs, 2);
    wire_audit_record_free(&r);
    assert_null(record(f->s, 2));
    struct audit_report rep;
    assert_int_equal(audit_verify(f->s, NULL, &rep), 1);
    assert_int_equal(rep.messages_checked, 3);
    assert_int_equal(rep.broken_seq, 1);
    batch_free(&bt);
    audit_close(&a);
}

static void test_audit_stores_a_bounded_prefix_of_client_text(void **state)
{
    struct fixture *f = *state;
    char err[256];
    audit_t *a = audit_open(f->s, NULL, 1000, 300, err, sizeof err);
    batch_t *bt = batch_new();
    size_t n = 1 << 20;
    char *topic = malloc(n + 1);
    memset(topic, 'A', n);
    topic[5] = '\n';
    topic[n] = '\0';
    struct audit_event ev = {
        .actor = "police", .action = "publish", .outcome = "refused", .topic = topic};
    assert_int_equal(audit_append(a, bt, &ev), STORE_OK);
    assert_true(store_wset_estimate(bt->w) < 8192);
    commit_batch(a, f->s, bt);
    Liaison__AuditRecord *r = record(f->s, 1);
    assert_non_null(r);
    assert_true(strlen(r->topic) < 300);
    assert_true(strstr(r->topic, "(1048576 bytes)") != NULL);
    assert_int_equal(r->topic[5], '?'); /* escaped */
    wire_audit_record_free(&r);
    free(topic);
    batch_free(&bt);
    audit_close(&a);
}

/* A signed trail: n records with a checkpoint every 4 (and one for a tail). */
static audit_t *signed_trail(struct fixture *f, uint8_t pub[32], int n)
{
    char err[256];
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 7 + 1);
    keys_signing_public(seed, pub);
    audit_t *a = audit_open(f->s, seed, 4, 300, err, sizeof err);
    assert_non_null(a);
    batch_t *bt = batch_new();
    struct audit_event ev = {.actor = "police", .action = "publish", .outcome = "ok"};
    for (int i = 0; i < n; i++) {
        assert_int_equal(audit_append(a, bt, &ev), STORE_OK);
        audit_tick(a, bt, 1000);
        commit_batch(a, f->s, bt);
    }
    batch_free(&bt);
    return a;
}

static void
test_audit_verify_with_a_key_catches_removed_checkpoints_and_unsigned_tails(void **state)
{
    struct fixture *f = *state;
    uint8_t pub[32];
    audit_t *a = signed_trail(f, pub, 12); /* checkpoints at 4, 8, 12 */
    struct audit_report rep;
    assert_int_equal(audit_verify(f->s, pub, &rep), 0);
    assert_int_equal(rep.checkpoints, 3);
    assert_int_equal(rep.unsigned_tail, 0);
    audit_close(&a);

    /* A rebuilt copy without the checkpoints at 8 and 12: the tail after 4
     * is longer than the spacing. */
    char dir2[80];
    snprintf(dir2, sizeof dir2, "%s/copy", f->dir);
    mkdir(dir2, 0700);
    char err[256];
    store_t *c = store_open(dir2, 16, err, sizeof err);
    assert_non_null(c);
    store_wset_t *w = store_wset_new();
    store_read_t *r = store_read_begin(f->s);
    uint64_t seq;
    const void *data;
    size_t len;
    for (uint64_t k = 1; store_read_seek(r, STORE_DB_AUDIT, k, 0, &seq, &data, &len) == STORE_OK;
         k = seq + 1)
        store_wset_audit(w, seq, data, len);
    assert_int_equal(store_read_seek(r, STORE_DB_CHECKPOINTS, 0, 0, &seq, &data, &len), STORE_OK);
    assert_int_equal(seq, 4);
    store_wset_checkpoint(w, seq, data, len);
    store_read_end(&r);
    assert_int_equal(store_commit(c, w), STORE_OK);
    assert_int_equal(audit_verify(c, pub, &rep), 1);
    assert_non_null(strstr(rep.why, "unsigned tail of 8 records"));
    /* Without the key the chain itself is intact. */
    assert_int_equal(audit_verify(c, NULL, &rep), 0);

    /* Only the middle one removed: the last does not follow the first. */
    store_close(&c);
    snprintf(dir2, sizeof dir2, "%s/copy2", f->dir);
    mkdir(dir2, 0700);
    c = store_open(dir2, 16, err, sizeof err);
    store_wset_clear(w);
    r = store_read_begin(f->s);
    for (uint64_t k = 1; store_read_seek(r, STORE_DB_AUDIT, k, 0, &seq, &data, &len) == STORE_OK;
         k = seq + 1)
        store_wset_audit(w, seq, data, len);
    for (uint64_t k = 0;
         store_read_seek(r, STORE_DB_CHECKPOINTS, k, 0, &seq, &data, &len) == STORE_OK; k = seq + 1)
        if (seq != 8)
            store_wset_checkpoint(w, seq, data, len);
    store_read_end(&r);
    assert_int_equal(store_commit(c, w), STORE_OK);
    assert_int_equal(audit_verify(c, pub, &rep), 1);
    assert_non_null(strstr(rep.why, "does not follow the one before it"));

    /* Every checkpoint removed: nothing signs the trail. */
    store_close(&c);
    snprintf(dir2, sizeof dir2, "%s/copy3", f->dir);
    mkdir(dir2, 0700);
    c = store_open(dir2, 16, err, sizeof err);
    store_wset_clear(w);
    r = store_read_begin(f->s);
    for (uint64_t k = 1; store_read_seek(r, STORE_DB_AUDIT, k, 0, &seq, &data, &len) == STORE_OK;
         k = seq + 1)
        store_wset_audit(w, seq, data, len);
    store_read_end(&r);
    assert_int_equal(store_commit(c, w), STORE_OK);
    assert_int_equal(audit_verify(c, pub, &rep), 1);
    assert_non_null(strstr(rep.why, "no signed checkpoint"));
    store_wset_free(&w);
    store_close(&c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_audit_records_appended_through_a_batch_verify),
        T(test_audit_a_format0_trail_goes_on_in_format2_as_one_chain),
        T(test_audit_a_refused_batch_leaves_no_fork),
        T(test_audit_aggregates_keep_their_outcome_and_topic_and_are_written_at_stop),
        T(test_audit_a_pass_discloses_in_one_record_per_recipient_and_topic),
        T(test_audit_verify_checks_every_message_a_collection_record_names),
        T(test_audit_gathered_text_is_bounded_as_a_record_holds_it),
        T(test_audit_stores_a_bounded_prefix_of_client_text),
        T(test_audit_verify_with_a_key_catches_removed_checkpoints_and_unsigned_tails),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
