# 27: an agent that cannot connect says why in its log, and keeps trying
# with a growing (capped, jittered) backoff: first its key is not on the
# broker (refused), then it is configured with the wrong broker key, then
# the broker is simply down. Each time the operator fixes the cause, the
# agent connects by itself, and what it took from its spool meanwhile is
# published.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker prison other
cat >"$T/agents.in" <<EOF2
$(agent other '' '' OFFICIAL '' '"operator"' marsoc national)
EOF2
broker_cfg <"$T/agents.in"
agent_full_cfg prison spool/prison </dev/null
start_broker

# 1. Not (yet) an agent of this broker: the key is refused.
start_agent prison
wait_count "$T/prison.agent.log" 'event=disconnected reason="the broker at .* refused this key' 3
delays=$(sed -n 's/.*refused this key.*retry_in_ms=\([0-9]*\).*/\1/p' "$T/prison.agent.log" | head -n 3 | tr '\n' ' ')
set -- $delays
[ "$1" -le 250 ] && [ "$3" -gt 250 ] || fail "backoff does not grow: $delays"
msg alert.yorkshire.hmp-hull.a OFFICIAL ',"msg_id":"hull-a"' | drop "$T/spool/prison" a.json
wait_files "$T/spool/prison/done" 1 # taken into the outbox even while refused

# The operator adds it; a SIGHUP on the broker is all it takes.
{ cat "$T/agents.in"; echo ","; agent prison '"alert.yorkshire.hmp-hull.>"' '' OFFICIAL-SENSITIVE '' '"publisher"' prison yorkshire; } >"$T/agents2.in"
sed -n '1,3p' "$T/broker.cfg" >"$T/broker.head"
{ cat "$T/broker.head"; cat "$T/agents2.in"; echo ");"; } >"$T/broker.cfg"
kill -HUP "$BROKER_PID"
wait_for "$T/prison.agent.log" "event=published msg_id=hull-a" 40
stop_agent prison

# 2. The wrong broker public key: the agent cannot tell a fake broker from
# a silent one, and says to check the key.
cp "$T/prison.agent.cfg" "$T/prison.good.cfg"
sed -i 's|broker_public_key = "keys/broker.pub"|broker_public_key = "keys/other.pub"|' "$T/prison.agent.cfg"
start_agent prison
wait_for "$T/prison.agent.log" 'event=disconnected reason=".*broker_public_key' 20
stop_agent prison
cp "$T/prison.good.cfg" "$T/prison.agent.cfg"

# 3. The broker is down; the agent says so and connects when it is back.
stop_broker
start_agent prison
wait_for "$T/prison.agent.log" 'event=disconnected reason="[^"]*127.0.0.1:'"$PORT"'[^"]*running?'
msg alert.yorkshire.hmp-hull.b OFFICIAL ',"msg_id":"hull-b"' | drop "$T/spool/prison" b.json
wait_files "$T/spool/prison/done" 2
start_broker
wait_for "$T/prison.agent.log" "event=published msg_id=hull-b" 40
stop_agent prison
stop_broker
echo "27 ok"
