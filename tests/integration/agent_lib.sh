# agent_lib.sh — helpers for the liaison-agent scenarios (2x), sourced
# after lib.sh: agent configs with spools and sinks, starting, stopping and
# crashing agents, dropping files into a spool the way an agency system
# should (write elsewhere, rename in), and counting what arrived.
# Waits are bounded safety nets only; nothing asserts on timing.

# agent_full_cfg NAME [SPOOL] — writes $T/NAME.agent.cfg for liaison-agent:
# the agent group (spool "" for none), then the subscriptions list given as
# libconfig group texts on stdin (may be empty).
agent_full_cfg() {
    subs=$(cat)
    {
        echo "agent = { name = \"$1\"; broker = \"tcp://127.0.0.1:$PORT\";"
        echo "  broker_public_key = \"keys/broker.pub\"; secret_key = \"keys/$1.key\";"
        echo "  data_dir = \"data/$1\"; spool = \"${2:-}\"; heartbeat_ms = 1000; log_level = \"${AGENT_LOG_LEVEL:-info}\"; };"
        echo "subscriptions = ("
        echo "$subs"
        echo ");"
    } >"$T/$1.agent.cfg"
}

# sub_entry NAME PATTERN SINK [DURABLE] — one subscriptions-list entry.
# Without DURABLE the name is used (the agent.cfg default).
sub_entry() {
    printf '{ name = "%s"; pattern = "%s"; sink = "%s"; durable = "%s"; }' "$1" "$2" "$3" "${4-$1}"
}

# start_agent NAME — runs liaison-agent on $T/NAME.agent.cfg in the
# background, logging to $T/NAME.agent.log (appended across restarts), and
# waits until it has started. Its pid is in AGENT_PID_NAME.
start_agent() {
    log="$T/$1.agent.log"
    touch "$log"
    _al_before=$(grep -c 'event=started' "$log" || true)
    "$BIN/liaison-agent" -c "$T/$1.agent.cfg" 2>>"$log" >>"$T/$1.stdout" &
    pid=$!
    eval "AGENT_PID_$(echo "$1" | tr '-' '_')=$pid"
    PIDS="$PIDS $pid"
    n=200
    while [ "$(grep -c 'event=started' "$log" || true)" -le "$_al_before" ]; do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; fail "agent $1 exited at start"; }
        n=$((n - 1)); [ $n -gt 0 ] || fail "agent $1 did not start"
        sleep 0.05
    done
}

agent_pid() { eval "echo \${AGENT_PID_$(echo "$1" | tr '-' '_')}"; }

# stop_agent NAME — SIGTERM, and asserts a clean exit (ASan leak reports
# and UBSan errors make it non-zero).
stop_agent() {
    p=$(agent_pid "$1")
    kill -TERM "$p"
    rc=0
    wait "$p" || rc=$?
    [ "$rc" -eq 0 ] || { tail -n 30 "$T/$1.agent.log" >&2; fail "agent $1 exited with status $rc"; }
}

# crash_agent NAME — SIGKILL: no drain, no cleanup.
crash_agent() {
    p=$(agent_pid "$1")
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

# wait_agent_exit NAME STATUS — waits for an agent that exits by itself
# (an injected fault) and checks its status.
wait_agent_exit() {
    p=$(agent_pid "$1")
    rc=0
    wait "$p" || rc=$?
    [ "$rc" -eq "$2" ] || fail "agent $1 exited with $rc, expected $2"
}

# count LOG PATTERN — lines of LOG matching PATTERN (0 if none or missing).
count() {
    c=$(grep -c -- "$2" "$1" 2>/dev/null)
    echo "${c:-0}"
}

# wait_count FILE PATTERN N [SECONDS] — until at least N lines match.
wait_count() {
    n=$(( ${4:-20} * 20 ))
    while [ "$(count "$1" "$2")" -lt "$3" ]; do
        n=$((n - 1))
        [ $n -gt 0 ] || fail "timed out waiting for $3 lines of '$2' in $1 (have $(count "$1" "$2"))"
        sleep 0.05
    done
}

# wait_files DIR N [SECONDS] — until DIR holds at least N *.json files.
wait_files() {
    n=$(( ${3:-20} * 20 ))
    while [ "$(files_in "$1")" -lt "$2" ]; do
        n=$((n - 1))
        [ $n -gt 0 ] || fail "timed out waiting for $2 files in $1 (have $(files_in "$1"))"
        sleep 0.05
    done
}
files_in() { find "$1" -maxdepth 1 -name '*.json' ! -name '.*' 2>/dev/null | wc -l | tr -d ' '; }

# drop SPOOL NAME — stdin becomes SPOOL/NAME, written under a hidden
# temporary name first and renamed in, as agencies are told to.
drop() {
    mkdir -p "$1"
    cat >"$1/.$2.tmp"
    mv "$1/.$2.tmp" "$1/$2"
}

# json_field FILE KEY — the value of a top-level string or number KEY in
# one-line JSON (good enough for the agent's own output).
json_field() { sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" "$1" | head -n 1; }
