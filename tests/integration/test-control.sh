#!/bin/sh
# The program's own controls over reports (issue 14, items 2 to 4), with
# prog-control on a libuv loop:
#   allow        lg_allow_blocking_begin/end: reads inside (nested) scopes
#                are not reported, the read after them is; unbalanced ends
#                return -EINVAL (the program checks); the summary counts 2
#                allowed
#   grace        grace_ms=300: the read at once is not reported, the one
#                600 ms later is; the summary counts 1 in grace
#   grace-stall  grace_ms=1000, stall_ms=100: a 400 ms spin at once is no
#                stall, the same spin 1.5 s later is
#   callback     lg_set_report_callback: called once per record, with the
#                record's JSON (the log is text), on the loop thread, while
#                it takes a mutex, reads a pipe and writes to another; its
#                own calls report nothing; lg_reports() counts 2; then a
#                lock-order inversion, also passed to it
# Without the preload the callback is never called and lg_reports() is 0.
# The cmocka test docs/guide.md quotes runs too (prog-cmocka-guide).
. tests/integration/lib.sh

prog="$BUILD/tests/prog-control"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"

# run MODE OPTIONS: $f is the JSON log, $out stdout.
run() {
    f="$LG_TMP/$1.jsonl"; out="$LG_TMP/$1.out"
    run_lg "format=json:log=$f${2:+:$2}" 30 "$prog" "$1" >"$out"
    [ "$rc" -eq 0 ] || fail "$1: exit status $rc"
}

run allow
expect_count 1 "$f" '.type == "blocking_call"' "allow: records"
expect_count 1 "$f" '.type == "blocking_call" and
    any(.stack[]; .symbol == "after_scope")' "allow: the read after the scopes"
expect_count 1 "$f" '.type == "summary" and .allowed == 2 and .count == 1' \
    "allow: summary"
echo "ok: allow scopes: nested reads not reported, the read after them is"

run grace grace_ms=300
expect_count 1 "$f" '.type == "blocking_call"' "grace: records"
expect_count 1 "$f" '.type == "blocking_call" and
    any(.stack[]; .symbol == "late_read")' "grace: the read after the grace"
expect_count 1 "$f" '.type == "summary" and .grace == 1 and .count == 1' \
    "grace: summary"
echo "ok: grace: the read inside it not reported, the one after it is"

run grace-stall grace_ms=1000:stall_ms=100
expect_count 1 "$f" '.type == "stall" and .phase == "begin"' \
    "grace-stall: stalls"
expect_count 1 "$f" '.type == "stall" and .phase == "begin" and
    any(.stack[]; .symbol == "late_spin")' "grace-stall: the stall after it"
expect_count 1 "$f" '.type == "summary" and .grace >= 1' "grace-stall: summary"
echo "ok: grace: a stall inside it not reported, one after it is"

# The callback gets JSON whatever the log's format: a text log here.
out="$LG_TMP/callback.out"
run_lg "log=$LG_TMP/callback.txt" 30 "$prog" callback >"$out"
[ "$rc" -eq 0 ] || fail "callback: exit status $rc"
grep -qx 'reports: 2' "$out" || fail "callback: lg_reports(): $(cat "$out")"
grep -qx 'callbacks: 3' "$out" || fail "callback: calls: $(cat "$out")"
sed -n 's/^cb: //p' "$out" >"$LG_TMP/cb.jsonl"
expect_count 2 "$LG_TMP/cb.jsonl" '.type == "blocking_call" and
    .call == "read" and .thread == "prog-control"' "callback: records"
expect_count 1 "$LG_TMP/cb.jsonl" '.type == "lock_order_inversion"' \
    "callback: the inversion, made under the lock graph's report lock"
for site in cb_read_a cb_read_b; do
    expect_count 1 "$LG_TMP/cb.jsonl" ".type == \"blocking_call\" and
        any(.stack[]; .symbol == \"$site\")" "callback: $site"
done
n=$(grep -c '^==[0-9]*==loopguard: blocking receive' "$LG_TMP/callback.txt")
[ "$n" -eq 2 ] || fail "callback: the text log has $n blocking records, not 2"
echo "ok: callback: once per record, JSON, its own blocking and locking" \
     "report nothing"

# Past max_reports=1 the callback gets nothing more: not the records kept
# back, nor the line that says the cap was reached (written under the
# claim of another record, maybe under the lock graph's report lock).
out="$LG_TMP/capped.out"
run_lg "log=$LG_TMP/capped.txt:max_reports=1" 30 "$prog" callback >"$out"
[ "$rc" -eq 0 ] || fail "capped: exit status $rc"
grep -qx 'reports: 1' "$out" && grep -qx 'callbacks: 1' "$out" ||
    fail "capped: $(cat "$out")"
grep -q 'max_reports=1 reached' "$LG_TMP/capped.txt" ||
    fail "capped: no cap line in the log"
echo "ok: callback: nothing past max_reports, not the cap line either"

# Without the detector: no callback, lg_reports() 0, scopes still balance.
for mode in callback allow; do
    "$prog" $mode >"$LG_TMP/plain.out" 2>&1 ||
        fail "$mode without the preload: exit status $?"
done
"$prog" callback >"$LG_TMP/plain.out"
grep -qx 'reports: 0' "$LG_TMP/plain.out" &&
    grep -qx 'callbacks: 0' "$LG_TMP/plain.out" ||
    fail "without the preload: $(cat "$LG_TMP/plain.out")"
echo "ok: without the preload: no callback, lg_reports() 0"

# The guide's cmocka test (docs/guide.md, "In CI"): under the preload the
# tick that reads a pipe fails its test, with the record in the output; the
# tick that computes passes.
guide="$BUILD/tests/prog-cmocka-guide"
run_lg "log=$LG_TMP/guide.txt" 30 "$guide" >"$LG_TMP/guide.out" 2>&1
[ "$rc" -eq 1 ] || fail "guide: expected 1 failed test, exit status $rc"
grep -q '^\[       OK \] test_tick_computes$' "$LG_TMP/guide.out" &&
    grep -q '^\[  FAILED  \] test_tick_reads_a_pipe$' "$LG_TMP/guide.out" &&
    grep -q '^loopguard: {"type":"blocking_call".*"reads_a_pipe".*}$' \
        "$LG_TMP/guide.out" || { cat "$LG_TMP/guide.out"; fail "guide"; }
echo "ok: the guide's cmocka test fails the tick that blocks, with its record"
