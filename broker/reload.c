/* reload.c — the difference between the running broker.cfg and the fresh
 * one, as reload.h describes it: per agent, what changed with the values,
 * bounded for one log line and one audit record; and the restart-only keys
 * the file changed (config.c walks its table for those).
 * Not responsible for: logging, auditing or applying any of it (the loop). */
#include "reload.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "label.h"
#include "util.h"

#define RELOAD_MAX_KEYS 64

/* A bounded text being written: once it would overflow, it ends in "..."
 * and takes nothing more. */
struct text {
    char *p;
    size_t cap, len;
    int full;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
    char piece[512];
    va_list ap;
    if (t->full)
        return;
    va_start(ap, fmt);
    vsnprintf(piece, sizeof piece, fmt, ap);
    va_end(ap);
    size_t n = strlen(piece);
    if (t->len + n + 3 >= t->cap) { /* room kept for the "..." */
        size_t keep = t->cap - 4 - t->len;
        memcpy(t->p + t->len, piece, keep);
        memcpy(t->p + t->len + keep, "...", 4);
        t->len += keep + 3;
        t->full = 1;
        return;
    }
    memcpy(t->p + t->len, piece, n + 1);
    t->len += n;
}

/* Printable ASCII without '"' or '\\', so a value sits in a logfmt quote. */
static void clean(char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
            *s = '?';
}

/* s made safe to print inside a logfmt quote, into buf. */
static const char *safe(const char *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s", s ? s : "");
    clean(buf);
    return buf;
}

static int in_list(char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static int lists_differ(char *const *a, size_t na, char *const *b, size_t nb)
{
    for (size_t i = 0; i < na; i++)
        if (!in_list(b, nb, a[i]))
            return 1;
    for (size_t i = 0; i < nb; i++)
        if (!in_list(a, na, b[i]))
            return 1;
    return 0;
}

/* "+x,+y,-z": what b has that a has not, then what a had that b has not.
 * quoted: the items may hold spaces (display names). */
static void put_list(struct text *t, const char *key, char *const *a, size_t na, char *const *b,
                     size_t nb, int quoted)
{
    const char *sep = "";
    char buf[256];
    put(t, "%s%s=%s", t->len ? " " : "", key, quoted ? "\"" : "");
    for (size_t i = 0; i < nb; i++)
        if (!in_list(a, na, b[i])) {
            put(t, "%s+%s", sep, safe(b[i], buf, sizeof buf));
            sep = ",";
        }
    for (size_t i = 0; i < na; i++)
        if (!in_list(b, nb, a[i])) {
            put(t, "%s-%s", sep, safe(a[i], buf, sizeof buf));
            sep = ",";
        }
    if (quoted)
        put(t, "\"");
}

static const struct {
    const char *name;
    unsigned bit;
} roles[] = {{"publisher", ROLE_PUBLISHER},
             {"receiver", ROLE_RECEIVER},
             {"operator", ROLE_OPERATOR},
             {"auditor", ROLE_AUDITOR},
             {"query", ROLE_QUERY}};

static void put_roles(struct text *t, unsigned a, unsigned b)
{
    const char *sep = "";
    put(t, "%sroles=", t->len ? " " : "");
    for (size_t i = 0; i < UTIL_LEN(roles); i++)
        if ((b & roles[i].bit) && !(a & roles[i].bit)) {
            put(t, "%s+%s", sep, roles[i].name);
            sep = ",";
        }
    for (size_t i = 0; i < UTIL_LEN(roles); i++)
        if ((a & roles[i].bit) && !(b & roles[i].bit)) {
            put(t, "%s-%s", sep, roles[i].name);
            sep = ",";
        }
}

static const char *date_or_none(const char *s)
{
    return s && s[0] ? s : "none";
}

/* Adds the change's name to what changed. */
static void changed(struct reload_agent *r, const char *what)
{
    size_t n = strlen(r->change);
    snprintf(r->change + n, sizeof r->change - n, "%s%s", n ? "," : "", what);
}

static int differs(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") != 0;
}

/* Fills r with how b differs from a (the same agent by name); returns 1 if
 * anything does. */
static int agent_diff(const config_agent_t *a, const config_agent_t *b, struct reload_agent *r)
{
    struct text t = {.p = r->detail, .cap = sizeof r->detail};
    r->detail[0] = r->change[0] = '\0';
    if (a->revoked != b->revoked)
        changed(r, b->revoked ? "revoked" : "unrevoked");
    if (memcmp(a->public_key, b->public_key, 32) != 0)
        changed(r, "key");
    if (differs(a->agency, b->agency)) {
        char x[256], y[256];
        changed(r, "agency");
        put(&t, "%sagency=\"%s->%s\"", t.len ? " " : "", safe(a->agency, x, sizeof x),
            safe(b->agency, y, sizeof y));
    }
    if (differs(a->type, b->type)) {
        changed(r, "type");
        put(&t, "%stype=%s->%s", t.len ? " " : "", a->type, b->type);
    }
    if (differs(a->region, b->region)) {
        changed(r, "region");
        put(&t, "%sregion=%s->%s", t.len ? " " : "", a->region, b->region);
    }
    if (a->clearance != b->clearance) {
        changed(r, "clearance");
        put(&t, "%sclearance=%s->%s", t.len ? " " : "", label_classification_name(a->clearance),
            label_classification_name(b->clearance));
    }
    if (lists_differ(a->caveats, a->n_caveats, b->caveats, b->n_caveats)) {
        changed(r, "caveats");
        put_list(&t, "caveats", a->caveats, a->n_caveats, b->caveats, b->n_caveats, 0);
    }
    if (a->roles != b->roles) {
        changed(r, "roles");
        put_roles(&t, a->roles, b->roles);
    }
    if (lists_differ(a->publish, a->n_publish, b->publish, b->n_publish)) {
        changed(r, "publish");
        put_list(&t, "publish", a->publish, a->n_publish, b->publish, b->n_publish, 0);
    }
    if (lists_differ(a->subscribe, a->n_subscribe, b->subscribe, b->n_subscribe)) {
        changed(r, "subscribe");
        put_list(&t, "subscribe", a->subscribe, a->n_subscribe, b->subscribe, b->n_subscribe, 0);
    }
    if (a->valid_from_us != b->valid_from_us) {
        changed(r, "valid_from");
        put(&t, "%svalid_from=%s->%s", t.len ? " " : "", date_or_none(a->valid_from),
            date_or_none(b->valid_from));
    }
    if (a->valid_to_us != b->valid_to_us) {
        changed(r, "valid_to");
        put(&t, "%svalid_to=%s->%s", t.len ? " " : "", date_or_none(a->valid_to),
            date_or_none(b->valid_to));
    }
    if (lists_differ(a->speaks_for, a->n_speaks_for, b->speaks_for, b->n_speaks_for)) {
        changed(r, "speaks_for");
        put_list(&t, "speaks_for", a->speaks_for, a->n_speaks_for, b->speaks_for, b->n_speaks_for,
                 1);
    }
    if (differs(a->contact, b->contact))
        changed(r, "contact");
    return r->change[0] != '\0';
}

static void added(const config_agent_t *b, struct reload_agent *r)
{
    struct text t = {.p = r->detail, .cap = sizeof r->detail};
    r->detail[0] = '\0';
    snprintf(r->change, sizeof r->change, "added");
    put(&t, "type=%s clearance=%s", b->type, label_classification_name(b->clearance));
    put_roles(&t, 0, b->roles);
    /* "roles=+a,+b" reads as a change; an added agent simply has them. */
    char *at = strstr(r->detail, "roles=");
    if (at != NULL) {
        char *w = at + 6;
        for (char *p = w; *p; p++)
            if (*p != '+')
                *w++ = *p;
        *w = '\0';
    }
}

static struct reload_agent *next_agent(reload_diff_t *d, const char *name)
{
    struct reload_agent *r = &d->agents[d->n_agents++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

static void key_changed(const char *key, const char *old, const char *neu, void *arg)
{
    reload_diff_t *d = arg;
    if (d->n_keys == RELOAD_MAX_KEYS)
        return; /* more than the broker group has keys: cannot happen */
    struct reload_key *k = &d->keys[d->n_keys++];
    snprintf(k->key, sizeof k->key, "%s", key);
    snprintf(k->old, sizeof k->old, "%s", old);
    snprintf(k->neu, sizeof k->neu, "%s", neu);
    clean(k->old);
    clean(k->neu);
}

reload_diff_t *reload_diff(const config_t *running, const config_t *fresh)
{
    reload_diff_t *d = xcalloc(1, sizeof *d);
    d->agents = xcalloc(running->n_agents + fresh->n_agents + 1, sizeof *d->agents);
    for (size_t i = 0; i < running->n_agents; i++) {
        const config_agent_t *a = &running->agents[i];
        const config_agent_t *b = config_agent_by_name(fresh, a->name);
        if (b == NULL) {
            snprintf(next_agent(d, a->name)->change, sizeof d->agents[0].change, "removed");
            continue;
        }
        struct reload_agent *r = next_agent(d, a->name);
        if (!agent_diff(a, b, r))
            d->n_agents--;
    }
    for (size_t i = 0; i < fresh->n_agents; i++)
        if (config_agent_by_name(running, fresh->agents[i].name) == NULL)
            added(&fresh->agents[i], next_agent(d, fresh->agents[i].name));
    for (size_t i = 0; i < d->n_agents; i++)
        clean(d->agents[i].name);
    d->keys = xcalloc(RELOAD_MAX_KEYS, sizeof *d->keys);
    config_restart_changes(running, fresh, key_changed, d);
    return d;
}

void reload_diff_free(reload_diff_t **dp)
{
    if (dp == NULL || *dp == NULL)
        return;
    free((*dp)->agents);
    free((*dp)->keys);
    free(*dp);
    *dp = NULL;
}
