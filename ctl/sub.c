/* sub.c — liaisonctl sub PATTERN [--durable NAME | --from-seq N | --since TIME]
 * [--count N] [--timeout S]: subscribes (or replays from the store, then
 * carries on live), prints each delivery as one JSON line, and acks it only
 * after the line is written and flushed. Stops after N messages (exit 0), or
 * after S seconds (exit 0 without --count; exit 1 if --count was not met).
 * TIME is a date, RFC 3339 with any offset, or how long ago ("1h").
 * Not responsible for JSON mapping (json.c), the connection (link.c) or the
 * time formats (util.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "ctl.h"
#include "json.h"
#include "link.h"
#include "opts.h"
#include "util.h"

#define SUB_ID 1

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int send_ack(link_t *l, uint64_t seq)
{
    Liaison__Envelope env;
    Liaison__Ack ack = LIAISON__ACK__INIT;
    wire_envelope_init(&env, 0);
    ack.sub_id = SUB_ID;
    ack.n_seqs = 1;
    ack.seqs = &seq;
    env.kind_case = LIAISON__ENVELOPE__KIND_ACK;
    env.ack = &ack;
    return link_send(l, &env);
}

/* Leaving: Unsubscribe, so a durable name is free at once for the next
 * connection (else the broker holds it until it reaps this session), and a
 * Heartbeat whose answer says the broker has read the Unsubscribe. */
static void goodbye(link_t *l)
{
    Liaison__Envelope env;
    Liaison__Unsubscribe u = LIAISON__UNSUBSCRIBE__INIT;
    wire_envelope_init(&env, 0);
    u.sub_id = SUB_ID;
    env.kind_case = LIAISON__ENVELOPE__KIND_UNSUBSCRIBE;
    env.unsubscribe = &u;
    if (link_send(l, &env) != 0)
        return;
    Liaison__Heartbeat hb = LIAISON__HEARTBEAT__INIT;
    wire_envelope_init(&env, 0);
    env.kind_case = LIAISON__ENVELOPE__KIND_HEARTBEAT;
    env.heartbeat = &hb;
    char err[128];
    Liaison__Envelope *r = link_call(l, &env, 2000, err, sizeof err);
    wire_envelope_free(&r);
}

#define MAX_WATCH 10000

struct from {
    uint64_t seq, to_seq;
    int64_t since_us;
    int take_over;
    const char *where; /* a filter over label fields, or NULL */
    char **subjects;   /* a watchlist (borrowed from argv), n_subjects of them */
    size_t n_subjects;
};

static int subscribe(link_t *l, const char *pattern, const char *durable, const struct from *from,
                     uint64_t *start)
{
    Liaison__Envelope env;
    Liaison__Subscribe req = LIAISON__SUBSCRIBE__INIT;
    Liaison__Replay rep = LIAISON__REPLAY__INIT;
    char err[256];
    wire_envelope_init(&env, 0);
    if (from->seq || from->since_us) {
        rep.sub_id = SUB_ID;
        rep.pattern = (char *)(uintptr_t)pattern;
        rep.from_seq = from->seq;
        rep.since_us = from->since_us;
        rep.to_seq = from->to_seq;
        rep.report_done = 1;
        env.kind_case = LIAISON__ENVELOPE__KIND_REPLAY;
        env.replay = &rep;
    } else {
        req.sub_id = SUB_ID;
        req.pattern = (char *)(uintptr_t)pattern;
        req.durable = (char *)(uintptr_t)(durable ? durable : "");
        req.take_over = from->take_over;
        req.where = (char *)(uintptr_t)(from->where ? from->where : "");
        req.subjects = from->subjects;
        req.n_subjects = from->n_subjects;
        env.kind_case = LIAISON__ENVELOPE__KIND_SUBSCRIBE;
        env.subscribe = &req;
    }
    Liaison__Envelope *r = link_call(l, &env, CTL_CONNECT_MS, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "liaisonctl: %s\n", err);
        return -1;
    }
    int rc = -1;
    if (r->kind_case == LIAISON__ENVELOPE__KIND_SUB_ACK) {
        *start = r->sub_ack->start_seq;
        rc = 0;
    } else if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
        fprintf(stderr, "liaisonctl: subscription refused: %s: %s\n",
                wire_error_name(r->error->code), r->error->message);
    }
    wire_envelope_free(&r);
    return rc;
}

enum {
    F_DURABLE,
    F_TAKE_OVER,
    F_FROM_SEQ,
    F_SINCE,
    F_TO_SEQ,
    F_FOLLOW,
    F_COUNT,
    F_TIMEOUT,
    F_NO_ACK,
    F_SUBJECT,
    F_WHERE
};

static const struct opts_flag flags[] = {
    [F_DURABLE] = {"durable", 0, "NAME",
                   "a durable subscription: the broker keeps its place while away"},
    [F_TAKE_OVER] = {"take-over", 0, NULL,
                     "take the durable name from the connection holding it (it is told)"},
    [F_FROM_SEQ] = {"from-seq", 0, "N",
                    "replay the store from sequence N, and stop once caught up (see --follow)"},
    [F_SINCE] = {"since", 0, "TIME",
                 "replay from TIME: YYYY-MM-DD, RFC 3339 (Z or +01:00), or ago (1h, 30m, 2d)"},
    [F_TO_SEQ] = {"to-seq", 0, "N", "a replay ends after sequence N"},
    [F_FOLLOW] = {"follow", 0, NULL, "a replay carries on live once caught up"},
    [F_COUNT] = {"count", 0, "N", "stop after N messages (exit 1 if the timeout comes first)"},
    [F_TIMEOUT] = {"timeout", 0, "S", "stop after S seconds (fractions allowed)"},
    [F_NO_ACK] = {"no-ack", 0, NULL, "never ack (for testing consumers: all comes again)"},
    [F_SUBJECT] = {"subject", 's', "REF",
                   "a watchlist: only messages about REF (repeatable; the broker keeps only a "
                   "blind token)"},
    [F_WHERE] = {"where", 'w', "EXPR",
                 "only messages whose label satisfies EXPR, e.g. \"risk >= MEDIUM and "
                 "origin.type in (prison, rocu)\""},
};

static const struct opts_spec spec = {
    .command = "sub",
    .synopsis = "PATTERN [--durable NAME [--take-over] | --from-seq N | --since TIME [--to-seq N] "
                "[--follow]] [--subject REF ...] [--where EXPR] [--count N] [--timeout S]",
    .about = "Subscribes to PATTERN (tokens, '*' for one, a final '>' for the rest) and prints\n"
             "each delivery as a line of JSON, acking it once written. A replay (--from-seq,\n"
             "--since) reads the store and, without --count or --follow, exits once it has\n"
             "everything stored up to now; it is never durable.\n",
    .flags = flags,
    .n_flags = UTIL_LEN(flags),
    .config = OPTS_CONFIG_NEEDED,
};

int ctl_sub(const char *config, int argc, char **argv)
{
    const char *pattern = NULL, *durable = NULL;
    uint64_t count = 0; /* 0: for ever */
    double timeout = -1;
    struct from from = {0, 0, 0, 0, NULL, NULL, 0};
    char **watch = NULL;
    int no_ack = 0, follow = 0, k;
    opts_t o;
    opts_begin(&o, &spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0) {
        int bad = 0;
        if (k == F_DURABLE)
            durable = o.arg;
        else if (k == F_NO_ACK)
            no_ack = 1;
        else if (k == F_TAKE_OVER)
            from.take_over = 1;
        else if (k == F_FOLLOW)
            follow = 1;
        else if (k == F_WHERE)
            from.where = o.arg;
        else if (k == F_SUBJECT && from.n_subjects == MAX_WATCH) {
            opts_bad(&o, "at most %d --subject", MAX_WATCH);
            bad = 1;
        } else if (k == F_SUBJECT) {
            watch = xrealloc(watch, (from.n_subjects + 1) * sizeof *watch);
            watch[from.n_subjects++] = (char *)(uintptr_t)o.arg;
            from.subjects = watch;
        } else if (k == F_TO_SEQ)
            bad = opts_u64(&o, 1, UINT64_MAX, &from.to_seq);
        else if (k == F_FROM_SEQ)
            bad = opts_u64(&o, 1, UINT64_MAX, &from.seq);
        else if (k == F_SINCE)
            bad = opts_since(&o, &from.since_us);
        else if (k == F_COUNT)
            bad = opts_u64(&o, 1, UINT32_MAX, &count);
        else if (k == F_TIMEOUT)
            bad = opts_seconds(&o, 0, 31536000, &timeout);
        if (bad) {
            free(watch);
            return CTL_USAGE;
        }
    }
    int status = CTL_USAGE, subscribed_ok = 0;
    link_t *l = NULL;
    if (k != OPTS_END) {
        status = k == OPTS_HELP ? CTL_OK : CTL_USAGE;
        goto leave;
    }
    if (o.n_operands != 1) {
        opts_bad(&o, "wants one PATTERN");
        goto leave;
    }
    pattern = o.operands[0];
    int replay = from.seq || from.since_us;
    if (replay && durable) {
        opts_bad(&o, "a replay (--from-seq, --since) is never --durable");
        goto leave;
    }
    if (from.seq && from.since_us) {
        opts_bad(&o, "give --from-seq or --since, not both");
        goto leave;
    }
    if (!replay && (from.to_seq || follow)) {
        opts_bad(&o, "--to-seq and --follow are for a replay (--from-seq, --since)");
        goto leave;
    }
    if (replay && (from.where || from.n_subjects)) {
        opts_bad(&o, "--subject and --where are for a live or durable subscription, not a replay");
        goto leave;
    }
    if (from.take_over && !durable) {
        opts_bad(&o, "--take-over is for a --durable subscription");
        goto leave;
    }
    config = o.config;
    status = CTL_FAIL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if ((l = ctl_connect(config, "liaisonctl sub")) == NULL)
        goto leave;
    uint64_t start = 0;
    if (subscribe(l, pattern, durable, &from, &start) != 0)
        goto leave;
    subscribed_ok = 1;
    /* Scripts wait for this line before publishing. */
    fprintf(stderr, "liaisonctl: subscribed %s from seq %llu\n", pattern,
            (unsigned long long)start);
    uint64_t got = 0;
    int64_t deadline = timeout >= 0 ? util_mono_ms() + (int64_t)(timeout * 1000) : -1;
    while (!interrupted && (count == 0 || got < count)) {
        int wait = 500, timed_out;
        if (deadline >= 0) {
            int64_t left = deadline - util_mono_ms();
            if (left <= 0)
                break;
            if (left < wait)
                wait = (int)left;
        }
        Liaison__Envelope *r = link_recv(l, wait, &timed_out);
        if (r == NULL && link_lost(l)) {
            fprintf(stderr, "liaisonctl: the connection to the broker was lost\n");
            goto leave;
        }
        if (r == NULL)
            continue;
        if (r->kind_case == LIAISON__ENVELOPE__KIND_DELIVER && r->deliver->intel) {
            char *line = json_from_delivery(r->deliver);
            uint64_t seq = r->deliver->intel->seq;
            /* Ack only what is written: a crash before the ack means a
             * redelivery, never a loss. */
            int ok = printf("%s\n", line) >= 0 && fflush(stdout) == 0;
            free(line);
            if (ok && !no_ack)
                send_ack(l, seq);
            got++;
        } else if (r->kind_case == LIAISON__ENVELOPE__KIND_REPLAY_DONE) {
            /* Everything stored up to now: a replay without --count or
             * --follow is done. */
            if (count == 0 && (!follow || from.to_seq)) {
                wire_envelope_free(&r);
                break;
            }
        } else if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
            fprintf(stderr, "liaisonctl: broker error: %s: %s\n", wire_error_name(r->error->code),
                    r->error->message);
            if (r->error->code == LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED ||
                r->error->code == LIAISON__ERROR_CODE__TAKEN_OVER ||
                r->error->code == LIAISON__ERROR_CODE__DURABLE_DELETED) {
                wire_envelope_free(&r);
                goto leave; /* nothing more will come here */
            }
        }
        wire_envelope_free(&r);
    }
    if (count > 0 && got < count) {
        fprintf(stderr, "liaisonctl: stopped after %llu of %llu messages\n",
                (unsigned long long)got, (unsigned long long)count);
        goto leave;
    }
    status = CTL_OK;
leave:
    if (subscribed_ok && !link_lost(l))
        goodbye(l);
    link_close(&l);
    free(watch);
    return status;
}
