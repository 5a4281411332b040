/* main.c — liaisonctl: global flags (-c, --help, --version), then a table
 * of commands. Each command reads its own flags (ctl/opts.c), so -c may also
 * follow the command's name.
 * Not responsible for what each command does (ctl/<command>.c). */
#include <stdio.h>
#include <string.h>

#include "client_config.h"
#include "ctl.h"
#include "log.h"
#include "opts.h"
#include "util.h"

struct command {
    const char *name;
    int (*run)(const char *config, int argc, char **argv);
    const char *usage;
};

static const struct command commands[] = {
    {"keygen", ctl_keygen,
     "keygen NAME [--dir D] [--sign | --subject-key]\n"
     "                               write D/NAME.pub and D/NAME.key (--sign: Ed25519 pair),\n"
     "                               or the subject index key D/NAME.subject.key"},
    {"pub", ctl_pub,
     "pub [FILE|-] [--json]        publish JSON (an object or JSON lines)\n"
     "  pub --topic T --classification C --grading G --handling H --risk R\n"
     "      (--body TEXT | --body-file F) [label flags]\n"
     "                               publish one message built from flags"},
    {"sub", ctl_sub,
     "sub PATTERN [--durable NAME | --from-seq N | --since TIME] [--count N] [--timeout S]\n"
     "                               print deliveries as JSON lines, acking each"},
    {"status", ctl_status,
     "status [--json]              broker state: store, connections, rates (operator role)"},
    {"agents", ctl_agents, "agents [--json]              each agent: connected, last seen, in/out"},
    {"subs", ctl_subs,
     "subs [--json]                each subscription: backlog, in flight, redeliveries"},
    {"topics", ctl_topics,
     "topics [--depth N] [--json]  per topic prefix: messages, bytes, oldest, retention"},
    {"watch", ctl_watch,
     "watch [--interval S] [--count N] [--json]\n"
     "                               all of the above, refreshed in place (q quits)"},
    {"links", ctl_links,
     "links [--json]               federation: uplinks, their state, lag and refusals"},
    {"deadletters", ctl_deadletters,
     "deadletters [list | requeue SEQ DURABLE | discard SEQ DURABLE] [--json]\n"
     "                               messages past max_deliver (operator role)"},
    /* Durable feeds (issue 15). */
    {"durables", ctl_durables,
     "durables [list [--mine] | delete NAME [--force] | rewind NAME (--to-seq N | --since TIME)]\n"
     "         [--json]            the durable subscriptions kept on disk (operator role, or\n"
     "                               an agent's own)"},
    {"query", ctl_query,
     "query --subject REF [--subject REF ...] [--topic P] [--since TIME] [--json]\n"
     "                               who holds what on a subject (query role)"},
    {"hits", ctl_hits,
     "hits [--count N] [--timeout S]\n"
     "                               hit notices: another agency's query found ours"},
    {"whoami", ctl_whoami,
     "whoami [--json]              the broker's view of this agent: roles, clearance, patterns"},
    {"audit", ctl_audit,
     "audit tail [-n N] [--actor A] [--action X] [--subject REF] | export [--since TIME]\n"
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

int ctl_json_request(const char *config, const char *client, Liaison__Envelope *env, int json,
                     ctl_show_fn show, const void *ctx)
{
    char err[512];
    int status = CTL_FAIL;
    link_t *l = ctl_connect(config, client);
    if (l == NULL)
        return CTL_FAIL;
    Liaison__Envelope *r = link_call(l, env, CTL_CONNECT_MS, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "liaisonctl: %s\n", err);
    } else if (r->kind_case == LIAISON__ENVELOPE__KIND_STATUS_REPLY) {
        if (json) {
            printf("%s\n", r->status_reply->json);
            status = CTL_OK;
        } else {
            status = show(ctx, r->status_reply->json);
        }
    } else if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
        fprintf(stderr, "liaisonctl: refused: %s: %s\n", wire_error_name(r->error->code),
                r->error->message);
    }
    wire_envelope_free(&r);
    link_close(&l);
    return status;
}

static void list_commands(FILE *out)
{
    fputs("commands (liaisonctl COMMAND --help describes each):\n", out);
    for (size_t i = 0; i < UTIL_LEN(commands); i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fputs("environment: LIAISON_CONFIG is the agent.cfg when no -c is given\n", out);
}

enum { F_VERSION };

static const struct opts_flag flags[] = {
    [F_VERSION] = {"version", 'V', NULL, "print liaisonctl's version and exit"},
};

static const struct opts_spec spec = {
    .command = NULL,
    .synopsis = "COMMAND [ARGS]",
    .about = "Publishes, subscribes, shows the broker's state to operators and its audit trail\n"
             "to auditors, as the agent whose keys the config names.\n",
    .flags = flags,
    .n_flags = UTIL_LEN(flags),
    .in_order = 1,
    .more_help = list_commands,
};

int main(int argc, char **argv)
{
    opts_t o;
    int k;
    log_set_program("liaisonctl");
    log_set_level(LOG_WARN);
    opts_begin(&o, &spec, NULL, argc, argv);
    while ((k = opts_next(&o)) >= 0) {
        if (k == F_VERSION) {
            printf("liaisonctl %s\n", LIAISON_VERSION);
            return CTL_OK;
        }
    }
    if (k == OPTS_HELP)
        return CTL_OK;
    if (k == OPTS_BAD)
        return CTL_USAGE;
    if (o.n_operands == 0)
        return opts_bad(&o, "no command given"), CTL_USAGE;
    /* o.config is the -c given before the command, else LIAISON_CONFIG; a
     * -c after the command's name overrides either. */
    for (size_t i = 0; i < UTIL_LEN(commands); i++)
        if (strcmp(o.operands[0], commands[i].name) == 0)
            return commands[i].run(o.config, o.n_operands, o.operands);
    opts_bad(&o, "unknown command \"%.40s\"", o.operands[0]);
    return CTL_USAGE;
}
