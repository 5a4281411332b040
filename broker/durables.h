/* durables.h — DurableRequest: listing, deleting and rewinding the durable
 * subscriptions kept on disk (docs/protocol.md "Durable feeds"). An
 * operator may act on any durable, an agent on its own. Each change is a
 * write in the open batch with its audit record, and the reply (a
 * StatusReply, or an Error naming why) waits on that batch.
 * Not responsible for: the list's contents (control.c) or delivery. */
#ifndef LIAISON_DURABLES_H
#define LIAISON_DURABLES_H

#include "broker.h"

void durables_handle(broker_t *b, session_t *s, uint64_t corr, const Liaison__DurableRequest *r);

#endif
