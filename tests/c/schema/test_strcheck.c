/* Unit tests for csrc/schema/strcheck.c: good and bad strings for every
   grammar; each bad one must fail with OCI_EINVAL and a message naming why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdio.h>
#include <string.h>

#include "ocispec/strcheck.h"
#include "schema/strcheck_internal.h"

typedef int (*check_fn)(const char *s, size_t len, oci_error *err);

/* A bad input and a piece its message must contain. */
typedef struct bad_case {
  const char *in;
  const char *why;
} bad_case;

/* Strings of n copies of c, for the boundary lengths. */
static char *repeat(char *buf, char c, size_t n) {
  memset(buf, c, n);
  buf[n] = '\0';
  return buf;
}

static void expect_good_len(check_fn f, const char *s, size_t len) {
  oci_error err;
  oci_error_clear(&err);
  if (f(s, len, &err) != 0)
    fail_msg("expected \"%s\" to pass, got: %s", s, err.message);
}

static void expect_good(check_fn f, const char *const *list) {
  for (; *list; list++)
    expect_good_len(f, *list, strlen(*list));
}

static void expect_bad_len(check_fn f, const char *s, size_t len,
                           const char *why) {
  oci_error err;
  int rc;
  oci_error_clear(&err);
  strcpy(err.pointer, "/stale");
  rc = f(s, len, &err);
  if (rc != OCI_EINVAL)
    fail_msg("expected \"%s\" to fail with OCI_EINVAL, got %d (%s)", s, rc,
             err.message);
  assert_int_equal(err.code, OCI_EINVAL);
  if (!strstr(err.message, why))
    fail_msg("message for \"%s\" lacks \"%s\": %s", s, why, err.message);
  /* reset on entry (DESIGN.md "C API"): no stale pointer; the caller
     sets where the string sits after the call */
  assert_string_equal(err.pointer, "");
  assert_int_equal(f(s, len, NULL), OCI_EINVAL); /* err may be NULL */
}

static void expect_bad(check_fn f, const bad_case *list) {
  for (; list->in; list++)
    expect_bad_len(f, list->in, strlen(list->in), list->why);
}

/* ---------------------------------------------------------------- */

static void test_quote(void **state) {
  char buf[OCI_QUOTE_SIZE], small[12];
  char long_in[200];
  (void)state;
  assert_string_equal(oci_quote(buf, sizeof buf, "abc", 3), "\"abc\"");
  assert_string_equal(oci_quote(buf, sizeof buf, "a\"b\\c\n\xff", 7),
                      "\"a\\\"b\\\\c\\x0a\\xff\"");
  assert_string_equal(oci_quote(buf, sizeof buf, "", 0), "\"\"");
  repeat(long_in, 'x', 199);
  oci_quote(buf, sizeof buf, long_in, 199);
  assert_true(strlen(buf) < sizeof buf);
  assert_non_null(strstr(buf, "...\""));
  assert_string_equal(oci_quote(small, sizeof small, "abcdefghijkl", 12),
                      "\"abcdef...\"");
  /* an escape is never cut in half */
  assert_string_equal(oci_quote(small, sizeof small, "abcde\n", 6),
                      "\"abcde...\"");
}

static void test_media_type(void **state) {
  static const char *const good[] = {
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.docker.distribution.manifest.v2+json",
      "text/plain",
      "a/b",
      "1/2",
      "x/a!#$&^_.+-",
      "application/vnd.oci.empty.v1+json",
      NULL};
  static const bad_case bad[] = {
      {"", "is empty"},
      {"application", "missing \"/\" between type and subtype"},
      {"/json", "type is empty"},
      {"application/", "subtype is empty"},
      {".app/json", "type must start with a letter or digit, got \".\""},
      {"application/+json", "subtype must start with a letter or digit"},
      {"application/json; charset=utf-8",
       "invalid character \";\" at offset 16 in subtype, parameters are not "
       "allowed"},
      {"application/json/x", "invalid character \"/\" at offset 16 in subtype"},
      {"appl ication/json", "invalid character \" \" at offset 4 in type"},
      {"application/js\xc3\xb6n", "invalid character \"\\xc3\" at offset 14"},
      {"applic@tion/json", "invalid character \"@\" at offset 6 in type"},
      {NULL, NULL}};
  char s[300], part[200];
  (void)state;
  expect_good(oci_check_media_type, good);
  expect_bad(oci_check_media_type, bad);
  /* 127 characters on each side is the maximum (good/descriptor/007) */
  snprintf(s, sizeof s, "%s/%s", repeat(part, 't', 127), "json");
  expect_good_len(oci_check_media_type, s, strlen(s));
  snprintf(s, sizeof s, "application/%s", repeat(part, 's', 127));
  expect_good_len(oci_check_media_type, s, strlen(s));
  snprintf(s, sizeof s, "application/%s", repeat(part, 's', 128));
  expect_bad_len(oci_check_media_type, s, strlen(s),
                 "subtype is 128 characters, at most 127 allowed");
  snprintf(s, sizeof s, "%s/json", repeat(part, 't', 128));
  expect_bad_len(oci_check_media_type, s, strlen(s),
                 "type is 128 characters, at most 127 allowed");
  expect_bad_len(oci_check_media_type, "a/b\0c", 5,
                 "invalid character \"\\x00\" at offset 3");
}

/* ---------------------------------------------------------------- */

/* Independent encoder for the round trip test. */
static size_t encode64(const unsigned char *in, size_t n, char *out) {
  static const char abc[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i, o = 0;
  for (i = 0; i < n; i += 3) {
    unsigned long v = (unsigned long)in[i] << 16;
    if (i + 1 < n) v |= (unsigned long)in[i + 1] << 8;
    if (i + 2 < n) v |= in[i + 2];
    out[o++] = abc[(v >> 18) & 63];
    out[o++] = abc[(v >> 12) & 63];
    out[o++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? abc[v & 63] : '=';
  }
  out[o] = '\0';
  return o;
}

static void test_base64(void **state) {
  static const char *const good[] = {"",     "e30=", "YQ==",     "YWI=", "YWJj",
                                     "+/+/", "AAAA", "YWJjZA==", NULL};
  static const bad_case bad[] = {
      {"e30", "length 3 is not a multiple of 4"},
      {"YWJjZ", "length 5 is not a multiple of 4"},
      {"e3 0", "invalid character \" \" at offset 2"},
      {"YW\nj", "invalid character \"\\x0a\" at offset 2"},
      {"YWJ-", "invalid character \"-\" at offset 3"}, /* base64url */
      {"YWJ_", "invalid character \"_\" at offset 3"},
      {"e=30", "\"=\" at offset 1: padding may only end the string"},
      {"====", "\"=\" at offset 0: padding"},
      {"A===", "\"=\" at offset 1: padding"},
      {"YQ=a", "\"=\" at offset 2: padding"},
      {"YQ==YQ==", "\"=\" at offset 2: padding"},
      {NULL, NULL}};
  (void)state;
  expect_good(oci_check_base64, good);
  expect_bad(oci_check_base64, bad);
}

static void test_base64_decode(void **state) {
  unsigned char all[256], out[400];
  char enc[400];
  size_t n, i, len;
  (void)state;
  assert_int_equal(oci_base64_decode("e30=", 4, out, &n), 0);
  assert_int_equal(n, 2);
  assert_memory_equal(out, "{}", 2);
  assert_int_equal(oci_base64_decode("", 0, out, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(oci_base64_decode("YWJj", 4, out, &n), 0);
  assert_int_equal(n, 3);
  assert_memory_equal(out, "abc", 3);
  assert_int_equal(oci_base64_decode("YWI=", 4, out, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(oci_base64_decode("/+8=", 4, out, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(out[0], 0xff);
  assert_int_equal(out[1], 0xef);
  assert_int_equal(oci_base64_decode("e30", 3, out, &n), OCI_EINVAL);
  assert_int_equal(oci_base64_decode("e3-=", 4, out, &n), OCI_EINVAL);
  /* every byte value, every padding length */
  for (i = 0; i < 256; i++)
    all[i] = (unsigned char)(255 - i);
  for (len = 0; len <= 256; len += 85) {
    size_t elen = encode64(all, len, enc); /* 85, 170, 255: each padding */
    assert_int_equal(oci_check_base64(enc, elen, NULL), 0);
    assert_int_equal(oci_base64_decode(enc, elen, out, &n), 0);
    assert_int_equal(n, len);
    assert_memory_equal(out, all, len);
  }
  for (len = 1; len <= 3; len++) {
    size_t elen = encode64(all, len, enc);
    assert_int_equal(oci_base64_decode(enc, elen, out, &n), 0);
    assert_int_equal(n, len);
    assert_memory_equal(out, all, len);
  }
}

/* ---------------------------------------------------------------- */

static void test_uri(void **state) {
  static const char *const good[] = {
      "https://example.com/path?q=1#frag",
      "https://registry.example.com/v2/blobs/sha256:abc",
      "http://[::1]:8080/",
      "http://[2001:db8::7]/c=GB?objectClass?one",
      "http://[::ffff:192.0.2.1]/",
      "http://[v1.fe80::a+en1]/",
      "urn:isbn:0451450523",
      "urn:oasis:names:specification:docbook:dtd:xml:4.1.2",
      "mailto:John.Doe@example.com",
      "news:comp.infosystems.www.servers.unix",
      "tel:+1-816-555-1212",
      "ldap://[2001:db8::7]/c=GB?objectClass?one",
      "file:///etc/passwd",
      "foo:",
      "https://user:pass@host:/x",
      "http://127.0.0.1/",
      "https://example.com/a%20b%2F",
      "HTTP://EXAMPLE.COM",
      "s3://bucket/key",
      "a+b-c.d:x",
      "http://h/?a=/b?c#/d?e:f@g",
      "http://h:8080",
      "http://",
      "https://example.com/~user/!$&'()*+,;=",
      NULL};
  static const bad_case bad[] = {
      {"", "is empty"},
      {"example.com/x", "invalid character \"/\" at offset 11 in scheme"},
      {"/relative/path", "scheme must start with a letter, got \"/\""},
      {"1http://x", "scheme must start with a letter"},
      {"http", "missing \":\" after the scheme"},
      {"ht tp://x", "invalid character \" \" at offset 2 in scheme"},
      {"http://exa mple.com", "invalid character \" \" at offset 10 in host"},
      {"http://host/a b", "invalid character \" \" at offset 13 in path"},
      {"http://host/%zz", "\"%\" at offset 12 in path must be followed by two "
                          "hex digits"},
      {"http://host/%4", "\"%\" at offset 12 in path"},
      {"http://host/?%", "\"%\" at offset 13 in query"},
      {"http://host:80a/", "port must be digits, offset 14 is not"},
      {"http://[::1/", "\"[\" at offset 7 has no closing \"]\""},
      {"http://[::g]/", "IP literal \"::g\" at offset 7 is not an IPv6"},
      {"http://[1.2.3.4]/", "IP literal \"1.2.3.4\""},
      {"http://[1:2:3:4:5:6:7:8:9]/", "IP literal"},
      {"http://[1::2::3]/", "IP literal"},
      {"http://[::1]x/", "expected \":\" and a port after the host at offset "
                         "12"},
      {"http://h/#a#b", "invalid character \"#\" at offset 11 in fragment"},
      {"http://h/?a=[1]", "invalid character \"[\" at offset 12 in query"},
      {"http://a@b@c/", "invalid character \"@\" at offset 10 in host"},
      {"http://us er@h/", "invalid character \" \" at offset 9 in userinfo"},
      {"http://h/\x7f", "invalid character \"\\x7f\" at offset 9 in path"},
      {"http://h/\xc3\xa9", "invalid character \"\\xc3\" at offset 9 in path"},
      {"http://h/a\\b", "invalid character \"\\\\\" at offset 10 in path"},
      {"urn:a\"b", "invalid character \"\\\"\" at offset 5 in path"},
      {NULL, NULL}};
  (void)state;
  expect_good(oci_check_uri, good);
  expect_bad(oci_check_uri, bad);
}

/* ---------------------------------------------------------------- */

static void test_rfc3339(void **state) {
  static const char *const good[] = {
      "2015-10-31T22:22:56.015925234Z",
      "1985-04-12T23:20:50.52Z",
      "1996-12-19T16:39:57-08:00",
      "1990-12-31T23:59:60Z",
      "1990-12-31T15:59:60-08:00",
      "1937-01-01T12:00:27.87+00:20",
      "2020-02-29T00:00:00z",
      "2000-02-29t00:00:00Z", /* 2000 is a leap year (divisible by 400) */
      "2024-02-29T12:00:00Z",
      "2023-01-31T00:00:00+23:59",
      "2023-04-30T00:00:00Z",
      "0000-01-01T00:00:00Z",
      "9999-12-31T23:59:59.999999999999Z",
      NULL};
  static const bad_case bad[] = {
      {"", "ends at offset 0, expected YYYY-MM-DDTHH:MM:SS"},
      {"2015-10-31", "ends at offset 10"},
      {"2015-10-31 22:22:56Z",
       "expected \"T\" between date and time at offset 10, got \" \""},
      {"2015-13-01T00:00:00Z", "month 13 out of range 01-12"},
      {"2015-00-01T00:00:00Z", "month 00 out of range 01-12"},
      {"2015-01-00T00:00:00Z", "day 00 out of range 01-31"},
      {"2015-01-32T00:00:00Z", "day 32 out of range 01-31"},
      {"2023-02-29T00:00:00Z", "day 29 out of range 01-28"},
      {"1900-02-29T00:00:00Z", "day 29 out of range 01-28"}, /* century */
      {"2024-02-30T00:00:00Z", "day 30 out of range 01-29"},
      {"2024-04-31T00:00:00Z", "day 31 out of range 01-30"},
      {"2024-06-31T00:00:00Z", "day 31 out of range 01-30"},
      {"2024-09-31T00:00:00Z", "day 31 out of range 01-30"},
      {"2024-11-31T00:00:00Z", "day 31 out of range 01-30"},
      {"2015-10-31T24:00:00Z", "hour 24 out of range 00-23"},
      {"2015-10-31T23:60:00Z", "minute 60 out of range 00-59"},
      {"2015-10-31T23:59:61Z", "second 61 out of range 00-60"},
      {"2015-10-31T22:22:56", "missing time offset"},
      {"2015-10-31T22:22:56.Z", "fraction of a second after \".\" at offset "
                                "19 has no digits"},
      {"2015-10-31T22:22:56+0100", "expected \":\" at offset 22, got \"0\""},
      {"2015-10-31T22:22:56+01", "ends at offset 22"},
      {"2015-10-31T22:22:56+24:00", "offset hour 24 out of range 00-23"},
      {"2015-10-31T22:22:56-01:60", "offset minute 60 out of range 00-59"},
      {"2015-10-31T22:22:56Z ", "unexpected \" \" at offset 20 after the "
                                "time offset"},
      {"2015-10-31T22:22:56ZZ", "unexpected \"Z\" at offset 20"},
      {"2015-10-31T22:22:56UTC", "expected time offset (\"Z\", +hh:mm or "
                                 "-hh:mm) at offset 19, got \"U\""},
      {"2015-1-31T22:22:56Z", "expected a digit at offset 6, got \"-\""},
      {"15-10-31T22:22:56Z", "expected a digit at offset 2, got \"-\""},
      {"2015/10/31T22:22:56Z", "expected \"-\" at offset 4, got \"/\""},
      {"2015-10-31T22.22.56Z", "expected \":\" at offset 13"},
      {"2015-10-31T22:22:56,5Z", "expected time offset"},
      {NULL, NULL}};
  (void)state;
  expect_good(oci_check_rfc3339, good);
  expect_bad(oci_check_rfc3339, bad);
}

/* ---------------------------------------------------------------- */

static void test_semver(void **state) {
  /* most of these come from the semver.org FAQ regex test lists */
  static const char *const good[] = {
      "0.0.0",
      "0.0.4",
      "1.2.3",
      "10.20.30",
      "1.1.2-prerelease+meta",
      "1.1.2+meta",
      "1.1.2+meta-valid",
      "1.0.0-alpha",
      "1.0.0-beta",
      "1.0.0-alpha.beta",
      "1.0.0-alpha.beta.1",
      "1.0.0-alpha.1",
      "1.0.0-alpha0.valid",
      "1.0.0-alpha.0valid",
      "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
      "1.0.0-rc.1+build.1",
      "2.0.0-rc.1+build.123",
      "1.2.3-beta",
      "10.2.3-DEV-SNAPSHOT",
      "1.2.3-SNAPSHOT-123",
      "2.0.0+build.1848",
      "2.0.1-alpha.1227",
      "1.0.0-alpha+beta",
      "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
      "1.2.3----R-S.12.9.1--.12+meta",
      "1.2.3----RC-SNAPSHOT.12.9.1--.12",
      "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
      "99999999999999999999999.999999999999999999.99999999999999999",
      "1.0.0-0A.is.legal",
      "1.0.0-0",
      "1.0.0+001", /* build identifiers may have leading zeros */
      "1.0.0-x.7.z.92",
      "0.5.0-dev",
      "1.0.2-dev",
      NULL};
  static const bad_case bad[] = {
      {"", "major version at offset 0 must be digits"},
      {"1", "expected \".\" and the minor version at offset 1"},
      {"1.2", "expected \".\" and the patch version at offset 3"},
      {"1.2.", "patch version at offset 4 must be digits"},
      {"1.2.3-0123", "numeric pre-release identifier at offset 6 has a "
                     "leading zero"},
      {"1.2.3-0123.0123", "numeric pre-release identifier at offset 6"},
      {"1.2.3-a.01", "numeric pre-release identifier at offset 8"},
      {"1.1.2+.123", "empty build identifier at offset 6"},
      {"+invalid", "major version at offset 0 must be digits"},
      {"-invalid", "major version at offset 0 must be digits"},
      {"-invalid+invalid", "major version at offset 0"},
      {"alpha", "major version at offset 0"},
      {"alpha.beta.1", "major version at offset 0"},
      {"1.0.0-alpha_beta", "invalid character \"_\" at offset 11 in "
                           "pre-release"},
      {"1.0.0-alpha..", "empty pre-release identifier at offset 12"},
      {"1.0.0-alpha..1", "empty pre-release identifier at offset 12"},
      {"1.0.0-alpha...1", "empty pre-release identifier at offset 12"},
      {"1.2.3.DEV", "unexpected \".\" at offset 5 (expected \"-\", \"+\" or "
                    "the end)"},
      {"1.2-SNAPSHOT", "expected \".\" and the patch version at offset 3"},
      {"1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
       "unexpected \".\" at offset 6"},
      {"1.2-RC-SNAPSHOT", "patch version"},
      {"-1.0.3-gamma+b7718", "major version at offset 0"},
      {"+justmeta", "major version at offset 0"},
      {"9.8.7+meta+meta", "invalid character \"+\" at offset 10 in build"},
      {"9.8.7-whatever+meta+meta", "invalid character \"+\" at offset 19 in "
                                   "build"},
      {"01.1.1", "major version at offset 0 has a leading zero"},
      {"1.01.1", "minor version at offset 2 has a leading zero"},
      {"1.1.01", "patch version at offset 4 has a leading zero"},
      {"1.2.3-", "empty pre-release identifier at offset 6"},
      {"1.2.3+", "empty build identifier at offset 6"},
      {"1.2.3-+b", "empty pre-release identifier at offset 6"},
      {"1.2.3-a$", "invalid character \"$\" at offset 7 in pre-release"},
      {"v1.2.3", "major version at offset 0 must be digits"},
      {" 1.2.3", "major version at offset 0"},
      {"1.2.3 ", "unexpected \" \" at offset 5"},
      {"1.2.3-a b", "invalid character \" \" at offset 7 in pre-release"},
      {NULL, NULL}};
  (void)state;
  expect_good(oci_check_semver, good);
  expect_bad(oci_check_semver, bad);
}

static int cmp(const char *a, const char *b) {
  return oci_semver_compare(a, strlen(a), b, strlen(b));
}

static void test_semver_compare(void **state) {
  /* ascending, from SemVer 2.0.0 section 11 plus numeric edge cases */
  static const char *const order[] = {
      "not a version", /* invalid ones sort first */
      "0.0.0",
      "0.9.0",
      "0.10.0",
      "1.0.0-0",
      "1.0.0-2",
      "1.0.0-10",
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
      "2.0.0",
      "2.1.0",
      "2.1.1",
      "9.0.0",
      "10.0.0",
      "99999999999999999999.0.0"};
  size_t n = sizeof order / sizeof order[0], i, j;
  (void)state;
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) {
      int r = cmp(order[i], order[j]);
      if ((i < j && r != -1) || (i == j && r != 0) || (i > j && r != 1))
        fail_msg("compare(%s, %s) = %d", order[i], order[j], r);
    }
  assert_int_equal(cmp("1.0.0+a", "1.0.0+b"), 0); /* build is ignored */
  assert_int_equal(cmp("1.0.0-rc.1+x", "1.0.0-rc.1"), 0);
  assert_int_equal(cmp("1.0.0-a", "1.0.0-B"), 1); /* ASCII: 'B' < 'a' */
  assert_int_equal(cmp("1.0.0-alpha", "1.0.0-alpha0"), -1);
  assert_int_equal(cmp("01.0.0", "1.0.0"), -1); /* invalid first */
  assert_int_equal(cmp("a", "b"), -1);          /* two invalid: bytes */
  assert_int_equal(cmp("b", "a"), 1);
  assert_int_equal(cmp("", ""), 0);
  assert_int_equal(cmp("1.0.2-dev", "1.0.2"), -1); /* R-FT-2 style */
}

/* ---------------------------------------------------------------- */

static void test_repository_name(void **state) {
  static const char *const good[] = {"a",
                                     "0",
                                     "library/busybox",
                                     "foo/bar_baz",
                                     "a__b",
                                     "a-b",
                                     "a---b",
                                     "a.b",
                                     "a/b/c/d",
                                     "foo.bar/baz-qux__quux",
                                     "x9",
                                     "test.example.com/my-app",
                                     NULL};
  static const bad_case bad[] = {
      {"", "is empty"},
      {"A", "invalid character \"A\" at offset 0, uppercase is not allowed"},
      {"a/B", "invalid character \"B\" at offset 2, uppercase"},
      {"-a", "separator \"-\" at offset 0 must stand between"},
      {"a-", "separator \"-\" at offset 1"},
      {"a/", "separator \"/\" at offset 1"},
      {"/a", "separator \"/\" at offset 0"},
      {"a//b", "separator \"/\" at offset 2"},
      {"a___b", "separator \"_\" at offset 3"},
      {"a._b", "separator \"_\" at offset 2"},
      {"a..b", "separator \".\" at offset 2"},
      {"a-.b", "separator \".\" at offset 2"},
      {"a:b", "invalid character \":\" at offset 1 ("},
      {"a b", "invalid character \" \" at offset 1"},
      {"a@b", "invalid character \"@\" at offset 1"},
      {"caf\xc3\xa9", "invalid character \"\\xc3\" at offset 3"},
      {NULL, NULL}};
  (void)state;
  expect_good(oci_check_repository_name, good);
  expect_bad(oci_check_repository_name, bad);
}

static void test_tag(void **state) {
  static const char *const good[] = {"latest",  "_",     "v1.0.0", "A",
                                     "a-b_c.d", "_a",    "0",      "1.0-",
                                     "x..y",    "UPPER", NULL};
  static const bad_case bad[] = {
      {"", "is empty"},
      {".a", "must start with a letter, digit or \"_\", got \".\""},
      {"-a", "must start with a letter, digit or \"_\", got \"-\""},
      {"a:b", "invalid character \":\" at offset 1"},
      {"a/b", "invalid character \"/\" at offset 1"},
      {"a+b", "invalid character \"+\" at offset 1"},
      {"t\xc3\xa4g", "invalid character \"\\xc3\" at offset 1"},
      {NULL, NULL}};
  char s[200];
  (void)state;
  expect_good(oci_check_tag, good);
  expect_bad(oci_check_tag, bad);
  expect_good_len(oci_check_tag, repeat(s, 'a', 128), 128);
  expect_bad_len(oci_check_tag, repeat(s, 'a', 129), 129,
                 "is 129 characters, at most 128 allowed");
}

static void test_registry_host(void **state) {
  static const char *const good[] = {"docker.io",
                                     "localhost",
                                     "localhost:5000",
                                     "a",
                                     "a-b.c",
                                     "xn--n3h.com",
                                     "sub-dom1.foo.com",
                                     "test:5000",
                                     "[::1]",
                                     "[::1]:5000",
                                     "[2001:db8::1]:443",
                                     "192.168.0.1:5000",
                                     "EXAMPLE.COM",
                                     "a1-2b",
                                     NULL};
  static const bad_case bad[] = {
      {"", "is empty"},
      {"-a.com", "host component at offset 0 must not start or end with "
                 "\"-\""},
      {"a-.com", "host component at offset 0 must not start or end"},
      {"a.-b", "host component at offset 2"},
      {"a..b", "empty host component at offset 2"},
      {"a.", "empty host component at offset 2"},
      {".a", "empty host component at offset 0"},
      {":5000", "empty host component at offset 0"},
      {"a_b.com", "invalid character \"_\" at offset 1"},
      {"_a", "invalid character \"_\" at offset 0"},
      {"a:", "port after \":\" at offset 1 must be digits"},
      {"a:50x", "port after \":\" at offset 1 must be digits"},
      {"a:5000:1", "port after \":\" at offset 1"},
      {"[::1", "\"[\" has no closing \"]\""},
      {"[::g]", "\"::g\" is not an IPv6 address"},
      {"[1.2.3.4]", "\"1.2.3.4\" is not an IPv6 address"},
      {"[]", "\"\" is not an IPv6 address"},
      {"[::1]x", "invalid character \"x\" at offset 5"},
      {"a/b", "invalid character \"/\" at offset 1"},
      {NULL, NULL}};
  (void)state;
  expect_good(oci_check_registry_host, good);
  expect_bad(oci_check_registry_host, bad);
}

/* IPv6 forms of RFC 4291 2.2 through the registry host (brackets). */
static void test_ipv6(void **state) {
  static const char *const good[] = {
      "[::]",
      "[1::]",
      "[1:2:3:4:5:6:7:8]",
      "[1:2:3:4:5:6:7::]",
      "[::2:3:4:5:6:7:8]",
      "[1::8]",
      "[FEDC:BA98:7654:3210:FEDC:BA98:7654:3210]",
      "[::ffff:192.0.2.128]",
      "[::13.1.68.3]",
      "[1:2:3:4:5:6:1.2.3.4]",
      "[fe80::1:2]",
      NULL};
  static const bad_case bad[] = {{"[1:2:3:4:5:6:7]", "not an IPv6"},
                                 {"[1:2:3:4:5:6:7:8:9]", "not an IPv6"},
                                 {"[1::2::3]", "not an IPv6"},
                                 {"[:1]", "not an IPv6"},
                                 {"[1:]", "not an IPv6"},
                                 {"[12345::]", "not an IPv6"},
                                 {"[:::]", "not an IPv6"},
                                 {"[1:2:3:4:5:6:7:1.2.3.4]", "not an IPv6"},
                                 {"[::1.2.3.256]", "not an IPv6"},
                                 {"[::1.2.3]", "not an IPv6"},
                                 {"[::01.2.3.4]", "not an IPv6"},
                                 {"[::1.2.3.4.5]", "not an IPv6"},
                                 {"[::1.2.3.4:5]", "not an IPv6"},
                                 {NULL, NULL}};
  (void)state;
  expect_good(oci_check_registry_host, good);
  expect_bad(oci_check_registry_host, bad);
}

static void test_ref_name(void **state) {
  static const char *const good[] = {"stable-release",
                                     "v1.0",
                                     "1.0",
                                     "a--b",
                                     "a:b@c+d",
                                     "foo/bar",
                                     "Foo.Bar/Baz_1",
                                     "a-b.c_d:e@f+g",
                                     "example.com/app:1.0",
                                     NULL};
  static const bad_case bad[] = {{"", "is empty"},
                                 {"a---b", "separator \"-\" at offset 3"},
                                 {"-a", "separator \"-\" at offset 0"},
                                 {"a-", "separator \"-\" at offset 1"},
                                 {"a/", "separator \"/\" at offset 1"},
                                 {"a//b", "separator \"/\" at offset 2"},
                                 {"a.-b", "separator \"-\" at offset 2"},
                                 {"a__b", "separator \"_\" at offset 2"},
                                 {"a b", "invalid character \" \" at offset 1"},
                                 {"a!b", "invalid character \"!\" at offset 1"},
                                 {NULL, NULL}};
  (void)state;
  expect_good(oci_check_ref_name_annotation, good);
  expect_bad(oci_check_ref_name_annotation, bad);
}

/* ---------------------------------------------------------------- */

static void test_error_code(void **state) {
  static const char *const good[] = {"BLOB_UNKNOWN", "_", "TAG_INVALID", "X",
                                     NULL};
  static const bad_case bad[] = {
      {"", "is empty"},
      {"blob_unknown", "invalid character \"b\" at offset 0"},
      {"BLOB-UNKNOWN", "invalid character \"-\" at offset 4 (only A-Z and "
                       "\"_\" are allowed)"},
      {"BLOB1", "invalid character \"1\" at offset 4"},
      {NULL, NULL}};
  /* distribution/grammar.json error_codes, spec.md:887-900 order */
  static const char *const spec[OCI_ERROR_CODE_COUNT] = {
      "BLOB_UNKNOWN",     "BLOB_UPLOAD_INVALID",   "BLOB_UPLOAD_UNKNOWN",
      "DIGEST_INVALID",   "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID",
      "MANIFEST_UNKNOWN", "NAME_INVALID",          "NAME_UNKNOWN",
      "SIZE_INVALID",     "UNAUTHORIZED",          "DENIED",
      "UNSUPPORTED",      "TOOMANYREQUESTS"};
  size_t k;
  (void)state;
  expect_good(oci_check_error_code, good);
  expect_bad(oci_check_error_code, bad);
  for (k = 0; k < OCI_ERROR_CODE_COUNT; k++) {
    assert_string_equal(oci_error_codes[k], spec[k]);
    assert_true(oci_error_code_is_known(spec[k], strlen(spec[k])));
    assert_int_equal(oci_check_error_code(spec[k], strlen(spec[k]), NULL), 0);
  }
  assert_false(oci_error_code_is_known("TAG_INVALID", 11)); /* legacy */
  assert_false(oci_error_code_is_known("TOO_MANY_REQUESTS", 17));
  assert_false(oci_error_code_is_known("BLOB_UNKNOW", 11));
  assert_false(oci_error_code_is_known("BLOB_UNKNOWNX", 13));
  assert_false(oci_error_code_is_known("", 0));
  assert_true(oci_error_code_is_known("DENIED!", 6)); /* length-bounded */
}

static void test_env_entry(void **state) {
  static const char *const good[] = {
      "A=b",    "A=",    "PATH=/usr/bin:/bin", "A==b",
      "A=b\nc", "A B=c", "\xc3\xa9=1",         NULL};
  static const bad_case bad[] = {
      {"", "missing \"=\" (expected VARNAME=VARVALUE)"},
      {"foo", "missing \"=\""},
      {"=foo", "variable name before \"=\" is empty"},
      {"=", "variable name before \"=\" is empty"},
      {NULL, NULL}};
  (void)state;
  expect_good(oci_check_env_entry, good);
  expect_bad(oci_check_env_entry, bad);
  expect_bad_len(oci_check_env_entry, "A=b\0c", 5, "NUL byte at offset 3");
  expect_bad_len(oci_check_env_entry, "A\0=c", 4, "NUL byte at offset 1");
}

static void test_absolute_path(void **state) {
  static const char *const good[] = {"/", "/a/b", "/a/../b", "//x", NULL};
  static const bad_case bad[] = {{"", "must be absolute (start with \"/\")"},
                                 {"a/b", "must be absolute"},
                                 {"./a", "must be absolute"},
                                 {" /a", "must be absolute"},
                                 {NULL, NULL}};
  (void)state;
  expect_good(oci_check_absolute_path, good);
  expect_bad(oci_check_absolute_path, bad);
  expect_bad_len(oci_check_absolute_path, "/a\0b", 4, "NUL byte at offset 2");
}

/* Messages stay one line and bounded whatever the input. */
static void test_long_hostile_input(void **state) {
  char s[5000];
  oci_error err;
  (void)state;
  repeat(s, '\n', sizeof s - 1);
  oci_error_clear(&err);
  assert_int_equal(oci_check_tag(s, sizeof s - 1, &err), OCI_EINVAL);
  assert_null(strchr(err.message, '\n'));
  assert_true(strlen(err.message) < OCI_ERROR_MESSAGE_MAX);
  assert_non_null(strstr(err.message, "\\x0a\\x0a"));
  assert_non_null(strstr(err.message, "...\": must start"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quote),
      cmocka_unit_test(test_media_type),
      cmocka_unit_test(test_base64),
      cmocka_unit_test(test_base64_decode),
      cmocka_unit_test(test_uri),
      cmocka_unit_test(test_rfc3339),
      cmocka_unit_test(test_semver),
      cmocka_unit_test(test_semver_compare),
      cmocka_unit_test(test_repository_name),
      cmocka_unit_test(test_tag),
      cmocka_unit_test(test_registry_host),
      cmocka_unit_test(test_ipv6),
      cmocka_unit_test(test_ref_name),
      cmocka_unit_test(test_error_code),
      cmocka_unit_test(test_env_entry),
      cmocka_unit_test(test_absolute_path),
      cmocka_unit_test(test_long_hostile_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
