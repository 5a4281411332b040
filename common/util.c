/* util.c — allocation that aborts on exhaustion, clocks, time formatting and
 * parsing, strict numbers, paths, and small files: written new, or read
 * only when private to their owner.
 * Not responsible for logging or anything protocol-specific. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
    fprintf(stderr, "liaison: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        oom(count * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s ? s : "", s ? strlen(s) : 0);
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int64_t util_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t util_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_rfc3339(int64_t us, char out[32])
{
    time_t secs = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    struct tm tm;
    char buf[96];
    gmtime_r(&secs, &tm);
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    snprintf(out, 32, "%.31s", buf);
}

/* Reads exactly `n` digits; returns -1 if any is not a digit. */
static long digits(const char *s, int n)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int days_in_month(long y, long m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

/* Reads "Z", or with offsets allowed "+HH:MM" / "-HH:MM", which must end
 * the string. Sets *east_s to the offset east of UTC. Returns 0 or -1. */
static int zone(const char *p, int offsets, long *east_s)
{
    *east_s = 0;
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0')
        return 0;
    if (!offsets || (p[0] != '+' && p[0] != '-') || strlen(p) != 6 || p[3] != ':')
        return -1;
    long h = digits(p + 1, 2), m = digits(p + 4, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59)
        return -1;
    *east_s = (p[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return 0;
}

/* A date, or a date and time with its zone: "Z" always, a numeric offset
 * only when offsets is set. */
static int parse_instant(const char *s, int offsets, int64_t *us)
{
    if (s == NULL)
        return -1;
    size_t n = strlen(s);
    if (n < 10 || s[4] != '-' || s[7] != '-')
        return -1;
    long y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    long h = 0, mi = 0, se = 0, frac = 0, east = 0;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    const char *p = s + 10;
    if (*p != '\0') {
        if ((*p != 'T' && *p != 't' && *p != ' ') || strlen(p) < 10 || p[3] != ':' || p[6] != ':')
            return -1;
        h = digits(p + 1, 2);
        mi = digits(p + 4, 2);
        se = digits(p + 7, 2);
        if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
            return -1;
        p += 9;
        if (*p == '.') {
            int nd = 0;
            p++;
            while (*p >= '0' && *p <= '9') {
                if (nd < 6) {
                    frac = frac * 10 + (*p - '0');
                    nd++;
                }
                p++;
            }
            if (nd == 0)
                return -1;
            for (; nd < 6; nd++)
                frac *= 10;
        }
        if (zone(p, offsets, &east) != 0)
            return -1;
    }
    struct tm tm = {0};
    tm.tm_year = (int)y - 1900;
    tm.tm_mon = (int)mo - 1;
    tm.tm_mday = (int)d;
    tm.tm_hour = (int)h;
    tm.tm_min = (int)mi;
    tm.tm_sec = (int)se;
    time_t t = timegm(&tm);
    *us = ((int64_t)t - east) * 1000000 + frac;
    return 0;
}

int util_parse_time(const char *s, int64_t *us)
{
    return parse_instant(s, 0, us);
}

/* "1h30m": one or more number-and-unit pairs, as seconds. Returns 0 or -1. */
static int parse_ago(const char *s, int64_t *secs)
{
    int64_t total = 0;
    if (*s == '\0')
        return -1;
    while (*s != '\0') {
        int64_t v = 0;
        const char *start = s;
        for (; *s >= '0' && *s <= '9'; s++) {
            v = v * 10 + (*s - '0');
            if (v > 100000000) /* over three years of days: a typo */
                return -1;
        }
        if (s == start)
            return -1;
        int64_t unit = *s == 's' ? 1 : *s == 'm' ? 60 : *s == 'h' ? 3600 : *s == 'd' ? 86400 : 0;
        if (unit == 0)
            return -1;
        s++;
        total += v * unit;
    }
    *secs = total;
    return 0;
}

int util_parse_since(const char *s, int64_t now_us, int64_t *us)
{
    int64_t ago;
    if (s == NULL)
        return -1;
    if (parse_ago(s, &ago) == 0) {
        *us = now_us - ago * 1000000;
        return *us > 0 ? 0 : -1;
    }
    return parse_instant(s, 1, us);
}

int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s == NULL || *s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int util_parse_seconds(const char *s, double min, double max, double *out)
{
    int dots = 0, nd = 0;
    if (s == NULL)
        return -1;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '.')
            dots++;
        else if (*p >= '0' && *p <= '9')
            nd++;
        else
            return -1;
    }
    if (nd == 0 || dots > 1 || nd > 12)
        return -1;
    double v = strtod(s, NULL);
    if (!(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

int util_path_join(char *out, size_t outlen, const char *dir, const char *path)
{
    int n;
    if (path[0] == '/' || dir == NULL || dir[0] == '\0')
        n = snprintf(out, outlen, "%s", path);
    else
        n = snprintf(out, outlen, "%s/%s", dir, path);
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

void util_dirname(char *out, size_t outlen, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(out, outlen, ".");
    } else if (slash == path) {
        snprintf(out, outlen, "/");
    } else {
        snprintf(out, outlen, "%.*s", (int)(slash - path), path);
    }
}

int util_mkdirs(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* The whole of text, retrying short writes (a write may stop early). */
static int write_all(int fd, const char *text, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, text, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        text += w;
        n -= (size_t)w;
    }
    return 0;
}

int util_write_new(const char *path, const char *text, mode_t mode, char *err, size_t errlen)
{
    /* O_EXCL: a keygen must never silently replace a key something already
     * trusts, nor follow a link planted where the new file is to go. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            snprintf(err, errlen, "%s: already exists; refusing to replace it", path);
        else
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* The mode asked for, whatever the umask: a .pub is meant to be read. */
    int rc = (fchmod(fd, mode) == 0 && write_all(fd, text, strlen(text)) == 0 && fsync(fd) == 0)
                 ? 0
                 : -1;
    if (rc != 0) {
        snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
        unlink(path);
    }
    close(fd);
    return rc;
}

/* Checks an open file is a regular file only its owner has permissions on,
 * and no larger than cap. */
static int check_private(int fd, const char *path, size_t cap, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if (st.st_mode & 0077) {
        snprintf(err, errlen, "%s: mode %04o lets group or others at a secret; chmod 600 %s", path,
                 (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    if ((uint64_t)st.st_size > cap) {
        snprintf(err, errlen, "%s: %lld bytes, more than such a file holds", path,
                 (long long)st.st_size);
        return -1;
    }
    return 0;
}

int util_read_private(const char *path, char *buf, size_t cap, size_t *len, char *err,
                      size_t errlen)
{
    /* The checks are made on the file opened, not on the name, so nothing
     * can swap the file between the check and the read. O_NONBLOCK: a FIFO
     * put in a key's place is refused, not waited on (a regular file's
     * reads ignore it). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    size_t n = 0;
    if (check_private(fd, path, cap, err, errlen) != 0)
        goto leave;
    /* The size was checked above; a file that grows meanwhile is read only
     * up to cap bytes. */
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
            goto leave;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    rc = 0;
leave:
    close(fd);
    return rc;
}

int util_check_truncated(const char *path, uint64_t need, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0 || (uint64_t)st.st_size >= need)
        return 0;
    snprintf(err, errlen,
             "%s is truncated: %llu bytes, but its last committed page ends at %llu; restore it "
             "from a backup",
             path, (unsigned long long)st.st_size, (unsigned long long)need);
    return -1;
}

int util_endpoint_valid(const char *v, int bind, char *why, size_t whylen)
{
    if (strncmp(v, "ipc://", 6) == 0 && v[6] != '\0')
        return 0;
    if (strncmp(v, "tcp://", 6) != 0 || v[6] == '\0') {
        snprintf(why, whylen, "\"%s\" is not a tcp:// or ipc:// endpoint", v);
        return -1;
    }
    /* ZeroMQ would take "tcp://host" and fail only when it binds or
     * connects, long after --check-config said yes. */
    const char *host = v + 6, *colon;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        colon = close && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strrchr(host, ':');
    }
    if (colon == NULL || colon == host) {
        snprintf(why, whylen, "\"%s\" has no port (tcp://HOST:PORT)", v);
        return -1;
    }
    if (bind && strcmp(colon + 1, "*") == 0)
        return 0;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535) {
        snprintf(why, whylen, "\"%s\" has no port in 1..65535 (tcp://HOST:PORT)", v);
        return -1;
    }
    return 0;
}
