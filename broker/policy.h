/* policy.h — every allow/deny decision of the broker, as pure functions of
 * (the configuration as it is now, the agent, the message or pattern, the
 * time). Deny by default: a function allows only when every rule holds,
 * and otherwise names the first rule that failed.
 * Not responsible for: the label's well-formedness (label.c), sending
 * refusals or auditing them (the callers). */
#ifndef LIAISON_POLICY_H
#define LIAISON_POLICY_H

#include <stdint.h>

#include "config.h"
#include "wire.h"

enum policy_rule {
    POLICY_ALLOW = 0,
    POLICY_NO_AGENT,   /* not configured (or removed) */
    POLICY_REVOKED,    /* revoked in the config */
    POLICY_NOT_VALID,  /* outside its valid_from / valid_to dates */
    POLICY_ROLE,       /* lacks the role for the action */
    POLICY_TOPIC,      /* topic/pattern outside its permissions or subscription */
    POLICY_CLEARANCE,  /* classification above its clearance */
    POLICY_CAVEAT,     /* a caveat it does not hold */
    POLICY_RELEASE_TO, /* release_to is set and does not name it */
    POLICY_EXPIRED,    /* the message's expires_at has passed */
    POLICY_EMBARGO,    /* the message's embargo_until has not come */
    POLICY_SUB_LIMIT,  /* too many subscriptions */
    POLICY_ONWARD,     /* no_onward_sharing: never past the broker where it was published */
};

/* What to do with one stored message for one subscriber. */
enum policy_action {
    POLICY_DELIVER,  /* send it */
    POLICY_NOTICE,   /* send a sanitised notice instead (refused only on clearance/caveats) */
    POLICY_WITHHOLD, /* send nothing; `rule` says why */
    POLICY_DEFER,    /* not yet: embargoed until `until_us` */
};

struct policy_verdict {
    enum policy_action action;
    enum policy_rule rule; /* POLICY_ALLOW when delivered */
    int64_t until_us;      /* POLICY_DEFER */
};

/* Short stable name of a rule ("clearance"), for logs, errors and audit. */
const char *policy_rule_name(enum policy_rule rule);
/* The name of one role bit as broker.cfg writes it ("operator"). */
const char *policy_role_name(unsigned role);
/* The wire error code a refused client is told. */
Liaison__ErrorCode policy_rule_error(enum policy_rule rule);

/* May `a` hold a connection at all? Configured, not revoked, in its dates. */
enum policy_rule policy_may_connect(const config_agent_t *a, int64_t now_us);

/* May `a` publish m? Connect rules, publisher role, topic within a publish
 * permission, classification <= clearance, every caveat held. */
enum policy_rule policy_may_publish(const config_agent_t *a, const Liaison__Intel *m,
                                    int64_t now_us);

/* May `a` hold a subscription to pattern, given it already holds n_subs?
 * Connect rules, receiver role, pattern within a subscribe permission, under
 * the limit. */
enum policy_rule policy_may_subscribe(const config_agent_t *a, const char *pattern, size_t n_subs,
                                      size_t max_subs, int64_t now_us);

/* May `a` use an operator or auditor request? Connect rules and the role
 * (ROLE_OPERATOR or ROLE_AUDITOR). */
enum policy_rule policy_may_request(const config_agent_t *a, unsigned role, int64_t now_us);

/* The delivery rule (DESIGN.md "Who may receive what") for m through `a`'s
 * subscription `pattern`: connect rules and the receiver role; topic within
 * the subscription and a subscribe permission; not expired; named by a
 * non-empty release_to (by agency, type or region); not under embargo
 * (DEFER); clearance >= classification and every caveat held — where only
 * those two fail and cfg enables notices for the topic, NOTICE. */
struct policy_verdict policy_receive(const config_t *cfg, const config_agent_t *a,
                                     const char *pattern, const Liaison__Intel *m, int64_t now_us);

/* The same rule for a subject query's answer (DESIGN.md "Subject search"):
 * the query role instead of the receiver role, pattern the query's. DELIVER
 * answers the message whole, NOTICE as a hit; WITHHOLD and DEFER leave it
 * out, as if it did not exist. */
struct policy_verdict policy_consult(const config_t *cfg, const config_agent_t *a,
                                     const char *pattern, const Liaison__Intel *m, int64_t now_us);

/* ---- saying why, and what would be allowed ------------------------------------------------- */

/* What was asked when a rule refused: the role the request needed, and the
 * message published (m) or the pattern asked for (pattern), either NULL. */
struct policy_ask {
    unsigned role;           /* ROLE_* the request needed (for POLICY_ROLE) */
    const Liaison__Intel *m; /* a publish: its topic, classification, caveats */
    const char *pattern;     /* a subscription, replay or query: its pattern */
};

/* The longest text policy_explain writes, its terminator included. */
#define POLICY_EXPLAIN_MAX 512

/* Writes into buf (len bytes, always terminated; POLICY_EXPLAIN_MAX is
 * enough) why `rule` refused `a` what `ask` describes, and what it would
 * be allowed: the classification against its clearance, the topic or
 * pattern against its publish or subscribe patterns (listed, cut with
 * "…(N more)" when they do not fit), the role needed against the roles
 * held. A refused caveat is told by count only ("2 of the message's 3
 * caveats are not held by you"): a publisher that lacks a caveat must not
 * learn its name from the broker. Text a client chose is cut to 80 bytes.
 * Pure, like the rules; the audit record keeps policy_rule_name. */
void policy_explain(enum policy_rule rule, const config_agent_t *a, const struct policy_ask *ask,
                    char *buf, size_t len);

/* Does every release_to entry of l name someone this broker knows of? A
 * type: entry must be an agency type; a region: entry the region of a
 * configured agent or one in known_regions; an agency: entry a configured
 * agent's name, an agency a link agent speaks_for, or one in
 * known_agencies (names held beyond the links, docs/federation.md). 0 if
 * so; else -1 with why naming the first entry that matches nothing. Only
 * for local publishers: what another broker sends was checked there. */
int policy_release_known(const config_t *cfg, const Liaison__Label *l, char *why, size_t whylen);

#endif
