# 19: the trail records what it must, and a peer cannot make it grow at
# will. A status reply leaves only once its consultation record is on disk
# (kill -9 right after the reply: the record is there). Handshakes with 40
# fresh random keys leave a handful of records, not 40. A refused publish
# with a 500 KB topic leaves a bounded record. An OFFICIAL receiver
# replaying 300 SECRET messages twice leaves two withhold records (count
# and range), not 600.
. "$(dirname "$0")/lib.sh"
keygen broker police official ops auditor
broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent official '' '"alert.>"' OFFICIAL '' '"receiver"' police),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
for a in police official ops auditor; do agent_cfg $a; done
start_broker

# A consultation answered is a consultation recorded.
ctl ops status --json >/dev/null || fail "status"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
start_broker
ctl auditor audit export >"$T/t1.jsonl" 2>/dev/null || fail "audit export"
grep '"action":"status"' "$T/t1.jsonl" | grep -q '"actor":"ops"' ||
    fail "a status reply left before its record was on disk"

# Unauthenticated handshakes.
"$BIN/tools/rawclient" "$T/police.cfg" handshakes 40 >"$T/hs.out" 2>&1 || fail "rawclient handshakes"
wait_for "$T/broker.log" "unknown key" 20
n=0
while [ "$(grep -c 'event=auth_refused' "$T/broker.log" || true)" -lt 40 ]; do
    n=$((n + 1)); [ $n -lt 600 ] || fail "the broker saw $(grep -c event=auth_refused "$T/broker.log") of 40 handshakes"
    sleep 0.05
done

# A refused publish with a 500 KB topic.
big=$(head -c 500000 /dev/zero | tr '\0' 'X')
printf '{"topic":"%s","classification":"OFFICIAL","grading":"2B","handling":"P","risk":"LOW","body":"x"}\n' "$big" |
    ctl police pub - >/dev/null 2>"$T/big.err" && fail "a 500 KB topic was accepted"
assert_contains "$T/big.err" BAD_TOPIC

# Replays by a receiver that may see none of it.
for i in $(seq 1 300); do msg alert.y.secret SECRET ",\"msg_id\":\"s-$i\""; done | ctl police pub - >/dev/null ||
    fail "publishing 300"
for r in 1 2; do
    ctl official sub 'alert.>' --from-seq 1 --timeout 2 >"$T/replay$r.out" 2>/dev/null || true
    assert_eq "$(grep -c '"seq"' "$T/replay$r.out" || true)" 0 "messages an OFFICIAL receiver got"
done
stop_broker
"$BIN/liaisonctl" audit verify --data-dir "$T/data/broker" >/dev/null || fail "audit verify"
start_broker
ctl auditor audit export >"$T/trail.jsonl" 2>/dev/null || fail "audit export"
stop_broker

auth=$(grep -c '"action":"authenticate"' "$T/trail.jsonl" || true)
[ "$auth" -le 10 ] || fail "$auth authenticate records for 40 unknown keys"
grep '"action":"authenticate"' "$T/trail.jsonl" | grep -q 'unknown keys from' ||
    fail "unknown keys past the first few are not aggregated by address"
longest=$(grep '"action":"publish"' "$T/trail.jsonl" | grep '"outcome":"refused"' | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
[ "$longest" -lt 2000 ] || fail "a refused publish's record of $longest bytes"
grep '"action":"publish"' "$T/trail.jsonl" | grep -q '500000 bytes' || fail "the refused topic's length is not recorded"
withheld=$(grep '"action":"withhold"' "$T/trail.jsonl" | grep -c '"recipient":"official"' || true)
assert_eq "$withheld" 2 "withhold records for two replays of 300"
grep '"action":"withhold"' "$T/trail.jsonl" | grep '"recipient":"official"' | grep -q '"count":300' ||
    fail "a replay's withhold record does not carry its count"
echo "19 ok"
