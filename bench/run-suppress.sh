#!/bin/sh
# bench/run-suppress.sh BUILD_DIR: what a suppressed blocking call costs on
# a loop thread, against what the same call costs when it is reported once
# and then a dedupe hit (issue 14: a call: rule and a suppressed site cost
# no more than a dedupe hit). Run by `make bench`.
#
# bench-wrap --only sem-pair times sem_post + sem_wait (no wait) in a uv
# timer callback, minus the same calls made to libc directly, under the
# preload with: no rule (dedupe hits), call:sem_wait (decided before any
# stack is captured), function:op_sem_pair (a suppressed site: decided on
# its first call, then a dedupe hit), and rules of each kind that match
# nothing (the dedupe hit with rules loaded). The variants alternate,
# ROUNDS times, each in turn first; each figure is the median over the
# rounds of each process's fastest timing. The call: rule and the
# suppressed site are judged against the dedupe hit of the same round: at
# most 1.05 of it, by make bench's rule over the rounds (figure, in
# bench/lib.sh); rules that match nothing are shown only.
# Environment: BENCH_ROUNDS (7), BENCH_MS (8), BENCH_REPS (5).
set -eu
build=${1:-build}
rounds=${BENCH_ROUNDS:-7}
ms=${BENCH_MS:-8}
reps=${BENCH_REPS:-5}
. bench/lib.sh

preload=$(cd "$build" && pwd)/libloopguard-preload.so
wrap=$build/bench/bench-wrap
[ -e "$preload" ] && [ -x "$wrap" ] ||
    { echo "bench: $preload or $wrap is missing; run make bench" >&2; exit 1; }
printf 'call:sem_wait\n' >"$tmp/call.supp"
printf 'function:op_sem_pair\n' >"$tmp/function.supp"
printf '%s\n' call:no_such_call caller:no_such_caller function:no_such_fn \
    'module:*/no_such_module.so' >"$tmp/nomatch.supp"

# run VARIANT: one process; appends "VARIANT NS" (on the loop, in-process).
run() {
    opts="log=$tmp/log.%p"
    [ "$1" = none ] || opts="$opts:suppressions=$tmp/$1.supp"
    LOOPGUARD_OPTIONS="$opts" LD_PRELOAD="$preload" $pin \
        "$wrap" --only sem-pair -t "$ms" -r "$reps" >"$tmp/out" ||
        { echo "bench: bench-wrap failed ($1)" >&2; exit 1; }
    awk -v v="$1" '$1 == "result" && $2 == "on" { print v, $4 - $5 }' \
        "$tmp/out" >>"$tmp/all"
}

echo
echo "suppressed calls on a loop thread: $rounds rounds x (dedupe hit," \
    "call: rule, suppressed site, rules matching nothing)," \
    "sem_post + sem_wait ..."
r=1
while [ "$r" -le "$rounds" ]; do
    case $((r % 4)) in
        0) run none; run call; run function; run nomatch ;;
        1) run call; run function; run nomatch; run none ;;
        2) run function; run nomatch; run none; run call ;;
        3) run nomatch; run none; run call; run function ;;
    esac
    r=$((r + 1))
done
records=$(cat "$tmp"/log.* 2>/dev/null | grep -c 'blocking receive' || true)

awk -v rounds="$rounds" -v records="$records" '
function sort(a, n,    i, j, t) {
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
}
function stats(v,    a, i, n) {
    n = cnt[v]
    for (i = 1; i <= n; i++)
        a[i] = val[v, i]
    sort(a, n)
    med = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    iqr = n < 4 ? a[n] - a[1] : a[int(n * 3 / 4) + 1] - a[int(n / 4) + 1]
}
{ val[$1, ++cnt[$1]] = $2 }
END {
    stats("none"); base = med; base_iqr = iqr
    printf "%-34s %9s %7s  %s\n", "variant (ns added per call)", "median",
        "ratio", "verdict against the dedupe hit"
    printf "%-34s %9.1f %7.3f  %s\n", "no rule: reported once, then hits",
        base, 1, "baseline"
    split("call function nomatch", vs, " ")
    name["call"] = "call:sem_wait"
    name["function"] = "function:op_sem_pair (its site)"
    name["nomatch"] = "4 rules matching nothing"
    for (i = 1; i <= 3; i++) {
        stats(vs[i])
        noise = (iqr + base_iqr) / 2
        if (vs[i] == "nomatch")
            v = sprintf("%+.1f ns: not judged", med - base)
        else
            v = "judged below, per round"
        printf "%-34s %9.1f %7.3f  %s\n", name[vs[i]], med,
            base ? med / base : 0, v
    }
    printf "records written: %d (one per no-rule and no-match process: " \
        "%d)\n", records, 2 * rounds
}' "$tmp/all"
for v in none call function; do
    awk -v v=$v '$1 == v { print $2 }' "$tmp/all" >"$tmp/r.$v"
done
figure "suppression, call:sem_wait vs a dedupe hit" "$tmp/r.none" \
    "$tmp/r.call" le 1.05
figure "suppression, a suppressed site vs a dedupe hit" "$tmp/r.none" \
    "$tmp/r.function" le 1.05
