#!/bin/sh
# run.sh — what `make bench` runs: a throw-away broker with fresh CURVE keys,
# a subject key and an empty store on a free loopback port, then $B/bench
# against it (raw ZeroMQ baselines, then one publisher -> broker -> one
# subscriber), the backlog, and last the subject queries on a fresh broker
# with an empty store (bench --query). The temp directory and the broker go
# away on every exit, clean or not.
# Not responsible for the measuring itself (bench.c).
#
#   sh tests/bench/run.sh BUILD_DIR
#
# Environment, read by bench: BENCH_N (200000), BENCH_WINDOW (1000),
# BENCH_CREDIT (2000), BENCH_RATE (20000), BENCH_SECONDS (5), BENCH_STALL_S (30),
# BENCH_IDS (random: msg_ids in no order, as UUIDs are; else bench-PID-PHASE-I, whose
# neighbours sort together), BENCH_IDLE (1000), BENCH_WATCH_SUBS (1000 watchlists of 10 subjects; 0 skips
# that phase), and for the subject queries BENCH_QUERY_N (1000000; 0 skips
# them, and the second broker), BENCH_SUBJECTS (100000) and BENCH_QUERIES
# (2000 of one subject and as many of four; at most 50000);
# BENCH_DIR (the temp dir, beside the store, for the fsync probe) and
# BENCH_BROKER_PID (for the broker's CPU use) are set here.
# Here: BENCH_BACKLOG (1000000; 0 skips the backlog phase); BENCH_LINK_N (100000; 0 skips the
# federation phase: a second broker above this one, every message through one uplink); BENCH_PERF=FILE records the broker with `perf record -g` into FILE;
# BENCH_WRAP is a command put before the broker's (valgrind --tool=callgrind
# counts its instructions: repeatable whatever else the machine does);
# TMPDIR picks where the store lives (it must be a real disk for the fsyncs
# to mean anything — tmpfs makes them free).
set -eu

B=$(cd "${1:-build}" && pwd)
for f in liaison-broker liaisonctl bench tools/retrypub; do
    [ -x "$B/$f" ] || { echo "bench: $B/$f is missing (make bench builds it)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/liaison-bench.XXXXXX")
broker_pid=""
perf_pid=""
brc=0

# 0 while pid runs (a zombie, exited but not yet waited for, does not).
alive() {
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# SIGTERM (the broker drains and exits), then SIGKILL if it is still running
# 10 s later. Sets brc to its exit status.
stop_broker() {
    brc=0
    [ -n "$broker_pid" ] || return 0
    kill -TERM "$broker_pid" 2>/dev/null || true
    n=0
    while alive "$broker_pid" && [ "$n" -lt 100 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    if alive "$broker_pid"; then
        echo "bench: the broker ignored SIGTERM for 10 s; killing it" >&2
        kill -KILL "$broker_pid" 2>/dev/null || true
    fi
    wait "$broker_pid" 2>/dev/null || brc=$?
    broker_pid=""
}

cleanup() {
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" || true
    fi
    stop_broker
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for name in broker pub sub ops query upstream; do
    "$B/liaisonctl" keygen "$name" --dir "$tmp/keys" >/dev/null
done
"$B/liaisonctl" keygen subjects --subject-key --dir "$tmp/keys" >/dev/null

# $1 = port. Paths in the configs are relative to the configs' own directory.
write_configs() {
    uplinks=""
    [ -z "${UPLINK_PORT:-}" ] || uplinks="{ name = \"up\"; broker = \"tcp://127.0.0.1:$UPLINK_PORT\";
    broker_public_key = \"keys/upstream.pub\"; forward = [ \"bench.>\" ]; clearance = \"SECRET\";
    window = 1000; }"
    cat >"$tmp/broker.cfg" <<EOF
broker = {
  listen        = "tcp://127.0.0.1:$1";
  secret_key    = "keys/broker.key";
  data_dir      = "data/broker";
  map_size_mb   = 4096;
  metrics       = "";
  credit_window = 1000;
  max_subs_per_agent = 2000;
  max_sessions_per_agent = 100;
  subject_key   = "keys/subjects.subject.key";
  max_queries_per_minute = 100000;
  log_level     = "info";
  name          = "downstream";
};
uplinks = ( $uplinks );
agents = (
  { name = "pub"; agency = "Bench Publisher"; type = "police"; region = "bench";
    public_key = "keys/pub.pub"; clearance = "SECRET"; roles = [ "publisher" ];
    publish = [ "bench.>" ]; },
  { name = "sub"; agency = "Bench Subscriber"; type = "rocu"; region = "bench";
    public_key = "keys/sub.pub"; clearance = "SECRET"; roles = [ "receiver" ];
    subscribe = [ "bench.>" ]; },
  { name = "ops"; agency = "Bench Operator"; type = "marsoc"; region = "bench";
    public_key = "keys/ops.pub"; clearance = "OFFICIAL"; roles = [ "operator" ]; },
  { name = "query"; agency = "Bench Analyst"; type = "rocu"; region = "bench";
    public_key = "keys/query.pub"; clearance = "SECRET"; roles = [ "query" ];
    subscribe = [ "bench.>" ]; }
);
EOF
    for name in pub sub ops query; do
        cat >"$tmp/$name.cfg" <<EOF
agent = {
  name              = "$name";
  broker            = "tcp://127.0.0.1:$1";
  broker_public_key = "keys/broker.pub";
  secret_key        = "keys/$name.key";
  data_dir          = "data/$name";
  log_level         = "warn";
};
EOF
    done
}

# Starts the broker on a random port in 20000-29999, trying another port when
# the one picked is taken. Returns once the log says event=listening.
start_broker() {
    tries=0
    while [ "$tries" -lt 10 ]; do
        tries=$((tries + 1))
        port=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 10000 + 20000 ))
        write_configs "$port"
        # Emptied here, not only by the redirection below, which the
        # background job may do after the first grep: that grep must never
        # read an earlier broker's event=listening.
        : >"$tmp/broker.log"
        # shellcheck disable=SC2086 # BENCH_WRAP is a command and its words
        ${BENCH_WRAP:-} "$B/liaison-broker" -c "$tmp/broker.cfg" >"$tmp/broker.log" 2>&1 &
        broker_pid=$!
        waited=0
        while [ "$waited" -lt 100 ]; do
            grep -q 'event=listening' "$tmp/broker.log" && return 0
            grep -q 'event=startup_failed' "$tmp/broker.log" && break
            kill -0 "$broker_pid" 2>/dev/null || break
            sleep 0.1
            waited=$((waited + 1))
        done
        if [ "$waited" -ge 100 ]; then
            echo "bench: the broker did not start listening within 10 s:" >&2
            cat "$tmp/broker.log" >&2
            return 1
        fi
        # A broker that failed to start may still be running (it has been
        # seen to hang in shutdown after a failed bind): stop it either way.
        stop_broker
        grep -q 'in use' "$tmp/broker.log" && continue
        echo "bench: the broker failed to start:" >&2
        cat "$tmp/broker.log" >&2
        return 1
    done
    echo "bench: no free port found in 10 tries" >&2
    return 1
}

start_broker
fs=$(df -PT "$tmp" 2>/dev/null | awk 'NR == 2 { print $2 }')
echo "broker on 127.0.0.1:$port, store in $tmp (${fs:-unknown} filesystem), $(nproc) CPUs"

if [ -n "${BENCH_PERF:-}" ]; then
    perf record -g -o "$BENCH_PERF" -p "$broker_pid" >"$tmp/perf.log" 2>&1 &
    perf_pid=$!
    sleep 0.5
fi

rc=0
BENCH_DIR="$tmp" BENCH_BROKER_PID="$broker_pid" \
    "$B/bench" "$tmp/pub.cfg" "$tmp/sub.cfg" "$tmp/ops.cfg" || rc=$?

if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" || true
    perf_pid=""
    echo "perf profile of the broker in $BENCH_PERF (perf report -i $BENCH_PERF)"
fi

# A backlog for a durable subscriber that is away: the broker's anonymous
# memory with it, then catch-up and replay from the store, both read by the
# bench's own C client (bench --drain), acking in batches.
backlog=${BENCH_BACKLOG:-1000000}
if [ "$rc" -eq 0 ] && [ "$backlog" -gt 0 ]; then
    now() { date +%s.%N; }
    rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%8.0f msgs/s", n / (b - a) }'; }
    rss() { awk '/^RssAnon/ { print $2 }' "/proc/$broker_pid/status"; }
    steal() { awk '/^cpu / { print $9 }' /proc/stat; } # in USER_HZ, over all CPUs
    "$B/liaisonctl" -c "$tmp/sub.cfg" sub 'bench.backlog' --durable away --timeout 0.3 >/dev/null 2>&1 || true
    r0=$(rss)
    t0=$(now)
    "$B/tools/retrypub" "$tmp/pub.cfg" "$backlog" "$tmp/acked.txt" 2000 bench.backlog 2>/dev/null || rc=1
    t1=$(now)
    r1=$(rss)
    first=$(awk 'NR == 1 { print $2 }' "$tmp/acked.txt")
    s0=$(steal)
    t2=$(now)
    catchup=$("$B/bench" --drain "$tmp/sub.cfg" 'bench.backlog' away 0 "$backlog") || rc=1
    replay=$("$B/bench" --drain "$tmp/sub.cfg" 'bench.backlog' '' "$first" "$backlog") || rc=1
    t3=$(now)
    s1=$(steal)
    echo "backlog of $backlog messages for a durable subscriber that is away:"
    echo "  broker RssAnon                       ${r0} kB before, ${r1} kB with the backlog"
    echo "  publish (retrying publisher)       $(rate "$backlog" "$t0" "$t1")"
    echo "  catch-up on return (bench client)  $catchup"
    echo "  replay from the store (bench client) $replay"
    awk -v s="$((s1 - s0))" -v hz="$(getconf CLK_TCK)" -v c="$(getconf _NPROCESSORS_ONLN)" \
        -v a="$t2" -v b="$t3" 'BEGIN { printf "  cpu: stolen by the host, both drains %8.0f %%\n", 100 * s / hz / c / (b - a) }'
    echo "  (targets: RssAnon <= 64 MiB with the backlog; catch-up and replay >= 500k msgs/s)"
fi

# One federation link: an upstream broker with the subscriber, and this
# broker (a fresh store) forwarding bench.> up to it. The upstream's config
# holds this broker's key as a link agent that speaks for the publisher.
if [ "$rc" -eq 0 ] && [ "${BENCH_LINK_N:-100000}" -gt 0 ]; then
    stop_broker
    if [ "$brc" -ne 0 ]; then
        echo "bench: failed (broker exit $brc); broker log:" >&2
        tail -n 30 "$tmp/broker.log" >&2
        exit 1
    fi
    UPLINK_PORT=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 10000 + 30000 ))
    cat >"$tmp/upstream.cfg" <<EOF
broker = { name = "upstream"; listen = "tcp://127.0.0.1:$UPLINK_PORT";
  secret_key = "keys/upstream.key"; data_dir = "data/upstream"; map_size_mb = 4096;
  metrics = ""; credit_window = 1000; log_level = "info"; };
agents = (
  { name = "sub"; agency = "Bench Subscriber"; type = "rocu"; region = "bench";
    public_key = "keys/sub.pub"; clearance = "SECRET"; roles = [ "receiver" ];
    subscribe = [ "bench.>" ]; },
  { name = "bench-link"; agency = "Bench Downstream"; type = "broker"; region = "bench";
    public_key = "keys/broker.pub"; clearance = "SECRET"; roles = [ "publisher" ];
    publish = [ "bench.>" ]; speaks_for = [ "Bench Publisher" ]; }
);
EOF
    sed "s|127.0.0.1:[0-9]*|127.0.0.1:$UPLINK_PORT|; s|keys/broker.pub|keys/upstream.pub|" \
        "$tmp/sub.cfg" >"$tmp/sub-up.cfg"
    : >"$tmp/upstream.log" # before the first grep, which may run before the redirection
    "$B/liaison-broker" -c "$tmp/upstream.cfg" >"$tmp/upstream.log" 2>&1 &
    up_pid=$!
    n=0
    until grep -q 'event=listening' "$tmp/upstream.log"; do
        n=$((n + 1))
        [ "$n" -lt 100 ] || { echo "bench: the upstream broker did not start:" >&2; cat "$tmp/upstream.log" >&2; exit 1; }
        sleep 0.1
    done
    export UPLINK_PORT
    rm -rf "$tmp/data/broker"
    start_broker
    n=0
    until grep -q 'event=uplink_up' "$tmp/broker.log"; do
        n=$((n + 1))
        [ "$n" -lt 100 ] || { echo "bench: the uplink did not come up:" >&2; tail "$tmp/broker.log" >&2; exit 1; }
        sleep 0.1
    done
    BENCH_BROKER_PID="$broker_pid" "$B/bench" --link "$tmp/pub.cfg" "$tmp/sub-up.cfg" "$tmp/ops.cfg" || rc=$?
    kill -TERM "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
    unset UPLINK_PORT
fi

# Subject queries, on a store that holds only their messages (the figures
# are for "a store of 1M messages"): the broker is stopped, its store
# removed, and a new one started, on which bench --query publishes and asks.
if [ "$rc" -eq 0 ] && [ "${BENCH_QUERY_N:-1000000}" -gt 0 ]; then
    stop_broker
    if [ "$brc" -ne 0 ]; then
        # Now, before the new broker's log replaces this one's.
        echo "bench: failed (broker exit $brc); broker log:" >&2
        tail -n 30 "$tmp/broker.log" >&2
        exit 1
    fi
    rm -rf "$tmp/data/broker"
    start_broker
    "$B/bench" --query "$tmp/pub.cfg" "$tmp/query.cfg" "$tmp/ops.cfg" || rc=$?
fi

stop_broker
if [ "$rc" -ne 0 ] || [ "$brc" -ne 0 ]; then
    echo "bench: failed (bench exit $rc, broker exit $brc); broker log:" >&2
    tail -n 30 "$tmp/broker.log" >&2
    [ "$rc" -ne 0 ] && exit "$rc"
    exit 1
fi
