# 62: a forged origin over a link is refused. A client holding a broker
# link's own key — Humberside's, configured on Yorkshire with
# speaks_for = ["HMP Hull"] — speaks the wire itself (rawclient linkpub)
# and sets the origin and route a link would. A message it says is HMP
# Hull's is believed and stored with its route; one claiming the National
# Crime Agency is refused with ORIGIN_NOT_SPOKEN_FOR; one without a route,
# or with a malformed one, is refused with BAD_ROUTE; one whose route names
# Yorkshire is a LOOP; the same (origin broker, origin sequence) again,
# under another msg_id, is a repeat. Each refusal is audited and logged,
# nothing refused is stored, and the link's session goes on serving. The
# same frames from an ordinary agent are stored under its own configured
# origin, their route dropped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fed_lib.sh"
keygen humberside yorkshire prison rocu yorkshire-ops auditor
fed_port yorkshire
fed_broker yorkshire "" "" <<EOF
$(agent prison '"alert.yorkshire.hmp-hull.>"' '' OFFICIAL '' '"publisher"' prison humberside),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu yorkshire),
$(link_agent humberside '"alert.>"' '' OFFICIAL-SENSITIVE '' '"HMP Hull"'),
$(agent yorkshire-ops '' '' OFFICIAL '' '"operator"' rocu yorkshire),
$(agent auditor '' '' OFFICIAL '' '"auditor"' rocu yorkshire)
EOF
for a in prison rocu yorkshire-ops auditor; do fed_agent_cfg $a yorkshire; done
fed_agent_cfg humberside-link yorkshire humberside
"$BIN/liaison-broker" -c "$T/yorkshire.broker.cfg" --check-config >/dev/null || fail "yorkshire config"
start_fed yorkshire

# linkpub NAME AGENCY ORIGIN_BROKER ORIGIN_SEQ [VIA]: as the agent
# ${AS:-humberside-link}, prints the answer to the publish ($T/NAME.raw:
# its second line; the first is the Welcome, the last the Welcome of the
# Hello that shows the session still served).
linkpub() {
    name=$1
    as=${AS:-humberside-link}
    shift
    "$BIN/tools/rawclient" "$T/$as.cfg" linkpub "$@" >"$T/$name.raw" 2>&1 ||
        fail "rawclient linkpub $*: $(cat "$T/$name.raw")"
    assert_eq "$(sed -n 1p "$T/$name.raw")" "reply WELCOME $as" "$name: welcome"
    assert_eq "$(sed -n 3p "$T/$name.raw")" "reply WELCOME $as" "$name: still served after"
    sed -n 2p "$T/$name.raw"
}

# Spoken for: believed, stored as HMP Hull's with the route it came by.
assert_eq "$(linkpub hull 'HMP Hull' humberside 1)" "reply PUB_ACK seq 1" "HMP Hull over its link"
# Forged: the link does not speak for the NCA.
assert_eq "$(linkpub nca 'National Crime Agency' humberside 2)" "reply ERROR ORIGIN_NOT_SPOKEN_FOR" "the NCA over Humberside's link"
# No route, and a route that is not one: a message from a link must say
# where it was first stored.
assert_eq "$(linkpub noroute 'HMP Hull' - 3)" "reply ERROR BAD_ROUTE" "no route"
assert_eq "$(linkpub badroute 'HMP Hull' 'HMP Hull' 4)" "reply ERROR BAD_ROUTE" "a route naming no broker"
# A route that has been through Yorkshire already.
assert_eq "$(linkpub loop 'HMP Hull' humberside 5 yorkshire)" "reply ERROR LOOP" "a route through yorkshire"
# The first again (another msg_id, the same origin broker and sequence).
assert_eq "$(linkpub again 'HMP Hull' humberside 1)" "reply PUB_ACK seq 1 duplicate" "the same route again"

# Only the first is stored, as HMP Hull's, with its route.
fed_view yorkshire status || fail "yorkshire status"
assert_contains "$T/yorkshire.status.json" '"messages":1,'
stored_ids yorkshire rocu 'alert.>'
assert_eq "$(wc -l <"$T/yorkshire.ids")" 1 "messages stored"
assert_contains "$T/yorkshire.store.jsonl" '"origin":{"agent":"intel-unit","agency":"HMP Hull","type":"prison","region":"humberside"}'
assert_contains "$T/yorkshire.store.jsonl" '"route":{"origin_broker":"humberside","origin_seq":1}'
assert_not_contains "$T/yorkshire.store.jsonl" 'National Crime Agency'

# An ordinary agent sending the same frames is no link: its configured
# origin replaces the claim, and the route it wrote is dropped (so it is
# no repeat of the link's, and no loop).
assert_eq "$(AS=prison linkpub agent 'National Crime Agency' humberside 1 yorkshire)" "reply PUB_ACK seq 2" "the frames from an agent"
stored_ids yorkshire rocu 'alert.>'
grep '"seq":2,' "$T/yorkshire.store.jsonl" >"$T/agent.json" || fail "the agent's message is not stored"
assert_contains "$T/agent.json" '"origin":{"agent":"prison","agency":"prison agency","type":"prison","region":"humberside"}'
assert_not_contains "$T/agent.json" '"route"'
assert_not_contains "$T/yorkshire.store.jsonl" '"agency":"National Crime Agency"'

# Counted on the link, logged, and audited.
fed_view yorkshire links || fail "yorkshire links view"
assert_contains "$T/yorkshire.links.json" '"loops_dropped":1,'
assert_contains "$T/yorkshire.links.json" '"route_duplicates":1}'
assert_contains "$T/yorkshire.log" 'event=origin_refused link=humberside-link agency="National Crime Agency"'
assert_contains "$T/yorkshire.log" 'event=loop_dropped from=humberside-link origin_broker=humberside origin_seq=5'
ctl auditor audit export >"$T/audit.jsonl" || fail "yorkshire audit"
grep '"actor":"humberside-link"' "$T/audit.jsonl" | grep '"action":"publish"' >"$T/link.jsonl" || fail "nothing audited for the link"
grep '"outcome":"ok"' "$T/link.jsonl" | grep -q '"msg_seq":1' || fail "the collection from the link not audited"
for reason in ORIGIN_NOT_SPOKEN_FOR BAD_ROUTE LOOP; do
    grep '"outcome":"refused"' "$T/link.jsonl" | grep -q "\"reason\":\"$reason\"" || fail "refusal $reason not audited: $(cat "$T/link.jsonl")"
done
assert_eq "$(grep -c '"outcome":"ok"' "$T/link.jsonl")" 1 "collections audited"
stop_fed yorkshire
"$BIN/liaisonctl" audit verify --data-dir "$T/data/yorkshire" >"$T/verify" || fail "yorkshire audit: $(cat "$T/verify")"
echo "62 ok"
