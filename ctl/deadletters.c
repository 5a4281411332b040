/* deadletters.c — liaisonctl -c ops.cfg deadletters [list | requeue SEQ
 * DURABLE | discard SEQ DURABLE]: messages that used up max_deliver on a
 * durable subscription, for operators to inspect, send again or drop. The
 * broker audits each action.
 * Not responsible for the rules of dead-lettering (broker/router.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "link.h"

int ctl_deadletters(const char *config, int argc, char **argv)
{
    Liaison__DeadLetterRequest q = LIAISON__DEAD_LETTER_REQUEST__INIT;
    const char *action = argc > 0 ? argv[0] : "list";
    if (strcmp(action, "list") == 0 && argc <= 1) {
        q.action = (char *)(uintptr_t) "list";
    } else if ((strcmp(action, "requeue") == 0 || strcmp(action, "discard") == 0) && argc == 3 &&
               strtoull(argv[1], NULL, 10) > 0) {
        q.action = argv[0];
        q.seq = strtoull(argv[1], NULL, 10);
        q.durable = argv[2];
    } else {
        fprintf(stderr, "usage: liaisonctl -c ops.cfg deadletters [list | requeue SEQ DURABLE | "
                        "discard SEQ DURABLE]\n");
        return CTL_USAGE;
    }
    char err[512];
    int status = CTL_FAIL;
    link_t *l = NULL;
    if ((l = ctl_connect(config, "liaisonctl deadletters")) == NULL)
        goto leave;
    Liaison__Envelope env;
    wire_envelope_init(&env, 0);
    env.kind_case = LIAISON__ENVELOPE__KIND_DEAD_LETTER_REQUEST;
    env.dead_letter_request = &q;
    Liaison__Envelope *r = link_call(l, &env, CTL_CONNECT_MS, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        goto leave;
    }
    if (r->kind_case == LIAISON__ENVELOPE__KIND_STATUS_REPLY) {
        printf("%s\n", r->status_reply->json);
        status = CTL_OK;
    } else if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
        fprintf(stderr, "liaisonctl: refused: %s: %s\n", wire_error_name(r->error->code),
                r->error->message);
    }
    wire_envelope_free(&r);
leave:
    link_close(&l);
    return status;
}
