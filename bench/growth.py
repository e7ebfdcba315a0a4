#!/usr/bin/env python3
"""How the detector's costs grow (issue 18, item 3): bench/run-growth.sh
calls this.

    growth.py BUILD ROUNDS OPS SVG_DIR

Runs bench-growth (bench/bench-growth.c says what each mode does)
natively and under the preload, alternately, ROUNDS times per point:
  threads  1 to 64 plain threads making OPS / 8 ops each (a mutex
           locked and unlocked, a read of an empty non-blocking pipe), no
           loop;
  loops    one plain thread making OPS ops beside 0 to 64 live libuv
           loops (a 1 ms timer each, 10 ops per tick on the loop thread);
  sites    10 to 10^5 reported blocking calls on a loop, each from a
           stack of its own: the process's peak resident set.
Figures per point: the median over the rounds of the per-round ratio
preload / native of the plain threads' CPU per op (the wrappers' fast
path) and of the process's CPU per op (the loops, the watchdog); and the
peak RSS of each side. Targets: the fast path within 1.05 of native at
64 threads and beside 64 loops (a wrapper's share of the call, the
guide's rule), the process within 1.05 beside 64 loops, and memory
bounded: 10^5 sites within 1.10 of 10^4 sites' peak. Draws
growth-cpu.svg and growth-mem.svg into SVG_DIR."""
import os
import statistics
import subprocess
import sys

import benchlib

THREADS = [1, 2, 4, 8, 16, 32, 64]
LOOPS = [0, 1, 2, 4, 8, 16, 32, 64]
SITES = [10, 100, 1000, 10000, 100000]


def run(build, env, args):
    out = subprocess.run([build + "/bench/bench-growth"] + args, env=env,
                         capture_output=True, text=True, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("GROWTH "):
            return {k: float(v) for k, v in
                    (f.split("=") for f in line.split()[1:])}
    sys.exit("growth: bench-growth %s failed (exit %d): %s" %
             (" ".join(args), out.returncode, out.stderr.strip()[-500:]))


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    rounds, ops, svg_dir = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    logs = os.path.join(svg_dir, "growth-logs")
    os.makedirs(logs, exist_ok=True)
    native = {k: v for k, v in os.environ.items()
              if k not in ("LD_PRELOAD", "LOOPGUARD_OPTIONS")}
    lg = dict(native, LD_PRELOAD=build + "/libloopguard-preload.so",
              LOOPGUARD_OPTIONS="format=json:log=%s/growth.%%p.jsonl" % logs)
    # OPS / 8 per thread whatever their number: the figure is what an op
    # costs, not a thread's start spread over fewer ops.
    points = ([("threads", t, ["ops", str(t), "0", str(max(1, ops // 8))])
               for t in THREADS] +
              [("loops", n, ["ops", "1", str(n), str(ops)]) for n in LOOPS] +
              [("sites", s, ["sites", str(s)]) for s in SITES])
    got = {}
    for r in range(rounds):
        for kind, x, args in points:
            sides = [("native", native), ("lg", lg)]
            for side, env in sides if r % 2 == 0 else sides[::-1]:
                got.setdefault((kind, x, side), []).append(
                    run(build, env, args))
    for f in os.listdir(logs):
        os.unlink(os.path.join(logs, f))

    def ratios(kind, x, key):
        return [a[key] / b[key] for a, b in zip(got[(kind, x, "lg")],
                                                 got[(kind, x, "native")])]

    def med(kind, x, side, key):
        return statistics.median(g[key] for g in got[(kind, x, side)])

    print("preload / native, median of %d rounds; CPU per op in ns "
          "(native)" % rounds)
    for kind, xs in (("threads", THREADS), ("loops", LOOPS)):
        print("%-8s %12s %12s %14s" % (kind, "op CPU", "process CPU",
                                       "native op ns"))
        for x in xs:
            print("%8d %12.3f %12.3f %14.1f" % (
                x, statistics.median(ratios(kind, x, "op_ns")),
                statistics.median(ratios(kind, x, "proc_ns")),
                med(kind, x, "native", "op_ns")))
    print("%-8s %12s %12s" % ("sites", "native MB", "preload MB"))
    for s in SITES:
        print("%8d %12.1f %12.1f" % (s, med("sites", s, "native",
                                            "maxrss_kb") / 1024,
                                     med("sites", s, "lg", "maxrss_kb") /
                                     1024))
    print("targets:")
    benchlib.figure("fast path, 64 threads: op CPU vs native",
                    ratios("threads", 64, "op_ns"), 1.05, False)
    benchlib.figure("fast path beside 64 loops: op CPU vs native",
                    ratios("loops", 64, "op_ns"), 1.05, False)
    benchlib.figure("64 live loops: process CPU vs native",
                    ratios("loops", 64, "proc_ns"), 1.05, False)
    benchlib.figure("memory, 10^5 sites vs 10^4 sites",
                    [a["maxrss_kb"] / b["maxrss_kb"] for a, b in
                     zip(got[("sites", 100000, "lg")],
                         got[("sites", 10000, "lg")])], 1.10, False)

    def curve(kind, xs, key):
        return [statistics.median(ratios(kind, x, key)) for x in xs]

    cpu = os.path.join(svg_dir, "growth-cpu.svg")
    benchlib.svg_panels(
        [("against plain threads", THREADS,
          {"op CPU (fast path)": curve("threads", THREADS, "op_ns"),
           "process CPU": curve("threads", THREADS, "proc_ns")}),
         ("against live loops (one plain thread)", LOOPS,
          {"op CPU (fast path)": curve("loops", LOOPS, "op_ns"),
           "process CPU": curve("loops", LOOPS, "proc_ns")})],
        "threads or loops (x), CPU per op, preload / native (y)", cpu)
    mem = os.path.join(svg_dir, "growth-mem.svg")
    benchlib.svg_panels(
        [("peak resident set against sites reported", SITES,
          {"native": [med("sites", s, "native", "maxrss_kb") / 1024
                      for s in SITES],
           "preload": [med("sites", s, "lg", "maxrss_kb") / 1024
                       for s in SITES]})],
        "distinct sites (x, log), MB (y)", mem)
    print("plots: %s %s" % (cpu, mem))


if __name__ == "__main__":
    main()
