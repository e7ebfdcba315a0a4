#!/bin/sh
# Debian's node 18 beside another node, for tests/integration/test-node.sh.
# Run by deps.sh, which installs Debian's nodejs itself when no node is
# installed.
#
# Debian 12's node (packages nodejs and libnode108) is a small /usr/bin/node
# on libnode.so.108, which uses the system libuv: uv_run is a call the
# preload wraps and its loop is found "via entry", where a node with libuv
# linked in (nodesource's) is found "via stack". The test runs both. Debian's
# cannot be installed beside another node's nodejs package: same package
# name, same /usr/bin/node, and libnode108 conflicts with nodejs-legacy,
# which nodesource's nodejs provides. So this script unpacks the two
# packages, without installing them, into $dir: a fixed place outside any
# source tree, which every checkout and worktree shares, which `make clean`
# and `git clean` leave alone, and which is not world-writable like /tmp
# (the tests run it as root). It runs with
# LD_LIBRARY_PATH=$dir/usr/lib/x86_64-linux-gnu.
#
# What libnode108 depends on is installed with apt, properly: plain
# libraries (libuv1, libicu72, libc-ares2, ...), and node-acorn,
# node-cjs-module-lexer and node-undici, whose scripts Debian's node loads
# at start-up as builtins from /usr/share/nodejs, a path compiled into
# libnode.so.108. Those three install beside any node (they depend on
# nodejs:any), so dpkg's state stays whole.
#
# Does nothing, silently, when no node is installed (deps.sh installs
# Debian's), when the node on PATH has a shared libuv (it is Debian's), or
# when the unpacked node runs.
set -e
dir=/opt/loopguard-node18
lib=$dir/usr/lib/x86_64-linux-gnu
node=$(command -v node) || exit 0
ldd "$node" 2>/dev/null | grep -q '/libuv\.so' && exit 0
LD_LIBRARY_PATH=$lib "$dir/usr/bin/node" -e 0 >/dev/null 2>&1 && exit 0

echo "deps: unpacking Debian's node 18 (nodejs, libnode108) into $dir"
if [ "$(id -u)" != 0 ]; then
    echo "deps: not root; run as root: sh tools/deps-node.sh" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
v=$(apt-cache show --no-all-versions libnode108 2>/dev/null |
    sed -n 's/^Version: //p')
if [ -z "$v" ]; then
    echo "deps: apt knows no libnode108 (Debian 12's node 18)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$dir.new"' EXIT
chown _apt "$tmp" 2>/dev/null || true    # apt downloads as _apt
(cd "$tmp" && apt-get download -qq "nodejs=$v" "libnode108=$v")
apt-get satisfy -y -qq --no-install-recommends \
    "$(dpkg-deb -f "$tmp/libnode108_"*.deb Depends)" >/dev/null
# Unpacked beside, then moved into place: an interrupted run leaves no
# half-unpacked $dir.
rm -rf "$dir.new"
for deb in "$tmp"/*.deb; do
    dpkg -x "$deb" "$dir.new"
done
rm -rf "$dir"
mv "$dir.new" "$dir"
LD_LIBRARY_PATH=$lib "$dir/usr/bin/node" -e 0
echo "deps: done"
