#!/bin/sh
# redis-server (its own epoll loop, ae) under the preload with default
# options, answering redis-cli on 127.0.0.1 (docs/compatibility.md). Native
# and preloaded runs: the same replies, log messages and exit status (0 on
# SHUTDOWN NOSAVE). One record: DEBUG SLEEP's nanosleep, a real blocking
# call on the loop thread (every client waits for it), on loop kind epoll.
. tests/integration/lib.sh
need_cmd redis-server redis-cli jq python3
cmds() {
    redis-cli -p "$1" SET k1 v1
    redis-cli -p "$1" GET k1
    redis-cli -p "$1" INCRBY n 41
    redis-cli -p "$1" INCR n
    redis-cli -p "$1" RPUSH l a b c
    redis-cli -p "$1" LRANGE l 0 -1
    redis-cli -p "$1" DEBUG SLEEP 0.05
    redis-cli -p "$1" DEL k1 l
    redis-cli -p "$1" DBSIZE
    redis-cli -p "$1" SHUTDOWN NOSAVE
}
for mode in native "format=json:log=$LG_TMP/lg.%p.jsonl"; do
    tag=${mode%%=*}
    port=$(free_port)
    start_bg "redis-$tag" "$mode" 60 redis-server --port "$port" \
        --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        --loglevel warning --dir "$LG_TMP" --enable-debug-command local
    wait_tcp "$port"
    cmds "$port" >"$LG_TMP/cli-$tag" 2>&1
    wait "$bg_pid"; rc=$?
    [ "$rc" -eq 0 ] || fail "$tag: redis-server exit status $rc, expected 0"
    # Log lines begin "pid:role dd Mon yyyy hh:mm:ss.mmm": keep the rest.
    sed -E 's/^[0-9]+:[A-Z] [0-9]+ [A-Za-z]+ [0-9]+ [0-9:.]+ //
            s/pid=[0-9]+/pid=N/' "$LG_TMP/redis-$tag.out" \
        >"$LG_TMP/log-$tag"
done
same_output "redis-cli" "$LG_TMP/cli-native" "$LG_TMP/cli-format"
same_output "redis-server's log" "$LG_TMP/log-native" "$LG_TMP/log-format"
known='.type == "blocking_call" and .call == "nanosleep" and
    .loop.kind == "epoll" and .loop.via == "epoll" and
    .stack[1].symbol == "debugCommand" and
    any(.loop_stack[]; .symbol == "aeMain")'
expect_known "redis" "$known" "$LG_TMP"/lg.*.jsonl
expect_count 1 "$(ls "$LG_TMP"/lg.*.jsonl)" "$known" "redis: DEBUG SLEEP"
expect_count 1 "$(ls "$LG_TMP"/lg.*.jsonl)" '.type == "summary" and
    .loops_found >= 1 and .count == 1' "redis: the summary"
echo "ok: redis: same replies, log and exit status; one record, DEBUG SLEEP's nanosleep on its epoll loop"
