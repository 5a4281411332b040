# 12: the audit trail is tamper-evident. With the broker stopped, changing
# one byte of one audit record in the LMDB file makes `audit verify` name
# that record; one bit flipped in a stored message's body (LMDB keeps no
# checksums) makes it name the message, against the digest its collection
# record holds; dropping the newest records is caught by a signed
# checkpoint; a checkpoint checked against the wrong key fails; and verify
# reads a live broker's store without stopping it.
. "$(dirname "$0")/lib.sh"
command -v mdb_dump >/dev/null || fail "mdb_dump (lmdb-utils) is needed"
keygen broker police stranger auditor
"$BIN/liaisonctl" keygen checkpoint --dir "$T/keys" --sign >/dev/null
"$BIN/liaisonctl" keygen other --dir "$T/keys" --sign >/dev/null
broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
sed -i 's|metrics = "";|metrics = ""; audit_key = "keys/checkpoint.sign.key"; audit_checkpoint_records = 4;|' "$T/broker.cfg"
agent_cfg police; agent_cfg stranger; agent_cfg auditor
start_broker
msg alert.a.b OFFICIAL >"$T/m1.json"
msg alert.a.b OFFICIAL '' "a body whose bits-will-flip-at-rest" >"$T/m2.json"
msg alert.a.b OFFICIAL >"$T/m3.json"
for i in 1 2 3; do ctl police pub "$T/m$i.json" >/dev/null || fail pub; done
# A refused handshake: its record names the stranger's key, which appears
# nowhere else in the store — a good byte to change.
if msg alert.a.b OFFICIAL | ctl stranger pub - 2>/dev/null; then fail "stranger admitted"; fi
for i in 4 5 6 7 8; do msg alert.a.b OFFICIAL | ctl police pub - >/dev/null || fail pub; done
"$BIN/liaisonctl" audit verify --data-dir "$T/data/broker" --key "$T/keys/checkpoint.sign.pub" >"$T/live.out" ||
    fail "verify of a live store: $(cat "$T/live.out")"
ctl auditor audit export --action authenticate >"$T/auth.jsonl" || fail export
victim=$(sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$T/auth.jsonl" | head -n 1)
[ -n "$victim" ] || fail "no authenticate record"
stop_broker

db="$T/data/broker"
"$BIN/liaisonctl" audit verify --data-dir "$db" --key "$T/keys/checkpoint.sign.pub" >"$T/v0.out" || fail "intact store: $(cat "$T/v0.out")"
assert_contains "$T/v0.out" "audit intact"
assert_contains "$T/v0.out" "messages intact: 8 checked against the digests their collection records hold, 0 since erased"
# Stopped, the broker signed its trail to the end: --strict holds too.
"$BIN/liaisonctl" audit verify --data-dir "$db" --key "$T/keys/checkpoint.sign.pub" --strict >"$T/vs.out" ||
    fail "strict verify of a stopped broker's store: $(cat "$T/vs.out")"
if "$BIN/liaisonctl" audit verify --data-dir "$db" --key "$T/keys/other.sign.pub" >"$T/vk.out"; then
    fail "checkpoints verified with the wrong key"
fi
assert_contains "$T/vk.out" "bad signature"

# One bit of message 2's body flipped at rest, in a copy of the store (in
# every copy of its page, as below for a record).
cp -r "$db" "$T/flip"
offs=$(grep -obUaF -e "bits-will-flip-at-rest" "$T/flip/data.mdb" | cut -d: -f1)
[ -n "$offs" ] || fail "message bytes not found in data.mdb"
for off in $offs; do
    pos=$((off + 5))
    old=$(dd if="$T/flip/data.mdb" bs=1 skip=$pos count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
    printf "\\$(printf '%03o' $((old ^ 1)))" | dd of="$T/flip/data.mdb" bs=1 seek=$pos conv=notrunc 2>/dev/null
done
grep -qaF "bits-will-flip-at-rest" "$T/flip/data.mdb" && fail "test setup: the bit did not flip"
if "$BIN/liaisonctl" audit verify --data-dir "$T/flip" >"$T/vf.out"; then
    fail "a flipped bit in a message was not detected: $(cat "$T/vf.out")"
fi
assert_contains "$T/vf.out" "message 2 does not match the digest record"

# Drop the newest audit records (rebuild the store without them).
mdb_dump -a "$db" >"$T/all.dump" 2>/dev/null
awk '/^database=audit$/ {a=1} a && /^DATA=END$/ {a=0; n=split(buf, l, "\n"); for (i = 1; i <= n - 5; i++) print l[i]; buf=""} a && started {buf = buf $0 "\n"; next} a && /^HEADER=END$/ {started=1} {print}' "$T/all.dump" >"$T/cut.dump"
mkdir "$T/cut"
mdb_load -f "$T/cut.dump" "$T/cut" 2>/dev/null || fail "mdb_load"
if "$BIN/liaisonctl" audit verify --data-dir "$T/cut" --key "$T/keys/checkpoint.sign.pub" >"$T/v1.out"; then
    fail "dropped records not detected: $(cat "$T/v1.out")"
fi
assert_contains "$T/v1.out" "are gone"

# Change one byte of one record, in place in the LMDB file. LMDB copies
# pages on write, so stale copies of the record may linger in free pages:
# change the byte in every copy, so the live one is surely among them.
key=$(tr -d '\n' <"$T/keys/stranger.pub")
offs=$(grep -obUaF -e "$key" "$db/data.mdb" | cut -d: -f1)
[ -n "$offs" ] || fail "record bytes not found in data.mdb"
for off in $offs; do
    pos=$((off + 7))
    old=$(dd if="$db/data.mdb" bs=1 skip=$pos count=1 2>/dev/null)
    new=Q; [ "$old" = Q ] && new=R
    printf '%s' "$new" | dd of="$db/data.mdb" bs=1 seek=$pos conv=notrunc 2>/dev/null
done
if "$BIN/liaisonctl" audit verify --data-dir "$db" --key "$T/keys/checkpoint.sign.pub" >"$T/v2.out"; then
    fail "changed byte not detected"
fi
assert_contains "$T/v2.out" "BROKEN at record $victim:"
echo "12 ok"
