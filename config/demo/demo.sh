#!/usr/bin/env bash
# demo.sh — `make demo`: a broker and four agencies on loopback, with fresh
# CURVE keys in a temporary directory. A police force (Humberside Police),
# its ROCU, MARSOC and a prison (HMP Hull) each run a liaison-agent with a
# spool directory and a dir: sink inbox. The sample alerts in
# config/demo/alerts/ are dropped into the prison's and the force's spools;
# the demo then shows, per agency, what it received, what came only as a
# sanitised notice and what was withheld (and why, from the labels), the
# files rejected with their .error, and the broker's queue state. It checks
# every outcome against the delivery rule and exits 1 on any surprise.
#
#   bash config/demo/demo.sh BUILD_DIR          run, show, stop everything
#   bash config/demo/demo.sh BUILD_DIR --up     leave it running to explore
#
# Bounded: every wait has a deadline well inside a minute, and on exit (even
# a failed one) every process it started is stopped. KEEP=1 keeps the
# temporary directory. Plain output for CI logs: no colours, no tput.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
UP=0
[ "${2:-}" = "--up" ] && UP=1
case $B in /*) BIN=$B ;; *) BIN=$ROOT/$B ;; esac
for p in liaison-broker liaison-agent liaisonctl; do
    [ -x "$BIN/$p" ] || { echo "demo: $BIN/$p is missing: run make first" >&2; exit 1; }
done
ALERTS=$ROOT/config/demo/alerts

D=$(mktemp -d "${TMPDIR:-/tmp}/liaison-demo.XXXXXX")
mkdir -p "$D/logs"
AGENCIES="humberside-police yorkshire-rocu marsoc hmp-hull"
PUBLISHERS="hmp-hull humberside-police"
BROKER_PID=""
AGENT_PIDS=""
DEADLINE=$((SECONDS + 45))
PROBLEMS=0

# ---- the four agencies, as broker.cfg will describe them ----------------------
declare -A DISPLAY=([humberside-police]="Humberside Police" [yorkshire-rocu]="Yorkshire and Humber ROCU"
    [marsoc]="MARSOC" [hmp-hull]="HMP Hull")
declare -A TYPE=([humberside-police]=police [yorkshire-rocu]=rocu [marsoc]=marsoc [hmp-hull]=prison)
declare -A REGION=([humberside-police]=yorkshire [yorkshire-rocu]=yorkshire [marsoc]=national [hmp-hull]=yorkshire)
declare -A CLEARANCE=([humberside-police]=SECRET [yorkshire-rocu]=SECRET [marsoc]=TOP-SECRET
    [hmp-hull]=OFFICIAL-SENSITIVE)
declare -A CAVEATS=([humberside-police]="" [yorkshire-rocu]="PRISON-INTEL"
    [marsoc]="PRISON-INTEL OP-NIGHTJAR UK-EYES-ONLY" [hmp-hull]="PRISON-INTEL")
declare -A ROLES=([humberside-police]='"publisher", "receiver"' [yorkshire-rocu]='"publisher", "receiver"'
    [marsoc]='"receiver"' [hmp-hull]='"publisher", "receiver"')
declare -A PUBLISH=([humberside-police]='"alert.yorkshire.humberside-police.>"'
    [yorkshire-rocu]='"alert.yorkshire.yorkshire-rocu.>", "national.>"' [marsoc]=''
    [hmp-hull]='"alert.yorkshire.hmp-hull.>"')
declare -A SUBSCRIBE=([humberside-police]='"alert.yorkshire.>", "national.>"'
    [yorkshire-rocu]='"alert.yorkshire.>", "national.>"' [marsoc]='"alert.>", "national.>"'
    [hmp-hull]='"alert.yorkshire.>", "national.prisons.>"')
declare -A CONTACT=([humberside-police]="Humberside Police FIB, 01482 000000"
    [yorkshire-rocu]="Yorkshire and Humber ROCU intelligence desk"
    [marsoc]="MARSOC duty officer" [hmp-hull]="HMP Hull security department")
# What each agent subscribes to (its agent.cfg), within its permissions.
declare -A PATTERN=([humberside-police]="alert.yorkshire.>" [yorkshire-rocu]="alert.yorkshire.>"
    [marsoc]="alert.>" [hmp-hull]="alert.yorkshire.>")

say() { printf '%s\n' "$*"; }
problem() {
    say "  !! $*"
    PROBLEMS=$((PROBLEMS + 1))
}

# ---- stopping ------------------------------------------------------------------
# stop_pid PID NAME: SIGTERM, then up to 10 s for a clean exit, then SIGKILL.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 1 200); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -9 "$1" 2>/dev/null
        problem "$2 did not stop within 10 s and was killed"
    fi
    wait "$1" 2>/dev/null
    rc=$?
    [ "$rc" -eq 0 ] || problem "$2 exited with status $rc"
}

stop_all() {
    for p in $AGENT_PIDS; do stop_pid "${p%%:*}" "liaison-agent ${p#*:}"; done
    AGENT_PIDS=""
    [ -n "$BROKER_PID" ] && stop_pid "$BROKER_PID" liaison-broker
    BROKER_PID=""
}

on_exit() {
    if [ "$UP" = 1 ] && [ "$PROBLEMS" -eq 0 ] && [ "${DEMO_DONE:-0}" = 1 ]; then
        return
    fi
    for p in $AGENT_PIDS; do kill -9 "${p%%:*}" 2>/dev/null; done
    [ -n "$BROKER_PID" ] && kill -9 "$BROKER_PID" 2>/dev/null
    wait 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then say "kept $D"; else rm -rf "$D"; fi
}
trap on_exit EXIT
trap 'exit 1' INT TERM

# wait_until SECONDS COMMAND...: polls COMMAND, bounded by SECONDS and by the
# demo's overall deadline. A safety net, not a measurement.
wait_until() {
    local limit=$((SECONDS + $1))
    shift
    [ $limit -gt $DEADLINE ] && limit=$DEADLINE
    until "$@"; do
        [ $SECONDS -lt $limit ] || return 1
        sleep 0.05
    done
}

# ---- reading labels and deliveries -----------------------------------------------
# Sample files hold one key per line; delivered files are one compact line.
jstr() { sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p" "$1" | head -n 1; }
jarr() { sed -n "s/.*\"$2\": *\[\([^]]*\)\].*/\1/p" "$1" | head -n 1 | tr -d '" ' | tr ',' ' '; }
jnum() { sed -n "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p" "$1" | head -n 1; }

rank() {
    case $1 in
    OFFICIAL) echo 1 ;; OFFICIAL-SENSITIVE) echo 2 ;; SECRET) echo 3 ;; TOP-SECRET | "TOP SECRET") echo 4 ;;
    *) echo 9 ;;
    esac
}

# topic_match PATTERN TOPIC: '*' one token, a final '>' the rest.
topic_match() {
    local re
    re=$(printf '%s' "$1" | sed 's/\./\\./g; s/\*/[^.]+/g; s/>$/.+/')
    printf '%s\n' "$2" | grep -Eq "^$re\$"
}

# expect AGENCY SAMPLE: what the delivery rule (docs/design.md, broker/policy.c)
# gives this agency for this message, in the rule's own order: "" (not
# subscribed), "withheld|why", "notice|why" (notices are on for alert.>) or
# "received".
expect() {
    local a=$1 f=$2 topic cls cav r ok
    topic=$(jstr "$f" topic)
    topic_match "${PATTERN[$a]}" "$topic" || { echo ""; return; }
    local rel
    rel=$(jarr "$f" release_to)
    if [ -n "$rel" ]; then
        ok=0
        for r in $rel; do
            case $r in
            agency:$a | type:${TYPE[$a]} | region:${REGION[$a]}) ok=1 ;;
            esac
        done
        [ $ok = 1 ] || { echo "withheld|release_to [$rel] does not name it"; return; }
    fi
    cls=$(jstr "$f" classification)
    if [ "$(rank "$cls")" -gt "$(rank "${CLEARANCE[$a]}")" ]; then
        echo "notice|$cls is above its clearance ${CLEARANCE[$a]}"
        return
    fi
    for cav in $(jarr "$f" caveats); do
        case " ${CAVEATS[$a]} " in
        *" $cav "*) ;;
        *) echo "notice|it does not hold caveat $cav"; return ;;
        esac
    done
    echo "received"
}

# ---- keys and configs ---------------------------------------------------------------
for n in broker ops $AGENCIES; do
    "$BIN/liaisonctl" keygen "$n" --dir "$D/keys" >/dev/null || { echo "demo: keygen $n failed" >&2; exit 1; }
done

write_configs() { # PORT
    {
        echo "# broker.cfg written by config/demo/demo.sh"
        echo "broker = { listen = \"tcp://127.0.0.1:$1\"; secret_key = \"keys/broker.key\";"
        echo "  data_dir = \"data/broker\"; map_size_mb = 64; metrics = \"\"; heartbeat_ms = 1000;"
        echo "  notices = [ \"alert.>\" ]; };"
        echo "agents = ("
        for a in $AGENCIES; do
            local cav=""
            for c in ${CAVEATS[$a]}; do cav="$cav${cav:+, }\"$c\""; done
            echo "  { name = \"$a\"; agency = \"${DISPLAY[$a]}\"; type = \"${TYPE[$a]}\"; region = \"${REGION[$a]}\";"
            echo "    public_key = \"keys/$a.pub\"; clearance = \"${CLEARANCE[$a]}\"; caveats = [ $cav ];"
            echo "    roles = [ ${ROLES[$a]} ]; publish = [ ${PUBLISH[$a]} ]; subscribe = [ ${SUBSCRIBE[$a]} ];"
            echo "    contact = \"${CONTACT[$a]}\"; },"
        done
        echo "  { name = \"ops\"; agency = \"MARSOC operations\"; type = \"marsoc\"; region = \"national\";"
        echo "    public_key = \"keys/ops.pub\"; clearance = \"OFFICIAL\"; roles = [ \"operator\" ]; }"
        echo ");"
    } >"$D/broker.cfg"
    for a in $AGENCIES ops; do
        {
            echo "# $a.cfg written by config/demo/demo.sh (read by liaison-agent and liaisonctl)"
            echo "agent = { name = \"$a\"; broker = \"tcp://127.0.0.1:$1\"; broker_public_key = \"keys/broker.pub\";"
            echo "  secret_key = \"keys/$a.key\"; data_dir = \"data/$a\"; heartbeat_ms = 1000;"
            [ "$a" = ops ] || echo "  spool = \"spool/$a\";"
            echo "};"
            [ "$a" = ops ] || echo "subscriptions = ( { name = \"feed\"; pattern = \"${PATTERN[$a]}\"; sink = \"dir:inbox/$a\"; } );"
        } >"$D/$a.cfg"
    done
}

# ---- start --------------------------------------------------------------------------
say "Liaison demo: a broker and four agencies on loopback"
say "  work directory $D"
PORT=""
for attempt in 1 2 3 4 5; do
    PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000))
    write_configs "$PORT"
    : >"$D/logs/broker.log"
    # Not attached to our stdout: with --up they outlive this script, and a
    # caller reading its output (make, tee, CI) must see it end.
    "$BIN/liaison-broker" -c "$D/broker.cfg" </dev/null >/dev/null 2>>"$D/logs/broker.log" &
    BROKER_PID=$!
    if wait_until 10 grep -q 'event=listening\|event=startup_failed' "$D/logs/broker.log" &&
        grep -q 'event=listening' "$D/logs/broker.log"; then
        break
    fi
    kill -9 "$BROKER_PID" 2>/dev/null
    wait "$BROKER_PID" 2>/dev/null
    BROKER_PID=""
    [ "$attempt" = 5 ] && { say "demo: the broker did not start:"; tail -n 5 "$D/logs/broker.log"; exit 1; }
done
say "  liaison-broker listening on tcp://127.0.0.1:$PORT (pid $BROKER_PID), sanitised notices on for alert.>"

for a in $AGENCIES; do
    "$BIN/liaison-agent" -c "$D/$a.cfg" </dev/null >"$D/logs/$a.stdout" 2>"$D/logs/$a.log" &
    AGENT_PIDS="$AGENT_PIDS $!:$a"
done
for a in $AGENCIES; do
    wait_until 15 grep -q 'event=subscribed sub=feed' "$D/logs/$a.log" ||
        { say "demo: agent $a did not subscribe:"; tail -n 5 "$D/logs/$a.log"; exit 1; }
done
say "  liaison-agent running for: $AGENCIES"
say "  each with spool/NAME/ (source) and inbox/NAME/ (dir: sink), subscribed to its feed"
say ""

# ---- drop the sample alerts -------------------------------------------------------
say "Sample alerts dropped into the spools (written under a hidden name, renamed in):"
for p in $PUBLISHERS; do
    for f in "$ALERTS/$p"/*.json; do
        n=$(basename "$f")
        cp "$f" "$D/spool/$p/.$n.tmp" && mv "$D/spool/$p/.$n.tmp" "$D/spool/$p/$n"
        cav=$(jarr "$f" caveats)
        rel=$(jarr "$f" release_to)
        printf '  %-18s %-24s %-19s %s%s\n' "$p" "$n" "$(jstr "$f" classification)" \
            "${cav:+[$cav] }" "${rel:+release_to [$rel]}"
    done
done

settled() { # PUBLISHER FILE: published, or rejected by the agent or the broker
    local id
    id=$(jstr "$2" msg_id)
    [ -f "$D/spool/$1/rejected/$(basename "$2")" ] ||
        grep -q "event=published msg_id=$id " "$D/logs/$1.log"
}
for p in $PUBLISHERS; do
    for f in "$ALERTS/$p"/*.json; do
        wait_until 20 settled "$p" "$f" || problem "$(basename "$f") from $p was neither published nor rejected"
    done
done
# A last OFFICIAL alert everyone receives: deliveries come in sequence
# order, so once it is in every inbox, everything before it has been
# delivered or withheld.
END_ID="demo-end-$$"
printf '{ "topic": "alert.yorkshire.humberside-police.demo-end", "msg_id": "%s", "classification": "OFFICIAL",\n  "grading": "1A", "handling": "P", "risk": "LOW", "content_type": "text/plain", "body": "end of the demo" }\n' \
    "$END_ID" >"$D/spool/humberside-police/.end.tmp"
mv "$D/spool/humberside-police/.end.tmp" "$D/spool/humberside-police/99-demo-end.json"
has_end() { grep -lq "\"msg_id\":\"$END_ID\"" "$D/inbox/$1"/*.json 2>/dev/null; }
for a in $AGENCIES; do
    wait_until 20 has_end "$a" || problem "$a did not receive the end-of-demo marker"
done
say ""

# ---- what was published ---------------------------------------------------------------
declare -A SEQ=()
say "Published (each PubAck came after the broker's fsync):"
for p in $PUBLISHERS; do
    for f in "$ALERTS/$p"/*.json; do
        id=$(jstr "$f" msg_id)
        s=$(sed -n "s/.*event=published msg_id=$id seq=\([0-9]*\).*/\1/p" "$D/logs/$p.log" | head -n 1)
        [ -n "$s" ] || continue
        SEQ[$id]=$s
        printf '  seq %-3s %-17s from %-18s %s\n' "$s" "$id" "$p" "$(jstr "$f" topic)"
    done
done | sort -n -k2
end_seq=$(sed -n "s/.*event=published msg_id=$END_ID seq=\([0-9]*\).*/\1/p" "$D/logs/humberside-police.log")
say "  seq ${end_seq:-?}   and an OFFICIAL end-of-demo marker every agency receives (not shown below)"
for p in $PUBLISHERS; do
    for f in "$ALERTS/$p"/*.json; do
        id=$(jstr "$f" msg_id)
        s=$(sed -n "s/.*event=published msg_id=$id seq=\([0-9]*\).*/\1/p" "$D/logs/$p.log" | head -n 1)
        [ -n "$s" ] && SEQ[$id]=$s
    done
done
say ""

say "Rejected, with the .error the agent wrote beside each file:"
for p in $PUBLISHERS; do
    for e in "$D/spool/$p/rejected"/*.error; do
        [ -f "$e" ] || continue
        printf '  %s/rejected/%s\n' "$p" "$(basename "$e")"
        sed 's/^/      /' "$e"
    done
done
for want in "hmp-hull/04-old-marking.json:liaison-agent" "humberside-police/03-wrong-topic.json:broker"; do
    e="$D/spool/${want%%/*}/rejected/$(basename "${want%%:*}").error"
    grep -q "rejected_by: ${want#*:}" "$e" 2>/dev/null || problem "${want%%:*} was not rejected by ${want#*:}"
done
say ""

# ---- per agency: received, notices, withheld ------------------------------------------
for a in $AGENCIES; do
    say "${DISPLAY[$a]} ($a: ${TYPE[$a]}, ${REGION[$a]}; clearance ${CLEARANCE[$a]}; caveats ${CAVEATS[$a]:-none}; subscribed to ${PATTERN[$a]})"
    declare -A GOT=()
    for f in "$D/inbox/$a"/*.json; do
        [ -f "$f" ] || continue
        id=$(jstr "$f" msg_id)
        if grep -q '"notice":true' "$f"; then GOT[$id]="notice|$f"; else GOT[$id]="received|$f"; fi
    done
    lines=""
    for p in $PUBLISHERS; do
        for f in "$ALERTS/$p"/*.json; do
            id=$(jstr "$f" msg_id)
            s=${SEQ[$id]:-}
            [ -n "$s" ] || continue # never published
            want=$(expect "$a" "$f")
            [ -n "$want" ] || continue # outside its subscription
            got=${GOT[$id]:-withheld|}
            own=""
            [ "$p" = "$a" ] && own=" (its own)"
            case ${got%%|*} in
            received)
                line=$(printf 'received  seq %-3s %-17s %-19s risk %-6s "%s"%s' "$s" "$id" \
                    "$(jstr "$f" classification)" "$(jstr "$f" risk)" "$(jstr "$f" body)" "$own")
                ;;
            notice)
                nf=${got#*|}
                line=$(printf 'notice    seq %-3s %-17s %s, risk %s, %s subject(s), ask "%s" (%s)' "$s" "$id" \
                    "$(jstr "$nf" topic)" "$(jstr "$nf" risk)" "$(jnum "$nf" subject_count)" \
                    "$(jstr "$nf" contact)" "${want#*|}")
                ;;
            *)
                line=$(printf 'withheld  seq %-3s %-17s %s: %s%s' "$s" "$id" "$(jstr "$f" topic)" \
                    "${want#*|}" "$own")
                ;;
            esac
            [ "${got%%|*}" = "${want%%|*}" ] || line="$line   !! expected ${want%%|*}"
            [ "${got%%|*}" = "${want%%|*}" ] || PROBLEMS=$((PROBLEMS + 1))
            lines="$lines$s $line"$'\n'
            unset "GOT[$id]"
        done
    done
    printf '%s' "$lines" | sort -n | cut -d' ' -f2- | sed 's/^/  /'
    unset "GOT[$END_ID]"
    for id in "${!GOT[@]}"; do problem "$a received $id, which it should not have"; done
    unset GOT
    say ""
done

say "Queue state (liaisonctl -c ops.cfg status):"
if "$BIN/liaisonctl" -c "$D/ops.cfg" status >"$D/status.out" 2>&1; then
    sed 's/^/  /' "$D/status.out"
else
    sed 's/^/  /' "$D/status.out"
    problem "liaisonctl status failed"
fi
say ""

if [ "$UP" = 1 ] && [ "$PROBLEMS" -eq 0 ]; then
    {
        echo "#!/bin/sh"
        echo "# Stops the demo started by config/demo/demo.sh --up and removes its directory."
        echo "# Agents first (they drain), then the broker; each given up to 10 s."
        echo "stop() { kill -TERM \"\$1\" 2>/dev/null || return 0"
        echo "  i=0; while kill -0 \"\$1\" 2>/dev/null && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done"
        echo "  kill -9 \"\$1\" 2>/dev/null; return 0; }"
        for p in $AGENT_PIDS; do echo "stop ${p%%:*}"; done
        echo "stop $BROKER_PID"
        echo "rm -rf '$D'"
        echo "echo 'liaison demo stopped'"
    } >"$D/stop.sh"
    DEMO_DONE=1
    say "Still running. Things to try:"
    say "  cp config/demo/alerts/hmp-hull/03-visits.json $D/spool/hmp-hull/again.json   (a duplicate: not published twice)"
    say "  ls $D/inbox/*/ $D/spool/*/done $D/spool/*/rejected"
    say "  $BIN/liaisonctl -c $D/ops.cfg status"
    say "  $BIN/liaisonctl -c $D/yorkshire-rocu.cfg sub 'alert.yorkshire.>' --from-seq 1 --count 3"
    say "  logs: $D/logs/"
    say "To stop it: sh $D/stop.sh"
    exit 0
fi

stop_all
if [ "$PROBLEMS" -eq 0 ]; then
    say "All four agencies got exactly what the delivery rule allows; stopped cleanly."
    exit 0
fi
say "demo: $PROBLEMS problem(s); logs were in $D/logs (run with KEEP=1 to keep them)"
for f in "$D"/logs/*.log; do
    say "--- $(basename "$f") (tail)"
    tail -n 8 "$f"
done
exit 1
