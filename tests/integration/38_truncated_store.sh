# 38: a data.mdb cut short (a bad copy, a restore onto a full disk) is
# refused with a line that says so, by the broker at start and by
# `audit verify`; neither dies of the pages that are missing (SIGBUS).
. "$(dirname "$0")/lib.sh"
keygen broker police
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"')
EOF2
agent_cfg police
start_broker
body=$(head -c 3000 /dev/zero | tr '\0' x)
for i in $(seq 300); do msg "alert.y.$i" OFFICIAL "" "$body"; done | ctl police pub - >/dev/null ||
    fail "publish"
stop_broker
db="$T/data/broker/data.mdb"
size=$(stat -c %s "$db")
[ "$size" -gt 400000 ] || fail "store smaller than expected: $size bytes"
# Cut inside the messages (300 of 3000 bytes: 900 KB of pages at least), not
# in the zeros the broker writes ahead of LMDB's last page (store_grow).
truncate -s 262144 "$db"
rc=0
"$BIN/liaison-broker" -c "$T/broker.cfg" 2>"$T/start.log" || rc=$?
assert_eq "$rc" 1 "broker on a truncated store"
assert_contains "$T/start.log" "data.mdb is truncated"
assert_contains "$T/start.log" "restore it from a backup"
rc=0
"$BIN/liaisonctl" audit verify --data-dir "$T/data/broker" >"$T/verify.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "audit verify on a truncated store"
assert_contains "$T/verify.out" "data.mdb is truncated"
echo "38 ok"
