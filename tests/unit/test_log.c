/* test_log.c — common/log.c: values escaped the logfmt way (quoted only
 * when they must be, quotes, backslashes and control bytes escaped, cut
 * values still closed), and the journald form of a line (a syslog
 * priority first, no time of its own) beside the terminal form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static void test_log_quotes_only_values_that_need_it(void **state)
{
    (void)state;
    assert_string_equal(log_q("humberside.gov.uk"), "humberside.gov.uk");
    assert_string_equal(log_q("intel/uk/humberside"), "intel/uk/humberside");
    assert_string_equal(log_q("two words"), "\"two words\"");
    assert_string_equal(log_q("a=b"), "\"a=b\"");
    assert_string_equal(log_q(""), "\"\"");
    assert_string_equal(log_q(NULL), "\"\"");
}

static void test_log_escapes_quotes_backslashes_and_control_bytes(void **state)
{
    (void)state;
    assert_string_equal(log_q("say \"hi\""), "\"say \\\"hi\\\"\"");
    assert_string_equal(log_q("a\"b"), "\"a\\\"b\"");
    assert_string_equal(log_q("x\ny"), "\"x\\ny\"");
    assert_string_equal(log_q("x\ty\r"), "\"x\\ty\\r\"");
    assert_string_equal(log_q("bell\a"), "\"bell\\x07\"");
    assert_string_equal(log_q("del\x7f"), "\"del\\x7f\"");
    /* A backslash alone needs no quotes; inside quotes it is doubled. */
    assert_string_equal(log_q("C:\\x"), "C:\\x");
    assert_string_equal(log_q("C:\\x y"), "\"C:\\\\x y\"");
    /* UTF-8 passes through. */
    assert_string_equal(log_q("caf\xc3\xa9"), "caf\xc3\xa9");
}

static void test_log_several_values_in_one_line_stay_apart(void **state)
{
    (void)state;
    char line[256];
    snprintf(line, sizeof line, "a=%s b=%s c=%s", log_q("x y"), log_q("z"), log_q("q\""));
    assert_string_equal(line, "a=\"x y\" b=z c=\"q\\\"\"");
}

static void test_log_cut_values_stay_closed(void **state)
{
    (void)state;
    char out[16];
    size_t n = log_escape(out, sizeof out, "a very long value with spaces", (size_t)-1);
    assert_int_equal(n, strlen(out));
    assert_true(n < sizeof out);
    assert_int_equal(out[0], '"');
    assert_int_equal(out[n - 1], '"');
    assert_memory_equal(out + n - 4, "...", 3);
    /* An escape is never split. */
    n = log_escape(out, sizeof out, "\"\"\"\"\"\"\"\"\"\"", (size_t)-1);
    assert_int_equal(out[n - 1], '"');
    assert_int_equal(out[n - 2], '.');
    for (size_t i = 1; i + 4 < n; i += 2)
        assert_memory_equal(out + i, "\\\"", 2);
    /* Unquoted, cut: quoted then, so the "..." is part of the value. */
    n = log_escape(out, sizeof out, "abcdefghijklmnopqrstuvwxyz", (size_t)-1);
    assert_int_equal(out[0], '"');
    assert_int_equal(out[n - 1], '"');
    /* n bytes at most. */
    assert_string_equal(log_qn("abcdef", 3), "abc");
    assert_string_equal(log_qn("ab\"def", 3), "\"ab\\\"\"");
}

/* Runs fn with stderr going to a file, and returns what it wrote. */
static char *capture_stderr(void (*fn)(void))
{
    char path[] = "/tmp/test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    static char text[4096];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return text;
}

static void log_four(void)
{
    log_set_level(LOG_DEBUG);
    log_error("event=e");
    log_warn("event=w");
    log_info("event=i");
    log_debug("event=d");
    log_set_level(LOG_INFO);
}

static void test_log_to_journald_starts_with_priority_and_no_time(void **state)
{
    (void)state;
    setenv("JOURNAL_STREAM", "8:1234", 1);
    log_set_program("test");
    const char *text = capture_stderr(log_four);
    assert_string_equal(text, "<3>test level=error event=e\n"
                              "<4>test level=warn event=w\n"
                              "<6>test level=info event=i\n"
                              "<7>test level=debug event=d\n");
    unsetenv("JOURNAL_STREAM");
    log_set_program("test");
}

static void test_log_to_a_terminal_starts_with_the_time(void **state)
{
    (void)state;
    unsetenv("JOURNAL_STREAM");
    log_set_program("test");
    const char *text = capture_stderr(log_four);
    /* 2026-12-02T05:42:08.123456Z test level=error event=e */
    assert_true(text[0] >= '2' && text[0] <= '9');
    assert_non_null(strstr(text, "Z test level=error event=e\n"));
    assert_null(strchr(text, '<'));
}

static void log_too_long(void)
{
    char big[700];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[10] = ' ';
    big[20] = '"';
    log_info("event=long a=%s b=%s c=%s d=%s", log_q(big), log_q(big), log_q(big), log_q(big));
}

static void test_log_a_cut_line_still_closes_its_quotes(void **state)
{
    (void)state;
    unsetenv("JOURNAL_STREAM");
    log_set_program("test");
    const char *text = capture_stderr(log_too_long);
    size_t n = strlen(text);
    assert_true(n > 1000);
    assert_string_equal(text + n - strlen("\" truncated=1\n"), "\" truncated=1\n");
    /* Balanced quotes outside escapes: an even number. */
    int quotes = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\\')
            i++;
        else if (text[i] == '"')
            quotes++;
    }
    assert_int_equal(quotes % 2, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_quotes_only_values_that_need_it),
        cmocka_unit_test(test_log_escapes_quotes_backslashes_and_control_bytes),
        cmocka_unit_test(test_log_several_values_in_one_line_stay_apart),
        cmocka_unit_test(test_log_cut_values_stay_closed),
        cmocka_unit_test(test_log_to_journald_starts_with_priority_and_no_time),
        cmocka_unit_test(test_log_to_a_terminal_starts_with_the_time),
        cmocka_unit_test(test_log_a_cut_line_still_closes_its_quotes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
