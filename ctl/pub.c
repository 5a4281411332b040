/* pub.c — liaisonctl pub [FILE|-]: reads one JSON object or JSON lines,
 * checks them all before sending any, publishes with up to WINDOW in flight
 * and prints "seq N" for each message, in input order, after its PubAck
 * (that is, after the broker has it on disk). Exit 1 if any is refused.
 * Not responsible for JSON mapping (json.c) or the connection (link.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "json.h"
#include "link.h"
#include "util.h"

#define WINDOW        256
#define PUB_MAX_INPUT (256u << 20)

enum { PENDING = 0, ACKED, REFUSED };

struct item {
    Liaison__Intel *m;
    uint64_t corr;
    uint64_t seq;
    int state;
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
static int parse_all(const char *name, const char *buf, size_t len, struct item **items, size_t *n)
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
        Liaison__Intel *m = json_to_intel(buf + off, len - off, &used, err, sizeof err);
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

int ctl_pub(const char *config, int argc, char **argv)
{
    const char *file = argc > 0 ? argv[0] : "-";
    if (argc > 1) {
        fprintf(stderr, "usage: liaisonctl -c agent.cfg pub [FILE|-]\n");
        return CTL_USAGE;
    }
    int status = CTL_FAIL;
    struct item *items = NULL;
    size_t n = 0, len = 0;
    link_t *l = NULL;
    char *buf = NULL;
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (f == NULL) {
        perror(file);
        goto leave;
    }
    buf = read_all(f, &len);
    if (f != stdin)
        fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "liaisonctl: %s: input over %u bytes\n", file, PUB_MAX_INPUT);
        goto leave;
    }
    if (parse_all(file, buf, len, &items, &n) != 0)
        goto leave;
    if (n == 0) {
        fprintf(stderr, "liaisonctl: %s: no message to publish\n", file);
        goto leave;
    }
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
                printf("seq %llu\n", (unsigned long long)items[printed].seq);
            printed++;
        }
        fflush(stdout);
    }
    status = refused ? CTL_FAIL : CTL_OK;
leave:
    link_close(&l);
    free_items(items, n);
    free(buf);
    return status;
}
