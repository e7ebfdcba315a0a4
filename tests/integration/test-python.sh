#!/bin/sh
# CPython's asyncio under the preload (issue 19), on Debian's interpreter
# (/usr/bin/python3, stripped):
#   gil   python/asyncio-gil.py: executor threads hold the GIL while the
#         loop thread's epoll_wait returns; the loop thread then waits in
#         take_gil (a cond in _PyRuntime) under PyEval_RestoreThread: the
#         interpreter's own wait, not reported. The loop is seen (the
#         program asks lg_thread_is_loop() in a coroutine).
#   CASE  python/asyncio-blocking.py CASE: time.sleep, queue.Queue.get,
#         threading.Event.wait, socket.recv, subprocess.run, urllib.request,
#         threading.Lock.acquire of a held lock, os.fork's wait for the
#         child (whose own sleep, in its parent's coroutine, is not) in a
#         coroutine, and a first task that blocks before the loop
#         ever polled: each reported once on an asyncio loop, its stack
#         naming the line marked "# BLOCK: CASE" as a Python frame; the
#         time.sleep made after the loop is not; time.sleep on one line,
#         twenty times (repeat), is one site. The same for time.sleep
#         under run_until_complete, run_forever, on another thread, on a
#         poll or select selector (whose own waits are not reported), on
#         a thread with a 32 KiB stack, and under a run_forever replaced
#         as nest_asyncio replaces it.
#   clean python/asyncio-clean.py (executors, asyncio.Queue, streams, a
#         subprocess, threads on their own queues, `with lock:` on a held
#         lock, a ProcessPoolExecutor): nothing reported.
#   uvloop the same cases and the clean program on a uvloop loop (a libuv
#         loop, entered by uv_run), the frames still Python's.
#   text  the text report names the Python frame and the way out; its
#         summary names the site by the Python frame.
#   3.12, 3.13  the first cases and the clean program on CPython 3.12 and
#         3.13, where the machine has them (pyenv's builds count).
#   busy  python/asyncio-busy.py: a coroutine computes for 1 s (stall_ms
#         200): the watchdog's stall, on the asyncio loop (named so from
#         its first poll), names the computing function at the
#         line marked "# BUSY", the coroutine that called it and the
#         module, as Python frames read from the running thread (3.12 and
#         3.13 too): the first record, the watchdog's, is one of a log
#         file (16 KiB), not of a pipe (4 KiB), which would cut them.
#   deadlock  python/asyncio-deadlock.py, the seed's shape: the first task
#         waits on a queue.Queue whose only producer is a task of the same
#         loop: the blocking call (its Python line) and the deadlock, whose
#         thread's stack has the same Python frames.
. tests/integration/lib.sh
command -v jq >/dev/null 2>&1 || skip "jq not installed"
py=/usr/bin/python3
[ -x "$py" ] || skip "Debian's python3 is not installed (make deps installs it)"
dir=tests/integration/python

f="$LG_TMP/gil.jsonl"
run_lg "format=json:log=$f" 120 "$py" "$dir/asyncio-gil.py" \
    >"$LG_TMP/gil.out" 2>&1
[ "$rc" -eq 0 ] || { cat "$LG_TMP/gil.out"; fail "gil: exit $rc"; }
grep -qx 'loop 1' "$LG_TMP/gil.out" ||
    { cat "$LG_TMP/gil.out"; fail "gil: the detector did not see the loop"; }
expect_count 0 "$f" '.type == "blocking_call"' "gil: the GIL's wait"
echo "ok: gil: taking the GIL back on the loop thread is not reported"

script="$dir/asyncio-blocking.py"
tag=                          # told apart: each interpreter's logs
# block_line CASE: the line of the call CASE makes.
block_line() {
    grep -n "# BLOCK: $1\$" "$script" | cut -d: -f1
}

# blocking CASE ENTRY MARK [KIND]: one run; the call is reported once, on
# a loop of KIND (asyncio), with the Python frame of line MARK.
blocking() {
    kind=${4:-asyncio}
    f="$LG_TMP/$1-$2$tag.jsonl" out="$LG_TMP/$1-$2$tag.out"
    run_lg "format=json:log=$f" 120 "$py" "$script" "$1" "$2" >"$out" 2>&1
    [ "$rc" -eq 0 ] && grep -qx done "$out" ||
        { cat "$out"; fail "$1 ($2): exit $rc"; }
    line=$(block_line "$3")
    [ -n "$line" ] || fail "no line marked # BLOCK: $3"
    expect_count 1 "$f" '.type == "blocking_call"' "$1 ($2): one report"
    expect_count 1 "$f" '.type == "blocking_call" and
        .loop.kind == "'"$kind"'" and
        any(.stack[]; .python == true and .line == '"$line"' and
            (.file | endswith("/asyncio-blocking.py")))' \
        "$1 ($2): on the $kind loop, at line $line"
    echo "ok: $1 ($2): reported at line $line"
}

for c in sleep queue event recv subprocess urllib acquire fork; do
    blocking $c run $c
done
blocking first run queue
# One line's twenty calls are one site, however the interpreter reached it
# (a task's first step or a resumption; before or after 3.11 specialised
# the call, which changes the native frames and the instruction).
blocking repeat run repeat
expect_count 1 "$LG_TMP/repeat-run$tag.jsonl" '.type == "summary" and
    .count == 20 and .sites_total == 1 and .sites[0].where.python == true
    and .sites[0].where.symbol == "blocking" and
    .sites[0].where.line == '"$line" \
    "repeat: twenty calls, one site, named by its Python frame"
for e in until forever thread poll select smallstack replaced; do
    blocking sleep $e sleep
done

# clean [uvloop]
clean() {
    f="$LG_TMP/clean$1$tag.jsonl" out="$LG_TMP/clean$1$tag.out"
    run_lg "format=json:log=$f" 120 "$py" "$dir/asyncio-clean.py" $1 \
        >"$out" 2>&1
    [ "$rc" -eq 0 ] && grep -qx done "$out" ||
        { cat "$out"; fail "clean $1: exit $rc"; }
    expect_count 0 "$f" '.type == "blocking_call"' "clean $1: nothing blocks"
    grep -qx 'loop 1' "$out" ||
        { cat "$out"; fail "clean $1: the detector did not see the loop"; }
    echo "ok: clean $1: executors, asyncio's own waits and threads: no report"
}
clean

# uvloop: the loop is libuv's (uv_run, entered), the frames Python's.
if "$py" -c 'import uvloop' 2>/dev/null; then
    for c in sleep queue event recv subprocess urllib repeat; do
        blocking $c uvloop $c libuv
    done
    clean uvloop
else
    skip_case uvloop "python3-uvloop is not installed (make deps installs it)"
fi

# busy: a stall, with the Python frames of the thread that computes.
busy() {
    f="$LG_TMP/busy$tag.jsonl"
    run_lg "format=json:log=$f:stall_ms=200" 60 "$py" "$dir/asyncio-busy.py" 1 \
        >"$LG_TMP/busy$tag.out" 2>&1
    [ "$rc" -eq 0 ] || { cat "$LG_TMP/busy$tag.out"; fail "busy$tag: exit $rc"; }
    line=$(grep -n "# BUSY" "$dir/asyncio-busy.py" | cut -d: -f1)
    expect_count 1 "$f" '.type == "stall" and .phase == "begin" and
        .doing == "running" and .loop.kind == "asyncio" and
        any(.stack[]; .python == true and .symbol == "crunch" and
            .line == '"$line"' and (.file | endswith("/asyncio-busy.py"))) and
        any(.stack[]; .python == true and .symbol == "main") and
        any(.stack[]; .python == true and .symbol == "<module>")' \
        "busy$tag: the stall names crunch at line $line, main and <module>"
}
busy
echo "ok: busy: a stall with the Python frames of the running thread"

# Other CPythons whose layout loopguard knows (3.12, 3.13), where this
# machine has them (Debian 12 has only 3.11; pyenv's builds count).
others=
for p in /usr/bin/python3.12 /usr/bin/python3.13 \
         "${HOME:-/root}"/.pyenv/versions/3.1[23].*/bin/python3; do
    [ -x "$p" ] && others="$others $p"
done
if [ -n "$others" ]; then
    for p in $others; do
        v=$("$p" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        py=$p tag=-$v
        for c in sleep queue event; do
            blocking $c run $c
        done
        blocking first run queue
        clean
        busy
        echo "ok: CPython $v ($p)"
    done
    py=/usr/bin/python3 tag=
else
    skip_case other-versions "no CPython 3.12 or 3.13 on this machine"
fi

f="$LG_TMP/text.log"
run_lg "log=$f" 120 "$py" "$script" event >"$LG_TMP/text.out" 2>&1
[ "$rc" -eq 0 ] || { cat "$LG_TMP/text.out"; fail "text: exit $rc"; }
grep -q "in blocking .*/asyncio-blocking.py:$(block_line event) (Python)$" \
    "$f" || { cat "$f"; fail "text: no Python frame line"; }
grep -q "asyncio.to_thread" "$f" || { cat "$f"; fail "text: no advice"; }
# The summary names the site by its Python frame, not the interpreter's.
where="in blocking .*/asyncio-blocking.py:$(block_line event) (Python), "
grep -q "^    1 x [a-z_]* $where" "$f" ||
    { cat "$f"; fail "text: the summary's site is not its Python frame"; }
echo "ok: text: the Python frame and asyncio.to_thread, in the summary too"

f="$LG_TMP/deadlock.jsonl"
run_lg "format=json:log=$f:stall_ms=200" 5 "$py" "$dir/asyncio-deadlock.py" \
    >"$LG_TMP/deadlock.out" 2>&1
case $rc in
124|137) ;;
*) cat "$LG_TMP/deadlock.out"; fail "deadlock: hangs until killed, not $rc" ;;
esac
line=$(grep -n "# BLOCK: deadlock\$" "$dir/asyncio-deadlock.py" | cut -d: -f1)
expect_count 1 "$f" '.type == "blocking_call" and .loop.kind == "asyncio" and
    any(.stack[]; .python == true and .line == '"$line"')' \
    "deadlock: the consumer's get, at line $line"
expect_count 1 "$f" '.type == "deadlock" and
    any(.threads[0].stack[]; .python == true and .symbol == "consumer" and
        .line == '"$line"') and
    any(.threads[0].stack[]; .python == true and .symbol == "Queue.get")' \
    "deadlock: the deadlock record, with the consumer's Python frames"
echo "ok: deadlock: the queue.Queue.get and the deadlock, with Python frames"
