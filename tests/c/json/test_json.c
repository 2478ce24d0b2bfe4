/* Unit tests for the JSON codec (csrc/json/json_read.c, csrc/json/json_write.c)
   and the generic operations of csrc/schema/schema.c, through a test-only type
   that has a field of every kind. No OCI type is involved: see test_image.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocispec/schema.h"

/* ---- the test types ----------------------------------------------------- */

typedef struct t_kid {
  oci_object hdr;
  char *name; /* required */
  int32_t n;
} t_kid;

typedef struct t_doc {
  oci_object hdr;
  char *req; /* required */
  char *s;   /* nullable */
  bool b;
  int32_t i32;
  uint16_t u16;
  uint32_t u32;
  int64_t i64;
  uint64_t u64;
  double d;
  char *raw;
  oci_set set;
  oci_str_array arr;
  oci_str_map map;
  t_kid *kid;
  struct {
    t_kid **items;
    size_t len;
  } kids;
  oci_i64_array ai64;
  oci_u64_array au64;
  oci_bool_array abool;
  oci_str_map mraw;
  struct {
    char **keys;
    t_kid **values;
    size_t len;
  } mkids;
} t_doc;

enum {
  F_REQ,
  F_S,
  F_B,
  F_I32,
  F_U16,
  F_U32,
  F_I64,
  F_U64,
  F_D,
  F_RAW,
  F_SET,
  F_ARR,
  F_MAP,
  F_KID,
  F_KIDS,
  F_AI64,
  F_AU64,
  F_ABOOL,
  F_MRAW,
  F_MKIDS,
  F_COUNT
};

static void no_field_check(oci_vctx *v, const oci_field *f, const void *p) {
  (void)v;
  (void)f;
  (void)p;
}
static void no_type_check(oci_vctx *v, const void *obj) {
  (void)v;
  (void)obj;
}

#define FIELD(st, m, key, vt, flags, idx)                                      \
  {                                                                            \
    key, #m, &(vt), (uint32_t)offsetof(st, m), (uint16_t)(sizeof(key) - 1),    \
        (flags), (idx), no_field_check                                         \
  }

static const oci_type kid_type;
static const oci_vtype vt_kid = {OCI_K_OBJECT, sizeof(void *), &kid_type, NULL};
static const oci_vtype vt_arr_kid = {OCI_K_ARRAY, sizeof(oci_array), NULL,
                                     &vt_kid};
static const oci_vtype vt_map_kid = {OCI_K_MAP, sizeof(oci_map), NULL, &vt_kid};

static const oci_field kid_fields[] = {
    FIELD(t_kid, name, "name", oci_vt_string, OCI_F_REQUIRED, 0),
    FIELD(t_kid, n, "n", oci_vt_i32, 0, 1),
};
static const oci_type kid_type = {"Kid",         "test",     "test_kid",
                                  sizeof(t_kid), kid_fields, 2,
                                  no_type_check, &vt_kid};

static const oci_field doc_fields[] = {
    FIELD(t_doc, req, "req", oci_vt_string, OCI_F_REQUIRED, F_REQ),
    FIELD(t_doc, s, "s", oci_vt_string, OCI_F_NULLABLE, F_S),
    FIELD(t_doc, b, "b", oci_vt_bool, 0, F_B),
    FIELD(t_doc, i32, "i32", oci_vt_i32, 0, F_I32),
    FIELD(t_doc, u16, "u16", oci_vt_u16, 0, F_U16),
    FIELD(t_doc, u32, "u32", oci_vt_u32, 0, F_U32),
    FIELD(t_doc, i64, "i64", oci_vt_i64, 0, F_I64),
    FIELD(t_doc, u64, "u64", oci_vt_u64, 0, F_U64),
    FIELD(t_doc, d, "d", oci_vt_double, 0, F_D),
    FIELD(t_doc, raw, "raw", oci_vt_raw, 0, F_RAW),
    FIELD(t_doc, set, "set", oci_vt_set, 0, F_SET),
    FIELD(t_doc, arr, "arr", oci_vt_arr_string, 0, F_ARR),
    FIELD(t_doc, map, "map", oci_vt_map_string, 0, F_MAP),
    FIELD(t_doc, kid, "kid", vt_kid, 0, F_KID),
    FIELD(t_doc, kids, "kids", vt_arr_kid, 0, F_KIDS),
    FIELD(t_doc, ai64, "ai64", oci_vt_arr_i64, 0, F_AI64),
    FIELD(t_doc, au64, "au64", oci_vt_arr_u64, 0, F_AU64),
    FIELD(t_doc, abool, "abool", oci_vt_arr_bool, 0, F_ABOOL),
    FIELD(t_doc, mraw, "mraw", oci_vt_map_raw, 0, F_MRAW),
    FIELD(t_doc, mkids, "mkids", vt_map_kid, 0, F_MKIDS),
};
static const oci_vtype vt_doc;
static const oci_type doc_type = {"Doc",         "test",     "test_doc",
                                  sizeof(t_doc), doc_fields, F_COUNT,
                                  no_type_check, &vt_doc};
static const oci_vtype vt_doc = {OCI_K_OBJECT, sizeof(void *), &doc_type, NULL};

/* ---- helpers ------------------------------------------------------------ */

static int parse_opts(const char *json, size_t len,
                      const oci_parse_options *opts, t_doc **out,
                      oci_error *err) {
  oci_error_clear(err);
  return oci_parse(&doc_type, json, len, opts, (void **)out, err);
}

/* Parses len bytes of json with opts (NULL: the defaults), which must
   succeed. */
static t_doc *parse_ok_opts(const char *json, size_t len,
                            const oci_parse_options *opts) {
  t_doc *d = NULL;
  oci_error err;
  if (parse_opts(json, len, opts, &d, &err) != OCI_OK)
    fail_msg("parse of %.*s failed: %s (%s) at %s %zu:%zu", (int)len, json,
             err.message, oci_status_name(err.code), err.pointer, err.line,
             err.column);
  assert_non_null(d);
  return d;
}

/* Parses json, which must succeed. */
static t_doc *parse_ok(const char *json) {
  return parse_ok_opts(json, strlen(json), NULL);
}

static char *to_json(const t_doc *d, bool pretty) {
  oci_write_options w = {OCI_WRITE_OPTIONS_VERSION, pretty};
  oci_error err;
  char *out = NULL;
  size_t len = 0;
  oci_error_clear(&err);
  if (oci_to_json(&doc_type, d, &w, &out, &len, &err) != OCI_OK)
    fail_msg("to_json failed: %s", err.message);
  assert_int_equal(len, strlen(out));
  return out;
}

/* Parse `in`, write it compactly: the output must be `expect` (NULL = the
   input itself), and parsing the output must give an equal object that
   writes the same bytes. */
static void roundtrip(const char *in, const char *expect) {
  t_doc *d = parse_ok(in), *d2;
  char *out = to_json(d, false), *out2;
  if (strcmp(out, expect ? expect : in) != 0)
    fail_msg("round trip of\n  %s\ngave\n  %s\nexpected\n  %s", in, out,
             expect ? expect : in);
  d2 = parse_ok(out);
  assert_true(oci_equal(&doc_type, d, d2));
  out2 = to_json(d2, false);
  assert_string_equal(out, out2);
  free(out);
  free(out2);
  oci_free(d);
  oci_free(d2);
}

/* An expected failure. line/column 0: not checked. */
typedef struct bad_case {
  const char *json;
  size_t len; /* 0: strlen(json) */
  int code;
  const char *pointer;
  const char *msg; /* a distinctive part of the message */
  size_t line, column;
} bad_case;

static void expect_bad_opts(const bad_case *c, const oci_parse_options *o) {
  t_doc *d = (t_doc *)1;
  oci_error err;
  size_t len = c->len ? c->len : strlen(c->json);
  int rc = parse_opts(c->json, len, o, &d, &err);
  if (rc != c->code || err.code != c->code)
    fail_msg("%.200s: expected %s, got %s (%s)", c->json,
             oci_status_name(c->code), oci_status_name(rc), err.message);
  assert_null(d);
  if (!strstr(err.message, c->msg))
    fail_msg("%.200s: message \"%s\" lacks \"%s\"", c->json, err.message,
             c->msg);
  if (strcmp(err.pointer, c->pointer) != 0)
    fail_msg("%.200s: pointer \"%s\", expected \"%s\" (%s)", c->json,
             err.pointer, c->pointer, err.message);
  assert_true(err.line >= 1 && err.column >= 1);
  if (c->line && (err.line != c->line || err.column != c->column))
    fail_msg("%.200s: at %zu:%zu, expected %zu:%zu", c->json, err.line,
             err.column, c->line, c->column);
}

static void expect_bad_all(const bad_case *cases, size_t n,
                           const oci_parse_options *o) {
  for (size_t i = 0; i < n; i++)
    expect_bad_opts(&cases[i], o);
}
#define EXPECT_BAD_OPTS(tab, o)                                                \
  expect_bad_all(tab, sizeof tab / sizeof tab[0], o)
#define EXPECT_BAD(tab) EXPECT_BAD_OPTS(tab, NULL)

/* ---- the declaration itself ----------------------------------------------
 */

static void test_declaration(void **state) {
  (void)state;
  for (size_t i = 0; i < doc_type.nfields; i++) {
    assert_int_equal(doc_fields[i].index, i);
    assert_int_equal(doc_fields[i].key_len, strlen(doc_fields[i].key));
    assert_ptr_equal(
        oci_field_by_key(&doc_type, doc_fields[i].key, doc_fields[i].key_len),
        &doc_fields[i]);
    assert_ptr_equal(oci_field_by_name(&doc_type, doc_fields[i].name),
                     &doc_fields[i]);
  }
  assert_null(oci_field_by_key(&doc_type, "nope", 4));
  assert_null(oci_field_by_name(&doc_type, "nope"));
}

/* ---- integers ------------------------------------------------------------ */

static void test_integer_limits(void **state) {
  (void)state;
  static const char *const ok[] = {
      "{\"req\":\"\",\"i32\":-2147483648}",
      "{\"req\":\"\",\"i32\":2147483647}",
      "{\"req\":\"\",\"u16\":0}",
      "{\"req\":\"\",\"u16\":65535}",
      "{\"req\":\"\",\"u32\":0}",
      "{\"req\":\"\",\"u32\":4294967295}",
      "{\"req\":\"\",\"i64\":-9223372036854775808}",
      "{\"req\":\"\",\"i64\":9223372036854775807}",
      "{\"req\":\"\",\"u64\":0}",
      "{\"req\":\"\",\"u64\":18446744073709551615}",
      "{\"req\":\"\",\"ai64\":[-9223372036854775808,0,9223372036854775807]}",
      "{\"req\":\"\",\"au64\":[18446744073709551615,1]}",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    roundtrip(ok[i], NULL);

  t_doc *d = parse_ok("{\"req\":\"\",\"i32\":-2147483648,\"u16\":65535,"
                      "\"u32\":4294967295,\"i64\":-9223372036854775808,"
                      "\"u64\":18446744073709551615}");
  assert_int_equal(d->i32, INT32_MIN);
  assert_int_equal(d->u16, UINT16_MAX);
  assert_int_equal(d->u32, UINT32_MAX);
  assert_true(d->i64 == INT64_MIN);
  assert_true(d->u64 == UINT64_MAX);
  oci_free(d);
  d = parse_ok("{\"req\":\"\",\"i32\":2147483647,\"i64\":9223372036854775807}");
  assert_int_equal(d->i32, INT32_MAX);
  assert_true(d->i64 == INT64_MAX);
  oci_free(d);

  /* -0 is the integer 0, for every kind (unsigned too) */
  roundtrip("{\"req\":\"\",\"i32\":-0,\"u16\":-0,\"u32\":-0,\"i64\":-0,"
            "\"u64\":-0}",
            "{\"req\":\"\",\"i32\":0,\"u16\":0,\"u32\":0,\"i64\":0,\"u64\":0}");

  static const bad_case bad[] = {
      {"{\"req\":\"\",\"i32\":-2147483649}", 0, OCI_ERANGE, "/i32",
       "-2147483649 is out of range for int32 (-2147483648..2147483647)", 1,
       17},
      {"{\"req\":\"\",\"i32\":2147483648}", 0, OCI_ERANGE, "/i32",
       "2147483648 is out of range for int32 (-2147483648..2147483647)", 0, 0},
      {"{\"req\":\"\",\"u16\":-1}", 0, OCI_ERANGE, "/u16",
       "-1 is out of range for uint16 (0..65535)", 0, 0},
      {"{\"req\":\"\",\"u16\":65536}", 0, OCI_ERANGE, "/u16",
       "65536 is out of range for uint16 (0..65535)", 0, 0},
      {"{\"req\":\"\",\"u32\":-1}", 0, OCI_ERANGE, "/u32",
       "-1 is out of range for uint32 (0..4294967295)", 0, 0},
      {"{\"req\":\"\",\"u32\":4294967296}", 0, OCI_ERANGE, "/u32",
       "4294967296 is out of range for uint32 (0..4294967295)", 0, 0},
      {"{\"req\":\"\",\"i64\":-9223372036854775809}", 0, OCI_ERANGE, "/i64",
       "-9223372036854775809 is out of range for int64 "
       "(-9223372036854775808..9223372036854775807)",
       0, 0},
      {"{\"req\":\"\",\"i64\":9223372036854775808}", 0, OCI_ERANGE, "/i64",
       "9223372036854775808 is out of range for int64", 0, 0},
      {"{\"req\":\"\",\"u64\":-1}", 0, OCI_ERANGE, "/u64",
       "-1 is out of range for uint64 (0..18446744073709551615)", 0, 0},
      {"{\"req\":\"\",\"u64\":18446744073709551616}", 0, OCI_ERANGE, "/u64",
       "18446744073709551616 is out of range for uint64", 0, 0},
      {"{\"req\":\"\",\"u64\":184467440737095516150}", 0, OCI_ERANGE, "/u64",
       "184467440737095516150 is out of range for uint64", 0, 0},
      {"{\"req\":\"\",\"i64\":-99999999999999999999999}", 0, OCI_ERANGE, "/i64",
       "is out of range for int64", 0, 0},
      {"{\"req\":\"\",\"ai64\":[0,9223372036854775808]}", 0, OCI_ERANGE,
       "/ai64/1", "9223372036854775808 is out of range for int64", 0, 0},
      /* a fraction or an exponent is not an integer, even when whole */
      {"{\"req\":\"\",\"i32\":1.0}", 0, OCI_ETYPE, "/i32",
       "expected an integer, got 1.0 (fraction or exponent)", 1, 17},
      {"{\"req\":\"\",\"i64\":1e3}", 0, OCI_ETYPE, "/i64",
       "expected an integer, got 1e3", 0, 0},
      {"{\"req\":\"\",\"u64\":1E+2}", 0, OCI_ETYPE, "/u64",
       "expected an integer, got 1E+2", 0, 0},
      {"{\"req\":\"\",\"u16\":-0.0}", 0, OCI_ETYPE, "/u16",
       "expected an integer, got -0.0", 0, 0},
      /* malformed numbers are syntax errors */
      {"{\"req\":\"\",\"i32\":01}", 0, OCI_ESYNTAX, "/i32",
       "invalid number: leading zero", 1, 18},
      {"{\"req\":\"\",\"i32\":-}", 0, OCI_ESYNTAX, "/i32",
       "invalid number: expected a digit", 0, 0},
      {"{\"req\":\"\",\"i32\":+1}", 0, OCI_ESYNTAX, "/i32",
       "unexpected character '+'", 0, 0},
      {"{\"req\":\"\",\"d\":1.}", 0, OCI_ESYNTAX, "/d",
       "expected a digit after '.'", 0, 0},
      {"{\"req\":\"\",\"d\":1e}", 0, OCI_ESYNTAX, "/d",
       "expected an exponent digit", 0, 0},
      {"{\"req\":\"\",\"d\":.5}", 0, OCI_ESYNTAX, "/d",
       "unexpected character '.'", 0, 0},
  };
  EXPECT_BAD(bad);
}

/* Set values: `{}` (whitespace inside allowed) is taken without the raw
   reader and stored as NULL; any other object is kept as raw text; the
   depth limit applies to `{}` as to any object; errors right after it. */
static void test_set_values(void **state) {
  (void)state;
  t_doc *d = parse_ok("{\"req\":\"\",\"set\":{\"a\":{},\"b\":{ },"
                      "\"c\":{\"x\":1},\"d\":{\n\t}}}");
  assert_int_equal(d->set.len, 4);
  char **v = d->set.values;
  assert_null(v[0]);
  assert_null(v[1]);
  assert_string_equal(v[2], "{\"x\":1}");
  assert_null(v[3]);
  oci_free(d);
  roundtrip("{\"req\":\"\",\"set\":{\"a\":{ },\"b\":{\"x\":[]}}}",
            "{\"req\":\"\",\"set\":{\"a\":{},\"b\":{\"x\":[]}}}");
  /* depth: document 1, set 2, its value 3 */
  static const char deep[] = "{\"req\":\"\",\"set\":{\"a\":{}}}";
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  o.max_depth = 2;
  bad_case c = {deep, 0, OCI_EDEPTH, "/set/a", "nesting deeper than 2", 0, 0};
  expect_bad_opts(&c, &o);
  o.max_depth = 3;
  oci_free(parse_ok_opts(deep, sizeof deep - 1, &o));
  static const bad_case bad[] = {
      {"{\"req\":\"\",\"set\":{\"a\":{", 0, OCI_ESYNTAX, "/set/a",
       "expected a string key", 0, 0},
      {"{\"req\":\"\",\"set\":{\"a\":{ ", 0, OCI_ESYNTAX, "/set/a",
       "expected a string key", 0, 0},
      {"{\"req\":\"\",\"set\":{\"a\":{}x}}", 0, OCI_ESYNTAX, "/set",
       "expected ',' or '}' after object member", 0, 0},
      {"{\"req\":\"\",\"set\":{\"a\":{},}}", 0, OCI_ESYNTAX, "/set",
       "trailing comma in object", 0, 0},
      {"{\"req\":\"\",\"set\":{\"a\":{},\"a\":{}}}", 0, OCI_EDUPKEY, "/set/a",
       "duplicate key", 0, 0},
      {"{\"req\":\"\",\"set\":{\"a\":[]}}", 0, OCI_ETYPE, "/set/a",
       "expected object, got array", 0, 0},
  };
  EXPECT_BAD(bad);
  /* lenient: the last value wins, {} (NULL) over raw text and back */
  o = (oci_parse_options)OCI_PARSE_OPTIONS_INIT;
  o.allow_duplicate_keys = true;
  static const char dup[] =
      "{\"req\":\"\",\"set\":{\"a\":{\"x\":1},\"b\":{},\"a\":{},"
      "\"b\":{\"y\":2}}}";
  t_doc *dd = parse_ok_opts(dup, sizeof dup - 1, &o);
  assert_int_equal(dd->set.len, 2);
  v = dd->set.values;
  assert_null(v[0]);
  assert_string_equal(v[1], "{\"y\":2}");
  oci_free(dd);
}

/* Duplicate keys in maps of every size up to 140 (the set of seen keys
   goes from its 16 inline entries to a hash table, which grows at 32 and
   64 keys): keys of 3 to 23 bytes that share long runs and differ in
   three bytes placed anywhere in the word-wise hash's steps. A
   map of distinct keys parses whole and in order; the same map with any
   earlier key repeated at its end is refused, naming that key. */
static void test_map_duplicates_every_size(void **state) {
  (void)state;
  enum { MAXN = 140 };
  static char keys[MAXN][32];
  for (int i = 0; i < MAXN; i++) {
    /* 3 to 23 bytes of 'k' with i in base 26 (upper case) somewhere:
       distinct, since the upper-case letters' places must agree too */
    int len = 3 + (i * 7) % 21, at = i % (len - 2);
    memset(keys[i], 'k', (size_t)len);
    keys[i][len] = '\0';
    keys[i][at] = (char)('A' + i / 676);
    keys[i][at + 1] = (char)('A' + i / 26 % 26);
    keys[i][at + 2] = (char)('A' + i % 26);
  }
  /* distinctness of the generated keys, checked plainly */
  for (int i = 0; i < MAXN; i++)
    for (int j = 0; j < i; j++)
      if (!strcmp(keys[i], keys[j])) fail_msg("keys %d, %d equal", i, j);
  size_t cap = MAXN * 48 + 64;
  char *json = malloc(cap);
  assert_non_null(json);
  for (int n = 1; n <= MAXN; n++) {
    size_t len = (size_t)snprintf(json, cap, "{\"req\":\"\",\"map\":{");
    for (int i = 0; i < n; i++)
      len += (size_t)snprintf(json + len, cap - len, "%s\"%s\":\"%d\"",
                              i ? "," : "", keys[i], i);
    size_t open_len = len;
    snprintf(json + len, cap - len, "}}");
    t_doc *d = parse_ok(json);
    assert_int_equal(d->map.len, n);
    for (int i = 0; i < n; i++)
      assert_string_equal(d->map.keys[i], keys[i]);
    oci_free(d);
    for (int dup = 0; dup < n; dup += (n > 24 ? 7 : 1)) {
      snprintf(json + open_len, cap - open_len, ",\"%s\":\"x\"}}", keys[dup]);
      char ptr[64];
      snprintf(ptr, sizeof ptr, "/map/%.31s", keys[dup]);
      bad_case c = {json, 0, OCI_EDUPKEY, ptr, "duplicate key", 0, 0};
      expect_bad_opts(&c, NULL);
    }
  }
  free(json);
}

/* The reader's inline integer path (non-negative, 1-18 digits) at its
   edges: every digit count 1..20 for 10^k - 1 and 10^k into u64 (the
   expected value from strtoull, not the codec), the 18/19-digit boundary
   where the general path takes over, each kind's maximum and one past it
   (both paths must agree), and every byte that may end the digits. */
static void test_integer_fast_path(void **state) {
  (void)state;
  char json[128], digits[32];
  for (int k = 1; k <= 20; k++)
    for (int plus = 0; plus < 2; plus++) {
      /* k nines, or 1 followed by k zeros */
      if (plus) {
        digits[0] = '1';
        memset(digits + 1, '0', (size_t)k);
        digits[k + 1] = '\0';
      } else {
        memset(digits, '9', (size_t)k);
        digits[k] = '\0';
      }
      errno = 0;
      unsigned long long want = strtoull(digits, NULL, 10);
      bool fits = errno != ERANGE;
      snprintf(json, sizeof json, "{\"u64\":%s,\"req\":\"\"}", digits);
      t_doc *d = NULL;
      oci_error err;
      int rc = parse_opts(json, strlen(json), NULL, &d, &err);
      if (fits) {
        if (rc) fail_msg("%s: %s", digits, err.message);
        assert_true(d->u64 == want);
        oci_free(d);
      } else {
        assert_int_equal(rc, OCI_ERANGE);
        assert_string_equal(err.pointer, "/u64");
      }
    }
  /* what may follow the digits: the value ends there, or it is not an
     integer (a fraction or exponent), or malformed */
  static const struct {
    const char *tail;
    int code;
  } after[] = {{",\"req\":\"\"}", OCI_OK}, {" ,\"req\":\"\"}", OCI_OK},
               {"\n}", OCI_EMISSING},      {"}", OCI_EMISSING},
               {".5}", OCI_ETYPE},         {"e1}", OCI_ETYPE},
               {"E+1}", OCI_ETYPE},        {"x}", OCI_ESYNTAX},
               {"-1}", OCI_ESYNTAX}};
  static const char *const nums[] = {"0", "7", "42", "65535",
                                     "123456789012345678"};
  for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
    for (size_t j = 0; j < sizeof after / sizeof *after; j++) {
      snprintf(json, sizeof json, "{\"u64\":%s%s", nums[i], after[j].tail);
      t_doc *d = NULL;
      oci_error err;
      int rc = parse_opts(json, strlen(json), NULL, &d, &err);
      if (rc != after[j].code)
        fail_msg("%s: %s, expected %s (%s)", json, oci_status_name(rc),
                 oci_status_name(after[j].code), err.message);
      if (!rc) {
        assert_true(d->u64 == strtoull(nums[i], NULL, 10));
        oci_free(d);
      }
    }
  /* leading zeros, whatever the digit count */
  static const char *const lz[] = {"00", "01", "0123456789",
                                   "000000000000000000001"};
  for (size_t i = 0; i < sizeof lz / sizeof *lz; i++) {
    snprintf(json, sizeof json, "{\"req\":\"\",\"u32\":%s}", lz[i]);
    bad_case c = {json, 0, OCI_ESYNTAX, "/u32", "invalid number: leading zero",
                  0,    0};
    expect_bad_opts(&c, NULL);
  }
  /* every kind at its maximum and one past it */
  static const struct {
    const char *key, *max, *over;
  } kinds[] = {{"i32", "2147483647", "2147483648"},
               {"u16", "65535", "65536"},
               {"u32", "4294967295", "4294967296"},
               {"i64", "9223372036854775807", "9223372036854775808"},
               {"u64", "18446744073709551615", "18446744073709551616"}};
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
    snprintf(json, sizeof json, "{\"req\":\"\",\"%s\":%s}", kinds[i].key,
             kinds[i].max);
    roundtrip(json, NULL);
    snprintf(json, sizeof json, "{\"req\":\"\",\"%s\":%s}", kinds[i].key,
             kinds[i].over);
    char ptr[8], msg[64];
    snprintf(ptr, sizeof ptr, "/%s", kinds[i].key);
    snprintf(msg, sizeof msg, "%s is out of range for", kinds[i].over);
    bad_case c = {json, 0, OCI_ERANGE, ptr, msg, 0, 0};
    expect_bad_opts(&c, NULL);
  }
}

/* ---- doubles ------------------------------------------------------------- */

static void test_doubles(void **state) {
  (void)state;
  static const struct {
    const char *in;
    double v;
    const char *out;
  } cases[] = {
      {"1.5", 1.5, "1.5"},
      {"-2.25", -2.25, "-2.25"},
      {"0.1", 0.1, "0.1"},
      {"3", 3.0, "3"},
      {"1e3", 1000.0, "1000"},
      {"2.5E-3", 0.0025, "0.0025"},
      {"1.7976931348623157e308", 1.7976931348623157e308,
       "1.7976931348623157e+308"},
      {"5e-324", 5e-324, "4.94065645841247e-324"},
      {"0.30000000000000004", 0.30000000000000004, "0.30000000000000004"},
      {"123456789012345678", 123456789012345678.0, "1.2345678901234568e+17"},
      {"1e-400", 0.0, "0"}, /* underflow to zero is not an error */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char in[128], out[128];
    snprintf(in, sizeof in, "{\"req\":\"\",\"d\":%s}", cases[i].in);
    snprintf(out, sizeof out, "{\"req\":\"\",\"d\":%s}", cases[i].out);
    t_doc *d = parse_ok(in);
    if (d->d != cases[i].v)
      fail_msg("%s parsed as %.17g, expected %.17g", in, d->d, cases[i].v);
    oci_free(d);
    roundtrip(in, out);
  }
  static const bad_case bad[] = {
      {"{\"req\":\"\",\"d\":1e309}", 0, OCI_ERANGE, "/d",
       "1e309 is out of range for a double", 0, 0},
      {"{\"req\":\"\",\"d\":-1e999}", 0, OCI_ERANGE, "/d",
       "-1e999 is out of range for a double", 0, 0},
      {"{\"req\":\"\",\"d\":\"1.5\"}", 0, OCI_ETYPE, "/d",
       "expected number, got string", 0, 0},
  };
  EXPECT_BAD(bad);
}

/* ---- strings ------------------------------------------------------------- */

static void test_string_escapes(void **state) {
  (void)state;
  t_doc *d =
      parse_ok("{\"req\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC"
               "\\ud83d\\ude00\\uDBFF\\uDFFF|\\u0001\"}");
  static const char expect[] = "\"\\/\b\f\n\r\tA"
                               "\xc3\xa9"         /* U+00E9 */
                               "\xe2\x82\xac"     /* U+20AC */
                               "\xf0\x9f\x98\x80" /* U+1F600 */
                               "\xf4\x8f\xbf\xbf" /* U+10FFFF */
                               "|\x01";
  assert_int_equal(strlen(d->req), sizeof expect - 1);
  assert_memory_equal(d->req, expect, sizeof expect - 1);
  /* serde_json's output escaping: short escapes, \u00XX lowercase for the
     other controls, "/" and non-ASCII as they are */
  char *out = to_json(d, false);
  assert_string_equal(out,
                      "{\"req\":\"\\\"\\\\/\\b\\f\\n\\r\\tA\xc3\xa9\xe2\x82"
                      "\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf|\\u0001\"}");
  free(out);
  oci_free(d);

  roundtrip("{\"req\":\"\\u001F\\u000b\\u007f\\u0080/\"}",
            "{\"req\":\"\\u001f\\u000b\x7f\xc2\x80/\"}");
  roundtrip("{\"req\":\"plain \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xb3\"}",
            NULL);
  /* escaped keys match declared fields */
  roundtrip("{\"r\\u0065q\":\"x\",\"\\u0062\":true}",
            "{\"req\":\"x\",\"b\":true}");
  /* escapes in unknown keys and in raw values are kept as written */
  roundtrip("{\"req\":\"\",\"k\\u00e9\\n\":\"\\u00E9\\/\",\"raw\":[\"\\uD83D"
            "\\uDE00\"]}",
            "{\"req\":\"\",\"raw\":[\"\\uD83D\\uDE00\"],\"k\xc3\xa9\\n\":"
            "\"\\u00E9\\/\"}");
}

static void test_string_errors(void **state) {
  (void)state;
  static const bad_case bad[] = {
      /* lone surrogates */
      {"{\"req\":\"\\ud800\"}", 0, OCI_EUTF8, "/req",
       "lone high surrogate \\uD800", 1, 9},
      {"{\"req\":\"a\\udc00\"}", 0, OCI_EUTF8, "/req",
       "lone low surrogate \\uDC00", 1, 10},
      {"{\"req\":\"\\udbff\\u0041\"}", 0, OCI_EUTF8, "/req",
       "high surrogate \\uDBFF not followed by a low surrogate", 0, 0},
      {"{\"req\":\"\\ud800\\ud800\"}", 0, OCI_EUTF8, "/req",
       "not followed by a low surrogate", 0, 0},
      {"{\"req\":\"\\ud800x\"}", 0, OCI_EUTF8, "/req", "lone high surrogate", 0,
       0},
      {"{\"req\":\"\",\"raw\":\"\\udfff\"}", 0, OCI_EUTF8, "/raw",
       "lone low surrogate", 0, 0},
      {"{\"req\":\"\",\"\\udfff\":1}", 0, OCI_EUTF8, "", "lone low surrogate",
       0, 0},
      /* invalid UTF-8 of each kind */
      {"{\"req\":\"\xc0\xaf\"}", 0, OCI_EUTF8, "/req",
       "invalid UTF-8 byte 0xc0", 1, 9}, /* overlong 2 */
      {"{\"req\":\"\xc1\xbf\"}", 0, OCI_EUTF8, "/req",
       "invalid UTF-8 byte 0xc1", 0, 0},
      {"{\"req\":\"\xe0\x80\xaf\"}", 0, OCI_EUTF8, "/req",
       "invalid UTF-8 byte 0xe0", 0, 0}, /* overlong 3 */
      {"{\"req\":\"\xf0\x80\x80\xaf\"}", 0, OCI_EUTF8, "/req",
       "invalid UTF-8 byte 0xf0", 0, 0}, /* overlong 4 */
      {"{\"req\":\"\xed\xa0\x80\"}", 0, OCI_EUTF8, "/req",
       "invalid UTF-8 byte 0xed", 0, 0}, /* U+D800 encoded */
      {"{\"req\":\"\xed\xbf\xbf\"}", 0, OCI_EUTF8, "/req",
       "invalid UTF-8 byte 0xed", 0, 0}, /* U+DFFF encoded */
      {"{\"req\":\"\xf4\x90\x80\x80\"}", 0, OCI_EUTF8, "/req",
       "invalid UTF-8 byte 0xf4", 0, 0}, /* U+110000 */
      {"{\"req\":\"\xf5\x80\x80\x80\"}", 0, OCI_EUTF8, "/req",
       "invalid UTF-8 byte 0xf5", 0, 0},
      {"{\"req\":\"\xff\"}", 0, OCI_EUTF8, "/req", "invalid UTF-8 byte 0xff", 0,
       0},
      {"{\"req\":\"\xe2\x82\"}", 0, OCI_EUTF8, "/req",
       "invalid UTF-8 byte 0xe2", 0, 0}, /* truncated before the quote */
      {"{\"req\":\"\xf0\x9f\x98", 0, OCI_EUTF8, "/req",
       "invalid UTF-8 byte 0xf0", 0, 0}, /* truncated at the end */
      {"{\"req\":\"a\x80\"}", 0, OCI_EUTF8, "/req", "invalid UTF-8 byte 0x80",
       1, 10}, /* stray continuation */
      {"{\"req\":\"\xc3\xa9\xa9\"}", 0, OCI_EUTF8, "/req",
       "invalid UTF-8 byte 0xa9", 1, 11},
      {"{\"req\":\"\",\"raw\":{\"\xc3\x28\":1}}", 0, OCI_EUTF8, "/raw",
       "invalid UTF-8 byte 0xc3", 0, 0},
      {"{\"req\":\"\",\"map\":{\"k\":\"\xc0\x80\"}}", 0, OCI_EUTF8, "/map/k",
       "invalid UTF-8 byte 0xc0", 0, 0},
      /* raw control characters */
      {"{\"req\":\"a\x01\"}", 0, OCI_ESYNTAX, "/req",
       "unescaped control character 0x01 in string", 1, 10},
      {"{\"req\":\"a\nb\"}", 0, OCI_ESYNTAX, "/req",
       "unescaped control character 0x0a", 1, 10},
      {"{\"req\":\"\t\"}", 0, OCI_ESYNTAX, "/req",
       "unescaped control character 0x09", 0, 0},
      {"{\"req\":\"a\0b\"}", 13, OCI_ESYNTAX, "/req",
       "unescaped control character 0x00", 1, 10},
      {"{\"req\":\"\",\"raw\":\"\x1f\"}", 0, OCI_ESYNTAX, "/raw",
       "unescaped control character 0x1f", 0, 0},
      /* bad escapes */
      {"{\"req\":\"\\x41\"}", 0, OCI_ESYNTAX, "/req", "invalid escape '\\x'", 1,
       9},
      {"{\"req\":\"\\u12G4\"}", 0, OCI_ESYNTAX, "/req",
       "invalid hex digit in \\u escape", 1, 13},
      {"{\"req\":\"\\u12\"}", 0, OCI_ESYNTAX, "/req",
       "invalid hex digit in \\u escape", 0, 0},
      {"{\"req\":\"\\u12", 0, OCI_ESYNTAX, "/req", "truncated \\u escape", 0,
       0},
      {"{\"req\":\"abc", 0, OCI_ESYNTAX, "/req", "unterminated string", 1, 12},
      {"{\"req\":\"abc\\", 0, OCI_ESYNTAX, "/req", "unterminated string", 0, 0},
      /* NUL is refused in typed strings and map keys, kept in raw values */
      {"{\"req\":\"a\\u0000\"}", 0, OCI_EINVAL, "/req",
       "NUL character (\\u0000) is not allowed here", 1, 10},
      {"{\"req\":\"\",\"arr\":[\"\\u0000\"]}", 0, OCI_EINVAL, "/arr/0",
       "NUL character", 0, 0},
      {"{\"req\":\"\",\"map\":{\"\\u0000\":\"\"}}", 0, OCI_EINVAL, "/map",
       "NUL character", 0, 0},
      {"{\"req\":\"\",\"x\\u0000\":1}", 0, OCI_EINVAL, "", "NUL character", 0,
       0},
  };
  EXPECT_BAD(bad);

  /* NUL inside RAW values (any JSON) is fine: kept as the escape */
  roundtrip("{\"req\":\"\",\"raw\":{\"k\\u0000\":\"a\\u0000b\"}}", NULL);
  roundtrip("{\"req\":\"\",\"mraw\":{\"a\":\"\\u0000\"}}", NULL);
}

/* ---- duplicate keys ------------------------------------------------------ */

static void test_duplicate_keys(void **state) {
  (void)state;
  static const bad_case bad[] = {
      /* known field */
      {"{\"req\":\"a\",\"req\":\"b\"}", 0, OCI_EDUPKEY, "/req",
       "duplicate key \"req\"", 1, 12},
      /* known field spelt differently */
      {"{\"req\":\"a\",\"r\\u0065q\":\"b\"}", 0, OCI_EDUPKEY, "/req",
       "duplicate key \"req\"", 0, 0},
      /* in a child object and an array item */
      {"{\"req\":\"\",\"kid\":{\"name\":\"a\",\"n\":1,\"n\":2}}", 0,
       OCI_EDUPKEY, "/kid/n", "duplicate key \"n\"", 0, 0},
      {"{\"req\":\"\",\"kids\":[{\"name\":\"a\"},{\"name\":\"a\",\"name\":"
       "\"b\"}]}",
       0, OCI_EDUPKEY, "/kids/1/name", "duplicate key \"name\"", 0, 0},
      /* unknown field, at the top and nested */
      {"{\"x\":1,\"req\":\"\",\"x\":2}", 0, OCI_EDUPKEY, "/x",
       "duplicate key \"x\"", 1, 17},
      {"{\"req\":\"\",\"kid\":{\"name\":\"\",\"u\":1,\"u\":1}}", 0, OCI_EDUPKEY,
       "/kid/u", "duplicate key \"u\"", 0, 0},
      /* map keys (also after an escape), set keys, map of objects */
      {"{\"req\":\"\",\"map\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}}", 0,
       OCI_EDUPKEY, "/map/a", "duplicate key \"a\"", 1, 34},
      {"{\"req\":\"\",\"map\":{\"a\":\"1\",\"\\u0061\":\"3\"}}", 0, OCI_EDUPKEY,
       "/map/a", "duplicate key \"a\"", 0, 0},
      {"{\"req\":\"\",\"set\":{\"80/tcp\":{},\"80/tcp\":{}}}", 0, OCI_EDUPKEY,
       "/set/80~1tcp", "duplicate key \"80/tcp\"", 0, 0},
      {"{\"req\":\"\",\"mkids\":{\"a\":{\"name\":\"\"},\"a\":{\"name\":\"\"}}}",
       0, OCI_EDUPKEY, "/mkids/a", "duplicate key \"a\"", 0, 0},
      {"{\"req\":\"\",\"mkids\":{\"a\":{\"name\":\"\",\"name\":\"\"}}}", 0,
       OCI_EDUPKEY, "/mkids/a/name", "duplicate key \"name\"", 0, 0},
      /* inside raw values, at any depth */
      {"{\"req\":\"\",\"raw\":{\"a\":1,\"a\":1}}", 0, OCI_EDUPKEY, "/raw/a",
       "duplicate key \"a\"", 0, 0},
      {"{\"req\":\"\",\"raw\":[0,{\"q\":{\"z\":1,\"y\":2,\"z\":3}}]}", 0,
       OCI_EDUPKEY, "/raw/1/q/z", "duplicate key \"z\"", 1, 38},
      {"{\"req\":\"\",\"x\":{\"a/b\":{\"c\":1,\"c\":2}}}", 0, OCI_EDUPKEY,
       "/x/a~1b/c", "duplicate key \"c\"", 0, 0},
      {"{\"req\":\"\",\"mraw\":{\"k\":{\"c\":1,\"c\":2}}}", 0, OCI_EDUPKEY,
       "/mraw/k/c", "duplicate key \"c\"", 0, 0},
      {"{\"req\":\"\",\"set\":{\"80\":{\"c\":1,\"c\":2}}}", 0, OCI_EDUPKEY,
       "/set/80/c", "duplicate key \"c\"", 0, 0},
  };
  EXPECT_BAD(bad);

  /* Many keys (the hashed path of the duplicate detector). */
  char big[8192];
  size_t n = (size_t)snprintf(big, sizeof big, "{\"req\":\"\",\"map\":{");
  for (int i = 0; i < 300; i++)
    n += (size_t)snprintf(big + n, sizeof big - n, "\"k%d\":\"\",", i);
  snprintf(big + n, sizeof big - n, "\"k150\":\"\"}}");
  bad_case many = {big, 0, OCI_EDUPKEY, "/map/k150", "duplicate key \"k150\"",
                   0,   0};
  expect_bad_opts(&many, NULL);
  big[n - 1] = '}';
  big[n] = '}';
  big[n + 1] = '\0';
  t_doc *d = parse_ok(big);
  assert_int_equal(d->map.len, 300);
  assert_string_equal(d->map.keys[299], "k299");
  oci_free(d);
}

static void test_duplicate_keys_lenient(void **state) {
  (void)state;
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  oci_error err;
  t_doc *d;
  o.allow_duplicate_keys = true;
  static const struct {
    const char *in, *out;
  } cases[] = {
      /* known field: the last value */
      {"{\"req\":\"a\",\"b\":true,\"req\":\"b\"}",
       "{\"req\":\"b\",\"b\":true}"},
      /* a null then a value, a value then a null */
      {"{\"req\":\"\",\"s\":null,\"s\":\"x\"}", "{\"req\":\"\",\"s\":\"x\"}"},
      {"{\"req\":\"\",\"s\":\"x\",\"s\":null}", "{\"req\":\"\",\"s\":null}"},
      /* unknown field: the last value, in the first one's place */
      {"{\"x\":1,\"req\":\"\",\"y\":2,\"x\":3}",
       "{\"req\":\"\",\"x\":3,\"y\":2}"},
      /* map keys: likewise */
      {"{\"req\":\"\",\"map\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}}",
       "{\"req\":\"\",\"map\":{\"a\":\"3\",\"b\":\"2\"}}"},
      {"{\"req\":\"\",\"kid\":{\"name\":\"a\",\"n\":1,\"n\":2}}",
       "{\"req\":\"\",\"kid\":{\"name\":\"a\",\"n\":2}}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (parse_opts(cases[i].in, strlen(cases[i].in), &o, &d, &err) != OCI_OK)
      fail_msg("%s: %s", cases[i].in, err.message);
    char *out = to_json(d, false);
    if (strcmp(out, cases[i].out) != 0)
      fail_msg("%s gave %s, expected %s", cases[i].in, out, cases[i].out);
    free(out);
    oci_free(d);
  }
  const char *two = "{\"req\":\"\",\"map\":{\"a\":\"1\",\"a\":\"3\"}}";
  if (parse_opts(two, strlen(two), &o, &d, &err) != OCI_OK)
    fail_msg("%s", err.message);
  assert_int_equal(d->map.len, 1);
  assert_string_equal(d->map.values[0], "3");
  oci_free(d);
}

/* Invariant 7, "a lenient option takes the last", inside RAW values: the
   written document must not carry the duplicate on (ocispec itself would
   reject it by default, and oci_equal would see two different values). */
static void test_duplicate_keys_lenient_raw(void **state) {
  (void)state;
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  oci_error err;
  t_doc *d, *d2;
  o.allow_duplicate_keys = true;
  const char *in = "{\"req\":\"\",\"raw\":{\"a\":1,\"b\":2,\"a\":3}}";
  if (parse_opts(in, strlen(in), &o, &d, &err) != OCI_OK)
    fail_msg("%s", err.message);
  char *out = to_json(d, false);
  /* strict re-parse of our own output */
  if (parse_opts(out, strlen(out), NULL, &d2, &err) != OCI_OK)
    fail_msg("lenient parse of %s wrote %s, which the default parse rejects: "
             "%s",
             in, out, err.message);
  assert_string_equal(out, "{\"req\":\"\",\"raw\":{\"a\":3,\"b\":2}}");
  free(out);
  oci_free(d);
  oci_free(d2);
}

/* ---- wrong types, null, missing ----------------------------------------- */

static void test_wrong_types(void **state) {
  (void)state;
  static const bad_case bad[] = {
      {"{\"req\":1}", 0, OCI_ETYPE, "/req", "expected string, got number", 1,
       8},
      {"{\"req\":\"\",\"s\":[]}", 0, OCI_ETYPE, "/s",
       "expected string, got array", 0, 0},
      {"{\"req\":\"\",\"b\":\"true\"}", 0, OCI_ETYPE, "/b",
       "expected boolean, got string", 0, 0},
      {"{\"req\":\"\",\"b\":1}", 0, OCI_ETYPE, "/b",
       "expected boolean, got number", 0, 0},
      {"{\"req\":\"\",\"i32\":\"1\"}", 0, OCI_ETYPE, "/i32",
       "expected integer, got string", 0, 0},
      {"{\"req\":\"\",\"u16\":true}", 0, OCI_ETYPE, "/u16",
       "expected integer, got boolean", 0, 0},
      {"{\"req\":\"\",\"u32\":{}}", 0, OCI_ETYPE, "/u32",
       "expected integer, got object", 0, 0},
      {"{\"req\":\"\",\"i64\":[1]}", 0, OCI_ETYPE, "/i64",
       "expected integer, got array", 0, 0},
      {"{\"req\":\"\",\"u64\":\"18446744073709551615\"}", 0, OCI_ETYPE, "/u64",
       "expected integer, got string", 0, 0},
      {"{\"req\":\"\",\"d\":false}", 0, OCI_ETYPE, "/d",
       "expected number, got boolean", 0, 0},
      {"{\"req\":\"\",\"set\":[\"80/tcp\"]}", 0, OCI_ETYPE, "/set",
       "expected object, got array", 0, 0},
      {"{\"req\":\"\",\"set\":{\"80/tcp\":true}}", 0, OCI_ETYPE, "/set/80~1tcp",
       "expected object, got boolean", 0, 0},
      {"{\"req\":\"\",\"set\":{\"80/tcp\":null}}", 0, OCI_ETYPE, "/set/80~1tcp",
       "expected object, got null", 0, 0},
      {"{\"req\":\"\",\"arr\":\"a\"}", 0, OCI_ETYPE, "/arr",
       "expected array, got string", 0, 0},
      {"{\"req\":\"\",\"arr\":[\"a\",2]}", 0, OCI_ETYPE, "/arr/1",
       "expected string, got number", 1, 22},
      {"{\"req\":\"\",\"arr\":[null]}", 0, OCI_ETYPE, "/arr/0",
       "expected string, got null", 0, 0},
      {"{\"req\":\"\",\"map\":[]}", 0, OCI_ETYPE, "/map",
       "expected object, got array", 0, 0},
      {"{\"req\":\"\",\"map\":{\"a/b~c\":1}}", 0, OCI_ETYPE, "/map/a~1b~0c",
       "expected string, got number", 0, 0},
      {"{\"req\":\"\",\"map\":{\"k\":null}}", 0, OCI_ETYPE, "/map/k",
       "expected string, got null", 0, 0},
      {"{\"req\":\"\",\"kid\":\"x\"}", 0, OCI_ETYPE, "/kid",
       "expected object, got string", 0, 0},
      {"{\"req\":\"\",\"kid\":{\"name\":\"\",\"n\":\"1\"}}", 0, OCI_ETYPE,
       "/kid/n", "expected integer, got string", 0, 0},
      {"{\"req\":\"\",\"kids\":{}}", 0, OCI_ETYPE, "/kids",
       "expected array, got object", 0, 0},
      {"{\"req\":\"\",\"kids\":[{\"name\":\"\"},[]]}", 0, OCI_ETYPE, "/kids/1",
       "expected object, got array", 0, 0},
      {"{\"req\":\"\",\"kids\":[null]}", 0, OCI_ETYPE, "/kids/0",
       "expected object, got null", 0, 0},
      {"{\"req\":\"\",\"ai64\":[1,true]}", 0, OCI_ETYPE, "/ai64/1",
       "expected integer, got boolean", 0, 0},
      {"{\"req\":\"\",\"au64\":[null]}", 0, OCI_ETYPE, "/au64/0",
       "expected uint64 (0..18446744073709551615), got null", 0, 0},
      {"{\"req\":\"\",\"abool\":[true,0]}", 0, OCI_ETYPE, "/abool/1",
       "expected boolean, got number", 0, 0},
      {"{\"req\":\"\",\"mkids\":{\"a\":1}}", 0, OCI_ETYPE, "/mkids/a",
       "expected object, got number", 0, 0},
      {"{\"req\":\"\",\"mkids\":{\"a\":{}}}", 0, OCI_EMISSING, "/mkids/a",
       "missing required field \"name\" in Kid", 0, 0},
      /* the document itself */
      {"[]", 0, OCI_ETYPE, "", "expected object, got array", 1, 1},
      {"\"x\"", 0, OCI_ETYPE, "", "expected object, got string", 0, 0},
      {"null", 0, OCI_ETYPE, "", "expected object, got null", 0, 0},
      /* a malformed value is a syntax error, not a type error */
      {"{\"req\":\"\",\"b\":tru}", 0, OCI_ESYNTAX, "/b",
       "unexpected character 't'", 0, 0},
      {"{\"req\":\"\",\"b\":nul}", 0, OCI_ESYNTAX, "/b",
       "unexpected character 'n'", 0, 0},
      {"{\"req\":\"\",\"s\":x}", 0, OCI_ESYNTAX, "/s",
       "unexpected character 'x'", 1, 15},
      {"{\"req\":\"\",\"raw\":True}", 0, OCI_ESYNTAX, "/raw",
       "unexpected character 'T'", 0, 0},
      {"{\"req\":\"\",\"s\":\xc3\xa9}", 0, OCI_ESYNTAX, "/s",
       "unexpected byte 0xc3", 0, 0},
  };
  EXPECT_BAD(bad);
}

static void test_null_and_missing(void **state) {
  (void)state;
  static const bad_case bad[] = {
      {"{\"req\":null}", 0, OCI_ETYPE, "/req",
       "required field \"req\" must not be null", 1, 8},
      {"{\"req\":\"\",\"kid\":{\"name\":null}}", 0, OCI_ETYPE, "/kid/name",
       "required field \"name\" must not be null", 0, 0},
      {"{}", 0, OCI_EMISSING, "", "missing required field \"req\" in Doc", 1,
       1},
      {"{\"s\":\"x\",\"b\":true}", 0, OCI_EMISSING, "",
       "missing required field \"req\" in Doc", 0, 0},
      {"{\"req\":\"\",\"kid\":{\"n\":1}}", 0, OCI_EMISSING, "/kid",
       "missing required field \"name\" in Kid", 1, 17},
      {"{\"req\":\"\",\"kids\":[{\"name\":\"\"},{}]}", 0, OCI_EMISSING,
       "/kids/1", "missing required field \"name\" in Kid", 0, 0},
  };
  EXPECT_BAD(bad);

  /* null for an optional field is kept as null (not as absent) */
  static const char *const nulls =
      "{\"req\":\"\",\"s\":null,\"b\":null,\"i32\":null,\"u16\":null,"
      "\"u32\":null,\"i64\":null,\"u64\":null,\"d\":null,\"raw\":null,"
      "\"set\":null,\"arr\":null,\"map\":null,\"kid\":null,\"kids\":null,"
      "\"ai64\":null,\"au64\":null,\"abool\":null,\"mraw\":null,"
      "\"mkids\":null}";
  t_doc *d = parse_ok(nulls);
  for (unsigned i = 1; i < F_COUNT; i++) {
    assert_true(oci_is_present(d, i));
    assert_true(oci_is_null(d, i));
  }
  assert_false(oci_is_null(d, F_REQ));
  oci_free(d);
  roundtrip(nulls, NULL);

  /* absent, null and a value are three different documents */
  t_doc *a = parse_ok("{\"req\":\"\"}");
  t_doc *n = parse_ok("{\"req\":\"\",\"b\":null}");
  t_doc *f = parse_ok("{\"req\":\"\",\"b\":false}");
  assert_false(oci_is_present(a, F_B));
  assert_true(oci_is_present(n, F_B) && oci_is_null(n, F_B));
  assert_true(oci_is_present(f, F_B) && !oci_is_null(f, F_B));
  assert_false(oci_equal(&doc_type, a, n));
  assert_false(oci_equal(&doc_type, n, f));
  assert_false(oci_equal(&doc_type, a, f));
  oci_free(a);
  oci_free(n);
  oci_free(f);

  /* raw null inside containers */
  roundtrip("{\"req\":\"\",\"mraw\":{\"a\":null},\"raw\":[null]}",
            "{\"req\":\"\",\"raw\":[null],\"mraw\":{\"a\":null}}");
}

/* ---- document-level syntax ----------------------------------------------- */

static void test_document_syntax(void **state) {
  (void)state;
  static const bad_case bad[] = {
      {"", 0, OCI_ESYNTAX, "", "empty document: expected a value", 1, 1},
      {" \n\t\r ", 0, OCI_ESYNTAX, "", "empty document", 2, 4},
      {"\xef\xbb\xbf{\"req\":\"\"}", 0, OCI_ESYNTAX, "", "byte order mark", 1,
       1},
      {"{\"req\":\"\"} x", 0, OCI_ESYNTAX, "",
       "trailing characters after the JSON value", 1, 12},
      {"{\"req\":\"\"}{}", 0, OCI_ESYNTAX, "", "trailing characters", 1, 11},
      {"{\"req\":\"\"}\n\n]", 0, OCI_ESYNTAX, "", "trailing characters", 3, 1},
      {"{\"req\":\"\"}\0", 12, OCI_ESYNTAX, "", "trailing characters", 1, 11},
      {"{\"req\":\"\"", 0, OCI_ESYNTAX, "", "unexpected end of input", 1, 10},
      {"{\"req\":\"\",}", 0, OCI_ESYNTAX, "", "trailing comma in object", 1,
       11},
      {"{\"req\":\"\",\"arr\":[\"a\",]}", 0, OCI_ESYNTAX, "/arr",
       "trailing comma in array", 0, 0},
      {"{\"req\":\"\",\"raw\":[1,]}", 0, OCI_ESYNTAX, "/raw",
       "trailing comma in array", 0, 0},
      {"{\"req\":\"\",\"raw\":{\"a\":1,}}", 0, OCI_ESYNTAX, "/raw",
       "trailing comma in object", 0, 0},
      {"{\"req\" \"\"}", 0, OCI_ESYNTAX, "", "expected ':' after object key", 1,
       8},
      {"{\"req\":\"\" \"b\":true}", 0, OCI_ESYNTAX, "",
       "expected ',' or '}' after object member", 1, 11},
      {"{\"req\":\"\",\"arr\":[\"a\" \"b\"]}", 0, OCI_ESYNTAX, "/arr",
       "expected ',' or ']' after array element", 0, 0},
      {"{req:\"\"}", 0, OCI_ESYNTAX, "", "expected a string key", 1, 2},
      {"{'req':''}", 0, OCI_ESYNTAX, "", "expected a string key", 0, 0},
      {"{\"req\":\"\"\x0c}", 0, OCI_ESYNTAX, "",
       "expected ',' or '}' after object member", 0, 0},
      {"{\"req\":\"\",\"raw\":[1 2]}", 0, OCI_ESYNTAX, "/raw",
       "expected ',' or ']' after array element", 0, 0},
      {"{\"req\":\"\",\"raw\":NaN}", 0, OCI_ESYNTAX, "/raw",
       "unexpected character 'N'", 0, 0},
      {"{\"req\":\"\",\"raw\":", 0, OCI_ESYNTAX, "/raw",
       "unexpected end of input", 0, 0},
  };
  EXPECT_BAD(bad);
  /* whitespace of all four kinds around every token */
  roundtrip(" \t\r\n{ \"req\" :\n\"\" ,\r\n\"raw\" : [ 1 , { \"a\" : [ ] } ] "
            ",\t\"arr\":[ ]}\n ",
            "{\"req\":\"\",\"raw\":[1,{\"a\":[]}],\"arr\":[]}");
}

/* Line and column of errors in a multi-line document. */
static void test_line_column(void **state) {
  (void)state;
  static const char doc[] = "{\n"
                            "  \"req\": \"ok\",\n"
                            "  \"kids\": [\n"
                            "    {\"name\": \"a\"},\n"
                            "    {\"name\": \"b\", \"n\": true}\n"
                            "  ]\n"
                            "}\n";
  static const bad_case bad[] = {
      {doc, 0, OCI_ETYPE, "/kids/1/n", "expected integer, got boolean", 5, 24},
      {"{\n\t\"req\": \"\",\r\n\t\"raw\": [1, 2,\n\n   ]}", 0, OCI_ESYNTAX,
       "/raw", "trailing comma in array", 5, 4},
      {"{\"req\": \"\xc3\xa9\xc3\xa9\", \"b\": 7}", 0, OCI_ETYPE, "/b",
       "expected boolean", 1, 22}, /* columns count bytes */
      {"{\n\"req\": \"\",\n\"raw\": {\"a\": 1,\n        \"a\": 2}}", 0,
       OCI_EDUPKEY, "/raw/a", "duplicate key \"a\"", 4, 9},
  };
  EXPECT_BAD(bad);
  oci_error err;
  t_doc *d;
  assert_int_equal(parse_opts(doc, sizeof doc - 1, NULL, &d, &err), OCI_ETYPE);
  assert_int_equal(err.offset, 71);
}

/* ---- limits ---------------------------------------------------------------
 */

static char *nested(size_t n, const char *prefix, const char *open,
                    const char *mid, const char *close, const char *suffix) {
  size_t lo = strlen(open), lc = strlen(close), lp = strlen(prefix);
  size_t lm = strlen(mid), ls = strlen(suffix);
  char *s = malloc(lp + n * (lo + lc) + lm + ls + 1), *p = s;
  assert_non_null(s);
  memcpy(p, prefix, lp);
  p += lp;
  for (size_t i = 0; i < n; i++, p += lo)
    memcpy(p, open, lo);
  memcpy(p, mid, lm);
  p += lm;
  for (size_t i = 0; i < n; i++, p += lc)
    memcpy(p, close, lc);
  memcpy(p, suffix, ls + 1);
  return s;
}

static void test_depth(void **state) {
  (void)state;
  oci_error err;
  t_doc *d = (t_doc *)1;
  /* 100000 nested arrays, closed and unclosed, in a raw field: EDEPTH, no
     crash, at the default limit (256: the document object is level 1) */
  char *s = nested(100000, "{\"req\":\"\",\"raw\":", "[", "", "]", "}");
  assert_int_equal(parse_opts(s, strlen(s), NULL, &d, &err), OCI_EDEPTH);
  assert_null(d);
  assert_non_null(strstr(err.message, "nesting deeper than 256 levels"));
  assert_int_equal(err.column, 16 + 256);
  assert_int_equal(strncmp(err.pointer, "/raw/0/0/0/", 11), 0);
  assert_int_equal(oci_json_check(s + 16, 100000, NULL, &err), OCI_EDEPTH);
  free(s);
  s = nested(100000, "{\"req\":\"\",\"x\":", "{\"a\":", "1", "}", "}");
  assert_int_equal(parse_opts(s, strlen(s), NULL, &d, &err), OCI_EDEPTH);
  assert_int_equal(strncmp(err.pointer, "/x/a/a/a", 8), 0);
  free(s);
  s = nested(100000, "", "[", "", "", "");
  assert_int_equal(oci_json_check(s, strlen(s), NULL, &err), OCI_EDEPTH);
  free(s);

  /* exactly at the limit passes: 255 arrays + the document object */
  s = nested(255, "{\"req\":\"\",\"raw\":", "[", "", "]", "}");
  d = parse_ok(s);
  char *out = to_json(d, false);
  assert_string_equal(out, s);
  free(out);
  out = to_json(d, true); /* re-indented 255 levels deep */
  assert_non_null(out);
  free(out);
  oci_free(d);
  free(s);
  s = nested(256, "{\"req\":\"\",\"raw\":", "[", "", "]", "}");
  assert_int_equal(parse_opts(s, strlen(s), NULL, &d, &err), OCI_EDEPTH);
  free(s);

  /* typed containers count too */
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  o.max_depth = 2;
  static const bad_case bad[] = {
      {"{\"req\":\"\",\"kid\":{\"name\":\"\",\"x\":[]}}", 0, OCI_EDEPTH,
       "/kid/x", "nesting deeper than 2 levels", 1, 32},
      {"{\"req\":\"\",\"kids\":[{\"name\":\"\"}]}", 0, OCI_EDEPTH, "/kids/0",
       "nesting deeper than 2 levels", 0, 0},
      {"{\"req\":\"\",\"map\":{},\"raw\":[[]]}", 0, OCI_EDEPTH, "/raw/0",
       "nesting deeper than 2 levels", 0, 0},
      {"{\"req\":\"\",\"set\":{\"1\":{}}}", 0, OCI_EDEPTH, "/set/1",
       "nesting deeper than 2 levels", 0, 0},
  };
  EXPECT_BAD_OPTS(bad, &o);
  const char *two = "{\"req\":\"\",\"kid\":{\"name\":\"\"},\"raw\":[1],"
                    "\"map\":{\"a\":\"\"},\"set\":{}}";
  oci_free(parse_ok_opts(two, strlen(two), &o));
}

static void test_size_limits(void **state) {
  (void)state;
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  oci_error err;
  t_doc *d = (t_doc *)1;
  const char *doc = "{\"req\":\"abcd\"}";
  o.max_size = 14;
  oci_free(parse_ok_opts(doc, 14, &o));
  o.max_size = 13;
  assert_int_equal(parse_opts(doc, 14, &o, &d, &err), OCI_ETOOBIG);
  assert_null(d);
  assert_string_equal(err.message,
                      "document of 14 bytes exceeds the limit of 13");
  assert_int_equal(oci_json_check(doc, 14, &o, &err), OCI_ETOOBIG);

  o = (oci_parse_options)OCI_PARSE_OPTIONS_INIT;
  o.max_string = 4;
  oci_free(parse_ok_opts(doc, 14, &o));
  /* the limit is on decoded bytes: 2 x U+00E9 = 4 bytes from 12 */
  const char *esc = "{\"req\":\"\\u00e9\\u00E9\"}";
  oci_free(parse_ok_opts(esc, strlen(esc), &o));
  static const bad_case bad[] = {
      {"{\"req\":\"abcde\"}", 0, OCI_ETOOBIG, "/req",
       "string of 5 bytes exceeds the limit of 4", 1, 9},
      {"{\"req\":\"\",\"longer\":1}", 0, OCI_ETOOBIG, "",
       "string of 6 bytes exceeds the limit of 4", 0, 0},
      {"{\"req\":\"\",\"raw\":[\"\\u00e9\\u00e9x\"]}", 0, OCI_ETOOBIG, "/raw/0",
       "string of 5 bytes", 0, 0},
  };
  EXPECT_BAD_OPTS(bad, &o);

  /* defaults */
  o = (oci_parse_options)OCI_PARSE_OPTIONS_INIT;
  assert_int_equal(o.max_depth, 256);
  assert_true(o.max_size == (size_t)256 << 20);
  assert_true(o.max_string == (size_t)64 << 20);
  assert_false(o.allow_duplicate_keys);
}

/* ---- output -------------------------------------------------------------- */

static const char full_compact[] =
    "{\"req\":\"r\",\"s\":null,\"b\":true,\"i32\":-7,\"u16\":65535,"
    "\"u32\":4294967295,\"i64\":-9223372036854775808,"
    "\"u64\":18446744073709551615,\"d\":0.5,"
    "\"raw\":{\"a\":[1,{\"b\":null,\"c\":\"x,y:{[\\\"\"}],\"e\":{},\"f\":[],"
    "\"g\":[[]]},"
    "\"set\":{\"80/tcp\":{},\"53/udp\":{\"x\":1}},\"arr\":[\"a\",\"b\"],"
    "\"map\":{\"z\":\"1\",\"a\":\"2\"},\"kid\":{\"name\":\"k\",\"n\":1},"
    "\"kids\":[{\"name\":\"k0\"},{\"name\":\"k1\",\"extra\":[]}],"
    "\"ai64\":[],\"au64\":[1],\"abool\":[true,false],\"mraw\":{},"
    "\"mkids\":{\"m\":{\"name\":\"mk\"}},\"unknown\":{\"deep\":[1,2]},"
    "\"zz\":\"last\"}";

static const char full_pretty[] = "{\n"
                                  "  \"req\": \"r\",\n"
                                  "  \"s\": null,\n"
                                  "  \"b\": true,\n"
                                  "  \"i32\": -7,\n"
                                  "  \"u16\": 65535,\n"
                                  "  \"u32\": 4294967295,\n"
                                  "  \"i64\": -9223372036854775808,\n"
                                  "  \"u64\": 18446744073709551615,\n"
                                  "  \"d\": 0.5,\n"
                                  "  \"raw\": {\n"
                                  "    \"a\": [\n"
                                  "      1,\n"
                                  "      {\n"
                                  "        \"b\": null,\n"
                                  "        \"c\": \"x,y:{[\\\"\"\n"
                                  "      }\n"
                                  "    ],\n"
                                  "    \"e\": {},\n"
                                  "    \"f\": [],\n"
                                  "    \"g\": [\n"
                                  "      []\n"
                                  "    ]\n"
                                  "  },\n"
                                  "  \"set\": {\n"
                                  "    \"80/tcp\": {},\n"
                                  "    \"53/udp\": {\n"
                                  "      \"x\": 1\n"
                                  "    }\n"
                                  "  },\n"
                                  "  \"arr\": [\n"
                                  "    \"a\",\n"
                                  "    \"b\"\n"
                                  "  ],\n"
                                  "  \"map\": {\n"
                                  "    \"z\": \"1\",\n"
                                  "    \"a\": \"2\"\n"
                                  "  },\n"
                                  "  \"kid\": {\n"
                                  "    \"name\": \"k\",\n"
                                  "    \"n\": 1\n"
                                  "  },\n"
                                  "  \"kids\": [\n"
                                  "    {\n"
                                  "      \"name\": \"k0\"\n"
                                  "    },\n"
                                  "    {\n"
                                  "      \"name\": \"k1\",\n"
                                  "      \"extra\": []\n"
                                  "    }\n"
                                  "  ],\n"
                                  "  \"ai64\": [],\n"
                                  "  \"au64\": [\n"
                                  "    1\n"
                                  "  ],\n"
                                  "  \"abool\": [\n"
                                  "    true,\n"
                                  "    false\n"
                                  "  ],\n"
                                  "  \"mraw\": {},\n"
                                  "  \"mkids\": {\n"
                                  "    \"m\": {\n"
                                  "      \"name\": \"mk\"\n"
                                  "    }\n"
                                  "  },\n"
                                  "  \"unknown\": {\n"
                                  "    \"deep\": [\n"
                                  "      1,\n"
                                  "      2\n"
                                  "    ]\n"
                                  "  },\n"
                                  "  \"zz\": \"last\"\n"
                                  "}";

static void test_output(void **state) {
  (void)state;
  roundtrip(full_compact, NULL);
  t_doc *d = parse_ok(full_compact);
  char *out = to_json(d, true);
  if (strcmp(out, full_pretty) != 0)
    fail_msg("pretty output:\n%s\nexpected:\n%s", out, full_pretty);
  /* the pretty text parses back to an equal document */
  t_doc *d2 = parse_ok(out);
  assert_true(oci_equal(&doc_type, d, d2));
  free(out);
  oci_free(d2);
  oci_free(d);

  /* the smallest documents */
  d = parse_ok("{\"req\":\"\"}");
  out = to_json(d, true);
  assert_string_equal(out, "{\n  \"req\": \"\"\n}");
  free(out);
  oci_free(d);

  /* unknown members at several levels keep their order, after the known
     fields; maps keep theirs */
  roundtrip("{\"z\":1,\"kids\":[{\"q\":[],\"name\":\"a\",\"b\":{}}],\"a\":2,"
            "\"req\":\"\",\"map\":{\"b\":\"\",\"a\":\"\",\"c\":\"\"},"
            "\"kid\":{\"y\":{\"m\":{\"z\":1,\"a\":2}},\"name\":\"\",\"x\":0},"
            "\"m\":3}",
            "{\"req\":\"\",\"map\":{\"b\":\"\",\"a\":\"\",\"c\":\"\"},"
            "\"kid\":{\"name\":\"\",\"y\":{\"m\":{\"z\":1,\"a\":2}},\"x\":0},"
            "\"kids\":[{\"name\":\"a\",\"q\":[],\"b\":{}}],\"z\":1,\"a\":2,"
            "\"m\":3}");
  /* numbers in raw values are kept exactly as written */
  roundtrip("{\"req\":\"\",\"raw\":[1.000000000000000005,1E400,-0,"
            "100000000000000000000000000000001,0.1e-2]}",
            NULL);
}

/* ---- the writer never emits invalid JSON (invalid UTF-8 set from C) ---- */

/* oci_to_json of d must fail with OCI_EUTF8 at pointer, message naming
   `msg`, in both styles, and leave *out NULL. */
static void write_fails(const t_doc *d, const char *pointer, const char *msg) {
  for (int pretty = 0; pretty < 2; pretty++) {
    oci_write_options w = {OCI_WRITE_OPTIONS_VERSION, pretty};
    oci_error err;
    char *out = (char *)1;
    size_t len = 7;
    assert_int_equal(oci_to_json(&doc_type, d, &w, &out, &len, &err),
                     OCI_EUTF8);
    assert_null(out);
    assert_string_equal(err.pointer, pointer);
    if (!strstr(err.message, msg))
      fail_msg("expected \"%s\" in \"%s\"", msg, err.message);
  }
}

static void test_write_invalid_utf8(void **state) {
  (void)state;
  static const char *const bad[] = {
      "\x80",             /* lone continuation byte */
      "\xc0\xaf",         /* overlong "/" */
      "\xc1\xbf",         /* overlong */
      "\xe0\x80\xaf",     /* overlong, 3 bytes */
      "\xf0\x80\x80\xaf", /* overlong, 4 bytes */
      "\xed\xa0\x80",     /* surrogate U+D800 */
      "\xed\xbf\xbf",     /* surrogate U+DFFF */
      "\xf4\x90\x80\x80", /* above U+10FFFF */
      "\xe2\x82",         /* truncated */
      "\xf0\x9f\x98",     /* truncated */
      "\xc3",             /* truncated at the end */
      "\xff",
      "\xfe",
  };
  static const char *const good[] = {"\xc3\xa9", "\xe2\x82\xac",
                                     "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
                                     "\xef\xbf\xbf"};
  char str[64];
  /* every path of the string writer: short strings, whole words, the tail
     word, after an escape; the bad sequence at every offset */
  for (size_t b = 0; b < sizeof bad / sizeof *bad; b++)
    for (size_t pre = 0; pre < 20; pre++)
      for (int esc = 0; esc < 2; esc++) {
        size_t n = 0;
        if (esc) str[n++] = '"';
        memset(str + n, 'a', pre);
        n += pre;
        n += (size_t)snprintf(str + n, sizeof str - n, "%s", bad[b]);
        memcpy(str + n, "xyz", 4);
        t_doc *d = parse_ok(full_compact);
        d->req = str;
        write_fails(d, "/req", "invalid UTF-8 in the string at /req");
        oci_free(d);
        /* and alone, at the very end */
        d = parse_ok(full_compact);
        str[n] = '\0';
        d->arr.items[1] = str;
        write_fails(d, "/arr/1", "invalid UTF-8 in the string at /arr/1");
        oci_free(d);
      }
  for (size_t g = 0; g < sizeof good / sizeof *good; g++)
    for (size_t pre = 0; pre < 20; pre++) {
      memset(str, 'a', pre);
      snprintf(str + pre, sizeof str - pre, "%s\"%s", good[g], good[g]);
      t_doc *d = parse_ok(full_compact);
      d->req = str;
      char *out = to_json(d, false);
      t_doc *back = parse_ok(out);
      assert_string_equal(back->req, str);
      oci_free(back);
      free(out);
      oci_free(d);
    }

  /* every place a string goes: map keys and values, objects in arrays and
     maps, unknown members' names and values, raw values, set values */
  char bad_json[] = "\"\xed\xa0\x80\"";
  t_doc *d = parse_ok(full_compact);
  d->map.keys[1] = "\xc0\xaf";
  write_fails(d, "/map", "invalid UTF-8 in a member name of /map");
  oci_free(d);
  d = parse_ok(full_compact);
  d->map.values[1] = "\xe2\x82";
  write_fails(d, "/map/a", "invalid UTF-8 in the string at /map/a");
  oci_free(d);
  d = parse_ok(full_compact);
  d->kids.items[1]->name = "k\xff";
  write_fails(d, "/kids/1/name", "at /kids/1/name");
  oci_free(d);
  d = parse_ok(full_compact);
  d->mkids.values[0]->name = "\x80";
  write_fails(d, "/mkids/m/name", "at /mkids/m/name");
  oci_free(d);
  d = parse_ok(full_compact);
  d->hdr.extra->keys[1] = "z\xc3";
  write_fails(d, "", "invalid UTF-8 in a member name of /");
  oci_free(d);
  d = parse_ok(full_compact);
  d->hdr.extra->raws[0] = bad_json;
  write_fails(d, "/unknown", "invalid UTF-8 in the raw JSON value at /unknown");
  oci_free(d);
  d = parse_ok(full_compact);
  d->kids.items[1]->hdr.extra->raws[0] = bad_json;
  write_fails(d, "/kids/1/extra", "raw JSON value at /kids/1/extra");
  oci_free(d);
  d = parse_ok(full_compact);
  d->raw = bad_json;
  write_fails(d, "/raw", "invalid UTF-8 in the raw JSON value at /raw");
  oci_free(d);
  d = parse_ok(full_compact);
  d->set.values[1] = "{\"\xf4\x90\x80\x80\":1}";
  write_fails(d, "/set/53~1udp", "raw JSON value at /set/53~1udp");
  oci_free(d);
  d = parse_ok(full_compact);
  d->set.keys[0] = "\xed\xbf\xbf";
  write_fails(d, "/set", "member name of /set");
  oci_free(d);
  /* a raw value that is not one JSON value: the pretty writer would walk
     past its end */
  static const char *const not_json[] = {"\"abc", "{\"a\":",    "[1,]", "1 2",
                                         "",      "{\"a\":1}}", "nul"};
  for (size_t i = 0; i < sizeof not_json / sizeof *not_json; i++) {
    d = parse_ok(full_compact);
    d->raw = (char *)not_json[i];
    write_fails(d, "/raw", "not one JSON value: the raw value at /raw");
    oci_free(d);
  }
  /* the first bad value in output order is named */
  d = parse_ok(full_compact);
  d->kids.items[0]->name = "\x80";
  d->req = "\x80";
  write_fails(d, "/req", "at /req");
  oci_free(d);

  /* oci_set_string refuses what cannot be written, and sets nothing */
  d = parse_ok(full_compact);
  assert_int_equal(oci_set_string(d, &doc_fields[F_REQ], "a\xed\xa0\x80"),
                   OCI_EUTF8);
  assert_string_equal(d->req, "r");
  assert_int_equal(oci_set_string(d, &doc_fields[F_REQ], "\xf0\x9f\x98\x80"),
                   OCI_OK);
  assert_string_equal(d->req, "\xf0\x9f\x98\x80");
  oci_free(d);
}

/* ---- equality and copies ------------------------------------------------- */

static void test_equal_and_clone(void **state) {
  (void)state;
  t_doc *d = parse_ok(full_compact), *c = NULL, *e;
  oci_error err;
  assert_int_equal(oci_clone(&doc_type, d, (void **)&c, &err), OCI_OK);
  assert_ptr_not_equal(c->hdr.arena, d->hdr.arena);
  assert_ptr_not_equal(c->req, d->req);
  assert_true(oci_equal(&doc_type, d, c));
  assert_true(oci_equal(&doc_type, c, d));
  char *a = to_json(d, false), *b = to_json(c, false);
  assert_string_equal(a, b);
  free(a);
  free(b);

  /* each kind of change breaks equality */
  assert_int_equal(oci_set_string(c, &doc_fields[F_REQ], "R"), OCI_OK);
  assert_false(oci_equal(&doc_type, d, c));
  oci_free(c);
  oci_free(d);
  static const struct {
    const char *a, *b;
    bool equal;
  } pairs[] = {
      {"{\"req\":\"\",\"u64\":1}", "{\"req\":\"\",\"u64\":2}", false},
      {"{\"req\":\"\",\"d\":0.5}", "{\"req\":\"\",\"d\":0.25}", false},
      {"{\"req\":\"\",\"arr\":[\"a\",\"b\"]}",
       "{\"req\":\"\",\"arr\":[\"b\","
       "\"a\"]}",
       false},
      {"{\"req\":\"\",\"raw\":[1]}", "{\"req\":\"\",\"raw\":[2]}", false},
      {"{\"req\":\"\",\"x\":1}", "{\"req\":\"\",\"x\":2}", false},
      {"{\"req\":\"\",\"x\":1}", "{\"req\":\"\",\"y\":1}", false},
      {"{\"req\":\"\",\"x\":1}", "{\"req\":\"\"}", false},
      {"{\"req\":\"\",\"kid\":{\"name\":\"a\"}}",
       "{\"req\":\"\",\"kid\":{\"name\":\"a\",\"n\":0}}", false},
      {"{\"req\":\"\",\"set\":{\"1\":{}}}",
       "{\"req\":\"\",\"set\":{\"1\":"
       "{\"a\":1}}}",
       false},
      {"{\"req\":\"\",\"map\":{\"a\":\"1\"}}",
       "{\"req\":\"\",\"map\":{\"a\":\"1\",\"b\":\"1\"}}", false},
      /* map and unknown-member order is not significant */
      {"{\"req\":\"\",\"map\":{\"a\":\"1\",\"b\":\"2\"}}",
       "{\"req\":\"\",\"map\":{\"b\":\"2\",\"a\":\"1\"}}", true},
      {"{\"x\":1,\"y\":2,\"req\":\"\"}", "{\"req\":\"\",\"y\":2,\"x\":1}",
       true},
      /* members of raw objects compare as sets, elements in order */
      {"{\"req\":\"\",\"raw\":{\"a\":1,\"b\":{\"c\":[1,2],\"d\":null}}}",
       "{\"req\":\"\",\"raw\":{\"b\":{\"d\":null,\"c\":[1,2]},\"a\":1}}", true},
      {"{\"req\":\"\",\"raw\":{\"a\":1,\"b\":2}}",
       "{\"req\":\"\",\"raw\":{\"a\":1,\"c\":2}}", false},
      {"{\"req\":\"\",\"raw\":{\"a\":1}}",
       "{\"req\":\"\",\"raw\":{\"a\":1,\"b\":2}}", false},
      {"{\"req\":\"\",\"raw\":[{\"x\":\"}\",\"y\":2},3]}",
       "{\"req\":\"\",\"raw\":[{\"y\":2,\"x\":\"}\"},3]}", true},
      {"{\"req\":\"\",\"x\":{\"p\":1,\"q\":2}}",
       "{\"req\":\"\",\"x\":{\"q\":2,\"p\":1}}", true},
      /* -0 and 0 are the same integer */
      {"{\"req\":\"\",\"i64\":-0}", "{\"req\":\"\",\"i64\":0}", true},
  };
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    d = parse_ok(pairs[i].a);
    e = parse_ok(pairs[i].b);
    if (oci_equal(&doc_type, d, e) != pairs[i].equal)
      fail_msg("oci_equal(%s, %s) should be %d", pairs[i].a, pairs[i].b,
               pairs[i].equal);
    oci_free(d);
    oci_free(e);
  }

  /* copies are deep: editing the copy leaves the original alone */
  d = parse_ok(full_compact);
  assert_int_equal(oci_clone(&doc_type, d, (void **)&c, &err), OCI_OK);
  c->kids.items[1]->name[0] = 'X';
  c->map.values[0][0] = '9';
  assert_string_equal(d->kids.items[1]->name, "k1");
  assert_string_equal(d->map.values[0], "1");
  assert_false(oci_equal(&doc_type, d, c));
  oci_free(c);

  /* oci_unset / oci_set_null / oci_copy_into */
  assert_int_equal(oci_clone(&doc_type, d, (void **)&c, &err), OCI_OK);
  oci_unset(c, &doc_fields[F_RAW]);
  assert_false(oci_is_present(c, F_RAW));
  oci_set_null(c, &doc_fields[F_KID]);
  assert_true(oci_is_null(c, F_KID));
  oci_set_null(c, &doc_fields[F_REQ]); /* refused: required */
  assert_false(oci_is_null(c, F_REQ));
  assert_true(oci_is_present(c, F_REQ));
  t_kid *k = oci_copy_into(&kid_type, d->kid, c->hdr.arena);
  assert_non_null(k);
  assert_true(oci_equal(&kid_type, k, d->kid));
  a = to_json(c, false);
  assert_non_null(strstr(a, "\"d\":0.5,\"set\""));
  assert_non_null(strstr(a, "\"kid\":null,"));
  free(a);
  oci_free(c);
  oci_free(d);
}

/* Documents built in C, the way a program does it. */
static void test_build(void **state) {
  (void)state;
  t_doc *d = NULL;
  oci_error err;
  assert_int_equal(oci_new(&doc_type, (void **)&d, &err), OCI_OK);
  assert_int_equal(d->hdr.present, 0);
  assert_int_equal(oci_set_string(d, &doc_fields[F_REQ], "a\x1f\"b"), OCI_OK);
  d->u64 = UINT64_MAX;
  oci_mark(d, F_U64);
  d->d = -1.25;
  oci_mark(d, F_D);
  t_kid *k = oci_new_in(&kid_type, d->hdr.arena);
  assert_non_null(k);
  assert_int_equal(oci_set_string(k, &kid_fields[0], "k"), OCI_OK);
  d->kids.items = oci_arena_alloc(d->hdr.arena, 2 * sizeof *d->kids.items);
  d->kids.items[0] = k;
  d->kids.items[1] = k;
  d->kids.len = 2;
  oci_mark(d, F_KIDS);
  d->arr.items = oci_arena_alloc(d->hdr.arena, sizeof(char *));
  d->arr.items[0] = "\xc3\xa9/";
  d->arr.len = 1;
  oci_mark(d, F_ARR);
  oci_set_null(d, &doc_fields[F_S]);
  assert_int_equal(oci_set_object(d, &doc_fields[F_KID], k), OCI_OK);
  assert_ptr_not_equal(d->kid, k);
  char *out = to_json(d, false);
  assert_string_equal(
      out, "{\"req\":\"a\\u001f\\\"b\",\"s\":null,\"u64\":18446744073709551615,"
           "\"d\":-1.25,\"arr\":[\"\xc3\xa9/\"],\"kid\":{\"name\":\"k\"},"
           "\"kids\":[{\"name\":\"k\"},{\"name\":\"k\"}]}");
  roundtrip(out, NULL);
  free(out);
  oci_free(d);
}

/* ---- oci_json_check ------------------------------------------------------ */

static void test_json_check(void **state) {
  (void)state;
  oci_error err;
  static const char *const good[] = {
      "0",
      "-0",
      "1e5",
      "\"\\u0000\"",
      "[]",
      "{}",
      " [1, {\"a\": null}] ",
      "{\"a\":{\"b\":[true,false,null]}}",
      "\"\xf4\x8f\xbf\xbf\"",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    if (oci_json_check(good[i], strlen(good[i]), NULL, &err) != OCI_OK)
      fail_msg("%s: %s", good[i], err.message);
  static const struct {
    const char *in;
    int code;
    const char *msg;
  } bad[] = {
      {"", OCI_ESYNTAX, "empty document"},
      {"[", OCI_ESYNTAX, "unexpected end of input"},
      {"{\"a\":1,\"a\":2}", OCI_EDUPKEY, "duplicate key \"a\""},
      {"1 2", OCI_ESYNTAX, "trailing characters"},
      {"\"\\ud800\"", OCI_EUTF8, "lone high surrogate"},
      {"\"\xed\xa0\x80\"", OCI_EUTF8, "invalid UTF-8 byte 0xed"},
      {"-", OCI_ESYNTAX, "invalid number"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    oci_error_clear(&err);
    if (oci_json_check(bad[i].in, strlen(bad[i].in), NULL, &err) != bad[i].code)
      fail_msg("%s: expected %s, got %s", bad[i].in,
               oci_status_name(bad[i].code), err.message);
    assert_int_equal(err.code, bad[i].code);
    assert_non_null(strstr(err.message, bad[i].msg));
  }
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  o.allow_duplicate_keys = true;
  assert_int_equal(oci_json_check("{\"a\":1,\"a\":2}", 13, &o, &err), OCI_OK);
  assert_int_equal(oci_json_check("{\"a\":1,\"a\":2}", 13, NULL, NULL),
                   OCI_EDUPKEY); /* err may be NULL */
  t_doc *d = (t_doc *)1;
  assert_int_equal(oci_parse(&doc_type, "{}", 2, NULL, (void **)&d, NULL),
                   OCI_EMISSING);
  assert_null(d);
}

/* ---- files --------------------------------------------------------------- */

static size_t count_entries(const char *dir, const char *only) {
  DIR *dp = opendir(dir);
  struct dirent *de;
  size_t n = 0;
  assert_non_null(dp);
  while ((de = readdir(dp)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (strstr(de->d_name, ".tmp."))
      fail_msg("temporary file %s/%s left behind", dir, de->d_name);
    if (only && strcmp(de->d_name, only) != 0)
      fail_msg("unexpected file %s/%s", dir, de->d_name);
    n++;
  }
  closedir(dp);
  return n;
}

static void test_files(void **state) {
  (void)state;
  char dir[] = "/tmp/ocispec-test-json-XXXXXX";
  char path[256], missing[256];
  oci_error err;
  oci_write_options pretty = {OCI_WRITE_OPTIONS_VERSION, true};
  t_doc *d = parse_ok(full_compact), *back = NULL;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/doc.json", dir);
  snprintf(missing, sizeof missing, "%s/missing/doc.json", dir);

  assert_int_equal(oci_write_file(&doc_type, d, &pretty, path, &err), OCI_OK);
  assert_int_equal(count_entries(dir, "doc.json"), 1);
  assert_int_equal(oci_parse_file(&doc_type, path, NULL, (void **)&back, &err),
                   OCI_OK);
  assert_true(oci_equal(&doc_type, d, back));
  oci_free(back);
  /* the bytes on disk are the pretty text, without a trailing newline */
  FILE *f = fopen(path, "rb");
  char buf[4096];
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  assert_int_equal(n, sizeof full_pretty - 1);
  assert_memory_equal(buf, full_pretty, n);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);

  /* overwrite in place */
  oci_set_string(d, &doc_fields[F_REQ], "second");
  assert_int_equal(oci_write_file(&doc_type, d, NULL, path, &err), OCI_OK);
  assert_int_equal(count_entries(dir, "doc.json"), 1);
  assert_int_equal(oci_parse_file(&doc_type, path, NULL, (void **)&back, &err),
                   OCI_OK);
  assert_string_equal(back->req, "second");
  oci_free(back);

  /* into a missing directory: OCI_EIO, nothing written anywhere */
  oci_error_clear(&err);
  assert_int_equal(oci_write_file(&doc_type, d, NULL, missing, &err), OCI_EIO);
  assert_int_equal(err.code, OCI_EIO);
  assert_non_null(strstr(err.message, missing));
  assert_non_null(strstr(err.message, strerror(ENOENT)));
  assert_int_equal(count_entries(dir, "doc.json"), 1);

  /* reading a missing file, a directory, a bad file */
  back = (t_doc *)1;
  assert_int_equal(
      oci_parse_file(&doc_type, missing, NULL, (void **)&back, &err), OCI_EIO);
  assert_null(back);
  assert_non_null(strstr(err.message, missing));
  assert_non_null(strstr(err.message, strerror(ENOENT)));
  assert_int_equal(oci_parse_file(&doc_type, dir, NULL, (void **)&back, &err),
                   OCI_EIO);
  assert_non_null(strstr(err.message, dir));
  assert_non_null(strstr(err.message, "is a directory"));
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  o.max_size = 10;
  assert_int_equal(oci_parse_file(&doc_type, path, &o, (void **)&back, &err),
                   OCI_ETOOBIG);
  assert_non_null(strstr(err.message, path));
  f = fopen(path, "wb");
  assert_non_null(f);
  fputs("{\n  \"req\": 1\n}", f);
  fclose(f);
  assert_int_equal(oci_parse_file(&doc_type, path, NULL, (void **)&back, &err),
                   OCI_ETYPE);
  assert_string_equal(err.pointer, "/req");
  assert_int_equal(err.line, 2);
  assert_int_equal(err.column, 10);

  assert_int_equal(unlink(path), 0);
  assert_int_equal(count_entries(dir, NULL), 0);
  assert_int_equal(rmdir(dir), 0);
  oci_free(d);
}

/* Booleans are read as one 4-byte word when 5 bytes are left, else
   byte by byte: every near-miss of a literal, at the end of the input and
   not, as a member and as array elements. */
static void test_booleans(void **state) {
  (void)state;
  t_doc *d = parse_ok("{\"req\":\"\",\"b\":true}");
  assert_true(d->b);
  oci_free(d);
  d = parse_ok("{\"req\":\"\",\"b\":false,\"abool\":[true,false,true]}");
  assert_false(d->b);
  assert_int_equal(d->abool.len, 3);
  assert_true(d->abool.items[0] && !d->abool.items[1] && d->abool.items[2]);
  oci_free(d);
  d = parse_ok("{\"req\":\"\",\"abool\":[ true , false ]}");
  assert_int_equal(d->abool.len, 2);
  oci_free(d);
  static const bad_case bad[] = {
      {"{\"req\":\"\",\"b\":tru}", 0, OCI_ESYNTAX, "/b", "unexpected", 0, 0},
      {"{\"req\":\"\",\"b\":trUe}", 0, OCI_ESYNTAX, "/b", "unexpected", 0, 0},
      {"{\"req\":\"\",\"b\":truex}", 0, OCI_ESYNTAX, "", "expected ',' or '}'",
       1, 19},
      {"{\"req\":\"\",\"b\":fals}", 0, OCI_ESYNTAX, "/b", "unexpected", 0, 0},
      {"{\"req\":\"\",\"b\":falsy}", 0, OCI_ESYNTAX, "/b", "unexpected", 0, 0},
      {"{\"req\":\"\",\"b\":falsey}", 0, OCI_ESYNTAX, "", "expected ',' or '}'",
       1, 20},
      {"{\"req\":\"\",\"b\":true", 0, OCI_ESYNTAX, "", "end of input", 0, 0},
      {"{\"req\":\"\",\"b\":fal", 0, OCI_ESYNTAX, "/b", "unexpected", 0, 0},

      {"{\"req\":\"\",\"b\":1}", 0, OCI_ETYPE, "/b", "expected boolean", 0, 0},
      {"{\"req\":\"\",\"abool\":[true,tRue]}", 0, OCI_ESYNTAX, "/abool/1",
       "unexpected", 0, 0},
  };
  EXPECT_BAD(bad);
}

/* The reader writes an error's JSON Pointer only on the error's way out
   (each container names its member as it returns). Every container kind,
   with the error inside a member (the pointer names it) and at the
   container itself (a separator, a key, a missing field: the pointer names
   the container only), nested, with unescaped keys (held by the arena
   until the pointer is built) and keys that need ~0/~1. */
static void test_error_pointers(void **state) {
  (void)state;
  static const bad_case bad[] = {
      /* typed object */
      {"{\"req\":\"\",\"kid\":{\"name\":\"\",\"n\":\"x\"}}", 0, OCI_ETYPE,
       "/kid/n", "expected integer", 0, 0},
      {"{\"req\":\"\",\"kid\":{\"name\":\"\" \"n\":1}}", 0, OCI_ESYNTAX, "/kid",
       "expected ',' or '}'", 0, 0},
      {"{\"req\":\"\",\"kid\":{\"name\":\"\",}}", 0, OCI_ESYNTAX, "/kid",
       "trailing comma in object", 0, 0},
      {"{\"req\":\"\",\"kid\":{\"name\":null}}", 0, OCI_ETYPE, "/kid/name",
       "must not be null", 0, 0},
      {"{\"req\":\"\",\"kid\":{\"name\":\"\",\"name\":\"\"}}", 0, OCI_EDUPKEY,
       "/kid/name", "duplicate key \"name\"", 0, 0},
      {"{\"req\":\"\",\"kid\":{\"name\":\"\",\"x\":[1,{\"y\":tru}]}}", 0,
       OCI_ESYNTAX, "/kid/x/1/y", "unexpected", 0, 0},
      /* typed array */
      {"{\"req\":\"\",\"kids\":[{\"name\":\"\"},{\"n\":1}]}", 0, OCI_EMISSING,
       "/kids/1", "missing required field \"name\"", 0, 0},
      {"{\"req\":\"\",\"kids\":[{\"name\":\"\"},7]}", 0, OCI_ETYPE, "/kids/1",
       "expected object", 0, 0},
      {"{\"req\":\"\",\"kids\":[{\"name\":\"\"},{\"name\":\"\",\"n\":1.5}]}", 0,
       OCI_ETYPE, "/kids/1/n", "fraction or exponent", 0, 0},
      {"{\"req\":\"\",\"arr\":[\"a\" \"b\"]}", 0, OCI_ESYNTAX, "/arr",
       "expected ',' or ']'", 0, 0},
      {"{\"req\":\"\",\"arr\":[\"a\",]}", 0, OCI_ESYNTAX, "/arr",
       "trailing comma in array", 0, 0},
      {"{\"req\":\"\",\"arr\":[\"a\",\"b\",null]}", 0, OCI_ETYPE, "/arr/2",
       "expected string", 0, 0},
      {"{\"req\":\"\",\"ai64\":[1,2,99999999999999999999]}", 0, OCI_ERANGE,
       "/ai64/2", "out of range", 0, 0},
      /* maps and sets */
      {"{\"req\":\"\",\"mkids\":{\"a\":{\"name\":\"\"},\"b/~c\":{\"name\":1}}}",
       0, OCI_ETYPE, "/mkids/b~1~0c/name", "expected string", 0, 0},
      {"{\"req\":\"\",\"map\":{\"a\":\"\",\"a\":\"\"}}", 0, OCI_EDUPKEY,
       "/map/a", "duplicate key \"a\"", 0, 0},
      {"{\"req\":\"\",\"map\":{\"a\":\"\" \"b\":\"\"}}", 0, OCI_ESYNTAX, "/map",
       "expected ',' or '}'", 0, 0},
      {"{\"req\":\"\",\"map\":{\"a\":\"\",\"\\u00e9\\/\":7}}", 0, OCI_ETYPE,
       "/map/\xc3\xa9~1", "expected string", 0, 0},
      {"{\"req\":\"\",\"mraw\":{\"k\\u00e9\":[1,]}}", 0, OCI_ESYNTAX,
       "/mraw/k\xc3\xa9", "trailing comma in array", 0, 0},
      {"{\"req\":\"\",\"set\":{\"a\":{},\"b\":1}}", 0, OCI_ETYPE, "/set/b",
       "expected object", 0, 0},
      {"{\"req\":\"\",\"set\":{\"a\":{\"x\":[}}}", 0, OCI_ESYNTAX, "/set/a/x/0",
       "unexpected", 0, 0},
      /* unknown members and raw values */
      {"{\"req\":\"\",\"x\":1,\"x\":2}", 0, OCI_EDUPKEY, "/x",
       "duplicate key \"x\"", 0, 0},
      {"{\"req\":\"\",\"\\u0078y\":{\"a\":[nul]}}", 0, OCI_ESYNTAX, "/xy/a/0",
       "unexpected", 0, 0},
      {"{\"req\":\"\",\"raw\":[1 2]}", 0, OCI_ESYNTAX, "/raw",
       "expected ',' or ']'", 0, 0},
      {"{\"req\":\"\",\"raw\":{\"a\":1,\"a\":2}}", 0, OCI_EDUPKEY, "/raw/a",
       "duplicate key \"a\"", 0, 0},
      {"{\"req\":\"\",\"raw\":{\"a\":[{},{\"b\":{\"c\" 1}}]}}", 0, OCI_ESYNTAX,
       "/raw/a/1/b", "expected ':'", 0, 0},
      {"{\"req\":\"\",\"raw\":{\"a\":[0,{\"~\":\"\\x\"}]}}", 0, OCI_ESYNTAX,
       "/raw/a/1/~0", "invalid escape", 0, 0},
      /* the document itself */
      {"{\"req\":\"\" \"s\":\"\"}", 0, OCI_ESYNTAX, "", "expected ',' or '}'",
       0, 0},
      {"{\"s\":\"\"}", 0, OCI_EMISSING, "", "missing required field \"req\"", 0,
       0},
      {"{\"req\":\"\"} x", 0, OCI_ESYNTAX, "", "trailing characters", 0, 0},
      {"{\"req\":\"\",\"s\":1}", 0, OCI_ETYPE, "/s", "expected string", 0, 0},
  };
  EXPECT_BAD(bad);

  /* one reader after another: no segment of an earlier error survives */
  oci_error err;
  t_doc *d = NULL;
  const char *deep = "{\"req\":\"\",\"kid\":{\"name\":\"\",\"n\":\"x\"}}";
  assert_int_equal(parse_opts(deep, strlen(deep), NULL, &d, &err), OCI_ETYPE);
  assert_string_equal(err.pointer, "/kid/n");
  assert_int_equal(parse_opts("{}", 2, NULL, &d, &err), OCI_EMISSING);
  assert_string_equal(err.pointer, "");

  /* oci_json_check and a pointer longer than the error's buffer: cut as
     when appending segment after segment, each '/' and byte while it
     leaves room for the NUL (keys without ~ or / here) */
  assert_int_equal(oci_json_check("{\"a\":[{\"b\":[1,}]}]}", 19, NULL, &err),
                   OCI_ESYNTAX);
  assert_string_equal(err.pointer, "/a/0/b/1");
  char key[41];
  memset(key, 'k', 40);
  key[40] = '\0';
  char json[1024], want[OCI_ERROR_POINTER_MAX] = "";
  size_t n = 0;
  for (int i = 0; i < 12; i++) {
    n += (size_t)snprintf(json + n, sizeof json - n, "{\"%s%d\":", key, i);
    char seg[48];
    snprintf(seg, sizeof seg, "/%s%d", key, i);
    size_t wl = strlen(want);
    for (size_t c = 0;
         seg[c] && wl + 1 < sizeof want && (c == 0 || wl + 2 < sizeof want);
         c++)
      want[wl++] = seg[c];
    want[wl] = '\0';
  }
  n += (size_t)snprintf(json + n, sizeof json - n, "x");
  assert_int_equal(oci_json_check(json, n, NULL, &err), OCI_ESYNTAX);
  assert_string_equal(err.pointer, want);
  assert_true(strlen(want) > 200);
}

/* Invariant 5 whatever limit the caller picks: a max_depth too large for
   the reader's path buffer or for the C stack must be refused or capped,
   never overflow. (Kept last: under ASan a failure aborts the run.) */
static void test_depth_limit_is_bounded(void **state) {
  (void)state;
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  oci_error err;
  t_doc *d = NULL;
  const char *doc = "{\"req\":\"\",\"raw\":[[[[1]]]]}";
  o.max_depth = SIZE_MAX;
  int rc = parse_opts(doc, strlen(doc), &o, &d, &err);
  if (rc != OCI_OK && rc != OCI_EINVAL)
    fail_msg("max_depth SIZE_MAX: %s", err.message);
  oci_free(d);
  /* a million nested arrays with a million-level limit */
  o.max_depth = (size_t)1 << 20;
  char *s = nested((size_t)1 << 20, "", "[", "", "]", "");
  rc = oci_json_check(s, strlen(s), &o, &err);
  if (rc != OCI_OK && rc != OCI_EDEPTH && rc != OCI_EINVAL)
    fail_msg("2^20 nested arrays: %s", err.message);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_declaration),
      cmocka_unit_test(test_integer_limits),
      cmocka_unit_test(test_integer_fast_path),
      cmocka_unit_test(test_map_duplicates_every_size),
      cmocka_unit_test(test_set_values),
      cmocka_unit_test(test_doubles),
      cmocka_unit_test(test_string_escapes),
      cmocka_unit_test(test_string_errors),
      cmocka_unit_test(test_duplicate_keys),
      cmocka_unit_test(test_duplicate_keys_lenient),
      cmocka_unit_test(test_duplicate_keys_lenient_raw),
      cmocka_unit_test(test_wrong_types),
      cmocka_unit_test(test_null_and_missing),
      cmocka_unit_test(test_document_syntax),
      cmocka_unit_test(test_line_column),
      cmocka_unit_test(test_depth),
      cmocka_unit_test(test_size_limits),
      cmocka_unit_test(test_output),
      cmocka_unit_test(test_equal_and_clone),
      cmocka_unit_test(test_build),
      cmocka_unit_test(test_json_check),
      cmocka_unit_test(test_write_invalid_utf8),
      cmocka_unit_test(test_files),
      cmocka_unit_test(test_depth_limit_is_bounded),
      cmocka_unit_test(test_error_pointers),
      cmocka_unit_test(test_booleans),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
