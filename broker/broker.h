/* broker.h — the state of one running broker, shared by the loop, the
 * handlers and the pipeline: sockets, store, current config, sessions, the
 * subscription index, and the two batches (the one being filled, and the
 * one the committer thread is writing).
 * Not responsible for behaviour: each module's .h says what it does. */
#ifndef LIAISON_BROKER_H
#define LIAISON_BROKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "batch.h"
#include "auth.h"
#include "config.h"
#include "retention.h"
#include "session.h"
#include "store.h"
#include "seen.h"
#include "subindex.h"
#include "wire.h"

#define BROKER_VERSION "0.1.0"

struct broker_stats {
    uint64_t publishes, publish_refused, duplicates, deliveries, notices, delivery_refused,
        redeliveries, dead_letters, commits, commits_refused, frames_bad, erased, queries,
        query_refused, query_results, query_hits, hit_notices, loops, route_duplicates;
};

/* What waits for room (room.c): disclosures held at the floor, or every
 * writer after a commit refused for want of room, tried again after a
 * backoff. */
struct broker_pause {
    int held;          /* disclosures wait: the room left is below the floor */
    int on;            /* a commit was refused (MAP_FULL): only tries write */
    int ticked;        /* this pause's last tick committed: the next try plans the work */
    int logged;        /* this pause's store_exhausted line was written */
    int64_t since_ms;  /* when it began (monotonic) */
    int64_t retry_ms;  /* when the next try may be planned */
    int64_t delay_ms;  /* the wait before it: doubles after each refused try */
    uint32_t tries;    /* tries refused in this pause */
    int64_t logged_ms; /* when store_exhausted was last written */
};

typedef struct broker {
    config_t *cfg; /* owned; replaced whole on reload */
    void *ctx;
    void *router; /* the CURVE ROUTER socket */
    auth_t *auth;
    store_t *store;
    sessions_t *sessions;
    subindex_t *subindex; /* every subscription by pattern */
    seen_t *seen;         /* the dedup index: where the store may hold a key */
    batch_t *open;        /* the batch this pass fills; owned */
    batch_t *inflight;    /* the batch being committed, or NULL; owned */
    /* Reset batches, reused; owned. Two: a pass of steady traffic needs
     * three batches (the open one, the one committing, the one being
     * released), and a release that finds the open batch empty, so submits
     * nothing, has one over; freed, it would be made again (and every
     * buffer in it grown again) at the next release. */
    batch_t *spare[2];
    struct committer *committer;
    /* Called by handle_frame after each Envelope of a frame, where the loop
     * may end its pass early (loop.c); NULL: a pass ends only between polls. */
    void (*pass_point)(struct broker *b);
    store_read_t *rd;  /* this pass's snapshot of what has committed, or NULL */
    uint64_t next_seq; /* the sequence the next accepted publish gets */
    uint64_t planned;  /* every sequence up to here is planned for the tail subscriptions */
    /* Subscriptions a pass looks at besides the new messages' matches
     * (fanout.c): those with deliveries in flight, behind the tail, or with
     * a durable cursor to write. Every one is looked at in a full pass
     * four times a second (full_scan_ms, fanout.c's alone), so an idle one
     * costs nothing a pass. */
    sub_t **busy;
    size_t n_busy, cap_busy;
    int64_t full_scan_ms;
    int full_pass;          /* this pass looks at every subscription */
    int fatal;              /* a commit failed with an I/O error: stop, exit 1 */
    int full;               /* publishes are being refused for want of room */
    int64_t full_logged_ms; /* when store_full was last logged */
    /* The blind subject index (subjects.c): on when broker.cfg names a
     * subject_key at start; the key is bound at start like the store. */
    int index_on;
    uint8_t subject_key[32];
    struct broker_pause pause;
    /* Durable subscriptions let go (unsubscribed, reaped, taken over): their
     * acked floor as it was in memory, for the next connection to resume
     * from even before the cursor write commits (fanout.c). */
    struct released_durable {
        char name[SESSION_AGENT_MAX + 130];
        uint64_t floor;
        struct store_cursor_ext ext; /* ext.v owned */
    } released[64];
    unsigned n_released;
    uint8_t *scratch; /* frame buffer for replies; owned */
    size_t scratch_len;
    audit_t *audit;
    retention_t *retention;
    int64_t retention_due_ms; /* next retention pass */
    int64_t started_us;
    int reload_ok;     /* the last SIGHUP's config was taken (1 at start) */
    int64_t reload_us; /* when a config was last taken: start, or the last good SIGHUP */
    uint64_t cfg_gen;  /* how many configs were taken before this one */
    struct broker_stats stats;
    struct control *control; /* operator views' history (control.c); owned */
    struct metrics *metrics; /* HTTP endpoint and commit histogram (metrics.c); owned */
    struct uplinks *uplinks; /* this broker as an agent of those above it (uplink.c); owned */
} broker_t;

#endif
