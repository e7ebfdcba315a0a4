#!/bin/sh
# libuv fs requests made without a callback run on the loop thread, from
# uv_fs_read itself: their blocking is the program's (issue 16). One run of
# prog-uv-sync-fs.c per libuv build:
#   entry  the shared libuv: uv_run and the uv_fs_* requests are wrapped;
#   stack  libuv's static archive linked in (loops/uv-static-sync-fs):
#          uv_run and uv__fs_work are found through the stack.
# On each, exactly five records, each in its timer callback, on a libuv
# loop: a read of a pipe under uv_fs_read (on_read_pipe), a write to a pipe
# under uv_fs_write (on_write_pipe), the open of a FIFO under uv_fs_open
# and its read (on_open_fifo), and uv_thread_join's pthread_join
# (on_join). None for uv_fs_read of a regular file, none for uv_fs_read
# of a pipe with a callback (the thread pool reads it), none for the
# thread pool's start, none for a write() the callback makes itself (a
# write is judged only inside a synchronous request), none for the
# uv_thread_join main makes after uv_run returned.
. tests/integration/lib.sh

# under A B: frame A is innermost to frame B in the record's stack.
under='def under($a; $b): [.stack[].symbol] as $s
    | ($s | index($a)) as $i | ($s | index($b)) as $j
    | $i != null and $j != null and $i < $j;'

check() {
    via=$1 prog=$2
    [ -x "$prog" ] || fail "$prog is missing (make test-bins)"
    dir="$LG_TMP/$via"
    mkdir -p "$dir"
    out="$LG_TMP/$via.jsonl"
    run_lg "format=json:log=$out" 30 "$prog" "$dir"
    [ "$rc" -eq 0 ] || fail "$prog exited with status $rc, expected 0"
    export VIA="$via"
    on_loop='.type == "blocking_call" and .loop.kind == "libuv"
        and .loop.via == $ENV.VIA'
    expect_count 5 "$out" '.type == "blocking_call"' "$via: records"
    expect_count 1 "$out" "$under $on_loop and .call == \"read\"
        and (.object | test(\"^fd [0-9]+ \\\\(pipe\\\\)$\"))
        and under(\"uv_fs_read\"; \"on_read_pipe\")" \
        "$via: uv_fs_read of a pipe without a callback"
    expect_count 1 "$out" "$under $on_loop and .call == \"write\"
        and (.object | test(\"^fd [0-9]+ \\\\(pipe\\\\)$\"))
        and under(\"uv_fs_write\"; \"on_write_pipe\")" \
        "$via: uv_fs_write to a pipe without a callback"
    expect_count 1 "$out" "$under $on_loop and (.call | test(\"^open\"))
        and .object == \"fifo '$dir/fifo'\"
        and under(\"uv_fs_open\"; \"on_open_fifo\")" \
        "$via: uv_fs_open of a FIFO without a callback"
    expect_count 1 "$out" "$under $on_loop and .call == \"read\"
        and under(\"uv_fs_read\"; \"on_open_fifo\")" \
        "$via: uv_fs_read of the FIFO without a callback"
    expect_count 1 "$out" "$on_loop and .call == \"pthread_join\"
        and .stack[1].symbol == \"uv_thread_join\"
        and .stack[2].symbol == \"on_join\"" \
        "$via: uv_thread_join in a callback"
    expect_count 0 "$out" '.type == "blocking_call" and any(.stack[];
        .symbol // "" | test("on_read_file|on_read_async"))' \
        "$via: a regular file, a request with a callback"
    expect_count 1 "$out" '.type == "blocking_call"
        and .call == "pthread_join"' \
        "$via: joins (not the one after uv_run)"
    echo "ok: $via: five records, each in its callback; none for a regular"
    echo "    file, a request with a callback, a write() of its own, nor a"
    echo "    join after uv_run"
}

check entry "$BUILD/tests/prog-uv-sync-fs"
check stack "$BUILD/tests/loops/uv-static-sync-fs"
