/* reload.h — what a SIGHUP changes, worked out before it is applied: agent
 * by agent, how the fresh broker.cfg differs from the running one (added,
 * removed, revoked, key, clearance, caveats, roles, patterns, dates, whom
 * a broker link speaks for), and which restart-only keys the file changed.
 * Pure: two config_t in, a description out. The loop logs and audits it.
 * Not responsible for: loading either config (config.c) or deciding what a
 * change means for a connection (the loop and policy.c do). */
#ifndef LIAISON_RELOAD_H
#define LIAISON_RELOAD_H

#include <stddef.h>

#include "config.h"

/* The longest detail of one agent's change: it goes into one audit record,
 * whose reason is bounded, and into one log line. */
#define RELOAD_TEXT_MAX 240

struct reload_agent {
    char name[72];
    /* What changed, comma-separated, in this order: added, removed,
     * revoked or unrevoked, key, agency, type, region, clearance, caveats,
     * roles, publish, subscribe, valid_from, valid_to, speaks_for, contact. */
    char change[192];
    /* logfmt pairs with the values: "clearance=SECRET->OFFICIAL
     * caveats=+A,-B publish=+x.>" (lists as +added,-removed); for an added
     * agent its type, clearance and roles. "" when the change says all (a
     * removal, a revocation, a new key). At most RELOAD_TEXT_MAX bytes,
     * ending in "..." when cut. */
    char detail[RELOAD_TEXT_MAX + 1];
};

/* A key SIGHUP does not apply whose value in the file differs from the
 * running one. Values are printable ASCII without '"'; a secret is never
 * shown (the broker's key by its public half, a token as "(set)"). */
struct reload_key {
    char key[32];
    char old[160];
    char neu[160];
};

typedef struct reload_diff {
    struct reload_agent *agents; /* the running config's agents in order, then the added */
    size_t n_agents;
    struct reload_key *keys; /* in broker.cfg's table order */
    size_t n_keys;
} reload_diff_t;

/* How fresh differs from running (both borrowed for the call). Caller owns
 * the result (reload_diff_free). Never NULL. */
reload_diff_t *reload_diff(const config_t *running, const config_t *fresh);
void reload_diff_free(reload_diff_t **d);

#endif
