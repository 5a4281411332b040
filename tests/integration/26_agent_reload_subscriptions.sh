# 26: SIGHUP reloads the agent's subscriptions without a restart: a new
# one starts receiving, a removed one stops, an unchanged one carries on,
# and a config that does not load is refused whole while the running one
# keeps working. A stdout sink writes JSON lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker police rocu
broker_cfg <<EOF2
$(agent police '"alert.yorkshire.>"' '' SECRET '' '"publisher"' police yorkshire),
$(agent rocu '' '"alert.yorkshire.>"' SECRET '"PRISON-INTEL"' '"receiver"' rocu yorkshire)
EOF2
agent_cfg police
pub() { msg "$1" OFFICIAL ",\"msg_id\":\"$2\"" | ctl police pub - >/dev/null || fail "publish $2"; }

sub_entry hull 'alert.yorkshire.hull.>' dir:inbox/hull | agent_full_cfg rocu
start_agent rocu # the broker comes later: the agent waits for it
start_broker
wait_for "$T/rocu.agent.log" "event=subscribed sub=hull"
pub alert.yorkshire.hull.a m1
wait_files "$T/inbox/hull" 1

# Add a subscription with a stdout sink, keep the first.
{ sub_entry hull 'alert.yorkshire.hull.>' dir:inbox/hull; echo ","; sub_entry all 'alert.yorkshire.>' stdout; } |
    agent_full_cfg rocu
kill -HUP "$(agent_pid rocu)"
wait_for "$T/rocu.agent.log" "event=reloaded subscriptions=2"
wait_for "$T/rocu.agent.log" "event=subscribed sub=all"
pub alert.yorkshire.hull.b m2
pub alert.yorkshire.leeds.c m3
wait_files "$T/inbox/hull" 2
wait_count "$T/rocu.stdout" '"msg_id"' 2
assert_contains "$T/rocu.stdout" '^{"seq":2,"topic":"alert.yorkshire.hull.b","msg_id":"m2"'
assert_contains "$T/rocu.stdout" '^{"seq":3,"topic":"alert.yorkshire.leeds.c","msg_id":"m3"'

# A broken file is refused whole; both keep working.
cp "$T/rocu.agent.cfg" "$T/good.cfg"
sed -i 's/pattern = "alert.yorkshire.>"/pattern = "Alert.>"/' "$T/rocu.agent.cfg"
kill -HUP "$(agent_pid rocu)"
wait_for "$T/rocu.agent.log" "event=reload_rejected"
cp "$T/good.cfg" "$T/rocu.agent.cfg"

# Remove the first: it stops receiving, the second carries on.
sub_entry all 'alert.yorkshire.>' stdout | agent_full_cfg rocu
kill -HUP "$(agent_pid rocu)"
wait_count "$T/rocu.agent.log" "event=reloaded subscriptions=1" 1
wait_for "$T/rocu.agent.log" "event=unsubscribed sub=hull"
pub alert.yorkshire.hull.d m4
wait_count "$T/rocu.stdout" '"msg_id"' 3
assert_eq "$(files_in "$T/inbox/hull")" 2 "the removed subscription stopped"
assert_eq "$(count "$T/rocu.agent.log" 'event=subscribed sub=all')" 1 "unchanged subscription not re-made"
stop_agent rocu
stop_broker
echo "26 ok"
