/* fuzz_config.c — libFuzzer harness for the two configuration files: the
 * input is written to broker.cfg and to agent.cfg in a temporary directory
 * and loaded by config_load (broker/config.c) and client_config_load
 * (common/client_config.c), both through the table-driven engine
 * (common/cfg.c, libconfig).
 * The directory holds, made once at start, the key files the example
 * configs in config/ name (keys/broker.key and .pub, a pair for each
 * example agent, keys/audit.sign.key), so a mutated example reaches past
 * its keys; a config naming any other file is refused, which is fine.
 * Invariants beyond "no crash, no leak": every refusal names a reason
 * (err non-empty); a loaded broker config prints
 * (config_print, as --print-config does) and every agent it holds is found
 * by its name and by its key.
 * Not responsible for: what the configuration permits (fuzz_broker.c).
 *
 *   make fuzz          at length, corpus in build/fuzz/corpus/config
 *   make fuzz-smoke    FUZZ_RUNS runs over tests/fuzz/seeds/config */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_config.h"
#include "config.h"
#include "keys.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);

/* Debian's libconfig 1.5 leaks, on some syntax errors, the token its
 * scanner had allocated: the string being built (strbuf_append) or a
 * token copied by the lexer (libconfig_yylex). A plain config_read_file
 * and config_destroy on the same text leaks the same, and those two
 * functions allocate nothing our code or the settings tree owns, so only
 * they are suppressed: a leak of anything else still fails the run.
 * Inputs: tests/fuzz/crashes/config/leak-libconfig-*, NOTE.md there. */
const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

/* Those leaks make libFuzzer run LeakSanitizer after most inputs (it
 * checks whenever an input's mallocs and frees differ), which takes the
 * harness from thousands of runs a second to about 150. `make fuzz` and
 * `make fuzz-smoke` therefore fuzz it with -detect_leaks=0 and then run
 * the whole corpus once with leak detection on (-runs=0). Here only the
 * suppression report is kept quiet. */
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}

/* Like assert, but never compiled out, and names the broken invariant. */
#define check(ok)                                                                                  \
    do {                                                                                           \
        if (!(ok)) {                                                                               \
            fprintf(stderr, "fuzz_config.c:%d: invariant failed: %s\n", __LINE__, #ok);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char dir[256];
static char broker_path[320], agent_path[320];

/* Every key pair config/broker.cfg and config/agent.cfg name. */
static const char *const pairs[] = {"broker",  "humberside-police", "yorkshire-rocu", "ops",
                                    "marsoc",  "hmp-hull",          "audit",          "agent",
                                    "operator"};

/* A file per input (written whole each time) on tmpfs where there is one:
 * the files are rewritten for every run. */
static const char *tmp_base(void)
{
    struct stat st;
    const char *t = getenv("TMPDIR");
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
        return "/dev/shm";
    return t && t[0] ? t : "/tmp";
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* libFuzzer ends with exit(): the directory goes with it (not after a
 * crash, when what it held may matter). */
static void cleanup(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The directory and its key files; again if they vanish. */
static void make_dir(void)
{
    char err[512], keys[300];
    snprintf(dir, sizeof dir, "%s/liaison-fuzz-config-XXXXXX", tmp_base());
    check(mkdtemp(dir) != NULL);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (keys_generate(keys, pairs[i], err, sizeof err) != 0) {
            fprintf(stderr, "fuzz_config: keygen: %s\n", err);
            abort();
        }
    if (keys_generate_signing(keys, "audit", err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_config: keygen: %s\n", err);
        abort();
    }
    snprintf(broker_path, sizeof broker_path, "%s/broker.cfg", dir);
    snprintf(agent_path, sizeof agent_path, "%s/agent.cfg", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    make_dir();
    atexit(cleanup);
    return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    check(fp != NULL);
    check(fwrite(data, 1, size, fp) == size);
    check(fclose(fp) == 0);
}

/* A refusal names a reason. It is not held to one line: the reasons quote
 * the value they refuse, and a libconfig string may hold a newline (see
 * tests/fuzz/crashes/config/NOTE.md). */
static void refused(const char *err)
{
    if (err[0] == '\0')
        fprintf(stderr, "fuzz_config: a refusal without a reason\n");
    check(err[0] != '\0');
}

static void broker_config(void)
{
    char err[512];
    memset(err, 0, sizeof err);
    config_t *cfg = config_load(broker_path, err, sizeof err);
    if (cfg == NULL) {
        refused(err);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    check(out != NULL);
    config_print(cfg, out);
    check(fclose(out) == 0);
    check(len > 0);
    free(text);
    for (size_t i = 0; i < cfg->n_agents; i++) {
        const config_agent_t *a = &cfg->agents[i];
        check(config_agent_by_name(cfg, a->name) == a);
        check(config_agent_by_key(cfg, a->public_key) == a);
    }
    config_free(&cfg);
    check(cfg == NULL);
}

static void agent_config(void)
{
    char err[512];
    memset(err, 0, sizeof err);
    client_config_t *cfg = client_config_load(agent_path, err, sizeof err);
    if (cfg == NULL) {
        refused(err);
        return;
    }
    for (size_t i = 0; i < cfg->n_subs; i++)
        check(cfg->subs[i].name && cfg->subs[i].pattern && cfg->subs[i].sink);
    client_config_free(&cfg);
    check(cfg == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A shared temporary directory can be swept by others (a long run lost
     * its directory once): make it again rather than report a crash. */
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "fuzz_config: %s has gone; making a new one\n", dir);
        make_dir();
    }
    /* Both files first: an @include of either then reads this input, never
     * a previous one. */
    write_file(broker_path, data, size);
    write_file(agent_path, data, size);
    broker_config();
    agent_config();
    return 0;
}
