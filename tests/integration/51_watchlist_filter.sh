# 51: watchlists and label filters on subscriptions. A watchlist receives
# only new messages about its subjects (whole, or as a notice where the rule
# gives one), whatever the spelling; a filter narrows what the rule allows
# and never widens it, and sees a notice as the receiver does (topic,
# origin, risk), so it cannot tell what a hidden message is labelled. A
# filter with every operator works; malformed ones are refused with
# BAD_FILTER naming the column. Operators see that a filter or watchlist is
# set and how many subjects it watches, never which.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu prison ops
"$BIN/liaisonctl" keygen subjects --subject-key --dir "$T/keys" >/dev/null
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"' SECRET '' '"publisher", "receiver"' police humberside),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu yorkshire),
$(agent prison '' '"alert.>"' OFFICIAL-SENSITIVE '' '"receiver"' prison yorkshire),
$(agent ops '' '' OFFICIAL '' '"operator"' police yorkshire)
EOF2
sed -i 's|metrics = "";|metrics = ""; notices = [ "alert.>" ]; subject_key = "keys/subjects.subject.key";|' "$T/broker.cfg"
for a in police rocu prison ops; do agent_cfg $a; done
start_broker

sub_bg rocu 'alert.>' --subject A1234BC --subject 'John Smith' --count 3 --timeout 10
"$BIN/liaisonctl" -c "$T/prison.cfg" sub 'alert.>' --where 'risk >= MEDIUM and origin.type in (police, rocu)' --count 2 --timeout 10 >"$T/prisonf.out" 2>"$T/prisonf.err" &
PF=$!
PIDS="$PIDS $PF"
wait_for "$T/prisonf.err" subscribed
# A filter on what a notice hides must not see it: classification.
"$BIN/liaisonctl" -c "$T/prison.cfg" sub 'alert.>' --where 'classification >= SECRET' --timeout 4 >"$T/prisonc.out" 2>"$T/prisonc.err" &
PC=$!
PIDS="$PIDS $PC"
wait_for "$T/prisonc.err" subscribed
# Every operator at once, on message 4 only.
EVERY='(risk = MEDIUM or risk > HIGH) and risk != LOW and risk >= MEDIUM and risk <= HIGH and risk < HIGH and not classification = OFFICIAL and source_grade <= 2 and intel_grade < C and handling in (P, C) and handling not in (C) and origin.agency = "police agency" and origin.region != yorkshire and topic = alert.humber.every'
"$BIN/liaisonctl" -c "$T/rocu.cfg" sub 'alert.>' --where "$EVERY" --count 1 --timeout 10 >"$T/every.out" 2>"$T/every.err" &
PE=$!
PIDS="$PIDS $PE"
wait_for "$T/every.err" subscribed

# The operators' view: set, and how many, never which.
ctl ops subs --json >"$T/subs.json" || fail "subs view"
assert_contains "$T/subs.json" '"watching":2'
assert_contains "$T/subs.json" '"filter":true'
assert_not_contains "$T/subs.json" 'A1234BC'
assert_not_contains "$T/subs.json" 'Smith'

pub() { ctl police pub - >/dev/null || fail "publish"; }
msg alert.humber.one OFFICIAL ',"subjects":["A1234BC"]' 'about him, low' | pub                     # 1
printf '%s\n' '{"topic":"alert.humber.two","classification":"OFFICIAL","grading":"2B","handling":"P","risk":"HIGH","risk_basis":"threat to life","subjects":["B9999ZZ"],"body":"someone else, high"}' | pub # 2
printf '%s\n' '{"topic":"alert.humber.three","classification":"SECRET","grading":"2B","handling":"P","risk":"MEDIUM","subjects":["a-1234-bc"],"body":"about him, secret"}' | pub # 3
printf '%s\n' '{"topic":"alert.humber.every","classification":"OFFICIAL-SENSITIVE","grading":"1B","handling":"P","risk":"MEDIUM","subjects":["JOHN  smith"],"body":"every operator"}' | pub # 4
sub_wait rocu || fail "the watchlist did not get its three messages: $(cat "$T/rocu.out")"
wait "$PF" || fail "the filter did not get its two messages: $(cat "$T/prisonf.out")"
wait "$PE" || fail "the every-operator filter got nothing: $(cat "$T/every.err")"
wait "$PC" || true

seqs() { sed -n 's/^{"seq":\([0-9]*\),.*"notice":true.*/\1n/p; /"notice":true/!s/^{"seq":\([0-9]*\),.*/\1/p' "$1" | tr '\n' ' '; }
assert_eq "$(seqs "$T/rocu.out")" "1 3 4 " "the watchlist"
assert_eq "$(seqs "$T/prisonf.out")" "2 3n " "risk >= MEDIUM from police or rocu"
assert_eq "$(seqs "$T/every.out")" "4 " "every operator"
assert_eq "$(seqs "$T/prisonc.out")" "" "a filter on classification, against notices"

# Malformed filters are refused, naming the column.
bad() { # EXPR WANT
    set +e
    ctl rocu sub 'alert.>' --where "$1" --timeout 1 >/dev/null 2>"$T/bad.err"
    rc=$?
    set -e
    assert_eq "$rc" 1 "filter '$1'"
    assert_contains "$T/bad.err" BAD_FILTER
    assert_contains "$T/bad.err" "$2"
}
bad 'risk >=' 'column'
bad 'riks = LOW' "unknown field"
bad 'risk = SEVERE' 'SEVERE'
bad 'topic < alert.x' 'column'
bad 'risk = LOW and (origin.type = police' 'column'
bad 'risk = LOW garbage' 'column'
# A watchlist subject that does not normalise.
set +e
ctl rocu sub 'alert.>' --subject '   ' --timeout 1 >/dev/null 2>"$T/badsub.err"; rc=$?
set -e
assert_eq "$rc" 1 "a blank watched subject"
assert_contains "$T/badsub.err" BAD_SUBJECT
stop_broker
echo "51 ok"
