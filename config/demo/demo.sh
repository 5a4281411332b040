#!/usr/bin/env bash
# demo.sh — `make demo`: a broker and four agencies on loopback, with fresh
# CURVE keys in a temporary directory. A police force (Humberside Police),
# its ROCU, MARSOC and a prison (HMP Hull) each run a liaison-agent with a
# spool directory and a dir: sink inbox. The sample alerts in
# config/demo/alerts/ are dropped into the prison's and the force's spools;
# the demo then shows, per agency, what it received, what came only as a
# sanitised notice and what was withheld, with the broker's own reason: the
# rule its audit trail recorded, read back by an auditor identity the demo
# creates (`liaisonctl audit export`); the files rejected with the .error
# the agent wrote (the broker's refusal code, or the label check's text);
# the queue state; the audit trail's verification; and the status page and
# metrics on loopback. It checks that every agency's inbox agrees with the
# broker's disclosure records and exits 1 on any surprise. There is no copy
# of the delivery rule here: the broker (broker/policy.c) is the only judge.
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

# The audit records the demo reads: one compact JSON object per line.
# rec_str LINE KEY / rec_num LINE KEY set REC to the value ("" if absent).
rec_str() {
    REC=""
    [[ $1 =~ \"$2\":\"([^\"]*)\" ]] && REC=${BASH_REMATCH[1]}
    return 0
}
rec_num() {
    REC=""
    [[ $1 =~ \"$2\":([0-9]+) ]] && REC=${BASH_REMATCH[1]}
    return 0
}

# explain RULE AGENCY SAMPLE: the broker's rule name, and the facts of the
# label and of the agency's configuration that it points at. The decision
# itself is the broker's; this only says what the named rule looked at.
explain() {
    local rule=$1 a=$2 f=$3 c missing=""
    case $rule in
    release_to) echo "rule $rule: released to [$(jarr "$f" release_to)] only" ;;
    clearance) echo "rule $rule: $(jstr "$f" classification) is above its clearance ${CLEARANCE[$a]}" ;;
    caveat)
        for c in $(jarr "$f" caveats); do
            case " ${CAVEATS[$a]} " in *" $c "*) ;; *) missing="$missing${missing:+, }$c" ;; esac
        done
        echo "rule $rule: it does not hold $missing"
        ;;
    *) echo "rule $rule" ;;
    esac
}

# ---- keys and configs ---------------------------------------------------------------
for n in broker ops audit $AGENCIES; do
    "$BIN/liaisonctl" keygen "$n" --dir "$D/keys" >/dev/null || { echo "demo: keygen $n failed" >&2; exit 1; }
done

write_configs() { # PORT METRICS_PORT
    {
        echo "# broker.cfg written by config/demo/demo.sh"
        echo "broker = { listen = \"tcp://127.0.0.1:$1\"; secret_key = \"keys/broker.key\";"
        echo "  data_dir = \"data/broker\"; map_size_mb = 64; metrics = \"127.0.0.1:$2\"; heartbeat_ms = 1000;"
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
        echo "    public_key = \"keys/ops.pub\"; clearance = \"OFFICIAL\"; roles = [ \"operator\" ]; },"
        echo "  { name = \"audit\"; agency = \"MARSOC audit\"; type = \"marsoc\"; region = \"national\";"
        echo "    public_key = \"keys/audit.pub\"; clearance = \"OFFICIAL\"; roles = [ \"auditor\" ]; }"
        echo ");"
    } >"$D/broker.cfg"
    for a in $AGENCIES ops audit; do
        {
            echo "# $a.cfg written by config/demo/demo.sh (read by liaison-agent and liaisonctl)"
            echo "agent = { name = \"$a\"; broker = \"tcp://127.0.0.1:$1\"; broker_public_key = \"keys/broker.pub\";"
            echo "  secret_key = \"keys/$a.key\"; data_dir = \"data/$a\"; heartbeat_ms = 1000;"
            case $a in ops | audit) ;; *) echo "  spool = \"spool/$a\";" ;; esac
            echo "};"
            case $a in ops | audit) continue ;; esac
            echo "subscriptions = ( { name = \"feed\"; pattern = \"${PATTERN[$a]}\"; sink = \"dir:inbox/$a\"; } );"
        } >"$D/$a.cfg"
    done
}

# ---- start --------------------------------------------------------------------------
say "Liaison demo: a broker and four agencies on loopback"
say "  work directory $D"
PORT=""
for attempt in 1 2 3 4 5; do
    PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000))
    MPORT=$((PORT + 1))
    write_configs "$PORT" "$MPORT"
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
say "  status page http://127.0.0.1:$MPORT/ and Prometheus metrics http://127.0.0.1:$MPORT/metrics (loopback)"
say "  identities: the four agencies, ops (operator) and audit (auditor), each with its own key"

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

# ---- the audit trail, as the auditor reads it ----------------------------------------
# Every delivery, notice and withheld delivery is recorded in the same
# transaction that lets it leave, so once the end marker is in every inbox,
# the records of everything before it are on disk and in this export.
if ! "$BIN/liaisonctl" -c "$D/audit.cfg" audit export >"$D/audit.jsonl" 2>"$D/logs/audit-export.log"; then
    problem "liaisonctl audit export failed: $(tail -n 1 "$D/logs/audit-export.log")"
fi
# OUTCOME["agency|seq"] = the broker's first decision for that delivery
# (deliver, notice, withhold), RULE[...] the rule it named, AREC[...] the
# audit record's number. REFUSED["actor|topic"] a refused publish's reason.
declare -A OUTCOME=() RULE=() AREC=() REFUSED=() ACTIONS=()
while IFS= read -r rec; do
    rec_str "$rec" action
    act=$REC
    rec_num "$rec" count # events the record stands for (absent: one)
    ACTIONS[$act]=$((${ACTIONS[$act]:-0} + ${REC:-1}))
    rec_str "$rec" reason
    why=$REC
    case $act in
    deliver | redeliver | notice | withhold)
        rec_str "$rec" recipient
        rcp=$REC
        rec_num "$rec" msg_seq
        seqs=$REC
        # A batch's disclosures to one agency are one record: the others in more_seqs.
        [[ $rec =~ \"more_seqs\":\[([0-9,]*)\] ]] && seqs="$seqs ${BASH_REMATCH[1]//,/ }"
        rec_num "$rec" seq
        [ "$act" = redeliver ] && act=deliver
        for n in $seqs; do
            key="$rcp|$n"
            [ -n "${OUTCOME[$key]:-}" ] && continue
            OUTCOME[$key]=$act
            RULE[$key]=$why
            AREC[$key]=$REC
        done
        ;;
    publish)
        rec_str "$rec" outcome
        [ "$REC" = refused ] || continue
        rec_str "$rec" actor
        act=$REC
        rec_str "$rec" topic
        REFUSED["$act|$REC"]=$why
        ;;
    esac
done <"$D/audit.jsonl"

say "Rejected, with the .error the agent wrote beside each file (and the broker's audit record):"
for p in $PUBLISHERS; do
    for e in "$D/spool/$p/rejected"/*.error; do
        [ -f "$e" ] || continue
        printf '  %s/rejected/%s\n' "$p" "$(basename "$e")"
        sed 's/^/      /' "$e"
        f="$ALERTS/$p/$(basename "$e" .error)"
        why=${REFUSED["$p|$(jstr "$f" topic)"]:-}
        if [ -n "$why" ]; then
            say "      audit: publish refused, reason $why"
        elif grep -q 'rejected_by: broker' "$e"; then
            problem "no audit record of the broker's refusal of $(basename "$f")"
        fi
    done
done
for want in "hmp-hull/04-old-marking.json:liaison-agent" "humberside-police/03-wrong-topic.json:broker"; do
    e="$D/spool/${want%%/*}/rejected/$(basename "${want%%:*}").error"
    grep -q "rejected_by: ${want#*:}" "$e" 2>/dev/null || problem "${want%%:*} was not rejected by ${want#*:}"
done
say ""

# ---- per agency: received, notices, withheld ------------------------------------------
# What each inbox holds must be what the broker's disclosure records say it
# sent: a deliver record for each message received, a notice record for
# each notice, a withhold record (naming the rule) for each one missing.
say "Per agency, from its inbox; each reason is the rule the broker's audit trail names:"
say ""
for a in $AGENCIES; do
    say "${DISPLAY[$a]} ($a: ${TYPE[$a]}, ${REGION[$a]}; clearance ${CLEARANCE[$a]}; caveats ${CAVEATS[$a]:-none}; subscribed to ${PATTERN[$a]})"
    declare -A GOT=()
    for f in "$D/inbox/$a"/*.json; do
        [ -f "$f" ] || continue
        # By sequence: a notice carries no msg_id (the publisher's free
        # text), only the broker's sequence and the originator's risk_ref.
        n=$(jnum "$f" seq)
        if grep -q '"notice":true' "$f"; then GOT[$n]="notice|$f"; else GOT[$n]="deliver|$f"; fi
    done
    lines=""
    for p in $PUBLISHERS; do
        for f in "$ALERTS/$p"/*.json; do
            id=$(jstr "$f" msg_id)
            s=${SEQ[$id]:-}
            [ -n "$s" ] || continue # never published
            key="$a|$s"
            said=${OUTCOME[$key]:-}
            got=${GOT[$s]:-withhold|}
            if [ -z "$said" ]; then
                # No record: outside its subscription, so never considered.
                [ "${got%%|*}" = withhold ] || problem "$a has $id, but the audit trail has no record of sending it"
                unset "GOT[$s]"
                continue
            fi
            own=""
            [ "$p" = "$a" ] && own=" (its own)"
            why=""
            [ -n "${RULE[$key]}" ] && why="audit #${AREC[$key]}, $(explain "${RULE[$key]}" "$a" "$f")"
            case ${got%%|*} in
            deliver)
                line=$(printf 'received  seq %-3s %-17s %-19s risk %-6s "%s"%s' "$s" "$id" \
                    "$(jstr "$f" classification)" "$(jstr "$f" risk)" "$(jstr "$f" body)" "$own")
                ;;
            notice)
                nf=${got#*|}
                line=$(printf 'notice    seq %-3s %-17s %s, risk %s, %s subject(s), ask "%s" (%s)' "$s" "$id" \
                    "$(jstr "$nf" topic)" "$(jstr "$nf" risk)" "$(jnum "$nf" subject_count)" \
                    "$(jstr "$nf" contact)" "$why")
                ;;
            *)
                line=$(printf 'withheld  seq %-3s %-17s %s (%s)%s' "$s" "$id" "$(jstr "$f" topic)" "$why" "$own")
                ;;
            esac
            if [ "${got%%|*}" != "$said" ]; then
                line="$line   !! the audit trail says $said"
                PROBLEMS=$((PROBLEMS + 1))
            fi
            lines="$lines$s $line"$'\n'
            unset "GOT[$s]"
        done
    done
    printf '%s' "$lines" | sort -n | cut -d' ' -f2- | sed 's/^/  /'
    [ -n "$end_seq" ] && unset "GOT[$end_seq]"
    for n in "${!GOT[@]}"; do problem "$a received seq $n, which it should not have"; done
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

say "Audit trail (liaisonctl -c audit.cfg audit export, as the auditor; the export is itself audited):"
summary=""
for act in $(printf '%s\n' "${!ACTIONS[@]}" | sort); do summary="$summary${summary:+, }$act ${ACTIONS[$act]}"; done
say "  $(wc -l <"$D/audit.jsonl" | tr -d ' ') records: $summary"
say "  (events by action; a batch's deliveries to one agency are one record, with their count)"
# Offline, from a read-only opening of the live store, as an auditor would.
if "$BIN/liaisonctl" audit verify --data-dir "$D/data/broker" >"$D/verify.out" 2>&1; then
    say "  liaisonctl audit verify --data-dir data/broker: $(head -n 1 "$D/verify.out")"
else
    sed 's/^/  /' "$D/verify.out"
    problem "liaisonctl audit verify failed"
fi
say ""

# The status page and /metrics: the broker's own HTTP endpoint, read here
# with bash's /dev/tcp so the demo needs no HTTP client.
http_get() { # PATH: prints the response's status line
    local line=""
    exec 3<>"/dev/tcp/127.0.0.1/$MPORT" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
    IFS= read -r -t 5 line <&3
    exec 3<&- 3>&-
    printf '%s' "${line%$'\r'}"
}
say "Operators' HTTP endpoint on loopback (metrics = \"127.0.0.1:$MPORT\"):"
for path in / /metrics; do
    st=$(http_get "$path" 2>/dev/null)
    case $st in
    *" 200 "*) say "  http://127.0.0.1:$MPORT$path  $st" ;;
    *) problem "http://127.0.0.1:$MPORT$path answered \"$st\"" ;;
    esac
done
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
    say "  $BIN/liaisonctl -c $D/ops.cfg status      (or watch, agents, subs, topics, deadletters)"
    say "  $BIN/liaisonctl -c $D/audit.cfg audit tail -n 5"
    say "  $BIN/liaisonctl audit verify --data-dir $D/data/broker"
    say "  the status page: http://127.0.0.1:$MPORT/   metrics: http://127.0.0.1:$MPORT/metrics"
    say "  $BIN/liaisonctl -c $D/yorkshire-rocu.cfg sub 'alert.yorkshire.>' --from-seq 1 --count 3"
    say "  logs: $D/logs/"
    say "To stop it: sh $D/stop.sh"
    exit 0
fi

stop_all
if [ "$PROBLEMS" -eq 0 ]; then
    say "All four agencies got exactly what the broker's audit trail says it disclosed; stopped cleanly."
    say "Next: make demo-federation, three brokers linked up and down (docs/federation.md)."
    exit 0
fi
say "demo: $PROBLEMS problem(s); logs were in $D/logs (run with KEEP=1 to keep them)"
for f in "$D"/logs/*.log; do
    say "--- $(basename "$f") (tail)"
    tail -n 8 "$f"
done
exit 1
