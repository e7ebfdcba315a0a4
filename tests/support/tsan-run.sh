#!/bin/sh
# Runs build/tsan/tests/NAME for a link build/tsan/wrap/NAME to this script
# (tests/run-unit.sh runs binaries without arguments, and names them after
# the link). ASLR goes off when the kernel lets us: TSan dies with
# "unexpected memory mapping" on kernels with wide mmap randomisation.
bin=$(dirname "$0")/../tests/$(basename "$0")
# Any report fails the test, not just the first few lines of the log.
TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}"
export TSAN_OPTIONS
if setarch -R true 2>/dev/null; then
    exec setarch -R "$bin"
fi
exec "$bin"
