/* A hostile-input corpus, generated from the declarations: every field of
   every type in oci_all_types gets every wrong JSON type, every integer
   limit (and one past it), fractions and exponents in integer fields, nulls
   where they are refused, duplicate keys; strings get every escape, every
   kind of invalid UTF-8 and NUL; documents get nesting at and past the
   depth limit and strings, arrays and sizes at and past their limits.
   Each case asserts its SPECIFIC error code and JSON Pointer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ocispec/ocispec.h"

static size_t ncases; /* cases run, printed at the end of each test */

/* ---- a growing string ---- */

typedef struct sb {
  char *s;
  size_t len, cap;
} sb;

static void sb_add(sb *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->s, cap);
    assert_non_null(p);
    if (!p) abort(); /* tells gcc -O2 that b->s is not NULL below */
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void sb_puts(sb *b, const char *s) {
  sb_add(b, s, strlen(s));
}

static void sb_printf(sb *b, const char *fmt, ...) OCI_PRINTF(2, 3);
static void sb_printf(sb *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof tmp);
  sb_add(b, tmp, (size_t)n);
}

static void sb_reset(sb *b) {
  b->len = 0;
  if (b->s) b->s[0] = '\0';
}

/* ---- minimal documents from the declarations ---- */

static void gen_value(sb *b, const oci_vtype *vt, int depth);

/* The required members of t, except `skip`, as "k":v pairs. */
static void gen_required(sb *b, const oci_type *t, const oci_field *skip,
                         int depth, bool *first) {
  for (size_t i = 0; i < t->nfields; i++) {
    const oci_field *f = &t->fields[i];
    if (!(f->flags & OCI_F_REQUIRED) || f == skip) continue;
    if (!*first) sb_puts(b, ",");
    *first = false;
    sb_printf(b, "\"%s\":", f->key);
    gen_value(b, f->vt, depth + 1);
  }
}

static void gen_value(sb *b, const oci_vtype *vt, int depth) {
  assert_true(depth < 32);
  switch (vt->kind) {
  case OCI_K_STRING: sb_puts(b, "\"x\""); break;
  case OCI_K_BOOL: sb_puts(b, "true"); break;
  case OCI_K_I32:
  case OCI_K_U16:
  case OCI_K_U32:
  case OCI_K_I64:
  case OCI_K_U64: sb_puts(b, "1"); break;
  case OCI_K_DOUBLE: sb_puts(b, "1.5"); break;
  case OCI_K_RAW: sb_puts(b, "{\"any\":[1,\"2\",null]}"); break;
  case OCI_K_OBJECT: {
    bool first = true;
    sb_puts(b, "{");
    gen_required(b, vt->object, NULL, depth, &first);
    sb_puts(b, "}");
    break;
  }
  case OCI_K_ARRAY: sb_puts(b, "[]"); break;
  case OCI_K_MAP:
  case OCI_K_SET: sb_puts(b, "{}"); break;
  }
}

/* A document of type t: its required members, then "key": value (f's key
   unless key is given). value NULL: no extra member. */
static void gen_doc(sb *b, const oci_type *t, const oci_field *f,
                    const char *key, const char *value, size_t value_len) {
  bool first = true;
  sb_reset(b);
  sb_puts(b, "{");
  gen_required(b, t, f, 0, &first);
  if (value) {
    if (!first) sb_puts(b, ",");
    sb_printf(b, "\"%s\":", key ? key : f->key);
    sb_add(b, value, value_len);
  }
  sb_puts(b, "}");
}

static void pointer_of(char *out, size_t cap, const char *k1, const char *k2) {
  out[0] = '\0';
  if (k1) oci_pointer_append(out, cap, k1, strlen(k1));
  if (k2) oci_pointer_append(out, cap, k2, strlen(k2));
}

/* ---- assertions ---- */

static void *expect_ok_opts(const oci_type *t, const char *doc, size_t len,
                            const oci_parse_options *po, const char *what) {
  void *obj = NULL;
  oci_error err;
  ncases++;
  int rc = oci_parse(t, doc, len, po, &obj, &err);
  if (rc != OCI_OK)
    fail_msg("%s: %s: expected success, got %s (%s) at \"%s\" in %.300s",
             t->name, what, oci_status_name(rc), err.message, err.pointer, doc);
  assert_non_null(obj);
  return obj;
}

static void *expect_ok(const oci_type *t, const char *doc, size_t len,
                       const char *what) {
  return expect_ok_opts(t, doc, len, NULL, what);
}

static void expect_err_opts(const oci_type *t, const char *doc, size_t len,
                            const oci_parse_options *po, int code,
                            const char *pointer, const char *what) {
  void *obj = (void *)1;
  oci_error err;
  /* stale bytes: every field of err must be set by the call (regression:
     reader_init returned the max_depth error before clearing err) */
  memset(&err, 0x55, sizeof err);
  ncases++;
  int rc = oci_parse(t, doc, len, po, &obj, &err);
  if (rc != code || err.code != code || strcmp(err.pointer, pointer) != 0)
    fail_msg("%s: %s: expected %s at \"%s\", got %s (%s) at \"%s\" in %.300s",
             t->name, what, oci_status_name(code), pointer, oci_status_name(rc),
             err.message, err.pointer, doc);
  assert_null(obj);
  assert_true(err.message[0] != '\0');
  /* located in the text, except the option and size checks made before
     reading (no position) */
  assert_true(err.offset <= len);
  if (err.line == 0)
    assert_true(code == OCI_EINVAL || code == OCI_ETOOBIG);
  else
    assert_true(err.column >= 1);
}

static void expect_err(const oci_type *t, const char *doc, size_t len, int code,
                       const char *pointer, const char *what) {
  expect_err_opts(t, doc, len, NULL, code, pointer, what);
}

static const oci_type *descriptor(void) {
  return &oci_type_image_descriptor;
}

/* ---- wrong JSON types at every field of every type ---- */

typedef struct jval {
  const char *text;
  const char *json_type; /* "string", "number", ... */
} jval;

static const jval all_values[] = {
    {"\"s\"", "string"}, {"1", "number"},      {"-2.5", "number"},
    {"true", "boolean"}, {"false", "boolean"}, {"[]", "array"},
    {"[1]", "array"},    {"{}", "object"},     {"{\"a\":1}", "object"},
};

/* Does a value of this JSON type suit kind k (leaving ranges aside)? */
static bool suits(const oci_vtype *vt, const jval *v) {
  const char *j = v->json_type;
  switch (vt->kind) {
  case OCI_K_STRING: return strcmp(j, "string") == 0;
  case OCI_K_BOOL: return strcmp(j, "boolean") == 0;
  case OCI_K_I32:
  case OCI_K_U16:
  case OCI_K_U32:
  case OCI_K_I64:
  case OCI_K_U64: return strcmp(v->text, "1") == 0;
  case OCI_K_DOUBLE: return strcmp(j, "number") == 0;
  case OCI_K_RAW: return true;
  case OCI_K_OBJECT: return false; /* decided by parsing, see below */
  case OCI_K_ARRAY: return strcmp(v->text, "[]") == 0;
  case OCI_K_MAP:
  case OCI_K_SET: return strcmp(v->text, "{}") == 0;
  }
  return false;
}

/* The JSON type a kind expects, as the reader's messages name it. */
static bool json_type_matches(const oci_vtype *vt, const char *j) {
  switch (vt->kind) {
  case OCI_K_STRING: return strcmp(j, "string") == 0;
  case OCI_K_BOOL: return strcmp(j, "boolean") == 0;
  case OCI_K_I32:
  case OCI_K_U16:
  case OCI_K_U32:
  case OCI_K_I64:
  case OCI_K_U64:
  case OCI_K_DOUBLE: return strcmp(j, "number") == 0;
  case OCI_K_RAW: return true;
  case OCI_K_ARRAY: return strcmp(j, "array") == 0;
  case OCI_K_OBJECT:
  case OCI_K_MAP:
  case OCI_K_SET: return strcmp(j, "object") == 0;
  }
  return false;
}

static void test_wrong_types_everywhere(void **state) {
  (void)state;
  sb doc = {0}, val = {0};
  char ptr[OCI_ERROR_POINTER_MAX];
  size_t before = ncases;
  for (size_t ti = 0; oci_all_types[ti]; ti++) {
    const oci_type *t = oci_all_types[ti];
    /* the minimal document parses */
    gen_doc(&doc, t, NULL, NULL, NULL, 0);
    oci_free(expect_ok(t, doc.s, doc.len, "minimal document"));
    /* the root must be an object */
    for (size_t k = 0; k < sizeof all_values / sizeof *all_values; k++) {
      if (strcmp(all_values[k].json_type, "object") == 0) continue;
      expect_err(t, all_values[k].text, strlen(all_values[k].text), OCI_ETYPE,
                 "", "root of the wrong type");
    }
    for (size_t fi = 0; fi < t->nfields; fi++) {
      const oci_field *f = &t->fields[fi];
      const oci_vtype *vt = f->vt;
      pointer_of(ptr, sizeof ptr, f->key, NULL);
      for (size_t k = 0; k < sizeof all_values / sizeof *all_values; k++) {
        const jval *v = &all_values[k];
        gen_doc(&doc, t, f, NULL, v->text, strlen(v->text));
        if (suits(vt, v)) {
          oci_free(expect_ok(t, doc.s, doc.len, f->key));
        } else if (!json_type_matches(vt, v->json_type)) {
          expect_err(t, doc.s, doc.len, OCI_ETYPE, ptr, f->key);
        } else if (vt->kind == OCI_K_OBJECT) {
          /* {} or {"a":1}: fine unless the child has required fields */
          void *obj = NULL;
          oci_error err;
          ncases++;
          int rc = oci_parse(t, doc.s, doc.len, NULL, &obj, &err);
          if (rc == OCI_OK) {
            oci_free(obj);
          } else {
            assert_int_equal(rc, OCI_EMISSING);
            assert_string_equal(err.pointer, ptr);
          }
        } else if (vt->kind == OCI_K_ARRAY || vt->kind == OCI_K_MAP ||
                   vt->kind == OCI_K_SET) {
          /* [1] or {"a":1}: the element decides */
          char eptr[OCI_ERROR_POINTER_MAX];
          pointer_of(eptr, sizeof eptr, f->key,
                     vt->kind == OCI_K_ARRAY ? "0" : "a");
          const oci_vtype *el = vt->kind == OCI_K_SET ? NULL : vt->elem;
          bool ok = el && (el->kind == OCI_K_RAW || el->kind == OCI_K_I32 ||
                           el->kind == OCI_K_U16 || el->kind == OCI_K_U32 ||
                           el->kind == OCI_K_I64 || el->kind == OCI_K_U64 ||
                           el->kind == OCI_K_DOUBLE);
          if (ok)
            oci_free(expect_ok(t, doc.s, doc.len, f->key));
          else
            expect_err(t, doc.s, doc.len, OCI_ETYPE, eptr, f->key);
        } else if (vt->kind == OCI_K_I32 || vt->kind == OCI_K_U16 ||
                   vt->kind == OCI_K_U32 || vt->kind == OCI_K_I64 ||
                   vt->kind == OCI_K_U64) {
          /* -2.5 in an integer field */
          expect_err(t, doc.s, doc.len, OCI_ETYPE, ptr, f->key);
        } else {
          fail_msg("%s.%s: case %s not classified", t->name, f->key, v->text);
        }
      }
      /* null: refused for required fields, kept otherwise */
      gen_doc(&doc, t, f, NULL, "null", 4);
      if (f->flags & OCI_F_REQUIRED) {
        expect_err(t, doc.s, doc.len, OCI_ETYPE, ptr, "required null");
      } else {
        void *obj = expect_ok(t, doc.s, doc.len, "null");
        assert_true(oci_is_null(obj, f->index));
        oci_free(obj);
      }
      /* a required field missing */
      if (f->flags & OCI_F_REQUIRED) {
        gen_doc(&doc, t, f, NULL, NULL, 0);
        expect_err(t, doc.s, doc.len, OCI_EMISSING, "", "missing");
        oci_parse_options po = OCI_PARSE_OPTIONS_INIT;
        po.allow_missing_required = true;
        oci_free(expect_ok_opts(t, doc.s, doc.len, &po, "missing, lenient"));
      }
      /* duplicate key: refused, or the last wins when lenient */
      sb_reset(&val);
      gen_value(&val, vt, 0);
      gen_doc(&doc, t, f, NULL, val.s, val.len);
      doc.len--; /* drop '}' */
      sb_printf(&doc, ",\"%s\":", f->key);
      sb_add(&doc, val.s, val.len);
      sb_puts(&doc, "}");
      expect_err(t, doc.s, doc.len, OCI_EDUPKEY, ptr, "duplicate key");
      oci_parse_options po = OCI_PARSE_OPTIONS_INIT;
      po.allow_duplicate_keys = true;
      oci_free(expect_ok_opts(t, doc.s, doc.len, &po, "duplicate, lenient"));
      /* null inside arrays and maps of typed elements */
      if ((vt->kind == OCI_K_ARRAY || vt->kind == OCI_K_MAP) &&
          vt->elem->kind != OCI_K_RAW) {
        const char *nv = vt->kind == OCI_K_ARRAY ? "[null]" : "{\"k\":null}";
        char eptr[OCI_ERROR_POINTER_MAX];
        pointer_of(eptr, sizeof eptr, f->key,
                   vt->kind == OCI_K_ARRAY ? "0" : "k");
        gen_doc(&doc, t, f, NULL, nv, strlen(nv));
        expect_err(t, doc.s, doc.len, OCI_ETYPE, eptr, "null element");
      }
      /* duplicate keys inside maps and sets */
      if (vt->kind == OCI_K_MAP || vt->kind == OCI_K_SET) {
        sb_reset(&val);
        sb_puts(&val, "{\"k\":");
        if (vt->kind == OCI_K_SET)
          sb_puts(&val, "{}");
        else
          gen_value(&val, vt->elem, 0);
        sb_puts(&val, ",\"k\":");
        if (vt->kind == OCI_K_SET)
          sb_puts(&val, "{}");
        else
          gen_value(&val, vt->elem, 0);
        sb_puts(&val, "}");
        char eptr[OCI_ERROR_POINTER_MAX];
        pointer_of(eptr, sizeof eptr, f->key, "k");
        gen_doc(&doc, t, f, NULL, val.s, val.len);
        expect_err(t, doc.s, doc.len, OCI_EDUPKEY, eptr, "duplicate map key");
      }
    }
    /* duplicate unknown members, and inside unknown members */
    gen_doc(&doc, t, NULL, "x-unknown", "1", 1);
    doc.len--;
    sb_puts(&doc, ",\"x-unknown\":2}");
    expect_err(t, doc.s, doc.len, OCI_EDUPKEY, "/x-unknown", "duplicate extra");
    const char *deep = "{\"a\":[{\"b\":1,\"b\":2}]}";
    gen_doc(&doc, t, NULL, "x-unknown", deep, strlen(deep));
    expect_err(t, doc.s, doc.len, OCI_EDUPKEY, "/x-unknown/a/0/b",
               "duplicate inside an extra");
  }
  print_message("wrong types, nulls, missing and duplicate keys: %zu cases\n",
                ncases - before);
  assert_true(ncases - before > 1000);
  free(doc.s);
  free(val.s);
}

/* ---- integers at and past every limit ---- */

typedef struct numcase {
  const char *text;
  int code;       /* OCI_OK or the error */
  uint64_t mag;   /* expected magnitude when OK */
  bool neg;       /* expected sign when OK */
  unsigned kinds; /* bit per oci_kind this case applies to (0 = all) */
} numcase;

#define KB(k) (1u << (k))
#define KINT                                                                   \
  (KB(OCI_K_I32) | KB(OCI_K_U16) | KB(OCI_K_U32) | KB(OCI_K_I64) |             \
   KB(OCI_K_U64))

static const numcase num_cases[] = {
    /* every kind */
    {"0", OCI_OK, 0, false, KINT},
    {"-0", OCI_OK, 0, false, KINT},
    {"1.0", OCI_ETYPE, 0, false, KINT},
    {"1e2", OCI_ETYPE, 0, false, KINT},
    {"1E+2", OCI_ETYPE, 0, false, KINT},
    {"0.5", OCI_ETYPE, 0, false, KINT},
    {"-1.5e-3", OCI_ETYPE, 0, false, KINT},
    {"1e400", OCI_ETYPE, 0, false, KINT},
    {"-0.0", OCI_ETYPE, 0, false, KINT},
    {"99999999999999999999999999", OCI_ERANGE, 0, false, KINT},
    {"-99999999999999999999999999", OCI_ERANGE, 0, false, KINT},
    {"18446744073709551616", OCI_ERANGE, 0, false, KINT},
    {"01", OCI_ESYNTAX, 0, false, KINT},
    {"-", OCI_ESYNTAX, 0, false, KINT},
    {"+1", OCI_ESYNTAX, 0, false, KINT},
    {"1.", OCI_ESYNTAX, 0, false, KINT},
    {".5", OCI_ESYNTAX, 0, false, KINT},
    {"1e", OCI_ESYNTAX, 0, false, KINT},
    {"\"1\"", OCI_ETYPE, 0, false, KINT},
    /* int32 */
    {"2147483647", OCI_OK, 2147483647u, false, KB(OCI_K_I32)},
    {"-2147483648", OCI_OK, 2147483648u, true, KB(OCI_K_I32)},
    {"2147483648", OCI_ERANGE, 0, false, KB(OCI_K_I32)},
    {"-2147483649", OCI_ERANGE, 0, false, KB(OCI_K_I32)},
    /* uint16 */
    {"65535", OCI_OK, 65535, false, KB(OCI_K_U16)},
    {"65536", OCI_ERANGE, 0, false, KB(OCI_K_U16)},
    /* uint32 */
    {"4294967295", OCI_OK, 4294967295u, false, KB(OCI_K_U32)},
    {"4294967296", OCI_ERANGE, 0, false, KB(OCI_K_U32)},
    /* int64 */
    {"9223372036854775807", OCI_OK, 9223372036854775807u, false, KB(OCI_K_I64)},
    {"-9223372036854775808", OCI_OK, 9223372036854775808u, true, KB(OCI_K_I64)},
    {"9223372036854775808", OCI_ERANGE, 0, false, KB(OCI_K_I64)},
    {"-9223372036854775809", OCI_ERANGE, 0, false, KB(OCI_K_I64)},
    /* uint64 */
    {"18446744073709551615", OCI_OK, UINT64_MAX, false, KB(OCI_K_U64)},
    /* unsigned kinds refuse every negative number but -0 */
    {"-1", OCI_ERANGE, 0, false, KB(OCI_K_U16) | KB(OCI_K_U32) | KB(OCI_K_U64)},
    {"-1", OCI_OK, 1, true, KB(OCI_K_I32) | KB(OCI_K_I64)},
};

static void check_int(const oci_field *f, const void *obj, const numcase *c) {
  const void *p = oci_field_ptr(obj, f);
  switch (f->vt->kind) {
  case OCI_K_I32: {
    int64_t want = c->neg ? -(int64_t)c->mag : (int64_t)c->mag;
    assert_int_equal(*(const int32_t *)p, want);
    break;
  }
  case OCI_K_U16: assert_int_equal(*(const uint16_t *)p, c->mag); break;
  case OCI_K_U32: assert_int_equal(*(const uint32_t *)p, c->mag); break;
  case OCI_K_I64: {
    int64_t v = *(const int64_t *)p;
    if (c->neg)
      assert_true(v < 0 && (uint64_t)(-(v + 1)) + 1 == c->mag);
    else
      assert_true(v >= 0 && (uint64_t)v == c->mag);
    break;
  }
  case OCI_K_U64: assert_true(*(const uint64_t *)p == c->mag); break;
  default: fail();
  }
}

static void test_integer_limits_everywhere(void **state) {
  (void)state;
  sb doc = {0}, val = {0};
  char ptr[OCI_ERROR_POINTER_MAX];
  size_t before = ncases, fields = 0;
  unsigned seen = 0;
  for (size_t ti = 0; oci_all_types[ti]; ti++) {
    const oci_type *t = oci_all_types[ti];
    for (size_t fi = 0; fi < t->nfields; fi++) {
      const oci_field *f = &t->fields[fi];
      oci_kind k = f->vt->kind;
      bool in_array = false;
      if (k == OCI_K_ARRAY && (KINT & KB(f->vt->elem->kind))) {
        in_array = true;
        k = f->vt->elem->kind;
      } else if (!(KINT & KB(k))) {
        continue;
      }
      fields++;
      seen |= KB(k);
      for (size_t i = 0; i < sizeof num_cases / sizeof *num_cases; i++) {
        const numcase *c = &num_cases[i];
        if (!(c->kinds & KB(k))) continue;
        sb_reset(&val);
        sb_printf(&val, in_array ? "[%s]" : "%s", c->text);
        pointer_of(ptr, sizeof ptr, f->key, in_array ? "0" : NULL);
        gen_doc(&doc, t, f, NULL, val.s, val.len);
        if (c->code == OCI_OK) {
          void *obj = expect_ok(t, doc.s, doc.len, c->text);
          if (!in_array) check_int(f, obj, c);
          oci_free(obj);
        } else {
          expect_err(t, doc.s, doc.len, c->code, ptr, c->text);
        }
      }
    }
  }
  /* every integer kind is declared somewhere */
  assert_int_equal(seen, KINT);
  print_message("integer limits: %zu cases over %zu fields\n", ncases - before,
                fields);
  free(doc.s);
  free(val.s);
}

/* doubles: the only DOUBLE fields are found by kind, too */
static void test_double_limits(void **state) {
  (void)state;
  static const struct {
    const char *text;
    int code;
  } cases[] = {
      {"1e308", OCI_OK},         {"-1e308", OCI_OK},  {"-0", OCI_OK},
      {"5e-324", OCI_OK},        {"1e-400", OCI_OK},  {"1e400", OCI_ERANGE},
      {"-1e400", OCI_ERANGE},    {"1.", OCI_ESYNTAX}, {"NaN", OCI_ESYNTAX},
      {"Infinity", OCI_ESYNTAX},
  };
  sb doc = {0};
  char ptr[OCI_ERROR_POINTER_MAX], longnum[200];
  memset(longnum, '1', sizeof longnum - 1);
  longnum[sizeof longnum - 1] = '\0';
  size_t fields = 0;
  for (size_t ti = 0; oci_all_types[ti]; ti++) {
    const oci_type *t = oci_all_types[ti];
    for (size_t fi = 0; fi < t->nfields; fi++) {
      const oci_field *f = &t->fields[fi];
      if (f->vt->kind != OCI_K_DOUBLE) continue;
      fields++;
      pointer_of(ptr, sizeof ptr, f->key, NULL);
      for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gen_doc(&doc, t, f, NULL, cases[i].text, strlen(cases[i].text));
        if (cases[i].code == OCI_OK)
          oci_free(expect_ok(t, doc.s, doc.len, cases[i].text));
        else
          expect_err(t, doc.s, doc.len, cases[i].code, ptr, cases[i].text);
      }
      gen_doc(&doc, t, f, NULL, longnum, strlen(longnum));
      expect_err(t, doc.s, doc.len, OCI_ERANGE, ptr, "199-digit number");
    }
  }
  print_message("double limits over %zu fields\n", fields);
  free(doc.s);
}

/* ---- strings: escapes, UTF-8, NUL ---- */

/* "mediaType" of a Descriptor set to the string body `body` (raw bytes
   between the quotes). */
static void descriptor_with(sb *doc, const char *body, size_t n) {
  sb_reset(doc);
  sb_puts(doc, "{\"mediaType\":\"");
  sb_add(doc, body, n);
  sb_puts(doc, "\",\"digest\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41"
               "e4649b934ca495991b7852b855\",\"size\":0}");
}

/* the same bytes in an unknown member's value and in a key */
static void extra_value_with(sb *doc, const char *body, size_t n) {
  sb_reset(doc);
  sb_puts(doc, "{\"mediaType\":\"a/b\",\"digest\":\"sha256:e3b0c44298fc1c149"
               "afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0,"
               "\"x\":[\"");
  sb_add(doc, body, n);
  sb_puts(doc, "\"]}");
}

static void extra_key_with(sb *doc, const char *body, size_t n) {
  sb_reset(doc);
  sb_puts(doc, "{\"mediaType\":\"a/b\",\"digest\":\"sha256:e3b0c44298fc1c149"
               "afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0,"
               "\"");
  sb_add(doc, body, n);
  sb_puts(doc, "\":1}");
}

static void test_escapes(void **state) {
  (void)state;
  static const struct {
    const char *esc, *decoded;
  } good[] = {
      {"\\\"", "\""},
      {"\\\\", "\\"},
      {"\\/", "/"},
      {"\\b", "\b"},
      {"\\f", "\f"},
      {"\\n", "\n"},
      {"\\r", "\r"},
      {"\\t", "\t"},
      {"\\u0041", "A"},
      {"\\u001f", "\x1f"},
      {"\\u007F", "\x7f"},
      {"\\u0080", "\xC2\x80"},
      {"\\u00e9", "\xC3\xA9"},
      {"\\u07FF", "\xDF\xBF"},
      {"\\u0800", "\xE0\xA0\x80"},
      {"\\u20AC", "\xE2\x82\xAC"},
      {"\\uD7FF", "\xED\x9F\xBF"},
      {"\\uE000", "\xEE\x80\x80"},
      {"\\uFFFF", "\xEF\xBF\xBF"},
      {"\\uD800\\uDC00", "\xF0\x90\x80\x80"},
      {"\\ud83d\\ude00", "\xF0\x9F\x98\x80"},
      {"\\uDBFF\\uDFFF", "\xF4\x8F\xBF\xBF"},
  };
  static const struct {
    const char *esc;
    int code;
    bool raw_ok; /* accepted inside an unknown member's value */
  } bad[] = {
      {"\\x41", OCI_ESYNTAX, false},
      {"\\U0041", OCI_ESYNTAX, false},
      {"\\a", OCI_ESYNTAX, false},
      {"\\0", OCI_ESYNTAX, false},
      {"\\'", OCI_ESYNTAX, false},
      {"\\u12", OCI_ESYNTAX, false},
      {"\\u", OCI_ESYNTAX, false},
      {"\\u12G4", OCI_ESYNTAX, false},
      {"\\u-123", OCI_ESYNTAX, false},
      {"\\uD800", OCI_EUTF8, false},
      {"\\uDBFF", OCI_EUTF8, false},
      {"\\uDC00", OCI_EUTF8, false},
      {"\\uDFFF", OCI_EUTF8, false},
      {"\\uD800\\u0041", OCI_EUTF8, false},
      {"\\uD800\\uD800", OCI_EUTF8, false},
      {"\\uD800x", OCI_EUTF8, false},
      {"\\uDC00\\uD800", OCI_EUTF8, false},
      {"\\uD800\\uDC0G", OCI_ESYNTAX, false},
      {"\\u0000", OCI_EINVAL, true},
      {"a\\u0000b", OCI_EINVAL, true},
  };
  sb doc = {0};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    /* alone, and between other characters */
    for (int wrap = 0; wrap < 2; wrap++) {
      char body[64], want[64];
      snprintf(body, sizeof body, wrap ? "a%sz" : "%s", good[i].esc);
      snprintf(want, sizeof want, wrap ? "a%sz" : "%s", good[i].decoded);
      descriptor_with(&doc, body, strlen(body));
      oci_image_descriptor *d =
          expect_ok(descriptor(), doc.s, doc.len, good[i].esc);
      assert_string_equal(d->media_type, want);
      /* written back and read again: the same string */
      char *out = NULL;
      size_t ol;
      assert_int_equal(oci_image_descriptor_to_json(d, false, &out, &ol, NULL),
                       OCI_OK);
      oci_image_descriptor *d2 =
          expect_ok(descriptor(), out, ol, "escape written back");
      assert_string_equal(d2->media_type, want);
      free(out);
      oci_free(d2);
      oci_free(d);
      extra_value_with(&doc, body, strlen(body));
      oci_free(expect_ok(descriptor(), doc.s, doc.len, "escape in extra"));
      extra_key_with(&doc, body, strlen(body));
      oci_free(expect_ok(descriptor(), doc.s, doc.len, "escape in key"));
    }
  }
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    descriptor_with(&doc, bad[i].esc, strlen(bad[i].esc));
    expect_err(descriptor(), doc.s, doc.len, bad[i].code, "/mediaType",
               bad[i].esc);
    extra_value_with(&doc, bad[i].esc, strlen(bad[i].esc));
    if (bad[i].raw_ok)
      oci_free(expect_ok(descriptor(), doc.s, doc.len, "NUL in extra"));
    else
      expect_err(descriptor(), doc.s, doc.len, bad[i].code, "/x/0", bad[i].esc);
    extra_key_with(&doc, bad[i].esc, strlen(bad[i].esc));
    expect_err(descriptor(), doc.s, doc.len, bad[i].code, "", bad[i].esc);
  }
  /* an escaped key still names its field */
  const char *k = "{\"\\u006dediaType\":\"a/b\",\"digest\":\"sha256:e3b0c44298f"
                  "c1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
                  "\"si\\u007ae\":0,\"size\":1}";
  expect_err(descriptor(), k, strlen(k), OCI_EDUPKEY, "/size",
             "escaped duplicate");
  free(doc.s);
}

static void test_utf8(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    const char *what;
  } invalid[] = {
      {"\xC0\x80", "overlong NUL (2 bytes)"},
      {"\xC1\xBF", "overlong U+007F"},
      {"\xE0\x80\x80", "overlong NUL (3 bytes)"},
      {"\xE0\x9F\xBF", "overlong U+07FF"},
      {"\xF0\x80\x80\x80", "overlong NUL (4 bytes)"},
      {"\xF0\x8F\xBF\xBF", "overlong U+FFFF"},
      {"\xED\xA0\x80", "UTF-8 high surrogate U+D800"},
      {"\xED\xAF\xBF", "UTF-8 high surrogate U+DBFF"},
      {"\xED\xB0\x80", "UTF-8 low surrogate U+DC00"},
      {"\xED\xBF\xBF", "UTF-8 low surrogate U+DFFF"},
      {"\xED\xA0\xBD\xED\xB8\x80", "CESU-8 surrogate pair"},
      {"\xF4\x90\x80\x80", "U+110000"},
      {"\xC3", "truncated 2-byte sequence"},
      {"\xE2\x82", "truncated 3-byte sequence"},
      {"\xE2", "truncated 3-byte sequence (1 byte)"},
      {"\xF0\x9F\x98", "truncated 4-byte sequence"},
      {"\xF0\x9F", "truncated 4-byte sequence (2 bytes)"},
      {"\xF0", "truncated 4-byte sequence (1 byte)"},
      {"\xC3z", "2-byte lead, ASCII"},
      {"\xE2\x82z", "3-byte lead, ASCII"},
      {"\xE2\xC3\xA9", "3-byte lead, new lead"},
      {"\x80", "lone continuation 0x80"},
      {"\xBF", "lone continuation 0xBF"},
      {"\xC3\xA9\xA9", "extra continuation"},
      {"\xFE\xFF", "UTF-16 BOM bytes"},
  };
  static const char *const valid[] = {
      "\xC2\x80",         "\xDF\xBF",         "\xE0\xA0\x80",
      "\xED\x9F\xBF",     "\xEE\x80\x80",     "\xEF\xBF\xBF",
      "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "\xE2\x82\xAC",
  };
  sb doc = {0};
  size_t before = ncases;
  for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
    const char *b = invalid[i].bytes;
    descriptor_with(&doc, b, strlen(b));
    expect_err(descriptor(), doc.s, doc.len, OCI_EUTF8, "/mediaType",
               invalid[i].what);
    extra_value_with(&doc, b, strlen(b));
    expect_err(descriptor(), doc.s, doc.len, OCI_EUTF8, "/x/0",
               invalid[i].what);
    extra_key_with(&doc, b, strlen(b));
    expect_err(descriptor(), doc.s, doc.len, OCI_EUTF8, "", invalid[i].what);
  }
  /* every byte that can never appear in UTF-8, and every lone lead byte */
  for (unsigned c = 0x80; c <= 0xFF; c++) {
    char b[2] = {(char)c, 'z'};
    descriptor_with(&doc, b, 2);
    expect_err(descriptor(), doc.s, doc.len, OCI_EUTF8, "/mediaType",
               "stray byte");
  }
  for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
    descriptor_with(&doc, valid[i], strlen(valid[i]));
    oci_image_descriptor *d = expect_ok(descriptor(), doc.s, doc.len, "valid");
    assert_string_equal(d->media_type, valid[i]);
    oci_free(d);
  }
  /* UTF-8 outside strings is a syntax error */
  const char *outside = "{\xC3\xA9}";
  expect_err(descriptor(), outside, strlen(outside), OCI_ESYNTAX, "",
             "UTF-8 outside a string");
  print_message("UTF-8: %zu cases\n", ncases - before);
  free(doc.s);
}

static void test_nul_bytes(void **state) {
  (void)state;
  sb doc = {0};
  /* a raw NUL byte inside a string: an unescaped control character */
  descriptor_with(&doc, "a\0b", 3);
  expect_err(descriptor(), doc.s, doc.len, OCI_ESYNTAX, "/mediaType",
             "NUL byte in a string");
  extra_value_with(&doc, "\0", 1);
  expect_err(descriptor(), doc.s, doc.len, OCI_ESYNTAX, "/x/0", "NUL in extra");
  extra_key_with(&doc, "a\0", 2);
  expect_err(descriptor(), doc.s, doc.len, OCI_ESYNTAX, "", "NUL in a key");
  /* every other control character */
  for (unsigned c = 1; c < 0x20; c++) {
    char b[1] = {(char)c};
    descriptor_with(&doc, b, 1);
    expect_err(descriptor(), doc.s, doc.len, OCI_ESYNTAX, "/mediaType",
               "control character");
  }
  /* NUL outside strings, and after the document */
  descriptor_with(&doc, "a/b", 3);
  sb_add(&doc, "\0", 1);
  expect_err(descriptor(), doc.s, doc.len, OCI_ESYNTAX, "", "trailing NUL");
  const char *lead = "\0{}";
  expect_err(descriptor(), lead, 3, OCI_ESYNTAX, "", "leading NUL");
  free(doc.s);
}

/* ---- depth ---- */

static void nested(sb *doc, size_t levels, bool objects) {
  /* a Descriptor (level 1) whose unknown member "x" nests `levels` more */
  sb_reset(doc);
  sb_puts(doc, "{\"mediaType\":\"a/b\",\"digest\":\"sha256:e3b0c44298fc1c149"
               "afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0,"
               "\"x\":");
  for (size_t i = 0; i < levels; i++)
    sb_puts(doc, objects ? "{\"a\":" : "[");
  sb_puts(doc, "0");
  for (size_t i = 0; i < levels; i++)
    sb_puts(doc, objects ? "}" : "]");
  sb_puts(doc, "}");
}

static void test_depth(void **state) {
  (void)state;
  static const size_t limits[] = {0, 1, 2, 3, 16, 255, 256, 1023, 1024};
  sb doc = {0};
  char want[OCI_ERROR_POINTER_MAX];
  for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
    size_t lim = limits[i] ? limits[i] : OCI_DEFAULT_MAX_DEPTH;
    oci_parse_options po = OCI_PARSE_OPTIONS_INIT;
    po.max_depth = limits[i];
    for (int objects = 0; objects < 2; objects++) {
      if (lim >= 2) { /* at the limit */
        nested(&doc, lim - 1, objects);
        oci_free(expect_ok_opts(descriptor(), doc.s, doc.len, &po, "at limit"));
        /* and as plain JSON: the value alone is one level shallower */
        ncases++;
        assert_int_equal(oci_json_check(doc.s, doc.len, &po, NULL), OCI_OK);
      }
      nested(&doc, lim, objects); /* one past */
      want[0] = '\0';
      oci_pointer_append(want, sizeof want, "x", 1);
      for (size_t l = 1; l < lim; l++)
        oci_pointer_append(want, sizeof want, objects ? "a" : "0", 1);
      expect_err_opts(descriptor(), doc.s, doc.len, &po, OCI_EDEPTH, want,
                      "past the limit");
      ncases++;
      oci_error err;
      assert_int_equal(oci_json_check(doc.s, doc.len, &po, &err), OCI_EDEPTH);
    }
  }
  /* far past: 100000 levels, and unterminated */
  sb_reset(&doc);
  for (int i = 0; i < 100000; i++)
    sb_puts(&doc, "[");
  ncases++;
  oci_error err;
  assert_int_equal(oci_json_check(doc.s, doc.len, NULL, &err), OCI_EDEPTH);
  expect_err(descriptor(), doc.s, doc.len, OCI_ETYPE, "", "array at the root");
  /* a max_depth above the hard limit is refused, not obeyed */
  oci_parse_options po = OCI_PARSE_OPTIONS_INIT;
  po.max_depth = OCI_MAX_DEPTH_LIMIT + 1;
  nested(&doc, 2, false);
  expect_err_opts(descriptor(), doc.s, doc.len, &po, OCI_EINVAL, "",
                  "max_depth over the hard limit");
  /* typed nesting counts too: an index's manifests at depth 2 */
  po = (oci_parse_options)OCI_PARSE_OPTIONS_INIT;
  po.max_depth = 2;
  const char *idx = "{\"schemaVersion\":2,\"manifests\":[{}]}";
  expect_err_opts(&oci_type_image_index, idx, strlen(idx), &po, OCI_EDEPTH,
                  "/manifests/0", "typed depth");
  free(doc.s);
}

/* ---- sizes ---- */

static void test_sizes(void **state) {
  (void)state;
  sb doc = {0}, body = {0};
  oci_parse_options po = OCI_PARSE_OPTIONS_INIT;
  /* max_string: at the limit, one past, counted after decoding */
  po.max_string = 1000;
  for (int i = 0; i < 1000; i++)
    sb_puts(&body, "a");
  descriptor_with(&doc, body.s, body.len);
  oci_free(expect_ok_opts(descriptor(), doc.s, doc.len, &po, "1000 bytes"));
  sb_puts(&body, "a");
  descriptor_with(&doc, body.s, body.len);
  expect_err_opts(descriptor(), doc.s, doc.len, &po, OCI_ETOOBIG, "/mediaType",
                  "1001 bytes");
  extra_value_with(&doc, body.s, body.len);
  expect_err_opts(descriptor(), doc.s, doc.len, &po, OCI_ETOOBIG, "/x/0",
                  "1001 bytes in an extra");
  extra_key_with(&doc, body.s, body.len);
  expect_err_opts(descriptor(), doc.s, doc.len, &po, OCI_ETOOBIG, "",
                  "1001-byte key");
  sb_reset(&body);
  for (int i = 0; i < 500; i++) /* 500 x 2 decoded bytes, 3000 raw */
    sb_puts(&body, "\\u00e9");
  descriptor_with(&doc, body.s, body.len);
  oci_free(expect_ok_opts(descriptor(), doc.s, doc.len, &po, "1000 decoded"));
  sb_puts(&body, "\\n");
  descriptor_with(&doc, body.s, body.len);
  expect_err_opts(descriptor(), doc.s, doc.len, &po, OCI_ETOOBIG, "/mediaType",
                  "1001 decoded");

  /* max_size: the document itself */
  descriptor_with(&doc, "a/b", 3);
  po = (oci_parse_options)OCI_PARSE_OPTIONS_INIT;
  po.max_size = doc.len;
  oci_free(expect_ok_opts(descriptor(), doc.s, doc.len, &po, "max_size"));
  po.max_size = doc.len - 1;
  expect_err_opts(descriptor(), doc.s, doc.len, &po, OCI_ETOOBIG, "",
                  "max_size - 1");
  /* huge strings and arrays with the default limits: 8 MiB, 200000 items */
  sb_reset(&body);
  for (int i = 0; i < 8 << 20; i += 64)
    sb_puts(&body,
            "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01");
  descriptor_with(&doc, body.s, body.len);
  oci_image_descriptor *d = expect_ok(descriptor(), doc.s, doc.len, "8 MiB");
  assert_int_equal(strlen(d->media_type), 8 << 20);
  oci_free(d);
  sb_reset(&doc);
  sb_puts(&doc, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{"
                "\"type\":\"layers\",\"diff_ids\":[");
  for (int i = 0; i < 200000; i++)
    sb_puts(&doc, i ? ",\"x\"" : "\"x\"");
  sb_puts(&doc, "]}}");
  oci_image_configuration *c =
      expect_ok(&oci_type_image_configuration, doc.s, doc.len, "200000 items");
  assert_int_equal(c->rootfs->diff_ids.len, 200000);
  oci_free(c);
  /* 100000 unknown members: duplicate detection stays linear */
  sb_reset(&doc);
  sb_puts(&doc, "{\"mediaType\":\"a/b\",\"digest\":\"sha256:e3b0c44298fc1c149"
                "afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0");
  for (int i = 0; i < 100000; i++)
    sb_printf(&doc, ",\"k%d\":%d", i, i);
  sb_puts(&doc, ",\"k99999\":0}");
  expect_err(descriptor(), doc.s, doc.len, OCI_EDUPKEY, "/k99999",
             "duplicate among 100000 keys");
  free(doc.s);
  free(body.s);
}

/* ---- structure: truncation at every byte ---- */

static void test_truncation(void **state) {
  (void)state;
  const char *m = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci."
                  "image.manifest.v1+json\",\"config\":{\"mediaType\":\"a/b\","
                  "\"digest\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41"
                  "e4649b934ca495991b7852b855\",\"size\":0},\"layers\":[],"
                  "\"annotations\":{\"k\":\"\\u00e9\"}}";
  size_t n = strlen(m);
  oci_free(expect_ok(&oci_type_image_manifest, m, n, "whole"));
  for (size_t i = 0; i < n; i++) {
    void *obj = (void *)1;
    oci_error err;
    ncases++;
    int rc = oci_parse(&oci_type_image_manifest, m, i, NULL, &obj, &err);
    assert_null(obj);
    if (rc != OCI_ESYNTAX)
      fail_msg("prefix of %zu bytes: %s (%s)", i, oci_status_name(rc),
               err.message);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wrong_types_everywhere),
      cmocka_unit_test(test_integer_limits_everywhere),
      cmocka_unit_test(test_double_limits),
      cmocka_unit_test(test_escapes),
      cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_nul_bytes),
      cmocka_unit_test(test_depth),
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_truncation),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  printf("hostile inputs: %zu cases\n", ncases);
  return rc;
}
