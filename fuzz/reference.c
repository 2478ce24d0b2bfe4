/* libFuzzer target: oci_reference_parse (csrc/schema/reference.c). Properties:
   - a failure is EINVAL, ETOOBIG or EUNSUPPORTED with a message, *out NULL;
   - parse -> to_string -> parse is stable: the same parts, the same text;
   - oci_reference_format agrees with to_string, and cuts short safely;
   - the parts are re-checked by oci_reference_new;
   - a mirror taken from the input is set or refused, never half-set. */
#include "fuzz_common.h"

static int streq(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  oci_reference *r = (oci_reference *)1;
  oci_error err;
  /* like every non-parse API, reference.c sets code and message only: the
     caller clears the rest */
  oci_error_clear(&err);
  int rc = oci_reference_parse(s, size, &r, &err);
  if (rc != OCI_OK) {
    fuzz_check_error(rc, &err);
    FUZZ_CHECK(rc == OCI_EINVAL || rc == OCI_ETOOBIG || rc == OCI_EUNSUPPORTED,
               "rc %d: %s", rc, err.message);
    FUZZ_CHECK(r == NULL, "*out set on failure");
    return 0;
  }
  FUZZ_CHECK(r && r->registry && r->repository, "parts");
  FUZZ_CHECK(r->tag || r->digest, "neither tag nor digest");
  char *t1 = oci_reference_to_string(r);
  FUZZ_CHECK(t1 != NULL, "to_string");
  size_t n1 = strlen(t1);

  char small[17];
  size_t fl = oci_reference_format(r, small, sizeof small);
  FUZZ_CHECK(fl == n1, "format length %zu != %zu", fl, n1);
  FUZZ_CHECK(strncmp(small, t1, sizeof small - 1) == 0 &&
                 strlen(small) == (n1 < sizeof small ? n1 : sizeof small - 1),
             "format cut");

  oci_reference *r2 = NULL;
  rc = oci_reference_parse(t1, n1, &r2, &err);
  FUZZ_CHECK(rc == OCI_OK, "printed reference \"%s\" does not parse: %s", t1,
             err.message);
  FUZZ_CHECK(streq(r->registry, r2->registry) &&
                 streq(r->repository, r2->repository) &&
                 streq(r->tag, r2->tag) && streq(r->digest, r2->digest),
             "\"%.*s\" -> \"%s\" parses to other parts", (int)size, s, t1);
  char *t2 = oci_reference_to_string(r2);
  FUZZ_CHECK(t2 && strcmp(t1, t2) == 0, "\"%s\" prints as \"%s\"", t1, t2);

  oci_reference *r3 = NULL;
  rc = oci_reference_new(r->registry, r->repository, r->tag, r->digest, &r3,
                         &err);
  FUZZ_CHECK(rc == OCI_OK, "new(\"%s\") refuses its own parts: %s", t1,
             err.message);
  char *t3 = oci_reference_to_string(r3);
  FUZZ_CHECK(t3 && strcmp(t1, t3) == 0, "new: \"%s\" vs \"%s\"", t1, t3);

  if (r->digest) {
    oci_reference *r4 = NULL;
    rc = oci_reference_clone_with_digest(r, r->digest, &r4, &err);
    FUZZ_CHECK(rc == OCI_OK && r4 && !r4->tag, "clone_with_digest: %s",
               err.message);
    oci_reference_free(r4);
  }

  /* the input (up to its first NUL) as a mirror */
  char *m = malloc(size + 1);
  if (m) {
    memcpy(m, data, size);
    m[size] = '\0';
    oci_error_clear(&err);
    rc = oci_reference_set_mirror(r2, m, &err);
    if (rc == OCI_OK) {
      FUZZ_CHECK(streq(r2->mirror_registry, m), "mirror");
      FUZZ_CHECK(streq(oci_reference_resolve_registry(r2), m), "resolve");
    } else {
      fuzz_check_error(rc, &err);
      FUZZ_CHECK(r2->mirror_registry == NULL, "mirror half-set");
    }
    free(m);
  }

  free(t1);
  free(t2);
  free(t3);
  oci_reference_free(r);
  oci_reference_free(r2);
  oci_reference_free(r3);
  return 0;
}
