#!/bin/sh
# A loop run inside a callback of another on the same thread (issue 4,
# item 1): prog-uv-nested's private loop waits in epoll for 20 ms while the
# outer loop runs nothing. One record: that epoll wait, made from
# run_private_loop's uv_run, on the outer loop (its id, via entry).
. tests/integration/lib.sh

prog="$BUILD/tests/prog-uv-nested"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"
out="$LG_TMP/r.jsonl"
run_lg "format=json:log=$out" 30 "$prog" >"$LG_TMP/stdout"
[ "$rc" -eq 0 ] || fail "prog-uv-nested exited with status $rc, expected 0"
outer=$(sed -n 's/^outer //p' "$LG_TMP/stdout")
expect_count 1 "$out" '.type == "blocking_call"' "records"
expect_count 1 "$out" ".type == \"blocking_call\"
    and (.call | test(\"^epoll_(p?wait|pwait2)\$\"))
    and .loop.kind == \"libuv\" and .loop.via == \"entry\"
    and .loop.id == \"$outer\"
    and any(.stack[]; .symbol == \"run_private_loop\")" \
    "the private loop's epoll wait, on the outer loop $outer"
echo "ok: a nested private loop's wait is a blocking call of the outer loop"
