#!/bin/sh
# The preload's dynamic symbol table: every wrapped call is exported in a
# form the dynamic linker will bind the host's references to, and nothing of
# libunwind leaks into the host's global scope.
#
# - pthread_cond_wait/pthread_cond_timedwait: glibc has two implementations
#   (GLIBC_2.3.2, the default, and GLIBC_2.2.5); programs bind to one or the
#   other, so the preload must define both versions.
# - everything else unversioned: an unversioned definition satisfies a
#   reference of any version (read@GLIBC_2.2.5, sem_wait@GLIBC_2.34, ...),
#   whereas a versioned one would only catch references of that version.
# - no unw_*, _U*, _Unwind_* or backtrace in the preload or in
#   libloopguard.so (loaded with it, global scope too), and no libunwind in
#   their DT_NEEDED: otherwise the host's C++ exceptions would unwind through
#   nongnu libunwind (preload notes, section 3).
. tests/integration/lib.sh
preload="$BUILD/libloopguard-preload.so"
core="$BUILD/libloopguard.so"
[ -f "$preload" ] || fail "$preload not built"
[ -f "$core" ] || fail "$core not built"
command -v readelf >/dev/null 2>&1 || skip "readelf not installed"

nfail=0
bad() { echo "FAIL $*"; nfail=$((nfail + 1)); }

# Defined, global or weak functions (and objects), name with @version.
exports() {
    readelf --dyn-syms -W "$1" | awk '
        $7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK") &&
        ($4 == "FUNC" || $4 == "IFUNC" || $4 == "OBJECT") { print $8 }'
}
exports "$preload" >"$LG_TMP/preload.syms"
exports "$core" >"$LG_TMP/core.syms"
[ -s "$LG_TMP/preload.syms" ] || fail "no exports read from $preload"

for sym in pthread_cond_wait pthread_cond_timedwait; do
    for ver in "@@GLIBC_2.3.2" "@GLIBC_2.2.5"; do
        if grep -qFx "$sym$ver" "$LG_TMP/preload.syms"; then
            echo "ok   $sym$ver"
        else
            bad "$sym$ver not exported (have: $(grep "^$sym@" \
                "$LG_TMP/preload.syms" | tr '\n' ' '))"
        fi
    done
done

# fcntl64 is what programs built with _FILE_OFFSET_BITS=64 call (libuv
# among them); uv_run is the loop entry, the uv_fs_* requests made without
# a callback are the program's blocking.
for sym in pthread_cond_clockwait cnd_wait cnd_timedwait \
    sem_wait sem_timedwait sem_clockwait \
    read readv recv recvfrom recvmsg __read_chk __recv_chk __recvfrom_chk \
    mq_receive mq_timedreceive msgrcv syscall \
    pthread_join pthread_timedjoin_np pthread_clockjoin_np thrd_join \
    sleep usleep nanosleep clock_nanosleep thrd_sleep \
    close dup2 dup3 fcntl fcntl64 ioctl uv_run \
    uv_fs_open uv_fs_read uv_fs_write uv_fs_sendfile uv_fs_copyfile; do
    if grep -qFx "$sym" "$LG_TMP/preload.syms"; then
        echo "ok   $sym"
    else
        other=$(grep "^$sym@" "$LG_TMP/preload.syms" | tr '\n' ' ')
        bad "$sym not exported unversioned${other:+ (exported as $other)}"
    fi
done

# Every row of the wrapper table is exported as the row says, so a row
# added later is checked too.
def=preload/symbols.def
if [ -f "$def" ]; then
    printf '#define LG_SYM(c, s, v, e, n, r, p) LGROW e s v\n#include "%s"\n' \
        "$PWD/$def" | ${CC:-cc} -E -P -x c - | tr -d '"' |
        awk '$1 == "LGROW" { print $2, $3, $4 }' >"$LG_TMP/rows"
    [ -s "$LG_TMP/rows" ] || bad "no rows read from $def"
    nrows=0
    while read -r export sym ver; do
        case "$export" in
        PLAIN) want=$sym ;;
        DEFAULT) want="$sym@@$ver" ;;
        COMPAT) want="$sym@$ver" ;;
        *) bad "$def: $sym has an unknown export kind $export"; continue ;;
        esac
        nrows=$((nrows + 1))
        grep -qFx "$want" "$LG_TMP/preload.syms" ||
            bad "$def row $sym ($export) not exported as $want"
    done <"$LG_TMP/rows"
    echo "ok   $nrows rows of $def checked"
fi

for lib in preload core; do
    leaked=$(grep -E '^(unw_|_U(L)?x86_64_|_Unwind_|backtrace(@|$))' \
        "$LG_TMP/$lib.syms" | tr '\n' ' ')
    if [ -n "$leaked" ]; then
        bad "$lib exports unwinder symbols: $leaked"
    else
        echo "ok   $lib exports no unw_*/_Unwind_*/backtrace"
    fi
done

for f in "$preload" "$core"; do
    needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
        tr '\n' ' ')
    case "$needed" in
    *libunwind*) bad "$(basename "$f") DT_NEEDED has libunwind: $needed" ;;
    *) echo "ok   $(basename "$f") DT_NEEDED: $needed" ;;
    esac
done
# ldd follows DT_NEEDED transitively (libloopguard.so's own, through the
# preload's $ORIGIN rpath).
if command -v ldd >/dev/null 2>&1; then
    if ldd "$preload" | grep -q libunwind; then
        bad "ldd $preload shows libunwind: $(ldd "$preload" |
            grep libunwind | tr -s ' \t\n' ' ')"
    else
        echo "ok   ldd $(basename "$preload"): no libunwind"
    fi
fi

[ "$nfail" -eq 0 ] || fail "$nfail symbol table checks failed"
echo "preload symbol table: all checks passed"
