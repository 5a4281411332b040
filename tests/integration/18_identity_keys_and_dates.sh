# 18: identity is the key, checked again at every reload and every pass.
# (1) An agent's key is rotated by SIGHUP while a connection made with the
# old key is open: that connection receives nothing more and every request
# on it is refused; the new key resumes the durable subscription. (2) An
# agent's valid_to passes while it is connected: from that moment it
# receives nothing, its cursor does not move and no withhold record is
# written per message; once its dates are extended it gets the backlog.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu rocu-new prison auditor
soon=$(date -u -d '+3 sec' +%Y-%m-%dT%H:%M:%SZ)
agents() { # PRISON_VALID_TO
    cat <<EOF2
$(agent police '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu),
{ name = "prison"; agency = "HMP Hull"; type = "prison"; region = "yorkshire";
  public_key = "keys/prison.pub"; clearance = "SECRET"; caveats = [ ]; roles = [ "receiver" ];
  publish = [ ]; subscribe = [ "alert.>" ]; valid_to = "$1"; },
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
}
agents "$soon" >"$T/agents.in"
broker_cfg <"$T/agents.in"
agent_cfg police; agent_cfg rocu; agent_cfg prison; agent_cfg auditor
start_broker
sub_bg rocu 'alert.>' --durable feed --timeout 120
"$BIN/liaisonctl" -c "$T/prison.cfg" sub 'alert.>' --durable p --timeout 120 >"$T/prison.out" 2>"$T/prison.err" &
PRISON=$!
PIDS="$PIDS $PRISON"
wait_for "$T/prison.err" "subscribed"
msg alert.y.one SECRET ',"msg_id":"one"' | ctl police pub - >/dev/null || fail "publish one"
wait_for "$T/rocu.out" '"msg_id":"one"'
wait_for "$T/prison.out" '"msg_id":"one"'

# (1) rocu's key is replaced.
sed -i 's|public_key = "keys/rocu.pub"|public_key = "keys/rocu-new.pub"|' "$T/broker.cfg"
grep -q 'keys/rocu-new.pub' "$T/broker.cfg" || fail "test setup: key edit"
kill -HUP "$BROKER_PID"
wait_for "$T/broker.log" "event=key_rotated agent=rocu"
# (2) ...and by now prison's valid_to has passed (or soon will).
while [ "$(date -u +%s)" -le "$(date -u -d "$soon" +%s)" ]; do sleep 0.1; done
for id in two three; do
    msg alert.y.$id SECRET ",\"msg_id\":\"$id\"" | ctl police pub - >/dev/null || fail "publish $id"
done
wait_for "$T/broker.log" "event=agent_disconnected agent=prison"
# One more pass of deliveries after the PubAcks (Delivers of a batch leave
# with its PubAcks), then the old connections must still have only "one".
msg alert.y.four SECRET ',"msg_id":"four"' | ctl police pub - >/dev/null || fail "publish four"
assert_eq "$(grep -c '"msg_id"' "$T/rocu.out")" 1 "deliveries on the connection with the rotated key"
assert_eq "$(grep -c '"msg_id"' "$T/prison.out")" 1 "deliveries after valid_to passed"
wait_for "$T/rocu.err" "AGENT_NOT_ALLOWED"

# The new key resumes rocu's durable subscription from its cursor.
sed -i 's|secret_key = "keys/rocu.key"|secret_key = "keys/rocu-new.key"|' "$T/rocu.cfg"
ctl rocu sub 'alert.>' --durable feed --count 3 --timeout 20 >"$T/rocu2.out" 2>/dev/null ||
    fail "durable resume with the new key"
for id in two three four; do assert_contains "$T/rocu2.out" "\"msg_id\":\"$id\""; done

# prison's dates are extended: it gets the backlog it missed.
kill "$PRISON" 2>/dev/null || true
sed -i "s|valid_to = \"$soon\"|valid_to = \"2099-12-31\"|" "$T/broker.cfg"
grep -q '2099-12-31' "$T/broker.cfg" || fail "test setup: date edit"
kill -HUP "$BROKER_PID"
n=0
while [ "$(grep -c 'event=reloaded' "$T/broker.log" || true)" -lt 2 ]; do
    n=$((n + 1)); [ $n -lt 400 ] || fail "no second reload"; sleep 0.05
done
ctl prison sub 'alert.>' --durable p --count 3 --timeout 20 >"$T/prison2.out" 2>/dev/null ||
    fail "durable resume after the dates were extended"
for id in two three four; do assert_contains "$T/prison2.out" "\"msg_id\":\"$id\""; done

# No withhold record for prison while it was out of its dates.
ctl auditor audit export >"$T/trail.jsonl" 2>/dev/null || fail "audit export"
grep '"action":"withhold"' "$T/trail.jsonl" | grep -q '"recipient":"prison"' &&
    fail "withhold records written for an agent outside its dates"
grep '"action":"revoke"' "$T/trail.jsonl" | grep -q '"reason":"key_changed"' ||
    fail "the key rotation is not in the trail"
stop_broker
echo "18 ok"
