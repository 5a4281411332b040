# 05: a SECRET message never reaches an OFFICIAL subscriber while an equally
# subscribed SECRET one gets it; caveats and release_to likewise. Deliveries
# are in sequence order, so each subscriber's first delivery proves what it
# was not sent before it.
. "$(dirname "$0")/lib.sh"
keygen broker police secret official caveated
broker_cfg <<EOF2
$(agent police '"alert.>"' '' TOP-SECRET '"PRISON-INTEL"' '"publisher"'),
$(agent secret '' '"alert.>"' SECRET '' '"receiver"' rocu yorkshire),
$(agent official '' '"alert.>"' OFFICIAL '' '"receiver"' prison yorkshire),
$(agent caveated '' '"alert.>"' SECRET '"PRISON-INTEL"' '"receiver"' prison yorkshire)
EOF2
for a in police secret official caveated; do agent_cfg $a; done
start_broker
sub_bg secret 'alert.>' --count 2 --timeout 20
sub_bg official 'alert.>' --count 1 --timeout 20
sub_bg caveated 'alert.>' --count 3 --timeout 20
{
    msg alert.y.one SECRET '' 'secret body'                                  # seq 1
    msg alert.y.two SECRET ',"caveats":["PRISON-INTEL"]' 'caveat body'      # seq 2
    msg alert.y.three OFFICIAL ',"release_to":["type:rocu"]' 'rocu only'    # seq 3
    msg alert.y.four OFFICIAL '' 'for everyone'                              # seq 4
} >"$T/mix.json"
ctl police pub "$T/mix.json" >/dev/null || fail "publish refused"
sub_wait secret || fail "secret subscriber"
sub_wait official || fail "official subscriber"
sub_wait caveated || fail "caveated subscriber"
seqs() { sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$1" | tr '\n' ' '; }
assert_eq "$(seqs "$T/secret.out")" "1 3 " "SECRET, no caveat, type rocu"
assert_eq "$(seqs "$T/official.out")" "4 " "OFFICIAL prison"
assert_eq "$(seqs "$T/caveated.out")" "1 2 4 " "SECRET with PRISON-INTEL, type prison"
assert_not_contains "$T/official.out" "secret body"
assert_not_contains "$T/secret.out" "caveat body"
stop_broker
echo "05 ok"
