/* httpd.c — libmicrohttpd in its own thread, answering from documents the
 * loop swaps in under a mutex held only for a pointer swap or a reference;
 * the token check; the headers every answer carries; the per-address read
 * counts. */
#include "httpd.h"

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "util.h"

#define MAX_DOCS   8
#define READ_SLOTS 64

/* One rendered document, shared between the endpoint and the responses
 * still sending it; freed by whoever drops the last reference. */
struct blob {
    atomic_int refs;
    unsigned status;
    size_t len;
    char data[];
};

struct http_read {
    char addr[64];
    size_t doc;
    uint32_t count;
};

struct httpd {
    struct MHD_Daemon *daemon;
    const struct httpd_doc *docs;
    size_t n_docs;
    void *ctx;           /* for live documents */
    char not_found[256]; /* "not found: /, /metrics\n" */
    int has_token;
    uint8_t token_hash[crypto_generichash_BYTES];
    pthread_mutex_t lock; /* guards current[] and reads[] */
    struct blob *current[MAX_DOCS];
    /* Past READ_SLOTS addresses, the last slot takes the rest. */
    struct http_read reads[READ_SLOTS];
};

static void blob_release(void *p)
{
    struct blob *b = p;
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

/* ---- HTTP thread ----------------------------------------------------------------- */

/* Compared as a hash, in constant time, so neither the token's bytes nor
 * its length leak through timing. */
static int token_ok(const httpd_t *h, const char *given, size_t len)
{
    uint8_t d[crypto_generichash_BYTES];
    crypto_generichash(d, sizeof d, (const uint8_t *)given, len, NULL, 0);
    int ok = sodium_memcmp(d, h->token_hash, sizeof d) == 0;
    sodium_memzero(d, sizeof d);
    return ok;
}

static int authorized(const httpd_t *h, struct MHD_Connection *c)
{
    if (!h->has_token)
        return 1;
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth == NULL)
        return 0;
    if (strncasecmp(auth, "Bearer ", 7) == 0)
        return token_ok(h, auth + 7, strlen(auth + 7));
    if (strncasecmp(auth, "Basic ", 6) == 0) {
        /* Any user name, the token as password. */
        char plain[512];
        size_t n = 0;
        if (sodium_base642bin((uint8_t *)plain, sizeof plain - 1, auth + 6, strlen(auth + 6), NULL,
                              &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
            return 0;
        plain[n] = '\0';
        const char *colon = memchr(plain, ':', n);
        int ok = colon && token_ok(h, colon + 1, n - (size_t)(colon + 1 - plain));
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
    /* A page is self-contained: its own inline script and style, and
     * requests only to this origin. */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; "
                            "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "
                            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
                              const char *type)
{
    if (r == NULL)
        return MHD_NO;
    common_headers(r, type);
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

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                             MHD_RESPMEM_PERSISTENT);
    return answer(c, status, r, "text/plain; charset=utf-8");
}

static void count_read(httpd_t *h, struct MHD_Connection *c, size_t doc)
{
    char addr[64] = "-";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr)
        getnameinfo(ci->client_addr,
                    ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in),
                    addr, sizeof addr, NULL, 0, NI_NUMERICHOST);
    pthread_mutex_lock(&h->lock);
    struct http_read *slot = &h->reads[READ_SLOTS - 1];
    for (int i = 0; i < READ_SLOTS; i++) {
        struct http_read *r = &h->reads[i];
        if (r->count == 0 || (r->doc == doc && strcmp(r->addr, addr) == 0)) {
            slot = r;
            break;
        }
    }
    if (slot->count == 0) {
        snprintf(slot->addr, sizeof slot->addr, "%s", addr);
        slot->doc = doc;
    }
    slot->count++;
    pthread_mutex_unlock(&h->lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    httpd_t *h = cls;
    (void)version, (void)upload_data, (void)req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET or HEAD\n");
    if (*upload_data_size != 0)
        return reply_text(c, MHD_HTTP_BAD_REQUEST, "no request body expected\n");
    if (!authorized(h, c))
        return reply_text(c, MHD_HTTP_UNAUTHORIZED, "a valid token is required\n");
    size_t i = 0;
    while (i < h->n_docs && strcmp(url, h->docs[i].path) != 0)
        i++;
    if (i == h->n_docs)
        return reply_text(c, MHD_HTTP_NOT_FOUND, h->not_found);
    const struct httpd_doc *d = &h->docs[i];
    if (d->counted)
        count_read(h, c, i);
    if (d->live) {
        char text[512];
        text[0] = '\0';
        unsigned status = d->live(h->ctx, text, sizeof text);
        struct MHD_Response *r =
            MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_COPY);
        return answer(c, status, r, d->type);
    }
    if (d->fixed) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            d->fixed_len, (void *)(uintptr_t)d->fixed, MHD_RESPMEM_PERSISTENT);
        return answer(c, MHD_HTTP_OK, r, d->type);
    }
    pthread_mutex_lock(&h->lock);
    struct blob *b = h->current[i];
    if (b)
        atomic_fetch_add(&b->refs, 1);
    pthread_mutex_unlock(&h->lock);
    if (b == NULL)
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no snapshot yet\n");
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data, blob_release, b);
    if (r == NULL) {
        blob_release(b);
        return MHD_NO;
    }
    return answer(c, b->status, r, d->type);
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    char line[256];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    /* MHD ends its messages with a newline; anything else log_q escapes. */
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
        line[--n] = '\0';
    log_warn("event=http_error message=%s", log_q(line));
}

/* ---- start, stop, documents (loop thread) ----------------------------------------- */

static struct addrinfo *resolve(const char *addr, char *err, size_t errlen)
{
    char host[256], port[16];
    const char *colon = strrchr(addr, ':');
    size_t hlen = colon ? (size_t)(colon - addr) : 0;
    if (colon == NULL || hlen == 0 || hlen >= sizeof host || strlen(colon + 1) >= sizeof port ||
        colon[1] == '\0') {
        snprintf(err, errlen, "\"%s\" is not host:port", addr);
        return NULL;
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
        snprintf(err, errlen, "cannot resolve %s: %s", addr, gai_strerror(rc));
        return NULL;
    }
    return res;
}

httpd_t *httpd_start(const char *addr, const char *token, const struct httpd_doc *docs, size_t n,
                     void *ctx, char *err, size_t errlen)
{
    if (n > MAX_DOCS) {
        snprintf(err, errlen, "at most %d documents", MAX_DOCS);
        return NULL;
    }
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium did not initialise");
        return NULL;
    }
    struct addrinfo *res = resolve(addr, err, errlen);
    if (res == NULL)
        return NULL;
    httpd_t *h = xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    h->docs = docs;
    h->n_docs = n;
    h->ctx = ctx;
    size_t used = (size_t)snprintf(h->not_found, sizeof h->not_found, "not found:");
    for (size_t i = 0; i < n && used < sizeof h->not_found; i++)
        used += (size_t)snprintf(h->not_found + used, sizeof h->not_found - used, "%s %s",
                                 i ? "," : "", docs[i].path);
    if (used < sizeof h->not_found - 1)
        snprintf(h->not_found + used, sizeof h->not_found - used, "\n");
    if (token && token[0]) {
        h->has_token = 1;
        crypto_generichash(h->token_hash, sizeof h->token_hash, (const uint8_t *)token,
                           strlen(token), NULL, 0);
    }
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (res->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The HTTP thread must not take the program's signals: its loop only
     * wakes for them if they interrupt its own poll. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    /* The logger comes first: libmicrohttpd warns about any option given
     * before it. */
    h->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_log,
                         NULL, MHD_OPTION_SOCK_ADDR, res->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)32, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)16,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    freeaddrinfo(res);
    if (h->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s (in use, or not a local address?)", addr);
        httpd_stop(&h);
        return NULL;
    }
    return h;
}

void httpd_stop(httpd_t **hp)
{
    if (hp == NULL || *hp == NULL)
        return;
    httpd_t *h = *hp;
    /* Stops the thread and frees its responses (releasing their blobs)
     * before the documents go. */
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    for (size_t i = 0; i < MAX_DOCS; i++)
        blob_release(h->current[i]);
    pthread_mutex_destroy(&h->lock);
    sodium_memzero(h->token_hash, sizeof h->token_hash);
    free(h);
    *hp = NULL;
}

void httpd_set(httpd_t *h, size_t i, unsigned status, const char *data, size_t len)
{
    if (h == NULL || i >= h->n_docs)
        return;
    struct blob *b = xmalloc(sizeof *b + len + 1);
    atomic_init(&b->refs, 1);
    b->status = status;
    b->len = len;
    memcpy(b->data, data, len);
    b->data[len] = '\0';
    pthread_mutex_lock(&h->lock);
    struct blob *old = h->current[i];
    h->current[i] = b;
    pthread_mutex_unlock(&h->lock);
    blob_release(old);
}

void httpd_take_reads(httpd_t *h, httpd_read_fn fn, void *ctx)
{
    if (h == NULL)
        return;
    struct http_read taken[READ_SLOTS];
    pthread_mutex_lock(&h->lock);
    memcpy(taken, h->reads, sizeof taken);
    memset(h->reads, 0, sizeof h->reads);
    pthread_mutex_unlock(&h->lock);
    for (int i = 0; i < READ_SLOTS; i++)
        if (taken[i].count)
            fn(taken[i].addr, h->docs[taken[i].doc].path, taken[i].count, ctx);
}
