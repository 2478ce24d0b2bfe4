/* Unit tests for csrc/schema/sha2.c, the core's own SHA-256 and SHA-512
   (validate's I-DESC-10 check needs no libcrypto). Oracles: the expected
   digests were computed with Python's hashlib (FIPS 180-4's examples, one
   million 'a', and a chain over every length 0..300, which crosses each
   padding boundary of both block sizes); with the image component built,
   every length 0..1000 is also compared with OpenSSL (oci_hash_buffer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocispec/config.h"
#include "schema/sha2.h"
#ifdef OCI_WITH_IMAGE
#include "ocispec/hash.h"
#endif

static void hex(const unsigned char *h, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[h[i] >> 4];
    out[2 * i + 1] = digits[h[i] & 15];
  }
  out[2 * n] = '\0';
}

static void sha256_hex(const void *buf, size_t n, char out[65]) {
  unsigned char h[OCI_SHA256_LEN];
  oci_sha256(buf, n, h);
  hex(h, sizeof h, out);
}

static void sha512_hex(const void *buf, size_t n, char out[129]) {
  unsigned char h[OCI_SHA512_LEN];
  oci_sha512(buf, n, h);
  hex(h, sizeof h, out);
}

typedef struct vector {
  const char *msg;
  const char *sha256, *sha512;
} vector;

static void test_known_answers(void **state) {
  (void)state;
  static const vector v[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
       "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
      {"abc",
       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
       "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
       "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
       "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
       "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"},
      {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
       "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
       "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"},
  };
  char a[65], b[129];
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    sha256_hex(v[i].msg, strlen(v[i].msg), a);
    assert_string_equal(a, v[i].sha256);
    sha512_hex(v[i].msg, strlen(v[i].msg), b);
    assert_string_equal(b, v[i].sha512);
  }
}

static void test_million_a(void **state) {
  (void)state;
  size_t n = 1000000;
  char *m = malloc(n), a[65], b[129];
  assert_non_null(m);
  memset(m, 'a', n);
  sha256_hex(m, n, a);
  assert_string_equal(
      a, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  sha512_hex(m, n, b);
  assert_string_equal(
      b, "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
         "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
  free(m);
}

/* Message i of the chain: bytes (7 j + i) mod 256, j < i. */
static void chain_msg(unsigned char *m, size_t i) {
  for (size_t j = 0; j < i; j++)
    m[j] = (unsigned char)((j * 7 + i) & 0xff);
}

/* The hex digests of messages 0..300 joined by "\n", hashed with SHA-256:
   python3 -c 'import hashlib; print(hashlib.sha256("\n".join(
     hashlib.new(A, bytes((j*7+i)&255 for j in range(i))).hexdigest()
     for i in range(301)).encode()).hexdigest())' */
static void chain(int sha512, const char *want) {
  size_t hexlen = sha512 ? 128 : 64, cap = 301 * (hexlen + 1);
  char *all = malloc(cap), d[129], top[65];
  unsigned char m[300];
  size_t len = 0;
  assert_non_null(all);
  for (size_t i = 0; i <= 300; i++) {
    chain_msg(m, i);
    if (sha512)
      sha512_hex(m, i, d);
    else
      sha256_hex(m, i, d);
    if (i) all[len++] = '\n';
    memcpy(all + len, d, hexlen);
    len += hexlen;
  }
  sha256_hex(all, len, top);
  assert_string_equal(top, want);
  free(all);
}

static void test_every_padding_length(void **state) {
  (void)state;
  chain(0, "4faa05faacd479ce81df656384247653d5cf6f2a2aaff7ea9f784ac86605659d");
  chain(1, "111f9a3e4afe0063d0aa2861b8894a7824bcd70c1f63df5d77b2d5b1763a9c05");
}

/* (only with the image component: a core-only build has no OpenSSL) */
#ifdef OCI_WITH_IMAGE
static void test_same_as_openssl(void **state) {
  (void)state;
  unsigned char m[1000];
  char ours[129], want[OCI_DIGEST_STRING_MAX];
  oci_error err;
  for (size_t i = 0; i <= sizeof m; i++) {
    chain_msg(m, i);
    sha256_hex(m, i, ours);
    assert_int_equal(oci_hash_buffer(OCI_DIGEST_SHA256, m, i, want, &err), 0);
    assert_string_equal(want + 7, ours);
    sha512_hex(m, i, ours);
    assert_int_equal(oci_hash_buffer(OCI_DIGEST_SHA512, m, i, want, &err), 0);
    assert_string_equal(want + 7, ours);
  }
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_answers),
      cmocka_unit_test(test_million_a),
      cmocka_unit_test(test_every_padding_length),
#ifdef OCI_WITH_IMAGE
      cmocka_unit_test(test_same_as_openssl),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
