/** @file
   C structs, field indexes and type descriptors of every OCI type, all
   generated from the one declaration list in types.def.

   Reading a declaration: OCI_FIELD(type, member, "jsonKey", KIND, FLAGS,
   check) becomes the struct member `member` of C type KIND (see the
   OCI_CT_* table below), the field index OCI_F_type_member, and the entry
   that drives parsing, writing, validation and the Lua binding.

   For each type `X` of types.def (`image_manifest`, `runtime_spec`, ...):
   - `struct oci_X` (typedef `oci_X`): an oci_object header `hdr`, then one
     member per field, named as the spec's JSON key in snake_case;
   - `OCI_F_X_member`: the field's index for oci_is_present(), oci_is_null()
     and oci_mark(); `OCI_NFIELDS_X`: the number of fields;
   - `oci_type_X`: the type descriptor the generic entry points take
     (oci_parse(), oci_to_json(), oci_validate(), ...), and the value types
     `oci_vt_obj_X`, `oci_vt_arr_obj_X`, `oci_vt_map_obj_X`;
   - typed wrappers: `oci_X_parse(buf, len, opts, &out, &err)`,
     `oci_X_parse_file(path, opts, &out, &err)`, `oci_X_new(&out, &err)`,
     `oci_X_free(obj)`, `oci_X_to_json(obj, pretty, &out, &len, &err)`,
     `oci_X_validate(obj, &problems)`. Whoever gets an object from
     `_parse`, `_parse_file` or `_new` frees it with `_free`. */
#ifndef OCISPEC_TYPES_H
#define OCISPEC_TYPES_H

#include "ocispec/schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @cond internal: the declaration machinery */
/** C type of each kind. Containers use the element tables below; a separate
   set of names is needed because a macro cannot re-enter itself. */
#define OCI_CT(k) OCI_CT_##k
#define OCI_CT_STRING char *
#define OCI_CT_BOOL bool
#define OCI_CT_I32 int32_t
#define OCI_CT_U16 uint16_t
#define OCI_CT_U32 uint32_t
#define OCI_CT_I64 int64_t
#define OCI_CT_U64 uint64_t
#define OCI_CT_DOUBLE double
#define OCI_CT_RAW char *
#define OCI_CT_SET oci_set
#define OCI_CT_OBJ(t) struct oci_##t *
#define OCI_CT_ARR(e) OCI_CTA_##e
#define OCI_CT_MAP(e) OCI_CTM_##e
#define OCI_CTA_STRING oci_str_array
#define OCI_CTA_BOOL oci_bool_array
#define OCI_CTA_I32 oci_i32_array
#define OCI_CTA_U16 oci_u16_array
#define OCI_CTA_U32 oci_u32_array
#define OCI_CTA_I64 oci_i64_array
#define OCI_CTA_U64 oci_u64_array
#define OCI_CTA_RAW oci_str_array
#define OCI_CTA_OBJ(t)                                                         \
  struct {                                                                     \
    struct oci_##t **items;                                                    \
    size_t len;                                                                \
  }
#define OCI_CTM_STRING oci_str_map
#define OCI_CTM_RAW oci_str_map
#define OCI_CTM_OBJ(t)                                                         \
  struct {                                                                     \
    char **keys;                                                               \
    struct oci_##t **values;                                                   \
    size_t len;                                                                \
  }

/** Pass 1: type names. */
#define OCI_TYPE(c, name, ns, check) typedef struct oci_##c oci_##c;
#define OCI_FIELD(c, m, key, kind, flags, check)
#define OCI_END(c)
#include "ocispec/types.def"
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

/** Pass 2: structs. */
#define OCI_TYPE(c, name, ns, check)                                           \
  struct oci_##c {                                                             \
    oci_object hdr;
#define OCI_FIELD(c, m, key, kind, flags, check) OCI_CT(kind) m;
#define OCI_END(c)                                                             \
  }                                                                            \
  ;
#include "ocispec/types.def"
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

/** Pass 3: field indexes, `OCI_F_<type>_<member>`, and `OCI_NFIELDS_<type>`. */
#define OCI_TYPE(c, name, ns, check) enum {
#define OCI_FIELD(c, m, key, kind, flags, check) OCI_F_##c##_##m,
#define OCI_END(c)                                                             \
  OCI_NFIELDS_##c                                                              \
  }                                                                            \
  ;
#include "ocispec/types.def"
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

/** Pass 4: descriptors and typed conveniences, e.g.
   oci_image_manifest_parse(buf, len, NULL, &m, &err). */
#define OCI_TYPE(c, name, ns, check)                                           \
  OCI_API extern const oci_type oci_type_##c;                                  \
  OCI_API extern const oci_vtype oci_vt_obj_##c;                               \
  OCI_API extern const oci_vtype oci_vt_arr_obj_##c;                           \
  OCI_API extern const oci_vtype oci_vt_map_obj_##c;                           \
  static inline int oci_##c##_parse(const char *buf, size_t len,               \
                                    const oci_parse_options *o, oci_##c **out, \
                                    oci_error *e) {                            \
    return oci_parse(&oci_type_##c, buf, len, o, (void **)out, e);             \
  }                                                                            \
  static inline int oci_##c##_parse_file(const char *path,                     \
                                         const oci_parse_options *o,           \
                                         oci_##c **out, oci_error *e) {        \
    return oci_parse_file(&oci_type_##c, path, o, (void **)out, e);            \
  }                                                                            \
  static inline int oci_##c##_new(oci_##c **out, oci_error *e) {               \
    return oci_new(&oci_type_##c, (void **)out, e);                            \
  }                                                                            \
  static inline void oci_##c##_free(oci_##c *obj) {                            \
    oci_free(obj);                                                             \
  }                                                                            \
  static inline int oci_##c##_to_json(const oci_##c *obj, bool pretty,         \
                                      char **out, size_t *len, oci_error *e) { \
    oci_write_options w = {OCI_WRITE_OPTIONS_VERSION, pretty};                 \
    return oci_to_json(&oci_type_##c, obj, &w, out, len, e);                   \
  }                                                                            \
  static inline int oci_##c##_validate(const oci_##c *obj,                     \
                                       oci_problems *out) {                    \
    return oci_validate(&oci_type_##c, obj, out);                              \
  }
#define OCI_FIELD(c, m, key, kind, flags, check)
#define OCI_END(c)
#include "ocispec/types.def"
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

/** @endcond */

/** Every declared type, for iteration (NULL-terminated). */
OCI_API extern const oci_type *const oci_all_types[];

/** A type by its C name ("image_manifest") or namespace and name ("image",
   "ImageManifest"); NULL when unknown. */
OCI_API const oci_type *oci_type_by_c_name(const char *c_name);
/** A type by namespace and name; NULL when unknown. */
OCI_API const oci_type *oci_type_by_name(const char *ns, const char *name);

#ifdef __cplusplus
}
#endif
#endif
