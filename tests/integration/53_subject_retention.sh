# 53: the subject index goes with what retention erases. Four messages
# about one subject under a rule keeping three: once the oldest is erased,
# a query finds the other three only, and the index holds one entry per
# message left (the status view's subject_index_entries).
. "$(dirname "$0")/lib.sh"
keygen broker police ops
"$BIN/liaisonctl" keygen subjects --subject-key --dir "$T/keys" >/dev/null
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"' SECRET '' '"publisher", "receiver", "query"' police yorkshire),
$(agent ops '' '' OFFICIAL '' '"operator"' police yorkshire)
EOF2
sed -i 's|metrics = "";|metrics = ""; retention_interval_s = 1; subject_key = "keys/subjects.subject.key";|' "$T/broker.cfg"
echo 'retention = ( { pattern = "alert.>"; max_messages = 3; } );' >>"$T/broker.cfg"
for a in police ops; do agent_cfg $a; done
start_broker
for i in 1 2 3 4; do
    msg alert.humber.x OFFICIAL ',"subjects":["A1234BC","B9999ZZ"]' "about them $i" | ctl police pub - >/dev/null || fail "publish $i"
done
wait_for "$T/broker.log" "event=retention_erased"
ctl police query --subject A1234BC --json >"$T/q" || fail query
sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$T/q" | tr '\n' ' ' >"$T/seqs"
assert_eq "$(cat "$T/seqs")" "2 3 4 " "what a query finds after the erasure"
ctl ops status --json >"$T/status.json" || fail status
assert_contains "$T/status.json" '"subject_index_entries":6'
stop_broker
echo "53 ok"
