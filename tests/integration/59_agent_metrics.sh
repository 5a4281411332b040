# 59: the agent's own /metrics (agent.metrics in agent.cfg), so an agency
# can alert on a stuck outbox. With the broker down, files dropped into the
# spool wait in the outbox: the page shows them, the age of the oldest and
# a link that is not up. Once the broker is started they are acknowledged:
# the outbox empties and the link is up. Spool rejections by the agent and
# by the broker, broker refusals and a failing sink are counted, per
# subscription for the sink. The page passes promtool. A metrics address
# off loopback needs metrics_token; with a token, /metrics refuses a missing
# or wrong one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
. "$(dirname "$0")/ops_lib.sh"
need_cmd curl curl
need_cmd promtool prometheus
TOKEN=Hq8vR2xL7pZ3tW9kY4mN6bA1cJ5dS0eF
keygen broker prison rocu
broker_cfg <<EOF2
$(agent prison '"alert.yorkshire.hmp-hull.>"' '' OFFICIAL-SENSITIVE '' '"publisher"' prison yorkshire),
$(agent rocu '' '"alert.yorkshire.>"' SECRET '' '"receiver"' rocu yorkshire)
EOF2
MPORT=$((PORT + 1))
agent_full_cfg prison spool/prison </dev/null
sed -i "s|log_level = \"[a-z]*\"; };|& |; s|; };|; metrics = \"127.0.0.1:$MPORT\"; };|" "$T/prison.agent.cfg"
{
    sub_entry regional 'alert.yorkshire.>' dir:inbox/rocu
    echo ','
    sub_entry failing 'alert.yorkshire.>' 'exec:/bin/false'
} | agent_full_cfg rocu
# The rocu agent's page is on the next port, behind a token.
pick_port
RPORT=$PORT
PORT=$((MPORT - 1))
sed -i "s|; };|; metrics = \"127.0.0.1:$RPORT\"; metrics_token = \"$TOKEN\"; };|" "$T/rocu.agent.cfg"

page() { # PORT [curl args...] — /metrics into $T/page, its status into $T/code
    p=$1
    shift
    curl -sS -o "$T/page" -w '%{http_code}' "$@" "http://127.0.0.1:$p/metrics" >"$T/code" || true
}
metric() { # NAME{labels} — its value on $T/page
    awk -v n="$1" '$1 == n { print $2 }' "$T/page"
}
wait_metric() { # PORT NAME VALUE [curl args...] — bounded, a safety net only
    p=$1 name=$2 want=$3
    shift 3
    n=200
    while :; do
        page "$p" "$@"
        [ "$(metric "$name")" = "$want" ] && return 0
        n=$((n - 1)); [ $n -gt 0 ] || fail "$name never became $want (last: $(metric "$name"))"
        sleep 0.05
    done
}

# ---- config checks ----
sed "s|127.0.0.1:$MPORT|0.0.0.0:$MPORT|" "$T/prison.agent.cfg" >"$T/open.agent.cfg"
if "$BIN/liaison-agent" -c "$T/open.agent.cfg" --check-config >/dev/null 2>"$T/open.err"; then
    fail "a metrics address off loopback without a token was accepted"
fi
assert_contains "$T/open.err" "agent.metrics"
assert_contains "$T/open.err" "metrics_token"
sed "s|127.0.0.1:$MPORT|127.0.0.1|" "$T/prison.agent.cfg" >"$T/noport.agent.cfg"
if "$BIN/liaison-agent" -c "$T/noport.agent.cfg" --check-config >/dev/null 2>"$T/noport.err"; then
    fail "a metrics address without a port was accepted"
fi
assert_contains "$T/noport.err" "agent.metrics"

# ---- the broker is down: the outbox holds what the spool took ----
start_agent prison
S="$T/spool/prison"
for i in 1 2 3; do
    msg alert.yorkshire.hmp-hull.x OFFICIAL ",\"msg_id\":\"hull-$i\"" | drop "$S" "000$i.json"
done
printf '{"topic": ' | drop "$S" 0004-malformed.json
wait_metric $MPORT liaison_agent_outbox_messages 3
assert_eq "$(metric liaison_agent_spool_taken_total)" 3 "files taken"
assert_eq "$(metric liaison_agent_spool_rejected_total)" 1 "files rejected by the agent"
assert_eq "$(metric liaison_agent_broker_up)" 0 "broker_up with the broker down"
assert_eq "$(metric 'liaison_agent_link_state{state="up"}')" 0 "link state up with the broker down"
age=$(metric liaison_agent_outbox_oldest_age_seconds)
awk -v a="$age" 'BEGIN { exit !(a > 0) }' || fail "oldest age is $age with three messages waiting"
promtool check metrics <"$T/page" >"$T/promtool.out" 2>&1 || fail "promtool: $(cat "$T/promtool.out")"
[ ! -s "$T/promtool.out" ] || fail "promtool lint: $(cat "$T/promtool.out")"

# ---- the broker comes: everything is acknowledged ----
start_broker
start_agent rocu
wait_metric $MPORT liaison_agent_outbox_messages 0
assert_eq "$(metric liaison_agent_outbox_oldest_age_seconds)" 0.000 "oldest age of an empty outbox"
assert_eq "$(metric liaison_agent_outbox_acked_total)" 3 "acknowledged"
assert_eq "$(metric liaison_agent_broker_up)" 1 "broker_up"
assert_eq "$(metric 'liaison_agent_link_state{state="up"}')" 1 "link state up"
# A file the broker refuses (outside the prison's permissions): rejected
# by the broker, counted both ways.
msg alert.yorkshire.humberside-police.x OFFICIAL ',"msg_id":"hull-forged"' | drop "$S" 0005-forged.json
wait_metric $MPORT liaison_agent_outbox_refused_total 1
wait_metric $MPORT liaison_agent_spool_rejected_total 2

# ---- the receiving side: sinks per subscription, behind a token ----
page $RPORT
assert_eq "$(cat "$T/code")" 401 "the rocu page without its token"
page $RPORT -H "Authorization: Bearer ${TOKEN}x"
assert_eq "$(cat "$T/code")" 401 "the rocu page with a wrong token"
# The subscriptions are new: they start at what was stored when they were
# made, which may be before or after the prison's outbox emptied. The
# counter must agree with the files the sink wrote.
msg alert.yorkshire.hmp-hull.y OFFICIAL ',"msg_id":"hull-6"' | drop "$S" 0006.json
n=200
until grep -qls '"hull-6"' "$T"/inbox/rocu/* 2>/dev/null; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "hull-6 never reached the rocu sink"
    sleep 0.05
done
files=$(find "$T/inbox/rocu" -name '*.json' | wc -l)
wait_metric $RPORT 'liaison_agent_sink_written_total{sub="regional",sink="dir:'"$T"'/inbox/rocu"}' "$files" \
    -H "Authorization: Bearer $TOKEN"
assert_eq "$(cat "$T/code")" 200 "the rocu page with its token"
wait_metric $RPORT 'liaison_agent_subscription_active{sub="failing",sink="exec:/bin/false"}' 1 \
    -H "Authorization: Bearer $TOKEN"
n=200
until awk '$1 == "liaison_agent_sink_failures_total{sub=\"failing\",sink=\"exec:/bin/false\"}" && $2 >= 1 { ok = 1 } END { exit !ok }' "$T/page"; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "the failing sink's failures were never counted"
    sleep 0.05
    page $RPORT -H "Authorization: Bearer $TOKEN"
done
assert_eq "$(metric 'liaison_agent_sink_failures_total{sub="regional",sink="dir:'"$T"'/inbox/rocu"}')" 0 \
    "failures of the sink that works"
promtool check metrics <"$T/page" >"$T/promtool.out" 2>&1 || fail "promtool: $(cat "$T/promtool.out")"
[ ! -s "$T/promtool.out" ] || fail "promtool lint: $(cat "$T/promtool.out")"

stop_agent rocu
stop_agent prison
stop_broker
echo "ok 59 agent metrics"
