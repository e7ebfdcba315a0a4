#!/bin/sh
# examples/deadlock under the preload: the one blocking receive, made in
# on_tick through queue_pop, is reported before the program hangs (it is then
# killed), in JSON with every field design.md fixes, and in text.
. tests/integration/lib.sh

prog="$BUILD/examples/deadlock"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"

run_lg "format=json:log=$LG_TMP/r.%p.jsonl" 3 "$prog"
case $rc in
124|137) ;;
*) fail "deadlock should hang until killed; it exited with status $rc" ;;
esac
set -- "$LG_TMP"/r.*.jsonl
[ $# -eq 1 ] && [ -f "$1" ] || fail "expected one report file, found: $*"
out=$1
pid=${out##*/r.}; pid=${pid%.jsonl}

expect_count 1 "$out" '.type == "blocking_call"' "blocking_call records"
rec=$(jq -c 'select(.type == "blocking_call")' "$out")

# has FILTER WHAT: the blocking_call record satisfies the jq boolean FILTER.
has() {
    printf '%s\n' "$rec" | jq -e "$1" >/dev/null || {
        printf '%s\n' "$rec" | jq .
        fail "$2 (jq: $1)"
    }
}

has '.call == "pthread_cond_wait"' "call is pthread_cond_wait"
has '.object | type == "string" and startswith("cond 0x")' \
    'object is "cond 0x..."'
has 'has("timeout_ms") and .timeout_ms == null' "timeout_ms is null"
has '(.ts_ns | type == "number") and .ts_ns > 0' "ts_ns is a number"
has ".pid == $pid and .tid == $pid" \
    "pid is the program's and tid its main thread's ($pid)"
has '.thread | type == "string"' "thread is a name"
has '.loop.kind == "libuv"' 'loop.kind is "libuv"'
has '.loop.via == "entry"' 'loop.via is "entry"'
has '.loop.id | type == "string" and test("^0x[0-9a-f]+$")' \
    "loop.id is a hex string"
has '.site | type == "string" and test("^0x[0-9a-f]+$")' \
    "site is a hex string"
has 'any(.loop_stack[]; .symbol == "uv_run")' "loop_stack has uv_run"
has 'any(.stack[]; .symbol == "on_tick")' "stack has on_tick"
has 'any(.stack[]; .symbol == "queue_pop")' "stack has queue_pop"
# Innermost first: queue_pop was called by on_tick.
has '[.stack[].symbol] | index("queue_pop") < index("on_tick")' \
    "queue_pop is inner to on_tick"
has '[.stack[], .loop_stack[]] | length > 0 and all(
        (.pc | type == "string" and test("^0x[0-9a-f]+$")) and
        (.offset | type == "number") and
        (.module | type == "string") and
        (.symbol == null or (.symbol | type == "string")) and
        has("symbol"))' \
    "every frame has pc, symbol, offset and module"

# The watchdog: the only thread waits on a cond only it could signal, so a
# deadlock record follows, within 2 x stall_ms (default 1000) of the wait,
# naming the same wait; and a stall of the loop.
expect_count 1 "$out" '.type == "deadlock"' "deadlock records"
expect_count 1 "$out" '.type == "deadlock" and .threads_total == 1 and
    .threads[0].tid == '"$pid"' and .threads[0].call == "pthread_cond_wait" and
    any(.threads[0].stack[]; .symbol == "queue_pop")' \
    "the deadlock names the main thread's wait in queue_pop"
expect_count 1 "$out" '.type == "stall" and .phase == "begin" and
    .call == "pthread_cond_wait"' "the loop's stall"
late=$(jq -s '([.[] | select(.type == "deadlock")][0].ts_ns -
               [.[] | select(.type == "blocking_call")][0].ts_ns) / 1e6' "$out")
[ "$(jq -n "$late <= 2000")" = true ] ||
    fail "deadlock reported $late ms after the wait began (limit 2000)"

# abort mode: the hang becomes a failing exit.
run_lg "format=json:mode=abort:log=$LG_TMP/a.%p.jsonl" 10 "$prog"
[ "$rc" = 134 ] || fail "mode=abort: expected SIGABRT (134), got $rc"

# The same report in text, the sanitizers' look.
run_lg "format=text:log=$LG_TMP/t.%p.txt" 3 "$prog"
case $rc in
124|137) ;;
*) fail "deadlock (text run) exited with status $rc" ;;
esac
set -- "$LG_TMP"/t.*.txt
[ $# -eq 1 ] && [ -f "$1" ] || fail "expected one text report, found: $*"
for want in 'blocking receive pthread_cond_wait on event-loop thread' \
            'in on_tick'; do
    grep -qF "$want" "$1" || { cat "$1"; fail "text report lacks '$want'"; }
done
echo "ok: deadlock reported once, JSON and text; deadlock record; abort"
