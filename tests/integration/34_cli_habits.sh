# 34: liaisonctl fits the habits users bring. --help on the program and on
# every command exits 0 and describes every flag it parses; a bad flag is
# named (exit 2); --version; -c before or after the command, and
# LIAISON_CONFIG; strict numbers; pub from flags (everything missing named
# at once, the label checked before anything is sent, the bytes of a body
# file intact); "seq N (duplicate)" and pub --json; --since with offsets and
# relative times while label dates stay strict; deadletters as a table; watch
# on a terminal (header, cut to 80x24, q quits, the terminal restored after
# q and after a signal); the man pages lint clean and cover every flag and
# config key; the bash completion offers what --help lists; make install
# puts it all in place.
. "$(dirname "$0")/lib.sh"
C=$BIN/liaisonctl
unset LIAISON_CONFIG

# expect_usage FILE CMD...: runs liaisonctl, wants exit 2 and nothing on
# stdout, and leaves stderr in FILE.
expect_usage() {
    f=$1
    shift
    rc=0
    "$C" "$@" >"$T/usage.out" 2>"$f" || rc=$?
    [ "$rc" -eq 2 ] || fail "liaisonctl $* exited $rc, not 2"
    [ ! -s "$T/usage.out" ] || fail "liaisonctl $* printed: $(head -c 200 "$T/usage.out")"
}

# help_flags CMD...: the long flags that CMD --help lists, one a line.
help_flags() {
    "$C" "$@" --help | sed -n 's/^ *\(-[A-Za-z], \)\{0,1\}--\([a-z][a-z-]*\).*/\2/p' | sort -u
}

# ---- --help, bad flags, --version: no broker needed ---------------------------
COMMANDS="keygen pub sub whoami status agents subs topics watch deadletters durables audit"
for cmd in "" $COMMANDS "audit tail" "audit export" "audit verify"; do
    # shellcheck disable=SC2086 # cmd is one or two words
    "$C" $cmd --help >"$T/help.out" 2>"$T/help.err" || fail "liaisonctl $cmd --help did not exit 0"
    [ ! -s "$T/help.err" ] || fail "liaisonctl $cmd --help wrote to stderr"
    assert_contains "$T/help.out" "usage: liaisonctl"
    assert_contains "$T/help.out" "exit status"
    # Every flag the help lists is one the command parses: with a value
    # missing it is "needs a value", given a value it does not take it is
    # "takes no value", never an unknown flag.
    # shellcheck disable=SC2086
    for f in $(help_flags $cmd); do
        [ "$f" = help ] && continue
        [ "$f" = version ] && continue
        rc=0
        # shellcheck disable=SC2086
        "$C" $cmd "--$f" >/dev/null 2>"$T/flag.err" </dev/null || rc=$?
        if grep -q "needs a value" "$T/flag.err"; then
            :
        else
            rc=0
            # shellcheck disable=SC2086
            "$C" $cmd "--$f=x" >/dev/null 2>"$T/flag.err" </dev/null || rc=$?
            assert_contains "$T/flag.err" "takes no value"
        fi
        assert_not_contains "$T/flag.err" "unknown"
        [ "$rc" -eq 2 ] || fail "liaisonctl $cmd --$f: exit $rc, not 2"
    done
done
# --help describes each flag on its line, not only names it.
"$C" pub --help >"$T/pub.help"
for f in topic classification grading handling risk risk-basis risk-ref caveat release-to subject \
    conditions msg-id review-at expires-at embargo-until body body-file json config; do
    grep -q -- "--$f [A-Z]*  *[a-zA-Z({\"]" "$T/pub.help" || grep -q -- "--$f  *[a-z]" "$T/pub.help" ||
        fail "pub --help does not describe --$f"
done
# The old trap: "pub --help" opened a file named --help.
assert_not_contains "$T/pub.help" "No such file"

expect_usage "$T/bad.err" pub --bogus
assert_contains "$T/bad.err" '"--bogus"'
expect_usage "$T/bad.err" status -q
assert_contains "$T/bad.err" '"-q"'
expect_usage "$T/bad.err" sub 'alert.>' --count
assert_contains "$T/bad.err" "--count needs a value"
expect_usage "$T/bad.err" status --json=yes
assert_contains "$T/bad.err" "--json takes no value"
expect_usage "$T/bad.err" frobnicate
assert_contains "$T/bad.err" '"frobnicate"'
expect_usage "$T/bad.err" audit rewrite
assert_contains "$T/bad.err" '"rewrite"'
expect_usage "$T/bad.err" status
assert_contains "$T/bad.err" "LIAISON_CONFIG"

want=$(sed -n 's/^#define LIAISON_VERSION "\(.*\)"$/\1/p' "$ROOT/common/util.h")
[ -n "$want" ] || fail "no LIAISON_VERSION in common/util.h"
assert_eq "$("$C" --version)" "liaisonctl $want" "--version"
assert_eq "$("$C" -V)" "liaisonctl $want" "-V"

# ---- a broker --------------------------------------------------------------------
keygen broker police rocu ops auditor
broker_cfg <<EOF2
$(agent police '"alert.>", "poison.>"' '' SECRET '"OPX"'),
$(agent rocu '' '"alert.>", "poison.>"' SECRET '"OPX"' '"receiver"' rocu yorkshire),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national),
$(agent auditor '' '' OFFICIAL '' '"auditor"' marsoc national)
EOF2
# Dead letters come quickly: two attempts 300 ms apart.
sed -i 's|heartbeat_ms = 1000;|heartbeat_ms = 200; ack_timeout_ms = 300; max_deliver = 2;|' "$T/broker.cfg"
for a in police rocu ops auditor; do agent_cfg $a; done
start_broker

# -c before the command, after it, in the middle of its flags; LIAISON_CONFIG;
# and -c wins over the environment.
msg alert.a.one OFFICIAL ',"msg_id":"c-1"' >"$T/one.json"
"$C" -c "$T/police.cfg" pub "$T/one.json" >"$T/c1.out" || fail "-c before pub"
assert_eq "$(cat "$T/c1.out")" "seq 1" "-c before the command"
"$C" pub "$T/one.json" -c "$T/police.cfg" >"$T/c2.out" || fail "-c after pub"
assert_eq "$(cat "$T/c2.out")" "seq 1 (duplicate)" "-c after the command; a repeat says so"
"$C" status -c "$T/ops.cfg" --json >"$T/c3.out" || fail "-c after status"
assert_contains "$T/c3.out" '"messages":1'
LIAISON_CONFIG=$T/ops.cfg "$C" status --json >"$T/c4.out" || fail "LIAISON_CONFIG"
assert_contains "$T/c4.out" '"messages":1'
# One release: the broker reports the version liaisonctl does.
assert_contains "$T/c4.out" "\"version\":\"$want\""
LIAISON_CONFIG=$T/missing.cfg "$C" -c "$T/ops.cfg" agents --json >"$T/c5.out" || fail "-c over LIAISON_CONFIG"
LIAISON_CONFIG=$T/missing.cfg "$C" agents --json -c "$T/ops.cfg" >"$T/c6.out" || fail "-c after, over LIAISON_CONFIG"
LIAISON_CONFIG=$T/police.cfg "$C" -c "$T/missing.cfg" status 2>"$T/c7.err" && fail "a missing -c file was ignored"
assert_contains "$T/c7.err" "missing.cfg"

# ---- numbers are strict ------------------------------------------------------------
expect_usage "$T/n.err" -c "$T/auditor.cfg" audit tail -n abc
assert_contains "$T/n.err" '"abc"'
expect_usage "$T/n.err" -c "$T/auditor.cfg" audit tail -n 0
expect_usage "$T/n.err" -c "$T/rocu.cfg" sub 'alert.>' --count -5
assert_contains "$T/n.err" '"-5"'
expect_usage "$T/n.err" -c "$T/rocu.cfg" sub 'alert.>' --count 3x
expect_usage "$T/n.err" -c "$T/rocu.cfg" sub 'alert.>' --from-seq 0
expect_usage "$T/n.err" -c "$T/rocu.cfg" sub 'alert.>' --timeout 1e3
expect_usage "$T/n.err" -c "$T/ops.cfg" watch --interval 0
expect_usage "$T/n.err" -c "$T/ops.cfg" watch --count ' 2'
expect_usage "$T/n.err" -c "$T/ops.cfg" topics --depth 9
expect_usage "$T/n.err" -c "$T/ops.cfg" deadletters requeue 1x rocu/poison
"$C" -c "$T/auditor.cfg" audit tail -n 2 >"$T/tail.out" || fail "audit tail -n 2"
assert_eq "$(wc -l <"$T/tail.out" | tr -d ' ')" 2 "audit tail -n 2 lines"

# ---- pub from flags ------------------------------------------------------------------
# Everything missing, named at once; nothing sent.
expect_usage "$T/p.err" -c "$T/police.cfg" pub --topic alert.a.flags
for f in --classification --grading --handling --risk --body; do assert_contains "$T/p.err" "$f"; done
assert_eq "$(grep -c . "$T/p.err")" 2 "one line naming them all, then the pointer to --help"
assert_not_contains "$T/p.err" "--topic"
# Bad labels are refused here, by the broker's own rules, before sending.
base="--topic alert.a.flags --classification OFFICIAL --grading 2B --handling P --body x"
# shellcheck disable=SC2086
expect_usage "$T/p.err" -c "$T/police.cfg" pub $base --risk HIGH
assert_contains "$T/p.err" "BAD_RISK"
# shellcheck disable=SC2086
expect_usage "$T/p.err" -c "$T/police.cfg" pub $base --risk LOW --grading 4F
assert_contains "$T/p.err" "grading"
# shellcheck disable=SC2086
expect_usage "$T/p.err" -c "$T/police.cfg" pub $base --risk LOW --release-to rocu
assert_contains "$T/p.err" "BAD_RELEASE_TO"
# shellcheck disable=SC2086
expect_usage "$T/p.err" -c "$T/police.cfg" pub $base --risk LOW --caveat lower
assert_contains "$T/p.err" "BAD_CAVEAT"
# shellcheck disable=SC2086
expect_usage "$T/p.err" -c "$T/police.cfg" pub $base --risk LOW "$T/one.json"
assert_contains "$T/p.err" "not both"
# Label dates stay strict: no offsets in a label.
# shellcheck disable=SC2086
expect_usage "$T/p.err" -c "$T/police.cfg" pub $base --risk LOW --expires-at 2099-01-01T00:00:00+01:00
assert_contains "$T/p.err" "expires_at"
# shellcheck disable=SC2086
expect_usage "$T/p.err" -c "$T/police.cfg" pub $base --risk LOW --review-at 1h
assert_contains "$T/p.err" "review_at"
"$C" -c "$T/ops.cfg" status --json >"$T/s.json"
assert_contains "$T/s.json" '"publish_refused":0'

# A full label from flags reaches the subscriber as the JSON would have.
sub_bg rocu 'alert.a.flags' --count 1 --timeout 20
"$C" -c "$T/police.cfg" pub --topic alert.a.flags --classification OFFICIAL-SENSITIVE \
    --grading 1A --handling C --release-to type:rocu --release-to agency:police --risk HIGH \
    --risk-basis "armed" --risk-ref RA-7 --caveat OPX --subject A1234BC --subject B7654ZZ \
    --conditions "no disclosure" --msg-id flags-1 --review-at 2030-01-01 \
    --expires-at 2099-01-01T00:00:00Z --body "Drone drop at 2300" >"$T/f1.out" || fail "pub from flags"
assert_eq "$(cat "$T/f1.out")" "seq 2" "pub from flags"
sub_wait rocu || fail "the flag-built message was not delivered"
for want in '"seq":2' '"msg_id":"flags-1"' '"classification":"OFFICIAL-SENSITIVE"' '"grading":"1A"' \
    '"handling":"C"' '"release_to":\["type:rocu","agency:police"\]' '"risk":"HIGH"' \
    '"risk_basis":"armed"' '"risk_ref":"RA-7"' '"caveats":\["OPX"\]' \
    '"subjects":\["A1234BC","B7654ZZ"\]' '"conditions":"no disclosure"' '"review_at":"2030-01-01"' \
    '"expires_at":"2099-01-01T00:00:00Z"' '"content_type":"text/plain"' '"body":"Drone drop at 2300"'; do
    grep -q -- "$want" "$T/rocu.out" || fail "delivery lacks $want: $(cat "$T/rocu.out")"
done
# The same again is a duplicate, with the original's sequence.
"$C" -c "$T/police.cfg" pub --topic alert.a.flags --classification OFFICIAL --grading 2B \
    --handling P --risk LOW --msg-id flags-1 --body "again" >"$T/f2.out" || fail "repeat from flags"
assert_eq "$(cat "$T/f2.out")" "seq 2 (duplicate)" "repeat from flags"
# A body file's bytes arrive intact, whatever they are.
printf '\000\001\377binary' >"$T/body.bin"
"$C" -c "$T/police.cfg" pub --topic alert.a.bin --classification OFFICIAL --grading 2B --handling P \
    --risk LOW --msg-id bin-1 --content-type application/octet-stream --body-file "$T/body.bin" \
    >"$T/f3.out" || fail "pub --body-file"
assert_eq "$(cat "$T/f3.out")" "seq 3" "pub --body-file"
"$C" -c "$T/rocu.cfg" sub 'alert.a.bin' --from-seq 3 --count 1 --timeout 20 >"$T/bin.out" 2>/dev/null ||
    fail "replay of the binary body"
assert_contains "$T/bin.out" "\"body_base64\":\"$(base64 <"$T/body.bin")\""
echo "text body" >"$T/body.txt"
"$C" -c "$T/police.cfg" pub --topic alert.a.txt --classification OFFICIAL --grading 2B --handling P \
    --risk LOW --msg-id txt-1 --body-file - <"$T/body.txt" >"$T/f4.out" || fail "pub --body-file -"
assert_eq "$(cat "$T/f4.out")" "seq 4" "pub --body-file -"

# pub --json: one object per message, duplicates flagged.
{ msg alert.a.j OFFICIAL ',"msg_id":"j-1"'; msg alert.a.j OFFICIAL ',"msg_id":"c-1"'; } >"$T/j.jsonl"
"$C" -c "$T/police.cfg" pub --json "$T/j.jsonl" >"$T/j.out" || fail "pub --json"
assert_eq "$(sed -n 1p "$T/j.out")" '{"seq":5,"msg_id":"j-1","duplicate":false}' "pub --json, new"
assert_eq "$(sed -n 2p "$T/j.out")" '{"seq":1,"msg_id":"c-1","duplicate":true}' "pub --json, repeat"
"$C" -c "$T/police.cfg" pub --json --topic alert.a.j --classification OFFICIAL --grading 2B --handling P \
    --risk LOW --msg-id j-2 --body x >"$T/j2.out" || fail "pub --json from flags"
assert_eq "$(cat "$T/j2.out")" '{"seq":6,"msg_id":"j-2","duplicate":false}' "pub --json from flags"

# ---- --since: offsets and how long ago ---------------------------------------------------
# Six messages are stored, all received within the last minutes.
for ago in 1h 30m 45s 2d 1h30m; do
    "$C" -c "$T/rocu.cfg" sub 'alert.>' --since "$ago" --count 6 --timeout 20 >"$T/since.out" 2>/dev/null ||
        fail "sub --since $ago"
    assert_eq "$(wc -l <"$T/since.out" | tr -d ' ')" 6 "sub --since $ago"
done
# Half an hour ago written at +01:00 and at -01:00. Were the offset
# ignored, the first would be in the future (nothing) and the second an hour
# and a half ago (everything).
past=$(date -u -d '-30 min +1 hour' +%Y-%m-%dT%H:%M:%S)+01:00
future=$(date -u -d '+30 min -1 hour' +%Y-%m-%dT%H:%M:%S)-01:00
"$C" -c "$T/rocu.cfg" sub 'alert.>' --since "$past" --count 6 --timeout 20 >"$T/since.out" 2>/dev/null ||
    fail "sub --since $past"
assert_eq "$(wc -l <"$T/since.out" | tr -d ' ')" 6 "sub --since with +01:00"
"$C" -c "$T/rocu.cfg" sub 'alert.>' --since "$future" --timeout 1 >"$T/since.out" 2>/dev/null ||
    fail "sub --since $future"
assert_eq "$(wc -l <"$T/since.out" | tr -d ' ')" 0 "sub --since with -01:00 half an hour from now"
expect_usage "$T/n.err" -c "$T/rocu.cfg" sub 'alert.>' --since 5x
expect_usage "$T/n.err" -c "$T/rocu.cfg" sub 'alert.>' --since 2026-12-01T10:00:00+25:00
# audit export --since too.
"$C" -c "$T/auditor.cfg" audit export --since 1h --action publish >"$T/ae.out" || fail "audit export --since 1h"
assert_contains "$T/ae.out" '"action":"publish"'
"$C" -c "$T/auditor.cfg" audit export --since "$future" --action publish >"$T/ae2.out" ||
    fail "audit export --since an offset"
assert_eq "$(wc -l <"$T/ae2.out" | tr -d ' ')" 0 "audit export --since the future"

# ---- deadletters: a table by default, --json for JSON ------------------------------------
"$C" -c "$T/ops.cfg" deadletters >"$T/dl0.out" || fail "deadletters, none"
assert_eq "$(cat "$T/dl0.out")" "no dead letters" "deadletters with none"
"$C" -c "$T/rocu.cfg" sub 'poison.>' --durable poison --timeout 0.3 >/dev/null 2>&1 || true
msg poison.a.one OFFICIAL | "$C" -c "$T/police.cfg" pub - >"$T/poison.out" || fail "pub poison"
pseq=$(sed -n 's/^seq \([0-9]*\)$/\1/p' "$T/poison.out")
# A consumer that never acks and stays: the message is a dead letter once it
# has had its deliveries (one that leaves takes it again on its return).
"$C" -c "$T/rocu.cfg" sub 'poison.>' --durable poison --no-ack --timeout 30 >/dev/null 2>&1 &
POISON=$!
PIDS="$PIDS $POISON"
wait_for "$T/broker.log" "event=dead_letter agent=rocu"
kill "$POISON" 2>/dev/null || true
wait "$POISON" 2>/dev/null || true
wait_deadletter ops "$pseq"
"$C" -c "$T/ops.cfg" deadletters >"$T/dl.out" || fail "deadletters"
assert_eq "$(sed -n 1p "$T/dl.out" | tr -s ' ')" "SEQ DURABLE REASON" "deadletters heading"
assert_eq "$(sed -n 2p "$T/dl.out" | tr -s ' ' | sed 's/^ //')" "$pseq rocu/poison max_deliver reached" "deadletters row"
"$C" -c "$T/ops.cfg" deadletters list --json >"$T/dl.json" || fail "deadletters --json"
assert_eq "$(cat "$T/dl.json")" "{\"dead_letters\":[{\"seq\":$pseq,\"durable\":\"rocu/poison\",\"reason\":\"max_deliver reached\"}]}" "deadletters --json"
"$C" -c "$T/ops.cfg" deadletters requeue "$pseq" rocu/poison >"$T/rq.out" || fail "requeue"
assert_eq "$(cat "$T/rq.out")" "requeued seq $pseq of rocu/poison" "requeue"

# ---- watch on a terminal -------------------------------------------------------------------
# Enough agents that the views are longer than 24 lines, and a wide one.
# `script` gives watch a pseudo-terminal of 80x24; keys go in through a FIFO
# held open, so the terminal sees no end of input before the q.
need_tty() { command -v script >/dev/null || fail "script (util-linux) is missing: run sh tests/deps.sh test"; }
need_tty
mkfifo "$T/watch.keys"
# run_watch NAME: watch under script, its pty's name in $T/NAME.pty, the
# terminal mode before and after in the transcript $T/NAME.tty.
run_watch() {
    script -qfec "stty cols 80 rows 24; tty >'$T/$1.pty'; echo BEFORE \$(stty -g);
        sh -c 'echo \$\$ >\"$T/$1.pid\"; exec \"$C\" -c \"$T/ops.cfg\" watch --interval 0.5';
        echo WATCH-RC=\$?; echo AFTER \$(stty -g)" /dev/null <"$T/watch.keys" >"$T/$1.tty" 2>&1 &
    WATCH_SCRIPT=$!
    PIDS="$PIDS $WATCH_SCRIPT"
    exec 3>"$T/watch.keys"
    wait_for "$T/$1.tty" "q to quit"
    wait_for "$T/$1.tty" "TOPICS" # a whole screen drawn
}
# While watch runs, its terminal is non-canonical and does not echo.
check_raw() { stty -F "$(cat "$T/$1.pty")" -a >"$T/$1.mode" || fail "cannot read the watch terminal's mode"
    assert_contains "$T/$1.mode" "-icanon"
    assert_contains "$T/$1.mode" "-echo "
}
check_restored() {
    rc=0
    wait "$WATCH_SCRIPT" || rc=$?
    exec 3>&-
    [ "$rc" -eq 0 ] || fail "watch under script exited $rc: $(cat -v "$T/$1.tty" | tail -n 5)"
    assert_contains "$T/$1.tty" "WATCH-RC=0"
    before=$(sed -n 's/^BEFORE \([^[:space:]]*\).*/\1/p' "$T/$1.tty")
    after=$(sed -n 's/^AFTER \([^[:space:]]*\).*/\1/p' "$T/$1.tty")
    [ -n "$before" ] || fail "no terminal mode recorded"
    assert_eq "$after" "$before" "terminal mode after watch ($1)"
}
run_watch q
check_raw q
printf q >&3
check_restored q
# The first screen: the header, then lines no wider than 80 columns, and no
# more than 24 of them.
sed -n '/q to quit/,$p' "$T/q.tty" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/\r$//' >"$T/screen.txt"
head -n 1 "$T/screen.txt" | grep -Eq '^liaisonctl watch  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  every 0.5s  q to quit$' ||
    fail "watch header: $(head -n 1 "$T/screen.txt")"
awk '/^WATCH-RC=/ { exit } length($0) > 80 { bad = 1; print "too wide: " $0 } END { exit bad }' "$T/screen.txt" ||
    fail "watch drew lines wider than 80 columns"
# Screens are drawn from the home position; count the lines of the first.
# A screen ends where it clears below itself (ESC [J).
tr -d '\r' <"$T/q.tty" | awk 'BEGIN { RS = "\033\\[H" } NR == 2 { print }' | sed '/\x1b\[J/q' >"$T/first.txt"
lines=$(grep -c '' "$T/first.txt")
[ "$lines" -le 24 ] || fail "watch drew $lines lines on a 24-line terminal"
assert_contains "$T/first.txt" "more lines"
# A signal restores the terminal too.
run_watch sig
check_raw sig
kill -TERM "$(cat "$T/sig.pid")"
check_restored sig

# ---- man pages -------------------------------------------------------------------------------
command -v mandoc >/dev/null || fail "mandoc is missing: run sh tests/deps.sh test"
for page in liaisonctl.1 liaison-broker.1 liaison-agent.1 broker.cfg.5 agent.cfg.5; do
    m=$ROOT/docs/man/$page
    [ -f "$m" ] || fail "no docs/man/$page"
    mandoc -Tlint -W warning "$m" >"$T/lint.out" 2>&1 || fail "mandoc -Tlint $page: $(cat "$T/lint.out")"
    [ ! -s "$T/lint.out" ] || fail "mandoc -Tlint $page: $(cat "$T/lint.out")"
    ! LC_ALL=C grep -q '[^ -~	]' "$m" || fail "$page is not plain ASCII"
done
# Every flag liaisonctl's commands parse is in liaisonctl(1).
for cmd in "" $COMMANDS "audit tail" "audit export" "audit verify"; do
    # shellcheck disable=SC2086
    for f in $(help_flags $cmd); do
        grep -q -- "^\.\(It\|Op\|Fl\).*Fl -$f\b" "$ROOT/docs/man/liaisonctl.1" ||
            fail "liaisonctl(1) does not describe $cmd --$f"
    done
done
for cmd in $COMMANDS; do grep -q "$cmd" "$ROOT/docs/man/liaisonctl.1" || fail "liaisonctl(1) lacks $cmd"; done
# The broker's and agent's flags as their --help gives them, and every key
# of the shipped configs.
for f in $("$BIN/liaison-broker" --help | grep -o -- '--[a-z-]*' | sort -u); do
    grep -q -- "Fl -${f#--}" "$ROOT/docs/man/liaison-broker.1" || fail "liaison-broker(1) lacks $f"
done
for f in $("$BIN/liaison-agent" --help | grep -o -- '--[a-z-]*' | sort -u); do
    grep -q -- "Fl -${f#--}" "$ROOT/docs/man/liaison-agent.1" || fail "liaison-agent(1) lacks $f"
done
for k in $(sed -n 's/^ *{\{0,1\} *\([a-z_]*\) *= *[^{( ].*/\1/p' "$ROOT/config/broker.cfg" | sort -u); do
    grep -q "^\.It Ic $k\b" "$ROOT/docs/man/broker.cfg.5" || fail "broker.cfg(5) lacks $k"
done
for k in $(sed -n 's/^ *{\{0,1\} *\([a-z_]*\) *= *[^{( ].*/\1/p' "$ROOT/config/agent.cfg" | sort -u); do
    grep -q "^\.It Ic $k\b" "$ROOT/docs/man/agent.cfg.5" || fail "agent.cfg(5) lacks $k"
done

# ---- bash completion -----------------------------------------------------------------------
# complete WORDS...: what the completion offers for the last word.
complete_words() {
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _liaisonctl; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$ROOT/config/liaisonctl.bash-completion" "$@" | sort -u
}
assert_eq "$(complete_words liaisonctl pu)" "pub" "completes a command"
assert_eq "$(complete_words liaisonctl -c x.cfg au)" "audit" "completes a command after -c"
assert_eq "$(complete_words liaisonctl audit ta)" "tail" "completes an audit action"
assert_eq "$(complete_words liaisonctl pub --classification OFFICIAL-)" "OFFICIAL-SENSITIVE" "completes a classification"
assert_eq "$(complete_words liaisonctl pub --risk H)" "HIGH" "completes a risk"
# For each command, the flags it offers are the flags --help lists.
for cmd in "" $COMMANDS "audit tail" "audit export" "audit verify"; do
    # shellcheck disable=SC2086
    offered=$(complete_words liaisonctl $cmd -- | sed -n 's/^--//p' | sort -u | tr '\n' ' ')
    # shellcheck disable=SC2086
    listed=$(help_flags $cmd | tr '\n' ' ')
    assert_eq "$offered" "$listed" "completion flags of '$cmd'"
done

# ---- a delivered line can be published again: pub --forward ----------------------------------
"$C" -c "$T/rocu.cfg" sub 'alert.>' --from-seq 1 --count 1 --timeout 10 >"$T/fwd.in" 2>/dev/null ||
    fail "a line to forward"
"$C" -c "$T/police.cfg" pub "$T/fwd.in" >/dev/null 2>"$T/fwd0.err" && fail "a delivered line published without --forward"
assert_contains "$T/fwd0.err" "stamped by the broker"
sed 's/"msg_id":"[^"]*"/"msg_id":"forwarded-1"/' "$T/fwd.in" >"$T/fwd1.in"
"$C" -c "$T/police.cfg" pub --forward "$T/fwd1.in" >"$T/fwd.out" || fail "pub --forward of a delivered line"
grep -q '^seq [0-9]*$' "$T/fwd.out" || fail "pub --forward printed $(cat "$T/fwd.out")"

# ---- make install ----------------------------------------------------------------------------
make -C "$ROOT" -s install B="${BIN#"$ROOT"/}" PREFIX=/usr DESTDIR="$T/inst" >"$T/install.log" 2>&1 ||
    fail "make install: $(tail -n 5 "$T/install.log")"
for f in bin/liaisonctl bin/liaison-broker share/man/man1/liaisonctl.1 share/man/man1/liaison-broker.1 \
    share/man/man1/liaison-agent.1 share/man/man5/broker.cfg.5 share/man/man5/agent.cfg.5 \
    share/bash-completion/completions/liaisonctl; do
    [ -f "$T/inst/usr/$f" ] || fail "make install did not install $f"
done

stop_broker
echo "34 ok"
