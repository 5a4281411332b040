# 11: four agencies — a police force (SECRET, no caveats), its ROCU (SECRET,
# PRISON-INTEL), MARSOC (TOP-SECRET, every caveat) and a prison
# (OFFICIAL-SENSITIVE, PRISON-INTEL) — publish a mix of labels. Exactly the
# cleared receive each message; those refused only on clearance or caveats
# get a sanitised notice; release_to withholds without a notice; and the
# audit trail shows every disclosure and refusal, intact and signed.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu marsoc prison auditor
"$BIN/liaisonctl" keygen checkpoint --dir "$T/keys" --sign >/dev/null
broker_cfg <<EOF2
$(agent police '"alert.yorkshire.>"' '"alert.>"' SECRET '' '"publisher", "receiver"' police yorkshire),
$(agent rocu '' '"alert.>"' SECRET '"PRISON-INTEL"' '"receiver"' rocu yorkshire),
$(agent marsoc '"alert.national.>"' '"alert.>"' TOP-SECRET '"PRISON-INTEL", "OP-NIGHTJAR", "UK-EYES-ONLY"' '"publisher", "receiver"' marsoc national),
$(agent prison '"alert.yorkshire.hmp-hull.>"' '"alert.>"' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"publisher", "receiver"' prison yorkshire),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
sed -i 's|metrics = "";|metrics = ""; notices = [ "alert.>" ]; audit_key = "keys/checkpoint.sign.key"; audit_checkpoint_records = 10;|' "$T/broker.cfg"
sed -i 's|name = "police"; agency = "police agency";|name = "police"; agency = "Humberside Police"; contact = "Humberside FIB, 01482 000000";|' "$T/broker.cfg"
for a in police rocu marsoc prison auditor; do agent_cfg $a; done
start_broker
for a in police rocu marsoc prison; do sub_bg $a 'alert.>' --count 9 --timeout 8; done

msg alert.yorkshire.hull.drugs OFFICIAL '' 'one for all' | ctl police pub - >/dev/null || fail pub1                     # 1
msg alert.yorkshire.hull.guns SECRET ',"subjects":["A1","B2"],"caveats":[]' 'secret detail' | ctl police pub - >/dev/null || fail pub2  # 2
msg alert.yorkshire.hmp-hull.contraband OFFICIAL-SENSITIVE ',"caveats":["PRISON-INTEL"]' 'prison detail' | ctl prison pub - >/dev/null || fail pub3  # 3
msg alert.national.firearms TOP-SECRET ',"caveats":["OP-NIGHTJAR"]' 'top detail' | ctl marsoc pub - >/dev/null || fail pub4     # 4
printf '%s\n' '{"topic":"alert.yorkshire.hull.rocu","classification":"OFFICIAL","grading":"1A","handling":"C","conditions":"ROCU use only","release_to":["type:rocu"],"risk":"MEDIUM","body":"rocu only"}' |
    ctl police pub - >/dev/null || fail pub5                                                                           # 5
msg alert.yorkshire.hull.last OFFICIAL '' 'last one' | ctl police pub - >/dev/null || fail pub6                       # 6
for a in police rocu marsoc prison; do sub_wait $a || true; done

got() { # agent -> "seq[n] ..." with n for notices
    sed -n 's/^{"seq":\([0-9]*\),.*"notice":true.*/\1n/p; /"notice":true/!s/^{"seq":\([0-9]*\),.*/\1/p' "$T/$1.out" | tr '\n' ' '
}
assert_eq "$(got police)" "1 2 3n 4n 6 " "police"
assert_eq "$(got rocu)" "1 2 3 4n 5 6 " "rocu"
assert_eq "$(got marsoc)" "1 2 3 4 6 " "marsoc"
assert_eq "$(got prison)" "1 2n 3 4n 6 " "prison"
# A notice carries no content: no body, subjects, caveats, grading, conditions.
grep '"notice":true' "$T/prison.out" >"$T/notices"
for k in '"body"' '"subjects"' '"caveats"' '"grading"' '"conditions"' 'secret detail' '"A1"'; do
    assert_not_contains "$T/notices" "$k"
done
assert_contains "$T/notices" '"subject_count":2'
assert_contains "$T/notices" '"contact":"Humberside FIB, 01482 000000"'
assert_contains "$T/notices" '"risk":"LOW"'

# The audit trail, read by the auditor.
ctl auditor audit export >"$T/audit.jsonl" || fail "audit export"
for a in police rocu marsoc prison; do
    [ "$(disclosed "$T/audit.jsonl" deliver $a)" = "$(got $a | tr ' ' '\n' | grep -c '^[0-9]*$')" ] ||
        fail "deliver records for $a do not match its deliveries"
done
[ "$(disclosed "$T/audit.jsonl" notice)" = 5 ] || fail "expected 5 notices in the records"
grep '"action":"withhold"' "$T/audit.jsonl" | grep '"msg_seq":5' | grep -q '"reason":"release_to"' || fail "release_to refusal not audited"
[ "$(grep '"action":"withhold"' "$T/audit.jsonl" | grep -c '"msg_seq":5')" = 3 ] || fail "expected 3 withheld records for seq 5"
[ "$(counted "$T/audit.jsonl" '"action":"publish"' '"outcome":"ok"')" = 6 ] || fail "expected 6 publishes in the records"
assert_not_contains "$T/audit.jsonl" 'secret detail'
assert_not_contains "$T/audit.jsonl" '"A1"'
# Only the auditor may read it.
if ctl police audit tail 2>"$T/pa.err"; then fail "police read the audit"; fi
assert_contains "$T/pa.err" ROLE_MISSING
ctl auditor audit tail -n 3 --action audit_read >"$T/tail.out" || fail "audit tail"
assert_contains "$T/tail.out" '"actor":"auditor"'
stop_broker
"$BIN/liaisonctl" audit verify --data-dir "$T/data/broker" --key "$T/keys/checkpoint.sign.pub" >"$T/verify.out" || fail "verify: $(cat "$T/verify.out")"
assert_contains "$T/verify.out" "audit intact"
echo "11 ok"
