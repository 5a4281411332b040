# 39: a store belongs to the broker that made it. A broker with another key
# refuses it, naming both keys, unless adopt_store is set (then it takes it
# over, and the trail says so); with expect_store = true a missing or empty
# store is refused rather than started afresh at sequence 1.
. "$(dirname "$0")/lib.sh"
keygen broker other police auditor
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"'),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
agent_cfg police
agent_cfg auditor
start_broker
msg alert.y.one OFFICIAL | ctl police pub - >/dev/null || fail "publish"
stop_broker
# Another broker's key on the same data_dir.
sed 's|keys/broker.key|keys/other.key|' "$T/broker.cfg" >"$T/other.cfg"
rc=0
"$BIN/liaison-broker" -c "$T/other.cfg" 2>"$T/other.log" || rc=$?
assert_eq "$rc" 1 "a broker with another key"
grep -qF -- "made by the broker with key $(cat "$T/keys/broker.pub")" "$T/other.log" ||
    fail "the refusal does not name the owner's key: $(cat "$T/other.log")"
grep -qF -- "this broker's key is $(cat "$T/keys/other.pub")" "$T/other.log" ||
    fail "the refusal does not name this broker's key"
# The owner is untouched: the first broker starts, and sequences go on.
start_broker
assert_eq "$(msg alert.y.two OFFICIAL | ctl police pub -)" "seq 2" "sequence after a refused start"
stop_broker
# adopt_store: a rotated key takes the store over, and the trail records it.
sed 's|keys/broker.key|keys/other.key|; s|heartbeat_ms = 1000;|heartbeat_ms = 1000; adopt_store = true;|' \
    "$T/broker.cfg" >"$T/adopt.cfg"
"$BIN/liaison-broker" -c "$T/adopt.cfg" 2>"$T/adopt.log" &
ADOPT=$!
PIDS="$PIDS $ADOPT"
wait_for "$T/adopt.log" "event=listening"
assert_contains "$T/adopt.log" "event=store_adopted"
sed -i "s|keys/broker.pub|keys/other.pub|" "$T/auditor.cfg"
ctl auditor audit export >"$T/trail.out" || fail "audit export"
assert_contains "$T/trail.out" '"action":"store_adopted"'
grep -qF -- "$(cat "$T/keys/broker.pub")" "$T/trail.out" || fail "the trail does not name the previous key"
kill -TERM "$ADOPT"
wait "$ADOPT" || fail "the adopting broker did not stop cleanly"
"$BIN/liaisonctl" audit verify --data-dir "$T/data/broker" >/dev/null || fail "trail after adoption"
# Now the old key is the foreign one.
rc=0
"$BIN/liaison-broker" -c "$T/broker.cfg" 2>"$T/old.log" || rc=$?
assert_eq "$rc" 1 "the old key after adoption"
# expect_store: an empty data_dir is refused, and nothing is created.
sed 's|data/broker|data/moved|; s|heartbeat_ms = 1000;|heartbeat_ms = 1000; expect_store = true;|' \
    "$T/broker.cfg" >"$T/expect.cfg"
rc=0
"$BIN/liaison-broker" -c "$T/expect.cfg" 2>"$T/expect.log" || rc=$?
assert_eq "$rc" 1 "expect_store on an empty data_dir"
assert_contains "$T/expect.log" "expect_store"
rc=0
"$BIN/liaison-broker" -c "$T/expect.cfg" 2>"$T/expect2.log" || rc=$?
assert_eq "$rc" 1 "expect_store on the second try"
# With it, the real store starts.
sed 's|heartbeat_ms = 1000;|heartbeat_ms = 1000; expect_store = true;|; s|keys/broker.key|keys/other.key|' \
    "$T/broker.cfg" >"$T/real.cfg"
"$BIN/liaison-broker" -c "$T/real.cfg" 2>"$T/real.log" &
REAL=$!
PIDS="$PIDS $REAL"
wait_for "$T/real.log" "event=listening"
kill -TERM "$REAL"
wait "$REAL" || fail "the broker on its expected store did not stop cleanly"
echo "39 ok"
