/* session.h — one connected peer as the broker sees it: its ZeroMQ routing
 * id, the agent its CURVE key authenticated as (User-Id), whether it has
 * said Hello, when it was last heard, and its subscriptions with their
 * credit windows and unacked deliveries. Also the table of sessions and
 * sending a frame to one of them.
 * Not responsible for: deciding what a session may do (policy.c) or what
 * to deliver (router.c). */
#ifndef LIAISON_SESSION_H
#define LIAISON_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "wire.h"

#define SESSION_RID_MAX   256
#define SUB_AT_TAIL       0          /* sub_t.next_seq: caught up with the planned tail */
#define SUB_ENDED         UINT64_MAX /* sub_t.next_seq: a replay past its to_seq */
#define SESSION_AGENT_MAX 128

/* One delivery sent and not yet acked. */
struct inflight {
    uint64_t seq;
    int64_t due_ms;    /* when it is redelivered if still unacked */
    uint32_t attempts; /* deliveries so far */
    uint32_t rejected; /* nacked without requeue: a dead letter at once */
};

/* Subjects one watchlist may hold. */
#define SUB_MAX_WATCH 10000

typedef struct sub {
    struct session *owner;     /* the session it belongs to */
    uint32_t id;               /* chosen by the client */
    char *pattern;             /* owned */
    char *durable;             /* owned "agent/name" for a durable subscription, else NULL */
    uint32_t window;           /* max unacked deliveries */
    uint64_t next_seq;         /* next stored sequence to consider; SUB_AT_TAIL when it has
                                * considered everything planned so far (fanout.c then reaches
                                * it through the subscription index, never by walking) */
    struct inflight *inflight; /* unacked deliveries in sequence order, n_inflight of them
                                * (points into slots) */
    uint32_t n_inflight;
    uint32_t n_held;        /* entries never sent (attempts 0): embargoed, requeued */
    struct inflight *slots; /* owned; slots_cap entries */
    uint32_t slots_cap;
    int64_t next_due_ms;      /* no entry is due before this (a lower bound) */
    uint64_t floor_written;   /* acked floor last written to the store */
    int64_t floor_written_ms; /* when (monotonic) */
    int active;               /* delivered or acked since the cursor was written */
    int busy;                 /* in the broker's busy list (fanout.c) */
    /* A durable resumed from what its cursor remembered: up to resume_hi,
     * only these (in sequence order, from i_resume) are still owed, with
     * the attempts they had; the rest of that range was acked. */
    uint64_t resume_hi;
    struct sub_resume {
        uint64_t seq;
        uint32_t attempts;
    } * resume; /* owned */
    uint32_t n_resume, i_resume;
    int replay;         /* a replay: its withheld messages are recorded as ranges */
    uint64_t replay_to; /* a replay that ends after this sequence (0: goes on live) */
    int report_done;    /* send ReplayDone once caught up */
    /* Withheld messages of a replay not yet recorded: one rule, a range. */
    int withheld_rule;
    uint64_t withheld_first, withheld_last;
    uint32_t withheld_n;
    uint64_t audit_run; /* audit_gather's hint: its disclosures in this batch */
    uint64_t delivered, acked, refused, redelivered, dead_lettered;
    /* Narrowing what it asked for (issue "common database"): a filter over
     * label fields, evaluated after the delivery rule; a watchlist of
     * subject tokens (sorted; the references are never kept). */
    struct filter *filter; /* owned, or NULL */
    uint8_t (*watch)[32];  /* owned, n_watch of them, or NULL */
    uint32_t n_watch;
    uint64_t watch_seen; /* the last new message reached through a token */
} sub_t;

/* What the broker keeps per agent across its connections: how many it
 * holds, their subscriptions, and this minute's rate-limited requests. It
 * outlives the sessions, so reconnecting does not reset a rate. */
struct agent_state {
    char name[SESSION_AGENT_MAX];
    uint32_t sessions, subs;
    int64_t minute_ms; /* start of the current minute (monotonic) */
    uint32_t replays, views, queries;
};

/* Counts one more request against limit in this minute: 1 if it is
 * allowed, 0 if it is over. */
int agent_rate(struct agent_state *a, uint32_t *counter, uint32_t limit, int64_t now_ms);

typedef struct session {
    uint8_t rid[SESSION_RID_MAX]; /* ROUTER routing id; addressing only, never identity */
    size_t rid_len;
    char agent[SESSION_AGENT_MAX]; /* User-Id from the ZAP handler */
    uint8_t key[32];               /* the CURVE key it authenticated with (X-Key) */
    char key_z85[41];              /* the same, as X-Key spells it: compared per frame */
    const config_agent_t *conf;    /* borrowed from the current config; NULL if removed */
    int welcomed;
    int hit_notices;        /* its Hello asked for hit notices */
    int batches;            /* its Hello said it reads Batch frames */
    struct wire_gather out; /* frames gathered for it at one release (session_gather) */
    int gathered;           /* in the table's list of sessions to flush */
    /* The page its last subject query answered with "more": asking for
     * the next one is the same query, not another against the rate. */
    uint8_t query_sig[16];
    uint64_t query_next_after;
    int dead; /* unroutable or timed out: reaped before sleep */
    int64_t last_seen_ms;
    int64_t last_sent_ms; /* for the broker's own heartbeats to an idle session */
    sub_t **subs;         /* owned array of owned subscriptions (stable addresses: the
                           * subscription index holds them) */
    size_t n_subs;
    uint64_t published, delivered;
    struct session *hnext; /* hash chain */
    /* For operators (broker/control.c): when this connection was first
     * heard (wall clock), and its publishes refused. */
    int64_t connected_us;
    uint64_t publish_refused;
    uint64_t withheld_gone;          /* withheld deliveries of its subscriptions that have gone */
    struct agent_state *agent_state; /* borrowed from the table; outlives the session */
    uint64_t audit_run;              /* audit_gather's hint: its collections in this batch */
    /* The origin its messages are stamped with, packed once (ingest.c):
     * made from origin_conf of the config numbered origin_cfg_gen. */
    uint8_t *origin_wire;
    size_t origin_len;
    const config_agent_t *origin_conf;
    uint64_t origin_cfg_gen;
    int over_limit; /* one connection too many for its agent: served nothing */
    int counted;    /* in its agent_state's session count (not once evicted) */
} session_t;

typedef struct sessions sessions_t;

sessions_t *sessions_new(void);
/* Frees every session and its subscriptions. */
void sessions_free(sessions_t **t);
/* The session for a routing id, or NULL. Borrowed until sessions_remove. */
session_t *sessions_find(sessions_t *t, const uint8_t *rid, size_t rid_len);
/* A new session; rid_len <= SESSION_RID_MAX, agent shorter than
 * SESSION_AGENT_MAX (the caller checks). Borrowed until sessions_remove.
 * Its agent_state counts it. */
session_t *sessions_add(sessions_t *t, const uint8_t *rid, size_t rid_len, const char *agent);
void sessions_remove(sessions_t *t, session_t *s);
/* Number of sessions and the i-th one (0 <= i < count); the order changes
 * when sessions are removed. */
size_t sessions_count(const sessions_t *t);
session_t *sessions_at(sessions_t *t, size_t i);

/* Subscriptions of a session. add returns NULL if the id is taken; a
 * next_seq of SUB_AT_TAIL starts it at the tail. Borrowed until removed. */
sub_t *session_sub_find(session_t *s, uint32_t id);
sub_t *session_sub_add(session_t *s, uint32_t id, const char *pattern, const char *durable,
                       uint32_t window, uint64_t next_seq);
void session_sub_remove(session_t *s, uint32_t id);

/* Credit left in a subscription's window. */
uint32_t sub_credit(const sub_t *sub);
/* Records a first delivery of seq (caller checked credit), due for
 * redelivery at due_ms. Sequences arrive in increasing order. */
void sub_sent(sub_t *sub, uint64_t seq, int64_t due_ms);
/* Holds seq unsent (attempts 0) until due_ms: a message under embargo for
 * this subscriber. Held entries take no credit. */
void sub_hold(sub_t *sub, uint64_t seq, int64_t due_ms);
/* One more attempt of f (held ones become sent), or one fewer (a planned
 * attempt that did not leave). */
void sub_attempted(sub_t *sub, struct inflight *f);
void sub_unattempted(sub_t *sub, struct inflight *f);
/* Forgets seq entirely (a delivery planned in a batch that did not
 * commit). Returns 0, or -1 if it was not in the window. */
int sub_forget(sub_t *sub, uint64_t seq);
/* Puts seq back into the window (in sequence order, even past the window's
 * size, when credit simply stays 0 until acks bring it back), held and due
 * at once: an operator's requeue of a dead letter.
 * Returns -1 if it is already there. */
int sub_requeue(sub_t *sub, uint64_t seq);
/* Puts back an entry a batch that failed had taken out of the window (a
 * dead letter, a delivery withheld at redelivery), with the deliveries it
 * had and its nack, due at once. Returns -1 if it is already there. */
int sub_restore(sub_t *sub, uint64_t seq, uint32_t attempts, int rejected);
/* Forgets every entry at or above seq (what a batch that failed planned
 * from there on). */
void sub_forget_from(sub_t *sub, uint64_t seq);
/* Sets f's due time (f in sub's window), keeping next_due_ms a bound. */
void sub_set_due(sub_t *sub, struct inflight *f, int64_t due_ms);
/* The unacked entry for seq, or NULL (binary search: the window is in
 * sequence order). */
struct inflight *sub_inflight(sub_t *sub, uint64_t seq);
/* Removes seq from the unacked set. Returns 0, or -1 if it was not unacked. */
int sub_ack(sub_t *sub, uint64_t seq);
/* The next sequence the subscription will consider, given tail, the first
 * sequence not yet planned for anyone. */
uint64_t sub_next(const sub_t *sub, uint64_t tail);
/* Every sequence at or below this is acked or was never for this
 * subscription: where a durable subscription resumes after a restart. */
uint64_t sub_floor(const sub_t *sub, uint64_t tail);
/* Resizes the window (1..max); the unacked set is kept. */
void sub_set_window(sub_t *sub, uint32_t window);

/* Sends one frame to the session through the ROUTER socket, never
 * blocking. Returns 0 when queued, -1 when the peer's queue is full (try
 * later), -2 when the peer is gone (the session is marked dead). */
int session_send(void *router, session_t *s, const void *data, size_t len);

/* What a Hello says of Batch frames. Turned off, the frames gathered for
 * the session under the old word go now, one by one and in order. */
void session_set_batches(void *router, session_t *s, int batches);
/* Like session_send, but for a session that reads batches the frame waits
 * with the others gathered for it until sessions_flush, which sends each
 * session's as one Batch frame (a lone frame as itself). The order of one
 * session's frames is kept. What a full queue or a gone peer drops is what
 * session_send would have dropped: the frames' own retries cover them. */
void session_gather(void *router, sessions_t *t, session_t *s, const void *data, size_t len);
void sessions_flush(sessions_t *t, void *router);
/* Gives back a large gather buffer s holds nothing in (called at each
 * heartbeat, so one quiet after a catch-up does not keep it). */
void session_trim(session_t *s);

#endif
