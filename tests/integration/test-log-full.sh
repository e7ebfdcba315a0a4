#!/bin/sh
# A log that cannot be written loses nothing silently: a full disk,
# /dev/full, RLIMIT_FSIZE, a stderr nobody reads. Each case: prog-flood
# (one site, many calls on its libuv loop thread), dedupe=0 and no cap, so
# that every call is a record, written somewhere or counted as lost.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-flood"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"

# expect_result OUT SITES PASSES: the program's own output, as without the
# preload: its calls made, no errno changed (exit 3), and no SIGPIPE or
# SIGXFSZ of ours reached its handlers.
expect_result() {
    [ "$rc" = 0 ] || fail "$1: prog-flood exited $rc"
    want="flood: $2 sites x $3 passes, sigpipe 0, sigxfsz 0"
    [ "$(cat "$1")" = "$want" ] ||
        fail "$1: the program printed '$(cat "$1")', not '$want'"
}

# No watchdog: a run slowed past stall_ms on a busy machine would add
# stall records to the counts.
opts="format=json:dedupe=0:max_frames=4:max_reports=0:stall_ms=0"

# expect_gave_up ERR FILE ERRNO: exactly one line on stderr, naming FILE
# and the error, and nothing else on stderr but JSON records.
expect_gave_up() {
    line="loopguard: cannot write log '$2': .* ($3); reporting to stderr"
    [ "$(grep -c "^$line\$" "$1")" = 1 ] ||
        { head -c 2000 "$1"; fail "expected one line '$line' in $1"; }
    [ "$(grep -vc '^{' "$1")" = 1 ] ||
        { grep -v '^{' "$1" | head; fail "other lines than records in $1"; }
}

# /dev/full: every write fails with ENOSPC; all records on stderr.
run_lg "$opts:log=/dev/full" 60 "$prog" 1 50 >"$LG_TMP/out" \
    2>"$LG_TMP/full.err"
expect_result "$LG_TMP/out" 1 50
expect_gave_up "$LG_TMP/full.err" /dev/full ENOSPC
grep '^{' "$LG_TMP/full.err" >"$LG_TMP/full.jsonl"
expect_count 50 "$LG_TMP/full.jsonl" '.type == "blocking_call"' \
    "/dev/full: records on stderr"
expect_count 1 "$LG_TMP/full.jsonl" '.type == "summary" and .count == 50 and
    .lost == 0' "/dev/full: the summary"
echo "ok: log=/dev/full: one line, 50 records on stderr, none lost"

# RLIMIT_FSIZE (8 KiB): EFBIG and SIGXFSZ. stderr is a pipe, which the
# limit does not bind.
f="$LG_TMP/big.jsonl"
{ (ulimit -f 16 && run_lg "$opts:log=$f" 60 "$prog" 1 200 >"$LG_TMP/out"
   echo $rc >"$LG_TMP/rc"); } 2>&1 | cat >"$LG_TMP/big.err"
rc=$(cat "$LG_TMP/rc")
expect_result "$LG_TMP/out" 1 200
expect_gave_up "$LG_TMP/big.err" "$f" EFBIG
grep '^{' "$LG_TMP/big.err" >"$LG_TMP/big.err.jsonl"
# The file holds whole records only (the cut one's start was taken back).
infile=$(jcount "$f" '.type == "blocking_call"')
[ "$infile" -gt 0 ] || fail "EFBIG: no record reached the file"
expect_count $((200 - infile)) "$LG_TMP/big.err.jsonl" \
    '.type == "blocking_call"' "EFBIG: the rest on stderr"
expect_count 1 "$LG_TMP/big.err.jsonl" '.type == "summary" and
    .count == 200 and .lost == 0' "EFBIG: the summary"
echo "ok: EFBIG: $infile records in the file, the rest on stderr, whole"

# stderr a pipe with no reader: every write fails with EPIPE, and raises
# SIGPIPE, which must not reach the program (its handler counts them).
run_lg "$opts" 60 "$prog" 1 20 broken-stderr \
    >"$LG_TMP/out"
expect_result "$LG_TMP/out" 1 20
echo "ok: stderr with no reader: the program runs on, no SIGPIPE"

# stderr a full non-blocking pipe nobody reads (EAGAIN for good): the
# first record waits for room a bounded while (5 s), then is lost; the
# pipe is then tried once per record, not waited for. 20 records that each
# waited would take 100 s: the run must end well before (40 s).
run_lg "$opts" 40 "$prog" 1 20 full-stderr >"$LG_TMP/out"
expect_result "$LG_TMP/out" 1 20
echo "ok: a full stderr nobody reads: one bounded wait, not one per record"

# A full disk: a 64 KiB tmpfs, mounted when this may (root).
mnt="$LG_TMP/mnt"
mkdir "$mnt"
if ! mount -t tmpfs -o size=64k tmpfs "$mnt" 2>"$LG_TMP/mount.err"; then
    skip_case full-disk "cannot mount a tmpfs here: $(cat "$LG_TMP/mount.err")"
    echo "ok: log-full"
    exit 0
fi
trap 'umount "$mnt" 2>/dev/null' EXIT

# The log fills the disk: one line, then the rest on stderr, whole.
f="$mnt/lg.jsonl"
run_lg "$opts:log=$f" 60 "$prog" 1 2000 >"$LG_TMP/out" 2>"$LG_TMP/disk.err"
expect_result "$LG_TMP/out" 1 2000
expect_gave_up "$LG_TMP/disk.err" "$f" ENOSPC
infile=$(jcount "$f" '.type == "blocking_call"')
[ "$infile" -gt 0 ] && [ "$infile" -lt 2000 ] ||
    fail "full disk: $infile records in the file"
grep '^{' "$LG_TMP/disk.err" >"$LG_TMP/disk.err.jsonl"
expect_count $((2000 - infile)) "$LG_TMP/disk.err.jsonl" \
    '.type == "blocking_call"' "full disk: the rest on stderr"
expect_count 1 "$LG_TMP/disk.err.jsonl" '.type == "summary" and
    .count == 2000 and .lost == 0' "full disk: the summary"
echo "ok: full disk: $infile records in the file, the rest on stderr"

# Log and stderr on a disk already full: every record is lost. The
# program frees the disk before it exits, so that the summary gets out.
rm -f "$f"
: >"$mnt/err"
dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
run_lg "$opts:log=$f" 60 "$prog" 1 300 "unlink=$mnt/fill" \
    >"$LG_TMP/out" 2>>"$mnt/err"
expect_result "$LG_TMP/out" 1 300
expect_count 0 "$f" 'true' "both full: records in the log"
expect_count 1 "$mnt/err" '.type == "summary" and .count == 300 and
    .lost == 300' "both full: the summary counts every record lost"
echo "ok: log and stderr full: 300 records lost, counted"
echo "ok: log-full"
