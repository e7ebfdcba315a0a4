#!/bin/sh
# The lock-order graph (issue 5): cycles reported once each, with every
# edge's thread and stack, whether or not the run deadlocked; consistent
# orders, trylock back-off and destroyed locks report nothing; CPython's
# runtime mutexes stay out of it.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-locks"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"

# case MODE: runs prog-locks MODE, which must finish; $f is its log.
case_run() {
    run_lg "format=json:log=$LG_TMP/$1.%p.jsonl" 120 "$prog" "$1" >/dev/null
    [ "$rc" = 0 ] || fail "$1: exit status $rc"
    set -- "$LG_TMP/$1".*.jsonl
    f=$1
}

case_run abba
expect_count 1 "$f" '.type == "lock_order_inversion"' "abba: reported once"
expect_count 1 "$f" '.type == "lock_order_inversion" and .locks == 2 and
    (.cycle | length) == 2 and
    ([.cycle[] | .held] | unique | length) == 2 and
    all(.cycle[]; (.held | startswith("mutex 0x")) and
        (.acquired | startswith("mutex 0x")) and
        .call == "pthread_mutex_lock" and (.tid | type == "number")) and
    any(.cycle[]; any(.stack[]; .symbol == "a_then_b")) and
    any(.cycle[]; any(.stack[]; .symbol == "b_then_a")) and
    .cycle[0].held == .cycle[1].acquired and
    .cycle[1].held == .cycle[0].acquired' \
    "abba: both edges, each with its stack"
expect_count 0 "$f" '.type == "deadlock" or .type == "stall"' \
    "abba: nothing else"
echo "ok: AB-BA reported once"

# fifo: more locks held than are recorded, released out of order;
# recursive: a recursive mutex taken again under another lock; kinds: every
# untimed lock's results, checked by the program (which must pass natively
# too): the lock wrappers change no answer of any kind of lock.
"$prog" kinds >/dev/null || fail "kinds: fails natively (exit $?)"
for mode in consistent trylock destroyed fifo recursive kinds; do
    case_run $mode
    # No loop here: the exit summary says only that.
    expect_no_loop_only "$mode" "$f"
    echo "ok: $mode reports nothing"
done

case_run philosophers
expect_count 1 "$f" '.type == "lock_order_inversion" and .locks == 5 and
    (.cycle | length) == 5 and
    all(.cycle[]; any(.stack[]; .symbol == "philosopher")) and
    ([.cycle[] | .acquired] | unique | length) == 5' \
    "philosophers: the 5-cycle"
expect_count 1 "$f" '.type != "summary"' "philosophers: one record"
echo "ok: dining philosophers"

case_run rwlock
expect_count 1 "$f" '.type == "lock_order_inversion" and
    all(.cycle[]; .acquired | startswith("rwlock 0x"))' "rwlock: cycle"
echo "ok: rwlock cycle"

# The same inversion again with new locks (new addresses, the old ones
# alive): the same code path, so one record (cycles are keyed by stacks).
case_run fresh
expect_count 1 "$f" '.type == "lock_order_inversion" and .locks == 2 and
    any(.cycle[]; any(.stack[]; .symbol == "pair_first_then_second")) and
    any(.cycle[]; any(.stack[]; .symbol == "pair_second_then_first"))' \
    "fresh: the inversion"
expect_count 1 "$f" '.type != "summary"' \
    "fresh: one record for 3 pairs of new locks"
echo "ok: the same inversion on fresh locks is one record"

case_run churn
expect_count 1 "$f" '.type == "lock_order_inversion" and .locks == 2 and
    any(.cycle[]; any(.stack[]; .symbol == "b_then_a"))' \
    "churn: destroyed locks left the graph; the cycle after them is found"
expect_count 1 "$f" '.type != "summary"' "churn: one record"
echo "ok: 50000 locks made and destroyed; the graph still finds cycles"

# CPython's own mutexes (inside its exported _PyRuntime: the GIL's) are
# forwarded untouched: taken in both orders with a program's mutex, no
# edge; the program's own AB-BA pair after them is reported, once, with no
# lock of _PyRuntime in it.
py="$BUILD/tests/prog-pyruntime"
[ -x "$py" ] || fail "$py is missing (make test-bins)"
run_lg "format=json:log=$LG_TMP/pyrt.%p.jsonl" 60 "$py" >/dev/null
[ "$rc" = 0 ] || fail "pyruntime: exit status $rc"
expect_count 1 "$LG_TMP"/pyrt.*.jsonl '.type == "lock_order_inversion"' \
    "pyruntime: one inversion"
expect_count 1 "$LG_TMP"/pyrt.*.jsonl '.type == "lock_order_inversion" and
    .locks == 2 and
    any(.cycle[]; any(.stack[]; .symbol == "a_then_b")) and
    any(.cycle[]; any(.stack[]; .symbol == "b_then_a"))' \
    "pyruntime: the inversion is the program's AB-BA"
echo "ok: CPython's runtime mutexes are not in the graph"

# An inversion is recorded before the lock waits (as TSan and lockdep):
# reported while the thread that closes the cycle still waits, so a run
# that deadlocks on it has the record before it hangs.
run_lg "format=json:log=$LG_TMP/wait.jsonl" 60 "$prog" wait \
    "$LG_TMP/wait.jsonl" >/dev/null
[ "$rc" = 0 ] ||
    fail "wait: exit status $rc (the inversion came after the wait)"
expect_count 1 "$LG_TMP/wait.jsonl" '.type == "lock_order_inversion" and
    .locks == 2' "wait: reported once"
echo "ok: an inversion is reported before the wait that closes it"

case_run stress
expect_no_loop_only "stress" "$f"
echo "ok: 16 threads, 64 locks in one order, 10^6 acquisitions"

# Text: the same AB-BA cycle, readable.
run_lg "log=$LG_TMP/abba.txt" 60 "$prog" abba >/dev/null
for want in 'lock-order inversion: 2 locks taken in both orders' \
            'while holding mutex 0x' 'in a_then_b' 'in b_then_a'; do
    grep -qF "$want" "$LG_TMP/abba.txt" ||
        { cat "$LG_TMP/abba.txt"; fail "text lacks '$want'"; }
done
echo "ok: text form"

# lock_order=0: no graph, no record.
run_lg "format=json:lock_order=0:log=$LG_TMP/off.%p.jsonl" 60 "$prog" abba \
    >/dev/null
[ "$rc" = 0 ] || fail "lock_order=0: exit status $rc"
expect_no_loop_only "lock_order=0" "$LG_TMP"/off.*.jsonl
echo "ok: lock_order=0 turns it off"
