#!/bin/sh
# bench/run-echo-proc.sh BUILD_DIR: a libuv echo server in its own process
# under the preload against the same server native, unpinned, over whole
# runs, in interleaved pairs (issue 18, item 1; bench/echo-proc.py says
# how). Run by `make bench`.
#
# Environment: ECHO_PAIRS (15), ECHO_CONNS (16), ECHO_TRIPS (5000 per
# connection), ECHO_SIZE (64).
set -eu
build=${1:-build}
for f in bench-echosrv bench-echoload; do
    [ -x "$build/bench/$f" ] ||
        { echo "bench: $build/bench/$f is missing; run make bench" >&2; exit 1; }
done
echo
echo "echo server in its own process: $(date -u '+%Y-%m-%d %H:%M UTC')," \
    "$(uname -r), $(nproc) CPUs, not pinned," \
    "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
exec python3 bench/echo-proc.py "$build" "${ECHO_PAIRS:-15}" \
    "${ECHO_CONNS:-16}" "${ECHO_TRIPS:-5000}" "${ECHO_SIZE:-64}"
