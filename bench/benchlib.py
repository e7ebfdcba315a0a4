"""What the Python benches share: the verdict rule, the FIGURE lines that
bench/summary.py gathers into make bench's one table, and line plots as
inline SVG for docs/performance.md.

The rule (docs/performance.md, "How to read the figures"): a figure is
measured in rounds (or pairs), each against its baseline run within
seconds of it; the figure is the median of the per-round ratios; its
target is "met" when more than two thirds of the rounds meet it on their
own, "NOT MET" when fewer than a third do, "unresolved" otherwise."""
import statistics

COLOURS = ["#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f"]


def verdict(ratios, limit, at_least):
    """The rule above: (verdict, rounds that meet the target)."""
    n = sum(1 for r in ratios if (r >= limit if at_least else r <= limit))
    if 3 * n > 2 * len(ratios):
        return "met", n
    if 3 * n < len(ratios):
        return "NOT MET", n
    return "unresolved", n


def figure(name, ratios, limit, at_least):
    """Prints the figure's line for a reader and its FIGURE line for
    bench/summary.py; returns the verdict."""
    med = statistics.median(ratios)
    v, n = verdict(ratios, limit, at_least)
    sign = ">=" if at_least else "<="
    print("  %-44s %7.3f [%.2f-%.2f] %s %g: %s (%d/%d)" %
          (name, med, min(ratios), max(ratios), sign, limit, v, n,
           len(ratios)))
    print("FIGURE %s|%.3f|%s %g|%s|%d/%d" % (name, med, sign, limit, v, n,
                                           len(ratios)))
    return v


def _nice_top(v):
    scale = 10 ** len(str(int(v))) if v >= 1 else 1
    return next((s for s in (scale / 10 * k for k in range(1, 11))
                 if s >= v), scale)


def svg_panels(panels, caption, path, colours=None):
    """panels: [(title, x_labels, {series: [y per x]})], side by side, x
    evenly spaced by label; one legend from the first panel's series.
    Writes the SVG to path."""
    colours = colours or COLOURS
    pw, ph, left, top, gap = 280, 220, 60, 20, 70
    w = left + len(panels) * (pw + gap)
    h = 300
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (w, h)]
    for i, (title, xs, series) in enumerate(panels):
        x0 = left + i * (pw + gap)
        ymax = _nice_top(max(max(v) for v in series.values()))
        out.append('<text x="%d" y="%d">%s</text>' % (x0, top - 5, title))
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
                   'stroke="#888"/>' % (x0, top, pw, ph))
        for k in range(5):
            y = top + ph - ph * k / 4
            out.append('<text x="%d" y="%.0f" text-anchor="end">%g</text>' %
                       (x0 - 4, y + 4, round(ymax * k / 4, 6)))
        step = pw / max(1, len(xs) - 1)
        for j, x in enumerate(xs):
            out.append('<text x="%.0f" y="%d" text-anchor="middle">%s</text>'
                       % (x0 + step * j, top + ph + 14, x))
        for c, (name, ys) in enumerate(series.items()):
            pts = " ".join("%.1f,%.1f" % (x0 + step * j,
                                          top + ph - ph * y / ymax)
                           for j, y in enumerate(ys))
            out.append('<polyline points="%s" fill="none" stroke="%s" '
                       'stroke-width="2"/>' % (pts, colours[c % len(colours)]))
    out.append('<text x="%d" y="%d">%s</text>' % (left, top + ph + 32,
                                                  caption))
    for c, name in enumerate(panels[0][2]):
        out.append('<text x="%d" y="%d" fill="%s">%s</text>' %
                   (left + c * 110, top + ph + 50,
                    colours[c % len(colours)], name))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
