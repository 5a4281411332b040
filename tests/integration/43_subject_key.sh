# 43: `liaisonctl keygen NAME --subject-key` writes the broker's subject
# index key: one line of 64 lower-case hex characters, mode 0600 whatever
# the umask, in a directory keygen creates; it says where the file goes in
# broker.cfg; a second run refuses to replace the key (every stored token
# was made with it) and leaves it as it was; --sign with it is bad usage;
# a CURVE pair of the same NAME is still made as before.
. "$(dirname "$0")/lib.sh"
C=$BIN/liaisonctl
K=$T/keys/broker.subject.key

(umask 0 && "$C" keygen broker --subject-key --dir "$T/keys") >"$T/gen.out" 2>"$T/gen.err" ||
    fail "keygen --subject-key: $(cat "$T/gen.err")"
assert_eq "$(wc -l <"$T/gen.out" | tr -d ' ')" 1 "keygen --subject-key prints one line"
assert_contains "$T/gen.out" "$K"
assert_contains "$T/gen.out" "subject_key = \"$K\""
assert_contains "$T/gen.out" "broker.cfg"
[ ! -s "$T/gen.err" ] || fail "keygen --subject-key wrote to stderr: $(cat "$T/gen.err")"
assert_eq "$(stat -c %a "$K")" 600 "mode of the subject key"
assert_eq "$(stat -c %a "$T/keys")" 700 "mode of the directory keygen made"
assert_eq "$(wc -c <"$K" | tr -d ' ')" 65 "bytes in the subject key file"
grep -qxE '[0-9a-f]{64}' "$K" || fail "not one line of 64 lower-case hex: $(cat "$K")"

# Never replaced: exit 1, the reason names the file, the key unchanged.
cp "$K" "$T/before"
rc=0
"$C" keygen broker --subject-key --dir "$T/keys" >"$T/again.out" 2>"$T/again.err" || rc=$?
assert_eq "$rc" 1 "a second keygen --subject-key"
assert_contains "$T/again.err" "$K"
assert_contains "$T/again.err" "already exists"
[ ! -s "$T/again.out" ] || fail "a refused keygen printed: $(cat "$T/again.out")"
cmp -s "$K" "$T/before" || fail "the subject key changed"

# Two keys are two keys.
"$C" keygen other --subject-key --dir "$T/keys" >/dev/null || fail "keygen other --subject-key"
cmp -s "$K" "$T/keys/other.subject.key" && fail "two subject keys are the same"

# Bad usage, and the CURVE pair beside it as it always was.
rc=0
"$C" keygen broker --subject-key --sign --dir "$T/keys" >/dev/null 2>"$T/both.err" || rc=$?
assert_eq "$rc" 2 "--sign with --subject-key"
assert_contains "$T/both.err" "--subject-key"
"$C" keygen broker --dir "$T/keys" >"$T/pair.out" || fail "keygen broker after its subject key"
assert_eq "$(cat "$T/pair.out")" "$T/keys/broker.pub
$T/keys/broker.key" "keygen's CURVE pair output"
assert_eq "$(stat -c %a "$T/keys/broker.key")" 600 "mode of broker.key"
"$C" keygen --help >"$T/help.out" || fail "keygen --help"
assert_contains "$T/help.out" "--subject-key"
echo "42 ok"
