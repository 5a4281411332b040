/* spool.h — the spool directory source. An agency system writes a file
 * under a temporary name and renames it to NAME.json in the spool; the
 * agent validates it (the JSON mapping, then label_validate), puts the
 * message in the outbox, and only after that commit moves the file to
 * spool/done/. A file that is not a valid message goes to spool/rejected/
 * beside NAME.json.error, which names the problem; so does one the broker
 * later refuses for good (spool_refused).
 *
 * No file is lost or published twice whenever the agent dies: the outbox
 * commit comes before the move, and a file found again after a crash maps
 * to the same msg_id — its own, or one derived from its name and content —
 * which the outbox already knows.
 *
 * Watching: inotify (IN_MOVED_TO, IN_CLOSE_WRITE) names new files; the
 * whole directory is rescanned on open, on IN_Q_OVERFLOW, and when the
 * watch is lost (the directory removed or moved: re-created and watched
 * again by spool_tick). Hidden files and names not ending in ".json" are
 * left alone, so temporary names are never read half-written.
 * Not responsible for: sending (publish.c) or the outbox's storage. */
#ifndef LIAISON_SPOOL_H
#define LIAISON_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "outbox.h"

/* A spool file over this many bytes is rejected unread. */
#define SPOOL_MAX_FILE (1u << 20)
/* Bytes of files read into one batch: the batch holds their messages in
 * memory until the outbox commit. */
#define SPOOL_BATCH_BYTES (32u << 20)
/* The longest topic the agent lets through; the broker applies its own
 * (usually shorter) max_topic_len. */
#define SPOOL_MAX_TOPIC 1024

typedef struct spool spool_t;

/* Opens dir (creating it and its done/ and rejected/), starts watching and
 * schedules a full scan. Returns NULL with a reason in err. Caller owns. */
spool_t *spool_open(const char *dir, char *err, size_t errlen);
void spool_close(spool_t **s);

/* The inotify descriptor to poll for input (-1 while the watch is lost). */
int spool_fd(const spool_t *s);
/* Reads what inotify has (never blocks) and notes the files to take. */
void spool_on_events(spool_t *s);
/* Re-establishes a lost watch when due. Returns ms until it wants to be
 * called again (-1: not needed). */
int64_t spool_tick(spool_t *s, int64_t now_ms);
/* 1 if files are waiting to be taken. */
int spool_waiting(const spool_t *s);
/* Files taken into the outbox and files rejected (by the agent or, later,
 * the broker) since the spool was opened. s may be NULL (no spool). */
void spool_counts(const spool_t *s, uint64_t *taken, uint64_t *rejected);

/* Takes up to max waiting files (fewer once SPOOL_BATCH_BYTES have been
 * read): valid ones into the outbox in one commit
 * (then to done/), invalid ones to rejected/. Returns the number of files
 * handled, or -1 when the outbox refused the batch (full or failing): the
 * files stay in the spool and are tried again on the next call. */
int spool_take(spool_t *s, outbox_t *o, size_t max);

/* The broker refused, for good, a message taken from done/SOURCE: moves
 * it to rejected/ with a .error naming why. */
void spool_refused(spool_t *s, const char *source, const char *why);

#endif
