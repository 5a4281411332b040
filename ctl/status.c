/* status.c — liaisonctl status [--json]: the broker's counters, store use
 * and sessions, as one JSON object (operator role).
 * Not responsible for rendering tables (a later operator view). */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "client_config.h"
#include "ctl.h"
#include "link.h"

int ctl_status(const char *config, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") != 0) {
            fprintf(stderr, "usage: liaisonctl -c ops.cfg status [--json]\n");
            return CTL_USAGE;
        }
    }
    char err[512];
    int status = CTL_FAIL;
    link_t *l = NULL;
    client_config_t *cfg = client_config_load(config, err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        return CTL_FAIL;
    }
    l = link_open(cfg, "liaisonctl status", CTL_CONNECT_MS, err, sizeof err);
    if (l == NULL) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        goto leave;
    }
    Liaison__Envelope env;
    Liaison__StatusRequest req = LIAISON__STATUS_REQUEST__INIT;
    uint64_t corr = link_next_corr(l);
    wire_envelope_init(&env, corr);
    req.what = (char *)(uintptr_t)"status";
    env.kind_case = LIAISON__ENVELOPE__KIND_STATUS_REQUEST;
    env.status_request = &req;
    if (link_send(l, &env) != 0)
        goto leave;
    for (;;) {
        int timed_out;
        Liaison__Envelope *r = link_recv(l, CTL_CONNECT_MS, &timed_out);
        if (r == NULL && timed_out) {
            fprintf(stderr, "liaisonctl: no answer to status\n");
            goto leave;
        }
        if (r == NULL || r->corr_id != corr) {
            wire_envelope_free(&r);
            continue;
        }
        if (r->kind_case == LIAISON__ENVELOPE__KIND_STATUS_REPLY) {
            printf("%s\n", r->status_reply->json);
            status = CTL_OK;
        } else if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
            fprintf(stderr, "liaisonctl: status refused: %s: %s\n",
                    wire_error_name(r->error->code), r->error->message);
        }
        wire_envelope_free(&r);
        break;
    }
leave:
    link_close(&l);
    client_config_free(&cfg);
    return status;
}
