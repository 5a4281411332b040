#!/bin/bash
# make soak: SOAK_AGENTS agents (default 200) against one broker for
# SOAK_MINUTES (default 30). Four publishers publish at a steady
# SOAK_RATE messages a second between them (default 200), each to its own
# region, re-sending what was not acknowledged; the other agents connect
# and disconnect at random, half of them to a durable subscription of one
# region each (they must get every message of it), half without one;
# retention erases behind them (max_mb) every few seconds; an operator
# polls the status view. Every minute, and at the end, it prints the
# broker's RSS and open fds, the commit latency p99, the backlog, and the
# checker's counts so far. At the end every durable subscriber catches up,
# and the checker puts each message a durable was owed into a category
# (the RabbitMQ Jepsen suite's): lost (acknowledged to its publisher,
# never delivered), duplicated (delivered more than once: at-least-once,
# not a failure), unexpected (delivered, never acknowledged to anyone),
# recovered (first delivered in the final catch-up, once every agent had
# been away).
# Exit 1 on a lost or unexpected message, on anonymous memory (RssAnon:
# the store's mapped pages are the kernel's to drop) that grows past 1.5x
# (and 16 MiB over) its level after the first minute, or on fds left open
# once every agent has gone. The audit trail is kept (retention erases
# messages, never their records), and every delivery has a record: at the
# defaults it grows by about 1.5 MB a second, so the map is SOAK_MAP_MB
# (8192, a sparse file) and a full store ends the soak with a reason.
# Not part of `make test`.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
MIN=${SOAK_MINUTES:-30}
AGENTS=${SOAK_AGENTS:-200}
RATE=${SOAK_RATE:-200}
PUBS=4
SUBS=$((AGENTS - PUBS))
[ "$SUBS" -ge 2 ] || fail "SOAK_AGENTS must be at least 6"
PER_PUB=$((RATE * MIN * 60 / PUBS))
RATE_EACH=$(awk -v r="$RATE" -v p=$PUBS 'BEGIN { printf "%.3f", r / p }')

names="ops"
for i in $(seq 0 $((AGENTS - 1))); do names="$names a$i"; done
# shellcheck disable=SC2086
keygen broker $names
agents_list() {
    for p in $(seq 0 $((PUBS - 1))); do
        agent "a$p" "\"soak.r$p.>\"" '' OFFICIAL '' '"publisher"' police "r$p"
        echo ","
    done
    for i in $(seq $PUBS $((AGENTS - 1))); do
        agent "a$i" '' '"soak.>"' OFFICIAL '' '"receiver"' police "r$((i % PUBS))"
        echo ","
    done
    agent ops '' '' OFFICIAL '' '"operator"' marsoc national
}
agents_list >"$T/agents.txt"
MAP_MB=${SOAK_MAP_MB:-8192} broker_cfg <"$T/agents.txt"
sed -i 's|heartbeat_ms = 1000; };|heartbeat_ms = 1000; retention_interval_s = 5; max_views_per_minute = 1000; max_sessions_per_agent = 4; };|' "$T/broker.cfg"
# About four minutes of traffic at the defaults: erased well behind any
# subscriber (each is away for at most about 25 s).
echo 'retention = ( { pattern = "soak.>"; max_mb = 8; } );' >>"$T/broker.cfg"
for n in $names; do agent_cfg "$n"; done
"$BIN/liaison-broker" -c "$T/broker.cfg" --check-config >/dev/null || fail "soak broker.cfg"
start_broker

status_json() { "$BIN/liaisonctl" -c "$T/ops.cfg" status --json 2>/dev/null; }
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -n 1; }
rss_kib() { awk '/^RssAnon/ { print $2 }' "/proc/$BROKER_PID/status"; }
fds() { find "/proc/$BROKER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# Durable subscribers exist before anything is published: every message of
# their region is owed to them.
for i in $(seq $PUBS $((AGENTS - 1))); do
    [ $((i % 2)) -eq 0 ] || continue
    "$BIN/liaisonctl" -c "$T/a$i.cfg" sub "soak.r$((i % PUBS)).>" --durable "d$i" --timeout 0.2 \
        2>>"$T/a$i.err" | sed "s/^/0 /" >>"$T/a$i.jsonl"
    grep -q subscribed "$T/a$i.err" || fail "durable d$i could not be made: $(cat "$T/a$i.err")"
done
IDLE_FDS=$(fds)

STOP="$T/stop"
# One agent's life: connect for 1-20 s, go away for 0-5 s, again.
subscriber() {
    i=$1 k=0
    durable=""
    [ $((i % 2)) -eq 0 ] && durable="--durable d$i --take-over"
    while [ ! -e "$STOP" ]; do
        k=$((k + 1))
        # shellcheck disable=SC2086
        "$BIN/liaisonctl" -c "$T/a$i.cfg" sub "soak.r$((i % PUBS)).>" $durable \
            --timeout $((RANDOM % 20 + 1)) 2>>"$T/a$i.err" | sed "s/^/$k /" >>"$T/a$i.jsonl"
        sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
        [ $((RANDOM % 4)) -eq 0 ] && sleep $((RANDOM % 5))
    done
}
for i in $(seq $PUBS $((AGENTS - 1))); do
    subscriber "$i" &
    PIDS="$PIDS $!"
done
for p in $(seq 0 $((PUBS - 1))); do
    RETRYPUB_RATE=$RATE_EACH "$BIN/tools/retrypub" "$T/a$p.cfg" "$PER_PUB" "$T/p$p.acked" 64 \
        "soak.r$p.load" 2>"$T/p$p.err" &
    eval "PUB_$p=$!"
    PIDS="$PIDS $!"
done
( while [ ! -e "$STOP" ]; do status_json >/dev/null; sleep 5; done ) &
PIDS="$PIDS $!"

report() { # LABEL
    s=$(status_json)
    acked=$(cat "$T"/p*.acked 2>/dev/null | wc -l)
    got=$(cat "$T"/a*.jsonl 2>/dev/null | wc -l)
    printf '%-8s rss_anon_mib=%s fds=%s commit_p99_us=%s stored=%s backlog=%s acked=%s delivered=%s\n' \
        "$1" "$(awk -v k="$(rss_kib)" 'BEGIN { printf "%.1f", k / 1024 }')" "$(fds)" \
        "$(echo "$s" | field commit_p99_us)" "$(echo "$s" | field messages)" \
        "$(echo "$s" | field backlog)" "$acked" "$got"
}
echo "soak: $AGENTS agents, $MIN min, $RATE msgs/s, broker pid $BROKER_PID"
RSS1=""
for m in $(seq 1 "$MIN"); do
    sleep 60
    kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker died"
    ! grep -q 'event=store_full' "$T/broker.log" ||
        fail "the store filled (the audit trail keeps a record per delivery): raise SOAK_MAP_MB"
    report "min $m"
    [ -n "$RSS1" ] || RSS1=$(rss_kib)
done
for p in $(seq 0 $((PUBS - 1))); do
    eval "wait \$PUB_$p" || fail "publisher a$p failed: $(cat "$T/p$p.err")"
done
touch "$STOP"
# The subscribers' loops end with their current connection.
while pgrep -f "$T/a[0-9]*.cfg sub" >/dev/null; do sleep 0.5; done
# Every durable catches up on what it is owed, all at once.
finals=""
for i in $(seq $PUBS $((AGENTS - 1))); do
    [ $((i % 2)) -eq 0 ] || continue
    ("$BIN/liaisonctl" -c "$T/a$i.cfg" sub "soak.r$((i % PUBS)).>" --durable "d$i" --timeout 5 \
        2>>"$T/a$i.err" | sed "s/^/final /" >>"$T/a$i.jsonl") &
    finals="$finals $!"
done
# shellcheck disable=SC2086
wait $finals
sleep 2
report "end"
RSS_END=$(rss_kib)
FDS_END=$(fds)

python3 - "$T" "$PUBS" "$PUBS" "$((AGENTS - 1))" <<'PYEOF' || fail "the checker found lost or unexpected messages"
import glob, json, os, re, sys
t, pubs, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
acked = {}
for p in range(pubs):
    for line in open(os.path.join(t, "p%d.acked" % p)):
        mid, seq = line.split()
        acked[("soak.r%d" % p, mid)] = int(seq)
lost = dup = unexpected = recovered = owed_total = 0
for i in range(lo, hi + 1):
    if i % 2:
        continue
    region = "soak.r%d" % (i % pubs)
    seen = {}
    for line in open(os.path.join(t, "a%d.jsonl" % i)):
        tag, _, js = line.partition(" ")
        try:
            m = json.loads(js)
        except ValueError:
            continue
        key = (m["topic"].rsplit(".", 1)[0], m["msg_id"])
        seen.setdefault(key, []).append(tag)
    owed = {k for k in acked if k[0] == region}
    owed_total += len(owed)
    lost += len(owed - set(seen))
    unexpected += sum(1 for k in seen if k not in acked)
    dup += sum(len(v) - 1 for v in seen.values())
    recovered += sum(1 for k, v in seen.items() if v[0] == "final")
print("checker: durables=%d owed=%d lost=%d duplicated=%d unexpected=%d recovered=%d"
      % ((hi - lo + 2) // 2, owed_total, lost, dup, unexpected, recovered))
sys.exit(1 if lost or unexpected else 0)
PYEOF
awk -v a="$RSS1" -v b="$RSS_END" 'BEGIN { exit !(b <= a * 1.5 || b <= a + 16384) }' ||
    fail "broker RSS grew from $RSS1 KiB after the first minute to $RSS_END KiB"
[ "$FDS_END" -le $((IDLE_FDS + 4)) ] || fail "broker fds: $IDLE_FDS idle before, $FDS_END after every agent left"
stop_broker
echo "soak ok: nothing lost; RssAnon ${RSS1} -> ${RSS_END} KiB, fds ${IDLE_FDS} -> ${FDS_END}"
