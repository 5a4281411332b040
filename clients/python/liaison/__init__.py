"""liaison — a small Python client for the Liaison broker.

Written from docs/protocol.md, on Debian's python3-zmq and python3-protobuf.
The message classes come from proto/liaison.proto, generated at build time
(`make python` writes build/python/liaison_pb2.py); they are never committed.

One Client is one ZeroMQ DEALER connection with CURVE and one broker
session. It is not thread-safe (neither is a ZeroMQ socket): use it from one
thread, and call receive() (or any request) at least every heartbeat_ms so
that the heartbeats go out.

Not responsible for: retrying publishes across reconnects (keep an outbox
and re-send with the same msg_id: the broker's dedup answers the repeat), or
persisting what was received (ack only once you have it).
"""

import json
import os
import sys
import time
from collections import deque, namedtuple

import zmq
import zmq.utils.monitor
import zmq.utils.z85

try:
    import liaison_pb2 as pb
except ImportError:  # a source tree: build/python beside clients/python
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(_here, "..", "..", "..", "build", "python"))
    try:
        import liaison_pb2 as pb
    finally:
        del sys.path[0]

__all__ = [
    "Client", "Delivery", "PubAck", "ReplayDone", "Subscription", "LiaisonError",
    "ConnectError", "KeyRefused", "SessionLost", "read_key",
    "intel_from_dict", "intel_to_dict", "error_name",
]

VERSION = "0.1"
PROTOCOL_VERSION = pb.PROTOCOL_VERSION

PubAck = namedtuple("PubAck", "seq msg_id duplicate")
# A replay asked with report_done has everything stored up to last_seq
# (docs/protocol.md, "Replay"); receive() returns it in stream order.
ReplayDone = namedtuple("ReplayDone", "sub_id last_seq")


def error_name(code):
    """The ErrorCode's name ("TOPIC_NOT_PERMITTED") for its number."""
    try:
        return pb.ErrorCode.Name(code)
    except ValueError:
        return "UNKNOWN_%d" % code


class LiaisonError(Exception):
    """The broker answered with Error (docs/protocol.md, "Error codes")."""

    def __init__(self, code, message="", seq=0, msg_id="", corr_id=0):
        self.code = code
        self.name = error_name(code)
        self.message = message
        self.seq = seq
        self.msg_id = msg_id
        self.corr_id = corr_id
        super().__init__("%s: %s" % (self.name, message))


class ConnectError(Exception):
    """No session: the broker did not answer Hello, or the link dropped."""


class KeyRefused(ConnectError):
    """The broker's ZAP handler refused this client's key (ZAP status)."""

    def __init__(self, status, text):
        self.status = status
        super().__init__(text)


class SessionLost(ConnectError):
    """The broker forgot this session (NOT_WELCOMED after Welcome, or the
    connection closed). Call Client.resume() or open a new Client."""


def read_key(path):
    """A Z85 key from a key file as `liaisonctl keygen` writes it: the first
    line, 40 characters, surrounding whitespace ignored. A 40-character
    string that names no file is taken as the key itself."""
    if len(path) == 40 and not os.path.exists(path):
        text = path
    else:
        with open(path, "r", encoding="ascii") as f:
            text = f.readline().strip()
    if len(text) != 40:
        raise ValueError("%s: not a Z85 key (40 characters)" % path)
    try:
        zmq.utils.z85.decode(text.encode("ascii"))
    except Exception:
        raise ValueError("%s: not a Z85 key" % path) from None
    return text.encode("ascii")


# ---- the JSON mapping of a message (config/message.schema.json) -----------

_CLASS = {"OFFICIAL": 1, "OFFICIAL-SENSITIVE": 2, "SECRET": 3, "TOP-SECRET": 4}
_HANDLING = {"P": 1, "C": 2}
_SANIT = {"S1": 1, "S2": 2}
_RISK = {"LOW": 1, "MEDIUM": 2, "HIGH": 3}


def _name(table, value):
    for k, v in table.items():
        if v == value:
            return k
    return None


def _rfc3339(us):
    secs, frac = divmod(us, 1000000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%06dZ" % frac


def intel_from_dict(d):
    """An Intel from a message as JSON (a dict with the keys liaisonctl pub
    reads: topic, msg_id, classification, caveats, grading, handling, ...).
    Only shape is checked here; the broker checks the label."""
    m = pb.Intel()
    lab = m.label
    for key, v in d.items():
        if key in ("topic", "msg_id", "content_type"):
            setattr(m, key, v)
        elif key == "classification":
            lab.classification = _CLASS[v]
        elif key == "grading":
            if len(v) != 2 or v[0] not in "123" or v[1] not in "ABCDE":
                raise ValueError("bad grading %r: want e.g. '2B'" % v)
            lab.source_grade = int(v[0])
            lab.intel_grade = v[1]
        elif key == "handling":
            lab.handling = _HANDLING[v]
        elif key == "sanitisation":
            lab.sanitisation = _SANIT[v]
        elif key == "risk":
            lab.risk = _RISK[v]
        elif key in ("caveats", "release_to", "subjects"):
            getattr(lab, key).extend(v)
        elif key in ("conditions", "risk_basis", "risk_ref", "review_at",
                     "embargo_until", "expires_at"):
            setattr(lab, key, v)
        elif key == "no_onward_sharing":
            lab.no_onward_sharing = bool(v)
        elif key == "body":
            m.body = v.encode("utf-8") if isinstance(v, str) else bytes(v)
        elif key in ("seq", "origin", "received_at", "notice"):
            raise ValueError("%r is stamped by the broker and may not be published" % key)
        else:
            raise ValueError("unknown key %r" % key)
    return m


def intel_to_dict(m, notice=False):
    """A received Intel as the same JSON keys liaisonctl sub prints (unset
    fields left out; "body" as text when it is UTF-8, else "body_base64")."""
    d = {}
    if m.seq:
        d["seq"] = m.seq
    for key in ("topic", "msg_id"):
        if getattr(m, key):
            d[key] = getattr(m, key)
    lab = m.label
    if lab.classification:
        d["classification"] = _name(_CLASS, lab.classification)
    if lab.caveats:
        d["caveats"] = list(lab.caveats)
    if lab.source_grade or lab.intel_grade:
        d["grading"] = "%d%s" % (lab.source_grade, lab.intel_grade)
    if lab.handling:
        d["handling"] = _name(_HANDLING, lab.handling)
    if lab.conditions:
        d["conditions"] = lab.conditions
    if lab.no_onward_sharing:
        d["no_onward_sharing"] = True
    if lab.sanitisation:
        d["sanitisation"] = _name(_SANIT, lab.sanitisation)
    if lab.release_to:
        d["release_to"] = list(lab.release_to)
    if lab.risk:
        d["risk"] = _name(_RISK, lab.risk)
    for key in ("risk_basis", "risk_ref"):
        if getattr(lab, key):
            d[key] = getattr(lab, key)
    if lab.subjects:
        d["subjects"] = list(lab.subjects)
    for key in ("review_at", "embargo_until", "expires_at"):
        if getattr(lab, key):
            d[key] = getattr(lab, key)
    if m.content_type:
        d["content_type"] = m.content_type
    if m.HasField("origin") and m.origin.agent:
        d["origin"] = {"agent": m.origin.agent, "agency": m.origin.agency,
                       "type": m.origin.type, "region": m.origin.region}
    if m.received_at_us:
        d["received_at"] = _rfc3339(m.received_at_us)
    if notice:
        d["notice"] = True
    elif m.body:
        try:
            text = m.body.decode("utf-8")
            if "\0" in text:
                raise UnicodeDecodeError("utf-8", m.body, 0, 1, "NUL")
            d["body"] = text
        except UnicodeDecodeError:
            import base64
            d["body_base64"] = base64.b64encode(m.body).decode("ascii")
    return d


class Delivery:
    """One Deliver: `intel` (the protobuf Intel), `seq`, `sub_id`, `attempt`
    (1 on first delivery), `notice` (a sanitised notice: no body, subjects,
    caveats or grading), and with a notice `subject_count` and `contact`.
    Ack it (client.ack) once it is safely processed — notices too."""

    def __init__(self, d):
        self.sub_id = d.sub_id
        self.intel = d.intel
        self.seq = d.intel.seq
        self.attempt = d.attempt
        self.notice = d.notice
        self.subject_count = d.subject_count
        self.contact = d.contact

    def as_dict(self):
        d = intel_to_dict(self.intel, self.notice)
        if self.notice:
            d["subject_count"] = self.subject_count
            if self.contact:
                d["contact"] = self.contact
        return d

    def __repr__(self):
        return "Delivery(sub_id=%d, seq=%d, attempt=%d%s)" % (
            self.sub_id, self.seq, self.attempt, ", notice" if self.notice else "")


class Subscription:
    """A subscription as the client asked for it, with what SubAck said.
    `last_seq` is the highest sequence delivered on it so far; `done_seq`,
    for a replay asked with report_done, ReplayDone's last_seq once it has
    come (else None); `ended` is true once a replay with to_seq has reached
    it; `taken_over` once another connection took this durable over."""

    def __init__(self, sub_id, pattern, durable="", credit=0, from_seq=0,
                 since_us=0, replay=False, take_over=False, to_seq=0, report_done=False):
        self.sub_id = sub_id
        self.pattern = pattern
        self.durable = durable
        self.credit = credit
        self.from_seq = from_seq
        self.since_us = since_us
        self.replay = replay
        self.take_over = take_over
        self.to_seq = to_seq
        self.report_done = report_done
        self.start_seq = 0
        self.last_seq = 0
        self.done_seq = None
        self.ended = False
        self.taken_over = False


_MONITOR_EVENTS = (zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                   | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_SUCCEEDED
                   | zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED)


class Client:
    """A session with the broker.

        c = Client("tcp://broker:7100", "keys/broker.pub", "keys/me.key")
        ack = c.publish({"topic": ..., "classification": ..., ...})
        sub = c.subscribe("alert.>", durable="feed")
        d = c.receive(timeout=5.0)
        c.ack(d.sub_id, d.seq)

    The constructor connects (CURVE, then Hello, then Welcome) and raises
    KeyRefused, ConnectError or LiaisonError when there is no session.
    """

    _monitors = 0

    def __init__(self, endpoint, broker_public_key, secret_key, client_name=None,
                 timeout=5.0, context=None):
        self.endpoint = endpoint
        self.timeout = timeout
        self.client_name = client_name or "liaison.py %s" % VERSION
        self._server = read_key(broker_public_key)
        self._secret = read_key(secret_key)
        self._public = zmq.curve_public(self._secret)
        self._ctx = context or zmq.Context.instance()
        self._sock = None
        self._mon = None
        self._corr = 0
        self._events = deque()   # Deliver and unsolicited Error, in arrival order
        self._subs = {}          # sub_id -> Subscription
        self._next_sub = 1
        self._lost = None        # why the link is finished, once it is
        self._forgotten = False  # the broker said NOT_WELCOMED: no session until a Hello
        self.agent = ""
        self.broker_version = ""
        self.heartbeat_ms = 5000
        self.max_frame_bytes = 0
        self.welcome_last_seq = 0
        self._open()

    # ---- the link -----------------------------------------------------------

    def _open(self):
        s = self._ctx.socket(zmq.DEALER)
        s.curve_serverkey = self._server
        s.curve_publickey = self._public
        s.curve_secretkey = self._secret
        s.linger = 1000
        # A new connection is a new session and must begin with Hello, so
        # ZeroMQ must not reconnect behind our back (docs/protocol.md).
        s.setsockopt(zmq.RECONNECT_IVL, -1)
        s.sndtimeo = int(self.timeout * 1000)
        Client._monitors += 1
        self._mon = s.get_monitor_socket(
            _MONITOR_EVENTS, "inproc://liaison-monitor-%d-%d" % (os.getpid(), Client._monitors))
        self._sock = s
        self._lost = None
        self._handshake_ok = False
        self._auth_status = 0
        self._proto_failed = False
        s.connect(self.endpoint)
        self._hello()

    def _hello(self):
        try:
            corr = self._send(hello=pb.Hello(client=self.client_name))
        except SessionLost:
            raise ConnectError("the broker at %s is not reachable (not running?)"
                               % self.endpoint) from None
        deadline = time.monotonic() + self.timeout
        while True:
            self._drain_monitor()
            if self._auth_status:
                raise KeyRefused(self._auth_status,
                                 "the broker at %s refused this key (ZAP status %d): is it "
                                 "configured on the broker, and not revoked?"
                                 % (self.endpoint, self._auth_status))
            if self._proto_failed:
                raise ConnectError("CURVE handshake with %s failed: check the broker's "
                                   "public key" % self.endpoint)
            if self._lost:
                raise ConnectError("the broker at %s is not reachable (%s)"
                                   % (self.endpoint, self._lost))
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectError("no answer from the broker at %s within %.1f s (is it "
                                   "running? is the broker's public key right? is this "
                                   "key configured?)" % (self.endpoint, self.timeout))
            env = self._recv(min(left, 0.1))
            if env is None:
                continue
            if env.corr_id != corr:
                # Whatever answers frames sent before this Hello arrives
                # before its Welcome: a NOT_WELCOMED then is about the
                # session being replaced, not the new one.
                if not (env.WhichOneof("kind") == "error" and env.error.code == pb.NOT_WELCOMED):
                    self._stash(env)
                continue
            kind = env.WhichOneof("kind")
            if kind == "welcome":
                w = env.welcome
                self.agent = w.agent
                self.broker_version = w.broker_version
                self.heartbeat_ms = w.heartbeat_ms or self.heartbeat_ms
                self.max_frame_bytes = w.max_frame_bytes
                self.welcome_last_seq = w.last_seq
                self._forgotten = False
                return
            if kind == "error":
                raise self._error(env)

    def _drain_monitor(self):
        while True:
            try:
                frames = self._mon.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            ev = zmq.utils.monitor.parse_monitor_message(frames)
            e, value = ev["event"], ev["value"]
            if e == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._handshake_ok = True
            elif e == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self._auth_status = value or 400
            elif e in (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL):
                self._proto_failed = True
            elif e in (zmq.EVENT_DISCONNECTED, zmq.EVENT_CLOSED):
                self._lost = "connection closed"

    def _send(self, corr_id=None, **kind):
        """Sends one Envelope with the one kind given; returns its corr_id."""
        self._drain_monitor()
        if self._lost:
            raise SessionLost("the connection to %s is finished (%s)" % (self.endpoint, self._lost))
        if corr_id is None:
            self._corr += 1
            corr_id = self._corr
        env = pb.Envelope(version=PROTOCOL_VERSION, corr_id=corr_id, **kind)
        try:
            self._sock.send(env.SerializeToString())
        except zmq.Again:
            self._lost = "send timed out"
            raise SessionLost("cannot send to %s: no connection" % self.endpoint) from None
        self._last_send = time.monotonic()
        return corr_id

    def _recv(self, timeout):
        """One Envelope within timeout seconds, or None; sends a Heartbeat
        whenever nothing has been sent for heartbeat_ms."""
        hb = self.heartbeat_ms / 1000.0
        deadline = time.monotonic() + max(timeout, 0)
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._mon, zmq.POLLIN)
        while True:
            now = time.monotonic()
            if self._welcomed() and now - self._last_send >= hb:
                self._send(corr_id=0, heartbeat=pb.Heartbeat(time_us=int(time.time() * 1e6)))
            wait = deadline - now
            if self._welcomed():
                wait = min(wait, hb - (time.monotonic() - self._last_send))
            ready = dict(poller.poll(max(0, int(wait * 1000))))
            if self._mon in ready:
                self._drain_monitor()
            if self._sock in ready:
                data = self._sock.recv()
                env = pb.Envelope()
                try:
                    env.ParseFromString(data)
                except Exception:
                    continue  # the broker never sends a bad frame; skip it if it did
                return env
            if self._lost:
                return None
            if time.monotonic() >= deadline:
                return None

    def _welcomed(self):
        # Once the broker has forgotten the session, heartbeats would only
        # draw more NOT_WELCOMED: none until the next Welcome.
        return bool(self.agent) and not self._forgotten

    def _error(self, env):
        e = env.error
        return LiaisonError(e.code, e.message, e.seq, e.msg_id, env.corr_id)

    def _stash(self, env):
        """Keeps what arrived while waiting for something else, for
        receive(), and notes at once what changes the session: the broker
        forgot it (NOT_WELCOMED), or took a durable away (TAKEN_OVER)."""
        kind = env.WhichOneof("kind")
        if kind == "error":
            self._note_error(env)
        if kind in ("deliver", "error", "replay_done"):
            self._events.append(env)
        # Heartbeats (echoes, and the broker's own with corr_id 0) and late
        # replies to abandoned requests are dropped.

    def _note_error(self, env):
        code = env.error.code
        if code == pb.NOT_WELCOMED:
            self._forgotten = True
        elif code == pb.TAKEN_OVER and env.corr_id == 0:
            # The message names the durable ("durable agent/name taken
            # over ..."); the subscription holding it here has ended, and
            # resume() must not take it back.
            for sub in list(self._subs.values()):
                if sub.durable and ("/%s " % sub.durable) in env.error.message:
                    sub.taken_over = True
                    self._subs.pop(sub.sub_id, None)

    def _call(self, timeout=None, **kind):
        """Sends a request and waits for the reply with its corr_id."""
        corr = self._send(**kind)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the broker within %.1f s" % (
                    self.timeout if timeout is None else timeout))
            env = self._recv(left)
            if env is None:
                if self._lost:
                    raise SessionLost("the connection to %s was lost" % self.endpoint)
                continue
            if env.corr_id != corr:
                self._stash(env)
                continue
            if env.WhichOneof("kind") == "error":
                self._note_error(env)
                err = self._error(env)
                if err.code == pb.NOT_WELCOMED:
                    raise SessionLost("the broker no longer knows this session "
                                      "(NOT_WELCOMED): resume()") from err
                raise err
            return env

    # ---- requests -------------------------------------------------------------

    def publish(self, message, timeout=None):
        """Publishes one message (a dict in the JSON mapping, or an Intel) and
        returns PubAck(seq, msg_id, duplicate) once the broker has it on disk.
        Raises LiaisonError (BAD_*, *_NOT_PERMITTED, STORE_FULL, ...)."""
        m = message if isinstance(message, pb.Intel) else intel_from_dict(message)
        env = self._call(timeout, publish=pb.Publish(intel=m))
        a = env.pub_ack
        return PubAck(a.seq, a.msg_id, a.duplicate)

    def _new_sub_id(self, sub_id):
        if sub_id is None:
            while self._next_sub in self._subs:
                self._next_sub += 1
            sub_id = self._next_sub
            self._next_sub += 1
        return sub_id

    def subscribe(self, pattern, durable="", credit=0, sub_id=None, take_over=False):
        """Starts a subscription to pattern ('*' one token, a final '>' the
        rest). durable: a name the broker keeps this subscription's place
        under while away; "" lives with the connection. A durable name
        another live connection holds is refused (DURABLE_IN_USE) unless
        take_over, when that connection is told (TAKEN_OVER). credit:
        deliveries in flight before acks (0 = broker default; over 100000 is
        BAD_REQUEST). Returns a Subscription whose start_seq is the first
        sequence it may deliver."""
        sub = Subscription(self._new_sub_id(sub_id), pattern, durable, credit,
                           take_over=take_over)
        return self._start(sub)

    def replay(self, pattern, from_seq=0, since_us=0, sub_id=None, to_seq=0,
               report_done=False):
        """Streams stored messages matching pattern from a sequence (or, with
        since_us, a time in microseconds since the epoch; not both), then
        carries on live -- or, with to_seq, ends after that sequence. Never
        durable. NOT_FOUND (with .seq) if from_seq is no longer, or was
        never, stored. With report_done, receive() returns a ReplayDone once
        the replay has caught up (see wait_replay_done)."""
        sub = Subscription(self._new_sub_id(sub_id), pattern, from_seq=from_seq,
                           since_us=since_us, replay=True, to_seq=to_seq,
                           report_done=report_done)
        return self._start(sub)

    def _start(self, sub):
        if sub.replay:
            env = self._call(replay=pb.Replay(sub_id=sub.sub_id, pattern=sub.pattern,
                                              from_seq=sub.from_seq, since_us=sub.since_us,
                                              to_seq=sub.to_seq, report_done=sub.report_done))
        else:
            env = self._call(subscribe=pb.Subscribe(sub_id=sub.sub_id, pattern=sub.pattern,
                                                    durable=sub.durable, credit=sub.credit,
                                                    take_over=sub.take_over))
        sub.start_seq = env.sub_ack.start_seq
        self._subs[sub.sub_id] = sub
        return sub

    def unsubscribe(self, sub_id):
        """Ends a subscription. There is no success reply; an unknown id gets
        UNKNOWN_SUBSCRIPTION, raised by a later receive()."""
        self._send(unsubscribe=pb.Unsubscribe(sub_id=sub_id))
        self._subs.pop(sub_id, None)

    def ack(self, sub_id, seqs):
        """Processed: the broker may forget these for this subscription.
        No success reply."""
        seqs = [seqs] if isinstance(seqs, int) else list(seqs)
        self._send(ack=pb.Ack(sub_id=sub_id, seqs=seqs))

    def nack(self, sub_id, seqs, requeue=True):
        """Not processed: send again at once (requeue, counting towards the
        broker's max_deliver), or give up on it (a dead letter). No reply."""
        seqs = [seqs] if isinstance(seqs, int) else list(seqs)
        self._send(nack=pb.Nack(sub_id=sub_id, seqs=seqs, requeue=requeue))

    def credit(self, sub_id, credit):
        """Sets the subscription's window: deliveries in flight before acks,
        1 to 100000 (anything else draws BAD_REQUEST, raised by a later
        receive(), and leaves the window as it was). No success reply."""
        self._send(credit=pb.Credit(sub_id=sub_id, credit=credit))
        if sub_id in self._subs:
            self._subs[sub_id].credit = credit

    def status(self, what="status"):
        """An operator view ("status", "agents", "subs", "topics") as parsed
        JSON. Needs the operator role (else ROLE_MISSING)."""
        env = self._call(status_request=pb.StatusRequest(what=what))
        return json.loads(env.status_reply.json)

    def dead_letters(self, action="list", seq=0, durable=""):
        """Operators: "list" the dead letters, or "requeue"/"discard" one
        (seq and durable "agent/name" as listed). Parsed JSON."""
        env = self._call(dead_letter_request=pb.DeadLetterRequest(
            action=action, seq=seq, durable=durable))
        return json.loads(env.status_reply.json)

    def heartbeat(self, timeout=None):
        """Sends a Heartbeat and waits for the broker's echo; returns the
        broker's time in microseconds. (receive() heartbeats by itself.)"""
        env = self._call(timeout, heartbeat=pb.Heartbeat(time_us=int(time.time() * 1e6)))
        return env.heartbeat.time_us

    def keepalive(self):
        """Without blocking: sends a Heartbeat if one is due and keeps what
        has arrived for receive(). For a client that is idle (a publisher
        between messages): the broker forgets a session that sends nothing
        for three heartbeat intervals."""
        while True:
            env = self._recv(0)
            if env is None:
                if self._lost:
                    raise SessionLost("the connection to %s was lost" % self.endpoint)
                return
            self._stash(env)

    # ---- receiving --------------------------------------------------------------

    def receive(self, timeout=None):
        """The next Delivery within timeout seconds (None: wait for ever), or
        None; or, for a replay asked with report_done, a ReplayDone(sub_id,
        last_seq) where it comes in the stream (every delivery up to
        last_seq came before it). Raises LiaisonError for an Error that
        answers no waiting call (an ack for an unknown sub_id, say, or
        TAKEN_OVER: another connection took a durable of this one, which
        has then left subscriptions()) and SessionLost when the broker
        forgot the session (NOT_WELCOMED, also sent unasked when it reaps
        a silent session) or the connection closed. The broker's own
        heartbeats are dropped here."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._events:
                env = self._events.popleft()
            else:
                left = 3600.0 if deadline is None else deadline - time.monotonic()
                if left <= 0 and deadline is not None:
                    return None
                env = self._recv(left)
                if env is None:
                    if self._lost:
                        raise SessionLost("the connection to %s was lost" % self.endpoint)
                    if deadline is not None and time.monotonic() >= deadline:
                        return None
                    continue
            kind = env.WhichOneof("kind")
            if kind == "deliver":
                d = Delivery(env.deliver)
                sub = self._subs.get(d.sub_id)
                if sub is not None and d.seq > sub.last_seq:
                    sub.last_seq = d.seq
                return d
            if kind == "replay_done":
                r = env.replay_done
                sub = self._subs.get(r.sub_id)
                if sub is not None:
                    sub.done_seq = r.last_seq
                    sub.ended = bool(sub.to_seq) and r.last_seq >= sub.to_seq
                return ReplayDone(r.sub_id, r.last_seq)
            if kind == "error":
                self._note_error(env)
                err = self._error(env)
                if err.code == pb.NOT_WELCOMED:
                    raise SessionLost("the broker no longer knows this session "
                                      "(NOT_WELCOMED): resume()") from err
                raise err
            # Heartbeats (echoes and the broker's own) and stray replies:
            # nothing to hand back.

    def wait_replay_done(self, sub_id, timeout=None, on_delivery=None):
        """For a replay asked with report_done: receives until its
        ReplayDone and returns its last_seq, or None if timeout seconds
        pass first. Each Delivery in between is given to on_delivery (on
        any subscription), or, without one, acked at once -- the broker
        decides it has caught up only while the replay has credit, so a
        caller that holds its acks must give on_delivery that acks."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            got = self.receive(left)
            if got is None:
                return None
            if isinstance(got, ReplayDone):
                if got.sub_id == sub_id:
                    return got.last_seq
                continue
            if on_delivery is not None:
                on_delivery(got)
            else:
                self.ack(got.sub_id, got.seq)

    # ---- after a lost session -------------------------------------------------------

    def resume(self):
        """After SessionLost: a new connection (or, if the connection is
        still up, a new Hello on it) and every subscription asked for again.
        A durable one resumes from its cursor, taking its name over from
        this client's old connection if the broker has not reaped that yet
        (but not one another connection took over: that one is gone from
        subscriptions()); a replay carries on after the last sequence it
        delivered, and one that reached its to_seq is not asked again; a
        plain one starts at the tail (what was published meanwhile is not
        sent to it)."""
        self._events.clear()
        self.agent = ""
        if self._lost:
            self._close_socket()
            self._open()
        else:
            self._hello()
        subs = sorted(self._subs.values(), key=lambda s: s.sub_id)
        self._subs = {}
        for sub in subs:
            if sub.replay:
                if sub.ended or (sub.to_seq and sub.last_seq >= sub.to_seq):
                    continue
                if sub.last_seq:
                    sub.from_seq, sub.since_us = sub.last_seq + 1, 0
                sub.report_done = sub.report_done and sub.done_seq is None
            elif sub.durable:
                sub.take_over = True  # the holder, if any, is our old connection
            self._start(sub)

    def subscriptions(self):
        return dict(self._subs)

    def _close_socket(self):
        if self._sock is not None:
            try:
                self._sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self._mon.close(0)
            self._sock.close()
            self._sock = None

    def close(self):
        """Says Bye and closes: the broker drops the session at once, its
        subscriptions end and a durable keeps its place, its name free for
        the next connection. With durables live it first unsubscribes them
        and waits (at most 2 s) for a Heartbeat's echo, so the broker has
        certainly let them go before another connection asks for them."""
        if self._sock is not None and not self._lost:
            try:
                if any(sub.durable for sub in self._subs.values()) and self._welcomed():
                    for sub_id in list(self._subs):
                        self.unsubscribe(sub_id)
                    self.heartbeat(2.0)
                self._send(corr_id=0, bye=pb.Bye())  # no reply; the linger sends it
            except Exception:
                pass  # closing anyway: the broker reaps the session
        self._subs = {}
        self._close_socket()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
