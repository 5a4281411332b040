# 40: the Python client (clients/python/liaison, written from
# docs/protocol.md) against the real broker, beside liaisonctl: what Python
# publishes liaisonctl receives, and what liaisonctl publishes Python
# receives, every label field, the stamps and the body equal; a durable
# subscription resumes where its acks left off; a replay reaches
# Welcome.last_seq; a publish outside the agent's permissions gets
# TOPIC_NOT_PERMITTED; a repeated msg_id gets the original's seq, flagged
# duplicate; an unknown key is refused as such.
. "$(dirname "$0")/lib.sh"

# Debian's python3 with python3-zmq and python3-protobuf; the first python3
# on PATH may be another one.
PY=""
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import zmq, google.protobuf' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || fail "no python3 with zmq and google.protobuf (tests/deps.sh installs them)"
make -C "$ROOT" --no-print-directory -s python >/dev/null || fail "make python"
pyc() { "$PY" "$ROOT/tests/integration/pyclient.py" "$@"; }
seqs() { sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$1" | tr '\n' ' '; }

keygen broker police rocu stranger
broker_cfg <<EOF2
$(agent police '"alert.yorkshire.>"' '"alert.>"' SECRET '"TRIDENT"'),
$(agent rocu '' '"alert.>"' SECRET '"TRIDENT"' '"receiver"' rocu yorkshire)
EOF2
agent_cfg police; agent_cfg rocu
start_broker
export LIAISON_ENDPOINT="tcp://127.0.0.1:$PORT" LIAISON_KEYS="$T/keys"

# A label with every field set (handling C, so conditions and the rest are
# allowed), and a body that is not ASCII.
full() { # msg_id body
    printf '{"topic":"alert.yorkshire.hull.contraband","msg_id":"%s","classification":"OFFICIAL-SENSITIVE",' "$1"
    printf '"caveats":["TRIDENT"],"grading":"2B","handling":"C","conditions":"not for court without consent",'
    printf '"no_onward_sharing":true,"sanitisation":"S2","release_to":["type:rocu","region:yorkshire"],'
    printf '"risk":"HIGH","risk_basis":"threat to life","risk_ref":"RA-2024-17","subjects":["A1234BC","B5678DE"],'
    printf '"review_at":"2031-01-31","content_type":"text/plain","body":"%s"}\n' "$2"
}

# 1. Python publishes; liaisonctl receives. liaisonctl's JSON has every
# field published, equal, and the broker's stamps.
sub_bg rocu 'alert.>' --count 1 --timeout 20
full py-1 'Drone drop expected — wing B, £500' >"$T/a.json"
pyc police publish "$T/a.json" >"$T/a.ack" || fail "python publish"
assert_eq "$(cat "$T/a.ack")" '{"seq":1,"msg_id":"py-1","duplicate":false}' "PubAck to python"
sub_wait rocu || fail "liaisonctl sub did not receive python's publish"
cp "$T/rocu.out" "$T/a.ctl"
pyc - compare "$T/a.json" "$T/a.ctl" --subset || fail "liaisonctl received other fields than python published"
assert_contains "$T/a.ctl" '"seq":1,'
assert_contains "$T/a.ctl" '"origin":{"agent":"police","agency":"police agency","type":"police","region":"yorkshire"}'
assert_contains "$T/a.ctl" '"received_at":"'
# The same message through the Python client: identical, stamps included.
pyc rocu replay 'alert.>' 1 >"$T/a.py" 2>"$T/a.py.err" || fail "python replay: $(cat "$T/a.py.err")"
pyc - compare "$T/a.ctl" "$T/a.py" || fail "python and liaisonctl see message 1 differently"

# 2. liaisonctl publishes; Python receives.
"$PY" "$ROOT/tests/integration/pyclient.py" rocu receive 'alert.>' 1 >"$T/b.py" 2>"$T/b.py.err" &
PY_SUB=$!
PIDS="$PIDS $PY_SUB"
wait_for "$T/b.py.err" "subscribed"
full ctl-1 'second report' >"$T/b.json"
ctl police pub "$T/b.json" >"$T/b.ack" || fail "liaisonctl publish"
assert_eq "$(cat "$T/b.ack")" "seq 2"
wait "$PY_SUB" || fail "python did not receive liaisonctl's publish: $(cat "$T/b.py.err")"
pyc - compare "$T/b.json" "$T/b.py" --subset || fail "python received other fields than liaisonctl published"
ctl rocu sub 'alert.>' --from-seq 2 --count 1 --timeout 20 >"$T/b.ctl" 2>/dev/null || fail "liaisonctl replay"
pyc - compare "$T/b.ctl" "$T/b.py" || fail "python and liaisonctl see message 2 differently"
assert_contains "$T/b.py" '"seq":2,'
assert_contains "$T/b.py" '"origin":{"agent":"police","agency":"police agency","type":"police","region":"yorkshire"}'

# 3. Durable: created at the tail, takes one and leaves, resumes after it.
pyc rocu receive 'alert.>' 0 --durable pyfeed >/dev/null 2>"$T/c0.err" || fail "durable: $(cat "$T/c0.err")"
assert_contains "$T/c0.err" "subscribed from seq 3"
for i in 1 2 3; do msg alert.yorkshire.d$i OFFICIAL; done >"$T/c.json"
ctl police pub "$T/c.json" >/dev/null || fail "publish for the durable"
pyc rocu receive 'alert.>' 1 --durable pyfeed >"$T/c1.py" 2>"$T/c1.err" || fail "durable first take: $(cat "$T/c1.err")"
assert_eq "$(seqs "$T/c1.py")" "3 " "durable first take"
pyc rocu receive 'alert.>' 2 --durable pyfeed >"$T/c2.py" 2>"$T/c2.err" || fail "durable resume: $(cat "$T/c2.err")"
assert_contains "$T/c2.err" "subscribed from seq 4"
assert_eq "$(seqs "$T/c2.py")" "4 5 " "durable resume"

# 4. Replay from the start ends at Welcome.last_seq, every message once.
pyc rocu replay 'alert.>' 1 >"$T/d.py" 2>"$T/d.err" || fail "replay: $(cat "$T/d.err")"
assert_eq "$(seqs "$T/d.py")" "1 2 3 4 5 " "replay from 1"

# 5. Outside its publish permissions: refused with the code that says so.
msg alert.lancashire.x OFFICIAL ',"msg_id":"py-out"' >"$T/e.json"
pyc police publish-refused "$T/e.json" >"$T/e.out" || fail "publish outside permissions accepted"
assert_eq "$(cat "$T/e.out")" '{"code":"TOPIC_NOT_PERMITTED","msg_id":"py-out"}' "refusal"

# 6. Dedup: the same msg_id twice gets the same seq, the second flagged.
msg alert.yorkshire.dup OFFICIAL ',"msg_id":"py-dup"' >"$T/f.json"
cat "$T/f.json" "$T/f.json" >"$T/f2.json"
pyc police publish "$T/f2.json" >"$T/f.out" || fail "dedup publish"
assert_eq "$(tr '\n' ' ' <"$T/f.out")" '{"seq":6,"msg_id":"py-dup","duplicate":false} {"seq":6,"msg_id":"py-dup","duplicate":true} ' "dedup"

# 7. A key the broker does not know: refused in the handshake (ZAP 400).
if pyc stranger connect >"$T/g.out"; then fail "unknown key admitted"; fi
assert_eq "$(cat "$T/g.out")" '{"refused":"key","status":400}' "refused key"
pyc police connect >"$T/h.out" || fail "police connect"
assert_contains "$T/h.out" '"welcomed":"police"'

stop_broker
echo "40 ok"
