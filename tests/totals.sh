#!/bin/sh
# Ends `make check` with one line of totals, from what each runner
# (run-unit.sh, run-integration.sh) appended to the file LG_TOTALS:
#   counts WHAT PASSED FAILED SKIPPED
#   skip NAME: REASON
# Every skip was printed when it happened; they are listed again here.
# LG_MUST_RUN (set by .ci/run) holds globs of skips that may not happen on
# this machine, e.g. '*test-rust *unit/test-symbolize-*': one matching
# skip fails the check, as a failed test does.
# Usage: totals.sh FILE STATUS (STATUS: the suites' own, 0 if all passed).
f=$1; status=${2:-0}
[ -f "$f" ] || { echo "check: no totals (no suite ran)"; exit 1; }
set -- $(awk '$1 == "counts" { p += $3; x += $4; s += $5 }
              END { print p + 0, x + 0, s + 0 }' "$f")
pass=$1; failed=$2; skipped=$3
grep '^skip ' "$f" | sed 's/^skip /  skipped: /'
bad=0
if [ -n "${LG_MUST_RUN:-}" ]; then
    grep '^skip ' "$f" | sed 's/^skip //; s/: .*//' | while read -r name; do
        for pat in $LG_MUST_RUN; do
            # shellcheck disable=SC2254
            case "$name" in $pat)
                echo "  MUST RUN here (LG_MUST_RUN '$pat'): $name" ;;
            esac
        done
    done >"$f.must"
    if [ -s "$f.must" ]; then
        cat "$f.must"; bad=1
    fi
fi
echo "check: $pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ] && [ "$bad" -eq 0 ]
