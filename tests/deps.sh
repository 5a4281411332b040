#!/bin/sh
# Installs the Debian packages that building and testing Liaison needs, but
# only those that are missing, so a ready machine pays nothing. Run as root
# (CI, a fresh machine) or with sudo available.
set -eu

need=""
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
have_cmd() { command -v "$1" >/dev/null 2>&1; }

have_cmd pkg-config || need="$need pkg-config"
have_pc libzmq || need="$need libzmq3-dev"
have_pc libprotobuf-c || need="$need libprotobuf-c-dev"
have_cmd protoc-c || need="$need protobuf-c-compiler"
have_pc lmdb || need="$need liblmdb-dev"
have_cmd mdb_stat || need="$need lmdb-utils"
have_pc libconfig || need="$need libconfig-dev"
have_pc cmocka || need="$need libcmocka-dev"
have_pc libsodium || need="$need libsodium-dev"
have_pc jansson || need="$need libjansson-dev"
have_pc libmicrohttpd || need="$need libmicrohttpd-dev"
have_cmd clang || need="$need clang"
have_cmd cc || need="$need gcc"
have_cmd make || need="$need make"
# Operator surfaces (scenarios 30-33): a real HTTP client for /metrics, the
# Prometheus exposition checker, a headless browser for the status page, and
# systemd-analyze for the units in config/.
have_cmd curl || need="$need curl"
have_cmd promtool || need="$need prometheus"
have_cmd chromium || need="$need chromium"
have_cmd systemd-analyze || need="$need systemd"
# Power-loss tests (make powerloss): lossyfs is a FUSE filesystem, built on
# libfuse3 and unmounted with fusermount3.
have_pc fuse3 || need="$need libfuse3-dev"
have_cmd fusermount3 || need="$need fuse3"
# libFuzzer's runtime ships with clang's compiler-rt.
[ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] ||
    need="$need libclang-rt-dev"

[ -z "$need" ] && exit 0

echo "deps: installing$need"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
