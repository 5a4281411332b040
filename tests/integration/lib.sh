# lib.sh — shared by the numbered integration scenarios: a temp directory,
# fresh CURVE keys per run, a broker on a free loopback port, agent configs,
# and assertions. Each scenario sources this, calls its steps, and exits
# non-zero (with a message) on the first failed assertion.
# BIN selects the build (build or build/asan).
set -eu
BIN=${BIN:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/$BIN
T=$(mktemp -d "${TMPDIR:-/tmp}/liaison-it.XXXXXX")
BROKER_PID=""
PIDS=""

cleanup() {
    for p in $PIDS $BROKER_PID; do
        pkill -9 -P "$p" 2>/dev/null || true # children of loops and wrappers
        kill -9 "$p" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -f "$T/broker.log" ]; then echo "--- broker log (tail)" >&2; tail -n 30 "$T/broker.log" >&2; fi
    exit 1
}

# Waits (bounded, as a safety net only) until FILE contains PATTERN.
wait_for() { # file pattern [seconds]
    n=$(( ${3:-20} * 20 ))
    while [ $n -gt 0 ]; do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
        n=$((n - 1))
    done
    fail "timed out waiting for '$2' in $1"
}

# wait_deadletter OPS SEQ: waits (bounded) until the operator OPS's view
# lists a dead letter of sequence SEQ. The broker logs event=dead_letter once
# its batch is on disk, so the view shows it from then; asking again is a
# safety net, a few times, not many (views are rate limited).
wait_deadletter() {
    n=40
    until "$BIN/liaisonctl" -c "$T/$1.cfg" deadletters list --json 2>/dev/null |
        grep -q "{\"seq\":$2,"; do
        n=$((n - 1)); [ $n -gt 0 ] || fail "dead letter $2 never reached the store"
        sleep 0.25
    done
}

keygen() { for n in "$@"; do "$BIN/liaisonctl" keygen "$n" --dir "$T/keys" >/dev/null; done; }

PORT=""
# A port below the kernel's ephemeral range (32768 up by default), so no
# client socket of another test can be holding it, and not listening now.
pick_port() {
    lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$lo" -gt 21000 ] || lo=32768
    while :; do
        PORT=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % (lo - 20010) ))
        ! ss -ltnH 2>/dev/null | grep -qE "[:.]($PORT|$((PORT + 1)))[[:space:]]" && return 0
    done
}

# Writes broker.cfg: the broker group, then the agents given as libconfig
# group texts on stdin.
broker_cfg() {
    pick_port
    {
        echo "broker = { listen = \"tcp://127.0.0.1:$PORT\"; secret_key = \"keys/broker.key\";"
        echo "  data_dir = \"data/broker\"; map_size_mb = ${MAP_MB:-64}; metrics = \"\"; heartbeat_ms = 1000; };"
        echo "agents = ("
        cat
        echo ");"
    } >"$T/broker.cfg"
}

# agent NAME [PUBLISH_LIST] [SUBSCRIBE_LIST] [CLEARANCE] [CAVEATS] [ROLES] [TYPE] [REGION]
# prints one agents-list entry; lists are libconfig arrays' inner text.
agent() {
    printf '{ name = "%s"; agency = "%s agency"; type = "%s"; region = "%s"; public_key = "keys/%s.pub";\n' \
        "$1" "$1" "${7:-police}" "${8:-yorkshire}" "$1"
    printf '  clearance = "%s"; caveats = [ %s ]; roles = [ %s ];\n' "${4:-SECRET}" "${5:-}" \
        "${6:-\"publisher\", \"receiver\"}"
    printf '  publish = [ %s ]; subscribe = [ %s ]; }' "${2:-}" "${3:-}"
}

# Writes NAME.cfg for liaisonctl / liaison-agent.
agent_cfg() {
    cat >"$T/$1.cfg" <<EOT
agent = { name = "$1"; broker = "tcp://127.0.0.1:$PORT"; broker_public_key = "keys/broker.pub";
          secret_key = "keys/$1.key"; heartbeat_ms = 1000; };
EOT
}

start_broker() { # [WRAPPER ARGS...]: e.g. fiu-run -x, put before the broker's command
    : >"$T/broker.log"
    "$@" "$BIN/liaison-broker" -c "$T/broker.cfg" 2>>"$T/broker.log" &
    BROKER_PID=$!
    n=200
    while ! grep -q 'event=listening' "$T/broker.log"; do
        kill -0 "$BROKER_PID" 2>/dev/null || fail "broker exited at start"
        n=$((n - 1)); [ $n -gt 0 ] || fail "broker did not start"
        sleep 0.05
    done
}

# Stops the broker with SIGTERM and asserts a clean exit (ASan leak reports
# and UBSan errors make it non-zero).
stop_broker() {
    kill -TERM "$BROKER_PID"
    rc=0
    wait "$BROKER_PID" || rc=$?
    BROKER_PID=""
    [ "$rc" -eq 0 ] || fail "broker exited with status $rc"
}

ctl() { # NAME COMMAND ARGS...
    c=$1
    shift
    "$BIN/liaisonctl" -c "$T/$c.cfg" "$@"
}

# sub_bg NAME PATTERN ARGS...: starts a subscriber writing $T/NAME.out and
# waits until it is subscribed.
sub_bg() {
    name=$1
    shift
    "$BIN/liaisonctl" -c "$T/$name.cfg" sub "$@" >"$T/$name.out" 2>"$T/$name.err" &
    eval "SUB_$name=$!"
    PIDS="$PIDS $!"
    wait_for "$T/$name.err" "subscribed"
}

# Waits for background subscriber NAME and returns its exit status.
sub_wait() {
    eval "p=\$SUB_$1"
    rc=0
    wait "$p" || rc=$?
    return $rc
}

msg() { # topic classification [extra json fields]
    printf '{"topic":"%s","classification":"%s","grading":"2B","handling":"P","risk":"LOW","content_type":"text/plain","body":"%s"%s}\n' \
        "$1" "$2" "${4:-test body}" "${3:-}"
}

# counted AUDIT.jsonl PATTERN...: how many events the records matching every
# PATTERN stand for: a batch's collections or disclosures of one kind are one
# record, its count (absent: 1) how many.
counted() {
    local c p
    c=$(cat "$1")
    shift
    for p in "$@"; do c=$(printf '%s\n' "$c" | grep -- "$p" || true); done
    printf '%s\n' "$c" | grep . | sed 's/.*"count":\([0-9]*\).*/\1/; t; s/.*/1/' |
        awk '{ n += $1 } END { print n + 0 }'
}
disclosed() { counted "$1" "\"action\":\"$2\"" "\"recipient\":\"${3:-[^\"]*}\""; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: expected '$2', got '$1'"; }
assert_contains() { grep -q -- "$2" "$1" || fail "$1 does not contain '$2'"; }
assert_not_contains() { ! grep -q -- "$2" "$1" || fail "$1 contains '$2'"; }
