#!/bin/sh
# bench/all.sh BUILD_DIR: everything `make bench` measures, one bench
# after another (never two at once: they would measure each other), into
# BUILD_DIR/bench/bench.log as well, then make bench's one table of
# ratios, targets and verdicts (bench/summary.py).
set -u
build=${1:-build}
log=$build/bench/bench.log
: >"$log"
for b in run.sh run-servers.sh run-growth.sh run-suppress.sh \
        run-symbolize.sh run-chan.sh run-chan-peers.sh run-loops.sh \
        run-locks.sh; do
    { echo "BENCH-START $b"
      sh "bench/$b" "$build" 2>&1 || echo "BENCH-FAILED $b"
      echo "BENCH-END $b"; } | tee -a "$log" | grep -v -e '^BENCH-' -e '^FIGURE '
done
python3 bench/summary.py "$log"
