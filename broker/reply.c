/* reply.c — replies packed into one reusable buffer and sent, or packed
 * into the open batch to wait for its commit.
 * Not responsible for: what the replies say. */
#include "reply.h"

#include <string.h>

#include "log.h"
#include "util.h"

static uint8_t *scratch(broker_t *b, size_t n)
{
    if (n > b->scratch_len) {
        b->scratch = xrealloc(b->scratch, n);
        b->scratch_len = n;
    }
    return b->scratch;
}

void reply_send(broker_t *b, session_t *s, const Liaison__Envelope *env)
{
    size_t n = wire_envelope_size(env);
    uint8_t *buf = scratch(b, n);
    wire_envelope_pack(env, buf);
    if (session_send(b->router, s, buf, n) == -1)
        log_warn("event=reply_dropped agent=%s reason=\"peer queue full\"", log_q(s->agent));
}

static void error_env(Liaison__Envelope *env, Liaison__Error *err, uint64_t corr_id,
                      Liaison__ErrorCode code, const char *msg_id, const char *message)
{
    wire_envelope_init(env, corr_id);
    err->code = code;
    err->message = (char *)(uintptr_t)(message ? message : "");
    err->msg_id = (char *)(uintptr_t)(msg_id ? msg_id : "");
    env->kind_case = LIAISON__ENVELOPE__KIND_ERROR;
    env->error = err;
}

void reply_error(broker_t *b, session_t *s, uint64_t corr_id, Liaison__ErrorCode code,
                 const char *msg_id, const char *message)
{
    Liaison__Envelope env;
    Liaison__Error err = LIAISON__ERROR__INIT;
    error_env(&env, &err, corr_id, code, msg_id, message);
    reply_send(b, s, &env);
}

void reply_error_seq(broker_t *b, session_t *s, uint64_t corr_id, Liaison__ErrorCode code,
                     uint64_t seq, const char *message)
{
    Liaison__Envelope env;
    Liaison__Error err = LIAISON__ERROR__INIT;
    error_env(&env, &err, corr_id, code, NULL, message);
    err.seq = seq;
    reply_send(b, s, &env);
}

void reply_error_to(broker_t *b, const uint8_t *rid, size_t rid_len, uint64_t corr_id,
                    Liaison__ErrorCode code, const char *msg_id, const char *message)
{
    session_t *s = sessions_find(b->sessions, rid, rid_len);
    if (s)
        reply_error(b, s, corr_id, code, msg_id, message);
}

void reply_puback_to(broker_t *b, const uint8_t *rid, size_t rid_len, uint64_t corr_id,
                     uint64_t seq, const char *msg_id, int duplicate)
{
    session_t *s = sessions_find(b->sessions, rid, rid_len);
    if (s == NULL)
        return; /* publisher gone: its retry will be answered from dedup */
    uint8_t *buf = scratch(b, wire_puback_size(msg_id));
    size_t n = wire_puback_pack(corr_id, seq, msg_id, duplicate, buf);
    session_gather(b->router, b->sessions, s, buf, n);
}

void reply_later(broker_t *b, session_t *s, const Liaison__Envelope *env)
{
    size_t n = wire_envelope_size(env);
    uint8_t *out =
        batch_add_frame(b->open, BATCH_REPLY, s->rid, s->rid_len, env->corr_id, 0, 0, 0, n);
    wire_envelope_pack(env, out);
}

void reply_refuse(broker_t *b, session_t *s, uint64_t corr_id, const char *action,
                  Liaison__ErrorCode code, const char *why)
{
    struct audit_event ev = {
        .actor = s->agent, .action = action, .outcome = "refused", .reason = wire_error_name(code)};
    audit_append_repeatable(b->audit, b->open, &ev, util_mono_ms());
    reply_error(b, s, corr_id, code, NULL, why);
}
