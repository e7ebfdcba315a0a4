#!/bin/sh
# C++ in libuv callbacks (issue 4, item 3): std::condition_variable::wait
# and std::this_thread::sleep_for are reported, with demangled C++ frames.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-cxx-uv"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"
out="$LG_TMP/r.jsonl"
run_lg "format=json:log=$out" 30 "$prog"
[ "$rc" -eq 0 ] || fail "prog-cxx-uv exited with status $rc, expected 0"
expect_count 2 "$out" '.type == "blocking_call"' "records"
expect_count 1 "$out" '.type == "blocking_call"
    and .call == "pthread_cond_wait" and .loop.kind == "libuv"
    and any(.stack[]; .symbol // "" | startswith("(anonymous namespace)::Waiter::take()"))
    and any(.stack[]; .symbol == "on_wait(uv_timer_s*)")' \
    "the condition_variable wait in Waiter::take()"
expect_count 1 "$out" '.type == "blocking_call"
    and (.call == "nanosleep" or .call == "clock_nanosleep")
    and .timeout_ms == 5 and .loop.kind == "libuv"
    and any(.stack[]; .symbol == "napper::nap()")
    and any(.stack[]; .symbol == "on_nap(uv_timer_s*)")' \
    "the sleep_for in napper::nap()"
echo "ok: C++ waits reported with demangled frames"
