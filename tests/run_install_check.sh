#!/usr/bin/env bash
# Install a built tree into a temporary prefix, move the prefix elsewhere
# (nothing may remember where it was installed), and build and run the
# program in tests/consumer/ against it:
#   (a) cc consumer.c $(pkg-config --cflags --libs pktmem), shared, run with
#       LD_LIBRARY_PATH; and statically with pkg-config --static;
#   (b) a CMake project using find_package(pktmem), linking pktmem::pktmem
#       and pktmem::pktmem_static.
# Exits 77 (CTest: skipped) after (b) when pkg-config is not installed --
# .ci/run installs it, so in CI (a) always runs.
#
# usage: run_install_check.sh CMAKE BUILD_DIR LIBDIR CC "EXTRA_CFLAGS" VERSION
set -euo pipefail

cmake=$1 build=$2 libdir=$3 cc=$4 extra=$5 version=$6
here=$(cd "$(dirname "$0")" && pwd)
src=$here/consumer
read -r -a xflags <<<"$extra"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pktmem-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
step() { echo "== $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

step "cmake --install $build --prefix $tmp/stage"
"$cmake" --install "$build" --prefix "$tmp/stage" >"$tmp/install.log" || { cat "$tmp/install.log"; die "install failed"; }
mv "$tmp/stage" "$tmp/moved"
prefix=$tmp/moved
echo "   (moved the prefix to $prefix)"

step "installed files"
for f in include/pktmem/slab.h include/pktmem/mempool.h include/pktmem/gfp.h \
	 include/pktmem/pktmem.h include/pktmem/export.h \
	 "$libdir/libpktmem.a" "$libdir/libpktmem.so" "$libdir/libpktmem.so.${version%%.*}" \
	 "$libdir/libpktmem.so.$version" "$libdir/pkgconfig/pktmem.pc" \
	 "$libdir/cmake/pktmem/pktmemConfig.cmake" \
	 "$libdir/cmake/pktmem/pktmemConfigVersion.cmake" \
	 "$libdir/cmake/pktmem/pktmemTargets.cmake"; do
	[ -e "$prefix/$f" ] || die "missing $prefix/$f"
done
want=$(cd "$here/../include/pktmem" && ls -- *.h | LC_ALL=C sort)
got=$(cd "$prefix/include/pktmem" && ls | LC_ALL=C sort)
[ "$want" = "$got" ] || die "installed headers differ from include/pktmem: $(diff <(echo "$want") <(echo "$got") | tr '\n' ' ')"
if grep -nE '^[a-z_]+=/' "$prefix/$libdir/pkgconfig/pktmem.pc"; then
	die "pktmem.pc holds an absolute path (must be relative to \${pcfiledir})"
fi

# The dynamic loader must pick the installed copy, not the build tree's.
check_uses_installed() {
	local exe=$1 line
	line=$(ldd "$exe" | grep 'libpktmem\.so' || true)
	[[ $line == *"$prefix/$libdir/libpktmem.so"* ]] || die "$exe does not load the installed libpktmem.so: '$line'"
}
check_static() {
	if ldd "$1" | grep -q 'libpktmem\.so'; then die "$1 is linked against libpktmem.so, want libpktmem.a"; fi
}

have_pkg_config=1
command -v pkg-config >/dev/null 2>&1 || have_pkg_config=0
if [ $have_pkg_config -eq 1 ]; then
	export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
	unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_ALLOW_SYSTEM_CFLAGS PKG_CONFIG_ALLOW_SYSTEM_LIBS || true
	step "(a) pkg-config: $(pkg-config --cflags --libs pktmem)"
	mv_=$(pkg-config --modversion pktmem)
	[ "$mv_" = "$version" ] || die "pkg-config --modversion pktmem says '$mv_', want $version"
	# shellcheck disable=SC2046
	"$cc" "${xflags[@]}" -o "$tmp/consumer_pc" "$src/consumer.c" $(pkg-config --cflags --libs pktmem)
	LD_LIBRARY_PATH=$prefix/$libdir check_uses_installed "$tmp/consumer_pc"
	LD_LIBRARY_PATH=$prefix/$libdir "$tmp/consumer_pc"

	step "(a) pkg-config --static: $(pkg-config --static --libs pktmem)"
	# shellcheck disable=SC2046
	"$cc" "${xflags[@]}" -o "$tmp/consumer_pc_static" "$src/consumer.c" $(pkg-config --cflags pktmem) \
		-Wl,-Bstatic $(pkg-config --static --libs pktmem) -Wl,-Bdynamic
	check_static "$tmp/consumer_pc_static"
	"$tmp/consumer_pc_static"
else
	echo "== (a) skipped: pkg-config is not installed"
fi

step "(b) find_package(pktmem $version) with CMAKE_PREFIX_PATH=$prefix"
"$cmake" -S "$src" -B "$tmp/cbuild" \
	-DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_C_FLAGS="$extra" \
	-DPKTMEM_EXPECT_VERSION="$version" >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; die "consumer configure failed"; }
"$cmake" --build "$tmp/cbuild" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; die "consumer build failed"; }
check_uses_installed "$tmp/cbuild/consumer_shared"
check_static "$tmp/cbuild/consumer_static"
"$tmp/cbuild/consumer_shared"
"$tmp/cbuild/consumer_static"

if [ $have_pkg_config -eq 0 ]; then
	echo "SKIP: pkg-config not installed; (b) passed, (a) not run"
	exit 77
fi
echo "install check: ok"
