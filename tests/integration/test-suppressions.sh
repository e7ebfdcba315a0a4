#!/bin/sh
# Suppressions files (issue 14, part 1): each kind of rule (call:, caller:,
# function:, module:) suppresses its real blocking call on a libuv loop
# while the unsuppressed call of the same run is still reported; rules
# limited to stalls, deadlocks and lock-order inversions suppress those and
# nothing else; the summary counts what each rule suppressed (and is
# written when only that happened); suppressed calls are no violations;
# demangled C++ names; bad lines and unreadable files give FILE:LINE
# messages, the preload going on, the launcher exiting 2 before the
# program starts; two files.
. tests/integration/lib.sh

prog="$BUILD/tests/prog-supp"
LG="$BUILD/loopguard"
for f in "$prog" "$BUILD/tests/prog-locks" "$BUILD/tests/prog-watch" \
    "$BUILD/tests/prog-cxx-uv" "$LG"; do
    [ -x "$f" ] || fail "$f is missing (make test-bins)"
done
err="$LG_TMP/err"
SITES="site_sleep site_caller_read allowed_outer supp_mod_read site_reported"

# log NAME: the log of the run that wrote $LG_TMP/NAME.PID.jsonl.
log() {
    set -- "$LG_TMP/$1".*.jsonl
    [ -e "$1" ] || fail "no log $1"
    echo "$1"
}

# calls NAME OPTIONS [ARG]: runs prog-supp calls under the preload with
# OPTIONS, JSON to the log NAME; stderr in $err. Must exit with $want.
want=0
calls() {
    run_lg "format=json:log=$LG_TMP/$1.%p.jsonl:$2" 60 "$prog" calls \
        ${3:-} 2>"$err"
    [ "$rc" = "$want" ] || { cat "$err"; fail "$1: exit status $rc"; }
    f=$(log "$1")
}

# reported SYMBOL: the count of blocking_call records with SYMBOL in the
# stack, in $f.
reported() {
    jcount "$f" ".type == \"blocking_call\" and
        any(.stack[]; .symbol == \"$1\")"
}

# --- Control: without rules, every site is reported (3 calls each).
calls none ""
for s in $SITES; do
    [ "$(reported $s)" = 1 ] || { cat "$f"; fail "control: $s not reported"; }
done
expect_count 1 "$f" '.type == "summary" and .count == 15 and
    .sites_total == 5 and .suppressed == []' "control: the summary"
echo "ok: control, all five sites reported"

# --- One rule of each kind, one site each; site_reported stays.
supp="$LG_TMP/kinds.supp"
cat >"$supp" <<'EOF'
# prog-supp's accepted blocking
call:nanosleep

caller:site_caller_*
   function:allowed_outer
module:*/libsupp-mod.so
EOF
want=42
calls kinds "exitcode=42:suppressions=$supp"
want=0
for s in site_sleep site_caller_read allowed_outer supp_mod_read; do
    [ "$(reported $s)" = 0 ] || { cat "$f"; fail "kinds: $s reported"; }
done
expect_count 1 "$f" '.type == "blocking_call"' "kinds: one record"
expect_count 1 "$f" '.type == "blocking_call" and .call == "usleep" and
    any(.stack[]; .symbol == "site_reported")' "kinds: usleep still reported"
expect_count 1 "$f" ".type == \"summary\" and .count == 3 and
    .sites_total == 1 and .sites[0].call == \"usleep\" and .suppressed == [
    {rule: \"call:nanosleep\", file: \"$supp\", line: 2, count: 3},
    {rule: \"caller:site_caller_*\", file: \"$supp\", line: 4, count: 3},
    {rule: \"function:allowed_outer\", file: \"$supp\", line: 5, count: 3},
    {rule: \"module:*/libsupp-mod.so\", file: \"$supp\", line: 6,
     count: 3}]" "kinds: the summary counts each rule's calls"
[ ! -s "$err" ] || { cat "$err"; fail "kinds: messages on stderr"; }
echo "ok: call:, caller:, function:, module: each suppress their site"

# The same with dedupe=0: the verdict is the site's, for every call.
calls nodedupe "dedupe=0:suppressions=$supp"
expect_count 3 "$f" '.type == "blocking_call"' "dedupe=0: usleep thrice"
expect_count 3 "$f" '.type == "blocking_call" and .call == "usleep"' \
    "dedupe=0: only usleep"
expect_count 1 "$f" '.type == "summary" and
    ([.suppressed[].count] == [3, 3, 3, 3])' "dedupe=0: the counts"
echo "ok: dedupe=0 keeps the site's verdict"

# caller: is the first frame outside the runtime only; function: any.
printf 'caller:on_tick\n' >"$LG_TMP/caller.supp"
calls caller "suppressions=$LG_TMP/caller.supp"
expect_count 5 "$f" '.type == "blocking_call"' "caller:on_tick: nothing"
expect_count 1 "$f" '.type == "summary" and .suppressed == []' \
    "caller:on_tick: no rule used"
printf 'function:on_tick\n' >"$LG_TMP/func.supp"
calls func "suppressions=$LG_TMP/func.supp"
expect_count 0 "$f" '.type == "blocking_call"' "function:on_tick: all"
expect_count 1 "$f" '.type == "summary" and .count == 0 and
    .suppressed[0].count == 15' "function:on_tick: 15 calls"
echo "ok: caller: is the site, function: any frame"

# --- Everything suppressed: no violation for exitcode, and the summary
# is written all the same; in text, a line per rule.
calls all "exitcode=42:suppressions=$supp" all
expect_count 0 "$f" '.type == "blocking_call"' "all: no record"
expect_count 1 "$f" '.type == "summary" and .count == 0 and
    .sites_total == 0 and (.suppressed | length) == 4' \
    "all: a summary of what was suppressed"
run_lg "log=$LG_TMP/text.%p.log:suppressions=$supp" 60 "$prog" calls all
[ "$rc" = 0 ] || fail "text: exit status $rc"
t=$(echo "$LG_TMP"/text.*.log)
grep -qxF "    3 x suppressed by call:nanosleep ($supp:2)" "$t" &&
    grep -qxF "    3 x suppressed by module:*/libsupp-mod.so ($supp:6)" \
        "$t" || { cat "$t"; fail "text: the rules' lines"; }
echo "ok: all suppressed: exit 0 under exitcode, the summary says why"

# --- Demangled C++ names: a function: and a caller: rule.
printf '%s\n' 'function:(anonymous namespace)::Waiter::take()*' \
    'caller:napper::nap()' >"$LG_TMP/cxx.supp"
run_lg "format=json:log=$LG_TMP/cxx.%p.jsonl:suppressions=$LG_TMP/cxx.supp" \
    60 "$BUILD/tests/prog-cxx-uv" >/dev/null
[ "$rc" = 0 ] || fail "cxx: exit status $rc"
f=$(log cxx)
expect_count 0 "$f" '.type == "blocking_call"' "cxx: both suppressed"
expect_count 1 "$f" '.type == "summary" and
    ([.suppressed[].count] == [1, 1])' "cxx: each rule once"
echo "ok: C++ names are matched demangled"

# --- A rule limited to stalls: the stall goes, the blocking call stays;
# an unlimited rule on the same function does the opposite. Each file also
# has a rule of the other type for a function never called, so that both
# types have stack rules to (wrongly) try.
MS=200
# stall NAME RULE...: prog-supp stall under these rules; $f is its log.
stall() {
    name=$1
    shift
    printf '%s\n' "$@" >"$LG_TMP/$name.supp"
    set -- "$name"
    run_lg "format=json:stall_ms=$MS:log=$LG_TMP/$1.%p.jsonl:$(
        )suppressions=$LG_TMP/$1.supp" 60 "$prog" stall $MS
    [ "$rc" = 0 ] || fail "$1: exit status $rc"
    f=$(log "$1")
}
stall stallnone "# nothing"
expect_count 1 "$f" '.type == "blocking_call" and .call == "nanosleep"' \
    "stall control: the call"
expect_count 1 "$f" '.type == "stall" and .phase == "begin" and
    any(.stack[]; .symbol == "stall_site")' "stall control: the stall"
stall stallonly "stall:function:stall_site" "function:not_called"
expect_count 1 "$f" '.type == "blocking_call" and .call == "nanosleep"' \
    "stall: rule: the blocking call is still reported"
expect_count 0 "$f" '.type == "stall"' "stall: rule: no stall, begin or end"
expect_count 1 "$f" '.type == "summary" and .count == 1 and
    .suppressed == [{rule: "stall:function:stall_site",
                     file: "'"$LG_TMP/stallonly.supp"'", line: 1,
                     count: 1}]' "stall: rule: counted"
stall callonly "function:stall_site" "stall:function:not_called"
expect_count 0 "$f" '.type == "blocking_call"' "function: rule: no call"
expect_count 2 "$f" '.type == "stall"' "function: rule: the stall stays"
# call: is decided before a stack is captured: the stall has none.
stall callrule "call:nanosleep" "stall:function:not_called"
expect_count 0 "$f" '.type == "blocking_call"' "call: rule: no call"
expect_count 1 "$f" '.type == "stall" and .phase == "begin" and
    .call == "nanosleep" and .stack == []' "call: rule: a stall, stackless"
echo "ok: stall:function: suppresses the stall only, function: the call"

# --- Lock-order inversions and deadlocks.
printf 'lock_order_inversion:function:b_then_a\n' >"$LG_TMP/lo.supp"
run_lg "format=json:log=$LG_TMP/lo.%p.jsonl:suppressions=$LG_TMP/lo.supp" \
    60 "$BUILD/tests/prog-locks" abba >/dev/null
[ "$rc" = 0 ] || fail "lock order: exit status $rc"
f=$(log lo)
expect_count 0 "$f" '.type == "lock_order_inversion"' "lock order: none"
expect_count 1 "$f" '.type == "summary" and .suppressed[0].count == 1' \
    "lock order: counted"
printf 'function:b_then_a\n' >"$LG_TMP/lo2.supp"
run_lg "format=json:log=$LG_TMP/lo2.%p.jsonl:suppressions=$LG_TMP/lo2.supp" \
    60 "$BUILD/tests/prog-locks" abba >/dev/null
expect_count 1 "$(log lo2)" '.type == "lock_order_inversion"' \
    "lock order: a blocking_call rule leaves it"
# mode=abort: a deadlock reported aborts; suppressed, it hangs on.
W=300
run_lg "format=json:stall_ms=$W:mode=abort:log=$LG_TMP/dl.%p.jsonl" 10 \
    "$BUILD/tests/prog-watch" join-cycle $W
[ "$rc" = 134 ] || fail "deadlock control: expected SIGABRT, got $rc"
expect_count 1 "$(log dl)" '.type == "deadlock"' "deadlock control"
printf 'deadlock:caller:forever\n' >"$LG_TMP/dl.supp"
run_lg "format=json:stall_ms=$W:mode=abort:log=$LG_TMP/dl2.%p.jsonl:$(
    )suppressions=$LG_TMP/dl.supp" 3 "$BUILD/tests/prog-watch" join-cycle $W
[ "$rc" = 137 ] || fail "deadlock: suppressed, it should hang: status $rc"
expect_no_record "deadlock: suppressed" "$LG_TMP"/dl2.*.jsonl
echo "ok: lock_order_inversion: and deadlock: rules"

# --- Bad lines: the preload says FILE:LINE, skips them and goes on.
bad="$LG_TMP/bad.supp"
printf '%s\n' 'call:nanosleep' 'fuction:site_sleep' '' 'caller:' \
    'stall:busy' >"$bad"
calls bad "suppressions=$bad"
for m in "loopguard: $bad:2: unknown kind 'fuction'" \
    "loopguard: $bad:4: empty pattern in 'caller:'; line ignored" \
    "loopguard: $bad:5: expected TYPE:KIND:PATTERN, found 'stall:busy'"; do
    grep -qF -- "$m" "$err" || { cat "$err"; fail "bad: no '$m'"; }
done
[ "$(grep -c '^loopguard: ' "$err")" = 3 ] ||
    { cat "$err"; fail "bad: 3 lines"; }
expect_count 4 "$f" '.type == "blocking_call"' "bad: the good rule applies"
[ "$(reported site_sleep)" = 0 ] || fail "bad: nanosleep reported"

# An unreadable file, and a directory: one line each, the program runs.
calls unreadable "suppressions=$LG_TMP/missing.supp:suppressions=$LG_TMP"
for m in "loopguard: $LG_TMP/missing.supp: cannot open: No such file or \
directory; file ignored" \
    "loopguard: $LG_TMP: cannot read: Is a directory; file ignored"; do
    grep -qxF -- "$m" "$err" || { cat "$err"; fail "unreadable: no '$m'"; }
done
expect_count 5 "$f" '.type == "blocking_call"' "unreadable: all reported"
echo "ok: the preload names FILE:LINE and goes on"

# --- The launcher reads the files first: a bad one, exit 2, not started.
ran="$LG_TMP/ran"
lg() {
    rm -f "$ran"
    "$LG" "$@" 2>"$err"
    rc=$?
}
for f in "$bad" "$LG_TMP/missing.supp"; do
    lg --suppressions="$f" -- sh -c "touch $ran"
    [ "$rc" = 2 ] || { cat "$err"; fail "launcher, $f: exit $rc"; }
    [ ! -e "$ran" ] || fail "launcher, $f: the program ran"
    grep -qxF "loopguard: bad suppressions; not running sh" "$err" ||
        { cat "$err"; fail "launcher, $f: no closing line"; }
done
grep -qxF "loopguard: $LG_TMP/missing.supp: cannot open: No such file or \
directory" "$err" || { cat "$err"; fail "launcher: the missing file's line"; }
lg --suppressions="$bad" -- sh -c "touch $ran"
grep -qxF "loopguard: $bad:2: unknown kind 'fuction' (expected call, caller, \
function or module, after an optional blocking_call:, stall:, deadlock: or \
lock_order_inversion:)" "$err" ||
    { cat "$err"; fail "launcher: the bad line's message"; }
[ "$(grep -c "^loopguard: $bad:" "$err")" = 3 ] ||
    { cat "$err"; fail "launcher: a line per bad line"; }
LOOPGUARD_OPTIONS="suppressions=$bad" lg -- sh -c "touch $ran"
[ "$rc" = 2 ] && [ ! -e "$ran" ] ||
    fail "launcher: a bad file from LOOPGUARD_OPTIONS: exit $rc"
echo "ok: the launcher exits 2 on a bad file, without starting the program"

# --- Two files, through the variable and through the launcher.
printf 'call:nanosleep\nfunction:allowed_outer\n' >"$LG_TMP/a.supp"
printf '# b\ncaller:site_caller_read\nmodule:*/libsupp-mod.so\n' \
    >"$LG_TMP/b.supp"
a="$LG_TMP/a.supp" b="$LG_TMP/b.supp"
two=".type == \"summary\" and .count == 3 and .suppressed == [
    {rule: \"call:nanosleep\", file: \"$a\", line: 1, count: 3},
    {rule: \"function:allowed_outer\", file: \"$a\", line: 2, count: 3},
    {rule: \"caller:site_caller_read\", file: \"$b\", line: 2, count: 3},
    {rule: \"module:*/libsupp-mod.so\", file: \"$b\", line: 3, count: 3}]"
calls two "suppressions=$LG_TMP/a.supp:suppressions=$LG_TMP/b.supp"
expect_count 1 "$f" "$two" "two files: both files' rules"
lg --format=json --log="$LG_TMP/twolg.%p.jsonl" \
    --suppressions="$LG_TMP/a.supp" --suppressions="$LG_TMP/b.supp" \
    -- "$prog" calls
[ "$rc" = 0 ] || { cat "$err"; fail "launcher, two files: exit $rc"; }
expect_count 1 "$(log twolg)" "$two" "launcher, two files"
echo "ok: two files"

# --- A relative --suppressions names the file in the launcher's directory,
# also for a program that starts in another one.
(cd "$LG_TMP" && "$LG" --format=json --log="$LG_TMP/rel.%p.jsonl" \
    --suppressions=a.supp -- sh -c "cd / && exec '$prog' calls") 2>"$err"
rc=$?
[ "$rc" = 0 ] || { cat "$err"; fail "launcher, a relative file: exit $rc"; }
! grep -q 'a.supp' "$err" || { cat "$err"; fail "launcher, a relative file"; }
expect_count 1 "$(log rel)" ".type == \"summary\" and
    .suppressed[0].file == \"$a\" and .suppressed[0].count == 3" \
    "launcher, a relative file, read from the program's new directory"
echo "ok: a relative file given to the launcher"
