#!/bin/sh
# Builds the LDoc API reference into $1 and fails on any LDoc warning or
# error (the `ldoc` ctest), so doc comments cannot rot.
#   sh scripts/check-docs.sh OUTDIR
set -eu
cd "$(dirname "$0")/.."
out=$(ldoc -d "$1" . 2>&1) || { echo "$out"; exit 1; }
echo "$out"
if echo "$out" | grep -E ':[0-9]+: |[Ww]arning|[Ee]rror'; then
  echo "check-docs: LDoc reported problems (above)" >&2
  exit 1
fi
