#!/usr/bin/env python3
"""Instructions per round trip of a server, native and under the preload,
counted by valgrind's callgrind: the one figure of a server's cost that
this VM's noise cannot move (its rates drift by a factor of two between
hours, and by a few percent between runs of the same pair).

    server-instr.py BUILD SERVER [TRIPS]

SERVER is one of server-proc.py's (uv, node, asyncio). For each mode
(native, then the preload with its defaults) the server runs twice under
`valgrind --tool=callgrind`, loaded by bench-echoload with 16 connections
of TRIPS and of 3 x TRIPS round trips (SIZE 64, one slice); the
difference between the two runs, divided by the round trips it adds, is
the steady state: start-up, warm-up and exit cancel out. Printed: the
instructions per round trip of each mode and their ratio; by object
(shared library), those the preload adds or removes, 20 or more a round
trip; the instructions of loopguard's own objects (the preload,
libloopguard.so, libunwind); and the functions of these and of libc whose
count changes most (glibc's own work changes too: a second thread makes
it bracket each cancellable system call).
Only user space is counted: a server that spends most of its time in the
kernel (the uv echo server: nine tenths) pays a smaller share of its CPU
than of these.

A server whose runtime is absent, or valgrind, is skipped with a line.
Node's JIT tiers functions up at moments that vary from run to run under
valgrind: its libnode and JIT figures move by thousands of instructions a
round trip between runs (one run: native 62180, preloaded 57710), so its
totals and ratio say nothing; loopguard's own objects' figures hold. Not
part of make bench (a few minutes a server); docs/performance.md says
when it was
run."""
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "server_proc", os.path.join(HERE, "server-proc.py"))
server_proc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(server_proc)

CONNS = 16
SIZE = 64
OURS = ("libloopguard-preload.so", "libloopguard.so", "libunwind.so")


def parse(path):
    """Self cost (Ir) by (object, function) of a callgrind output file.
    A cost line right after a calls= line is the call's inclusive cost,
    not the caller's own."""
    names = {"ob": {}, "fn": {}}
    cur = {"ob": "?", "fn": "?"}
    cost = {}
    skip = False
    ref = re.compile(r"^\((\d+)\)(?: (.*))?$")
    with open(path, errors="replace") as f:
        for line in f:
            if line[0].isdigit() or line[0] in "+-*":
                if skip:
                    skip = False
                    continue
                parts = line.split()
                if len(parts) >= 2:
                    key = (cur["ob"], cur["fn"])
                    cost[key] = cost.get(key, 0) + int(parts[1])
                continue
            kind, _, val = line.rstrip("\n").partition("=")
            # A name is compressed to "(id) name" where it first appears,
            # which may be a called object's or function's (cob=, cfn=).
            table = {"ob": "ob", "cob": "ob", "fn": "fn", "cfn": "fn",
                     "cfi": None}.get(kind, "-")
            if table in ("ob", "fn"):
                m = ref.match(val)
                name = val
                if m:
                    if m.group(2) is not None:
                        names[table][m.group(1)] = m.group(2)
                    name = names[table].get(m.group(1), "?")
                if kind in ("ob", "fn"):
                    cur[kind] = name
            elif kind == "calls":
                skip = True
    return cost


def run_once(build, spec, env, trips, out):
    cmd, senv, load_arg = spec
    port = server_proc.free_port()
    srv = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] +
        cmd(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=env)
    try:
        for _ in range(600):          # valgrind starts a server slowly
            try:
                socket.create_connection(("127.0.0.1", port),
                                                     1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("server-instr: the server never listened")
        load = subprocess.run(
            [build + "/bench/bench-echoload", str(CONNS), str(trips),
             str(SIZE), "1", (load_arg or ["echo"])[0], str(port)],
            capture_output=True, text=True, timeout=1800)
        if load.returncode != 0:
            sys.exit("server-instr: load failed: " + load.stderr.strip())
    finally:
        srv.terminate()
        srv.wait(timeout=120)
    return parse(out)


def steady(build, spec, env, trips, tmp, tag):
    a = run_once(build, spec, env, trips, os.path.join(tmp, tag + ".1"))
    b = run_once(build, spec, env, 3 * trips, os.path.join(tmp, tag + ".3"))
    n = CONNS * 2 * trips
    return {k: (b.get(k, 0) - a.get(k, 0)) / n for k in set(a) | set(b)}


def by_object(cost):
    out = {}
    for (ob, _), v in cost.items():
        name = os.path.basename(ob)
        out[name] = out.get(name, 0) + v
    return out


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    name = sys.argv[2]
    trips = int(sys.argv[3]) if len(sys.argv) == 4 else 500
    if not shutil.which("valgrind"):
        print("server-instr: %s: skipped: no valgrind" % name)
        return
    spec, why = server_proc.server_spec(build, name, SIZE)
    if not spec:
        print("server-instr: %s: skipped: %s" % (name, why))
        return
    base = {k: v for k, v in os.environ.items()
            if k not in ("LD_PRELOAD", "LOOPGUARD_OPTIONS")}
    base.update(spec[1])
    # CPython salts its string hashes per process: its dicts, and the
    # instructions that walk them, would differ from run to run.
    base["PYTHONHASHSEED"] = "0"
    lg = dict(base, LD_PRELOAD=build + "/libloopguard-preload.so")
    tmp = tempfile.mkdtemp()
    try:
        nat = steady(build, spec, base, trips, tmp, "native")
        pre = steady(build, spec, lg, trips, tmp, "lg")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tn, tl = sum(nat.values()), sum(pre.values())
    print("%s: instructions per round trip (callgrind, %d x %d more round "
          "trips): native %.0f, preload %.0f: %.3f" %
          (name, CONNS, 2 * trips, tn, tl, tl / tn))
    on, ol = by_object(nat), by_object(pre)
    print("  by object, what the preload adds (>= 20 a round trip):")
    for ob in sorted(set(on) | set(ol), key=lambda k: on.get(k, 0) -
                     ol.get(k, 0)):
        d = ol.get(ob, 0) - on.get(ob, 0)
        if abs(d) >= 20:
            print("    %+8.0f  %s (native %.0f)" % (d, ob, on.get(ob, 0)))
    ours = sum(v for k, v in pre.items()
               if os.path.basename(k[0]).startswith(OURS))
    print("  loopguard's own objects: %.0f a round trip (%.1f %% of the "
          "native run's); by function of them and of libc, what the "
          "preload adds:" % (ours, 100 * ours / tn))
    delta = {k: pre.get(k, 0) - nat.get(k, 0) for k in set(pre) | set(nat)
             if os.path.basename(k[0]).startswith(OURS + ("libc.so",))}
    for (ob, fn), d in sorted(delta.items(), key=lambda kv: -abs(kv[1]))[:14]:
        if abs(d) >= 1:
            print("    %+8.0f  %s (%s)" % (d, fn[:60], os.path.basename(ob)))

if __name__ == "__main__":
    main()
