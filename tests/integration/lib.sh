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
