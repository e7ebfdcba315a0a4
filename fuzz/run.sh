#!/bin/sh
# fuzz/run.sh: `make fuzz`. Runs each fuzzer (build/fuzz/fuzz-*, built by
# `make fuzz-bins`) for FUZZ_SECONDS (default 60), starting from its seeds
# in fuzz/seeds/NAME and the corpus kept from earlier runs in
# build/fuzz/corpus/NAME. A crash leaves its input in build/fuzz/crashes/;
# replay it with `build/fuzz/fuzz-NAME FILE`, and once the bug is fixed,
# keep it in fuzz/seeds/NAME: `make check` replays those (test-fuzz-replay).
#
# Environment: FUZZ_SECONDS (60), FUZZ_ONLY (a fuzzer's NAME: that one).
set -u

secs=${FUZZ_SECONDS:-60}
dir=build/fuzz
fail=0
mkdir -p "$dir/crashes" "$dir/seeds/elf"

# ELF seeds are made here, small, by the compiler at hand: an object file
# (a .symtab with sections and a file symbol) and a linked program.
{
    echo 'int uv_run(void *l, int m) { return m; }'
    echo 'int main(void) { return uv_run(0, 0); }'
} >"$dir/seeds/elf/seed.c"
mkdir -p "$dir/seeds/dwarf"
# DWARF seeds: the same program with debug information, at -O0 and at -O2
# with a function inlined (its DW_TAG_inlined_subroutine).
{
    echo 'static inline int twice(int x) { return 2 * x; }'
    echo 'int uv_run(void *l, int m) { return twice(m) + (l != 0); }'
    echo 'int main(int c, char **v) { return uv_run(v, c); }'
} >"$dir/seeds/dwarf/seed.c"
cc -g -O0 -o "$dir/seeds/dwarf/O0" "$dir/seeds/dwarf/seed.c" &&
    cc -g -O2 -o "$dir/seeds/dwarf/O2" "$dir/seeds/dwarf/seed.c" &&
    rm "$dir/seeds/dwarf/seed.c" || {
    echo "fuzz: cannot make the DWARF seeds" >&2
    exit 1
}
cc -c -o "$dir/seeds/elf/object.o" "$dir/seeds/elf/seed.c" &&
    cc -o "$dir/seeds/elf/program" "$dir/seeds/elf/seed.c" &&
    strip -o "$dir/seeds/elf/stripped" "$dir/seeds/elf/program" &&
    rm "$dir/seeds/elf/seed.c" || {
    echo "fuzz: cannot make the ELF seeds" >&2
    exit 1
}

for bin in "$dir"/fuzz-*; do
    name=${bin#"$dir"/fuzz-}
    [ -n "${FUZZ_ONLY:-}" ] && [ "$name" != "$FUZZ_ONLY" ] && continue
    corpus=$dir/corpus/$name
    seeds=fuzz/seeds/$name
    case $name in elf*) seeds=$dir/seeds/elf ;; dwarf) seeds=$dir/seeds/dwarf ;;
    esac
    mkdir -p "$corpus"
    # Files of a few KiB for the ELF readers; the rest need less.
    max=4096
    case $name in elf* | dwarf) max=65536 ;; esac
    # elf-load keeps every table it loads, as the library does: a fresh
    # process every 30000 inputs, before the mappings run out.
    chunk=
    [ "$name" = elf-load ] && chunk=-runs=30000
    log=$dir/$name.log
    echo "fuzz: $name for $secs s"
    t0=$(date +%s)
    runs=0
    ok=1
    while :; do
        left=$((secs - ($(date +%s) - t0)))
        [ "$left" -gt 0 ] || break
        if ! "$bin" -max_total_time="$left" $chunk -max_len="$max" \
            -timeout=10 -artifact_prefix="$dir/crashes/$name-" \
            -print_final_stats=1 "$corpus" "$seeds" >"$log" 2>&1; then
            ok=0
            break
        fi
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        runs=$((runs + ${n:-0}))
        [ -n "$chunk" ] || break
    done
    if [ "$ok" = 1 ]; then
        echo "PASS fuzz/$name ($runs inputs, corpus $(ls "$corpus" | wc -l))"
    else
        fail=$((fail + 1))
        echo "FAIL fuzz/$name: see $log"
        grep -m1 -A12 'ERROR\|runtime error\|deadly' "$log" | sed 's/^/    /'
    fi
done
echo "fuzz: $fail failed"
[ "$fail" -eq 0 ]
