/* The C API contract of the core. Errors:  (json, schema, strings, digests,
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

#include "../api_contract.h"
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

/* Options: version first, an _INIT macro and an _init() function giving
   the same defaults, and an unknown version refused before any work. */
static void test_core_options(void **state) {
  (void)state;
  oci_error e;
  oci_parse_options po = OCI_PARSE_OPTIONS_INIT, po2;
  memset(&po2, 0x5a, sizeof po2);
  oci_parse_options_init(&po2);
  assert_int_equal(po2.version, OCI_PARSE_OPTIONS_VERSION);
  assert_int_equal(po2.max_depth, po.max_depth);
  assert_int_equal(po2.max_size, po.max_size);
  assert_int_equal(po2.max_string, po.max_string);
  assert_false(po2.allow_duplicate_keys);
  assert_false(po2.allow_missing_required);

  oci_write_options wo = OCI_WRITE_OPTIONS_INIT, wo2;
  memset(&wo2, 0x5a, sizeof wo2);
  oci_write_options_init(&wo2);
  assert_int_equal(wo2.version, OCI_WRITE_OPTIONS_VERSION);
  assert_int_equal(wo.version, OCI_WRITE_OPTIONS_VERSION);
  assert_false(wo2.pretty);
  assert_false(wo.pretty);

  oci_validate_options vo = OCI_VALIDATE_OPTIONS_INIT, vo2;
  memset(&vo2, 0x5a, sizeof vo2);
  oci_validate_options_init(&vo2);
  assert_int_equal(vo2.version, vo.version);
  assert_null(vo2.platform);
  assert_false(vo2.for_start);

  void *doc = (void *)1;
  unsigned bad[] = {0, 2, 0xffffffffu};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char want[64];
    snprintf(want, sizeof want, "unknown version %u", bad[i]);
    po.version = bad[i];
    FAIL_FRESH(e, oci_parse(&oci_type_image_descriptor, S(DESC), &po, &doc, &e),
               OCI_EINVAL, want, "", 0);
    assert_null(doc);
    assert_non_null(strstr(e.message, "oci_parse_options"));
    FAIL_FRESH(e, oci_json_check(S("[]"), &po, &e), OCI_EINVAL, want, "", 0);
    FAIL_FRESH(e,
               oci_parse_file(&oci_type_image_descriptor, "/nonexistent", &po,
                              &doc, &e),
               OCI_EINVAL, want, "", 0); /* refused before the file is read */
    po.version = OCI_PARSE_OPTIONS_VERSION;

    oci_image_descriptor *d = NULL;
    OK_CLEAN(e, oci_image_descriptor_parse(S(DESC), &po, &d, &e));
    char *json = (char *)1;
    size_t len = 7;
    wo.version = bad[i];
    FAIL_FRESH(e,
               oci_to_json(&oci_type_image_descriptor, d, &wo, &json, &len, &e),
               OCI_EINVAL, want, "", 0);
    assert_null(json);
    assert_int_equal(len, 0);
    assert_non_null(strstr(e.message, "oci_write_options"));
    FAIL_FRESH(e,
               oci_write_file(&oci_type_image_descriptor, d, &wo,
                              "/nonexistent/x.json", &e),
               OCI_EINVAL, want, "", 0);
    wo.version = OCI_WRITE_OPTIONS_VERSION;

    oci_problems pr;
    vo.version = bad[i];
    assert_int_equal(oci_validate_ex(&oci_type_image_descriptor, d, &vo, &pr),
                     OCI_EINVAL);
    assert_int_equal(pr.len, 1);
    assert_int_equal(pr.errors, 1);
    assert_string_equal(pr.items[0].rule, "options");
    assert_non_null(strstr(pr.items[0].message, want));
    assert_non_null(strstr(pr.items[0].message, "oci_validate_options"));
    oci_problems_free(&pr);
    vo.version = OCI_VALIDATE_OPTIONS_VERSION;
    assert_int_equal(oci_validate_ex(&oci_type_image_descriptor, d, &vo, &pr),
                     OCI_OK);
    oci_problems_free(&pr);
    oci_image_descriptor_free(d);
  }
}

/* Ownership: oci_free of an object that is not a document's root frees
   nothing (it used to free the whole arena, and the root was then used
   after free: ASan's heap-use-after-free in the sanitizer build). */
static void test_free_non_root_is_noop(void **state) {
  (void)state;
  oci_error e;
  static const char mj[] =
      "{\"schemaVersion\":2,\"mediaType\":"
      "\"application/vnd.oci.image.manifest.v1+json\",\"config\":" DESC
      ",\"layers\":[" DESC "]}";
  oci_image_manifest *m = NULL;
  OK_CLEAN(e, oci_image_manifest_parse(S(mj), NULL, &m, &e));
  oci_image_descriptor *child = m->config;
  oci_image_descriptor_free(child); /* a child: no-op */
  oci_free(m->layers.items[0]);     /* idem, generic */
  /* the document is intact and usable */
  assert_string_equal(m->config->digest, DIGEST);
  char *json = NULL;
  size_t len = 0;
  OK_CLEAN(e, oci_image_manifest_to_json(m, false, &json, &len, &e));
  assert_string_equal(json, mj);
  free(json);

  /* objects of a caller's own arena: the arena is the caller's */
  oci_arena *a = oci_arena_new(0);
  assert_non_null(a);
  oci_image_descriptor *in = oci_new_in(&oci_type_image_descriptor, a);
  assert_non_null(in);
  oci_free(in); /* no-op */
  oci_image_descriptor *cp =
      oci_copy_into(&oci_type_image_descriptor, child, a);
  assert_non_null(cp);
  oci_image_descriptor_free(cp); /* no-op */
  assert_string_equal(cp->digest, DIGEST);
  oci_arena_free(a);

  /* a clone of a child is a root of its own */
  oci_image_descriptor *c2 = NULL;
  OK_CLEAN(e, oci_image_descriptor_clone(child, &c2, &e));
  oci_image_manifest_free(m); /* the root: frees the document */
  assert_string_equal(c2->digest, DIGEST);
  oci_image_descriptor_free(c2);
  oci_free(NULL);
}

/* Typed clone, equal and write_file beside the generic ones. */
static void test_typed_clone_equal_write_file(void **state) {
  (void)state;
  oci_error e;
  oci_image_descriptor *d = NULL, *c = NULL, *back = NULL;
  OK_CLEAN(e, oci_image_descriptor_parse(S(DESC), NULL, &d, &e));
  OK_CLEAN(e, oci_image_descriptor_clone(d, &c, &e));
  assert_ptr_not_equal(c, d);
  assert_true(oci_image_descriptor_equal(d, c));
  c->size = 1;
  assert_false(oci_image_descriptor_equal(d, c));
  char path[] = "/tmp/ocispec-test-typed-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  OK_CLEAN(e, oci_image_descriptor_write_file(c, true, path, &e));
  OK_CLEAN(e, oci_image_descriptor_parse_file(path, NULL, &back, &e));
  assert_true(oci_image_descriptor_equal(back, c));
  assert_int_equal(back->size, 1);
  char buf[512];
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "\n  \"size\": 1")); /* pretty */
  FAIL_FRESH(
      e, oci_image_descriptor_write_file(c, false, "/nonexistent/d.json", &e),
      OCI_EIO, "/nonexistent/d.json", "", 0);
  unlink(path);
  oci_image_descriptor_free(back);
  oci_image_descriptor_free(c);
  oci_image_descriptor_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_core_success_clean),
      cmocka_unit_test(test_core_failure_fresh),
      cmocka_unit_test(test_core_options),
      cmocka_unit_test(test_free_non_root_is_noop),
      cmocka_unit_test(test_typed_clone_equal_write_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
