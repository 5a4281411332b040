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
# Disk faults injected into the broker (scenario 16): libfiu's preload.
have_cmd fiu-run || need="$need fiu-utils libfiu0"
have_cmd promtool || need="$need prometheus"
have_cmd chromium || need="$need chromium"
have_cmd systemd-analyze || need="$need systemd"
# The man pages' linter (scenario 34), and `script` for a terminal to run
# liaisonctl watch in.
have_cmd mandoc || need="$need mandoc"
have_cmd script || need="$need util-linux"
# The Python client and its scenario (40): Debian's python3 with ZeroMQ and
# protobuf, and protoc for the generated liaison_pb2 (make python).
/usr/bin/python3 -c 'import zmq' 2>/dev/null || need="$need python3-zmq"
/usr/bin/python3 -c 'import google.protobuf' 2>/dev/null || need="$need python3-protobuf"
have_cmd protoc || need="$need protobuf-compiler"
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
