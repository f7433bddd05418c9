#!/bin/sh
# bench/install-peers.sh — install what bench_suite compares pktmem with,
# on Debian/Ubuntu: DPDK (libdpdk-dev), jemalloc (libjemalloc-dev), mimalloc
# (libmimalloc-dev), valgrind (instruction counts), and pkg-config and
# python3 (bench/run.sh's report). Idempotent: installs only what is
# missing, and does nothing (no apt-get update either) when all is there.
# Uses sudo when not run as root. The suite builds and runs without any of
# them; the rows that need a missing one say "not measured".
set -eu

pkgs="libdpdk-dev libjemalloc-dev libmimalloc-dev valgrind pkg-config python3"
missing=
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "install-peers.sh: all installed ($pkgs)"
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-peers.sh: no apt-get here; install by hand:$missing" >&2
	exit 1
fi
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "install-peers.sh: installing$missing"
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
