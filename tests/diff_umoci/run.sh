#!/usr/bin/env bash
# The long run of the differential test against umoci (ctest runs 200 seeds):
#
#   bash tests/diff_umoci/run.sh                      # 10,000 seeds, build/
#   bash tests/diff_umoci/run.sh --seeds 50000 --start 10000 --jobs 4
#   bash tests/diff_umoci/run.sh --build-dir build-asan --preload "$(gcc -print-file-name=libasan.so)"
#
# Options are diff_umoci.py's (--seeds, --start, --jobs, --build-dir,
# --preload, --out); defaults here: --seeds 10000, --jobs = nproc,
# --out diff-umoci-failures (failing images with their seed, listing and
# diff), summary in diff-umoci-failures/summary.txt. Exit as diff_umoci.py:
# 0 no difference, 1 differences, 77 umoci missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out=diff-umoci-failures
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
mkdir -p "$out"
exec python3 "$here/diff_umoci.py" --seeds 10000 --jobs "$(nproc)" \
  --out "$out" --summary "$out/summary.txt" "${args[@]}"
