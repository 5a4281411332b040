/* link.h — the client side of a connection to a broker, shared by
 * liaison-agent, liaisonctl and (for its uplinks) the broker: a CURVE
 * DEALER socket, the Hello/Welcome exchange, sending and receiving
 * Envelopes, heartbeats both ways, and the verdict on a connection that
 * failed (key refused, broker unreachable, silent, or gone).
 *
 * At heart it is a state machine that never blocks, for callers with their
 * own poll loop:
 *
 *     link_start ──> CONNECTING ──Welcome──> UP ──drop, silence, or an
 *                       │                     │   Error about the session──> LOST
 *                       │                     └──revoked (AGENT_NOT_ALLOWED)──> REFUSED
 *                       ├──key refused, wrong broker key, Error to Hello──> REFUSED
 *                       └──unreachable, or no Welcome within the connect timeout──> LOST
 *
 * REFUSED and LOST are final: a link never reconnects by itself (a new
 * connection is a new session on the broker and must begin with Hello), so
 * the caller closes it and starts another, with its own backoff.
 * link_open and the calls below it wrap the machine in short blocking waits
 * for command-line tools.
 * Not responsible for: retry policy or outboxes (the agent), or what the
 * messages mean (the callers). */
#ifndef LIAISON_LINK_H
#define LIAISON_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "client_config.h"
#include "wire.h"

typedef struct link link_t;

/* The broker is taken as gone after this many heartbeat intervals without
 * a frame from it (it answers each of ours, and sends its own to an idle
 * session, so silence means it is away). */
#define LINK_SILENT_BEATS 3

/* LINK_HIT_NOTICES asks for the hit notices of this agent
 * (Hello.hit_notices). */
#define LINK_HIT_NOTICES 0x1u

enum link_state {
    LINK_CONNECTING, /* Hello queued, no Welcome yet */
    LINK_UP,         /* welcomed: requests may go */
    LINK_REFUSED,    /* the broker will not have us: key, broker key, or an Error to Hello */
    LINK_LOST,       /* unreachable, dropped, silent, or forgotten by the broker */
};

/* ---- the state machine ------------------------------------------------------------ */

/* Creates the DEALER with cfg's CURVE keys and its monitor, connects to
 * cfg->broker and queues Hello (from client_name, with LINK_* flags), then
 * returns at once, CONNECTING. NULL (with the reason in err) only on a
 * local failure: the sockets cannot be made or the endpoint is malformed.
 * An unreachable broker is reported later, as LOST. cfg and client_name
 * are borrowed for this call only. Caller owns the link (link_close). */
link_t *link_start(const client_config_t *cfg, const char *client_name, unsigned flags, char *err,
                   size_t errlen);
/* How long CONNECTING may last before the link is LOST with "no answer
 * from the broker ...". Counted from link_start; the default is
 * LINK_SILENT_BEATS heartbeat intervals. */
void link_set_connect_timeout(link_t *l, int timeout_ms);

enum link_state link_state(const link_t *l);
/* One line saying why the link is REFUSED or LOST ("" before that), e.g.
 * "the broker at tcp://... refused this key (ZAP status 400): ...". Valid
 * until link_close. */
const char *link_why(const link_t *l);

/* Reads what is waiting, without blocking: call it when link_socket or
 * link_monitor_socket polls readable, and when link_next_timeout_ms has
 * passed, until it returns NULL. It consumes Welcome (CONNECTING -> UP,
 * recording what Welcome says) and an Error answering Hello (-> REFUSED),
 * skips frames that do not decode (logged), and returns every other
 * Envelope (caller owns; wire_envelope_free). An Error that ends the
 * session while UP (NOT_WELCOMED: the broker forgot us -> LOST;
 * AGENT_NOT_ALLOWED or BAD_VERSION -> REFUSED) is returned too, with the
 * state already changed, so a caller waiting for its answer sees it.
 * Returns NULL once nothing more is waiting, having then run link_tick; and
 * NULL right after consuming Welcome or a refusal, so the caller reacts to
 * the new state before any frame that follows. Frames that arrived before
 * a link was lost are still handed out. */
Liaison__Envelope *link_on_readable(link_t *l, int64_t now_ms);
/* From now on every Envelope the link hands out (link_on_readable,
 * link_recv, link_call) is decoded into arena, which the caller owns: it
 * frees each with wire_envelope_free_in(&env, arena) and resets the arena
 * whenever it holds none, so a stream of frames costs no malloc each.
 * NULL: malloc'd, as before (wire_envelope_free). */
void link_decode_into(link_t *l, arena_t *arena);
/* 1 if the broker's Welcome said it reads Batch frames (wire_batch_*). */
int link_broker_batches(const link_t *l);
/* The link's own timers and monitor, without blocking: reads the monitor's
 * events (a refused or failed handshake -> REFUSED; a connection that
 * closed -> LOST), ends CONNECTING after the connect timeout (LOST), ends
 * UP after LINK_SILENT_BEATS heartbeat intervals without a frame (LOST),
 * and sends a Heartbeat when nothing has gone out for one interval. A caller
 * that reads a bounded batch with link_on_readable and stops before NULL
 * calls this itself. Returns the state. */
enum link_state link_tick(link_t *l, int64_t now_ms);
/* Milliseconds the caller may sleep (polling link_socket and
 * link_monitor_socket) before the next link_tick or link_on_readable is
 * due: the next heartbeat, the silence limit, or the connect timeout.
 * 0 when one is due now, or when frames of a Batch are waiting to be
 * read; -1 when REFUSED or LOST (nothing more happens). */
int link_next_timeout_ms(const link_t *l, int64_t now_ms);

/* Sends env (version is set here) without ever blocking; env is borrowed
 * for the call. Returns 0 when ZeroMQ has taken it; 1 for "not now": the
 * link is still CONNECTING (nothing but Hello goes before Welcome, so
 * nothing reaches a broker that then refuses us), or the DEALER's queue is
 * at its high-water mark (the broker is not reading as fast as we send;
 * try again when link_socket polls ZMQ_POLLOUT). On 1 the caller keeps
 * env and tries later. -1 when the link is REFUSED or LOST (or the send
 * failed, which makes it LOST). */
int link_try_send(link_t *l, Liaison__Envelope *env);

/* The DEALER and the PAIR that receives its monitor events, for callers
 * that poll several things at once (ZMQ_POLLIN on both). Borrowed until
 * link_close. */
void *link_socket(link_t *l);
/* Sends what g gathered (a lone frame as itself, else one Batch) on a
 * ZeroMQ socket as one message part, without a copy: ZeroMQ frees the
 * buffer once it is sent. g is empty after, sent or not. Returns 0 (also
 * when g held nothing), or -1 with errno as zmq_msg_send left it. */
int link_send_taken(void *sock, struct wire_gather *g, int zflags);
void *link_monitor_socket(link_t *l);

/* Closes the link. An UP link says Bye (the broker drops the session now
 * rather than after three silent heartbeats) and lingers up to a second so
 * its last frames reach the broker; any other link is closed at once,
 * dropping what is queued: it could only reach a broker that comes back,
 * which would not know this session. Sets *l to NULL. */
void link_close(link_t **l);

/* What the broker said in Welcome (zero values before UP). */
const char *link_agent(const link_t *l);
uint64_t link_welcome_last_seq(const link_t *l);
/* The heartbeat interval: Welcome's, or agent.cfg's until Welcome. */
uint32_t link_heartbeat_ms(const link_t *l);
/* The largest frame the broker accepts (a bigger one is refused with
 * FRAME_TOO_LARGE, naming its corr_id). */
uint32_t link_max_frame(const link_t *l);

/* A fresh correlation id (never 0). */
uint64_t link_next_corr(link_t *l);

/* ---- blocking calls, for command-line tools ---------------------------------------- */

/* link_start, then waits up to timeout_ms for the link to be UP. Returns
 * the link (caller owns; link_close) with a send timeout of 5 s, or NULL
 * with link_why's text in err: "the broker at ... refused this key ...",
 * "the broker at ... is not reachable (not running?)", "no answer from the
 * broker at ... within N ms (is it running? is broker_public_key right?)",
 * "the broker refused Hello: AGENT_NOT_ALLOWED: ...". */
link_t *link_open(const client_config_t *cfg, const char *client_name, int timeout_ms, char *err,
                  size_t errlen);
/* The same, with LINK_* flags. */
link_t *link_open_as(const client_config_t *cfg, const char *client_name, unsigned flags,
                     int timeout_ms, char *err, size_t errlen);

/* Sends env (version is set here) on an UP link, waiting for room in the
 * queue up to the socket's ZMQ_SNDTIMEO: 5 s after link_open, 0 after
 * link_start (never waits). A send that cannot go in that time, or fails,
 * makes the link LOST. Returns 0, or -1 (also when the link is not UP). */
int link_send(link_t *l, Liaison__Envelope *env);

/* Gathering several frames into one Batch frame, which costs the broker one
 * CURVE box and one read instead of one per frame. After link_gather, what
 * link_send and link_try_send take waits in the link (when the broker's
 * Welcome said it reads batches; otherwise each goes at once, as before),
 * and link_try_send says 1 once a batch is full. link_flush sends it, all
 * or nothing, and ends gathering: 0 sent (or nothing waited), 1 the queue
 * is full and nothing was sent (without block; the caller takes back what
 * it gathered and sends it again later), -1 the link is lost. With block it
 * waits as link_send does, and a queue that stays full loses the link. */
void link_gather(link_t *l);
int link_flush(link_t *l, int block);

/* One request and its answer: gives env a fresh corr_id, sends it, and
 * waits up to timeout_ms for the frame that answers it (frames for other
 * requests, heartbeats, are dropped). Returns that frame — an Error frame
 * too — (caller owns; wire_envelope_free), or NULL with the reason in err
 * when it cannot be sent, no answer comes, or the link is lost. */
Liaison__Envelope *link_call(link_t *l, Liaison__Envelope *env, int timeout_ms, char *err,
                             size_t errlen);

/* Receives one Envelope, waiting up to timeout_ms (-1 forever), keeping the
 * heartbeat and the silence rule going meanwhile (link_tick); it answers
 * nothing else by itself. Returns the Envelope (caller owns;
 * wire_envelope_free), or NULL with *timed_out set when none came in time
 * or the link is REFUSED or LOST with nothing left to read. */
Liaison__Envelope *link_recv(link_t *l, int timeout_ms, int *timed_out);

/* 1 once the link is REFUSED or LOST: it is finished, and only frames that
 * arrived before can still be read. */
int link_lost(const link_t *l);

#endif
