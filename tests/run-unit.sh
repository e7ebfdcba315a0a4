#!/bin/sh
# Runs each cmocka unit-test binary in its own process under a timeout.
# Usage: run-unit.sh BUILD_DIR BINARY...
build=$1; shift
pass=0; fail=0; failed=""
mkdir -p "$build/test-logs"
for t in "$@"; do
    name=$(basename "$t")
    log="$build/test-logs/$name.log"
    if timeout 300 "$t" >"$log" 2>&1; then
        pass=$((pass + 1)); echo "PASS unit/$name"
    else
        fail=$((fail + 1)); failed="$failed $name"; echo "FAIL unit/$name"
        sed 's/^/    /' "$log" | tail -40
    fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
