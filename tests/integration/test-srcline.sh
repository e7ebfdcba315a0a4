#!/bin/sh
# file:line and inlined frames (issue 15, items 1 and 2), from the
# symbolizer process ($BUILD/loopguard-symbolizer, beside the libraries):
#   inline    prog-srcline (-O2 -g): the blocking read in wait_byte, a
#             static helper inlined into the libuv callback on_tick. JSON:
#             wait_byte is a frame of its own, "inlined": true, at the
#             read's file:line, then on_tick at the helper's call; the
#             loop-entry stack and the summary carry file:line too. Text:
#             the same two lines, "(inlined)" on the first. drain_byte,
#             whose call's next instruction is the caller's next line:
#             found inlined at the read all the same.
#   records   a stall (prog-watch busy), a deadlock (examples/deadlock)
#             and a lock-order inversion (prog-locks abba) carry file:line.
#   stripped  a stripped copy: its frames are module+offset, as before.
#   host      the host cannot see the helper: it is not its child (its
#             parent is not the host, its session its own), holds no
#             descriptor of the host's; the host counts one SIGCHLD per
#             child of its own and reaps nothing else with waitpid(-1)
#             (nor __WALL); its fork and posix_spawn children get no
#             descriptor of ours. The helper is killed: the next report starts
#             another. A file the host put at our descriptor's number is
#             never written to. The helper leaves with the host. The
#             same in a host that is a child subreaper, where the helper's
#             parent is a keeper the host's child, but one no SIGCHLD or
#             waitpid(-1) reveals.
#   nocld     a host whose SIGCHLD is SA_NOCLDWAIT: both reports symbolized.
#   missing   no helper beside the libraries: one line on stderr for two
#             reports, both written without file:line; the same when the
#             first record is the watchdog's stall.
#   silent    a helper that never answers: the report waits symbolize_ms,
#             one line on stderr, reports written without file:line.
#   off       symbolize_ms=0: no helper started, frames as before.
#   report    `loopguard report` on that log, written without file:line:
#             its stack gets them, wait_byte's inlined frame too; not with
#             --no-symbolize, nor from a program file changed since.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-srcline"
src="$(pwd)/tests/integration/prog-srcline.c"
[ -x "$BUILD/loopguard-symbolizer" ] ||
    fail "missing $BUILD/loopguard-symbolizer"
# The lines the frames must name, read from the source.
l_read=$(grep -n 'if (read(fd, &c, 1) != 1)' "$src" | cut -d: -f1)
l_tick=$(grep -n 'char c = wait_byte(fds\[0\]);' "$src" | sed -n 1p |
    cut -d: -f1)
l_drain=$(grep -n '(void)!read(fd, &c, 1);' "$src" | cut -d: -f1)
l_tock=$(grep -n '    drain_byte(fds\[0\]);' "$src" | cut -d: -f1)
[ -n "$l_read" ] && [ -n "$l_tick" ] && [ -n "$l_drain" ] &&
    [ -n "$l_tock" ] || fail "cannot find the lines in $src"

# 1. The inlined helper, in JSON.
out="$LG_TMP/inline.jsonl"
run_lg "format=json:log=$out" 30 "$prog" >/dev/null
[ "$rc" -eq 0 ] || fail "inline: exit status $rc"
expect_count 1 "$out" '.type == "blocking_call"' "inline: records"
expect_count 1 "$out" '.type == "blocking_call" and
    ([.stack[] | select(.symbol == "wait_byte" or .symbol == "on_tick")] |
     length == 2 and
     .[0].symbol == "wait_byte" and .[0].inlined == true and
     .[0].line == '"$l_read"' and .[0].file == "'"$src"'" and
     .[1].symbol == "on_tick" and .[1].inlined == false and
     .[1].line == '"$l_tick"' and .[1].file == "'"$src"'" and
     .[0].pc == .[1].pc and .[0].offset == .[1].offset)' \
    "inline: wait_byte inlined at its read, then on_tick at its call"
# The frames around them: the wrapped read is libc's, whose debug file
# (libc6-dbg) is found by build-id; libuv has none: as before.
expect_count 1 "$out" '.type == "blocking_call" and
    .stack[0].symbol == "read" and (.stack[0].file | type) == "string" and
    ([.stack[] | select(.module | test("libuv"))] | length > 0 and
     all(has("file") | not)) and
    any(.loop_stack[]; .symbol == "run" and .file == "'"$src"'" and
        .line > 0 and .inlined == false)' \
    "inline: libc's read and the loop entry with file:line, libuv without"
expect_count 1 "$out" '.type == "summary" and .sites[0].where.symbol ==
    "on_tick" and .sites[0].where.line == '"$l_tick"' and
    .sites[0].where.inlined == false' "inline: the summary's site"
echo "ok: inline: JSON names wait_byte (inlined, line $l_read), then"
echo "    on_tick (line $l_tick)"

# A return address on the caller's next line (drain_byte's result is not
# used): the call's line, inlined, is the byte before it.
out="$LG_TMP/twice.jsonl"
run_lg "format=json:log=$out" 30 "$prog" twice >/dev/null
[ "$rc" -eq 0 ] || fail "twice: exit status $rc"
expect_count 1 "$out" '.type == "blocking_call" and
    ([.stack[] | select(.symbol == "drain_byte" or .symbol == "on_tock")] |
     length == 2 and
     .[0].symbol == "drain_byte" and .[0].inlined == true and
     .[0].line == '"$l_drain"' and
     .[1].symbol == "on_tock" and .[1].line == '"$l_tock"')' \
    "twice: drain_byte inlined at its read, then on_tock at its call"
echo "ok: a return address is looked up at its call (drain_byte, line $l_drain)"

# The same in text.
out="$LG_TMP/inline.txt"
run_lg "log=$out" 30 "$prog" >/dev/null
[ "$rc" -eq 0 ] || fail "inline (text): exit status $rc"
hex='0x[0-9a-f]*'
mod="$prog\\+$hex"
grep -qE "^    #1 ($hex) in wait_byte $src:$l_read \($mod\) \(inlined\)\$" \
    "$out" || { cat "$out"; fail "inline (text): no inlined wait_byte line"; }
grep -qE "^    #2 ($hex) in on_tick $src:$l_tick \($mod\)\$" "$out" ||
    { cat "$out"; fail "inline (text): no on_tick line after it"; }
pc1=$(sed -n 's/^    #1 \(0x[0-9a-f]*\) in wait_byte .*/\1/p' "$out")
pc2=$(sed -n 's/^    #2 \(0x[0-9a-f]*\) in on_tick .*/\1/p' "$out")
[ "$pc1" = "$pc2" ] || fail "inline (text): the two frames' pcs differ"
grep -qE "^    [0-9]+ x read in on_tick $src:$l_tick \($mod\), " "$out" ||
    { cat "$out"; fail "inline (text): the summary's site has no file:line"; }
echo "ok: inline: text, '#1 ... in wait_byte $src:$l_read (...) (inlined)'"

# 2. Stall, deadlock and lock-order records.
out="$LG_TMP/stall.jsonl"
run_lg "format=json:stall_ms=300:log=$out" 30 "$BUILD/tests/prog-watch" \
    busy 300 >/dev/null
expect_count 1 "$out" '.type == "stall" and .phase == "begin" and
    any(.stack[]; .symbol == "busy_spin" and (.file | endswith("prog-watch.c"))
        and .line > 0)' "stall: busy_spin with file:line"
out="$LG_TMP/dead.jsonl"
run_lg "format=json:log=$out" 5 "$BUILD/examples/deadlock" >/dev/null
expect_count 1 "$out" '.type == "deadlock" and
    any(.threads[0].stack[]; .symbol == "queue_pop" and
        (.file | endswith("deadlock/main.c")) and .line > 0)' \
    "deadlock: queue_pop with file:line"
out="$LG_TMP/abba.jsonl"
run_lg "format=json:log=$out" 60 "$BUILD/tests/prog-locks" abba >/dev/null
expect_count 1 "$out" '.type == "lock_order_inversion" and
    any(.cycle[]; any(.stack[]; .symbol == "a_then_b" and
        (.file | endswith("prog-locks.c")) and .line > 0))' \
    "lock order: a_then_b with file:line"
echo "ok: stall, deadlock and lock-order records carry file:line"

# 3. A stripped program: module+offset, as without debug information.
cp "$prog" "$LG_TMP/stripped"
strip "$LG_TMP/stripped"
out="$LG_TMP/stripped.jsonl"
run_lg "format=json:log=$out" 30 "$LG_TMP/stripped" >/dev/null
[ "$rc" -eq 0 ] || fail "stripped: exit status $rc"
expect_count 1 "$out" '.type == "blocking_call" and
    ([.stack[] | select(.module == "'"$LG_TMP/stripped"'")] |
     length >= 2 and all(has("file") or has("line") or has("inlined") |
                         not)) and
    (.stack[0].file | type) == "string"' \
    "stripped: its frames without file:line, libc's with"
out="$LG_TMP/stripped.txt"
run_lg "log=$out" 30 "$LG_TMP/stripped" >/dev/null
grep -qE "^    #1 $hex in \?\? \($LG_TMP/stripped\+$hex\)\$" "$out" ||
    { cat "$out"; fail "stripped (text): #1 is not '?? (module+offset)'"; }
echo "ok: stripped: module+offset"

# 4. The host cannot see the helper. host_case MODE: MODE "" (the
# helper is init's) or "subreaper" (the host would get the orphan back,
# so the helper has a keeper: the host's child, but one that sends no
# SIGCHLD and that waitpid(-1) without __WALL never picks).
host_case() {
    mode=$1
    fifo="$LG_TMP/stdin$mode"
    mkfifo "$fifo"
    out="$LG_TMP/host$mode.jsonl"
    h="$LG_TMP/host$mode.out"
    LOOPGUARD_OPTIONS="format=json:log=$out" LD_PRELOAD="$LG_PRELOAD" \
        timeout -s KILL 60 "$prog" host $mode <"$fifo" >"$h" 2>&1 &
    exec 3>"$fifo"
    n=0
    while ! grep -q '^reported' "$h" && [ $n -lt 300 ]; do
        sleep 0.1; n=$((n + 1))
    done
    pid=$(sed -n 's/^reported //p' "$h")
    [ -n "$pid" ] || { cat "$h"; fail "host$mode: no first report"; }
    helper=$(pgrep -f "^loopguard-symbolizer $pid\$")
    [ -n "$helper" ] && [ "$(echo "$helper" | wc -l)" -eq 1 ] ||
        fail "host$mode: expected one helper for pid $pid, found '$helper'"
    ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$helper/status")
    [ "$ppid" != "$pid" ] || fail "host$mode: the helper is the host's child"
    for t in /proc/"$pid"/task/*/children; do
        ! grep -qw "$helper" "$t" || fail "host$mode: the helper is in $t"
    done
    if [ -n "$mode" ]; then
        # Its parent, the keeper, is the host's (exit signal 0).
        [ "$(awk '/^PPid:/ { print $2 }' "/proc/$ppid/status")" = "$pid" ] ||
            fail "host$mode: the helper's parent $ppid is not the host's child"
    fi
    [ "$(ps -o sid= -p "$helper" | tr -d ' ')" = "$helper" ] ||
        fail "host$mode: the helper is not in a session of its own"
    fds=$(ls "/proc/$helper/fd" | sort -n | tr '\n' ' ')
    for fd in /proc/"$helper"/fd/*; do
        target=$(readlink "$fd")
        case "${fd##*/}:$target" in
        0:socket:*|1:/dev/null|2:/dev/null) ;;
        [0-2]:*) fail "host$mode: the helper's ${fd##*/} is $target" ;;
        *) case "$target" in
           /*.so*|/*.debug|"$prog"|/usr/lib/debug/*) ;;  # what it reads
           *) fail "host$mode: the helper holds ${fd##*/} -> $target ($fds)" ;;
           esac ;;
        esac
    done
    [ -S "/proc/$helper/fd/0" ] ||
        fail "host$mode: the helper's fd 0 is no socket"
    ours=$(readlink "/proc/$helper/fd/0")
    kill -KILL "$helper"
    # Until it has exited (its socket closed): a helper still dying when the
    # next batch is sent is given up in that batch (ECONNRESET), and no
    # socket of ours would be left for the host to put its file at.
    n=0
    while [ -e "/proc/$helper/fd/0" ] && [ $n -lt 300 ]; do
        sleep 0.1; n=$((n + 1))
    done
    echo go >&3
    exec 3>&-
    wait
    host_rc=$?
    [ "$host_rc" -eq 0 ] || { cat "$h"; fail "host$mode: exit $host_rc"; }
    grep -qx 'plain ECHILD' "$h" ||
        { cat "$h"; fail "host$mode: waitpid(-1, WNOHANG) found a child"; }
    grep -qx 'sigchld 2' "$h" ||
        { cat "$h"; fail "host$mode: SIGCHLDs other than its two children's"; }
    ! grep -q 'reaped a stranger' "$h" ||
        { cat "$h"; fail "host$mode: waitpid(-1) reaped a child not its own"; }
    ! grep -qx 'taken 0' "$h" || { cat "$h"
        fail "host$mode: no socket of ours to put a file at: not checked"; }
    grep -qx 'file-bytes 0' "$h" && grep -qx 'kept 1' "$h" || { cat "$h"
        fail "host$mode: the host's file at our old number was touched"; }
    if [ -z "$mode" ]; then
        grep -qx 'wall ECHILD' "$h" && grep -qx 'children 0' "$h" ||
            { cat "$h"; fail "host: waitpid(-1, __WALL) or /proc: a child"; }
    else
        # The last helper's keeper; the others' were reaped.
        grep -qx 'children 1' "$h" ||
            { cat "$h"; fail "host$mode: expected one child, a keeper"; }
    fi
    # Our end of the pair is the one socket the host has; none in its
    # children.
    sock=$(awk '$1 == "host-fd" && $3 ~ /^socket:/' "$h")
    [ "$(echo "$sock" | grep -c socket)" -eq 1 ] ||
        { cat "$h"; fail "host$mode: expected one socket of ours: $sock"; }
    [ "$(echo "$sock" | awk '{ print $3 }')" != "$ours" ] ||
        fail "host$mode: the host holds the helper's end"
    grep -q '^fork-fd ' "$h" && grep -q '^exec-fd ' "$h" ||
        { cat "$h"; fail "host$mode: no descriptor list from the children"; }
    ! grep -E '^(fork|exec)-fd .*socket:' "$h" ||
        fail "host$mode: a child inherited a socket of ours"
    expect_count 3 "$out" '.type == "blocking_call" and
        any(.stack[]; (.symbol == "wait_byte" or .symbol == "drain_byte")
                      and .inlined == true)' \
        "host$mode: 3 reports symbolized (2: a new helper after the kill;
        3: another after the host took our number)"
    sleep 0.5
    [ -z "$(pgrep -f "^loopguard-symbolizer $pid\$")" ] ||
        fail "host$mode: a helper outlived its host"
}
host_case ""
echo "ok: host: the helper is no child, 2 SIGCHLDs for 2 children, none"
echo "    inherited our socket; a killed helper is replaced; it leaves with"
echo "    the host"
host_case subreaper
echo "ok: subreaper host: the helper's keeper is a child no SIGCHLD or"
echo "    waitpid(-1) sees; a killed helper's keeper is reaped"

# A host whose children reap themselves.
out="$LG_TMP/nocld.jsonl"
echo go | run_lg "format=json:log=$out" 30 "$prog" host nocld \
    >"$LG_TMP/nocld.out"
[ "$rc" -eq 0 ] || fail "nocld: exit status $rc"
expect_count 2 "$out" '.type == "blocking_call" and
    any(.stack[]; .inlined == true and (.line == '"$l_read"' or
                                        .line == '"$l_drain"'))' \
    "nocld: both reports symbolized"
echo "ok: SA_NOCLDWAIT host: symbolized"

# 5. No helper beside the libraries: one line, reports as before.
alone="$LG_TMP/alone"
mkdir "$alone"
cp "$BUILD/libloopguard-preload.so" "$BUILD/libloopguard.so" "$alone/"
ln -s libloopguard.so "$alone/libloopguard.so.0"
preload_alone=$(printf '%s' "$LG_PRELOAD" |
    sed "s|$BUILD/libloopguard-preload.so|$alone/libloopguard-preload.so|")
out="$LG_TMP/missing.jsonl"
LOOPGUARD_OPTIONS="format=json:log=$out" LD_PRELOAD="$preload_alone" \
    timeout -s KILL 30 "$prog" twice >/dev/null 2>"$LG_TMP/missing.err" ||
    fail "missing: exit status $?"
[ "$(grep -c 'loopguard: symbolizer' "$LG_TMP/missing.err")" -eq 1 ] ||
    { cat "$LG_TMP/missing.err"; fail "missing: expected one line on stderr"; }
want="loopguard: symbolizer $alone/loopguard-symbolizer: cannot be run: No"
want="$want such file or directory; frames are shown without file:line"
grep -qxF "$want" "$LG_TMP/missing.err" ||
    { cat "$LG_TMP/missing.err"; fail "missing: the line"; }
expect_count 2 "$out" '.type == "blocking_call" and
    all(.stack[]; has("file") | not)' "missing: two reports, as before"
# The same when the first record is the watchdog's (a stall): it works
# out of the program's descriptor table, and its line still reaches the
# program's stderr.
out="$LG_TMP/missing-wd.jsonl"
LOOPGUARD_OPTIONS="format=json:stall_ms=200:log=$out" \
    LD_PRELOAD="$preload_alone" timeout -s KILL 30 \
    "$BUILD/tests/prog-watch" busy 200 >/dev/null 2>"$LG_TMP/missing-wd.err" ||
    fail "missing (watchdog): exit status $?"
grep -qxF "$want" "$LG_TMP/missing-wd.err" ||
    { cat "$LG_TMP/missing-wd.err"; fail "missing (watchdog): the line"; }
expect_count 1 "$out" '.type == "stall" and .phase == "begin"' \
    "missing (watchdog): the stall, as before"
echo "ok: missing helper: one line, reports written (the watchdog's too)"

# 6. A helper that never answers: each report waits symbolize_ms at most.
cat >"$alone/loopguard-symbolizer" <<'EOF'
#!/bin/sh
exec cat >/dev/null
EOF
chmod +x "$alone/loopguard-symbolizer"
out="$LG_TMP/silent.jsonl"
start=$(date +%s%N)
LOOPGUARD_OPTIONS="format=json:symbolize_ms=400:log=$out" \
    LD_PRELOAD="$preload_alone" timeout -s KILL 30 "$prog" twice \
    >/dev/null 2>"$LG_TMP/silent.err" || fail "silent: exit status $?"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$(grep -c 'loopguard: symbolizer' "$LG_TMP/silent.err")" -eq 1 ] &&
    grep -q 'did not answer' "$LG_TMP/silent.err" ||
    { cat "$LG_TMP/silent.err"; fail "silent: expected one line"; }
expect_count 2 "$out" '.type == "blocking_call" and
    all(.stack[]; has("file") | not)' "silent: two reports, as before"
[ "$ms" -ge 400 ] && [ "$ms" -lt 3000 ] ||
    fail "silent: ran $ms ms; expected one wait of 400 ms"
echo "ok: silent helper: one wait of 400 ms ($ms ms in all), reports written"

# 7. symbolize_ms=0: the (silent) helper is not even started.
out="$LG_TMP/off.jsonl"
start=$(date +%s%N)
LOOPGUARD_OPTIONS="format=json:symbolize_ms=0:log=$out" \
    LD_PRELOAD="$preload_alone" timeout -s KILL 30 "$prog" twice \
    >/dev/null 2>"$LG_TMP/off.err" || fail "off: exit status $?"
ms=$((($(date +%s%N) - start) / 1000000))
[ ! -s "$LG_TMP/off.err" ] || { cat "$LG_TMP/off.err"; fail "off: stderr"; }
expect_count 2 "$out" '.type == "blocking_call" and
    all(.stack[]; has("file") | not)' "off: frames as before"
[ "$ms" -lt 400 ] || fail "off: ran $ms ms: a helper was waited for"
echo "ok: symbolize_ms=0: no helper, no file:line"

# 8. `loopguard report` looks up what the log lacks, in the module files.
lg="$BUILD/loopguard"
"$lg" report "$out" >"$LG_TMP/rep.txt" 2>"$LG_TMP/rep.err" ||
    fail "report: exit $?: $(cat "$LG_TMP/rep.err")"
[ ! -s "$LG_TMP/rep.err" ] || { cat "$LG_TMP/rep.err"; fail "report: stderr"; }
grep -A1 " in wait_byte $src:$l_read (${prog}+0x[0-9a-f]*) (inlined)\$" \
    "$LG_TMP/rep.txt" | grep -q " in on_tick $src:$l_tick (${prog}+0x" || {
    cat "$LG_TMP/rep.txt"
    fail "report: wait_byte inlined at its read, then on_tick at its call"
}
"$lg" report --no-symbolize "$out" >"$LG_TMP/rep0.txt" 2>&1 ||
    fail "report --no-symbolize: exit $?"
grep -q " in on_tick (${prog}+0x" "$LG_TMP/rep0.txt" &&
    ! grep -q "$src:" "$LG_TMP/rep0.txt" ||
    { cat "$LG_TMP/rep0.txt"; fail "report --no-symbolize: lines found"; }
# A program rebuilt since its log: its lines would be another build's.
cp "$prog" "$LG_TMP/rebuilt"
out="$LG_TMP/rebuilt.jsonl"
run_lg "format=json:symbolize_ms=0:log=$out" 30 "$LG_TMP/rebuilt" \
    >/dev/null 2>&1
[ "$rc" -eq 0 ] || fail "rebuilt: exit status $rc"
touch -d '+1 hour' "$LG_TMP/rebuilt"
"$lg" report "$out" >"$LG_TMP/rep1.txt" 2>"$LG_TMP/rep1.err" ||
    fail "report of rebuilt: exit $?"
[ "$(cat "$LG_TMP/rep1.err")" = "loopguard report: $LG_TMP/rebuilt changed \
after the log was written: its frames are shown without file:line" ] ||
    { cat "$LG_TMP/rep1.err"; fail "report of rebuilt: want one warning"; }
grep -q " in on_tick ($LG_TMP/rebuilt+0x" "$LG_TMP/rep1.txt" &&
    ! grep -q "$src:" "$LG_TMP/rep1.txt" ||
    { cat "$LG_TMP/rep1.txt"; fail "report of rebuilt: lines found"; }
echo "ok: report: lines looked up for a log without them, not for a changed file"
echo "ok: srcline"
