# 32: the status page, loaded in headless Chromium after its script has
# run, shows the same figures as `liaisonctl status --json` and `subs
# --json` for known traffic: totals, store, backlog, and the rows for an
# agent and a durable subscription. The page is self-contained (nothing
# fetched from elsewhere) and shows no message content.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops_lib.sh"
need_cmd curl curl
need_cmd chromium chromium
keygen broker police rocu ops
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"' SECRET '' '"publisher", "receiver"' police yorkshire),
$(agent rocu '' '"alert.>"' OFFICIAL '' '"receiver"' rocu yorkshire),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national)
EOF2
metrics_on
for a in police rocu ops; do agent_cfg $a; done
start_broker

sub_bg rocu 'alert.>' --durable regional --count 2 --timeout 10
{
    msg alert.yorkshire.hull.drugs OFFICIAL '' 'page-secret-body-1'   # 1: rocu
    msg alert.yorkshire.hull.guns SECRET '' 'page-secret-body-2'      # 2: withheld
    msg alert.national.firearms OFFICIAL '' 'page-secret-body-3'      # 3: rocu
} | ctl police pub - >/dev/null || fail "publish refused"
sub_wait rocu || fail "rocu did not get its 2 messages"
if msg other.topic OFFICIAL | ctl police pub - 2>/dev/null; then fail "publish outside permissions accepted"; fi
# Three more while the ROCU is away, so its subscription has a backlog.
n=200
until ctl ops subs --json | grep -q '"durable":"regional","pattern":"alert.>","connected":false'; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "rocu never disconnected"
    sleep 0.1
done
{ msg alert.national.a OFFICIAL; msg alert.national.b OFFICIAL; msg alert.national.c OFFICIAL; } |
    ctl police pub - >/dev/null || fail "second publish refused"
wait_snapshot last_seq 6

# The page itself: one self-contained document.
http / >"$T/page.html" || fail "GET /"
assert_eq "$(cat "$T/http.code")" 200 "GET /"
if grep -Eq 'https?://|src=|href=|@import|url\(' "$T/page.html"; then
    fail "the page refers to something outside itself: $(grep -Eo 'https?://[^"]*|src=[^ ]*|href=[^ ]*' "$T/page.html" | head -3)"
fi

# Load it in Chromium; the virtual time budget lets its script fetch
# /status.json and render before the DOM is dumped.
chromium_run --virtual-time-budget=10000 --dump-dom "$MURL/" >"$T/dom.html" ||
    fail "chromium failed: $(tail -n 5 "$T/chromium.log")"
grep -q '<body data-loaded="1"' "$T/dom.html" || fail "the page never rendered /status.json: $(head -c 600 "$T/dom.html")"
S=$(ctl ops status --json) || fail "status"
J=$(ctl ops subs --json) || fail "subs"
A=$(ctl ops agents --json) || fail "agents"

shown() { # FILE KEY — the figure the page shows under data-k="KEY" (first one)
    grep -o "data-k=\"$2\" data-v=\"[^\"]*\">[^<]*<" "$1" | head -n 1 | sed 's/.*data-v="\([^"]*\)">\([^<]*\)<$/\1 \2/'
}
for k in publishes publish_refused deliveries delivery_refused notices duplicates \
    redeliveries dead_letters messages backlog; do
    v=$(jget "$S" "$k")
    # The unformatted figure, and the text shown (the same below 1,000).
    assert_eq "$(shown "$T/dom.html" "$k")" "$v $v" "page $k vs liaisonctl status --json"
done
assert_eq "$(shown "$T/dom.html" publishes)" "6 6" "page publishes"
assert_eq "$(shown "$T/dom.html" store_used_bytes | cut -d' ' -f1)" "$(jget "$S" store_used_bytes)" "page store bytes"

# The durable subscription's row, and the police agent's.
sed 's|</tr>|</tr>\n|g' "$T/dom.html" >"$T/rows.html"
grep '<tr data-agent="rocu" data-sub="regional">' "$T/rows.html" >"$T/sub.row" || fail "no row for rocu/regional"
R=$(jobj "$J" agent rocu '"durable":"regional"')
for k in backlog delivered acked withheld dead_lettered redelivered; do
    assert_eq "$(shown "$T/sub.row" "$k" | cut -d' ' -f1)" "$(jget "$R" "$k")" "page rocu/regional $k vs subs --json"
done
assert_eq "$(shown "$T/sub.row" backlog | cut -d' ' -f1)" 3 "page rocu/regional backlog"
assert_contains "$T/sub.row" '>away<'
grep '<tr data-agent="police">' "$T/rows.html" >"$T/agent.row" || fail "no row for police"
P=$(jobj "$A" name police)
for k in messages_in messages_out publish_refused withheld; do
    assert_eq "$(shown "$T/agent.row" "$k" | cut -d' ' -f1)" "$(jget "$P" "$k")" "page police $k vs agents --json"
done
assert_eq "$(shown "$T/agent.row" messages_in | cut -d' ' -f1)" 6 "page police messages_in"
# Counts, names and patterns only.
assert_not_contains "$T/dom.html" 'page-secret-body'
assert_not_contains "$T/dom.html" 'alert.yorkshire.hull'

# A screenshot renders too (what docs/operator.md shows).
chromium_run --virtual-time-budget=10000 --window-size=1366,900 --screenshot="$T/page.png" "$MURL/" >/dev/null ||
    fail "chromium screenshot failed"
[ "$(od -An -tx1 -N4 "$T/page.png" | tr -d ' ')" = 89504e47 ] || fail "the screenshot is not a PNG"
stop_broker
echo "32 ok"
