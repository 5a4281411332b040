/* whoami.c — liaisonctl -c agent.cfg whoami [--json]: the broker's view of
 * the caller (WhoamiRequest, any welcomed agent): the name, agency, type,
 * region, roles, clearance, caveats, topic permissions and dates that
 * broker.cfg gives the key this config holds. What the broker believes is
 * what decides every refusal, so this is the first thing to look at when
 * one is a surprise. A table for people, one JSON object with --json.
 * Not responsible for the rules themselves (broker/policy.c) or the
 * connection (common/link.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "json.h"
#include "label.h"
#include "link.h"
#include "opts.h"
#include "util.h"

enum { F_JSON };

static const struct opts_flag flags[] = {
    [F_JSON] = {"json", 0, NULL, "one JSON object instead of a table"},
};

static const struct opts_spec spec = {
    .command = "whoami",
    .synopsis = "[--json]",
    .about = "Shows what the broker's configuration says of this config's key: name, agency,\n"
             "type, region, roles, clearance, caveats, publish and subscribe patterns, validity\n"
             "dates. Any agent may ask; the broker audits each ask as a consultation.\n",
    .flags = flags,
    .n_flags = UTIL_LEN(flags),
    .config = OPTS_CONFIG_NEEDED,
};

static void row_list(const char *key, char *const *v, size_t n)
{
    printf("%-11s ", key);
    if (n == 0)
        fputs("(none)", stdout);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", v[i]);
    putchar('\n');
}

static const char *bound(const char *v)
{
    return v && v[0] ? v : "(no bound)";
}

static void print_table(const Liaison__WhoamiReply *w)
{
    printf("%-11s %s\n", "name", w->name);
    printf("%-11s %s\n", "agency", w->agency);
    printf("%-11s %s\n", "type", w->type);
    printf("%-11s %s\n", "region", w->region);
    row_list("roles", w->roles, w->n_roles);
    printf("%-11s %s\n", "clearance", label_classification_name((int)w->clearance));
    row_list("caveats", w->caveats, w->n_caveats);
    row_list("publish", w->publish, w->n_publish);
    row_list("subscribe", w->subscribe, w->n_subscribe);
    printf("%-11s %s\n", "valid_from", bound(w->valid_from));
    printf("%-11s %s\n", "valid_to", bound(w->valid_to));
    printf("%-11s %s\n", "revoked", w->revoked ? "yes" : "no");
    if (w->n_speaks_for)
        row_list("speaks_for", w->speaks_for, w->n_speaks_for);
}

static json_doc_t *list(char *const *v, size_t n)
{
    json_doc_t *a = json_doc_array();
    for (size_t i = 0; i < n; i++)
        json_doc_push_str(a, v[i]);
    return a;
}

/* An unbounded date is null, so a script need not know the table's words. */
static void set_date(json_doc_t *o, const char *key, const char *v)
{
    if (v && v[0])
        json_doc_set_str(o, key, v);
    else
        json_doc_set_null(o, key);
}

static void print_json(const Liaison__WhoamiReply *w)
{
    json_doc_t *o = json_doc_object();
    json_doc_set_str(o, "name", w->name);
    json_doc_set_str(o, "agency", w->agency);
    json_doc_set_str(o, "type", w->type);
    json_doc_set_str(o, "region", w->region);
    json_doc_set(o, "roles", list(w->roles, w->n_roles));
    json_doc_set_str(o, "clearance", label_classification_name((int)w->clearance));
    json_doc_set(o, "caveats", list(w->caveats, w->n_caveats));
    json_doc_set(o, "publish", list(w->publish, w->n_publish));
    json_doc_set(o, "subscribe", list(w->subscribe, w->n_subscribe));
    set_date(o, "valid_from", w->valid_from);
    set_date(o, "valid_to", w->valid_to);
    json_doc_set_bool(o, "revoked", w->revoked);
    json_doc_set(o, "speaks_for", list(w->speaks_for, w->n_speaks_for));
    char *text = json_doc_dump(o);
    printf("%s\n", text);
    free(text);
    json_doc_free(&o);
}

int ctl_whoami(const char *config, int argc, char **argv)
{
    int json = 0, k;
    opts_t o;
    opts_begin(&o, &spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0)
        if (k == F_JSON)
            json = 1;
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    if (o.n_operands > 0)
        return opts_bad(&o, "whoami takes no operand (\"%.40s\")", o.operands[0]), CTL_USAGE;
    char err[512];
    int status = CTL_FAIL;
    link_t *l = ctl_connect(o.config, "liaisonctl whoami");
    if (l == NULL)
        return CTL_FAIL;
    Liaison__Envelope env;
    Liaison__WhoamiRequest req = LIAISON__WHOAMI_REQUEST__INIT;
    wire_envelope_init(&env, 0);
    env.kind_case = LIAISON__ENVELOPE__KIND_WHOAMI_REQUEST;
    env.whoami_request = &req;
    Liaison__Envelope *r = link_call(l, &env, CTL_CONNECT_MS, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "liaisonctl: %s\n", err);
    } else if (r->kind_case == LIAISON__ENVELOPE__KIND_WHOAMI_REPLY) {
        if (json)
            print_json(r->whoami_reply);
        else
            print_table(r->whoami_reply);
        status = CTL_OK;
    } else if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
        fprintf(stderr, "liaisonctl: whoami refused: %s: %s\n", wire_error_name(r->error->code),
                r->error->message);
    } else {
        fprintf(stderr, "liaisonctl: unexpected answer to whoami\n");
    }
    wire_envelope_free(&r);
    link_close(&l);
    return status;
}
