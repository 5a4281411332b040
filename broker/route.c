/* route.c — stamping a message's route on its way to another broker, and
 * the checks on one that arrives.
 * Not responsible for: who may send what (policy.c). */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void route_stamp(Liaison__Intel *m, const char *self, uint64_t epoch)
{
    Liaison__Route *r = m->route;
    if (r == NULL) {
        r = xmalloc(sizeof *r);
        liaison__route__init(r);
        r->origin_broker = xstrdup(self);
        r->origin_seq = m->seq;
        r->origin_epoch = epoch;
        m->route = r;
        return;
    }
    r->via = xrealloc(r->via, (r->n_via + 1) * sizeof *r->via);
    r->via[r->n_via++] = xstrdup(self);
}

size_t route_stamp_packed(const void *data, size_t len, const char *self, uint64_t epoch,
                          uint8_t **out)
{
    Liaison__Intel *m = wire_intel_decode(data, len);
    *out = NULL;
    if (m == NULL)
        return 0;
    route_stamp(m, self, epoch);
    size_t n = wire_intel_size(m);
    *out = xmalloc(n ? n : 1);
    wire_intel_pack(m, *out);
    wire_intel_free(&m);
    return n;
}

static int name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

int route_valid(const Liaison__Route *r, char *why, size_t whylen)
{
    if (r == NULL || !name_ok(r->origin_broker) || r->origin_seq == 0) {
        snprintf(why, whylen,
                 "a message from another broker needs a route: its origin broker "
                 "([a-z0-9-]) and sequence there");
        return -1;
    }
    if (r->n_via > ROUTE_MAX_VIA) {
        snprintf(why, whylen, "a route may name at most %d brokers on the way", ROUTE_MAX_VIA);
        return -1;
    }
    for (size_t i = 0; i < r->n_via; i++)
        if (!name_ok(r->via[i])) {
            snprintf(why, whylen, "route entry %zu is not a broker name ([a-z0-9-])", i + 1);
            return -1;
        }
    return 0;
}

int route_names(const Liaison__Route *r, const char *self)
{
    if (r == NULL)
        return 0;
    if (r->origin_broker && strcmp(r->origin_broker, self) == 0)
        return 1;
    for (size_t i = 0; i < r->n_via; i++)
        if (r->via[i] && strcmp(r->via[i], self) == 0)
            return 1;
    return 0;
}

void route_dedup_ids(const Liaison__Route *r, char origin[ROUTE_DEDUP_ORIGIN],
                     char id[ROUTE_DEDUP_ID])
{
    /* "~" is not a character of an agent's name, so no publisher's key
     * (origin agent, msg_id) is ever this one. */
    snprintf(origin, ROUTE_DEDUP_ORIGIN, "~%s", r->origin_broker);
    snprintf(id, ROUTE_DEDUP_ID, "%016llx:%llu", (unsigned long long)r->origin_epoch,
             (unsigned long long)r->origin_seq);
}

void route_dedup_key(const Liaison__Route *r, struct store_dkey *key)
{
    char origin[ROUTE_DEDUP_ORIGIN], id[ROUTE_DEDUP_ID];
    route_dedup_ids(r, origin, id);
    store_dedup_key(origin, id, key);
}
