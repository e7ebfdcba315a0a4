#!/bin/sh
# bench/run-symbolize.sh BUILD_DIR: what file:line costs a report (issue
# 15). Run by `make bench`.
#
# bench-report (-O2 -g) makes 24 reports from one libuv callback, each at a
# new call site, and times each reported read on the loop thread: the
# first (which starts the symbolizer, and has it read libc's debug file
# and the program's DWARF) and the others (one new frame each to ask the
# warm helper about). Each round runs it once with symbolize_ms=0 (frames
# as module+offset) and once with the default, alternating which goes
# first; figures are medians over the rounds (of each process's median
# for "next").
#
# Then a large binary: Atomics.wait(.., 1 ms) in a timer callback of node
# (the `node` on PATH, and Debian's node 18 where tools/deps-node.sh put
# it), timed by the script around the call: the first report's time on
# the loop thread, with and without; node's peak RSS (VmHWM) with and
# without; and the symbolizer's peak RSS, read from /proc while node
# waits after the report.
# Environment: BENCH_ROUNDS (7).
set -eu
build=${1:-build}
rounds=${BENCH_ROUNDS:-7}
. bench/lib.sh

preload=$(cd "$build" && pwd)/libloopguard-preload.so
prog=$build/bench/bench-report
[ -e "$preload" ] && [ -x "$prog" ] && [ -x "$build/loopguard-symbolizer" ] ||
    { echo "bench: $prog or the preload is missing; run make bench" >&2
      exit 1; }

# one SYMBOLIZE_MS: one process; appends "SYM first|next US".
one() {
    LOOPGUARD_OPTIONS="symbolize_ms=$1:log=$tmp/log.%p" \
        LD_PRELOAD="$preload" $pin "$prog" >"$tmp/out" ||
        { echo "bench: bench-report failed" >&2; exit 1; }
    awk -v s="$1" '$1 == "first" { print s, "first", $2 }' "$tmp/out" \
        >>"$tmp/all"
    echo "$1 next $(awk '$1 == "next" { print $2 }' "$tmp/out" | median)" \
        >>"$tmp/all"
}

echo
echo "reports with and without file:line: $rounds rounds of bench-report" \
    "(24 reports, each at a new site) ..."
r=1
while [ "$r" -le "$rounds" ]; do
    if [ $((r % 2)) = 1 ]; then one 0; one 2000; else one 2000; one 0; fi
    r=$((r + 1))
done
fig() { awk -v s="$1" -v k="$2" '$1 == s && $2 == k { print $3 }' \
            "$tmp/all" | median; }
f0=$(fig 0 first) f1=$(fig 2000 first) n0=$(fig 0 next) n1=$(fig 2000 next)
awk -v f0="$f0" -v f1="$f1" -v n0="$n0" -v n1="$n1" 'BEGIN {
    printf "  %-34s %12s %12s %12s\n", "", "module+off", "file:line", "added"
    printf "  %-34s %9.1f ms %9.1f ms %9.1f ms\n",
        "first report (starts the helper)", f0 / 1000, f1 / 1000,
        (f1 - f0) / 1000
    printf "  %-34s %9.1f us %9.1f us %9.1f us\n",
        "a later report, one new frame", n0, n1, n1 - n0
}'

# node_case LABEL NODE [LIBDIR]: the first report of a large binary.
node_case() {
    label=$1 node=$2 lib=${3:-}
    script='setTimeout(() => {
  const t0 = process.hrtime.bigint();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
  console.log("took", Number(process.hrtime.bigint() - t0) / 1e6);
  setTimeout(() => {}, 400);
}, 10);'
    for s in 0 2000; do
        : >"$tmp/node-$s"
        r=1
        while [ "$r" -le 3 ]; do
            env ${lib:+LD_LIBRARY_PATH="$lib"} \
                LOOPGUARD_OPTIONS="symbolize_ms=$s:log=$tmp/node.%p" \
                LD_PRELOAD="$preload" "$node" -e "$script" >"$tmp/nout" &
            npid=$!
            hwm=0
            n=0
            while [ $n -lt 40 ] && ! grep -q took "$tmp/nout"; do
                sleep 0.05; n=$((n + 1))
            done
            sleep 0.1
            hp=$(pgrep -f "^loopguard-symbolizer $npid\$" || true)
            [ -z "$hp" ] ||
                hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$hp/status")
            nh=$(awk '/^VmHWM:/ { print $2 }' "/proc/$npid/status")
            wait "$npid"
            echo "$(awk '$1 == "took" { print $2 - 1 }' "$tmp/nout") $nh $hwm" \
                >>"$tmp/node-$s"
            r=$((r + 1))
        done
    done
    t0=$(cut -d' ' -f1 "$tmp/node-0" | median)
    t1=$(cut -d' ' -f1 "$tmp/node-2000" | median)
    m0=$(cut -d' ' -f2 "$tmp/node-0" | median)
    m1=$(cut -d' ' -f2 "$tmp/node-2000" | median)
    h1=$(cut -d' ' -f3 "$tmp/node-2000" | median)
    awk -v l="$label" -v t0="$t0" -v t1="$t1" -v m0="$m0" -v m1="$m1" \
        -v h1="$h1" 'BEGIN {
        printf "  %s\n", l
        printf "    first report %.1f ms -> %.1f ms (+%.1f ms);", t0, t1,
            t1 - t0
        printf " node peak RSS %.1f -> %.1f MiB;", m0 / 1024, m1 / 1024
        printf " symbolizer peak RSS %.1f MiB\n", h1 / 1024
    }'
}

echo
echo "a large binary: node's first report (Atomics.wait in a timer" \
    "callback), 3 runs each, medians:"
if command -v node >/dev/null 2>&1; then
    node=$(command -v node)
    node_case "$node ($(node --version), $(($(stat -c %s "$(readlink -f \
"$node")") >> 20)) MiB)" "$node"
fi
n18=/opt/loopguard-node18
if [ -x "$n18/usr/bin/node" ]; then
    lib=$n18/usr/lib/x86_64-linux-gnu
    node_case "Debian's node 18 (libnode.so.108, $(($(stat -c %s \
"$(readlink -f "$lib/libnode.so.108")") >> 20)) MiB)" "$n18/usr/bin/node" "$lib"
fi
