#!/bin/sh
# Every wrapped call, made by prog-calls on a libuv loop thread and off it,
# under the preload: on the loop each blocking call gives exactly one
# blocking_call record naming the call, its object, its timeout, the loop
# and the callback; off the loop, and for calls that cannot block, nothing
# at all. A few cases also run on a loop in a named thread, after a nested
# loop returned, and inside lg_loop_enter/lg_loop_leave. The program checks
# every result and errno itself (exit 0 = the preload changed nothing).
# One line per case.
. tests/integration/lib.sh
command -v jq >/dev/null 2>&1 || skip "jq not installed"
prog="$BUILD/tests/prog-calls"
[ -x "$prog" ] || fail "$prog not built (make test-bins)"

problems=""
rm -f "$LG_TMP/failed"

# run WHERE CASE: runs prog-calls under the preload (JSON; dedupe=$dedupe,
# 0 unless a case says: one record per call, not per site, so that repeated
# calls would show). Sets $log (all records of the run, in one file) and
# adds to $problems.
dedupe=0
run() {
    base="$LG_TMP/$2.$1"
    rm -f "$base".*
    run_lg "format=json:dedupe=$dedupe:log=$base.%p.jsonl" 20 \
        "$prog" "$1" "$2" >"$base.out" 2>"$base.err"
    log="$base.all"
    cat "$base".*.jsonl >"$log" 2>/dev/null
    if [ "$rc" -ne 0 ]; then
        problems="$problems
    $1: exit status $rc: $(head -c 600 "$base.err")"
    elif [ -s "$base.err" ]; then
        problems="$problems
    $1: unexpected stderr: $(head -c 600 "$base.err")"
    fi
    if ! jq -e -s . "$log" >/dev/null 2>&1; then
        problems="$problems
    $1: invalid JSON in the log: $(head -c 600 "$log")"
        log=/dev/null
    fi
}

# The checks of one blocking_call record, as jq; each yields a problem.
# shellcheck disable=SC2016
REC_CHECKS='
    def has_frame($name): [.[]?.symbol | select(. != null)]
        | any(. == $name or startswith($name + "."));
    (["type", "ts_ns", "pid", "tid", "thread", "call", "object",
      "timeout_ms", "loop", "loop_stack", "site", "stack"] - keys
     | select(length > 0) | "fields missing: \(join(", "))"),
    (select(.call != $call) | "call is \(.call | tojson), expected \($call)"),
    (if $tmo == "-" then
        select(.timeout_ms != null)
        | "timeout_ms is \(.timeout_ms | tojson), expected null"
     else
        select((.timeout_ms | type) != "number"
               or .timeout_ms < ($tmo | tonumber) / 2
               or .timeout_ms > ($tmo | tonumber))
        | "timeout_ms is \(.timeout_ms | tojson), expected \($tmo)"
          + " (from half of it)"
     end),
    (select(.loop.kind != $kind)
     | "loop.kind is \(.loop.kind | tojson), expected \($kind)"),
    (select(.loop.via != $via)
     | "loop.via is \(.loop.via | tojson), expected \($via)"),
    (select(.loop.id != $loop)
     | "loop.id is \(.loop.id | tojson), expected \($loop)"),
    (select(.stack | has_frame($frame) | not)
     | "no frame named \($frame) in stack: \([.stack[]?.symbol])"),
    (select(.loop_stack | has_frame($lframe) | not)
     | "loop_stack does not name \($lframe): \([.loop_stack[]?.symbol])"),
    (select(.thread != $thread)
     | "thread is \(.thread | tojson), expected \($thread)"),
    (select((.tid == .pid) != ($thread == "prog-calls"))
     | "tid \(.tid), pid \(.pid): wrong thread"),
    (select(.site | type != "string" or (test("^0x[0-9a-f]+$") | not))
     | "site is \(.site | tojson)"),
    (select(.object != (if $obj == "null" then null else $obj end))
     | "object is \(.object | tojson), expected \($obj)")'

# expect_one CALL TIMEOUT KIND VIA FRAME LOOP_FRAME THREAD: exactly one
# blocking_call record in $log, and it passes REC_CHECKS: FRAME in its
# stack, LOOP_FRAME in loop_stack, made by the thread named THREAD (the
# main thread is named after the program). The object and the loop it must
# name are those the program printed ("object: ...", "loop: 0x...").
expect_one() {
    obj=$(sed -n 's/^object: //p' "$base.out" | head -1)
    loop=$(sed -n 's/^loop: //p' "$base.out" | head -1)
    [ -n "$obj" ] && [ -n "$loop" ] || problems="$problems
    $where: the program printed no object or loop line"
    out=$(jq -s -r --arg call "$1" --arg tmo "$2" --arg obj "$obj" \
        --arg kind "$3" --arg via "$4" --arg frame "$5" --arg lframe "$6" \
        --arg thread "$7" --arg loop "$loop" "
        [.[] | select(.type == \"blocking_call\")] as \$r
        | if (\$r | length) != 1 then
            \"\(\$r | length) blocking_call records, expected 1\"
          else \$r[0] | $REC_CHECKS end" "$log" 2>&1)
    [ -z "$out" ] || problems="$problems
    $where: $(echo "$out" | paste -sd ';' -)"
}

# expect_none: no record of any kind in $log (no summary either: nothing
# was reported).
expect_none() {
    out=$(jq -s -r 'map(.type + " " + (.call // "")) | select(length > 0)
        | "\(length) records, expected none: \(join(", "))"' "$log" 2>&1)
    [ -z "$out" ] || problems="$problems
    $where: $out"
}

# expect_sites SYM=N...: N blocking_call records (all calls to read) whose
# stack has a frame named SYM, and no other blocking_call record.
expect_sites() {
    total=0
    for spec in "$@"; do
        sym=${spec%=*}; want=${spec#*=}
        total=$((total + want))
        n=$(jq -s --arg s "$sym" '[.[] | select(.type == "blocking_call")
            | select(.call == "read")
            | select([.stack[]?.symbol] | index($s) != null)] | length' \
            "$log")
        [ "$n" = "$want" ] || problems="$problems
    $where: $n records at $sym, expected $want"
    done
    n=$(jq -s '[.[] | select(.type == "blocking_call")] | length' "$log")
    [ "$n" = "$total" ] || problems="$problems
    $where: $n blocking_call records in all, expected $total"
}

# Cases that fail because of a known preload bug, each with its reason.
# They print XFAIL (or XPASS once fixed) and do not fail the test: remove a
# case from here when its bug is fixed.
#   dup_setfl: the fd cache is per descriptor, but O_NONBLOCK belongs to
#   the open file description; fcntl(F_SETFL) on a dup() leaves the other
#   descriptor cached as blocking, so its non-blocking read is reported.
known_bad=""

# report CASE SUMMARY: one line per case. Failures are also listed in a
# file, because the tables below are read in subshells.
report() {
    case " $known_bad " in
    *" $1 "*)
        if [ -z "$problems" ]; then
            echo "XPASS $1 ($2): remove it from known_bad"
        else
            echo "XFAIL $1 (known preload bug):$problems"
        fi ;;
    *)
        if [ -z "$problems" ]; then
            echo "PASS $1 ($2)"
        else
            echo "FAIL $1:$problems"
            echo "$1" >>"$LG_TMP/failed"
        fi ;;
    esac
    problems=""
}

# CASE CALL TIMEOUT: CALL is the name the record must carry (futex waits
# made through syscall() are named for it, with a "futex 0x..." object),
# TIMEOUT the call's real timeout in ms (- for null: the call has no
# timeout; a sleep's timeout is its duration). timeout_ms must lie within
# half of it and never above it: an absolute deadline is read just before
# the call, so a little time may pass before the wrapper sees it.
positive='
cond_wait            pthread_cond_wait       -
cond_wait_225        pthread_cond_wait       -
cond_timedwait       pthread_cond_timedwait  50
cond_timedwait_225   pthread_cond_timedwait  50
cond_timedwait_mono  pthread_cond_timedwait  50
cond_clockwait       pthread_cond_clockwait  50
cnd_wait             cnd_wait                -
cnd_timedwait        cnd_timedwait           50
uv_cond_wait         pthread_cond_wait       -
uv_cond_timedwait    pthread_cond_timedwait  50
uv_sem_wait          sem_wait                -
sem_wait             sem_wait                -
sem_timedwait        sem_timedwait           50
sem_clockwait        sem_clockwait           50
read_pipe            read                    -
read_chk             __read_chk              -
readv_pipe           readv                   -
read_eventfd         read                    -
recv_sock            recv                    -
recvfrom_sock        recvfrom                -
recvmsg_sock         recvmsg                 -
recvmsg_netlink      recvmsg                 -
recvmmsg_sock        recvmmsg                -
recv_chk             __recv_chk              -
recvfrom_chk         __recvfrom_chk          -
mq_receive           mq_receive              -
mq_timedreceive      mq_timedreceive         50
msgrcv               msgrcv                  -
futex_wait           syscall                 -
futex_wait_timed     syscall                 50
futex_wait_realtime  syscall                 50
futex_wait_rel       syscall                 50
join                 pthread_join            -
timedjoin            pthread_timedjoin_np    50
clockjoin            pthread_clockjoin_np    50
thrd_join            thrd_join               -
waitpid              waitpid                 -
wait_any             wait                    -
wait4                wait4                   -
waitid               waitid                  -
system               system                  -
sleep                sleep                   1000
usleep               usleep                  20
nanosleep            nanosleep               20
clock_nanosleep      clock_nanosleep         20
clock_nanosleep_abs  clock_nanosleep         20
thrd_sleep           thrd_sleep              20
poll                 poll                    500
poll_chk             __poll_chk              500
ppoll                ppoll                   500
ppoll_chk            __ppoll_chk             500
select               select                  500
pselect              pselect                 500
epoll_wait           epoll_wait              500
epoll_pwait          epoll_pwait             500
epoll_pwait2         epoll_pwait2            500
'

negative='read_nonblock recv_dontwait recv_nonblock read_file read_devnull
msgrcv_nowait mq_nonblock nanosleep_zero sleeps_zero clock_nanosleep_past
cond_timedwait_past sem_timedwait_past futex_wake cond_timedwait_mono_past
read_eventfd_nonblock recvmsg_dontwait recvmmsg_dontwait futex_wait_past
recvmsg_netlink_answer
poll_zero select_zero epoll_wait_zero waitpid_wnohang waitpid_ready
wait_nochild'

# CASE SITE=N...: reports expected per call site on the loop (the fd cache
# must follow fcntl, ioctl(FIONBIO), dup2, dup3, close, close_range, and
# O_NONBLOCK set through a dup(); two_callers: a helper's read from two
# callers).
sites='
fcntl_toggle    site_prime_read=1 site_nonblock_read=0 site_blocking_read=1
fcntl64_toggle  site_prime_read=1 site_nonblock_read=0 site_blocking_read=1
fionbio_toggle  site_prime_read=1 site_nonblock_read=0 site_blocking_read=1
dup2_over       site_prime_read=1 site_dup_read=0
dup3_over       site_prime_read=1 site_dup_read=0
close_reuse     site_nonblock_read=0 site_reuse_read=1
close_range_reuse site_nonblock_read=0 site_reuse_read=1
dup_setfl       site_prime_read=2 site_nonblock_read=0
two_callers     site_caller_a=2 site_caller_b=2
'

echo "$positive" | while read -r name call tmo; do
    [ -n "$name" ] || continue
    where=loop; run loop "$name"
    expect_one "$call" "$tmo" libuv entry on_loop_timer main prog-calls
    where=off; run off "$name"
    expect_none
    report "$name" "loop: 1 record, off: none"
done

for name in $negative; do
    for where in loop off; do
        run "$where" "$name"
        expect_none
    done
    report "$name" "loop and off: none"
done

echo "$sites" | while read -r name specs; do
    [ -n "$name" ] || continue
    where=loop; run loop "$name"
    # shellcheck disable=SC2086
    expect_sites $specs
    where=off; run off "$name"
    expect_none
    report "$name" "loop: $specs; off: none"
done

# Dedupe on (the default): a site is the call plus its whole stack. One
# read in one helper, reached from two callers twice each: two records,
# one per caller (hashing the innermost frames only would give one).
dedupe=1; where=loop; run loop two_callers
expect_sites site_caller_a=1 site_caller_b=1
dedupe=0
report "dedupe:two_callers" "loop, dedupe=1: one record per caller"

# Other ways to be on a loop: a loop in a thread of its own; the outer
# loop, after a loop nested in its callback returned (the outer runs with
# UV_RUN_NOWAIT, the inner with UV_RUN_ONCE); lg_loop_enter/lg_loop_leave.
for name in cond_wait cond_timedwait read_pipe futex_wait nanosleep; do
    # shellcheck disable=SC2046
    set -- $(echo "$positive" | grep "^$name ")
    where=thread; run thread "$name"
    expect_one "$2" "$3" libuv entry on_loop_timer loop_thread_main \
        lg-loop-thr
    where=nested; run nested "$name"
    expect_one "$2" "$3" libuv entry on_nested_timer main prog-calls
    where=manual; run manual "$name"
    expect_one "$2" "$3" manual api run_manual run_manual prog-calls
    report "modes:$name" "thread, nested, manual: 1 record each"
done

if [ -s "$LG_TMP/failed" ]; then
    fail "$(wc -l <"$LG_TMP/failed") cases failed: $(tr '\n' ' ' \
        <"$LG_TMP/failed")"
fi
echo "no unexpected failures"
