"""conformance.py — the checks of scenario 41, each a rule of docs/protocol.md
proved against a real broker with the Python client (clients/python/liaison)
and, where the rule is about what reaches the wire, the client's socket read
directly. Each step is one process: it prints "§N what: ok" lines on stdout
and exits 0, or exits 1 with the reason on stderr.

    conformance.py STEP [ARG]
      heartbeat-reap   §4: the broker's own Heartbeat to an idle session, then
                       Error{NOT_WELCOMED} with corr_id 0 when it reaps it, then
                       a resume by Hello on the same connection
      multipart        §2: a multipart message is answered BAD_FRAME, corr_id 0
      sub-id           §8: SUB_ID_IN_USE for a sub_id in use (Subscribe, Replay)
      credit           §8.1: credit out of range is BAD_REQUEST
      takeover         §8.5: DURABLE_IN_USE, then take_over: TAKEN_OVER to the
                       holder, the new one resumes after the holder's acks
      bye-send         §4: a durable taken, one message acked, then Bye (no
                       close of the durable first); prints "bye-sent SEQ"
      bye-check SEQ    §4: the durable's name is free at once, resumed after SEQ
      replay-done      §9: ReplayDone with and without to_seq, after the
                       deliveries it covers
      replay-refusals  §9: NOT_FOUND with Error.seq for a sequence never stored;
                       BAD_REQUEST for since_us with from_seq
      notice           §8.3: a notice has no msg_id and has the risk_ref
      empty-msg-id     §10: an empty msg_id is given liaison-<seq>, not deduplicated
      gap              §8.4: acks above a gap are kept across a resume, and the
                       attempt goes on counting
      nack-reject      §8.2: Nack(requeue=false) on a durable; prints "nacked SEQ"
                       (the scenario reads the reason from liaisonctl deadletters)

AGENT keys are $LIAISON_KEYS/AGENT.key; LIAISON_ENDPOINT comes from the
scenario. The agents are police (publishes alert.>, holds TRIDENT) and rocu
(receives alert.>, no caveats); notices are on for alert.>.
"""

import os
import sys
import time

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))
import liaison  # noqa: E402

pb = liaison.pb
WAIT = 20.0  # a safety net against a hang, never a measure


class Failed(Exception):
    pass


def client(agent):
    keys = os.environ["LIAISON_KEYS"]
    return liaison.Client(os.environ["LIAISON_ENDPOINT"], os.path.join(keys, "broker.pub"),
                          os.path.join(keys, agent + ".key"), client_name="scenario 41")


def ok(line):
    print(line + ": ok", flush=True)


def need(cond, what):
    if not cond:
        raise Failed(what)


def msg(topic, **extra):
    m = {"topic": topic, "classification": "OFFICIAL", "grading": "2B", "handling": "P",
         "risk": "LOW", "content_type": "text/plain", "body": "conformance"}
    m.update(extra)
    return m


def refused(code, fn, *args, **kw):
    """fn(...) must raise LiaisonError with code; returns the error."""
    try:
        fn(*args, **kw)
    except liaison.LiaisonError as e:
        need(e.code == code, "expected %s, got %s (%s)" % (liaison.error_name(code), e.name,
                                                            e.message))
        return e
    raise Failed("expected %s, the request was accepted" % liaison.error_name(code))


def error_from(c, code):
    """Receives on c, skipping deliveries, until an Error is raised: it must
    have code. Returns it."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            got = c.receive(deadline - time.monotonic())
        except liaison.LiaisonError as e:
            need(e.code == code, "expected %s, got %s (%s)" % (liaison.error_name(code), e.name,
                                                                e.message))
            return e
        need(got is not None, "no %s within %.0f s" % (liaison.error_name(code), WAIT))
    raise Failed("no %s within %.0f s" % (liaison.error_name(code), WAIT))


def raw_frame(c, timeout):
    """The next Envelope on c's socket, read below the client (nothing is
    sent meanwhile, not even a heartbeat), or None."""
    if not c._sock.poll(int(timeout * 1000), zmq.POLLIN):
        return None
    env = pb.Envelope()
    env.ParseFromString(c._sock.recv())
    return env


def deliveries(c, sub_id, n):
    """n deliveries on sub_id, each acked; other subscriptions' are acked too."""
    got = []
    while len(got) < n:
        d = c.receive(WAIT)
        need(d is not None, "%d of %d deliveries within %.0f s" % (len(got), n, WAIT))
        if isinstance(d, liaison.ReplayDone):
            raise Failed("ReplayDone before delivery %d of %d" % (len(got) + 1, n))
        c.ack(d.sub_id, d.seq)
        if d.sub_id == sub_id:
            got.append(d)
    return got


def quiet(c):
    """Nothing unread about this session: a heartbeat's echo comes after
    every answer to what was sent before it."""
    c.heartbeat()
    left = list(c._events)
    need(not left, "unexpected frames: %r" % left)


# ---- the steps -----------------------------------------------------------------

def heartbeat_reap():
    c = client("rocu")
    # Nothing is sent from here on, so any Heartbeat is the broker's own.
    seen_hb = False
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        env = raw_frame(c, deadline - time.monotonic())
        need(env is not None, "nothing from the broker within %.0f s of silence" % WAIT)
        kind = env.WhichOneof("kind")
        if kind == "heartbeat":
            need(env.corr_id == 0, "the broker's heartbeat has corr_id %d" % env.corr_id)
            if not seen_hb:
                ok("§4 heartbeats: the broker's own Heartbeat (corr_id 0) to an idle session")
            seen_hb = True
            continue
        need(kind == "error", "unexpected %s while silent" % kind)
        need(seen_hb, "reaped before the broker sent a heartbeat")
        need(env.error.code == pb.NOT_WELCOMED and env.corr_id == 0,
             "reap said %s corr_id %d" % (liaison.error_name(env.error.code), env.corr_id))
        ok("§4 reap: Error{NOT_WELCOMED} with corr_id 0 to a session silent for three heartbeats")
        break
    else:
        raise Failed("no reap within %.0f s" % WAIT)
    # The same connection: a frame now is refused, and a Hello resumes.
    try:
        c.heartbeat()
        raise Failed("a heartbeat after the reap was answered as if welcomed")
    except liaison.SessionLost as e:
        need(e.__cause__ is not None and e.__cause__.code == pb.NOT_WELCOMED,
             "after the reap: %s" % e)
    c.resume()
    sub = c.subscribe("alert.reap.>")
    need(sub.start_seq > 0, "no SubAck after the resume")
    quiet(c)
    ok("§4 resume: Hello on the same connection is welcomed and serves again")
    c.close()


def multipart():
    c = client("rocu")
    c._sock.send_multipart([b"\x08\x01", b"\x08\x01"])
    env = raw_frame(c, WAIT)
    need(env is not None and env.WhichOneof("kind") == "error", "no answer to a multipart message")
    need(env.error.code == pb.BAD_FRAME and env.corr_id == 0,
         "multipart answered %s corr_id %d" % (liaison.error_name(env.error.code), env.corr_id))
    quiet(c)
    ok("§2 framing: a multipart message is refused with BAD_FRAME, corr_id 0; the session goes on")
    c.close()


def sub_id():
    c = client("rocu")
    c.subscribe("alert.sid.>", sub_id=5)
    refused(pb.SUB_ID_IN_USE, c.subscribe, "alert.sid.other.>", sub_id=5)
    refused(pb.SUB_ID_IN_USE, c.replay, "alert.sid.>", sub_id=5)
    quiet(c)
    ok("§8 sub_id: SUB_ID_IN_USE for a sub_id in use, on Subscribe and on Replay")
    c.close()


def credit():
    c = client("rocu")
    refused(pb.BAD_REQUEST, c.subscribe, "alert.cr.>", credit=100001)
    sub = c.subscribe("alert.cr.>", credit=100000)
    for bad in (0, 100001):
        c.credit(sub.sub_id, bad)
        c.heartbeat()
        need(c._events, "Credit %d drew no Error" % bad)
        refused(pb.BAD_REQUEST, c.receive, 0)
    c.credit(sub.sub_id, 1)
    quiet(c)
    ok("§8.1 credit: Subscribe.credit over 100000, Credit 0 and over 100000 are BAD_REQUEST; "
       "1 and 100000 are accepted")
    c.close()


def takeover():
    p, a, b = client("police"), client("rocu"), client("rocu")
    held = a.subscribe("alert.to.>", durable="conf-to")
    seqs = [p.publish(msg("alert.to.x")).seq for _ in range(3)]
    got = deliveries(a, held.sub_id, 2)  # acks the first two
    need([d.seq for d in got] == seqs[:2], "holder got %r" % [d.seq for d in got])
    a.heartbeat()  # its acks are read
    refused(pb.DURABLE_IN_USE, b.subscribe, "alert.to.>", durable="conf-to")
    ok("§8.5 durable in use: DURABLE_IN_USE for a name another live connection holds")
    new = b.subscribe("alert.to.>", durable="conf-to", take_over=True)
    need(new.start_seq == seqs[2], "took over at %d, not after the holder's acks (%d)"
         % (new.start_seq, seqs[2]))
    e = error_from(a, pb.TAKEN_OVER)
    need(e.corr_id == 0, "TAKEN_OVER came with corr_id %d" % e.corr_id)
    need("conf-to" in e.message, "TAKEN_OVER does not name the durable: %s" % e.message)
    need(held.sub_id not in a.subscriptions(), "the client still lists the taken durable")
    d = deliveries(b, new.sub_id, 1)[0]
    need(d.seq == seqs[2] and d.attempt == 2, "the new holder got %r" % d)
    ok("§8.5 take_over: the holder gets TAKEN_OVER (corr_id 0); the new one resumes after the "
       "holder's acks and gets what was in flight, as attempt 2")
    a.ack(held.sub_id, seqs[2])  # its sub_id is gone on the old connection
    a.heartbeat()
    error_from(a, pb.UNKNOWN_SUBSCRIPTION)
    for c in (p, a, b):
        c.close()


def bye_send():
    p, c = client("police"), client("rocu")
    sub = c.subscribe("alert.bye.>", durable="conf-bye")
    seq = p.publish(msg("alert.bye.x")).seq
    deliveries(c, sub.sub_id, 1)
    c.heartbeat()  # the ack is read
    c._send(corr_id=0, bye=pb.Bye())  # and nothing else: no Unsubscribe first
    c._close_socket()
    p.close()
    print("bye-sent %d" % seq, flush=True)


def bye_check(acked):
    p, c = client("police"), client("rocu")
    sub = c.subscribe("alert.bye.>", durable="conf-bye")  # no take_over
    need(sub.start_seq == acked + 1, "resumed at %d, not after the ack of %d"
         % (sub.start_seq, acked))
    quiet(c)
    ok("§4 Bye: the durable's name is free at once (no DURABLE_IN_USE) and it keeps its place")
    p.close()
    c.close()


def replay_done():
    p, c = client("police"), client("rocu")
    seqs = [p.publish(msg("alert.rd.x")).seq for _ in range(3)]
    sub = c.replay("alert.rd.>", from_seq=seqs[0], report_done=True)
    got = []
    last = c.wait_replay_done(sub.sub_id, WAIT,
                              on_delivery=lambda d: (got.append(d.seq), c.ack(d.sub_id, d.seq)))
    need(last is not None, "no ReplayDone within %.0f s" % WAIT)
    need(got == seqs, "before ReplayDone: %r, expected %r" % (got, seqs))
    need(last >= seqs[-1], "ReplayDone.last_seq %d is before the last stored %d" % (last, seqs[-1]))
    ok("§9 ReplayDone: after every delivery it covers, last_seq at least the newest stored")
    c.unsubscribe(sub.sub_id)
    sub = c.replay("alert.rd.>", from_seq=seqs[0], to_seq=seqs[1], report_done=True)
    got = []
    last = c.wait_replay_done(sub.sub_id, WAIT,
                              on_delivery=lambda d: (got.append(d.seq), c.ack(d.sub_id, d.seq)))
    need(last == seqs[1], "ReplayDone.last_seq %r, expected to_seq %d" % (last, seqs[1]))
    need(got == seqs[:2], "with to_seq: %r, expected %r" % (got, seqs[:2]))
    need(c.subscriptions()[sub.sub_id].ended, "the client does not see the replay ended")
    ok("§9 ReplayDone with to_seq: last_seq is to_seq; only the messages up to it came before it")
    c.unsubscribe(sub.sub_id)
    quiet(c)
    p.close()
    c.close()


def replay_refusals():
    p, c = client("police"), client("rocu")
    newest = p.publish(msg("alert.rr.x")).seq
    e = refused(pb.NOT_FOUND, c.replay, "alert.rr.>", from_seq=newest + 2)
    need(e.seq == newest + 2, "NOT_FOUND has Error.seq %d, not %d" % (e.seq, newest + 2))
    sub = c.replay("alert.rr.>", from_seq=newest + 1)  # the next one: accepted
    c.unsubscribe(sub.sub_id)
    ok("§9 NOT_FOUND: a from_seq never stored is refused with Error.seq; newest + 1 is accepted")
    refused(pb.BAD_REQUEST, c.replay, "alert.rr.>", from_seq=1, since_us=1)
    quiet(c)
    ok("§9 since and from: a Replay with both since_us and from_seq is BAD_REQUEST")
    p.close()
    c.close()


def notice():
    p, c = client("police"), client("rocu")
    sub = c.subscribe("alert.nt.>")
    seq = p.publish(msg("alert.nt.x", msg_id="op-nightjar-17", caveats=["TRIDENT"],
                        risk_ref="RA-41-7", subjects=["A1", "B2"])).seq
    d = deliveries(c, sub.sub_id, 1)[0]
    need(d.notice, "rocu (no TRIDENT) got the message itself, not a notice")
    need(d.seq == seq and d.intel.seq == seq, "the notice names seq %d, not %d" % (d.seq, seq))
    need(d.intel.msg_id == "", "the notice carries msg_id %r" % d.intel.msg_id)
    need(d.intel.label.risk_ref == "RA-41-7", "the notice's risk_ref is %r"
         % d.intel.label.risk_ref)
    need(not d.intel.body and not d.intel.label.caveats and not d.intel.label.subjects,
         "the notice carries body, caveats or subjects")
    need(d.subject_count == 2, "subject_count %d" % d.subject_count)
    quiet(c)
    ok("§8.3 notices: msg_id empty, the originator's risk_ref and the broker's seq as reference")
    p.close()
    c.close()


def empty_msg_id():
    p = client("police")
    m = msg("alert.em.x")
    a1, a2 = p.publish(m), p.publish(m)
    need(a2.seq == a1.seq + 1, "seqs %d, %d" % (a1.seq, a2.seq))
    need(a1.msg_id == "liaison-%d" % a1.seq and a2.msg_id == "liaison-%d" % a2.seq,
         "msg_ids given: %r, %r" % (a1.msg_id, a2.msg_id))
    need(not a1.duplicate and not a2.duplicate, "an empty msg_id was deduplicated")
    c = client("rocu")
    sub = c.replay("alert.em.>", from_seq=a1.seq, to_seq=a2.seq, report_done=True)
    got = []
    c.wait_replay_done(sub.sub_id, WAIT,
                       on_delivery=lambda d: (got.append(d.intel.msg_id), c.ack(d.sub_id, d.seq)))
    need(got == [a1.msg_id, a2.msg_id], "delivered with msg_ids %r" % got)
    ok("§10 empty msg_id: given liaison-<seq> (in the PubAck and the stored message), "
       "never deduplicated")
    p.close()
    c.close()


def nack_reject():
    p, c = client("police"), client("rocu")
    sub = c.subscribe("alert.nk.>", durable="conf-nack")
    seq = p.publish(msg("alert.nk.x")).seq
    d = c.receive(WAIT)
    need(d is not None and d.seq == seq, "no delivery to nack")
    c.nack(sub.sub_id, seq, requeue=False)
    quiet(c)
    print("nacked %d" % seq, flush=True)
    p.close()
    c.close()


def gap():
    """§8.4: a durable that acked out of order resumes owing only what it
    did not ack, and the attempt goes on counting."""
    p, c = client("police"), client("rocu")
    sub = c.subscribe("alert.gap.>", durable="conf-gap", credit=10)
    seqs = [p.publish(msg("alert.gap.x")).seq for _ in range(5)]
    got = []
    while len(got) < 5:
        d = c.receive(WAIT)
        need(d is not None, "%d of 5 deliveries" % len(got))
        got.append(d)
    need([d.seq for d in got] == seqs, "got %r" % [d.seq for d in got])
    for d in got[1:]:
        c.ack(sub.sub_id, d.seq)  # all but the first
    c.heartbeat()  # the acks are read
    c.close()
    c = client("rocu")
    again = c.subscribe("alert.gap.>", durable="conf-gap", credit=10)
    need(again.start_seq == seqs[0], "resumed at %d, not at %d" % (again.start_seq, seqs[0]))
    d = c.receive(WAIT)
    need(d is not None and d.seq == seqs[0], "the one not acked did not come again: %r" % d)
    need(d.attempt == 2, "it came as attempt %d, not 2" % d.attempt)
    c.ack(again.sub_id, d.seq)
    quiet(c)
    ok("§8.4 durable acks above a gap are kept: only the unacked one comes again, as attempt 2")
    p.close()
    c.close()


def main(argv):
    step, args = argv[1], argv[2:]
    steps = {"heartbeat-reap": heartbeat_reap, "multipart": multipart, "sub-id": sub_id,
             "credit": credit, "takeover": takeover, "bye-send": bye_send,
             "replay-done": replay_done, "replay-refusals": replay_refusals, "notice": notice,
             "empty-msg-id": empty_msg_id, "nack-reject": nack_reject, "gap": gap}
    try:
        if step == "bye-check":
            bye_check(int(args[0]))
        elif step in steps:
            steps[step]()
        else:
            print("conformance: unknown step %s" % step, file=sys.stderr)
            return 2
    except (Failed, liaison.LiaisonError, liaison.ConnectError, TimeoutError) as e:
        print("conformance %s: %s" % (step, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
