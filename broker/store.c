/* store.c — the broker's LMDB store: messages by sequence and a schema
 * version, with one write transaction per loop pass (group commit).
 * The only file that includes lmdb.h.
 * Not responsible for: what is stored or who may read it. */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define SCHEMA_VERSION 1u

struct store {
    MDB_env *env;
    MDB_dbi messages;    /* seq (8 bytes big-endian) -> packed Intel */
    MDB_dbi meta;        /* "schema" -> uint32 */
    MDB_dbi times;       /* time_us (8, BE) + seq (8, BE) -> empty */
    MDB_dbi dedup;       /* origin 0x1f msg_id -> seq (8) + time_us (8) */
    MDB_dbi cursors;     /* "agent/durable" -> acked floor (8) + pattern */
    MDB_dbi dead;        /* seq (8, BE) + name -> reason */
    MDB_dbi audit;       /* audit seq (8, BE) -> packed AuditRecord */
    MDB_dbi checkpoints; /* audit seq (8, BE) -> packed AuditCheckpoint */
    int readonly;
    uint64_t batch_id, committed_id;
    MDB_txn *batch; /* open write transaction, or NULL */
    uint64_t last_seq;
    uint64_t next_seq;
    int failure; /* why the last batch was abandoned */
};

struct store_read {
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_cursor *seek[3]; /* per enum store_db, opened on first use */
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

/* Sets up databases, checks the schema and finds the last sequence. */
static int store_init(store_t *s, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    unsigned create = s->readonly ? 0 : MDB_CREATE;
    int rc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &txn);
    if (rc != 0)
        goto fail;
    if ((rc = mdb_dbi_open(txn, "messages", create, &s->messages)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", create, &s->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "times", create, &s->times)) != 0 ||
        (rc = mdb_dbi_open(txn, "dedup", create, &s->dedup)) != 0 ||
        (rc = mdb_dbi_open(txn, "cursors", create, &s->cursors)) != 0 ||
        (rc = mdb_dbi_open(txn, "deadletters", create, &s->dead)) != 0 ||
        (rc = mdb_dbi_open(txn, "audit", create, &s->audit)) != 0 ||
        (rc = mdb_dbi_open(txn, "checkpoints", create, &s->checkpoints)) != 0)
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
    /* Committed even when read-only: an aborted transaction would close
     * the database handles opened in it. */
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        goto fail;
    }
    s->next_seq = s->last_seq + 1;
    return 0;
fail:
    snprintf(err, errlen, "store: %s", mdb_strerror(rc));
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    return -1;
}

store_t *store_open_readonly(const char *dir, char *err, size_t errlen)
{
    store_t *s = xcalloc(1, sizeof *s);
    s->readonly = 1;
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
    if (store_init(s, err, errlen) != 0)
        goto fail;
    return s;
fail:
    mdb_env_close(s->env);
    free(s);
    return NULL;
}

store_t *store_open(const char *dir, unsigned map_size_mb, char *err, size_t errlen)
{
    store_t *s = xcalloc(1, sizeof *s);
    int rc;
    if (util_mkdirs(dir) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        goto err1;
    }
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
    if (store_init(s, err, errlen) != 0)
        goto err2;
    return s;
err2:
    mdb_env_close(s->env);
err1:
    free(s);
    return NULL;
}

void store_close(store_t **sp)
{
    if (sp == NULL || *sp == NULL)
        return;
    store_t *s = *sp;
    store_batch_abort(s);
    mdb_env_close(s->env);
    free(s);
    *sp = NULL;
}

uint64_t store_last_seq(const store_t *s)
{
    return s->last_seq;
}

uint64_t store_next_seq(const store_t *s)
{
    return s->next_seq;
}

int store_batch_open(const store_t *s)
{
    return s->batch != NULL;
}

int store_batch_failure(const store_t *s)
{
    return s->failure;
}

int store_batch_begin(store_t *s)
{
    if (s->batch)
        return STORE_OK;
    int rc = mdb_txn_begin(s->env, NULL, 0, &s->batch);
    if (rc != 0) {
        log_error("event=store_begin_failed error=\"%s\"", mdb_strerror(rc));
        s->batch = NULL;
        s->failure = STORE_ERR;
        return STORE_ERR;
    }
    s->failure = STORE_OK;
    s->batch_id++;
    return STORE_OK;
}

void store_batch_abort(store_t *s)
{
    if (s->batch) {
        mdb_txn_abort(s->batch);
        s->batch = NULL;
    }
    s->next_seq = s->last_seq + 1;
}

static int batch_failed(store_t *s, int rc, const char *what)
{
    store_batch_abort(s);
    if (rc == MDB_MAP_FULL) {
        log_warn("event=store_full op=%s", what);
        return s->failure = STORE_FULL;
    }
    log_error("event=store_failed op=%s error=\"%s\"", what, mdb_strerror(rc));
    return s->failure = STORE_ERR;
}

int store_batch_put(store_t *s, uint64_t seq, int64_t time_us, const void *data, size_t len,
                    const char *dedup_key)
{
    if (s->batch == NULL || seq != s->next_seq) {
        log_error("event=store_put_misuse seq=%llu next=%llu", (unsigned long long)seq,
                  (unsigned long long)s->next_seq);
        store_batch_abort(s);
        return STORE_ERR;
    }
    uint8_t kb[8];
    seq_key(seq, kb);
    MDB_val k = {.mv_size = 8, .mv_data = kb};
    MDB_val v = {.mv_size = len, .mv_data = (void *)(uintptr_t)data};
    int rc = mdb_put(s->batch, s->messages, &k, &v, MDB_APPEND);
    if (rc != 0)
        return batch_failed(s, rc, "put");
    uint8_t tk[16];
    seq_key((uint64_t)time_us, tk);
    seq_key(seq, tk + 8);
    MDB_val tkey = {.mv_size = 16, .mv_data = tk}, empty = {.mv_size = 0, .mv_data = tk};
    /* Wall-clock time can step back, so this is not always an append. */
    if ((rc = mdb_put(s->batch, s->times, &tkey, &empty, 0)) != 0)
        return batch_failed(s, rc, "put time");
    if (dedup_key && dedup_key[0]) {
        uint8_t dv[16];
        memcpy(dv, &seq, 8);
        memcpy(dv + 8, &time_us, 8);
        MDB_val dk = {.mv_size = strlen(dedup_key), .mv_data = (void *)(uintptr_t)dedup_key};
        MDB_val dval = {.mv_size = 16, .mv_data = dv};
        if (dk.mv_size > 511)
            dk.mv_size = 511; /* LMDB's key limit; msg_id is bounded well below */
        if ((rc = mdb_put(s->batch, s->dedup, &dk, &dval, 0)) != 0)
            return batch_failed(s, rc, "put dedup");
    }
    s->next_seq++;
    return STORE_OK;
}

int store_batch_commit(store_t *s)
{
    if (s->batch == NULL)
        return STORE_OK;
    int rc;
    if (s->next_seq - 1 > s->last_seq) {
        uint64_t hw = s->next_seq - 1;
        MDB_val k = {.mv_size = 8, .mv_data = "last_seq"}, v = {.mv_size = 8, .mv_data = &hw};
        if ((rc = mdb_put(s->batch, s->meta, &k, &v, 0)) != 0)
            return batch_failed(s, rc, "put high-water mark");
    }
    rc = mdb_txn_commit(s->batch);
    s->batch = NULL; /* a failed commit has freed the transaction too */
    if (rc != 0)
        return batch_failed(s, rc, "commit");
    s->last_seq = s->next_seq - 1;
    s->committed_id = s->batch_id;
    return STORE_OK;
}

/* Runs fn inside the open batch if there is one (so it sees uncommitted
 * writes), else inside a short read-only transaction. */
static int with_txn(store_t *s, MDB_txn **txn, int *own)
{
    *own = 0;
    if (s->batch) {
        *txn = s->batch;
        return 0;
    }
    *own = 1;
    return mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
}

int store_dedup_find(store_t *s, const char *dedup_key, int64_t min_time_us, uint64_t *seq)
{
    MDB_txn *txn;
    int own;
    int rc = with_txn(s, &txn, &own);
    if (rc != 0)
        goto fail;
    MDB_val k = {.mv_size = strlen(dedup_key), .mv_data = (void *)(uintptr_t)dedup_key}, v;
    if (k.mv_size > 511)
        k.mv_size = 511;
    rc = mdb_get(txn, s->dedup, &k, &v);
    int result = STORE_NOTFOUND;
    if (rc == 0 && v.mv_size == 16) {
        int64_t t;
        memcpy(&t, (const uint8_t *)v.mv_data + 8, 8);
        if (t >= min_time_us) {
            memcpy(seq, v.mv_data, 8);
            result = STORE_OK;
        }
    }
    if (own)
        mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto fail;
    return result;
fail:
    log_error("event=store_dedup_failed error=\"%s\"", mdb_strerror(rc));
    return STORE_ERR;
}

int store_cursor_put(store_t *s, const char *name, uint64_t acked_floor, const char *pattern)
{
    if (store_batch_begin(s) != STORE_OK)
        return STORE_ERR;
    size_t pl = strlen(pattern);
    uint8_t *buf = xmalloc(8 + pl);
    memcpy(buf, &acked_floor, 8);
    memcpy(buf + 8, pattern, pl);
    MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)(uintptr_t)name};
    MDB_val v = {.mv_size = 8 + pl, .mv_data = buf};
    int rc = mdb_put(s->batch, s->cursors, &k, &v, 0);
    free(buf);
    return rc == 0 ? STORE_OK : batch_failed(s, rc, "put cursor");
}

int store_cursor_get(store_t *s, const char *name, uint64_t *acked_floor, char *pattern,
                     size_t plen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        goto fail;
    MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)(uintptr_t)name}, v;
    rc = mdb_get(txn, s->cursors, &k, &v);
    int result = STORE_NOTFOUND;
    if (rc == 0 && v.mv_size >= 8) {
        memcpy(acked_floor, v.mv_data, 8);
        size_t n = v.mv_size - 8;
        if (n >= plen)
            n = plen - 1;
        memcpy(pattern, (const uint8_t *)v.mv_data + 8, n);
        pattern[n] = '\0';
        result = STORE_OK;
    }
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto fail;
    return result;
fail:
    log_error("event=store_cursor_failed name=%s error=\"%s\"", name, mdb_strerror(rc));
    return STORE_ERR;
}

int store_deadletter_put(store_t *s, uint64_t seq, const char *name, const char *reason)
{
    if (store_batch_begin(s) != STORE_OK)
        return STORE_ERR;
    size_t nl = strlen(name);
    uint8_t *kb = xmalloc(8 + nl);
    seq_key(seq, kb);
    memcpy(kb + 8, name, nl);
    MDB_val k = {.mv_size = 8 + nl, .mv_data = kb};
    MDB_val v = {.mv_size = strlen(reason), .mv_data = (void *)(uintptr_t)reason};
    int rc = mdb_put(s->batch, s->dead, &k, &v, 0);
    free(kb);
    return rc == 0 ? STORE_OK : batch_failed(s, rc, "put deadletter");
}

int store_purge(store_t *s, uint64_t seq, int64_t time_us, const char *dedup_key)
{
    if (store_batch_begin(s) != STORE_OK)
        return STORE_ERR;
    uint8_t kb[16];
    seq_key(seq, kb);
    MDB_val k = {.mv_size = 8, .mv_data = kb};
    int rc = mdb_del(s->batch, s->messages, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return STORE_NOTFOUND;
    if (rc != 0)
        return batch_failed(s, rc, "purge");
    seq_key((uint64_t)time_us, kb);
    seq_key(seq, kb + 8);
    MDB_val tk = {.mv_size = 16, .mv_data = kb};
    rc = mdb_del(s->batch, s->times, &tk, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return batch_failed(s, rc, "purge time");
    if (dedup_key && dedup_key[0]) {
        MDB_val dk = {.mv_size = strlen(dedup_key), .mv_data = (void *)(uintptr_t)dedup_key};
        if (dk.mv_size > 511)
            dk.mv_size = 511;
        rc = mdb_del(s->batch, s->dedup, &dk, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return batch_failed(s, rc, "purge dedup");
    }
    return STORE_OK;
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
        log_error("event=store_cursors_failed error=\"%s\"", mdb_strerror(rc));
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
        log_error("event=store_deadletters_failed error=\"%s\"", mdb_strerror(rc));
        return STORE_ERR;
    }
    return STORE_OK;
}

int store_deadletter_del(store_t *s, uint64_t seq, const char *durable)
{
    if (store_batch_begin(s) != STORE_OK)
        return STORE_ERR;
    size_t nl = strlen(durable);
    uint8_t *kb = xmalloc(8 + nl);
    seq_key(seq, kb);
    memcpy(kb + 8, durable, nl);
    MDB_val k = {.mv_size = 8 + nl, .mv_data = kb};
    int rc = mdb_del(s->batch, s->dead, &k, NULL);
    free(kb);
    if (rc == MDB_NOTFOUND)
        return STORE_NOTFOUND;
    return rc == 0 ? STORE_OK : batch_failed(s, rc, "del deadletter");
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
    if (rc == 0 && k.mv_size == 16) {
        MDB_val sk = {.mv_size = 8, .mv_data = (uint8_t *)k.mv_data + 8};
        *seq = key_seq(&sk);
        result = STORE_OK;
    } else if (rc == MDB_NOTFOUND) {
        result = STORE_NOTFOUND;
    } else {
        log_error("event=store_time_failed error=\"%s\"", mdb_strerror(rc));
    }
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
        log_error("event=store_read_failed error=\"%s\"", mdb_strerror(rc));
        if (r->txn)
            mdb_txn_abort(r->txn);
        free(r);
        return NULL;
    }
    r->s = s;
    return r;
}

uint64_t store_batch_id(const store_t *s)
{
    return s->batch_id;
}

uint64_t store_committed_id(const store_t *s)
{
    return s->committed_id;
}

/* Puts a value under an 8-byte sequence key in the open batch. */
static int put_seq(store_t *s, MDB_dbi dbi, uint64_t seq, const void *data, size_t len,
                   const char *what)
{
    if (store_batch_begin(s) != STORE_OK)
        return STORE_ERR;
    uint8_t kb[8];
    seq_key(seq, kb);
    MDB_val k = {.mv_size = 8, .mv_data = kb};
    MDB_val v = {.mv_size = len, .mv_data = (void *)(uintptr_t)data};
    int rc = mdb_put(s->batch, dbi, &k, &v, 0);
    return rc == 0 ? STORE_OK : batch_failed(s, rc, what);
}

int store_audit_put(store_t *s, uint64_t aseq, const void *data, size_t len)
{
    return put_seq(s, s->audit, aseq, data, len, "put audit");
}

int store_checkpoint_put(store_t *s, uint64_t aseq, const void *data, size_t len)
{
    return put_seq(s, s->checkpoints, aseq, data, len, "put checkpoint");
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
    log_error("event=store_seek_failed error=\"%s\"", mdb_strerror(rc));
    return STORE_ERR;
}

void store_read_end(store_read_t **rp)
{
    if (rp == NULL || *rp == NULL)
        return;
    for (int i = 0; i < 3; i++)
        if ((*rp)->seek[i])
            mdb_cursor_close((*rp)->seek[i]);
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
        log_error("event=store_get_failed seq=%llu error=\"%s\"", (unsigned long long)seq,
                  mdb_strerror(rc));
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
    int rc = mdb_cursor_get(r->cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        return STORE_NOTFOUND;
    if (rc != 0) {
        log_error("event=store_next_failed from=%llu error=\"%s\"", (unsigned long long)from,
                  mdb_strerror(rc));
        return STORE_ERR;
    }
    *seq = key_seq(&k);
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
        log_error("event=store_stat_failed error=\"%s\"", mdb_strerror(rc));
        return STORE_ERR;
    }
    return STORE_OK;
}
