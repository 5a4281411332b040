#!/bin/sh
# Runs every test suite against both builds (plain and ASan/UBSan) and ends
# with one line "total: N passed, M failed". Exit 1 if anything failed.
# Suites: unit (cmocka, one binary per module) and integration (numbered
# scenarios against the real binaries on loopback).
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
failures=""
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

run() { # name command...
    name=$1
    shift
    log="build/test-logs/$(echo "$name" | tr '/ ' '__').log"
    # A safety net, not a measure: no single test may hang the run.
    if timeout 900 "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "ok      $name"
    else
        failed=$((failed + 1))
        failures="$failures $name"
        echo "FAILED  $name (log: $log)"
        tail -n 25 "$log" | sed 's/^/    | /'
    fi
}

mkdir -p build/test-logs
for B in build build/asan; do
    for t in "$B"/tests/test_*; do
        [ -x "$t" ] || continue
        run "unit $t" "$t"
    done
    for s in tests/integration/[0-9]*.sh; do
        run "integration $B $(basename "$s" .sh)" env BIN="$B" bash "$s"
    done
    # Sanitized builds run several times slower: smaller fault runs there.
    n=50000 backlog=100000 fed=20000
    [ "$B" = build/asan ] && n=15000 backlog=20000 fed=6000
    for s in tests/fault/[0-9]*.sh; do
        run "fault $B $(basename "$s" .sh)" env BIN="$B" FAULT_N=$n FAULT_BACKLOG=$backlog FAULT_FED_N=$fed bash "$s"
    done
done
# Power cuts (FUSE, the plain build): a short run; `make powerloss` is the
# long one.
if [ -x build/tools/lossyfs ]; then
    run "powerloss selftest" env BIN=build bash tests/powerloss/selftest.sh
    run "powerloss 3 cuts" env BIN=build POWERLOSS_CUTS=3 bash tests/powerloss/run.sh
fi

echo
[ -n "$failures" ] && echo "failed:$failures"
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
