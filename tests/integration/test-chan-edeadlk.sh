#!/bin/sh
# lg_chan refuses to deadlock (issue 3, item 3): a blocking lg_chan call on a
# loop thread returns -EDEADLK at once instead of freezing the loop, and is
# reported as a blocking_call when the preload is loaded. Without the
# preload (issue 17, item 4), the thread that runs the channel's callbacks
# is still refused, and so is any thread with uv_run on its stack when the
# call would park, silently, on a shared or a linked-in libuv; not once
# uv_run has returned, nor when a message waits. The program is
# tests/integration/prog-chan-deadlock.c.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-chan-deadlock"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"

# refused OUT CALL...: each CALL printed "CALL: EDEADLK after ...".
refused() {
    out=$1; shift
    for call; do
        grep -q "^$call: EDEADLK after " "$out" || {
            cat "$out"; fail "$call was not refused with EDEADLK"; }
    done
}

# 1. In a timer callback, under the preload: the thread is a loop thread
# because it is inside uv_run. The channel is empty and nobody would ever
# fill it, so anything but an immediate refusal hangs until the kill.
run_lg "format=json:log=$LG_TMP/t.%p.jsonl" 5 "$prog" timer >"$LG_TMP/t.out"
case $rc in
0) ;;
137) fail "lg_chan_recv_blocking in a timer callback blocked (killed)" ;;
*) cat "$LG_TMP/t.out"; fail "timer: exit status $rc (see its output)" ;;
esac
refused "$LG_TMP/t.out" lg_chan_recv_blocking
set -- "$LG_TMP"/t.*.jsonl
[ $# -eq 1 ] && [ -f "$1" ] || fail "expected one report file, found: $*"
log=$1
expect_count 1 "$log" '.type == "blocking_call"' "blocking_call records"
expect_count 1 "$log" '.type == "blocking_call" and
    .call == "lg_chan_recv_blocking" and
    .loop.kind == "libuv" and .loop.via == "entry" and
    (.object | startswith("chan 0x")) and .timeout_ms == null and
    .stack[0].symbol == "lg_chan_recv_blocking" and
    any(.stack[]; .symbol == "on_tick")' \
    "the refused receive, named in on_tick"
expect_count 1 "$log" '.type == "summary" and .count == 1 and
    .sites[0].call == "lg_chan_recv_blocking" and
    .sites[0].where.symbol == "on_tick"' "summary"

# The same, in text: the sanitizers' look names the call and the callback.
run_lg "format=text:log=$LG_TMP/t.%p.txt" 5 "$prog" timer >/dev/null
[ "$rc" -eq 0 ] || fail "timer (text run): exit status $rc"
set -- "$LG_TMP"/t.*.txt
for want in 'blocking receive lg_chan_recv_blocking on event-loop thread' \
            'in on_tick'; do
    grep -qF "$want" "$1" || { cat "$1"; fail "text report lacks '$want'"; }
done

# 2. In the channel's own recv callback, without the preload: lg_chan knows
# this thread runs the channel's callbacks, so both blocking calls are
# refused (two messages are queued: a receive let through would return 0,
# not hang). libloopguard.so alone writes nothing, even when asked to log.
timeout -s KILL 5 env LOOPGUARD_OPTIONS="format=json:log=$LG_TMP/n.%p.jsonl" \
    "$prog" callback >"$LG_TMP/n.out" 2>"$LG_TMP/n.err"
rc=$?
[ "$rc" -eq 0 ] || {
    cat "$LG_TMP/n.out" "$LG_TMP/n.err"
    fail "callback without the preload: exit status $rc"
}
refused "$LG_TMP/n.out" lg_chan_recv_blocking lg_chan_send_blocking
[ -s "$LG_TMP/n.err" ] && { cat "$LG_TMP/n.err"; fail "stderr not empty"; }
set -- "$LG_TMP"/n.*.jsonl
[ -e "$1" ] && { cat "$1"; fail "a report without the preload: $1"; }

# 3. The same callback under the preload: refused, and each call reported.
run_lg "format=json:log=$LG_TMP/c.%p.jsonl" 5 "$prog" callback \
    >"$LG_TMP/c.out"
[ "$rc" -eq 0 ] || { cat "$LG_TMP/c.out"; fail "callback: status $rc"; }
refused "$LG_TMP/c.out" lg_chan_recv_blocking lg_chan_send_blocking
set -- "$LG_TMP"/c.*.jsonl
expect_count 2 "$1" '.type == "blocking_call"' "blocking_call records"
for call in lg_chan_recv_blocking lg_chan_send_blocking; do
    expect_count 1 "$1" ".type == \"blocking_call\" and .call == \"$call\"
        and .loop.kind == \"libuv\" and any(.stack[]; .symbol == \"on_msg\")" \
        "$call in on_msg"
done
echo "ok: blocking lg_chan calls on a loop thread return -EDEADLK at once"

# 4. Without the preload, in a timer callback: nothing marked the thread,
# lg_chan finds uv_run on its stack before it parks: on libuv.so, and on a
# libuv linked into the program (not exported: its .symtab names it).
# Nothing written, even when asked to log.
got() {
    grep -q "^$2$" "$1" || { cat "$1"; fail "$3: want '$2'"; }
}
for prog in "$BUILD/tests/prog-chan-deadlock" \
            "$BUILD/tests/loops/uv-static-chan-deadlock"; do
    [ -x "$prog" ] || fail "$prog is missing (make test-bins)"
    name=$(basename "$prog")
    for mode in timer timed ready after; do
        out=$LG_TMP/$name.$mode
        timeout -s KILL 10 env \
            LOOPGUARD_OPTIONS="format=json:log=$LG_TMP/np.%p.jsonl" \
            "$prog" "$mode" >"$out.out" 2>"$out.err"
        rc=$?
        [ "$rc" -eq 137 ] && fail "$name $mode without the preload: it waited (killed)"
        [ "$rc" -eq 0 ] || { cat "$out.out" "$out.err"; fail "$name $mode: exit $rc"; }
        [ -s "$out.err" ] && { cat "$out.err"; fail "$name $mode: stderr not empty"; }
    done
    refused "$LG_TMP/$name.timer.out" lg_chan_recv_blocking
    refused "$LG_TMP/$name.timed.out" lg_chan_recv_timed \
        lg_chan_recv_many_blocking lg_chan_send_timed
    # A message waits: the fast path takes it, as it did before.
    got "$LG_TMP/$name.ready.out" "lg_chan_recv_blocking: 0 after .* ms" \
        "$name ready"
    # uv_run returned: the thread waits for the message, then times out.
    got "$LG_TMP/$name.after.out" "lg_chan_recv_blocking: 0 after .* ms" \
        "$name after"
    got "$LG_TMP/$name.after.out" "lg_chan_recv_timed: ETIMEDOUT after .* ms" \
        "$name after"
done
set -- "$LG_TMP"/np.*.jsonl
[ -e "$1" ] && { cat "$1"; fail "a report without the preload: $1"; }
echo "ok: without the preload too, inside uv_run (shared and linked-in libuv); not after it"
