#!/bin/sh
# Installs the Debian packages ANOSIP builds, tests and benchmarks with.
# Usage: scripts/install-deps.sh [--check]
#   --check  only report what is missing (exit 1 if anything is)
# Runs apt-get as root (or through sudo when not root).
set -eu

PACKAGES="build-essential make pkg-config clang clang-format libclang-rt-14-dev
libsodium-dev libuv1-dev libsqlite3-dev sqlite3
libprotobuf-c-dev protobuf-c-compiler libinih-dev libcmocka-dev
python3 tcpdump iproute2 procps psmisc
libosip2-dev sip-tester baresip-core gnuplot-nox graphviz
kamailio kamailio-sqlite-modules"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi
if [ "${1:-}" = "--check" ]; then
	echo "missing Debian packages:$missing"
	exit 1
fi

echo "install-deps: installing$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-deps: not root and no sudo; as root, run:" >&2
		echo "  apt-get install -y$missing" >&2
		exit 1
	fi
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
