# 09: replay by sequence and by time streams stored messages, re-checked by
# the delivery rule as configured now: after the subscriber's clearance is
# lowered by SIGHUP, replay withholds what it may no longer see.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu
cat >"$T/agents.in" <<EOF2
$(agent police '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu)
EOF2
broker_cfg <"$T/agents.in"
agent_cfg police; agent_cfg rocu
start_broker
seqs() { sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$1" | tr '\n' ' '; }
{ msg alert.y.a OFFICIAL; msg alert.y.b SECRET; msg alert.y.c OFFICIAL; } | ctl police pub - >/dev/null || fail publish
sleep 0.01 # separates the two batches' receive times by more than a microsecond
mark=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
sleep 0.01
{ msg alert.y.d SECRET; msg alert.y.e OFFICIAL; } | ctl police pub - >/dev/null || fail publish

ctl rocu sub 'alert.>' --from-seq 2 --count 4 --timeout 20 >"$T/a.out" 2>/dev/null || fail "replay from seq"
assert_eq "$(seqs "$T/a.out")" "2 3 4 5 " "replay from seq 2"
ctl rocu sub 'alert.>' --since "$mark" --count 2 --timeout 20 >"$T/b.out" 2>/dev/null || fail "replay since"
assert_eq "$(seqs "$T/b.out")" "4 5 " "replay since the mark"
ctl rocu sub 'alert.y.c' --from-seq 1 --count 1 --timeout 20 >"$T/c.out" 2>/dev/null || fail "replay pattern"
assert_eq "$(seqs "$T/c.out")" "3 " "replay with a narrower pattern"

# Lower rocu to OFFICIAL and reload: replay no longer shows the SECRET ones.
sed 's/clearance = "SECRET"; caveats = \[  \]; roles = \[ "receiver" \]/clearance = "OFFICIAL"; caveats = [  ]; roles = [ "receiver" ]/' "$T/agents.in" >"$T/agents2.in"
grep -q '"OFFICIAL"; caveats = \[  \]; roles = \[ "receiver" \]' "$T/agents2.in" || fail "test setup: clearance edit"
port=$PORT
broker_cfg <"$T/agents2.in"
sed -i "s/127.0.0.1:$PORT/127.0.0.1:$port/" "$T/broker.cfg"; PORT=$port
kill -HUP "$BROKER_PID"
wait_for "$T/broker.log" "event=reloaded"
ctl rocu sub 'alert.>' --from-seq 1 --count 3 --timeout 20 >"$T/d.out" 2>/dev/null || fail "replay after reload"
assert_eq "$(seqs "$T/d.out")" "1 3 5 " "replay after lowering clearance"
stop_broker
echo "09 ok"
