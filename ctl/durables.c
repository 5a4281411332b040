/* durables.c — liaisonctl durables [list [--mine] | delete NAME [--force] |
 * rewind NAME (--to-seq N | --since T)] [--json]: the durable feeds the
 * broker keeps on disk, for operators (any agent's, NAME as AGENT/NAME) and
 * for an agent on its own (a bare NAME, or --mine). The broker audits each
 * action; a rewind's --since reads times as `sub --since` does.
 * Not responsible for what a durable receives (the broker) or for drawing
 * tables (status.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "link.h"
#include "opts.h"
#include "status.h"
#include "util.h"

enum { F_JSON, F_MINE, F_FORCE, F_TO_SEQ, F_SINCE };

static const struct opts_flag flags[] = {
    [F_JSON] = {"json", 0, NULL, "the broker's JSON, one line, instead of a table"},
    [F_MINE] = {"mine", 0, NULL, "list: only this agent's own durables (no operator role needed)"},
    [F_FORCE] = {"force", 0, NULL,
                 "delete: even while a live connection holds it (that subscription ends)"},
    [F_TO_SEQ] = {"to-seq", 0, "N", "rewind: the next delivery is the first message from seq N"},
    [F_SINCE] = {"since", 0, "TIME",
                 "rewind: from the first message received at or after TIME (RFC 3339, or "
                 "45s, 30m, 1h, 2d ago)"},
};

static const struct opts_spec spec = {
    .command = "durables",
    .synopsis = "[list [--mine] | delete NAME [--force] | rewind NAME (--to-seq N | --since TIME)] "
                "[--json]",
    .about =
        "Lists the durable subscriptions the broker keeps (agent, pattern, cursor, backlog of\n"
        "messages on its pattern, whether a connection holds it, last activity), deletes one,\n"
        "or moves its cursor so the messages after it are delivered again (each re-checked by\n"
        "the delivery rule). NAME is AGENT/NAME as listed; an operator may name any agent's,\n"
        "and any agent its own (a bare NAME). A held durable is deleted only with --force.\n"
        "The broker audits each action.\n",
    .flags = flags,
    .n_flags = UTIL_LEN(flags),
    .config = OPTS_CONFIG_NEEDED,
};

/* What the broker answered, for people. */
static int show(const void *ctx, const char *json)
{
    const Liaison__DurableRequest *q = ctx;
    char err[512];
    json_doc_t *doc = json_doc_parse(json, err, sizeof err);
    if (doc == NULL) {
        fprintf(stderr, "liaisonctl: the broker's answer is not JSON: %s\n", err);
        return CTL_FAIL;
    }
    if (strcmp(q->action, "list") == 0)
        status_print("durables", doc, stdout);
    else if (strcmp(q->action, "delete") == 0)
        printf("deleted %s\n", q->durable);
    else {
        double now = 0, was = 0;
        json_doc_num(json_doc_get(doc, "cursor"), &now);
        json_doc_num(json_doc_get(doc, "old_cursor"), &was);
        printf("rewound %s: cursor %.0f (was %.0f)\n", q->durable, now, was);
    }
    json_doc_free(&doc);
    return CTL_OK;
}

int ctl_durables(const char *config, int argc, char **argv)
{
    Liaison__DurableRequest q = LIAISON__DURABLE_REQUEST__INIT;
    int json = 0, k, bad = 0;
    opts_t o;
    opts_begin(&o, &spec, config, argc, argv);
    while (!bad && (k = opts_next(&o)) >= 0) {
        if (k == F_JSON)
            json = 1;
        else if (k == F_MINE)
            q.mine = 1;
        else if (k == F_FORCE)
            q.force = 1;
        else if (k == F_TO_SEQ)
            bad = opts_u64(&o, 1, UINT64_MAX, &q.to_seq);
        else if (k == F_SINCE)
            bad = opts_since(&o, &q.since_us);
    }
    if (bad)
        return CTL_USAGE;
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    const char *action = o.n_operands > 0 ? o.operands[0] : "list";
    int list = strcmp(action, "list") == 0, del = strcmp(action, "delete") == 0,
        rew = strcmp(action, "rewind") == 0;
    if (!list && !del && !rew)
        return opts_bad(&o, "unknown action \"%.40s\" (list, delete or rewind)", action), CTL_USAGE;
    if (list && o.n_operands > 1)
        return opts_bad(&o, "list takes no NAME"), CTL_USAGE;
    if (!list && o.n_operands != 2)
        return opts_bad(&o, "%s wants NAME", action), CTL_USAGE;
    if (q.mine && !list)
        return opts_bad(&o, "--mine is for list"), CTL_USAGE;
    if (q.force && !del)
        return opts_bad(&o, "--force is for delete"), CTL_USAGE;
    if (!rew && (q.to_seq || q.since_us))
        return opts_bad(&o, "--to-seq and --since are for rewind"), CTL_USAGE;
    if (rew && (q.to_seq == 0) == (q.since_us == 0))
        return opts_bad(&o, "rewind wants one of --to-seq N and --since TIME"), CTL_USAGE;
    q.action = (char *)(uintptr_t)action;
    if (!list)
        q.durable = o.operands[1];

    Liaison__Envelope env;
    wire_envelope_init(&env, 0);
    env.kind_case = LIAISON__ENVELOPE__KIND_DURABLE_REQUEST;
    env.durable_request = &q;
    return ctl_json_request(o.config, "liaisonctl durables", &env, json, show, &q);
}
