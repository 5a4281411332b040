/* retrypub.c — a test publisher that never gives up: it publishes N
 * labelled messages with msg_ids ID_PREFIX-0..N-1, keeps up to WINDOW in
 * flight, and when the broker vanishes (killed) it reconnects and re-sends
 * every message not yet PubAcked, with the same msg_id — what an agent's
 * outbox does. Each PubAck is written as "msg_id seq" to ACKED_FILE and
 * flushed, so the file is what the broker promised at any moment.
 * With RETRYPUB_MIXED set, bodies run from 10 bytes to 60 KB (message i's
 * length is retrypub_len(i), its bytes name i), and a STORE_FULL refusal
 * is final: written as "msg_id FULL" and not retried.
 * With RETRYPUB_RATE=R, message i is first sent no sooner than i/R seconds
 * after the start (a steady publisher, for the soak); resends go at once.
 * usage: retrypub AGENT.cfg N ACKED_FILE [WINDOW] [TOPIC]
 * Not part of any installed program. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_config.h"
#include "link.h"
#include "log.h"
#include "util.h"
#include "wire.h"

/* Body length of message i in mixed mode: 10 B to 60 KB, spread. */
static size_t mixed_len(size_t i)
{
    return 10 + (i * 7919u) % 60000u;
}

static void fill(Liaison__Intel *m, const char *topic, const char *id, size_t mixed)
{
    m->topic = xstrdup(topic);
    m->msg_id = xstrdup(id);
    m->content_type = xstrdup("text/plain");
    m->label->classification = LIAISON__CLASSIFICATION__OFFICIAL;
    m->label->source_grade = 2;
    m->label->intel_grade = xstrdup("B");
    m->label->handling = LIAISON__HANDLING__HANDLING_P;
    m->label->risk = LIAISON__RISK__LOW;
    if (mixed) {
        m->body.data = xmalloc(mixed);
        memset(m->body.data, 'x', mixed);
        memcpy(m->body.data, id, strlen(id) < mixed ? strlen(id) : mixed);
        m->body.len = mixed;
        return;
    }
    m->body.data = (uint8_t *)xstrdup("fault-test body: a retried publish must be stored once");
    m->body.len = strlen((char *)m->body.data);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: retrypub AGENT.cfg N ACKED_FILE [WINDOW] [TOPIC]\n");
        return 2;
    }
    char err[512];
    log_set_program("retrypub");
    client_config_t *cfg = client_config_load(argv[1], err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "retrypub: %s\n", err);
        return 1;
    }
    size_t n = strtoul(argv[2], NULL, 10);
    size_t window = argc > 4 ? strtoul(argv[4], NULL, 10) : 500;
    const char *topic = argc > 5 ? argv[5] : "alert.fault.load";
    FILE *acked = fopen(argv[3], "a");
    if (acked == NULL || n == 0 || window == 0) {
        fprintf(stderr, "retrypub: bad arguments\n");
        return 2;
    }
    int mixed = getenv("RETRYPUB_MIXED") != NULL;
    double rate = getenv("RETRYPUB_RATE") ? strtod(getenv("RETRYPUB_RATE"), NULL) : 0;
    int64_t t0 = util_mono_ms();
    size_t refused = 0;
    uint8_t *done = xcalloc(n, 1);
    uint64_t *corr_of = xcalloc(n, sizeof *corr_of);
    size_t n_done = 0, reconnects = 0;
    Liaison__Intel *m = wire_intel_new();
    while (n_done < n) {
        link_t *l = link_open(cfg, "retrypub", 2000, err, sizeof err);
        if (l == NULL) {
            reconnects++;
            continue; /* broker down: try again (bounded by the caller's timeout) */
        }
        uint64_t base = link_next_corr(l); /* corr = base + 1 + index */
        size_t next = 0, inflight = 0;
        int lost = 0;
        while (!lost && n_done < n) {
            while (inflight < window && next < n) {
                if (done[next]) {
                    next++;
                    continue;
                }
                if (rate > 0 && (double)next >= (double)(util_mono_ms() - t0) * rate / 1000.0)
                    break; /* not yet due */
                char id[64];
                snprintf(id, sizeof id, "fault-%zu", next);
                Liaison__Intel *fresh = wire_intel_new();
                fill(fresh, topic, id, mixed ? mixed_len(next) : 0);
                Liaison__Envelope env;
                Liaison__Publish pub = LIAISON__PUBLISH__INIT;
                wire_envelope_init(&env, base + 1 + next);
                pub.intel = fresh;
                env.kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
                env.publish = &pub;
                int rc = link_send(l, &env);
                wire_intel_free(&fresh);
                if (rc != 0) {
                    lost = 1;
                    break;
                }
                corr_of[next] = base + 1 + next;
                next++;
                inflight++;
            }
            if (inflight == 0 && next >= n)
                break; /* all sent on this link were answered; rescan */
            int timed_out, wait_ms = 1500, paced = 0;
            if (rate > 0 && next < n) {
                int64_t due = t0 + (int64_t)((double)next * 1000.0 / rate) - util_mono_ms();
                if (due < 1500) {
                    wait_ms = due < 1 ? 1 : (int)due;
                    paced = 1;
                }
            }
            Liaison__Envelope *r = link_recv(l, wait_ms, &timed_out);
            if (r == NULL) {
                if ((timed_out && !paced) || link_lost(l))
                    lost = 1; /* broker silent or gone: reconnect */
                continue;
            }
            if (r->corr_id > base && r->corr_id - base - 1 < n) {
                size_t i = r->corr_id - base - 1;
                if (r->kind_case == LIAISON__ENVELOPE__KIND_PUB_ACK && !done[i]) {
                    done[i] = 1;
                    n_done++;
                    fprintf(acked, "fault-%zu %llu\n", i, (unsigned long long)r->pub_ack->seq);
                    fflush(acked);
                }
                if (mixed && r->kind_case == LIAISON__ENVELOPE__KIND_ERROR && !done[i] &&
                    r->error->code == LIAISON__ERROR_CODE__STORE_FULL) {
                    done[i] = 1; /* final: the store is full */
                    n_done++;
                    refused++;
                    fprintf(acked, "fault-%zu FULL\n", i);
                    fflush(acked);
                }
                if (inflight)
                    inflight--;
            }
            wire_envelope_free(&r);
        }
        link_close(&l);
        if (n_done < n)
            reconnects++;
    }
    fprintf(stderr, "retrypub: %zu acked, %zu refused as full, %zu reconnects\n", n_done - refused,
            refused, reconnects);
    wire_intel_free(&m);
    fclose(acked);
    free(done);
    free(corr_of);
    client_config_free(&cfg);
    return 0;
}
