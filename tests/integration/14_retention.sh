# 14: retention erases by count per topic pattern (oldest first) and by
# review date, in bounded passes; every erasure is audited with metadata
# only; replaying an erased sequence is a clear NOT_FOUND; the chain stays
# intact; sequence numbers are never reused even when the newest go.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu auditor
broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
sed -i 's|metrics = "";|metrics = ""; retention_interval_s = 1;|' "$T/broker.cfg"
echo 'retention = ( { pattern = "alert.short.>"; max_messages = 3; }, { pattern = "alert.>"; max_age_days = 3650; } );' >>"$T/broker.cfg"
agent_cfg police; agent_cfg rocu; agent_cfg auditor
"$BIN/liaison-broker" -c "$T/broker.cfg" --check-config >/dev/null || fail "config with retention"
start_broker
seqs() { sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$1" | tr '\n' ' '; }
{
    msg alert.short.a OFFICIAL ',"subjects":["S-SECRET-1"]' 'first short'  # 1
    msg alert.short.a OFFICIAL                                              # 2
    msg alert.keep.a OFFICIAL                                               # 3
    msg alert.short.a OFFICIAL                                              # 4
    msg alert.short.a OFFICIAL                                              # 5
    msg alert.short.a OFFICIAL                                              # 6
    msg alert.keep.b OFFICIAL ',"review_at":"2020-01-31"'                  # 7: review date long past
    msg alert.keep.c OFFICIAL ',"review_at":"2099-01-31"'                  # 8
} | ctl police pub - >/dev/null || fail publish
wait_for "$T/broker.log" "event=retention_erased"
# Passes are bounded: wait (as a safety net only) until all three are made.
ctl auditor audit export --action erase >"$T/erase.jsonl" || fail export
n=0
while [ "$(grep -c . "$T/erase.jsonl")" -lt 3 ] && [ $n -lt 100 ]; do
    sleep 0.1; n=$((n + 1)); ctl auditor audit export --action erase >"$T/erase.jsonl"
done
assert_eq "$(sed -n 's/.*"msg_seq":\([0-9]*\).*"reason":"\([a-z_]*\)".*/\1 \2/p; s/.*"reason":"\([a-z_]*\)".*"msg_seq":\([0-9]*\).*/\2 \1/p' "$T/erase.jsonl" | sort -n | tr '\n' ',')" \
    "1 max_messages,2 max_messages,7 review_at," "erasures"
assert_not_contains "$T/erase.jsonl" "S-SECRET-1"
assert_not_contains "$T/erase.jsonl" "first short"
ctl rocu sub 'alert.>' --from-seq 3 --count 5 --timeout 10 >"$T/r.out" 2>/dev/null || fail "replay"
assert_eq "$(seqs "$T/r.out")" "3 4 5 6 8 " "what remains"
if ctl rocu sub 'alert.>' --from-seq 1 --count 1 --timeout 5 2>"$T/nf.err"; then fail "erased sequence replayed"; fi
assert_contains "$T/nf.err" NOT_FOUND
stop_broker
"$BIN/liaisonctl" audit verify --data-dir "$T/data/broker" >"$T/v.out" || fail "chain after erasure: $(cat "$T/v.out")"
# The newest message erased and the broker restarted: its number is not reused.
start_broker
printf '%s\n' '{"topic":"alert.keep.z","classification":"OFFICIAL","grading":"2B","handling":"P","risk":"LOW","review_at":"2020-01-01","body":"x"}' | ctl police pub - >"$T/p9.out" || fail pub9
assert_eq "$(cat "$T/p9.out")" "seq 9"
n=0; while ! ctl auditor audit export --action erase | grep -q '"msg_seq":9' && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
stop_broker
start_broker
msg alert.keep.y OFFICIAL | ctl police pub - >"$T/p10.out" || fail pub10
assert_eq "$(cat "$T/p10.out")" "seq 10" "sequence after the newest was erased"
stop_broker
echo "14 ok"
