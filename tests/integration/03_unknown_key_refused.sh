# 03: a key that belongs to no configured agent is refused at the CURVE
# handshake by the ZAP handler; the client says so, the broker logs it, and
# configured agents are unaffected.
. "$(dirname "$0")/lib.sh"
keygen broker police stranger
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"')
EOF2
agent_cfg police; agent_cfg stranger
start_broker
if msg alert.x.y OFFICIAL | ctl stranger pub - >"$T/s.out" 2>"$T/s.err"; then
    fail "unknown key was accepted"
fi
assert_contains "$T/s.err" "refused this key"
assert_eq "$(cat "$T/s.out")" "" "output for a refused key"
assert_contains "$T/broker.log" 'event=auth_refused reason="unknown key"'
msg alert.x.y OFFICIAL | ctl police pub - >"$T/p.out" || fail "configured agent refused"
assert_eq "$(cat "$T/p.out")" "seq 1"
stop_broker
echo "03 ok"
