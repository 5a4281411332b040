# 25: the agent dies after its sink has a delivery but before the Ack. The
# durable subscription redelivers it on restart, and it is not written
# twice:
#  - dir: sink, death right after the file is renamed into place (before
#    the agent's record): the file under its sequence name is recognised;
#  - exec: hook, death right after the record commits (before the Ack): the
#    record is recognised and the hook is not run again.
# The crash points are armed with LIAISON_AGENT_FAULT (tests only).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker police rocu marsoc
broker_cfg <<EOF2
$(agent police '"alert.yorkshire.>"' '' SECRET '' '"publisher"' police yorkshire),
$(agent rocu '' '"alert.yorkshire.>"' SECRET '"PRISON-INTEL"' '"receiver"' rocu yorkshire),
$(agent marsoc '' '"alert.>"' TOP-SECRET '' '"receiver"' marsoc national)
EOF2
agent_cfg police
sub_entry regional 'alert.yorkshire.>' dir:inbox/rocu | agent_full_cfg rocu
sub_entry cases 'alert.>' "exec:echo \$LIAISON_SEQ >>$T/hook.runs" | agent_full_cfg marsoc
pub() { msg alert.yorkshire.hull.n$1 SECRET ",\"msg_id\":\"hp-$1\"" "note $1" | ctl police pub - >/dev/null || fail "publish $1"; }
start_broker

# dir: sink, crash after the rename.
LIAISON_AGENT_FAULT=exit-after-sink start_agent rocu
LIAISON_AGENT_FAULT=exit-after-record start_agent marsoc
wait_for "$T/rocu.agent.log" "event=subscribed sub=regional"
wait_for "$T/marsoc.agent.log" "event=subscribed sub=cases"
pub 1
wait_agent_exit rocu 99
wait_agent_exit marsoc 99
assert_contains "$T/rocu.agent.log" "event=fault_injected point=exit-after-sink"
assert_contains "$T/marsoc.agent.log" "event=fault_injected point=exit-after-record"
assert_eq "$(ls "$T/inbox/rocu" | tr '\n' ' ')" "000000000001.json " "written before the crash"
assert_eq "$(cat "$T/hook.runs")" "1" "hook ran before the crash"
first_sum=$(cksum <"$T/inbox/rocu/000000000001.json")

# Restarted without the fault: seq 1 comes again (it was never acked).
start_agent rocu
start_agent marsoc
wait_for "$T/rocu.agent.log" "event=delivery_already_in_sink sub=regional seq=1"
wait_for "$T/marsoc.agent.log" "event=delivery_already_written sub=cases seq=1 attempt=.* action=acked"
assert_eq "$(ls "$T/inbox/rocu" | tr '\n' ' ')" "000000000001.json " "not written twice"
assert_eq "$(cksum <"$T/inbox/rocu/000000000001.json")" "$first_sum" "the first file untouched"
assert_eq "$(cat "$T/hook.runs")" "1" "hook not run twice"

# And both carry on: the next message once each, and a restart now
# redelivers nothing (the acks reached the broker).
pub 2
wait_files "$T/inbox/rocu" 2
wait_count "$T/hook.runs" '^2$' 1
stop_agent rocu
stop_agent marsoc
start_agent rocu
start_agent marsoc
wait_count "$T/rocu.agent.log" "event=subscribed sub=regional" 3
wait_count "$T/marsoc.agent.log" "event=subscribed sub=cases" 3
pub 3
wait_files "$T/inbox/rocu" 3
wait_count "$T/hook.runs" '^3$' 1
assert_eq "$(tr '\n' ' ' <"$T/hook.runs")" "1 2 3 " "hook runs"
assert_eq "$(count "$T/rocu.agent.log" 'event=delivery_already')" 1 "redeliveries recognised"
stop_agent rocu
stop_agent marsoc
stop_broker
echo "25 ok"
