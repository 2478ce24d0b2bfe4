#!/usr/bin/env bash
# THE test command: install deps, configure, build, run every suite with ctest.
#
#   bash scripts/test.sh                # build/      Debug, + valgrind_busted
#   bash scripts/test.sh --sanitize     # build-asan/ Debug, ASan + UBSan
#   bash scripts/test.sh --no-valgrind  # build/      without valgrind_busted
#   bash scripts/test.sh --tsan         # build-tsan/ ThreadSanitizer: c_threads only
#   bash scripts/test.sh --release      # build-release/ Release (-O3, the usual
#                                       # user build): warning-free, then every suite
#
# Every build here treats warnings as errors (OCISPEC_WERROR=ON); a user's
# own cmake build does not (the option is OFF by default).
#
# Extra environment: OCISPEC_CONFORMANCE (conformance folder; default
# ../shared/conformance), JOBS (build parallelism, default 2).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=build
build_type=Debug
sanitize=OFF
tsan=OFF
valgrind=ON
for arg in "$@"; do
  case "$arg" in
    --sanitize) build_dir=build-asan; sanitize=ON; valgrind=OFF ;;
    --tsan) build_dir=build-tsan; tsan=ON; valgrind=OFF ;;
    --release) build_dir=build-release; build_type=Release; valgrind=OFF ;;
    --valgrind) valgrind=ON ;;
    --no-valgrind) valgrind=OFF ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "test.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh

cmake -S . -B "$build_dir" \
  -DCMAKE_BUILD_TYPE="$build_type" \
  -DOCISPEC_WERROR=ON \
  -DOCISPEC_TESTS=ON \
  -DOCISPEC_SANITIZE="$sanitize" \
  -DOCISPEC_VALGRIND="$valgrind" \
  -DOCISPEC_TSAN="$tsan"
if [ "$tsan" = ON ]; then
  # TSan: the threaded test (the library with -fsanitize=thread)
  cmake --build "$build_dir" -j "${JOBS:-2}" --target test_threads
  cd "$build_dir"
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
    exec ctest --output-on-failure -R '^c_threads$' </dev/null
fi
cmake --build "$build_dir" -j "${JOBS:-2}"

cd "$build_dir"
exec ctest --output-on-failure </dev/null
