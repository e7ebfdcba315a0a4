#!/bin/sh
# bench/compare-builds.sh OLD_BUILD NEW_BUILD [ROUNDS]: what a change did to
# every wrapped call bench-wrap times, on and off a loop thread: the two
# builds' preloads run the same bench-wrap (NEW_BUILD's) in turn, ROUNDS
# times (7), each in turn first, pinned when taskset can. Each figure is the
# median over the rounds of the in-process cost (the call minus libc called
# directly), as bench/run.sh computes it; new-old is the change.
# Build an old commit beside the tree with
#   git worktree add /tmp/base COMMIT && make -C /tmp/base all
set -eu
old=$(cd "$1" && pwd)/libloopguard-preload.so
new=$(cd "$2" && pwd)/libloopguard-preload.so
wrap=$2/bench/bench-wrap
rounds=${3:-7}
build=$2
. bench/lib.sh
for f in "$old" "$new" "$wrap"; do
    [ -e "$f" ] || { echo "bench: $f is missing" >&2; exit 1; }
done
r=1
while [ "$r" -le "$rounds" ]; do
    for side in old new; do
        [ $((r % 2)) = 0 ] && { [ $side = old ] && side=new || side=old; }
        p=$old
        [ "$side" = new ] && p=$new
        LOOPGUARD_OPTIONS="log=$tmp/log.%p" LD_PRELOAD="$p" $pin \
            "$wrap" -t 8 -r 5 |
            awk -v s="$side" '$1 == "result" { print s, $2, $3, $4 - $5 }' \
            >>"$tmp/all"
    done
    r=$((r + 1))
done
awk '
function med(s, k,    a, i, j, t, c) {
    c = n[s, k]
    for (i = 1; i <= c; i++)
        a[i] = v[s, k, i]
    for (i = 2; i <= c; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
    return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
{ k = $2 " " $3; v[$1, k, ++n[$1, k]] = $4; keys[k] = 1 }
END {
    for (k in keys) {
        split(k, q, " ")
        printf "%-4s %-16s %9.1f %9.1f %+8.1f\n", q[1], q[2], med("old", k),
            med("new", k), med("new", k) - med("old", k)
    }
}' "$tmp/all" | sort >"$tmp/table"
printf '%-4s %-16s %9s %9s %8s\n' ctx op old new new-old
cat "$tmp/table"
