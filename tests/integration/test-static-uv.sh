#!/bin/sh
# A libuv linked into the program from libuv1-dev's static archive
# (issue 4, item 4): no uv_run call reaches the preload; the loop is found
# through the stack.
#   uv-static-clean  prog-uv-clean.c (timers, TCP echo, fs, uv_queue_work,
#                    uv_async_send, uv_spawn, uv_signal) linked statically:
#                    exits 0, no record (libuv's own waits are its own);
#   uv-static-block  two records in on_timer_block: a read() of a pipe and
#                    uv_sem_wait(), on a libuv loop found via the stack;
#                    lg_thread_is_loop() answers 1 in the callback only.
. tests/integration/lib.sh

dir="$BUILD/tests/loops"
[ -x "$dir/uv-static-clean" ] && [ -x "$dir/uv-static-block" ] ||
    fail "uv-static programs not built (libuv1-dev's libuv_a.a: make deps)"

log="$LG_TMP/clean.%p.jsonl"
run_lg "format=json:log=$log" 30 "$dir/uv-static-clean"
[ "$rc" -eq 0 ] || fail "uv-static-clean exited with status $rc, expected 0"
expect_no_record uv-static-clean "$LG_TMP"/clean.*.jsonl
echo "ok: uv-static-clean exits 0, no record"

out="$LG_TMP/block.jsonl"
run_lg "format=json:log=$out" 30 "$dir/uv-static-block" >"$LG_TMP/stdout"
[ "$rc" -eq 0 ] || fail "uv-static-block exited with status $rc, expected 0"
grep -qx 'is_loop 0 1 0' "$LG_TMP/stdout" ||
    fail "lg_thread_is_loop() before uv_run, in a callback, after:" \
         "expected 0 1, 0; got: $(cat "$LG_TMP/stdout")"
expect_count 2 "$out" '.type == "blocking_call"' "uv-static-block: records"
expect_count 1 "$out" '.type == "blocking_call" and .call == "read"
    and (.object | test("^fd [0-9]+ \\(pipe\\)$"))
    and .loop.kind == "libuv" and .loop.via == "stack"
    and .stack[1].symbol == "on_timer_block"
    and .loop_stack[0].symbol == "uv_run"' \
    "uv-static-block: the read in on_timer_block"
expect_count 1 "$out" '.type == "blocking_call" and .call == "sem_wait"
    and .loop.kind == "libuv" and .loop.via == "stack"
    and .stack[1].symbol == "uv_sem_wait"
    and .stack[2].symbol == "on_timer_block"' \
    "uv-static-block: uv_sem_wait in on_timer_block"
echo "ok: uv-static-block: two records, read and uv_sem_wait, via the stack"
