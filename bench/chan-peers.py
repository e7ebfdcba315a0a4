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
seconds of each other). A target is "met" when more than two thirds of
the rounds meet it on their own, "NOT MET" when fewer than a third do,
"unresolved" otherwise (bench-chan's rule). Draws msgs/s against
producers, one line per contender, into SVG_OUT (inline SVG for
docs/performance.md)."""
import statistics
import subprocess
import sys

PRODUCERS = [1, 2, 4, 8, 16]
SIZES = [8, 64]
COLOURS = ["#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd",
           "#8c564b"]


def run(cmd, p, size, msgs):
    out = subprocess.run(cmd + [str(p), str(size), str(msgs)],
                         capture_output=True, text=True, timeout=300)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            fields = dict(f.split("=", 1) for f in line.split()[1:])
            return float(fields["rate"])
    sys.exit("chan-peers: %s %d %d failed (exit %d): %s" %
             (" ".join(cmd), p, size, out.returncode, out.stderr.strip()))


def verdict(ratios, limit):
    n = sum(1 for r in ratios if r >= limit)
    if 3 * n > 2 * len(ratios):
        return "met", n
    if 3 * n < len(ratios):
        return "NOT MET", n
    return "unresolved", n


def svg(rates, names, path):
    w, h, left, top, pw, ph = 720, 300, 60, 20, 280, 220
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (w, h)]
    top_rate = max(rates.values()) / 1e6
    scale = 10 ** len(str(int(top_rate)))
    ymax = next(s for s in (scale / 10 * k for k in range(1, 11))
                if s >= top_rate)
    for i, size in enumerate(SIZES):
        x0 = left + i * (pw + 60)
        out.append('<text x="%d" y="%d">%d-byte messages</text>' %
                   (x0 + pw / 2 - 40, top - 5, size))
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
                   'stroke="#888"/>' % (x0, top, pw, ph))
        for k in range(5):
            v = ymax * k / 4
            y = top + ph - ph * k / 4
            out.append('<text x="%d" y="%.0f" text-anchor="end">%g</text>' %
                       (x0 - 4, y + 4, v))
        for j, p in enumerate(PRODUCERS):
            x = x0 + pw * j / (len(PRODUCERS) - 1)
            out.append('<text x="%.0f" y="%d" text-anchor="middle">%d</text>'
                       % (x, top + ph + 14, p))
        for c, name in enumerate(names):
            pts = []
            for j, p in enumerate(PRODUCERS):
                x = x0 + pw * j / (len(PRODUCERS) - 1)
                y = top + ph - ph * (rates[(name, p, size)] / 1e6) / ymax
                pts.append("%.1f,%.1f" % (x, y))
            out.append('<polyline points="%s" fill="none" stroke="%s" '
                       'stroke-width="2"/>' % (" ".join(pts),
                                              COLOURS[c % len(COLOURS)]))
    out.append('<text x="%d" y="%d">producers (x), million messages/s '
               '(y), median of the rounds</text>' % (left, top + ph + 32))
    for c, name in enumerate(names):
        out.append('<text x="%d" y="%d" fill="%s">%s</text>' %
                   (left + c * 110, top + ph + 50,
                    COLOURS[c % len(COLOURS)], name))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


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
            v, n = verdict(q, limit)
            tally[v] += 1
            print("  %-4s/%-9s %2d prod %2d B: %5.2f [%.2f-%.2f] >= %-4g %s"
                  " (%d/%d rounds)" % (x, y, p, s, statistics.median(q),
                                       min(q), max(q), limit, v, n, rounds))
    print("=> %d met, %d unresolved, %d NOT MET" %
          (tally["met"], tally["unresolved"], tally["NOT MET"]))
    svg(rates, names, svg_out)
    print("plot: %s" % svg_out)


main()
