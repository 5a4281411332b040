# 54: the agent's loop never waits for the broker. First no broker is
# listening: the prison agent takes its spool into the outbox and logs its
# retries, and publishes everything once the broker starts. Then the broker
# is there but answers nothing (stopped with SIGSTOP: the kernel still
# accepts connections, so every attempt hangs in the handshake until its
# connect timeout). The agent, restarted into that, takes the file waiting
# in its spool before its first attempt has even failed — a connect that
# blocked the loop would let the failure come first — keeps taking files
# while the attempts fail one after another, and the ROCU agent finds the
# silent broker gone. When the broker wakes, both reconnect and every
# message is delivered once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker prison rocu
broker_cfg <<EOF2
$(agent prison '"alert.yorkshire.hmp-hull.>"' '' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"publisher"' prison yorkshire),
$(agent rocu '' '"alert.yorkshire.>"' SECRET '"PRISON-INTEL"' '"receiver"' rocu yorkshire)
EOF2
agent_full_cfg prison spool/prison </dev/null
sub_entry regional 'alert.yorkshire.>' dir:inbox/rocu | agent_full_cfg rocu
S="$T/spool/prison"
P="$T/prison.agent.log"
note() { msg alert.yorkshire.hmp-hull.n$1 OFFICIAL ",\"msg_id\":\"hull-$1\"" "note $1" | drop "$S" "n$1.json"; }
# since_start LOG: the lines of LOG written since the agent last started.
since_start() { sed -n "$(grep -n 'event=started' "$1" | tail -n 1 | cut -d: -f1),\$p" "$1"; }
# first_line PATTERN: the line number of PATTERN's first match in
# since_start's output for the prison agent (empty when none).
first_line() { since_start "$P" | grep -n -- "$1" | head -n 1 | cut -d: -f1; }

# 1. Nobody listening.
note 1
start_agent prison
wait_files "$S/done" 1
note 2
wait_files "$S/done" 2
wait_count "$P" 'event=disconnected reason="the broker at [^"]*127.0.0.1:'"$PORT"'[^"]*not running?' 2
assert_eq "$(count "$P" 'event=published')" 0 "published with no broker"

start_broker
start_agent rocu
wait_for "$T/rocu.agent.log" "event=subscribed sub=regional"
wait_count "$P" 'event=published' 2 40
wait_files "$T/inbox/rocu" 2

# 2. A broker that accepts connections and answers nothing.
stop_agent prison
note 3
kill -STOP "$BROKER_PID"
start_agent prison
wait_files "$S/done" 3
wait_count "$P" 'event=disconnected reason="no answer from the broker at [^"]*127.0.0.1:'"$PORT" 2 40
taken=$(first_line 'event=spool_taken file=n3.json')
failed=$(first_line 'event=disconnected')
[ -n "$taken" ] && [ -n "$failed" ] && [ "$taken" -lt "$failed" ] ||
    fail "the spool waited for the connection attempt (taken at line ${taken:-none}, attempt failed at line ${failed:-none})"
note 4
wait_files "$S/done" 4
# The subscriber's link hears nothing, and link.c's silence rule ends it.
wait_for "$T/rocu.agent.log" 'event=disconnected reason="nothing from the broker for' 40
assert_eq "$(since_start "$P" | grep -c 'event=connected')" 0 "connected to a stopped broker"

kill -CONT "$BROKER_PID"
wait_count "$P" 'event=published' 4 60
wait_files "$T/inbox/rocu" 4 60

# Every message once: four files, four distinct msg_ids, all published.
assert_eq "$(files_in "$T/inbox/rocu")" 4 "inbox files"
cat "$T"/inbox/rocu/*.json | sed -n 's/.*"msg_id":"\([^"]*\)".*/\1/p' | sort -u >"$T/ids"
assert_eq "$(tr '\n' ' ' <"$T/ids")" "hull-1 hull-2 hull-3 hull-4 " "msg_ids delivered"
assert_eq "$(sed -n 's/.*event=published msg_id=\([^ ]*\).*/\1/p' "$P" | sort -u | tr '\n' ' ')" \
    "hull-1 hull-2 hull-3 hull-4 " "msg_ids published"
stop_agent prison
stop_agent rocu
stop_broker
echo "54 ok"
