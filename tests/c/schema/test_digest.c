/* Unit tests for csrc/schema/digest_parse.c: image-spec digest grammar
   (I-DIG-1), registered algorithms (I-DIG-2..5) and the referrers tag
   (D-RTAG-1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdio.h>
#include <string.h>

#include "ocispec/digest.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA256_EMPTY                                                           \
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA512_HEX                                                             \
  "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d" \
  "85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"

typedef struct good_case {
  const char *in;
  const char *algorithm;
  oci_digest_alg alg;
} good_case;

typedef struct bad_case {
  const char *in;
  const char *why;
} bad_case;

static void test_good(void **state) {
  static const good_case good[] = {
      {SHA256_EMPTY, "sha256", OCI_DIGEST_SHA256},
      {"sha512:" SHA512_HEX, "sha512", OCI_DIGEST_SHA512},
      {"blake3:" HEX64, "blake3", OCI_DIGEST_BLAKE3},
      /* unregistered algorithms pass on the grammar alone (I-DIG-5) */
      {"foo:bar", "foo", OCI_DIGEST_OTHER},
      {"xxhash:42", "xxhash", OCI_DIGEST_OTHER},
      {"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
       "multihash+base58", OCI_DIGEST_OTHER},
      {"a.b+c_d-e:AZaz09=_-", "a.b+c_d-e", OCI_DIGEST_OTHER},
      {"sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", "sha256+b64u",
       OCI_DIGEST_OTHER},
      {"sha384:x", "sha384", OCI_DIGEST_OTHER}, /* not registered here */
      {"sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1",
       OCI_DIGEST_OTHER},
      {"0:0", "0", OCI_DIGEST_OTHER}, /* shortest */
  };
  size_t k;
  (void)state;
  for (k = 0; k < sizeof good / sizeof good[0]; k++) {
    oci_digest_view v;
    oci_error err;
    const char *colon = strchr(good[k].in, ':');
    oci_error_clear(&err);
    if (oci_digest_parse(good[k].in, strlen(good[k].in), &v, &err) != 0)
      fail_msg("expected %s to pass: %s", good[k].in, err.message);
    assert_int_equal(v.alg, good[k].alg);
    assert_int_equal(v.algorithm_len, strlen(good[k].algorithm));
    assert_memory_equal(v.algorithm, good[k].algorithm, v.algorithm_len);
    assert_ptr_equal(v.algorithm, good[k].in); /* views, no copies */
    assert_ptr_equal(v.encoded, colon + 1);
    assert_int_equal(v.encoded_len, strlen(colon + 1));
    /* out may be NULL */
    assert_int_equal(
        oci_digest_parse(good[k].in, strlen(good[k].in), NULL, NULL), 0);
  }
}

static void expect_bad_len(const char *s, size_t len, const char *why) {
  oci_error err;
  oci_digest_view v;
  int rc;
  oci_error_clear(&err);
  rc = oci_digest_parse(s, len, &v, &err);
  if (rc != OCI_EINVAL)
    fail_msg("expected \"%s\" to fail with OCI_EINVAL, got %d", s, rc);
  assert_int_equal(err.code, OCI_EINVAL);
  if (!strstr(err.message, why))
    fail_msg("message for \"%s\" lacks \"%s\": %s", s, why, err.message);
  assert_int_equal(oci_digest_parse(s, len, NULL, NULL), OCI_EINVAL);
}

static void test_bad(void **state) {
  static const bad_case bad[] = {
      /* the invalid list of oci-spec-rs digest.rs */
      {"", "digest \"\": is empty"},
      {"foo", "missing \":\" between algorithm and encoded part"},
      {":", "algorithm before \":\" is empty"},
      {"blah+", "missing \":\""},
      {"_digest:somevalue", "empty algorithm component at separator \"_\", "
                            "offset 0"},
      {":blah", "algorithm before \":\" is empty"},
      {"blah:", "encoded part after \":\" is empty"},
      {"FooBar:123abc", "invalid character \"F\" at offset 0 in algorithm, "
                        "uppercase is not allowed"},
      {"^:foo", "invalid character \"^\" at offset 0 in algorithm"},
      {"bar^baz:blah", "invalid character \"^\" at offset 3 in algorithm"},
      {"sha256:123456*78", "invalid character \"*\" at offset 13 in encoded "
                           "part"},
      {"sha256:0123456789abcdef0123456789abzdef0123456789abcdef0123456789abcd"
       "ef",
       "non-hex character \"z\" at offset 35 in encoded part (sha256 needs "
       "a-f 0-9)"},
      {"sha512:" HEX64, "encoded part must be 128 lowercase hex characters "
                        "for sha512, got 64"},
      /* the brief's example, exactly */
      {"sha256:ABC", "digest \"sha256:ABC\": encoded part must be 64 "
                     "lowercase hex characters for sha256, got 3"},
      {"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B"
       "855",
       "uppercase hex \"E\" at offset 7 is not allowed for sha256"},
      {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
       "B855",
       "uppercase hex \"B\" at offset 67"},
      /* bad/descriptor/027: doubled separator */
      {"sha256+foo+-b:x", "empty algorithm component at separator \"-\", "
                          "offset 11"},
      {"sha256+:x", "empty algorithm component at separator \"+\", offset 6"},
      {"a..b:c", "empty algorithm component at separator \".\", offset 2"},
      {"../blah:this-is-an-attack", "empty algorithm component at separator "
                                    "\".\", offset 0"},
      /* split at the FIRST ":" */
      {"sha256:abc:def", "invalid character \":\" at offset 10 in encoded"},
      {"foo:bar:baz", "invalid character \":\" at offset 7 in encoded"},
      {"sha256: abc", "invalid character \" \" at offset 7 in encoded"},
      {"sha256:ab/cd", "invalid character \"/\" at offset 9 in encoded"},
      {"sha256:ab+cd", "invalid character \"+\" at offset 9 in encoded"},
      {"SHA256:" HEX64, "invalid character \"S\" at offset 0 in algorithm, "
                        "uppercase"},
      {"sha 256:x", "invalid character \" \" at offset 3 in algorithm"},
      {"sha256:" HEX64 "0", "for sha256, got 65"},
      {"blake3:" HEX64 HEX64, "64 lowercase hex characters for blake3, got "
                              "128"},
      {"blake3:" HEX64 "\n", "invalid character \"\\x0a\" at offset 71"},
      {"sha512:" SHA512_HEX "0", "for sha512, got 129"},
      {NULL, NULL}};
  const bad_case *b;
  char s[200];
  (void)state;
  for (b = bad; b->in; b++)
    expect_bad_len(b->in, strlen(b->in), b->why);
  /* 63 hex, and a NUL inside */
  snprintf(s, sizeof s, "sha256:%.63s", HEX64);
  expect_bad_len(s, strlen(s), "for sha256, got 63");
  expect_bad_len("sha256:a\0b", 10, "invalid character \"\\x00\" at offset 8");
}

static void test_algorithms(void **state) {
  (void)state;
  assert_string_equal(oci_digest_alg_name(OCI_DIGEST_SHA256), "sha256");
  assert_string_equal(oci_digest_alg_name(OCI_DIGEST_SHA512), "sha512");
  assert_string_equal(oci_digest_alg_name(OCI_DIGEST_BLAKE3), "blake3");
  assert_null(oci_digest_alg_name(OCI_DIGEST_OTHER));
  assert_int_equal(oci_digest_hex_len(OCI_DIGEST_SHA256), 64);
  assert_int_equal(oci_digest_hex_len(OCI_DIGEST_SHA512), 128);
  assert_int_equal(oci_digest_hex_len(OCI_DIGEST_BLAKE3), 64);
  assert_int_equal(oci_digest_hex_len(OCI_DIGEST_OTHER), 0);
  assert_int_equal(oci_digest_alg_from_name("sha256", 6), OCI_DIGEST_SHA256);
  assert_int_equal(oci_digest_alg_from_name("sha512", 6), OCI_DIGEST_SHA512);
  assert_int_equal(oci_digest_alg_from_name("blake3", 6), OCI_DIGEST_BLAKE3);
  assert_int_equal(oci_digest_alg_from_name("sha384", 6), OCI_DIGEST_OTHER);
  assert_int_equal(oci_digest_alg_from_name("sha2567", 6), OCI_DIGEST_SHA256);
  assert_int_equal(oci_digest_alg_from_name("sha25", 5), OCI_DIGEST_OTHER);
  assert_int_equal(oci_digest_alg_from_name("SHA256", 6), OCI_DIGEST_OTHER);
}

/* distribution/grammar.json referrers_tag_schema.vectors (spec.md:797-799) */
static void test_referrers_tag(void **state) {
  static const struct {
    const char *digest, *tag;
  } vectors[] = {
      {"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "a",
       "sha256-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "a"},
      {"sha512:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       "sha512-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "a"},
      {"test+algorithm+using+algorithm+separators+and+lots+of+characters+to+"
       "excercise+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphen"
       "ReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation",
       "test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHy"
       "phenReplacementAndLotsAndLot"},
  };
  char out[OCI_DIGEST_REFERRERS_TAG_MAX + 1];
  oci_error err;
  size_t k;
  (void)state;
  for (k = 0; k < sizeof vectors / sizeof vectors[0]; k++) {
    oci_error_clear(&err);
    if (oci_digest_referrers_tag(vectors[k].digest, out, sizeof out, &err))
      fail_msg("%s: %s", vectors[k].digest, err.message);
    assert_string_equal(out, vectors[k].tag);
  }
  /* the longest tag fills the documented maximum exactly */
  assert_int_equal(strlen(out), OCI_DIGEST_REFERRERS_TAG_MAX);
  /* exactly big enough, then one byte short */
  assert_int_equal(oci_digest_referrers_tag(SHA256_EMPTY, out, 72, &err), 0);
  assert_string_equal(out, "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e46"
                           "49b934ca495991b7852b855");
  oci_error_clear(&err);
  assert_int_equal(oci_digest_referrers_tag(SHA256_EMPTY, out, 71, &err),
                   OCI_ETOOBIG);
  assert_string_equal(out, "");
  assert_non_null(strstr(err.message, "needs a buffer of 72 bytes, got 71"));
  assert_int_equal(oci_digest_referrers_tag(SHA256_EMPTY, out, 0, NULL),
                   OCI_ETOOBIG);
  /* a bad digest */
  oci_error_clear(&err);
  assert_int_equal(
      oci_digest_referrers_tag("sha256:abc", out, sizeof out, &err),
      OCI_EINVAL);
  assert_non_null(strstr(err.message, "for sha256, got 3"));
  /* "_" and "." survive; "=" does not */
  assert_int_equal(
      oci_digest_referrers_tag("a.b_c:x=_-y", out, sizeof out, NULL), 0);
  assert_string_equal(out, "a.b_c-x-_-y");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good),
      cmocka_unit_test(test_bad),
      cmocka_unit_test(test_algorithms),
      cmocka_unit_test(test_referrers_tag),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
