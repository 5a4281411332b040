#!/usr/bin/env bash
# federation.sh — `make demo-federation`: three brokers on loopback, linked
# upward, with fresh CURVE keys in a temporary directory.
#
#   Humberside  (broker "humberside"): Humberside Police and HMP Hull
#        |  uplink "yorkshire": forwards alert.>, receives national.>
#   Yorkshire   (broker "yorkshire"):  Yorkshire and Humber ROCU
#        |  uplink "national":  forwards alert.>, receives national.>
#   National    (broker "national"):   MARSOC
#
# The broker configs are config/demo/federation/*.broker.cfg with their
# ports filled in; each agency runs a liaison-agent with a spool directory
# and a dir: sink inbox. The alerts in config/demo/federation/alerts/ are
# dropped into the spools one at a time, the Humberside ones first, then
# MARSOC's national alert. The demo then shows, in plain words:
#   - the prison's alert as each tier stores it (the JSON, with its route),
#     and that its label and origin did not change on the way up;
#   - the national alert as each tier stores it, down to the force and the
#     prison;
#   - per tier, a table of who got what, from that broker's own audit trail
#     (read by an auditor identity of that broker), checked against every
#     agency's inbox, and what crossed a link and what stayed home;
#   - `liaisonctl links` at each tier, and each tier's audit verification.
# Every outcome is compared with what the demo expects (EXPECT below); any
# difference, or anything that did not arrive in time, is named and the
# demo exits 1. There is no copy of the delivery rule here: the brokers
# (broker/policy.c) decide, the demo only checks their decisions.
#
#   bash config/demo/federation.sh BUILD_DIR
#
# Bounded: every wait has a deadline inside 30 s, and on exit (even a
# failed one) every process it started is stopped. KEEP=1 keeps the
# temporary directory. Plain output for CI logs: no colours, no tput.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case $B in /*) BIN=$B ;; *) BIN=$ROOT/$B ;; esac
for p in liaison-broker liaison-agent liaisonctl; do
    [ -x "$BIN/$p" ] || { echo "demo-federation: $BIN/$p is missing: run make first" >&2; exit 1; }
done
FED=$ROOT/config/demo/federation

D=$(mktemp -d "${TMPDIR:-/tmp}/liaison-federation.XXXXXX")
mkdir -p "$D/logs"
DEADLINE=$((SECONDS + 28))
PROBLEMS=0
BROKER_PIDS="" # pid:tier, in start order
AGENT_PIDS=""  # pid:agency

# ---- the tiers and their agencies ---------------------------------------------
TIERS="humberside yorkshire national" # bottom up
declare -A TIER_TITLE=([humberside]="Humberside" [yorkshire]="Yorkshire" [national]="National")
declare -A UPSTREAM=([humberside]=yorkshire [yorkshire]=national)
declare -A DOWNSTREAM=([yorkshire]=humberside [national]=yorkshire)
declare -A LOCAL=([humberside]="hmp-hull humberside-police" [yorkshire]="yorkshire-rocu"
    [national]="marsoc")
AGENCIES="hmp-hull humberside-police yorkshire-rocu marsoc"
declare -A TIER_OF=([hmp-hull]=humberside [humberside-police]=humberside
    [yorkshire-rocu]=yorkshire [marsoc]=national)
declare -A DISPLAY=([hmp-hull]="HMP Hull" [humberside-police]="Humberside Police"
    [yorkshire-rocu]="Yorkshire and Humber ROCU" [marsoc]="MARSOC")
# Each agency's agent.cfg subscriptions (within its permissions there).
declare -A FEEDS=([hmp-hull]="alert.yorkshire.> national.>"
    [humberside-police]="alert.yorkshire.> national.>" [yorkshire-rocu]="alert.> national.>"
    [marsoc]="alert.> national.>")
# An upstream's agents entry for the broker linked below it.
declare -A LINK_AGENT=([humberside]=humberside-broker [yorkshire]=yorkshire-broker)

# ---- the alerts, in the order they are published, and what should happen ------
# MSGS: publisher/file. TITLE: a few words for the tables. STORY: what the
# message is for in this demo.
MSGS="hmp-hull/01-drone-drop.json hmp-hull/02-ocg-contact.json
humberside-police/01-local-briefing.json humberside-police/02-for-the-prison.json
humberside-police/03-firearms.json humberside-police/04-county-lines.json
marsoc/01-national-firearms.json"
declare -A TITLE=([hull-2026-000201]="drone drop" [hull-2026-000202]="OCG contact"
    [hp-2026-000301]="local briefing" [hp-2026-000302]="for the prison"
    [hp-2026-000303]="firearms (SECRET)" [hp-2026-000304]="county lines"
    [marsoc-2026-000401]="national alert")
declare -A STORY=(
    [hull-2026-000201]="travels up to MARSOC with its label intact"
    [hull-2026-000202]="travels up; only a ROCU may read it, at any tier"
    [hp-2026-000301]="no_onward_sharing: never leaves Humberside"
    [hp-2026-000302]="released to one Humberside agency only: stays home"
    [hp-2026-000303]="above the Humberside link's clearance: stays home"
    [hp-2026-000304]="for any cleared receiver: reaches every tier"
    [marsoc-2026-000401]="travels down to the ROCU, the force and the prison")
# EXPECT["tier|msg_id"]: the cells of that tier's table, "|"-separated, in
# the order of its columns (COLS). "-" means no record: that column's
# subscriptions do not cover the topic.
declare -A COLS=([humberside]="from hmp-hull humberside-police up"
    [yorkshire]="from yorkshire-rocu up down" [national]="from marsoc down")
declare -A EXPECT=(
    [humberside|hull-2026-000201]="HMP Hull|own copy|withheld: caveat|sent up"
    [humberside|hull-2026-000202]="HMP Hull|withheld: release_to|withheld: release_to|sent up"
    [humberside|hp-2026-000301]="Humberside Police|received|own copy|stays home"
    [humberside|hp-2026-000302]="Humberside Police|received|withheld: release_to|stays home"
    [humberside|hp-2026-000303]="Humberside Police|withheld: clearance|own copy|stays home"
    [humberside|hp-2026-000304]="Humberside Police|received|own copy|sent up"
    [humberside|marsoc-2026-000401]="down from Yorkshire|received|received|-"
    [yorkshire|hull-2026-000201]="up from Humberside|received|sent up|-"
    [yorkshire|hull-2026-000202]="up from Humberside|received|sent up|-"
    [yorkshire|hp-2026-000301]="not stored here"
    [yorkshire|hp-2026-000302]="not stored here"
    [yorkshire|hp-2026-000303]="not stored here"
    [yorkshire|hp-2026-000304]="up from Humberside|received|sent up|-"
    [yorkshire|marsoc-2026-000401]="down from National|received|-|sent down"
    [national|hull-2026-000201]="up from Yorkshire|received|-"
    [national|hull-2026-000202]="up from Yorkshire|withheld: release_to|-"
    [national|hp-2026-000301]="not stored here"
    [national|hp-2026-000302]="not stored here"
    [national|hp-2026-000303]="not stored here"
    [national|hp-2026-000304]="up from Yorkshire|received|-"
    [national|marsoc-2026-000401]="MARSOC|own copy|sent down")
# Published last at Humberside, and crossing every link: once it is in
# every inbox, everything published before it has been decided at every
# tier (deliveries and forwards go in sequence order).
LAST_UP=hp-2026-000304
PRISON_ALERT=hull-2026-000201
NATIONAL_ALERT=marsoc-2026-000401

say() { printf '%s\n' "$*"; }
problem() {
    say "  !! $*"
    PROBLEMS=$((PROBLEMS + 1))
}

# ---- stopping ---------------------------------------------------------------------
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

# Agents first (they drain), then the brokers from the bottom up, so each
# uplink says goodbye to a broker that is still there.
stop_all() {
    local p
    for p in $AGENT_PIDS; do stop_pid "${p%%:*}" "liaison-agent ${p#*:}"; done
    AGENT_PIDS=""
    for p in $BROKER_PIDS; do stop_pid "${p%%:*}" "liaison-broker ${p#*:}"; done
    BROKER_PIDS=""
}

on_exit() {
    local p
    for p in $AGENT_PIDS $BROKER_PIDS; do kill -9 "${p%%:*}" 2>/dev/null; done
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

# give_up WHAT LOG: a step the rest depends on did not happen.
give_up() {
    say "demo-federation: $1"
    [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 8 "$2" | sed 's/^/    /'
    exit 1
}

# ---- reading JSON without a JSON tool ---------------------------------------------
# Sample files hold one key per line; delivered files are one compact line.
jstr() { sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p" "$1" | head -n 1; }
jarr() { sed -n "s/.*\"$2\": *\[\([^]]*\)\].*/\1/p" "$1" | head -n 1 | tr -d '" ' | tr ',' ' '; }
# rec_str LINE KEY / rec_num LINE KEY set REC from one compact audit record.
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

# pretty LINE: one compact JSON object with each top-level key on its own
# line (strings, arrays and nested objects kept whole).
pretty() {
    local s=$1 out="" c i depth=0 instr=0 esc=0
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if [ $instr = 1 ]; then
            out+=$c
            if [ $esc = 1 ]; then
                esc=0
            elif [ "$c" = '\' ]; then
                esc=1
            elif [ "$c" = '"' ]; then
                instr=0
            fi
            continue
        fi
        case $c in
        '"') instr=1 ;;
        '{' | '[') depth=$((depth + 1)) ;;
        '}' | ']') depth=$((depth - 1)) ;;
        esac
        if [ "$c" = , ] && [ $depth = 1 ]; then out+=$',\n '; else out+=$c; fi
    done
    printf '%s\n' "$out"
}

# route_words LINE: the route of a delivered message, in words.
route_words() {
    local r origin seq via
    r=$(printf '%s' "$1" | sed -n 's/.*"route":{\([^}]*\)}.*/\1/p')
    if [ -z "$r" ]; then
        echo "no route: published at this broker"
        return
    fi
    origin=$(printf '%s' "$r" | sed -n 's/.*"origin_broker":"\([^"]*\)".*/\1/p')
    seq=$(printf '%s' "$r" | sed -n 's/.*"origin_seq":\([0-9]*\).*/\1/p')
    via=$(printf '%s' "$r" | sed -n 's/.*"via":\[\([^]]*\)\].*/\1/p' | tr -d '"' | sed 's/,/, /g')
    echo "route: first stored at $origin as seq $seq${via:+, then through $via}"
}

# The label and origin, without what each broker stamps for itself.
unstamped() { sed -E 's/"seq":[0-9]+,//; s/"received_at":"[^"]*",//; s/,"route":\{[^}]*\}//' <<<"$1"; }

# inbox_line AGENCY MSG_ID: the delivered JSON of that message, or "".
inbox_line() {
    local f
    f=$(grep -l "\"msg_id\":\"$2\"" "$D/inbox/$1"/*.json 2>/dev/null | head -n 1)
    [ -n "$f" ] && cat "$f"
}

# ---- keys and configs ---------------------------------------------------------------
say "Liaison federation demo: three brokers on loopback, each tier its own trust domain"
say "  work directory $D"
for n in $TIERS $AGENCIES; do
    "$BIN/liaisonctl" keygen "$n" --dir "$D/keys" >/dev/null || give_up "keygen $n failed"
done
for t in $TIERS; do
    for n in "$t-ops" "$t-audit"; do
        "$BIN/liaisonctl" keygen "$n" --dir "$D/keys" >/dev/null || give_up "keygen $n failed"
    done
done

declare -A PORT=()
# agent_cfg NAME TIER [subscriptions]: NAME.cfg, read by liaison-agent and
# liaisonctl.
agent_cfg() {
    local pat i=0
    {
        echo "# $1.cfg written by config/demo/federation.sh"
        echo "agent = { name = \"$1\"; broker = \"tcp://127.0.0.1:${PORT[$2]}\"; broker_public_key = \"keys/$2.pub\";"
        echo "  secret_key = \"keys/$1.key\"; data_dir = \"data/$1\"; heartbeat_ms = 1000;"
        [ -n "${3:-}" ] && echo "  spool = \"spool/$1\";"
        echo "};"
        [ -n "${3:-}" ] || return 0
        echo "subscriptions = ("
        for pat in $3; do
            i=$((i + 1))
            echo "  { name = \"feed$i\"; pattern = \"$pat\"; sink = \"dir:inbox/$1\"; }$([ "$pat" = "${3##* }" ] || echo ,)"
        done
        echo ");"
    } >"$D/$1.cfg"
}

# ---- start the brokers, top down ------------------------------------------------------
# Top down, so each uplink finds its upstream already listening. A new
# uplink forwards what is stored from the moment it is first configured,
# so nothing is published before every link is up.
say ""
say "Starting the brokers (top down), each with its own key, store and audit trail:"
for t in national yorkshire humberside; do
    log="$D/logs/$t.log"
    ok=0
    for attempt in 1 2 3 4 5; do
        PORT[$t]=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000))
        up=${UPSTREAM[$t]:-}
        sed -e "s/@PORT@/${PORT[$t]}/" -e "s/@UPSTREAM_PORT@/${up:+${PORT[$up]}}/" \
            "$FED/$t.broker.cfg" >"$D/$t.broker.cfg"
        if ! "$BIN/liaison-broker" -c "$D/$t.broker.cfg" --check-config >"$D/logs/$t.check" 2>&1; then
            give_up "config/demo/federation/$t.broker.cfg does not load: $(tail -n 1 "$D/logs/$t.check")"
        fi
        : >"$log"
        "$BIN/liaison-broker" -c "$D/$t.broker.cfg" </dev/null >/dev/null 2>>"$log" &
        pid=$!
        if wait_until 10 grep -q 'event=listening\|event=startup_failed' "$log" &&
            grep -q 'event=listening' "$log"; then
            BROKER_PIDS="$pid:$t $BROKER_PIDS" # stopped bottom up
            ok=1
            break
        fi
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    [ $ok = 1 ] || give_up "the $t broker did not start" "$log"
    printf '  %-10s broker "%s" on tcp://127.0.0.1:%s%s\n' "${TIER_TITLE[$t]}" "$t" "${PORT[$t]}" \
        "${up:+, uplink \"$up\" to the ${TIER_TITLE[$up]} broker}"
done
for t in $TIERS; do
    agent_cfg "$t-ops" "$t"
    agent_cfg "$t-audit" "$t"
done
for a in $AGENCIES; do agent_cfg "$a" "${TIER_OF[$a]}" "${FEEDS[$a]}"; done

# Each uplink up, and its receive subscription taken on the broker above
# (what is published above before then would not come down).
for t in humberside yorkshire; do
    up=${UPSTREAM[$t]}
    wait_until 10 grep -q "event=uplink_up link=$up " "$D/logs/$t.log" ||
        give_up "the $t broker's uplink to $up did not come up" "$D/logs/$t.log"
    wait_until 10 grep -q "event=subscribed agent=${LINK_AGENT[$t]} " "$D/logs/$up.log" ||
        give_up "the $t broker did not subscribe on $up" "$D/logs/$up.log"
done
say "  links up: humberside -> yorkshire -> national (each a CURVE connection made with"
say "  the lower broker's own key, which the upper one knows as an agent of type broker)"

for a in $AGENCIES; do
    "$BIN/liaison-agent" -c "$D/$a.cfg" </dev/null >"$D/logs/$a.stdout" 2>"$D/logs/$a.log" &
    AGENT_PIDS="$AGENT_PIDS $!:$a"
done
for a in $AGENCIES; do
    for i in 1 2; do
        wait_until 15 grep -q "event=subscribed sub=feed$i " "$D/logs/$a.log" ||
            give_up "the agent of $a did not subscribe" "$D/logs/$a.log"
    done
    printf '  liaison-agent %-18s on the %-10s broker, subscribed to %s\n' "$a" \
        "${TIER_TITLE[${TIER_OF[$a]}]}" "$(echo "${FEEDS[$a]}" | sed 's/ / and /')"
done

# ---- publish, one at a time -------------------------------------------------------------
declare -A PUBLISHER=()
published() { # AGENCY MSG_ID
    grep -q "event=published msg_id=$2 " "$D/logs/$1.log"
}
has() { grep -lq "\"msg_id\":\"$2\"" "$D/inbox/$1"/*.json 2>/dev/null; }
everywhere() { # MSG_ID
    local a
    for a in $AGENCIES; do has "$a" "$1" || return 1; done
}

say ""
say "The alerts, dropped one at a time into the agencies' spool directories:"
for m in $MSGS; do
    p=${m%%/*}
    f=$FED/alerts/$m
    id=$(jstr "$f" msg_id)
    PUBLISHER[$id]=$p
    if [ "$id" = "$NATIONAL_ALERT" ]; then
        # After everything from Humberside has been decided everywhere, so
        # each tier's sequence numbers come out the same every run.
        wait_until 15 everywhere "$LAST_UP" ||
            problem "$LAST_UP did not reach every agency (it should cross every link)"
    fi
    n=$(basename "$m")
    cp "$f" "$D/spool/$p/.$n.tmp" && mv "$D/spool/$p/.$n.tmp" "$D/spool/$p/$n"
    wait_until 10 published "$p" "$id" || problem "$id was not published by $p (see logs/$p.log)"
    extra=""
    cav=$(jarr "$f" caveats)
    rel=$(jarr "$f" release_to)
    [ -n "$cav" ] && extra="$extra [$cav]"
    [ -n "$rel" ] && extra="$extra release_to [$rel]"
    grep -q '"no_onward_sharing": *true' "$f" && extra="$extra no_onward_sharing"
    printf '  %-18s %-18s %s%s\n' "${DISPLAY[$p]}" "$id" "$(jstr "$f" classification)" "$extra"
    printf '  %-18s %-18s %s: %s\n' "" "" "${TITLE[$id]}" "${STORY[$id]}"
done
wait_until 15 everywhere "$NATIONAL_ALERT" ||
    problem "$NATIONAL_ALERT did not reach every agency (it should travel down to all)"

# ---- the prison's alert, tier by tier -------------------------------------------------
declare -A LINE=()
show_copy() { # AGENCY MSG_ID
    local t=${TIER_OF[$1]} l
    l=$(inbox_line "$1" "$2")
    LINE[$1]=$l
    if [ -z "$l" ]; then
        problem "$2 is not in the inbox of ${DISPLAY[$1]} (${TIER_TITLE[$t]})"
        return
    fi
    say "  at ${TIER_TITLE[$t]}, as ${DISPLAY[$1]} received it ($(route_words "$l")):"
    pretty "$l" | sed 's/^/      /'
}
# same_label MSG_ID AGENCY...: the label, origin and body unchanged.
same_label() {
    local id=$1 first=$2 a
    shift 2
    for a in "$@"; do
        [ -n "${LINE[$first]}" ] && [ -n "${LINE[$a]}" ] || return 0 # already named
        if [ "$(unstamped "${LINE[$first]}")" != "$(unstamped "${LINE[$a]}")" ]; then
            problem "$id changed between ${DISPLAY[$first]} and ${DISPLAY[$a]}:"
            say "       $(unstamped "${LINE[$first]}")"
            say "       $(unstamped "${LINE[$a]}")"
        fi
    done
}
# route_is AGENCY EXPECTED: the route of LINE[AGENCY].
route_is() {
    local got
    got=$(printf '%s' "${LINE[$1]}" | sed -n 's/.*"route":\({[^}]*}\).*/\1/p')
    [ -z "${LINE[$1]}" ] || [ "$got" = "$2" ] ||
        problem "${DISPLAY[$1]}'s copy has route ${got:-none}, expected ${2:-none}"
}

say ""
say "1. A prison alert travels up, its label intact."
say "   Each broker stores it under its own sequence number and time; the route says"
say "   where it was first stored and which brokers it came through."
for a in hmp-hull yorkshire-rocu marsoc; do show_copy "$a" "$PRISON_ALERT"; done
same_label "$PRISON_ALERT" hmp-hull yorkshire-rocu marsoc
hull_seq=$(printf '%s' "${LINE[hmp-hull]}" | sed -n 's/^{"seq":\([0-9]*\).*/\1/p')
route_is hmp-hull ""
route_is yorkshire-rocu "{\"origin_broker\":\"humberside\",\"origin_seq\":$hull_seq}"
route_is marsoc "{\"origin_broker\":\"humberside\",\"origin_seq\":$hull_seq,\"via\":[\"yorkshire\"]}"
say "   Label, origin (HMP Hull, prison) and body are the same at all three tiers: only"
say "   seq, received_at and route are each broker's own."

say ""
say "2. A national alert travels down, to the ROCU, the force and the prison."
for a in marsoc yorkshire-rocu humberside-police hmp-hull; do
    l=$(inbox_line "$a" "$NATIONAL_ALERT")
    LINE[$a]=$l
    if [ -z "$l" ]; then
        problem "$NATIONAL_ALERT is not in the inbox of ${DISPLAY[$a]}"
        continue
    fi
    printf '  at %-11s %-26s seq %-2s %s\n' "${TIER_TITLE[${TIER_OF[$a]}]}," "${DISPLAY[$a]}:" \
        "$(sed -n 's/^{"seq":\([0-9]*\).*/\1/p' <<<"$l")" "$(route_words "$l")"
done
same_label "$NATIONAL_ALERT" marsoc yorkshire-rocu humberside-police hmp-hull
say "  as Humberside Police received it:"
[ -n "${LINE[humberside-police]}" ] && pretty "${LINE[humberside-police]}" | sed 's/^/      /'

# ---- who got what, from each broker's audit trail ---------------------------------------
# Each tier's auditor exports its trail. Per topic (each alert has its
# own), the collection record gives the local sequence number and where the
# message came from; per (recipient, sequence) the first delivery decision
# (deliver, withhold with the rule, notice); per sequence the bridge
# record of a forward up. Every decision is on disk before the delivery it
# allows leaves, so once the last alerts are in every inbox the export
# holds all of them.
declare -A LSEQ=() FROM=() DECIDED=() BRIDGE=()
for t in $TIERS; do
    if ! "$BIN/liaisonctl" -c "$D/$t-audit.cfg" audit export >"$D/$t.audit.jsonl" 2>"$D/logs/$t-audit.log"; then
        problem "liaisonctl audit export failed on $t: $(tail -n 1 "$D/logs/$t-audit.log")"
        continue
    fi
    while IFS= read -r rec; do
        rec_str "$rec" action
        act=$REC
        rec_str "$rec" outcome
        out=$REC
        rec_num "$rec" msg_seq
        s=$REC
        rec_str "$rec" reason
        why=$REC
        case $act in
        publish | receive)
            [ "$out" = ok ] || continue
            rec_str "$rec" topic
            LSEQ["$t|$REC"]=$s
            rec_str "$rec" actor
            FROM["$t|$s"]=$REC
            ;;
        deliver | redeliver | withhold | notice)
            rec_str "$rec" recipient
            key="$t|$REC|$s"
            [ -n "${DECIDED[$key]:-}" ] && continue
            [ "$act" = redeliver ] && act=deliver
            DECIDED[$key]="$act${why:+: $why}"
            ;;
        bridge)
            # Planned (ok), and possibly refused above later: the refusal wins.
            [ "${BRIDGE[$t|$s]:-}" = "" ] || [ "$out" = refused ] || continue
            BRIDGE["$t|$s"]="$out${why:+: $why}"
            ;;
        esac
    done <"$D/$t.audit.jsonl"
done

# cell TIER COLUMN SEQ MSG_ID: what that tier's table says.
cell() {
    local t=$1 col=$2 s=$3 id=$4 d actor
    case $col in
    from)
        actor=${FROM[$t|$s]:-}
        case $actor in
        uplink:*) echo "down from ${TIER_TITLE[${actor#uplink:}]}" ;;
        *-broker) echo "up from ${TIER_TITLE[${DOWNSTREAM[$t]}]}" ;;
        *) echo "${DISPLAY[$actor]:-$actor}" ;;
        esac
        ;;
    up)
        d=${BRIDGE[$t|$s]:-}
        case $d in
        ok) echo "sent up" ;;
        refused*) echo "refused above${d#refused}" ;;
        *) case ${FROM[$t|$s]:-} in uplink:*) echo "-" ;; *) echo "stays home" ;; esac ;;
        esac
        ;;
    down)
        d=${DECIDED[$t|${LINK_AGENT[${DOWNSTREAM[$t]}]}|$s]:-}
        case $d in
        deliver) echo "sent down" ;;
        "") echo "-" ;;
        *) echo "$d" ;;
        esac
        ;;
    *)
        d=${DECIDED[$t|$col|$s]:-}
        case $d in
        deliver) [ "${PUBLISHER[$id]}" = "$col" ] && echo "own copy" || echo "received" ;;
        "") echo "-" ;;
        *) echo "${d/withhold/withheld}" ;;
        esac
        ;;
    esac
}

declare -A HEAD=([from]="came from" [up]="up the link" [down]="down the link"
    [hmp-hull]="HMP Hull" [humberside-police]="Humberside Police"
    [yorkshire-rocu]="Yorkshire ROCU" [marsoc]="MARSOC")
say ""
say "3. Who got what at each tier, from that broker's own audit trail"
say "   (checked against every agency's inbox; a rule named is the one the broker recorded)"
for t in $TIERS; do
    up=${UPSTREAM[$t]:-}
    down=${DOWNSTREAM[$t]:-}
    say ""
    say "  ${TIER_TITLE[$t]} (broker \"$t\"${up:+; up the link: $up}${down:+; down the link: $down})"
    row=$(printf '  %-22s' "message")
    for c in ${COLS[$t]}; do row+=$(printf ' %-22s' "${HEAD[$c]}"); done
    say "${row%"${row##*[! ]}"}"
    n=0
    for m in $MSGS; do
        n=$((n + 1))
        id=$(jstr "$FED/alerts/$m" msg_id)
        topic=$(jstr "$FED/alerts/$m" topic)
        s=${LSEQ[$t|$topic]:-}
        label=$(printf '%s %s' "$n" "${TITLE[$id]}")
        if [ -z "$s" ]; then
            got="not stored here"
            row=$(printf '  %-22s %s' "$label" "$got")
        else
            got=""
            row=$(printf '  %-22s' "$label")
            for c in ${COLS[$t]}; do
                v=$(cell "$t" "$c" "$s" "$id")
                got+="${got:+|}$v"
                row+=$(printf ' %-22s' "$v")
            done
        fi
        say "${row%"${row##*[! ]}"}"
        want=${EXPECT[$t|$id]}
        [ "$got" = "$want" ] || problem "${TIER_TITLE[$t]}, $id: expected \"$want\", the broker says \"$got\""
        # What the inboxes hold must be what the trail says was delivered.
        for a in ${LOCAL[$t]}; do
            d=$([ -n "$s" ] && echo "${DECIDED[$t|$a|$s]:-}")
            if has "$a" "$id"; then
                [ "$d" = deliver ] || problem "${DISPLAY[$a]} has $id, but its broker's trail says \"${d:-nothing}\""
            else
                [ "$d" != deliver ] || problem "${DISPLAY[$a]}'s trail says $id was delivered, but its inbox does not have it"
            fi
        done
    done
done
say ""
say "  What stayed home stayed home: \"stays home\" means that broker has no record of sending"
say "  it up, and every tier above says \"not stored here\". A link carries nothing marked"
say "  no_onward_sharing, nothing released only to the broker's own agencies, nothing above"
say "  the link's clearance or with a caveat the link does not hold, and never a notice."

# ---- the links, as each tier's operator sees them --------------------------------------
say ""
say "4. The links, as each tier's operator sees them (liaisonctl -c TIER-ops.cfg links):"
for t in $TIERS; do
    say ""
    say "  ${TIER_TITLE[$t]}:"
    if "$BIN/liaisonctl" -c "$D/$t-ops.cfg" links >"$D/$t.links" 2>&1 &&
        "$BIN/liaisonctl" -c "$D/$t-ops.cfg" links --json >"$D/$t.links.json" 2>&1; then
        sed 's/^/    /' "$D/$t.links"
    else
        sed 's/^/    /' "$D/$t.links"
        problem "liaisonctl links failed on $t"
        continue
    fi
    if [ -n "${UPSTREAM[$t]:-}" ]; then
        sed 's/"downlinks".*//' "$D/$t.links.json" | grep -q '"state":"connected"' || problem "the $t broker's uplink is not connected"
        sed 's/"downlinks".*//' "$D/$t.links.json" | grep -q '"refused":0,' || problem "the $t broker's uplink had forwards refused above"
    fi
    if [ -n "${DOWNSTREAM[$t]:-}" ]; then
        grep -q "\"agent\":\"${LINK_AGENT[${DOWNSTREAM[$t]}]}\"" "$D/$t.links.json" ||
            problem "the $t broker does not show ${LINK_AGENT[${DOWNSTREAM[$t]}]} connected"
    fi
done
say ""
say "  Uplinks: LAG stored here and not yet settled by the broker above; IN FLIGHT sent, not"
say "  yet answered; FORWARDED sent up; REFUSED refused above for good (both brokers' logs"
say "  and trails say why); LOOPS refused above because its route already named that"
say "  broker; RECEIVED came down. One that is not connected shows NOT CONNECTED and why."
say "  Downstream brokers: RECEIVED what that broker forwarded and this one stored; REFUSED"
say "  what this one refused it; DELIVERED what went down to it; its SUBSCRIPTIONS here."

# ---- audit trails ------------------------------------------------------------------------
say ""
say "5. Each tier's audit trail verifies on its own (liaisonctl audit verify --data-dir):"
for t in $TIERS; do
    if "$BIN/liaisonctl" audit verify --data-dir "$D/data/$t" >"$D/$t.verify" 2>&1; then
        printf '  %-10s %s\n' "${TIER_TITLE[$t]}" "$(head -n 1 "$D/$t.verify")"
    else
        sed 's/^/    /' "$D/$t.verify"
        problem "the $t broker's audit trail does not verify"
    fi
done
say ""

stop_all
if [ "$PROBLEMS" -eq 0 ]; then
    say "Every alert went exactly where the three brokers' audit trails say; stopped cleanly ($SECONDS s)."
    say "How to run and link brokers like these: docs/federation.md."
    exit 0
fi
say "demo-federation: $PROBLEMS problem(s); the logs were in $D/logs (run with KEEP=1 to keep them)"
for f in "$D"/logs/*.log; do
    say "--- $(basename "$f") (tail)"
    tail -n 8 "$f"
done
exit 1
