/* The error contract of csrc/registry: every public function taking an
   oci_error * resets it on entry (see tests/c/error_contract.h). No
   registry is needed: a client is made without one, argument checks fail
   before any request, and a request to a closed port fails as a network
   error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdlib.h>
#include <string.h>

#include "../error_contract.h"
#include "ocispec/ocispec.h"

static void test_registry_contract(void **state) {
  (void)state;
  oci_error e;
  oci_registry_options o;
  oci_registry_options_init(&o);
  o.plain_http = true;
  o.auth_file = "";
  o.retries = 0;
  o.connect_timeout_s = 5;
  oci_registry *r = NULL;
  /* port 1 on loopback: nothing listens there */
  OK_CLEAN(e, oci_registry_new("127.0.0.1:1", &o, &r, &e));
  FAIL_FRESH(e, oci_registry_ping(r, &e), OCI_ENETWORK, "127.0.0.1:1", "", 0);
  bool found = true;
  FAIL_FRESH(
      e, oci_registry_has_blob(r, "Bad/Repo", "sha256:00", &found, NULL, &e),
      OCI_EINVAL, "Bad/Repo", "", 0);
  oci_layout_strings tags = {NULL, 0};
  FAIL_FRESH(e, oci_registry_tags(r, "UPPER", 0, &tags, &e), OCI_EINVAL,
             "UPPER", "", 0);
  oci_registry_free(r);
  r = (oci_registry *)1;
  FAIL_FRESH(e, oci_registry_new("", &o, &r, &e), OCI_EINVAL, "empty", "", 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry_contract),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
