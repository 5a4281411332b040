/* client_config.h — agent.cfg, read by liaison-agent and liaisonctl (an
 * operator or auditor is an agent identity too): who I am, which broker,
 * my keys, my local data, and my subscriptions with their sinks.
 * Not responsible for: what the broker permits (that is broker.cfg). */
#ifndef LIAISON_CLIENT_CONFIG_H
#define LIAISON_CLIENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Subjects one subscription may watch, its subjects and subjects_file
 * together. The broker enforces the same number (SUB_MAX_WATCH in
 * broker/session.h, a header no client includes): keep the two equal, so a
 * file the agent accepts is never refused for its size. */
#define CLIENT_SUB_MAX_WATCH 10000

typedef struct client_sub {
    char *name;    /* unique within the file */
    char *pattern; /* valid topic pattern */
    char *sink;    /* "dir:PATH", "stdout" or "exec:COMMAND"; default "stdout" */
    char *durable; /* durable subscription name, "" for none; default = name */
    /* The watchlist, as written: the entries of `subjects`, then the lines
     * of subjects_file (trimmed). Each normalises (common/subject.h) and is
     * at most LABEL_MAX_WORD bytes; at most CLIENT_SUB_MAX_WATCH of them.
     * n_subjects == 0: no watchlist. These are the people an agency is
     * interested in: nothing here is ever logged or printed. */
    char **subjects;
    size_t n_subjects;
    char *subjects_file; /* resolved against the config's dir; "" for none */
    char *where;         /* a filter that compiles (common/filter.h), as written; "" for none */
    unsigned sink_line;  /* the line of its sink key (of the subscription when absent) */
} client_sub_t;

typedef struct client_config {
    char *path;
    char *name;   /* the agent name (informational: the key decides) */
    char *broker; /* ZeroMQ endpoint, default "tcp://127.0.0.1:7400" */
    uint8_t broker_public_key[32];
    uint8_t secret_key[32];
    uint8_t public_key[32]; /* derived from secret_key */
    char *data_dir;         /* resolved against the config's dir; default "data/NAME" */
    char *spool;            /* "" when not set */
    unsigned heartbeat_ms;  /* default 5000 */
    char *log_level;        /* default "info" */
    char *metrics;          /* host:port of /metrics, "" for none (the default) */
    char *metrics_token;    /* "" for none; required when metrics is not loopback */
    client_sub_t *subs;
    size_t n_subs;
} client_config_t;

/* Loads and validates path, reading every subscription's subjects_file
 * too; NULL with "FILE:LINE: KEY: why" in err on any error (unknown key,
 * wrong type, bad pattern, sink or where, unreadable key or subjects_file,
 * a subject that does not normalise, too many or none). An error about a
 * subject names its entry or its file and line, never the subject. */
client_config_t *client_config_load(const char *path, char *err, size_t errlen);
void client_config_free(client_config_t **cfg);

/* For the agent, which runs the sinks (liaisonctl loads the same file and
 * runs none): every exec: sink's command can start, an executable file at
 * its path or in PATH. 0, or -1 with "FILE:LINE: subscriptions[N].sink:
 * why" in err. A command the shell must expand first is not judged. */
int client_config_check_sinks(const client_config_t *cfg, char *err, size_t errlen);

#endif
