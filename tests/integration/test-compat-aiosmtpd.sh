#!/bin/sh
# aiosmtpd (python3-aiosmtpd: an asyncio SMTP server, run_forever on the
# main thread of Debian's python3) under the preload with default options,
# taking 20 messages from smtplib on 127.0.0.1 (docs/compatibility.md).
# Native and preloaded runs: the same replies, output and exit status
# (0: SIGINT stops its loop, loop.add_signal_handler). The preloaded run sends its
# replies from the loop thread (the probe) and reports nothing; a third
# run, whose probe sleeps in its first send on a loop thread, shows the
# loop's kind (asyncio) and the Python frames of the send.
. tests/integration/lib.sh
need_cmd jq
py=/usr/bin/python3
[ -x "$py" ] || skip "Debian's python3 is not installed (make deps)"
"$py" -c 'import aiosmtpd' 2>/dev/null ||
    skip "python3-aiosmtpd is not installed (make deps installs it)"
client=tests/integration/compat/smtp-client.py
server() {
    start_bg "$1" "$2" 60 "$py" -m aiosmtpd -n -l "127.0.0.1:$port" \
        -c aiosmtpd.handlers.Sink
    wait_tcp "$port"
}
# stop_int: SIGINT to the server (start_bg's timeout passes on only
# SIGTERM, which aiosmtpd does not handle: no exit, no probe line).
stop_int() {
    pkill -INT -P "$bg_pid" 2>/dev/null
    wait "$bg_pid"
    rc=$?
}
for mode in native "format=json:log=$LG_TMP/lg.%p.jsonl"; do
    tag=${mode%%=*}
    port=$(free_port)
    server "smtp-$tag" "$mode"
    timeout 30 "$py" "$client" "$port" >"$LG_TMP/client-$tag" ||
        fail "$tag: the client failed"
    stop_int
    [ "$rc" -eq 0 ] || fail "$tag: aiosmtpd exit status $rc, expected 0"
done
same_output "client" "$LG_TMP/client-native" "$LG_TMP/client-format"
same_output "aiosmtpd" "$LG_TMP/smtp-native.out" "$LG_TMP/smtp-format.out"
expect_sends_on_loop "aiosmtpd" "$LG_TMP/smtp-format.probe"
expect_no_record "aiosmtpd" "$LG_TMP"/lg.*.jsonl
echo "ok: aiosmtpd: same replies and exit status; replies sent on the loop thread; no record"

port=$(free_port)
LG_PROBE_SLEEP=1; export LG_PROBE_SLEEP
server smtp-kind "format=json:log=$LG_TMP/kind.jsonl"
timeout 30 "$py" "$client" "$port" >/dev/null || fail "kind: the client failed"
stop_int
unset LG_PROBE_SLEEP
expect_count 1 "$LG_TMP/kind.jsonl" '.type == "blocking_call"' "kind: records"
expect_count 1 "$LG_TMP/kind.jsonl" '.type == "blocking_call" and
    .call == "usleep" and .loop.kind == "asyncio" and
    any(.stack[]; .python == true and (.file | endswith("/selector_events.py")))' \
    "kind: the probe's sleep, on an asyncio loop, under asyncio's transport"
echo "ok: aiosmtpd: its loop is asyncio's, with Python frames"
