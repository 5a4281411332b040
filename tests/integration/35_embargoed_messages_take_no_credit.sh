# 35: messages under embargo wait outside a subscriber's credit window: with
# a window of 4, six messages embargoed to 2099 do not stop a later one the
# subscriber may receive. One it could never see (above its clearance) is
# withheld at once rather than held until its embargo.
. "$(dirname "$0")/lib.sh"
keygen broker police rocu auditor
pick_port
{
    echo "broker = { listen = \"tcp://127.0.0.1:$PORT\"; secret_key = \"keys/broker.key\";"
    echo "  data_dir = \"data/broker\"; map_size_mb = 64; metrics = \"\"; heartbeat_ms = 1000;"
    echo "  credit_window = 4; };"
    echo "agents = ("
    agent police '"alert.>"' '' TOP-SECRET; echo ","
    agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu; echo ","
    agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national
    echo ");"
} >"$T/broker.cfg"
for a in police rocu auditor; do agent_cfg $a; done
start_broker
sub_bg rocu 'alert.>' --durable feed --count 1 --timeout 30
for i in 1 2 3 4 5 6; do
    msg alert.y.later SECRET ",\"msg_id\":\"later-$i\",\"embargo_until\":\"2099-01-01\""
done | ctl police pub - >/dev/null || fail "publishing embargoed messages"
msg alert.y.secret TOP-SECRET ',"msg_id":"never","embargo_until":"2099-01-01"' | ctl police pub - >/dev/null ||
    fail "publishing above the receiver's clearance"
msg alert.y.now SECRET ',"msg_id":"now"' | ctl police pub - >/dev/null || fail "publishing the free one"
sub_wait rocu || fail "the subscriber never got the message after six embargoed ones"
assert_contains "$T/rocu.out" '"msg_id":"now"'
assert_not_contains "$T/rocu.out" '"msg_id":"later-'
ctl auditor audit export >"$T/trail.jsonl" 2>/dev/null || fail "audit export"
grep '"action":"withhold"' "$T/trail.jsonl" | grep '"recipient":"rocu"' | grep -q '"reason":"clearance"' ||
    fail "the message above clearance was not withheld at once"
stop_broker
echo "35 ok"
