/* deadletters.c — liaisonctl -c ops.cfg deadletters [list | requeue SEQ
 * DURABLE | discard SEQ DURABLE] [--json]: messages that used up
 * max_deliver on a durable subscription, for operators to inspect (a table,
 * or the broker's JSON with --json), send again or drop. The broker audits
 * each action.
 * Not responsible for the rules of dead-lettering (broker/router.c) or for
 * drawing tables (status.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "link.h"
#include "opts.h"
#include "status.h"
#include "util.h"

enum { F_JSON };

static const struct opts_flag flags[] = {
    [F_JSON] = {"json", 0, NULL, "the broker's JSON, one line, instead of a table"},
};

static const struct opts_spec spec = {
    .command = "deadletters",
    .synopsis = "[list | requeue SEQ DURABLE | discard SEQ DURABLE] [--json]",
    .about = "Lists the messages set aside after max_deliver attempts on a durable subscription\n"
             "(DURABLE is AGENT/NAME as listed), sends one again (requeue) or drops it\n"
             "(discard). Operator role; the broker audits each action.\n",
    .flags = flags,
    .n_flags = UTIL_LEN(flags),
    .config = OPTS_CONFIG_NEEDED,
};

/* What the broker answered, for people. */
static int show(const void *ctx, const char *json)
{
    const Liaison__DeadLetterRequest *q = ctx;
    char err[512];
    if (strcmp(q->action, "list") != 0) {
        printf("%s seq %llu of %s\n", strcmp(q->action, "requeue") == 0 ? "requeued" : "discarded",
               (unsigned long long)q->seq, q->durable);
        return CTL_OK;
    }
    json_doc_t *doc = json_doc_parse(json, err, sizeof err);
    if (doc == NULL) {
        fprintf(stderr, "liaisonctl: the broker's answer is not JSON: %s\n", err);
        return CTL_FAIL;
    }
    status_print("deadletters", doc, stdout);
    json_doc_free(&doc);
    return CTL_OK;
}

int ctl_deadletters(const char *config, int argc, char **argv)
{
    Liaison__DeadLetterRequest q = LIAISON__DEAD_LETTER_REQUEST__INIT;
    int json = 0, k;
    opts_t o;
    opts_begin(&o, &spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0)
        if (k == F_JSON)
            json = 1;
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    const char *action = o.n_operands > 0 ? o.operands[0] : "list";
    if (strcmp(action, "list") == 0 && o.n_operands <= 1) {
        q.action = (char *)(uintptr_t) "list";
    } else if (strcmp(action, "requeue") == 0 || strcmp(action, "discard") == 0) {
        if (o.n_operands != 3)
            return opts_bad(&o, "%s wants SEQ and DURABLE", action), CTL_USAGE;
        if (util_parse_u64(o.operands[1], 1, UINT64_MAX, &q.seq) != 0)
            return opts_bad(&o, "SEQ must be a sequence number, not \"%.40s\"", o.operands[1]),
                   CTL_USAGE;
        q.action = o.operands[0];
        q.durable = o.operands[2];
    } else {
        return opts_bad(&o, "unknown action \"%.40s\" (list, requeue or discard)", action),
               CTL_USAGE;
    }
    Liaison__Envelope env;
    wire_envelope_init(&env, 0);
    env.kind_case = LIAISON__ENVELOPE__KIND_DEAD_LETTER_REQUEST;
    env.dead_letter_request = &q;
    return ctl_json_request(o.config, "liaisonctl deadletters", &env, json, show, &q);
}
