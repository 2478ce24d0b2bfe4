/* Prototypes of every rule function named in types.def, generated from it
   so a misspelt rule name fails to link rather than silently checking
   nothing. Rules live in csrc/rules_*.c. */
#ifndef OCISPEC_RULES_H
#define OCISPEC_RULES_H

#include "ocispec/types.h"

#define OCI_TYPE(c, name, ns, check)                                           \
  void oci_tchk_##check(oci_vctx *v, const void *obj);
#define OCI_FIELD(c, m, key, kind, flags, check)                               \
  void oci_chk_##check(oci_vctx *v, const oci_field *f, const void *value);
#define OCI_END(c)
#include "ocispec/types.def"
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

/* Internal access to the validation context, for rule helpers. */
const char *oci_vctx_pointer(const oci_vctx *v);
void oci_vctx_push_key(oci_vctx *v, const char *key);
void oci_vctx_push_index(oci_vctx *v, size_t i);
void oci_vctx_pop(oci_vctx *v);
const oci_type *oci_vctx_type(const oci_vctx *v);
const oci_validate_options *oci_vctx_options(const oci_vctx *v);
/* The document being validated (rules that depend on the whole of it). */
const void *oci_vctx_root(const oci_vctx *v, const oci_type **type);

#endif
