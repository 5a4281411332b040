#!/bin/sh
# coverage.sh — make coverage: how much of the project's code each fuzz
# harness's corpus reaches. Each harness is built once more with clang's
# source-based coverage (no sanitizers), run once over every input of its
# corpus and seeds (-runs=0), and llvm-cov reports lines, functions and
# regions per file of common/, proto/ and broker/; build/coverage/NAME.txt
# holds each report, and the TOTAL lines are printed.
#   FUZZ_CORPUS   where the corpora are (default build/fuzz/corpus)
#   FUZZ_NAMES    which harnesses (default: all of tests/fuzz/fuzz_*.c)
set -eu
cd "$(dirname "$0")/../.."
out=build/coverage
corpus=${FUZZ_CORPUS:-build/fuzz/corpus}
names=${FUZZ_NAMES:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_\(.*\)\.c|\1|')}
pkgs="libzmq libprotobuf-c lmdb libconfig libsodium jansson libmicrohttpd"
# shellcheck disable=SC2086
cflags=$(pkg-config --cflags $pkgs)
# shellcheck disable=SC2086
libs=$(pkg-config --libs $pkgs)
src="$(ls common/*.c broker/*.c | grep -v '^broker/main\.c$') proto/wire.c proto/canon.c build/fuzz/gen/liaison.pb-c.c"
mkdir -p "$out"
for n in $names; do
    extra=""
    [ "$n" = broker ] && extra="-max_len=8192"
    # shellcheck disable=SC2086
    clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer -fprofile-instr-generate \
        -fcoverage-mapping -Icommon -Iproto -Ibroker -Ibuild/fuzz/gen $cflags \
        -o "$out/fuzz_$n" "tests/fuzz/fuzz_$n.c" $src $libs -lpthread
    mkdir -p "$corpus/$n"
    rm -f "$out/$n.profraw"
    # shellcheck disable=SC2086
    LLVM_PROFILE_FILE="$out/$n.profraw" "$out/fuzz_$n" -runs=0 $extra "$corpus/$n" \
        "tests/fuzz/seeds/$n" >"$out/$n.run.log" 2>&1
    llvm-profdata merge -sparse "$out/$n.profraw" -o "$out/$n.profdata"
    llvm-cov report "$out/fuzz_$n" -instr-profile="$out/$n.profdata" \
        -ignore-filename-regex='(build|tests)/' >"$out/$n.txt"
    inputs=$(ls "$corpus/$n" "tests/fuzz/seeds/$n" | grep -vc ':$\|^$' || true)
    printf 'fuzz_%-9s %6s inputs  %s\n' "$n" "$inputs" \
        "$(awk '$1 == "TOTAL" { printf "regions %s, functions %s, lines %s", $4, $7, $10 }' "$out/$n.txt")"
done
echo "per file: $out/NAME.txt (llvm-cov report)"
