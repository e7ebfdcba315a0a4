#!/usr/bin/env python3
"""bench/summary.py LOG: make bench's one table, from the FIGURE lines
that the benches printed into LOG (bench/all.sh writes it): each figure
as a ratio against its baseline of the same run, its target and its
verdict (benchlib's rule), then the tally, the benches that printed no
FIGURE line (no target: figures only) and those that failed. Exits 1
when a bench failed."""
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows, bench, silent, failed, has = [], None, [], [], False
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("BENCH-START "):
                bench, has = line.split()[1], False
            elif line.startswith("BENCH-END "):
                if not has:
                    silent.append(bench)
            elif line.startswith("BENCH-FAILED "):
                failed.append(line.split()[1])
            elif line.startswith("FIGURE "):
                name, ratio, target, verdict, rounds = \
                    line[len("FIGURE "):].split("|")
                rows.append((bench, name, ratio, target, verdict, rounds))
                has = True
    width = max([len(r[1]) for r in rows] + [6])
    print("\nmake bench: every figure with a target, as a ratio against its "
          "baseline measured in the same run")
    print("%-*s %8s %8s  %-10s %s" % (width, "figure", "ratio", "target",
                                      "verdict", "rounds met"))
    tally = {}
    for _, name, ratio, target, verdict, rounds in rows:
        print("%-*s %8s %8s  %-10s %s" % (width, name, ratio, target,
                                          verdict, rounds))
        tally[verdict] = tally.get(verdict, 0) + 1
    print("=> %s" % ", ".join("%d %s" % (tally.get(v, 0), v)
                              for v in ("met", "unresolved", "NOT MET")))
    if silent:
        print("sections without a target (figures only, above): %s" %
              ", ".join(silent))
    if failed:
        print("FAILED: %s" % ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
