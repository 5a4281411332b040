# 10: a tiny map fills: publishes are refused with STORE_FULL, nothing acked
# is lost, deliveries go on, and after the map is raised and the broker
# restarted, publishing resumes.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu
MAP_MB=1 broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu)
EOF2
agent_cfg police; agent_cfg rocu
start_broker
body=$(head -c 60000 /dev/zero | tr '\0' 'x')
acked=0
full=0
for i in $(seq 1 40); do
    if msg alert.y.big OFFICIAL ",\"msg_id\":\"big-$i\"" "$body" | ctl police pub - >"$T/p.out" 2>"$T/p.err"; then
        acked=$((acked + 1))
    else
        assert_contains "$T/p.err" STORE_FULL
        full=1
        break
    fi
done
[ "$full" = 1 ] || fail "the 1 MiB map never filled"
[ "$acked" -gt 0 ] || fail "nothing was acked before the map filled"
assert_contains "$T/broker.log" "event=store_full"
# Everything acked is readable while the store is full.
ctl rocu sub 'alert.>' --from-seq 1 --count "$acked" --timeout 20 >"$T/all.out" 2>/dev/null || fail "replay while full"
assert_eq "$(wc -l <"$T/all.out" | tr -d ' ')" "$acked" "acked messages readable"
stop_broker
sed -i 's/map_size_mb = 1;/map_size_mb = 64;/' "$T/broker.cfg"
start_broker
msg alert.y.after OFFICIAL | ctl police pub - >"$T/after.out" || fail "publish after raising the map"
assert_eq "$(cat "$T/after.out")" "seq $((acked + 1))" "sequence continues"
ctl rocu sub 'alert.>' --from-seq 1 --count "$((acked + 1))" --timeout 20 >"$T/all2.out" 2>/dev/null || fail "replay after"
assert_eq "$(wc -l <"$T/all2.out" | tr -d ' ')" "$((acked + 1))" "nothing lost"
stop_broker
echo "10 ok (acked $acked before full)"
