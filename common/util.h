/* util.h — small helpers every program uses: allocation that aborts on
 * exhaustion, clocks, bounded string formatting, strict number and time
 * parsing, paths and small files, and the release's version.
 * Not responsible for: logging (log.h), anything protocol-specific. */
#ifndef LIAISON_UTIL_H
#define LIAISON_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The release every program reports with --version (liaisonctl today; the
 * broker's BROKER_VERSION and the agent's AGENT_VERSION are to follow it). */
#define LIAISON_VERSION "0.1.0"

/* Allocation: never returns NULL; out of memory aborts with a message,
 * because no caller can do anything better. Caller owns the result. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s); /* s may be NULL: returns "" copy */
char *xstrndup(const char *s, size_t n);

/* Microseconds since the epoch (wall clock, for stamps) and a monotonic
 * millisecond clock (for timers and timeouts). */
int64_t util_now_us(void);
int64_t util_mono_ms(void);

/* Formats microseconds since the epoch as RFC 3339 UTC with microseconds,
 * e.g. "2026-11-25T12:10:08.123456Z", into out (at least 32 bytes). */
void util_rfc3339(int64_t us, char out[32]);
/* Parses "YYYY-MM-DD" or RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac]Z".
 * Returns 0 and sets *us, or -1 if malformed. */
int util_parse_time(const char *s, int64_t *us);
/* Parses a moment as people type one on a command line (--since): what
 * util_parse_time takes, RFC 3339 with a numeric offset too
 * ("2026-12-01T10:00:00+01:00"), or a time that long before now_us: a
 * number and a unit s, m, h or d, one or more ("45s", "30m", "1h30m",
 * "2d"). Labels stay with util_parse_time: a label's date is strict.
 * Returns 0 and sets *us, or -1 if malformed. */
int util_parse_since(const char *s, int64_t now_us, int64_t *us);

/* Parses a whole decimal number within [min, max]: digits only, no sign,
 * no spaces, nothing after. Returns 0 and sets *out, or -1. */
int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parses a decimal number of seconds ("2", "0.5") within [min, max]:
 * digits with at most one '.', no sign, no exponent. Returns 0 or -1. */
int util_parse_seconds(const char *s, double min, double max, double *out);

/* Joins dir and a relative path into out; an absolute path is copied as is.
 * Returns 0, or -1 if it would not fit. */
int util_path_join(char *out, size_t outlen, const char *dir, const char *path);
/* The directory part of path ("." when none), into out. */
void util_dirname(char *out, size_t outlen, const char *path);

/* Creates dir and its parents with mode 0700. Returns 0 or -1 (errno set). */
int util_mkdirs(const char *dir);

/* Writes text to a new file of the given mode, whatever the umask, and
 * fsyncs it. Never replaces a file (O_EXCL): one that exists is refused
 * with a line saying so. A file that cannot be written whole is removed
 * again, so a retry is not refused by a half-written one. Returns 0, or -1
 * with a line naming path in err. */
int util_write_new(const char *path, const char *text, mode_t mode, char *err, size_t errlen);
/* Reads a small file that only its owner may use (a secret key): refuses
 * anything but a regular file, a file that group or others have any
 * permission on (err gives its mode and `chmod 600`), and one larger than
 * cap bytes. Returns 0 with the bytes in buf (not NUL-terminated) and their
 * number in *len, or -1 with a line naming path in err. */
int util_read_private(const char *path, char *buf, size_t cap, size_t *len, char *err,
                      size_t errlen);

/* A store file cut short: checks that path holds at least need bytes (the
 * end of the last page its store's meta page names). Returns 0, or -1 with
 * a line saying the file is truncated in err. A file that cannot be stat'ed
 * passes: the store's own open decides. */
int util_check_truncated(const char *path, uint64_t need, char *err, size_t errlen);

/* Whether v is a ZeroMQ endpoint Liaison can use: ipc://PATH, or
 * tcp://HOST:PORT with a port in 1..65535 (HOST a name, an address or an
 * [IPv6] address; `bind` also allows the port "*"). 0, or -1 with why. */
int util_endpoint_valid(const char *v, int bind, char *why, size_t whylen);

/* Number of elements of a fixed array. */
#define UTIL_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
