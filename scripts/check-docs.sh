#!/bin/sh
# Builds the LDoc API reference (the Lua modules, with README.md and the
# docs/ pages as topics) into $1 and fails on any LDoc warning or error
# (the `ldoc` ctest), so doc comments cannot rot.
#   sh scripts/check-docs.sh OUTDIR
set -eu
cd "$(dirname "$0")/.."
# Pages complete in themselves: a module's doc (or the CLI's help) says what
# it needs to, never "see the README" (the reference lives in docs/).
if grep -n 'README' lua/ocispec/*.lua bin/ocispec; then
  echo "check-docs: the lines above send the reader to the README; say it here (or name a docs/ page)" >&2
  exit 1
fi
out=$(ldoc -d "$1" . 2>&1) || { echo "$out"; exit 1; }
echo "$out"
if echo "$out" | grep -E ':[0-9]+: |[Ww]arning|[Ee]rror'; then
  echo "check-docs: LDoc reported problems (above)" >&2
  exit 1
fi
