/* sha256 / sha512 through OpenSSL's EVP interface (which picks the CPU's
   SHA extensions when it has them), hex-encoded as image-spec writes
   digests: lowercase, "algorithm:encoded". */
#include "ocispec/hash.h"

#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct oci_hasher {
  EVP_MD_CTX *ctx;
  const EVP_MD *md;
  oci_digest_alg alg;
  uint64_t size;
};

/* Read block for files: large enough that syscalls cost nothing next to
   hashing, small enough to stay in L2 (bench/README.md, "Hashing", has the
   measurements behind it). */
#define HASH_BLOCK (128 * 1024)

/* Room the error messages leave for a path: the rest of the message (the
   reason, or two digests) must survive, so a longer path is cut at its
   start ("...tail/of/the/path"). */
#define PATH_ROOM 96

static const EVP_MD *md_of(oci_digest_alg alg) {
  switch (alg) {
  case OCI_DIGEST_SHA256: return EVP_sha256();
  case OCI_DIGEST_SHA512: return EVP_sha512();
  default: return NULL;
  }
}

/* printf arguments "%s%s" for path, shortened to its last PATH_ROOM bytes. */
#define PATH_ARGS(p)                                                           \
  strlen(p) > PATH_ROOM ? "..." : "",                                          \
      strlen(p) > PATH_ROOM ? (p) + strlen(p) - PATH_ROOM : (p)

/* name: the algorithm's name (NULL for none we know). */
static int unsupported(const char *name, size_t len, bool blake3,
                       oci_error *err) {
  if (!name) {
    name = "this algorithm's";
    len = strlen(name);
  }
  return oci_error_set(err, OCI_EUNSUPPORTED,
                       "cannot compute %.*s digests: only sha256 and sha512 "
                       "are supported%s",
                       (int)(len > 32 ? 32 : len), name,
                       blake3 ? " (no blake3 library is available)" : "");
}

static int unsupported_alg(oci_digest_alg alg, oci_error *err) {
  const char *name = oci_digest_alg_name(alg);
  return unsupported(name, name ? strlen(name) : 0, alg == OCI_DIGEST_BLAKE3,
                     err);
}

int oci_hasher_new(oci_digest_alg alg, oci_hasher **out, oci_error *err) {
  oci_error_reset(err);
  *out = NULL;
  const EVP_MD *md = md_of(alg);
  if (!md) return unsupported_alg(alg, err);
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
  oci_error_reset(err);
  if (len && EVP_DigestUpdate(h->ctx, buf, len) != 1)
    return oci_error_set(err, OCI_ENOMEM, "%s hashing failed",
                         oci_digest_alg_name(h->alg));
  h->size += len;
  return OCI_OK;
}

uint64_t oci_hasher_size(const oci_hasher *h) {
  return h->size;
}

oci_digest_alg oci_hasher_alg(const oci_hasher *h) {
  return h->alg;
}

int oci_hasher_finish(oci_hasher *h, char out[OCI_DIGEST_STRING_MAX],
                      oci_error *err) {
  oci_error_reset(err);
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  out[0] = '\0';
  int ok = EVP_DigestFinal_ex(h->ctx, md, &n) == 1;
  /* reset in every case, so a failed finish leaves a usable hasher */
  h->size = 0;
  if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1 || !ok)
    return oci_error_set(err, OCI_ENOMEM, "%s hashing failed",
                         oci_digest_alg_name(h->alg));
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
  oci_error_reset(err);
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
  oci_error_reset(err);
  char fdname[32];
  if (!what) {
    snprintf(fdname, sizeof fdname, "file descriptor %d", fd);
    what = fdname;
  }
  oci_hasher *h;
  int rc = oci_hasher_new(alg, &h, err);
  if (rc) return rc;
  unsigned char *buf = malloc(HASH_BLOCK);
  if (!buf) {
    oci_hasher_free(h);
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  /* Not a hint the page cache needs when the file is cached; for a cold
     file it doubles the kernel's read-ahead. Fails harmlessly on pipes. */
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  for (;;) {
    ssize_t n = read(fd, buf, HASH_BLOCK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = oci_error_set(err, OCI_EIO, "%s%s: read failed: %s", PATH_ARGS(what),
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
  oci_error_reset(err);
  if (!md_of(alg)) return unsupported_alg(alg, err);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return oci_error_set(err, OCI_EIO, "%s%s: cannot open: %s", PATH_ARGS(path),
                         strerror(errno));
  /* A directory opens fine and fails at read (EISDIR) on Linux; say so
     plainly everywhere. */
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return oci_error_set(err, OCI_EIO, "%s%s: cannot hash: %s", PATH_ARGS(path),
                         strerror(EISDIR));
  }
  int rc = oci_hash_fd(alg, fd, path, out, size, err);
  close(fd);
  return rc;
}

/* The registered algorithm of a well-formed digest, or an error. */
static int digest_alg(const char *digest, oci_digest_alg *alg, oci_error *err) {
  oci_digest_view v;
  int rc = oci_digest_parse(digest, strlen(digest), &v, err);
  if (rc) return rc;
  if (!md_of(v.alg))
    return unsupported(v.algorithm, v.algorithm_len, v.alg == OCI_DIGEST_BLAKE3,
                       err);
  *alg = v.alg;
  return OCI_OK;
}

/* The message keeps both digests whole when they fit (always for sha256);
   two sha512 digests do not fit OCI_ERROR_MESSAGE_MAX, so each is then cut
   to its algorithm and first 48 hex digits plus "..." (the _ex functions
   give the whole computed digest). */
static int compare(const char *want, const char *got, const char *what,
                   oci_error *err) {
  if (strcmp(want, got) == 0) return OCI_OK;
  const char *fmt = "%s%s: digest mismatch: expected %.*s%s, got %.*s%s";
  int full =
      snprintf(NULL, 0, fmt, PATH_ARGS(what), 999, want, "", 999, got, "");
  int cut = full < OCI_ERROR_MESSAGE_MAX ? 999 : 7 + 48;
  return oci_error_set(err, OCI_EMISMATCH, fmt, PATH_ARGS(what), cut, want,
                       (int)strlen(want) > cut ? "..." : "", cut, got,
                       (int)strlen(got) > cut ? "..." : "");
}

int oci_digest_verify_buffer_ex(const char *digest, const void *buf, size_t len,
                                char got[OCI_DIGEST_STRING_MAX],
                                oci_error *err) {
  oci_error_reset(err);
  oci_digest_alg alg = OCI_DIGEST_OTHER;
  char tmp[OCI_DIGEST_STRING_MAX];
  if (!got) got = tmp;
  got[0] = '\0';
  int rc = digest_alg(digest, &alg, err);
  if (!rc) rc = oci_hash_buffer(alg, buf, len, got, err);
  if (!rc) rc = compare(digest, got, "content", err);
  return rc;
}

int oci_digest_verify_buffer(const char *digest, const void *buf, size_t len,
                             oci_error *err) {
  oci_error_reset(err);
  return oci_digest_verify_buffer_ex(digest, buf, len, NULL, err);
}

int oci_digest_verify_file_ex(const char *digest, const char *path,
                              char got[OCI_DIGEST_STRING_MAX], uint64_t *size,
                              oci_error *err) {
  oci_error_reset(err);
  oci_digest_alg alg = OCI_DIGEST_OTHER;
  char tmp[OCI_DIGEST_STRING_MAX];
  if (!got) got = tmp;
  got[0] = '\0';
  int rc = digest_alg(digest, &alg, err);
  if (!rc) rc = oci_hash_file(alg, path, got, size, err);
  if (!rc) rc = compare(digest, got, path, err);
  return rc;
}

int oci_digest_verify_file(const char *digest, const char *path,
                           oci_error *err) {
  oci_error_reset(err);
  return oci_digest_verify_file_ex(digest, path, NULL, NULL, err);
}
