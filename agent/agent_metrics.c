/* agent_metrics.c — the agent's /metrics: Prometheus text rendered from what the
 * outbox, the spool, the publisher and the subscriptions count. */
#include "agent_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "util.h"

static const struct httpd_doc docs[] = {
    {.path = "/metrics", .type = "text/plain; version=0.0.4; charset=utf-8"},
};

struct agent_metrics {
    httpd_t *http;
    char *p; /* the text being rendered, kept between renderings */
    size_t len, cap;
};

agent_metrics_t *agent_metrics_start(const char *addr, const char *token, char *err, size_t errlen)
{
    char why[256];
    httpd_t *h = httpd_start(addr, token, docs, UTIL_LEN(docs), NULL, why, sizeof why);
    if (h == NULL) {
        snprintf(err, errlen, "metrics: %s", why);
        return NULL;
    }
    agent_metrics_t *m = xcalloc(1, sizeof *m);
    m->http = h;
    return m;
}

void agent_metrics_stop(agent_metrics_t **mp)
{
    if (mp == NULL || *mp == NULL)
        return;
    httpd_stop(&(*mp)->http);
    free((*mp)->p);
    free(*mp);
    *mp = NULL;
}

__attribute__((format(printf, 2, 3))) static void put(agent_metrics_t *m, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(m->p + m->len, m->cap - m->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < m->cap - m->len) {
            m->len += (size_t)n;
            return;
        }
        m->cap = m->cap * 2 + (n > 0 ? (size_t)n : 0) + 256;
        m->p = xrealloc(m->p, m->cap);
    }
}

static void head(agent_metrics_t *m, const char *name, const char *type, const char *help)
{
    put(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the text format wants it: backslash, quote and newline
 * escaped; bounded, since a sink's command line is the operator's text. */
static void put_label(agent_metrics_t *m, const char *v)
{
    size_t n = 0;
    for (const char *c = v; *c && n < 200; c++, n++) {
        if (*c == '\\' || *c == '"')
            put(m, "\\%c", *c);
        else if (*c == '\n')
            put(m, "\\n");
        else
            put(m, "%c", *c);
    }
}

struct sub_pass {
    agent_metrics_t *m;
    int what; /* 0 active, 1 written, 2 failed */
};

static void put_sub(const char *name, const char *sink, int active, uint64_t written,
                    uint64_t failed, void *ctx)
{
    struct sub_pass *sp = ctx;
    uint64_t v = sp->what == 0 ? (uint64_t)active : sp->what == 1 ? written : failed;
    const char *metric = sp->what == 0   ? "liaison_agent_subscription_active"
                         : sp->what == 1 ? "liaison_agent_sink_written_total"
                                         : "liaison_agent_sink_failures_total";
    put(sp->m, "%s{sub=\"", metric);
    put_label(sp->m, name);
    put(sp->m, "\",sink=\"");
    put_label(sp->m, sink);
    put(sp->m, "\"} %llu\n", (unsigned long long)v);
}

void agent_metrics_publish(agent_metrics_t *m, const struct agent_metrics_view *v)
{
    static const char *const states[] = {"up", "connecting", "refused", "lost", "down"};
    if (m == NULL)
        return;
    m->len = 0;
    head(m, "liaison_agent_link_state", "gauge",
         "1 for the state the link to the broker is in (up, connecting, refused, lost, down)");
    for (size_t i = 0; i < UTIL_LEN(states); i++)
        put(m, "liaison_agent_link_state{state=\"%s\"} %d\n", states[i],
            strcmp(v->link_state, states[i]) == 0);
    head(m, "liaison_agent_broker_up", "gauge", "1 while the broker has welcomed this agent");
    put(m, "liaison_agent_broker_up %d\n", strcmp(v->link_state, "up") == 0);

    int64_t oldest = outbox_oldest_us(v->outbox);
    int64_t now = util_now_us();
    head(m, "liaison_agent_outbox_messages", "gauge",
         "messages in the outbox, on disk and not yet acknowledged by the broker");
    put(m, "liaison_agent_outbox_messages %llu\n", (unsigned long long)outbox_count(v->outbox));
    head(m, "liaison_agent_outbox_oldest_age_seconds", "gauge",
         "how long the oldest message in the outbox has waited (0 when empty)");
    put(m, "liaison_agent_outbox_oldest_age_seconds %.3f\n",
        oldest > 0 && now > oldest ? (double)(now - oldest) / 1e6 : 0.0);

    uint64_t taken, rejected;
    spool_counts(v->spool, &taken, &rejected);
    head(m, "liaison_agent_spool_taken_total", "counter",
         "spool files taken into the outbox since start");
    put(m, "liaison_agent_spool_taken_total %llu\n", (unsigned long long)taken);
    head(m, "liaison_agent_spool_rejected_total", "counter",
         "spool files moved to rejected/ since start, by the agent or the broker");
    put(m, "liaison_agent_spool_rejected_total %llu\n", (unsigned long long)rejected);

    uint64_t acked, refused, deferred;
    publish_counts(v->pub, &acked, &refused, &deferred);
    head(m, "liaison_agent_outbox_acked_total", "counter",
         "messages the broker acknowledged as stored since start (duplicates included)");
    put(m, "liaison_agent_outbox_acked_total %llu\n", (unsigned long long)acked);
    head(m, "liaison_agent_outbox_refused_total", "counter",
         "messages the broker refused for good since start");
    put(m, "liaison_agent_outbox_refused_total %llu\n", (unsigned long long)refused);
    head(m, "liaison_agent_outbox_deferred_total", "counter",
         "transient refusals (store full, rate) since start; the outbox sends again");
    put(m, "liaison_agent_outbox_deferred_total %llu\n", (unsigned long long)deferred);

    static const char *const sub_help[][3] = {
        {"liaison_agent_subscription_active", "gauge", "1 while the subscription is active"},
        {"liaison_agent_sink_written_total", "counter",
         "deliveries the subscription's sink wrote since start"},
        {"liaison_agent_sink_failures_total", "counter",
         "deliveries the subscription's sink failed since start (each retried)"},
    };
    for (int what = 0; what < 3; what++) {
        head(m, sub_help[what][0], sub_help[what][1], sub_help[what][2]);
        struct sub_pass sp = {.m = m, .what = what};
        subs_each(v->subs, put_sub, &sp);
    }
    httpd_set(m->http, 0, 200, m->p, m->len);
}
