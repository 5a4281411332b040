"""example.py — publish one message and print what a subscription receives.

    make python
    python3 clients/python/example.py tcp://127.0.0.1:7100 keys/broker.pub keys/police.key

The agent behind keys/police.key needs the publisher and receiver roles and
permission for alert.yorkshire.> on the broker (config/broker.cfg).
"""

import sys
import time
import uuid

import liaison


def main(endpoint, broker_pub, secret_key):
    with liaison.Client(endpoint, broker_pub, secret_key, client_name="example.py") as c:
        print("welcomed as %s; the store holds up to seq %d" % (c.agent, c.welcome_last_seq))
        sub = c.subscribe("alert.yorkshire.>", durable="example")
        print("subscribed from seq %d" % sub.start_seq)

        message = {
            "topic": "alert.yorkshire.hull.contraband",
            "msg_id": "example-%s" % uuid.uuid4(),  # the same id on a retry: never stored twice
            "classification": "OFFICIAL-SENSITIVE",
            "grading": "2B",
            "handling": "P",
            "risk": "LOW",
            "content_type": "text/plain",
            "body": "Drone drop expected at wing B tonight",
        }
        try:
            ack = c.publish(message)
        except liaison.LiaisonError as e:
            print("refused: %s (%s)" % (e.name, e.message))
            return 1
        print("stored as seq %d%s" % (ack.seq, " (duplicate)" if ack.duplicate else ""))

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            d = c.receive(timeout=1.0)  # also sends the heartbeats
            if d is None:
                continue
            print("seq %d attempt %d%s: %s" % (d.seq, d.attempt, " notice" if d.notice else "",
                                               d.as_dict()))
            c.ack(d.sub_id, d.seq)  # only once it is safely handled
            if d.seq == ack.seq:
                return 0
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
