/* Strings that are not UTF-8, set through the C API on real document
   types, never reach a file: oci_to_json, oci_write_file and
   oci_layout_tag refuse them with OCI_EUTF8 and the JSON Pointer of the
   string, and index.json stays readable (item 24 of issue 13; the codec's
   own cases are in test_json.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ocispec/layout.h"
#include "ocispec/types.h"

#define DIGEST                                                                 \
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void expect(int rc, const oci_error *err, const char *msg) {
  assert_int_equal(rc, OCI_EUTF8);
  if (!strstr(err->message, msg))
    fail_msg("expected \"%s\" in \"%s\"", msg, err->message);
}

static void test_tag_and_write_refuse_invalid_utf8(void **state) {
  (void)state;
  char dir[] = "/tmp/ocispec-utf8-XXXXXX", path[256];
  assert_non_null(mkdtemp(dir));
  oci_error err;
  oci_layout *l = NULL;
  assert_int_equal(oci_layout_create(dir, &l, &err), OCI_OK);
  oci_image_descriptor *d = NULL;
  assert_int_equal(oci_layout_put_blob(l, "", 0, "text/plain", &d, &err),
                   OCI_OK);
  assert_string_equal(d->digest, DIGEST);
  assert_int_equal(oci_layout_tag(l, d, "good", &err), OCI_OK);

  /* an annotation value: a surrogate */
  static char *keys[] = {"org.example.a", "org.example.b"};
  static char *vals[] = {"fine", "bad\xed\xa0\x80"};
  d->annotations.keys = keys;
  d->annotations.values = vals;
  d->annotations.len = 2;
  oci_mark(d, OCI_F_image_descriptor_annotations);
  expect(oci_layout_tag(l, d, "bad", &err), &err,
         "tag: descriptor: /annotations/org.example.b: invalid UTF-8");
  char *json = NULL;
  expect(oci_image_descriptor_to_json(d, false, &json, NULL, &err), &err,
         "invalid UTF-8 in the string at /annotations/org.example.b");
  assert_null(json);
  assert_string_equal(err.pointer, "/annotations/org.example.b");
  snprintf(path, sizeof path, "%s/desc.json", dir);
  expect(oci_write_file(&oci_type_image_descriptor, d, NULL, path, &err), &err,
         "/annotations/org.example.b");
  assert_int_equal(access(path, F_OK), -1); /* nothing written */

  /* an annotation key: overlong; the media type: truncated */
  vals[1] = "fine";
  keys[1] = "org.\xc0\xae";
  expect(oci_layout_tag(l, d, "bad", &err), &err,
         "invalid UTF-8 in a member name of /annotations");
  keys[1] = "org.example.b";
  d->media_type = "text/\xe2\x82";
  expect(oci_layout_tag(l, d, "bad", &err), &err, "/mediaType");
  d->media_type = "text/plain";
  assert_int_equal(oci_set_string(d, &oci_type_image_descriptor.fields[0],
                                  "\xf4\x90\x80\x80"),
                   OCI_EUTF8);

  /* index.json is still readable and holds only the good tag */
  oci_layout_close(l);
  assert_int_equal(oci_layout_open(dir, &l, &err), OCI_OK);
  oci_image_index *idx = NULL;
  assert_int_equal(oci_layout_index(l, &idx, &err), OCI_OK);
  assert_int_equal(idx->manifests.len, 1);
  oci_image_index_free(idx);
  oci_layout_close(l);
  oci_image_descriptor_free(d);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tag_and_write_refuse_invalid_utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
