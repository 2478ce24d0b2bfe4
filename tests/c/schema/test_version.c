/* ocispec/version.h and oci_version(): the version is written once, in
   CMakeLists.txt's project(VERSION); the header's macros, the library's
   oci_version() and that line must agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocispec/version.h"

static void test_macros_and_library_agree(void **state) {
  (void)state;
  char parts[64];
  int n = snprintf(parts, sizeof parts, "%d.%d.%d", OCI_VERSION_MAJOR,
                   OCI_VERSION_MINOR, OCI_VERSION_PATCH);
  assert_true(n > 0 && (size_t)n < sizeof parts);
  assert_string_equal(parts, OCI_VERSION_STRING);
  assert_string_equal(oci_version(), OCI_VERSION_STRING);
}

/* The oracle: the text of CMakeLists.txt itself. */
static void test_project_version(void **state) {
  (void)state;
  FILE *f = fopen(OCISPEC_SOURCE_DIR "/CMakeLists.txt", "r");
  assert_non_null(f);
  char line[512], found[64] = "";
  while (fgets(line, sizeof line, f)) {
    const char *p = strstr(line, "project(ocispec VERSION ");
    if (p && sscanf(p, "project(ocispec VERSION %63[0-9.]", found) == 1) break;
  }
  fclose(f);
  if (!found[0])
    fail_msg("no `project(ocispec VERSION x.y.z` in CMakeLists.txt");
  assert_string_equal(found, oci_version());
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_macros_and_library_agree),
      cmocka_unit_test(test_project_version),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
