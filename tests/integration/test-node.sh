#!/bin/sh
# Node, which links libuv into its executable (issue 4: a statically linked
# uv_run, found through the stack). Skipped, with a line saying so, when
# node is not installed or its executable is stripped.
#   clean    a spawnSync before the loop starts, fs.readFile, a TCP echo on
#            127.0.0.1, timers: exits 0, no record;
#   atomics  Atomics.wait in a timer callback: one record, V8's futex
#            emulation waiting on a condition variable, on a libuv loop
#            found via the stack;
#   spawn    execSync in a timer callback: node runs a private libuv loop
#            until the child exits; one record, that loop's epoll wait, as
#            a blocking call of the main loop.
#   busy     a timer callback computes for 1.5 s (stall_ms=500): a stall
#            of the libuv loop found via the stack, with the JS engine's
#            stack, then its end; the program goes on and exits 0.
#   turning  setImmediate callbacks for 1.5 s, once the loop has slept: a
#            busy loop that turns (polls with a zero timeout), no stall;
#            and no record for V8's garbage collector waiting for its
#            helper threads (a safepoint, a parallel job's join: the
#            runtime's own waits; which ones happen depends on timing).
. tests/integration/lib.sh

node=$(command -v node) || skip "skip: node not found"
readelf -S "$node" 2>/dev/null | grep -q '\.symtab' ||
    skip "skip: $node is stripped: its loop cannot be found by the stack"

run_node() {
    out="$LG_TMP/$1.%p.jsonl"
    name=$1; shift
    run_lg "format=json:log=$out${2:+:$2}" 60 "$node" -e "$1" \
        >"$LG_TMP/$name.stdout"
    [ "$rc" -eq 0 ] || fail "node ($name) exited with status $rc, expected 0"
    # Child processes inherit the preload and may log under their own pid.
    cat "$LG_TMP/$name".*.jsonl >"$LG_TMP/$name.all" 2>/dev/null || true
}

run_node clean '
require("child_process").execSync("true");
require("fs").readFile("/etc/hostname", () => {});
setTimeout(() => {
  const net = require("net");
  const s = net.createServer((c) => c.end("x")).listen(0, "127.0.0.1", () => {
    net.connect(s.address().port, "127.0.0.1")
      .on("data", () => s.close()).on("end", () => {});
  });
}, 10);'
expect_no_record "node (clean)" "$LG_TMP"/clean.*.jsonl
echo "ok: node clean: no record"

run_node atomics '
setTimeout(() => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
}, 10);'
set -- "$LG_TMP/atomics.all"
expect_count 1 "$1" '.type == "blocking_call"' "node (atomics): records"
expect_count 1 "$1" '.type == "blocking_call"
    and .loop.kind == "libuv" and .loop.via == "stack"
    and any(.stack[]; .symbol // "" | test("FutexEmulation"))
    and any(.loop_stack[]; .symbol == "uv_run")' \
    "node (atomics): Atomics.wait in a timer callback"
echo "ok: node Atomics.wait in a callback: one record"

run_node spawn '
setTimeout(() => { require("child_process").execSync("sleep 0.05"); }, 10);'
set -- "$LG_TMP/spawn.all"
expect_count 1 "$1" '.type == "blocking_call"' "node (spawn): records"
expect_count 1 "$1" '.type == "blocking_call"
    and (.call | test("^epoll_(p?wait|pwait2)$"))
    and .loop.kind == "libuv" and .loop.via == "stack"
    and any(.stack[]; .symbol // "" | test("SyncProcessRunner"))' \
    "node (spawn): the private loop of execSync in a timer callback"
echo "ok: node execSync in a callback: one record, its private loop's poll"

run_node busy '
setTimeout(() => { const end = Date.now() + 1500; while (Date.now() < end); }, 10);
setTimeout(() => console.log("after"), 1600);' stall_ms=500
set -- "$LG_TMP/busy.all"
[ "$(cat "$LG_TMP/busy.stdout")" = after ] || fail "node (busy) did not go on"
expect_count 1 "$1" '.type == "stall" and .phase == "begin"
    and .doing == "running" and .loop.kind == "libuv"
    and .loop.via == "stack" and any(.stack[]; .symbol // "" | test("RunTimers"))
    and any(.loop_stack[]; .symbol == "uv_run")' \
    "node (busy): a stall of the loop, in a timer callback"
expect_count 1 "$1" '.type == "stall" and .phase == "end" and .stalled_ms >= 1000' \
    "node (busy): the stall's end"
echo "ok: node busy callback: a stall, then its end"

run_node turning '
setTimeout(() => {
  const end = Date.now() + 1500;
  (function tick() { if (Date.now() < end) setImmediate(tick); })();
}, 50);' stall_ms=300
expect_count 0 "$LG_TMP/turning.all" '.type == "stall"' "node (turning): stalls"
expect_count 0 "$LG_TMP/turning.all" '.type == "blocking_call" and
    any(.stack[]; .symbol // "" | test("IsolateSafepoint|DefaultJobState"))' \
    "node (turning): V8's own GC waits"
echo "ok: node turning through setImmediate: no stall; its GC's safepoint"
echo "    waits (V8's own) not reported"
