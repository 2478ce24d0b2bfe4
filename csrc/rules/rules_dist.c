/* distribution-spec rules (RULES.md section 3). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "ocispec/strcheck.h"
#include "rules.h"

static void report_check(oci_vctx *v, const char *rule, const char *s,
                         int (*fn)(const char *, size_t, oci_error *)) {
  oci_error e;
  oci_error_clear(&e);
  if (fn(s, strlen(s), &e) != OCI_OK)
    oci_report(v, OCI_SEV_ERROR, rule, NULL, "%s", e.message);
}

/* spec.md:879 code "containing only uppercase alphabetic characters and
   underscores" (D-ERR-2); :883 "MUST be one of the following" (D-ERR-3),
   but :54 clients "MAY encounter" legacy codes: a warning for those. */
void oci_chk_error_code(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const char *code = *(char *const *)value;
  size_t n = strlen(code);
  oci_error e;
  oci_error_clear(&e);
  if (oci_check_error_code(code, n, &e) != OCI_OK) {
    oci_report(v, OCI_SEV_ERROR, "D-ERR-2", NULL, "%s", e.message);
    return;
  }
  if (oci_error_code_is_known(code, n)) return;
  if (oci_enum_has_n(OCI_ENUM_LEGACY_ERROR_CODE, code, n))
    oci_report(v, OCI_SEV_WARNING, "D-ERR-3", NULL,
               "\"%s\" is a legacy Docker schema1 error code", code);
  else
    oci_report(v, OCI_SEV_ERROR, "D-ERR-3", NULL,
               "error code \"%s\" is not one of the %d codes of "
               "distribution-spec",
               code, OCI_ERROR_CODE_COUNT);
}

/* spec.md:149-151 repository name grammar (D-NAME-1) */
void oci_chk_repository_name(oci_vctx *v, const oci_field *f,
                             const void *value) {
  (void)f;
  report_check(v, "D-NAME-1", *(char *const *)value, oci_check_repository_name);
}

void oci_chk_repository_names(oci_vctx *v, const oci_field *f,
                              const void *value) {
  (void)f;
  const oci_str_array *a = value;
  for (size_t i = 0; i < a->len; i++) {
    oci_vctx_push_index(v, i);
    report_check(v, "D-NAME-1", a->items[i], oci_check_repository_name);
    oci_vctx_pop(v);
  }
}

/* spec.md:158-160 tag grammar (D-TAG-1); :568 tags "MUST be in lexical
   (case-insensitive alphanumeric) or ASCIIbetical order" (D-TAGS-2). */
void oci_chk_tags(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const oci_str_array *a = value;
  bool bytewise = true, caseless = true;
  for (size_t i = 0; i < a->len; i++) {
    oci_vctx_push_index(v, i);
    report_check(v, "D-TAG-1", a->items[i], oci_check_tag);
    oci_vctx_pop(v);
    if (i) {
      if (strcmp(a->items[i - 1], a->items[i]) > 0) bytewise = false;
      if (strcasecmp(a->items[i - 1], a->items[i]) > 0) caseless = false;
    }
  }
  if (!bytewise && !caseless)
    oci_report(v, OCI_SEV_ERROR, "D-TAGS-2", NULL,
               "tags are neither in lexical (case-insensitive) nor in "
               "ASCIIbetical order");
}
