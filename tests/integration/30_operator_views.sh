# 30: an operator's views after known traffic. A police force publishes six
# messages (one SECRET) and has one publish refused; a ROCU (OFFICIAL) holds a
# durable subscription and a prison an ephemeral one. `liaisonctl status,
# agents, subs, topics, watch` (tables and --json) show exactly those
# counts; the ROCU's durable subscription is listed with its backlog while
# the ROCU is away. A key without the operator role is refused; status
# queries are audited as consultation, aggregated rather than one record
# per query.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops_lib.sh"
keygen broker police rocu prison ops auditor
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"' SECRET '' '"publisher", "receiver"' police yorkshire),
$(agent rocu '' '"alert.>"' OFFICIAL '' '"receiver"' rocu yorkshire),
$(agent prison '' '"alert.>"' OFFICIAL '' '"receiver"' prison yorkshire),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
for a in police rocu prison ops auditor; do agent_cfg $a; done
start_broker

# Round 1: both subscribers on line; four publishes, one of them SECRET.
sub_bg rocu 'alert.>' --durable regional --count 3 --timeout 10
sub_bg prison 'alert.yorkshire.>' --count 1 --timeout 10
{
    msg alert.yorkshire.hull.drugs OFFICIAL           # 1: rocu, prison
    msg alert.yorkshire.hull.guns SECRET              # 2: withheld from both
    msg alert.national.firearms OFFICIAL              # 3: rocu
    msg alert.national.cyber OFFICIAL                 # 4: rocu
} | ctl police pub - >"$T/pub1.out" || fail "round 1 refused"
sub_wait rocu || fail "rocu did not get its 3 messages"
sub_wait prison || fail "prison did not get its message"
if msg other.topic OFFICIAL | ctl police pub - 2>"$T/refused.err"; then fail "publish outside permissions accepted"; fi
assert_contains "$T/refused.err" TOPIC_NOT_PERMITTED

# Wait (bounded) until both subscribers' connections are reaped, so the
# ROCU's durable subscription is "away" and the prison's is gone.
n=200
while :; do
    ctl ops subs --json >"$T/subs.json" || fail "subs refused"
    grep -q '"connected":true' "$T/subs.json" || break
    n=$((n - 1)); [ $n -gt 0 ] || fail "subscribers never disconnected: $(cat "$T/subs.json")"
    sleep 0.1
done
# Round 2 while the ROCU is away: its backlog grows by two.
{ msg alert.national.fraud OFFICIAL; msg alert.yorkshire.leeds.drugs OFFICIAL; } |
    ctl police pub - >"$T/pub2.out" || fail "round 2 refused"
assert_eq "$(tr '\n' ' ' <"$T/pub2.out")" "seq 5 seq 6 " "round 2 sequences"

# ---- status --json ----
S=$(ctl ops status --json) || fail "status refused"
for kv in last_seq=6 messages=6 publishes=6 publish_refused=1 duplicates=0 deliveries=4 \
    delivery_refused=2 notices=0 redeliveries=0 dead_letters=0 agents_configured=5 backlog=2; do
    assert_eq "$(jget "$S" "${kv%%=*}")" "${kv#*=}" "status ${kv%%=*}"
done
assert_eq "$(jget "$S" version)" "0.1.0" "status version"
# Refused publishes and withheld deliveries are two rates, never one mixed.
R=$(printf '%s' "$S" | grep -o '"rates":{[^}]*}')
for k in publishes_refused deliveries_withheld; do
    [ -n "$(jget "$R" "$k")" ] || fail "rates has no $k: $R"
done
assert_eq "$(jget "$S" oldest_unacked)" "null" "nothing unacked"
# ---- status as a table ----
ctl ops status >"$T/status.txt" || fail "status table"
assert_contains "$T/status.txt" '^store      6 messages (seq 1\.\.6)'
assert_contains "$T/status.txt" 'publishes refused, .* deliveries withheld'
assert_contains "$T/status.txt" '^totals     6 published, 1 refused, 0 duplicates; 4 delivered, 0 notices, 2 withheld;'
assert_contains "$T/status.txt" '^backlog    2 messages behind'
assert_contains "$T/status.txt" '^unacked    none'

# ---- subs ----
J=$(ctl ops subs --json) || fail "subs refused"
R=$(jobj "$J" agent rocu '"durable":"regional"')
[ -n "$R" ] || fail "rocu/regional missing from subs: $J"
for kv in connected=false pattern='alert.>' backlog=2 in_flight=0 delivered=3 acked=3 withheld=1 \
    redelivered=0 dead_lettered=0 id=null; do
    assert_eq "$(jget "$R" "${kv%%=*}")" "${kv#*=}" "rocu/regional ${kv%%=*}"
done
[ -z "$(jobj "$J" agent prison)" ] || fail "prison's ephemeral subscription outlived its connection"
ctl ops subs >"$T/subs.txt" || fail "subs table"
assert_eq "$(awk '$1 == "rocu" && $2 == "regional" { print $3, $4, $5, $6, $8, $9, $12 }' "$T/subs.txt")" \
    "alert.> away 2 - 3 3 1" "subs table row for rocu/regional"
assert_eq "$(head -n 1 "$T/subs.txt" | awk '{ print $1, $2, $5 }')" "AGENT SUBSCRIPTION BACKLOG" "subs table heading"

# ---- agents ----
J=$(ctl ops agents --json 2>"$T/agents.err") || fail "agents refused: $(cat "$T/agents.err")"
A=$(jobj "$J" name police)
for kv in messages_in=6 messages_out=0 publish_refused=1 withheld=0 configured=true revoked=false; do
    assert_eq "$(jget "$A" "${kv%%=*}")" "${kv#*=}" "police ${kv%%=*}"
done
A=$(jobj "$J" name rocu)
for kv in messages_in=0 messages_out=3 withheld=1 connected=false sessions=0 connected_since=null; do
    assert_eq "$(jget "$A" "${kv%%=*}")" "${kv#*=}" "rocu ${kv%%=*}"
done
[ "$(jget "$A" last_seen)" != null ] || fail "rocu's last_seen is missing"
A=$(jobj "$J" name prison)
for kv in messages_out=1 withheld=1 connected=false; do
    assert_eq "$(jget "$A" "${kv%%=*}")" "${kv#*=}" "prison ${kv%%=*}"
done
A=$(jobj "$J" name auditor)
for kv in connected=false last_seen=null messages_in=0; do
    assert_eq "$(jget "$A" "${kv%%=*}")" "${kv#*=}" "auditor ${kv%%=*}"
done
ctl ops agents >"$T/agents.txt" || fail "agents table"
# AGENT TYPE REGION STATE SINCE LASTSEEN(2 words) IN OUT REFUSED WITHHELD SUBS
assert_eq "$(awk '$1 == "police" { print $2, $3, $(NF-4), $(NF-3), $(NF-2), $(NF-1) }' "$T/agents.txt")" \
    "police yorkshire 6 0 1 0" "agents table row for police"
assert_eq "$(awk '$1 == "rocu" { print $4, $5 }' "$T/agents.txt")" "- -" "agents table: rocu not connected"
assert_eq "$(awk '$1 == "rocu" { print $(NF-3), $(NF-1) }' "$T/agents.txt")" "3 1" "agents table: rocu out, withheld"

# ---- topics ----
J=$(ctl ops topics --json) || fail "topics refused"
assert_eq "$(jget "$J" complete)" true "topics read the whole store"
assert_eq "$(jget "$J" scanned)" 6 "topics scanned"
# The operator is OFFICIAL: the SECRET message's topic is not shown, only
# counted under its first two tokens.
assert_eq "$(jget "$(jobj "$J" prefix alert.yorkshire)" messages)" 2 "alert.yorkshire messages"
assert_eq "$(jget "$(jobj "$J" prefix alert.yorkshire '"above_clearance":true')" messages)" 1 \
    "alert.yorkshire messages above the operator's clearance"
J3=$(ctl ops topics --depth 4 --json) || fail "topics --depth 4"
case "$J3" in *guns*) fail "a topic above the operator's clearance is shown" ;; esac
assert_eq "$(jget "$(jobj "$J" prefix alert.national)" messages)" 3 "alert.national messages"
J1=$(ctl ops topics --depth 1 --json) || fail "topics --depth 1"
assert_eq "$(jget "$(jobj "$J1" prefix alert)" messages)" 5 "alert messages at depth 1"
B1=$(jget "$(jobj "$J1" prefix alert)" bytes)
B2=$(($(jget "$(jobj "$J" prefix alert.yorkshire)" bytes) + $(jget "$(jobj "$J" prefix alert.national)" bytes)))
assert_eq "$B1" "$B2" "bytes per prefix add up"
ctl ops topics >"$T/topics.txt" || fail "topics table"
assert_eq "$(awk '$1 ~ /^alert\./ { print $1, $2 }' "$T/topics.txt" | tr '\n' ' ')" \
    "alert.national 3 alert.yorkshire 2 " "topics table"
if ctl ops topics --depth 0 2>/dev/null; then fail "topics --depth 0 accepted"; fi

# ---- watch ----
ctl ops watch --count 2 --interval 0.5 --json >"$T/watch.jsonl" || fail "watch --json"
assert_eq "$(wc -l <"$T/watch.jsonl")" 2 "watch --json lines"
for k in '"status":{' '"agents":\[' '"subscriptions":\[' '"topics":{'; do
    assert_eq "$(grep -c "$k" "$T/watch.jsonl")" 2 "watch --json holds $k"
done
assert_eq "$(jget "$(tail -n 1 "$T/watch.jsonl")" publishes)" 6 "watch publishes"
ctl ops watch --count 1 >"$T/watch.txt" || fail "watch"
for k in '^store      6 messages' '^SUBSCRIPTIONS' '^AGENTS' '^TOPICS' '^rocu  *regional  *alert\.>  *away  *2 '; do
    assert_contains "$T/watch.txt" "$k"
done

# ---- refusals ----
for v in status agents subs topics watch; do
    if ctl police $v >"$T/p.out" 2>"$T/p.err"; then fail "police (no operator role) got $v"; fi
    assert_contains "$T/p.err" ROLE_MISSING
    [ ! -s "$T/p.out" ] || fail "police's refused $v printed something"
done
if ctl auditor status 2>"$T/a.err"; then fail "the auditor got status"; fi
assert_contains "$T/a.err" ROLE_MISSING

# A receiver connected with nothing to receive on is flagged.
"$BIN/tools/rawclient" "$T/rocu.cfg" idle >"$T/idle.out" 2>&1 &
IDLE=$!
PIDS="$PIDS $IDLE"
wait_for "$T/idle.out" "^idle"
J=$(ctl ops agents --json 2>"$T/agents.err") || fail "agents refused: $(cat "$T/agents.err")"
assert_eq "$(jget "$(jobj "$J" name rocu)" no_live_subscription)" true "rocu connected, receiving nothing"
wait "$IDLE" 2>/dev/null || true

# ---- audit: consultation, aggregated ----
# Many status queries by ops so far (the wait loop, every view, two
# watches): the trail holds far fewer records than queries, and the
# refusals are there with their rule.
ctl auditor audit export >"$T/audit.jsonl" || fail "audit export"
ok=$(grep '"action":"status"' "$T/audit.jsonl" | grep '"actor":"ops"' | grep -c '"outcome":"ok"' || true)
[ "$ok" -ge 1 ] || fail "no consultation record for ops"
[ "$ok" -le 2 ] || fail "status queries not aggregated: $ok records for ops"
grep '"action":"status"' "$T/audit.jsonl" | grep '"actor":"police"' | grep '"outcome":"refused"' |
    grep -q '"reason":"role"' || fail "police's refused status not audited with its rule"
stop_broker
"$BIN/liaisonctl" audit verify --data-dir "$T/data/broker" >"$T/verify.out" || fail "audit verify: $(cat "$T/verify.out")"
echo "30 ok"
