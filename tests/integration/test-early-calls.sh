#!/bin/sh
# Wrapped calls made before the preload's constructor ran (by another
# library's constructor) work, and detection works after them.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-early"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"
LD_DEBUG=files run_lg "format=json:log=$LG_TMP/r.jsonl" 20 "$prog" \
    2> "$LG_TMP/init.txt"
[ "$rc" -eq 0 ] || fail "prog-early exited $rc"
# The premise: libearly's constructor ran before the preload's.
early=$(grep -n 'calling init: .*libearly.so' "$LG_TMP/init.txt" | cut -d: -f1)
pre=$(grep -n 'calling init: .*libloopguard-preload.so' "$LG_TMP/init.txt" |
      cut -d: -f1)
[ -n "$early" ] && [ -n "$pre" ] || fail "LD_DEBUG=files shows no init order"
[ "$early" -lt "$pre" ] || fail "the preload initialised first: no early calls tested"
expect_count 1 "$LG_TMP/r.jsonl" '.type == "blocking_call" and .call == "read"
    and any(.stack[]; .symbol == "on_timer")' "the read after start-up"
echo "ok: early calls work, detection works after them"
