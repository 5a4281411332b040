/* policy.c — the one place that decides allow or deny (DESIGN.md "Who may
 * receive what"). Pure functions: no I/O, no state, so the same rule runs at
 * the handshake, at publish, at delivery and again at replay, always with
 * the configuration as it is now.
 * Not responsible for: telling anyone (callers send errors and audit). */
#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "label.h"
#include "topic.h"
#include "util.h"

static const char *rule_names[] = {
    [POLICY_ALLOW] = "allow",
    [POLICY_NO_AGENT] = "agent",
    [POLICY_REVOKED] = "revoked",
    [POLICY_NOT_VALID] = "validity",
    [POLICY_ROLE] = "role",
    [POLICY_TOPIC] = "topic",
    [POLICY_CLEARANCE] = "clearance",
    [POLICY_CAVEAT] = "caveat",
    [POLICY_RELEASE_TO] = "release_to",
    [POLICY_EXPIRED] = "expired",
    [POLICY_EMBARGO] = "embargo",
    [POLICY_SUB_LIMIT] = "subscription_limit",
    [POLICY_ONWARD] = "no_onward_sharing",
};

const char *policy_rule_name(enum policy_rule rule)
{
    if ((unsigned)rule >= UTIL_LEN(rule_names))
        return "unknown";
    return rule_names[rule];
}

Liaison__ErrorCode policy_rule_error(enum policy_rule rule)
{
    switch (rule) {
    case POLICY_ALLOW:
        return LIAISON__ERROR_CODE__ERROR_NONE;
    case POLICY_NO_AGENT:
    case POLICY_REVOKED:
    case POLICY_NOT_VALID:
        return LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED;
    case POLICY_ROLE:
        return LIAISON__ERROR_CODE__ROLE_MISSING;
    case POLICY_TOPIC:
    case POLICY_RELEASE_TO:
    case POLICY_EXPIRED:
    case POLICY_EMBARGO:
        return LIAISON__ERROR_CODE__TOPIC_NOT_PERMITTED;
    case POLICY_CLEARANCE:
        return LIAISON__ERROR_CODE__ABOVE_CLEARANCE;
    case POLICY_CAVEAT:
        return LIAISON__ERROR_CODE__CAVEAT_NOT_HELD;
    case POLICY_SUB_LIMIT:
        return LIAISON__ERROR_CODE__TOO_MANY_SUBSCRIPTIONS;
    case POLICY_ONWARD:
        return LIAISON__ERROR_CODE__TOPIC_NOT_PERMITTED; /* only ever a withheld delivery */
    }
    return LIAISON__ERROR_CODE__INTERNAL;
}

static int holds_caveats(const config_agent_t *a, const Liaison__Label *l)
{
    for (size_t i = 0; i < l->n_caveats; i++) {
        int held = 0;
        for (size_t j = 0; j < a->n_caveats && !held; j++)
            held = strcmp(l->caveats[i], a->caveats[j]) == 0;
        if (!held)
            return 0;
    }
    return 1;
}

/* A non-empty release_to names who may receive, by agency (the agent's
 * configured name), agency type or region; empty means any cleared
 * receiver. It binds whatever the handling code: the originator restricted
 * it, so the broker honours it. */
static int released_to(const config_agent_t *a, const Liaison__Label *l)
{
    if (l->n_release_to == 0)
        return 1;
    for (size_t i = 0; i < l->n_release_to; i++) {
        const char *r = l->release_to[i];
        if ((strncmp(r, "agency:", 7) == 0 && strcmp(r + 7, a->name) == 0) ||
            (strncmp(r, "type:", 5) == 0 && strcmp(r + 5, a->type) == 0) ||
            (strncmp(r, "region:", 7) == 0 && strcmp(r + 7, a->region) == 0))
            return 1;
    }
    return 0;
}

/* An agent of type broker is another broker's link (an uplink seen from
 * below, or a downstream broker seen from above): what crosses it is for
 * whoever is beyond it. */
static int is_link(const config_agent_t *a)
{
    return a->type && strcmp(a->type, "broker") == 0;
}

/* Release to someone beyond this broker: a release_to that names only
 * agents of this broker (agency:NAME of a local agent) stays here; a type
 * or region, or an agency this broker does not hold, may be beyond it, and
 * the broker there applies its own rule again. */
static int released_beyond(const config_t *cfg, const Liaison__Label *l)
{
    if (l->n_release_to == 0)
        return 1;
    for (size_t i = 0; i < l->n_release_to; i++) {
        const char *r = l->release_to[i];
        if (strncmp(r, "agency:", 7) != 0)
            return 1;
        const config_agent_t *local = cfg ? config_agent_by_name(cfg, r + 7) : NULL;
        if (local == NULL || is_link(local))
            return 1;
    }
    return 0;
}

/* A label time: 0 when unset (*t untouched), else 1 with *t in
 * microseconds. A malformed one (refused at publish, so only possible in a
 * damaged store) takes the most restrictive reading, if_bad: already
 * expired, embargoed for ever. */
static int label_time(const char *s, int64_t if_bad, int64_t *t)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    if (util_parse_time(s, t) != 0)
        *t = if_bad;
    return 1;
}

enum policy_rule policy_may_connect(const config_agent_t *a, int64_t now_us)
{
    if (a == NULL)
        return POLICY_NO_AGENT;
    if (a->revoked)
        return POLICY_REVOKED;
    if (now_us < a->valid_from_us || now_us > a->valid_to_us)
        return POLICY_NOT_VALID;
    return POLICY_ALLOW;
}

enum policy_rule policy_may_publish(const config_agent_t *a, const Liaison__Intel *m,
                                    int64_t now_us)
{
    enum policy_rule r = policy_may_connect(a, now_us);
    if (r != POLICY_ALLOW)
        return r;
    if (!(a->roles & ROLE_PUBLISHER))
        return POLICY_ROLE;
    if (m == NULL || m->label == NULL || m->topic == NULL)
        return POLICY_TOPIC;
    if (!topic_match_any(a->publish, a->n_publish, m->topic))
        return POLICY_TOPIC;
    if ((int)m->label->classification > a->clearance)
        return POLICY_CLEARANCE;
    if (!holds_caveats(a, m->label))
        return POLICY_CAVEAT;
    return POLICY_ALLOW;
}

enum policy_rule policy_may_subscribe(const config_agent_t *a, const char *pattern, size_t n_subs,
                                      size_t max_subs, int64_t now_us)
{
    enum policy_rule r = policy_may_connect(a, now_us);
    if (r != POLICY_ALLOW)
        return r;
    if (!(a->roles & ROLE_RECEIVER))
        return POLICY_ROLE;
    int within = 0;
    for (size_t i = 0; i < a->n_subscribe && !within; i++)
        within = topic_pattern_within(pattern, a->subscribe[i]);
    if (!within)
        return POLICY_TOPIC;
    if (n_subs >= max_subs)
        return POLICY_SUB_LIMIT;
    return POLICY_ALLOW;
}

enum policy_rule policy_may_request(const config_agent_t *a, unsigned role, int64_t now_us)
{
    enum policy_rule r = policy_may_connect(a, now_us);
    if (r != POLICY_ALLOW)
        return r;
    return (a->roles & role) ? POLICY_ALLOW : POLICY_ROLE;
}

static struct policy_verdict verdict(enum policy_action action, enum policy_rule rule)
{
    struct policy_verdict v = {action, rule, 0};
    return v;
}

/* The delivery rule for an agent acting in role (receiving, or asking a
 * subject query). */
static struct policy_verdict receive_as(const config_t *cfg, const config_agent_t *a, unsigned role,
                                        const char *pattern, const Liaison__Intel *m,
                                        int64_t now_us)
{
    enum policy_rule r = policy_may_connect(a, now_us);
    if (r != POLICY_ALLOW)
        return verdict(POLICY_WITHHOLD, r);
    if (!(a->roles & role))
        return verdict(POLICY_WITHHOLD, POLICY_ROLE);
    if (m == NULL || m->label == NULL || m->topic == NULL)
        return verdict(POLICY_WITHHOLD, POLICY_TOPIC);
    /* Checked against the permissions as configured now, not as they were
     * at subscribe time, so a narrowed permission applies at once. */
    if (!topic_match(pattern, m->topic) || !topic_match_any(a->subscribe, a->n_subscribe, m->topic))
        return verdict(POLICY_WITHHOLD, POLICY_TOPIC);
    const Liaison__Label *l = m->label;
    int64_t expires, embargo;
    if (label_time(l->expires_at, INT64_MIN, &expires) && now_us > expires)
        return verdict(POLICY_WITHHOLD, POLICY_EXPIRED);
    if (is_link(a)) {
        if (l->no_onward_sharing)
            return verdict(POLICY_WITHHOLD, POLICY_ONWARD);
        if (!released_beyond(cfg, l))
            return verdict(POLICY_WITHHOLD, POLICY_RELEASE_TO);
    } else if (!released_to(a, l)) {
        return verdict(POLICY_WITHHOLD, POLICY_RELEASE_TO);
    }
    struct policy_verdict v = verdict(POLICY_DELIVER, POLICY_ALLOW);
    if ((int)l->classification > a->clearance ||
        (int)l->classification < LIAISON__CLASSIFICATION__OFFICIAL)
        r = POLICY_CLEARANCE;
    else if (!holds_caveats(a, l))
        r = POLICY_CAVEAT;
    if (r != POLICY_ALLOW) {
        /* Refused only on clearance or caveats: where the operator enabled
         * notices for this topic, the unit learns that something exists
         * and whom to ask, never what it says. */
        if (!(cfg && topic_match_any(cfg->notices, cfg->n_notices, m->topic)) || is_link(a))
            return verdict(POLICY_WITHHOLD, r); /* a link never carries a notice */
        v = verdict(POLICY_NOTICE, r);
    }
    /* The embargo is decided last, so only a message (or notice) the
     * receiver will get waits for it; one it could never see is withheld
     * now and holds nothing up. A notice waits too: it discloses that the
     * message exists. */
    if (label_time(l->embargo_until, INT64_MAX, &embargo) && now_us < embargo) {
        v.action = POLICY_DEFER;
        v.rule = POLICY_EMBARGO;
        v.until_us = embargo;
    }
    return v;
}

struct policy_verdict policy_receive(const config_t *cfg, const config_agent_t *a,
                                     const char *pattern, const Liaison__Intel *m, int64_t now_us)
{
    return receive_as(cfg, a, ROLE_RECEIVER, pattern, m, now_us);
}

struct policy_verdict policy_consult(const config_t *cfg, const config_agent_t *a,
                                     const char *pattern, const Liaison__Intel *m, int64_t now_us)
{
    return receive_as(cfg, a, ROLE_QUERY, pattern, m, now_us);
}

/* ---- saying why ------------------------------------------------------------------- */

/* A bounded text: appends stop at the end of the buffer, never past it. */
struct text {
    char *p;
    size_t len, used;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
    if (t->used + 1 >= t->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->used, t->len - t->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->used += (size_t)n < t->len - t->used ? (size_t)n : t->len - t->used - 1;
}

/* "a, b, c" of list, as many as fit while leaving room for the tail
 * "…(N more)", which says how many were left out. */
static void put_list(struct text *t, char *const *list, size_t n, const char *none)
{
    if (n == 0) {
        put(t, "%s", none);
        return;
    }
    const size_t tail = 24; /* ", …(NNNN more)" and the terminator */
    for (size_t i = 0; i < n; i++) {
        size_t need = strlen(list[i]) + 2;
        if (t->used + need + (i + 1 < n ? tail : 1) > t->len) {
            put(t, "%s…(%zu more)", i ? ", " : "", n - i);
            return;
        }
        put(t, "%s%s", i ? ", " : "", list[i]);
    }
}

const char *policy_role_name(unsigned role)
{
    switch (role) {
    case ROLE_PUBLISHER:
        return "publisher";
    case ROLE_RECEIVER:
        return "receiver";
    case ROLE_OPERATOR:
        return "operator";
    case ROLE_AUDITOR:
        return "auditor";
    case ROLE_QUERY:
        return "query";
    }
    return "another";
}

static void put_roles(struct text *t, unsigned roles)
{
    const unsigned all[] = {ROLE_PUBLISHER, ROLE_RECEIVER, ROLE_OPERATOR, ROLE_AUDITOR, ROLE_QUERY};
    int any = 0;
    for (size_t i = 0; i < UTIL_LEN(all); i++)
        if (roles & all[i]) {
            put(t, "%s%s", any ? ", " : "", policy_role_name(all[i]));
            any = 1;
        }
    if (!any)
        put(t, "no role");
}

static size_t caveats_not_held(const config_agent_t *a, const Liaison__Label *l)
{
    size_t missing = 0;
    for (size_t i = 0; i < l->n_caveats; i++) {
        int held = 0;
        for (size_t j = 0; j < a->n_caveats && !held; j++)
            held = strcmp(l->caveats[i], a->caveats[j]) == 0;
        missing += !held;
    }
    return missing;
}

void policy_explain(enum policy_rule rule, const config_agent_t *a, const struct policy_ask *ask,
                    char *buf, size_t len)
{
    struct text t = {buf, len, 0};
    if (len == 0)
        return;
    buf[0] = '\0';
    const Liaison__Intel *m = ask ? ask->m : NULL;
    const char *pattern = ask ? ask->pattern : NULL;
    put(&t, "refused by rule %s", policy_rule_name(rule));
    if (a == NULL)
        return;
    switch (rule) {
    case POLICY_CLEARANCE:
        if (m && m->label)
            put(&t, ": classification %s is above your clearance %s",
                label_classification_name((int)m->label->classification),
                label_classification_name(a->clearance));
        break;
    case POLICY_TOPIC:
        if (m && m->topic) {
            put(&t, ": topic %.80s is not within your publish patterns: ", m->topic);
            put_list(&t, a->publish, a->n_publish, "(none)");
        } else if (pattern) {
            put(&t, ": pattern %.80s is not within your subscribe patterns: ", pattern);
            put_list(&t, a->subscribe, a->n_subscribe, "(none)");
        }
        break;
    case POLICY_CAVEAT:
        /* By count, never by name: the names are what the caveat guards. */
        if (m && m->label)
            put(&t, ": %zu of the message's %zu caveats %s not held by you",
                caveats_not_held(a, m->label), m->label->n_caveats,
                caveats_not_held(a, m->label) == 1 ? "is" : "are");
        break;
    case POLICY_ROLE:
        put(&t, ": this needs the %s role; you hold ", policy_role_name(ask ? ask->role : 0));
        put_roles(&t, a->roles);
        break;
    case POLICY_REVOKED:
        put(&t, ": this agent is revoked in the broker's configuration");
        break;
    case POLICY_NOT_VALID:
        put(&t, ": this agent is valid from %s to %s",
            a->valid_from && a->valid_from[0] ? a->valid_from : "(no bound)",
            a->valid_to && a->valid_to[0] ? a->valid_to : "(no bound)");
        break;
    case POLICY_SUB_LIMIT:
        put(&t, ": this agent holds the most subscriptions allowed (max_subs_per_agent)");
        break;
    default:
        break;
    }
}

static int in_list(char *const *list, size_t n, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], v) == 0)
            return 1;
    return 0;
}

/* Someone this broker knows under the agency: or region: name v. */
static int agency_known(const config_t *cfg, const char *v)
{
    for (size_t i = 0; i < cfg->n_agents; i++) {
        const config_agent_t *a = &cfg->agents[i];
        if (strcmp(a->name, v) == 0 || (is_link(a) && in_list(a->speaks_for, a->n_speaks_for, v)))
            return 1;
    }
    return in_list(cfg->known_agencies, cfg->n_known_agencies, v);
}

static int region_known(const config_t *cfg, const char *v)
{
    for (size_t i = 0; i < cfg->n_agents; i++)
        if (strcmp(cfg->agents[i].region, v) == 0)
            return 1;
    return in_list(cfg->known_regions, cfg->n_known_regions, v);
}

int policy_release_known(const config_t *cfg, const Liaison__Label *l, char *why, size_t whylen)
{
    for (size_t i = 0; l && i < l->n_release_to; i++) {
        const char *r = l->release_to[i];
        const char *what = NULL;
        if (strncmp(r, "type:", 5) == 0 && !config_type_known(r + 5))
            what = "is not an agency type (police, rocu, marsoc, prison, probation, nca, broker)";
        else if (strncmp(r, "region:", 7) == 0 && !region_known(cfg, r + 7))
            what = "is not the region of any agent this broker knows, nor in known_regions";
        else if (strncmp(r, "agency:", 7) == 0 && !agency_known(cfg, r + 7))
            what = "is not an agent of this broker, spoken for by a link, nor in known_agencies";
        if (what) {
            /* The entry passed label_validate: a lower-case word, no quoting needed. */
            snprintf(why, whylen, "release_to entry %.64s %s: it would be withheld from everyone",
                     r, what);
            return -1;
        }
    }
    return 0;
}
