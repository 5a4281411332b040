/* auth.c — answers ZAP requests for the CURVE ROUTER: admit a key only if a
 * configured agent holds it, and name that agent as the User-Id.
 * Not responsible for: what the agent may do once admitted (policy.c). */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "keys.h"
#include "log.h"
#include "policy.h"
#include "util.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_FRAMES   7 /* version, request id, domain, address, identity, mechanism, key */

/* Unknown keys recorded one by one in a minute before they are recorded
 * per peer address: a key generator chooses a fresh key for every
 * handshake, and keyed by key its records would grow the trail for ever. */
#define UNKNOWN_BY_KEY 8

struct auth {
    void *sock;
    unsigned long accepted, refused;
    int64_t minute_ms;
    unsigned unknown; /* distinct unknown-key refusals this minute */
};

auth_t *auth_new(void *ctx, char *err, size_t errlen)
{
    auth_t *a = xcalloc(1, sizeof *a);
    a->sock = zmq_socket(ctx, ZMQ_REP);
    if (a->sock == NULL || zmq_bind(a->sock, ZAP_ENDPOINT) != 0) {
        snprintf(err, errlen, "cannot bind the ZAP handler %s: %s", ZAP_ENDPOINT,
                 zmq_strerror(errno));
        if (a->sock)
            zmq_close(a->sock);
        free(a);
        return NULL;
    }
    return a;
}

void auth_free(auth_t **ap)
{
    if (ap == NULL || *ap == NULL)
        return;
    zmq_close((*ap)->sock);
    free(*ap);
    *ap = NULL;
}

void *auth_socket(auth_t *a)
{
    return a->sock;
}

unsigned long auth_accepted(const auth_t *a)
{
    return a->accepted;
}

unsigned long auth_refused(const auth_t *a)
{
    return a->refused;
}

static void send_str(void *sock, const char *s, size_t len, int more)
{
    zmq_send(sock, s, len, more ? ZMQ_SNDMORE : 0);
}

/* Reads one ZAP request (all frames) and sends its reply. Returns 1 when
 * refused, 0 when admitted, -1 when nothing was waiting. */
static int handle_one(auth_t *a, const config_t *cfg, audit_t *audit, batch_t *bt)
{
    zmq_msg_t frames[ZAP_FRAMES];
    int n = 0, more = 1, result = -1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, a->sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < ZAP_FRAMES)
            frames[n++] = m;
        else
            zmq_msg_close(&m);
    }
    if (n == 0)
        return -1;
    /* A REP socket must answer every request, even a malformed one. The
     * reply's User-Id is set only when admitted. */
    const char *status = "400", *text = "denied";
    const char *user = "";
    char z85[41] = "";
    const char *mech = "";
    char mechbuf[16] = "";
    if (n == ZAP_FRAMES) {
        size_t ml = zmq_msg_size(&frames[5]);
        if (ml < sizeof mechbuf) {
            memcpy(mechbuf, zmq_msg_data(&frames[5]), ml);
            mech = mechbuf;
        }
        if (strcmp(mech, "CURVE") == 0 && zmq_msg_size(&frames[6]) == 32) {
            const config_agent_t *ag = config_agent_by_key(cfg, zmq_msg_data(&frames[6]));
            keys_z85(zmq_msg_data(&frames[6]), z85);
            enum policy_rule rule = policy_may_connect(ag, util_now_us());
            if (rule == POLICY_ALLOW) {
                status = "200";
                text = "OK";
                user = ag->name;
            } else {
                text = rule == POLICY_NO_AGENT ? "unknown key" : policy_rule_name(rule);
                user = ag ? ag->name : "";
            }
        } else {
            text = "CURVE required";
        }
    }
    const char *version = "1.0";
    send_str(a->sock, version, strlen(version), 1);
    if (n >= 2)
        zmq_send(a->sock, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), ZMQ_SNDMORE);
    else
        send_str(a->sock, "", 0, 1);
    send_str(a->sock, status, 3, 1);
    send_str(a->sock, text, strlen(text), 1);
    send_str(a->sock, status[0] == '2' ? user : "", status[0] == '2' ? strlen(user) : 0, 1);
    if (status[0] == '2') {
        /* Metadata: the key the connection proved, as X-Key, so a session
         * stays bound to the key it authenticated with and is cut off when
         * a reload gives its agent another (ZAP 1.0 metadata: a name of one
         * length byte, a value of four, big-endian). */
        uint8_t md[1 + 5 + 4 + 40];
        md[0] = 5;
        memcpy(md + 1, "X-Key", 5);
        md[6] = md[7] = md[8] = 0;
        md[9] = 40;
        memcpy(md + 10, z85, 40);
        zmq_send(a->sock, md, sizeof md, 0);
    } else {
        send_str(a->sock, "", 0, 0);
    }
    if (status[0] == '2') {
        a->accepted++;
        log_info("event=auth_accepted agent=%s", log_q(user));
        result = 0;
    } else {
        a->refused++;
        char addr[64] = "";
        if (n >= 4) {
            size_t al = zmq_msg_size(&frames[3]);
            if (al >= sizeof addr)
                al = sizeof addr - 1;
            memcpy(addr, zmq_msg_data(&frames[3]), al);
            addr[al] = '\0';
        }
        log_warn("event=auth_refused reason=%s key=%s peer=%s", log_q(text),
                 log_q(z85[0] ? z85 : "-"), log_q(addr[0] ? addr : "-"));
        char by_addr[96];
        const char *actor = user[0] ? user : (z85[0] ? z85 : "-");
        if (!user[0]) {
            int64_t now = util_mono_ms();
            if (now - a->minute_ms >= 60000) {
                a->minute_ms = now;
                a->unknown = 0;
            }
            if (++a->unknown > UNKNOWN_BY_KEY) {
                snprintf(by_addr, sizeof by_addr, "unknown keys from %s", addr[0] ? addr : "-");
                actor = by_addr;
            }
        }
        struct audit_event ev = {
            .actor = actor, .action = "authenticate", .outcome = "refused", .reason = text};
        audit_append_repeatable(audit, bt, &ev, util_mono_ms());
        result = 1;
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
    return result;
}

int auth_handle(auth_t *a, const config_t *cfg, audit_t *audit, batch_t *bt)
{
    int refused = 0, rc;
    /* Bounded, so a flood of handshakes cannot starve the loop. */
    for (int i = 0; i < 256 && (rc = handle_one(a, cfg, audit, bt)) >= 0; i++)
        refused += rc;
    return refused;
}
