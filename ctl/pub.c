/* pub.c — liaisonctl pub [FILE|-], or pub --topic T ... --body TEXT: reads
 * one JSON object or JSON lines, or builds one message from flags (as a JSON
 * object, through the same mapping, then label_validate as the broker
 * would), checks them all before sending any, publishes with up to WINDOW
 * in flight and prints "seq N" ("seq N (duplicate)" when the broker already
 * had that msg_id; one JSON object with --json) for each message, in input
 * order, after its PubAck (that is, after the broker has it on disk).
 * Exit 1 if any is refused.
 * Not responsible for JSON mapping (json.c) or the connection (link.c). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "json.h"
#include "label.h"
#include "link.h"
#include "opts.h"
#include "util.h"

#define WINDOW        256
#define PUB_MAX_INPUT (256u << 20)
/* The broker's max_topic_len is unknown here; it rechecks against its own. */
#define PUB_MAX_TOPIC 1024

enum { PENDING = 0, ACKED, REFUSED };

struct item {
    Liaison__Intel *m;
    uint64_t corr;
    uint64_t seq;
    int state;
    int duplicate;
};

/* ---- the flags: output, then one per JSON key of a message --------------- */

enum {
    F_JSON,
    F_FORWARD,
    F_TOPIC,
    F_CLASSIFICATION,
    F_GRADING,
    F_HANDLING,
    F_RISK,
    F_RISK_BASIS,
    F_RISK_REF,
    F_CAVEAT,
    F_RELEASE_TO,
    F_SUBJECT,
    F_CONDITIONS,
    F_NO_ONWARD_SHARING,
    F_SANITISATION,
    F_MSG_ID,
    F_REVIEW_AT,
    F_EXPIRES_AT,
    F_EMBARGO_UNTIL,
    F_CONTENT_TYPE,
    F_BODY,
    F_BODY_FILE,
    F_COUNT
};

static const struct opts_flag flags[] = {
    [F_JSON] = {"json", 0, NULL, "print {\"seq\":N,\"msg_id\":...,\"duplicate\":B} per message"},
    [F_FORWARD] = {"forward", 0, NULL,
                   "publish lines liaisonctl sub printed: the broker-stamped seq, origin and "
                   "received_at are ignored (a notice is refused: it has no content)"},
    [F_TOPIC] = {"topic", 0, "T", "topic, e.g. alert.yorkshire.hull (required)"},
    [F_CLASSIFICATION] = {"classification", 0, "C",
                          "OFFICIAL, OFFICIAL-SENSITIVE, SECRET or TOP-SECRET (required)"},
    [F_GRADING] = {"grading", 0, "G", "source 1-3 and intelligence A-E, e.g. 2B (required)"},
    [F_HANDLING] = {"handling", 0, "H", "P, or C with --release-to or --conditions (required)"},
    [F_RISK] = {"risk", 0, "R", "LOW, MEDIUM or HIGH (HIGH needs --risk-basis) (required)"},
    [F_RISK_BASIS] = {"risk-basis", 0, "TEXT", "why the risk is what it is"},
    [F_RISK_REF] = {"risk-ref", 0, "REF", "reference of the risk assessment"},
    [F_CAVEAT] = {"caveat", 0, "WORD", "a caveat receivers must hold (repeat for more)"},
    [F_RELEASE_TO] = {"release-to", 0, "WHO",
                      "agency:NAME, type:TYPE or region:NAME (repeat for more)"},
    [F_SUBJECT] = {"subject", 0, "REF", "a subject reference, e.g. A1234BC (repeat for more)"},
    [F_CONDITIONS] = {"conditions", 0, "TEXT", "handling conditions (handling C)"},
    [F_NO_ONWARD_SHARING] = {"no-onward-sharing", 0, NULL, "receivers may not pass it on (C)"},
    [F_SANITISATION] = {"sanitisation", 0, "S", "S1 or S2 (handling C)"},
    [F_MSG_ID] = {"msg-id", 0, "ID", "idempotency key (default: AGENT-TIME-N)"},
    [F_REVIEW_AT] = {"review-at", 0, "DATE", "MoPI review date, YYYY-MM-DD"},
    [F_EXPIRES_AT] = {"expires-at", 0, "TIME", "not delivered after, RFC 3339 UTC or a date"},
    [F_EMBARGO_UNTIL] = {"embargo-until", 0, "TIME", "held back until, RFC 3339 UTC or a date"},
    [F_CONTENT_TYPE] = {"content-type", 0, "TYPE",
                        "the body's media type (default with --body: text/plain)"},
    [F_BODY] = {"body", 0, "TEXT", "the body, as text"},
    [F_BODY_FILE] = {"body-file", 0, "F", "the body, the bytes of file F (- for stdin)"},
};

static const struct opts_spec spec = {
    .command = "pub",
    .synopsis = "[FILE|-] [--json]\n"
                "       liaisonctl [-c agent.cfg] pub --topic T --classification C --grading G\n"
                "           --handling H --risk R (--body TEXT | --body-file F) [label flags]",
    .about = "Publishes messages as JSON (one object or JSON lines; see message.schema.json)\n"
             "from FILE or stdin, or one message from flags, checked like the broker checks\n"
             "it. Prints seq N for each once the broker has it on disk, \"seq N (duplicate)\"\n"
             "when it already had that msg_id. Exit 1 if the broker refuses any.\n",
    .flags = flags,
    .n_flags = UTIL_LEN(flags),
    .config = OPTS_CONFIG_NEEDED,
};

/* How each label flag reaches the JSON mapping: its key, and its shape. */
enum shape { TEXT = 0, LIST, TRUE_FLAG, BODY_BYTES };
static const struct {
    const char *key;
    enum shape shape;
    int required;
} to_json[F_COUNT] = {
    [F_TOPIC] = {"topic", TEXT, 1},
    [F_CLASSIFICATION] = {"classification", TEXT, 1},
    [F_GRADING] = {"grading", TEXT, 1},
    [F_HANDLING] = {"handling", TEXT, 1},
    [F_RISK] = {"risk", TEXT, 1},
    [F_RISK_BASIS] = {"risk_basis", TEXT, 0},
    [F_RISK_REF] = {"risk_ref", TEXT, 0},
    [F_CAVEAT] = {"caveats", LIST, 0},
    [F_RELEASE_TO] = {"release_to", LIST, 0},
    [F_SUBJECT] = {"subjects", LIST, 0},
    [F_CONDITIONS] = {"conditions", TEXT, 0},
    [F_NO_ONWARD_SHARING] = {"no_onward_sharing", TRUE_FLAG, 0},
    [F_SANITISATION] = {"sanitisation", TEXT, 0},
    [F_MSG_ID] = {"msg_id", TEXT, 0},
    [F_REVIEW_AT] = {"review_at", TEXT, 0},
    [F_EXPIRES_AT] = {"expires_at", TEXT, 0},
    [F_EMBARGO_UNTIL] = {"embargo_until", TEXT, 0},
    [F_CONTENT_TYPE] = {"content_type", TEXT, 0},
    [F_BODY] = {"body", TEXT, 0},
    [F_BODY_FILE] = {"body_base64", BODY_BYTES, 0},
};

/* What the flags said: the last value of each, or every value of a list. */
struct given {
    const char *one[F_COUNT];
    json_doc_t *list[F_COUNT]; /* owned until handed to the message object */
    int any;                   /* a label flag was given: build from flags */
};

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = xmalloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n > PUB_MAX_INPUT) {
            free(buf);
            return NULL;
        }
        if (n == cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    *len = n;
    return buf;
}

static size_t line_of(const char *buf, size_t off)
{
    size_t line = 1;
    for (size_t i = 0; i < off; i++)
        line += buf[i] == '\n';
    return line;
}

/* Parses every object; on the first bad one reports it and returns -1. */
static int parse_all(const char *name, const char *buf, size_t len, int forward,
                     struct item **items, size_t *n)
{
    size_t off = 0, cap = 0;
    char err[512];
    *items = NULL;
    *n = 0;
    while (off < len) {
        size_t used = 0;
        size_t start = off;
        while (start < len && (buf[start] == ' ' || buf[start] == '\n' || buf[start] == '\t' ||
                               buf[start] == '\r'))
            start++;
        Liaison__Intel *m =
            json_to_intel_forwarded(buf + off, len - off, forward, &used, err, sizeof err);
        if (m == NULL) {
            if (err[0] == '\0')
                break; /* only whitespace left */
            fprintf(stderr, "liaisonctl: %s: message %zu (from line %zu): %s\n", name, *n + 1,
                    line_of(buf, start), err);
            return -1;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *items = xrealloc(*items, cap * sizeof **items);
        }
        memset(&(*items)[*n], 0, sizeof **items);
        (*items)[(*n)++].m = m;
        off += used ? used : len - off;
    }
    return 0;
}

static void free_items(struct item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wire_intel_free(&items[i].m);
    free(items);
}

/* The publisher's idempotency key, when the JSON gave none. */
static void ensure_msg_id(Liaison__Intel *m, const char *agent, size_t i)
{
    if (m->msg_id && m->msg_id[0])
        return;
    char id[160];
    snprintf(id, sizeof id, "%s-%llx-%zu", agent, (unsigned long long)util_now_us(), i);
    if (m->msg_id && m->msg_id != wire_empty())
        free(m->msg_id);
    m->msg_id = xstrdup(id);
}

static int send_one(link_t *l, struct item *it)
{
    Liaison__Envelope env;
    Liaison__Publish pub = LIAISON__PUBLISH__INIT;
    it->corr = link_next_corr(l);
    wire_envelope_init(&env, it->corr);
    pub.intel = it->m;
    env.kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
    env.publish = &pub;
    return link_send(l, &env);
}

static void given_free(struct given *g)
{
    for (size_t i = 0; i < F_COUNT; i++)
        json_doc_free(&g->list[i]);
}

/* The bytes of path ("-" for stdin) as standard base64, so a body that is
 * not text reaches the mapping intact. Caller frees; NULL after saying why. */
static char *body_base64(const char *path)
{
    size_t len = 0;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    char *bin = read_all(f, &len);
    if (f != stdin)
        fclose(f);
    if (bin == NULL) {
        fprintf(stderr, "liaisonctl: %s: body over %u bytes\n", path, PUB_MAX_INPUT);
        return NULL;
    }
    size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = xmalloc(n);
    sodium_bin2base64(b64, n, (const unsigned char *)bin, len, sodium_base64_VARIANT_ORIGINAL);
    free(bin);
    return b64;
}

/* Appends ", --name" to a list of what is missing. */
static void name_missing(char *out, size_t outlen, const char *name)
{
    size_t used = strlen(out);
    snprintf(out + used, outlen - used, "%s--%s", used ? ", " : "", name);
}

/* Builds the one message the flags describe as a JSON object, maps it with
 * json_to_intel like any published JSON, and checks its label with
 * label_validate like the broker will, so a bad label never leaves. Returns
 * CTL_OK with *out set (caller owns), CTL_USAGE after naming everything
 * missing or the first thing wrong, or CTL_FAIL when the body file cannot
 * be read. */
static int from_flags(const opts_t *o, struct given *g, Liaison__Intel **out)
{
    char missing[512] = "", err[512];
    for (size_t f = 0; f < F_COUNT; f++)
        if (to_json[f].required && g->one[f] == NULL)
            name_missing(missing, sizeof missing, flags[f].name);
    if (g->one[F_BODY] == NULL && g->one[F_BODY_FILE] == NULL)
        name_missing(missing, sizeof missing, "body (or --body-file)");
    if (missing[0])
        return opts_bad(o, "missing %s", missing), CTL_USAGE;
    if (g->one[F_BODY] && g->one[F_BODY_FILE])
        return opts_bad(o, "give --body or --body-file, not both"), CTL_USAGE;

    int status = CTL_USAGE;
    char *b64 = NULL, *text = NULL;
    json_doc_t *obj = json_doc_object();
    for (size_t f = 0; f < F_COUNT; f++) {
        const char *key = to_json[f].key;
        if (key == NULL)
            continue;
        if (to_json[f].shape == LIST && g->list[f]) {
            json_doc_set(obj, key, g->list[f]);
            g->list[f] = NULL;
        } else if (g->one[f] == NULL) {
            continue;
        } else if (to_json[f].shape == TEXT) {
            json_doc_set_str(obj, key, g->one[f]);
        } else if (to_json[f].shape == TRUE_FLAG) {
            json_doc_set_bool(obj, key, 1);
        } else if (to_json[f].shape == BODY_BYTES) {
            if ((b64 = body_base64(g->one[f])) == NULL) {
                status = CTL_FAIL;
                goto leave;
            }
            json_doc_set_str(obj, key, b64);
        }
    }
    if (g->one[F_BODY] && g->one[F_CONTENT_TYPE] == NULL)
        json_doc_set_str(obj, "content_type", "text/plain");
    text = json_doc_dump(obj);
    size_t used = 0;
    Liaison__Intel *m = json_to_intel(text, strlen(text), &used, err, sizeof err);
    if (m == NULL) {
        opts_bad(o, "%s", err);
        goto leave;
    }
    Liaison__ErrorCode code = label_validate(m, PUB_MAX_TOPIC, err, sizeof err);
    if (code != LIAISON__ERROR_CODE__ERROR_NONE) {
        opts_bad(o, "%s: %s", wire_error_name(code), err);
        wire_intel_free(&m);
        goto leave;
    }
    *out = m;
    status = CTL_OK;
leave:
    json_doc_free(&obj);
    free(text);
    free(b64);
    return status;
}

/* Reads FILE ("-" for stdin) into messages, all checked before any is sent.
 * Returns CTL_OK, or CTL_FAIL after saying why. */
static int from_file(const char *file, int forward, char **buf, struct item **items, size_t *n)
{
    size_t len = 0;
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (f == NULL) {
        perror(file);
        return CTL_FAIL;
    }
    *buf = read_all(f, &len);
    if (f != stdin)
        fclose(f);
    if (*buf == NULL) {
        fprintf(stderr, "liaisonctl: %s: input over %u bytes\n", file, PUB_MAX_INPUT);
        return CTL_FAIL;
    }
    if (parse_all(file, *buf, len, forward, items, n) != 0)
        return CTL_FAIL;
    if (*n == 0) {
        fprintf(stderr, "liaisonctl: %s: no message to publish\n", file);
        return CTL_FAIL;
    }
    return CTL_OK;
}

/* One acknowledged message on stdout. */
static void print_ack(const struct item *it, int json)
{
    if (!json) {
        printf("seq %llu%s\n", (unsigned long long)it->seq, it->duplicate ? " (duplicate)" : "");
        return;
    }
    json_doc_t *d = json_doc_object();
    json_doc_set_int(d, "seq", (int64_t)it->seq);
    json_doc_set_str(d, "msg_id", it->m->msg_id);
    json_doc_set_bool(d, "duplicate", it->duplicate);
    char *line = json_doc_dump(d);
    printf("%s\n", line);
    free(line);
    json_doc_free(&d);
}

/* Sends items with up to WINDOW in flight and prints each PubAck in input
 * order. Returns CTL_OK, or CTL_FAIL if any was refused or the link failed. */
static int publish(const char *config, struct item *items, size_t n, int json)
{
    int status = CTL_FAIL;
    link_t *l = NULL;
    if ((l = ctl_connect(config, "liaisonctl pub")) == NULL)
        goto leave;
    for (size_t i = 0; i < n; i++)
        ensure_msg_id(items[i].m, link_agent(l), i);
    size_t sent = 0, done = 0, printed = 0, refused = 0;
    while (done < n) {
        while (sent < n && sent - done < WINDOW)
            if (send_one(l, &items[sent++]) != 0)
                goto leave;
        int timed_out;
        Liaison__Envelope *r = link_recv(l, 30000, &timed_out);
        if (r == NULL) {
            if (timed_out) {
                fprintf(stderr,
                        "liaisonctl: no answer from the broker for 30 s; %zu of %zu "
                        "messages acknowledged\n",
                        done, n);
                goto leave;
            }
            continue;
        }
        /* Correlation ids were handed out in input order from a known base. */
        uint64_t base = items[0].corr;
        if (r->corr_id >= base && r->corr_id - base < sent) {
            struct item *it = &items[r->corr_id - base];
            if (it->state == PENDING && r->kind_case == LIAISON__ENVELOPE__KIND_PUB_ACK) {
                it->state = ACKED;
                it->seq = r->pub_ack->seq;
                it->duplicate = r->pub_ack->duplicate;
                done++;
            } else if (it->state == PENDING && r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
                it->state = REFUSED;
                refused++;
                done++;
                fprintf(stderr, "liaisonctl: message %zu (msg_id %s) refused: %s: %s\n",
                        (size_t)(r->corr_id - base) + 1, it->m->msg_id,
                        wire_error_name(r->error->code), r->error->message);
            }
        } else if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
            fprintf(stderr, "liaisonctl: broker error: %s: %s\n", wire_error_name(r->error->code),
                    r->error->message);
        }
        wire_envelope_free(&r);
        while (printed < n && items[printed].state != PENDING) {
            if (items[printed].state == ACKED)
                print_ack(&items[printed], json);
            printed++;
        }
        fflush(stdout);
    }
    status = refused ? CTL_FAIL : CTL_OK;
leave:
    link_close(&l);
    return status;
}

int ctl_pub(const char *config, int argc, char **argv)
{
    struct given g;
    struct item *items = NULL;
    size_t n = 0;
    char *buf = NULL;
    int json = 0, forward = 0, k, status = CTL_USAGE;
    opts_t o;
    memset(&g, 0, sizeof g);
    opts_begin(&o, &spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0) {
        if (k == F_JSON) {
            json = 1;
            continue;
        }
        if (k == F_FORWARD) {
            forward = 1;
            continue;
        }
        g.any = 1;
        if (to_json[k].shape == LIST) {
            if (g.list[k] == NULL)
                g.list[k] = json_doc_array();
            json_doc_push_str(g.list[k], o.arg);
        } else {
            g.one[k] = o.arg ? o.arg : ""; /* the last one given wins */
        }
    }
    if (k != OPTS_END) {
        status = k == OPTS_HELP ? CTL_OK : CTL_USAGE;
        goto leave;
    }
    if (g.any) {
        if (o.n_operands > 0) {
            opts_bad(&o, "give a FILE or label flags, not both");
            goto leave;
        }
        items = xcalloc(1, sizeof *items);
        if ((status = from_flags(&o, &g, &items[0].m)) != CTL_OK)
            goto leave;
        n = 1;
    } else {
        if (o.n_operands > 1) {
            opts_bad(&o, "publishes one FILE (or - for stdin) at a time");
            goto leave;
        }
        if ((status = from_file(o.n_operands ? o.operands[0] : "-", forward, &buf, &items, &n)) !=
            CTL_OK)
            goto leave;
    }
    status = publish(o.config, items, n, json);
leave:
    given_free(&g);
    free_items(items, n);
    free(buf);
    return status;
}
