# 21: store and forward across an agent crash. The broker is not running;
# files dropped in the spool go into the agent's outbox (and to done/), the
# agent says why it is disconnected, and is killed with SIGKILL with the
# outbox full. Restarted once the broker is up, it publishes every message
# exactly once, in the order the files arrived, with their msg_ids.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker prison rocu
broker_cfg <<EOF2
$(agent prison '"alert.yorkshire.hmp-hull.>"' '' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"publisher"' prison yorkshire),
$(agent rocu '' '"alert.yorkshire.>"' SECRET '"PRISON-INTEL"' '"receiver"' rocu yorkshire)
EOF2
agent_cfg rocu
agent_full_cfg prison spool/prison </dev/null
S="$T/spool/prison"

start_agent prison # no broker yet
for i in 1 2 3 4 5; do
    msg alert.yorkshire.hmp-hull.n$i OFFICIAL ",\"msg_id\":\"hull-$i\"" "note $i" | drop "$S" "n$i.json"
done
wait_files "$S/done" 5
wait_for "$T/prison.agent.log" 'event=disconnected reason="[^"]*127.0.0.1:[0-9]*[^"]*running?'
crash_agent prison
assert_eq "$(count "$T/prison.agent.log" 'event=published')" 0 "published with no broker"

start_broker
start_agent prison
assert_contains "$T/prison.agent.log" "event=started agent=prison .* outbox=5"
wait_count "$T/prison.agent.log" 'event=published' 5
# Once each, in the order the files arrived, under the agency's msg_ids.
ctl rocu sub 'alert.yorkshire.>' --from-seq 1 --count 5 --timeout 20 >"$T/all.out" 2>/dev/null || fail "replay"
assert_eq "$(sed -n 's/^{"seq":\([0-9]*\),.*"msg_id":"\([^"]*\)".*/\1=\2/p' "$T/all.out" | tr '\n' ' ')" \
    "1=hull-1 2=hull-2 3=hull-3 4=hull-4 5=hull-5 " "stored once each, in order"

# A clean stop leaves an empty outbox, and a restart publishes nothing again.
stop_agent prison
assert_contains "$T/prison.agent.log" "event=stopped outbox=0"
start_agent prison
wait_count "$T/prison.agent.log" 'event=connected' 2
stop_agent prison
assert_eq "$(count "$T/prison.agent.log" 'event=published')" 5 "publishes after the restarts"
ctl rocu sub 'alert.yorkshire.>' --from-seq 1 --timeout 1 >"$T/again.out" 2>/dev/null || fail "replay"
assert_eq "$(wc -l <"$T/again.out" | tr -d ' ')" 5 "messages stored"
stop_broker
echo "21 ok"
