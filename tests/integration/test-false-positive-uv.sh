#!/bin/sh
# A correct libuv program (prog-uv-clean.c: timers, TCP echo on 127.0.0.1, fs
# requests, uv_queue_work, uv_async_send from a thread, uv_spawn, uv_signal)
# runs under the preload with every callback run as expected, and produces
# no record at all: libuv's own waits on the loop thread are not reported.
# The loop probe proves, in the same run, that the detector saw the loop.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-uv-clean"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"

run_probed "format=json:log=$LG_TMP/r.%p.jsonl" 30 "$prog"
[ "$rc" -eq 0 ] || fail "prog-uv-clean exited with status $rc, expected 0"
# %p: the spawned /bin/true inherits the preload and may write its own file.
expect_loop_seen prog-uv-clean
expect_no_record prog-uv-clean "$LG_TMP"/r.*.jsonl
echo "ok: no false positive"
