/* test_policy.c — the one rule that decides who may connect, publish,
 * subscribe, make requests and receive (broker/policy.c), table by table:
 * revocation and validity dates, roles, topics and patterns against
 * permissions, every clearance against every classification, caveats,
 * release_to by agency, type and region, expiry, embargo, and when a
 * sanitised notice goes instead. Agents are built by hand as config.c
 * would load them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "policy.h"
#include "util.h"
#include "wire.h"

/* 2026-11-19T14:13:20Z: "now" for every decision here. */
#define NOW  INT64_C(1795097600000000)
#define HOUR INT64_C(3600000000)

#define OFFICIAL  LIAISON__CLASSIFICATION__OFFICIAL
#define OSENS     LIAISON__CLASSIFICATION__OFFICIAL_SENSITIVE
#define SECRET    LIAISON__CLASSIFICATION__SECRET
#define TOPSECRET LIAISON__CLASSIFICATION__TOP_SECRET

/* ---- agents as broker.cfg in docs/design.md describes them ---------------------- */

static char *humber_publish[] = {"alert.yorkshire.humberside-police.>"};
static char *humber_subscribe[] = {"alert.yorkshire.>", "national.>"};
static char *humber_caveats[] = {"PRISON-INTEL", "UK-EYES-ONLY"};

/* A police force: publishes its own alerts, receives regional and national. */
static config_agent_t humberside(void)
{
    config_agent_t a;
    memset(&a, 0, sizeof a);
    a.name = "humberside-police";
    a.agency = "Humberside Police";
    a.type = "police";
    a.region = "yorkshire";
    a.clearance = SECRET;
    a.caveats = humber_caveats;
    a.n_caveats = 2;
    a.roles = ROLE_PUBLISHER | ROLE_RECEIVER;
    a.publish = humber_publish;
    a.n_publish = 1;
    a.subscribe = humber_subscribe;
    a.n_subscribe = 2;
    a.valid_from_us = INT64_MIN; /* unbounded, as config.c sets it */
    a.valid_to_us = INT64_MAX;
    return a;
}

static char *rocu_subscribe[] = {"alert.>"};

/* A regional organised crime unit: receives every alert, holds no caveats. */
static config_agent_t rocu(void)
{
    config_agent_t a;
    memset(&a, 0, sizeof a);
    a.name = "yh-rocu";
    a.agency = "Yorkshire and Humber ROCU";
    a.type = "rocu";
    a.region = "yorkshire";
    a.clearance = OSENS;
    a.roles = ROLE_RECEIVER;
    a.subscribe = rocu_subscribe;
    a.n_subscribe = 1;
    a.valid_from_us = INT64_MIN;
    a.valid_to_us = INT64_MAX;
    return a;
}

static void set_str(char **field, const char *v)
{
    if (*field != NULL && *field != wire_empty())
        free(*field);
    *field = xstrdup(v);
}

static void push_str(char ***arr, size_t *n, const char *v)
{
    *arr = xrealloc(*arr, (*n + 1) * sizeof **arr);
    (*arr)[(*n)++] = xstrdup(v);
}

/* A message on topic at classification, with caveats and release_to given
 * as NULL-terminated lists (either may be NULL). */
static Liaison__Intel *msg(const char *topic, int classification, const char *const *caveats,
                           const char *const *release_to)
{
    Liaison__Intel *m = wire_intel_new();
    set_str(&m->topic, topic);
    m->label->classification = (Liaison__Classification)classification;
    for (size_t i = 0; caveats && caveats[i]; i++)
        push_str(&m->label->caveats, &m->label->n_caveats, caveats[i]);
    for (size_t i = 0; release_to && release_to[i]; i++)
        push_str(&m->label->release_to, &m->label->n_release_to, release_to[i]);
    m->label->handling = release_to ? LIAISON__HANDLING__HANDLING_C : LIAISON__HANDLING__HANDLING_P;
    return m;
}

#define assert_rule(got, want)                                                                     \
    do {                                                                                           \
        enum policy_rule got_ = (got), want_ = (want);                                             \
        if (got_ != want_)                                                                         \
            fail_msg("%s: rule %s, want %s", #got, policy_rule_name(got_),                         \
                     policy_rule_name(want_));                                                     \
    } while (0)

static const char *action_name(enum policy_action a)
{
    switch (a) {
    case POLICY_DELIVER:
        return "deliver";
    case POLICY_NOTICE:
        return "notice";
    case POLICY_WITHHOLD:
        return "withhold";
    case POLICY_DEFER:
        return "defer";
    }
    return "?";
}

#define assert_verdict(v, want_action, want_rule)                                                  \
    do {                                                                                           \
        struct policy_verdict v_ = (v);                                                            \
        if (v_.action != (want_action) || v_.rule != (want_rule))                                  \
            fail_msg("%s: %s/%s, want %s/%s", #v, action_name(v_.action),                          \
                     policy_rule_name(v_.rule), action_name(want_action),                          \
                     policy_rule_name(want_rule));                                                 \
    } while (0)

/* The delivery rule with no notices configured. */
static struct policy_verdict receive(const config_agent_t *a, const char *pattern,
                                     const Liaison__Intel *m)
{
    return policy_receive(NULL, a, pattern, m, NOW);
}

/* ---- the clearest use ------------------------------------------------------- */

static void test_policy_lets_a_force_publish_and_a_rocu_receive_an_alert(void **state)
{
    (void)state;
    config_agent_t police = humberside(), unit = rocu();
    const char *rel[] = {"type:rocu", NULL};
    Liaison__Intel *m = msg("alert.yorkshire.humberside-police.drugs", OSENS, NULL, rel);

    assert_rule(policy_may_publish(&police, m, NOW), POLICY_ALLOW);
    assert_rule(policy_may_subscribe(&unit, "alert.yorkshire.>", 0, 64, NOW), POLICY_ALLOW);
    assert_verdict(receive(&unit, "alert.yorkshire.>", m), POLICY_DELIVER, POLICY_ALLOW);
    /* The force itself is not named in release_to, so it does not get it. */
    assert_verdict(receive(&police, "alert.yorkshire.>", m), POLICY_WITHHOLD, POLICY_RELEASE_TO);
    wire_intel_free(&m);
}

/* ---- connect: configured, not revoked, within dates ---------------------------- */

static void test_policy_refuses_unknown_agent_everything(void **state)
{
    (void)state;
    Liaison__Intel *m = msg("alert.yorkshire.humberside-police.x", OFFICIAL, NULL, NULL);
    assert_rule(policy_may_connect(NULL, NOW), POLICY_NO_AGENT);
    assert_rule(policy_may_publish(NULL, m, NOW), POLICY_NO_AGENT);
    assert_rule(policy_may_subscribe(NULL, "alert.>", 0, 64, NOW), POLICY_NO_AGENT);
    assert_rule(policy_may_request(NULL, ROLE_OPERATOR, NOW), POLICY_NO_AGENT);
    assert_verdict(receive(NULL, "alert.>", m), POLICY_WITHHOLD, POLICY_NO_AGENT);
    wire_intel_free(&m);
}

static void test_policy_refuses_revoked_agent_everything(void **state)
{
    (void)state;
    config_agent_t a = humberside();
    a.roles |= ROLE_OPERATOR;
    a.revoked = 1;
    Liaison__Intel *m = msg("alert.yorkshire.humberside-police.x", OFFICIAL, NULL, NULL);
    assert_rule(policy_may_connect(&a, NOW), POLICY_REVOKED);
    assert_rule(policy_may_publish(&a, m, NOW), POLICY_REVOKED);
    assert_rule(policy_may_subscribe(&a, "alert.yorkshire.>", 0, 64, NOW), POLICY_REVOKED);
    assert_rule(policy_may_request(&a, ROLE_OPERATOR, NOW), POLICY_REVOKED);
    assert_verdict(receive(&a, "alert.yorkshire.>", m), POLICY_WITHHOLD, POLICY_REVOKED);
    a.revoked = 0;
    assert_rule(policy_may_connect(&a, NOW), POLICY_ALLOW);
    wire_intel_free(&m);
}

static void test_policy_refuses_agent_outside_its_dates(void **state)
{
    (void)state;
    const struct {
        int64_t from, to;
        enum policy_rule want;
    } cases[] = {
        {INT64_MIN, INT64_MAX, POLICY_ALLOW},
        {NOW - HOUR, NOW + HOUR, POLICY_ALLOW},
        {NOW, NOW, POLICY_ALLOW}, /* both bounds inclusive */
        {NOW + 1, INT64_MAX, POLICY_NOT_VALID},
        {INT64_MIN, NOW - 1, POLICY_NOT_VALID},
        {NOW + HOUR, NOW + 2 * HOUR, POLICY_NOT_VALID},
        {0, 0, POLICY_NOT_VALID}, /* a zeroed agent is not valid now */
    };
    Liaison__Intel *m = msg("alert.yorkshire.humberside-police.x", OFFICIAL, NULL, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config_agent_t a = humberside();
        a.valid_from_us = cases[i].from;
        a.valid_to_us = cases[i].to;
        assert_rule(policy_may_connect(&a, NOW), cases[i].want);
        assert_rule(policy_may_publish(&a, m, NOW), cases[i].want);
        assert_rule(policy_may_subscribe(&a, "alert.yorkshire.>", 0, 64, NOW), cases[i].want);
        struct policy_verdict v = receive(&a, "alert.yorkshire.>", m);
        if (cases[i].want == POLICY_ALLOW)
            assert_verdict(v, POLICY_DELIVER, POLICY_ALLOW);
        else
            assert_verdict(v, POLICY_WITHHOLD, cases[i].want);
    }
    wire_intel_free(&m);
}

/* ---- publish ---------------------------------------------------------------- */

static void test_policy_refuses_publish_without_publisher_role(void **state)
{
    (void)state;
    const unsigned roles[] = {0, ROLE_RECEIVER, ROLE_OPERATOR, ROLE_AUDITOR,
                              ROLE_RECEIVER | ROLE_OPERATOR | ROLE_AUDITOR};
    Liaison__Intel *m = msg("alert.yorkshire.humberside-police.x", OFFICIAL, NULL, NULL);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        config_agent_t a = humberside();
        a.roles = roles[i];
        assert_rule(policy_may_publish(&a, m, NOW), POLICY_ROLE);
    }
    config_agent_t a = humberside();
    a.roles = ROLE_PUBLISHER;
    assert_rule(policy_may_publish(&a, m, NOW), POLICY_ALLOW);
    wire_intel_free(&m);
}

static void test_policy_refuses_publish_outside_permitted_topics(void **state)
{
    (void)state;
    const struct {
        const char *topic;
        enum policy_rule want;
    } cases[] = {
        {"alert.yorkshire.humberside-police.contraband", POLICY_ALLOW},
        {"alert.yorkshire.humberside-police.a.b.c", POLICY_ALLOW},
        {"alert.yorkshire.humberside-police", POLICY_TOPIC}, /* '>' needs a token */
        {"alert.yorkshire.south-yorkshire-police.x", POLICY_TOPIC},
        {"alert.yorkshire.humberside-policex.x", POLICY_TOPIC},
        {"alert.yorkshire", POLICY_TOPIC},
        {"national.firearms", POLICY_TOPIC}, /* may receive it, not publish it */
        {"alert.humberside-police.x", POLICY_TOPIC},
    };
    config_agent_t a = humberside();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Liaison__Intel *m = msg(cases[i].topic, OFFICIAL, NULL, NULL);
        enum policy_rule got = policy_may_publish(&a, m, NOW);
        if (got != cases[i].want)
            fail_msg("publish to %s: rule %s, want %s", cases[i].topic, policy_rule_name(got),
                     policy_rule_name(cases[i].want));
        wire_intel_free(&m);
    }

    /* No publish permissions at all: nothing may be published. */
    a.n_publish = 0;
    Liaison__Intel *m = msg("alert.yorkshire.humberside-police.x", OFFICIAL, NULL, NULL);
    assert_rule(policy_may_publish(&a, m, NOW), POLICY_TOPIC);
    wire_intel_free(&m);
}

static void test_policy_refuses_publish_above_own_clearance(void **state)
{
    (void)state;
    /* Every clearance against every classification: allowed exactly when
     * the classification is at or below the clearance. */
    for (int clearance = OFFICIAL; clearance <= TOPSECRET; clearance++) {
        for (int cls = OFFICIAL; cls <= TOPSECRET; cls++) {
            config_agent_t a = humberside();
            a.clearance = clearance;
            Liaison__Intel *m = msg("alert.yorkshire.humberside-police.x", cls, NULL, NULL);
            enum policy_rule want = cls <= clearance ? POLICY_ALLOW : POLICY_CLEARANCE;
            enum policy_rule got = policy_may_publish(&a, m, NOW);
            if (got != want)
                fail_msg("publish %d at clearance %d: rule %s, want %s", cls, clearance,
                         policy_rule_name(got), policy_rule_name(want));
            wire_intel_free(&m);
        }
    }
}

static void test_policy_refuses_publish_with_caveat_not_held(void **state)
{
    (void)state;
    const struct {
        const char *caveats[4];
        enum policy_rule want;
    } cases[] = {
        {{NULL}, POLICY_ALLOW},
        {{"PRISON-INTEL", NULL}, POLICY_ALLOW},
        {{"UK-EYES-ONLY", "PRISON-INTEL", NULL}, POLICY_ALLOW},
        {{"OP-NIGHTJAR", NULL}, POLICY_CAVEAT},
        {{"PRISON-INTEL", "OP-NIGHTJAR", NULL}, POLICY_CAVEAT},
        {{"PRISON-INTE", NULL}, POLICY_CAVEAT},
        {{"PRISON-INTELX", NULL}, POLICY_CAVEAT},
    };
    config_agent_t a = humberside();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Liaison__Intel *m =
            msg("alert.yorkshire.humberside-police.x", OFFICIAL, cases[i].caveats, NULL);
        assert_rule(policy_may_publish(&a, m, NOW), cases[i].want);
        wire_intel_free(&m);
    }
    /* An agent holding no caveats may publish only uncaveated messages. */
    a.n_caveats = 0;
    const char *one[] = {"PRISON-INTEL", NULL};
    Liaison__Intel *m = msg("alert.yorkshire.humberside-police.x", OFFICIAL, one, NULL);
    assert_rule(policy_may_publish(&a, m, NOW), POLICY_CAVEAT);
    wire_intel_free(&m);
}

static void test_policy_reports_the_first_failed_publish_rule(void **state)
{
    (void)state;
    /* Wrong role, wrong topic, too high, caveat not held: role first. */
    config_agent_t a = humberside();
    a.clearance = OFFICIAL;
    const char *cav[] = {"OP-NIGHTJAR", NULL};
    Liaison__Intel *m = msg("national.firearms", TOPSECRET, cav, NULL);
    a.roles = ROLE_RECEIVER;
    assert_rule(policy_may_publish(&a, m, NOW), POLICY_ROLE);
    a.roles = ROLE_PUBLISHER;
    assert_rule(policy_may_publish(&a, m, NOW), POLICY_TOPIC);
    set_str(&m->topic, "alert.yorkshire.humberside-police.x");
    assert_rule(policy_may_publish(&a, m, NOW), POLICY_CLEARANCE);
    a.clearance = TOPSECRET;
    assert_rule(policy_may_publish(&a, m, NOW), POLICY_CAVEAT);
    wire_intel_free(&m);
}

static void test_policy_refuses_message_without_label(void **state)
{
    (void)state;
    config_agent_t a = humberside();
    assert_int_not_equal(policy_may_publish(&a, NULL, NOW), POLICY_ALLOW);
    Liaison__Intel *m = msg("alert.yorkshire.humberside-police.x", OFFICIAL, NULL, NULL);
    liaison__label__free_unpacked(m->label, NULL);
    m->label = NULL;
    assert_int_not_equal(policy_may_publish(&a, m, NOW), POLICY_ALLOW);
    assert_int_equal(receive(&a, "alert.>", m).action, POLICY_WITHHOLD);
    assert_int_equal(receive(&a, "alert.>", NULL).action, POLICY_WITHHOLD);
    wire_intel_free(&m);
}

/* ---- subscribe -------------------------------------------------------------- */

static void test_policy_refuses_subscribe_without_receiver_role(void **state)
{
    (void)state;
    const unsigned roles[] = {0, ROLE_PUBLISHER, ROLE_OPERATOR, ROLE_AUDITOR,
                              ROLE_PUBLISHER | ROLE_OPERATOR | ROLE_AUDITOR};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        config_agent_t a = humberside();
        a.roles = roles[i];
        assert_rule(policy_may_subscribe(&a, "alert.yorkshire.>", 0, 64, NOW), POLICY_ROLE);
    }
}

static void test_policy_refuses_subscribe_wider_than_permission(void **state)
{
    (void)state;
    const struct {
        const char *pattern;
        enum policy_rule want;
    } cases[] = {
        {"alert.yorkshire.>", POLICY_ALLOW},
        {"alert.yorkshire.hmp-hull.>", POLICY_ALLOW},
        {"alert.yorkshire.*", POLICY_ALLOW},
        {"alert.yorkshire.*.contraband", POLICY_ALLOW},
        {"alert.yorkshire.hmp-hull.contraband", POLICY_ALLOW},
        {"national.firearms", POLICY_ALLOW},
        {"national.>", POLICY_ALLOW},
        {"national.*", POLICY_ALLOW},
        {"alert.>", POLICY_TOPIC},
        {"alert.*.>", POLICY_TOPIC},
        {"alert.*.hmp-hull.>", POLICY_TOPIC},
        {">", POLICY_TOPIC},
        {"*.>", POLICY_TOPIC},
        {"*.firearms", POLICY_TOPIC},
        {"alert.yorkshire", POLICY_TOPIC},
        {"national", POLICY_TOPIC},
        {"alert.humberside.>", POLICY_TOPIC},
    };
    config_agent_t a = humberside();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum policy_rule got = policy_may_subscribe(&a, cases[i].pattern, 0, 64, NOW);
        if (got != cases[i].want)
            fail_msg("subscribe %s: rule %s, want %s", cases[i].pattern, policy_rule_name(got),
                     policy_rule_name(cases[i].want));
    }
    a.n_subscribe = 0;
    assert_rule(policy_may_subscribe(&a, "alert.yorkshire.>", 0, 64, NOW), POLICY_TOPIC);
}

static void test_policy_refuses_subscribe_over_the_limit(void **state)
{
    (void)state;
    config_agent_t a = humberside();
    assert_rule(policy_may_subscribe(&a, "national.>", 0, 3, NOW), POLICY_ALLOW);
    assert_rule(policy_may_subscribe(&a, "national.>", 2, 3, NOW), POLICY_ALLOW);
    assert_rule(policy_may_subscribe(&a, "national.>", 3, 3, NOW), POLICY_SUB_LIMIT);
    assert_rule(policy_may_subscribe(&a, "national.>", 100, 3, NOW), POLICY_SUB_LIMIT);
    assert_rule(policy_may_subscribe(&a, "national.>", 0, 0, NOW), POLICY_SUB_LIMIT);
    /* A pattern it may not have is refused as such, whatever the count. */
    assert_rule(policy_may_subscribe(&a, "alert.>", 3, 3, NOW), POLICY_TOPIC);
}

/* ---- operator and auditor requests ------------------------------------------- */

static void test_policy_refuses_request_without_its_role(void **state)
{
    (void)state;
    config_agent_t a = humberside();
    assert_rule(policy_may_request(&a, ROLE_OPERATOR, NOW), POLICY_ROLE);
    assert_rule(policy_may_request(&a, ROLE_AUDITOR, NOW), POLICY_ROLE);
    a.roles = ROLE_OPERATOR;
    assert_rule(policy_may_request(&a, ROLE_OPERATOR, NOW), POLICY_ALLOW);
    assert_rule(policy_may_request(&a, ROLE_AUDITOR, NOW), POLICY_ROLE);
    a.roles = ROLE_AUDITOR;
    assert_rule(policy_may_request(&a, ROLE_AUDITOR, NOW), POLICY_ALLOW);
    assert_rule(policy_may_request(&a, ROLE_OPERATOR, NOW), POLICY_ROLE);
}

/* ---- receive ---------------------------------------------------------------- */

static void test_policy_refuses_receive_without_receiver_role(void **state)
{
    (void)state;
    Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.contraband", OFFICIAL, NULL, NULL);
    const unsigned roles[] = {0, ROLE_PUBLISHER, ROLE_OPERATOR, ROLE_AUDITOR};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        config_agent_t a = humberside();
        a.roles = roles[i];
        assert_verdict(receive(&a, "alert.yorkshire.>", m), POLICY_WITHHOLD, POLICY_ROLE);
    }
    wire_intel_free(&m);
}

static void test_policy_refuses_receive_outside_subscription_or_permission(void **state)
{
    (void)state;
    const struct {
        const char *pattern, *topic;
        enum policy_rule want;
    } cases[] = {
        {"alert.yorkshire.>", "alert.yorkshire.hmp-hull.contraband", POLICY_ALLOW},
        {"alert.yorkshire.hmp-hull.>", "alert.yorkshire.hmp-hull.contraband", POLICY_ALLOW},
        {"national.>", "national.firearms", POLICY_ALLOW},
        /* not what the subscription asked for */
        {"alert.yorkshire.hmp-hull.>", "alert.yorkshire.hmp-leeds.contraband", POLICY_TOPIC},
        {"national.>", "alert.yorkshire.hmp-hull.contraband", POLICY_TOPIC},
        {"alert.yorkshire.*", "alert.yorkshire.hmp-hull.contraband", POLICY_TOPIC},
        /* a subscription wider than the permission (made before the
         * permission was narrowed) still only gets what is permitted */
        {"alert.>", "alert.yorkshire.hmp-hull.contraband", POLICY_ALLOW},
        {"alert.>", "alert.humberside.x", POLICY_TOPIC},
        {">", "prison.hmp-hull.x", POLICY_TOPIC},
    };
    config_agent_t a = humberside();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Liaison__Intel *m = msg(cases[i].topic, OFFICIAL, NULL, NULL);
        struct policy_verdict v = receive(&a, cases[i].pattern, m);
        enum policy_action want = cases[i].want == POLICY_ALLOW ? POLICY_DELIVER : POLICY_WITHHOLD;
        if (v.rule != cases[i].want || v.action != want)
            fail_msg("receive %s via %s: %s/%s, want %s", cases[i].topic, cases[i].pattern,
                     action_name(v.action), policy_rule_name(v.rule),
                     policy_rule_name(cases[i].want));
        wire_intel_free(&m);
    }

    /* The permission as configured now applies at once. */
    Liaison__Intel *m = msg("national.firearms", OFFICIAL, NULL, NULL);
    assert_verdict(receive(&a, "national.>", m), POLICY_DELIVER, POLICY_ALLOW);
    a.n_subscribe = 1; /* "national.>" withdrawn */
    assert_verdict(receive(&a, "national.>", m), POLICY_WITHHOLD, POLICY_TOPIC);
    wire_intel_free(&m);
}

static void test_policy_refuses_receive_above_clearance(void **state)
{
    (void)state;
    for (int clearance = OFFICIAL; clearance <= TOPSECRET; clearance++) {
        for (int cls = OFFICIAL; cls <= TOPSECRET; cls++) {
            config_agent_t a = humberside();
            a.clearance = clearance;
            Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.contraband", cls, NULL, NULL);
            struct policy_verdict v = receive(&a, "alert.yorkshire.>", m);
            if (cls <= clearance)
                assert_verdict(v, POLICY_DELIVER, POLICY_ALLOW);
            else
                assert_verdict(v, POLICY_WITHHOLD, POLICY_CLEARANCE);
            wire_intel_free(&m);
        }
    }
}

static void test_policy_refuses_receive_of_unclassified_message(void **state)
{
    (void)state;
    /* Deny by default: a message with no classification is not "below
     * everything", whatever the receiver's clearance. */
    const int bad[] = {LIAISON__CLASSIFICATION__CLASSIFICATION_UNSPECIFIED, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config_agent_t a = humberside();
        a.clearance = TOPSECRET;
        Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.contraband", bad[i], NULL, NULL);
        assert_verdict(receive(&a, "alert.yorkshire.>", m), POLICY_WITHHOLD, POLICY_CLEARANCE);
        wire_intel_free(&m);
    }
}

static void test_policy_refuses_missing_caveat(void **state)
{
    (void)state;
    const struct {
        const char *caveats[4];
        enum policy_rule want;
    } cases[] = {
        {{NULL}, POLICY_ALLOW},
        {{"PRISON-INTEL", NULL}, POLICY_ALLOW},
        {{"PRISON-INTEL", "UK-EYES-ONLY", NULL}, POLICY_ALLOW},
        {{"OP-NIGHTJAR", NULL}, POLICY_CAVEAT},
        {{"UK-EYES-ONLY", "OP-NIGHTJAR", NULL}, POLICY_CAVEAT},
        {{"OP-NIGHTJAR", "UK-EYES-ONLY", NULL}, POLICY_CAVEAT},
        {{"uk-eyes-only", NULL}, POLICY_CAVEAT},
    };
    config_agent_t a = humberside();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.x", OFFICIAL, cases[i].caveats, NULL);
        struct policy_verdict v = receive(&a, "alert.yorkshire.>", m);
        if (cases[i].want == POLICY_ALLOW)
            assert_verdict(v, POLICY_DELIVER, POLICY_ALLOW);
        else
            assert_verdict(v, POLICY_WITHHOLD, POLICY_CAVEAT);
        wire_intel_free(&m);
    }
}

static void test_policy_release_to_names_receiver_by_agency_type_or_region(void **state)
{
    (void)state;
    /* humberside-police: type police, region yorkshire. */
    const struct {
        const char *release_to[4];
        enum policy_rule want;
    } cases[] = {
        {{"agency:humberside-police", NULL}, POLICY_ALLOW},
        {{"type:police", NULL}, POLICY_ALLOW},
        {{"region:yorkshire", NULL}, POLICY_ALLOW},
        {{"type:rocu", "agency:humberside-police", NULL}, POLICY_ALLOW},
        {{"type:rocu", "region:national", "region:yorkshire"}, POLICY_ALLOW},
        {{"agency:south-yorkshire-police", NULL}, POLICY_RELEASE_TO},
        {{"type:rocu", NULL}, POLICY_RELEASE_TO},
        {{"region:national", NULL}, POLICY_RELEASE_TO},
        {{"type:rocu", "type:prison", "agency:hmp-hull"}, POLICY_RELEASE_TO},
        /* exact names only, and each prefix says what it names */
        {{"agency:humberside", NULL}, POLICY_RELEASE_TO},
        {{"agency:humberside-police-x", NULL}, POLICY_RELEASE_TO},
        {{"type:polic", NULL}, POLICY_RELEASE_TO},
        {{"region:yorkshir", NULL}, POLICY_RELEASE_TO},
        {{"type:yorkshire", NULL}, POLICY_RELEASE_TO},
        {{"region:police", NULL}, POLICY_RELEASE_TO},
        {{"type:humberside-police", NULL}, POLICY_RELEASE_TO},
        {{"agency:police", NULL}, POLICY_RELEASE_TO},
    };
    config_agent_t a = humberside();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.x", OFFICIAL, NULL, cases[i].release_to);
        struct policy_verdict v = receive(&a, "alert.yorkshire.>", m);
        if (v.rule != cases[i].want)
            fail_msg("release_to case %zu (%s...): rule %s, want %s", i, cases[i].release_to[0],
                     policy_rule_name(v.rule), policy_rule_name(cases[i].want));
        assert_int_equal(v.action,
                         cases[i].want == POLICY_ALLOW ? POLICY_DELIVER : POLICY_WITHHOLD);
        wire_intel_free(&m);
    }
}

static void test_policy_empty_release_to_means_any_cleared_receiver(void **state)
{
    (void)state;
    config_agent_t police = humberside(), unit = rocu();
    Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.x", OFFICIAL, NULL, NULL);
    assert_int_equal(m->label->n_release_to, 0);
    assert_verdict(receive(&police, "alert.yorkshire.>", m), POLICY_DELIVER, POLICY_ALLOW);
    assert_verdict(receive(&unit, "alert.>", m), POLICY_DELIVER, POLICY_ALLOW);
    wire_intel_free(&m);

    /* Handling C with conditions only: still any cleared receiver. */
    const char *none[] = {NULL};
    m = msg("alert.yorkshire.hmp-hull.x", OFFICIAL, NULL, none);
    assert_int_equal(m->label->handling, LIAISON__HANDLING__HANDLING_C);
    assert_verdict(receive(&unit, "alert.>", m), POLICY_DELIVER, POLICY_ALLOW);
    wire_intel_free(&m);
}

static void test_policy_release_to_binds_whatever_the_handling(void **state)
{
    (void)state;
    config_agent_t unit = rocu();
    const char *rel[] = {"type:police", NULL};
    Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.x", OFFICIAL, NULL, rel);
    m->label->handling = LIAISON__HANDLING__HANDLING_P;
    assert_verdict(receive(&unit, "alert.>", m), POLICY_WITHHOLD, POLICY_RELEASE_TO);
    wire_intel_free(&m);
}

/* ---- expiry and embargo ----------------------------------------------------- */

static void test_policy_withholds_expired_message(void **state)
{
    (void)state;
    const struct {
        const char *expires_at;
        enum policy_action want;
    } cases[] = {
        {"", POLICY_DELIVER},
        {"2026-11-19T14:13:21Z", POLICY_DELIVER},
        {"2026-11-19T14:13:20Z", POLICY_DELIVER}, /* until the moment passes */
        {"2026-11-19T14:13:19.999999Z", POLICY_WITHHOLD},
        {"2026-11-19", POLICY_WITHHOLD}, /* midnight that day */
        {"2026-11-20", POLICY_DELIVER},
        {"2020-01-01T00:00:00Z", POLICY_WITHHOLD},
    };
    config_agent_t a = humberside();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.x", OFFICIAL, NULL, NULL);
        set_str(&m->label->expires_at, cases[i].expires_at);
        struct policy_verdict v = receive(&a, "alert.yorkshire.>", m);
        if (v.action != cases[i].want)
            fail_msg("expires_at \"%s\": %s/%s, want %s", cases[i].expires_at,
                     action_name(v.action), policy_rule_name(v.rule), action_name(cases[i].want));
        if (v.action == POLICY_WITHHOLD)
            assert_rule(v.rule, POLICY_EXPIRED);
        wire_intel_free(&m);
    }
}

static void test_policy_defers_embargoed_message_until_its_time(void **state)
{
    (void)state;
    config_agent_t a = humberside();
    Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.x", OFFICIAL, NULL, NULL);
    set_str(&m->label->embargo_until, "2026-11-19T15:13:20Z");
    struct policy_verdict v = receive(&a, "alert.yorkshire.>", m);
    assert_verdict(v, POLICY_DEFER, POLICY_EMBARGO);
    assert_true(v.until_us == NOW + HOUR);

    /* At and after the embargo it is delivered. */
    v = policy_receive(NULL, &a, "alert.yorkshire.>", m, NOW + HOUR);
    assert_verdict(v, POLICY_DELIVER, POLICY_ALLOW);
    set_str(&m->label->embargo_until, "2026-11-19");
    assert_verdict(receive(&a, "alert.yorkshire.>", m), POLICY_DELIVER, POLICY_ALLOW);

    /* Embargo never lets through what release_to or the topic refuses. */
    set_str(&m->label->embargo_until, "2026-11-20");
    push_str(&m->label->release_to, &m->label->n_release_to, "type:rocu");
    assert_verdict(receive(&a, "alert.yorkshire.>", m), POLICY_WITHHOLD, POLICY_RELEASE_TO);
    assert_verdict(receive(&a, "national.>", m), POLICY_WITHHOLD, POLICY_TOPIC);
    wire_intel_free(&m);
}

static void test_policy_withholds_an_embargoed_message_it_could_never_deliver_at_once(void **state)
{
    (void)state;
    config_agent_t a = humberside(); /* SECRET */
    Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.x", TOPSECRET, NULL, NULL);
    set_str(&m->label->embargo_until, "2099-01-01");
    /* Refused on clearance: withheld now, not held until 2099. */
    assert_verdict(receive(&a, "alert.yorkshire.>", m), POLICY_WITHHOLD, POLICY_CLEARANCE);
    /* Where notices are on, the notice waits for the embargo too. */
    config_t cfg = {0};
    char *topics[] = {"alert.yorkshire.>"};
    cfg.notices = topics;
    cfg.n_notices = 1;
    struct policy_verdict v = policy_receive(&cfg, &a, "alert.yorkshire.>", m, NOW);
    assert_verdict(v, POLICY_DEFER, POLICY_EMBARGO);
    wire_intel_free(&m);
}

static void test_policy_reads_malformed_times_the_restrictive_way(void **state)
{
    (void)state;
    /* label_validate refuses these at publish, so only a damaged store
     * holds them; then the message must not be delivered on their account. */
    config_agent_t a = humberside();
    Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.x", OFFICIAL, NULL, NULL);
    set_str(&m->label->embargo_until, "not a time");
    assert_int_equal(receive(&a, "alert.yorkshire.>", m).action, POLICY_DEFER);
    set_str(&m->label->embargo_until, "");
    set_str(&m->label->expires_at, "not a time");
    struct policy_verdict v = receive(&a, "alert.yorkshire.>", m);
    wire_intel_free(&m);
    if (v.action == POLICY_DELIVER)
        fail_msg("a message with a malformed expires_at was delivered");
}

/* ---- sanitised notices ------------------------------------------------------ */

static char *notice_topics[] = {"alert.yorkshire.>"};

static void test_policy_sends_notice_only_when_refused_on_clearance_or_caveat(void **state)
{
    (void)state;
    config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.notices = notice_topics;
    cfg.n_notices = 1;
    config_agent_t unit = rocu(); /* OFFICIAL-SENSITIVE, no caveats */

    Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.x", SECRET, NULL, NULL);
    struct policy_verdict v = policy_receive(&cfg, &unit, "alert.>", m, NOW);
    assert_verdict(v, POLICY_NOTICE, POLICY_CLEARANCE);
    /* Without notices configured, or for a topic they do not cover: nothing. */
    assert_verdict(policy_receive(NULL, &unit, "alert.>", m, NOW), POLICY_WITHHOLD,
                   POLICY_CLEARANCE);
    set_str(&m->topic, "alert.humberside.hmp-hull.x");
    assert_verdict(policy_receive(&cfg, &unit, "alert.>", m, NOW), POLICY_WITHHOLD,
                   POLICY_CLEARANCE);
    wire_intel_free(&m);

    const char *cav[] = {"PRISON-INTEL", NULL};
    m = msg("alert.yorkshire.hmp-hull.x", OFFICIAL, cav, NULL);
    assert_verdict(policy_receive(&cfg, &unit, "alert.>", m, NOW), POLICY_NOTICE, POLICY_CAVEAT);
    wire_intel_free(&m);

    /* Refused for any other reason: never a notice. */
    const char *rel[] = {"type:police", NULL};
    m = msg("alert.yorkshire.hmp-hull.x", SECRET, NULL, rel);
    assert_verdict(policy_receive(&cfg, &unit, "alert.>", m, NOW), POLICY_WITHHOLD,
                   POLICY_RELEASE_TO);
    wire_intel_free(&m);
    m = msg("alert.yorkshire.hmp-hull.x", SECRET, NULL, NULL);
    set_str(&m->label->expires_at, "2020-01-01");
    assert_verdict(policy_receive(&cfg, &unit, "alert.>", m, NOW), POLICY_WITHHOLD, POLICY_EXPIRED);
    assert_verdict(policy_receive(&cfg, &unit, "national.>", m, NOW), POLICY_WITHHOLD,
                   POLICY_TOPIC);
    unit.roles = ROLE_PUBLISHER;
    assert_verdict(policy_receive(&cfg, &unit, "alert.>", m, NOW), POLICY_WITHHOLD, POLICY_ROLE);
    unit = rocu();
    unit.revoked = 1;
    assert_verdict(policy_receive(&cfg, &unit, "alert.>", m, NOW), POLICY_WITHHOLD, POLICY_REVOKED);
    wire_intel_free(&m);

    /* A cleared receiver gets the message itself. */
    m = msg("alert.yorkshire.hmp-hull.x", OFFICIAL, NULL, NULL);
    unit = rocu();
    assert_verdict(policy_receive(&cfg, &unit, "alert.>", m, NOW), POLICY_DELIVER, POLICY_ALLOW);
    wire_intel_free(&m);
}

static void test_policy_reports_the_first_failed_receive_rule(void **state)
{
    (void)state;
    config_agent_t a = humberside();
    a.clearance = OFFICIAL;
    const char *cav[] = {"OP-NIGHTJAR", NULL}, *rel[] = {"type:rocu", NULL};
    Liaison__Intel *m = msg("alert.yorkshire.hmp-hull.x", SECRET, cav, rel);
    assert_verdict(receive(&a, "national.>", m), POLICY_WITHHOLD, POLICY_TOPIC);
    assert_verdict(receive(&a, "alert.yorkshire.>", m), POLICY_WITHHOLD, POLICY_RELEASE_TO);
    a.type = "rocu";
    assert_verdict(receive(&a, "alert.yorkshire.>", m), POLICY_WITHHOLD, POLICY_CLEARANCE);
    a.clearance = SECRET;
    assert_verdict(receive(&a, "alert.yorkshire.>", m), POLICY_WITHHOLD, POLICY_CAVEAT);
    char *held[] = {"OP-NIGHTJAR"};
    a.caveats = held;
    a.n_caveats = 1;
    assert_verdict(receive(&a, "alert.yorkshire.>", m), POLICY_DELIVER, POLICY_ALLOW);
    wire_intel_free(&m);
}

/* ---- names and codes -------------------------------------------------------- */

static void test_policy_names_rules_and_maps_them_to_wire_codes(void **state)
{
    (void)state;
    const struct {
        enum policy_rule r;
        const char *name;
        Liaison__ErrorCode code;
    } cases[] = {
        {POLICY_ALLOW, "allow", LIAISON__ERROR_CODE__ERROR_NONE},
        {POLICY_NO_AGENT, "agent", LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED},
        {POLICY_REVOKED, "revoked", LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED},
        {POLICY_NOT_VALID, "validity", LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED},
        {POLICY_ROLE, "role", LIAISON__ERROR_CODE__ROLE_MISSING},
        {POLICY_TOPIC, "topic", LIAISON__ERROR_CODE__TOPIC_NOT_PERMITTED},
        {POLICY_CLEARANCE, "clearance", LIAISON__ERROR_CODE__ABOVE_CLEARANCE},
        {POLICY_CAVEAT, "caveat", LIAISON__ERROR_CODE__CAVEAT_NOT_HELD},
        {POLICY_SUB_LIMIT, "subscription_limit", LIAISON__ERROR_CODE__TOO_MANY_SUBSCRIPTIONS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_string_equal(policy_rule_name(cases[i].r), cases[i].name);
        assert_int_equal(policy_rule_error(cases[i].r), cases[i].code);
    }
    assert_string_equal(policy_rule_name(POLICY_RELEASE_TO), "release_to");
    assert_string_equal(policy_rule_name(POLICY_EXPIRED), "expired");
    assert_string_equal(policy_rule_name(POLICY_EMBARGO), "embargo");
    /* Every refusal maps to some error, never to "none". */
    for (int r = POLICY_NO_AGENT; r <= POLICY_SUB_LIMIT; r++) {
        assert_int_not_equal(policy_rule_error((enum policy_rule)r),
                             LIAISON__ERROR_CODE__ERROR_NONE);
        assert_string_not_equal(policy_rule_name((enum policy_rule)r), "unknown");
    }
    assert_string_equal(policy_rule_name((enum policy_rule)100), "unknown");
}

/* ---- explanations: what would be allowed --------------------------------------- */

static void test_policy_explains_clearance_as_classification_against_clearance(void **state)
{
    (void)state;
    config_agent_t a = rocu();
    Liaison__Intel *m = msg("alert.yorkshire.x", SECRET, NULL, NULL);
    struct policy_ask ask = {.role = ROLE_PUBLISHER, .m = m};
    char buf[POLICY_EXPLAIN_MAX];
    policy_explain(POLICY_CLEARANCE, &a, &ask, buf, sizeof buf);
    assert_string_equal(buf, "refused by rule clearance: classification SECRET is above your "
                             "clearance OFFICIAL-SENSITIVE");
    wire_intel_free(&m);
}

static void test_policy_explains_a_topic_against_the_publish_patterns(void **state)
{
    (void)state;
    config_agent_t a = humberside();
    Liaison__Intel *m = msg("alert.lancashire.x", OFFICIAL, NULL, NULL);
    struct policy_ask ask = {.role = ROLE_PUBLISHER, .m = m};
    char buf[POLICY_EXPLAIN_MAX];
    policy_explain(POLICY_TOPIC, &a, &ask, buf, sizeof buf);
    assert_string_equal(buf, "refused by rule topic: topic alert.lancashire.x is not within your "
                             "publish patterns: alert.yorkshire.humberside-police.>");
    a.n_publish = 0;
    policy_explain(POLICY_TOPIC, &a, &ask, buf, sizeof buf);
    assert_non_null(strstr(buf, "publish patterns: (none)"));
    wire_intel_free(&m);
}

static void test_policy_explains_a_pattern_against_the_subscribe_patterns(void **state)
{
    (void)state;
    config_agent_t a = humberside();
    struct policy_ask ask = {.role = ROLE_RECEIVER, .pattern = "alert.>"};
    char buf[POLICY_EXPLAIN_MAX];
    policy_explain(POLICY_TOPIC, &a, &ask, buf, sizeof buf);
    assert_string_equal(buf, "refused by rule topic: pattern alert.> is not within your "
                             "subscribe patterns: alert.yorkshire.>, national.>");
}

static void test_policy_explains_caveats_by_count_never_by_name(void **state)
{
    (void)state;
    config_agent_t a = humberside(); /* holds PRISON-INTEL, UK-EYES-ONLY */
    const char *cav[] = {"PRISON-INTEL", "OP-NIGHTJAR", "OP-KESTREL", NULL};
    Liaison__Intel *m = msg("alert.yorkshire.humberside-police.x", OFFICIAL, cav, NULL);
    struct policy_ask ask = {.role = ROLE_PUBLISHER, .m = m};
    char buf[POLICY_EXPLAIN_MAX];
    policy_explain(POLICY_CAVEAT, &a, &ask, buf, sizeof buf);
    assert_string_equal(buf,
                        "refused by rule caveat: 2 of the message's 3 caveats are not held by you");
    assert_null(strstr(buf, "NIGHTJAR"));
    assert_null(strstr(buf, "KESTREL"));
    assert_null(strstr(buf, "PRISON-INTEL"));
    wire_intel_free(&m);
}

static void test_policy_explains_the_role_needed_and_the_roles_held(void **state)
{
    (void)state;
    config_agent_t a = humberside();
    struct policy_ask ask = {.role = ROLE_OPERATOR};
    char buf[POLICY_EXPLAIN_MAX];
    policy_explain(POLICY_ROLE, &a, &ask, buf, sizeof buf);
    assert_string_equal(
        buf, "refused by rule role: this needs the operator role; you hold publisher, receiver");
    a.roles = 0;
    policy_explain(POLICY_ROLE, &a, &ask, buf, sizeof buf);
    assert_non_null(strstr(buf, "you hold no role"));
}

static void test_policy_explanation_cuts_a_long_list_saying_how_many_more(void **state)
{
    (void)state;
    config_agent_t a = humberside();
    char *many[200];
    char names[200][40];
    for (int i = 0; i < 200; i++) {
        snprintf(names[i], sizeof names[i], "alert.region-%03d.force.>", i);
        many[i] = names[i];
    }
    a.subscribe = many;
    a.n_subscribe = 200;
    struct policy_ask ask = {.role = ROLE_RECEIVER, .pattern = "national.>"};
    char buf[POLICY_EXPLAIN_MAX];
    policy_explain(POLICY_TOPIC, &a, &ask, buf, sizeof buf);
    assert_true(strlen(buf) < sizeof buf);
    assert_non_null(strstr(buf, "alert.region-000.force.>"));
    const char *cut = strstr(buf, "…(");
    assert_non_null(cut);
    unsigned more = 0;
    assert_int_equal(sscanf(cut, "…(%u more)", &more), 1);
    /* Every pattern is either listed or counted. */
    size_t listed = 0;
    for (const char *p = buf; (p = strstr(p, "alert.region-")) != NULL; p++)
        listed++;
    assert_int_equal(listed + more, 200);
    /* A small buffer is never overrun either. */
    char small[16];
    policy_explain(POLICY_TOPIC, &a, &ask, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
}

static char *spoken[] = {"hmp-hull", "Humberside Police"};
static char *far_agencies[] = {"marsoc"};
static char *far_regions[] = {"national"};

static void test_policy_knows_release_to_entries_by_type_region_agency_and_federation(void **state)
{
    (void)state;
    config_agent_t agents[2] = {humberside(), rocu()};
    agents[1].name = "humberside-broker";
    agents[1].type = "broker";
    agents[1].region = "humber";
    agents[1].speaks_for = spoken;
    agents[1].n_speaks_for = 2;
    config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.agents = agents;
    cfg.n_agents = 2;
    char why[256];
    const char *good[] = {"type:rocu",
                          "type:prison",
                          "region:yorkshire",
                          "region:humber",
                          "agency:humberside-police",
                          "agency:hmp-hull",
                          NULL};
    Liaison__Intel *m = msg("alert.x", OFFICIAL, NULL, good);
    assert_int_equal(policy_release_known(&cfg, m->label, why, sizeof why), 0);
    wire_intel_free(&m);
    const char *bad[][2] = {{"type:rocus", "type:rocus"},
                            {"region:national", "region:national"},
                            {"agency:marsoc", "agency:marsoc"}};
    for (size_t i = 0; i < 3; i++) {
        const char *one[] = {"type:rocu", bad[i][0], NULL};
        m = msg("alert.x", OFFICIAL, NULL, one);
        assert_int_equal(policy_release_known(&cfg, m->label, why, sizeof why), -1);
        assert_non_null(strstr(why, bad[i][1]));
        wire_intel_free(&m);
    }
    /* Names held beyond the links, listed in broker.cfg. */
    cfg.known_agencies = far_agencies;
    cfg.n_known_agencies = 1;
    cfg.known_regions = far_regions;
    cfg.n_known_regions = 1;
    const char *far[] = {"region:national", "agency:marsoc", NULL};
    m = msg("alert.x", OFFICIAL, NULL, far);
    assert_int_equal(policy_release_known(&cfg, m->label, why, sizeof why), 0);
    wire_intel_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_lets_a_force_publish_and_a_rocu_receive_an_alert),
        cmocka_unit_test(test_policy_refuses_unknown_agent_everything),
        cmocka_unit_test(test_policy_refuses_revoked_agent_everything),
        cmocka_unit_test(test_policy_refuses_agent_outside_its_dates),
        cmocka_unit_test(test_policy_refuses_publish_without_publisher_role),
        cmocka_unit_test(test_policy_refuses_publish_outside_permitted_topics),
        cmocka_unit_test(test_policy_refuses_publish_above_own_clearance),
        cmocka_unit_test(test_policy_refuses_publish_with_caveat_not_held),
        cmocka_unit_test(test_policy_reports_the_first_failed_publish_rule),
        cmocka_unit_test(test_policy_refuses_message_without_label),
        cmocka_unit_test(test_policy_refuses_subscribe_without_receiver_role),
        cmocka_unit_test(test_policy_refuses_subscribe_wider_than_permission),
        cmocka_unit_test(test_policy_refuses_subscribe_over_the_limit),
        cmocka_unit_test(test_policy_refuses_request_without_its_role),
        cmocka_unit_test(test_policy_refuses_receive_without_receiver_role),
        cmocka_unit_test(test_policy_refuses_receive_outside_subscription_or_permission),
        cmocka_unit_test(test_policy_refuses_receive_above_clearance),
        cmocka_unit_test(test_policy_refuses_receive_of_unclassified_message),
        cmocka_unit_test(test_policy_refuses_missing_caveat),
        cmocka_unit_test(test_policy_release_to_names_receiver_by_agency_type_or_region),
        cmocka_unit_test(test_policy_empty_release_to_means_any_cleared_receiver),
        cmocka_unit_test(test_policy_release_to_binds_whatever_the_handling),
        cmocka_unit_test(test_policy_withholds_expired_message),
        cmocka_unit_test(test_policy_defers_embargoed_message_until_its_time),
        cmocka_unit_test(test_policy_withholds_an_embargoed_message_it_could_never_deliver_at_once),
        cmocka_unit_test(test_policy_reads_malformed_times_the_restrictive_way),
        cmocka_unit_test(test_policy_sends_notice_only_when_refused_on_clearance_or_caveat),
        cmocka_unit_test(test_policy_reports_the_first_failed_receive_rule),
        cmocka_unit_test(test_policy_names_rules_and_maps_them_to_wire_codes),
        cmocka_unit_test(test_policy_explains_clearance_as_classification_against_clearance),
        cmocka_unit_test(test_policy_explains_a_topic_against_the_publish_patterns),
        cmocka_unit_test(test_policy_explains_a_pattern_against_the_subscribe_patterns),
        cmocka_unit_test(test_policy_explains_caveats_by_count_never_by_name),
        cmocka_unit_test(test_policy_explains_the_role_needed_and_the_roles_held),
        cmocka_unit_test(test_policy_explanation_cuts_a_long_list_saying_how_many_more),
        cmocka_unit_test(test_policy_knows_release_to_entries_by_type_region_agency_and_federation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
