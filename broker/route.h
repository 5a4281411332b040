/* route.h — where a message has been on its way between brokers
 * (federation; Intel.route): stamped by the broker that sends it to
 * another, checked by the one that receives it.
 *
 * The rule: a message published here has no route. When a broker sends a
 * message to another broker (forwarding it up an uplink, or delivering it
 * to a downstream broker's link), it stamps the route: origin_broker and
 * origin_seq are set to its own name and sequence the first time, and
 * after that its name is appended to via. The receiving broker drops a
 * message whose route already names it (a loop, however long, and across
 * trust domains, since the route travels with the message), and stores one
 * (origin_broker, origin_seq) once however many paths bring it, or however
 * often a link re-sends it after an outage.
 * Not responsible for: who may send what (policy.c) or storing it
 * (ingest.c). */
#ifndef LIAISON_ROUTE_H
#define LIAISON_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "wire.h"

/* Brokers one route may name after its origin. */
#define ROUTE_MAX_VIA 16

/* Stamps m (decoded, owned by the caller) for sending from broker self
 * whose store's epoch is epoch: sets the route if it has none (with
 * m->seq), else appends self. */
void route_stamp(Liaison__Intel *m, const char *self, uint64_t epoch);

/* The stored form of a message (packed Intel) stamped for sending from
 * self: a fresh packed Intel in *out (caller frees) and its length; 0 if
 * the bytes do not decode. */
size_t route_stamp_packed(const void *data, size_t len, const char *self, uint64_t epoch,
                          uint8_t **out);

/* 0 if r is a well-formed route (an origin broker name, a sequence, at
 * most ROUTE_MAX_VIA names), else -1 with why. */
int route_valid(const Liaison__Route *r, char *why, size_t whylen);

/* 1 if the route names self, as its origin or on the way. */
int route_names(const Liaison__Route *r, const char *self);

/* The dedup entry of a routed message, its (origin broker, epoch,
 * sequence), as the (origin, msg_id) pair the store keys it by: origin is
 * "~" and the broker's name, a space no agent's name can reach. */
#define ROUTE_DEDUP_ORIGIN 80
#define ROUTE_DEDUP_ID     48
void route_dedup_ids(const Liaison__Route *r, char origin[ROUTE_DEDUP_ORIGIN],
                     char id[ROUTE_DEDUP_ID]);
void route_dedup_key(const Liaison__Route *r, struct store_dkey *key);

#endif
