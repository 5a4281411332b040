/* durables.c — managing the durable feeds kept on disk: DurableRequest's
 * list, delete and rewind. Who may act (an operator on any durable, an
 * agent on its own), the refusal of a delete while a live connection holds
 * the durable, and what each action changes: the stored cursor (a write in
 * the open batch), the live subscription that holds it, fanout's released
 * ring and the operators' history. Every action is audited in the same
 * batch, and its reply waits on that batch.
 * Not responsible for: building the list (control.c), the cursor's stored
 * form (store.c), or deciding what a rewound durable receives (fanout.c
 * and policy.c: each redelivery goes through the delivery rule again). */
#include "durables.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "fanout.h"
#include "log.h"
#include "policy.h"
#include "reply.h"
#include "util.h"

#define DURABLE_NAME_MAX (SESSION_AGENT_MAX + 130)

/* The live subscription holding name, or NULL. */
static sub_t *holder_of(broker_t *b, const char *name)
{
    for (size_t i = 0; i < sessions_count(b->sessions); i++) {
        session_t *o = sessions_at(b->sessions, i);
        if (o->dead)
            continue;
        for (size_t j = 0; j < o->n_subs; j++)
            if (o->subs[j]->durable && strcmp(o->subs[j]->durable, name) == 0)
                return o->subs[j];
    }
    return NULL;
}

/* "agent/name" from what the client wrote: a bare name is the asker's
 * own. 0, or -1 when it cannot be a durable's name. */
static int full_name(const session_t *s, const char *given, char *out, size_t n)
{
    if (given == NULL || given[0] == '\0' || strlen(given) > DURABLE_NAME_MAX - 2)
        return -1;
    for (const char *p = given; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-' || *p == '/'))
            return -1;
    int len = strchr(given, '/') ? snprintf(out, n, "%s", given)
                                 : snprintf(out, n, "%s/%s", s->agent, given);
    return len > 0 && (size_t)len < n ? 0 : -1;
}

/* 1 if name is one of s's agent's own durables. */
static int own(const session_t *s, const char *name)
{
    size_t n = strlen(s->agent);
    return strncmp(name, s->agent, n) == 0 && name[n] == '/';
}

/* The durable's acked floor as it is now: the live holder's, one let go a
 * moment ago, else the stored cursor. STORE_OK, STORE_NOTFOUND, STORE_ERR. */
static int current_floor(broker_t *b, const char *name, sub_t *holder, uint64_t *floor,
                         char *pattern, size_t plen)
{
    if (holder) {
        *floor = sub_floor(holder, b->planned + 1);
        snprintf(pattern, plen, "%s", holder->pattern);
        return STORE_OK;
    }
    uint64_t stored;
    int rc = store_cursor_get(b->store, name, &stored, pattern, plen, NULL);
    if (rc != STORE_OK)
        return rc;
    *floor = stored;
    fanout_released_peek(b, name, floor);
    return STORE_OK;
}

/* The durable a delete or rewind acts on, as it is now: 0, or -1 once the
 * asker has been told it does not exist or cannot be read. */
static int find_durable(broker_t *b, session_t *s, uint64_t corr, const char *name, sub_t **holder,
                        uint64_t *floor, char *pattern, size_t plen)
{
    *holder = holder_of(b, name);
    int rc = current_floor(b, name, *holder, floor, pattern, plen);
    if (rc == STORE_NOTFOUND) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__NOT_FOUND, NULL, "no such durable");
        return -1;
    }
    if (rc != STORE_OK) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__STORE_FAILED, NULL,
                    "cannot read the durable cursor");
        return -1;
    }
    return 0;
}

/* What the released ring remembers of the durable goes: nothing may
 * resume it from memory past the cursor this batch writes. */
static void forget_released(broker_t *b, const char *name)
{
    uint64_t ignored;
    struct store_cursor_ext ext = {0, 0, NULL};
    if (fanout_released_floor(b, name, &ignored, &ext))
        free(ext.v);
}

static void record(broker_t *b, session_t *s, const char *action, const char *name,
                   const char *pattern, const char *how)
{
    struct audit_event ev = {.actor = s->agent,
                             .action = action,
                             .recipient = name,
                             .outcome = "ok",
                             .reason = how,
                             .topic = pattern};
    audit_append(b->audit, b->open, &ev);
}

static void reply_json(broker_t *b, session_t *s, uint64_t corr, const char *json)
{
    Liaison__Envelope env;
    Liaison__StatusReply rep = LIAISON__STATUS_REPLY__INIT;
    wire_envelope_init(&env, corr);
    rep.json = (char *)(uintptr_t)json;
    env.kind_case = LIAISON__ENVELOPE__KIND_STATUS_REPLY;
    env.status_reply = &rep;
    reply_later(b, s, &env);
}

/* The holder is told, and its subscription ends; its state goes nowhere. */
static void end_holder(broker_t *b, sub_t *holder, const char *by)
{
    session_t *o = holder->owner;
    char why[300];
    snprintf(why, sizeof why, "durable %s was deleted by %s", holder->durable, by);
    Liaison__Envelope env;
    Liaison__Error err = LIAISON__ERROR__INIT;
    wire_envelope_init(&env, 0);
    err.code = LIAISON__ERROR_CODE__DURABLE_DELETED;
    err.message = why;
    env.kind_case = LIAISON__ENVELOPE__KIND_ERROR;
    env.error = &err;
    reply_send(b, o, &env);
    fanout_sub_remove(b, o, holder->id);
}

static void on_delete(broker_t *b, session_t *s, uint64_t corr, const Liaison__DurableRequest *r,
                      const char *name)
{
    sub_t *holder;
    uint64_t floor;
    char pattern[512];
    if (find_durable(b, s, corr, name, &holder, &floor, pattern, sizeof pattern) != 0)
        return;
    if (holder && !r->force) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__DURABLE_IN_USE, NULL,
                    "a live connection holds this durable; delete with force to end it");
        return;
    }
    if (holder)
        end_holder(b, holder, s->agent);
    /* After whatever the holder's removal wrote: the delete is the last
     * word in this batch, and nothing may resume it from memory. */
    forget_released(b, name);
    store_wset_cursor_del(b->open->w, name);
    control_durable_forget(b, name);
    char how[96];
    snprintf(how, sizeof how, "cursor %llu to none%s", (unsigned long long)floor,
             holder ? ", held: ended" : "");
    record(b, s, "durable_delete", name, pattern, how);
    log_info("event=durable_deleted by=%s name=%s cursor=%llu held=%d", log_q(s->agent),
             log_q(name), (unsigned long long)floor, holder != NULL);
    reply_json(b, s, corr, "{\"ok\":true}");
}

/* A live holder goes on from next: what its window holds at or above it is
 * sent again by walking, what is below it (a move forward) is let go, and
 * what it remembered of acks above a gap no longer counts. */
static void rewind_live(sub_t *sub, uint64_t next)
{
    sub_forget_from(sub, next);
    while (sub->n_inflight && sub->inflight[0].seq < next)
        sub_forget(sub, sub->inflight[0].seq);
    free(sub->resume);
    sub->resume = NULL;
    sub->n_resume = sub->i_resume = 0;
    sub->resume_hi = 0;
    sub->next_seq = next;
    sub->floor_written = UINT64_MAX; /* written again by fanout_cursors */
    sub->active = 1;
}

static void on_rewind(broker_t *b, session_t *s, uint64_t corr, const Liaison__DurableRequest *r,
                      const char *name)
{
    if ((r->to_seq == 0) == (r->since_us == 0)) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_REQUEST, NULL,
                    "rewind needs exactly one of to_seq and since_us");
        return;
    }
    uint64_t last = store_last_seq(b->store), next = r->to_seq;
    if (r->to_seq > last + 1) {
        char why[96];
        snprintf(why, sizeof why, "to_seq is beyond the last stored sequence (%llu)",
                 (unsigned long long)last);
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_REQUEST, NULL, why);
        return;
    }
    if (r->since_us) {
        int rc = store_seq_at_time(b->store, r->since_us, &next);
        if (rc == STORE_NOTFOUND)
            next = last + 1; /* nothing that recent: only what comes */
        else if (rc != STORE_OK) {
            reply_error(b, s, corr, LIAISON__ERROR_CODE__STORE_FAILED, NULL,
                        "cannot read the store by time");
            return;
        }
    }
    sub_t *holder;
    uint64_t floor;
    char pattern[512];
    if (find_durable(b, s, corr, name, &holder, &floor, pattern, sizeof pattern) != 0)
        return;
    /* The stored cursor is written in this batch either way; a resume
     * before it commits starts from the released ring, set to it too. */
    store_wset_cursor(b->open->w, name, next - 1, pattern, NULL);
    forget_released(b, name);
    if (holder) {
        rewind_live(holder, next);
        fanout_sub_touched(b, holder);
    } else
        fanout_released_lower(b, name, next - 1);
    control_durable_moved(b, name, next - 1);
    char how[96];
    snprintf(how, sizeof how, "cursor %llu to %llu", (unsigned long long)floor,
             (unsigned long long)(next - 1));
    record(b, s, "durable_rewind", name, pattern, how);
    log_info("event=durable_rewound by=%s name=%s from=%llu to=%llu held=%d", log_q(s->agent),
             log_q(name), (unsigned long long)floor, (unsigned long long)(next - 1),
             holder != NULL);
    char json[160];
    snprintf(json, sizeof json, "{\"ok\":true,\"old_cursor\":%llu,\"cursor\":%llu}",
             (unsigned long long)floor, (unsigned long long)(next - 1));
    reply_json(b, s, corr, json);
}

void durables_handle(broker_t *b, session_t *s, uint64_t corr, const Liaison__DurableRequest *r)
{
    const char *action = r->action ? r->action : "";
    int list = strcmp(action, "list") == 0;
    int64_t now = util_now_us();
    /* An agent may always manage its own durables (its config changed);
     * anyone else's needs the operator role. (handle_frame has refused an
     * agent revoked or out of its dates already.) */
    int operator= policy_may_request(s->conf, ROLE_OPERATOR, now) == POLICY_ALLOW;
    char name[DURABLE_NAME_MAX];
    if (!list && strcmp(action, "delete") != 0 && strcmp(action, "rewind") != 0) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_REQUEST, NULL,
                    "action must be list, delete or rewind");
        return;
    }
    if (!list && full_name(s, r->durable, name, sizeof name) != 0) {
        reply_error(b, s, corr, LIAISON__ERROR_CODE__BAD_REQUEST, NULL,
                    "durable must be NAME or AGENT/NAME of [A-Za-z0-9._-]");
        return;
    }
    int mine = list ? r->mine : own(s, name);
    if (!operator&& !mine) {
        const char *why = list ? "listing every durable needs the operator role (or ask mine)"
                               : "another agent's durable needs the operator role";
        reply_refuse(b, s, corr, list ? "durables" : "durable_change",
                     LIAISON__ERROR_CODE__ROLE_MISSING, why);
        return;
    }
    if (list) {
        if (!agent_rate(s->agent_state, &s->agent_state->views, b->cfg->max_views_per_minute,
                        util_mono_ms())) {
            reply_refuse(b, s, corr, "durables", LIAISON__ERROR_CODE__RATE_LIMITED,
                         "too many operator views this minute (max_views_per_minute)");
            return;
        }
        char *json = control_durables_json(b, r->mine ? s->agent : NULL);
        if (json == NULL) {
            reply_error(b, s, corr, LIAISON__ERROR_CODE__STORE_FAILED, NULL,
                        "cannot read the durable cursors");
            return;
        }
        struct audit_event ev = {.actor = s->agent,
                                 .action = "durables",
                                 .outcome = "ok",
                                 .reason = r->mine ? "mine" : NULL};
        audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
        reply_json(b, s, corr, json);
        free(json);
        return;
    }
    if (strcmp(action, "delete") == 0)
        on_delete(b, s, corr, r, name);
    else
        on_rewind(b, s, corr, r, name);
}
