/* audit.c — liaisonctl audit tail | export | verify, for auditors.
 *   tail [-n N] [--actor A] [--action X] [--subject REF]
 *                                          the newest records, over the wire
 *   export [--since TIME] [--actor A] [--action X] [--subject REF]
 *                                          every record, as JSON lines
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
#include "opts.h"
#include "store.h"
#include "util.h"

/* The most records one AuditRequest may ask for. */
#define AUDIT_MAX_LIMIT 100000

enum { V_DATA_DIR, V_KEY, V_STRICT };

static const struct opts_flag verify_flags[] = {
    [V_DATA_DIR] = {"data-dir", 0, "DIR", "the broker's data_dir (or a copy of it) (required)"},
    [V_KEY] = {"key", 0, "K.sign.pub", "check checkpoint signatures with this public key"},
    [V_STRICT] = {"strict", 0, NULL,
                  "with --key: the broker is stopped, so any record after the last checkpoint "
                  "fails (it signs at stop)"},
};

static const struct opts_spec verify_spec = {
    .command = "audit verify",
    .synopsis = "--data-dir DIR [--key checkpoint.sign.pub [--strict]]",
    .about = "Re-walks the whole hash chain of the audit trail, and its signed checkpoints,\n"
             "from a read-only opening of the store (a live broker's too). Exit 1 names the\n"
             "first broken record. Needs no config and no broker.\n",
    .flags = verify_flags,
    .n_flags = UTIL_LEN(verify_flags),
};

/* tail takes the first four rows, export the last four. */
enum { R_LIMIT, R_ACTOR, R_ACTION, R_SUBJECT, R_SINCE };

static const struct opts_flag remote_flags[] = {
    [R_LIMIT] = {"lines", 'n', "N", "the newest N records (default 20)"},
    [R_ACTOR] = {"actor", 0, "A", "only records whose actor is agent A"},
    [R_ACTION] = {"action", 0, "X", "only records of action X (publish, deliver, query, ...)"},
    [R_SUBJECT] = {"subject", 0, "REF",
                   "only queries about REF (the broker derives its token; REF is not logged)"},
    [R_SINCE] = {"since", 0, "TIME",
                 "from TIME: YYYY-MM-DD, RFC 3339 (Z or +01:00), or ago (1h, 30m, 2d)"},
};

static const struct opts_spec tail_spec = {
    .command = "audit tail",
    .synopsis = "[-n N] [--actor A] [--action X] [--subject REF]",
    .about = "The newest audit records as JSON lines (auditor role; the read is audited).\n",
    .flags = remote_flags,
    .n_flags = 4,
    .config = OPTS_CONFIG_NEEDED,
};

static const struct opts_spec export_spec = {
    .command = "audit export",
    .synopsis = "[--since TIME] [--actor A] [--action X] [--subject REF]",
    .about = "Every audit record, oldest first, as JSON lines (auditor role; audited).\n",
    .flags = remote_flags + 1,
    .n_flags = 4,
    .config = OPTS_CONFIG_NEEDED,
};

static void list_actions(FILE *out)
{
    fputs("actions (liaisonctl audit ACTION --help describes each):\n"
          "  tail [-n N] [--actor A] [--action X] [--subject REF]\n"
          "                                          the newest records\n"
          "  export [--since TIME] [--actor A] [--action X] [--subject REF]\n"
          "                                          every record, as JSON lines\n"
          "  verify --data-dir DIR [--key K.sign.pub]\n"
          "                                          check the chain offline\n",
          out);
}

static const struct opts_spec audit_spec = {
    .command = "audit",
    .synopsis = "tail | export | verify [FLAGS]",
    .about = "The audit trail, for auditors.\n",
    .in_order = 1,
    .more_help = list_actions,
};

static int verify(const char *config, int argc, char **argv)
{
    const char *dir = NULL, *key = NULL;
    int k, strict = 0;
    opts_t o;
    opts_begin(&o, &verify_spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0) {
        if (k == V_DATA_DIR)
            dir = o.arg;
        else if (k == V_KEY)
            key = o.arg;
        else if (k == V_STRICT)
            strict = 1;
    }
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    if (dir == NULL)
        return opts_bad(&o, "missing --data-dir"), CTL_USAGE;
    if (strict && key == NULL)
        return opts_bad(&o, "--strict checks signatures: it needs --key"), CTL_USAGE;
    if (o.n_operands > 0)
        return opts_bad(&o, "takes no arguments (\"%.40s\")", o.operands[0]), CTL_USAGE;
    char err[512];
    uint8_t pub[32];
    if (key && keys_read_public(key, ".", pub, err, sizeof err) != 0) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        return CTL_FAIL;
    }
    store_t *st = store_open_readonly(dir, err, sizeof err);
    if (st == NULL && store_never_started(dir)) {
        /* A power cut during the broker's first start: nothing was ever
         * acknowledged or recorded, so there is no trail to break. */
        printf("audit intact: 0 records (the store in %s was never initialised: its broker's "
               "first start did not complete)\n",
               dir);
        return CTL_OK;
    }
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
    printf("messages intact: %llu checked against the digests their collection records hold, "
           "%llu since erased\n",
           (unsigned long long)rep.messages_checked, (unsigned long long)rep.messages_gone);
    if (strict && rep.unsigned_tail) {
        printf("audit BROKEN at record %llu: unsigned tail of %llu records after the last "
               "checkpoint, in the store of a stopped broker (it signs at stop): records were "
               "added or rewritten\n",
               (unsigned long long)(rep.last_seq - rep.unsigned_tail + 1),
               (unsigned long long)rep.unsigned_tail);
        return CTL_FAIL;
    }
    if (rep.unsigned_tail)
        printf("unsigned tail of %llu records after the last checkpoint (within its spacing of "
               "%u: a running broker's)\n",
               (unsigned long long)rep.unsigned_tail, rep.spacing);
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

static int remote(const char *config, int tail, int argc, char **argv)
{
    Liaison__AuditRequest q = LIAISON__AUDIT_REQUEST__INIT;
    const struct opts_spec *spec = tail ? &tail_spec : &export_spec;
    int k;
    opts_t o;
    q.newest = tail;
    q.limit = tail ? 20 : 1000;
    opts_begin(&o, spec, config, argc, argv);
    /* export's table starts one row in: its indices are tail's less one. */
    while ((k = opts_next(&o)) >= 0) {
        int row = tail ? k : k + 1;
        uint64_t n;
        if (row == R_LIMIT) {
            if (opts_u64(&o, 1, AUDIT_MAX_LIMIT, &n) != 0)
                return CTL_USAGE;
            q.limit = (uint32_t)n;
        } else if (row == R_ACTOR) {
            q.actor = (char *)(uintptr_t)o.arg;
        } else if (row == R_ACTION) {
            q.action = (char *)(uintptr_t)o.arg;
        } else if (row == R_SUBJECT) {
            q.subject = (char *)(uintptr_t)o.arg;
        } else if (row == R_SINCE && opts_since(&o, &q.since_us) != 0) {
            return CTL_USAGE;
        }
    }
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    if (o.n_operands > 0)
        return opts_bad(&o, "takes no arguments (\"%.40s\")", o.operands[0]), CTL_USAGE;
    int status = CTL_FAIL;
    link_t *l = ctl_connect(o.config, "liaisonctl audit");
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
    int k;
    opts_t o;
    opts_begin(&o, &audit_spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0)
        ;
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    if (o.n_operands == 0)
        return opts_bad(&o, "wants an action: tail, export or verify"), CTL_USAGE;
    const char *action = o.operands[0];
    if (strcmp(action, "verify") == 0)
        return verify(o.config, o.n_operands, o.operands);
    if (strcmp(action, "tail") == 0 || strcmp(action, "export") == 0)
        return remote(o.config, strcmp(action, "tail") == 0, o.n_operands, o.operands);
    return opts_bad(&o, "unknown action \"%.40s\" (tail, export or verify)", action), CTL_USAGE;
}
