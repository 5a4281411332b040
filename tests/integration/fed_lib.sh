# fed_lib.sh — helpers for the federation scenarios (6x), sourced after
# lib.sh: several brokers in one scenario, each with its own config
# ($T/NAME.broker.cfg), store (data/NAME), log ($T/NAME.log) and port;
# agents pointed at one of them. Keys are all in $T/keys. Waits are bounded
# safety nets only; nothing asserts on timing.

# fed_port NAME: picks a free port for broker NAME into FED_PORT_NAME.
fed_port() {
    pick_port
    eval "FED_PORT_$(echo "$1" | tr '-' '_')=$PORT"
}

port_of() { eval "echo \$FED_PORT_$(echo "$1" | tr '-' '_')"; }

# fed_broker NAME "EXTRA BROKER KEYS" "UPLINKS LIST TEXT": writes
# $T/NAME.broker.cfg with the agents given on stdin. Its key is keys/NAME.
fed_broker() {
    p=$(port_of "$1")
    {
        echo "broker = { name = \"$1\"; listen = \"tcp://127.0.0.1:$p\"; secret_key = \"keys/$1.key\";"
        echo "  data_dir = \"data/$1\"; map_size_mb = ${MAP_MB:-64}; metrics = \"\"; heartbeat_ms = 1000; $2 };"
        echo "agents = ("
        cat
        echo ");"
        echo "uplinks = ( $3 );"
    } >"$T/$1.broker.cfg"
}

# uplink NAME TO_BROKER FORWARD RECEIVE [CLEARANCE] [CAVEATS]: one
# uplinks-list entry (lists are libconfig arrays' inner text).
uplink() {
    printf '{ name = "%s"; broker = "tcp://127.0.0.1:%s"; broker_public_key = "keys/%s.pub"; forward = [ %s ]; receive = [ %s ]; clearance = "%s"; caveats = [ %s ]; }' \
        "$1" "$(port_of "$2")" "$2" "$3" "$4" "${5:-SECRET}" "${6:-}"
}

# link_agent BROKER PUBLISH SUBSCRIBE CLEARANCE CAVEATS SPEAKS_FOR: the
# agents-list entry for the downstream broker BROKER on its upstream.
link_agent() {
    printf '{ name = "%s-link"; agency = "%s broker"; type = "broker"; region = "link"; public_key = "keys/%s.pub";\n' "$1" "$1" "$1"
    printf '  clearance = "%s"; caveats = [ %s ]; roles = [ "publisher", "receiver" ];\n' "$4" "$5"
    printf '  publish = [ %s ]; subscribe = [ %s ]; speaks_for = [ %s ]; }' "$2" "$3" "$6"
}

start_fed() {
    log="$T/$1.log"
    touch "$log"
    before=$(grep -c 'event=listening' "$log" || true)
    "$BIN/liaison-broker" -c "$T/$1.broker.cfg" 2>>"$log" &
    eval "FED_PID_$(echo "$1" | tr '-' '_')=$!"
    PIDS="$PIDS $!"
    n=200
    while [ "$(grep -c 'event=listening' "$log" || true)" -le "$before" ]; do
        n=$((n - 1)); [ $n -gt 0 ] || fail "broker $1 did not start: $(tail -5 "$log")"
        sleep 0.05
    done
}

pid_of() { eval "echo \$FED_PID_$(echo "$1" | tr '-' '_')"; }

# stop_fed NAME: SIGTERM, and a clean exit (ASan reports make it non-zero).
stop_fed() {
    p=$(pid_of "$1")
    kill -TERM "$p"
    rc=0
    wait "$p" || rc=$?
    [ "$rc" -eq 0 ] || fail "broker $1 exited with status $rc: $(tail -5 "$T/$1.log")"
}

kill_fed() {
    p=$(pid_of "$1")
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

# fed_agent_cfg AGENT BROKER: $T/AGENT.cfg for liaisonctl, on BROKER.
fed_agent_cfg() {
    cat >"$T/$1.cfg" <<EOT
agent = { name = "$1"; broker = "tcp://127.0.0.1:$(port_of "$2")"; broker_public_key = "keys/$2.pub";
          secret_key = "keys/$1.key"; heartbeat_ms = 1000; };
EOT
}

# wait_link BROKER LINK: until BROKER's log says its uplink LINK is up.
wait_link() {
    wait_for "$T/$1.log" "event=uplink_up link=$2"
}

# wait_stored NAME COUNT: until broker NAME (through operator agent
# NAME-ops) stores COUNT messages or more. Views are rate limited: a few
# asks, not many.
wait_stored() {
    n=80
    while :; do
        got=$("$BIN/liaisonctl" -c "$T/$1-ops.cfg" status --json 2>/dev/null |
            sed -n 's/.*"messages":\([0-9]*\).*/\1/p')
        [ "${got:-0}" -ge "$2" ] && return 0
        n=$((n - 1)); [ $n -gt 0 ] || fail "broker $1 stores ${got:-?} messages, not $2"
        sleep 0.25
    done
}
