/* link.h — the client side of the connection to the broker, shared by
 * liaison-agent and liaisonctl: a CURVE DEALER socket, the Hello/Welcome
 * exchange, sending and receiving Envelopes, and heartbeats. It reports why
 * a connection fails (key refused, broker unreachable or silent).
 * Not responsible for: retry policy or outboxes (the agent), or what the
 * messages mean (the callers). */
#ifndef LIAISON_LINK_H
#define LIAISON_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "client_config.h"
#include "wire.h"

typedef struct link link_t;

/* Connects to cfg->broker with the configured keys, sends Hello and waits
 * up to timeout_ms for Welcome. Returns the link (caller owns; link_close),
 * or NULL with a reason in err: "the broker refused this key", "no answer
 * from the broker at ... (down, or wrong broker_public_key?)", ... */
link_t *link_open(const client_config_t *cfg, const char *client_name, int timeout_ms, char *err,
                  size_t errlen);
/* The same, with LINK_* flags: LINK_HIT_NOTICES asks for the hit notices
 * of this agent (Hello.hit_notices). */
#define LINK_HIT_NOTICES 0x1u
link_t *link_open_as(const client_config_t *cfg, const char *client_name, unsigned flags,
                     int timeout_ms, char *err, size_t errlen);
void link_close(link_t **l);

/* What the broker said in Welcome. */
const char *link_agent(const link_t *l);
uint64_t link_welcome_last_seq(const link_t *l);
uint32_t link_heartbeat_ms(const link_t *l);
/* The largest frame the broker accepts (a bigger one is refused with
 * FRAME_TOO_LARGE, naming its corr_id). */
uint32_t link_max_frame(const link_t *l);

/* A fresh correlation id (never 0). */
uint64_t link_next_corr(link_t *l);

/* Sends env (version is set here). Blocks up to the send timeout.
 * Returns 0 or -1. */
int link_send(link_t *l, Liaison__Envelope *env);

/* One request and its answer: gives env a fresh corr_id, sends it, and
 * waits up to timeout_ms for the frame that answers it (frames for other
 * requests, heartbeats, are dropped). Returns that frame — an Error frame
 * too — (caller owns; wire_envelope_free), or NULL with the reason in err
 * when it cannot be sent, no answer comes, or the link is lost. */
Liaison__Envelope *link_call(link_t *l, Liaison__Envelope *env, int timeout_ms, char *err,
                             size_t errlen);

/* Receives one Envelope, waiting up to timeout_ms (-1 forever). Sends a
 * Heartbeat when the link has been quiet for the heartbeat interval, and
 * answers nothing else by itself. Returns the Envelope (caller owns;
 * wire_envelope_free), or NULL with *timed_out set, or NULL on a frame that
 * does not decode (logged). */
Liaison__Envelope *link_recv(link_t *l, int timeout_ms, int *timed_out);

/* 1 once the connection has dropped (broker gone or restarted). A link
 * never reconnects by itself — a new connection must begin with Hello — so
 * the caller closes it and opens another. link_recv returns NULL at once on
 * a lost link with nothing left to read. */
int link_lost(const link_t *l);

/* The DEALER socket, for callers that poll several things at once. */
void *link_socket(link_t *l);

#endif
