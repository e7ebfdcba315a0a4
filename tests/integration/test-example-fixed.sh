#!/bin/sh
# examples/fixed under the preload: the deadlock example with its queue
# replaced by an lg_chan finishes, exits 0 and writes no record at all (in
# JSON). The same run of its twin, examples/deadlock, is reported, so the
# silence means the preload watched and found nothing, not that it was off.
. tests/integration/lib.sh

prog="$BUILD/examples/fixed"
twin="$BUILD/examples/deadlock"
[ -x "$prog" ] && [ -x "$twin" ] || fail "examples missing (make test-bins)"

run_lg "format=json:log=$LG_TMP/r.%p.jsonl" 10 "$prog" \
    >"$LG_TMP/out" 2>"$LG_TMP/err"
[ "$rc" -eq 0 ] || { cat "$LG_TMP/err"; fail "fixed exited with $rc"; }
grep -qx 'on_item: got 42' "$LG_TMP/out" || {
    cat "$LG_TMP/out"; fail "fixed did not print 'on_item: got 42'"; }
[ -s "$LG_TMP/err" ] && { cat "$LG_TMP/err"; fail "fixed wrote to stderr"; }
for f in "$LG_TMP"/r.*.jsonl; do
    [ -s "$f" ] || continue
    cat "$f"
    fail "expected no record from fixed, found some in $f"
done

# The control: the same options on the twin give its one report.
run_lg "format=json:log=$LG_TMP/d.%p.jsonl" 2 "$twin" >/dev/null 2>&1
case $rc in
124|137) ;;
*) fail "deadlock should hang until killed; it exited with status $rc" ;;
esac
set -- "$LG_TMP"/d.*.jsonl
[ -f "$1" ] || fail "the deadlock twin wrote no report: is the preload on?"
expect_count 1 "$1" \
    '.type == "blocking_call" and .call == "pthread_cond_wait"' \
    "deadlock twin"
echo "ok: fixed exits 0 with no report; its deadlock twin is reported"
