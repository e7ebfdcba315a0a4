#!/usr/bin/env python3
"""One server, native against up to three other modes, in interleaved
rounds: what one option or one library costs, measured as make bench's
server pairs are (bench/server-proc.py's pair: fresh servers, one load,
unpinned, whole runs). Not part of make bench.

    server-modes.py BUILD SERVER ROUNDS ROUND_TRIPS LABEL=MODE...

SERVER is one of server-proc.py's (uv, node, asyncio). MODE is the
preload's LOOPGUARD_OPTIONS (empty for its defaults), `preload:PATH` for
another library in its place, such as build/bench/libthread-glibc.so or
libthread-raw.so (bench/thread-only.c: a thread and nothing else), or
`native` for a second native server: the instrument against itself. 16
connections, 64-byte round trips, SERVER_SLICES slices (10). The order of
the modes rotates from round to round (at most three beside native: the
load drives four servers at most). Printed per mode: the median over the
rounds of its ratio to the round's native run, rate and CPU per round
trip, and the middle two thirds of those ratios (the sixth and the
five-sixth); with two or more modes, each later one against the first as
well, which is how one change is compared with the build before it (a
second build's preload as `preload:PATH`)."""
import importlib.util
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "server_proc", os.path.join(HERE, "server-proc.py"))
server_proc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(server_proc)

CONNS, SIZE = 16, 64
SLICES = int(os.environ.get("SERVER_SLICES", "10"))


def main():
    if len(sys.argv) < 6 or len(sys.argv) > 8:
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    name, rounds, trips = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    spec, why = server_proc.server_spec(build, name, SIZE)
    if not spec:
        sys.exit("server-modes: %s: %s" % (name, why))
    base = {k: v for k, v in os.environ.items()
            if k not in ("LD_PRELOAD", "LOOPGUARD_OPTIONS")}
    base.update(spec[1])
    modes = {"native": dict(base)}
    for arg in sys.argv[5:]:
        label, _, mode = arg.partition("=")
        if not label or label in modes:
            sys.exit("server-modes: bad or repeated label in %r" % arg)
        if mode == "native":
            modes[label] = dict(base)
        elif mode.startswith("preload:"):
            modes[label] = dict(base, LD_PRELOAD=os.path.abspath(mode[8:]))
        else:
            modes[label] = dict(base, LD_PRELOAD=build +
                                "/libloopguard-preload.so",
                                LOOPGUARD_OPTIONS=mode)
    names = list(modes)
    got = {m: [] for m in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for m, fig in zip(order, server_proc.pair(
                build, spec, [modes[m] for m in order], CONNS, trips, SIZE,
                SLICES)):
            got[m].append(fig)
    print("%s: %d rounds, %d connections x %d round trips of %d bytes in "
          "%d slices, unpinned; native: %.0f round trips/s, %.0f ns of CPU "
          "a round trip (medians)" % (name, rounds, CONNS, trips, SIZE, SLICES,
                              statistics.median(f[0] for f in got["native"]),
                              statistics.median(f[1] for f in got["native"])))

    def sixths(x):
        # The middle two thirds of the rounds: the document's rule calls a
        # target met when more than two thirds of the rounds meet it.
        x = sorted(x)
        return x[len(x) // 6], x[len(x) - 1 - len(x) // 6]

    def ratios(m, base, k):
        return [got[m][i][k] / got[base][i][k] for i in range(rounds)]
    for m in names[1:]:
        rate, cpu = ratios(m, "native", 0), ratios(m, "native", 1)
        print("  %-12s rate %.3f [%.3f-%.3f]  CPU a round trip %.3f "
              "[%.3f-%.3f]" % ((m, statistics.median(rate)) + sixths(rate) +
                               (statistics.median(cpu),) + sixths(cpu)))
    # A change's own effect: each later mode against the first, round by
    # round, and in how many rounds its CPU was the lower.
    first = names[1] if len(names) > 2 else None
    for m in names[2:]:
        cpu = ratios(m, first, 1)
        print("  %-12s against %s: rate %.3f, CPU a round trip %.3f "
              "(lower in %d of %d rounds)" % (
                  m, first, statistics.median(ratios(m, first, 0)),
                  statistics.median(cpu), sum(c < 1 for c in cpu), rounds))


if __name__ == "__main__":
    main()
