# 08: a repeated (origin, msg_id) — an agent re-sending after a lost PubAck —
# gets the original's sequence and is stored once; the same msg_id from
# another agent is a different message.
. "$(dirname "$0")/lib.sh"
keygen broker police prison ops
broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent prison '"alert.>"' '' SECRET '' '"publisher"' prison),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national)
EOF2
agent_cfg police; agent_cfg prison; agent_cfg ops
start_broker
msg alert.y.one OFFICIAL ',"msg_id":"m-1"' >"$T/m.json"
ctl police pub "$T/m.json" >"$T/1.out" || fail "first publish"
ctl police pub "$T/m.json" >"$T/2.out" || fail "repeat publish"
assert_eq "$(cat "$T/1.out")" "seq 1"
assert_eq "$(cat "$T/2.out")" "seq 1 (duplicate)" "repeat gets the original sequence"
# Inside one batch too.
{ msg alert.y.two OFFICIAL ',"msg_id":"m-2"'; msg alert.y.two OFFICIAL ',"msg_id":"m-2"'; } | ctl police pub - >"$T/3.out" || fail "pair"
assert_eq "$(tr '\n' ' ' <"$T/3.out")" "seq 2 seq 2 (duplicate) " "duplicate within one pass"
ctl prison pub "$T/m.json" >"$T/4.out" || fail "other origin"
assert_eq "$(cat "$T/4.out")" "seq 3" "same msg_id from another agent"
ctl ops status --json >"$T/s.json" || fail status
assert_contains "$T/s.json" '"messages":3'
stop_broker
# And across a restart.
start_broker
ctl police pub "$T/m.json" >"$T/5.out" || fail "after restart"
assert_eq "$(cat "$T/5.out")" "seq 1 (duplicate)" "dedup survives restart"
stop_broker
echo "08 ok"
