# 01: an authenticated agent publishes a labelled message; the broker makes
# it durable, PubAcks it with its sequence, delivers it to a subscriber with
# the broker-stamped origin, and the subscriber acks it.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu
broker_cfg <<EOF2
$(agent police '"alert.yorkshire.>"' '"alert.>"'),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu yorkshire)
EOF2
agent_cfg police; agent_cfg rocu
start_broker

sub_bg rocu 'alert.yorkshire.>' --count 1 --timeout 20
# The client claims another origin; the broker must overwrite it (publish
# JSON cannot carry origin at all, so the mapping refuses it outright).
msg alert.yorkshire.hull.contraband OFFICIAL ',"origin":{"agent":"someone-else"}' >"$T/forged.json"
if ctl police pub "$T/forged.json" 2>"$T/forged.err"; then fail "forged origin accepted"; fi
assert_contains "$T/forged.err" origin

msg alert.yorkshire.hull.contraband OFFICIAL-SENSITIVE ',"msg_id":"hull-1","caveats":[],"subjects":["A1234BC"]' "Drone drop expected" >"$T/m.json"
ctl police pub "$T/m.json" >"$T/pub.out" || fail "publish refused"
assert_eq "$(cat "$T/pub.out")" "seq 1" "PubAck sequence"

sub_wait rocu || fail "subscriber did not receive"
out="$T/rocu.out"
assert_eq "$(wc -l <"$out" | tr -d ' ')" 1 "deliveries"
assert_contains "$out" '"seq":1'
assert_contains "$out" '"msg_id":"hull-1"'
assert_contains "$out" '"classification":"OFFICIAL-SENSITIVE"'
assert_contains "$out" '"origin":{"agent":"police","agency":"police agency","type":"police","region":"yorkshire"}'
assert_contains "$out" '"body":"Drone drop expected"'
assert_contains "$out" '"received_at":"'
stop_broker
assert_contains "$T/broker.log" 'event=subscribed agent=rocu'
echo "01 ok"
