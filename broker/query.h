/* query.h — subject queries: who holds what on a subject (DESIGN.md
 * "Subject search"). The references are blinded on arrival; every match in
 * the index is re-checked by the delivery rule with the asker's
 * configuration as it is now (policy_consult): whole when the asker may
 * receive it, a hit (who holds it, whom to ask) when it is refused only on
 * clearance or caveats on a topic with notices, and otherwise absent,
 * exactly as if it did not exist. The answer waits on the open batch with
 * its consultation record (tokens, never references; counts of results
 * and hits), and originators on notify_on_hit topics get a hit notice.
 * Also the notices' delivery: live at once, else kept until the
 * originator's next Hello.
 * Not responsible for: the index itself (subjects.c) or the rule
 * (policy.c). */
#ifndef LIAISON_QUERY_H
#define LIAISON_QUERY_H

#include <stdint.h>

#include "broker.h"

/* Answers one Query from s (a QueryReply page, or an Error). */
void query_handle(broker_t *b, session_t *s, uint64_t corr, const Liaison__Query *q);

/* s has just been welcomed: sends the hit notices kept for its agent and
 * removes them in the open batch. */
void query_send_kept_notices(broker_t *b, session_t *s);

#endif
