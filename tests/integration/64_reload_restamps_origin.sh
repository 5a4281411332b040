# 64: the origin a broker stamps follows broker.cfg. The broker packs a
# publisher's origin once and keeps it for its connection; a SIGHUP that
# moves the publisher to another region and agency must not leave the old
# one on what the same connection publishes next. A prison agent publishes
# one alert, the broker reloads with the prison's region and agency
# changed, and the same agent (never reconnected) publishes another: the
# ROCU receives the first with the old origin and the second with the new.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker prison rocu
broker_cfg <<EOF2
$(agent prison '"alert.>"' '' OFFICIAL '' '"publisher"' prison yorkshire),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu yorkshire)
EOF2
agent_full_cfg prison spool/prison </dev/null
sub_entry regional 'alert.>' dir:inbox/rocu | agent_full_cfg rocu

start_broker
start_agent rocu
start_agent prison
wait_for "$T/rocu.agent.log" "event=subscribed sub=regional"
wait_for "$T/prison.agent.log" "event=connected"

S="$T/spool/prison"
msg alert.yorkshire.hmp-hull.x OFFICIAL ',"msg_id":"before-1"' "before the reload" | drop "$S" 0001.json
wait_files "$T/inbox/rocu" 1

sed -i 's|name = "prison"; agency = "prison agency"; type = "prison"; region = "yorkshire"|name = "prison"; agency = "HMP Humber"; type = "prison"; region = "humber"|' \
    "$T/broker.cfg"
grep -q 'region = "humber"' "$T/broker.cfg" || fail "test setup: the prison's entry was not changed"
kill -HUP "$BROKER_PID"
wait_for "$T/broker.log" "event=reloaded"

msg alert.yorkshire.hmp-hull.x OFFICIAL ',"msg_id":"after-1"' "after the reload" | drop "$S" 0002.json
wait_files "$T/inbox/rocu" 2

before=$(grep -l '"before-1"' "$T"/inbox/rocu/*.json)
after=$(grep -l '"after-1"' "$T"/inbox/rocu/*.json)
[ -n "$before" ] && [ -n "$after" ] || fail "the ROCU did not receive both alerts"
assert_contains "$before" '"region":"yorkshire"'
assert_contains "$before" '"agency":"prison agency"'
assert_contains "$after" '"region":"humber"'
assert_contains "$after" '"agency":"HMP Humber"'
# The same connection published both: the packed origin was made again.
assert_eq "$(count "$T/prison.agent.log" 'event=connected')" 1 "the prison agent's connections"

stop_agent prison
stop_agent rocu
stop_broker
echo "64 ok"
