# 56: a SIGHUP says what it changed. One reload adds an agent, removes one,
# revokes one, gives one another key, lowers a clearance and narrows a
# subscribe permission, adds a caveat, and changes `listen`: the log has one
# event=reload_agent line per changed agent naming the change with its
# values, the audit trail one config_agent record each, and `listen` is
# named as needing a restart while the broker keeps listening where it was.
# /metrics shows the reload as successful with its time. A config with an
# error is refused: the gauge goes to 0, and the config taken before keeps
# working (the lowered clearance still applies).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops_lib.sh"
need_cmd curl curl
need_cmd promtool prometheus
keygen broker force rocu prison spare marsoc hull newbie extra auditor
broker_cfg <<EOF2
$(agent force '"alert.>"' '"alert.>"' SECRET '' '"publisher", "receiver"' police yorkshire),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu yorkshire),
$(agent prison '' '"alert.>"' OFFICIAL '' '"receiver"' prison yorkshire),
$(agent spare '' '"alert.>"' OFFICIAL '' '"receiver"' prison yorkshire),
$(agent marsoc '' '"alert.>"' SECRET '' '"receiver"' marsoc national),
$(agent hull '' '"alert.>"' OFFICIAL '' '"receiver"' police yorkshire),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
metrics_on
for a in force rocu auditor; do agent_cfg $a; done

# metric NAME — its value in /metrics now.
metric() { http /metrics | sed -n "s/^$1 //p"; }
# wait_metric NAME VALUE — until the snapshot (rendered once a second) shows it.
wait_metric() {
    n=200
    until [ "$(metric "$1" || true)" = "$2" ]; do
        n=$((n - 1)); [ $n -gt 0 ] || fail "/metrics never showed $1 $2"
        sleep 0.05
    done
}

start_broker
wait_metric liaison_agents_configured 7
# At start the config in force is the one loaded, at the start time.
assert_eq "$(metric liaison_config_last_reload_successful)" 1 "gauge at start"
START=$(metric liaison_start_time_seconds)
assert_eq "$(metric liaison_config_last_reload_success_timestamp_seconds)" "$START" "timestamp at start"

NEWPORT=$((PORT + 2))
{
    head -n 2 "$T/broker.cfg" | sed "s|tcp://127.0.0.1:$PORT\"|tcp://127.0.0.1:$NEWPORT\"|"
    echo "agents = ("
    agent force '"alert.>"' '"alert.>"' SECRET '"UK-EYES-ONLY"' '"publisher", "receiver"' police yorkshire
    echo ","
    agent rocu '' '"alert.yorkshire.>"' OFFICIAL '' '"receiver"' rocu yorkshire
    echo ","
    agent marsoc '' '"alert.>"' SECRET '' '"receiver"' marsoc national | sed 's|public_key|revoked = true; public_key|'
    echo ","
    agent hull '' '"alert.>"' OFFICIAL '' '"receiver"' police yorkshire | sed 's|keys/hull.pub|keys/extra.pub|'
    echo ","
    agent newbie '' '"alert.>"' OFFICIAL '' '"receiver"' probation yorkshire
    echo ","
    agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national
    echo ");"
} >"$T/next.cfg"
mv "$T/next.cfg" "$T/broker.cfg"
kill -HUP "$BROKER_PID"
wait_for "$T/broker.log" "event=reloaded"
wait_metric liaison_agents_configured 6

L=$T/broker.log
assert_contains "$L" "event=reload_agent agent=force change=caveats caveats=+UK-EYES-ONLY$"
assert_contains "$L" "event=reload_agent agent=rocu change=clearance,subscribe clearance=SECRET->OFFICIAL subscribe=+alert.yorkshire.>,-alert.>$"
assert_contains "$L" "event=reload_agent agent=prison change=removed$"
assert_contains "$L" "event=reload_agent agent=spare change=removed$"
assert_contains "$L" "event=reload_agent agent=marsoc change=revoked$"
assert_contains "$L" "event=reload_agent agent=hull change=key$"
assert_contains "$L" "event=reload_agent agent=newbie change=added type=probation clearance=OFFICIAL roles=receiver$"
assert_eq "$(grep -c 'event=reload_agent ' "$L")" 7 "reload_agent lines (the auditor did not change)"
assert_contains "$L" "event=reload_restart_needed key=listen old=tcp://127.0.0.1:$PORT new=tcp://127.0.0.1:$NEWPORT"
assert_eq "$(grep -c 'event=reload_restart_needed' "$L")" 1 "restart-only keys named (listen only)"

# The audit trail holds the same, one record per changed agent.
ctl auditor audit export --action config_agent >"$T/agents.jsonl" || fail "audit export"
assert_eq "$(wc -l <"$T/agents.jsonl")" 7 "config_agent records"
for a in force rocu prison spare marsoc hull newbie; do
    grep -q "\"recipient\":\"$a\"" "$T/agents.jsonl" || fail "no config_agent record for $a"
done
grep '"recipient":"rocu"' "$T/agents.jsonl" |
    grep -q '"reason":"change=clearance,subscribe clearance=SECRET->OFFICIAL subscribe=+alert.yorkshire.>,-alert.>"' ||
    fail "rocu's record does not name its change: $(cat "$T/agents.jsonl")"
grep '"recipient":"prison"' "$T/agents.jsonl" | grep -q '"reason":"change=removed"' || fail "removal not audited"
ctl auditor audit export --action config_reload | grep -q '"outcome":"ok"' || fail "reload summary not audited"

# The gauge says it was taken; its time is the reload's, not before the start.
assert_eq "$(metric liaison_config_last_reload_successful)" 1 "gauge after a good reload"
TS=$(metric liaison_config_last_reload_success_timestamp_seconds)
[ "$TS" -ge "$START" ] && [ "$TS" -le "$(date +%s)" ] || fail "reload timestamp $TS (start $START)"
http /metrics >"$T/metrics.txt"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || fail "promtool: $(cat "$T/promtool.out")"

# A config with an error: refused, the gauge at 0, the timestamp kept.
sed -i '0,/clearance = "OFFICIAL"/s//clearance = "OFFICAL"/' "$T/broker.cfg"
grep -q OFFICAL "$T/broker.cfg" || fail "the test did not break the config"
kill -HUP "$BROKER_PID"
wait_for "$L" "event=reload_rejected"
wait_metric liaison_config_last_reload_successful 0
assert_eq "$(metric liaison_config_last_reload_success_timestamp_seconds)" "$TS" "timestamp after a refused reload"
http /metrics | promtool check metrics >"$T/promtool.out" 2>&1 || fail "promtool: $(cat "$T/promtool.out")"

# The config taken before still runs, on the port it started on: rocu,
# lowered to OFFICIAL and narrowed to alert.yorkshire.>, gets only the
# OFFICIAL Yorkshire alert.
sub_bg rocu 'alert.yorkshire.>' --count 1 --timeout 10
{
    msg alert.yorkshire.hull.guns SECRET
    msg alert.yorkshire.hull.drugs OFFICIAL
} | ctl force pub - >/dev/null || fail "publish refused"
sub_wait rocu || fail "rocu's subscriber failed: $(cat "$T/rocu.err")"
assert_eq "$(wc -l <"$T/rocu.out")" 1 "deliveries to rocu"
assert_contains "$T/rocu.out" '"topic":"alert.yorkshire.hull.drugs"'

stop_broker
echo "ok 56 reload diff"
