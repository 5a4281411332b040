# 58: durable feeds can be managed. `liaisonctl durables` lists every
# durable (agent, pattern, cursor, a backlog of only its pattern's
# messages, whether a connection holds it, last activity) for an operator,
# and an agent its own; rewind by sequence and by time delivers again;
# delete is refused while a connection holds the durable unless --force,
# which ends that subscription; each action is audited with the old and new
# cursor. An agent deletes, at start and at reload, its durables agent.cfg
# no longer names. Then the topics view is exact above 50,000 messages.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
. "$(dirname "$0")/ops_lib.sh"
keygen broker police rocu hull ops auditor
broker_cfg <<EOF2
$(agent police '"alert.>", "bulk.>"' '' SECRET '' '"publisher"' police yorkshire),
$(agent rocu '' '"alert.>"' OFFICIAL '' '"receiver"' rocu yorkshire),
$(agent hull '' '"alert.>"' OFFICIAL '' '"receiver"' police yorkshire),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
for a in police rocu hull ops auditor; do agent_cfg $a; done
start_broker
seqs() { sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$1" | tr '\n' ' '; }
durables() { ctl ops durables --json || fail "durables list refused"; }

# rocu's durable on alert.a.> (created at the tail), then traffic on two patterns.
ctl rocu sub 'alert.a.>' --durable feed --timeout 0.2 >/dev/null 2>&1 || true
{
    msg alert.a.one OFFICIAL    # 1
    msg alert.b.one OFFICIAL    # 2
    msg alert.a.two OFFICIAL    # 3
    msg alert.b.two OFFICIAL    # 4
    msg alert.b.three OFFICIAL  # 5
    msg alert.a.three OFFICIAL  # 6
} | ctl police pub - >/dev/null || fail "publish"

# ---- list: the backlog counts only the pattern's messages ----
J=$(durables)
E=$(jobj "$J" agent rocu '"durable":"feed"')
[ -n "$E" ] || fail "rocu/feed not listed: $J"
for kv in pattern=alert.a.\> cursor=0 backlog=3 held=false; do
    assert_eq "$(jget "$E" "${kv%%=*}")" "${kv#*=}" "rocu/feed ${kv%%=*}"
done
ctl ops durables >"$T/durables.txt" || fail "durables table"
assert_contains "$T/durables.txt" '^AGENT  *DURABLE  *PATTERN  *CURSOR  *BACKLOG  *HELD  *LAST ACTIVITY'
assert_contains "$T/durables.txt" '^rocu  *feed  *alert\.a\.>  *0  *3  *no '
# The subs view agrees (the durable is away).
assert_eq "$(jget "$(jobj "$(ctl ops subs --json)" agent rocu '"durable":"feed"')" backlog)" 3 "subs backlog"

# ---- who may: an operator for any, an agent for its own ----
if ctl rocu durables 2>"$T/r.err"; then fail "rocu listed every durable"; fi
assert_contains "$T/r.err" ROLE_MISSING
ctl rocu durables --mine --json >"$T/mine.json" || fail "rocu listing its own"
assert_contains "$T/mine.json" '"durable":"feed"'
if ctl hull durables delete rocu/feed 2>"$T/h.err"; then fail "hull deleted rocu's durable"; fi
assert_contains "$T/h.err" ROLE_MISSING
if ctl hull durables rewind rocu/feed --to-seq 1 2>/dev/null; then fail "hull rewound rocu's durable"; fi
if ctl ops durables delete rocu/nothing 2>"$T/nf.err"; then fail "deleted a durable that is not there"; fi
assert_contains "$T/nf.err" NOT_FOUND
if ctl ops durables rewind rocu/feed 2>/dev/null; then fail "rewind without a target accepted"; fi

# ---- consume, then rewind by sequence: delivered again ----
ctl rocu sub 'alert.a.>' --durable feed --count 3 --timeout 20 >"$T/a.out" 2>/dev/null || fail "first take"
assert_eq "$(seqs "$T/a.out")" "1 3 6 " "first take"
wait_cursor() { # AGENT DURABLE CURSOR
    n=200
    until [ "$(jget "$(jobj "$(durables)" agent "$1" "\"durable\":\"$2\"")" cursor)" = "$3" ]; do
        n=$((n - 1)); [ $n -gt 0 ] || fail "$1/$2 never reached cursor $3: $(durables)"
        sleep 0.05
    done
}
wait_cursor rocu feed 6
assert_eq "$(jget "$(jobj "$(durables)" agent rocu '"durable":"feed"')" backlog)" 0 "backlog after the take"
ctl rocu durables rewind feed --to-seq 3 >"$T/rw.out" || fail "rocu rewinding its own durable"
assert_eq "$(cat "$T/rw.out")" "rewound feed: cursor 2 (was 6)" "rewind output"
assert_eq "$(jget "$(jobj "$(durables)" agent rocu '"durable":"feed"')" backlog)" 2 "backlog after rewind"
ctl rocu sub 'alert.a.>' --durable feed --count 2 --timeout 20 >"$T/b.out" 2>/dev/null || fail "after rewind"
assert_eq "$(seqs "$T/b.out")" "3 6 " "redelivered from seq 3"

# ---- rewind by time (the received_at of seq 3, as sub --since reads it) ----
wait_cursor rocu feed 6
since=$(sed -n 's/.*"received_at":"\([^"]*\)".*/\1/p' "$T/a.out" | sed -n 2p)
[ -n "$since" ] || fail "no received_at in the deliveries"
ctl ops durables rewind rocu/feed --since "$since" --json >"$T/rw2.json" || fail "rewind --since"
assert_eq "$(cat "$T/rw2.json")" '{"ok":true,"old_cursor":6,"cursor":2}' "rewind --since"
ctl rocu sub 'alert.a.>' --durable feed --count 2 --timeout 20 >"$T/c.out" 2>/dev/null || fail "after rewind --since"
assert_eq "$(seqs "$T/c.out")" "3 6 " "redelivered from the time"

# ---- a rewind of a held durable: the live subscription goes back too ----
wait_cursor rocu feed 6
sub_bg rocu 'alert.a.>' --durable feed --count 3 --timeout 20
ctl ops durables rewind rocu/feed --to-seq 1 >/dev/null || fail "rewind of a held durable"
sub_wait rocu || fail "the held subscription did not get its 3 again"
assert_eq "$(seqs "$T/rocu.out")" "1 3 6 " "a held durable rewound"

# ---- delete: refused while held, then --force ends the holder ----
wait_cursor rocu feed 6
"$BIN/liaisonctl" -c "$T/rocu.cfg" sub 'alert.a.>' --durable feed --timeout 60 >"$T/held.out" 2>"$T/held.err" &
HELD=$!
PIDS="$PIDS $HELD"
wait_for "$T/held.err" "subscribed"
assert_eq "$(jget "$(jobj "$(durables)" agent rocu '"durable":"feed"')" held)" true "held"
if ctl ops durables delete rocu/feed 2>"$T/d.err"; then fail "deleted a held durable without --force"; fi
assert_contains "$T/d.err" DURABLE_IN_USE
ctl ops durables delete rocu/feed --force >"$T/d.out" || fail "delete --force"
assert_eq "$(cat "$T/d.out")" "deleted rocu/feed" "delete output"
rc=0
wait "$HELD" || rc=$?
[ "$rc" -ne 0 ] || fail "the held subscription did not end"
assert_contains "$T/held.err" DURABLE_DELETED
durables >"$T/after.json"
assert_not_contains "$T/after.json" '"durable":"feed"'
# Not held: deleted at once. A new durable of the name starts afresh at the tail.
ctl rocu sub 'alert.a.>' --durable other --timeout 0.2 >/dev/null 2>&1 || true
ctl rocu durables delete other >/dev/null || fail "rocu deleting its own durable"
ctl rocu sub 'alert.a.>' --durable feed --timeout 0.2 >/dev/null 2>&1 || true
assert_eq "$(jget "$(jobj "$(durables)" agent rocu '"durable":"feed"')" cursor)" 6 "a new feed starts at the tail"

# ---- the audit trail: each action, with the old and new cursor ----
ctl auditor audit tail -n 500 >"$T/audit.jsonl" || fail "audit tail"
grep '"action":"durable_rewind"' "$T/audit.jsonl" | grep '"actor":"rocu"' | grep '"recipient":"rocu/feed"' |
    grep -q '"reason":"cursor 6 to 2"' || fail "rocu's rewind not audited: $(grep durable_ "$T/audit.jsonl")"
grep '"action":"durable_rewind"' "$T/audit.jsonl" | grep '"actor":"ops"' | grep -q '"reason":"cursor 6 to 0"' ||
    fail "the held rewind not audited"
grep '"action":"durable_delete"' "$T/audit.jsonl" | grep '"actor":"ops"' | grep '"recipient":"rocu/feed"' |
    grep -q '"reason":"cursor 6 to none, held: ended"' || fail "the forced delete not audited"
grep '"action":"durable_delete"' "$T/audit.jsonl" | grep '"actor":"rocu"' | grep -q '"recipient":"rocu/other"' ||
    fail "rocu's own delete not audited"
grep '"action":"durables"' "$T/audit.jsonl" | grep '"actor":"ops"' | grep -q '"outcome":"ok"' ||
    fail "the list is not audited as a consultation"
grep '"action":"durable_change"' "$T/audit.jsonl" | grep '"actor":"hull"' | grep -q '"outcome":"refused"' ||
    fail "hull's refused delete not audited"

# ---- the agent deletes the durables its config no longer names ----
ctl hull sub 'alert.>' --durable orphan --timeout 0.2 >/dev/null 2>&1 || true
durables >"$T/o.json"
assert_contains "$T/o.json" '"agent":"hull","durable":"orphan"'
mkdir -p "$T/inbox/one" "$T/inbox/two"
agent_full_cfg hull <<EOF2
$(sub_entry one 'alert.a.>' "dir:$T/inbox/one"),
$(sub_entry two 'alert.b.>' "dir:$T/inbox/two")
EOF2
start_agent hull
wait_for "$T/hull.agent.log" 'event=durable_removed name=orphan'
n=200
until durables >"$T/h.json" && grep -q '"agent":"hull","durable":"two"' "$T/h.json"; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "hull's durables never listed: $(cat "$T/h.json")"
    sleep 0.05
done
assert_not_contains "$T/h.json" '"durable":"orphan"'
agent_full_cfg hull <<EOF2
$(sub_entry one 'alert.a.>' "dir:$T/inbox/one")
EOF2
kill -HUP "$(agent_pid hull)"
wait_for "$T/hull.agent.log" 'event=durable_removed name=two'
durables >"$T/h2.json"
assert_contains "$T/h2.json" '"agent":"hull","durable":"one"'
assert_not_contains "$T/h2.json" '"durable":"two"'
stop_agent hull

# ---- the topics view is exact above 50,000 messages ----
# 55,000 in two prefixes (30,000 and 25,000), then what the view says.
awk 'BEGIN { for (i = 0; i < 55000; i++)
    printf "{\"topic\":\"bulk.%s.t%d\",\"classification\":\"OFFICIAL\",\"grading\":\"2B\",\"handling\":\"P\",\"risk\":\"LOW\",\"content_type\":\"text/plain\",\"body\":\"b\",\"msg_id\":\"bulk-%d\"}\n",
        (i < 30000 ? "x" : "y"), i % 7, i }' | ctl police pub - >/dev/null || fail "bulk publish"
J=$(ctl ops topics --json) || fail "topics"
assert_eq "$(jget "$J" complete)" true "topics complete"
assert_eq "$(jget "$(jobj "$J" prefix bulk.x)" messages)" 30000 "bulk.x counted"
assert_eq "$(jget "$(jobj "$J" prefix bulk.y)" messages)" 25000 "bulk.y counted"
assert_eq "$(jget "$(jobj "$J" prefix alert.a)" messages)" 3 "alert.a counted"
assert_eq "$(jget "$J" scanned)" 55006 "every message counted"
# And after a restart, counted again from the store.
stop_broker
start_broker
n=200
until [ "$(jget "$(ctl ops topics --json)" source)" = counts ]; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "the counts were never ready after a restart"
    sleep 0.1
done
J=$(ctl ops topics --json) || fail "topics after restart"
assert_eq "$(jget "$(jobj "$J" prefix bulk.x)" messages)" 30000 "bulk.x after restart"
assert_eq "$(jget "$(jobj "$J" prefix bulk.y)" messages)" 25000 "bulk.y after restart"
stop_broker
echo "58 ok"
