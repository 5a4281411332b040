# 20: an agency system renames JSON files into the prison agent's spool; the
# agent publishes them and the ROCU agent's dir: sink receives one file per
# message. Malformed, oversized and non-UTF-8 files, a label that does not
# validate, and one the broker refuses all land in rejected/ with a .error
# naming the problem, and the agent keeps going: the file dropped after
# them is still delivered. --check-config names a bad line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker prison rocu
broker_cfg <<EOF2
$(agent prison '"alert.yorkshire.hmp-hull.>"' '' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"publisher"' prison yorkshire),
$(agent rocu '' '"alert.yorkshire.>"' SECRET '"PRISON-INTEL"' '"receiver"' rocu yorkshire)
EOF2
agent_full_cfg prison spool/prison </dev/null
sub_entry regional 'alert.yorkshire.>' dir:inbox/rocu | agent_full_cfg rocu

# --check-config: a good file summarised, a bad one named by line.
"$BIN/liaison-agent" -c "$T/rocu.agent.cfg" --check-config >"$T/check.out" || fail "check-config refused a good file"
assert_contains "$T/check.out" "subscription regional: alert.yorkshire.> -> dir:$T/inbox/rocu (durable regional)"
sed 's/pattern = "alert.yorkshire.>"/pattern = "Alert.>"/' "$T/rocu.agent.cfg" >"$T/bad.agent.cfg"
if "$BIN/liaison-agent" -c "$T/bad.agent.cfg" --check-config >/dev/null 2>"$T/check.err"; then fail "bad pattern accepted"; fi
assert_contains "$T/check.err" "bad.agent.cfg:5: subscriptions\[0\].pattern"

# The JSON Schema shipped for agencies names exactly the keys the agent's
# C validation accepts (broker-stamped keys aside).
schema_keys=$(sed -n 's/^    "\([a-z_0-9]*\)": {.*/\1/p' "$ROOT/config/message.schema.json" | sort | tr '\n' ' ')
c_keys=$(sed -n 's/^    {"\([a-z_0-9]*\)", set_[a-z_0-9]*},/\1/p' "$ROOT/common/json.c" |
    grep -v -x 'seq\|origin\|received_at\|route\|notice' | sort | tr '\n' ' ')
[ -n "$c_keys" ] || fail "test setup: no keys found in common/json.c"
assert_eq "$schema_keys" "$c_keys" "config/message.schema.json against common/json.c"

start_broker
start_agent rocu
start_agent prison
wait_for "$T/rocu.agent.log" "event=subscribed sub=regional"
wait_for "$T/prison.agent.log" "event=connected"

S="$T/spool/prison"
msg alert.yorkshire.hmp-hull.contraband OFFICIAL-SENSITIVE ',"msg_id":"hull-1","caveats":["PRISON-INTEL"]' "Drone drop on C wing" | drop "$S" 0001-drone.json
printf '{"topic": "alert.yorkshire.hmp-hull.x",\n "risk" "LOW"}\n' | drop "$S" 0002-malformed.json
head -c 1100000 /dev/zero | tr '\0' ' ' | drop "$S" 0003-oversized.json
msg alert.yorkshire.hmp-hull.x OFFICIAL '' "$(printf 'caf\351')" | drop "$S" 0004-latin1.json
msg alert.yorkshire.hmp-hull.x OFFICIAL | sed 's/"2B"/"4F"/' | drop "$S" 0005-grading.json
msg alert.yorkshire.hmp-hull.x OFFICIAL | sed 's/"handling":"P",//' | drop "$S" 0006-nohandling.json
# Valid JSON and label, but outside the prison's publish permission: the
# broker refuses it, and the agent files the refusal the same way.
msg alert.yorkshire.humberside-police.x OFFICIAL ',"msg_id":"hull-forged"' | drop "$S" 0007-not-permitted.json
msg alert.yorkshire.hmp-hull.visits OFFICIAL ',"msg_id":"hull-2"' "Visitor pattern" | drop "$S" 0008-visits.json
# Temporary and foreign names are left alone.
echo '{"half":' >"$S/.0009-writing.json.tmp"
echo 'notes' >"$S/readme.txt"

wait_files "$T/inbox/rocu" 2
wait_files "$S/rejected" 6
wait_files "$S/done" 2

err() { cat "$S/rejected/$1.error"; }
assert_contains "$S/rejected/0002-malformed.json.error" "reason: invalid JSON at line 2"
assert_contains "$S/rejected/0003-oversized.json.error" "over the 1048576-byte limit"
assert_contains "$S/rejected/0004-latin1.json.error" "reason: invalid JSON"
assert_contains "$S/rejected/0005-grading.json.error" "bad grading \"4F\""
assert_contains "$S/rejected/0006-nohandling.json.error" "BAD_HANDLING: handling must be P or C"
assert_contains "$S/rejected/0007-not-permitted.json.error" "rejected_by: broker"
assert_contains "$S/rejected/0007-not-permitted.json.error" "TOPIC_NOT_PERMITTED"
for f in 0002-malformed 0003-oversized 0004-latin1 0005-grading 0006-nohandling 0007-not-permitted; do
    [ -f "$S/rejected/$f.json" ] || fail "$f.json not in rejected/"
    assert_contains "$S/rejected/$f.json.error" "file: $f.json"
done
[ -f "$S/done/0001-drone.json" ] || fail "0001 not in done/"
[ -f "$S/done/0008-visits.json" ] || fail "0008 not in done/"
[ -f "$S/.0009-writing.json.tmp" ] || fail "temporary file touched"
[ -f "$S/readme.txt" ] || fail "foreign file touched"
assert_eq "$(files_in "$S")" 0 "files left in the spool"

# The ROCU's inbox: one file per message, named by sequence, in order.
assert_eq "$(ls "$T/inbox/rocu" | tr '\n' ' ')" "000000000001.json 000000000002.json " "inbox"
assert_contains "$T/inbox/rocu/000000000001.json" '"msg_id":"hull-1"'
assert_contains "$T/inbox/rocu/000000000001.json" '"body":"Drone drop on C wing"'
assert_contains "$T/inbox/rocu/000000000001.json" '"origin":{"agent":"prison"'
assert_contains "$T/inbox/rocu/000000000002.json" '"msg_id":"hull-2"'
assert_eq "$(count "$T/rocu.agent.log" 'event=delivered sub=regional')" 2 "deliveries logged"

# SIGTERM drains and stops cleanly (status 0, and no leaks under ASan).
stop_agent prison
stop_agent rocu
assert_contains "$T/prison.agent.log" "event=stopped outbox=0"
stop_broker
echo "20 ok"
