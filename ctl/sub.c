/* sub.c — liaisonctl sub PATTERN [--durable NAME | --from-seq N | --since TIME]
 * [--count N] [--timeout S]: subscribes (or replays from the store, then
 * carries on live), prints each delivery as one JSON line, and acks it only
 * after the line is written and flushed. Stops after N messages (exit 0), or
 * after S seconds (exit 0 without --count; exit 1 if --count was not met).
 * Not responsible for JSON mapping (json.c) or the connection (link.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "ctl.h"
#include "json.h"
#include "link.h"
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

struct from {
    uint64_t seq;
    int64_t since_us;
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
        env.kind_case = LIAISON__ENVELOPE__KIND_REPLAY;
        env.replay = &rep;
    } else {
        req.sub_id = SUB_ID;
        req.pattern = (char *)(uintptr_t)pattern;
        req.durable = (char *)(uintptr_t)(durable ? durable : "");
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

int ctl_sub(const char *config, int argc, char **argv)
{
    const char *pattern = NULL, *durable = NULL;
    long count = -1;
    double timeout = -1;
    struct from from = {0, 0};
    int bad = 0, no_ack = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--durable") == 0 && i + 1 < argc)
            durable = argv[++i];
        else if (strcmp(argv[i], "--no-ack") == 0)
            no_ack = 1; /* for testing consumers: leave everything unacked */
        else if (strcmp(argv[i], "--from-seq") == 0 && i + 1 < argc)
            bad |= (from.seq = strtoull(argv[++i], NULL, 10)) == 0;
        else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
            bad |= util_parse_time(argv[++i], &from.since_us) != 0;
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = strtod(argv[++i], NULL);
        else if (pattern == NULL && argv[i][0] != '-')
            pattern = argv[i];
        else
            bad = 1;
    }
    if ((from.seq || from.since_us) && durable)
        bad = 1; /* a replay is never durable */
    if (pattern == NULL || count == 0 || bad) {
        fprintf(stderr, "usage: liaisonctl -c agent.cfg sub PATTERN [--durable NAME | "
                        "--from-seq N | --since YYYY-MM-DD[THH:MM:SSZ]] [--count N>0] "
                        "[--timeout S]\n");
        return CTL_USAGE;
    }
    int status = CTL_FAIL;
    link_t *l = NULL;
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
    /* Scripts wait for this line before publishing. */
    fprintf(stderr, "liaisonctl: subscribed %s from seq %llu\n", pattern,
            (unsigned long long)start);
    long got = 0;
    int64_t deadline = timeout >= 0 ? util_mono_ms() + (int64_t)(timeout * 1000) : -1;
    while (!interrupted && (count < 0 || got < count)) {
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
        } else if (r->kind_case == LIAISON__ENVELOPE__KIND_ERROR) {
            fprintf(stderr, "liaisonctl: broker error: %s: %s\n", wire_error_name(r->error->code),
                    r->error->message);
            if (r->error->code == LIAISON__ERROR_CODE__AGENT_NOT_ALLOWED) {
                wire_envelope_free(&r);
                break; /* access withdrawn: nothing more will come */
            }
        }
        wire_envelope_free(&r);
    }
    if (count >= 0 && got < count) {
        fprintf(stderr, "liaisonctl: stopped after %ld of %ld messages\n", got, count);
        goto leave;
    }
    status = CTL_OK;
leave:
    link_close(&l);
    return status;
}
