#!/bin/sh
# Node, on each build of it that is here; each 'ok:' line names its build:
#   stack  the `node` on PATH when libuv is linked into its executable
#          (nodesource's; issue 4): uv_run is found through the stack, so
#          the executable must keep its .symtab;
#   entry  a node on a shared libuv, Debian's node 18 (/usr/bin/node on
#          libnode.so.108 on libuv.so.1): uv_run is a call the preload
#          wraps. The `node` on PATH on Debian; beside another node, the
#          one tools/deps-node.sh unpacks into /opt/loopguard-node18.
# Skipped, with a line saying so, when neither is here; a build that is
# not here is a skipped case (skip_case). Each case runs on each build;
# the loop is found via the build's name, and V8's and uv_run's frames
# come from its objects (the executable, or libnode and libuv).
#   clean    a spawnSync before the loop starts, fs.readFile, a TCP echo on
#            127.0.0.1, timers: exits 0, no record;
#   atomics  Atomics.wait in a timer callback: one record, V8's futex
#            emulation waiting on a condition variable, on a libuv loop;
#   spawn    execSync in a timer callback: node runs a private libuv loop
#            until the child exits; one record, that loop's epoll wait, as
#            a blocking call of the main loop.
#   busy     a timer callback, set once the loop has polled, computes for
#            1.5 s (stall_ms=500): a stall of the libuv loop, with the JS
#            engine's stack, then its end; the program goes on and exits 0.
#   turning  setImmediate callbacks for 1.5 s, once the loop has slept: a
#            busy loop that turns (polls with a zero timeout), no stall;
#            no blocking call, not even V8's garbage collector waiting for
#            its helper threads (a safepoint, a parallel job's join: the
#            runtime's own waits; which ones happen depends on timing).
#   Realistic programs (issue 16): each exits 0 with no record, on both
#   builds; V8's and Node's own waits (runtime-own.c) are not reported:
#   workers   worker_threads: messages both ways, a natural exit, a
#             terminate; the main loop joins each worker that ended
#             (Worker::JoinThread: a join every run);
#   children  child_process spawn, exec, execFile, with callbacks;
#   fs        fs promises and callbacks on a regular file;
#   pool      zlib gzip/gunzip, crypto pbkdf2, scrypt and randomBytes on
#             the thread pool; timers, immediates, timers/promises;
#   http      an http server and a keep-alive client in one process on
#             127.0.0.1 (40 requests), then a net echo;
#   gc        timers that allocate (20 x 200 000 objects): scavenges and
#             mark-compacts whose parallel jobs the loop thread joins
#             (some every run on these 2 CPUs; V8's own waits).
#   and the program's own waits under the runtime's, still reported:
#   exitwait  Atomics.wait in a worker's `exit` handler, which
#             Worker::JoinThread calls: one record, the wait (the join
#             itself none);
#   workerwait Atomics.wait in a worker's script: one record, on the
#             worker's own loop.
#   addon     a Node-API addon (node-addon.c) reads a FIFO in a timer
#             callback: one record, its read (skipped without node_api.h).
#   Synchronous fs calls in a timer callback (issue 16): libuv runs them
#   on the loop thread, from uv_fs_read itself, so their blocking is the
#   program's. Each FIFO is made afresh for its case:
#   readfile  readFileSync of a FIFO a shell writes to (it waits in its
#             open for node's): two records, the open under uv_fs_open
#             and the read under uv_fs_read;
#   readsync  readSync of a FIFO node opened read-write at start-up, and
#             wrote a byte to (not on the loop yet): one record, the read;
#   writesync writeSync to such a FIFO, which nobody reads: one record,
#             the write under uv_fs_write;
#   opensync  openSync of such a FIFO for reading (it has a writer, node
#             itself, so this one does not wait; another could): one
#             record, the open;
#   regular   writeFileSync, then readFileSync, of a regular file: no
#             record.
# V8's own waits are known by their names: in node 20's .symtab, in the
# .dynsym of Debian's libnode (which exports V8 for addons). Any record of
# one fails the case it comes in.
. tests/integration/lib.sh

node18_dir=/opt/loopguard-node18      # where tools/deps-node.sh unpacks it

# how NODE [LIBDIR]: how NODE's loop is found: "entry" when its libuv is a
# shared library, "stack" when libuv is linked in and the executable has a
# .symtab, else nothing. LIBDIR: where its libnode is, if not on the path.
how() {
    if env ${2:+LD_LIBRARY_PATH="$2"} ldd "$1" 2>/dev/null |
        grep -q '/libuv\.so'; then
        echo entry
    elif readelf -S "$1" 2>/dev/null | grep -q '\.symtab'; then
        echo stack
    fi
}

stack_node='' entry_node='' entry_lib=''
node=$(command -v node) && case $(how "$node") in
    stack) stack_node=$node ;;
    entry) entry_node=$node ;;
    *) echo "note: $node is stripped: its loop cannot be found by the stack" ;;
esac
if [ -z "$entry_node" ] && [ -x "$node18_dir/usr/bin/node" ]; then
    entry_lib=$node18_dir/usr/lib/x86_64-linux-gnu
    [ "$(how "$node18_dir/usr/bin/node" "$entry_lib")" = entry ] ||
        fail "$node18_dir/usr/bin/node: no shared libuv found"
    entry_node=$node18_dir/usr/bin/node
fi
[ -n "$stack_node$entry_node" ] ||
    skip "skip: no node on a shared libuv, nor one with a .symtab (make deps)"
[ -n "$stack_node" ] ||
    skip_case stack "no node with libuv linked in and a .symtab here"
[ -n "$entry_node" ] || skip_case entry "no node on a shared libuv here\
 (make deps installs Debian's, or unpacks it into $node18_dir)"

# run_node NAME SCRIPT [OPTIONS]
run_node() {
    name=$1
    out="$LG_TMP/$via-$name.%p.jsonl"
    run_lg "format=json:log=$out${3:+:$3}" 60 "$node" -e "$2" \
        >"$LG_TMP/$via-$name.stdout"
    [ "$rc" -eq 0 ] || fail "$label ($name) exited with status $rc, expected 0"
    # Child processes inherit the preload and may log under their own pid.
    all="$LG_TMP/$via-$name.all"
    cat "$LG_TMP/$via-$name".*.jsonl >"$all" 2>/dev/null || true
}

# run_quiet NAME SCRIPT: run_node, then no record in any process's log.
run_quiet() {
    run_node "$1" "$2"
    expect_no_record "$label ($1)" "$LG_TMP/$via-$1".*.jsonl
}

# The cases, on $node, found via $via; NODE_UV (NODE_V8): the file name of
# the object that holds uv_run (V8), as reports give it.
run_cases() {
    label="node $("$node" --version) (via $via)"
    export NODE_VIA=$via

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
    expect_no_record "$label (clean)" "$LG_TMP/$via"-clean.*.jsonl
    echo "ok: $label: clean: no record"

    run_node atomics '
setTimeout(() => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
}, 10);'
    expect_count 1 "$all" '.type == "blocking_call"' \
        "$label (atomics): records"
    expect_count 1 "$all" '.type == "blocking_call"
        and .loop.kind == "libuv" and .loop.via == $ENV.NODE_VIA
        and any(.stack[]; (.symbol // "" | test("FutexEmulation"))
                          and .module == $ENV.NODE_V8)
        and any(.loop_stack[]; .symbol == "uv_run"
                               and .module == $ENV.NODE_UV)' \
        "$label (atomics): Atomics.wait in a timer callback"
    echo "ok: $label: Atomics.wait in a callback: one record"

    run_node spawn '
setTimeout(() => { require("child_process").execSync("sleep 0.05"); }, 10);'
    expect_count 1 "$all" '.type == "blocking_call"' \
        "$label (spawn): records"
    expect_count 1 "$all" '.type == "blocking_call"
        and (.call | test("^epoll_(p?wait|pwait2)$"))
        and .loop.kind == "libuv" and .loop.via == $ENV.NODE_VIA
        and any(.stack[]; (.symbol // "" | test("SyncProcessRunner"))
                          and .module == $ENV.NODE_V8)' \
        "$label (spawn): the private loop of execSync in a timer callback"
    echo "ok: $label: execSync in a callback: one record, its private loop's poll"

    # The busy timer is set from a timer: a loop found via the stack is
    # watched from its first own poll on, and a first timer already due
    # when the loop starts (a slow start-up) runs before any poll.
    run_node busy '
setTimeout(() => setTimeout(() => {
  const end = Date.now() + 1500; while (Date.now() < end);
}, 50), 10);
setTimeout(() => console.log("after"), 1600);' stall_ms=500
    [ "$(cat "$LG_TMP/$via-busy.stdout")" = after ] ||
        fail "$label (busy) did not go on"
    expect_count 1 "$all" '.type == "stall" and .phase == "begin"
        and .doing == "running" and .loop.kind == "libuv"
        and .loop.via == $ENV.NODE_VIA
        and any(.stack[]; .symbol // "" | test("RunTimers"))
        and any(.loop_stack[]; .symbol == "uv_run"
                               and .module == $ENV.NODE_UV)' \
        "$label (busy): a stall of the loop, in a timer callback"
    expect_count 1 "$all" '.type == "stall" and .phase == "end" and .stalled_ms >= 1000' \
        "$label (busy): the stall's end"
    expect_count 0 "$all" '.type == "blocking_call"' \
        "$label (busy): blocking calls"
    echo "ok: $label: busy callback: a stall, then its end"

    run_node turning '
setTimeout(() => {
  const end = Date.now() + 1500;
  (function tick() { if (Date.now() < end) setImmediate(tick); })();
}, 50);' stall_ms=300
    expect_count 0 "$all" '.type == "stall"' "$label (turning): stalls"
    expect_count 0 "$all" '.type == "blocking_call"' \
        "$label (turning): blocking calls (V8's own GC waits among them)"
    echo "ok: $label: turning through setImmediate: no stall; no record,"
    echo "    its GC's safepoint waits (V8's own) not reported"

    run_fs_cases
    run_program_cases
}

# expect_fs N CASE CALL OBJECT FUNCTION: N records of a CALL (a regular
# expression) on OBJECT (one too) under the libuv FUNCTION, on the loop.
expect_fs() {
    FS_CALL=$3 FS_OBJ=$4 FS_FN=$5
    export FS_CALL FS_OBJ FS_FN
    expect_count "$1" "$all" '.type == "blocking_call"
        and (.call | test($ENV.FS_CALL)) and (.object | test($ENV.FS_OBJ))
        and .loop.kind == "libuv" and .loop.via == $ENV.NODE_VIA
        and any(.stack[]; .symbol == $ENV.FS_FN and .module == $ENV.NODE_UV)' \
        "$label ($2): $3 under $5"
}

# new_fifo CASE: a fresh FIFO for CASE, named by LG_FIFO.
new_fifo() {
    LG_FIFO="$LG_TMP/$via-$1.fifo"
    export LG_FIFO
    rm -f "$LG_FIFO"
    mkfifo "$LG_FIFO" || fail "mkfifo $LG_FIFO"
}

# The synchronous fs cases (above), on $node.
run_fs_cases() {
    records='.type == "blocking_call"'

    new_fifo readfile
    timeout 60 sh -c 'echo data >"$LG_FIFO"' &
    writer=$!
    run_node readfile '
setTimeout(() => {
  const s = require("fs").readFileSync(process.env.LG_FIFO, "utf8");
  if (s !== "data\n") process.exit(3);
}, 10);'
    wait "$writer" || fail "$label (readfile): the FIFO's writer failed"
    expect_count 2 "$all" "$records" "$label (readfile): records"
    expect_fs 1 readfile '^open' "^fifo '" uv_fs_open
    expect_fs 1 readfile '^read$' '^fd [0-9]+ \(pipe\)$' uv_fs_read
    echo "ok: $label: readFileSync of a FIFO: its open and its read"

    new_fifo readsync
    run_node readsync '
const fs = require("fs");
const fd = fs.openSync(process.env.LG_FIFO, "r+");
fs.writeSync(fd, "x");
setTimeout(() => {
  const b = Buffer.alloc(1);
  if (fs.readSync(fd, b) !== 1 || b[0] !== 0x78) process.exit(3);
}, 10);'
    expect_count 1 "$all" "$records" "$label (readsync): records"
    expect_fs 1 readsync '^read$' '^fd [0-9]+ \(pipe\)$' uv_fs_read
    echo "ok: $label: readSync of a FIFO: its read"

    new_fifo writesync
    run_node writesync '
const fs = require("fs");
const fd = fs.openSync(process.env.LG_FIFO, "r+");
setTimeout(() => { fs.writeSync(fd, "x"); }, 10);'
    expect_count 1 "$all" "$records" "$label (writesync): records"
    expect_fs 1 writesync '^write$' '^fd [0-9]+ \(pipe\)$' uv_fs_write
    echo "ok: $label: writeSync to a FIFO: its write"

    new_fifo opensync
    run_node opensync '
const fs = require("fs");
const keep = fs.openSync(process.env.LG_FIFO, "r+");
setTimeout(() => {
  fs.closeSync(fs.openSync(process.env.LG_FIFO, "r"));
  fs.closeSync(keep);
}, 10);'
    expect_count 1 "$all" "$records" "$label (opensync): records"
    expect_fs 1 opensync '^open' "^fifo '" uv_fs_open
    echo "ok: $label: openSync of a FIFO: its open"

    LG_FILE="$LG_TMP/$via-regular.txt"
    export LG_FILE
    run_node regular '
const fs = require("fs");
setTimeout(() => {
  fs.writeFileSync(process.env.LG_FILE, "data");
  if (fs.readFileSync(process.env.LG_FILE, "utf8") !== "data")
    process.exit(3);
}, 10);'
    expect_count 0 "$all" "$records" "$label (regular): records"
    echo "ok: $label: writeFileSync, readFileSync of a regular file: no record"
}

# The realistic programs (above), on $node.
run_program_cases() {
    run_quiet workers '
const { Worker } = require("worker_threads");
const src = `const { parentPort, workerData } = require("worker_threads");
if (workerData === "idle") {
  setInterval(() => {}, 1000);
  parentPort.postMessage("up");
} else {
  parentPort.on("message", (n) => {
    const a = [];
    for (let i = 0; i < 20000; i++) a.push({ i });
    parentPort.postMessage(n + a.length);
    if (n === 9) parentPort.close();
  });
}`;
const echo = new Worker(src, { eval: true });
let got = 0;
echo.on("message", (m) => {
  if (m !== got + 20000) process.exit(3);
  if (++got < 10) echo.postMessage(got);
});
echo.on("exit", (c) => { if (c !== 0 || got !== 10) process.exit(4); });
echo.postMessage(0);
const idle = new Worker(src, { eval: true, workerData: "idle" });
idle.on("message", () => idle.terminate());
idle.on("exit", (c) => { if (c !== 1) process.exit(5); });'
    echo "ok: $label: worker_threads: messages, an exit, a terminate, joins: no record"

    run_quiet children '
const cp = require("child_process");
cp.spawn("true").on("exit", (code) => {
  if (code !== 0) process.exit(3);
  cp.exec("echo hi", (err, out) => {
    if (err || out !== "hi\n") process.exit(4);
    cp.execFile("sh", ["-c", "exit 0"], (e) => { if (e) process.exit(5); });
  });
});'
    echo "ok: $label: child_process spawn, exec, execFile: no record"

    LG_DIR="$LG_TMP/$via-fs.d"
    export LG_DIR
    mkdir -p "$LG_DIR"
    run_quiet fs '
const fs = require("fs"), path = require("path");
const f = path.join(process.env.LG_DIR, "a.txt");
(async () => {
  await fs.promises.writeFile(f, "hello");
  if (await fs.promises.readFile(f, "utf8") !== "hello") process.exit(3);
  await fs.promises.stat(f);
  await fs.promises.readdir(process.env.LG_DIR);
  const h = await fs.promises.open(f, "r");
  await h.read(Buffer.alloc(5), 0, 5, 0);
  await h.close();
  fs.appendFile(f, "!", (e) => {
    if (e) process.exit(4);
    fs.readFile(f, "utf8", (e2, s) => {
      if (e2 || s !== "hello!") process.exit(5);
      fs.unlink(f, (e3) => { if (e3) process.exit(6); });
    });
  });
})();'
    echo "ok: $label: fs promises and callbacks: no record"

    run_quiet pool '
const zlib = require("zlib"), crypto = require("crypto");
const data = Buffer.alloc(1 << 20, 7);
zlib.gzip(data, (e, z) => zlib.gunzip(z, (e2, d) => {
  if (e || e2 || !d.equals(data)) process.exit(3);
}));
crypto.pbkdf2("pw", "salt", 20000, 32, "sha256", (e) => {
  if (e) process.exit(4);
});
crypto.scrypt("pw", "salt", 32, (e) => { if (e) process.exit(5); });
crypto.randomBytes(64, (e, b) => { if (e || b.length !== 64) process.exit(6); });
let ticks = 0;
const t = setInterval(() => { if (++ticks === 5) clearInterval(t); }, 2);
setImmediate(() => setTimeout(() => {}, 20));
require("timers/promises").setTimeout(5).then(() => {});'
    echo "ok: $label: zlib and crypto on the thread pool, timers: no record"

    run_quiet http '
const http = require("http"), net = require("net");
const srv = http.createServer((req, res) => res.end("ok " + req.url));
srv.listen(0, "127.0.0.1", async () => {
  const port = srv.address().port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const get = (i) => new Promise((ok, ko) => {
    http.get({ host: "127.0.0.1", port, path: "/" + i, agent }, (r) => {
      let b = "";
      r.on("data", (c) => (b += c));
      r.on("end", () => (b === "ok /" + i ? ok() : ko(new Error(b))));
    }).on("error", ko);
  });
  for (let round = 0; round < 5; round++)
    await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(get));
  agent.destroy();
  srv.close();
  const echo = net.createServer((c) => c.pipe(c));
  echo.listen(0, "127.0.0.1", () => {
    const c = net.connect(echo.address().port, "127.0.0.1", () => c.end("ping"));
    let got = "";
    c.on("data", (d) => (got += d));
    c.on("close", () => { echo.close(); if (got !== "ping") process.exit(3); });
  });
});'
    echo "ok: $label: http server and client, a net echo, on 127.0.0.1: no record"

    run_quiet gc '
let keep = [], rounds = 0;
const t = setInterval(() => {
  for (let i = 0; i < 200000; i++) keep.push({ i, s: "x" + i });
  if (keep.length > 1000000) keep = [];
  if (++rounds === 20) clearInterval(t);
}, 1);'
    echo "ok: $label: allocating timers (V8's GC joins its helpers): no record"

    run_node exitwait '
const { Worker } = require("worker_threads");
new Worker("", { eval: true }).on("exit", () => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
});'
    expect_count 1 "$all" '.type == "blocking_call"' \
        "$label (exitwait): records"
    expect_count 1 "$all" '.type == "blocking_call" and .tid == .pid
        and .loop.kind == "libuv" and .loop.via == $ENV.NODE_VIA
        and any(.stack[]; .symbol // "" | test("FutexEmulation"))
        and any(.stack[]; .symbol == "node::worker::Worker::JoinThread()")' \
        "$label (exitwait): Atomics.wait under Worker::JoinThread"
    echo "ok: $label: Atomics.wait in a worker's exit handler: one record, not the join"

    run_node workerwait '
const { Worker } = require("worker_threads");
new Worker("Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)",
  { eval: true });'
    expect_count 1 "$all" '.type == "blocking_call"' \
        "$label (workerwait): records"
    expect_count 1 "$all" '.type == "blocking_call" and .tid != .pid
        and .loop.kind == "libuv" and .loop.via == $ENV.NODE_VIA
        and any(.stack[]; .symbol // "" | test("FutexEmulation"))' \
        "$label (workerwait): Atomics.wait on the worker's loop"
    echo "ok: $label: Atomics.wait in a worker: one record, on its loop"

    [ -n "$addon" ] || return 0
    new_fifo addon
    LG_ADDON=$addon
    export LG_ADDON
    run_node addon '
const { readOne } = require(process.env.LG_ADDON), fs = require("fs");
const fd = fs.openSync(process.env.LG_FIFO, "r+");
fs.writeSync(fd, "x");
setTimeout(() => { if (readOne(fd) !== 1) process.exit(3); }, 10);'
    expect_count 1 "$all" '.type == "blocking_call"' "$label (addon): records"
    expect_count 1 "$all" '.type == "blocking_call" and .call == "read"
        and (.object | test("^fd [0-9]+ \\(pipe\\)$"))
        and .loop.kind == "libuv" and .loop.via == $ENV.NODE_VIA
        and .stack[1].module == $ENV.LG_ADDON' \
        "$label (addon): the addon's read, in a timer callback"
    echo "ok: $label: a native addon's read of a FIFO: one record"
}

# The addon case's Node-API module, when its header is here (nodesource's
# node installs it; Node-API is one ABI for both nodes).
addon=''
if [ -f /usr/include/node/node_api.h ]; then
    addon="$LG_TMP/node-addon.node"
    cc -O1 -g -shared -fPIC -I/usr/include/node -o "$addon" \
        tests/integration/node-addon.c || fail "cannot build node-addon.c"
else
    skip_case addon "no /usr/include/node/node_api.h (nodesource's nodejs)"
fi

if [ -n "$stack_node" ]; then
    node=$stack_node via=stack
    NODE_UV=$(readlink -f "$node") NODE_V8=$NODE_UV
    export NODE_UV NODE_V8
    run_cases
fi
if [ -n "$entry_node" ]; then
    (
        node=$entry_node via=entry
        if [ -n "$entry_lib" ]; then
            LD_LIBRARY_PATH=$entry_lib
            export LD_LIBRARY_PATH
        fi
        libs=$(ldd "$node")
        NODE_UV=$(echo "$libs" | awk '/\/libuv\.so/ { print $3 }')
        NODE_V8=$(echo "$libs" | awk '/\/libnode\.so/ { print $3 }')
        export NODE_UV NODE_V8="${NODE_V8:-$(readlink -f "$node")}"
        run_cases
    ) || exit
fi
