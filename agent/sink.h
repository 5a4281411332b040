/* sink.h — where one subscription's deliveries go, as agent.cfg's `sink`
 * names it:
 *   dir:PATH      one file per message, PATH/<seq, 12 digits>.json, written
 *                 under a dot-name, fsynced, renamed, directory fsynced:
 *                 readers never see half a file, and a file present under
 *                 its final name is on disk.
 *   stdout        one JSON line per message, flushed (and fsynced when
 *                 stdout is a file).
 *   exec:COMMAND  `/bin/sh -c COMMAND` with the JSON on its stdin and
 *                 LIAISON_SEQ, LIAISON_TOPIC, LIAISON_MSG_ID,
 *                 LIAISON_SUBSCRIPTION and LIAISON_NOTICE (0/1) in its
 *                 environment; exit status 0 means it has the message.
 *                 Runs in the background: the agent keeps heartbeating.
 * Not responsible for: order, acks, retries or remembering what was
 * written (subs.c), nor the JSON (json.c). */
#ifndef LIAISON_SINK_H
#define LIAISON_SINK_H

#include <stddef.h>
#include <stdint.h>

typedef struct sink sink_t;

enum sink_rc {
    SINK_DONE = 0,    /* the sink has it durably */
    SINK_FAILED = -1, /* it does not; why says so */
    SINK_RUNNING = 1, /* exec: the command is still running; ask sink_poll */
};

/* An exec command that runs longer than this is killed and counts as failed. */
#define SINK_EXEC_TIMEOUT_MS 60000

/* One delivery, borrowed for the duration of the call. */
typedef struct sink_item {
    uint64_t seq;
    const char *topic;
    const char *msg_id;
    int notice;
    const char *json; /* one line, no newline */
} sink_item_t;

/* Parses spec ("dir:PATH", "stdout", "exec:COMMAND"). A dir sink's
 * directory is created here if missing (only here: a directory that
 * vanishes later is a failure to report, not to paper over — it may be an
 * unmounted share). sub names the subscription in logs and LIAISON_*.
 * Returns NULL with a reason in err. Caller owns; sink_free kills a
 * command still running. */
sink_t *sink_new(const char *spec, const char *sub, char *err, size_t errlen);
void sink_free(sink_t **s);
const char *sink_spec(const sink_t *s);

/* 1 if the sink can tell seq is already there (dir: its final file
 * exists), else 0. */
int sink_has(sink_t *s, uint64_t seq);

/* Hands one delivery to the sink. dir and stdout finish here (DONE or
 * FAILED); exec starts the command and returns RUNNING (or FAILED if it
 * cannot start). At most one item is running per sink. */
int sink_put(sink_t *s, const sink_item_t *item, char *why, size_t whylen);

/* For a running command: RUNNING, DONE (exit 0) or FAILED (non-zero exit,
 * signal or timeout, with why). Call when SIGCHLD arrives or a timer is
 * due; never blocks. */
int sink_poll(sink_t *s, char *why, size_t whylen);
/* 1 while a command is running; its seq in *seq. */
int sink_running(const sink_t *s, uint64_t *seq);
/* Milliseconds until a running command's timeout (0 when none runs). */
int64_t sink_deadline_in(const sink_t *s, int64_t now_ms);
/* Kills a running command (its process group) and reaps it. */
void sink_cancel(sink_t *s);

#endif
