#!/bin/sh
# Installs the Debian packages Liaison needs, but only those that are
# missing, so a ready machine pays nothing. Run as root (CI, a fresh
# machine) or with sudo available.
#
#   sh tests/deps.sh build   building and running the programs: a C compiler,
#                            make, pkg-config, protobuf-c-compiler and the
#                            -dev libraries (make, make install, make demo)
#   sh tests/deps.sh test    all of that, and what the tests use: cmocka,
#                            clang and libFuzzer, the operator surfaces'
#                            checkers, libfiu, mandoc... (make test, make bench)
#   sh tests/deps.sh deb     all of "build", and debhelper and lintian
#                            (make deb)
#
# An agency's server that only runs `make demo` or `make install` is never
# given a browser, a fuzzer or Prometheus.
set -eu

what=${1:-build}
case $what in build | test | deb) ;; *)
    echo "usage: sh tests/deps.sh build|test|deb" >&2
    exit 2
    ;;
esac

need=""
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
have_cmd() { command -v "$1" >/dev/null 2>&1; }

# ---- building and running: the libraries the programs link, their code
# generator, and the toolchain.
have_cmd pkg-config || need="$need pkg-config"
have_pc libzmq || need="$need libzmq3-dev"
have_pc libprotobuf-c || need="$need libprotobuf-c-dev"
have_cmd protoc-c || need="$need protobuf-c-compiler"
have_pc lmdb || need="$need liblmdb-dev"
have_pc libconfig || need="$need libconfig-dev"
have_pc libsodium || need="$need libsodium-dev"
have_pc jansson || need="$need libjansson-dev"
have_pc libmicrohttpd || need="$need libmicrohttpd-dev"
have_cmd cc || need="$need gcc libc6-dev"
have_cmd make || need="$need make"

if [ "$what" = test ]; then
    # Unit tests (cmocka), the sanitizer and fuzzer builds (clang; libFuzzer's
    # runtime ships with clang's compiler-rt), and the store's own tools.
    have_pc cmocka || need="$need libcmocka-dev"
    have_cmd clang || need="$need clang"
    [ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] ||
        need="$need libclang-rt-dev"
    have_cmd mdb_stat || need="$need lmdb-utils"
    # Coverage of the fuzz corpora (make coverage): llvm-profdata, llvm-cov.
    have_cmd llvm-cov || need="$need llvm"
    # Operator surfaces (scenarios 30-33): a real HTTP client for /metrics, the
    # Prometheus exposition checker, a headless browser for the status page, and
    # systemd-analyze for the units in config/.
    have_cmd curl || need="$need curl"
    have_cmd promtool || need="$need prometheus"
    have_cmd chromium || need="$need chromium"
    have_cmd systemd-analyze || need="$need systemd"
    # Disk faults injected into the broker (scenario 16): libfiu's preload.
    have_cmd fiu-run || need="$need fiu-utils libfiu0"
    # The man pages' linter (scenario 34), and `script` for a terminal to run
    # liaisonctl watch in.
    have_cmd mandoc || need="$need mandoc"
    have_cmd script || need="$need util-linux"
    # The Python client and its scenario (40): Debian's python3 with ZeroMQ
    # and protobuf, and protoc for the generated liaison_pb2 (make python).
    /usr/bin/python3 -c 'import zmq' 2>/dev/null || need="$need python3-zmq"
    /usr/bin/python3 -c 'import google.protobuf' 2>/dev/null || need="$need python3-protobuf"
    have_cmd protoc || need="$need protobuf-compiler"
    # Power-loss tests (make powerloss): lossyfs is a FUSE filesystem, built
    # on libfuse3 and unmounted with fusermount3.
    have_pc fuse3 || need="$need libfuse3-dev"
    have_cmd fusermount3 || need="$need fuse3"
fi

if [ "$what" = deb ]; then
    # dpkg-buildpackage and dh; lintian checks what they built.
    have_cmd dpkg-buildpackage || need="$need dpkg-dev"
    have_cmd dh || need="$need debhelper"
    have_cmd fakeroot || need="$need fakeroot"
    have_cmd lintian || need="$need lintian"
fi

[ -z "$need" ] && exit 0

echo "deps ($what): installing$need"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
