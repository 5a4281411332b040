/* query.c — liaisonctl query --subject REF [--subject REF ...] [--topic
 * PATTERN] [--since TIME] [--json]: who holds what on these subjects. Pages
 * through the broker's answers: whole messages the agent may receive (the
 * same JSON as `sub` prints), and hits (that a message exists, its risk,
 * who holds it and whom to ask). With --json one object per line and a
 * last line {"summary": {"results": N, "hits": H}}; else a table.
 * Exit 0 whether or not anything matched, 1 refused, 2 bad usage.
 * Also liaisonctl hits: the hit notices telling this agent that a query
 * found one of its messages, as JSON lines.
 * Not responsible for the JSON mapping (json.c) or the connection (link.c). */
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

#define MAX_SUBJECTS 64

enum { Q_SUBJECT, Q_TOPIC, Q_SINCE, Q_JSON, Q_MAX, Q_PAGE };

static const struct opts_flag flags[] = {
    [Q_SUBJECT] = {"subject", 's', "REF",
                   "a subject: a name, prison number, PNC id or CRO number (repeatable)"},
    [Q_TOPIC] = {"topic", 't', "PATTERN", "only messages on topics matching PATTERN"},
    [Q_SINCE] = {"since", 0, "TIME",
                 "only messages received from TIME: YYYY-MM-DD, RFC 3339, or ago (1h, 2d)"},
    [Q_JSON] = {"json", 0, NULL, "JSON lines, and a summary line last"},
    [Q_MAX] = {"max", 0, "N", "stop after N answers (default 10000)"},
    [Q_PAGE] = {"page", 0, "N",
                "answers per request, 1-1000 (default 100); one query however many"},
};

static const struct opts_spec spec = {
    .command = "query",
    .synopsis = "--subject REF [--subject REF ...] [--topic PATTERN] [--since TIME] [--json]",
    .about = "Asks the broker who holds what on these subjects (query role). Each message it\n"
             "finds is checked against your agent's rule as configured now: one you may\n"
             "receive comes back whole; one refused you only for clearance or caveats, on a\n"
             "topic with notices, comes back as a hit naming who holds it and whom to ask;\n"
             "anything else does not appear. Every query is audited (its subjects as blind\n"
             "tokens, never in clear), and originators may be told that you asked.\n",
    .flags = flags,
    .n_flags = UTIL_LEN(flags),
    .config = OPTS_CONFIG_NEEDED,
};

struct tally {
    uint64_t results, hits;
    int json;
};

/* The first 60 bytes of a body for a table cell: not NUL-terminated on
 * the wire, and anything but printable ASCII shown as '.'. */
static const char *body_start(const ProtobufCBinaryData *body, char out[61])
{
    size_t n = body->len < 60 ? body->len : 60;
    for (size_t i = 0; i < n; i++)
        out[i] = body->data[i] >= 0x20 && body->data[i] < 0x7f ? (char)body->data[i] : '.';
    out[n] = '\0';
    return out;
}

static void print_row(const Liaison__QueryResult *r, struct tally *t)
{
    char start[61];
    const Liaison__Intel *m = r->intel;
    if (m == NULL)
        return;
    t->results++;
    t->hits += r->hit != 0;
    if (t->json) {
        char *line = json_from_query_result(r);
        printf("%s\n", line);
        free(line);
        return;
    }
    char when[32] = "";
    if (m->received_at_us)
        util_rfc3339(m->received_at_us, when);
    const char *agency = m->origin && m->origin->agency ? m->origin->agency : "";
    const char *risk = m->label ? label_risk_name((int)m->label->risk) : "";
    if (r->hit)
        printf("%-8llu %-20.20s %-28.28s %-6s %-24.24s HIT: ask %s%s%s\n",
               (unsigned long long)m->seq, when, m->topic, risk, agency,
               r->contact && r->contact[0] ? r->contact : agency,
               m->label && m->label->risk_ref && m->label->risk_ref[0] ? ", ref " : "",
               m->label && m->label->risk_ref ? m->label->risk_ref : "");
    else
        printf("%-8llu %-20.20s %-28.28s %-6s %-24.24s %s\n", (unsigned long long)m->seq, when,
               m->topic, risk, agency, body_start(&m->body, start));
}

/* One page: prints it; sets *last and *more. 0, or -1 after saying why. */
static int page(link_t *l, Liaison__Query *q, struct tally *t, uint64_t max, uint64_t *last,
                int *more)
{
    char err[256];
    Liaison__Envelope env;
    wire_envelope_init(&env, 0);
    env.kind_case = LIAISON__ENVELOPE__KIND_QUERY;
    env.query = q;
    Liaison__Envelope *r = link_call(l, &env, 30000, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        return -1;
    }
    int rc = -1;
    if (r->kind_case == LIAISON__ENVELOPE__KIND_QUERY_REPLY) {
        const Liaison__QueryReply *rep = r->query_reply;
        for (size_t i = 0; i < rep->n_results && t->results < max; i++)
            print_row(rep->results[i], t);
        *last = rep->last_seq;
        *more = rep->more && t->results < max;
        rc = 0;
    } else if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
        fprintf(stderr, "liaisonctl: query refused: %s: %s\n", wire_error_name(r->error->code),
                r->error->message);
    }
    wire_envelope_free(&r);
    return rc;
}

int ctl_query(const char *config, int argc, char **argv)
{
    char *subjects[MAX_SUBJECTS];
    Liaison__Query q = LIAISON__QUERY__INIT;
    struct tally t = {0, 0, 0};
    uint64_t max = 10000;
    int k;
    opts_t o;
    opts_begin(&o, &spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0) {
        if (k == Q_SUBJECT) {
            if (q.n_subjects == MAX_SUBJECTS)
                return opts_bad(&o, "at most %d --subject", MAX_SUBJECTS), CTL_USAGE;
            subjects[q.n_subjects++] = (char *)(uintptr_t)o.arg;
        } else if (k == Q_TOPIC) {
            q.pattern = (char *)(uintptr_t)o.arg;
        } else if (k == Q_SINCE && opts_since(&o, &q.since_us) != 0) {
            return CTL_USAGE;
        } else if (k == Q_JSON) {
            t.json = 1;
        } else if (k == Q_MAX && opts_u64(&o, 1, UINT32_MAX, &max) != 0) {
            return CTL_USAGE;
        } else if (k == Q_PAGE) {
            uint64_t n;
            if (opts_u64(&o, 1, 1000, &n) != 0)
                return CTL_USAGE;
            q.limit = (uint32_t)n;
        }
    }
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    if (q.n_subjects == 0)
        return opts_bad(&o, "wants at least one --subject REF"), CTL_USAGE;
    if (o.n_operands > 0)
        return opts_bad(&o, "takes no arguments (\"%.40s\"); subjects go in --subject",
                        o.operands[0]),
               CTL_USAGE;
    q.subjects = subjects;
    int status = CTL_FAIL;
    link_t *l = ctl_connect(o.config, "liaisonctl query");
    if (l == NULL)
        goto leave;
    if (!t.json)
        printf("%-8s %-20s %-28s %-6s %-24s %s\n", "SEQ", "RECEIVED", "TOPIC", "RISK", "HELD BY",
               "BODY / HIT");
    uint64_t last = 0;
    int more = 1;
    while (more) {
        q.after_seq = last;
        if (page(l, &q, &t, max, &last, &more) != 0)
            goto leave;
    }
    if (t.json)
        printf("{\"summary\":{\"results\":%llu,\"hits\":%llu}}\n", (unsigned long long)t.results,
               (unsigned long long)t.hits);
    else
        printf("%llu results, %llu of them hits\n", (unsigned long long)t.results,
               (unsigned long long)t.hits);
    status = fflush(stdout) == 0 ? CTL_OK : CTL_FAIL;
leave:
    link_close(&l);
    return status;
}

enum { H_COUNT, H_TIMEOUT };

static const struct opts_flag hit_flags[] = {
    [H_COUNT] = {"count", 0, "N", "stop after N notices (exit 1 if the timeout comes first)"},
    [H_TIMEOUT] = {"timeout", 0, "S", "stop after S seconds (default 5)"},
};

static const struct opts_spec hits_spec = {
    .command = "hits",
    .synopsis = "[--count N] [--timeout S]",
    .about = "Prints, as JSON lines, the hit notices telling this agent that another agency's\n"
             "subject query found one of its messages: which message, and who asked (their\n"
             "agency and contact). Notices kept while the agent was away come first.\n",
    .flags = hit_flags,
    .n_flags = UTIL_LEN(hit_flags),
    .config = OPTS_CONFIG_NEEDED,
};

int ctl_hits(const char *config, int argc, char **argv)
{
    uint64_t count = 0, got = 0;
    double timeout = 5;
    int k;
    opts_t o;
    opts_begin(&o, &hits_spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0) {
        if (k == H_COUNT && opts_u64(&o, 1, UINT32_MAX, &count) != 0)
            return CTL_USAGE;
        if (k == H_TIMEOUT && opts_seconds(&o, 0, 31536000, &timeout) != 0)
            return CTL_USAGE;
    }
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    if (o.n_operands > 0)
        return opts_bad(&o, "takes no arguments (\"%.40s\")", o.operands[0]), CTL_USAGE;
    char err[512];
    client_config_t *cfg = client_config_load(o.config, err, sizeof err);
    link_t *l = cfg ? link_open_as(cfg, "liaisonctl hits", LINK_HIT_NOTICES, CTL_CONNECT_MS, err,
                                   sizeof err)
                    : NULL;
    client_config_free(&cfg);
    if (l == NULL) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        return CTL_FAIL;
    }
    int64_t deadline = util_mono_ms() + (int64_t)(timeout * 1000);
    while (count == 0 || got < count) {
        int64_t left = deadline - util_mono_ms();
        int timed_out;
        if (left <= 0)
            break;
        Liaison__Envelope *r = link_recv(l, left < 500 ? (int)left : 500, &timed_out);
        if (r == NULL && link_lost(l)) {
            fprintf(stderr, "liaisonctl: the connection to the broker was lost\n");
            break;
        }
        if (r && r->kind_case == LIAISON__ENVELOPE__KIND_HIT_NOTICE) {
            char *line = json_from_hit_notice(r->hit_notice);
            printf("%s\n", line);
            fflush(stdout);
            free(line);
            got++;
        }
        wire_envelope_free(&r);
    }
    link_close(&l);
    return count && got < count ? CTL_FAIL : CTL_OK;
}
