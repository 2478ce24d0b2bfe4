/* libFuzzer target: every document type (byte 0 picks it, see
   fuzz_common.h). Properties:
   - a failure returns a specific error, *out stays NULL, nothing leaks;
   - whatever parses serializes (compact and pretty); the output parses
     back to an equal object (oci_equal) that serializes to the same bytes;
   - clone() is equal and serializes to the same bytes;
   - validate() returns OK or EVALIDATE, consistent with its problems. */
#include "fuzz_common.h"

static size_t ntypes;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_maybe_list_types();
  ntypes = fuzz_ntypes();
  return 0;
}

static char *serialize(const oci_type *t, const void *obj, bool pretty,
                       size_t *len) {
  oci_write_options wo = {OCI_WRITE_OPTIONS_VERSION, pretty};
  oci_error err;
  char *s = NULL;
  int rc = oci_to_json(t, obj, &wo, &s, len, &err);
  FUZZ_CHECK(rc == OCI_OK, "%s: to_json(pretty=%d): %s", t->name, pretty,
             err.message);
  FUZZ_CHECK(s && strlen(s) == *len, "%s: length", t->name);
  return s;
}

static void *reparse(const oci_type *t, const char *s, size_t len,
                     const oci_parse_options *po) {
  void *obj = NULL;
  oci_error err;
  int rc = oci_parse(t, s, len, po, &obj, &err);
  FUZZ_CHECK(rc == OCI_OK, "%s: own output does not parse: %s at %s: %.*s",
             t->name, err.message, err.pointer, (int)(len > 2000 ? 2000 : len),
             s);
  return obj;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const oci_type *t = oci_all_types[data[0] % ntypes];
  bool lenient = (data[0] / ntypes) & 1;
  oci_parse_options po = OCI_PARSE_OPTIONS_INIT;
  po.allow_duplicate_keys = lenient;
  po.allow_missing_required = lenient;
  const char *buf = (const char *)data + 1;
  size_t len = size - 1;

  void *obj = (void *)1;
  oci_error err;
  int rc = oci_parse(t, buf, len, &po, &obj, &err);
  if (rc != OCI_OK) {
    fuzz_check_error(rc, &err);
    FUZZ_CHECK(rc != OCI_ENOMEM, "ENOMEM without an allocation failure");
    FUZZ_CHECK(obj == NULL, "*out set on failure");
    FUZZ_CHECK(err.line >= 1 && err.offset <= len, "location %zu:%zu @%zu",
               err.line, err.column, err.offset);
    return 0;
  }
  FUZZ_CHECK(obj != NULL, "no object");

  size_t n1, np;
  char *s1 = serialize(t, obj, false, &n1);
  char *p1 = serialize(t, obj, true, &np);

  void *obj2 = reparse(t, s1, n1, &po);
  FUZZ_CHECK(oci_equal(t, obj, obj2), "%s: reparse differs: %s", t->name, s1);
  size_t n2;
  char *s2 = serialize(t, obj2, false, &n2);
  FUZZ_CHECK(n1 == n2 && memcmp(s1, s2, n1) == 0,
             "%s: second serialization differs:\n%s\n%s", t->name, s1, s2);

  void *obj3 = reparse(t, p1, np, &po);
  FUZZ_CHECK(oci_equal(t, obj, obj3), "%s: pretty reparse differs", t->name);
  size_t n3;
  char *s3 = serialize(t, obj3, false, &n3);
  FUZZ_CHECK(n1 == n3 && memcmp(s1, s3, n1) == 0,
             "%s: pretty->compact differs:\n%s\n%s", t->name, s1, s3);

  void *c = NULL;
  rc = oci_clone(t, obj, &c, &err);
  FUZZ_CHECK(rc == OCI_OK && c, "%s: clone: %s", t->name, err.message);
  FUZZ_CHECK(oci_equal(t, obj, c), "%s: clone differs", t->name);
  size_t n4;
  char *s4 = serialize(t, c, false, &n4);
  FUZZ_CHECK(n1 == n4 && memcmp(s1, s4, n1) == 0,
             "%s: clone serializes "
             "differently:\n%s\n%s",
             t->name, s1, s4);

  oci_problems pr = {0};
  rc = oci_validate(t, obj, &pr);
  FUZZ_CHECK(rc == OCI_OK || rc == OCI_EVALIDATE, "%s: validate rc %d", t->name,
             rc);
  FUZZ_CHECK((rc == OCI_EVALIDATE) == (pr.errors > 0), "%s: rc vs errors",
             t->name);
  FUZZ_CHECK(pr.errors + pr.warnings == pr.len, "%s: problem counts", t->name);
  oci_problems_free(&pr);

  free(s1);
  free(p1);
  free(s2);
  free(s3);
  free(s4);
  oci_free(obj);
  oci_free(obj2);
  oci_free(obj3);
  oci_free(c);
  return 0;
}
