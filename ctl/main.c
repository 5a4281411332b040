/* main.c — liaisonctl: global options, then a table of commands.
 * Not responsible for what each command does (ctl/<command>.c). */
#include <stdio.h>
#include <string.h>

#include "client_config.h"
#include "ctl.h"
#include "log.h"

struct command {
    const char *name;
    int (*run)(const char *config, int argc, char **argv);
    int needs_config;
    const char *usage;
};

static const struct command commands[] = {
    {"keygen", ctl_keygen, 0,
     "keygen NAME [--dir D] [--sign]\n"
     "                               write D/NAME.pub and D/NAME.key (--sign: Ed25519 pair)"},
    {"pub", ctl_pub, 1, "pub [FILE|-]                 publish JSON (an object or JSON lines)"},
    {"sub", ctl_sub, 1,
     "sub PATTERN [--durable NAME | --from-seq N | --since TIME] [--count N] [--timeout S]\n"
     "                               print deliveries as JSON lines, acking each"},
    {"status", ctl_status, 1,
     "status [--json]              broker state: store, connections, rates (operator role)"},
    {"agents", ctl_agents, 1,
     "agents [--json]              each agent: connected, last seen, in/out"},
    {"subs", ctl_subs, 1,
     "subs [--json]                each subscription: backlog, in flight, redeliveries"},
    {"topics", ctl_topics, 1,
     "topics [--depth N] [--json]  per topic prefix: messages, bytes, oldest, retention"},
    {"watch", ctl_watch, 1,
     "watch [--interval S] [--count N] [--json]\n"
     "                               all of the above, refreshed in place"},
    {"deadletters", ctl_deadletters, 1,
     "deadletters [list | requeue SEQ DURABLE | discard SEQ DURABLE]\n"
     "                               messages past max_deliver (operator role)"},
    {"audit", ctl_audit, 0,
     "audit tail [-n N] [--actor A] [--action X] | export [--since TIME]\n"
     "                               the audit trail (auditor role)\n"
     "  audit verify --data-dir DIR [--key K.sign.pub]\n"
     "                               check the chain offline; exit 1 names the first break"},
};

link_t *ctl_connect(const char *config, const char *client)
{
    char err[512];
    client_config_t *cfg = client_config_load(config, err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        return NULL;
    }
    link_t *l = link_open(cfg, client, CTL_CONNECT_MS, err, sizeof err);
    if (l == NULL)
        fprintf(stderr, "liaisonctl: %s\n", err);
    client_config_free(&cfg);
    return l;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: liaisonctl [-c agent.cfg] COMMAND [ARGS]\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fprintf(out, "exit status: 0 done, 1 refused or failed, 2 bad usage\n");
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    int i = 1;
    log_set_program("liaisonctl");
    log_set_level(LOG_WARN);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CTL_OK;
        } else {
            usage(stderr);
            return CTL_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return CTL_USAGE;
    }
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (strcmp(argv[i], commands[k].name) != 0)
            continue;
        if (commands[k].needs_config && config == NULL) {
            fprintf(stderr, "liaisonctl: %s needs -c agent.cfg\n", commands[k].name);
            return CTL_USAGE;
        }
        return commands[k].run(config, argc - i - 1, argv + i + 1);
    }
    fprintf(stderr, "liaisonctl: unknown command \"%s\"\n", argv[i]);
    usage(stderr);
    return CTL_USAGE;
}
