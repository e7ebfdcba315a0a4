#!/bin/sh
# Named loop libraries found through their wrapped entry points (issue 4,
# item 4): libevent (event_base_loop, event_base_dispatch), libev (ev_run),
# GLib (g_main_loop_run, g_main_context_iteration).
# Per library, programs in tests/integration/loops/ (built to
# $BUILD/tests/loops/ only when the library's -dev package is installed):
#   <lib>-clean  timers, a TCP echo on 127.0.0.1, a worker handing results
#                back the library's own way: exits 0 and produces no record
#                at all (the library's own waits on the loop thread, e.g.
#                GLib's GMutex contending through syscall(SYS_futex), are
#                not the program's);
#   <lib>-block  the same plus one blocking read() of a pipe in the timer
#                callback on_timer_block: exits 0 and produces exactly one
#                record, that read, on a loop of kind <lib> found via entry.
# A library whose programs are missing is a skipped case (skip_case); the
# test is skipped (77) when all are. Each clean program's silence is
# checked beside its block program's record, in the same run.
. tests/integration/lib.sh

dir="$BUILD/tests/loops"
tested=0
skipped=""

# no_record NAME: the clean program NAME runs and reports nothing.
no_record() {
    log="$LG_TMP/$1.%p.jsonl"
    run_lg "format=json:log=$log" 30 "$dir/$1"
    [ "$rc" -eq 0 ] || fail "$1 exited with status $rc, expected 0"
    expect_no_record "$1" "$LG_TMP/$1".*.jsonl
    echo "ok: $1 exits 0, no record"
}

# one_record NAME KIND: the block program NAME runs and reports its read
# of the pipe in on_timer_block, once, on a KIND loop found via entry.
one_record() {
    log="$LG_TMP/$1.%p.jsonl"
    run_lg "format=json:log=$log" 30 "$dir/$1"
    [ "$rc" -eq 0 ] || fail "$1 exited with status $rc, expected 0"
    set -- "$1" "$2" "$LG_TMP/$1".*.jsonl
    [ $# -eq 3 ] && [ -f "$3" ] ||
        fail "$1: expected one report file, found: ${3#"$LG_TMP/"}" \
             "(no report: is the $2 runner wrapped?)"
    out=$3
    expect_count 1 "$out" '.type == "blocking_call"' \
        "$1: blocking_call records"
    expect_count 1 "$out" ".type == \"blocking_call\" and .call == \"read\"
        and (.object | test(\"^fd [0-9]+ \\\\(pipe\\\\)\$\"))
        and .timeout_ms == null
        and .loop.kind == \"$2\" and .loop.via == \"entry\"
        and any(.stack[]; .symbol == \"on_timer_block\")" \
        "$1: the read of the pipe in on_timer_block, on a $2 loop"
    echo "ok: $1 exits 0, one record: read in on_timer_block ($2 loop)"
}

for lib in libevent libev glib; do
    case $lib in
        libevent) pkg=libevent-dev ;;
        libev) pkg=libev-dev ;;
        glib) pkg=libglib2.0-dev ;;
    esac
    if [ ! -x "$dir/$lib-clean" ] || [ ! -x "$dir/$lib-block" ]; then
        skip_case "$lib" \
            "$dir/$lib-clean or $lib-block not built (install $pkg: make deps)"
        skipped="$skipped $lib"
        continue
    fi
    no_record "$lib-clean"
    one_record "$lib-block" "$lib"
    tested=$((tested + 1))
done

[ "$tested" -gt 0 ] || skip "no loop library's test programs built" \
    "(libevent-dev, libev-dev, libglib2.0-dev: make deps)"
[ -z "$skipped" ] || echo "tested $tested libraries; skipped:$skipped"
echo "ok: named loops"
