# 63: revoking a link's key on the upstream stops it at once. Yorkshire
# marks Humberside's link agent `revoked = true` and reloads (SIGHUP):
# from then nothing crosses either way — what Humberside publishes stays
# in its store, what Yorkshire publishes for it waits — and Humberside
# says so: `liaisonctl links` shows the uplink refused with the reason, its
# log has event=uplink_refused, and it keeps trying with backoff, refused
# at the handshake each time. Un-revoked and reloaded, the link comes back
# by itself and both backlogs cross, each message once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fed_lib.sh"
keygen humberside yorkshire prison police rocu humberside-ops yorkshire-ops auditor
for b in humberside yorkshire; do fed_port $b; done
VIEWS="max_views_per_minute = 2000;"

fed_broker humberside "$VIEWS" "$(uplink yorkshire-rocu yorkshire '"alert.>"' '"national.>"')" <<EOF
$(agent prison '"alert.yorkshire.hmp-hull.>"' '' OFFICIAL '' '"publisher"' prison humberside),
$(agent police '' '"alert.>", "national.>"' SECRET '' '"receiver"' police humberside),
$(agent humberside-ops '' '' OFFICIAL '' '"operator"' police humberside)
EOF
fed_broker yorkshire "$VIEWS" "" <<EOF
$(agent rocu '"national.>"' '"alert.>", "national.>"' SECRET '' '"publisher", "receiver"' rocu yorkshire),
$(link_agent humberside '"alert.>"' '"national.>"' SECRET '' '"prison agency"'),
$(agent yorkshire-ops '' '' OFFICIAL '' '"operator"' rocu yorkshire),
$(agent auditor '' '' OFFICIAL '' '"auditor"' rocu yorkshire)
EOF
for a in prison police humberside-ops; do fed_agent_cfg $a humberside; done
for a in rocu yorkshire-ops auditor; do fed_agent_cfg $a yorkshire; done
for b in yorkshire humberside; do
    "$BIN/liaison-broker" -c "$T/$b.broker.cfg" --check-config >/dev/null || fail "$b config"
    start_fed $b
done
wait_link humberside yorkshire-rocu

pub() { ctl "$1" pub - >/dev/null || fail "publish by $1"; }
# Before: one each way.
msg alert.yorkshire.hmp-hull.before OFFICIAL ',"msg_id":"before"' 'before' | pub prison
msg national.before OFFICIAL ',"msg_id":"national-before"' 'national before' | pub rocu
wait_stored yorkshire 2
wait_stored humberside 2

# Revoke the link's key on the upstream.
cp "$T/yorkshire.broker.cfg" "$T/yorkshire.good.cfg"
sed -i 's|name = "humberside-link"; agency = "humberside broker";|& revoked = true;|' "$T/yorkshire.broker.cfg"
grep -q 'revoked = true' "$T/yorkshire.broker.cfg" || fail "test setup: revoke edit"
kill -HUP "$(pid_of yorkshire)"
wait_for "$T/yorkshire.log" "event=reloaded"
assert_contains "$T/yorkshire.log" "event=agent_disconnected agent=humberside-link rule=revoked"
# From now nothing crosses: three alerts stay in Humberside's store, a
# national alert waits in Yorkshire's. The first goes at once, while
# Humberside's link is still open: refused at the upstream.
msg alert.yorkshire.hmp-hull.during OFFICIAL ',"msg_id":"during-1"' 'during 1' | pub prison

# The open link is refused at its next frame, and says so loudly.
wait_for "$T/humberside.log" "event=uplink_refused link=yorkshire-rocu"
refusals=$(grep -c 'event=auth_refused' "$T/yorkshire.log" || true)
for i in 2 3; do
    msg alert.yorkshire.hmp-hull.during OFFICIAL ",\"msg_id\":\"during-$i\"" "during $i" | pub prison
done
msg national.during OFFICIAL ',"msg_id":"national-during"' 'national during' | pub rocu
# Humberside tried again since, and was refused at the handshake (twice, so
# at least one attempt came after the publishes were on disk).
n=400
while [ "$(grep -c 'event=auth_refused' "$T/yorkshire.log" || true)" -lt $((refusals + 2)) ]; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "humberside did not try its uplink again: $(tail -3 "$T/humberside.log")"
    sleep 0.05
done
fed_view yorkshire status || fail "yorkshire status"
assert_contains "$T/yorkshire.status.json" '"messages":3,'
fed_view humberside status || fail "humberside status"
assert_contains "$T/humberside.status.json" '"messages":5,'
fed_view humberside links || fail "humberside links view"
assert_eq "$(uplink_field "$T/humberside.links.json" yorkshire-rocu state)" refused "the uplink's state"
uplink_field "$T/humberside.links.json" yorkshire-rocu why | grep -q 'refused this key' ||
    fail "the uplink does not say it was refused: $(cat "$T/humberside.links.json")"
assert_eq "$(uplink_field "$T/humberside.links.json" yorkshire-rocu forward_lag)" 3 "forward lag while refused"
ctl humberside-ops links >"$T/links.txt" || fail "links table"
assert_contains "$T/links.txt" "NOT CONNECTED"
assert_contains "$T/links.txt" "uplink yorkshire-rocu is refused: .*refused this key"
fed_view yorkshire links || fail "yorkshire links view"
# (The revoked session is listed until the upstream reaps it, with its
# subscriptions gone.)
assert_not_contains "$T/yorkshire.links.json" '"agent":"humberside-link".*"subscriptions":[1-9]'

# Un-revoked: the link comes back by itself, and both backlogs cross.
cp "$T/yorkshire.good.cfg" "$T/yorkshire.broker.cfg"
kill -HUP "$(pid_of yorkshire)"
wait_link humberside yorkshire-rocu 2
wait_stored yorkshire 6
wait_stored humberside 6
wait_settled humberside
stored_ids yorkshire rocu 'alert.>'
assert_eq "$(tr '\n' ' ' <"$T/yorkshire.ids")" "before during-1 during-2 during-3 " "alerts stored at yorkshire"
stored_ids humberside police 'national.>'
assert_eq "$(tr '\n' ' ' <"$T/humberside.ids")" "national-before national-during " "national alerts stored at humberside"
fed_view humberside links || fail "humberside links view"
assert_eq "$(uplink_field "$T/humberside.links.json" yorkshire-rocu state)" connected "the uplink's state after"
assert_eq "$(uplink_field "$T/humberside.links.json" yorkshire-rocu why)" "" "the uplink's reason after"

# Yorkshire's trail: the revocation, the refused handshakes, the crossing.
ctl auditor audit export >"$T/yaudit.jsonl" || fail "yorkshire audit"
grep '"action":"revoke"' "$T/yaudit.jsonl" | grep -q '"recipient":"humberside-link"' || fail "revocation not audited"
grep '"action":"authenticate"' "$T/yaudit.jsonl" | grep '"actor":"humberside-link"' | grep -q '"reason":"revoked"' ||
    fail "refused handshake not audited"
assert_eq "$(counted "$T/yaudit.jsonl" '"action":"publish"' '"actor":"humberside-link"' '"outcome":"ok"')" 4 "collections from the link"
for b in humberside yorkshire; do stop_fed $b; done
for b in humberside yorkshire; do
    "$BIN/liaisonctl" audit verify --data-dir "$T/data/$b" >"$T/verify.$b" || fail "$b audit: $(cat "$T/verify.$b")"
done
echo "63 ok"
