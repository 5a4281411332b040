# 29: `make demo` in CI: config/demo/demo.sh brings up a broker and four
# agencies, drops the sample alerts and must report exactly what the
# delivery rule allows — received, sanitised notices, withheld with the
# reason — the rejected files with their reasons, and the queue state; then
# it must stop everything it started and remove its directory.
. "$(dirname "$0")/lib.sh"
bash "$ROOT/config/demo/demo.sh" "$BIN" >"$T/demo.out" 2>&1 || { cat "$T/demo.out"; fail "demo failed"; }
out="$T/demo.out"
assert_contains "$out" "All four agencies got exactly what the delivery rule allows; stopped cleanly."
assert_not_contains "$out" "!!"
# The outcomes the labels imply (config/demo/alerts/).
assert_contains "$out" 'notice    seq [0-9]* *hull-2026-000123 .*ask "HMP Hull security department" (it does not hold caveat PRISON-INTEL)'
assert_contains "$out" 'notice    seq [0-9]* *hp-2026-004211 .*(SECRET is above its clearance OFFICIAL-SENSITIVE)'
assert_contains "$out" 'withheld  seq [0-9]* *hull-2026-000124 .*release_to \[type:rocu\] does not name it'
assert_eq "$(grep -c '^  received' "$out")" 13 "deliveries of content"
assert_eq "$(grep -c '^  notice' "$out")" 2 "sanitised notices"
assert_eq "$(grep -c '^  withheld' "$out")" 5 "withheld"
assert_contains "$out" 'reason: unknown classification "RESTRICTED"'
assert_contains "$out" 'reason: TOPIC_NOT_PERMITTED'
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
