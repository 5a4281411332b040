/* log.h — one line per event on stderr: time, level, then key=value text.
 * Report an error once, where it is found. fatal() is for start-up only.
 * Values a client, an operator or the system chose (names, topics,
 * reasons, paths, error strings) go through log_q, so a quote or a newline
 * in one cannot break the line for a logfmt reader.
 * Not responsible for: the audit trail (broker/audit.c). */
#ifndef LIAISON_LOG_H
#define LIAISON_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Messages below `level` are dropped. Default LOG_INFO. */
void log_set_level(enum log_level level);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int log_level_parse(const char *s);
/* Tag printed on each line, e.g. "broker". Borrowed; must outlive logging.
 * Also reads $JOURNAL_STREAM: when set, stderr goes to journald, and each
 * line starts with its syslog priority (<3> error, <4> warn, <6> info,
 * <7> debug, sd-daemon(3)) instead of a time (journald stamps it). */
void log_set_program(const char *name);

/* Writes s as one logfmt value into out (outlen > 0; always terminated):
 * as it is when it needs no quotes, else in double quotes, with '"' and
 * '\' escaped by '\' and control bytes written \n, \r, \t or \xNN. Quotes
 * are needed for an empty value, a space, '=', '"' or a control byte.
 * Reads at most n bytes of s (stops at a NUL); NULL is the empty value.
 * A value too long for out is cut, ending in "..." (and still quoted).
 * Returns the length written. */
size_t log_escape(char *out, size_t outlen, const char *s, size_t n);
/* log_escape into one of LOG_Q_SLOTS buffers of this thread, taken in
 * turn: the result is valid until LOG_Q_SLOTS more calls on this thread,
 * so one log line may hold that many. For a printf "%s" argument. */
#define LOG_Q_SLOTS 8
const char *log_q(const char *s);
/* The same, of at most n bytes of s (for a value read off the wire). */
const char *log_qn(const char *s, size_t n);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs at error level and exits with status 1. Start-up only. */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
