#!/bin/sh
# Builds the C API reference of the public headers (doxygen, docs/Doxyfile)
# into OUTDIR and fails on any doxygen warning: an undocumented public
# function, type, member or macro, or a malformed doc comment (the
# `doxygen` ctest; `cmake --build build --target docs-c` writes
# build/docs-c/html/index.html).
#   sh scripts/check-c-docs.sh OUTDIR
#   sh scripts/check-c-docs.sh --self-test OUTDIR   # the check catches an
#       undocumented function added to a copy of the headers
set -eu
cd "$(dirname "$0")/.."
self_test=0
if [ "${1:-}" = --self-test ]; then self_test=1; shift; fi
[ $# -eq 1 ] || { echo "usage: $0 [--self-test] OUTDIR" >&2; exit 2; }
if ! command -v doxygen >/dev/null 2>&1; then
  echo "SKIP: doxygen is not installed (Debian package doxygen: scripts/install-deps.sh)"
  exit 77
fi
out_dir=$1
rm -rf "$out_dir" && mkdir -p "$out_dir"

# doxygen with docs/Doxyfile and extra settings ($1...); prints its output,
# returns its status
run_doxygen() {
  { cat docs/Doxyfile; for setting in "$@"; do echo "$setting"; done; } | doxygen - 2>&1
}

if [ "$self_test" = 1 ]; then
  mkdir -p "$out_dir/include/ocispec"
  cp csrc/include/ocispec/*.h "$out_dir/include/ocispec/"
  sed -i 's|^#endif$|OCI_API int oci_undocumented_probe(void);\n#endif|' "$out_dir/include/ocispec/arena.h"
  grep -q oci_undocumented_probe "$out_dir/include/ocispec/arena.h"
  if out=$(run_doxygen "INPUT = \"$out_dir/include/ocispec\" docs/c.md" "OUTPUT_DIRECTORY = \"$out_dir\""); then
    echo "$out"
    echo "check-c-docs: doxygen accepted an undocumented public function" >&2
    exit 1
  fi
  echo "$out" | grep 'oci_undocumented_probe.*is not documented' ||
    { echo "$out"; echo "check-c-docs: doxygen failed, but not on the undocumented function" >&2; exit 1; }
  echo "check-c-docs: an undocumented function fails the check"
  exit 0
fi

status=0
out=$(run_doxygen "OUTPUT_DIRECTORY = \"$out_dir\"") || status=$?
[ -z "$out" ] || echo "$out"
if [ "$status" -ne 0 ] || echo "$out" | grep -q -E 'warning:|error:'; then
  echo "check-c-docs: doxygen reported problems (above)" >&2
  exit 1
fi
echo "check-c-docs: $out_dir/html/index.html"
