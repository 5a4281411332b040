# 23: the ROCU's inbox directory disappears, then is replaced by something
# that cannot be written (a plain file where the directory was). Each time
# the agent reports the failure, Nacks the delivery and retries later; once
# the directory is back, everything arrives. Nothing is lost and nothing is
# written twice: across the old and the new directory, every sequence
# appears exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
keygen broker prison rocu
broker_cfg <<EOF2
$(agent prison '"alert.yorkshire.hmp-hull.>"' '' OFFICIAL-SENSITIVE '"PRISON-INTEL"' '"publisher"' prison yorkshire),
$(agent rocu '' '"alert.yorkshire.>"' SECRET '"PRISON-INTEL"' '"receiver"' rocu yorkshire)
EOF2
agent_cfg prison
sub_entry regional 'alert.yorkshire.>' dir:inbox/rocu | agent_full_cfg rocu
start_broker
start_agent rocu
wait_for "$T/rocu.agent.log" "event=subscribed sub=regional"
pub() { msg alert.yorkshire.hmp-hull.n$1 OFFICIAL ",\"msg_id\":\"hull-$1\"" "note $1" | ctl prison pub - >/dev/null || fail "publish $1"; }

pub 1
wait_files "$T/inbox/rocu" 1

# The directory goes away (an unmounted share, a clean-up script...).
mv "$T/inbox/rocu" "$T/inbox/rocu.before"
pub 2
pub 3
wait_for "$T/rocu.agent.log" "event=sink_failed sub=regional seq=2 reason=\"dir $T/inbox/rocu: cannot open the directory: No such file or directory\" action=nack"
# The agent does not quietly re-create it; it waits for it to come back.
[ ! -e "$T/inbox/rocu" ] || fail "the agent re-created the missing inbox"
mkdir "$T/inbox/rocu"
wait_files "$T/inbox/rocu" 2

# Now a plain file where the directory should be.
mv "$T/inbox/rocu" "$T/inbox/rocu.middle"
: >"$T/inbox/rocu"
pub 4
wait_for "$T/rocu.agent.log" "event=sink_failed sub=regional seq=4 .*Not a directory\" action=nack"
rm "$T/inbox/rocu"
mkdir "$T/inbox/rocu"
wait_files "$T/inbox/rocu" 1
pub 5
wait_files "$T/inbox/rocu" 2

all=$(cd "$T/inbox" && ls rocu.before rocu.middle rocu | grep json | sort | tr '\n' ' ')
assert_eq "$all" "000000000001.json 000000000002.json 000000000003.json 000000000004.json 000000000005.json " "each sequence once"
assert_contains "$T/inbox/rocu.middle/000000000002.json" '"msg_id":"hull-2"'
assert_contains "$T/inbox/rocu/000000000004.json" '"msg_id":"hull-4"'
stop_agent rocu
stop_broker
echo "23 ok"
