#!/bin/sh
# bench/run-locks.sh BUILD_DIR: the cost of the watchdog's wait slots and
# the lock-order graph (issue 5), in one run, as ratios to native.
#  1. bench-locks queue: 2 producers hand items to 2 consumers through a
#     mutex + condvar bounded queue; ns per item, native and preloaded
#     (graph on, graph off), alternating, QUEUE_ROUNDS times, medians; then
#     once each under TSan (-fsanitize=thread), valgrind --tool=helgrind and
#     --tool=drd (on fewer items: they are slow; per item all the same).
#  2. bench-locks signal: lock + cond_signal + unlock on one thread, pinned
#     to one CPU; the added ns per iteration (median of SIGNAL_ROUNDS).
# Targets (issue 5): queue <= 1.05x native with the graph on; signal loop
# <= +15 ns; verdicts by make bench's rule over the rounds (figure, in
# bench/lib.sh).
# Environment: QUEUE_ROUNDS (7), QUEUE_ITEMS (200000 per producer),
# SLOW_DIV (20: helgrind and drd run ITEMS/SLOW_DIV), SIGNAL_ROUNDS (7),
# SIGNAL_ITERS (5000000).
set -eu
build=${1:-build}
rounds=${QUEUE_ROUNDS:-7}
items=${QUEUE_ITEMS:-200000}
slow=$((items / ${SLOW_DIV:-20}))
srounds=${SIGNAL_ROUNDS:-7}
siters=${SIGNAL_ITERS:-5000000}
bin=$(cd "$build" && pwd)/bench/bench-locks
tsan=$(cd "$build" && pwd)/bench/bench-locks-tsan
preload=$(cd "$build" && pwd)/libloopguard-preload.so
. "$(dirname "$0")/lib.sh"

echo
echo "locks: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs"
i=0
while [ $i -lt "$rounds" ]; do
    env -u LD_PRELOAD "$bin" queue 2 2 "$items" >>"$tmp/q.native"
    LD_PRELOAD="$preload" "$bin" queue 2 2 "$items" >>"$tmp/q.on"
    LOOPGUARD_OPTIONS=lock_order=0 LD_PRELOAD="$preload" \
        "$bin" queue 2 2 "$items" >>"$tmp/q.off"
    i=$((i + 1))
done
n=$(median <"$tmp/q.native")
on=$(median <"$tmp/q.on")
off=$(median <"$tmp/q.off")
t="n/a"; h="n/a"; d="n/a"
[ -x "$tsan" ] && t=$("$tsan" queue 2 2 "$items" 2>/dev/null || echo n/a)
if command -v valgrind >/dev/null 2>&1; then
    h=$(valgrind -q --tool=helgrind "$bin" queue 2 2 "$slow" 2>/dev/null ||
        echo n/a)
    d=$(valgrind -q --tool=drd "$bin" queue 2 2 "$slow" 2>/dev/null ||
        echo n/a)
fi
echo "mutex+cond queue, 2 producers -> 2 consumers, $items items each" \
     "(valgrind: $slow), ns per item, medians of $rounds:"
for row in "native:$n" "preload, lock_order=1:$on" "preload, lock_order=0:$off" \
           "TSan (-fsanitize=thread):$t" "valgrind --tool=helgrind:$h" \
           "valgrind --tool=drd:$d"; do
    name=${row%:*}; v=${row##*:}
    awk -v name="$name" -v v="$v" -v n="$n" 'BEGIN {
        if (v == "n/a") { printf "  %-28s %10s\n", name, "n/a"; exit }
        printf "  %-28s %10.1f ns  %6.2fx\n", name, v, v / n }'
done
figure "lock-order graph on, mutex+cond queue: per item vs native" \
    "$tmp/q.native" "$tmp/q.on" le 1.05

rm -f "$tmp/s.native" "$tmp/s.on"
i=0
while [ $i -lt "$srounds" ]; do
    env -u LD_PRELOAD $pin "$bin" signal "$siters" >>"$tmp/s.native"
    LD_PRELOAD="$preload" $pin "$bin" signal "$siters" >>"$tmp/s.on"
    i=$((i + 1))
done
sn=$(median <"$tmp/s.native")
so=$(median <"$tmp/s.on")
awk -v n="$sn" -v p="$so" -v r="$srounds" 'BEGIN {
    printf "lock + cond_signal + unlock, one thread, pinned, medians of %d:\n", r
    printf "  native %.2f ns, preload %.2f ns per iteration: %+.2f ns\n", n, p, p - n }'
figure "lock + cond_signal + unlock, one thread: added" "$tmp/s.native" \
    "$tmp/s.on" add 15
