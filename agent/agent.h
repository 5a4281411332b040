/* agent.h — liaison-agent's loop: the connection to the broker (started
 * without waiting for it, reconnected with capped exponential backoff and
 * jitter, and why it is disconnected logged), the spool, the outbox and the
 * subscriptions in one thread, and the signals: SIGHUP reloads the
 * subscriptions, SIGTERM (or SIGINT) drains and stops.
 * Not responsible for: the command line (main.c), what each part does
 * (outbox.c, spool.c, publish.c, subs.c, sink.c), or heartbeats and the
 * verdict on a silent or dropped connection (link.c). */
#ifndef LIAISON_AGENT_H
#define LIAISON_AGENT_H

#include "client_config.h"

#define AGENT_VERSION "0.1.0"

/* How long each attempt may go without the broker's Welcome (the loop
 * runs on meanwhile) before it counts as failed. */
#define AGENT_CONNECT_MS 3000
/* Reconnect backoff: first delay, doubling to the cap, with jitter. */
#define AGENT_RECONNECT_BASE_MS 250
#define AGENT_RECONNECT_CAP_MS  30000
/* On SIGTERM: how long to wait for PubAcks in flight and sink commands. */
#define AGENT_DRAIN_MS 10000
/* Spool files taken into the outbox per commit. */
#define AGENT_SPOOL_BATCH 256
/* How often the metrics page is rendered anew. */
#define AGENT_METRICS_MS 1000
/* How long the msg_ids of published spool files are remembered. */
#define AGENT_IDS_KEEP_DAYS 30

/* Runs the agent until SIGTERM or SIGINT. Takes ownership of cfg. Returns
 * the exit status: 0 after a clean stop, 1 if it could not start. */
int agent_run(client_config_t *cfg);

#endif
