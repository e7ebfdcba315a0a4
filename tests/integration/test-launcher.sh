#!/bin/sh
# The launcher (tools/loopguard.c): flags to LOOPGUARD_OPTIONS, LD_PRELOAD,
# usage errors, refusal of secure-mode programs, exit status and signals.
# Programs are plain `sh -c` scripts that print what they were given.
. tests/integration/lib.sh

LG="$BUILD/loopguard"
[ -x "$LG" ] || fail "$LG not built"
preload="$(cd "$BUILD" && pwd -P)/libloopguard-preload.so"
out="$LG_TMP/out"; err="$LG_TMP/err"; ran="$LG_TMP/ran"
show='echo "$LOOPGUARD_OPTIONS|$LD_PRELOAD"'

# lg ARGS...: runs the launcher with stdout/stderr in $out/$err; sets $rc.
lg() {
    rm -f "$ran"
    "$LG" "$@" >"$out" 2>"$err"
    rc=$?
}
expect_rc() {
    [ "$rc" = "$1" ] || { cat "$out" "$err"; fail "$2: exit $rc, want $1"; }
}
expect_err() {
    grep -qF -- "$1" "$err" || { cat "$err"; fail "$2: no '$1' on stderr"; }
}
expect_not_run() {
    [ ! -e "$ran" ] || fail "$1: the program ran"
}
# An ASan build puts libasan ahead of the preload; the rest must not care.
no_asan() { printf '%s' "$1" | tr ':' '\n' | grep -v '/libasan\.so' |
            paste -sd: -; }

# Flags become LOOPGUARD_OPTIONS entries; the preload comes first.
unset LOOPGUARD_OPTIONS LD_PRELOAD
lg --format=json --max-frames=7 -- sh -c "$show"
expect_rc 0 "flags"
[ "$(cut -d'|' -f1 "$out")" = "format=json:max_frames=7" ] ||
    fail "flags: LOOPGUARD_OPTIONS is '$(cut -d'|' -f1 "$out")'"
[ "$(no_asan "$(cut -d'|' -f2 "$out")")" = "$preload" ] ||
    fail "flags: LD_PRELOAD is '$(cut -d'|' -f2 "$out")', want $preload"

# Inherited options come first, so the flags win; --max_frames is accepted.
LOOPGUARD_OPTIONS=dedupe=0:format=text lg --format=json --max_frames=3 \
    sh -c "$show"
expect_rc 0 "inherited"
want="dedupe=0:format=text:format=json:max_frames=3"
[ "$(cut -d'|' -f1 "$out")" = "$want" ] ||
    fail "inherited: LOOPGUARD_OPTIONS is '$(cut -d'|' -f1 "$out")'"

# Inherited LD_PRELOAD entries stay after the preload, which is not doubled.
# The launcher gets this LD_PRELOAD too: an ASan build needs libasan first.
asan_rt=
if readelf -d "$LG" | grep -q libasan; then
    asan_rt="$(cc -print-file-name=libasan.so) "
fi
LD_PRELOAD="$asan_rt$BUILD/libloopguard.so $preload" lg sh -c "$show"
expect_rc 0 "LD_PRELOAD"
want="$preload:$BUILD/libloopguard.so"
[ "$(no_asan "$(cut -d'|' -f2 "$out")")" = "$want" ] ||
    fail "LD_PRELOAD: got '$(cut -d'|' -f2 "$out")'"

# A log name with separators and a quote survives the quoting; the line
# naming it has %p expanded to the program's pid.
log="$LG_TMP/a b:c'd"
lg --log="$log.%p" sh -c 'echo $$; echo x >>"$1.$$"' sh "$log"
expect_rc 0 "log"
expect_err "loopguard: reports in $log.$(head -1 "$out")" "log"
lg --log="$log.%p" sh -c 'rm -f "$1.$$"' sh "$log"
! grep -q "reports in" "$err" || fail "log: named a file that is not there"

# Bad values, unknown flags and bad inherited options: exit 2, not run.
lg --format=xml -- sh -c "touch '$ran'"
expect_rc 2 "bad value"; expect_err "--format" "bad value"
expect_err "xml" "bad value"; expect_not_run "bad value"
lg --bogus=1 -- sh -c "touch '$ran'"
expect_rc 2 "unknown flag"; expect_err "--bogus" "unknown flag"
expect_not_run "unknown flag"
LOOPGUARD_OPTIONS=nosuchkey=1 lg sh -c "touch '$ran'"
expect_rc 2 "bad inherited"; expect_err "nosuchkey" "bad inherited"
expect_not_run "bad inherited"
lg --dedupe=1
expect_rc 2 "no program"

# Exit status, death by signal, exec failure.
lg sh -c 'exit 7'
expect_rc 7 "exit status"
lg sh -c 'kill -TERM $$'
expect_rc 143 "signal"
expect_err "loopguard: sh killed by signal 15 (SIGTERM)" "signal"
lg "$LG_TMP/no-such-program"
expect_rc 127 "exec failure"; expect_err "$LG_TMP/no-such-program" "exec"

# SIGTERM sent to the launcher alone reaches the program.
rm -f "$LG_TMP/ready"
"$LG" sh -c "trap 'exit 3' TERM; touch '$LG_TMP/ready';
             i=0; while [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done" &
pid=$!
i=0
while [ ! -e "$LG_TMP/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
kill -TERM $pid
wait $pid
rc=$?
expect_rc 3 "SIGTERM forwarding"

# Help and version.
lg --help
expect_rc 0 "--help"; grep -q "usage: loopguard" "$out" || fail "--help"
lg --version
expect_rc 0 "--version"; grep -q "^loopguard [0-9]" "$out" || fail "--version"

# Without the preload beside it or in ../lib: exit 2. Installed layout
# (bin/ and lib/): found in ../lib. LD_LIBRARY_PATH stands in for the
# system library directory an install puts libloopguard.so.0 in.
mkdir -p "$LG_TMP/alone" "$LG_TMP/inst/bin" "$LG_TMP/inst/lib"
cp "$LG" "$LG_TMP/alone/"
cp "$BUILD/libloopguard.so" "$LG_TMP/alone/libloopguard.so.0"
"$LG_TMP/alone/loopguard" sh -c "touch '$ran'" 2>"$err"
rc=$?
expect_rc 2 "no preload"; expect_err "libloopguard-preload.so" "no preload"
expect_not_run "no preload"
cp "$LG" "$LG_TMP/inst/bin/"
cp "$BUILD/libloopguard.so" "$LG_TMP/inst/lib/libloopguard.so.0"
cp "$BUILD/libloopguard-preload.so" "$LG_TMP/inst/lib/"
inst=$(cd "$LG_TMP/inst/lib" && pwd -P)/libloopguard-preload.so
got=$(LD_LIBRARY_PATH="$LG_TMP/inst/lib" "$LG_TMP/inst/bin/loopguard" \
      sh -c 'echo "$LD_PRELOAD"') || fail "installed layout: exit $?"
[ "$(no_asan "$got")" = "$inst" ] ||
    fail "installed layout: LD_PRELOAD is '$got', want $inst"

# Set-user-ID, set-group-ID and capability programs: refused (the loader
# would drop the preload), also when found through PATH.
mkdir -p "$LG_TMP/bin"
cp /bin/sh "$LG_TMP/bin/suid-sh"; chmod u+s "$LG_TMP/bin/suid-sh"
cp /bin/sh "$LG_TMP/bin/sgid-sh"; chmod g+s "$LG_TMP/bin/sgid-sh"
if [ -u "$LG_TMP/bin/suid-sh" ]; then
    lg "$LG_TMP/bin/suid-sh" -c "touch '$ran'"
    expect_rc 2 "setuid"; expect_err "set-user-ID" "setuid"
    expect_not_run "setuid"
    PATH="$LG_TMP/bin:$PATH" lg suid-sh -c "touch '$ran'"
    expect_rc 2 "setuid via PATH"; expect_err "$LG_TMP/bin/suid-sh" "PATH"
    expect_not_run "setuid via PATH"
else
    skip_case setuid "chmod u+s did not stick on $LG_TMP"
fi
if [ -g "$LG_TMP/bin/sgid-sh" ]; then
    lg "$LG_TMP/bin/sgid-sh" -c "touch '$ran'"
    expect_rc 2 "setgid"; expect_err "set-group-ID" "setgid"
    expect_not_run "setgid"
else
    skip_case setgid "chmod g+s did not stick on $LG_TMP"
fi
cp /bin/sh "$LG_TMP/bin/cap-sh"
if ! command -v setcap >/dev/null 2>&1; then
    skip_case capabilities "setcap not installed (Debian's libcap2-bin)"
elif ! setcap cap_net_raw+ep "$LG_TMP/bin/cap-sh" 2>"$LG_TMP/setcap.err"; then
    skip_case capabilities "setcap failed: $(head -c 200 "$LG_TMP/setcap.err")"
else
    lg "$LG_TMP/bin/cap-sh" -c "touch '$ran'"
    expect_rc 2 "capabilities"; expect_err "capabilities" "capabilities"
    expect_not_run "capabilities"
fi
echo "launcher: ok"
