#!/usr/bin/env python3
"""The detector on a server in its own process, unpinned, whole runs
(issue 18, items 1 and 2); bench/run-servers.sh calls this.

    server-proc.py BUILD SERVER PAIRS CONNS ROUND_TRIPS SIZE [SLICES]

SERVER is one of
  uv       bench-echosrv: a one-thread libuv TCP echo server (C);
  node     bench/http-server.js on Debian's node 18 (libuv shared, found
           via entry): HTTP/1.1, SIZE-byte answers, kept-alive;
  asyncio  bench/asyncio-echo.py on Debian's python3 (/usr/bin/python3):
           an asyncio streams TCP echo server.
A server whose runtime is absent is skipped with a line.

A pair is a fresh server natively and one under each preload mode, all
listening at once; one bench-echoload (one thread, an epoll loop, as wrk
or ab load a server) makes CONNS x ROUND_TRIPS round trips (SIZE bytes
echoed, or an HTTP GET) to each, one server at a time, in SLICES slices
whose order of servers rotates from slice to slice, and the pair's first
server alternates from pair to pair; then SIGTERM to each, and the
figures: each server's round trips per second (over its slices) and its
CPU time (user + system of all its threads over its whole life, from
wait4) per round trip. Nothing is pinned: the server and the load share
the 2 CPUs, as they would on a host. Runs one after another, each with
a load of sixteen blocking threads, spread a pair by a third (the VM's
speed drifting between runs, and seventeen threads on two CPUs): a 3 %
target sat inside that spread.

Modes: "lg" is the preload with its defaults (reports to a JSON file,
which stays empty: these servers block nowhere; a report written is
printed); "lg-all" (uv only) turns every option on that costs while
nothing is reported (dedupe=0, grace_ms, max_reports=0, a suppressions
file, stall_ms=100, lock_order=1, symbolize_ms, exitcode).

With strace installed, two more runs per mode under `strace -f -c` (a
tenth of the round trips, and four tenths) give the system calls per
round trip, from their difference (what a process does once cancels out),
that differ from the native run's by 0.01 or more.

Per mode: the median over the pairs of the per-pair ratios to the native
run of the same pair, [lowest-highest]. Targets: rate >= 0.97; for uv
also CPU per round trip <= 1.02; verdicts by benchlib's rule.
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port):
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.01)
    sys.exit("echo-proc: the server never listened on %d" % port)


NODE18 = "/opt/loopguard-node18"   # tools/deps-node.sh unpacks it here


def server_spec(build, name, size):
    """The server's command (a function of the port), the environment it
    needs, the load's extra argument; or None and why it is skipped."""
    here = os.path.dirname(os.path.abspath(__file__))
    if name == "uv":
        return (lambda port: [build + "/bench/bench-echosrv", str(port)],
                {}, []), None
    if name == "asyncio":
        py = "/usr/bin/python3"
        if not os.access(py, os.X_OK):
            return None, "no Debian python3 (/usr/bin/python3)"
        return (lambda port: [py, here + "/asyncio-echo.py", str(port)],
                {}, []), None
    if name == "node":
        node, env = NODE18 + "/usr/bin/node", {
            "LD_LIBRARY_PATH": NODE18 + "/usr/lib/x86_64-linux-gnu"}
        if not os.access(node, os.X_OK):
            node, env = shutil.which("node"), {}
            ldd = subprocess.run(["ldd", node or "/"], capture_output=True,
                                 text=True).stdout
            if "libuv.so" not in ldd:
                return None, ("no Debian node (make deps unpacks node 18 "
                              "into %s)" % NODE18)
        return (lambda port: [node, here + "/http-server.js", str(port),
                              str(size)], env, ["http"]), None
    sys.exit("server-proc: no server %r" % name)


def pair(build, spec, envs, conns, trips, size, slices):
    """One pair: a fresh server per mode (env), all listening before the
    load starts; one bench-echoload drives them in turn, slice by slice;
    then SIGTERM to each. Per mode: (round trips/s, server CPU ns per round
    trip)."""
    cmd, _, load_arg = spec
    ports, srvs = [], []
    try:
        for env in envs:
            ports.append(free_port())
            srvs.append(subprocess.Popen(cmd(ports[-1]),
                                         stdout=subprocess.DEVNULL, env=env))
            wait_port(ports[-1])
        # The probe connection above was one accept and one close: not a
        # round trip, and the same for every mode.
        load = subprocess.run([build + "/bench/bench-echoload", str(conns),
                               str(trips), str(size), str(slices),
                               (load_arg or ["echo"])[0]] +
                              [str(p) for p in ports],
                              capture_output=True, text=True, timeout=600)
    finally:
        # Every server ends with the pair, even when the pair failed: one
        # left behind would hold make bench's output pipe open.
        for srv in srvs:
            srv.terminate()
    out = []
    for srv in srvs:
        _, status, ru = os.wait4(srv.pid, 0)
        srv.returncode = os.waitstatus_to_exitcode(status)
        out.append((ru.ru_utime + ru.ru_stime) * 1e9 / (conns * trips))
    if load.returncode != 0 or any(s.returncode != 0 for s in srvs):
        sys.exit("server-proc: run failed: load %d (%s), servers %s" %
                 (load.returncode, load.stderr.strip(),
                  [s.returncode for s in srvs]))
    rates = [float(dict(x.split("=") for x in line.split()[1:])["rate"])
             for line in load.stdout.splitlines() if line.startswith("LOAD")]
    return list(zip(rates, out))


def syscall_counts(build, spec, env, conns, trips, size):
    """System calls of one server run under strace -f -c (all its
    threads), by name."""
    cmd, _, load_arg = spec
    out = tempfile.mktemp()
    port = free_port()
    srv = subprocess.Popen(["strace", "-f", "-c", "-o", out] + cmd(port),
                           stdout=subprocess.DEVNULL, env=env)
    wait_port(port)
    subprocess.run([build + "/bench/bench-echoload", str(conns), str(trips),
                    str(size), "1", (load_arg or ["echo"])[0], str(port)],
                   capture_output=True, timeout=600)
    # The server is strace's child: it gets the SIGTERM, strace then ends.
    with open("/proc/%d/task/%d/children" % (srv.pid, srv.pid)) as f:
        for child in f.read().split():
            os.kill(int(child), 15)
    srv.wait(timeout=60)
    calls = {}
    with open(out) as f:
        for line in f:
            w = line.split()
            if len(w) >= 5 and w[0][0].isdigit() and w[-1] != "total":
                calls[w[-1]] = int(w[3])
    os.unlink(out)
    return calls


def syscalls(build, spec, env, conns, trips, size):
    """System calls per round trip, by name: the difference between a run
    of 4 x trips and one of trips, so that what a process does once
    (start-up, its first report's set-up) and per second (the watchdog's
    ticks, over a run this short) cancels out."""
    a = syscall_counts(build, spec, env, conns, trips, size)
    b = syscall_counts(build, spec, env, conns, 4 * trips, size)
    n = 3 * conns * trips
    return {k: (b.get(k, 0) - a.get(k, 0)) / n for k in set(a) | set(b)}


def main():
    if len(sys.argv) not in (7, 8):
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    name = sys.argv[2]
    pairs, conns, trips, size = (int(x) for x in sys.argv[3:7])
    slices = int(sys.argv[7]) if len(sys.argv) == 8 else 10
    spec, why = server_spec(build, name, size)
    if not spec:
        print("server-proc: %s: skipped: %s" % (name, why))
        return
    strace = shutil.which("strace") is not None
    tmp = tempfile.mkdtemp()
    supp = os.path.join(tmp, "supp")
    with open(supp, "w") as f:
        f.write("# nothing here is ever reported\ncall:nanosleep\n")
    preload = build + "/libloopguard-preload.so"
    base = {k: v for k, v in os.environ.items()
            if k not in ("LD_PRELOAD", "LOOPGUARD_OPTIONS")}
    base.update(spec[1])
    modes = {
        "native": dict(base),
        "lg": dict(base, LD_PRELOAD=preload,
                   LOOPGUARD_OPTIONS="format=json:log=%s/lg.%%p.jsonl" %
                   tmp),
    }
    if name == "uv":
        modes["lg-all"] = dict(base, LD_PRELOAD=preload, LOOPGUARD_OPTIONS=(
            "format=json:log=%s/all.%%p.jsonl:dedupe=0:grace_ms=100:"
            "max_reports=0:suppressions=%s:stall_ms=100:lock_order=1:"
            "symbolize_ms=2000:exitcode=3:max_frames=64" % (tmp, supp)))
    names = list(modes)
    got = {m: [] for m in names}
    for p in range(pairs):
        order = names if p % 2 == 0 else names[::-1]
        for m, r in zip(order, pair(build, spec, [modes[m] for m in order],
                                    conns, trips, size, slices)):
            got[m].append(r)
    for f in sorted(os.listdir(tmp)):
        if f.endswith(".jsonl") and os.path.getsize(os.path.join(tmp, f)):
            print("server-proc: %s: a report was written: %s" % (name, f))
            with open(os.path.join(tmp, f)) as r:
                print(r.read()[:2000])
    print("%s: %d pairs, %d connections x %d round trips of %d bytes, in "
          "%d slices, unpinned" % (name, pairs, conns, trips, size, slices))
    print("%s: native: %.0f round trips/s, %.0f ns of server CPU per round "
          "trip (medians)" % (name,
                              statistics.median(r for r, _ in got["native"]),
                              statistics.median(c for _, c in
                                                got["native"])))
    if strace:
        sc = {m: syscalls(build, spec, modes[m], conns, trips // 10, size)
              for m in names}
        for m in names[1:]:
            diff = ["%s %+.3f" % (k, sc[m].get(k, 0) - sc["native"].get(k, 0))
                    for k in sorted(set(sc[m]) | set(sc["native"]))
                    if abs(sc[m].get(k, 0) - sc["native"].get(k, 0)) >= 0.01]
            print("%s %-7s system calls per round trip, against native "
                  "(strace -f -c, runs of %d and %d round trips): %s" %
                  (name, m, conns * (trips // 10), 4 * conns * (trips // 10),
                   ", ".join(diff) or "the same (within 0.01)"))
    for m in names[1:]:
        rate = [got[m][i][0] / got["native"][i][0] for i in range(pairs)]
        cpu = [got[m][i][1] / got["native"][i][1] for i in range(pairs)]
        benchlib.figure("%s server, %s: rate vs native" % (name, m), rate,
                        0.97, True)
        if name == "uv":
            benchlib.figure("%s server, %s: CPU/trip vs native" % (name, m),
                            cpu, 1.02, False)
        else:
            print("  %s server, %s: CPU/trip vs native %.3f [%.2f-%.2f] "
                  "(no target)" % (name, m, statistics.median(cpu), min(cpu),
                                   max(cpu)))

if __name__ == "__main__":
    main()
