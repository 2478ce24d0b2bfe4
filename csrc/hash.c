/* sha256 / sha512 through OpenSSL's EVP interface (which picks the CPU's
   SHA extensions when it has them), hex-encoded as image-spec writes
   digests: lowercase, "algorithm:encoded". */
#include "ocispec/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct oci_hasher {
  EVP_MD_CTX *ctx;
  const EVP_MD *md;
  oci_digest_alg alg;
  uint64_t size;
};

/* Read block for files: large enough that syscalls cost nothing next to
   hashing, small enough to stay in L2. */
#define HASH_BLOCK (256 * 1024)

static const EVP_MD *md_of(oci_digest_alg alg) {
  switch (alg) {
  case OCI_DIGEST_SHA256: return EVP_sha256();
  case OCI_DIGEST_SHA512: return EVP_sha512();
  default: return NULL;
  }
}

static int unsupported(oci_digest_alg alg, oci_error *err) {
  const char *name = oci_digest_alg_name(alg);
  return oci_error_set(
      err, OCI_EUNSUPPORTED,
      "cannot compute %s digests: only sha256 and sha512 "
      "are supported%s",
      name ? name : "this algorithm's",
      alg == OCI_DIGEST_BLAKE3 ? " (no blake3 library is available)" : "");
}

int oci_hasher_new(oci_digest_alg alg, oci_hasher **out, oci_error *err) {
  *out = NULL;
  const EVP_MD *md = md_of(alg);
  if (!md) return unsupported(alg, err);
  oci_hasher *h = calloc(1, sizeof *h);
  if (!h) return oci_error_set(err, OCI_ENOMEM, "out of memory");
  h->ctx = EVP_MD_CTX_new();
  if (!h->ctx || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
    oci_hasher_free(h);
    return oci_error_set(err, OCI_ENOMEM, "cannot start a %s hash",
                         oci_digest_alg_name(alg));
  }
  h->md = md;
  h->alg = alg;
  *out = h;
  return OCI_OK;
}

int oci_hasher_update(oci_hasher *h, const void *buf, size_t len,
                      oci_error *err) {
  if (len && EVP_DigestUpdate(h->ctx, buf, len) != 1)
    return oci_error_set(err, OCI_ENOMEM, "hashing failed");
  h->size += len;
  return OCI_OK;
}

uint64_t oci_hasher_size(const oci_hasher *h) {
  return h->size;
}

int oci_hasher_finish(oci_hasher *h, char out[OCI_DIGEST_STRING_MAX],
                      oci_error *err) {
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  out[0] = '\0';
  if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 ||
      EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1)
    return oci_error_set(err, OCI_ENOMEM, "hashing failed");
  h->size = 0;
  const char *name = oci_digest_alg_name(h->alg);
  size_t k = strlen(name);
  memcpy(out, name, k);
  out[k++] = ':';
  for (unsigned int i = 0; i < n; i++) {
    out[k++] = hex[md[i] >> 4];
    out[k++] = hex[md[i] & 15];
  }
  out[k] = '\0';
  return OCI_OK;
}

void oci_hasher_free(oci_hasher *h) {
  if (!h) return;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}

int oci_hash_buffer(oci_digest_alg alg, const void *buf, size_t len,
                    char out[OCI_DIGEST_STRING_MAX], oci_error *err) {
  oci_hasher *h;
  int rc = oci_hasher_new(alg, &h, err);
  if (rc) return rc;
  rc = oci_hasher_update(h, buf, len, err);
  if (!rc) rc = oci_hasher_finish(h, out, err);
  oci_hasher_free(h);
  return rc;
}

int oci_hash_fd(oci_digest_alg alg, int fd, const char *what,
                char out[OCI_DIGEST_STRING_MAX], uint64_t *size,
                oci_error *err) {
  oci_hasher *h;
  int rc = oci_hasher_new(alg, &h, err);
  if (rc) return rc;
  unsigned char *buf = malloc(HASH_BLOCK);
  if (!buf) {
    oci_hasher_free(h);
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  for (;;) {
    ssize_t n = read(fd, buf, HASH_BLOCK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = oci_error_set(err, OCI_EIO, "%s: read failed: %s", what,
                         strerror(errno));
      break;
    }
    if (n == 0) break;
    if ((rc = oci_hasher_update(h, buf, (size_t)n, err))) break;
  }
  free(buf);
  if (!rc && size) *size = oci_hasher_size(h);
  if (!rc) rc = oci_hasher_finish(h, out, err);
  oci_hasher_free(h);
  return rc;
}

int oci_hash_file(oci_digest_alg alg, const char *path,
                  char out[OCI_DIGEST_STRING_MAX], uint64_t *size,
                  oci_error *err) {
  if (!md_of(alg)) return unsupported(alg, err);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return oci_error_set(err, OCI_EIO, "%s: cannot open: %s", path,
                         strerror(errno));
  int rc = oci_hash_fd(alg, fd, path, out, size, err);
  close(fd);
  return rc;
}

/* The registered algorithm of a well-formed digest, or an error. */
static int digest_alg(const char *digest, oci_digest_alg *alg, oci_error *err) {
  oci_digest_view v;
  int rc = oci_digest_parse(digest, strlen(digest), &v, err);
  if (rc) return rc;
  if (!md_of(v.alg)) return unsupported(v.alg, err);
  *alg = v.alg;
  return OCI_OK;
}

static int compare(const char *want, const char *got, const char *what,
                   oci_error *err) {
  if (strcmp(want, got) == 0) return OCI_OK;
  return oci_error_set(err, OCI_EMISMATCH, "%s has digest %s, expected %s",
                       what, got, want);
}

int oci_digest_verify_buffer(const char *digest, const void *buf, size_t len,
                             oci_error *err) {
  oci_digest_alg alg;
  char got[OCI_DIGEST_STRING_MAX];
  int rc = digest_alg(digest, &alg, err);
  if (!rc) rc = oci_hash_buffer(alg, buf, len, got, err);
  if (!rc) rc = compare(digest, got, "content", err);
  return rc;
}

int oci_digest_verify_file(const char *digest, const char *path,
                           oci_error *err) {
  oci_digest_alg alg;
  char got[OCI_DIGEST_STRING_MAX];
  int rc = digest_alg(digest, &alg, err);
  if (!rc) rc = oci_hash_file(alg, path, got, NULL, err);
  if (!rc) rc = compare(digest, got, path, err);
  return rc;
}
