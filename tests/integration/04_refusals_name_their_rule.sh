# 04: publishes outside the publisher's permissions, above its clearance or
# with a caveat it does not hold, malformed labels, and subscriptions outside
# its permissions are refused with specific codes; nothing refused is stored.
. "$(dirname "$0")/lib.sh"
keygen broker prison ops
broker_cfg <<EOF2
$(agent prison '"alert.yorkshire.hmp-hull.>"' '"alert.yorkshire.>"' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"publisher", "receiver"' prison yorkshire),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national)
EOF2
agent_cfg prison; agent_cfg ops
start_broker

refused() { # code json
    if printf '%s\n' "$2" | ctl prison pub - >"$T/r.out" 2>"$T/r.err"; then
        fail "accepted, expected $1: $2"
    fi
    assert_contains "$T/r.err" "$1"
}
refused TOPIC_NOT_PERMITTED "$(msg alert.lancashire.hmp-x.drugs OFFICIAL)"
refused ABOVE_CLEARANCE "$(msg alert.yorkshire.hmp-hull.drugs SECRET)"
refused CAVEAT_NOT_HELD "$(msg alert.yorkshire.hmp-hull.drugs OFFICIAL ',"caveats":["OP-NIGHTJAR"]')"
refused BAD_RISK '{"topic":"alert.yorkshire.hmp-hull.drugs","classification":"OFFICIAL","grading":"2B","handling":"P","risk":"HIGH","body":"x"}'
refused BAD_HANDLING '{"topic":"alert.yorkshire.hmp-hull.drugs","classification":"OFFICIAL","grading":"2B","handling":"C","risk":"LOW","body":"x"}'
refused BAD_TOPIC "$(msg Alert.Yorkshire OFFICIAL)"
# Refused by liaisonctl before anything is sent: not valid JSON mapping.
if printf '{"topic":"alert.yorkshire.hmp-hull.x","classification":"PUBLIC","grading":"2B"}\n' | ctl prison pub - 2>"$T/j.err"; then
    fail "unknown classification accepted"
fi
assert_contains "$T/j.err" classification
if printf '{"topic":"alert.yorkshire.hmp-hull.x","grading":"4F"}\n' | ctl prison pub - 2>"$T/g.err"; then
    fail "bad grading accepted"
fi
assert_contains "$T/g.err" grading
if printf '{"topic": "unterminated\n' | ctl prison pub - 2>"$T/i.err"; then fail "invalid JSON accepted"; fi
assert_contains "$T/i.err" "line 1"

# Subscriptions outside the permissions, or malformed.
if ctl prison sub 'alert.>' --count 1 --timeout 5 2>"$T/s.err"; then fail "subscription outside permissions accepted"; fi
assert_contains "$T/s.err" SUBSCRIBE_NOT_PERMITTED
if ctl prison sub 'alert.>.x' --count 1 --timeout 5 2>"$T/p.err"; then fail "bad pattern accepted"; fi
assert_contains "$T/p.err" BAD_PATTERN
if ctl ops sub 'alert.>' --count 1 --timeout 5 2>"$T/o.err"; then fail "operator subscription accepted"; fi
assert_contains "$T/o.err" ROLE_MISSING

# Nothing refused was stored: the first accepted publish is seq 1.
msg alert.yorkshire.hmp-hull.drugs OFFICIAL-SENSITIVE ',"caveats":["PRISON-INTEL"]' | ctl prison pub - >"$T/ok.out" || fail "valid publish refused"
assert_eq "$(cat "$T/ok.out")" "seq 1"
stop_broker
echo "04 ok"
