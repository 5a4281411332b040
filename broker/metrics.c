/* metrics.c — what the operators' HTTP endpoint says: the Prometheus text
 * and the status page's JSON, which the loop renders once a second and
 * hands to common/httpd.c (which serves them from its own thread), the
 * embedded status page, /healthz, and the commit-latency histogram.
 * Not responsible for: serving HTTP or checking the token (httpd.c), the
 * contents of the views (control.c), or any access to broker state from
 * the HTTP thread — it has none but the two atomics /healthz reads. */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "control.h"
#include "httpd.h"
#include "log.h"
#include "uplink.h"
#include "room.h"
#include "util.h"

/* The page, generated from broker/status_page.html by the Makefile. */
static const char status_page[] =
#include "status_page.inc"
    ;

/* Upper bounds of the commit-latency buckets, in seconds: one fsync here is
 * about 0.26 ms, a large group commit a few ms; the tail is for a sick disk. */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])
#define RECENT    1024
/* /healthz: a loop that has not turned for this long is stuck. It turns
 * at least once a second (the control tick), so this is five missed. */
#define HEALTH_STALL_MS 5000

struct metrics {
    httpd_t *http; /* NULL until metrics_start */
    /* Loop thread only. */
    uint64_t counts[N_BUCKETS + 1]; /* the last is +Inf */
    uint64_t n;
    double sum;
    double recent[RECENT]; /* the last RECENT commit times, a ring */
    /* Written by the loop at every turn (metrics_alive), read by /healthz
     * in the HTTP thread: when it last turned (monotonic ms, 0: not yet),
     * and why it is not healthy (a string constant; NULL: it is). */
    _Atomic int64_t alive_ms;
    _Atomic(const char *) unwell;
};

metrics_t *metrics_new(void)
{
    return xcalloc(1, sizeof(metrics_t));
}

void metrics_free(metrics_t **mp)
{
    if (mp == NULL || *mp == NULL)
        return;
    httpd_stop(&(*mp)->http); /* the thread first: it reads the atomics */
    free(*mp);
    *mp = NULL;
}

int metrics_serving(const metrics_t *m)
{
    return m != NULL && m->http != NULL;
}

double metrics_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void metrics_observe_commit(metrics_t *m, double seconds)
{
    if (m == NULL)
        return;
    size_t i = 0;
    while (i < N_BUCKETS && seconds > buckets[i])
        i++;
    m->counts[i]++;
    m->recent[m->n % RECENT] = seconds;
    m->n++;
    m->sum += seconds;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double metrics_commit_quantile(const metrics_t *m, double q)
{
    if (m == NULL || m->n == 0)
        return 0;
    size_t n = m->n < RECENT ? (size_t)m->n : RECENT;
    double v[RECENT];
    memcpy(v, m->recent, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* ---- HTTP ------------------------------------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void metrics_alive(metrics_t *m, const char *unwell)
{
    if (m == NULL)
        return;
    atomic_store(&m->alive_ms, mono_ms());
    atomic_store(&m->unwell, unwell);
}

/* /healthz, in the HTTP thread: 200 "ok" while the loop turns and the
 * store takes writes, else 503 and why. Not a consultation of anyone's
 * data (it says nothing of the messages), so not recorded: a probe every
 * few seconds would only bury the trail. */
static unsigned health(void *ctx, char *text, size_t len)
{
    metrics_t *m = ctx;
    int64_t alive = atomic_load(&m->alive_ms), now = mono_ms();
    const char *unwell = atomic_load(&m->unwell);
    if (alive == 0)
        snprintf(text, len, "unavailable: the broker's loop has not started\n");
    else if (now - alive > HEALTH_STALL_MS)
        snprintf(text, len, "unavailable: the broker's loop has not turned for %lld ms\n",
                 (long long)(now - alive));
    else if (unwell)
        snprintf(text, len, "unavailable: %s\n", unwell);
    else {
        snprintf(text, len, "ok\n");
        return 200;
    }
    return 503;
}

/* The paths, in the order metrics_publish sets them. */
enum { DOC_PROM, DOC_PAGE_JSON, DOC_PAGE, DOC_HEALTH };
static const struct httpd_doc docs[] = {
    [DOC_PROM] = {.path = "/metrics",
                  .type = "text/plain; version=0.0.4; charset=utf-8",
                  .counted = 1},
    [DOC_PAGE_JSON] = {.path = "/status.json", .type = "application/json", .counted = 1},
    [DOC_PAGE] = {.path = "/",
                  .type = "text/html; charset=utf-8",
                  .fixed = status_page,
                  .fixed_len = sizeof status_page - 1},
    [DOC_HEALTH] = {.path = "/healthz", .type = "text/plain; charset=utf-8", .live = health},
};

int metrics_start(metrics_t *m, const char *addr, const char *token, char *err, size_t errlen)
{
    char why[256];
    m->http = httpd_start(addr, token, docs, UTIL_LEN(docs), m, why, sizeof why);
    if (m->http == NULL) {
        snprintf(err, errlen, "metrics: %s", why);
        return -1;
    }
    return 0;
}

void metrics_take_reads(metrics_t *m, metrics_read_fn fn, void *ctx)
{
    if (m != NULL)
        httpd_take_reads(m->http, fn, ctx);
}

/* ---- Prometheus text (loop thread) ------------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void put(struct buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (n > 0 ? (size_t)n : 0) + 256;
        b->p = xrealloc(b->p, b->cap);
    }
}

/* Label values are escaped as the exposition format says. Names and
 * patterns are already plain, but the format must hold whatever comes. */
static void put_label(struct buf *b, const char *name, const char *value)
{
    put(b, "%s=\"", name);
    for (const char *s = value; *s; s++) {
        if (*s == '\\' || *s == '"')
            put(b, "\\%c", *s);
        else if (*s == '\n')
            put(b, "\\n");
        else
            put(b, "%c", *s);
    }
    put(b, "\"");
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(struct buf *b, const char *name, const char *type, const char *help, double v)
{
    family(b, name, type, help);
    put(b, "%s %.17g\n", name, v);
}

/* One family over the uplinks, labelled by link. */
static void uplink_family(struct buf *b, const broker_t *br, const char *name, const char *type,
                          const char *help, size_t field)
{
    family(b, name, type, help);
    for (size_t i = 0; i < uplinks_count(br); i++) {
        struct uplink_info u;
        uplink_info(br, i, &u);
        put(b, "%s{", name);
        put_label(b, "link", u.name);
        put(b, "} %llu\n",
            field == SIZE_MAX ? (unsigned long long)u.up
                              : (unsigned long long)*(const uint64_t *)((const char *)&u + field));
    }
}

/* A link that is down is loud here too: liaison_uplink_up 0. */
static void render_uplinks(struct buf *b, const broker_t *br)
{
    if (uplinks_count(br) == 0)
        return;
    uplink_family(b, br, "liaison_uplink_up", "gauge", "1 while the uplink is connected.",
                  SIZE_MAX);
    uplink_family(b, br, "liaison_uplink_forward_lag_messages", "gauge",
                  "Stored messages past the uplink's forward cursor.",
                  offsetof(struct uplink_info, lag));
    uplink_family(b, br, "liaison_uplink_forwarded_total", "counter",
                  "Messages forwarded up the link since the broker started.",
                  offsetof(struct uplink_info, forwarded));
    uplink_family(b, br, "liaison_uplink_refused_total", "counter",
                  "Forwards the upstream refused for good since the broker started.",
                  offsetof(struct uplink_info, refused));
    uplink_family(b, br, "liaison_uplink_received_total", "counter",
                  "Messages received down the link since the broker started.",
                  offsetof(struct uplink_info, received));
    uplink_family(b, br, "liaison_uplink_losses_total", "counter",
                  "Times the connected link was lost since the broker started.",
                  offsetof(struct uplink_info, losses));
}

/* The subscription label: its durable name, or "#id" for one that lives
 * and dies with its connection (durable names cannot start with '#'). */
static void sub_label(char *out, size_t n, const struct control_sub *s)
{
    if (s->durable)
        snprintf(out, n, "%s", s->durable);
    else
        snprintf(out, n, "#%u", s->id);
}

/* Connections of one agent may hold subscriptions with the same id: their
 * series would collide, so they are summed into one (oldest age: max). */
struct sub_series {
    const char *agent;
    char label[160];
    double connected, backlog, in_flight, oldest_age, delivered, acked, redelivered, dead, withheld;
    int has_age;
};

static size_t sub_series(const struct control_model *m, struct sub_series *out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_subs; i++) {
        const struct control_sub *s = &m->subs[i];
        char label[160];
        sub_label(label, sizeof label, s);
        struct sub_series *o = NULL;
        /* The model is sorted by agent, then durable, then id. */
        if (n && strcmp(out[n - 1].agent, s->agent) == 0 && strcmp(out[n - 1].label, label) == 0)
            o = &out[n - 1];
        if (o == NULL) {
            o = &out[n++];
            memset(o, 0, sizeof *o);
            o->agent = s->agent;
            snprintf(o->label, sizeof o->label, "%s", label);
        }
        o->connected += s->connected;
        o->backlog += (double)s->backlog;
        o->in_flight += s->in_flight;
        o->delivered += (double)s->delivered;
        o->acked += (double)s->acked;
        o->redelivered += (double)s->redelivered;
        o->dead += (double)s->dead_lettered;
        o->withheld += (double)s->withheld;
        if (s->oldest_us) {
            double age = (double)(m->now_us - s->oldest_us) / 1e6;
            if (!o->has_age || age > o->oldest_age)
                o->oldest_age = age;
            o->has_age = 1;
        }
    }
    return n;
}

#define SUB_FAMILY(FIELD, NAME, TYPE, HELP)                                                        \
    do {                                                                                           \
        family(&b, NAME, TYPE, HELP);                                                              \
        for (size_t i = 0; i < n_series; i++) {                                                    \
            put(&b, "%s{", NAME);                                                                  \
            put_label(&b, "agent", series[i].agent);                                               \
            put(&b, ",");                                                                          \
            put_label(&b, "subscription", series[i].label);                                        \
            put(&b, "} %.17g\n", series[i].FIELD);                                                 \
        }                                                                                          \
    } while (0)

#define AGENT_FAMILY(EXPR, NAME, TYPE, HELP)                                                       \
    do {                                                                                           \
        family(&b, NAME, TYPE, HELP);                                                              \
        for (size_t i = 0; i < model->n_agents; i++) {                                             \
            const struct control_agent *a = &model->agents[i];                                     \
            put(&b, "%s{", NAME);                                                                  \
            put_label(&b, "agent", a->name);                                                       \
            put(&b, "} %.17g\n", (double)(EXPR));                                                  \
        }                                                                                          \
    } while (0)

/* ---- process_* (loop thread): the names Prometheus' client libraries use,
 * read from /proc/self. A figure that cannot be read is left out. */

/* Fields 14.. of /proc/self/stat, counted from 1 after the command name
 * (which may hold spaces and parentheses: it ends at the last ')'). */
static int proc_stat(unsigned long long *utime, unsigned long long *stime,
                     unsigned long long *start, unsigned long long *vsize, long long *rss)
{
    char text[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strrchr(text, ')');
    if (p == NULL)
        return -1;
    /* After ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime cutime cstime priority nice threads
     * itrealvalue starttime(22) vsize rss(24). */
    int got = sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                     "%*d %llu %llu %lld",
                     utime, stime, start, vsize, rss);
    return got == 5 ? 0 : -1;
}

/* The line of /proc/path starting with key, its first number after it. */
static int proc_number(const char *path, const char *key, unsigned long long *v)
{
    char line[256];
    int found = -1;
    size_t klen = strlen(key);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (found != 0 && fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && sscanf(line + klen, "%llu", v) == 1)
            found = 0;
    fclose(f);
    return found;
}

/* The start time is the broker's own: under the unit's ProcSubset=pid
 * /proc/stat (the boot time the kernel's start tick counts from) is not
 * readable. */
static void render_process(struct buf *b, int64_t started_us)
{
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    unsigned long long ut, st, start, vsize, max;
    long long rss;
    if (tick > 0 && proc_stat(&ut, &st, &start, &vsize, &rss) == 0) {
        scalar(b, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.",
               (double)(ut + st) / (double)tick);
        scalar(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               (double)rss * (double)page);
        scalar(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
               (double)vsize);
    }
    scalar(b, "process_start_time_seconds", "gauge",
           "Start time of the process since unix epoch in seconds.", (double)started_us / 1e6);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = 0;
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            if (e->d_name[0] != '.')
                n++;
        closedir(d);
        scalar(b, "process_open_fds", "gauge", "Number of open file descriptors.",
               (double)(n - 1)); /* less the one reading the directory */
    }
    if (proc_number("/proc/self/limits", "Max open files", &max) == 0)
        scalar(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
               (double)max);
}

static char *render(metrics_t *m, broker_t *br, const struct control_model *model, size_t *len)
{
    struct buf b = {.p = xmalloc(16384), .cap = 16384};
    const struct broker_stats *st = &br->stats;
    b.p[0] = '\0';

    family(&b, "liaison_build_info", "gauge", "The running broker's version (always 1).");
    put(&b, "liaison_build_info{version=\"%s\"} 1\n", BROKER_VERSION);
    scalar(&b, "liaison_start_time_seconds", "gauge", "When the broker started, Unix time.",
           (double)(br->started_us / 1000000));
    /* Named as Prometheus names its own, so the same alert rules fit. */
    scalar(&b, "liaison_config_last_reload_successful", "gauge",
           "1 when the last SIGHUP's broker.cfg was taken (and at start), 0 when it was refused.",
           (double)br->reload_ok);
    scalar(&b, "liaison_config_last_reload_success_timestamp_seconds", "gauge",
           "When a broker.cfg was last taken (start or SIGHUP), Unix time.",
           (double)(br->reload_us / 1000000));

    family(&b, "liaison_publishes_total", "counter",
           "Publishes by outcome: accepted (on disk), refused, duplicate (answered from dedup).");
    put(&b, "liaison_publishes_total{outcome=\"accepted\"} %llu\n",
        (unsigned long long)st->publishes);
    put(&b, "liaison_publishes_total{outcome=\"refused\"} %llu\n",
        (unsigned long long)st->publish_refused);
    put(&b, "liaison_publishes_total{outcome=\"duplicate\"} %llu\n",
        (unsigned long long)st->duplicates);
    family(&b, "liaison_deliveries_total", "counter",
           "Delivery decisions by outcome: delivered (redeliveries included), notice "
           "(sanitised), withheld (refused by the rule).");
    put(&b, "liaison_deliveries_total{outcome=\"delivered\"} %llu\n",
        (unsigned long long)st->deliveries);
    put(&b, "liaison_deliveries_total{outcome=\"notice\"} %llu\n", (unsigned long long)st->notices);
    put(&b, "liaison_deliveries_total{outcome=\"withheld\"} %llu\n",
        (unsigned long long)st->delivery_refused);
    /* The same two outcomes on their own, so a panel or an alert on
     * "refused" never mixes a publisher's mistakes with the rule at work. */
    scalar(&b, "liaison_publishes_refused_total", "counter",
           "Publishes refused (label, permission, rate or store), since the broker started.",
           (double)st->publish_refused);
    scalar(&b, "liaison_deliveries_withheld_total", "counter",
           "Deliveries withheld by the delivery rule, since the broker started.",
           (double)st->delivery_refused);
    scalar(&b, "liaison_redeliveries_total", "counter", "Deliveries sent again after no ack.",
           (double)st->redeliveries);
    scalar(&b, "liaison_dead_letters_total", "counter",
           "Messages set aside after max_deliver attempts.", (double)st->dead_letters);
    scalar(&b, "liaison_commits_total", "counter", "Group commits (one fsync each).",
           (double)st->commits);
    scalar(&b, "liaison_commits_refused_total", "counter",
           "Group commits LMDB refused for want of room (MAP_FULL), tries included.",
           (double)st->commits_refused);
    scalar(&b, "liaison_store_paused", "gauge",
           "1 while the store's reserve is used up and deliveries (or, after a refused commit, "
           "all writes) wait for room.",
           (double)room_paused(br));
    scalar(&b, "liaison_bad_frames_total", "counter", "Frames refused as undecodable.",
           (double)st->frames_bad);
    scalar(&b, "liaison_auth_refused_total", "counter",
           "CURVE handshakes refused (unknown or revoked key).", (double)auth_refused(br->auth));

    family(&b, "liaison_commit_duration_seconds", "histogram",
           "Time to commit one group of writes to disk, fsync included.");
    uint64_t cum = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        cum += m->counts[i];
        put(&b, "liaison_commit_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
            (unsigned long long)cum);
    }
    put(&b, "liaison_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)m->n);
    put(&b, "liaison_commit_duration_seconds_sum %.9f\n", m->sum);
    put(&b, "liaison_commit_duration_seconds_count %llu\n", (unsigned long long)m->n);

    scalar(&b, "liaison_store_messages", "gauge", "Messages held in the store.",
           (double)model->store.messages);
    scalar(&b, "liaison_store_last_seq", "gauge", "Highest committed sequence number.",
           (double)model->store.last_seq);
    scalar(&b, "liaison_store_used_bytes", "gauge", "Bytes of the LMDB map in use.",
           (double)model->store.used_bytes);
    scalar(&b, "liaison_store_map_bytes", "gauge",
           "Size of the LMDB map: the most the store can hold.", (double)model->store.map_bytes);
    family(&b, "liaison_store_records_undecodable_total", "counter",
           "Stored records that did not decode when read (damaged at rest), and were skipped; "
           "each read counts.");
    static const char *const kinds[WIRE_STORED_KINDS] = {"message", "audit_record", "checkpoint"};
    for (int k = 0; k < WIRE_STORED_KINDS; k++)
        put(&b, "liaison_store_records_undecodable_total{kind=\"%s\"} %llu\n", kinds[k],
            (unsigned long long)wire_stored_undecodable((enum wire_stored)k));
    scalar(&b, "liaison_sessions", "gauge", "Connections open.",
           (double)sessions_count(br->sessions));
    scalar(&b, "liaison_agents_configured", "gauge", "Agents in broker.cfg.",
           (double)br->cfg->n_agents);
    scalar(&b, "liaison_agents_connected", "gauge", "Agents with at least one connection.",
           (double)model->agents_connected);

    AGENT_FAMILY(a->sessions > 0, "liaison_agent_connected", "gauge",
                 "1 when the agent has at least one connection.");
    family(&b, "liaison_agent_last_seen_timestamp_seconds", "gauge",
           "When the agent was last heard, Unix time (absent if not since start).");
    for (size_t i = 0; i < model->n_agents; i++) {
        const struct control_agent *a = &model->agents[i];
        if (a->last_seen_us == 0)
            continue;
        put(&b, "liaison_agent_last_seen_timestamp_seconds{");
        put_label(&b, "agent", a->name);
        put(&b, "} %lld\n", (long long)(a->last_seen_us / 1000000));
    }
    AGENT_FAMILY(a->in, "liaison_agent_messages_in_total", "counter",
                 "Publishes accepted from the agent since the broker started.");
    AGENT_FAMILY(a->out, "liaison_agent_messages_out_total", "counter",
                 "Deliveries and notices sent to the agent since the broker started.");
    AGENT_FAMILY(a->publish_refused, "liaison_agent_publish_refused_total", "counter",
                 "Publishes refused from the agent since the broker started.");
    AGENT_FAMILY(a->withheld, "liaison_agent_withheld_total", "counter",
                 "Deliveries to the agent refused by the rule since the broker started.");

    family(&b, "liaison_queries_total", "counter", "Subject queries answered.");
    put(&b, "liaison_queries_total %llu\n", (unsigned long long)st->queries);
    family(&b, "liaison_query_answers_total", "counter",
           "Answers to subject queries: whole messages and hits.");
    put(&b, "liaison_query_answers_total{kind=\"whole\"} %llu\n",
        (unsigned long long)(st->query_results - st->query_hits));
    put(&b, "liaison_query_answers_total{kind=\"hit\"} %llu\n", (unsigned long long)st->query_hits);
    scalar(&b, "liaison_hit_notices_total", "counter",
           "Hit notices: originators told that a query found their message.",
           (double)st->hit_notices);
    scalar(&b, "liaison_federation_loops_dropped_total", "counter",
           "Messages from another broker dropped: their route named this broker.",
           (double)st->loops);
    scalar(&b, "liaison_federation_repeats_dropped_total", "counter",
           "Messages from another broker dropped: stored here already (same route).",
           (double)st->route_duplicates);
    render_uplinks(&b, br);

    struct sub_series *series = xcalloc(model->n_subs + 1, sizeof *series);
    size_t n_series = sub_series(model, series);
    SUB_FAMILY(connected, "liaison_subscription_connected", "gauge",
               "Live subscriptions under this name (0: durable, agent away).");
    SUB_FAMILY(backlog, "liaison_subscription_backlog_messages", "gauge",
               "Stored messages past the subscription's position (any topic) plus in flight.");
    SUB_FAMILY(in_flight, "liaison_subscription_in_flight_messages", "gauge",
               "Deliveries sent and not yet acked.");
    family(&b, "liaison_subscription_oldest_unacked_age_seconds", "gauge",
           "Age of the oldest unacked delivery's message (absent when none).");
    for (size_t i = 0; i < n_series; i++) {
        if (!series[i].has_age)
            continue;
        put(&b, "liaison_subscription_oldest_unacked_age_seconds{");
        put_label(&b, "agent", series[i].agent);
        put(&b, ",");
        put_label(&b, "subscription", series[i].label);
        put(&b, "} %.3f\n", series[i].oldest_age);
    }
    SUB_FAMILY(delivered, "liaison_subscription_delivered_total", "counter",
               "Messages delivered on the subscription since it was opened.");
    SUB_FAMILY(acked, "liaison_subscription_acked_total", "counter",
               "Deliveries acked since the subscription was opened.");
    SUB_FAMILY(redelivered, "liaison_subscription_redelivered_total", "counter",
               "Deliveries sent again since the subscription was opened.");
    SUB_FAMILY(dead, "liaison_subscription_dead_lettered_total", "counter",
               "Messages dead-lettered since the subscription was opened.");
    SUB_FAMILY(withheld, "liaison_subscription_withheld_total", "counter",
               "Messages refused by the rule since the subscription was opened.");
    free(series);
    render_process(&b, br->started_us);
    *len = b.len;
    return b.p;
}

void metrics_publish(metrics_t *m, broker_t *b, const struct control_model *model, char *page_json)
{
    size_t len;
    char *text = render(m, b, model, &len);
    httpd_set(m->http, DOC_PROM, 200, text, len);
    if (page_json)
        httpd_set(m->http, DOC_PAGE_JSON, 200, page_json, strlen(page_json));
    free(text);
    free(page_json);
}
