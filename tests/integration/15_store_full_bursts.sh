# 15: bursts of publishes of mixed sizes (10 B to 60 KB, 64 in flight) fill
# a 3 MiB store. Every PubAck names the message stored under its sequence
# (proved by replay), no two PubAcks name one sequence, the rest are refused
# with STORE_FULL, and the full store still delivers everything acked.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu
MAP_MB=3 broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu)
EOF2
agent_cfg police; agent_cfg rocu
start_broker
: >"$T/acked.txt"
N=300
RETRYPUB_MIXED=1 "$BIN/tools/retrypub" "$T/police.cfg" "$N" "$T/acked.txt" 64 2>"$T/retrypub.err" ||
    fail "publisher: $(cat "$T/retrypub.err")"
grep -v ' FULL$' "$T/acked.txt" | sort -k2,2n >"$T/acked.pairs"
acked=$(wc -l <"$T/acked.pairs" | tr -d ' ')
refused=$(grep -c ' FULL$' "$T/acked.txt" || true)
[ "$acked" -gt 10 ] || fail "only $acked acked before the store filled"
[ "$refused" -gt 0 ] || fail "the 3 MiB store never filled"
assert_eq "$(cut -d' ' -f2 "$T/acked.pairs" | uniq -d | wc -l | tr -d ' ')" 0 "sequences acked twice"
assert_eq "$(cut -d' ' -f1 "$T/acked.pairs" | sort | uniq -d | wc -l | tr -d ' ')" 0 "msg_ids acked twice"
assert_contains "$T/broker.log" "event=store_full"
# Small publishes still fit for a while above the reserve; the store then
# refuses them too.
for i in $(seq 1 5000); do msg alert.y.small OFFICIAL ",\"msg_id\":\"small-$i\""; done |
    ctl police pub - >"$T/small.out" 2>"$T/small.err" && fail "5000 small publishes were accepted into a full store"
assert_contains "$T/small.err" STORE_FULL
small=$(grep -c '^seq' "$T/small.out" || true)

# While it is full: the receiver replays the bursts' messages (they hold
# the lowest sequences), and each acked (msg_id, seq) is exactly what the
# store holds under that sequence, with the body that msg_id was sent with
# (its length is a function of its number, and it starts with its msg_id).
# Each delivery is recorded in the audit trail, out of the reserve, so the
# replays ask for no more than the reserve is sure to record: how many
# small publishes fit above it varies with timing (from about 100 to 2,800),
# and replaying them all twice would use the reserve up. What a full store
# does then is in the README's limits.
ctl rocu sub 'alert.>' --from-seq 1 --count "$acked" --timeout 60 >"$T/store.jsonl" 2>"$T/sub.err" ||
    fail "replay while full: $(cat "$T/sub.err")"
assert_eq "$(wc -l <"$T/store.jsonl" | tr -d ' ')" "$acked" "stored messages"
python3 - "$T/store.jsonl" "$T/acked.pairs" <<'PY' || fail "a PubAck names a message that is not the one stored"
import json, sys
stored = {}
for line in open(sys.argv[1]):
    m = json.loads(line)
    stored[m["seq"]] = m
bad = 0
for line in open(sys.argv[2]):
    mid, seq = line.split()
    i = int(mid.split("-")[1])
    m = stored.get(int(seq))
    want = 10 + (i * 7919) % 60000
    if m is None or m["msg_id"] != mid or len(m["body"]) != want or not m["body"].startswith(mid):
        print("seq", seq, "acked for", mid, "holds", m and m["msg_id"], file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
PY
# A live durable subscriber still gets them while the store is full: its
# deliveries and cursor writes use the reserve.
ctl rocu sub 'alert.>' --durable late --count 0 --timeout 1 >/dev/null 2>&1 || true
ctl rocu sub 'alert.>' --from-seq 1 --count "$acked" --timeout 60 >"$T/again.jsonl" 2>/dev/null ||
    fail "second replay while full"
assert_eq "$(wc -l <"$T/again.jsonl" | tr -d ' ')" "$acked" "delivered again while full"
stop_broker
echo "15 ok (acked $acked and $small small, refused $refused as full)"
