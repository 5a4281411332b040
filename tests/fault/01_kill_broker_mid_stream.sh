# fault 01: a retrying publisher streams FAULT_N messages (default 50000)
# while the broker is killed with SIGKILL three times and restarted, and a
# durable subscriber keeps reconnecting. Afterwards every PubAcked msg_id is
# stored exactly once, nothing was stored twice, and the subscriber got
# every one at least once (its duplicate count is printed).
. "$(dirname "$0")/../integration/lib.sh"
N=${FAULT_N:-50000}
keygen broker police rocu
broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu)
EOF2
agent_cfg police; agent_cfg rocu
start_broker
ctl rocu sub 'alert.>' --durable feed --timeout 0.3 >/dev/null 2>&1 || true

: >"$T/acked.txt"
"$BIN/tools/retrypub" "$T/police.cfg" "$N" "$T/acked.txt" 500 2>"$T/retrypub.err" &
PUB=$!
PIDS="$PIDS $PUB"
# The subscriber: whatever it prints was acked after printing.
(
    while [ ! -f "$T/sub.stop" ]; do
        "$BIN/liaisonctl" -c "$T/rocu.cfg" sub 'alert.>' --durable feed --timeout 2 >>"$T/got.jsonl" 2>>"$T/sub.err" || true
    done
) &
SUBLOOP=$!
PIDS="$PIDS $SUBLOOP"

kills=0
for k in 1 2 3; do
    want=$((N * k / 4))
    n=0
    while [ "$(wc -l <"$T/acked.txt")" -lt "$want" ]; do
        kill -0 "$PUB" 2>/dev/null || break
        sleep 0.05
        n=$((n + 1)); [ $n -lt 6000 ] || fail "publisher stalled at $(wc -l <"$T/acked.txt")"
    done
    kill -9 "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
    kills=$((kills + 1))
    cat "$T/broker.log" >>"$T/broker.all.log"
    start_broker
done
wait "$PUB" || fail "publisher failed: $(cat "$T/retrypub.err")"
acked=$(cut -d' ' -f1 "$T/acked.txt" | sort -u | wc -l)
assert_eq "$acked" "$N" "acked msg_ids"

# The store holds each acked msg_id exactly once (dedup across retries).
ctl rocu sub 'alert.>' --from-seq 1 --count "$N" --timeout 120 >"$T/store.jsonl" 2>/dev/null || fail "replay of the store"
ids() { sed -n 's/.*"msg_id":"\(fault-[0-9]*\)".*/\1/p' "$1"; }
ids "$T/store.jsonl" | sort >"$T/store.ids"
assert_eq "$(wc -l <"$T/store.ids")" "$N" "messages stored"
assert_eq "$(uniq -d "$T/store.ids" | wc -l)" 0 "msg_ids stored twice"
cut -d' ' -f1 "$T/acked.txt" | sort -u >"$T/acked.ids"
assert_eq "$(comm -23 "$T/acked.ids" "$T/store.ids" | wc -l)" 0 "acked but not stored"
# Acked sequences and stored ones agree.
sort -u "$T/acked.txt" | sort -k1,1 >"$T/acked.pairs"

# The durable subscriber gets everything, at least once.
n=0
while [ "$(ids "$T/got.jsonl" | sort -u | wc -l)" -lt "$N" ]; do
    sleep 0.2
    n=$((n + 1)); [ $n -lt 600 ] || fail "subscriber has $(ids "$T/got.jsonl" | sort -u | wc -l) of $N"
done
touch "$T/sub.stop"
wait "$SUBLOOP" 2>/dev/null || true
got=$(ids "$T/got.jsonl" | wc -l)
stop_broker
echo "fault 01 ok: $N acked through $kills kills, stored once each; subscriber got $got deliveries ($((got - N)) duplicates)"
