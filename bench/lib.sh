# Shared by bench/run-loops.sh, run-locks.sh and run-suppress.sh: `. bench/lib.sh`
# after setting $build. Sets $pin (taskset to CPU 1 when it works, else
# empty) and $tmp (a directory removed on exit); defines median (of the
# numbers on stdin, one per line) and figure (below).
pin=""
taskset -c 1 true 2>/dev/null && pin="taskset -c 1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# figure NAME BASE OTHER HOW LIMIT: make bench's rule (docs/performance.md,
# "make bench's one table") over rounds: line i of the files BASE and
# OTHER is round i of the baseline and of what is measured against it.
# HOW: "le" (OTHER / BASE <= LIMIT), "ge" (OTHER / BASE >= LIMIT) or "add"
# (OTHER - BASE <= LIMIT, in ns). A round meets the target on its own;
# met: more than two thirds of them, NOT MET: fewer than a third, else
# unresolved. Prints the verdict for a reader and a FIGURE line for
# bench/summary.py.
figure() {
    paste "$2" "$3" | awk -v name="$1" -v how="$4" -v lim="$5" '
    function median(a, n,    i, j, t) {
        for (i = 2; i <= n; i++)
            for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
                t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
            }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    NF >= 2 {
        n++
        q[n] = how == "add" ? $2 - $1 : $2 / $1
        if (how == "ge")
            meet += q[n] >= lim
        else
            meet += q[n] <= lim
    }
    END {
        v = "unresolved"
        if (3 * meet > 2 * n)
            v = "met"
        else if (3 * meet < n)
            v = "NOT MET"
        target = (how == "ge" ? ">= " : "<= ") (how == "add" ? "+" : "") lim \
            (how == "add" ? " ns" : "")
        m = median(q, n)
        printf "  %s: %s%.3f%s, target %s: %s (%d/%d rounds)\n", name,
            how == "add" ? "+" : "", m, how == "add" ? " ns" : "", target, v,
            meet, n
        printf "FIGURE %s|%s%.3f%s|%s|%s|%d/%d\n", name,
            how == "add" ? "+" : "", m, how == "add" ? " ns" : "", target, v,
            meet, n
    }'
}
