/* libFuzzer target: validation of parsed documents. Byte 0 picks the type
   (fuzz_common.h), byte 1 the validate options (platform, for_start); the
   document is parsed leniently so that partial and odd documents reach the
   rules. Properties: validate() returns OK or EVALIDATE (never crashes,
   never ENOMEM here); the return code agrees with the problems; every
   problem has a rule id, a message and a JSON Pointer; validating a clone
   gives the same problems (rules are deterministic). */
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

static const char *const platforms[] = {
    NULL, "linux", "windows", "solaris", "freebsd", "zos", "darwin", "",
};

static void check_problems(const oci_type *t, int rc, const oci_problems *p) {
  FUZZ_CHECK(rc == OCI_OK || rc == OCI_EVALIDATE, "%s: validate rc %d", t->name,
             rc);
  FUZZ_CHECK((rc == OCI_EVALIDATE) == (p->errors > 0), "%s: rc vs errors",
             t->name);
  FUZZ_CHECK(p->errors + p->warnings == p->len, "%s: counts", t->name);
  for (size_t i = 0; i < p->len; i++) {
    const oci_problem *q = &p->items[i];
    FUZZ_CHECK(q->severity == OCI_SEV_ERROR || q->severity == OCI_SEV_WARNING,
               "severity");
    FUZZ_CHECK(q->rule[0] != '\0', "%s: problem without a rule: %s", t->name,
               q->message);
    FUZZ_CHECK(q->message[0] != '\0', "%s: problem without a message", t->name);
    FUZZ_CHECK(q->pointer[0] == '\0' || q->pointer[0] == '/',
               "%s: pointer \"%s\"", t->name, q->pointer);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  const oci_type *t = oci_all_types[data[0] % ntypes];
  oci_validate_options vo = OCI_VALIDATE_OPTIONS_INIT;
  vo.platform = platforms[data[1] % (sizeof platforms / sizeof *platforms)];
  vo.for_start = (data[1] >> 3) & 1;
  oci_parse_options po = OCI_PARSE_OPTIONS_INIT;
  po.allow_duplicate_keys = true;
  po.allow_missing_required = true;

  void *obj = NULL;
  oci_error err;
  int rc = oci_parse(t, (const char *)data + 2, size - 2, &po, &obj, &err);
  if (rc != OCI_OK) {
    fuzz_check_error(rc, &err);
    return 0;
  }
  oci_problems p1 = {0}, p2 = {0};
  rc = oci_validate_ex(t, obj, &vo, &p1);
  check_problems(t, rc, &p1);

  void *c = NULL;
  int crc = oci_clone(t, obj, &c, &err);
  FUZZ_CHECK(crc == OCI_OK, "clone: %s", err.message);
  int rc2 = oci_validate_ex(t, c, &vo, &p2);
  FUZZ_CHECK(rc == rc2 && p1.len == p2.len, "%s: clone validates differently",
             t->name);
  for (size_t i = 0; i < p1.len; i++)
    FUZZ_CHECK(strcmp(p1.items[i].rule, p2.items[i].rule) == 0 &&
                   strcmp(p1.items[i].pointer, p2.items[i].pointer) == 0 &&
                   strcmp(p1.items[i].message, p2.items[i].message) == 0,
               "%s: problem %zu differs on the clone", t->name, i);
  oci_problems_free(&p1);
  oci_problems_free(&p2);
  oci_free(c);
  oci_free(obj);
  return 0;
}
