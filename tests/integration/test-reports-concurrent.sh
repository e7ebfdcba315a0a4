#!/bin/sh
# Many loop threads reporting at once: every record arrives whole, to a pipe
# (stderr) and to a file, and none is lost (max_reports=0: no cap). `make
# stress` runs it with LG_STRESS_SCALE=N: twice the threads, N times the
# reads each.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-many-loops"
[ -x "$prog" ] || fail "$prog is missing (make test-bins)"
scale=${LG_STRESS_SCALE:-1}
threads=8 reads=150
[ "$scale" -gt 1 ] && threads=16 reads=$((150 * scale))
want=$((threads * reads))

# To a pipe: each JSON record must fit in one atomic write (PIPE_BUF).
# The program's status crosses the pipeline's subshell in a file.
{ run_lg "format=json:dedupe=0:max_reports=0" $((60 * scale)) \
      "$prog" $threads $reads
  echo $rc >"$LG_TMP/rc"; } 2>&1 >/dev/null | cat > "$LG_TMP/pipe.jsonl"
[ "$(cat "$LG_TMP/rc")" = 0 ] ||
    fail "prog-many-loops (to a pipe) exited $(cat "$LG_TMP/rc")"
expect_count $want "$LG_TMP/pipe.jsonl" '.type == "blocking_call"' \
    "records through a pipe"
n=$(jq -s '[.[] | select(.type == "blocking_call") | .tid] | unique | length' \
    "$LG_TMP/pipe.jsonl")
[ "$n" -eq $threads ] || fail "expected reports from $threads threads, got $n"
echo "ok: $want whole records through a pipe"

run_lg "format=json:dedupe=0:max_reports=0:log=$LG_TMP/file.jsonl" \
    $((60 * scale)) "$prog" $threads $reads
[ "$rc" -eq 0 ] || fail "prog-many-loops exited $rc"
expect_count $want "$LG_TMP/file.jsonl" '.type == "blocking_call"' \
    "records in a file"
expect_count 1 "$LG_TMP/file.jsonl" ".type == \"summary\" and .count == $want" \
    "the summary"
echo "ok: $want whole records in a file"

# Text records too: every report starts a line with the ==PID== prefix and
# each has its hint paragraph once.
{ run_lg "dedupe=0:max_reports=0" $((60 * scale)) "$prog" $threads $reads
  echo $rc >"$LG_TMP/rc"; } 2>&1 >/dev/null | cat > "$LG_TMP/pipe.txt"
[ "$(cat "$LG_TMP/rc")" = 0 ] ||
    fail "prog-many-loops (text, to a pipe) exited $(cat "$LG_TMP/rc")"
h=$(grep -c '^==[0-9]*==loopguard: blocking receive read on' "$LG_TMP/pipe.txt")
t=$(grep -c '^  lg_chan_recv_start() (docs/migration.md).$' "$LG_TMP/pipe.txt")
[ "$h" -eq $want ] && [ "$t" -eq $want ] ||
    fail "text: $h headers and $t tails, expected $want each"
echo "ok: $want whole text records through a pipe"
