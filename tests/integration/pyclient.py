"""pyclient.py — the steps of scenario 40, run with the Python client
(clients/python/liaison) against a real broker. Each step is one process,
like one liaisonctl command: it connects, does one thing, prints JSON lines
on stdout, and exits 0, or 1 with the reason on stderr.

    pyclient.py AGENT publish FILE           one {"seq","msg_id","duplicate"} per message in FILE
    pyclient.py AGENT publish-refused FILE   the refusal's ErrorCode name (exit 1 if accepted)
    pyclient.py AGENT receive PATTERN N [--durable NAME]
                                             N deliveries as JSON, each acked once printed
                                             (N = 0: subscribe and leave)
    pyclient.py AGENT replay PATTERN FROM    every delivery until Welcome.last_seq is reached
    pyclient.py AGENT connect                "welcomed AGENT", or the refusal's kind
    pyclient.py - compare EXPECTED GOT [--subset]
                                             GOT has every field of EXPECTED, equal (--subset),
                                             or exactly EXPECTED's fields

AGENT names $T/AGENT.key; LIAISON_ENDPOINT and LIAISON_KEYS come from the
scenario. Stderr gets "subscribed from seq N" once a subscription is up, for
the scenario to wait on.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))
import liaison  # noqa: E402

WAIT = 20.0  # a safety net against a hang, not a measure


def client(agent):
    keys = os.environ["LIAISON_KEYS"]
    return liaison.Client(os.environ["LIAISON_ENDPOINT"], os.path.join(keys, "broker.pub"),
                          os.path.join(keys, agent + ".key"), client_name="scenario 40")


def messages(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def out(obj):
    print(json.dumps(obj, ensure_ascii=False, separators=(",", ":")), flush=True)


def publish(agent, path):
    c = client(agent)
    for m in messages(path):
        a = c.publish(m)
        out({"seq": a.seq, "msg_id": a.msg_id, "duplicate": a.duplicate})
    c.close()
    return 0


def publish_refused(agent, path):
    c = client(agent)
    for m in messages(path):
        try:
            a = c.publish(m)
        except liaison.LiaisonError as e:
            out({"code": e.name, "msg_id": e.msg_id})
            continue
        print("accepted as seq %d" % a.seq, file=sys.stderr)
        return 1
    c.close()
    return 0


def stream(c, sub, stop):
    """Prints deliveries on sub, acking each once printed, until stop(d)."""
    print("subscribed from seq %d" % sub.start_seq, file=sys.stderr, flush=True)
    while True:
        d = c.receive(WAIT)
        if d is None:
            print("nothing within %.0f s" % WAIT, file=sys.stderr)
            return 1
        if d.sub_id != sub.sub_id:
            continue
        out(d.as_dict())
        c.ack(d.sub_id, d.seq)
        if stop(d):
            break
    c.heartbeat()  # its answer means the acks before it were read
    c.close()
    return 0


def receive(agent, pattern, count, durable=""):
    c = client(agent)
    sub = c.subscribe(pattern, durable=durable)
    if count == 0:  # only create it (a durable starts at the tail)
        print("subscribed from seq %d" % sub.start_seq, file=sys.stderr, flush=True)
        c.close()
        return 0
    seen = []
    return stream(c, sub, lambda d: seen.append(d.seq) or len(seen) >= count)


def replay(agent, pattern, from_seq):
    c = client(agent)
    sub = c.replay(pattern, from_seq=from_seq)
    # docs/protocol.md, "Replay": caught up once a sequence at or above
    # Welcome.last_seq has arrived (here every message is allowed).
    return stream(c, sub, lambda d: d.seq >= c.welcome_last_seq)


def connect(agent):
    try:
        c = client(agent)
    except liaison.KeyRefused as e:
        out({"refused": "key", "status": e.status})
        return 1
    except liaison.ConnectError as e:
        out({"refused": "connect", "reason": str(e)})
        return 1
    out({"welcomed": c.agent, "heartbeat_ms": c.heartbeat_ms})
    c.close()
    return 0


def compare(expected_path, got_path, subset):
    want, got = messages(expected_path), messages(got_path)
    if len(want) != len(got):
        print("%d messages expected, %d got" % (len(want), len(got)), file=sys.stderr)
        return 1
    bad = 0
    for w, g in zip(want, got):
        keys = set(w) if subset else set(w) | set(g)
        for k in sorted(keys):
            if w.get(k) != g.get(k):
                print("field %s: expected %r, got %r" % (k, w.get(k), g.get(k)), file=sys.stderr)
                bad += 1
    return 1 if bad else 0


def main(argv):
    agent, step, args = argv[1], argv[2], argv[3:]
    try:
        if step == "publish":
            return publish(agent, args[0])
        if step == "publish-refused":
            return publish_refused(agent, args[0])
        if step == "receive":
            durable = args[3] if len(args) > 3 and args[2] == "--durable" else ""
            return receive(agent, args[0], int(args[1]), durable)
        if step == "replay":
            return replay(agent, args[0], int(args[1]))
        if step == "connect":
            return connect(agent)
        if step == "compare":
            return compare(args[0], args[1], "--subset" in args)
    except (liaison.LiaisonError, liaison.ConnectError, TimeoutError) as e:
        print("pyclient: %s" % e, file=sys.stderr)
        return 1
    print("pyclient: unknown step %s" % step, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
