#!/bin/sh
# Lock lifetimes (issue 16, item 3): a lock whose memory is freed (free,
# realloc, operator delete), unmapped, destroyed or initialised again
# leaves the lock-order graph, and the freeing thread's held locks; a lock
# made later at its address, taken in the other order, is no inversion.
# A true inversion between live locks, with blocks freed all around them,
# is still reported, once. prog-locks-reuse.cc has the cases.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-locks-reuse"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"

# Under ASan (libasan first in LD_PRELOAD) freed blocks wait in a
# quarantine and are not reused: without one, the sanitizer's free hook is
# what must tell the graph. Natively ASAN_OPTIONS is ignored.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
ASAN_OPTIONS="$ASAN_OPTIONS:thread_local_quarantine_size_kb=0"
export ASAN_OPTIONS

# case MODE: runs prog-locks-reuse MODE, which must finish; $f is its log,
# $out its output.
case_run() {
    out="$LG_TMP/$1.out"
    run_lg "format=json:log=$LG_TMP/$1.%p.jsonl" 120 "$prog" "$1" >"$out"
    [ "$rc" = 0 ] || { cat "$out"; fail "$1: exit status $rc"; }
    grep -qx done "$out" || { cat "$out"; fail "$1: did not finish"; }
    set -- "$LG_TMP/$1".*.jsonl
    f=$1
}

for mode in cxx destroy init munmap realloc big held; do
    case_run $mode
    if ! grep -qx 'reused 1' "$out"; then
        skip_case "$mode" "the second lock did not get the first one's" \
            "address here ($(grep reused "$out")): nothing to check"
        continue
    fi
    expect_count 0 "$f" '.type == "lock_order_inversion"' \
        "$mode: two locks never alive at once"
    expect_count 0 "$f" '.type == "deadlock" or .type == "stall"' \
        "$mode: nothing else"
    echo "ok: $mode: no inversion"
done

case_run live
expect_count 1 "$f" '.type == "lock_order_inversion" and .locks == 2 and
    all(.cycle[]; any(.stack[]; .symbol // "" | startswith("x_then_y")))' \
    "live: the true inversion"
expect_count 1 "$f" '.type != "summary"' \
    "live: one record for the inversion made twice"
echo "ok: live: a true inversion reported once"
