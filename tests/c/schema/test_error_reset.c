/* The error contract of the core (json, schema, strings, digests,
   references, runtime defaults): every public function taking an
   oci_error * resets it on entry. Each call below gets a struct full of
   garbage and a stale error; a success must hand it back clean, a failure
   with only fresh fields. The image and registry functions have their own
   tables (tests/c/image, tests/c/registry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../error_contract.h"
#include "ocispec/ocispec.h"

#define DIGEST                                                                 \
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DESC                                                                   \
  "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":"      \
  "\"" DIGEST "\",\"size\":0}"
#define S(lit) lit, sizeof lit - 1

static void test_core_success_clean(void **state) {
  (void)state;
  oci_error e;
  void *doc = NULL, *copy = NULL;
  char *json = NULL;
  size_t len = 0;
  char path[] = "/tmp/ocispec-test-error-reset-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);

  OK_CLEAN(e, oci_parse(&oci_type_image_descriptor, S(DESC), NULL, &doc, &e));
  OK_CLEAN(e, oci_json_check(S("[1, {\"a\": null}]"), NULL, &e));
  OK_CLEAN(e,
           oci_to_json(&oci_type_image_descriptor, doc, NULL, &json, &len, &e));
  OK_CLEAN(e, oci_write_file(&oci_type_image_descriptor, doc, NULL, path, &e));
  OK_CLEAN(e, oci_clone(&oci_type_image_descriptor, doc, &copy, &e));
  oci_free(copy);
  OK_CLEAN(e,
           oci_parse_file(&oci_type_image_descriptor, path, NULL, &copy, &e));
  oci_free(copy);
  OK_CLEAN(e, oci_new(&oci_type_image_manifest, &copy, &e));
  oci_free(copy);
  free(json);
  oci_free(doc);
  unlink(path);

  /* the typed wrappers of types.h go through the same entry points */
  oci_image_descriptor *d = NULL;
  OK_CLEAN(e, oci_image_descriptor_parse(S(DESC), NULL, &d, &e));
  OK_CLEAN(e, oci_image_descriptor_to_json(d, true, &json, &len, &e));
  free(json);
  oci_image_descriptor_free(d);

  oci_digest_view v;
  char tag[OCI_DIGEST_REFERRERS_TAG_MAX + 1];
  OK_CLEAN(e, oci_digest_parse(S(DIGEST), &v, &e));
  OK_CLEAN(e, oci_digest_referrers_tag(DIGEST, tag, sizeof tag, &e));

  OK_CLEAN(e, oci_check_media_type(S("application/json"), &e));
  OK_CLEAN(e, oci_check_base64(S("aGk="), &e));
  OK_CLEAN(e, oci_check_uri(S("https://example.com/x"), &e));
  OK_CLEAN(e, oci_check_rfc3339(S("2024-02-29T12:00:00Z"), &e));
  OK_CLEAN(e, oci_check_semver(S("1.2.3-rc.1"), &e));
  OK_CLEAN(e, oci_check_repository_name(S("library/busybox"), &e));
  OK_CLEAN(e, oci_check_tag(S("v1.0"), &e));
  OK_CLEAN(e, oci_check_registry_host(S("localhost:5000"), &e));
  OK_CLEAN(e, oci_check_ref_name_annotation(S("v1.0"), &e));
  OK_CLEAN(e, oci_check_error_code(S("BLOB_UNKNOWN"), &e));
  OK_CLEAN(e, oci_check_env_entry(S("PATH=/bin"), &e));
  OK_CLEAN(e, oci_check_absolute_path(S("/etc"), &e));

  oci_reference *r = NULL, *r2 = NULL;
  OK_CLEAN(e, oci_reference_parse(S("busybox:1.36"), &r, &e));
  OK_CLEAN(e, oci_reference_new("ghcr.io", "a/b", "v1", NULL, &r2, &e));
  oci_reference_free(r2);
  OK_CLEAN(e, oci_reference_clone_with_digest(r, DIGEST, &r2, &e));
  OK_CLEAN(e, oci_reference_set_mirror(r2, "mirror.example:5000", &e));
  oci_reference_free(r2);
  oci_reference_free(r);

  oci_runtime_spec *spec = NULL;
  OK_CLEAN(e, oci_runtime_spec_default(&spec, &e));
  oci_runtime_spec_free(spec);
  OK_CLEAN(e, oci_runtime_spec_rootless(1000, 1000, &spec, &e));
  oci_runtime_spec_free(spec);
}

/* A failure carries only what this call found: the case is a
   stale pointer and line coming back with a fresh message. */
static void test_core_failure_fresh(void **state) {
  (void)state;
  oci_error e;
  void *doc = (void *)1;
  /* not a parse failure: no pointer, no position */
  FAIL_FRESH(e,
             oci_parse_file(&oci_type_image_descriptor,
                            "/nonexistent/ocispec/x.json", NULL, &doc, &e),
             OCI_EIO, "/nonexistent/ocispec/x.json", "", 0);
  assert_null(doc);
  FAIL_FRESH(e, oci_check_tag(S("-bad"), &e), OCI_EINVAL, "tag", "", 0);
  FAIL_FRESH(e, oci_digest_parse(S("sha256:abc"), NULL, &e), OCI_EINVAL,
             "digest", "", 0);
  oci_reference *r = (oci_reference *)1;
  FAIL_FRESH(e, oci_reference_parse(S("UPPER/x"), &r, &e), OCI_EINVAL,
             "repository", "", 0);
  /* a parse failure: its own pointer and position */
  FAIL_FRESH(e,
             oci_parse(&oci_type_image_descriptor,
                       S("{\"mediaType\": 5, \"digest\": \"" DIGEST
                         "\", \"size\": 0}"),
                       NULL, &doc, &e),
             OCI_ETYPE, "", "/mediaType", 1);
  assert_int_equal(e.column, 15);
  FAIL_FRESH(e, oci_json_check(S("[1,]"), NULL, &e), OCI_ESYNTAX, "", "", 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_core_success_clean),
      cmocka_unit_test(test_core_failure_fresh),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
