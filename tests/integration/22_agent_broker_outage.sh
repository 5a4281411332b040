# 22: the broker dies (SIGKILL) while the prison's system keeps dropping
# files. The prison agent keeps taking them into its outbox, notices the
# broker is gone and says so, reconnects when the broker is back (with
# backoff), and publishes everything; the ROCU agent's durable subscription
# resumes. Every message is stored once and delivered into the ROCU's
# inbox once: no sequence or msg_id missing or repeated.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker prison rocu
broker_cfg <<EOF2
$(agent prison '"alert.yorkshire.hmp-hull.>"' '' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"publisher"' prison yorkshire),
$(agent rocu '' '"alert.yorkshire.>"' SECRET '"PRISON-INTEL"' '"receiver"' rocu yorkshire)
EOF2
agent_cfg rocu
agent_full_cfg prison spool/prison </dev/null
sub_entry regional 'alert.yorkshire.>' dir:inbox/rocu | agent_full_cfg rocu
S="$T/spool/prison"
note() { msg alert.yorkshire.hmp-hull.n$1 OFFICIAL ",\"msg_id\":\"hull-$1\"" "note $1" | drop "$S" "n$1.json"; }

start_broker
start_agent rocu
start_agent prison
wait_for "$T/rocu.agent.log" "event=subscribed sub=regional"
for i in 1 2 3; do note $i; done
wait_files "$T/inbox/rocu" 3

kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=""
for i in 4 5 6 7 8 9 10; do note $i; done
wait_files "$S/done" 10
wait_for "$T/prison.agent.log" "event=disconnected reason="
wait_for "$T/rocu.agent.log" "event=disconnected reason="

start_broker
wait_count "$T/prison.agent.log" 'event=published' 10 30
wait_files "$T/inbox/rocu" 10 30
for i in 11 12; do note $i; done
wait_files "$T/inbox/rocu" 12

# Every sequence once, every msg_id once.
ls "$T/inbox/rocu" >"$T/names"
assert_eq "$(tr '\n' ' ' <"$T/names")" "$(for i in $(seq 1 12); do printf '%012d.json ' "$i"; done)" "inbox files"
cat "$T"/inbox/rocu/*.json | sed -n 's/.*"msg_id":"\([^"]*\)".*/\1/p' | sort >"$T/ids"
assert_eq "$(sort -u "$T/ids" | wc -l | tr -d ' ')" 12 "distinct msg_ids"
assert_eq "$(wc -l <"$T/ids" | tr -d ' ')" 12 "messages delivered"
# Stored once each: a replay of the whole store has exactly twelve.
ctl rocu sub 'alert.yorkshire.>' --from-seq 1 --timeout 1 >"$T/replay.out" 2>/dev/null || fail "replay"
assert_eq "$(wc -l <"$T/replay.out" | tr -d ' ')" 12 "messages stored"
assert_contains "$T/prison.agent.log" 'event=connected.*outbox='
stop_agent prison
stop_agent rocu
stop_broker
echo "22 ok"
