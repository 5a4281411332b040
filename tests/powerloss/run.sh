# powerloss: the broker's and the agent's stores through power cuts, on
# lossyfs (a FUSE filesystem that forgets every write not fsynced when it
# is unmounted). Black-box: only the programs and their config.
#
# Phase 0, a store being created: the power fails at each sync point of a
# broker's very first start in turn; a broker must then start on what is
# left, and audit verify must pass.
#
# Phase 1, the broker. Its data_dir is on lossyfs. A retrying publisher
# (build/tools/retrypub: re-sends until every message is PubAcked) and a
# durable subscriber stream; at random points the runner stops the
# publisher, kill -9s the broker, cuts the power (unmount: unsynced data
# gone; some cuts also tear the last write or let a random half of the
# pending writes through), remounts, checks the store offline
# (liaisonctl audit verify), restarts the broker on it, and replays the
# store. After each cut, against what the publisher had seen acked:
#   lost        acked but not in the store          (failure)
#   duplicated  in the store more than once         (failure)
#   unexpected  in the store, never published       (failure)
#   recovered   in the store, though its ack never arrived (fine: the
#               broker committed it and died before the PubAck left)
# At the end every message is acked, stored once, and the durable
# subscriber has had each at least once (its cursor was never ahead of its
# acks).
#
# Phase 2, the agent. Its data_dir (the LMDB outbox) is on lossyfs; its
# spool and the broker are on the ordinary disk. Files are dropped into the
# spool while the agent is killed with SIGKILL and its filesystem loses
# power at random points, half of them while the broker is down (so the
# outbox is holding what it took). Every file the agent moved to done/
# must be stored at the broker, exactly once.
#
# env: POWERLOSS_CUTS (3) cuts per phase, POWERLOSS_STEP (1000) messages
# acked between broker cuts, POWERLOSS_WINDOW (8) publishes in flight, POWERLOSS_SEED (random) repeats a run's
# choices, BIN (build), POWERLOSS_LIAR=1 puts the stores on a disk that
# acknowledges fsync and keeps nothing: the run must then FAIL (a check of
# the checks), POWERLOSS_PHASES ("0 1 2") which phases run.
# usage: sh tests/powerloss/run.sh
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/agent_lib.sh"
. "$(dirname "$0")/lib.sh"
CUTS=${POWERLOSS_CUTS:-3}
STEP=${POWERLOSS_STEP:-1000}
# Few PubAcks outstanding: more, smaller commits, so a cut lands anywhere
# in one.
WINDOW=${POWERLOSS_WINDOW:-8}
SEED=${POWERLOSS_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
RANDOM=$SEED
N=$(((CUTS + 1) * STEP))
PHASES=${POWERLOSS_PHASES:-0 1 2}
want_phase() { case " $PHASES " in *" $1 "*) return 0 ;; esac; return 1; }
LIAR=""
[ "${POWERLOSS_LIAR:-0}" = 1 ] && LIAR="-o liar" && echo "powerloss: on a disk that lies about fsync: this run must fail"
echo "powerloss: $CUTS cuts per phase, seed $SEED (POWERLOSS_SEED=$SEED repeats the choices)"

# The cut each mount will end with: its lossyfs options and a name.
# drop: the cut is the unmount after kill -9, all pending writes lost;
# tear: the same, and the last pending write is torn; keep-half: half the
# pending writes reach the disk, in no order; at-sync: the power fails
# under the running program, at a random sync point (at most SPAN) after
# the runner arms it, once the program is up and checked, tearing the
# write in hand. The first cut of a phase is always at-sync: only a cut
# under the running program finds an ack sent before the sync it needed
# (say, one sent once the data pages were synced and before the page that
# makes them the database was), since a broker killed first has its page
# cache written out whole by the kernel; with modes drawn at random, the
# short run in make test would often have none. The last mount of a phase
# is always plain (drop): the final checks must not lose their power.
MODE="" MODE_OPTS=""
FIRST_CUT=1
pick_mode() { # SPAN
    pick=$((RANDOM % 4))
    [ "$FIRST_CUT" = 1 ] && pick=3
    FIRST_CUT=0
    case $pick in
    0) MODE=drop MODE_OPTS="" ;;
    1) MODE=tear MODE_OPTS="-o tear" ;;
    2) MODE=keep-half MODE_OPTS="-o keep=50" ;;
    3) MODE=at-sync MODE_OPTS="-o tear -o wait_arm -o cut_at=$((1 + RANDOM % $1))" ;;
    esac
}
mount_next() { # NAME SEEDOFFSET SPAN [last]
    pick_mode "$3"
    [ -z "${4:-}" ] || MODE=drop MODE_OPTS=""
    [ -z "$LIAR" ] || MODE=drop MODE_OPTS="" # plain loss, so the checks have to name it

    # shellcheck disable=SC2086
    lossy_mount "$1" $MODE_OPTS $LIAR -o seed=$((SEED * 100 + $2))
}
short_report() { lossy_report "$1" | sed 's/^lossyfs: power cut //; s/ on [^:]*:/:/; s/ since mount//'; }

ids() { sed -n 's/.*"msg_id":"\([^"]*\)".*/\1/p' "$1"; }

# replay_until CFG MARKER OUT: the whole store, oldest first, up to and
# including the message with msg_id MARKER (published last, so everything
# stored before it has come). The timeout is a safety net only.
replay_until() {
    : >"$3"
    "$BIN/liaisonctl" -c "$T/$1.cfg" sub 'alert.>' --from-seq 1 --timeout 600 >"$3" 2>"$3.err" &
    rp=$!
    n=0
    while ! grep -q "\"msg_id\":\"$2\"" "$3"; do
        kill -0 "$rp" 2>/dev/null || fail "replay ended before $2: $(tail -n 2 "$3.err")"
        n=$((n + 1)); [ $n -lt 6000 ] || fail "replay did not reach $2"
        sleep 0.1
    done
    kill "$rp" 2>/dev/null || true
    wait "$rp" 2>/dev/null || true
}

# classify ACKED STORED_IDS PREFIX: sets LOST DUP UNEXP RECOV (counts) and
# writes the lost, duplicated and unexpected ids to $T/*.ids. ACKED holds
# one id per line (any order, repeats allowed), STORED_IDS the store's ids
# with their multiplicity; ids outside PREFIX-<number> and marker-* are
# unexpected, and so are numbers at or above LIMIT.
classify() { # acked stored prefix limit
    sort -u "$1" >"$T/c.acked"
    grep -v '^marker-' "$2" | sort >"$T/c.stored"
    sort -u "$T/c.stored" >"$T/c.stored.u"
    comm -23 "$T/c.acked" "$T/c.stored.u" >"$T/lost.ids"
    uniq -d "$T/c.stored" >"$T/dup.ids"
    grep -v "^$3-[0-9][0-9]*\$" "$T/c.stored.u" >"$T/unexpected.ids" || true
    sed -n "s/^$3-\([0-9][0-9]*\)\$/\1/p" "$T/c.stored.u" | awk -v l="$4" '$1 >= l { print "'"$3"'-" $1 }' \
        >>"$T/unexpected.ids"
    LOST=$(wc -l <"$T/lost.ids" | tr -d ' ')
    DUP=$(wc -l <"$T/dup.ids" | tr -d ' ')
    UNEXP=$(wc -l <"$T/unexpected.ids" | tr -d ' ')
    RECOV=$(comm -13 "$T/c.acked" "$T/c.stored.u" | grep -c . || true)
}

BAD=0 WHY=""
bad() { # WHAT: counted, and named once in the last line
    BAD=1
    case "$WHY" in *"$1"*) ;; *) WHY="${WHY:+$WHY; }$1" ;; esac
}
verdict() { # what
    echo "  $1: lost $LOST, duplicated $DUP, unexpected $UNEXP, recovered $RECOV"
    if [ "$LOST" -gt 0 ] || [ "$DUP" -gt 0 ] || [ "$UNEXP" -gt 0 ]; then
        bad "lost, duplicated or unexpected messages"
        for f in lost dup unexpected; do
            [ -s "$T/$f.ids" ] && echo "    $f: $(head -n 10 "$T/$f.ids" | tr '\n' ' ')"
        done
        cp "$T/lost.ids" "$T/lost.$2.ids" 2>/dev/null || true
    fi
    return 0
}

# A broken chain is counted, not fatal: the run goes on to say what was lost.
verify_store() { # DIR WHAT
    if ! "$BIN/liaisonctl" audit verify --data-dir "$1" >"$T/verify.out" 2>&1; then
        echo "  audit verify after $2 FAILED: $(tail -n 1 "$T/verify.out")"
        bad "audit verify after a cut"
    fi
}

# ---- phase 1: the broker --------------------------------------------------------
keygen broker police rocu checker marker
broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent marker '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu),
$(agent checker '' '"alert.>"' SECRET '' '"receiver"' rocu)
EOF2
sed -i 's|data_dir = "data/broker"|data_dir = "brokerfs/store"|' "$T/broker.cfg"
grep -q 'brokerfs/store' "$T/broker.cfg" || fail "could not move data_dir onto lossyfs"
for a in police marker rocu checker; do agent_cfg $a; done
# Sync points per message: about one per commit, a commit per few messages.
SPAN=$((STEP / 3))
if want_phase 0; then
    # Phase 0: a store being created. The power fails at sync point 1, 2, ...
    # of a broker's very first start (the broker meets EIO); then a broker
    # must start on what is left, and the store must verify.
    echo "phase 0: the power fails at each sync point of a broker's first start"
    cp "$T/broker.cfg" "$T/broker.main.cfg"
    i=1
    while [ $i -le 16 ]; do
        sed "s|brokerfs/store|first$i/store|" "$T/broker.main.cfg" >"$T/broker.cfg"
        lossy_mount "first$i" -o cut_at=$i
        : >"$T/broker.log"
        "$BIN/liaison-broker" -c "$T/broker.cfg" 2>>"$T/broker.log" &
        bp=$!
        n=0
        until grep -q 'power cut' "$T/first$i.lossyfs.log" || grep -q 'event=listening' "$T/broker.log"; do
            n=$((n + 1)); [ $n -lt 2400 ] || fail "first start $i: the broker neither started nor met the cut"
            sleep 0.05
        done
        kill -9 "$bp" 2>/dev/null || true
        wait "$bp" 2>/dev/null || true
        if ! grep -q 'power cut' "$T/first$i.lossyfs.log"; then
            lossy_cut "first$i"
            echo "  a first start took $((i - 1)) sync points"
            break
        fi
        said=$(grep -o 'level=error.*' "$T/broker.log" | head -n 1 | cut -c1-120)
        lossy_cut "first$i"
        lossy_mount "first$i"
        verdict0="audit verify ok"
        if ! "$BIN/liaisonctl" audit verify --data-dir "$T/first$i/store" >"$T/verify.out" 2>&1; then
            verdict0="audit verify FAILED: $(tail -n 1 "$T/verify.out" | sed 's/.*read-only: //')"
            bad "audit verify after a cut during a first start"
        fi
        start_broker # fails the run if it cannot start on what the cut left
        stop_broker
        if [ "$verdict0" != "audit verify ok" ]; then
            if "$BIN/liaisonctl" audit verify --data-dir "$T/first$i/store" >/dev/null 2>&1; then
                verdict0="$verdict0 (it passes once a broker has started on the store)"
            else
                verdict0="$verdict0 (and still after a broker has started on the store)"
            fi
        fi
        lossy_cut "first$i"
        echo "  cut at sync point $i: ${said:-the broker logged no error}; then it starts; $verdict0"
        i=$((i + 1))
    done
    cp "$T/broker.main.cfg" "$T/broker.cfg"
fi

if want_phase 1; then
    mount_next brokerfs 0 "$SPAN"
    start_broker
    ctl rocu sub 'alert.>' --durable feed --timeout 0.3 >/dev/null 2>&1 || true # the durable
    lossy_arm brokerfs

    echo "phase 1: broker data_dir on lossyfs, $N messages, a cut every ~$STEP acks"
    : >"$T/acked.txt"
    "$BIN/tools/retrypub" "$T/police.cfg" "$N" "$T/acked.txt" "$WINDOW" 2>"$T/retrypub.err" &
    PUB=$!
    PIDS="$PIDS $PUB"
    (
        while [ ! -f "$T/sub.stop" ]; do
            "$BIN/liaisonctl" -c "$T/rocu.cfg" sub 'alert.>' --durable feed --timeout 2 >>"$T/got.jsonl" 2>>"$T/sub.err" || true
        done
    ) &
    SUBLOOP=$!
    PIDS="$PIDS $SUBLOOP"

    acked_n() { wc -l <"$T/acked.txt" | tr -d ' '; }
    for k in $(seq 1 "$CUTS"); do
        want=$((k * STEP - STEP / 2 + RANDOM % STEP))
        n=0
        while :; do
            if [ "$MODE" = at-sync ]; then # cut k is the k-th report line
                [ "$(count "$T/brokerfs.lossyfs.log" 'power cut')" -ge "$k" ] && break
            else
                [ "$(acked_n)" -ge "$want" ] && break
            fi
            kill -0 "$PUB" 2>/dev/null || break
            sleep 0.05
            n=$((n + 1)); [ $n -lt 12000 ] || fail "publisher stalled at $(acked_n) acks"
        done
        # A random moment in the broker's commit cycle, not just after an ack.
        [ "$MODE" = at-sync ] || sleep "0.0$((RANDOM % 10))"
        # The broker dies mid-stream (stopping the publisher first would let it
        # finish its commit and idle). Then the publisher is held, so that
        # acked.txt is what it saw; an ack it read just before the kill but
        # writes after the copy only moves that message from "acked" to
        # "recovered" here, and the end-of-run check counts it properly.
        kill -9 "$BROKER_PID" 2>/dev/null || true # at-sync: it may have stopped itself
        kill -STOP "$PUB" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
        BROKER_PID=""
        cut -d' ' -f1 "$T/acked.txt" >"$T/cut$k.acked"
        cat "$T/broker.log" >>"$T/broker.all.log"
        mode=$MODE
        lossy_cut brokerfs
        report=$(short_report brokerfs)
        last=""
        [ "$k" -lt "$CUTS" ] || last=1
        mount_next brokerfs "$k" "$SPAN" $last
        verify_store "$T/brokerfs/store" "cut $k"
        start_broker
        msg alert.fault.marker OFFICIAL ",\"msg_id\":\"marker-$k\"" | ctl marker pub - >/dev/null ||
            fail "marker publish after cut $k"
        replay_until checker "marker-$k" "$T/cut$k.store"
        ids "$T/cut$k.store" >"$T/cut$k.ids"
        classify "$T/cut$k.acked" "$T/cut$k.ids" fault "$N"
        echo "cut $k ($mode) after $(wc -l <"$T/cut$k.acked" | tr -d ' ') acks: $report"
        verdict "store after cut $k" "cut$k"
        lossy_arm brokerfs
        kill -CONT "$PUB" 2>/dev/null || true
    done

    wait "$PUB" || fail "publisher failed: $(tail -n 3 "$T/retrypub.err")"
    PIDS=${PIDS/ $PUB/}
    msg alert.fault.marker OFFICIAL ',"msg_id":"marker-end"' | ctl marker pub - >/dev/null || fail "final marker"
    replay_until checker marker-end "$T/final.store"
    ids "$T/final.store" >"$T/final.ids"
    cut -d' ' -f1 "$T/acked.txt" >"$T/final.acked"
    classify "$T/final.acked" "$T/final.ids" fault "$N"
    acked=$(sort -u "$T/final.acked" | wc -l | tr -d ' ')
    echo "phase 1 end: $acked of $N acked, $(grep -vc '^marker-' "$T/final.ids") stored"
    verdict "store at the end" final
    [ "$acked" -eq "$N" ] || { echo "  only $acked of $N acked"; bad "not every message acked"; }
    # The seq each PubAck named is where the message is.
    sed -n 's/^{"seq":\([0-9]*\),.*"msg_id":"\(fault-[0-9]*\)".*/\2 \1/p' "$T/final.store" | sort -u >"$T/stored.pairs"
    sort -u "$T/acked.txt" >"$T/acked.pairs"
    moved=$(comm -23 "$T/acked.pairs" "$T/stored.pairs" | wc -l | tr -d ' ')
    echo "  acks naming a seq the message is not at: $moved"
    [ "$moved" -eq 0 ] || bad "acks naming the wrong seq"

    # The durable subscriber: every stored message at least once, or its
    # cursor got ahead of its acks somewhere. The wait is a safety net.
    sort -u "$T/c.stored.u" >"$T/want.sub"
    n=0
    while :; do
        ids "$T/got.jsonl" | sort -u >"$T/got.ids"
        missing=$(comm -23 "$T/want.sub" "$T/got.ids" | wc -l | tr -d ' ')
        [ "$missing" -eq 0 ] && break
        n=$((n + 1))
        [ $n -lt 600 ] || break
        sleep 0.2
    done
    touch "$T/sub.stop"
    wait "$SUBLOOP" 2>/dev/null || true
    got=$(ids "$T/got.jsonl" | grep -vc '^marker-')
    echo "  durable subscriber: missed $missing, $got deliveries, $((got - $(wc -l <"$T/want.sub"))) of them repeats"
    [ "$missing" -eq 0 ] || bad "the durable subscriber missed messages"
    stop_broker
    verify_store "$T/brokerfs/store" "the end of phase 1"
    lossy_cut brokerfs
fi

# ---- phase 2: the agent ---------------------------------------------------------
if want_phase 2; then
    keygen prison
    broker_cfg <<EOF2
$(agent prison '"alert.>"' '' SECRET '' '"publisher"' prison yorkshire),
$(agent checker '' '"alert.>"' SECRET '' '"receiver"' rocu)
EOF2
    sed -i 's|data_dir = "data/broker"|data_dir = "data/broker2"|' "$T/broker.cfg"
    agent_cfg checker
    agent_full_cfg prison spool/prison </dev/null
    sed -i 's|data_dir = "data/prison"|data_dir = "agentfs/prison"|' "$T/prison.agent.cfg"
    grep -q 'agentfs/prison' "$T/prison.agent.cfg" || fail "could not move the agent's data_dir onto lossyfs"
    S=$T/spool/prison
    FIRST_CUT=1
    mount_next agentfs 1000 100
    start_broker
    start_agent prison
    lossy_arm agentfs
    echo "phase 2: agent data_dir on lossyfs, spool files dropped all along"
    # The dropper: files arrive while the agent runs, dies and restarts.
    (
        i=0
        while [ ! -f "$T/drop.stop" ]; do
            msg "alert.agent.n$i" OFFICIAL ",\"msg_id\":\"spool-$i\"" "file $i" | drop "$S" "n$i.json"
            i=$((i + 1))
            echo "$i" >"$T/dropped.count"
        done
    ) &
    DROPPER=$!
    PIDS="$PIDS $DROPPER"
    done_ids() { find "$S/done" -maxdepth 1 -name 'n*.json' -printf '%f\n' | sed 's/^n/spool-/; s/\.json$//'; }
    for k in $(seq 1 "$CUTS"); do
        # At a random moment, once the agent has taken something since it
        # restarted (the wait is a safety net).
        # Half the cuts come while the broker is down (it is on the ordinary
        # disk, so kill -9 is safe for it): the outbox then holds what was
        # taken and not yet published, which is what this phase is about.
        down=$((RANDOM % 2))
        if [ "$down" = 1 ]; then
            kill -9 "$BROKER_PID"
            wait "$BROKER_PID" 2>/dev/null || true
            BROKER_PID=""
            cat "$T/broker.log" >>"$T/broker.all.log"
        fi
        before=$(files_in "$S/done")
        if [ "$MODE" = at-sync ]; then
            wait_count "$T/agentfs.lossyfs.log" 'power cut' "$k" 120 # cut k: the k-th report
        else
            wait_files "$S/done" $((before + 1 + RANDOM % 20)) 120
            sleep "0.0$((RANDOM % 10))"
        fi
        crash_agent prison
        done_ids >"$T/agentcut$k.done"
        mode=$MODE
        lossy_cut agentfs
        report=$(short_report agentfs)
        last=""
        [ "$k" -lt "$CUTS" ] || last=1
        mount_next agentfs $((1000 + k)) 100 $last
        [ "$down" = 0 ] || start_broker
        start_agent prison # exits at start if the outbox does not open
        lossy_arm agentfs
        where="broker up"
        [ "$down" = 0 ] || where="broker down"
        echo "agent cut $k ($mode, $where) with $(wc -l <"$T/agentcut$k.done" | tr -d ' ') files in done/: $report"
    done
    touch "$T/drop.stop"
    wait "$DROPPER" 2>/dev/null || true
    PIDS=${PIDS/ $DROPPER/}
    dropped=$(cat "$T/dropped.count")
    # Everything dropped leaves the spool and reaches the broker; the marker
    # file comes last, and the agent publishes in order.
    msg alert.agent.marker OFFICIAL ',"msg_id":"marker-agent"' | drop "$S" "zz-marker.json"
    wait_files "$S/done" $((dropped + 1)) 120
    replay_until checker marker-agent "$T/agent.store"
    ids "$T/agent.store" >"$T/agent.ids"
    done_ids >"$T/agent.done"
    classify "$T/agent.done" "$T/agent.ids" spool "$dropped"
    # Recovered, for the agent: publishes the broker answered as repeats (the
    # agent re-sent them after a cut because their PubAck had not reached its
    # outbox), which the dedup turned into the original's seq.
    RECOV=$(count "$T/prison.agent.log" 'event=published .*duplicate=1')
    echo "phase 2 end: $dropped dropped, $(wc -l <"$T/agent.done" | tr -d ' ') in done/, $(grep -vc '^marker-' "$T/agent.ids") stored, $(files_in "$S/rejected") rejected"
    verdict "broker store, for the agent's files" agent
    [ "$(files_in "$S/rejected")" -eq 0 ] || bad "spool files rejected"
    stop_agent prison
    stop_broker
    lossy_cut agentfs
fi

if [ "$BAD" -ne 0 ]; then
    echo "powerloss FAILED: $WHY (seed $SEED; KEEP=1 keeps $T)"
    exit 1
fi
echo "powerloss ok: phases $PHASES, $CUTS cuts in each of 1 and 2, nothing acked lost, every store verified"
