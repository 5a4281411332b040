# 36: a store belongs to one running broker: a second broker on the same
# data_dir refuses to start, naming the pid that holds it, and the first
# goes on serving; once the first has stopped, the second starts.
. "$(dirname "$0")/lib.sh"
keygen broker police
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"')
EOF2
agent_cfg police
start_broker
sed "s|tcp://127.0.0.1:$PORT|tcp://127.0.0.1:$((PORT + 1))|" "$T/broker.cfg" >"$T/second.cfg"
rc=0
"$BIN/liaison-broker" -c "$T/second.cfg" 2>"$T/second.log" || rc=$?
assert_eq "$rc" 1 "a second broker on the same data_dir"
assert_contains "$T/second.log" "in use by another liaison-broker (pid $BROKER_PID)"
msg alert.y.one OFFICIAL | ctl police pub - >/dev/null || fail "the first broker stopped serving"
stop_broker
"$BIN/liaison-broker" -c "$T/second.cfg" 2>"$T/second.log" &
SECOND=$!
PIDS="$PIDS $SECOND"
wait_for "$T/second.log" "event=listening"
kill -TERM "$SECOND"
wait "$SECOND" || fail "the second broker did not stop cleanly"
echo "36 ok"
