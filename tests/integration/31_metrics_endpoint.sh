# 31: the metrics endpoint. /metrics, fetched with curl, passes
# `promtool check metrics` and shows exactly the known traffic, labelled by
# agent and subscription and by nothing from inside a message; its figures
# agree with `liaisonctl status --json`. With metrics_token set, every path
# refuses a missing or wrong token (bearer or basic) and accepts the right
# one. Idle HTTP connections do not hold up the broker. A metrics address
# in use stops start-up with a reason; a weak token is a config error; the
# token is never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops_lib.sh"
need_cmd curl curl
need_cmd promtool prometheus
TOKEN=Zq3vF8xL2pR7tW9kY4mN6bH1cJ5dS0aE
keygen broker police rocu ops auditor
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"' SECRET '' '"publisher", "receiver"' police yorkshire),
$(agent rocu '' '"alert.>"' OFFICIAL '' '"receiver"' rocu yorkshire),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
metrics_on "$TOKEN"
for a in police rocu ops auditor; do agent_cfg $a; done
BEARER="Authorization: Bearer $TOKEN"

# The token is a secret: --print-config does not show it.
"$BIN/liaison-broker" -c "$T/broker.cfg" --print-config >"$T/print.out" || fail "--print-config"
assert_contains "$T/print.out" 'metrics_token = "(set, not shown)"'
assert_not_contains "$T/print.out" "$TOKEN"
# A short token, or one with a space, is refused by --check-config.
sed "s|$TOKEN|short|" "$T/broker.cfg" >"$T/weak.cfg"
if "$BIN/liaison-broker" -c "$T/weak.cfg" --check-config 2>"$T/weak.err"; then fail "a 5-character token accepted"; fi
assert_contains "$T/weak.err" "metrics_token"

start_broker
sub_bg rocu 'alert.>' --durable regional --count 2 --timeout 10
{
    msg alert.yorkshire.hull.drugs OFFICIAL   # 1: rocu
    msg alert.yorkshire.hull.guns SECRET      # 2: withheld from rocu
    msg alert.national.firearms OFFICIAL      # 3: rocu
} | ctl police pub - >/dev/null || fail "publish refused"
sub_wait rocu || fail "rocu did not get its 2 messages"
if msg other.topic OFFICIAL | ctl police pub - 2>/dev/null; then fail "publish outside permissions accepted"; fi

# ---- the token ----
for p in /metrics / /status.json; do
    http "$p" >/dev/null || true
    assert_eq "$(cat "$T/http.code")" 401 "$p without a token"
    http "$p" -H "Authorization: Bearer ${TOKEN}x" >/dev/null || true
    assert_eq "$(cat "$T/http.code")" 401 "$p with a wrong bearer token"
    http "$p" -H "Authorization: Bearer ${TOKEN%?}" >/dev/null || true
    assert_eq "$(cat "$T/http.code")" 401 "$p with a truncated bearer token"
    http "$p" -u "ops:wrong-password-0123456789" >/dev/null || true
    assert_eq "$(cat "$T/http.code")" 401 "$p with a wrong basic password"
    http "$p" -H "$BEARER" >/dev/null || fail "$p with the token"
    assert_eq "$(cat "$T/http.code")" 200 "$p with the bearer token"
    http "$p" -u "anyone:$TOKEN" >/dev/null || fail "$p with basic auth"
    assert_eq "$(cat "$T/http.code")" 200 "$p with the token as basic password"
done
curl -sS -D "$T/h401" -o /dev/null "$MURL/metrics" || true
grep -qi '^WWW-Authenticate: Basic' "$T/h401" || fail "401 without a Basic challenge"
http /metrics -H "$BEARER" -X POST >/dev/null || true
assert_eq "$(cat "$T/http.code")" 405 "POST"
http /nope -H "$BEARER" >/dev/null || true
assert_eq "$(cat "$T/http.code")" 404 "unknown path"

# ---- /metrics against the known traffic ----
export MURL
wait_snapshot_auth() { # like wait_snapshot, with the token
    n=200
    while [ "$(jget "$(http /status.json -H "$BEARER" || true)" "$1")" != "$2" ]; do
        n=$((n - 1)); [ $n -gt 0 ] || fail "/status.json never showed $1=$2"
        sleep 0.05
    done
}
wait_snapshot_auth publish_refused 1
# The rocu session must be gone too, so the subscription is settled.
n=200
until http /status.json -H "$BEARER" | grep -q '"durable":"regional","pattern":"alert.>","connected":false'; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "rocu never disconnected"
    sleep 0.05
done
http /metrics -H "$BEARER" >"$T/metrics.txt" || fail "/metrics"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || fail "promtool: $(cat "$T/promtool.out")"
[ ! -s "$T/promtool.out" ] || fail "promtool lint: $(cat "$T/promtool.out")"
val() { # SERIES — its value in metrics.txt (the series exactly, labels included)
    awk -v s="$1" '$1 == s { print $2 }' "$T/metrics.txt"
}
for kv in 'liaison_publishes_total{outcome="accepted"}=3' 'liaison_publishes_total{outcome="refused"}=1' \
    'liaison_publishes_total{outcome="duplicate"}=0' 'liaison_deliveries_total{outcome="delivered"}=2' \
    'liaison_deliveries_total{outcome="withheld"}=1' 'liaison_deliveries_total{outcome="notice"}=0' \
    'liaison_publishes_refused_total=1' 'liaison_deliveries_withheld_total=1' \
    'liaison_store_messages=3' 'liaison_store_last_seq=3' 'liaison_agents_configured=4' \
    'liaison_agent_messages_in_total{agent="police"}=3' 'liaison_agent_publish_refused_total{agent="police"}=1' \
    'liaison_agent_messages_out_total{agent="rocu"}=2' 'liaison_agent_withheld_total{agent="rocu"}=1' \
    'liaison_agent_connected{agent="rocu"}=0' \
    'liaison_subscription_connected{agent="rocu",subscription="regional"}=0' \
    'liaison_subscription_backlog_messages{agent="rocu",subscription="regional"}=0' \
    'liaison_subscription_delivered_total{agent="rocu",subscription="regional"}=2' \
    'liaison_subscription_acked_total{agent="rocu",subscription="regional"}=2' \
    'liaison_subscription_withheld_total{agent="rocu",subscription="regional"}=1'; do
    assert_eq "$(val "${kv%=*}")" "${kv##*=}" "${kv%=*}"
done
# Every commit is in the histogram, and its buckets are cumulative.
commits=$(val liaison_commits_total)
[ "$commits" -gt 0 ] || fail "no commits counted"
assert_eq "$(val liaison_commit_duration_seconds_count)" "$commits" "histogram count"
assert_eq "$(val 'liaison_commit_duration_seconds_bucket{le="+Inf"}')" "$commits" "+Inf bucket"
grep '^liaison_commit_duration_seconds_bucket' "$T/metrics.txt" | awk '{ print $2 }' | sort -n -c ||
    fail "histogram buckets not cumulative"
# Labels name agents, subscriptions, links and kinds of answer only: nothing from inside a message.
assert_not_contains "$T/metrics.txt" 'alert\.'
assert_not_contains "$T/metrics.txt" 'test body'
assert_eq "$(grep -v '^#' "$T/metrics.txt" | grep -o '{[a-z_]*=' | sort -u | tr '\n' ' ')" \
    '{agent= {kind= {le= {outcome= {version= ' "label names"

# The same figures as liaisonctl (quiet broker: nothing moves in between).
S=$(ctl ops status --json) || fail "status"
P=$(http /status.json -H "$BEARER") || fail "/status.json"
for k in last_seq messages publishes publish_refused deliveries delivery_refused notices backlog \
    agents_configured dead_letters redeliveries; do
    assert_eq "$(jget "$P" "$k")" "$(jget "$S" "$k")" "/status.json $k vs liaisonctl"
done
assert_eq "$(val liaison_publishes_total'{outcome="accepted"}')" "$(jget "$S" publishes)" "metrics vs liaisonctl"

# ---- idle HTTP clients do not hold up the broker ----
# Ten connections that send half a request and then wait: the loop never
# reads HTTP, so publishing and status carry on.
for fd in 3 4 5 6 7 8 9 10 11 12; do
    eval "exec $fd<>/dev/tcp/127.0.0.1/$MPORT"
    eval "printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n' >&$fd"
done
msg alert.national.late OFFICIAL | ctl police pub - >"$T/late.out" || fail "publish while HTTP clients idle"
assert_eq "$(cat "$T/late.out")" "seq 4" "publish while HTTP clients idle"
ctl ops status --json >/dev/null || fail "status while HTTP clients idle"
http /metrics -H "$BEARER" >/dev/null || fail "/metrics while other clients idle"
for fd in 3 4 5 6 7 8 9 10 11 12; do eval "exec $fd>&-"; done

# ---- a metrics address in use stops start-up, naming it ----
sed -e "s|tcp://127.0.0.1:$PORT|tcp://127.0.0.1:$((PORT + 2))|" -e 's|data/broker|data/broker2|' \
    "$T/broker.cfg" >"$T/broker2.cfg"
rc=0
"$BIN/liaison-broker" -c "$T/broker2.cfg" 2>"$T/broker2.log" || rc=$?
assert_eq "$rc" 1 "second broker on the same metrics address"
assert_contains "$T/broker2.log" "event=startup_failed reason=\"metrics: cannot listen on 127.0.0.1:$MPORT"

# ---- every read of /metrics and /status.json is a consultation in the trail ----
n=0
until ctl auditor audit export --action metrics_read 2>/dev/null | grep -q '"actor":"http:127.0.0.1"'; do
    n=$((n + 1)); [ $n -lt 100 ] || fail "HTTP reads of /metrics are not in the audit trail"
    sleep 0.1
done
ctl auditor audit export --action status_read 2>/dev/null | grep -q '"topic":"/status.json"' ||
    fail "HTTP reads of /status.json are not in the audit trail"
stop_broker
echo "31 ok"
