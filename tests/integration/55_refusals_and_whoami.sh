# 55: a refusal says what would be allowed, in the Error the client gets,
# in what liaisonctl prints and in the broker's refusal log line: the
# classification against the clearance, the topic against the publish
# patterns, the pattern of a subscription or a replay against the
# subscribe patterns, the role needed against the roles held, and caveats
# by count only (no caveat name in the text). The audit record keeps the
# stable code. A release_to entry that names nobody the broker knows of
# (an unknown type, region or agency) is refused BAD_RELEASE_TO naming it;
# agencies and regions of configured agents, agencies a link speaks_for,
# and the names in known_agencies / known_regions (a bad one named by
# --check-config) are accepted. whoami prints the broker's view of the
# caller (table and JSON), audited as a consultation; an agent whose
# agent.cfg name is not the broker's for its key warns identity_mismatch.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker prison ops auditor humber
broker_cfg <<EOF2
$(agent prison '"alert.yorkshire.hmp-hull.>", "alert.yorkshire.prisons.>"' '"alert.yorkshire.>"' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"publisher", "receiver"' prison yorkshire),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national),
{ name = "humber"; agency = "Humber broker"; type = "broker"; region = "humber";
  public_key = "keys/humber.pub"; clearance = "OFFICIAL"; caveats = [ ]; roles = [ "publisher" ];
  publish = [ "alert.>" ]; subscribe = [ ]; speaks_for = [ "hmp-wold" ]; }
EOF2
# Names served beyond the links, for release_to.
sed -i '2s/heartbeat_ms = 1000; };/heartbeat_ms = 1000;\n  known_agencies = [ "nca-hq" ]; known_regions = [ "national-south" ]; };/' "$T/broker.cfg"
"$BIN/liaison-broker" -c "$T/broker.cfg" --check-config >/dev/null || fail "config with known_agencies refused"
sed 's/"national-south"/"National South"/' "$T/broker.cfg" >"$T/bad.cfg"
if "$BIN/liaison-broker" -c "$T/bad.cfg" --check-config >/dev/null 2>"$T/bad.err"; then fail "a bad known_regions name accepted"; fi
assert_contains "$T/bad.err" 'bad.cfg:[0-9]*: broker.known_regions\[0\]: "National South" is not a name'
agent_cfg prison; agent_cfg ops; agent_cfg auditor
start_broker

refused() { # code json
    if printf '%s\n' "$2" | ctl prison pub - >"$T/r.out" 2>"$T/r.err"; then
        fail "accepted, expected $1: $2"
    fi
    assert_contains "$T/r.err" "$1"
}
T_OK=alert.yorkshire.hmp-hull.drugs

# Above clearance: the classification against the clearance.
refused ABOVE_CLEARANCE "$(msg $T_OK SECRET)"
assert_contains "$T/r.err" "classification SECRET is above your clearance OFFICIAL-SENSITIVE"
wait_for "$T/broker.log" 'event=publish_refused agent=prison .*rule=clearance reason=".*classification SECRET is above your clearance OFFICIAL-SENSITIVE'

# Outside the publish patterns: the topic against them, listed.
refused TOPIC_NOT_PERMITTED "$(msg alert.lancashire.hmp-x.drugs OFFICIAL)"
assert_contains "$T/r.err" "topic alert.lancashire.hmp-x.drugs is not within your publish patterns: alert.yorkshire.hmp-hull.>, alert.yorkshire.prisons.>"
wait_for "$T/broker.log" 'event=publish_refused agent=prison .*rule=topic reason=".*publish patterns: alert.yorkshire.hmp-hull.>'

# Caveats not held: by count, never by name.
refused CAVEAT_NOT_HELD "$(msg $T_OK OFFICIAL ',"caveats":["PRISON-INTEL","OP-NIGHTJAR","OP-KESTREL"]')"
assert_contains "$T/r.err" "2 of the message's 3 caveats are not held by you"
assert_not_contains "$T/r.err" NIGHTJAR
assert_not_contains "$T/r.err" KESTREL
wait_for "$T/broker.log" "event=publish_refused agent=prison .*rule=caveat reason=\".*2 of the message's 3 caveats"
assert_not_contains "$T/broker.log" NIGHTJAR

# Subscriptions and replays outside the subscribe patterns.
if ctl prison sub 'alert.>' --count 1 --timeout 5 2>"$T/s.err"; then fail "subscription outside permissions accepted"; fi
assert_contains "$T/s.err" SUBSCRIBE_NOT_PERMITTED
assert_contains "$T/s.err" "pattern alert.> is not within your subscribe patterns: alert.yorkshire.>"
wait_for "$T/broker.log" 'event=subscribe_refused agent=prison pattern=alert.> rule=topic reason=".*subscribe patterns: alert.yorkshire.>'
if ctl prison sub 'national.>' --from-seq 1 --timeout 5 2>"$T/rp.err"; then fail "replay outside permissions accepted"; fi
assert_contains "$T/rp.err" SUBSCRIBE_NOT_PERMITTED
assert_contains "$T/rp.err" "pattern national.> is not within your subscribe patterns: alert.yorkshire.>"

# A role missing: which one is needed, which are held.
if ctl ops sub 'alert.>' --count 1 --timeout 5 2>"$T/o.err"; then fail "operator subscription accepted"; fi
assert_contains "$T/o.err" ROLE_MISSING
assert_contains "$T/o.err" "this needs the receiver role; you hold operator"
if ctl prison status 2>"$T/st.err"; then fail "status without the operator role accepted"; fi
assert_contains "$T/st.err" ROLE_MISSING
assert_contains "$T/st.err" "this needs the operator role; you hold publisher, receiver"
if printf '%s\n' "$(msg $T_OK OFFICIAL)" | ctl ops pub - 2>"$T/op.err"; then fail "publish without the publisher role accepted"; fi
assert_contains "$T/op.err" "this needs the publisher role; you hold operator"

# release_to entries that match nothing: refused by the broker (liaisonctl's
# own label check lets them through), naming the entry; nothing stored.
bad_release() { # entry
    if printf '%s\n' "$(msg $T_OK OFFICIAL ",\"release_to\":[\"type:prison\",\"$1\"]")" |
        ctl prison pub - >"$T/b.out" 2>"$T/b.err"; then
        fail "release_to $1 accepted"
    fi
    assert_contains "$T/b.err" "refused: BAD_RELEASE_TO"
    assert_contains "$T/b.err" "release_to entry $1 is not"
}
bad_release type:rocus
bad_release region:lancashire
bad_release agency:nobody
wait_for "$T/broker.log" 'event=publish_refused agent=prison .*code=BAD_RELEASE_TO reason="release_to entry agency:nobody is not'
# Known types, configured agents' regions and names, a link's speaks_for,
# and the names held beyond the links are accepted.
n=0
for entry in type:rocu region:yorkshire region:humber agency:ops agency:hmp-wold agency:nca-hq region:national-south; do
    n=$((n + 1))
    msg $T_OK OFFICIAL ",\"release_to\":[\"$entry\"]" | ctl prison pub - >"$T/ok.out" 2>"$T/ok.err" ||
        fail "release_to $entry refused: $(cat "$T/ok.err")"
    assert_eq "$(cat "$T/ok.out")" "seq $n" "release_to $entry"
done

# whoami: the broker's view of the caller, for any agent, as a table...
ctl prison whoami >"$T/who.out" 2>"$T/who.err" || fail "whoami: $(cat "$T/who.err")"
assert_contains "$T/who.out" '^name  *prison$'
assert_contains "$T/who.out" '^agency  *prison agency$'
assert_contains "$T/who.out" '^type  *prison$'
assert_contains "$T/who.out" '^region  *yorkshire$'
assert_contains "$T/who.out" '^roles  *publisher, receiver$'
assert_contains "$T/who.out" '^clearance  *OFFICIAL-SENSITIVE$'
assert_contains "$T/who.out" '^caveats  *PRISON-INTEL$'
assert_contains "$T/who.out" '^publish  *alert.yorkshire.hmp-hull.>, alert.yorkshire.prisons.>$'
assert_contains "$T/who.out" '^subscribe  *alert.yorkshire.>$'
assert_contains "$T/who.out" '^valid_to  *(no bound)$'
assert_contains "$T/who.out" '^revoked  *no$'
# ... and as JSON.
ctl ops whoami --json >"$T/who.json" || fail "whoami --json"
assert_eq "$(wc -l <"$T/who.json" | tr -d ' ')" 1 "whoami --json lines"
for part in '"name":"ops"' '"type":"marsoc"' '"region":"national"' '"roles":\["operator"\]' \
    '"clearance":"OFFICIAL"' '"caveats":\[\]' '"publish":\[\]' '"valid_from":null' '"revoked":false'; do
    assert_contains "$T/who.json" "$part"
done
if ctl prison whoami extra >/dev/null 2>&1; then fail "whoami with an operand accepted"; else [ $? -eq 2 ] || fail "whoami operand: not exit 2"; fi

# Each whoami is a consultation in the audit trail; refusals keep their code.
ctl auditor audit tail -n 200 --action whoami >"$T/aw.out" || fail "audit tail"
grep 'whoami' "$T/aw.out" | grep -q 'prison' || fail "prison's whoami not audited: $(cat "$T/aw.out")"
grep 'whoami' "$T/aw.out" | grep -q 'ops' || fail "ops's whoami not audited"
ctl auditor audit tail -n 200 --actor prison --action publish >"$T/ap.out" || fail "audit tail publish"
for code in ABOVE_CLEARANCE TOPIC_NOT_PERMITTED CAVEAT_NOT_HELD BAD_RELEASE_TO; do
    assert_contains "$T/ap.out" "$code"
done
assert_not_contains "$T/ap.out" "not held by you"

# An agent whose agent.cfg name is not the broker's for its key says so.
echo '' | agent_full_cfg wrong-name
sed -i 's#keys/wrong-name.key#keys/prison.key#' "$T/wrong-name.agent.cfg"
start_agent wrong-name
wait_for "$T/wrong-name.agent.log" 'event=identity_mismatch configured=wrong-name broker=prison'
stop_agent wrong-name
echo '' | agent_full_cfg prison
start_agent prison
wait_for "$T/prison.agent.log" 'event=identity_confirmed agent=prison'
assert_not_contains "$T/prison.agent.log" identity_mismatch
stop_agent prison

stop_broker
echo "55 ok"
