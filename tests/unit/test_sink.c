/* test_sink.c — the agent's sinks (agent/sink.c) against real directories
 * and real commands in a temporary directory: one file per sequence under
 * its final name only once complete, failures named when the directory is
 * gone or is not a directory, commands given the message on stdin with
 * their exit status deciding, and JSON lines on stdout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"

static char dir[256];
static const char line[] = "{\"seq\":42,\"topic\":\"alert.y.x\",\"body\":\"hello\"}";

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/liaison-sink.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static size_t entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    size_t n = 0;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static sink_t *sink_ok(const char *spec)
{
    char err[256];
    sink_t *s = sink_new(spec, "regional", err, sizeof err);
    if (s == NULL)
        fail_msg("sink_new(%s): %s", spec, err);
    return s;
}

/* Polls a running command to its end, with a generous bound. */
static int finish(sink_t *s, char *why, size_t whylen)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 2000; i++) {
        int rc = sink_poll(s, why, whylen);
        if (rc != SINK_RUNNING)
            return rc;
        nanosleep(&ts, NULL);
    }
    fail_msg("command did not finish");
    return SINK_FAILED;
}

static const sink_item_t item = {
    .seq = 42, .topic = "alert.y.x", .msg_id = "hull-42", .notice = 0, .json = line};

/* ---- tests ------------------------------------------------------------------ */

static void test_sink_dir_writes_one_complete_file_per_sequence(void **state)
{
    (void)state;
    char spec[320], path[400], why[256];
    snprintf(spec, sizeof spec, "dir:%s/inbox", dir);
    sink_t *s = sink_ok(spec); /* creates the directory */
    assert_int_equal(sink_has(s, 42), 0);
    assert_int_equal(sink_put(s, &item, why, sizeof why), SINK_DONE);
    snprintf(path, sizeof path, "%s/inbox/000000000042.json", dir);
    char *got = slurp(path);
    assert_non_null(got);
    assert_string_equal(got, "{\"seq\":42,\"topic\":\"alert.y.x\",\"body\":\"hello\"}\n");
    free(got);
    /* Nothing but the final file: no temporary left behind. */
    snprintf(path, sizeof path, "%s/inbox", dir);
    assert_int_equal(entries(path), 1);
    assert_int_equal(sink_has(s, 42), 1);
    assert_int_equal(sink_has(s, 43), 0);
    sink_free(&s);
}

static void test_sink_dir_that_disappears_fails_and_then_recovers(void **state)
{
    (void)state;
    char spec[320], path[400], why[256];
    snprintf(spec, sizeof spec, "dir:%s/inbox", dir);
    snprintf(path, sizeof path, "%s/inbox", dir);
    sink_t *s = sink_ok(spec);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(sink_put(s, &item, why, sizeof why), SINK_FAILED);
    assert_non_null(strstr(why, "No such file or directory"));
    assert_non_null(strstr(why, path));
    /* Not re-created behind the operator's back (it may be a share that
     * is not mounted). */
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(sink_put(s, &item, why, sizeof why), SINK_DONE);
    assert_int_equal(sink_has(s, 42), 1);
    sink_free(&s);
}

static void test_sink_dir_that_is_not_writable_fails_with_the_reason(void **state)
{
    (void)state;
    char spec[320], path[400], why[256];
    snprintf(spec, sizeof spec, "dir:%s/inbox", dir);
    snprintf(path, sizeof path, "%s/inbox", dir);
    sink_t *s = sink_ok(spec);
    /* A file where the directory was: unwritable whoever runs the test
     * (root ignores a read-only mode, not ENOTDIR). */
    assert_int_equal(rmdir(path), 0);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sink_put(s, &item, why, sizeof why), SINK_FAILED);
    assert_non_null(strstr(why, "Not a directory"));
    assert_int_equal(sink_has(s, 42), 0);
    sink_free(&s);
}

static void test_sink_exec_gets_the_message_on_stdin_and_its_environment(void **state)
{
    (void)state;
    char spec[1200], out[400], env_out[400], why[256];
    snprintf(out, sizeof out, "%s/got.json", dir);
    snprintf(env_out, sizeof env_out, "%s/env.txt", dir);
    snprintf(spec, sizeof spec,
             "exec:cat > %s && echo \"$LIAISON_SEQ $LIAISON_SUBSCRIPTION $LIAISON_TOPIC "
             "$LIAISON_MSG_ID $LIAISON_NOTICE\" > %s",
             out, env_out);
    sink_t *s = sink_ok(spec);
    uint64_t seq = 0;
    assert_int_equal(sink_put(s, &item, why, sizeof why), SINK_RUNNING);
    assert_int_equal(sink_running(s, &seq), 1);
    assert_int_equal(seq, 42);
    assert_int_equal(finish(s, why, sizeof why), SINK_DONE);
    assert_int_equal(sink_running(s, NULL), 0);
    char *got = slurp(out);
    assert_non_null(got);
    assert_string_equal(got, "{\"seq\":42,\"topic\":\"alert.y.x\",\"body\":\"hello\"}\n");
    free(got);
    got = slurp(env_out);
    assert_non_null(got);
    assert_string_equal(got, "42 regional alert.y.x hull-42 0\n");
    free(got);
    sink_free(&s);
}

static void test_sink_exec_non_zero_exit_is_a_failure(void **state)
{
    (void)state;
    char why[256];
    sink_t *s = sink_ok("exec:cat >/dev/null; exit 3");
    assert_int_equal(sink_put(s, &item, why, sizeof why), SINK_RUNNING);
    assert_int_equal(finish(s, why, sizeof why), SINK_FAILED);
    assert_string_equal(why, "exec: command exited with status 3");
    /* The next delivery can run once the failed one is reaped. */
    assert_int_equal(sink_put(s, &item, why, sizeof why), SINK_RUNNING);
    assert_int_equal(finish(s, why, sizeof why), SINK_FAILED);
    sink_free(&s);
}

static void test_sink_exec_killed_command_is_a_failure(void **state)
{
    (void)state;
    char why[256];
    sink_t *s = sink_ok("exec:kill -9 $$");
    assert_int_equal(sink_put(s, &item, why, sizeof why), SINK_RUNNING);
    assert_int_equal(finish(s, why, sizeof why), SINK_FAILED);
    assert_string_equal(why, "exec: command killed by signal 9");
    sink_free(&s);
}

static void test_sink_exec_cancel_kills_the_command(void **state)
{
    (void)state;
    char why[256];
    sink_t *s = sink_ok("exec:sleep 60");
    assert_int_equal(sink_put(s, &item, why, sizeof why), SINK_RUNNING);
    assert_true(sink_deadline_in(s, 0) > 0);
    sink_cancel(s);
    assert_int_equal(sink_running(s, NULL), 0);
    sink_free(&s);
}

static void test_sink_stdout_writes_json_lines(void **state)
{
    (void)state;
    char path[400], why[256];
    snprintf(path, sizeof path, "%s/stdout.txt", dir);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    sink_t *s = sink_ok("stdout");
    int rc1 = sink_put(s, &item, why, sizeof why);
    int rc2 = sink_put(s, &item, why, sizeof why);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    assert_int_equal(rc1, SINK_DONE);
    assert_int_equal(rc2, SINK_DONE);
    char *got = slurp(path);
    assert_non_null(got);
    assert_string_equal(got, "{\"seq\":42,\"topic\":\"alert.y.x\",\"body\":\"hello\"}\n"
                             "{\"seq\":42,\"topic\":\"alert.y.x\",\"body\":\"hello\"}\n");
    free(got);
    assert_int_equal(sink_has(s, 42), 0); /* stdout cannot tell */
    sink_free(&s);
}

static void test_sink_refuses_an_unknown_spec(void **state)
{
    (void)state;
    char err[256];
    assert_null(sink_new("ftp:somewhere", "x", err, sizeof err));
    assert_non_null(strstr(err, "is not a sink"));
    assert_null(sink_new("dir:", "x", err, sizeof err));
    assert_null(sink_new("exec:", "x", err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sink_dir_writes_one_complete_file_per_sequence, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_dir_that_disappears_fails_and_then_recovers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_dir_that_is_not_writable_fails_with_the_reason,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_sink_exec_gets_the_message_on_stdin_and_its_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_exec_non_zero_exit_is_a_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_exec_killed_command_is_a_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_exec_cancel_kills_the_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_stdout_writes_json_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_refuses_an_unknown_spec, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
