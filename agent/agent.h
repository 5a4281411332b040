/* agent.h — liaison-agent's loop: the connection to the broker (connect,
 * heartbeat, notice silence, reconnect with capped exponential backoff and
 * jitter, and log why it is disconnected), the spool, the outbox and the
 * subscriptions in one thread, and the signals: SIGHUP reloads the
 * subscriptions, SIGTERM (or SIGINT) drains and stops.
 * Not responsible for: the command line (main.c), or what each part does
 * (outbox.c, spool.c, publish.c, subs.c, sink.c). */
#ifndef LIAISON_AGENT_H
#define LIAISON_AGENT_H

#include "client_config.h"

#define AGENT_VERSION "0.1.0"

/* How long to wait for the broker's Welcome on each attempt. */
#define AGENT_CONNECT_MS 3000
/* Longest a send to the broker may block before the link counts as gone. */
#define AGENT_SEND_TIMEOUT_MS 2000
/* Reconnect backoff: first delay, doubling to the cap, with jitter. */
#define AGENT_RECONNECT_BASE_MS 250
#define AGENT_RECONNECT_CAP_MS  30000
/* On SIGTERM: how long to wait for PubAcks in flight and sink commands. */
#define AGENT_DRAIN_MS 10000
/* Spool files taken into the outbox per commit. */
#define AGENT_SPOOL_BATCH 256
/* How long the msg_ids of published spool files are remembered. */
#define AGENT_IDS_KEEP_DAYS 30

/* Runs the agent until SIGTERM or SIGINT. Takes ownership of cfg. Returns
 * the exit status: 0 after a clean stop, 1 if it could not start. */
int agent_run(client_config_t *cfg);

#endif
