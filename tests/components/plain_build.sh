#!/bin/sh
# plain_build: a user's plain build needs none of the test tools.
#
#   sh tests/components/plain_build.sh SOURCE_DIR BUILD_DIR VERSION
#
# Runs `cmake -S SOURCE_DIR -B BUILD_DIR && cmake --build BUILD_DIR &&
# cmake --install BUILD_DIR --prefix BUILD_DIR/inst` with no option but the
# test tools' variables naming no file (busted, luacheck, ldoc,
# clang-format, lua5.4: as if not installed) and cmocka hidden from
# pkg-config, and checks that:
#   - it configures (ocispec is the top-level project, so the tests are on:
#     the tests needing a missing tool are registered as visible skips);
#   - it builds and installs the library, its headers (with the generated
#     ocispec/config.h and ocispec/version.h), ocispec.pc, the Lua module
#     and the command;
#   - the installed Lua module and command report VERSION (project(VERSION)).
set -eu
src=$1
b=$2
version=$3
JOBS=${JOBS:-2}
fail() { echo "plain_build: FAILED: $*" >&2; exit 1; }
lua=$(command -v lua5.4) || fail "lua5.4 is needed to check the installed module"

rm -rf "$b"
mkdir -p "$b/pc"
# The tools as missing: their cache variables name no file (find_program
# would find them in /usr/bin whatever PATH says), and cmocka.pc is not on
# pkg-config's search path.
nothing="$b/no-such-tool"
tools="-DOCISPEC_BUSTED=$nothing -DOCISPEC_LUACHECK=$nothing -DOCISPEC_LDOC=$nothing
  -DOCISPEC_CLANG_FORMAT=$nothing -DOCISPEC_LUA_EXE=$nothing"
for d in $(pkg-config --variable pc_path pkg-config | tr : ' ') $(echo "${PKG_CONFIG_PATH:-}" | tr : ' '); do
  [ -d "$d" ] || continue
  for f in "$d"/*.pc; do
    n=${f##*/}
    [ "$n" = cmocka.pc ] && continue
    [ -e "$f" ] && [ ! -e "$b/pc/$n" ] && ln -s "$f" "$b/pc/$n"
  done
done
if PKG_CONFIG_LIBDIR="$b/pc" PKG_CONFIG_PATH='' pkg-config --exists cmocka; then
  fail "could not hide cmocka"
fi
PKG_CONFIG_LIBDIR="$b/pc" PKG_CONFIG_PATH='' pkg-config --exists libarchive libcurl libcrypto ||
  fail "hiding cmocka hid the libraries too"

run() { env PKG_CONFIG_LIBDIR="$b/pc" PKG_CONFIG_PATH='' "$@"; }
echo "== cmake -S . -B build (no options but the missing tools)"
# shellcheck disable=SC2086
run cmake -S "$src" -B "$b/build" $tools >"$b/configure.log" 2>&1 || { cat "$b/configure.log"; fail "configure"; }
grep -q 'test tools not found' "$b/configure.log" || fail "configure did not say the test tools are missing"
grep -qx 'OCISPEC_TESTS:BOOL=ON' "$b/build/CMakeCache.txt" || fail "tests are not on in a top-level build"
# the tests that need a missing tool are skips that say why (busted_json
# stands for every busted_<spec>)
(cd "$b/build" && run ctest -V -R '^(busted_json|luacheck|clang_format|ldoc|c_json)$' >"$b/ctest.log" 2>&1) ||
  { cat "$b/ctest.log"; fail "ctest of the skipped tests"; }
for t in busted_json:OCISPEC_BUSTED luacheck:OCISPEC_LUACHECK clang_format:OCISPEC_CLANG_FORMAT \
         ldoc:OCISPEC_LDOC c_json:OCISPEC_CMOCKA; do
  name=${t%%:*}
  grep -Eq "$name \.*\*\*\*Skipped" "$b/ctest.log" && grep -q "SKIP: $name: .*${t#*:} not found" "$b/ctest.log" ||
    { cat "$b/ctest.log"; fail "$name is not reported as skipped for want of ${t#*:}"; }
done

echo "== cmake --build build"
run cmake --build "$b/build" -j "$JOBS" >"$b/build.log" 2>&1 || { tail -50 "$b/build.log"; fail "build"; }
echo "== cmake --install build --prefix inst"
inst="$b/inst"
run cmake --install "$b/build" --prefix "$inst" >"$b/install.log" 2>&1 ||
  { cat "$b/install.log"; fail "install"; }
for f in include/ocispec/ocispec.h include/ocispec/config.h include/ocispec/version.h \
         include/ocispec/layout.h bin/ocispec share/lua/5.4/ocispec/init.lua; do
  [ -e "$inst/$f" ] || fail "$f not installed"
done
libdir=$(dirname "$(find "$inst" -name 'libocispec.so' | head -n 1)")
[ -e "$libdir/libocispec.a" ] || fail "libocispec.a not installed beside libocispec.so"
grep -qx 'Requires.private: libcrypto libarchive libcurl' "$libdir/pkgconfig/ocispec.pc" ||
  { cat "$libdir/pkgconfig/ocispec.pc"; fail "ocispec.pc does not require the default components' libraries"; }
grep -q '^#define OCI_WITH_IMAGE 1' "$inst/include/ocispec/config.h" || fail "config.h lacks OCI_WITH_IMAGE"
grep -q '^#define OCI_WITH_REGISTRY 1' "$inst/include/ocispec/config.h" || fail "config.h lacks OCI_WITH_REGISTRY"
grep -q "^#define OCI_VERSION_STRING \"$version\"" "$inst/include/ocispec/version.h" ||
  fail "version.h does not say $version"
core=$(find "$inst" -name core.so -path '*/ocispec/*' | head -n 1)
[ -n "$core" ] || fail "the Lua module ocispec/core.so is not installed"
got=$(env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 \
      LUA_PATH="$inst/share/lua/5.4/?.lua;$inst/share/lua/5.4/?/init.lua" \
      LUA_CPATH="$(dirname "$(dirname "$core")")/?.so" \
      "$lua" "$inst/bin/ocispec" --version)
[ "$got" = "ocispec $version" ] || fail "installed ocispec --version says '$got', not 'ocispec $version'"
echo "installed: $got"
echo "plain_build: passed"
