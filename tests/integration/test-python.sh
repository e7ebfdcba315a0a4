#!/bin/sh
# CPython's asyncio under the preload (issue 19), on Debian's interpreter
# (/usr/bin/python3, stripped):
#   gil   python/asyncio-gil.py: executor threads hold the GIL while the
#         loop thread's epoll_wait returns; the loop thread then waits in
#         take_gil (a cond in _PyRuntime) under PyEval_RestoreThread: the
#         interpreter's own wait, not reported. The loop is seen (the
#         program asks lg_thread_is_loop() in a coroutine).
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
