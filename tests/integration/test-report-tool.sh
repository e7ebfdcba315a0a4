#!/bin/sh
# `loopguard report` on real logs: fork trees (prog-fork: children that
# report nothing, and a child back on its loop that does), a deadlock
# killed before its summary, an inversion (prog-locks), and a prog-calls log
# copied under a second pid, all format=json with log=lg.%p.jsonl; then a
# truncated line, a line that is not JSON, an unknown record type, a newer
# format version and a line too long. Checks the grouping across processes,
# the counts and ranking (against jq's reading of the same logs), the pids,
# the FILE:LINE warnings, that what follows a bad line is still reported,
# --exitcode, and the exit status when no FILE can be read.
. tests/integration/lib.sh
command -v jq >/dev/null 2>&1 || skip "jq not installed"
lg="$BUILD/loopguard"
for p in "$lg" "$BUILD/tests/prog-fork" "$BUILD/tests/prog-calls" \
    "$BUILD/tests/prog-locks" "$BUILD/examples/deadlock"; do
    [ -x "$p" ] || fail "$p not built (make test-bins)"
done
D=$LG_TMP/logs
mkdir -p "$D"
json="format=json:log=$D/lg.%p.jsonl"

run_lg "$json" 60 "$BUILD/tests/prog-fork" fork >/dev/null 2>&1
[ "$rc" -eq 0 ] || fail "prog-fork fork: exit $rc"
run_lg "$json" 60 "$BUILD/tests/prog-fork" resume >/dev/null 2>&1
[ "$rc" -eq 0 ] || fail "prog-fork resume: exit $rc"
# The deadlock is reported within 2 x stall_ms; the kill leaves no summary.
run_lg "$json:stall_ms=200" 3 "$BUILD/examples/deadlock" >/dev/null 2>&1
run_lg "$json" 30 "$BUILD/tests/prog-locks" abba >/dev/null 2>&1
[ "$rc" -eq 0 ] || fail "prog-locks abba: exit $rc"
run_lg "format=json:log=$LG_TMP/calls.jsonl" 30 "$BUILD/tests/prog-calls" \
    loop cond_wait >/dev/null 2>&1
[ "$rc" -eq 0 ] || fail "prog-calls loop cond_wait: exit $rc"
nlogs=$(ls "$D" | wc -l)
# prog-fork's two parents (fork, resume) and resume's child, the deadlock
# and prog-locks; prog-fork fork's children run no loop and write none.
[ "$nlogs" -ge 4 ] || fail "expected several logs, found $nlogs"

# The prog-calls log twice in one file: as written, then bad lines, then
# the same records under pid 424242. The one site must show both pids and
# twice the count; the second copy proves what follows bad lines is read.
mixed=$D/mixed.jsonl
cp "$LG_TMP/calls.jsonl" "$mixed"
good=$(wc -l <"$mixed")
head -n 1 "$mixed" | head -c 150 >>"$mixed"; echo >>"$mixed"
echo 'loopguard: this is not JSON' >>"$mixed"
echo '{"type":"stack_overflow","ts_ns":1,"pid":1,"tid":1,"thread":"x"}' \
    >>"$mixed"
echo '{"type":"blocking_call","version":2,"pid":1,"tid":1,"thread":"x"}' \
    >>"$mixed"
head -c 70000 /dev/zero | tr '\0' 'x' >>"$mixed"; echo >>"$mixed"
jq -c '.pid = 424242' "$LG_TMP/calls.jsonl" >"$LG_TMP/calls2.jsonl"
cat "$LG_TMP/calls2.jsonl" >>"$mixed"
site=$(jq -r 'select(.type == "blocking_call") | .site' "$LG_TMP/calls.jsonl")
ns=$(jq -r 'select(.type == "summary") | .sites[0].blocked_ns' \
    "$LG_TMP/calls.jsonl")

"$lg" report "$D"/*.jsonl >"$LG_TMP/out" 2>"$LG_TMP/err"
rc=$?
cat "$LG_TMP/out"
echo "--- stderr:"
cat "$LG_TMP/err"
[ "$rc" -eq 0 ] || fail "report without --exitcode: exit $rc, want 0"

# ---- warnings: one per bad line, naming FILE:LINE ------------------------
want="loopguard: $mixed:$((good + 1)): truncated record
loopguard: $mixed:$((good + 2)): not JSON
loopguard: $mixed:$((good + 3)): unknown record type 'stack_overflow'
loopguard: $mixed:$((good + 4)): format version 2 is newer than this loopguard reads
loopguard: $mixed:$((good + 5)): line longer than 65536 bytes"
got=$(sed 's/ (.*//' "$LG_TMP/err")
[ "$got" = "$want" ] || fail "warnings:
$got
want:
$want"
grep -q "; 5 bad lines skipped" "$LG_TMP/out" || fail "no count of bad lines"

# ---- sites: one block per site, its header then its lines ----------------
# block SITE: the block of the site with this hash.
block() {
    awk -v s="  site $1" '/^#[0-9]+ /{h=$0; next} $0 == s {print h; p=1; next}
        /^#[0-9]+ |^$/{p=0} p' "$LG_TMP/out"
}
b=$(block "$site")
[ -n "$b" ] || fail "site $site of prog-calls not reported"
want_ms=$(awk -v n="$ns" 'BEGIN{printf "%.1f", 2 * n / 1e6}')
echo "$b" | head -1 | grep -q "pthread_cond_wait: 2 calls, $want_ms ms blocked, in 2 processes" ||
    fail "prog-calls site: want 2 calls, $want_ms ms, 2 processes: $b"
pid=$(jq -r 'select(.type == "summary") | .pid' "$LG_TMP/calls.jsonl")
echo "$b" | grep -qx "  pids: $pid, 424242" || fail "prog-calls site pids: $b"
echo "$b" | grep -qx '  threads: "prog-calls"' || fail "prog-calls threads: $b"
echo "$b" | grep -qx '  loops: libuv' || fail "prog-calls loop kinds: $b"
# (a frame carries FILE:LINE between its name and module: prog-calls has
# debug information)
echo "$b" | grep -q '#1 0x[0-9a-f]* in [a-z_]* \(/[^ ]*:[0-9]* \)\?(' ||
    fail "prog-calls site: no stack: $b"

# Every site, as jq reads the logs: per process the summary's count when it
# lists the site, else its records; time from summaries only.
jq -s -r '[.[] | select(.type == "blocking_call" or .type == "summary")]
    | (map(select(.type == "summary") | .pid as $p | .sites[]
           | {site, pid: $p, count, ns: .blocked_ns})) as $sum
    | (map(select(.type == "blocking_call") | {site, pid})
       | group_by([.site, .pid])
       | map({site: .[0].site, pid: .[0].pid, count: length, ns: null}))
      as $rec
    | ($sum + [$rec[] | . as $r
               | select([$sum[] | select(.site == $r.site and
                                         .pid == $r.pid)] | length == 0)])
    | group_by(.site)
    | map({site: .[0].site, count: (map(.count) | add),
           procs: (map(.pid) | unique | length),
           ns: (if any(.ns != null) then (map(.ns // 0) | add) else null end)})
    | sort_by([(if .ns == null then 1 else 0 end), -(.ns // 0), -.count])
    | .[] | "\(.site) \(.count) \(.procs) \(.ns // "-")"' \
    "$D"/lg.*.jsonl "$LG_TMP/calls.jsonl" "$LG_TMP/calls2.jsonl" \
    >"$LG_TMP/want" ||
    fail "jq could not read the logs"
# The report's sites in its order, in the same form.
awk '/^#[0-9]+ / {c=$3; t=$5; sub(/ process.*/, ""); n=$NF}
     /^  site 0x/ {print $2, c, n, t}' "$LG_TMP/out" >"$LG_TMP/got.txt"
while read -r s c n t; do
    if [ "$t" = - ]; then t=time; else
        t=$(awk -v n="$t" 'BEGIN{printf "%.1f", n / 1e6}'); fi
    echo "$s $c $n $t"
done <"$LG_TMP/want" >"$LG_TMP/want.txt"
# Ties in time keep the report's order (first seen), which jq cannot know:
# compare sorted sets, then the ranking by time alone.
sort "$LG_TMP/want.txt" >"$LG_TMP/want.sorted"
sort "$LG_TMP/got.txt" >"$LG_TMP/got.sorted"
cmp -s "$LG_TMP/want.sorted" "$LG_TMP/got.sorted" || {
    diff "$LG_TMP/want.sorted" "$LG_TMP/got.sorted"
    fail "sites, counts, processes or times differ from jq's (above)"
}
awk '{print $4}' "$LG_TMP/got.txt" >"$LG_TMP/got.times"
awk '{print $4}' "$LG_TMP/want.txt" >"$LG_TMP/want.times"
cmp -s "$LG_TMP/got.times" "$LG_TMP/want.times" ||
    fail "sites not ranked by time blocked: $(tr '\n' ' ' <"$LG_TMP/got.times")"
nsites=$(wc -l <"$LG_TMP/want.txt")
grep -qx "Blocking sites: $nsites, by time blocked" "$LG_TMP/out" ||
    fail "want $nsites sites"

# prog-fork fork's children read on no loop of theirs: not reported. The
# resume child's read, back on its loop, is: one site, in one process.
n=$(jq -r 'select(.type == "blocking_call") | select([.stack[].symbol]
    | index("site_child_read")) | .pid' "$D"/lg.*.jsonl | wc -l)
[ "$n" -eq 0 ] || fail "prog-fork: $n reports of a child's read on no loop"
rsite=$(jq -r 'select(.type == "blocking_call") | select([.stack[].symbol]
    | index("site_resume_read")) | .site' "$D"/lg.*.jsonl | sort -u)
[ "$(echo "$rsite" | grep -c .)" = 1 ] || fail "resume child's read: sites '$rsite'"
block "$rsite" | head -1 | grep -q ": 1 call, .* in 1 process" ||
    fail "resume child's read: $(block "$rsite")"
grep -q "in site_resume_read" "$LG_TMP/out" || fail "no site_resume_read stack"

# The resume parent's read, made before it forked: the child's summary
# does not count it again (a fork child starts with no sites of its own).
psite=$(jq -r 'select(.type == "blocking_call") | select([.stack[].symbol]
    | index("site_parent_read")) | .site' "$D"/lg.*.jsonl | sort -u)
[ "$(echo "$psite" | grep -c .)" = 1 ] || fail "the parent's read: sites '$psite'"
block "$psite" | head -1 | grep -q ": 1 call, .* in 1 process" ||
    fail "the parent's read counted in its child: $(block "$psite")"

# The deadlocked example was killed before its summary: counted by records.
grep -q "pthread_cond_wait: 1 call, time not known (no summary), in 1 process" \
    "$LG_TMP/out" || fail "the deadlock example's site"

# ---- events -------------------------------------------------------------
grep -q '^Stalls: 1 (longest [0-9.]* ms)$' "$LG_TMP/out" || fail "stalls"
grep -qx 'Deadlocks: 1' "$LG_TMP/out" || fail "deadlocks"
grep -A3 '^Deadlocks' "$LG_TMP/out" | grep -q 'waits in pthread_cond_wait on cond 0x' ||
    fail "deadlock's first thread"
grep -A8 '^Deadlocks' "$LG_TMP/out" | grep -q '#0 0x' || fail "deadlock stack"
n=$(jq -s '[.[] | select(.type == "lock_order_inversion")] | length' \
    "$D"/lg.*.jsonl)
[ "$n" -ge 1 ] || fail "prog-locks abba wrote no inversion"
grep -qx "Lock-order inversions: $n" "$LG_TMP/out" || fail "inversions"
grep -A4 '^Lock-order' "$LG_TMP/out" | grep -q 'in a_then_b\|in b_then_a' ||
    fail "inversion's stack"

# ---- exit status --------------------------------------------------------
"$lg" report --exitcode=3 "$D"/*.jsonl >/dev/null 2>&1
[ $? -eq 3 ] || fail "--exitcode=3 with sites found: not 3"
jq -c 'select(.type == "summary") | .sites = []' "$LG_TMP/calls.jsonl" \
    >"$LG_TMP/clean.jsonl"
"$lg" report --exitcode=3 "$LG_TMP/clean.jsonl" >"$LG_TMP/clean.out" 2>&1
[ $? -eq 0 ] || fail "--exitcode=3 with nothing found: not 0"
grep -qx "Blocking sites: 0, by time blocked" "$LG_TMP/clean.out" ||
    fail "clean log: $(cat "$LG_TMP/clean.out")"
"$lg" report "$LG_TMP/nothing.jsonl" >"$LG_TMP/o" 2>"$LG_TMP/e"
[ $? -eq 2 ] || fail "no readable FILE: not exit 2"
grep -q "cannot read $LG_TMP/nothing.jsonl: No such file" "$LG_TMP/e" ||
    fail "no message for a missing file: $(cat "$LG_TMP/e")"
"$lg" report "$LG_TMP/nothing.jsonl" "$LG_TMP/calls.jsonl" >/dev/null \
    2>"$LG_TMP/e"
[ $? -eq 0 ] || fail "one readable FILE of two: not exit 0"
[ "$(wc -l <"$LG_TMP/e")" = 1 ] || fail "one missing file, messages: $(cat "$LG_TMP/e")"
"$lg" report >/dev/null 2>"$LG_TMP/e"
[ $? -eq 2 ] || fail "report without FILE: not exit 2"
grep -q "^usage: loopguard report" "$LG_TMP/e" || fail "no usage"
"$lg" report --exitcode=x "$LG_TMP/calls.jsonl" >/dev/null 2>&1
[ $? -eq 2 ] || fail "--exitcode=x: not a usage error"

# `loopguard -- report` runs a program named report.
mkdir -p "$LG_TMP/bin"
printf '#!/bin/sh\necho program-report-ran\n' >"$LG_TMP/bin/report"
chmod +x "$LG_TMP/bin/report"
out=$(PATH="$LG_TMP/bin:$PATH" "$lg" -- report 2>&1)
[ "$out" = program-report-ran ] || fail "loopguard -- report: $out"
echo "PASS"
