/* metrics.c — the operators' HTTP endpoint: libmicrohttpd in its own
 * thread answering from an immutable snapshot (Prometheus text and the
 * status page's JSON) that the loop renders and swaps in once a second,
 * the bearer-token check, the embedded status page, and the commit-latency
 * histogram. The only file that includes microhttpd.h.
 * Not responsible for: the contents of the views (control.c), or any
 * access to broker state from the HTTP thread — it has none. */
#include "metrics.h"

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "broker.h"
#include "control.h"
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
#define N_BUCKETS       (sizeof buckets / sizeof buckets[0])
#define RECENT          1024
#define HTTP_READ_SLOTS 64

struct http_read {
    char addr[64];
    int page; /* 1 /status.json, 0 /metrics */
    uint32_t count;
};

/* One rendered document, shared between the current snapshot and the
 * responses still sending it; freed by whoever drops the last reference. */
struct blob {
    atomic_int refs;
    size_t len;
    char data[];
};

struct metrics {
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock; /* guards prom and page: held for a pointer swap or a ref */
    struct blob *prom, *page;
    int has_token;
    uint8_t token_hash[crypto_generichash_BYTES];
    /* Loop thread only. */
    uint64_t counts[N_BUCKETS + 1]; /* the last is +Inf */
    uint64_t n;
    double sum;
    double recent[RECENT]; /* the last RECENT commit times, a ring */
    /* HTTP reads of /metrics and /status.json, per client address, not yet
     * recorded: the HTTP thread counts, the loop writes them to the trail
     * (metrics_take_reads). Guarded by lock; bounded (past it, one slot). */
    struct http_read reads[HTTP_READ_SLOTS];
};

static struct blob *blob_new(const char *data, size_t len)
{
    struct blob *b = xmalloc(sizeof *b + len + 1);
    atomic_init(&b->refs, 1);
    b->len = len;
    memcpy(b->data, data, len);
    b->data[len] = '\0';
    return b;
}

static void blob_release(void *p)
{
    struct blob *b = p;
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

metrics_t *metrics_new(void)
{
    metrics_t *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void metrics_free(metrics_t **mp)
{
    if (mp == NULL || *mp == NULL)
        return;
    metrics_t *m = *mp;
    /* Stops the thread and frees its responses (releasing their blobs)
     * before the snapshot goes. */
    if (m->daemon)
        MHD_stop_daemon(m->daemon);
    blob_release(m->prom);
    blob_release(m->page);
    pthread_mutex_destroy(&m->lock);
    sodium_memzero(m->token_hash, sizeof m->token_hash);
    free(m);
    *mp = NULL;
}

int metrics_serving(const metrics_t *m)
{
    return m != NULL && m->daemon != NULL;
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

/* ---- HTTP thread --------------------------------------------------------------- */

static struct blob *snapshot_ref(metrics_t *m, int page)
{
    pthread_mutex_lock(&m->lock);
    struct blob *b = page ? m->page : m->prom;
    if (b)
        atomic_fetch_add(&b->refs, 1);
    pthread_mutex_unlock(&m->lock);
    return b;
}

/* The token is compared as a hash, in constant time, so neither its bytes
 * nor its length leak through timing. */
static int token_ok(const metrics_t *m, const char *given, size_t len)
{
    uint8_t h[crypto_generichash_BYTES];
    crypto_generichash(h, sizeof h, (const uint8_t *)given, len, NULL, 0);
    int ok = sodium_memcmp(h, m->token_hash, sizeof h) == 0;
    sodium_memzero(h, sizeof h);
    return ok;
}

static int authorized(const metrics_t *m, struct MHD_Connection *c)
{
    if (!m->has_token)
        return 1;
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth == NULL)
        return 0;
    if (strncasecmp(auth, "Bearer ", 7) == 0)
        return token_ok(m, auth + 7, strlen(auth + 7));
    if (strncasecmp(auth, "Basic ", 6) == 0) {
        /* Basic auth, for browsers: any user name, the token as password. */
        char plain[512];
        size_t n = 0;
        if (sodium_base642bin((uint8_t *)plain, sizeof plain - 1, auth + 6, strlen(auth + 6), NULL,
                              &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
            return 0;
        plain[n] = '\0';
        const char *colon = memchr(plain, ':', n);
        int ok = colon && token_ok(m, colon + 1, n - (size_t)(colon + 1 - plain));
        sodium_memzero(plain, sizeof plain);
        return ok;
    }
    return 0;
}

static void common_headers(struct MHD_Response *r, const char *type)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    /* The page is self-contained: its own inline script and style, and
     * requests only to this origin. */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; "
                            "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "
                            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                             MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    common_headers(r, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_UNAUTHORIZED) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"liaison\"");
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"liaison\"");
    }
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_blob(struct MHD_Connection *c, struct blob *b, const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data, blob_release, b);
    if (r == NULL) {
        blob_release(b);
        return MHD_NO;
    }
    common_headers(r, type);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* A read of the broker's state is a consultation (DPA 2018 s.62): counted
 * here per client address, recorded by the loop. */
static void count_read(metrics_t *m, struct MHD_Connection *c, int page)
{
    char addr[64] = "-";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr)
        getnameinfo(ci->client_addr,
                    ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in),
                    addr, sizeof addr, NULL, 0, NI_NUMERICHOST);
    pthread_mutex_lock(&m->lock);
    struct http_read *slot = NULL;
    for (int i = 0; i < HTTP_READ_SLOTS && slot == NULL; i++) {
        struct http_read *r = &m->reads[i];
        if (r->count == 0 || (r->page == page && strcmp(r->addr, addr) == 0))
            slot = r;
    }
    if (slot == NULL) /* full: the last slot takes the rest */
        slot = &m->reads[HTTP_READ_SLOTS - 1];
    if (slot->count == 0) {
        snprintf(slot->addr, sizeof slot->addr, "%s", addr);
        slot->page = page;
    }
    slot->count++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_take_reads(metrics_t *m, metrics_read_fn fn, void *ctx)
{
    if (m == NULL)
        return;
    struct http_read taken[HTTP_READ_SLOTS];
    pthread_mutex_lock(&m->lock);
    memcpy(taken, m->reads, sizeof taken);
    memset(m->reads, 0, sizeof m->reads);
    pthread_mutex_unlock(&m->lock);
    for (int i = 0; i < HTTP_READ_SLOTS; i++)
        if (taken[i].count)
            fn(taken[i].addr, taken[i].page ? "/status.json" : "/metrics", taken[i].count, ctx);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    metrics_t *m = cls;
    (void)version, (void)upload_data, (void)req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET or HEAD\n");
    if (*upload_data_size != 0)
        return reply_text(c, MHD_HTTP_BAD_REQUEST, "no request body expected\n");
    if (!authorized(m, c))
        return reply_text(c, MHD_HTTP_UNAUTHORIZED, "a valid token is required\n");
    if (strcmp(url, "/") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            sizeof status_page - 1, (void *)(uintptr_t)status_page, MHD_RESPMEM_PERSISTENT);
        if (r == NULL)
            return MHD_NO;
        common_headers(r, "text/html; charset=utf-8");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
    }
    int page = strcmp(url, "/status.json") == 0;
    if (!page && strcmp(url, "/metrics") != 0)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: /, /metrics, /status.json\n");
    count_read(m, c, page);
    struct blob *b = snapshot_ref(m, page);
    if (b == NULL)
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no snapshot yet\n");
    return reply_blob(c, b, page ? "application/json" : "text/plain; version=0.0.4; charset=utf-8");
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    char line[256];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '"')
            *p = ' ';
    log_warn("event=metrics_http message=\"%s\"", line);
}

int metrics_start(metrics_t *m, const char *addr, const char *token, char *err, size_t errlen)
{
    char host[256], port[16];
    const char *colon = strrchr(addr, ':');
    size_t hlen = colon ? (size_t)(colon - addr) : 0;
    if (colon == NULL || hlen == 0 || hlen >= sizeof host || strlen(colon + 1) >= sizeof port) {
        snprintf(err, errlen, "metrics: \"%s\" is not host:port", addr);
        return -1;
    }
    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "metrics: cannot resolve %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    if (token && token[0]) {
        if (sodium_init() < 0) {
            snprintf(err, errlen, "metrics: libsodium did not initialise");
            freeaddrinfo(res);
            return -1;
        }
        m->has_token = 1;
        crypto_generichash(m->token_hash, sizeof m->token_hash, (const uint8_t *)token,
                           strlen(token), NULL, 0);
    }
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (res->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The HTTP thread must not take the broker's signals: the loop only
     * wakes for them if they interrupt its own poll. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
                                 res->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)16,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    freeaddrinfo(res);
    if (m->daemon == NULL) {
        snprintf(err, errlen, "metrics: cannot listen on %s (in use, or not a local address?)",
                 addr);
        return -1;
    }
    return 0;
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

static char *render(metrics_t *m, broker_t *br, const struct control_model *model, size_t *len)
{
    struct buf b = {.p = xmalloc(16384), .cap = 16384};
    const struct broker_stats *st = &br->stats;
    b.p[0] = '\0';

    family(&b, "liaison_build_info", "gauge", "The running broker's version (always 1).");
    put(&b, "liaison_build_info{version=\"%s\"} 1\n", BROKER_VERSION);
    scalar(&b, "liaison_start_time_seconds", "gauge", "When the broker started, Unix time.",
           (double)(br->started_us / 1000000));

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
    *len = b.len;
    return b.p;
}

void metrics_publish(metrics_t *m, broker_t *b, const struct control_model *model, char *page_json)
{
    size_t len;
    char *text = render(m, b, model, &len);
    struct blob *prom = blob_new(text, len);
    struct blob *page = page_json ? blob_new(page_json, strlen(page_json)) : NULL;
    free(text);
    free(page_json);
    pthread_mutex_lock(&m->lock);
    struct blob *old_prom = m->prom, *old_page = m->page;
    m->prom = prom;
    if (page)
        m->page = page;
    else
        old_page = NULL;
    pthread_mutex_unlock(&m->lock);
    /* Responses still sending the old ones hold their own references. */
    blob_release(old_prom);
    blob_release(old_page);
}
