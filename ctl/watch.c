/* watch.c — liaisonctl watch [--interval S] [--count N] [--json]: the
 * status, subscriptions, agents and topics views, refreshed in place like
 * top over one connection (so the broker's consultation records aggregate
 * instead of one per refresh). With --json, one line per refresh holding
 * {"status":…, "agents":[…], "subscriptions":[…], "topics":{…}}.
 * Not responsible for: fetching or printing a view (status.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "status.h"
#include "util.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Waits interval_ms while keeping the link alive (link_recv answers the
 * broker's heartbeat rhythm); stray frames are dropped. */
static void pause_ms(link_t *l, int64_t interval_ms)
{
    int64_t until = util_mono_ms() + interval_ms;
    while (!interrupted) {
        int64_t left = until - util_mono_ms();
        if (left <= 0)
            return;
        int timed_out;
        Liaison__Envelope *r = link_recv(l, (int)(left > 250 ? 250 : left), &timed_out);
        wire_envelope_free(&r);
        if (link_lost(l))
            return; /* the next refresh reports the failure */
    }
}

static int refresh(link_t *l, int json, int tty, char *err, size_t errlen)
{
    char *all = NULL, *topics = NULL;
    json_doc_t *doc = NULL, *tdoc = NULL;
    int rc = -1;
    if (status_fetch(l, "all", &all, err, errlen) != 0 ||
        status_fetch(l, "topics", &topics, err, errlen) != 0)
        goto leave;
    if (json) {
        /* Splice the two objects: {"status":…,…} + "topics":{…}. */
        size_t n = strlen(all);
        if (n < 2 || all[n - 1] != '}') {
            snprintf(err, errlen, "the broker's answer is not a JSON object");
            goto leave;
        }
        all[n - 1] = '\0';
        printf("%s,\"topics\":%s}\n", all, topics);
        rc = fflush(stdout) == 0 ? 0 : -1;
        goto leave;
    }
    if ((doc = json_doc_parse(all, err, errlen)) == NULL ||
        (tdoc = json_doc_parse(topics, err, errlen)) == NULL)
        goto leave;
    if (tty)
        fputs("\033[H\033[2J", stdout); /* home, clear: redraw in place */
    status_print("status", json_doc_get(doc, "status"), stdout);
    fputs("\nSUBSCRIPTIONS\n", stdout);
    status_print("subs", json_doc_get(doc, "subscriptions"), stdout);
    fputs("\nAGENTS\n", stdout);
    status_print("agents", json_doc_get(doc, "agents"), stdout);
    fputs("\nTOPICS\n", stdout);
    status_print("topics", tdoc, stdout);
    if (!tty)
        fputs("\n", stdout);
    rc = fflush(stdout) == 0 ? 0 : -1;
leave:
    json_doc_free(&doc);
    json_doc_free(&tdoc);
    free(all);
    free(topics);
    return rc;
}

int ctl_watch(const char *config, int argc, char **argv)
{
    int json = 0;
    long count = 0;
    double interval = 2.0;
    for (int i = 0; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = strtol(argv[++i], &end, 10);
            if (*end != '\0' || count < 1)
                goto usage;
        } else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
            interval = strtod(argv[++i], &end);
            if (*end != '\0' || !(interval >= 0.5 && interval <= 3600))
                goto usage;
        } else {
            goto usage;
        }
    }
    char err[512];
    int status = CTL_FAIL;
    link_t *l = NULL;
    if ((l = ctl_connect(config, "liaisonctl watch")) == NULL)
        goto leave;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int tty = !json && isatty(STDOUT_FILENO);
    for (long n = 0; !interrupted && (count == 0 || n < count); n++) {
        if (n > 0)
            pause_ms(l, (int64_t)(interval * 1000));
        if (interrupted)
            break;
        if (refresh(l, json, tty, err, sizeof err) != 0) {
            fprintf(stderr, "liaisonctl: %s\n", err);
            goto leave;
        }
    }
    status = CTL_OK;
leave:
    link_close(&l);
    return status;
usage:
    fprintf(stderr, "usage: liaisonctl -c ops.cfg watch [--interval S] [--count N] [--json]\n");
    return CTL_USAGE;
}
