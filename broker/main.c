/* main.c — liaison-broker's command line: load and check the config, set
 * up signals (handlers only set flags), and run the loop.
 * Not responsible for anything the loop does. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "loop.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: liaison-broker -c broker.cfg [--check-config | --print-config | "
                 "--reindex]\n"
                 "  -c FILE          the broker configuration (libconfig syntax)\n"
                 "  --check-config   validate FILE, name the bad line or key, and exit\n"
                 "  --print-config   print the effective configuration and exit\n"
                 "  --reindex        rebuild the subject index under subject_key (the broker\n"
                 "                   stopped), and exit\n"
                 "exit status: 0 done, 1 failed, 2 bad usage\n");
}

static void on_stop(int sig)
{
    (void)sig;
    loop_stop_flag = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    loop_reload_flag = 1;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int check = 0, print = 0, reindex = 0;
    log_set_program("liaison-broker");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "--print-config") == 0) {
            print = 1;
        } else if (strcmp(argv[i], "--reindex") == 0) {
            reindex = 1;
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
    config_t *cfg = config_load(path, err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "liaison-broker: %s\n", err);
        return 1;
    }
    if (check || print) {
        if (print)
            config_print(cfg, stdout);
        else
            printf("%s: ok (%zu agents)\n", path, cfg->n_agents);
        config_free(&cfg);
        return 0;
    }
    log_set_level(log_level_parse(cfg->log_level) < 0
                      ? LOG_INFO
                      : (enum log_level)log_level_parse(cfg->log_level));
    if (reindex)
        return loop_reindex(cfg);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return loop_run(cfg);
}
