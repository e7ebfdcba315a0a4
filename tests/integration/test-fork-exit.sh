#!/bin/sh
# The preload inside a process's life: fork from a loop callback (the child
# reads and exits cleanly: it runs no loop, so nothing is reported), a fork
# child that goes back to its loop (reported once it runs it), 200
# short-lived loop threads, and a flood of 10^6 reports from one call site
# with bounded memory.
. tests/integration/lib.sh
command -v jq >/dev/null 2>&1 || skip "jq not installed"
prog="$BUILD/tests/prog-fork"
[ -x "$prog" ] || fail "$prog not built (make test-bins)"

nfail=0
bad() { echo "FAIL $*"; nfail=$((nfail + 1)); }
# add WORDS...: notes one problem of the current check.
add() { problems="${problems:+$problems; }$*"; }

# valid_lines FILE...: every line is one whole JSON object (a torn or
# interleaved write would show here). Prints the bad lines.
valid_lines() {
    jq -R -r '. as $l | try (fromjson | if type == "object" then empty
        else "not an object: \($l[0:200])" end)
        catch "invalid JSON: \($l[0:200])"' "$@" 2>&1
}

# site_of FILE SYMBOL: the site of the blocking_call records whose stack
# names SYMBOL (one line per record).
site_of() {
    jq -r --arg s "$2" 'select(.type == "blocking_call")
        | select([.stack[]?.symbol] | index($s) != null) | .site' "$1"
}

# summary_count FILE SITE: the count the summary gives for SITE (0: none).
summary_count() {
    jq -s --arg site "$2" '[.[] | select(.type == "summary") | ..
        | objects | select(.site? == $site) | .count] | add // 0' "$1"
}

# ---- (a) fork from a loop callback ---------------------------------------
run_lg "format=json:log=$LG_TMP/fork.%p.jsonl" 30 "$prog" fork \
    >"$LG_TMP/fork.out" 2>"$LG_TMP/fork.err"
problems=""
[ "$rc" -eq 0 ] || add "exit status $rc: $(head -c 800 "$LG_TMP/fork.err")"
pid=$(sed -n 's/^pid //p' "$LG_TMP/fork.out")
nlogs=0
for f in "$LG_TMP"/fork.*.jsonl; do
    [ -e "$f" ] || continue
    nlogs=$((nlogs + 1))
    out=$(valid_lines "$f")
    [ -z "$out" ] || add "$(basename "$f"): $out"
done
parent="$LG_TMP/fork.$pid.jsonl"
if [ -z "$pid" ] || [ ! -s "$parent" ]; then
    add "no log from the parent (pid '$pid')"
elif [ -z "$problems" ]; then
    # The second loop thread read at one site all along: deduplicated.
    n=$(site_of "$parent" site_busy_read | wc -l)
    [ "$n" -eq 1 ] || add "parent: $n records at" \
        "site_busy_read, expected 1"
    # A child reads in the callback its parent's loop ran, then exits:
    # no loop of its own waits for it.
    n=$(cat "$LG_TMP"/fork.*.jsonl | site_of /dev/stdin site_child_read |
        wc -l)
    [ "$n" -eq 0 ] || add "$n records at site_child_read, which only" \
        "children reach, on no loop they run"
fi
if [ -z "$problems" ]; then
    echo "PASS fork: $(head -1 "$LG_TMP/fork.out"), $nlogs logs," \
        "$((nlogs - 1)) from children"
else
    bad "fork: $problems"
fi

# ---- (a2) a fork child back on its loop -----------------------------------
run_lg "format=json:log=$LG_TMP/resume.%p.jsonl" 30 "$prog" resume \
    >"$LG_TMP/resume.out" 2>"$LG_TMP/resume.err"
problems=""
[ "$rc" -eq 0 ] || add "exit status $rc: $(head -c 800 "$LG_TMP/resume.err")"
child=$(sed -n 's/^child //p' "$LG_TMP/resume.out")
log="$LG_TMP/resume.$child.jsonl"
if [ -z "$child" ] || [ ! -s "$log" ]; then
    add "no log from the child (pid '$child')"
else
    out=$(valid_lines "$LG_TMP"/resume.*.jsonl)
    [ -z "$out" ] || add "$out"
    n=$(site_of "$log" site_child_read | wc -l)
    [ "$n" -eq 0 ] || add "child: $n records at site_child_read, made" \
        "before it ran its loop again"
    n=$(site_of "$log" site_resume_read | wc -l)
    [ "$n" -eq 1 ] || add "child: $n records at site_resume_read, made" \
        "on the loop it runs again, expected 1"
    n=$(site_of "$log" site_parent_read | wc -l)
    [ "$n" -eq 0 ] || add "child: $n records at site_parent_read," \
        "its parent's, made before the fork"
    psite=$(cat "$LG_TMP"/resume.*.jsonl | site_of /dev/stdin site_parent_read)
    [ "$(echo "$psite" | grep -c .)" -eq 1 ] || add "site_parent_read:" \
        "records '$psite', expected one, in the parent"
    c=$(summary_count "$log" "$psite")
    [ "$c" = 0 ] || add "the child's summary counts its parent's site" \
        "($c calls)"
    n=$(cat "$LG_TMP"/resume.*.jsonl | jq -s '[.[] |
        select(.type == "blocking_call")] | length')
    [ "$n" -eq 2 ] || add "$n blocking_call records in all, expected 2"
fi
if [ -z "$problems" ]; then
    echo "PASS resume: the child's read on its own loop reported, not the one before"
else
    bad "resume: $problems"
fi

# ---- (b) 200 threads, each running a loop of its own ---------------------
run_lg "format=json:log=$LG_TMP/threads.%p.jsonl" 30 "$prog" threads \
    >"$LG_TMP/threads.out" 2>"$LG_TMP/threads.err"
problems=""
[ "$rc" -eq 0 ] || add "exit status $rc: $(head -c 800 "$LG_TMP/threads.err")"
log="$LG_TMP/threads.all"
cat "$LG_TMP"/threads.*.jsonl >"$log" 2>/dev/null
out=$(valid_lines "$log")
[ -z "$out" ] || add "$out"
if [ -z "$problems" ]; then
    # One call site reached from 200 threads: one report, counted 200
    # times.
    sites=$(site_of "$log" site_thread_read)
    n=$(echo "$sites" | grep -c .)
    if [ "$n" -ne 1 ]; then
        add "$n records at site_thread_read, expected 1"
    else
        c=$(summary_count "$log" "$sites")
        [ "$c" = 200 ] || add "summary counts $c calls" \
            "at site $sites, expected 200"
    fi
fi
if [ -z "$problems" ]; then
    echo "PASS threads: $(head -1 "$LG_TMP/threads.out"), 1 record, 200 calls"
else
    bad "threads: $problems"
fi

# ---- (c) a flood of 10^6 reports from one site ---------------------------
start=$(date +%s)
run_lg "format=json:log=$LG_TMP/flood.%p.jsonl" 60 "$prog" flood \
    >"$LG_TMP/flood.out" 2>"$LG_TMP/flood.err"
secs=$(($(date +%s) - start))
problems=""
[ "$rc" -eq 0 ] || add "exit status $rc: $(head -c 800 "$LG_TMP/flood.err")"
log="$LG_TMP/flood.all"
cat "$LG_TMP"/flood.*.jsonl >"$log" 2>/dev/null
out=$(valid_lines "$log")
[ -z "$out" ] || add "$out"
before=$(sed -n 's/^vmhwm_before_kb //p' "$LG_TMP/flood.out")
after=$(sed -n 's/^vmhwm_after_kb //p' "$LG_TMP/flood.out")
if [ -z "$problems" ]; then
    sites=$(site_of "$log" site_flood_read)
    n=$(echo "$sites" | grep -c .)
    if [ "$n" -ne 1 ]; then
        add "$n records at site_flood_read, expected 1"
    else
        c=$(summary_count "$log" "$sites")
        [ "$c" = 1000000 ] || add "summary counts $c" \
            "calls at site $sites, expected 1000000"
    fi
    n=$(jq -s '[.[] | select(.type == "blocking_call")] | length' "$log")
    [ "$n" -eq 2 ] || add "$n blocking_call records," \
        "expected 2 (warm-up and flood)"
    if [ -z "$before" ] || [ -z "$after" ] || [ "$before" -le 0 ]; then
        add "no VmHWM figures: $(cat "$LG_TMP/flood.out")"
    elif [ $((after - before)) -ge 8192 ]; then
        add "peak RSS grew by $((after - before)) kB" \
            "during the flood ($before -> $after), limit 8192"
    fi
fi
if [ -z "$problems" ]; then
    echo "PASS flood: 10^6 calls, 1 record, summary count 1000000," \
        "VmHWM $before -> $after kB, ${secs}s"
else
    bad "flood: $problems"
fi

[ "$nfail" -eq 0 ] || fail "$nfail of 4 fork/exit checks failed"
echo "fork/exit: all checks passed"
