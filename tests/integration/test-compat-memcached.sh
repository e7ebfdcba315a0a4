#!/bin/sh
# memcached (libevent: a loop per worker thread, event_base_loop) under the
# preload with default options, serving 43 commands from a scripted client
# on 127.0.0.1 (docs/compatibility.md). Native and preloaded runs: the same
# replies, output and exit status (0 on SIGTERM). The preloaded run sends
# its replies from loop threads (the probe) and reports nothing; a third
# run, whose probe sleeps in its first send on a loop thread, shows the
# loop's kind: libevent, via entry.
. tests/integration/lib.sh
need_cmd memcached python3 jq
client=tests/integration/compat/memcached-client.py
for mode in native "format=json:log=$LG_TMP/lg.%p.jsonl"; do
    tag=${mode%%=*}
    port=$(free_port)
    start_bg "mc-$tag" "$mode" 60 memcached -l 127.0.0.1 -p "$port" -U 0 \
        -t 4 -u "$(id -un)"
    wait_tcp "$port"
    timeout 30 python3 "$client" "$port" >"$LG_TMP/client-$tag" ||
        fail "$tag: the client failed"
    stop_bg
    [ "$rc" -eq 0 ] || fail "$tag: memcached exit status $rc, expected 0"
done
same_output "client" "$LG_TMP/client-native" "$LG_TMP/client-format"
same_output "memcached" "$LG_TMP/mc-native.out" "$LG_TMP/mc-format.out"
expect_sends_on_loop "memcached" "$LG_TMP/mc-format.probe"
expect_no_record "memcached" "$LG_TMP"/lg.*.jsonl
echo "ok: memcached: same replies and exit status; replies sent on loop threads; no record"

port=$(free_port)
LG_PROBE_SLEEP=1; export LG_PROBE_SLEEP
start_bg mc-kind "format=json:log=$LG_TMP/kind.jsonl" 60 memcached \
    -l 127.0.0.1 -p "$port" -U 0 -t 4 -u "$(id -un)"
wait_tcp "$port"
timeout 30 python3 "$client" "$port" >/dev/null || fail "kind: the client failed"
stop_bg
unset LG_PROBE_SLEEP
expect_count 1 "$LG_TMP/kind.jsonl" '.type == "blocking_call"' "kind: records"
expect_count 1 "$LG_TMP/kind.jsonl" '.type == "blocking_call" and
    .call == "usleep" and .loop.kind == "libevent" and .loop.via == "entry"' \
    "kind: the probe's sleep, on a libevent loop"
expect_count 1 "$LG_TMP/kind.jsonl" '.type == "summary" and .loops_found >= 1' \
    "kind: the summary"
echo "ok: memcached: its loops are libevent's, found via entry"
