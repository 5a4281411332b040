/* status.h — the operator views on liaisonctl's side, shared by the
 * status/agents/subs/topics commands (status.c), watch (watch.c) and
 * deadletters (deadletters.c):
 * asking the broker for a view, and printing one as a table.
 * Not responsible for: building the views (broker/control.c) or the
 * connection (common/link.c). */
#ifndef LIAISON_CTL_STATUS_H
#define LIAISON_CTL_STATUS_H

#include <stddef.h>
#include <stdio.h>

#include "json.h"
#include "link.h"

/* Asks the broker for the view `what` (see broker/control.h) and waits up
 * to CTL_CONNECT_MS. Returns 0 with the JSON text in *json (caller frees),
 * or -1 with a reason in err ("ROLE_MISSING: status needs the operator
 * role", "no answer from the broker"). */
int status_fetch(link_t *l, const char *what, char **json, char *err, size_t errlen);

/* Prints a view as people read it. kind is "status", "agents", "subs",
 * "topics", "deadletters" or "durables"; doc is the broker's JSON for it (for "agents" and "subs"
 * the array itself or the object holding it). */
void status_print(const char *kind, const json_doc_t *doc, FILE *out);

#endif
