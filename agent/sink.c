/* sink.c — the three sinks: a directory of one-file-per-message, JSON lines
 * on stdout, and a command run per message. Each says "done" only when the
 * message is durably where it goes, because the agent acks on that word.
 * Not responsible for: order, acks, retries or the record of written
 * sequences (subs.c). */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

extern char **environ;

enum sink_kind { KIND_DIR, KIND_STDOUT, KIND_EXEC };

struct sink {
    enum sink_kind kind;
    char *spec;
    char *arg; /* the directory or the command */
    char *sub;
    pid_t pid; /* running command, or 0 */
    uint64_t running_seq;
    int64_t deadline_ms;
};

const char *sink_spec(const sink_t *s)
{
    return s->spec;
}

sink_t *sink_new(const char *spec, const char *sub, char *err, size_t errlen)
{
    sink_t *s = xcalloc(1, sizeof *s);
    s->spec = xstrdup(spec);
    s->sub = xstrdup(sub);
    if (strcmp(spec, "stdout") == 0) {
        s->kind = KIND_STDOUT;
    } else if (strncmp(spec, "dir:", 4) == 0 && spec[4] != '\0') {
        s->kind = KIND_DIR;
        s->arg = xstrdup(spec + 4);
        if (util_mkdirs(s->arg) != 0) {
            snprintf(err, errlen, "sink %s: cannot create %s: %s", spec, s->arg, strerror(errno));
            goto fail;
        }
    } else if (strncmp(spec, "exec:", 5) == 0 && spec[5] != '\0') {
        s->kind = KIND_EXEC;
        s->arg = xstrdup(spec + 5);
    } else {
        snprintf(err, errlen, "\"%s\" is not a sink (\"stdout\", \"dir:PATH\" or \"exec:COMMAND\")",
                 spec);
        goto fail;
    }
    return s;
fail:
    sink_free(&s);
    return NULL;
}

void sink_free(sink_t **sp)
{
    if (sp == NULL || *sp == NULL)
        return;
    sink_t *s = *sp;
    sink_cancel(s);
    free(s->spec);
    free(s->arg);
    free(s->sub);
    free(s);
    *sp = NULL;
}

/* ---- dir: ---------------------------------------------------------------------- */

static void seq_name(char *out, size_t outlen, uint64_t seq, int tmp)
{
    /* 12 digits sort in sequence order up to a trillion messages; a
     * dot-name is skipped by readers that ignore hidden files. */
    snprintf(out, outlen, tmp ? ".%012llu.json.tmp" : "%012llu.json", (unsigned long long)seq);
}

int sink_has(sink_t *s, uint64_t seq)
{
    char name[48], path[4200];
    struct stat st;
    if (s->kind != KIND_DIR)
        return 0;
    seq_name(name, sizeof name, seq, 0);
    snprintf(path, sizeof path, "%s/%s", s->arg, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int dir_put(sink_t *s, const sink_item_t *it, char *why, size_t whylen)
{
    char final[48], tmp[48];
    int dfd = -1, fd = -1, rc = SINK_FAILED;
    const char *step = "open the directory";
    seq_name(final, sizeof final, it->seq, 0);
    seq_name(tmp, sizeof tmp, it->seq, 1);
    /* Opened by path every time, never kept: a directory removed and made
     * again must not swallow files through a stale handle on the old one. */
    dfd = open(s->arg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        goto leave;
    step = "create a file";
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        goto leave;
    step = "write";
    if (write_all(fd, it->json, strlen(it->json)) != 0 || write_all(fd, "\n", 1) != 0)
        goto leave;
    step = "fsync the file";
    if (fsync(fd) != 0)
        goto leave;
    step = "close the file";
    if (close(fd) != 0) {
        fd = -1;
        goto leave;
    }
    fd = -1;
    step = "rename into place";
    if (renameat(dfd, tmp, dfd, final) != 0)
        goto leave;
    /* The rename is durable only once the directory is: until then a
     * crash could lose a file we have acked. */
    step = "fsync the directory";
    if (fsync(dfd) != 0)
        goto leave;
    rc = SINK_DONE;
leave:
    if (rc != SINK_DONE) {
        snprintf(why, whylen, "dir %s: cannot %s: %s", s->arg, step, strerror(errno));
        if (dfd >= 0)
            unlinkat(dfd, tmp, 0);
    }
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    return rc;
}

/* ---- stdout ------------------------------------------------------------------ */

static int stdout_put(const sink_item_t *it, char *why, size_t whylen)
{
    struct stat st;
    if (fputs(it->json, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
        goto fail;
    /* A file or pipe reader has it once flushed; only a file can be synced,
     * and only a file outlives a crash of the machine. */
    if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && fsync(STDOUT_FILENO) != 0)
        goto fail;
    return SINK_DONE;
fail:
    snprintf(why, whylen, "stdout: %s", strerror(errno));
    clearerr(stdout);
    return SINK_FAILED;
}

/* ---- exec: ------------------------------------------------------------------- */

/* The message as the command's stdin: an anonymous file, so a command that
 * never reads cannot block the agent the way a full pipe would. */
static int stdin_file(const char *json)
{
    int fd = memfd_create("liaison-delivery", MFD_CLOEXEC);
    if (fd < 0) {
        FILE *f = tmpfile();
        fd = f ? dup(fileno(f)) : -1;
        if (f)
            fclose(f);
        if (fd < 0)
            return -1;
    }
    if (write_all(fd, json, strlen(json)) != 0 || write_all(fd, "\n", 1) != 0 ||
        lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The agent's environment without LIAISON_* (its own settings are not the
 * command's business), plus this delivery's. Caller frees with env_free. */
static char **env_for(const sink_t *s, const sink_item_t *it)
{
    size_t n = 0, k = 0;
    while (environ && environ[n])
        n++;
    char **env = xcalloc(n + 6, sizeof *env);
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LIAISON_", 8) != 0)
            env[k++] = xstrdup(environ[i]);
    char buf[2048];
    snprintf(buf, sizeof buf, "LIAISON_SEQ=%llu", (unsigned long long)it->seq);
    env[k++] = xstrdup(buf);
    snprintf(buf, sizeof buf, "LIAISON_TOPIC=%s", it->topic ? it->topic : "");
    env[k++] = xstrdup(buf);
    snprintf(buf, sizeof buf, "LIAISON_MSG_ID=%s", it->msg_id ? it->msg_id : "");
    env[k++] = xstrdup(buf);
    snprintf(buf, sizeof buf, "LIAISON_SUBSCRIPTION=%s", s->sub);
    env[k++] = xstrdup(buf);
    snprintf(buf, sizeof buf, "LIAISON_NOTICE=%d", it->notice ? 1 : 0);
    env[k++] = xstrdup(buf);
    env[k] = NULL;
    return env;
}

static void env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

static int exec_put(sink_t *s, const sink_item_t *it, char *why, size_t whylen)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dfl;
    char **env = NULL;
    pid_t pid;
    int rc = SINK_FAILED, err;
    int fd = stdin_file(it->json);
    if (fd < 0) {
        snprintf(why, whylen, "exec: cannot stage the message for stdin: %s", strerror(errno));
        return SINK_FAILED;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    /* stdin is the message; stdout goes to stderr so a command's chatter
     * never mixes into a stdout sink's JSON lines. */
    posix_spawn_file_actions_adddup2(&fa, fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    /* Its own process group, so a timeout kills the whole pipeline the
     * shell started; default signals, since the agent ignores SIGPIPE and
     * an ignored signal survives exec. */
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGCHLD);
    sigaddset(&dfl, SIGHUP);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGINT);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {(char *)(uintptr_t) "sh", (char *)(uintptr_t) "-c", s->arg, NULL};
    env = env_for(s, it);
    err = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, env);
    if (err != 0) {
        snprintf(why, whylen, "exec: cannot start /bin/sh: %s", strerror(err));
        goto leave;
    }
    s->pid = pid;
    s->running_seq = it->seq;
    s->deadline_ms = util_mono_ms() + SINK_EXEC_TIMEOUT_MS;
    rc = SINK_RUNNING;
leave:
    env_free(env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    return rc;
}

int sink_put(sink_t *s, const sink_item_t *it, char *why, size_t whylen)
{
    why[0] = '\0';
    switch (s->kind) {
    case KIND_DIR:
        return dir_put(s, it, why, whylen);
    case KIND_STDOUT:
        return stdout_put(it, why, whylen);
    case KIND_EXEC:
        if (s->pid != 0) {
            snprintf(why, whylen, "exec: a command is still running");
            return SINK_FAILED;
        }
        return exec_put(s, it, why, whylen);
    }
    return SINK_FAILED;
}

int sink_running(const sink_t *s, uint64_t *seq)
{
    if (s->pid != 0 && seq)
        *seq = s->running_seq;
    return s->pid != 0;
}

int64_t sink_deadline_in(const sink_t *s, int64_t now_ms)
{
    if (s->pid == 0)
        return 0;
    return s->deadline_ms > now_ms ? s->deadline_ms - now_ms : 0;
}

static void reap(sink_t *s)
{
    int st;
    while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
        ;
    s->pid = 0;
}

int sink_poll(sink_t *s, char *why, size_t whylen)
{
    int st;
    why[0] = '\0';
    if (s->pid == 0)
        return SINK_DONE;
    pid_t r = waitpid(s->pid, &st, WNOHANG);
    if (r == 0) {
        if (util_mono_ms() < s->deadline_ms)
            return SINK_RUNNING;
        kill(-s->pid, SIGKILL);
        reap(s);
        snprintf(why, whylen, "exec: no exit within %d s: killed", SINK_EXEC_TIMEOUT_MS / 1000);
        return SINK_FAILED;
    }
    s->pid = 0;
    if (r < 0) {
        snprintf(why, whylen, "exec: cannot wait for the command: %s", strerror(errno));
        return SINK_FAILED;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return SINK_DONE;
    if (WIFEXITED(st))
        snprintf(why, whylen, "exec: command exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(why, whylen, "exec: command killed by signal %d", WTERMSIG(st));
    else
        snprintf(why, whylen, "exec: command ended abnormally");
    return SINK_FAILED;
}

void sink_cancel(sink_t *s)
{
    if (s->pid == 0)
        return;
    log_warn("event=sink_cancelled sub=%s seq=%llu", log_q(s->sub),
             (unsigned long long)s->running_seq);
    kill(-s->pid, SIGKILL);
    reap(s);
}
