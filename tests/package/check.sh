#!/usr/bin/env bash
# check.sh — the Debian packages as an admin meets them: installs the .debs
# that `make deb` built (apt-get install ./...deb), checks what their
# postinst scripts made (users, /etc directories and key modes, state
# directories, units enabled but not running), writes a broker config
# under /etc/liaison and an agent config under /etc/liaison-agent around the
# generated keys, starts the installed broker and agent as their system
# users, publishes one message through the agent's spool and receives it
# with the installed liaisonctl, runs systemd-analyze verify on the
# installed units, then purges the packages and removes what a purge
# deliberately keeps (the store, the outbox, the spool, the users).
#
#   bash tests/package/check.sh DEB_DIR      (make package-check)
#
# Root only, and only on a machine where Liaison is not installed already:
# otherwise it says why and exits 0 without touching anything. Whatever
# happens, the exit trap stops what it started and purges what it
# installed, so the machine is as it was for the tests that follow.
# CI runs it after `make test` (.ci/run), not inside it: a developer's
# `make test` should not install system packages and create users.
set -u

DEBS=$(cd "${1:-build/deb}" 2>/dev/null && pwd) || { echo "package check: no ${1:-build/deb}" >&2; exit 1; }
skip() {
    echo "package check skipped: $*"
    exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root (it installs packages and creates system users)"
command -v dpkg >/dev/null && command -v apt-get >/dev/null || skip "not a Debian system"
for p in liaison-broker liaison-agent liaison-tools; do
    if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        skip "$p is already installed here; not touching it"
    fi
done
for u in liaison liaison-agent; do
    getent passwd "$u" >/dev/null && skip "user $u exists already; not touching it"
done
for d in /etc/liaison /etc/liaison-agent /var/lib/liaison /var/lib/liaison-agent /var/spool/liaison-agent; do
    [ -e "$d" ] && skip "$d exists already; not touching it"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/liaison-pkg.XXXXXX")
chmod 0755 "$T"
BROKER_PID=""
AGENT_PID=""
INSTALLED=0
FAILED=0

say() { printf '%s\n' "$*"; }
fail() {
    say "FAIL: $*"
    FAILED=1
    exit 1
}
ok() { say "  ok  $*"; }

cleanup() {
    for p in $AGENT_PID $BROKER_PID; do
        kill -TERM "$p" 2>/dev/null && sleep 1
        kill -9 "$p" 2>/dev/null
    done
    # A safety net: the users did not exist before this run (checked
    # above), so whatever still runs as them was started here.
    for u in liaison-agent liaison; do
        getent passwd "$u" >/dev/null || continue
        for p in $(pgrep -u "$u"); do kill -9 "$p" 2>/dev/null; done
    done
    if [ "$INSTALLED" = 1 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq liaison-agent liaison-broker liaison-tools \
            >"$T/purge.log" 2>&1 || { say "purge failed:"; cat "$T/purge.log"; }
    fi
    # What the purge keeps on purpose (debian/*.postrm): gone here, since
    # this script made it.
    rm -rf /etc/liaison /etc/liaison-agent /var/lib/liaison /var/lib/liaison-agent /var/spool/liaison-agent
    for u in liaison-agent liaison; do
        if getent passwd "$u" >/dev/null; then userdel "$u" || say "could not remove user $u"; fi
        if getent group "$u" >/dev/null; then groupdel "$u" || say "could not remove group $u"; fi
    done
    if [ "$FAILED" = 1 ]; then
        for f in "$T"/*.log; do
            [ -f "$f" ] || continue
            say "--- $(basename "$f") (tail)"
            tail -n 15 "$f"
        done
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# mode_owner PATH: "0750 root:liaison"
mode_owner() { stat -c '%04a %U:%G' "$1"; }
want_mode() { # PATH "MODE USER:GROUP"
    local got
    got=$(mode_owner "$1" 2>/dev/null) || fail "$1 is missing"
    [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
    ok "$1 $got"
}
# wait_for SECONDS COMMAND...
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.1
    done
}

# ---- install ---------------------------------------------------------------------
say "package check: installing the packages from $DEBS"
debs=""
for p in liaison-tools liaison-broker liaison-agent; do
    f=$(ls "$DEBS"/${p}_*.deb 2>/dev/null | head -n 1)
    [ -n "$f" ] || fail "no ${p}_*.deb in $DEBS (make deb)"
    debs="$debs $f"
done
INSTALLED=1
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $debs >"$T/install.log" 2>&1 ||
    fail "apt-get install failed: $(tail -n 5 "$T/install.log")"
ok "installed:$(for f in $debs; do printf ' %s' "$(basename "$f")"; done)"

# ---- what the postinst scripts made -------------------------------------------------
for u in liaison liaison-agent; do
    getent passwd "$u" >/dev/null || fail "no system user $u"
    [ "$(getent passwd "$u" | cut -d: -f7)" = /usr/sbin/nologin ] || fail "$u can log in"
done
ok "system users liaison and liaison-agent (no login shell)"
want_mode /etc/liaison "0750 root:liaison"
want_mode /etc/liaison/keys "0750 root:liaison"
# The broker warns about a secret key file with any group or other bit set
# (common/keys.c); the package must make what it accepts.
want_mode /etc/liaison/keys/broker.key "0600 liaison:liaison"
want_mode /etc/liaison/keys/broker.pub "0644 root:root"
want_mode /var/lib/liaison "0700 liaison:liaison"
want_mode /etc/liaison-agent/keys "0750 root:liaison-agent"
want_mode /etc/liaison-agent/keys/agent.key "0600 liaison-agent:liaison-agent"
want_mode /var/lib/liaison-agent "0700 liaison-agent:liaison-agent"
want_mode /var/spool/liaison-agent/out "2770 liaison-agent:liaison-agent"
for u in liaison-broker liaison-agent; do
    [ -f "/lib/systemd/system/$u.service" ] || fail "$u.service is not installed"
    [ -L "/etc/systemd/system/multi-user.target.wants/$u.service" ] || fail "$u.service is not enabled"
    grep -qx "ExecStart=/usr/bin/$u -c .*" "/lib/systemd/system/$u.service" || fail "$u.service does not start /usr/bin/$u"
    doc=$(sed -n 's|^Documentation=file://||p' "/lib/systemd/system/$u.service")
    [ -f "$doc" ] || fail "$u.service documents $doc, which is not installed"
done
ok "units installed and enabled; their Documentation= files are installed"
# By user, not by name: other brokers may be running on this machine.
if pgrep -u liaison >/dev/null || pgrep -u liaison-agent >/dev/null; then
    fail "the package started a broker or an agent before it was configured"
fi
ok "nothing started before the admin wrote a config"
for m in man1/liaison-broker.1 man5/broker.cfg.5 man1/liaison-agent.1 man5/agent.cfg.5 man1/liaisonctl.1; do
    [ -f "/usr/share/man/$m.gz" ] || fail "/usr/share/man/$m.gz is missing"
done
[ -f /usr/share/doc/liaison/examples/broker.cfg ] || fail "no example broker.cfg"
ok "man pages and examples in place"

# ---- systemd-analyze verify on the installed units -------------------------------------
if command -v systemd-analyze >/dev/null; then
    for u in liaison-broker liaison-agent; do
        systemd-analyze verify "/lib/systemd/system/$u.service" >"$T/verify-$u.log" 2>&1 ||
            fail "systemd-analyze verify $u.service: $(cat "$T/verify-$u.log")"
        [ ! -s "$T/verify-$u.log" ] || fail "systemd-analyze verify $u.service: $(cat "$T/verify-$u.log")"
    done
    ok "systemd-analyze verify: both installed units clean"
else
    say "  --  systemd-analyze is not installed: units not verified"
fi

# ---- configure: a broker, the packaged agent, and a receiver for liaisonctl ------------
mkdir -p "$T/keys"
liaisonctl keygen reader --dir "$T/keys" >/dev/null || fail "liaisonctl keygen failed"
install -m 0644 "$T/keys/reader.pub" /etc/liaison/keys/reader.pub
install -m 0644 /etc/liaison-agent/keys/agent.pub /etc/liaison/keys/agent.pub
cp /etc/liaison/keys/broker.pub /etc/liaison-agent/keys/broker.pub

write_configs() { # PORT
    cat >/etc/liaison/broker.cfg <<EOF
# Written by tests/package/check.sh.
broker = { listen = "tcp://127.0.0.1:$1"; secret_key = "keys/broker.key";
  data_dir = "/var/lib/liaison/broker"; map_size_mb = 16; metrics = ""; heartbeat_ms = 1000; };
agents = (
  { name = "agent"; agency = "Package check"; type = "police"; region = "test";
    public_key = "keys/agent.pub"; clearance = "OFFICIAL"; roles = [ "publisher" ];
    publish = [ "alert.check.>" ]; },
  { name = "reader"; agency = "Package check"; type = "rocu"; region = "test";
    public_key = "keys/reader.pub"; clearance = "OFFICIAL"; roles = [ "receiver" ];
    subscribe = [ "alert.check.>" ]; }
);
EOF
    chown root:liaison /etc/liaison/broker.cfg
    chmod 0640 /etc/liaison/broker.cfg
    cat >/etc/liaison-agent/agent.cfg <<EOF
# Written by tests/package/check.sh.
agent = { name = "agent"; broker = "tcp://127.0.0.1:$1"; broker_public_key = "keys/broker.pub";
  secret_key = "keys/agent.key"; data_dir = "/var/lib/liaison-agent/outbox";
  spool = "/var/spool/liaison-agent/out"; heartbeat_ms = 1000; };
EOF
    chown root:liaison-agent /etc/liaison-agent/agent.cfg
    chmod 0640 /etc/liaison-agent/agent.cfg
    cat >"$T/reader.cfg" <<EOF
agent = { name = "reader"; broker = "tcp://127.0.0.1:$1"; broker_public_key = "/etc/liaison/keys/broker.pub";
  secret_key = "keys/reader.key"; data_dir = "data"; };
EOF
}

# The unit's ExecStartPre, then its ExecStart, as its User= and Group=.
# setpriv execs the program, and a backgrounded simple command is the
# program itself, so $! below is the broker's pid (not a shell's, nor a
# runuser that would answer SIGTERM on its own).
for attempt in 1 2 3 4 5; do
    PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000))
    write_configs "$PORT"
    setpriv --reuid=liaison --regid=liaison --init-groups /usr/bin/liaison-broker -c /etc/liaison/broker.cfg --check-config \
        >"$T/check-config.log" 2>&1 || fail "liaison-broker --check-config: $(cat "$T/check-config.log")"
    : >"$T/broker.log"
    setpriv --reuid=liaison --regid=liaison --init-groups /usr/bin/liaison-broker -c /etc/liaison/broker.cfg </dev/null >/dev/null 2>"$T/broker.log" &
    BROKER_PID=$!
    if wait_for 10 grep -q 'event=listening\|event=startup_failed' "$T/broker.log" &&
        grep -q 'event=listening' "$T/broker.log"; then
        break
    fi
    kill -9 "$BROKER_PID" 2>/dev/null
    wait "$BROKER_PID" 2>/dev/null
    BROKER_PID=""
    [ "$attempt" = 5 ] && fail "the installed broker did not start"
done
ok "installed broker listening on 127.0.0.1:$PORT as user liaison"
if grep -q 'event=key_file_mode' "$T/broker.log"; then
    fail "the broker warns about the packaged key's mode: $(grep event=key_file_mode "$T/broker.log")"
fi
ok "no key mode warning from the broker"

: >"$T/agent.log"
setpriv --reuid=liaison-agent --regid=liaison-agent --init-groups /usr/bin/liaison-agent -c /etc/liaison-agent/agent.cfg </dev/null >/dev/null 2>"$T/agent.log" &
AGENT_PID=$!
wait_for 15 grep -q 'event=connected' "$T/agent.log" || fail "the installed agent did not connect"
grep -q 'event=key_file_mode' "$T/agent.log" && fail "the agent warns about the packaged key's mode"
ok "installed agent connected as user liaison-agent"

# ---- publish one message through the spool, receive it with liaisonctl ---------------
ID="pkg-check-$$"
printf '{ "topic": "alert.check.package", "msg_id": "%s", "classification": "OFFICIAL", "grading": "1A",\n  "handling": "P", "risk": "LOW", "content_type": "text/plain", "body": "installed and working" }\n' \
    "$ID" >/var/spool/liaison-agent/out/.check.tmp
mv /var/spool/liaison-agent/out/.check.tmp /var/spool/liaison-agent/out/check.json
wait_for 15 grep -q "event=published msg_id=$ID " "$T/agent.log" || fail "the agent did not publish the spooled file"
ok "published through the agent's spool: $(grep -o "event=published msg_id=$ID seq=[0-9]*" "$T/agent.log")"
(cd "$T" && liaisonctl -c reader.cfg sub 'alert.check.>' --from-seq 1 --count 1 --timeout 15) >"$T/sub.out" 2>"$T/sub.log" ||
    fail "liaisonctl sub failed: $(cat "$T/sub.log")"
grep -q "\"msg_id\":\"$ID\"" "$T/sub.out" && grep -q '"body":"installed and working"' "$T/sub.out" ||
    fail "liaisonctl sub did not print the message: $(cat "$T/sub.out")"
ok "received with liaisonctl: $(cut -c1-90 "$T/sub.out")..."

# ---- stop (as systemctl stop would: SIGTERM, clean exit), verify the trail ----------------
for p in agent:$AGENT_PID broker:$BROKER_PID; do
    kill -TERM "${p#*:}"
    wait "${p#*:}"
    rc=$?
    [ "$rc" -eq 0 ] || fail "the ${p%%:*} exited with status $rc on SIGTERM"
done
AGENT_PID=""
BROKER_PID=""
ok "agent and broker stopped cleanly on SIGTERM"
liaisonctl audit verify --data-dir /var/lib/liaison/broker >"$T/verify.log" 2>&1 ||
    fail "audit verify: $(cat "$T/verify.log")"
ok "audit verify: $(tail -n 1 "$T/verify.log")"

# ---- purge --------------------------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq liaison-agent liaison-broker liaison-tools >"$T/purge.log" 2>&1 ||
    fail "apt-get purge failed: $(tail -n 5 "$T/purge.log")"
INSTALLED=0
for f in /usr/bin/liaison-broker /usr/bin/liaison-agent /usr/bin/liaisonctl /lib/systemd/system/liaison-broker.service \
    /etc/systemd/system/multi-user.target.wants/liaison-broker.service /etc/liaison /etc/liaison-agent; do
    [ ! -e "$f" ] && [ ! -L "$f" ] || fail "$f is still there after the purge"
done
[ -d /var/lib/liaison/broker ] || fail "the purge removed the broker's store (it must keep the audit trail)"
ok "purged: programs, units, enablement and /etc gone; the store kept, as documented"
say "package check ok"
