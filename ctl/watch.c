/* watch.c — liaisonctl watch [--interval S] [--count N] [--json]: the
 * status, subscriptions, agents and topics views, refreshed in place like
 * top over one connection (so the broker's consultation records aggregate
 * instead of one per refresh). On a terminal: a header line (time,
 * interval, "q to quit"), the views cut to the terminal's size (TIOCGWINSZ,
 * 80x24 when it cannot be read), and `q` quits; the terminal is put in
 * non-canonical mode for that and restored on every way out, signals
 * included. Not on a terminal: the views one after another. With --json,
 * one line per refresh holding
 * {"status":…, "agents":[…], "subscriptions":[…], "topics":{…}}.
 * Not responsible for: fetching or printing a view (status.c). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "ctl.h"
#include "opts.h"
#include "status.h"
#include "util.h"

static volatile sig_atomic_t interrupted, resized;

static void on_signal(int sig)
{
    if (sig == SIGWINCH)
        resized = 1;
    else
        interrupted = 1;
}

/* The terminal while watch owns it: keys one at a time, not echoed. */
struct term {
    int raw; /* 1 while in non-canonical mode: saved must be put back */
    struct termios saved;
};

static void term_raw(struct term *t)
{
    struct termios r;
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->saved) != 0)
        return;
    r = t->saved;
    r.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    r.c_cc[VMIN] = 1;
    r.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &r) == 0)
        t->raw = 1;
}

static void term_restore(struct term *t)
{
    if (t->raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
    t->raw = 0;
}

/* Reads what was typed; 1 if it holds a q. */
static int quit_typed(void)
{
    char keys[64];
    ssize_t n = read(STDIN_FILENO, keys, sizeof keys);
    return n > 0 && (memchr(keys, 'q', (size_t)n) || memchr(keys, 'Q', (size_t)n));
}

/* Waits interval_ms while keeping the link alive (link_recv answers the
 * broker's heartbeat rhythm); stray frames are dropped. With keys, also
 * watches the terminal: returns 1 when q is typed. A resize ends the wait
 * early so the next refresh fits the new size. */
static int pause_ms(link_t *l, int64_t interval_ms, int keys)
{
    int64_t until = util_mono_ms() + interval_ms;
    while (!interrupted && !resized) {
        int64_t left = until - util_mono_ms();
        if (left <= 0)
            return 0;
        int timed_out;
        int wait = (int)(left > 250 ? 250 : left);
        Liaison__Envelope *r = link_recv(l, keys ? 0 : wait, &timed_out);
        wire_envelope_free(&r);
        if (link_lost(l))
            return 0; /* the next refresh reports the failure */
        if (!keys)
            continue;
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int rc = poll(&p, 1, wait > 100 ? 100 : wait);
        if (rc > 0 && (p.revents & POLLIN) && quit_typed())
            return 1;
        if (rc > 0 && (p.revents & (POLLHUP | POLLERR)))
            return 1; /* the terminal went away */
        if (rc < 0 && errno != EINTR)
            return 0;
    }
    return 0;
}

static void term_size(int *rows, int *cols)
{
    struct winsize ws;
    *rows = 24;
    *cols = 80;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    }
}

/* Writes text cut to the terminal: at most cols columns a line (UTF-8
 * continuation bytes take none), at most rows lines in all with the last
 * one saying how many did not fit, and no newline after the last line, so
 * the screen never scrolls. */
static void put_fitted(const char *text, int rows, int cols)
{
    int lines = 0, total = 0;
    for (const char *p = text; *p; p++)
        total += *p == '\n';
    for (const char *p = text; *p && lines < rows; lines++) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (lines == rows - 1 && total > rows) {
            printf("... %d more lines: a bigger terminal shows them\033[K", total - lines);
            break;
        }
        int width = 0;
        size_t i = 0;
        for (; i < len; i++) {
            if (((unsigned char)p[i] & 0xc0) != 0x80 && ++width > cols)
                break;
        }
        fwrite(p, 1, i, stdout);
        fputs("\033[K", stdout); /* clear what the last refresh left */
        if (lines + 1 < rows && eol)
            fputc('\n', stdout);
        p = eol ? eol + 1 : p + len;
    }
    fputs("\033[J", stdout); /* and below */
}

/* The four views as tables, one after another, into out. */
static void print_views(const json_doc_t *doc, const json_doc_t *tdoc, FILE *out)
{
    status_print("status", json_doc_get(doc, "status"), out);
    fputs("\nSUBSCRIPTIONS\n", out);
    status_print("subs", json_doc_get(doc, "subscriptions"), out);
    fputs("\nAGENTS\n", out);
    status_print("agents", json_doc_get(doc, "agents"), out);
    fputs("\nTOPICS\n", out);
    status_print("topics", tdoc, out);
}

static int refresh(link_t *l, int json, int tty, double interval, char *err, size_t errlen)
{
    char *all = NULL, *topics = NULL, *screen = NULL;
    size_t screen_len = 0;
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
    if (!tty) {
        print_views(doc, tdoc, stdout);
        fputs("\n", stdout);
        rc = fflush(stdout) == 0 ? 0 : -1;
        goto leave;
    }
    FILE *mem = open_memstream(&screen, &screen_len);
    if (mem == NULL) {
        snprintf(err, errlen, "cannot draw the screen: %s", strerror(errno));
        goto leave;
    }
    char now[32];
    int rows, cols;
    util_rfc3339(util_now_us(), now);
    term_size(&rows, &cols);
    fprintf(mem, "liaisonctl watch  %.19sZ  every %gs  q to quit\n\n", now, interval);
    print_views(doc, tdoc, mem);
    fclose(mem);
    fputs("\033[H", stdout); /* home: redraw in place */
    put_fitted(screen, rows, cols);
    rc = fflush(stdout) == 0 ? 0 : -1;
leave:
    json_doc_free(&doc);
    json_doc_free(&tdoc);
    free(all);
    free(topics);
    free(screen);
    return rc;
}

enum { F_INTERVAL, F_COUNT, F_JSON };

static const struct opts_flag flags[] = {
    [F_INTERVAL] = {"interval", 0, "S", "seconds between refreshes, 0.5-3600 (default 2)"},
    [F_COUNT] = {"count", 0, "N", "stop after N refreshes (default: until q or Ctrl-C)"},
    [F_JSON] = {"json", 0, NULL, "one line of JSON per refresh instead of tables"},
};

static const struct opts_spec spec = {
    .command = "watch",
    .synopsis = "[--interval S] [--count N] [--json]",
    .about = "Status, subscriptions, agents and topics (operator role), redrawn in place like\n"
             "top, cut to the terminal's size; q quits. Not on a terminal, the views are\n"
             "printed one refresh after another.\n",
    .flags = flags,
    .n_flags = UTIL_LEN(flags),
    .config = OPTS_CONFIG_NEEDED,
};

int ctl_watch(const char *config, int argc, char **argv)
{
    int json = 0, tty = 0, k;
    uint64_t count = 0;
    double interval = 2.0;
    opts_t o;
    opts_begin(&o, &spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0) {
        if (k == F_JSON)
            json = 1;
        else if (k == F_COUNT && opts_u64(&o, 1, UINT32_MAX, &count) != 0)
            return CTL_USAGE;
        else if (k == F_INTERVAL && opts_seconds(&o, 0.5, 3600, &interval) != 0)
            return CTL_USAGE;
    }
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    if (o.n_operands > 0)
        return opts_bad(&o, "takes no arguments (\"%.40s\")", o.operands[0]), CTL_USAGE;
    char err[512];
    int status = CTL_FAIL;
    struct term term = {0};
    link_t *l = NULL;
    if ((l = ctl_connect(o.config, "liaisonctl watch")) == NULL)
        goto leave;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a signal ends the wait */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    tty = !json && isatty(STDOUT_FILENO);
    if (tty) {
        term_raw(&term);
        fputs("\033[2J", stdout); /* clear once; refreshes overwrite */
    }
    int quit = 0;
    for (uint64_t n = 0; !interrupted && !quit && (count == 0 || n < count); n++) {
        if (n > 0)
            quit = pause_ms(l, (int64_t)(interval * 1000), term.raw);
        resized = 0;
        if (interrupted || quit)
            break;
        if (refresh(l, json, tty, interval, err, sizeof err) != 0) {
            fprintf(stderr, "%sliaisonctl: %s\n", tty ? "\n" : "", err);
            goto leave;
        }
    }
    status = CTL_OK;
leave:
    if (tty)
        fputs("\n", stdout); /* leave the prompt below the last screen */
    term_restore(&term);
    link_close(&l);
    return status;
}
