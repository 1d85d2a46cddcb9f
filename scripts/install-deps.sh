#!/bin/sh
# install-deps.sh [fuzz] [soak] [lint] - install the Debian packages zchat needs to build, run and
# test (make test on a fresh Debian 12 needs nothing else: tmux is for the terminal tests).
# Does nothing when everything is present; uses apt-get (as root, or through sudo) otherwise.
set -eu

PKGS="build-essential pkg-config libczmq-dev libzmq3-dev libcjson-dev libsqlite3-dev \
libsodium-dev libreadline-dev tmux"

# Optional groups, named on the command line: fuzz adds clang and its libFuzzer runtime
# (Debian 12 names) for make fuzz; soak adds the sqlite3 command, with which make soak reads
# the broker's database; lint adds clang-format and cppcheck for make lint.
for group in "$@"; do
    case $group in
    fuzz) PKGS="$PKGS clang libclang-rt-14-dev" ;;
    soak) PKGS="$PKGS sqlite3" ;;
    lint) PKGS="$PKGS clang-format cppcheck" ;;
    *)
        echo "install-deps: unknown group: $group (known: fuzz, soak, lint)" >&2
        exit 2
        ;;
    esac
done

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: no apt-get here; install these packages by hand:$missing" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: not root and no sudo; as root run: apt-get install$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2 || true
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -q --no-install-recommends $missing >&2; then
    echo "install-deps: apt-get failed; run: apt-get install$missing" >&2
    exit 1
fi
