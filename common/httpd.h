/* httpd.h — a read-only HTTP endpoint for operators, shared by the broker
 * (/metrics, the status page) and the agent (/metrics): libmicrohttpd in a
 * thread of its own, answering GET and HEAD from documents the program's
 * loop renders and swaps in (httpd_set), so the HTTP thread never touches
 * the program's state and a slow or hostile client never holds up its
 * loop. An optional token is required on every path, as
 * "Authorization: Bearer TOKEN" (Prometheus' authorization.credentials) or
 * as the password of HTTP Basic auth (what a browser prompts for). The only
 * module that includes microhttpd.h.
 * Not responsible for: what the documents say, or recording reads (the
 * caller takes the counts with httpd_take_reads). */
#ifndef LIAISON_HTTPD_H
#define LIAISON_HTTPD_H

#include <stddef.h>
#include <stdint.h>

typedef struct httpd httpd_t;

/* One path the endpoint answers. `fixed` (with fixed_len), when set, is
 * answered as it is for ever (the status page); otherwise the document is
 * whatever httpd_set last gave, 503 "no snapshot yet" before that.
 * `counted`: reads of it are counted per client address. */
struct httpd_doc {
    const char *path; /* "/metrics" */
    const char *type; /* Content-Type */
    const char *fixed;
    size_t fixed_len;
    int counted;
    /* Or answered at each request, in the HTTP thread: writes the body
     * into buf (a string) and returns the status. It may read only what
     * is safe across threads (atomics): a health check. */
    unsigned (*live)(void *ctx, char *buf, size_t len);
};

/* Serves docs (n of them, kept by pointer: static storage) on addr
 * ("host:port", "[v6]:port"); token "" or NULL for none; ctx is what live
 * documents are given. Returns the
 * endpoint, or NULL with a reason in err (not host:port, unresolvable, in
 * use). httpd_stop stops the thread and frees it. */
httpd_t *httpd_start(const char *addr, const char *token, const struct httpd_doc *docs, size_t n,
                     void *ctx, char *err, size_t errlen);
void httpd_stop(httpd_t **h);

/* Loop thread: document i is now data (copied), answered with `status`
 * (200, or 503 for a health check that fails). */
void httpd_set(httpd_t *h, size_t i, unsigned status, const char *data, size_t len);

/* Loop thread: hands over the reads of counted documents since the last
 * call, one call of fn per client address and path, with their count. h
 * may be NULL. */
typedef void (*httpd_read_fn)(const char *addr, const char *path, uint32_t count, void *ctx);
void httpd_take_reads(httpd_t *h, httpd_read_fn fn, void *ctx);

#endif
