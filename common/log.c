/* log.c — one line per event on stderr: UTC time, program, level, message.
 * Not responsible for the audit trail. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static enum log_level min_level = LOG_INFO;
static const char *program = "liaison";

void log_set_level(enum log_level level)
{
    min_level = level;
}

int log_level_parse(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < UTIL_LEN(names); i++)
        if (s && strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

void log_set_program(const char *name)
{
    program = name;
}

static void emit(enum log_level level, const char *fmt, va_list ap)
{
    static const char *tags[] = {"debug", "info", "warn", "error"};
    if (level < min_level)
        return;
    char stamp[32], line[2048];
    util_rfc3339(util_now_us(), stamp);
    vsnprintf(line, sizeof line, fmt, ap);
    /* One fprintf per line so lines from several processes sharing a
     * terminal do not interleave mid-line. */
    fprintf(stderr, "%s %s level=%s %s\n", stamp, program, tags[level], line);
}

#define LOG_FN(fn, level)                                                                          \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        emit(level, fmt, ap);                                                                      \
        va_end(ap);                                                                                \
    }
LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_error, LOG_ERROR)

void log_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(LOG_ERROR, fmt, ap);
    va_end(ap);
    exit(1);
}
