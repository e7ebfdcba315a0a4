#!/usr/bin/env python3
"""The detector on a server in its own process, unpinned, whole runs
(issue 18, item 1); bench/run-echo-proc.sh builds and calls this.

    echo-proc.py BUILD PAIRS CONNS ROUND_TRIPS SIZE

A pair is one native run of bench-echosrv and one under each preload
mode, in an order that alternates from pair to pair; each run is a fresh
server, a fresh bench-echoload making CONNS x ROUND_TRIPS round trips of
SIZE bytes, then SIGTERM, and the server's own figures: its CPU time
(user + system, getrusage over the whole run) per round trip, and the
load's round trips per second. Nothing is pinned: the server and the
load share the 2 CPUs, as they would on a host.

Modes: "lg" is the preload with its defaults (reports to a JSON file,
which stays empty: an echo server blocks nowhere); "lg-all" turns every
option on that costs while nothing is reported (dedupe=0, grace_ms,
max_reports=0, a suppressions file, stall_ms=100, lock_order=1,
symbolize_ms, exitcode).

With strace installed, two more runs per mode under `strace -f -c` (a
tenth of the round trips, and four tenths) give the system calls per
round trip, from their difference (what a process does once cancels out),
that differ from the native run's by 0.01 or more.

Per mode: the median over the pairs of the per-pair ratios to the native
run of the same pair, [lowest-highest], and the interquartile range.
Targets: rate >= 0.97, CPU per round trip <= 1.02. A target is "met" when
the median meets it, "NOT MET" when the median misses it by more than
half the interquartile range, "unresolved" in between.
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time


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


def one(build, env, conns, trips, size):
    port = free_port()
    srv = subprocess.Popen([build + "/bench/bench-echosrv", str(port)],
                           stdout=subprocess.PIPE, text=True, env=env)
    wait_port(port)
    # The probe connection above was one accept and one close: not a
    # round trip, and the same for every mode.
    load = subprocess.run([build + "/bench/bench-echoload", str(port),
                           str(conns), str(trips), str(size)],
                          capture_output=True, text=True, timeout=600)
    srv.terminate()
    out, _ = srv.communicate(timeout=60)
    if load.returncode != 0 or srv.returncode != 0:
        sys.exit("echo-proc: run failed: load %d (%s), server %d" %
                 (load.returncode, load.stderr.strip(), srv.returncode))
    f = dict(x.split("=") for x in out.split()[1:])
    g = dict(x.split("=") for x in load.stdout.split()[1:])
    n = int(f["bytes"]) / size
    return float(g["rate"]), int(f["cpu_ns"]) / n


def syscall_counts(build, env, conns, trips, size):
    """System calls of one server run under strace -f -c (all its
    threads), by name."""
    out = tempfile.mktemp()
    port = free_port()
    srv = subprocess.Popen(["strace", "-f", "-c", "-o", out,
                            build + "/bench/bench-echosrv", str(port)],
                           stdout=subprocess.DEVNULL, env=env)
    wait_port(port)
    subprocess.run([build + "/bench/bench-echoload", str(port), str(conns),
                    str(trips), str(size)], capture_output=True, timeout=600)
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


def syscalls(build, env, conns, trips, size):
    """System calls per round trip, by name: the difference between a run
    of 4 x trips and one of trips, so that what a process does once
    (start-up, its first report's set-up) and per second (the watchdog's
    ticks, over a run this short) cancels out."""
    a = syscall_counts(build, env, conns, trips, size)
    b = syscall_counts(build, env, conns, 4 * trips, size)
    n = 3 * conns * trips
    return {k: (b.get(k, 0) - a.get(k, 0)) / n for k in set(a) | set(b)}


def verdict(ratios, limit, at_least):
    med = statistics.median(ratios)
    q = statistics.quantiles(ratios, n=4)
    half_iqr = (q[2] - q[0]) / 2
    if (med >= limit) if at_least else (med <= limit):
        return "met", med, q
    miss = limit - med if at_least else med - limit
    return ("NOT MET" if miss > half_iqr else "unresolved"), med, q


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    strace = subprocess.run(["sh", "-c", "command -v strace"],
                            capture_output=True).returncode == 0
    pairs, conns, trips, size = (int(x) for x in sys.argv[2:])
    tmp = tempfile.mkdtemp()
    supp = os.path.join(tmp, "supp")
    with open(supp, "w") as f:
        f.write("# nothing here is ever reported\ncall:nanosleep\n")
    preload = build + "/libloopguard-preload.so"
    base = {k: v for k, v in os.environ.items()
            if k not in ("LD_PRELOAD", "LOOPGUARD_OPTIONS")}
    modes = {
        "native": dict(base),
        "lg": dict(base, LD_PRELOAD=preload,
                   LOOPGUARD_OPTIONS="format=json:log=%s/lg.%%p.jsonl" %
                   tmp),
        "lg-all": dict(base, LD_PRELOAD=preload, LOOPGUARD_OPTIONS=(
            "format=json:log=%s/all.%%p.jsonl:dedupe=0:grace_ms=100:"
            "max_reports=0:suppressions=%s:stall_ms=100:lock_order=1:"
            "symbolize_ms=2000:exitcode=3:max_frames=64" % (tmp, supp))),
    }
    names = list(modes)
    got = {m: [] for m in names}
    for p in range(pairs):
        order = names if p % 2 == 0 else names[::-1]
        for m in order:
            got[m].append(one(build, modes[m], conns, trips, size))
    for f in os.listdir(tmp):
        if f.endswith(".jsonl") and os.path.getsize(os.path.join(tmp, f)):
            print("echo-proc: a report was written: %s" % f)
    print("%d pairs, %d connections x %d round trips of %d bytes, "
          "unpinned" % (pairs, conns, trips, size))
    print("native: %.0f round trips/s, %.0f ns of server CPU per round "
          "trip (medians)" % (statistics.median(r for r, _ in got["native"]),
                              statistics.median(c for _, c in
                                                got["native"])))
    if strace:
        sc = {m: syscalls(build, modes[m], conns, trips // 10, size)
              for m in names}
        for m in names[1:]:
            diff = ["%s %+.3f" % (k, sc[m].get(k, 0) - sc["native"].get(k, 0))
                    for k in sorted(set(sc[m]) | set(sc["native"]))
                    if abs(sc[m].get(k, 0) - sc["native"].get(k, 0)) >= 0.01]
            print("%-7s system calls per round trip, against native "
                  "(strace -f -c, runs of %d and %d round trips): %s" %
                  (m, conns * (trips // 10), 4 * conns * (trips // 10),
                   ", ".join(diff) or "the same (within 0.01)"))
    for m in names[1:]:
        rate = [got[m][i][0] / got["native"][i][0] for i in range(pairs)]
        cpu = [got[m][i][1] / got["native"][i][1] for i in range(pairs)]
        for what, q, limit, at_least in (("rate", rate, 0.97, True),
                                         ("CPU/trip", cpu, 1.02, False)):
            v, med, qs = verdict(q, limit, at_least)
            print("%-7s %-9s %.3f [%.2f-%.2f] IQR %.2f-%.2f  %s %.2f: %s" %
                  (m, what, med, min(q), max(q), qs[0], qs[2],
                   ">=" if at_least else "<=", limit, v))


main()
