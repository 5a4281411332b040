# 06: malformed, truncated and oversized frames, a wrong protocol version,
# an empty envelope, kinds only the broker may send, a publish without a
# label, multipart messages and requests before Hello each get a specific
# Error (or are dropped and logged), and the broker keeps serving.
. "$(dirname "$0")/lib.sh"
keygen broker police
broker_cfg <<EOF2
$(agent police '"alert.>"' '"alert.>"')
EOF2
agent_cfg police
start_broker
raw() { # mode expected-first-line
    "$BIN/tools/rawclient" "$T/police.cfg" "$1" 1048576 >"$T/raw.out" 2>&1 || fail "rawclient $1: broker stopped answering"
    assert_eq "$(head -n 1 "$T/raw.out")" "$2" "first reply to $1"
    assert_eq "$(tail -n 1 "$T/raw.out")" "reply WELCOME police" "broker alive after $1"
}
raw garbage "reply ERROR BAD_FRAME"
raw truncated "reply ERROR BAD_FRAME"
raw oversize "reply ERROR FRAME_TOO_LARGE"
raw version "reply ERROR BAD_VERSION"
raw empty "reply ERROR UNKNOWN_KIND"
raw nohello "reply ERROR NOT_WELCOMED"
raw multipart "reply ERROR BAD_FRAME"
"$BIN/tools/rawclient" "$T/police.cfg" brokerkind >"$T/bk.out" || fail "brokerkind"
assert_eq "$(sed -n 2p "$T/bk.out")" "reply ERROR UNKNOWN_KIND" "client sending PubAck"
"$BIN/tools/rawclient" "$T/police.cfg" nolabel >"$T/nl.out" || fail "nolabel"
assert_eq "$(sed -n 2p "$T/nl.out")" "reply ERROR BAD_LABEL" "publish without label"
assert_contains "$T/broker.log" 'event=bad_frame reason="multipart message"'
assert_contains "$T/broker.log" 'event=bad_frame agent=police code=FRAME_TOO_LARGE'
# After all that, ordinary traffic still works.
msg alert.a.b OFFICIAL | ctl police pub - >"$T/p.out" || fail "publish after bad frames"
assert_eq "$(cat "$T/p.out")" "seq 1"
stop_broker
echo "06 ok"
