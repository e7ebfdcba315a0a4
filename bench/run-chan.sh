#!/bin/sh
# bench/run-chan.sh BUILD_DIR: lg_chan against the hand-written libuv
# pattern and a pipe (issue 3, item 4). Run by `make bench`, after run.sh.
#
# One process measures every contender, alternating them round by round
# (bench/bench-chan.c says how), and prints the table and the verdicts.
# Nothing is pinned: a channel needs its producers and its loop on both
# CPUs. Takes about 30 s with the defaults.
#
# Environment: CHAN_ROUNDS (7), CHAN_MS (200: throughput window per run),
# CHAN_SAMPLES (1000: latency messages per contender per round).
set -eu

build=${1:-build}
bin=$build/bench/bench-chan
[ -x "$bin" ] || { echo "bench: $bin is missing; run make bench" >&2; exit 1; }

echo
echo "lg_chan bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r)," \
    "$(nproc) CPUs, not pinned"
echo "  $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
exec "$bin" -r "${CHAN_ROUNDS:-7}" -t "${CHAN_MS:-200}" \
    -n "${CHAN_SAMPLES:-1000}"
