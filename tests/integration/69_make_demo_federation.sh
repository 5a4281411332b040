# 69: `make demo-federation` in CI: config/demo/federation.sh brings up
# three brokers in tiers and four agencies, and must report every outcome
# it expects (the prison's alert up to MARSOC with its label and route, the
# national alert down to the force and the prison, what stays home), the
# links at each tier and three verified audit trails; then it must stop
# everything it started and remove its directory.
. "$(dirname "$0")/lib.sh"
bash "$ROOT/config/demo/federation.sh" "$BIN" >"$T/demo.out" 2>&1 || { cat "$T/demo.out"; fail "demo failed"; }
out="$T/demo.out"
assert_contains "$out" "Every alert went exactly where the three brokers' audit trails say; stopped cleanly"
assert_not_contains "$out" "!!"
assert_contains "$out" 'route: first stored at humberside as seq 1, then through yorkshire'
assert_contains "$out" '"route":{"origin_broker":"humberside","origin_seq":1,"via":\["yorkshire"\]}'
assert_contains "$out" 'route: first stored at national as seq 4, then through yorkshire'
assert_contains "$out" '3 local briefing       Humberside Police      received               own copy               stays home'
assert_eq "$(grep -c '3 local briefing       not stored here' "$out")" 2 "no_onward_sharing above Humberside"
assert_eq "$(grep -c 'audit intact' "$out")" 3 "audit trails verified"
assert_eq "$(grep -c '  connected ' "$out")" 2 "uplinks connected"
# Nothing left behind: no process and no directory.
d=$(sed -n 's/^  work directory //p' "$out")
[ -n "$d" ] || fail "no work directory in the output"
[ ! -e "$d" ] || fail "demo left $d behind"
printf '%s/\n' "$d" >"$T/pattern"
left=$(grep -l -a -F -f "$T/pattern" /proc/[0-9]*/cmdline 2>/dev/null || true)
[ -z "$left" ] || fail "demo left processes behind: $left"
echo "69 ok"
