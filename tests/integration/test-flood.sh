#!/bin/sh
# Floods stay bounded and the totals stay true: max_reports, the site table
# and the key set past it. prog-flood blocks on its libuv loop thread from
# SITES distinct stacks, PASSES times over.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-flood"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"
table=4096                    # MAX_SITES in src/report.c
# No watchdog: a flood's one callback, slowed past stall_ms on a busy
# machine, would add stall records to the counts.
json="format=json:stall_ms=0"

# expect_result OUT SITES PASSES: the program's own output, as without the
# preload: its calls made, no errno changed (exit 3), and no SIGPIPE or
# SIGXFSZ of ours reached its handlers.
expect_result() {
    [ "$rc" = 0 ] || fail "$1: prog-flood exited $rc"
    want="flood: $2 sites x $3 passes, sigpipe 0, sigxfsz 0"
    [ "$(cat "$1")" = "$want" ] ||
        fail "$1: the program printed '$(cat "$1")', not '$want'"
}

# --- 10^5 distinct stacks, twice: 1000 records, one cap line, and a
# summary whose totals are exact past the table and past the cap.
sites=100000
f="$LG_TMP/cap.jsonl"
run_lg "$json:log=$f" 120 "$prog" $sites 2 >"$LG_TMP/out"
expect_result "$LG_TMP/out" $sites 2
expect_count 1000 "$f" '.type == "blocking_call"' "cap: records written"
expect_count 1 "$f" '.type == "cap_reached" and .max_reports == 1000' \
    "cap: the cap line"
expect_count 1002 "$f" '.type != "blocking_end"' \
    "cap: records in all (1000, the cap, summary)"
# Each written record's end follows it (JSON logs, outside the cap): the
# log holds at most twice the cap, and the special ones.
expect_count 1000 "$f" '.type == "blocking_end"' "cap: an end per record"
# Each record a distinct site: dedupe past the table, under the cap.
n=$(jq -s '[.[] | select(.type == "blocking_call") | .site] | unique |
    length' "$f")
[ "$n" = 1000 ] || fail "cap: $n distinct sites among 1000 records"
# 64 sites listed, or as many as fit the record (16 KiB): each site's
# frame carries its file:line too (the symbolizer), whose path's length
# depends on where the tree is.
expect_count 1 "$f" ".type == \"summary\" and .count == $((2 * sites)) and
    .sites_total == $sites and .sites_exact == true and
    .not_written == $((sites - 1000)) and .lost == 0 and
    .unattributed.count == $((2 * (sites - table))) and
    .unattributed.blocked_ns > 0 and
    .unattributed.blocked_ns <= .blocked_ns and
    ((.sites | length) == 64 or
     ((.sites | length) >= 48 and (tostring | length) > 15000))" \
    "cap: the summary's totals"
echo "ok: 2 x $sites calls: 1000 records, one cap line, exact totals"

# Without a cap: still one record per site, through a pipe (50 MB), the
# second pass all dedupe hits. Only the counts are kept.
{ run_lg "$json:max_reports=0:max_frames=1" 120 "$prog" $sites 2 \
      >"$LG_TMP/out"
  echo $rc >"$LG_TMP/rc"; } 2>&1 | awk '
    /"type":"blocking_call"/ { n++ }
    /"type":"summary"/ { print > "'"$LG_TMP/sum.json"'" }
    END { print n + 0 }' >"$LG_TMP/n"
rc=$(cat "$LG_TMP/rc")
expect_result "$LG_TMP/out" $sites 2
[ "$(cat "$LG_TMP/n")" = $sites ] ||
    fail "no cap: $(cat "$LG_TMP/n") records for $sites sites"
expect_count 1 "$LG_TMP/sum.json" ".count == $((2 * sites)) and
    .sites_total == $sites and .sites_exact and .not_written == 0 and
    .unattributed.count == $((2 * (sites - table)))" "no cap: the summary"
echo "ok: max_reports=0: $sites records for 2 x $sites calls"

# Past the key set's bound (397,312 sites, docs/reports.md): sites_total is
# that bound and flagged; count stays exact; every call at a site the set
# could not take is counted as a record not written. Memory: the process's
# peak grows by less than the documented 5 MiB over a run with one site
# (ASan's allocator moves the peak by more than that: not checked there).
run_lg "$json:log=$LG_TMP/one.jsonl" 60 "$prog" 1 1 hwm \
    >"$LG_TMP/one.out"
[ "$rc" = 0 ] || fail "one site: prog-flood exited $rc"
f="$LG_TMP/bound.jsonl"
run_lg "$json:log=$f" 120 "$prog" 400000 1 hwm >"$LG_TMP/out"
[ "$rc" = 0 ] || fail "bound: prog-flood exited $rc"
bound=$((table + 393216))
expect_count 1 "$f" ".type == \"summary\" and .count == 400000 and
    .sites_total == $bound and .sites_exact == false and
    .not_written == $((400000 - 1000)) and
    .unattributed.count == $((400000 - table))" "bound: the summary"
echo "ok: 400000 sites: sites_total $bound, flagged as a lower bound"
case "$LG_PRELOAD" in
*libasan*) skip_case memory-bound "ASan's allocator moves the peak" ;;
*)
    one=$(sed -n 's/^hwm //p' "$LG_TMP/one.out")
    many=$(sed -n 's/^hwm //p' "$LG_TMP/out")
    [ "$one" -gt 0 ] && [ "$many" -gt 0 ] ||
        fail "bound: no peak memory read ('$one', '$many')"
    [ $((many - one)) -lt 5120 ] ||
        fail "bound: 400000 sites took $((many - one)) KiB more than one"
    echo "ok: 400000 sites: $((many - one)) KiB more than one site" ;;
esac

# Text: the cap line, once, and the summary's line for it.
run_lg "stall_ms=0:max_reports=3:max_frames=1:log=$LG_TMP/cap.txt" 60 \
    "$prog" 10 1 >"$LG_TMP/out"
expect_result "$LG_TMP/out" 10 1
t="$LG_TMP/cap.txt"
[ "$(grep -c '^==[0-9]*==loopguard: blocking receive' "$t")" = 3 ] &&
    [ "$(grep -c '^==[0-9]*==loopguard: max_reports=3 reached: no more' \
        "$t")" = 1 ] &&
    grep -q '^  7 records not written: max_reports reached$' "$t" ||
    { cat "$t"; fail "text: 3 records, one cap line, 7 not written"; }
echo "ok: text: 3 records, the cap line, 7 not written"

# The watchdog's records count too, and a summary is written with no
# blocking call: a 300 ms stall is a begin record (written) and an end
# record (kept back).
f="$LG_TMP/stall.jsonl"
run_lg "format=json:stall_ms=100:max_reports=1:log=$f" 60 \
    "$BUILD/tests/prog-watch" busy 100
[ "$rc" = 0 ] || fail "stall: prog-watch exited $rc"
expect_count 1 "$f" '.type == "stall" and .phase == "begin"' "stall: begin"
expect_count 1 "$f" '.type == "cap_reached" and .max_reports == 1' \
    "stall: the cap line"
expect_count 1 "$f" '.type == "summary" and .count == 0 and
    .not_written == 1' "stall: the summary, with no blocking call"
expect_count 3 "$f" 'true' "stall: records in all"
echo "ok: a stall's end past max_reports=1: counted in a summary"

# A deadlock is never kept back: 100 sites past max_reports=5, then the
# loop thread waits for good on a pipe only it could write (killed after
# 4 s; the deadlock is due after 200 ms).
f="$LG_TMP/hang.jsonl"
run_lg "format=json:stall_ms=200:max_reports=5:log=$f" 4 "$prog" 100 1 hang \
    >/dev/null 2>&1
[ "$rc" = 137 ] || fail "hang: expected the hang (killed, 137), got $rc"
expect_count 5 "$f" '.type == "blocking_call"' "hang: records under the cap"
expect_count 1 "$f" '.type == "deadlock" and .threads_total == 1 and
    .threads[0].call == "read"' "hang: the deadlock, past the cap"
echo "ok: a deadlock past max_reports is written"

echo "ok: flood"
