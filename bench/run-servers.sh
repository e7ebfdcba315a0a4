#!/bin/sh
# bench/run-servers.sh BUILD_DIR: servers in their own process under the
# preload against the same server native, unpinned, over whole runs, in
# interleaved pairs (issue 18, items 1 and 2; bench/server-proc.py says
# how): a libuv echo server, node's http on Debian's node 18, an asyncio
# echo server on Debian's python3. Run by `make bench`.
#
# Environment: SERVER_PAIRS (15), SERVER_CONNS (16), SERVER_SIZE (64), and
# the round trips per connection: UV_TRIPS (10000), NODE_TRIPS (7500),
# ASYNCIO_TRIPS (6000): one to three seconds per server at each run (node
# longer: a third of a second-long run was V8's warm-up), and
# SERVER_SLICES (10).
set -eu
build=${1:-build}
for f in bench-echosrv bench-echoload; do
    [ -x "$build/bench/$f" ] ||
        { echo "bench: $build/bench/$f is missing; run make bench" >&2; exit 1; }
done
echo
echo "servers in their own process: $(date -u '+%Y-%m-%d %H:%M UTC')," \
    "$(uname -r), $(nproc) CPUs, not pinned," \
    "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
pairs=${SERVER_PAIRS:-15} conns=${SERVER_CONNS:-16} size=${SERVER_SIZE:-64}
slices=${SERVER_SLICES:-10}
python3 bench/server-proc.py "$build" uv "$pairs" "$conns" \
    "${UV_TRIPS:-10000}" "$size" "$slices"
python3 bench/server-proc.py "$build" node "$pairs" "$conns" \
    "${NODE_TRIPS:-7500}" "$size" "$slices"
python3 bench/server-proc.py "$build" asyncio "$pairs" "$conns" \
    "${ASYNCIO_TRIPS:-6000}" "$size" "$slices"
