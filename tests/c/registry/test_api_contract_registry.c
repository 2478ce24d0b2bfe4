/* The error contract of csrc/registry: every public function taking an
   oci_error * resets it on entry (see tests/c/api_contract.h). No
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

#include "../api_contract.h"
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
  oci_registry_capabilities caps = OCI_REGISTRY_CAPABILITIES_INIT;
  OK_CLEAN(e, oci_registry_get_capabilities(r, &caps, &e));
  caps.version = 99;
  FAIL_FRESH(e, oci_registry_get_capabilities(r, &caps, &e), OCI_EINVAL,
             "oci_registry_capabilities: unknown version 99", "", 0);
  oci_registry_free(r);
  r = (oci_registry *)1;
  FAIL_FRESH(e, oci_registry_new("", &o, &r, &e), OCI_EINVAL, "empty", "", 0);
}

static void test_registry_options(void **state) {
  (void)state;
  oci_error e;
  oci_registry_options a = OCI_REGISTRY_OPTIONS_INIT, b;
  memset(&b, 0x5a, sizeof b);
  oci_registry_options_init(&b);
  assert_int_equal(a.version, OCI_REGISTRY_OPTIONS_VERSION);
  assert_int_equal(b.version, OCI_REGISTRY_OPTIONS_VERSION);
  assert_true(a.tls_verify && b.tls_verify);
  assert_false(b.plain_http);
  assert_null(b.username);
  assert_null(b.auth_file);
  assert_int_equal(a.retries, b.retries);
  assert_int_equal(b.retries, 3);
  assert_int_equal(a.retry_delay_ms, b.retry_delay_ms);
  assert_int_equal(a.retry_max_delay_ms, b.retry_max_delay_ms);
  assert_int_equal(a.connect_timeout_s, b.connect_timeout_s);
  assert_int_equal(a.low_speed_timeout_s, b.low_speed_timeout_s);
  assert_int_equal(a.low_speed_limit, b.low_speed_limit);
  assert_int_equal(a.chunk_size, b.chunk_size);
  assert_int_equal(a.max_fanout, b.max_fanout);
  assert_int_equal(a.max_nodes, b.max_nodes);
  assert_int_equal(a.max_pages, b.max_pages);
  assert_int_equal(a.max_list_bytes, b.max_list_bytes);
  assert_int_equal(b.max_list_bytes, (size_t)64 << 20);
  unsigned bad[] = {0, OCI_REGISTRY_OPTIONS_VERSION + 1};
  for (size_t i = 0; i < 2; i++) {
    char want[64];
    snprintf(want, sizeof want, "unknown version %u", bad[i]);
    a.version = bad[i];
    oci_registry *r = (oci_registry *)1;
    FAIL_FRESH(e, oci_registry_new("127.0.0.1:1", &a, &r, &e), OCI_EINVAL, want,
               "", 0);
    assert_null(r);
    assert_non_null(strstr(e.message, "oci_registry_options"));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry_contract),
      cmocka_unit_test(test_registry_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
