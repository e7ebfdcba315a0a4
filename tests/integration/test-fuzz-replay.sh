#!/bin/sh
# The fuzzers' targets (fuzz/), built without libFuzzer as
# $BUILD/tests/replay-NAME, replay fuzz/seeds/NAME: every input that once
# found a bug is kept there, so the bug stays fixed in `make check` (and
# under ASan+UBSan in check-asan) without clang. The ELF and DWARF targets
# get real files of this build, whole and cut short at several lengths.
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/integration/lib.sh"

found=0
for bin in "$BUILD"/tests/replay-*; do
    [ -x "$bin" ] || continue
    found=$((found + 1))
    name=${bin##*/replay-}
    if [ "${name#elf}" != "$name" ] || [ "$name" = dwarf ]; then
        dir=$LG_TMP/$name
        mkdir -p "$dir"
        files="$BUILD/libloopguard.so $BUILD/tests/prog-calls"
        # DWARF: programs built -g, one -O2 with inlined functions.
        [ "$name" = dwarf ] &&
            files="$BUILD/tests/prog-srcline $BUILD/tests/prog-calls"
        for f in $files; do
            [ -r "$f" ] || fail "missing $f"
            base=${f##*/}
            cp "$f" "$dir/$base"
            for len in 16 64 200 4096 20000; do
                head -c "$len" "$f" >"$dir/$base.$len"
            done
        done
        seeds=$dir
    else
        seeds=$root/fuzz/seeds/$name
    fi
    want=$(find "$seeds" -maxdepth 1 -type f | wc -l)
    [ "$want" -gt 0 ] || fail "no seeds for $name in $seeds"
    out=$("$bin" "$seeds" 2>&1) || {
        printf '%s\n' "$out" | tail -30
        fail "replay-$name failed on an input of $seeds"
    }
    [ "$out" = "replayed $want inputs" ] ||
        fail "replay-$name: '$out', expected $want inputs"
    echo "replay-$name: $want inputs"
done
# One replay program per fuzzer.
n=$(ls "$root"/fuzz/fuzz-*.c | wc -l)
[ "$found" -eq "$n" ] || fail "$found replay programs for $n fuzzers"
