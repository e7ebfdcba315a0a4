#!/bin/sh
# bench/run-chan-peers.sh BUILD_DIR: lg_chan (recv_start, recv_start_batch)
# against the hand-written libuv pattern, tokio's mpsc, crossbeam's bounded
# channel and a Go channel, thread -> receiver, 1 to 16 producers, 8- and
# 64-byte messages, capacity 1024, in one run (issue 17, item 5; the
# method is bench/chan-peers.py's). Run by `make bench`. The Rust peers
# build offline from Debian's crates, the Go one with golang-go; a peer
# whose toolchain is absent is skipped with a line. Takes a few minutes.
#
# Environment: PEERS_ROUNDS (5), PEERS_MSGS (2000000 per run).
set -eu

build=${1:-build}
bin=$build/bench/bench-chanrate
[ -x "$bin" ] || { echo "bench: $bin is missing; run make bench" >&2; exit 1; }
out=$(cd "$build" && pwd)/bench
set -- "lg=$bin lg" "lgb=$bin lgb" "a=$bin a"

PATH=$PATH:${HOME:-/root}/.cargo/bin
if command -v cargo >/dev/null 2>&1; then
    rust=$out/rust-peers
    mkdir -p "$rust"
    cp -R tests/rust/.cargo bench/rust "$rust/"
    if (cd "$rust/rust" && cargo build --release --offline --quiet \
            --bin chan-peers --target-dir "$rust/target"); then
        set -- "$@" "crossbeam=$rust/target/release/chan-peers crossbeam" \
            "tokio=$rust/target/release/chan-peers tokio"
    else
        echo "bench: chan peers: cargo build failed: tokio and crossbeam skipped"
    fi
else
    echo "bench: chan peers: no cargo: tokio and crossbeam skipped"
fi
if command -v go >/dev/null 2>&1; then
    if GOCACHE=$out/go-cache GO111MODULE=off go build -o "$out/chanrate-go" \
            bench/go/chanrate.go; then
        set -- "$@" "go=$out/chanrate-go"
    else
        echo "bench: chan peers: go build failed: Go skipped"
    fi
else
    echo "bench: chan peers: no go (golang-go): Go skipped"
fi

echo
echo "lg_chan peers: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r)," \
    "$(nproc) CPUs, not pinned, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
exec python3 bench/chan-peers.py "$out/chan-peers.svg" \
    "${PEERS_ROUNDS:-5}" "${PEERS_MSGS:-2000000}" "$@"
