#!/bin/sh
# A hand-written poll or select loop found by its behaviour (issue 16, item
# 5: dnsmasq's kind of loop): prog-poll-loop.c says what it does, once per
# wait (poll, ppoll, select, pselect). Exactly one record each: the read()
# in on_read_block, a turn after the loop was found, on loop kind poll via
# poll, whose entry stack is run_loop's. Not reported: the loop's own
# waits, the read after run_loop returned (the loop's function is gone: its
# wait is in a helper, wait_turn, so the loop is the helper's caller), a
# client thread's poll of one descriptor and its read.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-poll-loop"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"
for wait in poll ppoll select pselect; do
    out="$LG_TMP/$wait.jsonl"
    run_lg "format=json:log=$out" 30 "$prog" $wait >"$LG_TMP/stdout"
    [ "$rc" -eq 0 ] || fail "$wait: exit status $rc, expected 0"
    expect_count 1 "$out" '.type == "blocking_call"' "$wait: records"
    expect_count 1 "$out" '.type == "blocking_call" and .call == "read" and
        .stack[1].symbol == "on_read_block" and .loop.kind == "poll" and
        .loop.via == "poll" and .loop_stack[0].symbol == "wait_turn" and
        .loop_stack[1].symbol == "run_loop"' \
        "$wait: the read in on_read_block, on the poll loop"
    expect_count 1 "$out" '.type == "summary" and .loops_found == 1' \
        "$wait: one loop found"
    echo "ok: $wait: the loop found by its behaviour; one record"
done
