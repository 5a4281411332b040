/* audit.c — liaisonctl audit tail | export | verify, for auditors.
 *   tail [-n N] [--actor A] [--action X]   the newest records, over the wire
 *   export [--since TIME]                  every record, as JSON lines
 *   verify --data-dir DIR [--key K.pub]    offline: re-walks the chain and
 *                                          its checkpoints from a read-only
 *                                          store, exit 1 naming the first
 *                                          broken record
 * tail and export need the auditor role; the broker audits each read.
 * Not responsible for the chain's rules (broker/audit.c, linked here). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "ctl.h"
#include "json.h"
#include "keys.h"
#include "link.h"
#include "store.h"
#include "util.h"

static int usage(void)
{
    fprintf(stderr, "usage: liaisonctl -c audit.cfg audit tail [-n N] [--actor A] [--action X]\n"
                    "       liaisonctl -c audit.cfg audit export [--since TIME]\n"
                    "       liaisonctl audit verify --data-dir DIR [--key checkpoint.sign.pub]\n");
    return CTL_USAGE;
}

static int verify(int argc, char **argv)
{
    const char *dir = NULL, *key = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else
            return usage();
    }
    if (dir == NULL)
        return usage();
    char err[512];
    uint8_t pub[32];
    if (key && keys_read_public(key, ".", pub, err, sizeof err) != 0) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        return CTL_FAIL;
    }
    store_t *st = store_open_readonly(dir, err, sizeof err);
    if (st == NULL) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        return CTL_FAIL;
    }
    struct audit_report rep;
    int rc = audit_verify(st, key ? pub : NULL, &rep);
    store_close(&st);
    if (rc < 0) {
        fprintf(stderr, "liaisonctl: cannot read the audit trail in %s\n", dir);
        return CTL_FAIL;
    }
    if (rc > 0) {
        printf("audit BROKEN at record %llu: %s\n", (unsigned long long)rep.broken_seq, rep.why);
        return CTL_FAIL;
    }
    printf("audit intact: %llu records, %llu checkpoints%s, head at record %llu\n",
           (unsigned long long)rep.records, (unsigned long long)rep.checkpoints,
           key ? " (signatures checked)" : " (signatures not checked: no --key)",
           (unsigned long long)rep.last_seq);
    return CTL_OK;
}

/* Sends one AuditRequest and prints the records; sets *last and *more. */
static int request(link_t *l, Liaison__AuditRequest *q, uint64_t *last, int *more)
{
    char err[256];
    Liaison__Envelope env;
    wire_envelope_init(&env, 0);
    env.kind_case = LIAISON__ENVELOPE__KIND_AUDIT_REQUEST;
    env.audit_request = q;
    Liaison__Envelope *r = link_call(l, &env, 30000, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        return -1;
    }
    int rc = -1;
    if (r->kind_case == LIAISON__ENVELOPE__KIND_AUDIT_REPLY) {
        for (size_t i = 0; i < r->audit_reply->n_records; i++) {
            char *line = json_from_audit_record(r->audit_reply->records[i]);
            printf("%s\n", line);
            free(line);
            *last = r->audit_reply->records[i]->seq;
        }
        *more = r->audit_reply->more;
        rc = 0;
    } else if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
        fprintf(stderr, "liaisonctl: audit refused: %s: %s\n", wire_error_name(r->error->code),
                r->error->message);
    }
    wire_envelope_free(&r);
    return rc;
}

static int remote(const char *config, const char *cmd, int argc, char **argv)
{
    Liaison__AuditRequest q = LIAISON__AUDIT_REQUEST__INIT;
    int tail = strcmp(cmd, "tail") == 0;
    q.newest = tail;
    q.limit = tail ? 20 : 1000;
    for (int i = 0; i < argc; i++) {
        if (tail && strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            q.limit = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--actor") == 0 && i + 1 < argc)
            q.actor = argv[++i];
        else if (strcmp(argv[i], "--action") == 0 && i + 1 < argc)
            q.action = argv[++i];
        else if (!tail && strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            if (util_parse_time(argv[++i], &q.since_us) != 0)
                return usage();
        } else
            return usage();
    }
    if (config == NULL)
        return usage();
    int status = CTL_FAIL;
    link_t *l = ctl_connect(config, "liaisonctl audit");
    if (l == NULL)
        goto leave;
    uint64_t last = 0;
    int more = 1;
    while (more) {
        q.after_seq = last;
        if (request(l, &q, &last, &more) != 0)
            goto leave;
        if (tail)
            break;
    }
    status = CTL_OK;
leave:
    link_close(&l);
    return status;
}

int ctl_audit(const char *config, int argc, char **argv)
{
    if (argc < 1)
        return usage();
    if (strcmp(argv[0], "verify") == 0)
        return verify(argc - 1, argv + 1);
    if (strcmp(argv[0], "tail") == 0 || strcmp(argv[0], "export") == 0)
        return remote(config, argv[0], argc - 1, argv + 1);
    return usage();
}
