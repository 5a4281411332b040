# fault 03: a durable subscriber is away while FAULT_BACKLOG messages
# (default 100000) pile up for it: the backlog lives in LMDB, not in the
# broker's heap — its anonymous memory (RssAnon) stays under 64 MiB — and
# when the subscriber returns it catches up on every message.
. "$(dirname "$0")/../integration/lib.sh"
N=${FAULT_BACKLOG:-100000}
keygen broker police rocu
MAP_MB=2048 broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu)
EOF2
agent_cfg police; agent_cfg rocu
start_broker
rss() { awk '/^RssAnon/ {print $2}' "/proc/$BROKER_PID/status"; }
ctl rocu sub 'alert.>' --durable away --timeout 0.3 >/dev/null 2>&1 || true
before=$(rss)
: >"$T/acked.txt"
"$BIN/tools/retrypub" "$T/police.cfg" "$N" "$T/acked.txt" 2000 2>"$T/pub.err" || fail "publish: $(cat "$T/pub.err")"
after=$(rss)
echo "broker RssAnon: ${before} kB before, ${after} kB with a backlog of $N messages"
case "$BIN" in
*asan*) ;; # the sanitizer's own bookkeeping makes heap figures meaningless
*) [ "$after" -le 65536 ] || fail "RssAnon ${after} kB over 64 MiB with a backlog of $N" ;;
esac
ctl rocu sub 'alert.>' --durable away --count "$N" --timeout 300 >"$T/got.jsonl" 2>/dev/null || fail "catch-up"
assert_eq "$(sed -n 's/.*"msg_id":"\(fault-[0-9]*\)".*/\1/p' "$T/got.jsonl" | sort -u | wc -l)" "$N" "caught up"
stop_broker
echo "fault 03 ok: RssAnon ${before} -> ${after} kB over a backlog of $N"
