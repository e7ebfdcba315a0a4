#!/bin/sh
# The watchdog (issue 5): stalls with their follow-up, deadlocks, and what
# is neither. prog-watch runs each case; stall_ms is small so the test is
# short, and every bound asserted is a multiple of it.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-watch"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"
MS=300

# log NAME: the single JSON log of the run named NAME.
log() {
    set -- "$LG_TMP/$1".*.jsonl
    [ -f "$1" ] && echo "$1" || echo "$LG_TMP/none"
}

# --- A callback computing for 3 x stall_ms: one stall, then its end.
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/busy.%p.jsonl" 20 "$prog" busy $MS
[ "$rc" = 0 ] || fail "busy: exit status $rc"
f=$(log busy)
expect_count 1 "$f" '.type == "stall" and .phase == "begin"' "busy: stall"
expect_count 1 "$f" '.type == "stall" and .phase == "end"' "busy: stall end"
expect_count 1 "$f" '.type == "stall" and .phase == "begin" and
    .doing == "running" and .call == null and .loop.kind == "libuv" and
    .stalled_ms >= '$MS' and any(.stack[]; .symbol == "busy_spin") and
    any(.loop_stack[]; .symbol == "uv_run")' \
    "busy: the stall names busy_spin, running, on the libuv loop"
# The follow-up gives the whole episode, measured from when the loop left
# its wait (not when the watchdog, up to stall_ms / 4 later, saw it): at
# least the 3 x stall_ms spent (less 1: busy_spin counts whole ms).
expect_count 1 "$f" '.type == "stall" and .phase == "end" and
    .stalled_ms >= '$((3 * MS - 1))' and .stack == []' "busy: stall end length"
pid=$(jq -s '.[0].pid' "$f")
expect_count 2 "$f" ".type == \"stall\" and .tid == $pid" \
    "busy: both name the loop thread"
echo "ok: busy callback"

# --- Waits no wrapper sees: stdio's read of a pipe and pclose's wait for
# its child resume after the sampling signal (SA_RESTART), so their stall
# has a stack; a raw nanosleep would come back early, so it is not
# signalled. Each program checks its call ended as it would have natively.
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/stdio.%p.jsonl" 20 \
    "$prog" stdio-pipe $MS >"$LG_TMP/stdio.out"
[ "$rc" = 0 ] || fail "stdio-pipe: exit status $rc: $(cat "$LG_TMP/stdio.out")"
expect_count 1 "$(log stdio)" '.type == "stall" and .phase == "begin" and
    .call == null and .doing == "in a system call loopguard does not wrap"
    and any(.stack[]; .symbol == "fgets") and
    any(.stack[]; .symbol == "on_stdio_pipe")' \
    "stdio-pipe: the stall's stack names fgets and on_stdio_pipe"
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/childw.%p.jsonl" 20 \
    "$prog" child-wait $MS >"$LG_TMP/childw.out"
[ "$rc" = 0 ] ||
    fail "child-wait: exit status $rc: $(cat "$LG_TMP/childw.out")"
expect_count 1 "$(log childw)" '.type == "stall" and .phase == "begin" and
    any(.stack[]; .symbol == "wait4") and
    any(.stack[]; .symbol == "on_child_wait")' \
    "child-wait: the stall's stack names wait4 and on_child_wait"
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/rawsl.%p.jsonl" 20 \
    "$prog" raw-sleep $MS >"$LG_TMP/rawsl.out"
[ "$rc" = 0 ] || fail "raw-sleep: exit status $rc: $(cat "$LG_TMP/rawsl.out")"
expect_count 1 "$(log rawsl)" '.type == "stall" and .phase == "begin" and
    .doing == "in a system call loopguard does not wrap" and .stack == []' \
    "raw-sleep: a stall without a stack"
echo "ok: unseen waits that resume after a signal are sampled, others not"

# --- The same with every signal blocked: no stack (the thread is not sent
# the sampling signal, which would stay pending), the stall all the same.
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/masked.%p.jsonl" 20 \
    "$prog" busy-masked $MS >"$LG_TMP/masked.out"
[ "$rc" = 0 ] || fail "busy-masked: exit status $rc"
[ ! -s "$LG_TMP/masked.out" ] ||
    fail "busy-masked: signals left pending: $(cat "$LG_TMP/masked.out")"
expect_count 1 "$(log masked)" '.type == "stall" and .phase == "begin" and
    .doing == "running" and .stack == []' "busy-masked: a stall, no stack"
echo "ok: a thread that blocks signals is not signalled"

# --- A process with no loop that is down to one thread again loses the
# watchdog too (a single-threaded process stays one).
run_lg "stall_ms=$MS" 20 "$prog" single $MS >"$LG_TMP/single.out"
[ "$rc" = 0 ] || fail "single: exit status $rc"
[ "$(cat "$LG_TMP/single.out")" = "threads 1" ] ||
    fail "single: expected one thread left, got: $(cat "$LG_TMP/single.out")"
echo "ok: the watchdog leaves a process that is single-threaded again"

# --- The same run with the watchdog off: no record.
run_lg "format=json:stall_ms=0:log=$LG_TMP/off.%p.jsonl" 20 "$prog" busy $MS
[ "$rc" = 0 ] || fail "stall_ms=0: exit status $rc"
expect_no_record "stall_ms=0" "$LG_TMP"/off.*.jsonl
echo "ok: stall_ms=0 turns it off"

# --- A loop turning through an idle handle is never stalled.
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/iter.%p.jsonl" 20 \
    "$prog" iterate $MS
[ "$rc" = 0 ] || fail "iterate: exit status $rc"
expect_no_record "iterate" "$LG_TMP"/iter.*.jsonl
echo "ok: a busy loop that keeps polling is not stalled"

# --- A callback waiting 3 x stall_ms for a mutex another thread holds.
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/mutex.%p.jsonl" 20 \
    "$prog" mutex-wait $MS
[ "$rc" = 0 ] || fail "mutex-wait: exit status $rc"
f=$(log mutex)
expect_count 1 "$f" '.type == "stall" and .phase == "begin" and
    .call == "pthread_mutex_lock" and (.object | startswith("mutex 0x")) and
    any(.stack[]; .symbol == "on_mutex")' \
    "mutex-wait: a stall in pthread_mutex_lock, from on_mutex"
expect_count 0 "$f" '.type == "blocking_call" or .type == "deadlock"' \
    "mutex-wait: a contended lock is no blocking receive, nor deadlock"
echo "ok: contended mutex on a loop thread"

# --- Every thread waits, each with a timeout: no deadlock.
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/timed.%p.jsonl" 20 \
    "$prog" timed $MS
[ "$rc" = 0 ] || fail "timed: exit status $rc"
expect_no_loop_only "timed waits" "$LG_TMP"/timed.*.jsonl
echo "ok: timed waits are no deadlock"

# --- A worker cancelled inside its wait runs a long cleanup handler while
# main joins it: its slot still says "waiting", its thread does not.
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/cancel.%p.jsonl" 20 \
    "$prog" cancelled $MS
[ "$rc" = 0 ] || fail "cancelled: exit status $rc"
expect_no_loop_only "cancelled" "$LG_TMP"/cancel.*.jsonl
echo "ok: a thread cancelled in its wait is not taken for waiting"

# --- main joins a worker that waits on a cond nobody signals: deadlock,
# both threads listed with what they wait on and their stacks.
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/cycle.%p.jsonl" 4 \
    "$prog" join-cycle $MS
[ "$rc" = 137 ] || fail "join-cycle should hang until killed: status $rc"
f=$(log cycle)
expect_count 1 "$f" '.type == "deadlock"' "join-cycle: one deadlock record"
expect_count 1 "$f" '.type == "deadlock" and .threads_total == 2 and
    (.threads | length) == 2 and
    any(.threads[]; .call == "pthread_join" and
        (.object | startswith("thread 0x")) and
        any(.stack[]; .symbol == "main")) and
    any(.threads[]; .call == "pthread_cond_wait" and
        (.object | startswith("cond 0x")) and
        any(.stack[]; .symbol == "forever"))' \
    "join-cycle: both threads, their waits and stacks"
echo "ok: join cycle is a deadlock"

# --- The same in abort mode: the hang becomes a failing exit.
run_lg "format=json:stall_ms=$MS:mode=abort:log=$LG_TMP/abort.%p.jsonl" 4 \
    "$prog" join-cycle $MS
[ "$rc" = 134 ] || fail "join-cycle, mode=abort: expected SIGABRT (134), got $rc"
expect_count 1 "$(log abort)" '.type == "deadlock"' "abort: the record first"
echo "ok: mode=abort ends a deadlock"

# --- A semaphore a signal handler posts: all threads wait, but a signal
# may still end it. Not a deadlock; the program finishes when signalled.
fifo="$LG_TMP/ready"
mkfifo "$fifo"
LOOPGUARD_OPTIONS="format=json:stall_ms=$MS:log=$LG_TMP/sem.%p.jsonl" \
    LD_PRELOAD="$LG_PRELOAD" "$prog" sem-signal $MS >"$fifo" &
p=$!
read -r line <"$fifo"
[ "$line" = ready ] || fail "sem-signal did not start"
sleep 1
kill -USR1 $p
wait $p
rc=$?
[ "$rc" = 0 ] || fail "sem-signal: exit status $rc"
expect_no_loop_only "sem-signal" "$LG_TMP"/sem.*.jsonl
echo "ok: a wait a signal handler may end is no deadlock"

# --- Self-wait: the loop thread waits on a cond that only it has ever
# signalled (a worker is alive, asleep): said so in the blocking_call. The
# same wait on a cond a worker also signalled is not.
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/self.%p.jsonl" 3 \
    "$prog" self-wait $MS
[ "$rc" = 137 ] || fail "self-wait should hang until killed: status $rc"
f=$(log self)
expect_count 1 "$f" '.type == "blocking_call" and .self_wait == true and
    .call == "pthread_cond_wait" and any(.stack[]; .symbol == "pop")' \
    "self-wait: the blocking call says only this thread signalled"
expect_count 0 "$f" '.type == "deadlock"' "self-wait: a worker is awake"
run_lg "log=$LG_TMP/self.txt:stall_ms=$MS" 3 "$prog" self-wait $MS
grep -qF 'only this loop thread has ever signalled cond 0x' \
    "$LG_TMP/self.txt" || { cat "$LG_TMP/self.txt"; fail "self-wait text"; }
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/shared.%p.jsonl" 3 \
    "$prog" shared-wait $MS
[ "$rc" = 137 ] || fail "shared-wait should hang until killed: status $rc"
f=$(log shared)
expect_count 1 "$f" '.type == "blocking_call" and .self_wait == false and
    .call == "pthread_cond_wait"' "shared-wait: not a self-wait"
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/reinit.%p.jsonl" 3 \
    "$prog" reinit-wait $MS
f=$(log reinit)
expect_count 1 "$f" '.type == "blocking_call" and .self_wait == false and
    .call == "pthread_cond_wait"' "reinit-wait: a cond made anew is no self-wait"
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/reshared.%p.jsonl" 3 \
    "$prog" reinit-shared $MS
f=$(log reshared)
expect_count 1 "$f" '.type == "blocking_call" and .self_wait == false and
    .call == "pthread_cond_wait"' \
    "reinit-shared: a worker signalled the cond made anew too"
echo "ok: self-wait named; shared or re-initialised wait not"

# --- A lone loop thread reading a pipe (or socket pair) only it writes: a
# deadlock. With a child process that could write to it, not one.
# lone_read KIND CALL POP SELF: KIND-self deadlocks in CALL, in function
# POP, on "fd N (KIND)"; its blocking_call's self_wait is SELF. KIND-child
# does not deadlock, and its CALL is reported with self_wait false.
lone_read() {
    run_lg "format=json:stall_ms=$MS:log=$LG_TMP/$1-self.%p.jsonl" 3 \
        "$prog" "$1-self" $MS
    [ "$rc" = 137 ] || fail "$1-self should hang until killed: status $rc"
    expect_count 1 "$(log "$1-self")" '.type == "deadlock" and
        .threads_total == 1 and .threads[0].call == "'"$2"'" and
        (.threads[0].object | test("^fd [0-9]+ \\('"$1"'\\)$")) and
        any(.threads[0].stack[]; .symbol == "'"$3"'")' \
        "$1-self: a deadlock on the $1's $2"
    expect_count 1 "$(log "$1-self")" '.type == "blocking_call" and
        .call == "'"$2"'" and .self_wait == '"$4" \
        "$1-self: self_wait $4"
    run_lg "format=json:stall_ms=$MS:log=$LG_TMP/$1-child.%p.jsonl" 3 \
        "$prog" "$1-child" $MS
    [ "$rc" = 137 ] || fail "$1-child should hang until killed: status $rc"
    # This run's child only: another tree's suite may run the same case.
    pkill -f "$prog $1-child" 2>/dev/null || true
    cat "$LG_TMP/$1-child".*.jsonl >"$LG_TMP/$1-child.all" 2>/dev/null || true
    expect_count 0 "$LG_TMP/$1-child.all" '.type == "deadlock"' \
        "$1-child: a child could write"
    expect_count 1 "$LG_TMP/$1-child.all" '.type == "blocking_call" and
        .call == "'"$2"'" and .self_wait == false' \
        "$1-child: the $2 is reported, not as a self-wait"
}
lone_read pipe read pipe_pop true
# A socket pair's read is never a self-wait: send() and its kin, which may
# write to it, are not wrapped.
lone_read socket recv sock_pop false
# Nor an eventfd's: its writers are not noted.
lone_read eventfd read efd_pop false
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/psig.%p.jsonl" 3 \
    "$prog" pipe-signal $MS
[ "$rc" = 137 ] || fail "pipe-signal should hang until killed: status $rc"
expect_count 0 "$(log psig)" '.type == "deadlock"' \
    "pipe-signal: a signal handler may write to the pipe"
expect_count 1 "$(log psig)" '.type == "blocking_call" and .self_wait == false' \
    "pipe-signal: not a self-wait either"
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/pparent.%p.jsonl" 5 \
    "$prog" pipe-parent $MS
[ "$rc" = 0 ] || fail "pipe-parent: exit status $rc"
cat "$LG_TMP"/pparent.*.jsonl >"$LG_TMP/pparent.all" 2>/dev/null || true
expect_count 0 "$LG_TMP/pparent.all" '.type == "deadlock"' \
    "pipe-parent: a pipe made before fork is the parent's too"
expect_count 1 "$LG_TMP/pparent.all" '.type == "blocking_call" and
    .call == "read" and .self_wait == false' \
    "pipe-parent: the child's read is reported, not as a self-wait"
echo "ok: a pipe, socket pair or eventfd only this process writes; not with a child, a parent or a handler"

# --- A single-threaded loop program: the watchdog works from a descriptor
# table of its own (none of the program's descriptors open in it), so
# that the program's descriptor calls stay as cheap as with one thread;
# still writes its stall, file:line included; and comes back to the
# program's table once a report callback is set, which then gets the
# watchdog's records.
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/table.%p.jsonl" 20 \
    "$prog" table $MS >"$LG_TMP/table.out"
[ "$rc" = 0 ] || { cat "$LG_TMP/table.out"; fail "table: exit status $rc"; }
[ "$(sed -n 1p "$LG_TMP/table.out")" = "watchdog table: own" ] &&
    [ "$(sed -n 2p "$LG_TMP/table.out")" = "watchdog table: shared" ] &&
    grep -q '^callback: .*stall' "$LG_TMP/table.out" || {
    cat "$LG_TMP/table.out"
    fail "table: want its own table, then the program's, and the stall given to the callback"
}
expect_count 1 "$(log table)" '.type == "stall" and .phase == "begin" and
    any(.stack[]; .symbol == "busy_spin" and
        (.file | endswith("prog-watch.c")))' \
    "table: the stall, with file:line, written from the watchdog"
# Outside the table it opens no log before its first record: a process
# that reports nothing leaves no file behind.
run_lg "format=json:stall_ms=$MS:log=$LG_TMP/quiet.%p.jsonl" 20 \
    "$prog" iterate $MS
[ "$rc" = 0 ] || fail "quiet: exit status $rc"
set -- "$LG_TMP"/quiet.*.jsonl
[ ! -e "$1" ] || { ls -l "$@"; fail "quiet: a log file was left behind"; }
echo "ok: the watchdog's own descriptor table, and back to the program's for a callback"

# --- The watchdog opens files at every tick and starts the symbolizer's
# helper: none of it may take the lowest free number, which the program's
# next open is owed (POSIX). A thread closes a pipe and makes another
# while the watchdog starts and ticks every millisecond (stall_ms=4), on a
# loop and in a process with threads only: each new pipe must get the
# numbers just closed. (Before the watchdog left the table in every
# process, one pipe in 70 missed them.)
for kind in loop threads; do
    run_lg "stall_ms=4" 20 "$prog" lowest-$kind 400 >"$LG_TMP/lowest.out"
    [ "$rc" = 0 ] || fail "lowest-$kind: exit status $rc"
    grep -Eq '^missed 0 of [1-9][0-9]*$' "$LG_TMP/lowest.out" ||
        fail "lowest-$kind: the program's lowest free numbers were taken: $(cat "$LG_TMP/lowest.out")"
done
echo "ok: the watchdog never takes the program's lowest free descriptor number"

# --- A loop asleep in its wait for 3 x 400 ms at stall_ms=40: about 120
# ticks, and nothing parked. A tick reads /proc only once a thread waits
# in its slot (the deadlock check), so the watchdog's system calls are its
# start and its sleeps: a server's every tick made two openat and a read
# before, counted per request under strace (docs/performance.md). Once,
# when the loop appears, the watchdog reads the loaded objects' symbols
# for the runtimes' waiting points (runtime-own.c), which the loop thread
# did on its first wait before: libuv's file among them, opened by the
# watchdog, and nothing under /proc.
# The watchdog's thread id in an strace -f log: the thread that named
# itself "loopguard".
watchdog_tid() {
    awk '/PR_SET_NAME, "loopguard"/ { print $1; exit }' "$1"
}

if command -v strace >/dev/null 2>&1; then
    LD_PRELOAD= strace -f -qq -o "$LG_TMP/idle.strace" env \
        LD_PRELOAD="$LG_PRELOAD" \
        LOOPGUARD_OPTIONS="stall_ms=40:log=$LG_TMP/idle.%p" \
        "$prog" idle 400 || fail "idle: exit status $?"
    wd=$(watchdog_tid "$LG_TMP/idle.strace")
    [ -n "$wd" ] || fail "idle: no watchdog thread under strace"
    ticks=$(awk -v t="$wd" '$1 == t && /ETIMEDOUT/' \
        "$LG_TMP/idle.strace" | wc -l)
    opens=$(awk -v t="$wd" '$1 == t && /(openat\(.*"\/proc|getdents64\(|read\()/' \
        "$LG_TMP/idle.strace" | wc -l)
    [ "$ticks" -ge 20 ] || fail "idle: only $ticks ticks"
    [ "$opens" -le 2 ] ||
        fail "idle: the watchdog opened or read $opens times in $ticks ticks"
    awk -v t="$wd" '$1 == t && /openat\(.*libuv\.so/' "$LG_TMP/idle.strace" |
        grep -q . ||
        fail "idle: the watchdog did not read libuv's symbols when the loop appeared"
    echo "ok: idle ticks make no system call but their sleep ($ticks ticks); the symbols are read once, by the watchdog"

    # A watchdog started for threads sleeps until its tick (5 s at
    # stall_ms=20000); a loop that appears meanwhile wakes it to read the
    # symbols at once. The program ends a second in, long before the tick.
    LD_PRELOAD= strace -f -qq -e trace=openat,prctl \
        -o "$LG_TMP/late.strace" env LD_PRELOAD="$LG_PRELOAD" \
        LOOPGUARD_OPTIONS="stall_ms=20000:log=$LG_TMP/late.%p" \
        "$prog" late-loop 20000 || fail "late-loop: exit status $?"
    wd=$(watchdog_tid "$LG_TMP/late.strace")
    [ -n "$wd" ] || fail "late-loop: no watchdog thread under strace"
    awk -v t="$wd" '$1 == t && /openat\(.*libuv\.so/' "$LG_TMP/late.strace" |
        grep -q . ||
        fail "late-loop: the watchdog, asleep until its tick, was not woken when the loop appeared"
    echo "ok: a loop that appears while the watchdog sleeps wakes it to read the symbols"

    # Under a seccomp filter that answers EPERM to the futex wait the
    # watchdog sleeps in, it sleeps its ticks out with clock_nanosleep: one
    # refused wait a tick. (It retried at once before: 23,000 refused
    # waits in 1.2 s.)
    frc=0
    LD_PRELOAD= strace -f -qq -o "$LG_TMP/filt.strace" env \
        LD_PRELOAD="$LG_PRELOAD" \
        LOOPGUARD_OPTIONS="stall_ms=40:log=$LG_TMP/filt.%p" \
        "$prog" idle-filtered 400 >"$LG_TMP/filt.out" || frc=$?
    if [ "$frc" = 0 ]; then
        wd=$(watchdog_tid "$LG_TMP/filt.strace")
        [ -n "$wd" ] || fail "idle-filtered: no watchdog thread under strace"
        sleeps=$(awk -v t="$wd" '$1 == t && /clock_nanosleep\(/' \
            "$LG_TMP/filt.strace" | wc -l)
        refused=$(awk -v t="$wd" '$1 == t && /EPERM/' "$LG_TMP/filt.strace" |
            wc -l)
        [ "$sleeps" -ge 20 ] || fail "idle-filtered: only $sleeps ticks"
        [ "$refused" -le $((sleeps + 2)) ] ||
            fail "idle-filtered: $refused refused waits in $sleeps ticks"
        echo "ok: a filtered futex wait: the watchdog sleeps its ticks out ($sleeps ticks, $refused refused waits)"
    elif grep -q "filter failed" "$LG_TMP/filt.out"; then
        skip_case idle-filtered "no seccomp filter can be set here"
    else
        fail "idle-filtered: exit status $frc"
    fi
else
    skip_case idle "no strace (make deps installs it)"
fi
