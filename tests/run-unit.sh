#!/bin/sh
# Runs each cmocka unit-test binary in its own process under a timeout.
# A binary passes when it exits 0; each case it skipped (LG_SKIP in
# tests/support/skip.h) is printed with its reason and counted as a skip.
# With LG_TOTALS set (by `make check`), appends its counts and skips there
# for tests/totals.sh.
# Usage: run-unit.sh BUILD_DIR BINARY...
build=$1; shift
# Names carry the build's variant (asan/, tsan/) when it is not the plain one.
case "$build" in build|./build|"$PWD/build") variant="" ;;
                 *) variant="$(basename "$build")/" ;; esac
pass=0; fail=0; skip=0
mkdir -p "$build/test-logs"
for t in "$@"; do
    name=$(basename "$t")
    log="$build/test-logs/$name.log"
    if timeout 300 "$t" >"$log" 2>&1; then
        pass=$((pass + 1)); echo "PASS unit/$name"
    else
        fail=$((fail + 1)); echo "FAIL unit/$name"
        sed 's/^/    /' "$log" | tail -40
    fi
    # cmocka: "[ RUN      ] case", the reason "skip: ...", then
    # "[  SKIPPED ] case" (its closing list repeats the names: not counted).
    awk -v unit="${variant}unit/$name" '
        /^\[ RUN      \] / { cur = $4; why = ""; next }
        /^skip: / && cur != "" { why = substr($0, 7); next }
        /^\[  SKIPPED \] / && $4 == cur {
            print unit "/" cur ": " (why != "" ? why : "no reason given")
            cur = "" }' "$log" >"$log.skips"
    while IFS= read -r s; do
        skip=$((skip + 1)); echo "SKIP $s"
        [ -z "${LG_TOTALS:-}" ] || echo "skip $s" >>"$LG_TOTALS"
    done <"$log.skips"
done
echo "unit: $pass passed, $fail failed, $skip skipped"
[ -z "${LG_TOTALS:-}" ] ||
    echo "counts ${variant}unit $pass $fail $skip" >>"$LG_TOTALS"
[ "$fail" -eq 0 ]
