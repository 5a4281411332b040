# 29: `make demo` in CI: config/demo/demo.sh brings up a broker and four
# agencies, drops the sample alerts and must report exactly what the
# delivery rule allows — received, sanitised notices, withheld with the
# reason the broker's audit trail names (read back by the demo's auditor) —
# the rejected files with their reasons, the queue state, the audit
# trail's verification and the status page; then it must stop everything it
# started and remove its directory.
. "$(dirname "$0")/lib.sh"
bash "$ROOT/config/demo/demo.sh" "$BIN" >"$T/demo.out" 2>&1 || { cat "$T/demo.out"; fail "demo failed"; }
out="$T/demo.out"
assert_contains "$out" "All four agencies got exactly what the broker's audit trail says it disclosed; stopped cleanly."
assert_not_contains "$out" "!!"
# The outcomes the labels imply (config/demo/alerts/), each with the rule
# the broker's audit record names.
assert_contains "$out" 'notice    seq [0-9]* *hull-2026-000123 .*ask "HMP Hull security department" (audit #[0-9]*, rule caveat: it does not hold PRISON-INTEL)'
assert_contains "$out" 'notice    seq [0-9]* *hp-2026-004211 .*(audit #[0-9]*, rule clearance: SECRET is above its clearance OFFICIAL-SENSITIVE)'
assert_contains "$out" 'withheld  seq [0-9]* *hull-2026-000124 .*(audit #[0-9]*, rule release_to: released to \[type:rocu\] only)'
assert_eq "$(grep -c '^  received' "$out")" 13 "deliveries of content"
assert_eq "$(grep -c '^  notice' "$out")" 2 "sanitised notices"
assert_eq "$(grep -c '^  withheld' "$out")" 5 "withheld"
assert_contains "$out" 'reason: unknown classification "RESTRICTED"'
assert_contains "$out" 'reason: TOPIC_NOT_PERMITTED'
assert_contains "$out" 'audit: publish refused, reason TOPIC_NOT_PERMITTED'
# Every surface the README points to, tried once: the auditor's export and
# offline verify, the status page and the metrics.
# 13 deliveries above and the end marker to each of the four.
assert_contains "$out" 'records: .*deliver 17, .*notice 2, .*withhold 5'
assert_contains "$out" 'liaisonctl audit verify --data-dir data/broker: audit intact'
assert_contains "$out" 'http://127.0.0.1:[0-9]*/  HTTP/1.[01] 200'
assert_contains "$out" 'http://127.0.0.1:[0-9]*/metrics  HTTP/1.[01] 200'
# The queue state is whatever liaisonctl status prints; the demo fails if
# the command does.
assert_contains "$out" 'Queue state (liaisonctl -c ops.cfg status):'
assert_not_contains "$out" 'liaisonctl status failed'
# Nothing left behind: no process and no directory.
d=$(sed -n 's/^  work directory //p' "$out")
[ -n "$d" ] || fail "no work directory in the output"
[ ! -e "$d" ] || fail "demo left $d behind"
# The pattern comes from a file so grep's own command line does not match.
printf '%s/\n' "$d" >"$T/pattern"
left=$(grep -l -a -F -f "$T/pattern" /proc/[0-9]*/cmdline 2>/dev/null || true)
[ -z "$left" ] || fail "demo left processes behind: $left"
echo "29 ok"
