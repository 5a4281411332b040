# fault 02: a message its subscriber never acks is redelivered after the ack
# timeout until max_deliver, then set aside as a dead letter that operators
# list and requeue (audited); after the requeue it is delivered again, and
# once acked it is gone from the list. A subscriber killed mid-stream gets
# its unacked messages again, none skipped.
. "$(dirname "$0")/../integration/lib.sh"
keygen broker police rocu ops auditor
broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
sed -i 's|heartbeat_ms = 1000;|heartbeat_ms = 200; ack_timeout_ms = 300; max_deliver = 2;|' "$T/broker.cfg"
for a in police rocu ops auditor; do agent_cfg $a; done
start_broker
seqs() { sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$1" | tr '\n' ' '; }
ctl rocu sub 'alert.>' --durable poison --timeout 0.3 >/dev/null 2>&1 || true
msg alert.a.poison OFFICIAL | ctl police pub - >/dev/null || fail pub
# Takes it twice (attempts 1 and 2), never acks, and stays: then it is a
# dead letter (one that left would get it again on its return).
"$BIN/liaisonctl" -c "$T/rocu.cfg" sub 'alert.>' --durable poison --no-ack --timeout 20 >"$T/a.out" 2>/dev/null &
NOACK=$!
PIDS="$PIDS $NOACK"
wait_for "$T/broker.log" "event=dead_letter agent=rocu"
kill "$NOACK" 2>/dev/null || true
wait "$NOACK" 2>/dev/null || true
assert_eq "$(seqs "$T/a.out")" "1 1 " "delivered max_deliver times"
wait_deadletter ops 1
ctl ops deadletters list --json >"$T/list.json" || fail "list"
assert_contains "$T/list.json" '{"seq":1,"durable":"rocu/poison","reason":"max_deliver reached"}'
# Not for the receiver to manage.
if ctl rocu deadletters list 2>"$T/r.err"; then fail "receiver listed dead letters"; fi
assert_contains "$T/r.err" ROLE_MISSING
ctl ops deadletters requeue 1 rocu/poison >/dev/null || fail "requeue"
ctl ops deadletters list --json >"$T/list2.json" || fail "list after requeue"
assert_eq "$(cat "$T/list2.json")" '{"dead_letters":[]}' "list after requeue"
ctl rocu sub 'alert.>' --durable poison --count 1 --timeout 20 >"$T/b.out" 2>/dev/null || fail "after requeue"
assert_eq "$(seqs "$T/b.out")" "1 " "requeued message delivered"
if ctl ops deadletters discard 1 rocu/poison 2>"$T/d.err"; then fail "discarded a missing dead letter"; fi
assert_contains "$T/d.err" NOT_FOUND

# Subscriber killed mid-stream: what it had not acked comes again.
for i in 2 3 4 5 6; do msg alert.a.n$i OFFICIAL; done | ctl police pub - >/dev/null || fail pub2
"$BIN/liaisonctl" -c "$T/rocu.cfg" sub 'alert.>' --durable poison --no-ack --count 5 --timeout 20 >"$T/c.out" 2>/dev/null &
p=$!
PIDS="$PIDS $p"
wait_for "$T/c.out" '"seq":6'
kill -9 "$p" 2>/dev/null || true # it may have taken all five and left, unacked
ctl rocu sub 'alert.>' --durable poison --take-over --count 5 --timeout 20 >"$T/d.out" 2>/dev/null || fail "after the kill"
assert_eq "$(seqs "$T/d.out")" "2 3 4 5 6 " "redelivered after the subscriber died"
ctl auditor audit export >"$T/audit.jsonl" || fail export
assert_contains "$T/audit.jsonl" '"action":"dead_letter"'
assert_contains "$T/audit.jsonl" '"action":"dead_letter_requeue","recipient":"rocu/poison"'
assert_contains "$T/audit.jsonl" '"action":"redeliver"'
stop_broker
echo "fault 02 ok"
