#!/usr/bin/env bash
# THE test command: install deps, configure, build, run every suite with ctest.
#
#   bash scripts/test.sh                # build/      Debug, + valgrind_busted_*
#   bash scripts/test.sh --sanitize     # build-asan/ Debug, ASan + UBSan
#   bash scripts/test.sh --no-valgrind  # build/      without valgrind_busted_*
#   bash scripts/test.sh --tsan         # build-tsan/ ThreadSanitizer: c_threads,
#                                       # c_layer_threads, c_unpack and c_pool_live
#                                       # (jobs=4 against docker-registry) only
#   bash scripts/test.sh --release      # build-release/ Release (-O3, the usual
#                                       # user build): warning-free, then every suite
#   bash scripts/test.sh --coverage     # build-cov/  gcov line coverage of csrc/ and
#                                       # a line-hook coverage of lua/ocispec and bin/
#
# Every build here treats warnings as errors (OCISPEC_WERROR=ON); a user's
# own cmake build does not (the option is OFF by default).
#
# Extra environment: OCISPEC_CONFORMANCE (conformance folder; default
# ../shared/conformance), JOBS (build parallelism, default 2), CTEST_JOBS
# (tests run at once, default 2),
# OCISPEC_REQUIRE_ALL=1 (.ci/run sets it): a skipped test fails the run.
#
# At the end it lists every skipped test (ctest "Not Run"/"Skipped") with
# the "SKIP: ..." lines its output gave as the reason.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=build
build_type=Debug
sanitize=OFF
tsan=OFF
valgrind=ON
coverage=OFF
for arg in "$@"; do
  case "$arg" in
    --sanitize) build_dir=build-asan; sanitize=ON; valgrind=OFF ;;
    --tsan) build_dir=build-tsan; tsan=ON; valgrind=OFF ;;
    --release) build_dir=build-release; build_type=Release; valgrind=OFF ;;
    --valgrind) valgrind=ON ;;
    --no-valgrind) valgrind=OFF ;;
    --coverage) build_dir=build-cov; coverage=ON; valgrind=OFF ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "test.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh

cov_flags=()
if [ "$coverage" = ON ]; then
  cov_flags=(-DCMAKE_C_FLAGS=--coverage -DCMAKE_EXE_LINKER_FLAGS=--coverage
             -DCMAKE_SHARED_LINKER_FLAGS=--coverage -DCMAKE_MODULE_LINKER_FLAGS=--coverage)
fi
cmake -S . -B "$build_dir" "${cov_flags[@]}" \
  -DCMAKE_BUILD_TYPE="$build_type" \
  -DOCISPEC_WERROR=ON \
  -DOCISPEC_TESTS=ON \
  -DOCISPEC_SANITIZE="$sanitize" \
  -DOCISPEC_VALGRIND="$valgrind" \
  -DOCISPEC_TSAN="$tsan"
if [ "$tsan" = ON ]; then
  # TSan: the threaded tests (the library with -fsanitize=thread)
  cmake --build "$build_dir" -j "${JOBS:-2}" --target test_threads test_layer_threads test_unpack \
    test_pool_live
  cd "$build_dir"
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
    exec ctest --output-on-failure -R '^c_((layer_)?threads|unpack|pool_live)$' </dev/null
fi
cmake --build "$build_dir" -j "${JOBS:-2}"

if [ "$coverage" = ON ]; then
  # every lua5.4 the suites start counts its lines (spec/support/coverage.lua)
  find "$build_dir" -name '*.gcda' -delete
  rm -rf "$build_dir/lua-coverage" && mkdir -p "$build_dir/lua-coverage"
  export LUA_INIT_5_4="@$PWD/spec/support/coverage.lua"
  export OCISPEC_LUA_COVERAGE_DIR="$PWD/$build_dir/lua-coverage"
  # README and docs/ C blocks link the instrumented libocispec.a
  export OCISPEC_TEST_CFLAGS=--coverage
fi

cd "$build_dir"
rc=0
# two at a time (CI has 2 cores): every spec file is its own test, each in
# its own temporary folders with registries on ports the OS picks
ctest --output-on-failure -j "${CTEST_JOBS:-2}" </dev/null || rc=$?

if [ "$coverage" = ON ]; then
  unset LUA_INIT_5_4
  echo
  echo "C line coverage (gcov) of csrc/:"
  # the library's objects (tests, the CLI, the Lua module) and the binding's
  find CMakeFiles/ocispec_objects.dir CMakeFiles/ocispec_core.dir -name '*.gcda' 2>/dev/null | sort |
    while read -r f; do (cd "$(dirname "$f")" && gcov -n "$(basename "$f")" 2>/dev/null); done | awk '
    /^File / { file = $2; gsub(/\047/, "", file) }
    /^Lines executed:/ && file ~ /\/csrc\// && file !~ /\.(h|def)$/ {
      split($2, a, ":"); pct = a[2]; sub(/%/, "", pct); n = $4
      hit = pct * n / 100; H += hit; N += n
      sub(/.*\/csrc\//, "csrc/", file); printf "%6.1f%%  %5d  %s\n", pct, n, file
      file = "" }
    END { if (N) printf "C line coverage: %.1f%% (%d of %d lines)\n", 100 * H / N, H + 0.5, N }'
  echo
  echo "Lua line coverage (debug.sethook) of lua/ocispec and bin/ocispec:"
  lua5.4 ../scripts/lua-coverage.lua .. lua-coverage
fi

# What was skipped, and why: every "SKIP: ..." line of each test's output
# (busted's pending tests, cmocka skips, examples and runners exiting 77).
skips=$(awk '
  /^[0-9]+\/[0-9]+ Test: / { sub(/^[0-9]+\/[0-9]+ Test: /, ""); name = $0; next }
  /^SKIP: / { print "  " name ": " substr($0, 7) }
' Testing/Temporary/LastTest.log 2>/dev/null || true)
if [ -n "$skips" ]; then
  echo
  echo "test.sh: skipped, and why:"
  echo "$skips"
  if [ "${OCISPEC_REQUIRE_ALL:-0}" = 1 ]; then
    echo "test.sh: OCISPEC_REQUIRE_ALL=1: nothing may be skipped here (a peer tool, root or ../shared is missing)" >&2
    [ "$rc" -ne 0 ] || rc=1
  fi
else
  echo "test.sh: nothing skipped"
fi
exit "$rc"
