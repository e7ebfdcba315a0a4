#!/bin/sh
# dnsmasq (a poll() loop, found by its behaviour: kind poll) answering dig
# on 127.0.0.1, under the preload with default options
# (docs/compatibility.md). Native and preloaded runs: the same answers,
# dnsmasq's output and exit status (0 on SIGTERM). dig (bind9's, on
# libuv and jemalloc) is the client, natively; then, in its own case, 20
# dig queries under the preload to a native dnsmasq.
#   debug     --no-daemon: 5 UDP queries report nothing; a TCP query, which
#             debug mode serves in the loop's own process, reports its
#             blocking reads of the TCP connection (real: a client that
#             sends nothing stalls every query). Its recvmsg of the kernel's
#             answer to its own netlink address dump, queued before the
#             request's send returned, is not reported (it never waits).
#   foreground --keep-in-foreground: TCP queries served by a fork child
#             between UDP ones. dnsmasq closes every descriptor at start-up,
#             libunwind's pipe included: before the fix in stack.c, a
#             report's stack capture then read the netlink socket that took
#             the pipe's number, and dnsmasq hung (the UDP query timed out).
#             The child's reads are not reported (it runs no loop: its
#             parent does); the parent's reads of the pipe from the child
#             (cache updates, read to the end however slowly the child
#             writes) are, and are real.
. tests/integration/lib.sh
need_cmd dnsmasq dig jq python3
case "$LG_PRELOAD" in *libasan*)
    skip "dnsmasq with ASan's runtime preloaded (libasan alone, no detector) hangs at start-up in a futex wait" ;;
esac

# serve TAG MODE FLAGS: dnsmasq with FLAGS, queried by dig; answers in
# $LG_TMP/dig-TAG.
serve() {
    port=$(free_port)
    start_bg "dnsmasq-$1" "$2" 60 dnsmasq $3 --port="$port" \
        --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
        --address=/test/127.0.0.1 --user="$(id -un)" --pid-file=
    wait_tcp "$port"
    for q in a b c d e "+tcp f" g "+tcp h" i; do
        timeout 20 dig @127.0.0.1 -p "$port" +short +tries=1 +time=5 $q.test
    done >"$LG_TMP/dig-$1" 2>&1
    stop_bg
    [ "$rc" -eq 0 ] || fail "$1: dnsmasq exit status $rc, expected 0"
}
lg="format=json:log=$LG_TMP/lg.%p.jsonl"
serve debug-native native --no-daemon
serve debug-lg "$lg" --no-daemon
same_output "debug: dig" "$LG_TMP/dig-debug-native" "$LG_TMP/dig-debug-lg"
same_output "debug: dnsmasq" "$LG_TMP/dnsmasq-debug-native.out" \
    "$LG_TMP/dnsmasq-debug-lg.out"
[ "$(grep -c '^127.0.0.1$' "$LG_TMP/dig-debug-lg")" = 9 ] ||
    fail "debug: expected 9 answers"
known='.type == "blocking_call" and .loop.kind == "poll" and
    .loop.via == "poll" and .call == "read" and
    (.object | test("\\(socket\\)$"))'
f=$(ls "$LG_TMP"/lg.*.jsonl)
expect_known "debug" "$known" $f
expect_count 1 "$f" '.type == "summary" and .loops_found == 1' \
    "debug: the summary: dnsmasq's poll loop found"
expect_sends_on_loop "debug: dnsmasq" "$LG_TMP/dnsmasq-debug-lg.probe"
[ "$(jcount "$f" '.type == "blocking_call"')" -ge 1 ] ||
    fail "debug: the TCP query's reads were not reported"
echo "ok: debug: same answers, output and exit status; only the TCP query's reads reported"

# dig under the preload (bind9's netmgr threads on libuv, jemalloc as its
# malloc), 20 queries to a native dnsmasq: each answered, nothing reported.
# Before lg__stack_warm about one run in ten hung for good: a thread's
# first lock-order capture, made under a jemalloc mutex, ran libunwind for
# the first time on that thread, whose thread-local storage malloc made:
# jemalloc waited for the mutex its own thread held.
port=$(free_port)
start_bg dnsmasq-dig native 60 dnsmasq --no-daemon --port="$port" \
    --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
    --address=/test/127.0.0.1 --user="$(id -un)" --pid-file=
wait_tcp "$port"
for i in $(seq 1 20); do
    run_lg "format=json:log=$LG_TMP/dig.%p.jsonl" 10 \
        dig @127.0.0.1 -p "$port" +short +tries=1 +time=5 "q$i.test" \
        >"$LG_TMP/dig.out" 2>&1
    [ "$rc" -ne 137 ] || fail "dig: query $i hung under the preload (killed)"
    [ "$rc" -eq 0 ] && [ "$(cat "$LG_TMP/dig.out")" = 127.0.0.1 ] ||
        { cat "$LG_TMP/dig.out"; fail "dig: query $i: exit $rc"; }
done
stop_bg
for f in "$LG_TMP"/dig.*.jsonl; do
    [ -e "$f" ] || continue
    expect_count 0 "$f" '.type != "summary"' "dig: records"
done
echo "ok: dig: 20 queries under the preload answered, none hung, nothing reported"

rm -f "$LG_TMP"/lg.*.jsonl
serve fg-lg "$lg" --keep-in-foreground
[ "$(grep -c '^127.0.0.1$' "$LG_TMP/dig-fg-lg")" = 9 ] || {
    cat "$LG_TMP/dig-fg-lg"; fail "foreground: expected 9 answers"
}
set -- "$LG_TMP"/lg.*.jsonl
[ $# -eq 1 ] || fail "foreground: $# logs, expected the parent's only (its fork children report nothing)"
known='.type == "blocking_call" and .loop.kind == "poll" and
    .call == "read" and (.object | test("\\(pipe\\)$"))'
expect_known "foreground" "$known" "$1"
expect_count 1 "$1" '.type == "summary" and .loops_found == 1' \
    "foreground: the summary"
echo "ok: foreground: every query answered, exit status 0; only the parent's reads of its children's pipes reported"
