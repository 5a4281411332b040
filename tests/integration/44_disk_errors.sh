# 44: disk errors at chosen points, injected with libfiu: a page write
# (pwrite/pwritev) or a sync (fdatasync/fsync) that fails with EIO or with
# ENOSPC. For each, in the broker: the publish whose commit fails is never
# acked, the broker stops with event=commit_failed and exit status 1 and
# does not retry; restarted without the fault it has every message acked
# before, and audit verify passes. In the agent: the outbox commit fails, the
# agent stops with event=outbox_failed, the spool file stays, and a
# restarted agent publishes it. (The stores do not use MDB_WRITEMAP, so
# LMDB never calls msync; scenario 16 is the first of these, in detail.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
# libfiu's preload and ASan's interceptors do not mix: the sanitized build
# skips this one, the plain runs it.
case "$BIN" in *asan*) echo "44 skipped in the sanitized build"; exit 0 ;; esac
command -v fiu-run >/dev/null || fail "fiu-run is missing (Debian's fiu-utils; make test-deps installs it)"
keygen broker police rocu prison
broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent prison '"alert.yorkshire.hmp-hull.>"' '' OFFICIAL-SENSITIVE '' '"publisher"' prison yorkshire),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu)
EOF2
agent_cfg police; agent_cfg rocu
agent_full_cfg prison spool/prison </dev/null
EIO=5 ENOSPC=28
# faults NAME: the libfiu points of one kind of fault.
faults() {
    case $1 in
    write) echo "posix/io/rw/pwrite posix/io/rw/pwritev" ;; # ZeroMQ writes to its eventfds: not those
    sync) echo "posix/io/sync/fdatasync posix/io/sync/fsync" ;;
    esac
}
strerr() { [ "$1" = $EIO ] && echo "Input/output error" || echo "No space left on device"; }
inject() { # PID KIND ERRNO
    for p in $(faults "$2"); do
        fiu-ctrl -c "enable name=$p,failinfo=$3" "$1" || fail "fiu-ctrl $p"
    done
}

acked=0
for kind in write sync; do
    for errno in $EIO $ENOSPC; do
        case_="$kind errno $errno"
        echo "$case_"
        start_broker fiu-run -x
        for i in 1 2; do
            acked=$((acked + 1))
            msg alert.y.ok OFFICIAL ",\"msg_id\":\"ok-$acked\"" | ctl police pub - >/dev/null ||
                fail "$case_: publish ok-$acked"
        done
        inject "$BROKER_PID" $kind $errno
        if msg alert.y.lost OFFICIAL ",\"msg_id\":\"lost-$kind-$errno\"" | ctl police pub - >"$T/lost.out" 2>/dev/null; then
            fail "$case_: a publish was acked although its commit failed: $(cat "$T/lost.out")"
        fi
        rc=0
        wait "$BROKER_PID" || rc=$?
        BROKER_PID=""
        assert_eq "$rc" 1 "$case_: broker exit status"
        assert_contains "$T/broker.log" "event=commit_failed"
        assert_contains "$T/broker.log" "event=store_failed op=commit error=\"$(strerr $errno)\""
        [ "$(grep -c 'event=store_failed op=commit' "$T/broker.log")" -eq 1 ] || fail "$case_: the failed commit was retried"
        # Without the fault: every acked message is there.
        start_broker
        ctl rocu sub 'alert.>' --from-seq 1 --count "$acked" --timeout 10 >"$T/all.jsonl" 2>/dev/null ||
            fail "$case_: replay after restart"
        for i in $(seq 1 "$acked"); do
            grep -q "\"msg_id\":\"ok-$i\"" "$T/all.jsonl" || fail "$case_: acked ok-$i lost"
        done
        stop_broker
        "$BIN/liaisonctl" audit verify --data-dir "$T/data/broker" >"$T/verify.out" 2>&1 ||
            fail "$case_: audit verify: $(cat "$T/verify.out")"
    done
done

# The agent's outbox, the same faults.
S="$T/spool/prison"
start_broker
log="$T/prison.agent.log"
k=0
for kind in write sync; do
    for errno in $EIO $ENOSPC; do
        case_="agent: $kind errno $errno"
        k=$((k + 1))
        : >"$log"
        fiu-run -x "$BIN/liaison-agent" -c "$T/prison.agent.cfg" 2>>"$log" >/dev/null &
        AGENT=$!
        PIDS="$PIDS $AGENT"
        wait_for "$log" "event=connected"
        inject "$AGENT" $kind $errno
        msg alert.yorkshire.hmp-hull.x OFFICIAL ",\"msg_id\":\"hull-$k\"" "note" | drop "$S" "f$k.json"
        rc=0
        wait "$AGENT" || rc=$?
        assert_eq "$rc" 1 "$case_: agent exit status"
        assert_contains "$log" "event=outbox_failed action=commit error=\"$(strerr $errno)\""
        [ -f "$S/f$k.json" ] || fail "$case_: the file left the spool although the outbox did not take it"
        start_agent prison
        wait_count "$log" 'event=published' 1
        stop_agent prison
    done
done
ctl rocu sub 'alert.yorkshire.>' --from-seq 1 --count 4 --timeout 20 >"$T/hull.out" 2>/dev/null || fail "replay of the agent's"
for i in 1 2 3 4; do assert_contains "$T/hull.out" "\"msg_id\":\"hull-$i\""; done
stop_broker
echo "44 ok"
