#!/bin/sh
# examples/stall under the preload: it still exits 0, the blocking read of the
# pipe in on_timer is reported once, and the exit summary counts that site
# once.
. tests/integration/lib.sh

prog="$BUILD/examples/stall"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"

run_lg "format=json:log=$LG_TMP/r.%p.jsonl" 20 "$prog"
[ "$rc" -eq 0 ] || fail "stall exited with status $rc, expected 0"
set -- "$LG_TMP"/r.*.jsonl
[ $# -eq 1 ] && [ -f "$1" ] || fail "expected one report file, found: $*"
out=$1

expect_count 1 "$out" '.type == "blocking_call"' "blocking_call records"
expect_count 1 "$out" '.type == "blocking_call" and .call == "read"
    and (.object | test("^fd [0-9]+ \\(pipe\\)$"))
    and .timeout_ms == null and .loop.kind == "libuv"
    and any(.stack[]; .symbol == "on_timer")' \
    "the read of the pipe in on_timer"

site=$(jq -r 'select(.type == "blocking_call") | .site' "$out")
expect_count 1 "$out" '.type == "summary"' "summary records"
expect_count 1 "$out" ".type == \"summary\" and .sites_total == 1
    and .count == 1 and (.sites | length) == 1
    and .sites[0].site == \"$site\" and .sites[0].call == \"read\"
    and .sites[0].count == 1 and (.sites[0].blocked_ns | type) == \"number\"" \
    "a summary with the read's site, counted once"
echo "ok: stall reported once and summarized"
