# selftest: lossyfs really forgets, and only what it should. Before any
# power-loss result is believed, this shows on a bare mount that
#   - unsynced writes are read back while mounted and gone after a cut,
#   - fsynced writes, and O_DSYNC writes, survive a cut,
#   - an O_DSYNC write makes only itself durable, not other pending writes,
#   - an unsynced overwrite or truncate of synced data is undone by a cut,
#   - a torn write leaves a sector-aligned prefix,
#   - a cut at the N-th sync point fails that sync and keeps the earlier,
#   - the liar disk used to check the checkers keeps nothing,
#   - LMDB (its mmap reads and O_DSYNC meta writes) works on it.
# usage: BIN=build bash tests/powerloss/selftest.sh
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"
D=$T/fs
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
size() { stat -c %s "$1"; }
pattern() { head -c "$1" /dev/zero | tr '\0' "$2"; } # N CHAR

lossy_mount fs
# Unsynced: visible now, gone after the cut (the file itself stays:
# metadata is durable at once in lossyfs).
pattern 10000 a >"$D/unsynced"
assert_eq "$(size "$D/unsynced")" 10000 "size of an unsynced file while mounted"
assert_eq "$(tr -d a <"$D/unsynced" | wc -c)" 0 "unsynced data read back"
# fsync at the end (dd conv=fsync): kept.
pattern 10000 b | dd of="$D/synced" bs=4096 conv=fsync status=none
# Every write through an O_DSYNC descriptor: kept.
pattern 10000 c | dd of="$D/dsync" bs=4096 oflag=dsync status=none
# Synced content, then an unsynced overwrite and an unsynced truncate.
pattern 8192 d | dd of="$D/overwritten" bs=4096 conv=fsync status=none
pattern 100 e | dd of="$D/overwritten" bs=100 seek=1 conv=notrunc status=none
pattern 8192 f | dd of="$D/truncated" bs=4096 conv=fsync status=none
truncate -s 10 "$D/truncated"
assert_eq "$(size "$D/truncated")" 10 "size after an unsynced truncate"
# One file, two descriptors: an unsynced write at 0, then an O_DSYNC write
# at 8192. Only the second may survive.
pattern 4096 g | dd of="$D/mixed" bs=4096 status=none
pattern 4096 h | dd of="$D/mixed" bs=4096 seek=2 conv=notrunc oflag=dsync status=none
assert_eq "$(tr -d '\0' <"$D/mixed" | wc -c)" 8192 "both writes visible while mounted"
lossy_cut fs
assert_contains "$T/fs.lossyfs.log" "power cut"

lossy_mount fs
[ -f "$D/unsynced" ] || fail "the unsynced file's name was lost (metadata is meant to be durable)"
assert_eq "$(size "$D/unsynced")" 0 "size of an unsynced file after the cut"
ok "unsynced write read back while mounted, gone after the cut"
assert_eq "$(size "$D/synced")" 10000 "size of the fsynced file"
assert_eq "$(tr -d b <"$D/synced" | wc -c)" 0 "fsynced data"
ok "fsynced write kept"
assert_eq "$(size "$D/dsync")" 10000 "size of the O_DSYNC file"
assert_eq "$(tr -d c <"$D/dsync" | wc -c)" 0 "O_DSYNC data"
ok "O_DSYNC writes kept"
assert_eq "$(tr -d d <"$D/overwritten" | wc -c)" 0 "an unsynced overwrite was undone"
ok "unsynced overwrite of synced data undone"
assert_eq "$(size "$D/truncated")" 8192 "an unsynced truncate was undone"
assert_eq "$(tr -d f <"$D/truncated" | wc -c)" 0 "data under an undone truncate"
ok "unsynced truncate undone"
assert_eq "$(size "$D/mixed")" 12288 "size after an O_DSYNC write past the end"
assert_eq "$(tr -d '\0' <"$D/mixed" | tr -d h | wc -c)" 0 "the unsynced write beside an O_DSYNC one was dropped"
assert_eq "$(tr -d '\0' <"$D/mixed" | wc -c)" 4096 "the O_DSYNC write"
ok "an O_DSYNC write makes only itself durable"
lossy_cut fs

# Torn writes: a 4096-byte unsynced write into an empty synced file; the
# cut keeps a prefix ending on a sector boundary (0 to 3584 bytes).
sizes=""
for seed in 1 2 3 4 5 6 7 8; do
    lossy_mount fs -o tear -o seed=$seed
    : >"$D/torn"
    dd if=/dev/null of="$D/torn" conv=fsync status=none
    pattern 4096 t >"$D/torn"
    lossy_cut fs
    lossy_mount fs
    s=$(size "$D/torn")
    [ $((s % 512)) -eq 0 ] && [ "$s" -lt 4096 ] || fail "torn write left $s bytes"
    assert_eq "$(tr -d t <"$D/torn" | wc -c)" 0 "torn prefix content"
    sizes="$sizes $s"
    lossy_cut fs
done
ok "torn writes kept sector-aligned prefixes:$sizes bytes"

# A cut at a sync point, counted from the arming signal: two fsyncs before
# it and one after complete, the power fails just before the next, whose
# caller gets EIO, and so does everyone after.
lossy_mount fs -o cut_at=2
pattern 5000 p | dd of="$D/first" bs=4096 conv=fsync status=none || fail "the first fsync failed"
lossy_arm fs
pattern 5000 q | dd of="$D/second" bs=4096 conv=fsync status=none || fail "the fsync after arming failed"
if pattern 5000 r | dd of="$D/third" bs=4096 conv=fsync status=none 2>"$T/dd.err"; then
    fail "the fsync the power failed at succeeded"
fi
assert_contains "$T/dd.err" "Input/output error"
! cat "$D/first" >/dev/null 2>&1 || fail "the filesystem answered after the power failed"
lossy_cut fs
assert_contains "$T/fs.lossyfs.log" "power cut at sync point 3 (2 since armed)"
lossy_mount fs
assert_eq "$(tr -d p <"$D/first" | wc -c)$(size "$D/first")" 05000 "data synced before arming"
assert_eq "$(tr -d q <"$D/second" | wc -c)$(size "$D/second")" 05000 "data synced after arming"
assert_eq "$(size "$D/third")" 0 "data whose fsync the power failed at"
ok "a cut at a sync point keeps what was synced before it, drops the rest, and fails the sync"
lossy_cut fs

# The liar disk (-o liar) acknowledges fsync and O_DSYNC and keeps
# nothing: what run.sh's POWERLOSS_LIAR=1 uses to show its checks catch
# loss.
lossy_mount fs -o liar
pattern 3000 l | dd of="$D/lied" bs=4096 conv=fsync status=none || fail "fsync on the liar"
pattern 3000 m | dd of="$D/lied-dsync" bs=4096 oflag=dsync status=none || fail "O_DSYNC on the liar"
lossy_cut fs
lossy_mount fs
assert_eq "$(size "$D/lied")$(size "$D/lied-dsync")" 00 "what the liar acknowledged"
ok "the liar disk acknowledges syncs and keeps nothing"
lossy_cut fs

# LMDB: mdb_load writes (pwrite, fdatasync, O_DSYNC meta pages), mdb_dump
# reads through its read-only mmap; after a cut everything loaded is there.
lossy_mount fs
mkdir -p "$D/lmdb"
{
    printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n'
    i=0
    while [ $i -lt 2000 ]; do printf ' key%05d\n value-%d\n' $i $i; i=$((i + 1)); done
    printf 'DATA=END\n'
} >"$T/load.txt"
mdb_load -f "$T/load.txt" "$D/lmdb" || fail "mdb_load on lossyfs"
assert_eq "$(mdb_dump -p "$D/lmdb" | grep -c '^ key')" 2000 "keys read back through the mmap"
lossy_cut fs
lossy_mount fs
assert_eq "$(mdb_dump -p "$D/lmdb" | grep -c '^ key')" 2000 "keys after the cut"
mdb_stat "$D/lmdb" >/dev/null || fail "mdb_stat after the cut"
ok "LMDB works on lossyfs and keeps a committed load across a cut"
lossy_cut fs
grep 'power cut' "$T/fs.lossyfs.log" | head -n 2 | sed 's/^/  /'
echo "powerloss selftest ok: $checks checks"
