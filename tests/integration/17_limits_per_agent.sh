# 17: one agent must not stall or outgrow everyone: max_sessions_per_agent
# and max_subs_per_agent count over all of an agent's connections; Ack and
# Nack frames carrying more than 4096 sequences are refused (BAD_REQUEST);
# replays and operator views past their per-minute limits are answered
# RATE_LIMITED; every refusal is audited, and the broker serves on.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu nca prob ops audit
limits() { # max_subs max_sessions
    {
        echo "broker = { listen = \"tcp://127.0.0.1:$PORT\"; secret_key = \"keys/broker.key\";"
        echo "  data_dir = \"data/broker\"; map_size_mb = 64; metrics = \"\"; heartbeat_ms = 1000;"
        echo "  max_subs_per_agent = $1; max_sessions_per_agent = $2; max_replays_per_minute = 2;"
        echo "  max_views_per_minute = 3; };"
        echo "agents = ("
        agent police '"alert.>"' ''; echo ","
        agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu; echo ","
        agent nca '' '"alert.>"' SECRET '' '"receiver"' nca; echo ","
        agent prob '' '"alert.>"' SECRET '' '"receiver"' probation; echo ","
        agent ops '' '' OFFICIAL '' '"operator"' marsoc; echo ","
        agent audit '' '' OFFICIAL '' '"auditor"' marsoc
        echo ");"
    } >"$T/broker.cfg"
}
reload() { # max_subs max_sessions
    n=$(grep -c 'event=reloaded' "$T/broker.log" || true)
    limits "$1" "$2"
    kill -HUP "$BROKER_PID"
    while [ "$(grep -c 'event=reloaded' "$T/broker.log" || true)" -le "$n" ]; do sleep 0.05; done
}
pick_port
limits 10 3
for a in police rocu nca prob ops audit; do agent_cfg $a; done
start_broker

# Connections: three live ones for nca; a fourth is refused, served nothing.
for p in a b c; do
    "$BIN/liaisonctl" -c "$T/nca.cfg" sub "alert.$p.>" --timeout 60 >/dev/null 2>"$T/nca-$p.err" &
    PIDS="$PIDS $!"
    eval "NCA_$p=$!"
    wait_for "$T/nca-$p.err" "subscribed"
done
ctl nca sub 'alert.>' --timeout 5 >/dev/null 2>"$T/fourth.err" && fail "a fourth connection was served"
assert_contains "$T/fourth.err" TOO_MANY_SESSIONS
kill "$NCA_a" "$NCA_b" "$NCA_c" 2>/dev/null || true

# Subscriptions: two connections of rocu hold one each; a third, on a third
# connection, is over the agent's limit of 2.
reload 2 50
for p in a b; do
    "$BIN/liaisonctl" -c "$T/rocu.cfg" sub "alert.$p.>" --timeout 60 >/dev/null 2>"$T/rocu-$p.err" &
    PIDS="$PIDS $!"
    wait_for "$T/rocu-$p.err" "subscribed"
done
ctl rocu sub 'alert.c.>' --timeout 5 >/dev/null 2>"$T/third.err" && fail "a third subscription was accepted"
assert_contains "$T/third.err" TOO_MANY_SUBSCRIPTIONS

# Ack and Nack floods.
reload 10 50
"$BIN/tools/rawclient" "$T/prob.cfg" ackflood 'alert.>' >"$T/flood.out" 2>&1 || fail "rawclient ackflood"
assert_eq "$(sed -n 3p "$T/flood.out")" "reply ERROR BAD_REQUEST" "an Ack of 5000 sequences"
assert_eq "$(sed -n 4p "$T/flood.out")" "reply ERROR BAD_REQUEST" "a Nack of 5000 sequences"
assert_eq "$(tail -n 1 "$T/flood.out")" "reply WELCOME prob" "broker alive after the flood"

# Replays: two a minute, the third refused.
msg alert.y.one OFFICIAL | ctl police pub - >/dev/null || fail "publish"
for i in 1 2; do
    ctl prob sub 'alert.>' --from-seq 1 --count 1 --timeout 10 >/dev/null 2>"$T/replay.err" ||
        fail "replay $i: $(cat "$T/replay.err")"
done
ctl prob sub 'alert.>' --from-seq 1 --count 1 --timeout 10 >/dev/null 2>"$T/replay3.err" &&
    fail "a third replay in the minute was served"
assert_contains "$T/replay3.err" RATE_LIMITED

# Operator views: three a minute, the fourth refused.
for i in 1 2 3; do ctl ops status --json >/dev/null 2>&1 || fail "status $i"; done
ctl ops status --json >/dev/null 2>"$T/status4.err" && fail "a fourth view in the minute was served"
assert_contains "$T/status4.err" RATE_LIMITED

# Every refusal kind is in the trail.
stop_broker
"$BIN/liaisonctl" audit verify --data-dir "$T/data/broker" >/dev/null || fail "audit verify"
start_broker
ctl audit audit export >"$T/trail.jsonl" 2>/dev/null || fail "audit export"
for code in TOO_MANY_SESSIONS subscription_limit BAD_REQUEST RATE_LIMITED; do
    grep -q "$code" "$T/trail.jsonl" || fail "no audit record of $code"
done
stop_broker
echo "17 ok"
