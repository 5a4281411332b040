# 60: three tiers — Humberside (a force and HMP Hull), Yorkshire ROCU and
# national MARSOC, each its own broker, linked upward. A prison alert
# travels up to MARSOC with its label and origin intact; a national alert
# travels down to the force and the prison; a no-onward-sharing message
# and one released only to a local agency stay home; a message above the
# link's clearance never crosses it; a link that forwards an agency it may
# not speak for is refused (and says so in `liaisonctl links`); and each
# tier's audit trail verifies on its own, with the crossings recorded on
# both sides.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fed_lib.sh"
keygen humberside yorkshire national police prison rocu marsoc humberside-ops yorkshire-ops national-ops auditor
for b in humberside yorkshire national; do fed_port $b; done

# Humberside: its uplink carries OFFICIAL-SENSITIVE with PRISON-INTEL at most.
fed_broker humberside "" "$(uplink yorkshire-rocu yorkshire '"alert.>"' '"national.>"' OFFICIAL-SENSITIVE '"PRISON-INTEL"')" <<EOF
$(agent police '"alert.yorkshire.>"' '"alert.>", "national.>"' SECRET '' '"publisher", "receiver"' police humberside),
$(agent prison '"alert.yorkshire.hmp-hull.>"' '"alert.>", "national.>"' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"publisher", "receiver"' prison humberside),
$(agent humberside-ops '' '' OFFICIAL '' '"operator"' police humberside)
EOF
# Yorkshire: the Humberside link speaks for the prison only, not the force.
fed_broker yorkshire "" "$(uplink marsoc national '"alert.>"' '"national.>"' TOP-SECRET '"PRISON-INTEL"')" <<EOF
$(agent rocu '' '"alert.>", "national.>"' SECRET '"PRISON-INTEL"' '"receiver"' rocu yorkshire),
$(link_agent humberside '"alert.>"' '"national.>"' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"prison agency", "rocu agency"'),
$(agent yorkshire-ops '' '' OFFICIAL '' '"operator"' rocu yorkshire),
$(agent auditor '' '' OFFICIAL '' '"auditor"' rocu yorkshire)
EOF
fed_broker national "" "" <<EOF
$(agent marsoc '"national.>"' '"alert.>", "national.>"' TOP-SECRET '"PRISON-INTEL"' '"publisher", "receiver"' marsoc national),
$(link_agent yorkshire '"alert.>"' '"national.>"' TOP-SECRET '"PRISON-INTEL"' '"prison agency", "rocu agency", "police agency"'),
$(agent national-ops '' '' OFFICIAL '' '"operator"' marsoc national)
EOF
for a in police prison humberside-ops; do fed_agent_cfg $a humberside; done
for a in rocu yorkshire-ops auditor; do fed_agent_cfg $a yorkshire; done
for a in marsoc national-ops; do fed_agent_cfg $a national; done
for b in national yorkshire humberside; do
    "$BIN/liaison-broker" -c "$T/$b.broker.cfg" --check-config >/dev/null || fail "$b config"
    start_fed $b
done
wait_link humberside yorkshire-rocu
wait_link yorkshire marsoc

for a in police prison rocu marsoc; do sub_bg $a 'alert.>' --timeout 12; done
"$BIN/liaisonctl" -c "$T/police.cfg" sub 'national.>' --count 1 --timeout 12 >"$T/police.nat" 2>"$T/police.nat.err" &
PIDS="$PIDS $!"
wait_for "$T/police.nat.err" subscribed
"$BIN/liaisonctl" -c "$T/prison.cfg" sub 'national.>' --count 1 --timeout 12 >"$T/prison.nat" 2>"$T/prison.nat.err" &
PIDS="$PIDS $!"
wait_for "$T/prison.nat.err" subscribed

pub() { ctl "$1" pub - >/dev/null || fail "publish by $1"; }
# 1: a prison alert: up to the ROCU and MARSOC, label intact.
msg alert.yorkshire.hmp-hull.contraband OFFICIAL-SENSITIVE ',"caveats":["PRISON-INTEL"],"subjects":["A1234BC"],"msg_id":"hull-1"' 'drone drop planned' | pub prison
# 2: no onward sharing: Humberside only.
printf '%s\n' '{"topic":"alert.yorkshire.hull.local","classification":"OFFICIAL","grading":"2B","handling":"C","conditions":"Humberside use only","no_onward_sharing":true,"risk":"LOW","body":"stays home"}' | pub police
# 3: released to a Humberside agency only: stays home.
printf '%s\n' '{"topic":"alert.yorkshire.hull.prison-only","classification":"OFFICIAL","grading":"2B","handling":"C","conditions":"for HMP Hull","release_to":["agency:prison"],"risk":"LOW","body":"for the prison"}' | pub police
# 4: SECRET, above the Humberside link's clearance: stays home.
msg alert.yorkshire.hull.guns SECRET '' 'secret detail' | pub police
# 5: the force's own OFFICIAL alert: Yorkshire may not believe the link for the force.
msg alert.yorkshire.hull.drugs OFFICIAL '' 'force alert' | pub police
# 6: a national alert: down to every tier.
msg national.firearms OFFICIAL '' 'national alert' | pub marsoc

wait_for "$T/police.nat" '"body":"national alert"'
wait_for "$T/prison.nat" '"body":"national alert"'
wait_for "$T/marsoc.out" '"body":"drone drop planned"'
wait_for "$T/humberside.log" 'event=forward_refused link=yorkshire-rocu'
for a in police prison rocu marsoc; do sub_wait $a || true; done

bodies() { sed -n 's/.*"body":"\([^"]*\)".*/\1/p' "$T/$1.out" | sort | tr '\n' '|'; }
assert_eq "$(bodies police)" "force alert|secret detail|stays home|" "police (Humberside)"
assert_eq "$(bodies prison)" "drone drop planned|for the prison|force alert|stays home|" "prison (Humberside)"
assert_eq "$(bodies rocu)" "drone drop planned|" "rocu (Yorkshire)"
assert_eq "$(bodies marsoc)" "drone drop planned|" "marsoc (national)"
# The label and the origin travelled unchanged; the route says where it has been.
grep '"body":"drone drop planned"' "$T/marsoc.out" >"$T/up.json"
for k in '"classification":"OFFICIAL-SENSITIVE"' '"caveats":\["PRISON-INTEL"\]' '"subjects":\["A1234BC"\]' \
    '"msg_id":"hull-1"' '"origin":{"agent":"prison","agency":"prison agency","type":"prison","region":"humberside"}'; do
    grep -q "$k" "$T/up.json" || fail "the label lost $k on the way up: $(cat "$T/up.json")"
done
assert_contains "$T/up.json" '"route":{"origin_broker":"humberside","origin_seq":1,"via":\["yorkshire"\]}'
# (national stored the prison alert first: the national alert is its second)
grep '"body":"national alert"' "$T/police.nat" | grep -q '"route":{"origin_broker":"national","origin_seq":2,"via":\["yorkshire"\]}' ||
    fail "the national alert's route: $(cat "$T/police.nat")"

# The operators see it: the refusal is loud on the link that met it.
ctl humberside-ops links --json >"$T/links.json" || fail "links view"
assert_contains "$T/links.json" '"name":"yorkshire-rocu"'
assert_contains "$T/links.json" '"state":"connected"'
assert_contains "$T/links.json" '"refused":1'
ctl humberside-ops links >"$T/links.txt" || fail "links table"
assert_contains "$T/links.txt" "yorkshire-rocu"
ctl yorkshire-ops links --json >"$T/ylinks.json" || fail "yorkshire links view"
assert_contains "$T/ylinks.json" '"agent":"humberside-link"'
assert_contains "$T/humberside.log" "code=ORIGIN_NOT_SPOKEN_FOR"

# Both sides audit the crossing.
ctl auditor audit export >"$T/yaudit.jsonl" || fail "yorkshire audit"
grep '"action":"publish"' "$T/yaudit.jsonl" | grep '"actor":"humberside-link"' | grep -q '"outcome":"ok"' || fail "yorkshire did not record the collection from the link"
grep '"actor":"humberside-link"' "$T/yaudit.jsonl" | grep -q 'ORIGIN_NOT_SPOKEN_FOR' || fail "yorkshire did not record the refused origin"
grep '"action":"bridge"' "$T/yaudit.jsonl" | grep -q '"recipient":"uplink:marsoc"' || fail "yorkshire did not record its bridge up"
for b in national yorkshire humberside; do stop_fed $b; done
for b in national yorkshire humberside; do
    "$BIN/liaisonctl" audit verify --data-dir "$T/data/$b" >"$T/verify.$b" || fail "$b audit: $(cat "$T/verify.$b")"
done
echo "60 ok"
