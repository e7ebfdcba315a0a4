#!/usr/bin/env python3
"""lg_chan against its peers, thread -> receiver, in one run (issue 17,
item 5): bench/run-chan-peers.sh builds the contenders and calls this.

    chan-peers.py SVG_OUT ROUNDS MESSAGES NAME=CMD...

Each NAME=CMD is a contender: CMD with PRODUCERS SIZE MESSAGES appended
prints one "RESULT ... rate=R" line (bench-chanrate.c, bench/rust
chan-peers.rs, bench/go/chanrate.go). Every round runs every contender
once for each producer count (1, 2, 4, 8, 16) and size (8, 64 bytes),
in an order that rotates from round to round, so slow drift on this VM
favours none. Figures: the median rate over the rounds; a ratio is the
median of the per-round ratios (two contenders of one round ran within
seconds of each other), its verdict by benchlib's rule. Draws msgs/s
against producers, one line per contender, into SVG_OUT (inline SVG for
docs/performance.md)."""
import statistics
import subprocess
import sys

import benchlib

PRODUCERS = [1, 2, 4, 8, 16]
SIZES = [8, 64]


def run(cmd, p, size, msgs):
    out = subprocess.run(cmd + [str(p), str(size), str(msgs)],
                         capture_output=True, text=True, timeout=300)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            fields = dict(f.split("=", 1) for f in line.split()[1:])
            return float(fields["rate"])
    sys.exit("chan-peers: %s %d %d failed (exit %d): %s" %
             (" ".join(cmd), p, size, out.returncode, out.stderr.strip()))


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    svg_out, rounds, msgs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    contenders = {}
    for arg in sys.argv[4:]:
        name, cmd = arg.split("=", 1)
        contenders[name] = cmd.split()
    names = list(contenders)
    per_round = {}
    for r in range(rounds):
        for p in PRODUCERS:
            for size in SIZES:
                order = names[r % len(names):] + names[:r % len(names)]
                for name in order:
                    per_round[(name, p, size, r)] = run(contenders[name], p,
                                                        size, msgs)
    rates = {(n, p, s): statistics.median(per_round[(n, p, s, r)]
                                          for r in range(rounds))
             for n in names for p in PRODUCERS for s in SIZES}
    print("msgs/s in millions, capacity 1024, median of %d rounds" % rounds)
    print("prod size " + "".join("%11s" % n for n in names))
    for p in PRODUCERS:
        for s in SIZES:
            print("%4d %4d " % (p, s) + "".join(
                "%11.2f" % (rates[(n, p, s)] / 1e6) for n in names))
    targets = [("lg", "a", 4, 2.0), ("lg", "a", 1, 1.0),
               ("lgb", "a", 4, 2.0), ("lgb", "a", 1, 1.2),
               ("lg", "crossbeam", 4, 1.0), ("lg", "go", 4, 1.0),
               ("lgb", "crossbeam", 4, 1.0), ("lgb", "go", 4, 1.0),
               ("lg", "tokio", 1, 10.0), ("lg", "tokio", 4, 10.0)]
    print("\ntargets (issue 17): ratio = median of per-round ratios "
          "[lowest-highest]")
    tally = {"met": 0, "NOT MET": 0, "unresolved": 0}
    for x, y, p, limit in targets:
        if x not in contenders or y not in contenders:
            print("  %s/%s at %d producers: skipped (%s not built)" %
                  (x, y, p, y if y not in contenders else x))
            continue
        for s in SIZES:
            q = [per_round[(x, p, s, r)] / per_round[(y, p, s, r)]
                 for r in range(rounds)]
            tally[benchlib.figure("lg_chan %s vs %s, %d prod, %d B" %
                                  (x, y, p, s), q, limit, True)] += 1
    print("=> %d met, %d unresolved, %d NOT MET" %
          (tally["met"], tally["unresolved"], tally["NOT MET"]))
    benchlib.svg_panels(
        [("%d-byte messages" % size, PRODUCERS,
          {n: [rates[(n, p, size)] / 1e6 for p in PRODUCERS]
           for n in names}) for size in SIZES],
        "producers (x), million messages/s (y), median of the rounds",
        svg_out)
    print("plot: %s" % svg_out)


if __name__ == "__main__":
    main()
