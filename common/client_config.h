/* client_config.h — agent.cfg, read by liaison-agent and liaisonctl (an
 * operator or auditor is an agent identity too): who I am, which broker,
 * my keys, my local data, and my subscriptions with their sinks.
 * Not responsible for: what the broker permits (that is broker.cfg). */
#ifndef LIAISON_CLIENT_CONFIG_H
#define LIAISON_CLIENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct client_sub {
    char *name;    /* unique within the file */
    char *pattern; /* valid topic pattern */
    char *sink;    /* "dir:PATH", "stdout" or "exec:COMMAND"; default "stdout" */
    char *durable; /* durable subscription name, "" for none; default = name */
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
    client_sub_t *subs;
    size_t n_subs;
} client_config_t;

/* Loads and validates path; NULL with "FILE:LINE: KEY: why" in err on any
 * error (unknown key, wrong type, bad pattern or sink, unreadable key). */
client_config_t *client_config_load(const char *path, char *err, size_t errlen);
void client_config_free(client_config_t **cfg);

#endif
