# 07: a durable subscription resumes where its acks left off — after the
# subscriber goes away mid-stream (what it had not acked comes again, none
# skipped) and after a broker restart (the cursor is on disk).
. "$(dirname "$0")/lib.sh"
keygen broker police rocu ops
broker_cfg <<EOF2
$(agent police '"alert.>"' ''),
$(agent rocu '' '"alert.>"' SECRET '' '"receiver"' rocu),
$(agent ops '' '' OFFICIAL '' '"operator"' marsoc national)
EOF2
agent_cfg police; agent_cfg rocu; agent_cfg ops
start_broker
seqs() { sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$1" | tr '\n' ' '; }

# Create the durable subscription (it starts at the end of the store).
ctl rocu sub 'alert.>' --durable feed --timeout 0.2 >/dev/null 2>&1 || true
for i in 1 2 3 4 5 6; do msg alert.y.n$i OFFICIAL; done >"$T/six.json"
ctl police pub "$T/six.json" >/dev/null || fail "publish"

# Takes two and leaves: 1 and 2 acked; 3..6 were sent in the window but not acked.
ctl rocu sub 'alert.>' --durable feed --count 2 --timeout 20 >"$T/a.out" 2>/dev/null || fail "first take"
assert_eq "$(seqs "$T/a.out")" "1 2 " "first take"
# Resumes at 3: nothing acked is repeated, nothing unacked is lost.
ctl rocu sub 'alert.>' --durable feed --count 2 --timeout 20 >"$T/b.out" 2>/dev/null || fail "second take"
assert_eq "$(seqs "$T/b.out")" "3 4 " "second take"

# The cursor survives a broker restart; new messages queue while nobody listens.
stop_broker
start_broker
for i in 7 8; do msg alert.y.n$i OFFICIAL; done | ctl police pub - >/dev/null || fail "publish after restart"
# Operators see the durable subscription from the store while rocu is away.
ctl ops subs --json >"$T/subs.json" || fail "subs"
assert_contains "$T/subs.json" '"agent":"rocu","id":null,"durable":"feed","pattern":"alert.>"'

ctl rocu sub 'alert.>' --durable feed --count 4 --timeout 20 >"$T/c.out" 2>/dev/null || fail "third take"
assert_eq "$(seqs "$T/c.out")" "5 6 7 8 " "after restart"
# A different agent cannot resume rocu's durable (names are per agent):
# police is not a receiver at all, and the name space is rocu's own.
stop_broker
echo "07 ok"
