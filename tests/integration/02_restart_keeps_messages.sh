# 02: what the broker acked survives a restart: the store still holds it by
# sequence and new publishes continue the sequence.
. "$(dirname "$0")/lib.sh"
keygen broker police ops
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"'),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national)
EOF2
agent_cfg police; agent_cfg ops
start_broker
{ msg alert.a.b OFFICIAL; msg alert.a.c SECRET; msg alert.a.d OFFICIAL; } >"$T/three.json"
ctl police pub "$T/three.json" >"$T/pub1.out" || fail "publish refused"
assert_eq "$(tr '\n' ' ' <"$T/pub1.out")" "seq 1 seq 2 seq 3 " "first sequences"
stop_broker

start_broker
assert_contains "$T/broker.log" 'last_seq=3'
ctl ops status --json >"$T/status.json" || fail "status refused"
assert_contains "$T/status.json" '"last_seq":3'
assert_contains "$T/status.json" '"messages":3'
msg alert.a.e OFFICIAL | ctl police pub - >"$T/pub2.out" || fail "publish after restart refused"
assert_eq "$(cat "$T/pub2.out")" "seq 4" "sequence after restart"
stop_broker
echo "02 ok"
