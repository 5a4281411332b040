/* test_spool.c — the spool source (agent/spool.c) with a real outbox
 * (agent/outbox.c) and real files in a temporary directory: valid files go
 * into the outbox and then to done/; invalid ones (malformed, oversized,
 * not UTF-8, bad label, two messages, empty) to rejected/ with a .error
 * naming the problem; a file found again after a crash is not taken twice;
 * inotify notices files renamed in; a full outbox leaves files waiting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outbox.h"
#include "spool.h"
#include "wire.h"

static char dir[256];
static char spool_dir[300];
static char data_dir[300];

static const char valid[] =
    "{\"topic\":\"alert.yorkshire.hmp-hull.contraband\",\"classification\":\"OFFICIAL-SENSITIVE\","
    "\"caveats\":[\"PRISON-INTEL\"],\"grading\":\"2B\",\"handling\":\"P\",\"risk\":\"MEDIUM\","
    "\"content_type\":\"text/plain\",\"body\":\"Drone drop expected on C wing.\"}\n";

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/liaison-spool.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(spool_dir, sizeof spool_dir, "%s/spool", dir);
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void put_file(const char *rel, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", spool_dir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void put_text(const char *rel, const char *text)
{
    put_file(rel, text, strlen(text));
}

/* As agencies are told to: written under a hidden name, renamed in. */
static void rename_in(const char *name, const char *text)
{
    char tmp[1024], path[1024];
    snprintf(tmp, sizeof tmp, ".%s.tmp", name);
    put_text(tmp, text);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", spool_dir, name);
    snprintf(path, sizeof path, "%s/%s", spool_dir, name);
    assert_int_equal(rename(tmp, path), 0);
}

static int present(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", spool_dir, rel);
    return access(path, F_OK) == 0;
}

static char *slurp(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", spool_dir, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 8192);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 8191, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static outbox_t *outbox_ok(unsigned map_mb)
{
    char err[256];
    outbox_t *o = outbox_open(data_dir, map_mb, err, sizeof err);
    if (o == NULL)
        fail_msg("outbox_open: %s", err);
    return o;
}

static spool_t *spool_ok(void)
{
    char err[256];
    spool_t *s = spool_open(spool_dir, err, sizeof err);
    if (s == NULL)
        fail_msg("spool_open: %s", err);
    return s;
}

/* The spool directory must exist before files are put in it. */
static void make_spool(void)
{
    assert_int_equal(mkdir(spool_dir, 0700), 0);
}

/* Takes one file that must be rejected, and returns its .error text. */
static char *rejected(const char *name, const void *data, size_t len)
{
    char rel[400];
    make_spool();
    put_file(name, data, len);
    outbox_t *o = outbox_ok(16);
    spool_t *s = spool_ok();
    assert_int_equal(spool_take(s, o, 16), 1);
    assert_int_equal(outbox_count(o), 0);
    assert_false(present(name));
    snprintf(rel, sizeof rel, "rejected/%s", name);
    assert_true(present(rel));
    snprintf(rel, sizeof rel, "rejected/%s.error", name);
    char *err = slurp(rel);
    assert_non_null(err);
    assert_non_null(strstr(err, "rejected_by: liaison-agent\n"));
    spool_close(&s);
    outbox_close(&o);
    return err;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_spool_takes_a_valid_file_into_the_outbox_then_moves_it_to_done(void **state)
{
    (void)state;
    make_spool();
    put_text("hull-1.json", valid);
    outbox_t *o = outbox_ok(16);
    spool_t *s = spool_ok(); /* scans on open */
    assert_int_equal(spool_waiting(s), 1);
    assert_int_equal(spool_take(s, o, 16), 1);
    assert_int_equal(spool_waiting(s), 0);
    assert_false(present("hull-1.json"));
    assert_true(present("done/hull-1.json"));

    outbox_entry_t e;
    assert_int_equal(outbox_next(o, 0, &e), OUTBOX_OK);
    assert_string_equal(e.m->topic, "alert.yorkshire.hmp-hull.contraband");
    assert_string_equal(e.source, "hull-1.json");
    /* No msg_id in the file: one derived from its name and content. */
    assert_memory_equal(e.m->msg_id, "spool-", 6);
    assert_int_equal(strlen(e.m->msg_id), 6 + 32);
    outbox_entry_clear(&e);
    spool_close(&s);
    outbox_close(&o);
}

static void test_spool_keeps_the_msg_id_the_agency_gave(void **state)
{
    (void)state;
    make_spool();
    put_text("a.json",
             "{\"topic\":\"alert.y.z\",\"msg_id\":\"hull-2026-000123\",\"classification\":"
             "\"OFFICIAL\",\"grading\":\"1A\",\"handling\":\"P\",\"risk\":\"LOW\"}");
    outbox_t *o = outbox_ok(16);
    spool_t *s = spool_ok();
    assert_int_equal(spool_take(s, o, 16), 1);
    outbox_entry_t e;
    assert_int_equal(outbox_next(o, 0, &e), OUTBOX_OK);
    assert_string_equal(e.m->msg_id, "hull-2026-000123");
    outbox_entry_clear(&e);
    spool_close(&s);
    outbox_close(&o);
}

static void test_spool_rejects_malformed_json_naming_where(void **state)
{
    (void)state;
    char *err = rejected("bad.json", "{\"topic\": \"alert.y.z\",\n  \"risk\" LOW }", 38);
    assert_non_null(strstr(err, "file: bad.json\n"));
    assert_non_null(strstr(err, "reason: invalid JSON at line 2"));
    free(err);
}

static void test_spool_rejects_an_oversized_file_unread(void **state)
{
    (void)state;
    size_t len = SPOOL_MAX_FILE + 1;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, ' ', len);
    big[0] = '{';
    big[len - 1] = '}';
    char *err = rejected("big.json", big, len);
    assert_non_null(strstr(err, "over the 1048576-byte limit"));
    free(big);
    free(err);
}

static void test_spool_rejects_text_that_is_not_utf8(void **state)
{
    (void)state;
    static const char latin1[] = "{\"topic\":\"alert.y.z\",\"classification\":\"OFFICIAL\","
                                 "\"grading\":\"2B\",\"handling\":\"P\",\"risk\":\"LOW\","
                                 "\"body\":\"caf\xe9 on C wing\"}";
    char *err = rejected("latin1.json", latin1, sizeof latin1 - 1);
    assert_non_null(strstr(err, "reason: invalid JSON"));
    /* The reason never quotes the body. */
    assert_null(strstr(err, "C wing"));
    free(err);
}

static void test_spool_rejects_a_label_that_does_not_validate(void **state)
{
    (void)state;
    static const char no_grading[] = "{\"topic\":\"alert.y.z\",\"classification\":\"SECRET\","
                                     "\"handling\":\"P\",\"risk\":\"LOW\"}";
    char *err = rejected("nograde.json", no_grading, sizeof no_grading - 1);
    assert_non_null(strstr(err, "reason: BAD_GRADING: source grade must be 1-3"));
    free(err);
}

static void test_spool_rejects_an_unknown_key(void **state)
{
    (void)state;
    static const char typo[] = "{\"topic\":\"alert.y.z\",\"clasification\":\"SECRET\"}";
    char *err = rejected("typo.json", typo, sizeof typo - 1);
    assert_non_null(strstr(err, "unknown key \"clasification\""));
    free(err);
}

static void test_spool_rejects_two_messages_in_one_file(void **state)
{
    (void)state;
    char two[2048];
    snprintf(two, sizeof two, "%s%s", valid, valid);
    char *err = rejected("two.json", two, strlen(two));
    assert_non_null(strstr(err, "more than one JSON value"));
    free(err);
}

static void test_spool_rejects_an_empty_file(void **state)
{
    (void)state;
    char *err = rejected("empty.json", "\n", 1);
    assert_non_null(strstr(err, "empty file"));
    free(err);
}

static void test_spool_takes_a_file_found_again_after_a_crash_only_once(void **state)
{
    (void)state;
    char path[1024], back[600];
    make_spool();
    put_text("hull-3.json", valid);
    outbox_t *o = outbox_ok(16);
    spool_t *s = spool_ok();
    assert_int_equal(spool_take(s, o, 16), 1);
    spool_close(&s);
    /* As if the agent died after the outbox commit and before the move:
     * the same file is back in the spool. */
    snprintf(path, sizeof path, "%s/done/hull-3.json", spool_dir);
    snprintf(back, sizeof back, "%s/hull-3.json", spool_dir);
    assert_int_equal(link(path, back), 0);
    s = spool_ok();
    assert_int_equal(spool_take(s, o, 16), 1);
    assert_int_equal(outbox_count(o), 1);
    assert_false(present("hull-3.json"));
    /* Kept in done/ under a name that does not overwrite the first. */
    assert_true(present("done/hull-3.json"));
    assert_true(present("done/hull-3.1.json"));
    spool_close(&s);
    outbox_close(&o);
}

static void test_spool_rejects_a_msg_id_reused_for_other_content(void **state)
{
    (void)state;
    make_spool();
    put_text("a.json", "{\"topic\":\"alert.y.a\",\"msg_id\":\"same\",\"classification\":"
                       "\"OFFICIAL\",\"grading\":\"1A\",\"handling\":\"P\",\"risk\":\"LOW\"}");
    put_text("b.json", "{\"topic\":\"alert.y.b\",\"msg_id\":\"same\",\"classification\":"
                       "\"OFFICIAL\",\"grading\":\"1A\",\"handling\":\"P\",\"risk\":\"LOW\"}");
    outbox_t *o = outbox_ok(16);
    spool_t *s = spool_ok();
    assert_int_equal(spool_take(s, o, 16), 2); /* name order: a.json first */
    assert_int_equal(outbox_count(o), 1);
    assert_true(present("done/a.json"));
    char *err = slurp("rejected/b.json.error");
    assert_non_null(err);
    assert_non_null(strstr(err, "msg_id \"same\" was already used for a different message"));
    free(err);
    spool_close(&s);
    outbox_close(&o);
}

static void test_spool_leaves_hidden_and_other_names_alone(void **state)
{
    (void)state;
    make_spool();
    put_text(".half-written.json", "{\"topic\":");
    put_text("notes.txt", "not for us");
    put_text("x.json.part", "{");
    outbox_t *o = outbox_ok(16);
    spool_t *s = spool_ok();
    assert_int_equal(spool_take(s, o, 16), 0);
    assert_true(present(".half-written.json"));
    assert_true(present("notes.txt"));
    assert_true(present("x.json.part"));
    spool_close(&s);
    outbox_close(&o);
}

static void test_spool_notices_a_file_renamed_in(void **state)
{
    (void)state;
    outbox_t *o = outbox_ok(16);
    spool_t *s = spool_ok(); /* creates the spool */
    assert_int_equal(spool_take(s, o, 16), 0);
    assert_int_equal(spool_waiting(s), 0);
    rename_in("new.json", valid);
    spool_on_events(s);
    assert_int_equal(spool_waiting(s), 1);
    assert_int_equal(spool_take(s, o, 16), 1);
    assert_true(present("done/new.json"));
    assert_int_equal(outbox_count(o), 1);
    spool_close(&s);
    outbox_close(&o);
}

static void test_spool_gives_a_broker_refusal_its_error_file(void **state)
{
    (void)state;
    make_spool();
    put_text("hull-4.json", valid);
    outbox_t *o = outbox_ok(16);
    spool_t *s = spool_ok();
    assert_int_equal(spool_take(s, o, 16), 1);
    spool_refused(s, "hull-4.json", "TOPIC_NOT_PERMITTED: refused by rule topic");
    assert_false(present("done/hull-4.json"));
    assert_true(present("rejected/hull-4.json"));
    char *err = slurp("rejected/hull-4.json.error");
    assert_non_null(err);
    assert_non_null(strstr(err, "rejected_by: broker\n"));
    assert_non_null(strstr(err, "reason: TOPIC_NOT_PERMITTED: refused by rule topic\n"));
    free(err);
    spool_close(&s);
    outbox_close(&o);
}

static void test_spool_leaves_files_waiting_when_the_outbox_is_full(void **state)
{
    (void)state;
    char name[64];
    /* Bodies of ~700 KB: a 1 MiB map holds one, not two. */
    size_t body = 700 * 1024;
    char *text = malloc(body + 256);
    assert_non_null(text);
    make_spool();
    for (int i = 0; i < 3; i++) {
        int n =
            snprintf(text, 256,
                     "{\"topic\":\"alert.y.z\",\"classification\":\"OFFICIAL\",\"grading\":"
                     "\"2B\",\"handling\":\"P\",\"risk\":\"LOW\",\"msg_id\":\"big-%d\",\"body\":\"",
                     i);
        memset(text + n, 'x', body);
        strcpy(text + n + body, "\"}");
        snprintf(name, sizeof name, "big-%d.json", i);
        put_text(name, text);
    }
    free(text);
    outbox_t *o = outbox_ok(1);
    spool_t *s = spool_ok();
    int took = 0, rc;
    /* One at a time, as a batch would be refused whole. */
    while ((rc = spool_take(s, o, 1)) == 1)
        took++;
    assert_int_equal(rc, -1);
    assert_true(took >= 1 && took < 3);
    assert_int_equal(outbox_count(o), (uint64_t)took);
    /* Not rejected, not lost: still in the spool for the next try. */
    snprintf(name, sizeof name, "big-%d.json", took);
    assert_true(present(name));
    assert_int_equal(spool_waiting(s), 1);
    spool_close(&s);
    outbox_close(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_spool_takes_a_valid_file_into_the_outbox_then_moves_it_to_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_keeps_the_msg_id_the_agency_gave, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_rejects_malformed_json_naming_where, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_rejects_an_oversized_file_unread, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_rejects_text_that_is_not_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_rejects_a_label_that_does_not_validate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_rejects_an_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_rejects_two_messages_in_one_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_rejects_an_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_takes_a_file_found_again_after_a_crash_only_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_rejects_a_msg_id_reused_for_other_content, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_leaves_hidden_and_other_names_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_notices_a_file_renamed_in, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_gives_a_broker_refusal_its_error_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_leaves_files_waiting_when_the_outbox_is_full,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
