#!/bin/sh
# examples/thread-recv-ok under the preload: its worker waits in
# pthread_cond_wait off the loop and answers with uv_async_send, which is
# correct, so it exits 0 and nothing at all is written. The loop probe
# proves, in the same run, that the detector saw the loop.
. tests/integration/lib.sh

prog="$BUILD/examples/thread-recv-ok"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"

run_probed "format=json:log=$LG_TMP/r.%p.jsonl" 20 "$prog"
[ "$rc" -eq 0 ] || fail "thread-recv-ok exited with status $rc, expected 0"
expect_loop_seen thread-recv-ok
expect_no_record thread-recv-ok "$LG_TMP"/r.*.jsonl
echo "ok: thread-recv-ok reported nothing"
