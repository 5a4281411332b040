/* log.c — one line per event on stderr: UTC time (or, to journald, a
 * syslog priority), program, level, message; and logfmt escaping of the
 * values in it. Not responsible for the audit trail. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static enum log_level min_level = LOG_INFO;
static const char *program = "liaison";
/* stderr is journald's (systemd sets $JOURNAL_STREAM for its services). */
static int to_journal;

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
    to_journal = getenv("JOURNAL_STREAM") != NULL;
}

/* The escape of one byte inside quotes, into e (5 bytes); its length. */
static size_t escape_byte(unsigned char c, char e[5])
{
    static const char hex[] = "0123456789abcdef";
    const char *named = c == '"'    ? "\\\""
                        : c == '\\' ? "\\\\"
                        : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t"
                                    : NULL;
    if (named) {
        memcpy(e, named, 2);
        return 2;
    }
    if (c < 0x20 || c == 0x7f) {
        e[0] = '\\', e[1] = 'x', e[2] = hex[c >> 4], e[3] = hex[c & 15];
        return 4;
    }
    e[0] = (char)c;
    return 1;
}

size_t log_escape(char *out, size_t outlen, const char *s, size_t n)
{
    if (s == NULL)
        s = "";
    size_t len = strnlen(s, n), quoted = 2;
    int quote = len == 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[5];
        quoted += escape_byte(c, e);
        if (c == ' ' || c == '=' || c == '"' || c < 0x20 || c == 0x7f)
            quote = 1;
    }
    if (!quote && len < outlen) {
        memcpy(out, s, len);
        out[len] = '\0';
        return len;
    }
    /* Quoted; if cut, the cut falls between escapes and "..." says so
     * inside the quotes, so the line still parses. */
    if (outlen < 6) {
        out[0] = '\0';
        return 0;
    }
    int cut = quoted + 1 > outlen;
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        char e[5];
        size_t k = escape_byte((unsigned char)s[i], e);
        if (cut && o + k + 5 > outlen)
            break;
        memcpy(out + o, e, k);
        o += k;
    }
    if (cut) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}

const char *log_qn(const char *s, size_t n)
{
    /* Enough for a long reason; a longer value is cut, still closed. */
    static _Thread_local char slots[LOG_Q_SLOTS][768];
    static _Thread_local unsigned next;
    char *out = slots[next++ % LOG_Q_SLOTS];
    log_escape(out, sizeof slots[0], s, n);
    return out;
}

const char *log_q(const char *s)
{
    return log_qn(s, (size_t)-1);
}

/* A line cut at the buffer's end: end it so it still parses and says so
 * (truncated=1): inside a quoted value, cut before an escape the end
 * split and close the quotes; else cut at the last space, so no key is
 * left without its value. */
static void close_cut(char *line, size_t size)
{
    static const char mark[] = "\" truncated=1";
    size_t end = size - sizeof mark, i = 0, last_space = 0;
    int quoted = 0;
    while (i < end) {
        if (quoted && line[i] == '\\') {
            size_t len = line[i + 1] == 'x' ? 4 : 2;
            if (i + len > end)
                break;
            i += len;
            continue;
        }
        if (line[i] == '"')
            quoted = !quoted;
        else if (!quoted && line[i] == ' ')
            last_space = i;
        i++;
    }
    if (quoted)
        snprintf(line + i, size - i, "%s", mark);
    else
        snprintf(line + last_space, size - last_space, "%s", mark + 1);
}

static void emit(enum log_level level, const char *fmt, va_list ap)
{
    static const char *tags[] = {"debug", "info", "warn", "error"};
    static const int priorities[] = {7, 6, 4, 3}; /* syslog's, per tag */
    if (level < min_level)
        return;
    char line[2048];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n >= (int)sizeof line)
        close_cut(line, sizeof line);
    /* One fprintf per line so lines from several processes sharing a
     * terminal do not interleave mid-line. */
    if (to_journal) {
        fprintf(stderr, "<%d>%s level=%s %s\n", priorities[level], program, tags[level], line);
        return;
    }
    char stamp[32];
    util_rfc3339(util_now_us(), stamp);
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
