/* test_config.c — broker.cfg (broker/config.c) and agent.cfg
 * (common/client_config.c), both through the common/cfg.c engine: real
 * files with real CURVE key files in a temporary directory; every refusal
 * must name the right key and line.
 * Not covered here: applying a reload (the broker loop's tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "client_config.h"
#include "config.h"
#include "keys.h"
#include "label.h"

/* The temporary directory every test writes its config into. */
static char dir[256];

/* Key pairs written to dir/keys, by name. */
static const char *const key_names[] = {"broker", "humberside-police", "ops",   "yorkshire-rocu",
                                        "marsoc", "hmp-hull",          "audit", "extra",
                                        "slash"};
static char z85_pub[sizeof key_names / sizeof key_names[0]][41];

/* The broker.cfg of docs/design.md, as written there. */
static const char design_broker_cfg[] =
    "broker = {\n"
    "  listen      = \"tcp://127.0.0.1:7400\";\n"
    "  secret_key  = \"keys/broker.key\";\n"
    "  data_dir    = \"data/broker\";\n"
    "  map_size_mb = 1024;\n"
    "  metrics     = \"127.0.0.1:9740\";\n"
    "};\n"
    "agents = (\n"
    "  { name = \"humberside-police\"; agency = \"Humberside Police\"; type = \"police\"; "
    "region = \"yorkshire\";\n"
    "    public_key = \"keys/humberside-police.pub\";\n"
    "    clearance = \"SECRET\"; caveats = [ ]; roles = [ \"publisher\", \"receiver\" ];\n"
    "    publish   = [ \"alert.yorkshire.humberside-police.>\" ];\n"
    "    subscribe = [ \"alert.yorkshire.>\", \"national.>\" ]; },\n"
    "  { name = \"ops\"; agency = \"MARSOC\"; type = \"marsoc\"; region = \"national\";\n"
    "    public_key = \"keys/ops.pub\"; clearance = \"OFFICIAL\"; roles = [ \"operator\" ]; }\n"
    ");\n";

/* The agent.cfg of docs/design.md. */
static const char design_agent_cfg[] =
    "agent = {\n"
    "  name              = \"humberside-police\";\n"
    "  broker            = \"tcp://127.0.0.1:7400\";\n"
    "  broker_public_key = \"keys/broker.pub\";\n"
    "  secret_key        = \"keys/humberside-police.key\";\n"
    "  data_dir          = \"data/humberside-police\";\n"
    "  spool             = \"spool/humberside-police\";\n"
    "};\n"
    "subscriptions = (\n"
    "  { name = \"regional\"; pattern = \"alert.yorkshire.>\"; sink = "
    "\"dir:inbox/humberside-police\"; }\n"
    ");\n";

/* ---- helpers ------------------------------------------------------------ */

static void write_file(const char *rel, const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static const char *pub_of(const char *name)
{
    for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++)
        if (strcmp(key_names[i], name) == 0)
            return z85_pub[i];
    fail_msg("no key for %s", name);
    return NULL;
}

static void key_of(const char *name, uint8_t out[32])
{
    assert_non_null(zmq_z85_decode(out, pub_of(name)));
}

/* text with the first `from` replaced by `to`; caller frees. */
static char *edit(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    if (at == NULL)
        fail_msg("edit: \"%s\" not in the config", from);
    size_t head = (size_t)(at - text), fl = strlen(from), tl = strlen(to);
    char *out = malloc(strlen(text) - fl + tl + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, to, tl);
    strcpy(out + head + tl, at + fl);
    return out;
}

/* The design example with one more agent at the end; caller frees. */
static char *with_agent(const char *agent)
{
    char to[2048];
    snprintf(to, sizeof to, "roles = [ \"operator\" ]; },\n  %s\n);\n", agent);
    return edit(design_broker_cfg, "roles = [ \"operator\" ]; }\n);\n", to);
}

/* 1-based line of the first occurrence of needle in text. */
static unsigned line_of(const char *text, const char *needle)
{
    const char *at = strstr(text, needle);
    if (at == NULL)
        fail_msg("line_of: \"%s\" not in the config", needle);
    unsigned line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    return line;
}

static config_t *load_broker(const char *text, char *err, size_t errlen)
{
    char path[512];
    write_file("broker.cfg", text, 0644);
    snprintf(path, sizeof path, "%s/broker.cfg", dir);
    err[0] = '\0';
    return config_load(path, err, errlen);
}

static client_config_t *load_agent(const char *text, char *err, size_t errlen)
{
    char path[512];
    write_file("agent.cfg", text, 0644);
    snprintf(path, sizeof path, "%s/agent.cfg", dir);
    err[0] = '\0';
    return client_config_load(path, err, errlen);
}

/* Asserts the error reads "DIR/FILE:LINE: KEY: ..." with LINE the line of
 * `at` in text, or "DIR/FILE:...KEY: ..." when at is NULL. */
static void assert_names(const char *err, const char *file, const char *text, const char *key,
                         const char *at)
{
    char want[1024];
    if (at != NULL)
        snprintf(want, sizeof want, "%s/%s:%u: %s: ", dir, file, line_of(text, at), key);
    else
        snprintf(want, sizeof want, ": %s: ", key);
    if (strstr(err, want) == NULL || strncmp(err, dir, strlen(dir)) != 0)
        fail_msg("expected \"%s\" in \"%s\"", want, err);
}

static void refuses(const char *text, const char *key, const char *at)
{
    char err[1024];
    config_t *cfg = load_broker(text, err, sizeof err);
    if (cfg != NULL) {
        config_free(&cfg);
        fail_msg("config loaded; expected a refusal naming %s", key);
    }
    assert_names(err, "broker.cfg", text, key, at);
}

static void refuses_edit(const char *from, const char *to, const char *key, const char *at)
{
    char *text = edit(design_broker_cfg, from, to);
    refuses(text, key, at);
    free(text);
}

static void agent_refuses(const char *text, const char *key, const char *at)
{
    char err[1024];
    client_config_t *cfg = load_agent(text, err, sizeof err);
    if (cfg != NULL) {
        client_config_free(&cfg);
        fail_msg("agent.cfg loaded; expected a refusal naming %s", key);
    }
    assert_names(err, "agent.cfg", text, key, at);
}

static void agent_refuses_edit(const char *from, const char *to, const char *key, const char *at)
{
    char *text = edit(design_agent_cfg, from, to);
    agent_refuses(text, key, at);
    free(text);
}

/* Copies a shipped example into dir; 0 if it is not where tests run from. */
static int copy_example(const char *src, const char *rel)
{
    static char text[32768];
    FILE *f = fopen(src, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    write_file(rel, text, 0644);
    return 1;
}

/* ---- broker.cfg --------------------------------------------------------- */

static void test_config_loads_the_design_example_with_its_defaults(void **state)
{
    (void)state;
    char err[1024], want[512];
    config_t *cfg = load_broker(design_broker_cfg, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);

    /* The broker group: what was written, defaults for the rest. */
    assert_string_equal(cfg->listen, "tcp://127.0.0.1:7400");
    snprintf(want, sizeof want, "%s/data/broker", dir);
    assert_string_equal(cfg->data_dir, want); /* relative to the config file */
    assert_int_equal(cfg->map_size_mb, 1024);
    assert_string_equal(cfg->metrics, "127.0.0.1:9740");
    assert_int_equal(cfg->max_frame_bytes, 1048576);
    assert_int_equal(cfg->max_topic_len, 255);
    assert_int_equal(cfg->max_subs_per_agent, 64);
    assert_int_equal(cfg->credit_window, 256);
    assert_int_equal(cfg->heartbeat_ms, 5000);
    assert_string_equal(cfg->log_level, "info");
    uint8_t key[32];
    key_of("broker", key);
    assert_memory_equal(cfg->public_key, key, 32); /* derived from the secret */

    /* The agents, as written. */
    assert_int_equal(cfg->n_agents, 2);
    const config_agent_t *h = &cfg->agents[0];
    assert_string_equal(h->name, "humberside-police");
    assert_string_equal(h->agency, "Humberside Police");
    assert_string_equal(h->type, "police");
    assert_string_equal(h->region, "yorkshire");
    key_of("humberside-police", key);
    assert_memory_equal(h->public_key, key, 32);
    assert_int_equal(h->clearance, LIAISON__CLASSIFICATION__SECRET);
    assert_int_equal(h->n_caveats, 0);
    assert_int_equal(h->roles, ROLE_PUBLISHER | ROLE_RECEIVER);
    assert_int_equal(h->n_publish, 1);
    assert_string_equal(h->publish[0], "alert.yorkshire.humberside-police.>");
    assert_int_equal(h->n_subscribe, 2);
    assert_string_equal(h->subscribe[0], "alert.yorkshire.>");
    assert_string_equal(h->subscribe[1], "national.>");

    const config_agent_t *ops = &cfg->agents[1];
    assert_string_equal(ops->name, "ops");
    assert_int_equal(ops->clearance, LIAISON__CLASSIFICATION__OFFICIAL);
    assert_int_equal(ops->roles, ROLE_OPERATOR);
    assert_int_equal(ops->n_publish, 0);
    assert_int_equal(ops->n_subscribe, 0);
    config_free(&cfg);
    assert_null(cfg);
}

static void test_config_loads_the_shipped_example(void **state)
{
    (void)state;
    char err[1024], path[512];
    if (!copy_example("config/broker.cfg", "shipped-broker.cfg"))
        skip();
    snprintf(path, sizeof path, "%s/shipped-broker.cfg", dir);
    config_t *cfg = config_load(path, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->n_agents, 6);
    const config_agent_t *m = config_agent_by_name(cfg, "marsoc");
    assert_non_null(m);
    assert_int_equal(m->clearance, LIAISON__CLASSIFICATION__TOP_SECRET);
    assert_int_equal(m->roles, ROLE_RECEIVER);
    assert_int_equal(config_agent_by_name(cfg, "audit")->roles, ROLE_AUDITOR);
    config_free(&cfg);
}

static void test_config_refuses_unknown_broker_key(void **state)
{
    (void)state;
    refuses_edit("map_size_mb = 1024;", "map_size_mb = 1024;\n  lisen = \"tcp://*:1\";",
                 "broker.lisen", "lisen");
}

static void test_config_refuses_unknown_agent_key(void **state)
{
    (void)state;
    refuses_edit("clearance = \"OFFICIAL\";", "clearence = \"OFFICIAL\";", "agents[1].clearence",
                 "clearence");
}

static void test_config_refuses_unknown_top_level_key(void **state)
{
    (void)state;
    refuses_edit("agents = (", "agent = { };\nagents = (", "agent", "agent = {");
}

static void test_config_refuses_wrong_type(void **state)
{
    (void)state;
    refuses_edit("map_size_mb = 1024;", "map_size_mb = \"1024\";", "broker.map_size_mb",
                 "map_size_mb");
    refuses_edit("roles = [ \"operator\" ]", "roles = \"operator\"", "agents[1].roles",
                 "roles = \"operator\"");
    refuses_edit("caveats = [ ]", "caveats = [ 1 ]", "agents[0].caveats[0]", "caveats");
    refuses("broker = { secret_key = \"keys/broker.key\"; };\nagents = \"none\";\n", "agents",
            "agents");
}

static void test_config_refuses_value_out_of_range(void **state)
{
    (void)state;
    refuses_edit("map_size_mb = 1024;", "map_size_mb = 0;", "broker.map_size_mb", "map_size_mb");
    refuses_edit("map_size_mb = 1024;", "map_size_mb = 1048577;", "broker.map_size_mb",
                 "map_size_mb");
    refuses_edit("map_size_mb = 1024;", "map_size_mb = -1;", "broker.map_size_mb", "map_size_mb");
    refuses_edit("map_size_mb = 1024;", "map_size_mb = 99999999999L;", "broker.map_size_mb",
                 "map_size_mb");
    refuses_edit("map_size_mb = 1024;", "map_size_mb = 1024;\n  heartbeat_ms = 99;",
                 "broker.heartbeat_ms", "heartbeat_ms");
    refuses_edit("map_size_mb = 1024;", "map_size_mb = 1024;\n  max_frame_bytes = 1023;",
                 "broker.max_frame_bytes", "max_frame_bytes");
    refuses_edit("map_size_mb = 1024;", "map_size_mb = 1024;\n  max_topic_len = 1025;",
                 "broker.max_topic_len", "max_topic_len");
    refuses_edit("map_size_mb = 1024;", "map_size_mb = 1024;\n  credit_window = 100001;",
                 "broker.credit_window", "credit_window");
    refuses_edit("map_size_mb = 1024;", "map_size_mb = 1024;\n  max_subs_per_agent = 0;",
                 "broker.max_subs_per_agent", "max_subs_per_agent");
}

static void test_config_accepts_the_limits_themselves(void **state)
{
    (void)state;
    char err[1024];
    char *text = edit(design_broker_cfg, "map_size_mb = 1024;",
                      "map_size_mb = 1048576; max_frame_bytes = 67108864; max_topic_len = 1024;\n"
                      "  max_subs_per_agent = 10000; credit_window = 1; heartbeat_ms = 600000;");
    config_t *cfg = load_broker(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->map_size_mb, 1048576);
    assert_int_equal(cfg->max_frame_bytes, 67108864);
    assert_int_equal(cfg->max_topic_len, 1024);
    assert_int_equal(cfg->credit_window, 1);
    config_free(&cfg);
}

static void test_config_refuses_unknown_classification(void **state)
{
    (void)state;
    refuses_edit("clearance = \"SECRET\";", "clearance = \"SEKRET\";", "agents[0].clearance",
                 "SEKRET");
    refuses_edit("clearance = \"SECRET\";", "clearance = \"secret\";", "agents[0].clearance",
                 "\"secret\"");
}

static void test_config_accepts_top_secret_with_a_space(void **state)
{
    (void)state;
    char err[1024];
    char *text = edit(design_broker_cfg, "clearance = \"SECRET\";", "clearance = \"TOP SECRET\";");
    config_t *cfg = load_broker(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->agents[0].clearance, LIAISON__CLASSIFICATION__TOP_SECRET);
    config_free(&cfg);
}

static void test_config_gives_official_when_clearance_is_absent(void **state)
{
    (void)state;
    char err[1024];
    char *text = edit(design_broker_cfg, "clearance = \"OFFICIAL\";", "");
    config_t *cfg = load_broker(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->agents[1].clearance, LIAISON__CLASSIFICATION__OFFICIAL);
    config_free(&cfg);
}

static void test_config_refuses_unknown_role(void **state)
{
    (void)state;
    refuses_edit("roles = [ \"operator\" ]", "roles = [ \"operator\",\n    \"admin\" ]",
                 "agents[1].roles[1]", "\"admin\"");
}

static void test_config_refuses_agent_without_roles(void **state)
{
    (void)state;
    refuses_edit("roles = [ \"operator\" ]", "roles = [ ]", "agents[1].roles", "roles = [ ]");
    refuses_edit("roles = [ \"operator\" ];", "", "agents[1].roles", NULL);
}

static void test_config_refuses_unknown_agency_type(void **state)
{
    (void)state;
    refuses_edit("type = \"police\";", "type = \"constabulary\";", "agents[0].type",
                 "constabulary");
}

static void test_config_refuses_bad_agent_name_and_region(void **state)
{
    (void)state;
    refuses_edit("name = \"ops\";", "name = \"Ops\";", "agents[1].name", "\"Ops\"");
    refuses_edit("name = \"ops\";", "name = \"\";", "agents[1].name", "name = \"\"");
    refuses_edit("region = \"yorkshire\";", "region = \"North Yorkshire\";", "agents[0].region",
                 "North Yorkshire");
}

static void test_config_refuses_bad_caveat(void **state)
{
    (void)state;
    refuses_edit("caveats = [ ]", "caveats = [ \"uk-eyes-only\" ]", "agents[0].caveats[0]",
                 "uk-eyes-only");
}

static void test_config_refuses_duplicate_agent_name(void **state)
{
    (void)state;
    char *text = with_agent("{ name = \"ops\"; agency = \"MARSOC Ops 2\"; type = \"marsoc\"; "
                            "region = \"national\";\n    public_key = \"keys/extra.pub\"; "
                            "roles = [ \"operator\" ]; }");
    /* Named at the second one, where the operator's eye should go. */
    refuses(text, "agents[2].name", "MARSOC Ops 2");
    free(text);
}

static void test_config_refuses_duplicate_public_key(void **state)
{
    (void)state;
    char *text = with_agent("{ name = \"ops2\"; agency = \"MARSOC\"; type = \"marsoc\"; "
                            "region = \"national\";\n    public_key = \"keys/ops.pub\"; "
                            "roles = [ \"operator\" ]; }");
    refuses(text, "agents[2].public_key", "public_key = \"keys/ops.pub\"; roles");
    free(text);
}

static void test_config_refuses_agent_holding_the_broker_key(void **state)
{
    (void)state;
    refuses_edit("keys/ops.pub", "keys/broker.pub", "agents[1].public_key", "keys/broker.pub");
}

static void test_config_refuses_missing_key_file(void **state)
{
    (void)state;
    refuses_edit("keys/ops.pub", "keys/nobody.pub", "agents[1].public_key", "nobody");
    refuses_edit("keys/broker.key", "keys/nobody.key", "broker.secret_key", "nobody");
}

static void test_config_refuses_a_file_that_is_not_a_key(void **state)
{
    (void)state;
    write_file("keys/garbage.pub", "not a key\n", 0644);
    refuses_edit("keys/ops.pub", "keys/garbage.pub", "agents[1].public_key", "garbage");
}

static void test_config_refuses_missing_required_key(void **state)
{
    (void)state;
    refuses_edit("  secret_key  = \"keys/broker.key\";\n", "", "broker.secret_key", NULL);
    refuses_edit("agency = \"MARSOC\";", "", "agents[1].agency", NULL);
    refuses_edit("agents = (", "agentz = (", "agentz", "agentz");
}

static void test_config_refuses_bad_pattern(void **state)
{
    (void)state;
    refuses_edit("\"national.>\"", "\"national.>.x\"", "agents[0].subscribe[1]", "national.>.x");
    refuses_edit("\"alert.yorkshire.humberside-police.>\"", "\"Alert.Yorkshire\"",
                 "agents[0].publish[0]", "Alert");
}

static void test_config_refuses_pattern_longer_than_max_topic_len(void **state)
{
    (void)state;
    /* The limit is read before the agents, whatever order the file has. */
    refuses_edit("map_size_mb = 1024;", "map_size_mb = 1024; max_topic_len = 16;",
                 "agents[0].publish[0]", "alert.yorkshire.humberside-police.>");
}

static void test_config_refuses_auditor_who_publishes(void **state)
{
    (void)state;
    refuses_edit("roles = [ \"publisher\", \"receiver\" ]",
                 "roles = [ \"publisher\", \"auditor\" ]", "agents[0].roles", "auditor");
}

static void test_config_refuses_auditor_who_receives(void **state)
{
    (void)state;
    refuses_edit("roles = [ \"operator\" ]", "roles = [ \"auditor\", \"receiver\" ]",
                 "agents[1].roles", "auditor");
}

static void test_config_accepts_auditor_who_is_also_operator(void **state)
{
    (void)state;
    char err[1024];
    char *text = edit(design_broker_cfg, "roles = [ \"operator\" ]",
                      "roles = [ \"operator\", \"auditor\" ]");
    config_t *cfg = load_broker(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->agents[1].roles, ROLE_OPERATOR | ROLE_AUDITOR);
    config_free(&cfg);
}

static void test_config_names_the_line_of_a_syntax_error(void **state)
{
    (void)state;
    char err[1024], want[512];
    char *text = edit(design_broker_cfg, "map_size_mb = 1024;", "map_size_mb = ;");
    config_t *cfg = load_broker(text, err, sizeof err);
    snprintf(want, sizeof want, "%s/broker.cfg:%u: ", dir, line_of(text, "map_size_mb"));
    free(text);
    assert_null(cfg);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("expected \"%s\" at the start of \"%s\"", want, err);
}

static void test_config_refuses_a_missing_file(void **state)
{
    (void)state;
    char err[1024], path[512];
    snprintf(path, sizeof path, "%s/absent.cfg", dir);
    assert_null(config_load(path, err, sizeof err));
    assert_non_null(strstr(err, "absent.cfg: No such file"));
}

/* A NUL byte in an @include's name, or an @include of a directory, made
 * libconfig's scanner exit the whole process (found by fuzz_config): such
 * a file is refused with the line that says it. */
static void test_config_refuses_a_file_with_a_nul_byte(void **state)
{
    (void)state;
    static const char text[] = "agent = { secret_key = \"k\"; };\n@include \"\0\0agent.cfg\"\n";
    char err[1024], path[512];
    snprintf(path, sizeof path, "%s/nul.cfg", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    assert_null(config_load(path, err, sizeof err));
    assert_non_null(strstr(err, "nul.cfg:2: a NUL byte"));
    assert_null(client_config_load(path, err, sizeof err));
    assert_non_null(strstr(err, "a NUL byte"));
    /* An @include of a directory did the same. */
    static const char dot[] = "agent = { secret_key = \"k\"; };\n@include \".\"\n";
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, dot, sizeof dot - 1), (ssize_t)(sizeof dot - 1));
    close(fd);
    assert_null(config_load(path, err, sizeof err));
    assert_non_null(strstr(err, "nul.cfg:2: @include \".\": not a readable file"));
}

static void test_config_refuses_bad_listen_metrics_and_log_level(void **state)
{
    (void)state;
    refuses_edit("tcp://127.0.0.1:7400", "http://127.0.0.1:7400", "broker.listen", "http");
    refuses_edit("\"127.0.0.1:9740\"", "\"127.0.0.1\"", "broker.metrics", "metrics");
    refuses_edit("\"127.0.0.1:9740\"", "\"127.0.0.1:70000\"", "broker.metrics", "metrics");
    refuses_edit("map_size_mb = 1024;", "map_size_mb = 1024; log_level = \"loud\";",
                 "broker.log_level", "loud");
}

static void test_config_accepts_disabled_metrics_and_ipc(void **state)
{
    (void)state;
    char err[1024];
    char *a = edit(design_broker_cfg, "\"127.0.0.1:9740\"", "\"\"");
    char *text = edit(a, "tcp://127.0.0.1:7400", "ipc:///run/liaison/broker.sock");
    free(a);
    config_t *cfg = load_broker(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_string_equal(cfg->metrics, "");
    assert_string_equal(cfg->listen, "ipc:///run/liaison/broker.sock");
    config_free(&cfg);
}

static void test_config_accepts_inline_z85_public_key(void **state)
{
    (void)state;
    char err[1024], inline_key[512];
    snprintf(inline_key, sizeof inline_key, "\"%s\"", pub_of("extra"));
    char *text = edit(design_broker_cfg, "\"keys/ops.pub\"", inline_key);
    config_t *cfg = load_broker(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    uint8_t key[32];
    key_of("extra", key);
    assert_memory_equal(cfg->agents[1].public_key, key, 32);
    config_free(&cfg);
}

static void test_config_accepts_inline_key_containing_a_slash(void **state)
{
    (void)state;
    char err[1024], inline_key[512];
    snprintf(inline_key, sizeof inline_key, "\"%s\"", pub_of("slash"));
    char *text = edit(design_broker_cfg, "\"keys/ops.pub\"", inline_key);
    config_t *cfg = load_broker(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    uint8_t key[32];
    key_of("slash", key);
    assert_memory_equal(cfg->agents[1].public_key, key, 32);
    config_free(&cfg);
}

static void test_config_finds_agents_by_key_and_name(void **state)
{
    (void)state;
    char err[1024];
    config_t *cfg = load_broker(design_broker_cfg, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    uint8_t key[32];
    key_of("ops", key);
    const config_agent_t *a = config_agent_by_key(cfg, key);
    assert_non_null(a);
    assert_string_equal(a->name, "ops");
    assert_ptr_equal(config_agent_by_name(cfg, "ops"), a);
    assert_ptr_equal(config_agent_by_name(cfg, "humberside-police"), &cfg->agents[0]);
    key_of("extra", key);
    assert_null(config_agent_by_key(cfg, key));
    key_of("broker", key);
    assert_null(config_agent_by_key(cfg, key));
    assert_null(config_agent_by_name(cfg, "nobody"));
    config_free(&cfg);
}

static void test_config_print_shows_every_key_and_never_the_secret(void **state)
{
    (void)state;
    char err[1024], *buf = NULL, line[512], secret[64] = "";
    size_t len = 0;
    config_t *cfg = load_broker(design_broker_cfg, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    config_print(cfg, out);
    fclose(out);

    const char *keys[] = {"listen =",
                          "data_dir =",
                          "map_size_mb = 1024;",
                          "metrics =",
                          "max_frame_bytes = 1048576;",
                          "max_topic_len = 255;",
                          "max_subs_per_agent = 64;",
                          "credit_window = 256;",
                          "heartbeat_ms = 5000;",
                          "log_level = \"info\";",
                          "secret_key",
                          "name = \"ops\";",
                          "clearance = \"SECRET\";",
                          "roles = [ \"publisher\", \"receiver\" ];",
                          "caveats = [ ];",
                          pub_of("ops"),
                          pub_of("broker")};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strstr(buf, keys[i]) == NULL)
            fail_msg("\"%s\" missing from:\n%s", keys[i], buf);

    /* The secret key's Z85 text must appear nowhere. */
    snprintf(line, sizeof line, "%s/keys/broker.key", dir);
    FILE *f = fopen(line, "r");
    assert_non_null(f);
    assert_non_null(fgets(secret, sizeof secret, f));
    fclose(f);
    secret[40] = '\0';
    assert_null(strstr(buf, secret));

    /* What it prints is broker.cfg: with the secret key named again, it
     * loads to the same configuration. */
    char to[600];
    snprintf(to, sizeof to, "secret_key = \"%s/keys/broker.key\";\n  #", dir);
    char *again = edit(buf, "# secret_key", to);
    config_t *cfg2 = load_broker(again, err, sizeof err);
    if (cfg2 == NULL)
        fail_msg("%s\n%s", err, again);
    assert_string_equal(cfg2->data_dir, cfg->data_dir);
    assert_int_equal(cfg2->n_agents, cfg->n_agents);
    assert_memory_equal(cfg2->agents[0].public_key, cfg->agents[0].public_key, 32);
    assert_int_equal(cfg2->agents[0].roles, cfg->agents[0].roles);
    assert_int_equal(cfg2->agents[0].clearance, cfg->agents[0].clearance);
    config_free(&cfg2);
    config_free(&cfg);
    free(again);
    free(buf);
}

/* ---- agent.cfg ---------------------------------------------------------- */

static void test_client_config_loads_the_design_example(void **state)
{
    (void)state;
    char err[1024], want[512];
    client_config_t *cfg = load_agent(design_agent_cfg, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_string_equal(cfg->name, "humberside-police");
    assert_string_equal(cfg->broker, "tcp://127.0.0.1:7400");
    uint8_t key[32];
    key_of("broker", key);
    assert_memory_equal(cfg->broker_public_key, key, 32);
    key_of("humberside-police", key);
    assert_memory_equal(cfg->public_key, key, 32);
    snprintf(want, sizeof want, "%s/data/humberside-police", dir);
    assert_string_equal(cfg->data_dir, want);
    snprintf(want, sizeof want, "%s/spool/humberside-police", dir);
    assert_string_equal(cfg->spool, want);
    assert_int_equal(cfg->heartbeat_ms, 5000);
    assert_string_equal(cfg->log_level, "info");
    assert_int_equal(cfg->n_subs, 1);
    assert_string_equal(cfg->subs[0].name, "regional");
    assert_string_equal(cfg->subs[0].pattern, "alert.yorkshire.>");
    snprintf(want, sizeof want, "dir:%s/inbox/humberside-police", dir);
    assert_string_equal(cfg->subs[0].sink, want);
    assert_string_equal(cfg->subs[0].durable, "regional"); /* defaults to the name */
    client_config_free(&cfg);
    assert_null(cfg);
}

static void test_client_config_loads_the_shipped_example(void **state)
{
    (void)state;
    char err[1024], path[512];
    if (!copy_example("config/agent.cfg", "shipped-agent.cfg"))
        skip();
    snprintf(path, sizeof path, "%s/shipped-agent.cfg", dir);
    client_config_t *cfg = client_config_load(path, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_string_equal(cfg->name, "humberside-police");
    assert_int_equal(cfg->n_subs, 2);
    assert_string_equal(cfg->subs[1].sink, "exec:/usr/local/bin/case-system-import");
    assert_string_equal(cfg->subs[1].durable, "national");
    client_config_free(&cfg);
}

static void test_client_config_applies_defaults(void **state)
{
    (void)state;
    char err[1024], want[512];
    client_config_t *cfg = load_agent("agent = {\n"
                                      "  name = \"ops\";\n"
                                      "  broker_public_key = \"keys/broker.pub\";\n"
                                      "  secret_key = \"keys/ops.key\";\n"
                                      "};\n",
                                      err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_string_equal(cfg->broker, "tcp://127.0.0.1:7400");
    snprintf(want, sizeof want, "%s/data/ops", dir);
    assert_string_equal(cfg->data_dir, want);
    assert_string_equal(cfg->spool, "");
    assert_int_equal(cfg->heartbeat_ms, 5000);
    assert_string_equal(cfg->log_level, "info");
    assert_int_equal(cfg->n_subs, 0);
    client_config_free(&cfg);
}

static void test_client_config_takes_stdout_and_durable_defaults(void **state)
{
    (void)state;
    char err[1024];
    char *text = edit(design_agent_cfg, "sink = \"dir:inbox/humberside-police\"; }",
                      "},\n  { name = \"live\"; pattern = \"national.>\"; durable = \"\"; }");
    client_config_t *cfg = load_agent(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->n_subs, 2);
    assert_string_equal(cfg->subs[0].sink, "stdout");
    assert_string_equal(cfg->subs[0].durable, "regional");
    assert_string_equal(cfg->subs[1].durable, ""); /* explicitly not durable */
    assert_int_equal(cfg->subs[0].n_subjects, 0);  /* no watchlist */
    assert_string_equal(cfg->subs[0].subjects_file, "");
    assert_string_equal(cfg->subs[0].where, "");
    client_config_free(&cfg);
}

static void test_client_config_refuses_bad_sink(void **state)
{
    (void)state;
    agent_refuses_edit("dir:inbox/humberside-police", "inbox/humberside-police",
                       "subscriptions[0].sink", "inbox");
    agent_refuses_edit("dir:inbox/humberside-police", "exec:", "subscriptions[0].sink", "exec:");
}

static void test_client_config_refuses_bad_pattern(void **state)
{
    (void)state;
    agent_refuses_edit("alert.yorkshire.>", "alert..yorkshire", "subscriptions[0].pattern",
                       "alert..");
}

static void test_client_config_refuses_unknown_keys(void **state)
{
    (void)state;
    agent_refuses_edit("  spool ", "  spoool ", "agent.spoool", "spoool");
    agent_refuses_edit("pattern =", "topic =", "subscriptions[0].topic", "topic");
    agent_refuses_edit("subscriptions = (", "subscription = (", "subscription", "subscription");
}

static void test_client_config_refuses_duplicate_subscription_name(void **state)
{
    (void)state;
    char *text = edit(design_agent_cfg, "\"dir:inbox/humberside-police\"; }",
                      "\"dir:inbox/humberside-police\"; },\n"
                      "  { name = \"regional\"; pattern = \"national.>\"; durable = \"n\"; }");
    agent_refuses(text, "subscriptions[1].name", "durable = \"n\"");
    free(text);
}

static void test_client_config_refuses_missing_or_bad_keys(void **state)
{
    (void)state;
    agent_refuses_edit("keys/humberside-police.key", "keys/nobody.key", "agent.secret_key",
                       "nobody");
    agent_refuses_edit("keys/broker.pub", "keys/nobody.pub", "agent.broker_public_key", "nobody");
    agent_refuses_edit("  secret_key        = \"keys/humberside-police.key\";\n", "",
                       "agent.secret_key", NULL);
}

static void test_client_config_refuses_wrong_type_and_range(void **state)
{
    (void)state;
    agent_refuses_edit("  spool ", "  heartbeat_ms = \"5s\";\n  spool ", "agent.heartbeat_ms",
                       "5s");
    agent_refuses_edit("  spool ", "  heartbeat_ms = 600001;\n  spool ", "agent.heartbeat_ms",
                       "600001");
    agent_refuses_edit("tcp://127.0.0.1:7400", "127.0.0.1:7400", "agent.broker", "127.0.0.1");
}

static void test_client_config_accepts_inline_broker_key(void **state)
{
    (void)state;
    char err[1024], to[512];
    snprintf(to, sizeof to, "\"%s\"", pub_of("broker"));
    char *text = edit(design_agent_cfg, "\"keys/broker.pub\"", to);
    client_config_t *cfg = load_agent(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    uint8_t key[32];
    key_of("broker", key);
    assert_memory_equal(cfg->broker_public_key, key, 32);
    client_config_free(&cfg);
}

static void test_client_config_names_the_line_of_a_syntax_error(void **state)
{
    (void)state;
    char err[1024], want[512];
    char *text = edit(design_agent_cfg, "  spool ", "  spool = = \"x\";\n  spool2 ");
    assert_null(load_agent(text, err, sizeof err));
    snprintf(want, sizeof want, "%s/agent.cfg:%u: ", dir, line_of(text, "= ="));
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("expected \"%s\" at the start of \"%s\"", want, err);
    free(text);
}

/* ---- agent.cfg: watchlists and filters ----------------------------------- */

/* The design example's subscription with `keys` added to it; caller frees. */
static char *with_sub_keys(const char *keys)
{
    static const char sink[] = "sink = \"dir:inbox/humberside-police\";";
    size_t n = sizeof sink + strlen(keys) + 8;
    char *to = malloc(n);
    assert_non_null(to);
    snprintf(to, n, "%s\n    %s", sink, keys);
    char *text = edit(design_agent_cfg, sink, to);
    free(to);
    return text;
}

/* Asserts text is refused naming key at the line of `at`, with `want` in
 * the reason and `secret` (when not NULL) nowhere in it. */
static void agent_refuses_quietly(const char *text, const char *key, const char *at,
                                  const char *want, const char *secret)
{
    char err[1024];
    agent_refuses(text, key, at);
    assert_null(load_agent(text, err, sizeof err));
    if (strstr(err, want) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", want, err);
    if (secret != NULL && strstr(err, secret) != NULL)
        fail_msg("the subject \"%s\" is echoed in \"%s\"", secret, err);
}

static void test_client_config_takes_a_watchlist_from_the_list_and_the_file(void **state)
{
    (void)state;
    char err[1024], want[512];
    write_file("watch.txt",
               "# the Hull watchlist\n"
               "\n"
               "  a-1234-bc  \n"
               "   # an indented comment\n"
               "John Smith\r\n"
               "\t\n"
               "pnc: 2019/123456X",
               0600);
    char *text = with_sub_keys("subjects = [ \"A1234BC\", \"name: Jo Bloggs\" ];\n"
                               "    subjects_file = \"watch.txt\";\n"
                               "    where = \"risk >= MEDIUM and origin.type in (prison, rocu)\";");
    client_config_t *cfg = load_agent(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    const client_sub_t *sub = &cfg->subs[0];
    /* The list first, then the file's lines trimmed, as written: the
     * broker normalises, and two spellings of one subject are its to join. */
    assert_int_equal(sub->n_subjects, 5);
    assert_string_equal(sub->subjects[0], "A1234BC");
    assert_string_equal(sub->subjects[1], "name: Jo Bloggs");
    assert_string_equal(sub->subjects[2], "a-1234-bc");
    assert_string_equal(sub->subjects[3], "John Smith");
    assert_string_equal(sub->subjects[4], "pnc: 2019/123456X");
    snprintf(want, sizeof want, "%s/watch.txt", dir);
    assert_string_equal(sub->subjects_file, want);
    assert_string_equal(sub->where, "risk >= MEDIUM and origin.type in (prison, rocu)");
    client_config_free(&cfg);
}

static void test_client_config_takes_either_half_of_a_watchlist_alone(void **state)
{
    (void)state;
    char err[1024];
    write_file("watch.txt", "B9999ZZ\n", 0600);
    char *text = with_sub_keys("subjects_file = \"watch.txt\";");
    client_config_t *cfg = load_agent(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->subs[0].n_subjects, 1);
    assert_string_equal(cfg->subs[0].subjects[0], "B9999ZZ");
    client_config_free(&cfg);

    text = with_sub_keys("subjects = [ \"A1234BC\" ]; where = \"risk = HIGH\";");
    cfg = load_agent(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->subs[0].n_subjects, 1);
    assert_string_equal(cfg->subs[0].subjects_file, "");
    assert_string_equal(cfg->subs[0].where, "risk = HIGH");
    client_config_free(&cfg);
}

static void test_client_config_refuses_a_subject_without_echoing_it(void **state)
{
    (void)state;
    /* Both a PNC id and a CRO number in shape: refused without a scheme. */
    char *text = with_sub_keys("subjects = [ \"A1234BC\",\n"
                               "                 \"19/12A\" ];");
    agent_refuses_quietly(text, "subscriptions[0].subjects", "\"19/12A\"",
                          "entry 2 does not normalise", "19/12A");
    free(text);
    /* A control character (a tab is a space), and a reference longer than
     * the broker takes. */
    text = with_sub_keys("subjects = [ \"Ann\\tOther\", \"Ann\\nOther\" ];");
    agent_refuses_quietly(text, "subscriptions[0].subjects", "Ann", "entry 2 does not normalise",
                          "Other");
    free(text);
    char keys[256];
    snprintf(keys, sizeof keys, "subjects = [ \"%0*d\" ];", LABEL_MAX_WORD + 1, 7);
    text = with_sub_keys(keys);
    agent_refuses_quietly(text, "subscriptions[0].subjects", "subjects = [",
                          "entry 1 is longer than 64 bytes", "0000007");
    free(text);
}

static void test_client_config_names_the_line_of_a_bad_subject_in_its_file(void **state)
{
    (void)state;
    char want[512];
    char *text = with_sub_keys("subjects = [ \"A1234BC\" ];\n"
                               "    subjects_file = \"watch.txt\";");
    write_file("watch.txt", "# header\n\nB9999ZZ\n19/12A\nC1111DD\n", 0600);
    snprintf(want, sizeof want, "%s/watch.txt:4: does not normalise", dir);
    agent_refuses_quietly(text, "subscriptions[0].subjects_file", "subjects_file", want, "19/12A");

    /* A NUL byte must not cut a line short into a good subject. */
    write_file("watch.txt", "B9999ZZ\n", 0600);
    snprintf(want, sizeof want, "%s/watch.txt", dir);
    FILE *f = fopen(want, "a");
    assert_non_null(f);
    fwrite("C1111DD\0rest\n", 1, 13, f);
    fclose(f);
    snprintf(want, sizeof want, "%s/watch.txt:2: holds a NUL byte", dir);
    agent_refuses_quietly(text, "subscriptions[0].subjects_file", "subjects_file", want, "C1111DD");

    char line[400];
    memset(line, 'x', 300);
    strcpy(line + 300, "\n");
    write_file("watch.txt", line, 0600);
    snprintf(want, sizeof want, "%s/watch.txt:1: is longer than", dir);
    agent_refuses_quietly(text, "subscriptions[0].subjects_file", "subjects_file", want, "xxxx");

    snprintf(want, sizeof want, "%s/watch.txt", dir);
    unlink(want);
    agent_refuses_quietly(text, "subscriptions[0].subjects_file", "subjects_file", "cannot read",
                          NULL);
    free(text);
}

/* n prison numbers A0000BC, A0001BC, ... one a line; caller frees. */
static char *numbers(size_t from, size_t n, const char *sep)
{
    char *out = malloc(n * 16 + 1);
    assert_non_null(out);
    size_t len = 0;
    for (size_t i = from; i < from + n; i++)
        len += (size_t)sprintf(out + len, "%s\"A%04zuBC\"", i > from ? sep : "", i);
    out[len] = '\0';
    return out;
}

static void test_client_config_refuses_more_subjects_than_the_broker_watches(void **state)
{
    (void)state;
    char err[1024];
    /* Exactly the limit, list and file together. */
    char *file = numbers(1, CLIENT_SUB_MAX_WATCH - 1, "\n");
    for (char *p = file; *p; p++)
        if (*p == '"')
            *p = ' ';
    write_file("watch.txt", file, 0600);
    free(file);
    char *text = with_sub_keys("subjects = [ \"A0000BC\" ]; subjects_file = \"watch.txt\";");
    client_config_t *cfg = load_agent(text, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->subs[0].n_subjects, CLIENT_SUB_MAX_WATCH);
    assert_string_equal(cfg->subs[0].subjects[CLIENT_SUB_MAX_WATCH - 1], "A9999BC");
    client_config_free(&cfg);
    free(text);

    /* One more in the list: the file's last line is one too many. */
    text = with_sub_keys("subjects = [ \"A0000BC\", \"B0000BC\" ]; subjects_file = \"watch.txt\";");
    char want[512];
    snprintf(want, sizeof want, "%s/watch.txt:%d: more than %d subjects", dir,
             CLIENT_SUB_MAX_WATCH - 1, CLIENT_SUB_MAX_WATCH);
    agent_refuses_quietly(text, "subscriptions[0].subjects_file", "subjects_file", want, NULL);
    free(text);

    /* The list alone, over the limit. */
    char *list = numbers(0, CLIENT_SUB_MAX_WATCH + 1, ", ");
    char *keys = malloc(strlen(list) + 64);
    assert_non_null(keys);
    sprintf(keys, "subjects = [ %s ];", list);
    text = with_sub_keys(keys);
    agent_refuses_quietly(text, "subscriptions[0].subjects", "subjects = [", "more than 10000",
                          NULL);
    free(text);
    free(keys);
    free(list);
}

static void test_client_config_refuses_an_empty_watchlist(void **state)
{
    (void)state;
    write_file("watch.txt", "# nobody yet\n\n", 0600);
    char *text = with_sub_keys("subjects_file = \"watch.txt\";");
    agent_refuses_quietly(text, "subscriptions[0].subjects_file", "subjects_file", "no subjects",
                          NULL);
    free(text);
    text = with_sub_keys("subjects = [ ];");
    agent_refuses_quietly(text, "subscriptions[0].subjects", "subjects", "no subjects", NULL);
    free(text);
}

static void test_client_config_refuses_a_bad_where_naming_the_column(void **state)
{
    (void)state;
    char *text = with_sub_keys("where = \"risk >= MEDIUM and riks = LOW\";");
    agent_refuses_quietly(text, "subscriptions[0].where", "riks", "column 20: unknown field 'riks'",
                          NULL);
    free(text);
    text = with_sub_keys("where = \"risk >=\";");
    agent_refuses_quietly(text, "subscriptions[0].where", "risk >=", "column 8: ", NULL);
    free(text);
    text = with_sub_keys("where = \"risk = SEVERE\";");
    agent_refuses_quietly(text, "subscriptions[0].where", "SEVERE", "column 8: ", NULL);
    free(text);
}

/* ---- fixture ------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    char rel[512], text[512], sec[41];
    snprintf(dir, sizeof dir, "/tmp/liaison-test-config-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(rel, sizeof rel, "%s/keys", dir);
    if (mkdir(rel, 0700) != 0)
        return -1;
    for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++) {
        /* Z85 uses '/', so about a third of keys contain one. Every key
         * here is drawn without, except "slash", which has one on purpose:
         * an inline key must not be mistaken for a path because of it. */
        int want_slash = strcmp(key_names[i], "slash") == 0;
        do {
            if (zmq_curve_keypair(z85_pub[i], sec) != 0)
                return -1;
        } while ((strchr(z85_pub[i], '/') != NULL) != want_slash);
        snprintf(rel, sizeof rel, "keys/%s.pub", key_names[i]);
        snprintf(text, sizeof text, "%s\n", z85_pub[i]);
        write_file(rel, text, 0644);
        snprintf(rel, sizeof rel, "keys/%s.key", key_names[i]);
        snprintf(text, sizeof text, "%s\n", sec);
        write_file(rel, text, 0600);
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_config_refuses_an_endpoint_without_a_port(void **state)
{
    (void)state;
    refuses_edit("\"tcp://127.0.0.1:7400\"", "\"tcp://127.0.0.1\"", "broker.listen", "listen");
    refuses_edit("\"tcp://127.0.0.1:7400\"", "\"tcp://[::1]\"", "broker.listen", "listen");
    refuses_edit("\"tcp://127.0.0.1:7400\"", "\"tcp://127.0.0.1:\"", "broker.listen", "listen");
    refuses_edit("\"tcp://127.0.0.1:7400\"", "\"tcp://127.0.0.1:99999\"", "broker.listen",
                 "listen");
    char *text =
        edit(design_broker_cfg, "\n);\n",
             "\n);\nuplinks = ( { name = \"up\"; broker = \"tcp://national.example\";\n"
             "  broker_public_key = \"keys/extra.pub\"; forward = [ \"alert.>\" ]; } );\n");
    refuses(text, "uplinks[0].broker", "tcp://national");
    free(text);
    agent_refuses_edit("\"tcp://127.0.0.1:7400\"", "\"tcp://127.0.0.1\"", "agent.broker", "tcp://");
}

static void test_config_accepts_endpoints_with_their_ports(void **state)
{
    (void)state;
    char err[1024];
    const char *ok[] = {"tcp://*:7400", "tcp://[::1]:7400", "tcp://broker.example:7400",
                        "ipc:///run/liaison/broker"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char to[128];
        snprintf(to, sizeof to, "\"%s\"", ok[i]);
        char *text = edit(design_broker_cfg, "\"tcp://127.0.0.1:7400\"", to);
        config_t *cfg = load_broker(text, err, sizeof err);
        free(text);
        if (cfg == NULL)
            fail_msg("%s: %s", ok[i], err);
        config_free(&cfg);
    }
}

static void test_config_refuses_inverted_validity_dates(void **state)
{
    (void)state;
    char *text = with_agent("{ name = \"extra\"; agency = \"Extra\"; type = \"police\"; "
                            "region = \"yorkshire\"; public_key = \"keys/extra.pub\";\n"
                            "    roles = [ \"receiver\" ];\n"
                            "    valid_from = \"2026-03-01\"; valid_to = \"2026-02-28\"; }");
    refuses(text, "agents[2].valid_from", "valid_from");
    free(text);
    /* One day is a valid span: a bare valid_to includes its day. */
    char err[1024];
    text = with_agent("{ name = \"extra\"; agency = \"Extra\"; type = \"police\"; "
                      "region = \"yorkshire\"; public_key = \"keys/extra.pub\";\n"
                      "    roles = [ \"receiver\" ];\n"
                      "    valid_from = \"2026-03-01\"; valid_to = \"2026-03-01\"; }");
    config_t *cfg = load_broker(text, err, sizeof err);
    free(text);
    if (cfg == NULL)
        fail_msg("%s", err);
    config_free(&cfg);
}

static void test_config_refuses_metrics_off_loopback_without_a_token(void **state)
{
    (void)state;
    char err[1024];
    refuses_edit("\"127.0.0.1:9740\"", "\"0.0.0.0:9740\"", "broker.metrics", "metrics");
    refuses_edit("\"127.0.0.1:9740\"", "\"10.1.2.3:9740\"", "broker.metrics", "metrics");
    refuses_edit("\"127.0.0.1:9740\"", "\"*:9740\"", "broker.metrics", "metrics");
    const char *ok[] = {"\"localhost:9740\"", "\"[::1]:9740\"", "\"127.0.0.2:9740\"",
                        "\"0.0.0.0:9740\"; metrics_token = \"0123456789abcdef0123\""};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *text = edit(design_broker_cfg, "\"127.0.0.1:9740\"", ok[i]);
        config_t *cfg = load_broker(text, err, sizeof err);
        free(text);
        if (cfg == NULL)
            fail_msg("%s: %s", ok[i], err);
        config_free(&cfg);
    }
}

static void test_client_config_refuses_an_exec_sink_that_cannot_run(void **state)
{
    (void)state;
    char err[1024], plain[512];
    snprintf(plain, sizeof plain, "exec:%s/not-executable", dir);
    write_file("not-executable", "#!/bin/sh\n", 0644);
    const char *bad[] = {"exec:/nonexistent/case-import --all", "exec:no-such-command-here x",
                         plain};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *sink = bad[i];
        char *text = edit(design_agent_cfg, "dir:inbox/humberside-police", sink);
        client_config_t *cfg = load_agent(text, err, sizeof err);
        if (cfg == NULL)
            fail_msg("%s: %s", sink, err);
        /* Loading is enough for liaisonctl, which runs no sink; the agent
         * checks that its commands can run. */
        assert_int_equal(client_config_check_sinks(cfg, err, sizeof err), -1);
        assert_names(err, "agent.cfg", text, "subscriptions[0].sink", "sink =");
        client_config_free(&cfg);
        free(text);
    }
    const char *good[] = {
        "exec:sh -c 'cat >/dev/null'", "exec:cat >/dev/null", "exec:/bin/true",
        "exec:FOO=1 whatever",         "exec:exit 0",         "exec:$HOME/bin/import"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *text = edit(design_agent_cfg, "dir:inbox/humberside-police", good[i]);
        client_config_t *cfg = load_agent(text, err, sizeof err);
        free(text);
        if (cfg == NULL)
            fail_msg("%s: %s", good[i], err);
        if (client_config_check_sinks(cfg, err, sizeof err) != 0)
            fail_msg("%s: %s", good[i], err);
        client_config_free(&cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_loads_the_design_example_with_its_defaults),
        cmocka_unit_test(test_config_loads_the_shipped_example),
        cmocka_unit_test(test_config_refuses_unknown_broker_key),
        cmocka_unit_test(test_config_refuses_a_file_with_a_nul_byte),
        cmocka_unit_test(test_config_refuses_unknown_agent_key),
        cmocka_unit_test(test_config_refuses_unknown_top_level_key),
        cmocka_unit_test(test_config_refuses_wrong_type),
        cmocka_unit_test(test_config_refuses_value_out_of_range),
        cmocka_unit_test(test_config_accepts_the_limits_themselves),
        cmocka_unit_test(test_config_refuses_unknown_classification),
        cmocka_unit_test(test_config_accepts_top_secret_with_a_space),
        cmocka_unit_test(test_config_gives_official_when_clearance_is_absent),
        cmocka_unit_test(test_config_refuses_unknown_role),
        cmocka_unit_test(test_config_refuses_agent_without_roles),
        cmocka_unit_test(test_config_refuses_unknown_agency_type),
        cmocka_unit_test(test_config_refuses_bad_agent_name_and_region),
        cmocka_unit_test(test_config_refuses_bad_caveat),
        cmocka_unit_test(test_config_refuses_duplicate_agent_name),
        cmocka_unit_test(test_config_refuses_duplicate_public_key),
        cmocka_unit_test(test_config_refuses_agent_holding_the_broker_key),
        cmocka_unit_test(test_config_refuses_missing_key_file),
        cmocka_unit_test(test_config_refuses_a_file_that_is_not_a_key),
        cmocka_unit_test(test_config_refuses_missing_required_key),
        cmocka_unit_test(test_config_refuses_bad_pattern),
        cmocka_unit_test(test_config_refuses_pattern_longer_than_max_topic_len),
        cmocka_unit_test(test_config_refuses_auditor_who_publishes),
        cmocka_unit_test(test_config_refuses_auditor_who_receives),
        cmocka_unit_test(test_config_accepts_auditor_who_is_also_operator),
        cmocka_unit_test(test_config_names_the_line_of_a_syntax_error),
        cmocka_unit_test(test_config_refuses_a_missing_file),
        cmocka_unit_test(test_config_refuses_bad_listen_metrics_and_log_level),
        cmocka_unit_test(test_config_accepts_disabled_metrics_and_ipc),
        cmocka_unit_test(test_config_refuses_an_endpoint_without_a_port),
        cmocka_unit_test(test_config_accepts_endpoints_with_their_ports),
        cmocka_unit_test(test_config_refuses_inverted_validity_dates),
        cmocka_unit_test(test_config_refuses_metrics_off_loopback_without_a_token),
        cmocka_unit_test(test_client_config_refuses_an_exec_sink_that_cannot_run),
        cmocka_unit_test(test_config_accepts_inline_z85_public_key),
        cmocka_unit_test(test_config_accepts_inline_key_containing_a_slash),
        cmocka_unit_test(test_config_finds_agents_by_key_and_name),
        cmocka_unit_test(test_config_print_shows_every_key_and_never_the_secret),
        cmocka_unit_test(test_client_config_loads_the_design_example),
        cmocka_unit_test(test_client_config_loads_the_shipped_example),
        cmocka_unit_test(test_client_config_applies_defaults),
        cmocka_unit_test(test_client_config_takes_stdout_and_durable_defaults),
        cmocka_unit_test(test_client_config_refuses_bad_sink),
        cmocka_unit_test(test_client_config_refuses_bad_pattern),
        cmocka_unit_test(test_client_config_refuses_unknown_keys),
        cmocka_unit_test(test_client_config_refuses_duplicate_subscription_name),
        cmocka_unit_test(test_client_config_refuses_missing_or_bad_keys),
        cmocka_unit_test(test_client_config_refuses_wrong_type_and_range),
        cmocka_unit_test(test_client_config_accepts_inline_broker_key),
        cmocka_unit_test(test_client_config_names_the_line_of_a_syntax_error),
        cmocka_unit_test(test_client_config_takes_a_watchlist_from_the_list_and_the_file),
        cmocka_unit_test(test_client_config_takes_either_half_of_a_watchlist_alone),
        cmocka_unit_test(test_client_config_refuses_a_subject_without_echoing_it),
        cmocka_unit_test(test_client_config_names_the_line_of_a_bad_subject_in_its_file),
        cmocka_unit_test(test_client_config_refuses_more_subjects_than_the_broker_watches),
        cmocka_unit_test(test_client_config_refuses_an_empty_watchlist),
        cmocka_unit_test(test_client_config_refuses_a_bad_where_naming_the_column),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
