/* Type descriptors generated from types.def, and the generic operations
   they drive: new, free, copy, compare, set, field lookup (file I/O is
   json/json_file.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ocispec/types.h"
#include "rules/rules.h"
#include "strcheck_internal.h"

/* ---- scalar and container value types ---------------------------------- */

#define SCALAR_VT(name, kind, ctype)                                           \
  const oci_vtype oci_vt_##name = {kind, sizeof(ctype), NULL, NULL};           \
  const oci_vtype oci_vt_arr_##name = {OCI_K_ARRAY, sizeof(oci_array), NULL,   \
                                       &oci_vt_##name};                        \
  const oci_vtype oci_vt_map_##name = {OCI_K_MAP, sizeof(oci_map), NULL,       \
                                       &oci_vt_##name};
SCALAR_VT(string, OCI_K_STRING, char *)
SCALAR_VT(bool, OCI_K_BOOL, bool)
SCALAR_VT(i32, OCI_K_I32, int32_t)
SCALAR_VT(u16, OCI_K_U16, uint16_t)
SCALAR_VT(u32, OCI_K_U32, uint32_t)
SCALAR_VT(i64, OCI_K_I64, int64_t)
SCALAR_VT(u64, OCI_K_U64, uint64_t)
SCALAR_VT(double, OCI_K_DOUBLE, double)
SCALAR_VT(raw, OCI_K_RAW, char *)
const oci_vtype oci_vt_set = {OCI_K_SET, sizeof(oci_map), NULL, &oci_vt_raw};

/* KIND token of types.def -> its vtype. */
#define OCI_VT(k) OCI_VT_##k
#define OCI_VT_STRING &oci_vt_string
#define OCI_VT_BOOL &oci_vt_bool
#define OCI_VT_I32 &oci_vt_i32
#define OCI_VT_U16 &oci_vt_u16
#define OCI_VT_U32 &oci_vt_u32
#define OCI_VT_I64 &oci_vt_i64
#define OCI_VT_U64 &oci_vt_u64
#define OCI_VT_DOUBLE &oci_vt_double
#define OCI_VT_RAW &oci_vt_raw
#define OCI_VT_SET &oci_vt_set
#define OCI_VT_OBJ(t) &oci_vt_obj_##t
#define OCI_VT_ARR(e) OCI_VTA_##e
#define OCI_VT_MAP(e) OCI_VTM_##e
#define OCI_VTA_STRING &oci_vt_arr_string
#define OCI_VTA_BOOL &oci_vt_arr_bool
#define OCI_VTA_I32 &oci_vt_arr_i32
#define OCI_VTA_U16 &oci_vt_arr_u16
#define OCI_VTA_U32 &oci_vt_arr_u32
#define OCI_VTA_I64 &oci_vt_arr_i64
#define OCI_VTA_U64 &oci_vt_arr_u64
#define OCI_VTA_RAW &oci_vt_arr_raw
#define OCI_VTA_OBJ(t) &oci_vt_arr_obj_##t
#define OCI_VTM_STRING &oci_vt_map_string
#define OCI_VTM_RAW &oci_vt_map_raw
#define OCI_VTM_OBJ(t) &oci_vt_map_obj_##t

#define OCI_FLAGS_REQ OCI_F_REQUIRED
#define OCI_FLAGS_OPT 0
#define OCI_FLAGS_NUL OCI_F_NULLABLE

/* Field tables: every declared type's fields in one object, one member
   array per type (so that oci_type_fast can tell a declared type by where
   its fields are, and find its codec tables at the same index). */
#define OCI_TYPE(c, name, ns, check) oci_field c[OCI_NFIELDS_##c];
#define OCI_FIELD(c, m, key, kind, flags, check)
#define OCI_END(c)
struct all_fields {
#include "ocispec/types.def"
};
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

#define OCI_TYPE(c, name, ns, check) {
#define OCI_FIELD(c, m, key, kind, flags, check)                               \
  {key,                                                                        \
   #m,                                                                         \
   OCI_VT(kind),                                                               \
   (uint32_t)offsetof(oci_##c, m),                                             \
   (uint16_t)(sizeof(key) - 1),                                                \
   OCI_FLAGS_##flags,                                                          \
   OCI_F_##c##_##m,                                                            \
   oci_chk_##check},
#define OCI_END(c)                                                             \
  }                                                                            \
  ,
static const struct all_fields all_fields = {
#include "ocispec/types.def"
};
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

#define OCI_TYPE(c, name, ns, check)                                           \
  _Static_assert(OCI_NFIELDS_##c <= 32, "at most 32 fields per type");
#define OCI_FIELD(c, m, key, kind, flags, check)
#define OCI_END(c)
#include "ocispec/types.def"
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

#define OCI_TYPE(c, name, ns, check) +OCI_NFIELDS_##c
#define OCI_FIELD(c, m, key, kind, flags, check)
#define OCI_END(c)
enum {
  ALL_NFIELDS = 0
#include "ocispec/types.def"
};
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END
_Static_assert(sizeof(struct all_fields) == ALL_NFIELDS * sizeof(oci_field),
               "field arrays are contiguous");

/* Codec tables (oci_field_fast), from the same declarations. A string
   literal's bytes are folded as constants in static initializers by GCC
   and Clang (C11 6.6p10 lets an implementation accept such forms). The
   index guards keep every subscript inside the literal. */
#define OCI_KLEN(s) (sizeof(s) - 1)
#define OCI_KB(s, i)                                                           \
  ((i) < OCI_KLEN(s)                                                           \
       ? (uint64_t)(unsigned char)(s)[(i) < OCI_KLEN(s) ? (i) : 0]             \
             << (8 * (i))                                                      \
       : 0)
#define OCI_KT(s, i)                                                           \
  ((uint64_t)(unsigned char)(s)[OCI_KLEN(s) >= 8 ? OCI_KLEN(s) - 8 + (i) : 0]  \
   << (8 * (i)))
#define OCI_KHEAD(s)                                                           \
  (OCI_KB(s, 0) | OCI_KB(s, 1) | OCI_KB(s, 2) | OCI_KB(s, 3) | OCI_KB(s, 4) |  \
   OCI_KB(s, 5) | OCI_KB(s, 6) | OCI_KB(s, 7))
#define OCI_KTAIL(s)                                                           \
  (OCI_KLEN(s) >= 8                                                            \
       ? (OCI_KT(s, 0) | OCI_KT(s, 1) | OCI_KT(s, 2) | OCI_KT(s, 3) |          \
          OCI_KT(s, 4) | OCI_KT(s, 5) | OCI_KT(s, 6) | OCI_KT(s, 7))           \
       : OCI_KHEAD(s))
#define OCI_TYPE(c, name, ns, check) oci_field_fast c[OCI_NFIELDS_##c];
#define OCI_FIELD(c, m, key, kind, flags, check)
#define OCI_END(c)
struct all_fast {
#include "ocispec/types.def"
};
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END
_Static_assert(sizeof(struct all_fast) == ALL_NFIELDS * sizeof(oci_field_fast),
               "codec tables are contiguous");

/* Each type's required fields as a mask (OCI_REQ_<type>), copied into
   every entry of its codec table: the reader's missing-field check per
   object is one load, not a loop over the fields. */
#define OCI_REQBIT_REQ(i) | ((uint32_t)1 << (i))
#define OCI_REQBIT_OPT(i)
#define OCI_REQBIT_NUL(i)
#define OCI_TYPE(c, name, ns, check) enum { OCI_REQ_##c = 0
#define OCI_FIELD(c, m, key, kind, flags, check)                               \
  OCI_REQBIT_##flags(OCI_F_##c##_##m)
#define OCI_END(c)                                                             \
  }                                                                            \
  ;
#include "ocispec/types.def"
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

#define OCI_TYPE(c, name, ns, check) {
#define OCI_FIELD(c, m, key, kind, flags, check)                               \
  {OCI_KHEAD(key), OCI_KTAIL(key), "\"" key "\": ", (uint32_t)OCI_KLEN(key),   \
   (uint32_t)OCI_REQ_##c},
#define OCI_END(c)                                                             \
  }                                                                            \
  ,
static const struct all_fast all_fast = {
#include "ocispec/types.def"
};
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

const oci_codec_tables oci_codec_tables_all = {
    (const oci_field *)(const void *)&all_fields, sizeof all_fields,
    (const oci_field_fast *)(const void *)&all_fast};

/* Type descriptors and their object/array/map vtypes. */
#define OCI_TYPE(c, name, ns, check)                                           \
  const oci_vtype oci_vt_obj_##c = {OCI_K_OBJECT, sizeof(void *),              \
                                    &oci_type_##c, NULL};                      \
  const oci_vtype oci_vt_arr_obj_##c = {OCI_K_ARRAY, sizeof(oci_array), NULL,  \
                                        &oci_vt_obj_##c};                      \
  const oci_vtype oci_vt_map_obj_##c = {OCI_K_MAP, sizeof(oci_map), NULL,      \
                                        &oci_vt_obj_##c};                      \
  const oci_type oci_type_##c = {name,                                         \
                                 ns,                                           \
                                 #c,                                           \
                                 sizeof(oci_##c),                              \
                                 all_fields.c,                                 \
                                 OCI_NFIELDS_##c,                              \
                                 oci_tchk_##check,                             \
                                 &oci_vt_obj_##c};
#define OCI_FIELD(c, m, key, kind, flags, check)
#define OCI_END(c)
#include "ocispec/types.def"
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

#define OCI_TYPE(c, name, ns, check) &oci_type_##c,
#define OCI_FIELD(c, m, key, kind, flags, check)
#define OCI_END(c)
const oci_type *const oci_all_types[] = {
#include "ocispec/types.def"
    NULL};
#undef OCI_TYPE
#undef OCI_FIELD
#undef OCI_END

const oci_type *oci_type_by_c_name(const char *c_name) {
  for (size_t i = 0; oci_all_types[i]; i++)
    if (strcmp(oci_all_types[i]->c_name, c_name) == 0) return oci_all_types[i];
  return NULL;
}

const oci_type *oci_type_by_name(const char *ns, const char *name) {
  for (size_t i = 0; oci_all_types[i]; i++)
    if (strcmp(oci_all_types[i]->ns, ns) == 0 &&
        strcmp(oci_all_types[i]->name, name) == 0)
      return oci_all_types[i];
  return NULL;
}

uint64_t oci_required_mask(const oci_type *t) {
  uint64_t m = 0;
  for (size_t i = 0; i < t->nfields; i++)
    if (t->fields[i].flags & OCI_F_REQUIRED) m |= (uint64_t)1 << i;
  return m;
}

const oci_field *oci_field_by_key(const oci_type *t, const char *key,
                                  size_t len) {
  for (size_t i = 0; i < t->nfields; i++)
    if (t->fields[i].key_len == len && memcmp(t->fields[i].key, key, len) == 0)
      return &t->fields[i];
  return NULL;
}

/* A member named like a C/C++ keyword or predefined macro carries a
   trailing underscore (class_, linux_); its public name has none. */
size_t oci_field_name_len(const oci_field *f) {
  size_t n = strlen(f->name);
  return n > 1 && f->name[n - 1] == '_' ? n - 1 : n;
}

const oci_field *oci_field_by_name(const oci_type *t, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < t->nfields; i++) {
    const oci_field *f = &t->fields[i];
    if (strcmp(f->name, name) == 0 ||
        (oci_field_name_len(f) == len && memcmp(f->name, name, len) == 0))
      return f;
  }
  return NULL;
}

/* ---- lifetime ---------------------------------------------------------- */

void *oci_new_in(const oci_type *t, oci_arena *a) {
  oci_object *o = oci_arena_calloc(a, t->size);
  if (o) o->arena = a;
  return o;
}

int oci_new(const oci_type *t, void **out, oci_error *err) {
  oci_error_reset(err);
  oci_arena *a = oci_arena_new(t->size + 256);
  *out = a ? oci_new_in(t, a) : NULL;
  if (!*out) {
    oci_arena_free(a);
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  oci_arena_set_root(a, *out);
  return OCI_OK;
}

void oci_free(void *root) {
  if (!root) return;
  oci_arena *a = ((oci_object *)root)->arena;
  /* a child, or an object of a caller's own arena: not ours to free */
  if (a && oci_arena_root(a) == root) oci_arena_free(a);
}

/* ---- copying ----------------------------------------------------------- */

oci_extra *oci_extra_new(oci_arena *a, size_t n) {
  if (n > (SIZE_MAX - sizeof(oci_extra)) / (2 * sizeof(char *))) return NULL;
  oci_extra *x = oci_arena_alloc(a, sizeof *x + 2 * n * sizeof(char *));
  if (!x) return NULL;
  x->keys = (char **)(void *)(x + 1);
  x->raws = x->keys + n;
  x->len = n;
  return x;
}

static int copy_object(const oci_type *t, const oci_object *src,
                       oci_object **dst, oci_arena *a);

int oci_copy_value(const oci_vtype *vt, const void *src, void *dst,
                   oci_arena *a) {
  switch (vt->kind) {
  case OCI_K_STRING:
  case OCI_K_RAW: {
    const char *s = *(char *const *)src;
    char *d = NULL;
    if (s && !(d = oci_arena_strdup(a, s))) return OCI_ENOMEM;
    *(char **)dst = d;
    return OCI_OK;
  }
  case OCI_K_OBJECT: {
    const oci_object *o = *(const oci_object *const *)src;
    *(oci_object **)dst = NULL;
    return o ? copy_object(vt->object, o, (oci_object **)dst, a) : OCI_OK;
  }
  case OCI_K_ARRAY: {
    const oci_array *s = src;
    oci_array *d = dst;
    size_t es = vt->elem->size;
    d->len = 0;
    d->items = NULL;
    if (!s->len) return OCI_OK;
    if (!(d->items = oci_arena_alloc(a, s->len * es))) return OCI_ENOMEM;
    for (size_t i = 0; i < s->len; i++) {
      int rc = oci_copy_value(vt->elem, (const char *)s->items + i * es,
                              (char *)d->items + i * es, a);
      if (rc) return rc;
    }
    d->len = s->len;
    return OCI_OK;
  }
  case OCI_K_MAP:
  case OCI_K_SET: {
    const oci_map *s = src;
    oci_map *d = dst;
    size_t vs = vt->elem->size;
    d->len = 0;
    d->keys = NULL;
    d->values = NULL;
    if (!s->len) return OCI_OK;
    d->keys = oci_arena_alloc(a, s->len * sizeof(char *));
    d->values = oci_arena_alloc(a, s->len * vs);
    if (!d->keys || !d->values) return OCI_ENOMEM;
    for (size_t i = 0; i < s->len; i++) {
      if (!(d->keys[i] = oci_arena_strdup(a, s->keys[i]))) return OCI_ENOMEM;
      int rc = oci_copy_value(vt->elem, (const char *)s->values + i * vs,
                              (char *)d->values + i * vs, a);
      if (rc) return rc;
    }
    d->len = s->len;
    return OCI_OK;
  }
  default: memcpy(dst, src, vt->size); return OCI_OK;
  }
}

static int copy_object(const oci_type *t, const oci_object *src,
                       oci_object **dst, oci_arena *a) {
  oci_object *o = oci_new_in(t, a);
  if (!o) return OCI_ENOMEM;
  o->present = src->present;
  o->nulls = src->nulls;
  for (size_t i = 0; i < t->nfields; i++) {
    const oci_field *f = &t->fields[i];
    if (!(src->present >> f->index & 1) || (src->nulls >> f->index & 1))
      continue;
    int rc = oci_copy_value(f->vt, (const char *)src + f->offset,
                            (char *)o + f->offset, a);
    if (rc) return rc;
  }
  if (oci_extra_len(src)) {
    size_t n = src->extra->len;
    oci_extra *x = oci_extra_new(a, n);
    if (!x) return OCI_ENOMEM;
    for (size_t i = 0; i < n; i++) {
      x->keys[i] = oci_arena_strdup(a, src->extra->keys[i]);
      x->raws[i] = oci_arena_strdup(a, src->extra->raws[i]);
      if (!x->keys[i] || !x->raws[i]) return OCI_ENOMEM;
    }
    o->extra = x;
  }
  *dst = o;
  return OCI_OK;
}

void *oci_copy_into(const oci_type *t, const void *obj, oci_arena *a) {
  oci_object *o = NULL;
  return copy_object(t, obj, &o, a) ? NULL : o;
}

int oci_clone(const oci_type *t, const void *obj, void **out, oci_error *err) {
  oci_error_reset(err);
  const oci_object *src = obj;
  oci_arena *a = oci_arena_new(oci_arena_used(src->arena));
  *out = NULL;
  if (!a || !(*out = oci_copy_into(t, obj, a))) {
    oci_arena_free(a);
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  oci_arena_set_root(a, *out);
  return OCI_OK;
}

/* ---- equality ---------------------------------------------------------- */

static bool equal_object(const oci_type *t, const oci_object *x,
                         const oci_object *y);

/* Strings compare by their bytes. */
static bool equal_str(const char *x, const char *y) {
  if (!x || !y) return x == y;
  return strcmp(x, y) == 0;
}

/* Raw values are compact, validated JSON text. Objects compare as sets of
   members (order is not significant in JSON); strings and numbers compare
   as written. */
static const char *raw_skip(const char *p) {
  if (*p == '"') {
    for (p++; *p != '"'; p++)
      if (*p == '\\') p++;
    return p + 1;
  }
  if (*p == '{' || *p == '[') {
    int depth = 0;
    do {
      if (*p == '"') {
        p = raw_skip(p);
        continue;
      }
      if (*p == '{' || *p == '[') depth++;
      if (*p == '}' || *p == ']') depth--;
      p++;
    } while (depth);
    return p;
  }
  while (*p && *p != ',' && *p != ']' && *p != '}')
    p++;
  return p;
}

static bool raw_eq(const char *a, const char *b);

static size_t raw_count(const char *p) { /* members or elements */
  size_t n = 0;
  for (p++; *p != '}' && *p != ']'; n++) {
    if (*p == ',') p++;
    p = raw_skip(p);
    if (*p == ':') p = raw_skip(p + 1);
  }
  return n;
}

static bool raw_object_has(const char *obj, const char *key, size_t klen,
                           const char *val) {
  for (const char *p = obj + 1; *p != '}';) {
    if (*p == ',') p++;
    const char *k = p, *ke = raw_skip(p);
    const char *v = ke + 1;
    p = raw_skip(v);
    if ((size_t)(ke - k) == klen && memcmp(k, key, klen) == 0)
      return raw_eq(val, v);
  }
  return false;
}

static bool raw_eq(const char *a, const char *b) {
  if (*a == '{' && *b == '{') {
    if (raw_count(a) != raw_count(b)) return false;
    for (const char *p = a + 1; *p != '}';) {
      if (*p == ',') p++;
      const char *k = p, *ke = raw_skip(p);
      if (!raw_object_has(b, k, (size_t)(ke - k), ke + 1)) return false;
      p = raw_skip(ke + 1);
    }
    return true;
  }
  if (*a == '[' && *b == '[') {
    const char *p = a + 1, *q = b + 1;
    for (;;) {
      if (*p == ',') p++;
      if (*q == ',') q++;
      if (*p == ']' || *q == ']') return *p == ']' && *q == ']';
      if (!raw_eq(p, q)) return false;
      p = raw_skip(p);
      q = raw_skip(q);
    }
  }
  const char *ae = raw_skip(a), *be = raw_skip(b);
  return ae - a == be - b && memcmp(a, b, (size_t)(ae - a)) == 0;
}

static bool equal_raw(const char *x, const char *y) {
  if (!x || !y) return x == y;
  return raw_eq(x, y);
}

static size_t map_find(const oci_map *m, const char *key) {
  for (size_t i = 0; i < m->len; i++)
    if (strcmp(m->keys[i], key) == 0) return i;
  return SIZE_MAX;
}

bool oci_equal_value(const oci_vtype *vt, const void *x, const void *y) {
  switch (vt->kind) {
  case OCI_K_STRING: return equal_str(*(char *const *)x, *(char *const *)y);
  case OCI_K_RAW: return equal_raw(*(char *const *)x, *(char *const *)y);
  case OCI_K_BOOL: return *(const bool *)x == *(const bool *)y;
  case OCI_K_DOUBLE: return *(const double *)x == *(const double *)y;
  case OCI_K_OBJECT: {
    const oci_object *a = *(const oci_object *const *)x;
    const oci_object *b = *(const oci_object *const *)y;
    if (!a || !b) return a == b;
    return equal_object(vt->object, a, b);
  }
  case OCI_K_ARRAY: {
    const oci_array *a = x, *b = y;
    size_t es = vt->elem->size;
    if (a->len != b->len) return false;
    for (size_t i = 0; i < a->len; i++)
      if (!oci_equal_value(vt->elem, (const char *)a->items + i * es,
                           (const char *)b->items + i * es))
        return false;
    return true;
  }
  case OCI_K_MAP:
  case OCI_K_SET: {
    const oci_map *a = x, *b = y;
    size_t vs = vt->elem->size;
    if (a->len != b->len) return false;
    for (size_t i = 0; i < a->len; i++) {
      size_t j = map_find(b, a->keys[i]);
      if (j == SIZE_MAX ||
          !oci_equal_value(vt->elem, (const char *)a->values + i * vs,
                           (const char *)b->values + j * vs))
        return false;
    }
    return true;
  }
  default: return memcmp(x, y, vt->size) == 0;
  }
}

static bool equal_object(const oci_type *t, const oci_object *x,
                         const oci_object *y) {
  if (x->present != y->present || x->nulls != y->nulls) return false;
  for (size_t i = 0; i < t->nfields; i++) {
    const oci_field *f = &t->fields[i];
    if (!(x->present >> f->index & 1) || (x->nulls >> f->index & 1)) continue;
    if (!oci_equal_value(f->vt, (const char *)x + f->offset,
                         (const char *)y + f->offset))
      return false;
  }
  size_t nx = oci_extra_len(x);
  if (nx != oci_extra_len(y)) return false;
  for (size_t i = 0; i < nx; i++) {
    const oci_extra *ex = x->extra, *ey = y->extra;
    size_t j = 0;
    while (j < nx && strcmp(ex->keys[i], ey->keys[j]))
      j++;
    if (j == nx || !equal_raw(ex->raws[i], ey->raws[j])) return false;
  }
  return true;
}

bool oci_equal(const oci_type *t, const void *a, const void *b) {
  return equal_object(t, a, b);
}

/* ---- editing ----------------------------------------------------------- */

void oci_unset(void *obj, const oci_field *f) {
  oci_object *o = obj;
  o->present &= ~((uint32_t)1 << f->index);
  o->nulls &= ~((uint32_t)1 << f->index);
  memset((char *)obj + f->offset, 0, f->vt->size);
}

void oci_set_null(void *obj, const oci_field *f) {
  if (f->flags & OCI_F_REQUIRED) return;
  oci_unset(obj, f);
  ((oci_object *)obj)->present |= (uint32_t)1 << f->index;
  ((oci_object *)obj)->nulls |= (uint32_t)1 << f->index;
}

int oci_set_string(void *obj, const oci_field *f, const char *s) {
  oci_object *o = obj;
  if (!oci_utf8_valid(s, strlen(s))) return OCI_EUTF8;
  char *d = oci_arena_strdup(o->arena, s);
  if (!d) return OCI_ENOMEM;
  *(char **)oci_field_ptr(obj, f) = d;
  oci_mark(obj, f->index);
  return OCI_OK;
}

int oci_set_string_err(void *obj, const oci_field *f, const char *s,
                       oci_error *err) {
  int rc = oci_set_string(obj, f, s);
  if (rc == OCI_EUTF8) {
    char q[OCI_QUOTE_SIZE];
    return oci_error_set(err, OCI_EUTF8, "%s %s: not valid UTF-8", f->key,
                         oci_quote(q, sizeof q, s, strlen(s)));
  }
  if (rc) return oci_error_set(err, rc, "out of memory");
  return OCI_OK;
}

int oci_set_object(void *obj, const oci_field *f, const void *child) {
  oci_object *o = obj;
  void *copy = oci_copy_into(f->vt->object, child, o->arena);
  if (!copy) return OCI_ENOMEM;
  *(void **)oci_field_ptr(obj, f) = copy;
  oci_mark(obj, f->index);
  return OCI_OK;
}
