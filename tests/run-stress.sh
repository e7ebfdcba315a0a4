#!/bin/sh
# tests/run-stress.sh: `make stress`, the long runs `make check` is too
# short for. The channel's stress test (tests/unit/test-chan-stress.c) with
# LG_STRESS_SCALE times its messages and closes, in the plain, ASan+UBSan
# and TSan builds, then every channel test again and again under TSan, to
# meet the interleavings one run misses; and the preload's many-threads
# report test (test-reports-concurrent) at that scale: no record lost or
# cut. About 7 minutes with the defaults.
#
# Usage: run-stress.sh [BUILD_DIR]; the sanitizer builds are build/asan
# and build/tsan, as `make check` makes them.
# Environment: STRESS_SCALE (20; TSan runs half of it, being slower),
# STRESS_ROUNDS (5: runs of each channel test under TSan).
set -u

build=${1:-build}
scale=${STRESS_SCALE:-20}
rounds=${STRESS_ROUNDS:-5}
tsan_scale=$(( scale / 2 > 0 ? scale / 2 : 1 ))
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run NAME COMMAND...: one run, its time, and its log's tail if it failed.
run() {
    name=$1; shift
    t0=$(date +%s)
    if "$@" >"$log" 2>&1; then
        echo "PASS stress/$name ($(( $(date +%s) - t0 )) s)"
    else
        fail=$((fail + 1))
        echo "FAIL stress/$name ($(( $(date +%s) - t0 )) s)"
        tail -40 "$log" | sed 's/^/    /'
    fi
}

LG_STRESS_SCALE=$scale run "chan-stress x$scale" "$build/tests/test-chan-stress"
LG_STRESS_SCALE=$scale run "chan-stress x$scale asan" \
    build/asan/tests/test-chan-stress
LG_STRESS_SCALE=$tsan_scale run "chan-stress x$tsan_scale tsan" \
    build/tsan/wrap/test-chan-stress
abs=$(cd "$build" && pwd)
tmp=$(mktemp -d)
LG_STRESS_SCALE=$scale BUILD=$abs LG_TMP=$tmp \
    LG_PRELOAD=$abs/libloopguard-preload.so \
    run "reports-concurrent x$scale" \
    sh tests/integration/test-reports-concurrent.sh
rm -rf "$tmp"
i=1
while [ "$i" -le "$rounds" ]; do
    for t in build/tsan/wrap/test-chan-*; do
        run "$(basename "$t") tsan, round $i/$rounds" "$t"
    done
    i=$((i + 1))
done
echo "stress: $fail failed"
[ "$fail" -eq 0 ]
