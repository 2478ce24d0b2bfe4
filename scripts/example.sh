#!/usr/bin/env bash
# Build ocispec and run the main example (examples/build_image.lua) against the
# build tree, in a fresh folder build/example-run/.
#
#   bash scripts/example.sh                # examples/build_image.lua
#   bash scripts/example.sh other [args]   # examples/other.lua args...
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=$(pwd)

name=${1:-build_image}
[ $# -gt 0 ] && shift
script="$src/examples/$name.lua"
if [ ! -f "$script" ]; then
  echo "example.sh: $script not found" >&2
  exit 1
fi

bash scripts/install-deps.sh >&2
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug >&2
fi
cmake --build build -j "${JOBS:-2}" >&2

run_dir="$src/build/example-run"
rm -rf "$run_dir"
mkdir -p "$run_dir"
cd "$run_dir"
export OCISPEC_SOURCE_DIR="$src" OCISPEC_BUILD_DIR="$src/build"
export LUA_PATH="$src/lua/?.lua;$src/lua/?/init.lua;;"
export LUA_CPATH="$src/build/lua/?.so;;"
export LUA_PATH_5_4="$LUA_PATH" LUA_CPATH_5_4="$LUA_CPATH"
echo "example.sh: running examples/$name.lua in $run_dir" >&2
exec lua5.4 "$script" "$@"
