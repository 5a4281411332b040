/* metrics.h — the broker's HTTP endpoint for operators, on the `metrics`
 * address of broker.cfg (loopback by default): Prometheus text at
 * /metrics, a read-only status page at / and the JSON it draws, at
 * /status.json, and a health check at /healthz, served by common/httpd.c.
 *
 * The HTTP thread never touches broker state: once a second the loop
 * renders a snapshot (metrics_publish) and hands it to httpd, which
 * answers from whichever snapshot is current. So a slow or hostile HTTP
 * client can never hold up the loop. /healthz reads only two atomics the
 * loop writes at each turn (metrics_alive).
 * Also the commit-latency histogram, which the loop feeds.
 * Not responsible for: what the views contain (control.c builds the model
 * and the JSON), nor for counting anything in the message path. */
#ifndef LIAISON_METRICS_H
#define LIAISON_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct broker;
struct control_model;

typedef struct metrics metrics_t;

/* A metrics state that is not serving yet (the histogram works at once).
 * Caller owns; metrics_free stops the server first. */
metrics_t *metrics_new(void);
void metrics_free(metrics_t **m);

/* Serves on addr ("host:port", "[v6]:port"). token, when not "", is
 * required on every path, as "Authorization: Bearer TOKEN" (Prometheus'
 * authorization.credentials) or as the password of HTTP Basic auth (what
 * a browser prompts for). Returns 0, or -1 with a reason in err (address
 * unresolvable or in use). */
int metrics_start(metrics_t *m, const char *addr, const char *token, char *err, size_t errlen);
/* 1 once metrics_start succeeded. m may be NULL. */
int metrics_serving(const metrics_t *m);

/* Loop thread, at every turn: the loop is turning, and unwell (a string
 * constant, or NULL when all is well) says why the broker cannot do its
 * work, e.g. a store out of room. /healthz answers from this: 200 "ok",
 * or 503 with unwell, or with how long the loop has not turned when that
 * is over a few seconds. m may be NULL. */
void metrics_alive(metrics_t *m, const char *unwell);
/* A monotonic clock in seconds, for timing what metrics_observe_* take. */
double metrics_clock(void);
/* One group commit took this long (the commit-latency histogram). Loop
 * thread only; m may be NULL. */
void metrics_observe_commit(metrics_t *m, double seconds);
/* Loop thread: hands over the HTTP reads counted since the last call, one
 * call of fn per client address and path, with their count. */
typedef void (*metrics_read_fn)(const char *addr, const char *path, uint32_t count, void *ctx);
void metrics_take_reads(metrics_t *m, metrics_read_fn fn, void *ctx);

/* The q-quantile (0..1) of the last 1024 commit times, in seconds; 0 when
 * none. Loop thread only. */
double metrics_commit_quantile(const metrics_t *m, double q);

/* Loop thread: renders the Prometheus text from b and model, and makes it
 * and page_json (the "all" view; takes ownership, may be NULL) the
 * snapshot that requests are answered from. */
void metrics_publish(metrics_t *m, struct broker *b, const struct control_model *model,
                     char *page_json);

#endif
