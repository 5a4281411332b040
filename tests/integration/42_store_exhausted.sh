# 42: a full store's reserve used up. A 1 MiB store is filled until
# publishes are refused, then replayed until the delivery records a full
# store still writes have used up the reserve kept for them, and a durable
# subscriber owed every message comes back. The broker must not spin
# planning deliveries that cannot be stored (it once retried a commit LMDB
# refused, pass after pass): it says so once (event=store_exhausted),
# holds the deliveries — leaving the last of the reserve for erasures and
# cursors — and tries any refused commit no more often than a capped
# backoff allows (refused commits are counted in status), keeps answering
# status views and refusing publishes, and resumes by itself once room
# appears: after a restart with a larger map, and in place when retention
# erases old messages. The deliveries held meanwhile then arrive, and
# every acked message replays intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops_lib.sh"
keygen broker police rocu ops
MAP_MB=1 broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national)
EOF2
sed -i 's|metrics = "";|metrics = ""; retention_interval_s = 1;|' "$T/broker.cfg"
agent_cfg police; agent_cfg rocu; agent_cfg ops

status() { ctl ops status --json 2>"$T/status.err" || fail "status refused: $(cat "$T/status.err")"; }

# Fills the store, uses its reserve up, and brings the durable "held" back
# (live, in the background, writing $T/rocu.out). Sets ACKED.
exhaust() {
    # Made while there is room, then left: what follows is owed to it.
    ctl rocu sub 'alert.>' --durable held --count 1 --timeout 0.5 >/dev/null 2>"$T/held0.err" || true
    assert_contains "$T/held0.err" subscribed
    pad=$(head -c 300 /dev/zero | tr '\0' 'x')
    for i in $(seq 1 4000); do msg alert.y.fill OFFICIAL ",\"msg_id\":\"fill-$i\"" "fill-$i-$pad"; done |
        ctl police pub --json - >"$T/fill.out" 2>"$T/fill.err" && fail "4000 publishes fit in 1 MiB"
    assert_contains "$T/fill.err" STORE_FULL
    ACKED=$(grep -c '"seq"' "$T/fill.out" || true)
    [ "$ACKED" -gt 100 ] || fail "only $ACKED acked before the store filled"
    # Each delivery is recorded out of the reserve: replays of the whole
    # store use it up, and one then stops short.
    short=0
    for r in $(seq 1 40); do
        if ! ctl rocu sub 'alert.>' --from-seq 1 --count "$ACKED" --timeout 10 >"$T/r.out" 2>"$T/r.err"; then
            short=1
            break
        fi
    done
    [ "$short" = 1 ] || fail "40 replays of a full store never used its reserve up"
    wait_for "$T/broker.log" "event=store_exhausted" 5
    sub_bg rocu 'alert.>' --durable held --count "$ACKED" --timeout 600
}

# Over a few seconds of an exhausted store with a subscriber waiting: status
# answers, publishes are refused at once, the log says nothing more about
# the store, any commit LMDB refuses is tried again no more often than the
# backoff allows (50 ms doubling to 5 s: at most 7 tries in a pause's first
# 6.35 s, then one per 5 s), and the broker's CPU time stays well under the
# time passed.
measure() {
    S=$(status)
    assert_eq "$(jget "$S" store_paused)" true "status: store_paused"
    r0=$(jget "$S" commits_refused)
    ctl ops status >"$T/status.txt" || fail "status (text) refused"
    assert_contains "$T/status.txt" "reserve used up"
    lines0=$(grep -c 'event=store_' "$T/broker.log")
    t0=$(date +%s%N)
    cpu0=$(awk '{print $14 + $15}' "/proc/$BROKER_PID/stat")
    for k in 1 2 3; do
        sleep 1
        msg alert.y.more OFFICIAL ",\"msg_id\":\"more-$k\"" | ctl police pub - >/dev/null 2>"$T/more.err" &&
            fail "an exhausted store acked a publish"
        assert_contains "$T/more.err" STORE_FULL
        status >/dev/null
    done
    sleep 1
    cpu1=$(awk '{print $14 + $15}' "/proc/$BROKER_PID/stat")
    t1=$(date +%s%N)
    S=$(status)
    r1=$(jget "$S" commits_refused)
    ms=$(((t1 - t0) / 1000000))
    cpu_ms=$(((cpu1 - cpu0) * 1000 / $(getconf CLK_TCK)))
    tries=$((r1 - r0))
    [ "$tries" -le $((8 + ms / 5000)) ] || fail "$tries commits refused in $ms ms: not backing off"
    [ "$cpu_ms" -lt $((ms / 2)) ] || fail "the broker used $cpu_ms ms of CPU in $ms ms: spinning"
    assert_eq "$(grep -c 'event=store_' "$T/broker.log")" "$lines0" "store log lines while paused"
    assert_eq "$(grep -c 'event=store_exhausted' "$T/broker.log")" 1 "store_exhausted lines"
    # Nothing can leave without its disclosure record, and none fits.
    assert_eq "$(wc -l <"$T/rocu.out" | tr -d ' ')" 0 "deliveries while exhausted"
    echo "exhausted: $tries tries refused, $cpu_ms ms CPU in $ms ms"
}

# check_intact FILE [FROM]: every message acked at sequence FROM (default
# 1) or above is in FILE; and everything in FILE was acked, is there once,
# under its sequence, with the body it was sent with (older ones may be
# missing: retention erases them, delivered or not).
check_intact() {
    python3 - "$1" "$T/fill.out" "${2:-1}" <<'PY' || fail "$1: an acked message is missing or not intact"
import json, sys
got = {}
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m["seq"] in got:
        sys.exit("seq %d twice" % m["seq"])
    got[m["seq"]] = m
acked = {}
for line in open(sys.argv[2]):
    a = json.loads(line)
    acked[a["seq"]] = a["msg_id"]
want = set(s for s in acked if s >= int(sys.argv[3]))
if not want <= set(got) or not set(got) <= set(acked):
    sys.exit("%d of %d acked from %s, %d not acked" % (len(want & set(got)), len(want), sys.argv[3], len(set(got) - set(acked))))
for seq, m in got.items():
    if m["msg_id"] != acked[seq] or m["body"] != acked[seq] + "-" + "x" * 300:
        sys.exit("seq %d holds %s" % (seq, m["msg_id"]))
PY
}

# 1. Room from a restart with a larger map.
start_broker
exhaust
measure
kill "$SUB_rocu"
sub_wait rocu || true
stop_broker
sed -i 's/map_size_mb = 1;/map_size_mb = 8;/' "$T/broker.cfg"
start_broker
ctl rocu sub 'alert.>' --durable held --count "$ACKED" --timeout 60 >"$T/held.jsonl" 2>"$T/held.err" ||
    fail "the held deliveries did not arrive after the map was raised: $(cat "$T/held.err")"
check_intact "$T/held.jsonl"
ctl rocu sub 'alert.>' --from-seq 1 --count "$ACKED" --timeout 60 >"$T/all.jsonl" 2>/dev/null ||
    fail "replay after the map was raised"
check_intact "$T/all.jsonl"
msg alert.y.after OFFICIAL | ctl police pub - >/dev/null || fail "publish after the map was raised"
stop_broker
"$BIN/liaisonctl" audit verify --data-dir "$T/data/broker" >"$T/verify.out" 2>&1 ||
    fail "audit verify: $(cat "$T/verify.out")"

# 2. In place: retention erases the oldest three quarters (each erasure
# writes its record, so it frees less than the message took), and the
# broker resumes by
# itself, without a restart; the durable that waited gets what is left.
sed -i 's/map_size_mb = 8;/map_size_mb = 1;/; s|data_dir = "data/broker"|data_dir = "data/broker2"|' "$T/broker.cfg"
start_broker
exhaust
measure
keep=$((ACKED / 4))
last=$(sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$T/fill.out" | sort -n | tail -n 1)
echo "retention = ( { pattern = \"alert.>\"; max_messages = $keep; } );" >>"$T/broker.cfg"
kill -HUP "$BROKER_PID"
wait_for "$T/broker.log" "event=store_resumed" 60
wait_for "$T/rocu.out" "\"seq\":$last," 60
# Retention keeps the newest $keep: the held durable has those, and any
# older one it got before it was erased, once each and intact.
check_intact "$T/rocu.out" $((last - keep + 1))
S=$(status)
assert_eq "$(jget "$S" store_paused)" false "status: store_paused after retention"
ctl rocu sub 'alert.>' --from-seq $((last - keep + 1)) --count "$keep" --timeout 60 >"$T/rest.jsonl" 2>/dev/null ||
    fail "replay after retention"
check_intact "$T/rest.jsonl" $((last - keep + 1))
stop_broker
"$BIN/liaisonctl" audit verify --data-dir "$T/data/broker2" >"$T/verify2.out" 2>&1 ||
    fail "audit verify after retention: $(cat "$T/verify2.out")"
echo "42 ok (acked $ACKED, kept $keep by retention)"
