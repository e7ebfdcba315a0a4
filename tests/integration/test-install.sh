#!/bin/sh
# `make install PREFIX=...` installs a working layout: the libraries, the
# header, loopguard.pc (usable by pkg-config to build against the library),
# a launcher that finds the installed preload, the symbolizer beside it
# (reports carry file:line), and its manual page, which man renders
# without a warning.
. tests/integration/lib.sh

case "$BUILD" in */asan) skip "install is checked in the plain build" ;; esac
prefix="$LG_TMP/prefix"
make -s install BUILD="$BUILD" PREFIX="$prefix" > "$LG_TMP/install.log" 2>&1 ||
    { cat "$LG_TMP/install.log"; fail "make install failed"; }
for f in lib/libloopguard.so.0 lib/libloopguard.so \
         lib/libloopguard-preload.so lib/loopguard-symbolizer \
         include/loopguard.h \
         lib/pkgconfig/loopguard.pc bin/loopguard \
         share/man/man1/loopguard.1; do
    [ -e "$prefix/$f" ] || fail "missing $prefix/$f"
done

# Build a program against the installed library with pkg-config alone.
cat > "$LG_TMP/use.c" <<'C'
#include <loopguard.h>
#include <stdio.h>
int main(void)
{
    if (lg_thread_is_loop() != 0 || lg_loop_enter("manual", NULL) != 0 ||
        lg_thread_is_loop() != 1 || lg_loop_leave() != 0)
        return 1;
    puts(lg_err_name(-32));
    return 0;
}
C
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" cc -o "$LG_TMP/use" "$LG_TMP/use.c" \
    $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs \
      loopguard) -Wl,-rpath,"$prefix/lib" || fail "building against loopguard.pc"
[ "$("$LG_TMP/use")" = "EPIPE" ] || fail "the installed library misbehaves"

# The installed launcher finds the installed preload and reports.
"$prefix/bin/loopguard" --format=json --log="$LG_TMP/r.jsonl" -- \
    "$BUILD/examples/stall" > /dev/null 2>&1 || fail "installed launcher failed"
expect_count 1 "$LG_TMP/r.jsonl" '.type == "blocking_call" and .call == "read"
    and any(.stack[]; .symbol == "on_timer" and .line > 0)' \
    "a report with file:line through the installed launcher"
# `man loopguard` finds the installed page (MANPATH: the test's prefix).
command -v man >/dev/null 2>&1 || fail "man is missing: make deps installs man-db"
MANPATH="$prefix/share/man" MANWIDTH=80 man --warnings loopguard \
    >"$LG_TMP/man.out" 2>"$LG_TMP/man.err" || fail "man loopguard: exit $?"
[ ! -s "$LG_TMP/man.err" ] || { cat "$LG_TMP/man.err"; fail "man warned"; }
grep -q '^ *loopguard  *- run a program and report blocking' \
    "$LG_TMP/man.out" || { head "$LG_TMP/man.out"; fail "man loopguard"; }
echo "ok: make install"
echo "ok: man loopguard"
