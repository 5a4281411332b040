/* loop.h — the broker's one thread: setting up sockets and store, and the
 * five-phase loop (timeout from the nearest timer; poll; dispatch bounded
 * batches; before sleep: commit, then acks and deliveries, reap sessions,
 * act on signal flags; due timers).
 * Not responsible for: protocol handling (handle.c, router.c). */
#ifndef LIAISON_LOOP_H
#define LIAISON_LOOP_H

#include <signal.h>

#include "broker.h"
#include "config.h"

/* Flags set by signal handlers and read by the loop between passes. */
extern volatile sig_atomic_t loop_stop_flag;
extern volatile sig_atomic_t loop_reload_flag;

/* Where a pass may end before the frames read in it are done (handle_frame
 * calls it after each Envelope): when the committer is idle, the open batch
 * is planned and handed over, and a new pass begins. */
void loop_pass_point(broker_t *b);
/* Runs the broker on cfg (takes ownership) until SIGTERM/SIGINT. Returns
 * the process exit status: 0 after a clean drain, 1 if start-up failed. */
int loop_run(config_t *cfg);
/* liaison-broker --reindex: rebuilds the subject index under cfg's
 * subject_key (takes ownership of cfg), with the broker stopped. Returns
 * the exit status. */
int loop_reindex(config_t *cfg);

#endif
