/* libFuzzer target: the JSON reader without a schema (oci_json_check and
   the raw-value compactor the reader uses for unknown members and RAW
   fields). Properties: check and compact agree on acceptance and error
   code; compact output is accepted and compacts to itself; a value
   accepted as an unknown member of a Descriptor round-trips byte for
   byte. */
#include "fuzz_common.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  oci_error e1, e2;
  int rc1 = oci_json_check(s, size, NULL, &e1);
  oci_arena *a = oci_arena_new(0);
  if (!a) return 0;
  char *c1 = NULL;
  int rc2 = oci_json_compact(s, size, a, &c1, &e2);
  FUZZ_CHECK(rc1 == rc2, "check %d (%s) vs compact %d (%s)", rc1, e1.message,
             rc2, e2.message);
  if (rc1 != OCI_OK) {
    fuzz_check_error(rc1, &e1);
    FUZZ_CHECK(e1.offset == e2.offset, "offsets %zu vs %zu", e1.offset,
               e2.offset);
    oci_arena_free(a);
    return 0;
  }
  size_t n1 = strlen(c1);
  FUZZ_CHECK(oci_json_check(c1, n1, NULL, &e1) == OCI_OK,
             "compact output rejected: %s", e1.message);
  char *c2 = NULL;
  FUZZ_CHECK(oci_json_compact(c1, n1, a, &c2, &e2) == OCI_OK, "recompact");
  FUZZ_CHECK(strcmp(c1, c2) == 0, "compact not idempotent:\n%s\n%s", c1, c2);

  /* the value as an unknown member: written back as it was compacted */
  const char *pre = "{\"mediaType\":\"a/b\",\"digest\":\"sha256:"
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
                    "7852b855\",\"size\":0,\"x\":";
  size_t pl = strlen(pre);
  char *doc = malloc(pl + n1 + 2);
  if (doc) {
    memcpy(doc, pre, pl);
    memcpy(doc + pl, c1, n1);
    doc[pl + n1] = '}';
    doc[pl + n1 + 1] = '\0';
    void *obj = NULL;
    int rc = oci_parse(&oci_type_image_descriptor, doc, pl + n1 + 1, NULL, &obj,
                       &e1);
    /* depth: the value sits one level deeper than in check() */
    if (rc == OCI_OK) {
      char *out = NULL;
      size_t ol;
      FUZZ_CHECK(oci_to_json(&oci_type_image_descriptor, obj, NULL, &out, &ol,
                             &e2) == OCI_OK,
                 "to_json");
      FUZZ_CHECK(ol == pl + n1 + 1 && memcmp(out, doc, ol) == 0,
                 "unknown member not kept:\n%s\n%s", doc, out);
      free(out);
      oci_free(obj);
    } else {
      FUZZ_CHECK(rc == OCI_EDEPTH, "embedded value: %s", e1.message);
    }
    free(doc);
  }
  oci_arena_free(a);
  return 0;
}
