/* auth.h — the broker's ZAP handler (ZeroMQ RFC 27), run inside the
 * broker's own loop. It must be bound before any CURVE socket, because
 * libzmq admits every client when no handler is listening (fail-open):
 * auth_new failing is therefore fatal to the broker.
 * A connection is admitted only if its CURVE public key belongs to an agent
 * in the current config that policy lets connect (not revoked, in its
 * dates); the reply's User-Id is the agent's name, which the
 * broker then reads from every frame.
 * Not responsible for: what an admitted agent may do (policy.c). */
#ifndef LIAISON_AUTH_H
#define LIAISON_AUTH_H

#include <stddef.h>

#include "audit.h"
#include "config.h"

typedef struct auth auth_t;

/* Binds inproc://zeromq.zap.01 in ctx. NULL with err set on failure. */
auth_t *auth_new(void *ctx, char *err, size_t errlen);
void auth_free(auth_t **a);
/* The socket to poll for ZMQ_POLLIN. */
void *auth_socket(auth_t *a);
/* Answers every pending ZAP request against cfg, without blocking; each
 * refusal is audited (aggregated: a refused client retries for ever).
 * Returns the number of requests refused in this call. */
int auth_handle(auth_t *a, const config_t *cfg, audit_t *audit, batch_t *bt);
/* Totals since start. */
unsigned long auth_accepted(const auth_t *a);
unsigned long auth_refused(const auth_t *a);

#endif
