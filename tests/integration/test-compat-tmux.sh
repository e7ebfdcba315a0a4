#!/bin/sh
# tmux (libevent: one loop in the server, one in each client) under the
# preload with default options, driven by a script (compat/tmux-drive.sh:
# typed commands, panes, windows, buffers, if-shell and run-shell jobs, a
# control-mode client; docs/compatibility.md). Native and preloaded runs:
# the same output and exit status. In the preloaded run, server, clients,
# the panes' shells and the jobs are all under the preload: the server and
# the clients send from loop threads (the probe) and nothing is reported;
# a third run, whose probe sleeps in its first send on a loop thread,
# shows the loop's kind in server and clients: libevent, via entry.
. tests/integration/lib.sh
need_cmd tmux jq
drive=tests/integration/compat/tmux-drive.sh
TMUX_TMPDIR=$LG_TMP; export TMUX_TMPDIR
unset TMUX
run_drive() {
    tag=$1; mode=$2
    if [ "$mode" = native ]; then
        timeout -s KILL 60 sh "$drive" "lg-$tag" >"$LG_TMP/$tag.out" 2>&1
    else
        timeout -s KILL 60 env LG_PROBE_OUT="$LG_TMP/$tag.probe" \
            LOOPGUARD_OPTIONS="$mode" \
            LD_PRELOAD="$LG_PRELOAD:$BUILD/tests/libloop-probe.so" \
            sh "$drive" "lg-$tag" >"$LG_TMP/$tag.out" 2>&1
    fi
    rc=$?
    [ "$rc" -eq 0 ] || { cat "$LG_TMP/$tag.out"; fail "$tag: exit status $rc"; }
}
run_drive native native
run_drive lg "format=json:log=$LG_TMP/lg.%p.jsonl"
same_output "tmux" "$LG_TMP/native.out" "$LG_TMP/lg.out"
grep -qx done "$LG_TMP/lg.out" || fail "the script did not finish"
expect_sends_on_loop "tmux" "$LG_TMP/lg.probe"
set -- "$LG_TMP"/lg.*.jsonl
[ -e "$1" ] || set --
expect_no_record "tmux" "$@"
echo "ok: tmux: same output and exit status; sends from loop threads; no record"

LG_PROBE_SLEEP=1; export LG_PROBE_SLEEP
run_drive kind "format=json:log=$LG_TMP/kind.%p.jsonl"
unset LG_PROBE_SLEEP
cat "$LG_TMP"/kind.*.jsonl >"$LG_TMP/kind.all"
for who in server client; do
    n=$(jcount "$LG_TMP/kind.all" ".type == \"blocking_call\" and
        .thread == \"tmux: $who\"")
    [ "$n" -ge 1 ] || fail "kind: no record from a tmux $who"
    expect_count 0 "$LG_TMP/kind.all" ".type == \"blocking_call\" and
        .thread == \"tmux: $who\" and (.call != \"usleep\" or
        .loop.kind != \"libevent\" or .loop.via != \"entry\")" \
        "kind: the $who's records: the probe's sleep, on a libevent loop"
done
echo "ok: tmux: server and clients on libevent loops, found via entry"
