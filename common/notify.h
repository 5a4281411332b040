/* notify.h — telling the service manager how the daemon is (sd_notify(3)):
 * READY=1 once it serves, STATUS=... lines, WATCHDOG=1 while its loop
 * turns, STOPPING=1 when it drains. Written here, a datagram to the
 * AF_UNIX socket named by $NOTIFY_SOCKET, instead of linking libsystemd:
 * the protocol is one sendto, and the stack gains no dependency.
 * Without $NOTIFY_SOCKET every call does nothing.
 * One manager per process: the state is this module's own.
 * Not responsible for: deciding when the daemon is ready (its loop). */
#ifndef LIAISON_NOTIFY_H
#define LIAISON_NOTIFY_H

#include <stdint.h>

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, then unsets
 * them so that child processes (exec: sinks) do not speak for us. A
 * socket name that does not fit, or a socket that cannot be made, is
 * logged once and notification stays off. Call once, at start. */
void notify_init(void);
/* Sends `state` (newline-separated VAR=value lines) as one datagram.
 * Returns 0 when sent or when notification is off, -1 when the send
 * failed (not logged: the daemon works the same without it). */
int notify_send(const char *state);
/* STATUS=what: detail (what `systemctl status` shows); one line, so
 * newlines in detail become spaces. */
void notify_status(const char *what, const char *detail);
/* READY=1 with a STATUS= line (status may be NULL). */
void notify_ready(const char *status);
/* STOPPING=1 with a STATUS= line (status may be NULL). */
void notify_stopping(const char *status);
/* The watchdog: call from the loop at every turn, with a monotonic now
 * in ms. It sends WATCHDOG=1 when half of $WATCHDOG_USEC has passed since
 * the last, so the manager hears from us only while the loop turns. */
void notify_watchdog(int64_t now_ms);
/* Milliseconds until the next WATCHDOG=1 is due from now_ms (0 when
 * due); INT64_MAX without a watchdog. For the loop's poll timeout. */
int64_t notify_watchdog_in(int64_t now_ms);

#endif
