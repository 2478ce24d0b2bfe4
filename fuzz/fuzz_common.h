/* Shared helpers of the libFuzzer targets. Not a target itself.

   Input format of the document targets: byte 0 picks the type,
   oci_all_types[byte0 % ntypes]; (byte0 / ntypes) & 1 selects lenient
   parsing (duplicate keys and missing required fields allowed). The rest
   is the JSON text. `OCISPEC_FUZZ_LIST_TYPES=1 ./fuzz_<t>` prints
   "<index> <c_name>" for every type and exits (scripts/fuzz.sh uses it to
   build seed corpora). */
#ifndef OCISPEC_FUZZ_COMMON_H
#define OCISPEC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocispec/ocispec.h"

/* A property broke: report and crash so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__,      \
              #cond);                                                          \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
      abort();                                                                 \
    }                                                                          \
  } while (0)

static inline size_t fuzz_ntypes(void) {
  size_t n = 0;
  while (oci_all_types[n])
    n++;
  return n;
}

static inline void fuzz_maybe_list_types(void) {
  const char *e = getenv("OCISPEC_FUZZ_LIST_TYPES");
  if (!e || !*e) return;
  for (size_t i = 0; oci_all_types[i]; i++)
    printf("%zu %s\n", i, oci_all_types[i]->c_name);
  exit(0);
}

/* Every failure carries a specific code (never OK, never unknown) and a
   message. */
static inline void fuzz_check_error(int rc, const oci_error *err) {
  FUZZ_CHECK(rc < 0 && rc >= OCI_ECANCELED, "rc %d", rc);
  FUZZ_CHECK(err->code == rc, "err.code %d != rc %d", err->code, rc);
  FUZZ_CHECK(err->message[0] != '\0', "empty message for rc %d", rc);
  FUZZ_CHECK(strlen(err->pointer) < sizeof err->pointer, "pointer");
  FUZZ_CHECK(err->pointer[0] == '\0' || err->pointer[0] == '/',
             "pointer \"%s\"", err->pointer);
}

#endif
