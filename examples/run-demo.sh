#!/bin/sh
# Runs each example under the preload with text reports on stderr, each one
# bounded by a timeout, and says beforehand what to expect. Exits 0 when every
# example behaved as described: deadlock hangs until the timeout kills it, the
# others exit 0, and the lg_chan ones (fixed, loop-to-thread, thread-to-loop,
# thread-to-loop-batch, thread-to-epoll, thread-to-libevent, thread-to-glib)
# are not reported at all. Usage: examples/run-demo.sh BUILD_DIR (what
# `make demo` runs).
build=${1:?usage: examples/run-demo.sh BUILD_DIR}
case "$build" in /*) ;; *) build="$(pwd)/$build" ;; esac

preload="$build/libloopguard-preload.so"
[ -f "$preload" ] || { echo "run-demo: no $preload; run make" >&2; exit 1; }
# A sanitizer build needs its runtime first in LD_PRELOAD, or ASan refuses
# to start (tests/run-integration.sh does the same).
if readelf -d "$preload" 2>/dev/null | grep -q 'libasan'; then
    preload="$(cc -print-file-name=libasan.so):$preload"
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
fi

failed=0

heading() {
    printf '\n==== %s ====\n%s\n\n' "$1" "$2"
}

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# run SECONDS EXAMPLE: runs it under the preload, killed after SECONDS with
# SIGTERM (SIGKILL a second later if that is not enough). Its stderr goes
# through tee, so reports show as they are written and are also kept. Sets
# $rc, $reports (blocking-call reports) and $records (any loopguard record,
# the exit summary included).
run() {
    { { LOOPGUARD_OPTIONS=format=text LD_PRELOAD="$preload" \
            timeout -k 1 "$1" "$build/examples/$2" 2>&1 1>&3 3>&-
        echo $? >"$tmp/rc"
      } | tee "$tmp/err" >&2; } 3>&1
    rc=$(cat "$tmp/rc")
    reports=$(grep -c '^==[0-9]*==loopguard: blocking receive' "$tmp/err")
    deadlocks=$(grep -c '^==[0-9]*==loopguard: deadlock' "$tmp/err")
    records=$(grep -c '^==[0-9]*==loopguard: ' "$tmp/err")
}

# clean NAME WHY: the verdict for an example that must exit 0 unreported.
clean() {
    if [ "$rc" -eq 0 ] && [ "$records" -eq 0 ]; then
        verdict ok "$1" "exit status 0, no report: $2"
    else
        verdict bad "$1" \
            "exit status $rc, $records record(s); expected 0 and none"
    fi
}

verdict() {
    if [ "$1" = ok ]; then
        printf '\n-> %s: as expected (%s)\n' "$2" "$3"
    else
        printf '\n-> %s: NOT as expected (%s)\n' "$2" "$3"
        failed=$((failed + 1))
    fi
}

heading deadlock \
"A timer callback, on_tick, waits in pthread_cond_wait for a queue that only
another callback on the same loop would fill, so the program hangs forever.
Expect a report naming pthread_cond_wait and on_tick as the wait starts;
a second later the watchdog's stall record (the loop has not come back) and
its deadlock record (the only thread waits on what only it could signal);
the demo then kills the program after 3 s."
run 3 deadlock
case $rc in
124|137)
    if [ "$reports" -eq 1 ] && [ "$deadlocks" -eq 1 ]; then
        verdict ok deadlock "reported once, deadlock seen, killed after 3 s"
    else
        verdict bad deadlock \
            "hung, but $reports reports and $deadlocks deadlocks, not 1 and 1"
    fi ;;
*) verdict bad deadlock "expected to hang, but exited with status $rc" ;;
esac

heading fixed \
"The same program with the queue replaced by an lg_chan: on_tick asks for
the item with lg_chan_recv_start and returns, on_produce sends it with
lg_chan_send_async, and the item arrives in on_item. Expect 'on_item: got
42', exit status 0 and no report at all."
run 10 fixed
clean fixed "the deadlock is gone"

heading stall \
"A timer callback, on_timer, does a blocking read of a pipe that a worker
thread writes 10 ms later. The program finishes, but the loop stood still
for 10 ms. Expect one report for read on 'fd N (pipe)', and a summary at exit."
run 10 stall
if [ "$rc" -eq 0 ] && [ "$reports" -eq 1 ]; then
    verdict ok stall "reported once, exit status 0"
else
    verdict bad stall "exit status $rc, $reports reports; expected 0 and 1"
fi

heading thread-recv-ok \
"The loop hands jobs to a worker thread, which waits in pthread_cond_wait
off the loop and sends each result back with uv_async_send. This is the
correct shape: expect no report at all."
run 10 thread-recv-ok
clean thread-recv-ok "the wait is off the loop"

heading loop-to-thread \
"The same work with two lg_chans: the loop sends jobs with
lg_chan_send_async, the worker blocks in lg_chan_recv_blocking (it is not a
loop thread) and sends results back, which arrive in on_result through
lg_chan_recv_start. Expect the three squares, their sum, and no report."
run 10 loop-to-thread
clean loop-to-thread "threads block, the loop never does"

heading thread-to-loop \
"Four worker threads send 10000 numbered messages each with
lg_chan_send_blocking; the loop receives them with lg_chan_recv_start,
checks each worker's order, closes the channel, and ends after the final
-EPIPE callback. A timer ticks meanwhile. Expect no report."
run 20 thread-to-loop
clean thread-to-loop "the loop kept ticking"

heading thread-to-loop-batch \
"thread-to-loop with lg_chan_recv_start_batch: the loop gets up to 32
messages per callback, as an array in the channel's memory. Expect no
report."
run 20 thread-to-loop-batch
clean thread-to-loop-batch "the loop took them in batches"

heading thread-to-epoll \
"Four workers send to a raw epoll loop, which watches lg_chan_fd and calls
lg_chan_drain (never blocking) when it is readable, 16 messages at most at
a time, until -EPIPE. The loop is marked with lg_loop_enter. Expect no
report."
run 20 thread-to-epoll
clean thread-to-epoll "any loop can receive through the descriptor"

heading thread-to-libevent \
"The same four workers, received by a libevent loop: a persistent EV_READ
event on lg_chan_fd whose callback drains. Expect no report."
run 20 thread-to-libevent
clean thread-to-libevent "a libevent loop receives through the descriptor"

heading thread-to-glib \
"The same four workers, received by a GLib main loop: g_unix_fd_add on
lg_chan_fd, whose callback drains. Expect no report."
run 20 thread-to-glib
clean thread-to-glib "a GLib loop receives through the descriptor"

echo
if [ $failed -ne 0 ]; then
    echo "demo: $failed example(s) did not behave as expected"
    exit 1
fi
echo "demo: every example behaved as expected"
