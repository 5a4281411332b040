/* test_reload.c — what a SIGHUP says it changed (broker/reload.c): two
 * broker.cfg files loaded for real (with real key files in a temporary
 * directory) and compared, agent by agent and restart-only key by key.
 * Not covered here: applying the reload (scenario 56 does, on the broker). */
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

#include "config.h"
#include "reload.h"

static char dir[256];

static const char *const key_names[] = {"broker", "broker2", "force", "rocu", "prison", "link"};

/* Three agents and a downstream broker's link; each test edits a copy. */
static const char base_cfg[] =
    "broker = { listen = \"tcp://127.0.0.1:7400\"; secret_key = \"keys/broker.key\";\n"
    "  data_dir = \"data\"; metrics = \"\"; };\n"
    "agents = (\n"
    "  { name = \"force\"; agency = \"Humberside Police\"; type = \"police\"; region = "
    "\"yorkshire\";\n"
    "    public_key = \"keys/force.pub\"; clearance = \"SECRET\"; caveats = [ \"UK-EYES-ONLY\" ];\n"
    "    roles = [ \"publisher\", \"receiver\" ]; publish = [ \"alert.force.>\" ];\n"
    "    subscribe = [ \"alert.yorkshire.>\" ]; },\n"
    "  { name = \"rocu\"; agency = \"Yorkshire ROCU\"; type = \"rocu\"; region = \"yorkshire\";\n"
    "    public_key = \"keys/rocu.pub\"; roles = [ \"receiver\" ]; subscribe = [ \"alert.>\" ]; "
    "},\n"
    "  { name = \"link\"; agency = \"Lower broker\"; type = \"broker\"; region = \"yorkshire\";\n"
    "    public_key = \"keys/link.pub\"; roles = [ \"publisher\" ]; publish = [ \"alert.>\" ];\n"
    "    speaks_for = [ \"Humberside Police\" ]; }\n"
    ");\n";

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

static config_t *load(const char *text)
{
    char path[512], err[1024];
    write_file("broker.cfg", text, 0644);
    snprintf(path, sizeof path, "%s/broker.cfg", dir);
    config_t *cfg = config_load(path, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    return cfg;
}

/* The diff from base_cfg to base_cfg edited once; caller frees. */
static reload_diff_t *diff_edit(const char *from, const char *to)
{
    char *text = edit(base_cfg, from, to);
    config_t *a = load(base_cfg), *b = load(text);
    free(text);
    reload_diff_t *d = reload_diff(a, b);
    config_free(&a);
    config_free(&b);
    assert_non_null(d);
    return d;
}

/* The one agent change d holds, which must be for name. */
static const struct reload_agent *only_agent(const reload_diff_t *d, const char *name)
{
    if (d->n_agents != 1)
        fail_msg("expected one changed agent, got %zu", d->n_agents);
    assert_string_equal(d->agents[0].name, name);
    return &d->agents[0];
}

static void assert_has(const char *s, const char *needle)
{
    if (strstr(s, needle) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", needle, s);
}

/* ---- agents ----------------------------------------------------------------- */

static void test_reload_names_a_lowered_clearance_and_an_added_caveat(void **state)
{
    (void)state;
    reload_diff_t *d = diff_edit(
        "clearance = \"SECRET\"; caveats = [ \"UK-EYES-ONLY\" ];",
        "clearance = \"OFFICIAL-SENSITIVE\"; caveats = [ \"UK-EYES-ONLY\", \"PRISON\" ];");
    const struct reload_agent *a = only_agent(d, "force");
    assert_string_equal(a->change, "clearance,caveats");
    assert_string_equal(a->detail, "clearance=SECRET->OFFICIAL-SENSITIVE caveats=+PRISON");
    assert_int_equal(d->n_keys, 0);
    reload_diff_free(&d);
    assert_null(d);
}

static void test_reload_says_nothing_when_nothing_changed(void **state)
{
    (void)state;
    reload_diff_t *d = diff_edit("rocu", "rocu");
    assert_int_equal(d->n_agents, 0);
    assert_int_equal(d->n_keys, 0);
    reload_diff_free(&d);
}

static void test_reload_names_added_and_removed_agents(void **state)
{
    (void)state;
    reload_diff_t *d = diff_edit("name = \"rocu\"; agency = \"Yorkshire ROCU\"; type = \"rocu\"; "
                                 "region = \"yorkshire\";\n    public_key = \"keys/rocu.pub\";",
                                 "name = \"prison\"; agency = \"HMP Hull\"; type = \"prison\"; "
                                 "region = \"yorkshire\";\n    public_key = \"keys/prison.pub\";");
    assert_int_equal(d->n_agents, 2);
    assert_string_equal(d->agents[0].name, "rocu");
    assert_string_equal(d->agents[0].change, "removed");
    assert_string_equal(d->agents[1].name, "prison");
    assert_string_equal(d->agents[1].change, "added");
    assert_string_equal(d->agents[1].detail, "type=prison clearance=OFFICIAL roles=receiver");
    reload_diff_free(&d);
}

static void test_reload_names_a_revocation_and_its_undoing(void **state)
{
    (void)state;
    reload_diff_t *d = diff_edit("roles = [ \"receiver\" ]; subscribe",
                                 "revoked = true; roles = [ \"receiver\" ]; "
                                 "subscribe");
    assert_string_equal(only_agent(d, "rocu")->change, "revoked");
    reload_diff_free(&d);

    char *text = edit(base_cfg, "roles = [ \"receiver\" ]; subscribe",
                      "revoked = true; roles = [ \"receiver\" ]; subscribe");
    config_t *a = load(text), *b = load(base_cfg);
    free(text);
    d = reload_diff(a, b);
    assert_string_equal(only_agent(d, "rocu")->change, "unrevoked");
    reload_diff_free(&d);
    config_free(&a);
    config_free(&b);
}

static void test_reload_names_a_changed_key(void **state)
{
    (void)state;
    reload_diff_t *d = diff_edit("keys/rocu.pub", "keys/prison.pub");
    assert_string_equal(only_agent(d, "rocu")->change, "key");
    reload_diff_free(&d);
}

static void test_reload_names_roles_and_patterns_added_and_removed(void **state)
{
    (void)state;
    reload_diff_t *d = diff_edit("roles = [ \"publisher\", \"receiver\" ]; publish = [ "
                                 "\"alert.force.>\" ];\n    subscribe = [ \"alert.yorkshire.>\" ];",
                                 "roles = [ \"receiver\", \"query\" ]; publish = [ ];\n"
                                 "    subscribe = [ \"alert.yorkshire.>\", \"national.>\" ];");
    const struct reload_agent *a = only_agent(d, "force");
    assert_string_equal(a->change, "roles,publish,subscribe");
    assert_string_equal(a->detail,
                        "roles=+query,-publisher publish=-alert.force.> subscribe=+national.>");
    reload_diff_free(&d);
}

static void test_reload_names_changed_validity_dates(void **state)
{
    (void)state;
    reload_diff_t *d = diff_edit("roles = [ \"receiver\" ]; subscribe",
                                 "valid_to = \"2030-01-31\"; roles = [ \"receiver\" ]; subscribe");
    const struct reload_agent *a = only_agent(d, "rocu");
    assert_string_equal(a->change, "valid_to");
    assert_string_equal(a->detail, "valid_to=none->2030-01-31");
    reload_diff_free(&d);
}

static void test_reload_names_what_a_broker_link_speaks_for(void **state)
{
    (void)state;
    reload_diff_t *d =
        diff_edit("speaks_for = [ \"Humberside Police\" ];", "speaks_for = [ \"HMP Hull\" ];");
    const struct reload_agent *a = only_agent(d, "link");
    assert_string_equal(a->change, "speaks_for");
    /* Display names hold spaces: the value is quoted as one logfmt value. */
    assert_string_equal(a->detail, "speaks_for=\"+HMP Hull,-Humberside Police\"");
    reload_diff_free(&d);
}

static void test_reload_keeps_the_detail_bounded(void **state)
{
    (void)state;
    char many[4096] = "subscribe = [ \"alert.>\"";
    for (int i = 0; i < 100; i++) {
        size_t n = strlen(many);
        snprintf(many + n, sizeof many - n, ", \"topic-number-%d.>\"", i);
    }
    strcat(many, " ]; }");
    reload_diff_t *d = diff_edit("subscribe = [ \"alert.>\" ]; }", many);
    const struct reload_agent *a = only_agent(d, "rocu");
    assert_true(strlen(a->detail) <= RELOAD_TEXT_MAX);
    assert_has(a->detail, "subscribe=+topic-number-0.>,");
    assert_string_equal(a->detail + strlen(a->detail) - 3, "...");
    reload_diff_free(&d);
}

/* ---- restart-only keys -------------------------------------------------------- */

static void test_reload_names_each_restart_only_key_that_changed(void **state)
{
    (void)state;
    reload_diff_t *d =
        diff_edit("listen = \"tcp://127.0.0.1:7400\"; secret_key = "
                  "\"keys/broker.key\";\n  data_dir = \"data\";",
                  "listen = \"tcp://127.0.0.1:7401\"; secret_key = "
                  "\"keys/broker.key\";\n  data_dir = \"data2\"; heartbeat_ms = 900;");
    assert_int_equal(d->n_agents, 0);
    /* heartbeat_ms applies on SIGHUP: not named. */
    assert_int_equal(d->n_keys, 2);
    assert_string_equal(d->keys[0].key, "listen");
    assert_string_equal(d->keys[0].old, "tcp://127.0.0.1:7400");
    assert_string_equal(d->keys[0].neu, "tcp://127.0.0.1:7401");
    assert_string_equal(d->keys[1].key, "data_dir");
    assert_has(d->keys[1].old, "/data");
    assert_has(d->keys[1].neu, "/data2");
    reload_diff_free(&d);
}

static void test_reload_shows_a_new_broker_key_by_its_public_half_only(void **state)
{
    (void)state;
    char pub1[64], pub2[64], path[512];
    reload_diff_t *d = diff_edit("keys/broker.key", "keys/broker2.key");
    /* Unnamed, the broker is named after its key: the name changes too. */
    assert_int_equal(d->n_keys, 2);
    assert_string_equal(d->keys[0].key, "name");
    assert_string_equal(d->keys[1].key, "secret_key");
    snprintf(path, sizeof path, "%s/keys/broker.pub", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(pub1, sizeof pub1, f));
    fclose(f);
    snprintf(path, sizeof path, "%s/keys/broker2.pub", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(pub2, sizeof pub2, f));
    fclose(f);
    pub1[40] = pub2[40] = '\0';
    assert_has(d->keys[1].old, pub1);
    assert_has(d->keys[1].neu, pub2);
    reload_diff_free(&d);
}

static void test_reload_never_shows_a_metrics_token(void **state)
{
    (void)state;
    reload_diff_t *d =
        diff_edit("metrics = \"\";", "metrics = \"\"; metrics_token = \"abcdefghijklmnop0123\";");
    assert_int_equal(d->n_keys, 1);
    assert_string_equal(d->keys[0].key, "metrics_token");
    assert_string_equal(d->keys[0].old, "(none)");
    assert_string_equal(d->keys[0].neu, "(set)");
    reload_diff_free(&d);
}

static void test_reload_keeps_the_running_value_of_restart_only_keys(void **state)
{
    (void)state;
    char *text = edit(base_cfg, "tcp://127.0.0.1:7400", "tcp://127.0.0.1:7409");
    config_t *running = load(base_cfg), *fresh = load(text);
    free(text);
    config_keep_restart_values(fresh, running);
    assert_string_equal(fresh->listen, "tcp://127.0.0.1:7400");
    config_free(&running);
    /* Compared again after the swap, the file still differs from what runs. */
    text = edit(base_cfg, "tcp://127.0.0.1:7400", "tcp://127.0.0.1:7409");
    config_t *again = load(text);
    free(text);
    reload_diff_t *d = reload_diff(fresh, again);
    assert_int_equal(d->n_keys, 1);
    assert_string_equal(d->keys[0].key, "listen");
    reload_diff_free(&d);
    config_free(&fresh);
    config_free(&again);
}

/* ---- fixture ---------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    char rel[512], text[128], sec[41], pub[41];
    snprintf(dir, sizeof dir, "/tmp/liaison-test-reload-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(rel, sizeof rel, "%s/keys", dir);
    if (mkdir(rel, 0700) != 0)
        return -1;
    for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++) {
        if (zmq_curve_keypair(pub, sec) != 0)
            return -1;
        snprintf(rel, sizeof rel, "keys/%s.pub", key_names[i]);
        snprintf(text, sizeof text, "%s\n", pub);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_names_a_lowered_clearance_and_an_added_caveat),
        cmocka_unit_test(test_reload_says_nothing_when_nothing_changed),
        cmocka_unit_test(test_reload_names_added_and_removed_agents),
        cmocka_unit_test(test_reload_names_a_revocation_and_its_undoing),
        cmocka_unit_test(test_reload_names_a_changed_key),
        cmocka_unit_test(test_reload_names_roles_and_patterns_added_and_removed),
        cmocka_unit_test(test_reload_names_changed_validity_dates),
        cmocka_unit_test(test_reload_names_what_a_broker_link_speaks_for),
        cmocka_unit_test(test_reload_keeps_the_detail_bounded),
        cmocka_unit_test(test_reload_names_each_restart_only_key_that_changed),
        cmocka_unit_test(test_reload_shows_a_new_broker_key_by_its_public_half_only),
        cmocka_unit_test(test_reload_never_shows_a_metrics_token),
        cmocka_unit_test(test_reload_keeps_the_running_value_of_restart_only_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
