/* control.h — what operators see of a running broker: the views behind
 * `liaisonctl status | agents | subs | topics` as JSON documents (shapes in
 * docs/operator.md), the model of agents and subscriptions those views and
 * the metrics endpoint are drawn from, and the history the broker does not
 * keep itself: per-agent totals across connections, durable subscriptions
 * while their agent is away, and per-second rates over the last minute.
 * Everything here runs in the loop thread and reads counts, names and
 * patterns only — never anything from inside a message but its topic
 * (for `topics`), size and receive time.
 * Not responsible for: who may ask (handle.c checks the operator role and
 * audits the consultation), HTTP or the Prometheus format (metrics.c). */
#ifndef LIAISON_CONTROL_H
#define LIAISON_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

typedef struct control control_t;

/* How often the loop calls control_tick (and the metrics snapshot ages). */
#define CONTROL_TICK_MS 1000

control_t *control_new(void);
void control_free(control_t **c);

/* Called by the loop every CONTROL_TICK_MS and just before it reaps
 * sessions, so the counts of a session are read before it goes: folds
 * sessions that have gone into their agent's totals, takes a rate sample,
 * and hands a fresh snapshot to the metrics endpoint when it is serving. */
void control_tick(broker_t *b, int64_t now_ms);

/* At start: the durable subscriptions already on disk, so operators see
 * them (and their backlog) before their agents reconnect. */
void control_load_durables(broker_t *b);
/* A durable subscription was let go with this acked floor: operators see
 * it away, with its backlog, from now. */
void control_durable_released(broker_t *b, const sub_t *sub, uint64_t floor);

/* An operator's (or its agent's) delete: the durable is gone from the
 * views now. A rewind: its cursor is floor from now. */
void control_durable_forget(broker_t *b, const char *name);
void control_durable_moved(broker_t *b, const char *name, uint64_t floor);
/* A batch committed: the per-topic counts follow what it stored and
 * erased. Called by commit.c's release. */
void control_committed(broker_t *b, const batch_t *bt);
/* The durables on disk as one line of JSON (caller frees; shape in
 * docs/operator.md), only agent's when agent is not NULL. NULL when the
 * cursors cannot be read. */
char *control_durables_json(broker_t *b, const char *agent);

/* The view named by what, as one line of JSON (caller frees):
 *   "status" (or "" / NULL)  the broker's state, store use, totals, rates
 *   "agents"                 every configured agent, connected or not
 *   "subs"                   every subscription, live or durable-and-away
 *   "topics", "topics:N"     per topic prefix of N tokens (default 2), only of
 *                            messages at or below clearance (the asker's); the
 *                            rest counted under their first two tokens
 *   "all"                    {"status":…, "agents":[…], "subscriptions":[…]}
 * NULL with a one-line reason in err for any other name. */
char *control_view(broker_t *b, const char *what, int clearance, char *err, size_t errlen);

/* ---- the model (shared with metrics.c) ------------------------------------ */

struct control_agent {
    const char *name;           /* borrowed from the config or the history */
    const config_agent_t *conf; /* NULL when no longer configured */
    unsigned sessions;          /* live connections */
    int64_t since_us;           /* earliest live connection; 0 when not connected */
    int64_t last_seen_us;       /* 0 when not seen since the broker started */
    /* Since the broker started, across connections: */
    uint64_t in;  /* publishes accepted */
    uint64_t out; /* deliveries and notices sent (redeliveries too) */
    uint64_t publish_refused;
    uint64_t withheld; /* deliveries refused by the rule */
    size_t subs;       /* live subscriptions */
};

struct control_sub {
    const char *agent;   /* borrowed */
    uint32_t id;         /* the client's id; 0 for a durable whose agent is away */
    const char *pattern; /* borrowed */
    const char *durable; /* the name after "agent/", or NULL; borrowed */
    int connected;
    uint32_t window, in_flight;
    uint32_t watching; /* subjects its watchlist holds (never which) */
    int filtered;      /* it has a where filter */
    /* Messages stored after the subscription's position on topics its
     * pattern matches (the per-topic counts, tally.c; until they are ready
     * at start, every stored message after it), plus its unacked
     * deliveries. An upper bound of what it will receive: the rule, its
     * filter or watchlist may still withhold some. */
    uint64_t backlog;
    uint64_t oldest_seq; /* oldest unacked delivery, 0 when none */
    int64_t oldest_us;   /* that message's receive time, 0 when unknown */
    uint64_t delivered, acked, redelivered, dead_lettered, withheld;
};

struct control_model {
    int64_t now_us;
    struct store_stat store;      /* zero when the store could not be read */
    struct control_agent *agents; /* owned array */
    size_t n_agents, agents_connected;
    struct control_sub *subs; /* owned array */
    size_t n_subs;
    uint64_t backlog;                 /* sum over subscriptions */
    const struct control_sub *oldest; /* the oldest unacked delivery, or NULL */
    /* Per second over the last minute (or since start, if shorter). */
    double window_s, publish_rate, delivery_rate, notice_rate;
    double refused_rate;  /* publishes refused */
    double withheld_rate; /* deliveries withheld by the rule */
};

/* Builds the model of b as it is now. Its strings are borrowed from b (the
 * config, the sessions, the history) and stay valid until the loop next
 * handles a frame, reaps, reloads or ticks: use it at once. Free with
 * control_model_free. */
void control_model(broker_t *b, struct control_model *m);
void control_model_free(struct control_model *m);

#endif
