/* policy.h — every allow/deny decision of the broker, as pure functions of
 * (the agent as configured now, the message or pattern, the time). Deny by
 * default: each function returns POLICY_ALLOW only when every rule holds,
 * otherwise the first rule that failed.
 * Not responsible for: the label's well-formedness (label.c), sending
 * refusals or auditing them (the callers). */
#ifndef LIAISON_POLICY_H
#define LIAISON_POLICY_H

#include <stdint.h>

#include "config.h"
#include "wire.h"

enum policy_rule {
    POLICY_ALLOW = 0,
    POLICY_NO_AGENT,    /* not configured (or removed) */
    POLICY_ROLE,        /* lacks the role for the action */
    POLICY_TOPIC,       /* topic/pattern outside its permissions or subscription */
    POLICY_CLEARANCE,   /* classification above its clearance */
    POLICY_CAVEAT,      /* a caveat it does not hold */
    POLICY_RELEASE_TO,  /* release_to is set and does not name it */
    POLICY_SUB_LIMIT,   /* too many subscriptions */
};

/* Short stable name of a rule ("clearance"), for logs, errors and audit. */
const char *policy_rule_name(enum policy_rule rule);
/* The wire error code a refused client is told. */
Liaison__ErrorCode policy_rule_error(enum policy_rule rule);

/* May `a` publish m? Publisher role, topic within a publish permission,
 * classification <= clearance, every caveat held. */
enum policy_rule policy_may_publish(const config_agent_t *a, const Liaison__Intel *m);

/* May `a` hold a subscription to pattern, given it already holds n_subs?
 * Receiver role, pattern within a subscribe permission, under the limit. */
enum policy_rule policy_may_subscribe(const config_agent_t *a, const char *pattern,
                                      size_t n_subs, size_t max_subs);

/* May `a` receive m through its subscription `pattern`? Receiver role;
 * topic matches the subscription and a subscribe permission; clearance >=
 * classification; every caveat held; a non-empty release_to names it by
 * agency, type or region (empty = any cleared receiver). */
enum policy_rule policy_may_receive(const config_agent_t *a, const char *pattern,
                                    const Liaison__Intel *m);

#endif
