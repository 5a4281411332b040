/* agent_metrics.h — the agent's Prometheus endpoint (`metrics` in agent.cfg,
 * off by default): what an agency alerts on — the link to the broker, the
 * outbox's depth and the age of its oldest message, the spool's files taken
 * and rejected, what the broker acknowledged, refused and deferred, and
 * each subscription's sink writes and failures. The loop renders it once a
 * second; common/httpd.c serves it.
 * Not responsible for: counting (each part counts its own), or serving. */
#ifndef LIAISON_AGENT_METRICS_H
#define LIAISON_AGENT_METRICS_H

#include <stdint.h>

#include "outbox.h"
#include "publish.h"
#include "spool.h"
#include "subs.h"

typedef struct agent_metrics agent_metrics_t;

/* What one rendering reads. spool may be NULL (no spool configured). */
struct agent_metrics_view {
    const char *link_state; /* "up", "connecting", "refused", "lost" or "down" */
    outbox_t *outbox;
    const spool_t *spool;
    const publish_t *pub;
    const subs_t *subs;
};

/* Serves /metrics on addr, with token (or "" for none). NULL with a reason
 * in err. */
agent_metrics_t *agent_metrics_start(const char *addr, const char *token, char *err, size_t errlen);
void agent_metrics_stop(agent_metrics_t **m);

/* Renders v and makes it what /metrics answers. m may be NULL (off). */
void agent_metrics_publish(agent_metrics_t *m, const struct agent_metrics_view *v);

#endif
