# 41: docs/protocol.md, checked rule by rule against the real broker through
# the Python client (tests/integration/conformance.py holds the checks); each
# line of output names the section it proves. The broker's own heartbeats and
# its NOT_WELCOMED to a reaped session, then a resume by Hello; BAD_FRAME for
# a multipart message; SUB_ID_IN_USE; credit out of range; DURABLE_IN_USE,
# take_over and TAKEN_OVER; Bye freeing a durable name at once; ReplayDone with
# and without to_seq; NOT_FOUND with Error.seq and BAD_REQUEST for a replay
# from both a sequence and a time; a notice's missing msg_id and its risk_ref;
# an empty msg_id given one and not deduplicated; Nack without requeue as a
# dead letter operators see as "rejected by the receiver".
. "$(dirname "$0")/lib.sh"

PY=""
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import zmq, google.protobuf' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || fail "no python3 with zmq and google.protobuf (tests/deps.sh installs them)"
make -C "$ROOT" --no-print-directory -s python >/dev/null || fail "make python"

keygen broker police rocu ops
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"' SECRET '"TRIDENT"'),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu yorkshire),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national)
EOF2
sed -i 's|metrics = "";|metrics = ""; notices = [ "alert.>" ];|' "$T/broker.cfg"
agent_cfg ops
start_broker
export LIAISON_ENDPOINT="tcp://127.0.0.1:$PORT" LIAISON_KEYS="$T/keys"

check() { # STEP [ARG]: runs one step, its "§N ...: ok" lines to stdout
    "$PY" "$ROOT/tests/integration/conformance.py" "$@" >"$T/step.out" 2>"$T/step.err" ||
        fail "$1: $(cat "$T/step.err")"
    grep '^§' "$T/step.out" || true
}

check multipart
check heartbeat-reap
check sub-id
check credit
check takeover

# §4 Bye: the first connection says Bye and nothing else; the broker has read
# it once it logs it, and from then the durable's name is free.
check bye-send
seq=$(sed -n 's/^bye-sent \([0-9]*\)$/\1/p' "$T/step.out")
[ -n "$seq" ] || fail "bye-send printed no sequence"
wait_for "$T/broker.log" "event=bye agent=rocu"
check bye-check "$seq"

check replay-done
check replay-refusals
check notice
check empty-msg-id
check gap

# §8.2, §8.4: a Nack without requeue is a dead letter on the broker's next
# pass, listed for operators with its reason.
check nack-reject
seq=$(sed -n 's/^nacked \([0-9]*\)$/\1/p' "$T/step.out")
[ -n "$seq" ] || fail "nack-reject printed no sequence"
wait_for "$T/broker.log" "event=dead_letter agent=rocu sub=[0-9]* seq=$seq reason=\"rejected by the receiver\""
wait_deadletter ops "$seq"
ctl ops deadletters >"$T/dl.out" || fail "deadletters"
assert_eq "$(grep "^ *$seq " "$T/dl.out" | tr -s ' ' | sed 's/^ //')" "$seq rocu/conf-nack rejected by the receiver" \
    "deadletters row of the rejected message"
echo "§8.2 nack without requeue: a dead letter, listed as \"rejected by the receiver\": ok"

stop_broker
echo "41 ok"
