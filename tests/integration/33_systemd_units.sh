# 33: the systemd units in config/ are valid (systemd-analyze verify, with
# the binaries of this build in place of the installed ones) and keep the
# hardening that makes `systemd-analyze security` rate them "OK", and each
# starts its program on the installed config path. Both are Type=notify
# with a watchdog (the programs speak sd_notify, scenario 57).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops_lib.sh"
need_cmd systemd-analyze systemd
mkdir -p "$T/units"
for u in liaison-broker liaison-agent; do
    src="$ROOT/config/$u.service"
    [ -f "$src" ] || fail "config/$u.service is missing"
    sed "s|/usr/local/bin/|$BIN/|g" "$src" >"$T/units/$u.service"
    systemd-analyze verify "$T/units/$u.service" >"$T/verify.$u" 2>&1 || fail "$u: $(cat "$T/verify.$u")"
    [ ! -s "$T/verify.$u" ] || fail "$u: systemd-analyze verify complains: $(cat "$T/verify.$u")"
    systemd-analyze security --offline=yes "$T/units/$u.service" >"$T/sec.$u" 2>&1 || fail "$u: security: $(tail -n 3 "$T/sec.$u")"
    tail -n 1 "$T/sec.$u" | grep -q 'Overall exposure level.* OK' || fail "$u: exposure not OK: $(tail -n 1 "$T/sec.$u")"
    for k in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
        CapabilityBoundingSet= MemoryDenyWriteExecute=yes SystemCallFilter=@system-service \
        'ExecReload=/bin/kill -HUP $MAINPID' KillSignal=SIGTERM Type=notify WatchdogSec=30s; do
        grep -qx -- "$k" "$src" || fail "$u lacks $k"
    done
done
grep -qx 'ExecStart=/usr/local/bin/liaison-broker -c /etc/liaison/broker.cfg' "$ROOT/config/liaison-broker.service" ||
    fail "broker unit: unexpected ExecStart"
grep -qx 'ExecStart=/usr/local/bin/liaison-agent -c /etc/liaison-agent/agent.cfg' "$ROOT/config/liaison-agent.service" ||
    fail "agent unit: unexpected ExecStart"
echo "33 ok"
