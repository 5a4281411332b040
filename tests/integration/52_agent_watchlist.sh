# 52: a watchlist and a filter written in agent.cfg. A liaison-agent
# subscription with subjects (one inline, more from a subjects_file with
# comments and blank lines) and a where filter receives into its sink
# exactly the new messages about those subjects that pass the filter,
# whole or as a notice where the rule gives one, whatever the spelling.
# --check-config and the log say that it watches and how many subjects,
# never whom. A SIGHUP after the file changes subscribes the new list. A
# broker without a subject_key refuses the watchlist: logged once with its
# code, tried again on SIGHUP or the next connection, never in a loop.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker police nca hull
"$BIN/liaisonctl" keygen subjects --subject-key --dir "$T/keys" >/dev/null
broker_cfg <<EOF2
$(agent police '"alert.>"' '' SECRET '' '"publisher"' police humberside),
$(agent nca '"alert.>"' '' SECRET '' '"publisher"' rocu national),
$(agent hull '' '"alert.>"' OFFICIAL-SENSITIVE '' '"receiver"' prison yorkshire)
EOF2
sed -i 's|metrics = "";|metrics = ""; notices = [ "alert.>" ]; subject_key = "keys/subjects.subject.key";|' "$T/broker.cfg"
agent_cfg police
agent_cfg nca

# One subject inline, three in the file; A1234BC is in both, spelt two ways.
cat >"$T/hull.watch" <<'EOF2'
# HMP Hull's watchlist: one subject a line.

JOHN  smith
   A1234BC
pnc: 2019/123456X
EOF2
WHERE='risk >= MEDIUM and origin.type in (police, prison)'
printf '{ name = "watch"; pattern = "alert.>"; sink = "dir:inbox/hull";
    subjects = [ "a-1234-bc" ]; subjects_file = "hull.watch";
    where = "%s"; }' "$WHERE" | agent_full_cfg hull

# --check-config: how many and the filter, never whom.
"$BIN/liaison-agent" -c "$T/hull.agent.cfg" --check-config >"$T/check.out" ||
    fail "check-config refused the watchlist"
assert_contains "$T/check.out" "watching 4 subjects, subjects_file $T/hull.watch"
assert_contains "$T/check.out" "where $WHERE"
private() { # FILE: no subject of the watchlist, in any spelling
    for s in A1234BC a-1234-bc smith 123456X; do
        ! grep -qi -- "$s" "$1" || fail "$1 names a watched subject ($s)"
    done
}
private "$T/check.out"
# A bad line is named by its number, not its text.
sed 's|hull.watch|bad.watch|' "$T/hull.agent.cfg" >"$T/bad.agent.cfg"
printf 'A1234BC\n\n19/12A\n' >"$T/bad.watch"
if "$BIN/liaison-agent" -c "$T/bad.agent.cfg" --check-config >/dev/null 2>"$T/bad.err"; then
    fail "an ambiguous subject accepted"
fi
assert_contains "$T/bad.err" "subscriptions\[0\].subjects_file: $T/bad.watch:3: does not normalise"
assert_not_contains "$T/bad.err" "19/12A"

start_broker
start_agent hull
wait_for "$T/hull.agent.log" "event=subscribed sub=watch"
assert_contains "$T/hull.agent.log" "event=subscribed sub=watch .* filter=1 watching=4"

pub() { # AGENT TOPIC CLASSIFICATION RISK SUBJECTS MSG_ID
    basis=""
    [ "$4" = HIGH ] && basis=',"risk_basis":"threat to life"'
    printf '{"topic":"%s","classification":"%s","grading":"2B","handling":"P","risk":"%s"%s,"subjects":[%s],"msg_id":"%s","body":"b"}\n' \
        "$2" "$3" "$4" "$basis" "$5" "$6" | ctl "$1" pub - >/dev/null || fail "publish $6"
}
pub police alert.humber.one OFFICIAL MEDIUM '"A1234BC"' m1             # 1 yes
pub police alert.humber.two OFFICIAL LOW '"a1234bc"' m2                # 2 risk too low
pub police alert.humber.three OFFICIAL HIGH '"B9999ZZ"' m3             # 3 not watched
pub nca alert.national.four OFFICIAL HIGH '"A 1234 BC"' m4             # 4 origin rocu
pub police alert.humber.five OFFICIAL HIGH '"john smith"' m5           # 5 yes, from the file
pub police alert.humber.six OFFICIAL HIGH '"Someone Else"' m6          # 6 not watched
pub police alert.humber.seven OFFICIAL MEDIUM '"PNC:20190123456X"' m7  # 7 yes, from the file
pub police alert.humber.eight SECRET MEDIUM '"a-1234-bc"' m8           # 8 yes, as a notice
pub police alert.humber.nine OFFICIAL HIGH '"Other Person", "A1234BC"' m9 # 9 yes
# Deliveries come in sequence order: once 9 is in, every earlier one has
# been decided.
wait_files "$T/inbox/hull" 5
[ -f "$T/inbox/hull/000000000009.json" ] || fail "message 9 missing: $(ls "$T/inbox/hull")"
assert_eq "$(ls "$T/inbox/hull" | tr '\n' ' ')" \
    "000000000001.json 000000000005.json 000000000007.json 000000000008.json 000000000009.json " \
    "the watchlist through its filter"
assert_contains "$T/inbox/hull/000000000008.json" '"notice":true'
# Nothing of the subject (its digits could also be in a timestamp, so
# the spellings themselves, and the field).
for k in '"subjects"' 'a-1234-bc' 'A1234BC' 'a1234bc'; do
    assert_not_contains "$T/inbox/hull/000000000008.json" "$k"
done
assert_contains "$T/inbox/hull/000000000001.json" '"msg_id":"m1"'

# The file grows; SIGHUP subscribes the new list, under the same durable.
echo 'C5555EE' >>"$T/hull.watch"
kill -HUP "$(agent_pid hull)"
wait_for "$T/hull.agent.log" "event=reloaded subscriptions=1"
wait_for "$T/hull.agent.log" "event=subscribed sub=watch .* watching=5"
pub police alert.humber.ten OFFICIAL MEDIUM '"c 5555 ee"' m10          # 10 yes, newly watched
wait_files "$T/inbox/hull" 6
[ -f "$T/inbox/hull/000000000010.json" ] || fail "message 10 missing: $(ls "$T/inbox/hull")"
private "$T/hull.agent.log"
private "$T/broker.log"

# A broker without a subject_key (and so its own, new store) refuses the
# watchlist: once per connection, not in a loop; a SIGHUP tries again.
stop_broker
sed -i 's| subject_key = "keys/subjects.subject.key";||; s|data/broker|data/broker2|' "$T/broker.cfg"
start_broker
wait_for "$T/hull.agent.log" "event=subscription_refused sub=watch .*code=NO_SUBJECT_INDEX"
assert_contains "$T/hull.agent.log" 'reason="this broker has no subject_key'
sleep 2 # two heartbeats: nothing may be sent again in the meantime
assert_eq "$(count "$T/hull.agent.log" 'event=subscription_refused')" 1 "refusals before SIGHUP"
kill -HUP "$(agent_pid hull)"
wait_count "$T/hull.agent.log" 'event=subscription_refused' 2
private "$T/hull.agent.log"
stop_agent hull
stop_broker
echo "52 ok"
