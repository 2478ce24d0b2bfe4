/** @file
   The schema: how every OCI type is described, and the generic operations
   (parse, write, validate, clone, compare, edit) driven by those
   descriptions. Types themselves are declared once in types.def. */
#ifndef OCISPEC_SCHEMA_H
#define OCISPEC_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocispec/arena.h"
#include "ocispec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Kinds of values a field can hold, and their C representation. */
typedef enum oci_kind {
  OCI_K_STRING, /**< char * (NUL-terminated UTF-8, no embedded NUL) */
  OCI_K_BOOL,   /**< bool */
  OCI_K_I32,    /**< int32_t */
  OCI_K_U16,    /**< uint16_t */
  OCI_K_U32,    /**< uint32_t */
  OCI_K_I64,    /**< int64_t */
  OCI_K_U64,    /**< uint64_t */
  OCI_K_DOUBLE, /**< double */
  OCI_K_RAW,    /**< char *: any JSON value, as compact JSON text */
  OCI_K_OBJECT, /**< struct oci_X * */
  OCI_K_ARRAY,  /**< oci_array of the element kind */
  OCI_K_MAP,    /**< oci_map: string keys -> values of the element kind */
  OCI_K_SET     /**< oci_map of raw values: {"80/tcp": {}} (NULL value = {}) */
} oci_kind;

struct oci_type;

/** A value type: a kind plus, for containers, what they hold. */
typedef struct oci_vtype {
  oci_kind kind;                 /**< what the value is */
  size_t size;                   /**< sizeof the C representation */
  const struct oci_type *object; /**< OCI_K_OBJECT */
  const struct oci_vtype *elem;  /**< OCI_K_ARRAY, OCI_K_MAP, OCI_K_SET */
} oci_vtype;

/** Unknown members of a JSON object, kept in input order and written back. */
typedef struct oci_extra {
  char **keys; /**< member names */
  char **raws; /**< compact JSON text of each value */
  size_t len;  /**< how many */
} oci_extra;

/** Every declared struct starts with this header (24 bytes on 64-bit
   targets; it was 48 before 2026-12: see docs/c.md "Memory layout").
   A type has at most 32 fields. */
typedef struct oci_object {
  oci_arena *arena; /**< the document's arena; all edits allocate here */
  uint32_t present; /**< bit i: field i present */
  uint32_t nulls;   /**< bit i: field i present as JSON null */
  oci_extra *extra; /**< members the spec does not define, in the arena;
                         NULL when there are none */
} oci_object;

/** How many unknown members obj (any declared struct) holds. */
static inline size_t oci_extra_len(const void *obj) {
  const oci_extra *x = ((const oci_object *)obj)->extra;
  return x ? x->len : 0;
}

/** Containers. Arrays of objects hold pointers, so a child never moves. */
typedef struct oci_array {
  void *items; /**< len elements of the element's C type */
  size_t len;  /**< how many */
} oci_array;

/** A map from strings to values, in input (or sorted) order. */
typedef struct oci_map {
  char **keys;  /**< the keys */
  void *values; /**< array of the element's C type */
  size_t len;   /**< how many */
} oci_map;

/** An array of string values. */
typedef struct oci_str_array {
  char **items; /**< the values */
  size_t len;   /**< how many */
} oci_str_array;
/** An array of bool values. */
typedef struct oci_bool_array {
  bool *items; /**< the values */
  size_t len;  /**< how many */
} oci_bool_array;
/** An array of int32_t values. */
typedef struct oci_i32_array {
  int32_t *items; /**< the values */
  size_t len;     /**< how many */
} oci_i32_array;
/** An array of uint16_t values. */
typedef struct oci_u16_array {
  uint16_t *items; /**< the values */
  size_t len;      /**< how many */
} oci_u16_array;
/** An array of uint32_t values. */
typedef struct oci_u32_array {
  uint32_t *items; /**< the values */
  size_t len;      /**< how many */
} oci_u32_array;
/** An array of int64_t values. */
typedef struct oci_i64_array {
  int64_t *items; /**< the values */
  size_t len;     /**< how many */
} oci_i64_array;
/** An array of uint64_t values. */
typedef struct oci_u64_array {
  uint64_t *items; /**< the values */
  size_t len;      /**< how many */
} oci_u64_array;
/** A map string -> string (annotations, labels, ...). */
typedef struct oci_str_map {
  char **keys;   /**< the keys */
  char **values; /**< the values */
  size_t len;    /**< how many */
} oci_str_map;
/** A set: a map string -> {} (ExposedPorts, Volumes). */
typedef struct oci_set {
  char **keys;   /**< the members */
  char **values; /**< raw JSON object text, NULL for {} */
  size_t len;    /**< how many */
} oci_set;

/** Validation context (opaque) and hooks declared next to the fields. */
typedef struct oci_vctx oci_vctx;
struct oci_field;
/** A field's spec rules: reports problems about value with oci_report. */
typedef void (*oci_field_check)(oci_vctx *v, const struct oci_field *f,
                                const void *value);
/** A type's cross-field rules. */
typedef void (*oci_type_check)(oci_vctx *v, const void *obj);

enum {
  OCI_F_REQUIRED = 1, /**< must be present (and not null) */
  OCI_F_NULLABLE = 2  /**< the spec allows JSON null here */
};

/** One field of a type: its JSON key, C member and value type. */
typedef struct oci_field {
  const char *key;       /**< JSON member name, as the spec writes it */
  const char *name;      /**< snake_case name (C member, Lua getter) */
  const oci_vtype *vt;   /**< what it holds */
  uint32_t offset;       /**< of the member in the struct */
  uint16_t key_len;      /**< bytes of key */
  uint8_t flags;         /**< OCI_F_REQUIRED, OCI_F_NULLABLE */
  uint8_t index;         /**< bit of the presence masks */
  oci_field_check check; /**< spec rules for this field; may be NULL */
} oci_field;

/** A declared type: its names and fields. */
typedef struct oci_type {
  const char *name;        /**< as oci-spec-rs: "Descriptor" */
  const char *ns;          /**< "image", "runtime", "distribution" */
  const char *c_name;      /**< "image_descriptor" */
  size_t size;             /**< sizeof the struct */
  const oci_field *fields; /**< in spec order */
  size_t nfields;          /**< how many */
  oci_type_check check;    /**< cross-field rules; may be NULL */
  const oci_vtype *vt;     /**< the OCI_K_OBJECT vtype of this type */
} oci_type;

/** Value types of the scalar kinds, and arrays and maps of them, for
   declaring types outside types.def (tests, extensions). */
#define OCI_DECLARE_SCALAR_VT(name)                                            \
  OCI_API extern const oci_vtype oci_vt_##name, oci_vt_arr_##name,             \
      oci_vt_map_##name;
OCI_DECLARE_SCALAR_VT(string)
OCI_DECLARE_SCALAR_VT(bool)
OCI_DECLARE_SCALAR_VT(i32)
OCI_DECLARE_SCALAR_VT(u16)
OCI_DECLARE_SCALAR_VT(u32)
OCI_DECLARE_SCALAR_VT(i64)
OCI_DECLARE_SCALAR_VT(u64)
OCI_DECLARE_SCALAR_VT(double)
OCI_DECLARE_SCALAR_VT(raw)
/** The value type of sets. */
OCI_API extern const oci_vtype oci_vt_set;

/* ---- limits ------------------------------------------------------------ */

/* Every options struct of the library follows one convention: `version`
   first (set it to OCI_<X>_OPTIONS_VERSION), an OCI_<X>_OPTIONS_INIT macro
   and an oci_<x>_options_init() function that give the defaults. Start
   from one of them and change the members you need: a function given an
   options struct whose version it does not know fails with OCI_EINVAL
   ("oci_<x>_options: unknown version N") before doing anything. Options
   are read during the call only; the caller keeps what they point to. */

/** Limits and leniency of parsing (oci_parse, oci_parse_file). */
typedef struct oci_parse_options {
  unsigned version;          /**< OCI_PARSE_OPTIONS_VERSION */
  size_t max_depth;          /**< nesting of arrays/objects */
  size_t max_size;           /**< bytes of input */
  size_t max_string;         /**< bytes of one decoded string */
  bool allow_duplicate_keys; /**< lenient: the last duplicate wins */
  /** Partial documents (a spec page's fragment, a document being edited):
     a missing required field is not a parse error; validate() still
     reports it (rule "required"). */
  bool allow_missing_required;
} oci_parse_options;

/** The version of oci_parse_options this header declares. */
#define OCI_PARSE_OPTIONS_VERSION 1
/** Default nesting limit. */
#define OCI_DEFAULT_MAX_DEPTH 256
/** max_depth cannot exceed this: recursion stays within ~1 MiB of stack. */
#define OCI_MAX_DEPTH_LIMIT 1024
#define OCI_DEFAULT_MAX_SIZE ((size_t)256 << 20)  /**< 256 MiB of input */
#define OCI_DEFAULT_MAX_STRING ((size_t)64 << 20) /**< 64 MiB per string */
/** Initializer of oci_parse_options: the defaults. */
#define OCI_PARSE_OPTIONS_INIT                                                 \
  {                                                                            \
    OCI_PARSE_OPTIONS_VERSION, OCI_DEFAULT_MAX_DEPTH, OCI_DEFAULT_MAX_SIZE,    \
        OCI_DEFAULT_MAX_STRING, false, false                                   \
  }
/** *o = OCI_PARSE_OPTIONS_INIT. */
OCI_API void oci_parse_options_init(oci_parse_options *o);

/** How documents are written (oci_to_json, oci_write_file). */
typedef struct oci_write_options {
  unsigned version; /**< OCI_WRITE_OPTIONS_VERSION */
  bool pretty;      /**< 2-space indent, "key": value, no trailing newline */
} oci_write_options;
/** The version of oci_write_options this header declares. */
#define OCI_WRITE_OPTIONS_VERSION 1
/** Initializer of oci_write_options: the defaults (compact). */
#define OCI_WRITE_OPTIONS_INIT                                                 \
  { OCI_WRITE_OPTIONS_VERSION, false }
/** *o = OCI_WRITE_OPTIONS_INIT (compact output). */
OCI_API void oci_write_options_init(oci_write_options *o);

/* ---- whole documents --------------------------------------------------- */

/* Ownership: a document is its root object and everything in its arena.
   oci_parse, oci_parse_file, oci_new and oci_clone hand out roots: the
   caller owns each and frees it with oci_free (or the typed _free), which
   frees every object of the document at once. Pointers into a document
   (children, strings, arrays) are borrowed: valid until its root is freed.
   oci_free on anything else (a child, an object made with oci_new_in or
   oci_copy_into in the caller's own arena) is a checked no-op: it frees
   nothing (a child goes with its root, a caller's arena with
   oci_arena_free). */

/** Parse buf[0..len) as a document of type t into a new arena; *out is the
   root object, the caller's, freed with oci_free(*out). opts may be NULL
   (defaults). */
OCI_API int oci_parse(const oci_type *t, const char *buf, size_t len,
                      const oci_parse_options *opts, void **out,
                      oci_error *err);

/** Read and parse a file; *out as oci_parse (the caller's root). */
OCI_API int oci_parse_file(const oci_type *t, const char *path,
                           const oci_parse_options *opts, void **out,
                           oci_error *err);

/** Check that buf holds exactly one JSON value (structure only, no types).
   Nothing is returned or kept. */
OCI_API int oci_json_check(const char *buf, size_t len,
                           const oci_parse_options *opts, oci_error *err);

/** Serialize to a new malloc'd, NUL-terminated buffer: *out is the
   caller's, freed with free(); *out_len (may be NULL) its length. */
OCI_API int oci_to_json(const oci_type *t, const void *obj,
                        const oci_write_options *opts, char **out,
                        size_t *out_len, oci_error *err);

/** Serialize to path atomically: a temporary file in the same directory,
   fsync, rename. On failure nothing is left at path or beside it. */
OCI_API int oci_write_file(const oci_type *t, const void *obj,
                           const oci_write_options *opts, const char *path,
                           oci_error *err);

/** A new empty object of type t in a new arena: *out is a root, the
   caller's, freed with oci_free. */
OCI_API int oci_new(const oci_type *t, void **out, oci_error *err);

/** An empty object of type t inside arena a, owned by a (never freed alone:
   oci_free on it is a no-op); NULL when out of memory. */
OCI_API void *oci_new_in(const oci_type *t, oci_arena *a);

/** Frees the document whose root is `root`: every object of its arena.
   NULL, a child object, or an object of an arena the caller made is a
   no-op (nothing is freed; see "Ownership" above). */
OCI_API void oci_free(void *root);

/** Deep copy of obj (a root or a child) into a new arena (compacting:
   detached values are left behind): *out is a root, the caller's, freed
   with oci_free. */
OCI_API int oci_clone(const oci_type *t, const void *obj, void **out,
                      oci_error *err);

/** Deep copy of obj into arena a (for setting a child from another doc),
   owned by a (oci_free on it is a no-op); NULL when out of memory. */
OCI_API void *oci_copy_into(const oci_type *t, const void *obj, oci_arena *a);

/** Deep equality as JSON values (unknown members included; map order not
   significant, array order significant). */
OCI_API bool oci_equal(const oci_type *t, const void *a, const void *b);

/** Field lookups: entries of t's static field table, or NULL. */
OCI_API const oci_field *oci_field_by_key(const oci_type *t, const char *key,
                                          size_t len);
/** The field of that snake_case name (static), or NULL. */
OCI_API const oci_field *oci_field_by_name(const oci_type *t, const char *name);
/** Length of f's public name: its C name without a trailing underscore
   (members named like C++ keywords or predefined macros: class_, linux_). */
OCI_API size_t oci_field_name_len(const oci_field *f);

/** Presence of field index i. */
static inline bool oci_is_present(const void *obj, unsigned i) {
  return (((const oci_object *)obj)->present >> i) & 1u;
}
/** Whether field index i is present as JSON null. */
static inline bool oci_is_null(const void *obj, unsigned i) {
  return (((const oci_object *)obj)->nulls >> i) & 1u;
}
/** Mark field i present (after assigning the member directly). */
static inline void oci_mark(void *obj, unsigned i) {
  ((oci_object *)obj)->present |= (uint32_t)1 << i;
  ((oci_object *)obj)->nulls &= ~((uint32_t)1 << i);
}
/** Remove field i (the value stays in the arena, detached). */
OCI_API void oci_unset(void *obj, const oci_field *f);
/** Set field i to JSON null (only if the field is not required). */
OCI_API void oci_set_null(void *obj, const oci_field *f);

/** Setters that copy into obj's arena. Return OCI_OK or OCI_ENOMEM;
   oci_set_string also OCI_EUTF8 (s is not valid UTF-8: nothing is set). */
OCI_API int oci_set_string(void *obj, const oci_field *f, const char *s);
/** Deep copy of child (of the field's object type) into obj's arena. */
OCI_API int oci_set_object(void *obj, const oci_field *f, const void *child);

/** Address of field f inside obj. */
static inline void *oci_field_ptr(const void *obj, const oci_field *f) {
  return (char *)(uintptr_t)obj + f->offset;
}

/* ---- validation -------------------------------------------------------- */

/** How bad a problem is: an error breaks a MUST, a warning a SHOULD. */
typedef enum { OCI_SEV_ERROR = 0, OCI_SEV_WARNING = 1 } oci_severity;

/** One broken rule. */
typedef struct oci_problem {
  oci_severity severity;               /**< error or warning */
  char rule[24];                       /**< RULES.md id, e.g. "I-DESC-5" */
  char pointer[OCI_ERROR_POINTER_MAX]; /**< JSON Pointer of the value */
  char message[OCI_ERROR_MESSAGE_MAX]; /**< what is wrong */
} oci_problem;

/** Every problem oci_validate found. */
typedef struct oci_problems {
  oci_problem *items; /**< malloc'd */
  size_t len;         /**< how many */
  size_t errors;      /**< problems with severity error */
  size_t warnings;    /**< problems with severity warning */
} oci_problems;

/** Check every spec rule of obj and its children. Returns OCI_OK when there
   is no error (warnings allowed), OCI_EVALIDATE when there are errors,
   OCI_ENOMEM. *out is filled either way; free with oci_problems_free. */
OCI_API int oci_validate(const oci_type *t, const void *obj, oci_problems *out);

/** What the document is checked for, where a rule depends on it. */
typedef struct oci_validate_options {
  unsigned version; /**< OCI_VALIDATE_OPTIONS_VERSION */
  /** The target platform of a runtime config, as a GOOS value ("linux",
     "windows", "solaris", "freebsd", "zos", ...). NULL: inferred from
     which platform object the config has (windows, solaris, zos, freebsd;
     linux or none means a POSIX platform). With "windows", a config
     without a windows object is an error (config.md: "This MUST be set if
     the target platform of this spec is windows", R-CFG-25). */
  const char *platform;
  /** The config is meant to be started: process is REQUIRED (config.md
     "process ... is REQUIRED when start is called", R-CFG-11). */
  bool for_start;
} oci_validate_options;

/** The version of oci_validate_options this header declares. */
#define OCI_VALIDATE_OPTIONS_VERSION 1
/** Initializer of oci_validate_options: the defaults. */
#define OCI_VALIDATE_OPTIONS_INIT                                              \
  { OCI_VALIDATE_OPTIONS_VERSION, NULL, false }
/** *o = OCI_VALIDATE_OPTIONS_INIT. */
OCI_API void oci_validate_options_init(oci_validate_options *o);

/** oci_validate with options; opts may be NULL (the defaults). An unknown
   opts->version is OCI_EINVAL with one problem (rule "options") saying so. */
OCI_API int oci_validate_ex(const oci_type *t, const void *obj,
                            const oci_validate_options *opts,
                            oci_problems *out);
/** Frees the items; p itself is the caller's. */
OCI_API void oci_problems_free(oci_problems *p);

/** For rule implementations: report a problem at the current pointer, with
   an optional suffix segment (NULL for none). */
OCI_API void oci_report(oci_vctx *v, oci_severity sev, const char *rule,
                        const char *suffix, const char *fmt, ...)
    OCI_PRINTF(5, 6);

#ifdef __cplusplus
}
#endif
#endif
