/* status.c — liaisonctl status | agents | subs | topics [--json]: one
 * operator view from the broker (StatusRequest{what}, operator role),
 * printed as a table for people, or as the broker's JSON with --json for
 * scripts (shapes in docs/operator.md). Also the fetch and the table
 * printing that `watch` and `deadletters` reuse.
 * Not responsible for: what the views hold (broker/control.c), the
 * connection (common/link.c), refreshing (watch.c). */
#include "status.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "opts.h"
#include "util.h"

int status_fetch(link_t *l, const char *what, char **json, char *err, size_t errlen)
{
    Liaison__Envelope env;
    Liaison__StatusRequest req = LIAISON__STATUS_REQUEST__INIT;
    wire_envelope_init(&env, 0);
    req.what = (char *)(uintptr_t)what;
    env.kind_case = LIAISON__ENVELOPE__KIND_STATUS_REQUEST;
    env.status_request = &req;
    Liaison__Envelope *r = link_call(l, &env, CTL_CONNECT_MS, err, errlen);
    if (r == NULL)
        return -1;
    int rc = -1;
    if (r->kind_case == LIAISON__ENVELOPE__KIND_STATUS_REPLY) {
        *json = xstrdup(r->status_reply->json);
        rc = 0;
    } else if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
        snprintf(err, errlen, "%s refused: %s: %s", what, wire_error_name(r->error->code),
                 r->error->message);
    } else {
        snprintf(err, errlen, "unexpected answer to %s", what);
    }
    wire_envelope_free(&r);
    return rc;
}

/* ---- reading the JSON -------------------------------------------------------- */

static double num(const json_doc_t *o, const char *key)
{
    double v = 0;
    json_doc_num(json_doc_get(o, key), &v);
    return v;
}

static int has_num(const json_doc_t *o, const char *key)
{
    double v;
    return json_doc_num(json_doc_get(o, key), &v) == 0;
}

static const char *str(const json_doc_t *o, const char *key, const char *none)
{
    const char *s = json_doc_str(json_doc_get(o, key));
    return s ? s : none;
}

static int flag(const json_doc_t *o, const char *key)
{
    return json_doc_bool(json_doc_get(o, key)) == 1;
}

/* ---- formatting ---------------------------------------------------------------- */

static void fmt_age(char *out, size_t n, double secs)
{
    long s = secs < 0 ? 0 : (long)secs;
    if (s < 60)
        snprintf(out, n, "%lds", s);
    else if (s < 3600)
        snprintf(out, n, "%ldm%02lds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, n, "%ldh%02ldm", s / 3600, s % 3600 / 60);
    else
        snprintf(out, n, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
}

static void fmt_bytes(char *out, size_t n, double v)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    while (v >= 1024 && u + 1 < UTIL_LEN(units)) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, n, "%.0f B", v);
    else
        snprintf(out, n, "%.1f %s", v, units[u]);
}

/* ---- tables ---------------------------------------------------------------------- */

#define MAX_COLS 16

struct table {
    size_t ncols;
    const char *head[MAX_COLS];
    int right[MAX_COLS]; /* numbers are right-aligned */
    char spec[512];      /* the headings, split in place */
    char **cells;        /* row-major, owned */
    size_t n, cap;
};

static void table_init(struct table *t, const char *spec)
{
    /* spec: "AGENT|>BACKLOG|..." — a leading '>' right-aligns a column. */
    memset(t, 0, sizeof t[0]);
    snprintf(t->spec, sizeof t->spec, "%s", spec);
    for (char *p = t->spec, *tok; (tok = strsep(&p, "|")) != NULL && t->ncols < MAX_COLS;) {
        t->right[t->ncols] = tok[0] == '>';
        t->head[t->ncols++] = tok + (tok[0] == '>');
    }
}

__attribute__((format(printf, 2, 3))) static void cell(struct table *t, const char *fmt, ...)
{
    char v[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = xrealloc(t->cells, t->cap * sizeof *t->cells);
    }
    t->cells[t->n++] = xstrdup(v);
}

static void table_print(struct table *t, FILE *out, const char *empty)
{
    size_t w[MAX_COLS];
    size_t rows = t->n / t->ncols;
    if (rows == 0) {
        fprintf(out, "%s\n", empty);
        goto leave;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = strlen(t->head[c]);
        for (size_t r = 0; r < rows; r++) {
            size_t l = strlen(t->cells[r * t->ncols + c]);
            if (l > w[c])
                w[c] = l;
        }
    }
    for (size_t r = 0; r <= rows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *v = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncols + c];
            int last = c + 1 == t->ncols;
            if (t->right[c])
                fprintf(out, "%*s%s", (int)w[c], v, last ? "" : "  ");
            else if (last)
                fprintf(out, "%s", v);
            else
                fprintf(out, "%-*s  ", (int)w[c], v);
        }
        fputc('\n', out);
    }
leave:
    for (size_t i = 0; i < t->n; i++)
        free(t->cells[i]);
    free(t->cells);
}

/* ---- the views --------------------------------------------------------------------- */

static void print_status(const json_doc_t *s, FILE *out)
{
    char up[32], used[32], map[32];
    const json_doc_t *r = json_doc_get(s, "rates");
    fmt_age(up, sizeof up, num(s, "uptime_s"));
    fmt_bytes(used, sizeof used, num(s, "store_used_bytes"));
    fmt_bytes(map, sizeof map, num(s, "store_map_bytes"));
    fprintf(out, "broker     liaison-broker %s, up %s (since %s)\n", str(s, "version", "?"), up,
            str(s, "started_at", "?"));
    fprintf(out, "store      %.0f messages (seq %.0f..%.0f), %s of %s used (%.1f%%)\n",
            num(s, "messages"), num(s, "first_seq"), num(s, "last_seq"), used, map,
            num(s, "store_used_ratio") * 100.0);
    if (json_doc_bool(json_doc_get(s, "store_paused")) == 1)
        fprintf(out,
                "           its reserve used up %.0fs ago: deliveries wait for room (the broker's "
                "log says so, event=store_exhausted)\n",
                num(s, "store_paused_s"));
    fprintf(out, "agents     %.0f of %.0f connected, %.0f connections, %.0f subscriptions\n",
            num(s, "agents_connected"), num(s, "agents_configured"), num(s, "sessions"),
            num(s, "subscriptions"));
    fprintf(out,
            "per second %.2f publishes, %.2f deliveries, %.2f publishes refused, %.2f "
            "deliveries withheld, %.2f notices (over %.0fs)\n",
            num(r, "publishes"), num(r, "deliveries"), num(r, "publishes_refused"),
            num(r, "deliveries_withheld"), num(r, "notices"), num(r, "window_s"));
    fprintf(out,
            "totals     %.0f published, %.0f refused, %.0f duplicates; %.0f delivered, "
            "%.0f notices, %.0f withheld;\n"
            "           %.0f redelivered, %.0f dead letters, %.0f keys refused, %.0f bad frames\n",
            num(s, "publishes"), num(s, "publish_refused"), num(s, "duplicates"),
            num(s, "deliveries"), num(s, "notices"), num(s, "delivery_refused"),
            num(s, "redeliveries"), num(s, "dead_letters"), num(s, "auth_refused"),
            num(s, "frames_bad"));
    fprintf(out, "backlog    %.0f messages behind, all subscriptions\n", num(s, "backlog"));
    const json_doc_t *o = json_doc_get(s, "oldest_unacked");
    if (o == NULL || !has_num(o, "seq")) {
        fprintf(out, "unacked    none\n");
    } else {
        char age[32] = "?";
        if (has_num(o, "age_s"))
            fmt_age(age, sizeof age, num(o, "age_s"));
        const char *d = str(o, "durable", NULL);
        if (d)
            fprintf(out, "unacked    oldest is seq %.0f for %s/%s, %s old\n", num(o, "seq"),
                    str(o, "agent", "?"), d, age);
        else
            fprintf(out, "unacked    oldest is seq %.0f for %s #%.0f, %s old\n", num(o, "seq"),
                    str(o, "agent", "?"), num(o, "id"), age);
    }
}

static void print_agents(const json_doc_t *arr, FILE *out)
{
    struct table t;
    table_init(&t, "AGENT|TYPE|REGION|STATE|CONNECTED SINCE|>LAST SEEN|>IN|>OUT|>REFUSED|"
                   ">WITHHELD|>SUBS");
    for (size_t i = 0; i < json_doc_len(arr); i++) {
        const json_doc_t *a = json_doc_at(arr, i);
        char seen[32] = "-";
        if (has_num(a, "last_seen_age_s")) {
            fmt_age(seen, sizeof seen, num(a, "last_seen_age_s"));
            strcat(seen, " ago");
        }
        const char *state = !flag(a, "configured")            ? "removed"
                            : flag(a, "revoked")              ? "revoked"
                            : flag(a, "no_live_subscription") ? "connected, receiving nothing"
                            : flag(a, "connected")            ? "connected"
                                                              : "-";
        cell(&t, "%s", str(a, "name", "?"));
        cell(&t, "%s", str(a, "type", "-"));
        cell(&t, "%s", str(a, "region", "-"));
        if (num(a, "sessions") > 1)
            cell(&t, "%s x%.0f", state, num(a, "sessions"));
        else
            cell(&t, "%s", state);
        cell(&t, "%s", str(a, "connected_since", "-"));
        cell(&t, "%s", seen);
        cell(&t, "%.0f", num(a, "messages_in"));
        cell(&t, "%.0f", num(a, "messages_out"));
        cell(&t, "%.0f", num(a, "publish_refused"));
        cell(&t, "%.0f", num(a, "withheld"));
        cell(&t, "%.0f", num(a, "subscriptions"));
    }
    table_print(&t, out, "no agents configured");
}

static void print_subs(const json_doc_t *arr, FILE *out)
{
    struct table t;
    table_init(&t, "AGENT|SUBSCRIPTION|PATTERN|STATE|>BACKLOG|>IN FLIGHT|>OLDEST UNACKED|"
                   ">DELIVERED|>ACKED|>REDELIVERED|>DEAD|>WITHHELD");
    for (size_t i = 0; i < json_doc_len(arr); i++) {
        const json_doc_t *s = json_doc_at(arr, i);
        char oldest[32] = "-";
        if (has_num(s, "oldest_unacked_age_s"))
            fmt_age(oldest, sizeof oldest, num(s, "oldest_unacked_age_s"));
        cell(&t, "%s", str(s, "agent", "?"));
        if (str(s, "durable", NULL))
            cell(&t, "%s", str(s, "durable", NULL));
        else
            cell(&t, "#%.0f", num(s, "id"));
        cell(&t, "%s", str(s, "pattern", "?"));
        cell(&t, "%s", flag(s, "connected") ? "live" : "away");
        cell(&t, "%.0f", num(s, "backlog"));
        if (flag(s, "connected"))
            cell(&t, "%.0f/%.0f", num(s, "in_flight"), num(s, "window"));
        else
            cell(&t, "-"); /* away: nothing can be in flight */
        cell(&t, "%s", oldest);
        cell(&t, "%.0f", num(s, "delivered"));
        cell(&t, "%.0f", num(s, "acked"));
        cell(&t, "%.0f", num(s, "redelivered"));
        cell(&t, "%.0f", num(s, "dead_lettered"));
        cell(&t, "%.0f", num(s, "withheld"));
    }
    table_print(&t, out, "no subscriptions");
}

static void print_topics(const json_doc_t *d, FILE *out)
{
    struct table t;
    const json_doc_t *arr = json_doc_get(d, "topics");
    table_init(&t, "PREFIX|>MESSAGES|>BYTES|OLDEST|NEWEST|RETENTION");
    for (size_t i = 0; i < json_doc_len(arr); i++) {
        const json_doc_t *p = json_doc_at(arr, i);
        const json_doc_t *rules = json_doc_get(p, "retention");
        char bytes[32], ret[256] = "";
        size_t used = 0;
        fmt_bytes(bytes, sizeof bytes, num(p, "bytes"));
        for (size_t k = 0; k < json_doc_len(rules) && used < sizeof ret; k++) {
            const json_doc_t *r = json_doc_at(rules, k);
            char lim[96] = "";
            size_t l = 0;
            if (num(r, "max_age_days") > 0)
                l += (size_t)snprintf(lim + l, sizeof lim - l, " %.0fd", num(r, "max_age_days"));
            if (num(r, "max_messages") > 0 && l < sizeof lim)
                l +=
                    (size_t)snprintf(lim + l, sizeof lim - l, " %.0f msgs", num(r, "max_messages"));
            if (num(r, "max_mb") > 0 && l < sizeof lim)
                snprintf(lim + l, sizeof lim - l, " %.0f MiB", num(r, "max_mb"));
            used += (size_t)snprintf(ret + used, sizeof ret - used, "%s%s:%s", k ? "; " : "",
                                     str(r, "pattern", "?"), lim[0] ? lim : " no limit");
        }
        if (flag(p, "unretained") && used < sizeof ret)
            snprintf(ret + used, sizeof ret - used, "%sno rule", used ? "; " : "");
        cell(&t, "%s", str(p, "prefix", "?"));
        cell(&t, "%.0f", num(p, "messages"));
        cell(&t, "%s", bytes);
        cell(&t, "%s", str(p, "oldest", "-"));
        cell(&t, "%s", str(p, "newest", "-"));
        cell(&t, "%s", ret);
    }
    table_print(&t, out, "no messages stored");
    if (!flag(d, "complete"))
        fprintf(out, "(read the oldest %.0f messages only: the store holds more)\n",
                num(d, "scanned"));
    if (flag(d, "purge_after_review"))
        fprintf(out, "messages are also erased once their review_at date has passed\n");
}

static void print_deadletters(const json_doc_t *d, FILE *out)
{
    struct table t;
    const json_doc_t *arr = json_doc_get(d, "dead_letters");
    table_init(&t, ">SEQ|DURABLE|REASON");
    for (size_t i = 0; i < json_doc_len(arr); i++) {
        const json_doc_t *x = json_doc_at(arr, i);
        cell(&t, "%.0f", num(x, "seq"));
        cell(&t, "%s", str(x, "durable", "?"));
        cell(&t, "%s", str(x, "reason", "-"));
    }
    table_print(&t, out, "no dead letters");
}

static void print_durables(const json_doc_t *d, FILE *out)
{
    struct table t;
    const json_doc_t *arr = json_doc_get(d, "durables");
    table_init(&t, "AGENT|DURABLE|PATTERN|>CURSOR|>BACKLOG|HELD|LAST ACTIVITY");
    for (size_t i = 0; i < json_doc_len(arr); i++) {
        const json_doc_t *x = json_doc_at(arr, i);
        cell(&t, "%s", str(x, "agent", "?"));
        cell(&t, "%s", str(x, "durable", "?"));
        cell(&t, "%s", str(x, "pattern", "?"));
        cell(&t, "%.0f", num(x, "cursor"));
        cell(&t, "%.0f", num(x, "backlog"));
        cell(&t, "%s", flag(x, "held") ? "yes" : "no");
        cell(&t, "%s", str(x, "last_activity", "-"));
    }
    table_print(&t, out, "no durable subscriptions");
    if (json_doc_len(arr) && !flag(d, "backlog_exact"))
        fprintf(out, "backlogs count every message after the cursor until the broker has "
                     "counted its store\n");
}

/* The links: this broker's uplinks, then the downstream brokers linked
 * to it. A link that is not connected says why, loudly. */
static void print_links(const json_doc_t *d, FILE *out)
{
    struct table t;
    const json_doc_t *ups = json_doc_get(d, "uplinks"), *downs = json_doc_get(d, "downlinks");
    table_init(&t, "UPLINK|BROKER|STATE|>LAG|>IN FLIGHT|>FORWARDED|>REFUSED|>LOOPS|>RECEIVED|WHY");
    for (size_t i = 0; i < json_doc_len(ups); i++) {
        const json_doc_t *u = json_doc_at(ups, i);
        const char *state = str(u, "state", "?");
        cell(&t, "%s", str(u, "name", "?"));
        cell(&t, "%s", str(u, "broker", "?"));
        cell(&t, "%s", strcmp(state, "connected") == 0 ? state : "NOT CONNECTED");
        cell(&t, "%.0f", num(u, "forward_lag"));
        cell(&t, "%.0f", num(u, "in_flight"));
        cell(&t, "%.0f", num(u, "forwarded"));
        cell(&t, "%.0f", num(u, "refused"));
        cell(&t, "%.0f", num(u, "loops"));
        cell(&t, "%.0f", num(u, "received"));
        cell(&t, "%s", strcmp(state, "connected") == 0 ? str(u, "why", "") : state);
    }
    table_print(&t, out, "no uplinks configured");
    for (size_t i = 0; i < json_doc_len(ups); i++) {
        const json_doc_t *u = json_doc_at(ups, i);
        if (strcmp(str(u, "state", "?"), "connected") != 0)
            fprintf(out, "uplink %s is %s: %s\n", str(u, "name", "?"), str(u, "state", "?"),
                    str(u, "why", "no reason given"));
    }
    table_init(&t, "DOWNSTREAM BROKER|AGENCY|>RECEIVED|>REFUSED|>DELIVERED|>SUBSCRIPTIONS");
    for (size_t i = 0; i < json_doc_len(downs); i++) {
        const json_doc_t *x = json_doc_at(downs, i);
        cell(&t, "%s", str(x, "agent", "?"));
        cell(&t, "%s", str(x, "agency", "?"));
        cell(&t, "%.0f", num(x, "received"));
        cell(&t, "%.0f", num(x, "refused"));
        cell(&t, "%.0f", num(x, "delivered"));
        cell(&t, "%.0f", num(x, "subscriptions"));
    }
    table_print(&t, out, "no downstream broker connected");
    fprintf(out, "loops dropped %.0f, repeats dropped %.0f\n", num(d, "loops_dropped"),
            num(d, "route_duplicates"));
}

void status_print(const char *kind, const json_doc_t *doc, FILE *out)
{
    if (strcmp(kind, "links") == 0)
        print_links(doc, out);
    if (strcmp(kind, "status") == 0)
        print_status(doc, out);
    else if (strcmp(kind, "agents") == 0)
        print_agents(json_doc_len(doc) ? doc : json_doc_get(doc, "agents"), out);
    else if (strcmp(kind, "subs") == 0)
        print_subs(json_doc_len(doc) ? doc : json_doc_get(doc, "subscriptions"), out);
    else if (strcmp(kind, "topics") == 0)
        print_topics(doc, out);
    else if (strcmp(kind, "deadletters") == 0)
        print_deadletters(doc, out);
    else if (strcmp(kind, "durables") == 0)
        print_durables(doc, out);
}

/* ---- the commands -------------------------------------------------------------------- */

enum { F_JSON, F_DEPTH };

static const struct opts_flag view_flags[] = {
    [F_JSON] = {"json", 0, NULL, "the broker's JSON, one line (shapes in docs/operator.md)"},
    [F_DEPTH] = {"depth", 0, "N", "group topics by their first N tokens, 1-8 (default 2)"},
};

#define VIEW_ABOUT ".\nOperator role: a table, or the broker's JSON with --json.\n"

static const struct opts_spec view_specs[] = {
    {.command = "status",
     .synopsis = "[--json]",
     .about = "The broker's state: store, connections, rates, totals, backlog" VIEW_ABOUT,
     .flags = view_flags,
     .n_flags = 1,
     .config = OPTS_CONFIG_NEEDED},
    {.command = "agents",
     .synopsis = "[--json]",
     .about = "Each configured agent: connected, last seen, messages in and out" VIEW_ABOUT,
     .flags = view_flags,
     .n_flags = 1,
     .config = OPTS_CONFIG_NEEDED},
    {.command = "subs",
     .synopsis = "[--json]",
     .about = "Each subscription: backlog, in flight, oldest unacked, redeliveries" VIEW_ABOUT,
     .flags = view_flags,
     .n_flags = 1,
     .config = OPTS_CONFIG_NEEDED},
    {.command = "links",
     .synopsis = "[--json]",
     .about = "Federation: each uplink's state (and why, when it is not connected), its lag,\n"
              "what it forwarded, what was refused and what came down; and the downstream\n"
              "brokers linked to this one" VIEW_ABOUT,
     .flags = view_flags,
     .n_flags = 1,
     .config = OPTS_CONFIG_NEEDED},
    {.command = "topics",
     .synopsis = "[--depth N] [--json]",
     .about = "Messages, bytes, oldest and newest per topic prefix, and the retention rules\n"
              "that govern them" VIEW_ABOUT,
     .flags = view_flags,
     .n_flags = 2,
     .config = OPTS_CONFIG_NEEDED},
};

static int view(const char *config, const char *kind, int argc, char **argv)
{
    int json = 0, k;
    char what[32];
    const struct opts_spec *spec = &view_specs[0];
    for (size_t i = 0; i < UTIL_LEN(view_specs); i++)
        if (strcmp(view_specs[i].command, kind) == 0)
            spec = &view_specs[i];
    snprintf(what, sizeof what, "%s", kind);
    opts_t o;
    opts_begin(&o, spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0) {
        uint64_t d;
        if (k == F_JSON)
            json = 1;
        else if (k == F_DEPTH && opts_u64(&o, 1, 8, &d) != 0)
            return CTL_USAGE;
        else if (k == F_DEPTH)
            snprintf(what, sizeof what, "topics:%llu", (unsigned long long)d);
    }
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    if (o.n_operands > 0)
        return opts_bad(&o, "takes no arguments (\"%.40s\")", o.operands[0]), CTL_USAGE;
    config = o.config;
    char err[512];
    int status = CTL_FAIL;
    char *text = NULL;
    json_doc_t *doc = NULL;
    link_t *l = NULL;
    char client[48];
    snprintf(client, sizeof client, "liaisonctl %s", kind);
    if ((l = ctl_connect(config, client)) == NULL)
        goto leave;
    if (status_fetch(l, what, &text, err, sizeof err) != 0) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        goto leave;
    }
    if (json) {
        printf("%s\n", text);
    } else {
        if ((doc = json_doc_parse(text, err, sizeof err)) == NULL) {
            fprintf(stderr, "liaisonctl: the broker's answer is not JSON: %s\n", err);
            goto leave;
        }
        status_print(kind, doc, stdout);
    }
    status = fflush(stdout) == 0 ? CTL_OK : CTL_FAIL;
leave:
    json_doc_free(&doc);
    free(text);
    link_close(&l);
    return status;
}

int ctl_status(const char *config, int argc, char **argv)
{
    return view(config, "status", argc, argv);
}

int ctl_agents(const char *config, int argc, char **argv)
{
    return view(config, "agents", argc, argv);
}

int ctl_subs(const char *config, int argc, char **argv)
{
    return view(config, "subs", argc, argv);
}

int ctl_topics(const char *config, int argc, char **argv)
{
    return view(config, "topics", argc, argv);
}

int ctl_links(const char *config, int argc, char **argv)
{
    return view(config, "links", argc, argv);
}
