/* test_util.c — the strict parsers of common/util.c that the command lines
 * rely on: whole numbers, seconds, label times (strict: UTC only) and
 * --since moments (offsets and "how long ago" too); and the small-file
 * helpers secret keys are written and read with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

/* 2026-12-01T10:00:00Z in seconds since the epoch. */
#define DEC1_10H 1796119200LL

static void test_util_since_takes_offsets_and_how_long_ago(void **state)
{
    (void)state;
    int64_t us = 0, now = (DEC1_10H + 3600) * 1000000LL;
    assert_int_equal(util_parse_since("2026-12-01T10:00:00Z", now, &us), 0);
    assert_int_equal(us, DEC1_10H * 1000000LL);
    assert_int_equal(util_parse_since("2026-12-01T11:00:00+01:00", now, &us), 0);
    assert_int_equal(us, DEC1_10H * 1000000LL);
    assert_int_equal(util_parse_since("2026-12-01T05:30:00-04:30", now, &us), 0);
    assert_int_equal(us, DEC1_10H * 1000000LL);
    assert_int_equal(util_parse_since("1h", now, &us), 0);
    assert_int_equal(us, DEC1_10H * 1000000LL);
    assert_int_equal(util_parse_since("30m30m", now, &us), 0);
    assert_int_equal(us, DEC1_10H * 1000000LL);
    assert_int_equal(util_parse_since("45s", now, &us), 0);
    assert_int_equal(us, now - 45 * 1000000LL);
    assert_int_equal(util_parse_since("2d", now, &us), 0);
    assert_int_equal(us, now - 2 * 86400 * 1000000LL);
    assert_int_equal(util_parse_since("2026-12-01", now, &us), 0);
    assert_int_equal(us, (DEC1_10H - 36000) * 1000000LL);
}

static void test_util_since_refuses_what_is_not_a_time(void **state)
{
    (void)state;
    int64_t us = 0, now = DEC1_10H * 1000000LL;
    const char *bad[] = {"",
                         "h",
                         "1",
                         "1x",
                         "-1h",
                         "1h ",
                         " 1h",
                         "1.5h",
                         "yesterday",
                         "1h-2",
                         "2026-12-01T10:00:00+25:00",
                         "2026-12-01T10:00:00+01",
                         "2026-12-01T10:00:00+0100",
                         "2026-12-01T10:00:00"};
    for (size_t i = 0; i < UTIL_LEN(bad); i++)
        assert_int_equal(util_parse_since(bad[i], now, &us), -1);
}

static void test_util_label_times_stay_utc_only(void **state)
{
    (void)state;
    int64_t us = 0;
    assert_int_equal(util_parse_time("2026-12-01T10:00:00Z", &us), 0);
    assert_int_equal(us, DEC1_10H * 1000000LL);
    assert_int_equal(util_parse_time("2026-12-01T10:00:00.5Z", &us), 0);
    assert_int_equal(us, DEC1_10H * 1000000LL + 500000);
    assert_int_equal(util_parse_time("2026-12-01T11:00:00+01:00", &us), -1);
    assert_int_equal(util_parse_time("1h", &us), -1);
}

static void test_util_numbers_are_whole_and_in_range(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(util_parse_u64("42", 1, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(util_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, UINT64_MAX);
    const char *bad[] = {"",   "abc", "-5",   "+5",  " 5",
                         "5 ", "5x",  "0x10", "1e3", "18446744073709551616"};
    for (size_t i = 0; i < UTIL_LEN(bad); i++)
        assert_int_equal(util_parse_u64(bad[i], 0, UINT64_MAX, &v), -1);
    assert_int_equal(util_parse_u64("0", 1, 100, &v), -1);
    assert_int_equal(util_parse_u64("101", 1, 100, &v), -1);
}

static void test_util_seconds_take_fractions_but_nothing_else(void **state)
{
    (void)state;
    double s = 0;
    assert_int_equal(util_parse_seconds("0.5", 0, 10, &s), 0);
    assert_true(s == 0.5);
    assert_int_equal(util_parse_seconds("2", 0, 10, &s), 0);
    assert_true(s == 2.0);
    const char *bad[] = {"", ".", "-1", "1e3", "1.2.3", "inf", "nan", "0x1p3", " 1", "11"};
    for (size_t i = 0; i < UTIL_LEN(bad); i++)
        assert_int_equal(util_parse_seconds(bad[i], 0, 10, &s), -1);
}

/* A temporary directory and the path of one file in it. */
struct files {
    char dir[64], path[128];
};

static void files_begin(struct files *f, const char *name)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/liaison-test-util-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
}

static void files_end(struct files *f)
{
    unlink(f->path);
    assert_int_equal(rmdir(f->dir), 0);
}

static void test_util_write_new_makes_the_mode_asked_and_never_replaces(void **state)
{
    (void)state;
    struct files f;
    char err[512] = "", buf[64];
    size_t n = 0;
    struct stat st;
    files_begin(&f, "secret");
    mode_t old = umask(0077);
    assert_int_equal(util_write_new(f.path, "first\n", 0600, err, sizeof err), 0);
    umask(old);
    assert_int_equal(stat(f.path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(util_write_new(f.path, "second\n", 0600, err, sizeof err), -1);
    assert_non_null(strstr(err, "already exists"));
    assert_int_equal(util_read_private(f.path, buf, sizeof buf, &n, err, sizeof err), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "first\n", 6);
    files_end(&f);
}

static void test_util_read_private_refuses_what_others_may_use(void **state)
{
    (void)state;
    struct files f;
    char err[512] = "", buf[8];
    size_t n = 0;
    files_begin(&f, "secret");
    assert_int_equal(util_write_new(f.path, "0123456789", 0640, err, sizeof err), 0);
    assert_int_equal(util_read_private(f.path, buf, sizeof buf, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "mode 0640"));
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(f.path, 0600), 0);
    /* Larger than the caller holds. */
    assert_int_equal(util_read_private(f.path, buf, sizeof buf, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, f.path));
    unlink(f.path);
    /* A FIFO in a key's place is refused at once, not waited on. */
    assert_int_equal(mkfifo(f.path, 0600), 0);
    err[0] = '\0';
    assert_int_equal(util_read_private(f.path, buf, sizeof buf, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    files_end(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util_since_takes_offsets_and_how_long_ago),
        cmocka_unit_test(test_util_since_refuses_what_is_not_a_time),
        cmocka_unit_test(test_util_label_times_stay_utc_only),
        cmocka_unit_test(test_util_numbers_are_whole_and_in_range),
        cmocka_unit_test(test_util_seconds_take_fractions_but_nothing_else),
        cmocka_unit_test(test_util_write_new_makes_the_mode_asked_and_never_replaces),
        cmocka_unit_test(test_util_read_private_refuses_what_others_may_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
