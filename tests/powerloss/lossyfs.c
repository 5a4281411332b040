/* lossyfs.c — a FUSE filesystem that forgets, for the power-loss tests.
 *
 * It passes everything through to a backing directory, except file data
 * and size changes that have not been made durable: those live only in
 * this process's memory, as a per-file overlay of unsynced byte ranges
 * plus a pending size (from writes past the end and from truncates).
 * Reads see the overlay over the backing file, so a running program sees
 * what it wrote, as it would with a real page cache.
 *
 * A file's pending writes become durable — applied to the backing file,
 * which is then fsynced — when:
 *   - fsync or fdatasync is called on it (any descriptor: durability is a
 *     property of the file, not of the descriptor), or
 *   - they were written through a descriptor opened with O_SYNC/O_DSYNC
 *     (LMDB writes its meta pages that way): only that write becomes
 *     durable, not others pending on the same file.
 *
 * Unmounting is the power cut, unless -o cut_at cut it earlier. When the
 * filesystem goes away (fusermount3 -u, or SIGTERM/SIGINT to this process)
 * everything not durable is dropped, and the backing directory is what a
 * disk would hold after the power came back. Options for the cut:
 *
 *   -o tear        the last unsynced write is torn: a random prefix of it,
 *                  ending on a 512-byte sector boundary, reaches the disk
 *   -o keep=PCT    each pending range reaches the disk with probability
 *                  PCT% (the disk wrote some of its cache in any order)
 *   -o cut_at=N    the power fails at the N-th sync point instead (just
 *                  before the N-th fsync or synchronous write would have
 *                  completed: the program gets EIO, and the filesystem
 *                  answers EIO to everything until it is unmounted),
 *                  counted from the mount or from the last SIGUSR1
 *   -o wait_arm    with cut_at: no countdown until the first SIGUSR1
 *   -o liar        a disk that lies: fsync and O_DSYNC succeed and make
 *                  nothing durable. For checking that the checks catch
 *                  a loss (POWERLOSS_LIAR=1 in run.sh must fail).
 *   -o seed=N      the random choices above, repeatable
 * One report line on stderr says what was dropped, kept and torn.
 *
 * Not modelled, on purpose, and said here so nobody relies on it:
 *   - metadata (create, mkdir, unlink, rename, chmod) is durable at once:
 *     it is passed straight through. A real filesystem needs an fsync of
 *     the directory for that; LMDB creates its files once and never
 *     renames them, so the stores under test do not depend on it.
 *   - a kernel page cache that still holds forgotten data: the runner must
 *     unmount after the cut (which is the cut), so the cache goes with the
 *     mount. Files are never opened with keep_cache, and attributes are not
 *     cached, so between opens nothing stale is served while mounted.
 *   - locks: fcntl and flock are left to the kernel (locks local to this
 *     machine), which is all LMDB's lock file needs.
 *
 * Single-threaded (-s is always added): no locking in here.
 * usage: lossyfs [-o tear] [-o keep=PCT] [-o cut_at=N [-o wait_arm]] [-o liar]
 *                [-o seed=N] [fuse options] BACKING MOUNTPOINT
 * Not part of any installed program. */
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SECTOR 512

/* One unsynced byte range. A node's extents are sorted and never overlap:
 * a later write replaces what it covers. */
typedef struct extent {
    off_t off;
    size_t len;
    char *data;
    struct extent *next;
} extent_t;

/* What this filesystem knows about one backing inode beyond the backing
 * file itself. It exists while the inode is open or has pending changes. */
typedef struct node {
    dev_t dev;
    ino_t ino;
    int fd;       /* our own O_RDWR descriptor: applies at sync and at the cut */
    int opens;    /* open handles */
    off_t size;   /* the size programs see */
    off_t shrink; /* lowest size truncated to since the last sync, or -1:
                   * backing bytes from here on are gone (read as zeros) */
    extent_t *ext;
    struct node *next;
} node_t;

/* fi->fh points at one of these. */
typedef struct handle {
    int fd;
    int sync; /* opened with O_SYNC or O_DSYNC */
    node_t *node;
} handle_t;

/* The last write left pending, for -o tear. Cleared when it stops being
 * pending as a whole (its file synced or truncated). */
static struct {
    node_t *node;
    off_t off;
    size_t len;
    char *data;
} last;

static struct options {
    int tear;
    int keep;
    unsigned seed;
    unsigned long cut_at;
    int wait_arm;
    int liar;
} opt;

/* Set when the power failed at a sync point (-o cut_at): from then on the
 * disk is gone and every request fails with EIO until the unmount. */
static int dead;

static int root = -1; /* the backing directory */
static char *backing;
static node_t *nodes;
static struct {
    unsigned long long writes, synced_writes, fsyncs, points;
} stats;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "lossyfs: out of memory\n");
        abort(); /* losing track of pending data silently would be worse */
    }
    return p;
}

/* FUSE hands us absolute paths; all backing calls are relative to root. */
static const char *rel(const char *path)
{
    while (*path == '/')
        path++;
    return *path ? path : ".";
}

static handle_t *handle_of(struct fuse_file_info *fi)
{
    return fi ? (handle_t *)(uintptr_t)fi->fh : NULL;
}

static off_t backing_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_size : 0;
}

/* ---- nodes ------------------------------------------------------------------ */

static node_t *node_find(dev_t dev, ino_t ino)
{
    for (node_t *n = nodes; n; n = n->next)
        if (n->dev == dev && n->ino == ino)
            return n;
    return NULL;
}

/* The node for the inode behind fd, created if missing (with a descriptor
 * of its own, so it outlives the caller's). NULL with errno set on error. */
static node_t *node_get(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return NULL;
    node_t *n = node_find(st.st_dev, st.st_ino);
    if (n)
        return n;
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0)
        return NULL;
    n = xmalloc(sizeof *n);
    memset(n, 0, sizeof *n);
    n->dev = st.st_dev;
    n->ino = st.st_ino;
    n->fd = own;
    n->size = st.st_size;
    n->shrink = -1;
    n->next = nodes;
    nodes = n;
    return n;
}

static void extents_free(node_t *n)
{
    while (n->ext) {
        extent_t *e = n->ext;
        n->ext = e->next;
        free(e->data);
        free(e);
    }
}

static int node_dirty(const node_t *n)
{
    return n->ext != NULL || n->shrink >= 0 || n->size != backing_size(n->fd);
}

static void node_free(node_t *n)
{
    node_t **pp = &nodes;
    while (*pp && *pp != n)
        pp = &(*pp)->next;
    if (*pp)
        *pp = n->next;
    if (last.node == n)
        last.node = NULL;
    extents_free(n);
    close(n->fd);
    free(n);
}

/* Frees a node nobody can see any more: no open handle and either nothing
 * pending or no name left that could reach it. */
static void node_maybe_free(node_t *n)
{
    if (n->opens > 0)
        return;
    struct stat st;
    if (fstat(n->fd, &st) != 0 || st.st_nlink == 0 || !node_dirty(n))
        node_free(n);
}

/* ---- extents ------------------------------------------------------------------ */

static extent_t *extent_new(off_t off, const char *data, size_t len)
{
    extent_t *e = xmalloc(sizeof *e);
    e->off = off;
    e->len = len;
    e->data = xmalloc(len);
    memcpy(e->data, data, len);
    e->next = NULL;
    return e;
}

/* Removes [off, end) from the node's extents, trimming or splitting those
 * that straddle it. Returns where in the list a range starting at off
 * belongs, for the caller who inserts one. */
static extent_t **extents_cut(node_t *n, off_t off, off_t end)
{
    extent_t **pp = &n->ext;
    extent_t **at = NULL;
    while (*pp) {
        extent_t *e = *pp;
        off_t eend = e->off + (off_t)e->len;
        if (eend <= off) {
            pp = &e->next;
            continue;
        }
        if (at == NULL)
            at = pp;
        if (e->off >= end)
            break;
        if (e->off < off && eend > end) { /* covers the range: split in two */
            extent_t *right = extent_new(end, e->data + (end - e->off), (size_t)(eend - end));
            right->next = e->next;
            e->len = (size_t)(off - e->off);
            e->next = right;
            return &e->next;
        }
        if (e->off < off) { /* overlaps on the left: keep its head */
            e->len = (size_t)(off - e->off);
            pp = &e->next;
            at = pp;
            continue;
        }
        if (eend > end) { /* overlaps on the right: keep its tail */
            size_t keep = (size_t)(eend - end);
            memmove(e->data, e->data + (end - e->off), keep);
            e->off = end;
            e->len = keep;
            break;
        }
        *pp = e->next; /* inside the range: gone */
        free(e->data);
        free(e);
    }
    return at ? at : pp;
}

/* ---- durability ------------------------------------------------------------- */

static int pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t w = pwrite(fd, buf, len, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
        off += w;
    }
    return 0;
}

/* Makes everything pending on the node durable: the shrink first (so
 * stale backing bytes cannot reappear), then the ranges, then the size,
 * then fsync of the backing file. */
static int node_sync(node_t *n)
{
    if (n->shrink >= 0 && ftruncate(n->fd, n->shrink) != 0)
        return -errno;
    for (extent_t *e = n->ext; e; e = e->next)
        if (pwrite_all(n->fd, e->data, e->len, e->off) != 0)
            return -errno;
    if (backing_size(n->fd) != n->size && ftruncate(n->fd, n->size) != 0)
        return -errno;
    if (fsync(n->fd) != 0)
        return -errno;
    extents_free(n);
    n->shrink = -1;
    if (last.node == n)
        last.node = NULL;
    stats.fsyncs++;
    return 0;
}

static void remember_last(node_t *n, const char *buf, size_t size, off_t off)
{
    free(last.data);
    last.node = n;
    last.off = off;
    last.len = size;
    last.data = xmalloc(size);
    memcpy(last.data, buf, size);
}

static void power_fail(const char *when);

/* SIGUSR1 restarts the count for -o cut_at, so a runner can let a program
 * start and be checked before the countdown to the failure begins. The
 * handler only sets a flag; the next sync point reads it. */
static volatile sig_atomic_t rearm;
static int armed; /* the countdown runs (from the mount, unless -o wait_arm) */
static unsigned long long armed_at;

static void on_usr1(int sig)
{
    (void)sig;
    rearm = 1;
}

/* Called where a write is about to become durable (an fsync, or a write on
 * an O_SYNC/O_DSYNC descriptor). With -o cut_at=N the N-th such point never
 * completes: the power fails just before it, with everything since the
 * last one still pending. Returns 1 if it failed. */
static int power_fails_here(void)
{
    if (rearm) {
        rearm = 0;
        armed = 1;
        armed_at = stats.points;
    }
    stats.points++;
    if (opt.cut_at == 0 || !armed || stats.points - armed_at != opt.cut_at)
        return 0;
    char when[96];
    snprintf(when, sizeof when, "at sync point %llu (%lu since armed)", stats.points, opt.cut_at);
    power_fail(when);
    dead = 1;
    return 1;
}

/* ---- operations --------------------------------------------------------------- */

static void *lfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    /* Write-through: every write reaches us when the program makes it, with
     * the descriptor it was made on, so O_DSYNC writes can be told apart. */
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    cfg->direct_io = 0; /* LMDB mmaps data.mdb: that needs the page cache */
    cfg->kernel_cache = 0;
    cfg->auto_cache = 0;
    cfg->attr_timeout = 0; /* sizes come from us, every time */
    cfg->entry_timeout = 0;
    cfg->negative_timeout = 0;
    return NULL;
}

static int lfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    if (dead)
        return -EIO;
    handle_t *h = handle_of(fi);
    int rc = h ? fstat(h->fd, st) : fstatat(root, rel(path), st, AT_SYMLINK_NOFOLLOW);
    if (rc != 0)
        return -errno;
    node_t *n = node_find(st->st_dev, st->st_ino);
    if (n) {
        st->st_size = n->size;
        st->st_blocks = (n->size + 511) / 512;
    }
    return 0;
}

static int lfs_readlink(const char *path, char *buf, size_t size)
{
    if (dead)
        return -EIO;
    ssize_t r = readlinkat(root, rel(path), buf, size - 1);
    if (r < 0)
        return -errno;
    buf[r] = '\0';
    return 0;
}

static int lfs_mkdir(const char *path, mode_t mode)
{
    if (dead)
        return -EIO;
    return mkdirat(root, rel(path), mode) == 0 ? 0 : -errno;
}

static int lfs_rmdir(const char *path)
{
    if (dead)
        return -EIO;
    return unlinkat(root, rel(path), AT_REMOVEDIR) == 0 ? 0 : -errno;
}

static int lfs_unlink(const char *path)
{
    if (dead)
        return -EIO;
    struct stat st;
    node_t *n = NULL;
    if (fstatat(root, rel(path), &st, AT_SYMLINK_NOFOLLOW) == 0)
        n = node_find(st.st_dev, st.st_ino);
    if (unlinkat(root, rel(path), 0) != 0)
        return -errno;
    if (n)
        node_maybe_free(n);
    return 0;
}

static int lfs_rename(const char *from, const char *to, unsigned int flags)
{
    if (dead)
        return -EIO;
    struct stat st;
    node_t *victim = NULL;
    if (fstatat(root, rel(to), &st, AT_SYMLINK_NOFOLLOW) == 0)
        victim = node_find(st.st_dev, st.st_ino);
    if (flags != 0)
        return -EINVAL; /* RENAME_EXCHANGE/NOREPLACE: nothing under test uses them */
    if (renameat(root, rel(from), root, rel(to)) != 0)
        return -errno;
    if (victim)
        node_maybe_free(victim);
    return 0;
}

static int lfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    if (dead)
        return -EIO;
    handle_t *h = handle_of(fi);
    int rc = h ? fchmod(h->fd, mode) : fchmodat(root, rel(path), mode, 0);
    return rc == 0 ? 0 : -errno;
}

static int lfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    if (dead)
        return -EIO;
    handle_t *h = handle_of(fi);
    int rc = h ? futimens(h->fd, tv) : utimensat(root, rel(path), tv, AT_SYMLINK_NOFOLLOW);
    return rc == 0 ? 0 : -errno;
}

/* A truncate is pending like a write: until a sync the disk keeps the old
 * size and bytes. */
static void node_truncate(node_t *n, off_t size)
{
    if (size < n->size) {
        extents_cut(n, size, n->size);
        if (size < backing_size(n->fd) && (n->shrink < 0 || size < n->shrink))
            n->shrink = size;
    }
    n->size = size;
    if (last.node == n)
        last.node = NULL; /* tearing it could now resurrect cut bytes */
}

static int lfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    if (dead)
        return -EIO;
    handle_t *h = handle_of(fi);
    if (h) {
        node_truncate(h->node, size);
        return 0;
    }
    int fd = openat(root, rel(path), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    node_t *n = node_get(fd);
    int err = n ? 0 : -errno;
    close(fd);
    if (n) {
        node_truncate(n, size);
        node_maybe_free(n);
    }
    return err;
}

/* Opens the backing file for a handle. The backing descriptor is always
 * O_RDWR without O_APPEND (we pwrite at the offsets the kernel gives) and
 * without O_TRUNC or O_*SYNC (we do those ourselves). */
static int handle_open(const char *path, int flags, mode_t mode, struct fuse_file_info *fi)
{
    int bflags =
        (flags & ~(O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC)) | O_RDWR | O_CLOEXEC;
    int fd = openat(root, rel(path), bflags, mode);
    if (fd < 0 && errno == EACCES && (flags & O_ACCMODE) == O_RDONLY)
        fd = openat(root, rel(path), (bflags & ~O_RDWR) | O_RDONLY, mode); /* not ours to write */
    if (fd < 0)
        return -errno;
    node_t *n = node_get(fd);
    if (n == NULL) {
        int err = -errno;
        close(fd);
        return err;
    }
    handle_t *h = xmalloc(sizeof *h);
    h->fd = fd;
    h->sync = (flags & (O_SYNC | O_DSYNC)) != 0;
    h->node = n;
    n->opens++;
    if (flags & O_TRUNC)
        node_truncate(n, 0);
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->direct_io = 0;
    fi->keep_cache = 0;
    return 0;
}

static int lfs_open(const char *path, struct fuse_file_info *fi)
{
    if (dead)
        return -EIO;
    return handle_open(path, fi->flags & ~O_CREAT, 0, fi);
}

static int lfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    if (dead)
        return -EIO;
    return handle_open(path, fi->flags | O_CREAT, mode, fi);
}

static int lfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    if (dead)
        return -EIO;
    (void)path;
    node_t *n = handle_of(fi)->node;
    if (off >= n->size)
        return 0;
    if ((off_t)size > n->size - off)
        size = (size_t)(n->size - off);
    /* Backing bytes, zeros past the backing end and past a pending shrink,
     * then the overlay on top. */
    memset(buf, 0, size);
    off_t bend = off + (off_t)size;
    if (n->shrink >= 0 && bend > n->shrink)
        bend = n->shrink > off ? n->shrink : off;
    size_t got = 0;
    while (off + (off_t)got < bend) {
        ssize_t r = pread(n->fd, buf + got, (size_t)(bend - off) - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    off_t end = off + (off_t)size;
    for (extent_t *e = n->ext; e && e->off < end; e = e->next) {
        off_t eend = e->off + (off_t)e->len;
        if (eend <= off)
            continue;
        off_t from = e->off > off ? e->off : off;
        off_t to = eend < end ? eend : end;
        memcpy(buf + (from - off), e->data + (from - e->off), (size_t)(to - from));
    }
    return (int)size;
}

static int lfs_write(const char *path, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    if (dead)
        return -EIO;
    (void)path;
    handle_t *h = handle_of(fi);
    node_t *n = h->node;
    off_t end = off + (off_t)size;
    stats.writes++;
    int sync = h->sync && !opt.liar;
    if (sync) {
        /* This write is what the power may cut, and what -o tear tears. */
        remember_last(n, buf, size, off);
        if (power_fails_here())
            return -EIO;
    }
    if (sync && n->shrink < 0) {
        /* Durable now, and only this write: straight to the disk, and out
         * of the overlay so an older pending write under it is not
         * replayed over it. */
        if (pwrite_all(n->fd, buf, size, off) != 0 || fdatasync(n->fd) != 0)
            return -errno;
        extents_cut(n, off, end);
        if (end > n->size)
            n->size = end;
        stats.synced_writes++;
        return (int)size;
    }
    extent_t **at = extents_cut(n, off, end);
    extent_t *e = extent_new(off, buf, size);
    e->next = *at;
    *at = e;
    if (end > n->size)
        n->size = end;
    if (sync) {
        /* A pending shrink under a synchronous write: applying the write
         * alone could bring back bytes the truncate removed, so the whole
         * file is synced. Lenient, and nothing under test does it. */
        int rc = node_sync(n);
        if (rc != 0)
            return rc;
        stats.synced_writes++;
        return (int)size;
    }
    remember_last(n, buf, size, off);
    return (int)size;
}

static int lfs_statfs(const char *path, struct statvfs *st)
{
    if (dead)
        return -EIO;
    (void)path;
    return fstatvfs(root, st) == 0 ? 0 : -errno;
}

static int lfs_flush(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    (void)fi;
    return 0; /* close(2) promises nothing about the disk */
}

static int lfs_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    handle_t *h = handle_of(fi);
    if (!dead) { /* after a failure at a sync point the nodes are gone */
        h->node->opens--;
        node_maybe_free(h->node);
    }
    close(h->fd);
    free(h);
    return 0;
}

static int lfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    if (dead)
        return -EIO;
    (void)path;
    (void)datasync; /* sizes are always part of what we sync */
    handle_t *h = handle_of(fi);
    /* The kernel follows every write on an O_SYNC/O_DSYNC descriptor with
     * an fsync request that carries no byte range. That write is already
     * durable; taking the request as a whole-file sync would make other
     * descriptors' pending writes durable too, which a disk does not
     * promise (LMDB would be tested more kindly than the disk treats it). */
    if (h->sync)
        return 0;
    if (power_fails_here())
        return -EIO;
    if (opt.liar)
        return 0;
    return node_sync(h->node);
}

static int lfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    if (dead)
        return -EIO;
    (void)off;
    (void)fi;
    (void)flags;
    int fd = openat(root, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int err = -errno;
        close(fd);
        return err;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (filler(buf, de->d_name, NULL, 0, 0) != 0)
            break;
    closedir(d);
    return 0;
}

static int lfs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    (void)datasync;
    (void)fi;
    return 0; /* directories are durable already (see the top) */
}

static int lfs_access(const char *path, int mask)
{
    if (dead)
        return -EIO;
    return faccessat(root, rel(path), mask, 0) == 0 ? 0 : -errno;
}

/* ---- the power cut ------------------------------------------------------------ */

static unsigned rnd(unsigned below)
{
    return below ? (unsigned)(random() % below) : 0;
}

/* The power fails: what the disk has is the backing files plus whatever
 * the options let through; everything else is forgotten. */
static void power_fail(const char *when)
{
    unsigned long long dropped = 0, kept = 0;
    unsigned files = 0;
    char torn[160] = "no write torn";
    if (opt.tear && last.node && last.len > 0) {
        /* Sector boundaries strictly inside the write: the prefix that
         * reached the disk ends on one of them (or is empty). */
        off_t first = (last.off / SECTOR + 1) * SECTOR;
        off_t end = last.off + (off_t)last.len;
        unsigned choices = first < end ? (unsigned)((end - 1 - first) / SECTOR + 1) : 0;
        unsigned pick = rnd(choices + 1);
        size_t prefix = pick ? (size_t)(first + (off_t)(pick - 1) * SECTOR - last.off) : 0;
        if (prefix > 0)
            pwrite_all(last.node->fd, last.data, prefix, last.off);
        snprintf(torn, sizeof torn,
                 "tore a %zu-byte write at %lld of inode %llu: %zu bytes reached the disk",
                 last.len, (long long)last.off, (unsigned long long)last.node->ino, prefix);
    }
    while (nodes) {
        node_t *n = nodes;
        if (node_dirty(n))
            files++;
        for (extent_t *e = n->ext; e; e = e->next) {
            if (opt.keep > 0 && rnd(100) < (unsigned)opt.keep) {
                pwrite_all(n->fd, e->data, e->len, e->off);
                kept += e->len;
            } else {
                dropped += e->len;
            }
        }
        fsync(n->fd); /* whatever the cut let through stays */
        node_free(n);
    }
    fprintf(stderr,
            "lossyfs: power cut %s on %s: %u files had pending changes, %llu bytes dropped, "
            "%llu kept; %s; %llu writes, %llu synchronous, %llu fsyncs since mount\n",
            when, backing, files, dropped, kept, torn, stats.writes, stats.synced_writes,
            stats.fsyncs);
    free(last.data);
    last.data = NULL;
}

/* The filesystem is going away: unless it already failed at a sync point,
 * this is the moment the power fails. */
static void lfs_destroy(void *private_data)
{
    (void)private_data;
    if (!dead)
        power_fail("at unmount");
}

static const struct fuse_operations lfs_ops = {
    .init = lfs_init,
    .destroy = lfs_destroy,
    .getattr = lfs_getattr,
    .readlink = lfs_readlink,
    .mkdir = lfs_mkdir,
    .rmdir = lfs_rmdir,
    .unlink = lfs_unlink,
    .rename = lfs_rename,
    .chmod = lfs_chmod,
    .utimens = lfs_utimens,
    .truncate = lfs_truncate,
    .open = lfs_open,
    .create = lfs_create,
    .read = lfs_read,
    .write = lfs_write,
    .statfs = lfs_statfs,
    .flush = lfs_flush,
    .release = lfs_release,
    .fsync = lfs_fsync,
    .readdir = lfs_readdir,
    .fsyncdir = lfs_fsyncdir,
    .access = lfs_access,
};

/* ---- options ------------------------------------------------------------------- */

#define LFS_OPT(t, p)                                                                              \
    {                                                                                              \
        t, offsetof(struct options, p), 1                                                          \
    }
static const struct fuse_opt lfs_opts[] = {
    LFS_OPT("tear", tear),
    {"keep=%d", offsetof(struct options, keep), 0},
    {"seed=%u", offsetof(struct options, seed), 0},
    {"cut_at=%lu", offsetof(struct options, cut_at), 0},
    LFS_OPT("wait_arm", wait_arm),
    LFS_OPT("liar", liar),
    FUSE_OPT_END,
};

/* The first non-option argument is the backing directory; it is ours, not
 * libfuse's. */
static int lfs_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    (void)data;
    (void)outargs;
    if (key == FUSE_OPT_KEY_NONOPT && backing == NULL) {
        backing = realpath(arg, NULL);
        if (backing == NULL) {
            fprintf(stderr, "lossyfs: %s: %s\n", arg, strerror(errno));
            exit(1);
        }
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    if (fuse_opt_parse(&args, &opt, lfs_opts, lfs_opt_proc) != 0)
        return 2;
    if (backing == NULL) {
        fprintf(stderr, "usage: lossyfs [-o tear] [-o keep=PCT] [-o cut_at=N [-o wait_arm]] "
                        "[-o liar] [-o seed=N] [fuse options] BACKING MOUNTPOINT\n");
        return 2;
    }
    if (opt.keep < 0 || opt.keep > 100) {
        fprintf(stderr, "lossyfs: keep must be a percentage\n");
        return 2;
    }
    root = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        fprintf(stderr, "lossyfs: %s: %s\n", backing, strerror(errno));
        return 1;
    }
    if (opt.seed == 0)
        opt.seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srandom(opt.seed);
    armed = !opt.wait_arm;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART; /* libfuse's read of /dev/fuse just carries on */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    fprintf(stderr, "lossyfs: serving %s (tear=%d keep=%d%% cut_at=%lu seed=%u)\n", backing,
            opt.tear, opt.keep, opt.cut_at, opt.seed);
    /* Our nodes and extents are not locked: one request at a time. */
    fuse_opt_add_arg(&args, "-s");
    int rc = fuse_main(args.argc, args.argv, &lfs_ops, NULL);
    fuse_opt_free_args(&args);
    close(root);
    free(backing);
    return rc;
}
