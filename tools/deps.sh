#!/bin/sh
# Installs the Debian packages loopguard needs, and only those missing.
# Run by `make deps` (and so by `make check` and `make demo`); `deps.sh
# fuzz` (by `make fuzz`) installs only what fuzzing needs: clang, whose
# libFuzzer drives fuzz/ (gcc has no coverage-guided fuzzer); `deps.sh
# bench` (by `make bench`) what only benchmarks need: golang-go. Debian's
# node 18 beside another node is deps-node.sh's.
set -e
need=""
if [ "${1:-}" = bench ]; then
    # lg_chan's Go peer (bench/run-chan-peers.sh). Bench only: the tests
    # and loopguard need no Go.
    command -v go >/dev/null 2>&1 || need=" golang-go"
elif [ "${1:-}" = fuzz ]; then
    stub='int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }'
    printf '%s\n' "$stub" |
        clang -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1 ||
        need=" clang libclang-rt-dev"
else
    have_pc() { pkg-config --exists "$1" 2>/dev/null; }
    have_hdr() {
        [ -e "/usr/include/$1" ] || [ -e "/usr/include/x86_64-linux-gnu/$1" ]
    }
    command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
    have_pc libunwind || have_hdr libunwind.h || need="$need libunwind-dev"
    have_hdr uthash.h || need="$need uthash-dev"
    have_pc libuv || have_hdr uv.h || need="$need libuv1-dev"
    have_pc cmocka || have_hdr cmocka.h || need="$need libcmocka-dev"
    # loopguard-symbolizer reads DWARF (file:line, inlined frames) with
    # elfutils' libdw, in its own process.
    have_pc libdw || have_hdr elfutils/libdw.h || need="$need libdw-dev"
    # Tests read JSON reports back with jq, and run programs on libevent, libev
    # and GLib loops (test-only: the preload links none of them).
    command -v jq >/dev/null 2>&1 || need="$need jq"
    command -v c++ >/dev/null 2>&1 || need="$need g++"
    have_pc libevent_pthreads || need="$need libevent-dev"
    have_hdr ev.h || need="$need libev-dev"
    have_pc glib-2.0 || need="$need libglib2.0-dev"
    # The symbolizer's test of libc's own static functions reads libc's
    # debug file; the launcher's test of capability programs runs setcap.
    dpkg -s libc6-dbg >/dev/null 2>&1 || need="$need libc6-dbg"
    # test-watchdog asserts which system calls the watchdog's idle ticks
    # make (none but their sleep); make bench counts a server's per request.
    command -v strace >/dev/null 2>&1 || need="$need strace"
    # test-install renders the installed manual page.
    command -v man >/dev/null 2>&1 || need="$need man-db"
    command -v setcap >/dev/null 2>&1 || [ -x /sbin/setcap ] ||
        need="$need libcap2-bin"
    # Rust test programs build offline from Debian's packaged crates (tokio
    # with its macros; mio and the rest come as its dependencies).
    ls -d /usr/share/cargo/registry/tokio-1.* >/dev/null 2>&1 ||
        need="$need librust-tokio-dev"
    ls -d /usr/share/cargo/registry/tokio-macros-* >/dev/null 2>&1 ||
        need="$need librust-tokio-macros-dev"
    # Without a cargo test-rust.sh is skipped, so a fresh machine gets
    # Debian's (rustc 1.63, which tests/rust keeps to); a rustup cargo in
    # ~/.cargo/bin counts, as .ci/run puts it in PATH.
    command -v cargo >/dev/null 2>&1 ||
        [ -x "${HOME:-/root}/.cargo/bin/cargo" ] ||
        need="$need cargo rustc"
    # Node, on the system libuv (Debian's node 18). Another node installed
    # already (nodesource's, libuv linked in) stays; deps-node.sh then
    # unpacks Debian's beside it, so that the test runs on both.
    command -v node >/dev/null 2>&1 || need="$need nodejs"
    # test-report-html opens `loopguard report --html`'s page in headless
    # Chromium, driven over the DevTools pipe by a Python script; test-python
    # runs asyncio on Debian's interpreter itself (/usr/bin/python3, whatever
    # python3 is first on PATH). Tests only: loopguard itself needs neither.
    command -v chromium >/dev/null 2>&1 || need="$need chromium"
    [ -x /usr/bin/python3 ] || need="$need python3"
    # test-python runs its asyncio cases on uvloop too (on the system libuv).
    dpkg -s python3-uvloop >/dev/null 2>&1 || need="$need python3-uvloop"
    # test-compat-*: programs from Debian's archive run under the preload
    # (docs/compatibility.md). Tests only: loopguard needs none of them.
    command -v memcached >/dev/null 2>&1 || need="$need memcached"
    command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
    command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] ||
        need="$need dnsmasq-base"
    command -v dig >/dev/null 2>&1 || need="$need bind9-dnsutils"
    command -v tmux >/dev/null 2>&1 || need="$need tmux"
    dpkg -s python3-aiosmtpd >/dev/null 2>&1 || need="$need python3-aiosmtpd"
fi
if [ -n "$need" ]; then
    echo "deps: installing$need"
    if [ "$(id -u)" != 0 ]; then
        echo "deps: not root; run as root: apt-get install -y$need" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $need >/dev/null
    echo "deps: done"
fi
[ "${1:-}" = fuzz ] || sh "$(dirname "$0")/deps-node.sh"
