#!/bin/sh
# Runs each tests/integration/test-*.sh in its own process under a timeout.
# A test exits 0 (pass), 77 (skip, with a reason on its last line) or other
# (fail). A passing test may also skip parts it could not set up here
# (skip_case in lib.sh): each is printed with its reason and counted as a
# skip. It finds everything through the environment set here:
#   BUILD       the build directory (programs in $BUILD/tests, examples in
#               $BUILD/examples)
#   LG_PRELOAD  the value to put in LD_PRELOAD (libasan first in a
#               sanitizer build, which ASan requires)
#   LG_TMP      a fresh, empty directory for the test's files
#   LG_SKIPS    the file skip_case appends "CASE: REASON" lines to
# With LG_TOTALS set (by `make check`), appends its counts and skips there
# for tests/totals.sh.
build=$1
case "$build" in /*) ;; *) build="$(pwd)/$build" ;; esac
case "$build" in "$PWD/build") variant="" ;;
                 *) variant="$(basename "$build")/" ;; esac
export BUILD="$build"
preload="$build/libloopguard-preload.so"
if readelf -d "$preload" 2>/dev/null | grep -q 'libasan'; then
    preload="$(cc -print-file-name=libasan.so):$preload"
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
fi
export LG_PRELOAD="$preload"
pass=0; fail=0; skip=0
mkdir -p "$build/test-logs"
# note_skip NAME: REASON
note_skip() {
    skip=$((skip + 1)); echo "SKIP $1"
    [ -z "${LG_TOTALS:-}" ] || echo "skip $1" >>"$LG_TOTALS"
}
for t in tests/integration/test-*.sh; do
    name=$(basename "$t" .sh)
    log="$build/test-logs/$name.log"
    LG_TMP=$(mktemp -d); export LG_TMP
    LG_SKIPS="$LG_TMP.skips"; export LG_SKIPS
    : >"$LG_SKIPS"
    timeout 600 sh "$t" >"$log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "PASS $name"
        while IFS= read -r s; do
            note_skip "$variant$name/$s"
        done <"$LG_SKIPS"
    elif [ $rc -eq 77 ]; then
        note_skip "$variant$name: $(tail -1 "$log")"
    else
        fail=$((fail + 1)); echo "FAIL $name (exit $rc)"
        sed 's/^/    /' "$log" | tail -40
    fi
    rm -rf "$LG_TMP" "$LG_SKIPS"
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ -z "${LG_TOTALS:-}" ] ||
    echo "counts ${variant}integration $pass $fail $skip" >>"$LG_TOTALS"
[ "$fail" -eq 0 ]
