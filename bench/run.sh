#!/bin/sh
# The benchmark suite in one command (figures, never pass/fail):
#
#   bash bench/run.sh               configure + build build-rel/ (Release,
#                                   OCISPEC_BENCH=ON), run every bench/*.c
#                                   and bench/*.lua (the `bench` target)
#   bash bench/run.sh --callgrind   instruction counts instead: each phase
#                                   of each input under callgrind, Ir/byte
#   bash bench/run.sh --quick       fewer repetitions (3 instead of 7)
#   bash bench/run.sh --peers       the C round trip against the prebuilt
#                                   peers of ../shared/peers (oci-spec-rs,
#                                   Go, libocispec, simdjson), same run
#                                   (bench/peers/compare.lua)
#
# Inputs: $OCISPEC_BENCH_INPUTS, else ../shared/bench-inputs beside the
# checkout. Peers: $OCISPEC_BENCH_PEERS, else ../shared/peers. Build folder:
# $OCISPEC_BENCH_BUILD (default build-rel).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${OCISPEC_BENCH_BUILD:-$src/build-rel}
mode=run
for a in "$@"; do
  case "$a" in
    --callgrind) mode=callgrind ;;
    --quick) OCISPEC_BENCH_QUICK=1; export OCISPEC_BENCH_QUICK ;;
    --peers) mode=peers ;;
    *) echo "usage: bash bench/run.sh [--callgrind|--peers] [--quick]" >&2; exit 2 ;;
  esac
done
: "${OCISPEC_BENCH_INPUTS:=$src/../shared/bench-inputs}"
OCISPEC_BENCH_INPUTS=$(cd "$OCISPEC_BENCH_INPUTS" && pwd)
export OCISPEC_BENCH_INPUTS

# Warnings are not errors here: a compiler's -O2-only false positive in any
# file must not stop the figures (the Debug build and ctest keep -Werror).
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DOCISPEC_BENCH=ON \
  -DOCISPEC_WERROR=OFF >/dev/null
if [ "$mode" = run ]; then
  exec cmake --build "$build" -j2 --target bench
fi

cmake --build "$build" -j2 --target bench_codec >/dev/null
gen="$build/bench-generated"
"$build/bench/bench_codec" --generate "$gen"
if [ "$mode" = peers ]; then
  : "${OCISPEC_BENCH_PEERS:=$src/../shared/peers}"
  rounds=5
  [ -n "${OCISPEC_BENCH_QUICK:-}" ] && rounds=3
  exec lua5.4 "$src/bench/peers/compare.lua" --codec "$build/bench/bench_codec" \
    --peers "$OCISPEC_BENCH_PEERS" --inputs "$OCISPEC_BENCH_INPUTS" --gen "$gen" \
    --rounds "$rounds"
fi
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '## Instruction counts (callgrind Ir of the measured loop only, per byte read)\n\n'
printf '%-22s %10s %10s %10s %10s %10s %10s\n' input bytes check yajl parse serialize roundtrip
for spec in "$OCISPEC_BENCH_INPUTS/image-manifest.json manifest 200" \
            "$OCISPEC_BENCH_INPUTS/image-index.json index 200" \
            "$OCISPEC_BENCH_INPUTS/image-config.json config 50" \
            "$OCISPEC_BENCH_INPUTS/runtime-config.json runtime 100" \
            "$gen/index-10000.json index 1" \
            "$gen/config-5000.json config 1"; do
  set -- $spec
  file=$1 type=$2 n=$3
  bytes=$(wc -c <"$file")
  line=$(printf '%-22s %10s' "$(basename "$file")" "$bytes")
  for ph in check yajl parse serialize roundtrip; do
    valgrind --tool=callgrind --toggle-collect=bench_loop \
      --callgrind-out-file="$out/cg.out" \
      "$build/bench/bench_codec" --loop "$ph" "$file" "$type" "$n" >/dev/null 2>&1
    ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out/cg.out")
    [ -n "$ir" ] || ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out/cg.out")
    line="$line $(awk -v ir="$ir" -v n="$n" -v b="$bytes" 'BEGIN{printf "%10.2f", ir/n/b}')"
  done
  echo "$line"
done
printf '\nProfile one phase: valgrind --tool=callgrind --toggle-collect=bench_loop --dump-instr=yes %s/bench/bench_codec --loop parse FILE TYPE N; callgrind_annotate callgrind.out.*\n' "$build"
