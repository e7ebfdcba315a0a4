#!/bin/sh
# examples/loop-to-thread, thread-to-loop, thread-to-loop-batch,
# thread-to-epoll, thread-to-libevent and thread-to-glib under the preload:
# threads block in lg_chan calls and the loop receives with
# lg_chan_recv_start(_batch), or watches lg_chan_fd and drains (epoll,
# libevent, GLib), so all finish their work, exit 0 and write no record.
. tests/integration/lib.sh

# check NAME WANT: runs the example; it exits 0, prints a line matching the
# extended regex WANT, and leaves no record and nothing on stderr.
check() {
    prog="$BUILD/examples/$1"
    [ -x "$prog" ] || fail "$prog is missing (make test-bins)"
    run_lg "format=json:log=$LG_TMP/$1.%p.jsonl" 20 "$prog" \
        >"$LG_TMP/$1.out" 2>"$LG_TMP/$1.err"
    [ "$rc" -eq 0 ] || {
        cat "$LG_TMP/$1.out" "$LG_TMP/$1.err"
        fail "$1 exited with status $rc, expected 0"
    }
    grep -qxE "$2" "$LG_TMP/$1.out" || {
        cat "$LG_TMP/$1.out"; fail "$1 did not print '$2'"; }
    [ -s "$LG_TMP/$1.err" ] && { cat "$LG_TMP/$1.err"; fail "$1: stderr"; }
    for f in "$LG_TMP/$1".*.jsonl; do
        [ -s "$f" ] || continue
        cat "$f"
        fail "expected no record from $1, found some in $f"
    done
    echo "ok: $1"
}

check loop-to-thread 'sum of squares 1\.\.3 = 14'
check thread-to-loop \
    '40000 messages from 4 workers, in order; [0-9]+ ticks meanwhile'
check thread-to-loop-batch \
    '40000 messages from 4 workers, in order, in [0-9]+ batches'
check thread-to-epoll '40000 messages from 4 workers, in order'
check thread-to-libevent '40000 messages from 4 workers, in order'
check thread-to-glib '40000 messages from 4 workers, in order'
