#!/bin/sh
# bench/run-loops.sh BUILD_DIR: the cost of finding loops (issue 4).
#  1. A loop's own wait: bench-loopwait (epoll_wait on the thread's own
#     epoll fd, always ready) natively and preloaded, alternating, ROUNDS
#     times, pinned to one CPU; each process prints the wrapped call's and
#     libc's direct call's ns; the cost per round is the preloaded run's
#     (call - direct) less the native run's (target <= +50 ns).
#  2. Stack classification on a futex-heavy workload with no loop:
#     bench/rust futex-contend (8 std threads on one std::sync::Mutex, in a
#     program that links tokio, so the preload classifies every futex wait
#     by its stack), wall time natively and preloaded, alternating, ROUNDS
#     times, unpinned; the ratio per round (target <= 1.10). Skipped
#     without cargo.
#  3. A tokio runtime that parks between messages (bench/rust park-heavy):
#     wall time natively and preloaded, the ratio of medians; no target.
# 2a is bench-futexwait: the added cost of one such wait, in-proc as in 1,
#     at three stack depths: what 2 costs per futex wait.
# Environment: LOOPS_ROUNDS (7), FUTEX_ROUNDS (11), FUTEX_THREADS (8),
# FUTEX_ITERS (20000), PARK_MSGS (20000). Verdicts by make bench's rule
# over the rounds (figure, in bench/lib.sh).
set -eu
build=${1:-build}
rounds=${LOOPS_ROUNDS:-7}
preload=$(cd "$build" && pwd)/libloopguard-preload.so
. "$(dirname "$0")/lib.sh"

echo
echo "loop finding: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs"
i=0
while [ $i -lt "$rounds" ]; do
    env -u LD_PRELOAD $pin "$build/bench/bench-loopwait" >>"$tmp/wait.native"
    LD_PRELOAD="$preload" $pin "$build/bench/bench-loopwait" >>"$tmp/wait.preload"
    i=$((i + 1))
done
n=$(awk '{print $1 - $2}' "$tmp/wait.native" | median)
p=$(awk '{print $1 - $2}' "$tmp/wait.preload" | median)
nc=$(awk '{print $1}' "$tmp/wait.native" | median)
pc=$(awk '{print $1}' "$tmp/wait.preload" | median)
awk -v n="$n" -v p="$p" -v nc="$nc" -v pc="$pc" -v r="$rounds" 'BEGIN {
    d = p - n
    printf "a loop'\''s own wait (epoll_wait, own fd, ready), %d rounds, pinned:\n", r
    printf "  native %.1f ns, preload %.1f ns per call; added in-proc %+.1f ns\n", nc, pc, d }'
awk '{print $1 - $2}' "$tmp/wait.native" >"$tmp/wait.nd"
awk '{print $1 - $2}' "$tmp/wait.preload" >"$tmp/wait.pd"
figure "loop's own wait (epoll_wait): added in-proc" "$tmp/wait.nd" \
    "$tmp/wait.pd" add 50

# 2a. One classified wait: bench-futexwait at stack depths 5, 20, 50.
echo "one futex wait classified by its stack (returns at once), pinned:"
for d in 5 20 50; do
    rm -f "$tmp/fw.native" "$tmp/fw.preload"
    i=0
    while [ $i -lt "$rounds" ]; do
        env -u LD_PRELOAD $pin "$build/bench/bench-futexwait" $d >>"$tmp/fw.native"
        LD_PRELOAD="$preload" $pin "$build/bench/bench-futexwait" $d >>"$tmp/fw.preload"
        i=$((i + 1))
    done
    n=$(awk '{print $1 - $2}' "$tmp/fw.native" | median)
    p=$(awk '{print $1 - $2}' "$tmp/fw.preload" | median)
    nc=$(awk '{print $1}' "$tmp/fw.native" | median)
    awk -v d=$d -v n="$n" -v p="$p" -v nc="$nc" 'BEGIN {
        printf "  %2d frames deep: native %.1f ns per call, added in-proc %+.1f ns\n", d, nc, p - n }'
done

if ! command -v cargo >/dev/null 2>&1; then
    echo "futex-heavy workload: skipped (cargo not found)"
    exit 0
fi
rust="$(cd "$build" && pwd)/rust-bench"
mkdir -p "$rust"
cp -R tests/rust/.cargo bench/rust "$rust/"
(cd "$rust/rust" && cargo build --release --offline --quiet \
    --target-dir "$rust/target") || { echo "bench: cargo build failed" >&2; exit 1; }
bin="$rust/target/release/futex-contend"
threads=${FUTEX_THREADS:-8}
iters=${FUTEX_ITERS:-20000}
frounds=${FUTEX_ROUNDS:-11}
i=0
while [ $i -lt "$frounds" ]; do
    env -u LD_PRELOAD "$bin" "$threads" "$iters" >>"$tmp/futex.native"
    LD_PRELOAD="$preload" "$bin" "$threads" "$iters" >>"$tmp/futex.preload"
    i=$((i + 1))
done
n=$(median <"$tmp/futex.native")
p=$(median <"$tmp/futex.preload")
awk -v n="$n" -v p="$p" -v t="$threads" -v it="$iters" -v r="$frounds" 'BEGIN {
    printf "futex-heavy, no loop (%d std threads x %d locks of one Mutex, tokio linked), %d rounds:\n", t, it, r
    printf "  native %.1f ms, preload %.1f ms (medians)\n", n, p }'
figure "futex-heavy, no loop: wall time vs native" "$tmp/futex.native" \
    "$tmp/futex.preload" le 1.10

# 3. A runtime that parks between messages: each park that may block is
#    classified by its stack (no target; the price of item 2).
bin="$rust/target/release/park-heavy"
msgs=${PARK_MSGS:-20000}
i=0
while [ $i -lt "$rounds" ]; do
    env -u LD_PRELOAD "$bin" "$msgs" >>"$tmp/park.native"
    LD_PRELOAD="$preload" "$bin" "$msgs" >>"$tmp/park.preload"
    i=$((i + 1))
done
n=$(median <"$tmp/park.native")
p=$(median <"$tmp/park.preload")
awk -v n="$n" -v p="$p" -v m="$msgs" -v r="$rounds" 'BEGIN {
    printf "park-heavy tokio runtime (%d messages, one at a time, from a thread), %d rounds:\n", m, r
    printf "  native %.1f ms, preload %.1f ms (medians): ratio %.3f (no target)\n", n, p, p / n }'
