#!/bin/sh
# Runs each example under the preload with text reports on stderr, each one
# bounded by a timeout, and says beforehand what to expect. Exits 0 when every
# example behaved as described: deadlock hangs until the timeout kills it, the
# others exit 0. Usage: examples/run-demo.sh BUILD_DIR (what `make demo` runs).
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

# run SECONDS EXAMPLE: runs it under the preload, killed after SECONDS with
# SIGTERM (SIGKILL a second later if that is not enough). Sets $rc.
run() {
    LOOPGUARD_OPTIONS=format=text LD_PRELOAD="$preload" \
        timeout -k 1 "$1" "$build/examples/$2"
    rc=$?
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
Expect a report naming pthread_cond_wait and on_tick; the demo then kills
the program after 2 s."
run 2 deadlock
case $rc in
124|137) verdict ok deadlock "hung; killed by the timeout after 2 s" ;;
*) verdict bad deadlock "expected to hang, but exited with status $rc" ;;
esac

heading stall \
"A timer callback, on_timer, does a blocking read of a pipe that a worker
thread writes 10 ms later. The program finishes, but the loop stood still
for 10 ms. Expect one report for read on 'fd N (pipe)', and a summary at exit."
run 10 stall
if [ $rc -eq 0 ]; then
    verdict ok stall "exit status 0"
else
    verdict bad stall "exit status $rc, expected 0"
fi

heading thread-recv-ok \
"The loop hands jobs to a worker thread, which waits in pthread_cond_wait
off the loop and sends each result back with uv_async_send. This is the
correct shape: expect no report at all."
run 10 thread-recv-ok
if [ $rc -eq 0 ]; then
    verdict ok thread-recv-ok "exit status 0"
else
    verdict bad thread-recv-ok "exit status $rc, expected 0"
fi

echo
if [ $failed -ne 0 ]; then
    echo "demo: $failed example(s) did not behave as expected"
    exit 1
fi
echo "demo: every example behaved as expected"
