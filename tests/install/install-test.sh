#!/bin/sh
# install-test.sh — the installed nactor works for a downstream user.
#
# Contract checked: `cmake --install` of the build tree into an empty prefix
# puts there the shared library (with its SONAME link), the static library,
# the headers, a CMake package and a pkg-config file; and a program
# (hello.c) builds and runs against that installed copy
#   1. with find_package(nactor) and nactor::nactor        (shared)
#   2. with find_package(nactor) and nactor::nactor_static (static)
#   3. with cc $(pkg-config --cflags --libs nactor)         (shared)
#   4. with pkg-config --static and libnactor.a             (static)
# A static binary must not need libnactor.so at run time.
#
# usage: install-test.sh BUILD_DIR SRC_DIR LIBDIR CMAKEDIR CC CMAKE [SAN_FLAGS]
# (LIBDIR and CMAKEDIR as configured, relative to the prefix or absolute)
# (registered by tests/install/CMakeLists.txt; sanitizer flags are passed
# so the consumer links the same runtime as an instrumented library).
set -eu

if [ $# -lt 6 ] || [ -z "$3" ] || [ -z "$4" ]; then
	echo "usage: install-test.sh BUILD_DIR SRC_DIR LIBDIR CMAKEDIR CC CMAKE [SAN_FLAGS]" >&2
	exit 2
fi
build=$1
src=$2
libdir=$3
cmakedir=$4
cc=$5
cmake=$6
san=${7:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nactor-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix
lib=$prefix/$libdir
case $libdir in /*) lib=$libdir ;; esac
pkgdir=$prefix/$cmakedir
case $cmakedir in /*) pkgdir=$cmakedir ;; esac

step() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "cmake --install failed"; }

step "installed files"
for f in "$lib/libnactor.so" "$lib/libnactor.a" \
    "$prefix/include/nactor/nactor.h" "$prefix/include/nactor/mailbox.h" \
    "$pkgdir/nactorConfig.cmake" "$pkgdir/nactorConfigVersion.cmake" \
    "$pkgdir/nactorTargets.cmake" "$lib/pkgconfig/nactor.pc"; do
	[ -e "$f" ] || fail "missing $f"
done
soname=$(ls "$lib"/libnactor.so.* 2>/dev/null | head -n 1)
[ -n "$soname" ] || fail "no versioned libnactor.so.N in $lib"
echo "ok:" $(cd "$lib" && ls libnactor*)

# run NAME BINARY: run it and check its one line of output.
run() {
	out=$(LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$2") ||
		fail "$1 exited with $?"
	echo "$1: $out"
	[ "$out" = "nactor hello: 41 -> 42" ] || fail "$1 printed '$out'"
}

# static BINARY: it must not depend on libnactor.so.
static_only() {
	if command -v readelf >/dev/null 2>&1; then
		if readelf -d "$1" | grep -q 'NEEDED.*libnactor'; then
			fail "$1 is linked against libnactor.so"
		fi
	fi
}

step "find_package(nactor) with CMAKE_PREFIX_PATH"
"$cmake" -S "$src/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" \
    >"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log"; fail "configure"; }
"$cmake" --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 ||
	{ cat "$tmp/consumer.log"; fail "build"; }
run "cmake nactor::nactor" "$tmp/consumer/hello_shared"
static_only "$tmp/consumer/hello_static"
run "cmake nactor::nactor_static" "$tmp/consumer/hello_static"

step "pkg-config nactor"
PKG_CONFIG_PATH="$lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
echo "cflags: $(pkg-config --cflags nactor)"
echo "libs:   $(pkg-config --libs nactor)"
echo "static: $(pkg-config --static --libs nactor)"
[ "$(pkg-config --modversion nactor)" = "$(sed -n 's/^Version: //p' "$lib/pkgconfig/nactor.pc")" ] ||
	fail "pkg-config --modversion"
# shellcheck disable=SC2046,SC2086
"$cc" $san -o "$tmp/hello_pc" "$src/hello.c" $(pkg-config --cflags --libs nactor) ||
	fail "cc with pkg-config --cflags --libs"
run "pkg-config (shared)" "$tmp/hello_pc"

# Static: the archive by name first, then everything --static lists as its
# dependencies; --as-needed drops the -lnactor that would pull in the .so.
# shellcheck disable=SC2046,SC2086
"$cc" $san -DNACT_STATIC_LIB -o "$tmp/hello_pc_static" "$src/hello.c" \
    $(pkg-config --cflags nactor) -Wl,--as-needed "$lib/libnactor.a" \
    $(pkg-config --static --libs nactor) ||
	fail "cc with libnactor.a and pkg-config --static --libs"
static_only "$tmp/hello_pc_static"
run "pkg-config --static" "$tmp/hello_pc_static"

echo "PASS: install test"
