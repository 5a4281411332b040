/* config.c — broker.cfg: the table of broker keys and of agent keys, the
 * checks on each value (key files, names, classifications, roles, patterns),
 * the checks across agents (unique names and keys, separation of duties),
 * lookups by key and name, and --print-config.
 * Not responsible for: reading libconfig (common/cfg.c does, and only it),
 * deciding who may receive what (policy.c), or applying a reload (the loop
 * loads a fresh config_t and swaps it in). */
#include "config.h"

#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include "cfg.h"
#include "keys.h"
#include "label.h"
#include "log.h"
#include "subject.h"
#include "topic.h"
#include "util.h"

#define NAME_MAX_LEN 64 /* agent names travel as the ZAP User-Id and in every audit record */

/* What the row checks need besides the struct they fill. */
struct load_ctx {
    config_t *cfg;
    char base_dir[4096];
};

static const char *const agency_types[] = {"police",    "rocu", "marsoc", "prison",
                                           "probation", "nca",  "broker"};

static const struct {
    const char *name;
    unsigned bit;
} role_names[] = {
    {"publisher", ROLE_PUBLISHER}, {"receiver", ROLE_RECEIVER}, {"operator", ROLE_OPERATOR},
    {"auditor", ROLE_AUDITOR},     {"query", ROLE_QUERY},
};

/* [a-z0-9-]+ of at most NAME_MAX_LEN bytes. */
static int word_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return -1;
    return 0;
}

/* ---- broker group ------------------------------------------------------- */

static int check_listen(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    return util_endpoint_valid(v, 1, why, whylen);
}

/* An uplink's broker is connected to: it needs a real port. */
static int check_connect(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    return util_endpoint_valid(v, 0, why, whylen);
}

static int check_broker_name(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (v[0] == '\0' || word_valid(v) == 0) /* "": named after its key, at load */
        return 0;
    snprintf(why, whylen, "\"%s\" is not a name of [a-z0-9-]", v);
    return -1;
}

static int check_secret_key(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    config_t *cfg = obj;
    struct load_ctx *lc = ctx;
    if (keys_read_secret(v, lc->base_dir, cfg->secret_key, why, whylen) != 0)
        return -1;
    if (keys_public_from_secret(cfg->secret_key, cfg->public_key) != 0) {
        snprintf(why, whylen, "cannot derive the public key from \"%s\"", v);
        return -1;
    }
    return 0;
}

/* --print-config must not print a secret. */
static void print_metrics_token(FILE *out, const void *obj, const void *ctx)
{
    const config_t *cfg = obj;
    (void)ctx;
    cfg_print_string(out, cfg->metrics_token[0] ? "(set, not shown)" : "");
}

static int check_log_level(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (log_level_parse(v) >= 0)
        return 0;
    snprintf(why, whylen, "unknown level \"%s\" (debug, info, warn, error)", v);
    return -1;
}

static int check_audit_key(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    config_t *cfg = obj;
    struct load_ctx *lc = ctx;
    if (v[0] == '\0')
        return 0;
    return keys_read_secret(v, lc->base_dir, cfg->audit_seed, why, whylen);
}

static int check_subject_key(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    config_t *cfg = obj;
    struct load_ctx *lc = ctx;
    char path[4096];
    cfg->has_subject_key = 0;
    if (v[0] == '\0')
        return 0;
    if (util_path_join(path, sizeof path, lc->base_dir, v) != 0) {
        snprintf(why, whylen, "path too long");
        return -1;
    }
    if (subject_key_load(path, cfg->subject_key, why, whylen) != 0)
        return -1;
    cfg->has_subject_key = 1;
    return 0;
}

static int check_notice_pattern(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (topic_pattern_valid(v, 1024) == 0)
        return 0;
    snprintf(why, whylen, "\"%s\" is not a topic pattern", v);
    return -1;
}

/* known_agencies and known_regions: names beyond this broker's links that
 * a release_to may give (policy_release_known). */
int config_type_known(const char *type)
{
    for (size_t i = 0; i < UTIL_LEN(agency_types); i++)
        if (strcmp(type, agency_types[i]) == 0)
            return 1;
    return 0;
}

static int check_known_name(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (word_valid(v) == 0)
        return 0;
    snprintf(why, whylen, "\"%s\" is not a name of [a-z0-9-], at most %d characters", v,
             NAME_MAX_LEN);
    return -1;
}

/* CFG_RELOADABLE marks what the loop reads from the live config_t, so a
 * SIGHUP applies it; the rest are bound at start-up (the socket, the store,
 * the metrics listener, the log level). */
static const cfg_key_t broker_rows[] = {
    {.name = "name",
     .type = CFG_STRING,
     .offset = offsetof(config_t, name),
     .def = "",
     .check = check_broker_name,
     .help = "this broker's name in the route of what it stores and forwards ([a-z0-9-]; "
             "unique among federated brokers); unset, broker- and a hash of its key"},
    {.name = "listen",
     .type = CFG_STRING,
     .offset = offsetof(config_t, listen),
     .def = "tcp://127.0.0.1:7400",
     .check = check_listen,
     .help = "ZeroMQ endpoint the ROUTER binds"},
    {.name = "secret_key",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED,
     .offset = CFG_NOFIELD,
     .check = check_secret_key,
     .help = "file with the broker's Z85 secret key"},
    {.name = "data_dir",
     .type = CFG_STRING,
     .offset = offsetof(config_t, data_dir),
     .def = "data/broker",
     .help = "LMDB directory, relative to the config file"},
    {.name = "map_size_mb",
     .type = CFG_UINT,
     .offset = offsetof(config_t, map_size_mb),
     .def_uint = 1024,
     .min = 1,
     .max = 1048576,
     .help = "LMDB map size"},
    {.name = "expect_store",
     .type = CFG_BOOL,
     .offset = offsetof(config_t, expect_store),
     .def_uint = 0,
     .help = "refuse to start on a data_dir without a store (set after the first start)"},
    {.name = "adopt_store",
     .type = CFG_BOOL,
     .offset = offsetof(config_t, adopt_store),
     .def_uint = 0,
     .help = "take over a store made under another broker key (after a key rotation)"},
    {.name = "metrics",
     .type = CFG_STRING,
     .offset = offsetof(config_t, metrics),
     .def = "127.0.0.1:9740",
     .check = cfg_check_http_listen,
     .help = "Prometheus endpoint host:port, \"\" disables"},
    {.name = "metrics_token",
     .type = CFG_STRING,
     .offset = offsetof(config_t, metrics_token),
     .def = "",
     .check = cfg_check_http_token,
     .print = print_metrics_token,
     .help = "bearer token the metrics endpoint requires, \"\" = none"},
    {.name = "max_frame_bytes",
     .type = CFG_UINT,
     .offset = offsetof(config_t, max_frame_bytes),
     .def_uint = 1u << 20,
     .min = 1024,
     .max = 64u << 20,
     .help = "largest frame accepted"},
    {.name = "max_topic_len",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, max_topic_len),
     .def_uint = 255,
     .min = 16,
     .max = 1024,
     .help = "longest topic or pattern"},
    {.name = "max_subs_per_agent",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, max_subs_per_agent),
     .def_uint = 64,
     .min = 1,
     .max = 10000,
     .help = "subscriptions one agent may hold, over all its connections"},
    {.name = "max_sessions_per_agent",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, max_sessions_per_agent),
     .def_uint = 16,
     .min = 1,
     .max = 1000,
     .help = "connections one agent may hold at once"},
    {.name = "max_replays_per_minute",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, max_replays_per_minute),
     .def_uint = 60,
     .min = 1,
     .max = 100000,
     .help = "replays one agent may start in a minute"},
    {.name = "max_views_per_minute",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, max_views_per_minute),
     .def_uint = 120,
     .min = 1,
     .max = 100000,
     .help = "operator views (status, dead letters) one agent may ask for in a minute"},
    {.name = "credit_window",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, credit_window),
     .def_uint = 256,
     .min = 1,
     .max = 100000,
     .help = "default deliveries in flight per subscription"},
    {.name = "heartbeat_ms",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, heartbeat_ms),
     .def_uint = 5000,
     .min = 100,
     .max = 600000,
     .help = "heartbeat interval"},
    {.name = "ack_timeout_ms",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, ack_timeout_ms),
     .def_uint = 30000,
     .min = 100,
     .max = 86400000,
     .help = "redeliver an unacked message after this (times the attempt)"},
    {.name = "max_deliver",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, max_deliver),
     .def_uint = 5,
     .min = 1,
     .max = 1000,
     .help = "deliveries of one message before it is dead-lettered"},
    {.name = "dedup_window_s",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, dedup_window_s),
     .def_uint = 604800,
     .min = 0,
     .max = 31536000,
     .help = "a repeated (origin, msg_id) within this is a duplicate"},
    {.name = "notices",
     .type = CFG_STRLIST,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, notices),
     .count_offset = offsetof(config_t, n_notices),
     .check = check_notice_pattern,
     .help = "topic patterns where a receiver refused on clearance or caveats gets a notice"},
    {.name = "subject_key",
     .type = CFG_STRING,
     .offset = offsetof(config_t, subject_key_file),
     .def = "",
     .check = check_subject_key,
     .help = "key file of the blind subject index (liaisonctl keygen NAME --subject-key); \"\" = "
             "no index: subject queries and watchlists are off"},
    {.name = "notify_on_hit",
     .type = CFG_STRLIST,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, notify_on_hit),
     .count_offset = offsetof(config_t, n_notify_on_hit),
     .check = check_notice_pattern,
     .help = "topic patterns where a subject query that finds a message tells its originator"},
    {.name = "known_agencies",
     .type = CFG_STRLIST,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, known_agencies),
     .count_offset = offsetof(config_t, n_known_agencies),
     .check = check_known_name,
     .help = "agent names served beyond this broker's links that a release_to agency: entry may "
             "name"},
    {.name = "known_regions",
     .type = CFG_STRLIST,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, known_regions),
     .count_offset = offsetof(config_t, n_known_regions),
     .check = check_known_name,
     .help = "regions served beyond this broker's links that a release_to region: entry may "
             "name"},
    {.name = "max_queries_per_minute",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, max_queries_per_minute),
     .def_uint = 30,
     .min = 1,
     .max = 100000,
     .help = "subject queries one agent may ask in a minute (fishing is bounded)"},
    {.name = "max_query_subjects",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, max_query_subjects),
     .def_uint = 16,
     .min = 1,
     .max = 64,
     .help = "subjects one query may name"},
    {.name = "audit_key",
     .type = CFG_STRING,
     .offset = offsetof(config_t, audit_key),
     .def = "",
     .check = check_audit_key,
     .help = "Ed25519 seed file that signs audit checkpoints; \"\" = unsigned"},
    {.name = "audit_checkpoint_records",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, audit_checkpoint_records),
     .def_uint = 1000,
     .min = 1,
     .max = 10000000,
     .help = "sign the audit head after this many records"},
    {.name = "audit_checkpoint_s",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, audit_checkpoint_s),
     .def_uint = 300,
     .min = 1,
     .max = 86400,
     .help = "or after this many seconds with new records"},
    {.name = "purge_after_review",
     .type = CFG_BOOL,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, purge_after_review),
     .def_uint = 1,
     .help = "erase messages whose review_at date has passed"},
    {.name = "retention_interval_s",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_t, retention_interval_s),
     .def_uint = 60,
     .min = 1,
     .max = 86400,
     .help = "how often a bounded retention pass runs"},
    {.name = "log_level",
     .type = CFG_STRING,
     .offset = offsetof(config_t, log_level),
     .def = "info",
     .check = check_log_level,
     .help = "debug, info, warn, error"},
};

/* ---- agents ------------------------------------------------------------- */

static int check_agent_name(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (word_valid(v) == 0)
        return 0;
    snprintf(why, whylen, "\"%s\" is not a name of [a-z0-9-], at most %d characters", v,
             NAME_MAX_LEN);
    return -1;
}

static int check_agency(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (v[0] != '\0' && strlen(v) <= LABEL_MAX_TEXT)
        return 0;
    snprintf(why, whylen, "must be a display name, 1 to %d characters", LABEL_MAX_TEXT);
    return -1;
}

static int check_type(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    for (size_t i = 0; i < UTIL_LEN(agency_types); i++)
        if (strcmp(v, agency_types[i]) == 0)
            return 0;
    snprintf(why, whylen,
             "unknown agency type \"%s\" (police, rocu, marsoc, prison, probation, nca, broker)",
             v);
    return -1;
}

static int check_region(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (word_valid(v) == 0)
        return 0;
    snprintf(why, whylen, "\"%s\" is not a lower-case word of [a-z0-9-]", v);
    return -1;
}

static int check_public_key(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    config_agent_t *a = obj;
    struct load_ctx *lc = ctx;
    return keys_read_public(v, lc->base_dir, a->public_key, why, whylen);
}

static void print_public_key(FILE *out, const void *obj, const void *ctx)
{
    const config_agent_t *a = obj;
    char z85[41];
    (void)ctx;
    keys_z85(a->public_key, z85);
    cfg_print_string(out, z85);
}

static int check_clearance(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    config_agent_t *a = obj;
    (void)ctx;
    int c = label_classification_parse(v);
    if (c > 0) {
        a->clearance = c;
        return 0;
    }
    snprintf(why, whylen,
             "unknown classification \"%s\" (OFFICIAL, OFFICIAL-SENSITIVE, SECRET, TOP-SECRET)", v);
    return -1;
}

static void print_clearance(FILE *out, const void *obj, const void *ctx)
{
    const config_agent_t *a = obj;
    (void)ctx;
    cfg_print_string(out, label_classification_name(a->clearance));
}

static int check_caveat(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (label_caveat_valid(v) == 0)
        return 0;
    snprintf(why, whylen, "\"%s\" is not a caveat (an upper-case word, e.g. UK-EYES-ONLY)", v);
    return -1;
}

static int check_role(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    config_agent_t *a = obj;
    (void)ctx;
    for (size_t i = 0; i < UTIL_LEN(role_names); i++) {
        if (strcmp(v, role_names[i].name) == 0) {
            a->roles |= role_names[i].bit;
            return 0;
        }
    }
    snprintf(why, whylen, "unknown role \"%s\" (publisher, receiver, operator, auditor, query)", v);
    return -1;
}

static void print_roles(FILE *out, const void *obj, const void *ctx)
{
    const config_agent_t *a = obj;
    const char *names[UTIL_LEN(role_names)];
    size_t n = 0;
    (void)ctx;
    for (size_t i = 0; i < UTIL_LEN(role_names); i++)
        if (a->roles & role_names[i].bit)
            names[n++] = role_names[i].name;
    cfg_print_strlist(out, names, n);
}

static int check_pattern(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    struct load_ctx *lc = ctx;
    (void)obj;
    if (topic_pattern_valid(v, lc->cfg->max_topic_len) == 0)
        return 0;
    snprintf(why, whylen,
             "\"%s\" is not a topic pattern (dot-separated [a-z0-9_-] tokens, '*', a final "
             "'>', at most %u bytes)",
             v, lc->cfg->max_topic_len);
    return -1;
}

static int check_date(const char *v, int64_t *out, int64_t none, char *why, size_t whylen)
{
    if (v[0] == '\0') {
        *out = none;
        return 0;
    }
    if (util_parse_time(v, out) == 0)
        return 0;
    snprintf(why, whylen, "\"%s\" is not a date (YYYY-MM-DD or RFC 3339 UTC)", v);
    return -1;
}

static int check_valid_from(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)ctx;
    return check_date(v, &((config_agent_t *)obj)->valid_from_us, INT64_MIN, why, whylen);
}

static int check_valid_to(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)ctx;
    config_agent_t *a = obj;
    if (check_date(v, &a->valid_to_us, INT64_MAX, why, whylen) != 0)
        return -1;
    /* A bare date is valid through the end of that day. */
    if (v[0] && strlen(v) == 10)
        a->valid_to_us += 86400LL * 1000000 - 1;
    return 0;
}

/* Every agent key may change on SIGHUP: that is how access is granted and
 * withdrawn without a restart. */
static const cfg_key_t agent_rows[] = {
    {.name = "name",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED | CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, name),
     .check = check_agent_name,
     .help = "[a-z0-9-], unique; the CURVE User-Id"},
    {.name = "agency",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED | CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, agency),
     .check = check_agency,
     .help = "display name stamped on what it publishes"},
    {.name = "type",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED | CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, type),
     .check = check_type,
     .help = "police, rocu, marsoc, prison, probation, nca"},
    {.name = "region",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED | CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, region),
     .check = check_region,
     .help = "lower-case word, e.g. yorkshire, national"},
    {.name = "public_key",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED | CFG_RELOADABLE,
     .offset = CFG_NOFIELD,
     .check = check_public_key,
     .print = print_public_key,
     .help = "path to a .pub file, or 40 Z85 characters inline"},
    {.name = "clearance",
     .type = CFG_STRING,
     .flags = CFG_RELOADABLE,
     .offset = CFG_NOFIELD,
     .def = "OFFICIAL",
     .check = check_clearance,
     .print = print_clearance,
     .help = "highest classification it may publish or receive"},
    {.name = "caveats",
     .type = CFG_STRLIST,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, caveats),
     .count_offset = offsetof(config_agent_t, n_caveats),
     .check = check_caveat,
     .help = "caveats held"},
    {.name = "roles",
     .type = CFG_STRLIST,
     .flags = CFG_REQUIRED | CFG_RELOADABLE,
     .offset = CFG_NOFIELD,
     .check = check_role,
     .print = print_roles,
     .help = "publisher, receiver, operator, auditor"},
    {.name = "publish",
     .type = CFG_STRLIST,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, publish),
     .count_offset = offsetof(config_agent_t, n_publish),
     .check = check_pattern,
     .help = "patterns it may publish to"},
    {.name = "subscribe",
     .type = CFG_STRLIST,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, subscribe),
     .count_offset = offsetof(config_agent_t, n_subscribe),
     .check = check_pattern,
     .help = "patterns it may subscribe to"},
    {.name = "revoked",
     .type = CFG_BOOL,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, revoked),
     .def_uint = 0,
     .help = "true refuses it at once (SIGHUP) and from then on"},
    {.name = "valid_from",
     .type = CFG_STRING,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, valid_from),
     .def = "",
     .check = check_valid_from,
     .help = "not admitted before this date"},
    {.name = "valid_to",
     .type = CFG_STRING,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, valid_to),
     .def = "",
     .check = check_valid_to,
     .help = "not admitted after this date (a bare date includes that day)"},
    {.name = "contact",
     .type = CFG_STRING,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, contact),
     .def = "",
     .help = "who to ask about its messages, shown in sanitised notices"},
    {.name = "speaks_for",
     .type = CFG_STRLIST,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_agent_t, speaks_for),
     .count_offset = offsetof(config_agent_t, n_speaks_for),
     .check = check_agency,
     .help = "type broker: the agencies (display names) whose origin this link may assert"},
};

static int check_durable(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    size_t n = strlen(v);
    int ok = n > 0 && n <= 128;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
             (v[i] >= '0' && v[i] <= '9') || strchr("._-", v[i]) != NULL;
    if (ok)
        return 0;
    snprintf(why, whylen, "must be 1-128 characters of [A-Za-z0-9._-]");
    return -1;
}

/* An uplink's rows. Its clearance, caveats and key go through the agent
 * checks: the uplink begins with its config_agent_t. */
static const cfg_key_t uplink_rows[] = {
    {.name = "name",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED,
     .offset = offsetof(config_uplink_t, as.name),
     .check = check_region,
     .help = "[a-z0-9-], unique: names the link in logs, views and the audit trail"},
    {.name = "broker",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED,
     .offset = offsetof(config_uplink_t, broker),
     .check = check_connect,
     .help = "the upstream broker's endpoint, tcp://host:port"},
    {.name = "broker_public_key",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED,
     .offset = CFG_NOFIELD,
     .check = check_public_key,
     .print = print_public_key,
     .help = "the upstream broker's public key: a .pub file, or 40 Z85 characters"},
    {.name = "agency",
     .type = CFG_STRING,
     .offset = offsetof(config_uplink_t, as.agency),
     .def = "upstream broker",
     .check = check_agency,
     .help = "the upstream's display name, in views and the audit trail"},
    {.name = "forward",
     .type = CFG_STRLIST,
     .offset = offsetof(config_uplink_t, as.subscribe),
     .count_offset = offsetof(config_uplink_t, as.n_subscribe),
     .check = check_pattern,
     .help = "patterns of this broker's messages forwarded up (what the link's clearance allows)"},
    {.name = "receive",
     .type = CFG_STRLIST,
     .offset = offsetof(config_uplink_t, receive),
     .count_offset = offsetof(config_uplink_t, n_receive),
     .check = check_pattern,
     .help = "patterns received from the upstream and stored here for this broker's agents"},
    {.name = "clearance",
     .type = CFG_STRING,
     .offset = CFG_NOFIELD,
     .def = "OFFICIAL",
     .check = check_clearance,
     .print = print_clearance,
     .help = "the highest classification forwarded up this link"},
    {.name = "caveats",
     .type = CFG_STRLIST,
     .offset = offsetof(config_uplink_t, as.caveats),
     .count_offset = offsetof(config_uplink_t, as.n_caveats),
     .check = check_caveat,
     .help = "caveats the link holds: a message with any other is not forwarded"},
    {.name = "durable",
     .type = CFG_STRING,
     .offset = offsetof(config_uplink_t, durable),
     .def = "downlink",
     .check = check_durable,
     .help = "the durable name of the receive subscription on the upstream"},
    {.name = "window",
     .type = CFG_UINT,
     .offset = offsetof(config_uplink_t, window),
     .def_uint = 256,
     .min = 1,
     .max = 100000,
     .help = "forwarded messages in flight, unacknowledged by the upstream"},
};

static const cfg_key_t retention_rows[] = {
    {.name = "pattern",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED | CFG_RELOADABLE,
     .offset = offsetof(config_retention_t, pattern),
     .check = check_notice_pattern,
     .help = "topic pattern the rule governs (first match wins)"},
    {.name = "max_age_days",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_retention_t, max_age_days),
     .def_uint = 0,
     .min = 0,
     .max = 36500,
     .help = "erase messages older than this; 0 = no limit"},
    {.name = "max_messages",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_retention_t, max_messages),
     .def_uint = 0,
     .min = 0,
     .max = 4000000000u,
     .help = "keep at most this many, erasing the oldest; 0 = no limit"},
    {.name = "max_mb",
     .type = CFG_UINT,
     .flags = CFG_RELOADABLE,
     .offset = offsetof(config_retention_t, max_mb),
     .def_uint = 0,
     .min = 0,
     .max = 1048576,
     .help = "keep at most this many MiB, erasing the oldest; 0 = no limit"},
};

static int load_retention(const cfg_t *c, const cfg_node_t *list, config_t *cfg,
                          struct load_ctx *lc, char *err, size_t errlen)
{
    size_t n = cfg_length(list);
    char where[64];
    cfg->retention = xcalloc(n ? n : 1, sizeof *cfg->retention);
    for (size_t i = 0; i < n; i++) {
        const cfg_node_t *node = cfg_elem(list, i);
        snprintf(where, sizeof where, "retention[%zu]", i);
        cfg->n_retention = i + 1;
        if (!cfg_is_group(node))
            return cfg_fail(c, node, where, err, errlen, "expected a group { } for a rule");
        if (cfg_parse(c, node, where, retention_rows, UTIL_LEN(retention_rows), &cfg->retention[i],
                      lc, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static const cfg_key_t root_rows[] = {
    {.name = "broker", .type = CFG_GROUP, .flags = CFG_REQUIRED, .offset = CFG_NOFIELD},
    {.name = "agents",
     .type = CFG_LIST,
     .flags = CFG_REQUIRED | CFG_RELOADABLE,
     .offset = CFG_NOFIELD},
    {.name = "retention", .type = CFG_LIST, .flags = CFG_RELOADABLE, .offset = CFG_NOFIELD},
    {.name = "uplinks", .type = CFG_LIST, .offset = CFG_NOFIELD},
};

static int load_uplinks(const cfg_t *c, const cfg_node_t *list, config_t *cfg, struct load_ctx *lc,
                        char *err, size_t errlen)
{
    size_t n = cfg_length(list);
    char where[64], key[96];
    if (n > 16)
        return cfg_fail(c, list, "uplinks", err, errlen, "at most 16 uplinks");
    cfg->uplinks = xcalloc(n ? n : 1, sizeof *cfg->uplinks);
    for (size_t i = 0; i < n; i++) {
        const cfg_node_t *node = cfg_elem(list, i);
        config_uplink_t *u = &cfg->uplinks[i];
        snprintf(where, sizeof where, "uplinks[%zu]", i);
        cfg->n_uplinks = i + 1;
        if (!cfg_is_group(node))
            return cfg_fail(c, node, where, err, errlen, "expected a group { } for an uplink");
        if (cfg_parse(c, node, where, uplink_rows, UTIL_LEN(uplink_rows), u, lc, err, errlen) != 0)
            return -1;
        u->as.type = xstrdup("broker");
        u->as.region = xstrdup("");
        u->as.contact = xstrdup("");
        u->as.roles = ROLE_RECEIVER;
        u->as.valid_from_us = INT64_MIN;
        u->as.valid_to_us = INT64_MAX;
        if (u->as.n_subscribe == 0 && u->n_receive == 0) {
            snprintf(key, sizeof key, "%s.forward", where);
            return cfg_fail(c, node, key, err, errlen,
                            "an uplink that forwards nothing and receives nothing does nothing");
        }
        if (memcmp(u->as.public_key, cfg->public_key, 32) == 0) {
            snprintf(key, sizeof key, "%s.broker_public_key", where);
            return cfg_fail(c, cfg_member(node, "broker_public_key"), key, err, errlen,
                            "is this broker's own key");
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(u->as.name, cfg->uplinks[j].as.name) == 0) {
                snprintf(key, sizeof key, "%s.name", where);
                return cfg_fail(c, cfg_member(node, "name"), key, err, errlen,
                                "duplicate uplink name \"%s\"", u->as.name);
            }
    }
    return 0;
}

/* The metrics endpoint answers who sent what and who is connected: off
 * this host only behind a token. */
static int metrics_private(const config_t *cfg)
{
    return cfg->metrics[0] == '\0' || cfg->metrics_token[0] != '\0' ||
           cfg_http_is_loopback(cfg->metrics);
}

/* Checks one agent against itself and the agents before it. */
static int check_agent(const cfg_t *c, const cfg_node_t *node, const char *where,
                       const config_t *cfg, size_t idx, char *err, size_t errlen)
{
    const config_agent_t *a = &cfg->agents[idx];
    char key[128];

    snprintf(key, sizeof key, "%s.roles", where);
    if (a->roles == 0)
        return cfg_fail(c, cfg_member(node, "roles"), key, err, errlen,
                        "needs at least one role (publisher, receiver, operator, auditor, query)");
    /* Separation of duties: whoever checks the trail must not be able to
     * write into it by publishing, nor to read what it protects. */
    if ((a->roles & ROLE_AUDITOR) && (a->roles & (ROLE_PUBLISHER | ROLE_RECEIVER | ROLE_QUERY)))
        return cfg_fail(c, cfg_member(node, "roles"), key, err, errlen,
                        "an auditor may not also be a publisher, receiver or query agent");

    snprintf(key, sizeof key, "%s.valid_from", where);
    if (a->valid_from_us > a->valid_to_us)
        return cfg_fail(c, cfg_member(node, "valid_from"), key, err, errlen,
                        "\"%s\" is after valid_to \"%s\": the agent could never connect",
                        a->valid_from, a->valid_to);

    snprintf(key, sizeof key, "%s.speaks_for", where);
    if (a->n_speaks_for && strcmp(a->type, "broker") != 0)
        return cfg_fail(c, cfg_member(node, "speaks_for"), key, err, errlen,
                        "only an agent of type broker (another broker's link) speaks for others");

    snprintf(key, sizeof key, "%s.public_key", where);
    if (memcmp(a->public_key, cfg->public_key, 32) == 0)
        return cfg_fail(c, cfg_member(node, "public_key"), key, err, errlen,
                        "is the broker's own key");
    for (size_t j = 0; j < idx; j++) {
        const config_agent_t *b = &cfg->agents[j];
        if (strcmp(a->name, b->name) == 0) {
            snprintf(key, sizeof key, "%s.name", where);
            return cfg_fail(c, cfg_member(node, "name"), key, err, errlen,
                            "duplicate agent name \"%s\" (also agents[%zu])", a->name, j);
        }
        /* One key, one identity: the key is what the broker authenticates. */
        if (memcmp(a->public_key, b->public_key, 32) == 0) {
            snprintf(key, sizeof key, "%s.public_key", where);
            return cfg_fail(c, cfg_member(node, "public_key"), key, err, errlen,
                            "same key as agent \"%s\"", b->name);
        }
    }
    return 0;
}

static int load_agents(const cfg_t *c, const cfg_node_t *list, config_t *cfg, struct load_ctx *lc,
                       char *err, size_t errlen)
{
    size_t n = cfg_length(list);
    char where[64];

    cfg->agents = xcalloc(n ? n : 1, sizeof *cfg->agents);
    for (size_t i = 0; i < n; i++) {
        const cfg_node_t *node = cfg_elem(list, i);
        snprintf(where, sizeof where, "agents[%zu]", i);
        /* Counted before parsing, so config_free frees a half-read agent. */
        cfg->n_agents = i + 1;
        if (!cfg_is_group(node))
            return cfg_fail(c, node, where, err, errlen, "expected a group { } for an agent");
        if (cfg_parse(c, node, where, agent_rows, UTIL_LEN(agent_rows), &cfg->agents[i], lc, err,
                      errlen) != 0)
            return -1;
        if (check_agent(c, node, where, cfg, i, err, errlen) != 0)
            return -1;
    }
    return 0;
}

config_t *config_load(const char *path, char *err, size_t errlen)
{
    struct load_ctx lc;
    char dir[4096];
    config_t *cfg = xcalloc(1, sizeof *cfg);
    cfg_t *c = cfg_load(path, err, errlen);
    if (c == NULL)
        goto fail;

    cfg->path = xstrdup(path);
    lc.cfg = cfg;
    util_dirname(lc.base_dir, sizeof lc.base_dir, path);

    if (cfg_parse(c, cfg_root(c), "", root_rows, UTIL_LEN(root_rows), cfg, &lc, err, errlen) != 0)
        goto fail;
    if (cfg_parse(c, cfg_member(cfg_root(c), "broker"), "broker", broker_rows,
                  UTIL_LEN(broker_rows), cfg, &lc, err, errlen) != 0)
        goto fail;
    if (!metrics_private(cfg)) {
        cfg_fail(c, cfg_member(cfg_member(cfg_root(c), "broker"), "metrics"), "broker.metrics", err,
                 errlen,
                 "\"%s\" is reachable beyond this host: set metrics_token, or listen on "
                 "127.0.0.1",
                 cfg->metrics);
        goto fail;
    }
    if (cfg->name[0] == '\0') {
        /* Unnamed, a broker is named after its key: two brokers left at
         * one default name would drop each other's messages as loops. */
        uint8_t h[6];
        char name[32];
        crypto_generichash(h, sizeof h, cfg->public_key, 32, NULL, 0);
        snprintf(name, sizeof name, "broker-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4],
                 h[5]);
        free(cfg->name);
        cfg->name = xstrdup(name);
    }
    /* "./data" reads worse than "data" in every log line that names it. */
    if (strcmp(lc.base_dir, ".") != 0) {
        if (util_path_join(dir, sizeof dir, lc.base_dir, cfg->data_dir) != 0) {
            cfg_fail(c, cfg_member(cfg_member(cfg_root(c), "broker"), "data_dir"),
                     "broker.data_dir", err, errlen, "path too long");
            goto fail;
        }
        free(cfg->data_dir);
        cfg->data_dir = xstrdup(dir);
    }
    if (load_agents(c, cfg_member(cfg_root(c), "agents"), cfg, &lc, err, errlen) != 0)
        goto fail;
    if (load_retention(c, cfg_member(cfg_root(c), "retention"), cfg, &lc, err, errlen) != 0)
        goto fail;
    if (load_uplinks(c, cfg_member(cfg_root(c), "uplinks"), cfg, &lc, err, errlen) != 0)
        goto fail;
    cfg_close(&c);
    return cfg;
fail:
    cfg_close(&c);
    config_free(&cfg);
    return NULL;
}

void config_free(config_t **cfgp)
{
    if (cfgp == NULL || *cfgp == NULL)
        return;
    config_t *cfg = *cfgp;
    for (size_t i = 0; i < cfg->n_agents; i++)
        cfg_free_fields(agent_rows, UTIL_LEN(agent_rows), &cfg->agents[i]);
    free(cfg->agents);
    for (size_t i = 0; i < cfg->n_retention; i++)
        cfg_free_fields(retention_rows, UTIL_LEN(retention_rows), &cfg->retention[i]);
    free(cfg->retention);
    for (size_t i = 0; i < cfg->n_uplinks; i++) {
        config_uplink_t *u = &cfg->uplinks[i];
        cfg_free_fields(uplink_rows, UTIL_LEN(uplink_rows), u);
        free(u->as.type);
        free(u->as.region);
        free(u->as.contact);
    }
    free(cfg->uplinks);
    cfg_free_fields(broker_rows, UTIL_LEN(broker_rows), cfg);
    free(cfg->path);
    /* The secret key should not outlive its config in freed heap. */
    memset(cfg->secret_key, 0, sizeof cfg->secret_key);
    free(cfg);
    *cfgp = NULL;
}

const config_agent_t *config_agent_by_key(const config_t *cfg, const uint8_t key[32])
{
    for (size_t i = 0; i < cfg->n_agents; i++)
        if (memcmp(cfg->agents[i].public_key, key, 32) == 0)
            return &cfg->agents[i];
    return NULL;
}

const config_agent_t *config_agent_by_name(const config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_agents; i++)
        if (strcmp(cfg->agents[i].name, name) == 0)
            return &cfg->agents[i];
    return NULL;
}

void config_print(const config_t *cfg, FILE *out)
{
    char z85[41];
    keys_z85(cfg->public_key, z85);
    fprintf(out, "# effective configuration of %s\n", cfg->path);
    fputs("broker = {\n", out);
    cfg_print_fields(out, broker_rows, UTIL_LEN(broker_rows), cfg, NULL, 2);
    /* The secret never leaves the process; its public half identifies it. */
    fprintf(out, "  # secret_key = (not shown); the broker's public key is \"%s\"\n", z85);
    fputs("};\n", out);
    fputs("agents = (\n", out);
    for (size_t i = 0; i < cfg->n_agents; i++) {
        fputs("  {\n", out);
        cfg_print_fields(out, agent_rows, UTIL_LEN(agent_rows), &cfg->agents[i], NULL, 4);
        fputs(i + 1 < cfg->n_agents ? "  },\n" : "  }\n", out);
    }
    fputs(");\n", out);
    fputs("retention = (\n", out);
    for (size_t i = 0; i < cfg->n_retention; i++) {
        fputs("  {\n", out);
        cfg_print_fields(out, retention_rows, UTIL_LEN(retention_rows), &cfg->retention[i], NULL,
                         4);
        fputs(i + 1 < cfg->n_retention ? "  },\n" : "  }\n", out);
    }
    fputs(");\n", out);
    fputs("uplinks = (\n", out);
    for (size_t i = 0; i < cfg->n_uplinks; i++) {
        fputs("  {\n", out);
        cfg_print_fields(out, uplink_rows, UTIL_LEN(uplink_rows), &cfg->uplinks[i], NULL, 4);
        fputs(i + 1 < cfg->n_uplinks ? "  },\n" : "  }\n", out);
    }
    fputs(");\n", out);
}

/* ---- what a reload cannot apply ------------------------------------------ */

/* The value of row r in cfg as text, into buf; a secret never. */
static const char *restart_value(const cfg_key_t *r, const config_t *cfg, int other, char *buf,
                                 size_t len)
{
    const char *field = (const char *)cfg + r->offset;
    if (strcmp(r->name, "secret_key") == 0) {
        keys_z85(cfg->public_key, buf);
        return buf;
    }
    if (strcmp(r->name, "metrics_token") == 0)
        return cfg->metrics_token[0] ? "(set)" : "(none)";
    if (r->type == CFG_STRING) {
        snprintf(buf, len, "%s%s", *(char *const *)field, other ? " (another key)" : "");
        return buf;
    }
    if (r->type == CFG_UINT || r->type == CFG_BOOL) {
        snprintf(buf, len, "%u", *(const unsigned *)field);
        return buf;
    }
    snprintf(buf, len, "(a list)");
    return buf;
}

/* Whether row r holds another value in a than in b. Key files count by
 * their content too: the same path may hold another key now. */
static int restart_differs(const cfg_key_t *r, const config_t *a, const config_t *b, int *content)
{
    *content = 0;
    if (strcmp(r->name, "secret_key") == 0)
        return memcmp(a->public_key, b->public_key, 32) != 0;
    const char *fa = (const char *)a + r->offset, *fb = (const char *)b + r->offset;
    if (r->type == CFG_UINT || r->type == CFG_BOOL)
        return *(const unsigned *)fa != *(const unsigned *)fb;
    if (r->type == CFG_STRLIST) {
        size_t na = *(const size_t *)((const char *)a + r->count_offset);
        size_t nb = *(const size_t *)((const char *)b + r->count_offset);
        char *const *la = *(char **const *)fa, *const *lb = *(char **const *)fb;
        if (na != nb)
            return 1;
        for (size_t i = 0; i < na; i++)
            if (strcmp(la[i], lb[i]) != 0)
                return 1;
        return 0;
    }
    if (strcmp(*(char *const *)fa, *(char *const *)fb) != 0)
        return 1;
    if (strcmp(r->name, "subject_key") == 0)
        *content = memcmp(a->subject_key, b->subject_key, 32) != 0;
    else if (strcmp(r->name, "audit_key") == 0)
        *content = memcmp(a->audit_seed, b->audit_seed, 32) != 0;
    return *content;
}

void config_restart_changes(const config_t *running, const config_t *fresh, config_change_fn fn,
                            void *arg)
{
    char old[4200], neu[4200];
    for (size_t i = 0; i < UTIL_LEN(broker_rows); i++) {
        const cfg_key_t *r = &broker_rows[i];
        int content;
        if ((r->flags & CFG_RELOADABLE) || !restart_differs(r, running, fresh, &content))
            continue;
        fn(r->name, restart_value(r, running, 0, old, sizeof old),
           restart_value(r, fresh, content, neu, sizeof neu), arg);
    }
}

void config_keep_restart_values(config_t *fresh, config_t *running)
{
    for (size_t i = 0; i < UTIL_LEN(broker_rows); i++) {
        const cfg_key_t *r = &broker_rows[i];
        if (r->flags & CFG_RELOADABLE)
            continue;
        if (r->offset == CFG_NOFIELD) /* secret_key: its halves are copied below */
            continue;
        char *ff = (char *)fresh + r->offset, *fr = (char *)running + r->offset;
        if (r->type == CFG_STRING || r->type == CFG_STRLIST) {
            /* Swapped, not copied: each config frees what it holds. */
            char *t = *(char **)ff;
            *(char **)ff = *(char **)fr;
            *(char **)fr = t;
            if (r->type == CFG_STRLIST) {
                size_t *cf = (size_t *)((char *)fresh + r->count_offset);
                size_t *cr = (size_t *)((char *)running + r->count_offset);
                size_t n = *cf;
                *cf = *cr;
                *cr = n;
            }
        } else {
            *(unsigned *)ff = *(unsigned *)fr;
        }
    }
    memcpy(fresh->secret_key, running->secret_key, 32);
    memcpy(fresh->public_key, running->public_key, 32);
    memcpy(fresh->subject_key, running->subject_key, 32);
    fresh->has_subject_key = running->has_subject_key;
    memcpy(fresh->audit_seed, running->audit_seed, 32);
}
