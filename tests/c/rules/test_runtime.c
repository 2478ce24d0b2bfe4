/* Unit tests for the runtime-spec part of the C API: the runc defaults,
   uint64 values at the top of their range, partial documents
   (allow_missing_required) and validation options (target platform,
   for_start). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocispec/runtime.h"
#include "ocispec/types.h"

/* Whether p holds a problem with this rule, pointer and severity. */
static bool has_problem(const oci_problems *p, const char *rule,
                        const char *pointer, oci_severity sev) {
  for (size_t i = 0; i < p->len; i++)
    if (strcmp(p->items[i].rule, rule) == 0 &&
        strcmp(p->items[i].pointer, pointer) == 0 &&
        p->items[i].severity == sev)
      return true;
  return false;
}

static oci_runtime_spec *parse_spec(const char *json) {
  oci_runtime_spec *s = NULL;
  oci_error err;
  int rc = oci_runtime_spec_parse(json, strlen(json), NULL, &s, &err);
  if (rc != OCI_OK) fail_msg("parse: %s", err.message);
  return s;
}

static void test_default_validates_and_roundtrips(void **state) {
  (void)state;
  oci_runtime_spec *s = NULL;
  oci_error err;
  assert_int_equal(oci_runtime_spec_default(&s, &err), OCI_OK);
  assert_string_equal(s->root->path, "rootfs");
  assert_int_equal(s->process->args.len, 1);
  assert_string_equal(s->process->args.items[0], "sh");
  oci_problems p;
  assert_int_equal(oci_runtime_spec_validate(s, &p), OCI_OK);
  assert_int_equal(p.errors, 0);
  oci_problems_free(&p);

  char *json = NULL;
  size_t len = 0;
  assert_int_equal(oci_runtime_spec_to_json(s, false, &json, &len, &err),
                   OCI_OK);
  oci_runtime_spec *back = NULL;
  assert_int_equal(oci_runtime_spec_parse(json, len, NULL, &back, &err),
                   OCI_OK);
  assert_true(oci_equal(&oci_type_runtime_spec, s, back));
  free(json);
  oci_runtime_spec_free(back);
  oci_runtime_spec_free(s);

  assert_int_equal(oci_runtime_spec_rootless(1000, 1001, &s, &err), OCI_OK);
  assert_int_equal(s->linux_->uid_mappings.len, 1);
  oci_runtime_linux_id_mapping *const *m = s->linux_->uid_mappings.items;
  assert_int_equal(m[0]->host_id, 1000);
  m = s->linux_->gid_mappings.items;
  assert_int_equal(m[0]->host_id, 1001);
  assert_int_equal(oci_runtime_spec_validate(s, &p), OCI_OK);
  oci_problems_free(&p);
  oci_runtime_spec_free(s);
}

/* config-linux.md seccomp args value is a uint64 (R-LNX-24). */
static void test_seccomp_u64_max(void **state) {
  (void)state;
  const char *json =
      "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":"
      "[{\"index\":0,\"value\":18446744073709551615,\"op\":\"SCMP_CMP_EQ\"}]}";
  oci_runtime_linux_syscall *sc = NULL;
  oci_error err;
  assert_int_equal(
      oci_runtime_linux_syscall_parse(json, strlen(json), NULL, &sc, &err),
      OCI_OK);
  oci_runtime_linux_seccomp_arg *const *a = sc->args.items;
  assert_true(a[0]->value == UINT64_MAX);
  char *out = NULL;
  size_t len = 0;
  assert_int_equal(
      oci_runtime_linux_syscall_to_json(sc, false, &out, &len, &err), OCI_OK);
  assert_string_equal(out, json);
  free(out);
  oci_runtime_linux_syscall_free(sc);

  /* one past the top is a range error, not a silent wrap */
  const char *over = "{\"index\":0,\"value\":18446744073709551616,\"op\":"
                     "\"SCMP_CMP_EQ\"}";
  oci_runtime_linux_seccomp_arg *arg = NULL;
  assert_int_equal(
      oci_runtime_linux_seccomp_arg_parse(over, strlen(over), NULL, &arg, &err),
      OCI_ERANGE);
  assert_string_equal(err.pointer, "/value");
}

/* A fragment of a spec page: parses with allow_missing_required, and
   validate() then names the missing field. */
static void test_allow_missing_required(void **state) {
  (void)state;
  const char *json = "{\"hostname\":\"mrsdalloway\"}";
  oci_runtime_spec *s = NULL;
  oci_error err;
  assert_int_equal(oci_runtime_spec_parse(json, strlen(json), NULL, &s, &err),
                   OCI_EMISSING);
  assert_non_null(strstr(err.message, "ociVersion"));
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  o.allow_missing_required = true;
  assert_int_equal(oci_runtime_spec_parse(json, strlen(json), &o, &s, &err),
                   OCI_OK);
  assert_string_equal(s->hostname, "mrsdalloway");
  oci_problems p;
  assert_int_equal(oci_runtime_spec_validate(s, &p), OCI_EVALIDATE);
  assert_true(has_problem(&p, "required", "/ociVersion", OCI_SEV_ERROR));
  oci_problems_free(&p);
  oci_runtime_spec_free(s);
}

#define GUID_ROOT                                                              \
  "\\\\\\\\?\\\\Volume{ec84d99e-3f02-11e7-ac6c-00155d7682cf}\\\\"

static void test_validate_options(void **state) {
  (void)state;
  /* no process, no platform object: fine until it is to be started */
  oci_runtime_spec *s =
      parse_spec("{\"ociVersion\":\"1.3.0\",\"root\":{\"path\":\"rootfs\"}}");
  oci_problems p;
  assert_int_equal(oci_validate_ex(&oci_type_runtime_spec, s, NULL, &p),
                   OCI_OK);
  oci_problems_free(&p);
  oci_validate_options o = OCI_VALIDATE_OPTIONS_INIT;
  o.for_start = true;
  assert_int_equal(oci_validate_ex(&oci_type_runtime_spec, s, &o, &p),
                   OCI_EVALIDATE);
  assert_true(has_problem(&p, "R-CFG-11", "/process", OCI_SEV_ERROR));
  oci_problems_free(&p);
  /* a Windows target needs the windows object and a volume GUID root */
  o.for_start = false;
  o.platform = "windows";
  assert_int_equal(oci_validate_ex(&oci_type_runtime_spec, s, &o, &p),
                   OCI_EVALIDATE);
  assert_true(has_problem(&p, "R-CFG-25", "/windows", OCI_SEV_ERROR));
  assert_true(has_problem(&p, "R-CFG-5", "/root/path", OCI_SEV_ERROR));
  oci_problems_free(&p);
  oci_runtime_spec_free(s);

  /* inferred from the windows object: nested mounts, relative cwd */
  s = parse_spec("{\"ociVersion\":\"1.3.0\",\"root\":{\"path\":\"" GUID_ROOT
                 "\"},\"process\":{\"cwd\":\"C:\\\\\",\"args\":[\"cmd\"]},"
                 "\"mounts\":[{\"destination\":\"C:\\\\data\"},"
                 "{\"destination\":\"c:/DATA/logs\"},"
                 "{\"destination\":\"C:\\\\database\"}],"
                 "\"windows\":{\"layerFolders\":[\"C:\\\\l1\"]}}");
  assert_int_equal(oci_validate_ex(&oci_type_runtime_spec, s, NULL, &p),
                   OCI_EVALIDATE);
  assert_int_equal(p.errors, 1);
  assert_true(
      has_problem(&p, "R-CFG-9", "/mounts/1/destination", OCI_SEV_ERROR));
  oci_problems_free(&p);
  oci_runtime_spec_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_validates_and_roundtrips),
      cmocka_unit_test(test_seccomp_u64_max),
      cmocka_unit_test(test_allow_missing_required),
      cmocka_unit_test(test_validate_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
