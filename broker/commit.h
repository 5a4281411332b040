/* commit.h — the end of the write path: the committer thread that applies
 * one batch's write set while the loop fills the next, and the one place a
 * batch ends. A committed batch releases everything that waited on it
 * (PubAcks, Delivers, replies); a failed one refuses all of it, and with
 * it the batch built on top of it, by one error path.
 * Not responsible for: filling batches (ingest.c, fanout.c, audit.c,
 * retention.c, the handlers). */
#ifndef LIAISON_COMMIT_H
#define LIAISON_COMMIT_H

#include "broker.h"

typedef struct committer committer_t;

/* Starts the thread for st. NULL with err on failure. */
committer_t *committer_start(store_t *st, char *err, size_t errlen);
/* Stops the thread (after any batch it holds is done) and frees it. */
void committer_stop(committer_t **c);
/* A file descriptor that is readable when a submitted batch is done. */
int committer_fd(const committer_t *c);

/* 1 when the committer is not applying a batch: idle, or done with one
 * not yet reaped. A pass that ended now would go to disk at once. */
int commit_idle(broker_t *b);
/* End of a pass: hands the open batch to the committer if it is idle and
 * the batch holds anything, and opens the next. */
void commit_submit(broker_t *b);
/* If the committer has finished a batch, ends it: releases it (on disk)
 * or refuses it and the open batch with it. An I/O error sets b->fatal.
 * wait blocks until the committer is done. Returns 1 if a batch ended. */
int commit_reap(broker_t *b, int wait);
/* Stop: commits and ends everything still waiting, unless fatal. */
void commit_drain(broker_t *b);

#endif
