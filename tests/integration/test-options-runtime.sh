#!/bin/sh
# LOOPGUARD_OPTIONS at run time: dedupe on and off, abort mode, exitcode,
# max_frames, the log file (%p, O_APPEND|O_CLOEXEC, survives a host that
# closes or replaces every descriptor), and bad options (one line each, then
# defaults; the program still runs).
. tests/integration/lib.sh

prog="$BUILD/tests/prog-options"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"
log="$LG_TMP/r.jsonl"

# dedupe=1 (default): two sites, two records; the summary counts every call.
run_lg "format=json:log=$log" 20 "$prog" 50
[ "$rc" -eq 0 ] || fail "dedupe on: exit $rc"
expect_count 2 "$log" '.type == "blocking_call"' "dedupe on"
expect_count 1 "$log" '.type == "summary" and .count == 51
    and .sites_total == 2
    and ([.sites[].count] | sort) == [1, 50]' "dedupe on: summary"
echo "ok: dedupe"

rm -f "$log"
run_lg "format=json:log=$log:dedupe=0" 20 "$prog" 50
[ "$rc" -eq 0 ] || fail "dedupe off: exit $rc"
expect_count 51 "$log" '.type == "blocking_call"' "dedupe off"
echo "ok: dedupe=0"

rm -f "$log"
run_lg "format=json:log=$log:max_frames=2" 20 "$prog" 1
expect_count 2 "$log" '.type == "blocking_call" and (.stack | length) == 2
    and (.loop_stack | length) <= 2' "max_frames=2"
echo "ok: max_frames"

# Abort mode: the report is written, then the process aborts (SIGABRT).
rm -f "$log"
run_lg "format=json:log=$log:mode=abort" 20 "$prog" 3
[ "$rc" -eq 134 ] || fail "mode=abort: exit $rc, expected 134 (SIGABRT)"
expect_count 1 "$log" '.type == "blocking_call" and .call == "read"' \
    "mode=abort report"
echo "ok: mode=abort"

# exitcode: forced when something was reported, untouched otherwise.
run_lg "log=$LG_TMP/x.txt:exitcode=7" 20 "$prog" 1
[ "$rc" -eq 7 ] || fail "exitcode=7 with a violation: exit $rc"
LOOPGUARD_OPTIONS="exitcode=7" timeout 20 "$prog" 1
[ $? -eq 0 ] || fail "exitcode without the preload changed the status"
echo "ok: exitcode"

# %p names the file after the process; the file is O_APPEND|O_CLOEXEC.
run_lg "format=json:log=$LG_TMP/p.%p.jsonl" 20 "$prog" 1
set -- "$LG_TMP"/p.*.jsonl
[ $# -eq 1 ] && [ -f "$1" ] || fail "log=%p: expected one file, got $*"
case "$1" in "$LG_TMP"/p.[0-9]*.jsonl) ;; *) fail "bad %p name $1" ;; esac
LG_LOG_PATH="$LG_TMP/flags.jsonl" run_lg \
    "format=json:log=$LG_TMP/flags.jsonl" 20 "$prog" 1 logflags \
    > "$LG_TMP/flags.out"
flags=$(awk '$1 == "logfd" { print $4 }' "$LG_TMP/flags.out")
[ -n "$flags" ] || fail "no descriptor open on the log: $(cat "$LG_TMP/flags.out")"
# fdinfo flags are octal: O_APPEND is 02000, O_CLOEXEC 02000000.
[ $(( 0$flags & 02000 )) -ne 0 ] || fail "log not O_APPEND ($flags)"
[ $(( 0$flags & 02000000 )) -ne 0 ] || fail "log not O_CLOEXEC ($flags)"
echo "ok: log file %p, O_APPEND|O_CLOEXEC"

# A host that closes or dup2s over every descriptor keeps its reports.
for how in closeall dup2all; do
    rm -f "$log"
    run_lg "format=json:log=$log:dedupe=0" 20 "$prog" 1 $how
    [ "$rc" -eq 0 ] || fail "$how: exit $rc"
    expect_count 4 "$log" '.type == "blocking_call"' "$how: reports after"
done
echo "ok: the log survives close-all and dup2-all"

# Bad options: one line per bad entry on stderr, defaults, program runs.
timeout 20 env LOOPGUARD_OPTIONS="format=xml:bogus=1:max_frames=0" \
    LD_PRELOAD="$LG_PRELOAD" "$prog" 1 2> "$LG_TMP/err.txt"
rc=$?
[ "$rc" -eq 0 ] || fail "bad options: exit $rc"
n=$(grep -c '^loopguard: LOOPGUARD_OPTIONS' "$LG_TMP/err.txt")
[ "$n" -eq 3 ] || { cat "$LG_TMP/err.txt"; fail "bad options: $n lines, expected 3"; }
grep -q "'xml'" "$LG_TMP/err.txt" || fail "the bad value is not named"
grep -q "'bogus'" "$LG_TMP/err.txt" || fail "the bad key is not named"
grep -q '==loopguard: blocking receive read on event-loop thread' \
    "$LG_TMP/err.txt" || fail "bad options: no text report on stderr"
echo "ok: bad options"

# An unopenable log: one line, then reports go to stderr.
timeout 20 env LOOPGUARD_OPTIONS="log=$LG_TMP/no/such/dir/x" \
    LD_PRELOAD="$LG_PRELOAD" "$prog" 1 2> "$LG_TMP/err2.txt"
grep -q "loopguard: cannot open log" "$LG_TMP/err2.txt" ||
    fail "unopenable log: no message"
grep -q '==loopguard: blocking receive read' "$LG_TMP/err2.txt" ||
    fail "unopenable log: reports not on stderr"
echo "ok: unopenable log"
