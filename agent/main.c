/* main.c — liaison-agent's command line: load and check agent.cfg, print a
 * summary for --check-config, or run the agent.
 * Not responsible for anything the agent does once running (agent.c). */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "client_config.h"
#include "log.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: liaison-agent -c agent.cfg [--check-config]\n"
                 "  -c FILE          the agent configuration (libconfig syntax)\n"
                 "  --check-config   validate FILE, name the bad line or key, and exit\n"
                 "signals: SIGHUP reloads subscriptions; SIGTERM or SIGINT drains and stops\n"
                 "exit status: 0 done, 1 failed, 2 bad usage\n");
}

static void summary(const client_config_t *cfg)
{
    printf("%s: ok\n", cfg->path);
    printf("  agent %s, broker %s\n", cfg->name, cfg->broker);
    printf("  data_dir %s\n", cfg->data_dir);
    printf("  spool %s\n", cfg->spool && cfg->spool[0] ? cfg->spool : "(none)");
    for (size_t i = 0; i < cfg->n_subs; i++) {
        const client_sub_t *s = &cfg->subs[i];
        printf("  subscription %s: %s -> %s (durable %s)\n", s->name, s->pattern, s->sink,
               s->durable[0] ? s->durable : "none");
        /* How many subjects, never which: this summary goes to terminals
         * and tickets. */
        if (s->n_subjects > 0)
            printf("    watching %zu subject%s%s%s\n", s->n_subjects, s->n_subjects == 1 ? "" : "s",
                   s->subjects_file[0] ? ", subjects_file " : "", s->subjects_file);
        if (s->where[0] != '\0')
            printf("    where %s\n", s->where);
    }
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int check = 0;
    log_set_program("liaison-agent");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        usage(stderr);
        return 2;
    }
    char err[512];
    client_config_t *cfg = client_config_load(path, err, sizeof err);
    /* The same check at start as for --check-config: a sink that cannot
     * run would otherwise fail, and nack, every delivery. */
    if (cfg != NULL && client_config_check_sinks(cfg, err, sizeof err) != 0)
        client_config_free(&cfg);
    if (cfg == NULL) {
        fprintf(stderr, "liaison-agent: %s\n", err);
        return 1;
    }
    if (check) {
        summary(cfg);
        client_config_free(&cfg);
        return 0;
    }
    int level = log_level_parse(cfg->log_level);
    log_set_level(level < 0 ? LOG_INFO : (enum log_level)level);
    return agent_run(cfg);
}
