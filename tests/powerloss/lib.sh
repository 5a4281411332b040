# lib.sh — lossyfs mounts for the power-loss scripts, sourced after
# tests/integration/lib.sh (which gives T, BIN, fail and its cleanup).
#   lossy_mount NAME [LOSSYFS OPTIONS...]  serves $T/NAME.disk at $T/NAME
#   lossy_cut NAME                         the power cut: unmounts, which
#                                          makes lossyfs drop all that was
#                                          not synced, and waits for it
#   lossy_arm NAME                         starts the countdown of
#                                          -o cut_at (SIGUSR1)
# The report lossyfs prints at each cut goes to $T/NAME.lossyfs.log.
# At exit every mount still up is cut before the temp directory goes.
LOSSYFS=${LOSSYFS:-$BIN/tools/lossyfs}
LOSSY_UP=""
[ -x "$LOSSYFS" ] || fail "$LOSSYFS is not built (make $BIN/tools/lossyfs)"
command -v fusermount3 >/dev/null || fail "fusermount3 is missing (apt-get install fuse3)"

lossy_mounted() { mountpoint -q "$T/$1" 2>/dev/null; }

lossy_mount() { # NAME [OPTIONS...]
    name=$1
    shift
    mkdir -p "$T/$name.disk" "$T/$name"
    "$LOSSYFS" -f "$@" "$T/$name.disk" "$T/$name" 2>>"$T/$name.lossyfs.log" &
    eval "LOSSY_PID_$name=$!"
    LOSSY_UP="$LOSSY_UP $name"
    n=200
    while ! lossy_mounted "$name"; do
        kill -0 "$!" 2>/dev/null || { cat "$T/$name.lossyfs.log" >&2; fail "lossyfs for $name exited"; }
        n=$((n - 1)); [ $n -gt 0 ] || fail "lossyfs for $name did not mount"
        sleep 0.05
    done
}

lossy_cut() { # NAME
    name=$1
    eval "p=\$LOSSY_PID_$name"
    # Busy only while a killed process's files are still being closed.
    n=100
    while ! fusermount3 -u "$T/$name" 2>>"$T/$name.umount.err"; do
        n=$((n - 1)); [ $n -gt 0 ] || fail "cannot unmount $T/$name: $(tail -n 1 "$T/$name.umount.err")"
        sleep 0.1
    done
    wait "$p" 2>/dev/null || true
    LOSSY_UP=$(echo "$LOSSY_UP" | tr ' ' '\n' | grep -vx "$name" | tr '\n' ' ')
}

lossy_arm() { # NAME
    eval "kill -USR1 \$LOSSY_PID_$1"
}

# The last cut's report line for NAME.
lossy_report() { grep 'power cut' "$T/$1.lossyfs.log" | tail -n 1; }

lossy_cleanup() {
    # Whoever still has files open would keep the mount busy.
    for p in $PIDS $BROKER_PID; do
        pkill -9 -P "$p" 2>/dev/null || true
        kill -9 "$p" 2>/dev/null || true
    done
    for name in $LOSSY_UP; do
        n=20
        while ! fusermount3 -u "$T/$name" 2>/dev/null && [ $n -gt 0 ]; do
            sleep 0.1
            n=$((n - 1))
        done
        [ $n -gt 0 ] || fusermount3 -u -z "$T/$name" 2>/dev/null || true
        # Gone with its process, so nothing under T is left mounted.
        eval "kill \$LOSSY_PID_$name" 2>/dev/null || true
        eval "wait \$LOSSY_PID_$name" 2>/dev/null || true
    done
}
trap 'lossy_cleanup; cleanup' EXIT
