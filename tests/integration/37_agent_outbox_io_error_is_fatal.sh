# 37: an agent whose outbox commit fails (fdatasync EIO, injected with
# libfiu) stops with a clear log line and exit status 1, never retrying; the
# file it was taking stays in the spool (it is not moved to done/), and a
# restarted agent publishes it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
# libfiu's preload and ASan's interceptors do not mix: the sanitized build
# skips this one, the plain runs it.
case "$BIN" in *asan*) echo "37 skipped in the sanitized build"; exit 0 ;; esac
command -v fiu-run >/dev/null || fail "fiu-run is missing (Debian's fiu-utils; make deps installs it)"
keygen broker prison rocu
broker_cfg <<EOF2
$(agent prison '"alert.yorkshire.hmp-hull.>"' '' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"publisher"' prison yorkshire),
$(agent rocu '' '"alert.yorkshire.>"' SECRET '"PRISON-INTEL"' '"receiver"' rocu yorkshire)
EOF2
agent_cfg rocu
agent_full_cfg prison spool/prison </dev/null
S="$T/spool/prison"
start_broker
log="$T/prison.agent.log"
: >"$log"
fiu-run -x "$BIN/liaison-agent" -c "$T/prison.agent.cfg" 2>>"$log" >/dev/null &
AGENT=$!
PIDS="$PIDS $AGENT"
wait_for "$log" "event=connected"
fiu-ctrl -c "enable name=posix/io/sync/fdatasync" "$AGENT" || fail "fiu-ctrl"
fiu-ctrl -c "enable name=posix/io/sync/fsync" "$AGENT" || fail "fiu-ctrl"
msg alert.yorkshire.hmp-hull.x OFFICIAL ',"msg_id":"hull-io-1"' "note" | drop "$S" "io1.json"
rc=0
wait "$AGENT" || rc=$?
assert_eq "$rc" 1 "agent exit status after a failed outbox commit"
assert_contains "$log" 'event=outbox_failed'
assert_contains "$log" 'nothing is retried'
assert_eq "$(files_in "$S/done")" 0 "files moved to done/ although the outbox did not take them"
# Restarted without the fault, it takes the file and publishes it.
start_agent prison
wait_count "$T/prison.agent.log" 'event=published' 1
ctl rocu sub 'alert.yorkshire.>' --from-seq 1 --count 1 --timeout 20 >"$T/all.out" 2>/dev/null || fail "replay"
assert_contains "$T/all.out" '"msg_id":"hull-io-1"'
stop_agent prison
stop_broker
echo "37 ok"
