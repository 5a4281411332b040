# 24: a MARSOC case system is fed by an exec: hook that fails while the
# case system is down (non-zero exit). Each failure is a Nack and a retry
# later; once the hook succeeds, every message is imported once, in
# sequence order, with the JSON on stdin and the sequence in LIAISON_SEQ.
# A hook that hangs is not waited for by the heartbeat: the agent stays
# connected while the command runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker police marsoc
broker_cfg <<EOF2
$(agent police '"alert.yorkshire.>"' '' SECRET '' '"publisher"' police yorkshire),
$(agent marsoc '' '"alert.>"' TOP-SECRET '"PRISON-INTEL", "OP-NIGHTJAR", "UK-EYES-ONLY"' '"receiver"' marsoc national)
EOF2
agent_cfg police
cat >"$T/import.sh" <<EOF
#!/bin/sh
# A case-system import: refuses while \$T/down exists, is slow while \$T/slow does.
if [ -e "$T/down" ]; then echo "case system unavailable" >&2; exit 75; fi
while [ -e "$T/slow" ]; do echo "\$LIAISON_SEQ" >"$T/waiting"; sleep 0.1; done
json=\$(cat)
printf '%s %s\n' "\$LIAISON_SEQ" "\$json" >>"$T/imported"
EOF
sub_entry cases 'alert.>' "exec:sh $T/import.sh" | agent_full_cfg marsoc
start_broker
start_agent marsoc
wait_for "$T/marsoc.agent.log" "event=subscribed sub=cases"
pub() { msg alert.yorkshire.hull.n$1 SECRET ",\"msg_id\":\"hp-$1\"" "note $1" | ctl police pub - >/dev/null || fail "publish $1"; }

touch "$T/down"
pub 1
pub 2
wait_for "$T/marsoc.agent.log" 'event=sink_failed sub=cases seq=1 reason="exec: command exited with status 75" action=nack'
[ ! -e "$T/imported" ] || fail "imported while the case system was down"
rm "$T/down"
wait_count "$T/imported" '' 2
assert_eq "$(cut -d' ' -f1 "$T/imported" | tr '\n' ' ')" "1 2 " "imported once each, in order"
assert_contains "$T/imported" '^1 {"seq":1,"topic":"alert.yorkshire.hull.n1","msg_id":"hp-1"'
assert_contains "$T/imported" '"body":"note 2"}$'

# A slow import (longer than three heartbeats) does not cost the connection.
touch "$T/slow"
pub 3
wait_for "$T/waiting" 3
sleep 4 # the broker would reap a session silent for 3 s; this is not a timing assertion
rm "$T/slow"
wait_count "$T/imported" '' 3
assert_not_contains "$T/marsoc.agent.log" 'event=disconnected'
assert_eq "$(cut -d' ' -f1 "$T/imported" | tr '\n' ' ')" "1 2 3 " "after the slow one"
stop_agent marsoc
stop_broker
echo "24 ok"
