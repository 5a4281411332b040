# 13: revocation by SIGHUP while the agent is subscribed: nothing is
# delivered to it afterwards, its open connection is refused for every
# request, a new connection is refused at the handshake, and the audit shows
# the revocation. A config with an error is rejected whole on reload.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu auditor
cat >"$T/agents.in" <<EOF2
$(agent police '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
broker_cfg <"$T/agents.in"
agent_cfg police; agent_cfg rocu; agent_cfg auditor
start_broker
sub_bg rocu 'alert.>' --count 2 --timeout 6
msg alert.a.one OFFICIAL | ctl police pub - >/dev/null || fail pub1
wait_for "$T/rocu.out" '"seq":1'

# A broken config is refused whole; the running one stays.
cp "$T/broker.cfg" "$T/good.cfg"
sed -i 's/clearance = "SECRET"/clearance = "SECRET-ISH"/' "$T/broker.cfg"
kill -HUP "$BROKER_PID"
wait_for "$T/broker.log" "event=reload_rejected"
cp "$T/good.cfg" "$T/broker.cfg"

# Revoke rocu.
sed -i 's|name = "rocu"; agency = "rocu agency";|name = "rocu"; agency = "rocu agency"; revoked = true;|' "$T/broker.cfg"
grep -q 'revoked = true' "$T/broker.cfg" || fail "test setup: revoke edit"
kill -HUP "$BROKER_PID"
wait_for "$T/broker.log" "event=reloaded"
msg alert.a.two OFFICIAL | ctl police pub - >/dev/null || fail pub2
if sub_wait rocu; then fail "revoked subscriber completed its count"; fi
assert_eq "$(grep -c '"seq"' "$T/rocu.out")" 1 "deliveries to rocu"
assert_not_contains "$T/rocu.out" '"seq":2'
assert_contains "$T/rocu.err" AGENT_NOT_ALLOWED
# A new connection is refused at the handshake.
if ctl rocu sub 'alert.>' --count 1 --timeout 3 2>"$T/re.err"; then fail "revoked agent reconnected"; fi
assert_contains "$T/re.err" "refused this key"
ctl auditor audit export >"$T/audit.jsonl" || fail export
grep '"action":"revoke"' "$T/audit.jsonl" | grep -q '"recipient":"rocu"' || fail "revocation not audited"
grep '"action":"config_reload"' "$T/audit.jsonl" | grep -q '"outcome":"refused"' || fail "rejected reload not audited"
grep '"action":"authenticate"' "$T/audit.jsonl" | grep -q '"reason":"revoked"' || fail "refused handshake not audited"
[ "$(disclosed "$T/audit.jsonl" deliver rocu)" = 1 ] || fail "rocu deliveries in audit"
stop_broker
echo "13 ok"
