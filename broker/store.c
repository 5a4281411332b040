/* store.c — the broker's LMDB store: messages by sequence and a schema
 * version, with one write transaction per loop pass (group commit).
 * The only file that includes lmdb.h.
 * Not responsible for: what is stored or who may read it. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"
#include "log.h"
#include "util.h"

#define SCHEMA_VERSION 1u

struct store {
    MDB_env *env;
    MDB_dbi messages;    /* seq (8 bytes big-endian) -> packed Intel */
    MDB_dbi meta;        /* "schema" -> uint32 */
    MDB_dbi times;       /* time_us (8, BE) + seq (8, BE) -> times (8 each): see time_run */
    MDB_dbi dedup;       /* seq (8, BE) -> time_us (8) + dedup key: the dedup log */
    MDB_dbi cursors;     /* "agent/durable" -> acked floor (8) + pattern */
    MDB_dbi dead;        /* seq (8, BE) + name -> reason */
    MDB_dbi audit;       /* audit seq (8, BE) -> packed AuditRecord */
    MDB_dbi checkpoints; /* audit seq (8, BE) -> packed AuditCheckpoint */
    MDB_dbi subjects;    /* bucket (4, BE) + token (32) + seq (8, BE) -> empty: see subject_key */
    MDB_dbi hits;        /* agent 0x1f msg seq (8, BE) + time (8, BE) -> packed HitNotice */
    int have_index;      /* subjects and hits exist (a read-only open of an older store: not) */
    int readonly;
    int lock_fd;       /* broker.lock in data_dir, flocked while open; -1 read-only */
    uint64_t last_seq; /* highest committed sequence (written by the committer) */
    uint64_t epoch;    /* drawn when the store was made (meta "epoch"); 0 if older */
    uint64_t room;     /* bytes the map can still take, as of the last commit */
    uint64_t map_bytes;
    size_t page_bytes; /* LMDB's page size */
    int grow_fd;       /* data.mdb opened O_DIRECT for store_grow; -1: not growing */
    void *zeros;       /* GROW_CHUNK bytes of never-touched anonymous memory */
};

struct store_read {
    MDB_txn *txn;
    MDB_cursor *cur;     /* store_read_next's */
    uint64_t cur_at;     /* the sequence cur rests on; 0: none */
    MDB_cursor *seek[3]; /* per enum store_db, opened on first use */
    MDB_cursor *subj;    /* the subject index, opened on first use */
    store_t *s;
};

/* Big-endian keys sort numerically under LMDB's default memcmp order, so
 * appends are always at the end of the tree (MDB_APPEND) and a cursor walks
 * in sequence order. */
static void seq_key(uint64_t seq, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(seq & 0xff);
        seq >>= 8;
    }
}

static uint64_t key_seq(const MDB_val *k)
{
    uint64_t v = 0;
    const uint8_t *p = k->mv_data;
    for (size_t i = 0; i < 8 && i < k->mv_size; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A dedup key as this broker makes it from one an older store may hold:
 * the text of a long one (more than STORE_DEDUP_TEXT bytes, no NUL) is
 * made again from its origin and msg_id; any other is kept. */
static void dedup_key_now(const uint8_t *b, size_t len, struct store_dkey *out)
{
    const uint8_t *sep = len > STORE_DEDUP_TEXT ? memchr(b, 0x1f, len) : NULL;
    if (sep && memchr(b, 0, len) == NULL && len < 1200) {
        char origin[1200], msg_id[1200];
        size_t ol = (size_t)(sep - b);
        memcpy(origin, b, ol);
        origin[ol] = 0;
        memcpy(msg_id, sep + 1, len - ol - 1);
        msg_id[len - ol - 1] = 0;
        store_dedup_key(origin, msg_id, out);
        return;
    }
    size_t n = len < sizeof out->b ? len : sizeof out->b;
    memcpy(out->b, b, n);
    out->len = n;
}

/* An entry of an older store's database in the form its successor keeps
 * (key and value written into buf, at least MOVE_BUF bytes): 0, or 1 to
 * leave out an entry that store never wrote. */
#define MOVE_BUF (8 + 8 + STORE_DEDUP_KEY)
typedef int (*move_fn)(const MDB_val *k, const MDB_val *v, uint8_t *buf, MDB_val *nk, MDB_val *nv);

/* Moves every entry of the database named from, if the store has one,
 * into to, in txn, and drops it: a store written before to existed
 * brought up to date at its first read-write open. */
static int move_db(MDB_txn *txn, const char *from, MDB_dbi to, move_fn fn, const char *event)
{
    MDB_dbi old;
    int rc = mdb_dbi_open(txn, from, 0, &old);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    MDB_cursor *cur;
    MDB_val k, v, nk, nv;
    uint8_t buf[MOVE_BUF];
    long moved = 0;
    if ((rc = mdb_cursor_open(txn, old, &cur)) != 0)
        return rc;
    for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
        if (fn(&k, &v, buf, &nk, &nv) != 0)
            continue;
        if ((rc = mdb_put(txn, to, &nk, &nv, 0)) != 0)
            break;
        moved++;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    if ((rc = mdb_drop(txn, old, 1)) != 0)
        return rc;
    log_info("event=%s entries=%ld", event, moved);
    return 0;
}

/* "dedup", key -> seq + time, into the log: seq -> time + key. */
static int dedup_entry_now(const MDB_val *k, const MDB_val *v, uint8_t *buf, MDB_val *nk,
                           MDB_val *nv)
{
    if (v->mv_size != 16)
        return 1;
    uint64_t seq;
    struct store_dkey key;
    memcpy(&seq, v->mv_data, 8);
    seq_key(seq, buf);
    memcpy(buf + 8, (const uint8_t *)v->mv_data + 8, 8);
    dedup_key_now(k->mv_data, k->mv_size, &key);
    memcpy(buf + 16, key.b, key.len);
    *nk = (MDB_val){.mv_size = 8, .mv_data = buf};
    *nv = (MDB_val){.mv_size = 8 + key.len, .mv_data = buf + 8};
    return 0;
}

/* The dedup log, seq -> time + key, in sequence order, so a publish only
 * appends to it (a tree ordered by key took a random leaf a publish: a
 * page written per message once it outgrew a commit). A store written
 * before it has "dedup", key -> seq + time: its entries move into the log
 * at the first read-write open, in one transaction, and it is dropped. A
 * read-only open reads neither (nothing read-only asks about dedup). */
static int dedup_open(store_t *s, MDB_txn *txn)
{
    if (s->readonly) {
        s->dedup = 0;
        return 0;
    }
    int rc = mdb_dbi_open(txn, "dedup_log", MDB_CREATE, &s->dedup);
    return rc != 0 ? rc : move_db(txn, "dedup", s->dedup, dedup_entry_now, "store_dedup_moved");
}

/* The subject index's key: the message's bucket of 2^SUBJECT_BUCKET_BITS
 * sequence numbers, the token, the sequence. A pass's entries all land in
 * the newest bucket, a tree of a few hundred pages however big the index
 * grows, so a commit dirties those and not a page an entry (keyed by token
 * first, each entry of a large index took a page of its own). A lookup
 * seeks the token in each bucket that has entries: about one seek a
 * bucket, 61 for a million messages. */
#define SUBJECT_BUCKET_BITS 14
#define SUBJECT_KEY         (4 + STORE_TOKEN_BYTES + 8)

static void subject_key(uint64_t bucket, const uint8_t *token, uint64_t seq, uint8_t *out)
{
    for (int i = 3; i >= 0; i--, bucket >>= 8)
        out[i] = (uint8_t)(bucket & 0xff);
    memcpy(out + 4, token, STORE_TOKEN_BYTES);
    seq_key(seq, out + 4 + STORE_TOKEN_BYTES);
}

/* "subjects", token + seq, into buckets. */
static int subject_entry_now(const MDB_val *k, const MDB_val *v, uint8_t *buf, MDB_val *nk,
                             MDB_val *nv)
{
    (void)v;
    if (k->mv_size != STORE_TOKEN_BYTES + 8)
        return 1;
    MDB_val sk = {.mv_size = 8, .mv_data = (uint8_t *)k->mv_data + STORE_TOKEN_BYTES};
    uint64_t seq = key_seq(&sk);
    subject_key(seq >> SUBJECT_BUCKET_BITS, k->mv_data, seq, buf);
    *nk = (MDB_val){.mv_size = SUBJECT_KEY, .mv_data = buf};
    *nv = (MDB_val){.mv_size = 0, .mv_data = buf};
    return 0;
}

/* The subject index, "subject_buckets". A store written before it has
 * "subjects", token + seq: its entries move over at the first read-write
 * open, in one transaction, and it is dropped; a read-only open of such a
 * store has no index (nothing read-only asks it). */
static int subjects_open(store_t *s, MDB_txn *txn)
{
    int rc = mdb_dbi_open(txn, "subject_buckets", s->readonly ? 0 : MDB_CREATE, &s->subjects);
    if (rc != 0 || s->readonly)
        return rc;
    return move_db(txn, "subjects", s->subjects, subject_entry_now, "store_subjects_moved");
}

/* Sets up databases, checks the schema and finds the last sequence. */
static int store_init(store_t *s, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    unsigned create = s->readonly ? 0 : MDB_CREATE;
    MDB_stat ms;
    int rc = mdb_env_stat(s->env, &ms);
    if (rc != 0)
        goto fail;
    s->page_bytes = ms.ms_psize;
    rc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &txn);
    if (rc != 0)
        goto fail;
    if ((rc = mdb_dbi_open(txn, "messages", create, &s->messages)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", create, &s->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "times", create, &s->times)) != 0 ||
        (rc = mdb_dbi_open(txn, "cursors", create, &s->cursors)) != 0 ||
        (rc = mdb_dbi_open(txn, "deadletters", create, &s->dead)) != 0 ||
        (rc = mdb_dbi_open(txn, "audit", create, &s->audit)) != 0 ||
        (rc = mdb_dbi_open(txn, "checkpoints", create, &s->checkpoints)) != 0)
        goto fail;
    /* Added after the first schema: a store written before them gains
     * them at its next read-write open; a read-only open does without. */
    rc = subjects_open(s, txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "hits", create, &s->hits);
    if (rc != 0 && !(rc == MDB_NOTFOUND && s->readonly))
        goto fail;
    s->have_index = rc == 0;
    if ((rc = dedup_open(s, txn)) != 0)
        goto fail;
    k.mv_data = "schema";
    k.mv_size = 6;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND && s->readonly) {
        snprintf(err, errlen, "store has no schema record: not a Liaison store");
        mdb_txn_abort(txn);
        return -1;
    }
    if (rc == MDB_NOTFOUND) {
        uint32_t ver = SCHEMA_VERSION;
        v.mv_data = &ver;
        v.mv_size = sizeof ver;
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
            goto fail;
    } else if (rc != 0) {
        goto fail;
    } else {
        uint32_t ver = 0;
        if (v.mv_size == sizeof ver)
            memcpy(&ver, v.mv_data, sizeof ver);
        if (ver != SCHEMA_VERSION) {
            snprintf(err, errlen, "store schema version %u, this broker reads %u", ver,
                     SCHEMA_VERSION);
            mdb_txn_abort(txn);
            return -1;
        }
    }
    if ((rc = mdb_cursor_open(txn, s->messages, &cur)) != 0)
        goto fail;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0)
        s->last_seq = key_seq(&k);
    else if (rc != MDB_NOTFOUND)
        goto fail;
    /* The store's epoch: a random number drawn once, when it is made, so a
     * store rebuilt from nothing (its sequences starting again at 1) is
     * told apart from the one before it by brokers that dedup by route. */
    k.mv_data = "epoch";
    k.mv_size = 5;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8) {
        memcpy(&s->epoch, v.mv_data, 8);
    } else if (rc == MDB_NOTFOUND && !s->readonly) {
        randombytes_buf(&s->epoch, sizeof s->epoch);
        s->epoch |= 1; /* never 0, which means "none" */
        v.mv_data = &s->epoch;
        v.mv_size = 8;
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
            goto fail;
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        goto fail;
    }
    /* Retention may have erased the newest messages: the high-water mark
     * in meta keeps sequence numbers from ever being reused. */
    k.mv_data = "last_seq";
    k.mv_size = 8;
    if (mdb_get(txn, s->meta, &k, &v) == 0 && v.mv_size == 8) {
        uint64_t hw;
        memcpy(&hw, v.mv_data, 8);
        if (hw > s->last_seq)
            s->last_seq = hw;
    }
    mdb_cursor_close(cur);
    cur = NULL;
    if (s->last_seq > UINT64_MAX - (UINT64_C(1) << 32)) {
        /* A damaged or hand-edited high-water mark: every publish would
         * fail. Refuse to start rather than limp. */
        snprintf(err, errlen,
                 "store's last sequence number (%llu) is at the end of its range: the store "
                 "is damaged; restore it from a backup",
                 (unsigned long long)s->last_seq);
        mdb_txn_abort(txn);
        return -1;
    }
    {
        MDB_envinfo info;
        mdb_env_info(s->env, &info);
        s->map_bytes = info.me_mapsize;
    }
    /* Committed even when read-only: an aborted transaction would close
     * the database handles opened in it. */
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        goto fail;
    }
    store_room_update(s);
    return 0;
fail:
    snprintf(err, errlen, "store: %s", mdb_strerror(rc));
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    return -1;
}

/* LMDB trusts data.mdb to hold every page its meta page names; a file cut
 * short maps the missing pages, and the first read of one is SIGBUS. */
static int check_file_size(MDB_env *env, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    MDB_envinfo info;
    MDB_stat ms;
    if (util_path_join(path, sizeof path, dir, "data.mdb") != 0 || mdb_env_info(env, &info) != 0 ||
        mdb_env_stat(env, &ms) != 0)
        return 0; /* nothing to compare with: LMDB's own open decided */
    char why[512];
    if (util_check_truncated(path, ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize, why,
                             sizeof why) != 0) {
        snprintf(err, errlen, "store: %s", why);
        return -1;
    }
    return 0;
}

/* Zeros ahead of LMDB. On a file system that allocates blocks as a file
 * grows (ext4 here), an fdatasync of a commit that grew data.mdb also
 * writes the inode and the new blocks' bitmaps, a few requests more to the
 * device each commit; a commit whose pages land in blocks already written
 * overwrites them and writes nothing else. So the committer, between
 * commits, keeps the file GROW_AHEAD past LMDB's last page, in chunks
 * written with O_DIRECT (no page cache, no copy; the memory is never
 * touched, so it costs no RSS). Not synced: the next commit's fdatasync
 * makes the new size durable, once a chunk instead of once a commit. What
 * is past LMDB's last page LMDB never reads, a copy or backup stops at that
 * page, and a cut that loses the zeros loses nothing of LMDB's. Any error
 * turns it off for good: LMDB then grows the file itself, as without it. */
#define GROW_CHUNK ((off_t)512 << 10)
#define GROW_AHEAD ((off_t)4 << 20)

static void grow_off(store_t *s)
{
    if (s->grow_fd >= 0)
        close(s->grow_fd);
    s->grow_fd = -1;
    if (s->zeros)
        munmap(s->zeros, (size_t)GROW_CHUNK);
    s->zeros = NULL;
}

/* A file system without O_DIRECT (tmpfs, some FUSE ones) does without. */
static void grow_on(store_t *s, const char *dir)
{
    char path[4096];
    s->grow_fd = -1;
    if (util_path_join(path, sizeof path, dir, "data.mdb") != 0)
        return;
    s->zeros = mmap(NULL, (size_t)GROW_CHUNK, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->zeros == MAP_FAILED) {
        s->zeros = NULL;
        return;
    }
    s->grow_fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (s->grow_fd < 0)
        grow_off(s);
}

int store_grow(store_t *s)
{
    if (s->grow_fd < 0)
        return 0;
    /* Inside a write transaction, so no commit writes the file meanwhile,
     * whoever calls. */
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
        return 0;
    MDB_envinfo info;
    struct stat st;
    int wrote = 0;
    if (mdb_env_info(s->env, &info) == 0 && fstat(s->grow_fd, &st) == 0) {
        off_t used = ((off_t)info.me_last_pgno + 1) * (off_t)s->page_bytes;
        off_t end = st.st_size;
        if (end >= used && end - used < GROW_AHEAD && end % 4096 == 0 &&
            (uint64_t)(end + GROW_CHUNK) <= s->map_bytes) {
            ssize_t n = pwrite(s->grow_fd, s->zeros, (size_t)GROW_CHUNK, end);
            if (n == (ssize_t)GROW_CHUNK) {
                wrote = 1;
            } else {
                log_warn("event=store_grow_off error=%s reason=\"zeros ahead of the store are "
                         "not written: LMDB grows the file itself\"",
                         log_q(n < 0 ? strerror(errno) : "short write"));
                grow_off(s);
            }
        }
    }
    mdb_txn_abort(txn);
    return wrote;
}

store_t *store_open_readonly(const char *dir, char *err, size_t errlen)
{
    store_t *s = xcalloc(1, sizeof *s);
    s->readonly = 1;
    s->lock_fd = -1; /* an offline reader beside a live broker takes no lock */
    s->grow_fd = -1;
    int rc;
    if ((rc = mdb_env_create(&s->env)) != 0) {
        snprintf(err, errlen, "store: %s", mdb_strerror(rc));
        free(s);
        return NULL;
    }
    mdb_env_set_maxdbs(s->env, 16);
    /* Map size 0: LMDB uses the size the store was created with. */
    if ((rc = mdb_env_open(s->env, dir, MDB_RDONLY | MDB_NOTLS, 0600)) != 0) {
        snprintf(err, errlen, "store: open %s read-only: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    if (check_file_size(s->env, dir, err, errlen) != 0 || store_init(s, err, errlen) != 0)
        goto fail;
    return s;
fail:
    mdb_env_close(s->env);
    free(s);
    return NULL;
}

int store_never_started(const char *dir)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) != 0)
        return 0; /* no store at all: not this case */
    if (st.st_size == 0)
        return 1; /* cut before LMDB's first write reached the disk */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    int never = 0;
    if (mdb_env_create(&env) != 0)
        return 0;
    mdb_env_set_maxdbs(env, 16);
    char err[256];
    if (mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600) == 0 &&
        check_file_size(env, dir, err, sizeof err) == 0 &&
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        never = mdb_dbi_open(txn, "meta", 0, &dbi) == MDB_NOTFOUND;
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return never;
}

/* One broker per data_dir: LMDB lets two processes share an environment,
 * and two brokers writing one store would give out the same sequence
 * numbers. The lock file names the pid that holds it. */
static int lock_dir(store_t *s, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (util_path_join(path, sizeof path, dir, "broker.lock") != 0) {
        snprintf(err, errlen, "data_dir %s: path too long", dir);
        return -1;
    }
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(s->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, errlen, "data_dir %s is in use by another liaison-broker (pid %s)", dir,
                 pid[0] ? pid : "unknown");
        close(s->lock_fd);
        s->lock_fd = -1;
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, pid, (size_t)n, 0) != n)
        log_warn("event=lock_pid_unwritten path=%s error=%s", log_q(path), log_q(strerror(errno)));
    return 0;
}

store_t *store_open(const char *dir, unsigned map_size_mb, char *err, size_t errlen)
{
    store_t *s = xcalloc(1, sizeof *s);
    int rc;
    s->lock_fd = -1;
    s->grow_fd = -1;
    if (util_mkdirs(dir) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        goto err1;
    }
    if (lock_dir(s, dir, err, errlen) != 0)
        goto err1;
    if ((rc = mdb_env_create(&s->env)) != 0) {
        snprintf(err, errlen, "store: %s", mdb_strerror(rc));
        goto err1;
    }
    mdb_env_set_maxdbs(s->env, 16);
    if ((rc = mdb_env_set_mapsize(s->env, (size_t)map_size_mb << 20)) != 0) {
        snprintf(err, errlen, "store: map size: %s", mdb_strerror(rc));
        goto err2;
    }
    /* MDB_NOTLS: readers are not bound to threads, so the one loop thread
     * can hold a read snapshot while its write batch is open. Syncs stay on:
     * a commit returns after fdatasync, which is what PubAck promises. */
    if ((rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) != 0) {
        snprintf(err, errlen, "store: open %s: %s", dir, mdb_strerror(rc));
        goto err2;
    }
    if (check_file_size(s->env, dir, err, errlen) != 0 || store_init(s, err, errlen) != 0)
        goto err2;
    grow_on(s, dir);
    return s;
err2:
    mdb_env_close(s->env);
err1:
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s);
    return NULL;
}

int store_claim(store_t *s, const uint8_t key[32], int expect_store, int adopt, uint8_t prev[32],
                int *prev_set, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_val k = {.mv_size = 5, .mv_data = "owner"}, v;
    MDB_stat ms;
    char mine[41], theirs[41];
    *prev_set = 0;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        goto fail;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto abort;
    keys_z85(key, mine);
    if (rc == 0 && v.mv_size == 32 && memcmp(v.mv_data, key, 32) == 0) {
        mdb_txn_abort(txn);
        return 0;
    }
    if (rc == 0) {
        if (v.mv_size != 32) {
            snprintf(err, errlen,
                     "store's owner record is damaged (%zu bytes): restore the "
                     "store from a backup",
                     v.mv_size);
            mdb_txn_abort(txn);
            return -1;
        }
        memcpy(prev, v.mv_data, 32);
        keys_z85(prev, theirs);
        if (!adopt) {
            snprintf(err, errlen,
                     "this store was made by the broker with key %s; this broker's key is %s. "
                     "Point data_dir at this broker's own store, or, if this broker's key was "
                     "rotated, start it once with adopt_store = true",
                     theirs, mine);
            mdb_txn_abort(txn);
            return -1;
        }
        *prev_set = 1;
    } else if (expect_store) {
        /* No owner: a fresh store, or one from before owners were kept,
         * which has an audit trail (every start writes a record). */
        if ((rc = mdb_stat(txn, s->audit, &ms)) != 0)
            goto abort;
        if (ms.ms_entries == 0) {
            snprintf(err, errlen,
                     "data_dir holds no store, but expect_store = true: the store is missing "
                     "(a wrong mount, a lost disk?). Restore it, or set expect_store = false to "
                     "start an empty one");
            mdb_txn_abort(txn);
            return -1;
        }
    }
    uint8_t owner[32];
    memcpy(owner, key, 32);
    v.mv_size = 32;
    v.mv_data = owner;
    if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
        goto abort;
    if ((rc = mdb_txn_commit(txn)) != 0)
        goto fail;
    return 0;
abort:
    mdb_txn_abort(txn);
fail:
    snprintf(err, errlen, "store: recording its owner: %s", mdb_strerror(rc));
    return -1;
}

void store_close(store_t **sp)
{
    if (sp == NULL || *sp == NULL)
        return;
    store_t *s = *sp;
    mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    grow_off(s);
    free(s);
    *sp = NULL;
}

uint64_t store_epoch(const store_t *s)
{
    return s->epoch;
}

uint64_t store_last_seq(const store_t *s)
{
    return __atomic_load_n(&s->last_seq, __ATOMIC_ACQUIRE);
}

/* ---- write sets ------------------------------------------------------------ */

enum wop {
    WOP_MSG,      /* messages + times (+ dedup): seq, time, a = data, b = dedup key */
    WOP_AUDIT,    /* audit: seq, a = record */
    WOP_CKPT,     /* checkpoints: seq, a = checkpoint */
    WOP_CURSOR,   /* cursors: a = name, b = floor (8) + pattern */
    WOP_DEAD,     /* deadletters: seq, a = name, b = reason */
    WOP_DEAD_DEL, /* deadletters: seq, a = name */
    WOP_PURGE,    /* messages + times (+ dedup): seq, time, b = dedup key */
    WOP_SUBJECT,  /* subjects: seq, a = token; time_us 1 = delete */
    WOP_HIT,      /* hits: a = key, b = notice (b_len 0 and time_us 1: delete) */
    WOP_CURS_DEL, /* cursors: a = name, removed */
};

struct wop_rec {
    uint8_t op;
    uint64_t seq;
    int64_t time_us;
    size_t a_off, a_len, b_off, b_len; /* in the write set's bytes */
};

struct store_wset {
    struct wop_rec *ops;
    size_t n, cap;
    uint8_t *bytes;
    size_t len, room;
    uint64_t max_seq; /* highest message put, 0 if none */
    size_t estimate;  /* bytes the map may need for it, over-estimated */
};

store_wset_t *store_wset_new(void)
{
    return xcalloc(1, sizeof(store_wset_t));
}

void store_wset_free(store_wset_t **wp)
{
    if (wp == NULL || *wp == NULL)
        return;
    free((*wp)->ops);
    free((*wp)->bytes);
    free(*wp);
    *wp = NULL;
}

void store_wset_clear(store_wset_t *w)
{
    w->n = 0;
    w->len = 0;
    w->max_seq = 0;
    w->estimate = 0;
}

size_t store_wset_count(const store_wset_t *w)
{
    return w->n;
}

size_t store_wset_estimate(const store_wset_t *w)
{
    return w->estimate;
}

const uint8_t *store_wset_data(const store_wset_t *w, size_t off)
{
    return w->bytes + off;
}

/* Room for n more bytes; returns their offset. */
static size_t wset_reserve(store_wset_t *w, size_t n)
{
    if (w->len + n > w->room) {
        w->room = (w->len + n) * 2 + 4096;
        w->bytes = xrealloc(w->bytes, w->room);
    }
    size_t off = w->len;
    w->len += n;
    return off;
}

static size_t wset_copy(store_wset_t *w, const void *p, size_t n)
{
    size_t off = wset_reserve(w, n);
    if (n)
        memcpy(w->bytes + off, p, n);
    return off;
}

/* What one record may cost the map: its node, rounded up to whole pages
 * when it overflows a leaf, and half again for splits and branch pages. */
static size_t record_cost(size_t klen, size_t vlen)
{
    size_t node = klen + vlen + 16;
    if (node > 2000)
        node = (node + 4095) / 4096 * 4096 + 4096;
    return node + node / 2;
}

static struct wop_rec *wset_op(store_wset_t *w, enum wop op, uint64_t seq, int64_t time_us)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 256;
        w->ops = xrealloc(w->ops, w->cap * sizeof *w->ops);
    }
    struct wop_rec *r = &w->ops[w->n++];
    memset(r, 0, sizeof *r);
    r->op = (uint8_t)op;
    r->seq = seq;
    r->time_us = time_us;
    return r;
}

void store_dedup_key(const char *origin, const char *msg_id, struct store_dkey *key)
{
    size_t ol = strlen(origin), ml = strlen(msg_id);
    if (ol + 1 + ml <= STORE_DEDUP_TEXT) {
        memcpy(key->b, origin, ol);
        key->b[ol] = 0x1f;
        memcpy(key->b + ol + 1, msg_id, ml);
        key->len = ol + 1 + ml;
        return;
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const unsigned char *)origin, ol);
    crypto_generichash_update(&st, (const unsigned char *)"\x1f", 1);
    crypto_generichash_update(&st, (const unsigned char *)msg_id, ml);
    /* The text's first STORE_DEDUP_TEXT bytes, then NUL, then the hash. */
    size_t n = 0;
    size_t take = ol < STORE_DEDUP_TEXT ? ol : STORE_DEDUP_TEXT;
    memcpy(key->b, origin, take);
    n = take;
    if (n < STORE_DEDUP_TEXT)
        key->b[n++] = 0x1f;
    if (n < STORE_DEDUP_TEXT) {
        size_t m = STORE_DEDUP_TEXT - n;
        memcpy(key->b + n, msg_id, m);
        n += m;
    }
    key->b[n++] = 0;
    crypto_generichash_final(&st, key->b + n, 32);
    key->len = n + 32;
}

size_t store_wset_msg(store_wset_t *w, uint64_t seq, int64_t time_us, size_t len,
                      const struct store_dkey *dk)
{
    struct wop_rec *r = wset_op(w, WOP_MSG, seq, time_us);
    size_t dl = dk ? dk->len : 0;
    const uint8_t *dedup_key = dk ? dk->b : NULL;
    r->a_off = wset_reserve(w, len);
    r->a_len = len;
    if (dl) {
        /* The dedup log's value: the time, then the key. */
        r->b_off = wset_copy(w, &time_us, 8);
        wset_copy(w, dedup_key, dl);
        r->b_len = 8 + dl;
    }
    if (seq > w->max_seq)
        w->max_seq = seq;
    w->estimate += record_cost(8, len) + record_cost(16, 0) + (dl ? record_cost(8, 8 + dl) : 0);
    return r->a_off;
}

void store_wset_audit(store_wset_t *w, uint64_t aseq, const void *data, size_t len)
{
    struct wop_rec *r = wset_op(w, WOP_AUDIT, aseq, 0);
    r->a_off = wset_copy(w, data, len);
    r->a_len = len;
    w->estimate += record_cost(8, len);
}

void store_wset_checkpoint(store_wset_t *w, uint64_t aseq, const void *data, size_t len)
{
    struct wop_rec *r = wset_op(w, WOP_CKPT, aseq, 0);
    r->a_off = wset_copy(w, data, len);
    r->a_len = len;
    w->estimate += record_cost(8, len);
}

void store_wset_cursor(store_wset_t *w, const char *name, uint64_t acked_floor, const char *pattern,
                       const struct store_cursor_ext *ext)
{
    struct wop_rec *r = wset_op(w, WOP_CURSOR, 0, 0);
    size_t nl = strlen(name), pl = strlen(pattern);
    r->a_off = wset_copy(w, name, nl);
    r->a_len = nl;
    r->b_off = wset_copy(w, &acked_floor, 8);
    wset_copy(w, pattern, pl);
    r->b_len = 8 + pl;
    if (ext && ext->hi > acked_floor) {
        /* After the pattern, a NUL (which a pattern never holds), the
         * highest sequence considered, and the unacked ones below it. */
        uint8_t head[1 + 8 + 4];
        head[0] = 0;
        memcpy(head + 1, &ext->hi, 8);
        memcpy(head + 9, &ext->n, 4);
        wset_copy(w, head, sizeof head);
        for (uint32_t i = 0; i < ext->n; i++) {
            wset_copy(w, &ext->v[i].seq, 8);
            wset_copy(w, &ext->v[i].attempts, 4);
        }
        r->b_len += sizeof head + (size_t)ext->n * 12;
    }
    w->estimate += record_cost(nl, r->b_len);
}

void store_wset_cursor_del(store_wset_t *w, const char *name)
{
    struct wop_rec *r = wset_op(w, WOP_CURS_DEL, 0, 0);
    size_t nl = strlen(name);
    r->a_off = wset_copy(w, name, nl);
    r->a_len = nl;
    w->estimate += 4096; /* a delete dirties a page */
}

void store_wset_deadletter(store_wset_t *w, uint64_t seq, const char *name, const char *reason)
{
    struct wop_rec *r = wset_op(w, WOP_DEAD, seq, 0);
    size_t nl = strlen(name), rl = strlen(reason);
    r->a_off = wset_copy(w, name, nl);
    r->a_len = nl;
    r->b_off = wset_copy(w, reason, rl);
    r->b_len = rl;
    w->estimate += record_cost(8 + nl, rl);
}

void store_wset_deadletter_del(store_wset_t *w, uint64_t seq, const char *name)
{
    struct wop_rec *r = wset_op(w, WOP_DEAD_DEL, seq, 0);
    size_t nl = strlen(name);
    r->a_off = wset_copy(w, name, nl);
    r->a_len = nl;
    w->estimate += 4096;
}

void store_wset_purge(store_wset_t *w, uint64_t seq, int64_t time_us)
{
    wset_op(w, WOP_PURGE, seq, time_us);
    w->estimate += 4096; /* a delete may split nothing, but dirties a page */
}

void store_wset_subject(store_wset_t *w, const uint8_t token[STORE_TOKEN_BYTES], uint64_t seq,
                        int del)
{
    struct wop_rec *r = wset_op(w, WOP_SUBJECT, seq, del ? 1 : 0);
    r->a_off = wset_copy(w, token, STORE_TOKEN_BYTES);
    r->a_len = STORE_TOKEN_BYTES;
    w->estimate += del ? 4096 : record_cost(STORE_TOKEN_BYTES + 8, 0);
}

/* The key of a waiting hit notice: agent, 0x1f, then id (16 bytes, BE). */
static size_t hit_key(const char *agent, uint64_t msg_seq, int64_t time_us, uint8_t *out)
{
    size_t n = strlen(agent);
    memcpy(out, agent, n);
    out[n] = 0x1f;
    seq_key(msg_seq, out + n + 1);
    seq_key((uint64_t)time_us, out + n + 9);
    return n + 17;
}

void store_wset_hit(store_wset_t *w, const char *agent, uint64_t msg_seq, int64_t time_us,
                    const void *data, size_t len)
{
    uint8_t key[STORE_HIT_KEY];
    if (strlen(agent) + 17 > sizeof key)
        return; /* agent names are far shorter */
    struct wop_rec *r = wset_op(w, WOP_HIT, 0, data ? 0 : 1);
    size_t kl = hit_key(agent, msg_seq, time_us, key);
    r->a_off = wset_copy(w, key, kl);
    r->a_len = kl;
    r->b_off = wset_copy(w, data, data ? len : 0);
    r->b_len = data ? len : 0;
    w->estimate += data ? record_cost(kl, len) : 4096;
}

/* Keys that mostly rise are appended (no tree search, full pages); one
 * that does not (a clock stepped back, a record rewritten) is put in place. */
static int put_append(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    int rc = mdb_put(txn, dbi, k, v, MDB_APPEND);
    return rc == MDB_KEYEXIST ? mdb_put(txn, dbi, k, v, 0) : rc;
}

/* A commit's cursors on the trees every publish appends to, each opened at
 * its first append: a cursor left at a tree's end appends the next key
 * there, where mdb_put opens a cursor and walks down from the root for
 * every key. LMDB keeps them right across the commit's other changes to
 * the same trees (an erasure), and frees them with the transaction. */
enum { AP_MESSAGES, AP_DEDUP, AP_AUDIT, AP_N };
struct appenders {
    MDB_txn *txn;
    MDB_cursor *c[AP_N];
};

/* Appends k to the tree which (dbi); in place when it is not the last
 * key and in_place, else MDB_KEYEXIST as mdb_put's append gives. */
static int append_to(struct appenders *ap, int which, MDB_dbi dbi, MDB_val *k, MDB_val *v,
                     int in_place)
{
    int rc = 0;
    if (ap->c[which] == NULL && (rc = mdb_cursor_open(ap->txn, dbi, &ap->c[which])) != 0)
        return rc;
    rc = mdb_cursor_put(ap->c[which], k, v, MDB_APPEND);
    return rc == MDB_KEYEXIST && in_place ? mdb_cursor_put(ap->c[which], k, v, 0) : rc;
}

static int apply_one(store_t *s, MDB_txn *txn, struct appenders *ap, const store_wset_t *w,
                     const struct wop_rec *r)
{
    uint8_t kb[16];
    uint8_t *a = w->bytes + r->a_off, *bb = w->bytes + r->b_off;
    MDB_val k, v;
    int rc;
    switch ((enum wop)r->op) {
    case WOP_MSG: {
        seq_key(r->seq, kb);
        k = (MDB_val){.mv_size = 8, .mv_data = kb};
        v = (MDB_val){.mv_size = r->a_len, .mv_data = a};
        if ((rc = append_to(ap, AP_MESSAGES, s->messages, &k, &v, 0)) != 0)
            return rc;
        if (r->b_len == 0)
            return 0;
        v = (MDB_val){.mv_size = r->b_len, .mv_data = bb};
        return append_to(ap, AP_DEDUP, s->dedup, &k, &v, 1);
    }
    case WOP_AUDIT:
        seq_key(r->seq, kb);
        k = (MDB_val){.mv_size = 8, .mv_data = kb};
        v = (MDB_val){.mv_size = r->a_len, .mv_data = a};
        return append_to(ap, AP_AUDIT, s->audit, &k, &v, 1);
    case WOP_CKPT:
        seq_key(r->seq, kb);
        k = (MDB_val){.mv_size = 8, .mv_data = kb};
        v = (MDB_val){.mv_size = r->a_len, .mv_data = a};
        return put_append(txn, s->checkpoints, &k, &v);
    case WOP_CURSOR:
        k = (MDB_val){.mv_size = r->a_len, .mv_data = a};
        v = (MDB_val){.mv_size = r->b_len, .mv_data = bb};
        return mdb_put(txn, s->cursors, &k, &v, 0);
    case WOP_CURS_DEL:
        k = (MDB_val){.mv_size = r->a_len, .mv_data = a};
        rc = mdb_del(txn, s->cursors, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc; /* gone already: fine */
    case WOP_DEAD:
    case WOP_DEAD_DEL: {
        uint8_t *key = xmalloc(8 + r->a_len);
        seq_key(r->seq, key);
        memcpy(key + 8, a, r->a_len);
        k = (MDB_val){.mv_size = 8 + r->a_len, .mv_data = key};
        v = (MDB_val){.mv_size = r->b_len, .mv_data = bb};
        rc = r->op == WOP_DEAD ? mdb_put(txn, s->dead, &k, &v, 0) : mdb_del(txn, s->dead, &k, NULL);
        free(key);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    case WOP_PURGE:
        seq_key(r->seq, kb);
        k = (MDB_val){.mv_size = 8, .mv_data = kb};
        rc = mdb_del(txn, s->messages, &k, NULL);
        if (rc == MDB_NOTFOUND)
            return 0; /* already gone */
        if (rc != 0)
            return rc;
        /* An older store's entry is the message's own; a run's stays
         * while any of its messages is left (times_trim). */
        seq_key((uint64_t)r->time_us, kb);
        seq_key(r->seq, kb + 8);
        k = (MDB_val){.mv_size = 16, .mv_data = kb};
        rc = mdb_get(txn, s->times, &k, &v);
        if (rc == 0 && v.mv_size == 0)
            rc = mdb_del(txn, s->times, &k, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
        seq_key(r->seq, kb);
        k = (MDB_val){.mv_size = 8, .mv_data = kb};
        rc = mdb_del(txn, s->dedup, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    case WOP_SUBJECT: {
        uint8_t key[SUBJECT_KEY];
        subject_key(r->seq >> SUBJECT_BUCKET_BITS, a, r->seq, key);
        k = (MDB_val){.mv_size = sizeof key, .mv_data = key};
        v = (MDB_val){.mv_size = 0, .mv_data = key};
        rc =
            r->time_us ? mdb_del(txn, s->subjects, &k, NULL) : mdb_put(txn, s->subjects, &k, &v, 0);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    case WOP_HIT:
        k = (MDB_val){.mv_size = r->a_len, .mv_data = a};
        v = (MDB_val){.mv_size = r->b_len, .mv_data = bb};
        rc = r->time_us ? mdb_del(txn, s->hits, &k, NULL) : mdb_put(txn, s->hits, &k, &v, 0);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    return EINVAL;
}

/* Free pages LMDB holds for reuse, from its free-page database: each entry
 * is a list of page numbers whose first word is their count. */
static size_t free_pages(MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n = 0;
    if (mdb_cursor_open(txn, 0, &cur) != 0)
        return 0;
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT)
        if (v.mv_size >= sizeof(size_t))
            n += *(const size_t *)v.mv_data;
    mdb_cursor_close(cur);
    return n;
}

void store_room_update(store_t *s)
{
    MDB_envinfo info;
    MDB_stat ms;
    MDB_txn *txn;
    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &ms) != 0 ||
        mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return;
    size_t fp = free_pages(txn);
    mdb_txn_abort(txn);
    uint64_t used = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
    uint64_t freed = (uint64_t)fp * ms.ms_psize;
    uint64_t room = info.me_mapsize > used ? info.me_mapsize - used : 0;
    __atomic_store_n(&s->room, room + (freed < used ? freed : 0), __ATOMIC_RELEASE);
}

uint64_t store_room(const store_t *s)
{
    return __atomic_load_n(&s->room, __ATOMIC_ACQUIRE);
}

uint64_t store_map_bytes(const store_t *s)
{
    return s->map_bytes;
}

size_t store_page_fit(const store_t *s)
{
    /* The first of a value's own pages starts with a page header: 16
     * bytes on a 64-bit build (lmdb's PAGEHDRSZ), 4096-byte pages here. */
    return s->page_bytes - 16;
}

/* The time index holds one entry per run of messages a commit stores with
 * consecutive sequences: keyed by the first one's time and sequence, its
 * value every message's time in order (8 bytes each, as the dedup value
 * holds one). One put per run rather than per message; store_seq_at_time
 * looks into the run before the first whose key is at or after the time
 * asked. An older store's entries are a message each, with no value. */
#define TIME_RUN_MAX 400 /* 3,200 bytes: one overflow page */

struct time_run {
    uint64_t first;
    size_t n;
    int64_t t[TIME_RUN_MAX];
};

static int time_run_put(store_t *s, MDB_txn *txn, struct time_run *run)
{
    if (run->n == 0)
        return 0;
    uint8_t kb[16];
    seq_key((uint64_t)run->t[0], kb);
    seq_key(run->first, kb + 8);
    MDB_val k = {.mv_size = 16, .mv_data = kb}, v = {.mv_size = run->n * 8, .mv_data = run->t};
    run->n = 0;
    /* Wall-clock time can step back, so this is not always an append. */
    return put_append(txn, s->times, &k, &v);
}

static int time_run_add(store_t *s, MDB_txn *txn, struct time_run *run, uint64_t seq,
                        int64_t time_us)
{
    int rc = 0;
    if (run->n && (seq != run->first + run->n || run->n == TIME_RUN_MAX))
        rc = time_run_put(s, txn, run);
    if (run->n == 0)
        run->first = seq;
    run->t[run->n++] = time_us;
    return rc;
}

/* Removes the entries, oldest first, none of whose messages is left. */
static int times_trim(store_t *s, MDB_txn *txn)
{
    MDB_cursor *mc = NULL, *tc = NULL;
    MDB_val k, v;
    uint64_t left = UINT64_MAX; /* the first message left */
    int rc = mdb_cursor_open(txn, s->messages, &mc);
    if (rc == 0 && (rc = mdb_cursor_get(mc, &k, &v, MDB_FIRST)) == 0)
        left = key_seq(&k);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc == 0)
        rc = mdb_cursor_open(txn, s->times, &tc);
    while (rc == 0 && (rc = mdb_cursor_get(tc, &k, &v, MDB_FIRST)) == 0 && k.mv_size == 16) {
        MDB_val sk = {.mv_size = 8, .mv_data = (uint8_t *)k.mv_data + 8};
        uint64_t n = v.mv_size >= 8 ? v.mv_size / 8 : 1;
        if (key_seq(&sk) + n > left)
            break;
        rc = mdb_cursor_del(tc, 0);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (tc)
        mdb_cursor_close(tc);
    if (mc)
        mdb_cursor_close(mc);
    return rc;
}

int store_commit(store_t *s, const store_wset_t *w)
{
    MDB_txn *txn;
    const char *what = "begin";
    struct time_run run;
    int purged = 0;
    run.n = 0;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        goto fail;
    what = "put";
    struct appenders ap = {.txn = txn};
    for (size_t i = 0; i < w->n; i++) {
        const struct wop_rec *r = &w->ops[i];
        if ((rc = apply_one(s, txn, &ap, w, r)) != 0)
            goto abort;
        if (r->op == WOP_MSG && (rc = time_run_add(s, txn, &run, r->seq, r->time_us)) != 0)
            goto abort;
        purged |= r->op == WOP_PURGE;
    }
    what = "put time index";
    if ((rc = time_run_put(s, txn, &run)) != 0 || (purged && (rc = times_trim(s, txn)) != 0))
        goto abort;
    if (purged) {
        /* The high-water mark: retention may erase the newest messages, and
         * their numbers must never be given out again. Written only by a
         * commit that erases: in any other, the newest message in the tree
         * is as high (store_init takes the larger), and the meta tree is one
         * more page a commit to copy and write. */
        uint64_t hw = w->max_seq > s->last_seq ? w->max_seq : s->last_seq;
        MDB_val k = {.mv_size = 8, .mv_data = "last_seq"}, v = {.mv_size = 8, .mv_data = &hw};
        what = "put high-water mark";
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
            goto abort;
    }
    what = "commit";
    rc = mdb_txn_commit(txn); /* frees txn whatever happens */
    if (rc != 0)
        goto fail;
    if (w->max_seq > s->last_seq)
        __atomic_store_n(&s->last_seq, w->max_seq, __ATOMIC_RELEASE);
    return STORE_OK;
abort:
    mdb_txn_abort(txn);
fail:
    if (rc == MDB_MAP_FULL) {
        /* Said once per pause by commit.c (event=store_exhausted). */
        log_debug("event=store_full op=%s", what);
        return STORE_FULL;
    }
    log_error("event=store_failed op=%s error=%s", what, log_q(mdb_strerror(rc)));
    return STORE_ERR;
}

int store_read_dedup(store_read_t *r, uint64_t seq, const struct store_dkey *key,
                     int64_t min_time_us)
{
    uint8_t kb[8];
    seq_key(seq, kb);
    MDB_val k = {.mv_size = 8, .mv_data = kb}, v;
    int rc = r->s->dedup ? mdb_get(r->txn, r->s->dedup, &k, &v) : MDB_NOTFOUND;
    if (rc == MDB_NOTFOUND)
        return STORE_NOTFOUND;
    if (rc != 0) {
        log_error("event=store_dedup_failed error=%s", log_q(mdb_strerror(rc)));
        return STORE_ERR;
    }
    int64_t t;
    if (v.mv_size != 8 + key->len || memcmp((const uint8_t *)v.mv_data + 8, key->b, key->len) != 0)
        return STORE_NOTFOUND;
    memcpy(&t, v.mv_data, 8);
    return t < min_time_us ? STORE_NOTFOUND : STORE_OK;
}

long store_dedup_keys(store_t *s, uint64_t from_seq, int64_t min_time_us, store_dkey_fn fn,
                      void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_stat ms;
    long n = 0;
    if (s->dedup == 0)
        return 0;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return -1;
    int rc;
    if (fn == NULL) {
        /* Only the count: LMDB keeps it, nothing to walk. */
        rc = mdb_stat(txn, s->dedup, &ms);
        mdb_txn_abort(txn);
        if (rc != 0) {
            log_error("event=store_dedup_failed error=%s", log_q(mdb_strerror(rc)));
            return -1;
        }
        return (long)ms.ms_entries;
    }
    uint8_t kb[8];
    seq_key(from_seq, kb);
    k = (MDB_val){.mv_size = 8, .mv_data = kb};
    rc = mdb_cursor_open(txn, s->dedup, &cur);
    if (rc == 0) {
        for (int op = MDB_SET_RANGE; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
            int64_t t;
            if (k.mv_size != 8 || v.mv_size < 8)
                continue;
            memcpy(&t, v.mv_data, 8);
            if (t < min_time_us)
                continue;
            fn(key_seq(&k), (const uint8_t *)v.mv_data + 8, v.mv_size - 8, ctx);
            n++;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND) {
        log_error("event=store_dedup_failed error=%s", log_q(mdb_strerror(rc)));
        return -1;
    }
    return n;
}

int store_cursor_get(store_t *s, const char *name, uint64_t *acked_floor, char *pattern,
                     size_t plen, struct store_cursor_ext *ext)
{
    if (ext) {
        ext->hi = 0;
        ext->n = 0;
        ext->v = NULL;
    }
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        goto fail;
    MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)(uintptr_t)name}, v;
    rc = mdb_get(txn, s->cursors, &k, &v);
    int result = STORE_NOTFOUND;
    if (rc == 0 && v.mv_size >= 8) {
        const uint8_t *d = v.mv_data;
        memcpy(acked_floor, d, 8);
        const uint8_t *nul = memchr(d + 8, 0, v.mv_size - 8);
        size_t pl = nul ? (size_t)(nul - (d + 8)) : v.mv_size - 8;
        size_t n = pl < plen ? pl : plen - 1;
        memcpy(pattern, d + 8, n);
        pattern[n] = '\0';
        size_t rest = nul ? v.mv_size - 8 - pl - 1 : 0;
        if (ext && rest >= 12) {
            uint32_t cnt;
            memcpy(&ext->hi, nul + 1, 8);
            memcpy(&cnt, nul + 9, 4);
            if ((size_t)cnt * 12 == rest - 12) {
                struct store_pending *vv = xcalloc(cnt ? cnt : 1, sizeof *vv);
                for (uint32_t i = 0; i < cnt; i++) {
                    memcpy(&vv[i].seq, nul + 13 + (size_t)i * 12, 8);
                    memcpy(&vv[i].attempts, nul + 21 + (size_t)i * 12, 4);
                }
                ext->n = cnt;
                ext->v = vv; /* the caller frees */
            } else {
                ext->hi = 0; /* unreadable: resume from the floor, at least once */
                log_warn("event=store_cursor_extension_unreadable name=%s", log_q(name));
            }
        }
        result = STORE_OK;
    }
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto fail;
    return result;
fail:
    log_error("event=store_cursor_failed name=%s error=%s", log_q(name), log_q(mdb_strerror(rc)));
    return STORE_ERR;
}

int store_cursors(store_t *s, size_t limit, store_cursor_fn fn, void *ctx)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, s->cursors, &cur);
    for (size_t n = 0; rc == 0 && n < limit; n++) {
        rc = mdb_cursor_get(cur, &k, &v, n == 0 ? MDB_FIRST : MDB_NEXT);
        if (rc != 0 || v.mv_size < 8)
            break;
        char name[512], pattern[1100];
        uint64_t floor;
        memcpy(&floor, v.mv_data, 8);
        snprintf(name, sizeof name, "%.*s", (int)k.mv_size, (const char *)k.mv_data);
        snprintf(pattern, sizeof pattern, "%.*s", (int)(v.mv_size - 8),
                 (const char *)v.mv_data + 8);
        fn(name, floor, pattern, ctx);
    }
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        log_error("event=store_cursors_failed error=%s", log_q(mdb_strerror(rc)));
        return STORE_ERR;
    }
    return STORE_OK;
}

int store_deadletters(store_t *s, size_t limit, store_dead_fn fn, void *ctx)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, s->dead, &cur);
    for (size_t n = 0; rc == 0 && n < limit; n++) {
        rc = mdb_cursor_get(cur, &k, &v, n == 0 ? MDB_FIRST : MDB_NEXT);
        if (rc != 0 || k.mv_size < 8)
            break;
        char name[512], reason[256];
        snprintf(name, sizeof name, "%.*s", (int)(k.mv_size - 8), (const char *)k.mv_data + 8);
        snprintf(reason, sizeof reason, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
        fn(key_seq(&k), name, reason, ctx);
    }
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        log_error("event=store_deadletters_failed error=%s", log_q(mdb_strerror(rc)));
        return STORE_ERR;
    }
    return STORE_OK;
}

int store_seq_at_time(store_t *s, int64_t since_us, uint64_t *seq)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint8_t kb[16];
    seq_key((uint64_t)(since_us < 0 ? 0 : since_us), kb);
    seq_key(0, kb + 8);
    MDB_val k = {.mv_size = 16, .mv_data = kb}, v;
    int result = STORE_ERR;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, s->times, &cur);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    /* The first run starting at or after since starts with its answer,
     * unless the run before holds a message as late or later. */
    uint64_t at = 0;
    if (rc == 0 && k.mv_size == 16) {
        MDB_val sk = {.mv_size = 8, .mv_data = (uint8_t *)k.mv_data + 8};
        at = key_seq(&sk);
        result = STORE_OK;
    }
    if (rc == 0 || rc == MDB_NOTFOUND) {
        int before = mdb_cursor_get(cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
        if (before != 0 && before != MDB_NOTFOUND) {
            rc = before;
            result = STORE_ERR;
        }
        for (size_t i = 0; before == 0 && k.mv_size == 16 && i < v.mv_size / 8; i++) {
            int64_t t;
            memcpy(&t, (const uint8_t *)v.mv_data + 8 * i, 8);
            if (t >= since_us) {
                MDB_val sk = {.mv_size = 8, .mv_data = (uint8_t *)k.mv_data + 8};
                at = key_seq(&sk) + i;
                result = STORE_OK;
                break;
            }
        }
    }
    if (result == STORE_OK)
        *seq = at;
    else if (rc == 0 || rc == MDB_NOTFOUND)
        result = STORE_NOTFOUND;
    else
        log_error("event=store_time_failed error=%s", log_q(mdb_strerror(rc)));
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    return result;
}

store_read_t *store_read_begin(store_t *s)
{
    store_read_t *r = xcalloc(1, sizeof *r);
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
    if (rc == 0)
        rc = mdb_cursor_open(r->txn, s->messages, &r->cur);
    if (rc != 0) {
        log_error("event=store_read_failed error=%s", log_q(mdb_strerror(rc)));
        if (r->txn)
            mdb_txn_abort(r->txn);
        free(r);
        return NULL;
    }
    r->s = s;
    return r;
}

int store_read_seek(store_read_t *r, enum store_db db, uint64_t key, int backward, uint64_t *found,
                    const void **data, size_t *len)
{
    MDB_dbi dbi = db == STORE_DB_AUDIT         ? r->s->audit
                  : db == STORE_DB_CHECKPOINTS ? r->s->checkpoints
                                               : r->s->messages;
    int rc = 0;
    if ((unsigned)db > STORE_DB_CHECKPOINTS)
        return STORE_ERR;
    if (r->seek[db] == NULL && (rc = mdb_cursor_open(r->txn, dbi, &r->seek[db])) != 0)
        goto fail;
    uint8_t kb[8];
    seq_key(key, kb);
    MDB_val k = {.mv_size = 8, .mv_data = kb}, v;
    rc = mdb_cursor_get(r->seek[db], &k, &v, MDB_SET_RANGE);
    if (backward) {
        if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(r->seek[db], &k, &v, MDB_LAST);
        else if (rc == 0 && key_seq(&k) > key)
            rc = mdb_cursor_get(r->seek[db], &k, &v, MDB_PREV);
    }
    if (rc == MDB_NOTFOUND)
        return STORE_NOTFOUND;
    if (rc != 0)
        goto fail;
    *found = key_seq(&k);
    *data = v.mv_data;
    *len = v.mv_size;
    return STORE_OK;
fail:
    log_error("event=store_seek_failed error=%s", log_q(mdb_strerror(rc)));
    return STORE_ERR;
}

void store_read_end(store_read_t **rp)
{
    if (rp == NULL || *rp == NULL)
        return;
    for (int i = 0; i < 3; i++)
        if ((*rp)->seek[i])
            mdb_cursor_close((*rp)->seek[i]);
    if ((*rp)->subj)
        mdb_cursor_close((*rp)->subj);
    mdb_cursor_close((*rp)->cur);
    mdb_txn_abort((*rp)->txn);
    free(*rp);
    *rp = NULL;
}

int store_read_get(store_read_t *r, uint64_t seq, const void **data, size_t *len)
{
    uint8_t kb[8];
    seq_key(seq, kb);
    MDB_val k = {.mv_size = 8, .mv_data = kb}, v;
    int rc = mdb_get(r->txn, r->s->messages, &k, &v);
    if (rc == MDB_NOTFOUND)
        return STORE_NOTFOUND;
    if (rc != 0) {
        log_error("event=store_get_failed seq=%llu error=%s", (unsigned long long)seq,
                  log_q(mdb_strerror(rc)));
        return STORE_ERR;
    }
    *data = v.mv_data;
    *len = v.mv_size;
    return STORE_OK;
}

int store_read_next(store_read_t *r, uint64_t from, uint64_t *seq, const void **data, size_t *len)
{
    uint8_t kb[8];
    seq_key(from, kb);
    MDB_val k = {.mv_size = 8, .mv_data = kb}, v;
    /* A walk asks for the one after the last it was given: the next key
     * from where the cursor rests, not a search down from the root. */
    int rc = mdb_cursor_get(r->cur, &k, &v,
                            r->cur_at && from == r->cur_at + 1 ? MDB_NEXT : MDB_SET_RANGE);
    r->cur_at = 0;
    if (rc == MDB_NOTFOUND)
        return STORE_NOTFOUND;
    if (rc != 0) {
        log_error("event=store_next_failed from=%llu error=%s", (unsigned long long)from,
                  log_q(mdb_strerror(rc)));
        return STORE_ERR;
    }
    *seq = key_seq(&k);
    r->cur_at = *seq;
    *data = v.mv_data;
    *len = v.mv_size;
    return STORE_OK;
}

int store_stat(store_t *s, struct store_stat *st)
{
    MDB_envinfo info;
    MDB_stat ms;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    memset(st, 0, sizeof *st);
    int rc = mdb_env_info(s->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(s->env, &ms);
    if (rc == 0)
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        goto leave;
    st->map_bytes = info.me_mapsize;
    st->used_bytes = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
    if ((rc = mdb_stat(txn, s->messages, &ms)) != 0)
        goto leave;
    st->messages = ms.ms_entries;
    if (s->have_index && (rc = mdb_stat(txn, s->subjects, &ms)) == 0) {
        st->subject_entries = ms.ms_entries;
        st->subject_bytes =
            (uint64_t)(ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages) * ms.ms_psize;
    }
    if (rc != 0)
        goto leave;
    if ((rc = mdb_cursor_open(txn, s->messages, &cur)) != 0)
        goto leave;
    if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0)
        st->first_seq = key_seq(&k);
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0)
        st->last_seq = key_seq(&k);
leave:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    if (rc != 0) {
        log_error("event=store_stat_failed error=%s", log_q(mdb_strerror(rc)));
        return STORE_ERR;
    }
    return STORE_OK;
}

int store_deadletter_get(store_t *s, uint64_t seq, const char *durable)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        goto fail;
    size_t nl = strlen(durable);
    uint8_t *kb = xmalloc(8 + nl);
    seq_key(seq, kb);
    memcpy(kb + 8, durable, nl);
    MDB_val k = {.mv_size = 8 + nl, .mv_data = kb}, v;
    rc = mdb_get(txn, s->dead, &k, &v);
    free(kb);
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND)
        return STORE_NOTFOUND;
    if (rc == 0)
        return STORE_OK;
fail:
    log_error("event=store_deadletter_failed error=%s", log_q(mdb_strerror(rc)));
    return STORE_ERR;
}

int store_read_subject(store_read_t *r, const uint8_t token[STORE_TOKEN_BYTES], uint64_t from,
                       uint64_t *seq)
{
    int rc = 0;
    if (!r->s->have_index)
        return STORE_NOTFOUND;
    if (r->subj == NULL && (rc = mdb_cursor_open(r->txn, r->s->subjects, &r->subj)) != 0)
        goto fail;
    uint8_t kb[SUBJECT_KEY];
    uint64_t bucket = from >> SUBJECT_BUCKET_BITS;
    for (;;) {
        subject_key(bucket, token, from, kb);
        MDB_val k = {.mv_size = sizeof kb, .mv_data = kb}, v;
        rc = mdb_cursor_get(r->subj, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND)
            return STORE_NOTFOUND; /* past the newest bucket */
        if (rc != 0)
            goto fail;
        if (k.mv_size != sizeof kb) {
            rc = MDB_CORRUPTED;
            goto fail;
        }
        MDB_val bk = {.mv_size = 4, .mv_data = k.mv_data};
        uint64_t at = key_seq(&bk);
        if (at == bucket && memcmp((uint8_t *)k.mv_data + 4, token, STORE_TOKEN_BYTES) == 0) {
            MDB_val sk = {.mv_size = 8, .mv_data = (uint8_t *)k.mv_data + 4 + STORE_TOKEN_BYTES};
            *seq = key_seq(&sk);
            return STORE_OK;
        }
        /* Not in this bucket: the token in the next that has entries. */
        bucket = at == bucket ? bucket + 1 : at;
        from = 0;
        if (bucket > UINT32_MAX)
            return STORE_NOTFOUND;
    }
fail:
    log_error("event=store_subject_failed error=%s", log_q(mdb_strerror(rc)));
    return STORE_ERR;
}

int store_hits(store_t *s, const char *agent, size_t limit, store_hit_fn fn, void *ctx)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint8_t kb[STORE_HIT_KEY];
    size_t n = strlen(agent);
    if (!s->have_index || n + 17 > sizeof kb)
        return STORE_OK;
    memcpy(kb, agent, n);
    kb[n] = 0x1f;
    MDB_val k = {.mv_size = n + 1, .mv_data = kb}, v;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, s->hits, &cur);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (size_t i = 0; rc == 0 && i < limit; i++) {
        if (k.mv_size != n + 17 || memcmp(k.mv_data, kb, n + 1) != 0)
            break;
        MDB_val sk = {.mv_size = 8, .mv_data = (uint8_t *)k.mv_data + n + 1};
        MDB_val tk = {.mv_size = 8, .mv_data = (uint8_t *)k.mv_data + n + 9};
        fn(key_seq(&sk), (int64_t)key_seq(&tk), v.mv_data, v.mv_size, ctx);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        log_error("event=store_hits_failed error=%s", log_q(mdb_strerror(rc)));
        return STORE_ERR;
    }
    return STORE_OK;
}

/* The meta record naming the subject key the index was written with. */
static MDB_val index_key_name(void)
{
    MDB_val k = {.mv_size = 9, .mv_data = (void *)(uintptr_t) "index_key"};
    return k;
}

int store_index_key(store_t *s, uint8_t id[32])
{
    MDB_txn *txn;
    MDB_val k = index_key_name(), v;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        goto fail;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == 32)
        memcpy(id, v.mv_data, 32);
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != 32))
        return STORE_NOTFOUND;
    if (rc == 0)
        return STORE_OK;
fail:
    log_error("event=store_index_key_failed error=%s", log_q(mdb_strerror(rc)));
    return STORE_ERR;
}

int store_index_reset(store_t *s, const uint8_t *id, int clear)
{
    MDB_txn *txn;
    MDB_val k = index_key_name(), v = {.mv_size = 32, .mv_data = (void *)(uintptr_t)id};
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        goto fail;
    if (clear)
        rc = mdb_drop(txn, s->subjects, 0);
    if (rc == 0)
        rc = id ? mdb_put(txn, s->meta, &k, &v, 0) : mdb_del(txn, s->meta, &k, NULL);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc != 0) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        goto fail;
    return STORE_OK;
fail:
    log_error("event=store_index_reset_failed error=%s", log_q(mdb_strerror(rc)));
    return STORE_ERR;
}
