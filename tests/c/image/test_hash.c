/* Unit tests for csrc/image/hash.c: sha256/sha512 of buffers, streams, files
   and file descriptors against the FIPS 180-2 vectors and coreutils'
   sha256sum/sha512sum, and every error (missing file, directory,
   unsupported algorithm, malformed digest, mismatch). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include "../skip.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocispec/hash.h"

#define ABC448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
#define ABC896                                                                 \
  "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjk" \
  "lmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"

#define SHA256_EMPTY                                                           \
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC                                                             \
  "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA512_EMPTY                                                           \
  "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d" \
  "0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
#define SHA512_ABC                                                             \
  "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a219" \
  "2992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"

typedef struct vector {
  oci_digest_alg alg;
  const char *in;
  size_t repeat; /* the input repeated this many times (0 = once) */
  const char *digest;
} vector;

/* FIPS 180-2 appendix B/C, and the empty string. */
static const vector vectors[] = {
    {OCI_DIGEST_SHA256, "", 0, SHA256_EMPTY},
    {OCI_DIGEST_SHA256, "abc", 0, SHA256_ABC},
    {OCI_DIGEST_SHA256, ABC448, 0,
     "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {OCI_DIGEST_SHA256, "a", 1000000,
     "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    {OCI_DIGEST_SHA512, "", 0, SHA512_EMPTY},
    {OCI_DIGEST_SHA512, "abc", 0, SHA512_ABC},
    {OCI_DIGEST_SHA512, ABC448, 0,
     "sha512:204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
     "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"},
    {OCI_DIGEST_SHA512, ABC896, 0,
     "sha512:8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
     "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"},
    {OCI_DIGEST_SHA512, "a", 1000000,
     "sha512:e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
     "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"},
};

static void test_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    const vector *v = &vectors[i];
    char out[OCI_DIGEST_STRING_MAX];
    oci_error err;
    size_t n = strlen(v->in), times = v->repeat ? v->repeat : 1;
    /* one-shot over the whole input */
    char *buf = malloc(n * times + 1);
    assert_non_null(buf);
    for (size_t k = 0; k < times; k++)
      memcpy(buf + k * n, v->in, n);
    oci_error_clear(&err);
    assert_int_equal(oci_hash_buffer(v->alg, buf, n * times, out, &err), 0);
    assert_string_equal(out, v->digest);
    assert_int_equal(strlen(out), 7 + oci_digest_hex_len(v->alg));
    assert_int_equal(oci_digest_verify_buffer(v->digest, buf, n * times, &err),
                     OCI_OK);
    free(buf);
    /* streamed, one repetition per update */
    oci_hasher *h;
    assert_int_equal(oci_hasher_new(v->alg, &h, &err), 0);
    assert_int_equal(oci_hasher_alg(h), v->alg);
    for (size_t k = 0; k < times; k++)
      assert_int_equal(oci_hasher_update(h, v->in, n, &err), 0);
    assert_int_equal(oci_hasher_size(h), n * times);
    assert_int_equal(oci_hasher_finish(h, out, &err), 0);
    assert_string_equal(out, v->digest);
    oci_hasher_free(h);
  }
  /* a NULL buffer of length 0 is the empty string */
  char out[OCI_DIGEST_STRING_MAX];
  assert_int_equal(oci_hash_buffer(OCI_DIGEST_SHA256, NULL, 0, out, NULL), 0);
  assert_string_equal(out, SHA256_EMPTY);
  oci_hasher_free(NULL);
}

/* Deterministic pseudo-random bytes. */
static void fill(unsigned char *p, size_t n, uint32_t seed) {
  uint32_t x = seed ? seed : 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (unsigned char)x;
  }
}

static void test_chunks(void **state) {
  (void)state;
  static const size_t chunks[] = {1,   7,   63,  64,   65,   127,  128,
                                  129, 255, 997, 4093, 4096, 65537};
  size_t len = (1u << 20) + 12345;
  unsigned char *buf = malloc(len);
  assert_non_null(buf);
  fill(buf, len, 42);
  static const oci_digest_alg algs[] = {OCI_DIGEST_SHA256, OCI_DIGEST_SHA512};
  for (size_t a = 0; a < 2; a++) {
    char whole[OCI_DIGEST_STRING_MAX], part[OCI_DIGEST_STRING_MAX];
    assert_int_equal(oci_hash_buffer(algs[a], buf, len, whole, NULL), 0);
    oci_hasher *h;
    assert_int_equal(oci_hasher_new(algs[a], &h, NULL), 0);
    /* the same hasher for every round: finish resets it */
    for (size_t round = 0; round < 3; round++) {
      size_t off = 0, k = round;
      while (off < len) {
        size_t n = chunks[k++ % (sizeof chunks / sizeof chunks[0])];
        if (n > len - off) n = len - off;
        assert_int_equal(oci_hasher_update(h, buf + off, n, NULL), 0);
        off += n;
        assert_int_equal(oci_hasher_size(h), off);
      }
      assert_int_equal(oci_hasher_update(h, NULL, 0, NULL), 0); /* no-op */
      assert_int_equal(oci_hasher_finish(h, part, NULL), 0);
      assert_string_equal(part, whole);
      assert_int_equal(oci_hasher_size(h), 0);
    }
    oci_hasher_free(h);
  }
  free(buf);
}

static void test_reuse(void **state) {
  (void)state;
  oci_hasher *h;
  char out[OCI_DIGEST_STRING_MAX];
  assert_int_equal(oci_hasher_new(OCI_DIGEST_SHA512, &h, NULL), 0);
  assert_int_equal(oci_hasher_finish(h, out, NULL), 0);
  assert_string_equal(out, SHA512_EMPTY);
  assert_int_equal(oci_hasher_update(h, "ab", 2, NULL), 0);
  assert_int_equal(oci_hasher_update(h, "c", 1, NULL), 0);
  assert_int_equal(oci_hasher_size(h), 3);
  assert_int_equal(oci_hasher_finish(h, out, NULL), 0);
  assert_string_equal(out, SHA512_ABC);
  assert_int_equal(oci_hasher_finish(h, out, NULL), 0); /* empty again */
  assert_string_equal(out, SHA512_EMPTY);
  oci_hasher_free(h);
}

/* A private folder for files, removed by the teardown. */
static char tmpdir[64];

static int setup_dir(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ocispec-test-hash-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const unsigned char *p, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

/* "alg:" + the first word `tool path` prints, or 0 when it cannot run. */
static int tool_digest(const char *tool, const char *alg, const char *path,
                       char out[OCI_DIGEST_STRING_MAX]) {
  char cmd[512], line[256];
  snprintf(cmd, sizeof cmd, "%s '%s' 2>/dev/null", tool, path);
  FILE *p = popen(cmd, "r");
  if (!p) return 0;
  int ok = fgets(line, sizeof line, p) != NULL;
  if (pclose(p) != 0 || !ok) return 0;
  line[strcspn(line, " \n")] = '\0';
  snprintf(out, OCI_DIGEST_STRING_MAX, "%.6s:%.128s", alg, line);
  return 1;
}

static void check_file_against_tools(const char *path, uint64_t want_size) {
  static const struct {
    oci_digest_alg alg;
    const char *tool;
  } tools[] = {{OCI_DIGEST_SHA256, "sha256sum"},
               {OCI_DIGEST_SHA512, "sha512sum"}};
  for (size_t t = 0; t < 2; t++) {
    const char *name = oci_digest_alg_name(tools[t].alg);
    char want[OCI_DIGEST_STRING_MAX], got[OCI_DIGEST_STRING_MAX];
    uint64_t size = 12345;
    oci_error err;
    oci_error_clear(&err);
    if (!tool_digest(tools[t].tool, name, path, want)) {
      print_message("%s not available: not compared\n", tools[t].tool);
      continue;
    }
    assert_int_equal(oci_hash_file(tools[t].alg, path, got, &size, &err), 0);
    assert_string_equal(got, want);
    assert_int_equal(size, want_size);
    assert_int_equal(oci_digest_verify_file(want, path, &err), OCI_OK);
    /* the fd variant, and the _ex verifier's outputs */
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    size = 0;
    assert_int_equal(oci_hash_fd(tools[t].alg, fd, path, got, &size, &err), 0);
    close(fd);
    assert_string_equal(got, want);
    assert_int_equal(size, want_size);
    size = 0;
    assert_int_equal(oci_digest_verify_file_ex(want, path, got, &size, &err),
                     OCI_OK);
    assert_string_equal(got, want);
    assert_int_equal(size, want_size);
  }
}

static void test_files(void **state) {
  (void)state;
  /* a generated 3 MiB + 1 file (not a multiple of the read block) */
  size_t len = (3u << 20) + 1;
  unsigned char *buf = malloc(len);
  assert_non_null(buf);
  fill(buf, len, 7);
  char path[128];
  snprintf(path, sizeof path, "%s/blob", tmpdir);
  write_file(path, buf, len);
  check_file_against_tools(path, len);
  /* and equal to hashing the bytes in memory */
  char a[OCI_DIGEST_STRING_MAX], b[OCI_DIGEST_STRING_MAX];
  assert_int_equal(oci_hash_buffer(OCI_DIGEST_SHA256, buf, len, a, NULL), 0);
  assert_int_equal(oci_hash_file(OCI_DIGEST_SHA256, path, b, NULL, NULL), 0);
  assert_string_equal(a, b);
  free(buf);
  /* an empty file */
  snprintf(path, sizeof path, "%s/empty", tmpdir);
  write_file(path, (const unsigned char *)"", 0);
  check_file_against_tools(path, 0);
  assert_int_equal(oci_hash_file(OCI_DIGEST_SHA256, path, a, NULL, NULL), 0);
  assert_string_equal(a, SHA256_EMPTY);
}

/* A real binary (busybox-static, installed by scripts/install-deps.sh). */
static void test_file_real_binary(void **state) {
  (void)state;
  struct stat st;
  if (stat("/bin/busybox", &st) != 0)
    SKIP_BECAUSE("/bin/busybox not present (busybox-static)");
  check_file_against_tools("/bin/busybox", (uint64_t)st.st_size);
}

static void test_fd(void **state) {
  (void)state;
  char out[OCI_DIGEST_STRING_MAX];
  uint64_t size = 99;
  oci_error err;
  /* from the current offset of a file */
  char path[128];
  snprintf(path, sizeof path, "%s/xabc", tmpdir);
  write_file(path, (const unsigned char *)"xxabc", 5);
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(lseek(fd, 2, SEEK_SET), 2);
  assert_int_equal(oci_hash_fd(OCI_DIGEST_SHA256, fd, NULL, out, &size, &err),
                   0);
  assert_string_equal(out, SHA256_ABC);
  assert_int_equal(size, 3);
  /* the fd stays open */
  assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
  assert_int_equal(close(fd), 0);
  /* a pipe */
  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_int_equal(write(p[1], "abc", 3), 3);
  close(p[1]);
  assert_int_equal(
      oci_hash_fd(OCI_DIGEST_SHA512, p[0], "pipe", out, &size, &err), 0);
  assert_string_equal(out, SHA512_ABC);
  assert_int_equal(size, 3);
  close(p[0]);
  /* a closed descriptor: named by number when no name is given */
  size = 99;
  oci_error_clear(&err);
  assert_int_equal(oci_hash_fd(OCI_DIGEST_SHA256, p[0], NULL, out, &size, &err),
                   OCI_EIO);
  char want[96];
  snprintf(want, sizeof want, "file descriptor %d: read failed: %s", p[0],
           strerror(EBADF));
  assert_string_equal(err.message, want);
  assert_int_equal(size, 99); /* untouched on failure */
  /* blake3 before any read */
  assert_int_equal(oci_hash_fd(OCI_DIGEST_BLAKE3, 0, NULL, out, NULL, &err),
                   OCI_EUNSUPPORTED);
}

static void test_file_errors(void **state) {
  (void)state;
  char out[OCI_DIGEST_STRING_MAX], path[512], want[1024];
  oci_error err;
  /* missing file */
  snprintf(path, sizeof path, "%s/missing", tmpdir);
  oci_error_clear(&err);
  assert_int_equal(oci_hash_file(OCI_DIGEST_SHA256, path, out, NULL, &err),
                   OCI_EIO);
  snprintf(want, sizeof want, "%s: cannot open: %s", path, strerror(ENOENT));
  assert_string_equal(err.message, want);
  assert_int_equal(oci_digest_verify_file(SHA256_EMPTY, path, &err), OCI_EIO);
  assert_string_equal(err.message, want);
  /* a directory */
  oci_error_clear(&err);
  assert_int_equal(oci_hash_file(OCI_DIGEST_SHA512, tmpdir, out, NULL, &err),
                   OCI_EIO);
  snprintf(want, sizeof want, "%s: cannot hash: %s", tmpdir, strerror(EISDIR));
  assert_string_equal(err.message, want);
  /* a directory through the fd entry point: read's EISDIR */
  int fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
  assert_true(fd >= 0);
  assert_int_equal(oci_hash_fd(OCI_DIGEST_SHA256, fd, "dir", out, NULL, &err),
                   OCI_EIO);
  snprintf(want, sizeof want, "dir: read failed: %s", strerror(EISDIR));
  assert_string_equal(err.message, want);
  close(fd);
  /* a very long path is cut at its start; the reason survives */
  memset(path, 'p', 400);
  path[0] = '/';
  path[400] = '\0';
  assert_int_equal(oci_hash_file(OCI_DIGEST_SHA256, path, out, NULL, &err),
                   OCI_EIO);
  assert_true(strncmp(err.message, "...pppp", 7) == 0);
  assert_non_null(strstr(err.message, ": cannot open: "));
  assert_true(strlen(err.message) < OCI_ERROR_MESSAGE_MAX - 1);
}

static void test_unsupported(void **state) {
  (void)state;
  char out[OCI_DIGEST_STRING_MAX];
  oci_hasher *h = (oci_hasher *)&h;
  oci_error err;
  oci_error_clear(&err);
  assert_int_equal(oci_hasher_new(OCI_DIGEST_BLAKE3, &h, &err),
                   OCI_EUNSUPPORTED);
  assert_null(h);
  assert_string_equal(err.message,
                      "cannot compute blake3 digests: only sha256 and sha512 "
                      "are supported (no blake3 library is available)");
  assert_int_equal(oci_hash_buffer(OCI_DIGEST_BLAKE3, "x", 1, out, &err),
                   OCI_EUNSUPPORTED);
  /* unsupported wins over I/O: the file is not even opened */
  assert_int_equal(
      oci_hash_file(OCI_DIGEST_BLAKE3, "/nonexistent", out, NULL, &err),
      OCI_EUNSUPPORTED);
  assert_int_equal(oci_hasher_new(OCI_DIGEST_OTHER, &h, &err),
                   OCI_EUNSUPPORTED);
  assert_non_null(strstr(err.message, "only sha256 and sha512"));
  /* verifying against such digests */
  assert_int_equal(oci_digest_verify_buffer("blake3:"
                                            "af1349b9f5f9a1a6a0404dea36dcc949"
                                            "9bcb25c9adc112b7cc9a93cae41f3262",
                                            "", 0, &err),
                   OCI_EUNSUPPORTED);
  assert_non_null(strstr(err.message, "blake3"));
  assert_int_equal(oci_digest_verify_buffer("foo:bar", "", 0, &err),
                   OCI_EUNSUPPORTED);
  assert_string_equal(err.message, "cannot compute foo digests: only sha256 "
                                   "and sha512 are supported");
  assert_int_equal(oci_digest_verify_file("xxhash:42", "/nonexistent", &err),
                   OCI_EUNSUPPORTED);
}

static void test_verify(void **state) {
  (void)state;
  oci_error err;
  char got[OCI_DIGEST_STRING_MAX];
  /* malformed digests: the parser's message */
  static const char *const bad[] = {"", "sha256", "sha256:abc",
                                    "SHA256:" SHA256_EMPTY,
                                    "sha256:E3B0C44298FC1C149AFBF4C8996FB924"
                                    "27AE41E4649B934CA495991B7852B855"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    oci_error_clear(&err);
    assert_int_equal(oci_digest_verify_buffer(bad[i], "", 0, &err), OCI_EINVAL);
    assert_non_null(strstr(err.message, "digest \""));
    assert_int_equal(oci_digest_verify_file(bad[i], "/nonexistent", &err),
                     OCI_EINVAL);
  }
  assert_int_equal(oci_digest_verify_buffer("sha256:abc", "", 0, &err),
                   OCI_EINVAL);
  assert_non_null(
      strstr(err.message, "must be 64 lowercase hex characters for sha256"));
  /* mismatch, sha256: both digests whole */
  oci_error_clear(&err);
  assert_int_equal(
      oci_digest_verify_buffer_ex(SHA256_EMPTY, "abc", 3, got, &err),
      OCI_EMISMATCH);
  assert_string_equal(got, SHA256_ABC);
  assert_string_equal(err.message,
                      "content: digest mismatch: expected " SHA256_EMPTY
                      ", got " SHA256_ABC);
  assert_int_equal(oci_digest_verify_buffer(SHA256_ABC, "abd", 3, &err),
                   OCI_EMISMATCH);
  /* mismatch, sha512: shortened in the message, whole in got */
  oci_error_clear(&err);
  assert_int_equal(
      oci_digest_verify_buffer_ex(SHA512_EMPTY, "abc", 3, got, &err),
      OCI_EMISMATCH);
  assert_string_equal(got, SHA512_ABC);
  char want[1024];
  snprintf(want, sizeof want,
           "content: digest mismatch: expected %.55s..., got %.55s...",
           SHA512_EMPTY, SHA512_ABC);
  assert_string_equal(err.message, want);
  /* got is "" when nothing was computed */
  assert_int_equal(oci_digest_verify_buffer_ex("sha256:x", "", 0, got, NULL),
                   OCI_EINVAL);
  assert_string_equal(got, "");
  /* a file that does not match: the message starts with its path */
  char path[128];
  snprintf(path, sizeof path, "%s/abc", tmpdir);
  write_file(path, (const unsigned char *)"abc", 3);
  uint64_t size = 0;
  assert_int_equal(
      oci_digest_verify_file_ex(SHA256_EMPTY, path, got, &size, &err),
      OCI_EMISMATCH);
  assert_string_equal(got, SHA256_ABC);
  assert_int_equal(size, 3);
  snprintf(want, sizeof want,
           "%s: digest mismatch: expected " SHA256_EMPTY ", got " SHA256_ABC,
           path);
  assert_string_equal(err.message, want);
  assert_int_equal(oci_digest_verify_file(SHA256_ABC, path, &err), OCI_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_chunks),
      cmocka_unit_test(test_reuse),
      cmocka_unit_test(test_files),
      cmocka_unit_test(test_fd),
      cmocka_unit_test(test_file_errors),
      cmocka_unit_test(test_unsupported),
      cmocka_unit_test(test_verify),
      cmocka_unit_test(test_file_real_binary),
  };
  int rc = cmocka_run_group_tests(tests, setup_dir, teardown_dir);
  return skip_exit(rc);
}
