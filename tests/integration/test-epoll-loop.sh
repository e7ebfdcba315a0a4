#!/bin/sh
# A hand-written epoll loop found by its behaviour (issue 4, item 1):
# prog-epoll-loop.c says what it does. Exactly three records, all on loop
# kind epoll via epoll with the loop's epoll fd as id: the read() in
# on_read_block, the nested client's epoll_wait in sync_client, the poll()
# in on_poll. Not reported: the loop's own epoll_wait, the handshake before
# the loop, the join after it, a thread whose only epoll_wait had a zero
# timeout, a worker that ran an epoll client twice and then blocked.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-epoll-loop"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"
out="$LG_TMP/r.jsonl"
run_lg "format=json:log=$out" 30 "$prog" >"$LG_TMP/stdout"
[ "$rc" -eq 0 ] || fail "prog-epoll-loop exited with status $rc, expected 0"
epfd=$(sed -n 's/^epfd //p' "$LG_TMP/stdout")
id=$(printf '0x%x' "$epfd")
expect_count 3 "$out" '.type == "blocking_call"' "records"
expect_count 3 "$out" ".type == \"blocking_call\" and .loop.kind == \"epoll\"
    and .loop.via == \"epoll\" and .loop.id == \"$id\"
    and any(.loop_stack[]; .symbol == \"main\")" \
    "records on the epoll loop $id"
expect_count 1 "$out" '.call == "read" and .stack[1].symbol == "on_read_block"
    and .timeout_ms == null' "the read in on_read_block"
expect_count 1 "$out" ".call == \"epoll_wait\" and .stack[1].symbol == \"sync_client\"
    and .timeout_ms == 20 and .object != \"epoll fd $epfd\"" \
    "the nested client's epoll_wait"
expect_count 1 "$out" '.call == "poll" and .stack[1].symbol == "on_poll"
    and .timeout_ms == 10' "the poll in on_poll"
echo "ok: epoll loop found by behaviour; three records, nothing else"
