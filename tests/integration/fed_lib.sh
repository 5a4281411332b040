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

# fed_agent_cfg AGENT BROKER [KEY]: $T/AGENT.cfg for liaisonctl, on
# BROKER, with keys/KEY.key (default keys/AGENT.key).
fed_agent_cfg() {
    cat >"$T/$1.cfg" <<EOT
agent = { name = "$1"; broker = "tcp://127.0.0.1:$(port_of "$2")"; broker_public_key = "keys/$2.pub";
          secret_key = "keys/${3:-$1}.key"; heartbeat_ms = 1000; };
EOT
}

# wait_link BROKER LINK [N]: until BROKER's log says its uplink LINK is
# up, N times in all (1: the first).
wait_link() {
    n=400
    while [ "$(grep -c "event=uplink_up link=$2 " "$T/$1.log" || true)" -lt "${3:-1}" ]; do
        n=$((n - 1)); [ $n -gt 0 ] || fail "$1's uplink $2 did not come up (${3:-1}): $(grep "link=$2" "$T/$1.log" | tail -3)"
        sleep 0.05
    done
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

# fed_view NAME VIEW: broker NAME's view (status, links, ...) as JSON,
# through its operator NAME-ops, into $T/NAME.VIEW.json. Non-zero if it
# could not be read (the broker is down, say).
fed_view() {
    "$BIN/liaisonctl" -c "$T/$1-ops.cfg" "$2" --json >"$T/$1.$2.json" 2>/dev/null
}

# json_sum FILE KEY: the sum of every integer field KEY in FILE (0 if none).
json_sum() {
    grep -o "\"$2\":[0-9]*" "$1" | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'
}

# uplink_field FILE UPLINK KEY: field KEY of uplink UPLINK in a links view.
uplink_field() {
    sed 's/},{/}\n{/g' "$1" | grep "\"name\":\"$2\"" | sed -n "s/.*\"$3\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

# wait_settled NAME...: until every uplink of each broker NAME is
# connected, with nothing in flight and no forward lag: all it stores has
# been forwarded and answered. Views are rate limited: brokers that are
# polled here set max_views_per_minute.
wait_settled() {
    for name in "$@"; do
        n=160
        while :; do
            if fed_view "$name" links && ! grep -q '"state":"\(connecting\|retrying\|refused\)"' "$T/$name.links.json" &&
                [ "$(json_sum "$T/$name.links.json" forward_lag)" = 0 ] &&
                [ "$(json_sum "$T/$name.links.json" in_flight)" = 0 ]; then
                break
            fi
            n=$((n - 1)); [ $n -gt 0 ] || fail "broker $name's uplinks did not settle: $(cat "$T/$name.links.json")"
            sleep 0.25
        done
    done
}

# stored_ids NAME AGENT PATTERN: replays broker NAME's store from its
# first message to AGENT (a receiver there, with its config in
# $T/AGENT.cfg) into $T/NAME.store.jsonl, and writes the msg_ids it holds,
# one a line, sorted (repeats kept), to $T/NAME.ids.
stored_ids() {
    "$BIN/liaisonctl" -c "$T/$2.cfg" sub "$3" --from-seq 1 --timeout 120 >"$T/$1.store.jsonl" 2>"$T/$1.store.err" ||
        fail "replay of $1's store: $(cat "$T/$1.store.err")"
    sed -n 's/.*"msg_id":"\([^"]*\)".*/\1/p' "$T/$1.store.jsonl" | sort >"$T/$1.ids"
}
