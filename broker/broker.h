/* broker.h — the state of one running broker, shared by the loop and the
 * protocol handlers: sockets, store, current config, sessions, and the
 * publishes accepted in this loop pass awaiting their group commit.
 * Not responsible for behaviour: each module's .h says what it does. */
#ifndef LIAISON_BROKER_H
#define LIAISON_BROKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "auth.h"
#include "config.h"
#include "retention.h"
#include "session.h"
#include "store.h"
#include "wire.h"

#define BROKER_VERSION "0.1.0"

/* One publish accepted in this pass, stored in the open batch and waiting
 * for the commit before its PubAck goes out and it is fanned out. */
struct pending {
    uint8_t rid[SESSION_RID_MAX]; /* copied: the session may go before commit */
    size_t rid_len;
    uint64_t corr_id;
    uint64_t seq;
    char *msg_id;          /* owned */
    Liaison__Intel *intel; /* owned, decoded form for routing decisions */
    uint8_t *packed;       /* owned, the stored bytes */
    size_t packed_len;
    uint8_t digest[32]; /* SHA-256 of packed, for the audit */
};

/* A frame planned in this pass, sent only after the batch holding its
 * disclosure record commits. */
struct outframe {
    uint8_t rid[SESSION_RID_MAX];
    size_t rid_len;
    uint32_t sub_id;
    uint64_t seq;
    int first;       /* first delivery (else a redelivery) */
    size_t off, len; /* in broker.outbuf */
};

/* A repeated publish: answered with the original's sequence once the pass
 * commits (the original may be in this very batch). */
struct dup_ack {
    uint8_t rid[SESSION_RID_MAX];
    size_t rid_len;
    uint64_t corr_id;
    uint64_t seq;
    char *msg_id; /* owned */
};

struct broker_stats {
    uint64_t publishes, publish_refused, duplicates, deliveries, notices, delivery_refused,
        redeliveries, dead_letters, commits, frames_bad, erased;
};

typedef struct broker {
    config_t *cfg; /* owned; replaced whole on reload */
    void *ctx;
    void *router; /* the CURVE ROUTER socket */
    auth_t *auth;
    store_t *store;
    sessions_t *sessions;
    struct pending *batch; /* publishes in the open store batch; owned */
    size_t n_batch, cap_batch;
    uint64_t batch_first; /* seq of batch[0] after commit; 0 when empty */
    struct dup_ack *dups; /* owned */
    size_t n_dups, cap_dups;
    uint8_t *scratch; /* frame buffer for replies; owned */
    size_t scratch_len;
    struct outframe *out; /* deliveries planned this pass; owned */
    size_t n_out, cap_out;
    uint8_t *outbuf; /* their bytes; owned */
    size_t outbuf_len, outbuf_cap;
    audit_t *audit;
    retention_t *retention;
    int64_t retention_due_ms; /* next retention pass */
    int64_t started_us;
    struct broker_stats stats;
    struct control *control; /* operator views' history (control.c); owned */
    struct metrics *metrics; /* HTTP endpoint and commit histogram (metrics.c); owned */
} broker_t;

#endif
