# fault 04: an uplink cut twice during a stream. A retrying publisher
# pushes FAULT_FED_N messages (default 20000), ten in flight, into
# Humberside, whose uplink forwards alert.> to National; another pushes as
# many into National, which Humberside's uplink receives (national.>).
# Meanwhile National is killed with SIGKILL and restarted, then Humberside
# is. Afterwards every message Humberside acked is stored at National
# exactly once, under the route of the copy Humberside acked (origin
# humberside, its sequence there), and every message National acked is
# stored at Humberside exactly once likewise: nothing lost, nothing stored
# twice on the far side; and the links view is back to a connected uplink
# with no lag and nothing in flight.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/fed_lib.sh"
N=${FAULT_FED_N:-20000}
keygen humberside national police marsoc rocu hr humberside-ops national-ops
for b in humberside national; do fed_port $b; done
VIEWS="max_views_per_minute = 2000;"
MAP_MB=256 fed_broker humberside "$VIEWS" "$(uplink national national '"alert.>"' '"national.>"')" <<EOF
$(agent police '"alert.>"' '' OFFICIAL '' '"publisher"' police humberside),
$(agent hr '' '"national.>"' SECRET '' '"receiver"' police humberside),
$(agent humberside-ops '' '' OFFICIAL '' '"operator"' police humberside)
EOF
MAP_MB=256 fed_broker national "$VIEWS" "" <<EOF
$(agent marsoc '"national.>"' '' OFFICIAL '' '"publisher"' marsoc national),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu national),
$(link_agent humberside '"alert.>"' '"national.>"' SECRET '' '"police agency"'),
$(agent national-ops '' '' OFFICIAL '' '"operator"' rocu national)
EOF
for a in police hr humberside-ops; do fed_agent_cfg $a humberside; done
for a in marsoc rocu national-ops; do fed_agent_cfg $a national; done
for b in national humberside; do start_fed $b; done
wait_link humberside national

: >"$T/up.acked"
: >"$T/down.acked"
"$BIN/tools/retrypub" "$T/police.cfg" "$N" "$T/up.acked" 10 2>"$T/up.err" &
UP=$!
"$BIN/tools/retrypub" "$T/marsoc.cfg" "$N" "$T/down.acked" 10 national.fault.load 2>"$T/down.err" &
DOWN=$!
PIDS="$PIDS $UP $DOWN"

# acked_at_least WAY PID COUNT: until the publisher PID of WAY (up: into
# Humberside, down: into National) has COUNT PubAcks.
acked_at_least() {
    n=0
    while [ "$(wc -l <"$T/$1.acked")" -lt "$3" ]; do
        kill -0 "$2" 2>/dev/null || break
        sleep 0.05
        n=$((n + 1)); [ $n -lt 6000 ] || fail "publisher $1 stalled at $(wc -l <"$T/$1.acked")"
    done
}
# streaming WAY PID WHAT: the publisher into the broker about to be killed
# is still at it (the other may be done: they go at their own pace).
streaming() {
    kill -0 "$2" 2>/dev/null || fail "the publisher $1 finished before $3: $(cat "$T/$1.err")"
}
# The upstream first, a third into the stream that goes into it: forwards
# in flight are lost with it, and sent again once the uplink is back;
# deliveries not yet acked come again.
acked_at_least down "$DOWN" $((N / 3))
streaming down "$DOWN" "the upstream was killed"
kill_fed national
start_fed national
wait_link humberside national 2
# Then the downstream, two thirds into the stream that goes into it: the
# publisher re-sends what it had not had acked, the uplink resumes from
# its cursor on disk, the receive subscription from the upstream's
# durable cursor.
acked_at_least up "$UP" $((2 * N / 3))
streaming up "$UP" "the downstream was killed"
kill_fed humberside
start_fed humberside
wait "$UP" || fail "publisher into humberside failed: $(cat "$T/up.err")"
wait "$DOWN" || fail "publisher into national failed: $(cat "$T/down.err")"
for d in up down; do
    sort -u "$T/$d.acked" >"$T/$d.pairs"
    assert_eq "$(cut -d' ' -f1 "$T/$d.pairs" | sort -u | wc -l)" "$N" "$d: acked msg_ids"
    assert_eq "$(wc -l <"$T/$d.pairs")" "$N" "$d: acked (msg_id, seq) pairs"
done
assert_eq "$(grep -c 'event=uplink_up link=national ' "$T/humberside.log")" 3 "uplink connections (start, after each kill)"

wait_settled humberside
for k in '"state":"connected"' '"forward_lag":0,' '"in_flight":0,' '"receive_subscriptions":1,'; do
    assert_contains "$T/humberside.links.json" "$k"
done
wait_stored humberside $((2 * N))

# far_side AGENT PATTERN BROKER FILE: replays what AGENT may read of its
# broker's store into FILE.jsonl and writes FILE.pairs: "msg_id
# origin_seq" of each message that came from BROKER, sorted.
far_side() {
    "$BIN/liaisonctl" -c "$T/$1.cfg" sub "$2" --from-seq 1 --timeout 120 >"$T/$4.jsonl" 2>"$T/$4.err" ||
        fail "replay for $1: $(cat "$T/$4.err")"
    sed -n "s/.*\"msg_id\":\"\(fault-[0-9]*\)\".*\"route\":{\"origin_broker\":\"$3\",\"origin_seq\":\([0-9]*\)}.*/\1 \2/p" \
        "$T/$4.jsonl" | sort >"$T/$4.pairs"
}
# check_far WHAT FILE ACKED: FILE's messages are ACKED's, each once.
check_far() {
    assert_eq "$(wc -l <"$T/$2.jsonl")" "$N" "$1: messages stored"
    assert_eq "$(wc -l <"$T/$2.pairs")" "$N" "$1: messages stored with the near side's route"
    assert_eq "$(cut -d' ' -f1 "$T/$2.pairs" | uniq -d | wc -l)" 0 "$1: msg_ids stored twice"
    assert_eq "$(cut -d' ' -f2 "$T/$2.pairs" | sort | uniq -d | wc -l)" 0 "$1: origin sequences stored twice"
    cmp -s "$T/$3.pairs" "$T/$2.pairs" ||
        fail "$1: the store is not what the near side acked: $(comm -3 "$T/$3.pairs" "$T/$2.pairs" | head -5 | tr '\n' ' ')"
}
far_side rocu 'alert.>' humberside national
check_far "national (forwarded up)" national up
far_side hr 'national.>' national humberside
check_far "humberside (received down)" humberside down
fed_view national links || fail "national links view"
fed_view humberside links || fail "humberside links view"
up_repeats=$(json_sum "$T/national.links.json" route_duplicates)
down_repeats=$(json_sum "$T/humberside.links.json" route_duplicates)
for b in humberside national; do stop_fed $b; done
echo "fault 04 ok: $N each way through 2 cuts, stored once each on the far side (repeats dropped since the last restarts: $up_repeats at national, $down_repeats at humberside)"
