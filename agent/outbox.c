/* outbox.c — the agent's LMDB store: the outbox in publish order, the
 * msg_ids taken from the spool, and the sequences each sink has written.
 * Every write is one synced transaction, because the callers act on disk
 * state (move a spool file, ack a delivery) only after it commits.
 * Not responsible for: deciding what to publish or when (spool.c,
 * publish.c), or writing to sinks (sink.c). */
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define SCHEMA_VERSION 1u
#define ENTRY_VERSION  1u
#define NAME_MAX_LEN   256 /* subscription names are at most 64; keys stay small */

struct outbox {
    MDB_env *env;
    MDB_dbi queue;   /* id (8, BE) -> version (1) + source length (2, BE) + source + packed Intel */
    MDB_dbi ids;     /* msg_id -> id (8, BE) + taken at, us (8, BE) + digest (32) */
    MDB_dbi written; /* sub 0x00 seq (8, BE) -> empty; sub 0x00 -> count (8, BE) */
    MDB_dbi meta;    /* "schema" -> uint32; "next_id" -> 8, BE */
    MDB_txn *txn;    /* open add transaction, or NULL */
    uint64_t next_id;
    uint64_t txn_next_id;
    int lock_fd;
};

/* Big-endian numbers sort numerically under LMDB's default memcmp order,
 * so a cursor walks the outbox in the order messages were taken. */
static void put_be(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int code_of(int rc)
{
    return rc == MDB_MAP_FULL ? OUTBOX_FULL : OUTBOX_ERR;
}

static void log_lmdb(const char *what, int rc)
{
    if (rc == MDB_PANIC || rc == EIO || rc == ENOSPC)
        /* The disk failed under a write: after a failed sync the kernel may
         * have dropped the pages, so nothing is retried. Stop; a restart
         * recovers from what is on disk (nothing acked or moved to done/
         * depends on the write that failed). */
        log_fatal("event=outbox_failed action=%s error=%s then=\"stopping: nothing is "
                  "retried after a failed write\"",
                  what, log_q(mdb_strerror(rc)));
    if (rc == MDB_MAP_FULL)
        log_error("event=outbox_full action=%s reason=\"the outbox map is full: new work is "
                  "refused until the broker takes what is waiting\"",
                  what);
    else
        log_error("event=outbox_failed action=%s error=%s", what, log_q(mdb_strerror(rc)));
}

/* A read transaction, or the open add transaction when there is one (LMDB
 * would deadlock a write txn against a read txn in the same thread only
 * with TLS readers; reusing the write txn also sees its uncommitted adds). */
static int read_begin(outbox_t *o, MDB_txn **txn)
{
    if (o->txn) {
        *txn = o->txn;
        return 0;
    }
    return mdb_txn_begin(o->env, NULL, MDB_RDONLY, txn);
}

static void read_end(outbox_t *o, MDB_txn *txn)
{
    if (txn && txn != o->txn)
        mdb_txn_abort(txn);
}

static int init_dbs(outbox_t *o, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    MDB_val k, v;
    int rc = mdb_txn_begin(o->env, NULL, 0, &txn);
    if (rc != 0)
        goto fail;
    if ((rc = mdb_dbi_open(txn, "queue", MDB_CREATE, &o->queue)) != 0 ||
        (rc = mdb_dbi_open(txn, "ids", MDB_CREATE, &o->ids)) != 0 ||
        (rc = mdb_dbi_open(txn, "written", MDB_CREATE, &o->written)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &o->meta)) != 0)
        goto fail;
    k.mv_data = "schema";
    k.mv_size = 6;
    rc = mdb_get(txn, o->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint32_t ver = SCHEMA_VERSION;
        v.mv_data = &ver;
        v.mv_size = sizeof ver;
        if ((rc = mdb_put(txn, o->meta, &k, &v, 0)) != 0)
            goto fail;
    } else if (rc != 0) {
        goto fail;
    } else {
        uint32_t ver = 0;
        memcpy(&ver, v.mv_data, v.mv_size < sizeof ver ? v.mv_size : sizeof ver);
        if (ver > SCHEMA_VERSION) {
            snprintf(err, errlen, "outbox: schema version %u is newer than this agent's %u", ver,
                     SCHEMA_VERSION);
            mdb_txn_abort(txn);
            return -1;
        }
    }
    k.mv_data = "next_id";
    k.mv_size = 7;
    rc = mdb_get(txn, o->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        o->next_id = get_be(v.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        goto fail;
    if (o->next_id == 0)
        o->next_id = 1;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "outbox: %s", mdb_strerror(rc));
    if (txn)
        mdb_txn_abort(txn);
    return -1;
}

outbox_t *outbox_open(const char *dir, unsigned map_mb, char *err, size_t errlen)
{
    char path[4096];
    int rc;
    outbox_t *o = xcalloc(1, sizeof *o);
    o->lock_fd = -1;
    if (util_mkdirs(dir) != 0) {
        snprintf(err, errlen, "data_dir %s: %s", dir, strerror(errno));
        goto err1;
    }
    /* flock, not LMDB's own lock: LMDB happily lets two processes share an
     * environment, and two agents on one outbox would publish everything
     * twice. */
    if (util_path_join(path, sizeof path, dir, "agent.lock") != 0) {
        snprintf(err, errlen, "data_dir %s: path too long", dir);
        goto err1;
    }
    o->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (o->lock_fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto err1;
    }
    if (flock(o->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "%s: another liaison-agent is using data_dir %s", path, dir);
        goto err1;
    }
    if ((rc = mdb_env_create(&o->env)) != 0) {
        snprintf(err, errlen, "outbox: %s", mdb_strerror(rc));
        goto err1;
    }
    mdb_env_set_maxdbs(o->env, 8);
    if ((rc = mdb_env_set_mapsize(o->env, (size_t)(map_mb ? map_mb : 1) << 20)) != 0) {
        snprintf(err, errlen, "outbox: map size: %s", mdb_strerror(rc));
        goto err2;
    }
    if (util_path_join(path, sizeof path, dir, "outbox.mdb") != 0) {
        snprintf(err, errlen, "data_dir %s: path too long", dir);
        goto err2;
    }
    /* One file (MDB_NOSUBDIR) so data_dir can hold the lock beside it.
     * Syncs stay on: a commit returns after fdatasync, which is what lets
     * the spool move a file away and the sinks ack. */
    if ((rc = mdb_env_open(o->env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600)) != 0) {
        snprintf(err, errlen, "outbox: open %s: %s", path, mdb_strerror(rc));
        goto err2;
    }
    /* A file cut short maps the missing pages: reading one is SIGBUS. */
    MDB_envinfo info;
    MDB_stat ms;
    char why[512];
    if (mdb_env_info(o->env, &info) == 0 && mdb_env_stat(o->env, &ms) == 0 &&
        util_check_truncated(path, ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize, why,
                             sizeof why) != 0) {
        snprintf(err, errlen, "outbox: %s", why);
        goto err2;
    }
    if (init_dbs(o, err, errlen) != 0)
        goto err2;
    return o;
err2:
    mdb_env_close(o->env);
err1:
    if (o->lock_fd >= 0)
        close(o->lock_fd);
    free(o);
    return NULL;
}

void outbox_close(outbox_t **op)
{
    if (op == NULL || *op == NULL)
        return;
    outbox_t *o = *op;
    outbox_abort(o);
    mdb_env_close(o->env);
    if (o->lock_fd >= 0)
        close(o->lock_fd);
    free(o);
    *op = NULL;
}

/* ---- taking messages --------------------------------------------------------- */

int outbox_begin(outbox_t *o)
{
    if (o->txn)
        return OUTBOX_OK;
    int rc = mdb_txn_begin(o->env, NULL, 0, &o->txn);
    if (rc != 0) {
        o->txn = NULL;
        log_lmdb("begin", rc);
        return code_of(rc);
    }
    o->txn_next_id = o->next_id;
    return OUTBOX_OK;
}

void outbox_abort(outbox_t *o)
{
    if (o->txn)
        mdb_txn_abort(o->txn);
    o->txn = NULL;
}

int outbox_add(outbox_t *o, const Liaison__Intel *m, const uint8_t digest[32], const char *source)
{
    uint8_t key[8], idval[48];
    uint8_t *val = NULL;
    int rc, out = OUTBOX_ERR;
    const char *msg_id = m->msg_id ? m->msg_id : "";
    size_t src_len = source ? strlen(source) : 0;

    if (o->txn == NULL || msg_id[0] == '\0' || src_len > 0xffff) {
        log_error("event=outbox_add_refused reason=\"no transaction, no msg_id or source too "
                  "long\"");
        outbox_abort(o);
        return OUTBOX_ERR;
    }
    MDB_val ik = {.mv_size = strlen(msg_id), .mv_data = (void *)(uintptr_t)msg_id}, iv;
    rc = mdb_get(o->txn, o->ids, &ik, &iv);
    if (rc == 0) {
        if (iv.mv_size == sizeof idval && memcmp((uint8_t *)iv.mv_data + 16, digest, 32) == 0)
            return OUTBOX_KNOWN;
        return OUTBOX_CONFLICT;
    }
    if (rc != MDB_NOTFOUND)
        goto fail;

    uint64_t id = o->txn_next_id;
    size_t plen = wire_intel_size(m);
    size_t vlen = 3 + src_len + plen;
    val = xmalloc(vlen);
    val[0] = ENTRY_VERSION;
    val[1] = (uint8_t)(src_len >> 8);
    val[2] = (uint8_t)(src_len & 0xff);
    if (src_len)
        memcpy(val + 3, source, src_len);
    wire_intel_pack(m, val + 3 + src_len);
    put_be(key, id);
    MDB_val qk = {.mv_size = 8, .mv_data = key}, qv = {.mv_size = vlen, .mv_data = val};
    if ((rc = mdb_put(o->txn, o->queue, &qk, &qv, MDB_APPEND)) != 0)
        goto fail;
    put_be(idval, id);
    put_be(idval + 8, (uint64_t)util_now_us());
    memcpy(idval + 16, digest, 32);
    iv.mv_size = sizeof idval;
    iv.mv_data = idval;
    if ((rc = mdb_put(o->txn, o->ids, &ik, &iv, 0)) != 0)
        goto fail;
    o->txn_next_id = id + 1;
    out = OUTBOX_OK;
    goto leave;
fail:
    log_lmdb("add", rc);
    out = code_of(rc);
    outbox_abort(o);
leave:
    free(val);
    return out;
}

int outbox_commit(outbox_t *o)
{
    uint8_t nb[8];
    int rc;
    if (o->txn == NULL)
        return OUTBOX_ERR;
    put_be(nb, o->txn_next_id);
    MDB_val k = {.mv_size = 7, .mv_data = "next_id"}, v = {.mv_size = 8, .mv_data = nb};
    if ((rc = mdb_put(o->txn, o->meta, &k, &v, 0)) != 0) {
        log_lmdb("commit", rc);
        outbox_abort(o);
        return code_of(rc);
    }
    rc = mdb_txn_commit(o->txn);
    o->txn = NULL;
    if (rc != 0) {
        log_lmdb("commit", rc);
        return code_of(rc);
    }
    o->next_id = o->txn_next_id;
    return OUTBOX_OK;
}

/* ---- sending -------------------------------------------------------------------- */

void outbox_entry_clear(outbox_entry_t *e)
{
    wire_intel_free(&e->m);
    free(e->source);
    e->source = NULL;
    e->id = 0;
}

/* Decodes a queue value; -1 if it is not one this version wrote. */
static int entry_decode(const MDB_val *v, outbox_entry_t *e)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < 3 || p[0] != ENTRY_VERSION)
        return -1;
    size_t src_len = ((size_t)p[1] << 8) | p[2];
    if (3 + src_len > v->mv_size)
        return -1;
    e->m = wire_intel_decode(p + 3 + src_len, v->mv_size - 3 - src_len);
    if (e->m == NULL)
        return -1;
    e->source = xstrndup((const char *)p + 3, src_len);
    return 0;
}

int outbox_next(outbox_t *o, uint64_t after, outbox_entry_t *e)
{
    memset(e, 0, sizeof *e);
    for (;;) {
        MDB_txn *txn = NULL;
        MDB_cursor *cur = NULL;
        uint8_t key[8];
        uint64_t bad = 0;
        int rc = read_begin(o, &txn);
        if (rc == 0)
            rc = mdb_cursor_open(txn, o->queue, &cur);
        if (rc != 0) {
            log_lmdb("read", rc);
            read_end(o, txn);
            return OUTBOX_ERR;
        }
        put_be(key, after + 1);
        MDB_val k = {.mv_size = 8, .mv_data = key}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        int out = OUTBOX_NOTFOUND;
        if (rc == 0 && k.mv_size == 8) {
            e->id = get_be(k.mv_data);
            if (entry_decode(&v, e) == 0)
                out = OUTBOX_OK;
            else
                bad = e->id;
        } else if (rc != MDB_NOTFOUND) {
            log_lmdb("read", rc);
            out = OUTBOX_ERR;
        }
        mdb_cursor_close(cur);
        read_end(o, txn);
        if (bad == 0)
            return out;
        /* Only a damaged file or a downgrade can get here; keeping the entry
         * would block everything behind it for ever. */
        log_error("event=outbox_entry_undecodable id=%llu action=removed", (unsigned long long)bad);
        outbox_entry_clear(e);
        if (outbox_remove(o, &bad, 1) != OUTBOX_OK)
            return OUTBOX_ERR;
        after = bad;
    }
}

int outbox_remove(outbox_t *o, const uint64_t *ids, size_t n)
{
    MDB_txn *txn = NULL;
    int rc;
    if (n == 0)
        return OUTBOX_OK;
    if ((rc = mdb_txn_begin(o->env, NULL, 0, &txn)) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        uint8_t key[8];
        put_be(key, ids[i]);
        MDB_val k = {.mv_size = 8, .mv_data = key};
        rc = mdb_del(txn, o->queue, &k, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            goto fail;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail;
    return OUTBOX_OK;
fail:
    log_lmdb("remove", rc);
    if (txn)
        mdb_txn_abort(txn);
    return OUTBOX_ERR;
}

int outbox_refused(outbox_t *o, uint64_t id, const char *msg_id)
{
    MDB_txn *txn = NULL;
    uint8_t key[8];
    int rc;
    put_be(key, id);
    MDB_val k = {.mv_size = 8, .mv_data = key};
    MDB_val ik = {.mv_size = msg_id ? strlen(msg_id) : 0, .mv_data = (void *)(uintptr_t)msg_id};
    if ((rc = mdb_txn_begin(o->env, NULL, 0, &txn)) != 0)
        goto fail;
    rc = mdb_del(txn, o->queue, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto fail;
    if (ik.mv_size > 0) {
        rc = mdb_del(txn, o->ids, &ik, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            goto fail;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail;
    return OUTBOX_OK;
fail:
    log_lmdb("refused", rc);
    if (txn)
        mdb_txn_abort(txn);
    return OUTBOX_ERR;
}

uint64_t outbox_count(outbox_t *o)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    uint64_t n = 0;
    if (read_begin(o, &txn) == 0 && mdb_stat(txn, o->queue, &st) == 0)
        n = st.ms_entries;
    read_end(o, txn);
    return n;
}

int64_t outbox_oldest_us(outbox_t *o)
{
    outbox_entry_t e;
    if (outbox_next(o, 0, &e) != OUTBOX_OK)
        return 0;
    int64_t at = 0;
    MDB_txn *txn = NULL;
    const char *msg_id = e.m->msg_id ? e.m->msg_id : "";
    MDB_val k = {.mv_size = strlen(msg_id), .mv_data = (void *)(uintptr_t)msg_id}, v;
    if (msg_id[0] && read_begin(o, &txn) == 0 && mdb_get(txn, o->ids, &k, &v) == 0 &&
        v.mv_size >= 16)
        at = (int64_t)get_be((uint8_t *)v.mv_data + 8);
    read_end(o, txn);
    outbox_entry_clear(&e);
    return at;
}

long outbox_forget_ids(outbox_t *o, int64_t cutoff_us)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    long forgotten = 0;
    int rc;
    if ((rc = mdb_txn_begin(o->env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, o->ids, &cur)) != 0)
        goto fail;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (v.mv_size < 16 || (int64_t)get_be((uint8_t *)v.mv_data + 8) >= cutoff_us)
            continue;
        MDB_val qk = {.mv_size = 8, .mv_data = v.mv_data}, qv;
        int q = mdb_get(txn, o->queue, &qk, &qv);
        if (q == 0)
            continue; /* still waiting to be published: its id must stay known */
        if (q != MDB_NOTFOUND) {
            rc = q;
            goto fail;
        }
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            goto fail;
        forgotten++;
    }
    if (rc != MDB_NOTFOUND)
        goto fail;
    mdb_cursor_close(cur);
    cur = NULL;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail;
    return forgotten;
fail:
    log_lmdb("forget_ids", rc);
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    return -1;
}

/* ---- what sinks have written --------------------------------------------------- */

/* sub 0x00 [seq]: the count key without a seq sorts just before the sub's
 * sequences, so one cursor range covers both. */
static size_t written_key(uint8_t *out, const char *sub, int with_seq, uint64_t seq)
{
    size_t n = strlen(sub);
    if (n > NAME_MAX_LEN)
        n = NAME_MAX_LEN;
    memcpy(out, sub, n);
    out[n++] = 0;
    if (with_seq) {
        put_be(out + n, seq);
        n += 8;
    }
    return n;
}

int outbox_written_has(outbox_t *o, const char *sub, uint64_t seq)
{
    uint8_t key[NAME_MAX_LEN + 9];
    MDB_txn *txn = NULL;
    MDB_val k = {.mv_size = written_key(key, sub, 1, seq), .mv_data = key}, v;
    int rc = read_begin(o, &txn);
    if (rc == 0)
        rc = mdb_get(txn, o->written, &k, &v);
    read_end(o, txn);
    if (rc == 0)
        return 1;
    if (rc == MDB_NOTFOUND)
        return 0;
    log_lmdb("written_get", rc);
    return -1;
}

static uint64_t count_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)(uintptr_t)key}, v;
    if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 8)
        return get_be(v.mv_data);
    return 0;
}

static int count_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, uint64_t n)
{
    uint8_t nb[8];
    put_be(nb, n);
    MDB_val k = {.mv_size = klen, .mv_data = (void *)(uintptr_t)key},
            v = {.mv_size = 8, .mv_data = nb};
    return mdb_put(txn, dbi, &k, &v, 0);
}

/* Deletes the oldest records of sub until `drop` are gone. */
static int drop_oldest(MDB_txn *txn, MDB_dbi dbi, const uint8_t *ckey, size_t clen, uint64_t drop)
{
    MDB_cursor *cur = NULL;
    MDB_val k = {.mv_size = clen, .mv_data = (void *)(uintptr_t)ckey}, v;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && drop > 0) {
        if (k.mv_size != clen + 8 || memcmp(k.mv_data, ckey, clen) != 0) {
            if (k.mv_size == clen && memcmp(k.mv_data, ckey, clen) == 0) {
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* the count key */
                continue;
            }
            break;
        }
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        drop--;
        /* After a delete the cursor already rests on the next record
         * (LMDB's C_DEL): MDB_NEXT returns it rather than skipping it. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int outbox_written_add(outbox_t *o, const char *sub, const uint64_t *seqs, size_t n)
{
    uint8_t key[NAME_MAX_LEN + 9], ckey[NAME_MAX_LEN + 1];
    MDB_txn *txn = NULL;
    int rc;
    if (n == 0)
        return OUTBOX_OK;
    size_t clen = written_key(ckey, sub, 0, 0);
    if ((rc = mdb_txn_begin(o->env, NULL, 0, &txn)) != 0)
        goto fail;
    uint64_t count = count_get(txn, o->written, ckey, clen);
    for (size_t i = 0; i < n; i++) {
        MDB_val k = {.mv_size = written_key(key, sub, 1, seqs[i]), .mv_data = key},
                v = {.mv_size = 0, .mv_data = key};
        rc = mdb_put(txn, o->written, &k, &v, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST)
            continue;
        if (rc != 0)
            goto fail;
        count++;
    }
    /* Trimmed in steps of an eighth, so the walk is paid once per 1024
     * records rather than on every ack. */
    if (count > OUTBOX_WRITTEN_KEEP + OUTBOX_WRITTEN_KEEP / 8) {
        if ((rc = drop_oldest(txn, o->written, ckey, clen, count - OUTBOX_WRITTEN_KEEP)) != 0)
            goto fail;
        count = OUTBOX_WRITTEN_KEEP;
    }
    if ((rc = count_put(txn, o->written, ckey, clen, count)) != 0)
        goto fail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail;
    return OUTBOX_OK;
fail:
    log_lmdb("written_add", rc);
    if (txn)
        mdb_txn_abort(txn);
    return OUTBOX_ERR;
}

int outbox_written_forget_above(outbox_t *o, const char *sub, uint64_t seq)
{
    uint8_t key[NAME_MAX_LEN + 9], ckey[NAME_MAX_LEN + 1];
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint64_t gone = 0;
    int rc;
    size_t clen = written_key(ckey, sub, 0, 0);
    if (seq == UINT64_MAX)
        return OUTBOX_OK;
    if ((rc = mdb_txn_begin(o->env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, o->written, &cur)) != 0)
        goto fail;
    MDB_val k = {.mv_size = written_key(key, sub, 1, seq + 1), .mv_data = key}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == clen + 8 && memcmp(k.mv_data, ckey, clen) == 0) {
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            goto fail;
        gone++;
        /* After a delete the cursor already rests on the next record
         * (LMDB's C_DEL): MDB_NEXT returns it rather than skipping it. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto fail;
    mdb_cursor_close(cur);
    cur = NULL;
    if (gone) {
        uint64_t count = count_get(txn, o->written, ckey, clen);
        if ((rc = count_put(txn, o->written, ckey, clen, count > gone ? count - gone : 0)) != 0)
            goto fail;
        rc = mdb_txn_commit(txn);
        txn = NULL;
        if (rc != 0)
            goto fail;
        log_warn("event=written_records_dropped sub=%s above_seq=%llu count=%llu reason=\"the "
                 "broker's sequence is behind what this agent wrote: its store was reset\"",
                 log_q(sub), (unsigned long long)seq, (unsigned long long)gone);
    } else {
        mdb_txn_abort(txn);
    }
    return OUTBOX_OK;
fail:
    log_lmdb("written_forget", rc);
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    return OUTBOX_ERR;
}
