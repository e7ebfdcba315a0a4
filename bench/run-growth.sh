#!/bin/sh
# bench/run-growth.sh BUILD_DIR: how the detector's costs grow with
# threads, live loops and sites reported (issue 18, item 3;
# bench/growth.py says how). Run by `make bench`.
#
# Environment: GROWTH_ROUNDS (5), GROWTH_OPS (400000 ops per point).
set -eu
build=${1:-build}
[ -x "$build/bench/bench-growth" ] ||
    { echo "bench: $build/bench/bench-growth is missing; run make bench" >&2
      exit 1; }
echo
echo "growth: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs," \
    "not pinned, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
exec python3 bench/growth.py "$build" "${GROWTH_ROUNDS:-5}" \
    "${GROWTH_OPS:-400000}" "$(cd "$build" && pwd)/bench"
