# Shared helpers for integration tests: `. tests/integration/lib.sh`.
# Each test runs programs under the preload and asserts on the JSON report.

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }

# run_lg OPTIONS SECONDS PROGRAM [ARGS...]: runs PROGRAM under the preload
# with LOOPGUARD_OPTIONS=OPTIONS, killed after SECONDS. Sets $rc. Only
# PROGRAM gets LD_PRELOAD (env sets it just before the exec), so `timeout`
# itself is not watched.
run_lg() {
    opts=$1; secs=$2; shift 2
    timeout -s KILL "$secs" \
        env LOOPGUARD_OPTIONS="$opts" LD_PRELOAD="$LG_PRELOAD" "$@"
    rc=$?
}

# jcount FILE FILTER: number of records in the JSON-lines FILE that match
# the jq boolean FILTER (0 when FILE is missing). Fails on invalid JSON.
jcount() {
    [ -s "$1" ] || { echo 0; return; }
    jq -e -s "[.[] | select($2)] | length" "$1" || fail "invalid JSON in $1"
}

# expect_count N FILE FILTER WHAT
expect_count() {
    n=$(jcount "$2" "$3")
    [ "$n" = "$1" ] || {
        echo "--- $2:"; cat "$2" 2>/dev/null
        fail "$4: expected $1 records matching $3, found $n"
    }
}

# expect_no_record WHAT FILE...: fails, showing it, at the first FILE that
# holds a record (missing and empty files hold none).
expect_no_record() {
    what=$1; shift
    for f in "$@"; do
        [ -s "$f" ] || continue
        cat "$f"
        fail "$what: expected no record, found some in $f"
    done
}

# expect_no_loop_only WHAT FILE: FILE (a JSON log of a program with no
# loop) holds one record: the exit summary saying no loop was found and
# nothing counted.
expect_no_loop_only() {
    expect_count 1 "$2" 'true' "$1: one record"
    expect_count 1 "$2" '.type == "summary" and .loops_found == 0 and
        .count == 0 and .sites_total == 0 and .not_written == 0 and
        .lost == 0 and .suppressed == []' "$1: the no-loop summary"
}

# skip_case CASE REASON: a part of this test that cannot be set up on this
# machine. The test goes on; the runner lists CASE as skipped, with REASON
# (a part that could not run is never a pass).
skip_case() {
    set -- "$1" "$(printf '%s' "$2" | tr '\n' ' ')"
    echo "skip $1: $2"
    [ -z "${LG_SKIPS:-}" ] || echo "$1: $2" >>"$LG_SKIPS"
}

# run_probed OPTIONS SECONDS PROGRAM [ARGS...]: run_lg with loop-probe.c's
# library preloaded after the detector; expect_loop_seen then checks, for a
# test that expects no record, that the detector was there and saw the
# program's loop in that same run.
run_probed() {
    LG_PROBE_OUT="$LG_TMP/probe.out"; export LG_PROBE_OUT
    rm -f "$LG_PROBE_OUT"
    probe_saved=$LG_PRELOAD
    LG_PRELOAD="$LG_PRELOAD:$BUILD/tests/libloop-probe.so"
    run_lg "$@"
    LG_PRELOAD=$probe_saved
    unset LG_PROBE_OUT
}

# expect_loop_seen WHAT: the last run_probed's program asked
# lg_thread_is_loop() in a libuv callback and was told 1.
expect_loop_seen() {
    grep -q '^loop-probe: [1-9][0-9]* of' "$LG_TMP/probe.out" 2>/dev/null ||
        fail "$1: the detector did not see the loop (probe: $(cat \
"$LG_TMP/probe.out" 2>/dev/null || echo 'no uv_close call seen')); is the \
preload loaded?"
}

# ---- programs from Debian's archive (test-compat-*, docs/compatibility.md)
# need_cmd CMD...: skips the test, with a line, when a command is missing.
need_cmd() {
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            skip "$c is not installed (make deps installs it)"
    done
}

# free_port: a TCP port on 127.0.0.1 free at the time of asking (high,
# from the kernel's ephemeral range).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_tcp PORT: waits up to 10 s for a listener on 127.0.0.1:PORT.
wait_tcp() {
    python3 - "$1" <<'PY' || fail "nothing listens on 127.0.0.1:$1 after 10 s"
import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

# start_bg NAME MODE SECONDS PROGRAM [ARGS...]: starts PROGRAM in the
# background, its stdout and stderr in $LG_TMP/NAME.out, killed after
# SECONDS. MODE `native`: as it is; else MODE is LOOPGUARD_OPTIONS and
# PROGRAM runs under the preload, and loop-probe.c's library after it
# (send-probe lines in $LG_TMP/NAME.probe). $bg_pid is for stop_bg.
start_bg() {
    bg_name=$1; bg_mode=$2; bg_secs=$3; shift 3
    if [ "$bg_mode" = native ]; then
        timeout -s KILL "$bg_secs" "$@" >"$LG_TMP/$bg_name.out" 2>&1 &
    else
        timeout -s KILL "$bg_secs" env LG_PROBE_OUT="$LG_TMP/$bg_name.probe" \
            LOOPGUARD_OPTIONS="$bg_mode" \
            LD_PRELOAD="$LG_PRELOAD:$BUILD/tests/libloop-probe.so" \
            "$@" >"$LG_TMP/$bg_name.out" 2>&1 &
    fi
    bg_pid=$!
    echo "$bg_pid" >>"$LG_TMP/bg.pids"
    trap cleanup_bg EXIT
}

# stop_bg: SIGTERM to the program start_bg started last (timeout passes it
# on), then waits for it; sets $rc to its exit status.
stop_bg() {
    kill -TERM "$bg_pid" 2>/dev/null
    wait "$bg_pid"
    rc=$?
}

# cleanup_bg: at exit, kills what start_bg started and is still running
# (by pid: each timeout and its child).
cleanup_bg() {
    [ -f "$LG_TMP/bg.pids" ] || return 0
    while read -r p; do
        pkill -KILL -P "$p" 2>/dev/null
        kill -KILL "$p" 2>/dev/null
    done <"$LG_TMP/bg.pids"
    return 0
}

# expect_sends_on_loop WHAT PROBEFILE: the program sent from a thread the
# detector took for a loop thread (loop-probe.c's send-probe line).
expect_sends_on_loop() {
    grep -q '^send-probe: [1-9][0-9]* of' "$2" 2>/dev/null ||
        fail "$1: no send on a loop thread (probe: $(cat "$2" 2>/dev/null ||
echo 'no send seen')); is the preload loaded?"
}

# expect_known WHAT KNOWN FILE...: no blocking_call, stall, deadlock or
# lock_order_inversion record in FILEs but those the jq filter KNOWN
# matches (the ones docs/compatibility.md explains).
expect_known() {
    what=$1; known=$2; shift 2
    for f in "$@"; do
        expect_count 0 "$f" '(.type == "blocking_call" or .type == "stall" or
            .type == "deadlock" or .type == "lock_order_inversion") and
            (('"$known"') | not)' "$what: records not in docs/compatibility.md"
    done
}

# same_output WHAT FILE1 FILE2: the native and the preloaded run said the
# same.
same_output() {
    cmp -s "$2" "$3" || {
        diff "$2" "$3"; fail "$1: output differs under the preload"
    }
}
