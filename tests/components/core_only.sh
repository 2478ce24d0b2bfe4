#!/bin/sh
# core_only: the core built alone, as a parse-only user builds it.
#
#   sh tests/components/core_only.sh SOURCE_DIR BUILD_DIR
#
# Configures BUILD_DIR (emptied first) with -DOCISPEC_WITH_IMAGE=OFF
# -DOCISPEC_WITH_REGISTRY=OFF (tests on, Debug, -Werror) and checks that:
#   - configuring looked for neither libarchive nor libcurl (OpenSSL's
#     libcrypto is the core's one library: every digest);
#   - it builds; the C tests of json, schema and rules, the Lua smoke check
#     (tests/components/smoke.lua: parse and validate work, ocispec.layout
#     and the others say "not available") and the examples that need no
#     optional component pass (its own ctest);
#   - libocispec.so, the Lua module and a program linked with the installed
#     library need neither libarchive nor libcurl (nor libssl)
#     (readelf -d and ldd);
#   - the installed ocispec.pc requires libcrypto only, ocispec/config.h defines
#     neither OCI_WITH_IMAGE nor OCI_WITH_REGISTRY, and including
#     <ocispec/layout.h> stops the compiler with a clear message.
set -eu
src=$1
b=$2
JOBS=${JOBS:-2}
fail() { echo "core_only: FAILED: $*" >&2; exit 1; }

rm -rf "$b"
mkdir -p "$b"
echo "== configure (OCISPEC_WITH_IMAGE=OFF OCISPEC_WITH_REGISTRY=OFF)"
cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=Debug -DOCISPEC_WERROR=ON \
  -DOCISPEC_TESTS=ON -DOCISPEC_WITH_IMAGE=OFF -DOCISPEC_WITH_REGISTRY=OFF \
  -DOCISPEC_VALGRIND=OFF >"$b/configure.log" 2>&1 || { cat "$b/configure.log"; fail "configure"; }
grep -q "ocispec components: schema;json;rules$" "$b/configure.log" ||
  fail "configure did not report the components schema;json;rules"
if grep -E '^(LIBARCHIVE|LIBCURL|pkgcfg_lib_LIBARCHIVE|pkgcfg_lib_LIBCURL)[A-Z_a-z]*:' \
    "$b/CMakeCache.txt"; then
  fail "configure looked for libarchive or libcurl (above, from CMakeCache.txt)"
fi

echo "== build"
cmake --build "$b" -j "$JOBS" >"$b/build.log" 2>&1 || { tail -50 "$b/build.log"; fail "build"; }

echo "== ctest (C tests of json, schema, rules; lua_components; examples)"
(cd "$b" && ctest --output-on-failure -R '^(c_.*|lua_components|example_.*)$' </dev/null) ||
  fail "the core-only build's tests"

echo "== linked libraries"
check_needed() { # FILE: no optional dependency among its libraries
  needed=$(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  echo "$1: NEEDED $(echo $needed)"
  # the check is not vacuous: readelf found the C library
  echo "$needed" | grep -q '^libc\.so' || fail "readelf -d $1 lists no libc.so: cannot check"
  if echo "$needed" | grep -E 'libssl|libarchive|libcurl'; then
    fail "$1 needs an optional component's library"
  fi
  if ldd "$1" | grep -E 'libssl|libarchive|libcurl'; then
    fail "$1 loads an optional component's library (ldd)"
  fi
}
lib=$(ls "$b"/libocispec.so.*.*.* | head -n 1)
check_needed "$lib"
check_needed "$b/lua/ocispec/core.so"

echo "== install and use"
inst="$b/inst"
cmake --install "$b" --prefix "$inst" >"$b/install.log" 2>&1 || { cat "$b/install.log"; fail "install"; }
pc=$(find "$inst" -name ocispec.pc | head -n 1)
[ -n "$pc" ] || fail "no ocispec.pc installed"
grep -qx 'Requires.private: libcrypto' "$pc" || { cat "$pc"; fail "$pc requires libraries the core does not use"; }
cfg="$inst/include/ocispec/config.h"
[ -f "$cfg" ] || fail "no ocispec/config.h installed"
if grep -E '^#define OCI_WITH_(IMAGE|REGISTRY)' "$cfg"; then fail "$cfg defines a component not built"; fi
grep -q 'undef OCI_WITH_IMAGE' "$cfg" || fail "$cfg does not say OCI_WITH_IMAGE is undefined"
export PKG_CONFIG_PATH="$(dirname "$pc")"
cc=${CC:-cc}
cat >"$b/use.c" <<'C'
#include <stdio.h>
#include <string.h>

#include <ocispec/ocispec.h>

#if defined(OCI_WITH_IMAGE) || defined(OCI_WITH_REGISTRY)
#error "config.h says a component is there"
#endif

int main(void) {
  static const char doc[] =
      "{\"schemaVersion\":2,\"mediaType\":"
      "\"application/vnd.oci.image.manifest.v1+json\",\"config\":{"
      "\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
      "\"size\":2,\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb"
      "4fc21fe77e8310c060f61caaff8a\"},\"layers\":[]}";
  oci_image_manifest *m = NULL;
  oci_error err;
  if (oci_image_manifest_parse(doc, strlen(doc), NULL, &m, &err)) {
    fprintf(stderr, "parse: %s\n", err.message);
    return 1;
  }
  printf("%s %s %d\n", oci_version(), OCI_VERSION_STRING, (int)m->schema_version);
  oci_image_manifest_free(m);
  return strcmp(oci_version(), OCI_VERSION_STRING) != 0;
}
C
# shellcheck disable=SC2046
$cc -std=c11 -Wall -Werror -o "$b/use" "$b/use.c" $(pkg-config --cflags --libs ocispec) ||
  fail "a program using the installed core does not build"
libdir=$(pkg-config --variable=libdir ocispec)
out=$(LD_LIBRARY_PATH="$libdir" "$b/use") || fail "the program using the installed core failed: $out"
echo "use: $out"
check_needed "$b/use"
printf '#include <ocispec/layout.h>\nint main(void) { return 0; }\n' >"$b/layout.c"
if $cc -c -o "$b/layout.o" "$b/layout.c" $(pkg-config --cflags ocispec) 2>"$b/layout.err"; then
  fail "<ocispec/layout.h> compiled in a build without OCISPEC_WITH_IMAGE"
fi
grep -q 'ocispec was built without OCISPEC_WITH_IMAGE' "$b/layout.err" ||
  { cat "$b/layout.err"; fail "<ocispec/layout.h> did not say why it is missing"; }
echo "core_only: passed"
