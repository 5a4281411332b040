# 50: who holds what on a subject — four agencies and a shared subject. Each
# asker gets exactly the messages it may receive, whole, and hits (holder,
# whom to ask) for those refused it only on clearance or caveats on a topic
# with notices; the rest is absent, and a subject known only there looks
# exactly like one nobody knows. Equivalent spellings find each other. A
# hit carries no body, subject or caveat; the audit holds tokens, never
# references, and an auditor finds the queries about a reference it knows;
# originators get hit notices (kept while away, live when connected);
# fishing is bounded; a changed subject_key needs --reindex.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu marsoc prison auditor fisher
"$BIN/liaisonctl" keygen subjects --subject-key --dir "$T/keys" >/dev/null
broker_cfg <<EOF2
$(agent police '"alert.yorkshire.>"' '"alert.>", "intel.>"' SECRET '' '"publisher", "receiver", "query"' police yorkshire),
$(agent rocu '' '"alert.>", "intel.>"' SECRET '"PRISON-INTEL"' '"receiver", "query"' rocu yorkshire),
$(agent marsoc '"alert.national.>", "intel.national.>"' '"alert.>", "intel.>"' TOP-SECRET '"PRISON-INTEL", "OP-NIGHTJAR"' '"publisher", "receiver", "query"' marsoc national),
$(agent prison '"alert.yorkshire.hmp-hull.>"' '"alert.>", "intel.>"' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"publisher", "receiver", "query"' prison yorkshire),
$(agent fisher '' '"alert.>"' OFFICIAL '' '"query"' police yorkshire),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
sed -i 's|metrics = "";|metrics = ""; notices = [ "alert.>" ]; notify_on_hit = [ "alert.>" ]; subject_key = "keys/subjects.subject.key"; max_queries_per_minute = 6;|' "$T/broker.cfg"
sed -i 's|name = "prison"; agency = "prison agency";|name = "prison"; agency = "HMP Hull"; contact = "HMP Hull security, 01482 111111";|' "$T/broker.cfg"
sed -i 's|name = "rocu"; agency = "rocu agency";|name = "rocu"; agency = "Yorkshire ROCU"; contact = "ROCU desk, 0113 222222";|' "$T/broker.cfg"
for a in police rocu marsoc prison fisher auditor; do agent_cfg $a; done
start_broker

pub() { ctl "$1" pub - >/dev/null || fail "publish by $1"; }
msg alert.yorkshire.hull.drugs OFFICIAL ',"subjects":["A1234BC"]' 'one for all' | pub police           # 1
msg alert.yorkshire.hull.guns SECRET ',"subjects":["a 1234 bc","John SMITH"]' 'secret detail' | pub police # 2
msg alert.yorkshire.hmp-hull.contraband OFFICIAL-SENSITIVE ',"caveats":["PRISON-INTEL"],"subjects":["A-1234-BC"]' 'prison detail' | pub prison # 3
msg alert.national.firearms TOP-SECRET ',"caveats":["OP-NIGHTJAR"],"subjects":["A1234BC"]' 'top detail' | pub marsoc # 4
printf '%s\n' '{"topic":"alert.yorkshire.hull.rocu","classification":"OFFICIAL","grading":"1A","handling":"C","conditions":"ROCU use only","release_to":["type:rocu"],"risk":"MEDIUM","subjects":["A1234BC"],"body":"rocu only"}' | pub police # 5
msg alert.yorkshire.hull.other OFFICIAL ',"subjects":["B9999ZZ"]' 'another man' | pub police       # 6
msg intel.national.quiet TOP-SECRET ',"caveats":["OP-NIGHTJAR"],"subjects":["A1234BC","C5555CC"]' 'no notices here' | pub marsoc # 7

q() { # NAME SUBJECT...: the query's JSON lines in $T/NAME.q
    n=$1
    shift
    args=""
    for s in "$@"; do args="$args --subject $s"; done
    # shellcheck disable=SC2086
    ctl "$n" query $args --json >"$T/$n.q" 2>"$T/$n.qerr" || fail "query by $n: $(cat "$T/$n.qerr")"
}
got() { # the answers as "seq[h]" (h: a hit)
    sed -n 's/^{"hit":true,"seq":\([0-9]*\),.*/\1h/p; s/^{"seq":\([0-9]*\),.*/\1/p' "$T/$1.q" | tr '\n' ' '
}
q police A1234BC
assert_eq "$(got police)" "1 2 3h 4h " "police"
assert_contains "$T/police.q" '{"summary":{"results":4,"hits":2}}'
q rocu a-1234-bc
assert_eq "$(got rocu)" "1 2 3 4h 5 " "rocu (another spelling)"
q marsoc 'A1234BC'
assert_eq "$(got marsoc)" "1 2 3 4 7 " "marsoc"
q prison A1234BC
assert_eq "$(got prison)" "1 2h 3 4h " "prison"
# Whole answers are the JSON sub prints; hits carry nothing of the content.
grep -q '"body":"one for all"' "$T/prison.q" || fail "a whole answer lacks its body"
grep '"hit":true' "$T/police.q" "$T/prison.q" >"$T/hits"
for k in '"body"' '"subjects"' '"caveats"' '"grading"' '"conditions"' 'detail' 'A1234BC' 'SMITH' 'PRISON-INTEL' 'OP-NIGHTJAR'; do
    assert_not_contains "$T/hits" "$k"
done
assert_contains "$T/hits" '"contact":"HMP Hull security, 01482 111111"'
assert_contains "$T/hits" '"origin":{"agent":"prison","agency":"HMP Hull","type":"prison","region":"yorkshire"}'
# Two subjects in one query: each message once, in sequence order.
q police A1234BC B9999ZZ
assert_eq "$(got police)" "1 2 3h 4h 6 " "police, two subjects"
# "Exists but not for you" (notices off on intel.>) looks exactly like no match.
q police C5555CC
cp "$T/police.q" "$T/exists.q"
q police D0000DD
cmp -s "$T/exists.q" "$T/police.q" || fail "an invisible match differs from no match"
assert_contains "$T/police.q" '{"summary":{"results":0,"hits":0}}'
# The table form, and usage errors.
ctl prison query --subject A1234BC --topic 'alert.yorkshire.>' >"$T/table" || fail "table query"
assert_contains "$T/table" "HIT: ask police agency" # seq 2; seq 4 is national: outside the topic
assert_contains "$T/table" "3 results, 1 of them hits"
assert_not_contains "$T/table" "alert.national"
set +e
ctl rocu query >/dev/null 2>&1; rc=$?
set -e
assert_eq "$rc" 2 "query without --subject"

# Fishing is bounded: max_queries_per_minute = 6, max_query_subjects = 16.
for i in 1 2 3 4 5; do ctl fisher query --subject "X${i}" --json >/dev/null || fail "fisher query $i"; done
set +e
ctl fisher query --subject "   " >/dev/null 2>"$T/bad.err"; rc=$?
set -e
assert_eq "$rc" 1 "a blank subject"
assert_contains "$T/bad.err" BAD_SUBJECT
set +e
ctl fisher query --subject X7 >/dev/null 2>"$T/rate.err"; rc=$?
set -e
assert_eq "$rc" 1 "the seventh query this minute"
assert_contains "$T/rate.err" TOO_MANY_QUERIES
many=""
for i in $(seq 1 17); do many="$many --subject S$i"; done
set +e
# shellcheck disable=SC2086
ctl police query $many >/dev/null 2>"$T/many.err"; rc=$?
set -e
assert_eq "$rc" 1 "17 subjects"
assert_contains "$T/many.err" TOO_LARGE
# police has asked 5 this minute; one query read a page at a time is one
# query, however many pages.
ctl police query --subject A1234BC --page 1 --json >"$T/paged.q" 2>"$T/paged.err" || fail "a paged query: $(cat "$T/paged.err")"
assert_contains "$T/paged.q" '{"summary":{"results":4,"hits":2}}'

# Hit notices: prison was away, so its notices were kept; police is live.
"$BIN/liaisonctl" -c "$T/police.cfg" hits --count 1 --timeout 10 >"$T/police.hits" 2>&1 &
HP=$!
PIDS="$PIDS $HP"
sleep 0.5 # let it connect; the notice is kept if it is not yet there, so no race on the result
q rocu A1234BC
wait "$HP" || fail "police got no live hit notice: $(cat "$T/police.hits")"
assert_contains "$T/police.hits" '"asker_agency":"Yorkshire ROCU"'
assert_contains "$T/police.hits" '"asker_contact":"ROCU desk, 0113 222222"'
ctl prison hits --timeout 2 >"$T/prison.hits" || fail "prison hits"
# Seq 3 was found by police (three times, a hit), rocu (twice) and marsoc;
# never by prison itself.
[ "$(grep -c '"seq":3,' "$T/prison.hits")" = 6 ] || fail "prison's kept notices: $(cat "$T/prison.hits")"
assert_eq "$(grep -c '"asker_agency":"police agency",.*"hit":true' "$T/prison.hits")" 3 "police's hits"
assert_eq "$(grep -c '"asker_agency":"Yorkshire ROCU","asker_contact":"ROCU desk, 0113 222222",.*"hit":false' "$T/prison.hits")" 2 "rocu's finds"
assert_not_contains "$T/prison.hits" '"asker_agency":"HMP Hull"'
assert_not_contains "$T/prison.hits" 'A1234BC'
ctl prison hits --timeout 1 >"$T/prison.hits2" || fail "prison hits again"
[ ! -s "$T/prison.hits2" ] || fail "kept notices were sent twice"

# The audit: tokens, never references; the queries about a known reference.
ctl auditor audit export >"$T/audit.jsonl" || fail "audit export"
assert_not_contains "$T/audit.jsonl" 'A1234BC'
assert_not_contains "$T/audit.jsonl" 'a-1234-bc'
assert_not_contains "$T/audit.jsonl" 'D0000DD'
grep '"action":"query"' "$T/audit.jsonl" | grep '"actor":"police"' | grep -q '"tokens":\["[0-9a-f]\{64\}"\]' || fail "query records lack tokens"
grep '"action":"query"' "$T/audit.jsonl" | grep '"actor":"police"' | grep -q '"results":0,"hits":0' || fail "a no-hit query is not recorded"
grep '"action":"query"' "$T/audit.jsonl" | grep '"outcome":"refused"' | grep -q TOO_MANY_QUERIES || fail "the rate refusal is not audited"
grep -q '"action":"hit_notice","recipient":"prison"' "$T/audit.jsonl" || fail "hit notices are not audited"
ctl auditor audit export --subject 'a1234bc' --action query >"$T/about.jsonl" || fail "audit --subject"
# police twice (one and two subjects) and four pages of one, rocu twice,
# marsoc once, prison twice (the JSON and the table): each page is recorded.
assert_eq "$(grep -c '"action":"query"' "$T/about.jsonl")" 11 "pages of queries about A1234BC"
assert_not_contains "$T/about.jsonl" '"actor":"fisher"'

# The index survives a restart; another subject_key needs --reindex.
stop_broker
start_broker
q marsoc A1234BC
assert_eq "$(got marsoc)" "1 2 3 4 7 " "marsoc after a restart"
stop_broker
rm "$T/keys/subjects.subject.key"
"$BIN/liaisonctl" keygen subjects --subject-key --dir "$T/keys" >/dev/null
if "$BIN/liaison-broker" -c "$T/broker.cfg" 2>"$T/refused.log"; then fail "started with another subject_key"; fi
assert_contains "$T/refused.log" "reindex"
"$BIN/liaison-broker" -c "$T/broker.cfg" --reindex 2>"$T/reindex.log" || fail "reindex: $(cat "$T/reindex.log")"
assert_contains "$T/reindex.log" "event=reindexed messages=7"
start_broker
q marsoc a1234bc
assert_eq "$(got marsoc)" "1 2 3 4 7 " "marsoc after a reindex"
stop_broker
"$BIN/liaisonctl" audit verify --data-dir "$T/data/broker" >"$T/verify.out" || fail "verify: $(cat "$T/verify.out")"
echo "50 ok"
