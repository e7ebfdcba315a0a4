#!/bin/sh
# A process in which no event loop was found says so at exit, so that its
# silence is not read as "clean" (issue 16, item 5):
#   alone     prog-locks consistent (threads and locks, no loop, nothing to
#             report), watched directly: one summary, loops_found 0; in
#             text, the one line.
#   records   prog-locks abba: its inversion, then a summary that says no
#             loop was found.
#   child     prog-locks consistent run by a shell that has the preload (a
#             watched parent): no summary.
#   loop      examples/fixed (a libuv loop, nothing to report): no record.
. tests/integration/lib.sh
command -v jq >/dev/null 2>&1 || skip "jq not installed"
locks="$BUILD/tests/prog-locks"
fixed="$BUILD/examples/fixed"
for p in "$locks" "$fixed"; do
    [ -x "$p" ] || fail "$p not built (make test-bins)"
done
line='summary: no event loop was found in this process: no call was checked'

f="$LG_TMP/alone.jsonl"
run_lg "format=json:log=$f" 30 "$locks" consistent >/dev/null 2>&1
[ "$rc" -eq 0 ] || fail "alone: exit $rc"
expect_count 1 "$f" 'true' "alone: one record"
expect_count 1 "$f" '.type == "summary" and .loops_found == 0 and
    .count == 0 and .sites_total == 0' "alone: the summary says no loop"
run_lg "log=$LG_TMP/alone.txt" 30 "$locks" consistent >/dev/null 2>&1
[ "$(grep -c . "$LG_TMP/alone.txt")" = 1 ] &&
    grep -q "^==[0-9]*==loopguard: $line (docs/guide.md" "$LG_TMP/alone.txt" ||
    { cat "$LG_TMP/alone.txt"; fail "alone: text: want the one line"; }
echo "ok: alone: the summary says no loop was found"

f="$LG_TMP/abba.jsonl"
run_lg "format=json:log=$f" 30 "$locks" abba >/dev/null 2>&1
[ "$rc" -eq 0 ] || fail "records: exit $rc"
expect_count 1 "$f" '.type == "lock_order_inversion"' "records: inversion"
expect_count 1 "$f" '.type == "summary" and .loops_found == 0' \
    "records: the summary says no loop"
echo "ok: records: an inversion, and no loop said"

# The shell has the preload (env sets LD_PRELOAD before exec'ing it): its
# child was run by a watched process. (A child with records to write
# still writes its summary, loops_found 0 in it: "records" above.)
f="$LG_TMP/child.jsonl"
run_lg "format=json:log=$f" 30 sh -c "\"$locks\" consistent; exit \$?" \
    >/dev/null 2>&1
[ "$rc" -eq 0 ] || fail "child: exit $rc"
expect_no_record "child: no summary" "$f"
echo "ok: child: a watched process's children say nothing of it"

f="$LG_TMP/fixed.jsonl"
run_probed "format=json:log=$f" 30 "$fixed" >/dev/null 2>&1
[ "$rc" -eq 0 ] || fail "loop: exit $rc"
expect_loop_seen "loop"
expect_no_record "loop: a loop was found, nothing reported" "$f"
echo "ok: loop: nothing to say"
echo PASS
