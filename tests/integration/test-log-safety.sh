#!/bin/sh
# The log path cannot be turned into a write where the user could not
# (issue 20, item 1). In a sticky, world-writable directory the test makes
# (mode 1777):
#   link      the log's name is a symbolic link (to a file of the test's):
#             refused with one line, reports on stderr, the file untouched,
#             the host goes on (exit 0); the same for a %p name;
#   own       a file of our own there is appended to, as before;
#   new       a new file is created, 0600 when the process is privileged
#             (the test runs as root), 0644 less the umask otherwise;
#   foreign   a regular file, and a FIFO, owned by another user: refused,
#             the FIFO without waiting for a reader (only where the test
#             may chown: as root);
#   elsewhere in a directory that is not sticky, a symbolic link is
#             followed as before; log=/dev/stderr works.
. tests/integration/lib.sh
prog="$BUILD/examples/stall"
[ -x "$prog" ] || fail "$prog not built (make test-bins)"
S="$LG_TMP/sticky"
mkdir "$S" && chmod 1777 "$S" || fail "cannot make $S"
refused="refusing to open log"

# run_to NAME LOG: runs the program with log=LOG; its stderr in $LG_TMP/NAME.
run_to() {
    run_lg "log=$2" 30 "$prog" >/dev/null 2>"$LG_TMP/$1.err"
    [ "$rc" -eq 0 ] || { cat "$LG_TMP/$1.err"; fail "$1: exit status $rc"; }
}

echo "the victim's own words" >"$LG_TMP/victim"
ln -s "$LG_TMP/victim" "$S/lg.log"
run_to link "$S/lg.log"
grep -q "^loopguard: $refused '$S/lg.log': it is a symbolic link in a sticky, world-writable directory; reporting to stderr$" \
    "$LG_TMP/link.err" || { cat "$LG_TMP/link.err"; fail "link: no refusal line"; }
grep -q "blocking receive read" "$LG_TMP/link.err" ||
    fail "link: the report did not go to stderr"
[ "$(cat "$LG_TMP/victim")" = "the victim's own words" ] ||
    fail "link: the link's target was written to"
# A %p name: the link made for the pid the host will have is refused too.
sh -c 'ln -sf "$1" "$2/lg.$$.log"; exec env LOOPGUARD_OPTIONS="log=$2/lg.%p.log" LD_PRELOAD="$3" "$4"' \
    sh "$LG_TMP/victim" "$S" "$LG_PRELOAD" "$prog" >/dev/null 2>"$LG_TMP/pid.err" ||
    fail "link %p: exit status $?"
grep -q "$refused '$S/lg\.[0-9]*\.log': it is a symbolic link" "$LG_TMP/pid.err" ||
    { cat "$LG_TMP/pid.err"; fail "link %p: no refusal line"; }
[ "$(cat "$LG_TMP/victim")" = "the victim's own words" ] ||
    fail "link %p: the link's target was written to"
echo "ok: link: refused, reports on stderr, the target untouched"

echo "before" >"$S/own.log"
run_to own "$S/own.log"
[ "$(head -1 "$S/own.log")" = before ] && grep -q "blocking receive read" \
    "$S/own.log" || fail "own: not appended to: $(cat "$S/own.log")"
[ ! -s "$LG_TMP/own.err" ] || { cat "$LG_TMP/own.err"; fail "own: stderr"; }
echo "ok: own: a file of ours is appended to"

run_to new "$S/new.log"
grep -q "blocking receive read" "$S/new.log" || fail "new: no report"
mode=$(stat -c %a "$S/new.log")
if [ "$(id -u)" = 0 ]; then
    [ "$mode" = 600 ] || fail "new: mode $mode as root, want 600"
else
    want=$(printf '%o' $((0644 & ~$(umask))))
    [ "$mode" = "$want" ] || fail "new: mode $mode, want $want"
fi
echo "ok: new: created, mode $mode"

other=$(id -u nobody 2>/dev/null)
if [ "$(id -u)" != 0 ] || [ -z "$other" ]; then
    skip_case foreign "files of another user's need root to make (chown)"
else
    echo "theirs" >"$S/theirs.log"
    chown nobody "$S/theirs.log"
    run_to foreign "$S/theirs.log"
    grep -q "$refused '$S/theirs.log': it belongs to another user" \
        "$LG_TMP/foreign.err" ||
        { cat "$LG_TMP/foreign.err"; fail "foreign: no refusal line"; }
    [ "$(cat "$S/theirs.log")" = theirs ] || fail "foreign: written to"
    mkfifo "$S/fifo.log"
    chown nobody "$S/fifo.log"
    run_to fifo "$S/fifo.log"    # (30 s bound: a wait for a reader fails)
    grep -q "$refused '$S/fifo.log': it belongs to another user" \
        "$LG_TMP/fifo.err" ||
        { cat "$LG_TMP/fifo.err"; fail "fifo: no refusal line"; }
    echo "ok: foreign: another user's file and FIFO refused"
fi

mkdir "$LG_TMP/plain"
: >"$LG_TMP/target"
ln -s "$LG_TMP/target" "$LG_TMP/plain/lg.log"
run_to elsewhere "$LG_TMP/plain/lg.log"
grep -q "blocking receive read" "$LG_TMP/target" ||
    fail "elsewhere: a link outside a sticky directory was not followed"
run_to stderr /dev/stderr
grep -q "blocking receive read" "$LG_TMP/stderr.err" &&
    ! grep -q "$refused\|cannot open" "$LG_TMP/stderr.err" ||
    { cat "$LG_TMP/stderr.err"; fail "log=/dev/stderr"; }
echo "ok: elsewhere: links followed as before; /dev/stderr works"
echo PASS
