/* notify.c — the sd_notify(3) datagram protocol, by hand (see notify.h
 * for why not libsystemd). Not responsible for when to say what. */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static int fd = -1;
static struct sockaddr_un addr;
static socklen_t addr_len;
static int64_t watchdog_ms; /* the interval between WATCHDOG=1; 0: none */
static int64_t watchdog_next;

void notify_init(void)
{
    const char *name = getenv("NOTIFY_SOCKET");
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    if (usec && usec[0]) {
        char *end;
        errno = 0;
        unsigned long long us = strtoull(usec, &end, 10);
        /* WATCHDOG_PID names the process the watchdog is for; when it is
         * another (we were started by a wrapper), it is not ours. */
        int ours = pid == NULL || pid[0] == '\0' || strtol(pid, NULL, 10) == (long)getpid();
        if (errno == 0 && *end == '\0' && us > 0 && ours) {
            /* Half the interval, as sd_watchdog_enabled(3) advises: a late
             * turn still lands in time. */
            watchdog_ms = (int64_t)(us / 2000);
            if (watchdog_ms < 1)
                watchdog_ms = 1;
        }
    }
    if (name && name[0]) {
        size_t len = strlen(name);
        memset(&addr, 0, sizeof addr);
        addr.sun_family = AF_UNIX;
        if ((name[0] != '/' && name[0] != '@') || len >= sizeof addr.sun_path) {
            log_warn("event=notify_off socket=%s reason=\"not an absolute path or @name that "
                     "fits a unix socket address\"",
                     log_q(name));
        } else {
            memcpy(addr.sun_path, name, len);
            /* '@' is the abstract namespace: a leading NUL, and the length
             * counts exactly the name's bytes (no terminating NUL). */
            if (name[0] == '@')
                addr.sun_path[0] = '\0';
            addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                                   (name[0] == '@' ? 0 : 1));
            fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (fd < 0)
                log_warn("event=notify_off socket=%s error=%s", log_q(name),
                         log_q(strerror(errno)));
        }
    }
    if (fd < 0)
        watchdog_ms = 0; /* nobody to tell */
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

int notify_send(const char *state)
{
    if (fd < 0)
        return 0;
    ssize_t n;
    do
        n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&addr,
                   addr_len);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

static void send_with_status(const char *first, const char *status)
{
    char msg[512];
    if (status && status[0])
        snprintf(msg, sizeof msg, "%s\nSTATUS=%s", first, status);
    else
        snprintf(msg, sizeof msg, "%s", first);
    notify_send(msg);
}

void notify_status(const char *what, const char *detail)
{
    if (fd < 0)
        return;
    char msg[512];
    snprintf(msg, sizeof msg, "STATUS=%s: %s", what, detail ? detail : "");
    /* A newline would start another VAR=value line in the datagram. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    notify_send(msg);
}

void notify_ready(const char *status)
{
    send_with_status("READY=1", status);
}

void notify_stopping(const char *status)
{
    send_with_status("STOPPING=1", status);
}

void notify_watchdog(int64_t now_ms)
{
    if (watchdog_ms == 0 || now_ms < watchdog_next)
        return;
    notify_send("WATCHDOG=1");
    watchdog_next = now_ms + watchdog_ms;
}

int64_t notify_watchdog_in(int64_t now_ms)
{
    if (watchdog_ms == 0)
        return INT64_MAX;
    return watchdog_next > now_ms ? watchdog_next - now_ms : 0;
}
