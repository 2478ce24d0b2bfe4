/* The fast paths of the codec at their edges: the string scanner's
   16-byte (SSE2) and 8-byte (SWAR) steps, the writer's, and the
   whitespace skipper's. Every special byte or sequence is placed at every
   offset of strings of every length up to 48, and strings end at every
   distance from the end of the buffer, which is an exact-size malloc so
   that a read past it is caught by ASan and valgrind. The expected text
   is built here byte by byte (the oracle does not use the codec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocispec/ocispec.h"

#define MAXLEN 48

/* A copy of s[0..n) in a block of exactly n bytes. */
static char *exact(const char *s, size_t n) {
  char *p = malloc(n ? n : 1);
  assert_non_null(p);
  if (!p) abort();
  memcpy(p, s, n);
  return p;
}

/* Parse json[0..k) (an exact-size copy: a read past its end is an ASan or
   valgrind error) as type t and write it compactly: the same text must
   come back. what names the case in a failure. */
static void expect_same_text(const oci_type *t, const char *json, size_t k,
                             const char *what) {
  char *buf = exact(json, k);
  void *doc = NULL;
  oci_error err;
  int rc = oci_parse(t, buf, k, NULL, &doc, &err);
  free(buf);
  if (rc) fail_msg("%s: %s at %s", what, err.message, err.pointer);
  char *out = NULL;
  size_t len = 0;
  assert_int_equal(oci_to_json(t, doc, NULL, &out, &len, &err), OCI_OK);
  if (len != k || memcmp(out, json, k) != 0)
    fail_msg("%s: wrote %s", what, out);
  free(out);
  oci_free(doc);
}

/* {"architecture":"<body>","os":"x"} parsed; returns the decoded
   architecture, or NULL with *rc and err set. */
static oci_image_platform *parse_platform(const char *json, size_t n, int *rc,
                                          oci_error *err) {
  char *buf = exact(json, n);
  oci_image_platform *p = NULL;
  *rc = oci_image_platform_parse(buf, n, NULL, &p, err);
  free(buf);
  return p;
}

/* The pieces placed at each offset: JSON text and what it decodes to. */
typedef struct piece {
  const char *json, *dec;
} piece;

static const piece pieces[] = {
    {"\\n", "\n"},
    {"\\\"", "\""},
    {"\\\\", "\\"},
    {"\\/", "/"},
    {"\\u00e9", "\xc3\xa9"},
    {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
    {"\xc3\xa9", "\xc3\xa9"},
    {"\xe2\x82\xac", "\xe2\x82\xac"},
    {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    {"\x7f", "\x7f"},
    {" ", " "},
};

static void test_read_strings_every_offset(void **state) {
  (void)state;
  char json[256], body[128], dec[128];
  size_t cases = 0;
  for (size_t pi = 0; pi < sizeof pieces / sizeof *pieces; pi++)
    for (size_t len = 0; len <= MAXLEN; len++)
      for (size_t at = 0; at <= len; at++) {
        /* len plain bytes with the piece inserted at offset at */
        size_t bn = 0, dn = 0;
        for (size_t i = 0; i < at; i++)
          body[bn++] = dec[dn++] = (char)('a' + i % 26);
        memcpy(body + bn, pieces[pi].json, strlen(pieces[pi].json));
        bn += strlen(pieces[pi].json);
        memcpy(dec + dn, pieces[pi].dec, strlen(pieces[pi].dec));
        dn += strlen(pieces[pi].dec);
        for (size_t i = at; i < len; i++)
          body[bn++] = dec[dn++] = (char)('A' + i % 26);
        dec[dn] = '\0';
        /* as a typed field (decoded), then as the document's last bytes */
        int n =
            snprintf(json, sizeof json,
                     "{\"os\":\"x\",\"architecture\":\"%.*s\"}", (int)bn, body);
        int rc;
        oci_error err;
        oci_image_platform *p = parse_platform(json, (size_t)n, &rc, &err);
        assert_int_equal(rc, OCI_OK);
        assert_string_equal(p->architecture, dec);
        oci_image_platform_free(p);
        n = snprintf(json, sizeof json, "\"%.*s\"", (int)bn, body);
        char *buf = exact(json, (size_t)n);
        assert_int_equal(oci_json_check(buf, (size_t)n, NULL, &err), OCI_OK);
        free(buf);
        cases += 2;
      }
  printf("%zu cases\n", cases);
}

/* Each bad byte sequence after every number of plain bytes: the error,
   with the offset of the bad byte, whether the string goes on or the
   buffer ends right there. */
static void test_read_string_errors_every_offset(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    int code;
    const char *msg;
    size_t off; /* of the error, from the sequence's start */
  } bad[] = {
      {"\xff", OCI_EUTF8, "invalid UTF-8 byte 0xff", 0},
      {"\x80", OCI_EUTF8, "invalid UTF-8 byte 0x80", 0},
      {"\xc3(", OCI_EUTF8, "invalid UTF-8 byte 0xc3", 0},
      {"\xed\xa0\x80", OCI_EUTF8, "invalid UTF-8 byte 0xed", 0},
      {"\x01", OCI_ESYNTAX, "unescaped control character 0x01", 0},
      {"\x1f", OCI_ESYNTAX, "unescaped control character 0x1f", 0},
      {"\t", OCI_ESYNTAX, "unescaped control character 0x09", 0},
      {"\\x", OCI_ESYNTAX, "invalid escape '\\x'", 0},
      {"\\u12G4", OCI_ESYNTAX, "invalid hex digit", 4},
      {"\\ud800x", OCI_EUTF8, "lone high surrogate", 0},
      {"\\udc00", OCI_EUTF8, "lone low surrogate", 0},
  };
  char json[256];
  size_t cases = 0;
  for (size_t b = 0; b < sizeof bad / sizeof *bad; b++)
    for (size_t pre = 0; pre <= MAXLEN; pre++)
      for (int tail = 0; tail < 2; tail++) {
        size_t n = 0;
        json[n++] = '"';
        for (size_t i = 0; i < pre; i++)
          json[n++] = (char)('a' + i % 26);
        size_t bad_at = n;
        memcpy(json + n, bad[b].bytes, strlen(bad[b].bytes));
        n += strlen(bad[b].bytes);
        if (tail) { /* the string goes on past a whole 16-byte step */
          memcpy(json + n, "abcdefghijklmnopq\"", 18);
          n += 18;
        }
        char *buf = exact(json, n);
        oci_error err;
        int rc = oci_json_check(buf, n, NULL, &err);
        free(buf);
        assert_int_equal(rc, bad[b].code);
        if (!strstr(err.message, bad[b].msg))
          fail_msg("%s: \"%s\" lacks \"%s\"", bad[b].bytes, err.message,
                   bad[b].msg);
        assert_int_equal(err.offset, bad_at + bad[b].off);
        cases++;
      }
  /* a string that never ends, of every length */
  for (size_t len = 0; len <= MAXLEN; len++) {
    size_t n = 0;
    json[n++] = '"';
    for (size_t i = 0; i < len; i++)
      json[n++] = (char)('a' + i % 26);
    char *buf = exact(json, n);
    oci_error err;
    assert_int_equal(oci_json_check(buf, n, NULL, &err), OCI_ESYNTAX);
    free(buf);
    assert_non_null(strstr(err.message, "unterminated string"));
    cases++;
  }
  printf("%zu cases\n", cases);
}

/* The writer's expected output for s, built byte by byte. */
static size_t expect_escaped(const char *s, char *out) {
  size_t n = 0;
  out[n++] = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': n += (size_t)sprintf(out + n, "\\\""); break;
    case '\\': n += (size_t)sprintf(out + n, "\\\\"); break;
    case '\b': n += (size_t)sprintf(out + n, "\\b"); break;
    case '\f': n += (size_t)sprintf(out + n, "\\f"); break;
    case '\n': n += (size_t)sprintf(out + n, "\\n"); break;
    case '\r': n += (size_t)sprintf(out + n, "\\r"); break;
    case '\t': n += (size_t)sprintf(out + n, "\\t"); break;
    default:
      if (*p < 0x20)
        n += (size_t)sprintf(out + n, "\\u%04x", *p);
      else
        out[n++] = (char)*p;
    }
  }
  out[n++] = '"';
  out[n] = '\0';
  return n;
}

static void test_write_strings_every_offset(void **state) {
  (void)state;
  static const char *const specials[] = {
      "\"",   "\\", "\n",       "\x01",         "\x1f",
      "\x7f", " ",  "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
  char s[128], want[512], json[640];
  size_t cases = 0;
  for (size_t si = 0; si < sizeof specials / sizeof *specials; si++)
    for (size_t len = 0; len <= MAXLEN; len++)
      for (size_t at = 0; at <= len; at++) {
        size_t n = 0;
        for (size_t i = 0; i < at; i++)
          s[n++] = (char)('a' + i % 26);
        memcpy(s + n, specials[si], strlen(specials[si]));
        n += strlen(specials[si]);
        for (size_t i = at; i < len; i++)
          s[n++] = (char)('A' + i % 26);
        s[n] = '\0';
        char *str = exact(s, n + 1); /* nothing readable after the NUL */
        oci_image_platform *p = NULL;
        oci_error err;
        assert_int_equal(oci_image_platform_new(&p, &err), OCI_OK);
        p->architecture = str;
        p->os = "x";
        p->hdr.present = 3;
        char *out = NULL;
        size_t outlen;
        assert_int_equal(
            oci_image_platform_to_json(p, false, &out, &outlen, &err), OCI_OK);
        expect_escaped(str, want);
        snprintf(json, sizeof json, "{\"architecture\":%s,\"os\":\"x\"}", want);
        assert_string_equal(out, json);
        free(out);
        oci_image_platform_free(p);
        free(str);
        cases++;
      }
  /* invalid UTF-8 at every offset of every length: refused */
  static const char *const bad[] = {"\xff", "\x80", "\xc3", "\xed\xa0\x80",
                                    "\xe2\x82"};
  for (size_t b = 0; b < sizeof bad / sizeof *bad; b++)
    for (size_t len = 0; len <= MAXLEN; len++)
      for (size_t at = 0; at <= len; at += 1) {
        size_t n = 0;
        for (size_t i = 0; i < at; i++)
          s[n++] = 'a';
        memcpy(s + n, bad[b], strlen(bad[b]));
        n += strlen(bad[b]);
        for (size_t i = at; i < len; i++)
          s[n++] = 'b';
        s[n] = '\0';
        char *str = exact(s, n + 1);
        oci_image_platform *p = NULL;
        oci_error err;
        assert_int_equal(oci_image_platform_new(&p, &err), OCI_OK);
        p->architecture = str;
        p->os = "x";
        p->hdr.present = 3;
        char *out = NULL;
        size_t outlen;
        int rc = oci_image_platform_to_json(p, false, &out, &outlen, &err);
        assert_int_not_equal(rc, OCI_OK);
        assert_null(out);
        assert_non_null(strstr(err.message, "invalid UTF-8"));
        oci_image_platform_free(p);
        free(str);
        cases++;
      }
  printf("%zu cases\n", cases);
}

/* The writer checks the room left once per member or element (separator,
   key and value together; a string's whole length plus slack) and again
   only at an escape. Strings of every length up to 320 (and a few long
   ones), mixing plain bytes with escapes so that the text is up to 6x the
   string, make the output cross the end of the buffer (256 bytes at
   first, then doubled) at every offset of every kind of write: a member
   string, a map key and value, array elements, a nested object, integers,
   compact and pretty. The expected text is built here. */
static void room_pattern(char *s, size_t n, size_t seed) {
  static const char alphabet[] = "a\x01\"b\\\n\x1f"
                                 "cdefgh\x7f";
  for (size_t i = 0; i < n; i++)
    s[i] = alphabet[(i * 7 + seed) % (sizeof alphabet - 1)];
  s[n] = '\0';
}

/* The text test_writer_room_boundaries expects for its descriptor, e its
   escaped string; pretty output indented by ind after each line break. */
static void room_descriptor_text(char *out, size_t cap, const char *e,
                                 long long size, bool pretty, const char *ind) {
  /* each one 2 bytes longer than the one it extends (-Wformat-truncation) */
  char nl0[64], nl1[66], nl2[68], nl3[70];
  const char *c = pretty ? ": " : ":";
  snprintf(nl0, sizeof nl0, "%s%s", pretty ? "\n" : "", pretty ? ind : "");
  snprintf(nl1, sizeof nl1, "%s%s", nl0, pretty ? "  " : "");
  snprintf(nl2, sizeof nl2, "%s%s", nl1, pretty ? "  " : "");
  snprintf(nl3, sizeof nl3, "%s%s", nl2, pretty ? "  " : "");
  snprintf(out, cap,
           "{%s\"mediaType\"%s%s,%s\"digest\"%s\"sha256:00\",%s"
           "\"size\"%s%lld,%s\"annotations\"%s{%s%s%s\"v\",%s\"k\"%s%s%s"
           "},%s\"platform\"%s{%s\"architecture\"%s%s,%s\"os\"%s"
           "\"linux\",%s\"os.features\"%s[%s%s,%s\"\",%s%s%s]%s}%s}",
           nl1, c, e, nl1, c, nl1, c, size, nl1, c, nl2, e, c, nl2, c, e, nl1,
           nl1, c, nl2, c, e, nl2, c, nl2, c, nl3, e, nl3, nl3, e, nl2, nl1,
           nl0);
}

static void test_writer_room_boundaries(void **state) {
  (void)state;
  static const size_t lens[] = {1000, 2047, 4096};
  size_t nl = 321 + sizeof lens / sizeof *lens;
  size_t cap = 6 * 4096 + 64, ocap = 8 * cap + 512;
  char *s = malloc(4097), *e = malloc(cap), *want = malloc(ocap),
       *dtext = malloc(ocap);
  assert_non_null(s);
  assert_non_null(e);
  assert_non_null(want);
  assert_non_null(dtext);
  size_t cases = 0;
  for (size_t li = 0; li < nl; li++)
    for (size_t seed = 0; seed < 3; seed++) {
      size_t len = li < 321 ? li : lens[li - 321];
      room_pattern(s, len, seed);
      expect_escaped(s, e);
      oci_error err;
      oci_image_descriptor *d = NULL;
      oci_image_platform *p = NULL;
      oci_image_index *x = NULL;
      assert_int_equal(oci_image_descriptor_new(&d, &err), OCI_OK);
      assert_int_equal(oci_image_platform_new(&p, &err), OCI_OK);
      assert_int_equal(oci_image_index_new(&x, &err), OCI_OK);
      char *keys[2] = {s, "k"}, *values[2] = {"v", s};
      char *feats[3] = {s, "", s};
      d->media_type = s;
      d->digest = "sha256:00";
      d->size = (int64_t)len - 150;
      d->annotations = (oci_str_map){keys, values, 2};
      d->platform = p;
      d->hdr.present = 1 | 2 | 4 | 16 | 32;
      p->architecture = s;
      p->os = "linux";
      p->os_features = (oci_str_array){feats, 3};
      p->hdr.present = 1 | 2 | 8;
      /* the index ends in five closing brackets after a string: more
         than the slack a string leaves */
      x->schema_version = 2;
      x->manifests.items = &d;
      x->manifests.len = 1;
      x->hdr.present = 1 | 8;
      for (int pretty = 0; pretty <= 1; pretty++)
        for (int index = 0; index <= 1; index++) {
          char *out = NULL;
          size_t outlen = 0;
          room_descriptor_text(dtext, ocap, e, (long long)len - 150, pretty,
                               index ? "    " : "");
          if (index) {
            snprintf(want, ocap,
                     pretty ? "{\n  \"schemaVersion\": 2,\n  \"manifests\": "
                              "[\n    %s\n  ]\n}"
                            : "{\"schemaVersion\":2,\"manifests\":[%s]}",
                     dtext);
            assert_int_equal(
                oci_image_index_to_json(x, pretty, &out, &outlen, &err),
                OCI_OK);
          } else {
            snprintf(want, ocap, "%s", dtext);
            assert_int_equal(
                oci_image_descriptor_to_json(d, pretty, &out, &outlen, &err),
                OCI_OK);
          }
          if (strcmp(out, want) != 0 || outlen != strlen(want))
            fail_msg("length %zu seed %zu pretty %d index %d: wrote %s", len,
                     seed, pretty, index, out);
          free(out);
          cases++;
        }
      x->manifests.len = 0;
      x->hdr.present = 0;
      d->platform = NULL;
      oci_image_index_free(x);
      oci_image_platform_free(p);
      oci_image_descriptor_free(d);
    }
  free(s);
  free(e);
  free(want);
  free(dtext);
  printf("%zu cases\n", cases);
}

/* Whitespace runs of every length 0..40 (all four kinds, mixed) before a
   value, between tokens and at the very end of the buffer; a byte that
   is not whitespace inside the run, at every offset, is the error. */
static void test_whitespace_runs(void **state) {
  (void)state;
  static const char ws[] = " \t\n\r";
  char run[64], json[512];
  size_t cases = 0;
  for (size_t len = 0; len <= 40; len++) {
    for (size_t i = 0; i < len; i++)
      run[i] = ws[(i * 7 + len) % 4];
    int n =
        snprintf(json, sizeof json,
                 "%.*s{%.*s\"os\"%.*s:%.*s\"x\"%.*s,%.*s\"architecture\":"
                 "\"a\"%.*s}%.*s",
                 (int)len, run, (int)len, run, (int)len, run, (int)len, run,
                 (int)len, run, (int)len, run, (int)len, run, (int)len, run);
    int rc;
    oci_error err;
    oci_image_platform *p = parse_platform(json, (size_t)n, &rc, &err);
    if (rc) fail_msg("%zu: %s in %s", len, err.message, json);
    assert_string_equal(p->os, "x");
    assert_string_equal(p->architecture, "a");
    oci_image_platform_free(p);
    cases++;
    /* a bad byte (vertical tab, NUL, a letter) at every offset of the run,
       the run at the end of the buffer or before the value */
    static const char badc[] = {'\v', '\0', 'z'};
    for (size_t b = 0; b < sizeof badc; b++)
      for (size_t at = 0; at < len; at++)
        for (int last = 0; last < 2; last++) {
          memcpy(json, "[1", 2);
          memcpy(json + 2, run, len);
          json[2 + at] = badc[b];
          size_t m = 2 + len;
          if (!last) json[m++] = ']';
          char *buf = exact(json, m);
          assert_int_equal(oci_json_check(buf, m, NULL, &err), OCI_ESYNTAX);
          free(buf);
          assert_int_equal(err.offset, 2 + at);
          cases++;
        }
  }
  printf("%zu cases\n", cases);
}

/* The reader's shortcut after a key (`"key": value`, `"key":value`) and
   everything it hands to the general path: more whitespace, whitespace
   before the colon, no colon, the document ending 0-2 bytes after it.
   Buffers of exact size (a read past the end is caught by ASan). */
static void test_key_colon_shapes(void **state) {
  (void)state;
  static const struct {
    const char *json;
    int code;
    size_t off; /* of the error */
    const char *msg;
  } cases[] = {
      {"{\"os\":\"x\",\"architecture\":\"a\"}", OCI_OK, 0, NULL},
      {"{\"os\": \"x\",\"architecture\": \"a\"}", OCI_OK, 0, NULL},
      {"{\"os\":  \"x\",\"architecture\":\t\"a\"}", OCI_OK, 0, NULL},
      {"{\"os\" : \"x\",\"architecture\" :\n\"a\"}", OCI_OK, 0, NULL},
      {"{\"os\": \r\n \"x\",\"architecture\":\"a\" }", OCI_OK, 0, NULL},
      {"{\"os\" \"x\"}", OCI_ESYNTAX, 6, "expected ':' after object key"},
      {"{\"os\"", OCI_ESYNTAX, 5, "expected ':' after object key"},
      {"{\"os\":", OCI_ESYNTAX, 6, "unexpected end of input"},
      {"{\"os\": ", OCI_ESYNTAX, 7, "unexpected end of input"},
      {"{\"os\":x}", OCI_ESYNTAX, 6, "unexpected character 'x'"},
      {"{\"os\": x}", OCI_ESYNTAX, 7, "unexpected character 'x'"},
      {"{\"os\":\x01\"x\"}", OCI_ESYNTAX, 6, "unexpected byte 0x01"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int rc;
    oci_error err;
    oci_image_platform *p =
        parse_platform(cases[i].json, strlen(cases[i].json), &rc, &err);
    if (rc != cases[i].code)
      fail_msg("%s: %s (%s)", cases[i].json, oci_status_name(rc), err.message);
    if (!rc) {
      assert_string_equal(p->os, "x");
      oci_image_platform_free(p);
      continue;
    }
    if (!strstr(err.message, cases[i].msg))
      fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].json, err.message,
               cases[i].msg);
    assert_int_equal(err.offset, cases[i].off);
  }
}

/* The writer visits a declared type's present members by their presence
   bits (bit i = field i): every type of oci_all_types must number its
   fields in declaration order, and bits past nfields (a C caller's
   stray bits, here bit 31) must change nothing. */
static void test_writer_presence_bits(void **state) {
  (void)state;
  size_t n = 0;
  for (size_t ti = 0; oci_all_types[ti]; ti++, n++) {
    const oci_type *t = oci_all_types[ti];
    assert_true(t->nfields <= 32);
    for (size_t i = 0; i < t->nfields; i++)
      if (t->fields[i].index != i)
        fail_msg("%s.%s: index %u at position %zu", t->name, t->fields[i].key,
                 (unsigned)t->fields[i].index, i);
  }
  assert_true(n > 10);
  static const char json[] =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"variant\":\"v8\"}";
  int rc;
  oci_error err;
  oci_image_platform *p = parse_platform(json, sizeof json - 1, &rc, &err);
  assert_int_equal(rc, OCI_OK);
  ((oci_object *)p)->present |= (uint32_t)1 << 31;
  char *out = NULL;
  size_t len = 0;
  assert_int_equal(oci_image_platform_to_json(p, false, &out, &len, &err),
                   OCI_OK);
  assert_string_equal(out, json);
  free(out);
  oci_image_platform_free(p);
}

/* The reader's inline string path (scan_str) keeps max_string: a string of
   every length up to MAXLEN, as a key and as a value, with the limit one
   below its length (refused, ETOOBIG at the string's first byte), at its
   length and above (accepted), whether the string ends inside the first
   16-byte step, after several, or near the end of the buffer. */
static void test_read_max_string_every_length(void **state) {
  (void)state;
  char json[256], body[MAXLEN + 1];
  size_t cases = 0;
  for (size_t len = 0; len <= MAXLEN; len++) {
    for (size_t i = 0; i < len; i++)
      body[i] = (char)('a' + i % 26);
    for (int as_key = 0; as_key < 2; as_key++)
      for (int pad = 0; pad < 2; pad++) {
        /* pad: 20 bytes of whitespace after the string, so that the
           16-byte step has room; else the document ends 2-3 bytes later */
        int n = as_key ? snprintf(json, sizeof json, "{\"%.*s\":1%s}", (int)len,
                                  body, pad ? "                    " : "")
                       : snprintf(json, sizeof json, "[\"%.*s\"%s]", (int)len,
                                  body, pad ? "                    " : "");
        for (size_t lim = len ? len - 1 : 0; lim <= len + 1; lim++) {
          oci_parse_options po = OCI_PARSE_OPTIONS_INIT;
          po.max_string = lim ? lim : 1; /* 0 means the default */
          char *buf = exact(json, (size_t)n);
          oci_error err;
          int rc = oci_json_check(buf, (size_t)n, &po, &err);
          free(buf);
          if (len > po.max_string) {
            assert_int_equal(rc, OCI_ETOOBIG);
            assert_non_null(strstr(err.message, "exceeds the limit"));
            assert_int_equal(err.offset, 2);
          } else if (rc)
            fail_msg("len %zu limit %zu: %s", len, po.max_string, err.message);
          cases++;
        }
      }
  }
  printf("%zu cases\n", cases);
}

/* The reader takes a declared type's required fields from a mask computed
   at compile time (its codec table), not from the field flags: for every
   type of oci_all_types, `{}` must name the first required field (the
   flags are the oracle), and a type with none must parse; with every
   required field but the last one present, the last one is named. */
static void test_required_masks(void **state) {
  (void)state;
  size_t with = 0;
  for (size_t ti = 0; oci_all_types[ti]; ti++) {
    const oci_type *t = oci_all_types[ti];
    const oci_field *first = NULL;
    for (size_t i = 0; i < t->nfields && !first; i++)
      if (t->fields[i].flags & OCI_F_REQUIRED) first = &t->fields[i];
    void *obj = NULL;
    oci_error err;
    int rc = oci_parse(t, "{}", 2, NULL, &obj, &err);
    if (!first) {
      if (rc) fail_msg("%s: {} refused: %s", t->name, err.message);
      oci_free(obj);
      continue;
    }
    with++;
    char want[160];
    snprintf(want, sizeof want, "missing required field \"%s\" in %s",
             first->key, t->name);
    if (rc != OCI_EMISSING || strcmp(err.message, want) != 0)
      fail_msg("%s: rc %d \"%s\", want \"%s\"", t->name, rc, err.message, want);
    /* lenient: every required field may be missing */
    oci_parse_options po = OCI_PARSE_OPTIONS_INIT;
    po.allow_missing_required = true;
    assert_int_equal(oci_parse(t, "{}", 2, &po, &obj, &err), OCI_OK);
    oci_free(obj);
  }
  assert_true(with > 10);
  /* a later required field: the descriptor's size, after its media type
     and digest */
  static const char d[] = "{\"mediaType\":\"a/b\",\"digest\":\"sha256:00\"}";
  void *obj = NULL;
  oci_error err;
  assert_int_equal(
      oci_parse(&oci_type_image_descriptor, d, sizeof d - 1, NULL, &obj, &err),
      OCI_EMISSING);
  assert_string_equal(err.message,
                      "missing required field \"size\" in Descriptor");
}

/* The reader's element stack starts in the reader (512 bytes) and moves
   to the heap when it grows: arrays of 0 to 200 strings, beside and
   inside arrays of objects that have arrays of their own (an inner array
   read after the outer one's elements moved the stack), read back and
   written as the same compact text. */
static void test_element_stack_growth(void **state) {
  (void)state;
  size_t cap = 64 * 1024;
  char *json = malloc(cap);
  assert_non_null(json);
  for (int n = 0; n <= 200; n += n < 80 ? 1 : 7) {
    size_t k = 0;
    k += (size_t)snprintf(json + k, cap - k,
                          "{\"ociVersion\":\"1.0.2\",\"process\":{\"user\":"
                          "{\"uid\":0,\"gid\":0},\"args\":[");
    for (int i = 0; i < n; i++)
      k += (size_t)snprintf(json + k, cap - k, "%s\"a%d\"", i ? "," : "", i);
    k += (size_t)snprintf(json + k, cap - k, "],\"cwd\":\"/\"},\"mounts\":[");
    for (int i = 0; i < n / 10 + 1; i++) {
      k += (size_t)snprintf(json + k, cap - k,
                            "%s{\"destination\":\"/m%d\","
                            "\"options\":[",
                            i ? "," : "", i);
      for (int j = 0; j < n; j++)
        k += (size_t)snprintf(json + k, cap - k, "%s\"o%d\"", j ? "," : "", j);
      k += (size_t)snprintf(json + k, cap - k, "]}");
    }
    k += (size_t)snprintf(json + k, cap - k, "]}");
    assert_true(k < cap - 1);
    char what[32];
    snprintf(what, sizeof what, "%d strings", n);
    expect_same_text(&oci_type_runtime_spec, json, k, what);
  }
  free(json);
}

/* The reader copies a plain string while it scans it, storing whole
   16-byte steps into the arena's free space: compact documents (which
   need more arena per input byte than the parse's first block holds) of
   1 to 60 strings of 0 to 40 bytes, so that strings meet the end of a
   block at every distance, must read back and write the same text. */
static void test_strings_at_block_ends(void **state) {
  (void)state;
  char *json = malloc(8192);
  assert_non_null(json);
  size_t cases = 0;
  for (int len = 0; len <= 40; len++)
    for (int count = 1; count <= 60; count++) {
      size_t k = (size_t)snprintf(
          json, 8192, "{\"ociVersion\":\"1\",\"process\":{\"args\":[");
      for (int i = 0; i < count; i++) {
        k += (size_t)snprintf(json + k, 8192 - k, "%s\"", i ? "," : "");
        for (int c = 0; c < len; c++)
          json[k++] = (char)('a' + (i + c) % 26);
        json[k++] = '"';
      }
      k += (size_t)snprintf(json + k, 8192 - k, "],\"cwd\":\"/\"}}");
      char what[32];
      snprintf(what, sizeof what, "%d x %d", count, len);
      expect_same_text(&oci_type_runtime_spec, json, k, what);
      cases++;
    }
  free(json);
  printf("%zu documents\n", cases);
}

/* Parse {PREFIX NUMBER SUFFIX} as type t, write it compactly: the text
   must come back (the number written by the writer's digit code). */
static void number_round_trip(const oci_type *t, const char *prefix,
                              const char *num, const char *suffix) {
  char json[256];
  int k = snprintf(json, sizeof json, "%s%s%s", prefix, num, suffix);
  expect_same_text(t, json, (size_t)k, json);
}

/* The writer's integers (digit count from the bit length, four digits per
   division): every power of ten and its neighbours, both ends of the
   uint64 and int64 ranges, and pseudo-random values of every length;
   snprintf is the oracle. */
static void test_write_integers(void **state) {
  (void)state;
  const char *u_pre = "{\"index\":0,\"value\":", *u_suf = ",\"op\":\"x\"}";
  const char *i_pre = "{\"mediaType\":\"a/b\",\"digest\":\"sha256:00\","
                      "\"size\":";
  char num[32];
  uint64_t p = 1;
  for (int e = 0; e <= 19; e++, p *= 10) {
    for (int d = -1; d <= 1; d++) {
      uint64_t v = p + (uint64_t)(int64_t)d;
      snprintf(num, sizeof num, "%llu", (unsigned long long)v);
      number_round_trip(&oci_type_runtime_linux_seccomp_arg, u_pre, num, u_suf);
      if (v <= (uint64_t)INT64_MAX) {
        snprintf(num, sizeof num, "%lld", (long long)v);
        number_round_trip(&oci_type_image_descriptor, i_pre, num, "}");
        snprintf(num, sizeof num, "%lld", -(long long)v);
        if (v) number_round_trip(&oci_type_image_descriptor, i_pre, num, "}");
      }
    }
    if (e == 19) break; /* 10^20 does not fit */
  }
  snprintf(num, sizeof num, "%llu", (unsigned long long)UINT64_MAX);
  number_round_trip(&oci_type_runtime_linux_seccomp_arg, u_pre, num, u_suf);
  snprintf(num, sizeof num, "%lld", (long long)INT64_MIN);
  number_round_trip(&oci_type_image_descriptor, i_pre, num, "}");
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 2000; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t v = x >> (i % 64);
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    number_round_trip(&oci_type_runtime_linux_seccomp_arg, u_pre, num, u_suf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_read_strings_every_offset),
      cmocka_unit_test(test_read_string_errors_every_offset),
      cmocka_unit_test(test_write_strings_every_offset),
      cmocka_unit_test(test_writer_room_boundaries),
      cmocka_unit_test(test_whitespace_runs),
      cmocka_unit_test(test_read_max_string_every_length),
      cmocka_unit_test(test_key_colon_shapes),
      cmocka_unit_test(test_writer_presence_bits),
      cmocka_unit_test(test_required_masks),
      cmocka_unit_test(test_element_stack_growth),
      cmocka_unit_test(test_write_integers),
      cmocka_unit_test(test_strings_at_block_ends),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
