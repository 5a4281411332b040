# 45: a subject query whose page holds many answers, most of them hits: 40
# SECRET messages about one subject, asked about by an agency cleared to
# OFFICIAL-SENSITIVE, with 5 it may read between them. Every hit comes back
# with its own sequence, topic and risk and nothing else, and the whole
# answers whole. (A page's answers grow as they are added; a hit pointed
# into the old array once it moved, and the reply was packed from freed
# memory: found by the broker fuzzer's corpus under a coverage build.)
. "$(dirname "$0")/lib.sh"
keygen broker police prison
"$BIN/liaisonctl" keygen subjects --subject-key --dir "$T/keys" >/dev/null
broker_cfg <<EOF2
$(agent police '"alert.yorkshire.>"' '' SECRET '' '"publisher"' police yorkshire),
$(agent prison '' '"alert.>"' OFFICIAL-SENSITIVE '' '"receiver", "query"' prison yorkshire)
EOF2
sed -i 's|metrics = "";|metrics = ""; notices = [ "alert.>" ]; subject_key = "keys/subjects.subject.key";|' "$T/broker.cfg"
agent_cfg police; agent_cfg prison
start_broker
for i in $(seq 1 45); do
    if [ $((i % 9)) -eq 0 ]; then
        msg "alert.yorkshire.open.n$i" OFFICIAL ',"subjects":["A1234BC"]' "readable $i"
    else
        msg "alert.yorkshire.secret.n$i" SECRET ',"subjects":["A1234BC"]' "secret $i"
    fi
done | ctl police pub - >/dev/null || fail "publish"
ctl prison query --subject A1234BC --json >"$T/q" 2>"$T/qerr" || fail "query: $(cat "$T/qerr")"
assert_contains "$T/q" '{"summary":{"results":45,"hits":40}}'
for i in $(seq 1 45); do
    if [ $((i % 9)) -eq 0 ]; then
        grep -q "^{\"seq\":$i,.*\"topic\":\"alert.yorkshire.open.n$i\".*\"body\":\"readable $i\"" "$T/q" ||
            fail "whole answer $i missing or wrong"
    else
        grep -q "^{\"hit\":true,\"seq\":$i,.*\"topic\":\"alert.yorkshire.secret.n$i\"" "$T/q" ||
            fail "hit $i missing or wrong: $(grep "\"seq\":$i," "$T/q")"
    fi
done
grep '"hit":true' "$T/q" >"$T/hits"
assert_not_contains "$T/hits" 'secret '
assert_not_contains "$T/hits" '"body"'
stop_broker
echo "45 ok"
