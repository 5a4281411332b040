# 61: a loop configured Yorkshire -> Lancashire -> Yorkshire delivers each
# message once. Each of the two brokers has an uplink to the other,
# forwarding and receiving alert.>; Cumbria, a third, forwards up to both,
# so its messages reach each of them directly and by way of the other.
# Every copy that comes round again is dropped: by the route when it names
# the broker (a loop, counted in `liaisonctl links`, recorded aggregated in
# the audit trail), else by (origin broker, origin sequence) (a repeat).
# Each broker stores each message once and each subscriber gets it once;
# then Lancashire is killed (SIGKILL) and back at once while the others
# stream, and still nothing is stored twice anywhere.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fed_lib.sh"
keygen yorkshire lancashire cumbria yp yr lp lr cp cr yorkshire-ops lancashire-ops cumbria-ops yorkshire-aud \
    lancashire-aud
for b in yorkshire lancashire cumbria; do fed_port $b; done
N=20  # per publisher, before the restart
N2=100 # per publisher, around it
VIEWS="max_views_per_minute = 2000;"

fed_broker yorkshire "$VIEWS" "$(uplink lancashire lancashire '"alert.>"' '"alert.>"')" <<EOF
$(agent yp '"alert.yorkshire.>"' '' OFFICIAL '' '"publisher"'),
$(agent yr '' '"alert.>"' SECRET '' '"receiver"'),
$(link_agent lancashire '"alert.>"' '"alert.>"' SECRET '' '"lp agency", "cp agency"'),
$(link_agent cumbria '"alert.>"' '' SECRET '' '"cp agency"'),
$(agent yorkshire-ops '' '' OFFICIAL '' '"operator"'),
$(agent yorkshire-aud '' '' OFFICIAL '' '"auditor"')
EOF
fed_broker lancashire "$VIEWS" "$(uplink yorkshire yorkshire '"alert.>"' '"alert.>"')" <<EOF
$(agent lp '"alert.lancashire.>"' '' OFFICIAL '' '"publisher"' police lancashire),
$(agent lr '' '"alert.>"' SECRET '' '"receiver"' police lancashire),
$(link_agent yorkshire '"alert.>"' '"alert.>"' SECRET '' '"yp agency", "cp agency"'),
$(link_agent cumbria '"alert.>"' '' SECRET '' '"cp agency"'),
$(agent lancashire-ops '' '' OFFICIAL '' '"operator"' police lancashire),
$(agent lancashire-aud '' '' OFFICIAL '' '"auditor"' police lancashire)
EOF
# Cumbria only forwards: what it stores is its own.
fed_broker cumbria "$VIEWS" "$(uplink yorkshire yorkshire '"alert.>"' ''), $(uplink lancashire lancashire '"alert.>"' '')" <<EOF
$(agent cp '"alert.cumbria.>"' '' OFFICIAL '' '"publisher"' police cumbria),
$(agent cr '' '"alert.>"' SECRET '' '"receiver"' police cumbria),
$(agent cumbria-ops '' '' OFFICIAL '' '"operator"' police cumbria)
EOF
for a in yp yr yorkshire-ops yorkshire-aud; do fed_agent_cfg $a yorkshire; done
for a in lp lr lancashire-ops lancashire-aud; do fed_agent_cfg $a lancashire; done
for a in cp cr cumbria-ops; do fed_agent_cfg $a cumbria; done
for b in yorkshire lancashire cumbria; do
    "$BIN/liaison-broker" -c "$T/$b.broker.cfg" --check-config >/dev/null || fail "$b config"
    start_fed $b
done
wait_link yorkshire lancashire
wait_link lancashire yorkshire
wait_link cumbria yorkshire
wait_link cumbria lancashire

for a in yr lr cr; do sub_bg $a 'alert.>' --timeout 300; done

# batch PREFIX TOPIC FROM TO: JSON lines with msg_ids PREFIX-FROM..TO.
batch() {
    i=$3
    while [ "$i" -le "$4" ]; do
        msg "$2" OFFICIAL ",\"msg_id\":\"$1-$i\"" "$1 $i"
        i=$((i + 1))
    done
}
# publish AGENT PREFIX TOPIC FROM TO, in the background.
publish() {
    batch "$2" "$3" "$4" "$5" >"$T/$2.$4.in"
    ctl "$1" pub "$T/$2.$4.in" >/dev/null 2>"$T/$2.$4.err" &
    eval "PUB_$2=$!"
}
pub_wait() { eval "p=\$PUB_$1"; wait "$p" || fail "publish by $1: $(cat "$T/$1".*.err)"; }

# ids_of FILE: the msg_ids a subscriber printed, sorted, repeats kept.
ids_of() { sed -n 's/.*"msg_id":"\([^"]*\)".*/\1/p' "$1" | sort; }
# expect_ids FILE LIST_FILE WHAT: FILE's msg_ids are exactly LIST_FILE's,
# each once.
expect_ids() {
    ids_of "$1" >"$1.ids"
    assert_eq "$(uniq -d "$1.ids" | wc -l)" 0 "$3: msg_ids seen twice ($(uniq -d "$1.ids" | head -3 | tr '\n' ' '))"
    cmp -s "$1.ids" "$2" || fail "$3: $(wc -l <"$1.ids") msg_ids, expected $(wc -l <"$2"): $(comm -3 "$1.ids" "$2" | head -5 | tr '\n' ' ')"
}
# wanted FILE PREFIX:COUNT...: the sorted list of msg_ids PREFIX-1..COUNT.
wanted() {
    f=$1
    shift
    for pc in "$@"; do
        i=1
        while [ "$i" -le "${pc#*:}" ]; do
            echo "${pc%%:*}-$i"
            i=$((i + 1))
        done
    done | sort >"$f"
}

# 1: N messages from each of the three, at once.
publish yp y alert.yorkshire.loop 1 $N
publish lp l alert.lancashire.loop 1 $N
publish cp c alert.cumbria.loop 1 $N
for p in y l c; do pub_wait $p; done

# Every copy that reaches Yorkshire again is accounted for. Of its own N,
# two copies each come back from Lancashire (forwarded up, and delivered
# down its receive subscription) and are loops. Of Lancashire's N, the same
# two copies reach it, one stored, one a repeat. Of Cumbria's N, three
# (from Cumbria, and Lancashire's two): one stored, two dropped — loops or
# repeats, as the copy Lancashire stored came from Cumbria or by way of
# Yorkshire. Lancashire likewise. So each drops 5N, nothing more.
for b in yorkshire lancashire; do
    n=160
    while :; do
        fed_view $b links || true
        dropped=$(($(json_sum "$T/$b.links.json" loops_dropped) + $(json_sum "$T/$b.links.json" route_duplicates)))
        [ "$dropped" -lt $((5 * N)) ] || break
        n=$((n - 1)); [ $n -gt 0 ] || fail "$b dropped $dropped copies, not $((5 * N)): $(cat "$T/$b.links.json")"
        sleep 0.25
    done
done
wait_settled yorkshire lancashire cumbria
for b in yorkshire lancashire; do
    fed_view $b links || fail "$b links view"
    dropped=$(($(json_sum "$T/$b.links.json" loops_dropped) + $(json_sum "$T/$b.links.json" route_duplicates)))
    assert_eq "$dropped" $((5 * N)) "$b: copies dropped as loops or repeats"
    [ "$(json_sum "$T/$b.links.json" loops_dropped)" -ge $((2 * N)) ] || fail "$b counted too few loops: $(cat "$T/$b.links.json")"
done
# The forwarding side counts the loops it met: each broker forwards the
# other's N back and has them refused as loops. No other refusal.
assert_contains "$T/yorkshire.links.json" '"state":"connected"'
[ "$(uplink_field "$T/yorkshire.links.json" lancashire loops)" -ge $N ] || fail "yorkshire's uplink loops: $(cat "$T/yorkshire.links.json")"
[ "$(uplink_field "$T/lancashire.links.json" yorkshire loops)" -ge $N ] || fail "lancashire's uplink loops: $(cat "$T/lancashire.links.json")"
fed_view cumbria links || fail "cumbria links view"
for b in yorkshire lancashire cumbria; do
    assert_eq "$(sed 's/"downlinks".*//' "$T/$b.links.json" | json_sum /dev/stdin refused)" 0 "$b: forwards refused"
done
assert_eq "$(json_sum "$T/cumbria.links.json" loops)" 0 "cumbria: loops (it receives nothing)"
ctl yorkshire-ops links >"$T/links.txt" || fail "links table"
grep -q "^loops dropped [1-9]" "$T/links.txt" || fail "the links table does not say loops were dropped: $(cat "$T/links.txt")"

# Each broker stores each message once; each subscriber got each once.
wanted "$T/all1" y:$N l:$N c:$N
wanted "$T/c1" c:$N
stored_ids yorkshire yr 'alert.>'
expect_ids "$T/yorkshire.store.jsonl" "$T/all1" "yorkshire's store"
stored_ids lancashire lr 'alert.>'
expect_ids "$T/lancashire.store.jsonl" "$T/all1" "lancashire's store"
stored_ids cumbria cr 'alert.>'
expect_ids "$T/cumbria.store.jsonl" "$T/c1" "cumbria's store"
for a in yr lr; do expect_ids "$T/$a.out" "$T/all1" "subscriber $a"; done
expect_ids "$T/cr.out" "$T/c1" "subscriber cr"
# The one stored copy of a Cumbria message at Yorkshire names its origin;
# one of its own stays unrouted.
grep '"msg_id":"c-1"' "$T/yorkshire.store.jsonl" | grep -q '"route":{"origin_broker":"cumbria"' ||
    fail "c-1 at yorkshire: $(grep '"msg_id":"c-1"' "$T/yorkshire.store.jsonl")"
grep '"msg_id":"y-1"' "$T/yorkshire.store.jsonl" | grep -q '"route"' && fail "y-1 at home has a route"

# 2: Yorkshire and Cumbria stream while Lancashire is killed and comes
# straight back: its links on the others are still open (no Bye), its
# forwards in flight are sent again, deliveries it had not acked come again.
kill -TERM "$SUB_lr" 2>/dev/null || true
publish yp y alert.yorkshire.loop $((N + 1)) $((N + N2))
publish cp c alert.cumbria.loop $((N + 1)) $((N + N2))
wait_stored yorkshire $((3 * N + 10))
kill_fed lancashire
start_fed lancashire
for p in y c; do pub_wait $p; done
wait_link lancashire yorkshire
publish lp l alert.lancashire.loop $((N + 1)) $((N + N2))
pub_wait l
wait_stored yorkshire $((3 * (N + N2)))
wait_stored lancashire $((3 * (N + N2)))
wait_settled yorkshire lancashire cumbria

wanted "$T/all2" y:$((N + N2)) l:$((N + N2)) c:$((N + N2))
wanted "$T/c2" c:$((N + N2))
stored_ids yorkshire yr 'alert.>'
expect_ids "$T/yorkshire.store.jsonl" "$T/all2" "yorkshire's store after the restart"
stored_ids lancashire lr 'alert.>'
expect_ids "$T/lancashire.store.jsonl" "$T/all2" "lancashire's store after the restart"
stored_ids cumbria cr 'alert.>'
expect_ids "$T/cumbria.store.jsonl" "$T/c2" "cumbria's store after the restart"
# The subscribers of the brokers that stayed up got everything once.
for a in yr cr; do kill -TERM "$(eval echo \$SUB_$a)"; sub_wait $a || true; done
expect_ids "$T/yr.out" "$T/all2" "subscriber yr"
expect_ids "$T/cr.out" "$T/c2" "subscriber cr"

# Yorkshire's trail records the loops it dropped, aggregated: one record
# per (actor, reason, topic) a minute, with the count. After a clean stop
# (which writes the counts) and a start, their counts add up to the loops
# counted.
fed_view yorkshire links || fail "yorkshire links view"
loops=$(json_sum "$T/yorkshire.links.json" loops_dropped)
bridged=$(uplink_field "$T/yorkshire.links.json" lancashire loops)
stop_fed yorkshire
start_fed yorkshire
ctl yorkshire-aud audit export >"$T/yaudit.jsonl" || fail "yorkshire audit"
grep '"reason":"LOOP"' "$T/yaudit.jsonl" | grep '"outcome":"refused"' >"$T/yloops.jsonl" || fail "no loop refusals in yorkshire's trail"
# A record without a count stands for one event.
count_sum() { awk '{ n = 1 } match($0, /"count":[0-9]+/) { n = substr($0, RSTART + 8, RLENGTH - 8) } { s += n } END { print s + 0 }' "$1"; }
grep -v '"action":"bridge"' "$T/yloops.jsonl" >"$T/yloops.in"
grep '"action":"bridge"' "$T/yloops.jsonl" >"$T/yloops.out"
assert_eq "$(count_sum "$T/yloops.in")" "$loops" "loops dropped at yorkshire, as its trail counts them"
assert_eq "$(count_sum "$T/yloops.out")" "$bridged" "forwards refused as loops, as yorkshire's trail counts them"
[ "$(wc -l <"$T/yloops.in")" -lt "$loops" ] || fail "the loop records are not aggregated: $(wc -l <"$T/yloops.in") for $loops"
grep -q '"actor":"lancashire-link"' "$T/yloops.in" || fail "no loop refused from lancashire's link"
grep -q '"actor":"uplink:lancashire"' "$T/yloops.in" || fail "no loop refused on yorkshire's uplink"
grep '"recipient":"uplink:lancashire"' "$T/yloops.out" >/dev/null || fail "no bridge refusal recorded"
# Lancashire's too; it was killed, so its trail has at least the loops
# counted since (what it had not yet written of the minute before is lost
# with it).
fed_view lancashire links || fail "lancashire links view"
loops=$(json_sum "$T/lancashire.links.json" loops_dropped)
stop_fed lancashire
start_fed lancashire
ctl lancashire-aud audit export >"$T/laudit.jsonl" || fail "lancashire audit"
grep '"reason":"LOOP"' "$T/laudit.jsonl" | grep '"outcome":"refused"' | grep -v '"action":"bridge"' >"$T/lloops.in" ||
    fail "no loop refusals in lancashire's trail"
[ "$(count_sum "$T/lloops.in")" -ge "$loops" ] || fail "lancashire's trail counts $(count_sum "$T/lloops.in") loops, fewer than $loops"
for actor in yorkshire-link uplink:yorkshire; do
    grep -q "\"actor\":\"$actor\"" "$T/lloops.in" || fail "no loop refused from $actor at lancashire"
done
grep '"action":"bridge"' "$T/laudit.jsonl" | grep '"reason":"LOOP"' | grep -q '"recipient":"uplink:yorkshire"' ||
    fail "no bridge refusal recorded at lancashire"

for b in cumbria lancashire yorkshire; do stop_fed $b; done
for b in yorkshire lancashire cumbria; do
    "$BIN/liaisonctl" audit verify --data-dir "$T/data/$b" >"$T/verify.$b" || fail "$b audit: $(cat "$T/verify.$b")"
done
echo "61 ok"
