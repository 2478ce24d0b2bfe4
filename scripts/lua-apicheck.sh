#!/usr/bin/env bash
# Run the busted suite under a Lua 5.4 built with LUA_USE_APICHECK (every
# C API call checks its stack and arguments: a binding that writes past the
# Lua stack aborts at once instead of corrupting memory).
#
#   bash scripts/lua-apicheck.sh           # LUA_USE_APICHECK
#   bash scripts/lua-apicheck.sh --assert  # and LUAI_ASSERT (internal checks)
#
# The interpreter is Debian's own lua5.4 source, the version of the
# installed liblua5.4-dev (apt-get source through a private sources list:
# no root, nothing installed), built outside the repository in
# $LUA_APICHECK_DIR (default ../lua-apicheck beside the checkout). Lua C
# modules of Debian (lfs, term, system) load into it: none links liblua.
# Needs the build/ tree (bash scripts/test.sh) and access to
# deb.debian.org. Not in .ci/run: it downloads and takes a few minutes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
dir=${LUA_APICHECK_DIR:-$root/../lua-apicheck}
flags="-DLUA_USE_APICHECK"
name=lua5.4-apicheck
for arg in "$@"; do
  case "$arg" in
    --assert) flags="$flags -DLUAI_ASSERT"; name=lua5.4-assert ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "lua-apicheck.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
[ -f build/lua/ocispec/core.so ] || { echo "lua-apicheck.sh: build/ first (scripts/test.sh)" >&2; exit 2; }

version=$(dpkg-query -W -f='${Version}' liblua5.4-dev)
. /etc/os-release
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/bin" "$dir/path-$name"
if [ ! -d "$dir/src-$version" ]; then
  cat >"$dir/apt/src.list" <<EOF
deb-src http://deb.debian.org/debian $VERSION_CODENAME main
deb-src http://deb.debian.org/debian $VERSION_CODENAME-updates main
deb-src http://deb.debian.org/debian-security $VERSION_CODENAME-security main
EOF
  apt=(-o "Dir::Etc::SourceList=$dir/apt/src.list" -o Dir::Etc::SourceParts=/dev/null
       -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache"
       -o Debug::NoLocking=1)
  apt-get "${apt[@]}" update -qq
  (cd "$dir" && apt-get "${apt[@]}" source --download-only -qq "lua5.4=$version")
  dpkg-source -x "$dir/lua5.4_${version}.dsc" "$dir/src-$version" >/dev/null
fi
src=$dir/src-$version/src
if [ ! -x "$dir/bin/$name" ]; then
  # shellcheck disable=SC2046,SC2086
  (cd "$src" && gcc -std=gnu99 -O1 -g -DLUA_COMPAT_5_3 -DLUA_USE_LINUX $flags \
    -Wl,-E -o "$dir/bin/$name" lua.c $(ls ./*.c | grep -v -e '/lua\.c$' -e '/luac\.c$') \
    -lm -ldl -lreadline)
fi
ln -sf "$dir/bin/$name" "$dir/path-$name/lua5.4" # the specs run `lua5.4` too
echo "lua-apicheck.sh: $("$dir/bin/$name" -v) ($version, $flags)"

lp="$root/lua/?.lua;$root/lua/?/init.lua;;"
cp="$root/build/lua/?.so;;"
PATH="$dir/path-$name:$PATH" OCISPEC_SOURCE_DIR=$root OCISPEC_BUILD_DIR=$root/build \
  LUA_PATH="$lp" LUA_CPATH="$cp" LUA_PATH_5_4="$lp" LUA_CPATH_5_4="$cp" \
  exec lua5.4 /usr/bin/busted --output=plainTerminal
