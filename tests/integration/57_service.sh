# 57: the broker and the agent as services. Under journald ($JOURNAL_STREAM
# set) each log line starts with its syslog priority and carries no time.
# Client-chosen text is escaped: a topic holding a quote and a newline is
# refused, and its log line still parses as logfmt, topic and all. The
# metrics endpoint starts without a libmicrohttpd warning, /healthz says
# "ok" while the broker works and 503 with the reason once its store is
# full, and /metrics carries the process_* figures (promtool-clean). Both
# programs speak sd_notify to the socket in $NOTIFY_SOCKET (a path, or
# @name in the abstract namespace): READY=1 once they serve, STATUS= lines
# (the agent: connected to its broker), WATCHDOG=1 while their loop turns
# when $WATCHDOG_USEC asks, STOPPING=1 at SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops_lib.sh"
. "$(dirname "$0")/agent_lib.sh"
need_cmd curl curl
need_cmd promtool prometheus
need_cmd python3 python3
HERE=$(cd "$(dirname "$0")" && pwd)
keygen broker police rocu
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"' SECRET '' '"publisher", "receiver"' police yorkshire),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu)
EOF2
metrics_on
agent_cfg police

# listen NAME OUT — a service manager's notify socket, in the background;
# each datagram goes to OUT, then a line "--".
listen() {
    python3 "$HERE/notify_listen.py" "$1" "$2" &
    PIDS="$PIDS $!"
    n=200
    until [ -f "$2.ready" ]; do
        n=$((n - 1)); [ $n -gt 0 ] || fail "notify listener did not start"
        sleep 0.05
    done
}

# ---- the broker under a service manager ----
listen "$T/notify.sock" "$T/notify.out"
: >"$T/broker.log"
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=200000 JOURNAL_STREAM=8:4242 \
    "$BIN/liaison-broker" -c "$T/broker.cfg" 2>>"$T/broker.log" &
BROKER_PID=$!
wait_for "$T/broker.log" 'event=listening'
wait_for "$T/notify.out" '^READY=1$'
assert_contains "$T/notify.out" '^STATUS=listening, last_seq=0, 2 agents$'
# The watchdog: 200 ms asked, so one every 100 ms while the loop turns.
wait_for "$T/notify.out" '^WATCHDOG=1$'
n=200
until [ "$(grep -c '^WATCHDOG=1$' "$T/notify.out")" -ge 3 ]; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "the watchdog was not kept up"
    sleep 0.05
done

# Escaped values: the topic as sent (a quote, a newline) is in the line.
msg 'alert.a\"b\nlevel=error' OFFICIAL | ctl police pub - 2>"$T/pub.err" && fail "a topic with a quote accepted"
assert_contains "$T/pub.err" BAD_TOPIC
wait_for "$T/broker.log" 'event=publish_refused'

# /healthz while all is well; the process figures, promtool-clean.
assert_eq "$(http /healthz)" ok "healthz"
assert_eq "$(cat "$T/http.code")" 200 "healthz status"
wait_snapshot last_seq 0
http /metrics >"$T/metrics.txt" || fail "/metrics"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || fail "promtool: $(cat "$T/promtool.out")"
[ ! -s "$T/promtool.out" ] || fail "promtool lint: $(cat "$T/promtool.out")"
for f in process_cpu_seconds_total process_resident_memory_bytes process_virtual_memory_bytes \
    process_open_fds process_max_fds process_start_time_seconds; do
    grep -q "^$f [0-9]" "$T/metrics.txt" || fail "/metrics lacks $f"
done
grep -qx '# TYPE process_cpu_seconds_total counter' "$T/metrics.txt" || fail "cpu seconds not a counter"
val() { awk -v k="$1" '$1 == k { printf "%d", $2 }' "$T/metrics.txt"; }
[ "$(val process_open_fds)" -gt 2 ] || fail "open fds: $(val process_open_fds)"
[ "$(val process_max_fds)" -ge "$(val process_open_fds)" ] || fail "max fds below open fds"
[ "$(val process_resident_memory_bytes)" -gt 0 ] || fail "no resident memory"
[ "$(val process_virtual_memory_bytes)" -ge "$(val process_resident_memory_bytes)" ] || fail "virtual < resident"
# Unix time (not time since boot), and not in the future.
[ "$(val process_start_time_seconds)" -le "$(date +%s)" ] || fail "started in the future"
[ "$(val process_start_time_seconds)" -gt 1700000000 ] || fail "start time not Unix time"

kill -TERM "$BROKER_PID"
rc=0
wait "$BROKER_PID" || rc=$?
BROKER_PID=""
[ "$rc" -eq 0 ] || fail "broker exited with status $rc"
assert_contains "$T/notify.out" '^STOPPING=1$'
# READY before the first WATCHDOG, STOPPING last.
[ "$(grep -m1 -E '^(READY|WATCHDOG)=1$' "$T/notify.out")" = READY=1 ] || fail "a watchdog ping before READY"
[ "$(grep -E '^[A-Z]+=1$' "$T/notify.out" | tail -n 1)" = STOPPING=1 ] || fail "not STOPPING last"

# journald: a priority instead of a time, and the priority says the level.
grep -vE '^<[3467]>liaison-broker level=(error|warn|info|debug) ' "$T/broker.log" >"$T/odd" &&
    fail "lines not in journald form: $(head -n 3 "$T/odd")"
grep -q '^<6>liaison-broker level=info event=listening ' "$T/broker.log" || fail "info is not <6>"
grep -q '^<4>liaison-broker level=warn event=audit_unsigned ' "$T/broker.log" || fail "warn is not <4>"
grep -qE '^<3>.* level=(warn|info|debug)|^<4>.* level=(error|info|debug)|^<6>.* level=(error|warn|debug)' \
    "$T/broker.log" && fail "a priority that is not its level"
# Every line parses as logfmt, and the refused topic reads back as sent.
python3 "$HERE/logfmt_check.py" "$T/broker.log" publish_refused topic >"$T/topic" || fail "log is not logfmt"
assert_eq "$(cat "$T/topic")" "'alert.a\"b\\nlevel=error'" "the refused topic"
# No libmicrohttpd complaint at start.
assert_not_contains "$T/broker.log" 'event=metrics_http'
assert_not_contains "$T/broker.log" 'MHD_'

# ---- without a service manager: no notify, lines with their time ----
start_broker
grep -qE '^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:.]+Z liaison-broker level=info event=listening ' \
    "$T/broker.log" || fail "no time on the terminal form"
assert_not_contains "$T/broker.log" '^<'

# ---- the agent, on an abstract socket ----
agent_full_cfg rocu "" </dev/null
listen "@liaison-57-$$" "$T/agent.notify"
NOTIFY_SOCKET="@liaison-57-$$" WATCHDOG_USEC=200000 start_agent rocu
wait_for "$T/agent.notify" '^READY=1$'
wait_for "$T/agent.notify" "^STATUS=connected to: tcp://127.0.0.1:$PORT$"
wait_for "$T/agent.notify" '^WATCHDOG=1$'
stop_agent rocu
assert_contains "$T/agent.notify" '^STOPPING=1$'
python3 "$HERE/logfmt_check.py" "$T/rocu.agent.log" || fail "agent log is not logfmt"
stop_broker

# ---- /healthz of a full store: 503 and why ----
rm -rf "$T/data/broker"
MAP_MB=1 broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"' SECRET '' '"publisher", "receiver"' police yorkshire)
EOF2
metrics_on
agent_cfg police
start_broker
pad=$(head -c 300 /dev/zero | tr '\0' 'x')
for i in $(seq 1 4000); do msg alert.y.fill OFFICIAL ",\"msg_id\":\"fill-$i\"" "fill-$i-$pad"; done |
    ctl police pub --json - >/dev/null 2>"$T/fill.err" && fail "4000 publishes fit in 1 MiB"
assert_contains "$T/fill.err" STORE_FULL
n=200
until [ "$(http /healthz || true)" = "unavailable: store full: publishes are refused" ]; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "healthz of a full store: $(http /healthz || true)"
    sleep 0.05
done
assert_eq "$(cat "$T/http.code")" 503 "healthz of a full store"
stop_broker
echo "57 ok"
