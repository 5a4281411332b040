/* config.h — liaison-broker's configuration (broker.cfg): the broker group
 * and the agents list, loaded, validated and defaulted from one table of
 * keys (common/cfg.h), with key files read relative to the config file.
 * Not responsible for: deciding access (policy.c) — it only holds what the
 * operator wrote, checked for shape. */
#ifndef LIAISON_CONFIG_H
#define LIAISON_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Roles, as a bit set. */
enum config_role {
    ROLE_PUBLISHER = 1u << 0,
    ROLE_RECEIVER = 1u << 1,
    ROLE_OPERATOR = 1u << 2,
    ROLE_AUDITOR = 1u << 3,
    ROLE_QUERY = 1u << 4, /* subject queries: who holds what on a subject */
};

typedef struct config_agent {
    char *name;   /* [a-z0-9-], unique; the CURVE User-Id */
    char *agency; /* display name, e.g. "Humberside Police" */
    char *type;   /* police, rocu, marsoc, prison, probation, nca */
    char *region; /* lower-case word, e.g. "yorkshire", "national" */
    uint8_t public_key[32];
    int clearance;  /* Liaison__Classification, OFFICIAL..TOP_SECRET */
    char **caveats; /* upper-case words held */
    size_t n_caveats;
    unsigned roles; /* enum config_role bits */
    char **publish; /* topic patterns it may publish to */
    size_t n_publish;
    char **subscribe; /* topic patterns it may subscribe to */
    size_t n_subscribe;
    int revoked;      /* refused at the handshake and for every frame */
    char *valid_from; /* "YYYY-MM-DD" or RFC 3339, "" = no bound */
    char *valid_to;
    int64_t valid_from_us; /* parsed; INT64_MIN / INT64_MAX when unbounded */
    int64_t valid_to_us;
    char *contact; /* who to ask about its messages, shown in notices */
    /* Type "broker" (a downstream broker's link): the agencies whose origin
     * it may assert on what it forwards (agency display names). */
    char **speaks_for;
    size_t n_speaks_for;
} config_agent_t;

/* One uplink: this broker as an agent of the broker above it (federation).
 * `as` comes first so the agent checks apply to it: it is the upstream as
 * this broker's rule sees it, a receiver of what is forwarded, with
 * as.name the link's name, as.clearance and as.caveats what may cross it,
 * as.subscribe the forward patterns and as.public_key the upstream's key. */
typedef struct config_uplink {
    config_agent_t as;
    char *broker;   /* the upstream's endpoint */
    char **receive; /* patterns received from the upstream (a durable subscription there) */
    size_t n_receive;
    char *durable;   /* that subscription's durable name on the upstream */
    unsigned window; /* forwards in flight */
} config_uplink_t;

/* One retention rule; the first rule whose pattern matches a message's
 * topic governs it. 0 means no limit. */
typedef struct config_retention {
    char *pattern;
    unsigned max_age_days;
    unsigned max_messages;
    unsigned max_mb;
} config_retention_t;

typedef struct config {
    char *path; /* the file it was loaded from */
    /* broker group */
    char *listen; /* ZeroMQ endpoint, default "tcp://127.0.0.1:7400" */
    uint8_t secret_key[32];
    uint8_t public_key[32];          /* derived from secret_key */
    char *data_dir;                  /* relative paths resolved against the config's dir */
    unsigned map_size_mb;            /* LMDB map size, default 1024 */
    int expect_store;                /* refuse a data_dir without a store, default false */
    int adopt_store;                 /* take over a store made by another key, default false */
    char *metrics;                   /* "host:port" or "" (disabled), default "127.0.0.1:9740" */
    char *metrics_token;             /* bearer token required by the metrics endpoint, "" = none */
    unsigned max_frame_bytes;        /* default 1 MiB */
    unsigned max_topic_len;          /* default 255 */
    unsigned max_subs_per_agent;     /* default 64, over all the agent's connections */
    unsigned max_sessions_per_agent; /* default 16 */
    unsigned max_replays_per_minute; /* default 60 */
    unsigned max_views_per_minute;   /* default 120 */
    unsigned credit_window;          /* default in-flight deliveries per subscription, 256 */
    unsigned heartbeat_ms;           /* default 5000 */
    unsigned ack_timeout_ms;         /* unacked delivery is redelivered after this, default 30000 */
    unsigned max_deliver;            /* deliveries before dead-lettering, default 5 */
    unsigned dedup_window_s;         /* publish dedup by (origin, msg_id), default 7 days */
    char *log_level;                 /* "debug", "info", "warn", "error"; default "info" */
    char **notices;                  /* topic patterns where sanitised notices are sent */
    size_t n_notices;
    char *subject_key_file; /* key of the blind subject index; "" = no index */
    uint8_t subject_key[32];
    int has_subject_key;
    char **notify_on_hit; /* topic patterns where a query's finding is told to the originator */
    size_t n_notify_on_hit;
    unsigned max_queries_per_minute; /* default 30 */
    unsigned max_query_subjects;     /* default 16 */
    char *audit_key; /* Ed25519 seed file signing audit checkpoints; "" = unsigned */
    uint8_t audit_seed[32];
    unsigned audit_checkpoint_records; /* checkpoint after this many records, default 1000 */
    unsigned audit_checkpoint_s;       /* or this many seconds, default 300 */
    unsigned purge_after_review;   /* bool: erase messages past their review_at date, default 1 */
    unsigned retention_interval_s; /* how often a bounded purge pass runs, default 60 */
    config_retention_t *retention; /* retention list, in order */
    size_t n_retention;
    /* agents list */
    config_agent_t *agents;
    size_t n_agents;
    /* federation */
    char *name; /* this broker's name in routes, [a-z0-9-], default "liaison" */
    config_uplink_t *uplinks;
    size_t n_uplinks;
    /* Names a release_to may give that no agent here holds: agencies
     * (agency:NAME) and regions (region:NAME) served beyond the links. */
    char **known_agencies;
    size_t n_known_agencies;
    char **known_regions;
    size_t n_known_regions;
} config_t;

/* Loads and validates path. Returns the config (caller owns; config_free),
 * or NULL with a one-line reason in err of the form
 * "FILE:LINE: KEY: what is wrong" (LINE omitted when unknown). Unknown keys,
 * wrong types, values out of range, duplicate agent names or keys, unknown
 * classifications, roles, types, bad patterns and unreadable key files are
 * all errors. */
config_t *config_load(const char *path, char *err, size_t errlen);
void config_free(config_t **cfg);

/* Lookups; the result is borrowed from cfg. NULL if none. */
const config_agent_t *config_agent_by_key(const config_t *cfg, const uint8_t key[32]);
const config_agent_t *config_agent_by_name(const config_t *cfg, const char *name);

/* Calls fn once for each key SIGHUP does not apply (a row without
 * CFG_RELOADABLE in the broker group) whose value differs between running
 * and fresh, in table order, with both values as text borrowed for the
 * call. A secret is never passed: secret_key comes as the Z85 public key,
 * metrics_token as "(set)" or "(none)", a key file as its path (with
 * " (another key)" when the file's content changed). */
typedef void (*config_change_fn)(const char *key, const char *old, const char *neu, void *arg);
void config_restart_changes(const config_t *running, const config_t *fresh, config_change_fn fn,
                            void *arg);

/* Gives fresh the running values of every key SIGHUP does not apply (the
 * strings moved from running, which keeps fresh's), so the config swapped
 * in says what actually runs until a restart. */
void config_keep_restart_values(config_t *fresh, config_t *running);

/* 1 if type is one of the agency types an agent may have (police, rocu,
 * marsoc, prison, probation, nca, broker). */
int config_type_known(const char *type);

/* Writes the effective configuration, every key with its value, in
 * broker.cfg syntax. Key material is shown as Z85 public keys only. */
void config_print(const config_t *cfg, FILE *out);

#endif
