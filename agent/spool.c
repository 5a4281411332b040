/* spool.c — the spool directory: watching it, reading and validating each
 * NAME.json, taking valid messages into the outbox before moving their
 * files to done/, and rejecting the rest into rejected/ with a NAME.error.
 * Not responsible for: storage (outbox.c) or sending (publish.c). */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "label.h"
#include "log.h"
#include "util.h"

#define WATCH_MASK                                                                                 \
    (IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
#define REWATCH_MS 5000
#define PATH_LEN   4352

struct spool {
    char *dir, *done, *rejected;
    int ifd;          /* inotify descriptor */
    int wd;           /* watch on dir, or -1 when lost */
    int rescan;       /* a full scan is due */
    int64_t retry_ms; /* when to try watching again */
    char **names;     /* files waiting, in the order to take them; owned */
    size_t n, cap;
    uint64_t n_taken, n_rejected; /* since start, for the agent's metrics */
};

/* One file of a batch in spool_take. */
struct item {
    const char *name;  /* borrowed from the waiting list */
    size_t size;       /* bytes read */
    Liaison__Intel *m; /* owned */
    uint8_t digest[32];
    char done_name[300];
    enum { ITEM_GONE, ITEM_REJECTED, ITEM_VALID, ITEM_TAKEN, ITEM_KNOWN } state;
};

static int name_wanted(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

static void list_clear(spool_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    s->n = 0;
}

static void list_add(spool_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->names = xrealloc(s->names, s->cap * sizeof *s->names);
    }
    s->names[s->n++] = xstrdup(name);
}

static void list_drop_first(spool_t *s, size_t k)
{
    for (size_t i = 0; i < k; i++)
        free(s->names[i]);
    memmove(s->names, s->names + k, (s->n - k) * sizeof *s->names);
    s->n -= k;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replaces the waiting list with what the directory holds, in name order,
 * so an agency can order its messages by naming them. */
static void scan(spool_t *s)
{
    DIR *d = opendir(s->dir);
    struct dirent *e;
    if (d == NULL) {
        log_error("event=spool_scan_failed dir=%s error=%s", log_q(s->dir), log_q(strerror(errno)));
        return;
    }
    list_clear(s);
    while ((e = readdir(d)) != NULL) {
        if (e->d_type == DT_DIR || !name_wanted(e->d_name))
            continue;
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 64;
            s->names = xrealloc(s->names, s->cap * sizeof *s->names);
        }
        s->names[s->n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (s->n > 1)
        qsort(s->names, s->n, sizeof *s->names, by_name);
    if (s->n)
        log_info("event=spool_scanned dir=%s waiting=%zu", log_q(s->dir), s->n);
}

static int make_dirs(spool_t *s, char *err, size_t errlen)
{
    const char *dirs[] = {s->dir, s->done, s->rejected};
    for (size_t i = 0; i < UTIL_LEN(dirs); i++) {
        if (util_mkdirs(dirs[i]) != 0) {
            snprintf(err, errlen, "spool %s: %s", dirs[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int watch(spool_t *s, char *err, size_t errlen)
{
    s->wd = inotify_add_watch(s->ifd, s->dir, WATCH_MASK);
    if (s->wd < 0) {
        snprintf(err, errlen, "spool %s: cannot watch: %s", s->dir, strerror(errno));
        return -1;
    }
    s->rescan = 1;
    return 0;
}

spool_t *spool_open(const char *dir, char *err, size_t errlen)
{
    char buf[PATH_LEN];
    spool_t *s = xcalloc(1, sizeof *s);
    s->wd = -1;
    s->dir = xstrdup(dir);
    snprintf(buf, sizeof buf, "%s/done", dir);
    s->done = xstrdup(buf);
    snprintf(buf, sizeof buf, "%s/rejected", dir);
    s->rejected = xstrdup(buf);
    s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (s->ifd < 0) {
        snprintf(err, errlen, "spool: inotify: %s", strerror(errno));
        goto fail;
    }
    if (make_dirs(s, err, errlen) != 0 || watch(s, err, errlen) != 0)
        goto fail;
    return s;
fail:
    spool_close(&s);
    return NULL;
}

void spool_close(spool_t **sp)
{
    if (sp == NULL || *sp == NULL)
        return;
    spool_t *s = *sp;
    if (s->ifd >= 0)
        close(s->ifd);
    list_clear(s);
    free(s->names);
    free(s->dir);
    free(s->done);
    free(s->rejected);
    free(s);
    *sp = NULL;
}

int spool_fd(const spool_t *s)
{
    return s->ifd;
}

void spool_counts(const spool_t *s, uint64_t *taken, uint64_t *rejected)
{
    *taken = s ? s->n_taken : 0;
    *rejected = s ? s->n_rejected : 0;
}

int spool_waiting(const spool_t *s)
{
    return s->rescan || s->n > 0;
}

static void watch_lost(spool_t *s, const char *why)
{
    if (s->wd < 0)
        return;
    log_error("event=spool_watch_lost dir=%s reason=%s action=\"re-created and watched "
              "again when possible\"",
              log_q(s->dir), log_q(why));
    inotify_rm_watch(s->ifd, s->wd);
    s->wd = -1;
    s->retry_ms = 0;
}

void spool_on_events(spool_t *s)
{
    /* Aligned as the kernel expects to hand out struct inotify_event. */
    char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(s->ifd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return; /* EAGAIN: drained */
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                /* Events were dropped: only a full scan knows what is there. */
                log_warn("event=spool_overflow dir=%s action=rescan", log_q(s->dir));
                s->rescan = 1;
                continue;
            }
            if (ev->wd != s->wd)
                continue;
            if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                watch_lost(s, ev->mask & IN_MOVE_SELF ? "spool directory moved"
                                                      : "spool directory removed");
                continue;
            }
            if (ev->len > 0 && !(ev->mask & IN_ISDIR) && name_wanted(ev->name))
                list_add(s, ev->name);
        }
    }
}

int64_t spool_tick(spool_t *s, int64_t now_ms)
{
    char err[512];
    if (s->wd >= 0)
        return -1;
    if (now_ms < s->retry_ms)
        return s->retry_ms - now_ms;
    if (make_dirs(s, err, sizeof err) == 0 && watch(s, err, sizeof err) == 0) {
        log_info("event=spool_watching dir=%s", log_q(s->dir));
        return -1;
    }
    log_error("event=spool_unavailable reason=%s retry_in_ms=%d", log_q(err), REWATCH_MS);
    s->retry_ms = now_ms + REWATCH_MS;
    return REWATCH_MS;
}

/* ---- moving files ------------------------------------------------------------ */

static int exists(const char *dir, const char *name, const char *suffix)
{
    char path[PATH_LEN];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    return lstat(path, &st) == 0;
}

/* NAME.json, else NAME.1.json, NAME.2.json...: a name free in dir (and, for
 * a rejection, free of a .error too), and not in taken[]. An agency that
 * reuses one file name for every message must not overwrite its history. */
static void unique_name(const char *dir, const char *name, int with_error, char *const *taken,
                        size_t n_taken, char *out, size_t outlen)
{
    size_t base = strlen(name) - 5; /* name_wanted: ends in ".json" */
    for (unsigned k = 0;; k++) {
        if (k == 0)
            snprintf(out, outlen, "%s", name);
        else
            snprintf(out, outlen, "%.*s.%u.json", (int)base, name, k);
        int clash = exists(dir, out, "") || (with_error && exists(dir, out, ".error"));
        for (size_t i = 0; i < n_taken && !clash; i++)
            clash = strcmp(taken[i], out) == 0;
        if (!clash)
            return;
    }
}

static int move(const char *from_dir, const char *from, const char *to_dir, const char *to)
{
    char a[PATH_LEN], b[PATH_LEN];
    snprintf(a, sizeof a, "%s/%s", from_dir, from);
    snprintf(b, sizeof b, "%s/%s", to_dir, to);
    if (rename(a, b) == 0)
        return 0;
    log_error("event=spool_move_failed from=%s to=%s error=%s", log_q(a), log_q(b),
              log_q(strerror(errno)));
    return -1;
}

/* Writes DIR/NAME.error through a temporary name, so a reader never sees
 * half a reason. */
static void write_error(const char *dir, const char *name, const char *original, const char *by,
                        const char *why)
{
    char tmp[PATH_LEN], path[PATH_LEN], stamp[32];
    snprintf(tmp, sizeof tmp, "%s/.%s.error.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s.error", dir, name);
    util_rfc3339(util_now_us(), stamp);
    FILE *f = fopen(tmp, "we");
    if (f == NULL) {
        log_error("event=spool_error_file_failed path=%s error=%s", log_q(tmp),
                  log_q(strerror(errno)));
        return;
    }
    fprintf(f, "file: %s\nrejected_at: %s\nrejected_by: %s\nreason: %s\n", original, stamp, by,
            why);
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        log_error("event=spool_error_file_failed path=%s error=%s", log_q(path),
                  log_q(strerror(errno)));
        unlink(tmp);
    }
}

/* The .error is written before the file moves, so whoever watches
 * rejected/ for files finds the reason already beside each one. */
static void reject(spool_t *s, const char *from_dir, const char *name, const char *by,
                   const char *why)
{
    char to[300];
    unique_name(s->rejected, name, 1, NULL, 0, to, sizeof to);
    write_error(s->rejected, to, name, by, why);
    s->n_rejected++;
    if (move(from_dir, name, s->rejected, to) == 0)
        log_warn("event=spool_rejected file=%s to=rejected/%s by=%s reason=%s", log_q(name), to,
                 log_q(by), log_q(why));
}

void spool_refused(spool_t *s, const char *source, const char *why)
{
    if (source == NULL || source[0] == '\0' || !name_wanted(source))
        return;
    if (exists(s->done, source, "")) {
        reject(s, s->done, source, "broker", why);
        return;
    }
    /* The agency already cleared done/: the reason must still be told. */
    char to[300];
    unique_name(s->rejected, source, 1, NULL, 0, to, sizeof to);
    write_error(s->rejected, to, source, "broker", why);
    s->n_rejected++;
    log_warn("event=spool_rejected file=%s by=broker reason=%s note=\"file had left done/\"",
             log_q(source), log_q(why));
}

/* ---- reading one file ---------------------------------------------------------- */

static int only_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return 0;
    return 1;
}

/* Reads and validates spool/NAME. Fills it->m and it->digest (VALID), or
 * rejects the file itself (REJECTED), or finds it gone (GONE). */
static void prepare(spool_t *s, struct item *it)
{
    char path[PATH_LEN], why[600], err[512];
    char *buf = NULL;
    size_t len = 0, used = 0;
    struct stat st;
    it->state = ITEM_REJECTED;
    snprintf(path, sizeof path, "%s/%s", s->dir, it->name);
    /* O_NONBLOCK: a FIFO named *.json must not hang the agent on open. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            it->state = ITEM_GONE;
            return;
        }
        snprintf(why, sizeof why, "cannot open: %s",
                 errno == ELOOP ? "a symbolic link (give the file itself)" : strerror(errno));
        goto rejected;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, sizeof why, "not a regular file");
        goto rejected;
    }
    if (st.st_size > (off_t)SPOOL_MAX_FILE) {
        snprintf(why, sizeof why, "file is %lld bytes, over the %u-byte limit for one message",
                 (long long)st.st_size, SPOOL_MAX_FILE);
        goto rejected;
    }
    buf = xmalloc((size_t)st.st_size + 1);
    for (;;) {
        ssize_t r = read(fd, buf + len, (size_t)st.st_size + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(why, sizeof why, "cannot read: %s", strerror(errno));
            goto rejected;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > (size_t)st.st_size) {
            snprintf(why, sizeof why,
                     "file grew while being read: write it under another name, "
                     "then rename it into the spool");
            goto rejected;
        }
    }
    it->m = json_to_intel(buf, len, &used, err, sizeof err);
    if (it->m == NULL) {
        snprintf(why, sizeof why, "%s", err[0] ? err : "empty file: no message");
        goto rejected;
    }
    if (!only_space(buf + used, len - used)) {
        snprintf(why, sizeof why, "more than one JSON value: a spool file holds one message");
        goto rejected;
    }
    Liaison__ErrorCode code = label_validate(it->m, SPOOL_MAX_TOPIC, err, sizeof err);
    if (code != LIAISON__ERROR_CODE__ERROR_NONE) {
        snprintf(why, sizeof why, "%s: %s", wire_error_name(code), err);
        goto rejected;
    }
    it->size = len;
    crypto_hash_sha256(it->digest, (const unsigned char *)buf, len);
    if (it->m->msg_id == NULL || it->m->msg_id[0] == '\0') {
        /* The same file always gets the same id, so if the agent dies after
         * the outbox commit and before the move, finding the file again
         * maps to the entry it already made. */
        uint8_t h[32];
        char hex[65], id[80];
        crypto_hash_sha256_state st256;
        crypto_hash_sha256_init(&st256);
        crypto_hash_sha256_update(&st256, (const unsigned char *)it->name, strlen(it->name) + 1);
        crypto_hash_sha256_update(&st256, (const unsigned char *)buf, len);
        crypto_hash_sha256_final(&st256, h);
        sodium_bin2hex(hex, sizeof hex, h, 16);
        snprintf(id, sizeof id, "spool-%s", hex);
        if (it->m->msg_id != wire_empty())
            free(it->m->msg_id);
        it->m->msg_id = xstrdup(id);
    }
    it->state = ITEM_VALID;
    goto leave;
rejected:
    wire_intel_free(&it->m);
    reject(s, s->dir, it->name, "liaison-agent", why);
leave:
    if (fd >= 0)
        close(fd);
    free(buf);
}

int spool_take(spool_t *s, outbox_t *o, size_t max)
{
    int out = -1;
    if (s->rescan) {
        s->rescan = 0;
        scan(s);
    }
    size_t n = s->n < max ? s->n : max;
    if (n == 0)
        return 0;
    struct item *items = xcalloc(n, sizeof *items);
    char **taken = xcalloc(n, sizeof *taken);
    size_t n_taken = 0, n_valid = 0;

    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        items[i].name = s->names[i];
        prepare(s, &items[i]);
        n_valid += items[i].state == ITEM_VALID;
        bytes += items[i].size;
        if (bytes >= SPOOL_BATCH_BYTES) {
            n = i + 1; /* the rest waits for the next batch */
            break;
        }
    }
    if (n_valid > 0) {
        if (outbox_begin(o) != OUTBOX_OK)
            goto leave;
        for (size_t i = 0; i < n; i++) {
            struct item *it = &items[i];
            if (it->state != ITEM_VALID)
                continue;
            /* The done/ name is chosen before the commit and stored with the
             * entry, so a later refusal by the broker finds the file. */
            unique_name(s->done, it->name, 0, taken, n_taken, it->done_name, sizeof it->done_name);
            int rc = outbox_add(o, it->m, it->digest, it->done_name);
            if (rc == OUTBOX_OK) {
                it->state = ITEM_TAKEN;
                taken[n_taken++] = it->done_name;
            } else if (rc == OUTBOX_KNOWN) {
                it->state = ITEM_KNOWN;
                taken[n_taken++] = it->done_name;
            } else if (rc == OUTBOX_CONFLICT) {
                char why[LABEL_MAX_TEXT + 128];
                snprintf(why, sizeof why,
                         "msg_id \"%.200s\" was already used for a different message",
                         it->m->msg_id);
                it->state = ITEM_REJECTED;
                reject(s, s->dir, it->name, "liaison-agent", why);
            } else {
                goto leave; /* abandoned: every file stays for the next try */
            }
        }
        if (outbox_commit(o) != OUTBOX_OK)
            goto leave;
    }
    /* Committed: only now may the files leave the spool. */
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        if (it->state != ITEM_TAKEN && it->state != ITEM_KNOWN)
            continue;
        if (move(s->dir, it->name, s->done, it->done_name) != 0)
            continue; /* still in the spool: found again, and known, next time */
        s->n_taken += it->state == ITEM_TAKEN;
        if (it->state == ITEM_TAKEN)
            log_info("event=spool_taken file=%s msg_id=%s topic=%s", log_q(it->name),
                     log_q(it->m->msg_id), log_q(it->m->topic));
        else
            log_warn("event=spool_duplicate file=%s msg_id=%s action=\"moved to done/ without "
                     "publishing again\"",
                     log_q(it->name), log_q(it->m->msg_id));
    }
    list_drop_first(s, n);
    out = (int)n;
leave:
    outbox_abort(o);
    for (size_t i = 0; i < n; i++)
        wire_intel_free(&items[i].m);
    free(items);
    free(taken);
    return out;
}
